/* fuzz/mesh_manifest.c: what a peer sends the mesh (src/mesh/format.c):
 * the first byte picks the parser, the rest is its input.
 *   0: a manifest (zt_mesh_manifest_decode), any bytes, with and without
 *      the root it must have;
 *   1: a chunk frame as the store reads it back (zt_mesh_frame_check);
 *   2: a holder record from the DHT (zt_mesh_record_verify).
 * Properties: a manifest that decodes re-encodes to the same bytes, its
 * root recomputes, its chunk count fits its size and the cap (a "bomb"
 * with a huge count is refused before any allocation); a frame that
 * checks points inside the input at data whose hash is in the header; no
 * leak (every allocation given back), no crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_mesh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void manifest(const uint8_t *p, size_t n)
{
    struct zt_mesh_manifest m;
    if (zt_mesh_manifest_decode(p, n, NULL, &m) != 0) return;
    if (m.n_chunks == 0 || m.n_chunks > ZT_MESH_MAX_CHUNKS || m.file_size == 0 ||
        (uint64_t)(m.n_chunks - 1) * m.chunk_size >= m.file_size || (uint64_t)m.n_chunks * m.chunk_size < m.file_size)
        abort();
    uint8_t *enc = NULL;
    size_t len = 0;
    if (zt_mesh_manifest_encode(&m, &enc, &len) != 0) abort();
    if (len != n || memcmp(enc, p, n) != 0) abort();
    struct zt_mesh_manifest again;
    if (zt_mesh_manifest_decode(enc, len, m.root, &again) != 0) abort(); /* its own root */
    uint8_t other[32];
    memcpy(other, m.root, 32);
    other[0] ^= 1;
    struct zt_mesh_manifest no;
    if (zt_mesh_manifest_decode(enc, len, other, &no) != ZT_ECRYPTO) abort();
    zt_mesh_manifest_deinit(&again);
    zt_free(enc);
    zt_mesh_manifest_deinit(&m);
}

static void frame(const uint8_t *p, size_t n)
{
    const uint8_t *d = NULL;
    size_t dl = 0;
    if (zt_mesh_frame_check(p, n, NULL, &d, &dl) != 0) return;
    if (d != p + ZT_MESH_FRAME_HEADER || dl + ZT_MESH_FRAME_HEADER != n || dl > ZT_MESH_CHUNK_SIZE) abort();
    uint8_t h[32];
    zt_sha256(h, d, dl);
    if (memcmp(h, p + 12, 32) != 0) abort();
}

static void record(const uint8_t *p, size_t n)
{
    struct zt_mesh_holder h;
    if (zt_mesh_record_verify((const char *)p, n, 1767225600, &h) != 0) return;
    if (h.exp <= 1767225600 || h.rf < 1 || h.rf > ZT_MESH_RF_MAX || !h.size || !h.endpoint[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        if (sodium_init() < 0 || zt_hash_init() != 0) abort();
        json_set_alloc_funcs(zt_malloc, zt_free);
        init = true;
    }
    if (size < 1) return 0;
    int64_t live = zt_alloc_live();
    switch (data[0] % 3) {
    case 0: manifest(data + 1, size - 1); break;
    case 1: frame(data + 1, size - 1); break;
    default: record(data + 1, size - 1); break;
    }
    if (zt_alloc_live() != live) abort();
    return 0;
}
