/* test_payout_webhooks: payout webhooks from a live node's payout loop
 * (issue 18 item 5), black-box.
 *
 * R: a receiver in this process (the node's own HTTP server library) that
 * checks every attempt's signature (HMAC-SHA256 over timestamp and body)
 * and that its Idempotency-Key is the event's id, and dedupes by that key.
 * G: a gateway+orchestrator with chain.enabled, a payout key, a 2 s
 * dispute window (chain.dispute_window_s) and the payout loop every 300 ms
 * (ZT_TEST_MODE=1 ZT_TEST_PAYOUT_INTERVAL_MS, test only: the configured
 * interval is at least 60 s), integration.api_url = R with a short retry
 * base and a 1 s timeout. W: a worker joined to G, paid to its wallet.
 *
 *   A wallet's paid chat settles to W (payout.settled, its amount); the
 *   loop batches the earning once it is older than the dispute window
 *   (the event's `created` at least 2 s after the chat was sent), signs
 *   and exports it: payout.batched and payout.submitted, the batch's
 *   total that amount. R is down (503): `zentalk webhooks list` shows the
 *   three pending with their attempts and last error. R comes back, still
 *   refusing each event's first FAILS attempts: each is delivered, every
 *   attempt signed right and carrying its event's key; the first accepted
 *   answer is held past G's timeout, so G sends that event again: the
 *   duplicate carries the same key and R accepts it once. The CLI shows
 *   them delivered. A second chat's three events answered 410 are failed
 *   after one attempt, and the CLI shows them failed.
 *   Without ZT_TEST_MODE=1 a gateway refuses the interval's test setting
 *   (logged `test_setting_refused`).
 * Usage: test_payout_webhooks PATH/zentalk-node PATH/zentalk */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "keyed.h"
#include "wallet.h"
#include "webhook_rx.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define WH_SECRET "payout-webhook-secret-1234567890"
#define JWT_SECRET "payout-webhooks-secret-abcdefghijklmnopqrstuvwxyz"
/* the web3.js docs' example key (as test_ledger_network) and its address */
#define ADDRESS "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23"
#define SKHEX "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
#define WK_WALLET "0x00000000000000000000000000000000000000aa"
#define PASS_VAR "ZT_TEST_PAYOUT_PASS"
#define DISPUTE_MS 2000
#define FAILS 2
#define HOLD_MS 1500 /* longer than G's integration.timeout_ms */

static const char *cli_bin;
static char cfg_dir[256], key_env[400], wk_id[64];
static struct node gw, wk;

enum { R_DOWN, R_UP, R_GONE };
static struct zt_http_server *srv;
static atomic_int mode;
static bool held; /* the one answer held past G's timeout was (under R.mu) */
static struct wh_rx R;

static void r_handler(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    (void)ud;
    int status = 503;
    bool hold = false;
    struct wh_event *e = wh_rx_attempt(&R, req);
    if (e && e->accepted) { /* have it: the same answer again, nothing done twice */
        status = 200;
    } else if (e && atomic_load(&mode) == R_GONE) {
        status = 410;
    } else if (e && atomic_load(&mode) == R_UP && e->attempts > FAILS) {
        e->accepted = true;
        status = 200;
        if (!held && zt_str_starts_with(e->type, "payout.")) held = hold = true;
    }
    pthread_mutex_unlock(&R.mu);
    if (hold) zt_time_sleep_ms(HOLD_MS); /* taken, but the answer comes too late: G sends it again */
    if (status == 200) zt_http_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
    else zt_http_resp_error(resp, status, status == 410 ? "gone" : "unavailable", "test receiver");
}

/* G's log so far, on stderr: what a failed wait shows. */
static void dump_gw(void)
{
    struct zt_buf e;
    zt_buf_init(&e, 1 << 20);
    node_collect_stderr(&gw, &e);
    fprintf(stderr, "--- the gateway's log:\n%s\n", zt_buf_str(&e));
    zt_buf_deinit(&e);
}

static bool r_wait(const char *type, int n, bool accepted, int timeout_ms)
{
    if (wh_rx_wait(&R, type, n, accepted, timeout_ms)) return true;
    dump_gw();
    return false;
}

static int setup(void **state)
{
    (void)state;
    wh_rx_init(&R, WH_SECRET);
    atomic_init(&mode, R_DOWN);
    if (!net_config(cfg_dir, sizeof cfg_dir, "payoutwh", 2)) return 0;
    struct zt_http_opts ho = {.host = "127.0.0.1", .threads = 4, .max_connections = 64, .max_header_bytes = 16384,
                              .max_body_bytes = 1 << 20, .timeout_s = 10, .handler = r_handler};
    assert_int_equal(zt_http_start(&ho, &srv), 0);
    /* the payout key, made as an operator makes it */
    char key_path[300];
    snprintf(key_path, sizeof key_path, "%s/payout.key", cfg_dir);
    snprintf(key_env, sizeof key_env, "ZENTALK_CHAIN_PAYOUT_KEY_FILE=%s", key_path);
    const char *const kg_args[] = {"payouts", "keygen", "--passphrase-env", PASS_VAR, "--out", key_path, NULL};
    const char *const kg_env[] = {PASS_VAR "=correct horse battery staple", NULL};
    assert_int_equal(run_prog(cli_bin, kg_args, kg_env, NULL, NULL, 0), 0);
    char url[96], dispute[64];
    snprintf(url, sizeof url, "ZENTALK_INTEGRATION_API_URL=http://127.0.0.1:%u", zt_http_port(srv));
    snprintf(dispute, sizeof dispute, "ZENTALK_CHAIN_DISPUTE_WINDOW_S=%d", DISPUTE_MS / 1000);
    const char *const gw_env[] = {"ZENTALK_CHAIN_ENABLED=true",
                                  "ZENTALK_ENCRYPTION_JWT_SECRET=" JWT_SECRET,
                                  "ZENTALK_CHAIN_RPC_URL=http://127.0.0.1:9",
                                  "ZENTALK_CHAIN_WALLET_ADDRESS=0x0000000000000000000000000000000000000001",
                                  "ZENTALK_CHAIN_MIN_STAKE=0",
                                  "ZENTALK_CHAIN_MIN_PAYOUT=0.000000000000000001",
                                  dispute,
                                  "ZENTALK_CHAIN_PAYOUT_PASSPHRASE_ENV=" PASS_VAR,
                                  PASS_VAR "=correct horse battery staple",
                                  key_env,
                                  "ZT_TEST_MODE=1",
                                  "ZT_TEST_PAYOUT_INTERVAL_MS=300",
                                  url,
                                  "ZENTALK_INTEGRATION_WEBHOOK_SECRET=" WH_SECRET,
                                  "ZENTALK_INTEGRATION_WEBHOOK_RETRY_BASE_MS=50",
                                  "ZENTALK_INTEGRATION_TIMEOUT_MS=1000",
                                  "ZENTALK_INTEGRATION_WEBHOOK_MAX_ATTEMPTS=40",
                                  NULL};
    const char *const gargs[] = {"--roles", "gateway,orchestrator", NULL};
    node_spawn(&gw, gargs, gw_env, true, NULL);
    const char *const wk_env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZENTALK_CHAIN_WALLET_ADDRESS=" WK_WALLET,
                                  NULL};
    net_worker(&wk, cfg_dir, gw.url, wk_env, NULL, NULL, wk_id);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (wk.pid > 0) node_cleanup(&wk);
    if (gw.pid > 0) node_cleanup(&gw);
    if (cfg_dir[0]) rm_rf(cfg_dir);
    if (srv) zt_http_stop(srv);
    wh_rx_deinit(&R);
    return 0;
}

/* The workers G's orchestrator counts live (its view needs an admin here:
 * encryption.jwt_secret is set), polled until there is one. */
static long live_workers(const char *admin, int timeout_ms)
{
    long live = 0;
    for (uint64_t until = zt_time_mono_ms() + (uint64_t)timeout_ms; live < 1 && zt_time_mono_ms() < until;) {
        struct resp r;
        http_auth(gw.port, "GET", "/v1/orchestrator/nodes", admin, NULL, NULL, &r);
        json_t *j = resp_json(&r);
        live = (long)json_integer_value(json_object_get(j, "live"));
        json_decref(j);
        resp_free(&r);
        if (live < 1) zt_time_sleep_ms(100);
    }
    return live;
}

/* A paid chat (a new content each: the same one would be a result-cache hit, which earns nothing). */
static void chat(const char *token, const char *content)
{
    char body[256], auth[300];
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],\"max_tokens\":8}", content);
    snprintf(auth, sizeof auth, "Bearer %s", token);
    struct resp r;
    http_auth(gw.port, "POST", "/v1/chat/completions", auth, "application/json", body, &r);
    if (r.status != 200) fail_msg("chat: %ld %s", r.status, zt_buf_str(&r.body));
    resp_free(&r);
}

/* `zentalk webhooks list --json` on G's data directory: the rows of type
 * prefix "payout.", in a new array. */
static json_t *cli_payout_rows(bool all)
{
    const char *args[] = {"webhooks", "list", "--json", "--data-dir", gw.data_dir, all ? "--all" : NULL, NULL};
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(run_prog(cli_bin, args, NULL, NULL, &out, 0), 0);
    json_t *j = json_loads(zt_buf_str(&out), 0, NULL);
    zt_buf_deinit(&out);
    assert_non_null(j);
    json_t *rows = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) if (zt_str_starts_with(json_string_value(json_object_get(v, "type")), "payout."))
        json_array_append(rows, v);
    json_decref(j);
    return rows;
}

static const char *row_str(json_t *rows, size_t i, const char *field)
{
    return json_string_value(json_object_get(json_array_get(rows, i), field));
}

static void check_batch_event(const char *type, int nth, const char *state, long long batch, int64_t sent_ms)
{
    json_t *b = wh_rx_body(&R, type, nth);
    assert_non_null(b);
    json_t *d = json_object_get(b, "data");
    char key[96];
    snprintf(key, sizeof key, "payout.batch:%lld:%s", batch, state);
    assert_string_equal(json_string_value(json_object_get(b, "id")), key);
    assert_int_equal(json_integer_value(json_object_get(d, "batch_id")), batch);
    assert_string_equal(json_string_value(json_object_get(d, "state")), state);
    assert_int_equal(json_integer_value(json_object_get(d, "leaves")), 1);
    const char *total = json_string_value(json_object_get(d, "total"));
    assert_true(total && total[0] >= '1' && total[0] <= '9');
    /* built by the loop once the earning was older than the dispute window */
    int64_t created = (int64_t)json_integer_value(json_object_get(b, "created"));
    if (created < sent_ms + DISPUTE_MS)
        fail_msg("%s made %lld ms after the chat was sent, within the %d ms dispute window", key,
                 (long long)(created - sent_ms), DISPUTE_MS);
    json_decref(b);
}

/* Until the CLI lists n payout events (all: delivered ones too), every
 * one in state (at most 10 s); then whether it does. */
static bool cli_wait_all(bool all, size_t n, const char *want)
{
    bool done = false;
    for (int t = 0; t < 100 && !done; t++) {
        json_t *rows = cli_payout_rows(all);
        done = json_array_size(rows) == n;
        for (size_t i = 0; done && i < n; i++) done = strcmp(row_str(rows, i, "state"), want) == 0;
        if (!done && t == 99) {
            char *d = json_dumps(rows, JSON_INDENT(1));
            fprintf(stderr, "the CLI's payout events, not %zu %s: %s\n", n, want, d ? d : "?");
            free(d);
            dump_gw();
        }
        json_decref(rows);
        if (!done) zt_time_sleep_ms(100);
    }
    return done;
}

/* The nth payout.settled event: the worker's earning for a job (its key
 * into key_out when not NULL); the batch built later pays that amount. */
static void check_settled(int nth, char *key_out)
{
    json_t *b = wh_rx_body(&R, "payout.settled", nth);
    assert_non_null(b);
    json_t *d = json_object_get(b, "data");
    const char *job = json_string_value(json_object_get(d, "job_id"));
    assert_non_null(job);
    char key[128];
    snprintf(key, sizeof key, "payout.settled:%s", job);
    assert_string_equal(json_string_value(json_object_get(b, "id")), key);
    assert_string_equal(json_string_value(json_object_get(d, "worker")), wk_id);
    const char *amount = json_string_value(json_object_get(d, "amount"));
    assert_true(amount && amount[0] >= '1' && amount[0] <= '9');
    json_t *batched = wh_rx_body(&R, "payout.batched", nth); /* one earning per batch here */
    if (batched)
        assert_string_equal(json_string_value(json_object_get(json_object_get(batched, "data"), "total")), amount);
    json_decref(batched);
    if (key_out) snprintf(key_out, 128, "%s", key);
    json_decref(b);
}

static void test_payout_webhooks(void **state)
{
    (void)state;
    if (!cfg_dir[0]) zt_skip("tests/models/stories260K.gguf is absent");
    char token[256], admin[1024];
    keyed_bearer_role(JWT_SECRET, "ops", "admin", admin, sizeof admin);
    assert_int_equal(live_workers(admin, 20000), 1);
    wallet_login(gw.port, ADDRESS, SKHEX, token, sizeof token);
    json_decref(post_json(gw.port, "/v1/admin/ledger/deposit", admin,
                          "{\"address\":\"" ADDRESS "\",\"amount\":\"1000000000000000000000\",\"key\":\"d-1\"}", 200));

    /* R down: the batch is built, signed and exported; its events wait */
    int64_t sent = zt_time_real_ms();
    chat(token, "Once upon a time");
    assert_true(r_wait("payout.batched", 1, false, 20000));
    assert_true(r_wait("payout.submitted", 1, false, 10000));
    check_batch_event("payout.batched", 0, "pending", 1, sent);
    check_batch_event("payout.submitted", 0, "submitted", 1, sent);
    assert_true(r_wait("payout.settled", 1, false, 10000));
    check_settled(0, NULL);
    json_t *rows = cli_payout_rows(false);
    if (json_array_size(rows) != 3) {
        char *d = json_dumps(rows, JSON_INDENT(1));
        fail_msg("the CLI's pending payout events (settled, batched, submitted): %s", d);
    }
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(row_str(rows, i, "state"), "pending");
        assert_string_equal(row_str(rows, i, "last_error"), "HTTP 503");
        assert_true(json_integer_value(json_object_get(json_array_get(rows, i), "attempts")) >= 1);
    }
    json_decref(rows);

    /* R up (still refusing each event's first FAILS attempts): both delivered, one twice */
    atomic_store(&mode, R_UP);
    assert_true(r_wait("payout.batched", 1, true, 20000));
    assert_true(r_wait("payout.submitted", 1, true, 20000));
    assert_true(r_wait("payout.settled", 1, true, 20000));
    assert_true(cli_wait_all(true, 3, "delivered"));
    pthread_mutex_lock(&R.mu);
    assert_int_equal(R.bad_sig, 0);
    assert_int_equal(R.bad_key, 0); /* every attempt, the duplicate too, under its event's key */
    assert_true(held);
    assert_true(R.duplicates >= 1); /* the held one came again: at least once, deduplicated here */
    for (int i = 0; i < R.n; i++)
        if (zt_str_starts_with(R.k[i].type, "payout.")) {
            assert_true(R.k[i].attempts >= FAILS + 1);
            assert_true(R.k[i].accepted);
        }
    pthread_mutex_unlock(&R.mu);

    /* a second batch, answered 410 Gone: failed at once, shown failed */
    atomic_store(&mode, R_GONE);
    sent = zt_time_real_ms();
    chat(token, "The little dog");
    assert_true(r_wait("payout.batched", 2, false, 20000));
    check_batch_event("payout.batched", 1, "pending", 2, sent);
    assert_true(r_wait("payout.submitted", 2, false, 20000));
    check_batch_event("payout.submitted", 1, "submitted", 2, sent);
    assert_true(r_wait("payout.settled", 2, false, 10000));
    char job2[128];
    check_settled(1, job2);
    assert_true(cli_wait_all(false, 3, "failed")); /* pending or failed: the second chat's three, failed */
    rows = cli_payout_rows(false);
    size_t i;
    json_t *v;
    json_array_foreach(rows, i, v)
    {
        const char *k = json_string_value(json_object_get(v, "key"));
        assert_true(zt_str_starts_with(k, "payout.batch:2:") || strcmp(k, job2) == 0);
        assert_string_equal(json_string_value(json_object_get(v, "last_error")), "HTTP 410");
        assert_int_equal(json_integer_value(json_object_get(v, "attempts")), 1);
    }
    json_decref(rows);
    assert_int_equal(metric_value(gw.port, "zentalk_ledger_payout_batches_total"), 2);
}

/* Without ZT_TEST_MODE=1 the payout interval's test setting is refused
 * (logged) and chain.payout_interval_s holds: a production node ignores it. */
static void test_interval_refused(void **state)
{
    (void)state;
    const char *const env[] = {"ZENTALK_CHAIN_ENABLED=true", "ZENTALK_ENCRYPTION_JWT_SECRET=" JWT_SECRET,
                               "ZENTALK_CHAIN_RPC_URL=http://127.0.0.1:9", "ZENTALK_CHAIN_WALLET_ADDRESS=0x0000000000000000000000000000000000000001",
                               "ZT_TEST_PAYOUT_INTERVAL_MS=300", "ZT_TEST_MODE", NULL};
    const char *const args[] = {"--roles", "gateway,orchestrator", NULL};
    struct node n;
    struct zt_buf e;
    zt_buf_init(&e, 1 << 20);
    if (!node_start(&n, args, env, NULL, &e)) fail_msg("the gateway did not start: %s", zt_buf_str(&e));
    for (int i = 0; i < 50 && !strstr(zt_buf_str(&e), "orchestrator_ready"); i++) node_collect_stderr(&n, &e);
    assert_non_null(strstr(zt_buf_str(&e), "test_setting_refused name=ZT_TEST_PAYOUT_INTERVAL_MS"));
    assert_null(strstr(zt_buf_str(&e), "test_setting name=ZT_TEST_PAYOUT_INTERVAL_MS"));
    zt_buf_deinit(&e);
    node_stop(&n, 10000);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_payout_webhooks")) return 2;
    cli_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payout_webhooks),
        cmocka_unit_test(test_interval_refused),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
