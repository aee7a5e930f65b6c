/* test_wallet_api.c: Web3 wallet login against a real zentalk-node on a
 * non-loopback listener with encryption.jwt_secret set: nonce, personal_sign
 * (signed here with libsecp256k1 from a fixed key), login, the session
 * token on /v1/models, logout, then 401; replayed nonces, wrong signatures
 * and malformed bodies are refused.
 * Usage: test_wallet_api PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_wallet.h"
#include "zentalk/zt_str.h"

#define SECRET "wallet-integration-secret-abcdefghijklmnopqrstuvwxyz"
#define ADDRESS "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"

static char cfg_dir[256];
static struct node nd;
static secp256k1_context *ctx;

/* GET/PUT path with an optional Authorization header value. */
static void req(const char *method, const char *path, const char *auth, const char *body,
                struct resp *r)
{
    http_auth(nd.port, method, path, auth, body ? "application/json" : NULL, body, r);
}

static void bearer_req(const char *method, const char *path, const char *token, struct resp *r)
{
    char auth[256];
    snprintf(auth, sizeof auth, "Bearer %s", token);
    req(method, path, auth, NULL, r);
}

static int group_setup(void **state)
{
    (void)state;
    tmp_dir(cfg_dir, sizeof cfg_dir, "walletcfg");
    put_file(cfg_dir, "encryption.yaml", "encryption:\n  require_auth: true\n  jwt_secret: \"" SECRET "\"\n");
    put_file(cfg_dir, "config.yaml", "server:\n  session_ttl_s: 600\n");
    node_spawn_public(&nd, cfg_dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    kill(nd.pid, SIGTERM);
    int st = node_wait(&nd, 20000);
    struct zt_buf err;
    zt_buf_init(&err, 1 << 20);
    node_collect_stderr(&nd, &err);
    bool logged = strstr(zt_buf_str(&err), "wallet_login ") != NULL;
    if (!logged) fprintf(stderr, "no wallet_login event in the log:\n%s\n", zt_buf_str(&err));
    zt_buf_deinit(&err);
    node_cleanup(&nd);
    rm_rf(nd.dir);
    rm_rf(cfg_dir);
    return st == 0 && logged ? 0 : -1;
}

/* personal_sign(message) with the web3.js docs' example key, as 0x-hex */
static void sign_hex(const char *message, char out[2 + 130 + 1])
{
    static const char skhex[] = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
    uint8_t sk[32];
    for (size_t i = 0; i < 32; i++) {
        char b[3] = {skhex[2 * i], skhex[2 * i + 1], 0};
        sk[i] = (uint8_t)strtoul(b, NULL, 16);
    }
    uint8_t h[32], sig[65];
    zt_eip191_hash(message, strlen(message), h);
    secp256k1_ecdsa_recoverable_signature rs;
    assert_int_equal(secp256k1_ecdsa_sign_recoverable(ctx, &rs, h, sk, NULL, NULL), 1);
    int recid = -1;
    assert_int_equal(secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig, &recid, &rs), 1);
    sig[64] = (uint8_t)(27 + recid);
    out[0] = '0', out[1] = 'x';
    zt_hex_encode(out + 2, sig, 65);
}

/* POST /v1/auth/wallet/nonce; returns the message (caller frees). */
static char *get_message(const char *address)
{
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", address);
    struct resp r;
    req("POST", "/v1/auth/wallet/nonce", NULL, body, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    json_t *m = json_object_get(j, "message"), *n = json_object_get(j, "nonce");
    assert_true(json_is_string(m) && json_is_string(n));
    assert_int_equal(json_string_length(n), 32);
    assert_non_null(strstr(json_string_value(m), json_string_value(n)));
    assert_non_null(strstr(json_string_value(m), "zentalk-ai"));
    json_t *e = json_object_get(j, "expires_at");
    assert_true(json_is_integer(e));
    long long now = (long long)time(NULL);
    assert_true(json_integer_value(e) >= now + 290 && json_integer_value(e) <= now + 310);
    char *msg = strdup(json_string_value(m));
    assert_non_null(msg);
    json_decref(j);
    resp_free(&r);
    return msg;
}

static void login(const char *address, const char *message, const char *sig, struct resp *r)
{
    json_t *b = json_pack("{s:s,s:s,s:s}", "address", address, "message", message, "signature", sig);
    char *s = json_dumps(b, JSON_COMPACT);
    assert_non_null(s);
    req("POST", "/v1/auth/wallet/login", NULL, s, r);
    free(s);
    json_decref(b);
}

static void test_login_use_logout(void **state)
{
    (void)state;
    char *msg = get_message("0x2c7536e3605d9c16a7a3d7b1898e529396a65c23"); /* any case */
    char sig[2 + 130 + 1];
    sign_hex(msg, sig);
    struct resp r;
    login(ADDRESS, msg, sig, &r);
    if (r.status != 200) fail_msg("login: %ld %s", r.status, zt_buf_str(&r.body));
    json_t *j = resp_json(&r);
    const char *tok = json_string_value(json_object_get(j, "session_token"));
    assert_non_null(tok);
    assert_int_equal(strlen(tok), 43);
    assert_string_equal(json_string_value(json_object_get(j, "role")), "user");
    long long now = (long long)time(NULL);
    json_int_t exp = json_integer_value(json_object_get(j, "expires_at"));
    assert_true(exp >= now + 590 && exp <= now + 610);
    char token[64];
    zt_strlcpy(token, tok, sizeof token);
    json_decref(j);
    resp_free(&r);

    /* the nonce is single-use */
    login(ADDRESS, msg, sig, &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);

    bearer_req("GET", "/v1/models", token, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    bearer_req("GET", "/v1/admin/status", token, &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);

    bearer_req("POST", "/v1/auth/logout", token, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    bearer_req("GET", "/v1/models", token, &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);
    bearer_req("POST", "/v1/auth/logout", token, &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);
    req("POST", "/v1/auth/logout", NULL, NULL, &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);
    free(msg);
}

static void test_refusals(void **state)
{
    (void)state;
    struct resp r;
    /* a signature over another message */
    char *msg = get_message(ADDRESS);
    char sig[2 + 130 + 1];
    sign_hex("not the message", sig);
    login(ADDRESS, msg, sig, &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);
    free(msg);
    /* the right signer, but the nonce was asked for another address */
    msg = get_message("0x0000000000000000000000000000000000000001");
    sign_hex(msg, sig);
    login(ADDRESS, msg, sig, &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);
    free(msg);
    /* a message never issued */
    sign_hex("zentalk-ai\nNonce: 00000000000000000000000000000000", sig);
    login(ADDRESS, "zentalk-ai\nNonce: 00000000000000000000000000000000", sig, &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);
    /* an unknown session token */
    bearer_req("GET", "/v1/models", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);
    /* malformed bodies */
    static const char *const bad[] = {"{}", "{\"address\":\"0x12\"}", "{\"address\":1}",
                                      "{\"address\":\"" ADDRESS "\",\"x\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req("POST", "/v1/auth/wallet/nonce", NULL, bad[i], &r);
        assert_error_json(&r, 400, "invalid_request");
        resp_free(&r);
    }
    static const char *const bad_login[] = {
        "{}", "{\"address\":\"" ADDRESS "\",\"message\":\"m\",\"signature\":\"0x00\"}",
        "{\"address\":\"" ADDRESS "\",\"message\":1,\"signature\":\"0x00\"}"};
    for (size_t i = 0; i < sizeof bad_login / sizeof bad_login[0]; i++) {
        req("POST", "/v1/auth/wallet/login", NULL, bad_login[i], &r);
        assert_error_json(&r, 400, "invalid_request");
        resp_free(&r);
    }
    req("GET", "/v1/auth/wallet/nonce", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_wallet_api ZENTALK_NODE [ZENTALK]\n");
        return 2;
    }
    node_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_use_logout),
        cmocka_unit_test(test_refusals),
    };
    int rc = cmocka_run_group_tests_name("wallet login", tests, group_setup, group_teardown);
    secp256k1_context_destroy(ctx);
    curl_global_cleanup();
    return zt_test_exit(rc);
}
