/* zt_store.h: the storage interface (DESIGN.md: src/store/).
 *
 * A backend is a struct of function pointers (struct zt_store_ops); the
 * default is SQLite (zt_store_sqlite: WAL, busy timeout, prepared
 * statements, secure_delete), PostgreSQL implements the same struct later.
 * A store handle starts with `const struct zt_store_ops *ops`; call through
 * the zt_store_*() wrappers below.
 *
 * Schema versioning: a `meta` table holds "schema_version"; open() creates
 * or migrates the schema in one transaction (from nothing to the current
 * ZT_STORE_SCHEMA_VERSION, step by step) and refuses a newer schema
 * (ZT_EUNSUPPORTED) so an old binary never writes a database it does not
 * understand.
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
 * ZT_EBUSY (still locked after busy_timeout_ms), ZT_ENOMEM, ZT_EINVAL,
 * ZT_ENOTFOUND, ZT_EEXIST, ZT_EUNSUPPORTED as documented per function. */
#ifndef ZT_STORE_H
#define ZT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_STORE_SCHEMA_VERSION 2 /* 2: identity_salts */
#define ZT_STORE_REF_LEN 32 /* user_ref / id_ref */

struct zt_store_opts {
    const char *path;        /* SQLite: database file (created 0600); PostgreSQL: conninfo */
    int64_t busy_timeout_ms; /* database.busy_timeout_ms */
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

struct zt_store;

struct zt_store_ops {
    const char *name;
    int (*open)(const struct zt_store_opts *o, struct zt_store **out);
    void (*close)(struct zt_store *st);
    int (*schema_version)(struct zt_store *st, int *out);
    int (*begin)(struct zt_store *st);
    int (*commit)(struct zt_store *st);
    int (*rollback)(struct zt_store *st);
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
};

struct zt_store {
    const struct zt_store_ops *ops; /* backends embed this struct first */
};

extern const struct zt_store_ops zt_store_sqlite;

/* Open with the backend named by driver ("sqlite"; "postgres" answers
 * ZT_EUNSUPPORTED until it exists). */
ZT_NODISCARD int zt_store_open(const char *driver, const struct zt_store_opts *o,
                               struct zt_store **out);
/* NULL is a no-op. */
void zt_store_close(struct zt_store *st);
ZT_NODISCARD int zt_store_schema_version(struct zt_store *st, int *out);

/* Transactions: begin/commit group many writes into one (batch indexing);
 * rollback after any failure. Not nested. */
ZT_NODISCARD int zt_store_begin(struct zt_store *st);
ZT_NODISCARD int zt_store_commit(struct zt_store *st);
ZT_NODISCARD int zt_store_rollback(struct zt_store *st);

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

#endif
