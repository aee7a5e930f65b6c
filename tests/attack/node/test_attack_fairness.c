/* test_attack_fairness.c: one feature must not starve the others, nor one
 * caller the others (issue 17 item 8), against a real zentalk-node.
 * Before: four concurrent large translation batches made a one-sentence
 * translation from someone else wait 30.6 s (6 ms idle): the translation
 * threads took requests first come, first served, each a whole batch. On
 * the sanitizer build, eight large intent batches made /healthz time out:
 * intents ran on the HTTP threads.
 * Checked, by order of completion rather than by timing:
 *  - while six large batches from 127.0.0.2 run, a one-sentence
 *    translation from 127.0.0.3 answers before most of them complete
 *    (the translation queue is fair per caller, one text per step);
 *  - with one HTTP thread (server.threads: 1), /healthz answers while
 *    large intent batches are still running (they run on their own pool):
 *    at most two batches end between its request and its answer (a skip
 *    when two had ended before it was sent: that run cannot tell);
 *  - a batch over its work budget is refused (413 batch_too_large).
 * Usage: test_attack_fairness PATH/zentalk-node [PATH/zentalk] */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int order; /* completion counter */

struct call {
    uint16_t port;
    const char *from, *path, *method;
    char *body;
    long status;
    int started_at; /* value of order when it was sent: calls already completed */
    int done_at;    /* value of order when it completed */
};

static void *run_call(void *arg)
{
    struct call *c = arg;
    struct http_opts o = {.ctype = c->body ? "application/json" : NULL, .body = c->body, .from = c->from,
                          .timeout_ms = 240000};
    struct resp r;
    c->started_at = atomic_load(&order);
    if (http_req(c->port, c->method, c->path, &o, &r) == 0) c->status = r.status;
    c->done_at = atomic_fetch_add(&order, 1);
    if (c->status != 200) fprintf(stderr, "%s %s: %ld %.300s\n", c->method, c->path, c->status, zt_buf_str(&r.body));
    resp_free(&r);
    return NULL;
}

/* {"texts":[n texts of about size bytes of English], ...extra} */
static char *batch(int n, size_t size, const char *extra)
{
    static const char *const s[] = {"The weather is nice today and we are going to the park. ",
                                    "My brother bought a new car last week and he likes it. ",
                                    "Please send me the report before the meeting tomorrow. ",
                                    "The children are playing in the garden with the dog. "};
    struct zt_buf b;
    zt_buf_init(&b, 16u << 20);
    assert_int_equal(zt_buf_append_str(&b, "{\"texts\":["), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(zt_buf_append_str(&b, i ? ",\"" : "\""), 0);
        for (size_t len = 0, k = (size_t)i; len < size; k++) {
            assert_int_equal(zt_buf_append_str(&b, s[k % 4]), 0);
            len += strlen(s[k % 4]);
        }
        assert_int_equal(zt_buf_append_str(&b, "\""), 0);
    }
    assert_int_equal(zt_buf_appendf(&b, "]%s}", extra), 0);
    char *out = strdup(zt_buf_str(&b));
    zt_buf_deinit(&b);
    assert_non_null(out);
    return out;
}

static void test_small_translation_not_starved(void **state)
{
    (void)state;
    if (access("/usr/share/apertium/modes/eng-spa.mode", R_OK) != 0)
        zt_skip("Apertium's eng-spa pair is not installed (scripts/setup.sh)");
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    atomic_store(&order, 0);
    enum { BIG = 6 }; /* more than the translation threads: some wait */
    struct call big[BIG];
    pthread_t t[BIG + 1];
    for (int i = 0; i < BIG; i++) {
        /* 12 texts of 1.5 KB: many short steps (the budget allows 4 x 16 KiB per batch) */
        big[i] = (struct call){.port = n.port, .from = "127.0.0.2", .path = "/v1/features/translate",
                               .method = "POST", .body = batch(12, 1500, ",\"source\":\"en\",\"target\":\"es\"")};
        assert_int_equal(pthread_create(&t[i], NULL, run_call, &big[i]), 0);
    }
    usleep(150 * 1000); /* let the batches be taken (4) and queued (2) */
    struct call small = {.port = n.port, .from = "127.0.0.3", .path = "/v1/features/translate", .method = "POST",
                         .body = strdup("{\"text\":\"Good morning, how are you?\",\"source\":\"en\",\"target\":\"es\"}")};
    assert_int_equal(pthread_create(&t[BIG], NULL, run_call, &small), 0);
    for (int i = 0; i <= BIG; i++) pthread_join(t[i], NULL);
    printf("completion order: small %d, large", small.done_at);
    for (int i = 0; i < BIG; i++) printf(" %d", big[i].done_at);
    printf("\n");
    assert_int_equal(small.status, 200);
    for (int i = 0; i < BIG; i++) {
        assert_int_equal(big[i].status, 200);
        free(big[i].body);
    }
    free(small.body);
    /* First come, first served (before), the small one could start only
     * once three batches had ended: the four running, then the two queued
     * ahead of it. Fair per caller, it is the next caller served: it ends
     * before most of them (at most two, just finishing, end first). */
    if (small.done_at > 2) fail_msg("the small translation ended after %d large batches", small.done_at);
    /* the work budget: 5 x 16 KiB is over 4 x features.translate.max_bytes */
    char *over = batch(5, 16000, ",\"source\":\"en\",\"target\":\"es\"");
    struct resp r;
    http(n.port, "POST", "/v1/features/translate", "application/json", over, &r);
    assert_error_json(&r, 413, "batch_too_large");
    resp_free(&r);
    free(over);
    node_stop(&n, 60000);
}

static void test_healthz_while_intents_run(void **state)
{
    (void)state;
    char cfg[256];
    tmp_dir(cfg, sizeof cfg, "faircfg");
    put_file(cfg, "config.yaml", "server:\n  threads: 1\n");
    const char *const args[] = {"--config", cfg, NULL};
    struct node n;
    node_spawn(&n, args, NULL, true, NULL);
    atomic_store(&order, 0);
    enum { BIG = 4 };
    struct call big[BIG];
    pthread_t t[BIG + 1];
    for (int i = 0; i < BIG; i++) {
        big[i] = (struct call){.port = n.port, .from = "127.0.0.2", .path = "/v1/features/intents", .method = "POST",
                               .body = batch(128, 4000, "")}; /* 512,000 bytes: the most the budget allows */
        assert_int_equal(pthread_create(&t[i], NULL, run_call, &big[i]), 0);
    }
    usleep(50 * 1000); /* the batches taken: short, so that none has ended yet */
    struct call health = {.port = n.port, .from = "127.0.0.3", .path = "/healthz", .method = "GET"};
    assert_int_equal(pthread_create(&t[BIG], NULL, run_call, &health), 0);
    for (int i = 0; i <= BIG; i++) pthread_join(t[i], NULL);
    printf("completion order: healthz %d (sent after %d), intent batches", health.done_at, health.started_at);
    for (int i = 0; i < BIG; i++) printf(" %d", big[i].done_at);
    printf("\n");
    assert_int_equal(health.status, 200);
    for (int i = 0; i < BIG; i++) {
        assert_int_equal(big[i].status, 200);
        free(big[i].body);
    }
    /* the work budget: 256 texts of 2.5 KB are over 512 KiB */
    char *over = batch(256, 2500, "");
    struct resp r;
    http(n.port, "POST", "/v1/features/intents", "application/json", over, &r);
    assert_error_json(&r, 413, "batch_too_large");
    resp_free(&r);
    free(over);
    node_stop(&n, 60000);
    rm_rf(cfg);
    /* On HTTP threads (before), /healthz waited behind every batch (sent
     * after none had ended, it ended last, 4). Off them it is answered at
     * once: the batches that end while it is on its way are at most two
     * on a loaded machine. Counted from when it was sent, not from the
     * start, so batches that end within the head start are not taken for
     * a slow /healthz; when two or more ended before it was sent, this run
     * cannot tell the two apart: a skip, not a pass. */
    if (health.started_at >= 2)
        zt_skip("%d of %d intent batches ended within the 50 ms head start: the order tells nothing this run",
                health.started_at, BIG);
    if (health.done_at > health.started_at + 2)
        fail_msg("/healthz ended after %d of %d intent batches (sent after %d)", health.done_at, BIG,
                 health.started_at);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_fairness")) return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_translation_not_starved),
        cmocka_unit_test(test_healthz_while_intents_run),
    };
    int f = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return zt_test_exit(f);
}
