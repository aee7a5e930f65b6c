/* test_backend_ops.c: every op of every compiled-in compute backend against
 * the CPU backend on random inputs, op by op (as ggml's test-backend-ops),
 * plus the CPU backend itself through the seam against the kernels of
 * zt_quant.h called directly and against the canonical-order scalar specs
 * written below (docs/internals/backend.md).
 *
 * For each registered backend B (the CPU included: then it is a second CPU
 * instance, run with other thread counts), in its fast and its exact mode
 * when it has both, each op runs on B and on a reference CPU instance with
 * the same inputs. An instance that says `exact` must give the same bits;
 * any other is held to a relative
 * error bound per op and type, and the table of errors is printed (the GPU
 * issue's op-by-op error table). A backend whose device is missing on this
 * machine is reported and passed over. The last test runs generated models
 * end to end on every backend. With ZT_OPS_BACKEND=NAME (ctest's
 * test_cuda_ops) only that backend runs, and a build or machine without it
 * skips every test with the reason instead of passing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/engine/backend.h"
#include "../../src/engine/zt_math.h"
#include "genmodel.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_quant.h"

/* The specs below must round like the engine (-ffp-contract=off): gcc does
 * not contract in ISO C mode; clang is told here. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- random inputs -------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    return zt_splitmix64(&rng_state);
}

/* uniform in [-scale, scale) */
static float rng_f(float scale) { return ((float)(rng_next() >> 40) / 16777216.0f * 2.0f - 1.0f) * scale; }

static float *rand_f32(size_t n, float scale)
{
    float *p = malloc(n * sizeof(float) + 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = rng_f(scale);
    return p;
}

/* rows x n weights of type t (quantised from random floats), row bytes in *rb */
static uint8_t *rand_weights(enum zt_ggml_type t, size_t n, size_t rows, size_t *rb)
{
    assert_int_equal(zt_quant_row_bytes(t, n, rb), 0);
    uint8_t *w = malloc(*rb * rows + 1);
    assert_non_null(w);
    float *row = rand_f32(n, 1.0f);
    for (size_t r = 0; r < rows; r++) {
        for (size_t i = 0; i < n; i++) row[i] = rng_f(1.0f);
        assert_int_equal(zt_quant_row(t, row, w + r * *rb, n), 0);
    }
    free(row);
    return w;
}

/* ---- the two sides of a comparison ------------------------------------------ */

/* The backend under test and the reference CPU, with the buffers a case
 * made on each (freed by side_reset). */
struct side {
    struct zt__backend *be;
    struct zt__buffer *bufs[32];
    bool mapped[32];
    size_t n;
};

static void side_reset(struct side *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->mapped[i]) s->be->ops->buffer_unmap(s->be, s->bufs[i]);
        else s->be->ops->buffer_free(s->be, s->bufs[i]);
    }
    s->n = 0;
}

/* A buffer holding `bytes` of host data: mapped (weights: the host copy must
 * outlive it) or allocated and uploaded (activations). */
static struct zt__buffer *side_put(struct side *s, const void *host, size_t bytes, bool map)
{
    assert_true(s->n < 32);
    struct zt__buffer *b = NULL;
    if (map) {
        assert_int_equal(s->be->ops->buffer_map(s->be, host, bytes, &b), 0);
    } else {
        assert_int_equal(s->be->ops->buffer_alloc(s->be, bytes, &b), 0);
        if (host) assert_int_equal(s->be->ops->buffer_set(s->be, b, 0, host, bytes), 0);
    }
    s->bufs[s->n] = b;
    s->mapped[s->n++] = map;
    return b;
}

static float *side_get(struct side *s, const struct zt__buffer *b, size_t bytes)
{
    float *p = malloc(bytes + 1);
    assert_non_null(p);
    assert_int_equal(s->be->ops->buffer_get(s->be, b, 0, p, bytes), 0);
    return p;
}

/* Relative error bounds for backends that are not exact (per op; matmul of
 * quantised types is looser: activations are rounded to 8 bits on both
 * sides, and a device may sum blocks in another order). */
static double tolerance(const char *op, enum zt_ggml_type t)
{
    if (!strcmp(op, "matmul") && t != ZT_GGML_F32) return 1e-2;
    /* a whole model with quantised weights: one activation code rounded the
     * other way moves the logits by a step of 8-bit quantisation */
    if (!strcmp(op, "model") && t != ZT_GGML_F32 && t != ZT_GGML_F16 && t != ZT_GGML_BF16) return 2e-2;
    return 1e-4;
}

/* got against want over n floats: the same bits when `exact`, else within
 * tolerance relative to the largest |want|. Prints one line of the table. */
static void compare(const char *backend, bool exact, const char *op, const char *what, enum zt_ggml_type t,
                    const float *want, const float *got, size_t n)
{
    double max_abs = 0, max_ref = 0;
    size_t first_diff = n;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)want[i] - (double)got[i]);
        if (d > max_abs || isnan(d)) max_abs = isnan(d) ? INFINITY : d;
        if (fabs((double)want[i]) > max_ref) max_ref = fabs((double)want[i]);
        if (first_diff == n && memcmp(&want[i], &got[i], sizeof(float)) != 0) first_diff = i;
    }
    double rel = max_ref > 0 ? max_abs / max_ref : max_abs;
    if (!exact) printf("  %-8s %-10s %-28s %-5s max abs %.3g, rel %.3g\n", backend, op, what,
                       zt_ggml_type_name(t), max_abs, rel);
    if (exact && first_diff != n) {
        fprintf(stderr, "%s %s %s %s: element %zu is %.9g, reference %.9g\n", backend, op, what,
                zt_ggml_type_name(t), first_diff, (double)got[first_diff], (double)want[first_diff]);
        fail();
    }
    if (!exact && !(rel <= tolerance(op, t))) {
        fprintf(stderr, "%s %s %s: relative error %.3g over %.3g\n", backend, op, what, rel, tolerance(op, t));
        fail();
    }
}

static void same_bits(const char *what, const float *want, const float *got, size_t n)
{
    compare("cpu", true, "spec", what, ZT_GGML_F32, want, got, n);
}

/* body(test, ref, exact, name) runs one op's cases on both sides. */
typedef void (*case_fn)(struct side *t, struct side *r, bool exact, const char *name);

/* One backend in one mode against a fresh CPU reference, with the backend
 * at 1 and at 3 threads. */
static void run_case(struct zt__backend *be, const char *name, case_fn body)
{
    struct zt__backend_params p = {.n_threads = 1};
    struct side t = {.be = be}, r = {0};
    assert_int_equal(zt__backend_new("cpu", &p, &r.be), 0);
    unsigned threads[] = {1, 3};
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(be->ops->set_threads(be, threads[k]), 0);
        body(&t, &r, be->exact, name);
        side_reset(&t);
        side_reset(&r);
    }
    zt__backend_free(r.be);
}

/* Device backends run in the normal build only: Mesa's own allocations
 * (lavapipe) upset LeakSanitizer, so the sanitizer build passes them over
 * with a printed reason (ZT_TEST_ASAN, zt_test.h). */
static bool passed_over(const struct zt__backend_reg *reg)
{
#ifdef ZT_TEST_ASAN
    if (strcmp(reg->name, "cpu") != 0) {
        printf("backend %s: not tested under AddressSanitizer (the driver's allocations upset LeakSanitizer)\n",
               reg->name);
        return true;
    }
#else
    (void)reg;
#endif
    return false;
}

/* ZT_OPS_BACKEND=NAME (ctest's test_cuda_ops): only that backend, and a
 * build or machine without it is a skip (with the reason), not a pass. */
static const char *only_backend(void)
{
    const char *only = getenv("ZT_OPS_BACKEND");
    return only && *only ? only : NULL;
}

/* Skips the current test when ZT_OPS_BACKEND names a backend that this
 * build lacks or that has no device here. */
static void need_only_backend(void)
{
    const char *only = only_backend();
    if (!only) return;
    const struct zt__backend_reg *reg = NULL;
    for (size_t i = 0; i < zt__backend_count(); i++)
        if (!strcmp(zt__backend_at(i)->name, only)) reg = zt__backend_at(i);
    if (!reg) zt_skip("this build has no %s backend (ZT_OPS_BACKEND=%s)", only, only);
    struct zt__backend_params p = {.n_threads = 1};
    struct zt__backend *be;
    int rc = reg->create(&p, &be);
    if (rc == ZT_ENOTFOUND) zt_skip("no %s device on this machine: the %s ops were not run", only, only);
    assert_int_equal(rc, 0);
    zt__backend_free(be);
}

static bool not_selected(const struct zt__backend_reg *reg)
{
    return only_backend() && strcmp(only_backend(), reg->name) != 0;
}

static void each_backend(case_fn body)
{
    need_only_backend();
    for (size_t i = 0; i < zt__backend_count(); i++) {
        const struct zt__backend_reg *reg = zt__backend_at(i);
        if (passed_over(reg) || not_selected(reg)) continue;
        /* the fast mode, then the exact mode if it is another one */
        bool fast_was_exact = false;
        for (int mode = 0; mode < 2; mode++) {
            struct zt__backend_params p = {.n_threads = 1, .exact = mode == 1};
            struct zt__backend *be;
            int rc = reg->create(&p, &be);
            if (rc == ZT_ENOTFOUND) {
                printf("backend %s: no device on this machine, not tested\n", reg->name);
                break;
            }
            assert_int_equal(rc, 0);
            if (mode == 0) fast_was_exact = be->exact;
            if (mode == 0 || (be->exact && !fast_was_exact)) run_case(be, reg->name, body);
            zt__backend_free(be);
        }
    }
}

/* ---- canonical-order specs of the element-wise ops ------------------------- */

static void spec_rmsnorm(const float *x, const float *g, float eps, float *y, size_t n)
{
    float ss = 0.0f;
    for (size_t i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (size_t i = 0; i < n; i++) y[i] = (x[i] * scale) * g[i];
}

static void spec_rope(float *x, uint32_t pos, const struct zt__rope *p, const float *inv_freq)
{
    uint32_t half = p->n_rot / 2;
    float ps = (float)pos * p->freq_scale;
    for (uint32_t h = 0; h < p->n_heads; h++)
        for (uint32_t i = 0; i < half; i++) {
            float theta = ps * inv_freq[i];
            float c, s;
            zt__sincosf(theta, &s, &c);
            float *v = x + (size_t)h * p->head_dim;
            uint32_t a = p->neox ? i : 2 * i, b = p->neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
}

/* one (item, head): scores in position order, softmax, weighted sum in order */
static void spec_attend(const float *q, const float *kc, const float *vc, size_t kvd, uint32_t n_pos, uint32_t hd,
                        float *o)
{
    float *sc = malloc(n_pos * sizeof(float));
    assert_non_null(sc);
    float scale = 1.0f / sqrtf((float)hd), mx = -INFINITY, sum = 0.0f;
    for (uint32_t t = 0; t < n_pos; t++) {
        float dot = 0.0f;
        for (uint32_t i = 0; i < hd; i++) dot += q[i] * kc[(size_t)t * kvd + i];
        sc[t] = dot * scale;
        if (sc[t] > mx) mx = sc[t];
    }
    for (uint32_t t = 0; t < n_pos; t++) {
        sc[t] = zt__expf(sc[t] - mx);
        sum += sc[t];
    }
    float inv = 1.0f / sum;
    for (uint32_t i = 0; i < hd; i++) o[i] = 0.0f;
    for (uint32_t t = 0; t < n_pos; t++) {
        float p = sc[t] * inv;
        for (uint32_t i = 0; i < hd; i++) o[i] += p * vc[(size_t)t * kvd + i];
    }
    free(sc);
}

/* ---- buffers ------------------------------------------------------------------ */

static void case_buffers(struct side *t, struct side *r, bool exact, const char *name)
{
    (void)r;
    (void)exact;
    (void)name;
    const struct zt__backend_ops *op = t->be->ops;
    float *src = rand_f32(1000, 1.0f);
    struct zt__buffer *b = side_put(t, NULL, 1000 * sizeof(float), false);
    float *z = side_get(t, b, 1000 * sizeof(float));
    for (size_t i = 0; i < 1000; i++) assert_true(z[i] == 0.0f && !signbit(z[i])); /* zero-filled */
    assert_int_equal(op->buffer_set(t->be, b, 40 * sizeof(float), src, 100 * sizeof(float)), 0);
    float got[100];
    assert_int_equal(op->buffer_get(t->be, b, 40 * sizeof(float), got, sizeof got), 0);
    assert_memory_equal(got, src, sizeof got);
    struct zt__buffer *m = side_put(t, src, 1000 * sizeof(float), true);
    float *back = side_get(t, m, 1000 * sizeof(float));
    assert_memory_equal(back, src, 1000 * sizeof(float));
    free(back);
    free(z);
    free(src);
}

static void test_buffers(void **state)
{
    (void)state;
    each_backend(case_buffers);
}

/* ---- get_rows -------------------------------------------------------------------- */

static const enum zt_ggml_type weight_types[] = {ZT_GGML_F32,  ZT_GGML_F16,  ZT_GGML_BF16, ZT_GGML_Q8_0,
                                                 ZT_GGML_Q4_0, ZT_GGML_Q4_K, ZT_GGML_Q6_K};
#define N_TYPES (sizeof weight_types / sizeof weight_types[0])

static void case_get_rows(struct side *t, struct side *r, bool exact, const char *name)
{
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        enum zt_ggml_type type = weight_types[ti];
        if (!t->be->ops->supports(t->be, type)) {
            printf("  %s get_rows %s: not supported, not tested\n", name, zt_ggml_type_name(type));
            continue;
        }
        size_t n = 512, rows = 40, rb, nb = 9;
        uint8_t *w = rand_weights(type, n, rows, &rb);
        int32_t ids[9] = {0, 39, 7, 7, 13, 1, 38, 20, 0};
        float *out[2];
        struct side *sides[2] = {t, r};
        for (int s = 0; s < 2; s++) {
            struct zt__tensor src = {.buf = side_put(sides[s], w, rb * rows, true), .type = type, .ne0 = n,
                                     .ne1 = rows, .nb1 = rb};
            struct zt__tensor dst = zt__tensor_f32(side_put(sides[s], NULL, nb * n * 4, false), 0, n, nb);
            assert_int_equal(sides[s]->be->ops->get_rows(sides[s]->be, &src, ids, &dst), 0);
            out[s] = side_get(sides[s], dst.buf, nb * n * 4);
        }
        compare(name, exact, "get_rows", "9 of 40 rows", type, out[1], out[0], nb * n);
        /* the reference is the kernel called directly */
        float *direct = malloc(nb * n * 4);
        assert_non_null(direct);
        for (size_t b = 0; b < nb; b++)
            assert_int_equal(zt_dequant_row(type, w + (size_t)ids[b] * rb, direct + b * n, n), 0);
        same_bits("get_rows vs zt_dequant_row", direct, out[1], nb * n);
        free(direct);
        free(out[0]);
        free(out[1]);
        side_reset(t);
        side_reset(r);
        free(w);
    }
}

static void test_get_rows(void **state)
{
    (void)state;
    each_backend(case_get_rows);
}

/* ---- matmul ------------------------------------------------------------------------ */

static void case_matmul(struct side *t, struct side *r, bool exact, const char *name)
{
    static const size_t batches[] = {1, 2, 3, 5, 8, 13};
    static const size_t rowss[] = {1, 5, 37, 100};
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        enum zt_ggml_type type = weight_types[ti];
        if (!t->be->ops->supports(t->be, type)) {
            printf("  %s matmul %s: not supported, not tested\n", name, zt_ggml_type_name(type));
            continue;
        }
        /* Q8_0/Q4_0: 13 blocks, so lanes 0..4 of the 8 of order v2 take a
         * second block and 5..7 one */
        size_t bs = zt_quant_blck_size(type), n = bs == ZT_QK_K ? 512 : bs == 32 ? 416 : 96;
        for (size_t ri = 0; ri < 4; ri++)
            for (size_t bi = 0; bi < 6; bi++) {
                size_t rows = rowss[ri], nb = batches[bi], rb;
                uint8_t *w = rand_weights(type, n, rows, &rb);
                float *x = rand_f32(nb * n, 2.0f);
                float *out[2];
                struct side *sides[2] = {t, r};
                for (int s = 0; s < 2; s++) {
                    struct zt__tensor wt = {.buf = side_put(sides[s], w, rb * rows, true), .type = type, .ne0 = n,
                                            .ne1 = rows, .nb1 = rb};
                    struct zt__tensor xt = zt__tensor_f32(side_put(sides[s], x, nb * n * 4, false), 0, n, nb);
                    struct zt__tensor yt = zt__tensor_f32(side_put(sides[s], NULL, nb * rows * 4, false), 0, rows, nb);
                    assert_int_equal(sides[s]->be->ops->matmul(sides[s]->be, &wt, &xt, &yt), 0);
                    out[s] = side_get(sides[s], yt.buf, nb * rows * 4);
                }
                char what[64];
                snprintf(what, sizeof what, "%zu x %zu, batch %zu", rows, n, nb);
                compare(name, exact, "matmul", what, type, out[1], out[0], nb * rows);
                /* reference: activation quantiser and dot kernel called directly */
                size_t xrb;
                assert_int_equal(zt_quant_row_bytes(zt_quant_vec_dot_type(type), n, &xrb), 0);
                uint8_t *xq = malloc(xrb);
                float *direct = malloc(nb * rows * 4);
                assert_true(xq && direct);
                for (size_t b = 0; b < nb; b++) {
                    assert_int_equal(zt_quant_activations(type, x + b * n, xq, n), 0);
                    for (size_t rr = 0; rr < rows; rr++)
                        assert_int_equal(zt_quant_vec_dot(type, n, w + rr * rb, xq, &direct[b * rows + rr]), 0);
                }
                same_bits("matmul vs zt_quant_vec_dot", direct, out[1], nb * rows);
                free(direct);
                free(xq);
                free(out[0]);
                free(out[1]);
                side_reset(t);
                side_reset(r);
                free(x);
                free(w);
            }
    }
}

static void test_matmul(void **state)
{
    (void)state;
    each_backend(case_matmul);
}

/* matmul_n, where a backend has it, against one matmul per weight on the
 * reference: one input through weights of every type in a row, packed
 * where the backend packs (prepare_weight), so the quantised rows and the
 * packed terms it shares between products are made again exactly when the
 * activation format or the packed type changes. */
static void case_matmul_n(struct side *t, struct side *r, bool exact, const char *name)
{
    if (!t->be->ops->matmul_n) {
        printf("  %s matmul_n: none (the model calls matmul per weight)\n", name);
        return;
    }
    static const enum zt_ggml_type seq[] = {ZT_GGML_Q8_0, ZT_GGML_Q8_0, ZT_GGML_Q4_0, ZT_GGML_Q4_0, ZT_GGML_Q8_0,
                                            ZT_GGML_Q6_K, ZT_GGML_Q4_K, ZT_GGML_Q6_K, ZT_GGML_F16, ZT_GGML_Q8_0,
                                            ZT_GGML_BF16, ZT_GGML_F32, ZT_GGML_Q4_0};
    enum { NW = sizeof seq / sizeof seq[0] };
    static const size_t batches[] = {1, 5, 64};
    size_t n = 512, rows = 53;
    for (size_t bi = 0; bi < 3; bi++) {
        size_t nb = batches[bi], rb[NW];
        uint8_t *w[NW];
        for (size_t i = 0; i < NW; i++) w[i] = rand_weights(seq[i], n, rows, &rb[i]);
        float *x = rand_f32(nb * n, 2.0f);
        float *out[2][NW];
        struct side *sides[2] = {t, r};
        for (int s = 0; s < 2; s++) {
            struct zt__backend *be = sides[s]->be;
            struct zt__tensor wt[NW], yt[NW];
            const struct zt__tensor *wp[NW], *yp[NW];
            struct zt__tensor xt = zt__tensor_f32(side_put(sides[s], x, nb * n * 4, false), 0, n, nb);
            for (size_t i = 0; i < NW; i++) {
                wt[i] = (struct zt__tensor){.buf = side_put(sides[s], w[i], rb[i] * rows, true), .type = seq[i],
                                            .ne0 = n, .ne1 = rows, .nb1 = rb[i]};
                if (be->ops->prepare_weight) assert_int_equal(be->ops->prepare_weight(be, &wt[i]), 0);
                yt[i] = zt__tensor_f32(side_put(sides[s], NULL, nb * rows * 4, false), 0, rows, nb);
                wp[i] = &wt[i];
                yp[i] = &yt[i];
            }
            if (s == 0) {
                assert_int_equal(be->ops->matmul_n(be, wp, &xt, yp, NW), 0);
            } else {
                for (size_t i = 0; i < NW; i++) assert_int_equal(be->ops->matmul(be, &wt[i], &xt, &yt[i]), 0);
            }
            for (size_t i = 0; i < NW; i++) out[s][i] = side_get(sides[s], yt[i].buf, nb * rows * 4);
        }
        for (size_t i = 0; i < NW; i++) {
            char what[64];
            snprintf(what, sizeof what, "product %zu of %d, batch %zu", i, (int)NW, nb);
            compare(name, exact, "matmul", what, seq[i], out[1][i], out[0][i], nb * rows);
            free(out[0][i]);
            free(out[1][i]);
            free(w[i]);
        }
        side_reset(t);
        side_reset(r);
        free(x);
    }
}

static void test_matmul_n(void **state)
{
    (void)state;
    each_backend(case_matmul_n);
}

/* ---- rmsnorm, add, swiglu --------------------------------------------------------- */

static void case_elementwise(struct side *t, struct side *r, bool exact, const char *name)
{
    /* 96 x 21: 16 rows in the CPU's vector lanes, then 4, then 1 */
    static const size_t shapes[][2] = {{7, 1}, {64, 4}, {257, 9}, {2048, 3}, {96, 21}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t n = shapes[si][0], rows = shapes[si][1], bytes = n * rows * 4;
        float *a = rand_f32(n * rows, 3.0f), *b = rand_f32(n * rows, 3.0f), *g = rand_f32(n, 1.5f);
        float *res[2][5];
        struct side *sides[2] = {t, r};
        for (int s = 0; s < 2; s++) {
            struct zt__backend *be = sides[s]->be;
            const struct zt__backend_ops *op = be->ops;
            struct zt__tensor at = zt__tensor_f32(side_put(sides[s], a, bytes, false), 0, n, rows);
            struct zt__tensor bt = zt__tensor_f32(side_put(sides[s], b, bytes, false), 0, n, rows);
            struct zt__tensor gt = zt__tensor_f32(side_put(sides[s], g, n * 4, true), 0, n, 1);
            struct zt__tensor y = zt__tensor_f32(side_put(sides[s], NULL, bytes, false), 0, n, rows);
            struct zt__tensor y2 = zt__tensor_f32(side_put(sides[s], NULL, bytes, false), 0, n, rows);
            assert_int_equal(op->rmsnorm(be, &at, &gt, 1e-5f, &y), 0);
            res[s][0] = side_get(sides[s], y.buf, bytes);
            assert_int_equal(op->add(be, &at, &bt, &y), 0);
            res[s][1] = side_get(sides[s], y.buf, bytes);
            assert_int_equal(op->add(be, &at, &gt, &y2), 0); /* one row broadcast */
            res[s][2] = side_get(sides[s], y2.buf, bytes);
            assert_int_equal(op->swiglu(be, &at, &bt, &y), 0);
            res[s][3] = side_get(sides[s], y.buf, bytes);
            /* in place: dst is the first source */
            assert_int_equal(op->rmsnorm(be, &bt, &gt, 1e-6f, &bt), 0);
            assert_int_equal(op->swiglu(be, &bt, &at, &bt), 0);
            assert_int_equal(op->add(be, &bt, &at, &bt), 0);
            res[s][4] = side_get(sides[s], bt.buf, bytes);
        }
        static const char *ops[5] = {"rmsnorm", "add", "add (broadcast)", "swiglu", "in place chain"};
        char what[64];
        snprintf(what, sizeof what, "%zu x %zu", rows, n);
        for (int k = 0; k < 5; k++) compare(name, exact, ops[k], what, ZT_GGML_F32, res[1][k], res[0][k], n * rows);
        /* the CPU against the specs */
        float *want = malloc(bytes), *tmp = malloc(bytes);
        assert_true(want && tmp);
        for (size_t rr = 0; rr < rows; rr++) spec_rmsnorm(a + rr * n, g, 1e-5f, want + rr * n, n);
        same_bits("rmsnorm", want, res[1][0], n * rows);
        for (size_t i = 0; i < n * rows; i++) want[i] = a[i] + b[i];
        same_bits("add", want, res[1][1], n * rows);
        for (size_t i = 0; i < n * rows; i++) want[i] = a[i] + g[i % n];
        same_bits("add broadcast", want, res[1][2], n * rows);
        for (size_t i = 0; i < n * rows; i++) want[i] = (a[i] / (1.0f + zt__expf(-a[i]))) * b[i];
        same_bits("swiglu", want, res[1][3], n * rows);
        for (size_t rr = 0; rr < rows; rr++) spec_rmsnorm(b + rr * n, g, 1e-6f, tmp + rr * n, n);
        for (size_t i = 0; i < n * rows; i++) want[i] = ((tmp[i] / (1.0f + zt__expf(-tmp[i]))) * a[i]) + a[i];
        same_bits("in place chain", want, res[1][4], n * rows);
        free(want);
        free(tmp);
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < 5; k++) free(res[s][k]);
        side_reset(t);
        side_reset(r);
        free(a);
        free(b);
        free(g);
    }
}

static void test_elementwise(void **state)
{
    (void)state;
    each_backend(case_elementwise);
}

/* ---- rope ---------------------------------------------------------------------------- */

static void case_rope(struct side *t, struct side *r, bool exact, const char *name)
{
    static const struct {
        uint32_t heads, hd, n_rot;
        bool neox;
        float scale;
    } cases[] = {{8, 32, 32, false, 1.0f}, {4, 64, 64, true, 1.0f}, {2, 48, 32, false, 0.25f}, {3, 16, 8, true, 0.5f}};
    for (size_t c = 0; c < 4; c++) {
        size_t rows = 6, w = (size_t)cases[c].heads * cases[c].hd, bytes = rows * w * 4;
        uint32_t pos[6] = {0, 1, 17, 300, 4095, 17};
        float *x = rand_f32(rows * w, 2.0f);
        float inv_freq[64];
        for (uint32_t i = 0; i < cases[c].n_rot / 2; i++)
            inv_freq[i] = (float)pow(10000.0, -2.0 * i / (double)cases[c].n_rot);
        float *out[2];
        struct side *sides[2] = {t, r};
        struct zt__rope p = {.n_heads = cases[c].heads, .head_dim = cases[c].hd, .n_rot = cases[c].n_rot,
                             .neox = cases[c].neox, .freq_scale = cases[c].scale};
        /* three calls: the positions, the same again (the CPU keeps the
         * angles of the last call), then one position moved */
        uint32_t pos2[6];
        memcpy(pos2, pos, sizeof pos);
        pos2[3] = 301;
        const uint32_t *calls[3] = {pos, pos, pos2};
        float *out3[2][3];
        for (int s = 0; s < 2; s++) {
            p.inv_freq = zt__tensor_f32(side_put(sides[s], inv_freq, cases[c].n_rot / 2 * 4, false), 0,
                                        cases[c].n_rot / 2, 1);
            for (int k = 0; k < 3; k++) {
                struct zt__tensor xt = zt__tensor_f32(side_put(sides[s], x, bytes, false), 0, w, rows);
                assert_int_equal(sides[s]->be->ops->rope(sides[s]->be, &xt, calls[k], &p), 0);
                out3[s][k] = side_get(sides[s], xt.buf, bytes);
            }
            out[s] = out3[s][0];
        }
        char what[64];
        snprintf(what, sizeof what, "%u heads x %u, rot %u%s", cases[c].heads, cases[c].hd, cases[c].n_rot,
                 cases[c].neox ? " neox" : "");
        compare(name, exact, "rope", what, ZT_GGML_F32, out[1], out[0], rows * w);
        for (int k = 1; k < 3; k++) compare(name, exact, "rope", what, ZT_GGML_F32, out3[1][k], out3[0][k], rows * w);
        float *x2 = malloc(bytes);
        assert_non_null(x2);
        memcpy(x2, x, bytes);
        for (size_t b = 0; b < rows; b++) spec_rope(x + b * w, pos[b], &p, inv_freq);
        same_bits("rope", x, out[1], rows * w);
        same_bits("rope, same positions again", x, out3[1][1], rows * w);
        for (size_t b = 0; b < rows; b++) spec_rope(x2 + b * w, pos2[b], &p, inv_freq);
        same_bits("rope, one position moved", x2, out3[1][2], rows * w);
        free(x2);
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < 3; k++) free(out3[s][k]);
        free(x);
        side_reset(t);
        side_reset(r);
    }
}

static void test_rope(void **state)
{
    (void)state;
    each_backend(case_rope);
}

/* ---- kv_store + attention ------------------------------------------------------------ */

/* A row-major (n_ctx, kvd) K cache of es-byte elements in backend be's
 * layout (kv_k_tile, backend.h zt__kv_view), or back (to_rows): the same
 * elements, moved. */
static void *k_layout_es(const struct zt__backend *be, const void *src, size_t n_ctx, size_t kvd, size_t es,
                         bool to_rows)
{
    uint8_t *out = malloc(n_ctx * kvd * es + 1);
    const uint8_t *in = src;
    assert_non_null(out);
    for (size_t p = 0; p < n_ctx; p++)
        for (size_t c = 0; c < kvd; c++) {
            size_t at = zt__kv_k_index(be->kv_k_tile, n_ctx, kvd, p, c);
            if (to_rows) memcpy(out + (p * kvd + c) * es, in + at * es, es);
            else memcpy(out + at * es, in + (p * kvd + c) * es, es);
        }
    return out;
}

static float *k_layout(const struct zt__backend *be, const float *src, size_t n_ctx, size_t kvd, bool to_rows)
{
    return k_layout_es(be, src, n_ctx, kvd, sizeof(float), to_rows);
}

/* A batch over 3 sequences of different lengths: prompt rows of one (19,
 * after another sequence's token: a run of 16 the CPU takes together, then
 * 3 alone), single tokens of the others, positions across the 8- and
 * 16-wide score blocks, over 1 to 4 whole K tiles of the CPU's layout and
 * the rows after them (n_ctx 40 and 70: tiles up to 32 and 64). */
static const struct zt__attn attn_shapes[] = {{8, 2, 16}, {4, 4, 64}, {6, 1, 8}};
static const uint32_t attn_n_ctx[3] = {40, 9, 70};
enum { NB = 23 };
static const size_t attn_seq_of[NB] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2};
static const uint32_t attn_pos[NB] = {8, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 64, 65, 40};

/* The spec's attention of the batch over caches that hold the new rows. */
static float *spec_batch(const struct zt__attn *p, const float *q, float *cache[3][2])
{
    size_t kvd = (size_t)p->n_head_kv * p->head_dim, qd = (size_t)p->n_head * p->head_dim;
    float *want = malloc(NB * qd * 4);
    assert_non_null(want);
    for (size_t b = 0; b < NB; b++)
        for (uint32_t h = 0; h < p->n_head; h++) {
            size_t kvh = h / (p->n_head / p->n_head_kv);
            spec_attend(q + b * qd + (size_t)h * p->head_dim, cache[attn_seq_of[b]][0] + kvh * p->head_dim,
                        cache[attn_seq_of[b]][1] + kvh * p->head_dim, kvd, attn_pos[b] + 1, p->head_dim,
                        want + b * qd + (size_t)h * p->head_dim);
        }
    return want;
}

static void case_attention(struct side *t, struct side *r, bool exact, const char *name)
{
    for (size_t c = 0; c < 3; c++) {
        const struct zt__attn *p = &attn_shapes[c];
        size_t kvd = (size_t)p->n_head_kv * p->head_dim, qd = (size_t)p->n_head * p->head_dim;
        float *cache[3][2];
        for (int sq = 0; sq < 3; sq++)
            for (int kv = 0; kv < 2; kv++) cache[sq][kv] = rand_f32(attn_n_ctx[sq] * kvd, 1.5f);
        float *q = rand_f32(NB * qd, 1.5f), *k = rand_f32(NB * kvd, 1.5f), *v = rand_f32(NB * kvd, 1.5f);
        float *out[2], *caches_out[2][3][2];
        struct side *sides[2] = {t, r};
        for (int s = 0; s < 2; s++) {
            struct zt__backend *be = sides[s]->be;
            struct zt__buffer *cb[3][2];
            for (int sq = 0; sq < 3; sq++)
                for (int kv = 0; kv < 2; kv++) {
                    /* K in the backend's layout (its whole tiles of 16
                     * positions dimension-major on the CPU) */
                    float *laid = kv ? NULL : k_layout(be, cache[sq][0], attn_n_ctx[sq], kvd, false);
                    cb[sq][kv] = side_put(sides[s], laid ? laid : cache[sq][kv], attn_n_ctx[sq] * kvd * 4, false);
                    free(laid);
                }
            struct zt__kv_view views[NB];
            for (size_t b = 0; b < NB; b++)
                views[b] = (struct zt__kv_view){.k = zt__tensor_f32(cb[attn_seq_of[b]][0], 0, kvd, attn_n_ctx[attn_seq_of[b]]),
                                                .v = zt__tensor_f32(cb[attn_seq_of[b]][1], 0, kvd, attn_n_ctx[attn_seq_of[b]]),
                                                .pos = attn_pos[b]};
            struct zt__tensor qt = zt__tensor_f32(side_put(sides[s], q, NB * qd * 4, false), 0, qd, NB);
            struct zt__tensor kt = zt__tensor_f32(side_put(sides[s], k, NB * kvd * 4, false), 0, kvd, NB);
            struct zt__tensor vt = zt__tensor_f32(side_put(sides[s], v, NB * kvd * 4, false), 0, kvd, NB);
            struct zt__tensor ot = zt__tensor_f32(side_put(sides[s], NULL, NB * qd * 4, false), 0, qd, NB);
            assert_int_equal(be->ops->kv_store(be, &kt, &vt, views), 0);
            assert_int_equal(be->ops->attention(be, &qt, views, p, &ot), 0);
            out[s] = side_get(sides[s], ot.buf, NB * qd * 4);
            for (int sq = 0; sq < 3; sq++)
                for (int kv = 0; kv < 2; kv++) {
                    caches_out[s][sq][kv] = side_get(sides[s], cb[sq][kv], attn_n_ctx[sq] * kvd * 4);
                    if (kv) continue;
                    float *rows = k_layout(be, caches_out[s][sq][0], attn_n_ctx[sq], kvd, true);
                    free(caches_out[s][sq][0]);
                    caches_out[s][sq][0] = rows;
                }
        }
        char what[64];
        snprintf(what, sizeof what, "%u heads (%u kv) x %u", p->n_head, p->n_head_kv, p->head_dim);
        compare(name, exact, "attention", what, ZT_GGML_F32, out[1], out[0], NB * qd);
        /* spec: the caches with the new rows, then attention per (item, head) */
        for (size_t b = 0; b < NB; b++) {
            memcpy(cache[attn_seq_of[b]][0] + attn_pos[b] * kvd, k + b * kvd, kvd * 4);
            memcpy(cache[attn_seq_of[b]][1] + attn_pos[b] * kvd, v + b * kvd, kvd * 4);
        }
        for (int sq = 0; sq < 3; sq++)
            for (int kv = 0; kv < 2; kv++) {
                compare(name, true, "kv_store", what, ZT_GGML_F32, cache[sq][kv], caches_out[0][sq][kv], attn_n_ctx[sq] * kvd);
                same_bits("kv_store", cache[sq][kv], caches_out[1][sq][kv], attn_n_ctx[sq] * kvd);
                free(caches_out[0][sq][kv]);
                free(caches_out[1][sq][kv]);
            }
        float *want = spec_batch(p, q, cache);
        same_bits("attention", want, out[1], NB * qd);
        free(want);
        free(out[0]);
        free(out[1]);
        for (int sq = 0; sq < 3; sq++)
            for (int kv = 0; kv < 2; kv++) free(cache[sq][kv]);
        free(q);
        free(k);
        free(v);
        side_reset(t);
        side_reset(r);
    }
}

static void test_attention(void **state)
{
    (void)state;
    each_backend(case_attention);
}

/* The same batch over F16 caches (where supports_kv takes them): kv_store
 * rounds each row to fp16 (zt_fp32_to_fp16) into the backend's layout,
 * attention widens exactly; against the spec over the widened values, bit
 * for bit, and every cache element read back. */
static void attention_f16_on(struct side *t, const char *name)
{
    struct zt__backend *be = t->be;
    if (!be->ops->supports_kv || !be->ops->supports_kv(be, ZT_GGML_F16)) {
        printf("backend %s: no F16 KV cache, not tested\n", name);
        return;
    }
    for (size_t c = 0; c < 3; c++) {
        const struct zt__attn *p = &attn_shapes[c];
        size_t kvd = (size_t)p->n_head_kv * p->head_dim, qd = (size_t)p->n_head * p->head_dim;
        float *cache[3][2];
        uint16_t *half[3][2];
        struct zt__buffer *cb[3][2];
        for (int sq = 0; sq < 3; sq++)
            for (int kv = 0; kv < 2; kv++) {
                size_t n = attn_n_ctx[sq] * kvd;
                cache[sq][kv] = rand_f32(n, 1.5f);
                half[sq][kv] = malloc(n * 2 + 1);
                assert_non_null(half[sq][kv]);
                for (size_t i = 0; i < n; i++) {
                    half[sq][kv][i] = zt_fp32_to_fp16(cache[sq][kv][i]);
                    cache[sq][kv][i] = zt_fp16_to_fp32(half[sq][kv][i]);
                }
                void *laid = kv ? NULL : k_layout_es(be, half[sq][0], attn_n_ctx[sq], kvd, 2, false);
                cb[sq][kv] = side_put(t, laid ? laid : half[sq][kv], n * 2, false);
                free(laid);
            }
        float *q = rand_f32(NB * qd, 1.5f), *k = rand_f32(NB * kvd, 1.5f), *v = rand_f32(NB * kvd, 1.5f);
        struct zt__kv_view views[NB];
        for (size_t b = 0; b < NB; b++) {
            size_t sq = attn_seq_of[b];
            views[b] = (struct zt__kv_view){
                .k = {.buf = cb[sq][0], .type = ZT_GGML_F16, .ne0 = kvd, .ne1 = attn_n_ctx[sq], .nb1 = kvd * 2},
                .v = {.buf = cb[sq][1], .type = ZT_GGML_F16, .ne0 = kvd, .ne1 = attn_n_ctx[sq], .nb1 = kvd * 2},
                .pos = attn_pos[b]};
        }
        struct zt__tensor qt = zt__tensor_f32(side_put(t, q, NB * qd * 4, false), 0, qd, NB);
        struct zt__tensor kt = zt__tensor_f32(side_put(t, k, NB * kvd * 4, false), 0, kvd, NB);
        struct zt__tensor vt = zt__tensor_f32(side_put(t, v, NB * kvd * 4, false), 0, kvd, NB);
        struct zt__tensor ot = zt__tensor_f32(side_put(t, NULL, NB * qd * 4, false), 0, qd, NB);
        assert_int_equal(be->ops->kv_store(be, &kt, &vt, views), 0);
        assert_int_equal(be->ops->attention(be, &qt, views, p, &ot), 0);
        float *out = side_get(t, ot.buf, NB * qd * 4);
        /* spec: the new rows rounded into the caches, then attention */
        for (size_t b = 0; b < NB; b++)
            for (size_t i = 0; i < kvd; i++) {
                size_t at = attn_pos[b] * kvd + i, sq = attn_seq_of[b];
                half[sq][0][at] = zt_fp32_to_fp16(k[b * kvd + i]);
                half[sq][1][at] = zt_fp32_to_fp16(v[b * kvd + i]);
                cache[sq][0][at] = zt_fp16_to_fp32(half[sq][0][at]);
                cache[sq][1][at] = zt_fp16_to_fp32(half[sq][1][at]);
            }
        for (int sq = 0; sq < 3; sq++)
            for (int kv = 0; kv < 2; kv++) {
                size_t n = attn_n_ctx[sq] * kvd;
                uint16_t *got = (uint16_t *)(void *)side_get(t, cb[sq][kv], n * 2);
                void *rows = kv ? NULL : k_layout_es(be, got, attn_n_ctx[sq], kvd, 2, true);
                assert_memory_equal(rows ? rows : (void *)got, half[sq][kv], n * 2);
                free(rows);
                free(got);
            }
        float *want = spec_batch(p, q, cache);
        same_bits("attention over an F16 cache", want, out, NB * qd);
        free(want);
        free(out);
        for (int sq = 0; sq < 3; sq++)
            for (int kv = 0; kv < 2; kv++) {
                free(cache[sq][kv]);
                free(half[sq][kv]);
            }
        free(q);
        free(k);
        free(v);
        side_reset(t);
    }
    printf("backend %s: kv_store and attention over F16 caches, the spec's bits\n", name);
}

/* The backend under test, then the CPU reference (both against the spec). */
static void case_attention_f16(struct side *t, struct side *r, bool exact, const char *name)
{
    (void)exact;
    attention_f16_on(t, name);
    attention_f16_on(r, "cpu");
}

static void test_attention_f16(void **state)
{
    (void)state;
    each_backend(case_attention_f16);
}

/* Prompt rows of one long sequence, as a verification or a long prompt
 * feeds them: 40 consecutive positions 50 .. 89 of a 90-position cache (the
 * CPU's whole K tiles end at 80). The CPU takes runs of 16 together (lanes
 * across the rows: positions 50 .. 65, then 66 .. 81, whose last tile is
 * past the whole tiles, then 8 alone); also the first 32 rows alone (two
 * groups and nothing else, run head by head); queries scaled up so some weights
 * underflow to 0 (zt__expf below -87.5). F32 caches, and F16 where supports_kv takes them; head
 * sizes 16, 32 (not a multiple of 64) and 64; against the spec bit for bit
 * (within tolerance for a backend in its fast mode). */
enum { GL_N = 40, GL_CTX = 90, GL_POS0 = 50 };
static const struct zt__attn gl_shapes[] = {{4, 2, 32}, {2, 2, 64}, {3, 3, 16}};

static void attention_groups_on(struct side *t, const char *name, bool f16, bool exact, size_t gn)
{
    struct zt__backend *be = t->be;
    if (f16 && (!be->ops->supports_kv || !be->ops->supports_kv(be, ZT_GGML_F16))) return;
    size_t es = f16 ? 2 : 4;
    for (size_t c = 0; c < sizeof gl_shapes / sizeof gl_shapes[0]; c++) {
        const struct zt__attn *p = &gl_shapes[c];
        size_t kvd = (size_t)p->n_head_kv * p->head_dim, qd = (size_t)p->n_head * p->head_dim, n = GL_CTX * kvd;
        float *cache[2];
        uint8_t *raw[2];
        struct zt__buffer *cb[2];
        for (int kv = 0; kv < 2; kv++) {
            cache[kv] = rand_f32(n, 1.5f);
            raw[kv] = malloc(n * es + 1);
            assert_non_null(raw[kv]);
            for (size_t i = 0; i < n; i++) {
                if (!f16) {
                    memcpy(raw[kv] + i * 4, &cache[kv][i], 4);
                    continue;
                }
                uint16_t h = zt_fp32_to_fp16(cache[kv][i]);
                memcpy(raw[kv] + i * 2, &h, 2);
                cache[kv][i] = zt_fp16_to_fp32(h);
            }
            void *laid = kv ? NULL : k_layout_es(be, raw[0], GL_CTX, kvd, es, false);
            cb[kv] = side_put(t, laid ? laid : raw[kv], n * es, false);
            free(laid);
        }
        float *q = rand_f32(gn * qd, 60.0f), *k = rand_f32(gn * kvd, 1.5f), *v = rand_f32(gn * kvd, 1.5f);
        struct zt__kv_view views[GL_N];
        assert_true(gn <= GL_N);
        enum zt_ggml_type ty = f16 ? ZT_GGML_F16 : ZT_GGML_F32;
        for (size_t b = 0; b < gn; b++)
            views[b] = (struct zt__kv_view){
                .k = {.buf = cb[0], .type = ty, .ne0 = kvd, .ne1 = GL_CTX, .nb1 = kvd * es},
                .v = {.buf = cb[1], .type = ty, .ne0 = kvd, .ne1 = GL_CTX, .nb1 = kvd * es},
                .pos = (uint32_t)(GL_POS0 + b)};
        struct zt__tensor qt = zt__tensor_f32(side_put(t, q, gn * qd * 4, false), 0, qd, gn);
        struct zt__tensor kt = zt__tensor_f32(side_put(t, k, gn * kvd * 4, false), 0, kvd, gn);
        struct zt__tensor vt = zt__tensor_f32(side_put(t, v, gn * kvd * 4, false), 0, kvd, gn);
        struct zt__tensor ot = zt__tensor_f32(side_put(t, NULL, gn * qd * 4, false), 0, qd, gn);
        assert_int_equal(be->ops->kv_store(be, &kt, &vt, views), 0);
        assert_int_equal(be->ops->attention(be, &qt, views, p, &ot), 0);
        float *out = side_get(t, ot.buf, gn * qd * 4);
        /* spec: the new rows (rounded to fp16 for an F16 cache), then
         * attention per (row, head) */
        for (size_t b = 0; b < gn; b++)
            for (size_t i = 0; i < kvd; i++) {
                size_t at = (GL_POS0 + b) * kvd + i;
                cache[0][at] = f16 ? zt_fp16_to_fp32(zt_fp32_to_fp16(k[b * kvd + i])) : k[b * kvd + i];
                cache[1][at] = f16 ? zt_fp16_to_fp32(zt_fp32_to_fp16(v[b * kvd + i])) : v[b * kvd + i];
            }
        size_t zeros = 0;
        float *want = malloc(gn * qd * 4);
        assert_non_null(want);
        for (size_t b = 0; b < gn; b++)
            for (uint32_t h = 0; h < p->n_head; h++) {
                size_t kvh = h / (p->n_head / p->n_head_kv);
                spec_attend(q + b * qd + (size_t)h * p->head_dim, cache[0] + kvh * p->head_dim,
                            cache[1] + kvh * p->head_dim, kvd, (uint32_t)(GL_POS0 + b + 1), p->head_dim,
                            want + b * qd + (size_t)h * p->head_dim);
            }
        char what[80];
        snprintf(what, sizeof what, "%s: attention of %zu prompt rows, %s cache, head size %u", name,
                 gn, f16 ? "F16" : "F32", p->head_dim);
        compare(name, exact, "attention", what, ZT_GGML_F32, want, out, gn * qd);
        /* the scaled queries do drive some weights to 0 (zt__expf of a
         * score more than 87.5 below the max), not only a smooth softmax */
        for (size_t b = 0; b < gn; b++)
            for (uint32_t h = 0; h < p->n_head; h++) {
                const float *qq = q + b * qd + (size_t)h * p->head_dim;
                const float *kc = cache[0] + h / (p->n_head / p->n_head_kv) * p->head_dim;
                float lo = INFINITY, hi = -INFINITY;
                for (size_t tt = 0; tt <= GL_POS0 + b; tt++) {
                    float dot = 0.0f;
                    for (uint32_t i = 0; i < p->head_dim; i++) dot += qq[i] * kc[tt * kvd + i];
                    lo = fminf(lo, dot), hi = fmaxf(hi, dot);
                }
                zeros += (hi - lo) / sqrtf((float)p->head_dim) > 88.0f;
            }
        assert_true(zeros > 0);
        free(want);
        free(out);
        for (int kv = 0; kv < 2; kv++) {
            free(cache[kv]);
            free(raw[kv]);
        }
        free(q);
        free(k);
        free(v);
        side_reset(t);
    }
    printf("backend %s: attention of %zu prompt rows over %s caches, %s\n", name, gn, f16 ? "F16" : "F32",
           exact ? "the spec's bits" : "within tolerance");
}

static void case_attention_groups(struct side *t, struct side *r, bool exact, const char *name)
{
    /* 40 rows: two groups and 8 alone; 32 rows: only groups (the CPU then
     * runs its units head by head, cpu_backend.c attn_unit) */
    for (size_t gn = 32; gn <= GL_N; gn += GL_N - 32)
        for (int f16 = 0; f16 < 2; f16++) {
            attention_groups_on(t, name, f16, exact, gn);
            attention_groups_on(r, "cpu", f16, true, gn);
        }
}

static void test_attention_groups(void **state)
{
    (void)state;
    each_backend(case_attention_groups);
}

/* ---- whole generated models on every backend -------------------------------------- */

/* Prompt of 6 in one batch, then 6 greedy steps; all logits. */
static void run_model(const char *path, const char *backend, bool det, float *logits, size_t per)
{
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model *m = NULL;
    struct zt_model_run_opts ro = {.backend = backend, .deterministic = det};
    int rc = zt_model_load_opts(path, &ro, &m, &err);
    if (rc) fprintf(stderr, "%s on %s: %s\n", path, backend, zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_buf_deinit(&err);
    assert_string_equal(zt_model_backend(m), backend);
    struct zt_seq *s;
    assert_int_equal(zt_seq_new(m, 32, &s), 0);
    struct zt_batch_item items[6];
    for (int i = 0; i < 6; i++) items[i] = (struct zt_batch_item){s, 1 + 37 * i, logits + (size_t)i * per};
    assert_int_equal(zt_model_decode(m, items, 6), 0);
    for (int g = 6; g < 12; g++) {
        const float *prev = logits + (size_t)(g - 1) * per;
        int32_t best = 0;
        for (size_t v = 1; v < per; v++)
            if (prev[v] > prev[best]) best = (int32_t)v;
        struct zt_batch_item it = {s, best, logits + (size_t)g * per};
        assert_int_equal(zt_model_decode(m, &it, 1), 0);
    }
    zt_seq_free(s);
    zt_model_free(m);
}

static void test_models(void **state)
{
    (void)state;
    need_only_backend();
    char dir[] = "/tmp/zt-backend-ops-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const struct {
        const char *arch;
        enum zt_ggml_type type;
    } cases[] = {{"llama", ZT_GGML_Q8_0}, {"qwen2", ZT_GGML_F16}, {"llama", ZT_GGML_Q4_K}, {"llama", ZT_GGML_Q4_0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct zt_genmodel_opts o;
        zt_genmodel_defaults(&o);
        o.arch = cases[c].arch;
        o.type = cases[c].type;
        o.n_embd = 256;
        o.n_head = 8;
        o.n_head_kv = 2;
        o.n_ff = 512;
        o.n_layer = 2;
        o.seed = 7 + c;
        char path[128];
        snprintf(path, sizeof path, "%s/m%zu.gguf", dir, c);
        struct zt_buf err;
        zt_buf_init(&err, 1024);
        assert_int_equal(zt_genmodel_write(&o, path, &err), 0);
        zt_buf_deinit(&err);
        size_t per = o.n_vocab;
        float *ref = malloc(12 * per * sizeof(float)), *got = malloc(12 * per * sizeof(float));
        assert_true(ref && got);
        run_model(path, "cpu", false, ref, per);
        for (size_t i = 0; i < zt__backend_count(); i++) {
            const struct zt__backend_reg *reg = zt__backend_at(i);
            if (passed_over(reg) || not_selected(reg)) continue;
            struct zt__backend *probe;
            struct zt__backend_params p = {.n_threads = 1};
            int rc = reg->create(&p, &probe);
            if (rc == ZT_ENOTFOUND) continue;
            assert_int_equal(rc, 0);
            bool exact = probe->exact, ok = probe->ops->supports(probe, o.type);
            zt__backend_free(probe);
            if (!ok) {
                printf("  %s model %s %s: not supported, not tested\n", reg->name, o.arch, zt_ggml_type_name(o.type));
                continue;
            }
            run_model(path, reg->name, false, got, per);
            compare(reg->name, exact, "model", o.arch, o.type, ref, got, 12 * per);
            /* the deterministic mode, when the backend has one here: the CPU's bits */
            p.exact = true;
            assert_int_equal(reg->create(&p, &probe), 0);
            bool det = probe->exact && !exact;
            zt__backend_free(probe);
            if (det) {
                run_model(path, reg->name, true, got, per);
                compare(reg->name, true, "model (deterministic)", o.arch, o.type, ref, got, 12 * per);
                printf("  %-8s %-10s %-28s %-5s bit-identical\n", reg->name, "model", "deterministic mode",
                       zt_ggml_type_name(o.type));
            }
        }
        free(ref);
        free(got);
        unlink(path);
    }
    rmdir(dir);
}

static void test_registry(void **state)
{
    (void)state;
    need_only_backend();
    assert_true(zt__backend_count() >= 1);
    assert_string_equal(zt__backend_at(0)->name, "cpu");
    assert_null(zt__backend_at(zt__backend_count()));
    struct zt__backend *be = NULL;
    assert_int_equal(zt__backend_new("no-such-backend", NULL, &be), ZT_ENOTFOUND);
    assert_null(be);
    assert_int_equal(zt__backend_new(NULL, NULL, &be), 0);
    assert_string_equal(be->ops->name, "cpu");
    assert_true(be->exact);
    assert_int_equal(be->ops->set_threads(be, 0), ZT_EINVAL);
    assert_false(be->ops->supports(be, ZT_GGML_Q8_K));
    zt__backend_free(be);
    zt__backend_free(NULL);
    /* every backend fills every slot of its table */
    for (size_t i = 0; i < zt__backend_count(); i++) {
        struct zt__backend_params p = {.n_threads = 1};
        if (passed_over(zt__backend_at(i)) || zt__backend_at(i)->create(&p, &be) != 0) continue;
        const struct zt__backend_ops *op = be->ops;
        assert_true(op->name && op->free && op->set_threads && op->supports && op->buffer_alloc &&
                    op->buffer_free && op->buffer_map && op->buffer_unmap && op->buffer_set && op->buffer_get &&
                    op->get_rows && op->rmsnorm && op->matmul && op->add && op->rope && op->kv_store &&
                    op->attention && op->swiglu);
        zt__backend_free(be);
    }
    /* an unknown backend name is a clear load error */
    struct zt_buf err;
    zt_buf_init(&err, 512);
    struct zt_model *m = NULL;
    assert_int_equal(zt_model_load_on("/nonexistent.gguf", "no-such-backend", &m, &err), ZT_ENOTFOUND);
    assert_non_null(strstr(zt_buf_str(&err), "no-such-backend"));
    zt_buf_deinit(&err);
}

/* The CPU backend's SwiGLU on every kernel path (the AVX-512 one runs
 * ew_avx512.c's zt__expf lane by lane) against the scalar formula over the
 * float range: every 4093rd bit pattern, so NaNs, +-Inf, subnormals and
 * both sides of the exponential's cut-offs (x < -87.5, x > 88.72..., the
 * flush of results below the smallest normal) come in; u is 1 or random.
 * NaN results only need to be NaN (payloads are not part of the contract). */
static void test_cpu_swiglu_range(void **state)
{
    (void)state;
    enum { STEP = 4093 };
    size_t n = (size_t)(UINT32_MAX / STEP) + 1, bytes = n * sizeof(float);
    float *g = malloc(bytes), *u = rand_f32(n, 4.0f), *want = malloc(bytes);
    assert_true(g && u && want);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)(i * STEP);
        memcpy(&g[i], &bits, sizeof bits);
        if (i % 2) u[i] = 1.0f;
        want[i] = (g[i] / (1.0f + zt__expf(-g[i]))) * u[i];
    }
    enum zt_quant_isa orig = zt_quant_isa_current();
    for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
        if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0) continue;
        struct zt__backend *be;
        assert_int_equal(zt__backend_new("cpu", NULL, &be), 0);
        struct side sd = {.be = be};
        /* one row of n (split by elements) and rows of 1000 (by rows) */
        for (int shape = 0; shape < 2; shape++) {
            size_t ne0 = shape == 0 ? n : 1000, ne1 = shape == 0 ? 1 : n / 1000, nb = ne0 * ne1 * sizeof(float);
            struct zt__tensor gt = zt__tensor_f32(side_put(&sd, g, nb, false), 0, ne0, ne1);
            struct zt__tensor ut = zt__tensor_f32(side_put(&sd, u, nb, false), 0, ne0, ne1);
            struct zt__tensor y = zt__tensor_f32(side_put(&sd, NULL, nb, false), 0, ne0, ne1);
            assert_int_equal(be->ops->swiglu(be, &gt, &ut, &y), 0);
            float *got = side_get(&sd, y.buf, nb);
            for (size_t i = 0; i < ne0 * ne1; i++) {
                if (isnan(want[i]) && isnan(got[i])) continue;
                if (memcmp(&want[i], &got[i], sizeof(float)) != 0) {
                    fprintf(stderr, "swiglu isa %s: g=%a u=%a gives %a, scalar %a\n", zt_quant_isa_name(),
                            (double)g[i], (double)u[i], (double)got[i], (double)want[i]);
                    fail();
                }
            }
            free(got);
            side_reset(&sd);
        }
        zt__backend_free(be);
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    free(g);
    free(u);
    free(want);
}

/* The CPU backend's attention on every kernel path this machine has
 * (scalar, AVX2, AVX-512...; zt_quant_set_isa): decode items over F32 and
 * F16 caches and prompt groups, each against the spec bit for bit, so the
 * AVX2 one-query kernels (attn_avx2.c) and the scalar loops are checked
 * here too, not only the path the machine picks. */
static void test_attention_isas(void **state)
{
    (void)state;
    enum zt_quant_isa orig = zt_quant_isa_current();
    int paths = 0;
    for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
        if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0) {
            printf("attention: kernel path %d not on this CPU, not tested\n", isa);
            continue;
        }
        struct zt__backend *be, *be2;
        assert_int_equal(zt__backend_new("cpu", NULL, &be), 0);
        assert_int_equal(zt__backend_new("cpu", NULL, &be2), 0);
        struct side sd = {.be = be}, sd2 = {.be = be2};
        char name[48];
        snprintf(name, sizeof name, "cpu %s", zt_quant_isa_name());
        case_attention(&sd, &sd2, true, name);
        attention_f16_on(&sd, name);
        for (size_t gn = 32; gn <= GL_N; gn += GL_N - 32)
            for (int f16 = 0; f16 < 2; f16++) attention_groups_on(&sd, name, f16, true, gn);
        zt__backend_free(be);
        zt__backend_free(be2);
        paths++;
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    assert_true(paths >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_buffers, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_get_rows, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_matmul, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_matmul_n, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_elementwise, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_rope, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_attention, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_attention_f16, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_attention_groups, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_attention_isas, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_models, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_cpu_swiglu_range, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
