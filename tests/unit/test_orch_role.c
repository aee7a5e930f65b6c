/* test_orch_role: the orchestrator role object and the gateway's placement
 * over it (zt_orch_role.h, src/orchestrator/orch_role.c and place.c),
 * without HTTP: a real registry and scheduler on a temp store, workers
 * that join with signed records.
 *
 *  - the role builds its parts; the pump hands a queued job's assignment
 *    to the sink once a worker joins and it is kicked; it stops cleanly;
 *  - the placement (struct zt_gw_place): submit (assigned; an unknown
 *    model is no_worker and counted), the worker's keys and prices, start,
 *    servable, a failed attempt charged and requeued, the unreachable-
 *    worker rule (dropped from the registry until it joins again), cancel;
 *  - the check pick: only for a FINAL checkpoint verified under the
 *    worker's key, and never the worker itself; a failed checker charged;
 *  - the runner as the pump's sink: an assignment nobody waits for is
 *    cancelled (the worker's slot freed);
 *  - each part registers its own metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "zt_test.h"
#include "zt_test_sqlite.h"

#include <pthread.h>

#include "orch_test.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_gwjob.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_nat_relay.h"
#include "zentalk/zt_orch_role.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_verifier.h"

static const char *const M1[] = {"tiny-chat", NULL};

/* A registry and scheduler on a fresh store, and a role over them. */
struct rig {
    struct zt_config cfg;
    struct zt_store *st;
    struct zt_registry *reg;
    struct zt_sched *sched;
    struct zt_orch_role *role;
    struct zt_gw_place p;
    struct worker w[3];
    /* the recording sink */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned assigned;
    char job[ZT_JOB_ID_SIZE], worker[ZT_IDENTITY_ID_SIZE];
};

static void rig_open(struct rig *g, size_t workers)
{
    memset(g, 0, sizeof *g);
    assert_int_equal(zt_config_init_defaults(&g->cfg), 0);
    g->st = store_open();
    struct zt_registry_opts ro = reg_opts();
    int64_t now = zt_time_real_ms();
    assert_int_equal(zt_registry_open(g->st, &ro, now, &g->reg), 0);
    struct zt_sched_opts so = {0};
    assert_int_equal(zt_sched_open(g->reg, &so, now, &g->sched), 0);
    assert_int_equal(zt_orch_role_new(&g->cfg, g->reg, g->sched, &g->role), 0);
    zt_orch_role_place(g->role, &g->p);
    for (size_t i = 0; i < workers; i++) {
        worker_init(&g->w[i], M1, (int)i + 1, 1, 100);
        zt_strlcpy(g->w[i].caps.price_prompt, "1000", sizeof g->w[i].caps.price_prompt);
        zt_strlcpy(g->w[i].caps.price_completion, "2000", sizeof g->w[i].caps.price_completion);
        g->w[i].caps.price_per_1k = 2000; /* the higher of the two */
        assert_int_equal(do_join(g->reg, &g->w[i], now), 0);
    }
    pthread_mutex_init(&g->mu, NULL);
    zt_cond_init_mono(&g->cv);
}

static void rig_close(struct rig *g)
{
    zt_orch_role_free(g->role);
    zt_sched_free(g->sched);
    zt_registry_free(g->reg);
    zt_store_close(g->st);
    for (size_t i = 0; i < 3; i++) worker_deinit(&g->w[i]);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    zt_config_deinit(&g->cfg);
    rm_db();
}

static void rec_event(void *ud, const struct zt_sched_event *ev)
{
    struct rig *g = ud;
    pthread_mutex_lock(&g->mu);
    if (ev->kind == ZT_SCHED_EV_ASSIGNED) {
        g->assigned++;
        zt_strlcpy(g->job, ev->job_id, sizeof g->job);
        zt_strlcpy(g->worker, ev->worker, sizeof g->worker);
        pthread_cond_signal(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
}

/* Wait up to 5 s for n assignments. */
static unsigned wait_assigned(struct rig *g, unsigned n)
{
    struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, 5000);
    pthread_mutex_lock(&g->mu);
    while (g->assigned < n && pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0) {}
    unsigned got = g->assigned;
    pthread_mutex_unlock(&g->mu);
    return got;
}

static int submit(struct rig *g, const char *model, struct zt_gw_placed *out)
{
    struct zt_gw_submit s = {.client = "c:test", .model = model, .ctx_tokens = 16, .max_tokens = 16};
    memset(out, 0, sizeof *out);
    return g->p.submit(g->p.ud, &s, out);
}

/* ---- the role and its pump ----------------------------------------------------- */

static void test_role_pump(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 0);
    assert_false(zt_orch_role_is_remote(g.role));
    assert_ptr_equal(zt_orch_role_registry(g.role), g.reg);
    assert_ptr_equal(zt_orch_role_sched(g.role), g.sched);
    assert_non_null(zt_orch_role_verifier(g.role));
    assert_non_null(zt_orch_role_relay(g.role));
    assert_non_null(zt_orch_role_lease(g.role));
    assert_int_equal(zt_orch_role_workers(g.role), 0);
    assert_int_equal(zt_orch_role_workers(NULL), 0);
    zt_orch_role_set_sink(g.role, rec_event, &g);
    assert_int_equal(zt_orch_role_start(g.role), 0);

    /* a worker that joins later: the job waits (no worker serves it yet
     * means no_worker; one that serves it busy means queued) */
    struct zt_gw_placed pl;
    assert_int_equal(submit(&g, "tiny-chat", &pl), ZT_ENOTFOUND);
    struct zt_orch_role_counts c;
    zt_orch_role_counts(g.role, &c);
    assert_int_equal(c.no_worker, 1);
    assert_int_equal(c.queue_full, 0);

    int64_t now = zt_time_real_ms();
    worker_init(&g.w[0], M1, 1, 1, 100);
    assert_int_equal(do_join(g.reg, &g.w[0], now), 0);
    assert_int_equal(zt_orch_role_workers(g.role), 1);
    assert_int_equal(do_hb(g.reg, &g.w[0], now, 1), 0); /* busy: its one slot taken */
    assert_int_equal(submit(&g, "tiny-chat", &pl), 0);
    assert_false(pl.assigned);
    assert_int_equal(wait_assigned(&g, 1), 0);
    /* the slot frees: kicked, the pump assigns the queued job through the sink */
    assert_int_equal(do_hb(g.reg, &g.w[0], zt_time_real_ms(), 0), 0);
    zt_orch_role_kick(g.role);
    assert_int_equal(wait_assigned(&g, 1), 1);
    assert_string_equal(g.job, pl.job_id);
    assert_string_equal(g.worker, zt_identity_id(g.w[0].id));

    zt_orch_role_stop(g.role);
    zt_orch_role_stop(g.role); /* twice: a no-op */
    zt_orch_role_kick(g.role); /* after the stop: nothing runs */
    rig_close(&g);
}

/* ---- the placement ------------------------------------------------------------- */

static void test_place(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 2);
    assert_false(g.p.remote(g.p.ud));
    assert_null(g.p.note_submit); /* the runner counts these itself */
    assert_int_equal(zt_orch_role_workers(g.role), 2);

    struct zt_gw_placed pl;
    assert_int_equal(submit(&g, "no-such-model", &pl), ZT_ENOTFOUND);
    assert_int_equal(submit(&g, "tiny-chat", &pl), 0);
    assert_true(pl.assigned);
    assert_int_equal(strlen(pl.job_id), ZT_JOB_ID_SIZE - 1);
    struct zt_orch_role_counts c;
    zt_orch_role_counts(g.role, &c);
    assert_int_equal(c.no_worker, 1);

    /* the worker as the runner sees it: keys, endpoint, prices */
    struct zt_gw_worker_info wi;
    assert_int_equal(g.p.start(g.p.ud, pl.job_id, pl.worker, &wi), 0);
    struct worker *w = strcmp(pl.worker, zt_identity_id(g.w[0].id)) == 0 ? &g.w[0] : &g.w[1];
    assert_string_equal(wi.w.node_id, pl.worker);
    assert_string_equal(wi.w.recipient_id, pl.worker);
    assert_string_equal(wi.w.base_url, w->endpoint);
    assert_memory_equal(wi.w.sign_pk, zt_identity_sign_pk(w->id), sizeof wi.w.sign_pk);
    assert_memory_equal(wi.w.kem_pk, zt_identity_kem_pk(w->id), sizeof wi.w.kem_pk);
    assert_true(wi.has_rate);
    assert_true(wi.rate.prompt_per_1k == 1000 && wi.rate.completion_per_1k == 2000);
    assert_int_equal(g.p.worker(g.p.ud, "zt1nosuchworkeraaaaaaaaaaaaaaaaaaa", &wi), ZT_ENOTFOUND);
    assert_true(g.p.servable(g.p.ud, pl.job_id));

    /* a failed attempt, the worker's fault: charged and requeued (the other worker serves it) */
    assert_true(g.p.failed(g.p.ud, pl.job_id, pl.worker, false, true, false));
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(g.sched, pl.job_id, &ji), 0);
    assert_true(ji.state == ZT_JOB_STATE_QUEUED || ji.state == ZT_JOB_STATE_ASSIGNED);
    assert_int_equal(zt_registry_count(g.reg, true), 2); /* not unreachable: still live */

    /* the unreachable-worker rule: dropped from the registry until it joins again */
    g.p.cancel(g.p.ud, pl.job_id);
    assert_int_equal(zt_sched_job_get(g.sched, pl.job_id, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    assert_false(g.p.servable(g.p.ud, pl.job_id));
    assert_int_equal(submit(&g, "tiny-chat", &pl), 0);
    assert_true(pl.assigned);
    assert_int_equal(g.p.start(g.p.ud, pl.job_id, pl.worker, &wi), 0);
    zt_ignore(g.p.failed(g.p.ud, pl.job_id, pl.worker, false, true, true));
    assert_int_equal(zt_registry_count(g.reg, true), 1);
    struct zt_node_info ni;
    assert_int_equal(zt_registry_get(g.reg, pl.worker, zt_time_real_ms(), &ni), 0);
    assert_int_not_equal(ni.state, ZT_NODE_LIVE); /* its session ended: it joins again */
    /* the worker that was not at fault is untouched */
    const char *other = zt_identity_id(g.w[strcmp(pl.worker, zt_identity_id(g.w[0].id)) == 0 ? 1 : 0].id);
    assert_int_equal(zt_registry_get(g.reg, other, zt_time_real_ms(), &ni), 0);
    assert_int_equal(ni.state, ZT_NODE_LIVE);
    rig_close(&g);
}

/* A checkpoint of the job signed by w (flags as given). */
static size_t ckpt(const struct zt_identity *w, uint8_t flags, uint8_t *out)
{
    struct zt_checkpoint c = {.flags = flags, .n_tokens = 5, .build_id_len = 4};
    memcpy(c.build_id, "test", 5);
    memset(c.subject, 0x5a, sizeof c.subject);
    size_t len = 0;
    assert_int_equal(zt_checkpoint_sign(&c, zt_identity_sign_sk(w), out, ZT_CKPT_MAX_LEN, &len), 0);
    return len;
}

static void test_check_pick(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 3);
    const char *wid = zt_identity_id(g.w[0].id);
    const uint8_t *wpk = zt_identity_sign_pk(g.w[0].id);
    uint8_t fin[ZT_CKPT_MAX_LEN], mid[ZT_CKPT_MAX_LEN], forged[ZT_CKPT_MAX_LEN];
    size_t nf = ckpt(g.w[0].id, ZT_CKPT_FLAG_FINAL, fin);
    size_t nm = ckpt(g.w[0].id, 0, mid);
    size_t ng = ckpt(g.w[1].id, ZT_CKPT_FLAG_FINAL, forged); /* another worker's key */
    const char *job = "00112233445566778899aabbccddeeff";
    const char *exclude[] = {wid};
    struct zt_job_worker out;
    /* not FINAL, not the worker's, or none: refused */
    assert_int_equal(g.p.check_pick(g.p.ud, job, "tiny-chat", wid, wpk, mid, nm, 0, exclude, 1, &out), ZT_EINVAL);
    assert_int_equal(g.p.check_pick(g.p.ud, job, "tiny-chat", wid, wpk, forged, ng, 0, exclude, 1, &out), ZT_EINVAL);
    assert_int_equal(g.p.check_pick(g.p.ud, job, "tiny-chat", wid, NULL, fin, nf, 0, exclude, 1, &out), ZT_EINVAL);
    assert_int_equal(g.p.check_pick(g.p.ud, job, "tiny-chat", wid, wpk, NULL, 0, 0, exclude, 1, &out), ZT_EINVAL);
    /* FINAL under the worker's key: another worker of the same engine checks it */
    assert_int_equal(g.p.check_pick(g.p.ud, job, "tiny-chat", wid, wpk, fin, nf, 0, exclude, 1, &out), 0);
    assert_string_not_equal(out.node_id, wid);
    assert_true(strcmp(out.node_id, zt_identity_id(g.w[1].id)) == 0 ||
                strcmp(out.node_id, zt_identity_id(g.w[2].id)) == 0);
    /* a checker that failed is charged (its reputation: one failure) */
    struct zt_node_info before, after;
    int64_t now = zt_time_real_ms();
    assert_int_equal(zt_registry_get(g.reg, out.node_id, now, &before), 0);
    g.p.check_failed(g.p.ud, job, out.node_id, false);
    assert_int_equal(zt_registry_get(g.reg, out.node_id, zt_time_real_ms(), &after), 0);
    assert_int_equal(after.failed, before.failed + 1);
    rig_close(&g);
}

/* ---- the runner as the pump's sink ----------------------------------------------- */

static void test_runner_sink(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 0);
    g.cfg.encryption.remote_max_inflight = 2;
    struct zt_gw_runner_opts o = {.cfg = &g.cfg};
    struct zt_gw_runner *run = NULL;
    assert_int_equal(zt_gw_runner_new(&o, &run), 0);
    zt_gw_runner_set_place(run, &g.p);
    zt_orch_role_set_runner(g.role, run);
    int64_t now = zt_time_real_ms();
    worker_init(&g.w[0], M1, 1, 1, 100);
    assert_int_equal(do_join(g.reg, &g.w[0], now), 0);
    assert_int_equal(do_hb(g.reg, &g.w[0], now, 1), 0); /* busy */
    /* queued by a gateway whose job is gone (no job of the runner waits for it) */
    struct zt_gw_placed pl;
    assert_int_equal(submit(&g, "tiny-chat", &pl), 0);
    assert_false(pl.assigned);
    assert_int_equal(zt_orch_role_start(g.role), 0);
    assert_int_equal(do_hb(g.reg, &g.w[0], zt_time_real_ms(), 0), 0);
    zt_orch_role_kick(g.role);
    /* assigned by the pump, found by nobody: cancelled, the slot freed */
    struct zt_job_info ji;
    uint64_t until = zt_time_mono_ms() + 5000;
    do {
        assert_int_equal(zt_sched_job_get(g.sched, pl.job_id, &ji), 0);
        if (ji.state == ZT_JOB_STATE_FAILED) break;
        usleep(10000);
    } while (zt_time_mono_ms() < until);
    assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    zt_orch_role_stop(g.role);
    zt_gw_runner_shutdown(run, 1000);
    zt_gw_runner_free(run);
    rig_close(&g);
}

/* ---- metrics: each part registers its own ------------------------------------------ */

static int no_samples(void *ud, struct zt_metrics_out *o)
{
    (void)ud, (void)o;
    return 0;
}

static void test_metrics(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 1);
    struct zt_gw_runner_opts o = {.cfg = &g.cfg};
    struct zt_gw_runner *run = NULL;
    assert_int_equal(zt_gw_runner_new(&o, &run), 0);
    struct zt_metrics *m = NULL;
    assert_int_equal(zt_metrics_new(&m), 0);
    assert_int_equal(zt_sched_register_metrics(g.sched, m), 0);
    assert_int_equal(zt_registry_register_metrics(g.reg, m), 0);
    assert_int_equal(zt_verifier_register_metrics(zt_orch_role_verifier(g.role), m), 0);
    assert_int_equal(zt_nat_relay_register_metrics(zt_orch_role_relay(g.role), m), 0);
    /* families shared with the routes (which register them first in a
     * node): the runner, the role and its lease table add their parts */
    assert_int_equal(zt_metrics_add_fn(m, "zentalk_jobs_total", "Requests, by where they ran.", ZT_METRIC_COUNTER,
                                       no_samples, NULL),
                     0);
    assert_int_equal(zt_metrics_add_fn(m, "zentalk_orchestrator_refusals_total", "Refused, by reason.",
                                       ZT_METRIC_COUNTER, no_samples, NULL),
                     0);
    assert_int_equal(zt_orch_role_register_metrics(g.role, m), 0);
    assert_int_equal(zt_gw_runner_register_metrics(run, m), 0);
    assert_int_equal(zt_gw_runner_register_placement_metrics(run, m), 0);
    assert_int_equal(zt_gw_runner_register_metrics(run, m), ZT_EEXIST); /* a family has one owner */
    struct zt_gw_placed pl;
    assert_int_equal(submit(&g, "tiny-chat", &pl), 0);
    struct zt_buf b;
    zt_buf_init(&b, 1 << 20);
    assert_int_equal(zt_metrics_render(m, &b), 0);
    const char *t = zt_buf_str(&b);
    static const char *const want[] = {
        "zentalk_orchestrator_queue_depth 0\n",
        "zentalk_orchestrator_live_nodes 1\n",
        "zentalk_orchestrator_jobs_adopted_total 0\n",
        "zentalk_orchestrator_jobs_continued_total 0\n",
        "zentalk_orchestrator_verifications_total{outcome=\"no_verifier\"} 0\n",
        "zentalk_orchestrator_relay_requests_total{result=\"relayed\"} 0\n",
        "zentalk_orchestrator_relay_requests_total{result=\"refused\"} 0\n",
        "zentalk_remote_jobs_failed_total 0\n",
        "zentalk_remote_jobs_in_flight 0\n",
        "zentalk_orchestrator_job_retries_total{reason=\"unverified\"} 0\n",
        "zentalk_orchestrator_jobs_total{outcome=\"done\"} 0\n",
        "zentalk_orchestrator_placement_seconds_count 0\n",
        "zentalk_jobs_total{where=\"remote\"} 0\n",
        "zentalk_orchestrator_refusals_total{reason=\"not_job_gateway\"} 0\n",
        "zentalk_orchestrator_refusals_total{reason=\"unproven_verdict\"} 0\n",
        "zentalk_orchestrator_refusals_total{reason=\"queue_full\"} 0\n",
        "zentalk_orchestrator_refusals_total{reason=\"no_worker\"} 0\n",
        "zentalk_orchestrator_leases_open 0\n",
        "zentalk_orchestrator_lease_callers 0\n",
        "zentalk_orchestrator_lease_caller_most 0\n",
        "zentalk_orchestrator_leases_refused_total{reason=\"caller_limit\"} 0\n",
        "zentalk_orchestrator_leases_refused_total{reason=\"table_full\"} 0\n",
        "zentalk_orchestrator_leases_reclaimed_total{reason=\"unstarted\"} 0\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(t, want[i])) printf("missing: %s", want[i]);
        assert_non_null(strstr(t, want[i]));
    }
    zt_buf_deinit(&b);
    zt_metrics_free(m);
    zt_gw_runner_free(run);
    rig_close(&g);
}

int main(void)
{
    zt_log_set_level(ZT_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_pump),
        cmocka_unit_test(test_place),
        cmocka_unit_test(test_check_pick),
        cmocka_unit_test(test_runner_sink),
        cmocka_unit_test(test_metrics),
    };
    return zt_test_exit(cmocka_run_group_tests_name("orch_role", tests, orch_setup, orch_teardown));
}
