/* test_outbound.c: a worker behind NAT (node.outbound, --outbound;
 * docs/internals/orchestrator.md "Workers behind NAT").
 * - A gateway+orchestrator and a worker started with --outbound --join:
 *   the worker's advertised endpoint is the orchestrator's relay
 *   (/v1/orchestrator/relay/<its id>), the orchestrator's view says
 *   reachable: outbound, and nothing but its own long-poll reaches it: the
 *   gateway never learns its listener's address;
 * - plain and streamed chats run on it through the relay (ran_on, a
 *   receipt, the relay counter grows by one per chat), the streamed text
 *   is the same as the plain one (greedy, same seed), and eight chats at
 *   once all complete;
 * - a second, direct worker joins: the view shows one outbound and one
 *   direct; the outbound one stopped with SIGKILL goes out of the view
 *   as outbound and the chats go on (on the direct one).
 * Usage: test_outbound PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static const char *cli_bin;
static struct node gw, wk[2];
static char wk_id[2][64];
static char cfg[256];

/* The node's entry in the orchestrator's view (a new reference), or NULL. */
static json_t *view(const char *id)
{
    struct resp r;
    http(gw.port, "GET", "/v1/orchestrator/nodes", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    resp_free(&r);
    json_t *found = NULL, *n;
    size_t i;
    json_array_foreach(json_object_get(j, "nodes"), i, n) {
        if (zt_str_eq(json_string_value(json_object_get(n, "node_id")), id)) found = json_incref(n);
    }
    json_decref(j);
    return found;
}

static bool wait_view(const char *id, const char *key, const char *want, int timeout_ms)
{
    uint64_t until = zt_time_mono_ms() + (uint64_t)timeout_ms;
    do {
        json_t *n = view(id);
        bool ok = n && zt_str_eq(json_string_value(json_object_get(n, key)), want);
        json_decref(n);
        if (ok) return true;
        zt_time_sleep_ms(100);
    } while (zt_time_mono_ms() < until);
    return false;
}

static const char CHAT[] = "{\"model\":\"stories\",\"max_tokens\":12,\"seed\":3,%s"
                           "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}";

/* A chat's answer text and the worker it ran on. */
static long chat(bool stream, struct zt_buf *text, char *ran_on, size_t cap)
{
    char body[300];
    snprintf(body, sizeof body, CHAT, stream ? "\"stream\":true," : "");
    return chat_text(gw.port, body, stream, text, ran_on, cap);
}

struct call {
    long status;
    char ran_on[64];
};

static void *chat_thread(void *arg)
{
    struct call *c = arg;
    struct zt_buf t;
    zt_buf_init(&t, 1 << 16);
    c->status = chat(false, &t, c->ran_on, sizeof c->ran_on);
    zt_buf_deinit(&t);
    return NULL;
}

static void spawn_worker(int i, bool outbound)
{
    const char *const out_args[] = {"--config", cfg, "--roles", "worker", "--join", gw.url, "--outbound", NULL};
    const char *const dir_args[] = {"--config", cfg, "--roles", "worker", "--join", gw.url, NULL};
    const char *const env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=1000", NULL};
    node_spawn(&wk[i], outbound ? out_args : dir_args, env, true, NULL);
    node_id_of(wk[i].port, wk_id[i], sizeof wk_id[i], NULL);
}

static void test_outbound_worker(void **state)
{
    (void)state;
    char model[1024], yaml[1400];
    if (!find_test_model("stories260K.gguf", model, sizeof model)) zt_skip("stories260K.gguf not found (tests/models)");
    tmp_dir(cfg, sizeof cfg, "outbound");
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 16\n",
             model);
    put_file(cfg, "models.yaml", yaml);
    put_file(cfg, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 4\n");
    const char *const gargs[] = {"--roles", "gateway,orchestrator", NULL};
    const char *const genv[] = {"ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000", NULL};
    node_spawn(&gw, gargs, genv, true, NULL);
    spawn_worker(0, true);
    assert_true(wait_view(wk_id[0], "state", "live", 20000));
    assert_true(wait_view(wk_id[0], "reachable", "outbound", 5000));
    json_t *n = view(wk_id[0]);
    char relay[512];
    snprintf(relay, sizeof relay, "%s/v1/orchestrator/relay/%s", gw.url, wk_id[0]);
    assert_string_equal(json_string_value(json_object_get(n, "endpoint")), relay);
    json_decref(n);
    /* `zentalk nodes` says so too */
    const char *const cargs[] = {"nodes", "--url", gw.url, NULL};
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(run_prog(cli_bin, cargs, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "reached through its outbound connection"));
    zt_buf_deinit(&out);

    /* chats through the relay */
    long long before = metric_value(gw.port, "zentalk_orchestrator_relay_requests_total{result=\"relayed\"}");
    struct zt_buf plain, streamed;
    zt_buf_init(&plain, 1 << 16);
    zt_buf_init(&streamed, 1 << 16);
    char ran[64];
    assert_int_equal(chat(false, &plain, ran, sizeof ran), 200);
    assert_string_equal(ran, wk_id[0]);
    assert_int_equal(chat(true, &streamed, ran, sizeof ran), 200);
    assert_true(plain.len > 0);
    assert_string_equal(zt_buf_str(&plain), zt_buf_str(&streamed));
    assert_int_equal(metric_value(gw.port, "zentalk_orchestrator_relay_requests_total{result=\"relayed\"}"),
                     before + 2);
    zt_buf_deinit(&plain);
    zt_buf_deinit(&streamed);

    struct call c[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) assert_int_equal(pthread_create(&t[i], NULL, chat_thread, &c[i]), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].status, 200);
        assert_string_equal(c[i].ran_on, wk_id[0]);
    }

    /* a direct worker beside it; the outbound one dies */
    spawn_worker(1, false);
    assert_true(wait_view(wk_id[1], "state", "live", 20000));
    assert_true(wait_view(wk_id[1], "reachable", "direct", 5000));
    assert_int_equal(kill(wk[0].pid, SIGKILL), 0);
    assert_int_equal(node_wait(&wk[0], 10000), 128 + SIGKILL);
    assert_true(wait_view(wk_id[0], "reachable", "direct", 10000)); /* no poll any more */
    for (int i = 0; i < 3; i++) {
        struct zt_buf x;
        zt_buf_init(&x, 1 << 16);
        assert_int_equal(chat(false, &x, ran, sizeof ran), 200);
        assert_string_equal(ran, wk_id[1]);
        zt_buf_deinit(&x);
    }

    node_stop(&wk[1], 20000);
    node_cleanup(&wk[0]);
    rm_rf(wk[0].dir);
    node_stop(&gw, 20000);
    rm_rf(cfg);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_outbound")) return 2;
    cli_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outbound_worker),
    };
    return zt_test_exit(cmocka_run_group_tests_name("outbound", tests, NULL, NULL));
}
