/* zt_verifier.h: the orchestrator's side of verification by exact
 * comparison (issue 11 item 5; docs/internals/orchestrator.md
 * "Verification"). Which jobs are verified, which worker verifies them
 * (and which arbitrates a disagreement), and what the outcome costs each
 * worker. The teacher-forced run and the chain comparison are src/jobs's
 * (zt_job_verify_run, zt_job_chain_compare): this library sees node ids
 * and job ids only, never text.
 *
 * Unpredictability: the orchestrator draws a 32-byte secret at
 * zt_verifier_new (never stored, never sent). Whether a job is sampled is
 * BLAKE2b-keyed(secret, "sample" || job id) read as a fraction against
 * the rate; the verifier is the candidate with the smallest
 * BLAKE2b-keyed(secret, "pick" || job id || round || node id) (rendezvous
 * hashing). A worker knows its job id but not the secret, so it can tell
 * neither whether its job will be checked nor by whom; the verified
 * worker (and every worker that ran the job) is never a candidate.
 *
 * Threads: thread-safe (the registry's mutex). Errors: 0 or a negative
 * ZT_E*. */
#ifndef ZT_VERIFIER_H
#define ZT_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_registry.h"

struct zt_sched;
struct zt_verifier;

#define ZT_VERIFIER_SECRET_LEN 32
#define ZT_VERIFIER_HONEST_MAX 16 /* checkers passed to the settled hook, at most */

struct zt_verifier_opts {
    double rate;               /* share of jobs verified, 0..1 (0.05) */
    uint64_t new_worker_jobs;  /* a worker with fewer verified jobs is always verified (10; 0 = off) */
    double low_reputation;     /* a worker scoring below this is always verified (0.8; 0 = off) */
    bool off;                  /* verify nothing (rate and the rules above ignored) */
};

/* secret: ZT_VERIFIER_SECRET_LEN bytes, or NULL to draw one (the node
 * draws it; tests pass one to reproduce a choice). The registry is
 * borrowed and must outlive the verifier. ZT_EINVAL (bad options),
 * ZT_ENOMEM. */
ZT_NODISCARD int zt_verifier_new(struct zt_registry *reg, const struct zt_verifier_opts *o, const uint8_t *secret,
                                 struct zt_verifier **out);
void zt_verifier_free(struct zt_verifier *v);

/* Why a job is (or is not) verified. */
enum zt_verify_reason {
    ZT_VERIFY_NONE = 0,          /* not sampled: the receipt alone */
    ZT_VERIFY_SAMPLED,           /* the keyed draw fell under the rate */
    ZT_VERIFY_NEW_WORKER,        /* the worker has fewer than new_worker_jobs verified jobs */
    ZT_VERIFY_LOW_REPUTATION,    /* the worker scores under low_reputation */
};
const char *zt_verify_reason_name(enum zt_verify_reason r);

/* Whether job_id, run on worker, is verified (the rules above, in the
 * order new worker, low reputation, sampled). Never an error: an unknown
 * worker counts as new. */
enum zt_verify_reason zt_verifier_sample(struct zt_verifier *v, const char *job_id, const char *worker,
                                         int64_t now_ms);

/* The worker that checks job_id in round `round` (0: the verifier, 1: the
 * arbiter, 2...: replicas): live, eligible (zt_registry.h), serving model,
 * the same engine build as engine (the chains of different builds differ),
 * none of exclude (the workers that ran the job and the earlier rounds'),
 * a free slot preferred; the smallest keyed hash among them. *out only on
 * success; ZT_ENOTFOUND when there is none. */
ZT_NODISCARD int zt_verifier_pick(struct zt_verifier *v, const char *job_id, unsigned round, const char *model,
                                  const char *engine, const char *const *exclude, size_t n_exclude, int64_t now_ms,
                                  struct zt_node_info *out);

/* What the comparison decided (zt_job_check_run's verdict, in the
 * orchestrator's words). */
enum zt_verify_verdict {
    ZT_VERDICT_AGREED = 0,     /* every checker's chain equals the worker's */
    ZT_VERDICT_WORKER_WRONG,   /* a strict majority of checkers agree on another chain */
    ZT_VERDICT_CHECKER_WRONG,  /* the worker's chain has the majority; a checker differed */
    ZT_VERDICT_UNDECIDED,      /* they differed and no majority decided */
};

/* Charge the outcome of the checks of job_id (a finished job of s, state
 * done). workers: those that ran the job (the last one first); checkers:
 * the workers that checked it, wrong[i] when checkers[i] answered outside
 * the majority.
 *   AGREED:         done -> verified (the last worker VERIFIED), each checker COMPLETED;
 *   CHECKER_WRONG:  done -> verified, each wrong checker CHEAT (banned), the others COMPLETED;
 *   WORKER_WRONG:   done -> failed (verification_mismatch), the worker CHEAT (banned at once), or
 *                   MISMATCH for each worker when several ran it (a resumed stream: which of them
 *                   changed the ids is not known); wrong checkers CHEAT, the others COMPLETED;
 *   UNDECIDED:      the job stays done, every worker and checker MISMATCH.
 * Its writes are not one store transaction and it keeps no settlement
 * outbox row (the hook runs at once): a crash between the writes and the
 * hook leaves a verdict unpaid. No node path calls it: an embedded
 * gateway's verdict goes through zt_lease_settle_local (zt_lease.h), a
 * remote one's through the lease's verdict event, both charging the same
 * in one transaction with the outbox. ZT_EINVAL; the store's errors
 * (ZT_EIO). */
ZT_NODISCARD int zt_verifier_settle(struct zt_verifier *v, struct zt_sched *s, const char *job_id,
                                    enum zt_verify_verdict verdict, const char *const *workers, size_t n_workers,
                                    const char *const *checkers, const bool *wrong, size_t n_checkers,
                                    int64_t now_ms);

/* A hook on a decided verification, wired by the node (the ledger's
 * bonus and slash: zt_chain_verification): after zt_verifier_settle moved
 * job_id (AGREED or CHECKER_WRONG: done -> verified; WORKER_WRONG: done ->
 * failed), fn(ud, job_id, verdict, worker, honest, n_honest) is called
 * once, outside the registry's lock, with the job's (last) worker and the
 * checkers in the majority (those not wrong). Not called when undecided,
 * or when the job could not be moved (unknown, or moved before: a repeat).
 * A remote gateway's verdict (and the orchestrator's own) and an
 * embedded gateway's (zt_lease_settle_local) call it once their
 * settlement's store transaction has committed, when the job moved
 * (orch_verdict.h zt__verifier_settle_evidence, zt__verifier_settle_local); fn should still treat a
 * repeat for the same job_id as done (the ledger keys its entries by it).
 * The orchestrator does not depend on the ledger: this is its only
 * window. fn returns 0 once done, or an error: the verdict's row in the
 * settlement outbox stays and a sweep calls fn again after its lease
 * (also after a crash between the commit and fn: so fn must make a
 * second call for the same job_id a no-op). NULL: none. */
typedef int (*zt_verifier_verdict_fn)(void *ud, const char *job_id, enum zt_verify_verdict verdict,
                                       const char *worker, const char *const *honest, size_t n_honest);
void zt_verifier_set_on_settled(struct zt_verifier *v, zt_verifier_verdict_fn fn, void *ud);

/* Counters since zt_verifier_new: jobs sampled, verified (agreed),
 * mismatches by who lost (worker_wrong, checker_wrong), undecided, no verifier available. */
struct zt_verifier_stats {
    uint64_t sampled, agreed, worker_wrong, checker_wrong, undecided, unavailable;
};
void zt_verifier_stats(struct zt_verifier *v, struct zt_verifier_stats *out);
/* Count a job that was to be verified but found no verifier. */
void zt_verifier_note_unavailable(struct zt_verifier *v);

/* Register zentalk_orchestrator_verifications_total (zt_metrics.h). */
struct zt_metrics;
ZT_NODISCARD int zt_verifier_register_metrics(struct zt_verifier *v, struct zt_metrics *m);

#endif
