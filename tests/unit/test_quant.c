/* test_quant.c: tensor formats and dot-product kernels (src/engine/quant*.c).
 *
 * Pins the GGUF block layouts with hand-built blocks, checks conversions
 * over every fp16/bf16 value, quantisation error bounds, kernel accuracy
 * against float64, and, the key property, bit-identical results across every
 * ISA path available on this CPU and across matmul tile positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_quant.h"
#include "zt_test.h"

static int setup(void **state)
{
    (void)state;
    zt_test_leak_mark();
    assert_int_equal(zt_quant_init(), 0);
    return 0;
}

/* ---- deterministic random numbers (splitmix64) ------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_u64(void)
{
    return zt_splitmix64(&rng_state);
}

static double rng_unit(void) /* (0, 1) */
{
    return ((double)(rng_u64() >> 11) + 0.5) * 0x1p-53;
}

static float rng_normal(void)
{
    return (float)(sqrt(-2.0 * log(rng_unit())) * cos(6.283185307179586 * rng_unit()));
}

static void fill_normal(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rng_normal() * scale;
}

static void *xmalloc(size_t n)
{
    void *p = zt_malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

static const enum zt_ggml_type weight_types[] = {ZT_GGML_F32,  ZT_GGML_F16,  ZT_GGML_BF16,
                                                 ZT_GGML_Q8_0, ZT_GGML_Q4_0, ZT_GGML_Q4_K,
                                                 ZT_GGML_Q6_K};
#define N_WEIGHT_TYPES (sizeof weight_types / sizeof weight_types[0])

static const char *tname(enum zt_ggml_type t)
{
    switch (t) {
    case ZT_GGML_F32: return "F32";
    case ZT_GGML_F16: return "F16";
    case ZT_GGML_BF16: return "BF16";
    case ZT_GGML_Q8_0: return "Q8_0";
    case ZT_GGML_Q4_0: return "Q4_0";
    case ZT_GGML_Q4_K: return "Q4_K";
    case ZT_GGML_Q6_K: return "Q6_K";
    case ZT_GGML_Q8_K: return "Q8_K";
    default: return "?";
    }
}

/* ---- conversions ------------------------------------------------------------ */

static void test_fp16_known(void **state)
{
    (void)state;
    assert_true(zt_fp16_to_fp32(0x3c00) == 1.0f);
    assert_true(zt_fp16_to_fp32(0xc000) == -2.0f);
    assert_true(zt_fp16_to_fp32(0x7bff) == 65504.0f);
    assert_true(zt_fp16_to_fp32(0x0001) == 0x1p-24f);
    assert_true(zt_fp16_to_fp32(0x03ff) == 1023 * 0x1p-24f);
    assert_true(zt_fp16_to_fp32(0x0400) == 0x1p-14f);
    assert_true(zt_fp16_to_fp32(0x3555) == 0x1.554p-2f);
    assert_int_equal(zt_test_f2u(zt_fp16_to_fp32(0x8000)), 0x80000000u);
    assert_true(isinf(zt_fp16_to_fp32(0x7c00)) && zt_fp16_to_fp32(0x7c00) > 0);
    assert_true(isinf(zt_fp16_to_fp32(0xfc00)) && zt_fp16_to_fp32(0xfc00) < 0);
    assert_int_equal(zt_test_f2u(zt_fp16_to_fp32(0x7e00)), 0x7fc00000u);
    assert_int_equal(zt_test_f2u(zt_fp16_to_fp32(0x7c01)), 0x7fc02000u); /* sNaN made quiet */

    assert_int_equal(zt_fp32_to_fp16(1.0f), 0x3c00);
    assert_int_equal(zt_fp32_to_fp16(-2.0f), 0xc000);
    assert_int_equal(zt_fp32_to_fp16(65504.0f), 0x7bff);
    assert_int_equal(zt_fp32_to_fp16(65519.996f), 0x7bff);
    assert_int_equal(zt_fp32_to_fp16(65520.0f), 0x7c00); /* tie rounds to even = Inf */
    assert_int_equal(zt_fp32_to_fp16(1e10f), 0x7c00);
    assert_int_equal(zt_fp32_to_fp16(-INFINITY), 0xfc00);
    assert_int_equal(zt_fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);        /* tie -> even */
    assert_int_equal(zt_fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);    /* tie -> even */
    assert_int_equal(zt_fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    assert_int_equal(zt_fp32_to_fp16(0x1p-25f), 0x0000);               /* tie -> 0 */
    assert_int_equal(zt_fp32_to_fp16(0x1.0002p-25f), 0x0001);
    assert_int_equal(zt_fp32_to_fp16(3 * 0x1p-25f), 0x0002);           /* 1.5 -> 2 */
    assert_int_equal(zt_fp32_to_fp16(0x1.ffcp-15f), 0x0400);           /* rounds up to normal */
    assert_int_equal(zt_fp32_to_fp16(-0.0f), 0x8000);
    assert_int_equal(zt_fp32_to_fp16(1e-30f), 0x0000);
    assert_int_equal(zt_fp32_to_fp16(NAN) & 0x7e00, 0x7e00);

    assert_int_equal(zt_fp32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(zt_fp32_to_bf16(1.0f + 0x1p-8f), 0x3f80);     /* tie -> even */
    assert_int_equal(zt_fp32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82); /* tie -> even */
    assert_int_equal(zt_fp32_to_bf16(zt_test_u2f(0x7f7fffffu)), 0x7f80);   /* overflow -> Inf */
    assert_int_equal(zt_fp32_to_bf16(zt_test_u2f(0x7f800001u)) & 0x7fc0, 0x7fc0);
    assert_true(zt_bf16_to_fp32(0xc040) == -3.0f);
}

static void test_fp16_all_values(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = zt_fp16_to_fp32((uint16_t)h);
        bool nan16 = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
        if (nan16) {
            assert_true(isnan(f));
            assert_int_equal(zt_fp32_to_fp16(f), h | 0x200); /* quiet, payload kept */
        } else {
            assert_int_equal(zt_fp32_to_fp16(f), h);
            /* the half-way points to both neighbours round back to h or to
             * the even one of the pair */
        }
        float b = zt_bf16_to_fp32((uint16_t)h);
        bool nanb = (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0;
        if (nanb)
            assert_int_equal(zt_fp32_to_bf16(b), h | 0x40);
        else
            assert_int_equal(zt_fp32_to_bf16(b), h);
    }
    /* round to nearest even checked against exact midpoints of finite
     * positive halves: midpoint m between h and h+1 must go to the even one */
    for (uint32_t h = 0; h < 0x7bff; h++) {
        double lo = zt_fp16_to_fp32((uint16_t)h), hi = zt_fp16_to_fp32((uint16_t)(h + 1));
        float mid = (float)((lo + hi) / 2); /* exact in float */
        uint16_t want = (uint16_t)((h & 1) ? h + 1 : h);
        assert_int_equal(zt_fp32_to_fp16(mid), want);
        assert_int_equal(zt_fp32_to_fp16(nextafterf(mid, 0.0f)), h);
        assert_int_equal(zt_fp32_to_fp16(nextafterf(mid, INFINITY)), h + 1);
    }
}

/* Row conversions on every ISA path equal the scalar ones (F16C included). */
static void test_fp16_rows_all_isas(void **state)
{
    (void)state;
    enum { N = 65536 + 7 };
    uint16_t *h = xmalloc(N * sizeof *h), *h2 = xmalloc(N * sizeof *h2);
    float *f = xmalloc(N * sizeof *f), *g = xmalloc(N * sizeof *g);
    for (uint32_t i = 0; i < N; i++)
        h[i] = (uint16_t)i;
    enum zt_quant_isa orig = zt_quant_isa_current();
    for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
        if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0)
            continue;
        zt_fp16_to_fp32_row(h, f, N);
        for (uint32_t i = 0; i < N; i++)
            assert_int_equal(zt_test_f2u(f[i]), zt_test_f2u(zt_fp16_to_fp32(h[i])));
        for (uint32_t i = 0; i < N; i++) {
            uint32_t r = (uint32_t)rng_u64();
            /* bias towards the interesting range: exponents around the half range */
            if (i % 2)
                r = (r & 0x80001fffu) | ((uint32_t)(100 + (r >> 13) % 50) << 23) | (r & 0x7fe000u);
            g[i] = zt_test_u2f(r);
        }
        zt_fp32_to_fp16_row(g, h2, N);
        for (uint32_t i = 0; i < N; i++)
            assert_int_equal(h2[i], zt_fp32_to_fp16(g[i]));
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    zt_free(h);
    zt_free(h2);
    zt_free(f);
    zt_free(g);
}

/* ---- layouts: hand-built blocks --------------------------------------------- */

static void test_known_answer_blocks(void **state)
{
    (void)state;
    float y[256];

    /* Q8_0: d = 0.5 */
    struct zt_block_q8_0 b8;
    b8.d = 0x3800;
    for (int i = 0; i < 32; i++)
        b8.qs[i] = (int8_t)(i - 16);
    b8.qs[0] = -128;
    assert_int_equal(zt_dequant_row(ZT_GGML_Q8_0, &b8, y, 32), 0);
    assert_true(y[0] == -64.0f);
    assert_true(y[1] == -7.5f);
    assert_true(y[31] == 7.5f);
    /* byte offsets: d at 0, qs at 2 */
    uint8_t raw8[34];
    memcpy(raw8, &b8, sizeof raw8);
    assert_int_equal(raw8[0], 0x00);
    assert_int_equal(raw8[1], 0x38);
    assert_int_equal((int8_t)raw8[2], -128);

    /* Q4_0: qs[i] = lo i%16 | hi (15 - i%16); d = 2 */
    uint8_t raw4[18] = {0x00, 0x40};
    for (int i = 0; i < 16; i++)
        raw4[2 + i] = (uint8_t)(i | ((15 - i) << 4));
    assert_int_equal(zt_dequant_row(ZT_GGML_Q4_0, raw4, y, 32), 0);
    for (int i = 0; i < 16; i++) {
        assert_true(y[i] == (float)((i - 8) * 2));
        assert_true(y[16 + i] == (float)((15 - i - 8) * 2));
    }

    /* Q4_K: d = 1, dmin = 0.5; sub-block j: sc = j + 1 (j < 4) / 40 + j,
     * m = 2j (j < 4) / 50 + j: the upper sub-blocks exercise the split
     * 6-bit packing. Element 64c + l has nibble l % 16 (low), 15 - l % 16
     * (high). */
    uint8_t rk[144];
    memset(rk, 0, sizeof rk);
    rk[0] = 0x00;
    rk[1] = 0x3c; /* d = 1.0 */
    rk[2] = 0x00;
    rk[3] = 0x38; /* dmin = 0.5 */
    int sc[8], mn[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = j < 4 ? j + 1 : 40 + j;
        mn[j] = j < 4 ? 2 * j : 50 + j;
    }
    uint8_t *s = rk + 4;
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            rk[16 + 32 * c + l] = (uint8_t)((l % 16) | ((15 - l % 16) << 4));
    assert_int_equal(zt_dequant_row(ZT_GGML_Q4_K, rk, y, 256), 0);
    for (int e = 0; e < 256; e++) {
        int j = e / 32, l = e % 32;
        int q = (j % 2 == 0) ? l % 16 : 15 - l % 16;
        float want = (float)(sc[j] * q) - 0.5f * (float)mn[j];
        assert_true(y[e] == want);
    }

    /* Q6_K: element e gets q = e % 64, scales[g] = g - 8, d = 0.25; layout
     * built from the GGUF bit positions independently of the decoder. */
    uint8_t r6[210];
    memset(r6, 0, sizeof r6);
    for (int e = 0; e < 256; e++) {
        int q = e % 64, h = e / 128, k = (e % 128) / 32, l = e % 32;
        int qi = 64 * h + l + 32 * (k & 1);
        r6[qi] = (uint8_t)(r6[qi] | ((q & 15) << (k >= 2 ? 4 : 0)));
        r6[128 + 32 * h + l] = (uint8_t)(r6[128 + 32 * h + l] | ((q >> 4) << (2 * k)));
    }
    for (int g = 0; g < 16; g++)
        r6[192 + g] = (uint8_t)(int8_t)(g - 8);
    r6[208] = 0x00;
    r6[209] = 0x34; /* 0.25 */
    assert_int_equal(zt_dequant_row(ZT_GGML_Q6_K, r6, y, 256), 0);
    for (int e = 0; e < 256; e++)
        assert_true(y[e] == 0.25f * (float)(e / 16 - 8) * (float)(e % 64 - 32));
    /* spot values of the raw layout (ql[0] holds elements 0 and 64) */
    assert_int_equal(r6[0], 0x00);
    assert_int_equal(r6[1], 0x11);
    /* qh[16] holds the high bits of elements 16, 48, 80, 112 (q>>4 = 1, 3, 1, 3) */
    assert_int_equal(r6[128 + 16], 1 | (3 << 2) | (1 << 4) | (3 << 6));

    /* Q8_K: float d at 0, qs at 4, bsums at 260 */
    uint8_t rq[292];
    memset(rq, 0, sizeof rq);
    float d = 0.125f;
    memcpy(rq, &d, 4);
    for (int i = 0; i < 256; i++)
        rq[4 + i] = (uint8_t)(int8_t)(i % 7 - 3);
    assert_int_equal(zt_dequant_row(ZT_GGML_Q8_K, rq, y, 256), 0);
    for (int i = 0; i < 256; i++)
        assert_true(y[i] == 0.125f * (float)(i % 7 - 3));

    /* BF16 / F16 rows */
    uint16_t hb[3] = {0x3f80, 0xc000, 0x4049};
    assert_int_equal(zt_dequant_row(ZT_GGML_BF16, hb, y, 3), 0);
    assert_true(y[0] == 1.0f && y[1] == -2.0f && y[2] == 0x1.92p1f);
    uint16_t hf[2] = {0x3c00, 0xbc00};
    assert_int_equal(zt_dequant_row(ZT_GGML_F16, hf, y, 2), 0);
    assert_true(y[0] == 1.0f && y[1] == -1.0f);
}

/* Quantising Q8_K writes consistent bsums. */
static void test_q8_k_bsums(void **state)
{
    (void)state;
    float x[512];
    struct zt_block_q8_k q[2];
    fill_normal(x, 512, 3.0f);
    assert_int_equal(zt_quant_row(ZT_GGML_Q8_K, x, q, 512), 0);
    for (int b = 0; b < 2; b++)
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int i = 0; i < 16; i++)
                s += q[b].qs[16 * g + i];
            assert_int_equal(q[b].bsums[g], s);
        }
}

/* ---- quantisation error ------------------------------------------------------- */

static void test_quant_error(void **state)
{
    (void)state;
    enum { N = 256 * 64 };
    static const struct {
        enum zt_ggml_type t;
        double max_rel; /* RMSE / RMS */
    } cases[] = {
        {ZT_GGML_F16, 0.0005}, {ZT_GGML_BF16, 0.004}, {ZT_GGML_Q8_0, 0.006},
        {ZT_GGML_Q4_0, 0.09},  {ZT_GGML_Q4_K, 0.075},  {ZT_GGML_Q6_K, 0.02},
        {ZT_GGML_Q8_K, 0.008},
    };
    float *x = xmalloc(N * sizeof *x), *y = xmalloc(N * sizeof *y);
    void *q = xmalloc(N * 4);
    int bad = 0;
    fill_normal(x, N, 0.02f);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(zt_quant_row(cases[c].t, x, q, N), 0);
        assert_int_equal(zt_dequant_row(cases[c].t, q, y, N), 0);
        double se = 0, ss = 0;
        for (size_t i = 0; i < N; i++) {
            double e = (double)y[i] - (double)x[i];
            se += e * e;
            ss += (double)x[i] * (double)x[i];
        }
        double rel = sqrt(se / ss);
        printf("# %-5s RMSE/RMS = %.4f%% (bound %.2f%%)\n", tname(cases[c].t), 100.0 * rel,
               100.0 * cases[c].max_rel);
        if (rel >= cases[c].max_rel)
            bad++;
    }
    zt_free(x);
    zt_free(y);
    zt_free(q);
    assert_int_equal(bad, 0);
}

/* ---- kernels --------------------------------------------------------------------- */

static size_t row_bytes(enum zt_ggml_type t, size_t n)
{
    size_t b = 0;
    assert_int_equal(zt_quant_row_bytes(t, n, &b), 0);
    return b;
}

/* Weight row of type t: quantised normal data; for block types a few raw
 * bytes are then randomised (extreme codes such as -128 included) while the
 * scales stay finite, so the kernels see every code value. */
static void make_weights(enum zt_ggml_type t, void *w, size_t n, float scale)
{
    float *x = xmalloc(n * sizeof *x);
    fill_normal(x, n, scale);
    assert_int_equal(zt_quant_row(t, x, w, n), 0);
    zt_free(x);
    uint8_t *p = w;
    size_t nb = n / zt_quant_blck_size(t);
    switch (t) {
    case ZT_GGML_Q8_0:
        for (size_t b = 0; b < nb; b++)
            for (int i = 0; i < 32; i += 5)
                p[b * 34 + 2 + (size_t)i] = (uint8_t)rng_u64();
        if (nb)
            p[2] = 0x80; /* -128 */
        break;
    case ZT_GGML_Q4_0:
        for (size_t b = 0; b < nb; b++)
            for (int i = 0; i < 16; i += 3)
                p[b * 18 + 2 + (size_t)i] = (uint8_t)rng_u64();
        break;
    case ZT_GGML_Q4_K:
        for (size_t b = 0; b < nb; b++)
            for (int i = 4; i < 144; i += 7)
                p[b * 144 + (size_t)i] = (uint8_t)rng_u64(); /* scales and nibbles */
        break;
    case ZT_GGML_Q6_K:
        for (size_t b = 0; b < nb; b++)
            for (int i = 0; i < 208; i += 7)
                p[b * 210 + (size_t)i] = (uint8_t)rng_u64(); /* ql, qh, int8 scales */
        if (nb)
            p[192] = 0x80; /* scale -128 */
        break;
    default: break;
    }
}

/* Activation row: normal data, some outliers, through zt_quant_activations. */
static void make_acts(enum zt_ggml_type t, void *xq, float *xf, size_t n)
{
    fill_normal(xf, n, 1.0f);
    for (size_t i = 0; i < n; i += 97)
        xf[i] *= 20.0f;
    assert_int_equal(zt_quant_activations(t, xf, xq, n), 0);
}

/* vec_dot of each type agrees with the float64 dot of the dequantised rows. */
static void test_vec_dot_accuracy(void **state)
{
    (void)state;
    enum { N = 256 * 12 };
    float *wf = xmalloc(N * sizeof *wf), *xf = xmalloc(N * sizeof *xf);
    float *xd = xmalloc(N * sizeof *xd);
    void *w = xmalloc(N * 4), *xq = xmalloc(N * 4 + 1024);
    for (size_t c = 0; c < N_WEIGHT_TYPES; c++) {
        enum zt_ggml_type t = weight_types[c];
        for (int rep = 0; rep < 4; rep++) {
            make_weights(t, w, N, 0.02f);
            make_acts(t, xq, xf, N);
            assert_int_equal(zt_dequant_row(t, w, wf, N), 0);
            assert_int_equal(zt_dequant_row(zt_quant_vec_dot_type(t), xq, xd, N), 0);
            double ref = 0, mag = 0;
            for (size_t i = 0; i < N; i++) {
                ref += (double)wf[i] * (double)xd[i];
                mag += fabs((double)wf[i] * (double)xd[i]);
            }
            float got = 0;
            assert_int_equal(zt_quant_vec_dot(t, N, w, xq, &got), 0);
            double err = fabs((double)got - ref);
            if (err > 1e-5 * mag + 1e-30) {
                printf("%s: got %.9g want %.9g (mag %.3g)\n", tname(t), (double)got, ref, mag);
                fail();
            }
        }
    }
    zt_free(wf);
    zt_free(xf);
    zt_free(xd);
    zt_free(w);
    zt_free(xq);
}

/* The canonical order of kernel version k2, written out from its
 * definition (quant.md): block b's exact int32 s_b into lane b % 8 by
 * fmaf(d_b, s_b, lane), fold h = 4, 2, 1. The scalar reference must give
 * these bits (and so every path); the build id names the version. */
static float order_k2(enum zt_ggml_type t, const void *w, const struct zt_block_q8_0 *x, size_t nb)
{
    float lane[8] = {0};
    for (size_t b = 0; b < nb; b++) {
        int32_t s = 0;
        uint16_t wd;
        for (int e = 0; e < 32; e++) {
            int wq;
            if (t == ZT_GGML_Q8_0) {
                wq = ((const struct zt_block_q8_0 *)w)[b].qs[e];
            } else {
                const uint8_t *q = ((const struct zt_block_q4_0 *)w)[b].qs;
                wq = (e < 16 ? (q[e] & 15) : (q[e - 16] >> 4)) - 8;
            }
            s += wq * x[b].qs[e];
        }
        wd = t == ZT_GGML_Q8_0 ? ((const struct zt_block_q8_0 *)w)[b].d : ((const struct zt_block_q4_0 *)w)[b].d;
        float d = zt_fp16_to_fp32(wd) * zt_fp16_to_fp32(x[b].d);
        lane[b % 8] = fmaf(d, (float)s, lane[b % 8]);
    }
    for (int h = 4; h >= 1; h /= 2)
        for (int l = 0; l < h; l++)
            lane[l] = lane[l] + lane[l + h];
    return lane[0];
}

static void test_order_k2(void **state)
{
    (void)state;
    enum zt_quant_isa orig = zt_quant_isa_current();
    static const size_t nbs[] = {1, 2, 7, 8, 9, 15, 16, 17, 67};
    void *w = xmalloc(67 * sizeof(struct zt_block_q8_0)), *xq = xmalloc(67 * sizeof(struct zt_block_q8_0) + 64);
    float *xf = xmalloc(67 * 32 * sizeof *xf);
    assert_non_null(strstr(zt_engine_build_id(), "+k2"));
    assert_int_equal(zt_quant_set_isa(ZT_QUANT_ISA_SCALAR), 0);
    for (int c = 0; c < 2; c++) {
        enum zt_ggml_type t = c ? ZT_GGML_Q4_0 : ZT_GGML_Q8_0;
        for (size_t i = 0; i < sizeof nbs / sizeof nbs[0]; i++)
            for (int rep = 0; rep < 3; rep++) {
                size_t n = 32 * nbs[i];
                make_weights(t, w, n, rep == 2 ? 1e3f : 0.05f);
                make_acts(t, xq, xf, n);
                float got = 0, want = order_k2(t, w, xq, nbs[i]);
                assert_int_equal(zt_quant_vec_dot(t, n, w, xq, &got), 0);
                if (zt_test_f2u(got) != zt_test_f2u(want)) {
                    printf("%s blocks=%zu: scalar %a != k2 definition %a\n", tname(t), nbs[i], (double)got,
                           (double)want);
                    fail();
                }
            }
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    zt_free(w);
    zt_free(xq);
    zt_free(xf);
}

static int n_isas_compared;

/* Every available ISA path gives the scalar reference's bits, for many
 * lengths (all tails), through vec_dot and through matmul_rows tiles. */
static void test_isa_bit_identity(void **state)
{
    (void)state;
    enum zt_quant_isa orig = zt_quant_isa_current();
    const size_t max_n = 256 * 20;
    float *xf = xmalloc(max_n * sizeof *xf);
    void *w = xmalloc(max_n * 4), *xq = xmalloc(max_n * 4 + 1024);
    bool have[ZT_QUANT_ISA_COUNT];
    unsigned bad = 0; /* paths that disagreed with scalar */
    n_isas_compared = 0;
    for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
        have[isa] = zt_quant_isa_available((enum zt_quant_isa)isa);
        if (have[isa])
            n_isas_compared++;
        else
            printf("# isa %d not available on this CPU/build: skipped\n", isa);
    }
    for (size_t c = 0; c < N_WEIGHT_TYPES; c++) {
        enum zt_ggml_type t = weight_types[c];
        size_t blk = zt_quant_blck_size(t) == 1 ? 1 : zt_quant_blck_size(t);
        size_t lens[64], nl = 0;
        if (blk == 1) {
            for (size_t i = 1; i <= 70; i += (i < 40 ? 1 : 3))
                lens[nl++] = i;
            lens[nl++] = 127;
            lens[nl++] = 256;
            lens[nl++] = 1000;
            lens[nl++] = 4099;
        } else if (blk == 32) {
            for (size_t i = 1; i <= 20; i++)
                lens[nl++] = 32 * i;
            lens[nl++] = 32 * 37;
            lens[nl++] = 32 * 67; /* 8 lanes of 8 blocks, then a group of 3 */
            lens[nl++] = 32 * 128;
        } else {
            for (size_t i = 1; i <= 20; i++)
                lens[nl++] = 256 * i;
        }
        for (size_t li = 0; li < nl; li++) {
            size_t n = lens[li];
            for (int rep = 0; rep < 3; rep++) {
                make_weights(t, w, n, rep == 2 ? 1e3f : 0.05f);
                make_acts(t, xq, xf, n);
                float ref = 0, got = 0;
                assert_int_equal(zt_quant_set_isa(ZT_QUANT_ISA_SCALAR), 0);
                assert_int_equal(zt_quant_vec_dot(t, n, w, xq, &ref), 0);
                for (int isa = 1; isa < ZT_QUANT_ISA_COUNT; isa++) {
                    if (!have[isa])
                        continue;
                    assert_int_equal(zt_quant_set_isa((enum zt_quant_isa)isa), 0);
                    assert_int_equal(zt_quant_vec_dot(t, n, w, xq, &got), 0);
                    if (zt_test_f2u(got) != zt_test_f2u(ref)) {
                        /* the first mismatch of each path, then the next path */
                        if (!(bad & (1u << isa)))
                            printf("%s n=%zu isa=%s: %a != scalar %a\n", tname(t), n,
                                   zt_quant_isa_name(), (double)got, (double)ref);
                        bad |= 1u << isa;
                    }
                }
            }
        }
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    zt_free(xf);
    zt_free(w);
    zt_free(xq);
    assert_int_equal(bad, 0);
}

static void test_matmul_rows_identity(void **state)
{
    (void)state;
    enum zt_quant_isa orig = zt_quant_isa_current();
    enum { ROWS = 11, MAXB = 9 };
    unsigned bad = 0; /* paths that disagreed with scalar */
    /* lengths per block size: tails (float), the blocked kernels' shapes
     * (n % 32 == 0, several segments of 1024 floats; odd and even block
     * counts; more blocks than the Q8_0/Q4_0 tile takes) */
    static const size_t lens_f[] = {77, 32 * 7, 1024 + 64, 2048 + 96};
    /* Q8_0/Q4_0: 7, 8, 1 blocks; 67 (the tile, a last group of 3 of the
     * canonical 8 lanes); 513 (more than the tile takes) */
    static const size_t lens_32[] = {32 * 7, 32 * 8, 32 * 1, 32 * 67, 32 * 513};
    static const size_t lens_k[] = {256 * 3, 256 * 1};
    for (size_t tc = 0; tc < N_WEIGHT_TYPES * 5; tc++) {
        size_t c = tc / 5, li = tc % 5;
        enum zt_ggml_type t = weight_types[c];
        size_t blk = zt_quant_blck_size(t);
        if ((blk == ZT_QK_K && li >= 2) || (blk == 1 && li >= 4))
            continue;
        size_t n = blk == 1 ? lens_f[li] : (blk == 32 ? lens_32[li] : lens_k[li]);
        size_t wb = row_bytes(t, n), xb = row_bytes(zt_quant_vec_dot_type(t), n);
        uint8_t *W = xmalloc(wb * ROWS), *X = xmalloc(xb * MAXB);
        float *xf = xmalloc(n * sizeof *xf);
        float *out = xmalloc(MAXB * ROWS * sizeof *out), *ref = xmalloc(MAXB * ROWS * sizeof *ref);
        for (size_t r = 0; r < ROWS; r++)
            make_weights(t, W + r * wb, n, 0.05f);
        for (size_t b = 0; b < MAXB; b++)
            make_acts(t, X + b * xb, xf, n);
        for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
            if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0)
                continue;
            /* reference: single scalar-path dots */
            for (size_t b = 0; b < MAXB; b++)
                for (size_t r = 0; r < ROWS; r++) {
                    assert_int_equal(zt_quant_set_isa(ZT_QUANT_ISA_SCALAR), 0);
                    assert_int_equal(zt_quant_vec_dot(t, n, W + r * wb, X + b * xb,
                                                      &ref[b * ROWS + r]), 0);
                }
            assert_int_equal(zt_quant_set_isa((enum zt_quant_isa)isa), 0);
            for (size_t batch = 1; batch <= MAXB; batch++) {
                for (size_t r0 = 0; r0 < 3; r0++) {
                    /* the batch can start at any activation row: tiles shift */
                    size_t boff = batch < MAXB ? (batch % 2) : 0;
                    for (size_t i = 0; i < MAXB * ROWS; i++)
                        out[i] = -1.0f;
                    assert_int_equal(zt_quant_matmul_rows(t, W, wb, r0, ROWS - r0 / 2,
                                                          X + boff * xb, xb, batch, out, ROWS, n),
                                     0);
                    for (size_t b = 0; b < batch; b++)
                        for (size_t r = r0; r < ROWS - r0 / 2; r++)
                            if (zt_test_f2u(out[b * ROWS + r]) != zt_test_f2u(ref[(b + boff) * ROWS + r])) {
                                if (!(bad & (1u << isa)))
                                    printf("%s n=%zu isa=%d batch=%zu b=%zu r=%zu: %a != %a\n",
                                           tname(t), n, isa, batch, b, r, (double)out[b * ROWS + r],
                                           (double)ref[(b + boff) * ROWS + r]);
                                bad |= 1u << isa;
                            }
                }
            }
        }
        zt_free(W);
        zt_free(X);
        zt_free(xf);
        zt_free(out);
        zt_free(ref);
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    assert_int_equal(bad, 0);
}

/* Float products over prompt-sized batches (the blocked kernels' tiles
 * repeated many times, the leftover activation rows and weight rows, a
 * range that starts inside a tile, several segments with a short last
 * one) against single scalar dots, every path, bit for bit. */
static void test_float_batches(void **state)
{
    (void)state;
    enum zt_quant_isa orig = zt_quant_isa_current();
    enum { ROWS = 15, BATCH = 131 };
    static const enum zt_ggml_type ft[] = {ZT_GGML_F32, ZT_GGML_F16, ZT_GGML_BF16};
    static const size_t lens[] = {768, 2048 + 96};
    for (size_t tc = 0; tc < 6; tc++) {
        enum zt_ggml_type t = ft[tc / 2];
        size_t n = lens[tc % 2];
        size_t wb = row_bytes(t, n), xb = row_bytes(ZT_GGML_F32, n);
        uint8_t *W = xmalloc(wb * ROWS), *X = xmalloc(xb * BATCH);
        float *xf = xmalloc(n * sizeof *xf);
        float *out = xmalloc(BATCH * ROWS * sizeof *out), *ref = xmalloc(BATCH * ROWS * sizeof *ref);
        for (size_t r = 0; r < ROWS; r++)
            make_weights(t, W + r * wb, n, 0.05f);
        for (size_t b = 0; b < BATCH; b++)
            make_acts(t, X + b * xb, xf, n);
        assert_int_equal(zt_quant_set_isa(ZT_QUANT_ISA_SCALAR), 0);
        for (size_t b = 0; b < BATCH; b++)
            for (size_t r = 0; r < ROWS; r++)
                assert_int_equal(zt_quant_vec_dot(t, n, W + r * wb, X + b * xb, &ref[b * ROWS + r]), 0);
        for (int isa = 1; isa < ZT_QUANT_ISA_COUNT; isa++) {
            if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0)
                continue;
            /* 10, 12 .. 15: AVX-512's F16 tile of 8 rows, then 2, 4 .. 7 (65: 1,
             * 131: 3) */
            static const size_t batches[] = {2, 64, 65, BATCH, 10, 12, 13, 14, 15};
            for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
                size_t batch = batches[bi], r0 = bi % 2 ? 1 : 0;
                for (size_t i = 0; i < BATCH * ROWS; i++)
                    out[i] = -1.0f;
                assert_int_equal(zt_quant_matmul_rows(t, W, wb, r0, ROWS, X, xb, batch, out, ROWS, n), 0);
                for (size_t b = 0; b < batch; b++)
                    for (size_t r = r0; r < ROWS; r++)
                        if (zt_test_f2u(out[b * ROWS + r]) != zt_test_f2u(ref[b * ROWS + r])) {
                            printf("%s n=%zu isa=%d batch=%zu b=%zu r=%zu: %a != %a\n", tname(t), n, isa, batch, b,
                                   r, (double)out[b * ROWS + r], (double)ref[b * ROWS + r]);
                            fail();
                        }
            }
        }
        zt_free(W);
        zt_free(X);
        zt_free(xf);
        zt_free(out);
        zt_free(ref);
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
}

/* Activation quantisation is scalar on every path; check the obvious too. */
/* Packed weights (quant_pack.c): every path's packed kernel gives the bits
 * of the scalar dot on the original rows, for row counts that leave a
 * partial group, odd and even block counts, batches 1..5, 8, 11 and 16
 * (the AVX512-VNNI kernels take 1-2 rows per pass, 3-8 in one pass, more
 * in passes of at most 8: 11 = 6 + 5, 16 = 8 + 8; packed Q6_K the same)
 * and row ranges that start at a later group. */
static void test_packed_identity(void **state)
{
    (void)state;
    enum zt_quant_isa orig = zt_quant_isa_current();
    static const enum zt_ggml_type types[] = {ZT_GGML_Q8_0, ZT_GGML_Q4_0, ZT_GGML_Q6_K, ZT_GGML_Q4_K};
    static const size_t rows_c[] = {1, 16, 37};
    static const size_t lens[] = {32, 64, 32 * 7, 32 * 8, 32 * 65};
    static const size_t lens_k[] = {256, 512, 256 * 3, 256 * 8, 256 * 9};
    enum { MAXB = 16 }; /* the largest of batches[] */
    static const size_t batches[] = {1, 2, 3, 4, 5, 8, 11, 16};
    unsigned bad = 0;   /* paths that disagreed with scalar */
    for (size_t ti = 0; ti < 4; ti++)
        for (size_t ri = 0; ri < 3; ri++)
            for (size_t li = 0; li < 5; li++) {
                enum zt_ggml_type t = types[ti];
                size_t rows = rows_c[ri], n = zt_quant_blck_size(t) == ZT_QK_K ? lens_k[li] : lens[li];
                size_t wb = row_bytes(t, n), xb = row_bytes(zt_quant_vec_dot_type(t), n);
                uint8_t *W = xmalloc(wb * rows), *X = xmalloc(xb * MAXB);
                float *xf = xmalloc(n * sizeof *xf);
                float *out = xmalloc(MAXB * rows * sizeof *out), *ref = xmalloc(MAXB * rows * sizeof *ref);
                for (size_t r = 0; r < rows; r++)
                    make_weights(t, W + r * wb, n, 0.05f);
                for (size_t b = 0; b < MAXB; b++)
                    make_acts(t, X + b * xb, xf, n);
                assert_int_equal(zt_quant_set_isa(ZT_QUANT_ISA_SCALAR), 0);
                for (size_t b = 0; b < MAXB; b++)
                    for (size_t r = 0; r < rows; r++)
                        assert_int_equal(zt_quant_vec_dot(t, n, W + r * wb, X + b * xb, &ref[b * rows + r]), 0);
                struct zt_quant_packed *p = NULL;
                assert_int_equal(zt_quant_pack(t, W, wb, rows, n, &p), 0);
                assert_true(zt_quant_packed_bytes(p) >= wb * rows);
                for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
                    if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0) {
                        if (ti == 0 && ri == 0 && li == 0)
                            printf("skip: path %d (packed kernels) is not on this CPU\n", isa);
                        continue;
                    }
                    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++)
                        for (size_t r0 = 0, batch = batches[bi]; r0 < rows; r0 += ZT_QUANT_PACK_ROWS) {
                            for (size_t i = 0; i < MAXB * rows; i++)
                                out[i] = -1.0f;
                            /* prepared inside, or once by the caller (the CPU backend's way) */
                            size_t pb = zt_quant_packed_prep_bytes(p);
                            int32_t *prep = NULL;
                            if (pb && (r0 / ZT_QUANT_PACK_ROWS + batch) % 2 == 0) {
                                prep = xmalloc(pb * batch);
                                assert_int_equal(zt_quant_packed_prepare(p, X, xb, batch, prep), 0);
                            }
                            assert_int_equal(zt_quant_matmul_packed_prep(p, r0, rows, X, xb, batch, prep, out, rows), 0);
                            zt_free(prep);
                            for (size_t b = 0; b < batch; b++)
                                for (size_t r = r0; r < rows; r++)
                                    if (zt_test_f2u(out[b * rows + r]) != zt_test_f2u(ref[b * rows + r])) {
                                        if (!(bad & (1u << isa)))
                                            printf("packed %s isa=%d rows=%zu n=%zu batch=%zu b=%zu r=%zu: %a != %a\n",
                                                   tname(t), isa, rows, n, batch, b, r, (double)out[b * rows + r],
                                                   (double)ref[b * rows + r]);
                                        bad |= 1u << isa;
                                    }
                        }
                }
                /* a range must start on a group; other types have no packed layout */
                if (rows > ZT_QUANT_PACK_ROWS)
                    assert_int_equal(zt_quant_matmul_packed(p, 1, rows, X, xb, 1, out, rows), ZT_EINVAL);
                zt_quant_packed_free(p);
                zt_free(W);
                zt_free(X);
                zt_free(xf);
                zt_free(out);
                zt_free(ref);
            }
    struct zt_quant_packed *p = NULL;
    float w[32] = {0};
    assert_int_equal(zt_quant_pack(ZT_GGML_F32, w, sizeof w, 1, 32, &p), ZT_EUNSUPPORTED);
    zt_quant_packed_free(NULL);
    assert_int_equal(zt_quant_set_isa(orig), 0);
    assert_int_equal(bad, 0);
}

/* The packed batched kernel starts each canonical lane of a row from +0 in
 * a register (quant_avx512vnni.c, pk_block): fma(d_b, s_b, +0) of a -0
 * product must be +0, as the scalar reference's is. Weights with negative
 * scales times all-zero activation rows give d_b = -0 and s_b = 0 in every
 * block, so every lane and the output must be +0 (a kernel that started a
 * lane with the product alone would answer -0); rows of ordinary
 * activations between them, lengths below, at and above the 8 lanes, and
 * batches that take 1..8 rows a pass. */
static void test_packed_zero_start(void **state)
{
    (void)state;
    enum zt_quant_isa orig = zt_quant_isa_current();
    static const enum zt_ggml_type types[] = {ZT_GGML_Q8_0, ZT_GGML_Q4_0};
    static const size_t lens[] = {32, 32 * 3, 32 * 8, 32 * 9, 32 * 24};
    static const size_t batches[] = {1, 2, 3, 5, 8, 9, 16};
    enum { ROWS = 16, MAXB = 16 };
    unsigned bad = 0;
    for (size_t ti = 0; ti < 2; ti++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            enum zt_ggml_type t = types[ti];
            size_t n = lens[li], nb = n / 32, bs = t == ZT_GGML_Q8_0 ? 34 : 18;
            size_t wb = row_bytes(t, n), xb = row_bytes(ZT_GGML_Q8_0, n);
            uint8_t *W = xmalloc(wb * ROWS), *X = xmalloc(xb * MAXB);
            float *xf = xmalloc(n * sizeof *xf);
            float *out = xmalloc(MAXB * ROWS * sizeof *out), *ref = xmalloc(MAXB * ROWS * sizeof *ref);
            for (size_t r = 0; r < ROWS; r++) {
                make_weights(t, W + r * wb, n, 0.05f);
                for (size_t b = 0; b < nb; b++) { /* a negative scale in every block */
                    uint16_t h = zt_fp32_to_fp16(-0.0125f * (float)(1 + (r + b) % 5));
                    memcpy(W + r * wb + b * bs, &h, sizeof h);
                }
            }
            for (size_t k = 0; k < MAXB; k++) {
                if (k % 3 == 1) {
                    make_acts(t, X + k * xb, xf, n);
                } else {
                    memset(xf, 0, n * sizeof *xf);
                    assert_int_equal(zt_quant_activations(t, xf, X + k * xb, n), 0);
                }
            }
            assert_int_equal(zt_quant_set_isa(ZT_QUANT_ISA_SCALAR), 0);
            for (size_t k = 0; k < MAXB; k++)
                for (size_t r = 0; r < ROWS; r++) {
                    assert_int_equal(zt_quant_vec_dot(t, n, W + r * wb, X + k * xb, &ref[k * ROWS + r]), 0);
                    if (k % 3 != 1) assert_int_equal(zt_test_f2u(ref[k * ROWS + r]), 0); /* +0, not -0 */
                }
            struct zt_quant_packed *p = NULL;
            assert_int_equal(zt_quant_pack(t, W, wb, ROWS, n, &p), 0);
            for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
                if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0) continue;
                for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
                    size_t batch = batches[bi];
                    for (size_t i = 0; i < MAXB * ROWS; i++) out[i] = -1.0f;
                    assert_int_equal(zt_quant_matmul_packed_prep(p, 0, ROWS, X, xb, batch, NULL, out, ROWS), 0);
                    for (size_t i = 0; i < batch * ROWS; i++)
                        if (zt_test_f2u(out[i]) != zt_test_f2u(ref[i])) {
                            if (!(bad & (1u << isa)))
                                printf("packed zero start %s isa=%d n=%zu batch=%zu row %zu col %zu: %a != %a\n",
                                       tname(t), isa, n, batch, i / ROWS, i % ROWS, (double)out[i], (double)ref[i]);
                            bad |= 1u << isa;
                        }
                }
            }
            zt_quant_packed_free(p);
            zt_free(W);
            zt_free(X);
            zt_free(xf);
            zt_free(out);
            zt_free(ref);
        }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    assert_int_equal(bad, 0);
}

static void test_activation_formats(void **state)
{
    (void)state;
    assert_int_equal(zt_quant_vec_dot_type(ZT_GGML_F32), ZT_GGML_F32);
    assert_int_equal(zt_quant_vec_dot_type(ZT_GGML_F16), ZT_GGML_F32);
    assert_int_equal(zt_quant_vec_dot_type(ZT_GGML_BF16), ZT_GGML_F32);
    assert_int_equal(zt_quant_vec_dot_type(ZT_GGML_Q8_0), ZT_GGML_Q8_0);
    assert_int_equal(zt_quant_vec_dot_type(ZT_GGML_Q4_0), ZT_GGML_Q8_0);
    assert_int_equal(zt_quant_vec_dot_type(ZT_GGML_Q4_K), ZT_GGML_Q8_K);
    assert_int_equal(zt_quant_vec_dot_type(ZT_GGML_Q6_K), ZT_GGML_Q8_K);
    assert_int_equal(zt_quant_vec_dot_type(ZT_GGML_Q5_K), ZT_GGML_TYPE_COUNT);
    /* NaN / Inf activations: defined, finite codes */
    float x[32] = {0};
    x[0] = NAN;
    x[1] = 1.0f;
    x[2] = -2.0f;
    struct zt_block_q8_0 q;
    assert_int_equal(zt_quant_activations(ZT_GGML_Q8_0, x, &q, 32), 0);
    assert_int_equal(q.qs[0], -127);
    assert_int_equal(q.qs[2], -127);
    assert_int_equal(q.qs[1], 64); /* 63.5 -> 64 (ties to even) */
    x[0] = 0.0f;
    memset(x, 0, sizeof x);
    assert_int_equal(zt_quant_activations(ZT_GGML_Q8_0, x, &q, 32), 0);
    assert_int_equal(q.d, 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(q.qs[i], 0);
}

/* zt_quant_activations on every ISA path gives zt_quant_row's bytes (the
 * scalar reference): normal rows at several scales, rows with outliers,
 * NaN, +-Inf, +-0, subnormals, huge and tiny values, ties at .5. */
static void test_activation_isas(void **state)
{
    (void)state;
    enum { N = 4 * 256 };
    float *x = xmalloc(N * sizeof *x);
    uint8_t *ref = xmalloc(N * 2), *got = xmalloc(N * 2);
    static const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-45f, -1e-40f, 3e38f, -3e38f,
                                     1e-30f, 0.5f, -0.5f, 1.5f, 2.5f, 127.0f, -127.5f, 65504.0f, 65520.0f};
    const size_t ns = sizeof specials / sizeof specials[0];
    enum zt_quant_isa orig = zt_quant_isa_current();
    size_t wb8 = 0, wbk = 0;
    assert_int_equal(zt_quant_row_bytes(ZT_GGML_Q8_0, N, &wb8), 0);
    assert_int_equal(zt_quant_row_bytes(ZT_GGML_Q8_K, N, &wbk), 0);
    for (int round = 0; round < 60; round++) {
        float scale = round % 3 == 0 ? 1e-3f : round % 3 == 1 ? 1.0f : 3e4f;
        fill_normal(x, N, scale);
        if (round >= 20) /* specials sprinkled in, some blocks made of them */
            for (int k = 0; k < 1 + round % 7; k++) x[rng_u64() % N] = specials[rng_u64() % ns];
        if (round >= 40)
            for (size_t i = 0; i < 32; i++) x[(size_t)(round - 40) * 32 + i] = specials[(i + (size_t)round) % ns];
        if (round % 10 == 9) /* exact ties: x * id lands on k + 0.5 */
            for (size_t i = 0; i < N; i++) x[i] = i % 32 == 0 ? 127.0f : (float)((int)(rng_u64() % 255) - 127) * 0.5f;
        for (int k = 0; k < 2; k++) {
            enum zt_ggml_type wt = k == 0 ? ZT_GGML_Q8_0 : ZT_GGML_Q4_K, at = k == 0 ? ZT_GGML_Q8_0 : ZT_GGML_Q8_K;
            size_t bytes = k == 0 ? wb8 : wbk;
            assert_int_equal(zt_quant_row(at, x, ref, N), 0);
            for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
                if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0)
                    continue;
                memset(got, 0xa5, bytes);
                assert_int_equal(zt_quant_activations(wt, x, got, N), 0);
                if (memcmp(got, ref, bytes) != 0) {
                    printf("round %d %s isa=%s: activation bytes differ from the scalar reference\n", round,
                           tname(at), zt_quant_isa_name());
                    fail();
                }
            }
        }
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
    zt_free(x);
    zt_free(ref);
    zt_free(got);
}

static void test_invalid(void **state)
{
    (void)state;
    float x[512] = {0}, y[512];
    uint8_t buf[4096];
    float out = 0;
    memset(buf, 0, sizeof buf);
    size_t sz = 0;
    assert_int_equal(zt_dequant_row(ZT_GGML_Q8_0, buf, y, 33), ZT_EINVAL);
    assert_int_equal(zt_dequant_row(ZT_GGML_Q4_K, buf, y, 128), ZT_EINVAL);
    assert_int_equal(zt_dequant_row(ZT_GGML_Q5_0, buf, y, 32), ZT_EINVAL);
    assert_int_equal(zt_quant_row(ZT_GGML_Q4_0, x, buf, 31), ZT_EINVAL);
    assert_int_equal(zt_quant_row(ZT_GGML_Q6_K, x, buf, 300), ZT_EINVAL);
    assert_int_equal(zt_quant_row(ZT_GGML_Q2_K, x, buf, 256), ZT_EINVAL);
    assert_int_equal(zt_quant_activations(ZT_GGML_Q4_K, x, buf, 32), ZT_EINVAL);
    assert_int_equal(zt_quant_activations(ZT_GGML_Q8_K, x, buf, 256), ZT_EINVAL); /* no kernel */
    assert_int_equal(zt_quant_vec_dot(ZT_GGML_Q8_0, 40, buf, buf, &out), ZT_EINVAL);
    assert_int_equal(zt_quant_vec_dot(ZT_GGML_Q6_K, 32, buf, buf, &out), ZT_EINVAL);
    assert_int_equal(zt_quant_row_bytes(ZT_GGML_Q4_K, 512, &sz), 0);
    assert_int_equal(sz, 288);
    assert_int_equal(zt_quant_row_bytes(ZT_GGML_Q8_0, 33, &sz), ZT_EINVAL);
    assert_int_equal(zt_quant_row_bytes(ZT_GGML_Q8_0, SIZE_MAX - 31, &sz), ZT_ERANGE);
    /* matmul: out_stride too small for the rows, x stride below a row */
    assert_int_equal(zt_quant_matmul_rows(ZT_GGML_Q8_0, buf, 34, 0, 4, buf, 34, 2, y, 3, 32),
                     ZT_EINVAL);
    assert_int_equal(zt_quant_matmul_rows(ZT_GGML_Q8_0, buf, 34, 0, 4, buf, 20, 2, y, 4, 32),
                     ZT_EINVAL);
    assert_int_equal(zt_quant_matmul_rows(ZT_GGML_Q8_0, buf, 10, 0, 4, buf, 34, 1, y, 4, 32),
                     ZT_EINVAL);
    assert_int_equal(zt_quant_set_isa(ZT_QUANT_ISA_COUNT), ZT_EUNSUPPORTED);
}

static void test_dispatch(void **state)
{
    (void)state;
    assert_int_equal(zt_quant_init(), 0); /* idempotent */
    const char *name = zt_quant_isa_name();
    printf("# quant path: %s (compared %d path(s) bit for bit)\n", name, n_isas_compared);
    assert_true(zt_quant_isa_available(ZT_QUANT_ISA_SCALAR));
    if (!zt_quant_isa_available(ZT_QUANT_ISA_AVX512))
        printf("# avx512 path not tested: this CPU lacks AVX-512 F/BW/VL/DQ\n");
    if (!zt_quant_isa_available(ZT_QUANT_ISA_AVX2))
        printf("# avx2 path not tested: this CPU lacks AVX2/FMA/F16C\n");
    if (!zt_quant_isa_available(ZT_QUANT_ISA_AVX512VNNI))
        printf("# avx512vnni path not tested: this CPU (or build) lacks AVX512-VNNI\n");
}

/* zt_quant_paths names the path of every op; forcing a path shows it
 * everywhere; a short buffer is truncated and terminated. */
static void test_paths(void **state)
{
    (void)state;
    enum zt_quant_isa orig = zt_quant_isa_current();
    char buf[512], want[64], small[8];
    size_t full = zt_quant_paths(buf, sizeof buf);
    printf("# kernel paths: %s\n", buf);
    assert_true(full > 0 && full < sizeof buf);
    assert_int_equal(strlen(buf), full);
    assert_int_equal(zt_quant_paths(NULL, 0), full);
    assert_int_equal(zt_quant_paths(small, sizeof small), full);
    assert_int_equal(strlen(small), sizeof small - 1);
    for (int isa = 0; isa < ZT_QUANT_ISA_COUNT; isa++) {
        if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0)
            continue;
        zt_quant_paths(buf, sizeof buf);
        static const char *const types[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"};
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            snprintf(want, sizeof want, "%s gen=%s pp=%s", types[t], zt_quant_isa_name(), zt_quant_isa_name());
            if (strstr(buf, want) == NULL)
                fail_msg("paths \"%s\" lacks \"%s\"", buf, want);
        }
    }
    assert_int_equal(zt_quant_set_isa(orig), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fp16_known, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_fp16_all_values, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_fp16_rows_all_isas, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_known_answer_blocks, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_q8_k_bsums, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_quant_error, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_vec_dot_accuracy, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_order_k2, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_isa_bit_identity, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_matmul_rows_identity, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_float_batches, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_packed_identity, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_packed_zero_start, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_activation_formats, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_activation_isas, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_dispatch, setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_paths, setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
