/* test_hpke.c: HPKE (RFC 9180) known-answer vectors, tampering, modes,
 * sequence numbers, limits and the AES-GCM-unavailable path.
 *
 * Vectors: tests/vectors/hpke/rfc9180-x25519-sha256.json (RFC 9180 A.1 and
 * A.2, and the CFRG AES-256-GCM cases; see that file's "source" fields),
 * found through ZT_SOURCE_DIR as ctest sets it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_hpke.h"
#include "../../src/crypto/hpke_int.h"
#include "zt_test.h"

static int setup(void **state)
{
    (void)state;
    assert_int_equal(zt_crypto_init(), 0);
    zt__hpke_test_set_flags(0);
    zt_test_leak_mark();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zt__hpke_test_set_flags(0);
    zt_test_leak_check();
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode hex into out (cap bytes); returns the length, fails the test on
 * malformed input. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    assert_true(n % 2 == 0 && n / 2 <= cap);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return n / 2;
}

/* Field `key` of object o as bytes; returns the length or -1 if absent. */
static long field(json_t *o, const char *key, uint8_t *out, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (!v) return -1;
    assert_true(json_is_string(v));
    return (long)unhex(json_string_value(v), out, cap);
}

static void field32(json_t *o, const char *key, uint8_t out[32])
{
    assert_int_equal(field(o, key, out, 32), 32);
}

static json_t *load_vectors(void)
{
    const char *dir = getenv("ZT_SOURCE_DIR");
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/tests/vectors/hpke/rfc9180-x25519-sha256.json",
                     dir ? dir : ".");
    assert_true(n > 0 && (size_t)n < sizeof path);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) fprintf(stderr, "%s:%d: %s\n", path, err.line, err.text);
    assert_non_null(root);
    json_t *v = json_object_get(root, "vectors");
    assert_true(json_is_array(v));
    return root;
}

static struct zt_hpke_suite suite_of(uint16_t aead)
{
    return (struct zt_hpke_suite){ZT_HPKE_KEM_X25519_SHA256, ZT_HPKE_KDF_HKDF_SHA256, aead};
}

static const char *mode_name(int mode)
{
    static const char *names[] = {"base", "psk", "auth", "auth_psk"};
    return mode >= 0 && mode <= 3 ? names[mode] : "?";
}

/* ---- known-answer vectors -------------------------------------------------- */

struct tally {
    int vectors, keys, schedule, nonces, cts, opens, exports, skipped;
};

static void run_vector(json_t *v, struct tally *t)
{
    uint8_t info[256], psk[64], psk_id[64], ikm[64];
    uint8_t sk_e[32], pk_e[32], sk_r[32], pk_r[32], sk_s[32], pk_s[32], enc[32], ss[32];
    uint8_t key[32], base_nonce[12], exp_secret[32], want[64];
    int mode = (int)json_integer_value(json_object_get(v, "mode"));
    uint16_t aead = (uint16_t)json_integer_value(json_object_get(v, "aead_id"));
    assert_int_equal(json_integer_value(json_object_get(v, "kem_id")), 32);
    assert_int_equal(json_integer_value(json_object_get(v, "kdf_id")), 1);
    bool auth = mode == ZT_HPKE_MODE_AUTH || mode == ZT_HPKE_MODE_AUTH_PSK;

    if (aead == ZT_HPKE_AEAD_AES256GCM && !zt_hpke_aead_available(aead)) {
        t->skipped++;
        return;
    }
    /* AES-128-GCM: not in libsodium; check the key schedule and exports. */
    zt__hpke_test_set_flags(aead == ZT_HPKE_AEAD_AES128GCM ? ZT__HPKE_TEST_SCHEDULE_ONLY : 0);
    t->vectors++;

    /* Keys: DeriveKeyPair(ikmX) reproduces (skXm, pkXm); pk(skXm) = pkXm. */
    static const char *roles[][3] = {{"ikmE", "skEm", "pkEm"}, {"ikmR", "skRm", "pkRm"},
                                     {"ikmS", "skSm", "pkSm"}};
    uint8_t *sks[] = {sk_e, sk_r, sk_s}, *pks[] = {pk_e, pk_r, pk_s};
    for (int r = 0; r < 3; r++) {
        if (r == 2 && !auth) continue;
        field32(v, roles[r][1], sks[r]);
        field32(v, roles[r][2], pks[r]);
        uint8_t dsk[32], dpk[32];
        assert_int_equal(zt_hpke_public_key(sks[r], dpk), 0);
        assert_memory_equal(dpk, pks[r], 32);
        long n = field(v, roles[r][0], ikm, sizeof ikm);
        if (n >= 0) {
            assert_int_equal(zt_hpke_derive_keypair(ikm, (size_t)n, dsk, dpk), 0);
            assert_memory_equal(dsk, sks[r], 32);
            assert_memory_equal(dpk, pks[r], 32);
        }
        t->keys++;
    }

    /* KEM alone. */
    uint8_t want_enc[32], got_enc[32];
    field32(v, "enc", want_enc);
    assert_int_equal(zt__hpke_encap_fixed(pk_r, sk_e, auth ? sk_s : NULL, ss, got_enc), 0);
    assert_memory_equal(got_enc, want_enc, 32);
    uint8_t ss2[32];
    assert_int_equal(zt__hpke_decap(want_enc, sk_r, auth ? pk_s : NULL, ss2), 0);
    assert_memory_equal(ss, ss2, 32);
    if (field(v, "shared_secret", want, sizeof want) == 32) {
        assert_memory_equal(ss, want, 32);
        t->schedule++;
    }

    /* Contexts on both sides. */
    struct zt_hpke_params p = {.mode = (enum zt_hpke_mode)mode};
    long n = field(v, "info", info, sizeof info);
    p.info = info;
    p.info_len = n > 0 ? (size_t)n : 0;
    if (mode == ZT_HPKE_MODE_PSK || mode == ZT_HPKE_MODE_AUTH_PSK) {
        p.psk = psk;
        p.psk_len = (size_t)field(v, "psk", psk, sizeof psk);
        p.psk_id = psk_id;
        p.psk_id_len = (size_t)field(v, "psk_id", psk_id, sizeof psk_id);
    }
    struct zt_hpke_params pr = p;
    if (auth) {
        p.sender_sk = sk_s;
        pr.sender_pk = pk_s;
    }
    struct zt_hpke_ctx *sctx = NULL, *rctx = NULL;
    assert_int_equal(
        zt_hpke_setup_sender_fixed_ephemeral(suite_of(aead), &p, pk_r, sk_e, enc, &sctx), 0);
    assert_memory_equal(enc, want_enc, 32);
    assert_int_equal(zt_hpke_setup_receiver(suite_of(aead), &pr, enc, sk_r, &rctx), 0);

    /* Key schedule outputs, identical on both sides. */
    uint8_t key2[32], base_nonce2[12], exp_secret2[32];
    size_t key_len = 0, key_len2 = 0;
    zt__hpke_ctx_secrets(sctx, key, &key_len, base_nonce, exp_secret);
    zt__hpke_ctx_secrets(rctx, key2, &key_len2, base_nonce2, exp_secret2);
    assert_int_equal(key_len, key_len2);
    assert_memory_equal(key, key2, key_len);
    assert_memory_equal(base_nonce, base_nonce2, 12);
    assert_memory_equal(exp_secret, exp_secret2, 32);
    if (field(v, "key", want, sizeof want) >= 0) {
        assert_int_equal(field(v, "key", want, sizeof want), (long)key_len);
        assert_memory_equal(key, want, key_len);
        assert_int_equal(field(v, "base_nonce", want, sizeof want), 12);
        assert_memory_equal(base_nonce, want, 12);
        assert_int_equal(field(v, "exporter_secret", want, sizeof want), 32);
        assert_memory_equal(exp_secret, want, 32);
        t->schedule++;
    }

    /* Encryptions: the sender seals seq 0..256 in order (compare the listed
     * ones); the recipient jumps to each listed seq and opens. */
    json_t *encs = json_object_get(v, "encryptions");
    size_t ne = json_array_size(encs);
    uint64_t want_seq = 0;
    for (size_t i = 0; i < ne; i++) {
        json_t *e = json_array_get(encs, i);
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(e, "seq"));
        uint8_t pt[64], aad[32], ct[128], out[128], nonce[12];
        size_t pt_len = (size_t)field(e, "pt", pt, sizeof pt);
        size_t aad_len = (size_t)field(e, "aad", aad, sizeof aad);
        if (field(e, "nonce", nonce, sizeof nonce) == 12) {
            uint8_t x[12];
            memcpy(x, base_nonce, 12);
            for (int b = 0; b < 8; b++) x[11 - b] ^= (uint8_t)(seq >> (8 * b));
            assert_memory_equal(x, nonce, 12);
            t->nonces++;
        }
        long ct_len = field(e, "ct", ct, sizeof ct);
        if (ct_len < 0) {
            /* No AEAD to run (AES-128-GCM): sealing is refused. */
            assert_int_equal(zt_hpke_ctx_seal(sctx, aad, aad_len, pt, pt_len, out, sizeof out),
                             ZT_EUNSUPPORTED);
            continue;
        }
        assert_int_equal((size_t)ct_len, pt_len + ZT_HPKE_TAG_LEN);
        while (want_seq < seq) { /* messages the vector does not list */
            assert_int_equal(zt_hpke_ctx_seal(sctx, NULL, 0, pt, pt_len, out, sizeof out), 0);
            want_seq++;
        }
        assert_int_equal(zt_hpke_ctx_seq(sctx), seq);
        assert_int_equal(zt_hpke_ctx_seal(sctx, aad, aad_len, pt, pt_len, out, sizeof out), 0);
        want_seq++;
        assert_memory_equal(out, ct, (size_t)ct_len);
        t->cts++;

        zt__hpke_ctx_set_seq(rctx, seq);
        memset(out, 0xAA, sizeof out);
        assert_int_equal(zt_hpke_ctx_open(rctx, aad, aad_len, ct, (size_t)ct_len, out, sizeof out),
                         0);
        assert_memory_equal(out, pt, pt_len);
        assert_int_equal(zt_hpke_ctx_seq(rctx), seq + 1);
        t->opens++;
    }

    /* Exports, identical on both sides. */
    json_t *exps = json_object_get(v, "exports");
    for (size_t i = 0; i < json_array_size(exps); i++) {
        json_t *x = json_array_get(exps, i);
        uint8_t xctx[64], got[64], got2[64];
        size_t xlen = (size_t)field(x, "exporter_context", xctx, sizeof xctx);
        size_t L = (size_t)json_integer_value(json_object_get(x, "L"));
        assert_int_equal(field(x, "exported_value", want, sizeof want), (long)L);
        assert_int_equal(zt_hpke_ctx_export(sctx, xlen ? xctx : NULL, xlen, got, L), 0);
        assert_int_equal(zt_hpke_ctx_export(rctx, xlen ? xctx : NULL, xlen, got2, L), 0);
        assert_memory_equal(got, want, L);
        assert_memory_equal(got2, want, L);
        t->exports++;
    }
    zt_hpke_ctx_free(sctx);
    zt_hpke_ctx_free(rctx);
    zt__hpke_test_set_flags(0);
}

static void test_vectors(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *vs = json_object_get(root, "vectors");
    struct tally total = {0};
    for (size_t i = 0; i < json_array_size(vs); i++) {
        json_t *v = json_array_get(vs, i);
        struct tally t = {0};
        run_vector(v, &t);
        int aead = (int)json_integer_value(json_object_get(v, "aead_id"));
        int mode = (int)json_integer_value(json_object_get(v, "mode"));
        printf("[ vector   ] aead 0x%04x %-8s %s: keys %d, schedule %d, nonces %d, ct %d, "
               "open %d, exports %d\n",
               aead, mode_name(mode), t.skipped ? "SKIPPED (no AES-GCM on this CPU)" : "ok",
               t.keys, t.schedule, t.nonces, t.cts, t.opens, t.exports);
        total.vectors += t.vectors;
        total.cts += t.cts;
        total.exports += t.exports;
        total.skipped += t.skipped;
    }
    printf("[ vector   ] %d vectors passed (%d ciphertexts, %d exports), %d skipped\n",
           total.vectors, total.cts, total.exports, total.skipped);
    assert_true(total.vectors >= 8); /* RFC 9180 A.1 and A.2 always run */
    json_decref(root);
}

/* ---- round trips and negative cases -------------------------------------- */

static const uint16_t AEADS[] = {ZT_HPKE_AEAD_CHACHA20POLY1305, ZT_HPKE_AEAD_AES256GCM};
#define N_AEADS (sizeof AEADS / sizeof AEADS[0])

static const uint8_t PSK[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t PSK_ID[] = "job-psk-1";
static const uint8_t INFO[] = "zentalk job v1";

static struct zt_hpke_params params_for(int mode, const uint8_t *sk_s, const uint8_t *pk_s,
                                        bool sender)
{
    struct zt_hpke_params p = {.mode = (enum zt_hpke_mode)mode,
                               .info = INFO,
                               .info_len = sizeof INFO - 1};
    if (mode == ZT_HPKE_MODE_PSK || mode == ZT_HPKE_MODE_AUTH_PSK) {
        p.psk = PSK;
        p.psk_len = sizeof PSK;
        p.psk_id = PSK_ID;
        p.psk_id_len = sizeof PSK_ID - 1;
    }
    if (mode == ZT_HPKE_MODE_AUTH || mode == ZT_HPKE_MODE_AUTH_PSK) {
        if (sender)
            p.sender_sk = sk_s;
        else
            p.sender_pk = pk_s;
    }
    return p;
}

static void test_roundtrip_all_modes(void **state)
{
    (void)state;
    uint8_t sk_r[32], pk_r[32], sk_s[32], pk_s[32], enc[32];
    assert_int_equal(zt_hpke_keypair(sk_r, pk_r), 0);
    assert_int_equal(zt_hpke_keypair(sk_s, pk_s), 0);
    const uint8_t aad[] = "job-header";
    const uint8_t msg[] = "summarise this thread please";
    for (size_t a = 0; a < N_AEADS; a++) {
        if (!zt_hpke_aead_available(AEADS[a])) continue;
        for (int mode = 0; mode <= 3; mode++) {
            struct zt_hpke_params ps = params_for(mode, sk_s, pk_s, true);
            struct zt_hpke_params pr = params_for(mode, sk_s, pk_s, false);
            uint8_t ct[sizeof msg + ZT_HPKE_TAG_LEN], pt[sizeof msg];
            assert_int_equal(zt_hpke_seal(suite_of(AEADS[a]), &ps, pk_r, aad, sizeof aad, msg,
                                          sizeof msg, enc, ct, sizeof ct),
                             0);
            assert_int_equal(zt_hpke_open(suite_of(AEADS[a]), &pr, enc, sk_r, aad, sizeof aad, ct,
                                          sizeof ct, pt, sizeof pt),
                             0);
            assert_memory_equal(pt, msg, sizeof msg);

            /* Context API, several messages, plus matching exports. */
            struct zt_hpke_ctx *s = NULL, *r = NULL;
            assert_int_equal(zt_hpke_setup_sender(suite_of(AEADS[a]), &ps, pk_r, enc, &s), 0);
            assert_int_equal(zt_hpke_setup_receiver(suite_of(AEADS[a]), &pr, enc, sk_r, &r), 0);
            for (int i = 0; i < 5; i++) {
                assert_int_equal(
                    zt_hpke_ctx_seal(s, aad, sizeof aad, msg, sizeof msg, ct, sizeof ct), 0);
                assert_int_equal(zt_hpke_ctx_open(r, aad, sizeof aad, ct, sizeof ct, pt, sizeof pt),
                                 0);
                assert_memory_equal(pt, msg, sizeof msg);
            }
            uint8_t x1[100], x2[100];
            assert_int_equal(zt_hpke_ctx_export(s, (const uint8_t *)"ctx", 3, x1, sizeof x1), 0);
            assert_int_equal(zt_hpke_ctx_export(r, (const uint8_t *)"ctx", 3, x2, sizeof x2), 0);
            assert_memory_equal(x1, x2, sizeof x1);
            zt_hpke_ctx_free(s);
            zt_hpke_ctx_free(r);
        }
    }
    zt_hpke_ctx_free(NULL);
}

/* The context's ciphertext is exactly libsodium's AEAD under the context's
 * key and base_nonce XOR seq: a cross-check independent of the vectors. */
static void test_cross_check_raw_aead(void **state)
{
    (void)state;
    uint8_t sk_r[32], pk_r[32], enc[32];
    assert_int_equal(zt_hpke_keypair(sk_r, pk_r), 0);
    uint8_t msg[300], ct[300 + 16], pt[300];
    randombytes_buf(msg, sizeof msg);
    for (size_t a = 0; a < N_AEADS; a++) {
        if (!zt_hpke_aead_available(AEADS[a])) continue;
        struct zt_hpke_ctx *s = NULL;
        assert_int_equal(zt_hpke_setup_sender(suite_of(AEADS[a]), NULL, pk_r, enc, &s), 0);
        uint8_t key[32], base_nonce[12], xs[32];
        size_t key_len;
        zt__hpke_ctx_secrets(s, key, &key_len, base_nonce, xs);
        assert_int_equal(key_len, 32);
        for (uint64_t seq = 0; seq < 3; seq++) {
            assert_int_equal(zt_hpke_ctx_seal(s, msg, 7, msg, sizeof msg, ct, sizeof ct), 0);
            uint8_t nonce[12];
            memcpy(nonce, base_nonce, 12);
            nonce[11] ^= (uint8_t)seq;
            int r = AEADS[a] == ZT_HPKE_AEAD_AES256GCM
                        ? crypto_aead_aes256gcm_decrypt(pt, NULL, NULL, ct, sizeof ct, msg, 7,
                                                        nonce, key)
                        : crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct, sizeof ct,
                                                                    msg, 7, nonce, key);
            assert_int_equal(r, 0);
            assert_memory_equal(pt, msg, sizeof msg);
        }
        zt_hpke_ctx_free(s);
    }
}

/* Every single-byte change to the ciphertext (tag included), the aad and
 * enc makes open fail with ZT_ECRYPTO and leaves a zeroed plaintext. */
static void test_tamper_every_byte(void **state)
{
    (void)state;
    uint8_t sk_r[32], pk_r[32], sk_s[32], pk_s[32], enc[32], bad_enc[32];
    assert_int_equal(zt_hpke_keypair(sk_r, pk_r), 0);
    assert_int_equal(zt_hpke_keypair(sk_s, pk_s), 0);
    uint8_t aad[24], msg[48], ct[48 + 16], bad[48 + 16], pt[48];
    randombytes_buf(aad, sizeof aad);
    randombytes_buf(msg, sizeof msg);
    static const int modes[] = {ZT_HPKE_MODE_BASE, ZT_HPKE_MODE_AUTH};
    for (size_t a = 0; a < N_AEADS; a++) {
        if (!zt_hpke_aead_available(AEADS[a])) continue;
        struct zt_hpke_suite su = suite_of(AEADS[a]);
        for (size_t m = 0; m < 2; m++) {
            struct zt_hpke_params ps = params_for(modes[m], sk_s, pk_s, true);
            struct zt_hpke_params pr = params_for(modes[m], sk_s, pk_s, false);
            assert_int_equal(
                zt_hpke_seal(su, &ps, pk_r, aad, sizeof aad, msg, sizeof msg, enc, ct, sizeof ct),
                0);
            for (size_t i = 0; i < sizeof ct; i++) {
                memcpy(bad, ct, sizeof ct);
                bad[i] ^= (uint8_t)(1u << (i % 8));
                memset(pt, 0x55, sizeof pt);
                assert_int_equal(zt_hpke_open(su, &pr, enc, sk_r, aad, sizeof aad, bad,
                                              sizeof bad, pt, sizeof pt),
                                 ZT_ECRYPTO);
                assert_true(sodium_is_zero(pt, sizeof pt));
            }
            for (size_t i = 0; i < sizeof aad; i++) {
                aad[i] ^= 0x80;
                assert_int_equal(zt_hpke_open(su, &pr, enc, sk_r, aad, sizeof aad, ct, sizeof ct,
                                              pt, sizeof pt),
                                 ZT_ECRYPTO);
                aad[i] ^= 0x80;
            }
            for (size_t i = 0; i < sizeof enc; i++) {
                memcpy(bad_enc, enc, sizeof enc);
                bad_enc[i] ^= 0x01;
                assert_int_equal(zt_hpke_open(su, &pr, bad_enc, sk_r, aad, sizeof aad, ct,
                                              sizeof ct, pt, sizeof pt),
                                 ZT_ECRYPTO);
            }
            /* Truncated (tag cut short), extended, missing aad. */
            assert_int_equal(zt_hpke_open(su, &pr, enc, sk_r, aad, sizeof aad, ct, sizeof ct - 1,
                                          pt, sizeof pt),
                             ZT_ECRYPTO);
            assert_int_equal(
                zt_hpke_open(su, &pr, enc, sk_r, NULL, 0, ct, sizeof ct, pt, sizeof pt),
                ZT_ECRYPTO);
            assert_int_equal(zt_hpke_open(su, &pr, enc, sk_r, aad, sizeof aad, ct, sizeof ct, pt,
                                          sizeof pt),
                             0);
            assert_memory_equal(pt, msg, sizeof msg);
        }
    }
}

static void test_wrong_keys(void **state)
{
    (void)state;
    uint8_t sk_r[32], pk_r[32], sk_x[32], pk_x[32], sk_s[32], pk_s[32], enc[32];
    assert_int_equal(zt_hpke_keypair(sk_r, pk_r), 0);
    assert_int_equal(zt_hpke_keypair(sk_x, pk_x), 0);
    assert_int_equal(zt_hpke_keypair(sk_s, pk_s), 0);
    const uint8_t msg[] = "for the worker only";
    uint8_t ct[sizeof msg + 16], pt[sizeof msg];
    for (size_t a = 0; a < N_AEADS; a++) {
        if (!zt_hpke_aead_available(AEADS[a])) continue;
        struct zt_hpke_suite su = suite_of(AEADS[a]);
        /* Wrong recipient. */
        assert_int_equal(zt_hpke_seal(su, NULL, pk_r, NULL, 0, msg, sizeof msg, enc, ct, sizeof ct),
                         0);
        assert_int_equal(zt_hpke_open(su, NULL, enc, sk_x, NULL, 0, ct, sizeof ct, pt, sizeof pt),
                         ZT_ECRYPTO);
        /* Auth: a different claimed sender key. */
        struct zt_hpke_params ps = params_for(ZT_HPKE_MODE_AUTH, sk_s, pk_s, true);
        struct zt_hpke_params pr = params_for(ZT_HPKE_MODE_AUTH, sk_s, pk_x, false);
        assert_int_equal(zt_hpke_seal(su, &ps, pk_r, NULL, 0, msg, sizeof msg, enc, ct, sizeof ct),
                         0);
        assert_int_equal(zt_hpke_open(su, &pr, enc, sk_r, NULL, 0, ct, sizeof ct, pt, sizeof pt),
                         ZT_ECRYPTO);
        /* Auth sealed, opened as base (and the other way round). */
        assert_int_equal(zt_hpke_open(su, NULL, enc, sk_r, NULL, 0, ct, sizeof ct, pt, sizeof pt),
                         ZT_ECRYPTO);
        pr.sender_pk = pk_s;
        assert_int_equal(
            zt_hpke_open(su, &pr, enc, sk_r, NULL, 0, ct, sizeof ct, pt, sizeof pt), 0);
        /* PSK and info must match. */
        struct zt_hpke_params qs = params_for(ZT_HPKE_MODE_PSK, NULL, NULL, true);
        struct zt_hpke_params qr = qs;
        assert_int_equal(zt_hpke_seal(su, &qs, pk_r, NULL, 0, msg, sizeof msg, enc, ct, sizeof ct),
                         0);
        uint8_t other_psk[32];
        memcpy(other_psk, PSK, 32);
        other_psk[31] ^= 1;
        qr.psk = other_psk;
        assert_int_equal(zt_hpke_open(su, &qr, enc, sk_r, NULL, 0, ct, sizeof ct, pt, sizeof pt),
                         ZT_ECRYPTO);
        qr = qs;
        qr.psk_id = (const uint8_t *)"job-psk-2";
        assert_int_equal(zt_hpke_open(su, &qr, enc, sk_r, NULL, 0, ct, sizeof ct, pt, sizeof pt),
                         ZT_ECRYPTO);
        qr = qs;
        qr.info_len--;
        assert_int_equal(zt_hpke_open(su, &qr, enc, sk_r, NULL, 0, ct, sizeof ct, pt, sizeof pt),
                         ZT_ECRYPTO);
        /* A suite mismatch (ChaCha sealed, other AEAD opens) fails too. */
        if (zt_hpke_aead_available(ZT_HPKE_AEAD_AES256GCM)) {
            uint16_t other = AEADS[a] == ZT_HPKE_AEAD_AES256GCM ? ZT_HPKE_AEAD_CHACHA20POLY1305
                                                                : ZT_HPKE_AEAD_AES256GCM;
            assert_int_equal(zt_hpke_open(suite_of(other), &qs, enc, sk_r, NULL, 0, ct, sizeof ct,
                                          pt, sizeof pt),
                             ZT_ECRYPTO);
        }
    }
}

/* The context owns the sequence number: identical plaintexts give different
 * ciphertexts, a replayed or reordered message does not open, a failed open
 * does not advance, and the counter refuses to wrap. */
static void test_sequence_numbers(void **state)
{
    (void)state;
    uint8_t sk_r[32], pk_r[32], enc[32];
    assert_int_equal(zt_hpke_keypair(sk_r, pk_r), 0);
    const uint8_t msg[] = "same text";
    uint8_t c0[sizeof msg + 16], c1[sizeof msg + 16], c2[sizeof msg + 16], pt[sizeof msg];
    for (size_t a = 0; a < N_AEADS; a++) {
        if (!zt_hpke_aead_available(AEADS[a])) continue;
        struct zt_hpke_ctx *s = NULL, *r = NULL;
        assert_int_equal(zt_hpke_setup_sender(suite_of(AEADS[a]), NULL, pk_r, enc, &s), 0);
        assert_int_equal(zt_hpke_setup_receiver(suite_of(AEADS[a]), NULL, enc, sk_r, &r), 0);
        assert_int_equal(zt_hpke_ctx_seal(s, NULL, 0, msg, sizeof msg, c0, sizeof c0), 0);
        assert_int_equal(zt_hpke_ctx_seal(s, NULL, 0, msg, sizeof msg, c1, sizeof c1), 0);
        assert_int_equal(zt_hpke_ctx_seal(s, NULL, 0, msg, sizeof msg, c2, sizeof c2), 0);
        assert_int_equal(zt_hpke_ctx_seq(s), 3);
        assert_memory_not_equal(c0, c1, sizeof c0);
        assert_memory_not_equal(c1, c2, sizeof c0);
        /* Out of order: c1 first fails and seq stays 0. */
        assert_int_equal(zt_hpke_ctx_open(r, NULL, 0, c1, sizeof c1, pt, sizeof pt), ZT_ECRYPTO);
        assert_int_equal(zt_hpke_ctx_seq(r), 0);
        assert_int_equal(zt_hpke_ctx_open(r, NULL, 0, c0, sizeof c0, pt, sizeof pt), 0);
        /* Replay of c0 fails. */
        assert_int_equal(zt_hpke_ctx_open(r, NULL, 0, c0, sizeof c0, pt, sizeof pt), ZT_ECRYPTO);
        assert_int_equal(zt_hpke_ctx_open(r, NULL, 0, c1, sizeof c1, pt, sizeof pt), 0);
        assert_int_equal(zt_hpke_ctx_open(r, NULL, 0, c2, sizeof c2, pt, sizeof pt), 0);
        assert_int_equal(zt_hpke_ctx_seq(r), 3);
        /* Roles are fixed. */
        assert_int_equal(zt_hpke_ctx_seal(r, NULL, 0, msg, sizeof msg, c0, sizeof c0), ZT_EINVAL);
        assert_int_equal(zt_hpke_ctx_open(s, NULL, 0, c0, sizeof c0, pt, sizeof pt), ZT_EINVAL);
        /* Overflow: the last sequence number works, then the context is spent
         * on both sides. */
        zt__hpke_ctx_set_seq(s, UINT64_MAX - 1);
        zt__hpke_ctx_set_seq(r, UINT64_MAX - 1);
        assert_int_equal(zt_hpke_ctx_seal(s, NULL, 0, msg, sizeof msg, c0, sizeof c0), 0);
        assert_int_equal(zt_hpke_ctx_open(r, NULL, 0, c0, sizeof c0, pt, sizeof pt), 0);
        assert_int_equal(zt_hpke_ctx_seal(s, NULL, 0, msg, sizeof msg, c1, sizeof c1), ZT_ERANGE);
        assert_int_equal(zt_hpke_ctx_seal(s, NULL, 0, msg, sizeof msg, c1, sizeof c1), ZT_ERANGE);
        assert_int_equal(zt_hpke_ctx_open(r, NULL, 0, c0, sizeof c0, pt, sizeof pt), ZT_ERANGE);
        assert_int_equal(zt_hpke_ctx_seq(s), UINT64_MAX);
        /* Exporting still works on a spent context. */
        uint8_t x[16];
        assert_int_equal(zt_hpke_ctx_export(s, NULL, 0, x, sizeof x), 0);
        zt_hpke_ctx_free(s);
        zt_hpke_ctx_free(r);
    }
}

static void test_zero_length_and_large(void **state)
{
    (void)state;
    uint8_t sk_r[32], pk_r[32], enc[32], ct0[16], pt0[1];
    assert_int_equal(zt_hpke_keypair(sk_r, pk_r), 0);
    const size_t big = 1u << 20; /* 1 MiB */
    uint8_t *msg = zt_malloc(big), *ct = zt_malloc(big + 16), *pt = zt_malloc(big);
    assert_non_null(msg);
    assert_non_null(ct);
    assert_non_null(pt);
    randombytes_buf(msg, big);
    for (size_t a = 0; a < N_AEADS; a++) {
        if (!zt_hpke_aead_available(AEADS[a])) continue;
        struct zt_hpke_suite su = suite_of(AEADS[a]);
        /* Empty plaintext and aad: a 16-byte tag only. */
        assert_int_equal(zt_hpke_seal(su, NULL, pk_r, NULL, 0, NULL, 0, enc, ct0, sizeof ct0), 0);
        assert_int_equal(zt_hpke_open(su, NULL, enc, sk_r, NULL, 0, ct0, sizeof ct0, pt0, 0), 0);
        ct0[3] ^= 1;
        assert_int_equal(zt_hpke_open(su, NULL, enc, sk_r, NULL, 0, ct0, sizeof ct0, pt0, 0),
                         ZT_ECRYPTO);
        /* 1 MiB body. */
        assert_int_equal(zt_hpke_seal(su, NULL, pk_r, msg, 64, msg, big, enc, ct, big + 16), 0);
        memset(pt, 0, big);
        assert_int_equal(zt_hpke_open(su, NULL, enc, sk_r, msg, 64, ct, big + 16, pt, big), 0);
        assert_memory_equal(pt, msg, big);
        ct[big / 2] ^= 0x40;
        assert_int_equal(zt_hpke_open(su, NULL, enc, sk_r, msg, 64, ct, big + 16, pt, big),
                         ZT_ECRYPTO);
        assert_true(sodium_is_zero(pt, big));
    }
    zt_free(msg);
    zt_free(ct);
    zt_free(pt);
}

/* The points of small order on Curve25519 (and non-canonical encodings of
 * them): DH with any gives an all-zero output, which HPKE must refuse. */
static const char *LOW_ORDER[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void test_low_order_keys(void **state)
{
    (void)state;
    uint8_t sk_r[32], pk_r[32], sk_s[32], pk_s[32], enc[32], bad[32], ss[32];
    assert_int_equal(zt_hpke_keypair(sk_r, pk_r), 0);
    assert_int_equal(zt_hpke_keypair(sk_s, pk_s), 0);
    const uint8_t msg[] = "x";
    uint8_t ct[sizeof msg + 16], pt[sizeof msg];
    struct zt_hpke_ctx *c = (struct zt_hpke_ctx *)&c; /* must stay untouched */
    for (size_t i = 0; i < sizeof LOW_ORDER / sizeof LOW_ORDER[0]; i++) {
        for (int hi = 0; hi < 2; hi++) {
            unhex(LOW_ORDER[i], bad, sizeof bad);
            if (hi) bad[31] ^= 0x80; /* the ignored top bit set */
            memset(enc, 0x11, sizeof enc);
            assert_int_equal(zt_hpke_seal(ZT_HPKE_SUITE_CHACHA, NULL, bad, NULL, 0, msg,
                                          sizeof msg, enc, ct, sizeof ct),
                             ZT_ECRYPTO);
            for (size_t k = 0; k < sizeof enc; k++) assert_int_equal(enc[k], 0x11);
            struct zt_hpke_ctx *got = c;
            assert_int_equal(zt_hpke_setup_sender(ZT_HPKE_SUITE_CHACHA, NULL, bad, enc, &got),
                             ZT_ECRYPTO);
            assert_ptr_equal(got, c);
            assert_int_equal(zt_hpke_setup_receiver(ZT_HPKE_SUITE_CHACHA, NULL, bad, sk_r, &got),
                             ZT_ECRYPTO);
            assert_int_equal(zt__hpke_decap(bad, sk_r, NULL, ss), ZT_ECRYPTO);
            /* Auth recipient given a low-order sender key. */
            uint8_t good_ct[sizeof msg + 16];
            struct zt_hpke_params ps = params_for(ZT_HPKE_MODE_AUTH, sk_s, pk_s, true);
            struct zt_hpke_params pr = params_for(ZT_HPKE_MODE_AUTH, NULL, bad, false);
            assert_int_equal(zt_hpke_seal(ZT_HPKE_SUITE_CHACHA, &ps, pk_r, NULL, 0, msg,
                                          sizeof msg, enc, good_ct, sizeof good_ct),
                             0);
            assert_int_equal(zt_hpke_open(ZT_HPKE_SUITE_CHACHA, &pr, enc, sk_r, NULL, 0, good_ct,
                                          sizeof good_ct, pt, sizeof pt),
                             ZT_ECRYPTO);
        }
    }
}

static void test_unsupported_suites(void **state)
{
    (void)state;
    uint8_t sk_r[32], pk_r[32], enc[32], ct[32];
    assert_int_equal(zt_hpke_keypair(sk_r, pk_r), 0);
    struct zt_hpke_ctx *c = NULL;
    printf("[ info     ] AES-256-GCM on this CPU: %s\n",
           crypto_aead_aes256gcm_is_available() ? "available (unsupported path simulated)"
                                                : "unavailable");
    /* AES-256-GCM without hardware support (simulated where the CPU has it). */
    zt__hpke_test_set_flags(ZT__HPKE_TEST_NO_AESGCM);
    assert_false(zt_hpke_aead_available(ZT_HPKE_AEAD_AES256GCM));
    assert_true(zt_hpke_aead_available(ZT_HPKE_AEAD_CHACHA20POLY1305));
    assert_int_equal(zt_hpke_setup_sender(ZT_HPKE_SUITE_AES256GCM, NULL, pk_r, enc, &c),
                     ZT_EUNSUPPORTED);
    assert_null(c);
    assert_int_equal(zt_hpke_setup_receiver(ZT_HPKE_SUITE_AES256GCM, NULL, pk_r, sk_r, &c),
                     ZT_EUNSUPPORTED);
    assert_int_equal(
        zt_hpke_seal(ZT_HPKE_SUITE_AES256GCM, NULL, pk_r, NULL, 0, ct, 4, enc, ct, sizeof ct),
        ZT_EUNSUPPORTED);
    assert_int_equal(zt_hpke_open(ZT_HPKE_SUITE_AES256GCM, NULL, enc, sk_r, NULL, 0, ct, 20, ct, 4),
                     ZT_EUNSUPPORTED);
    zt__hpke_test_set_flags(0);
    assert_int_equal(zt_hpke_aead_available(ZT_HPKE_AEAD_AES256GCM),
                     crypto_aead_aes256gcm_is_available() != 0);

    /* AES-128-GCM (not in libsodium), unknown AEAD, other KEM/KDF. */
    struct zt_hpke_suite s = suite_of(ZT_HPKE_AEAD_AES128GCM);
    assert_false(zt_hpke_aead_available(ZT_HPKE_AEAD_AES128GCM));
    assert_int_equal(zt_hpke_setup_sender(s, NULL, pk_r, enc, &c), ZT_EUNSUPPORTED);
    s.aead_id = 0x0004;
    assert_int_equal(zt_hpke_setup_sender(s, NULL, pk_r, enc, &c), ZT_EUNSUPPORTED);
    s = ZT_HPKE_SUITE_CHACHA;
    s.kem_id = 0x0010; /* P-256 */
    assert_int_equal(zt_hpke_setup_sender(s, NULL, pk_r, enc, &c), ZT_EUNSUPPORTED);
    s = ZT_HPKE_SUITE_CHACHA;
    s.kdf_id = 0x0003; /* HKDF-SHA512 */
    assert_int_equal(zt_hpke_setup_sender(s, NULL, pk_r, enc, &c), ZT_EUNSUPPORTED);
    assert_null(c);
    assert_string_equal(zt_hpke_aead_name(ZT_HPKE_AEAD_CHACHA20POLY1305), "ChaCha20-Poly1305");
    assert_string_equal(zt_hpke_aead_name(0x1234), "unknown");

    /* Export-only: contexts and exports work, seal/open do not. */
    struct zt_hpke_ctx *snd = NULL, *rcv = NULL;
    assert_int_equal(zt_hpke_setup_sender(ZT_HPKE_SUITE_EXPORT_ONLY, NULL, pk_r, enc, &snd), 0);
    assert_int_equal(zt_hpke_setup_receiver(ZT_HPKE_SUITE_EXPORT_ONLY, NULL, enc, sk_r, &rcv), 0);
    uint8_t x1[64], x2[64];
    assert_int_equal(zt_hpke_ctx_export(snd, (const uint8_t *)"k", 1, x1, sizeof x1), 0);
    assert_int_equal(zt_hpke_ctx_export(rcv, (const uint8_t *)"k", 1, x2, sizeof x2), 0);
    assert_memory_equal(x1, x2, sizeof x1);
    assert_int_equal(zt_hpke_ctx_seal(snd, NULL, 0, x1, 4, ct, sizeof ct), ZT_EUNSUPPORTED);
    assert_int_equal(zt_hpke_ctx_open(rcv, NULL, 0, ct, 20, x1, sizeof x1), ZT_EUNSUPPORTED);
    assert_int_equal(
        zt_hpke_seal(ZT_HPKE_SUITE_EXPORT_ONLY, NULL, pk_r, NULL, 0, x1, 4, enc, ct, sizeof ct),
        ZT_EUNSUPPORTED);
    zt_hpke_ctx_free(snd);
    zt_hpke_ctx_free(rcv);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    uint8_t sk_r[32], pk_r[32], sk_s[32], pk_s[32], enc[32], ct[64], pt[64], x[64];
    assert_int_equal(zt_hpke_keypair(sk_r, pk_r), 0);
    assert_int_equal(zt_hpke_keypair(sk_s, pk_s), 0);
    struct zt_hpke_ctx *c = NULL;
    struct zt_hpke_suite su = ZT_HPKE_SUITE_CHACHA;

    /* Mode / PSK / auth-key consistency (VerifyPSKInputs). */
    struct zt_hpke_params p = {.mode = ZT_HPKE_MODE_PSK};
    assert_int_equal(zt_hpke_setup_sender(su, &p, pk_r, enc, &c), ZT_EINVAL); /* no psk */
    p = params_for(ZT_HPKE_MODE_PSK, NULL, NULL, true);
    p.psk_id_len = 0;
    p.psk_id = NULL;
    assert_int_equal(zt_hpke_setup_sender(su, &p, pk_r, enc, &c), ZT_EINVAL); /* psk, no id */
    p = params_for(ZT_HPKE_MODE_PSK, NULL, NULL, true);
    p.psk_len = 16;
    assert_int_equal(zt_hpke_setup_sender(su, &p, pk_r, enc, &c), ZT_EINVAL); /* short psk */
    p = params_for(ZT_HPKE_MODE_PSK, NULL, NULL, true);
    p.mode = ZT_HPKE_MODE_BASE;
    assert_int_equal(zt_hpke_setup_sender(su, &p, pk_r, enc, &c), ZT_EINVAL); /* psk in base */
    p = params_for(ZT_HPKE_MODE_AUTH, NULL, NULL, true);
    assert_int_equal(zt_hpke_setup_sender(su, &p, pk_r, enc, &c), ZT_EINVAL); /* no sender sk */
    p = params_for(ZT_HPKE_MODE_AUTH, sk_s, NULL, false);
    assert_int_equal(zt_hpke_setup_receiver(su, &p, pk_s, sk_r, &c), ZT_EINVAL); /* no pkS */
    p = params_for(ZT_HPKE_MODE_BASE, NULL, NULL, true);
    p.sender_sk = sk_s;
    assert_int_equal(zt_hpke_setup_sender(su, &p, pk_r, enc, &c), ZT_EINVAL); /* key in base */
    p.sender_sk = NULL;
    p.mode = (enum zt_hpke_mode)4;
    assert_int_equal(zt_hpke_setup_sender(su, &p, pk_r, enc, &c), ZT_EINVAL);
    p = (struct zt_hpke_params){.info = NULL, .info_len = 3};
    assert_int_equal(zt_hpke_setup_sender(su, &p, pk_r, enc, &c), ZT_EINVAL);
    p = (struct zt_hpke_params){.info = x, .info_len = ZT_HPKE_MAX_INPUT_LEN + 1};
    assert_int_equal(zt_hpke_setup_sender(su, &p, pk_r, enc, &c), ZT_ETOOBIG);
    assert_int_equal(zt_hpke_setup_sender(su, NULL, pk_r, enc, NULL), ZT_EINVAL);
    assert_null(c);

    /* Buffer sizes. */
    assert_int_equal(zt_hpke_seal(su, NULL, pk_r, NULL, 0, pt, 10, enc, ct, 25), ZT_EINVAL);
    assert_int_equal(zt_hpke_seal(su, NULL, pk_r, NULL, 0, pt, SIZE_MAX - 8, enc, ct, 25),
                     ZT_ETOOBIG);
    assert_int_equal(zt_hpke_seal(su, NULL, pk_r, NULL, 0, pt, 10, enc, ct, 26), 0);
    assert_int_equal(zt_hpke_open(su, NULL, enc, sk_r, NULL, 0, ct, 15, pt, sizeof pt), ZT_EINVAL);
    assert_int_equal(zt_hpke_open(su, NULL, enc, sk_r, NULL, 0, ct, 26, pt, 9), ZT_EINVAL);
    assert_int_equal(zt_hpke_open(su, NULL, enc, sk_r, NULL, 0, ct, 26, pt, 10), 0);

    /* Export length limits. */
    assert_int_equal(zt_hpke_setup_sender(su, NULL, pk_r, enc, &c), 0);
    assert_int_equal(zt_hpke_ctx_export(c, NULL, 0, x, 0), ZT_ERANGE);
    uint8_t *big = zt_malloc(ZT_HPKE_MAX_EXPORT_LEN + 1);
    assert_non_null(big);
    assert_int_equal(zt_hpke_ctx_export(c, NULL, 0, big, ZT_HPKE_MAX_EXPORT_LEN + 1), ZT_ERANGE);
    assert_int_equal(zt_hpke_ctx_export(c, NULL, 0, big, ZT_HPKE_MAX_EXPORT_LEN), 0);
    /* A prefix property of HKDF-Expand does not hold across L (L is in the
     * label), so the short export differs from the long one's prefix. */
    assert_int_equal(zt_hpke_ctx_export(c, NULL, 0, x, 32), 0);
    assert_memory_not_equal(x, big, 32);
    zt_free(big);
    assert_int_equal(zt_hpke_ctx_export(c, NULL, 3, x, 32), ZT_EINVAL);
    assert_int_equal(zt_hpke_ctx_seal(c, NULL, 0, pt, 10, ct, 25), ZT_EINVAL);
    assert_int_equal(zt_hpke_ctx_seq(c), 0);
    zt_hpke_ctx_free(c);
    assert_int_equal(zt_hpke_ctx_seal(NULL, NULL, 0, pt, 10, ct, 26), ZT_EINVAL);
    assert_int_equal(zt_hpke_ctx_seq(NULL), 0);
}

static void test_keys(void **state)
{
    (void)state;
    uint8_t ikm[32], sk1[32], pk1[32], sk2[32], pk2[32], pk3[32];
    memset(ikm, 7, sizeof ikm);
    assert_int_equal(zt_hpke_derive_keypair(ikm, sizeof ikm, sk1, pk1), 0);
    assert_int_equal(zt_hpke_derive_keypair(ikm, sizeof ikm, sk2, pk2), 0);
    assert_memory_equal(sk1, sk2, 32);
    assert_memory_equal(pk1, pk2, 32);
    assert_int_equal(zt_hpke_public_key(sk1, pk3), 0);
    assert_memory_equal(pk1, pk3, 32);
    ikm[0] ^= 1;
    assert_int_equal(zt_hpke_derive_keypair(ikm, sizeof ikm, sk2, pk2), 0);
    assert_memory_not_equal(sk1, sk2, 32);
    assert_int_equal(zt_hpke_derive_keypair(ikm, 31, sk2, pk2), ZT_EINVAL);
    assert_int_equal(zt_hpke_derive_keypair(NULL, 32, sk2, pk2), ZT_EINVAL);
    assert_int_equal(zt_hpke_keypair(sk1, pk1), 0);
    assert_int_equal(zt_hpke_keypair(sk2, pk2), 0);
    assert_memory_not_equal(sk1, sk2, 32);
    /* Randomised encapsulation: two seals to one key differ in enc. */
    uint8_t e1[32], e2[32], c1[20], c2[20];
    assert_int_equal(zt_hpke_seal(ZT_HPKE_SUITE_CHACHA, NULL, pk1, NULL, 0, ikm, 4, e1, c1, 20), 0);
    assert_int_equal(zt_hpke_seal(ZT_HPKE_SUITE_CHACHA, NULL, pk1, NULL, 0, ikm, 4, e2, c2, 20), 0);
    assert_memory_not_equal(e1, e2, 32);
    assert_memory_not_equal(c1, c2, 20);
}

/* zt_secure_alloc/zt_secure_free: a freed block is wiped and kept for the
 * next block of its size only, at most ZT_SECURE_CACHE of a size. */
static void test_secure_cache(void **state)
{
    (void)state;
    assert_null(zt_secure_alloc(0));
    zt_secure_free(NULL, 77);
    size_t base = zt_secure_cached();
    uint8_t *a = zt_secure_alloc(77);
    assert_non_null(a);
    memset(a, 0xab, 77);
    zt_secure_free(a, 77);
    assert_int_equal(zt_secure_cached(), base + 1);
    uint8_t *c = zt_secure_alloc(78); /* another size: not that block */
    assert_non_null(c);
    assert_ptr_not_equal(c, a);
    uint8_t *b = zt_secure_alloc(77);
    assert_ptr_equal(b, a);
    assert_int_equal(zt_secure_cached(), base);
    for (size_t i = 0; i < 77; i++) assert_int_equal(b[i], 0); /* wiped when kept */
    b[76] = 1;
    zt_secure_free(b, 77);
    zt_secure_free(c, 78);
    assert_int_equal(zt_secure_cached(), base + 2);
    /* more than the cap of one size: the rest are freed */
    enum { MANY = ZT_SECURE_CACHE + 3 };
    uint8_t *m[MANY];
    for (size_t i = 0; i < MANY; i++) assert_non_null(m[i] = zt_secure_alloc(77));
    assert_int_equal(zt_secure_cached(), base + 1);
    for (size_t i = 0; i < MANY; i++) zt_secure_free(m[i], 77);
    assert_int_equal(zt_secure_cached(), base + 1 + ZT_SECURE_CACHE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_all_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cross_check_raw_aead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequence_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_length_and_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_low_order_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_suites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test(test_secure_cache),
    };
    return zt_test_exit(cmocka_run_group_tests_name("hpke", tests, NULL, NULL));
}
