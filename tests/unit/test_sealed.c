/* test_sealed.c: sealed jobs over HTTP (zt_jobs.h, zt_sealed.h): the job body decoder
 * field by field, the final chunk's one encoding, and the worker's writer
 * against the client's reader: round trips fed in every piece size, every
 * truncation and every single-byte flip of a captured response detected,
 * receipts that do not match the job, body or signer refused, the
 * non-streamed mode, allocation failures, no leaks. */
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
#include "zentalk/zt_hash.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_sealed.h"
#include "zt_test.h"

static uint8_t worker_sk[32], worker_pk[32], reply_sk[32], reply_pk[32];
static uint8_t sign_pk[32], sign_sk[64];

static int setup(void **state)
{
    (void)state;
    assert_int_equal(zt_crypto_init(), 0);
    zt_test_leak_mark();
    assert_int_equal(zt_hpke_keypair(worker_sk, worker_pk), 0);
    assert_int_equal(zt_hpke_keypair(reply_sk, reply_pk), 0);
    crypto_sign_keypair(sign_pk, sign_sk);
    return 0;
}

/* ---- job body -------------------------------------------------------------- */

static int decode(const char *body, struct zt_job_request *j, const char **why)
{
    return zt_job_body_decode((const uint8_t *)body, strlen(body), "stories", 32, j, why);
}

static void test_job_decode_valid(void **state)
{
    (void)state;
    struct zt_job_request j;
    const char *why = NULL;
    assert_int_equal(decode("{\"v\":1,\"kind\":\"completion\",\"prompt\":\"Once\",\"seed\":7,\"temperature\":0.5,"
                            "\"top_p\":0.9,\"top_k\":40,\"min_p\":0.1,\"stop\":[\"\\n\"],\"logit_bias\":{\"5\":-100},"
                            "\"frequency_penalty\":0,\"presence_penalty\":0,\"repeat_penalty\":1.1,"
                            "\"model\":\"stories\",\"max_tokens\":32,\"nonce\":\"00ff\"}",
                            &j, &why),
                     0);
    assert_int_equal(j.kind, ZT_JOB_COMPLETION);
    /* model and max_tokens come from the header; kind and v are dropped */
    assert_string_equal(json_string_value(json_object_get(j.request, "model")), "stories");
    assert_int_equal(json_integer_value(json_object_get(j.request, "max_tokens")), 32);
    assert_string_equal(json_string_value(json_object_get(j.request, "prompt")), "Once");
    assert_int_equal(json_integer_value(json_object_get(j.request, "seed")), 7);
    assert_null(json_object_get(j.request, "kind"));
    assert_null(json_object_get(j.request, "v"));
    assert_null(json_object_get(j.request, "nonce"));
    assert_int_equal(json_object_size(j.request), 13);
    zt_job_request_deinit(&j);
    zt_job_request_deinit(&j); /* idempotent */

    assert_int_equal(decode("{\"kind\":\"chat\",\"v\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                            "\"stop\":\"x\",\"seed\":null}",
                            &j, &why),
                     0);
    assert_int_equal(j.kind, ZT_JOB_CHAT);
    assert_int_equal(json_array_size(json_object_get(j.request, "messages")), 1);
    assert_int_equal(json_integer_value(json_object_get(j.request, "max_tokens")), 32);
    assert_null(json_object_get(j.request, "seed")); /* null is absent */
    zt_job_request_deinit(&j);
}

static void test_job_decode_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int rc;
    } cases[] = {
        {"", ZT_EPARSE},
        {"[]", ZT_EPARSE},
        {"\"x\"", ZT_EPARSE},
        {"{", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\"} trailing", ZT_EPARSE},
        {"{\"kind\":\"completion\",\"prompt\":\"a\"}", ZT_EPARSE},                      /* no v */
        {"{\"v\":\"1\",\"kind\":\"completion\",\"prompt\":\"a\"}", ZT_EPARSE},
        {"{\"v\":3,\"kind\":\"completion\",\"prompt\":\"a\"}", ZT_EUNSUPPORTED}, /* v1 and v2 are read */
        /* wire v2's fields: only in v2, subject required, resume xor verify, ids in range */
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"subject\":\"0000000000000000000000000000000000000000000000000000000000000000\"}", ZT_EPARSE},
        {"{\"v\":2,\"kind\":\"completion\",\"prompt\":\"a\",\"resume\":{\"ids\":[1]}}", ZT_EPARSE},
        {"{\"v\":2,\"kind\":\"completion\",\"prompt\":\"a\",\"subject\":\"00\"}", ZT_EPARSE},
        {"{\"v\":2,\"kind\":\"completion\",\"prompt\":\"a\",\"subject\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"resume\":{\"ids\":[1]},\"verify\":{\"ids\":[1]}}", ZT_EPARSE},
        {"{\"v\":2,\"kind\":\"completion\",\"prompt\":\"a\",\"subject\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"verify\":{\"ids\":[-1]}}", ZT_EPARSE},
        {"{\"v\":2,\"kind\":\"completion\",\"prompt\":\"a\",\"subject\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"verify\":{\"ids\":[1],\"x\":1}}", ZT_EPARSE},
        {"{\"v\":2,\"kind\":\"completion\",\"prompt\":\"a\",\"subject\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"resume\":{\"ids\":[1],\"checkpoint\":\"00\"}}", ZT_EPARSE},
        {"{\"v\":1,\"prompt\":\"a\"}", ZT_EPARSE},                                      /* no kind */
        {"{\"v\":1,\"kind\":\"embedding\",\"input\":\"a\"}", ZT_EUNSUPPORTED},
        {"{\"v\":1,\"kind\":7,\"prompt\":\"a\"}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\"}", ZT_EPARSE},                                /* no prompt */
        {"{\"v\":1,\"kind\":\"chat\"}", ZT_EPARSE},                                      /* no messages */
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":[\"a\"]}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"chat\",\"prompt\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"chat\",\"messages\":[]}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"chat\",\"messages\":[{\"role\":\"user\"}]}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":1}]}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"name\":\"b\"}]}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"chat\",\"messages\":[\"a\"]}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"model\":\"other\"}", ZT_EPARSE},   /* contradicts */
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"max_tokens\":33}", ZT_EPARSE},     /* contradicts */
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"max_tokens\":\"32\"}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"stream\":true}", ZT_EPARSE},       /* unknown */
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"n\":1}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"seed\":1.5}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"temperature\":\"hot\"}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"stop\":[1]}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"logit_bias\":{\"1\":\"x\"}}", ZT_EPARSE},
        {"{\"v\":1,\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\"}", ZT_EPARSE},              /* duplicate */
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"nonce\":\"\"}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"a\",\"nonce\":5}", ZT_EPARSE},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"\\u0000\"}", ZT_EPARSE},                 /* NUL */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct zt_job_request j = {0};
        const char *why = NULL;
        int rc = decode(cases[i].body, &j, &why);
        if (rc != cases[i].rc) fprintf(stderr, "case %zu: %d (%s)\n", i, rc, why ? why : "");
        assert_int_equal(rc, cases[i].rc);
        assert_non_null(why);
        assert_null(j.request);
        /* the reason never quotes the body */
        assert_null(strstr(why, "\"a\""));
    }
    /* not UTF-8 */
    struct zt_job_request j = {0};
    const char *why = NULL;
    const uint8_t bad[] = "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"\xff\"}";
    assert_int_equal(zt_job_body_decode(bad, sizeof bad - 1, "m", 1, &j, &why), ZT_EPARSE);
    /* a jansson error near secret text is not repeated */
    const char *secret = "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"my secret\" oops}";
    assert_int_equal(decode(secret, &j, &why), ZT_EPARSE);
    assert_null(strstr(why, "secret"));
    assert_null(strstr(why, "oops"));
}

/* ---- final chunk ----------------------------------------------------------- */

static void test_final(void **state)
{
    (void)state;
    struct zt_sealed_final f = {.prompt_tokens = 5, .completion_tokens = 20}, g;
    memcpy(f.finish_reason, "length", 7);
    char buf[ZT_SEALED_FINAL_MAX];
    size_t n;
    assert_int_equal(zt_sealed_final_encode(&f, buf, sizeof buf, &n), 0);
    const char *want = "{\"finish_reason\":\"length\",\"usage\":{\"completion_tokens\":20,\"prompt_tokens\":5,\"total_tokens\":25}}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    assert_int_equal(zt_sealed_final_decode((const uint8_t *)buf, n, &g), 0);
    assert_string_equal(g.finish_reason, "length");
    assert_int_equal(g.prompt_tokens, 5);
    assert_int_equal(g.completion_tokens, 20);
    /* max values */
    f.prompt_tokens = f.completion_tokens = UINT32_MAX;
    assert_int_equal(zt_sealed_final_encode(&f, buf, sizeof buf, &n), 0);
    assert_int_equal(zt_sealed_final_decode((const uint8_t *)buf, n, &g), ZT_EPARSE); /* total overflows u32 */
    f.prompt_tokens = 0;
    assert_int_equal(zt_sealed_final_encode(&f, buf, sizeof buf, &n), 0);
    assert_int_equal(zt_sealed_final_decode((const uint8_t *)buf, n, &g), 0);
    /* bad reasons, small buffers */
    memcpy(f.finish_reason, "Stop", 5);
    assert_int_equal(zt_sealed_final_encode(&f, buf, sizeof buf, &n), ZT_EINVAL);
    memcpy(f.finish_reason, "stop", 5);
    assert_int_equal(zt_sealed_final_encode(&f, buf, 10, &n), ZT_EINVAL);
    /* only the canonical text decodes */
    static const char *const bad[] = {
        "",
        "{}",
        "{\"finish_reason\":\"stop\",\"usage\":{\"completion_tokens\":1,\"prompt_tokens\":2,\"total_tokens\":4}}",
        "{\"finish_reason\":\"stop\",\"usage\":{\"completion_tokens\":01,\"prompt_tokens\":2,\"total_tokens\":3}}",
        "{\"finish_reason\":\"stop\", \"usage\":{\"completion_tokens\":1,\"prompt_tokens\":2,\"total_tokens\":3}}",
        "{\"usage\":{\"completion_tokens\":1,\"prompt_tokens\":2,\"total_tokens\":3},\"finish_reason\":\"stop\"}",
        "{\"finish_reason\":\"\",\"usage\":{\"completion_tokens\":1,\"prompt_tokens\":2,\"total_tokens\":3}}",
        "{\"finish_reason\":\"st\\\"op\",\"usage\":{\"completion_tokens\":1,\"prompt_tokens\":2,\"total_tokens\":3}}",
        "{\"finish_reason\":\"stop\",\"usage\":{\"completion_tokens\":1,\"prompt_tokens\":2,\"total_tokens\":3}}x",
        "{\"finish_reason\":\"stop\",\"usage\":{\"completion_tokens\":-1,\"prompt_tokens\":2,\"total_tokens\":1}}",
        "{\"finish_reason\":\"stop\",\"usage\":{\"completion_tokens\":4294967296,\"prompt_tokens\":0,\"total_tokens\":4294967296}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(zt_sealed_final_decode((const uint8_t *)bad[i], strlen(bad[i]), &g), ZT_EPARSE);
}

/* ---- writer and reader ----------------------------------------------------- */

static const char *const PIECES[] = {"Once", " upon", " a time", ",", " there", " was", " \xc3\xa9t\xc3\xa9", "."};
#define N_PIECES (sizeof PIECES / sizeof PIECES[0])
static const char BODY[] = "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"x\"}";

static struct zt_env_header job(void)
{
    struct zt_env_header h;
    memset(&h, 0, sizeof h);
    h.version = ZT_ENV_VERSION;
    h.flags = ZT_ENV_FLAG_STREAM;
    h.suite = ZT_HPKE_SUITE_CHACHA;
    zt_env_job_id_new(h.job_id);
    zt_env_key_id(worker_pk, h.recipient_kid);
    memset(h.enc, 0x22, sizeof h.enc);
    memcpy(h.reply_pk, reply_pk, 32);
    h.created = 1700000000;
    h.expires = 1700000300;
    h.max_tokens = 64;
    memcpy(h.model, "stories", 8);
    h.model_len = 7;
    return h;
}

/* A whole worker response for hdr into out. */
static void respond(const struct zt_env_header *hdr, bool stream, const uint8_t *input_hash, struct zt_buf *out)
{
    struct zt_sealed_writer *w = NULL;
    assert_int_equal(zt_sealed_writer_new(hdr, worker_sk, stream, out, &w), 0);
    for (size_t i = 0; i < N_PIECES; i++)
        assert_int_equal(zt_sealed_writer_text(w, PIECES[i], strlen(PIECES[i]), out), 0);
    struct zt_sealed_final f = {.prompt_tokens = 3, .completion_tokens = (uint32_t)N_PIECES};
    memcpy(f.finish_reason, "stop", 5);
    struct zt_env_receipt r;
    memset(&r, 0, sizeof r);
    memcpy(r.input_hash, input_hash, 32);
    memset(r.seq_chain, 0x5c, 32);
    r.finished = 1700000100;
    r.build_id_len = 4;
    memcpy(r.build_id, "test", 5);
    assert_int_equal(zt_sealed_writer_finish(w, &f, &r, sign_sk, out), 0);
    assert_int_equal(zt_sealed_writer_text(w, "x", 1, out), ZT_ECLOSED);
    assert_int_equal(zt_sealed_writer_finish(w, &f, &r, sign_sk, out), ZT_ECLOSED);
    zt_sealed_writer_free(w);
}

struct collect {
    struct zt_buf text;
    size_t calls;
};

static void on_text(void *ud, const char *t, size_t n)
{
    struct collect *c = ud;
    c->calls++;
    assert_int_equal(zt_buf_append(&c->text, t, n), 0);
}

/* Feed bytes in pieces of `step` (0 = all at once); return feed/finish's rc. */
static int read_all(const struct zt_env_header *hdr, const uint8_t *input_hash, const uint8_t *p, size_t n,
                    size_t step, struct collect *c, struct zt_sealed_result *res, const char **why)
{
    struct zt_sealed_reader *r = NULL;
    assert_int_equal(zt_sealed_reader_new(hdr, reply_sk, worker_pk, sign_pk, input_hash, &r), 0);
    int rc = 0;
    for (size_t off = 0; off < n && !rc;) {
        size_t k = step ? (n - off < step ? n - off : step) : n;
        rc = zt_sealed_reader_feed(r, p + off, k, on_text, c);
        off += k;
    }
    if (!rc) rc = zt_sealed_reader_finish(r, res);
    if (rc) {
        assert_true(zt_sealed_reader_error(r)[0] != '\0');
        /* a dead reader repeats its error */
        assert_int_equal(zt_sealed_reader_feed(r, (const uint8_t *)"x", 1, on_text, c), rc);
        assert_int_equal(zt_sealed_reader_finish(r, res), rc);
    }
    if (why) *why = zt_sealed_reader_error(r);
    zt_sealed_reader_free(r);
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct zt_env_header h = job();
    uint8_t ih[32];
    zt_sha256(ih, BODY, sizeof BODY - 1);
    struct zt_buf resp;
    zt_buf_init(&resp, 1 << 20);
    respond(&h, true, ih, &resp);
    char want[256];
    size_t wl = 0;
    for (size_t i = 0; i < N_PIECES; i++) wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s", PIECES[i]);
    size_t steps[] = {0, 1, 2, 3, 5, 7, 52, 53, 64, 1000};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        struct collect c = {0};
        zt_buf_init(&c.text, 4096);
        struct zt_sealed_result res;
        assert_int_equal(read_all(&h, ih, (const uint8_t *)resp.data, resp.len, steps[s], &c, &res, NULL), 0);
        assert_string_equal(zt_buf_str(&c.text), want);
        assert_int_equal(c.calls, N_PIECES); /* one callback per chunk, as it comes */
        assert_int_equal(res.text_bytes, strlen(want));
        assert_string_equal(res.final.finish_reason, "stop");
        assert_int_equal(res.final.prompt_tokens, 3);
        assert_int_equal(res.receipt.completion_tokens, N_PIECES);
        assert_memory_equal(res.receipt.job_id, h.job_id, 16);
        assert_memory_equal(res.receipt.input_hash, ih, 32);
        assert_memory_equal(res.receipt.worker_pk, sign_pk, 32);
        uint8_t hh[32];
        assert_int_equal(zt_env_header_hash(&h, hh), 0);
        assert_memory_equal(res.receipt.header_hash, hh, 32);
        /* the output hash covers the text and then the final chunk's JSON */
        char fin[ZT_SEALED_FINAL_MAX];
        size_t fl;
        assert_int_equal(zt_sealed_final_encode(&res.final, fin, sizeof fin, &fl), 0);
        struct zt_sha256_ctx sc;
        uint8_t oh[32];
        zt_sha256_init(&sc);
        zt_sha256_update(&sc, want, strlen(want));
        zt_sha256_update(&sc, fin, fl);
        zt_sha256_final(&sc, oh);
        assert_memory_equal(res.receipt.output_hash, oh, 32);
        struct zt_env_receipt again;
        assert_int_equal(zt_env_receipt_verify(res.receipt_bytes, res.receipt_len, sign_pk, &again), 0);
        zt_buf_deinit(&c.text);
    }
    zt_buf_deinit(&resp);
}

static void test_not_streamed(void **state)
{
    (void)state;
    struct zt_env_header h = job();
    h.flags = 0;
    uint8_t ih[32];
    zt_sha256(ih, BODY, sizeof BODY - 1);
    struct zt_buf a, b;
    zt_buf_init(&a, 1 << 20);
    zt_buf_init(&b, 1 << 20);
    respond(&h, false, ih, &a);
    respond(&h, true, ih, &b);
    struct collect c = {0};
    zt_buf_init(&c.text, 4096);
    struct zt_sealed_result ra, rb;
    assert_int_equal(read_all(&h, ih, (const uint8_t *)a.data, a.len, 0, &c, &ra, NULL), 0);
    assert_int_equal(c.calls, 1); /* the whole text at the end */
    assert_int_equal(read_all(&h, ih, (const uint8_t *)b.data, b.len, 0, &c, &rb, NULL), 0);
    /* chunking changes neither the text nor the output hash */
    assert_memory_equal(ra.receipt.output_hash, rb.receipt.output_hash, 32);
    assert_true(a.len < b.len);
    zt_buf_deinit(&c.text);
    zt_buf_deinit(&a);
    zt_buf_deinit(&b);
}

static void test_every_truncation_and_flip(void **state)
{
    (void)state;
    struct zt_env_header h = job();
    uint8_t ih[32];
    zt_sha256(ih, BODY, sizeof BODY - 1);
    struct zt_buf resp;
    zt_buf_init(&resp, 1 << 20);
    respond(&h, true, ih, &resp);
    uint8_t *copy = malloc(resp.len + 1);
    assert_non_null(copy);
    struct zt_sealed_result res;
    for (size_t cut = 0; cut < resp.len; cut++) {
        struct collect c = {0};
        zt_buf_init(&c.text, 4096);
        int rc = read_all(&h, ih, (const uint8_t *)resp.data, cut, 0, &c, &res, NULL);
        assert_true(rc == ZT_ECRYPTO); /* truncated, wherever it is cut */
        zt_buf_deinit(&c.text);
    }
    for (size_t i = 0; i < resp.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(copy, resp.data, resp.len);
            copy[i] ^= (uint8_t)(1u << bit);
            struct collect c = {0};
            zt_buf_init(&c.text, 4096);
            int rc = read_all(&h, ih, copy, resp.len, 0, &c, &res, NULL);
            /* ZT_EUNSUPPORTED: the receipt's version byte */
            if (rc != ZT_ECRYPTO && rc != ZT_EPARSE && rc != ZT_EUNSUPPORTED)
                fprintf(stderr, "flip at %zu bit %d: %d\n", i, bit, rc);
            assert_true(rc == ZT_ECRYPTO || rc == ZT_EPARSE || rc == ZT_EUNSUPPORTED);
            zt_buf_deinit(&c.text);
        }
    }
    /* one byte too many */
    memcpy(copy, resp.data, resp.len);
    copy[resp.len] = 0;
    struct collect c = {0};
    zt_buf_init(&c.text, 4096);
    const char *why;
    assert_int_equal(read_all(&h, ih, copy, resp.len + 1, 0, &c, &res, &why), ZT_EPARSE);
    zt_buf_deinit(&c.text);
    free(copy);
    zt_buf_deinit(&resp);
}

static void test_receipt_mismatch(void **state)
{
    (void)state;
    struct zt_env_header h = job();
    uint8_t ih[32], other[32];
    zt_sha256(ih, BODY, sizeof BODY - 1);
    memset(other, 7, sizeof other);
    struct zt_buf resp;
    zt_buf_init(&resp, 1 << 20);
    struct collect c = {0};
    zt_buf_init(&c.text, 4096);
    struct zt_sealed_result res;
    const char *why;

    /* the worker signed another input hash than the body sent */
    respond(&h, true, other, &resp);
    assert_int_equal(read_all(&h, ih, (const uint8_t *)resp.data, resp.len, 0, &c, &res, &why), ZT_ECRYPTO);
    assert_non_null(strstr(why, "input hash"));

    /* a response for another job (same keys): the stream header says so */
    struct zt_env_header h2 = job();
    zt_buf_reset(&resp);
    respond(&h2, true, ih, &resp);
    assert_int_equal(read_all(&h, ih, (const uint8_t *)resp.data, resp.len, 0, &c, &res, &why), ZT_ECRYPTO);

    /* signed by another key than the descriptor's */
    zt_buf_reset(&resp);
    respond(&h, true, ih, &resp);
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair(other_pk, other_sk);
    struct zt_sealed_reader *r = NULL;
    assert_int_equal(zt_sealed_reader_new(&h, reply_sk, worker_pk, other_pk, ih, &r), 0);
    assert_int_equal(zt_sealed_reader_feed(r, (const uint8_t *)resp.data, resp.len, on_text, &c), 0);
    assert_int_equal(zt_sealed_reader_finish(r, &res), ZT_ECRYPTO);
    assert_non_null(strstr(zt_sealed_reader_error(r), "signed"));
    zt_sealed_reader_free(r);

    /* a stream sealed by another X25519 key than the worker's */
    r = NULL;
    uint8_t x_sk[32], x_pk[32];
    assert_int_equal(zt_hpke_keypair(x_sk, x_pk), 0);
    assert_int_equal(zt_sealed_reader_new(&h, reply_sk, x_pk, sign_pk, ih, &r), 0);
    assert_int_equal(zt_sealed_reader_feed(r, (const uint8_t *)resp.data, resp.len, on_text, &c), ZT_ECRYPTO);
    zt_sealed_reader_free(r);

    /* the wrong reply key */
    r = NULL;
    assert_int_equal(zt_sealed_reader_new(&h, x_sk, worker_pk, sign_pk, ih, &r), 0);
    assert_int_equal(zt_sealed_reader_feed(r, (const uint8_t *)resp.data, resp.len, on_text, &c), ZT_ECRYPTO);
    zt_sealed_reader_free(r);

    /* a response that is a JSON error, not a stream */
    const char *err = "{\"error\":{\"code\":\"wrong_recipient\",\"message\":\"sealed to another key\"}}\n";
    assert_int_equal(read_all(&h, ih, (const uint8_t *)err, strlen(err), 0, &c, &res, &why), ZT_EPARSE);
    /* shorter than a stream header: cut */
    assert_int_equal(read_all(&h, ih, (const uint8_t *)err, 20, 0, &c, &res, &why), ZT_ECRYPTO);
    zt_buf_deinit(&c.text);
    zt_buf_deinit(&resp);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct zt_env_header h = job();
    uint8_t ih[32];
    zt_sha256(ih, BODY, sizeof BODY - 1);
    struct zt_buf resp;
    zt_buf_init(&resp, 1 << 20);
    respond(&h, true, ih, &resp);
    int64_t base = zt_alloc_live();
    for (int64_t n = 1; n < 40; n++) {
        zt_alloc_fail_after(n);
        struct zt_job_request j = {0};
        int rc = decode("{\"v\":1,\"kind\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"seed\":1}",
                        &j, NULL);
        zt_alloc_fail_after(0);
        assert_true(rc == 0 || rc == ZT_ENOMEM || rc == ZT_EPARSE); /* jansson may report ENOMEM as a parse error */
        zt_job_request_deinit(&j);
        assert_int_equal(zt_alloc_live(), base);

        zt_alloc_fail_after(n);
        struct zt_sealed_reader *r = NULL;
        rc = zt_sealed_reader_new(&h, reply_sk, worker_pk, sign_pk, ih, &r);
        if (!rc) rc = zt_sealed_reader_feed(r, (const uint8_t *)resp.data, resp.len, NULL, NULL);
        struct zt_sealed_result res;
        if (!rc) rc = zt_sealed_reader_finish(r, &res);
        zt_alloc_fail_after(0);
        assert_true(rc == 0 || rc == ZT_ENOMEM || rc == ZT_ECRYPTO);
        zt_sealed_reader_free(r);
        assert_int_equal(zt_alloc_live(), base);
    }
    zt_buf_deinit(&resp);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_job_decode_valid, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_job_decode_invalid, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_final, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_not_streamed, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation_and_flip, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_receipt_mismatch, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests_name("sealed", tests, NULL, NULL));
}
