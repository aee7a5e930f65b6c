/* zt_infer.h: the worker's inference service.
 *
 * One object, struct zt_infer, holds the models a node (or the CLI) can run:
 * the entries of models.yaml (or one GGUF file), each loaded on first use
 * into a zt_runner, and loaded models evicted least-recently-used when the
 * weights of the loaded set would exceed model_cache.memory_budget_mb. A
 * model in use is never evicted.
 *
 * A request becomes a job in one place for every caller (POST
 * /v1/completions and /v1/chat/completions, the sealed worker route, server
 * features, `zentalk run` and `zentalk chat`): the model resolved and
 * acquired, the sampling fields checked against their ranges with the
 * model's defaults, the prompt (or the conversation, formatted with the
 * model's chat template) tokenized within the context. A job then runs on
 * the model's runner, its events reaching a callback (zt_infer_start), or
 * synchronously (zt_infer_run).
 *
 * No HTTP here: a refused request comes back as a struct zt_infer_err, a
 * stable code ("invalid_request", "model_not_found", ...) and a message for
 * the client; the HTTP layer (src/server/openai.c) maps codes to statuses.
 * Messages never quote the prompt. Thread-safe.
 *
 * Lock order: a runner's lock before the registry's (runner callbacks
 * release models). See docs/internals/infer.md. */
#ifndef ZT_INFER_H
#define ZT_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_chat.h"
#include "zt_config.h"
#include "zt_error.h"
#include "zt_runner.h"
#include "zt_sampler.h"

struct json_t; /* jansson */
struct zt_infer;
struct zt_infer_job;
struct zt_infer_task;

/* ---- refusals --------------------------------------------------------------- */

#define ZT_INFER_CODE_MAX 40
#define ZT_INFER_MSG_MAX 1024

/* Why a request was refused. code is one of:
 *   invalid_request, context_length_exceeded        (the request's fault)
 *   prompt_too_large                                (over the prompt size cap)
 *   model_not_found                                 (no such model id)
 *   no_model, model_unavailable, model_cache_full,  (this node cannot now)
 *   overloaded, unavailable, shutting_down
 * rc is the ZT_E* behind it (ZT_EBUSY for a full queue: retry shortly). */
struct zt_infer_err {
    int rc;
    char code[ZT_INFER_CODE_MAX];
    char message[ZT_INFER_MSG_MAX];
};

/* ---- the registry ------------------------------------------------------------ */

struct zt_infer_opts {
    unsigned n_threads; /* compute threads per model; 0: gpu_pool.cpu_threads, else the CPUs online */
    unsigned n_slots;   /* concurrent jobs per model; 0: gpu_pool.max_batch (at most 64) */
    uint32_t n_ctx;     /* context per job; 0: the entry's context_size (0 there: the model's) */
    /* When set, a model's weights are read in at load (rather than on
     * first touch) and progress(ud, done, total) reports the bytes (the
     * CLI draws a bar). Called on the loading thread. */
    void (*progress)(void *ud, uint64_t done, uint64_t total);
    void *progress_ud;
    /* When true, a model that fails to load is refused with the reason
     * (paths, what the file held) in the message: for a local user (the
     * CLI). A node leaves it false: its clients get "model unavailable" and
     * the detail goes to the log only (issue 17 item 10). */
    bool detail_in_errors;
    /* Compute backend of the models (cpu, vulkan); NULL: gpu_pool.backend
     * (cpu for zt_infer_new_file). fast: a GPU backend's fast mode instead
     * of gpu_pool.deterministic / the deterministic default. */
    const char *backend;
    bool fast;
    /* Precision mode of the models' float matrices: "exact" or "bf16" (the
     * declared BF16 mode, zt_quant.h); NULL: gpu_pool.precision (exact for
     * zt_infer_new_file). */
    const char *precision;
};

/* The models of cfg (cfg->models, model_cache, node.data_dir, gpu_pool);
 * cfg must outlive the result. o may be NULL (all defaults). Nothing is
 * loaded yet. ZT_ENOMEM; ZT_EUNSUPPORTED when the compute backend asked for
 * is not built into this binary (logged with the reason; zt_infer_new_file
 * the same). */
ZT_NODISCARD int zt_infer_new(const struct zt_config *cfg, const struct zt_infer_opts *o, struct zt_infer **out);
/* One model, the GGUF file at path (copied), whose id is path itself and
 * which is the default. ZT_ENOMEM. */
ZT_NODISCARD int zt_infer_new_file(const char *path, const struct zt_infer_opts *o, struct zt_infer **out);
/* Shutdown step: end every job (ZT_ECLOSED error events) and stop the
 * runner threads; the models stay allocated until zt_infer_free(). Later
 * requests are refused (shutting_down). */
void zt_infer_shutdown(struct zt_infer *inf);
/* Free everything (no job may be running: call zt_infer_shutdown() first
 * when any might). NULL is a no-op. */
void zt_infer_free(struct zt_infer *inf);

size_t zt_infer_model_count(const struct zt_infer *inf);
/* Entry i (i < count) and whether it is loaded now. */
const struct zt_cfg_model *zt_infer_model(const struct zt_infer *inf, size_t i, bool *loaded);
/* The ids of the first max entries (borrowed: they live as long as inf)
 * into ids; their count. */
size_t zt_infer_model_ids(const struct zt_infer *inf, const char **ids, size_t max);
/* Index of the entry named id ("" or NULL: the default model), or -1. */
int zt_infer_model_find(const struct zt_infer *inf, const char *id);
/* True when id (not the default: a name) is one of the entries. */
bool zt_infer_serves(const struct zt_infer *inf, const char *id);
/* The file of entry i: data_dir/path, or data_dir/models/<last segment of
 * its url>. ZT_ETOOBIG when it does not fit n bytes. */
ZT_NODISCARD int zt_infer_model_file(const struct zt_infer *inf, size_t i, char *out, size_t n);
/* Models registered at run time (zt_infer_register) beside models.yaml's. */
#define ZT_INFER_MAX_REGISTERED 32
#define ZT_INFER_ID_MAX 64
/* Register a model file that arrived while the node runs (a model fetched
 * through the mesh, zt_mesh.h): it is served like a models.yaml entry
 * with the default sampling (temperature 0.8, top_p 0.95, top_k 40,
 * max_tokens 256, the model's own context), loaded on first use.
 * id: 1..ZT_INFER_ID_MAX of [A-Za-z0-9._-], not starting with '.';
 * path: as a models.yaml path (relative to node.data_dir, or absolute);
 * sha256_hex: the file's SHA-256 (64 lower-case hex digits). The entry is
 * appended: entries are never moved or removed, so jobs running on other
 * models are undisturbed, and readers (the routes, the joiner) see it
 * whole or not at all. Not persisted: after a restart the node registers
 * it again when told to serve it (docs/internals/infer.md).
 * 0 (also when id is already registered with this path and hash);
 * ZT_EINVAL (a bad argument, or the file is not GGUF), ZT_ENOTFOUND (no
 * file), ZT_EEXIST (id taken by another entry), ZT_ETOOBIG (more than
 * ZT_INFER_MAX_REGISTERED), ZT_ECLOSED (shutting down), ZT_ENOMEM. */
ZT_NODISCARD int zt_infer_register(struct zt_infer *inf, const char *id, const char *path, const char *sha256_hex);
/* Load model id now (it stays in the cache like any other). Refusals as
 * for a job: model_not_found, no_model, model_unavailable (the file is
 * missing or does not load: message says why), model_cache_full. */
ZT_NODISCARD int zt_infer_load(struct zt_infer *inf, const char *id, struct zt_infer_err *err);
/* Sum of the runner statistics of the loaded models. */
void zt_infer_stats(struct zt_infer *inf, struct zt_runner_stats *out, size_t *n_loaded);
/* Register the zentalk_models_loaded, zentalk_*_tokens_total and
 * zentalk_inference_* families with the node's metrics registry
 * (zt_metrics.h; src/infer/infer_metrics.c). Errors of zt_metrics_add_fn(). */
struct zt_metrics;
ZT_NODISCARD int zt_infer_register_metrics(struct zt_infer *inf, struct zt_metrics *m);

/* ---- request -> job ------------------------------------------------------------ */

/* A job from an OpenAI completion (chat false: "prompt", a string or an
 * array holding one string) or chat completion ("messages") request body,
 * borrowed for the call: "model" (the default when absent), temperature,
 * top_p, top_k, min_p, seed, max_tokens / max_completion_tokens,
 * frequency_penalty, presence_penalty, repeat_penalty (each checked against
 * its range, the model entry's defaults otherwise), stop (a string or up to
 * 4), logit_bias (token ids of this model). "stream", "n" and "echo" are
 * the caller's. On success the job holds the model (in use: not evicted)
 * until it is started or freed. Returns 0, or a negative ZT_E* with err
 * filled. */
ZT_NODISCARD int zt_infer_job_openai(struct zt_infer *inf, struct json_t *body, bool chat,
                                     struct zt_infer_job **out, struct zt_infer_err *err);

/* The same from parsed parameters (the CLI): msgs (chat) or prompt. */
struct zt_infer_request {
    const char *model;                /* id; NULL or "": the default */
    const char *prompt;               /* completion: the text (prompt_len bytes) */
    size_t prompt_len;
    const struct zt_chat_msg *msgs;   /* chat: formatted with the model's template */
    size_t n_msgs;
    struct zt_sampler_params sampler; /* used as given (logit_bias is copied) */
    uint32_t max_tokens;              /* 0: until the context is full */
};
ZT_NODISCARD int zt_infer_job_new(struct zt_infer *inf, const struct zt_infer_request *rq,
                                  struct zt_infer_job **out, struct zt_infer_err *err);

const char *zt_infer_job_model(const struct zt_infer_job *j); /* the entry's id */
size_t zt_infer_job_prompt_tokens(const struct zt_infer_job *j);
uint32_t zt_infer_job_n_ctx(const struct zt_infer_job *j);
/* True when the model's chat template was not recognised and ChatML was
 * used instead (chat jobs only). */
bool zt_infer_job_template_fell_back(const struct zt_infer_job *j);
/* Wire v2 (docs/architecture/WIRE.md). Ids given with the job (copied):
 * RESUME, the ids another worker streamed (at most max_tokens): they
 * are decoded with the prompt in batched passes and generation continues
 * after them, as if uninterrupted; VERIFY, claimed ids (at most
 * max_tokens), teacher-forced: the job ends "verified" with the chain it
 * recomputed (zt_runner.h). ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_infer_job_give(struct zt_infer_job *j, enum zt_job_force f, const int32_t *ids, size_t n);
/* A ZT_JOB_TEXT event per token (zt_job_params.want_ids). */
void zt_infer_job_want_ids(struct zt_infer_job *j);
/* SHA-256 of the file of the job's model, read once per load and kept
 * (the first call for a model reads the whole file). ZT_EIO, ZT_ENOMEM. */
ZT_NODISCARD int zt_infer_job_model_sha256(struct zt_infer_job *j, uint8_t out[static 32]);
/* Free a job that was not started (releases its model; the prompt tokens
 * are wiped). NULL is a no-op. */
void zt_infer_job_free(struct zt_infer_job *j);

/* ---- running a job ---------------------------------------------------------------- */

/* Where a started job's events go, on the runner thread, each quick (no
 * blocking, no call back into infer for this task except
 * zt_infer_task_close after the last event). ZT_JOB_TEXT events carry
 * complete UTF-8; ZT_JOB_DONE (finish_reason, usage, hash) or ZT_JOB_ERROR
 * (err) is the last. free(ud), when not NULL, runs exactly once when both
 * the job is over and the owner closed the task. */
struct zt_infer_sink {
    void (*event)(void *ud, const struct zt_job_event *ev);
    void (*free)(void *ud);
};

/* Queue the job on its model's runner. On success the job is consumed and
 * *out is the task, which the owner must close exactly once with
 * zt_infer_task_close(). On failure (err: overloaded with rc ZT_EBUSY when
 * the model's queue is full, invalid_request, unavailable, shutting_down)
 * the job and ud stay the caller's and sink->free is not called. */
ZT_NODISCARD int zt_infer_start(struct zt_infer_job *job, const struct zt_infer_sink *sink, void *ud,
                                struct zt_infer_task **out, struct zt_infer_err *err);
/* ---- a reported job's end (the node wires it to the job.completed webhook) ---- */
#define ZT_INFER_JOB_ID_HEX 33   /* a reported job's id: 16 random bytes in hex, NUL */
#define ZT_INFER_USER_MAX 128    /* the caller's identity, NUL included (ZT_AUTH_ID_MAX) */
struct zt_infer_job_end {
    const char *job_id;  /* hex, made when the job was marked (zt_infer_job_report_end) */
    const char *user;    /* the caller's identity ("" anonymous) */
    const char *model;   /* the model's id */
    const char *outcome; /* "ok", "failed", or "client_gone" (the owner closed it before its end) */
    uint32_t prompt_tokens, completion_tokens;
    uint64_t duration_ms; /* from zt_infer_start to the task's end (its last event and its owner's close) */
};
/* Where the end of every reported job goes (NULL: none), once, when its
 * task is freed (after its last event and its owner's close), on
 * whichever thread frees it; set before the first job starts. */
void zt_infer_set_on_end(struct zt_infer *inf, void (*fn)(void *ud, const struct zt_infer_job_end *e), void *ud);
/* Report job's end to the hook if it starts (a job refused by
 * zt_infer_start reports nothing): user (copied, truncated to
 * ZT_INFER_USER_MAX - 1) asked for it; a fresh random job id. */
void zt_infer_job_report_end(struct zt_infer_job *j, const char *user);

/* The owner is done: a job not over yet is cancelled (when this returns,
 * the sink is not running and will not be called again; no last event
 * comes). Must not be called from inside the sink, except after the last
 * event. */
void zt_infer_task_close(struct zt_infer_task *t);

/* Run the job to its end on this thread's behalf: text(ud, ...) is called
 * with the output as it comes (on the runner thread); should_stop(ud),
 * when not NULL, is polled about every 20 ms and true cancels the job
 * (result err ZT_ECLOSED). The job is consumed. *res is filled in every
 * case; returns 0 or the error (also res->err). */
struct zt_infer_result {
    int err;
    char finish_reason[16];       /* "stop", "length", "" when it failed */
    uint32_t prompt_tokens, completion_tokens, cached_tokens;
    uint8_t hash[ZT_SAMPLER_HASH_LEN];
    uint64_t first_event_ns;      /* from start to the first event (the prompt read) */
    uint64_t total_ns;            /* from start to the last event */
};
ZT_NODISCARD int zt_infer_run(struct zt_infer_job *job, void (*text)(void *ud, const char *t, size_t len),
                              bool (*should_stop)(void *ud), void *ud, struct zt_infer_result *res);

/* A chat completion for server-side features (smart replies, summaries)
 * through the same builder: messages is a JSON array of {"role","content"}
 * (borrowed), greedy decoding (deterministic), at most max_tokens. On
 * success cb is called exactly once, later, on the runner thread, with err
 * 0 and the text, or an error. Returns ZT_ENOTFOUND (no such model),
 * ZT_EBUSY, ZT_ETOOBIG (the prompt does not fit the model's context),
 * ZT_EINVAL, ZT_ENOMEM or a load error (why, when not NULL, says why); cb
 * is not called then. */
typedef void (*zt_infer_done_fn)(void *ud, int err, const char *text, size_t len);
ZT_NODISCARD int zt_infer_chat_run(struct zt_infer *inf, const char *model_id, struct json_t *messages,
                                   uint32_t max_tokens, zt_infer_done_fn cb, void *ud, struct zt_buf *why);

/* zt_infer_chat_run() and a wait on the calling thread of at most
 * timeout_ms for its answer (features that answer synchronously, such as
 * the translation service). *end says how it ended:
 *   ZT_INFER_ANSWERED    0, with *text (NUL-ended, zt_free() it) and *len;
 *   ZT_INFER_NOT_STARTED zt_infer_chat_run()'s error (why says why);
 *   ZT_INFER_TIMED_OUT   ZT_ETIMEDOUT: no answer in time (the job runs on
 *                        and its answer is dropped);
 *   ZT_INFER_FAILED      the job's error, or ZT_ENOMEM copying its answer. */
enum zt_infer_wait_end { ZT_INFER_ANSWERED, ZT_INFER_NOT_STARTED, ZT_INFER_TIMED_OUT, ZT_INFER_FAILED };
ZT_NODISCARD int zt_infer_chat_wait(struct zt_infer *inf, const char *model_id, struct json_t *messages,
                                    uint32_t max_tokens, unsigned timeout_ms, char **text, size_t *len,
                                    enum zt_infer_wait_end *end, struct zt_buf *why);

/* ---- embeddings --------------------------------------------------------------------- */

#define ZT_INFER_MAX_EMBED_INPUTS 64

/* The vectors of an embeddings request, in input order: n vectors of
 * n_embd floats each, v[i * n_embd + k]. */
struct zt_infer_embeddings {
    size_t n;
    uint32_t n_embd;
    const float *v;
    uint32_t prompt_tokens;
};
struct zt_infer_embed_sink {
    void (*done)(void *ud, int err, const struct zt_infer_embeddings *e);
    void (*free)(void *ud);
};

/* Embed body's "input" (a string or 1..64 non-empty strings) with its
 * "model" (an OpenAI embeddings request; "encoding_format" must be "float"
 * or "base64" when present: the caller renders it). On success the inputs are queued and *out is the task,
 * to close exactly once with zt_infer_task_close(); sink->done is called
 * once, later, on the runner thread, with every vector or an error, unless
 * the task was closed before; sink->free as for zt_infer_start(). On
 * failure err is filled (invalid_request, context_length_exceeded, the
 * model refusals, overloaded, unavailable) and nothing is called. */
ZT_NODISCARD int zt_infer_embed_openai(struct zt_infer *inf, struct json_t *body, const struct zt_infer_embed_sink *sink,
                                       void *ud, struct zt_infer_task **out, struct zt_infer_err *err);


/* ---- attestation: what this worker states it runs (infer_attest.c) ------------------- */

struct zt_identity;
struct zt_attest_claims;
struct zt_attest_model;
struct zt_infer_attest;
/* The attestation service over inf's models, signing with id (both must
 * outlive it): the running binary hashed once, here (zt_attest_self_sha256),
 * and a hash slot per configured model (zt_attest_hashes: a model file is
 * hashed the first time it is reported and the hash kept while the file
 * stays the same). ZT_ENOMEM, ZT_EIO (errno kept). Thread-safe. */
ZT_NODISCARD int zt_infer_attest_new(struct zt_infer *inf, const struct zt_identity *id,
                                     struct zt_infer_attest **out);
void zt_infer_attest_free(struct zt_infer_attest *a);
/* The claims of a report for nonce_hex (kept by pointer): the binary's
 * hash, the engine build id, every loaded model with its file's SHA-256,
 * issued now. c->models is *models, allocated (zt_free; NULL when no model
 * is loaded). ZT_ENOMEM; ZT_EIO: a loaded model's file cannot be hashed
 * (logged with the reason). */
ZT_NODISCARD int zt_infer_attest_claims(struct zt_infer_attest *a, const char *nonce_hex, struct zt_attest_claims *c,
                                        struct zt_attest_model **models);
/* The claims signed (zt_attest_report) into *report (zt_free). The errors
 * of zt_infer_attest_claims, or ZT_ECRYPTO (any failure to sign). */
ZT_NODISCARD int zt_infer_attest_report(struct zt_infer_attest *a, const char *nonce_hex, char **report);

#endif
