/* zt_search.h: private semantic search over a user's messages.
 *
 * Hybrid ranking of two candidate lists:
 *   - lexical: BM25 (SQLite FTS5) over a blind index: each message's words
 *     are case-folded (zt_text.h), stop words dropped (zt_stopwords.h),
 *     Snowball-stemmed (English) and replaced by keyed hashes
 *     "t" + hex(BLAKE2b-64(K_term(user), stem)); the tokens are sorted
 *     before indexing so positions carry no word order;
 *   - semantic: cosine similarity between SIF-weighted GloVe averages
 *     (zt_embed.h) of the query and of each message (the user's newest
 *     scan_limit messages plus the lexical candidates), hits below
 *     min_similarity dropped.
 * Fusion: reciprocal rank fusion, score = w_bm25 / (k + rank_bm25) +
 * w_vec / (k + rank_vec) (ranks from 1; a list that does not hold a
 * message contributes 0).
 *
 * Keys (docs/privacy/DATA_HANDLING.md): from the node secret (32 bytes,
 * the node's X25519 private key) crypto_kdf derives K_wrap and K_uref.
 * user_ref = BLAKE2b-256(K_uref, user). Each user has a random 32-byte key
 * K_user, stored only wrapped (XChaCha20-Poly1305 under K_wrap, bound to
 * user_ref); K_user derives K_term (blind-index hashes), K_id (message
 * references) and K_enc (XChaCha20-Poly1305 of the message id + text and of
 * the int8 embedding, each bound to user_ref and the message reference).
 * Deleting the user removes their key row, rows and index entries: what
 * might remain of them in the file is ciphertext under a key that no
 * longer exists (crypto-shredding).
 *
 * Thread-safe: one mutex serialises all operations (the store handle is
 * one connection). Errors: ZT_EINVAL (bad argument: empty or oversized
 * user/id/text/query, limit out of range), ZT_EPARSE (invalid UTF-8),
 * ZT_ENOMEM, ZT_ECRYPTO (a ciphertext failed to open: corrupted or foreign
 * data), store errors (ZT_EIO, ZT_EBUSY). */
#ifndef ZT_SEARCH_H
#define ZT_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_embed.h"
#include "zt_error.h"
#include "zt_stopwords.h"
#include "zt_store.h"

#define ZT_SEARCH_SECRET_LEN 32
#define ZT_SEARCH_USER_MAX 128       /* bytes of a user identity */
#define ZT_SEARCH_ID_MAX 256         /* bytes of a message id */
#define ZT_SEARCH_TEXT_MAX 65536     /* bytes of one message */
#define ZT_SEARCH_QUERY_MAX 4096     /* bytes of a query */
#define ZT_SEARCH_BATCH_MAX 256      /* messages per index call */
#define ZT_SEARCH_LIMIT_MAX 100      /* hits per query */

struct zt_search_opts {
    struct zt_store *store;           /* borrowed; outlives the search context */
    const struct zt_embed *embed;     /* borrowed, required */
    const struct zt_stopwords *stop;  /* borrowed, NULL = no stop words */
    const uint8_t *node_secret;       /* ZT_SEARCH_SECRET_LEN bytes; copied, not kept */
    double bm25_weight;               /* features.search.bm25_weight */
    double vector_weight;             /* features.search.vector_weight */
    int64_t rrf_k;                    /* features.search.rrf_k */
    int64_t candidates;               /* features.search.candidates: per list */
    int64_t scan_limit;               /* features.search.scan_limit: newest messages compared */
    double min_similarity;            /* features.search.threshold */
    int64_t max_messages_per_user;    /* features.search.max_messages_per_user; 0 = no limit */
    int64_t max_bytes_per_user;       /* features.search.max_bytes_per_user; 0 = no limit */
};

struct zt_search;

/* ZT_EINVAL (missing store/embed/secret), ZT_ENOMEM, ZT_EUNSUPPORTED (no
 * Snowball English stemmer). Free with zt_search_free(); NULL is a no-op. */
ZT_NODISCARD int zt_search_new(const struct zt_search_opts *o, struct zt_search **out);
void zt_search_free(struct zt_search *s);

struct zt_search_msg {
    const char *id;
    size_t id_len;
    const char *text;
    size_t text_len;
};

/* Index n (1..ZT_SEARCH_BATCH_MAX) messages of user in one transaction (all
 * or none); a message whose id is already indexed is replaced. Creates the
 * user's key on first use. ZT_EPERM when the batch would take the user
 * over max_messages_per_user or max_bytes_per_user (counted as stored:
 * ciphertext, vector and index terms; a replaced message counts as new). */
ZT_NODISCARD int zt_search_index(struct zt_search *s, const char *user,
                                 const struct zt_search_msg *msgs, size_t n);

struct zt_search_hit {
    char *id;          /* NUL-terminated, zt_malloc'd */
    char *text;        /* NUL-terminated, zt_malloc'd (wiped by zt_search_hits_free) */
    double score;      /* fused score (RRF) */
    double bm25;       /* 0 when not a lexical hit */
    double similarity; /* cosine similarity in [-1, 1] */
    int64_t ts;        /* unix ms when indexed */
};

/* The best limit (1..ZT_SEARCH_LIMIT_MAX) messages of user for query, best
 * first. *hits (free with zt_search_hits_free) and *n are written on
 * success; a user with nothing indexed gets n = 0. */
ZT_NODISCARD int zt_search_query(struct zt_search *s, const char *user, const char *query,
                                 size_t query_len, size_t limit, struct zt_search_hit **hits,
                                 size_t *n);
void zt_search_hits_free(struct zt_search_hit *hits, size_t n);

/* Remove one message; *found (may be NULL) says whether it existed.
 * Deleting gives the freed space back to the file system
 * (zt_store_compact) for this and the two calls below. */
ZT_NODISCARD int zt_search_delete(struct zt_search *s, const char *user, const char *id,
                                  size_t id_len, bool *found);
/* Remove every message of user and destroy the user's key; *n_docs (may be
 * NULL) = how many messages went. */
ZT_NODISCARD int zt_search_delete_user(struct zt_search *s, const char *user, size_t *n_docs);

/* Every message of user, newest first, at most limit (0 = all), decrypted
 * for the owner (GDPR export): *hits as zt_search_query() (score, bm25 and
 * similarity 0; free with zt_search_hits_free). A user with nothing
 * indexed gets n = 0. ZT_ECRYPTO when a stored message fails to open. */
ZT_NODISCARD int zt_search_list(struct zt_search *s, const char *user, size_t limit,
                                struct zt_search_hit **hits, size_t *n);

/* Retention: remove every user's messages indexed before before_ms (unix
 * ms); *n_docs (may be NULL) = how many went. */
ZT_NODISCARD int zt_search_expire(struct zt_search *s, int64_t before_ms, size_t *n_docs);

/* Messages indexed for user (0 when the user has none). */
ZT_NODISCARD int zt_search_count(struct zt_search *s, const char *user, size_t *n);

/* The blind-index tokens of text for user as the index stores them (sorted,
 * space-separated) into *out (zt_malloc'd). For tests and the privacy docs. */
ZT_NODISCARD int zt_search_terms(struct zt_search *s, const char *user, const char *text,
                                 size_t len, char **out);

/* ---- the requests of POST /v1/search/{index,query,delete} ---- */

struct json_t;
struct zt_auth_principal;
enum zt_search_op {
    ZT_SEARCH_OP_INDEX,
    ZT_SEARCH_OP_QUERY,
    ZT_SEARCH_OP_DELETE,
};

/* A checked request; strings point into the JSON body it came from. */
struct zt_search_req {
    const char *user;
    struct zt_search_msg *msgs; /* index: zt_malloc'd */
    size_t n_msgs;
    const char *query;          /* query */
    size_t query_len;
    size_t limit;
    const char *id;             /* delete: NULL = every message of user */
    size_t id_len;
};

/* Check body for op. 0, or ZT_EINVAL with a reason for the 400 answer in
 * why (no message content is quoted). Release with zt_search_req_deinit. */
ZT_NODISCARD int zt_search_req_parse(enum zt_search_op op, struct json_t *body, struct zt_search_req *out,
                                  char *why, size_t why_len);
void zt_search_req_deinit(struct zt_search_req *r);

/* May caller act on user? user must equal the caller's authenticated
 * identity (JWT sub, or "wallet:0x..." for wallet sessions) unless the
 * caller is admin (an admin token, or the loopback operator of the
 * embedded default, who has no token); an anonymous caller that is not
 * admin has no identity and may not. */
bool zt_search_may_act(const struct zt_auth_principal *caller, const char *user);

#endif
