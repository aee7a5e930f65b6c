/* zt_gwjob.h: the gateway's remote-job runner (src/jobs/gwjob.c). See
 * docs/internals/route.md and docs/internals/orchestrator.md.
 *
 * A gateway that does not serve a model itself runs the request as a
 * sealed job on another node. The HTTP route (src/server/route_api.c)
 * parses the request, asks the privacy gate, and hands the job here; the
 * runner does the rest on a thread of its job pool:
 *
 *   static peer   sealed to a registered worker peer (or through a relay),
 *                 failing over to the next peer serving the model when the
 *                 worker dies or stalls mid-stream;
 *   scheduled     submitted to the orchestrator's scheduler, waiting for the
 *                 worker it assigns, failing over through the scheduler (a
 *                 worker that fails before anything reached the client is
 *                 charged and the job requeued), then checked by other
 *                 workers when the verifier's draw says so, and settled with
 *                 the ledger (chain.enabled).
 *
 * Two interfaces keep it free of HTTP and of the orchestrator's module
 * (which depends on this one):
 *
 *   struct zt_gw_sink   where the answer goes: each restored text chunk,
 *                       the verified end, an error; the route renders them
 *                       as SSE or JSON (openai.h).
 *   struct zt_gw_place  the scheduler, as the gateway sees it: submit, the
 *                       worker's keys, how each attempt went, the checks.
 *                       The node wires it to its orchestrator (in-process,
 *                       or a remote one's lease routes).
 *
 * Nothing of the prompt, the messages or the answer is logged; the logs and
 * the audit log name the job id, the worker and the PII types. */
#ifndef ZT_GWJOB_H
#define ZT_GWJOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_auth.h"
#include "zt_config.h"
#include "zt_error.h"
#include "zt_identity.h"
#include "zt_jobs.h"
#include "zt_ledger.h"
#include "zt_peers.h"
#include "zt_privacy.h"

#define ZT_GW_JOB_ID_SIZE 33 /* a scheduler job id: 32 hex + NUL (ZT_JOB_ID_SIZE) */
#define ZT_GW_BUFFER_MAX ((size_t)1 << 20) /* bytes queued for a slow client before the job waits */
#define ZT_GW_PEERS_MAX 64   /* workers counted by id (zt_gw_runner_peer_counts) */

struct zt_gw_runner;
struct zt_gw_job;
struct json_t;
struct zt_chain;
struct zt_orch_verdict; /* zt_orch_client.h */

/* ---- The sink: where a job's answer goes ----------------------------------- */

/* What a verified answer carries beside its text: where it ran and the
 * proof (the route renders it as the answer's "zentalk" object). */
struct zt_gw_answer {
    const struct zt_sealed_result *res; /* final chunk, usage, receipt */
    const char *ran_on;                 /* the worker's node id */
    const char *job_id;                 /* the sealed job's id */
    const char *via;                    /* the relay's node id, or NULL */
    const char *verification;           /* "receipt", "verified", "exempt", "skipped", "undecided" */
    struct json_t *checks;              /* the workers that checked it (borrowed), or NULL */
};

/* How a job ended, for the job.completed webhook (once per job; not for an
 * attempt that was retried on another worker). */
struct zt_gw_end {
    const char *job_id;  /* the scheduler's, else the sealed job's, or NULL */
    const char *user;    /* the caller's identity ("" anonymous) */
    const char *model;
    const char *worker;
    const char *outcome; /* "ok", "unverified", "refused", "timeout", "unreachable", "client_gone", ... */
    uint32_t prompt_tokens, completion_tokens;
    uint64_t ms;
};

/* Called on the job's thread only, one at a time. */
struct zt_gw_sink {
    /* A restored text chunk (opened and authenticated; verified only at the
     * end): stream it, or keep it for the end. 0, or ZT_E* to stop the job. */
    int (*text)(void *ud, const char *text, size_t len);
    /* The verified end: the answer goes out (and into the result cache). */
    void (*ok)(void *ud, const struct zt_gw_answer *a);
    /* The job ends in an error (an error event when streaming). */
    void (*error)(void *ud, int status, const char *code, const char *msg);
    /* The client went: end its connection (nobody reads it). */
    void (*gone)(void *ud);
    /* Whether the client's connection went (a look at its socket). */
    bool (*client_gone)(void *ud);
    /* Bytes queued for the client; the job waits while over ZT_GW_BUFFER_MAX. */
    size_t (*backlog)(void *ud);
    /* Whether any of the answer reached the client (a retry on another
     * worker is then impossible). */
    bool (*started)(void *ud);
    /* Another worker starts the answer again (a kept answer is dropped). */
    void (*restart)(void *ud);
    /* The job's thread is done with the connection (always called once). */
    void (*release)(void *ud);
    /* The job is freed: nothing of the sink is called after this. */
    void (*free)(void *ud);
    void *ud;
};

/* A verified scheduled job settled to its worker (chain.enabled), for the
 * payout.settled webhook. */
struct zt_gw_paid {
    const struct zt_ledger_prices *at; /* the prices it was settled at */
    const char *job_id;                /* the scheduler's */
    const char *user;                  /* the caller's identity ("" anonymous) */
    const char *worker;
    uint32_t prompt_tokens, completion_tokens;
};

/* The runner's hooks (the node wires them to the webhooks, zt_bridge.h),
 * called on a job's thread: each job's end (struct zt_gw_end) and its
 * settlement (struct zt_gw_paid). Either may be NULL. */
struct zt_gw_hooks {
    void (*ended)(void *ud, const struct zt_gw_end *e);
    void (*paid)(void *ud, const struct zt_gw_paid *p);
    void *ud;
};

/* ---- The scheduler as the gateway sees it ----------------------------------- */

/* A submission (the scheduler's struct zt_job_req). */
struct zt_gw_submit {
    const char *client; /* fair-queueing key (a pseudonym) */
    const char *model;
    uint32_t ctx_tokens, max_tokens;
    uint64_t price_ceiling;
};

/* Its answer (the scheduler's struct zt_sched_result). */
struct zt_gw_placed {
    char job_id[ZT_GW_JOB_ID_SIZE];
    bool assigned;                    /* a worker took it at once */
    char worker[ZT_IDENTITY_ID_SIZE]; /* assigned: which */
    unsigned retry_after_s;           /* ZT_EBUSY: when to ask again */
};

/* A worker as the orchestrator knows it. */
struct zt_gw_worker_info {
    struct zt_job_worker w;           /* node id, keys, endpoint (base_url) */
    bool has_rate;                    /* its join record gives its own prices */
    struct zt_ledger_rate rate;
    char wallet[43];                  /* its payout wallet, or "" */
};

struct zt_gw_place {
    /* The orchestrator runs in another process (lease routes): assignments
     * are asked for (wait), the ok report ends the lease, and its draw for
     * a check comes with the ok report. */
    bool (*remote)(void *ud);
    /* Submit a job: 0, ZT_ENOTFOUND (no worker serves the model), ZT_EBUSY
     * (the queue is full: retry_after_s), other ZT_E*. */
    int (*submit)(void *ud, const struct zt_gw_submit *s, struct zt_gw_placed *out);
    /* Remote only: wait up to wait_ms for the job's next assignment: 1
     * (worker set), 0 (not yet), -1 (it failed, or was lost). */
    int (*wait)(void *ud, const char *job_id, long wait_ms, char worker[static ZT_IDENTITY_ID_SIZE]);
    /* Some worker can still take the job. */
    bool (*servable)(void *ud, const char *job_id);
    /* The worker as known here (ZT_ENOTFOUND), and the same with the job
     * started on it. */
    int (*worker)(void *ud, const char *worker, struct zt_gw_worker_info *out);
    int (*start)(void *ud, const char *job_id, const char *worker, struct zt_gw_worker_info *out);
    /* An attempt went well (verify: a remote orchestrator's draw for a
     * check of it, "" none; replicas: the request asked for them). */
    void (*ok)(void *ud, const char *job_id, const char *worker, uint32_t tokens, bool replicas, char *verify,
               size_t cap);
    /* An attempt failed (charge: the worker's fault; unreachable: it could
     * not be connected to): true when the job is still queued or assigned. */
    bool (*failed)(void *ud, const char *job_id, const char *worker, bool stalled, bool charge, bool unreachable);
    void (*cancel)(void *ud, const char *job_id);
    /* Run the placement now (a slot is free, a job requeued). */
    void (*kick)(void *ud);
    /* The in-process verifier's draw for a check of the job: a reason
     * ("new_worker", "sampled", ...) or NULL (none). Not called when remote. */
    const char *(*draw)(void *ud, const char *job_id, const char *worker, int64_t now_ms);
    /* The checks (zt_job_check_run's picker, a checker that failed, what
     * they decided). */
    int (*check_pick)(void *ud, const char *job_id, const char *model, const char *worker, const uint8_t *worker_pk,
                      const uint8_t *ckpt, size_t ckpt_len, unsigned round, const char *const *exclude, size_t n,
                      struct zt_job_worker *out);
    void (*check_failed)(void *ud, const char *job_id, const char *checker, bool stalled);
    void (*check_settle)(void *ud, const char *job_id, const struct zt_orch_verdict *v);
    /* Optional hooks (NULL: none; the runner counts these itself,
     * zt_gw_runner_register_metrics): a submission (rc), a retry on
     * another worker (why: "unreachable", "refused", "timeout",
     * "unverified"), a job's end. */
    void (*note_submit)(void *ud, uint64_t elapsed_ns, int rc);
    void (*note_retry)(void *ud, const char *why);
    void (*note_end)(void *ud, bool done);
    void *ud;
};

/* ---- The runner --------------------------------------------------------------- */

struct zt_gw_runner_opts {
    const struct zt_config *cfg;       /* encryption.*, orchestrator.*, privacy (borrowed) */
    const struct zt_identity *id;      /* signs the jobs (borrowed; may be set later) */
    struct zt_peers *peers;            /* static peers and relays (borrowed) */
    struct zt_privacy_layer *pv;       /* the audit log of disclosures (borrowed) */
};

/* A runner with a pool of encryption.remote_max_inflight job threads.
 * ZT_ENOMEM. */
ZT_NODISCARD int zt_gw_runner_new(const struct zt_gw_runner_opts *o, struct zt_gw_runner **out);
void zt_gw_runner_set_identity(struct zt_gw_runner *r, const struct zt_identity *id);
/* The scheduler (copied; NULL: none) and the books (NULL: free); before
 * the first scheduled job. */
void zt_gw_runner_set_place(struct zt_gw_runner *r, const struct zt_gw_place *p);
void zt_gw_runner_set_chain(struct zt_gw_runner *r, struct zt_chain *c);
/* The hooks (copied; NULL: none), before the first job. */
void zt_gw_runner_set_hooks(struct zt_gw_runner *r, const struct zt_gw_hooks *h);
/* Wake the jobs waiting for a worker and wait up to wait_ms for the
 * threads of jobs in flight (they answer 503 shutting_down). */
void zt_gw_runner_shutdown(struct zt_gw_runner *r, uint64_t wait_ms);
void zt_gw_runner_free(struct zt_gw_runner *r);
bool zt_gw_runner_stopping(const struct zt_gw_runner *r);
/* A pool slot for a job about to start (ZT_EBUSY: all taken), given back
 * when the job is not started after all. */
ZT_NODISCARD int zt_gw_runner_reserve(struct zt_gw_runner *r);
void zt_gw_runner_unreserve(struct zt_gw_runner *r);

/* The scheduler's events for the jobs waiting here (from its pump):
 * assigned (worker set) or failed. False when no job here has that id
 * (the caller frees an assigned worker's slot). */
bool zt_gw_runner_event(struct zt_gw_runner *r, const char *job_id, bool assigned, const char *worker);

struct zt_gw_stats {
    uint64_t remote, failed; /* jobs answered verified, and failed (unreachable, refused, unverified, ...) */
    unsigned inflight;
};
void zt_gw_runner_stats(struct zt_gw_runner *r, struct zt_gw_stats *out);
/* {"zt1...": {"ok": n, "failed": m}, ...} (new reference, or NULL). */
struct json_t *zt_gw_runner_peer_counts(struct zt_gw_runner *r);
/* Register zentalk_remote_jobs_failed_total and _in_flight, and the
 * where="remote" part of zentalk_jobs_total (the router registers that
 * family first; zt_metrics_add_part); and, for a
 * node whose own orchestrator places its jobs, the scheduled placements'
 * zentalk_orchestrator_job_retries_total, _jobs_total (how placed jobs
 * ended) and _placement_seconds (the scheduler's submit time for the jobs
 * it accepted). */
struct zt_metrics;
ZT_NODISCARD int zt_gw_runner_register_metrics(struct zt_gw_runner *r, struct zt_metrics *m);
ZT_NODISCARD int zt_gw_runner_register_placement_metrics(struct zt_gw_runner *r, struct zt_metrics *m);

/* ---- A job ---------------------------------------------------------------------- */

struct zt_gw_job_params {
    enum zt_job_kind kind;
    const char *model;
    uint32_t max_tokens;
    const char *caller;     /* the caller's identity ("" anonymous) */
    const char *request_id; /* or NULL */
    struct zt_privacy_verdict *verdict; /* the gate's: moved into the job (*verdict zeroed) */
    const struct zt_peer *peer; /* the static peer the router chose, or NULL (named until a worker takes it) */
};

/* A job for the request (its sink set by zt_gw_job_set_sink before it
 * starts). ZT_ENOMEM (the verdict is then still the caller's). */
ZT_NODISCARD int zt_gw_job_new(struct zt_gw_runner *r, const struct zt_gw_job_params *p, struct zt_gw_job **out);
void zt_gw_job_set_sink(struct zt_gw_job *j, const struct zt_gw_sink *s);
const struct zt_privacy_verdict *zt_gw_job_verdict(const struct zt_gw_job *j);
/* Free a job that was not started (its sink's free is called); one
 * submitted to the scheduler is withdrawn. */
void zt_gw_job_discard(struct zt_gw_job *j);
/* The client's connection closed (its on-close callback): the job stops at
 * its next look and the connection's reference is dropped. */
void zt_gw_job_client_closed(struct zt_gw_job *j);

/* A static peer: the job sealed to worker w (body: the request, its texts
 * under the verdict). ZT_EINVAL (the request's texts), ZT_ENOMEM/ZT_EPERM,
 * other ZT_E* (the worker's model id or KEM key). */
ZT_NODISCARD int zt_gw_job_seal(struct zt_gw_job *j, struct json_t *body, const struct zt_peer *w, int64_t now);
/* Where it goes: the worker, or through relay (a registered peer's id; NULL
 * or "": none; ZT_ENOTFOUND: not a registered peer), failing over to the
 * next peer serving the model (pin: encryption.remote_worker). The job id
 * (sealed) is written to job_id. */
ZT_NODISCARD int zt_gw_job_target(struct zt_gw_job *j, const char *relay, const char *pin, int64_t now,
                                  char job_id[static 2 * ZT_ENV_JOB_ID_LEN + 1]);
/* The relay's id, or NULL. */
const char *zt_gw_job_via(const struct zt_gw_job *j);

/* Scheduled: the request's body (referenced), the verification asked
 * (zentalk.replicas), the price ceiling (zentalk.max_price_per_1k). */
void zt_gw_job_set_scheduled(struct zt_gw_job *j, struct json_t *body, unsigned replicas, uint64_t price_ceiling,
                             const char *audit_who);

/* Submit a scheduled job (the scheduler, then the ledger's reservation
 * for the caller, identity; bytes and n_texts: the texts' size). 0: placed
 * (job id in job_id); ZT_ENOTFOUND with no error written: no worker serves
 * the model (the static peers may); else the request is refused with the
 * status, code and message written (retry_after: a Retry-After header, 0:
 * none). */
struct zt_gw_refusal {
    int status;
    const char *code;
    char msg[320];
    unsigned retry_after;
};
ZT_NODISCARD int zt_gw_job_submit(struct zt_gw_job *j, const char *client, const char *identity, uint64_t bytes,
                                  size_t n_texts, struct zt_gw_refusal *err, char job_id[static ZT_GW_JOB_ID_SIZE]);

/* The whole way from a job with its sink set to one ready to start, as
 * the router decided it (zt_route_decide): for a scheduled job, a pool
 * slot, the submission to the scheduler (zt_gw_job_set_scheduled,
 * zt_gw_job_submit) and, when no joined worker serves the model, the
 * static peer the router named as the fallback; for a static peer (or
 * that fallback), the body sealed to it (zt_gw_job_seal), a pool slot and
 * the target (zt_gw_job_target: encryption.relay, encryption.remote_worker).
 * 0: ready, *out filled, the slot the job's (zt_gw_job_start takes it over;
 * zt_gw_job_discard gives it back). Else the request is refused: the
 * status, code and message in err (retry_after: a Retry-After header, 0:
 * none), no slot held. */
struct zt_gw_launch {
    struct json_t *body;        /* the request (the texts under the job's verdict) */
    bool scheduled;             /* ZT_ROUTE_SCHEDULED */
    const struct zt_peer *peer; /* the static peer (remote, or a scheduled job's fallback), or NULL */
    int64_t now;                /* unix seconds */
    unsigned replicas;          /* scheduled: zentalk.replicas */
    uint64_t price_ceiling;     /* scheduled: zentalk.max_price_per_1k */
    const char *client_addr;    /* scheduled: the fair-queueing key without an identity */
    uint64_t bytes;             /* scheduled: the texts' size */
    size_t n_texts;             /* scheduled: how many texts */
};
struct zt_gw_launched {
    bool scheduled;                   /* submitted to the scheduler (else sealed to a static peer) */
    char job_id[ZT_GW_JOB_ID_SIZE];   /* the scheduler's job id, or the sealed job's */
    char via[ZT_IDENTITY_ID_SIZE];    /* the relay's node id, or "-" */
    char worker[ZT_IDENTITY_ID_SIZE]; /* static: the worker's node id */
    uint64_t types;                   /* the verdict's PII types */
    bool masked;                      /* the texts leave masked (ZT_PRIVACY_VERDICT_MASKED) */
};
ZT_NODISCARD int zt_gw_job_launch(struct zt_gw_job *j, const struct zt_gw_launch *l, struct zt_gw_launched *out,
                                  struct zt_gw_refusal *err);

/* Start the job on a thread of the pool (its slot reserved by the
 * caller, or by zt_gw_job_launch). The job's connection reference is taken here: its client's
 * close is told by zt_gw_job_client_closed. On failure (ZT_EBUSY,
 * ZT_ENOMEM) the caller still owns the job and the slot; a scheduled job
 * is withdrawn from the scheduler. */
ZT_NODISCARD int zt_gw_job_start(struct zt_gw_job *j);

/* The client key for fair queueing: "c:" + keyed BLAKE2b-128 (hex) of
 * "id:" identity, else "addr:" addr, under a random per-process key (the
 * scheduler's table and a remote orchestrator never learn who asked). */
void zt_gw_client_key(const char *identity, const char *addr, char *out, size_t n);

/* ---- Decisions (pure; tested in tests/unit/test_gwjob.c) -------------------- */

/* How the client is answered after a job's outcome: an HTTP status, an
 * error code ("" for a verified result) and the outcome's name for the
 * logs ("ok", "unverified", "refused", "timeout", "unreachable",
 * "shutdown"); msg gets the message. worker/via name the worker and
 * relay; stopping: the node is stopping. A refusal passes through the
 * worker's own 400/413/503 {"error":{"code","message"}} in answer. */
struct zt_gw_verdict {
    int status;
    char code[64];       /* "" for a verified result */
    const char *outcome; /* static */
};
void zt_gw_outcome_answer(const struct zt_job_outcome *o, const char *answer, size_t answer_len,
                          const char *worker, const char *via, bool stopping, char *msg, size_t cap,
                          struct zt_gw_verdict *out);
/* Whether a failed attempt may go to another worker: nothing reached the
 * client (started), the client is there, the node runs, and the worker,
 * not the request, is at fault. */
bool zt_gw_worker_fault(const struct zt_job_outcome *o, bool started, bool closed, bool stopping);
/* The rate a job is settled at: the worker's own prices now (now: NULL
 * when unknown) and when it was placed (then: NULL when unknown), the
 * lower of each; false when neither is known (chain.yaml's prices). */
bool zt_gw_settle_rate(const struct zt_ledger_rate *now, const struct zt_ledger_rate *then,
                       struct zt_ledger_rate *out);

#endif
