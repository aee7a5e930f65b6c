/* test_wallet.c: wallet login: Keccak-256 known answers, EIP-191 hashing,
 * signature recovery (signatures made here with libsecp256k1 from a fixed
 * key, the web3.js documentation's example), EIP-55 addresses, parsers,
 * and the nonce/session tables with an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_wallet.h"
#include "zentalk/zt_str.h"
#include "zt_test.h"

#define NOW 1800000000LL

/* web3.js docs: web3.eth.accounts.privateKeyToAccount / sign */
static const char *const SECRET_HEX = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
static const char *const ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

static secp256k1_context *ctx;

static void unhex(const char *h, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        char b[3] = {h[2 * i], h[2 * i + 1], 0};
        v = (unsigned)strtoul(b, NULL, 16);
        out[i] = (uint8_t)v;
    }
}

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
    char got[2 * 65 + 1];
    zt_hex_encode(got, p, n);
    assert_string_equal(got, want);
}

static void secret(uint8_t sk[32])
{
    unhex(SECRET_HEX, sk, 32);
}

/* personal_sign: r || s || (27 + recid) */
static void sign_personal(const void *msg, size_t n, uint8_t sig[65])
{
    uint8_t sk[32], h[32];
    secret(sk);
    zt_eip191_hash(msg, n, h);
    secp256k1_ecdsa_recoverable_signature rs;
    assert_int_equal(secp256k1_ecdsa_sign_recoverable(ctx, &rs, h, sk, NULL, NULL), 1);
    int recid = -1;
    assert_int_equal(secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig, &recid, &rs), 1);
    sig[64] = (uint8_t)(27 + recid);
}

static void my_address(uint8_t addr[20])
{
    assert_int_equal(zt_wallet_parse_address(ADDRESS, addr), 0);
}

static void test_keccak_kats(void **state)
{
    (void)state;
    uint8_t h[32];
    zt_keccak256(h, "", 0);
    assert_hex(h, 32, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    zt_keccak256(h, "abc", 3);
    assert_hex(h, 32, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    /* EIP-191 of "Hello World" (web3.eth.accounts.hashMessage docs) */
    zt_eip191_hash("Hello World", 11, h);
    assert_hex(h, 32, "a1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2");
    /* the streamed EIP-191 hash equals Keccak of the concatenation across
     * block boundaries (rate 136) */
    static uint8_t msg[600], cat[700];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 7 + 1);
    static const size_t lens[] = {0, 1, 100, 107, 108, 109, 135, 136, 137, 243, 244, 272, 599};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        int pl = snprintf((char *)cat, sizeof cat, "\x19" "Ethereum Signed Message:\n%zu", lens[k]);
        memcpy(cat + pl, msg, lens[k]);
        uint8_t a[32], b[32];
        zt_keccak256(a, cat, (size_t)pl + lens[k]);
        zt_eip191_hash(msg, lens[k], b);
        assert_memory_equal(a, b, 32);
    }
}

static void test_address_from_key_and_eip55(void **state)
{
    (void)state;
    uint8_t sk[32], ser[65], h[32];
    secret(sk);
    secp256k1_pubkey pk;
    assert_int_equal(secp256k1_ec_pubkey_create(ctx, &pk, sk), 1);
    size_t sl = sizeof ser;
    assert_int_equal(secp256k1_ec_pubkey_serialize(ctx, ser, &sl, &pk, SECP256K1_EC_UNCOMPRESSED), 1);
    zt_keccak256(h, ser + 1, 64);
    char s[ZT_WALLET_ADDR_STR];
    zt_wallet_format_address(h + 12, s);
    assert_string_equal(s, ADDRESS);
    /* EIP-55 test vectors */
    static const char *const v[] = {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                                    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                                    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
                                    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"};
    for (size_t i = 0; i < 4; i++) {
        uint8_t a[20];
        assert_int_equal(zt_wallet_parse_address(v[i], a), 0);
        zt_wallet_format_address(a, s);
        assert_string_equal(s, v[i]);
    }
}

static void test_recover_known_signature(void **state)
{
    (void)state;
    /* web3.eth.accounts.sign('Some data', key): RFC 6979, so ours is the same */
    static const char *const want =
        "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
        "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a029"
        "1c";
    uint8_t sig[65], addr[20], got[20], h[32];
    zt_eip191_hash("Some data", 9, h);
    assert_hex(h, 32, "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655");
    sign_personal("Some data", 9, sig);
    assert_hex(sig, 65, want);
    my_address(addr);
    assert_int_equal(zt_wallet_recover(h, sig, got), 0);
    assert_memory_equal(got, addr, 20);
    assert_true(zt_wallet_verify_personal("Some data", 9, sig, addr));
    /* from the hex form a wallet sends */
    char hex[2 + 130 + 1] = "0x";
    zt_hex_encode(hex + 2, sig, 65);
    uint8_t sig2[65];
    assert_int_equal(zt_wallet_parse_sig(hex, sig2), 0);
    assert_memory_equal(sig, sig2, 65);
}

static void test_wrong_address_and_tampered_message(void **state)
{
    (void)state;
    uint8_t sig[65], addr[20];
    my_address(addr);
    sign_personal("hello zentalk", 13, sig);
    assert_true(zt_wallet_verify_personal("hello zentalk", 13, sig, addr));
    assert_false(zt_wallet_verify_personal("hello zentalK", 13, sig, addr));
    assert_false(zt_wallet_verify_personal("hello zentalk ", 14, sig, addr));
    uint8_t other[20];
    memcpy(other, addr, 20);
    other[19] ^= 1;
    assert_false(zt_wallet_verify_personal("hello zentalk", 13, sig, other));
    sig[10] ^= 0x40; /* tampered r */
    assert_false(zt_wallet_verify_personal("hello zentalk", 13, sig, addr));
}

static void test_high_s_and_v_variants(void **state)
{
    (void)state;
    static const uint8_t n[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                  0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};
    uint8_t sig[65], addr[20];
    my_address(addr);
    sign_personal("v and s", 7, sig);
    uint8_t v = sig[64];
    /* 0/1 and 27/28 both name the recovery id */
    sig[64] = (uint8_t)(v - 27);
    assert_true(zt_wallet_verify_personal("v and s", 7, sig, addr));
    sig[64] = (uint8_t)(v == 27 ? 28 : 27); /* the other id: another key */
    assert_false(zt_wallet_verify_personal("v and s", 7, sig, addr));
    static const uint8_t bad_v[] = {2, 3, 26, 29, 35, 36, 255};
    for (size_t i = 0; i < sizeof bad_v; i++) {
        sig[64] = bad_v[i];
        assert_false(zt_wallet_verify_personal("v and s", 7, sig, addr));
    }
    sig[64] = v;
    assert_true(zt_wallet_verify_personal("v and s", 7, sig, addr));
    /* the malleated twin (n - s, other recovery id) recovers the same key
     * mathematically; it is refused */
    uint8_t hi[65];
    memcpy(hi, sig, 65);
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = (int)n[i] - (int)sig[32 + i] - borrow;
        borrow = d < 0;
        hi[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    hi[64] = (uint8_t)(v == 27 ? 28 : 27);
    uint8_t h[32], got[20];
    zt_eip191_hash("v and s", 7, h);
    assert_int_equal(zt_wallet_recover(h, hi, got), ZT_ECRYPTO);
    /* r = 0, s = 0 and r >= n are refused */
    uint8_t z[65];
    memset(z, 0, sizeof z);
    z[64] = 27;
    assert_int_equal(zt_wallet_recover(h, z, got), ZT_ECRYPTO);
    memcpy(z, n, 32);
    memcpy(z + 32, sig + 32, 32);
    assert_int_equal(zt_wallet_recover(h, z, got), ZT_ECRYPTO);
}

static void test_parsers(void **state)
{
    (void)state;
    uint8_t a[20], s[65];
    assert_int_equal(zt_wallet_parse_address("0x2c7536e3605d9c16a7a3d7b1898e529396a65c23", a), 0);
    assert_int_equal(zt_wallet_parse_address("0X2C7536E3605D9C16A7A3D7B1898E529396A65C23", a), 0);
    static const char *const bad[] = {
        NULL, "", "0x", "2c7536e3605d9c16a7a3d7b1898e529396a65c23",
        "0x2c7536e3605d9c16a7a3d7b1898e529396a65c2", "0x2c7536e3605d9c16a7a3d7b1898e529396a65c233",
        "0x2c7536e3605d9c16a7a3d7b1898e529396a65cg3", " 0x2c7536e3605d9c16a7a3d7b1898e529396a65c23",
        "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(zt_wallet_parse_address(bad[i], a), ZT_EPARSE);
    char hex[140];
    memset(hex, 'a', sizeof hex);
    hex[0] = '0', hex[1] = 'x', hex[132] = '\0';
    assert_int_equal(zt_wallet_parse_sig(hex, s), 0);
    hex[131] = '\0';
    assert_int_equal(zt_wallet_parse_sig(hex, s), ZT_EPARSE);
    hex[131] = 'a', hex[132] = 'a', hex[133] = '\0';
    assert_int_equal(zt_wallet_parse_sig(hex, s), ZT_EPARSE);
    hex[132] = '\0', hex[70] = 'z';
    assert_int_equal(zt_wallet_parse_sig(hex, s), ZT_EPARSE);
    /* bearer session tokens: exactly 43 base64url characters */
    const char *tok;
    size_t len;
    char b[64] = "Bearer ";
    memset(b + 7, 'A', 43);
    b[50] = '\0';
    assert_int_equal(zt_wallet_parse_bearer(b, &tok, &len), 0);
    assert_int_equal(len, 43);
    assert_ptr_equal(tok, b + 7);
    memcpy(b, "bEARER ", 7);
    assert_int_equal(zt_wallet_parse_bearer(b, &tok, &len), 0);
    b[20] = '.';
    assert_int_equal(zt_wallet_parse_bearer(b, &tok, &len), ZT_EPARSE);
    b[20] = 'A', b[49] = '\0';
    assert_int_equal(zt_wallet_parse_bearer(b, &tok, &len), ZT_EPARSE);
    assert_int_equal(zt_wallet_parse_bearer(NULL, &tok, &len), ZT_EPARSE);
    assert_int_equal(zt_wallet_parse_bearer("Basic AAAA", &tok, &len), ZT_EPARSE);
}

static void sign_msg(const char *msg, uint8_t sig[65])
{
    sign_personal(msg, strlen(msg), sig);
}

static void test_nonce_login_session_logout(void **state)
{
    (void)state;
    struct zt_wallet *w;
    assert_int_equal(zt_wallet_new(0, &w), ZT_EINVAL);
    assert_int_equal(zt_wallet_new(3600, &w), 0);
    uint8_t addr[20], sig[65];
    my_address(addr);
    char msg[ZT_WALLET_MSG_MAX], nonce[33], tok[ZT_WALLET_TOKEN_LEN + 1];
    int64_t exp = 0, sexp = 0;
    assert_int_equal(zt_wallet_nonce(w, addr, NULL, NOW, msg, sizeof msg, nonce, &exp), 0);
    assert_int_equal(exp, NOW + ZT_WALLET_NONCE_TTL_S);
    assert_int_equal(strlen(nonce), 32);
    assert_non_null(strstr(msg, nonce));
    assert_non_null(strstr(msg, ADDRESS));
    assert_non_null(strstr(msg, "zentalk-ai"));
    sign_msg(msg, sig);
    const char *why = NULL;
    /* another address: refused, and the nonce is used up */
    uint8_t other[20];
    memcpy(other, addr, 20);
    other[0] ^= 0x80;
    assert_int_equal(zt_wallet_login(w, other, msg, strlen(msg), sig, NOW + 1, tok, &sexp, &why),
                     ZT_ENOTFOUND);
    assert_int_equal(zt_wallet_login(w, addr, msg, strlen(msg), sig, NOW + 1, tok, &sexp, &why),
                     ZT_ENOTFOUND);

    /* the good path */
    assert_int_equal(zt_wallet_nonce(w, addr, NULL, NOW, msg, sizeof msg, nonce, &exp), 0);
    sign_msg(msg, sig);
    assert_int_equal(zt_wallet_login(w, addr, msg, strlen(msg), sig, NOW + 10, tok, &sexp, &why), 0);
    assert_int_equal(strlen(tok), ZT_WALLET_TOKEN_LEN);
    assert_int_equal(sexp, NOW + 10 + 3600);
    /* replay */
    char tok2[ZT_WALLET_TOKEN_LEN + 1];
    assert_int_equal(zt_wallet_login(w, addr, msg, strlen(msg), sig, NOW + 11, tok2, &sexp, &why),
                     ZT_ENOTFOUND);
    struct zt_auth_principal p;
    assert_int_equal(zt_wallet_session(w, tok, strlen(tok), NOW + 20, &p), 0);
    assert_string_equal(p.identity, "wallet:0x2c7536e3605d9c16a7a3d7b1898e529396a65c23");
    assert_int_equal(p.role, ZT_AUTH_USER);
    assert_int_equal(zt_wallet_sessions(w, NOW + 20), 1);
    char bad[ZT_WALLET_TOKEN_LEN + 1];
    memcpy(bad, tok, sizeof bad);
    bad[0] = bad[0] == 'A' ? 'B' : 'A';
    assert_int_equal(zt_wallet_session(w, bad, strlen(bad), NOW + 20, &p), ZT_ENOTFOUND);
    assert_int_equal(zt_wallet_session(w, tok, 10, NOW + 20, &p), ZT_ENOTFOUND);
    /* expiry */
    assert_int_equal(zt_wallet_session(w, tok, strlen(tok), NOW + 10 + 3600, &p), ZT_ENOTFOUND);
    assert_int_equal(zt_wallet_sessions(w, NOW), 0);

    /* logout revokes */
    assert_int_equal(zt_wallet_nonce(w, addr, NULL, NOW, msg, sizeof msg, nonce, &exp), 0);
    sign_msg(msg, sig);
    assert_int_equal(zt_wallet_login(w, addr, msg, strlen(msg), sig, NOW, tok, &sexp, &why), 0);
    assert_int_equal(zt_wallet_session(w, tok, strlen(tok), NOW + 1, &p), 0);
    assert_int_equal(zt_wallet_logout(w, tok, strlen(tok), NOW + 1), 0);
    assert_int_equal(zt_wallet_session(w, tok, strlen(tok), NOW + 1, &p), ZT_ENOTFOUND);
    assert_int_equal(zt_wallet_logout(w, tok, strlen(tok), NOW + 1), ZT_ENOTFOUND);

    /* expired nonce */
    assert_int_equal(zt_wallet_nonce(w, addr, NULL, NOW, msg, sizeof msg, nonce, &exp), 0);
    sign_msg(msg, sig);
    assert_int_equal(zt_wallet_login(w, addr, msg, strlen(msg), sig, exp + 1, tok, &sexp, &why),
                     ZT_ENOTFOUND);

    /* wrong signature: refused with ECRYPTO, nonce used up */
    assert_int_equal(zt_wallet_nonce(w, addr, NULL, NOW, msg, sizeof msg, nonce, &exp), 0);
    sign_msg("something else", sig);
    why = NULL;
    assert_int_equal(zt_wallet_login(w, addr, msg, strlen(msg), sig, NOW, tok, &sexp, &why), ZT_ECRYPTO);
    assert_non_null(why);
    sign_msg(msg, sig);
    assert_int_equal(zt_wallet_login(w, addr, msg, strlen(msg), sig, NOW, tok, &sexp, &why),
                     ZT_ENOTFOUND);

    /* a tampered message (same nonce line) is not the one issued */
    assert_int_equal(zt_wallet_nonce(w, addr, NULL, NOW, msg, sizeof msg, nonce, &exp), 0);
    char t[ZT_WALLET_MSG_MAX + 8];
    snprintf(t, sizeof t, "X%s", msg);
    sign_msg(t, sig);
    assert_int_equal(zt_wallet_login(w, addr, t, strlen(t), sig, NOW, tok, &sexp, &why), ZT_ENOTFOUND);
    assert_int_equal(zt_wallet_login(w, addr, "no nonce", 8, sig, NOW, tok, &sexp, &why), ZT_ENOTFOUND);
    zt_wallet_free(w);
}

/* The nonce table is bounded: a client asking again for the same address
 * replaces its own oldest nonce. */
static void test_nonce_table_bounded(void **state)
{
    (void)state;
    struct zt_wallet *w;
    assert_int_equal(zt_wallet_new(60, &w), 0);
    uint8_t addr[20], sig[65];
    my_address(addr);
    char first[ZT_WALLET_MSG_MAX], msg[ZT_WALLET_MSG_MAX], nonce[33], tok[ZT_WALLET_TOKEN_LEN + 1];
    int64_t exp, sexp;
    const char *why;
    assert_int_equal(zt_wallet_nonce(w, addr, NULL, NOW, first, sizeof first, nonce, &exp), 0);
    for (int i = 1; i <= ZT_WALLET_MAX_NONCES; i++)
        assert_int_equal(zt_wallet_nonce(w, addr, NULL, NOW + i / 100 + 1, msg, sizeof msg, nonce, &exp), 0);
    sign_msg(first, sig);
    assert_int_equal(zt_wallet_login(w, addr, first, strlen(first), sig, NOW + 60, tok, &sexp, &why),
                     ZT_ENOTFOUND);
    sign_msg(msg, sig);
    assert_int_equal(zt_wallet_login(w, addr, msg, strlen(msg), sig, NOW + 60, tok, &sexp, &why), 0);
    zt_wallet_free(w);
}

/* Shares (issue 17 item 3): per source, per address, and a full table
 * refuses newcomers instead of evicting a live nonce. */
static void test_nonce_shares(void **state)
{
    (void)state;
    struct zt_wallet *w;
    assert_int_equal(zt_wallet_new(60, &w), 0);
    uint8_t addr[20], a[20], sig[65];
    my_address(addr);
    char pending[ZT_WALLET_MSG_MAX], msg[ZT_WALLET_MSG_MAX], nonce[33], tok[ZT_WALLET_TOKEN_LEN + 1];
    int64_t exp, sexp;
    const char *why;
    assert_int_equal(zt_wallet_nonce(w, addr, "192.0.2.1", NOW, pending, sizeof pending, nonce, &exp), 0);
    /* one source, many addresses: its share, then ZT_EPERM */
    memset(a, 0, sizeof a);
    for (int i = 0; i < ZT_WALLET_NONCES_PER_SOURCE; i++) {
        a[0] = (uint8_t)i, a[1] = 1;
        assert_int_equal(zt_wallet_nonce(w, a, "192.0.2.66", NOW, msg, sizeof msg, nonce, &exp), 0);
    }
    a[0] = 0xff;
    assert_int_equal(zt_wallet_nonce(w, a, "192.0.2.66", NOW, msg, sizeof msg, nonce, &exp), ZT_EPERM);
    /* one address, many sources: its share, then ZT_EPERM */
    memset(a, 7, sizeof a);
    char src[32];
    for (int i = 0; i < ZT_WALLET_NONCES_PER_ADDRESS; i++) {
        snprintf(src, sizeof src, "198.51.100.%d", i);
        assert_int_equal(zt_wallet_nonce(w, a, src, NOW, msg, sizeof msg, nonce, &exp), 0);
    }
    assert_int_equal(zt_wallet_nonce(w, a, "198.51.100.200", NOW, msg, sizeof msg, nonce, &exp), ZT_EPERM);
    /* many sources fill the table: newcomers get ZT_EBUSY, nothing live is evicted */
    int issued = 0, busy = 0;
    for (int i = 0; i < 2 * ZT_WALLET_MAX_NONCES; i++) {
        snprintf(src, sizeof src, "10.%d.%d.1", i / 256, i % 256);
        memset(a, 0, sizeof a);
        a[2] = (uint8_t)i, a[3] = (uint8_t)(i >> 8), a[4] = 9;
        int rc = zt_wallet_nonce(w, a, src, NOW + 1, msg, sizeof msg, nonce, &exp);
        if (rc == 0) issued++;
        else if (rc == ZT_EBUSY) busy++;
        else fail_msg("nonce %d: %d", i, rc);
    }
    assert_int_equal(busy, ZT_WALLET_MAX_NONCES + 1 + ZT_WALLET_NONCES_PER_SOURCE + ZT_WALLET_NONCES_PER_ADDRESS);
    assert_true(issued > 0);
    sign_msg(pending, sig);
    assert_int_equal(zt_wallet_login(w, addr, pending, strlen(pending), sig, NOW + 2, tok, &sexp, &why), 0);
    /* once nonces expire the table takes new ones again */
    assert_int_equal(zt_wallet_nonce(w, addr, "192.0.2.1", NOW + 2 + ZT_WALLET_NONCE_TTL_S, msg, sizeof msg, nonce,
                                     &exp), 0);
    zt_wallet_free(w);
}

/* GDPR export/erase and retention: list, revoke by address, sweep. */
static void test_list_revoke_sweep(void **state)
{
    (void)state;
    struct zt_wallet *w;
    assert_int_equal(zt_wallet_new(100, &w), 0);
    uint8_t addr[20], sig[65], other[20];
    my_address(addr);
    memset(other, 0x42, sizeof other);
    char msg[ZT_WALLET_MSG_MAX], nonce[33], tok[ZT_WALLET_TOKEN_LEN + 1];
    int64_t exp = 0, sexp = 0;
    const char *why = NULL;
    for (int i = 0; i < 2; i++) { /* two sessions, made at NOW and NOW + 50 */
        assert_int_equal(zt_wallet_nonce(w, addr, NULL, NOW + 50 * i, msg, sizeof msg, nonce, &exp), 0);
        sign_msg(msg, sig);
        assert_int_equal(zt_wallet_login(w, addr, msg, strlen(msg), sig, NOW + 50 * i, tok, &sexp, &why), 0);
    }
    struct zt_wallet_session_info v[4];
    assert_int_equal(zt_wallet_list(w, addr, NOW + 60, v, 4), 2);
    assert_true((v[0].created_s == NOW && v[1].created_s == NOW + 50) ||
                (v[1].created_s == NOW && v[0].created_s == NOW + 50));
    assert_int_equal(v[0].expires_s - v[0].created_s, 100);
    assert_int_equal(zt_wallet_list(w, other, NOW + 60, v, 4), 0);
    /* a pending nonce of another address survives a sweep before its expiry */
    assert_int_equal(zt_wallet_nonce(w, other, NULL, NOW + 60, msg, sizeof msg, nonce, &exp), 0);
    size_t nn = 9, ns = 9;
    zt_wallet_sweep(w, NOW + 120, &nn, &ns); /* the first session expired at NOW + 100 */
    assert_int_equal(ns, 1);
    assert_int_equal(nn, 0);
    assert_int_equal(zt_wallet_list(w, addr, NOW + 120, v, 4), 1);
    assert_int_equal(zt_wallet_sessions(w, NOW + 120), 1);
    /* revoke by address: the live session goes, the token no longer works */
    struct zt_auth_principal p;
    assert_int_equal(zt_wallet_session(w, tok, strlen(tok), NOW + 120, &p), 0);
    assert_int_equal(zt_wallet_revoke_address(w, other), 0);
    assert_int_equal(zt_wallet_revoke_address(w, addr), 1);
    assert_int_equal(zt_wallet_session(w, tok, strlen(tok), NOW + 120, &p), ZT_ENOTFOUND);
    assert_int_equal(zt_wallet_revoke_address(w, addr), 0);
    assert_int_equal(zt_wallet_list(w, addr, NOW + 120, v, 4), 0);
    zt_wallet_sweep(w, NOW + 60 + ZT_WALLET_NONCE_TTL_S + 1, &nn, &ns);
    assert_int_equal(nn, 0); /* other's nonce went with revoke_address(other) */
    assert_int_equal(zt_wallet_nonce(w, other, NULL, NOW + 400, msg, sizeof msg, nonce, &exp), 0);
    zt_wallet_sweep(w, NOW + 399 + ZT_WALLET_NONCE_TTL_S, &nn, &ns);
    assert_int_equal(nn, 0); /* not yet expired */
    zt_wallet_sweep(w, NOW + 401 + ZT_WALLET_NONCE_TTL_S, &nn, &ns);
    assert_int_equal(nn, 1);
    assert_int_equal(ns, 0);
    zt_wallet_free(w);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keccak_kats),
        cmocka_unit_test(test_address_from_key_and_eip55),
        cmocka_unit_test(test_recover_known_signature),
        cmocka_unit_test(test_wrong_address_and_tampered_message),
        cmocka_unit_test(test_high_s_and_v_variants),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_nonce_login_session_logout),
        cmocka_unit_test(test_nonce_table_bounded),
        cmocka_unit_test(test_nonce_shares),
        cmocka_unit_test(test_list_revoke_sweep),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    secp256k1_context_destroy(ctx);
    return zt_test_exit(rc);
}
