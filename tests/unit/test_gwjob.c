/* test_gwjob.c: the gateway's remote-job runner (zt_gwjob.h) without HTTP:
 * its decisions (how an outcome is answered, when a failed attempt may go
 * to another worker, the rate a job is settled at), and scheduled jobs run
 * on its pool against a stand-in scheduler (struct zt_gw_place) and a
 * recording sink (struct zt_gw_sink) and hooks (struct zt_gw_hooks, the
 * webhooks): a job the scheduler fails, a client that closes while its
 * job waits for a worker, and a worker that cannot be started, which is
 * charged before the job gives up; the way to a started job
 * (zt_gw_job_launch): its refusals, the pool slot it holds and gives back,
 * and the static peer a scheduled job falls back to. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "zt_test.h"
#include <jansson.h>

#include "zentalk/zt_config.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_gwjob.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

/* ---- decisions ------------------------------------------------------------------- */

static void test_outcome_answer(void **state)
{
    (void)state;
    char msg[512];
    struct zt_gw_verdict v;
    struct zt_job_outcome o;
    memset(&o, 0, sizeof o);

    o.status = ZT_JOB_VERIFIED;
    zt_gw_outcome_answer(&o, NULL, 0, "zt1w", NULL, false, msg, sizeof msg, &v);
    assert_int_equal(v.status, 200);
    assert_string_equal(v.code, "");
    assert_string_equal(v.outcome, "ok");

    o.status = ZT_JOB_UNVERIFIED;
    o.rc = ZT_ETOOBIG;
    zt_gw_outcome_answer(&o, NULL, 0, "zt1w", NULL, false, msg, sizeof msg, &v);
    assert_int_equal(v.status, 502);
    assert_string_equal(v.code, "unverified_result");
    assert_non_null(strstr(msg, "too large"));

    /* the worker's own 400/413/503 pass through with its code and message */
    const char *err = "{\"error\":{\"code\":\"context_too_long\",\"message\":\"the prompt is too long\"}}";
    o = (struct zt_job_outcome){.status = ZT_JOB_REFUSED, .http_status = 400};
    zt_gw_outcome_answer(&o, err, strlen(err), "zt1w", NULL, false, msg, sizeof msg, &v);
    assert_int_equal(v.status, 400);
    assert_string_equal(v.code, "context_too_long");
    assert_string_equal(msg, "the prompt is too long (worker zt1w)");
    assert_string_equal(v.outcome, "refused");
    /* anything else it refuses with is a 502 naming its status */
    o.http_status = 403;
    zt_gw_outcome_answer(&o, err, strlen(err), "zt1w", NULL, false, msg, sizeof msg, &v);
    assert_int_equal(v.status, 502);
    assert_string_equal(v.code, "worker_refused");
    assert_non_null(strstr(msg, "HTTP 403 context_too_long"));
    /* a 503 without a JSON error body */
    o.http_status = 503;
    zt_gw_outcome_answer(&o, "busy", 4, "zt1w", NULL, false, msg, sizeof msg, &v);
    assert_int_equal(v.status, 502);
    assert_string_equal(v.code, "worker_refused");

    o = (struct zt_job_outcome){.status = ZT_JOB_TIMEOUT};
    zt_gw_outcome_answer(&o, NULL, 0, "zt1w", NULL, false, msg, sizeof msg, &v);
    assert_int_equal(v.status, 504);
    assert_string_equal(v.outcome, "timeout");

    o = (struct zt_job_outcome){.status = ZT_JOB_UNREACHABLE};
    zt_gw_outcome_answer(&o, NULL, 0, "zt1w", "zt1relay", false, msg, sizeof msg, &v);
    assert_int_equal(v.status, 502);
    assert_string_equal(v.code, "worker_unreachable");
    assert_string_equal(msg, "worker zt1w via relay zt1relay could not be reached");
    o.status = ZT_JOB_CANCELLED;
    zt_gw_outcome_answer(&o, NULL, 0, "zt1w", NULL, true, msg, sizeof msg, &v);
    assert_int_equal(v.status, 503);
    assert_string_equal(v.code, "shutting_down");
    assert_string_equal(v.outcome, "shutdown");
}

static void test_worker_fault(void **state)
{
    (void)state;
    struct zt_job_outcome o = {.status = ZT_JOB_UNREACHABLE};
    assert_true(zt_gw_worker_fault(&o, false, false, false));
    assert_false(zt_gw_worker_fault(&o, true, false, false));  /* part of the answer went out */
    assert_false(zt_gw_worker_fault(&o, false, true, false));  /* the client went */
    assert_false(zt_gw_worker_fault(&o, false, false, true));  /* the node stops */
    o.status = ZT_JOB_REFUSED;
    o.http_status = 400; /* the request's fault */
    assert_false(zt_gw_worker_fault(&o, false, false, false));
    o.http_status = 413;
    assert_false(zt_gw_worker_fault(&o, false, false, false));
    o.http_status = 503; /* the worker's load */
    assert_true(zt_gw_worker_fault(&o, false, false, false));
    o.status = ZT_JOB_VERIFIED;
    assert_false(zt_gw_worker_fault(&o, false, false, false));
    o.status = ZT_JOB_CANCELLED;
    assert_false(zt_gw_worker_fault(&o, false, false, false));
    o.status = ZT_JOB_UNVERIFIED;
    assert_true(zt_gw_worker_fault(&o, false, false, false));
    o.status = ZT_JOB_TIMEOUT;
    assert_true(zt_gw_worker_fault(&o, false, false, false));
}

static void test_settle_rate(void **state)
{
    (void)state;
    struct zt_ledger_rate now = {100, 300}, then = {200, 250}, out;
    assert_false(zt_gw_settle_rate(NULL, NULL, &out)); /* chain.yaml's prices */
    assert_true(zt_gw_settle_rate(&now, NULL, &out));
    assert_true(out.prompt_per_1k == 100 && out.completion_per_1k == 300);
    assert_true(zt_gw_settle_rate(NULL, &then, &out));
    assert_true(out.prompt_per_1k == 200 && out.completion_per_1k == 250);
    /* a worker that rejoined dearer mid-job is not paid more: each the lower */
    assert_true(zt_gw_settle_rate(&now, &then, &out));
    assert_true(out.prompt_per_1k == 100 && out.completion_per_1k == 250);
}

static void test_client_key(void **state)
{
    (void)state;
    char a[64], b[64], c[64];
    zt_gw_client_key("alice", "10.0.0.1", a, sizeof a);
    zt_gw_client_key("alice", "10.0.0.2", b, sizeof b);
    zt_gw_client_key("", "10.0.0.1", c, sizeof c);
    assert_int_equal(strlen(a), 2 + 32);
    assert_memory_equal(a, "c:", 2);
    assert_string_equal(a, b);       /* the identity, not the address */
    assert_string_not_equal(a, c);   /* anonymous: the address */
    assert_null(strstr(a, "alice")); /* a pseudonym */
}

/* ---- jobs on the runner's pool ------------------------------------------------------ */

struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the scheduler */
    bool assign_at_once; /* submit answers assigned to "zt1w..." */
    bool servable;
    bool no_worker; /* submit answers ZT_ENOTFOUND */
    bool queue_full;  /* submit answers ZT_EBUSY with retry_after_s = queue_retry */
    unsigned queue_retry;
    int start_rc;
    unsigned submits, starts, failed_calls, failed_other, charged, unreachable, cancels, ends, ends_ok;
    /* the sink */
    int status;
    char code[64], msg[512], outcome[32], ended_job[ZT_GW_JOB_ID_SIZE], ended_user[32], ended_model[32],
        ended_worker[ZT_IDENTITY_ID_SIZE];
    unsigned errors, oks, texts, released, freed, ended;
};

static const char *WORKER = "zt1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static bool f_remote(void *ud) { (void)ud; return false; }

static int f_submit(void *ud, const struct zt_gw_submit *s, struct zt_gw_placed *out)
{
    struct fake *f = ud;
    assert_string_equal(s->model, "m");
    assert_memory_equal(s->client, "c:", 2);
    f->submits++;
    memset(out, 0, sizeof *out);
    if (f->no_worker) return ZT_ENOTFOUND;
    if (f->queue_full) {
        out->retry_after_s = f->queue_retry;
        return ZT_EBUSY;
    }
    zt_strlcpy(out->job_id, "00112233445566778899aabbccddeeff", sizeof out->job_id);
    if (f->assign_at_once) {
        out->assigned = true;
        zt_strlcpy(out->worker, WORKER, sizeof out->worker);
    }
    return 0;
}

static bool f_servable(void *ud, const char *job_id) { (void)job_id; return ((struct fake *)ud)->servable; }

static int f_worker(void *ud, const char *w, struct zt_gw_worker_info *out) { (void)ud, (void)w, (void)out; return ZT_ENOTFOUND; }

static int f_start(void *ud, const char *job_id, const char *worker, struct zt_gw_worker_info *out)
{
    (void)job_id, (void)worker, (void)out;
    struct fake *f = ud;
    f->starts++;
    return f->start_rc;
}

static bool f_failed(void *ud, const char *job_id, const char *worker, bool stalled, bool charge, bool unreachable)
{
    (void)job_id, (void)stalled;
    struct fake *f = ud; /* on the job's thread: recorded, asserted by the test */
    f->failed_other += strcmp(worker, WORKER) != 0;
    f->failed_calls++;
    f->charged += charge;
    f->unreachable += unreachable;
    return false; /* the scheduler fails the job: no further worker */
}

static void f_cancel(void *ud, const char *job_id) { (void)job_id; ((struct fake *)ud)->cancels++; }
static void f_kick(void *ud) { (void)ud; }
static void f_note_submit(void *ud, uint64_t ns, int rc) { (void)ud, (void)ns, (void)rc; }
static void f_note_retry(void *ud, const char *why) { (void)ud, (void)why; }

static void f_note_end(void *ud, bool done)
{
    struct fake *f = ud;
    f->ends++;
    f->ends_ok += done;
}

static void s_error(void *ud, int status, const char *code, const char *msg)
{
    struct fake *f = ud;
    f->errors++;
    f->status = status;
    zt_strlcpy(f->code, code, sizeof f->code);
    zt_strlcpy(f->msg, msg, sizeof f->msg);
}

static int s_text(void *ud, const char *t, size_t n) { (void)t, (void)n; ((struct fake *)ud)->texts++; return 0; }
static void s_ok(void *ud, const struct zt_gw_answer *a) { (void)a; ((struct fake *)ud)->oks++; }
static void s_gone(void *ud) { s_error(ud, 502, "client_gone", "gone"); }
static bool s_client_gone(void *ud) { (void)ud; return false; }

static void h_ended(void *ud, const struct zt_gw_end *e)
{
    struct fake *f = ud;
    f->ended++;
    zt_strlcpy(f->outcome, e->outcome, sizeof f->outcome);
    zt_strlcpy(f->ended_job, e->job_id ? e->job_id : "", sizeof f->ended_job);
    zt_strlcpy(f->ended_user, e->user, sizeof f->ended_user);
    zt_strlcpy(f->ended_model, e->model, sizeof f->ended_model);
    zt_strlcpy(f->ended_worker, e->worker, sizeof f->ended_worker);
}

static void s_release(void *ud)
{
    struct fake *f = ud;
    pthread_mutex_lock(&f->mu);
    f->released++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void s_free(void *ud)
{
    struct fake *f = ud;
    pthread_mutex_lock(&f->mu);
    f->freed++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

struct rig {
    struct zt_config cfg;
    struct zt_gw_runner *run;
    struct fake f;
};

static int rig_setup(void **state)
{
    static struct rig g;
    memset(&g, 0, sizeof g);
    assert_int_equal(zt_crypto_init(), 0);
    assert_int_equal(zt_config_init_defaults(&g.cfg), 0);
    g.cfg.encryption.remote_max_inflight = 4;
    g.cfg.encryption.remote_timeout_s = 30;
    struct zt_gw_runner_opts o = {.cfg = &g.cfg};
    assert_int_equal(zt_gw_runner_new(&o, &g.run), 0);
    pthread_mutex_init(&g.f.mu, NULL);
    pthread_cond_init(&g.f.cv, NULL);
    const struct zt_gw_place p = {.remote = f_remote, .submit = f_submit, .servable = f_servable, .worker = f_worker,
                                  .start = f_start, .failed = f_failed, .cancel = f_cancel, .kick = f_kick,
                                  .note_submit = f_note_submit, .note_retry = f_note_retry, .note_end = f_note_end,
                                  .ud = &g.f};
    zt_gw_runner_set_place(g.run, &p);
    const struct zt_gw_hooks h = {.ended = h_ended, .ud = &g.f};
    zt_gw_runner_set_hooks(g.run, &h);
    *state = &g;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *g = *state;
    zt_gw_runner_shutdown(g->run, 5000);
    zt_gw_runner_free(g->run);
    pthread_cond_destroy(&g->f.cv);
    pthread_mutex_destroy(&g->f.mu);
    zt_config_deinit(&g->cfg);
    return 0;
}

/* A job for model "m" (caller "alice") with the recording sink. */
static struct zt_gw_job *new_job(struct rig *g)
{
    struct zt_privacy_verdict v;
    memset(&v, 0, sizeof v);
    v.kind = ZT_PRIVACY_VERDICT_ALLOW;
    zt_strlcpy(v.feature, zt_job_kind_feature(ZT_JOB_CHAT), sizeof v.feature); /* the one text of chat_body */
    v.n = 1;
    struct zt_gw_job_params jp = {.kind = ZT_JOB_CHAT, .model = "m", .max_tokens = 8, .caller = "alice",
                                  .verdict = &v};
    struct zt_gw_job *j;
    assert_int_equal(zt_gw_job_new(g->run, &jp, &j), 0);
    const struct zt_gw_sink s = {.text = s_text, .ok = s_ok, .error = s_error, .gone = s_gone,
                                 .client_gone = s_client_gone, .release = s_release, .free = s_free, .ud = &g->f};
    zt_gw_job_set_sink(j, &s);
    return j;
}

static json_t *chat_body(void)
{
    return json_pack("{s:s,s:[{s:s,s:s}]}", "model", "m", "messages", "role", "user", "content", "hi");
}

/* A scheduled job for model "m", launched (a slot, submitted) and started
 * on the pool. */
static struct zt_gw_job *start_job(struct rig *g)
{
    struct zt_gw_job *j = new_job(g);
    json_t *body = chat_body();
    const struct zt_gw_launch l = {.body = body, .scheduled = true, .bytes = 2, .n_texts = 1};
    struct zt_gw_launched go;
    struct zt_gw_refusal err;
    assert_int_equal(zt_gw_job_launch(j, &l, &go, &err), 0);
    json_decref(body);
    assert_true(go.scheduled);
    assert_string_equal(go.job_id, "00112233445566778899aabbccddeeff");
    assert_int_equal(g->f.submits, 1);
    assert_int_equal(zt_gw_job_start(j), 0);
    return j;
}

/* Wait until *count (under f->mu) reaches n, at most 10 s. */
static void wait_count(struct fake *f, const unsigned *count, unsigned n)
{
    uint64_t until = zt_time_mono_ms() + 10000;
    pthread_mutex_lock(&f->mu);
    while (*count < n && zt_time_mono_ms() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    }
    unsigned got = *count;
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(got, n);
}

/* The job's sink freed: both references gone. */
static void wait_freed(struct fake *f, unsigned n)
{
    wait_count(f, &f->freed, n);
}

/* The scheduler fails the job while it waits: 503 no_worker, withdrawn,
 * the webhook says "failed", the connection released and freed. */
static void test_sched_failed(void **state)
{
    struct rig *g = *state;
    struct zt_gw_job *j = start_job(g);
    assert_true(zt_gw_runner_event(g->run, "00112233445566778899aabbccddeeff", false, NULL));
    assert_false(zt_gw_runner_event(g->run, "ffffffffffffffffffffffffffffffff", true, WORKER)); /* nobody's */
    wait_count(&g->f, &g->f.released, 1); /* answered */
    zt_gw_job_client_closed(j); /* the connection's reference (after its answer) */
    wait_freed(&g->f, 1);
    assert_int_equal(g->f.errors, 1);
    assert_int_equal(g->f.status, 503);
    assert_string_equal(g->f.code, "no_worker");
    assert_non_null(strstr(g->f.msg, "no worker can complete the job"));
    assert_string_equal(g->f.outcome, "failed");
    assert_string_equal(g->f.ended_job, "00112233445566778899aabbccddeeff");
    assert_string_equal(g->f.ended_user, "alice"); /* the webhook's caller and model */
    assert_string_equal(g->f.ended_model, "m");
    assert_int_equal(g->f.released, 1);
    assert_true(g->f.cancels >= 1);
    assert_int_equal(g->f.ends, 1);
    assert_int_equal(g->f.ends_ok, 0);
    assert_int_equal(g->f.oks + g->f.texts, 0);
    struct zt_gw_stats st;
    zt_gw_runner_stats(g->run, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.remote, 0);
}

/* The client closes while its job waits for a worker (one the scheduler
 * still has: servable): the wait is woken and the job ends client_gone,
 * long before the 30 s queue timeout. */
static void test_client_closes_while_waiting(void **state)
{
    struct rig *g = *state;
    g->f.servable = true;
    uint64_t t0 = zt_time_mono_ms();
    struct zt_gw_job *j = start_job(g);
    zt_time_sleep_ms(50); /* the thread waits */
    zt_gw_job_client_closed(j);
    wait_freed(&g->f, 1);
    assert_true(zt_time_mono_ms() - t0 < 20000);
    assert_int_equal(g->f.errors, 1);
    assert_string_equal(g->f.code, "client_gone");
    assert_string_equal(g->f.outcome, "client_gone");
    assert_int_equal(g->f.released, 1);
    assert_int_equal(g->f.ends, 1);
    struct zt_gw_stats st;
    zt_gw_runner_stats(g->run, &st);
    assert_int_equal(st.failed + st.remote, 0); /* a client that went counts against no worker */
}

/* The worker assigned at once cannot be started (gone from the registry):
 * it is charged as unreachable, and the scheduler, which has no other,
 * fails the job: 502 worker_unreachable. */
static void test_worker_unstartable(void **state)
{
    struct rig *g = *state;
    g->f.assign_at_once = true;
    g->f.start_rc = ZT_ENOTFOUND;
    struct zt_gw_job *j = start_job(g);
    wait_count(&g->f, &g->f.released, 1); /* answered before the connection's close */
    assert_int_equal(g->f.freed, 0);       /* the connection's reference holds it */
    zt_gw_job_client_closed(j);
    wait_freed(&g->f, 1);
    assert_int_equal(g->f.starts, 1);
    assert_int_equal(g->f.failed_calls, 1);
    assert_int_equal(g->f.failed_other, 0);
    assert_int_equal(g->f.charged, 1);
    assert_int_equal(g->f.unreachable, 1);
    /* the answer went out before the close: not client_gone */
    assert_int_equal(g->f.status, 502);
    assert_string_equal(g->f.code, "worker_unreachable");
    assert_non_null(strstr(g->f.msg, "could not be reached"));
    assert_string_equal(g->f.outcome, "unreachable");
    json_t *pc = zt_gw_runner_peer_counts(g->run);
    json_t *w = json_object_get(pc, WORKER);
    assert_non_null(w);
    assert_true(json_integer_value(json_object_get(w, "failed")) >= 1);
    assert_int_equal(json_integer_value(json_object_get(w, "ok")), 0);
    json_decref(pc);
}

/* How many pool slots are free now (taken back after counting). */
static unsigned free_slots(struct rig *g)
{
    unsigned n = 0;
    while (n < 64 && zt_gw_runner_reserve(g->run) == 0) n++;
    for (unsigned i = 0; i < n; i++) zt_gw_runner_unreserve(g->run);
    return n;
}

/* zt_gw_job_launch's refusals, each holding no slot afterwards: no texts
 * (400), every slot taken (503 with Retry-After 1), the scheduler's queue
 * full (503 with its Retry-After), no joined worker and no static peer to
 * fall back to (404). A launched job's slot is given
 * back by zt_gw_job_discard, which withdraws it from the scheduler. */
static void test_launch_refusals(void **state)
{
    struct rig *g = *state;
    assert_int_equal(free_slots(g), 4);
    json_t *body = chat_body();
    struct zt_gw_launched go;
    struct zt_gw_refusal err;

    struct zt_gw_job *j = new_job(g);
    struct zt_gw_launch l = {.body = body, .scheduled = true, .bytes = 0, .n_texts = 0};
    assert_int_not_equal(zt_gw_job_launch(j, &l, &go, &err), 0);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "invalid_request");
    assert_string_equal(err.msg, "messages must be a non-empty array of {role, content} strings");
    assert_int_equal(g->f.submits, 0);
    zt_gw_job_discard(j);
    assert_int_equal(free_slots(g), 4);

    for (int i = 0; i < 4; i++) assert_int_equal(zt_gw_runner_reserve(g->run), 0);
    j = new_job(g);
    l.bytes = 2;
    l.n_texts = 1;
    assert_int_not_equal(zt_gw_job_launch(j, &l, &go, &err), 0);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.code, "overloaded");
    assert_int_equal(err.retry_after, 1);
    assert_int_equal(g->f.submits, 0);
    zt_gw_job_discard(j);
    for (int i = 0; i < 4; i++) zt_gw_runner_unreserve(g->run);
    assert_int_equal(free_slots(g), 4);

    /* the scheduler's queue is full: 503 with the scheduler's own
     * Retry-After (route_api.c sends it as the header), 1 when it gave none */
    g->f.queue_full = true;
    for (unsigned want = 7; want != ~0u; want = want ? 0 : ~0u) {
        g->f.queue_retry = want;
        j = new_job(g);
        assert_int_not_equal(zt_gw_job_launch(j, &l, &go, &err), 0);
        assert_int_equal(err.status, 503);
        assert_string_equal(err.code, "overloaded");
        assert_non_null(strstr(err.msg, "the queue is full"));
        assert_int_equal(err.retry_after, want ? want : 1);
        assert_int_equal(free_slots(g), 4);
        zt_gw_job_discard(j);
        assert_int_equal(free_slots(g), 4);
    }
    g->f.queue_full = false;

    g->f.no_worker = true;
    j = new_job(g);
    assert_int_not_equal(zt_gw_job_launch(j, &l, &go, &err), 0);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.code, "model_not_found");
    assert_non_null(strstr(err.msg, "model 'm' is not served here, by any joined worker"));
    assert_int_equal(err.retry_after, 0);
    assert_int_equal(free_slots(g), 4);
    zt_gw_job_discard(j);
    assert_int_equal(free_slots(g), 4);

    g->f.no_worker = false;
    j = new_job(g);
    assert_int_equal(zt_gw_job_launch(j, &l, &go, &err), 0);
    assert_true(go.scheduled);
    assert_int_equal(free_slots(g), 3); /* the job's */
    unsigned cancels = g->f.cancels;
    zt_gw_job_discard(j);
    assert_int_equal(free_slots(g), 4);
    assert_int_equal(g->f.cancels, cancels + 1); /* withdrawn */
    assert_int_equal(g->f.freed, 6); /* every job made here freed */
    json_decref(body);
}

/* A scheduled job that no joined worker serves goes to the static peer the
 * router named: sealed to it (not submitted), a static job once started,
 * which ends on that peer (here unreachable: nothing listens on port 1),
 * not a scheduled job waiting for a worker that never comes. */
static void test_launch_static_fallback(void **state)
{
    struct rig *g = *state;
    g->f.no_worker = true;
    g->cfg.encryption.remote_timeout_s = 5;
    struct zt_peer peer;
    memset(&peer, 0, sizeof peer);
    zt_strlcpy(peer.node_id, WORKER, sizeof peer.node_id);
    for (size_t i = 0; i < sizeof peer.kem_pk; i++) peer.kem_pk[i] = (uint8_t)(i + 9);
    for (size_t i = 0; i < sizeof peer.ed25519_pk; i++) peer.ed25519_pk[i] = (uint8_t)(i + 1);
    zt_strlcpy(peer.endpoint, "http://127.0.0.1:1", sizeof peer.endpoint);
    struct zt_identity *id;
    assert_int_equal(zt_identity_generate(&id), 0); /* signs the sealed job */
    zt_gw_runner_set_identity(g->run, id);
    json_t *body = chat_body();
    struct zt_gw_job *j = new_job(g);
    const struct zt_gw_launch l = {.body = body, .scheduled = true, .peer = &peer,
                                   .now = zt_time_real_ms() / 1000, .bytes = 2, .n_texts = 1};
    struct zt_gw_launched go;
    struct zt_gw_refusal err;
    int rc = zt_gw_job_launch(j, &l, &go, &err);
    json_decref(body);
    assert_int_equal(rc, 0);
    assert_int_equal(g->f.submits, 1);
    assert_false(go.scheduled);
    assert_string_equal(go.worker, WORKER);
    assert_string_equal(go.via, "-");
    assert_int_equal(strlen(go.job_id), 32);
    assert_int_equal(free_slots(g), 3);
    assert_int_equal(zt_gw_job_start(j), 0);
    wait_count(&g->f, &g->f.released, 1);
    zt_gw_job_client_closed(j);
    wait_freed(&g->f, 1);
    assert_int_equal(g->f.ended, 1);
    assert_string_equal(g->f.ended_job, go.job_id); /* the sealed job's id: it ran as a static job */
    assert_string_equal(g->f.ended_worker, WORKER);
    assert_string_equal(g->f.outcome, "unreachable");
    assert_int_equal(g->f.starts, 0); /* the scheduler never asked to start it */
    /* the pool takes the slot back once the thread's task returns */
    uint64_t until = zt_time_mono_ms() + 10000;
    while (free_slots(g) != 4 && zt_time_mono_ms() < until) zt_time_sleep_ms(5);
    assert_int_equal(free_slots(g), 4);
    zt_gw_runner_set_identity(g->run, NULL);
    zt_identity_free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcome_answer),
        cmocka_unit_test(test_worker_fault),
        cmocka_unit_test(test_settle_rate),
        cmocka_unit_test(test_client_key),
        cmocka_unit_test_setup_teardown(test_sched_failed, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_client_closes_while_waiting, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_worker_unstartable, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_launch_refusals, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_launch_static_fallback, rig_setup, rig_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
