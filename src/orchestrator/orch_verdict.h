/* orch_verdict.h: the orchestrator's own reading of a remote gateway's
 * verification verdict (internal to src/orchestrator; lease.c uses it,
 * tests/unit/test_orch_verdict.c tests it). docs/internals/orchestrator.md
 * "Verification over leases".
 *
 * A gateway in another process runs the checks of a leased job (it alone
 * may see the text) and reports the verdict with its evidence: the
 * worker's signed FINAL checkpoint and receipt, and each checker's (or
 * that it refused the claimed ids). The orchestrator does not take the
 * verdict on trust: every checkpoint and receipt must verify under the
 * registry's key of the node named, belong together (same job envelope,
 * chain and build), be FINAL and of one subject (the job's input_hash);
 * the workers must be ones this job was assigned to, the checkers ones the
 * orchestrator picked for it; and the verdict it recomputes from the
 * chains (zt_job_check_decide) must be the one claimed.
 *
 * A checker also reports its own signed answer to the orchestrator
 * (POST /v1/orchestrator/check-report, zt__check_reports_put: its FINAL
 * checkpoint and receipt, no text). The verdict is decided with every
 * picked checker's answer held here, whether the gateway brought it or
 * not: a gateway that leaves out (or relabels as a refusal) a picked
 * checker's signed answer has its verdict refused when that answer
 * changes the decision. */
#ifndef ZT_ORCH_VERDICT_H
#define ZT_ORCH_VERDICT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_identity.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_lease.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_verifier.h"

#define ZT__VERDICT_NODES_MAX 16

/* The node's Ed25519 key as the registry holds it: 0, or ZT_ENOTFOUND. */
typedef int (*zt__verdict_key_fn)(void *ud, const char *node_id, uint8_t pk[static ZT_ED25519_PK_LEN]);

/* ---- accepted once ------------------------------------------------------ */

/* A set of 16-byte ids (sealed-job ids of receipts), each kept until its
 * expiry (unix ms), at most `max` of them alive (once.c; its own lock).
 * An id is never forgotten before its expiry (kept through that ms): the
 * caller sets the expiry at or past the last moment the thing it protects
 * could be accepted again
 * (a receipt older than that is refused by its age), and a full set
 * refuses new ids (ZT__ONCE_FULL) rather than drop one. An id may be
 * taken pending (a settlement in flight: a second taker is told
 * ZT__ONCE_PENDING, not "used"), then kept or given back
 * (zt__once_settle). */
#define ZT__ONCE_ID_LEN 16
/* (ZT__ONCE_STORE: zt__evidence_take only, the store could not say or
 * record it now: nothing taken, retry) */
enum zt__once_rc { ZT__ONCE_TAKEN = 0, ZT__ONCE_USED, ZT__ONCE_PENDING, ZT__ONCE_FULL, ZT__ONCE_STORE };
struct zt__once;
ZT_NODISCARD int zt__once_new(size_t max, struct zt__once **out);
void zt__once_free(struct zt__once *o);
/* Take id until expires_ms: ZT__ONCE_TAKEN (pending, or used at once),
 * else why not (nothing changed). */
ZT_NODISCARD enum zt__once_rc zt__once_take(struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN],
                                            int64_t expires_ms, int64_t now_ms, bool pending);
/* Whether id is held (pending or used) at now_ms. */
bool zt__once_seen(struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN], int64_t now_ms);
/* A pending id is kept (used) or given back (taken again later). */
void zt__once_settle(struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN], bool used);
/* Ids alive at now_ms (pending or used). */
size_t zt__once_count(struct zt__once *o, int64_t now_ms);

/* ---- the verdicts' evidence used, in the store ----------------------------- */

/* The lease table's used evidence (evidence.c): a set of ids as above, kept
 * also in the orchestrator's store (table orch_used_evidence, store owner
 * "orch_evidence", its own schema versions), so that an orchestrator
 * restarted, or another on the shared PostgreSQL store, refuses evidence
 * used before. A take claims the id in the store (a row until its expiry;
 * an expired row is claimed again), pending: the row names this process
 * and a deadline (30 s). The settlement marks it used in the same store
 * transaction as its writes (zt__evidence_commit), so a used row means
 * settled, and a pending row past its deadline means not settled (its
 * orchestrator died, or is too slow): the next take claims it over. A
 * give-back deletes the row. Expired rows are deleted at most once a
 * minute. At most `max` ids alive in memory (past them ZT__ONCE_FULL);
 * the rows are those taken within their expiry. The store is the
 * registry's (used under its lock). */
struct zt__evidence;
struct zt_registry;
ZT_NODISCARD int zt__evidence_open(struct zt_registry *reg, size_t max, struct zt__evidence **out);
void zt__evidence_free(struct zt__evidence *e);
/* Take id pending until expires_ms: ZT__ONCE_TAKEN; ZT__ONCE_USED (here or
 * in the store: a restarted or another orchestrator used it); PENDING;
 * FULL; ZT__ONCE_STORE (the store failed: nothing taken, retry). */
ZT_NODISCARD enum zt__once_rc zt__evidence_take(struct zt__evidence *e, const uint8_t id[static ZT__ONCE_ID_LEN],
                                                int64_t expires_ms, int64_t now_ms);
/* A pending id kept (used; its row stays until its expiry) or given back
 * (its row deleted: taken again later). */
void zt__evidence_settle(struct zt__evidence *e, const uint8_t id[static ZT__ONCE_ID_LEN], bool used);
/* The settlement of a taken id: fn(ud) makes its store writes (with the
 * registry's lock held, inside a store transaction: no other side effect;
 * it may run again when the store retries a conflict, after the nodes it
 * changed in memory are put back), then the claim is marked used in the
 * same transaction, only while it is still this process's claim. 0: all
 * committed. ZT_EEXIST: the claim was taken over (past its deadline, by
 * another orchestrator or a restart of this one): nothing of fn's kept,
 * the id is used here (the other settles it). Any other error (fn's, the
 * store's): rolled back, the registry's nodes put back in memory, the id
 * given back (a retry settles it). id NULL: a settlement with no
 * evidence claim (the in-process gateway's own verdict,
 * zt__verifier_settle_local): fn's writes alone, the same transaction,
 * retries and registry undo; nothing marked, nothing given back. */
typedef int (*zt__evidence_tx_fn)(void *ud);
ZT_NODISCARD int zt__evidence_commit(struct zt__evidence *e, const uint8_t *id, zt__evidence_tx_fn fn, void *ud);

/* A verdict's settlement with its evidence id (taken, pending): the
 * arguments of zt_verifier_settle. */
struct zt__settle_req {
    struct zt_verifier *v;
    struct zt_sched *s; /* on the registry's store handle */
    const char *job_id;
    enum zt_verify_verdict verdict;
    const char *const *workers;
    size_t n_workers;
    const char *const *checkers;
    const bool *wrong;
    size_t n_checkers;
    int64_t now_ms;
};
/* zt_verifier_settle exactly once per evidence id (verifier.c): the job's
 * move and the nodes' reputations are written with the claim marked used,
 * in one transaction (zt__evidence_commit); then, from what it did, the
 * node's hooks (the ledger: its own store handle, keyed by the job id),
 * outside the lock: only a committed verdict is paid (review10 F2).
 * What the hooks must do is written in the same transaction as a row of
 * the settlement outbox (zt__evidence_outbox_put), deleted once the hooks
 * ran (the verdict's hook returned 0). A crash before the commit leaves
 * the claim pending and nothing written: past the deadline another
 * verdict takes it over and settles it. A crash between the commit and
 * the hook (or a ledger that failed) leaves the row: a sweeper runs it
 * after its lease (zt__verifier_outbox_sweep), and the ledger's job-id
 * keys make a second run pay nothing twice.
 * Returns as zt__evidence_commit; ZT_EINVAL (the id given back) for bad
 * arguments or a scheduler on another store handle. */
ZT_NODISCARD int zt__verifier_settle_evidence(struct zt__evidence *e, const uint8_t id[static ZT__ONCE_ID_LEN],
                                              const struct zt__settle_req *q);
/* The in-process gateway's verdict (place.c through zt_lease_settle_local:
 * an embedded gateway and orchestrator, no evidence claim): the same
 * transaction (zt__evidence_commit with no id), outbox row, after-commit
 * hooks and sweeper as zt__verifier_settle_evidence, so a crash between
 * the commit and the hook is paid once by the sweeper. 0, ZT_EINVAL (bad
 * arguments, a scheduler on another store handle), or the transaction's
 * error (rolled back: nothing of the settlement kept). */
ZT_NODISCARD int zt__verifier_settle_local(struct zt__evidence *e, const struct zt__settle_req *q);

/* The settlement outbox (evidence.c, table orch_settle_outbox): what the
 * node's hooks must do for one committed verdict, keyed by the job id. */
struct zt__outbox_row {
    char job_id[ZT_JOB_ID_SIZE];
    enum zt_verify_verdict verdict;
    char worker[ZT_IDENTITY_ID_SIZE];   /* the verifier's hook's worker ("" none: not run) */
    char rejected[ZT_IDENTITY_ID_SIZE]; /* the scheduler's rejected hook's worker ("" none) */
    char honest[ZT_VERIFIER_HONEST_MAX][ZT_IDENTITY_ID_SIZE]; /* the checkers in the majority */
    size_t n_honest;
};
#define ZT__OUTBOX_SWEEP_MS 2000 /* a sweep at most this often (zt__evidence_sweep_due) */
/* row written, leased to this process for OUTBOX_LEASE_MS (10 s) of the
 * store's clock: inside the settlement's transaction, with the registry's
 * lock (zt__evidence_commit's fn). 0 or the store's error (ZT_EINVAL: a
 * checker id that cannot be stored). */
ZT_NODISCARD int zt__evidence_outbox_put(struct zt__evidence *e, const struct zt__outbox_row *row);
/* A row whose lease passed (its runner died, or the ledger failed) leased
 * to this process and read into row: 0; ZT_ENOTFOUND none due; or the
 * store's error. Two sweepers never lease the same row at once (a
 * conditional UPDATE). Takes the registry's lock. */
ZT_NODISCARD int zt__evidence_outbox_next(struct zt__evidence *e, struct zt__outbox_row *row);
/* The row of job_id run: deleted while it is still this process's lease. */
ZT_NODISCARD int zt__evidence_outbox_done(struct zt__evidence *e, const char *job_id);
/* Whether a sweep is due now (mono_ms: a monotonic clock): true at the
 * first call, then at most every ZT__OUTBOX_SWEEP_MS. */
bool zt__evidence_sweep_due(struct zt__evidence *e, int64_t mono_ms);
/* Run the outbox rows whose lease passed: the hooks of each, then the row
 * deleted. At most max rows, and none more once it ran
 * OUTBOX_SWEEP_BUDGET_MS; their number in *ran (may be NULL). It stops at
 * the first row whose hook (or delete) fails and returns that error: the
 * row, and those not reached, are left for a later sweep. Nothing while
 * the verifier has no hook (a node without the ledger leaves the rows to
 * one with it). 0, the store's error or the hook's. */
#define OUTBOX_SWEEP_BUDGET_MS 1000
ZT_NODISCARD int zt__verifier_outbox_sweep(struct zt__evidence *e, struct zt_verifier *v, struct zt_sched *s,
                                           size_t max, size_t *ran);

/* ---- the checkers' own reports ------------------------------------------- */

/* The checkers' own reports, held for the verdicts (its own lock). A
 * check's subject is the checked job's input_hash: the worker's signed
 * FINAL checkpoint's, which the gateway sends with its check event (the
 * orchestrator verifies it under the worker's key before it picks). A
 * report is taken only from a node picked as a checker within
 * ZT__CHECK_REPORT_WINDOW_MS for a check of the report's signed subject (a
 * report is credited to the pick whose subject is its own, never to
 * another job's pick of the same node), for a check that finished after
 * the pick (less ZT__CHECK_REPORT_SKEW_MS of clock skew) and not later
 * than that skew past now, at most ZT__CHECK_REPORTS_PER_PICK per pick.
 * Each receipt once: its id is kept until no pick could take it any more
 * (its finish + skew + window), in a set of at most
 * ZT__CHECK_RECEIPTS_MAX (past it 503 until some expire).
 *
 * A pick of an open lease is never evicted: it lives until its job's
 * lease ends (zt__check_reports_forget: it still takes a report, but its
 * slot goes to a new pick when no other is free) or the window passes;
 * at most ZT__CHECK_PICKS_PER_GATEWAY of them open for one gateway (past
 * it a new pick is refused: a stranger's flood of picks fills its own
 * share, never evicts another's). The table holds ZT__CHECK_PICKS_MAX:
 * every pick the open leases can have (lease.c picks only for a job
 * leased here, to the gateway that leased it, at most
 * ZT__VERDICT_NODES_MAX per lease and ZT__LEASES_MAX leases) plus this
 * node's own gateway's share, so it is bounded by admitted work and no
 * number of gateway identities fills it for the others (review7 F4); it
 * grows as picks come. Reports are held for the window after they came,
 * at most ZT__CHECK_REPORTS_MAX (past it a report is refused until some
 * expire). */
#define ZT__LEASES_MAX ZT_LEASES_MAX /* leased jobs open at once (lease.c, zt_lease.h) */
#define ZT__CHECK_PICKS_PER_GATEWAY 1024
#define ZT__CHECK_PICKS_MAX (ZT__LEASES_MAX * ZT__VERDICT_NODES_MAX + ZT__CHECK_PICKS_PER_GATEWAY)
#define ZT__CHECK_REPORTS_MAX 16384
#define ZT__CHECK_RECEIPTS_MAX 65536
#define ZT__CHECK_REPORT_WINDOW_MS 600000
#define ZT__CHECK_REPORT_SKEW_MS 120000
#define ZT__CHECK_REPORTS_PER_PICK 4
#define ZT__CHECK_SUBJECT_LEN 32
struct zt__check_reports;
ZT_NODISCARD int zt__check_reports_new(struct zt__check_reports **out);
void zt__check_reports_free(struct zt__check_reports *cr);
/* checker was picked by gateway ("" for this node's own gateway and
 * unsigned admin callers) for a check of job_id (the scheduler's), whose
 * subject is `subject` (the checked worker's signed input_hash), at now_ms
 * (unix ms): it may report a check of that subject. The same pick again
 * refreshes its entry. 0; ZT_ETOOBIG gateway's share of live picks is
 * full; ZT_EBUSY every pick slot is live, which the leases' bound leaves
 * only to memory running out (nothing recorded either way). */
ZT_NODISCARD int zt__check_reports_expect(struct zt__check_reports *cr, const char *gateway, const char *checker,
                                          const char *job_id, const uint8_t subject[static ZT__CHECK_SUBJECT_LEN],
                                          int64_t now_ms);
/* job_id's lease ended (its verdict settled, or it was given up): its
 * picks no longer count against their gateway's share and give their
 * slots to new picks when none is free (until then a report still goes
 * under them; held reports stay for their window). */
void zt__check_reports_forget(struct zt__check_reports *cr, const char *job_id);
/* Open picks (live, their lease not ended), all (gateway NULL) or of
 * gateway. */
size_t zt__check_reports_picks(struct zt__check_reports *cr, const char *gateway, int64_t now_ms);
/* checker's check of job_id failed (the gateway's check_failed): its
 * unanswered picks for job_id are awaited no more. A report that still
 * comes for a failed pick is kept under it. */
void zt__check_reports_failed(struct zt__check_reports *cr, const char *checker, const char *job_id);
/* Whether a checker picked for job_id has reported since (never waits):
 * a verdict that says nothing was checked ("unavailable", "none") after
 * that is a gateway hiding the answer. *awaiting (may be NULL): one of
 * job_id's picks has no report yet and its check was not called failed
 * (its report may be on its way). */
bool zt__check_reports_for_job(struct zt__check_reports *cr, const char *job_id, bool *awaiting);
/* A checker's report, body {"node_id","checkpoint","receipt"} (hex, the
 * FINAL checkpoint and receipt of its check): 0 kept (credited to a pick
 * of job *job_out, which may be NULL); ZT_EPERM refused (forged, not
 * picked, of a subject it was not picked for, stale or dated in the
 * future: *why, static); ZT_EEXIST the same receipt again (replayed);
 * ZT_EBUSY the held reports or receipts are full (retry later);
 * ZT_EINVAL malformed. */
ZT_NODISCARD int zt__check_reports_put(struct zt__check_reports *cr, zt__verdict_key_fn key, void *key_ud,
                                       json_t *body, int64_t now_ms, char *job_out, const char **why);

/* What the orchestrator knows of the leased job. */
struct zt__verdict_job {
    const char *worker;          /* its last worker (the scheduler's) */
    unsigned attempts;           /* assignments: 1 = no failover (the receipt's input_hash is the subject) */
    const char *const *ran;      /* the workers it was assigned to */
    size_t n_ran;
    const char *const *picked;   /* the checkers this orchestrator picked for it */
    size_t n_picked;
    zt__verdict_key_fn key;
    void *key_ud;
    struct zt__check_reports *reports; /* the checkers' own reports, or NULL */
    const uint8_t *subject;      /* the subject its checkers were picked for, or NULL (not known) */
    bool *awaiting;              /* out, or NULL: a picked checker's answer the verdict lacks is not held
                                  * yet and may be on its way (the caller may decide again later) */
};

/* What the evidence proves, to settle (strings borrowed from the body). */
struct zt__verdict {
    bool settle;                 /* false: nothing the signatures prove (only refusals disagree) */
    enum zt_verify_verdict verdict;
    const char *workers[ZT__VERDICT_NODES_MAX];
    size_t n_workers;
    const char *checkers[ZT__VERDICT_NODES_MAX]; /* the signed answers only */
    bool wrong[ZT__VERDICT_NODES_MAX];
    size_t n_checkers;
    size_t n_refused;            /* checkers reported refusing the ids (unsigned: not charged) */
    size_t n_added;              /* signed answers the gateway left out, taken from the checkers' reports */
    uint8_t env_job_id[16];      /* the worker receipt's sealed-job id: evidence is used once */
    uint64_t env_finished;       /* the worker receipt's finish, unix s (0: no receipt, a checkpoint alone) */
};

/* Check body (the report: "verdict" agreed|worker_wrong|checker_wrong|
 * undecided, "workers", "checkers", "checkpoint", "receipt") against job,
 * with the reports held now (it never waits). 0 and *out; ZT_EPERM
 * (refused: *why says why, static) when the evidence does not prove the
 * claimed verdict; ZT_EINVAL when malformed. */
ZT_NODISCARD int zt__orch_verdict_check(const struct zt__verdict_job *job, json_t *body, struct zt__verdict *out,
                                        const char **why);

/* The orchestrator's own verdict on a leased job whose gateway sent none
 * it could prove within orchestrator.verification.verdict_wait_s
 * (lease.c): the checked worker's signed FINAL checkpoint, which the
 * gateway's check event carried (wckpt, verified then under the registry's
 * key wpk), against every picked checker's own report held for its subject
 * (zt_job_check_decide, the gateway's rule). out->settle is false when no
 * checker's report is held (unverified: nothing charged); out->checkers
 * borrow from picked; *awaiting: a picked checker's report is not held and
 * may still come (the caller may wait on). 0, ZT_EINVAL (wckpt does not
 * verify), ZT_ENOMEM. */
ZT_NODISCARD int zt__orch_verdict_own(struct zt__check_reports *cr, const uint8_t *wckpt, size_t wckpt_len,
                                      const uint8_t wpk[static ZT_ED25519_PK_LEN], const char *const *picked,
                                      size_t n_picked, struct zt__verdict *out, bool *awaiting);

#endif
