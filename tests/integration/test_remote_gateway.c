/* test_remote_gateway.c: a gateway in another process than its
 * orchestrator (issue 11; node.orchestrator, zentalk-node --roles gateway
 * --orchestrator URL#NODE_ID; docs/internals/orchestrator.md "Leases").
 * An orchestrator-only node, a gateway-only node that places through it,
 * and two workers joined to the orchestrator (slowed by the test-only
 * ZT_TEST_DELAY_MS; no peers file anywhere: the gateway's descriptor goes
 * to the orchestrator, which hands it to the workers that join it):
 * - chats sent to the gateway run on the workers, with receipts, and their
 *   job rows are done at the orchestrator (leased, reported);
 * - verification through the lease: the orchestrator draws the job (new
 *   workers always), chooses the checker (the other worker, never the one
 *   that ran it), the gateway runs the teacher-forced check and reports
 *   the verdict with the signed chains, which the orchestrator checks and
 *   charges (the rows are verified, no verdict refused);
 *   the answer says "verified" with the check; replicated execution
 *   ("zentalk":{"replicas":1}) runs on the replica the orchestrator picks;
 * - a streamed chat whose worker is killed with SIGKILL mid-stream is
 *   continued by the other worker (the gateway's failover loop reports the
 *   failure and leases the job's next worker) and its text equals the
 *   uninterrupted run byte for byte;
 * - a wrong #NODE_ID pin: the gateway never places through that node;
 * - node.orchestrator with two orchestrators (the workers joined both):
 *   after the first is killed with SIGKILL, chats through the gateway are
 *   placed by the second.
 * Usage: test_remote_gateway PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static struct node orch, gw, wk[2];
static char orch_id[64], wk_id[2][64];

static const char BODY[] = "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                           "\"max_tokens\":40,\"temperature\":0%s}";

/* A chat through the gateway: status, its text and worker. */
static long chat(bool stream, struct zt_buf *text, char *ran_on, size_t cap)
{
    char body[300];
    snprintf(body, sizeof body, BODY, stream ? ",\"stream\":true" : "");
    return chat_text(gw.port, body, stream, text, ran_on, cap);
}

struct stream_call {
    long status;
    struct zt_buf text;
    char ran_on[64];
};

static void *stream_thread(void *arg)
{
    struct stream_call *c = arg;
    c->status = chat(true, &c->text, c->ran_on, sizeof c->ran_on);
    return NULL;
}

/* The worker of the running job at the orchestrator, or "". */
static void running_worker(char *out, size_t n)
{
    out[0] = '\0';
    struct resp r;
    http(orch.port, "GET", "/v1/orchestrator/jobs?limit=5", NULL, NULL, &r);
    json_t *j = resp_json(&r);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "jobs"), i, x) {
        if (zt_str_eq(json_string_value(json_object_get(x, "state")), "running"))
            zt_strlcpy(out, json_string_value(json_object_get(x, "worker")), n);
    }
    json_decref(j);
    resp_free(&r);
}

static long jobs_in_state(const char *state)
{
    struct resp r;
    http(orch.port, "GET", "/v1/orchestrator/jobs?limit=100", NULL, NULL, &r);
    json_t *j = resp_json(&r);
    resp_free(&r);
    long n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "jobs"), i, x) n += zt_str_eq(json_string_value(json_object_get(x, "state")), state);
    json_decref(j);
    return n;
}

/* A config directory for the workers (stories260K) in cfg; skips without
 * the model. */
static void worker_config(char *cfg, size_t cap, const char *tag)
{
    char model[1024], yaml[1400];
    if (!find_test_model("stories260K.gguf", model, sizeof model)) zt_skip("stories260K.gguf not found (tests/models)");
    tmp_dir(cfg, cap, tag);
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 64\n",
             model);
    put_file(cfg, "models.yaml", yaml);
    put_file(cfg, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
}

/* Until the orchestrator at port lists both workers live (fails past until). */
static void wait_live(uint16_t port, uint64_t until)
{
    uint64_t now = zt_time_mono_ms();
    assert_int_equal(orch_wait_live(port, 2, now < until ? (int)(until - now) : 0), 2);
}

/* Jobs that ended well: done, or done and verified. */
static long ended(void) { return jobs_in_state("done") + jobs_in_state("verified"); }

static void test_remote_gateway(void **state)
{
    (void)state;
    char cfg[256];
    worker_config(cfg, sizeof cfg, "remotegw");
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    const char *const oenv[] = {"ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000", NULL};
    node_spawn(&orch, oargs, oenv, true, NULL);
    node_id_of(orch.port, orch_id, sizeof orch_id, NULL);

    char pinned[300];
    snprintf(pinned, sizeof pinned, "%s#%s", orch.url, orch_id);
    const char *const gargs[] = {"--roles", "gateway", "--orchestrator", pinned, NULL};
    const char *const genv[] = {"ZENTALK_ENCRYPTION_REMOTE_STALL_MS=1500", "ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=20",
                                NULL};
    node_spawn(&gw, gargs, genv, true, NULL);
    char gw_id[64];
    node_id_of(gw.port, gw_id, sizeof gw_id, NULL);
    /* no peers file: the orchestrator vouches for the gateway that leases there */
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZT_TEST_MODE=1", "ZT_TEST_DELAY_MS=40",
                                NULL};
    for (int i = 0; i < 2; i++) {
        const char *const wargs[] = {"--config", cfg, "--roles", "worker", "--join", orch.url, NULL};
        node_spawn(&wk[i], wargs, wenv, true, NULL);
        node_id_of(wk[i].port, wk_id[i], sizeof wk_id[i], NULL);
    }
    uint64_t until = zt_time_mono_ms() + 20000;
    wait_live(orch.port, until);

    /* chats through the gateway in its own process */
    struct zt_buf ref;
    zt_buf_init(&ref, 1 << 16);
    char ran[64];
    assert_int_equal(chat(false, &ref, ran, sizeof ran), 200);
    assert_true(zt_str_eq(ran, wk_id[0]) || zt_str_eq(ran, wk_id[1]));
    assert_true(ref.len > 0);
    until = zt_time_mono_ms() + 5000;
    while (ended() < 1 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(ended(), 1);
    /* verified through the lease: new workers are always checked
     * (orchestrator.verification.new_worker_jobs); the orchestrator drew
     * the job and chose the checker (the other worker), the gateway ran the
     * teacher-forced check and reported the verdict, which the orchestrator
     * charged: the job row is verified there */
    char body[400];
    snprintf(body, sizeof body, BODY, "");
    struct resp vr;
    http(gw.port, "POST", "/v1/chat/completions", "application/json", body, &vr);
    assert_int_equal(vr.status, 200);
    json_t *vj = resp_json(&vr);
    resp_free(&vr);
    json_t *z = json_object_get(vj, "zentalk");
    const char *ran_on = json_string_value(json_object_get(z, "ran_on"));
    assert_non_null(ran_on);
    assert_string_equal(json_string_value(json_object_get(z, "verification")), "verified");
    assert_non_null(json_object_get(z, "receipt"));
    json_t *ck = json_array_get(json_object_get(z, "checks"), 0);
    assert_non_null(ck);
    const char *checker = json_string_value(json_object_get(ck, "node"));
    assert_non_null(checker);
    assert_false(zt_str_eq(checker, ran_on)); /* never the verified worker */
    assert_true(zt_str_eq(checker, wk_id[0]) || zt_str_eq(checker, wk_id[1]));
    assert_true(json_is_true(json_object_get(ck, "agrees")));
    json_decref(vj);
    until = zt_time_mono_ms() + 5000;
    while (jobs_in_state("verified") < 2 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(jobs_in_state("verified"), 2);
    /* replicated execution over leases: the replica is the orchestrator's
     * choice too, and agrees */
    snprintf(body, sizeof body, BODY, ",\"zentalk\":{\"replicas\":1}");
    http(gw.port, "POST", "/v1/chat/completions", "application/json", body, &vr);
    assert_int_equal(vr.status, 200);
    vj = resp_json(&vr);
    resp_free(&vr);
    z = json_object_get(vj, "zentalk");
    assert_string_equal(json_string_value(json_object_get(z, "verification")), "verified");
    ck = json_array_get(json_object_get(z, "checks"), 0);
    assert_string_equal(json_string_value(json_object_get(ck, "role")), "replica");
    assert_false(zt_str_eq(json_string_value(json_object_get(ck, "node")),
                           json_string_value(json_object_get(z, "ran_on"))));
    assert_true(json_is_true(json_object_get(ck, "agrees")));
    json_decref(vj);
    until = zt_time_mono_ms() + 5000;
    while (jobs_in_state("verified") < 3 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(jobs_in_state("verified"), 3);
    /* the orchestrator checked the gateway's evidence itself and found it true */
    assert_int_equal(metric_value(orch.port, "zentalk_orchestrator_refusals_total{reason=\"unproven_verdict\"}"), 0);

    /* a stream whose worker dies mid-way continues on the other */
    struct stream_call sc;
    memset(&sc, 0, sizeof sc);
    zt_buf_init(&sc.text, 1 << 16);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stream_thread, &sc), 0);
    char victim[64] = "";
    until = zt_time_mono_ms() + 20000;
    while (!victim[0] && zt_time_mono_ms() < until) {
        running_worker(victim, sizeof victim);
        if (!victim[0]) zt_time_sleep_ms(20);
    }
    assert_true(victim[0]);
    zt_time_sleep_ms(400); /* some tokens streamed */
    int vi = zt_str_eq(victim, wk_id[0]) ? 0 : 1;
    uint64_t t_kill = zt_time_mono_ms();
    assert_int_equal(kill(wk[vi].pid, SIGKILL), 0);
    pthread_join(t, NULL);
    printf("stream through the remote gateway, worker killed: finished %llu ms after the kill on %s\n",
           (unsigned long long)(zt_time_mono_ms() - t_kill), sc.ran_on);
    assert_int_equal(sc.status, 200);
    assert_string_equal(sc.ran_on, wk_id[1 - vi]);
    assert_string_equal(zt_buf_str(&sc.text), zt_buf_str(&ref));
    zt_buf_deinit(&sc.text);
    zt_buf_deinit(&ref);
    assert_int_equal(node_wait(&wk[vi], 10000), 128 + SIGKILL);
    until = zt_time_mono_ms() + 5000;
    while (ended() < 4 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(ended(), 4);

    node_stop(&wk[1 - vi], 20000);
    node_cleanup(&wk[vi]);
    rm_rf(wk[vi].dir);
    node_stop(&gw, 20000);

    /* a gateway pinned to another node id (a machine in the middle would
     * answer at the URL): it never places through that node */
    char bad[300];
    snprintf(bad, sizeof bad, "%s#%s", orch.url, wk_id[vi]);
    const char *const bargs[] = {"--roles", "gateway", "--orchestrator", bad, NULL};
    node_spawn(&gw, bargs, genv, true, NULL);
    struct zt_buf x;
    zt_buf_init(&x, 1 << 16);
    assert_true(chat(false, &x, ran, sizeof ran) != 200);
    zt_buf_deinit(&x);
    assert_int_equal(ended() + jobs_in_state("queued") + jobs_in_state("failed"), 4);
    node_stop(&gw, 20000);
    node_stop(&orch, 20000);
    rm_rf(cfg);
}

/* node.orchestrator with two orchestrators: the gateway places through
 * the first; once it is killed, through the second (the workers joined
 * both and admit the gateway, which registered with both at its start). */
static void test_orchestrator_failover(void **state)
{
    (void)state;
    char cfg[256];
    worker_config(cfg, sizeof cfg, "remotegw2");
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    const char *const oenv[] = {"ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000", NULL};
    struct node ob;
    char ob_id[64];
    node_spawn(&orch, oargs, oenv, true, NULL);
    node_spawn(&ob, oargs, oenv, true, NULL);
    node_id_of(orch.port, orch_id, sizeof orch_id, NULL);
    node_id_of(ob.port, ob_id, sizeof ob_id, NULL);
    char list[700];
    snprintf(list, sizeof list, "%s#%s, %s#%s", orch.url, orch_id, ob.url, ob_id);
    const char *const gargs[] = {"--roles", "gateway", "--orchestrator", list, NULL};
    const char *const genv[] = {"ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=20", NULL};
    node_spawn(&gw, gargs, genv, true, NULL); /* it registers with both: their workers admit it */
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};
    for (int i = 0; i < 2; i++) {
        const char *const wargs[] = {"--config", cfg, "--roles", "worker", "--join", orch.url, "--join", ob.url, NULL};
        node_spawn(&wk[i], wargs, wenv, true, NULL);
        node_id_of(wk[i].port, wk_id[i], sizeof wk_id[i], NULL);
    }
    struct node *os[2] = {&orch, &ob};
    uint64_t until = zt_time_mono_ms() + 20000;
    for (int k = 0; k < 2; k++) wait_live(os[k]->port, until);
    struct zt_buf text;
    zt_buf_init(&text, 1 << 16);
    char ran[64];
    assert_int_equal(chat(false, &text, ran, sizeof ran), 200);
    assert_true(ended() >= 1); /* placed through the first */
    kill(orch.pid, SIGKILL);
    assert_int_equal(node_wait(&orch, 10000), 128 + SIGKILL);
    node_cleanup(&orch);
    /* the next chats go through the second */
    zt_buf_reset(&text);
    long st = chat(false, &text, ran, sizeof ran);
    printf("after the first orchestrator's SIGKILL: chat through the gateway %ld on %s\n", st, ran);
    assert_int_equal(st, 200);
    assert_true(zt_str_eq(ran, wk_id[0]) || zt_str_eq(ran, wk_id[1]));
    orch = ob; /* jobs_in_state asks orch */
    until = zt_time_mono_ms() + 5000;
    while (ended() < 1 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(ended(), 1);
    zt_buf_deinit(&text);
    node_stop(&gw, 20000);
    for (int i = 0; i < 2; i++) node_stop(&wk[i], 20000);
    node_stop(&orch, 20000);
    memset(&orch, 0, sizeof orch);
    rm_rf(cfg);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_remote_gateway")) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_gateway),
        cmocka_unit_test(test_orchestrator_failover),
    };
    return zt_test_exit(cmocka_run_group_tests_name("remote_gateway", tests, NULL, NULL));
}
