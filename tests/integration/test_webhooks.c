/* test_webhooks: the API bridge's webhooks (zt_bridge.h), black-box.
 *
 * R: a receiver in this process (the node's own HTTP server library) that
 * checks every attempt's signature (HMAC-SHA256 over timestamp and body),
 * answers 503 to the first FAILS attempts of each event, and dedupes by
 * the Idempotency-Key. W: a worker serving the tiny model (skipped with
 * the reason when tests/models/stories260K.gguf is absent). G: a gateway
 * with W as its peer, integration.api_url = R, a short retry base.
 *   Two jobs on G: each job.completed event reaches R after FAILS refused
 *   attempts, every attempt signed right and carrying the event's key,
 *   R accepts each key once; `zentalk webhooks list --all --json` shows
 *   them delivered.
 *   R refuses everything: the event stays pending (the CLI shows it with
 *   its attempts and last error); G stops, R recovers, G starts again on
 *   the same data: the event is delivered (the outbox is in the store).
 *   An event written to the outbox by another process (a payout, as the
 *   ledger's batch code would) is delivered too; one that R answers 410
 *   is marked failed at once. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "keyed.h"
#include "webhook_rx.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_bridge.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define WH_SECRET "webhook-test-secret-1234567890"
#define FAILS 2

static struct keyed_node W, G;
static bool have_model;
static const char *cli_bin;
static char model_path[1024];

static struct zt_http_server *srv;
static atomic_int mode; /* 0: fail the first FAILS attempts; 1: refuse all (503); 2: 410 Gone */
static struct wh_rx R;

static void r_handler(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    (void)ud;
    int status = 503;
    struct wh_event *e = wh_rx_attempt(&R, req);
    if (e && e->accepted) {
        status = 200; /* already have it: the same answer again */
    } else if (e && atomic_load(&mode) == 2) {
        status = 410;
    } else if (e && atomic_load(&mode) == 0 && e->attempts > FAILS) {
        e->accepted = true;
        status = 200;
    }
    pthread_mutex_unlock(&R.mu);
    if (status == 200) zt_http_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
    else zt_http_resp_error(resp, status, status == 410 ? "gone" : "unavailable", "test receiver");
}

static int r_count(const char *type, bool accepted)
{
    return wh_rx_count(&R, type, accepted);
}

static bool wait_for(const char *type, int n, bool accepted, int timeout_ms)
{
    return wh_rx_wait(&R, type, n, accepted, timeout_ms);
}

static void start_g(void)
{
    char url[96];
    snprintf(url, sizeof url, "ZENTALK_INTEGRATION_API_URL=http://127.0.0.1:%u", zt_http_port(srv));
    const char *const env[] = {url, "ZENTALK_INTEGRATION_WEBHOOK_SECRET=" WH_SECRET,
                               "ZENTALK_INTEGRATION_WEBHOOK_RETRY_BASE_MS=50", "ZENTALK_INTEGRATION_TIMEOUT_MS=2000",
                               "ZENTALK_INTEGRATION_WEBHOOK_MAX_ATTEMPTS=20", NULL};
    const char *const args[] = {"--config", G.dir, NULL};
    node_spawn(&G.n, args, env, true, G.dir);
}

static int setup(void **state)
{
    (void)state;
    wh_rx_init(&R, WH_SECRET);
    struct zt_http_opts ho = {.host = "127.0.0.1", .threads = 2, .max_connections = 64, .max_header_bytes = 16384,
                              .max_body_bytes = 1 << 20, .timeout_s = 10, .handler = r_handler};
    assert_int_equal(zt_http_start(&ho, &srv), 0);
    (void)find_test_model("stories260K.gguf", model_path, sizeof model_path);
    have_model = access(model_path, R_OK) == 0;
    keyed_make(&G, "webhooks");
    if (have_model) {
        keyed_make(&W, "webhooks");
        struct keyed_node *gs[] = {&G};
        char *dw = keyed_tiny_worker(&W, model_path, "stories", gs, 1, 16);
        put_json_array(G.data, "peers.json", &dw, 1);
        zt_free(dw);
    }
    start_g();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    keyed_free(&W);
    keyed_free(&G);
    zt_http_stop(srv);
    wh_rx_deinit(&R);
    return 0;
}

static void chat(const char *content)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],\"max_tokens\":8}", content);
    json_decref(post_json(G.n.port, "/v1/chat/completions", NULL, body, 200));
}

/* `zentalk webhooks list` on G's data directory. */
static void cli_list(bool all, struct zt_buf *out)
{
    const char *args[] = {"webhooks", "list", "--json", "--data-dir", G.data, "--config", G.dir, all ? "--all" : NULL,
                          NULL};
    zt_buf_init(out, 1 << 20);
    assert_int_equal(run_prog(cli_bin, args, NULL, NULL, out, 0), 0);
}

static void test_delivered_signed_retried(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    atomic_store(&mode, 0);
    chat("Once upon a time");
    chat("The little dog");
    assert_true(wait_for("job.completed", 2, true, 20000));
    pthread_mutex_lock(&R.mu);
    assert_int_equal(R.bad_sig, 0);
    assert_int_equal(R.bad_key, 0);
    for (int i = 0; i < R.n; i++) {
        assert_true(zt_str_starts_with(R.k[i].key, "job.completed:"));
        assert_true(R.k[i].attempts >= FAILS + 1); /* the refused ones came again under the same key */
    }
    pthread_mutex_unlock(&R.mu);
    /* the node counts a delivery once it has read the receiver's answer,
     * which may be just after the receiver counted it */
    for (int i = 0; i < 50 && metric_value(G.n.port, "zentalk_webhooks_total{result=\"delivered\"}") < 2; i++)
        zt_time_sleep_ms(100);
    assert_int_equal(metric_value(G.n.port, "zentalk_webhooks_total{result=\"delivered\"}"), 2);
    assert_true(metric_value(G.n.port, "zentalk_webhooks_total{result=\"retried\"}") >= 2 * FAILS);
    struct zt_buf out;
    cli_list(true, &out);
    json_t *j = json_loads(zt_buf_str(&out), 0, NULL);
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "state")), "delivered");
    json_decref(j);
    zt_buf_deinit(&out);
}

static void test_restart_loses_nothing(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    int before = r_count("job.completed", true);
    atomic_store(&mode, 1); /* the API server is down */
    chat("A third question");
    assert_true(wait_for("job.completed", before + 1, false, 10000)); /* tried, refused */
    kill(G.n.pid, SIGTERM); /* a clean stop; its data stays for the restart */
    assert_int_equal(node_wait(&G.n, 10000), 0);
    node_cleanup(&G.n);
    struct zt_buf out;
    cli_list(false, &out);
    assert_non_null(strstr(zt_buf_str(&out), "\"state\": \"pending\""));
    assert_non_null(strstr(zt_buf_str(&out), "HTTP 503"));
    zt_buf_deinit(&out);
    /* another process writes a payout event to the outbox meanwhile */
    struct zt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    assert_int_equal(zt_config_set(&cfg, "node.data_dir", G.data, "test", NULL), 0);
    struct zt_store *st = NULL;
    assert_int_equal(zt_store_open_config(&cfg, NULL, &st, NULL), 0);
    json_t *d = json_pack("{s:s,s:s}", "batch", "7", "amount", "1000");
    bool added = false;
    assert_int_equal(zt_bridge_enqueue(st, "payout.batched", "payout.batched:7", d, zt_time_real_ms(), &added), 0);
    assert_true(added);
    assert_int_equal(zt_bridge_enqueue(st, "payout.batched", "payout.batched:7", d, zt_time_real_ms(), &added), 0);
    assert_false(added); /* the same event twice: one row */
    json_decref(d);
    zt_store_close(st);
    zt_config_deinit(&cfg);
    atomic_store(&mode, 0); /* back up */
    start_g();
    assert_true(wait_for("job.completed", before + 1, true, 20000));
    assert_true(wait_for("payout.batched", 1, true, 20000));
    pthread_mutex_lock(&R.mu);
    assert_int_equal(R.bad_sig, 0);
    assert_int_equal(R.bad_key, 0);
    pthread_mutex_unlock(&R.mu);
}

static void test_gone_fails_at_once(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    atomic_store(&mode, 2);
    chat("A fourth one");
    uint64_t until = zt_time_mono_ms() + 10000;
    while (metric_value(G.n.port, "zentalk_webhooks_total{result=\"failed\"}") < 1 && zt_time_mono_ms() < until)
        zt_time_sleep_ms(20);
    assert_int_equal(metric_value(G.n.port, "zentalk_webhooks_total{result=\"failed\"}"), 1);
    struct zt_buf out;
    cli_list(false, &out);
    assert_non_null(strstr(zt_buf_str(&out), "\"state\": \"failed\""));
    assert_non_null(strstr(zt_buf_str(&out), "HTTP 410"));
    zt_buf_deinit(&out);
    atomic_store(&mode, 0);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_webhooks")) return 2;
    cli_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivered_signed_retried),
        cmocka_unit_test(test_restart_loses_nothing),
        cmocka_unit_test(test_gone_fails_at_once),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
