#define _GNU_SOURCE /* memmem */
/* fuzz/dbsync_segment.c: what the mesh hands a rebuilding or auditing
 * orchestrator (src/mesh/segment.c): the first byte picks the parser, the
 * rest is its input.
 *   0: a segment (zt_dbsync_segment_decode), any bytes;
 *   1: a segment body signed here with a fixed key: the row checks, which
 *      a mutated signed segment never reaches (its signature fails first);
 *   2: a head record from the DHT (zt_dbsync_head_verify).
 * Properties: a segment that decodes (version 1, 2 or 3) has its body
 * inside the input after its version's header, as many lines as its
 * header says, tombstones ("-<table>" and its key) only in version 3, its
 * SHA-256 as its name and a ledger version of 0 (version 1) or at most
 * INT64_MAX; a body is signed (version 3) exactly when its lines check,
 * and decodes back to the same bytes, count and ledger version; a body
 * that checks without tombstones checks with them allowed; a head that
 * verifies is live; no leak, no crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../src/mesh/dbsync_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dbsync.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1767225600

static struct zt_identity *id;

static void segment(const uint8_t *p, size_t n)
{
    struct zt_dbsync_segment s;
    if (zt_dbsync_segment_decode(p, n, NULL, &s) != 0) return;
    size_t hl = s.version == 1 ? ZT_DBSYNC_HEADER_V1 : ZT_DBSYNC_HEADER;
    if (s.version < 1 || s.version > 3 || (s.version == 1 && s.ledger_version) || s.ledger_version > INT64_MAX ||
        (s.flags & ~ZT_DBSYNC_F_DELS) || (s.version < 3 && s.flags) || s.flags != p[5] ||
        s.body != p + hl || s.body_len + hl + ZT_DBSYNC_SIG != n || s.seq == 0)
        abort();
    uint32_t rows = 0;
    if (zt__dbs_check_body(s.body, s.body_len, s.version >= 3, &rows) != 0 || rows != s.n_rows) abort();
    /* no tombstone in versions 1 and 2 */
    if (s.version < 3 && memmem(s.body, s.body_len, "[\"-", 3)) abort();
    uint8_t h[32];
    zt_sha256(h, p, n);
    if (memcmp(h, s.sha256, 32) != 0) abort();
}

static void body(const uint8_t *p, size_t n)
{
    static const uint8_t zero[32];
    uint32_t rows = 0, rows_old = 0;
    int chk = zt__dbs_check_body(p, n, true, &rows);
    int chk_old = zt__dbs_check_body(p, n, false, &rows_old);
    if (chk_old == 0 && (chk != 0 || rows_old != rows)) abort(); /* format 3 reads what 1 and 2 read */
    uint8_t *seg = NULL;
    size_t len = 0;
    uint64_t lv = n ? p[0] : 0; /* a ledger version carried through */
    unsigned fl = n > 1 ? p[1] & ZT_DBSYNC_F_DELS : 0; /* and a flag */
    int rc = zt_dbsync_segment_encode(id, 1, NOW, zero, (const char *)p, n, chk ? 0 : rows, lv, fl, &seg, &len);
    if ((rc == 0) != (chk == 0) && rc != ZT_ETOOBIG && chk != ZT_ENOMEM) abort();
    if (rc) return;
    struct zt_dbsync_segment s;
    if (zt_dbsync_segment_decode(seg, len, zt_identity_sign_pk(id), &s) != 0 || s.body_len != n || s.n_rows != rows ||
        s.version != 3 || s.ledger_version != lv || s.flags != fl ||
        (n && memcmp(s.body, p, n) != 0))
        abort();
    zt_free(seg);
}

static void head(const uint8_t *p, size_t n)
{
    struct zt_dbsync_head h;
    if (zt_dbsync_head_verify((const char *)p, n, NOW, &h) != 0) return;
    if (h.exp <= NOW || h.seq == 0 || !zt_identity_id_valid(h.node_id)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!id) {
        if (sodium_init() < 0 || zt_hash_init() != 0) abort();
        json_set_alloc_funcs(zt_malloc, zt_free);
        uint8_t seed[32], x[32];
        for (int i = 0; i < 32; i++) seed[i] = (uint8_t)i, x[i] = (uint8_t)(32 + i);
        if (zt_identity_from_secret(seed, x, &id) != 0) abort();
    }
    if (size < 1) return 0;
    int64_t live = zt_alloc_live();
    switch (data[0] % 3) {
    case 0: segment(data + 1, size - 1); break;
    case 1: body(data + 1, size - 1); break;
    default: head(data + 1, size - 1); break;
    }
    if (zt_alloc_live() != live) abort();
    return 0;
}
