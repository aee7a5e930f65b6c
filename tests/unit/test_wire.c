/* test_wire.c: wire v2 (docs/architecture/WIRE.md) against its test
 * vectors, tests/data/wire/vectors.json, computed independently in Python
 * (tests/data/wire/gen_vectors.py: hashlib, cryptography's Ed25519): the
 * hash chain (h0, prompt links, generated links with the top 8 logits),
 * the sampler's draw at (seed, position), a signed checkpoint record (and
 * every flipped byte refused), result records through the writer and the
 * reader (ids, text, output hash), the checkpoint cadence the reader
 * requires (one after every 16 ids), job bodies v1, v2, resume, verify and
 * v3, continuations, and the chain comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_sampler.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zt_test.h"

static json_t *V;

static int group_setup(void **state)
{
    (void)state;
    assert_int_equal(zt_crypto_init(), 0);
    json_set_alloc_funcs(zt_malloc, zt_free); /* as the programs do: counted */
    const char *src = getenv("ZT_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/wire/vectors.json", src ? src : ".");
    V = json_load_file(path, 0, NULL);
    return V ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    json_decref(V);
    return 0;
}

static void hex(const char *s, uint8_t *out, size_t n)
{
    assert_non_null(s);
    assert_int_equal(zt_hex_decode_str(out, n, s, ZT_HEX_LOWER), 0);
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    return s;
}

static void test_chain(void **state)
{
    (void)state;
    json_t *c = json_object_get(V, "chain"), *pp = json_object_get(c, "params");
    struct zt_sampler_params p;
    zt_sampler_params_default(&p);
    p.temperature = (float)json_real_value(json_object_get(pp, "temperature"));
    p.top_p = (float)json_real_value(json_object_get(pp, "top_p"));
    p.min_p = (float)json_real_value(json_object_get(pp, "min_p"));
    p.repeat_penalty = (float)json_real_value(json_object_get(pp, "repeat_penalty"));
    p.frequency_penalty = (float)json_real_value(json_object_get(pp, "frequency_penalty"));
    p.presence_penalty = (float)json_real_value(json_object_get(pp, "presence_penalty"));
    p.top_k = (int32_t)json_integer_value(json_object_get(pp, "top_k"));
    p.repeat_last_n = (int32_t)json_integer_value(json_object_get(pp, "repeat_last_n"));
    p.seed = (uint64_t)json_integer_value(json_object_get(pp, "seed"));
    json_t *lb = json_array_get(json_object_get(c, "logit_bias"), 0);
    struct zt_logit_bias bias = {(int32_t)json_integer_value(json_array_get(lb, 0)),
                                 (float)json_number_value(json_array_get(lb, 1))};
    p.logit_bias = &bias;
    p.n_logit_bias = 1;
    uint32_t nv = (uint32_t)json_integer_value(json_object_get(c, "n_vocab"));
    struct zt_sampler *s = NULL;
    assert_int_equal(zt_sampler_new(&p, nv, &s), 0);
    uint8_t h[32], want[32];
    zt_sampler_hash(s, h);
    hex(str(c, "h0"), want, 32);
    assert_memory_equal(h, want, 32);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c, "prompt"), i, e)
        assert_int_equal(zt_sampler_accept(s, (int32_t)json_integer_value(e), NULL), 0);
    zt_sampler_hash(s, h);
    hex(str(c, "after_prompt"), want, 32);
    assert_memory_equal(h, want, 32);
    json_array_foreach(json_object_get(c, "steps"), i, e) {
        float logits[64];
        size_t k;
        json_t *l;
        json_array_foreach(json_object_get(e, "logits"), k, l) logits[k] = (float)json_number_value(l);
        assert_int_equal(zt_sampler_accept(s, (int32_t)json_integer_value(json_object_get(e, "token")), logits), 0);
        zt_sampler_hash(s, h);
        hex(str(e, "chain"), want, 32);
        assert_memory_equal(h, want, 32);
    }
    assert_int_equal(zt_sampler_n_generated(s), 3);
    zt_sampler_free(s);
}

static void test_draws(void **state)
{
    (void)state;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(V, "draws"), i, e) {
        uint64_t seed = (uint64_t)json_integer_value(json_object_get(e, "seed"));
        uint64_t pos = (uint64_t)json_integer_value(json_object_get(e, "pos"));
        uint64_t u = (uint64_t)json_integer_value(json_object_get(e, "u53"));
        assert_true(zt_sampler_draw(seed, pos) == (double)u * 0x1.0p-53);
    }
}

/* The vector's checkpoint fields, and its key (seed -> libsodium layout). */
static void vector_checkpoint(struct zt_checkpoint *c, uint8_t sk[64], uint8_t pk[32])
{
    json_t *v = json_object_get(V, "checkpoint");
    memset(c, 0, sizeof *c);
    c->flags = (uint8_t)json_integer_value(json_object_get(v, "flags"));
    hex(str(v, "job_id"), c->job_id, 16);
    hex(str(v, "subject"), c->subject, 32);
    hex(str(v, "model_sha256"), c->model_sha256, 32);
    hex(str(v, "prev"), c->prev, 32);
    c->n_tokens = (uint32_t)json_integer_value(json_object_get(v, "n_tokens"));
    hex(str(v, "chain"), c->chain, 32);
    c->build_id_len = (uint8_t)zt_strlcpy(c->build_id, str(v, "build_id"), sizeof c->build_id);
    uint8_t seed[32];
    hex(str(v, "ed25519_seed"), seed, 32);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    uint8_t want_pk[32];
    hex(str(v, "ed25519_pk"), want_pk, 32);
    assert_memory_equal(pk, want_pk, 32);
}

static void test_checkpoint(void **state)
{
    (void)state;
    json_t *v = json_object_get(V, "checkpoint");
    struct zt_checkpoint c, back;
    uint8_t sk[64], pk[32];
    vector_checkpoint(&c, sk, pk);
    uint8_t rec[ZT_CKPT_MAX_LEN], want[ZT_CKPT_MAX_LEN];
    size_t len = 0, wl = strlen(str(v, "record")) / 2;
    assert_int_equal(zt_checkpoint_sign(&c, sk, rec, sizeof rec, &len), 0);
    hex(str(v, "record"), want, wl);
    assert_int_equal(len, wl);
    assert_memory_equal(rec, want, wl);
    assert_int_equal(zt_checkpoint_verify(rec, len, pk, &back), 0);
    assert_int_equal(back.n_tokens, c.n_tokens);
    assert_memory_equal(back.chain, c.chain, 32);
    assert_memory_equal(back.worker_pk, pk, 32);
    assert_string_equal(back.build_id, c.build_id);
    uint8_t id[32], wid[32];
    zt_checkpoint_id(rec, len, id);
    hex(str(v, "id"), wid, 32);
    assert_memory_equal(id, wid, 32);
    /* every flipped byte, a wrong key, a short record, unknown flags */
    for (size_t i = 0; i < len; i++) {
        rec[i] ^= 0x01;
        int rc = zt_checkpoint_verify(rec, len, NULL, &back);
        assert_true(rc == ZT_ECRYPTO || rc == ZT_EPARSE);
        rec[i] ^= 0x01;
    }
    uint8_t other[32];
    memset(other, 7, sizeof other);
    assert_int_equal(zt_checkpoint_verify(rec, len, other, &back), ZT_ECRYPTO);
    assert_int_equal(zt_checkpoint_verify(rec, len - 1, NULL, &back), ZT_EPARSE);
    c.flags = 0x80;
    assert_int_equal(zt_checkpoint_sign(&c, sk, rec, sizeof rec, &len), ZT_EPARSE);
}

/* The vector's stream through a v2 writer (streamed and not) and reader:
 * the ids, the text, and the output hash of the records. */
/* A job header for job_id sealed to a fresh worker key (wsk, wpk) with a
 * fresh reply key (rsk): what the records tests write and read under. */
static void job_header(struct zt_env_header *h, const uint8_t job_id[16], uint8_t wsk[32], uint8_t wpk[32],
                       uint8_t rsk[32])
{
    memset(h, 0, sizeof *h);
    assert_int_equal(zt_hpke_keypair(wsk, wpk), 0);
    assert_int_equal(zt_hpke_keypair(rsk, h->reply_pk), 0);
    h->version = ZT_ENV_VERSION;
    h->suite = ZT_HPKE_SUITE_CHACHA;
    memcpy(h->job_id, job_id, 16);
    zt_env_key_id(wpk, h->recipient_kid);
    h->created = 1700000000;
    h->expires = 1700000300;
    h->max_tokens = 300;
    memcpy(h->model, "stories", 8);
    h->model_len = 7;
}

/* The final chunk and the receipt (input hash ih, chain: the FINAL
 * checkpoint's), signed with sk. */
static void finish_job(struct zt_sealed_writer *w, const char *reason, uint32_t completion, const uint8_t ih[32],
                       const uint8_t chain[32], const uint8_t sk[64], struct zt_buf *out)
{
    struct zt_sealed_final f = {.prompt_tokens = 3, .completion_tokens = completion};
    zt_strlcpy(f.finish_reason, reason, sizeof f.finish_reason);
    struct zt_env_receipt rc;
    memset(&rc, 0, sizeof rc);
    memcpy(rc.input_hash, ih, 32);
    memcpy(rc.seq_chain, chain, 32);
    rc.build_id_len = 4;
    memcpy(rc.build_id, "test", 5);
    assert_int_equal(zt_sealed_writer_finish(w, &f, &rc, sk, out), 0);
}

static void test_records(void **state)
{
    (void)state;
    json_t *r = json_object_get(V, "records");
    struct zt_checkpoint c;
    uint8_t sk[64], pk[32];
    vector_checkpoint(&c, sk, pk);
    uint8_t ck[ZT_CKPT_MAX_LEN];
    size_t ckl = 0;
    assert_int_equal(zt_checkpoint_sign(&c, sk, ck, sizeof ck, &ckl), 0);
    uint8_t wsk[32], wpk[32], rsk[32];
    struct zt_env_header h;
    job_header(&h, c.job_id, wsk, wpk, rsk); /* the checkpoint names this job */
    uint8_t ih[32] = {1};
    uint8_t want_oh[32];
    hex(str(r, "output_hash"), want_oh, 32);
    json_t *stream = json_object_get(r, "stream");
    for (int streamed = 0; streamed < 2; streamed++) {
        h.flags = streamed ? ZT_ENV_FLAG_STREAM : 0;
        struct zt_buf out;
        zt_buf_init(&out, 1 << 20);
        struct zt_sealed_writer *w = NULL;
        assert_int_equal(zt_sealed_writer_new(&h, wsk, streamed, &out, &w), 0);
        assert_int_equal(zt_sealed_writer_tokens(w, NULL, 0, "x", 1, &out), ZT_EINVAL); /* not v2 yet */
        zt_sealed_writer_v2(w);
        assert_int_equal(zt_sealed_writer_text(w, "x", 1, &out), ZT_EINVAL); /* v2: records only */
        size_t i, n_ids = 0;
        json_t *e;
        char want_text[64] = "";
        int32_t want_ids[16];
        json_array_foreach(stream, i, e) {
            int32_t ids[8];
            size_t k;
            json_t *id;
            json_array_foreach(json_object_get(e, "ids"), k, id) ids[k] = want_ids[n_ids++] =
                (int32_t)json_integer_value(id);
            const char *t = str(e, "text");
            size_t have = strlen(want_text), tl = strlen(t);
            assert_true(have + tl < sizeof want_text);
            memcpy(want_text + have, t, tl + 1);
            assert_int_equal(zt_sealed_writer_tokens(w, ids, json_array_size(json_object_get(e, "ids")), t, strlen(t),
                                                     &out),
                             0);
        }
        assert_int_equal(zt_sealed_writer_checkpoint(w, ck, ckl, &out), 0);
        finish_job(w, "stop", 2, ih, c.chain, sk, &out);
        zt_sealed_writer_free(w);
        /* read it, in pieces of every size from 1 */
        for (size_t step = 1; step <= out.len; step = step < 8 ? step + 1 : step * 3) {
            struct zt_sealed_reader *rd = NULL;
            assert_int_equal(zt_sealed_reader_new(&h, rsk, wpk, pk, ih, &rd), 0);
            zt_sealed_reader_v2(rd, c.n_tokens - (uint32_t)n_ids, NULL, NULL);
            for (size_t off = 0; off < out.len; off += step)
                assert_int_equal(zt_sealed_reader_feed(rd, (const uint8_t *)out.data + off,
                                                       out.len - off < step ? out.len - off : step, NULL, NULL),
                                 0);
            struct zt_sealed_result res;
            assert_int_equal(zt_sealed_reader_finish(rd, &res), 0);
            assert_memory_equal(res.receipt.output_hash, want_oh, 32);
            assert_int_equal(res.n_ids, n_ids);
            assert_int_equal(res.text_bytes, strlen(want_text));
            assert_int_equal(res.checkpoint_len, ckl);
            assert_int_equal(res.ckpt.n_tokens, c.n_tokens);
            zt_sealed_reader_free(rd);
        }
        /* a count that does not match the stream is refused */
        struct zt_sealed_reader *rd = NULL;
        assert_int_equal(zt_sealed_reader_new(&h, rsk, wpk, pk, ih, &rd), 0);
        zt_sealed_reader_v2(rd, 0, NULL, NULL);
        assert_int_equal(zt_sealed_reader_feed(rd, (const uint8_t *)out.data, out.len, NULL, NULL), ZT_ECRYPTO);
        zt_sealed_reader_free(rd);
        zt_buf_deinit(&out);
    }
}

/* The cadence (section 3): a checkpoint after every 16 ids of a worker's
 * stream. A script is a list of steps: n > 0 a 'T' record of n ids, 0 a
 * checkpoint at the count so far, -1 the FINAL checkpoint, final chunk
 * and receipt (the end). Returns the reader's first error, or 0. */
static int read_script(uint32_t base, const int *steps)
{
    uint8_t sk[64], pk[32], wsk[32], wpk[32], rsk[32];
    crypto_sign_keypair(pk, sk);
    struct zt_env_header h;
    static const uint8_t job_id[16] = {0x17};
    job_header(&h, job_id, wsk, wpk, rsk);
    h.flags = ZT_ENV_FLAG_STREAM;
    uint8_t ih[32] = {2};
    struct zt_checkpoint c;
    memset(&c, 0, sizeof c);
    memcpy(c.job_id, h.job_id, sizeof c.job_id);
    c.build_id_len = (uint8_t)zt_strlcpy(c.build_id, "test", sizeof c.build_id);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    struct zt_sealed_writer *w = NULL;
    assert_int_equal(zt_sealed_writer_new(&h, wsk, true, &out, &w), 0);
    zt_sealed_writer_v2(w);
    uint32_t n = base;
    int32_t ids[64];
    for (const int *st = steps;; st++) {
        if (*st > 0) {
            for (int k = 0; k < *st; k++) ids[k] = (int32_t)(n + (uint32_t)k);
            assert_int_equal(zt_sealed_writer_tokens(w, ids, (size_t)*st, "t", 1, &out), 0);
            n += (uint32_t)*st;
            continue;
        }
        uint8_t ck[ZT_CKPT_MAX_LEN];
        size_t ckl;
        c.flags = (uint8_t)(*st < 0 ? ZT_CKPT_FLAG_FINAL : 0);
        c.n_tokens = n;
        memset(c.chain, (int)n, sizeof c.chain);
        assert_int_equal(zt_checkpoint_sign(&c, sk, ck, sizeof ck, &ckl), 0);
        assert_int_equal(zt_sealed_writer_checkpoint(w, ck, ckl, &out), 0);
        if (*st == 0) continue;
        finish_job(w, "length", n, ih, c.chain, sk, &out);
        break;
    }
    zt_sealed_writer_free(w);
    struct zt_sealed_reader *rd = NULL;
    assert_int_equal(zt_sealed_reader_new(&h, rsk, wpk, pk, ih, &rd), 0);
    zt_sealed_reader_v2(rd, base, NULL, NULL);
    int rc = zt_sealed_reader_feed(rd, (const uint8_t *)out.data, out.len, NULL, NULL);
    struct zt_sealed_result res;
    if (!rc) rc = zt_sealed_reader_finish(rd, &res);
    if (rc) assert_non_null(strstr(zt_sealed_reader_error(rd), "checkpoint is missing"));
    zt_sealed_reader_free(rd);
    zt_buf_deinit(&out);
    return rc;
}

static void test_cadence(void **state)
{
    (void)state;
    /* what the worker writes: one id per record, K after each 16th */
    static const int ok40[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
                               1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, -1};
    assert_int_equal(read_script(0, ok40), 0);
    static const int ok[][6] = {
        {16, -1},          /* the FINAL checkpoint is the 16th id's */
        {16, 0, 16, 0, -1}, /* a job of 32: K at 32, then FINAL at 32 */
        {8, 8, 0, 5, -1},  /* ids grouped in records */
        {-1},              /* no ids at all (a verification answer) */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) assert_int_equal(read_script(0, ok[i]), 0);
    /* a resumed worker counts from the ids it was given: they do not count */
    static const int resumed[] = {16, 0, 3, -1};
    assert_int_equal(read_script(40, resumed), 0);
    /* a checkpoint missing: the 17th id without one, in any grouping */
    static const int bad[][6] = {
        {17, -1},
        {16, 1, -1},
        {16, 0, 16, 1, 0, -1},
        {10, 7, 0, -1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_int_equal(read_script(0, bad[i]), ZT_EPARSE);
    assert_int_equal(read_script(40, bad[0]), ZT_EPARSE);
}

static void test_bodies(void **state)
{
    (void)state;
    json_t *b = json_object_get(V, "bodies");
    struct zt_job_request j;
    const char *why = NULL;
#define DEC(k, mt) zt_job_body_decode((const uint8_t *)str(b, k), strlen(str(b, k)), "stories", (mt), &j, &why)
    assert_int_equal(DEC("v1", 32), 0);
    assert_int_equal(j.version, 1);
    assert_int_equal(j.mode, ZT_JOB_GENERATE);
    zt_job_request_deinit(&j);
    assert_int_equal(DEC("v2", 32), 0);
    assert_int_equal(j.version, 2);
    assert_false(j.has_subject);
    zt_job_request_deinit(&j);
    uint8_t sub[32];
    hex(str(b, "subject"), sub, 32);
    assert_int_equal(DEC("resume", 32), 0);
    assert_int_equal(j.mode, ZT_JOB_RESUME);
    assert_int_equal(j.n_ids, 3);
    assert_int_equal(j.ids[1], 300);
    assert_memory_equal(j.subject, sub, 32);
    zt_job_request_deinit(&j);
    assert_int_equal(DEC("resume", 3), 0); /* all the ids: the job only lost its end */
    zt_job_request_deinit(&j);
    assert_int_equal(DEC("resume", 2), ZT_EPARSE); /* more ids than max_tokens */
    assert_int_equal(DEC("verify", 4), 0);
    assert_int_equal(j.mode, ZT_JOB_VERIFY);
    assert_int_equal(j.n_ids, 4);
    zt_job_request_deinit(&j);
    assert_int_equal(DEC("v3", 32), ZT_EUNSUPPORTED);
#undef DEC
    /* a continuation of a v2 body: the same fields, subject, resume with
     * the ids and a checkpoint (verified under its key) */
    struct zt_checkpoint c;
    uint8_t sk[64], pk[32];
    vector_checkpoint(&c, sk, pk);
    memcpy(c.subject, sub, 32);
    c.n_tokens = 3;
    uint8_t ck[ZT_CKPT_MAX_LEN];
    size_t ckl = 0;
    assert_int_equal(zt_checkpoint_sign(&c, sk, ck, sizeof ck, &ckl), 0);
    const int32_t ids[3] = {17, 300, 2};
    char *body = NULL;
    size_t len = 0;
    const char *v2 = str(b, "v2");
    assert_int_equal(zt_job_body_continue(v2, strlen(v2), ZT_JOB_RESUME, sub, ids, 3, ck, ckl, &body, &len), 0);
    assert_int_equal(zt_job_body_decode((const uint8_t *)body, len, "stories", 32, &j, &why), 0);
    assert_int_equal(j.mode, ZT_JOB_RESUME);
    assert_int_equal(j.n_ids, 3);
    assert_int_equal(j.prev_len, ckl);
    assert_memory_equal(j.prev, ck, ckl);
    assert_non_null(json_object_get(j.request, "messages"));
    zt_job_request_deinit(&j);
    zt_free(body);
    /* a checkpoint that counts more ids than given, or names another subject */
    c.n_tokens = 4;
    assert_int_equal(zt_checkpoint_sign(&c, sk, ck, sizeof ck, &ckl), 0);
    assert_int_equal(zt_job_body_continue(v2, strlen(v2), ZT_JOB_RESUME, sub, ids, 3, ck, ckl, &body, &len), 0);
    assert_int_equal(zt_job_body_decode((const uint8_t *)body, len, "stories", 32, &j, &why), ZT_EPARSE);
    zt_free(body);
    assert_int_equal(zt_job_body_continue(str(b, "v1"), strlen(str(b, "v1")), ZT_JOB_RESUME, sub, ids, 3, NULL, 0,
                                          &body, &len),
                     ZT_EINVAL); /* a v1 body has no continuation */
}

static void test_compare(void **state)
{
    (void)state;
    struct zt_checkpoint c;
    uint8_t sk[64], pk[32], sk2[64], pk2[32];
    vector_checkpoint(&c, sk, pk);
    crypto_sign_keypair(pk2, sk2);
    uint8_t a[ZT_CKPT_MAX_LEN], b[ZT_CKPT_MAX_LEN];
    size_t al = 0, bl = 0;
    enum zt_chain_verdict v;
    const char *why;
    assert_int_equal(zt_checkpoint_sign(&c, sk, a, sizeof a, &al), 0);
    /* the verifier (another key) agrees */
    assert_int_equal(zt_checkpoint_sign(&c, sk2, b, sizeof b, &bl), 0);
    assert_int_equal(zt_job_chain_compare(a, al, pk, b, bl, pk2, &v, &why), 0);
    assert_int_equal(v, ZT_CHAIN_MATCH);
    struct zt_checkpoint d = c;
    d.chain[5] ^= 1;
    assert_int_equal(zt_checkpoint_sign(&d, sk2, b, sizeof b, &bl), 0);
    assert_int_equal(zt_job_chain_compare(a, al, pk, b, bl, pk2, &v, &why), 0);
    assert_int_equal(v, ZT_CHAIN_MISMATCH);
    d = c;
    d.model_sha256[0] ^= 1;
    assert_int_equal(zt_checkpoint_sign(&d, sk2, b, sizeof b, &bl), 0);
    assert_int_equal(zt_job_chain_compare(a, al, pk, b, bl, pk2, &v, &why), 0);
    assert_int_equal(v, ZT_CHAIN_MISMATCH);
    assert_string_equal(why, "the model files differ");
    d = c;
    d.n_tokens++;
    assert_int_equal(zt_checkpoint_sign(&d, sk2, b, sizeof b, &bl), 0);
    assert_int_equal(zt_job_chain_compare(a, al, pk, b, bl, pk2, &v, &why), 0);
    assert_int_equal(v, ZT_CHAIN_MISMATCH);
    d = c;
    d.subject[0] ^= 1;
    assert_int_equal(zt_checkpoint_sign(&d, sk2, b, sizeof b, &bl), 0);
    assert_int_equal(zt_job_chain_compare(a, al, pk, b, bl, pk2, &v, &why), 0);
    assert_int_equal(v, ZT_CHAIN_INCOMPARABLE);
    d = c;
    d.flags = 0;
    assert_int_equal(zt_checkpoint_sign(&d, sk2, b, sizeof b, &bl), 0);
    assert_int_equal(zt_job_chain_compare(a, al, pk, b, bl, pk2, &v, &why), 0);
    assert_int_equal(v, ZT_CHAIN_INCOMPARABLE);
    /* a record under the wrong key does not compare at all */
    assert_int_equal(zt_job_chain_compare(a, al, pk2, b, bl, pk2, &v, &why), ZT_ECRYPTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_draws, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_records, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_cadence, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bodies, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_compare, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
