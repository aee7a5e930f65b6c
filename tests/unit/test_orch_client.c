/* test_orch_client.c: the gateway's orchestrator client (zt_orch_client.h)
 * against a stand-in orchestrator on loopback (its report route only).
 *
 * - test_slow_verdict_not_blocking: a verdict the orchestrator holds (as it
 *   defers one that waits for a checker's report) does not delay the next
 *   one: the second reaches the orchestrator while the first is still
 *   held (within 5 s; it takes milliseconds). With one serial sender
 *   (before) the second went only when the first was answered or its call
 *   timed out (10 s), and this fails.
 * - test_overflow_and_stopping: with every sender busy on a held verdict
 *   and ZT_ORCH_SENDS_QUEUED more queued, one more verdict is sent on the
 *   caller's thread (counted as overflow, it arrives); stopping, the
 *   client waits ZT_ORCH_DRAIN_MS for the queue, then cuts the held calls,
 *   drops what is queued (none of it reaches the orchestrator) and logs
 *   both counts (`orchestrator_reports_dropped dropped=256 cut=8`); it
 *   returns within the drain plus a margin, not after the calls' 10 s
 *   timeouts.
 * - test_busy_retried: a verdict answered 503 (the store busy) is sent
 *   again, not lost.
 * - test_bad_list: node.orchestrator values the client refuses. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_orch_client.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"

#define HELD_MAX (ZT_ORCH_SENDERS + ZT_ORCH_SENDS_QUEUED + 8)
#define SEEN_MAX 1024

/* The stand-in orchestrator: a verdict for a job named "hold-..." is held
 * (deferred, no thread kept) until the test lets it go; any other is
 * answered 200 at once. Every arrival is recorded in order. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct zt_http_server *srv;
    struct zt_http_async *held[HELD_MAX];
    size_t n_held, n_closed;
    char seen[SEEN_MAX][40];
    size_t n_seen;
} O;

static bool seen_locked(const char *job);

static void held_closed(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&O.mu);
    O.n_closed++;
    pthread_cond_broadcast(&O.cv);
    pthread_mutex_unlock(&O.mu);
}

static void o_handler(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    (void)ud;
    size_t len = 0;
    const char *b = zt_http_req_body(req, &len);
    json_t *j = json_loadb(b ? b : "", len, 0, NULL);
    const char *job = json_string_value(json_object_get(j, "job_id"));
    const char *ev = json_string_value(json_object_get(j, "event"));
    if (strcmp(zt_http_req_path(req), "/v1/orchestrator/report") != 0 || !job || !ev) {
        json_decref(j);
        zt_http_resp_error(resp, 400, "bad_request", "stand-in orchestrator");
        return;
    }
    bool hold = strncmp(job, "hold-", 5) == 0;
    pthread_mutex_lock(&O.mu);
    /* "busy-...": answered 503 (the store busy) the first time it comes */
    bool busy = strncmp(job, "busy-", 5) == 0 && !seen_locked(job);
    if (O.n_seen < SEEN_MAX) zt_strlcpy(O.seen[O.n_seen++], job, sizeof O.seen[0]);
    struct zt_http_async *a = NULL;
    if (hold && O.n_held < HELD_MAX && (a = zt_http_req_defer(req, held_closed, NULL)) != NULL)
        O.held[O.n_held++] = a;
    pthread_cond_broadcast(&O.cv);
    pthread_mutex_unlock(&O.mu);
    json_decref(j);
    if (busy) {
        zt_http_resp_error(resp, 503, "store_busy", "stand-in orchestrator: busy, retry");
        return;
    }
    if (!a) zt_http_resp_json(resp, 200, json_pack("{s:s}", "status", "settled"));
}

/* Answer every held verdict (200) and let the handles go. */
static void release_held(void)
{
    pthread_mutex_lock(&O.mu);
    for (size_t i = 0; i < O.n_held; i++) {
        struct zt_http_resp r;
        zt_http_resp_init(&r);
        zt_http_resp_json(&r, 200, json_pack("{s:s}", "status", "settled"));
        zt_ignore(zt_http_async_respond(O.held[i], &r)); /* ZT_ECLOSED when the client cut it */
        zt_http_resp_deinit(&r);
        zt_http_async_release(O.held[i]);
    }
    O.n_held = 0;
    pthread_mutex_unlock(&O.mu);
}

static bool seen_locked(const char *job)
{
    for (size_t i = 0; i < O.n_seen; i++)
        if (strcmp(O.seen[i], job) == 0) return true;
    return false;
}

static size_t seen_prefix(const char *prefix)
{
    size_t n = 0;
    pthread_mutex_lock(&O.mu);
    for (size_t i = 0; i < O.n_seen; i++) n += strncmp(O.seen[i], prefix, strlen(prefix)) == 0;
    pthread_mutex_unlock(&O.mu);
    return n;
}

/* Wait (up to timeout_ms) until pred holds; its value then. */
static bool wait_until(bool (*pred)(const void *), const void *arg, long timeout_ms)
{
    struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, (uint64_t)timeout_ms);
    pthread_mutex_lock(&O.mu);
    bool ok;
    while (!(ok = pred(arg)) && pthread_cond_timedwait(&O.cv, &O.mu, &until) == 0) {
    }
    pthread_mutex_unlock(&O.mu);
    return ok;
}

static bool pred_held(const void *n) { return O.n_held >= *(const size_t *)n; }
static bool pred_seen(const void *job) { return seen_locked(job); }

static int setup(void **state)
{
    (void)state;
    memset(&O, 0, sizeof O);
    pthread_mutex_init(&O.mu, NULL);
    zt_cond_init_mono(&O.cv);
    struct zt_http_opts ho = {.host = "127.0.0.1", .threads = 2, .max_connections = 512, .max_header_bytes = 16384,
                              .max_body_bytes = 1 << 20, .timeout_s = 30, .handler = o_handler};
    assert_int_equal(zt_http_start(&ho, &O.srv), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    release_held();
    zt_http_stop(O.srv);
    pthread_cond_destroy(&O.cv);
    pthread_mutex_destroy(&O.mu);
    return 0;
}

static struct zt_orch_client *client(void)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)zt_http_port(O.srv));
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_orch_client *c = NULL;
    assert_int_equal(zt_orch_client_new(url, NULL, NULL, NULL, NULL, &c, &err), 0);
    zt_buf_deinit(&err);
    return c;
}

static void verdict(struct zt_orch_client *c, const char *job)
{
    struct zt_orch_verdict v = {.verdict = "none"};
    zt_orch_client_verdict(c, job, &v);
}

static void test_slow_verdict_not_blocking(void **state)
{
    (void)state;
    struct zt_orch_client *c = client();
    verdict(c, "hold-slow");
    size_t one = 1;
    assert_true(wait_until(pred_held, &one, 10000)); /* the orchestrator holds it */
    uint64_t t0 = zt_time_mono_ms();
    verdict(c, "fast");
    /* the second arrives while the first is held: within half the first
     * call's timeout (10 s), before which one serial sender could not
     * have sent it (it arrives in milliseconds) */
    assert_true(wait_until(pred_seen, "fast", 5000));
    printf("second verdict at the orchestrator %llu ms after it was queued, the first still held\n",
           (unsigned long long)(zt_time_mono_ms() - t0));
    pthread_mutex_lock(&O.mu);
    size_t closed = O.n_closed, held = O.n_held;
    pthread_mutex_unlock(&O.mu);
    assert_int_equal(closed, 0);
    assert_int_equal(held, 1);
    release_held(); /* now the slow one is answered too */
    zt_orch_client_free(c);
    assert_int_equal(seen_prefix("hold-slow"), 1);
}

static void test_overflow_and_stopping(void **state)
{
    (void)state;
    char dir[] = "/tmp/zt-orch-client-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char logp[96];
    snprintf(logp, sizeof logp, "%s/log", dir);
    assert_int_equal(zt_log_open(logp, ZT_LOG_WARN, ZT_LOG_TEXT), 0);

    struct zt_orch_client *c = client();
    char job[40];
    for (int i = 0; i < ZT_ORCH_SENDERS; i++) {
        snprintf(job, sizeof job, "hold-busy-%d", i);
        verdict(c, job);
    }
    size_t all = ZT_ORCH_SENDERS;
    assert_true(wait_until(pred_held, &all, 10000)); /* every sender waits on one */
    for (int i = 0; i < ZT_ORCH_SENDS_QUEUED; i++) {
        snprintf(job, sizeof job, "hold-queued-%d", i);
        verdict(c, job);
    }
    uint64_t sent = 0, dropped = 0, overflow = 0;
    zt_orch_client_verdict_counts(c, &sent, &dropped, &overflow);
    assert_int_equal(overflow, 0);
    verdict(c, "inline"); /* the queue is full: sent here, and it arrives */
    zt_orch_client_verdict_counts(c, &sent, &dropped, &overflow);
    assert_int_equal(overflow, 1);
    assert_int_equal(sent, 1);
    pthread_mutex_lock(&O.mu);
    assert_true(seen_locked("inline"));
    pthread_mutex_unlock(&O.mu);
    assert_int_equal(seen_prefix("hold-queued-"), 0);

    uint64_t t0 = zt_time_mono_ms();
    zt_orch_client_free(c);
    uint64_t took = zt_time_mono_ms() - t0;
    /* it waited the drain for the held ones, then cut them: bounded by the
     * drain, not by the calls' timeouts (a loaded machine gets 4 s more) */
    assert_true(took + 50 >= ZT_ORCH_DRAIN_MS);
    assert_true(took < ZT_ORCH_DRAIN_MS + 4000);
    assert_int_equal(seen_prefix("hold-queued-"), 0); /* dropped, never sent */
    zt_log_close();
    zt_log_set_level(ZT_LOG_OFF);

    char *text = NULL;
    size_t len = 0;
    assert_int_equal(zt_file_read(logp, 1 << 20, &text, &len), 0);
    char want[96];
    snprintf(want, sizeof want, "orchestrator_reports_dropped dropped=%d cut=%d", ZT_ORCH_SENDS_QUEUED,
             ZT_ORCH_SENDERS);
    if (!strstr(text, want)) fprintf(stderr, "log:\n%s\n", text);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "orchestrator_verdict_inline"));
    zt_free(text);
    unlink(logp);
    rmdir(dir);
}

/* A verdict answered 503 (the orchestrator's store busy: nothing used
 * up) is sent again, not lost (review7 F5). */
static void test_busy_retried(void **state)
{
    (void)state;
    struct zt_orch_client *c = client();
    verdict(c, "busy-1");
    uint64_t until = zt_time_mono_ms() + 10000;
    while (seen_prefix("busy-1") < 2 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    printf("a verdict answered 503 came %zu time(s)\n", seen_prefix("busy-1"));
    assert_int_equal(seen_prefix("busy-1"), 2);
    zt_orch_client_free(c);
}

static void test_bad_list(void **state)
{
    (void)state;
    const char *bad[] = {"", "ftp://x", "http://a:1,http://b:1,http://c:1,http://d:1,http://e:1",
                         "http://127.0.0.1:1#notanid"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct zt_buf err;
        zt_buf_init(&err, 1024);
        struct zt_orch_client *c = NULL;
        assert_int_equal(zt_orch_client_new(bad[i], NULL, NULL, NULL, NULL, &c, &err), ZT_ECONFIG);
        assert_null(c);
        assert_true(err.len > 0);
        zt_buf_deinit(&err);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    zt_log_set_level(ZT_LOG_OFF);
    if (zt_net_client_global_init() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slow_verdict_not_blocking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_and_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_retried, setup, teardown),
        cmocka_unit_test(test_bad_list),
    };
    int rc = zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
    zt_net_client_global_cleanup();
    return rc;
}
