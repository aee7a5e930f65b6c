/* store.c: backend selection, the per-owner migrations, transactions with
 * retry, the checked statement wrappers and the call-through wrappers of
 * the search and salt operations (zt_store.h). Everything here is
 * backend-neutral: it reaches the database only through the vtable. */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define TX_ATTEMPTS_DEFAULT 4
#define BIND_MAX ((size_t)1 << 30)

int zt_store_open(const char *driver, const struct zt_store_opts *o, struct zt_store **out)
{
    if (!out) return ZT_EINVAL;
    if (!driver || strcmp(driver, "sqlite") == 0) return zt_store_sqlite.open(o, out);
    if (strcmp(driver, "postgres") == 0) return zt_store_postgres.open(o, out);
    return ZT_EINVAL;
}

int zt_store_open_config(const struct zt_config *cfg, const char *sqlite_path, struct zt_store **out,
                         struct zt_buf *errs)
{
    if (!cfg || !out) return ZT_EINVAL;
    const struct zt_cfg_database *db = &cfg->database;
    const char *driver = db->driver && db->driver[0] ? db->driver : "sqlite";
    if (strcmp(driver, "postgres") == 0 && !sqlite_path) {
        if (!db->postgres_url || !db->postgres_url[0]) {
            if (errs) zt_ignore(zt_buf_append_str(errs, "database.postgres_url is required when database.driver is postgres\n"));
            return ZT_EINVAL;
        }
        struct zt_store_opts o = {.path = db->postgres_url, .busy_timeout_ms = db->busy_timeout_ms};
        int rc = zt_store_open("postgres", &o, out);
        /* the URL may hold a password: never printed */
        if (rc && errs)
            zt_ignore(zt_buf_appendf(errs, "database: cannot open the PostgreSQL store of database.postgres_url: %s "
                                           "(the log says why)\n", zt_strerror(rc)));
        return rc;
    }
    if (strcmp(driver, "sqlite") != 0 && strcmp(driver, "postgres") != 0) {
        if (errs) zt_ignore(zt_buf_appendf(errs, "database.driver: unknown store backend \"%s\"\n", driver));
        return ZT_EINVAL;
    }
    const char *sp = sqlite_path ? sqlite_path : db->sqlite_path;
    if (!sp || !sp[0]) {
        if (errs) zt_ignore(zt_buf_append_str(errs, "database.sqlite_path is empty\n"));
        return ZT_EINVAL;
    }
    char path[4096];
    const char *dir = cfg->node.data_dir ? cfg->node.data_dir : "";
    int n = sp[0] == '/' || !dir[0] ? snprintf(path, sizeof path, "%s", sp)
                                    : snprintf(path, sizeof path, "%s/%s", dir, sp);
    if (n < 0 || (size_t)n >= sizeof path) {
        if (errs) zt_ignore(zt_buf_append_str(errs, "database: the SQLite path is too long\n"));
        return ZT_ETOOBIG;
    }
    struct zt_store_opts o = {.path = path, .busy_timeout_ms = db->busy_timeout_ms};
    int rc = zt_store_open("sqlite", &o, out);
    if (rc && errs) zt_ignore(zt_buf_appendf(errs, "database: cannot open the store %s: %s\n", path, zt_strerror(rc)));
    return rc;
}

void zt_store_close(struct zt_store *st)
{
    if (!st) return;
    zt_store_stmt_free(st->clock_q);
    st->clock_q = NULL;
    if (st->n_stmts > 0)
        zt_log(ZT_LOG_ERROR, "store_close_stmts", "backend=%s live_statements=%lld", st->ops->name,
               (long long)st->n_stmts);
    st->ops->close(st);
}

int zt_store_schema_version(struct zt_store *st, int *out) { return st->ops->schema_version(st, out); }
enum zt_store_dialect zt_store_dialect(const struct zt_store *st) { return st->ops->dialect; }

/* ---- transactions ---------------------------------------------------------- */

int zt_store_begin(struct zt_store *st)
{
    if (st->tx_depth) return ZT_EINVAL;
    st->conflict = false;
    int rc = st->ops->begin(st);
    if (!rc) st->tx_depth = 1;
    return rc;
}

int zt_store_commit(struct zt_store *st)
{
    if (st->tx_depth != 1) return ZT_EINVAL;
    int rc = st->ops->commit(st);
    if (!rc) st->tx_depth = 0;
    return rc;
}

int zt_store_rollback(struct zt_store *st)
{
    if (st->tx_depth > 1) return ZT_EINVAL; /* inside zt_store_tx's savepoint: return an error instead */
    st->tx_depth = 0;
    return st->ops->rollback(st);
}

int zt_store_retry(struct zt_store *st)
{
    st->conflict = true;
    return ZT_EBUSY;
}

/* Inside an open transaction: fn in a savepoint named after the depth. */
static int tx_nested(struct zt_store *st, const char *first, zt_store_tx_fn fn, void *ud)
{
    char sql[64];
    int depth = st->tx_depth;
    snprintf(sql, sizeof sql, "SAVEPOINT zt_tx%d", depth);
    int rc = st->ops->exec(st, sql);
    if (rc) return rc;
    st->tx_depth = depth + 1;
    rc = first ? st->ops->exec(st, first) : 0;
    if (!rc) rc = fn(st, ud);
    st->tx_depth = depth;
    if (!rc) {
        snprintf(sql, sizeof sql, "RELEASE zt_tx%d", depth);
        rc = st->ops->exec(st, sql);
    }
    if (rc) {
        snprintf(sql, sizeof sql, "ROLLBACK TO zt_tx%d", depth);
        zt_ignore(st->ops->exec(st, sql));
        snprintf(sql, sizeof sql, "RELEASE zt_tx%d", depth);
        zt_ignore(st->ops->exec(st, sql));
    }
    return rc;
}

/* One try of a transaction: begin (read or with first), fn, commit; on an
 * error rolled back. *again: a conflict that a retry may clear. */
static int tx_once(struct zt_store *st, bool read, const char *first, zt_store_tx_fn fn, void *ud, bool *again)
{
    int rc;
    if (read) {
        st->conflict = false;
        rc = st->ops->begin_read(st);
        if (!rc) st->tx_depth = 1;
    } else {
        st->tx_first = first;
        rc = zt_store_begin(st);
        st->tx_first = NULL;
    }
    if (!rc) {
        rc = fn(st, ud);
        if (!rc) rc = zt_store_commit(st);
        if (rc) zt_ignore(zt_store_rollback(st));
    }
    *again = rc == ZT_EBUSY && st->conflict;
    st->conflict = false;
    return rc;
}

static int tx_attempts(const struct zt_store *st)
{
    return st->tx_attempts > 0 ? st->tx_attempts : TX_ATTEMPTS_DEFAULT;
}

uint64_t zt_store_tx_backoff(struct zt_store *st, int attempt)
{
    /* back off 5, 10, 20 ... ms (at most 320), with jitter so that two
     * writers that collided do not collide again */
    int a = attempt < 1 ? 1 : attempt;
    uint64_t base = 5u << (a - 1 < 6 ? a - 1 : 6);
    uint64_t jitter = (zt_time_mono_ns() / 1000u) % base;
    zt_log(ZT_LOG_DEBUG, "store_tx_retry", "backend=%s attempt=%d", st->ops->name, a);
    st->n_retries++;
    return base + jitter;
}

/* zt_store_tx_first (read false) or zt_store_read_tx (read true, first NULL) */
static int tx_run(struct zt_store *st, bool read, const char *first, zt_store_tx_fn fn, void *ud)
{
    if (!st || !fn) return ZT_EINVAL;
    if (st->tx_depth) return tx_nested(st, first, fn, ud);
    int attempts = tx_attempts(st);
    int rc = 0;
    for (int a = 1;; a++) {
        bool again = false;
        rc = tx_once(st, read, first, fn, ud, &again);
        if (!again || a >= attempts) break;
        zt_time_sleep_ms(zt_store_tx_backoff(st, a));
    }
    return rc;
}

int zt_store_tx_try(struct zt_store *st, int attempt, zt_store_tx_fn fn, void *ud, bool *again)
{
    if (!st || !fn || !again) return ZT_EINVAL;
    *again = false;
    if (st->tx_depth) return tx_nested(st, NULL, fn, ud);
    int rc = tx_once(st, false, NULL, fn, ud, again);
    if (attempt >= tx_attempts(st)) *again = false;
    return rc;
}

int zt_store_clock_ms(struct zt_store *st, int64_t *out)
{
    if (!st || !out) return ZT_EINVAL;
    int64_t now = zt_time_real_ms();
    if (st->ops->dialect == ZT_STORE_DIALECT_POSTGRES) { /* the server's clock, shared by every orchestrator */
        /* prepared once per handle (again by the backend after a
         * reconnect), so a call is one round trip: review11 F4 */
        int rc = 0;
        if (!st->clock_q)
            rc = zt_store_prepare(st, "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint", &st->clock_q);
        if (!rc) rc = zt_store_step(st->clock_q);
        if (rc == ZT_STORE_ROW) rc = zt_store_column_i64(st->clock_q, 0, &now);
        else if (rc == ZT_STORE_DONE) rc = ZT_EIO; /* no row */
        if (st->clock_q) zt_store_reset(st->clock_q);
        if (rc) return rc;
    }
    *out = now + st->clock_shift_ms;
    return 0;
}

void zt_store_clock_shift(struct zt_store *st, int64_t shift_ms)
{
    if (st) st->clock_shift_ms = shift_ms;
}

int zt_store_tx_first(struct zt_store *st, const char *first, zt_store_tx_fn fn, void *ud)
{
    return tx_run(st, false, first, fn, ud);
}

int zt_store_tx(struct zt_store *st, zt_store_tx_fn fn, void *ud) { return tx_run(st, false, NULL, fn, ud); }
int zt_store_read_tx(struct zt_store *st, zt_store_tx_fn fn, void *ud) { return tx_run(st, true, NULL, fn, ud); }

int64_t zt_store_tx_retries(const struct zt_store *st) { return st ? st->n_retries : 0; }

/* ---- statements ------------------------------------------------------------ */

int zt_store_exec(struct zt_store *st, const char *script)
{
    if (!st || !script) return ZT_EINVAL;
    return st->ops->exec(st, script);
}

int zt_store_prepare(struct zt_store *st, const char *sql, struct zt_store_stmt **out)
{
    if (!st || !sql || !out) return ZT_EINVAL;
    struct zt_store_stmt *q = NULL;
    int rc = st->ops->prepare(st, sql, &q);
    if (rc) return rc;
    q->st = st;
    st->n_stmts++;
    *out = q;
    return 0;
}

void zt_store_stmt_free(struct zt_store_stmt *q)
{
    if (!q) return;
    struct zt_store *st = q->st;
    st->n_stmts--;
    st->ops->finalize(q);
}

static struct zt_store_stmt **stmt_at(void *base, const struct zt_store_stmt_def *d)
{
    return (struct zt_store_stmt **)((char *)base + d->off);
}

int zt_store_prepare_all(struct zt_store *st, void *base, const struct zt_store_stmt_def *defs, size_t n)
{
    if (!base || (n && !defs)) return ZT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int rc = zt_store_prepare(st, defs[i].sql, stmt_at(base, &defs[i]));
        if (rc) return rc;
    }
    return 0;
}

void zt_store_stmt_free_all(void *base, const struct zt_store_stmt_def *defs, size_t n)
{
    for (size_t i = 0; base && i < n; i++) {
        struct zt_store_stmt **q = stmt_at(base, &defs[i]);
        zt_store_stmt_free(*q);
        *q = NULL;
    }
}

int zt_store_bind_null(struct zt_store_stmt *q, int i) { return q->st->ops->bind_null(q, i); }
int zt_store_bind_i64(struct zt_store_stmt *q, int i, int64_t v) { return q->st->ops->bind_i64(q, i, v); }

int zt_store_bind_text(struct zt_store_stmt *q, int i, const char *s, size_t len)
{
    if (!s) return q->st->ops->bind_null(q, i);
    if (len == SIZE_MAX) len = strlen(s);
    if (len > BIND_MAX) return ZT_ETOOBIG;
    /* PostgreSQL refuses both; SQLite would store them: refuse everywhere */
    if (memchr(s, 0, len) || !zt_utf8_valid(s, len)) return ZT_EINVAL;
    return q->st->ops->bind_text(q, i, s, len);
}

int zt_store_bind_blob(struct zt_store_stmt *q, int i, const void *p, size_t len)
{
    if (!p) return q->st->ops->bind_null(q, i);
    if (len > BIND_MAX) return ZT_ETOOBIG;
    return q->st->ops->bind_blob(q, i, p, len);
}

int zt_store_step(struct zt_store_stmt *q) { return q->st->ops->step(q); }
void zt_store_reset(struct zt_store_stmt *q) { q->st->ops->reset(q); }
int64_t zt_store_changes(struct zt_store_stmt *q) { return q->st->ops->changes(q); }
int zt_store_column_count(struct zt_store_stmt *q) { return q->st->ops->column_count(q); }

enum zt_store_type zt_store_column_type(struct zt_store_stmt *q, int i)
{
    if (i < 0 || i >= q->st->ops->column_count(q)) return ZT_STORE_NULL;
    return q->st->ops->column_type(q, i);
}

/* 0 when column i holds a value of type want. */
static int col_check(struct zt_store_stmt *q, int i, enum zt_store_type want)
{
    if (i < 0 || i >= q->st->ops->column_count(q)) return ZT_ERANGE;
    enum zt_store_type t = q->st->ops->column_type(q, i);
    if (t == ZT_STORE_NULL) return ZT_ENOTFOUND;
    return t == want ? 0 : ZT_EINVAL;
}

int zt_store_column_i64(struct zt_store_stmt *q, int i, int64_t *out)
{
    int rc = col_check(q, i, ZT_STORE_INT);
    if (!rc) *out = q->st->ops->column_i64(q, i);
    return rc;
}

int zt_store_column_text(struct zt_store_stmt *q, int i, const char **out, size_t *len)
{
    int rc = col_check(q, i, ZT_STORE_TEXT);
    if (rc) return rc;
    size_t n = 0;
    const char *s = q->st->ops->column_text(q, i, &n);
    if (!s) return ZT_ENOMEM; /* SQLite: the conversion to UTF-8 failed to allocate */
    *out = s;
    if (len) *len = n;
    return 0;
}

int zt_store_column_blob(struct zt_store_stmt *q, int i, const void **out, size_t *len)
{
    int rc = col_check(q, i, ZT_STORE_BLOB);
    if (rc) return rc;
    size_t n = 0;
    const void *p = q->st->ops->column_blob(q, i, &n);
    *out = p;
    *len = n;
    return 0;
}

/* ---- migrations ------------------------------------------------------------- */

bool zt__store_owner_valid(const char *owner)
{
    if (!owner || !(owner[0] >= 'a' && owner[0] <= 'z')) return false;
    size_t n = 0;
    for (const char *p = owner; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return n <= ZT_STORE_OWNER_MAX;
}

/* owner's version from meta (0 when there is no row). */
static int read_owner(struct zt_store *st, const char *owner, int *out)
{
    char key[sizeof ZT__STORE_OWNER_KEY + ZT_STORE_OWNER_MAX];
    snprintf(key, sizeof key, "%s%s", ZT__STORE_OWNER_KEY, owner);
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st, "SELECT value FROM meta WHERE key = ?", &q);
    if (rc) return rc;
    rc = zt_store_bind_text(q, 1, key, SIZE_MAX);
    int v = 0;
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) {
        const char *s = NULL;
        int64_t x = -1;
        rc = zt_store_column_text(q, 0, &s, NULL);
        if (!rc && (zt_str_to_i64(s, &x) || x < 0 || x > INT32_MAX)) rc = ZT_EIO; /* not written by us */
        if (!rc) v = (int)x;
    }
    zt_store_stmt_free(q);
    if (!rc) *out = v;
    return rc;
}

static int write_owner(struct zt_store *st, const char *owner, int v)
{
    char key[sizeof ZT__STORE_OWNER_KEY + ZT_STORE_OWNER_MAX], val[16];
    snprintf(key, sizeof key, "%s%s", ZT__STORE_OWNER_KEY, owner);
    snprintf(val, sizeof val, "%d", v);
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st,
                              "INSERT INTO meta(key, value) VALUES(?, ?) "
                              "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                              &q);
    if (rc) return rc;
    rc = zt_store_bind_text(q, 1, key, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 2, val, SIZE_MAX);
    if (!rc) rc = zt_store_step(q);
    zt_store_stmt_free(q);
    return rc;
}

int zt_store_owner_version(struct zt_store *st, const char *owner, int *out)
{
    if (!st || !out || !zt__store_owner_valid(owner)) return ZT_EINVAL;
    return read_owner(st, owner, out);
}

struct mig {
    const struct zt_store_schema *sc;
    int to;     /* the version reached (out) */
    bool done;  /* nothing left to do */
};

/* One step, inside its transaction: re-read the version (another process
 * may have migrated meanwhile), run the next step, record it. */
static int mig_step(struct zt_store *st, void *ud)
{
    struct mig *m = ud;
    const struct zt_store_schema *sc = m->sc;
    int v;
    int rc = read_owner(st, sc->owner, &v);
    if (rc) return rc;
    if ((size_t)v > sc->n_steps) {
        zt_log(ZT_LOG_ERROR, "store_schema_newer",
               "backend=%s owner=%s version=%d supported=%zu reason=\"the database was written by a newer zentalk\"",
               st->ops->name, sc->owner, v, sc->n_steps);
        return ZT_EUNSUPPORTED;
    }
    m->to = v;
    if ((size_t)v == sc->n_steps) {
        m->done = true;
        return 0;
    }
    const struct zt_store_step *s = &sc->steps[v];
    const char *sql = st->ops->dialect == ZT_STORE_DIALECT_POSTGRES && s->sql_pg ? s->sql_pg : s->sql;
    if (sql && sql[0]) rc = st->ops->exec(st, sql);
    if (!rc && s->fn) rc = s->fn(st, sc->ud);
    if (!rc) rc = write_owner(st, sc->owner, v + 1);
    if (!rc) m->to = v + 1;
    return rc;
}

int zt_store_migrate(struct zt_store *st, const struct zt_store_schema *sc)
{
    if (!st || !sc || !zt__store_owner_valid(sc->owner) || (sc->n_steps && !sc->steps) ||
        sc->n_steps > INT32_MAX)
        return ZT_EINVAL;
    struct mig m = {.sc = sc};
    bool locked = st->ops->migrate_lock && !st->tx_depth;
    int rc = locked ? st->ops->migrate_lock(st, true) : 0;
    if (rc) return rc;
    for (;;) {
        rc = zt_store_tx(st, mig_step, &m);
        if (rc) {
            if (rc != ZT_EUNSUPPORTED)
                zt_log(ZT_LOG_ERROR, "store_migrate_failed", "backend=%s owner=%s from_version=%d error=\"%s\"",
                       st->ops->name, sc->owner, m.to, zt_strerror(rc));
            break;
        }
        if (m.done) break;
        zt_log(ZT_LOG_INFO, "store_migrated", "backend=%s owner=%s to_version=%d", st->ops->name, sc->owner, m.to);
    }
    if (locked) zt_ignore(st->ops->migrate_lock(st, false));
    return rc;
}

/* ---- PostgreSQL parameter style -------------------------------------------- */

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int zt__store_sql_to_pg(const char *sql, char **out, int *n_params)
{
    if (!sql || !out) return ZT_EINVAL;
    struct zt_buf b;
    zt_buf_init(&b, (size_t)16 << 20);
    int n = 0, rc = 0;
    const char *p = sql;
    while (*p && !rc) {
        const char *from = p;
        char c = *p;
        if (c == '\'' || c == '"') { /* '..' with '' and E'..' with \' ; ".." with "" */
            bool esc = c == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e') && (p - 1 == sql || !ident_char(p[-2]));
            p++;
            for (;;) {
                if (!*p) {
                    rc = ZT_EINVAL;
                    break;
                }
                if (esc && *p == '\\' && p[1]) {
                    p += 2;
                    continue;
                }
                if (*p == c) {
                    if (p[1] == c) {
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                p++;
            }
        } else if (c == '-' && p[1] == '-') {
            while (*p && *p != '\n') p++;
        } else if (c == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e) rc = ZT_EINVAL;
            else p = e + 2;
        } else if (c == '$' && p[1] >= '0' && p[1] <= '9') {
            rc = ZT_EINVAL; /* a hand-written $n: one style per statement */
        } else if (c == '$' && (p == sql || !ident_char(p[-1]))) {
            /* $tag$ ... $tag$ (tag empty or an identifier) */
            const char *t = p + 1;
            while (ident_char(*t)) t++;
            if (*t != '$') {
                p++;
            } else {
                size_t tl = (size_t)(t - p) + 1; /* "$tag$" */
                const char *e = p + tl;
                for (;;) {
                    e = strchr(e, '$');
                    if (!e) break;
                    if (strncmp(e, p, tl) == 0) break;
                    e++;
                }
                if (!e) rc = ZT_EINVAL;
                else p = e + tl;
            }
        } else if (c == '?') {
            if (p[1] >= '0' && p[1] <= '9') {
                rc = ZT_EINVAL; /* ?NNN */
                break;
            }
            rc = zt_buf_appendf(&b, "$%d", ++n);
            p++;
            continue;
        } else {
            p++;
        }
        if (!rc) rc = zt_buf_append(&b, from, (size_t)(p - from));
    }
    if (!rc) {
        char *s = zt_buf_detach(&b, NULL);
        if (!s) rc = ZT_ENOMEM;
        else {
            *out = s;
            if (n_params) *n_params = n;
        }
    }
    zt_buf_deinit(&b);
    return rc;
}

/* ---- the search and salt operations ---------------------------------------- */

int zt_store_key_get(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN], uint8_t *out,
                     size_t cap, size_t *len)
{
    return st->ops->key_get(st, user_ref, out, cap, len);
}

int zt_store_key_put(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                     const uint8_t *wrapped, size_t len)
{
    return st->ops->key_put(st, user_ref, wrapped, len);
}

int zt_store_doc_put(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                     const uint8_t id_ref[static ZT_STORE_REF_LEN], const uint8_t *payload,
                     size_t payload_len, const uint8_t *vec, size_t vec_len, const char *terms,
                     int64_t ts)
{
    return st->ops->doc_put(st, user_ref, id_ref, payload, payload_len, vec, vec_len, terms, ts);
}

int zt_store_doc_delete(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                        const uint8_t id_ref[static ZT_STORE_REF_LEN], bool *found)
{
    return st->ops->doc_delete(st, user_ref, id_ref, found);
}

int zt_store_user_delete(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                         size_t *n_docs)
{
    return st->ops->user_delete(st, user_ref, n_docs);
}

int zt_store_match(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                   const char *fts_query, size_t limit, zt_store_hit_cb cb, void *ud)
{
    return st->ops->match(st, user_ref, fts_query, limit, cb, ud);
}

int zt_store_doc_get(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN], int64_t rowid,
                     zt_store_doc_cb cb, void *ud)
{
    return st->ops->doc_get(st, user_ref, rowid, cb, ud);
}

int zt_store_scan(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN], size_t limit,
                  zt_store_doc_cb cb, void *ud)
{
    return st->ops->scan(st, user_ref, limit, cb, ud);
}

int zt_store_count(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN], size_t *n)
{
    return st->ops->count(st, user_ref, n);
}

int zt_store_usage(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN], size_t *n_docs,
                   uint64_t *bytes)
{
    return st->ops->usage ? st->ops->usage(st, user_ref, n_docs, bytes) : ZT_EUNSUPPORTED;
}

int zt_store_compact(struct zt_store *st)
{
    return st->ops->compact ? st->ops->compact(st) : 0;
}

int zt_store_disk_bytes(struct zt_store *st, uint64_t *bytes)
{
    return st && st->ops->disk_bytes ? st->ops->disk_bytes(st, bytes) : ZT_EUNSUPPORTED;
}

int zt_store_salt_get(struct zt_store *st, const uint8_t ref[static ZT_STORE_REF_LEN], uint8_t *out, size_t len)
{
    return st->ops->salt_get(st, ref, out, len);
}

int zt_store_salt_put(struct zt_store *st, const uint8_t ref[static ZT_STORE_REF_LEN], const uint8_t *salt,
                      size_t len)
{
    return st->ops->salt_put(st, ref, salt, len);
}

int zt_store_salt_delete(struct zt_store *st, const uint8_t ref[static ZT_STORE_REF_LEN], bool *found)
{
    return st->ops->salt_delete(st, ref, found);
}

int zt_store_docs_expire(struct zt_store *st, int64_t before_ts, size_t *n_docs)
{
    return st->ops->docs_expire(st, before_ts, n_docs);
}
