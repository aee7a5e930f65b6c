/* test_sched.c: the orchestrator's scheduler and job lifecycle
 * (zt_sched.h): placement by metadata (model, context, price, deadline)
 * and by score (reputation, load, latency), exclusion below the threshold
 * and of a cheat, fair queueing across two clients (DRR), the bounded
 * queue with retry-after, the state machine's legal and illegal
 * transitions, requeue on failure and on a lost worker, and resuming
 * after a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "orch_test.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_queue.h"
#include "zentalk/zt_sched.h"

static const char *const M1[] = {"tiny-chat", NULL};
static const char *const M2[] = {"tiny-embed", NULL};

struct orch {
    struct zt_store *st;
    struct zt_registry *r;
    struct zt_sched *s;
};

static void orch_open(struct orch *o, const struct zt_sched_opts *so, int64_t now)
{
    o->st = store_open();
    struct zt_registry_opts ro = reg_opts();
    assert_int_equal(zt_registry_open(o->st, &ro, now, &o->r), 0);
    assert_int_equal(zt_sched_open(o->r, so, now, &o->s), 0);
}

static void orch_close(struct orch *o)
{
    zt_sched_free(o->s);
    zt_registry_free(o->r);
    zt_store_close(o->st);
    memset(o, 0, sizeof *o);
}

static struct zt_job_req req(const char *client, const char *model, uint32_t ctx, uint32_t max_tokens)
{
    return (struct zt_job_req){.client = client, .model = model, .ctx_tokens = ctx, .max_tokens = max_tokens};
}

static int submit(struct orch *o, struct zt_job_req q, int64_t now, struct zt_sched_result *res)
{
    return zt_sched_submit(o->s, &q, now, res);
}

static const char *wid(struct worker *w) { return zt_identity_id(w->id); }

/* Two workers of tiny-chat with slots each, price 100, joined at T0. */
static void two_workers(struct orch *o, struct worker *a, struct worker *b, uint32_t slots)
{
    worker_init(a, M1, 1, slots, 100);
    worker_init(b, M1, 2, slots, 100);
    assert_int_equal(do_join(o->r, a, T0), 0);
    assert_int_equal(do_join(o->r, b, T0), 0);
}

static void close_two(struct orch *o, struct worker *a, struct worker *b)
{
    worker_deinit(a);
    worker_deinit(b);
    orch_close(o);
}

static void test_transitions(void **state)
{
    (void)state;
    /* the diagram of zt_sched.h, exhaustively */
    static const bool legal[ZT_JOB_STATE_COUNT][ZT_JOB_STATE_COUNT] = {
        /*            queued assigned running done  failed verified */
        /* queued   */ {0, 1, 0, 0, 1, 0},
        /* assigned */ {1, 0, 1, 0, 1, 0},
        /* running  */ {1, 0, 0, 1, 1, 0},
        /* done     */ {0, 0, 0, 0, 1, 1},
        /* failed   */ {0, 0, 0, 0, 0, 0},
        /* verified */ {0, 0, 0, 0, 0, 0},
    };
    for (int a = 0; a < ZT_JOB_STATE_COUNT; a++)
        for (int b = 0; b < ZT_JOB_STATE_COUNT; b++)
            assert_int_equal(zt_job_transition_legal((enum zt_job_state)a, (enum zt_job_state)b), legal[a][b]);
    assert_string_equal(zt_job_state_name(ZT_JOB_STATE_VERIFIED), "verified");
    assert_string_equal(zt_job_state_name((enum zt_job_state)42), "?");

    /* through the API */
    struct orch o;
    orch_open(&o, NULL, T0);
    struct worker a;
    worker_init(&a, M1, 1, 2, 100);
    assert_int_equal(do_join(o.r, &a, T0), 0);
    struct zt_sched_result res;
    assert_int_equal(submit(&o, req("alice", "tiny-chat", 10, 100), T0, &res), 0);
    assert_int_equal(res.state, ZT_JOB_STATE_ASSIGNED);
    assert_string_equal(res.worker, wid(&a));
    char job[ZT_JOB_ID_SIZE];
    zt_strlcpy(job, res.job_id, sizeof job);
    enum zt_job_state js;
    /* finished before started; verified while active */
    assert_int_equal(zt_sched_job_finished(o.s, job, wid(&a), ZT_SCHED_OK, 5, T0 + 1, &js), ZT_EINVAL);
    assert_int_equal(zt_sched_job_verified(o.s, job, T0 + 1), ZT_EINVAL);
    /* another worker cannot speak for it */
    struct worker b;
    worker_init(&b, M1, 2, 2, 100);
    assert_int_equal(zt_sched_job_started(o.s, job, wid(&b), T0 + 1), ZT_EPERM);
    assert_int_equal(zt_sched_job_started(o.s, job, wid(&a), T0 + 10), 0);
    assert_int_equal(zt_sched_job_started(o.s, job, wid(&a), T0 + 11), ZT_EINVAL); /* running -> running */
    assert_int_equal(zt_sched_job_finished(o.s, job, wid(&a), ZT_SCHED_OK, 50, T0 + 1010, &js), 0);
    assert_int_equal(js, ZT_JOB_STATE_DONE);
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(o.s, job, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_DONE);
    assert_string_equal(ji.worker, wid(&a));
    assert_string_equal(ji.client, "alice");
    assert_int_equal(ji.attempts, 1);
    assert_int_equal(ji.tokens, 50);
    assert_int_equal(ji.created_ms, T0);
    assert_int_equal(ji.assigned_ms, T0);
    assert_int_equal(ji.started_ms, T0 + 10);
    assert_int_equal(ji.finished_ms, T0 + 1010);
    /* the measured latency: 1000 ms / 50 tokens */
    assert_true(node_info(o.r, &a, T0 + 1010).latency_ms_per_tok > 19.99);
    assert_int_equal(zt_sched_job_started(o.s, job, wid(&a), T0 + 1011), ZT_ENOTFOUND); /* not active */
    assert_int_equal(zt_sched_job_cancel(o.s, job, T0 + 1011), ZT_ENOTFOUND);
    assert_int_equal(zt_sched_job_verified(o.s, job, T0 + 1020), 0);
    assert_int_equal(zt_sched_job_verified(o.s, job, T0 + 1021), ZT_EINVAL); /* verified is final */
    assert_int_equal(zt_sched_job_rejected(o.s, job, T0 + 1022), ZT_EINVAL);
    assert_int_equal(zt_sched_job_get(o.s, job, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_VERIFIED);
    assert_int_equal(node_info(o.r, &a, T0 + 1022).verified, 1);

    /* a cancelled job is failed and final */
    assert_int_equal(submit(&o, req("alice", "tiny-chat", 10, 100), T0 + 2000, &res), 0);
    assert_int_equal(zt_sched_job_cancel(o.s, res.job_id, T0 + 2001), 0);
    assert_int_equal(zt_sched_job_get(o.s, res.job_id, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    assert_string_equal(ji.reason, "cancelled");
    assert_int_equal(node_info(o.r, &a, T0 + 2001).inflight, 0);
    close_two(&o, &a, &b);
}

static void test_placement(void **state)
{
    (void)state;
    struct orch o;
    orch_open(&o, NULL, T0);
    struct worker a, b, c;
    worker_init(&a, M1, 1, 2, 100); /* cheap, short context */
    a.caps.ctx_max = 2048;
    worker_init(&b, M1, 2, 2, 500); /* dearer, long context */
    b.caps.ctx_max = 8192;
    worker_init(&c, M2, 3, 2, 100);
    assert_int_equal(do_join(o.r, &a, T0), 0);
    assert_int_equal(do_join(o.r, &b, T0), 0);
    assert_int_equal(do_join(o.r, &c, T0), 0);
    struct zt_sched_result res;
    /* context: only b fits 4000 + 100 */
    assert_int_equal(submit(&o, req("u", "tiny-chat", 4000, 100), T0, &res), 0);
    assert_string_equal(res.worker, wid(&b));
    /* price ceiling: only a */
    struct zt_job_req q = req("u", "tiny-chat", 10, 100);
    q.price_ceiling = 200;
    assert_int_equal(submit(&o, q, T0, &res), 0);
    assert_string_equal(res.worker, wid(&a));
    /* the model */
    assert_int_equal(submit(&o, req("u", "tiny-embed", 10, 10), T0, &res), 0);
    assert_string_equal(res.worker, wid(&c));
    assert_int_equal(submit(&o, req("u", "no-such-model", 10, 10), T0, &res), ZT_ENOTFOUND);
    assert_int_equal(submit(&o, req("u", "tiny-chat", 100000, 10), T0, &res), ZT_ENOTFOUND);
    q.price_ceiling = 50;
    assert_int_equal(submit(&o, q, T0, &res), ZT_ENOTFOUND);
    q = req("u", "tiny-chat", 10, 10);
    q.deadline_ms = T0 - 1;
    assert_int_equal(submit(&o, q, T0, &res), ZT_ETIMEDOUT);
    q = req("", "tiny-chat", 10, 10);
    assert_int_equal(submit(&o, q, T0, &res), ZT_EINVAL);
    q = req("u", "tiny-chat", 10, 0);
    assert_int_equal(submit(&o, q, T0, &res), ZT_EINVAL);
    worker_deinit(&a);
    worker_deinit(&b);
    worker_deinit(&c);
    orch_close(&o);
}

/* Score: the price term. Two workers equal in all but price (the same
 * reputation, load and latency, no price ceiling): the cheaper one wins,
 * whichever joined first (six fresh pairs, the cheap one first or second;
 * without the price term the pick would follow join or id order). */
static void test_score_price(void **state)
{
    (void)state;
    for (int trial = 0; trial < 6; trial++) {
        struct orch o;
        orch_open(&o, NULL, T0);
        struct worker cheap, dear;
        worker_init(&cheap, M1, 1, 2, 100);
        worker_init(&dear, M1, 2, 2, 400);
        struct worker *first = trial % 2 ? &dear : &cheap, *second = trial % 2 ? &cheap : &dear;
        assert_int_equal(do_join(o.r, first, T0), 0);
        assert_int_equal(do_join(o.r, second, T0), 0);
        struct zt_sched_result res;
        assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0, &res), 0);
        assert_string_equal(res.worker, wid(&cheap));
        assert_int_equal(zt_sched_job_cancel(o.s, res.job_id, T0), 0);
        worker_deinit(&cheap);
        worker_deinit(&dear);
        orch_close(&o);
        rm_db(); /* the next pair on a fresh store (SQLite only) */
    }
}

/* Score: reputation, load, latency; threshold and cheat exclusion. */
static void test_score(void **state)
{
    (void)state;
    struct orch o;
    orch_open(&o, NULL, T0);
    struct worker a, b;
    two_workers(&o, &a, &b, 4);
    /* a better reputation wins */
    for (int i = 0; i < 10; i++) assert_int_equal(zt_registry_report(o.r, wid(&b), ZT_OUTCOME_COMPLETED, T0), 0);
    struct zt_sched_result res;
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0, &res), 0);
    assert_string_equal(res.worker, wid(&b));
    assert_int_equal(zt_sched_job_cancel(o.s, res.job_id, T0), 0);
    /* a loaded worker loses to an idle one */
    assert_int_equal(do_hb(o.r, &b, T0 + 100, 4), 0); /* all of b's slots busy */
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0 + 100, &res), 0);
    assert_string_equal(res.worker, wid(&a));
    assert_int_equal(zt_sched_job_cancel(o.s, res.job_id, T0 + 100), 0);
    assert_int_equal(do_hb(o.r, &b, T0 + 200, 0), 0);
    /* a slow worker loses to a fast one with the same reputation */
    for (int i = 0; i < 10; i++) assert_int_equal(zt_registry_report(o.r, wid(&a), ZT_OUTCOME_COMPLETED, T0), 0);
    int64_t t = T0 + 300;
    for (int i = 0; i < 2; i++) {
        struct worker *w = i ? &b : &a;
        struct zt_job_req q = req("u", "tiny-chat", 10, 100);
        /* place on w: the other one is made busy for the moment */
        struct worker *other = i ? &a : &b;
        assert_int_equal(do_hb(o.r, other, t, 4), 0);
        assert_int_equal(submit(&o, q, t, &res), 0);
        assert_string_equal(res.worker, wid(w));
        assert_int_equal(zt_sched_job_started(o.s, res.job_id, wid(w), t), 0);
        /* a: 100 ms/token; b: 5 ms/token */
        assert_int_equal(zt_sched_job_finished(o.s, res.job_id, wid(w), ZT_SCHED_OK, 100, t + (i ? 500 : 10000), NULL), 0);
        assert_int_equal(do_hb(o.r, other, t + 1, 0), 0);
        t += 20000;
    }
    assert_int_equal(do_hb(o.r, &a, t, 0), 0);
    assert_int_equal(do_hb(o.r, &b, t, 0), 0);
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), t, &res), 0);
    assert_string_equal(res.worker, wid(&b));
    assert_int_equal(zt_sched_job_cancel(o.s, res.job_id, t), 0);
    /* deadline: a measured 100 ms/token cannot do 100 tokens in 5 s; b can */
    struct zt_job_req q = req("u", "tiny-chat", 10, 100);
    q.deadline_ms = t + 5000;
    assert_int_equal(do_hb(o.r, &b, t + 1, 4), 0);
    assert_int_equal(submit(&o, q, t + 1, &res), 0);
    assert_int_equal(res.state, ZT_JOB_STATE_QUEUED); /* a is free but too slow */
    assert_int_equal(zt_sched_job_cancel(o.s, res.job_id, t + 1), 0);
    assert_int_equal(do_hb(o.r, &b, t + 2, 0), 0);
    /* below the threshold: no work */
    for (int i = 0; i < 30; i++) assert_int_equal(zt_registry_report(o.r, wid(&b), ZT_OUTCOME_FAILED, t), 0);
    assert_false(node_info(o.r, &b, t).eligible);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), t + 3, &res), 0);
        assert_string_equal(res.worker, wid(&a));
    }
    /* a cheat: none at once; with no one left the job is not servable */
    assert_int_equal(zt_registry_report(o.r, wid(&a), ZT_OUTCOME_CHEAT, t), 0);
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), t + 4, &res), ZT_ENOTFOUND);
    close_two(&o, &a, &b);
}

/* Run the job on its worker and finish it. */
static void finish(struct orch *o, const char *job, const char *worker, int64_t t)
{
    assert_int_equal(zt_sched_job_started(o->s, job, worker, t), 0);
    assert_int_equal(zt_sched_job_finished(o->s, job, worker, ZT_SCHED_OK, 10, t + 1, NULL), 0);
}

/* Two clients, one slot: alice queues 8 jobs, then bob 3; as the slot
 * frees, bob's jobs are interleaved with alice's rather than waiting for
 * all of hers. */
static void test_fair_queueing(void **state)
{
    (void)state;
    struct orch o;
    orch_open(&o, NULL, T0);
    struct worker a;
    worker_init(&a, M1, 1, 1, 100);
    assert_int_equal(do_join(o.r, &a, T0), 0);
    struct zt_sched_result res;
    char running[ZT_JOB_ID_SIZE];
    assert_int_equal(submit(&o, req("alice", "tiny-chat", 10, 100), T0, &res), 0);
    assert_int_equal(res.state, ZT_JOB_STATE_ASSIGNED);
    zt_strlcpy(running, res.job_id, sizeof running);
    char alice[8][ZT_JOB_ID_SIZE], bob[3][ZT_JOB_ID_SIZE];
    for (int i = 0; i < 8; i++) {
        assert_int_equal(submit(&o, req("alice", "tiny-chat", 10, 100), T0 + 1, &res), 0);
        assert_int_equal(res.state, ZT_JOB_STATE_QUEUED);
        zt_strlcpy(alice[i], res.job_id, sizeof alice[i]);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(submit(&o, req("bob", "tiny-chat", 10, 100), T0 + 2, &res), 0);
        assert_int_equal(res.state, ZT_JOB_STATE_QUEUED);
        zt_strlcpy(bob[i], res.job_id, sizeof bob[i]);
    }
    assert_int_equal(zt_sched_queued(o.s), 11);
    char order[12] = "";
    int64_t t = T0 + 10;
    for (int k = 0; k < 11; k++) {
        finish(&o, running, wid(&a), t);
        struct zt_sched_event ev[4];
        size_t n = 0;
        assert_int_equal(zt_sched_pump(o.s, t + 2, ev, 4, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ev[0].kind, ZT_SCHED_EV_ASSIGNED);
        assert_string_equal(ev[0].worker, wid(&a));
        zt_strlcpy(running, ev[0].job_id, sizeof running);
        bool is_bob = false;
        for (int i = 0; i < 3; i++) is_bob = is_bob || strcmp(bob[i], running) == 0;
        order[k] = is_bob ? 'b' : 'a';
        t += 10;
    }
    print_message("service order with one slot: %s\n", order);
    /* bob's three jobs are among the first six, never two of alice's in a row before bob is done */
    assert_string_equal(order, "ababab" "aaaaa");
    /* jobs of one client keep their order */
    assert_int_equal(zt_sched_queued(o.s), 0);
    worker_deinit(&a);
    orch_close(&o);
}

static void test_bounded_queue(void **state)
{
    (void)state;
    struct zt_sched_opts so = {.max_queued = 5, .max_queued_per_client = 3};
    struct orch o;
    orch_open(&o, &so, T0);
    struct worker a;
    worker_init(&a, M1, 1, 1, 100);
    assert_int_equal(do_join(o.r, &a, T0), 0);
    struct zt_sched_result res;
    assert_int_equal(submit(&o, req("x", "tiny-chat", 10, 10), T0, &res), 0);
    assert_int_equal(res.state, ZT_JOB_STATE_ASSIGNED);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(submit(&o, req("x", "tiny-chat", 10, 10), T0, &res), 0);
        assert_int_equal(res.state, ZT_JOB_STATE_QUEUED);
    }
    /* x's share is full; y still gets in */
    assert_int_equal(submit(&o, req("x", "tiny-chat", 10, 10), T0, &res), ZT_EBUSY);
    assert_true(res.retry_after_s >= 1 && res.retry_after_s <= 60);
    for (int i = 0; i < 2; i++) assert_int_equal(submit(&o, req("y", "tiny-chat", 10, 10), T0, &res), 0);
    /* the whole queue is full */
    assert_int_equal(submit(&o, req("z", "tiny-chat", 10, 10), T0, &res), ZT_EBUSY);
    print_message("queue full: retry after %u s\n", res.retry_after_s);
    assert_true(res.retry_after_s >= 1 && res.retry_after_s <= 60);
    assert_int_equal(zt_sched_queued(o.s), 5);
    worker_deinit(&a);
    orch_close(&o);
}

/* A failed job is requeued and placed again; after max_attempts it fails.
 * A worker that stops heartbeating loses its jobs to another. Queued jobs
 * past their deadline fail. */
static void test_requeue(void **state)
{
    (void)state;
    struct zt_sched_opts so = {.max_attempts = 2};
    struct orch o;
    orch_open(&o, &so, T0);
    struct worker a, b;
    worker_init(&a, M1, 1, 1, 100);
    worker_init(&b, M1, 2, 1, 100);
    assert_int_equal(do_join(o.r, &a, T0), 0);
    struct zt_sched_result res;
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0, &res), 0);
    char job[ZT_JOB_ID_SIZE];
    zt_strlcpy(job, res.job_id, sizeof job);
    assert_int_equal(zt_sched_job_started(o.s, job, wid(&a), T0 + 1), 0);
    enum zt_job_state js;
    assert_int_equal(zt_sched_job_finished(o.s, job, wid(&a), ZT_SCHED_ERROR, 0, T0 + 2, &js), 0);
    assert_int_equal(js, ZT_JOB_STATE_QUEUED);
    assert_int_equal(node_info(o.r, &a, T0 + 2).failed, 1);
    struct zt_sched_event ev[8];
    size_t n;
    assert_int_equal(zt_sched_pump(o.s, T0 + 3, ev, 8, &n), 0);
    assert_int_equal(n, 2); /* the requeue, then the new assignment */
    assert_int_equal(ev[0].kind, ZT_SCHED_EV_REQUEUED);
    assert_int_equal(ev[1].kind, ZT_SCHED_EV_ASSIGNED);
    assert_string_equal(ev[1].job_id, job);
    assert_int_equal(zt_sched_job_started(o.s, job, wid(&a), T0 + 4), 0);
    assert_int_equal(zt_sched_job_finished(o.s, job, wid(&a), ZT_SCHED_STALLED, 0, T0 + 5, &js), 0);
    assert_int_equal(js, ZT_JOB_STATE_FAILED); /* two attempts */
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(o.s, job, &ji), 0);
    assert_int_equal(ji.attempts, 2);
    assert_string_equal(ji.reason, "attempts_exhausted");
    assert_int_equal(node_info(o.r, &a, T0 + 5).timed_out, 1);
    assert_int_equal(zt_sched_pump(o.s, T0 + 6, ev, 8, &n), 0); /* the failure, as an event too */
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ZT_SCHED_EV_FAILED);

    /* a worker lost with a running job: requeued onto b */
    int64_t t = T0 + 10000;
    assert_false(node_info(o.r, &a, t).eligible); /* 0.4 after two failures */
    for (int i = 0; i < 5; i++) assert_int_equal(zt_registry_report(o.r, wid(&a), ZT_OUTCOME_COMPLETED, t), 0);
    assert_int_equal(do_hb(o.r, &a, t, 0), 0);
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), t, &res), 0);
    zt_strlcpy(job, res.job_id, sizeof job);
    assert_int_equal(zt_sched_job_started(o.s, job, wid(&a), t), 0);
    assert_int_equal(do_join(o.r, &b, t + 1000), 0);
    assert_int_equal(do_hb(o.r, &b, t + 25000, 0), 0);
    assert_int_equal(zt_sched_pump(o.s, t + 30000, ev, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].kind, ZT_SCHED_EV_REQUEUED);
    assert_string_equal(ev[0].worker, wid(&a));
    assert_int_equal(ev[1].kind, ZT_SCHED_EV_ASSIGNED);
    assert_string_equal(ev[1].worker, wid(&b));
    assert_int_equal(node_info(o.r, &a, t + 30000).state, ZT_NODE_EXPIRED);
    assert_int_equal(node_info(o.r, &a, t + 30000).timed_out, 2);
    finish(&o, job, wid(&b), t + 30001);

    /* deadline of a queued job */
    struct zt_job_req q = req("u", "tiny-chat", 10, 10);
    assert_int_equal(submit(&o, q, t + 31000, &res), 0); /* b busy? no: b is free again */
    q.deadline_ms = t + 32000;
    assert_int_equal(submit(&o, q, t + 31000, &res), 0);
    assert_int_equal(res.state, ZT_JOB_STATE_QUEUED);
    zt_strlcpy(job, res.job_id, sizeof job);
    assert_int_equal(zt_sched_pump(o.s, t + 33000, ev, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ZT_SCHED_EV_FAILED);
    assert_string_equal(ev[0].job_id, job);
    assert_int_equal(zt_sched_job_get(o.s, job, &ji), 0);
    assert_string_equal(ji.reason, "deadline");
    close_two(&o, &a, &b);
}

/* The gateway's view: a worker dropped as unreachable (zt_registry_drop)
 * loses its running job to the queue and is charged; the job is servable
 * while another eligible worker serves the model and placed there; the
 * recent-jobs list shows both jobs newest first; the node list holds the
 * keys the gateway seals with and the models. */
static void test_drop_list_servable(void **state)
{
    (void)state;
    struct orch o;
    orch_open(&o, &(struct zt_sched_opts){0}, T0);
    struct worker a, b;
    two_workers(&o, &a, &b, 1);
    struct zt_sched_result res;
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0, &res), 0);
    char j1[ZT_JOB_ID_SIZE];
    zt_strlcpy(j1, res.job_id, sizeof j1);
    const char *w1 = res.worker;
    struct worker *first = zt_str_eq(w1, wid(&a)) ? &a : &b, *second = first == &a ? &b : &a;
    assert_int_equal(zt_sched_job_started(o.s, j1, wid(first), T0 + 1), 0);
    assert_true(zt_sched_job_servable(o.s, j1, T0 + 1)); /* running */
    /* the other slot is taken too: a second job runs on the second worker */
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0 + 2, &res), 0);
    char j2[ZT_JOB_ID_SIZE];
    zt_strlcpy(j2, res.job_id, sizeof j2);
    assert_string_equal(res.worker, wid(second));

    assert_int_equal(zt_registry_drop(o.r, wid(first), T0 + 3), 0);
    assert_int_equal(zt_registry_drop(o.r, wid(first), T0 + 3), ZT_EINVAL); /* no live session */
    assert_int_equal(zt_registry_drop(o.r, "zt1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", T0 + 3), ZT_ENOTFOUND);
    struct zt_node_info ni = node_info(o.r, first, T0 + 3);
    assert_int_equal(ni.state, ZT_NODE_EXPIRED);
    assert_int_equal(ni.timed_out, 1);
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(o.s, j1, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_QUEUED);
    assert_true(zt_sched_job_servable(o.s, j1, T0 + 3)); /* the second worker serves the model */
    /* the finished rows come from the store, the active ones from memory */
    finish(&o, j2, wid(second), T0 + 4);
    struct zt_sched_event ev[8];
    size_t n;
    assert_int_equal(zt_sched_pump(o.s, T0 + 5, ev, 8, &n), 0);
    assert_int_equal(ev[n - 1].kind, ZT_SCHED_EV_ASSIGNED);
    assert_string_equal(ev[n - 1].worker, wid(second));
    struct zt_job_info list[4];
    assert_int_equal(zt_sched_job_list(o.s, list, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].job_id, j2);
    assert_int_equal(list[0].state, ZT_JOB_STATE_DONE);
    assert_string_equal(list[1].job_id, j1);
    assert_int_equal(list[1].state, ZT_JOB_STATE_ASSIGNED);
    assert_int_equal(list[1].attempts, 2);
    assert_int_equal(zt_sched_job_list(o.s, list, 1, &n), 0);
    assert_int_equal(n, 1);

    /* the node list: both, in join order, with keys and models */
    struct zt_node_info nodes[4];
    assert_int_equal(zt_registry_list(o.r, false, T0 + 6, nodes, 4), 2);
    assert_int_equal(zt_registry_list(o.r, true, T0 + 6, nodes, 4), 1);
    assert_string_equal(nodes[0].node_id, wid(second));
    assert_string_equal(nodes[0].models, "tiny-chat");
    assert_memory_equal(nodes[0].ed25519_pk, zt_identity_sign_pk(second->id), ZT_ED25519_PK_LEN);

    /* the second worker leaves: the queued job can go nowhere */
    assert_int_equal(zt_sched_job_started(o.s, j1, wid(second), T0 + 7), 0);
    assert_int_equal(zt_sched_job_finished(o.s, j1, wid(second), ZT_SCHED_ERROR, 0, T0 + 8, NULL), 0);
    assert_int_equal(do_leave(o.r, second, T0 + 9), 0);
    assert_false(zt_sched_job_servable(o.s, j1, T0 + 9));
    assert_false(zt_sched_job_servable(o.s, "nosuchjob", T0 + 9));
    close_two(&o, &a, &b);
}

/* Close and reopen: queued jobs stay queued (in order); a running job
 * whose worker heartbeats within the window keeps it; an assigned job
 * whose worker does not come back is requeued. */
static void test_resume(void **state)
{
    (void)state;
    struct orch o;
    orch_open(&o, NULL, T0);
    struct worker a, b;
    two_workers(&o, &a, &b, 1);
    struct zt_sched_result res;
    char ja[ZT_JOB_ID_SIZE], jb[ZT_JOB_ID_SIZE], q1[ZT_JOB_ID_SIZE], q2[ZT_JOB_ID_SIZE];
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0, &res), 0);
    zt_strlcpy(res.worker[0] && strcmp(res.worker, wid(&a)) == 0 ? ja : jb, res.job_id, ZT_JOB_ID_SIZE);
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0, &res), 0);
    zt_strlcpy(strcmp(res.worker, wid(&a)) == 0 ? ja : jb, res.job_id, ZT_JOB_ID_SIZE);
    assert_int_equal(zt_sched_job_started(o.s, ja, wid(&a), T0 + 1), 0);
    assert_int_equal(submit(&o, req("v", "tiny-chat", 10, 10), T0 + 2, &res), 0);
    assert_int_equal(res.state, ZT_JOB_STATE_QUEUED);
    zt_strlcpy(q1, res.job_id, sizeof q1);
    assert_int_equal(submit(&o, req("v", "tiny-chat", 10, 10), T0 + 3, &res), 0);
    zt_strlcpy(q2, res.job_id, sizeof q2);
    orch_close(&o);

    int64_t t = T0 + 5000;
    orch_open(&o, NULL, t);
    assert_int_equal(zt_sched_queued(o.s), 2);
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(o.s, ja, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_RUNNING);
    assert_int_equal(zt_sched_job_get(o.s, jb, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_ASSIGNED);
    assert_int_equal(node_info(o.r, &a, t).inflight, 1);
    /* a comes back, b does not */
    assert_int_equal(do_hb(o.r, &a, t + 20000, 1), 0);
    struct zt_sched_event ev[8];
    size_t n;
    assert_int_equal(zt_sched_pump(o.s, t + 30000, ev, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ZT_SCHED_EV_REQUEUED);
    assert_string_equal(ev[0].job_id, jb);
    assert_int_equal(zt_sched_job_get(o.s, jb, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_QUEUED);
    assert_string_equal(ji.reason, "worker_lost");
    /* a finishes its job; v's and u's queues take turns (DRR; v was
     * resumed first): q1, then the requeued jb, then q2 */
    assert_int_equal(zt_sched_job_finished(o.s, ja, wid(&a), ZT_SCHED_OK, 10, t + 30001, NULL), 0); /* already running */
    assert_int_equal(do_hb(o.r, &a, t + 30002, 0), 0);
    const char *expect[] = {q1, jb, q2};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(zt_sched_pump(o.s, t + 30003 + i * 10, ev, 8, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(ev[0].job_id, expect[i]);
        finish(&o, ev[0].job_id, wid(&a), t + 30004 + i * 10);
    }
    assert_int_equal(zt_sched_queued(o.s), 0);
    close_two(&o, &a, &b);
}

/* A completed job's done and its worker's completed count commit together
 * (one transaction): after a reopen both are there; a job whose row was
 * moved by someone else is not done and counts nothing. */
static void test_done_with_count(void **state)
{
    (void)state;
    struct orch o;
    orch_open(&o, NULL, T0);
    struct worker a, b;
    two_workers(&o, &a, &b, 2);
    struct zt_sched_result r1, r2;
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0, &r1), 0);
    assert_int_equal(submit(&o, req("u", "tiny-chat", 10, 10), T0, &r2), 0);
    assert_int_equal(zt_sched_job_started(o.s, r1.job_id, r1.worker, T0 + 1), 0);
    assert_int_equal(zt_sched_job_started(o.s, r2.job_id, r2.worker, T0 + 1), 0);
    enum zt_job_state js;
    assert_int_equal(zt_sched_job_finished(o.s, r1.job_id, r1.worker, ZT_SCHED_OK, 7, T0 + 2, &js), 0);
    assert_int_equal(js, ZT_JOB_STATE_DONE);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE sched_jobs SET orch = 'elsewhere' WHERE job_id = '%s'", r2.job_id);
    assert_int_equal(zt_store_exec(o.st, sql), 0);
    struct zt_node_info before;
    assert_int_equal(zt_registry_get(o.r, r2.worker, T0 + 3, &before), 0);
    assert_int_not_equal(zt_sched_job_finished(o.s, r2.job_id, r2.worker, ZT_SCHED_OK, 7, T0 + 3, &js), 0);
    struct zt_node_info ni;
    assert_int_equal(zt_registry_get(o.r, r2.worker, T0 + 3, &ni), 0);
    assert_int_equal(ni.completed, before.completed);
    char w1[ZT_IDENTITY_ID_SIZE];
    zt_strlcpy(w1, r1.worker, sizeof w1);
    orch_close(&o);

    orch_open(&o, NULL, T0 + 10);
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(o.s, r1.job_id, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_DONE);
    assert_int_equal(ji.tokens, 7);
    assert_int_equal(zt_registry_get(o.r, w1, T0 + 10, &ni), 0);
    assert_int_equal(ni.completed, 1); /* r1's, whichever worker ran r2 */
    close_two(&o, &a, &b);
}

/* Threads: four clients submit, start and finish jobs at once while a
 * fifth thread heartbeats and pumps; every job ends done, no slot leaks. */
struct thr {
    struct orch *o;
    struct worker *w; /* the heartbeat thread's workers */
    int idx;
    int done;
};
static atomic_int_fast64_t clock_ms;
static atomic_int stop_beats;

static void *client_thread(void *arg)
{
    struct thr *t = arg;
    char client[16];
    snprintf(client, sizeof client, "client-%d", t->idx);
    for (int i = 0; i < 200; i++) {
        int64_t now = atomic_fetch_add(&clock_ms, 1);
        struct zt_job_req q = req(client, "tiny-chat", 10, 10);
        struct zt_sched_result res;
        if (zt_sched_submit(t->o->s, &q, now, &res) != 0 || res.state != ZT_JOB_STATE_ASSIGNED) continue;
        if (zt_sched_job_started(t->o->s, res.job_id, res.worker, now) != 0) continue;
        enum zt_job_state js;
        if (zt_sched_job_finished(t->o->s, res.job_id, res.worker, ZT_SCHED_OK, 10, now + 1, &js) == 0 &&
            js == ZT_JOB_STATE_DONE)
            t->done++;
    }
    return NULL;
}

static void *beat_thread(void *arg)
{
    struct thr *t = arg;
    while (!atomic_load(&stop_beats)) {
        int64_t now = atomic_load(&clock_ms);
        for (int k = 0; k < 2; k++) {
            char *rec = hb_rec(&t->w[k], now, 0);
            if (zt_registry_heartbeat(t->o->r, rec, strlen(rec), now) != 0) t->done++; /* counts failures */
            zt_free(rec);
        }
        struct zt_sched_event ev[8];
        size_t n;
        if (zt_sched_pump(t->o->s, now, ev, 8, &n) != 0) t->done++;
        struct zt_node_info ni;
        if (zt_registry_get(t->o->r, zt_identity_id(t->w[0].id), now, &ni) != 0) t->done++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct orch o;
    orch_open(&o, NULL, T0);
    struct worker w[2];
    two_workers(&o, &w[0], &w[1], 8);
    atomic_store(&clock_ms, T0 + 1);
    atomic_store(&stop_beats, 0);
    pthread_t th[5];
    struct thr t[5];
    for (int i = 0; i < 5; i++) {
        t[i] = (struct thr){.o = &o, .w = w, .idx = i};
        assert_int_equal(pthread_create(&th[i], NULL, i == 4 ? beat_thread : client_thread, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    atomic_store(&stop_beats, 1);
    assert_int_equal(pthread_join(th[4], NULL), 0);
    int done = 0;
    for (int i = 0; i < 4; i++) done += t[i].done;
    assert_int_equal(done, 800);
    assert_int_equal(t[4].done, 0); /* no heartbeat, pump or lookup failed */
    int64_t now = atomic_load(&clock_ms);
    struct zt_node_info a = node_info(o.r, &w[0], now), b = node_info(o.r, &w[1], now);
    assert_int_equal(a.inflight + b.inflight, 0);
    assert_int_equal(a.completed + b.completed, 800);
    assert_int_equal(zt_sched_queued(o.s), 0);
    close_two(&o, &w[0], &w[1]);
}

/* Orchestrators a (the test's usual id; its options in *ra) and b (id
 * idb) on one store, syncing their registries every second. */
static void open_pair(struct orch *a, struct orch *b, struct zt_registry_opts *ra, const struct zt_identity *idb)
{
    struct zt_registry_opts rb = reg_opts();
    *ra = reg_opts();
    ra->sync_ms = rb.sync_ms = 1000;
    rb.self_id = zt_identity_id(idb);
    a->st = store_open();
    b->st = store_open();
    assert_int_equal(zt_registry_open(a->st, ra, T0, &a->r), 0);
    assert_int_equal(zt_registry_open(b->st, &rb, T0, &b->r), 0);
    assert_int_equal(zt_sched_open(a->r, NULL, T0, &a->s), 0);
    assert_int_equal(zt_sched_open(b->r, NULL, T0, &b->s), 0);
}

/* open_pair, and worker w (one slot) joined at a and known to b. */
static void pair_worker(struct orch *a, struct orch *b, struct zt_registry_opts *ra, const struct zt_identity *idb,
                        struct worker *w)
{
    open_pair(a, b, ra, idb);
    worker_init(w, M1, 1, 1, 100);
    assert_int_equal(do_join(a->r, w, T0), 0);
    assert_true(zt_registry_sync(b->r, T0) >= 1);
}

/* Two orchestrators on one PostgreSQL and one Redis stream: each job A
 * accepts is pending at A from its first moment; while A renews, B claims
 * none; once A stops renewing (dead or stalled), B claims A's four jobs
 * past the claim window and ends each exactly once (failed,
 * orchestrator_lost), leaves its own job alone; the stalled A that wakes
 * up cannot move those rows any more, and a restarted A resumes none. */
static void test_shared_queue(void **state)
{
    (void)state;
    char url[256];
    if (!zt_test_redis_start(url, sizeof url)) zt_skip("%s", url);
    struct zt_identity *idb = NULL;
    assert_int_equal(zt_identity_generate(&idb), 0);
    char stream[64];
    snprintf(stream, sizeof stream, "zt-test-shared-%u", (unsigned)randombytes_random());
    struct orch a = {0}, b = {0};
    struct zt_registry_opts ra;
    open_pair(&a, &b, &ra, idb);
    struct zt_queue *qa = NULL, *qb = NULL;
    struct zt_queue_opts qo = {.backend = "redis", .url = url, .stream = stream, .claim_idle_ms = 300};
    qo.consumer = zt_identity_id(orch_id);
    assert_int_equal(zt_queue_open(&qo, &qa), 0);
    qo.consumer = zt_identity_id(idb);
    assert_int_equal(zt_queue_open(&qo, &qb), 0);
    zt_sched_set_queue(a.s, qa);
    zt_sched_set_queue(b.s, qb);

    struct worker w;
    worker_init(&w, M1, 1, 1, 100);
    assert_int_equal(do_join(a.r, &w, T0), 0);
    assert_true(zt_registry_sync(b.r, T0) >= 1);
    struct zt_sched_result res[5];
    for (int i = 0; i < 4; i++) assert_int_equal(submit(&a, req("c", "tiny-chat", 10, 10), T0 + 1, &res[i]), 0);
    assert_int_equal(res[0].state, ZT_JOB_STATE_ASSIGNED);
    assert_int_equal(res[1].state, ZT_JOB_STATE_QUEUED);
    assert_int_equal(zt_sched_job_started(a.s, res[0].job_id, wid(&w), T0 + 2), 0);
    assert_int_equal(submit(&b, req("d", "tiny-chat", 10, 10), T0 + 3, &res[4]), 0);
    size_t entries = 0, pending = 0;
    assert_int_equal(zt_queue_depth(qa, &entries, &pending), 0);
    assert_int_equal(entries, 5);
    assert_int_equal(pending, 5);

    struct zt_sched_event ev[16];
    size_t n;
    /* A alive: it renews, B claims nothing */
    for (int round = 0; round < 3; round++) {
        usleep(150 * 1000);
        assert_int_equal(zt_sched_pump(a.s, T0 + 1000 + round * 2000, ev, 16, &n), 0);
        assert_int_equal(zt_sched_pump(b.s, T0 + 1000 + round * 2000, ev, 16, &n), 0);
    }
    assert_int_equal(zt_sched_adopted(b.s), 0);

    /* A stalls (no more renewals, nothing acknowledged) */
    usleep(450 * 1000);
    assert_int_equal(zt_sched_pump(b.s, T0 + 10000, ev, 16, &n), 0);
    assert_int_equal(zt_sched_adopted(b.s), 4);
    /* A wakes up and reports its running job done: the row is B's now,
     * the move is refused and the row stays as B ended it */
    assert_int_equal(zt_sched_job_finished(a.s, res[0].job_id, wid(&w), ZT_SCHED_OK, 5, T0 + 10001, NULL),
                     ZT_EINVAL);
    zt_sched_free(a.s);
    zt_registry_free(a.r);
    zt_store_close(a.st);
    zt_queue_free(qa);
    for (int i = 0; i < 4; i++) {
        struct zt_job_info ji;
        assert_int_equal(zt_sched_job_get(b.s, res[i].job_id, &ji), 0);
        assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
        assert_string_equal(ji.reason, "orchestrator_lost");
    }
    struct zt_job_info mine;
    assert_int_equal(zt_sched_job_get(b.s, res[4].job_id, &mine), 0);
    assert_int_not_equal(mine.state, ZT_JOB_STATE_FAILED);
    assert_int_equal(zt_queue_depth(qb, &entries, &pending), 0);
    assert_int_equal(entries, 1); /* B's own, still pending at B */
    usleep(450 * 1000);
    assert_int_equal(zt_sched_pump(b.s, T0 + 12000, ev, 16, &n), 0);
    assert_int_equal(zt_sched_adopted(b.s), 4); /* B renewed its own: not claimed from itself */
    assert_int_equal(zt_queue_depth(qb, &entries, &pending), 0);
    assert_int_equal(entries, 1);

    /* A restarts: its jobs are B's now, nothing resumes */
    a.st = store_open();
    assert_int_equal(zt_registry_open(a.st, &ra, T0 + 13000, &a.r), 0);
    assert_int_equal(zt_sched_open(a.r, NULL, T0 + 13000, &a.s), 0);
    assert_int_equal(zt_sched_queued(a.s), 0);
    assert_int_equal(zt_sched_job_started(a.s, res[0].job_id, wid(&w), T0 + 13000), ZT_ENOTFOUND);

    worker_deinit(&w);
    orch_close(&a);
    orch_close(&b);
    zt_queue_free(qb);
    zt_identity_free(idb);
}

/* Two orchestrators on one store: B continues A's jobs for the gateway
 * that submitted them (zt_sched_job_adopt), never for another gateway nor
 * a job without one; the row moves once (compare-and-set), keeps its
 * worker and attempts; A can no longer move it, and a cancel there drops
 * its stale copy. */
static void test_adopt_for_gateway(void **state)
{
    (void)state;
    struct zt_identity *idb = NULL, *g = NULL, *other = NULL;
    assert_int_equal(zt_identity_generate(&idb), 0);
    assert_int_equal(zt_identity_generate(&g), 0);
    assert_int_equal(zt_identity_generate(&other), 0);
    struct orch a = {0}, b = {0};
    struct zt_registry_opts ra;
    struct worker w;
    pair_worker(&a, &b, &ra, idb, &w);

    struct zt_sched_result res[4];
    struct zt_job_req q = req("c", "tiny-chat", 10, 10);
    q.gateway = zt_identity_id(g);
    assert_int_equal(submit(&a, q, T0 + 1, &res[0]), 0);
    assert_int_equal(submit(&a, q, T0 + 1, &res[1]), 0);
    struct zt_job_req q3 = req("e", "tiny-chat", 10, 10); /* the only job of its client */
    q3.gateway = zt_identity_id(g);
    assert_int_equal(submit(&a, q3, T0 + 1, &res[3]), 0);
    assert_int_equal(res[3].state, ZT_JOB_STATE_QUEUED);
    assert_int_equal(submit(&a, req("c", "tiny-chat", 10, 10), T0 + 1, &res[2]), 0); /* no gateway */
    assert_int_equal(res[0].state, ZT_JOB_STATE_ASSIGNED);
    assert_int_equal(res[1].state, ZT_JOB_STATE_QUEUED);
    assert_int_equal(zt_sched_job_started(a.s, res[0].job_id, wid(&w), T0 + 2), 0);
    q.gateway = "not a node id";
    assert_int_equal(submit(&a, q, T0 + 1, &res[2]), ZT_EINVAL);

    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_adopt(b.s, res[0].job_id, zt_identity_id(other), T0 + 3, &ji), ZT_EPERM);
    assert_int_equal(zt_sched_job_adopt(b.s, res[2].job_id, zt_identity_id(g), T0 + 3, &ji), ZT_EPERM);
    assert_int_equal(zt_sched_job_adopt(b.s, "0123456789abcdef0123456789abcdef", zt_identity_id(g), T0 + 3, &ji),
                     ZT_ENOTFOUND);
    assert_int_equal(zt_sched_continued(b.s), 0);
    /* the running one keeps its worker and attempt; the queued one waits at B */
    assert_int_equal(zt_sched_job_adopt(b.s, res[0].job_id, zt_identity_id(g), T0 + 3, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_RUNNING);
    assert_string_equal(ji.worker, wid(&w));
    assert_int_equal(ji.attempts, 1);
    assert_string_equal(ji.gateway, zt_identity_id(g));
    assert_int_equal(zt_sched_job_adopt(b.s, res[1].job_id, zt_identity_id(g), T0 + 3, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_QUEUED);
    assert_int_equal(zt_sched_job_adopt(b.s, res[3].job_id, zt_identity_id(g), T0 + 3, &ji), 0);
    assert_int_equal(zt_sched_continued(b.s), 3);
    /* again: here already, nothing moves */
    assert_int_equal(zt_sched_job_adopt(b.s, res[0].job_id, zt_identity_id(g), T0 + 4, &ji), 0);
    assert_int_equal(zt_sched_job_adopt(b.s, res[0].job_id, zt_identity_id(other), T0 + 4, &ji), ZT_EPERM);
    assert_int_equal(zt_sched_continued(b.s), 3);
    /* A cannot move them any more */
    assert_int_equal(zt_sched_job_finished(a.s, res[0].job_id, wid(&w), ZT_SCHED_OK, 5, T0 + 5, NULL), ZT_EINVAL);
    assert_int_equal(zt_sched_job_cancel(a.s, res[1].job_id, T0 + 5), ZT_EINVAL);
    assert_false(zt_sched_job_servable(a.s, res[1].job_id, T0 + 5)); /* its stale copy left A */
    /* a free slot at A: its placement of the taken job fails and drops it
     * (its client, whose only job it was, with it); its own job (the one
     * without a gateway) is placed */
    struct worker w2;
    worker_init(&w2, M1, 2, 2, 100);
    assert_int_equal(do_join(a.r, &w2, T0 + 5), 0);
    struct zt_sched_event aev[8];
    size_t an;
    assert_int_equal(zt_sched_pump(a.s, T0 + 5, aev, 8, &an), 0);
    assert_int_equal(an, 1);
    assert_string_equal(aev[0].job_id, res[2].job_id);
    assert_false(zt_sched_job_servable(a.s, res[3].job_id, T0 + 5));
    assert_int_equal(zt_sched_queued(a.s), 0);
    /* B: the worker's slot is taken by the running job until it is done */
    struct zt_sched_event ev[8];
    size_t n;
    assert_int_equal(zt_sched_pump(b.s, T0 + 6, ev, 8, &n), 0);
    assert_int_equal(n, 0);
    enum zt_job_state st;
    assert_int_equal(zt_sched_job_finished(b.s, res[0].job_id, wid(&w), ZT_SCHED_OK, 5, T0 + 7, &st), 0);
    assert_int_equal(st, ZT_JOB_STATE_DONE);
    assert_int_equal(zt_sched_pump(b.s, T0 + 8, ev, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, ZT_SCHED_EV_ASSIGNED);
    assert_true(zt_str_eq(ev[0].job_id, res[1].job_id) || zt_str_eq(ev[0].job_id, res[3].job_id));
    /* done here: taking it again moves nothing; a failed one has ended */
    assert_int_equal(zt_sched_job_adopt(b.s, res[0].job_id, zt_identity_id(g), T0 + 9, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_DONE);
    assert_int_equal(zt_sched_job_cancel(b.s, res[1].job_id, T0 + 9), 0);
    assert_int_equal(zt_sched_job_adopt(a.s, res[1].job_id, zt_identity_id(g), T0 + 9, &ji), ZT_EEXIST);
    assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    assert_int_equal(zt_sched_continued(b.s), 3);

    worker_deinit(&w);
    worker_deinit(&w2);
    orch_close(&a);
    orch_close(&b);
    zt_identity_free(idb);
    zt_identity_free(g);
    zt_identity_free(other);
}

/* The old owner alive after a takeover: its started and finished reports
 * are refused (the row is not its own) and its stale copy leaves, with
 * the worker's slot there: its next job is placed on that worker. */
static void test_taken_frees_slot(void **state)
{
    (void)state;
    struct zt_identity *idb = NULL, *g = NULL;
    assert_int_equal(zt_identity_generate(&idb), 0);
    assert_int_equal(zt_identity_generate(&g), 0);
    struct orch a = {0}, b = {0};
    struct zt_registry_opts ra;
    struct worker w;
    pair_worker(&a, &b, &ra, idb, &w);
    struct zt_job_req q = req("c", "tiny-chat", 10, 10);
    q.gateway = zt_identity_id(g);
    struct zt_sched_result res[3];
    struct zt_job_info ji;
    /* assigned at A, taken by B: A's started report drops it */
    assert_int_equal(submit(&a, q, T0 + 1, &res[0]), 0);
    assert_int_equal(res[0].state, ZT_JOB_STATE_ASSIGNED);
    assert_int_equal(zt_sched_job_adopt(b.s, res[0].job_id, zt_identity_id(g), T0 + 2, &ji), 0);
    assert_int_equal(zt_sched_job_started(a.s, res[0].job_id, wid(&w), T0 + 3), ZT_EINVAL);
    assert_false(zt_sched_job_servable(a.s, res[0].job_id, T0 + 3));
    /* the slot is free at A: its next job runs there, then is taken; A's
     * finished report drops it */
    assert_int_equal(submit(&a, q, T0 + 4, &res[1]), 0);
    assert_int_equal(res[1].state, ZT_JOB_STATE_ASSIGNED);
    assert_int_equal(zt_sched_job_started(a.s, res[1].job_id, wid(&w), T0 + 5), 0);
    assert_int_equal(zt_sched_job_adopt(b.s, res[1].job_id, zt_identity_id(g), T0 + 6, &ji), 0);
    assert_int_equal(zt_sched_job_finished(a.s, res[1].job_id, wid(&w), ZT_SCHED_OK, 5, T0 + 7, NULL), ZT_EINVAL);
    assert_false(zt_sched_job_servable(a.s, res[1].job_id, T0 + 7));
    assert_int_equal(submit(&a, q, T0 + 8, &res[2]), 0);
    assert_int_equal(res[2].state, ZT_JOB_STATE_ASSIGNED);
    /* B runs the two it took */
    assert_int_equal(zt_sched_job_started(b.s, res[0].job_id, wid(&w), T0 + 9), 0);
    enum zt_job_state st;
    assert_int_equal(zt_sched_job_finished(b.s, res[1].job_id, wid(&w), ZT_SCHED_OK, 5, T0 + 9, &st), 0);
    assert_int_equal(st, ZT_JOB_STATE_DONE);

    worker_deinit(&w);
    orch_close(&a);
    orch_close(&b);
    zt_identity_free(idb);
    zt_identity_free(g);
}

/* Three orchestrators on one PostgreSQL and one Redis stream (claim
 * window 300 ms): a (the test's usual id), b and c, each with its queue;
 * one worker joined at a and known to all three; g: a gateway. */
struct trio {
    struct orch o[3];
    struct zt_queue *q[3];
    struct zt_identity *idb, *idc, *g;
    struct worker w;
    char url[256], stream[64]; /* the Redis and stream they share */
};

static bool trio_open(struct trio *t)
{
    char url[256];
    if (!zt_test_redis_start(url, sizeof url)) {
        zt_skip("%s", url);
        return false;
    }
    memset(t, 0, sizeof *t);
    zt_strlcpy(t->url, url, sizeof t->url);
    assert_int_equal(zt_identity_generate(&t->idb), 0);
    assert_int_equal(zt_identity_generate(&t->idc), 0);
    assert_int_equal(zt_identity_generate(&t->g), 0);
    struct zt_registry_opts ra, rc = reg_opts();
    rc.sync_ms = 1000;
    rc.self_id = zt_identity_id(t->idc);
    t->o[2].st = store_open();
    assert_int_equal(zt_registry_open(t->o[2].st, &rc, T0, &t->o[2].r), 0);
    assert_int_equal(zt_sched_open(t->o[2].r, NULL, T0, &t->o[2].s), 0);
    pair_worker(&t->o[0], &t->o[1], &ra, t->idb, &t->w); /* c learns of w by its sync */
    char stream[64];
    snprintf(stream, sizeof stream, "zt-test-trio-%u", (unsigned)randombytes_random());
    zt_strlcpy(t->stream, stream, sizeof t->stream);
    const char *ids[3] = {zt_identity_id(orch_id), zt_identity_id(t->idb), zt_identity_id(t->idc)};
    for (int i = 0; i < 3; i++) {
        struct zt_queue_opts qo = {.backend = "redis", .url = url, .stream = stream, .claim_idle_ms = 300};
        qo.consumer = ids[i];
        assert_int_equal(zt_queue_open(&qo, &t->q[i]), 0);
        zt_sched_set_queue(t->o[i].s, t->q[i]);
    }
    assert_true(zt_registry_sync(t->o[2].r, T0) >= 1);
    return true;
}

static void trio_close(struct trio *t)
{
    worker_deinit(&t->w);
    for (int i = 0; i < 3; i++) {
        orch_close(&t->o[i]);
        zt_queue_free(t->q[i]);
    }
    zt_identity_free(t->idb);
    zt_identity_free(t->idc);
    zt_identity_free(t->g);
}

/* A job of the gateway submitted at a, running, taken over by live b. */
static void trio_job_at_b(struct trio *t, struct zt_sched_result *res)
{
    struct zt_job_req q = req("c", "tiny-chat", 10, 10);
    q.gateway = zt_identity_id(t->g);
    assert_int_equal(submit(&t->o[0], q, T0 + 1, res), 0);
    assert_int_equal(res->state, ZT_JOB_STATE_ASSIGNED);
    assert_int_equal(zt_sched_job_started(t->o[0].s, res->job_id, wid(&t->w), T0 + 2), 0);
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_adopt(t->o[1].s, res->job_id, zt_identity_id(t->g), T0 + 3, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_RUNNING);
}

/* A's gateway fails over to live B, which takes the job over; A goes
 * silent; C claims A's stale entry past the claim window and must leave
 * the job with B (the row is not A's any more): C acknowledges the entry,
 * and B finishes the job. */
static void test_claim_after_takeover(void **state)
{
    (void)state;
    struct trio t;
    if (!trio_open(&t)) return;
    struct zt_sched_result res;
    trio_job_at_b(&t, &res);
    /* B stays alive (renews) without claiming (its next claim round is a
     * second away); C claims A's entry */
    struct zt_sched_event ev[8];
    size_t n;
    assert_int_equal(zt_sched_pump(t.o[1].s, T0 + 4, ev, 8, &n), 0);
    usleep(450 * 1000);
    assert_int_equal(zt_sched_pump(t.o[1].s, T0 + 500, ev, 8, &n), 0);
    assert_int_equal(zt_sched_pump(t.o[2].s, T0 + 500, ev, 8, &n), 0);
    assert_int_equal(zt_sched_continued(t.o[2].s), 0);
    assert_int_equal(zt_sched_adopted(t.o[2].s), 0);
    assert_false(zt_sched_job_servable(t.o[2].s, res.job_id, T0 + 500));
    /* the job stays B's: B finishes it */
    enum zt_job_state st;
    assert_int_equal(zt_sched_job_finished(t.o[1].s, res.job_id, wid(&t.w), ZT_SCHED_OK, 5, T0 + 600, &st), 0);
    assert_int_equal(st, ZT_JOB_STATE_DONE);
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(t.o[1].s, res.job_id, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_DONE);
    trio_close(&t);
}

/* B takes A's job over while A is alive: A's stale copy leaves (its
 * cancel drops it and acknowledges A's entry), B's own entry covers the
 * job; B then goes silent and C claims B's entry and continues the job. */
static void test_takeover_has_entry(void **state)
{
    (void)state;
    struct trio t;
    if (!trio_open(&t)) return;
    struct zt_sched_result res;
    trio_job_at_b(&t, &res);
    assert_int_equal(zt_sched_job_cancel(t.o[0].s, res.job_id, T0 + 4), ZT_EINVAL);
    size_t entries = 0, pending = 0;
    assert_int_equal(zt_queue_depth(t.q[2], &entries, &pending), 0);
    assert_int_equal(entries, 1); /* B's */
    usleep(450 * 1000);
    struct zt_sched_event ev[8];
    size_t n;
    assert_int_equal(zt_sched_pump(t.o[2].s, T0 + 500, ev, 8, &n), 0);
    assert_int_equal(zt_sched_continued(t.o[2].s), 1);
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(t.o[2].s, res.job_id, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_RUNNING);
    enum zt_job_state st;
    assert_int_equal(zt_sched_job_finished(t.o[2].s, res.job_id, wid(&t.w), ZT_SCHED_OK, 5, T0 + 600, &st), 0);
    assert_int_equal(st, ZT_JOB_STATE_DONE);
    assert_int_equal(zt_queue_depth(t.q[2], &entries, &pending), 0);
    assert_int_equal(entries, 0);
    trio_close(&t);
}

/* A claim that moves a job pushes a fresh entry of its own (its body
 * naming the new owner) and acknowledges the claimed one, so the holder of
 * every entry is its body and a chain of claims needs no word from Redis
 * on whom an entry was claimed from: A goes silent, C claims A's entry and
 * continues the job; the stream then holds one entry, C's; a third
 * consumer claims that entry when C goes silent too (its XPENDING holder
 * is no orchestrator), and B, claiming it from there, still continues the
 * job, whose row is C's (before, the claimer trusted XPENDING's holder and
 * acknowledged the entry as stale: the job was lost). */
static void test_claim_chain(void **state)
{
    (void)state;
    struct trio t;
    if (!trio_open(&t)) return;
    struct zt_job_req q = req("c", "tiny-chat", 10, 10);
    q.gateway = zt_identity_id(t.g);
    struct zt_sched_result res;
    assert_int_equal(submit(&t.o[0], q, T0 + 1, &res), 0);
    assert_int_equal(zt_sched_job_started(t.o[0].s, res.job_id, wid(&t.w), T0 + 2), 0);
    usleep(450 * 1000);
    struct zt_sched_event ev[8];
    size_t n, entries = 0, pending = 0;
    assert_int_equal(zt_sched_pump(t.o[2].s, T0 + 500, ev, 8, &n), 0);
    assert_int_equal(zt_sched_continued(t.o[2].s), 1);
    assert_int_equal(zt_queue_depth(t.q[2], &entries, &pending), 0);
    assert_int_equal(entries, 1);
    /* the one entry is C's own */
    struct zt_queue_opts po = {
        .backend = "redis", .url = t.url, .stream = t.stream, .claim_idle_ms = 300, .consumer = "probe"};
    struct zt_queue *probe = NULL;
    assert_int_equal(zt_queue_open(&po, &probe), 0);
    usleep(450 * 1000);
    struct zt_queue_msg m;
    memset(&m, 0, sizeof m);
    assert_int_equal(zt_queue_take(probe, 0, &m), 0);
    assert_string_equal(m.job_id, res.job_id);
    assert_int_equal(m.len, strlen(zt_identity_id(t.idc)));
    assert_memory_equal(m.body, zt_identity_id(t.idc), m.len);
    zt_queue_msg_clear(&m);
    /* B claims it from the probe: the row is C's, as the body says */
    usleep(450 * 1000);
    assert_int_equal(zt_sched_pump(t.o[1].s, T0 + 1000, ev, 8, &n), 0);
    assert_int_equal(zt_sched_continued(t.o[1].s), 1);
    enum zt_job_state st;
    assert_int_equal(zt_sched_job_finished(t.o[1].s, res.job_id, wid(&t.w), ZT_SCHED_OK, 5, T0 + 1100, &st), 0);
    assert_int_equal(st, ZT_JOB_STATE_DONE);
    assert_int_equal(zt_queue_depth(t.q[1], &entries, &pending), 0);
    assert_int_equal(entries, 0);
    zt_queue_free(probe);
    trio_close(&t);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, orch_setup, orch_teardown)
    const struct CMUnitTest tests[] = {
        T(test_transitions), T(test_placement), T(test_score),  T(test_score_price), T(test_fair_queueing),
        T(test_bounded_queue), T(test_requeue), T(test_drop_list_servable), T(test_resume), T(test_threads),
        T(test_done_with_count),
    };
    int failures = cmocka_run_group_tests_name("sched_sqlite", tests, NULL, NULL);
    /* the same on a real PostgreSQL */
#define P(f) cmocka_unit_test_setup_teardown(f, orch_setup_pg, orch_teardown)
    const struct CMUnitTest pg_tests[] = {
        P(test_transitions),   P(test_placement), P(test_score),  P(test_fair_queueing),
        P(test_bounded_queue), P(test_requeue),   P(test_resume), P(test_threads),
        P(test_shared_queue),  P(test_adopt_for_gateway), P(test_claim_after_takeover),
        P(test_takeover_has_entry), P(test_taken_frees_slot), P(test_claim_chain), P(test_done_with_count),
    };
    failures += zt_test_pg_run("sched_postgres", pg_tests);
    return zt_test_exit(failures);
}
