/* test_runner.c: continuous batching. A job's text and hash chain are the
 * same whether it runs alone or beside others, with or without a reused KV
 * prefix; stop strings, max_tokens, cancel and embeddings behave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_runner.h"
#include "zentalk/zt_tokenizer.h"
#include "zt_test.h"

static char path[1024];

struct result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int err;
    char text[8192];
    size_t len;
    char reason[16];
    uint32_t prompt_tokens, completion_tokens, cached;
    uint8_t hash[32];
    float emb[64];
    uint32_t n_embd;
    char engine[160]; /* DONE's build id */
};

static void on_event(void *ud, const struct zt_job_event *ev)
{
    struct result *r = ud;
    pthread_mutex_lock(&r->mu);
    switch (ev->kind) {
    case ZT_JOB_TEXT:
        if (r->len + ev->len < sizeof r->text) {
            memcpy(r->text + r->len, ev->text, ev->len);
            r->len += ev->len;
            r->text[r->len] = '\0';
        }
        break;
    case ZT_JOB_DONE:
        snprintf(r->reason, sizeof r->reason, "%s", ev->finish_reason);
        r->prompt_tokens = ev->prompt_tokens;
        r->completion_tokens = ev->completion_tokens;
        r->cached = ev->cached_tokens;
        memcpy(r->hash, ev->hash, 32);
        snprintf(r->engine, sizeof r->engine, "%s", ev->engine ? ev->engine : "(none)");
        r->done = true;
        break;
    case ZT_JOB_EMBEDDING:
        r->n_embd = ev->n_embd;
        memcpy(r->emb, ev->embedding, ev->n_embd * sizeof(float));
        r->done = true;
        break;
    case ZT_JOB_ERROR:
        r->err = ev->err;
        r->done = true;
        break;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void res_init(struct result *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void res_wait(struct result *r)
{
    pthread_mutex_lock(&r->mu);
    while (!r->done) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static struct zt_runner *mk_runner_kv(unsigned slots, enum zt_ggml_type kv)
{
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    struct zt_model *m = NULL;
    assert_int_equal(zt_model_load(path, &m, &err), 0);
    zt_buf_deinit(&err);
    assert_int_equal(zt_model_set_kv_type(m, kv), 0);
    struct zt_runner_opts o = {.n_slots = slots, .n_ctx = 256, .n_threads = 2, .max_queue = 16};
    struct zt_runner *r = NULL;
    assert_int_equal(zt_runner_new(m, &o, &r), 0);
    return r;
}

static struct zt_runner *mk_runner(unsigned slots)
{
    return mk_runner_kv(slots, ZT_GGML_F32);
}

static size_t encode(struct zt_runner *r, const char *text, int32_t *out, size_t cap)
{
    size_t n = 0;
    assert_int_equal(zt_tok_encode(zt_model_tokenizer(zt_runner_model(r)), text, strlen(text), true, false, out,
                                   cap, &n),
                     0);
    return n;
}

static void params(struct zt_job_params *p, uint64_t seed, uint32_t max_tokens)
{
    memset(p, 0, sizeof *p);
    zt_sampler_params_default(&p->sampler);
    p->sampler.seed = seed;
    p->max_tokens = max_tokens;
}

/* First line of every test (cmocka 1.1 reports a skip inside a zt_test_leak_setup
 * function as an error, so the check is in the test). */
#define NEED_MODEL()                                                                         \
    do {                                                                                     \
        if (!path[0]) zt_skip("test model stories260K.gguf not found (tests/models)");       \
    } while (0)

static const char *prompts[3] = {"Once upon a time", "The little dog", "Lily and Ben went to the park"};

static void test_alone_equals_together(void **state)
{
    (void)state;
    NEED_MODEL();
    struct result alone[3], together[3];
    struct zt_job_params p;
    int32_t toks[64];
    uint64_t id;
    /* each job alone, on a fresh runner */
    for (int i = 0; i < 3; i++) {
        struct zt_runner *r = mk_runner(1);
        size_t n = encode(r, prompts[i], toks, 64);
        params(&p, (uint64_t)(100 + i), 40);
        res_init(&alone[i]);
        assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &alone[i], &id), 0);
        res_wait(&alone[i]);
        assert_int_equal(alone[i].err, 0);
        zt_runner_free(r);
    }
    /* the three at once, sharing batches (started a little apart) */
    struct zt_runner *r = mk_runner(3);
    for (int i = 0; i < 3; i++) {
        size_t n = encode(r, prompts[i], toks, 64);
        params(&p, (uint64_t)(100 + i), 40);
        res_init(&together[i]);
        assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &together[i], &id), 0);
        usleep(2000);
    }
    for (int i = 0; i < 3; i++) {
        res_wait(&together[i]);
        assert_int_equal(together[i].err, 0);
        assert_string_equal(alone[i].text, together[i].text);
        assert_memory_equal(alone[i].hash, together[i].hash, 32);
        assert_int_equal(alone[i].completion_tokens, together[i].completion_tokens);
        assert_true(strcmp(together[i].reason, "length") == 0 || strcmp(together[i].reason, "stop") == 0);
    }
    printf("sample: \"%s%s\"\n", prompts[0], together[0].text);

    /* the same prompt again reuses the slot's KV prefix and gives the same result */
    struct result again;
    res_init(&again);
    size_t n = encode(r, prompts[1], toks, 64);
    params(&p, 101, 40);
    assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &again, &id), 0);
    res_wait(&again);
    assert_true(again.cached > 0);
    assert_string_equal(again.text, alone[1].text);
    assert_memory_equal(again.hash, alone[1].hash, 32);

    struct zt_runner_stats st;
    zt_runner_stats(r, &st);
    assert_int_equal(st.jobs_done, 4);
    assert_true(st.generated_tokens > 0);
    zt_runner_free(r);
}

static void test_stop_and_length(void **state)
{
    (void)state;
    NEED_MODEL();
    struct zt_runner *r = mk_runner(2);
    int32_t toks[64];
    size_t n = encode(r, prompts[0], toks, 64);
    struct zt_job_params p;
    uint64_t id;
    struct result full, stopped, len;
    params(&p, 5, 60);
    p.sampler.temperature = 0.0f;
    res_init(&full);
    assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &full, &id), 0);
    res_wait(&full);
    assert_true(full.len > 10);
    /* stop at the first occurrence of a word that appears in the output */
    char stop[8];
    const char *sp = strchr(full.text + 3, ' ');
    assert_non_null(sp);
    snprintf(stop, sizeof stop, "%.3s", sp);
    const char *first = strstr(full.text, stop);
    p.stop[0] = stop;
    p.n_stop = 1;
    res_init(&stopped);
    assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &stopped, &id), 0);
    res_wait(&stopped);
    assert_string_equal(stopped.reason, "stop");
    assert_int_equal(stopped.len, (size_t)(first - full.text));
    assert_memory_equal(stopped.text, full.text, stopped.len);

    p.n_stop = 0;
    p.max_tokens = 3;
    res_init(&len);
    assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &len, &id), 0);
    res_wait(&len);
    assert_string_equal(len.reason, "length");
    assert_int_equal(len.completion_tokens, 3);

    /* bad submissions */
    int32_t bad = 100000;
    assert_int_equal(zt_runner_submit(r, &bad, 1, &p, on_event, &len, &id), ZT_EINVAL);
    assert_int_equal(zt_runner_submit(r, toks, 0, &p, on_event, &len, &id), ZT_EINVAL);
    int32_t *huge = calloc(300, sizeof *huge);
    assert_int_equal(zt_runner_submit(r, huge, 300, &p, on_event, &len, &id), ZT_ERANGE);
    free(huge);
    p.sampler.temperature = -1.0f;
    assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &len, &id), ZT_EINVAL);
    zt_runner_free(r);
}

static void test_cancel_and_embed(void **state)
{
    (void)state;
    NEED_MODEL();
    struct zt_runner *r = mk_runner(1);
    int32_t toks[64];
    size_t n = encode(r, prompts[2], toks, 64);
    struct zt_job_params p;
    params(&p, 9, 0); /* until the context is full */
    p.sampler.temperature = 1.0f;
    p.ignore_eos = true;
    struct result a, b, e;
    uint64_t ida, idb, ide;
    res_init(&a);
    res_init(&b);
    assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &a, &ida), 0);
    assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &b, &idb), 0); /* queued */
    usleep(20000);
    zt_runner_cancel(r, idb); /* from the queue */
    zt_runner_cancel(r, ida); /* from its slot */
    size_t la = a.len;
    usleep(20000);
    assert_int_equal(a.len, la); /* no callback after cancel */
    assert_false(b.done);
    zt_runner_cancel(r, 12345); /* unknown: ignored */

    res_init(&e);
    assert_int_equal(zt_runner_embed(r, toks, n, on_event, &e, &ide), 0);
    res_wait(&e);
    assert_int_equal(e.err, 0);
    assert_int_equal(e.n_embd, 64);
    double norm = 0;
    for (int i = 0; i < 64; i++) norm += (double)e.emb[i] * e.emb[i];
    assert_true(fabs(norm - 1.0) < 1e-4);

    /* a job still running when the runner stops ends with ZT_ECLOSED */
    struct result c;
    uint64_t idc;
    res_init(&c);
    assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &c, &idc), 0);
    usleep(5000);
    zt_runner_free(r);
    assert_true(c.done);
    assert_int_equal(c.err, ZT_ECLOSED);
}

/* A token that decodes to no text (token 1, <s>, forced by logit_bias)
 * must not reach memmove with a NULL buffer (issue 17 item 4: the
 * sanitizer build aborted on "logit_bias":{"1":100}). */
static void test_empty_token_text(void **state)
{
    (void)state;
    struct zt_runner *r = mk_runner(1);
    int32_t toks[64];
    size_t n = encode(r, prompts[0], toks, 64);
    struct zt_job_params p;
    uint64_t id;
    struct result res;
    params(&p, 9, 4);
    p.sampler.temperature = 0.0f;
    struct zt_logit_bias lb = {.token = 1, .bias = 100.0f};
    p.sampler.logit_bias = &lb;
    p.sampler.n_logit_bias = 1;
    const char *stop = "zz";
    p.stop[0] = stop; /* the hold-back path runs too */
    p.n_stop = 1;
    res_init(&res);
    assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &res, &id), 0);
    res_wait(&res);
    assert_int_equal(res.err, 0);
    assert_int_equal(res.len, 0);
    assert_true(res.completion_tokens >= 1);
    zt_runner_free(r);
}

/* The KV cache type is in the build id a job reports (what receipts and
 * checkpoints sign) and in the job's parameters: a job that needs another
 * type than the runner's is refused, not run with other bits. */
static void test_kv_in_build_id(void **state)
{
    (void)state;
    NEED_MODEL();
    int32_t toks[64];
    for (int f16 = 0; f16 < 2; f16++) {
        struct zt_runner *r = mk_runner_kv(1, f16 ? ZT_GGML_F16 : ZT_GGML_F32);
        size_t n = encode(r, prompts[1], toks, 64);
        struct zt_job_params p;
        uint64_t id;
        params(&p, 3, 4);
        p.kv = f16 ? ZT_JOB_KV_F32 : ZT_JOB_KV_F16;
        struct result res;
        assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &res, &id), ZT_EUNSUPPORTED);
        p.kv = (enum zt_job_kv)7;
        assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &res, &id), ZT_EINVAL);
        for (int k = 0; k < 2; k++) {
            p.kv = k == 0 ? ZT_JOB_KV_ANY : f16 ? ZT_JOB_KV_F16 : ZT_JOB_KV_F32;
            res_init(&res);
            assert_int_equal(zt_runner_submit(r, toks, n, &p, on_event, &res, &id), 0);
            res_wait(&res);
            assert_int_equal(res.err, 0);
            assert_string_equal(res.engine, zt_engine_build_id_kv(f16 ? ZT_GGML_F16 : ZT_GGML_F32));
            assert_true((strstr(res.engine, "+kv-f16") != NULL) == (f16 == 1));
        }
        zt_runner_free(r);
    }
}

int main(void)
{
    if (!zt_test_model("stories260K.gguf", path, sizeof path)) path[0] = '\0';
    if (zt_hash_init() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alone_equals_together, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_length, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_embed, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_empty_token_text, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_kv_in_build_id, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests_name("runner", tests, NULL, NULL));
}
