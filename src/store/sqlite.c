/* sqlite.c: the SQLite backend of the storage interface (zt_store.h).
 *
 * One connection per handle (not thread-safe: callers serialise), WAL
 * journal, synchronous=NORMAL, busy timeout from the options, every
 * statement prepared once at open, secure_delete=ON so deleted rows are
 * overwritten with zeros in the file rather than left in free pages.
 * Operations that write several rows run inside a SAVEPOINT, so they are
 * atomic alone and nest inside a caller's begin/commit. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include <stdio.h>

enum {
    S_KEY_GET,
    S_KEY_PUT,
    S_DOC_FIND,
    S_DOC_INS,
    S_DOC_DEL,
    S_FTS_INS,
    S_FTS_DEL,
    S_USER_DOCS,
    S_USER_DEL_DOCS,
    S_USER_DEL_KEY,
    S_MATCH,
    S_GET,
    S_SCAN,
    S_COUNT,
    S_META_GET,
    S_SALT_GET,
    S_SALT_PUT,
    S_SALT_DEL,
    S_OLD_DOCS,
    N_STMT
};

static const char *const sql_text[N_STMT] = {
    [S_KEY_GET] = "SELECT wrapped FROM search_keys WHERE user_ref = ?1",
    [S_KEY_PUT] = "INSERT INTO search_keys(user_ref, wrapped, created) VALUES(?1, ?2, "
                  "CAST(strftime('%s','now') AS INTEGER))",
    [S_DOC_FIND] = "SELECT rowid, terms FROM search_docs WHERE user_ref = ?1 AND id_ref = ?2",
    [S_DOC_INS] = "INSERT INTO search_docs(user_ref, id_ref, payload, vec, terms, ts) "
                  "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_DOC_DEL] = "DELETE FROM search_docs WHERE rowid = ?1",
    [S_FTS_INS] = "INSERT INTO search_fts(rowid, terms) VALUES(?1, ?2)",
    [S_FTS_DEL] = "INSERT INTO search_fts(search_fts, rowid, terms) VALUES('delete', ?1, ?2)",
    [S_USER_DOCS] = "SELECT rowid, terms FROM search_docs WHERE user_ref = ?1",
    [S_USER_DEL_DOCS] = "DELETE FROM search_docs WHERE user_ref = ?1",
    [S_USER_DEL_KEY] = "DELETE FROM search_keys WHERE user_ref = ?1",
    [S_MATCH] = "SELECT d.rowid, bm25(search_fts) FROM search_fts JOIN search_docs d ON "
                "d.rowid = search_fts.rowid WHERE search_fts MATCH ?1 AND d.user_ref = ?2 "
                "ORDER BY bm25(search_fts) LIMIT ?3",
    [S_GET] = "SELECT rowid, payload, vec, ts, id_ref FROM search_docs WHERE rowid = ?1 AND user_ref = ?2",
    [S_SCAN] = "SELECT rowid, payload, vec, ts, id_ref FROM search_docs WHERE user_ref = ?1 "
               "ORDER BY rowid DESC LIMIT ?2",
    [S_COUNT] = "SELECT count(*) FROM search_docs WHERE user_ref = ?1",
    [S_META_GET] = "SELECT value FROM meta WHERE key = 'schema_version'",
    [S_SALT_GET] = "SELECT salt FROM identity_salts WHERE ref = ?1",
    [S_SALT_PUT] = "INSERT INTO identity_salts(ref, salt, created) VALUES(?1, ?2, "
                   "CAST(strftime('%s','now') AS INTEGER))",
    [S_SALT_DEL] = "DELETE FROM identity_salts WHERE ref = ?1",
    [S_OLD_DOCS] = "SELECT rowid, terms FROM search_docs WHERE ts < ?1 ORDER BY rowid LIMIT 256",
};

/* Migrations: MIGRATIONS[v] takes a schema at version v to v + 1. */
static const char *const MIGRATIONS[ZT_STORE_SCHEMA_VERSION] = {
    /* 0 -> 1: meta and the search tables */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES('schema_version', '0');"
    "CREATE TABLE search_keys(user_ref BLOB PRIMARY KEY, wrapped BLOB NOT NULL,"
    "  created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE search_docs(rowid INTEGER PRIMARY KEY, user_ref BLOB NOT NULL,"
    "  id_ref BLOB NOT NULL, payload BLOB NOT NULL, vec BLOB NOT NULL, terms TEXT NOT NULL,"
    "  ts INTEGER NOT NULL, UNIQUE(user_ref, id_ref));"
    "CREATE INDEX search_docs_user ON search_docs(user_ref, rowid);"
    "CREATE VIRTUAL TABLE search_fts USING fts5(terms, content='', tokenize='ascii');",
    /* 1 -> 2: per-identity salts of the audit pseudonyms (zt_pseudoid.h) */
    "CREATE TABLE identity_salts(ref BLOB PRIMARY KEY, salt BLOB NOT NULL,"
    "  created INTEGER NOT NULL) WITHOUT ROWID;",
};

struct sqlite_store {
    struct zt_store base;
    sqlite3 *db;
    sqlite3_stmt *st[N_STMT];
};

static int db_err(struct sqlite_store *s, const char *what, int rc)
{
    /* the message names the statement, never bound values */
    zt_log(ZT_LOG_WARN, "store_error", "backend=sqlite op=%s code=%d error=\"%s\"", what, rc,
           s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return ZT_EBUSY;
    if (rc == SQLITE_NOMEM) return ZT_ENOMEM;
    return ZT_EIO;
}

static int exec(struct sqlite_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_err(s, "exec", rc);
}

static sqlite3_stmt *stmt(struct sqlite_store *s, int i)
{
    sqlite3_stmt *q = s->st[i];
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return q;
}

static int read_version(struct sqlite_store *s, int *out)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'",
                                -1, &q, NULL);
    if (rc != SQLITE_OK) return db_err(s, "version", rc);
    rc = sqlite3_step(q);
    int have = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW) return db_err(s, "version", rc);
    if (!have) {
        *out = 0;
        return 0;
    }
    rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &q, NULL);
    if (rc != SQLITE_OK) return db_err(s, "version", rc);
    rc = sqlite3_step(q);
    int v = -1;
    if (rc == SQLITE_ROW) v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (v < 0) return ZT_EIO;
    *out = v;
    return 0;
}

static int migrate(struct sqlite_store *s)
{
    int rc = exec(s, "BEGIN IMMEDIATE");
    if (rc) return rc;
    int v;
    rc = read_version(s, &v);
    if (rc) goto out;
    if (v > ZT_STORE_SCHEMA_VERSION) {
        zt_log(ZT_LOG_ERROR, "store_schema_newer", "backend=sqlite version=%d supported=%d", v,
               ZT_STORE_SCHEMA_VERSION);
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    for (; v < ZT_STORE_SCHEMA_VERSION; v++) {
        rc = exec(s, MIGRATIONS[v]);
        if (rc) goto out;
        char sql[96];
        snprintf(sql, sizeof sql, "UPDATE meta SET value = '%d' WHERE key = 'schema_version'", v + 1);
        rc = exec(s, sql);
        if (rc) goto out;
        zt_log(ZT_LOG_INFO, "store_migrated", "backend=sqlite to_version=%d", v + 1);
    }
    rc = exec(s, "COMMIT");
out:
    if (rc) zt_ignore(exec(s, "ROLLBACK"));
    return rc;
}

static void sq_close(struct zt_store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    if (!s) return;
    for (int i = 0; i < N_STMT; i++) sqlite3_finalize(s->st[i]);
    if (s->db) sqlite3_close(s->db);
    zt_free(s);
}

static int sq_open(const struct zt_store_opts *o, struct zt_store **out)
{
    if (!o || !o->path || !o->path[0]) return ZT_EINVAL;
    if (!sqlite3_compileoption_used("ENABLE_FTS5")) {
        zt_log(ZT_LOG_ERROR, "store_no_fts5", "backend=sqlite reason=\"SQLite built without FTS5\"");
        return ZT_EUNSUPPORTED;
    }
    /* create the file 0600 before SQLite does (it copies the mode to -wal/-shm) */
    int fd = open(o->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ZT_EIO;
    close(fd);
    struct sqlite_store *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    s->base.ops = &zt_store_sqlite;
    int rc = sqlite3_open_v2(o->path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = db_err(s, "open", rc);
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, o->busy_timeout_ms > 0 && o->busy_timeout_ms < 600000
                                    ? (int)o->busy_timeout_ms
                                    : 5000);
    rc = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;"
                 "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;");
    if (rc) goto out;
    rc = migrate(s);
    if (rc) goto out;
    for (int i = 0; i < N_STMT; i++) {
        int r = sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (r != SQLITE_OK) {
            rc = db_err(s, "prepare", r);
            goto out;
        }
    }
    *out = &s->base;
    return 0;
out:
    sq_close(&s->base);
    return rc;
}

static int sq_schema_version(struct zt_store *st, int *out)
{
    return read_version((struct sqlite_store *)st, out);
}

static int sq_begin(struct zt_store *st) { return exec((struct sqlite_store *)st, "BEGIN IMMEDIATE"); }
static int sq_commit(struct zt_store *st) { return exec((struct sqlite_store *)st, "COMMIT"); }
static int sq_rollback(struct zt_store *st) { return exec((struct sqlite_store *)st, "ROLLBACK"); }

static int step_done(struct sqlite_store *s, sqlite3_stmt *q, const char *what)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return ZT_EEXIST;
    return db_err(s, what, rc);
}

static int sq_key_get(struct zt_store *st, const uint8_t *user_ref, uint8_t *out, size_t cap, size_t *len)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_KEY_GET);
    sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(q);
        return ZT_ENOTFOUND;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return db_err(s, "key_get", rc);
    }
    size_t n = (size_t)sqlite3_column_bytes(q, 0);
    const void *p = sqlite3_column_blob(q, 0);
    rc = 0;
    if (n > cap)
        rc = ZT_ETOOBIG;
    else {
        if (n) memcpy(out, p, n);
        *len = n;
    }
    sqlite3_reset(q);
    return rc;
}

static int sq_key_put(struct zt_store *st, const uint8_t *user_ref, const uint8_t *wrapped, size_t len)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_KEY_PUT);
    sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, wrapped, (int)len, SQLITE_STATIC);
    return step_done(s, q, "key_put");
}

/* Remove rowid from the FTS index (contentless: needs the indexed terms)
 * and from search_docs. */
static int drop_doc(struct sqlite_store *s, int64_t rowid, const char *terms)
{
    sqlite3_stmt *q = stmt(s, S_FTS_DEL);
    sqlite3_bind_int64(q, 1, rowid);
    sqlite3_bind_text(q, 2, terms, -1, SQLITE_TRANSIENT);
    int rc = step_done(s, q, "fts_delete");
    if (rc) return rc;
    q = stmt(s, S_DOC_DEL);
    sqlite3_bind_int64(q, 1, rowid);
    return step_done(s, q, "doc_delete");
}

static int savepoint(struct sqlite_store *s) { return exec(s, "SAVEPOINT zt_op"); }
static int release(struct sqlite_store *s, int rc)
{
    if (rc) {
        zt_ignore(exec(s, "ROLLBACK TO zt_op"));
        zt_ignore(exec(s, "RELEASE zt_op"));
        return rc;
    }
    return exec(s, "RELEASE zt_op");
}

/* Find (user_ref, id_ref) and drop it; *found says whether it was there. */
static int find_drop(struct sqlite_store *s, const uint8_t *user_ref, const uint8_t *id_ref, bool *found)
{
    sqlite3_stmt *q = stmt(s, S_DOC_FIND);
    sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, id_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    *found = false;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(q);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return db_err(s, "doc_find", rc);
    }
    int64_t rowid = sqlite3_column_int64(q, 0);
    const unsigned char *t = sqlite3_column_text(q, 1);
    char *terms = zt_strdup(t ? (const char *)t : "");
    sqlite3_reset(q);
    if (!terms) return ZT_ENOMEM;
    rc = drop_doc(s, rowid, terms);
    zt_free(terms);
    if (!rc) *found = true;
    return rc;
}

static int sq_doc_put(struct zt_store *st, const uint8_t *user_ref, const uint8_t *id_ref,
                      const uint8_t *payload, size_t payload_len, const uint8_t *vec, size_t vec_len,
                      const char *terms, int64_t ts)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    if (payload_len > INT32_MAX || vec_len > INT32_MAX) return ZT_ETOOBIG;
    int rc = savepoint(s);
    if (rc) return rc;
    bool found;
    rc = find_drop(s, user_ref, id_ref, &found);
    if (rc) goto out;
    sqlite3_stmt *q = stmt(s, S_DOC_INS);
    sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, id_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 3, payload, (int)payload_len, SQLITE_STATIC);
    sqlite3_bind_blob(q, 4, vec, (int)vec_len, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, terms, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, ts);
    rc = step_done(s, q, "doc_insert");
    if (rc) goto out;
    int64_t rowid = sqlite3_last_insert_rowid(s->db);
    q = stmt(s, S_FTS_INS);
    sqlite3_bind_int64(q, 1, rowid);
    sqlite3_bind_text(q, 2, terms, -1, SQLITE_STATIC);
    rc = step_done(s, q, "fts_insert");
out:
    return release(s, rc);
}

static int sq_doc_delete(struct zt_store *st, const uint8_t *user_ref, const uint8_t *id_ref, bool *found)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    int rc = savepoint(s);
    if (rc) return rc;
    rc = find_drop(s, user_ref, id_ref, found);
    return release(s, rc);
}

static int sq_user_delete(struct zt_store *st, const uint8_t *user_ref, size_t *n_docs)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    int rc = savepoint(s);
    if (rc) return rc;
    size_t n = 0;
    sqlite3_stmt *q = stmt(s, S_USER_DOCS);
    sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    for (;;) {
        int r = sqlite3_step(q);
        if (r == SQLITE_DONE) break;
        if (r != SQLITE_ROW) {
            rc = db_err(s, "user_docs", r);
            break;
        }
        sqlite3_stmt *d = s->st[S_FTS_DEL];
        sqlite3_reset(d);
        sqlite3_bind_int64(d, 1, sqlite3_column_int64(q, 0));
        sqlite3_bind_text(d, 2, (const char *)sqlite3_column_text(q, 1), -1, SQLITE_TRANSIENT);
        rc = step_done(s, d, "fts_delete");
        if (rc) break;
        n++;
    }
    sqlite3_reset(q);
    if (!rc) {
        q = stmt(s, S_USER_DEL_DOCS);
        sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
        rc = step_done(s, q, "user_delete_docs");
    }
    if (!rc) {
        q = stmt(s, S_USER_DEL_KEY);
        sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
        rc = step_done(s, q, "user_delete_key");
    }
    rc = release(s, rc);
    if (!rc && n_docs) *n_docs = n;
    return rc;
}

static int sq_match(struct zt_store *st, const uint8_t *user_ref, const char *fts_query, size_t limit,
                    zt_store_hit_cb cb, void *ud)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_MATCH);
    sqlite3_bind_text(q, 1, fts_query, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, limit > 100000 ? 100000 : (sqlite3_int64)limit);
    int rc = 0;
    for (;;) {
        int r = sqlite3_step(q);
        if (r == SQLITE_DONE) break;
        if (r != SQLITE_ROW) {
            rc = (r & 0xff) == SQLITE_ERROR ? ZT_EINVAL : db_err(s, "match", r);
            break;
        }
        /* FTS5's bm25() is negated (lower is better) */
        rc = cb(ud, sqlite3_column_int64(q, 0), -sqlite3_column_double(q, 1));
        if (rc) break;
    }
    sqlite3_reset(q);
    return rc;
}

static int rows(struct sqlite_store *s, sqlite3_stmt *q, const char *what, zt_store_doc_cb cb, void *ud,
                size_t *seen)
{
    int rc = 0;
    size_t n = 0;
    for (;;) {
        int r = sqlite3_step(q);
        if (r == SQLITE_DONE) break;
        if (r != SQLITE_ROW) {
            rc = db_err(s, what, r);
            break;
        }
        struct zt_store_doc d = {
            .rowid = sqlite3_column_int64(q, 0),
            .payload = sqlite3_column_blob(q, 1),
            .payload_len = (size_t)sqlite3_column_bytes(q, 1),
            .vec = sqlite3_column_blob(q, 2),
            .vec_len = (size_t)sqlite3_column_bytes(q, 2),
            .ts = sqlite3_column_int64(q, 3),
            .id_ref = sqlite3_column_blob(q, 4),
        };
        if (sqlite3_column_bytes(q, 4) != ZT_STORE_REF_LEN) {
            rc = ZT_EIO; /* a row this code did not write */
            break;
        }
        n++;
        rc = cb(ud, &d);
        if (rc) break;
    }
    sqlite3_reset(q);
    if (seen) *seen = n;
    return rc;
}

static int sq_doc_get(struct zt_store *st, const uint8_t *user_ref, int64_t rowid, zt_store_doc_cb cb, void *ud)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_GET);
    sqlite3_bind_int64(q, 1, rowid);
    sqlite3_bind_blob(q, 2, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    size_t n = 0;
    int rc = rows(s, q, "doc_get", cb, ud, &n);
    if (!rc && n == 0) rc = ZT_ENOTFOUND;
    return rc;
}

static int sq_scan(struct zt_store *st, const uint8_t *user_ref, size_t limit, zt_store_doc_cb cb, void *ud)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_SCAN);
    sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
    return rows(s, q, "scan", cb, ud, NULL);
}

static int sq_count(struct zt_store *st, const uint8_t *user_ref, size_t *n)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_COUNT);
    sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    int r = sqlite3_step(q);
    int rc = 0;
    if (r == SQLITE_ROW)
        *n = (size_t)sqlite3_column_int64(q, 0);
    else
        rc = db_err(s, "count", r);
    sqlite3_reset(q);
    return rc;
}

static int sq_salt_get(struct zt_store *st, const uint8_t *ref, uint8_t *out, size_t len)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_SALT_GET);
    sqlite3_bind_blob(q, 1, ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    int r = sqlite3_step(q);
    int rc = 0;
    if (r == SQLITE_DONE)
        rc = ZT_ENOTFOUND;
    else if (r != SQLITE_ROW)
        rc = db_err(s, "salt_get", r);
    else if ((size_t)sqlite3_column_bytes(q, 0) != len)
        rc = ZT_EIO; /* a row this code did not write */
    else
        memcpy(out, sqlite3_column_blob(q, 0), len);
    sqlite3_reset(q);
    return rc;
}

static int sq_salt_put(struct zt_store *st, const uint8_t *ref, const uint8_t *salt, size_t len)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_SALT_PUT);
    sqlite3_bind_blob(q, 1, ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, salt, (int)len, SQLITE_STATIC);
    return step_done(s, q, "salt_put");
}

static int sq_salt_delete(struct zt_store *st, const uint8_t *ref, bool *found)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_SALT_DEL);
    sqlite3_bind_blob(q, 1, ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    int rc = step_done(s, q, "salt_delete");
    if (!rc) *found = sqlite3_changes(s->db) > 0;
    return rc;
}

/* Batches of 256 old rows: collect (rowid, terms), then drop each. */
static int sq_docs_expire(struct zt_store *st, int64_t before_ts, size_t *n_docs)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    size_t total = 0;
    int rc = 0;
    for (;;) {
        int64_t ids[256];
        char *terms[256];
        size_t n = 0;
        sqlite3_stmt *q = stmt(s, S_OLD_DOCS);
        sqlite3_bind_int64(q, 1, before_ts);
        for (;;) {
            int r = sqlite3_step(q);
            if (r == SQLITE_DONE) break;
            if (r != SQLITE_ROW) {
                rc = db_err(s, "old_docs", r);
                break;
            }
            const unsigned char *t = sqlite3_column_text(q, 1);
            terms[n] = zt_strdup(t ? (const char *)t : "");
            if (!terms[n]) {
                rc = ZT_ENOMEM;
                break;
            }
            ids[n++] = sqlite3_column_int64(q, 0);
            if (n == 256) break;
        }
        sqlite3_reset(q);
        if (!rc && n) {
            rc = savepoint(s);
            if (!rc) {
                for (size_t i = 0; !rc && i < n; i++) rc = drop_doc(s, ids[i], terms[i]);
                rc = release(s, rc);
            }
        }
        for (size_t i = 0; i < n; i++) zt_free(terms[i]);
        if (rc || n == 0) break;
        total += n;
    }
    if (!rc) *n_docs = total;
    return rc;
}

const struct zt_store_ops zt_store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .key_get = sq_key_get,
    .key_put = sq_key_put,
    .doc_put = sq_doc_put,
    .doc_delete = sq_doc_delete,
    .user_delete = sq_user_delete,
    .match = sq_match,
    .doc_get = sq_doc_get,
    .scan = sq_scan,
    .count = sq_count,
    .salt_get = sq_salt_get,
    .salt_put = sq_salt_put,
    .salt_delete = sq_salt_delete,
    .docs_expire = sq_docs_expire,
};
