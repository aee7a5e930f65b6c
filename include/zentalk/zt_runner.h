/* zt_runner.h: serves one loaded model to many concurrent requests.
 *
 * A runner owns a model, a fixed number of slots (each a zt_seq with its own
 * KV cache and sampler) and one thread that loops: admit queued jobs into
 * free slots, build one batch from every active slot (a chunk of prompt for
 * slots still reading their prompt, one token for generating slots), run
 * zt_model_decode once, sample, stream text out. That is continuous
 * batching: a new request joins at the next step without waiting for the
 * others. Because the forward pass is batch-invariant, a job's tokens and
 * hash chain do not depend on what else runs beside it.
 *
 * A slot keeps the tokens of its last job; a new job whose prompt starts
 * with them reuses that KV cache prefix (bit-identical to recomputing).
 *
 * Events reach the caller through a callback run on the runner thread: it
 * must be quick and must not call back into the runner. */
#ifndef ZT_RUNNER_H
#define ZT_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_sampler.h"

struct zt_model;
struct zt_runner;

#define ZT_RUNNER_MAX_STOP 8
#define ZT_RUNNER_MAX_STOP_LEN 256

/* Output token ids given with a job (docs/architecture/WIRE.md):
 *   RESUME: the ids another worker already streamed. They are decoded with
 *     the prompt in batched passes, enter the hash chain with their logits
 *     (as if this runner had sampled them), their text is not emitted
 *     again, and generation continues at token n_forced: the same text and
 *     hash chain as one uninterrupted run (the sampler's draw depends only
 *     on (seed, position), zt_sampler.h).
 *   VERIFY: the ids a worker claims it generated, teacher-forced in batched
 *     passes; at each position the sampler picks its own token from the
 *     logits and that token enters the chain (so a changed token changes
 *     the chain), then the job ends with finish_reason "verified" and the
 *     chain; no text. */
enum zt_job_force { ZT_JOB_FORCE_NONE = 0, ZT_JOB_FORCE_RESUME = 1, ZT_JOB_FORCE_VERIFY = 2 };

enum zt_job_kv {
    ZT_JOB_KV_ANY = 0,
    ZT_JOB_KV_F32 = 1,
    ZT_JOB_KV_F16 = 2,
};

/* The precision mode a job must run in (zt_quant.h, enum zt_precision):
 * the declared BF16 mode gives other bits than the exact one, so it is
 * asked for, never substituted. */
enum zt_job_precision {
    ZT_JOB_PRECISION_ANY = 0,
    ZT_JOB_PRECISION_EXACT = 1,
    ZT_JOB_PRECISION_BF16 = 2,
};

struct zt_job_params {
    struct zt_sampler_params sampler;
    uint32_t max_tokens;      /* 0 = until the context is full */
    const char *stop[ZT_RUNNER_MAX_STOP]; /* stop strings (copied at submit) */
    size_t n_stop;
    bool ignore_eos;
    /* ids given (copied at submit; at most max_tokens). A RESUME whose ids
     * end the job (an EOS id, or max_tokens of them: the worker died before
     * its final chunk) finishes right after them, the held-back text out */
    enum zt_job_force force;
    const int32_t *forced;
    size_t n_forced;
    /* one ZT_JOB_TEXT event per token accepted (text may be empty), with
     * token, n_tokens and hash set: what a sealed stream needs to carry ids
     * and checkpoints (off: text events only when there is text) */
    bool want_ids;
    /* the KV cache type the job must run with (what a verifier must match:
     * the worker's receipt names it, zt_engine_build_id_kv): ANY runs on
     * the runner's; another than the runner's is refused at submit with
     * ZT_EUNSUPPORTED */
    enum zt_job_kv kv;
    /* the precision mode the job must run in (the worker's receipt names
     * it, zt_engine_build_id_mode): ANY runs in the model's; the other
     * mode than the model's is refused at submit with ZT_EUNSUPPORTED */
    enum zt_job_precision precision;
};

enum zt_job_event_kind {
    ZT_JOB_TEXT = 1,   /* text: new output (complete UTF-8) */
    ZT_JOB_DONE = 2,   /* finish_reason, usage and hash are set; last event */
    ZT_JOB_ERROR = 3,  /* err is set; last event */
    ZT_JOB_EMBEDDING = 4, /* embedding/n_embd are set; last event */
};

struct zt_job_event {
    enum zt_job_event_kind kind;
    const char *text;
    size_t len;
    const char *finish_reason;   /* "stop", "length" */
    uint32_t prompt_tokens;
    uint32_t completion_tokens;
    uint32_t cached_tokens;      /* prompt tokens served from the slot's KV cache */
    uint8_t hash[ZT_SAMPLER_HASH_LEN]; /* DONE; TEXT with want_ids: the chain so far */
    int32_t token;               /* TEXT with want_ids: the id accepted (-1: text flushed at the end) */
    uint32_t n_tokens;           /* TEXT with want_ids, DONE: generated ids in the chain (EOS included) */
    int32_t first_mismatch;      /* DONE of a VERIFY job: first position whose claimed id differs from
                                  * this runner's pick (-1: none) */
    const float *embedding;
    uint32_t n_embd;
    int err;
    /* TEXT and DONE: the engine build id of this job's run, its KV cache
     * type and precision mode included (zt_engine_build_id_mode): what receipts and checkpoints
     * sign, so verifiers compare like with like */
    const char *engine;
};

typedef void (*zt_job_cb)(void *ud, const struct zt_job_event *ev);

struct zt_runner_opts {
    unsigned n_slots;       /* concurrent sequences (1..64) */
    uint32_t n_ctx;         /* context per slot (0 = the model's) */
    unsigned n_threads;     /* compute threads (1..256) */
    unsigned max_queue;     /* jobs waiting for a slot before submit says ZT_EBUSY */
};

/* Takes ownership of the model (freed with the runner). */
ZT_NODISCARD int zt_runner_new(struct zt_model *m, const struct zt_runner_opts *o, struct zt_runner **out);
/* Stops the thread (jobs in progress end with ZT_ECLOSED errors) and frees. */
void zt_runner_free(struct zt_runner *r);

/* Stop the thread: every queued or running job gets a ZT_ECLOSED error event
 * before this returns; later submits fail with ZT_ECLOSED and cancels are
 * no-ops. The runner stays valid until zt_runner_free(). */
void zt_runner_shutdown(struct zt_runner *r);

struct zt_model *zt_runner_model(const struct zt_runner *r);
uint32_t zt_runner_n_ctx(const struct zt_runner *r);

/* Queue a generation job for prompt tokens (copied). ZT_ERANGE when the
 * prompt does not fit the context, ZT_EINVAL for bad parameters or tokens,
 * ZT_EBUSY when the queue is full, ZT_ECLOSED when shutting down. On success
 * *job_id identifies the job for zt_runner_cancel(). */
ZT_NODISCARD int zt_runner_submit(struct zt_runner *r, const int32_t *prompt, size_t n,
                                  const struct zt_job_params *p, zt_job_cb cb, void *ud,
                                  uint64_t *job_id);
/* Queue an embedding job (one ZT_JOB_EMBEDDING or ZT_JOB_ERROR event). */
ZT_NODISCARD int zt_runner_embed(struct zt_runner *r, const int32_t *tokens, size_t n, zt_job_cb cb,
                                 void *ud, uint64_t *job_id);
/* Cancel a job: when this returns, its callback is not running and will not
 * be called again. Unknown or finished ids are ignored. */
void zt_runner_cancel(struct zt_runner *r, uint64_t job_id);

/* Counters for /metrics. */
struct zt_runner_stats {
    uint64_t prompt_tokens, generated_tokens, jobs_done, steps;
    unsigned active_slots, queued;
};
void zt_runner_stats(struct zt_runner *r, struct zt_runner_stats *out);
/* true once a decode failed with ZT_EIO (its device failed: the jobs then
 * in it ended with that error); the GPU pool takes such a device out. */
bool zt_runner_device_failed(struct zt_runner *r);

#endif
