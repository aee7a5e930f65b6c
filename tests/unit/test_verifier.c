/* test_verifier.c: the orchestrator's verifier choice (zt_verifier.h):
 * which jobs are verified (new and low-reputation workers always, a share
 * by a keyed draw: the rate holds, the same secret gives the same draws,
 * another secret other draws), which worker checks (never an excluded one,
 * never another model's, another engine build's, a banned one; a free
 * slot first; spread evenly; each round another draw), and what
 * zt_verifier_settle charges (job verified or rejected, the loser banned,
 * a resumed job's workers a mismatch each, an undecided check a mismatch
 * for both). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <jansson.h>

#include "orch_test.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_verifier.h"

static const char *const M1[] = {"tiny-chat", NULL};
static const char *const M2[] = {"tiny-embed", NULL};

#define NW 6

struct orch {
    struct zt_store *st;
    struct zt_registry *r;
    struct zt_sched *s;
    struct zt_verifier *v;
    struct worker w[NW + 2]; /* [NW]: another model, [NW + 1]: another engine */
};

static const uint8_t KEY1[ZT_VERIFIER_SECRET_LEN] = {1, 2, 3};
static const uint8_t KEY2[ZT_VERIFIER_SECRET_LEN] = {9, 9, 9};

static void orch_open(struct orch *o, const struct zt_verifier_opts *vo, const uint8_t *key)
{
    memset(o, 0, sizeof *o);
    o->st = store_open();
    struct zt_registry_opts ro = reg_opts();
    assert_int_equal(zt_registry_open(o->st, &ro, T0, &o->r), 0);
    assert_int_equal(zt_sched_open(o->r, NULL, T0, &o->s), 0);
    assert_int_equal(zt_verifier_new(o->r, vo, key, &o->v), 0);
    for (int i = 0; i < NW; i++) {
        worker_init(&o->w[i], M1, i + 1, 4, 100);
        assert_int_equal(do_join(o->r, &o->w[i], T0), 0);
    }
    worker_init(&o->w[NW], M2, NW + 1, 4, 100);
    assert_int_equal(do_join(o->r, &o->w[NW], T0), 0);
    worker_init(&o->w[NW + 1], M1, NW + 2, 4, 100);
    zt_strlcpy(o->w[NW + 1].caps.engine, "zt-other-build", sizeof o->w[NW + 1].caps.engine);
    assert_int_equal(do_join(o->r, &o->w[NW + 1], T0), 0);
}

static void orch_close(struct orch *o)
{
    zt_verifier_free(o->v);
    zt_sched_free(o->s);
    zt_registry_free(o->r);
    zt_store_close(o->st);
    for (int i = 0; i < NW + 2; i++) worker_deinit(&o->w[i]);
}

static const char *wid(struct orch *o, int i)
{
    return zt_identity_id(o->w[i].id);
}

static void job_name(char *out, size_t n, int i)
{
    snprintf(out, n, "job-%08d", i);
}

static void test_sample(void **state)
{
    (void)state;
    struct orch o, o2;
    struct zt_verifier_opts vo = {.rate = 0.25, .new_worker_jobs = 3, .low_reputation = 0.6};
    orch_open(&o, &vo, KEY1);
    orch_open(&o2, &vo, KEY2);
    char job[32];
    /* new: always */
    for (int i = 0; i < 50; i++) {
        job_name(job, sizeof job, i);
        assert_int_equal(zt_verifier_sample(o.v, job, wid(&o, 0), T0), ZT_VERIFY_NEW_WORKER);
    }
    assert_int_equal(zt_verifier_sample(o.v, "x", "zt1unknownunknownunknownunknownunk", T0), ZT_VERIFY_NEW_WORKER);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(zt_registry_report(o.r, wid(&o, 0), ZT_OUTCOME_VERIFIED, T0), 0);
        assert_int_equal(zt_registry_report(o2.r, wid(&o2, 0), ZT_OUTCOME_VERIFIED, T0), 0);
    }
    /* then the keyed draw: the rate holds; same key, same draws; another
     * key, draws a worker cannot predict from the job ids */
    int hit = 0, agree = 0, n = 4000;
    for (int i = 0; i < n; i++) {
        job_name(job, sizeof job, i);
        enum zt_verify_reason a = zt_verifier_sample(o.v, job, wid(&o, 0), T0);
        assert_int_equal(zt_verifier_sample(o.v, job, wid(&o, 0), T0), a);
        enum zt_verify_reason b = zt_verifier_sample(o2.v, job, wid(&o2, 0), T0);
        assert_true(a == ZT_VERIFY_NONE || a == ZT_VERIFY_SAMPLED);
        hit += a == ZT_VERIFY_SAMPLED;
        agree += (a == ZT_VERIFY_SAMPLED) && (b == ZT_VERIFY_SAMPLED);
    }
    printf("sampled %d of %d at rate 0.25; both keys sampled %d (independent: ~%d)\n", hit, n, agree, n / 16);
    assert_true(hit > n * 20 / 100 && hit < n * 30 / 100);
    assert_true(agree < n * 10 / 100); /* independent draws: 1/16 of the jobs */
    /* low reputation: always */
    for (int k = 0; k < 4; k++) assert_int_equal(zt_registry_report(o.r, wid(&o, 0), ZT_OUTCOME_FAILED, T0), 0);
    for (int i = 0; i < 50; i++) {
        job_name(job, sizeof job, i);
        assert_int_equal(zt_verifier_sample(o.v, job, wid(&o, 0), T0), ZT_VERIFY_LOW_REPUTATION);
    }
    orch_close(&o2);
    orch_close(&o);
    /* off: nothing */
    struct zt_verifier_opts off = {.off = true};
    orch_open(&o, &off, KEY1);
    assert_int_equal(zt_verifier_sample(o.v, "job", wid(&o, 0), T0), ZT_VERIFY_NONE);
    struct zt_verifier_stats st;
    zt_verifier_stats(o.v, &st);
    assert_int_equal(st.sampled, 0);
    orch_close(&o);
    /* bad options */
    struct zt_verifier *v = NULL;
    struct zt_verifier_opts bad = {.rate = 1.5};
    assert_int_equal(zt_verifier_new(o.r, &bad, NULL, &v), ZT_EINVAL);
    assert_null(v);
    assert_string_equal(zt_verify_reason_name(ZT_VERIFY_SAMPLED), "sampled");
}

static void test_pick(void **state)
{
    (void)state;
    struct orch o;
    orch_open(&o, NULL, KEY1);
    const char *engine = o.w[0].caps.engine;
    int count[NW] = {0}, same_round = 0, n = 3000;
    char job[32];
    const char *ex[1] = {wid(&o, 0)};
    for (int i = 0; i < n; i++) {
        job_name(job, sizeof job, i);
        struct zt_node_info a, b, c;
        assert_int_equal(zt_verifier_pick(o.v, job, 0, "tiny-chat", engine, ex, 1, T0, &a), 0);
        assert_int_equal(zt_verifier_pick(o.v, job, 0, "tiny-chat", engine, ex, 1, T0, &c), 0);
        assert_string_equal(a.node_id, c.node_id); /* deterministic under the key */
        assert_int_equal(zt_verifier_pick(o.v, job, 1, "tiny-chat", engine, ex, 1, T0, &b), 0);
        same_round += strcmp(a.node_id, b.node_id) == 0;
        int k = -1;
        for (int w = 0; w < NW; w++)
            if (strcmp(a.node_id, wid(&o, w)) == 0) k = w;
        assert_true(k >= 1); /* never the worker excluded, another model's or another build's */
        count[k]++;
    }
    printf("picks over %d jobs:", n);
    for (int w = 1; w < NW; w++) {
        printf(" %d", count[w]);
        assert_true(count[w] > n / (NW - 1) * 7 / 10 && count[w] < n / (NW - 1) * 13 / 10);
    }
    printf("; round 1 = round 0 in %d\n", same_round);
    assert_true(same_round < n * 35 / 100); /* another draw per round (1/5 by chance) */
    /* another engine build only when asked for it */
    struct zt_node_info ni;
    assert_int_equal(zt_verifier_pick(o.v, "j", 0, "tiny-chat", "zt-other-build", NULL, 0, T0, &ni), 0);
    assert_string_equal(ni.node_id, wid(&o, NW + 1));
    /* a free slot first: all but one busy */
    for (int w = 1; w < NW; w++) assert_int_equal(do_hb(o.r, &o.w[w], T0 + 10, w == 3 ? 0 : 4), 0);
    for (int i = 0; i < 50; i++) {
        job_name(job, sizeof job, i);
        assert_int_equal(zt_verifier_pick(o.v, job, 0, "tiny-chat", engine, ex, 1, T0 + 10, &ni), 0);
        assert_string_equal(ni.node_id, wid(&o, 3));
    }
    /* a banned worker never */
    assert_int_equal(zt_registry_report(o.r, wid(&o, 3), ZT_OUTCOME_CHEAT, T0 + 10), 0);
    for (int i = 0; i < 200; i++) {
        job_name(job, sizeof job, i);
        assert_int_equal(zt_verifier_pick(o.v, job, 0, "tiny-chat", engine, ex, 1, T0 + 10, &ni), 0);
        assert_string_not_equal(ni.node_id, wid(&o, 3));
    }
    /* none left: every one excluded */
    const char *all[NW];
    for (int w = 0; w < NW; w++) all[w] = wid(&o, w);
    assert_int_equal(zt_verifier_pick(o.v, "j", 0, "tiny-chat", engine, all, NW, T0 + 10, &ni), ZT_ENOTFOUND);
    assert_int_equal(zt_verifier_pick(o.v, "j", 0, "no-such-model", NULL, NULL, 0, T0 + 10, &ni), ZT_ENOTFOUND);
    /* the only worker of a model is the one verified: no verifier */
    const char *ex2[1] = {wid(&o, NW)};
    assert_int_equal(zt_verifier_pick(o.v, "j", 0, "tiny-embed", NULL, ex2, 1, T0 + 10, &ni), ZT_ENOTFOUND);
    orch_close(&o);
}

/* A job run on worker w and finished: its id in job. */
static void done_job(struct orch *o, int w, char job[static ZT_JOB_ID_SIZE], int64_t t)
{
    /* every other worker busy: the job lands on w (a banned one's heartbeat is refused) */
    for (int i = 0; i < NW + 2; i++) zt_ignore(do_hb(o->r, &o->w[i], t, i == w ? 0 : 4));
    struct zt_job_req q = {.client = "alice", .model = "tiny-chat", .ctx_tokens = 10, .max_tokens = 20};
    struct zt_sched_result res;
    assert_int_equal(zt_sched_submit(o->s, &q, t, &res), 0);
    assert_string_equal(res.worker, wid(o, w));
    zt_strlcpy(job, res.job_id, ZT_JOB_ID_SIZE);
    assert_int_equal(zt_sched_job_started(o->s, job, wid(o, w), t + 1), 0);
    enum zt_job_state js;
    assert_int_equal(zt_sched_job_finished(o->s, job, wid(o, w), ZT_SCHED_OK, 20, t + 2, &js), 0);
    assert_int_equal(js, ZT_JOB_STATE_DONE);
}

static void test_settle(void **state)
{
    (void)state;
    struct orch o;
    orch_open(&o, NULL, KEY1);
    char job[ZT_JOB_ID_SIZE];
    struct zt_job_info ji;
    const char *checkers[2];
    bool wrong[2] = {false, false};
    int64_t t = T0 + 100;
    /* agreed: verified, the worker VERIFIED, the checker COMPLETED */
    done_job(&o, 0, job, t);
    const char *w0[1] = {wid(&o, 0)};
    checkers[0] = wid(&o, 1);
    assert_int_equal(zt_verifier_settle(o.v, o.s, job, ZT_VERDICT_AGREED, w0, 1, checkers, wrong, 1, t + 3), 0);
    assert_int_equal(zt_sched_job_get(o.s, job, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_VERIFIED);
    assert_int_equal(node_info(o.r, &o.w[0], t + 3).verified, 1);
    assert_int_equal(node_info(o.r, &o.w[1], t + 3).completed, 1);
    /* the worker wrong (one worker): failed, banned at once, no more work */
    t += 100;
    done_job(&o, 2, job, t);
    const char *w2[1] = {wid(&o, 2)};
    checkers[0] = wid(&o, 1);
    checkers[1] = wid(&o, 3);
    assert_int_equal(zt_verifier_settle(o.v, o.s, job, ZT_VERDICT_WORKER_WRONG, w2, 1, checkers, wrong, 2, t + 3), 0);
    assert_int_equal(zt_sched_job_get(o.s, job, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    assert_string_equal(ji.reason, "verification_mismatch");
    struct zt_node_info ni = node_info(o.r, &o.w[2], t + 3);
    assert_true(ni.banned);
    assert_false(ni.eligible);
    /* a checker outvoted: the job verified, that checker banned */
    t += 100;
    done_job(&o, 4, job, t);
    const char *w4[1] = {wid(&o, 4)};
    checkers[0] = wid(&o, 5);
    checkers[1] = wid(&o, 1);
    wrong[0] = true;
    assert_int_equal(zt_verifier_settle(o.v, o.s, job, ZT_VERDICT_CHECKER_WRONG, w4, 1, checkers, wrong, 2, t + 3),
                     0);
    assert_int_equal(zt_sched_job_get(o.s, job, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_VERIFIED);
    assert_true(node_info(o.r, &o.w[5], t + 3).banned);
    assert_false(node_info(o.r, &o.w[1], t + 3).banned);
    assert_false(node_info(o.r, &o.w[4], t + 3).banned);
    /* a resumed job (two workers) found wrong: a mismatch each, no ban */
    t += 100;
    done_job(&o, 0, job, t);
    const char *w01[2] = {wid(&o, 0), wid(&o, 1)};
    wrong[0] = false;
    checkers[0] = wid(&o, 3);
    struct zt_node_info before = node_info(o.r, &o.w[1], t);
    assert_int_equal(zt_verifier_settle(o.v, o.s, job, ZT_VERDICT_WORKER_WRONG, w01, 2, checkers, wrong, 1, t + 3), 0);
    assert_false(node_info(o.r, &o.w[0], t + 3).banned);
    assert_int_equal(node_info(o.r, &o.w[0], t + 3).mismatches, 1);
    assert_int_equal(node_info(o.r, &o.w[1], t + 3).mismatches, before.mismatches + 1);
    assert_int_equal(zt_sched_job_get(o.s, job, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    /* undecided: the job stays done, both charged a mismatch */
    t += 100;
    done_job(&o, 3, job, t);
    const char *w3[1] = {wid(&o, 3)};
    checkers[0] = wid(&o, 1);
    assert_int_equal(zt_verifier_settle(o.v, o.s, job, ZT_VERDICT_UNDECIDED, w3, 1, checkers, wrong, 1, t + 3), 0);
    assert_int_equal(zt_sched_job_get(o.s, job, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_DONE);
    assert_int_equal(node_info(o.r, &o.w[3], t + 3).mismatches, 1);
    struct zt_verifier_stats st;
    zt_verifier_stats(o.v, &st);
    assert_int_equal(st.agreed, 1);
    assert_int_equal(st.worker_wrong, 2);
    assert_int_equal(st.checker_wrong, 1);
    assert_int_equal(st.undecided, 1);
    assert_int_equal(zt_verifier_settle(o.v, o.s, job, (enum zt_verify_verdict)9, w3, 1, NULL, NULL, 0, t),
                     ZT_EINVAL);
    orch_close(&o);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, orch_setup, orch_teardown)
    const struct CMUnitTest tests[] = {T(test_sample), T(test_pick), T(test_settle)};
    return zt_test_exit(cmocka_run_group_tests_name("verifier", tests, NULL, NULL));
}
