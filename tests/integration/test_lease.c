/* test_lease.c: the orchestrator's placement over HTTP, the half of "a
 * gateway in another process" that lives in the orchestrator (issue 11;
 * POST /v1/orchestrator/lease and /report; docs/internals/orchestrator.md
 * "Leases"). An orchestrator-only node and one worker with one slot joined
 * by --join; the test plays the remote gateway:
 * - a lease places a job and names the worker (node id, endpoint, keys,
 *   its prompt and completion prices);
 * - a second lease while the slot is busy answers 202 queued after its
 *   wait; once the first is reported started and ok (its row done), asking
 *   again with the job id gets the worker;
 * - the worker reported failing the second job: the job is requeued and
 *   the next lease call gets its next assignment (the failover loop's next
 *   pick); a cancel ends it (404 after), and an unknown model is 404
 *   no_worker;
 * - a lease call waiting when the slot frees is answered at once.
 * Usage: test_lease PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static struct node orch, wk;
static char wk_id[64];

static json_t *call(const char *path, const char *body, long want)
{
    return post_json(orch.port, path, NULL, body, want);
}

static void report(const char *job, const char *event, int tokens, const char *want_state)
{
    char body[300];
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"worker\":\"%s\",\"event\":\"%s\",\"tokens\":%d}", job, wk_id,
             event, tokens);
    json_t *j = call("/v1/orchestrator/report", body, 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), want_state);
    json_decref(j);
}

struct waiter {
    char body[200];
    json_t *answer;
    uint64_t ms;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    uint64_t t0 = zt_time_mono_ms();
    w->answer = call("/v1/orchestrator/lease", w->body, 200);
    w->ms = zt_time_mono_ms() - t0;
    return NULL;
}

static void test_lease(void **state)
{
    (void)state;
    char model[1024], cfg[256], yaml[1400];
    if (!find_test_model("stories260K.gguf", model, sizeof model)) zt_skip("stories260K.gguf not found (tests/models)");
    tmp_dir(cfg, sizeof cfg, "lease");
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 16\n",
             model);
    put_file(cfg, "models.yaml", yaml);
    put_file(cfg, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 1\n");
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    node_spawn(&orch, oargs, NULL, true, NULL);
    const char *const wargs[] = {"--config", cfg, "--roles", "worker", "--join", orch.url, NULL};
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};
    node_spawn(&wk, wargs, wenv, true, NULL);
    struct resp r;
    http(wk.port, "GET", "/v1/node/descriptor", NULL, NULL, &r);
    json_t *d = resp_json(&r);
    zt_strlcpy(wk_id, json_string_value(json_object_get(d, "node_id")), sizeof wk_id);
    json_decref(d);
    resp_free(&r);
    uint64_t until = zt_time_mono_ms() + 20000;
    for (;;) {
        http(orch.port, "GET", "/v1/orchestrator/nodes", NULL, NULL, &r);
        json_t *j = resp_json(&r);
        resp_free(&r);
        long live = (long)json_integer_value(json_object_get(j, "live"));
        json_decref(j);
        if (live == 1) break;
        assert_true(zt_time_mono_ms() < until);
        zt_time_sleep_ms(100);
    }

    /* placed at once: the worker's keys and endpoint */
    json_t *a = call("/v1/orchestrator/lease", "{\"model\":\"stories\",\"max_tokens\":8,\"ctx_tokens\":10}", 200);
    char job1[64], job2[64];
    zt_strlcpy(job1, json_string_value(json_object_get(a, "job_id")), sizeof job1);
    json_t *w = json_object_get(a, "worker");
    assert_string_equal(json_string_value(json_object_get(w, "node_id")), wk_id);
    assert_string_equal(json_string_value(json_object_get(w, "endpoint")), wk.url);
    assert_int_equal(strlen(json_string_value(json_object_get(w, "kem_pk"))), 64);
    assert_int_equal(strlen(json_string_value(json_object_get(w, "ed25519_pk"))), 64);
    /* and its own prices (chain.yaml's defaults, 0.001 and 0.002 tokens per 1k): a remote gateway settles at them */
    assert_string_equal(json_string_value(json_object_get(w, "price_prompt_per_1k")), "1000000000000000");
    assert_string_equal(json_string_value(json_object_get(w, "price_completion_per_1k")), "2000000000000000");
    json_decref(a);

    /* the one slot is taken: queued after the wait */
    json_t *q = call("/v1/orchestrator/lease", "{\"model\":\"stories\",\"max_tokens\":8,\"wait_ms\":300}", 202);
    zt_strlcpy(job2, json_string_value(json_object_get(q, "job_id")), sizeof job2);
    assert_string_equal(json_string_value(json_object_get(q, "state")), "queued");
    json_decref(q);

    /* a lease call waiting for job 2 is answered when job 1 ends */
    struct waiter wt;
    snprintf(wt.body, sizeof wt.body, "{\"job_id\":\"%s\",\"wait_ms\":10000}", job2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_thread, &wt), 0);
    zt_time_sleep_ms(300);
    report(job1, "started", 0, "running");
    report(job1, "ok", 8, "done");
    pthread_join(t, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(wt.answer, "worker"), "node_id")), wk_id);
    printf("a waiting lease answered %llu ms after it was sent (the slot freed ~300 ms in)\n",
           (unsigned long long)wt.ms);
    assert_true(wt.ms < 5000);
    json_decref(wt.answer);

    /* the worker fails job 2: requeued, the next lease call gets it again */
    report(job2, "started", 0, "running");
    report(job2, "error", 0, "queued");
    char body[200];
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"wait_ms\":5000}", job2);
    json_t *again = call("/v1/orchestrator/lease", body, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(again, "worker"), "node_id")), wk_id);
    json_decref(again);
    report(job2, "cancel", 0, "failed");
    json_decref(call("/v1/orchestrator/lease", body, 404));

    /* no worker for the model; a malformed request */
    json_decref(call("/v1/orchestrator/lease", "{\"model\":\"nope\",\"max_tokens\":8}", 404));
    json_decref(call("/v1/orchestrator/lease", "{\"model\":\"stories\"}", 400));

    /* the rows */
    http(orch.port, "GET", "/v1/orchestrator/jobs", NULL, NULL, &r);
    json_t *jobs = resp_json(&r);
    resp_free(&r);
    size_t i;
    json_t *jj;
    int seen = 0;
    json_array_foreach(json_object_get(jobs, "jobs"), i, jj) {
        const char *id = json_string_value(json_object_get(jj, "job_id"));
        const char *st = json_string_value(json_object_get(jj, "state"));
        if (zt_str_eq(id, job1)) seen++, assert_string_equal(st, "done");
        if (zt_str_eq(id, job2)) seen++, assert_string_equal(st, "failed");
    }
    assert_int_equal(seen, 2);
    json_decref(jobs);

    node_stop(&wk, 20000);
    node_stop(&orch, 20000);
    rm_rf(cfg);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_lease")) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease),
    };
    return zt_test_exit(cmocka_run_group_tests_name("lease", tests, NULL, NULL));
}
