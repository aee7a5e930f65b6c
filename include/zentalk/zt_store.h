/* zt_store.h: the storage interface (DESIGN.md: src/store/;
 * docs/internals/store.md).
 *
 * A backend is a struct of function pointers (struct zt_store_ops); the
 * default is SQLite (zt_store_sqlite: WAL, busy timeout, prepared
 * statements, secure_delete), PostgreSQL (zt_store_postgres, libpq) implements the same struct.
 * A store handle starts with `struct zt_store` (ops and bookkeeping); call
 * through the zt_store_*() wrappers below.
 *
 * Three layers:
 * - Schemas per owner: each subsystem that owns tables registers an ordered
 *   list of migration steps under its own name (zt_store_migrate); the store
 *   records every owner's version in its `meta` table, applies the missing
 *   steps one transaction each and refuses a database whose version for an
 *   owner is newer than the binary knows (ZT_EUNSUPPORTED). The store's own
 *   owners are "search" (the private-search tables) and "pseudonyms"
 *   (identity_salts); open() migrates them.
 * - Generic statements (zt_store_prepare, bind, step, typed column reads)
 *   and transactions with retry (zt_store_tx), so a subsystem runs its own
 *   SQL on its own tables without a new entry in the vtable.
 * - The search and salt operations of today, as vtable entries.
 *
 * What the search operations store is opaque to the store: user and
 * message references are 32-byte keyed hashes, payloads and vectors are
 * ciphertexts, `terms` is a space-separated list of hashed tokens (the
 * blind index; zt_search.h and docs/privacy/DATA_HANDLING.md).
 *
 * Threads: one handle is one connection and is NOT thread-safe; callers
 * serialise (zt_search holds a mutex around every operation) or open one
 * handle per thread (WAL lets readers and one writer work at once).
 * Errors: 0 or ZT_EIO (database error, logged without content),
 * ZT_EBUSY (still locked after busy_timeout_ms, or a serialisation
 * failure), ZT_ENOMEM, ZT_EINVAL, ZT_ENOTFOUND, ZT_EEXIST, ZT_EUNSUPPORTED
 * as documented per function. */
#ifndef ZT_STORE_H
#define ZT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

/* The layout version in meta.schema_version, the one number binaries from
 * before per-owner versions check (they refuse a larger one). Per-owner
 * versions live beside it as meta rows "schema_version:<owner>". Raise it
 * only when a built-in owner's tables change in a way those binaries must
 * not read. */
#define ZT_STORE_SCHEMA_VERSION 2
#define ZT_STORE_REF_LEN 32   /* user_ref / id_ref */
#define ZT_STORE_OWNER_MAX 32 /* owner names: [a-z][a-z0-9_]*, at most this long */

struct zt_store_opts {
    const char *path;        /* SQLite: database file (created 0600); PostgreSQL: conninfo */
    int64_t busy_timeout_ms; /* database.busy_timeout_ms */
    int tx_attempts;         /* zt_store_tx tries before giving up on conflicts; 0 = 4 */
};

/* One stored message as the search layer sees it (pointers valid during a
 * callback only). */
struct zt_store_doc {
    int64_t rowid;
    const uint8_t *id_ref;  /* ZT_STORE_REF_LEN bytes */
    const uint8_t *payload; /* sealed message id + text */
    size_t payload_len;
    const uint8_t *vec;     /* sealed embedding */
    size_t vec_len;
    int64_t ts;             /* unix ms when indexed */
};
/* Return nonzero to stop the iteration (that value is returned). */
typedef int (*zt_store_doc_cb)(void *ud, const struct zt_store_doc *d);
/* A full-text hit: rowid and its BM25 score (higher = better). */
typedef int (*zt_store_hit_cb)(void *ud, int64_t rowid, double bm25);

/* SQL dialects: a subsystem writes its migration scripts and statements
 * for each (docs/internals/store.md "Dialect rules"). */
enum zt_store_dialect {
    ZT_STORE_DIALECT_SQLITE = 1,
    ZT_STORE_DIALECT_POSTGRES = 2,
};

/* Column types of the generic statement API. */
enum zt_store_type {
    ZT_STORE_NULL = 0,
    ZT_STORE_INT = 1,  /* int64 */
    ZT_STORE_TEXT = 2, /* UTF-8, no NUL (128-bit amounts travel as decimal text) */
    ZT_STORE_BLOB = 3, /* bytes (BLOB in SQLite, BYTEA in PostgreSQL) */
    ZT_STORE_REAL = 4, /* only from expressions (avg()); no typed read, by design */
};

/* zt_store_step's non-error results. */
enum {
    ZT_STORE_DONE = 0,
    ZT_STORE_ROW = 1,
};

struct zt_store;
struct zt_store_stmt;
struct zt_config;
struct zt_buf;

struct zt_store_ops {
    const char *name;
    enum zt_store_dialect dialect;
    int (*open)(const struct zt_store_opts *o, struct zt_store **out);
    void (*close)(struct zt_store *st);
    int (*schema_version)(struct zt_store *st, int *out);
    /* transactions: begin is BEGIN IMMEDIATE (SQLite) or BEGIN ISOLATION
     * LEVEL SERIALIZABLE (PostgreSQL), followed by st->tx_first when set
     * (zt_store_tx_first: PostgreSQL sends both in one round trip; if the
     * statement fails, begin rolls back and returns its error); rollback
     * with no transaction open is not an error */
    int (*begin)(struct zt_store *st);
    /* a read transaction: one snapshot for all its statements, writers not
     * blocked (SQLite: BEGIN DEFERRED, the snapshot from its first read;
     * PostgreSQL: BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY) */
    int (*begin_read)(struct zt_store *st);
    int (*commit)(struct zt_store *st);
    int (*rollback)(struct zt_store *st);
    /* optional: serialise migrations between processes (PostgreSQL: a
     * session advisory lock, taken outside any transaction so that each
     * step's snapshot sees the steps another process committed); NULL
     * where begin already serialises writers (SQLite's BEGIN IMMEDIATE) */
    int (*migrate_lock)(struct zt_store *st, bool lock);
    /* generic statements (the zt_store_prepare family checks arguments and
     * types before calling these) */
    int (*exec)(struct zt_store *st, const char *script);
    int (*prepare)(struct zt_store *st, const char *sql, struct zt_store_stmt **out);
    void (*finalize)(struct zt_store_stmt *q);
    int (*bind_null)(struct zt_store_stmt *q, int i);
    int (*bind_i64)(struct zt_store_stmt *q, int i, int64_t v);
    int (*bind_text)(struct zt_store_stmt *q, int i, const char *s, size_t len);
    int (*bind_blob)(struct zt_store_stmt *q, int i, const void *p, size_t len);
    int (*step)(struct zt_store_stmt *q);
    void (*reset)(struct zt_store_stmt *q);
    int (*column_count)(struct zt_store_stmt *q);
    enum zt_store_type (*column_type)(struct zt_store_stmt *q, int i);
    int64_t (*column_i64)(struct zt_store_stmt *q, int i);
    const char *(*column_text)(struct zt_store_stmt *q, int i, size_t *len);
    const void *(*column_blob)(struct zt_store_stmt *q, int i, size_t *len);
    int64_t (*changes)(struct zt_store_stmt *q);
    /* per-user wrapped keys */
    int (*key_get)(struct zt_store *st, const uint8_t *user_ref, uint8_t *out, size_t cap,
                   size_t *len);
    int (*key_put)(struct zt_store *st, const uint8_t *user_ref, const uint8_t *wrapped,
                   size_t len);
    /* documents */
    int (*doc_put)(struct zt_store *st, const uint8_t *user_ref, const uint8_t *id_ref,
                   const uint8_t *payload, size_t payload_len, const uint8_t *vec,
                   size_t vec_len, const char *terms, int64_t ts);
    int (*doc_delete)(struct zt_store *st, const uint8_t *user_ref, const uint8_t *id_ref,
                      bool *found);
    int (*user_delete)(struct zt_store *st, const uint8_t *user_ref, size_t *n_docs);
    int (*match)(struct zt_store *st, const uint8_t *user_ref, const char *fts_query,
                 size_t limit, zt_store_hit_cb cb, void *ud);
    int (*doc_get)(struct zt_store *st, const uint8_t *user_ref, int64_t rowid,
                   zt_store_doc_cb cb, void *ud);
    int (*scan)(struct zt_store *st, const uint8_t *user_ref, size_t limit, zt_store_doc_cb cb,
                void *ud);
    int (*count)(struct zt_store *st, const uint8_t *user_ref, size_t *n);
    /* per-identity pseudonym salts (zt_pseudoid.h) */
    int (*salt_get)(struct zt_store *st, const uint8_t *ref, uint8_t *out, size_t len);
    int (*salt_put)(struct zt_store *st, const uint8_t *ref, const uint8_t *salt, size_t len);
    int (*salt_delete)(struct zt_store *st, const uint8_t *ref, bool *found);
    /* retention: every user's messages indexed before before_ts */
    int (*docs_expire)(struct zt_store *st, int64_t before_ts, size_t *n_docs);
    /* Optional (NULL: not offered; issue 17 item 9): a user's messages and
     * their stored bytes; give freed space back to the file system; the
     * bytes the store takes on disk (thread-safe, without the connection). */
    int (*usage)(struct zt_store *st, const uint8_t *user_ref, size_t *n_docs, uint64_t *bytes);
    int (*compact)(struct zt_store *st);
    int (*disk_bytes)(struct zt_store *st, uint64_t *bytes);
};

/* Backends embed this struct first; the fields after ops belong to the
 * wrappers in store.c (backends set `conflict` when a statement fails with
 * a lock timeout or a serialisation failure). */
struct zt_store {
    const struct zt_store_ops *ops;
    int tx_depth;     /* 0: no transaction; 1: begin; > 1: savepoints of zt_store_tx */
    int tx_attempts;  /* zt_store_tx tries */
    bool conflict;    /* the last failure may succeed if the transaction is retried */
    int64_t n_stmts;  /* live statements of zt_store_prepare (close warns when > 0) */
    int64_t n_retries; /* transactions zt_store_tx retried after a conflict (zt_store_tx_retries) */
    const char *tx_first; /* during zt_store_tx_first: its statement, for begin */
    int64_t clock_shift_ms; /* zt_store_clock_shift: added to zt_store_clock_ms (tests) */
    struct zt_store_stmt *clock_q; /* zt_store_clock_ms's query (PostgreSQL), prepared once */
};

/* Backends embed this first in their statement. */
struct zt_store_stmt {
    struct zt_store *st;
};

extern const struct zt_store_ops zt_store_sqlite;
extern const struct zt_store_ops zt_store_postgres;

/* Open with the backend named by driver ("sqlite", or "postgres" with
 * o->path a libpq conninfo or URI; another name ZT_EINVAL) and migrate
 * the store's own owners (SQLite: "search", "pseudonyms"; PostgreSQL:
 * "pseudonyms", its search operations answer ZT_EUNSUPPORTED).
 * A database written before per-owner versions (schema_version 1 or 2) is
 * upgraded in place. ZT_EUNSUPPORTED also for a database newer than this
 * binary (the log says which owner and which versions). */
ZT_NODISCARD int zt_store_open(const char *driver, const struct zt_store_opts *o,
                               struct zt_store **out);
/* Open the store that database.* in cfg describes: database.driver,
 * database.busy_timeout_ms and, for SQLite, sqlite_path (NULL =
 * database.sqlite_path; the search store passes features.search.db_path)
 * resolved against node.data_dir when relative. With driver postgres the
 * node store (sqlite_path NULL) is the database of database.postgres_url,
 * shared by every owner; a store asked for by its own file (sqlite_path
 * set: the private-search index, which needs FTS5) stays SQLite. On
 * failure a line saying why is appended to errs (may be NULL). */
ZT_NODISCARD int zt_store_open_config(const struct zt_config *cfg, const char *sqlite_path,
                                      struct zt_store **out, struct zt_buf *errs);
/* NULL is a no-op. Statements of zt_store_prepare must be freed first. */
void zt_store_close(struct zt_store *st);
/* The layout version (ZT_STORE_SCHEMA_VERSION); see zt_store_owner_version
 * for an owner's. */
ZT_NODISCARD int zt_store_schema_version(struct zt_store *st, int *out);
enum zt_store_dialect zt_store_dialect(const struct zt_store *st);

/* ---- schemas per owner --------------------------------------------------- */

/* One migration step: steps[v] takes an owner's tables from version v to
 * v + 1. The script runs first (several statements separated by ';'),
 * then fn if set (data moves through the statement API), in one
 * transaction with the owner's new version. */
struct zt_store_step {
    const char *sql;    /* SQLite; also PostgreSQL's when sql_pg is NULL (portable SQL) */
    const char *sql_pg; /* PostgreSQL's script where it differs; NULL = sql */
    int (*fn)(struct zt_store *st, void *ud); /* optional */
};
struct zt_store_schema {
    const char *owner;                 /* the subsystem: "registry", "ledger", ... */
    const struct zt_store_step *steps; /* in order; never edit a released step, append */
    size_t n_steps;                    /* the version this binary knows */
    void *ud;                          /* for fn */
};
/* The schema of owner with the table steps (an array, not a pointer): its
 * version is the table's length, counted here once. */
#define ZT_STORE_SCHEMA(owner_, steps_) \
    {.owner = (owner_), .steps = (steps_), .n_steps = sizeof(steps_) / sizeof((steps_)[0])}

/* Bring owner's tables to version n_steps: each missing step in its own
 * transaction (retried on conflicts like zt_store_tx), so a failing step
 * is rolled back with the version where it was and the error returned;
 * the steps before it stay. ZT_EUNSUPPORTED (logged: owner, version in the
 * database, version known) when the database is newer than the binary;
 * ZT_EINVAL for a bad owner name. Several processes may migrate at once:
 * each step re-reads the version inside its transaction. */
ZT_NODISCARD int zt_store_migrate(struct zt_store *st, const struct zt_store_schema *sc);
/* The version recorded for owner (0 if it never migrated). */
ZT_NODISCARD int zt_store_owner_version(struct zt_store *st, const char *owner, int *out);

/* ---- transactions ---------------------------------------------------------- */

/* Transactions: begin/commit group many writes into one (batch indexing);
 * rollback after any failure (also fine with none open). begin inside an
 * open transaction is ZT_EINVAL; use zt_store_tx to nest. */
ZT_NODISCARD int zt_store_begin(struct zt_store *st);
ZT_NODISCARD int zt_store_commit(struct zt_store *st);
ZT_NODISCARD int zt_store_rollback(struct zt_store *st);

/* The body of a transaction: 0 commits, anything else rolls back and is
 * returned. It may run more than once (write it so a retry is harmless:
 * no side effects outside the store, or idempotent ones). */
typedef int (*zt_store_tx_fn)(struct zt_store *st, void *ud);
/* Run fn in a transaction: begin, fn, commit; on an error roll back. When
 * the error is a conflict (SQLite: still locked after busy_timeout_ms;
 * PostgreSQL: SQLSTATE 40001/40P01) the whole transaction is retried after
 * a short randomised back-off, up to opts.tx_attempts times, then
 * ZT_EBUSY. Inside an open transaction (begin, or another zt_store_tx) fn
 * runs in a savepoint: an error rolls back only fn's writes, and a
 * conflict is left to the outermost zt_store_tx to retry. */
ZT_NODISCARD int zt_store_tx(struct zt_store *st, zt_store_tx_fn fn, void *ud);
/* zt_store_tx whose transaction runs first (before fn, in the same round
 * trip as BEGIN where the backend can) a statement with no parameters:
 * e.g. a lock that writers take, so that they queue instead of aborting
 * (PostgreSQL's LOCK TABLE takes no snapshot: a serialisable transaction
 * that begins with it sees every writer that held the lock before it).
 * first NULL: as zt_store_tx. Inside an open transaction first runs in
 * fn's savepoint, no longer first. */
ZT_NODISCARD int zt_store_tx_first(struct zt_store *st, const char *first, zt_store_tx_fn fn, void *ud);
/* fn in a read transaction: every statement of fn reads one snapshot of
 * the database (taken at its first statement), and writers of other
 * connections are not held up meanwhile; fn must not write (PostgreSQL
 * refuses). Committed on 0; retried as zt_store_tx on a conflict (SQLite
 * busy). Inside an open transaction fn runs in a savepoint of it (its
 * snapshot, or SQLite's lock). */
ZT_NODISCARD int zt_store_read_tx(struct zt_store *st, zt_store_tx_fn fn, void *ud);
/* How many times zt_store_tx on this handle retried a transaction after a
 * conflict since it was opened (benchmarks and tests read it). */
int64_t zt_store_tx_retries(const struct zt_store *st);
/* One try of zt_store_tx's transaction (attempt counts from 1), for a
 * caller that must drop its own locks while it backs off (the registry's
 * settlement, review10 F6): *again is set when it failed on a conflict
 * that a retry may clear and attempt is below the handle's tries; the
 * caller sleeps zt_store_tx_backoff(st, attempt) ms (its locks dropped)
 * and tries attempt + 1.
 * Inside an open transaction: as zt_store_tx (a savepoint; never again). */
ZT_NODISCARD int zt_store_tx_try(struct zt_store *st, int attempt, zt_store_tx_fn fn, void *ud, bool *again);
/* zt_store_tx's back-off after a failed attempt, in ms for the caller to
 * sleep: 5, 10, 20 ... (at most 320) with jitter; counted in
 * zt_store_tx_retries (call it where the handle is yours). */
uint64_t zt_store_tx_backoff(struct zt_store *st, int attempt);

/* ---- the store's clock ------------------------------------------------------- */

/* The store's clock, unix ms: one clock for every process that shares the
 * store, for deadlines that several of them write and compare (the
 * evidence claims' and the settlement outbox's, orch_verdict.h).
 * PostgreSQL: the server's clock_timestamp() (one round trip: the query
 * is prepared once per handle); SQLite: this
 * machine's real-time clock (the database is on this machine). Plus the
 * handle's shift (zt_store_clock_shift). */
ZT_NODISCARD int zt_store_clock_ms(struct zt_store *st, int64_t *out);
/* Test seam: this handle's store clock runs shift_ms ahead (negative:
 * behind), so tests cross a deadline without sleeping. 0 by default. */
void zt_store_clock_shift(struct zt_store *st, int64_t shift_ms);

/* Return this from a transaction body to ask for a retry (an optimistic
 * check found the row changed): marks a conflict, returns ZT_EBUSY. */
ZT_NODISCARD int zt_store_retry(struct zt_store *st);

/* ---- statements ------------------------------------------------------------ */

/* Run a script of statements with no parameters and no result rows (DDL). */
ZT_NODISCARD int zt_store_exec(struct zt_store *st, const char *script);
/* Prepare one statement. Parameters are written `?` and numbered from 1 in
 * order (the PostgreSQL backend rewrites them to $1, $2, ...); no `?NNN`,
 * `:name` or `$n` in portable SQL. ZT_EINVAL for a syntax error or a
 * second statement in sql. Free with zt_store_stmt_free before closing
 * the store; prepare once and reuse (reset between executions). */
ZT_NODISCARD int zt_store_prepare(struct zt_store *st, const char *sql, struct zt_store_stmt **out);
/* NULL is a no-op. */
void zt_store_stmt_free(struct zt_store_stmt *q);
/* The statements a handle keeps prepared for its lifetime, as a table:
 * each entry's sql goes to the struct zt_store_stmt * member at off
 * (offsetof) in the handle base. zt_store_prepare_all prepares the n
 * entries in order and stops at the first error (returned); what it
 * prepared stays in base for zt_store_stmt_free_all, which frees the n
 * members (NULL ones are no-ops, so members start NULL: a zeroed handle). */
struct zt_store_stmt_def {
    size_t off;
    const char *sql;
};
ZT_NODISCARD int zt_store_prepare_all(struct zt_store *st, void *base, const struct zt_store_stmt_def *defs, size_t n);
void zt_store_stmt_free_all(void *base, const struct zt_store_stmt_def *defs, size_t n);
/* Bind parameter i (from 1); values are copied. ZT_ERANGE for a bad index,
 * ZT_EINVAL for text that is not UTF-8 or holds a NUL, ZT_ETOOBIG over
 * 1 GiB. bind_text's len: bytes, or SIZE_MAX for strlen(s); s NULL binds
 * NULL (so does bind_blob with p NULL). */
ZT_NODISCARD int zt_store_bind_null(struct zt_store_stmt *q, int i);
ZT_NODISCARD int zt_store_bind_i64(struct zt_store_stmt *q, int i, int64_t v);
ZT_NODISCARD int zt_store_bind_text(struct zt_store_stmt *q, int i, const char *s, size_t len);
ZT_NODISCARD int zt_store_bind_blob(struct zt_store_stmt *q, int i, const void *p, size_t len);
/* Execute or advance: ZT_STORE_ROW (a row is readable), ZT_STORE_DONE (no
 * more rows; the statement is reset, its bindings kept, its locks
 * released), or an error: ZT_EEXIST (a unique or primary-key constraint),
 * ZT_EINVAL (another constraint: NOT NULL, CHECK, foreign key), ZT_EBUSY
 * (conflict: retry the transaction), ZT_ENOMEM, ZT_EIO. */
ZT_NODISCARD int zt_store_step(struct zt_store_stmt *q);
/* Back to the start with no parameters bound (after an early stop, or to
 * execute again with new values). */
void zt_store_reset(struct zt_store_stmt *q);
/* Rows written by the last execution that reached ZT_STORE_DONE. */
int64_t zt_store_changes(struct zt_store_stmt *q);
/* Columns of the current row, from 0. */
int zt_store_column_count(struct zt_store_stmt *q);
enum zt_store_type zt_store_column_type(struct zt_store_stmt *q, int i);
/* Typed reads of column i of the current row: ZT_ENOTFOUND when the value
 * is NULL, ZT_EINVAL when it has another type, ZT_ERANGE for a bad index.
 * Text and blob pointers stay valid until the next step, reset or free;
 * text is NUL-terminated. An empty blob may come back as NULL with len 0. */
ZT_NODISCARD int zt_store_column_i64(struct zt_store_stmt *q, int i, int64_t *out);
ZT_NODISCARD int zt_store_column_text(struct zt_store_stmt *q, int i, const char **out, size_t *len);
ZT_NODISCARD int zt_store_column_blob(struct zt_store_stmt *q, int i, const void **out, size_t *len);

/* ---- the search and salt operations ---------------------------------------- */

/* The wrapped key of user_ref into out[0..cap): ZT_ENOTFOUND when the user
 * has none, ZT_ETOOBIG when cap is short. key_put inserts: ZT_EEXIST when
 * there is one already. */
ZT_NODISCARD int zt_store_key_get(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                                  uint8_t *out, size_t cap, size_t *len);
ZT_NODISCARD int zt_store_key_put(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                                  const uint8_t *wrapped, size_t len);

/* Insert or replace (same user_ref + id_ref) a message and its full-text
 * terms. */
ZT_NODISCARD int zt_store_doc_put(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                                  const uint8_t id_ref[static ZT_STORE_REF_LEN],
                                  const uint8_t *payload, size_t payload_len, const uint8_t *vec,
                                  size_t vec_len, const char *terms, int64_t ts);
/* Remove one message (and its terms); *found says whether it existed. */
ZT_NODISCARD int zt_store_doc_delete(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                                     const uint8_t id_ref[static ZT_STORE_REF_LEN], bool *found);
/* Remove every message of user_ref and the user's key row; *n_docs = how
 * many messages went. */
ZT_NODISCARD int zt_store_user_delete(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                                      size_t *n_docs);
/* Full-text query (the backend's syntax: FTS5 MATCH for SQLite) over
 * user_ref's messages, best first, at most limit hits. */
ZT_NODISCARD int zt_store_match(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                                const char *fts_query, size_t limit, zt_store_hit_cb cb, void *ud);
/* One message of user_ref by rowid (ZT_ENOTFOUND). */
ZT_NODISCARD int zt_store_doc_get(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                                  int64_t rowid, zt_store_doc_cb cb, void *ud);
/* user_ref's messages, newest first, at most limit (0 = all). */
ZT_NODISCARD int zt_store_scan(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                               size_t limit, zt_store_doc_cb cb, void *ud);
ZT_NODISCARD int zt_store_count(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                                size_t *n);

/* The salt of identity reference ref (exactly len bytes into out):
 * ZT_ENOTFOUND when there is none. salt_put inserts (ZT_EEXIST when one
 * exists); salt_delete removes it, *found says whether it existed. The
 * reference is a keyed hash (zt_pseudoid.h), never an identity. */
ZT_NODISCARD int zt_store_salt_get(struct zt_store *st, const uint8_t ref[static ZT_STORE_REF_LEN],
                                   uint8_t *out, size_t len);
ZT_NODISCARD int zt_store_salt_put(struct zt_store *st, const uint8_t ref[static ZT_STORE_REF_LEN],
                                   const uint8_t *salt, size_t len);
ZT_NODISCARD int zt_store_salt_delete(struct zt_store *st, const uint8_t ref[static ZT_STORE_REF_LEN],
                                      bool *found);
/* Retention: remove every message (of any user) indexed before before_ts
 * (unix ms) with its full-text terms; *n_docs = how many went. Users'
 * keys stay. */
ZT_NODISCARD int zt_store_docs_expire(struct zt_store *st, int64_t before_ts, size_t *n_docs);

/* Quotas and disk space (issue 17 item 9); a backend may not offer them.
 * usage: user_ref's messages and the bytes they take (payload, vector and
 * terms), ZT_EUNSUPPORTED when the backend cannot say. compact: give the
 * space freed by deletes back to the file system (SQLite: incremental
 * vacuum and a WAL checkpoint that truncates it); 0 when the backend has
 * nothing to do. disk_bytes: the store's size on disk (SQLite: the file
 * and its WAL), safe to call from any thread while the store is in use;
 * ZT_EUNSUPPORTED when not known. */
ZT_NODISCARD int zt_store_usage(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                                size_t *n_docs, uint64_t *bytes);
ZT_NODISCARD int zt_store_compact(struct zt_store *st);
ZT_NODISCARD int zt_store_disk_bytes(struct zt_store *st, uint64_t *bytes);

#endif
