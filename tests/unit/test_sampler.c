/* test_sampler.c: deterministic sampling and the verification hash chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_sampler.h"
#include "zt_test.h"

static int setup(void **state)
{
    (void)state;
    zt_test_leak_mark();
    return zt_hash_init();
}

#define V 16

static struct zt_sampler *mk(const struct zt_sampler_params *p)
{
    struct zt_sampler *s = NULL;
    assert_int_equal(zt_sampler_new(p, V, &s), 0);
    return s;
}

static void fill(float *l)
{
    static const float base[V] = {1.0f, 3.0f, 2.5f, -1.0f, 0.5f, 3.0f, 0.0f, -2.0f,
                                  1.5f, 2.0f, -0.5f, 0.25f, 1.25f, -3.0f, 2.75f, 0.75f};
    memcpy(l, base, sizeof base);
}

static void test_greedy_and_ties(void **state)
{
    (void)state;
    struct zt_sampler_params p;
    zt_sampler_params_default(&p);
    p.temperature = 0.0f;
    struct zt_sampler *s = mk(&p);
    float l[V];
    fill(l);
    assert_int_equal(zt_sampler_sample(s, l), 1); /* 1 and 5 tie at 3.0: lowest id */
    zt_sampler_free(s);

    p.temperature = 1.0f;
    p.top_k = 1;
    s = mk(&p);
    fill(l);
    assert_int_equal(zt_sampler_sample(s, l), 1);
    zt_sampler_free(s);
}

static void test_distribution_matches_softmax(void **state)
{
    (void)state;
    struct zt_sampler_params p;
    zt_sampler_params_default(&p);
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 42;
    struct zt_sampler *s = mk(&p);
    unsigned counts[V] = {0};
    const int N = 40000;
    float l[V];
    for (int i = 0; i < N; i++) {
        fill(l);
        int32_t t = zt_sampler_sample(s, l);
        assert_true(t >= 0 && t < V);
        counts[t]++;
        assert_int_equal(zt_sampler_accept(s, t, l), 0); /* the next draw is the next position's */
    }
    fill(l);
    double z = 0, pr[V];
    for (int t = 0; t < V; t++) z += exp(l[t]);
    for (int t = 0; t < V; t++) {
        pr[t] = exp(l[t]) / z;
        double expect = pr[t] * N, sd = sqrt(N * pr[t] * (1 - pr[t]));
        assert_true(fabs(counts[t] - expect) < 5 * sd + 3);
    }
    zt_sampler_free(s);
}

static void test_seed_reproducible(void **state)
{
    (void)state;
    struct zt_sampler_params p;
    zt_sampler_params_default(&p);
    p.seed = 7;
    int32_t a[50], b[50], c[50];
    float l[V];
    struct zt_sampler *s1 = mk(&p), *s2 = mk(&p);
    p.seed = 8;
    struct zt_sampler *s3 = mk(&p);
    for (int i = 0; i < 50; i++) {
        fill(l);
        a[i] = zt_sampler_sample(s1, l);
        assert_int_equal(zt_sampler_accept(s1, a[i], l), 0);
        fill(l);
        b[i] = zt_sampler_sample(s2, l);
        assert_int_equal(zt_sampler_accept(s2, b[i], l), 0);
        fill(l);
        c[i] = zt_sampler_sample(s3, l);
        assert_int_equal(zt_sampler_accept(s3, c[i], l), 0);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_true(memcmp(a, c, sizeof a) != 0);
    zt_sampler_free(s1), zt_sampler_free(s2), zt_sampler_free(s3);
}

/* The draw at generated position N depends only on (seed, N): a sampler
 * that was given the first N tokens (a resumed or verifying worker, which
 * never sampled them) draws token N as the one that sampled all of them. */
static void test_state_reconstructible(void **state)
{
    (void)state;
    struct zt_sampler_params p;
    zt_sampler_params_default(&p);
    p.seed = 1234;
    p.repeat_penalty = 1.1f;
    p.frequency_penalty = 0.2f;
    float l[V];
    for (int n = 0; n < 40; n += 7) {
        struct zt_sampler *full = mk(&p), *resumed = mk(&p);
        int32_t ids[48];
        for (int i = 0; i < n; i++) {
            fill(l);
            ids[i] = zt_sampler_sample(full, l);
            fill(l);
            assert_int_equal(zt_sampler_accept(full, ids[i], l), 0);
        }
        for (int i = 0; i < n; i++) {
            fill(l);
            assert_int_equal(zt_sampler_accept(resumed, ids[i], l), 0);
        }
        for (int i = 0; i < 8; i++) {
            float l2[V];
            fill(l);
            fill(l2);
            int32_t a = zt_sampler_sample(full, l), b = zt_sampler_sample(resumed, l2);
            assert_int_equal(a, b);
            fill(l);
            assert_int_equal(zt_sampler_accept(full, a, l), 0);
            assert_int_equal(zt_sampler_accept(resumed, b, l), 0);
        }
        uint8_t h1[32], h2[32];
        zt_sampler_hash(full, h1);
        zt_sampler_hash(resumed, h2);
        assert_memory_equal(h1, h2, 32);
        zt_sampler_free(full), zt_sampler_free(resumed);
    }
}

static void test_filters(void **state)
{
    (void)state;
    struct zt_sampler_params p;
    zt_sampler_params_default(&p);
    p.temperature = 1.0f;
    p.top_k = 0;
    p.min_p = 0.0f;
    p.top_p = 0.01f; /* only the best token survives */
    struct zt_sampler *s = mk(&p);
    float l[V];
    for (int i = 0; i < 100; i++) {
        fill(l);
        assert_int_equal(zt_sampler_sample(s, l), 1);
    }
    zt_sampler_free(s);

    p.top_p = 1.0f;
    p.min_p = 0.9f; /* tokens within ln(0.9) of the max: ids 1 and 5 */
    s = mk(&p);
    for (int i = 0; i < 200; i++) {
        fill(l);
        int32_t t = zt_sampler_sample(s, l);
        assert_true(t == 1 || t == 5);
    }
    zt_sampler_free(s);

    p.min_p = 0.0f;
    p.top_k = 3; /* 1, 5 (3.0) and 14 (2.75) */
    s = mk(&p);
    for (int i = 0; i < 200; i++) {
        fill(l);
        int32_t t = zt_sampler_sample(s, l);
        assert_true(t == 1 || t == 5 || t == 14);
    }
    zt_sampler_free(s);
}

static void test_bias_and_penalties(void **state)
{
    (void)state;
    struct zt_sampler_params p;
    zt_sampler_params_default(&p);
    p.temperature = 0.0f;
    struct zt_logit_bias bias[] = {{1, -INFINITY}, {5, -INFINITY}, {3, 10.0f}};
    p.logit_bias = bias;
    p.n_logit_bias = 3;
    struct zt_sampler *s = mk(&p);
    float l[V];
    fill(l);
    assert_int_equal(zt_sampler_sample(s, l), 3);
    zt_sampler_free(s);

    /* everything banned */
    struct zt_logit_bias all[V];
    for (int i = 0; i < V; i++) all[i] = (struct zt_logit_bias){i, -INFINITY};
    p.logit_bias = all;
    p.n_logit_bias = V;
    s = mk(&p);
    fill(l);
    assert_int_equal(zt_sampler_sample(s, l), ZT_EINVAL);
    zt_sampler_free(s);

    /* presence penalty moves greedy off a token already used */
    p.logit_bias = NULL;
    p.n_logit_bias = 0;
    p.presence_penalty = 1.0f;
    s = mk(&p);
    fill(l);
    assert_int_equal(zt_sampler_sample(s, l), 1);
    assert_int_equal(zt_sampler_accept(s, 1, NULL), 0);
    fill(l);
    assert_int_equal(zt_sampler_sample(s, l), 5);
    assert_int_equal(zt_sampler_accept(s, 5, NULL), 0);
    fill(l);
    assert_int_equal(zt_sampler_sample(s, l), 14);
    zt_sampler_free(s);

    /* repetition penalty divides positive logits once per distinct token */
    p.presence_penalty = 0.0f;
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 4;
    s = mk(&p);
    for (int i = 0; i < 3; i++) assert_int_equal(zt_sampler_accept(s, 1, NULL), 0);
    fill(l);
    assert_int_equal(zt_sampler_sample(s, l), 5);
    assert_true(l[1] == 1.5f);
    zt_sampler_free(s);

    /* NaN logits are refused */
    p.repeat_penalty = 1.0f;
    s = mk(&p);
    fill(l);
    l[4] = NAN;
    assert_int_equal(zt_sampler_sample(s, l), ZT_EINVAL);
    assert_int_equal(zt_sampler_accept(s, V, NULL), ZT_EINVAL);
    zt_sampler_free(s);
}

static void test_invalid_params(void **state)
{
    (void)state;
    struct zt_sampler_params p;
    struct zt_sampler *s = NULL;
    zt_sampler_params_default(&p);
    p.temperature = -1.0f;
    assert_int_equal(zt_sampler_new(&p, V, &s), ZT_EINVAL);
    zt_sampler_params_default(&p);
    p.top_p = 0.0f;
    assert_int_equal(zt_sampler_new(&p, V, &s), ZT_EINVAL);
    zt_sampler_params_default(&p);
    struct zt_logit_bias b = {V, 1.0f};
    p.logit_bias = &b;
    p.n_logit_bias = 1;
    assert_int_equal(zt_sampler_new(&p, V, &s), ZT_EINVAL);
    zt_sampler_params_default(&p);
    p.temperature = NAN;
    assert_int_equal(zt_sampler_new(&p, V, &s), ZT_EINVAL);
    zt_sampler_params_default(&p);
    assert_int_equal(zt_sampler_new(&p, 0, &s), ZT_EINVAL);
    assert_null(s);
    for (int64_t n = 1; n < 8; n++) { /* allocation failures: clean error */
        zt_sampler_params_default(&p);
        zt_alloc_fail_after(n);
        int rc = zt_sampler_new(&p, V, &s);
        zt_alloc_fail_after(0);
        if (rc == 0) zt_sampler_free(s);
        else assert_int_equal(rc, ZT_ENOMEM);
    }
}

static void test_hash_chain(void **state)
{
    (void)state;
    struct zt_sampler_params p;
    zt_sampler_params_default(&p);
    uint8_t h1[32], h2[32], h3[32];
    float l[V];
    fill(l);
    struct zt_sampler *a = mk(&p), *b = mk(&p);
    zt_sampler_hash(a, h1);
    zt_sampler_hash(b, h2);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(zt_sampler_accept(a, 3, l), 0);
    assert_int_equal(zt_sampler_accept(b, 3, l), 0);
    zt_sampler_hash(a, h1);
    zt_sampler_hash(b, h2);
    assert_memory_equal(h1, h2, 32);
    /* a different token, or one different logit bit in the top 8, changes it */
    l[1] = nextafterf(l[1], 10.0f);
    assert_int_equal(zt_sampler_accept(b, 4, l), 0);
    assert_int_equal(zt_sampler_accept(a, 4, NULL), 0);
    zt_sampler_hash(a, h1);
    zt_sampler_hash(b, h2);
    assert_true(memcmp(h1, h2, 32) != 0);
    assert_int_equal(zt_sampler_n_accepted(a), 2);
    zt_sampler_free(a), zt_sampler_free(b);
    /* parameters are bound into h0 */
    p.seed = 99;
    a = mk(&p);
    zt_sampler_hash(a, h3);
    p.seed = 0;
    b = mk(&p);
    zt_sampler_hash(b, h2);
    assert_true(memcmp(h3, h2, 32) != 0);
    zt_sampler_free(a), zt_sampler_free(b);
}

/* ---- the vocabulary scans against plain loops ------------------------------
 * The sampler skips blocks of logits that cannot change its result; these
 * check it against the plain definitions on vocabularies of several blocks
 * and a partial last one, with ties, signed zeros, infinities and NaN. */

#define BIG_V 1003 /* 62 blocks of 16 and 11 more */

struct ref_cand {
    int32_t id;
    float v;
};

/* value descending, then id ascending (NaN: by id, as the sampler) */
static int ref_cmp(const void *a, const void *b)
{
    const struct ref_cand *x = a, *y = b;
    if (x->v > y->v) return -1;
    if (x->v < y->v) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % n;
}

/* Logits of one kind: 0 coarse values (many ties), 1 ascending (every one
 * enters a top list), 2 descending, 3 fine values with -0/+0, -inf and
 * +inf; with_nan puts a NaN somewhere. */
static void big_logits(float *l, int kind, bool with_nan)
{
    for (uint32_t t = 0; t < BIG_V; t++) {
        switch (kind) {
        case 0: l[t] = (float)((int)rnd(33) - 16) * 0.25f; break;
        case 1: l[t] = (float)t * 0.01f - 3.0f; break;
        case 2: l[t] = 7.0f - (float)t * 0.01f; break;
        default: {
            uint32_t r = rnd(100);
            l[t] = r < 5 ? -INFINITY : r < 10 ? -0.0f : r < 15 ? 0.0f : r == 15 ? INFINITY
                                                        : (float)((int)rnd(20001) - 10000) * 1e-3f;
        }
        }
    }
    if (with_nan) l[rnd(BIG_V)] = NAN;
}

/* The chain link of the spec (zt_sampler.h): h || token || top 8, the top
 * 8 kept as the plain loop keeps them: each logit in id order enters a
 * sorted list of 8 when it orders before the list's last (with NaN the
 * order is not total, so the loop is the definition). */
static void ref_link(uint8_t h[32], int32_t token, const float *l)
{
    struct ref_cand top[ZT_SAMPLER_HASH_TOPK];
    int k = 0;
    for (uint32_t t = 0; t < BIG_V; t++) {
        struct ref_cand x = {(int32_t)t, l[t]};
        if (k == ZT_SAMPLER_HASH_TOPK && ref_cmp(&x, &top[k - 1]) >= 0) continue;
        int i = k < ZT_SAMPLER_HASH_TOPK ? k++ : k - 1;
        for (; i > 0 && ref_cmp(&x, &top[i - 1]) < 0; i--) top[i] = top[i - 1];
        top[i] = x;
    }
    uint8_t link[32 + 4 + ZT_SAMPLER_HASH_TOPK * 8];
    memcpy(link, h, 32);
    zt_put_le32(link + 32, (uint32_t)token);
    for (int i = 0; i < ZT_SAMPLER_HASH_TOPK; i++) {
        uint32_t bits;
        memcpy(&bits, &top[i].v, sizeof bits);
        zt_put_le32(link + 36 + 8 * i, (uint32_t)top[i].id);
        zt_put_le32(link + 40 + 8 * i, bits);
    }
    assert_int_equal(zt_blake2b(h, 32, link, sizeof link, NULL, 0), 0);
}

static void test_scans_match_plain(void **state)
{
    (void)state;
    rng_state = 42;
    float *l = zt_malloc(BIG_V * sizeof *l), *m = zt_malloc(BIG_V * sizeof *m), *la = zt_malloc(BIG_V * sizeof *la);
    struct ref_cand *c = zt_malloc(BIG_V * sizeof *c);
    assert_true(l && m && la && c);
    struct zt_sampler_params p;
    zt_sampler_params_default(&p);
    p.temperature = 0.0f;
    struct zt_sampler *g = NULL;
    assert_int_equal(zt_sampler_new(&p, BIG_V, &g), 0);
    assert_true(zt_sampler_keeps_logits(g));
    uint8_t ref[32], got[32];
    zt_sampler_hash(g, ref);
    for (int round = 0; round < 64; round++) {
        int kind = round % 4;
        bool nan = round % 8 == 7;
        big_logits(l, kind, nan);
        memcpy(m, l, BIG_V * sizeof *m);
        /* greedy: the first id of the greatest value but -inf; NaN refused */
        int32_t want = -1;
        for (uint32_t t = 0; t < BIG_V; t++)
            if (l[t] != -INFINITY && (want < 0 || l[t] > l[want])) want = (int32_t)t;
        int32_t pick = zt_sampler_sample(g, m);
        assert_int_equal(pick, nan ? ZT_EINVAL : want);
        assert_memory_equal(m, l, BIG_V * sizeof *m); /* kept, as promised */
        /* the chain's top 8, NaN included */
        int32_t tok = (int32_t)rnd(BIG_V);
        assert_int_equal(zt_sampler_accept(g, tok, l), 0);
        ref_link(ref, tok, l);
        zt_sampler_hash(g, got);
        assert_memory_equal(got, ref, 32);
    }
    zt_sampler_free(g);

    /* top_k selected, against the same candidates sorted: the logits
     * outside the top k set to -inf and top_k off */
    const int32_t ks[] = {1, 8, 40, 256};
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        struct zt_sampler *a = NULL, *b = NULL;
        p.temperature = 0.9f;
        p.seed = 7 + ki;
        p.top_k = ks[ki];
        assert_int_equal(zt_sampler_new(&p, BIG_V, &a), 0);
        p.top_k = 0;
        assert_int_equal(zt_sampler_new(&p, BIG_V, &b), 0);
        for (int round = 0; round < 40; round++) {
            big_logits(l, round % 4, false);
            size_t n = 0;
            for (uint32_t t = 0; t < BIG_V; t++)
                if (l[t] != -INFINITY) c[n++] = (struct ref_cand){(int32_t)t, l[t]};
            qsort(c, n, sizeof *c, ref_cmp);
            for (uint32_t t = 0; t < BIG_V; t++) m[t] = -INFINITY;
            for (size_t i = 0; i < n && i < (size_t)ks[ki]; i++) m[c[i].id] = c[i].v;
            memcpy(la, l, BIG_V * sizeof *la);
            int32_t x = zt_sampler_sample(a, la), y = zt_sampler_sample(b, m);
            assert_true(x >= 0);
            assert_int_equal(x, y);
            assert_int_equal(zt_sampler_accept(a, x, l), 0);
            assert_int_equal(zt_sampler_accept(b, y, l), 0);
        }
        zt_sampler_free(a);
        zt_sampler_free(b);
    }
    zt_free(c);
    zt_free(la);
    zt_free(m);
    zt_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_greedy_and_ties, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_distribution_matches_softmax, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_seed_reproducible, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_state_reconstructible, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bias_and_penalties, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_params, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_hash_chain, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_scans_match_plain, setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests_name("sampler", tests, NULL, NULL));
}
