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
 *    reservation back, escrow ends at zero, and the audit holds; the
 *    cost is at the worker's own prompt and completion prices (its join
 *    record's), not at the gateway's chain.yaml prices;
 *  - GET /v1/balance and GET /v1/rewards read the same books (403 for a
 *    balance without a wallet, 400 without a node), and POST
 *    /v1/admin/ledger/deposit mints once per key (admin only; a replay
 *    mints nothing, another body under the key is 409);
 *  - `zentalk ledger balance|deposit|audit` on the gateway's database
 *    agree (a deposit once per key, the audit clean);
 *  - the stake gate: an unstaked worker, then one a base unit short of
 *    chain.min_stake, is given no job; a stake deposit lets it work;
 *  - a client's price ceiling (zentalk.max_price_per_1k) under the
 *    worker's advertised price places nothing (503 no_worker, nothing
 *    reserved);
 *  - the worker's payout wallet from its signed join record
 *    (chain.wallet_address) once its job is paid;
 *  - payouts: the worker's wallet (admin only), a payout round (batch 1
 *    built, signed with the key `zentalk payouts keygen` made, exported,
 *    once), GET /v1/payouts, the proof of /v1/rewards/proofs/1/WALLET
 *    verifying against the root whose EIP-712 signature recovers to the
 *    key, /v1/rewards' history (settle, payout; the stake's), `zentalk
 *    ledger history`, `zentalk payouts list|export|confirm` (the export
 *    the same bytes as the node's file), the payout metrics;
 *  - a slash of the stake on the paid job, seen in /v1/rewards and
 *    `zentalk ledger history stake:NODE`;
 *  - none charged twice (issue 11): two staked workers slowed by the
 *    test-only ZT_TEST_DELAY_MS; a paid stream whose worker is killed with
 *    SIGKILL mid-stream completes on the other with the uninterrupted
 *    run's text; exactly one settlement, the user's debit equal to the
 *    uninterrupted run's, all of the cost to the worker that finished
 *    (ran_on), nothing to the killed one, the fee once, escrow empty, the
 *    audit clean.
 * Usage: test_ledger_network PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"
#include "keyed.h"
#include "wallet.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_file.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_keccak.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_wallet.h"

#define SECRET "ledger-network-secret-abcdefghijklmnopqrstuvwxyz"
/* the web3.js docs' example key (as test_wallet_api) and its address */
#define ADDRESS "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23"
#define SKHEX "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

static const char *cli_bin;
static char model_path[1024];
static char cfg_dir[256];
static struct node gw, wk, slow[2]; /* slow: the failover test's */
static char wk_id[64], slow_id[2][64];

#define WK_WALLET "0x00000000000000000000000000000000000000aa"
#define PASS_VAR "ZT_TEST_PAYOUT_PASS"
static char key_env[400], key_addr[43];
/* verification off (the fee account pays the checks: test_ledger_cheat's
 * subject) and no result cache (a wallet's repeated request would be a
 * cache hit): the failover test counts every base unit of one job */
static const char *const gw_env[] = {"ZENTALK_CHAIN_ENABLED=true",
                                     "ZENTALK_ORCHESTRATOR_VERIFICATION_ENABLED=false",
                                     "ZENTALK_PRIVACY_RESULT_CACHE=off",
                                     "ZENTALK_ENCRYPTION_JWT_SECRET=" SECRET,
                                     "ZENTALK_CHAIN_RPC_URL=http://127.0.0.1:9",
                                     "ZENTALK_CHAIN_WALLET_ADDRESS=0x0000000000000000000000000000000000000001",
                                     "ZENTALK_CHAIN_PRICE_PROMPT_PER_1K=1",
                                     "ZENTALK_CHAIN_PRICE_COMPLETION_PER_1K=2",
                                     "ZENTALK_CHAIN_ORCHESTRATOR_FEE_BPS=1000",
                                     /* payouts: due at once, any amount, signed with the key of group_setup */
                                     "ZENTALK_CHAIN_DISPUTE_WINDOW_S=0",
                                     "ZENTALK_CHAIN_MIN_PAYOUT=0.000000000000000001",
                                     "ZENTALK_CHAIN_PAYOUT_PASSPHRASE_ENV=" PASS_VAR,
                                     PASS_VAR "=correct horse battery staple",
                                     key_env,
                                     NULL};
/* the worker announces its payout wallet and its own prices (not the
 * gateway's) in its signed join record */
static const char *const wk_env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZENTALK_CHAIN_WALLET_ADDRESS=" WK_WALLET,
                                     "ZENTALK_CHAIN_PRICE_PROMPT_PER_1K=0.5", "ZENTALK_CHAIN_PRICE_COMPLETION_PER_1K=0.75",
                                     NULL};

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
    /* the payout key, made as an operator makes it */
    char key_path[300];
    snprintf(key_path, sizeof key_path, "%s/payout.key", cfg_dir);
    snprintf(key_env, sizeof key_env, "ZENTALK_CHAIN_PAYOUT_KEY_FILE=%s", key_path);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 14);
    const char *const kg_args[] = {"payouts", "keygen", "--passphrase-env", PASS_VAR, "--out", key_path, NULL};
    const char *const kg_env[] = {PASS_VAR "=correct horse battery staple", NULL};
    assert_int_equal(run_prog(cli_bin, kg_args, kg_env, NULL, &out, 0), 0);
    assert_true(out.len > 42 && strncmp(zt_buf_str(&out), "0x", 2) == 0);
    memcpy(key_addr, zt_buf_str(&out), 42);
    zt_buf_deinit(&out);
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
    for (int i = 0; i < 2; i++)
        if (slow[i].pid > 0) node_cleanup(&slow[i]);
    if (wk.pid > 0) node_cleanup(&wk);
    if (gw.pid > 0) node_cleanup(&gw);
    if (cfg_dir[0]) rm_rf(cfg_dir);
    return 0;
}

static void jwt_bearer(const char *sub, const char *role, char *out, size_t cap)
{
    keyed_bearer_role(SECRET, sub, role, out, cap);
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

/* a chat with the client's price ceiling (zentalk.max_price_per_1k) */
static void chat_ceiling(const char *token, const char *ceiling, struct resp *r)
{
    char body[300], auth[300];
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":8,"
             "\"zentalk\":{\"max_price_per_1k\":%s}}", ceiling);
    snprintf(auth, sizeof auth, "Bearer %s", token);
    http_auth(gw.port, "POST", "/v1/chat/completions", auth, "application/json", body, r);
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


static json_t *get_json(const char *path, const char *auth, long want)
{
    struct resp r;
    http_auth(gw.port, "GET", path, auth, NULL, NULL, &r);
    if (r.status != want) fail_msg("GET %s: %ld %s", path, r.status, zt_buf_str(&r.body));
    json_t *j = resp_json(&r);
    resp_free(&r);
    return j;
}

static void get_error(const char *path, const char *auth, long status, const char *code)
{
    struct resp r;
    http_auth(gw.port, "GET", path, auth, NULL, NULL, &r);
    assert_error_json(&r, status, code);
    resp_free(&r);
}

static void hex_bytes(const char *s, uint8_t *out, size_t n)
{
    assert_non_null(s);
    assert_true(strncmp(s, "0x", 2) == 0 && strlen(s) == 2 + 2 * n);
    assert_int_equal(zt_hex_decode_str(out, n, s + 2, ZT_HEX_LOWER), 0);
}

/* the worker's earning through the payout path: its wallet, a payout round
 * (batch built, signed, exported once), the batch over the routes, a proof
 * that verifies against the signed root, the CLI's views and export, the
 * metrics */
static void check_payouts(struct books *b, zt_u128 cost, const char *admin, const char *alice)
{
    struct resp r;
    char body[200], want[ZT_U128_STR_LEN], path[200];
    zt_u128_format(cost, want);
    /* the worker's payout wallet: an admin sets it, a user may not */
    snprintf(body, sizeof body, "{\"node\":\"%s\",\"address\":\"%s\"}", wk_id, WK_WALLET);
    http_auth(gw.port, "PUT", "/v1/rewards/wallet", alice, "application/json", body, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    http_auth(gw.port, "PUT", "/v1/rewards/wallet", admin, "application/json", body, &r);
    if (r.status != 200) fail_msg("wallet: %ld %s", r.status, zt_buf_str(&r.body));
    resp_free(&r);
    /* one round: the batch of the one earning, signed and exported; a second round has nothing to do */
    json_t *j = post_json(gw.port, "/v1/admin/payouts/run", admin, NULL, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "batch")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "leaves")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "signed")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "exported")), 1);
    json_decref(j);
    j = post_json(gw.port, "/v1/admin/payouts/run", admin, NULL, 200);
    assert_true(json_is_null(json_object_get(j, "batch")));
    assert_int_equal(json_integer_value(json_object_get(j, "signed")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "exported")), 0);
    json_decref(j);
    /* GET /v1/payouts: an admin sees the batch; a user may not list */
    j = get_json("/v1/payouts", admin, 200);
    json_t *p0 = json_array_get(json_object_get(j, "payouts"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "payouts")), 1);
    assert_string_equal(json_string_value(json_object_get(p0, "state")), "submitted");
    assert_string_equal(json_string_value(json_object_get(p0, "total")), want);
    assert_non_null(strstr(json_string_value(json_object_get(p0, "submission")), "batch-1.json"));
    json_decref(j);
    j = get_json("/v1/payouts?address=" WK_WALLET, admin, 200);
    p0 = json_array_get(json_object_get(j, "payouts"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p0, "leaf"), "amount")), want);
    json_decref(j);
    http_auth(gw.port, "GET", "/v1/payouts", alice, NULL, NULL, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    /* the proof a claimant submits: its leaf hashes to leaf_hash, folds to the
     * root, and the root's EIP-712 signature recovers to the payout key */
    j = get_json("/v1/rewards/proofs/1/" WK_WALLET, alice, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "leaf"), "amount")), want);
    uint8_t root[32], lh[32], mine[32], sig[65], proof[ZT_MERKLE_MAX_DEPTH][32], a20[20];
    hex_bytes(json_string_value(json_object_get(j, "root")), root, 32);
    hex_bytes(json_string_value(json_object_get(j, "leaf_hash")), lh, 32);
    hex_bytes(json_string_value(json_object_get(j, "signature")), sig, 65);
    hex_bytes(WK_WALLET, a20, 20);
    zt_merkle_leaf((uint64_t)json_integer_value(json_object_get(json_object_get(j, "leaf"), "index")), a20, cost, mine);
    assert_memory_equal(mine, lh, 32);
    json_t *pa = json_object_get(j, "proof");
    size_t pn = json_array_size(pa);
    for (size_t i = 0; i < pn; i++) hex_bytes(json_string_value(json_array_get(pa, i)), proof[i], 32);
    assert_true(zt_merkle_verify(root, lh, (const uint8_t(*)[32])proof, pn));
    lh[0] ^= 1;
    assert_false(zt_merkle_verify(root, lh, (const uint8_t(*)[32])proof, pn));
    struct zt_eip712_domain d = {.name = ZT_PAYOUT_DOMAIN_NAME, .version = ZT_PAYOUT_DOMAIN_VERSION, .chain_id = 1};
    uint8_t dom[32], sh[32], dg[32], who[20], want_who[20];
    zt_eip712_domain_separator(&d, dom);
    zt_payout_batch_hash(1, root, cost, 1, sh);
    zt_eip712_digest(dom, sh, dg);
    assert_int_equal(zt_wallet_recover(dg, sig, who), 0);
    hex_bytes(key_addr, want_who, 20);
    assert_memory_equal(who, want_who, 20);
    json_decref(j);
    get_error("/v1/rewards/proofs/1/0x0000000000000000000000000000000000000001", alice, 404, "not_found");
    get_error("/v1/rewards/proofs/x/y", alice, 400, "invalid_request");
    /* /v1/rewards: nothing unpaid now, the wallet, the history (payout, settle) */
    snprintf(path, sizeof path, "/v1/rewards?node=%s", wk_id);
    j = get_json(path, admin, 200);
    assert_string_equal(json_string_value(json_object_get(j, "unpaid")), "0");
    assert_string_equal(json_string_value(json_object_get(j, "wallet")), WK_WALLET);
    json_t *h = json_object_get(j, "history");
    assert_int_equal(json_array_size(h), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "memo")), "payout");
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "direction")), "debit");
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 1), "memo")), "settle");
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 1), "amount")), want);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/rewards?node=%s&account=stake&limit=1", wk_id);
    j = get_json(path, admin, 200);
    h = json_object_get(j, "history");
    assert_int_equal(json_array_size(h), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "key")), "stake:s-2");
    assert_true(json_integer_value(json_object_get(j, "next_before")) > 0);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/rewards?node=%s&account=fees", wk_id);
    get_error(path, admin, 400, "invalid_request");
    /* the CLI: history, list, export (the node's bytes), confirm */
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    const char *const hist_args[] = {"ledger", "history", wk_id, "--json", "--data-dir", gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, hist_args, NULL, NULL, &out, 0), 0);
    j = json_loads(zt_buf_str(&out), 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 2);
    const char *settle_key = json_string_value(json_object_get(json_array_get(json_object_get(j, "entries"), 1), "key"));
    assert_true(strncmp(settle_key, "settle:", 7) == 0);
    char job[ZT_LEDGER_JOB_MAX + 1];
    zt_strlcpy(job, settle_key + 7, sizeof job);
    json_decref(j);
    zt_buf_reset(&out);
    const char *const hist1_args[] = {"ledger", "history", wk_id, "--limit", "1", "--data-dir", gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, hist1_args, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "payout:1"));
    assert_non_null(strstr(zt_buf_str(&out), "(more: --before"));
    zt_buf_reset(&out);
    const char *const list_args[] = {"payouts", "list", "--data-dir", gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, list_args, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "submitted"));
    char exp_path[600], node_path[600];
    snprintf(exp_path, sizeof exp_path, "%s/batch-copy.json", cfg_dir);
    snprintf(node_path, sizeof node_path, "%s/payouts/batch-1.json", gw.data_dir);
    const char *const exp_args[] = {"payouts", "export", "1", "--out", exp_path, "--data-dir", gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, exp_args, NULL, NULL, &out, 0), 0);
    struct zt_buf f1, f2;
    zt_buf_init(&f1, 1 << 20);
    zt_buf_init(&f2, 1 << 20);
    assert_int_equal(zt_file_read_buf(exp_path, &f1), 0);
    assert_int_equal(zt_file_read_buf(node_path, &f2), 0);
    assert_true(f1.len > 0 && f1.len == f2.len && memcmp(f1.data, f2.data, f1.len) == 0);
    zt_buf_deinit(&f1);
    zt_buf_deinit(&f2);
    const char *const conf_args[] = {"payouts", "confirm", "1", "--data-dir", gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, conf_args, NULL, NULL, &out, 0), 0);
    zt_buf_reset(&out);
    assert_int_equal(run_prog(cli_bin, list_args, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "confirmed"));
    /* a cheater caught on this job after its earning was paid out: the
     * stake is slashed (the penalty the scheduler's verdict applies), seen
     * in /v1/rewards and `zentalk ledger history stake:NODE` */
    struct zt_ledger_slash_result sr;
    assert_int_equal(zt_ledger_penalize(b->l, job, wk_id, (zt_u128)1000000000000000000u * 10u, NULL, 0, &sr), 0);
    assert_true(sr.slashed == (zt_u128)1000000000000000000u * 10u && sr.clawed_back == 0);
    snprintf(path, sizeof path, "/v1/rewards?node=%s&account=stake", wk_id);
    j = get_json(path, admin, 200);
    assert_string_equal(json_string_value(json_object_get(j, "staked")), "90000000000000000000");
    h = json_object_get(j, "history");
    char slash_key[ZT_LEDGER_KEY_MAX + 1];
    snprintf(slash_key, sizeof slash_key, "slash:%s", job);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "key")), slash_key);
    json_decref(j);
    char stake_acct[96];
    snprintf(stake_acct, sizeof stake_acct, "stake:%s", wk_id);
    zt_buf_reset(&out);
    const char *const sh_args[] = {"ledger", "history", stake_acct, "--data-dir", gw.data_dir, NULL};
    assert_int_equal(run_prog(cli_bin, sh_args, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), slash_key));
    assert_non_null(strstr(zt_buf_str(&out), "-10000000000000000000 "));
    zt_buf_deinit(&out);
    assert_int_equal(metric_value(gw.port, "zentalk_ledger_payout_batches_total"), 1);
    assert_int_equal(metric_value(gw.port, "zentalk_ledger_payout_batches_signed_total"), 1);
    assert_int_equal(metric_value(gw.port, "zentalk_ledger_payout_batches_exported_total"), 1);
}

static void test_paid_chat(void **state)
{
    (void)state;
    if (!model_path[0]) zt_skip("stories260K.gguf not found (tests/models)");
    for (int i = 0; i < 200 && live_workers() != 1; i++) zt_time_sleep_ms(100);
    assert_int_equal(live_workers(), 1);
    /* the stake gate: a worker with less than chain.min_stake (100 tokens)
     * staked is given no job; an admin's stake deposit lets it work */
    char admin0[1024];
    jwt_bearer("ops", "admin", admin0, sizeof admin0);
    struct resp r;
    chat(NULL, &r);
    if (r.status == 200 || r.status == 402) fail_msg("an unstaked worker was given the job: %ld %s", r.status, zt_buf_str(&r.body));
    resp_free(&r);
    char stake_body[300];
    snprintf(stake_body, sizeof stake_body, "{\"node\":\"%s\",\"amount\":\"99999999999999999999\",\"key\":\"s-1\"}", wk_id);
    json_t *sj = post_json(gw.port, "/v1/admin/ledger/deposit", admin0, stake_body, 200);
    assert_string_equal(json_string_value(json_object_get(sj, "staked")), "99999999999999999999");
    json_decref(sj);
    chat(NULL, &r); /* 1 base unit short */
    if (r.status == 200 || r.status == 402) fail_msg("a worker short of its stake was given the job: %ld", r.status);
    resp_free(&r);
    snprintf(stake_body, sizeof stake_body, "{\"node\":\"%s\",\"amount\":\"1\",\"key\":\"s-2\"}", wk_id);
    sj = post_json(gw.port, "/v1/admin/ledger/deposit", admin0, stake_body, 200);
    assert_string_equal(json_string_value(json_object_get(sj, "staked")), "100000000000000000000");
    json_decref(sj);
    /* an anonymous caller: nothing to pay from, 402 */
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
    wallet_login(gw.port, ADDRESS, SKHEX, token, sizeof token);
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
    /* the worker advertises 0.5 and 0.75 tokens per 1k (its chain.yaml prices, in its join record):
     * a ceiling one base unit under the higher places nothing and reserves nothing; a bad one is 400 */
    chat_ceiling(token, "749999999999999999", &r);
    assert_error_json(&r, 503, "no_worker");
    resp_free(&r);
    chat_ceiling(token, "\"cheap\"", &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    assert_true(balance(&b, ZT_LEDGER_USER, ADDRESS) == deposit);
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
    /* the books: settled after the answer (bounded wait), at the worker's own prices (0.5 and 0.75
     * tokens per 1k, not the gateway's 1 and 2), the fee the gateway's */
    struct zt_ledger_prices p = {.prompt_per_1k = (zt_u128)500000000000000000u,
                                 .completion_per_1k = (zt_u128)750000000000000000u, .fee_bps = 1000};
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
    /* the GDPR export shows the wallet's payment records (kept: they survive erasure) */
    http_auth(gw.port, "POST", "/v1/privacy/export", auth, "application/json", "{}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    json_t *led = json_object_get(json_object_get(j, "data"), "ledger");
    assert_true(json_is_true(json_object_get(led, "kept")));
    assert_string_equal(json_string_value(json_object_get(led, "address")), ADDRESS);
    assert_string_equal(json_string_value(json_object_get(led, "balance")), want);
    assert_true(json_integer_value(json_object_get(led, "count")) >= 2); /* the deposit and the settlement */
    assert_int_equal(json_array_size(json_object_get(led, "history")), json_integer_value(json_object_get(led, "count")));
    assert_null(json_object_get(json_object_get(j, "not_kept"), "ledger"));
    json_decref(j);
    resp_free(&r);
    http_auth(gw.port, "POST", "/v1/privacy/export", alice, "application/json", "{}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r); /* a JWT identity has no ledger account: said, not shown */
    assert_null(json_object_get(json_object_get(j, "data"), "ledger"));
    assert_true(json_is_false(json_object_get(json_object_get(json_object_get(j, "not_kept"), "ledger"), "kept")));
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
    assert_string_equal(json_string_value(json_object_get(j, "staked")), "100000000000000000000");
    /* the wallet of its join record (chain.wallet_address), set by its paid job: no admin did */
    assert_string_equal(json_string_value(json_object_get(j, "wallet")), WK_WALLET);
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
    check_payouts(&b, cost, admin, alice);
    char why[256];
    int rc = zt_ledger_audit(b.l, why, sizeof why);
    if (rc) fail_msg("audit: %s", why);
    books_close(&b);
}

/* ---- a paid stream whose worker is killed: charged once ----------------------- */

struct paid_stream {
    const char *auth;
    long status;
    struct zt_buf text;
    char ran_on[64];
};

static void *paid_stream_thread(void *arg)
{
    struct paid_stream *ps = arg;
    static const char body[] = "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                               "\"max_tokens\":40,\"temperature\":0,\"stream\":true}";
    ps->status = chat_text_auth(gw.port, ps->auth, body, true, &ps->text, ps->ran_on, sizeof ps->ran_on);
    return NULL;
}

/* The slowed worker of the running job among the orchestrator's last 5
 * (as admin), or -1. */
static int running_worker(const char *admin)
{
    struct resp r;
    http_auth(gw.port, "GET", "/v1/orchestrator/jobs?limit=5", admin, NULL, NULL, &r);
    json_t *j = r.status == 200 ? resp_json(&r) : NULL; /* 429: the admin's rate limit, asked again later */
    resp_free(&r);
    int w = -1;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "jobs"), i, x) {
        const char *id = json_string_value(json_object_get(x, "worker"));
        if (zt_str_eq(json_string_value(json_object_get(x, "state")), "running"))
            w = zt_str_eq(id, slow_id[0]) ? 0 : zt_str_eq(id, slow_id[1]) ? 1 : -1;
    }
    json_decref(j);
    return w;
}

struct snap {
    zt_u128 user, fee, escrow, prov[2];
    long long settled;
};

static void snap_take(struct books *b, struct snap *x)
{
    x->user = balance(b, ZT_LEDGER_USER, ADDRESS);
    x->fee = balance(b, ZT_LEDGER_FEE, NULL);
    x->escrow = balance(b, ZT_LEDGER_ESCROW, NULL);
    for (int i = 0; i < 2; i++) x->prov[i] = balance(b, ZT_LEDGER_PROVIDER, slow_id[i]);
    x->settled = metric_value(gw.port, "zentalk_ledger_jobs_settled_total");
}

/* Wait (at most 10 s) for the settlement count to reach want, then the books. */
static void snap_settled(struct books *b, long long want, struct snap *x)
{
    assert_true(metric_wait_at_least(gw.port, "zentalk_ledger_jobs_settled_total", want, 10000) >= want);
    snap_take(b, x);
}

static void test_paid_failover(void **state)
{
    (void)state;
    if (!model_path[0]) zt_skip("stories260K.gguf not found (tests/models)");
    if (wk.pid <= 0) zt_skip("runs after test_paid_chat");
    char admin[1024], token[256], auth[300];
    jwt_bearer("ops", "admin", admin, sizeof admin);
    /* two workers slowed by the test-only ZT_TEST_DELAY_MS (25 ms a token),
     * at the first worker's prices, staked; the first worker leaves */
    static const char *const slow_env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300",
                                           "ZENTALK_CHAIN_PRICE_PROMPT_PER_1K=0.5",
                                           "ZENTALK_CHAIN_PRICE_COMPLETION_PER_1K=0.75", "ZT_TEST_MODE=1",
                                           "ZT_TEST_DELAY_MS=25", NULL};
    for (int i = 0; i < 2; i++) {
        const char *const wargs[] = {"--config", cfg_dir, "--roles", "worker", "--join", gw.url, NULL};
        node_spawn(&slow[i], wargs, slow_env, true, NULL);
        node_id_of(slow[i].port, slow_id[i], sizeof slow_id[i], NULL);
        char body[300];
        snprintf(body, sizeof body, "{\"node\":\"%s\",\"amount\":\"100000000000000000000\",\"key\":\"fo-%d\"}",
                 slow_id[i], i);
        json_decref(post_json(gw.port, "/v1/admin/ledger/deposit", admin, body, 200));
    }
    assert_int_equal(kill(wk.pid, SIGTERM), 0);
    assert_int_equal(node_wait(&wk, 20000), 0);
    node_cleanup(&wk);
    for (int i = 0; i < 200 && live_workers() != 2; i++) zt_time_sleep_ms(100);
    assert_int_equal(live_workers(), 2);
    wallet_login(gw.port, ADDRESS, SKHEX, token, sizeof token);
    snprintf(auth, sizeof auth, "Bearer %s", token);
    struct books b;
    books_open(&b);
    /* the reference: the same paid stream, uninterrupted */
    struct snap s0, s1, s2;
    snap_take(&b, &s0);
    struct paid_stream ref = {.auth = auth};
    zt_buf_init(&ref.text, 1 << 16);
    paid_stream_thread(&ref);
    assert_int_equal(ref.status, 200);
    assert_true(ref.text.len > 0);
    int ri = zt_str_eq(ref.ran_on, slow_id[0]) ? 0 : 1;
    assert_string_equal(ref.ran_on, slow_id[ri]);
    snap_settled(&b, s0.settled + 1, &s1);
    zt_u128 debit = s0.user - s1.user, cost = s1.prov[ri] - s0.prov[ri], fee = s1.fee - s0.fee;
    if (!(cost > 0 && fee > 0 && debit == cost + fee)) {
        char d[ZT_U128_STR_LEN], c[ZT_U128_STR_LEN], f[ZT_U128_STR_LEN];
        zt_u128_format(debit, d);
        zt_u128_format(cost, c);
        zt_u128_format(fee, f);
        fail_msg("the uninterrupted stream on %s: debit %s, its worker +%s, fee +%s", ref.ran_on, d, c, f);
    }
    assert_true(s1.escrow == 0);
    /* the same stream, its worker killed once it streams */
    struct paid_stream ps = {.auth = auth};
    zt_buf_init(&ps.text, 1 << 16);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, paid_stream_thread, &ps), 0);
    int vi = -1;
    for (int i = 0; i < 200 && vi < 0; i++) { /* under server.rate_limit_rps (20) */
        vi = running_worker(admin);
        if (vi < 0) zt_time_sleep_ms(60);
    }
    if (vi < 0) {
        pthread_join(t, NULL);
        fail_msg("no worker was seen running the stream: %ld %s", ps.status, zt_buf_str(&ps.text));
    }
    int fi = 1 - vi;
    zt_time_sleep_ms(200); /* some text first */
    assert_int_equal(kill(slow[vi].pid, SIGKILL), 0);
    pthread_join(t, NULL);
    assert_int_equal(ps.status, 200);
    assert_string_equal(zt_buf_str(&ps.text), zt_buf_str(&ref.text));
    assert_string_equal(ps.ran_on, slow_id[fi]);
    /* charged once: one settlement, the user's debit one uninterrupted
     * job's, all of it to the worker that finished (ran_on), nothing to
     * the killed one (docs/internals/ledger.md), the fee once */
    snap_settled(&b, s1.settled + 1, &s2);
    zt_time_sleep_ms(300); /* a second settlement would come with the first */
    assert_int_equal(metric_value(gw.port, "zentalk_ledger_jobs_settled_total"), s1.settled + 1);
    snap_take(&b, &s2);
    if (s1.user - s2.user != debit || s2.prov[fi] - s1.prov[fi] != cost || s2.prov[vi] != s1.prov[vi] ||
        s2.fee - s1.fee != fee) {
        char d[ZT_U128_STR_LEN], d0[ZT_U128_STR_LEN], pf[ZT_U128_STR_LEN], pv[ZT_U128_STR_LEN], c[ZT_U128_STR_LEN];
        zt_u128_format(s1.user - s2.user, d);
        zt_u128_format(debit, d0);
        zt_u128_format(s2.prov[fi] - s1.prov[fi], pf);
        zt_u128_format(s2.prov[vi] - s1.prov[vi], pv);
        zt_u128_format(cost, c);
        fail_msg("after the failover: debit %s (uninterrupted %s), finisher +%s (cost %s), killed worker +%s", d, d0,
                 pf, c, pv);
    }
    assert_true(s2.escrow == 0);
    char why[256];
    int rc = zt_ledger_audit(b.l, why, sizeof why);
    if (rc) fail_msg("audit: %s", why);
    books_close(&b);
    zt_buf_deinit(&ref.text);
    zt_buf_deinit(&ps.text);
    node_cleanup(&slow[vi]);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_ledger_network")) return 2;
    cli_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paid_chat),
        cmocka_unit_test(test_paid_failover),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
