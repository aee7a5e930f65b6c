/* format.c: the mesh's byte formats: manifests, chunk frames, holder
 * records (no I/O beyond reading a file to chunk it). See zt_mesh.h. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_mesh.h"
#include "zentalk/zt_str.h"

#define MANIFEST_MAGIC "ZTMF"
#define FRAME_MAGIC "ZTCK"
#define FORMAT_VERSION 1u
#define RECORD_KIND "zentalk-mesh-holder"

_Static_assert(ZT_MESH_MANIFEST_HEADER == 4 + 1 + 1 + 2 + 4 + 4 + 8 + 32, "manifest header layout");
_Static_assert(ZT_MESH_FRAME_HEADER == 4 + 1 + 3 + 4 + 32, "chunk frame layout");
_Static_assert(ZT_MESH_MANIFEST_MAX <= (8u << 20), "a manifest fits a peer's answer");

/* ---- Manifests -------------------------------------------------------------- */

static void header_of(const struct zt_mesh_manifest *m, uint8_t h[static ZT_MESH_MANIFEST_HEADER])
{
    memcpy(h, MANIFEST_MAGIC, 4);
    h[4] = FORMAT_VERSION;
    h[5] = m->kind;
    h[6] = h[7] = 0;
    zt_put_le32(h + 8, m->chunk_size);
    zt_put_le32(h + 12, m->n_chunks);
    zt_put_le64(h + 16, m->file_size);
    memcpy(h + 24, m->file_sha256, 32);
}

/* The Merkle root over n >= 1 chunk hashes, in place over a scratch copy. */
static void merkle(uint8_t (*level)[32], size_t n, uint8_t out[static 32])
{
    uint8_t buf[65];
    for (size_t i = 0; i < n; i++) {
        buf[0] = 0x00;
        memcpy(buf + 1, level[i], 32);
        zt_sha256(level[i], buf, 33);
    }
    while (n > 1) {
        size_t k = 0;
        for (size_t i = 0; i < n; i += 2) {
            if (i + 1 == n) { /* odd: carried up as it is */
                memmove(level[k++], level[i], 32);
                break;
            }
            buf[0] = 0x01;
            memcpy(buf + 1, level[i], 32);
            memcpy(buf + 33, level[i + 1], 32);
            zt_sha256(level[k++], buf, 65);
        }
        n = k;
    }
    memcpy(out, level[0], 32);
}

/* root = SHA-256(0x02 || header || merkle); scratch holds n_chunks hashes. */
static void root_of(const struct zt_mesh_manifest *m, uint8_t (*scratch)[32], uint8_t out[static 32])
{
    uint8_t b[1 + ZT_MESH_MANIFEST_HEADER + 32];
    b[0] = 0x02;
    header_of(m, b + 1);
    memcpy(scratch, m->chunks, (size_t)m->n_chunks * 32);
    merkle(scratch, m->n_chunks, b + 1 + ZT_MESH_MANIFEST_HEADER);
    zt_sha256(out, b, sizeof b);
}

static int compute_root(const struct zt_mesh_manifest *m, uint8_t out[static 32])
{
    uint8_t (*scratch)[32] = zt_malloc((size_t)m->n_chunks * 32);
    if (!scratch) return ZT_ENOMEM;
    root_of(m, scratch, out);
    zt_free(scratch);
    return 0;
}

void zt_mesh_manifest_seal(struct zt_mesh_manifest *m)
{
    uint8_t r[32];
    if (compute_root(m, r) == 0) memcpy(m->root, r, 32);
}

static uint32_t chunks_for(uint64_t size)
{
    uint64_t n = size / ZT_MESH_CHUNK_SIZE + (size % ZT_MESH_CHUNK_SIZE != 0); /* no overflow near 2^64 */
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int zt_mesh_manifest_of_file(const char *path, struct zt_mesh_manifest *out)
{
    if (!path || !out) return ZT_EINVAL;
    struct zt_mesh_manifest m;
    memset(&m, 0, sizeof m);
    uint8_t *buf = NULL;
    int rc = ZT_EIO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ZT_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) goto out;
    rc = ZT_EINVAL;
    if (st.st_size <= 0) goto out;
    rc = ZT_ETOOBIG;
    m.file_size = (uint64_t)st.st_size;
    m.n_chunks = chunks_for(m.file_size);
    if (m.n_chunks > ZT_MESH_MAX_CHUNKS) goto out;
    rc = ZT_ENOMEM;
    m.chunk_size = ZT_MESH_CHUNK_SIZE;
    m.kind = ZT_MESH_KIND_MODEL;
    m.chunks = zt_malloc((size_t)m.n_chunks * 32);
    buf = zt_malloc(ZT_MESH_CHUNK_SIZE);
    if (!m.chunks || !buf) goto out;
    struct zt_sha256_ctx whole;
    zt_sha256_init(&whole);
    for (uint32_t i = 0; i < m.n_chunks; i++) {
        size_t want = zt_mesh_chunk_len(&m, i), got = 0;
        rc = zt_fd_read_full(fd, buf, want, &got);
        if (rc || got != want) {
            rc = ZT_EIO; /* the file changed under us */
            goto out;
        }
        zt_sha256(m.chunks[i], buf, want);
        zt_sha256_update(&whole, buf, want);
    }
    zt_sha256_final(&whole, m.file_sha256);
    rc = compute_root(&m, m.root);
out:
    close(fd);
    zt_free(buf);
    if (rc) {
        zt_free(m.chunks);
        return rc;
    }
    *out = m;
    return 0;
}

size_t zt_mesh_chunk_len(const struct zt_mesh_manifest *m, uint32_t i)
{
    if (!m || i >= m->n_chunks) return 0;
    if (i + 1 < m->n_chunks) return m->chunk_size;
    uint64_t rest = m->file_size - (uint64_t)i * m->chunk_size;
    return (size_t)rest;
}

int zt_mesh_manifest_encode(const struct zt_mesh_manifest *m, uint8_t **out, size_t *len)
{
    if (!m || !out || !len || !m->n_chunks || m->n_chunks > ZT_MESH_MAX_CHUNKS) return ZT_EINVAL;
    size_t n = ZT_MESH_MANIFEST_HEADER + (size_t)m->n_chunks * 32;
    uint8_t *b = zt_malloc(n);
    if (!b) return ZT_ENOMEM;
    header_of(m, b);
    memcpy(b + ZT_MESH_MANIFEST_HEADER, m->chunks, (size_t)m->n_chunks * 32);
    *out = b;
    *len = n;
    return 0;
}

int zt_mesh_manifest_decode(const void *data, size_t len, const uint8_t *want_root, struct zt_mesh_manifest *out)
{
    const uint8_t *p = data;
    if (!p || !out || len < ZT_MESH_MANIFEST_HEADER || memcmp(p, MANIFEST_MAGIC, 4) != 0) return ZT_EPARSE;
    if (p[4] != FORMAT_VERSION || p[5] != ZT_MESH_KIND_MODEL) return ZT_EUNSUPPORTED;
    if (p[6] || p[7]) return ZT_EPARSE;
    struct zt_mesh_manifest m;
    memset(&m, 0, sizeof m);
    m.kind = p[5];
    m.chunk_size = zt_get_le32(p + 8);
    m.n_chunks = zt_get_le32(p + 12);
    m.file_size = zt_get_le64(p + 16);
    memcpy(m.file_sha256, p + 24, 32);
    if (m.chunk_size != ZT_MESH_CHUNK_SIZE) return ZT_EUNSUPPORTED;
    /* a bomb's count is refused before anything is allocated */
    if (m.n_chunks > ZT_MESH_MAX_CHUNKS) return ZT_ETOOBIG;
    if (!m.file_size || !m.n_chunks || m.n_chunks != chunks_for(m.file_size) ||
        len != ZT_MESH_MANIFEST_HEADER + (size_t)m.n_chunks * 32)
        return ZT_EPARSE;
    m.chunks = zt_malloc((size_t)m.n_chunks * 32);
    if (!m.chunks) return ZT_ENOMEM;
    memcpy(m.chunks, p + ZT_MESH_MANIFEST_HEADER, (size_t)m.n_chunks * 32);
    int rc = compute_root(&m, m.root);
    if (!rc && want_root && memcmp(m.root, want_root, 32) != 0) rc = ZT_ECRYPTO;
    if (rc) {
        zt_free(m.chunks);
        return rc;
    }
    *out = m;
    return 0;
}

void zt_mesh_manifest_deinit(struct zt_mesh_manifest *m)
{
    if (!m) return;
    zt_free(m->chunks);
    memset(m, 0, sizeof *m);
}

/* ---- Chunk frames ------------------------------------------------------------- */

void zt_mesh_frame_header(uint8_t out[static ZT_MESH_FRAME_HEADER], const uint8_t sha[static 32], uint32_t len)
{
    memcpy(out, FRAME_MAGIC, 4);
    out[4] = FORMAT_VERSION;
    out[5] = out[6] = out[7] = 0;
    zt_put_le32(out + 8, len);
    memcpy(out + 12, sha, 32);
}

int zt_mesh_frame_check(const void *frame, size_t len, const uint8_t *want_sha, const uint8_t **data,
                        size_t *data_len)
{
    const uint8_t *p = frame;
    if (!p || len < ZT_MESH_FRAME_HEADER || memcmp(p, FRAME_MAGIC, 4) != 0) return ZT_EPARSE;
    if (p[4] != FORMAT_VERSION) return ZT_EUNSUPPORTED;
    if (p[5] || p[6] || p[7]) return ZT_EPARSE;
    uint32_t n = zt_get_le32(p + 8);
    if (n == 0 || n > ZT_MESH_CHUNK_SIZE || (size_t)n != len - ZT_MESH_FRAME_HEADER) return ZT_EPARSE;
    uint8_t h[32];
    zt_sha256(h, p + ZT_MESH_FRAME_HEADER, n);
    if (memcmp(h, p + 12, 32) != 0 || (want_sha && memcmp(h, want_sha, 32) != 0)) return ZT_ECRYPTO;
    if (data) *data = p + ZT_MESH_FRAME_HEADER;
    if (data_len) *data_len = n;
    return 0;
}

/* ---- Holder records ------------------------------------------------------------- */

bool zt_mesh_name_ok(const char *s)
{
    if (!s || !s[0] || s[0] == '.') return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!zt_ascii_alnum(c) && c != '.' && c != '_' && c != '-') return false;
        if (n >= ZT_MESH_NAME_MAX) return false;
    }
    return true;
}

static json_t *hexj(const uint8_t *b, size_t n)
{
    char h[65];
    zt_hex_encode(h, b, n);
    return json_string(h);
}

int zt_mesh_record_sign(const struct zt_identity *id, const struct zt_mesh_holder *h, char **out)
{
    if (!id || !h || !out || h->exp < 0 || h->rf < 1 || h->rf > ZT_MESH_RF_MAX || !h->endpoint[0] ||
        (h->partial && h->withdrawn) ||
        (h->name[0] && !zt_mesh_name_ok(h->name)))
        return ZT_EINVAL;
    json_t *o = json_object();
    int rc = ZT_ENOMEM;
    if (!o) return rc;
    if (json_object_set_new(o, "ed25519_pk", hexj(zt_identity_sign_pk(id), ZT_ED25519_PK_LEN)) ||
        json_object_set_new(o, "endpoint", json_string(h->endpoint)) ||
        json_object_set_new(o, "exp", json_integer(h->exp)) ||
        json_object_set_new(o, "kind", json_string(RECORD_KIND)) ||
        json_object_set_new(o, "name", json_string(h->name)) ||
        json_object_set_new(o, "node_id", json_string(zt_identity_id(id))) ||
        json_object_set_new(o, "rf", json_integer(h->rf)) || json_object_set_new(o, "root", hexj(h->root, 32)) ||
        json_object_set_new(o, "sha256", hexj(h->sha256, 32)) ||
        json_object_set_new(o, "size", json_integer((json_int_t)h->size)) ||
        json_object_set_new(o, "v", json_integer(1)) ||
        (h->partial && json_object_set_new(o, "partial", json_true())) ||
        (h->withdrawn && json_object_set_new(o, "withdrawn", json_true())))
        goto out;
    rc = zt_identity_sign_json(id, o, ZT_MESH_RECORD_MAX, out);
out:
    json_decref(o);
    return rc;
}

static bool endpoint_ok(const char *s)
{
    if (!s || strlen(s) > ZT_DESCRIPTOR_MAX_ENDPOINT) return false;
    if (!zt_str_starts_with(s, "http://") && !zt_str_starts_with(s, "https://")) return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) return false;
    return true;
}

int zt_mesh_record_verify(const char *json, size_t len, int64_t now, struct zt_mesh_holder *out)
{
    struct zt_mesh_holder h;
    memset(&h, 0, sizeof h);
    json_t *o;
    const char *nid;
    int rc = zt_identity_record_parse(json, len, ZT_MESH_RECORD_MAX, RECORD_KIND, h.ed25519_pk, &nid, &o);
    if (rc) return rc;
    rc = ZT_EPARSE;
    json_t *partial = json_object_get(o, "partial"), *withdrawn = json_object_get(o, "withdrawn");
    if ((partial && withdrawn) || json_object_size(o) != (partial || withdrawn ? 13u : 12u) ||
        (partial && !json_is_true(partial)) || (withdrawn && !json_is_true(withdrawn)))
        goto out;
    json_t *exp = json_object_get(o, "exp"), *rf = json_object_get(o, "rf"), *size = json_object_get(o, "size");
    const char *ep = json_string_value(json_object_get(o, "endpoint"));
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!json_is_integer(exp) || !json_is_integer(rf) || !json_is_integer(size) || !endpoint_ok(ep) || !name ||
        (name[0] && !zt_mesh_name_ok(name)) || json_integer_value(rf) < 1 || json_integer_value(rf) > ZT_MESH_RF_MAX ||
        json_integer_value(size) < 1 ||
        zt_hex_decode_str(h.root, 32, json_string_value(json_object_get(o, "root")), ZT_HEX_LOWER) != 0 ||
        zt_hex_decode_str(h.sha256, 32, json_string_value(json_object_get(o, "sha256")), ZT_HEX_LOWER) != 0)
        goto out;
    rc = zt_identity_record_verify_exp(o, h.ed25519_pk, nid, h.node_id, ZT_MESH_RECORD_MAX, now, &h.exp);
    if (rc) goto out;
    h.rf = (unsigned)json_integer_value(rf);
    h.size = (uint64_t)json_integer_value(size);
    h.partial = partial != NULL;
    h.withdrawn = withdrawn != NULL;
    zt_strlcpy(h.endpoint, ep, sizeof h.endpoint);
    zt_strlcpy(h.name, name, sizeof h.name);
    if (out) *out = h;
out:
    json_decref(o);
    return rc;
}
