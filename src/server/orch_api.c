/* orch_api.c: the orchestrator role over HTTP. See orch_api.h.
 *
 * Handlers only translate: the record goes to the registry as received
 * (its bytes are what the worker signed), the registry's answer becomes a
 * status. Nothing here keeps state of its own beyond counters, the join
 * rate limiter and the pump thread. */
#include "orch_api.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_lease.h"
#include "zentalk/zt_nat_relay.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_ratelimit.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_verifier.h"

#define JOIN_LIMIT_KEYS 4096 /* client addresses tracked by the join limiter */
/* check reports per client address (a report of a recently picked node
 * costs up to two signature checks, and the route has no auth): a worker
 * reports once per check it ran */
#define REPORT_LIMIT_RPS 10.0
#define REPORT_LIMIT_BURST 40.0
#define PUMP_EVENTS 64
#define LIST_MAX 1000        /* nodes or jobs in one answer */
#define LAT_BUCKETS 6

/* Why a record or a submission was refused (zentalk_orchestrator_refusals_total). */
enum refusal { RF_RATE, RF_FORGED, RF_DUPLICATE, RF_STALE, RF_FULL, RF_UNKNOWN, RF_MALFORMED, RF_QUEUE_FULL,
               RF_NO_WORKER, RF_VERDICT, RF_CHECK_REPORT, RF_N };
static const char *const refusal_names[RF_N] = {"rate_limited",    "forged_or_forbidden", "duplicate_id",
                                                "stale",           "registry_full",       "unknown_session",
                                                "malformed",       "queue_full",          "no_worker",
                                                "unproven_verdict", "check_report"};

/* Why a job moved to another worker (zentalk_orchestrator_job_retries_total). */
static const char *const retry_names[] = {"unreachable", "refused", "timeout", "unverified"};
#define RETRY_N 4

static const double lat_le[LAT_BUCKETS] = {0.0001, 0.0005, 0.001, 0.005, 0.025, 0.1}; /* seconds */

struct zt__orch {
    const struct zt_config *cfg;
    struct zt_registry *reg;
    struct zt_sched *sched;
    struct zt_verifier *verifier; /* which jobs are verified and by whom (zt_verifier.h) */
    struct zt_dht *dht;           /* publishes revocations posted here, or NULL */
    struct zt_ratelimit *join_limit;
    struct zt_ratelimit *report_limit; /* POST check-report, per address */
    struct zt_nat_relay *relay; /* workers behind NAT (zt_nat_relay.h; routes in orch_relay.c) */
    struct zt_lease *lease;       /* placement for gateways in other processes (zt_lease.h) */
    struct zt_orch_client *remote; /* this gateway's orchestrator in another process (zt_orch_client.h), or NULL */
    zt__orch_event_fn sink;
    void *sink_ud;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* kick, stop */
    pthread_cond_t cv;
    bool kicked, stop;
    atomic_uint_fast64_t refused[RF_N];
    atomic_uint_fast64_t accepted[4]; /* join, heartbeat, leave, poll */
    atomic_uint_fast64_t lat_count, lat_sum_ns, lat_bucket[LAT_BUCKETS];
    atomic_uint_fast64_t retries[RETRY_N];
    atomic_uint_fast64_t ended[2]; /* failed, done */
};

/* The relay's poll answers carry the leasing gateways (zt_lease.h). */
static json_t *lease_gateways(void *ud) { return zt_lease_gateways(ud); }

int zt__orch_new(const struct zt_config *cfg, struct zt_registry *reg, struct zt_sched *sched, struct zt__orch **out)
{
    struct zt__orch *o = zt_calloc(1, sizeof *o);
    if (!o) return ZT_ENOMEM;
    o->cfg = cfg;
    o->reg = reg;
    o->sched = sched;
    double per_min = (double)cfg->orchestrator.join_rate_per_minute;
    double burst = per_min / 4.0 < 1.0 ? 1.0 : per_min / 4.0;
    const struct zt_cfg_orch_verification *cv = &cfg->orchestrator.verification;
    struct zt_verifier_opts vo = {.rate = cv->rate, .new_worker_jobs = (uint64_t)cv->new_worker_jobs,
                                  .low_reputation = cv->low_reputation, .off = !cv->enabled};
    if (zt_verifier_new(reg, &vo, NULL, &o->verifier) != 0 ||
        zt_ratelimit_new(per_min / 60.0, burst, JOIN_LIMIT_KEYS, &o->join_limit) != 0 ||
        zt_ratelimit_new(REPORT_LIMIT_RPS, REPORT_LIMIT_BURST, JOIN_LIMIT_KEYS, &o->report_limit) != 0) {
        zt_ratelimit_free(o->join_limit);
        zt_verifier_free(o->verifier);
        zt_free(o);
        return ZT_ENOMEM;
    }
    if (zt_nat_relay_new(cfg->orchestrator.heartbeat_expiry_ms, reg, &o->relay) != 0 ||
        zt_lease_new(reg, sched, o->verifier, cv->verdict_wait_s * 1000, &o->lease) != 0) {
        zt_nat_relay_free(o->relay);
        zt_ratelimit_free(o->join_limit);
        zt_ratelimit_free(o->report_limit);
        zt_free(o);
        return ZT_ENOMEM;
    }
    /* an outbound worker learns the leasing gateways from its polls */
    zt_nat_relay_set_gateways(o->relay, lease_gateways, o->lease);
    pthread_mutex_init(&o->mu, NULL);
    zt_cond_init_mono(&o->cv);
    *out = o;
    return 0;
}

void zt__orch_set_sink(struct zt__orch *o, zt__orch_event_fn fn, void *ud)
{
    if (!o) return;
    o->sink = fn;
    o->sink_ud = ud;
}

struct zt_registry *zt__orch_registry(struct zt__orch *o)
{
    return o ? o->reg : NULL;
}

struct zt_sched *zt__orch_sched(struct zt__orch *o)
{
    return o ? o->sched : NULL;
}

struct zt_verifier *zt__orch_verifier(struct zt__orch *o)
{
    return o ? o->verifier : NULL;
}

/* ---- the gateway's side of placement: here, or through a remote orchestrator ---- */

int zt__orch_new_remote(const struct zt_config *cfg, const struct zt_identity *id, zt_orch_desc_fn own_desc,
                        void *ud, struct zt__orch **out, struct zt_buf *err)
{
    struct zt__orch *o = zt_calloc(1, sizeof *o);
    if (!o) return ZT_ENOMEM;
    o->cfg = cfg;
    int rc = zt_orch_client_new(cfg->node.orchestrator, cfg->node.orchestrator_token, id, own_desc, ud, &o->remote,
                                err);
    if (rc) {
        zt_free(o);
        return rc;
    }
    pthread_mutex_init(&o->mu, NULL);
    zt_cond_init_mono(&o->cv);
    *out = o;
    return 0;
}

bool zt__orch_is_remote(const struct zt__orch *o) { return o && o->remote; }

/* A lease answer as the scheduler's result. */
static int remote_lease(struct zt__orch *o, const struct zt_job_req *jr, const char *job_id, long wait_ms,
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
static int remote_worker(struct zt__orch *o, const char *worker, struct zt_node_info *ni)
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

int zt__orch_submit(struct zt__orch *o, const struct zt_job_req *jr, struct zt_sched_result *sr)
{
    if (o->remote) return remote_lease(o, jr, NULL, 0, sr);
    return zt_sched_submit(o->sched, jr, zt_time_real_ms(), sr);
}

bool zt__orch_has_workers(struct zt__orch *o)
{
    return o->remote ? true : zt_registry_count(o->reg, true) > 0; /* remote: the orchestrator says */
}

void zt__orch_job_cancel(struct zt__orch *o, const char *job_id)
{
    if (o->remote) zt_ignore(zt_orch_client_report(o->remote, job_id, NULL, "cancel", 0, NULL));
    else zt_ignore(zt_sched_job_cancel(o->sched, job_id, zt_time_real_ms()));
}

bool zt__orch_job_servable(struct zt__orch *o, const char *job_id)
{
    return o->remote ? true : zt_sched_job_servable(o->sched, job_id, zt_time_real_ms());
}

int zt__orch_wait_remote(struct zt__orch *o, const char *job_id, long wait_ms, char worker[static ZT_IDENTITY_ID_SIZE])
{
    struct zt_sched_result sr;
    int rc = remote_lease(o, NULL, job_id, wait_ms, &sr);
    if (rc == ZT_EIO) return 0; /* the orchestrator unreachable for now: the caller's deadline decides */
    if (rc || sr.state == ZT_JOB_STATE_FAILED) return -1;
    if (sr.state != ZT_JOB_STATE_ASSIGNED) return 0;
    zt_strlcpy(worker, sr.worker, ZT_IDENTITY_ID_SIZE);
    return 1;
}

int zt__orch_worker(struct zt__orch *o, const char *worker, struct zt_node_info *ni)
{
    if (!o || !worker) return ZT_ENOTFOUND;
    if (o->remote) return remote_worker(o, worker, ni);
    return o->reg ? zt_registry_get(o->reg, worker, zt_time_real_ms(), ni) : ZT_ENOTFOUND;
}

int zt__orch_job_start(struct zt__orch *o, const char *job_id, const char *worker, struct zt_node_info *ni)
{
    if (o->remote) {
        int rc = remote_worker(o, worker, ni);
        return rc ? rc : zt_orch_client_report(o->remote, job_id, worker, "started", 0, NULL);
    }
    int64_t now = zt_time_real_ms();
    int rc = zt_registry_get(o->reg, worker, now, ni);
    return rc ? rc : zt_sched_job_started(o->sched, job_id, worker, now);
}

void zt__orch_job_ok(struct zt__orch *o, const char *job_id, const char *worker, uint32_t tokens, bool replicas,
                     char *verify, size_t cap)
{
    verify[0] = '\0';
    if (o->remote) zt_ignore(zt_orch_client_ok(o->remote, job_id, worker, tokens, replicas, verify, cap));
    else zt_ignore(zt_sched_job_finished(o->sched, job_id, worker, ZT_SCHED_OK, tokens, zt_time_real_ms(), NULL));
}

int zt__orch_check_pick(struct zt__orch *o, const char *job_id, const char *model, const char *worker,
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

void zt__orch_check_failed(struct zt__orch *o, const char *job_id, const char *checker, bool stalled)
{
    if (o->remote) {
        zt_orch_client_check_failed(o->remote, job_id, checker, stalled);
        return;
    }
    zt_lease_check_failed(o->lease, checker, job_id);
    zt_ignore(zt_registry_report(o->reg, checker, stalled ? ZT_OUTCOME_TIMED_OUT : ZT_OUTCOME_FAILED,
                                 zt_time_real_ms()));
}

void zt__orch_check_settle(struct zt__orch *o, const char *job_id, const struct zt_orch_verdict *cr)
{
    static const char *const names[] = {"agreed", "worker_wrong", "checker_wrong", "undecided"};
    if (o->remote) { /* on the senders: the user's answer never waits for the orchestrator's check of it */
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
            int rc = zt_verifier_settle(o->verifier, o->sched, job_id, (enum zt_verify_verdict)i, cr->workers,
                                        cr->n_workers, checkers, wrong, nc, zt_time_real_ms());
            if (rc)
                zt_log(ZT_LOG_WARN, "verification_settle_failed", "sched_job=%s error=%s", job_id, zt_strerror(rc));
        }
    zt_lease_check_done(o->lease, job_id); /* its picks give their room to the next checks */
}

enum zt_job_state zt__orch_job_failed(struct zt__orch *o, const char *job_id, const char *worker, bool stalled,
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

/* ---- the pump ------------------------------------------------------------------ */

static void pump_once(struct zt__orch *o)
{
    struct zt_sched_event ev[PUMP_EVENTS];
    size_t n;
    do {
        n = 0;
        int rc = zt_sched_pump(o->sched, zt_time_real_ms(), ev, PUMP_EVENTS, &n);
        if (rc) {
            zt_log_rl(ZT_LOG_WARN, 10, "sched_pump_failed", "error=%s", zt_strerror(rc));
            return;
        }
        for (size_t i = 0; i < n; i++) {
            zt_log(ZT_LOG_DEBUG, "sched_event", "kind=%d job_id=%s worker=%s", (int)ev[i].kind, ev[i].job_id,
                   ev[i].worker[0] ? ev[i].worker : "-");
            if (zt_lease_event(o->lease, &ev[i])) continue; /* a leased job: its gateway is elsewhere */
            if (o->sink) o->sink(o->sink_ud, &ev[i]);
        }
    } while (n == PUMP_EVENTS);
}

static void *pump_main(void *arg)
{
    struct zt__orch *o = arg;
    pthread_mutex_lock(&o->mu);
    while (!o->stop) {
        if (!o->kicked) {
            struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, 1000); /* once a second at least */
            pthread_cond_timedwait(&o->cv, &o->mu, &ts);
            if (o->stop) break;
        }
        o->kicked = false;
        pthread_mutex_unlock(&o->mu);
        pump_once(o);
        zt_nat_relay_sweep(o->relay, false);
        zt_lease_sweep(o->lease, false);
        pthread_mutex_lock(&o->mu);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

int zt__orch_start(struct zt__orch *o)
{
    if (o && o->remote) { /* a remote one has no pump here; it learns of this gateway now */
        zt_orch_client_register(o->remote);
        return 0;
    }
    if (!o || o->running) return 0;
    if (pthread_create(&o->thread, NULL, pump_main, o) != 0) return ZT_EIO;
    o->running = true;
    return 0;
}

void zt__orch_kick(struct zt__orch *o)
{
    if (!o) return;
    zt_set_and_wake(&o->mu, &o->cv, &o->kicked);
}

void zt__orch_stop(struct zt__orch *o)
{
    if (!o || !o->running) return;
    zt_thread_stop(&o->mu, &o->cv, &o->stop, &o->thread, &o->running);
    zt_nat_relay_sweep(o->relay, true); /* parked polls and relays answer before the server stops */
    zt_lease_sweep(o->lease, true); /* so do lease calls waiting */
}

void zt__orch_free(struct zt__orch *o)
{
    if (!o) return;
    zt__orch_stop(o);
    zt_nat_relay_free(o->relay);
    zt_lease_free(o->lease);
    zt_orch_client_free(o->remote);
    zt_ratelimit_free(o->join_limit);
    zt_ratelimit_free(o->report_limit);
    zt_verifier_free(o->verifier);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    zt_free(o);
}

void zt__orch_note_submit(struct zt__orch *o, uint64_t elapsed_ns, int rc)
{
    if (!o) return;
    if (rc == ZT_EBUSY) atomic_fetch_add(&o->refused[RF_QUEUE_FULL], 1);
    else if (rc == ZT_ENOTFOUND) atomic_fetch_add(&o->refused[RF_NO_WORKER], 1);
    if (rc) return;
    atomic_fetch_add(&o->lat_count, 1);
    atomic_fetch_add(&o->lat_sum_ns, elapsed_ns);
    double s = (double)elapsed_ns / 1e9;
    for (int i = 0; i < LAT_BUCKETS; i++)
        if (s <= lat_le[i]) atomic_fetch_add(&o->lat_bucket[i], 1);
}

void zt__orch_note_retry(struct zt__orch *o, const char *why)
{
    if (!o) return;
    for (int i = 0; i < RETRY_N; i++)
        if (strcmp(why, retry_names[i]) == 0) atomic_fetch_add(&o->retries[i], 1);
}

void zt__orch_note_end(struct zt__orch *o, bool done)
{
    if (o) atomic_fetch_add(&o->ended[done], 1);
}

/* ---- metrics ------------------------------------------------------------------- */

static int m_queued(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    return zt_metrics_emit_u64(out, NULL, NULL, zt_sched_queued(o->sched));
}

static int m_live(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    return zt_metrics_emit_u64(out, NULL, NULL, zt_registry_count(o->reg, true));
}

static int m_refused(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    /* a gateway's lease and report calls (zt_lease.h) */
    struct zt_lease_counts lc = {0};
    if (o->lease) zt_lease_counts(o->lease, &lc);
    /* verdicts are refused at once or after their wait for a report: the lease counts both */
    atomic_store(&o->refused[RF_VERDICT], lc.verdict_refused);
    int rc = zt_metrics_emit_each(out, "reason", refusal_names, o->refused, RF_N);
    if (!rc) rc = zt_metrics_emit_u64(out, NULL, "reason=\"not_job_gateway\"", lc.not_gateway);
    if (!rc) rc = zt_metrics_emit_u64(out, NULL, "reason=\"gateway_signature\"", lc.bad_sig);
    if (!rc) rc = zt_metrics_emit_u64(out, NULL, "reason=\"check_limit\"", lc.check_refused - lc.picks_full);
    if (!rc) rc = zt_metrics_emit_u64(out, NULL, "reason=\"check_picks_full\"", lc.picks_full);
    return rc;
}

static int m_records(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    static const char *const kinds[4] = {"join", "heartbeat", "leave", "poll"};
    return zt_metrics_emit_each(out, "kind", kinds, o->accepted, 4);
}

static int m_retries(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    return zt_metrics_emit_each(out, "reason", retry_names, o->retries, RETRY_N);
}

static int m_ended(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    int rc = zt_metrics_emit_u64(out, NULL, "outcome=\"done\"", atomic_load(&o->ended[1]));
    return rc ? rc : zt_metrics_emit_u64(out, NULL, "outcome=\"failed\"", atomic_load(&o->ended[0]));
}

static int m_verifications(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    struct zt_verifier_stats st;
    zt_verifier_stats(o->verifier, &st);
    const uint64_t v[] = {st.agreed, st.worker_wrong, st.checker_wrong, st.undecided, st.unavailable};
    static const char *const names[] = {"outcome=\"agreed\"", "outcome=\"worker_wrong\"",
                                        "outcome=\"checker_wrong\"", "outcome=\"undecided\"",
                                        "outcome=\"no_verifier\""};
    int rc = 0;
    for (size_t i = 0; i < 5 && !rc; i++) rc = zt_metrics_emit_u64(out, NULL, names[i], v[i]);
    return rc;
}

static int m_relayed(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    int rc = zt_metrics_emit_u64(out, NULL, "result=\"relayed\"", zt_nat_relay_count(o->relay, false));
    return rc ? rc : zt_metrics_emit_u64(out, NULL, "result=\"refused\"", zt_nat_relay_count(o->relay, true));
}

static int m_adopted(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    return zt_metrics_emit_u64(out, NULL, NULL, zt_sched_adopted(o->sched));
}

static int m_continued(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    return zt_metrics_emit_u64(out, NULL, NULL, zt_sched_continued(o->sched));
}

static int m_placement(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    int rc = 0;
    for (int i = 0; i < LAT_BUCKETS && !rc; i++)
        rc = zt_metrics_emitf_u64(out, "_bucket", atomic_load(&o->lat_bucket[i]), "le=\"%g\"", lat_le[i]);
    uint64_t n = atomic_load(&o->lat_count);
    if (!rc) rc = zt_metrics_emit_u64(out, "_bucket", "le=\"+Inf\"", n);
    if (!rc) rc = zt_metrics_emit(out, "_sum", NULL, (double)atomic_load(&o->lat_sum_ns) / 1e9);
    if (!rc) rc = zt_metrics_emit_u64(out, "_count", NULL, n);
    return rc;
}

int zt__orch_register_metrics(struct zt__orch *o, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_orchestrator_queue_depth", "Jobs waiting for a worker.", ZT_METRIC_GAUGE, m_queued},
        {"zentalk_orchestrator_live_nodes", "Workers with a live session.", ZT_METRIC_GAUGE, m_live},
        {"zentalk_orchestrator_refusals_total", "Worker records and job submissions refused, by reason.",
         ZT_METRIC_COUNTER, m_refused},
        {"zentalk_orchestrator_records_total", "Worker records accepted, by kind.", ZT_METRIC_COUNTER, m_records},
        {"zentalk_orchestrator_job_retries_total",
         "Placed jobs moved to another worker after theirs failed them, by why.", ZT_METRIC_COUNTER, m_retries},
        {"zentalk_orchestrator_jobs_total", "Placed jobs that ended, by outcome.", ZT_METRIC_COUNTER, m_ended},
        {"zentalk_orchestrator_verifications_total",
         "Jobs checked on other workers, by outcome (who was in the minority).", ZT_METRIC_COUNTER, m_verifications},
        {"zentalk_orchestrator_relay_requests_total",
         "Requests for workers behind NAT relayed over their outbound long-poll, or refused.", ZT_METRIC_COUNTER,
         m_relayed},
        {"zentalk_orchestrator_jobs_adopted_total",
         "Jobs of a dead orchestrator (its shared-queue entries claimed) that this one ended.", ZT_METRIC_COUNTER,
         m_adopted},
        {"zentalk_orchestrator_jobs_continued_total",
         "Jobs another orchestrator of the shared store placed that this one took over for their gateway.",
         ZT_METRIC_COUNTER, m_continued},
        {"zentalk_orchestrator_placement_seconds", "Time zt_sched_submit took for jobs it accepted (placed or queued).",
         ZT_METRIC_HISTOGRAM, m_placement},
    };
    return zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], o);
}

/* ---- records ------------------------------------------------------------------- */

static bool no_orchestrator(struct zt__orch *o, struct zt_http_resp *resp)
{
    if (o) return false;
    zt_http_resp_error(resp, 404, "not_an_orchestrator", "this node does not run the orchestrator role (node.roles)");
    return true;
}

/* The answers to the registry's refusals; the last one answers any other
 * error. */
static const char FORGED_MSG[] =
    "the record is forged, replayed, for another orchestrator, or the node is banned or quarantined";
static const struct {
    int rc, status;
    enum refusal why;
    const char *code, *msg;
} RECORD_ERRORS[] = {
    {ZT_EPERM, 403, RF_FORGED, "record_refused", FORGED_MSG},
    {ZT_ECRYPTO, 403, RF_FORGED, "record_refused", FORGED_MSG},
    {ZT_EEXIST, 409, RF_DUPLICATE, "duplicate_node_id",
     "this node id has a live session from another endpoint (the same key on two machines?)"},
    {ZT_ETIMEDOUT, 400, RF_STALE, "stale_record",
     "the record's timestamp is outside the orchestrator's window, or the descriptor expired"},
    {ZT_EBUSY, 503, RF_FULL, "registry_full", "the registry is full (orchestrator.max_nodes)"},
    {ZT_ENOTFOUND, 404, RF_UNKNOWN, "join_again", "no live session for this node: join again"},
    {0, 400, RF_MALFORMED, "malformed_record", "the record is not a well-formed signed zentalk record of this kind"},
};

/* A registry error to an HTTP answer. */
static void refuse(struct zt__orch *o, int rc, const char *kind, struct zt_http_req *req, struct zt_http_resp *resp)
{
    if (rc == ZT_ENOMEM || rc == ZT_EIO) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "5"));
        zt_http_resp_error(resp, 503, "unavailable", "the orchestrator could not record it; retry");
        return;
    }
    size_t i = 0, last = sizeof RECORD_ERRORS / sizeof RECORD_ERRORS[0] - 1;
    while (i < last && RECORD_ERRORS[i].rc != rc) i++;
    int status = RECORD_ERRORS[i].status;
    enum refusal why = RECORD_ERRORS[i].why;
    atomic_fetch_add(&o->refused[why], 1);
    if (status == 503) zt_ignore(zt_http_resp_header(resp, "Retry-After", "30"));
    zt_log_rl(ZT_LOG_WARN, 10, "orchestrator_record_refused", "kind=%s reason=%s client=%s request_id=%s", kind,
              refusal_names[why], zt_http_req_client_addr(req), zt_http_req_id(req));
    zt_http_resp_error(resp, status, RECORD_ERRORS[i].code, RECORD_ERRORS[i].msg);
}

/* A per-address bucket (rl: joins and revocations, or check reports):
 * false with 429 answered. */
static bool rate_ok_in(struct zt__orch *o, struct zt_ratelimit *rl, const char *msg, struct zt_http_req *req,
                       struct zt_http_resp *resp)
{
    unsigned retry = 1;
    if (zt_ratelimit_take(rl, zt_http_req_client_addr(req), zt_time_mono_ns(), &retry)) return true;
    char v[16];
    snprintf(v, sizeof v, "%u", retry);
    zt_ignore(zt_http_resp_header(resp, "Retry-After", v));
    atomic_fetch_add(&o->refused[RF_RATE], 1);
    zt_http_resp_error(resp, 429, "rate_limited", msg);
    return false;
}

static bool rate_ok(struct zt__orch *o, struct zt_http_req *req, struct zt_http_resp *resp)
{
    return rate_ok_in(o, o->join_limit, "too many joins from this address; retry after Retry-After", req, resp);
}

void zt__orch_h_record(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt__orch *o = ud;
    int kind = (int)cx->arg; /* ZT__ORCH_JOIN .. ZT__ORCH_POLL */
    static const char *const names[4] = {"join", "heartbeat", "leave", "poll"};
    if (no_orchestrator(o, resp)) return;
    struct zt_http_req *req = cx->req;
    if (kind == 0 && !rate_ok(o, req, resp)) return;
    size_t len;
    const char *rec = zt_http_req_body(req, &len);
    int64_t now = zt_time_real_ms();
    char node[ZT_IDENTITY_ID_SIZE] = "";
    int rc = kind == 0                 ? zt_registry_join(o->reg, rec, len, now, node)
             : kind == 1 || kind == 3 ? zt_registry_heartbeat(o->reg, rec, len, now)
                                      : zt_registry_leave(o->reg, rec, len, now);
    if (rc) {
        refuse(o, rc, names[kind], req, resp);
        return;
    }
    atomic_fetch_add(&o->accepted[kind], 1);
    if (kind == 3) {
        /* a verified heartbeat: its node id is the worker's; the poll waits for its requests */
        json_t *j = json_loadb(rec, len, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "node_id"));
        const char *hq = zt_http_req_query(req, "hold_ms");
        long hold = hq ? strtol(hq, NULL, 10) : 0;
        if (id) zt__orch_relay_poll(o->relay, req, resp, id, hold);
        else zt_http_resp_error(resp, 400, "malformed_record", "no node_id");
        json_decref(j);
        zt__orch_kick(o);
        return;
    }
    if (kind == 0) {
        zt_log(ZT_LOG_INFO, "worker_joined", "node_id=%s client=%s", node, zt_http_req_client_addr(req));
        /* the gateways that place through this orchestrator from other
         * processes: the worker admits their sealed jobs as this one's */
        json_t *ans = json_pack("{s:s,s:s,s:I,s:o}", "status", "joined", "node_id", node, "heartbeat_expiry_ms",
                                (json_int_t)o->cfg->orchestrator.heartbeat_expiry_ms, "gateways",
                                zt_lease_gateways(o->lease));
        json_t *mm = json_array(); /* mesh.serve_models: what the worker fetches from the mesh and serves */
        for (size_t i = 0; mm && i < o->cfg->mesh.serve_models.count; i++)
            json_array_append_new(mm, json_string(o->cfg->mesh.serve_models.items[i]));
        if (ans && mm) json_object_set(ans, "mesh_models", mm);
        json_decref(mm);
        zt_http_resp_json(resp, 200, ans);
    } else {
        if (kind == 2) zt_log(ZT_LOG_INFO, "worker_left", "client=%s", zt_http_req_client_addr(req));
        zt_http_resp_json(resp, 200,
                          kind == 1 ? json_pack("{s:s,s:o}", "status", "ok", "gateways", zt_lease_gateways(o->lease))
                                    : json_pack("{s:s}", "status", "left"));
    }
    zt__orch_kick(o); /* new capacity (or lost): place what waits */
}

/* A signed revocation (zt_dht.h's record, signed by the key it revokes):
 * the registry honours it (and the DHT, when this node runs one, publishes
 * it). Role none: the record is its own credential; joins' rate limit. */
void zt__orch_h_revoke(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    struct zt_http_req *req = cx->req;
    if (!rate_ok(o, req, resp)) return;
    size_t len;
    const char *rec = zt_http_req_body(req, &len);
    struct zt_dht_revocation v;
    int rc = zt_dht_revocation_verify(rec, len, &v);
    if (!rc) rc = zt_registry_revoke_key(o->reg, v.node_id, v.has_kem ? v.kem_pk : NULL, v.at, zt_time_real_ms());
    if (rc == ZT_EBUSY) {
        zt_http_resp_error(resp, 503, "registry_full", "too many revocations are remembered");
        return;
    }
    if (rc) {
        atomic_fetch_add(&o->refused[RF_FORGED], 1);
        zt_http_resp_error(resp, rc == ZT_ECRYPTO ? 403 : 400, rc == ZT_ECRYPTO ? "record_refused" : "malformed_record",
                           "not a revocation signed by the key it revokes (zentalk node revoke)");
        return;
    }
    bool published = o->dht && zt_dht_revoke(o->dht, rec, len) == 0;
    zt_http_resp_json(resp, 200, json_pack("{s:s,s:s,s:s,s:b}", "status", "revoked", "node_id", v.node_id, "what",
                                           v.has_kem ? "kem_key" : "node_key", "published", published));
    zt__orch_kick(o);
}

void zt__orch_set_dht(struct zt__orch *o, struct zt_dht *dht)
{
    if (o) o->dht = dht;
}

struct zt_nat_relay *zt__orch_nat_relay(struct zt__orch *o)
{
    return o ? o->relay : NULL;
}

/* ---- the lease routes: zt_lease.h's calls over HTTP ---- */

/* The lease table's answer as an HTTP response. */
static void lease_render(const struct zt_lease_res *res, struct zt_http_resp *resp)
{
    if (res->retry_after_s) {
        char v[16];
        snprintf(v, sizeof v, "%u", res->retry_after_s);
        zt_ignore(zt_http_resp_header(resp, "Retry-After", v));
    }
    if (res->code || !res->body)
        zt_http_resp_error(resp, res->status ? res->status : 500, res->code ? res->code : "internal",
                           res->message ? res->message : "no answer");
    else
        zt_http_resp_json(resp, res->status, json_incref(res->body));
}

/* A lease call parked on its deferred connection. */
struct lease_waiter {
    struct zt_lease_waiter w;
    struct zt_http_async *a;
};

static void lease_waiter_answer(struct zt_lease_waiter *w, struct zt_lease_res *res)
{
    struct lease_waiter *lw = (struct lease_waiter *)w;
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    lease_render(res, &resp);
    zt_ignore(zt_http_async_respond(lw->a, &resp)); /* ZT_ECLOSED: the gateway went; released all the same */
    zt_http_resp_deinit(&resp);
    zt_http_async_release(lw->a);
    zt_free(lw);
}

static void lease_waiter_close(void *ud) { (void)ud; }

static struct zt_lease_waiter *lease_defer(void *ud)
{
    struct lease_waiter *lw = zt_calloc(1, sizeof *lw);
    if (!lw) return NULL;
    lw->a = zt_http_req_defer(ud, lease_waiter_close, NULL);
    if (!lw->a) {
        zt_free(lw);
        return NULL;
    }
    lw->w.answer = lease_waiter_answer;
    return &lw->w;
}

/* What the lease table needs of the request besides its JSON body. */
static void lease_call_of(struct zt_http_req *req, struct zt_lease_call *c)
{
    memset(c, 0, sizeof *c);
    c->sig_node = zt_http_req_header(req, ZT__GW_H_NODE);
    c->sig_date = zt_http_req_header(req, ZT__GW_H_DATE);
    c->sig_nonce = zt_http_req_header(req, ZT__GW_H_NONCE);
    c->sig_sig = zt_http_req_header(req, ZT__GW_H_SIG);
    c->method = zt_http_req_method(req);
    c->target = zt_http_req_target(req);
    c->raw = zt_http_req_body(req, &c->raw_len);
    c->client_addr = zt_http_req_client_addr(req);
    c->defer = lease_defer;
    c->defer_ud = req;
}

void zt__orch_h_lease(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    struct zt_lease_call call;
    struct zt_lease_res res;
    lease_call_of(cx->req, &call);
    zt_lease_res_init(&res);
    zt_lease_place(o->lease, &call, body, o->cfg->encryption.remote_timeout_s * 1000, &res);
    if (res.status) lease_render(&res, resp); /* else parked: answered by its waiter */
    zt_lease_res_deinit(&res);
}

void zt__orch_h_report(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    struct zt_lease_call call;
    struct zt_lease_res res;
    lease_call_of(cx->req, &call);
    zt_lease_res_init(&res);
    zt_ignore(zt_lease_report(o->lease, &call, body, &res)); /* refusals: counted by the lease */
    if (res.status) lease_render(&res, resp);
    zt_lease_res_deinit(&res);
    zt__orch_kick(o); /* a slot may be free */
}

void zt__orch_h_check_report(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    if (!rate_ok_in(o, o->report_limit, "too many check reports from this address; retry after Retry-After",
                    cx->req, resp))
        return;
    const char *why = NULL;
    int rc = zt_lease_check_report(o->lease, body, &why);
    if (!rc) {
        zt_http_resp_json(resp, 200, json_pack("{s:s}", "status", "kept"));
        return;
    }
    atomic_fetch_add(&o->refused[RF_CHECK_REPORT], 1);
    zt_log_rl(ZT_LOG_WARN, 10, "check_report_refused", "why=\"%s\" client=%s", why ? why : zt_strerror(rc),
              zt_http_req_client_addr(cx->req));
    if (rc == ZT_EEXIST) zt_http_resp_error(resp, 409, "check_report_replayed", why);
    else if (rc == ZT_EPERM) zt_http_resp_error(resp, 403, "check_report_refused", why);
    else if (rc == ZT_ENOMEM) zt_http_resp_error(resp, 503, "overloaded", "out of memory");
    else if (rc == ZT_EBUSY) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "5"));
        zt_http_resp_error(resp, 503, "overloaded", why ? why : "too many reports held; retry later");
    }
    else zt_http_resp_error(resp, 400, "invalid_request", why ? why : "a report needs node_id, checkpoint, receipt");
}

const char *zt__orch_relay_route(const char *path, const char *self_id, bool *self)
{
    return zt__orch_relay_split(path, self_id, self);
}

/* ---- lists ----------------------------------------------------------------------- */

/* A node whose whole key is revoked is "revoked" whatever ended its
 * session (zt_registry_revoke ends it as a drop: it would read "expired"). */
static const char *node_state_name(struct zt_registry *reg, const struct zt_node_info *x)
{
    if (x->state != ZT_NODE_LIVE && zt_registry_revoked(reg, x->node_id, NULL)) return "revoked";
    return x->state == ZT_NODE_LIVE ? "live" : x->state == ZT_NODE_EXPIRED ? "expired" : "left";
}

void zt__orch_h_nodes(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx, (void)body;
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    struct zt_node_info *v = zt_calloc(LIST_MAX, sizeof *v);
    if (!v) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return;
    }
    int64_t now = zt_time_real_ms();
    size_t n = zt_registry_list(o->reg, false, now, v, LIST_MAX);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        const struct zt_node_info *x = &v[i];
        json_t *models = json_array();
        char tmp[sizeof x->models];
        zt_strlcpy(tmp, x->models, sizeof tmp);
        for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t && models; t = strtok_r(NULL, ",", &save))
            json_array_append_new(models, json_string(t));
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:o*,s:f,s:b,s:b,s:{s:i,s:i},s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:s}",
                           "node_id", x->node_id, "endpoint", x->endpoint, "state", node_state_name(o->reg, x),
                           "models", models, "reputation", x->reputation, "eligible", x->eligible, "banned",
                           x->banned, "load", "busy", (int)x->load.busy, "queue", (int)x->load.queue, "slots",
                           (int)x->caps.slots, "inflight", (int)x->inflight, "last_heartbeat_ms",
                           (json_int_t)x->last_seen_ms, "joined_ms", (json_int_t)x->joined_ms, "completed",
                           (json_int_t)x->completed, "failed", (json_int_t)x->failed, "timed_out",
                           (json_int_t)x->timed_out, "mismatches", (json_int_t)x->mismatches, "verified",
                           (json_int_t)x->verified, "latency_ms_per_token", x->latency_ms_per_tok, "engine",
                           x->caps.engine));
        json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "reachable",
                            json_string(zt_nat_relay_outbound(o->relay, x->node_id) ? "outbound" : "direct"));
    }
    zt_free(v);
    zt_http_resp_json(resp, 200,
                      json_pack("{s:o*,s:I,s:I,s:I}", "nodes", arr, "live", (json_int_t)zt_registry_count(o->reg, true),
                                "queued", (json_int_t)zt_sched_queued(o->sched), "now_ms", (json_int_t)now));
}

void zt__orch_h_jobs(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx, (void)body;
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    size_t max = 100;
    const char *q = zt_http_req_query(cx->req, "limit");
    if (q) {
        long l = strtol(q, NULL, 10);
        if (l < 1 || l > LIST_MAX) {
            zt_http_resp_error(resp, 400, "invalid_request", "limit must be between 1 and 1000");
            return;
        }
        max = (size_t)l;
    }
    struct zt_job_info *v = zt_calloc(max, sizeof *v);
    size_t n = 0;
    if (!v || zt_sched_job_list(o->sched, v, max, &n) != 0) {
        zt_free(v);
        zt_http_resp_error(resp, 503, "unavailable", "the job table could not be read");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        const struct zt_job_info *x = &v[i];
        /* the client key is a fairness key (an identity): not shown */
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:I,s:I,s:I,s:I}", "job_id", x->job_id,
                                             "model", x->model, "state", zt_job_state_name(x->state), "worker",
                                             x->worker, "attempts", (int)x->attempts, "max_tokens",
                                             (int)x->max_tokens, "tokens", (int)x->tokens, "created_ms",
                                             (json_int_t)x->created_ms, "started_ms", (json_int_t)x->started_ms,
                                             "finished_ms", (json_int_t)x->finished_ms, "updated_ms",
                                             (json_int_t)x->updated_ms));
        if (x->reason[0]) json_object_set_new(json_array_get(arr, i), "reason", json_string(x->reason));
    }
    zt_free(v);
    zt_http_resp_json(resp, 200, json_pack("{s:o*,s:I}", "jobs", arr, "queued", (json_int_t)zt_sched_queued(o->sched)));
}
