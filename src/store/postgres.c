/* postgres.c: the PostgreSQL backend of the storage interface (zt_store.h,
 * docs/internals/store.md "PostgreSQL backend").
 *
 * One libpq connection per handle (not thread-safe: one handle per thread,
 * as with SQLite). The generic statements are server-side prepared
 * statements: portable `?` parameters are rewritten to $1, $2 ...
 * (zt__store_sql_to_pg) and the server infers each parameter's type from
 * its use. Values travel as text (integers in decimal, text as it is)
 * except blobs, which are sent binary; results come back as text: bigint
 * and the other integer types read as ZT_STORE_INT, bytea (hex output) is
 * decoded into a per-row buffer as ZT_STORE_BLOB, NUMERIC is decimal text
 * (the ledger's NUMERIC(39,0) amounts are u128 as decimal text; no
 * floating point anywhere). Transactions are BEGIN ISOLATION LEVEL
 * SERIALIZABLE; SQLSTATE 40001 (serialization failure), 40P01 (deadlock)
 * and 55P03 (lock not available) mark a conflict, so zt_store_tx retries.
 *
 * meta (the layout and per-owner versions) is created on first open under
 * a session advisory lock, and migrations run under another, so several
 * orchestrators may open and migrate one database at once. The store's
 * own owner "pseudonyms" (identity_salts, BYTEA) is migrated at open; the
 * private-search operations need SQLite's FTS5 and answer ZT_EUNSUPPORTED
 * here (the search index stays in its own SQLite file:
 * zt_store_open_config). A lost connection is re-established outside a
 * transaction; statements are prepared again on the new one. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"

/* pg_type OIDs (server/catalog/pg_type_d.h is not installed by libpq-dev) */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
};

/* session advisory lock keys: meta's creation, migrations */
#define LOCK_META "7239101"
#define LOCK_MIGRATE "7239102"

struct pg_stmt;

struct pg_store {
    struct zt_store base;
    PGconn *c;
    char *conninfo;
    uint64_t gen;       /* connection generation: statements prepared on an older one are prepared again */
    int64_t lock_timeout_ms;
    uint64_t next_name; /* statement names zt<n> */
    struct pg_stmt *salt_get, *salt_put, *salt_del;
    bool warned_search;
};

struct pg_stmt {
    struct zt_store_stmt base;
    char *sql;      /* rewritten to $n */
    char name[24];
    uint64_t gen;   /* the connection generation it was prepared on (0: not yet) */
    int n_params;
    char **vals;    /* owned copies; NULL = SQL NULL */
    int *lens;
    int *fmts;      /* 0 text, 1 binary (blobs) */
    PGresult *res;  /* the current execution's rows */
    int row, n_rows;
    int64_t changes;
    uint8_t **blobs; /* decoded bytea of the current row, per column */
    size_t *blob_len;
    int n_cols;
};

static const struct zt_store_step PSEUDONYM_STEPS_PG[] = {
    /* 1: per-identity salts of the audit pseudonyms (zt_pseudoid.h) */
    {.sql = "CREATE TABLE identity_salts(ref BYTEA PRIMARY KEY, salt BYTEA NOT NULL, created BIGINT NOT NULL);"},
};
static const struct zt_store_schema BUILTIN_PG[] = {
    {.owner = "pseudonyms",
     .steps = PSEUDONYM_STEPS_PG,
     .n_steps = sizeof PSEUDONYM_STEPS_PG / sizeof PSEUDONYM_STEPS_PG[0]},
};

static void no_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* A server or libpq message fit for a log value: quotes become ', line
 * breaks and tabs spaces (libpq ends lines with \n\t), trailing space
 * dropped, cut to the buffer. */
static void msg_clean(char *out, size_t cap, const char *in)
{
    size_t n = 0;
    for (const char *p = in ? in : ""; *p && n + 1 < cap; p++) {
        char c = (char)(*p == '"' ? '\'' : (unsigned char)*p < 0x20 ? ' ' : *p);
        if (c == ' ' && (n == 0 || out[n - 1] == ' ')) continue;
        out[n++] = c;
    }
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = '\0';
}

static bool sqlstate_is(const char *st, const char *want) { return st && strcmp(st, want) == 0; }

/* Map a failed result (or a NULL one: the connection) to an error code,
 * logging the SQLSTATE and the server's primary message (never a DETAIL,
 * which can quote values; class 22 messages can too, so those are not
 * printed). */
static int pg_err(struct pg_store *s, const char *what, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg) msg = PQerrorMessage(s->c);
    bool values = state && strncmp(state, "22", 2) == 0;
    int rc = ZT_EIO;
    if (!state) rc = ZT_EIO;
    else if (sqlstate_is(state, "40001") || sqlstate_is(state, "40P01") || sqlstate_is(state, "55P03")) {
        s->base.conflict = true;
        rc = ZT_EBUSY;
    } else if (sqlstate_is(state, "23505"))
        rc = ZT_EEXIST;
    else if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0 || strncmp(state, "42", 2) == 0)
        rc = ZT_EINVAL;
    else if (sqlstate_is(state, "53200"))
        rc = ZT_ENOMEM;
    enum zt_log_level level = rc == ZT_EEXIST || rc == ZT_EBUSY ? ZT_LOG_DEBUG : ZT_LOG_WARN;
    char m[256];
    msg_clean(m, sizeof m, values ? "(not shown: may quote a value)" : msg);
    zt_log(level, "store_error", "backend=postgres op=%s sqlstate=%s error=\"%s\"", what, state ? state : "none", m);
    return rc;
}

/* The session's settings, on every (re)connection: a statement that
 * waits on a lock longer than the busy timeout fails (55P03, a conflict
 * zt_store_tx retries); text is UTF-8; bytea comes back as hex (what
 * column_blob decodes); no NOTICEs. */
static int session_setup(struct pg_store *s)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SET lock_timeout = %lld; SET client_encoding = 'UTF8'; SET bytea_output = 'hex';"
             " SET client_min_messages = warning",
             (long long)s->lock_timeout_ms);
    PGresult *r = PQexec(s->c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_err(s, "session", r);
    PQclear(r);
    return rc;
}

/* Re-establish a lost connection (only outside a transaction: a broken
 * transaction is the caller's error to see). */
static void pg_check_conn(struct pg_store *s)
{
    if (PQstatus(s->c) != CONNECTION_BAD || s->base.tx_depth) return;
    PQreset(s->c);
    if (PQstatus(s->c) == CONNECTION_OK) {
        s->gen++; /* a new session: its statements are prepared again */
        zt_ignore(session_setup(s));
        zt_log(ZT_LOG_WARN, "store_reconnected", "backend=postgres");
    }
}

/* A command with no parameters: 0 when it succeeded (rows, if any, are
 * dropped). */
static int pg_cmd(struct pg_store *s, const char *sql, const char *what)
{
    pg_check_conn(s);
    PGresult *r = PQexec(s->c, sql);
    ExecStatusType t = PQresultStatus(r);
    int rc = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK || t == PGRES_EMPTY_QUERY ? 0 : pg_err(s, what, r);
    PQclear(r);
    /* as SQLite's exec: a script that fails (syntax, constraint) is ZT_EIO */
    if (rc == ZT_EINVAL || rc == ZT_EEXIST) rc = ZT_EIO;
    return rc;
}

/* ---- statements --------------------------------------------------------------- */

static void drop_row(struct pg_stmt *q)
{
    for (int i = 0; i < q->n_cols; i++) {
        zt_free(q->blobs[i]);
        q->blobs[i] = NULL;
    }
}

static void drop_result(struct pg_stmt *q)
{
    drop_row(q);
    zt_free(q->blobs);
    zt_free(q->blob_len);
    q->blobs = NULL;
    q->blob_len = NULL;
    q->n_cols = 0;
    PQclear(q->res);
    q->res = NULL;
    q->row = q->n_rows = 0;
}

static int pg_prepare_on_server(struct pg_store *s, struct pg_stmt *q)
{
    PGresult *r = PQprepare(s->c, q->name, q->sql, q->n_params, NULL);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_err(s, "prepare", r);
    PQclear(r);
    if (!rc) q->gen = s->gen;
    return rc;
}

static bool blank(const char *p)
{
    for (; *p; p++)
        if (!(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';')) return false;
    return true;
}

static int stmt_new(struct pg_store *s, const char *sql, struct pg_stmt **out)
{
    if (blank(sql)) return ZT_EINVAL; /* the server would prepare an empty query */
    struct pg_stmt *q = zt_calloc(1, sizeof *q);
    if (!q) return ZT_ENOMEM;
    q->base.st = &s->base;
    int rc = zt__store_sql_to_pg(sql, &q->sql, &q->n_params);
    if (rc) goto out;
    snprintf(q->name, sizeof q->name, "zt%llu", (unsigned long long)++s->next_name);
    if (q->n_params > 0) {
        size_t n = (size_t)q->n_params;
        q->vals = zt_calloc(n, sizeof *q->vals);
        q->lens = zt_calloc(n, sizeof *q->lens);
        q->fmts = zt_calloc(n, sizeof *q->fmts);
        if (!q->vals || !q->lens || !q->fmts) {
            rc = ZT_ENOMEM;
            goto out;
        }
    }
    pg_check_conn(s);
    rc = pg_prepare_on_server(s, q);
out:
    if (rc) {
        zt_free(q->sql);
        zt_free(q->vals);
        zt_free(q->lens);
        zt_free(q->fmts);
        zt_free(q);
        return rc;
    }
    *out = q;
    return 0;
}

static void clear_binds(struct pg_stmt *q)
{
    for (int i = 0; i < q->n_params; i++) {
        zt_free(q->vals[i]);
        q->vals[i] = NULL;
        q->lens[i] = 0;
        q->fmts[i] = 0;
    }
}

static void stmt_free(struct pg_stmt *q)
{
    if (!q) return;
    struct pg_store *s = (struct pg_store *)q->base.st;
    drop_result(q);
    clear_binds(q);
    /* in a failed transaction the server refuses DEALLOCATE: the name
     * then lives as long as the connection */
    if (q->gen == s->gen && PQstatus(s->c) == CONNECTION_OK && PQtransactionStatus(s->c) != PQTRANS_INERROR) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", q->name);
        PQclear(PQexec(s->c, sql));
    }
    zt_free(q->sql);
    zt_free(q->vals);
    zt_free(q->lens);
    zt_free(q->fmts);
    zt_free(q);
}

static int set_param(struct pg_stmt *q, int i, const void *p, size_t len, int fmt)
{
    if (i < 1 || i > q->n_params) return ZT_ERANGE;
    if (len > INT32_MAX - 1) return ZT_ETOOBIG;
    char *v = NULL;
    if (p) {
        v = zt_malloc(len + 1);
        if (!v) return ZT_ENOMEM;
        if (len) memcpy(v, p, len);
        v[len] = '\0';
    }
    zt_free(q->vals[i - 1]);
    q->vals[i - 1] = v;
    q->lens[i - 1] = (int)len;
    q->fmts[i - 1] = fmt;
    return 0;
}

static int stmt_step(struct pg_stmt *q)
{
    struct pg_store *s = (struct pg_store *)q->base.st;
    if (q->res) {
        drop_row(q);
        if (++q->row < q->n_rows) return ZT_STORE_ROW;
        drop_result(q);
        return ZT_STORE_DONE;
    }
    pg_check_conn(s);
    int rc;
    if (q->gen != s->gen && (rc = pg_prepare_on_server(s, q)) != 0) return rc;
    PGresult *r = PQexecPrepared(s->c, q->name, q->n_params, (const char *const *)q->vals, q->lens, q->fmts, 0);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK) {
        rc = pg_err(s, "step", r);
        PQclear(r);
        return rc;
    }
    const char *ct = PQcmdTuples(r);
    q->changes = ct && ct[0] ? strtoll(ct, NULL, 10) : 0;
    if (t == PGRES_COMMAND_OK || PQntuples(r) == 0) {
        PQclear(r);
        return ZT_STORE_DONE;
    }
    int nc = PQnfields(r);
    q->blobs = zt_calloc((size_t)nc, sizeof *q->blobs);
    q->blob_len = zt_calloc((size_t)nc, sizeof *q->blob_len);
    if (!q->blobs || !q->blob_len) {
        zt_free(q->blobs);
        zt_free(q->blob_len);
        q->blobs = NULL;
        q->blob_len = NULL;
        PQclear(r);
        return ZT_ENOMEM;
    }
    q->res = r;
    q->n_cols = nc;
    q->n_rows = PQntuples(r);
    q->row = 0;
    return ZT_STORE_ROW;
}

static enum zt_store_type col_type(struct pg_stmt *q, int i)
{
    if (PQgetisnull(q->res, q->row, i)) return ZT_STORE_NULL;
    switch (PQftype(q->res, i)) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID: return ZT_STORE_INT;
    case OID_BYTEA: return ZT_STORE_BLOB;
    case OID_FLOAT4:
    case OID_FLOAT8: return ZT_STORE_REAL;
    default: return ZT_STORE_TEXT; /* text, NUMERIC as decimal text, ... */
    }
}

/* ---- the vtable: connection and transactions -------------------------------- */

static void pg_close(struct zt_store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    if (!s) return;
    stmt_free(s->salt_get);
    stmt_free(s->salt_put);
    stmt_free(s->salt_del);
    if (s->c) PQfinish(s->c);
    zt_free(s->conninfo);
    zt_free(s);
}

/* A single integer from a query with no parameters; -1 when no row. */
static int query_int(struct pg_store *s, const char *sql, int64_t *out)
{
    PGresult *r = PQexec(s->c, sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pg_err(s, "version", r);
    else if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0))
        *out = -1;
    else {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(PQgetvalue(r, 0, 0), &end, 10);
        if (errno || !end || *end) rc = ZT_EIO;
        else *out = v;
    }
    PQclear(r);
    return rc;
}

static int read_version(struct pg_store *s, int *out)
{
    int64_t v;
    int rc = query_int(s, "SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'schema_version'", &v);
    if (rc) return rc;
    if (v < 0 || v > INT32_MAX) return ZT_EIO;
    *out = (int)v;
    return 0;
}

/* meta with the layout version and the built-in owners' rows, created
 * once under an advisory lock (several processes may open at once). */
static int bootstrap(struct pg_store *s)
{
    int rc = pg_cmd(s, "SELECT pg_advisory_lock(" LOCK_META ")", "bootstrap");
    if (rc) return rc;
    rc = pg_cmd(s,
                "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "INSERT INTO meta(key, value) VALUES('schema_version', '2'),"
                "  ('" ZT__STORE_OWNER_KEY "search', '0'), ('" ZT__STORE_OWNER_KEY "pseudonyms', '0')"
                "  ON CONFLICT(key) DO NOTHING;",
                "bootstrap");
    zt_ignore(pg_cmd(s, "SELECT pg_advisory_unlock(" LOCK_META ")", "bootstrap"));
    if (rc) return rc;
    int v;
    rc = read_version(s, &v);
    if (!rc && v > ZT_STORE_SCHEMA_VERSION) {
        zt_log(ZT_LOG_ERROR, "store_schema_newer",
               "backend=postgres version=%d supported=%d reason=\"the database was written by a newer zentalk\"", v,
               ZT_STORE_SCHEMA_VERSION);
        rc = ZT_EUNSUPPORTED;
    }
    return rc;
}

static int pg_open(const struct zt_store_opts *o, struct zt_store **out)
{
    if (!o || !o->path || !o->path[0]) return ZT_EINVAL;
    struct pg_store *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    s->base.ops = &zt_store_postgres;
    s->base.tx_attempts = o->tx_attempts;
    s->gen = 1;
    int rc = ZT_ENOMEM;
    s->conninfo = zt_strdup(o->path);
    if (!s->conninfo) goto out;
    s->c = PQconnectdb(s->conninfo);
    if (!s->c || PQstatus(s->c) != CONNECTION_OK) {
        /* libpq's message names the host and the reason, never the password */
        char m[256];
        msg_clean(m, sizeof m, s->c ? PQerrorMessage(s->c) : "out of memory");
        zt_log(ZT_LOG_ERROR, "store_connect_failed", "backend=postgres error=\"%s\"", m);
        rc = s->c ? ZT_EIO : ZT_ENOMEM;
        goto out;
    }
    PQsetNoticeProcessor(s->c, no_notice, NULL);
    s->lock_timeout_ms = o->busy_timeout_ms > 0 && o->busy_timeout_ms < 600000 ? o->busy_timeout_ms : 5000;
    rc = session_setup(s);
    if (!rc) rc = bootstrap(s);
    for (size_t i = 0; !rc && i < sizeof BUILTIN_PG / sizeof BUILTIN_PG[0]; i++)
        rc = zt_store_migrate(&s->base, &BUILTIN_PG[i]);
    if (!rc) rc = stmt_new(s, "SELECT salt FROM identity_salts WHERE ref = ?", &s->salt_get);
    if (!rc)
        rc = stmt_new(s,
                      "INSERT INTO identity_salts(ref, salt, created) VALUES(?, ?,"
                      " CAST(extract(epoch FROM now()) AS BIGINT))",
                      &s->salt_put);
    if (!rc) rc = stmt_new(s, "DELETE FROM identity_salts WHERE ref = ?", &s->salt_del);
    if (rc) goto out;
    *out = &s->base;
    return 0;
out:
    pg_close(&s->base);
    return rc;
}

static int pg_schema_version(struct zt_store *st, int *out) { return read_version((struct pg_store *)st, out); }

static int pg_begin(struct zt_store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    if (!st->tx_first) return pg_cmd(s, "BEGIN ISOLATION LEVEL SERIALIZABLE", "begin");
    /* one round trip: BEGIN and the transaction's first statement */
    struct zt_buf b;
    zt_buf_init(&b, 1 << 16);
    int rc = zt_buf_appendf(&b, "BEGIN ISOLATION LEVEL SERIALIZABLE; %s", st->tx_first);
    if (!rc) rc = pg_cmd(s, zt_buf_str(&b), "begin");
    zt_buf_deinit(&b);
    if (rc && PQtransactionStatus(s->c) != PQTRANS_IDLE) zt_ignore(pg_cmd(s, "ROLLBACK", "rollback"));
    return rc;
}

static int pg_begin_read(struct zt_store *st)
{
    return pg_cmd((struct pg_store *)st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin");
}

static int pg_commit(struct zt_store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    PGresult *r = PQexec(s->c, "COMMIT");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_err(s, "commit", r);
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = ZT_EIO; /* the transaction had failed: the server rolled it back */
    PQclear(r);
    return rc;
}

static int pg_rollback(struct zt_store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    if (PQstatus(s->c) != CONNECTION_OK || PQtransactionStatus(s->c) == PQTRANS_IDLE) return 0;
    return pg_cmd(s, "ROLLBACK", "rollback");
}

static int pg_migrate_lock(struct zt_store *st, bool lock)
{
    return pg_cmd((struct pg_store *)st,
                  lock ? "SELECT pg_advisory_lock(" LOCK_MIGRATE ")" : "SELECT pg_advisory_unlock(" LOCK_MIGRATE ")",
                  "migrate_lock");
}

/* ---- the vtable: generic statements ------------------------------------------ */

static int pg_exec(struct zt_store *st, const char *script) { return pg_cmd((struct pg_store *)st, script, "exec"); }

static int pg_prepare(struct zt_store *st, const char *sql, struct zt_store_stmt **out)
{
    struct pg_stmt *q = NULL;
    int rc = stmt_new((struct pg_store *)st, sql, &q);
    if (!rc) *out = &q->base;
    return rc;
}

static void pg_finalize(struct zt_store_stmt *zq) { stmt_free((struct pg_stmt *)zq); }

static int pg_bind_null(struct zt_store_stmt *zq, int i) { return set_param((struct pg_stmt *)zq, i, NULL, 0, 0); }

static int pg_bind_i64(struct zt_store_stmt *zq, int i, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    return set_param((struct pg_stmt *)zq, i, b, (size_t)n, 0);
}

static int pg_bind_text(struct zt_store_stmt *zq, int i, const char *p, size_t len)
{
    return set_param((struct pg_stmt *)zq, i, p, len, 0);
}

static int pg_bind_blob(struct zt_store_stmt *zq, int i, const void *p, size_t len)
{
    /* a non-NULL pointer even for an empty blob: '' is not NULL */
    return set_param((struct pg_stmt *)zq, i, len ? p : "", len, 1);
}

static int pg_step(struct zt_store_stmt *zq) { return stmt_step((struct pg_stmt *)zq); }

static void pg_reset(struct zt_store_stmt *zq)
{
    struct pg_stmt *q = (struct pg_stmt *)zq;
    drop_result(q);
    clear_binds(q);
}

static int pg_column_count(struct zt_store_stmt *zq)
{
    struct pg_stmt *q = (struct pg_stmt *)zq;
    return q->res ? q->n_cols : 0;
}

static enum zt_store_type pg_column_type(struct zt_store_stmt *zq, int i)
{
    return col_type((struct pg_stmt *)zq, i);
}

static int64_t pg_column_i64(struct zt_store_stmt *zq, int i)
{
    struct pg_stmt *q = (struct pg_stmt *)zq;
    const char *v = PQgetvalue(q->res, q->row, i);
    if (PQftype(q->res, i) == OID_BOOL) return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static const char *pg_column_text(struct zt_store_stmt *zq, int i, size_t *len)
{
    struct pg_stmt *q = (struct pg_stmt *)zq;
    *len = (size_t)PQgetlength(q->res, q->row, i);
    return PQgetvalue(q->res, q->row, i);
}

static const void *pg_column_blob(struct zt_store_stmt *zq, int i, size_t *len)
{
    struct pg_stmt *q = (struct pg_stmt *)zq;
    if (!q->blobs[i]) {
        /* bytea's text output: \x then two hex digits a byte */
        const char *v = PQgetvalue(q->res, q->row, i);
        size_t n = (size_t)PQgetlength(q->res, q->row, i);
        if (n < 2 || v[0] != '\\' || v[1] != 'x' || (n - 2) % 2) {
            *len = 0;
            return NULL;
        }
        size_t m = (n - 2) / 2;
        uint8_t *b = zt_malloc(m ? m : 1);
        if (!b || zt_hex_decode(b, m, v + 2, n - 2, ZT_HEX_LOWER) != 0) {
            zt_free(b);
            *len = 0;
            return NULL;
        }
        q->blobs[i] = b;
        q->blob_len[i] = m;
    }
    *len = q->blob_len[i];
    return q->blobs[i];
}

static int64_t pg_changes(struct zt_store_stmt *zq) { return ((struct pg_stmt *)zq)->changes; }

/* ---- the search and salt operations ----------------------------------------- */

static int search_unsupported(struct zt_store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    if (!s->warned_search)
        zt_log(ZT_LOG_ERROR, "store_unsupported",
               "backend=postgres op=search reason=\"the private-search index needs SQLite's FTS5: it stays in its "
               "own SQLite file (features.search.db_path)\"");
    s->warned_search = true;
    return ZT_EUNSUPPORTED;
}

static int pg_key_get(struct zt_store *st, const uint8_t *user_ref, uint8_t *out, size_t cap, size_t *len)
{
    (void)user_ref, (void)out, (void)cap, (void)len;
    return search_unsupported(st);
}

static int pg_key_put(struct zt_store *st, const uint8_t *user_ref, const uint8_t *wrapped, size_t len)
{
    (void)user_ref, (void)wrapped, (void)len;
    return search_unsupported(st);
}

static int pg_doc_put(struct zt_store *st, const uint8_t *user_ref, const uint8_t *id_ref, const uint8_t *payload,
                      size_t payload_len, const uint8_t *vec, size_t vec_len, const char *terms, int64_t ts)
{
    (void)user_ref, (void)id_ref, (void)payload, (void)payload_len, (void)vec, (void)vec_len, (void)terms, (void)ts;
    return search_unsupported(st);
}

static int pg_doc_delete(struct zt_store *st, const uint8_t *user_ref, const uint8_t *id_ref, bool *found)
{
    (void)user_ref, (void)id_ref, (void)found;
    return search_unsupported(st);
}

static int pg_user_delete(struct zt_store *st, const uint8_t *user_ref, size_t *n_docs)
{
    (void)user_ref, (void)n_docs;
    return search_unsupported(st);
}

static int pg_match(struct zt_store *st, const uint8_t *user_ref, const char *fts_query, size_t limit,
                    zt_store_hit_cb cb, void *ud)
{
    (void)user_ref, (void)fts_query, (void)limit, (void)cb, (void)ud;
    return search_unsupported(st);
}

static int pg_doc_get(struct zt_store *st, const uint8_t *user_ref, int64_t rowid, zt_store_doc_cb cb, void *ud)
{
    (void)user_ref, (void)rowid, (void)cb, (void)ud;
    return search_unsupported(st);
}

static int pg_scan(struct zt_store *st, const uint8_t *user_ref, size_t limit, zt_store_doc_cb cb, void *ud)
{
    (void)user_ref, (void)limit, (void)cb, (void)ud;
    return search_unsupported(st);
}

static int pg_count(struct zt_store *st, const uint8_t *user_ref, size_t *n)
{
    (void)user_ref, (void)n;
    return search_unsupported(st);
}

static int pg_docs_expire(struct zt_store *st, int64_t before_ts, size_t *n_docs)
{
    (void)before_ts, (void)n_docs;
    return search_unsupported(st);
}

static int pg_salt_get(struct zt_store *st, const uint8_t *ref, uint8_t *out, size_t len)
{
    struct pg_stmt *q = ((struct pg_store *)st)->salt_get;
    int rc = set_param(q, 1, ref, ZT_STORE_REF_LEN, 1);
    if (!rc) rc = stmt_step(q);
    if (rc == ZT_STORE_DONE) rc = ZT_ENOTFOUND;
    else if (rc == ZT_STORE_ROW) {
        size_t n = 0;
        const void *p = col_type(q, 0) == ZT_STORE_BLOB ? pg_column_blob(&q->base, 0, &n) : NULL;
        rc = p && n == len ? 0 : ZT_EIO; /* a row this code did not write */
        if (!rc) memcpy(out, p, len);
    }
    drop_result(q);
    clear_binds(q);
    return rc;
}

static int pg_salt_put(struct zt_store *st, const uint8_t *ref, const uint8_t *salt, size_t len)
{
    struct pg_stmt *q = ((struct pg_store *)st)->salt_put;
    int rc = set_param(q, 1, ref, ZT_STORE_REF_LEN, 1);
    if (!rc) rc = set_param(q, 2, salt, len, 1);
    if (!rc) rc = stmt_step(q);
    drop_result(q);
    clear_binds(q);
    return rc;
}

static int pg_salt_delete(struct zt_store *st, const uint8_t *ref, bool *found)
{
    struct pg_stmt *q = ((struct pg_store *)st)->salt_del;
    int rc = set_param(q, 1, ref, ZT_STORE_REF_LEN, 1);
    if (!rc) rc = stmt_step(q);
    if (!rc) *found = q->changes > 0;
    drop_result(q);
    clear_binds(q);
    return rc;
}

const struct zt_store_ops zt_store_postgres = {
    .name = "postgres",
    .dialect = ZT_STORE_DIALECT_POSTGRES,
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .begin = pg_begin,
    .begin_read = pg_begin_read,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .migrate_lock = pg_migrate_lock,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_null = pg_bind_null,
    .bind_i64 = pg_bind_i64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .reset = pg_reset,
    .column_count = pg_column_count,
    .column_type = pg_column_type,
    .column_i64 = pg_column_i64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .changes = pg_changes,
    .key_get = pg_key_get,
    .key_put = pg_key_put,
    .doc_put = pg_doc_put,
    .doc_delete = pg_doc_delete,
    .user_delete = pg_user_delete,
    .match = pg_match,
    .doc_get = pg_doc_get,
    .scan = pg_scan,
    .count = pg_count,
    .salt_get = pg_salt_get,
    .salt_put = pg_salt_put,
    .salt_delete = pg_salt_delete,
    .docs_expire = pg_docs_expire,
};
