/* test_attack_lease_flood.c: one caller must not be able to hold the
 * orchestrator's leases (issue 11; docs/internals/orchestrator.md
 * "Leases"): the lease table of a real registry and scheduler on a temp
 * store, built by the orchestrator role from its configuration
 * (orchestrator.leases: a share of 8 per caller, deadlines of 1 s), the
 * calls made as the HTTP routes make them (struct zt_lease_call), the
 * gateways' calls signed as a gateway signs them:
 *
 *  - a signed gateway opening leases as fast as it can from four threads
 *    gets exactly its share (8), then 429 lease_limit naming the limit,
 *    with Retry-After, counted; a second gateway (the same address) still
 *    gets a lease and its job a worker; an unsigned caller is its token's
 *    identity, else its address: two principals have a share each;
 *  - a caller that opens leases, takes the workers' every slot and never
 *    starts them, but keeps asking about them, has them reclaimed after
 *    orchestrator.leases.start_s (its jobs cancelled, the slots freed):
 *    another caller's queued job then gets the worker (and, started and
 *    never asked about again, is reclaimed after idle_s); the table and
 *    the shares are empty after; a started lease asked about all the time
 *    is reclaimed after max_s;
 *  - lease ids that are forged (made up, too long, another gateway's) or
 *    replayed (a reclaimed lease's, a signed call sent twice) are refused:
 *    404 unknown_job, 410 failed (its own signed gateway), 403
 *    not_job_gateway, 401. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../unit/orch_test.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_lease.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_orch_role.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_time.h"

static const char *const M1[] = {"tiny-chat", NULL};
#define SHARE 8

struct rig {
    struct zt_config cfg;
    struct zt_store *st;
    struct zt_registry *reg;
    struct zt_sched *sched;
    struct zt_orch_role *role;
    struct zt_lease *l;
    struct worker w[2];
    size_t n_workers;
};

/* workers joined with `slots` each; the role's pump (and its sweep, once a
 * second) running when pump; a lease open max_s is reclaimed. */
static void rig_open(struct rig *g, size_t workers, uint32_t slots, bool pump, int64_t max_s)
{
    memset(g, 0, sizeof *g);
    assert_int_equal(zt_config_init_defaults(&g->cfg), 0);
    g->cfg.orchestrator.leases.max_per_caller = SHARE;
    g->cfg.orchestrator.leases.idle_s = 1;
    g->cfg.orchestrator.leases.start_s = 1;
    g->cfg.orchestrator.leases.max_s = max_s;
    g->st = store_open();
    struct zt_registry_opts ro = reg_opts();
    int64_t now = zt_time_real_ms();
    assert_int_equal(zt_registry_open(g->st, &ro, now, &g->reg), 0);
    struct zt_sched_opts so = {0};
    assert_int_equal(zt_sched_open(g->reg, &so, now, &g->sched), 0);
    assert_int_equal(zt_orch_role_new(&g->cfg, g->reg, g->sched, &g->role), 0);
    g->l = zt_orch_role_lease(g->role);
    g->n_workers = workers;
    for (size_t i = 0; i < workers; i++) {
        worker_init(&g->w[i], M1, (int)i + 1, slots, 100);
        assert_int_equal(do_join(g->reg, &g->w[i], now), 0);
    }
    if (pump) assert_int_equal(zt_orch_role_start(g->role), 0);
}

static void rig_close(struct rig *g)
{
    zt_orch_role_free(g->role);
    zt_sched_free(g->sched);
    zt_registry_free(g->reg);
    zt_store_close(g->st);
    for (size_t i = 0; i < g->n_workers; i++) worker_deinit(&g->w[i]);
    zt_config_deinit(&g->cfg);
    rm_db();
}

/* A gateway's identity, its signed descriptor registered at the table. */
static struct zt_identity *gateway(struct rig *g)
{
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    const char *roles[] = {"gateway"};
    char *desc = NULL;
    assert_int_equal(zt_identity_descriptor(id, roles, 1, NULL, 0, "http://127.0.0.1:9",
                                            zt_time_real_ms() / 1000 + 3600, &desc),
                     0);
    json_t *b = json_pack("{s:s}", "gateway", desc);
    struct zt_lease_call call = {.method = "POST", .target = "/v1/orchestrator/lease", .client_addr = "127.0.0.1"};
    struct zt_lease_res res;
    zt_lease_res_init(&res);
    zt_lease_place(g->l, &call, b, 0, &res);
    assert_int_equal(res.status, 200);
    zt_lease_res_deinit(&res);
    json_decref(b);
    zt_free(desc);
    return id;
}

/* What a call brings: its caller (a gateway's key, else a principal, else
 * only the address) and, for a replay, the signed headers of an earlier
 * call. */
struct caller {
    const struct zt_identity *gw;
    const char *principal;
    struct zt_nodeauth_headers sh; /* the last call's signature */
};

/* POST path with body (JSON text) by c: the answer's status (res->code,
 * retry_after_s and body kept in *res, which the caller deinits).
 * replay: the last call's signature again, not a fresh one. */
static int send_call(struct rig *g, struct caller *c, const char *path, const char *body, bool replay,
                     struct zt_lease_res *res)
{
    struct zt_lease_call call = {.method = "POST", .target = path, .raw = body, .raw_len = strlen(body),
                                 .client_addr = "127.0.0.1", .principal = c->principal};
    if (c->gw && !replay)
        assert_int_equal(zt_nodeauth_sign(c->gw, zt_identity_id(orch_id), "POST", path, body, strlen(body),
                                          zt_time_real_ms() / 1000, &c->sh),
                         0);
    if (c->gw) {
        call.sig_node = c->sh.node;
        call.sig_date = c->sh.date;
        call.sig_nonce = c->sh.nonce;
        call.sig_sig = c->sh.sig;
    }
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    zt_lease_res_init(res);
    if (strcmp(path, "/v1/orchestrator/lease") == 0) zt_lease_place(g->l, &call, j, 0, res);
    else zt_ignore(zt_lease_report(g->l, &call, j, res));
    json_decref(j);
    return res->status;
}

/* A new lease by c: its status; *job the job id when 200/202. */
static int open_lease(struct rig *g, struct caller *c, char job[static ZT_JOB_ID_SIZE], struct zt_lease_res *res)
{
    int st = send_call(g, c, "/v1/orchestrator/lease", "{\"model\":\"tiny-chat\",\"max_tokens\":16,\"wait_ms\":0}",
                       false, res);
    if (st == 200 || st == 202)
        zt_strlcpy(job, json_string_value(json_object_get(res->body, "job_id")), ZT_JOB_ID_SIZE);
    return st;
}

/* Status of a call; the result dropped. */
static int status_of(struct rig *g, struct caller *c, const char *path, const char *body, bool replay,
                     const char **code)
{
    struct zt_lease_res res;
    int st = send_call(g, c, path, body, replay, &res);
    if (code) *code = res.code; /* static strings */
    zt_lease_res_deinit(&res);
    return st;
}

static int poll_job(struct rig *g, struct caller *c, const char *job, const char **code)
{
    char body[120];
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"wait_ms\":0}", job);
    return status_of(g, c, "/v1/orchestrator/lease", body, false, code);
}

static int report(struct rig *g, struct caller *c, const char *job, const char *worker, const char *event,
                  const char **code)
{
    char body[300];
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"worker\":\"%s\",\"event\":\"%s\",\"tokens\":4}", job,
             worker, event);
    return status_of(g, c, "/v1/orchestrator/report", body, false, code);
}

static void counts(struct rig *g, struct zt_lease_counts *lc) { zt_lease_counts(g->l, lc); }

/* ---- one caller as fast as it can ------------------------------------------------ */

struct flooder {
    struct rig *g;
    const struct zt_identity *gw;
    int ok, limited, other;
    unsigned retry_after;
    char message[200];
};

static void *flood(void *arg)
{
    struct flooder *f = arg;
    struct caller c = {.gw = f->gw};
    for (int i = 0; i < 10; i++) {
        char job[ZT_JOB_ID_SIZE];
        struct zt_lease_res res;
        int st = open_lease(f->g, &c, job, &res);
        if (st == 200 || st == 202) f->ok++;
        else if (st == 429 && res.code && strcmp(res.code, "lease_limit") == 0) {
            f->limited++;
            f->retry_after = res.retry_after_s;
            zt_strlcpy(f->message, res.message ? res.message : "", sizeof f->message);
        } else f->other++;
        zt_lease_res_deinit(&res);
    }
    return NULL;
}

static void test_flood_leaves_room(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 2, 16, false, 60);
    struct zt_identity *gw_a = gateway(&g), *gw_b = gateway(&g);
    /* A from four threads at once: 40 tries, exactly its share taken */
    struct flooder f[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (struct flooder){.g = &g, .gw = gw_a};
        assert_int_equal(pthread_create(&t[i], NULL, flood, &f[i]), 0);
    }
    int ok = 0, limited = 0, other = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += f[i].ok, limited += f[i].limited, other += f[i].other;
        if (f[i].limited) {
            assert_int_equal(f[i].retry_after, 5);
            assert_non_null(strstr(f[i].message, "orchestrator.leases.max_per_caller = 8"));
        }
    }
    printf("caller A: %d leases, %d refused lease_limit, %d other\n", ok, limited, other);
    assert_int_equal(ok, SHARE);
    assert_int_equal(limited, 40 - SHARE);
    assert_int_equal(other, 0);
    struct zt_lease_counts lc;
    counts(&g, &lc);
    assert_int_equal(lc.open, SHARE);
    assert_int_equal(lc.caller_most, SHARE);
    assert_int_equal(lc.caller_limit, 40 - SHARE);
    assert_int_equal(lc.table_full, 0);

    /* B, from the same address: its own share; its job gets a worker */
    struct caller b = {.gw = gw_b};
    char job[ZT_JOB_ID_SIZE];
    struct zt_lease_res res;
    assert_int_equal(open_lease(&g, &b, job, &res), 200);
    assert_string_equal(json_string_value(json_object_get(res.body, "state")), "assigned");
    zt_lease_res_deinit(&res);
    /* unsigned callers: a principal each, else the address */
    struct caller p1 = {.principal = "ops-1"}, p2 = {.principal = "ops-2"}, anon = {0};
    for (int i = 0; i < SHARE; i++) {
        assert_int_equal(open_lease(&g, &p1, job, &res), 200);
        zt_lease_res_deinit(&res);
    }
    assert_int_equal(open_lease(&g, &p1, job, &res), 429);
    zt_lease_res_deinit(&res);
    assert_int_equal(open_lease(&g, &p2, job, &res), 200);
    zt_lease_res_deinit(&res);
    assert_int_equal(open_lease(&g, &anon, job, &res), 200);
    zt_lease_res_deinit(&res);
    counts(&g, &lc);
    assert_int_equal(lc.open, 2 * SHARE + 3);
    assert_int_equal(lc.callers, 5); /* gw:A, gw:B, id:ops-1, id:ops-2, addr:127.0.0.1 */
    assert_int_equal(lc.caller_limit, 40 - SHARE + 1);
    zt_identity_free(gw_a);
    zt_identity_free(gw_b);
    rig_close(&g);
}

/* A's share given back when one of its leases ends (cancel). */
static void test_place_given_back(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 1, 16, false, 60);
    struct zt_identity *gw_a = gateway(&g);
    struct caller a = {.gw = gw_a};
    char jobs[SHARE][ZT_JOB_ID_SIZE], job[ZT_JOB_ID_SIZE];
    struct zt_lease_res res;
    for (int i = 0; i < SHARE; i++) {
        assert_int_equal(open_lease(&g, &a, jobs[i], &res), 200);
        zt_lease_res_deinit(&res);
    }
    assert_int_equal(open_lease(&g, &a, job, &res), 429);
    zt_lease_res_deinit(&res);
    char body[120];
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"event\":\"cancel\"}", jobs[0]);
    assert_int_equal(status_of(&g, &a, "/v1/orchestrator/report", body, false, NULL), 200);
    assert_int_equal(open_lease(&g, &a, job, &res), 200);
    zt_lease_res_deinit(&res);
    struct zt_lease_counts lc;
    counts(&g, &lc);
    assert_int_equal(lc.open, SHARE);
    zt_identity_free(gw_a);
    rig_close(&g);
}

/* ---- leases that end ----------------------------------------------------------- */

/* A lease its caller keeps asking about while wait_counts waits; with a
 * worker, its assignment, once handed out, is reported started on it at
 * once (*assigned set) and the lease asked about no more. */
struct kept {
    struct caller *c;
    const char *job;
    const char *worker;
    bool *assigned;
};

/* Wait up to ms for the table's counts to satisfy done(lc). */
static bool wait_counts(struct rig *g, bool (*done)(const struct zt_lease_counts *), uint64_t ms,
                        const struct kept *keep, size_t n_keep)
{
    uint64_t until = zt_time_mono_ms() + ms;
    struct zt_lease_counts lc;
    for (;;) {
        counts(g, &lc);
        if (done(&lc)) return true;
        if (zt_time_mono_ms() > until) return false;
        for (size_t i = 0; i < n_keep; i++) {
            if (keep[i].assigned && *keep[i].assigned) continue;
            if (poll_job(g, keep[i].c, keep[i].job, NULL) == 200 && keep[i].worker) { /* never idle */
                assert_int_equal(report(g, keep[i].c, keep[i].job, keep[i].worker, "started", NULL), 200);
                *keep[i].assigned = true;
            }
        }
        zt_time_sleep_ms(100);
    }
}

static bool two_unstarted(const struct zt_lease_counts *lc) { return lc->reclaimed[ZT_LEASE_UNSTARTED] >= 2; }
static bool none_open(const struct zt_lease_counts *lc) { return lc->open == 0; }
static bool one_old(const struct zt_lease_counts *lc) { return lc->reclaimed[ZT_LEASE_MAX_AGE] >= 1; }

static void test_unused_reclaimed(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 1, 2, true, 60); /* one worker, two slots; the pump and its sweep run */
    struct zt_identity *gw_a = gateway(&g), *gw_b = gateway(&g);
    struct caller a = {.gw = gw_a}, b = {.gw = gw_b};
    /* A takes both slots and never starts them, asking about them all the time */
    char ja[2][ZT_JOB_ID_SIZE], jb[ZT_JOB_ID_SIZE];
    struct zt_lease_res res;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(open_lease(&g, &a, ja[i], &res), 200);
        zt_lease_res_deinit(&res);
    }
    assert_int_equal(open_lease(&g, &b, jb, &res), 202); /* no slot: queued */
    zt_lease_res_deinit(&res);
    const char *wid = zt_identity_id(g.w[0].id);
    bool b_assigned = false;
    const struct kept keep[3] = {{&a, ja[0], NULL, NULL}, {&a, ja[1], NULL, NULL}, {&b, jb, wid, &b_assigned}};
    uint64_t t0 = zt_time_mono_ms();
    assert_true(wait_counts(&g, two_unstarted, 5000, keep, 3));
    printf("A's two unstarted leases reclaimed after %llu ms (start_s = 1)\n",
           (unsigned long long)(zt_time_mono_ms() - t0));
    uint64_t until = zt_time_mono_ms() + 5000;
    while (!b_assigned && zt_time_mono_ms() < until) {
        int pst = poll_job(&g, &b, jb, NULL);
        if (pst == 200) {
            assert_int_equal(report(&g, &b, jb, wid, "started", NULL), 200);
            b_assigned = true;
        }
        zt_time_sleep_ms(50);
    }
    assert_true(b_assigned); /* B's job got the worker A held, and started */
    /* their jobs cancelled, the slots freed: B's job gets the worker */
    struct zt_job_info ji;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(zt_sched_job_get(g.sched, ja[i], &ji), 0);
        assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    }

    /* a reclaimed lease's id, replayed: refused (its own gateway: 410 failed,
     * the job is over; anyone unsigned: 404) */
    const char *code = NULL;
    assert_int_equal(poll_job(&g, &a, ja[0], NULL), 410);
    assert_int_equal(report(&g, &a, ja[1], wid, "started", NULL), 410);
    struct caller anon = {0};
    assert_int_equal(poll_job(&g, &anon, ja[0], &code), 404);
    assert_string_equal(code, "unknown_job");

    /* B's started lease, never asked about again while its job runs (a
     * remote gateway makes no call until "ok"): past idle_s (1 s) three
     * times over, with the sweep once a second, it is kept, its job still
     * running (review11 F2: it used to be reclaimed as idle and cancelled,
     * and the late "ok" answered 409) */
    zt_time_sleep_ms(3200);
    struct zt_lease_counts lc;
    counts(&g, &lc);
    assert_int_equal(lc.reclaimed[ZT_LEASE_IDLE], 0);
    assert_int_equal(lc.open, 1);
    assert_int_equal(zt_sched_job_get(g.sched, jb, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_RUNNING);
    assert_int_equal(report(&g, &b, jb, wid, "ok", NULL), 200); /* its answer, long after idle_s */
    assert_int_equal(zt_sched_job_get(g.sched, jb, &ji), 0);
    assert_true(ji.state != ZT_JOB_STATE_FAILED);
    /* done: its lease ends now, or (drawn for verification, no verdict
     * coming) when it is idle; a done job is not cancelled */
    assert_true(wait_counts(&g, none_open, 5000, NULL, 0));
    assert_int_equal(zt_sched_job_get(g.sched, jb, &ji), 0);
    assert_true(ji.state != ZT_JOB_STATE_FAILED);

    counts(&g, &lc);
    assert_int_equal(lc.open, 0);
    assert_int_equal(lc.callers, 0);
    assert_int_equal(lc.reclaimed[ZT_LEASE_UNSTARTED], 2);
    assert_true(lc.reclaimed[ZT_LEASE_IDLE] <= 1); /* the done lease, if it waited for a verdict */
    assert_int_equal(lc.reclaimed[ZT_LEASE_MAX_AGE], 0);
    zt_identity_free(gw_a);
    zt_identity_free(gw_b);
    rig_close(&g);
}

/* A started lease asked about all the time: reclaimed at max_s (1 s). */
static void test_max_age(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 1, 2, true, 1);
    struct zt_identity *gw_a = gateway(&g);
    struct caller a = {.gw = gw_a};
    char jc[ZT_JOB_ID_SIZE];
    struct zt_lease_res res;
    assert_int_equal(open_lease(&g, &a, jc, &res), 200);
    zt_lease_res_deinit(&res);
    assert_int_equal(report(&g, &a, jc, zt_identity_id(g.w[0].id), "started", NULL), 200);
    const struct kept keep_c[1] = {{&a, jc, NULL, NULL}};
    uint64_t t0 = zt_time_mono_ms();
    assert_true(wait_counts(&g, one_old, 6000, keep_c, 1));
    printf("a lease asked about every 100 ms reclaimed after %llu ms (max_s = 1)\n",
           (unsigned long long)(zt_time_mono_ms() - t0));
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(g.sched, jc, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    assert_int_equal(poll_job(&g, &a, jc, NULL), 410);
    struct zt_lease_counts lc;
    counts(&g, &lc);
    assert_int_equal(lc.open, 0);
    assert_int_equal(lc.reclaimed[ZT_LEASE_MAX_AGE], 1);
    assert_int_equal(lc.reclaimed[ZT_LEASE_IDLE], 0);
    zt_identity_free(gw_a);
    rig_close(&g);
}

/* ---- forged and replayed lease ids ---------------------------------------------- */

static void test_forged_ids(void **state)
{
    (void)state;
    struct rig g;
    rig_open(&g, 1, 4, false, 60);
    struct zt_identity *gw_a = gateway(&g), *gw_b = gateway(&g);
    struct caller a = {.gw = gw_a}, b = {.gw = gw_b}, anon = {0};
    char job[ZT_JOB_ID_SIZE];
    struct zt_lease_res res;
    assert_int_equal(open_lease(&g, &a, job, &res), 200);
    zt_lease_res_deinit(&res);
    const char *code = NULL;
    /* made up (the right shape, and too long): unknown */
    assert_int_equal(poll_job(&g, &a, "00112233445566778899aabbccddeeff", &code), 404);
    assert_string_equal(code, "unknown_job");
    assert_int_equal(poll_job(&g, &anon, "00112233445566778899aabbccddeeff", &code), 404);
    assert_int_equal(poll_job(&g, &a, "00112233445566778899aabbccddeeff00112233", &code), 404);
    assert_int_equal(report(&g, &anon, "00112233445566778899aabbccddeeff", "w", "started", &code), 404);
    /* another gateway's: refused, counted */
    struct zt_lease_counts lc0, lc;
    counts(&g, &lc0);
    assert_int_equal(poll_job(&g, &b, job, &code), 403);
    assert_string_equal(code, "not_job_gateway");
    assert_int_equal(report(&g, &anon, job, zt_identity_id(g.w[0].id), "started", &code), 403);
    counts(&g, &lc);
    assert_int_equal(lc.not_gateway, lc0.not_gateway + 2);
    /* a signed call replayed byte for byte: 401, counted */
    char body[120];
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"wait_ms\":0}", job);
    assert_int_equal(status_of(&g, &a, "/v1/orchestrator/lease", body, false, NULL), 202); /* handed out before */
    assert_int_equal(status_of(&g, &a, "/v1/orchestrator/lease", body, true, &code), 401);
    assert_string_equal(code, "invalid_gateway_signature");
    counts(&g, &lc);
    assert_int_equal(lc.bad_sig, lc0.bad_sig + 1);
    /* refused calls open nothing */
    assert_int_equal(lc.open, 1);
    zt_identity_free(gw_a);
    zt_identity_free(gw_b);
    rig_close(&g);
}

int main(void)
{
    zt_log_set_level(ZT_LOG_ERROR);
    json_set_alloc_funcs(zt_malloc, zt_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_leaves_room),
        cmocka_unit_test(test_place_given_back),
        cmocka_unit_test(test_unused_reclaimed),
        cmocka_unit_test(test_max_age),
        cmocka_unit_test(test_forged_ids),
    };
    return zt_test_exit(cmocka_run_group_tests_name("attack_lease_flood", tests, orch_setup, orch_teardown));
}
