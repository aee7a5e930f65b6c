/* zt_orch_client.h: a gateway's client of an orchestrator in another
 * process (src/jobs/orch_client.c; node.orchestrator, zentalk-node
 * --orchestrator URL[#NODE_ID]; docs/internals/orchestrator.md "Leases").
 *
 * The orchestrator's lease routes (POST /v1/orchestrator/lease and
 * /report, docs/api.md) seen from the gateway: a lease per job (and per
 * failover pick), a report of each attempt, the checks' picks and the
 * verdict with its signed evidence. The workers' keys and endpoints come
 * in the lease answers (from their signed join records at the
 * orchestrator) and are kept for the attempt that follows
 * (zt_orch_client_worker). With #NODE_ID the orchestrator's descriptor is
 * fetched and verified before the first call (a machine in the middle
 * could otherwise choose the workers).
 *
 * Every call is signed with the gateway's key for the orchestrator it goes
 * to (zt_nodeauth.h's request signature under the ZT_NODEAUTH_GW_H_*
 * header names; the audience: the pinned node id, or the one its
 * descriptor, fetched once, names): the jobs leased are this gateway's,
 * and when their orchestrator dies, the next of the list on the same store
 * continues them for this gateway alone. The list (up to 4, comma
 * separated, the first preferred): a call the current one does not answer
 * at all goes to the next, which becomes the current one.
 *
 * Verdicts go after the user's answer (zt_orch_client_verdict), on up to
 * ZT_ORCH_SENDERS sender threads (started as the queue needs them), so one
 * verdict that waits at the orchestrator for a checker's report (up to
 * 5 s there) does not hold up the others; they are sent oldest first but
 * may be answered in any order (each is about its own job).
 * ZT_ORCH_SENDS_QUEUED at most wait for a sender; past that (or when no
 * sender thread could start, or while stopping) a verdict is sent on the
 * caller's thread, which waits (logged `orchestrator_verdict_inline`,
 * counted as overflow): none is dropped for a full queue. Stopping
 * (zt_orch_client_free), the queued ones still go for ZT_ORCH_DRAIN_MS;
 * then the calls still in flight are cut (their verdict may or may not
 * have reached the orchestrator) and what is still queued is dropped,
 * both counted in the log (`orchestrator_reports_dropped`, warn): the
 * orchestrator decides those jobs itself from the signed reports it holds
 * after orchestrator.verification.verdict_wait_s. So free returns within
 * about ZT_ORCH_DRAIN_MS + 0.1 s.
 *
 * Thread-safe: every call may come from any thread. Nothing here logs a
 * prompt or an answer (there are none: metadata, ids and signed records). */
#ifndef ZT_ORCH_CLIENT_H
#define ZT_ORCH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"
#include "zt_identity.h"
#include "zt_jobs.h"
#include "zt_peers.h"

#define ZT_ORCH_MAX 4             /* orchestrators in the list */
#define ZT_ORCH_JOB_ID_SIZE 33    /* the orchestrator's job ids: 32 hex characters + NUL */
#define ZT_ORCH_PRICE_MAX 39      /* digits of a price (u128) */
#define ZT_ORCH_STATE_MAX 16      /* a job state's name ("verified") + NUL */
#define ZT_ORCH_SENDERS 8         /* verdicts in flight at once */
#define ZT_ORCH_SENDS_QUEUED 256  /* verdicts waiting for a sender */
#define ZT_ORCH_DRAIN_MS 3000     /* stopping: queued verdicts still go this long */

struct zt_orch_client;

/* own_desc(ud, &json): the gateway's signed descriptor (zt_malloc'd), sent
 * with its leases so the orchestrator can vouch for it to its workers. */
typedef int (*zt_orch_desc_fn)(void *ud, char **out);

/* orchestrators: "URL[#NODE_ID][,URL[#NODE_ID]...]" (node.orchestrator);
 * token: a bearer sent with every call (node.orchestrator_token; NULL or
 * "": none); id: signs the calls (NULL: unsigned); own_desc may be NULL.
 * ZT_ECONFIG with the problem in err (a bad URL or node id, more than
 * ZT_ORCH_MAX), ZT_ENOMEM. */
ZT_NODISCARD int zt_orch_client_new(const char *orchestrators, const char *token, const struct zt_identity *id,
                                    zt_orch_desc_fn own_desc, void *ud, struct zt_orch_client **out,
                                    struct zt_buf *err);
/* Send what is queued (ZT_ORCH_DRAIN_MS at most), then free. NULL: no-op. */
void zt_orch_client_free(struct zt_orch_client *c);

/* Send the gateway's descriptor to every orchestrator of the list now
 * (best effort, 2 s each at most): they vouch for it to their workers. */
void zt_orch_client_register(struct zt_orch_client *c);

/* What a job asks for (metadata only). */
struct zt_orch_lease_req {
    const char *model, *client; /* client: the fairness key */
    uint32_t ctx_tokens, max_tokens;
    uint64_t price_ceiling; /* per 1k tokens; 0: none */
    int64_t deadline_ms;    /* unix ms; 0: none */
};
struct zt_orch_lease {
    char job_id[ZT_ORCH_JOB_ID_SIZE];
    char worker[ZT_IDENTITY_ID_SIZE]; /* "" while the job is queued */
    bool failed;                      /* the orchestrator failed the job (410) */
};
/* Place a job (req), or (req NULL) wait for job_id's next assignment;
 * waiting up to wait_ms there. 0 (out filled: assigned, queued or failed),
 * ZT_EBUSY (the orchestrator's queue is full), ZT_ENOTFOUND (it does not
 * know job_id), ZT_EIO (no answer, or another refusal). */
ZT_NODISCARD int zt_orch_client_lease(struct zt_orch_client *c, const struct zt_orch_lease_req *req,
                                      const char *job_id, long wait_ms, struct zt_orch_lease *out);

/* A worker as the orchestrator's answers described it. */
struct zt_orch_worker {
    struct zt_peer peer;                          /* node id, keys, endpoint (expires: 0) */
    char price_prompt[ZT_ORCH_PRICE_MAX + 1];     /* per 1k tokens, decimal; "" when not sent */
    char price_completion[ZT_ORCH_PRICE_MAX + 1]; /* (an orchestrator of an older build) */
};
/* The last ZT_ORCH_WORKERS_KEPT workers leased or picked, by node id. ZT_ENOTFOUND. */
#define ZT_ORCH_WORKERS_KEPT 256
ZT_NODISCARD int zt_orch_client_worker(struct zt_orch_client *c, const char *node_id, struct zt_orch_worker *out);

/* An attempt's event (POST /v1/orchestrator/report): "started", "error",
 * "stalled", "unreachable", "cancel" (worker NULL for cancel); the job's
 * state after it ("queued", ..., ZT_ORCH_STATE_MAX) in state when not
 * NULL ("" without an answer). 0, ZT_ENOTFOUND, ZT_EINVAL (refused), ZT_EIO. */
ZT_NODISCARD int zt_orch_client_report(struct zt_orch_client *c, const char *job_id, const char *worker,
                                       const char *event, uint32_t tokens, char state[ZT_ORCH_STATE_MAX]);
/* The attempt went well ("ok"): the orchestrator's draw for a check of it
 * (zt_verify_reason_name, "" for none) in verify; replicas: the request
 * asked for replicated execution (the lease stays open for its checks).
 * Errors as zt_orch_client_report (verify "" then); ZT_EIO (no
 * orchestrator answered: one restarting) leaves the report to the
 * background senders, which send it again until one does (about 30 s). */
ZT_NODISCARD int zt_orch_client_ok(struct zt_orch_client *c, const char *job_id, const char *worker,
                                   uint32_t tokens, bool replicas, char *verify, size_t cap);
/* The checker of round `round` of worker's job, none of exclude[0..n):
 * ckpt is worker's signed FINAL checkpoint, the check's subject (the
 * checker's own report is credited by it). ZT_EINVAL (no checkpoint),
 * ZT_ENOTFOUND (none), ZT_EIO. */
ZT_NODISCARD int zt_orch_client_check_pick(struct zt_orch_client *c, const char *job_id, const char *worker,
                                           const uint8_t *ckpt, size_t ckpt_len, unsigned round,
                                           const char *const *exclude, size_t n, struct zt_orch_worker *out);
/* A checker of job_id failed its check (stalled: it stopped answering). */
void zt_orch_client_check_failed(struct zt_orch_client *c, const char *job_id, const char *checker, bool stalled);

/* What a job's checks decided, and the signed evidence for it: the
 * worker's result (its FINAL checkpoint and receipt) and res (each
 * checker's, or its refusal of the ids). workers: the last worker first,
 * then the others that ran the job; res and worker NULL for "unavailable"
 * (no checker found) and "none" (nothing checked after all). */
struct zt_orch_verdict {
    const char *verdict; /* "agreed", "worker_wrong", "checker_wrong", "undecided", "unavailable", "none" */
    const char *const *workers;
    size_t n_workers;
    const struct zt_job_check_result *res;
    const struct zt_sealed_result *worker;
};
/* Queue the verdict of job_id for the senders and return at once (see the
 * top of this file for a full queue and for stopping). The orchestrator
 * recomputes it from the evidence and refuses what that does not prove.
 * Test only: with ZT_TEST_MODE=1, ZT_TEST_DROP_CHECKER=1 makes the claim
 * leave out the last answered checker (docs/internals/sealed.md). */
void zt_orch_client_verdict(struct zt_orch_client *c, const char *job_id, const struct zt_orch_verdict *v);
/* Verdicts sent so far (answered or not), dropped at stopping, and sent on
 * the caller's thread because the queue was full (for tests and metrics). */
void zt_orch_client_verdict_counts(struct zt_orch_client *c, uint64_t *sent, uint64_t *dropped, uint64_t *overflow);

#endif
