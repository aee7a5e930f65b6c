/* test_envelope.c: sealed jobs. Known-answer encodings (the header, its hash,
 * the key id, a signed receipt; computed independently with Python's hashlib
 * and cryptography, see the comment at KAT_*), seal/open round trips, every
 * single-byte flip, expiry, replay, the result stream's failure modes,
 * receipts, malformed headers, the replay cache (also under threads) and
 * allocation failure injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_hash.h"
#include "zt_test.h"

#define NOW ((uint64_t)1700000000)

static uint8_t worker_sk[32], worker_pk[32], client_sk[32], client_pk[32];
static uint8_t sign_pk[32], sign_sk[64];

static int setup(void **state)
{
    (void)state;
    assert_int_equal(zt_crypto_init(), 0);
    zt_test_leak_mark();
    assert_int_equal(zt_hpke_keypair(worker_sk, worker_pk), 0);
    assert_int_equal(zt_hpke_keypair(client_sk, client_pk), 0);
    crypto_sign_keypair(sign_pk, sign_sk);
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    assert_true(n % 2 == 0 && n / 2 <= cap);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            unsigned d = (c >= '0' && c <= '9') ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
            v = v << 4 | d;
        }
        out[i] = (uint8_t)v;
    }
    return n / 2;
}

static void set_model(struct zt_env_header *h, const char *m)
{
    size_t n = strlen(m);
    assert_true(n <= ZT_ENV_MODEL_MAX);
    memset(h->model, 0, sizeof h->model);
    memcpy(h->model, m, n);
    h->model_len = (uint8_t)n;
}

static struct zt_env_header job_tmpl(void)
{
    struct zt_env_header h;
    memset(&h, 0, sizeof h);
    h.flags = ZT_ENV_FLAG_STREAM;
    h.suite = ZT_HPKE_SUITE_CHACHA;
    zt_env_job_id_new(h.job_id);
    memcpy(h.reply_pk, client_pk, 32);
    h.created = NOW;
    h.expires = NOW + 600;
    h.max_tokens = 256;
    h.max_price = 1000;
    set_model(&h, "llama-3.2-1b-instruct:q4_0");
    return h;
}

static bool in_set(int rc, const int *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc == set[i]) return true;
    return false;
}

/* ---- known answers --------------------------------------------------------- */

/* KAT_HEADER / KAT_HEADER_HASH / KAT_RECEIPT: built field by field with
 * Python struct.pack, hashlib.sha256 and cryptography's Ed25519 (seed
 * 00 01 .. 1f), independently of envelope.c. */
static const char KAT_HEADER[] = "5a544a310101002000010003000102030405060708090"
                                 "a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                                 "202122232425262728292a2b2c2d2e2f3031323334353"
                                 "63738393a3b3c3d3e3f404142434445464748494a4b"
                                 "4c4d4e4f505152535455565758595a5b5c5d5e5f00000"
                                 "0006553f100000000006553f3580000010001020304"
                                 "050607080a74696e792d6c6c616d61";
static const char KAT_HEADER_HASH[] =
    "4025e4d8ef868e24b23aa0e7902918f881ee58796e61660c73489a6537aa97eb";
static const char KAT_RECEIPT[] = "5a54523101000102030405060708090a0b0c0d0e0f40"
                                  "25e4d8ef868e24b23aa0e7902918f881ee58796e6166"
                                  "0c73489a6537aa97eb2cf24dba5fb0a30e26e83b2ac5"
                                  "b9e29e1b161e5c1fa7425e73043362938b9824486ea4"
                                  "6224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a"
                                  "6c65260e9cb8a70000000500000007aaaaaaaaaaaaaa"
                                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                  "aaaaaa03a107bff3ce10be1d70dd18e74bc09967e4d6"
                                  "309ba50d5f1ddc8664125531b8000000006553f16414"
                                  "7a656e74616c6b2d616920302e312e30206370750a9c"
                                  "ae684c24976e0a47e29e487092b79a90d91737caf5bc"
                                  "f12d39c4ff5f8e305e39c7173f5bfe88c17874d62db4"
                                  "d6d7076e51956194b299ebbda93835831e08";
/* BLAKE2b-256(00 01 .. 1f)[0..16) */
static const char KAT_KID[] = "cb2f5160fc1f7e05a55ef49d340b48da";

static struct zt_env_header kat_header(void)
{
    struct zt_env_header h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.flags = ZT_ENV_FLAG_STREAM;
    h.suite = ZT_HPKE_SUITE_CHACHA;
    for (int i = 0; i < 16; i++) h.job_id[i] = (uint8_t)i;
    for (int i = 0; i < 16; i++) h.recipient_kid[i] = (uint8_t)(16 + i);
    for (int i = 0; i < 32; i++) h.enc[i] = (uint8_t)(32 + i);
    for (int i = 0; i < 32; i++) h.reply_pk[i] = (uint8_t)(64 + i);
    h.created = 1700000000;
    h.expires = 1700000600;
    h.max_tokens = 256;
    h.max_price = 0x0102030405060708u;
    set_model(&h, "tiny-llama");
    return h;
}

static void test_kat_header(void **state)
{
    (void)state;
    uint8_t want[ZT_ENV_HEADER_MAX_LEN], got[ZT_ENV_HEADER_MAX_LEN], hash[32], want_hash[32];
    size_t wn = unhex(KAT_HEADER, want, sizeof want), gn = 0;
    struct zt_env_header h = kat_header(), back;
    assert_int_equal(zt_env_header_encode(&h, got, sizeof got, &gn), 0);
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn);
    assert_int_equal(zt_env_header_hash(&h, hash), 0);
    unhex(KAT_HEADER_HASH, want_hash, 32);
    assert_memory_equal(hash, want_hash, 32);
    assert_int_equal(zt_env_header_decode(want, wn, &back), 0);
    assert_memory_equal(&back, &h, sizeof h); /* both zero-filled past the model */
    /* a buffer one byte short is refused, one exact fits */
    assert_int_equal(zt_env_header_encode(&h, got, wn - 1, &gn), ZT_EINVAL);

    uint8_t pk[32], kid[16], want_kid[16];
    for (int i = 0; i < 32; i++) pk[i] = (uint8_t)i;
    zt_env_key_id(pk, kid);
    unhex(KAT_KID, want_kid, 16);
    assert_memory_equal(kid, want_kid, 16);
}

static void test_kat_receipt(void **state)
{
    (void)state;
    uint8_t seed[32], pk[32], sk[64], want[ZT_ENV_RECEIPT_MAX_LEN], got[ZT_ENV_RECEIPT_MAX_LEN];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)i;
    crypto_sign_seed_keypair(pk, sk, seed);
    struct zt_env_receipt r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < 16; i++) r.job_id[i] = (uint8_t)i;
    unhex(KAT_HEADER_HASH, r.header_hash, 32);
    zt_sha256(r.input_hash, "hello", 5);
    zt_sha256(r.output_hash, "world", 5);
    r.prompt_tokens = 5;
    r.completion_tokens = 7;
    memset(r.seq_chain, 0xaa, 32);
    r.finished = 1700000100;
    const char *bid = "zentalk-ai 0.1.0 cpu";
    r.build_id_len = (uint8_t)strlen(bid);
    memcpy(r.build_id, bid, strlen(bid));
    size_t wn = unhex(KAT_RECEIPT, want, sizeof want), gn = 0;
    assert_int_equal(zt_env_receipt_sign(&r, sk, got, sizeof got, &gn), 0);
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn); /* Ed25519 is deterministic */
    struct zt_env_receipt back;
    assert_int_equal(zt_env_receipt_verify(want, wn, pk, &back), 0);
    assert_memory_equal(back.worker_pk, pk, 32);
    assert_int_equal(back.version, 1);
    assert_int_equal(back.completion_tokens, 7);
    assert_string_equal(back.build_id, bid);
    assert_memory_equal(back.output_hash, r.output_hash, 32);
}

/* ---- seal / open ----------------------------------------------------------- */

static void round_trip(struct zt_hpke_suite suite, size_t n)
{
    struct zt_env_replay *rp = NULL;
    struct zt_env_header t = job_tmpl(), sealed, opened;
    uint8_t *body = zt_malloc(n ? n : 1), *env = NULL, *pt = NULL;
    size_t env_len = 0, pt_len = 0;
    assert_non_null(body);
    for (size_t i = 0; i < n; i++) body[i] = (uint8_t)(i * 31 + 7);
    t.suite = suite;
    assert_int_equal(zt_env_replay_new(16, &rp), 0);
    assert_int_equal(zt_env_seal(&t, worker_pk, body, n, &sealed, &env, &env_len), 0);
    assert_int_equal(env_len, ZT_ENV_HEADER_FIXED_LEN + t.model_len + n + ZT_HPKE_TAG_LEN);
    assert_int_equal(zt_env_open(worker_sk, env, env_len, NOW + 1, rp, &opened, &pt, &pt_len), 0);
    assert_int_equal(pt_len, n);
    assert_non_null(pt);
    if (n) assert_memory_equal(pt, body, n);
    assert_memory_equal(&opened, &sealed, sizeof opened);
    assert_memory_equal(opened.job_id, t.job_id, 16);
    assert_string_equal(opened.model, t.model);
    uint8_t kid[16];
    zt_env_key_id(worker_pk, kid);
    assert_memory_equal(opened.recipient_kid, kid, 16);
    assert_int_equal(zt_env_replay_count(rp), 1);
    zt_env_body_free(pt, pt_len);
    zt_free(env);
    zt_free(body);
    zt_env_replay_free(rp);
}

static void test_round_trip(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 15, 16, 17, 1000, 65536, (size_t)1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        round_trip(ZT_HPKE_SUITE_CHACHA, sizes[i]);
        if (zt_hpke_aead_available(ZT_HPKE_AEAD_AES256GCM))
            round_trip(ZT_HPKE_SUITE_AES256GCM, sizes[i]);
    }
}

static void test_seal_errors(void **state)
{
    (void)state;
    struct zt_env_header t = job_tmpl();
    uint8_t *env = NULL, b = 0;
    size_t env_len = 0;
    assert_int_equal(zt_env_seal(&t, worker_pk, NULL, 1, NULL, &env, &env_len), ZT_EINVAL);
    assert_int_equal(zt_env_seal(&t, worker_pk, &b, ZT_ENV_MAX_BODY + 1, NULL, &env, &env_len),
                     ZT_ETOOBIG);
    t.max_tokens = 0;
    assert_int_equal(zt_env_seal(&t, worker_pk, &b, 1, NULL, &env, &env_len), ZT_EPARSE);
    t = job_tmpl();
    t.suite.aead_id = ZT_HPKE_AEAD_EXPORT_ONLY;
    assert_int_equal(zt_env_seal(&t, worker_pk, &b, 1, NULL, &env, &env_len), ZT_EUNSUPPORTED);
    t = job_tmpl();
    t.model_len = 3; /* disagrees with the C string */
    assert_int_equal(zt_env_seal(&t, worker_pk, &b, 1, NULL, &env, &env_len), ZT_EPARSE);
    t = job_tmpl();
    uint8_t zero_pk[32] = {0}; /* low-order point */
    assert_int_equal(zt_env_seal(&t, zero_pk, &b, 1, NULL, &env, &env_len), ZT_ECRYPTO);
    assert_null(env);
}

/* Expected results of flipping a byte at each offset of an envelope. */
static void expected_for(size_t off, size_t hlen, const int **set, size_t *n)
{
    static const int parse[] = {ZT_EPARSE};
    static const int unsup[] = {ZT_EUNSUPPORTED};
    static const int unsup_crypto[] = {ZT_EUNSUPPORTED, ZT_ECRYPTO};
    static const int crypto[] = {ZT_ECRYPTO};
    static const int notfound[] = {ZT_ENOTFOUND};
    static const int times[] = {ZT_EPARSE, ZT_ETIMEDOUT, ZT_ECRYPTO};
    static const int parse_crypto[] = {ZT_EPARSE, ZT_ECRYPTO};
#define SET(a)                                                                                     \
    do {                                                                                           \
        *set = a;                                                                                  \
        *n = sizeof a / sizeof a[0];                                                               \
        return;                                                                                    \
    } while (0)
    if (off < 4) SET(parse);           /* magic */
    if (off == 4) SET(unsup);          /* version */
    if (off == 5) SET(unsup_crypto);   /* flags */
    if (off < 10) SET(unsup);          /* kem, kdf */
    if (off < 12) SET(unsup_crypto);   /* aead: 3 ^ 1 = AES-256-GCM */
    if (off < 28) SET(crypto);         /* job id */
    if (off < 44) SET(notfound);       /* recipient key id */
    if (off < 108) SET(crypto);        /* enc, reply key */
    if (off < 124) SET(times);         /* created, expires */
    if (off < 128) SET(parse_crypto);  /* max_tokens */
    if (off < 136) SET(crypto);        /* max_price */
    if (off < hlen) SET(parse_crypto); /* model length, model */
    SET(crypto);                       /* ciphertext, tag */
#undef SET
}

static void test_every_flip(void **state)
{
    (void)state;
    struct zt_env_replay *rp = NULL;
    struct zt_env_header t = job_tmpl(), h;
    static const char prompt[] = "the prompt: what is the capital of Peru?";
    const uint8_t *body = (const uint8_t *)prompt;
    const size_t body_len = sizeof prompt - 1;
    uint8_t *env = NULL, *pt = NULL;
    size_t env_len = 0, pt_len = 0;
    assert_int_equal(zt_env_replay_new(8, &rp), 0);
    assert_int_equal(zt_env_seal(&t, worker_pk, body, body_len, NULL, &env, &env_len), 0);
    size_t hlen = ZT_ENV_HEADER_FIXED_LEN + t.model_len;
    const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t m = 0; m < sizeof masks; m++) {
        for (size_t off = 0; off < env_len; off++) {
            const int *set;
            size_t n;
            env[off] ^= masks[m];
            int rc = zt_env_open(worker_sk, env, env_len, NOW + 1, rp, &h, &pt, &pt_len);
            env[off] ^= masks[m];
            expected_for(off, hlen, &set, &n);
            if (!in_set(rc, set, n))
                fail_msg("flip at %zu mask %02x: %s (%d)", off, masks[m], zt_strerror(rc), rc);
        }
    }
    /* every truncation, and one byte appended */
    for (size_t len = 0; len < env_len; len++) {
        int rc = zt_env_open(worker_sk, env, len, NOW + 1, rp, &h, &pt, &pt_len);
        if (len < hlen + ZT_HPKE_TAG_LEN)
            assert_int_equal(rc, ZT_EPARSE);
        else
            assert_int_equal(rc, ZT_ECRYPTO);
    }
    uint8_t *longer = zt_malloc(env_len + 1);
    assert_non_null(longer);
    memcpy(longer, env, env_len);
    longer[env_len] = 0;
    assert_int_equal(zt_env_open(worker_sk, longer, env_len + 1, NOW + 1, rp, &h, &pt, &pt_len),
                     ZT_ECRYPTO);
    zt_free(longer);
    /* no forgery burnt the job id: the real envelope still opens, once */
    assert_int_equal(zt_env_replay_count(rp), 0);
    assert_int_equal(zt_env_open(worker_sk, env, env_len, NOW + 1, rp, &h, &pt, &pt_len), 0);
    assert_memory_equal(pt, body, body_len);
    zt_env_body_free(pt, pt_len);
    zt_free(env);
    zt_env_replay_free(rp);
}

static void test_wrong_recipient(void **state)
{
    (void)state;
    uint8_t other_sk[32], other_pk[32], *env = NULL, *pt = NULL, b[8] = "payload";
    size_t env_len = 0, pt_len = 0;
    struct zt_env_header t = job_tmpl(), h;
    assert_int_equal(zt_hpke_keypair(other_sk, other_pk), 0);
    assert_int_equal(zt_env_seal(&t, worker_pk, b, sizeof b, NULL, &env, &env_len), 0);
    assert_int_equal(zt_env_open(other_sk, env, env_len, NOW, NULL, &h, &pt, &pt_len),
                     ZT_ENOTFOUND);
    /* relabelled for the other key: the header is AAD, so it fails to open */
    zt_env_key_id(other_pk, env + 28);
    assert_int_equal(zt_env_open(other_sk, env, env_len, NOW, NULL, &h, &pt, &pt_len), ZT_ECRYPTO);
    assert_null(pt);
    zt_free(env);
}

static void test_expiry_and_replay(void **state)
{
    (void)state;
    struct zt_env_replay *rp = NULL;
    struct zt_env_header t = job_tmpl(), h;
    uint8_t *env = NULL, *pt = NULL, b[4] = "abc";
    size_t env_len = 0, pt_len = 0;
    assert_int_equal(zt_env_replay_new(4, &rp), 0);
    assert_int_equal(zt_env_seal(&t, worker_pk, b, sizeof b, NULL, &env, &env_len), 0);
    /* expired: at and after expires */
    assert_int_equal(zt_env_open(worker_sk, env, env_len, t.expires, rp, &h, &pt, &pt_len),
                     ZT_ETIMEDOUT);
    assert_int_equal(zt_env_open(worker_sk, env, env_len, t.expires + 99, rp, &h, &pt, &pt_len),
                     ZT_ETIMEDOUT);
    /* not valid yet: created beyond the allowed clock skew */
    assert_int_equal(
        zt_env_open(worker_sk, env, env_len, NOW - ZT_ENV_CLOCK_SKEW - 1, rp, &h, &pt, &pt_len),
        ZT_ETIMEDOUT);
    assert_int_equal(zt_env_replay_count(rp), 0);
    /* within the skew it opens; the second time is a replay */
    assert_int_equal(
        zt_env_open(worker_sk, env, env_len, NOW - ZT_ENV_CLOCK_SKEW, rp, &h, &pt, &pt_len), 0);
    zt_env_body_free(pt, pt_len);
    pt = NULL;
    assert_int_equal(zt_env_open(worker_sk, env, env_len, NOW + 10, rp, &h, &pt, &pt_len),
                     ZT_EEXIST);
    assert_int_equal(zt_env_open(worker_sk, env, env_len, t.expires - 1, rp, &h, &pt, &pt_len),
                     ZT_EEXIST);
    /* after expiry the same envelope is refused as expired, never accepted */
    assert_int_equal(zt_env_open(worker_sk, env, env_len, t.expires, rp, &h, &pt, &pt_len),
                     ZT_ETIMEDOUT);
    assert_null(pt);
    zt_free(env);
    zt_env_replay_free(rp);
}

/* ---- result stream --------------------------------------------------------- */

struct stream {
    uint8_t hdr[ZT_ENV_STREAM_HDR_LEN];
    uint8_t chunk[6][64];
    size_t len[6];
    size_t n;
    uint8_t out_hash[32];
};

/* Worker side (sender key sk): "Hello", ", ", "world", "!" then an empty
 * final chunk. */
static void make_stream_from(const struct zt_env_header *job, const uint8_t *sk, struct stream *st)
{
    static const char *parts[] = {"Hello", ", ", "world", "!", ""};
    struct zt_env_result_sealer *s = NULL;
    memset(st, 0, sizeof *st);
    assert_int_equal(zt_env_result_sealer_new(job, sk, st->hdr, &s), 0);
    assert_int_equal(zt_env_result_sealer_output_hash(s, st->out_hash), ZT_EINVAL);
    for (size_t i = 0; i < 5; i++) {
        size_t n = strlen(parts[i]);
        assert_int_equal(zt_env_result_seal(s, (const uint8_t *)parts[i], n, i == 4, st->chunk[i],
                                            sizeof st->chunk[i], &st->len[i]),
                         0);
        assert_int_equal(st->len[i], n + ZT_ENV_CHUNK_OVERHEAD);
    }
    st->n = 5;
    uint8_t more[32];
    size_t ml = 0;
    assert_int_equal(zt_env_result_seal(s, (const uint8_t *)"x", 1, false, more, sizeof more, &ml),
                     ZT_ECLOSED);
    assert_int_equal(zt_env_result_sealer_output_hash(s, st->out_hash), 0);
    zt_env_result_sealer_free(s);
}

static void make_stream(const struct zt_env_header *job, struct stream *st)
{
    make_stream_from(job, worker_sk, st);
}

/* Client side: open chunks in the order given; returns the first error, or
 * finish()'s. Plaintext accumulates in text. */
static int play(const struct zt_env_header *job, const struct stream *st, const size_t *order,
                size_t n, char *text, size_t text_size)
{
    struct zt_env_result_opener *o = NULL;
    size_t used = 0;
    int rc = zt_env_result_opener_new(job, client_sk, worker_pk, st->hdr, sizeof st->hdr, &o);
    if (rc != 0) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t pt[64];
        size_t pt_len = 0;
        bool final = false;
        rc = zt_env_result_open(o, st->chunk[order[i]], st->len[order[i]], pt, sizeof pt, &pt_len,
                                &final);
        if (rc == 0) {
            assert_true(used + pt_len < text_size);
            memcpy(text + used, pt, pt_len);
            used += pt_len;
            assert_true(final == (order[i] == st->n - 1));
        }
    }
    text[used] = '\0';
    if (rc == 0) rc = zt_env_result_finish(o);
    if (rc == 0) {
        uint8_t h[32], want[32];
        assert_int_equal(zt_env_result_opener_output_hash(o, h), 0);
        zt_sha256(want, text, used);
        assert_memory_equal(h, want, 32);
        assert_memory_equal(h, st->out_hash, 32);
    }
    zt_env_result_opener_free(o);
    return rc;
}

static void test_stream(void **state)
{
    (void)state;
    struct zt_env_header job = kat_header(), other;
    struct stream st;
    char text[128];
    memcpy(job.reply_pk, client_pk, 32);
    make_stream(&job, &st);

    const size_t ok[] = {0, 1, 2, 3, 4};
    assert_int_equal(play(&job, &st, ok, 5, text, sizeof text), 0);
    assert_string_equal(text, "Hello, world!");

    const size_t missing[] = {0, 2, 3, 4};
    assert_int_equal(play(&job, &st, missing, 4, text, sizeof text), ZT_ECRYPTO);
    const size_t swapped[] = {0, 2, 1, 3, 4};
    assert_int_equal(play(&job, &st, swapped, 5, text, sizeof text), ZT_ECRYPTO);
    const size_t dup[] = {0, 1, 1, 2, 3, 4};
    assert_int_equal(play(&job, &st, dup, 6, text, sizeof text), ZT_ECRYPTO);
    const size_t truncated[] = {0, 1, 2, 3};
    assert_int_equal(play(&job, &st, truncated, 4, text, sizeof text), ZT_ECRYPTO);
    assert_string_equal(text, "Hello, world!"); /* delivered, but finish() refuses it */
    const size_t nothing[] = {0};
    assert_int_equal(play(&job, &st, nothing, 0, text, sizeof text), ZT_ECRYPTO);
    const size_t after_final[] = {0, 1, 2, 3, 4, 4};
    assert_int_equal(play(&job, &st, after_final, 6, text, sizeof text), ZT_EPARSE);
    const size_t first_last[] = {4};
    assert_int_equal(play(&job, &st, first_last, 1, text, sizeof text), ZT_ECRYPTO);

    /* every single-byte flip of every chunk */
    for (size_t c = 0; c < st.n; c++) {
        for (size_t off = 0; off < st.len[c]; off++) {
            st.chunk[c][off] ^= 0x01;
            int rc = play(&job, &st, ok, 5, text, sizeof text);
            st.chunk[c][off] ^= 0x01;
            /* flags byte: final bit toggled -> auth fails; length -> framing */
            int want = (off >= 1 && off < ZT_ENV_CHUNK_PREFIX_LEN) ? ZT_EPARSE : ZT_ECRYPTO;
            if (rc != want) fail_msg("chunk %zu byte %zu: %d", c, off, rc);
            st.chunk[c][off] ^= 0x80;
            rc = play(&job, &st, ok, 5, text, sizeof text);
            st.chunk[c][off] ^= 0x80;
            if (off < ZT_ENV_CHUNK_PREFIX_LEN) want = ZT_EPARSE; /* unknown flag bit too */
            if (rc != want) fail_msg("chunk %zu byte %zu (0x80): %d", c, off, rc);
        }
    }
    /* stream header: magic, job id, enc; wrong length */
    for (size_t off = 0; off < sizeof st.hdr; off++) {
        st.hdr[off] ^= 0x01;
        int rc = play(&job, &st, ok, 5, text, sizeof text);
        st.hdr[off] ^= 0x01;
        assert_int_equal(rc, off < 4 ? ZT_EPARSE : ZT_ECRYPTO);
    }
    struct zt_env_result_opener *o = NULL;
    assert_int_equal(
        zt_env_result_opener_new(&job, client_sk, worker_pk, st.hdr, sizeof st.hdr - 1, &o),
        ZT_EPARSE);
    /* bound to the whole job header: same job id, another max_tokens */
    other = job;
    other.max_tokens++;
    assert_int_equal(play(&other, &st, ok, 5, text, sizeof text), ZT_ECRYPTO);
    /* the wrong reply key */
    uint8_t sk2[32], pk2[32];
    assert_int_equal(zt_hpke_keypair(sk2, pk2), 0);
    assert_int_equal(zt_env_result_opener_new(&job, sk2, worker_pk, st.hdr, sizeof st.hdr, &o), 0);
    uint8_t pt[64];
    size_t pl = 0;
    bool fin = false;
    assert_int_equal(zt_env_result_open(o, st.chunk[0], st.len[0], pt, sizeof pt, &pl, &fin),
                     ZT_ECRYPTO);
    /* dead: even the right chunk now fails with the same error */
    assert_int_equal(zt_env_result_open(o, st.chunk[0], st.len[0], pt, sizeof pt, &pl, &fin),
                     ZT_ECRYPTO);
    assert_int_equal(zt_env_result_finish(o), ZT_ECRYPTO);
    zt_env_result_opener_free(o);
    /* a well-formed stream from anyone but the worker (say a relay that saw
     * the cleartext header and knows the reply key) */
    struct stream forged;
    make_stream_from(&job, sk2, &forged);
    assert_int_equal(play(&job, &forged, ok, 5, text, sizeof text), ZT_ECRYPTO);
    /* a small pt buffer is the caller's error and not fatal */
    assert_int_equal(
        zt_env_result_opener_new(&job, client_sk, worker_pk, st.hdr, sizeof st.hdr, &o), 0);
    assert_int_equal(zt_env_result_open(o, st.chunk[0], st.len[0], pt, 4, &pl, &fin), ZT_EINVAL);
    assert_int_equal(zt_env_result_open(o, st.chunk[0], st.len[0], pt, sizeof pt, &pl, &fin), 0);
    assert_int_equal(pl, 5);
    zt_env_result_opener_free(o);
}

/* Split a concatenated stream with zt_env_result_frame_len(), a byte at a time. */
static void test_stream_framing(void **state)
{
    (void)state;
    struct zt_env_header job = kat_header();
    struct stream st;
    memcpy(job.reply_pk, client_pk, 32);
    make_stream(&job, &st);
    uint8_t wire[512];
    size_t wn = 0;
    for (size_t i = 0; i < st.n; i++) {
        memcpy(wire + wn, st.chunk[i], st.len[i]);
        wn += st.len[i];
    }
    struct zt_env_result_opener *o = NULL;
    assert_int_equal(
        zt_env_result_opener_new(&job, client_sk, worker_pk, st.hdr, sizeof st.hdr, &o), 0);
    size_t start = 0, have = 0, chunks = 0;
    char text[64];
    size_t tl = 0;
    for (size_t avail = 1; avail <= wn; avail++) { /* bytes arrive one by one */
        have = avail - start;
        size_t fl = 0;
        assert_int_equal(zt_env_result_frame_len(wire + start, have, &fl), 0);
        if (fl == 0 || have < fl) continue;
        uint8_t pt[64];
        size_t pl = 0;
        bool fin = false;
        assert_int_equal(zt_env_result_open(o, wire + start, fl, pt, sizeof pt, &pl, &fin), 0);
        memcpy(text + tl, pt, pl);
        tl += pl;
        start += fl;
        chunks++;
    }
    text[tl] = '\0';
    assert_int_equal(chunks, 5);
    assert_string_equal(text, "Hello, world!");
    assert_int_equal(zt_env_result_finish(o), 0);
    zt_env_result_opener_free(o);
    size_t fl = 0;
    const uint8_t bad_flags[5] = {0x02, 0, 0, 0, 16};
    assert_int_equal(zt_env_result_frame_len(bad_flags, 5, &fl), ZT_EPARSE);
    const uint8_t short_ct[5] = {0, 0, 0, 0, 15};
    assert_int_equal(zt_env_result_frame_len(short_ct, 5, &fl), ZT_EPARSE);
    const uint8_t huge[5] = {0, 0, 0x10, 0, 0x11};
    assert_int_equal(zt_env_result_frame_len(huge, 5, &fl), ZT_EPARSE);
    const uint8_t biggest[5] = {1, 0, 0x10, 0, 0x10};
    assert_int_equal(zt_env_result_frame_len(biggest, 5, &fl), 0);
    assert_int_equal(fl, 5 + ZT_ENV_CHUNK_MAX + 16);
}

/* ---- receipts -------------------------------------------------------------- */

static void test_receipt(void **state)
{
    (void)state;
    struct zt_env_receipt r, back;
    uint8_t buf[ZT_ENV_RECEIPT_MAX_LEN + 1];
    size_t n = 0;
    memset(&r, 0, sizeof r);
    randombytes_buf(r.job_id, sizeof r.job_id);
    randombytes_buf(r.header_hash, 32);
    randombytes_buf(r.input_hash, 32);
    randombytes_buf(r.output_hash, 32);
    randombytes_buf(r.seq_chain, 32);
    r.prompt_tokens = 12;
    r.completion_tokens = 300;
    r.finished = NOW;
    memcpy(r.build_id, "zentalk-ai 0.1.0 (abc) avx2", 27);
    r.build_id_len = 27;
    assert_int_equal(zt_env_receipt_sign(&r, sign_sk, buf, 10, &n), ZT_EINVAL);
    assert_int_equal(zt_env_receipt_sign(&r, sign_sk, buf, sizeof buf, &n), 0);
    assert_int_equal(n, ZT_ENV_RECEIPT_FIXED_LEN + 27 + ZT_ENV_SIG_LEN);
    assert_int_equal(zt_env_receipt_verify(buf, n, sign_pk, &back), 0);
    assert_int_equal(zt_env_receipt_verify(buf, n, NULL, &back), 0);
    assert_memory_equal(back.worker_pk, sign_pk, 32);
    assert_memory_equal(back.seq_chain, r.seq_chain, 32);
    assert_int_equal(back.prompt_tokens, 12);
    assert_int_equal(back.completion_tokens, 300);
    assert_int_equal(back.finished, NOW);
    /* another worker's key */
    uint8_t pk2[32], sk2[64];
    crypto_sign_keypair(pk2, sk2);
    assert_int_equal(zt_env_receipt_verify(buf, n, pk2, &back), ZT_ECRYPTO);
    /* every single-byte flip */
    for (size_t off = 0; off < n; off++) {
        for (int m = 0; m < 2; m++) {
            uint8_t mask = m ? 0x80 : 0x01;
            buf[off] ^= mask;
            int rc = zt_env_receipt_verify(buf, n, NULL, &back);
            int rc_pk = zt_env_receipt_verify(buf, n, sign_pk, &back);
            buf[off] ^= mask;
            if (off < 4)
                assert_int_equal(rc, ZT_EPARSE);
            else if (off == 4)
                assert_int_equal(rc, ZT_EUNSUPPORTED);
            else if (off == 197)
                assert_int_equal(rc, ZT_EPARSE);
            else if (off >= 198 && off < 198 + 27)
                assert_true(rc == ZT_EPARSE || rc == ZT_ECRYPTO);
            else
                assert_int_equal(rc, ZT_ECRYPTO);
            assert_int_not_equal(rc_pk, 0);
        }
    }
    /* truncations and a trailing byte */
    for (size_t len = 0; len < n; len++)
        assert_int_not_equal(zt_env_receipt_verify(buf, len, NULL, &back), 0);
    for (size_t len = 5; len < n; len++)
        assert_int_equal(zt_env_receipt_verify(buf, len, NULL, &back), ZT_EPARSE);
    buf[n] = 0;
    assert_int_equal(zt_env_receipt_verify(buf, n + 1, NULL, &back), ZT_EPARSE);
    /* bad build ids are refused when signing */
    r.build_id_len = 0;
    r.build_id[0] = '\0';
    assert_int_equal(zt_env_receipt_sign(&r, sign_sk, buf, sizeof buf, &n), ZT_EPARSE);
    memcpy(r.build_id, "a\tb", 4);
    r.build_id_len = 3;
    assert_int_equal(zt_env_receipt_sign(&r, sign_sk, buf, sizeof buf, &n), ZT_EPARSE);
    memset(r.build_id, 'x', sizeof r.build_id);
    r.build_id[64] = '\0';
    r.build_id_len = 64;
    assert_int_equal(zt_env_receipt_sign(&r, sign_sk, buf, sizeof buf, &n), 0);
    assert_int_equal(n, ZT_ENV_RECEIPT_MAX_LEN);
    assert_int_equal(zt_env_receipt_verify(buf, n, sign_pk, &back), 0);
}

/* ---- malformed headers ----------------------------------------------------- */

static int decode_mutated(void (*mut)(uint8_t *b, size_t *n))
{
    uint8_t b[ZT_ENV_HEADER_MAX_LEN + 8];
    size_t n = unhex(KAT_HEADER, b, sizeof b);
    struct zt_env_header h;
    mut(b, &n);
    return zt_env_header_decode(b, n, &h);
}

static void m_magic(uint8_t *b, size_t *n)
{
    (void)n;
    b[3] = '2';
}
static void m_version0(uint8_t *b, size_t *n)
{
    (void)n;
    b[4] = 0;
}
static void m_version2(uint8_t *b, size_t *n)
{
    (void)n;
    b[4] = 2;
}
static void m_flags(uint8_t *b, size_t *n)
{
    (void)n;
    b[5] = 0x02;
}
static void m_kem(uint8_t *b, size_t *n)
{
    (void)n;
    b[7] = 0x21;
}
static void m_kdf(uint8_t *b, size_t *n)
{
    (void)n;
    b[9] = 0x02;
}
static void m_aead_128(uint8_t *b, size_t *n)
{
    (void)n;
    b[11] = 0x01;
}
static void m_aead_export(uint8_t *b, size_t *n)
{
    (void)n;
    b[10] = 0xff;
    b[11] = 0xff;
}
static void m_expired_order(uint8_t *b, size_t *n)
{
    (void)n;
    memcpy(b + 116, b + 108, 8);
}
static void m_lifetime(uint8_t *b, size_t *n)
{
    (void)n;
    b[117] = 0x01;
}
static void m_tokens0(uint8_t *b, size_t *n)
{
    (void)n;
    memset(b + 124, 0, 4);
}
static void m_tokens_big(uint8_t *b, size_t *n)
{
    (void)n;
    b[124] = 0;
    b[125] = 0x10;
    b[126] = 0;
    b[127] = 1;
}
static void m_model0(uint8_t *b, size_t *n)
{
    b[136] = 0;
    *n = 137;
}
static void m_model129(uint8_t *b, size_t *n)
{
    b[136] = 129;
    memset(b + 137, 'a', 129);
    *n = 137 + 129;
}
static void m_model_past_end(uint8_t *b, size_t *n)
{
    (void)n;
    b[136] = 11;
}
static void m_model_ctrl(uint8_t *b, size_t *n)
{
    (void)n;
    b[140] = '\n';
}
static void m_model_del(uint8_t *b, size_t *n)
{
    (void)n;
    b[140] = 0x7f;
}
static void m_model_nul(uint8_t *b, size_t *n)
{
    (void)n;
    b[140] = 0;
}
static void m_model_utf8(uint8_t *b, size_t *n)
{
    (void)n;
    b[140] = 0xc0;
    b[141] = 0x80;
}
static void m_trailing(uint8_t *b, size_t *n)
{
    b[*n] = 0;
    *n += 1;
}
static void m_shorter(uint8_t *b, size_t *n)
{
    b[136] = 9;
    (void)n;
} /* 1 trailing byte */
static void m_model_utf8_ok(uint8_t *b, size_t *n)
{
    (void)n;
    b[140] = 0xc3;
    b[141] = 0xa9;
}
static void m_aes(uint8_t *b, size_t *n)
{
    (void)n;
    b[11] = 0x02;
}
static void m_max_life(uint8_t *b, size_t *n)
{
    (void)n; /* expires = created + 7 days exactly */
    uint64_t e = 1700000000u + 7u * 86400u;
    for (int i = 0; i < 8; i++) b[116 + i] = (uint8_t)(e >> (56 - 8 * i));
}

static void test_malformed_headers(void **state)
{
    (void)state;
    assert_int_equal(decode_mutated(m_magic), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_version0), ZT_EUNSUPPORTED);
    assert_int_equal(decode_mutated(m_version2), ZT_EUNSUPPORTED);
    assert_int_equal(decode_mutated(m_flags), ZT_EUNSUPPORTED);
    assert_int_equal(decode_mutated(m_kem), ZT_EUNSUPPORTED);
    assert_int_equal(decode_mutated(m_kdf), ZT_EUNSUPPORTED);
    assert_int_equal(decode_mutated(m_aead_128), ZT_EUNSUPPORTED);
    assert_int_equal(decode_mutated(m_aead_export), ZT_EUNSUPPORTED);
    assert_int_equal(decode_mutated(m_expired_order), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_lifetime), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_tokens0), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_tokens_big), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_model0), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_model129), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_model_past_end), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_model_ctrl), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_model_del), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_model_nul), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_model_utf8), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_trailing), ZT_EPARSE);
    assert_int_equal(decode_mutated(m_shorter), ZT_EPARSE);
    /* the edges that are valid */
    assert_int_equal(decode_mutated(m_model_utf8_ok), 0);
    assert_int_equal(decode_mutated(m_aes), 0);
    assert_int_equal(decode_mutated(m_max_life), 0);

    /* every truncation */
    uint8_t b[ZT_ENV_HEADER_MAX_LEN];
    size_t n = unhex(KAT_HEADER, b, sizeof b);
    struct zt_env_header h;
    for (size_t len = 0; len < n; len++)
        assert_int_equal(zt_env_header_decode(b, len, &h), ZT_EPARSE);
    size_t used = 0;
    assert_int_equal(zt_env_header_decode_prefix(b, n, &h, &used), 0);
    assert_int_equal(used, n);

    /* the encoder refuses what the decoder refuses */
    struct zt_env_header k = kat_header();
    uint8_t out[ZT_ENV_HEADER_MAX_LEN];
    size_t on = 0;
    k.version = 2;
    assert_int_equal(zt_env_header_encode(&k, out, sizeof out, &on), ZT_EUNSUPPORTED);
    k = kat_header();
    k.expires = k.created;
    assert_int_equal(zt_env_header_encode(&k, out, sizeof out, &on), ZT_EPARSE);
    k = kat_header();
    k.max_tokens = ZT_ENV_MAX_TOKENS + 1;
    assert_int_equal(zt_env_header_encode(&k, out, sizeof out, &on), ZT_EPARSE);
    k = kat_header();
    k.model_len = 200;
    assert_int_equal(zt_env_header_encode(&k, out, sizeof out, &on), ZT_EPARSE);
    k = kat_header();
    k.model[3] = '\0'; /* embedded NUL */
    assert_int_equal(zt_env_header_encode(&k, out, sizeof out, &on), ZT_EPARSE);
}

/* ---- replay cache ---------------------------------------------------------- */

static void test_replay_cache(void **state)
{
    (void)state;
    struct zt_env_replay *rp = NULL;
    uint8_t id[4][16];
    for (int i = 0; i < 4; i++) zt_env_job_id_new(id[i]);
    assert_int_equal(zt_env_replay_new(0, &rp), ZT_ERANGE);
    assert_int_equal(zt_env_replay_new(ZT_ENV_REPLAY_MAX + 1, &rp), ZT_ERANGE);
    assert_int_equal(zt_env_replay_new(2, &rp), 0);
    assert_int_equal(zt_env_replay_insert(rp, id[0], NOW, NOW), ZT_EINVAL);
    assert_int_equal(zt_env_replay_insert(rp, id[0], NOW + 10, NOW), 0);
    assert_int_equal(zt_env_replay_check(rp, id[0], NOW + 9), ZT_EEXIST);
    assert_int_equal(zt_env_replay_check(rp, id[0], NOW + 10), 0); /* expired */
    assert_int_equal(zt_env_replay_insert(rp, id[0], NOW + 20, NOW), ZT_EEXIST);
    assert_int_equal(zt_env_replay_insert(rp, id[1], NOW + 100, NOW), 0);
    /* full of unexpired ids: refuse rather than forget */
    assert_int_equal(zt_env_replay_insert(rp, id[2], NOW + 100, NOW), ZT_EBUSY);
    assert_int_equal(zt_env_replay_insert(rp, id[2], NOW + 100, NOW + 9), ZT_EBUSY);
    assert_int_equal(zt_env_replay_count(rp), 2);
    /* once id[0] expired it is evicted to make room */
    assert_int_equal(zt_env_replay_insert(rp, id[2], NOW + 100, NOW + 10), 0);
    assert_int_equal(zt_env_replay_count(rp), 2);
    assert_int_equal(zt_env_replay_check(rp, id[0], NOW + 10), 0);
    assert_int_equal(zt_env_replay_check(rp, id[1], NOW + 10), ZT_EEXIST);
    assert_int_equal(zt_env_replay_check(rp, id[2], NOW + 10), ZT_EEXIST);
    assert_int_equal(zt_env_replay_insert(rp, id[3], NOW + 100, NOW + 10), ZT_EBUSY);
    /* an expired slot for the same id is reused in place */
    assert_int_equal(zt_env_replay_insert(rp, id[1], NOW + 300, NOW + 100), 0);
    assert_int_equal(zt_env_replay_check(rp, id[1], NOW + 200), ZT_EEXIST);
    zt_env_replay_free(rp);
    zt_env_replay_free(NULL);

    /* many ids, then all evicted after they expire */
    assert_int_equal(zt_env_replay_new(1000, &rp), 0);
    uint8_t x[16] = {0};
    for (uint32_t i = 0; i < 1000; i++) {
        memcpy(x, &i, sizeof i);
        assert_int_equal(zt_env_replay_insert(rp, x, NOW + 1 + i % 7, NOW), 0);
    }
    for (uint32_t i = 0; i < 1000; i++) {
        memcpy(x, &i, sizeof i);
        assert_int_equal(zt_env_replay_check(rp, x, NOW), ZT_EEXIST);
    }
    x[15] = 1;
    assert_int_equal(zt_env_replay_insert(rp, x, NOW + 50, NOW), ZT_EBUSY);
    assert_int_equal(zt_env_replay_insert(rp, x, NOW + 50, NOW + 7), 0);
    assert_int_equal(zt_env_replay_count(rp), 1);
    zt_env_replay_free(rp);
}

#define THREADS 4
#define IDS 2000
struct race {
    struct zt_env_replay *rp;
    int won;
};

static void *race_main(void *arg)
{
    struct race *r = arg;
    uint8_t id[16] = {0};
    for (uint32_t i = 0; i < IDS; i++) {
        memcpy(id, &i, sizeof i);
        int rc = zt_env_replay_insert(r->rp, id, NOW + 100, NOW);
        if (rc == 0)
            r->won++;
        else if (rc != ZT_EEXIST)
            abort();
    }
    return NULL;
}

static void test_replay_threads(void **state)
{
    (void)state;
    struct zt_env_replay *rp = NULL;
    struct race r[THREADS];
    pthread_t t[THREADS];
    assert_int_equal(zt_env_replay_new(IDS, &rp), 0);
    for (int i = 0; i < THREADS; i++) {
        r[i] = (struct race){rp, 0};
        assert_int_equal(pthread_create(&t[i], NULL, race_main, &r[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        total += r[i].won;
    }
    assert_int_equal(total, IDS); /* each id accepted exactly once */
    assert_int_equal(zt_env_replay_count(rp), IDS);
    zt_env_replay_free(rp);
}

/* ---- allocation failure ---------------------------------------------------- */

static void test_alloc_failures(void **state)
{
    (void)state;
    struct zt_env_header t = job_tmpl(), h;
    uint8_t body[100], *env = NULL, *pt = NULL;
    size_t env_len = 0, pt_len = 0;
    int rc;
    memset(body, 'q', sizeof body);
    for (int64_t k = 1;; k++) {
        zt_alloc_fail_after(k);
        rc = zt_env_seal(&t, worker_pk, body, sizeof body, NULL, &env, &env_len);
        zt_alloc_fail_after(0);
        if (rc == 0) break;
        assert_int_equal(rc, ZT_ENOMEM);
        assert_int_equal(zt_alloc_live(), zt_test_leak_base());
    }
    struct zt_env_replay *rp = NULL;
    for (int64_t k = 1;; k++) {
        zt_alloc_fail_after(k);
        rc = zt_env_replay_new(64, &rp);
        zt_alloc_fail_after(0);
        if (rc == 0) break;
        assert_int_equal(rc, ZT_ENOMEM);
    }
    int64_t base = zt_alloc_live();
    int failures = 0;
    for (int64_t k = 1;; k++) {
        zt_alloc_fail_after(k);
        rc = zt_env_open(worker_sk, env, env_len, NOW, rp, &h, &pt, &pt_len);
        zt_alloc_fail_after(0);
        if (rc == 0) break;
        assert_int_equal(rc, ZT_ENOMEM);
        assert_int_equal(zt_alloc_live(), base);
        assert_int_equal(zt_env_replay_count(rp), 0); /* a failed open records nothing */
        failures++;
    }
    assert_true(failures >= 1);
    assert_memory_equal(pt, body, sizeof body);
    zt_env_body_free(pt, pt_len);

    /* result sealer and opener */
    uint8_t hdr[ZT_ENV_STREAM_HDR_LEN];
    struct zt_env_result_sealer *s = NULL;
    struct zt_env_result_opener *o = NULL;
    t.version = 1;
    memcpy(t.reply_pk, client_pk, 32);
    for (int64_t k = 1;; k++) {
        zt_alloc_fail_after(k);
        rc = zt_env_result_sealer_new(&t, worker_sk, hdr, &s);
        zt_alloc_fail_after(0);
        if (rc == 0) break;
        assert_int_equal(rc, ZT_ENOMEM);
    }
    for (int64_t k = 1;; k++) {
        zt_alloc_fail_after(k);
        rc = zt_env_result_opener_new(&t, client_sk, worker_pk, hdr, sizeof hdr, &o);
        zt_alloc_fail_after(0);
        if (rc == 0) break;
        assert_int_equal(rc, ZT_ENOMEM);
    }
    zt_env_result_sealer_free(s);
    zt_env_result_opener_free(o);
    zt_env_replay_free(rp);
    zt_free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kat_header, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_kat_receipt, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_seal_errors, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_every_flip, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_recipient, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_replay, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_stream, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_stream_framing, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_receipt, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_headers, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_replay_cache, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_replay_threads, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
