/* zt_lease.h: the orchestrator's leases, for gateways in other processes
 * (issue 11; docs/internals/orchestrator.md "Leases" and "Verification
 * over leases"). The HTTP routes (POST /v1/orchestrator/lease, /report,
 * /check-report) are src/server/orch_api.c's: they parse the request into
 * a struct zt_lease_call, call this module, and render its struct
 * zt_lease_res. This module holds no HTTP: it keeps
 *
 *  - the lease table: a leased job's gateway, its assignment not handed
 *    out yet, the workers it ran on and the checkers picked for it, a
 *    lease call waiting for the next assignment (a parked waiter);
 *  - the scheduler's events for leased jobs (zt_lease_event);
 *  - the check picks (zt_verifier_pick, keyed, never the gateway's
 *    choice), bounded per lease and per gateway;
 *  - the verdict bookkeeping: a gateway's verdict checked against the
 *    signed chains (orch_verdict.c), a verdict that lacks a picked
 *    checker's report parked (no thread held) until the report comes,
 *    the orchestrator's own verdict when none comes in time, and the
 *    evidence each settlement used (accepted once for as long as it can
 *    be replayed);
 *  - the gateways that lease here (their signed descriptors, the replay
 *    cache of their signed calls);
 *  - the idle sweep (zt_lease_sweep).
 *
 * Threads: every function is thread-safe. A waiter is answered from the
 * thread that decides (a call, the pump's event, the sweep), never under
 * a lock a caller holds. Errors: 0 or a negative ZT_E*. */
#ifndef ZT_LEASE_H
#define ZT_LEASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_sched.h"
#include "zt_verifier.h"

struct zt_lease;
struct zt_registry;
struct zt_verifier;

/* The answer to a lease call. status is the WIRE.md status of the lease
 * routes (HTTP's numbers); an error carries code and message (static
 * strings) and no body; retry_after_s > 0 asks the caller to retry after
 * it. body (owned by the result) is the answer's JSON document. */
struct zt_lease_res {
    int status;
    const char *code, *message;
    unsigned retry_after_s;
    json_t *body;
};
void zt_lease_res_init(struct zt_lease_res *r);
void zt_lease_res_deinit(struct zt_lease_res *r);

/* A call parked until it can be answered (the next assignment, a
 * checker's report): answer() is called once, with the result (the
 * waiter takes res->body), and lets the waiter go. */
struct zt_lease_waiter {
    void (*answer)(struct zt_lease_waiter *w, struct zt_lease_res *res);
};

/* What a lease or report call brings besides its JSON body, passed
 * explicitly (no thread-local request state). */
struct zt_lease_call {
    /* the gateway signature (zt_nodeauth.h's fields; all NULL: unsigned) */
    const char *sig_node, *sig_date, *sig_nonce, *sig_sig;
    /* what the signature covers: method, target, the raw body */
    const char *method, *target, *raw;
    size_t raw_len;
    const char *client_addr; /* the fair-queueing client when the body names none */
    /* the caller's authenticated identity (its bearer token's subject, or
     * "node:..." for a node-signed request), or NULL / "" for none: with a
     * gateway signature it is the gateway's node id, else this, else
     * client_addr, whose share of the leases a new lease counts against */
    const char *principal;
    /* park the call (may be called with the table's lock held; must not
     * call back into it): a waiter, or NULL when it cannot be parked */
    struct zt_lease_waiter *(*defer)(void *ud);
    void *defer_ud;
};

/* Most leases open at once, all callers (past it a new lease is 503). */
#define ZT_LEASES_MAX 4096

/* The table's bounds and deadlines (orchestrator.leases and
 * orchestrator.verification.verdict_wait_s); a zero field takes its
 * default (in parentheses). Times are on this process's monotonic clock. */
struct zt_lease_opts {
    /* a checked job's verdict missing this long after its last check
     * activity is decided here from the signed chains held (30 s) */
    int64_t verdict_wait_ms;
    /* leases one caller (its signed gateway node id, else its principal,
     * else its address) may open, at most ZT_LEASES_MAX (1024); past it a
     * new lease is 429 lease_limit. Leases opened to continue a job placed
     * before (a takeover from the shared store) count but are never
     * refused by it. */
    size_t max_per_caller;
    int64_t idle_ms;  /* no call or report about a lease this long: reclaimed (120 s); a started job not done never is */
    int64_t start_ms; /* an assignment handed out, not reported started this long: reclaimed (60 s) */
    int64_t max_ms;   /* a lease open this long: reclaimed, whatever its calls (3600 s) */
};

/* reg, sched and vf are borrowed and must outlive the table; o may be
 * NULL (the defaults). ZT_ENOMEM, ZT_EINVAL (max_per_caller over
 * ZT_LEASES_MAX). */
ZT_NODISCARD int zt_lease_new(struct zt_registry *reg, struct zt_sched *sched, struct zt_verifier *vf,
                              const struct zt_lease_opts *o, struct zt_lease **out);
/* Answers every parked call (stopping: 503 / 202) and frees the table. */
void zt_lease_free(struct zt_lease *l);

/* A scheduler event of a leased job: taken (true), else not a leased job. */
bool zt_lease_event(struct zt_lease *l, const struct zt_sched_event *ev);
/* Answer waits that ended, decide parked verdicts past their wait and the
 * orchestrator's own verdicts due, and reclaim the leases past a deadline
 * of zt_lease_opts (idle, an assignment not started, open too long: its
 * job cancelled unless done, a parked call answered 410 failed), all of
 * them whatever their number; all: answer every parked call now
 * (stopping; the jobs stay in the store). */
void zt_lease_sweep(struct zt_lease *l, bool all);
/* The settlement outbox's sweep (at the first call, then at most every
 * 2 s): the ledger's hooks of committed verdicts left unrun by a crash
 * (of this or another orchestrator of the store) or a failed hook, once
 * their lease passed (docs/internals/orchestrator.md). The pump calls it. */
void zt_lease_outbox_sweep(struct zt_lease *l);
/* The in-process gateway's verdict of job_id (an embedded gateway and
 * orchestrator: zt_orch_role's placement), charged as zt_verifier_settle
 * charges, but the job's move, the reputations and the settlement outbox's
 * row committed in one store transaction, the ledger's hook run after the
 * commit from that row, and a crash between the two paid once by
 * zt_lease_outbox_sweep (the path of a remote gateway's verdict, without
 * its evidence claim). 0, ZT_EINVAL, or the store's error (rolled back). */
ZT_NODISCARD int zt_lease_settle_local(struct zt_lease *l, const char *job_id, enum zt_verify_verdict verdict,
                                       const char *const *workers, size_t n_workers, const char *const *checkers,
                                       const bool *wrong, size_t n_checkers, int64_t now_ms);

/* POST /v1/orchestrator/lease: body {"model","max_tokens",["client",
 * "ctx_tokens","price_ceiling","deadline_ms","wait_ms","gateway"]} places
 * a job; {"job_id"} waits for its next assignment; {"gateway"} alone
 * registers the gateway's descriptor. Waits of up to min(wait_ms,
 * max_wait_ms, 60 s) park the call (call->defer). */
void zt_lease_place(struct zt_lease *l, const struct zt_lease_call *call, json_t *body, int64_t max_wait_ms,
                    struct zt_lease_res *res);
/* POST /v1/orchestrator/report: an event of a leased job (started, ok,
 * error, stalled, unreachable, cancel, check, check_failed, verdict).
 * true: a verdict refused at once (422 verdict_refused). A verdict that
 * lacks a picked checker's report still on its way is parked
 * (call->defer) until the report comes, or 5 s. */
bool zt_lease_report(struct zt_lease *l, const struct zt_lease_call *call, json_t *body, struct zt_lease_res *res);

/* The checks of this node's own gateway: checker was picked for a check
 * of subject (the checked worker's signed input_hash) of job_id, and may
 * report it (0; ZT_ETOOBIG this node's share of open picks is full,
 * ZT_EBUSY every pick slot is live: the pick is not to be used); that
 * checker's check failed (its report awaited no more). */
ZT_NODISCARD int zt_lease_expect_check(struct zt_lease *l, const char *checker, const char *job_id,
                                       const uint8_t subject[static 32], int64_t now_ms);
void zt_lease_check_failed(struct zt_lease *l, const char *checker, const char *job_id);
/* This node's own gateway settled job_id's checks: its picks no longer
 * count against the node's share of open picks. */
void zt_lease_check_done(struct zt_lease *l, const char *job_id);
/* POST /v1/orchestrator/check-report: a checker's signed answer. 0 kept;
 * ZT_EPERM refused (*why, static), ZT_EEXIST replayed, ZT_EINVAL
 * malformed. */
ZT_NODISCARD int zt_lease_check_report(struct zt_lease *l, json_t *body, const char **why);

/* The signed descriptors of the gateways that lease here (unexpired), for
 * the workers' join and heartbeat answers: a new reference. */
json_t *zt_lease_gateways(struct zt_lease *l);

/* Refusals, takeovers and the table's use, for the metrics. */
enum zt_lease_reclaim { ZT_LEASE_IDLE = 0, ZT_LEASE_UNSTARTED, ZT_LEASE_MAX_AGE, ZT_LEASE_RECLAIM_N };
struct zt_lease_counts {
    size_t open;              /* leases open now */
    size_t callers;           /* callers holding one or more */
    size_t caller_most;       /* the most one caller holds */
    uint64_t caller_limit;    /* new leases refused: the caller at orchestrator.leases.max_per_caller (429) */
    uint64_t table_full;      /* new leases refused: ZT_LEASES_MAX open (503) */
    uint64_t reclaimed[ZT_LEASE_RECLAIM_N]; /* leases ended by a deadline, by which */
    uint64_t not_gateway;     /* calls about another gateway's job (403) */
    uint64_t bad_sig;         /* a bad or replayed gateway signature (401) */
    uint64_t continued;       /* leases opened for jobs another orchestrator placed */
    uint64_t verdict_refused; /* verdicts refused (422), at once or after their wait */
    uint64_t check_refused;   /* check events past a pick limit (409 check_limit, 429 check_picks) */
    uint64_t picks_full;      /* of those: 429 check_picks_full (the pick table full: out of memory only) */
};
void zt_lease_counts(struct zt_lease *l, struct zt_lease_counts *out);
/* The lease table's part of zentalk_orchestrator_refusals_total (the
 * family the orchestrator's routes register first; zt_metrics_add_part):
 * not_job_gateway, gateway_signature, check_limit, check_picks_full,
 * unproven_verdict; and its own families zentalk_orchestrator_leases_open,
 * _lease_callers, _lease_caller_most (gauges), _leases_refused_total
 * {reason=caller_limit|table_full} and _leases_reclaimed_total
 * {reason=idle|unstarted|max_age}. */
struct zt_metrics;
ZT_NODISCARD int zt_lease_register_metrics(struct zt_lease *l, struct zt_metrics *m);

#endif
