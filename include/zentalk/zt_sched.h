/* zt_sched.h: the orchestrator's scheduler and job lifecycle (DESIGN.md:
 * src/orchestrator/; docs/internals/orchestrator.md).
 *
 * A job is placed by metadata only (model, context tokens, max tokens,
 * price ceiling, deadline: never a prompt) on a live worker of the
 * registry (zt_registry.h) that serves the model, has a free slot, fits
 * the context, price and deadline and is above the reputation threshold,
 * the best by the documented score of reputation, load, measured latency
 * (an EWMA per worker fed by job outcomes) and price. When no such worker
 * has a free slot the job waits in its client's queue; queues are served
 * by deficit round robin, so one client's burst cannot starve another.
 * The queue is bounded: past it zt_sched_submit answers ZT_EBUSY with a
 * retry-after in seconds (the HTTP layer's 503 + Retry-After).
 *
 * Every job is a persisted state machine in the store (owner "sched",
 * table sched_jobs):
 *
 *   queued -> assigned -> running -> done -> verified
 *      |         |  \________|________/  \
 *      |         |           |            -> failed (verification rejected)
 *      +---------+-----------+-> failed (deadline, attempts exhausted, cancelled)
 *   assigned, running -> queued (worker lost or failed; attempt + 1)
 *
 * with timestamps, the worker and an attempt count; any other transition
 * is ZT_EINVAL. A restarted orchestrator resumes: queued jobs stay queued
 * (in submission order); assigned/running jobs keep their worker if its
 * session comes back within heartbeat_expiry_ms, else they follow the
 * worker-lost rule (docs/internals/orchestrator.md).
 *
 * Nothing here talks to the network: the caller delivers assignments
 * (zt_sched_submit's result, zt_sched_pump's events) and reports what the
 * workers did (started, finished, verified).
 *
 * Threads: every function is thread-safe and runs under the registry's
 * mutex (one lock for both); the store handle is the registry's. The
 * registry must outlive the scheduler. Errors: 0 or a negative ZT_E*. */
#ifndef ZT_SCHED_H
#define ZT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_identity.h"
#include "zt_registry.h"

struct zt_registry;
struct zt_sched;

#define ZT_JOB_ID_SIZE 33     /* 32 hex characters + NUL */
#define ZT_SCHED_CLIENT_MAX 128
#define ZT_SCHED_REASON_SIZE 32

enum zt_job_state {
    ZT_JOB_STATE_QUEUED = 0,
    ZT_JOB_STATE_ASSIGNED,
    ZT_JOB_STATE_RUNNING,
    ZT_JOB_STATE_DONE,
    ZT_JOB_STATE_FAILED,
    ZT_JOB_STATE_VERIFIED,
};
#define ZT_JOB_STATE_COUNT 6

/* "queued", "assigned", ... ("?" for an unknown value). */
const char *zt_job_state_name(enum zt_job_state s);
/* The transitions of the diagram above. */
bool zt_job_transition_legal(enum zt_job_state from, enum zt_job_state to);

struct zt_sched_opts {
    size_t max_queued;            /* jobs waiting, all clients (10000) */
    size_t max_queued_per_client; /* (1000) */
    uint32_t max_attempts;        /* assignments per job before it fails (3) */
    uint32_t quantum;             /* DRR quantum in tokens; a job costs min(max_tokens, quantum) (4096) */
    double w_rep, w_load, w_lat, w_price; /* score weights (0.40, 0.25, 0.20, 0.15) */
    double lat_ref_ms_per_tok;    /* latency at which the latency term is 1/2 (20) */
    double ewma_alpha;            /* weight of a new latency measurement (0.2) */
    uint64_t price_ref;           /* price per 1k at which the price term is 1/2 without a ceiling (1000) */
    size_t scan_max;              /* candidates scored per placement when a model has more workers (256) */
};
/* Zero fields take the defaults in parentheses. */

/* What a client asks for (metadata only). */
struct zt_job_req {
    const char *client;     /* fairness key (an API key id or pseudonymous ref), 1..ZT_SCHED_CLIENT_MAX bytes */
    const char *model;      /* 1..ZT_DESCRIPTOR_MAX_STR bytes */
    uint32_t ctx_tokens;    /* prompt tokens */
    uint32_t max_tokens;    /* output tokens at most (>= 1) */
    uint64_t price_ceiling; /* per 1k tokens, ledger units; 0 = none */
    int64_t deadline_ms;    /* unix ms by which it must be done; 0 = none */
    const char *gateway;    /* the node id of the gateway in another process that submitted it over a
                               signed lease, or NULL / "": only that gateway may have another
                               orchestrator of the store continue it (zt_sched_job_adopt) */
};

struct zt_sched_result {
    enum zt_job_state state;           /* ZT_JOB_STATE_ASSIGNED or ZT_JOB_STATE_QUEUED */
    char job_id[ZT_JOB_ID_SIZE];
    char worker[ZT_IDENTITY_ID_SIZE];  /* when assigned */
    uint32_t retry_after_s;            /* with ZT_EBUSY */
};

/* Events of zt_sched_pump, in order. */
enum zt_sched_event_kind {
    ZT_SCHED_EV_ASSIGNED = 0, /* a queued job was placed on worker */
    ZT_SCHED_EV_REQUEUED,     /* worker was lost; the job waits again */
    ZT_SCHED_EV_FAILED,       /* deadline passed, attempts exhausted or worker lost for good */
    ZT_SCHED_EV_ADOPTED,      /* a job of a dead orchestrator, submitted by gateway, continues here
                                 (worker: its live worker when assigned or running) */
};
struct zt_sched_event {
    enum zt_sched_event_kind kind;
    char job_id[ZT_JOB_ID_SIZE];
    char worker[ZT_IDENTITY_ID_SIZE];  /* assigned to, or lost */
    char gateway[ZT_IDENTITY_ID_SIZE]; /* the job's gateway in another process ("" = none) */
};

/* A copy of a job's row. */
struct zt_job_info {
    char job_id[ZT_JOB_ID_SIZE];
    char client[ZT_SCHED_CLIENT_MAX + 1];
    char model[ZT_DESCRIPTOR_MAX_STR + 1];
    char worker[ZT_IDENTITY_ID_SIZE]; /* "" when never assigned */
    char reason[ZT_SCHED_REASON_SIZE]; /* why it failed or was requeued last; "" */
    char gateway[ZT_IDENTITY_ID_SIZE]; /* zt_job_req.gateway ("" = none) */
    enum zt_job_state state;
    uint32_t attempts, ctx_tokens, max_tokens, tokens;
    uint64_t price_ceiling;
    int64_t deadline_ms, created_ms, updated_ms, assigned_ms, started_ms, finished_ms;
};

/* Migrate the "sched" owner on the registry's store and resume the jobs
 * that were not finished (see above). ZT_EINVAL, ZT_ENOMEM, ZT_EIO,
 * ZT_EUNSUPPORTED. */
ZT_NODISCARD int zt_sched_open(struct zt_registry *reg, const struct zt_sched_opts *o, int64_t now_ms,
                               struct zt_sched **out);
/* NULL is a no-op. Unfinished jobs stay in the store for the next open. */
void zt_sched_free(struct zt_sched *s);

/* An extra gate on placement, wired by the node (the ledger's stake gate:
 * zt_chain_stake_admit): a worker for which admit(ud, node_id) is false is
 * never picked, and does not make a job servable. Called under the
 * registry's lock: it must not call the registry or the scheduler. NULL:
 * every worker passes. */
typedef bool (*zt_sched_admit_fn)(void *ud, const char *node_id);
void zt_sched_set_admit(struct zt_sched *s, zt_sched_admit_fn fn, void *ud);

/* A hook on a confirmed mismatch, wired by the node (the ledger's slash:
 * zt_chain_slash_job): after zt_sched_job_rejected moved job_id to failed,
 * fn(ud, job_id, worker) is called once, outside the registry's lock.
 * NULL: none. */
typedef void (*zt_sched_verdict_fn)(void *ud, const char *job_id, const char *worker);
void zt_sched_set_on_rejected(struct zt_sched *s, zt_sched_verdict_fn fn, void *ud);

/* Persist a new job and place it, or queue it. 0: out->state says which.
 * ZT_EBUSY: the queue (or the client's share) is full; out->retry_after_s
 * says when to try again. ZT_ENOTFOUND: no live worker could ever take it
 * (model not served, context or price out of every worker's reach).
 * ZT_ETIMEDOUT: the deadline has passed. ZT_EINVAL: a bad request. */
ZT_NODISCARD int zt_sched_submit(struct zt_sched *s, const struct zt_job_req *req, int64_t now_ms,
                                 struct zt_sched_result *out);

/* Expire silent workers (requeue or fail their jobs), fail queued jobs past
 * their deadline, then place queued jobs on free slots in DRR order. Up to
 * max events go to ev (*n of them); call again while *n == max. Call after
 * anything that frees capacity (a finished job, a heartbeat, a join) and
 * on a timer (once a second). */
ZT_NODISCARD int zt_sched_pump(struct zt_sched *s, int64_t now_ms, struct zt_sched_event *ev, size_t max,
                               size_t *n);

/* The worker started the job: assigned -> running. ZT_ENOTFOUND (no such
 * active job), ZT_EPERM (another worker's job), ZT_EINVAL (illegal). */
ZT_NODISCARD int zt_sched_job_started(struct zt_sched *s, const char *job_id, const char *worker,
                                      int64_t now_ms);

enum zt_sched_outcome {
    ZT_SCHED_OK = 0,       /* done; tokens produced feed the latency EWMA */
    ZT_SCHED_ERROR,        /* the worker failed it */
    ZT_SCHED_STALLED,      /* the worker missed its stall deadline */
};
/* The worker finished (running -> done), or failed/stalled: the job goes
 * back to the queue (running -> queued) while attempts < max_attempts and
 * the deadline allows, else -> failed. The worker's reputation and latency
 * are updated. *state (may be NULL) gets the job's new state. */
ZT_NODISCARD int zt_sched_job_finished(struct zt_sched *s, const char *job_id, const char *worker,
                                       enum zt_sched_outcome o, uint32_t tokens, int64_t now_ms,
                                       enum zt_job_state *state);
/* Verification agreed: done -> verified (the worker earns ZT_OUTCOME_VERIFIED). */
ZT_NODISCARD int zt_sched_job_verified(struct zt_sched *s, const char *job_id, int64_t now_ms);
/* Verification confirmed a mismatch: done -> failed, and the worker is
 * banned (ZT_OUTCOME_CHEAT). */
ZT_NODISCARD int zt_sched_job_rejected(struct zt_sched *s, const char *job_id, int64_t now_ms);
/* The same with the worker charged o (ZT_OUTCOME_MISMATCH for a job several
 * workers ran: which one changed it is not known; zt_verifier_settle). */
ZT_NODISCARD int zt_sched_job_rejected_as(struct zt_sched *s, const char *job_id, enum zt_outcome o, int64_t now_ms);
/* The client gave up: queued/assigned/running -> failed ("cancelled"). */
ZT_NODISCARD int zt_sched_job_cancel(struct zt_sched *s, const char *job_id, int64_t now_ms);

/* A job's row (active or finished). ZT_ENOTFOUND. */
ZT_NODISCARD int zt_sched_job_get(struct zt_sched *s, const char *job_id, struct zt_job_info *out);
/* The most recent jobs (by submission, newest first), at most max, into
 * out; *n how many. Finished jobs come from the store. ZT_EINVAL, ZT_EIO. */
ZT_NODISCARD int zt_sched_job_list(struct zt_sched *s, struct zt_job_info *out, size_t max, size_t *n);
/* Whether the active job job_id can still be placed: assigned or running,
 * or queued with at least one live eligible worker that serves its model
 * within its context and price (slots aside). false for a finished or
 * unknown job, and for a queued one whose workers all left, expired or
 * fell under the reputation threshold (the caller may give up on it). */
bool zt_sched_job_servable(struct zt_sched *s, const char *job_id, int64_t now_ms);
/* Jobs waiting now (all clients). */
size_t zt_sched_queued(struct zt_sched *s);

/* Several orchestrators on one store and one shared queue (zt_queue.h;
 * docs/internals/orchestrator.md "Several orchestrators"): every job this
 * scheduler accepts is pushed as an entry pending here
 * (zt_queue_push_own), renewed while it is active and acknowledged when it
 * ends; zt_sched_pump claims, once a second, the entries of an
 * orchestrator that stopped renewing them (dead past the queue's
 * claim_idle_ms): a job a gateway in another process submitted is
 * continued here (zt_sched_job_adopt: its gateway leases it here next),
 * any other ends exactly once (failed, "orchestrator_lost": the gateway
 * that held the prompt died with it), by a row update that only one
 * orchestrator can win. Jobs are owned by the
 * orchestrator that accepted them (column orch): zt_sched_open resumes
 * only its own. q is borrowed (it must outlive the scheduler); NULL turns
 * it off. */
struct zt_queue;
void zt_sched_set_queue(struct zt_sched *s, struct zt_queue *q);
/* Jobs of dead orchestrators this scheduler ended (orchestrator_lost:
 * no gateway in another process could go on with them). */
uint64_t zt_sched_adopted(struct zt_sched *s);
/* Several orchestrators on one store: continue here the job job_id of
 * another orchestrator (one that died, or that its gateway cannot reach)
 * for gateway, the node id the job was submitted with (zt_job_req.gateway,
 * non-empty; the caller has verified the request is that node's). The
 * row moves to this orchestrator by compare-and-set on (owner, state), so
 * one orchestrator takes it, once, and only while unfinished (or done: a
 * verdict may follow). Then: queued -> waits here (at the front of its
 * client's queue); assigned or running -> keeps its worker when its
 * session is live here, else the worker-lost rule; done -> the store only.
 * A job already here answers 0 when its gateway matches. The shared
 * queue's claim of a dead orchestrator's entries does the same for every
 * job with a gateway (ZT_SCHED_EV_ADOPTED; those without one end,
 * orchestrator_lost). out (may be NULL): the job after. ZT_EPERM: another
 * gateway's job, or one without a gateway; ZT_ENOTFOUND; ZT_EEXIST: the
 * job has ended (failed or verified; out filled); ZT_EBUSY: the row kept
 * moving; ZT_EINVAL; store errors. */
ZT_NODISCARD int zt_sched_job_adopt(struct zt_sched *s, const char *job_id, const char *gateway, int64_t now_ms,
                                    struct zt_job_info *out);
/* The node id of the orchestrator this scheduler is (the registry's self_id). */
const char *zt_sched_self(const struct zt_sched *s);
/* Jobs of other orchestrators this scheduler continued (zt_sched_job_adopt
 * and claimed entries with a gateway). */
uint64_t zt_sched_continued(struct zt_sched *s);

/* Register zentalk_orchestrator_queue_depth, _jobs_adopted_total and
 * _jobs_continued_total (zt_metrics.h). */
struct zt_metrics;
ZT_NODISCARD int zt_sched_register_metrics(struct zt_sched *s, struct zt_metrics *m);

#endif
