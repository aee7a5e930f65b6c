/* orch_role.c: the orchestrator role object and its pump. See
 * zt_orch_role.h; the gateway's placement over it is place.c. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "orch_role_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_gwjob.h"
#include "zentalk/zt_lease.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nat_relay.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_verifier.h"

#define PUMP_EVENTS 64

/* The relay's poll answers carry the leasing gateways (zt_lease.h). */
static json_t *lease_gateways(void *ud) { return zt_lease_gateways(ud); }

static struct zt_orch_role *role_alloc(const struct zt_config *cfg)
{
    struct zt_orch_role *o = zt_calloc(1, sizeof *o);
    if (!o) return NULL;
    o->cfg = cfg;
    pthread_mutex_init(&o->mu, NULL);
    zt_cond_init_mono(&o->cv);
    return o;
}

int zt_orch_role_new(const struct zt_config *cfg, struct zt_registry *reg, struct zt_sched *sched,
                     struct zt_orch_role **out)
{
    struct zt_orch_role *o = role_alloc(cfg);
    if (!o) return ZT_ENOMEM;
    o->reg = reg;
    o->sched = sched;
    const struct zt_cfg_orch_verification *cv = &cfg->orchestrator.verification;
    struct zt_verifier_opts vo = {.rate = cv->rate, .new_worker_jobs = (uint64_t)cv->new_worker_jobs,
                                  .low_reputation = cv->low_reputation, .off = !cv->enabled};
    const struct zt_cfg_orch_leases *cl = &cfg->orchestrator.leases;
    struct zt_lease_opts lo = {.verdict_wait_ms = cv->verdict_wait_s * 1000,
                               .max_per_caller = (size_t)cl->max_per_caller,
                               .idle_ms = cl->idle_s * 1000,
                               .start_ms = cl->start_s * 1000,
                               .max_ms = cl->max_s * 1000};
    if (zt_verifier_new(reg, &vo, NULL, &o->verifier) != 0 ||
        zt_nat_relay_new(cfg->orchestrator.heartbeat_expiry_ms, reg, &o->relay) != 0 ||
        zt_lease_new(reg, sched, o->verifier, &lo, &o->lease) != 0) {
        zt_orch_role_free(o);
        return ZT_ENOMEM;
    }
    /* an outbound worker learns the leasing gateways from its polls */
    zt_nat_relay_set_gateways(o->relay, lease_gateways, o->lease);
    *out = o;
    return 0;
}

int zt_orch_role_new_remote(const struct zt_config *cfg, const struct zt_identity *id, zt_orch_desc_fn own_desc,
                            void *ud, struct zt_orch_role **out, struct zt_buf *err)
{
    struct zt_orch_role *o = role_alloc(cfg);
    if (!o) return ZT_ENOMEM;
    int rc = zt_orch_client_new(cfg->node.orchestrator, cfg->node.orchestrator_token, id, own_desc, ud, &o->remote,
                                err);
    return ZT_HAND_OUT(rc, o, zt_orch_role_free, out);
}

void zt_orch_role_set_sink(struct zt_orch_role *o, zt_orch_event_fn fn, void *ud)
{
    if (!o) return;
    o->sink = fn;
    o->sink_ud = ud;
}

/* The runner's sink: its waiting jobs learn their assignments and
 * failures; an assignment nobody waits for frees the worker's slot. */
static void runner_event(void *ud, const struct zt_sched_event *ev)
{
    struct zt_orch_role *o = ud;
    if (ev->kind == ZT_SCHED_EV_REQUEUED) return; /* its thread learns it when the call fails */
    bool assigned = ev->kind == ZT_SCHED_EV_ASSIGNED;
    bool found = zt_gw_runner_event(o->run, ev->job_id, assigned, ev->worker);
    if (!found && assigned) zt_ignore(zt_sched_job_cancel(o->sched, ev->job_id, zt_time_real_ms()));
}

void zt_orch_role_set_runner(struct zt_orch_role *o, struct zt_gw_runner *run)
{
    if (!o) return;
    o->run = run;
    zt_orch_role_set_sink(o, run ? runner_event : NULL, run ? o : NULL);
}

bool zt_orch_role_is_remote(const struct zt_orch_role *o) { return o && o->remote; }
const struct zt_config *zt_orch_role_config(const struct zt_orch_role *o) { return o ? o->cfg : NULL; }
struct zt_registry *zt_orch_role_registry(const struct zt_orch_role *o) { return o ? o->reg : NULL; }
struct zt_sched *zt_orch_role_sched(const struct zt_orch_role *o) { return o ? o->sched : NULL; }
struct zt_verifier *zt_orch_role_verifier(const struct zt_orch_role *o) { return o ? o->verifier : NULL; }
struct zt_nat_relay *zt_orch_role_relay(const struct zt_orch_role *o) { return o ? o->relay : NULL; }
struct zt_lease *zt_orch_role_lease(const struct zt_orch_role *o) { return o ? o->lease : NULL; }

/* ---- the pump ------------------------------------------------------------------ */

static void pump_once(struct zt_orch_role *o)
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
    struct zt_orch_role *o = arg;
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
        zt_lease_outbox_sweep(o->lease); /* verdicts settled and not yet paid (a crash, a ledger failure) */
        pthread_mutex_lock(&o->mu);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

int zt_orch_role_start(struct zt_orch_role *o)
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

void zt_orch_role_kick(struct zt_orch_role *o)
{
    if (!o) return;
    zt_set_and_wake(&o->mu, &o->cv, &o->kicked);
}

void zt_orch_role_set_dht(struct zt_orch_role *o, struct zt_dht *dht)
{
    if (o) atomic_store(&o->dht, dht);
}

int zt_orch_role_revoke(struct zt_orch_role *o, const char *rec, size_t len, struct zt_dht_revocation *v,
                        bool *published)
{
    *published = false;
    if (!o || !o->reg) return ZT_EINVAL;
    int rc = zt_dht_revocation_verify(rec, len, v);
    if (!rc) rc = zt_registry_revoke_key(o->reg, v->node_id, v->has_kem ? v->kem_pk : NULL, v->at, zt_time_real_ms());
    if (rc) return rc;
    struct zt_dht *dht = atomic_load(&o->dht);
    *published = dht && zt_dht_revoke(dht, rec, len) == 0;
    zt_orch_role_kick(o); /* a worker gone: place what waits elsewhere */
    return 0;
}

void zt_orch_role_stop(struct zt_orch_role *o)
{
    if (!o || !o->running) return;
    zt_thread_stop(&o->mu, &o->cv, &o->stop, &o->thread, &o->running);
    zt_nat_relay_sweep(o->relay, true); /* parked polls and relays answer before the server stops */
    zt_lease_sweep(o->lease, true);     /* so do lease calls waiting */
}

void zt_orch_role_free(struct zt_orch_role *o)
{
    if (!o) return;
    zt_orch_role_stop(o);
    zt_nat_relay_free(o->relay);
    zt_lease_free(o->lease);
    zt_orch_client_free(o->remote);
    zt_verifier_free(o->verifier);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    zt_free(o);
}
