/* zt_sealed_worker.h: the worker side of a sealed job (src/jobs/sealed_worker.c),
 * with no HTTP in it: the route POST /v1/jobs/sealed (src/server/sealed_api.c)
 * hands it the envelope's bytes and who sent them, renders a refusal, and
 * writes the sealed stream it produces to the connection.
 *
 *   descriptor   the node's signed descriptor (zt_identity.h), cached and
 *                re-signed every ZT_SEALED_WORKER_REFRESH_S seconds
 *   accept       a job, in order: the envelope's lifetime bound, a known
 *                job id refused (before decrypting), the envelope opened
 *                with the node's X25519 key (without the replay cache),
 *                an envelope older than this worker refused (the replay
 *                cache is in memory), the job's price ceiling checked
 *                against the worker's price (chain.price_*_per_1k), the
 *                body decoded (zt_job_body_decode) and built into an
 *                inference job exactly as the OpenAI routes do
 *                (zt_infer_job_openai), the result writer set up; only then
 *                is the job id recorded in the replay cache, within the
 *                caller's share (zt_replay_share.h): a refused body burns
 *                no id
 *   run          the job's events sealed as they come: a chunk per text
 *                event (wire v2: the token ids, a signed checkpoint every
 *                ZT_SEALED_CHECKPOINT_EVERY ids), the final chunk with the
 *                finish reason and usage, the signed receipt; a check (a
 *                verification, or a replica) also hands its signed answer to
 *                the check hook
 *
 * Wire formats: docs/api.md, docs/architecture/WIRE.md; see
 * docs/internals/sealed.md. The body is never logged; logs name the job id,
 * model and token counts only. Thread-safe (a run is used by one thread at
 * a time). */
#ifndef ZT_SEALED_WORKER_H
#define ZT_SEALED_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_infer.h"

#define ZT_SEALED_WORKER_REPLAY_IDS ((size_t)65536) /* job ids held when encryption.replay_ids is 0 */
#define ZT_SEALED_WORKER_DESCRIPTOR_TTL_S 3600      /* a descriptor's lifetime */
#define ZT_SEALED_WORKER_REFRESH_S 600              /* a cached descriptor is re-signed after this long */

struct zt_sealed_worker;

/* id, inf and cfg must outlive the result. Allocates the replay cache and
 * the callers' shares of it when cfg runs the worker role. ZT_ENOMEM. */
ZT_NODISCARD int zt_sealed_worker_new(const struct zt_identity *id, struct zt_infer *inf,
                                      const struct zt_config *cfg, struct zt_sealed_worker **out);
void zt_sealed_worker_free(struct zt_sealed_worker *w);
/* Whether this node runs sealed jobs (the worker role). */
bool zt_sealed_worker_runs_jobs(const struct zt_sealed_worker *w);

/* The URL the node serves, for the descriptor (copied; the cached
 * descriptor is re-signed). Called once the server listens, while requests
 * may already run: until then there is no descriptor (ZT_EINVAL: it must
 * name an endpoint). */
void zt_sealed_worker_set_endpoint(struct zt_sealed_worker *w, const char *endpoint);

/* A check this worker ran ended (a teacher-forced verification job, or a
 * replica: a resume with no ids and no checkpoint): its signed FINAL
 * checkpoint and receipt (no text), handed over just before the final
 * chunk goes to the gateway, so that the worker can report them to its
 * orchestrators itself (joiner.c). Must not block. */
typedef void (*zt_sealed_check_fn)(void *ud, const uint8_t *ckpt, size_t ckpt_len, const uint8_t *receipt,
                                   size_t receipt_len);
/* Set once, before the server serves. */
void zt_sealed_worker_set_check_hook(struct zt_sealed_worker *w, zt_sealed_check_fn fn, void *ud);

/* The node's signed descriptor, re-signed when ZT_SEALED_WORKER_REFRESH_S
 * old (or the clock went back): appended to b and/or copied to *copy
 * (zt_free); either may be NULL. ZT_EINVAL (w NULL), ZT_ENOMEM, the
 * signer's errors. */
ZT_NODISCARD int zt_sealed_worker_descriptor(struct zt_sealed_worker *w, struct zt_buf *b, char **copy);

/* Why a job was refused: a stable code and a message for the client (never
 * a byte of the opened body). infer: code and message are the inference
 * service's (zt_infer_err: its codes, its statuses). Otherwise one of
 *   invalid_envelope, unsupported_envelope, wrong_recipient,
 *   envelope_expired, envelope_not_yet_valid, envelope_replayed,
 *   replay_cache_full, envelope_rejected, envelope_lifetime_too_long,
 *   envelope_predates_restart, price_above_ceiling, invalid_job,
 *   unsupported_job, model_unavailable, replay_share_exhausted,
 *   overloaded, internal
 * with retry_after_s > 0 when the client should wait that long
 * (replay_cache_full, replay_share_exhausted). */
struct zt_sealed_refusal {
    bool infer;
    unsigned retry_after_s;
    struct zt_infer_err err;
};

/* Where a run's bytes go (the route's connection c): write returns 0,
 * ZT_ECLOSED (the client left: not an error), or another error (the stream
 * is ended short); end closes the stream. */
struct zt_sealed_conn {
    int (*write)(void *c, const void *p, size_t n);
    void (*end)(void *c);
};

struct zt_sealed_run;
/* Accept the envelope env (len bytes) from caller (an authenticated or
 * signed caller's identity with admitted true, else its address; the
 * replay share it takes from). request_id: for the logs. 0 with *run and
 * *job (the inference job, to start with the run's events going to
 * zt_sealed_run_*) and head (the stream header, the first bytes out);
 * ZT_EPERM with *why filled when refused. Nothing is kept on refusal. */
ZT_NODISCARD int zt_sealed_worker_accept(struct zt_sealed_worker *w, const uint8_t *env, size_t len,
                                         const char *caller, bool admitted, const char *request_id,
                                         struct zt_sealed_run **run, struct zt_infer_job **job,
                                         uint8_t head[static ZT_ENV_STREAM_HDR_LEN], struct zt_sealed_refusal *why);

/* A run's events (the runner thread's; each one quick, writing to out,
 * never blocking on anything else): text (ZT_JOB_TEXT), done (the final
 * chunk and receipt, then end) and fail (the stream ended short: no final
 * chunk, so the client's reader reports a truncation). After a write
 * failed, the rest are ignored. */
struct zt_job_event;
void zt_sealed_run_text(struct zt_sealed_run *r, const struct zt_job_event *ev, const struct zt_sealed_conn *out,
                        void *c);
void zt_sealed_run_done(struct zt_sealed_run *r, const struct zt_job_event *ev, const struct zt_sealed_conn *out,
                        void *c);
void zt_sealed_run_fail(struct zt_sealed_run *r, int err, const struct zt_sealed_conn *out, void *c);
/* Wipes the buffered bytes. NULL: no-op. */
void zt_sealed_run_free(struct zt_sealed_run *r);

#endif
