/* test_attack_wallet_nonce.c: wallet nonce flood against a real
 * zentalk-node (issue 17 item 3). Before: 5,000 anonymous nonce requests
 * for random addresses evicted a real user's pending nonce (the table
 * dropped its oldest entry when full), so the user's login failed.
 *
 * Loopback clients bind to 127.0.0.2, 127.0.0.3, ... to act as several
 * addresses. Checked:
 *  - one address asking for 5,000 nonces gets a bounded number (429 past
 *    its share); the user's pending nonce still logs in, and a new user
 *    from another address still gets a nonce and logs in;
 *  - many addresses together fill the table: the newcomers are refused
 *    (503), the pending nonce is never evicted and still logs in;
 *  - one wallet address cannot hold more than a few nonces per source: a
 *    client asking again for its own address replaces its oldest, never
 *    another source's.
 * ZT_SOAK=1 (make soak): larger counts; prints one "SOAK name ..." line.
 * Usage: test_attack_wallet_nonce PATH/zentalk-node [PATH/zentalk] */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_hex.h"
#include "zentalk/zt_keccak.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_wallet.h"

#define ADDRESS "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23" /* of the key in sign_hex */

static secp256k1_context *ctx;
static bool soak;

/* personal_sign(message) with the web3.js docs' example key, as 0x-hex */
static void sign_hex(const char *message, char out[2 + 130 + 1])
{
    static const char skhex[] = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
    uint8_t sk[32];
    assert_int_equal(zt_hex_decode_str(sk, sizeof sk, skhex, ZT_HEX_LOWER), 0);
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

/* POST /v1/auth/wallet/nonce for address from src; the status, and the
 * message (caller frees) when 200 and msg is not NULL. */
static long nonce_from(uint16_t port, const char *src, const char *address, char **msg)
{
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", address);
    struct http_opts o = {.ctype = "application/json", .body = body, .from = src, .timeout_ms = 20000};
    struct resp r;
    int rc = http_req(port, "POST", "/v1/auth/wallet/nonce", &o, &r);
    assert_int_equal(rc, 0);
    long st = r.status;
    if (st == 200 && msg) {
        json_t *j = resp_json(&r);
        *msg = strdup(json_string_value(json_object_get(j, "message")));
        assert_non_null(*msg);
        json_decref(j);
    } else if (st != 200) {
        json_t *j = resp_json(&r); /* every refusal is our JSON error */
        assert_non_null(json_object_get(j, "error"));
        json_decref(j);
    }
    resp_free(&r);
    return st;
}

static long login_from(uint16_t port, const char *src, const char *message)
{
    char sig[2 + 130 + 1];
    sign_hex(message, sig);
    json_t *b = json_pack("{s:s,s:s,s:s}", "address", ADDRESS, "message", message, "signature", sig);
    char *s = json_dumps(b, JSON_COMPACT);
    assert_non_null(s);
    struct http_opts o = {.ctype = "application/json", .body = s, .from = src, .timeout_ms = 20000};
    struct resp r;
    assert_int_equal(http_req(port, "POST", "/v1/auth/wallet/login", &o, &r), 0);
    long st = r.status;
    if (st != 200) fprintf(stderr, "login: %ld %s\n", st, zt_buf_str(&r.body));
    resp_free(&r);
    free(s);
    json_decref(b);
    return st;
}

static void random_address(unsigned i, char out[43])
{
    uint8_t a[20];
    for (size_t k = 0; k < sizeof a; k++) a[k] = (uint8_t)((i * 2654435761u) >> (k % 4 * 8)) ^ (uint8_t)(k * 37);
    a[0] = (uint8_t)i, a[1] = (uint8_t)(i >> 8);
    out[0] = '0', out[1] = 'x';
    zt_hex_encode(out + 2, a, sizeof a);
}

/* One address floods: it gets its share and no more; the pending nonce
 * and a new user's login both work. */
static void test_one_address_flood(void **state)
{
    (void)state;
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    char *pending = NULL;
    assert_int_equal(nonce_from(n.port, "127.0.0.1", ADDRESS, &pending), 200);
    unsigned total = soak ? 20000 : 5000, ok = 0, refused = 0;
    for (unsigned i = 0; i < total; i++) {
        char a[43];
        random_address(i, a);
        long st = nonce_from(n.port, "127.0.0.2", a, NULL);
        if (st == 200) ok++;
        else if (st == 429) refused++;
        else fail_msg("nonce %u from 127.0.0.2: status %ld", i, st);
    }
    printf("one address: %u nonces sent, %u issued, %u refused (429)\n", total, ok, refused);
    if (soak) printf("SOAK wallet_nonce_one_address sent=%u refused=%u errors=0\n", total, refused);
    assert_true(ok < total / 10); /* a bounded share */
    assert_int_equal(ok + refused, total);
    assert_int_equal(login_from(n.port, "127.0.0.1", pending), 200);
    free(pending);
    char *fresh = NULL; /* a new user, from another address */
    assert_int_equal(nonce_from(n.port, "127.0.0.3", ADDRESS, &fresh), 200);
    assert_int_equal(login_from(n.port, "127.0.0.3", fresh), 200);
    free(fresh);
    node_stop(&n, 60000);
}

/* Many addresses fill the table: newcomers wait (503), nobody's pending
 * nonce is evicted. */
static void test_many_addresses_flood(void **state)
{
    (void)state;
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    char *pending = NULL;
    assert_int_equal(nonce_from(n.port, "127.0.0.1", ADDRESS, &pending), 200);
    unsigned srcs = 100, per = 50, ok = 0, full = 0, limited = 0;
    for (unsigned s = 0; s < srcs; s++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.%u.%u", 1 + s / 200, 10 + s % 200);
        for (unsigned i = 0; i < per; i++) {
            char a[43];
            random_address(s * per + i + 100000, a);
            long st = nonce_from(n.port, src, a, NULL);
            if (st == 200) ok++;
            else if (st == 503) full++;
            else if (st == 429) limited++;
            else fail_msg("nonce from %s: status %ld", src, st);
        }
    }
    printf("many addresses: %u nonces sent, %u issued, %u refused (table full), %u over their share\n", srcs * per,
           ok, full, limited);
    assert_true(ok <= ZT_WALLET_MAX_NONCES);
    assert_true(full > 0); /* the table did fill: the case checked */
    assert_int_equal(login_from(n.port, "127.0.0.1", pending), 200);
    free(pending);
    node_stop(&n, 60000);
}

/* A client asking again for its own address keeps a few nonces, its
 * oldest replaced; another source's nonce for the same address stays. */
static void test_same_address_repeats(void **state)
{
    (void)state;
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    char *mine = NULL, *first = NULL, *last = NULL;
    assert_int_equal(nonce_from(n.port, "127.0.0.1", ADDRESS, &mine), 200);
    assert_int_equal(nonce_from(n.port, "127.0.0.2", ADDRESS, &first), 200);
    for (int i = 0; i < 40; i++) {
        free(last);
        last = NULL;
        assert_int_equal(nonce_from(n.port, "127.0.0.2", ADDRESS, &last), 200);
    }
    assert_int_equal(login_from(n.port, "127.0.0.2", first), 401); /* replaced by its own source's newer ones */
    assert_int_equal(login_from(n.port, "127.0.0.2", last), 200);
    assert_int_equal(login_from(n.port, "127.0.0.1", mine), 200);
    free(mine);
    free(first);
    free(last);
    node_stop(&n, 60000);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_wallet_nonce")) return 2;
    soak = getenv("ZT_SOAK") && strcmp(getenv("ZT_SOAK"), "1") == 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_address_flood),
        cmocka_unit_test(test_many_addresses_flood),
        cmocka_unit_test(test_same_address_repeats),
    };
    int f = cmocka_run_group_tests(tests, NULL, NULL);
    secp256k1_context_destroy(ctx);
    curl_global_cleanup();
    return zt_test_exit(f);
}
