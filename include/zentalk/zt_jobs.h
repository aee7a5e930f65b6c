/* zt_jobs.h: sealed jobs as a protocol, above the bytes of zt_sealed.h and
 * zt_envelope.h. See docs/internals/jobs.md.
 *
 *   job body      what goes inside the envelope: {"v":1,"kind":"chat",
 *                 "messages":[...],"seed":7,"nonce":"..."} (decode on the
 *                 worker, build on the client: zt_job_build() takes the
 *                 privacy gate's verdict and nothing else lets a body out)
 *   client        one sealed-job client: build, seal, POST (to the worker or
 *                 through a relay), open the result stream, verify the
 *                 receipt, restore pseudonyms. `zentalk job run` and the
 *                 gateway's local-first routing both use it.
 *   pool          a bounded set of detached threads for jobs in flight
 *   relay         the oblivious relay's core: peer lookup, forwarding,
 *                 limits (the HTTP route is a thin handler over it)
 *   routing       the local-first decision: here, or which worker peer
 *
 * Every function returns 0 or a negative ZT_E*; out-parameters are written
 * only on success. Nothing here logs a prompt, a message or an answer. */
#ifndef ZT_JOBS_H
#define ZT_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_envelope.h"
#include "zt_error.h"
#include "zt_identity.h"
#include "zt_peers.h"
#include "zt_privacy.h"
#include "zt_sealed.h"

#define ZT_JOB_BODY_VERSION 2 /* what zt_job_build writes (docs/architecture/WIRE.md) */
#define ZT_JOB_BODY_V1 1      /* still read: answered with a v1 result stream */
#define ZT_JOB_MAX_MESSAGES 1024
#define ZT_JOB_NONCE_MAX 256 /* bytes of the body's optional "nonce" */
#define ZT_JOB_PATH_SEALED "/v1/jobs/sealed"
#define ZT_JOB_PATH_RELAY "/v1/relay/jobs"
#define ZT_JOB_TARGET_HEADER "Zentalk-Target-Node"

/* ---- Job body (inside the envelope) --------------------------------------- */

enum zt_job_kind {
    ZT_JOB_COMPLETION = 1, /* "prompt": a string */
    ZT_JOB_CHAT = 2,       /* "messages": [{"role","content"}, ...] */
};

/* The privacy feature a job of kind k is decided for: "completion", "chat". */
const char *zt_job_kind_feature(enum zt_job_kind k);

/* A decoded job body: request is an OpenAI-shaped request object (jansson
 * json_t) holding "model" and "max_tokens" from the cleartext header and the
 * body's prompt or messages and sampling fields, ready for the worker's
 * completion/chat request builder (which checks the values' ranges). */
struct json_t;

/* What a v2 body asks besides generating (WIRE.md): continue a stream
 * another worker started (the ids it streamed, its last checkpoint), or
 * verify claimed ids teacher-forced. */
enum zt_job_mode { ZT_JOB_GENERATE = 0, ZT_JOB_RESUME = 1, ZT_JOB_VERIFY = 2 };

struct zt_job_request {
    enum zt_job_kind kind;
    struct json_t *request;
    int version;                         /* 1 or 2: the result stream answers in kind */
    enum zt_job_mode mode;
    bool has_subject;                    /* "subject" given (required for RESUME/VERIFY) */
    uint8_t subject[ZT_ENV_HASH_LEN];
    int32_t *ids;                        /* RESUME/VERIFY: the ids (zt_malloc'd) */
    size_t n_ids;
    uint8_t prev[ZT_CKPT_MAX_LEN];       /* RESUME: the previous worker's last checkpoint (verified */
    size_t prev_len;                     /* under its embedded key); 0: none */
};

/* Decode a sealed job body (len bytes, untrusted) for a header naming model
 * and max_tokens. Strict: a UTF-8 JSON object without duplicate keys;
 * "v" = 1 or 2 (other integers ZT_EUNSUPPORTED); v2 also takes "subject"
 * (64 hex digits), and "resume" {"ids": [...], "checkpoint": hex} or
 * "verify" {"ids": [...]} (not both; both need "subject"; ids integers
 * 0..2^31-1, at most max_tokens; the checkpoint must verify under its embedded key, name the
 * subject and count no more than the ids); "kind" "completion" or "chat"
 * (another string, "embedding" included, ZT_EUNSUPPORTED); the fields of
 * that kind and nothing else, each of its type; "model" and "max_tokens",
 * when present, equal to the header's; "nonce" (1..256 bytes of client
 * randomness, covered by the receipt's input hash) is checked and dropped.
 * Anything else is ZT_EPARSE, or ZT_ETOOBIG over ZT_ENV_MAX_BODY;
 * ZT_ENOMEM. *why (may be NULL) receives a static reason on failure that
 * never quotes the body (error answers travel in clear). Release out with
 * zt_job_request_deinit() (idempotent). */
ZT_NODISCARD int zt_job_body_decode(const uint8_t *body, size_t len, const char *model, uint32_t max_tokens,
                                    struct zt_job_request *out, const char **why);
void zt_job_request_deinit(struct zt_job_request *j);

/* The texts of an OpenAI-shaped request req that the privacy gate must see
 * for a job of kind: the prompt (a string, or an array holding one), or each
 * message's content. Fills texts[0..*n) (borrowed from req); *n = 0 when req
 * has none of the right shape (zt_job_build() then says ZT_EINVAL). */
void zt_job_texts(const struct json_t *req, enum zt_job_kind kind, struct zt_privacy_text *texts, size_t max,
                  size_t *n);

/* The job body for req (what POST /v1/completions or /v1/chat/completions
 * take) under verdict, the privacy gate's verdict over zt_job_texts(req)
 * for zt_job_kind_feature(kind) (or zt_privacy_verdict_own_data()): MASKED
 * puts the masked texts in place of the originals; completion copies
 * "prompt", chat copies "messages" (role and content of each, nothing
 * else); the sampling fields zt_job_body_decode() accepts are copied when
 * present and not null; "v", "kind" and a fresh random "nonce" are added.
 * *out (NUL-terminated, *out_len bytes, zt_free; it holds the prompt: wipe
 * it) is written on success. ZT_EPERM: verdict NULL, REFUSE, or not taken
 * for this feature and these texts; ZT_EINVAL: no prompt/messages of the
 * right shape; ZT_ENOMEM. */
ZT_NODISCARD int zt_job_build(const struct json_t *req, enum zt_job_kind kind,
                              const struct zt_privacy_verdict *verdict, char **out, size_t *out_len);

/* The body of a continuation of job body (one zt_job_build made, which
 * passed the privacy gate then): the same fields, "subject", and a
 * "resume" (ids streamed so far, prev: the previous worker's last
 * checkpoint record, or NULL) or "verify" (the claimed ids) object, with a
 * fresh nonce. *out as zt_job_build's. ZT_EINVAL (mode GENERATE, a body
 * that is not a v2 job body), ZT_ENOMEM. */
ZT_NODISCARD int zt_job_body_continue(const char *body, size_t len, enum zt_job_mode mode,
                                      const uint8_t subject[static ZT_ENV_HASH_LEN], const int32_t *ids, size_t n_ids,
                                      const uint8_t *prev, size_t prev_len, char **out, size_t *out_len);

/* The job body with the KV cache type and precision mode that the engine
 * build id `engine` names (zt_engine_build_id_mode: "+kv-f16", "+bf16")
 * pinned as its "kv_cache" ("f32"/"f16") and "precision" ("exact"/"bf16")
 * fields, with a fresh nonce: a worker whose model runs in other modes
 * refuses the job (503 precision_unavailable / kv_cache_unavailable)
 * instead of answering other bits. *out as zt_job_build's. ZT_EINVAL (not
 * a job body), ZT_ENOMEM. */
ZT_NODISCARD int zt_job_body_pin_mode(const char *body, size_t len, const char *engine, char **out, size_t *out_len);

/* ---- Sealed-job client ------------------------------------------------------ */

/* What is sealed, and to whom. */
struct zt_job_spec {
    const char *model;             /* 1..ZT_ENV_MODEL_MAX bytes of UTF-8 */
    uint32_t max_tokens;           /* the header's bound */
    uint64_t max_price;            /* the header's: the client's price ceiling per 1000 tokens (prompt and
                                    * completion alike), ledger base units; 0 = none. A worker priced
                                    * above it refuses the job (402 price_above_ceiling) */
    bool stream;                   /* ask the worker for one chunk per piece */
    uint64_t ttl_s, now;           /* the envelope's lifetime from now (unix seconds) */
    struct zt_hpke_suite suite;    /* ZT_HPKE_SUITE_CHACHA or _AES256GCM */
    const char *worker_id;         /* the worker's node id (zt1...) */
    const uint8_t *worker_kem_pk;  /* its X25519 key, ZT_HPKE_PK_LEN bytes */
    const uint8_t *worker_sign_pk; /* its Ed25519 key, ZT_ENV_ED25519_PK_LEN bytes */
    /* zt_job_call_continue only: the engine build id the continuation
     * must run under (a check: the checked worker's, from its final
     * checkpoint), pinned into the body by zt_job_body_pin_mode; NULL:
     * the worker's own modes */
    const char *engine;
};

struct zt_job_call;

/* Build the body of req under verdict (zt_job_build: the verdict is
 * required) and seal it to the worker with a fresh reply key; the reader
 * is ready. verdict is borrowed and must outlive the job (a MASKED
 * verdict's restore map puts the values back into the answer). Errors of
 * zt_job_build(), ZT_EPARSE (a bad model id), ZT_ECRYPTO (a bad KEM key),
 * ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_job_call_new(const struct json_t *req, enum zt_job_kind kind,
                            const struct zt_privacy_verdict *verdict, const struct zt_job_spec *spec,
                            struct zt_job_call **out);
/* A continuation of prev (a call made by zt_job_call_new or this): the
 * same body under the same verdict with "subject" (prev's subject) and
 * "resume" (the ids streamed so far, the last checkpoint) or "verify"
 * (the claimed ids), sealed to spec's worker (zt_job_body_continue). A
 * resume takes over prev's pseudonym restoring state (text held back
 * there comes out here), so prev must not be sent again. Errors as
 * zt_job_call_new. */
ZT_NODISCARD int zt_job_call_continue(struct zt_job_call *prev, enum zt_job_mode mode, const int32_t *ids,
                                      size_t n_ids, const uint8_t *ckpt, size_t ckpt_len,
                                      const struct zt_job_spec *spec, struct zt_job_call **out);
/* The chain's subject: SHA-256 of the first body of the chain. */
void zt_job_call_subject(const struct zt_job_call *j, uint8_t out[static ZT_ENV_HASH_LEN]);
void zt_job_call_free(struct zt_job_call *j);
/* The job id, 32 lower-case hex digits. */
const char *zt_job_call_id(const struct zt_job_call *j);

/* Where the sealed job goes and how. */
struct zt_job_target {
    const char *base_url;            /* http(s)://host[:port][/base]: the worker, or the relay */
    bool via_relay;                  /* POST base_url/v1/relay/jobs + Zentalk-Target-Node */
    const struct zt_identity *sign_as; /* sign as this node for recipient_id (zt_nodeauth.h), or NULL */
    const char *recipient_id;        /* the node id behind base_url (the signature's audience) */
    int64_t now;                     /* unix seconds, for the signature */
    const char *bearer;              /* "Authorization: Bearer" token, or NULL */
    long connect_timeout_ms;         /* 0: 10 s */
    long total_timeout_ms;           /* 0: none */
    long first_byte_timeout_ms;      /* the answer's headers within this (0: none) */
    long idle_timeout_ms;            /* the longest silence while the answer streams (0: none) */
    bool env_proxy;                  /* honour http(s)_proxy (a user's CLI); nodes never do */
    const char *user_agent;          /* NULL: none */
};

/* Set where the job goes: the URL, the headers and the signature.
 * ZT_ETOOBIG (URL or signed target too long), ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_job_call_target(struct zt_job_call *j, const struct zt_job_target *t);
/* The URL the job is posted to ("" before zt_job_call_target). */
const char *zt_job_call_url(const struct zt_job_call *j);

/* Callbacks while the job runs (on the thread that calls zt_job_send). */
struct zt_job_hooks {
    /* Opened text, pseudonyms restored, not verified until the outcome is
     * VERIFIED. Return 0, or a ZT_E* that stops the job (its outcome is
     * UNVERIFIED with that rc). May be NULL. */
    int (*text)(void *ud, const char *text, size_t len);
    /* Polled while the transfer runs: true aborts it. May be NULL. */
    bool (*cancelled)(void *ud);
    void *ud;
    /* Wire v2 (may be NULL): the ids of the text that follows, and each
     * checkpoint (signature, job and count checked; the stream is verified
     * only when the outcome is VERIFIED). */
    void (*ids)(void *ud, const int32_t *ids, size_t n);
    void (*checkpoint)(void *ud, const uint8_t *rec, size_t len, const struct zt_checkpoint *c);
    /* Bytes of a sealed result arrived (before they are opened). May be NULL. */
    void (*progress)(void *ud);
};

enum zt_job_status {
    ZT_JOB_VERIFIED = 0,    /* complete, and the receipt matches: result is good */
    ZT_JOB_UNVERIFIED = 1,  /* a sealed result that failed (rc, why): discard its text */
    ZT_JOB_REFUSED = 2,     /* the peer answered something else (http_status, zt_job_call_answer) */
    ZT_JOB_TIMEOUT = 3,     /* no answer in time */
    ZT_JOB_UNREACHABLE = 4, /* no answer: connection failed (transport says why) */
    ZT_JOB_CANCELLED = 5,   /* the cancelled hook stopped it before an answer */
};

struct zt_job_outcome {
    enum zt_job_status status;
    long http_status;       /* 0: no answer */
    bool cancelled;         /* the cancelled hook fired (with any status) */
    int rc;                 /* UNVERIFIED: ZT_ECRYPTO, ZT_EPARSE, a hook's error... */
    const char *why;        /* UNVERIFIED: a static reason ("" if none) */
    char transport[256];    /* the transport's error, "" if none */
    struct zt_sealed_result result; /* VERIFIED */
};

/* POST the envelope, feed the answer to the reader as it arrives (text to
 * hooks->text), and check at the end that the stream is complete and the
 * receipt signed by the worker's key for this header, body and output.
 * Blocks; run it on a thread of its own where that matters (zt_job_pool).
 * *out is always written when 0 is returned. ZT_EINVAL (no target set, or
 * sent already), ZT_ENOMEM. */
ZT_NODISCARD int zt_job_call_send(struct zt_job_call *j, const struct zt_job_hooks *hooks, struct zt_job_outcome *out);
/* REFUSED: the first 64 KiB of the peer's answer body, NUL-terminated. */
const char *zt_job_call_answer(const struct zt_job_call *j, size_t *len);

/* ---- Pool: detached threads for jobs in flight ------------------------------ */

struct zt_job_pool;

/* At most max_inflight (>= 1) threads at once. ZT_ENOMEM, ZT_EIO (the HTTP
 * client failed to initialise). */
ZT_NODISCARD int zt_job_pool_new(unsigned max_inflight, struct zt_job_pool **out);
/* Reserve a slot: ZT_EBUSY when all are taken, ZT_ECLOSED after shutdown. */
ZT_NODISCARD int zt_job_pool_reserve(struct zt_job_pool *p);
void zt_job_pool_unreserve(struct zt_job_pool *p);
/* Run fn(arg) on a detached thread holding the slot reserved before; the
 * slot is released when fn returns. On failure (ZT_EIO, ZT_ENOMEM) the
 * caller still holds the slot. */
ZT_NODISCARD int zt_job_pool_spawn(struct zt_job_pool *p, void (*fn)(void *), void *arg);
bool zt_job_pool_stopping(struct zt_job_pool *p);
unsigned zt_job_pool_inflight(struct zt_job_pool *p);
/* Refuse new slots and wait up to wait_ms for the threads; returns how
 * many are still running. */
unsigned zt_job_pool_shutdown(struct zt_job_pool *p, uint64_t wait_ms);
/* Shut down (waiting up to wait_ms) and free. With threads still running
 * it logs "<owner>_leak" and leaves the pool (and whatever its threads hold:
 * the owner must not free that either) allocated: ZT_EBUSY. NULL: 0. */
ZT_NODISCARD int zt_job_pool_close(struct zt_job_pool *p, uint64_t wait_ms, const char *owner);

/* ---- Relay core ----------------------------------------------------------------
 *
 * The oblivious relay: a sealed envelope for "Zentalk-Target-Node: zt1..."
 * is forwarded unchanged to that registered peer's /v1/jobs/sealed (never an
 * arbitrary URL), signed as the relay and with nothing of the client's, and
 * the answer streams back through a sink as it arrives. */

#define ZT_RELAY_BUFFER_MAX ((size_t)1 << 20) /* answer bytes queued per client */

struct zt_relay;

struct zt_relay_stats {
    uint64_t forwarded; /* upstream answered (any status) */
    uint64_t failed;    /* 502/504: upstream unreachable, timed out, cut */
    uint64_t refused;   /* 4xx/503 answered by the relay itself */
    unsigned inflight;
};

/* peers must outlive the relay. timeout_s: seconds to wait for the
 * upstream's answer headers, and the longest silence while streaming.
 * max_inflight: forwards at once. ZT_ENOMEM, ZT_EIO. */
ZT_NODISCARD int zt_relay_new(struct zt_peers *peers, unsigned timeout_s, unsigned max_inflight,
                              struct zt_relay **out);
/* Check https peers against the PEM CAs in path (copied; NULL or "" = the
 * system store). ZT_ENOMEM. */
ZT_NODISCARD int zt_relay_set_ca_file(struct zt_relay *r, const char *path);
/* Whether targets whose address is loopback, private (RFC 1918, unique
 * local), link-local, CGNAT, multicast or reserved may be forwarded to
 * (default true; false: such a forward ends 403 private_target). The node
 * sets it from server.relay_private_targets. */
void zt_relay_set_allow_private(struct zt_relay *r, bool allow);
/* The identity forwards are signed with (none: 503 unavailable). */
void zt_relay_set_identity(struct zt_relay *r, const struct zt_identity *id);
/* Abort the forwards in progress and wait up to wait_ms for them. */
void zt_relay_shutdown(struct zt_relay *r, uint64_t wait_ms);
void zt_relay_free(struct zt_relay *r);
void zt_relay_stats(struct zt_relay *r, struct zt_relay_stats *out);
/* Register zentalk_relay_requests_total (by outcome: forwarded, failed,
 * refused) and zentalk_relay_in_flight from zt_relay_stats (zt_metrics.h);
 * r must outlive m's renders. */
struct zt_metrics;
ZT_NODISCARD int zt_relay_register_metrics(struct zt_relay *r, struct zt_metrics *m);

/* Why a request was not forwarded: the HTTP answer to give. */
struct zt_relay_refusal {
    int status;          /* 400, 404, 415, 503 */
    const char *code;    /* "missing_target", ... (static) */
    const char *message; /* static */
    bool retry_after;    /* 503 overloaded: say Retry-After: 1 */
};

struct zt_relay_fwd;

/* Check a request (target: the Zentalk-Target-Node header, content_type,
 * the body: an envelope that has not expired), look the target up, take a
 * slot and sign the forward. ZT_EPERM with *why filled for a refusal
 * (counted); the forward (*out) otherwise. body is copied. */
ZT_NODISCARD int zt_relay_accept(struct zt_relay *r, const char *target, const char *content_type,
                                 const uint8_t *body, size_t len, struct zt_relay_fwd **out,
                                 struct zt_relay_refusal *why);

/* How a forward ends, given to the sink's end(). */
struct zt_relay_end {
    bool started;        /* start() succeeded: the answer is streaming */
    bool ok;             /* started: the upstream finished cleanly */
    int status;          /* !started: the error answer (502, 503, 504) */
    const char *code;    /* !started (static) */
    const char *message; /* !started (static) */
};

/* Where the upstream's answer goes (the HTTP layer's deferred response).
 * Called on the forward's thread. */
struct zt_relay_sink {
    int (*start)(void *ud, int status, const char *content_type); /* 0, or abort */
    int (*write)(void *ud, const void *p, size_t n);              /* 0, or abort */
    size_t (*pending)(void *ud);                                  /* bytes queued for the client */
    bool (*gone)(void *ud);                                       /* the client went away */
    void (*end)(void *ud, const struct zt_relay_end *e);          /* once, last */
    void *ud;
};

/* Run the forward on a thread of its own; sink->end is called exactly once
 * there, and the forward freed. ZT_EIO (no thread): the forward is still
 * the caller's (zt_relay_fwd_free). */
ZT_NODISCARD int zt_relay_start(struct zt_relay_fwd *f, const struct zt_relay_sink *sink);
/* Drop a forward that was not started (releases its slot). NULL: no-op. */
void zt_relay_fwd_free(struct zt_relay_fwd *f);

/* ---- Routing: the local-first decision -------------------------------------- */

enum zt_route_where {
    ZT_ROUTE_LOCAL = 0,   /* run here (this node serves the model, or no peers / no model named) */
    ZT_ROUTE_REMOTE = 1,  /* seal it to *worker */
    ZT_ROUTE_NOWHERE = 2, /* no local model and no registered peer serves it */
    ZT_ROUTE_SCHEDULED = 3, /* submit it to this node's orchestrator (then *fallback) */
};

/* Where a request for model (NULL: the default model) runs. serves_locally:
 * this node has the worker role and a model of that id. pin (a node id;
 * NULL or "" = any) restricts the remote choice to one peer. joined: the
 * workers this node's orchestrator can place on (zt_orch_role_workers; 0:
 * none, or no orchestrator). With workers joined, a named model not served
 * here and no pin: ZT_ROUTE_SCHEDULED, and *fallback (may be NULL) says
 * where it goes when no joined worker serves the model after all
 * (ZT_ROUTE_REMOTE or ZT_ROUTE_NOWHERE). *worker is written whenever a
 * static peer serves it (ZT_ROUTE_REMOTE, or a fallback of ZT_ROUTE_REMOTE). */
enum zt_route_where zt_route_decide(struct zt_peers *peers, const char *model, bool serves_locally, const char *pin,
                                    size_t joined, int64_t now, struct zt_peer *worker, enum zt_route_where *fallback);

/* ---- Failover: one job across workers (resumable.c) ---------------------------
 *
 * A job whose worker dies (the connection drops) or stalls (nothing for the
 * stall deadline) moves to the next worker with the prompt, the ids already
 * streamed and the last checkpoint (wire v2, docs/architecture/WIRE.md); the
 * text hook sees one continuous text, byte-identical to an uninterrupted
 * run. Who is next is the picker's business: the static peers today
 * (zt_route_picker), the scheduler tomorrow. See docs/internals/jobs.md. */

struct zt_job_worker {
    char node_id[ZT_IDENTITY_ID_SIZE];           /* the worker the job is sealed to */
    uint8_t kem_pk[ZT_HPKE_PK_LEN];
    uint8_t sign_pk[ZT_ENV_ED25519_PK_LEN];
    char base_url[ZT_DESCRIPTOR_MAX_ENDPOINT + 1]; /* where to POST: the worker, or a relay */
    bool via_relay;                              /* base_url is a relay's (Zentalk-Target-Node) */
    char recipient_id[ZT_IDENTITY_ID_SIZE];      /* the node behind base_url (signature audience) */
};

/* How one worker's attempt ended (what the picker is told). */
enum zt_job_attempt {
    ZT_JOB_ATTEMPT_OK = 0,      /* verified result */
    ZT_JOB_ATTEMPT_DIED = 1,    /* unreachable, or the stream was cut: connection dropped */
    ZT_JOB_ATTEMPT_STALLED = 2, /* nothing for the stall deadline (or no answer in time) */
    ZT_JOB_ATTEMPT_REFUSED = 3, /* answered with an error (busy, wrong recipient, ...) */
    ZT_JOB_ATTEMPT_BAD = 4,     /* a result that does not verify: not resumed from */
};

struct zt_job_picker {
    /* The next worker, none of the n node ids in exclude (those that had
     * the job). 0, ZT_ENOTFOUND (no other worker), or an error. */
    int (*pick)(void *ud, const char *const *exclude, size_t n, struct zt_job_worker *out);
    /* How w's attempt ended; tokens: the ids it streamed for this job (what
     * it did, and may be paid for: each id is counted for one worker). May
     * be NULL. */
    void (*report)(void *ud, const struct zt_job_worker *w, enum zt_job_attempt outcome, uint32_t tokens);
    /* What w's attempt says of w (after report; may be NULL): ok (a
     * verified result), or !ok: w died, stalled, refused the job for a
     * reason not the request's own (HTTP 400/413/422 are the request's) or
     * returned a bad result. Not called when the caller stopped the
     * attempt (its client went away, the node stops) or the request's own
     * fault was refused: those say nothing of w. */
    void (*health)(void *ud, const struct zt_job_worker *w, bool ok);
    void *ud;
};

struct zt_job_failover {
    const struct zt_job_picker *picker; /* NULL: no failover (report is not called either) */
    struct zt_job_spec spec;            /* as for the first call; the worker fields are set per pick */
    struct zt_job_target target;        /* template: timeouts, sign_as, now, bearer (URL per pick) */
    long stall_ms;                      /* silence between records that counts as a stall (0: none) */
    unsigned max_workers;               /* workers tried at most, the first included (0: 4) */
};

struct zt_job_failover_stats {
    unsigned workers;                   /* workers that had the job */
    char last_worker[ZT_IDENTITY_ID_SIZE];
    uint32_t n_ids;                     /* ids streamed in all */
    uint64_t resume_ms;                 /* the last failover: failure seen -> next worker's first record */
    bool none_left;                     /* after a failover (workers > 1), the last worker died or
                                           stalled (or refused, not for the request's fault) and no
                                           other was left: the picker had none, or max_workers had
                                           the job */
};

/* Send *job (made by zt_job_call_new and targeted at first) and, when its
 * worker dies or stalls, continue it on the workers f->picker gives
 * (zt_job_call_continue with RESUME), until one returns a verified result,
 * the hook or the caller stops it, the picker has none left, or
 * f->max_workers had it. *job is replaced by the call that ran last (free
 * that one). The outcome is the last call's; a VERIFIED one whose final
 * checkpoint does not name the job's subject or chain to the checkpoint
 * the job was resumed from is UNVERIFIED. st may be NULL. Errors as
 * zt_job_call_send. */
ZT_NODISCARD int zt_job_call_send_failover(struct zt_job_call **job, const struct zt_job_worker *first,
                                           const struct zt_job_failover *f, const struct zt_job_hooks *hooks,
                                           struct zt_job_outcome *out, struct zt_job_failover_stats *st);

/* A picker over the static peers (what zt_route_decide chooses from):
 * registered workers listing model, not expired, in node-id order; pin
 * (non-empty) allows that one only; relay (a registered peer, or NULL)
 * carries every job. The struct is the picker's state: keep it alive. */
struct zt_route_picker {
    struct zt_job_picker picker;
    struct zt_peers *peers;
    char model[ZT_ENV_MODEL_MAX + 1];
    char pin[ZT_IDENTITY_ID_SIZE];
    struct zt_peer relay;
    bool has_relay;
    int64_t now;
};
void zt_route_picker_init(struct zt_route_picker *rp, struct zt_peers *peers, const char *model, const char *pin,
                          const struct zt_peer *relay, int64_t now);
/* The job worker for peer w (through relay, or NULL). */
void zt_route_worker(const struct zt_peer *w, const struct zt_peer *relay, struct zt_job_worker *out);

/* ---- Verification: comparing two signed chains (verify.c) ------------------- */

enum zt_chain_verdict {
    ZT_CHAIN_MATCH = 0,        /* same subject, model file, build, count and chain */
    ZT_CHAIN_MISMATCH = 1,     /* same subject, anything else differs: one of them is wrong */
    ZT_CHAIN_INCOMPARABLE = 2, /* not final checkpoints of the same subject */
};

/* Compare a worker's final checkpoint a with a verifier's b (records as
 * they came in the streams; each verified under its key, pk_a / pk_b, or
 * the embedded one when NULL). *why: a static reason. Never reads
 * plaintext: what the orchestrator can do with what the gateway hands it.
 * ZT_EPARSE / ZT_ECRYPTO: a record that does not verify. */
ZT_NODISCARD int zt_job_chain_compare(const uint8_t *a, size_t a_len, const uint8_t *pk_a, const uint8_t *b,
                                      size_t b_len, const uint8_t *pk_b, enum zt_chain_verdict *verdict,
                                      const char **why);


/* ---- Verification by other workers: run the checks (verify.c) --------------- */

/* How a job is checked: teacher-forced (the checker reads prompt + the
 * worker's ids in batched passes and recomputes the chain: WIRE.md
 * section 7), or full replicated execution (the checker generates the
 * whole answer again: a RESUME with no ids, same subject). */
enum zt_job_check_mode { ZT_JOB_CHECK_TEACHER_FORCED = 0, ZT_JOB_CHECK_REPLICA = 1 };

/* Who checks: the orchestrator's choice (zt_verifier_pick), never a
 * worker that ran the job. */
struct zt_job_checker {
    /* The checker of round `round` (0, 1, ...: the verifier or the
     * replicas, then the arbiter), none of the n node ids in exclude.
     * 0, ZT_ENOTFOUND (none left), or an error. */
    int (*pick)(void *ud, unsigned round, const char *const *exclude, size_t n, struct zt_job_worker *out);
    /* A checker that failed its check (unreachable, stalled, refused
     * other than the claimed ids, a result that does not verify). May be
     * NULL. */
    void (*failed)(void *ud, const struct zt_job_worker *w, enum zt_job_attempt a);
    void *ud;
};

#define ZT_JOB_CHECKERS_MAX 8

struct zt_job_check_req {
    struct zt_job_call *job;            /* the call that ran last (its body, subject and verdict) */
    const uint8_t *ckpt;                /* the worker's FINAL checkpoint (result.checkpoint) */
    size_t ckpt_len;
    const uint8_t *worker_pk;           /* the key it must verify under */
    const int32_t *ids;                 /* every id the workers streamed */
    size_t n_ids;
    const char *const *ran;             /* the workers that ran the job (excluded) */
    size_t n_ran;
    enum zt_job_check_mode mode;
    unsigned replicas;                  /* REPLICA: workers that run it again (1..ZT_JOB_CHECKERS_MAX - 2) */
    unsigned max_tries;                 /* checkers tried per round before it counts as none (0: 2) */
    struct zt_job_spec spec;            /* model, max_tokens, ttl, now, suite; worker fields per checker */
    struct zt_job_target target;        /* sign_as, timeouts; base_url and recipient per checker */
    const struct zt_job_hooks *hooks;   /* only cancelled is used (may be NULL) */
};

enum zt_job_check_verdict {
    ZT_CHECK_AGREED = 0,    /* every checker's chain equals the worker's */
    ZT_CHECK_WORKER_WRONG,  /* a strict majority of the chains differ from the worker's and agree */
    ZT_CHECK_CHECKER_WRONG, /* the worker's chain has a strict majority; some checker differed */
    ZT_CHECK_UNDECIDED,     /* no strict majority, no arbiter left */
    ZT_CHECK_UNAVAILABLE,   /* no checker could be found or none answered: nothing was checked */
};
const char *zt_job_check_verdict_name(enum zt_job_check_verdict v);

struct zt_job_check_one {
    char node_id[ZT_IDENTITY_ID_SIZE];
    const char *role;                   /* "verifier", "replica" or "arbiter" */
    bool answered;                      /* it returned a verified result (or refused the claimed ids) */
    bool refused_ids;                   /* teacher-forced: it refused the claimed ids (400) */
    bool agrees;                        /* answered, and its chain equals the worker's */
    bool wrong;                         /* answered outside the majority that decided */
    uint8_t receipt[ZT_ENV_RECEIPT_MAX_LEN]; /* its signed receipt (answered, not refused_ids) */
    size_t receipt_len;
    uint8_t checkpoint[ZT_CKPT_MAX_LEN]; /* its signed FINAL checkpoint (answered, not refused_ids): */
    size_t checkpoint_len;              /* the evidence a remote orchestrator compares (zt_job_check_decide) */
    uint64_t ms;                        /* its check, send to end */
};

struct zt_job_check_result {
    enum zt_job_check_verdict verdict;
    const char *why;                    /* static */
    size_t n;                           /* every checker the job was sent to (each saw the text) */
    struct zt_job_check_one c[ZT_JOB_CHECKERS_MAX];
    uint64_t ms;                        /* the whole check */
};

/* One answer of a check, as compared: a FINAL checkpoint record under the
 * key it must verify with (pk; NULL: the embedded one), or a refusal of
 * the claimed ids (refused_ids: ckpt unused). */
struct zt_job_answer {
    const uint8_t *ckpt;
    size_t ckpt_len;
    const uint8_t *pk;
    bool refused_ids;
};

/* The verdict of n answers, a[0] the worker's and a[1..n-1] the
 * checkers': two are equal when both refused the ids or both checkpoints
 * verify and compare MATCH (zt_job_chain_compare); the largest group of
 * equal answers decides when it is a strict majority (ties between groups:
 * the first found); none: UNDECIDED; n < 2: UNAVAILABLE. agrees[i] and
 * wrong[i] (may be NULL; index 0 unused) as in zt_job_check_one. What
 * zt_job_check_run decides with, and what an orchestrator recomputes from
 * the signed checkpoints a remote gateway reports (it never sees text). */
enum zt_job_check_verdict zt_job_check_decide(const struct zt_job_answer *a, size_t n, bool *agrees, bool *wrong);

/* Check a finished job on other workers (r->mode), arbitrate a
 * disagreement with one more checker of the same mode, and say who was in
 * the minority. Every checker the body was sent to is listed in out->c
 * (the audit log records them: they saw the user's text). Blocks (run it
 * on a job thread). ZT_EINVAL, ZT_ENOMEM; the checks' own failures are in
 * the verdict, not the return. */
ZT_NODISCARD int zt_job_check_run(const struct zt_job_check_req *r, const struct zt_job_checker *ck,
                                  struct zt_job_check_result *out);

#endif
