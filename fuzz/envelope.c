/* fuzz/envelope.c: libFuzzer harness for the sealed-job formats
 * (include/zentalk/zt_envelope.h).
 *
 * The first byte picks the target (byte % 4), the rest is the payload:
 *   0  job header: zt_env_header_decode(); a header that decodes must encode
 *      back to the same bytes (one encoding per header) and hash.
 *   1  envelope: zt_env_open() with a fixed worker key at a fixed time and a
 *      fresh replay cache; an envelope that opens must not open twice.
 *   2  receipt: zt_env_receipt_verify(); one that verifies under the fixed
 *      worker signing key must be re-signed to the identical bytes (Ed25519
 *      is deterministic, the encoding canonical).
 *   3  result stream: a 52-byte stream header for a fixed job, then chunks
 *      split with zt_env_result_frame_len() and opened in order, then finish.
 * Every run checks that no allocation leaked. A violated property aborts.
 *
 * The seeds in fuzz/corpus/envelope/ carry valid objects under the fixed
 * keys below, so the fuzzer starts past the authentication checks. Rebuild
 * them with:
 *   cc -std=c17 -DZT_FUZZ_ENVELOPE_GEN -Iinclude fuzz/envelope.c \
 *      BUILD/src/crypto/libzt_crypto.a BUILD/src/core/libzt_core.a \
 *      $(pkg-config --libs libsodium yaml-0.1) -lpthread -o /tmp/gen &&
 * /tmp/gen fuzz/corpus/envelope */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW ((uint64_t)1700000100)

struct keys {
    uint8_t worker_sk[32], worker_pk[32];
    uint8_t client_sk[32], client_pk[32];
    uint8_t sign_pk[32], sign_sk[64];
    struct zt_env_header job; /* the result stream's job */
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_envelope: %s\n", what);
    abort();
}

static const struct keys *keys(void)
{
    static struct keys k;
    static int ready;
    if (ready) return &k;
    uint8_t ikm[32];
    if (zt_crypto_init() != 0) fail("init");
    memset(ikm, 'w', sizeof ikm);
    if (zt_hpke_derive_keypair(ikm, sizeof ikm, k.worker_sk, k.worker_pk) != 0) fail("worker key");
    memset(ikm, 'c', sizeof ikm);
    if (zt_hpke_derive_keypair(ikm, sizeof ikm, k.client_sk, k.client_pk) != 0) fail("client key");
    memset(ikm, 's', sizeof ikm);
    crypto_sign_seed_keypair(k.sign_pk, k.sign_sk, ikm);
    memset(&k.job, 0, sizeof k.job);
    k.job.version = ZT_ENV_VERSION;
    k.job.flags = ZT_ENV_FLAG_STREAM;
    k.job.suite = ZT_HPKE_SUITE_CHACHA;
    memset(k.job.job_id, 0x11, sizeof k.job.job_id);
    zt_env_key_id(k.worker_pk, k.job.recipient_kid);
    memset(k.job.enc, 0x22, sizeof k.job.enc);
    memcpy(k.job.reply_pk, k.client_pk, 32);
    k.job.created = FUZZ_NOW - 100;
    k.job.expires = FUZZ_NOW + 500;
    k.job.max_tokens = 64;
    memcpy(k.job.model, "tiny", 5);
    k.job.model_len = 4;
    ready = 1;
    return &k;
}

static void fuzz_header(const uint8_t *p, size_t n)
{
    struct zt_env_header h;
    uint8_t out[ZT_ENV_HEADER_MAX_LEN], hash[ZT_ENV_HASH_LEN];
    size_t on = 0;
    if (zt_env_header_decode(p, n, &h) != 0) return;
    if (zt_env_header_encode(&h, out, sizeof out, &on) != 0) fail("decoded header does not encode");
    if (on != n || memcmp(out, p, n) != 0) fail("header encoding not canonical");
    if (zt_env_header_hash(&h, hash) != 0) fail("header hash");
}

static void fuzz_open(const struct keys *k, const uint8_t *p, size_t n)
{
    struct zt_env_replay *rp = NULL;
    struct zt_env_header h;
    uint8_t *body = NULL;
    size_t body_len = 0;
    if (zt_env_replay_new(4, &rp) != 0) fail("replay cache");
    int rc = zt_env_open(k->worker_sk, p, n, FUZZ_NOW, rp, &h, &body, &body_len);
    if (rc == 0) {
        zt_env_body_free(body, body_len);
        body = NULL;
        if (zt_env_open(k->worker_sk, p, n, FUZZ_NOW, rp, &h, &body, &body_len) != ZT_EEXIST)
            fail("replay accepted");
    }
    zt_env_replay_free(rp);
}

static void fuzz_receipt(const struct keys *k, const uint8_t *p, size_t n)
{
    struct zt_env_receipt r;
    uint8_t again[ZT_ENV_RECEIPT_MAX_LEN];
    size_t an = 0;
    if (zt_env_receipt_verify(p, n, NULL, &r) != 0) return;
    if (memcmp(r.worker_pk, k->sign_pk, 32) != 0) return;
    if (zt_env_receipt_sign(&r, k->sign_sk, again, sizeof again, &an) != 0) fail("re-sign");
    if (an != n || memcmp(again, p, n) != 0) fail("receipt encoding not canonical");
}

static void fuzz_stream(const struct keys *k, const uint8_t *p, size_t n)
{
    struct zt_env_result_opener *o = NULL;
    uint8_t *pt = NULL;
    if (n < ZT_ENV_STREAM_HDR_LEN) return;
    if (zt_env_result_opener_new(&k->job, k->client_sk, k->worker_pk, p, ZT_ENV_STREAM_HDR_LEN,
                                 &o) != 0)
        return;
    p += ZT_ENV_STREAM_HDR_LEN;
    n -= ZT_ENV_STREAM_HDR_LEN;
    pt = zt_malloc(n ? n : 1);
    if (!pt) fail("malloc");
    while (n > 0) {
        size_t fl = 0, pl = 0;
        bool final = false;
        if (zt_env_result_frame_len(p, n, &fl) != 0 || fl == 0 || fl > n) break;
        if (zt_env_result_open(o, p, fl, pt, n, &pl, &final) != 0) break;
        p += fl;
        n -= fl;
    }
    int fin = zt_env_result_finish(o);
    uint8_t h[ZT_ENV_HASH_LEN];
    if ((fin == 0) != (zt_env_result_opener_output_hash(o, h) == 0)) fail("finish vs hash");
    zt_free(pt);
    zt_env_result_opener_free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const struct keys *k = keys();
    int64_t live = zt_alloc_live();
    switch (data[0] % 4) {
    case 0:
        fuzz_header(data + 1, size - 1);
        break;
    case 1:
        fuzz_open(k, data + 1, size - 1);
        break;
    case 2:
        fuzz_receipt(k, data + 1, size - 1);
        break;
    default:
        fuzz_stream(k, data + 1, size - 1);
        break;
    }
    if (zt_alloc_live() != live) fail("leak");
    return 0;
}

#ifdef ZT_FUZZ_ENVELOPE_GEN
/* Seed generator (see the top of the file). */
static void put(const char *dir, const char *name, uint8_t sel, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(&sel, 1, 1, f) != 1 || fwrite(p, 1, n, f) != n) fail(path);
    fclose(f);
}

int main(int argc, char **argv)
{
    const struct keys *k = keys();
    const char *dir = argc > 1 ? argv[1] : ".";
    struct zt_env_header t = k->job, h;
    uint8_t buf[4096], *env = NULL;
    size_t n = 0, env_len = 0;
    /* header */
    if (zt_env_header_encode(&k->job, buf, sizeof buf, &n) != 0) fail("encode");
    put(dir, "header-valid", 0, buf, n);
    /* envelopes: empty body and a short prompt */
    if (zt_env_seal(&t, k->worker_pk, NULL, 0, &h, &env, &env_len) != 0) fail("seal");
    put(dir, "envelope-empty", 1, env, env_len);
    zt_free(env);
    const char *prompt = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    if (zt_env_seal(&t, k->worker_pk, (const uint8_t *)prompt, strlen(prompt), &h, &env,
                    &env_len) != 0)
        fail("seal");
    put(dir, "envelope-prompt", 1, env, env_len);
    zt_free(env);
    /* receipt */
    struct zt_env_receipt r;
    memset(&r, 0, sizeof r);
    memcpy(r.job_id, k->job.job_id, 16);
    if (zt_env_header_hash(&k->job, r.header_hash) != 0) fail("hash");
    memset(r.input_hash, 0x33, 32);
    memset(r.output_hash, 0x44, 32);
    memset(r.seq_chain, 0x55, 32);
    r.prompt_tokens = 9;
    r.completion_tokens = 17;
    r.finished = FUZZ_NOW;
    memcpy(r.build_id, "zentalk-ai 0.1.0 fuzz", 21);
    r.build_id_len = 21;
    if (zt_env_receipt_sign(&r, k->sign_sk, buf, sizeof buf, &n) != 0) fail("sign");
    put(dir, "receipt-valid", 2, buf, n);
    /* result stream: three chunks, the last final */
    struct zt_env_result_sealer *s = NULL;
    if (zt_env_result_sealer_new(&k->job, k->worker_sk, buf, &s) != 0) fail("sealer");
    n = ZT_ENV_STREAM_HDR_LEN;
    const char *parts[] = {"Hel", "lo", ""};
    for (int i = 0; i < 3; i++) {
        size_t cl = 0;
        if (zt_env_result_seal(s, (const uint8_t *)parts[i], strlen(parts[i]), i == 2, buf + n,
                               sizeof buf - n, &cl) != 0)
            fail("seal chunk");
        n += cl;
    }
    zt_env_result_sealer_free(s);
    put(dir, "stream-valid", 3, buf, n);
    return 0;
}
#endif
