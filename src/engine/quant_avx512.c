/* quant_avx512.c: AVX-512 (F/BW/VL/DQ) + FMA + F16C kernels, chosen at run
 * time by quant.c.
 *
 * Same contract as quant_avx2.c: bit-identical to the scalar reference's
 * canonical order (docs/internals/quant.md). The 512-bit registers map onto
 * the canonical lanes directly: float dots keep lanes 0-15 and 16-31 in two
 * zmm; Q8_0/Q4_0 sum a block pair's products in one zmm (block b in the low,
 * b+1 in the high half), reduce 8 blocks' exact sums into the 8 canonical
 * lanes (lane b % 8) with hsum8_i32 and do one ymm fma per 8 blocks. */
#include <string.h>

#include "zentalk/zt_quant.h"
#include "quant_int.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&              \
    defined(__AVX512DQ__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#include <math.h>

#include "quant_avx512.h"

/* ---- reductions ---------------------------------------------------------- */

/* 32 lanes in a0 (0-15) and a1 (16-31): l += l+16, then fold16. */
static inline float fold32(__m512 a0, __m512 a1)
{
    return fold16(_mm512_add_ps(a0, a1));
}

static inline int32_t hsum_i32(__m512i v)
{
    __m256i t = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* ---- float dots: 32 lanes, element i in lane i % 32 ----------------------- */

static inline __m512 load_f32(const float *p, __mmask16 m)
{
    return _mm512_maskz_loadu_ps(m, p);
}

static inline __m512 load_f16(const uint16_t *p, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline __m512 load_bf16(const uint16_t *p, __mmask16 m)
{
    __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

/* Mask of the first r (<= 16) lanes. */
static inline __mmask16 first(size_t r)
{
    return (__mmask16)(r >= 16 ? 0xffffu : (1u << r) - 1u);
}

/* A tail shorter than 32 uses masked (zeroing) loads: fma(0, 0, acc) == acc
 * since acc is never -0, exactly as the reference skipping those lanes. */
#define FLOAT_DOT(name, wtype, LOADW)                                                    \
    static float name##_1(size_t n, const wtype *w, const float *x)                     \
    {                                                                                    \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;                                        \
        size_t i = 0;                                                                    \
        for (; i + 32 <= n; i += 32) {                                                   \
            a0 = _mm512_fmadd_ps(LOADW(w + i, 0xffff), _mm512_loadu_ps(x + i), a0);      \
            a1 = _mm512_fmadd_ps(LOADW(w + i + 16, 0xffff), _mm512_loadu_ps(x + i + 16),  \
                                 a1);                                                    \
        }                                                                                \
        if (i < n) {                                                                     \
            size_t r = n - i;                                                            \
            __mmask16 m0 = first(r), m1 = first(r > 16 ? r - 16 : 0);                    \
            a0 = _mm512_fmadd_ps(LOADW(w + i, m0), _mm512_maskz_loadu_ps(m0, x + i), a0); \
            if (m1)                                                                      \
                a1 = _mm512_fmadd_ps(LOADW(w + i + 16, m1),                              \
                                     _mm512_maskz_loadu_ps(m1, x + i + 16), a1);         \
        }                                                                                \
        return fold32(a0, a1);                                                           \
    }

FLOAT_DOT(dot_f32, float, load_f32)
FLOAT_DOT(dot_f16, uint16_t, load_f16)
FLOAT_DOT(dot_bf16, uint16_t, load_bf16)

#define FLOAT_DOT_NX(name)                                                               \
    static void name(size_t n, const void *w, const void *x, size_t xs, size_t nx,       \
                     float *out)                                                         \
    {                                                                                    \
        for (size_t k = 0; k < nx; k++)                                                  \
            out[k] = name##_1(n, w, (const float *)(const void *)((const char *)x + k * xs)); \
    }

FLOAT_DOT_NX(dot_f32)
FLOAT_DOT_NX(dot_f16)
FLOAT_DOT_NX(dot_bf16)

/* ---- blocked F16 product: up to 3 weight rows x 8 activation rows ----------
 *
 * Canonical lanes 0-15 of output (r, k) are the chain acc = fma(w_i, x_i,
 * acc) over i = 32j + l (l < 16) in increasing j, lanes 16-31 over i = 32j +
 * 16 + l: two independent halves, so one pass per half with NR x NX (up to
 * 24) zmm accumulators, each weight vector converted once for the NX
 * activation rows. Against AVX2's 3 x 4 tile the 32 registers let a weight
 * load (streamed from L2: the chunk of rows is re-read for every tile of
 * activation rows) feed 8 activation rows instead of 4, which is what bound
 * that tile on the Zen 4 (F32 weights, twice the bytes and no conversion,
 * were slower still). Rows are cut into segments of F16T_SEG elements (the
 * 8 activation rows' segments stay in L1 across the two passes; the
 * accumulators wait in memory between segments); the fold is fold32, as in
 * the single dot. Requires n % 32 == 0 (else the dot kernel). */

#define F16T_SEG 1024

/* every loop over the tile's rows fully unrolled, so that the accumulators
 * are registers (the arrays are indexed by constants only) */
#if defined(__clang__)
#define ZT_UNROLL _Pragma("unroll")
#else
#define ZT_UNROLL _Pragma("GCC unroll 8")
#endif

static inline __attribute__((always_inline)) void f16_tile(size_t n, const uint16_t *w, size_t ws,
                                                           const float *x, size_t xs, size_t NR, size_t NX,
                                                           float *out, size_t os)
{
    __m512 keep[2][3][8];
    for (size_t s0 = 0; s0 < n; s0 += F16T_SEG) {
        size_t s1 = n - s0 < F16T_SEG ? n : s0 + F16T_SEG;
        for (size_t h = 0; h < 2; h++) {
            __m512 acc[3][8];
            ZT_UNROLL for (size_t r = 0; r < NR; r++)
                ZT_UNROLL for (size_t k = 0; k < NX; k++)
                    acc[r][k] = s0 ? keep[h][r][k] : _mm512_setzero_ps();
            for (size_t i = s0 + 16 * h; i < s1; i += 32) {
                __m512 v[3];
                ZT_UNROLL for (size_t r = 0; r < NR; r++)
                    v[r] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(w + r * ws + i)));
                ZT_UNROLL for (size_t k = 0; k < NX; k++) {
                    __m512 y = _mm512_loadu_ps(x + k * xs + i);
                    /* y in a register: one load for its NR fmas, not one each */
                    __asm__("" : "+v"(y));
                    ZT_UNROLL for (size_t r = 0; r < NR; r++) acc[r][k] = _mm512_fmadd_ps(v[r], y, acc[r][k]);
                }
            }
            ZT_UNROLL for (size_t r = 0; r < NR; r++)
                ZT_UNROLL for (size_t k = 0; k < NX; k++) keep[h][r][k] = acc[r][k];
        }
    }
    for (size_t r = 0; r < NR; r++)
        for (size_t k = 0; k < NX; k++) out[k * os + r] = fold32(keep[0][r][k], keep[1][r][k]);
}

#define F16T_CASE(nr, nx)                                                                \
    case nx: f16_tile(n, w, ws, x, xs, nr, nx, out, os); return;

#define F16T_ROWS(nr)                                                                    \
    static void f16_tile_##nr(size_t n, const uint16_t *w, size_t ws, const float *x,    \
                              size_t xs, size_t nx, float *out, size_t os)               \
    {                                                                                    \
        switch (nx) {                                                                    \
            F16T_CASE(nr, 1) F16T_CASE(nr, 2) F16T_CASE(nr, 3) F16T_CASE(nr, 4)           \
            F16T_CASE(nr, 5) F16T_CASE(nr, 6) F16T_CASE(nr, 7)                            \
        default: f16_tile(n, w, ws, x, xs, nr, 8, out, os); return;                      \
        }                                                                                \
    }

F16T_ROWS(1)
F16T_ROWS(2)
F16T_ROWS(3)

/* mm8_f16: rows of W (F16) x nx (1..8) activation rows, out[k * os + r]. */
static void mm8_f16(size_t n, const void *W, size_t rb, size_t nrows, const void *X, size_t xs, size_t nx,
                    float *out, size_t os)
{
    if (n % 32 != 0 || rb % sizeof(uint16_t) != 0 || xs % sizeof(float) != 0) {
        for (size_t r = 0; r < nrows; r++)
            for (size_t k0 = 0; k0 < nx; k0 += 4) {
                float res[4];
                size_t m = nx - k0 < 4 ? nx - k0 : 4;
                dot_f16(n, (const char *)W + r * rb, (const char *)X + k0 * xs, xs, m, res);
                for (size_t k = 0; k < m; k++) out[(k0 + k) * os + r] = res[k];
            }
        return;
    }
    size_t ws = rb / sizeof(uint16_t), xe = xs / sizeof(float), r = 0;
    const uint16_t *w = W;
    for (; r + 3 <= nrows; r += 3) f16_tile_3(n, w + r * ws, ws, X, xe, nx, out + r, os);
    if (nrows - r == 2) f16_tile_2(n, w + r * ws, ws, X, xe, nx, out + r, os);
    else if (nrows - r == 1) f16_tile_1(n, w + r * ws, ws, X, xe, nx, out + r, os);
}

/* ---- Q8_0 / Q4_0 x Q8_0: block pair (b even, b+1) in one zmm ---------------- */

/* int32 lane j = sum over bytes 4j..4j+3 of w*x; exact when x != -128. */
static inline __m512i sum4_i8(__m512i w, __m512i x)
{
    __mmask64 neg = _mm512_movepi8_mask(w);
    __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
    __m512i p = _mm512_maddubs_epi16(_mm512_abs_epi8(w), sx);
    return _mm512_madd_epi16(p, _mm512_set1_epi16(1));
}

/* int32 lane j = sum over elements 4j..4j+3 of (q - 8) * x, q in 0..15. */
static inline __m512i sum4_q4(__m512i q, __m512i x)
{
    __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(q, x),
                                 _mm512_maddubs_epi16(_mm512_set1_epi8(8), x));
    return _mm512_madd_epi16(p, _mm512_set1_epi16(1));
}

/* Q8_0 and Q4_0 differ only in how a weight block's 32 bytes are read
 * (WLOAD: as they are, or the nibbles unpacked) and summed (SUM4). PAIR(i)
 * gives blocks b+2i (low half) and b+2i+1 (high half): 8 int32 lanes each
 * that sum to s_b. A last group of m < 8 blocks reads only its blocks and
 * has s = 0, d = +0 in lanes m..7 (fma(+0, 0, acc) == acc, acc never -0). */
#define DQ1_PAIR(i, WLOAD, SUM4)                                                         \
    SUM4(pair512(WLOAD(w[b + 2 * (i)].qs), WLOAD(w[b + 2 * (i) + 1].qs)),               \
         pair512(load256(x[b + 2 * (i)].qs), load256(x[b + 2 * (i) + 1].qs)))
#define LO256(v) _mm512_castsi512_si256(v)
#define HI256(v) _mm512_extracti64x4_epi64(v, 1)
#define DOT_Q_0_1(name, wblock, WLOAD, SUM4)                                                       \
    static float name(size_t nb, const wblock *w, const struct zt_block_q8_0 *x)                   \
    {                                                                                              \
        const size_t ws = sizeof(wblock) / 2, xs = sizeof(struct zt_block_q8_0) / 2;               \
        __m256 acc = _mm256_setzero_ps();                                                          \
        size_t b = 0;                                                                              \
        for (; b + 8 <= nb; b += 8) {                                                              \
            __m512i p01 = DQ1_PAIR(0, WLOAD, SUM4), p23 = DQ1_PAIR(1, WLOAD, SUM4);                \
            __m512i p45 = DQ1_PAIR(2, WLOAD, SUM4), p67 = DQ1_PAIR(3, WLOAD, SUM4);                \
            __m256i s = hsum8_i32(LO256(p01), HI256(p01), LO256(p23), HI256(p23), LO256(p45),      \
                                  HI256(p45), LO256(p67), HI256(p67));                             \
            __m256 d = _mm256_mul_ps(h8(&w[b].d, ws, 8), h8(&x[b].d, xs, 8));                      \
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc);                                  \
        }                                                                                          \
        if (b < nb) {                                                                              \
            size_t m = nb - b;                                                                     \
            __m256i p[8];                                                                          \
            for (size_t i = 0; i < 8; i++)                                                         \
                p[i] = i < m ? LO256(SUM4(_mm512_zextsi256_si512(WLOAD(w[b + i].qs)),              \
                                          _mm512_zextsi256_si512(load256(x[b + i].qs))))           \
                             : _mm256_setzero_si256();                                             \
            __m256i s = hsum8_i32(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);                 \
            __m256 d = _mm256_mul_ps(h8(&w[b].d, ws, m), h8(&x[b].d, xs, m));                      \
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc);                                  \
        }                                                                                          \
        return fold8(acc);                                                                         \
    }

DOT_Q_0_1(dot_q8_0_1, struct zt_block_q8_0, load256, sum4_i8)
DOT_Q_0_1(dot_q4_0_1, struct zt_block_q4_0, unpack_q4_0, sum4_q4)

/* ---- k-quants x Q8_K: 8 lanes, super-block b -> lane b % 8 ------------------- */

/* int16 lanes 0-15 (low 256 bits) = a, 16-31 = b. */
static inline __m512i scales2(int a, int b)
{
    return _mm512_inserti64x4(_mm512_set1_epi16((short)a), _mm256_set1_epi16((short)b), 1);
}

static float dot_q4_k_1(size_t nb, const struct zt_block_q4_k *w, const struct zt_block_q8_k *x)
{
    float acc[8] = {0};
    const __m512i m4 = _mm512_set1_epi8(15);
    for (size_t b = 0; b < nb; b++) {
        int32_t sc[8], m[8];
        q4k_scales(w[b].scales, sc, m);
        __m512i iv = _mm512_setzero_si512();
        for (int c = 0; c < 4; c += 2) {
            /* chunks c and c+1: nibbles of 64 bytes; low nibbles are elements
             * 64c..64c+31 (lo half) and 64(c+1)..+31 (hi half) */
            __m512i q = _mm512_loadu_si512(w[b].qs + 32 * c);
            __m512i lo = _mm512_and_si512(q, m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            const int8_t *y = x[b].qs + 64 * c;
            __m512i ylo = pair512(load256(y), load256(y + 64));
            __m512i yhi = pair512(load256(y + 32), load256(y + 96));
            __m512i plo = _mm512_maddubs_epi16(lo, ylo);
            __m512i phi = _mm512_maddubs_epi16(hi, yhi);
            iv = _mm512_add_epi32(iv, _mm512_madd_epi16(plo, scales2(sc[2 * c], sc[2 * c + 2])));
            iv = _mm512_add_epi32(iv,
                                  _mm512_madd_epi16(phi, scales2(sc[2 * c + 1], sc[2 * c + 3])));
        }
        q4k_lane(&acc[b % 8], h2f(w[b].d), h2f(w[b].dmin), &x[b], m, hsum_i32(iv));
    }
    return fold8_scalar(acc);
}

/* int16 lanes 0-7 = a, 8-15 = b, 16-23 = c, 24-31 = d. */
static inline __m512i scales4(int a, int b, int c, int d)
{
    __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)a)),
                                         _mm_set1_epi16((short)b), 1);
    __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)c)),
                                         _mm_set1_epi16((short)d), 1);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

static float dot_q6_k_1(size_t nb, const struct zt_block_q6_k *w, const struct zt_block_q8_k *x)
{
    float acc[8] = {0};
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    for (size_t b = 0; b < nb; b++) {
        const int8_t *sc = w[b].scales;
        __m512i iv = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            /* ql 64 bytes: lo half feeds elements k = 0 / 2, hi half k = 1 / 3 */
            __m512i ql = _mm512_loadu_si512(w[b].ql + 64 * h);
            __m256i qh256 = load256(w[b].qh + 32 * h);
            __m512i qh = pair512(qh256, qh256);
            /* low nibbles: [k=0 | k=1], high nibbles: [k=2 | k=3] */
            __m512i qhA = _mm512_and_si512(qh, m2); /* bits 0-1 for k=0 */
            __m512i qhB = _mm512_and_si512(_mm512_srli_epi16(qh, 2), m2);
            __m512i qhC = _mm512_and_si512(_mm512_srli_epi16(qh, 4), m2);
            __m512i qhD = _mm512_and_si512(_mm512_srli_epi16(qh, 6), m2);
            __m512i h01 = _mm512_inserti64x4(qhA, _mm512_castsi512_si256(qhB), 1);
            __m512i h23 = _mm512_inserti64x4(qhC, _mm512_castsi512_si256(qhD), 1);
            __m512i q01 = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(h01, 4));
            __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                          _mm512_slli_epi16(h23, 4));
            const int8_t *y = x[b].qs + 128 * h;
            __m512i p01 = _mm512_maddubs_epi16(q01, _mm512_loadu_si512(y));
            __m512i p23 = _mm512_maddubs_epi16(q23, _mm512_loadu_si512(y + 64));
            /* groups of 16 elements: g = 8h + 4 quarters of each 512-bit vector */
            const int8_t *s = sc + 8 * h;
            __m512i s01 = scales4(s[0], s[1], s[2], s[3]);
            __m512i s23 = scales4(s[4], s[5], s[6], s[7]);
            iv = _mm512_add_epi32(iv, _mm512_madd_epi16(p01, s01));
            iv = _mm512_add_epi32(iv, _mm512_madd_epi16(p23, s23));
        }
        int32_t bs = 0;
        for (int g = 0; g < 16; g++)
            bs += sc[g] * x[b].bsums[g];
        int32_t isum = hsum_i32(iv) - 32 * bs;
        float d = h2f(w[b].d) * x[b].d;
        acc[b % 8] = fmaf(d, (float)isum, acc[b % 8]);
    }
    return fold8_scalar(acc);
}

#define QUANT_DOT_NX(name, wt, xt, qk)                                                   \
    static void name(size_t n, const void *w, const void *x, size_t xs, size_t nx,       \
                     float *out)                                                         \
    {                                                                                    \
        for (size_t k = 0; k < nx; k++)                                                  \
            out[k] = name##_1(n / (qk), (const wt *)w,                                   \
                              (const xt *)(const void *)((const char *)x + k * xs));     \
    }

QUANT_DOT_NX(dot_q8_0, struct zt_block_q8_0, struct zt_block_q8_0, ZT_QK8_0)
QUANT_DOT_NX(dot_q4_0, struct zt_block_q4_0, struct zt_block_q8_0, ZT_QK4_0)
QUANT_DOT_NX(dot_q4_k, struct zt_block_q4_k, struct zt_block_q8_k, ZT_QK_K)
QUANT_DOT_NX(dot_q6_k, struct zt_block_q6_k, struct zt_block_q8_k, ZT_QK_K)

/* ---- conversions ------------------------------------------------------------- */

static void fp16_to_fp32_row(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, load_f16(src + i, 0xffff));
    if (i < n)
        _mm512_mask_storeu_ps(dst + i, first(n - i), load_f16(src + i, first(n - i)));
}

static void fp32_to_fp16_row(const float *src, uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(void *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

/* ---- activation quantisers ---------------------------------------------------
 *
 * quant.c's quantize_q8_0 / quantize_q8_k lane-wise: the block's absolute
 * maximum (m = a > m ? a : m from 0 is max_ps(a, m): a NaN never wins; max
 * is exact, so the lanes' order does not matter), d and 1 / d by the same
 * scalar code, then per element rne_clamp(x * id, -127, 127): max_ps(v,
 * lo) is v > lo ? v : lo (NaN gives lo), min_ps(v, hi) is v < hi ? v : hi,
 * the 1.5 * 2^23 add and subtract, truncation of the exact integer. */

static inline __m512i q8_codes(__m512 x, __m512 id)
{
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 v = _mm512_mul_ps(x, id);
    v = _mm512_max_ps(v, _mm512_set1_ps(-127.0f));
    v = _mm512_min_ps(v, _mm512_set1_ps(127.0f));
    return _mm512_cvttps_epi32(_mm512_sub_ps(_mm512_add_ps(v, magic), magic));
}

static inline __m512 absmax_acc(__m512 m, __m512 x)
{
    return _mm512_max_ps(_mm512_abs_ps(x), m);
}

static void quant_q8_0_row(const float *x, void *dst, size_t nb)
{
    struct zt_block_q8_0 *y = dst;
    for (size_t b = 0; b < nb; b++, x += ZT_QK8_0) {
        __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
        float amax = _mm512_reduce_max_ps(absmax_acc(absmax_acc(_mm512_setzero_ps(), x0), x1));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = zt_fp32_to_fp16(d);
        __m512 vid = _mm512_set1_ps(id);
        _mm_storeu_si128((__m128i *)(void *)y[b].qs, _mm512_cvtepi32_epi8(q8_codes(x0, vid)));
        _mm_storeu_si128((__m128i *)(void *)(y[b].qs + 16), _mm512_cvtepi32_epi8(q8_codes(x1, vid)));
    }
}

static void quant_q8_k_row(const float *x, void *dst, size_t nb)
{
    struct zt_block_q8_k *y = dst;
    for (size_t b = 0; b < nb; b++, x += ZT_QK_K) {
        __m512 m = _mm512_setzero_ps();
        for (int g = 0; g < 16; g++) m = absmax_acc(m, _mm512_loadu_ps(x + 16 * g));
        float amax = _mm512_reduce_max_ps(m);
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = d;
        __m512 vid = _mm512_set1_ps(id);
        for (int g = 0; g < 16; g++) {
            __m512i q = q8_codes(_mm512_loadu_ps(x + 16 * g), vid);
            _mm_storeu_si128((__m128i *)(void *)(y[b].qs + 16 * g), _mm512_cvtepi32_epi8(q));
            y[b].bsums[g] = (int16_t)_mm512_reduce_add_epi32(q);
        }
    }
}

const struct zt__quant_kernels zt__quant_kernels_avx512 = {
    .name = "avx512",
    ZT__QUANT_DOTS(),
    .mm8_f16 = mm8_f16,
    .quant_q8_0_row = quant_q8_0_row,
    .quant_q8_k_row = quant_q8_k_row,
};

#else
const struct zt__quant_kernels zt__quant_kernels_avx512 = {.name = NULL};
#endif
