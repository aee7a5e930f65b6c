/* fuzz/sealed.c: libFuzzer harness for what the sealed-job route parses
 * (include/zentalk/zt_jobs.h, zt_sealed.h).
 *
 * The first byte picks the target (byte % 4), the rest is the payload:
 *   0  job body: zt_job_body_decode() for a header naming model "tiny" and
 *      max_tokens 64; a body that decodes must give a request object whose
 *      model and max_tokens are the header's and which holds its prompt or
 *      messages, and must decode the same way twice.
 *   1  final chunk: zt_sealed_final_decode(); one that decodes must encode
 *      back to the same bytes (one encoding per final).
 *   2  response: a worker's response to a fixed job, fed to the client's
 *      reader all at once and, separately, in 7-byte pieces; both readers
 *      must agree on success, on the text delivered and on the receipt.
 *   3  the same read as wire v2 (docs/architecture/WIRE.md: token and
 *      checkpoint records), 3 ids given.
 * Every run checks that no allocation leaked. A violated property aborts.
 *
 * The seeds in fuzz/corpus/sealed/ are valid objects under the fixed keys
 * below (job bodies, a final chunk, a streamed and an unstreamed response),
 * so the fuzzer starts past the authentication checks. Rebuild them with:
 *   cc -std=c17 -DZT_FUZZ_SEALED_GEN -Iinclude fuzz/sealed.c \
 *      BUILD/src/crypto/libzt_crypto.a BUILD/src/core/libzt_core.a \
 *      $(pkg-config --libs libsodium jansson yaml-0.1) -lpthread -o /tmp/gen &&
 * /tmp/gen fuzz/corpus/sealed */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_sealed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct keys {
    uint8_t worker_sk[32], worker_pk[32];
    uint8_t reply_sk[32], reply_pk[32];
    uint8_t sign_pk[32], sign_sk[64];
    uint8_t input_hash[32];
    struct zt_env_header job;
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_sealed: %s\n", what);
    abort();
}

static const struct keys *keys(void)
{
    static struct keys k;
    static int ready;
    if (ready) return &k;
    uint8_t ikm[32];
    if (zt_crypto_init() != 0) fail("init");
    json_set_alloc_funcs(zt_malloc, zt_free); /* count jansson's memory too */
    memset(ikm, 'w', sizeof ikm);
    if (zt_hpke_derive_keypair(ikm, sizeof ikm, k.worker_sk, k.worker_pk) != 0) fail("worker key");
    memset(ikm, 'c', sizeof ikm);
    if (zt_hpke_derive_keypair(ikm, sizeof ikm, k.reply_sk, k.reply_pk) != 0) fail("reply key");
    memset(ikm, 's', sizeof ikm);
    crypto_sign_seed_keypair(k.sign_pk, k.sign_sk, ikm);
    zt_sha256(k.input_hash, "fuzz-body", 9);
    memset(&k.job, 0, sizeof k.job);
    k.job.version = ZT_ENV_VERSION;
    k.job.flags = ZT_ENV_FLAG_STREAM;
    k.job.suite = ZT_HPKE_SUITE_CHACHA;
    memset(k.job.job_id, 0x11, sizeof k.job.job_id);
    zt_env_key_id(k.worker_pk, k.job.recipient_kid);
    memset(k.job.enc, 0x22, sizeof k.job.enc);
    memcpy(k.job.reply_pk, k.reply_pk, 32);
    k.job.created = 1700000000;
    k.job.expires = 1700000600;
    k.job.max_tokens = 64;
    memcpy(k.job.model, "tiny", 5);
    k.job.model_len = 4;
    ready = 1;
    return &k;
}

static void fuzz_job(const uint8_t *p, size_t n)
{
    struct zt_job_request a = {0}, b = {0};
    const char *why = NULL;
    int rc = zt_job_body_decode(p, n, "tiny", 64, &a, &why);
    if (rc) {
        if (!why || a.request) fail("failure without a reason, or with a result");
        return;
    }
    json_t *m = json_object_get(a.request, "model"), *mt = json_object_get(a.request, "max_tokens");
    if (!json_is_string(m) || strcmp(json_string_value(m), "tiny") != 0) fail("model not the header's");
    if (!json_is_integer(mt) || json_integer_value(mt) != 64) fail("max_tokens not the header's");
    if (!json_object_get(a.request, a.kind == ZT_JOB_CHAT ? "messages" : "prompt")) fail("no input");
    if (json_object_get(a.request, "v") || json_object_get(a.request, "kind")) fail("v or kind passed on");
    if (zt_job_body_decode(p, n, "tiny", 64, &b, &why) != 0 || b.kind != a.kind ||
        !json_equal(a.request, b.request))
        fail("decoding is not deterministic");
    zt_job_request_deinit(&a);
    zt_job_request_deinit(&b);
}

static void fuzz_final(const uint8_t *p, size_t n)
{
    struct zt_sealed_final f;
    char out[ZT_SEALED_FINAL_MAX];
    size_t on = 0;
    if (zt_sealed_final_decode(p, n, &f) != 0) return;
    if (zt_sealed_final_encode(&f, out, sizeof out, &on) != 0) fail("decoded final does not encode");
    if (on != n || memcmp(out, p, n) != 0) fail("final encoding not canonical");
}

struct sink {
    uint8_t h[32];
    struct zt_sha256_ctx c;
    size_t bytes;
};

static void on_text(void *ud, const char *t, size_t n)
{
    struct sink *s = ud;
    if (n == 0) fail("empty text callback");
    zt_sha256_update(&s->c, t, n);
    s->bytes += n;
}

/* Feed p in pieces of step (0: at once); 0 or the error. */
static int read_resp(const struct keys *k, const uint8_t *p, size_t n, size_t step, bool v2, struct sink *s,
                     struct zt_sealed_result *res)
{
    struct zt_sealed_reader *r = NULL;
    zt_sha256_init(&s->c);
    s->bytes = 0;
    if (zt_sealed_reader_new(&k->job, k->reply_sk, k->worker_pk, k->sign_pk, k->input_hash, &r) != 0)
        fail("reader");
    if (v2) zt_sealed_reader_v2(r, 3, NULL, NULL); /* wire v2 records, 3 ids given */
    int rc = 0;
    for (size_t off = 0; off < n && !rc;) {
        size_t take = step && n - off > step ? step : n - off;
        rc = zt_sealed_reader_feed(r, p + off, take, on_text, s);
        off += take;
    }
    if (!rc) rc = zt_sealed_reader_finish(r, res);
    if (rc && !zt_sealed_reader_error(r)[0]) fail("failure without a reason");
    zt_sealed_reader_free(r);
    zt_sha256_final(&s->c, s->h);
    return rc;
}

static void fuzz_response(const struct keys *k, const uint8_t *p, size_t n, bool v2)
{
    struct sink a, b;
    struct zt_sealed_result ra, rb;
    int rca = read_resp(k, p, n, 0, v2, &a, &ra);
    int rcb = read_resp(k, p, n, 7, v2, &b, &rb);
    if ((rca == 0) != (rcb == 0)) fail("pieces change the outcome");
    if (rca) return;
    if (a.bytes != b.bytes || memcmp(a.h, b.h, 32) != 0) fail("pieces change the text");
    if (ra.receipt_len != rb.receipt_len || memcmp(ra.receipt_bytes, rb.receipt_bytes, ra.receipt_len) != 0)
        fail("pieces change the receipt");
    if (ra.text_bytes != a.bytes) fail("text byte count");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const struct keys *k = keys();
    int64_t live = zt_alloc_live();
    switch (data[0] % 4) {
    case 0: fuzz_job(data + 1, size - 1); break;
    case 1: fuzz_final(data + 1, size - 1); break;
    case 2: fuzz_response(k, data + 1, size - 1, false); break;
    default: fuzz_response(k, data + 1, size - 1, true); break; /* wire v2 */
    }
    if (zt_alloc_live() != live) fail("leak");
    return 0;
}

#ifdef ZT_FUZZ_SEALED_GEN
/* Seed generator (see the top of the file). */
static void put(const char *dir, const char *name, uint8_t sel, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(&sel, 1, 1, f) != 1 || fwrite(p, 1, n, f) != n) fail(path);
    fclose(f);
}

static void response(const struct keys *k, bool stream, bool v2, struct zt_buf *out)
{
    struct zt_sealed_writer *w = NULL;
    if (zt_sealed_writer_new(&k->job, k->worker_sk, stream, out, &w) != 0) fail("writer");
    const char *parts[] = {"Once", " upon", " a time"};
    if (v2) zt_sealed_writer_v2(w);
    for (int i = 0; i < 3; i++) {
        int32_t id = 100 + i;
        if ((v2 ? zt_sealed_writer_tokens(w, &id, 1, parts[i], strlen(parts[i]), out)
                : zt_sealed_writer_text(w, parts[i], strlen(parts[i]), out)) != 0)
            fail("text");
    }
    if (v2) { /* the final checkpoint: 3 ids given + 3 streamed */
        struct zt_checkpoint c = {.flags = ZT_CKPT_FLAG_FINAL, .n_tokens = 6, .build_id_len = 19};
        memcpy(c.job_id, k->job.job_id, 16);
        memset(c.chain, 0x55, 32);
        memcpy(c.build_id, "zentalk-engine/fuzz", 19);
        uint8_t rec[ZT_CKPT_MAX_LEN];
        size_t rl = 0;
        if (zt_checkpoint_sign(&c, k->sign_sk, rec, sizeof rec, &rl) != 0 ||
            zt_sealed_writer_checkpoint(w, rec, rl, out) != 0)
            fail("checkpoint");
    }
    struct zt_sealed_final f = {.prompt_tokens = 2, .completion_tokens = 3};
    memcpy(f.finish_reason, "length", 7);
    struct zt_env_receipt r;
    memset(&r, 0, sizeof r);
    memcpy(r.input_hash, k->input_hash, 32);
    memset(r.seq_chain, 0x55, 32);
    r.finished = 1700000100;
    memcpy(r.build_id, "zentalk-engine/fuzz", 19);
    r.build_id_len = 19;
    if (zt_sealed_writer_finish(w, &f, &r, k->sign_sk, out) != 0) fail("finish");
    zt_sealed_writer_free(w);
}

int main(int argc, char **argv)
{
    const struct keys *k = keys();
    const char *dir = argc > 1 ? argv[1] : ".";
    const char *jobs[][2] = {
        {"job-completion", "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"Once upon a time\",\"seed\":7,"
                           "\"temperature\":0.8,\"top_p\":0.95,\"top_k\":40,\"stop\":[\"\\n\"],\"max_tokens\":64,"
                           "\"nonce\":\"00112233445566778899aabbccddeeff\"}"},
        {"job-chat", "{\"v\":1,\"kind\":\"chat\",\"model\":\"tiny\",\"messages\":[{\"role\":\"system\",\"content\":"
                     "\"Tell a story.\"},{\"role\":\"user\",\"content\":\"Lily\"}],\"logit_bias\":{\"2\":-100}}"},
        {"job-bad-kind", "{\"v\":1,\"kind\":\"embedding\",\"input\":\"x\"}"},
        {"job-contradicts", "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"x\",\"model\":\"other\"}"},
        {"job-v2-verify", "{\"v\":2,\"kind\":\"completion\",\"prompt\":\"x\",\"subject\":\"0000000000000000000000000000000000000000000000000000000000000000\","
                          "\"verify\":{\"ids\":[1,2,3]}}"},
        {"job-v2-resume", "{\"v\":2,\"kind\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"Lily\"}],"
                          "\"subject\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"resume\":{\"ids\":[7,8]}}"},
    };
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) put(dir, jobs[i][0], 0, jobs[i][1], strlen(jobs[i][1]));
    const char *fin = "{\"finish_reason\":\"stop\",\"usage\":{\"completion_tokens\":3,\"prompt_tokens\":2,\"total_tokens\":5}}";
    put(dir, "final-valid", 1, fin, strlen(fin));
    struct zt_buf b;
    zt_buf_init(&b, 1 << 20);
    response(k, true, false, &b);
    put(dir, "response-stream", 2, b.data, b.len);
    put(dir, "response-truncated", 2, b.data, b.len - 70);
    zt_buf_reset(&b);
    response(k, false, false, &b);
    put(dir, "response-whole", 2, b.data, b.len);
    zt_buf_reset(&b);
    response(k, true, true, &b);
    put(dir, "response-v2-stream", 3, b.data, b.len);
    zt_buf_reset(&b);
    response(k, false, true, &b);
    put(dir, "response-v2-whole", 3, b.data, b.len);
    zt_buf_deinit(&b);
    return 0;
}
#endif
