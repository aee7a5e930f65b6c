/* test_bf16_mode.c: the declared BF16 precision mode (zt_quant.h "BF16
 * mode", docs/internals/quant.md).
 *
 * Pins what AVX512-BF16's vdpbf16ps and vcvtneps2bf16 compute on this CPU
 * against the mode's definition written out here (skipped on a CPU
 * without them), the scalar reference against that definition, every
 * kernel path the CPU has against the scalar reference bit for bit (random
 * tensors, every tail and tile position, values down in the flushed
 * range), and a whole generated F16 model in the mode: batched against
 * token by token, 1 and 3 threads, every path, a build id of its own, and
 * a runner refusing jobs of the other mode. */
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
#include <jansson.h>

#include "zentalk/zt_engine.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_runner.h"
#include "genmodel.h"
#include "zt_test.h"
#include "../../src/engine/quant_int.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static int setup(void **state)
{
    (void)state;
    zt_test_leak_mark();
    assert_int_equal(zt_quant_init(), 0);
    return 0;
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng_u64(void)
{
    return zt_splitmix64(&rng_state);
}

static float bf(uint16_t h) { return zt_test_u2f((uint32_t)h << 16); }

/* A value for the tests: mostly around 1, some tiny (products and sums in
 * the flushed range), some zeros of both signs and huge ones. */
static float rnd_value(int mode)
{
    uint64_t r = rng_u64();
    uint32_t sign = (uint32_t)(r & 1) << 31, mant = (uint32_t)(r >> 1) & 0x7fffffu;
    int e;
    switch (mode) {
    case 0: e = 127 + (int)((r >> 32) % 9) - 6; break;   /* 2^-6 .. 2^2 */
    case 1: e = 1 + (int)((r >> 32) % 12); break;        /* 2^-126 .. 2^-115: tiny products */
    case 2: e = (int)((r >> 32) % 255); break;           /* any exponent, subnormals included */
    default: return (r >> 40) & 1 ? -0.0f : 0.0f;
    }
    return zt_test_u2f(sign | (uint32_t)e << 23 | mant);
}

static int rnd_mode(void)
{
    uint64_t r = rng_u64() % 16;
    return r < 11 ? 0 : r < 13 ? 1 : r < 15 ? 2 : 3;
}

/* ---- the definition, written out ---------------------------------------- */

static float def_ftz(float r)
{
    if (r != r) return r;
    return fabsf(r) < 0x1p-126f ? (zt_test_f2u(r) >> 31 ? -0.0f : 0.0f) : r;
}

static uint16_t def_round(float f)
{
    uint32_t x = zt_test_f2u(f);
    if ((x & 0x7f800000u) == 0) return (uint16_t)((x >> 16) & 0x8000u);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* 16 lanes; pair p (elements 2p, 2p+1, zero past n, n padded to 32) to lane
 * p % 16: the odd product first, each one fma then flush; fold 8, 4, 2, 1. */
static float def_dot(size_t n, const uint16_t *w, const uint16_t *x)
{
    float lane[16];
    for (int l = 0; l < 16; l++) lane[l] = 0.0f;
    for (size_t p = 0; p < (n + 31) / 32 * 16; p++) {
        size_t o = 2 * p + 1, e = 2 * p;
        float wo = o < n ? bf(w[o]) : 0.0f, xo = o < n ? bf(x[o]) : 0.0f;
        float we = e < n ? bf(w[e]) : 0.0f, xe = e < n ? bf(x[e]) : 0.0f;
        lane[p % 16] = def_ftz(fmaf(wo, xo, lane[p % 16]));
        lane[p % 16] = def_ftz(fmaf(we, xe, lane[p % 16]));
    }
    for (int h = 8; h >= 1; h /= 2)
        for (int l = 0; l < h; l++) lane[l] = lane[l] + lane[l + h];
    return lane[0];
}

static void rnd_row(uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = zt_fp32_to_bf16_mode(rnd_value(rnd_mode()));
}

/* ---- the hardware computes the definition --------------------------------- */

#if defined(__x86_64__)
static bool have_avx512bf16(void)
{
    return zt_quant_isa_available(ZT_QUANT_ISA_AVX512BF16);
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void hw_dp(const float *acc, const uint16_t *w,
                                                                          const uint16_t *x, float *out)
{
    __m512 r = _mm512_dpbf16_ps(_mm512_loadu_ps(acc), (__m512bh)_mm512_loadu_si512(w),
                                (__m512bh)_mm512_loadu_si512(x));
    _mm512_storeu_ps(out, r);
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void hw_cvt(const float *src, uint16_t *dst)
{
    __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(src));
    memcpy(dst, &v, 32);
}
#endif

/* One vdpbf16ps per 16 lanes on random and corner-case data, against the
 * definition's two fma-and-flush steps (odd element first); and
 * vcvtneps2bf16 against the mode's rounding. */
static void test_bf16_mode_hw(void **state)
{
    (void)state;
#if defined(__x86_64__)
    if (!have_avx512bf16()) {
        zt_skip("this CPU has no AVX512-BF16 (vdpbf16ps): the hardware check of the BF16 mode's definition "
                "cannot run here; the other paths are still checked against the scalar reference");
        return;
    }
    long lanes = 0;
    for (int it = 0; it < 100000; it++) {
        float acc[16], out[16];
        uint16_t w[32], x[32];
        for (int i = 0; i < 32; i++) {
            w[i] = zt_fp32_to_bf16_mode(rnd_value(rnd_mode()));
            x[i] = zt_fp32_to_bf16_mode(rnd_value(rnd_mode()));
        }
        for (int l = 0; l < 16; l++) {
            uint64_t r = rng_u64() % 4;
            /* accumulators are never subnormal (every step flushes) */
            acc[l] = r == 0 ? def_ftz(rnd_value(0)) : r == 1 ? def_ftz(rnd_value(1))
                   : r == 2 ? -(bf(w[2 * l]) * bf(x[2 * l]) + bf(w[2 * l + 1]) * bf(x[2 * l + 1]))
                            : 0.0f;
            acc[l] = def_ftz(acc[l]);
        }
        hw_dp(acc, w, x, out);
        for (int l = 0; l < 16; l++, lanes++) {
            float want = def_ftz(fmaf(bf(w[2 * l + 1]), bf(x[2 * l + 1]), acc[l]));
            want = def_ftz(fmaf(bf(w[2 * l]), bf(x[2 * l]), want));
            if (want != want && out[l] != out[l]) continue; /* NaN payloads are not part of the contract */
            if (zt_test_f2u(want) != zt_test_f2u(out[l]))
                fail_msg("vdpbf16ps lane %d: acc %a + %a*%a + %a*%a gave %a, the definition %a", l, (double)acc[l],
                         (double)bf(w[2 * l + 1]), (double)bf(x[2 * l + 1]), (double)bf(w[2 * l]),
                         (double)bf(x[2 * l]), (double)out[l], (double)want);
        }
    }
    /* the rounding corner: the exact sum 2^-126 - 2^-152 rounds to 2^-126,
     * which FTZ keeps (tininess after rounding) */
    {
        float acc[16] = {0}, out[16];
        uint16_t w[32] = {0}, x[32] = {0};
        acc[0] = 0x1p-126f * (1 + 0x1p-12f + 0x1p-18f);
        w[1] = def_round(-0x1p-12f * (1 + 0x1p-7f));
        x[1] = def_round(0x1p-126f * (1 + 0x1p-7f));
        hw_dp(acc, w, x, out);
        assert_true(out[0] == 0x1p-126f);
        assert_true(def_ftz(fmaf(bf(w[1]), bf(x[1]), acc[0])) == 0x1p-126f);
    }
    /* conversion: every exponent, ties, subnormals, NaN */
    for (int it = 0; it < 20000; it++) {
        float src[16];
        uint16_t got[16];
        for (int l = 0; l < 16; l++) {
            uint64_t r = rng_u64();
            src[l] = (r & 7) == 0 ? zt_test_u2f(zt_test_f2u(rnd_value(2)) | 0x8000u) /* a tie */ : rnd_value((int)(r >> 8) % 3);
        }
        hw_cvt(src, got);
        for (int l = 0; l < 16; l++) {
            uint16_t want = zt_fp32_to_bf16_mode(src[l]);
            assert_int_equal(want, def_round(src[l]));
            if (zt_test_f2u(src[l]) << 1 > 0xff000000u) continue; /* NaN: quiet either way */
            if (got[l] != want) fail_msg("vcvtneps2bf16(%a) = %04x, the mode's rounding %04x", (double)src[l], got[l], want);
        }
    }
    printf("vdpbf16ps: %ld lanes equal to the definition; vcvtneps2bf16 equal to the mode's rounding\n", lanes);
#else
    zt_skip("not an x86-64 build: no AVX512-BF16 to check");
#endif
}

/* The mode's rounding: known values. */
static void test_bf16_mode_round(void **state)
{
    (void)state;
    assert_int_equal(zt_fp32_to_bf16_mode(1.0f), 0x3f80);
    assert_int_equal(zt_fp32_to_bf16_mode(1.0f + 0x1p-8f), 0x3f80);         /* tie to even */
    assert_int_equal(zt_fp32_to_bf16_mode(1.0f + 3 * 0x1p-8f), 0x3f82);     /* tie to even, up */
    assert_int_equal(zt_fp32_to_bf16_mode(0x1p-130f), 0x0000);              /* subnormal: +0 */
    assert_int_equal(zt_fp32_to_bf16_mode(-0x1p-149f), 0x8000);             /* subnormal: -0 */
    assert_int_equal(zt_fp32_to_bf16_mode(0x1p-126f), 0x0080);              /* smallest normal kept */
    assert_int_equal(zt_fp32_to_bf16_mode(zt_test_u2f(0x7f7fffffu)), 0x7f80);       /* rounds to +Inf */
    assert_int_equal(zt_fp32_to_bf16_mode(zt_test_u2f(0x7f812345u)), 0x7fc1);       /* NaN made quiet */
    /* F16 weights: every value, exactly widened then rounded */
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t in = (uint16_t)h, got;
        assert_int_equal(zt_quant_bf16_weights(ZT_GGML_F16, &in, &got, 1), 0);
        float f = zt_fp16_to_fp32(in);
        if (f != f) continue;
        assert_int_equal(got, def_round(f));
    }
    uint16_t d;
    assert_int_equal(zt_quant_bf16_weights(ZT_GGML_Q8_0, &d, &d, 1), ZT_EINVAL);
    enum zt_precision p;
    assert_int_equal(zt_precision_parse("bf16", &p), 0);
    assert_int_equal(p, ZT_PRECISION_BF16);
    assert_int_equal(zt_precision_parse("exact", &p), 0);
    assert_int_equal(p, ZT_PRECISION_EXACT);
    assert_int_equal(zt_precision_parse("fp16", &p), ZT_EINVAL);
    assert_string_equal(zt_precision_name(ZT_PRECISION_BF16), "bf16");
}

/* The scalar reference is the definition, and every path the CPU has gives
 * the scalar bits: lengths 1..70 and longer ones with tails, every tile
 * position of the matrix product (rows from an offset, batch 1..9). */
static void test_bf16_mode_paths(void **state)
{
    (void)state;
    enum zt_quant_isa orig = zt_quant_isa_current();
    static const size_t lens[] = {1, 2, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 70, 96, 256, 288, 800};
    enum { ROWS = 11, BATCH = 9, NMAX = 800 };
    uint16_t *w = zt_malloc(sizeof(uint16_t) * ROWS * NMAX), *x = zt_malloc(sizeof(uint16_t) * BATCH * NMAX);
    float *ref = zt_malloc(sizeof(float) * ROWS * BATCH), *got = zt_malloc(sizeof(float) * ROWS * BATCH);
    assert_non_null(w);
    assert_non_null(x);
    assert_non_null(ref);
    assert_non_null(got);
    int checked[ZT_QUANT_ISA_COUNT] = {0};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        rnd_row(w, (size_t)ROWS * n);
        rnd_row(x, (size_t)BATCH * n);
        assert_int_equal(zt_quant_set_isa(ZT_QUANT_ISA_SCALAR), 0);
        for (size_t b = 0; b < BATCH; b++)
            for (size_t r = 0; r < ROWS; r++) {
                zt_quant_vec_dot_bf16(n, w + r * n, x + b * n, &ref[b * ROWS + r]);
                float want = def_dot(n, w + r * n, x + b * n);
                if (zt_test_f2u(want) != zt_test_f2u(ref[b * ROWS + r]) && !(want != want))
                    fail_msg("scalar reference n=%zu row %zu x %zu: %a, the definition %a", n, r, b,
                             (double)ref[b * ROWS + r], (double)want);
            }
        for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
            if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0) continue;
            checked[isa]++;
            for (size_t batch = 1; batch <= BATCH; batch++)
                for (size_t r0 = 0; r0 < 3; r0++) {
                    for (size_t i = 0; i < ROWS * BATCH; i++) got[i] = -1.0f;
                    assert_int_equal(zt_quant_matmul_bf16(w, n * 2, r0, ROWS, x, n * 2, batch, got, ROWS, n), 0);
                    for (size_t b = 0; b < batch; b++)
                        for (size_t r = r0; r < ROWS; r++) {
                            float a = ref[b * ROWS + r], g = got[b * ROWS + r];
                            if (zt_test_f2u(a) != zt_test_f2u(g) && !(a != a && g != g))
                                fail_msg("path %d n=%zu rows %zu.. batch %zu: element (%zu, %zu) %a, scalar %a", isa, n,
                                         r0, batch, r, b, (double)g, (double)a);
                        }
                    for (size_t r = 0; r < r0; r++) assert_true(got[r] == -1.0f); /* outside the range: untouched */
                }
            float one;
            zt_quant_vec_dot_bf16(n, w, x, &one);
            assert_memory_equal(&one, &ref[0], sizeof one);
        }
    }
    for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++)
        if (!checked[isa]) printf("skip: kernel path %d is not on this CPU\n", isa);
    char paths[512];
    zt_quant_paths(paths, sizeof paths);
    assert_non_null(strstr(paths, "bf16-mode="));
    assert_int_equal(zt_quant_matmul_bf16(w, 2, 3, 2, x, 2, 1, got, 4, 4), ZT_EINVAL);
    assert_int_equal(zt_quant_set_isa(orig), 0);
    zt_free(w);
    zt_free(x);
    zt_free(ref);
    zt_free(got);
}

/* Review F3: a path whose BF16-mode kernels differ from the definition on
 * the self-test's corners (quant.c) is not used for the mode; the hook
 * forces such a difference on the path in use, which then gives way to
 * the path below (the emulation, or the scalar definition), same bits. */
/* The path name after "bf16-mode=" in `m` into out: letters and digits. */
static size_t mode_word(const char *m, char *out, size_t cap)
{
    const char *p = m + strlen("bf16-mode=");
    size_t n = 0;
    while (n + 1 < cap && ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9'))) {
        out[n] = p[n];
        n++;
    }
    out[n] = '\0';
    return n;
}

static void test_bf16_mode_selftest(void **state)
{
    (void)state;
    char paths[512];
    zt_quant_paths(paths, sizeof paths);
    const char *m = strstr(paths, "bf16-mode=");
    assert_non_null(m);
    char was[32];
    assert_true(mode_word(m, was, sizeof was) > 0);
    if (strcmp(was, "scalar") == 0) {
        zt_skip("the BF16 mode runs the scalar definition here (no AVX2): no faster path to refuse");
        return;
    }
    int isa = -1;
    enum zt_quant_isa orig = zt_quant_isa_current();
    for (int i = 0; i < ZT_QUANT_ISA_COUNT && isa < 0; i++) {
        if (zt_quant_set_isa((enum zt_quant_isa)i) == 0 && strcmp(zt_quant_isa_name(), was) == 0) isa = i;
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    assert_true(isa > 0);
    uint16_t w[96], x[96];
    rnd_row(w, 96);
    rnd_row(x, 96);
    zt__quant_bf16m_selftest_force(1u << isa);
    zt_quant_paths(paths, sizeof paths);
    m = strstr(paths, "bf16-mode=");
    assert_non_null(m);
    char now[32];
    assert_true(mode_word(m, now, sizeof now) > 0);
    if (strcmp(now, was) == 0) fail_msg("a forced self-test mismatch of %s left it in use", was);
    float got, want = def_dot(96, w, x);
    zt_quant_vec_dot_bf16(96, w, x, &got);
    assert_true(zt_test_f2u(got) == zt_test_f2u(want) || (got != got && want != want));
    zt__quant_bf16m_selftest_force(0);
    zt_quant_paths(paths, sizeof paths);
    assert_non_null(strstr(paths, was)); /* the real test passes again on this CPU */
    printf("bf16-mode: %s, with a forced mismatch %s\n", was, now);
}

/* ---- a whole generated F16 model in the mode ------------------------------ */

static void gen_f16(const char *dir, char *path, size_t cap)
{
    struct zt_genmodel_opts o;
    zt_genmodel_defaults(&o);
    o.arch = "llama";
    o.type = ZT_GGML_F16;
    o.n_embd = 256;
    o.n_head = 8;
    o.n_head_kv = 2;
    o.n_ff = 512;
    o.n_layer = 2;
    o.seed = 7;
    snprintf(path, cap, "%s/f16.gguf", dir);
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    int rc = zt_genmodel_write(&o, path, &err);
    if (rc) fprintf(stderr, "%s\n", zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_buf_deinit(&err);
}

static struct zt_model *load_mode(const char *path, int precision)
{
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model_run_opts o = {.precision = precision};
    struct zt_model *m = NULL;
    int rc = zt_model_load_opts(path, &o, &m, &err);
    if (rc) fprintf(stderr, "%s\n", zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_buf_deinit(&err);
    return m;
}

enum { NP = 12 };
static const int32_t prompt[NP] = {1, 290, 300, 301, 17, 99, 5, 260, 311, 42, 7, 280};

/* Logits of the last prompt token (one batch, or token by token). */
static void last_logits(struct zt_model *m, bool tok_by_tok, float *out)
{
    struct zt_seq *s;
    assert_int_equal(zt_seq_new(m, 32, &s), 0);
    struct zt_batch_item items[NP];
    for (int i = 0; i < NP; i++) items[i] = (struct zt_batch_item){s, prompt[i], i == NP - 1 ? out : NULL};
    if (tok_by_tok)
        for (int i = 0; i < NP; i++) assert_int_equal(zt_model_decode(m, &items[i], 1), 0);
    else
        assert_int_equal(zt_model_decode(m, items, NP), 0);
    zt_seq_free(s);
}

static void test_bf16_mode_model(void **state)
{
    (void)state;
    char dir[] = "/tmp/zt-bf16mode-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    gen_f16(dir, path, sizeof path);
    struct zt_model *ex = load_mode(path, ZT_PRECISION_EXACT), *m = load_mode(path, ZT_PRECISION_BF16);
    assert_int_equal(zt_model_precision(ex), ZT_PRECISION_EXACT);
    assert_int_equal(zt_model_precision(m), ZT_PRECISION_BF16);
    size_t nv = zt_model_hparams(m)->n_vocab;
    float *ref = zt_malloc(nv * sizeof(float)), *got = zt_malloc(nv * sizeof(float)),
          *exact = zt_malloc(nv * sizeof(float));
    assert_non_null(ref);
    assert_non_null(got);
    assert_non_null(exact);
    last_logits(ex, false, exact);
    last_logits(m, false, ref);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < nv; i++) {
        double d = fabs((double)ref[i] - exact[i]);
        if (d > worst) worst = d;
        if (fabs(exact[i]) > scale) scale = fabs(exact[i]);
    }
    printf("BF16 mode: max |logit difference| to exact %.3g (largest logit %.3g)\n", worst, scale);
    assert_true(worst <= 5e-2 * scale);                        /* bf16 inputs: close, */
    assert_true(memcmp(ref, exact, nv * sizeof(float)) != 0); /* but not the exact bits */
    /* deterministic within the mode: token by token, threads, every path */
    last_logits(m, true, got);
    assert_memory_equal(ref, got, nv * sizeof(float));
    assert_int_equal(zt_model_set_threads(m, 3), 0);
    last_logits(m, false, got);
    assert_memory_equal(ref, got, nv * sizeof(float));
    assert_int_equal(zt_model_set_threads(m, 1), 0);
    enum zt_quant_isa orig = zt_quant_isa_current();
    for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
        if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0) {
            printf("skip: kernel path %d is not on this CPU\n", isa);
            continue;
        }
        last_logits(m, false, got);
        if (memcmp(ref, got, nv * sizeof(float)) != 0) fail_msg("kernel path %d: other logits in the BF16 mode", isa);
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    /* a device backend is refused the mode; an unknown mode is an error */
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model *bad = NULL;
    struct zt_model_run_opts o = {.backend = "vulkan", .precision = ZT_PRECISION_BF16};
    assert_int_equal(zt_model_load_opts(path, &o, &bad, &err), ZT_EUNSUPPORTED);
    assert_non_null(strstr(zt_buf_str(&err), "BF16"));
    o = (struct zt_model_run_opts){.precision = 9};
    assert_int_equal(zt_model_load_opts(path, &o, &bad, &err), ZT_EINVAL);
    assert_null(bad);
    zt_buf_deinit(&err);
    /* the build id names the mode, with and without an F16 KV cache */
    const char *id = zt_engine_build_id_mode(ZT_GGML_F32, ZT_PRECISION_BF16);
    assert_non_null(strstr(id, "+bf16"));
    assert_string_equal(zt_engine_build_id_mode(ZT_GGML_F32, ZT_PRECISION_EXACT), zt_engine_build_id());
    assert_string_equal(zt_engine_build_id_mode(ZT_GGML_F16, ZT_PRECISION_EXACT), zt_engine_build_id_kv(ZT_GGML_F16));
    assert_non_null(strstr(zt_engine_build_id_mode(ZT_GGML_F16, ZT_PRECISION_BF16), "+kv-f16+bf16"));
    zt_free(ref);
    zt_free(got);
    zt_free(exact);
    zt_model_free(ex);
    zt_model_free(m);
    unlink(path);
    rmdir(dir);
}

/* ---- the runner: the mode in the job's parameters and in its build id ---- */

struct result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int err;
    char engine[160];
    int32_t ids[16];
    size_t n_ids;
    uint8_t hash[ZT_SAMPLER_HASH_LEN];
    int32_t first_mismatch;
};

static void on_event(void *ud, const struct zt_job_event *ev)
{
    struct result *r = ud;
    pthread_mutex_lock(&r->mu);
    if (ev->engine) snprintf(r->engine, sizeof r->engine, "%s", ev->engine);
    if (ev->kind == ZT_JOB_TEXT && ev->token >= 0 && r->n_ids < 16) r->ids[r->n_ids++] = ev->token;
    if (ev->kind == ZT_JOB_DONE) {
        memcpy(r->hash, ev->hash, sizeof r->hash);
        r->first_mismatch = ev->first_mismatch;
    }
    if (ev->kind == ZT_JOB_DONE || ev->kind == ZT_JOB_ERROR) {
        r->err = ev->kind == ZT_JOB_ERROR ? ev->err : 0;
        r->done = true;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

static struct zt_runner *runner_in(const char *path, bool bf, bool kv16)
{
    struct zt_model *m = load_mode(path, bf ? ZT_PRECISION_BF16 : ZT_PRECISION_EXACT);
    assert_int_equal(zt_model_set_kv_type(m, kv16 ? ZT_GGML_F16 : ZT_GGML_F32), 0);
    struct zt_runner_opts ro = {.n_slots = 1, .n_ctx = 64, .n_threads = 1, .max_queue = 4};
    struct zt_runner *r = NULL;
    assert_int_equal(zt_runner_new(m, &ro, &r), 0);
    return r;
}

static int run_job(struct zt_runner *r, struct zt_job_params *p, struct result *res)
{
    memset(res, 0, sizeof *res);
    pthread_mutex_init(&res->mu, NULL);
    pthread_cond_init(&res->cv, NULL);
    uint64_t id;
    int rc = zt_runner_submit(r, prompt, 6, p, on_event, res, &id);
    if (!rc) {
        pthread_mutex_lock(&res->mu);
        while (!res->done) pthread_cond_wait(&res->cv, &res->mu);
        pthread_mutex_unlock(&res->mu);
        rc = res->err;
    }
    pthread_cond_destroy(&res->cv);
    pthread_mutex_destroy(&res->mu);
    return rc;
}

static void test_bf16_mode_runner(void **state)
{
    (void)state;
    char dir[] = "/tmp/zt-bf16run-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    gen_f16(dir, path, sizeof path);
    for (int bf = 0; bf < 2; bf++)
        for (int kv16 = 0; kv16 < 2; kv16++) {
            struct zt_runner *r = runner_in(path, bf, kv16);
            struct zt_job_params p;
            memset(&p, 0, sizeof p);
            zt_sampler_params_default(&p.sampler);
            p.sampler.seed = 5;
            p.max_tokens = 3;
            p.ignore_eos = true;
            struct result res;
            /* the other mode: refused, never run in this one */
            p.precision = bf ? ZT_JOB_PRECISION_EXACT : ZT_JOB_PRECISION_BF16;
            assert_int_equal(run_job(r, &p, &res), ZT_EUNSUPPORTED);
            p.precision = (enum zt_job_precision)7;
            assert_int_equal(run_job(r, &p, &res), ZT_EINVAL);
            for (int k = 0; k < 2; k++) {
                p.precision = k == 0 ? ZT_JOB_PRECISION_ANY : bf ? ZT_JOB_PRECISION_BF16 : ZT_JOB_PRECISION_EXACT;
                assert_int_equal(run_job(r, &p, &res), 0);
                const char *want = zt_engine_build_id_mode(kv16 ? ZT_GGML_F16 : ZT_GGML_F32,
                                                           bf ? ZT_PRECISION_BF16 : ZT_PRECISION_EXACT);
                assert_string_equal(res.engine, want);
                assert_true((strstr(res.engine, "+bf16") != NULL) == (bf == 1));
            }
            zt_runner_free(r);
        }
    unlink(path);
    rmdir(dir);
}

/* The OpenAI field: a request names the mode it accepts; the other mode
 * than the node's is refused (never run in this one), a bad value is a 400. */
static void test_bf16_mode_request(void **state)
{
    (void)state;
    char dir[] = "/tmp/zt-bf16req-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    gen_f16(dir, path, sizeof path);
    for (int bf = 0; bf < 2; bf++) {
        struct zt_infer_opts io = {.n_threads = 1, .n_slots = 1, .n_ctx = 64, .precision = bf ? "bf16" : NULL};
        struct zt_infer *inf = NULL;
        assert_int_equal(zt_infer_new_file(path, &io, &inf), 0);
        static const char *const asks[] = {NULL, "exact", "bf16", "fp8"};
        for (size_t a = 0; a < 4; a++) {
            json_t *body = json_pack("{s:s,s:i}", "prompt", "hello", "max_tokens", 2);
            assert_non_null(body);
            if (asks[a]) assert_int_equal(json_object_set_new(body, "precision", json_string(asks[a])), 0);
            struct zt_infer_job *job = NULL;
            struct zt_infer_err err;
            memset(&err, 0, sizeof err);
            int rc = zt_infer_job_openai(inf, body, false, &job, &err);
            if (a == 0 || (int)a == 1 + bf) {
                if (rc) fprintf(stderr, "%s: %s\n", err.code, err.message);
                assert_int_equal(rc, 0);
            } else if (a == 3) {
                assert_int_equal(rc, ZT_EINVAL);
                assert_string_equal(err.code, "invalid_request");
            } else {
                assert_int_equal(rc, ZT_EUNSUPPORTED);
                assert_string_equal(err.code, "precision_unavailable");
                assert_non_null(strstr(err.message, bf ? "runs in bf16" : "runs in exact"));
            }
            zt_infer_job_free(job);
            json_decref(body);
        }
        zt_infer_shutdown(inf);
        zt_infer_free(inf);
    }
    /* the longest build id still fits a receipt */
    assert_true(strlen(zt_engine_build_id_mode(ZT_GGML_F16, ZT_PRECISION_BF16)) + strlen("+fast") <= ZT_ENV_BUILD_ID_MAX);
    unlink(path);
    rmdir(dir);
}

/* ---- verification compares like with like --------------------------------- */

/* A worker in the BF16 mode and/or with an F16 KV cache generates; the
 * check of its job carries its modes (zt_job_body_pin_mode from the build id
 * its checkpoint signs): a checker in the same modes agrees (the same chain,
 * no mismatch), one in other modes refuses the job (the body's fields at the
 * worker's builder, the runner's parameters) instead of answering other
 * bits; unpinned, such a checker would have given another chain: the false
 * alarm this prevents. */
static void test_verify_like_with_like(void **state)
{
    (void)state;
    char dir[] = "/tmp/zt-bf16ver-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    gen_f16(dir, path, sizeof path);
    for (int wm = 1; wm < 4; wm++) { /* the worker: bf16, kv f16, both */
        bool wbf = wm & 1, wkv = (wm & 2) != 0;
        struct zt_runner *w = runner_in(path, wbf, wkv);
        struct zt_job_params p;
        memset(&p, 0, sizeof p);
        zt_sampler_params_default(&p.sampler);
        p.sampler.seed = 11;
        p.max_tokens = 6;
        p.ignore_eos = true;
        p.want_ids = true;
        struct result gen, ver;
        assert_int_equal(run_job(w, &p, &gen), 0);
        assert_int_equal(gen.n_ids, 6);
        char engine[160];
        snprintf(engine, sizeof engine, "%s", gen.engine);
        /* the check's body pins the worker's modes; the checker's decoder takes it */
        const char *body0 = "{\"v\":2,\"kind\":\"completion\",\"prompt\":\"hello\",\"seed\":11}";
        char *pinned = NULL;
        size_t plen = 0;
        assert_int_equal(zt_job_body_pin_mode(body0, strlen(body0), engine, &pinned, &plen), 0);
        struct zt_job_request jr;
        const char *why = NULL;
        assert_int_equal(zt_job_body_decode((const uint8_t *)pinned, plen, "m", 6, &jr, &why), 0);
        assert_string_equal(json_string_value(json_object_get(jr.request, "precision")), wbf ? "bf16" : "exact");
        assert_string_equal(json_string_value(json_object_get(jr.request, "kv_cache")), wkv ? "f16" : "f32");
        for (int cm = 0; cm < 4; cm++) { /* the checker's modes */
            bool cbf = cm & 1, ckv = (cm & 2) != 0;
            /* the checker's builder: refused in other modes */
            struct zt_infer_opts io = {.n_threads = 1, .n_slots = 1, .n_ctx = 64, .precision = cbf ? "bf16" : "exact"};
            struct zt_infer *inf = NULL;
            assert_int_equal(zt_infer_new_file(path, &io, &inf), 0);
            json_t *rq = json_deep_copy(jr.request);
            assert_int_equal(json_object_set_new(rq, "model", json_string(path)), 0);
            struct zt_infer_job *ij = NULL;
            struct zt_infer_err ierr;
            memset(&ierr, 0, sizeof ierr);
            int brc = zt_infer_job_openai(inf, rq, false, &ij, &ierr);
            json_decref(rq);
            zt_infer_job_free(ij);
            zt_infer_shutdown(inf);
            zt_infer_free(inf);
            /* (its KV type is gpu_pool.kv_cache_type; zt_infer_new_file's is f32) */
            bool same = cbf == wbf && ckv == wkv;
            if (cbf != wbf) {
                assert_int_equal(brc, ZT_EUNSUPPORTED);
                assert_string_equal(ierr.code, "precision_unavailable");
            } else if (wkv) {
                assert_int_equal(brc, ZT_EUNSUPPORTED);
                assert_string_equal(ierr.code, "kv_cache_unavailable");
            } else {
                assert_int_equal(brc, 0);
            }
            /* the checker's runner, given the pinned parameters */
            struct zt_runner *c = runner_in(path, cbf, ckv);
            struct zt_job_params vp = p;
            vp.force = ZT_JOB_FORCE_VERIFY;
            vp.forced = gen.ids;
            vp.n_forced = gen.n_ids;
            vp.want_ids = false;
            vp.precision = wbf ? ZT_JOB_PRECISION_BF16 : ZT_JOB_PRECISION_EXACT;
            vp.kv = wkv ? ZT_JOB_KV_F16 : ZT_JOB_KV_F32;
            int vrc = run_job(c, &vp, &ver);
            if (same) {
                assert_int_equal(vrc, 0);
                assert_int_equal(ver.first_mismatch, -1);
                assert_memory_equal(ver.hash, gen.hash, sizeof gen.hash);
                assert_string_equal(ver.engine, engine);
            } else {
                assert_int_equal(vrc, ZT_EUNSUPPORTED);
                /* unpinned it would have answered other bits */
                vp.precision = ZT_JOB_PRECISION_ANY;
                vp.kv = ZT_JOB_KV_ANY;
                assert_int_equal(run_job(c, &vp, &ver), 0);
                assert_string_not_equal(ver.engine, engine);
            }
            zt_runner_free(c);
        }
        zt_job_request_deinit(&jr);
        zt_free(pinned);
        zt_runner_free(w);
    }
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free); /* as the node: job bodies are zt_free'd */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bf16_mode_hw, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bf16_mode_selftest, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bf16_mode_round, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bf16_mode_paths, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bf16_mode_model, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bf16_mode_runner, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bf16_mode_request, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_verify_like_with_like, setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
