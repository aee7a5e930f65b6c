/* place.c: the gateway's placement over the orchestrator role
 * (zt_orch_role_place: struct zt_gw_place of zt_gwjob.h): the local
 * scheduler, registry and verifier, or a remote orchestrator's lease
 * routes (zt_orch_client.h). See zt_orch_role.h. */
#include <stdatomic.h>
#include <string.h>

#include "orch_role_int.h"
#include "zentalk/zt_gwjob.h"
#include "zentalk/zt_lease.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_verifier.h"

_Static_assert(ZT_GW_JOB_ID_SIZE == ZT_JOB_ID_SIZE, "zt_gwjob.h's job id is the scheduler's");

/* ---- conversions ---------------------------------------------------------------- */

/* A lease answer as the scheduler's result. */
static int remote_lease(struct zt_orch_role *o, const struct zt_job_req *jr, const char *job_id, long wait_ms,
                        struct zt_sched_result *sr)
{
    memset(sr, 0, sizeof *sr);
    struct zt_orch_lease_req q = {0};
    if (jr)
        q = (struct zt_orch_lease_req){.model = jr->model, .client = jr->client, .ctx_tokens = jr->ctx_tokens,
                                       .max_tokens = jr->max_tokens, .price_ceiling = jr->price_ceiling,
                                       .deadline_ms = jr->deadline_ms};
    struct zt_orch_lease l;
    memset(&l, 0, sizeof l);
    int rc = zt_orch_client_lease(o->remote, jr ? &q : NULL, job_id, wait_ms, &l);
    if (rc == ZT_EBUSY) sr->retry_after_s = 1;
    if (rc) return rc;
    _Static_assert(sizeof l.job_id == sizeof sr->job_id, "job ids");
    zt_strlcpy(sr->job_id, l.job_id, sizeof sr->job_id);
    zt_strlcpy(sr->worker, l.worker, sizeof sr->worker);
    sr->state = l.failed ? ZT_JOB_STATE_FAILED : l.worker[0] ? ZT_JOB_STATE_ASSIGNED : ZT_JOB_STATE_QUEUED;
    return 0;
}

/* A worker the remote orchestrator named, as the registry's record. */
static int remote_worker(struct zt_orch_role *o, const char *worker, struct zt_node_info *ni)
{
    struct zt_orch_worker w;
    int rc = zt_orch_client_worker(o->remote, worker, &w);
    if (rc) return rc;
    _Static_assert(sizeof w.price_prompt == sizeof ni->caps.price_prompt, "prices");
    memset(ni, 0, sizeof *ni);
    zt_strlcpy(ni->node_id, w.peer.node_id, sizeof ni->node_id);
    zt_strlcpy(ni->endpoint, w.peer.endpoint, sizeof ni->endpoint);
    memcpy(ni->kem_pk, w.peer.kem_pk, sizeof ni->kem_pk);
    memcpy(ni->ed25519_pk, w.peer.ed25519_pk, sizeof ni->ed25519_pk);
    zt_strlcpy(ni->caps.price_prompt, w.price_prompt, sizeof ni->caps.price_prompt);
    zt_strlcpy(ni->caps.price_completion, w.price_completion, sizeof ni->caps.price_completion);
    ni->state = ZT_NODE_LIVE;
    return 0;
}

/* A job state's name (zt_job_state_name) back; failed for "" or unknown. */
static enum zt_job_state state_of(const char *name)
{
    for (int i = 0; i < ZT_JOB_STATE_COUNT; i++)
        if (strcmp(name, zt_job_state_name((enum zt_job_state)i)) == 0) return (enum zt_job_state)i;
    return ZT_JOB_STATE_FAILED;
}

/* A worker's own prices from its join record's caps (decimal strings of
 * base units): false when they do not parse (a worker known through a
 * remote orchestrator of an older build, which does not send them). */
static bool caps_rate(const struct zt_worker_caps *c, struct zt_ledger_rate *out)
{
    zt_u128 p, q;
    if (zt_u128_parse(c->price_prompt, strlen(c->price_prompt), &p) ||
        zt_u128_parse(c->price_completion, strlen(c->price_completion), &q))
        return false;
    out->prompt_per_1k = p;
    out->completion_per_1k = q;
    return true;
}

/* The registry's record as the runner sees a worker. */
static void worker_info(const struct zt_node_info *ni, struct zt_gw_worker_info *out)
{
    memset(out, 0, sizeof *out);
    zt_strlcpy(out->w.node_id, ni->node_id, sizeof out->w.node_id);
    memcpy(out->w.kem_pk, ni->kem_pk, sizeof out->w.kem_pk);
    memcpy(out->w.sign_pk, ni->ed25519_pk, sizeof out->w.sign_pk);
    zt_strlcpy(out->w.base_url, ni->endpoint, sizeof out->w.base_url);
    zt_strlcpy(out->w.recipient_id, ni->node_id, sizeof out->w.recipient_id);
    out->has_rate = caps_rate(&ni->caps, &out->rate);
    zt_strlcpy(out->wallet, ni->caps.wallet, sizeof out->wallet);
}

/* A worker as this node knows it: its registry's record (local), or what
 * the remote orchestrator's lease answers said. */
static int node_of(struct zt_orch_role *o, const char *worker, struct zt_node_info *ni)
{
    if (!worker) return ZT_ENOTFOUND;
    if (o->remote) return remote_worker(o, worker, ni);
    return o->reg ? zt_registry_get(o->reg, worker, zt_time_real_ms(), ni) : ZT_ENOTFOUND;
}

/* ---- struct zt_gw_place ------------------------------------------------------------ */

static bool p_remote(void *ud) { return zt_orch_role_is_remote(ud); }

static int p_submit(void *ud, const struct zt_gw_submit *s, struct zt_gw_placed *out)
{
    struct zt_orch_role *o = ud;
    struct zt_job_req jr = {.client = s->client, .model = s->model, .ctx_tokens = s->ctx_tokens,
                            .max_tokens = s->max_tokens, .price_ceiling = s->price_ceiling};
    struct zt_sched_result sr;
    memset(&sr, 0, sizeof sr);
    int rc = o->remote ? remote_lease(o, &jr, NULL, 0, &sr) : zt_sched_submit(o->sched, &jr, zt_time_real_ms(), &sr);
    if (rc == ZT_EBUSY) atomic_fetch_add(&o->queue_full, 1);
    else if (rc == ZT_ENOTFOUND) atomic_fetch_add(&o->no_worker, 1);
    zt_strlcpy(out->job_id, sr.job_id, sizeof out->job_id);
    out->assigned = !rc && sr.state == ZT_JOB_STATE_ASSIGNED;
    zt_strlcpy(out->worker, sr.worker, sizeof out->worker);
    out->retry_after_s = sr.retry_after_s;
    return rc;
}

/* Remote only: 1 (worker set), 0 (not yet), -1 (it failed, or the
 * orchestrator lost it). */
static int p_wait(void *ud, const char *job_id, long wait_ms, char worker[static ZT_IDENTITY_ID_SIZE])
{
    struct zt_sched_result sr;
    int rc = remote_lease(ud, NULL, job_id, wait_ms, &sr);
    if (rc == ZT_EIO) { /* the orchestrator unreachable for now (restarting): the caller's deadline decides */
        zt_time_sleep_ms(wait_ms < 250 ? (unsigned)(wait_ms > 0 ? wait_ms : 0) : 250u); /* not a busy loop */
        return 0;
    }
    if (rc || sr.state == ZT_JOB_STATE_FAILED) return -1;
    if (sr.state != ZT_JOB_STATE_ASSIGNED) return 0;
    zt_strlcpy(worker, sr.worker, ZT_IDENTITY_ID_SIZE);
    return 1;
}

static bool p_servable(void *ud, const char *job_id)
{
    struct zt_orch_role *o = ud;
    return o->remote ? true : zt_sched_job_servable(o->sched, job_id, zt_time_real_ms());
}

static int p_worker(void *ud, const char *worker, struct zt_gw_worker_info *out)
{
    struct zt_node_info ni;
    int rc = node_of(ud, worker, &ni);
    if (!rc) worker_info(&ni, out);
    return rc;
}

/* The worker's keys and endpoint, and the job started on it. */
static int p_start(void *ud, const char *job_id, const char *worker, struct zt_gw_worker_info *out)
{
    struct zt_orch_role *o = ud;
    struct zt_node_info ni;
    int rc;
    if (o->remote) {
        rc = remote_worker(o, worker, &ni);
        if (!rc) rc = zt_orch_client_report(o->remote, job_id, worker, "started", 0, NULL);
    } else {
        int64_t now = zt_time_real_ms();
        rc = zt_registry_get(o->reg, worker, now, &ni);
        if (!rc) rc = zt_sched_job_started(o->sched, job_id, worker, now);
    }
    if (!rc) worker_info(&ni, out);
    return rc;
}

static void p_ok(void *ud, const char *job_id, const char *worker, uint32_t tokens, bool replicas, char *verify,
                 size_t cap)
{
    struct zt_orch_role *o = ud;
    verify[0] = '\0';
    if (o->remote) zt_ignore(zt_orch_client_ok(o->remote, job_id, worker, tokens, replicas, verify, cap));
    else zt_ignore(zt_sched_job_finished(o->sched, job_id, worker, ZT_SCHED_OK, tokens, zt_time_real_ms(), NULL));
}

/* The attempt failed (charge: the worker's fault; unreachable: it could
 * not be connected to): the job's state after it. */
static enum zt_job_state job_failed(struct zt_orch_role *o, const char *job_id, const char *worker, bool stalled,
                                    bool charge, bool unreachable)
{
    enum zt_job_state st = ZT_JOB_STATE_FAILED;
    if (o->remote) {
        char name[ZT_ORCH_STATE_MAX];
        if (!charge || zt_orch_client_report(o->remote, job_id, worker,
                                             unreachable ? "unreachable" : stalled ? "stalled" : "error", 0,
                                             name) != 0)
            return ZT_JOB_STATE_FAILED;
        return state_of(name);
    }
    int64_t now = zt_time_real_ms();
    /* one that cannot be reached at all is taken out of the registry until
     * it joins again (else it would win the next placements too) */
    if (unreachable && zt_registry_drop(o->reg, worker, now) == 0)
        zt_log(ZT_LOG_WARN, "worker_unreachable", "worker=%s action=dropped_until_rejoin", worker);
    int rc = charge ? zt_sched_job_finished(o->sched, job_id, worker, stalled ? ZT_SCHED_STALLED : ZT_SCHED_ERROR, 0,
                                            now, &st)
                    : ZT_EINVAL;
    if (rc) { /* not charged, or already moved (the worker's session expired meanwhile) */
        struct zt_job_info ji;
        st = zt_sched_job_get(o->sched, job_id, &ji) == 0 ? ji.state : ZT_JOB_STATE_FAILED;
    }
    return st;
}

static bool p_failed(void *ud, const char *job_id, const char *worker, bool stalled, bool charge, bool unreachable)
{
    enum zt_job_state st = job_failed(ud, job_id, worker, stalled, charge, unreachable);
    return st == ZT_JOB_STATE_QUEUED || st == ZT_JOB_STATE_ASSIGNED;
}

static void p_cancel(void *ud, const char *job_id)
{
    struct zt_orch_role *o = ud;
    if (o->remote) zt_ignore(zt_orch_client_report(o->remote, job_id, NULL, "cancel", 0, NULL));
    else zt_ignore(zt_sched_job_cancel(o->sched, job_id, zt_time_real_ms()));
}

static void p_kick(void *ud) { zt_orch_role_kick(ud); }

static const char *p_draw(void *ud, const char *job_id, const char *worker, int64_t now_ms)
{
    struct zt_orch_role *o = ud;
    enum zt_verify_reason vr = zt_verifier_sample(o->verifier, job_id, worker, now_ms);
    return vr == ZT_VERIFY_NONE ? NULL : zt_verify_reason_name(vr);
}

/* The checker of round `round`: worker is the one checked (for its engine
 * build), ckpt its signed FINAL checkpoint under worker_pk, whose subject
 * names the check (the checker's report is credited by it). */
static int check_pick(struct zt_orch_role *o, const char *job_id, const char *model, const char *worker,
                      const uint8_t *worker_pk, const uint8_t *ckpt, size_t ckpt_len, unsigned round,
                      const char *const *exclude, size_t n, struct zt_node_info *out)
{
    if (o->remote) {
        struct zt_orch_worker w;
        int rc = zt_orch_client_check_pick(o->remote, job_id, worker, ckpt, ckpt_len, round, exclude, n, &w);
        return rc ? rc : remote_worker(o, w.peer.node_id, out);
    }
    struct zt_node_info w;
    int64_t now = zt_time_real_ms();
    /* the check's subject: this node's own gateway checked the worker's
     * checkpoint under the key it sealed to (a static peer's too) */
    struct zt_checkpoint c;
    if (!worker_pk || !ckpt || zt_checkpoint_verify(ckpt, ckpt_len, worker_pk, &c) != 0 ||
        !(c.flags & ZT_CKPT_FLAG_FINAL))
        return ZT_EINVAL;
    const uint8_t *subject = c.subject;
    int rc;
    const char *engine = zt_registry_get(o->reg, worker, now, &w) == 0 ? w.caps.engine : NULL;
    rc = zt_verifier_pick(o->verifier, job_id, round, model, engine, exclude, n, now, out);
    /* its own report of the check comes here too: kept, not refused (this
     * gateway's verdicts are the orchestrator's own, so none waits on it) */
    if (!rc) rc = zt_lease_expect_check(o->lease, out->node_id, job_id, subject, now);
    return rc;
}

static int p_check_pick(void *ud, const char *job_id, const char *model, const char *worker, const uint8_t *worker_pk,
                        const uint8_t *ckpt, size_t ckpt_len, unsigned round, const char *const *exclude, size_t n,
                        struct zt_job_worker *out)
{
    struct zt_node_info ni;
    int rc = check_pick(ud, job_id, model, worker, worker_pk, ckpt, ckpt_len, round, exclude, n, &ni);
    if (rc) return rc;
    struct zt_gw_worker_info wi;
    worker_info(&ni, &wi);
    *out = wi.w;
    return 0;
}

/* A checker that failed: its reputation is charged. */
static void p_check_failed(void *ud, const char *job_id, const char *checker, bool stalled)
{
    struct zt_orch_role *o = ud;
    if (o->remote) {
        zt_orch_client_check_failed(o->remote, job_id, checker, stalled);
        return;
    }
    zt_lease_check_failed(o->lease, checker, job_id);
    zt_ignore(zt_registry_report(o->reg, checker, stalled ? ZT_OUTCOME_TIMED_OUT : ZT_OUTCOME_FAILED,
                                 zt_time_real_ms()));
}

/* What the checks decided, with its signed evidence: settled here (the
 * verdict "unavailable": no checker found; "none": nothing checked after
 * all), or reported to the remote orchestrator on the client's senders
 * (it recomputes the verdict from the evidence; the user's answer never
 * waits for it). */
static void p_check_settle(void *ud, const char *job_id, const struct zt_orch_verdict *cr)
{
    struct zt_orch_role *o = ud;
    static const char *const names[] = {"agreed", "worker_wrong", "checker_wrong", "undecided"};
    if (o->remote) {
        zt_orch_client_verdict(o->remote, job_id, cr);
        return;
    }
    if (strcmp(cr->verdict, "unavailable") == 0) zt_verifier_note_unavailable(o->verifier);
    const char *checkers[ZT_JOB_CHECKERS_MAX];
    bool wrong[ZT_JOB_CHECKERS_MAX];
    size_t nc = 0;
    for (size_t i = 0; cr->res && i < cr->res->n; i++)
        if (cr->res->c[i].answered) {
            checkers[nc] = cr->res->c[i].node_id;
            wrong[nc++] = cr->res->c[i].wrong;
        }
    for (int i = 0; i < 4; i++)
        if (strcmp(cr->verdict, names[i]) == 0) {
            /* one transaction with its outbox row, the ledger's hook after
             * the commit, a crash between them paid by the sweeper (the
             * remote path's, zt_lease_settle_local) */
            int rc = zt_lease_settle_local(o->lease, job_id, (enum zt_verify_verdict)i, cr->workers,
                                           cr->n_workers, checkers, wrong, nc, zt_time_real_ms());
            if (rc)
                zt_log(ZT_LOG_WARN, "verification_settle_failed", "sched_job=%s error=%s", job_id, zt_strerror(rc));
        }
    zt_lease_check_done(o->lease, job_id); /* its picks give their room to the next checks */
}

void zt_orch_role_place(struct zt_orch_role *o, struct zt_gw_place *out)
{
    *out = (struct zt_gw_place){
        .remote = p_remote, .submit = p_submit, .wait = p_wait, .servable = p_servable, .worker = p_worker,
        .start = p_start, .ok = p_ok, .failed = p_failed, .cancel = p_cancel, .kick = p_kick, .draw = p_draw,
        .check_pick = p_check_pick, .check_failed = p_check_failed, .check_settle = p_check_settle, .ud = o,
    };
}

size_t zt_orch_role_workers(struct zt_orch_role *o)
{
    if (!o) return 0;
    return o->remote ? 1 : zt_registry_count(o->reg, true); /* remote: the orchestrator says */
}

void zt_orch_role_counts(struct zt_orch_role *o, struct zt_orch_role_counts *out)
{
    memset(out, 0, sizeof *out);
    if (!o) return;
    out->queue_full = atomic_load(&o->queue_full);
    out->no_worker = atomic_load(&o->no_worker);
}

static int m_refused(void *ud, struct zt_metrics_out *out)
{
    struct zt_orch_role_counts c;
    zt_orch_role_counts(ud, &c);
    int rc = zt_metrics_emit_u64(out, NULL, "reason=\"queue_full\"", c.queue_full);
    return rc ? rc : zt_metrics_emit_u64(out, NULL, "reason=\"no_worker\"", c.no_worker);
}

int zt_orch_role_register_metrics(struct zt_orch_role *o, struct zt_metrics *m)
{
    if (!o || !o->lease) return ZT_EINVAL;
    int rc = zt_lease_register_metrics(o->lease, m);
    return rc ? rc : zt_metrics_add_part(m, "zentalk_orchestrator_refusals_total", ZT_METRIC_COUNTER, m_refused, o);
}
