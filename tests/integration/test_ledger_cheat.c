/* test_ledger_cheat.c: the CHAIN books on a verifying loopback network
 * (issue 12, "Done when"): one gateway+orchestrator with chain.enabled and
 * orchestrator.verification.rate 1, two honest workers and one cheating
 * worker (the test-only ZT_TEST_FAULT_EVERY with ZT_TEST_MODE=1, as in
 * test_verify_network: it alters every second token id it streams), all
 * joined with --join and staked by an admin deposit. The cheater asks the
 * lowest price: the first chat's ceiling (zentalk.max_price_per_1k) lets
 * the scheduler place it there alone.
 *
 *  - a wallet's chats: the cheater's job is caught by verification (502
 *    verification_failed, its reservation refunded), the cheater is banned
 *    and slashed: chain.slash_amount leaves its stake, shared by the
 *    honest checkers, seen in /v1/rewards (account=stake: the "slash:JOB"
 *    entry) and in `zentalk ledger history stake:NODE`;
 *  - an honest verified job moves credits from the user to the provider
 *    that ran it: its "settle:JOB" entry is the cost of the answer's
 *    tokens at that worker's own prices (its join record's, not the
 *    gateway's), the user paid that cost and the fee and nothing for the
 *    refunded job; `zentalk ledger audit` holds.
 * Usage: test_ledger_cheat PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"
#include "keyed.h"
#include "wallet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_ledger.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define SECRET "ledger-cheat-secret-abcdefghijklmnopqrstuvwxyz0123"
/* the web3.js docs' example key (as test_wallet_api) and its address */
#define ADDRESS "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23"
#define SKHEX "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
#define N_HONEST 2
#define TOKEN ((zt_u128)1000000000000000000u) /* base units of one token */

static const char *cli_bin;
static bool have_model;
static struct net_cheat net; /* its gateway net.gw, net.cheat_id, net.wk_id[] */

static const char *const gw_env[] = {"ZENTALK_CHAIN_ENABLED=true",
                                     "ZENTALK_ENCRYPTION_JWT_SECRET=" SECRET,
                                     "ZENTALK_CHAIN_RPC_URL=http://127.0.0.1:9",
                                     "ZENTALK_CHAIN_WALLET_ADDRESS=0x0000000000000000000000000000000000000001",
                                     "ZENTALK_CHAIN_PRICE_PROMPT_PER_1K=1",
                                     "ZENTALK_CHAIN_PRICE_COMPLETION_PER_1K=2",
                                     "ZENTALK_CHAIN_ORCHESTRATOR_FEE_BPS=1000",
                                     "ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=5000",
                                     "ZENTALK_ORCHESTRATOR_VERIFICATION_RATE=1",
                                     NULL};
static const char *const wk_env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZENTALK_CHAIN_PRICE_PROMPT_PER_1K=0.5",
                                     "ZENTALK_CHAIN_PRICE_COMPLETION_PER_1K=0.75", NULL};
static const char *const cheat_env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZENTALK_CHAIN_PRICE_PROMPT_PER_1K=0.1",
                                        "ZENTALK_CHAIN_PRICE_COMPLETION_PER_1K=0.1", "ZT_TEST_MODE=1",
                                        "ZT_TEST_FAULT_EVERY=2", NULL};

static int group_setup(void **state)
{
    (void)state;
    have_model = net_cheat_start(&net, "cheatcfg", N_HONEST, gw_env, cheat_env, wk_env);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    net_cheat_stop(&net);
    return 0;
}

static json_t *get_json(const char *path, const char *auth)
{
    struct resp r;
    http_auth(net.gw.port, "GET", path, auth, NULL, NULL, &r);
    if (r.status != 200) fail_msg("GET %s: %ld %s", path, r.status, zt_buf_str(&r.body));
    json_t *j = resp_json(&r);
    resp_free(&r);
    return j;
}

static long live_workers(const char *admin)
{
    json_t *j = get_json("/v1/orchestrator/nodes", admin);
    long live = (long)json_integer_value(json_object_get(j, "live"));
    json_decref(j);
    return live;
}

/* an admin deposit: body is the JSON of POST /v1/admin/ledger/deposit */
static void deposit(const char *admin, const char *body)
{
    json_t *j = post_json(net.gw.port, "/v1/admin/ledger/deposit", admin, body, 200);
    json_decref(j);
}

static zt_u128 u128_of(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    zt_u128 v = 0;
    if (!s || zt_u128_parse(s, strlen(s), &v)) fail_msg("%s is not an amount", k);
    return v;
}

/* node's /v1/rewards history of account ("" for its provider account): the
 * entry keyed key, or NULL (a new reference) */
static json_t *entry_of(const char *admin, const char *node, const char *account, const char *key)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/rewards?node=%s%s%s", node, account[0] ? "&account=" : "", account);
    json_t *j = get_json(path, admin), *found = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "history"), i, e) {
        if (zt_str_eq(json_string_value(json_object_get(e, "key")), key)) found = json_incref(e);
    }
    json_decref(j);
    return found;
}

static bool honest(const char *id)
{
    for (int i = 0; i < N_HONEST; i++)
        if (zt_str_eq(net.wk_id[i], id)) return true;
    return false;
}

static void test_cheater_slashed(void **state)
{
    (void)state;
    if (!have_model) zt_skip("stories260K.gguf not found (tests/models)");
    char admin[1024], token[256], auth[300], body[300];
    keyed_bearer_role(SECRET, "ops", "admin", admin, sizeof admin);
    for (int i = 0; i < 200 && live_workers(admin) != N_HONEST + 1; i++) zt_time_sleep_ms(100);
    assert_int_equal(live_workers(admin), N_HONEST + 1);
    /* every worker stakes chain.min_stake (100 tokens); the wallet gets 1000 */
    const char *all[N_HONEST + 1] = {net.cheat_id, net.wk_id[0], net.wk_id[1]};
    for (int i = 0; i <= N_HONEST; i++) {
        snprintf(body, sizeof body, "{\"node\":\"%s\",\"amount\":\"100000000000000000000\",\"key\":\"stake-%d\"}",
                 all[i], i);
        deposit(admin, body);
    }
    deposit(admin, "{\"address\":\"" ADDRESS "\",\"amount\":\"1000000000000000000000\",\"key\":\"dep-1\"}");
    wallet_login(net.gw.port, ADDRESS, SKHEX, token, sizeof token);
    snprintf(auth, sizeof auth, "Bearer %s", token);
    /* the first chat with a ceiling of 0.1 tokens per 1k: only the cheater
     * (0.1) is within it, so it runs there (checkers are not held to it:
     * the fee account pays them); the check catches it */
    struct resp r;
    http_auth(net.gw.port, "POST", "/v1/chat/completions", auth, "application/json",
              "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
              "\"max_tokens\":8,\"seed\":41,\"temperature\":0.8,\"zentalk\":{\"max_price_per_1k\":100000000000000000}}",
              &r);
    if (r.status != 502) {
        struct zt_buf lg;
        zt_buf_init(&lg, 1 << 22);
        node_collect_stderr(&net.gw, &lg);
        fprintf(stderr, "GWLOG %s\n", zt_buf_str(&lg));
        fail_msg("the cheater's job: %ld %s", r.status, zt_buf_str(&r.body));
    }
    assert_error_json(&r, 502, "verification_failed");
    resp_free(&r);
    json_t *n = get_json("/v1/orchestrator/nodes", admin);
    size_t i;
    json_t *e;
    bool banned = false;
    json_array_foreach(json_object_get(n, "nodes"), i, e) {
        if (zt_str_eq(json_string_value(json_object_get(e, "node_id")), net.cheat_id))
            banned = json_is_true(json_object_get(e, "banned"));
    }
    json_decref(n);
    assert_true(banned);
    /* then an honest, verified chat */
    http_auth(net.gw.port, "POST", "/v1/chat/completions", auth, "application/json",
              "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
              "\"max_tokens\":8,\"seed\":42,\"temperature\":0.8}",
              &r);
    if (r.status != 200) fail_msg("chat: %ld %s", r.status, zt_buf_str(&r.body));
    json_t *j = resp_json(&r);
    resp_free(&r);
    json_t *z = json_object_get(j, "zentalk");
    assert_string_equal(json_string_value(json_object_get(z, "verification")), "verified");
    char paid_job_on[64];
    zt_strlcpy(paid_job_on, json_string_value(json_object_get(z, "ran_on")), sizeof paid_job_on);
    assert_true(honest(paid_job_on));
    json_t *u = json_object_get(j, "usage");
    uint64_t pt = (uint64_t)json_integer_value(json_object_get(u, "prompt_tokens"));
    uint64_t ct = (uint64_t)json_integer_value(json_object_get(u, "completion_tokens"));
    assert_true(pt > 0 && ct > 0);
    json_decref(j);
    /* the slash: chain.slash_amount (10 tokens) off the cheater's stake, in
     * /v1/rewards and `zentalk ledger history stake:NODE` */
    char path[256], stake_acct[96];
    snprintf(path, sizeof path, "/v1/rewards?node=%s&account=stake", net.cheat_id);
    j = NULL;
    for (int k = 0; k < 100; k++) { /* the verdict is settled after the answer */
        json_decref(j);
        j = get_json(path, admin);
        if (u128_of(j, "staked") != 100 * TOKEN) break;
        zt_time_sleep_ms(100);
    }
    assert_true(u128_of(j, "staked") == 90 * TOKEN);
    json_t *h0 = json_array_get(json_object_get(j, "history"), 0);
    const char *slash_key = json_string_value(json_object_get(h0, "key"));
    assert_non_null(slash_key);
    assert_true(strncmp(slash_key, "slash:", 6) == 0);
    assert_string_equal(json_string_value(json_object_get(h0, "direction")), "debit");
    assert_true(u128_of(h0, "amount") == 10 * TOKEN);
    char slashed_job[ZT_LEDGER_KEY_MAX + 1];
    zt_strlcpy(slashed_job, slash_key, sizeof slashed_job);
    json_decref(j);
    snprintf(stake_acct, sizeof stake_acct, "stake:%s", net.cheat_id);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    const char *const sh_args[] = {"ledger", "history", stake_acct, "--data-dir", net.gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, sh_args, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), slashed_job));
    assert_non_null(strstr(zt_buf_str(&out), "-10000000000000000000 "));
    /* the honest checkers shared the slash (each of their provider histories holds it) */
    int shared = 0;
    for (int w = 0; w < N_HONEST; w++) {
        json_t *share = entry_of(admin, net.wk_id[w], "", slashed_job);
        if (share) {
            assert_string_equal(json_string_value(json_object_get(share, "direction")), "credit");
            shared++;
        }
        json_decref(share);
    }
    assert_true(shared >= 1);
    /* the honest verified job: its settle entry is the cost at the worker's own prices (0.5, 0.75) */
    struct zt_ledger_prices p = {.prompt_per_1k = TOKEN / 2, .completion_per_1k = TOKEN / 4 * 3, .fee_bps = 1000};
    zt_u128 cost, fee;
    assert_int_equal(zt_ledger_job_cost(&p, pt, ct, &cost, &fee), 0);
    snprintf(path, sizeof path, "/v1/rewards?node=%s", paid_job_on);
    j = get_json(path, admin);
    json_t *settle = NULL;
    json_array_foreach(json_object_get(j, "history"), i, e) {
        const char *key = json_string_value(json_object_get(e, "key"));
        if (key && strncmp(key, "settle:", 7) == 0 && !settle) settle = e;
    }
    assert_non_null(settle);
    if (u128_of(settle, "amount") != cost) {
        char cs[ZT_U128_STR_LEN];
        zt_u128_format(cost, cs);
        fail_msg("settled %s for %llu + %llu tokens at the worker's prices, want %s",
                 json_string_value(json_object_get(settle, "amount")), (unsigned long long)pt,
                 (unsigned long long)ct, cs);
    }
    json_decref(j);
    /* the user: the cost and the fee of the verified job, nothing for the caught one (refunded) */
    j = get_json("/v1/balance", auth);
    zt_u128 bal = u128_of(j, "balance");
    json_decref(j);
    assert_true(bal == 1000 * TOKEN - cost - fee);
    zt_buf_reset(&out);
    const char *const uh_args[] = {"ledger", "history", ADDRESS, "--json", "--data-dir", net.gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, uh_args, NULL, NULL, &out, 0), 0);
    char refund_key[ZT_LEDGER_KEY_MAX + 8];
    snprintf(refund_key, sizeof refund_key, "refund:%s", slashed_job + 6);
    assert_non_null(strstr(zt_buf_str(&out), refund_key));
    zt_buf_reset(&out);
    const char *const aud_args[] = {"ledger", "audit", "--data-dir", net.gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, aud_args, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "ledger audit: ok"));
    zt_buf_deinit(&out);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_ledger_cheat")) return 2;
    cli_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cheater_slashed),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
