/* sqlite.c: the SQLite backend of the storage interface (zt_store.h).
 *
 * One connection per handle (not thread-safe: callers serialise), WAL
 * journal, synchronous=NORMAL, busy timeout from the options,
 * secure_delete=ON so deleted rows are overwritten with zeros in the file
 * rather than left in free pages. Open makes meta current (bootstrap():
 * a new file, or the upgrade of the single-version layout), migrates the
 * built-in owners through zt_store_migrate, then prepares the search and
 * salt statements once. The generic statements (zt_store_prepare) are
 * thin wrappers over sqlite3_stmt. Search operations that write several
 * rows run inside a SAVEPOINT, so they are atomic alone and nest inside a
 * caller's transaction. Lock timeouts (SQLITE_BUSY/LOCKED) mark the handle
 * as in conflict so that zt_store_tx retries. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"

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
    S_SALT_GET,
    S_SALT_PUT,
    S_SALT_DEL,
    S_OLD_DOCS,
    S_USAGE,
    S_BEGIN,
    S_BEGIN_READ,
    S_COMMIT,
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
    [S_USAGE] = "SELECT count(*), coalesce(sum(length(payload) + length(vec) + length(terms)), 0) "
                "FROM search_docs WHERE user_ref = ?1",
    [S_SALT_GET] = "SELECT salt FROM identity_salts WHERE ref = ?1",
    [S_SALT_PUT] = "INSERT INTO identity_salts(ref, salt, created) VALUES(?1, ?2, "
                   "CAST(strftime('%s','now') AS INTEGER))",
    [S_SALT_DEL] = "DELETE FROM identity_salts WHERE ref = ?1",
    [S_OLD_DOCS] = "SELECT rowid, terms FROM search_docs WHERE ts < ?1 ORDER BY rowid LIMIT 256",
    /* prepared once: a job's transactions are short, and parsing BEGIN and
     * COMMIT each time was a measurable share of them (sqlite3_exec) */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_BEGIN_READ] = "BEGIN DEFERRED",
    [S_COMMIT] = "COMMIT",
};

/* The store's own owners (zt_store_migrate). Their first steps are what
 * the single-version layout had: schema_version 1 = search's step 1,
 * schema_version 2 = pseudonyms' step 1 (bootstrap() maps an old file).
 * SQLite only: the PostgreSQL backend will register its own "search" (full
 * text there is not FTS5) under the same owner names. */
static const struct zt_store_step SEARCH_STEPS[] = {
    /* 1: wrapped per-user keys, sealed messages, the blind full-text index */
    {.sql = "CREATE TABLE search_keys(user_ref BLOB PRIMARY KEY, wrapped BLOB NOT NULL,"
            "  created INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE search_docs(rowid INTEGER PRIMARY KEY, user_ref BLOB NOT NULL,"
            "  id_ref BLOB NOT NULL, payload BLOB NOT NULL, vec BLOB NOT NULL, terms TEXT NOT NULL,"
            "  ts INTEGER NOT NULL, UNIQUE(user_ref, id_ref));"
            "CREATE INDEX search_docs_user ON search_docs(user_ref, rowid);"
            "CREATE VIRTUAL TABLE search_fts USING fts5(terms, content='', tokenize='ascii');"},
};
static const struct zt_store_step PSEUDONYM_STEPS[] = {
    /* 1: per-identity salts of the audit pseudonyms (zt_pseudoid.h) */
    {.sql = "CREATE TABLE identity_salts(ref BLOB PRIMARY KEY, salt BLOB NOT NULL,"
            "  created INTEGER NOT NULL) WITHOUT ROWID;"},
};
static const struct zt_store_schema BUILTIN[] = {
    {.owner = "search", .steps = SEARCH_STEPS, .n_steps = sizeof SEARCH_STEPS / sizeof SEARCH_STEPS[0]},
    {.owner = "pseudonyms", .steps = PSEUDONYM_STEPS, .n_steps = sizeof PSEUDONYM_STEPS / sizeof PSEUDONYM_STEPS[0]},
};

struct sqlite_store {
    struct zt_store base;
    sqlite3 *db;
    sqlite3_stmt *st[N_STMT];
    char *path; /* the file, for disk_bytes (stat, no connection) */
};

/* A statement of the generic API (zt_store_prepare). */
struct sqlite_stmt {
    struct zt_store_stmt base;
    sqlite3_stmt *q;
    int64_t changes;
};

static bool is_conflict(int rc)
{
    int p = rc & 0xff;
    return p == SQLITE_BUSY || p == SQLITE_LOCKED;
}

static bool is_nomem(int rc) { return (rc & 0xff) == SQLITE_NOMEM || rc == SQLITE_IOERR_NOMEM; }

static int db_err(struct sqlite_store *s, const char *what, int rc)
{
    /* the message names the statement, never bound values */
    zt_log(ZT_LOG_WARN, "store_error", "backend=sqlite op=%s code=%d error=\"%s\"", what, rc,
           s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    if (is_conflict(rc)) {
        s->base.conflict = true;
        return ZT_EBUSY;
    }
    if (is_nomem(rc)) return ZT_ENOMEM;
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

static int has_meta(struct sqlite_store *s, bool *out)
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
    *out = have != 0;
    return 0;
}

/* One integer from a query with no parameters (-1 when there is no row). */
static int query_int(struct sqlite_store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) return db_err(s, "version", rc);
    rc = sqlite3_step(q);
    int64_t v = -1;
    if (rc == SQLITE_ROW) v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_err(s, "version", rc);
    *out = v;
    return 0;
}

/* The layout version (0 when there is no meta table yet). */
static int read_version(struct sqlite_store *s, int *out)
{
    bool have;
    int rc = has_meta(s, &have);
    if (rc) return rc;
    if (!have) {
        *out = 0;
        return 0;
    }
    int64_t v;
    rc = query_int(s, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='schema_version'", &v);
    if (rc) return rc;
    if (v < 0 || v > INT32_MAX) return ZT_EIO; /* not a file this code wrote */
    *out = (int)v;
    return 0;
}

/* Make meta hold the layout version and one row per built-in owner. A new
 * file gets meta with both owners at 0 (their rows exist from the start,
 * so an interrupted first open is never taken for an old file). A file of
 * the single-version layout (schema_version 1 or 2 and no owner rows) gets
 * the owner versions its tables are at: search 1 from schema_version 1,
 * pseudonyms 1 from 2. A layout newer than this binary is refused. */
static int bootstrap(struct sqlite_store *s)
{
    int rc = exec(s, "BEGIN IMMEDIATE");
    if (rc) return rc;
    bool have;
    rc = has_meta(s, &have);
    if (rc) goto out;
    if (!have) {
        rc = exec(s, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
                     "INSERT INTO meta(key, value) VALUES('schema_version', '2'),"
                     "  ('" ZT__STORE_OWNER_KEY "search', '0'), ('" ZT__STORE_OWNER_KEY "pseudonyms', '0');");
        goto out;
    }
    int v;
    rc = read_version(s, &v);
    if (rc) goto out;
    if (v > ZT_STORE_SCHEMA_VERSION) {
        zt_log(ZT_LOG_ERROR, "store_schema_newer",
               "backend=sqlite version=%d supported=%d reason=\"the database was written by a newer zentalk\"", v,
               ZT_STORE_SCHEMA_VERSION);
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    int64_t owners;
    rc = query_int(s, "SELECT count(*) FROM meta WHERE substr(key, 1, 15) = '" ZT__STORE_OWNER_KEY "'", &owners);
    if (rc || owners > 0) goto out;
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO meta(key, value) VALUES('" ZT__STORE_OWNER_KEY "search', '%d'),"
             "  ('" ZT__STORE_OWNER_KEY "pseudonyms', '%d');"
             "UPDATE meta SET value = '%d' WHERE key = 'schema_version';",
             v >= 1, v >= 2, ZT_STORE_SCHEMA_VERSION);
    rc = exec(s, sql);
    if (!rc) zt_log(ZT_LOG_INFO, "store_upgraded", "backend=sqlite from_version=%d to=per_owner", v);
out:
    if (!rc) rc = exec(s, "COMMIT");
    if (rc) zt_ignore(exec(s, "ROLLBACK"));
    return rc;
}

static void sq_close(struct zt_store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    if (!s) return;
    for (int i = 0; i < N_STMT; i++) sqlite3_finalize(s->st[i]);
    if (s->db) sqlite3_close(s->db);
    zt_free(s->path);
    zt_free(s);
}

/* An integer PRAGMA's value (name: "auto_vacuum"), or -1. */
static int64_t pragma_int(struct sqlite_store *s, const char *name)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA %s", name);
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Space freed by deletes goes back to the file system (issue 17 item 9:
 * deleting a user left 570 MB and a 304 MB WAL): a new file is created
 * with incremental auto-vacuum (set before its first table); a file made
 * without it is converted once, by a VACUUM. */
static int vacuum_mode(struct sqlite_store *s)
{
    if (pragma_int(s, "auto_vacuum") == 2) return 0; /* INCREMENTAL */
    int rc = exec(s, "PRAGMA auto_vacuum=INCREMENTAL");
    if (rc || pragma_int(s, "auto_vacuum") == 2) return rc; /* an empty file takes it at once */
    zt_log(ZT_LOG_INFO, "store_vacuum", "backend=sqlite reason=\"converting to incremental auto-vacuum (once)\"");
    return exec(s, "VACUUM");
}

static int sq_open(const struct zt_store_opts *o, struct zt_store **out)
{
    if (!o || !o->path || !o->path[0]) return ZT_EINVAL;
    if (!sqlite3_compileoption_used("ENABLE_FTS5")) {
        zt_log(ZT_LOG_ERROR, "store_no_fts5", "backend=sqlite reason=\"SQLite built without FTS5\"");
        return ZT_EUNSUPPORTED;
    }
    /* create the file 0600 before SQLite does (it copies the mode to
     * -wal/-shm), but never open and close one that exists: closing any
     * descriptor of the file drops every POSIX lock this process holds on
     * it, those of the connections already open included (sqlite.org
     * howtocorrupt.html 2.2). Without their SHARED lock, another process
     * (the CLI) closing its connection checkpointed and deleted the WAL
     * this node went on writing to: its later writes were lost. */
    int fd = open(o->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    else if (errno != EEXIST) return ZT_EIO;
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
    s->path = zt_strdup(o->path);
    if (!s->path) {
        rc = ZT_ENOMEM;
        goto out;
    }
    /* auto_vacuum first: it must be set before the file's first table;
     * journal_size_limit truncates the WAL after checkpoints */
    rc = exec(s, "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 "PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                 "PRAGMA journal_size_limit=67108864;");
    if (rc) goto out;
    s->base.tx_attempts = o->tx_attempts;
    rc = bootstrap(s);
    if (!rc) rc = vacuum_mode(s);
    for (size_t i = 0; !rc && i < sizeof BUILTIN / sizeof BUILTIN[0]; i++) rc = zt_store_migrate(&s->base, &BUILTIN[i]);
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

/* Statement i of the table (a transaction's BEGIN or COMMIT), run once;
 * before the table is prepared (the schema steps at open), sql through
 * sqlite3_exec. The same errors as exec. */
static int exec_stmt(struct sqlite_store *s, int i, const char *sql)
{
    sqlite3_stmt *q = s->st[i];
    if (!q) return exec(s, sql);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : db_err(s, sql, rc);
}

static int sq_begin(struct zt_store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    int rc = exec_stmt(s, S_BEGIN, "BEGIN IMMEDIATE");
    if (!rc && st->tx_first && (rc = exec(s, st->tx_first)) != 0 && !sqlite3_get_autocommit(s->db))
        zt_ignore(exec(s, "ROLLBACK"));
    return rc;
}
static int sq_begin_read(struct zt_store *st) { return exec_stmt((struct sqlite_store *)st, S_BEGIN_READ, "BEGIN DEFERRED"); }
static int sq_commit(struct zt_store *st) { return exec_stmt((struct sqlite_store *)st, S_COMMIT, "COMMIT"); }

static int sq_rollback(struct zt_store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    /* SQLite rolls back by itself after some errors (SQLITE_FULL, IOERR, NOMEM) */
    if (sqlite3_get_autocommit(s->db)) return 0;
    return exec(s, "ROLLBACK");
}

/* ---- generic statements ---------------------------------------------------- */

static int sq_exec(struct zt_store *st, const char *script) { return exec((struct sqlite_store *)st, script); }

static bool blank(const char *p)
{
    for (; *p; p++)
        if (!(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';')) return false;
    return true;
}

static int sq_prepare(struct zt_store *st, const char *sql, struct zt_store_stmt **out)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct sqlite_stmt *q = zt_calloc(1, sizeof *q);
    if (!q) return ZT_ENOMEM;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(s->db, sql, -1, 0, &q->q, &tail);
    if (rc != SQLITE_OK || !q->q || (tail && !blank(tail))) {
        int e = rc != SQLITE_OK ? db_err(s, "prepare", rc) : ZT_EINVAL;
        if (rc != SQLITE_OK && (rc & 0xff) == SQLITE_ERROR) e = ZT_EINVAL; /* syntax, unknown table */
        sqlite3_finalize(q->q);
        zt_free(q);
        return e;
    }
    *out = &q->base;
    return 0;
}

static void sq_finalize(struct zt_store_stmt *zq)
{
    struct sqlite_stmt *q = (struct sqlite_stmt *)zq;
    sqlite3_finalize(q->q);
    zt_free(q);
}

static struct sqlite_store *store_of(struct zt_store_stmt *zq) { return (struct sqlite_store *)zq->st; }

static int bind_rc(struct zt_store_stmt *zq, int rc)
{
    if (rc == SQLITE_OK) return 0;
    if (rc == SQLITE_RANGE) return ZT_ERANGE;
    if (rc == SQLITE_TOOBIG) return ZT_ETOOBIG;
    if ((rc & 0xff) == SQLITE_MISUSE) return ZT_EINVAL; /* bind while a statement runs: reset first */
    return db_err(store_of(zq), "bind", rc);
}

static int sq_bind_null(struct zt_store_stmt *zq, int i)
{
    return bind_rc(zq, sqlite3_bind_null(((struct sqlite_stmt *)zq)->q, i));
}

static int sq_bind_i64(struct zt_store_stmt *zq, int i, int64_t v)
{
    return bind_rc(zq, sqlite3_bind_int64(((struct sqlite_stmt *)zq)->q, i, v));
}

static int sq_bind_text(struct zt_store_stmt *zq, int i, const char *p, size_t len)
{
    return bind_rc(zq, sqlite3_bind_text64(((struct sqlite_stmt *)zq)->q, i, p, len, SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int sq_bind_blob(struct zt_store_stmt *zq, int i, const void *p, size_t len)
{
    return bind_rc(zq, sqlite3_bind_blob64(((struct sqlite_stmt *)zq)->q, i, p, len, SQLITE_TRANSIENT));
}

static int sq_step(struct zt_store_stmt *zq)
{
    struct sqlite_stmt *q = (struct sqlite_stmt *)zq;
    struct sqlite_store *s = store_of(zq);
    int rc = sqlite3_step(q->q);
    if (rc == SQLITE_ROW) return ZT_STORE_ROW;
    if (rc == SQLITE_DONE) {
        q->changes = sqlite3_changes64(s->db);
        sqlite3_reset(q->q); /* releases the statement's read lock; bindings stay */
        return ZT_STORE_DONE;
    }
    sqlite3_reset(q->q);
    int p = rc & 0xff;
    if (p == SQLITE_CONSTRAINT)
        return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_ROWID
                   ? ZT_EEXIST
                   : ZT_EINVAL;
    if (p == SQLITE_MISMATCH) return ZT_EINVAL;
    return db_err(s, "step", rc);
}

static void sq_reset(struct zt_store_stmt *zq)
{
    struct sqlite_stmt *q = (struct sqlite_stmt *)zq;
    sqlite3_reset(q->q);
    sqlite3_clear_bindings(q->q);
}

static int sq_column_count(struct zt_store_stmt *zq) { return sqlite3_data_count(((struct sqlite_stmt *)zq)->q); }

static enum zt_store_type sq_column_type(struct zt_store_stmt *zq, int i)
{
    switch (sqlite3_column_type(((struct sqlite_stmt *)zq)->q, i)) {
    case SQLITE_INTEGER: return ZT_STORE_INT;
    case SQLITE_TEXT: return ZT_STORE_TEXT;
    case SQLITE_BLOB: return ZT_STORE_BLOB;
    case SQLITE_FLOAT: return ZT_STORE_REAL;
    default: return ZT_STORE_NULL;
    }
}

static int64_t sq_column_i64(struct zt_store_stmt *zq, int i)
{
    return sqlite3_column_int64(((struct sqlite_stmt *)zq)->q, i);
}

static const char *sq_column_text(struct zt_store_stmt *zq, int i, size_t *len)
{
    sqlite3_stmt *q = ((struct sqlite_stmt *)zq)->q;
    const char *p = (const char *)sqlite3_column_text(q, i);
    *len = (size_t)sqlite3_column_bytes(q, i);
    return p;
}

static const void *sq_column_blob(struct zt_store_stmt *zq, int i, size_t *len)
{
    sqlite3_stmt *q = ((struct sqlite_stmt *)zq)->q;
    const void *p = sqlite3_column_blob(q, i);
    *len = (size_t)sqlite3_column_bytes(q, i);
    return p;
}

static int64_t sq_changes(struct zt_store_stmt *zq) { return ((struct sqlite_stmt *)zq)->changes; }

static int step_done(struct sqlite_store *s, sqlite3_stmt *q, const char *what)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return ZT_EEXIST;
    return db_err(s, what, rc);
}

/* The blob column of ref's row by statement which (S_KEY_GET, S_SALT_GET):
 * ZT_ENOTFOUND without a row; longer than cap: ZT_ETOOBIG, or with exact
 * any other length than cap: ZT_EIO (a row this code did not write). */
static int get_ref_blob(struct sqlite_store *s, int which, const char *what, const uint8_t *ref, uint8_t *out,
                        size_t cap, bool exact, size_t *len)
{
    sqlite3_stmt *q = stmt(s, which);
    sqlite3_bind_blob(q, 1, ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    int r = sqlite3_step(q);
    int rc = 0;
    size_t n = 0;
    if (r == SQLITE_DONE)
        rc = ZT_ENOTFOUND;
    else if (r != SQLITE_ROW)
        rc = db_err(s, what, r);
    else {
        n = (size_t)sqlite3_column_bytes(q, 0);
        if (exact ? n != cap : n > cap) rc = exact ? ZT_EIO : ZT_ETOOBIG;
        else if (n) memcpy(out, sqlite3_column_blob(q, 0), n);
    }
    sqlite3_reset(q);
    if (!rc && len) *len = n;
    return rc;
}

/* Insert (ref, blob) by statement which (S_KEY_PUT, S_SALT_PUT). */
static int put_ref_blob(struct sqlite_store *s, int which, const char *what, const uint8_t *ref,
                        const uint8_t *blob, size_t len)
{
    sqlite3_stmt *q = stmt(s, which);
    sqlite3_bind_blob(q, 1, ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, blob, (int)len, SQLITE_STATIC);
    return step_done(s, q, what);
}

static int sq_key_get(struct zt_store *st, const uint8_t *user_ref, uint8_t *out, size_t cap, size_t *len)
{
    return get_ref_blob((struct sqlite_store *)st, S_KEY_GET, "key_get", user_ref, out, cap, false, len);
}

static int sq_key_put(struct zt_store *st, const uint8_t *user_ref, const uint8_t *wrapped, size_t len)
{
    return put_ref_blob((struct sqlite_store *)st, S_KEY_PUT, "key_put", user_ref, wrapped, len);
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

static int sq_usage(struct zt_store *st, const uint8_t *user_ref, size_t *n_docs, uint64_t *bytes)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = stmt(s, S_USAGE);
    sqlite3_bind_blob(q, 1, user_ref, ZT_STORE_REF_LEN, SQLITE_STATIC);
    int r = sqlite3_step(q);
    int rc = 0;
    if (r == SQLITE_ROW) {
        *n_docs = (size_t)sqlite3_column_int64(q, 0);
        *bytes = (uint64_t)sqlite3_column_int64(q, 1);
    } else {
        rc = db_err(s, "usage", r);
    }
    sqlite3_reset(q);
    return rc;
}

static int sq_compact(struct zt_store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    if (!sqlite3_get_autocommit(s->db)) return 0; /* inside a transaction: at its end */
    /* free pages back to the OS, then fold the WAL into the file and
     * truncate it (the vacuum's pages are in the WAL until then) */
    int rc = exec(s, "PRAGMA incremental_vacuum;");
    if (!rc) rc = exec(s, "PRAGMA wal_checkpoint(TRUNCATE);");
    return rc;
}

static int sq_disk_bytes(struct zt_store *st, uint64_t *bytes)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct stat a;
    if (stat(s->path, &a) != 0) return ZT_EIO;
    uint64_t n = (uint64_t)a.st_size;
    char wal[4096];
    if (snprintf(wal, sizeof wal, "%s-wal", s->path) < (int)sizeof wal && stat(wal, &a) == 0) n += (uint64_t)a.st_size;
    *bytes = n;
    return 0;
}

static int sq_salt_get(struct zt_store *st, const uint8_t *ref, uint8_t *out, size_t len)
{
    return get_ref_blob((struct sqlite_store *)st, S_SALT_GET, "salt_get", ref, out, len, true, NULL);
}

static int sq_salt_put(struct zt_store *st, const uint8_t *ref, const uint8_t *salt, size_t len)
{
    return put_ref_blob((struct sqlite_store *)st, S_SALT_PUT, "salt_put", ref, salt, len);
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
    .dialect = ZT_STORE_DIALECT_SQLITE,
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .begin_read = sq_begin_read,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .bind_null = sq_bind_null,
    .bind_i64 = sq_bind_i64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .reset = sq_reset,
    .column_count = sq_column_count,
    .column_type = sq_column_type,
    .column_i64 = sq_column_i64,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .changes = sq_changes,
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
    .usage = sq_usage,
    .compact = sq_compact,
    .disk_bytes = sq_disk_bytes,
};
