/* dbsync.c: the orchestrator's job and reward records published to the
 * mesh as signed, chained segments; rebuild and audit from them
 * (zt_dbsync.h, docs/internals/mesh.md "Database sync").
 *
 * Bookkeeping under the store owner "dbsync": every segment made (its
 * bytes, until it is in the mesh), a 16-byte hash of every row image
 * published (what changed is what hashes differently), the change log
 * (dbsync_changes: a counter and the first column of every row inserted,
 * updated or deleted, and each TRUNCATE on PostgreSQL, written by
 * triggers on the tables, so by every writer of the store, in the
 * writer's transaction; a published row gone goes out as a tombstone,
 * segment format 3) and per table whether its log
 * is complete (a mark "log:<table>" once every row was read after its
 * triggers were made). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "dbsync_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_dbsync.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_mesh.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define ROW_HASH 16
#define SQL_MAX 2048
#define CHANGES_MAX 200000 /* change-log entries read per round (the rest: the next round) */
/* A subscription (another publisher's) not seen for this long is
 * expired by a round: its change-log entries and log marks go (a
 * publisher that died or was retired without zt_dbsync_unlog; review7
 * F6). One that comes back reads its tables whole and subscribes again. */
#define SUB_IDLE_S (7 * 86400)

static int drop_v2_triggers(struct zt_store *st, void *ud);

static const struct zt_store_step DBSYNC_STEPS[] = {
    {.sql = "CREATE TABLE dbsync_segments(seq INTEGER PRIMARY KEY, sha BLOB NOT NULL, data BLOB,"
            " n_rows INTEGER NOT NULL, created INTEGER NOT NULL, published INTEGER NOT NULL);"
            "CREATE TABLE dbsync_rows(tbl TEXT NOT NULL, k TEXT NOT NULL, h BLOB NOT NULL, PRIMARY KEY(tbl, k));"
            "CREATE TABLE dbsync_marks(tbl TEXT PRIMARY KEY, hi INTEGER NOT NULL);",
     .sql_pg = "CREATE TABLE dbsync_segments(seq BIGINT PRIMARY KEY, sha BYTEA NOT NULL, data BYTEA,"
               " n_rows BIGINT NOT NULL, created BIGINT NOT NULL, published BIGINT NOT NULL);"
               "CREATE TABLE dbsync_rows(tbl TEXT NOT NULL, k TEXT NOT NULL, h BYTEA NOT NULL, PRIMARY KEY(tbl, k));"
               "CREATE TABLE dbsync_marks(tbl TEXT PRIMARY KEY, hi BIGINT NOT NULL);"},
    /* the change log: n grows with every row written; a round reads the
     * rows it names and deletes exactly the entries it read */
    {.sql = "CREATE TABLE dbsync_changes(n INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, ki INTEGER, kt TEXT);",
     .sql_pg = "CREATE TABLE dbsync_changes(n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tbl TEXT NOT NULL,"
               " ki BIGINT, kt TEXT);"},
    /* 3: several publishers on one store (orchestrators sharing a
     * PostgreSQL): everything keyed by the publisher's node id (pub; ""
     * for what version 2 made, claimed by the publisher whose key signed
     * its newest segment, v2_ours); the log's triggers write one entry per subscriber
     * (dbsync_subs) and each publisher reads and deletes its own */
    {.sql = "CREATE TABLE dbsync_segments_3(pub TEXT NOT NULL, seq INTEGER NOT NULL, sha BLOB NOT NULL, data BLOB,"
            " n_rows INTEGER NOT NULL, created INTEGER NOT NULL, published INTEGER NOT NULL, PRIMARY KEY(pub, seq));"
            "INSERT INTO dbsync_segments_3 SELECT '', seq, sha, data, n_rows, created, published FROM dbsync_segments;"
            "DROP TABLE dbsync_segments; ALTER TABLE dbsync_segments_3 RENAME TO dbsync_segments;"
            "CREATE TABLE dbsync_rows_3(pub TEXT NOT NULL, tbl TEXT NOT NULL, k TEXT NOT NULL, h BLOB NOT NULL,"
            " PRIMARY KEY(pub, tbl, k));"
            "INSERT INTO dbsync_rows_3 SELECT '', tbl, k, h FROM dbsync_rows;"
            "DROP TABLE dbsync_rows; ALTER TABLE dbsync_rows_3 RENAME TO dbsync_rows;"
            "CREATE TABLE dbsync_marks_3(pub TEXT NOT NULL, tbl TEXT NOT NULL, hi INTEGER NOT NULL, PRIMARY KEY(pub, tbl));"
            "INSERT INTO dbsync_marks_3 SELECT '', tbl, hi FROM dbsync_marks WHERE tbl NOT LIKE 'log:%';"
            "DROP TABLE dbsync_marks; ALTER TABLE dbsync_marks_3 RENAME TO dbsync_marks;"
            "ALTER TABLE dbsync_changes ADD COLUMN pub TEXT NOT NULL DEFAULT '';"
            "CREATE INDEX dbsync_changes_pub ON dbsync_changes(pub, n);"
            "CREATE TABLE dbsync_subs(pub TEXT PRIMARY KEY);",
     .sql_pg = "ALTER TABLE dbsync_segments ADD COLUMN pub TEXT NOT NULL DEFAULT '';"
               "ALTER TABLE dbsync_segments DROP CONSTRAINT dbsync_segments_pkey;"
               "ALTER TABLE dbsync_segments ADD PRIMARY KEY(pub, seq);"
               "ALTER TABLE dbsync_rows ADD COLUMN pub TEXT NOT NULL DEFAULT '';"
               "ALTER TABLE dbsync_rows DROP CONSTRAINT dbsync_rows_pkey;"
               "ALTER TABLE dbsync_rows ADD PRIMARY KEY(pub, tbl, k);"
               "DELETE FROM dbsync_marks WHERE tbl LIKE 'log:%';"
               "ALTER TABLE dbsync_marks ADD COLUMN pub TEXT NOT NULL DEFAULT '';"
               "ALTER TABLE dbsync_marks DROP CONSTRAINT dbsync_marks_pkey;"
               "ALTER TABLE dbsync_marks ADD PRIMARY KEY(pub, tbl);"
               "ALTER TABLE dbsync_changes ADD COLUMN pub TEXT NOT NULL DEFAULT '';"
               "CREATE INDEX dbsync_changes_pub ON dbsync_changes(pub, n);"
               "CREATE TABLE dbsync_subs(pub TEXT PRIMARY KEY);",
     .fn = drop_v2_triggers},
    /* 4: when each subscription was last active (unix s; refreshed by
     * its publisher's every round): one idle SUB_IDLE_S is expired by
     * another publisher's round (review7 F6); those there now count as
     * seen at the upgrade */
    {.sql = "ALTER TABLE dbsync_subs ADD COLUMN seen INTEGER NOT NULL DEFAULT 0;"
            "UPDATE dbsync_subs SET seen = CAST(strftime('%s', 'now') AS INTEGER);",
     .sql_pg = "ALTER TABLE dbsync_subs ADD COLUMN seen BIGINT NOT NULL DEFAULT 0;"
               "UPDATE dbsync_subs SET seen = CAST(EXTRACT(EPOCH FROM now()) AS BIGINT);"},
    /* 5: each segment's ledger version (segment format 2; 0 for those
     * made before) */
    {.sql = "ALTER TABLE dbsync_segments ADD COLUMN lver INTEGER NOT NULL DEFAULT 0;",
     .sql_pg = "ALTER TABLE dbsync_segments ADD COLUMN lver BIGINT NOT NULL DEFAULT 0;"},
    /* 6: deletes carried (segment format 3): what each change-log entry
     * is (del: 0 a row inserted or updated, 1 a row deleted, its key's
     * first column in ki/kt, 2 the table truncated, PostgreSQL); the log
     * marks go, so every publisher's next round reads each table whole,
     * makes the triggers again (now with DELETE and TRUNCATE) and sends a
     * tombstone for every published row the store no longer has: the
     * deletes made before, which no trigger logged. The delete entries
     * are indexed apart (a partial index: inserts and updates pay nothing
     * for it; queries name "del > 0" for SQLite to use it) */
    {.sql = "ALTER TABLE dbsync_changes ADD COLUMN del INTEGER NOT NULL DEFAULT 0;"
            "CREATE INDEX dbsync_changes_del ON dbsync_changes(pub, tbl, n) WHERE del > 0;"
            "DELETE FROM dbsync_marks WHERE tbl LIKE 'log:%';",
     .sql_pg = "ALTER TABLE dbsync_changes ADD COLUMN del BIGINT NOT NULL DEFAULT 0;"
               "CREATE INDEX dbsync_changes_del ON dbsync_changes(pub, tbl, n) WHERE del > 0;"
               "DELETE FROM dbsync_marks WHERE tbl LIKE 'log:%';"},
    /* 7: each segment's flags (ZT_DBSYNC_F_DELS: the chain up to it
     * carries every delete, review10 F10); 0 for those made before, so a
     * chain whose head came before gets a flagged segment from its next
     * complete round (an empty one if nothing changed) */
    {.sql = "ALTER TABLE dbsync_segments ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;",
     .sql_pg = "ALTER TABLE dbsync_segments ADD COLUMN flags BIGINT NOT NULL DEFAULT 0;"},
};
static const struct zt_store_schema DBSYNC_SCHEMA = ZT_STORE_SCHEMA("dbsync", DBSYNC_STEPS);
#define DBSYNC_VERSION (sizeof DBSYNC_STEPS / sizeof DBSYNC_STEPS[0])

struct zt_dbsync {
    struct zt_dbsync_opts o;
    char tmp_dir[4096];
    pthread_mutex_t mu; /* the store handle and everything below */
    pthread_cond_t cv;
    pthread_t th;
    bool started, stop;
    struct zt_dht *dht;
    uint64_t seq;       /* the last segment made here (0: none) */
    uint8_t last[32];
    /* the last segment in the mesh (0: none): what the head names. Made
     * segments are pushed in order, so 1..head_seq are all in the mesh;
     * those after it are made but not pushed yet (a peer asking for them
     * would find nobody serving them) */
    uint64_t head_seq;
    uint8_t head_sha[32];
    uint64_t lver;      /* its ledger version */
    unsigned flags;     /* its flags (ZT_DBSYNC_F_DELS: our chain carries every delete) */
    uint64_t made;      /* segments made by this process */
    bool blocked;       /* a chain of ours is published and we have none: rebuild first */
    int64_t next_head;  /* unix s */
    uint8_t owner_key[32]; /* seals user accounts' wallet addresses (owner_seal) */
    bool logged[ZT__DBS_MAX_TABLES]; /* the table's triggers made (or found) by this process */
    const char *pub;    /* our node id: the key of our bookkeeping rows */
    /* PostgreSQL, review7 F15: the transactions running when our
     * subscription last committed (virtual transaction ids). A writer
     * among them may hold a snapshot without it, so its trigger logs
     * nothing for us: a whole read counts as complete (its log mark set)
     * only once every one of them has ended. */
    struct vxid *fence;
    size_t n_fence, cap_fence;
    bool fence_pending;
};

/* Step q while *rc is 0: true on a row; false at the end (or *rc an error). */
static bool next_row(struct zt_store_stmt *q, int *rc)
{
    if (*rc) return false;
    int r = zt_store_step(q);
    if (r == ZT_STORE_ROW) return true;
    *rc = r == ZT_STORE_DONE ? 0 : r < 0 ? r : ZT_EIO;
    return false;
}

/* ---- rows ------------------------------------------------------------------------ */

/* A candidate row: its canonical line (with '\n'), key text and growing value. */
struct cand {
    char *line;  /* the clear image (hashed) */
    size_t len;
    char *pub;   /* what is published when it differs (a sealed owner), else NULL */
    size_t pub_len;
    char *key;
    uint8_t h[ROW_HASH];
};

struct cands {
    struct cand *v;
    size_t n, cap;
};

static void cands_free(struct cands *c)
{
    for (size_t i = 0; i < c->n; i++) {
        zt_free(c->v[i].line);
        zt_free(c->v[i].pub);
        zt_free(c->v[i].key);
    }
    zt_free(c->v);
    memset(c, 0, sizeof *c);
}

static void row_hash(uint8_t out[ROW_HASH], const char *line, size_t len)
{
    uint8_t d[32];
    zt_sha256(d, line, len);
    memcpy(out, d, ROW_HASH);
}

/* ---- what holders must not read ------------------------------------------------------
 * A user's account is named by the wallet address the user pays from: in a
 * published row it is sealed (XChaCha20-Poly1305, a random nonce, the
 * account id as associated data) under a key only this node's key derives,
 * "enc1:" + hex(nonce || ciphertext). A holder learns an account number,
 * not whose it is; the orchestrator (its key restored) opens it again. */
#define SEAL_PREFIX "enc1:"
#define SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define OWNER_MAX 256
#define LEDGER_USER 1 /* ledger_accounts.kind of a user (ZT_LEDGER_USER, zt_ledger.h) */

static bool sealed_row(const struct zt__dbs_table *t, json_t *a)
{
    return strcmp(t->name, "ledger_accounts") == 0 && json_integer_value(json_array_get(a, 2)) == LEDGER_USER &&
           json_is_string(json_array_get(a, 3));
}

static void seal_ad(json_t *a, char *ad, size_t cap)
{
    snprintf(ad, cap, "ledger_accounts:%lld", (long long)json_integer_value(json_array_get(a, 1)));
}

/* a (a clear row) with its owner sealed; 0 or ZT_ENOMEM, ZT_ETOOBIG */
static int owner_seal(const struct zt_dbsync *s, json_t *a)
{
    const char *owner = json_string_value(json_array_get(a, 3));
    size_t n = json_string_length(json_array_get(a, 3));
    if (n > OWNER_MAX) return ZT_ETOOBIG;
    uint8_t buf[SEAL_NONCE + OWNER_MAX + SEAL_TAG];
    char hex[sizeof SEAL_PREFIX + 2 * sizeof buf], ad[64];
    randombytes_buf(buf, SEAL_NONCE);
    seal_ad(a, ad, sizeof ad);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + SEAL_NONCE, &clen, (const uint8_t *)owner, n, (const uint8_t *)ad,
                                               strlen(ad), NULL, buf, s->owner_key);
    memcpy(hex, SEAL_PREFIX, sizeof SEAL_PREFIX - 1);
    zt_hex_encode(hex + sizeof SEAL_PREFIX - 1, buf, SEAL_NONCE + (size_t)clen);
    return json_array_set_new(a, 3, json_string(hex)) ? ZT_ENOMEM : 0;
}

/* The clear owner back into a published row; ZT_ECRYPTO when it does not open. */
static int owner_open(const struct zt_dbsync *s, json_t *a)
{
    const char *h = json_string_value(json_array_get(a, 3));
    size_t hl = json_string_length(json_array_get(a, 3)), pl = sizeof SEAL_PREFIX - 1;
    if (hl < pl || memcmp(h, SEAL_PREFIX, pl) != 0) return ZT_ECRYPTO; /* a user account is always sealed */
    size_t n = (hl - pl) / 2;
    uint8_t buf[SEAL_NONCE + OWNER_MAX + SEAL_TAG], clear[OWNER_MAX + 1];
    char ad[64];
    if ((hl - pl) % 2 || n < SEAL_NONCE + SEAL_TAG || n > sizeof buf ||
        zt_hex_decode_str(buf, n, h + pl, ZT_HEX_LOWER) != 0)
        return ZT_ECRYPTO;
    seal_ad(a, ad, sizeof ad);
    unsigned long long cl = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(clear, &cl, NULL, buf + SEAL_NONCE, n - SEAL_NONCE,
                                                   (const uint8_t *)ad, strlen(ad), buf, s->owner_key) != 0)
        return ZT_ECRYPTO;
    return json_array_set_new(a, 3, json_stringn((const char *)clear, (size_t)cl)) ? ZT_ENOMEM : 0;
}

/* The change log's column for t's first column (ki integers, kt text). */
static const char *log_col(const struct zt__dbs_table *t)
{
    return t->cols[0].type == ZT__DBS_INT ? "ki" : "kt";
}

static int select_sql(const struct zt__dbs_table *t, bool changed, char *out, size_t cap)
{
    struct zt_buf b;
    zt_buf_init(&b, cap);
    int rc = zt_buf_append_str(&b, "SELECT ");
    for (size_t i = 0; i < t->n_cols && !rc; i++) rc = zt_buf_appendf(&b, "%s%s", i ? ", " : "", t->cols[i].name);
    if (!rc) rc = zt_buf_appendf(&b, " FROM %s WHERE 1=1", t->name);
    if (!rc && changed)
        rc = zt_buf_appendf(&b, " AND %s IN (SELECT %s FROM dbsync_changes WHERE pub = ? AND tbl = ? AND n <= ?)",
                            t->cols[0].name, log_col(t));
    if (!rc && t->own_jobs) rc = zt_buf_append_str(&b, " AND orch = ?");
    if (!rc) rc = zt_buf_append_str(&b, " ORDER BY ");
    for (size_t i = 0; i < t->n_key && !rc; i++) rc = zt_buf_appendf(&b, "%s%s", i ? ", " : "", t->cols[i].name);
    if (!rc && b.len >= cap) rc = ZT_ETOOBIG;
    if (!rc) memcpy(out, b.data, b.len + 1);
    zt_buf_deinit(&b);
    return rc;
}

/* The value of column i of the current row as JSON (per the table's type). */
static json_t *col_json(struct zt_store_stmt *q, const struct zt__dbs_col *c, int i)
{
    if (zt_store_column_type(q, i) == ZT_STORE_NULL) return json_null();
    if (c->type == ZT__DBS_INT) {
        int64_t v;
        return zt_store_column_i64(q, i, &v) ? NULL : json_integer(v);
    }
    if (c->type == ZT__DBS_TEXT) {
        const char *s;
        size_t n;
        return zt_store_column_text(q, i, &s, &n) ? NULL : json_stringn(s, n);
    }
    const void *p;
    size_t n;
    if (zt_store_column_blob(q, i, &p, &n) || n > ZT_DBSYNC_LINE_MAX / 2) return NULL;
    char *h = zt_malloc(2 * n + 1);
    if (!h) return NULL;
    zt_hex_encode(h, p, n);
    json_t *j = json_stringn(h, 2 * n);
    zt_free(h);
    return j;
}

static char *dump(const json_t *j, size_t *len, bool nl)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (n == 0 || n > ZT_DBSYNC_LINE_MAX) return NULL;
    char *s = zt_malloc(n + 2);
    if (!s) return NULL;
    json_dumpb(j, s, n, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (nl) s[n++] = '\n';
    s[n] = '\0';
    *len = n;
    return s;
}

/* The key text of a row (its line's array a: table name first). */
static char *key_of(const struct zt__dbs_table *t, json_t *a)
{
    json_t *k = json_array();
    for (size_t i = 0; k && i < t->n_key; i++)
        if (json_array_append(k, json_array_get(a, i + 1))) {
            json_decref(k);
            return NULL;
        }
    size_t n;
    char *s = k ? dump(k, &n, false) : NULL;
    json_decref(k);
    return s;
}

/* Is t's owner (ledger_*: "ledger", else "sched") migrated in this store? */
static bool table_present(struct zt_store *st, const struct zt__dbs_table *t)
{
    int v = 0;
    return zt_store_owner_version(st, strncmp(t->name, "ledger_", 7) == 0 ? "ledger" : "sched", &v) == 0 && v > 0;
}

/* Each of t's candidate rows, in key order, to fn (one at a time: a row's
 * strings are freed after fn unless fn takes them, setting them NULL):
 * those the change log names up to entry top, or every row when top is
 * negative. in_tx: called inside a transaction (PostgreSQL reads a whole
 * table through a cursor there). */
typedef int (*cand_fn)(void *ud, struct cand *c);

/* The current row of q (t's columns) as a candidate, to fn. */
static int cand_row(struct zt_dbsync *s, const struct zt__dbs_table *t, struct zt_store_stmt *q, cand_fn fn, void *ud)
{
    int rc = ZT_ENOMEM;
    struct cand c;
    memset(&c, 0, sizeof c);
    json_t *a = json_array();
    if (!a || json_array_append_new(a, json_string(t->name))) goto out;
    for (int i = 0; i < t->n_cols; i++) {
        json_t *v = col_json(q, &t->cols[i], i);
        if (!v || json_array_append_new(a, v)) goto out;
    }
    c.line = dump(a, &c.len, true);
    c.key = key_of(t, a);
    if (!c.line || !c.key) {
        rc = c.line ? ZT_ENOMEM : ZT_ETOOBIG;
        goto out;
    }
    row_hash(c.h, c.line, c.len - 1);
    rc = 0;
    if (sealed_row(t, a) && (rc = owner_seal(s, a)) == 0 && !(c.pub = dump(a, &c.pub_len, true))) rc = ZT_ENOMEM;
    if (!rc) rc = fn(ud, &c);
out:
    zt_free(c.line);
    zt_free(c.pub);
    zt_free(c.key);
    json_decref(a);
    return rc;
}

#define CURSOR_ROWS 1000 /* the FETCH below */

static int each_cand(struct zt_dbsync *s, const struct zt__dbs_table *t, int64_t top, bool in_tx, cand_fn fn, void *ud)
{
    char sql[SQL_MAX];
    bool changed = top >= 0;
    int rc = select_sql(t, changed, sql, sizeof sql);
    struct zt_store_stmt *q = NULL;
    /* PostgreSQL's driver holds a statement's whole result: a whole
     * ledger table (no parameter) is read through a cursor, CURSOR_ROWS
     * at a time, inside the caller's transaction (the rebuild's) */
    bool cursor = !rc && in_tx && !changed && !t->own_jobs && zt_store_dialect(s->o.st) == ZT_STORE_DIALECT_POSTGRES;
    if (cursor) {
        char decl[SQL_MAX + 64];
        snprintf(decl, sizeof decl, "DECLARE dbsync_rows_cur NO SCROLL CURSOR FOR %s", sql);
        rc = zt_store_exec(s->o.st, decl);
        if (!rc) rc = zt_store_prepare(s->o.st, "FETCH 1000 FROM dbsync_rows_cur", &q);
        for (size_t got = CURSOR_ROWS; !rc && got == CURSOR_ROWS;) {
            got = 0;
            zt_store_reset(q);
            while (next_row(q, &rc) && !(rc = cand_row(s, t, q, fn, ud))) got++;
        }
        zt_store_stmt_free(q);
        int rc2 = zt_store_exec(s->o.st, "CLOSE dbsync_rows_cur");
        return rc ? rc : rc2;
    }
    if (!rc) rc = zt_store_prepare(s->o.st, sql, &q);
    int p = 1;
    if (!rc && changed) rc = zt_store_bind_text(q, p++, s->pub, strlen(s->pub));
    if (!rc && changed) rc = zt_store_bind_text(q, p++, t->name, strlen(t->name));
    if (!rc && changed) rc = zt_store_bind_i64(q, p++, top);
    if (!rc && t->own_jobs) rc = zt_store_bind_text(q, p++, zt_identity_id(s->o.id), strlen(zt_identity_id(s->o.id)));
    while (next_row(q, &rc)) rc = cand_row(s, t, q, fn, ud);
    zt_store_stmt_free(q);
    return rc;
}

static int cand_keep(void *ud, struct cand *c)
{
    struct cands *out = ud;
    if (out->n == out->cap) {
        size_t nc = out->cap ? out->cap * 2 : 64;
        struct cand *nv = zt_realloc(out->v, nc * sizeof *nv);
        if (!nv) return ZT_ENOMEM;
        out->v = nv;
        out->cap = nc;
    }
    out->v[out->n++] = *c;
    memset(c, 0, sizeof *c);
    return 0;
}

/* t's candidate rows (as each_cand's) into *out. */
static int read_rows(struct zt_dbsync *s, const struct zt__dbs_table *t, int64_t top, struct cands *out)
{
    return each_cand(s, t, top, false, cand_keep, out);
}

/* The published hash of (t, key): 0 and *out, ZT_ENOTFOUND, or an error. */
static int published_hash(struct zt_store_stmt *q, const char *pub, const char *tbl, const char *key,
                          uint8_t out[ROW_HASH])
{
    zt_store_reset(q);
    int i = 1, rc = pub ? zt_store_bind_text(q, i++, pub, strlen(pub)) : 0;
    if (!rc) rc = zt_store_bind_text(q, i++, tbl, strlen(tbl));
    if (!rc) rc = zt_store_bind_text(q, i, key, strlen(key));
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_DONE) return ZT_ENOTFOUND;
    if (rc != ZT_STORE_ROW) return rc < 0 ? rc : ZT_EIO;
    const void *p;
    size_t n;
    rc = zt_store_column_blob(q, 0, &p, &n);
    if (!rc && n == ROW_HASH) memcpy(out, p, ROW_HASH);
    else if (!rc) rc = ZT_EIO;
    zt_store_reset(q);
    return rc;
}

static const char SQL_MARK_UPSERT[] = "INSERT INTO dbsync_marks(pub, tbl, hi) VALUES(?, ?, ?)"
                                      " ON CONFLICT(pub, tbl) DO UPDATE SET hi = excluded.hi";

static int run_done(struct zt_store_stmt *q)
{
    int rc = zt_store_step(q);
    zt_store_reset(q);
    return rc == ZT_STORE_DONE ? 0 : rc < 0 ? rc : ZT_EIO;
}

/* The number sql selects, with pub bound to its one parameter (when it has one). */
static int count_pub(struct zt_store *st, const char *sql, const char *pub, int64_t *n)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st, sql, &q);
    if (!rc && strchr(sql, '?')) rc = zt_store_bind_text(q, 1, pub, strlen(pub));
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) rc = zt_store_column_i64(q, 0, n);
    else if (rc == ZT_STORE_DONE) rc = ZT_EIO;
    zt_store_stmt_free(q);
    return rc;
}

/* ---- the change log ------------------------------------------------------------------- */

/* The triggers of table name (prefix "dbsync_log", ours; "dbsync_chg",
 * those of dbsync schema 2, one log for a single publisher) dropped. */
static int drop_triggers(struct zt_store *st, const char *prefix, const char *n)
{
    char sql[1024];
    if (zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES)
        snprintf(sql, sizeof sql,
                 "DROP TRIGGER IF EXISTS %s_%s ON %s; DROP FUNCTION IF EXISTS %s_%s();"
                 "DROP TRIGGER IF EXISTS %s_%s_d ON %s; DROP FUNCTION IF EXISTS %s_%s_d();"
                 "DROP TRIGGER IF EXISTS %s_%s_t ON %s; DROP FUNCTION IF EXISTS %s_%s_t();",
                 prefix, n, n, prefix, n, prefix, n, n, prefix, n, prefix, n, n, prefix, n);
    else
        snprintf(sql, sizeof sql,
                 "DROP TRIGGER IF EXISTS %s_%s_i; DROP TRIGGER IF EXISTS %s_%s_u; DROP TRIGGER IF EXISTS %s_%s_d;", prefix,
                 n, prefix, n, prefix, n);
    return zt_store_exec(st, sql);
}

/* Migration step 3: the single-publisher triggers go (a publisher makes
 * its own at its next round: the log marks are gone with them). */
static int drop_v2_triggers(struct zt_store *st, void *ud)
{
    (void)ud;
    int rc = 0;
    for (size_t t = 0; t < zt__dbs_n_tables && !rc; t++)
        if (table_present(st, &zt__dbs_tables[t])) rc = drop_triggers(st, "dbsync_chg", zt__dbs_tables[t].name);
    return rc;
}

/* PostgreSQL: subscribing and the triggers' last subscriber leaving are
 * one at a time (a publisher never subscribes between another's count
 * of none and its drop of the triggers). SQLite's writer lock does it. */
static int subs_lock(struct zt_store *st)
{
    return zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES
               ? zt_store_exec(st, "LOCK TABLE dbsync_subs IN SHARE ROW EXCLUSIVE MODE")
               : 0;
}

static int bind_pub_run(struct zt_store *st, const char *sql, const char *pub)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st, sql, &q);
    if (!rc) rc = zt_store_bind_text(q, 1, pub, strlen(pub));
    if (!rc) rc = run_done(q);
    zt_store_stmt_free(q);
    return rc;
}

struct trig {
    struct zt_dbsync *s;
    size_t ti;
};

/* We subscribe to the log and t's triggers are made (what exists is
 * replaced): every row inserted or updated adds (t, its first column) to
 * dbsync_changes once per subscriber, every row deleted the same with del
 * 1, a TRUNCATE (PostgreSQL) one entry with del 2; in the writer's
 * transaction, whichever process writes. Each kind has a trigger (and on
 * PostgreSQL a function) of its own: a binary from before dbsync step 6
 * still running on the same PostgreSQL (a rolling upgrade) makes its
 * dbsync_log_<t> again, AFTER INSERT OR UPDATE, whenever its log mark is
 * gone (step 6 deletes them all); that replaces only the insert / update
 * trigger and its function, and deletes stay logged (review10 F4). */
static int log_triggers_tx(struct zt_store *st, void *ud)
{
    const struct trig *x = ud;
    const struct zt__dbs_table *t = &zt__dbs_tables[x->ti];
    const char *n = t->name, *c = t->cols[0].name, *k = log_col(t);
    char sql[SQL_MAX];
    int len;
    if (zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES)
        len = snprintf(sql, sizeof sql,
                       "CREATE OR REPLACE FUNCTION dbsync_log_%s() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
                       " INSERT INTO dbsync_changes(pub, tbl, %s) SELECT pub, '%s', NEW.%s FROM dbsync_subs;"
                       " RETURN NULL; END $f$;"
                       "CREATE OR REPLACE TRIGGER dbsync_log_%s AFTER INSERT OR UPDATE ON %s FOR EACH ROW"
                       " EXECUTE FUNCTION dbsync_log_%s();"
                       "CREATE OR REPLACE FUNCTION dbsync_log_%s_d() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
                       " INSERT INTO dbsync_changes(pub, tbl, %s, del) SELECT pub, '%s', OLD.%s, 1 FROM dbsync_subs;"
                       " RETURN NULL; END $f$;"
                       "CREATE OR REPLACE TRIGGER dbsync_log_%s_d AFTER DELETE ON %s FOR EACH ROW"
                       " EXECUTE FUNCTION dbsync_log_%s_d();"
                       "CREATE OR REPLACE FUNCTION dbsync_log_%s_t() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
                       " INSERT INTO dbsync_changes(pub, tbl, del) SELECT pub, '%s', 2 FROM dbsync_subs;"
                       " RETURN NULL; END $f$;"
                       "CREATE OR REPLACE TRIGGER dbsync_log_%s_t AFTER TRUNCATE ON %s FOR EACH STATEMENT"
                       " EXECUTE FUNCTION dbsync_log_%s_t();",
                       n, k, n, c, n, n, n, n, k, n, c, n, n, n, n, n, n, n, n);
    else
        len = snprintf(sql, sizeof sql,
                       "CREATE TRIGGER IF NOT EXISTS dbsync_log_%s_i AFTER INSERT ON %s BEGIN"
                       " INSERT INTO dbsync_changes(pub, tbl, %s) SELECT pub, '%s', NEW.%s FROM dbsync_subs; END;"
                       "CREATE TRIGGER IF NOT EXISTS dbsync_log_%s_u AFTER UPDATE ON %s BEGIN"
                       " INSERT INTO dbsync_changes(pub, tbl, %s) SELECT pub, '%s', NEW.%s FROM dbsync_subs; END;"
                       "CREATE TRIGGER IF NOT EXISTS dbsync_log_%s_d AFTER DELETE ON %s BEGIN"
                       " INSERT INTO dbsync_changes(pub, tbl, %s, del) SELECT pub, '%s', OLD.%s, 1 FROM dbsync_subs; END;",
                       n, n, k, n, c, n, n, k, n, c, n, n, k, n, c);
    if (len < 0 || (size_t)len >= sizeof sql) return ZT_ETOOBIG;
    int rc = subs_lock(st);
    struct zt_store_stmt *q = NULL;
    if (!rc) rc = zt_store_prepare(st, "INSERT INTO dbsync_subs(pub, seen) VALUES(?, ?) ON CONFLICT(pub) DO NOTHING", &q);
    if (!rc) rc = zt_store_bind_text(q, 1, x->s->pub, strlen(x->s->pub));
    if (!rc) rc = zt_store_bind_i64(q, 2, zt_time_real_ms() / 1000);
    if (!rc) rc = run_done(q);
    zt_store_stmt_free(q);
    if (!rc) rc = zt_store_exec(st, sql);
    return rc;
}

/* t's triggers and our subscription (once per process, or again when
 * t's log mark is gone). */
static int log_triggers(struct zt_dbsync *s, size_t ti)
{
    if (s->logged[ti]) return 0;
    struct trig x = {.s = s, .ti = ti};
    int rc = zt_store_tx(s->o.st, log_triggers_tx, &x);
    if (!rc) s->logged[ti] = true;
    return rc;
}

/* Publisher pub leaves the log (under subs_lock): its subscription,
 * entries and log marks go; the triggers go with the last subscriber. */
static int unlog_locked(struct zt_store *st, const char *pub)
{
    int rc = bind_pub_run(st, "DELETE FROM dbsync_subs WHERE pub = ?", pub);
    if (!rc) rc = bind_pub_run(st, "DELETE FROM dbsync_changes WHERE pub = ?", pub);
    if (!rc) rc = bind_pub_run(st, "DELETE FROM dbsync_marks WHERE pub = ? AND tbl LIKE 'log:%'", pub);
    int64_t left = 0;
    if (!rc) rc = count_pub(st, "SELECT COUNT(*) FROM dbsync_subs", NULL, &left);
    for (size_t t = 0; t < zt__dbs_n_tables && !rc && !left; t++)
        if (table_present(st, &zt__dbs_tables[t])) rc = drop_triggers(st, "dbsync_log", zt__dbs_tables[t].name);
    if (!rc && !left) rc = zt_store_exec(st, "DELETE FROM dbsync_changes");
    return rc;
}

static int unlog_tx(struct zt_store *st, void *ud) /* ud: a const char * (the publisher) */
{
    const char *pub = *(const char *const *)ud;
    int rc = subs_lock(st);
    return rc ? rc : unlog_locked(st, pub);
}

/* A round's first step: our subscription seen now, and every other one
 * idle for SUB_IDLE_S leaves the log as zt_dbsync_unlog would (the same
 * lock: a publisher's refresh or subscription and an expiry of it are one
 * at a time, so a live publisher is never expired). */
#define EXPIRE_MAX 16 /* subscriptions expired per round (the rest: the next) */
struct subs_round {
    const char *pub; /* us */
    char gone[EXPIRE_MAX][128];
    int64_t idle[EXPIRE_MAX];
    size_t n;
};

static int subs_round_tx(struct zt_store *st, void *ud)
{
    struct subs_round *x = ud;
    int64_t now = zt_time_real_ms() / 1000;
    struct zt_store_stmt *q = NULL;
    x->n = 0; /* a transaction retried starts again */
    int rc = subs_lock(st);
    if (!rc) rc = zt_store_prepare(st, "UPDATE dbsync_subs SET seen = ? WHERE pub = ?", &q);
    if (!rc) rc = zt_store_bind_i64(q, 1, now);
    if (!rc) rc = zt_store_bind_text(q, 2, x->pub, strlen(x->pub));
    if (!rc) rc = run_done(q);
    zt_store_stmt_free(q);
    q = NULL;
    if (!rc)
        rc = zt_store_prepare(st, "SELECT pub, seen FROM dbsync_subs WHERE seen < ? AND pub <> ? ORDER BY seen LIMIT ?",
                              &q);
    if (!rc) rc = zt_store_bind_i64(q, 1, now - SUB_IDLE_S);
    if (!rc) rc = zt_store_bind_text(q, 2, x->pub, strlen(x->pub));
    if (!rc) rc = zt_store_bind_i64(q, 3, EXPIRE_MAX);
    while (next_row(q, &rc) && x->n < EXPIRE_MAX) {
        const char *p = NULL;
        size_t len = 0;
        int64_t seen = 0;
        rc = zt_store_column_text(q, 0, &p, &len);
        if (!rc) rc = zt_store_column_i64(q, 1, &seen);
        if (!rc && len < sizeof x->gone[0]) {
            memcpy(x->gone[x->n], p, len);
            x->gone[x->n][len] = '\0';
            x->idle[x->n++] = now - seen;
        }
    }
    zt_store_stmt_free(q);
    for (size_t i = 0; i < x->n && !rc; i++) rc = unlog_locked(st, x->gone[i]);
    return rc;
}

static int subs_round(struct zt_dbsync *s)
{
    struct subs_round *x = zt_calloc(1, sizeof *x);
    if (!x) return ZT_ENOMEM;
    x->pub = s->pub;
    int rc = zt_store_tx(s->o.st, subs_round_tx, x);
    for (size_t i = 0; i < x->n && !rc; i++)
        zt_log(ZT_LOG_WARN, "dbsync_sub_expired", "pub=%s idle_s=%lld", x->gone[i], (long long)x->idle[i]);
    zt_free(x);
    return rc;
}

int zt_dbsync_unlog(struct zt_store *st, const char *node_id)
{
    if (!st || !node_id || !node_id[0]) return ZT_EINVAL;
    int v = 0;
    int rc = zt_store_owner_version(st, DBSYNC_SCHEMA.owner, &v);
    if (rc || v < 2) return rc; /* no publisher ever made a log here */
    if (v < (int)DBSYNC_VERSION && (rc = zt_store_migrate(st, &DBSYNC_SCHEMA)) != 0) return rc;
    return zt_store_tx(st, unlog_tx, &node_id);
}

/* ---- the subscription fence (PostgreSQL; review7 F15) --------------------------------
 * Every transaction holds an exclusive lock on its own virtual
 * transaction id from its start to its end, and pg_locks shows it to
 * every role (pg_stat_activity's backend_xmin is hidden from other
 * roles). A transaction whose snapshot misses our subscription began
 * before it committed, so it is among those running just after the
 * commit; once none of those is left, every writer's trigger sees us.
 * Only client connections to this database can write its tables: other
 * databases' sessions, autovacuum and the server's own processes are not
 * waited for (review8 F3; pg_stat_activity shows pid, datname and
 * backend_type of every role's sessions). A client left idle in a
 * transaction on this database still holds the mark back until it ends.
 * The store never prepares two-phase transactions, so none is missed. */
struct vxid {
    char v[32];
};

/* The transactions running now other than this connection's: *out (zt_free), *n. */
static int running_vxids(struct zt_store *st, struct vxid **out, size_t *n, size_t *cap)
{
    struct zt_store_stmt *q = NULL;
    *n = 0;
    int rc = zt_store_prepare(st,
                              "SELECT virtualxid FROM pg_locks WHERE locktype = 'virtualxid' AND mode = 'ExclusiveLock'"
                              " AND granted AND pid IS DISTINCT FROM pg_backend_pid()"
                              " AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                              " AND backend_type = 'client backend')",
                              &q);
    while (next_row(q, &rc)) {
        const char *p = NULL;
        size_t len = 0;
        rc = zt_store_column_text(q, 0, &p, &len);
        if (rc || !p || len >= sizeof(struct vxid)) continue;
        struct vxid x = {{0}};
        memcpy(x.v, p, len);
        rc = zt_array_push(out, n, cap, &x, sizeof x, 16);
    }
    zt_store_stmt_free(q);
    return rc;
}

/* Our subscription committed just now: the transactions running are the fence. */
static int fence_set(struct zt_dbsync *s)
{
    if (zt_store_dialect(s->o.st) != ZT_STORE_DIALECT_POSTGRES) return 0;
    int rc = running_vxids(s->o.st, &s->fence, &s->n_fence, &s->cap_fence);
    if (rc) s->n_fence = 0; /* not read: fence_check takes every transaction running then */
    s->fence_pending = rc || s->n_fence > 0;
    return rc;
}

/* Whether the fence has passed: the transactions of the fence still running are kept, none left clears it. */
static int fence_check(struct zt_dbsync *s)
{
    if (!s->fence_pending) return 0;
    struct vxid *now = NULL;
    size_t n = 0, cap = 0;
    int rc = running_vxids(s->o.st, &now, &n, &cap);
    if (!rc && !s->n_fence) { /* the set was never read (fence_set failed): every transaction now is the fence */
        zt_free(s->fence);
        s->fence = now, s->n_fence = n, s->cap_fence = cap;
        now = NULL;
    } else if (!rc) {
        size_t k = 0;
        for (size_t i = 0; i < s->n_fence; i++)
            for (size_t j = 0; j < n; j++)
                if (strcmp(s->fence[i].v, now[j].v) == 0) {
                    s->fence[k++] = s->fence[i];
                    break;
                }
        s->n_fence = k;
    }
    zt_free(now);
    if (!rc) s->fence_pending = s->n_fence > 0;
    if (!rc && s->fence_pending)
        zt_log_rl(ZT_LOG_INFO, 60, "dbsync_sub_waiting",
                  "transactions=%zu detail=\"transactions older than our subscription still run: the tables are"
                  " read whole until they end\"",
                  s->n_fence);
    return rc;
}

/* Whether t's log is complete: every row was read after its triggers were made. */
static int log_complete(struct zt_dbsync *s, const struct zt__dbs_table *t, bool *yes)
{
    char k[96];
    snprintf(k, sizeof k, "log:%s", t->name);
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(s->o.st, "SELECT hi FROM dbsync_marks WHERE pub = ? AND tbl = ?", &q);
    if (!rc) rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
    if (!rc) rc = zt_store_bind_text(q, 2, k, strlen(k));
    if (!rc) rc = zt_store_step(q);
    *yes = rc == ZT_STORE_ROW;
    if (rc == ZT_STORE_ROW || rc == ZT_STORE_DONE) rc = 0;
    zt_store_stmt_free(q);
    return rc;
}

/* The change-log entries now in the store, oldest first (up to
 * CHANGES_MAX): their counters into *out (zt_free), how many in *n. */
static int log_read(struct zt_dbsync *s, bool no_ledger, int64_t **out, size_t *n)
{
    struct zt_store_stmt *q = NULL;
    int64_t *v = NULL;
    size_t k = 0, cap = 0;
    /* no_ledger (a ledger awaiting its rebuild): the ledger tables' entries
     * are not read, so they stay for a round after the rebuild */
    struct zt_buf b;
    zt_buf_init(&b, SQL_MAX);
    int rc = zt_buf_append_str(&b, "SELECT n FROM dbsync_changes WHERE pub = ?");
    for (size_t t = 0, first = 1; t < zt__dbs_n_tables && !rc && no_ledger; t++) {
        if (zt__dbs_tables[t].own_jobs) continue;
        rc = zt_buf_appendf(&b, "%s'%s'", first ? " AND tbl NOT IN (" : ", ", zt__dbs_tables[t].name);
        first = 0;
    }
    if (!rc && no_ledger) rc = zt_buf_append_str(&b, ")");
    if (!rc) rc = zt_buf_append_str(&b, " ORDER BY n LIMIT ?");
    if (!rc) rc = zt_store_prepare(s->o.st, b.data, &q);
    zt_buf_deinit(&b);
    if (!rc) rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
    if (!rc) rc = zt_store_bind_i64(q, 2, CHANGES_MAX);
    while (next_row(q, &rc)) {
        int64_t x;
        if (!(rc = zt_store_column_i64(q, 0, &x))) rc = zt_array_push(&v, &k, &cap, &x, sizeof x, 1024);
    }
    zt_store_stmt_free(q);
    if (rc) {
        zt_free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/* After a round: the entries it read deleted (runs of consecutive
 * counters as ranges: a counter the round did not read, one committed
 * late by a longer transaction, stays for the next), and the tables it
 * read whole marked complete. */
struct log_done {
    const char *pub;
    const int64_t *v;
    size_t n;
    const bool *whole;
};

static int log_done_tx(struct zt_store *st, void *ud)
{
    struct log_done *d = ud;
    struct zt_store_stmt *q = NULL;
    int rc = d->n ? zt_store_prepare(st, "DELETE FROM dbsync_changes WHERE pub = ? AND n >= ? AND n <= ?", &q) : 0;
    for (size_t i = 0; i < d->n && !rc;) {
        size_t j = i;
        while (j + 1 < d->n && d->v[j + 1] == d->v[j] + 1) j++;
        zt_store_reset(q);
        rc = zt_store_bind_text(q, 1, d->pub, strlen(d->pub));
        if (!rc) rc = zt_store_bind_i64(q, 2, d->v[i]);
        if (!rc) rc = zt_store_bind_i64(q, 3, d->v[j]);
        if (!rc) rc = run_done(q);
        i = j + 1;
    }
    zt_store_stmt_free(q);
    q = NULL;
    /* our subscription removed meanwhile (an unlog elsewhere, another
     * publisher's expiry): no mark, so the next round reads whole and
     * subscribes again instead of trusting a log nobody writes for us
     * (review8 F4; a removal racing this transaction is a serialization
     * conflict, retried) */
    int64_t subbed = 1;
    bool any_whole = false;
    for (size_t t = 0; t < zt__dbs_n_tables; t++) any_whole |= d->whole[t];
    if (!rc && any_whole) rc = count_pub(st, "SELECT COUNT(*) FROM dbsync_subs WHERE pub = ?", d->pub, &subbed);
    if (!rc && subbed == 0) return 0;
    if (!rc) rc = zt_store_prepare(st, SQL_MARK_UPSERT, &q);
    for (size_t t = 0; t < zt__dbs_n_tables && !rc; t++) {
        if (!d->whole[t]) continue;
        char k[96];
        snprintf(k, sizeof k, "log:%s", zt__dbs_tables[t].name);
        zt_store_reset(q);
        rc = zt_store_bind_text(q, 1, d->pub, strlen(d->pub));
        if (!rc) rc = zt_store_bind_text(q, 2, k, strlen(k));
        if (!rc) rc = zt_store_bind_i64(q, 3, 1);
        if (!rc) rc = run_done(q);
    }
    zt_store_stmt_free(q);
    return rc;
}

/* ---- the ledger version (src/ledger/ledger.c, schema step 3) --------------------------- */

/* The ledger's version *v and the one a rebuild restored (*restored; -1:
 * never restored), and whether the ledger awaits its rebuild (*awaiting:
 * zt_ledger_clear stored -1 in restored, a value no version takes, NULL
 * being never restored; *restored is -1 then too). ZT_ENOTFOUND when the
 * ledger has no version (not migrated to it, or no ledger in this store). */
static int lver_get(struct zt_store *st, int64_t *v, int64_t *restored, bool *awaiting)
{
    *awaiting = false;
    int ver = 0;
    if (zt_store_owner_version(st, "ledger", &ver) != 0 || ver < 3) return ZT_ENOTFOUND;
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st, "SELECT v, restored FROM ledger_version WHERE id = 1", &q);
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) {
        rc = zt_store_column_i64(q, 0, v);
        if (!rc) {
            rc = zt_store_column_i64(q, 1, restored);
            if (!rc && *restored < 0) *awaiting = true, *restored = -1;
            if (rc == ZT_ENOTFOUND) rc = 0, *restored = -1;
        }
    } else {
        rc = rc == ZT_STORE_DONE ? ZT_EIO : rc < 0 ? rc : ZT_EIO; /* the row is made with the table */
    }
    zt_store_stmt_free(q);
    return rc;
}

/* ---- making segments ----------------------------------------------------------------- */

struct pend {
    const char *tbl;
    const char *key; /* borrowed from a cand or a tomb */
    uint8_t h[ROW_HASH];
    bool del;        /* a tombstone: its published image goes */
};

struct seal {
    struct zt_dbsync *s;
    const uint8_t *data;
    size_t len;
    uint64_t seq;
    uint32_t n_rows;
    int64_t created;
    uint64_t lver;
    unsigned flags;
    const uint8_t *sha;
    const struct pend *pend;
    size_t n_pend;
};

static const char SQL_ROW_UPSERT[] = "INSERT INTO dbsync_rows(pub, tbl, k, h) VALUES(?, ?, ?, ?)"
                                     " ON CONFLICT(pub, tbl, k) DO UPDATE SET h = excluded.h";
static const char SQL_SEG_INS[] = "INSERT INTO dbsync_segments(pub, seq, sha, data, n_rows, created, published, lver, flags)"
                                  " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* pub NULL: the audit's table (no pub column) */
static int put_row_hash(struct zt_store_stmt *q, const char *pub, const char *tbl, const char *key,
                        const uint8_t h[ROW_HASH])
{
    zt_store_reset(q);
    int i = 1, rc = pub ? zt_store_bind_text(q, i++, pub, strlen(pub)) : 0;
    if (!rc) rc = zt_store_bind_text(q, i++, tbl, strlen(tbl));
    if (!rc) rc = zt_store_bind_text(q, i++, key, strlen(key));
    if (!rc) rc = zt_store_bind_blob(q, i, h, ROW_HASH);
    return rc ? rc : run_done(q);
}

static const char SQL_ROW_DEL[] = "DELETE FROM dbsync_rows WHERE pub = ? AND tbl = ? AND k = ?";

/* The published image of (tbl, key) gone (pub NULL: the audit's table, q
 * its own statement). */
static int del_row_hash(struct zt_store_stmt *q, const char *pub, const char *tbl, const char *key)
{
    zt_store_reset(q);
    int i = 1, rc = pub ? zt_store_bind_text(q, i++, pub, strlen(pub)) : 0;
    if (!rc) rc = zt_store_bind_text(q, i++, tbl, strlen(tbl));
    if (!rc) rc = zt_store_bind_text(q, i, key, strlen(key));
    return rc ? rc : run_done(q);
}

static int put_segment(struct zt_store *st, const char *pub, uint64_t seq, const uint8_t sha[32], const uint8_t *data,
                       size_t len, uint32_t n_rows, int64_t created, bool published, uint64_t lver, unsigned flags)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st, SQL_SEG_INS, &q);
    if (!rc) rc = zt_store_bind_text(q, 1, pub, strlen(pub));
    if (!rc) rc = zt_store_bind_i64(q, 2, (int64_t)seq);
    if (!rc) rc = zt_store_bind_blob(q, 3, sha, 32);
    if (!rc) rc = published ? zt_store_bind_null(q, 4) : zt_store_bind_blob(q, 4, data, len);
    if (!rc) rc = zt_store_bind_i64(q, 5, n_rows);
    if (!rc) rc = zt_store_bind_i64(q, 6, created);
    if (!rc) rc = zt_store_bind_i64(q, 7, published ? 1 : 0);
    if (!rc) rc = zt_store_bind_i64(q, 8, (int64_t)lver);
    if (!rc) rc = zt_store_bind_i64(q, 9, (int64_t)flags);
    if (!rc) rc = run_done(q);
    zt_store_stmt_free(q);
    return rc;
}

static int seal_tx(struct zt_store *st, void *ud)
{
    struct seal *x = ud;
    int rc = put_segment(st, x->s->pub, x->seq, x->sha, x->data, x->len, x->n_rows, x->created, false, x->lver,
                         x->flags);
    struct zt_store_stmt *q = NULL;
    struct zt_store_stmt *dq = NULL;
    if (!rc) rc = zt_store_prepare(st, SQL_ROW_UPSERT, &q);
    if (!rc) rc = zt_store_prepare(st, SQL_ROW_DEL, &dq);
    for (size_t i = 0; i < x->n_pend && !rc; i++)
        rc = x->pend[i].del ? del_row_hash(dq, x->s->pub, x->pend[i].tbl, x->pend[i].key)
                            : put_row_hash(q, x->s->pub, x->pend[i].tbl, x->pend[i].key, x->pend[i].h);
    zt_store_stmt_free(dq);
    zt_store_stmt_free(q);
    return rc;
}

/* Sign body as the next segment, of ledger version lver and flags
 * (ZT_DBSYNC_F_*), and record it (with its rows' hashes). */
static int seal(struct zt_dbsync *s, struct zt_buf *body, uint32_t n_rows, struct pend *pend, size_t n_pend,
                uint64_t lver, unsigned flags)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t now = zt_time_real_ms() / 1000;
    int rc = zt_dbsync_segment_encode(s->o.id, s->seq + 1, now, s->last, (const char *)body->data, body->len, n_rows,
                                      lver, flags, &data, &len);
    if (rc) return rc;
    uint8_t sha[32];
    zt_sha256(sha, data, len);
    struct seal x = {.s = s, .data = data, .len = len, .seq = s->seq + 1, .n_rows = n_rows, .created = now,
                     .lver = lver, .flags = flags, .sha = sha, .pend = pend, .n_pend = n_pend};
    rc = zt_store_tx(s->o.st, seal_tx, &x);
    zt_free(data);
    if (rc) return rc;
    s->seq++;
    memcpy(s->last, sha, 32);
    s->lver = lver;
    s->flags = flags;
    s->made++;
    char hex[65];
    zt_hex_encode(hex, sha, 32);
    zt_log(ZT_LOG_INFO, "dbsync_segment", "seq=%llu rows=%u bytes=%zu sha256=%s ledger_version=%llu deletes=%s",
           (unsigned long long)s->seq, n_rows, len, hex, (unsigned long long)lver,
           flags & ZT_DBSYNC_F_DELS ? "all" : "partial");
    return 0;
}

/* A round's lines so far: the segment being filled (body, its pend[n]). */
struct round {
    struct zt_dbsync *s;
    struct zt_buf *body;
    struct pend *pend;
    uint32_t n;
    unsigned segs;
    unsigned flags; /* of a part sealed in the middle of the round */
};

/* One line (a row whose image is h, or a tombstone) into the round: a
 * full segment is sealed first, as a part of the round (only the last
 * one is the new version). */
static int round_add(struct round *rd, const char *tbl, const char *key, const char *line, size_t len,
                     const uint8_t *h, bool del)
{
    int rc = 0;
    if (rd->n == ZT_DBSYNC_ROWS_MAX || rd->body->len + len > ZT_DBSYNC_BODY_MAX) {
        rc = seal(rd->s, rd->body, rd->n, rd->pend, rd->n, rd->s->lver, rd->flags);
        rd->segs += rc == 0;
        zt_buf_reset(rd->body);
        rd->n = 0;
    }
    if (!rc) rc = zt_buf_append(rd->body, line, len);
    if (!rc) {
        struct pend *p = &rd->pend[rd->n++];
        p->tbl = tbl;
        p->key = key;
        p->del = del;
        if (h) memcpy(p->h, h, ROW_HASH);
        else memset(p->h, 0, ROW_HASH);
    }
    return rc;
}

/* A round's tombstones: table index, key text, line (with '\n'). */
struct tomb {
    size_t ti;
    char *key, *line;
    size_t len;
};

struct tombs {
    struct tomb *v;
    size_t n, cap;
};

static void tombs_free(struct tombs *t)
{
    for (size_t i = 0; i < t->n; i++) {
        zt_free(t->v[i].key);
        zt_free(t->v[i].line);
    }
    zt_free(t->v);
    memset(t, 0, sizeof *t);
}

/* The number of t's change-log entries of ours up to top of kind del
 * (dbsync step 6) in *n. */
static int count_log(struct zt_dbsync *s, const struct zt__dbs_table *t, int64_t top, int del, int64_t *n)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(s->o.st, "SELECT COUNT(*) FROM dbsync_changes WHERE pub = ? AND tbl = ? AND n <= ? AND del > 0 AND del = ?",
                              &q);
    if (!rc) rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
    if (!rc) rc = zt_store_bind_text(q, 2, t->name, strlen(t->name));
    if (!rc) rc = zt_store_bind_i64(q, 3, top);
    if (!rc) rc = zt_store_bind_i64(q, 4, del);
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) rc = zt_store_column_i64(q, 0, n);
    else if (rc == ZT_STORE_DONE) rc = ZT_EIO;
    zt_store_stmt_free(q);
    return rc;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* v (a row's JSON value of column c) bound to parameter i of q. */
static int bind_json(struct zt_store_stmt *q, int i, const struct zt__dbs_col *c, json_t *v)
{
    if (json_is_null(v)) return zt_store_bind_null(q, i);
    if (c->type == ZT__DBS_INT) return zt_store_bind_i64(q, i, (int64_t)json_integer_value(v));
    if (c->type == ZT__DBS_TEXT) return zt_store_bind_text(q, i, json_string_value(v), json_string_length(v));
    size_t n = json_string_length(v) / 2;
    uint8_t *b = zt_malloc(n ? n : 1);
    int rc = b ? zt_hex_decode_str(b, n, json_string_value(v), ZT_HEX_LOWER) : ZT_ENOMEM;
    if (!rc) rc = zt_store_bind_blob(q, i, b, n);
    zt_free(b);
    return rc;
}

/* The query of key_exists for t: its rows of one key, whoever owns them. */
static int key_exists_prepare(struct zt_dbsync *s, const struct zt__dbs_table *t, struct zt_store_stmt **q)
{
    struct zt_buf eb;
    zt_buf_init(&eb, SQL_MAX);
    int rc = zt_buf_appendf(&eb, "SELECT 1 FROM %s WHERE ", t->name);
    for (size_t i = 0; i < t->n_key && !rc; i++) rc = zt_buf_appendf(&eb, "%s%s = ?", i ? " AND " : "", t->cols[i].name);
    if (!rc) rc = zt_store_prepare(s->o.st, eb.data, q);
    zt_buf_deinit(&eb);
    return rc;
}

/* Whether t has a row of key ka (a JSON array of its key's values),
 * whoever owns it: q from key_exists_prepare (find_tombs, the audit). */
static int key_exists(struct zt_store_stmt *q, const struct zt__dbs_table *t, json_t *ka, bool *yes)
{
    zt_store_reset(q);
    int rc = 0;
    for (size_t i = 0; i < t->n_key && !rc; i++) rc = bind_json(q, (int)i + 1, &t->cols[i], json_array_get(ka, i));
    if (!rc) rc = zt_store_step(q);
    *yes = rc == ZT_STORE_ROW;
    rc = rc == ZT_STORE_ROW || rc == ZT_STORE_DONE ? 0 : rc < 0 ? rc : ZT_EIO;
    zt_store_reset(q);
    return rc;
}

/* The tombstone of published key k (JSON text) of table ti, unless the
 * round read a row of that key (keys: sorted, nk of them), or (exists:
 * an own_jobs table's) the table still has a row of that key: a job that
 * moved to another orchestrator (sched.c SQL_TAKE, SQL_ADOPT) left our
 * rows but was not deleted (review10 F3). */
static int tomb_add(struct tombs *tombs, size_t ti, const char *k, size_t kl, const char **keys, size_t nk,
                    struct zt_store_stmt *exists)
{
    char *key = zt_strndup(k, kl);
    if (!key) return ZT_ENOMEM;
    if (nk && bsearch(&key, keys, nk, sizeof *keys, key_cmp)) {
        zt_free(key);
        return 0;
    }
    int rc = ZT_EIO; /* a published key that is not a JSON array of the key's values */
    const struct zt__dbs_table *t = &zt__dbs_tables[ti];
    json_t *ka = json_loadb(k, kl, 0, NULL), *a = json_array();
    bool moved = false;
    int x = exists && json_is_array(ka) && json_array_size(ka) == t->n_key ? key_exists(exists, t, ka, &moved) : 0;
    if (x || moved) {
        json_decref(a);
        json_decref(ka);
        zt_free(key);
        return x;
    }
    char name[80];
    snprintf(name, sizeof name, "%c%s", ZT__DBS_TOMB, t->name);
    if (!a || json_array_append_new(a, json_string(name))) rc = ZT_ENOMEM;
    else if (json_is_array(ka) && json_array_size(ka) == t->n_key && !json_array_extend(a, ka)) rc = 0;
    struct tomb tm = {.ti = ti, .key = key};
    if (!rc && !(tm.line = dump(a, &tm.len, true))) rc = ZT_ENOMEM;
    if (!rc) rc = zt_array_push(&tombs->v, &tombs->n, &tombs->cap, &tm, sizeof tm, 64);
    if (rc) {
        zt_free(tm.line);
        zt_free(key);
    }
    json_decref(a);
    json_decref(ka);
    return rc;
}

/* The tombstones of table ti this round: the published rows it no longer
 * has among those the round looked at: every published row of the table
 * when it was read whole (all_rows), else those whose key's first column
 * a delete entry (del 1) up to top names. got: the rows the round read. */
static int find_tombs(struct zt_dbsync *s, size_t ti, bool all_rows, int64_t top, const struct cands *got,
                      struct tombs *tombs)
{
    const struct zt__dbs_table *t = &zt__dbs_tables[ti];
    const char **keys = got->n ? zt_calloc(got->n, sizeof *keys) : NULL;
    if (got->n && !keys) return ZT_ENOMEM;
    for (size_t i = 0; i < got->n; i++) keys[i] = got->v[i].key;
    if (got->n) qsort(keys, got->n, sizeof *keys, key_cmp);
    char sql[256];
    /* the first columns of the deleted rows (a few: collected before the
     * published keys are looked up) */
    json_t *firsts = json_array();
    int rc = firsts ? 0 : ZT_ENOMEM;
    struct zt_store_stmt *q = NULL;
    if (!rc && !all_rows) {
        snprintf(sql, sizeof sql, "SELECT DISTINCT %s FROM dbsync_changes WHERE pub = ? AND tbl = ? AND n <= ? AND del > 0 AND del = 1",
                 log_col(t));
        rc = zt_store_prepare(s->o.st, sql, &q);
        if (!rc) rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
        if (!rc) rc = zt_store_bind_text(q, 2, t->name, strlen(t->name));
        if (!rc) rc = zt_store_bind_i64(q, 3, top);
        while (next_row(q, &rc)) {
            json_t *v = col_json(q, &t->cols[0], 0);
            if (!v) rc = ZT_ENOMEM;
            else if (json_is_null(v)) json_decref(v);
            else if (json_array_append_new(firsts, v)) rc = ZT_ENOMEM;
        }
        zt_store_stmt_free(q);
        q = NULL;
    }
    /* the published keys: all of the table's, or those of each first
     * column (the whole key when it has one column, else its prefix) */
    size_t nf = all_rows ? 1 : json_array_size(firsts);
    /* own_jobs: the round read our rows only; a key is deleted only when
     * no row of it is left, whoever's (tomb_add) */
    struct zt_store_stmt *ex = NULL;
    if (!rc && nf && t->own_jobs) rc = key_exists_prepare(s, t, &ex);
    if (!rc && nf)
        rc = zt_store_prepare(s->o.st,
                              all_rows       ? "SELECT k FROM dbsync_rows WHERE pub = ? AND tbl = ?"
                              : t->n_key == 1 ? "SELECT k FROM dbsync_rows WHERE pub = ? AND tbl = ? AND k = ?"
                                              : "SELECT k FROM dbsync_rows WHERE pub = ? AND tbl = ? AND substr(k, 1, ?) = ?",
                              &q);
    for (size_t f = 0; f < nf && !rc; f++) {
        zt_store_reset(q);
        rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
        if (!rc) rc = zt_store_bind_text(q, 2, t->name, strlen(t->name));
        char *pre = NULL;
        size_t pl = 0;
        if (!rc && !all_rows) {
            json_t *one = json_pack("[O]", json_array_get(firsts, f));
            pre = one ? dump(one, &pl, false) : NULL;
            json_decref(one);
            if (!pre) rc = ZT_ENOMEM;
            if (!rc && t->n_key > 1) pre[pl - 1] = ','; /* "[7," for the keys [7, ...] */
        }
        if (!rc && !all_rows && t->n_key == 1) rc = zt_store_bind_text(q, 3, pre, pl);
        if (!rc && !all_rows && t->n_key > 1) rc = zt_store_bind_i64(q, 3, (int64_t)pl);
        if (!rc && !all_rows && t->n_key > 1) rc = zt_store_bind_text(q, 4, pre, pl);
        while (next_row(q, &rc)) {
            const char *k;
            size_t kl;
            rc = zt_store_column_text(q, 0, &k, &kl);
            if (!rc) rc = tomb_add(tombs, ti, k, kl, keys, got->n, ex);
        }
        zt_free(pre);
    }
    zt_store_stmt_free(ex);
    zt_store_stmt_free(q);
    json_decref(firsts);
    zt_free(keys);
    return rc;
}

/* A test's hook between a round's read of the ledger version and of the
 * change log (NULL in the product; dbsync_int.h). */
void (*zt__dbs_round_hook)(void *ud);
void *zt__dbs_round_hook_ud;

/* What a round reads, in one read transaction (zt_store_read_tx): the
 * ledger version, the change log, and the rows of each table that is read
 * whole or that the log names (a retry starts again from nothing). */
struct round_read {
    struct zt_dbsync *s;
    const bool *whole;
    struct cands *all;
    bool *all_rows; /* per table: read whole (its log incomplete, or truncated since) */
    struct tombs *tombs; /* the published rows the snapshot no longer has */
    int64_t lver, *log;
    size_t n_log;
    bool awaiting; /* the ledger awaits its rebuild: its tables not read */
};

static int round_read_tx(struct zt_store *st, void *ud)
{
    (void)st;
    struct round_read *r = ud;
    struct zt_dbsync *s = r->s;
    for (size_t t = 0; t < zt__dbs_n_tables; t++) cands_free(&r->all[t]);
    zt_free(r->log);
    r->log = NULL, r->n_log = 0, r->lver = 0;
    memset(r->all_rows, 0, zt__dbs_n_tables * sizeof *r->all_rows);
    tombs_free(r->tombs);
    int64_t restored;
    r->awaiting = false;
    int rc = lver_get(s->o.st, &r->lver, &restored, &r->awaiting);
    if (rc == ZT_ENOTFOUND) rc = 0, r->lver = 0;
    if (!rc && zt__dbs_round_hook) zt__dbs_round_hook(zt__dbs_round_hook_ud);
    /* a ledger awaiting its rebuild (zt_ledger_clear, review10 F1): none of
     * its tables is published (no row, no tombstone: the clear's deletes
     * would empty the ledger of every chain they reached), and their log
     * entries stay. After the rebuild a later round reads them: a row the
     * replay restored as it was published hashes the same and a key it
     * has again gets no tombstone, so only real differences go out (the
     * replay logs its own writes too, for every other publisher) */
    if (!rc) rc = log_read(s, r->awaiting, &r->log, &r->n_log);
    for (size_t t = 0; t < zt__dbs_n_tables && !rc; t++) {
        if (!s->logged[t] || (!r->whole[t] && !r->n_log)) continue; /* absent, or nothing changed */
        if (r->awaiting && !zt__dbs_tables[t].own_jobs) continue;
        /* a table truncated (PostgreSQL) is read whole: every published
         * row it no longer has gets a tombstone */
        int64_t top = r->n_log ? r->log[r->n_log - 1] : -1, truncs = 0;
        if (!r->whole[t]) rc = count_log(s, &zt__dbs_tables[t], top, 2, &truncs);
        r->all_rows[t] = r->whole[t] || truncs > 0;
        if (!rc) rc = read_rows(s, &zt__dbs_tables[t], r->all_rows[t] ? -1 : top, &r->all[t]);
        if (!rc) rc = find_tombs(s, t, r->all_rows[t], top, &r->all[t], r->tombs);
    }
    return rc;
}

/* Every table's changed rows into segments (under mu): the rows the
 * change log names, or every row of a table whose log is not complete
 * yet (its triggers new); those whose image hashes differently from the
 * one published go out. */
static int make_segments(struct zt_dbsync *s, unsigned *made)
{
    struct zt_buf body;
    zt_buf_init(&body, ZT_DBSYNC_BODY_MAX);
    struct pend *pend = zt_calloc(ZT_DBSYNC_ROWS_MAX, sizeof *pend);
    struct cands *all = zt_calloc(zt__dbs_n_tables, sizeof *all);
    bool whole[ZT__DBS_MAX_TABLES] = {false};
    int64_t *log = NULL;
    size_t n_log = 0;
    struct zt_store_stmt *q = NULL;
    struct tombs tombs = {0};
    uint32_t n = 0;
    unsigned segs = 0;
    int rc = pend && all ? 0 : ZT_ENOMEM;
    bool mark[ZT__DBS_MAX_TABLES] = {false}, subscribed = false, present[ZT__DBS_MAX_TABLES] = {false};
    if (!rc) rc = subs_round(s);
    /* waiting for the fence and our subscription gone meanwhile
     * (zt_dbsync_unlog elsewhere): subscribed again below, a new fence */
    if (!rc && s->fence_pending) {
        int64_t subs = 0;
        rc = count_pub(s->o.st, "SELECT COUNT(*) FROM dbsync_subs WHERE pub = ?", s->pub, &subs);
        if (!rc && !subs) s->fence_pending = false;
    }
    /* triggers first, then the log, then the rows: every change an entry
     * read names is committed before its row is read */
    for (size_t t = 0; t < zt__dbs_n_tables && !rc; t++) {
        if (!table_present(s->o.st, &zt__dbs_tables[t])) continue;
        present[t] = true;
        bool complete = false;
        rc = log_complete(s, &zt__dbs_tables[t], &complete);
        whole[t] = !complete;
        /* no mark: the triggers may be gone too (zt_dbsync_unlog in another
         * process, or ours while blocked): made again (review F4); not while
         * the fence of our subscription is pending (no mark yet is why) */
        if (!rc && whole[t] && !s->fence_pending) s->logged[t] = false;
        bool was = s->logged[t];
        if (!rc) rc = log_triggers(s, t);
        subscribed = subscribed || (!rc && !was);
    }
    /* the fence: a whole read counts (its log mark set) only once every
     * transaction older than our subscription has ended (review7 F15) */
    if (!rc && subscribed) rc = fence_set(s);
    if (!rc) rc = fence_check(s);
    for (size_t t = 0; t < zt__dbs_n_tables; t++) mark[t] = whole[t] && !s->fence_pending;
    /* the ledger version, the log and the rows in one snapshot (review9
     * F5): the rows read are exactly the ledger at that version (a change
     * committed meanwhile is in none of the three: the next round's) */
    bool all_rows_v[ZT__DBS_MAX_TABLES] = {false};
    struct round_read rr = {.s = s, .whole = whole, .all = all, .all_rows = all_rows_v, .tombs = &tombs};
    if (!rc) rc = zt_store_read_tx(s->o.st, round_read_tx, &rr);
    /* a ledger awaiting its rebuild: the segment carries the chain's ledger
     * as it was (the last segment's version), and a ledger table read
     * whole is not marked complete (it was not read) */
    int64_t lver = rr.awaiting ? (int64_t)s->lver : rr.lver;
    for (size_t t = 0; t < zt__dbs_n_tables && rr.awaiting; t++)
        if (!zt__dbs_tables[t].own_jobs) mark[t] = false;
    log = rr.log, n_log = rr.n_log;
    /* whether the chain carries every delete (review10 F10): before this
     * round, when every table's change log was complete already; after
     * it, when each table read whole is marked complete by it (the round
     * sent a tombstone for each published row gone). Parts sealed in the
     * middle of the round carry the first only when the round has no
     * tombstone (they come after every row, so a part never holds them
     * all: review11 F8), its last segment the second; the rebuild's tie
     * check trusts the head's flag, not its format */
    bool before = true, after = true;
    for (size_t t = 0; t < zt__dbs_n_tables; t++) {
        if (!present[t] || !whole[t]) continue;
        before = false;
        after = after && mark[t];
    }
    if (!rc) rc = zt_store_prepare(s->o.st, "SELECT h FROM dbsync_rows WHERE pub = ? AND tbl = ? AND k = ?", &q);
    struct round rd = {.s = s, .body = &body, .pend = pend, .flags = before && !tombs.n ? ZT_DBSYNC_F_DELS : 0};
    for (size_t t = 0; t < zt__dbs_n_tables && !rc; t++) {
        const struct zt__dbs_table *tb = &zt__dbs_tables[t];
        if (!s->logged[t] || (!whole[t] && !n_log)) continue; /* absent, or nothing changed */
        for (size_t i = 0; i < all[t].n && !rc; i++) {
            struct cand *c = &all[t].v[i];
            uint8_t h[ROW_HASH];
            int r = published_hash(q, s->pub, tb->name, c->key, h);
            if (r == 0 && memcmp(h, c->h, ROW_HASH) == 0) continue;
            if (r && r != ZT_ENOTFOUND) {
                rc = r;
                break;
            }
            if (r == 0 && tb->append_only) { /* a published row of an append-only table never changes */
                zt_log_rl(ZT_LOG_ERROR, 1, "dbsync_row_changed",
                          "table=%s detail=\"a published row changed in the store: not published again "
                          "(zentalk mesh audit names it)\"",
                          tb->name);
                continue;
            }
            rc = round_add(&rd, tb->name, c->key, c->pub ? c->pub : c->line, c->pub ? c->pub_len : c->len, c->h, false);
        }
    }
    /* the tombstones after every row, children's tables first (the
     * reverse of the replay order: a row is deleted before what it
     * references); one key is never both a row and a tombstone in a round */
    for (size_t i = tombs.n; i-- > 0 && !rc;) {
        const struct tomb *tm = &tombs.v[i];
        rc = round_add(&rd, zt__dbs_tables[tm->ti].name, tm->key, tm->line, tm->len, NULL, true);
    }
    n = rd.n;
    segs = rd.segs;
    /* nothing to send, but the chain's head does not say yet that it
     * carries every delete: an empty segment says it */
    bool mark_only = !n && after && s->seq && !(s->flags & ZT_DBSYNC_F_DELS);
    if (!rc && (n || mark_only)) {
        rc = seal(s, &body, n, pend, n, (uint64_t)lver, after ? ZT_DBSYNC_F_DELS : 0);
        segs += rc == 0;
    }
    zt_store_stmt_free(q);
    /* the entries read go only once everything they named is sealed */
    struct log_done d = {.pub = s->pub, .v = log, .n = n_log, .whole = mark};
    if (!rc && (n_log || memchr(mark, true, sizeof mark))) rc = zt_store_tx(s->o.st, log_done_tx, &d);
    for (size_t t = 0; all && t < zt__dbs_n_tables; t++) cands_free(&all[t]);
    tombs_free(&tombs);
    zt_free(all);
    zt_free(log);
    zt_free(pend);
    zt_buf_deinit(&body);
    if (made) *made = segs;
    return rc;
}

/* ---- into the mesh and the DHT --------------------------------------------------------- */

static void seg_name(const struct zt_dbsync *s, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "dbsync-%.12s-%llu.seg", zt_identity_id(s->o.id) + 3, (unsigned long long)seq);
}

static int write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return ZT_EIO;
    int rc = zt_fd_write_full(fd, p, n);
    if (close(fd) != 0 && !rc) rc = ZT_EIO;
    return rc;
}

/* Every segment not yet in the mesh: added (pinned, rf holders asked), its bytes dropped from the store. */
static int push_segments(struct zt_dbsync *s)
{
    struct zt_store_stmt *q = NULL, *u = NULL;
    int rc = zt_store_prepare(
        s->o.st, "SELECT seq, data, sha FROM dbsync_segments WHERE pub = ? AND published = 0 ORDER BY seq", &q);
    if (!rc) rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
    if (!rc)
        rc = zt_store_prepare(s->o.st, "UPDATE dbsync_segments SET published = 1, data = NULL WHERE pub = ? AND seq = ?",
                              &u);
    /* one at a time: the statement is re-run after each update */
    while (next_row(q, &rc)) {
        int64_t seq = 0;
        const void *p = NULL, *segsha = NULL;
        size_t n = 0, shalen = 0;
        uint8_t pushed[32];
        rc = zt_store_column_i64(q, 0, &seq);
        if (!rc) rc = zt_store_column_blob(q, 1, &p, &n);
        if (!rc) rc = zt_store_column_blob(q, 2, &segsha, &shalen);
        if (!rc && shalen != 32) rc = ZT_EIO;
        if (!rc) memcpy(pushed, segsha, 32);
        char name[96], path[4300], sha[65];
        seg_name(s, (uint64_t)seq, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", s->tmp_dir, name);
        if (!rc) rc = write_file(path, p, n);
        zt_store_reset(q); /* p is gone, and so is the binding: bound again for the next run */
        if (!rc) rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
        if (!rc) rc = zt_mesh_add_file(s->o.mesh, path, name, s->o.rf, sha);
        unlink(path);
        if (!rc) rc = zt_store_bind_text(u, 1, s->pub, strlen(s->pub));
        if (!rc) rc = zt_store_bind_i64(u, 2, seq);
        if (!rc) rc = run_done(u);
        if (!rc) { /* in the mesh: the head may name it now */
            s->head_seq = (uint64_t)seq;
            memcpy(s->head_sha, pushed, 32);
        }
    }
    zt_store_stmt_free(q);
    zt_store_stmt_free(u);
    return rc;
}

/* The head record names the last segment pushed into the mesh (never one
 * only made here: nobody would serve it to a peer walking the chain). */
static void put_head(struct zt_dbsync *s, int64_t now)
{
    if (!s->dht || !s->head_seq) return;
    struct zt_dbsync_head h = {.seq = s->head_seq, .exp = now + s->o.head_ttl_s};
    memcpy(h.sha256, s->head_sha, 32);
    char *rec = NULL;
    int rc = zt_dbsync_head_sign(s->o.id, &h, &rec);
    if (!rc) rc = zt_dht_put_value(s->dht, "dbsync", zt_identity_id(s->o.id), rec, strlen(rec));
    zt_free(rec);
    if (rc) zt_log_rl(ZT_LOG_WARN, 1, "dbsync_head_failed", "error=%s", zt_strerror(rc));
}

void zt__dbs_heads_add(struct zt__dbs_heads *hs, const struct zt_dbsync_head *h)
{
    size_t at = 0;
    for (; at < hs->n && hs->h[at].seq >= h->seq; at++)
        if (hs->h[at].seq == h->seq && memcmp(hs->h[at].sha256, h->sha256, 32) == 0) {
            if (h->exp > hs->h[at].exp) hs->h[at].exp = h->exp; /* the same head renewed */
            return;
        }
    if (at == ZT__DBS_HEADS_MAX) return; /* older than every head kept */
    size_t n = hs->n < ZT__DBS_HEADS_MAX ? hs->n : ZT__DBS_HEADS_MAX - 1;
    memmove(&hs->h[at + 1], &hs->h[at], (n - at) * sizeof hs->h[0]);
    hs->h[at] = *h;
    hs->n = n + 1;
}

struct head_find {
    const uint8_t *pk;
    int64_t now;
    struct zt__dbs_heads *hs;
};

static bool on_head(void *ud, const void *data, size_t len)
{
    struct head_find *f = ud;
    struct zt_dbsync_head h;
    if (zt_dbsync_head_verify(data, len, f->now, &h) != 0 || memcmp(h.ed25519_pk, f->pk, 32) != 0) return true;
    zt__dbs_heads_add(f->hs, &h);
    return true;
}

int zt__dbs_collect_heads(zt__dbs_get_fn get, void *get_ud, const uint8_t pk[static 32], int64_t now_s,
                          unsigned settle_ms, uint64_t enough, unsigned timeout_ms, struct zt__dbs_heads *out)
{
    memset(out, 0, sizeof *out);
    struct head_find f = {.pk = pk, .now = now_s, .hs = out};
    uint64_t t0 = zt_time_mono_ms(), first = 0;
    for (;;) {
        int rc = get(get_ud, on_head, &f);
        if (rc) return rc;
        uint64_t now = zt_time_mono_ms();
        if (out->n && !first) first = now;
        if (first && (now >= first + settle_ms || (enough && out->h[0].seq >= enough))) return 0;
        if (!first && now >= t0 + timeout_ms) return ZT_ENOTFOUND;
        zt_time_sleep_ms(250);
    }
}

/* One round of the DHT for our heads (zt__dbs_get_fn). */
struct dht_get {
    struct zt_dht *dht;
    const char *id;
};

static int dht_get(void *ud, bool (*fn)(void *ud, const void *data, size_t len), void *fn_ud)
{
    const struct dht_get *g = ud;
    if (!g->dht) return ZT_ENOTFOUND;
    return zt_dht_get_values(g->dht, "dbsync", g->id, 2000, fn, fn_ud);
}

/* Our heads in the DHT, newest first: collected for settle_ms after the
 * first (or until one of seq >= enough), up to timeout_ms for one to come. */
#define HEAD_SETTLE_MS 3000u
static int find_heads(struct zt_dbsync *s, struct zt_dht *dht, unsigned settle_ms, uint64_t enough,
                      unsigned timeout_ms, struct zt__dbs_heads *out)
{
    if (!dht) return ZT_ENOTFOUND;
    struct dht_get g = {.dht = dht, .id = zt_identity_id(s->o.id)};
    return zt__dbs_collect_heads(dht_get, &g, zt_identity_sign_pk(s->o.id), zt_time_real_ms() / 1000, settle_ms,
                                 enough, timeout_ms, out);
}

int zt_dbsync_publish(struct zt_dbsync *s, unsigned *made)
{
    if (!s) return ZT_EINVAL;
    pthread_mutex_lock(&s->mu);
    unsigned m = 0;
    uint64_t head0 = s->head_seq;
    int rc = s->blocked ? ZT_EEXIST : make_segments(s, &m);
    if (!rc) rc = push_segments(s);
    if (s->head_seq != head0) { /* what was pushed is announced, even if a later push failed */
        put_head(s, zt_time_real_ms() / 1000);
        s->next_head = zt_time_real_ms() / 1000 + (s->o.head_ttl_s / 3 ? s->o.head_ttl_s / 3 : 1);
    }
    pthread_mutex_unlock(&s->mu);
    if (!rc && made) *made = m;
    return rc;
}

static void *dbsync_main(void *arg)
{
    struct zt_dbsync *s = arg;
    pthread_mutex_lock(&s->mu);
    if (!s->seq && s->dht) { /* lost our disk? a chain of ours is out there: never fork it */
        struct zt__dbs_heads *hs = zt_malloc(sizeof *hs);
        pthread_mutex_unlock(&s->mu);
        int rc = hs ? find_heads(s, s->dht, 0, 0, 5000, hs) : ZT_ENOMEM; /* any head at all */
        pthread_mutex_lock(&s->mu);
        if (rc == 0) {
            s->blocked = true;
            zt_log(ZT_LOG_ERROR, "dbsync_blocked",
                   "seq=%llu detail=\"a chain of this node's segments is published and this store has none: "
                   "nothing is published until zentalk-node --rebuild-from-mesh\"",
                   (unsigned long long)hs->h[0].seq);
            /* nothing reads the change log until the rebuild: drop the
             * triggers and the log (writers stop paying, the log stops
             * growing; review F5); the first round after it reads every
             * table whole and makes them again (make_segments) */
            int urc = zt_store_tx(s->o.st, unlog_tx, &s->pub);
            if (urc) zt_log(ZT_LOG_WARN, "dbsync_unlog_failed", "error=%s", zt_strerror(urc));
            else memset(s->logged, 0, sizeof s->logged);
        }
        zt_free(hs);
    }
    int64_t next = zt_time_real_ms() / 1000 + s->o.interval_s;
    while (!s->stop) {
        int64_t now = zt_time_real_ms() / 1000;
        if (now >= next && !s->blocked) {
            next = now + s->o.interval_s;
            pthread_mutex_unlock(&s->mu);
            unsigned made = 0;
            int rc = zt_dbsync_publish(s, &made);
            if (rc) zt_log_rl(ZT_LOG_WARN, 1, "dbsync_publish_failed", "error=%s", zt_strerror(rc));
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (now >= s->next_head && s->head_seq) {
            s->next_head = now + (s->o.head_ttl_s / 3 ? s->o.head_ttl_s / 3 : 1);
            put_head(s, now);
        }
        struct timespec t = zt_time_after_ms(CLOCK_MONOTONIC, 250);
        pthread_cond_timedwait(&s->cv, &s->mu, &t);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* o as compact text in *out (zt_malloc'd); takes o. */
static int json_out(json_t *o, char **out)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return ZT_ENOMEM;
    size_t n = strlen(s);
    char *c = zt_malloc(n + 1);
    if (c) memcpy(c, s, n + 1);
    json_free_t f = NULL;
    json_get_alloc_funcs(NULL, &f);
    (f ? f : free)(s);
    if (!c) return ZT_ENOMEM;
    *out = c;
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static int load_state(struct zt_dbsync *s)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(s->o.st,
                              "SELECT seq, sha, lver, flags FROM dbsync_segments WHERE pub = ? ORDER BY seq DESC LIMIT 1", &q);
    if (!rc) rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) {
        int64_t seq, lver = 0, flags = 0;
        const void *p;
        size_t n;
        rc = zt_store_column_i64(q, 0, &seq);
        if (!rc) rc = zt_store_column_blob(q, 1, &p, &n);
        if (!rc && n != 32) rc = ZT_EIO;
        if (!rc) rc = zt_store_column_i64(q, 2, &lver);
        if (!rc) rc = zt_store_column_i64(q, 3, &flags);
        if (!rc) {
            s->seq = (uint64_t)seq;
            memcpy(s->last, p, 32);
            s->lver = (uint64_t)lver;
            s->flags = (unsigned)flags;
        }
    } else if (rc == ZT_STORE_DONE) {
        rc = 0;
    }
    zt_store_stmt_free(q);
    q = NULL;
    /* the head: the last segment in the mesh (pushed in order: a prefix) */
    s->head_seq = 0;
    if (!rc)
        rc = zt_store_prepare(
            s->o.st, "SELECT seq, sha FROM dbsync_segments WHERE pub = ? AND published = 1 ORDER BY seq DESC LIMIT 1",
            &q);
    if (!rc) rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) {
        int64_t seq;
        const void *p;
        size_t n;
        rc = zt_store_column_i64(q, 0, &seq);
        if (!rc) rc = zt_store_column_blob(q, 1, &p, &n);
        if (!rc && n != 32) rc = ZT_EIO;
        if (!rc) {
            s->head_seq = (uint64_t)seq;
            memcpy(s->head_sha, p, 32);
        }
    } else if (rc == ZT_STORE_DONE) {
        rc = 0;
    }
    zt_store_stmt_free(q);
    return rc;
}

/* Whether what dbsync schema 2 made (a single publisher's, pub "") is
 * ours (review7 F7: on a shared PostgreSQL it is the node's that
 * published it, not whichever opens the store first): its newest segment
 * is signed by our key, read from the store (not yet published) or from
 * our mesh store (where we put it, pinned). *any: a segment is there;
 * *known: its bytes were found (and match its hash), so *ours is proven
 * either way. */
static int v2_ours(struct zt_dbsync *s, bool *any, bool *known, bool *ours)
{
    *any = *known = *ours = false;
    struct zt_store_stmt *q = NULL;
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    int rc = zt_store_prepare(s->o.st, "SELECT seq, sha, data FROM dbsync_segments WHERE pub = '' ORDER BY seq DESC LIMIT 1",
                              &q);
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) {
        *any = true;
        int64_t seq = 0;
        const void *sha = NULL, *data = NULL;
        size_t n_sha = 0, n_data = 0;
        rc = zt_store_column_i64(q, 0, &seq);
        if (!rc) rc = zt_store_column_blob(q, 1, &sha, &n_sha);
        if (!rc && (rc = zt_store_column_blob(q, 2, &data, &n_data)) == ZT_ENOTFOUND) rc = 0; /* NULL: published */
        if (!rc && n_sha == 32) {
            char hex[65];
            zt_hex_encode(hex, sha, 32);
            if (data && n_data) rc = zt_buf_append(&b, data, n_data);
            else if (zt_mesh_read_blob(s->o.mesh, hex, ZT_DBSYNC_SEGMENT_MAX, &b) != 0) zt_buf_reset(&b); /* not held: not provably ours */
            struct zt_dbsync_segment seg;
            uint8_t got[32];
            zt_sha256(got, b.data, b.len);
            *known = !rc && b.len && memcmp(got, sha, 32) == 0;
            *ours = *known && zt_dbsync_segment_decode(b.data, b.len, zt_identity_sign_pk(s->o.id), &seg) == 0 &&
                    seg.seq == (uint64_t)seq;
        }
    } else if (rc == ZT_STORE_DONE) {
        rc = 0;
    }
    zt_store_stmt_free(q);
    zt_buf_deinit(&b);
    return rc;
}

/* What dbsync schema 2 made (a single publisher's, pub "") is ours. */
static int claim_tx(struct zt_store *st, void *ud) /* ud: as unlog_tx's */
{
    const char *pub = *(const char *const *)ud;
    static const char *const sql[] = {
        "UPDATE dbsync_segments SET pub = ? WHERE pub = ''", "UPDATE dbsync_rows SET pub = ? WHERE pub = ''",
        "UPDATE dbsync_marks SET pub = ? WHERE pub = ''", "UPDATE dbsync_changes SET pub = ? WHERE pub = ''"};
    int rc = 0;
    for (size_t i = 0; i < sizeof sql / sizeof sql[0] && !rc; i++) rc = bind_pub_run(st, sql[i], pub);
    return rc;
}

int zt_dbsync_new(const struct zt_dbsync_opts *o, struct zt_dbsync **out)
{
    if (!o || !o->st || !o->mesh || !o->id || !o->tmp_dir || !out) return ZT_EINVAL;
    struct zt_dbsync *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    s->o = *o;
    if (!s->o.interval_s) s->o.interval_s = 60;
    if (!s->o.rf) s->o.rf = 3;
    if (!s->o.head_ttl_s) s->o.head_ttl_s = 600;
    zt_strlcpy(s->tmp_dir, o->tmp_dir, sizeof s->tmp_dir);
    static const char ctx[] = "zentalk dbsync owner key v1";
    crypto_generichash(s->owner_key, sizeof s->owner_key, (const uint8_t *)ctx, sizeof ctx - 1,
                       zt_identity_sign_sk(o->id), 32); /* keyed by the Ed25519 seed */
    s->o.tmp_dir = s->tmp_dir;
    s->pub = zt_identity_id(o->id);
    pthread_mutex_init(&s->mu, NULL);
    zt_cond_init_mono(&s->cv); /* its waits run on CLOCK_MONOTONIC (a REALTIME cv spun: the deadline was always past) */
    int rc = mkdir(s->tmp_dir, 0700) == 0 || errno == EEXIST ? 0 : ZT_EIO;
    if (!rc) rc = zt_store_migrate(s->o.st, &DBSYNC_SCHEMA);
    bool v2 = false, known = false, ours = false;
    if (!rc) rc = v2_ours(s, &v2, &known, &ours);
    /* SQLite: the store is this node's alone, so a chain whose newest
     * segment cannot be read (the mesh directory lost) is still ours;
     * only one proven signed by another key is left (review8 F5) */
    bool own_store = zt_store_dialect(s->o.st) != ZT_STORE_DIALECT_POSTGRES;
    if (!rc && (!v2 || ours || (own_store && !known))) rc = zt_store_tx(s->o.st, claim_tx, &s->pub);
    else if (!rc)
        zt_log(ZT_LOG_WARN, "dbsync_v2_unclaimed",
               "detail=\"the store holds a dbsync schema-2 chain this node's key did not sign (or whose newest segment"
               " is neither in the store nor in this node's mesh store): left for the node that made it; this node"
               " publishes a chain of its own\"");
    if (!rc) rc = load_state(s);
    if (rc) {
        zt_dbsync_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int zt_dbsync_start(struct zt_dbsync *s, struct zt_dht *dht)
{
    if (!s) return ZT_EINVAL;
    pthread_mutex_lock(&s->mu);
    int rc = s->started || s->stop ? ZT_EEXIST : 0;
    if (!rc) {
        s->dht = dht;
        rc = pthread_create(&s->th, NULL, dbsync_main, s) == 0 ? 0 : ZT_ENOMEM;
        s->started = rc == 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void zt_dbsync_stop(struct zt_dbsync *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu); /* waits for an audit or a publication in progress */
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    bool join = s->started;
    s->started = false;
    pthread_mutex_unlock(&s->mu);
    if (join) pthread_join(s->th, NULL);
    pthread_mutex_lock(&s->mu);
    s->dht = NULL;
    pthread_mutex_unlock(&s->mu);
}

void zt_dbsync_free(struct zt_dbsync *s)
{
    if (!s) return;
    zt_dbsync_stop(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    sodium_memzero(s->owner_key, sizeof s->owner_key);
    zt_free(s->fence);
    zt_free(s);
}

int zt_dbsync_status_json(struct zt_dbsync *s, char **out)
{
    if (!s || !out) return ZT_EINVAL;
    pthread_mutex_lock(&s->mu);
    char hex[65];
    zt_hex_encode(hex, s->last, 32);
    json_t *o = json_pack("{s:I,s:s,s:I,s:b,s:I}", "seq", (json_int_t)s->seq, "sha256", s->seq ? hex : "", "made",
                          (json_int_t)s->made, "blocked", s->blocked, "interval_s", (json_int_t)s->o.interval_s);
    pthread_mutex_unlock(&s->mu);
    return json_out(o, out);
}

/* ---- the chain from the mesh --------------------------------------------------------------- */

/* Segment seq, named sha, into buf (pulled first when not held), checked:
 * our signer, its hash, its number. */
static int fetch_segment(struct zt_dbsync *s, const uint8_t sha[32], uint64_t seq, uint64_t until_ms,
                         struct zt_buf *buf, struct zt_dbsync_segment *seg, char *why, size_t why_len)
{
    char hex[65];
    zt_hex_encode(hex, sha, 32);
    int rc = zt_mesh_read_blob(s->o.mesh, hex, ZT_DBSYNC_SEGMENT_MAX, buf);
    if (rc == ZT_ENOTFOUND) {
        uint64_t now = zt_time_mono_ms();
        unsigned left = until_ms > now ? (unsigned)(until_ms - now) : 1;
        char pw[256] = "";
        rc = zt_mesh_pull_wait(s->o.mesh, hex, NULL, false, left, pw, sizeof pw);
        if (rc) {
            snprintf(why, why_len, "segment %llu (sha256:%s) cannot be fetched: %s%s%s", (unsigned long long)seq, hex,
                     zt_strerror(rc), pw[0] ? ": " : "", pw);
            return rc;
        }
        rc = zt_mesh_read_blob(s->o.mesh, hex, ZT_DBSYNC_SEGMENT_MAX, buf);
    }
    if (!rc) rc = zt_dbsync_segment_decode(buf->data, buf->len, zt_identity_sign_pk(s->o.id), seg);
    if (!rc && (memcmp(seg->sha256, sha, 32) != 0 || seg->seq != seq)) rc = ZT_ECRYPTO;
    if (rc) {
        snprintf(why, why_len, "segment %llu (sha256:%s) refused: %s", (unsigned long long)seq, hex, zt_strerror(rc));
        return rc == ZT_EPARSE || rc == ZT_EUNSUPPORTED ? ZT_ECRYPTO : rc;
    }
    return 0;
}

/* A rebuild's copy of segment seq (review8 F13: the chain is fetched
 * and checked once, before the replay's transaction; the replay, and a
 * retry of it, read these copies, never the network). */
static void spool_path(const struct zt_dbsync *s, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s/rebuild-%llu.seg", s->tmp_dir, (unsigned long long)seq);
}

static void spool_clear(const struct zt_dbsync *s, uint64_t n)
{
    char path[4200];
    for (uint64_t seq = 1; seq <= n; seq++) {
        spool_path(s, seq, path, sizeof path);
        unlink(path);
    }
}

/* Segment seq, named sha, from the spool, checked again as fetch_segment checks it. */
static int spooled_segment(struct zt_dbsync *s, const uint8_t sha[32], uint64_t seq, struct zt_buf *buf,
                           struct zt_dbsync_segment *seg, char *why, size_t why_len)
{
    char path[4200];
    spool_path(s, seq, path, sizeof path);
    zt_buf_reset(buf);
    int rc = zt_file_read_buf(path, buf);
    if (!rc) rc = zt_dbsync_segment_decode(buf->data, buf->len, zt_identity_sign_pk(s->o.id), seg);
    if (!rc && (memcmp(seg->sha256, sha, 32) != 0 || seg->seq != seq)) rc = ZT_ECRYPTO;
    if (rc) snprintf(why, why_len, "segment %llu: the copy taken for the rebuild (%s): %s", (unsigned long long)seq, path,
                     zt_strerror(rc));
    return rc;
}

/* The chain's SHA-256s, seq 1..head.seq (shas[seq - 1]), walked back
 * from the head; the head segment's ledger version in *lver (may be
 * NULL); spool: each segment also copied for the replay (spool_path). */
static int walk_chain(struct zt_dbsync *s, const struct zt_dbsync_head *head, uint64_t until_ms, uint8_t (**shas)[32],
                      uint64_t *lver, bool spool, char *why, size_t why_len)
{
    if (head->seq > (1u << 24)) return ZT_ETOOBIG;
    uint8_t(*v)[32] = zt_malloc((size_t)head->seq * 32);
    if (!v) return ZT_ENOMEM;
    struct zt_buf buf;
    zt_buf_init(&buf, ZT_DBSYNC_SEGMENT_MAX);
    uint8_t cur[32];
    memcpy(cur, head->sha256, 32);
    int rc = 0;
    for (uint64_t seq = head->seq; seq >= 1 && !rc; seq--) {
        struct zt_dbsync_segment seg;
        rc = fetch_segment(s, cur, seq, until_ms, &buf, &seg, why, why_len);
        if (rc) break;
        if (spool) {
            char path[4200];
            spool_path(s, seq, path, sizeof path);
            rc = write_file(path, buf.data, buf.len);
            if (rc) {
                snprintf(why, why_len, "segment %llu: a copy for the rebuild (%s): %s", (unsigned long long)seq, path,
                         zt_strerror(rc));
                break;
            }
        }
        if (seq == head->seq && lver) *lver = seg.ledger_version;
        memcpy(v[seq - 1], cur, 32);
        memcpy(cur, seg.prev, 32);
    }
    zt_buf_deinit(&buf);
    if (rc) {
        if (spool) spool_clear(s, head->seq);
        zt_free(v);
        return rc;
    }
    *shas = v;
    return 0;
}

/* Each line of a checked segment body: its table, whether a tombstone
 * (del: a holds the key's values after the name), parsed array and line. */
typedef int (*row_fn)(void *ud, const struct zt__dbs_table *t, bool del, json_t *a, const char *line, size_t len);

static int each_row(const struct zt_dbsync *s, const struct zt_dbsync_segment *seg, row_fn fn, void *ud)
{
    size_t at = 0;
    int rc = 0;
    while (at < seg->body_len && !rc) {
        const uint8_t *nl = memchr(seg->body + at, '\n', seg->body_len - at);
        if (!nl) return ZT_EPARSE;
        size_t ll = (size_t)(nl - (seg->body + at));
        const char *line = (const char *)seg->body + at;
        json_t *a = json_loadb(line, ll, 0, NULL);
        bool del = false;
        const struct zt__dbs_table *t = a ? zt__dbs_line_table(a, seg->version >= 3, &del) : NULL;
        rc = t ? 0 : ZT_EPARSE;
        char *clear = NULL;
        size_t cl = 0;
        if (!rc && !del && strcmp(t->name, "ledger_accounts") == 0 &&
            json_integer_value(json_array_get(a, 2)) == LEDGER_USER) { /* the sealed owner opened */
            rc = owner_open(s, a);
            if (!rc && !(clear = dump(a, &cl, false))) rc = ZT_ENOMEM;
        }
        if (!rc) rc = clear ? fn(ud, t, del, a, clear, cl) : fn(ud, t, del, a, line, ll);
        zt_free(clear);
        json_decref(a);
        at += ll + 1;
    }
    return rc;
}

/* Run fn on every row of segments 1..n in order (spooled: from the
 * rebuild's copies). */
static int each_chain_row(struct zt_dbsync *s, uint8_t (*shas)[32], uint64_t n, bool spooled, row_fn fn, void *ud,
                          int (*per_seg)(void *ud, const struct zt_dbsync_segment *seg), char *why, size_t why_len)
{
    struct zt_buf buf;
    zt_buf_init(&buf, ZT_DBSYNC_SEGMENT_MAX);
    int rc = 0;
    for (uint64_t seq = 1; seq <= n && !rc; seq++) {
        struct zt_dbsync_segment seg;
        rc = spooled ? spooled_segment(s, shas[seq - 1], seq, &buf, &seg, why, why_len)
                     : fetch_segment(s, shas[seq - 1], seq, zt_time_mono_ms() + 10000, &buf, &seg, why, why_len);
        if (!rc) rc = each_row(s, &seg, fn, ud);
        if (!rc && per_seg) rc = per_seg(ud, &seg);
    }
    zt_buf_deinit(&buf);
    return rc;
}

/* ---- rebuild ---------------------------------------------------------------------------------- */

/* the ledger's rows beyond a fresh seed */
#define LEDGER_ROWS_SQL                                                                                        \
    "SELECT (SELECT COUNT(*) FROM ledger_txs) + (SELECT COUNT(*) FROM ledger_earnings) +"                     \
    " (SELECT COUNT(*) FROM ledger_batches)"

struct replay {
    struct zt_dbsync *s;
    struct zt_store *st;
    bool ledger0;       /* the ledger held nothing but a fresh seed (counted before the transaction) */
    bool ledger;        /* the ledger's rows too (a fresh seed, or this chain's ledger is the newer) */
    uint64_t lver;      /* the chain's ledger version (its head segment's) */
    bool lver_lock;     /* the ledger has its version row (read before the transaction) */
    int64_t db_v;       /* the database's before the replay (-1: none) */
    char kept[1024];    /* why the database's ledger was kept or replaced, else "" */
    struct zt_store_stmt *ins[ZT__DBS_MAX_TABLES]; /* per table */
    struct zt_store_stmt *del[ZT__DBS_MAX_TABLES]; /* per table: a tombstone's row deleted */
    struct zt_store_stmt *rows, *unrow;
    bool dels;          /* the last segment replayed says its chain carries every delete (ZT_DBSYNC_F_DELS) */
    uint8_t (*shas)[32];
    uint64_t n;
    char *why;
    size_t why_len;
};

/* PostgreSQL: the ledger's tables keyed by an identity column "id" */
static bool identity_id(const struct zt__dbs_table *t)
{
    return strcmp(t->cols[0].name, "id") == 0;
}

static int upsert_sql(struct zt_store *st, const struct zt__dbs_table *t, char *out, size_t cap)
{
    struct zt_buf b;
    zt_buf_init(&b, cap);
    int rc = zt_buf_appendf(&b, "INSERT INTO %s(", t->name);
    for (size_t i = 0; i < t->n_cols && !rc; i++) rc = zt_buf_appendf(&b, "%s%s", i ? ", " : "", t->cols[i].name);
    if (!rc) rc = zt_buf_append_str(&b, ")");
    if (!rc && zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES && identity_id(t))
        rc = zt_buf_append_str(&b, " OVERRIDING SYSTEM VALUE");
    if (!rc) rc = zt_buf_append_str(&b, " VALUES(");
    for (size_t i = 0; i < t->n_cols && !rc; i++) rc = zt_buf_append_str(&b, i ? ", ?" : "?");
    if (!rc) rc = zt_buf_append_str(&b, ") ON CONFLICT(");
    for (size_t i = 0; i < t->n_key && !rc; i++) rc = zt_buf_appendf(&b, "%s%s", i ? ", " : "", t->cols[i].name);
    if (!rc) rc = zt_buf_append_str(&b, t->n_key < t->n_cols ? ") DO UPDATE SET " : ") DO NOTHING");
    for (size_t i = t->n_key; i < t->n_cols && !rc; i++)
        rc = zt_buf_appendf(&b, "%s%s = excluded.%s", i > t->n_key ? ", " : "", t->cols[i].name, t->cols[i].name);
    /* own_jobs: a job another orchestrator holds is not taken back by an
     * older image of ours (it moved: sched.c SQL_TAKE and SQL_ADOPT stamp
     * `updated`); ours, or one that an older image of another's holds (a
     * database where that one was rebuilt first), is (review10 F3) */
    if (!rc && t->own_jobs)
        rc = zt_buf_appendf(&b, " WHERE %s.orch = excluded.orch OR %s.updated < excluded.updated", t->name, t->name);
    if (!rc && b.len >= cap) rc = ZT_ETOOBIG;
    if (!rc) memcpy(out, b.data, b.len + 1);
    zt_buf_deinit(&b);
    return rc;
}

/* DELETE FROM t WHERE its key's columns = ? (own_jobs: AND orch = ?,
 * the replayed chain's publisher: a tombstone of ours never deletes a job
 * another orchestrator holds now; review10 F3) */
static int delete_sql(const struct zt__dbs_table *t, char *out, size_t cap)
{
    struct zt_buf b;
    zt_buf_init(&b, cap);
    int rc = zt_buf_appendf(&b, "DELETE FROM %s WHERE ", t->name);
    for (size_t i = 0; i < t->n_key && !rc; i++) rc = zt_buf_appendf(&b, "%s%s = ?", i ? " AND " : "", t->cols[i].name);
    if (!rc && t->own_jobs) rc = zt_buf_append_str(&b, " AND orch = ?");
    if (!rc && b.len >= cap) rc = ZT_ETOOBIG;
    if (!rc) memcpy(out, b.data, b.len + 1);
    zt_buf_deinit(&b);
    return rc;
}

static int replay_row(void *ud, const struct zt__dbs_table *t, bool del, json_t *a, const char *line, size_t len)
{
    struct replay *r = ud;
    size_t ti = (size_t)(t - zt__dbs_tables);
    struct zt_store_stmt *q = del ? r->del[ti] : r->ins[ti];
    zt_store_reset(q);
    int rc = 0;
    /* a shared database whose ledger another orchestrator restored: our
     * jobs only (our chain's ledger images are recorded as published:
     * what differs goes out as a change) */
    bool skip = !r->ledger && !t->own_jobs;
    /* a tombstone: the row of its key deleted, its image no longer published */
    for (int i = 0; i < (del ? t->n_key : t->n_cols) && !rc && !skip; i++)
        rc = bind_json(q, i + 1, &t->cols[i], json_array_get(a, (size_t)i + 1));
    /* the chain is ours (zt_dbsync_rebuild replays its own publisher's) */
    if (!rc && !skip && del && t->own_jobs) rc = zt_store_bind_text(q, t->n_key + 1, r->s->pub, strlen(r->s->pub));
    if (!rc && !skip) rc = run_done(q);
    char *key = rc ? NULL : key_of(t, a);
    uint8_t h[ROW_HASH];
    row_hash(h, line, len);
    if (!rc && !key) rc = ZT_ENOMEM;
    if (!rc) rc = del ? del_row_hash(r->unrow, r->s->pub, t->name, key) : put_row_hash(r->rows, r->s->pub, t->name, key, h);
    zt_free(key);
    return rc;
}

static int replay_seg(void *ud, const struct zt_dbsync_segment *seg)
{
    struct replay *r = ud;
    r->dels = (seg->flags & ZT_DBSYNC_F_DELS) != 0;
    return put_segment(r->st, r->s->pub, seg->seq, seg->sha256, NULL, 0, seg->n_rows, seg->created, true,
                       seg->ledger_version, seg->flags);
}

/* A rebuild into a database whose ledger is more than a fresh seed (a
 * shared PostgreSQL where another orchestrator rebuilt first, or which
 * never lost it): what to do with its ledger, from the chain's version c,
 * the database's d and the one its last rebuild restored (rest; -1:
 * never). The database's counter moves with every ledger change
 * (ledger.c step 3), so d == rest means it is exactly what that rebuild
 * restored. */
enum led_do { LED_TAKE, LED_KEEP, LED_SAME, LED_REFUSE };

#define LED_FIX                                                                                                   \
    " Nothing was rebuilt. Decide which ledger is right (zentalk ledger audit on the database, zentalk mesh audit" \
    " of this orchestrator's chain); to keep the database's, mark it the newest (zentalk ledger prefer database" \
    " --chain-version %llu) and rebuild again (this orchestrator's jobs only); to take this chain's, empty the" \
    " ledger (zentalk ledger prefer chain --yes) and rebuild again (docs/architecture/MESH_INTEGRATION.md," \
    " \"Rebuild on a shared PostgreSQL\")."

static enum led_do ledger_decide(uint64_t c, int64_t d, int64_t rest, char *msg, size_t cap)
{
    unsigned long long cc = c;
    long long dd = d, rr = rest;
    if (c == 0) {
        snprintf(msg, cap, "this chain carries no ledger version (segments made before it): the database's ledger "
                 "(version %lld) kept", dd);
        return LED_KEEP;
    }
    if (rest >= 0 && c > (uint64_t)rest && d != rest) {
        snprintf(msg, cap, "the database's ledger changed since a rebuild restored version %lld (it is at version %lld "
                 "now) and this chain's ledger is at version %llu, newer than %lld: each holds changes the other "
                 "lacks." LED_FIX, rr, dd, cc, rr, cc);
        return LED_REFUSE;
    }
    if (c > (uint64_t)d) {
        if (rest >= 0) return LED_TAKE; /* d == rest: nothing changed since that rebuild */
        snprintf(msg, cap, "this chain's ledger is at version %llu, newer than the database's (version %lld), which no "
                 "rebuild restored (a chain of another database?)." LED_FIX, cc, dd, cc);
        return LED_REFUSE;
    }
    if (c == (uint64_t)d) return LED_SAME;
    snprintf(msg, cap, "this chain's ledger (version %llu) is older than the database's (version %lld): the database's "
             "kept", cc, dd);
    return LED_KEEP;
}

/* After a replay of the chain's images only (r->ledger false): the
 * database's ledger rows that differ from the chain's last image of them,
 * or that the chain lacks, and (when the chain carries every delete: its
 * last segment has ZT_DBSYNC_F_DELS) the chain's rows the database lacks,
 * in *n. A chain without the flag at its head may miss deletes (formats 1
 * and 2 carry none: an earning clawed back stays in them; a format-3 part
 * of the first whole round after dbsync step 6, sealed before that
 * round's tombstones, review10 F10), so there a row only the chain holds
 * is not counted. With the flag, a row only the chain holds is one the
 * database deleted and the chain did not (or the other way round): they
 * differ. The rows are streamed (each_cand), one at a time, and the
 * chain-only ones counted as the chain's rows less those the database's
 * rows matched. */
struct differs {
    struct zt_store_stmt *q;
    const char *pub, *tbl;
    uint64_t n, matched;
};

static int differs_row(void *ud, struct cand *c)
{
    struct differs *d = ud;
    uint8_t h[ROW_HASH];
    int x = published_hash(d->q, d->pub, d->tbl, c->key, h);
    if (x && x != ZT_ENOTFOUND) return x;
    d->matched += x == 0;
    d->n += x == ZT_ENOTFOUND || memcmp(h, c->h, ROW_HASH) != 0;
    return 0;
}

static int ledger_differs(struct replay *r, uint64_t *n)
{
    struct differs d = {.pub = r->s->pub};
    struct zt_store_stmt *cq = NULL;
    int rc = zt_store_prepare(r->st, "SELECT h FROM dbsync_rows WHERE pub = ? AND tbl = ? AND k = ?", &d.q);
    if (!rc) rc = zt_store_prepare(r->st, "SELECT COUNT(*) FROM dbsync_rows WHERE pub = ? AND tbl = ?", &cq);
    *n = 0;
    for (size_t t = 0; t < zt__dbs_n_tables && !rc; t++) {
        const struct zt__dbs_table *tb = &zt__dbs_tables[t];
        if (tb->own_jobs) continue;
        d.tbl = tb->name;
        d.matched = 0;
        rc = each_cand(r->s, tb, -1, true, differs_row, &d);
        int64_t chain = 0;
        zt_store_reset(cq);
        if (!rc && r->dels) rc = zt_store_bind_text(cq, 1, d.pub, strlen(d.pub));
        if (!rc && r->dels) rc = zt_store_bind_text(cq, 2, tb->name, strlen(tb->name));
        if (!rc && r->dels) rc = zt_store_step(cq) == ZT_STORE_ROW ? zt_store_column_i64(cq, 0, &chain) : ZT_EIO;
        if (!rc && chain > 0 && (uint64_t)chain > d.matched) d.n += (uint64_t)chain - d.matched;
    }
    zt_store_stmt_free(cq);
    zt_store_stmt_free(d.q);
    *n = d.n;
    return rc;
}

static int replay_tx(struct zt_store *st, void *ud)
{
    struct replay *r = ud;
    int rc = 0;
    r->ledger = r->ledger0; /* a retried transaction starts again */
    r->kept[0] = '\0';
    r->db_v = -1;
    /* PostgreSQL: one rebuild at a time (the lock conflicts with itself,
     * and is taken before the transaction's first query, so its snapshot
     * sees a rebuild that committed while it waited), and whether the
     * ledger is still a fresh seed is counted again in here: two
     * orchestrators rebuilding at once would otherwise both see it empty
     * and the second would delete the first's restored ledger (review8 F2) */
    if (zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES) {
        int64_t led = 0;
        /* the ledger's writers take ledger_version's lock first
         * (src/ledger/ledger.c): taken first here too, so that a rebuild
         * and a writer queue instead of deadlocking on the two tables */
        rc = zt_store_exec(st, r->lver_lock ? "LOCK TABLE ledger_version, ledger_txs IN SHARE ROW EXCLUSIVE MODE"
                                            : "LOCK TABLE ledger_txs IN SHARE ROW EXCLUSIVE MODE");
        if (!rc) rc = count_pub(st, LEDGER_ROWS_SQL, NULL, &led);
        if (rc) return rc;
        r->ledger = led == 0;
    }
    /* the database's ledger version, and what to do with its ledger when
     * it holds more than a fresh seed: the newer one wins, whichever
     * chain is replayed first; a database changed since its rebuild is
     * never overwritten by an older chain */
    int64_t rest = -1;
    bool versioned = false, awaiting = false;
    rc = lver_get(st, &r->db_v, &rest, &awaiting);
    if (rc == ZT_ENOTFOUND) rc = 0, r->db_v = -1;
    else if (!rc) versioned = true;
    if (rc) return rc;
    bool same = false;
    /* emptied for this (zt_ledger_clear): a fresh seed whatever its
     * version, the chain's taken; the version written below clears the
     * mark */
    if (awaiting) r->ledger = true;
    if (!r->ledger && !versioned) {
        snprintf(r->kept, sizeof r->kept, "the database's ledger has no version: kept");
    } else if (!r->ledger) {
        switch (ledger_decide(r->lver, r->db_v, rest, r->kept, sizeof r->kept)) {
        case LED_TAKE:
            r->ledger = true;
            snprintf(r->kept, sizeof r->kept, "the database's ledger (version %lld, as a rebuild restored it) replaced by "
                     "this chain's, the newer", (long long)r->db_v);
            break;
        case LED_KEEP: break;
        case LED_SAME: same = true; break;
        case LED_REFUSE:
            snprintf(r->why, r->why_len, "%s", r->kept);
            return ZT_EEXIST;
        }
    }
    /* what a fresh ledger seeds (its system accounts, the minted total)
     * goes; the chain's rows replace it */
    for (size_t t = zt__dbs_n_tables; t-- > 0 && !rc;) {
        if (zt__dbs_tables[t].own_jobs || !r->ledger) continue; /* no job of ours is there (zt_dbsync_rebuild) */
        char sql[128];
        snprintf(sql, sizeof sql, "DELETE FROM %s", zt__dbs_tables[t].name);
        rc = zt_store_exec(st, sql);
    }
    static const char *const mine[] = {"DELETE FROM dbsync_rows WHERE pub = ?", "DELETE FROM dbsync_segments WHERE pub = ?",
                                       "DELETE FROM dbsync_marks WHERE pub = ?"};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0] && !rc; i++) rc = bind_pub_run(st, mine[i], r->s->pub);
    for (size_t t = 0; t < zt__dbs_n_tables && !rc; t++) {
        char sql[SQL_MAX];
        zt_store_stmt_free(r->ins[t]);
        zt_store_stmt_free(r->del[t]);
        r->ins[t] = r->del[t] = NULL;
        rc = upsert_sql(st, &zt__dbs_tables[t], sql, sizeof sql);
        if (!rc) rc = zt_store_prepare(st, sql, &r->ins[t]);
        if (!rc) rc = delete_sql(&zt__dbs_tables[t], sql, sizeof sql);
        if (!rc) rc = zt_store_prepare(st, sql, &r->del[t]);
    }
    zt_store_stmt_free(r->rows);
    zt_store_stmt_free(r->unrow);
    r->rows = r->unrow = NULL;
    r->dels = false;
    if (!rc) rc = zt_store_prepare(st, SQL_ROW_UPSERT, &r->rows);
    if (!rc) rc = zt_store_prepare(st, SQL_ROW_DEL, &r->unrow);
    if (!rc) rc = each_chain_row(r->s, r->shas, r->n, true, replay_row, r, replay_seg, r->why, r->why_len);
    /* the same version on both sides: the same ledger, or two that
     * parted at a rebuild (an old chain of a lost database) */
    uint64_t differ = 0;
    if (!rc && same) rc = ledger_differs(r, &differ);
    if (!rc && same && differ) {
        unsigned long long v = r->lver;
        snprintf(r->why, r->why_len,
                 "this chain's ledger and the database's are both at version %llu but %llu of their rows differ: "
                 "they parted at an earlier rebuild." LED_FIX,
                 v, (unsigned long long)differ, v);
        return ZT_EEXIST;
    }
    if (!rc && same) snprintf(r->kept, sizeof r->kept, "this chain's ledger is the database's (version %llu)",
                              (unsigned long long)r->lver);
    /* the version restored: the database's from now on (the replay's own
     * writes bumped it; what it holds is the chain's) */
    if (!rc && r->ledger && versioned) {
        struct zt_store_stmt *q = NULL;
        rc = zt_store_prepare(st, "UPDATE ledger_version SET v = ?, restored = ? WHERE id = 1", &q);
        if (!rc) rc = zt_store_bind_i64(q, 1, (int64_t)r->lver);
        if (!rc) rc = zt_store_bind_i64(q, 2, (int64_t)r->lver);
        if (!rc) rc = run_done(q);
        zt_store_stmt_free(q);
    }
    /* the replayed rows logged themselves: they are the published ones
     * (their hashes are in dbsync_rows), nothing to read again */
    if (!rc) rc = bind_pub_run(st, "DELETE FROM dbsync_changes WHERE pub = ?", r->s->pub);
    /* PostgreSQL: identity sequences continue after the replayed ids */
    for (size_t t = 0; t < zt__dbs_n_tables && !rc && r->ledger && zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES;
         t++) {
        if (!identity_id(&zt__dbs_tables[t])) continue;
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT setval(pg_get_serial_sequence('%s', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM %s",
                 zt__dbs_tables[t].name, zt__dbs_tables[t].name);
        rc = zt_store_exec(st, sql);
    }
    return rc;
}

int zt_dbsync_rebuild(struct zt_dbsync *s, struct zt_dht *dht, unsigned timeout_ms, char *why, size_t why_len)
{
    if (!s) return ZT_EINVAL;
    struct dht_get g = {.dht = dht, .id = zt_identity_id(s->o.id)};
    return zt__dbs_rebuild(s, dht_get, &g, timeout_ms, why, why_len);
}

int zt__dbs_rebuild(struct zt_dbsync *s, zt__dbs_get_fn get, void *get_ud, unsigned timeout_ms, char *why,
                    size_t why_len)
{
    if (!s || !get || !why || !why_len) return ZT_EINVAL;
    why[0] = '\0';
    uint64_t until = zt_time_mono_ms() + timeout_ms;
    pthread_mutex_lock(&s->mu);
    /* SQLite: a store of our own, rebuilt only when empty. PostgreSQL:
     * shared by orchestrators, rebuilt by each from its own chain: none
     * of our jobs or segments may be there; the ledger is replayed by the
     * first (while it holds nothing but a fresh seed) */
    bool shared = zt_store_dialect(s->o.st) == ZT_STORE_DIALECT_POSTGRES;
    int64_t led = 0, jobs = 0, segs = 0;
    int rc = count_pub(s->o.st, LEDGER_ROWS_SQL, NULL, &led);
    if (!rc) rc = count_pub(s->o.st, shared ? "SELECT COUNT(*) FROM sched_jobs WHERE orch = ?" : "SELECT COUNT(*) FROM sched_jobs",
                            s->pub, &jobs);
    if (!rc)
        rc = count_pub(s->o.st, shared ? "SELECT COUNT(*) FROM dbsync_segments WHERE pub = ?" : "SELECT COUNT(*) FROM dbsync_segments",
                       s->pub, &segs);
    int64_t held = jobs + segs + (shared ? 0 : led);
    if (!rc && held > 0) {
        snprintf(why, why_len,
                 shared ? "the database already holds %lld job or segment records of this orchestrator: rebuild only "
                          "into a database without them"
                        : "the store already holds %lld job or ledger records: rebuild only into an empty one",
                 (long long)held);
        rc = ZT_EEXIST;
    } else if (rc) {
        snprintf(why, why_len, "the store's job and ledger tables: %s (are the orchestrator role and chain.enabled on?)",
                 zt_strerror(rc));
    }
    struct zt__dbs_heads *hs = rc ? NULL : zt_malloc(sizeof *hs);
    if (!rc && !hs) rc = ZT_ENOMEM;
    if (!rc && (rc = zt__dbs_collect_heads(get, get_ud, zt_identity_sign_pk(s->o.id), zt_time_real_ms() / 1000,
                                           HEAD_SETTLE_MS, 0, timeout_ms, hs)) != 0)
        snprintf(why, why_len, "no head record of %s in the DHT: %s", zt_identity_id(s->o.id), zt_strerror(rc));
    /* the longest chain that verifies: the newest head, else the next (a
     * newer head whose segments cannot be had is logged, not trusted) */
    struct zt_dbsync_head head = {0};
    uint8_t(*shas)[32] = NULL;
    uint64_t lver = 0;
    for (size_t i = 0; !rc && i < hs->n; i++) {
        head = hs->h[i];
        rc = walk_chain(s, &head, until, &shas, &lver, true, why, why_len);
        if (!rc) break;
        zt_log(ZT_LOG_WARN, "dbsync_head_unusable", "seq=%llu error=%s detail=\"%s\"%s", (unsigned long long)head.seq,
               zt_strerror(rc), why, i + 1 < hs->n ? " next=older_head" : "");
        if (i + 1 < hs->n) {
            rc = 0;
            why[0] = '\0';
        } else {
            break;
        }
    }
    zt_free(hs);
    int lv_owner = 0;
    bool lver_lock = !rc && zt_store_owner_version(s->o.st, "ledger", &lv_owner) == 0 && lv_owner >= 3;
    struct replay r = {.s = s, .st = s->o.st, .ledger0 = led == 0, .lver = lver, .lver_lock = lver_lock, .shas = shas,
                       .n = rc ? 0 : head.seq, .why = why, .why_len = why_len};
    if (!rc) rc = zt_store_tx(s->o.st, replay_tx, &r);
    for (size_t t = 0; t < zt__dbs_n_tables; t++) zt_store_stmt_free(r.ins[t]), zt_store_stmt_free(r.del[t]);
    zt_store_stmt_free(r.rows);
    zt_store_stmt_free(r.unrow);
    if (shas) spool_clear(s, head.seq);
    zt_free(shas);
    if (!rc) {
        rc = load_state(s);
        s->blocked = false;
        if (r.kept[0])
            zt_log(ZT_LOG_WARN, r.ledger ? "dbsync_ledger_replaced" : "dbsync_ledger_kept",
                   "chain_version=%llu database_version=%lld detail=\"%s\"", (unsigned long long)lver, (long long)r.db_v,
                   r.kept);
        snprintf(why, why_len, "rebuilt from %llu segment(s), ledger version %llu%s%s%s", (unsigned long long)head.seq,
                 (unsigned long long)lver, r.ledger ? (r.kept[0] ? " (" : "") : " (this orchestrator's jobs only: ",
                 r.kept, r.kept[0] ? ")" : "");
    } else if (!why[0]) {
        snprintf(why, why_len, "replay: %s", zt_strerror(rc));
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- audit ---------------------------------------------------------------------------------------- */

struct audit {
    struct zt_dbsync *s;
    struct zt_store_stmt *put, *get, *seen, *del;
    uint64_t mismatched, unpublished, moved;
    char first[256];
};

static int audit_put(void *ud, const struct zt__dbs_table *t, bool del, json_t *a, const char *line, size_t len)
{
    struct audit *x = ud;
    char *key = key_of(t, a);
    uint8_t h[ROW_HASH];
    row_hash(h, line, len);
    /* a tombstone: the chain no longer publishes the row */
    int rc = !key ? ZT_ENOMEM : del ? del_row_hash(x->del, NULL, t->name, key) : put_row_hash(x->put, NULL, t->name, key, h);
    zt_free(key);
    return rc;
}

static void first_of(struct audit *x, const char *what, const char *tbl, const char *key)
{
    if (!x->first[0]) snprintf(x->first, sizeof x->first, "%s %s %s", tbl, key, what);
}

/* The store's rows against the chain's images (in dbsync_audit). */
static int audit_rows(struct audit *x)
{
    int rc = 0;
    for (size_t t = 0; t < zt__dbs_n_tables && !rc; t++) {
        const struct zt__dbs_table *tb = &zt__dbs_tables[t];
        if (!table_present(x->s->o.st, tb)) continue;
        struct cands c = {0};
        rc = read_rows(x->s, tb, INT64_MIN, &c);
        for (size_t i = 0; i < c.n && !rc; i++) {
            uint8_t h[ROW_HASH];
            int r = published_hash(x->get, NULL, tb->name, c.v[i].key, h);
            if (r == ZT_ENOTFOUND) {
                x->unpublished++;
                continue;
            }
            if (r) {
                rc = r;
                break;
            }
            zt_store_reset(x->seen);
            rc = zt_store_bind_text(x->seen, 1, tb->name, strlen(tb->name));
            if (!rc) rc = zt_store_bind_text(x->seen, 2, c.v[i].key, strlen(c.v[i].key));
            if (!rc) rc = run_done(x->seen);
            if (rc || memcmp(h, c.v[i].h, ROW_HASH) == 0) continue;
            if (tb->append_only) {
                x->mismatched++;
                first_of(x, "differs from its published image", tb->name, c.v[i].key);
            } else {
                x->unpublished++; /* changed since the last segment */
            }
        }
        cands_free(&c);
    }
    /* published rows the store no longer has; of an own_jobs table, one
     * whose key is there under another orchestrator (a takeover or an
     * adoption moved the job: sched.c SQL_TAKE, SQL_ADOPT) is not
     * missing but moved (review10 F3) */
    struct zt_store_stmt *q = NULL, *ex[ZT__DBS_MAX_TABLES] = {NULL};
    for (size_t t = 0; t < zt__dbs_n_tables && !rc; t++)
        if (zt__dbs_tables[t].own_jobs && table_present(x->s->o.st, &zt__dbs_tables[t]))
            rc = key_exists_prepare(x->s, &zt__dbs_tables[t], &ex[t]);
    if (!rc) rc = zt_store_prepare(x->s->o.st, "SELECT tbl, k FROM dbsync_audit WHERE seen = 0 ORDER BY tbl, k", &q);
    while (next_row(q, &rc)) {
        const char *tbl, *key;
        size_t tl, kl;
        rc = zt_store_column_text(q, 0, &tbl, &tl);
        if (!rc) rc = zt_store_column_text(q, 1, &key, &kl);
        const struct zt__dbs_table *jt = rc ? NULL : zt__dbs_table_find(tbl, tl);
        size_t ti = jt ? (size_t)(jt - zt__dbs_tables) : 0;
        bool moved = false;
        if (jt && ex[ti]) {
            json_t *ka = json_loadb(key, kl, 0, NULL);
            if (json_is_array(ka) && json_array_size(ka) == jt->n_key) rc = key_exists(ex[ti], jt, ka, &moved);
            json_decref(ka);
        }
        if (!rc && moved) {
            x->moved++;
        } else if (!rc) {
            x->mismatched++;
            char tb[64], kb[128];
            snprintf(tb, sizeof tb, "%.*s", (int)tl, tbl);
            snprintf(kb, sizeof kb, "%.*s", (int)kl, key);
            first_of(x, "is published but missing from the store", tb, kb);
        }
    }
    zt_store_stmt_free(q);
    for (size_t t = 0; t < zt__dbs_n_tables; t++) zt_store_stmt_free(ex[t]);
    return rc;
}

/* Our segments against the chain's: the first that differs, those not in it. */
static int audit_segments(struct zt_dbsync *s, uint8_t (*shas)[32], uint64_t n, char *gap, size_t cap)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(s->o.st, "SELECT seq, sha FROM dbsync_segments WHERE pub = ? ORDER BY seq", &q);
    if (!rc) rc = zt_store_bind_text(q, 1, s->pub, strlen(s->pub));
    while (next_row(q, &rc)) {
        int64_t seq;
        const void *p;
        size_t len;
        rc = zt_store_column_i64(q, 0, &seq);
        if (!rc) rc = zt_store_column_blob(q, 1, &p, &len);
        if (rc || gap[0]) continue;
        if ((uint64_t)seq > n)
            snprintf(gap, cap, "segments %llu to %llu are made here but not yet published in the head", (unsigned long long)seq,
                     (unsigned long long)s->seq);
        else if (len != 32 || memcmp(p, shas[seq - 1], 32) != 0)
            snprintf(gap, cap, "segment %lld here differs from the published one", (long long)seq);
    }
    zt_store_stmt_free(q);
    return rc;
}

int zt_dbsync_audit(struct zt_dbsync *s, unsigned timeout_ms, char **out)
{
    if (!s || !out) return ZT_EINVAL;
    char gap[512] = "", why[512] = "";
    /* timeout_ms for the head; segments not held here (after a rebuild they all are) get 30 s more */
    uint64_t until = zt_time_mono_ms() + timeout_ms + 30000;
    pthread_mutex_lock(&s->mu);
    struct zt_dbsync_head head = {0};
    uint8_t(*shas)[32] = NULL;
    struct audit x = {.s = s};
    int rc = 0;
    struct zt__dbs_heads *hs = zt_malloc(sizeof *hs);
    /* the newest; no waiting once one reaches the last segment pushed from here */
    if (hs && find_heads(s, s->dht, HEAD_SETTLE_MS, s->head_seq, timeout_ms, hs) == 0) head = hs->h[0];
    zt_free(hs);
    if (!head.seq) {
        snprintf(gap, sizeof gap, "no head record of this node in the DHT%s", s->seq ? "" : " (nothing published yet)");
        head.seq = 0;
    } else if (walk_chain(s, &head, until, &shas, NULL, false, why, sizeof why) != 0) {
        snprintf(gap, sizeof gap, "%s", why);
        head.seq = 0;
    }
    rc = zt_store_exec(s->o.st, "CREATE TEMP TABLE IF NOT EXISTS dbsync_audit(tbl TEXT NOT NULL, k TEXT NOT NULL,"
                                " h BLOB NOT NULL, seen INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(tbl, k));"
                                " DELETE FROM dbsync_audit");
    if (rc && zt_store_dialect(s->o.st) == ZT_STORE_DIALECT_POSTGRES)
        rc = zt_store_exec(s->o.st, "CREATE TEMP TABLE IF NOT EXISTS dbsync_audit(tbl TEXT NOT NULL, k TEXT NOT NULL,"
                                    " h BYTEA NOT NULL, seen BIGINT NOT NULL DEFAULT 0, PRIMARY KEY(tbl, k));"
                                    " DELETE FROM dbsync_audit");
    if (!rc) rc = zt_store_prepare(s->o.st, "INSERT INTO dbsync_audit(tbl, k, h) VALUES(?, ?, ?)"
                                            " ON CONFLICT(tbl, k) DO UPDATE SET h = excluded.h", &x.put);
    if (!rc) rc = zt_store_prepare(s->o.st, "SELECT h FROM dbsync_audit WHERE tbl = ? AND k = ?", &x.get);
    if (!rc) rc = zt_store_prepare(s->o.st, "UPDATE dbsync_audit SET seen = 1 WHERE tbl = ? AND k = ?", &x.seen);
    if (!rc) rc = zt_store_prepare(s->o.st, "DELETE FROM dbsync_audit WHERE tbl = ? AND k = ?", &x.del);
    if (!rc && head.seq && each_chain_row(s, shas, head.seq, false, audit_put, &x, NULL, why, sizeof why) != 0) {
        snprintf(gap, sizeof gap, "%s", why);
        rc = zt_store_exec(s->o.st, "DELETE FROM dbsync_audit");
        head.seq = 0;
    }
    if (!rc) rc = audit_rows(&x);
    if (!rc && !gap[0]) rc = audit_segments(s, shas, head.seq, gap, sizeof gap);
    zt_store_stmt_free(x.put);
    zt_store_stmt_free(x.get);
    zt_store_stmt_free(x.seen);
    zt_store_stmt_free(x.del);
    zt_ignore(zt_store_exec(s->o.st, "DELETE FROM dbsync_audit"));
    if (!rc) {
        json_t *o = json_pack("{s:b,s:I,s:I,s:o,s:I,s:o,s:I,s:I}", "ok", !gap[0] && !x.mismatched, "head_seq",
                      (json_int_t)head.seq, "local_seq", (json_int_t)s->seq, "gap", gap[0] ? json_string(gap) : json_null(),
                      "mismatched_rows", (json_int_t)x.mismatched, "first_mismatch",
                      x.first[0] ? json_string(x.first) : json_null(), "unpublished_rows", (json_int_t)x.unpublished,
                      "moved_rows", (json_int_t)x.moved);
        rc = json_out(o, out);
    }
    pthread_mutex_unlock(&s->mu);
    zt_free(shas);
    return rc;
}
