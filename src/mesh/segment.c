/* segment.c: the database-sync formats (zt_dbsync.h): the tables a
 * segment may carry, segments (byte-exact header, canonical JSON rows,
 * Ed25519 signature) and head records. Decoders take any bytes
 * (fuzz/dbsync_segment.c). */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "dbsync_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dbsync.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_str.h"

#define SEG_MAGIC "ZTSG"
#define SEG_VERSION 3u /* 1: no ledger version (read as 0); 2: no tombstones */
#define HEAD_KIND "zentalk-dbsync-head"

_Static_assert(ZT_DBSYNC_HEADER_V1 == 4 + 1 + 3 + 8 + 8 + 32 + 4 + 4 + 32, "segment header layout, version 1");
_Static_assert(ZT_DBSYNC_HEADER == ZT_DBSYNC_HEADER_V1 + 8, "segment header layout");

#define I ZT__DBS_INT
#define T ZT__DBS_TEXT
#define B ZT__DBS_BLOB
/* The owners' tables (src/ledger/ledger.c and src/orchestrator/sched.c,
 * schema versions ledger 4, sched 2), in replay order. A column added
 * there is added here with a new segment version. */
const struct zt__dbs_table zt__dbs_tables[] = {
    {.name = "ledger_accounts", .n_key = 1, .n_cols = 5,
     .cols = {{"id", I, 0}, {"kind", I, 0}, {"owner", T, 0}, {"payout", T, 1}, {"balance", T, 0}}},
    {.name = "ledger_txs", .append_only = true, .n_key = 1, .n_cols = 5,
     .cols = {{"id", I, 0}, {"idem_key", T, 0}, {"body", B, 0}, {"mint", I, 0}, {"memo", T, 0}}},
    {.name = "ledger_entries", .append_only = true, .n_key = 1, .n_cols = 6,
     .cols = {{"id", I, 0}, {"tx_id", I, 0}, {"account_id", I, 0}, {"credit", I, 0}, {"amount", T, 0},
              {"balance_after", T, 0}}},
    {.name = "ledger_totals", .n_key = 1, .n_cols = 2, .cols = {{"k", T, 0}, {"v", T, 0}}},
    {.name = "ledger_escrows", .n_key = 1, .n_cols = 4,
     .cols = {{"job_id", T, 0}, {"user_id", I, 0}, {"amount", T, 0}, {"state", I, 0}}},
    {.name = "ledger_earnings", .append_only = true, .n_key = 1, .n_cols = 5,
     .cols = {{"id", I, 0}, {"provider_id", I, 0}, {"job_id", T, 0}, {"amount", T, 0}, {"ts", I, 0}}},
    {.name = "ledger_batches", .n_key = 1, .n_cols = 8,
     .cols = {{"id", I, 0}, {"root", B, 0}, {"n_leaves", I, 0}, {"total", T, 0}, {"state", I, 0},
              {"created", I, 0}, {"sig", B, 1}, {"tx_ref", T, 1}}},
    {.name = "ledger_batch_items", .append_only = true, .n_key = 1,
     .n_cols = 2, .cols = {{"earning_id", I, 0}, {"batch_id", I, 0}}},
    {.name = "ledger_batch_leaves", .append_only = true, .n_key = 2,
     .n_cols = 4, .cols = {{"batch_id", I, 0}, {"idx", I, 0}, {"address", T, 0}, {"amount", T, 0}}},
    {.name = "sched_jobs", .own_jobs = true, .n_key = 1, .n_cols = 19,
     .cols = {{"job_id", T, 0}, {"seq", I, 0}, {"client", T, 0}, {"model", T, 0}, {"ctx", I, 0},
              {"max_tokens", I, 0}, {"price_ceiling", I, 0}, {"deadline", I, 0}, {"state", I, 0},
              {"worker", T, 1}, {"attempts", I, 0}, {"tokens", I, 0}, {"created", I, 0}, {"updated", I, 0},
              {"assigned", I, 0}, {"started", I, 0}, {"finished", I, 0}, {"reason", T, 0}, {"orch", T, 0}}},
};
const size_t zt__dbs_n_tables = sizeof zt__dbs_tables / sizeof zt__dbs_tables[0];
_Static_assert(sizeof zt__dbs_tables / sizeof zt__dbs_tables[0] <= ZT__DBS_MAX_TABLES, "tables");
#undef I
#undef T
#undef B

const struct zt__dbs_table *zt__dbs_table_find(const char *name, size_t len)
{
    for (size_t i = 0; i < zt__dbs_n_tables; i++)
        if (strlen(zt__dbs_tables[i].name) == len && memcmp(zt__dbs_tables[i].name, name, len) == 0)
            return &zt__dbs_tables[i];
    return NULL;
}

const struct zt__dbs_table *zt__dbs_line_table(const json_t *a, bool dels, bool *del)
{
    const json_t *n = json_array_get(a, 0);
    const char *tn = json_string_value(n);
    size_t len = json_string_length(n);
    *del = false;
    if (!tn) return NULL;
    if (dels && len > 1 && tn[0] == ZT__DBS_TOMB) {
        *del = true;
        tn++, len--;
    }
    return zt__dbs_table_find(tn, len);
}

/* One line (without its '\n'): a JSON array of a known table's row, each
 * value of its column's type, or (dels: format 3) a tombstone, the table's
 * name after ZT__DBS_TOMB and its key's values (none null); in canonical
 * form (what json_dumpb writes compact and ASCII). scratch:
 * ZT_DBSYNC_LINE_MAX bytes. */
static int check_line(const char *line, size_t len, bool dels, char *scratch)
{
    if (len > ZT_DBSYNC_LINE_MAX) return ZT_ETOOBIG;
    json_t *a = json_loadb(line, len, JSON_DECODE_ANY, NULL);
    int rc = ZT_EPARSE;
    if (!json_is_array(a) || json_array_size(a) < 2) goto out;
    bool del;
    const struct zt__dbs_table *t = zt__dbs_line_table(a, dels, &del);
    size_t n_vals = t ? (del ? t->n_key : t->n_cols) : 0;
    if (!t || json_array_size(a) != 1u + n_vals) goto out;
    for (size_t c = 0; c < n_vals; c++) {
        json_t *v = json_array_get(a, c + 1);
        const struct zt__dbs_col *col = &t->cols[c];
        if (json_is_null(v) && col->nullable && !del) continue;
        bool ok = col->type == ZT__DBS_INT    ? json_is_integer(v)
                  : col->type == ZT__DBS_TEXT ? json_is_string(v)
                                              : json_is_string(v) && zt_hex_valid(json_string_value(v), json_string_length(v), ZT_HEX_LOWER);
        if (!ok) goto out;
    }
    size_t n = json_dumpb(a, scratch, ZT_DBSYNC_LINE_MAX, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (n != len || memcmp(scratch, line, len) != 0) goto out;
    rc = 0;
out:
    json_decref(a);
    return rc;
}

/* Every line of body: rows counted into *n (dbsync_int.h). */
int zt__dbs_check_body(const uint8_t *body, size_t len, bool dels, uint32_t *n)
{
    char *scratch = zt_malloc(ZT_DBSYNC_LINE_MAX);
    if (!scratch) return ZT_ENOMEM;
    uint32_t rows = 0;
    int rc = 0;
    size_t at = 0;
    while (at < len && !rc) {
        const uint8_t *nl = memchr(body + at, '\n', len - at);
        if (!nl) {
            rc = ZT_EPARSE;
            break;
        }
        size_t ll = (size_t)(nl - (body + at));
        if (++rows > ZT_DBSYNC_ROWS_MAX) rc = ZT_ETOOBIG;
        if (!rc) rc = check_line((const char *)body + at, ll, dels, scratch);
        at += ll + 1;
    }
    zt_free(scratch);
    if (!rc) *n = rows;
    return rc;
}

static void header_of(uint8_t h[static ZT_DBSYNC_HEADER], uint64_t seq, int64_t created, const uint8_t prev[static 32],
                      uint32_t n_rows, uint32_t body_len, const uint8_t signer[static 32], uint64_t ledger_version,
                      unsigned flags)
{
    memcpy(h, SEG_MAGIC, 4);
    h[4] = SEG_VERSION;
    h[5] = (uint8_t)flags;
    h[6] = h[7] = 0;
    zt_put_le64(h + 8, seq);
    zt_put_le64(h + 16, (uint64_t)created);
    memcpy(h + 24, prev, 32);
    zt_put_le32(h + 56, n_rows);
    zt_put_le32(h + 60, body_len);
    memcpy(h + 64, signer, 32);
    zt_put_le64(h + 96, ledger_version);
}

int zt_dbsync_segment_encode(const struct zt_identity *id, uint64_t seq, int64_t created, const uint8_t prev[static 32],
                             const char *body, size_t body_len, uint32_t n_rows, uint64_t ledger_version, unsigned flags,
                             uint8_t **out, size_t *len)
{
    if (!id || !out || !len || seq == 0 || (body_len && !body) || ledger_version > INT64_MAX ||
        (flags & ~ZT_DBSYNC_F_DELS))
        return ZT_EINVAL;
    if (body_len > ZT_DBSYNC_BODY_MAX) return ZT_ETOOBIG;
    uint32_t counted = 0;
    int rc = zt__dbs_check_body((const uint8_t *)body, body_len, true, &counted);
    if (rc) return rc == ZT_ENOMEM ? rc : ZT_EINVAL;
    if (counted != n_rows) return ZT_EINVAL;
    size_t total = ZT_DBSYNC_HEADER + body_len + ZT_DBSYNC_SIG;
    uint8_t *b = zt_malloc(total);
    if (!b) return ZT_ENOMEM;
    header_of(b, seq, created, prev, n_rows, (uint32_t)body_len, zt_identity_sign_pk(id), ledger_version, flags);
    if (body_len) memcpy(b + ZT_DBSYNC_HEADER, body, body_len);
    rc = zt_identity_sign(id, b, ZT_DBSYNC_HEADER + body_len, b + ZT_DBSYNC_HEADER + body_len);
    if (rc) {
        zt_free(b);
        return rc;
    }
    *out = b;
    *len = total;
    return 0;
}

int zt_dbsync_segment_decode(const void *data, size_t len, const uint8_t *want_signer, struct zt_dbsync_segment *out)
{
    const uint8_t *p = data;
    if (!p || !out) return ZT_EINVAL;
    if (len > ZT_DBSYNC_SEGMENT_MAX) return ZT_ETOOBIG;
    if (len < ZT_DBSYNC_HEADER_V1 + ZT_DBSYNC_SIG || memcmp(p, SEG_MAGIC, 4) != 0) return ZT_EPARSE;
    if (p[4] < 1 || p[4] > SEG_VERSION) return ZT_EUNSUPPORTED;
    size_t hl = p[4] == 1 ? ZT_DBSYNC_HEADER_V1 : ZT_DBSYNC_HEADER;
    if (len < hl + ZT_DBSYNC_SIG) return ZT_EPARSE;
    struct zt_dbsync_segment s;
    memset(&s, 0, sizeof s);
    s.version = p[4];
    s.flags = p[5]; /* only version 3 has flags, only ZT_DBSYNC_F_DELS so far */
    s.ledger_version = hl > ZT_DBSYNC_HEADER_V1 ? zt_get_le64(p + 96) : 0;
    s.seq = zt_get_le64(p + 8);
    s.created = (int64_t)zt_get_le64(p + 16);
    memcpy(s.prev, p + 24, 32);
    s.n_rows = zt_get_le32(p + 56);
    s.body_len = zt_get_le32(p + 60);
    memcpy(s.signer, p + 64, 32);
    if ((p[5] & ~(s.version >= 3 ? ZT_DBSYNC_F_DELS : 0u)) || p[6] || p[7] || s.seq == 0 || s.body_len > ZT_DBSYNC_BODY_MAX ||
        len != hl + s.body_len + ZT_DBSYNC_SIG || s.n_rows > ZT_DBSYNC_ROWS_MAX || s.ledger_version > INT64_MAX)
        return ZT_EPARSE;
    static const uint8_t zero[32];
    if ((s.seq == 1) != (memcmp(s.prev, zero, 32) == 0)) return ZT_EPARSE;
    if (want_signer && memcmp(want_signer, s.signer, 32) != 0) return ZT_ECRYPTO;
    if (zt_identity_verify(s.signer, p, hl + s.body_len, p + hl + s.body_len) != 0) return ZT_ECRYPTO;
    s.body = p + hl;
    uint32_t counted = 0;
    int rc = zt__dbs_check_body(s.body, s.body_len, s.version >= 3, &counted);
    if (rc) return rc;
    if (counted != s.n_rows) return ZT_EPARSE;
    zt_sha256(s.sha256, p, len);
    *out = s;
    return 0;
}

/* ---- Head records ------------------------------------------------------------ */

static json_t *hexj(const uint8_t *b, size_t n)
{
    char h[129];
    zt_hex_encode(h, b, n);
    return json_string(h);
}

int zt_dbsync_head_sign(const struct zt_identity *id, const struct zt_dbsync_head *h, char **out)
{
    if (!id || !h || !out || h->seq == 0 || h->exp < 0) return ZT_EINVAL;
    json_t *o = json_object();
    int rc = ZT_ENOMEM;
    if (!o) return rc;
    if (json_object_set_new(o, "ed25519_pk", hexj(zt_identity_sign_pk(id), ZT_ED25519_PK_LEN)) ||
        json_object_set_new(o, "exp", json_integer(h->exp)) || json_object_set_new(o, "kind", json_string(HEAD_KIND)) ||
        json_object_set_new(o, "node_id", json_string(zt_identity_id(id))) ||
        json_object_set_new(o, "seq", json_integer((json_int_t)h->seq)) ||
        json_object_set_new(o, "sha256", hexj(h->sha256, 32)) || json_object_set_new(o, "v", json_integer(1)))
        goto out;
    rc = zt_identity_sign_json(id, o, ZT_DBSYNC_HEAD_MAX, out);
out:
    json_decref(o);
    return rc;
}

int zt_dbsync_head_verify(const char *json, size_t len, int64_t now, struct zt_dbsync_head *out)
{
    if (!out) return ZT_EINVAL;
    struct zt_dbsync_head h;
    memset(&h, 0, sizeof h);
    json_t *o = NULL;
    const char *nid;
    int rc = zt_identity_record_parse(json, len, ZT_DBSYNC_HEAD_MAX, HEAD_KIND, h.ed25519_pk, &nid, &o);
    if (rc) return rc;
    rc = ZT_EPARSE;
    if (json_object_size(o) != 8) goto out;
    json_t *exp = json_object_get(o, "exp"), *seq = json_object_get(o, "seq");
    if (!json_is_integer(exp) || !json_is_integer(seq) || json_integer_value(seq) < 1 ||
        zt_hex_decode_str(h.sha256, 32, json_string_value(json_object_get(o, "sha256")), ZT_HEX_LOWER) != 0)
        goto out;
    rc = zt_identity_record_verify_exp(o, h.ed25519_pk, nid, h.node_id, ZT_DBSYNC_HEAD_MAX, now, &h.exp);
    if (rc) goto out;
    h.seq = (uint64_t)json_integer_value(seq);
    *out = h;
    rc = 0;
out:
    json_decref(o);
    return rc;
}
