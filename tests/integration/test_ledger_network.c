/* test_ledger_network.c: chain.enabled on a loopback network (issue 12
 * item 3): a gateway+orchestrator with chain.enabled and one worker that
 * joins it with --join, serving stories260K.gguf.
 *
 *  - a caller that is not a wallet session (anonymous, a JWT user) is refused with
 *    402 payment_required, and so is a wallet session with no balance (a
 *    JSON error naming the wallet); nothing is reserved for them;
 *  - after a deposit (minted into the gateway's ledger) the wallet's chat
 *    runs on the worker, and the books move exactly: the worker's provider
 *    account gets the cost of the tokens the answer reports, the fee
 *    account chain.orchestrator_fee_bps of it, the user the rest of the
 *    reservation back, escrow ends at zero, and the audit holds;
 *  - GET /v1/balance and GET /v1/rewards read the same books (403 for a
 *    balance without a wallet, 400 without a node), and POST
 *    /v1/admin/ledger/deposit mints once per key (admin only; a replay
 *    mints nothing, another body under the key is 409);
 *  - `zentalk ledger balance|deposit|audit` on the gateway's database
 *    agree (a deposit once per key, the audit clean).
 * Usage: test_ledger_network PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <jwt.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_hex.h"
#include "zentalk/zt_keccak.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define SECRET "ledger-network-secret-abcdefghijklmnopqrstuvwxyz"
/* the web3.js docs' example key (as test_wallet_api) and its address */
#define ADDRESS "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23"
#define SKHEX "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

static const char *cli_bin;
static char model_path[1024];
static char cfg_dir[256];
static struct node gw, wk;
static char wk_id[64];

static const char *const gw_env[] = {"ZENTALK_CHAIN_ENABLED=true",
                                                                          "ZENTALK_ENCRYPTION_JWT_SECRET=" SECRET,
                                     "ZENTALK_CHAIN_RPC_URL=http://127.0.0.1:9",
                                     "ZENTALK_CHAIN_WALLET_ADDRESS=0x0000000000000000000000000000000000000001",
                                     "ZENTALK_CHAIN_PRICE_PROMPT_PER_1K=1",
                                     "ZENTALK_CHAIN_PRICE_COMPLETION_PER_1K=2",
                                     "ZENTALK_CHAIN_ORCHESTRATOR_FEE_BPS=1000",
                                     NULL};
static const char *const wk_env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};

static int group_setup(void **state)
{
    (void)state;
    if (!find_test_model("stories260K.gguf", model_path, sizeof model_path)) return 0;
    tmp_dir(cfg_dir, sizeof cfg_dir, "chaincfg");
    char yaml[1200];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 16\n",
             model_path);
    put_file(cfg_dir, "models.yaml", yaml);
    put_file(cfg_dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 4\n");
    const char *const gargs[] = {"--roles", "gateway,orchestrator", NULL};
    node_spawn(&gw, gargs, gw_env, true, NULL);
    const char *const wargs[] = {"--config", cfg_dir, "--roles", "worker", "--join", gw.url, NULL};
    node_spawn(&wk, wargs, wk_env, true, NULL);
    struct resp r;
    http(wk.port, "GET", "/v1/node/descriptor", NULL, NULL, &r);
    json_t *d = resp_json(&r);
    zt_strlcpy(wk_id, json_string_value(json_object_get(d, "node_id")), sizeof wk_id);
    json_decref(d);
    resp_free(&r);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (wk.pid > 0) node_cleanup(&wk);
    if (gw.pid > 0) node_cleanup(&gw);
    if (cfg_dir[0]) rm_rf(cfg_dir);
    return 0;
}

/* "Bearer <HS256 JWT>" for sub with role (as test_auth_api mints them) */
static void jwt_bearer(const char *sub, const char *role, char *out, size_t cap)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grant(j, "sub", sub), 0);
    assert_int_equal(jwt_add_grant(j, "role", role), 0);
    assert_int_equal(jwt_add_grant(j, "iss", "zentalk-api"), 0);
    assert_int_equal(jwt_add_grant(j, "aud", "zentalk-ai"), 0);
    assert_int_equal(jwt_add_grant_int(j, "exp", (long)time(NULL) + 600), 0);
    assert_int_equal(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
    char *t = jwt_encode_str(j);
    assert_non_null(t);
    snprintf(out, cap, "Bearer %s", t);
    free(t);
    jwt_free(j);
}

static long live_workers(void)
{
    struct resp r;
    char admin[1024];
    jwt_bearer("ops", "admin", admin, sizeof admin);
    http_auth(gw.port, "GET", "/v1/orchestrator/nodes", admin, NULL, NULL, &r);
    json_t *j = resp_json(&r);
    long live = (long)json_integer_value(json_object_get(j, "live"));
    json_decref(j);
    resp_free(&r);
    return live;
}

/* a wallet session for ADDRESS: nonce, personal_sign, login */
static void wallet_login(char *token, size_t cap)
{
    struct resp r;
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", ADDRESS);
    http_auth(gw.port, "POST", "/v1/auth/wallet/nonce", NULL, "application/json", body, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    const char *msg = json_string_value(json_object_get(j, "message"));
    assert_non_null(msg);
    uint8_t sk[32], h[32], sig[65];
    assert_int_equal(zt_hex_decode_str(sk, 32, SKHEX, ZT_HEX_LOWER), 0);
    zt_eip191_hash(msg, strlen(msg), h);
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    secp256k1_ecdsa_recoverable_signature rs;
    int recid = -1;
    assert_int_equal(secp256k1_ecdsa_sign_recoverable(ctx, &rs, h, sk, NULL, NULL), 1);
    assert_int_equal(secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig, &recid, &rs), 1);
    secp256k1_context_destroy(ctx);
    sig[64] = (uint8_t)(27 + recid);
    char sighex[2 + 130 + 1] = "0x";
    zt_hex_encode(sighex + 2, sig, 65);
    json_t *b = json_pack("{s:s,s:s,s:s}", "address", ADDRESS, "message", msg, "signature", sighex);
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    json_decref(j);
    resp_free(&r);
    http_auth(gw.port, "POST", "/v1/auth/wallet/login", NULL, "application/json", s, &r);
    free(s);
    if (r.status != 200) fail_msg("login: %ld %s", r.status, zt_buf_str(&r.body));
    j = resp_json(&r);
    const char *t = json_string_value(json_object_get(j, "session_token"));
    assert_non_null(t);
    zt_strlcpy(token, t, cap);
    json_decref(j);
    resp_free(&r);
}

static void chat_auth(const char *auth, struct resp *r)
{
    static const char body[] = "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                               "\"max_tokens\":8}";
    http_auth(gw.port, "POST", "/v1/chat/completions", auth, "application/json", body, r);
}

static void chat(const char *token, struct resp *r)
{
    static const char body[] = "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                               "\"max_tokens\":8,\"seed\":7}";
    char auth[300] = "";
    if (token) snprintf(auth, sizeof auth, "Bearer %s", token);
    http_auth(gw.port, "POST", "/v1/chat/completions", token ? auth : NULL, "application/json", body, r);
}

struct books {
    struct zt_store *st;
    struct zt_ledger *l;
};

static void books_open(struct books *b)
{
    char path[400];
    snprintf(path, sizeof path, "%s/zentalk.db", gw.data_dir);
    struct zt_store_opts o = {.path = path, .busy_timeout_ms = 10000, .tx_attempts = 50};
    assert_int_equal(zt_store_open("sqlite", &o, &b->st), 0);
    assert_int_equal(zt_ledger_new(b->st, &b->l), 0);
}

static void books_close(struct books *b)
{
    zt_ledger_free(b->l);
    zt_store_close(b->st);
}

static zt_u128 balance(struct books *b, enum zt_ledger_kind kind, const char *owner)
{
    int64_t id;
    struct zt_ledger_bal x;
    if (kind == ZT_LEDGER_FEE || kind == ZT_LEDGER_ESCROW)
        assert_int_equal(zt_ledger_system_account(b->l, kind, &id), 0);
    else
        assert_int_equal(zt_ledger_account(b->l, kind, owner, NULL, &id), 0);
    assert_int_equal(zt_ledger_balance(b->l, id, &x), 0);
    assert_false(x.neg);
    return x.mag;
}

static void test_paid_chat(void **state)
{
    (void)state;
    if (!model_path[0]) zt_skip("stories260K.gguf not found (tests/models)");
    for (int i = 0; i < 200 && live_workers() != 1; i++) zt_time_sleep_ms(100);
    assert_int_equal(live_workers(), 1);
    /* an anonymous caller: nothing to pay from, 402 */
    struct resp r;
    chat(NULL, &r);
    assert_error_json(&r, 402, "payment_required");
    resp_free(&r);
    /* a caller that is not a wallet (a JWT's sub): 402, nothing to pay from */
    char alice[1024];
    jwt_bearer("alice", "user", alice, sizeof alice);
    chat_auth(alice, &r);
    assert_error_json(&r, 402, "payment_required");
    resp_free(&r);
    /* a wallet with nothing on it: 402 */
    char token[256];
    wallet_login(token, sizeof token);
    chat(token, &r);
    assert_error_json(&r, 402, "payment_required");
    if (!strstr(zt_buf_str(&r.body), ADDRESS)) fail_msg("402 without the address: %s", zt_buf_str(&r.body));
    resp_free(&r);
    /* a deposit of 1000 tokens, then the chat runs on the worker */
    struct books b;
    books_open(&b);
    int64_t user;
    const zt_u128 deposit = (zt_u128)1000000000000000000u * 1000u;
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, ADDRESS, NULL, &user), 0);
    assert_int_equal(zt_ledger_mint(b.l, "deposit-test", user, deposit, NULL, NULL), 0);
    assert_true(balance(&b, ZT_LEDGER_ESCROW, NULL) == 0);
    chat(token, &r);
    if (r.status != 200) fail_msg("chat: %ld %s", r.status, zt_buf_str(&r.body));
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "zentalk"), "ran_on")), wk_id);
    json_t *u = json_object_get(j, "usage");
    uint64_t pt = (uint64_t)json_integer_value(json_object_get(u, "prompt_tokens"));
    uint64_t ct = (uint64_t)json_integer_value(json_object_get(u, "completion_tokens"));
    assert_true(pt > 0 && ct > 0);
    json_decref(j);
    resp_free(&r);
    /* the books: settled after the answer (bounded wait) */
    struct zt_ledger_prices p = {.prompt_per_1k = (zt_u128)1000000000000000000u,
                                 .completion_per_1k = (zt_u128)2000000000000000000u, .fee_bps = 1000};
    zt_u128 cost, fee;
    assert_int_equal(zt_ledger_job_cost(&p, pt, ct, &cost, &fee), 0);
    for (int i = 0; i < 100 && balance(&b, ZT_LEDGER_PROVIDER, wk_id) == 0; i++) zt_time_sleep_ms(100);
    zt_u128 got = balance(&b, ZT_LEDGER_PROVIDER, wk_id);
    if (got != cost) {
        char gs[ZT_U128_STR_LEN], cs[ZT_U128_STR_LEN];
        zt_u128_format(got, gs);
        zt_u128_format(cost, cs);
        fail_msg("the worker earned %s, the answer's %llu + %llu tokens cost %s", gs, (unsigned long long)pt,
                 (unsigned long long)ct, cs);
    }
    assert_true(balance(&b, ZT_LEDGER_FEE, NULL) == fee);
    assert_true(balance(&b, ZT_LEDGER_USER, ADDRESS) == deposit - cost - fee);
    assert_true(balance(&b, ZT_LEDGER_ESCROW, NULL) == 0);
    /* the routes see the same books */
    char auth[300], admin[1024];
    snprintf(auth, sizeof auth, "Bearer %s", token);
    http_auth(gw.port, "GET", "/v1/balance", auth, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    char want[ZT_U128_STR_LEN];
    zt_u128_format(deposit - cost - fee, want);
    assert_string_equal(json_string_value(json_object_get(j, "balance")), want);
    assert_string_equal(json_string_value(json_object_get(j, "address")), ADDRESS);
    json_decref(j);
    resp_free(&r);
    jwt_bearer("ops", "admin", admin, sizeof admin);
    char path[200];
    snprintf(path, sizeof path, "/v1/rewards?node=%s", wk_id);
    http_auth(gw.port, "GET", path, admin, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    zt_u128_format(cost, want);
    assert_string_equal(json_string_value(json_object_get(j, "unpaid")), want);
    json_decref(j);
    resp_free(&r);
    http_auth(gw.port, "GET", "/v1/rewards", admin, NULL, NULL, &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    http_auth(gw.port, "GET", "/v1/balance", alice, NULL, NULL, &r);
    assert_error_json(&r, 403, "not_a_wallet");
    resp_free(&r);
    /* an admin deposit, once per key */
    static const char dep[] = "{\"address\":\"" ADDRESS "\",\"amount\":\"5\",\"key\":\"d-1\"}";
    http_auth(gw.port, "POST", "/v1/admin/ledger/deposit", alice, "application/json", dep, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    for (int k = 0; k < 2; k++) {
        http_auth(gw.port, "POST", "/v1/admin/ledger/deposit", admin, "application/json", dep, &r);
        assert_int_equal(r.status, 200);
        j = resp_json(&r);
        assert_true(json_is_true(json_object_get(j, "replayed")) == (k == 1));
        zt_u128_format(deposit - cost - fee + 5, want);
        assert_string_equal(json_string_value(json_object_get(j, "balance")), want);
        json_decref(j);
        resp_free(&r);
    }
    http_auth(gw.port, "POST", "/v1/admin/ledger/deposit", admin, "application/json",
              "{\"address\":\"" ADDRESS "\",\"amount\":\"6\",\"key\":\"d-1\"}", &r);
    assert_error_json(&r, 409, "key_reused");
    resp_free(&r);
    /* the CLI on the gateway's database */
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    const char *const bal_args[] = {"ledger", "balance", ADDRESS, "--data-dir", gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, bal_args, NULL, NULL, &out, 0), 0);
    zt_u128_format(deposit - cost - fee + 5, want);
    assert_non_null(strstr(zt_buf_str(&out), want));
    const char *const dep_args[] = {"ledger", "deposit", ADDRESS, "0.5", "--key", "cli-1", "--data-dir", gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, dep_args, NULL, NULL, &out, 0), 0);
    assert_int_equal(run_prog(cli_bin, dep_args, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "already made"));
    zt_u128_format(deposit - cost - fee + 5 + (zt_u128)500000000000000000u, want);
    assert_non_null(strstr(zt_buf_str(&out), want));
    const char *const aud_args[] = {"ledger", "audit", "--data-dir", gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, aud_args, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "ledger audit: ok"));
    const char *const bad_args[] = {"ledger", "deposit", ADDRESS, "1e3", "--key", "x", NULL};
    assert_int_equal(run_prog(cli_bin, bad_args, NULL, NULL, &out, 0), 2);
    zt_buf_deinit(&out);
    /* /metrics counts them: one paid job, three 402s, one deposit */
    assert_int_equal(metric_value(gw.port, "zentalk_ledger_jobs_settled_total"), 1);
    assert_int_equal(metric_value(gw.port, "zentalk_ledger_jobs_reserved_total"), 1);
    assert_int_equal(metric_value(gw.port, "zentalk_ledger_payments_refused_total"), 3);
    assert_int_equal(metric_value(gw.port, "zentalk_ledger_deposits_total"), 1);
    char why[256];
    int rc = zt_ledger_audit(b.l, why, sizeof why);
    if (rc) fail_msg("audit: %s", why);
    books_close(&b);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_ledger_network")) return 2;
    cli_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paid_chat),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
