/* wallet.c: wallet sessions for black-box tests (wallet.h). */
#define _GNU_SOURCE
#include "wallet.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_wallet.h"

void wallet_login(uint16_t port, const char *address, const char *skhex, char *token, size_t cap)
{
    struct resp r;
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", address);
    http_auth(port, "POST", "/v1/auth/wallet/nonce", NULL, "application/json", body, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    const char *msg = json_string_value(json_object_get(j, "message"));
    assert_non_null(msg);
    uint8_t sk[32], h[32], sig[65];
    assert_int_equal(zt_hex_decode_str(sk, 32, skhex, ZT_HEX_LOWER), 0);
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
    json_t *b = json_pack("{s:s,s:s,s:s}", "address", address, "message", msg, "signature", sighex);
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    json_decref(j);
    resp_free(&r);
    http_auth(port, "POST", "/v1/auth/wallet/login", NULL, "application/json", s, &r);
    free(s);
    if (r.status != 200) fail_msg("login: %ld %s", r.status, zt_buf_str(&r.body));
    j = resp_json(&r);
    const char *t = json_string_value(json_object_get(j, "session_token"));
    assert_non_null(t);
    zt_strlcpy(token, t, cap);
    json_decref(j);
    resp_free(&r);
}
