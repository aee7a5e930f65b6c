/* test_sampler.c: deterministic sampling and the verification hash chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_sampler.h"
#include "zt_test.h"

static int64_t live_at_start;

static int setup(void **state)
{
    (void)state;
    live_at_start = zt_alloc_live();
    return zt_hash_init();
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(zt_alloc_live(), live_at_start);
    return 0;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_greedy_and_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_distribution_matches_softmax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_reproducible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_reconstructible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bias_and_penalties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_chain, setup, teardown),
    };
    return zt_test_exit(cmocka_run_group_tests_name("sampler", tests, NULL, NULL));
}
