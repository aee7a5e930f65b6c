/* quant_avx2.c: AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c,
 * chosen at run time by quant.c).
 *
 * Every kernel reproduces the canonical arithmetic of the scalar reference
 * in quant.c bit for bit (docs/internals/quant.md): integer sums are exact,
 * so any grouping of them is free; float operations happen in the same
 * lanes, in the same order, with FMA exactly where the reference has fmaf.
 * No a*b+c is written outside an explicit fmadd/fmaf. */
#include <string.h>

#include "zentalk/zt_quant.h"
#include "quant_int.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#include <math.h>

#include "quant_simd.h"

/* ---- reductions ---------------------------------------------------------- */

/* 32 lanes in a0..a3 (lanes 0-7, 8-15, 16-23, 24-31): h = 16, 8, then fold8. */
static inline float fold32(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    a0 = _mm256_add_ps(a0, a2);
    a1 = _mm256_add_ps(a1, a3);
    return fold8(_mm256_add_ps(a0, a1));
}

static inline int32_t hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* ---- float dots: 32 lanes, element i in lane i % 32 ----------------------- */

/* w: (n) as f32 / f16 / bf16, x: (n) f32. A tail shorter than 32 is copied
 * into zeroed buffers: fma(0, 0, acc) == acc since acc is never -0. */
#define FLOAT_DOT(name, wtype, LOADW)                                                    \
    static float name##_1(size_t n, const wtype *w, const float *x)                     \
    {                                                                                    \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                      \
        size_t i = 0;                                                                    \
        for (; i + 32 <= n; i += 32) {                                                   \
            a0 = _mm256_fmadd_ps(LOADW(w + i), _mm256_loadu_ps(x + i), a0);              \
            a1 = _mm256_fmadd_ps(LOADW(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);      \
            a2 = _mm256_fmadd_ps(LOADW(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);    \
            a3 = _mm256_fmadd_ps(LOADW(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);    \
        }                                                                                \
        if (i < n) {                                                                     \
            wtype tw[32];                                                                \
            float tx[32];                                                                \
            memset(tw, 0, sizeof tw);                                                    \
            memset(tx, 0, sizeof tx);                                                    \
            memcpy(tw, w + i, (n - i) * sizeof *w);                                      \
            memcpy(tx, x + i, (n - i) * sizeof *x);                                      \
            a0 = _mm256_fmadd_ps(LOADW(tw), _mm256_loadu_ps(tx), a0);                    \
            a1 = _mm256_fmadd_ps(LOADW(tw + 8), _mm256_loadu_ps(tx + 8), a1);            \
            a2 = _mm256_fmadd_ps(LOADW(tw + 16), _mm256_loadu_ps(tx + 16), a2);          \
            a3 = _mm256_fmadd_ps(LOADW(tw + 24), _mm256_loadu_ps(tx + 24), a3);          \
        }                                                                                \
        return fold32(a0, a1, a2, a3);                                                   \
    }

static inline __m256 load_f32(const float *p)
{
    return _mm256_loadu_ps(p);
}

static inline __m256 load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static inline __m256 load_bf16(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

FLOAT_DOT(dot_f32, float, load_f32)
FLOAT_DOT(dot_f16, uint16_t, load_f16)
FLOAT_DOT(dot_bf16, uint16_t, load_bf16)

/* F16 weights x 2 activation rows: one conversion feeds both (8 accumulators). */
static void dot_f16_2(size_t n, const uint16_t *w, const float *x0, const float *x1, float *out)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 w0 = load_f16(w + i), w1 = load_f16(w + i + 8);
        __m256 w2 = load_f16(w + i + 16), w3 = load_f16(w + i + 24);
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + i), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x0 + i + 8), a1);
        a2 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x0 + i + 16), a2);
        a3 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x0 + i + 24), a3);
        b0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + i), b0);
        b1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x1 + i + 8), b1);
        b2 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x1 + i + 16), b2);
        b3 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x1 + i + 24), b3);
    }
    out[0] = fold32(a0, a1, a2, a3);
    out[1] = fold32(b0, b1, b2, b3);
    if (i < n) { /* rare (n % 32 != 0): redo both rows on the single path */
        out[0] = dot_f16_1(n, w, x0);
        out[1] = dot_f16_1(n, w, x1);
    }
}

static void dot_f32(size_t n, const void *w, const void *x, size_t xs, size_t nx, float *out)
{
    for (size_t k = 0; k < nx; k++)
        out[k] = dot_f32_1(n, w, (const float *)(const void *)((const char *)x + k * xs));
}

static void dot_f16(size_t n, const void *w, const void *x, size_t xs, size_t nx, float *out)
{
    size_t k = 0;
    for (; k + 2 <= nx; k += 2)
        dot_f16_2(n, w, (const float *)(const void *)((const char *)x + k * xs),
                  (const float *)(const void *)((const char *)x + (k + 1) * xs), out + k);
    for (; k < nx; k++)
        out[k] = dot_f16_1(n, w, (const float *)(const void *)((const char *)x + k * xs));
}

static void dot_bf16(size_t n, const void *w, const void *x, size_t xs, size_t nx, float *out)
{
    for (size_t k = 0; k < nx; k++)
        out[k] = dot_bf16_1(n, w, (const float *)(const void *)((const char *)x + k * xs));
}

/* ---- blocked float products: 3 weight rows x 4 activation rows ------------
 *
 * Lane group g (canonical lanes 8g..8g+7) of output (r, k) is the chain
 * acc = fma(w_i, x_i, acc) over i = 32j + 8g + e in increasing j: the four
 * groups are independent, so one pass per group with 12 accumulators (one
 * per (r, k)) keeps every chain's order. Rows are cut into segments of
 * FTILE_SEG elements (weights and activations stay in L1 across the four
 * passes); the accumulators wait in memory between segments. The fold is
 * fold32, as in the single dot. Requires n % 32 == 0 (else the dot path). */

#define FTILE_SEG 1024

#define FTILE(name, wtype, LOADW)                                                        \
    static void name(size_t n, const wtype *w, size_t wstride, const float *x,            \
                     size_t xstride, float res[3][4])                                    \
    {                                                                                    \
        __m256 acc[4][12];                                                               \
        for (int g = 0; g < 4; g++)                                                      \
            for (int t = 0; t < 12; t++)                                                 \
                acc[g][t] = _mm256_setzero_ps();                                         \
        const wtype *w0 = w, *w1 = w + wstride, *w2 = w + 2 * wstride;                   \
        const float *x0 = x, *x1 = x + xstride, *x2 = x + 2 * xstride,                   \
                    *x3 = x + 3 * xstride;                                               \
        for (size_t s0 = 0; s0 < n; s0 += FTILE_SEG) {                                   \
            size_t s1 = n - s0 < FTILE_SEG ? n : s0 + FTILE_SEG;                         \
            for (size_t g = 0; g < 4; g++) {                                             \
                __m256 c00 = acc[g][0], c01 = acc[g][1], c02 = acc[g][2], c03 = acc[g][3];  \
                __m256 c10 = acc[g][4], c11 = acc[g][5], c12 = acc[g][6], c13 = acc[g][7];  \
                __m256 c20 = acc[g][8], c21 = acc[g][9], c22 = acc[g][10],                \
                       c23 = acc[g][11];                                                 \
                for (size_t i = s0 + 8 * g; i < s1; i += 32) {                           \
                    __m256 v0 = LOADW(w0 + i), v1 = LOADW(w1 + i), v2 = LOADW(w2 + i);   \
                    __m256 y = _mm256_loadu_ps(x0 + i);                                  \
                    c00 = _mm256_fmadd_ps(v0, y, c00);                                   \
                    c10 = _mm256_fmadd_ps(v1, y, c10);                                   \
                    c20 = _mm256_fmadd_ps(v2, y, c20);                                   \
                    y = _mm256_loadu_ps(x1 + i);                                         \
                    c01 = _mm256_fmadd_ps(v0, y, c01);                                   \
                    c11 = _mm256_fmadd_ps(v1, y, c11);                                   \
                    c21 = _mm256_fmadd_ps(v2, y, c21);                                   \
                    y = _mm256_loadu_ps(x2 + i);                                         \
                    c02 = _mm256_fmadd_ps(v0, y, c02);                                   \
                    c12 = _mm256_fmadd_ps(v1, y, c12);                                   \
                    c22 = _mm256_fmadd_ps(v2, y, c22);                                   \
                    y = _mm256_loadu_ps(x3 + i);                                         \
                    c03 = _mm256_fmadd_ps(v0, y, c03);                                   \
                    c13 = _mm256_fmadd_ps(v1, y, c13);                                   \
                    c23 = _mm256_fmadd_ps(v2, y, c23);                                   \
                }                                                                        \
                acc[g][0] = c00, acc[g][1] = c01, acc[g][2] = c02, acc[g][3] = c03;       \
                acc[g][4] = c10, acc[g][5] = c11, acc[g][6] = c12, acc[g][7] = c13;       \
                acc[g][8] = c20, acc[g][9] = c21, acc[g][10] = c22, acc[g][11] = c23;     \
            }                                                                            \
        }                                                                                \
        for (int r = 0; r < 3; r++)                                                      \
            for (int k = 0; k < 4; k++)                                                  \
                res[r][k] = fold32(acc[0][4 * r + k], acc[1][4 * r + k],                 \
                                   acc[2][4 * r + k], acc[3][4 * r + k]);                \
    }

FTILE(tile_f32, float, load_f32)
FTILE(tile_f16, uint16_t, load_f16)

/* The blocked products' rows from r on (those no tile took), one weight row
 * at a time by the dot kernel: the same bits as the tiles. Inlined with a
 * constant dot, so the call is direct. */
static inline void rows_by_dot(zt__quant_dot_fn dot, size_t n, const void *W, size_t rb, size_t r, size_t nrows,
                               const void *X, size_t xs, size_t nx, float *out, size_t os)
{
    for (; r < nrows; r++) {
        float res[4];
        dot(n, (const char *)W + r * rb, X, xs, nx, res);
        for (size_t k = 0; k < nx; k++)
            out[k * os + r] = res[k];
    }
}

#define FLOAT_MM(name, wtype, tile, dot)                                                 \
    static void name(size_t n, const void *W, size_t rb, size_t nrows, const void *X,     \
                     size_t xs, size_t nx, float *out, size_t os)                        \
    {                                                                                    \
        size_t r = 0;                                                                    \
        if (nx == 4 && n % 32 == 0 && rb % sizeof(wtype) == 0 && xs % sizeof(float) == 0) { \
            for (; r + 3 <= nrows; r += 3) {                                             \
                float res[3][4];                                                         \
                tile(n, (const wtype *)(const void *)((const char *)W + r * rb),         \
                     rb / sizeof(wtype), X, xs / sizeof(float), res);                    \
                for (size_t i = 0; i < 3; i++)                                           \
                    for (size_t k = 0; k < 4; k++)                                       \
                        out[k * os + r + i] = res[i][k];                                 \
            }                                                                            \
        }                                                                                \
        rows_by_dot(dot, n, W, rb, r, nrows, X, xs, nx, out, os);                         \
    }

FLOAT_MM(mm_f32, float, tile_f32, dot_f32)
FLOAT_MM(mm_f16, uint16_t, tile_f16, dot_f16)

/* ---- Q8_0 / Q4_0 x Q8_0: canonical order k2, block b -> lane b % 8 ---------
 *
 * A block's 32 products are summed into 8 int32 lanes (maddubs + madd,
 * exact), 8 blocks' vectors are reduced by hsum8_i32 into one vector of
 * their exact s_b, converted (exact: |s_b| < 2^24), multiplied lane-wise by
 * the 8 exact d_b and added into the 8 lanes with one fma: lane i gets
 * block b + i, b % 8 == 0, as in the scalar reference. A last group of m < 8
 * blocks has s = 0 and d = +0 in lanes m..7: fma(+0, 0, acc) == acc since
 * acc is never -0. */

/* int32 lane j = sum over bytes 4j..4j+3 of w*x (signed); exact when
 * x != -128 (activations are clamped to +-127 by the quantiser). */
static inline __m256i sum4_i8(__m256i w, __m256i x)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* int32 lane j = sum over elements 4j..4j+3 of (q - 8) * x, q in 0..15. */
static inline __m256i sum4_q4(__m256i q, __m256i x)
{
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, x),
                                 _mm256_maddubs_epi16(_mm256_set1_epi8(8), x));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

#define XS_D (sizeof(struct zt_block_q8_0) / 2) /* uint16 stride of activation scales */

/* dot_q8_0 and dot_q4_0 differ only in how a weight block's bytes are read:
 * WQ(qs) gives them signed (Q4_0: the nibble minus 8) for the 2-row trick,
 * SUM4(qs, x) the per-lane sums of one block against activation bytes x. */
#define Q8_0_SIGNED(qs) load256(qs)
#define Q8_0_SUM4(qs, x) sum4_i8(load256(qs), x)
#define Q4_0_SIGNED(qs) _mm256_sub_epi8(unpack_q4_0(qs), _mm256_set1_epi8(8))
#define Q4_0_SUM4(qs, x) sum4_q4(unpack_q4_0(qs), x)

/* Block b + i of the 2-row pass: the weight block read once, lanes of
 * p0_i / p1_i sum to s_b against activation rows x0 / x1. */
#define DQ_PAIR(i, WQ)                                                                   \
    __m256i q##i = WQ(w[b + (i)].qs);                                                    \
    __m256i aw##i = _mm256_sign_epi8(q##i, q##i);                                        \
    __m256i p0_##i = _mm256_madd_epi16(                                                  \
        _mm256_maddubs_epi16(aw##i, _mm256_sign_epi8(load256(x0[b + (i)].qs), q##i)), ones); \
    __m256i p1_##i = _mm256_madd_epi16(                                                  \
        _mm256_maddubs_epi16(aw##i, _mm256_sign_epi8(load256(x1[b + (i)].qs), q##i)), ones);

/* XD(row, k, b): the 8 activation scales of blocks b..b+7 of activation row
 * k as f32: converted once per call by the caller (dxs, nb per row) or
 * here. */
#define XD(xr, k, b) (dxs ? _mm256_loadu_ps(dxs + (k) * nb + (b)) : h8(&(xr)[b].d, XS_D, 8))
#define DOT_Q_0(name, wblock, qk, WQ, SUM4)                                                        \
    static void name##_dx(size_t n, const void *wv, const void *xv, size_t xs, size_t nx,         \
                          float *out, const float *dxs)                                            \
    {                                                                                              \
        const wblock *w = wv;                                                                      \
        const size_t nb = n / (qk), ws = sizeof(wblock) / 2;                                       \
        const __m256i ones = _mm256_set1_epi16(1);                                                 \
        size_t k = 0;                                                                              \
        for (; k + 2 <= nx; k += 2) {                                                              \
            /* 1 weight row x 2 activation rows: the weight block is read once */                  \
            const struct zt_block_q8_0 *x0 = (const void *)((const char *)xv + k * xs);           \
            const struct zt_block_q8_0 *x1 = (const void *)((const char *)xv + (k + 1) * xs);     \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;                                              \
            size_t b = 0;                                                                          \
            for (; b + 8 <= nb; b += 8) {                                                          \
                DQ_PAIR(0, WQ) DQ_PAIR(1, WQ) DQ_PAIR(2, WQ) DQ_PAIR(3, WQ)                        \
                DQ_PAIR(4, WQ) DQ_PAIR(5, WQ) DQ_PAIR(6, WQ) DQ_PAIR(7, WQ)                        \
                __m256i s0 = hsum8_i32(p0_0, p0_1, p0_2, p0_3, p0_4, p0_5, p0_6, p0_7);            \
                __m256i s1 = hsum8_i32(p1_0, p1_1, p1_2, p1_3, p1_4, p1_5, p1_6, p1_7);            \
                __m256 fw = h8(&w[b].d, ws, 8);                                                    \
                a0 = _mm256_fmadd_ps(_mm256_mul_ps(fw, XD(x0, k, b)), _mm256_cvtepi32_ps(s0), a0);  \
                a1 = _mm256_fmadd_ps(_mm256_mul_ps(fw, XD(x1, k + 1, b)), _mm256_cvtepi32_ps(s1), a1); \
            }                                                                                      \
            if (b < nb) {                                                                          \
                size_t m = nb - b;                                                                 \
                __m256i p0[8], p1[8];                                                              \
                for (size_t i = 0; i < 8; i++) {                                                   \
                    p0[i] = p1[i] = _mm256_setzero_si256();                                        \
                    if (i < m) {                                                                   \
                        __m256i q = WQ(w[b + i].qs), aw = _mm256_sign_epi8(q, q);                  \
                        p0[i] = _mm256_madd_epi16(                                                 \
                            _mm256_maddubs_epi16(aw, _mm256_sign_epi8(load256(x0[b + i].qs), q)), \
                            ones);                                                                 \
                        p1[i] = _mm256_madd_epi16(                                                 \
                            _mm256_maddubs_epi16(aw, _mm256_sign_epi8(load256(x1[b + i].qs), q)), \
                            ones);                                                                 \
                    }                                                                              \
                }                                                                                  \
                __m256i s0 = hsum8_i32(p0[0], p0[1], p0[2], p0[3], p0[4], p0[5], p0[6], p0[7]);    \
                __m256i s1 = hsum8_i32(p1[0], p1[1], p1[2], p1[3], p1[4], p1[5], p1[6], p1[7]);    \
                __m256 fw = h8(&w[b].d, ws, m);                                                    \
                a0 = _mm256_fmadd_ps(_mm256_mul_ps(fw, h8(&x0[b].d, XS_D, m)),                     \
                                     _mm256_cvtepi32_ps(s0), a0);                                  \
                a1 = _mm256_fmadd_ps(_mm256_mul_ps(fw, h8(&x1[b].d, XS_D, m)),                     \
                                     _mm256_cvtepi32_ps(s1), a1);                                  \
            }                                                                                      \
            out[k] = fold8(a0);                                                                    \
            out[k + 1] = fold8(a1);                                                                \
        }                                                                                          \
        for (; k < nx; k++) {                                                                      \
            const struct zt_block_q8_0 *x = (const void *)((const char *)xv + k * xs);             \
            __m256 acc = _mm256_setzero_ps();                                                      \
            size_t b = 0;                                                                          \
            for (; b + 8 <= nb; b += 8) {                                                          \
                __m256i s = hsum8_i32(                                                             \
                    SUM4(w[b].qs, load256(x[b].qs)), SUM4(w[b + 1].qs, load256(x[b + 1].qs)),      \
                    SUM4(w[b + 2].qs, load256(x[b + 2].qs)), SUM4(w[b + 3].qs, load256(x[b + 3].qs)), \
                    SUM4(w[b + 4].qs, load256(x[b + 4].qs)), SUM4(w[b + 5].qs, load256(x[b + 5].qs)), \
                    SUM4(w[b + 6].qs, load256(x[b + 6].qs)), SUM4(w[b + 7].qs, load256(x[b + 7].qs))); \
                __m256 d = _mm256_mul_ps(h8(&w[b].d, ws, 8), XD(x, k, b));                         \
                acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc);                              \
            }                                                                                      \
            if (b < nb) {                                                                          \
                size_t m = nb - b;                                                                 \
                __m256i p[8];                                                                      \
                for (size_t i = 0; i < 8; i++)                                                     \
                    p[i] = i < m ? SUM4(w[b + i].qs, load256(x[b + i].qs)) : _mm256_setzero_si256(); \
                __m256i s = hsum8_i32(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);             \
                __m256 d = _mm256_mul_ps(h8(&w[b].d, ws, m), h8(&x[b].d, XS_D, m));                \
                acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc);                              \
            }                                                                                      \
            out[k] = fold8(acc);                                                                   \
        }                                                                                          \
    }                                                                                              \
    static void name(size_t n, const void *wv, const void *xv, size_t xs, size_t nx, float *out) \
    {                                                                                              \
        name##_dx(n, wv, xv, xs, nx, out, NULL);                                                   \
    }

DOT_Q_0(dot_q8_0, struct zt_block_q8_0, ZT_QK8_0, Q8_0_SIGNED, Q8_0_SUM4)
DOT_Q_0(dot_q4_0, struct zt_block_q4_0, ZT_QK4_0, Q4_0_SIGNED, Q4_0_SUM4)

/* ---- blocked Q8_0 / Q4_0 products: 2 weight rows x 4 activation rows -------
 *
 * Eight accumulators, one per canonical lane j = b % 8, each holding the 8
 * outputs (r, k) in lane 4r + k: per block, the 8 (r, k) int32 vectors are
 * reduced by one hsum8_i32 into the 8 exact s_b, d = fp16(w_r.d) *
 * fp16(x_k.d) lane-wise (the single product), one fma into acc[b % 8];
 * the fold h = 4, 2, 1 is then 7 vector adds across the accumulators
 * (acc[l] += acc[l + h]), giving the 8 outputs in one vector. Weights are
 * unpacked once per 4 activation rows; activation scales are converted
 * once per call. */

#define QT_MAXB 512 /* blocks per row the tile handles (n <= 16384); longer: dot path */

static inline __m256i wq_q8_0(const struct zt_block_q8_0 *b)
{
    return load256(b->qs);
}

static inline __m256i wq_q4_0(const struct zt_block_q4_0 *b)
{
    return _mm256_sub_epi8(unpack_q4_0(b->qs), _mm256_set1_epi8(8));
}

#define QT_P(q, aw, k) \
    _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(load256(x[k][bb].qs), q)), ones)

#define QT_STEP(j, WQ)                                                                   \
    if ((j) < m) {                                                                       \
        const size_t bb = b + (j);                                                       \
        __m256i q0 = WQ(&w0[bb]), aw0 = _mm256_sign_epi8(q0, q0);                        \
        __m256i q1 = WQ(&w1[bb]), aw1 = _mm256_sign_epi8(q1, q1);                        \
        __m256i s = hsum8_i32(QT_P(q0, aw0, 0), QT_P(q0, aw0, 1), QT_P(q0, aw0, 2),         \
                              QT_P(q0, aw0, 3), QT_P(q1, aw1, 0), QT_P(q1, aw1, 1),         \
                              QT_P(q1, aw1, 2), QT_P(q1, aw1, 3));                        \
        __m256 dw = _mm256_set_m128(_mm_set1_ps(h2f(w1[bb].d)), _mm_set1_ps(h2f(w0[bb].d))); \
        __m256 d = _mm256_mul_ps(dw, _mm256_broadcast_ps((const __m128 *)(const void *)dx[bb])); \
        acc##j = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc##j);                      \
    }

#define QTILE(name, wblock, WQ)                                                          \
    static void name(size_t nb, const char *W, size_t rb,                                \
                     const struct zt_block_q8_0 *const x[4], const float (*dx)[4],       \
                     float res[2][4])                                                    \
    {                                                                                    \
        const __m256i ones = _mm256_set1_epi16(1);                                       \
        const wblock *w0 = (const wblock *)(const void *)W;                              \
        const wblock *w1 = (const wblock *)(const void *)(W + rb);                       \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;        \
        __m256 acc4 = acc0, acc5 = acc0, acc6 = acc0, acc7 = acc0;                       \
        for (size_t b = 0; b < nb; b += 8) {                                             \
            const size_t m = nb - b;                                                     \
            QT_STEP(0, WQ) QT_STEP(1, WQ) QT_STEP(2, WQ) QT_STEP(3, WQ)                  \
            QT_STEP(4, WQ) QT_STEP(5, WQ) QT_STEP(6, WQ) QT_STEP(7, WQ)                  \
        }                                                                                \
        acc0 = _mm256_add_ps(acc0, acc4), acc1 = _mm256_add_ps(acc1, acc5);              \
        acc2 = _mm256_add_ps(acc2, acc6), acc3 = _mm256_add_ps(acc3, acc7);              \
        acc0 = _mm256_add_ps(acc0, acc2), acc1 = _mm256_add_ps(acc1, acc3);              \
        _mm256_storeu_ps(&res[0][0], _mm256_add_ps(acc0, acc1));                         \
    }

QTILE(tile_q8_0, struct zt_block_q8_0, wq_q8_0)
QTILE(tile_q4_0, struct zt_block_q4_0, wq_q4_0)

#define QUANT_MM(name, tile, dot)                                                        \
    static void name(size_t n, const void *W, size_t rb, size_t nrows, const void *X,     \
                     size_t xs, size_t nx, float *out, size_t os)                        \
    {                                                                                    \
        size_t nb = n / ZT_QK8_0, r = 0;                                                 \
        if (nx < 4 && nb <= QT_MAXB) {                                                   \
            /* generation: the activation scales converted once, not per row */          \
            float dxs[3 * QT_MAXB];                                                      \
            for (size_t k = 0; k < nx; k++)                                              \
                for (size_t b = 0; b < nb; b++)                                          \
                    dxs[k * nb + b] =                                                    \
                        h2f(((const struct zt_block_q8_0 *)(const void *)((const char *)X + k * xs))[b].d); \
            for (; r < nrows; r++) {                                                     \
                float res[3];                                                            \
                dot##_dx(n, (const char *)W + r * rb, X, xs, nx, res, dxs);              \
                for (size_t k = 0; k < nx; k++)                                          \
                    out[k * os + r] = res[k];                                            \
            }                                                                            \
            return;                                                                      \
        }                                                                                \
        if (nx == 4 && nb <= QT_MAXB && nrows >= 2) {                                    \
            _Alignas(16) float dx[QT_MAXB][4];                                           \
            const struct zt_block_q8_0 *x[4];                                            \
            for (size_t k = 0; k < 4; k++)                                               \
                x[k] = (const void *)((const char *)X + k * xs);                         \
            for (size_t b = 0; b < nb; b++)                                              \
                for (size_t k = 0; k < 4; k++)                                           \
                    dx[b][k] = h2f(x[k][b].d);                                           \
            for (; r + 2 <= nrows; r += 2) {                                             \
                float res[2][4];                                                         \
                tile(nb, (const char *)W + r * rb, rb, x, (const float(*)[4])dx, res);   \
                for (size_t i = 0; i < 2; i++)                                           \
                    for (size_t k = 0; k < 4; k++)                                       \
                        out[k * os + r + i] = res[i][k];                                 \
            }                                                                            \
        }                                                                                \
        rows_by_dot(dot, n, W, rb, r, nrows, X, xs, nx, out, os);                         \
    }

QUANT_MM(mm_q8_0, tile_q8_0, dot_q8_0)
QUANT_MM(mm_q4_0, tile_q4_0, dot_q4_0)

/* ---- batches of 8 (continuous batching): 1 weight row x 8 activation rows --
 *
 * Eight accumulators, one per canonical lane j = b % 8, lane k of each the
 * output of activation row k: per block the weight is read (and its signs
 * taken) once for the 8 rows, the 8 (k) int32 vectors reduced by one
 * hsum8_i32 into their exact s_b, d = fp16(w.d) * fp16(x_k.d) lane-wise
 * (the single product; the weight scales of 8 blocks converted at once and
 * broadcast by a permute, an exact copy), one fma into acc[b % 8]; the fold
 * h = 4, 2, 1 as the 2 x 4 tile. Against two 4-row tiles a weight block is
 * loaded and signed once instead of twice (the chunk once from L2), and
 * the weight scale costs one permute instead of a scalar conversion and a
 * broadcast per block. The same bits as the dot kernels. */

#define QT8_P(k) _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(load256(x[k][bb].qs), q)), ones)

#define QT8_STEP(j, WQ)                                                                  \
    if ((j) < m) {                                                                       \
        const size_t bb = b + (j);                                                       \
        __m256i q = WQ(&w[bb]), aw = _mm256_sign_epi8(q, q);                             \
        __m256i s = hsum8_i32(QT8_P(0), QT8_P(1), QT8_P(2), QT8_P(3), QT8_P(4), QT8_P(5),  \
                              QT8_P(6), QT8_P(7));                                       \
        __m256 dw = _mm256_permutevar8x32_ps(fw, _mm256_set1_epi32(j));                  \
        __m256 d = _mm256_mul_ps(dw, _mm256_load_ps(dx[bb]));                            \
        acc##j = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc##j);                      \
    }

#define QTILE8(name, wblock, WQ)                                                         \
    static void name(size_t nb, const char *W, const struct zt_block_q8_0 *const x[8],  \
                     const float (*dx)[8], float res[8])                                  \
    {                                                                                    \
        const __m256i ones = _mm256_set1_epi16(1);                                       \
        const wblock *w = (const wblock *)(const void *)W;                               \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;        \
        __m256 acc4 = acc0, acc5 = acc0, acc6 = acc0, acc7 = acc0;                       \
        for (size_t b = 0; b < nb; b += 8) {                                             \
            const size_t m = nb - b;                                                     \
            const __m256 fw = h8(&w[b].d, sizeof(wblock) / 2, m < 8 ? m : 8);            \
            QT8_STEP(0, WQ) QT8_STEP(1, WQ) QT8_STEP(2, WQ) QT8_STEP(3, WQ)              \
            QT8_STEP(4, WQ) QT8_STEP(5, WQ) QT8_STEP(6, WQ) QT8_STEP(7, WQ)              \
        }                                                                                \
        acc0 = _mm256_add_ps(acc0, acc4), acc1 = _mm256_add_ps(acc1, acc5);              \
        acc2 = _mm256_add_ps(acc2, acc6), acc3 = _mm256_add_ps(acc3, acc7);              \
        acc0 = _mm256_add_ps(acc0, acc2), acc1 = _mm256_add_ps(acc1, acc3);              \
        _mm256_storeu_ps(res, _mm256_add_ps(acc0, acc1));                                \
    }

QTILE8(tile8_q8_0, struct zt_block_q8_0, wq_q8_0)
QTILE8(tile8_q4_0, struct zt_block_q4_0, wq_q4_0)

/* mm8_*: rows of W x nx (1..8) activation rows, out[k * os + r]: 8 rows by
 * the 1 x 8 tile, fewer by the 4-row kernels (mm_q8_0 / mm_q4_0). */
#define QUANT_MM8(name, tile, mm)                                                        \
    static void name(size_t n, const void *W, size_t rb, size_t nrows, const void *X,     \
                     size_t xs, size_t nx, float *out, size_t os)                        \
    {                                                                                    \
        size_t nb = n / ZT_QK8_0;                                                        \
        if (nx != 8 || nb > QT_MAXB) {                                                   \
            for (size_t k = 0; k < nx; k += 4)                                           \
                mm(n, W, rb, nrows, (const char *)X + k * xs, xs, nx - k < 4 ? nx - k : 4, \
                   out + k * os, os);                                                    \
            return;                                                                      \
        }                                                                                \
        _Alignas(32) float dx[QT_MAXB][8];                                               \
        const struct zt_block_q8_0 *x[8];                                                \
        for (size_t k = 0; k < 8; k++)                                                   \
            x[k] = (const void *)((const char *)X + k * xs);                             \
        for (size_t b = 0; b < nb; b++)                                                  \
            for (size_t k = 0; k < 8; k++)                                               \
                dx[b][k] = h2f(x[k][b].d);                                               \
        for (size_t r = 0; r < nrows; r++) {                                             \
            float res[8];                                                                \
            tile(nb, (const char *)W + r * rb, x, (const float(*)[8])dx, res);           \
            for (size_t k = 0; k < 8; k++)                                               \
                out[k * os + r] = res[k];                                                \
        }                                                                                \
    }

QUANT_MM8(mm8_q8_0, tile8_q8_0, mm_q8_0)
QUANT_MM8(mm8_q4_0, tile8_q4_0, mm_q4_0)

/* ---- k-quants x Q8_K: 8 lanes, super-block b -> lane b % 8 ------------------- */

static float dot_q4_k_1(size_t nb, const struct zt_block_q4_k *w, const struct zt_block_q8_k *x)
{
    float acc[8] = {0};
    const __m256i m4 = _mm256_set1_epi8(15);
    for (size_t b = 0; b < nb; b++) {
        int32_t sc[8], m[8];
        q4k_scales(w[b].scales, sc, m);
        __m256i iv = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i q = load256(w[b].qs + 32 * c);
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i plo = _mm256_maddubs_epi16(lo, load256(x[b].qs + 64 * c));
            __m256i phi = _mm256_maddubs_epi16(hi, load256(x[b].qs + 64 * c + 32));
            iv = _mm256_add_epi32(iv, _mm256_madd_epi16(plo, _mm256_set1_epi16((short)sc[2 * c])));
            iv = _mm256_add_epi32(iv,
                                  _mm256_madd_epi16(phi, _mm256_set1_epi16((short)sc[2 * c + 1])));
        }
        q4k_lane(&acc[b % 8], h2f(w[b].d), h2f(w[b].dmin), &x[b], m, hsum_i32(iv));
    }
    return fold8_scalar(acc);
}

/* Q6_K: the int16 scales are widened once per super-block; the scale
 * vector of each 32-byte group pair is one byte shuffle of them, and the
 * -32 * sum_g scales[g] * bsums[g] term is one madd (all exact int32). */
static float dot_q6_k_1(size_t nb, const struct zt_block_q6_k *w, const struct zt_block_q8_k *x)
{
    float acc[8] = {0};
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    /* shuffle k: int16 element 2k to the low lane, 2k + 1 to the high lane */
    __m256i pick[4];
    for (int k = 0; k < 4; k++) {
        char lo0 = (char)(4 * k), lo1 = (char)(4 * k + 1), hi0 = (char)(4 * k + 2),
             hi1 = (char)(4 * k + 3);
        pick[k] = _mm256_setr_epi8(lo0, lo1, lo0, lo1, lo0, lo1, lo0, lo1, lo0, lo1, lo0, lo1,
                                   lo0, lo1, lo0, lo1, hi0, hi1, hi0, hi1, hi0, hi1, hi0, hi1,
                                   hi0, hi1, hi0, hi1, hi0, hi1, hi0, hi1);
    }
    for (size_t b = 0; b < nb; b++) {
        /* sc16 = scales as int16 (|s| <= 128); bs = sum_g sc * bsums, |.| <= 2^22 */
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w[b].scales));
        __m256i bs = _mm256_madd_epi16(sc16, load256(x[b].bsums));
        __m256i iv = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(bs, 5));
        __m256i shs[2] = {_mm256_permute2x128_si256(sc16, sc16, 0x00),
                          _mm256_permute2x128_si256(sc16, sc16, 0x11)};
        for (int h = 0; h < 2; h++) {
            __m256i sh = shs[h];
            __m256i qa = load256(w[b].ql + 64 * h);
            __m256i qb = load256(w[b].ql + 64 * h + 32);
            __m256i qh = load256(w[b].qh + 32 * h);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(qa, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(qb, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                /* groups of 16: 8h + 2k for bytes 0-15, 8h + 2k + 1 for 16-31 */
                __m256i p = _mm256_maddubs_epi16(q[k], load256(x[b].qs + 128 * h + 32 * k));
                iv = _mm256_add_epi32(iv, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sh, pick[k])));
            }
        }
        int32_t isum = hsum_i32(iv);
        float d = h2f(w[b].d) * x[b].d;
        acc[b % 8] = fmaf(d, (float)isum, acc[b % 8]);
    }
    return fold8_scalar(acc);
}

static void dot_q4_k(size_t n, const void *w, const void *x, size_t xs, size_t nx, float *out)
{
    for (size_t k = 0; k < nx; k++)
        out[k] = dot_q4_k_1(n / ZT_QK_K, w, (const void *)((const char *)x + k * xs));
}

static void dot_q6_k(size_t n, const void *w, const void *x, size_t xs, size_t nx, float *out)
{
    for (size_t k = 0; k < nx; k++)
        out[k] = dot_q6_k_1(n / ZT_QK_K, w, (const void *)((const char *)x + k * xs));
}

/* ---- conversions ------------------------------------------------------------- */

static void fp16_to_fp32_row(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, load_f16(src + i));
    for (; i < n; i++)
        dst[i] = h2f(src[i]);
}

/* ---- the BF16 mode (quant.c's definition), emulated: the slow fallback --
 *
 * A 64-byte step holds 16 canonical lanes (dword j: elements 2j low half,
 * 2j + 1 high half), lanes 0-7 and 8-15 in two ymm. A bf16 is the high half
 * of its f32, so the odd element is the dword & 0xffff0000 and the even one
 * the dword << 16; then fma(odd), flush, fma(even), flush: vdpbf16ps's two
 * roundings with its FTZ (the flush costs a compare and a blend: this path
 * is for CPUs without AVX512-BF16). */
static inline __m256 ftz8(__m256 r)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 tiny = _mm256_cmp_ps(_mm256_andnot_ps(sign, r), _mm256_set1_ps(0x1p-126f), _CMP_LT_OQ);
    return _mm256_blendv_ps(r, _mm256_and_ps(r, sign), tiny);
}

/* One 8-lane half: the weights' odd and even f32 (shared by the activation
 * rows), fma and flush for the odd element, then for the even one. */
static inline __m256 bf16m_step(__m256 wo, __m256 we, __m256i x, __m256 acc)
{
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    acc = ftz8(_mm256_fmadd_ps(wo, _mm256_castsi256_ps(_mm256_and_si256(x, hi)), acc));
    return ftz8(_mm256_fmadd_ps(we, _mm256_castsi256_ps(_mm256_slli_epi32(x, 16)), acc));
}

/* 32 elements of one weight row (at w) x NX activation rows (row k at
 * x[k]): canonical lanes 0-7 in a[k][0], 8-15 in a[k][1]. */
static inline __attribute__((always_inline)) void bf16m_32(const uint16_t *w, const uint16_t *const *x, size_t off,
                                                           size_t NX, __m256 (*a)[2])
{
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    for (size_t h = 0; h < 2; h++) {
        __m256i wv = load256(w + 16 * h);
        __m256 wo = _mm256_castsi256_ps(_mm256_and_si256(wv, hi)), we = _mm256_castsi256_ps(_mm256_slli_epi32(wv, 16));
        for (size_t k = 0; k < NX; k++) a[k][h] = bf16m_step(wo, we, load256(x[k] + off + 16 * h), a[k][h]);
    }
}

static inline __attribute__((always_inline)) void bf16m_rows(size_t n, const uint16_t *w, const char *x, size_t xs,
                                                             size_t NX, float *out)
{
    __m256 a[4][2];
    const uint16_t *xr[4];
    for (size_t k = 0; k < NX; k++) {
        a[k][0] = a[k][1] = _mm256_setzero_ps();
        xr[k] = (const uint16_t *)(const void *)(x + k * xs);
    }
    size_t i = 0;
    for (; i + 32 <= n; i += 32) bf16m_32(w + i, xr, i, NX, a);
    if (i < n) { /* zero padding to 32, as the definition */
        uint16_t tw[32], tx[4][32];
        const uint16_t *tp[4];
        memset(tw, 0, sizeof tw);
        memcpy(tw, w + i, (n - i) * sizeof *w);
        for (size_t k = 0; k < NX; k++) {
            memset(tx[k], 0, sizeof tx[k]);
            memcpy(tx[k], xr[k] + i, (n - i) * sizeof *w);
            tp[k] = tx[k];
        }
        bf16m_32(tw, tp, 0, NX, a);
    }
    for (size_t k = 0; k < NX; k++) out[k] = fold8(_mm256_add_ps(a[k][0], a[k][1])); /* h = 8, then 4, 2, 1 */
}

/* One weight row x up to 4 activation rows: the weights are split into
 * their odd and even f32 once for all of them. */
static void dot_bf16m(size_t n, const void *w, const void *x, size_t xs, size_t nx, float *out)
{
    switch (nx) {
    case 1: bf16m_rows(n, w, x, xs, 1, out); break;
    case 2: bf16m_rows(n, w, x, xs, 2, out); break;
    case 3: bf16m_rows(n, w, x, xs, 3, out); break;
    default: bf16m_rows(n, w, x, xs, 4, out); break;
    }
}

static void fp32_to_fp16_row(const float *src, uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

const struct zt__quant_kernels zt__quant_kernels_avx2 = {
    .name = "avx2",
    ZT__QUANT_DOTS(),
    .mm_f32 = mm_f32,
    .mm_f16 = mm_f16,
    .mm_q8_0 = mm_q8_0,
    .mm_q4_0 = mm_q4_0,
    .mm8_q8_0 = mm8_q8_0,
    .mm8_q4_0 = mm8_q4_0,
    .dot_bf16m = dot_bf16m,
};

#else
const struct zt__quant_kernels zt__quant_kernels_avx2 = {.name = NULL};
#endif
