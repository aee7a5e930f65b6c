/* zt_rcache.h: the gateway's result cache (src/jobs/cache*.c).
 *
 * The engine is deterministic: the same model file, engine build,
 * parameters, seed and input give the same tokens, bit for bit. A gateway
 * that ran a job remotely and verified its worker's signed receipt keeps
 * the answer, and answers the same job again from here with that original
 * receipt plus a cache receipt it signs itself, binding the original
 * receipt to the new job id (docs/internals/rcache.md).
 *
 * Privacy: an entry is named by a keyed hash, HMAC-SHA256 under the node's
 * cache secret over the scope (the caller's identity, or the tenant) and
 * the canonical job parameters, so the same question from two users names
 * two unrelated entries, and a dump of the store reveals neither who asked
 * nor what. Values are encrypted (XChaCha20-Poly1305) under a key derived
 * from the secret and the entry's name, the name as associated data.
 *
 * Backends: "memory" (an LRU bounded in bytes) or "redis" (hiredis, SET
 * with an expiry). Thread-safe; every call may block on Redis for at most
 * its timeout. Errors: negative ZT_E* (ZT_ENOTFOUND = a miss). */
#ifndef ZT_RCACHE_H
#define ZT_RCACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_sealed.h"

#define ZT_RCACHE_KEY_LEN 32
#define ZT_RCACHE_SECRET_LEN 32
#define ZT_RCACHE_TEXT_MAX ((size_t)4 << 20) /* answers larger than this are not cached */
#define ZT_RCACHE_JOB_ID_LEN 16

/* ---- the cache receipt ----------------------------------------------------
 * offset size field
 *  0      4   magic "ZTC1"
 *  4     16   new job id (the job answered from the cache)
 * 20     16   original job id (the job the worker ran)
 * 36     32   SHA-256 of the original receipt's bytes (ZTR1)
 * 68      8   issued, Unix seconds, little-endian
 * 76     32   the gateway's Ed25519 public key (its node identity)
 * 108    64   Ed25519 signature over "zentalk-cache-receipt-v1" || bytes[0, 108) */
#define ZT_RCACHE_RECEIPT_LEN 172
struct zt_rcache_receipt {
    uint8_t job_id[ZT_RCACHE_JOB_ID_LEN];
    uint8_t orig_job_id[ZT_RCACHE_JOB_ID_LEN];
    uint8_t orig_receipt_sha256[32];
    uint64_t issued;
    uint8_t gateway_pk[32];
};
/* Sign r with sk (64-byte Ed25519 secret key whose public half is
 * r->gateway_pk) into out. ZT_EINVAL. */
ZT_NODISCARD int zt_rcache_receipt_sign(const struct zt_rcache_receipt *r, const uint8_t sk[static 64],
                                        uint8_t out[static ZT_RCACHE_RECEIPT_LEN]);
/* Decode and check a cache receipt: its signature under its embedded key,
 * and that it names orig_receipt (orig_len bytes; NULL: not checked).
 * ZT_EPARSE (length, magic), ZT_ECRYPTO (signature, or another receipt). */
ZT_NODISCARD int zt_rcache_receipt_verify(const uint8_t *rec, size_t len, const uint8_t *orig_receipt,
                                          size_t orig_len, struct zt_rcache_receipt *out);

/* ---- the cache ------------------------------------------------------------ */

struct zt_rcache_opts {
    const char *backend;      /* "memory" (NULL too) or "redis" */
    const char *redis_url;    /* redis://[:password@]host[:port][/db] */
    size_t max_bytes;         /* memory: bound on entries' bytes */
    int64_t ttl_s;            /* entry lifetime (> 0) */
    uint32_t verify_permille; /* hits re-run by a worker, per 1000 */
    const uint8_t *secret;    /* ZT_RCACHE_SECRET_LEN bytes, copied */
    int64_t timeout_ms;       /* redis connect/command; 0 = 2000 */
};

/* An entry: what the worker answered and its proof. */
struct zt_rcache_entry {
    char *text; /* the answer, NUL-terminated; text_len bytes */
    size_t text_len;
    char finish_reason[16];
    uint32_t prompt_tokens, completion_tokens;
    uint8_t receipt[ZT_ENV_RECEIPT_MAX_LEN]; /* the worker's signed receipt */
    size_t receipt_len;
    uint8_t checkpoint[ZT_CKPT_MAX_LEN];     /* its FINAL checkpoint (model file, build, chain) */
    size_t checkpoint_len;
    char worker[40];                         /* the worker's node id */
    int64_t created;                         /* Unix seconds */
};
void zt_rcache_entry_deinit(struct zt_rcache_entry *e); /* wipes and frees text */

struct zt_rcache;
/* ZT_EINVAL (bad options), ZT_EIO (Redis unreachable: logged), ZT_ENOMEM. */
ZT_NODISCARD int zt_rcache_new(const struct zt_rcache_opts *o, struct zt_rcache **out);
void zt_rcache_free(struct zt_rcache *c);
const char *zt_rcache_backend(const struct zt_rcache *c);

/* The job's digest for scope (the caller's identity, or "tenant:..."; not
 * empty) and the job: kind ("chat"/"completion"), model, max_tokens and
 * the request's fields that reach the worker (messages or prompt and the
 * sampling fields), in canonical JSON (sorted keys, compact). Not yet an
 * entry name: zt_rcache_name binds it to the model file and engine build.
 * ZT_EINVAL (no scope, no model), ZT_ENOMEM. */
ZT_NODISCARD int zt_rcache_key(const struct zt_rcache *c, const char *scope, const char *kind, const char *model,
                               uint32_t max_tokens, json_t *body, uint8_t key[static ZT_RCACHE_KEY_LEN]);

/* What a model name ran as: the model file's SHA-256 and the engine build
 * id of the worker's receipt (with its +kv-f16 / precision suffixes). */
struct zt_rcache_model {
    uint8_t sha256[ZT_ENV_HASH_LEN];
    char build_id[ZT_ENV_BUILD_ID_MAX + 1];
};
/* The entry name: the job's digest (zt_rcache_key) bound to the model file
 * and build it runs as, so that another file or build behind the same
 * model name names other entries. ZT_EINVAL (empty build id). */
ZT_NODISCARD int zt_rcache_name(const struct zt_rcache *c, const uint8_t job[static ZT_RCACHE_KEY_LEN],
                                const struct zt_rcache_model *m, uint8_t name[static ZT_RCACHE_KEY_LEN]);
#define ZT_RCACHE_MODEL_NAME_MAX 200 /* bytes of a model name given to the two below */
/* The model file and build the last verified answer for model named
 * (zt_rcache_model_seen): true with *out set, false when none is known
 * (the gateway learns them only from a worker's answer). */
bool zt_rcache_model_current(struct zt_rcache *c, const char *model, struct zt_rcache_model *out);
/* Record what a verified answer for model ran as (bounded table; the
 * longest unseen name is forgotten when full). A build that is the known
 * one run in a mode (the same file, the build id with '+' suffixes added:
 * "+bf16", "+kv-f16") does not replace it: a name asked for without a
 * mode stays pinned to the default mode's build, whose entries keep their
 * names (review F12); the default build replaces a mode's. */
void zt_rcache_model_seen(struct zt_rcache *c, const char *model, const struct zt_rcache_model *m);
/* Count a miss that needed no lookup (the model's file is not known yet). */
void zt_rcache_note_miss(struct zt_rcache *c);
/* Look up: 0 with *out filled (deinit it), ZT_ENOTFOUND (a miss, an
 * expired or undecryptable entry), ZT_EIO (backend). Counts a hit or miss. */
ZT_NODISCARD int zt_rcache_get(struct zt_rcache *c, const uint8_t key[static ZT_RCACHE_KEY_LEN],
                               struct zt_rcache_entry *out);
/* Store e under key (replacing). ZT_ETOOBIG (text over the limit, or over
 * the memory bound), ZT_EIO, ZT_ENOMEM. */
ZT_NODISCARD int zt_rcache_put(struct zt_rcache *c, const uint8_t key[static ZT_RCACHE_KEY_LEN],
                               const struct zt_rcache_entry *e);
/* Remove (a re-verification found another chain). */
void zt_rcache_del(struct zt_rcache *c, const uint8_t key[static ZT_RCACHE_KEY_LEN]);
/* Whether this hit should be re-run by a worker (verify_permille). */
bool zt_rcache_sample_verify(struct zt_rcache *c);
/* Compare a fresh run's FINAL checkpoint with the entry's: true when the
 * model file, build id, token count and chain are equal. */
bool zt_rcache_same_chain(const struct zt_rcache_entry *e, const uint8_t *ckpt, size_t ckpt_len);

struct zt_rcache_stats {
    uint64_t hits, misses, stores, evictions, verified, mismatches, errors;
    uint64_t entries, bytes; /* memory backend */
};
void zt_rcache_stats(struct zt_rcache *c, struct zt_rcache_stats *out);
void zt_rcache_note_verify(struct zt_rcache *c, bool same);
/* zentalk_result_cache_total{result=hit|miss|store|evict|verified|mismatch|error}
 * and zentalk_result_cache_bytes. */
struct zt_metrics;
ZT_NODISCARD int zt_rcache_register_metrics(struct zt_rcache *c, struct zt_metrics *m);

/* ---- one request's part (src/jobs/cache_req.c) -----------------------------
 * What the gateway's route decides per request (docs/internals/rcache.md):
 * whether the cache applies (privacy.result_cache, retention, the privacy
 * verdict) and how a hit is answered and billed; what is below is the
 * cache's side of it, with no HTTP. */

struct zt_privacy_layer;
/* The scope of a caller's entries: "tenant" when mode is "tenant" (every
 * caller of this gateway), else "user:" + the caller's audit pseudonym
 * (zt_pseudoid.h; pv's, created when new), so that a GDPR erase, which
 * destroys the pseudonym's salt, makes the caller's entries unreachable;
 * without pseudonyms (pv NULL: audit log off) "user-id:" + the identity
 * itself, and only retention removes them. false (no scope: never cached)
 * for an empty identity (anonymous callers, the tokenless local operator)
 * or when the pseudonym cannot be had. */
bool zt_rcache_scope(const char *mode, struct zt_privacy_layer *pv, const char *identity, char *out, size_t n);
/* What the model file and build table is keyed by: the model's name and
 * the modes body asks for ("precision", "kv_cache": one name runs as
 * several builds, each with its entries), as "<model>[ precision=<p>][
 * kv_cache=<kv>]"; false when that does not fit in n bytes. */
bool zt_rcache_variant(const char *model, json_t *body, char *out, size_t n);

/* ---- a hit: whether the cache applies, the hit's proof and its bill ---- */
struct zt_config;
struct zt_privacy_verdict;
struct zt_env_receipt;
struct zt_chain;
/* Whether the cache applies to a request with privacy verdict v: cfg's
 * privacy.result_cache is not "off", privacy.retention_cache_days is above
 * 0, and v allows the texts as they are with no personal data found. (The
 * caller also needs a scope: zt_rcache_scope.) */
bool zt_rcache_applies(const struct zt_config *cfg, const struct zt_privacy_verdict *v);
/* A hit's proof for the new job job_hex (2 * ZT_RCACHE_JOB_ID_LEN lowercase
 * hex digits): the cached worker receipt and its FINAL checkpoint verified
 * (the receipt into *rcpt), and the cache receipt that binds the original
 * receipt to the new job, issued at now_s by the gateway (gateway_pk, its
 * Ed25519 key; gateway_sk, the secret half), signed into out. 0;
 * ZT_ECRYPTO: the cached receipt or checkpoint does not verify;
 * ZT_EINVAL: the cache receipt cannot be signed. */
ZT_NODISCARD int zt_rcache_hit_receipt(const struct zt_rcache_entry *e, const char *job_hex,
                                       const uint8_t gateway_pk[static 32], const uint8_t gateway_sk[static 64],
                                       uint64_t now_s, struct zt_env_receipt *rcpt,
                                       uint8_t out[static ZT_RCACHE_RECEIPT_LEN]);
/* Bill a hit as a new job: a random job id into job_hex (2 *
 * ZT_RCACHE_JOB_ID_LEN + 1 bytes), charged to identity's wallet at cfg's
 * chain.price_cache_hit (unparsable: 0) for provider (this gateway's node
 * id) through zt_chain_cache_hit. chain NULL: free (0). Otherwise 0 or
 * zt_chain_cache_hit's error with why (n bytes) saying it: ZT_EPERM (not
 * a wallet caller) and ZT_ERANGE (the balance does not cover it) are the
 * caller's to pay, others the ledger's. */
ZT_NODISCARD int zt_rcache_hit_bill(struct zt_chain *chain, const struct zt_config *cfg, const char *identity,
                                    const char *provider, const char *job_hex, char *why, size_t n);

/* A fresh random job id for a hit, as lower-case hex. */
void zt_rcache_hit_job_id(char job_hex[static 2 * ZT_RCACHE_JOB_ID_LEN + 1]);

/* A hit answered as a new job (for the job.completed webhook, outcome
 * "cache"): the new job's id, the caller, the model asked, the worker that
 * ran the original and its token counts. */
struct zt_rcache_hit_end {
    const char *job_id;
    const char *user;
    const char *model;
    const char *worker;
    uint32_t prompt_tokens, completion_tokens;
};
/* Where every billed hit goes (NULL: none; the node wires it to the
 * webhooks, zt_bridge.h); set before the first request. */
void zt_rcache_set_on_hit(struct zt_rcache *c, void (*fn)(void *ud, const struct zt_rcache_hit_end *e), void *ud);

struct zt_identity;
/* A hit, answered: proved (zt_rcache_hit_receipt, signed by gw at now_s,
 * for a fresh job id), then billed (zt_rcache_hit_bill for identity, this
 * gateway gw's node id the provider) and the on-hit hook told. */
struct zt_rcache_hit {
    char job_hex[2 * ZT_RCACHE_JOB_ID_LEN + 1]; /* the new job's id */
    bool proof_failed;                          /* the cached receipt did not verify (nothing billed) */
    bool billed;                                /* the bill went through and the hook was told */
    char why[200];                              /* the bill refused: why */
};
/* 0: proved and billed (rcpt: the cached worker receipt, verified; out:
 * the cache receipt). Not proved (h->proof_failed): zt_rcache_hit_receipt's
 * error (ZT_ECRYPTO, ZT_EINVAL); nobody billed, no hook. Proved but not
 * billed (h->billed false): zt_rcache_hit_bill's error with h->why
 * (ZT_EPERM, ZT_ERANGE: the caller's to pay). */
ZT_NODISCARD int zt_rcache_hit(struct zt_rcache *c, struct zt_chain *chain, const struct zt_config *cfg,
                               const struct zt_identity *gw, const char *identity, const char *model,
                               const struct zt_rcache_entry *e, uint64_t now_s, struct zt_rcache_hit *h,
                               struct zt_env_receipt *rcpt, uint8_t out[static ZT_RCACHE_RECEIPT_LEN]);

/* What one request needs from the cache, kept with the job (embedded;
 * zero-initialised = off). */
struct zt_rcache_req {
    bool on;                                   /* a verified answer is stored under its name */
    bool verify;                               /* a sampled hit re-run: compare with ent */
    uint8_t job[ZT_RCACHE_KEY_LEN];            /* the job's digest (zt_rcache_key) */
    uint8_t key[ZT_RCACHE_KEY_LEN];            /* verify: the entry's name */
    char model[ZT_RCACHE_MODEL_NAME_MAX + 1];  /* the model and modes asked (zt_rcache_variant) */
    struct zt_rcache_entry ent;                /* verify: the cached entry */
    struct zt_buf text;                        /* the answer as it streams (wiped) */
};
/* Look the job up for scope (zt_rcache_scope): kind chat or completion,
 * model, max_tokens and the request body as zt_rcache_key takes them. 0:
 * a hit, *hit filled (zt_rcache_entry_deinit it) and q off. ZT_ENOTFOUND:
 * run the job, with q set up to store its verified answer (on), or to
 * compare it with a sampled hit's entry (verify), or off when the job
 * cannot be cached (a name too long, an error). A miss because the
 * model's file and build are not known yet is counted here. */
ZT_NODISCARD int zt_rcache_req_begin(struct zt_rcache *c, const char *scope, bool chat, const char *model,
                                     uint32_t max_tokens, json_t *body, struct zt_rcache_req *q,
                                     struct zt_rcache_entry *hit);
/* The answer's text as it streams (no-op when off; too large: off). */
void zt_rcache_req_text(struct zt_rcache_req *q, const char *text, size_t len);
/* The job starts again on another worker: forget the text so far. */
void zt_rcache_req_restart(struct zt_rcache_req *q);
/* A verified remote result (its final checkpoint and receipt; worker: its
 * node id): the model name's file and build are now those it ran as; a
 * re-verified entry whose chain differs is counted a mismatch, logged
 * (result_cache_mismatch) and removed; then the answer is stored under its
 * name (replacing). No-op when c is NULL, q is off, or res has no
 * checkpoint. */
void zt_rcache_req_done(struct zt_rcache *c, struct zt_rcache_req *q, const struct zt_sealed_result *res,
                        const char *worker);
void zt_rcache_req_deinit(struct zt_rcache_req *q); /* wipes the text; q is off after */

#endif
