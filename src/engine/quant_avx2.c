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

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#include <math.h>

/* ---- reductions ---------------------------------------------------------- */

/* 8 lanes folded as the reference does: l += l+4, l += l+2, l += l+1. */
static inline float fold8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

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

static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
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

/* ---- Q8_0 / Q4_0 x Q8_0: 16 lanes, block b -> lanes 8*(b%2) + j ------------ */

static inline __m256i load256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* int32 lane j = sum over bytes 4j..4j+3 of w*x (signed); exact when
 * x != -128 (activations are clamped to +-127 by the quantiser). */
static inline __m256i sum4_i8(__m256i w, __m256i x)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Q4_0 nibbles as 32 bytes in element order (low nibbles = elements 0-15). */
static inline __m256i unpack_q4_0(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs);
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

/* int32 lane j = sum over elements 4j..4j+3 of (q - 8) * x, q in 0..15. */
static inline __m256i sum4_q4(__m256i q, __m256i x)
{
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, x),
                                 _mm256_maddubs_epi16(_mm256_set1_epi8(8), x));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

static inline float fold16(__m256 even, __m256 odd)
{
    return fold8(_mm256_add_ps(even, odd));
}

static void dot_q8_0(size_t n, const void *wv, const void *xv, size_t xs, size_t nx, float *out)
{
    const struct zt_block_q8_0 *w = wv;
    size_t nb = n / ZT_QK8_0;
    size_t k = 0;
    for (; k + 2 <= nx; k += 2) {
        /* 1 weight row x 2 activation rows: the weight block is loaded once */
        const struct zt_block_q8_0 *x0 = (const void *)((const char *)xv + k * xs);
        const struct zt_block_q8_0 *x1 = (const void *)((const char *)xv + (k + 1) * xs);
        __m256 e0 = _mm256_setzero_ps(), o0 = e0, e1 = e0, o1 = e0;
        for (size_t b = 0; b < nb; b++) {
            __m256i q = load256(w[b].qs);
            __m256i aw = _mm256_sign_epi8(q, q);
            float dw = h2f(w[b].d);
            __m256 d0 = _mm256_set1_ps(dw * h2f(x0[b].d));
            __m256 d1 = _mm256_set1_ps(dw * h2f(x1[b].d));
            __m256i p0 = _mm256_madd_epi16(
                _mm256_maddubs_epi16(aw, _mm256_sign_epi8(load256(x0[b].qs), q)),
                _mm256_set1_epi16(1));
            __m256i p1 = _mm256_madd_epi16(
                _mm256_maddubs_epi16(aw, _mm256_sign_epi8(load256(x1[b].qs), q)),
                _mm256_set1_epi16(1));
            if (b & 1) {
                o0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0), o0);
                o1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(p1), o1);
            } else {
                e0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0), e0);
                e1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(p1), e1);
            }
        }
        out[k] = fold16(e0, o0);
        out[k + 1] = fold16(e1, o1);
    }
    for (; k < nx; k++) {
        const struct zt_block_q8_0 *x = (const void *)((const char *)xv + k * xs);
        __m256 ev = _mm256_setzero_ps(), od = ev;
        size_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            __m256 d0 = _mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d));
            __m256 d1 = _mm256_set1_ps(h2f(w[b + 1].d) * h2f(x[b + 1].d));
            __m256i p0 = sum4_i8(load256(w[b].qs), load256(x[b].qs));
            __m256i p1 = sum4_i8(load256(w[b + 1].qs), load256(x[b + 1].qs));
            ev = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0), ev);
            od = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(p1), od);
        }
        if (b < nb) {
            __m256 d0 = _mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d));
            __m256i p0 = sum4_i8(load256(w[b].qs), load256(x[b].qs));
            ev = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0), ev);
        }
        out[k] = fold16(ev, od);
    }
}

static void dot_q4_0(size_t n, const void *wv, const void *xv, size_t xs, size_t nx, float *out)
{
    const struct zt_block_q4_0 *w = wv;
    size_t nb = n / ZT_QK4_0;
    size_t k = 0;
    for (; k + 2 <= nx; k += 2) {
        /* 1 weight row x 2 activation rows: unpack once, signed trick on q-8 */
        const struct zt_block_q8_0 *x0 = (const void *)((const char *)xv + k * xs);
        const struct zt_block_q8_0 *x1 = (const void *)((const char *)xv + (k + 1) * xs);
        __m256 e0 = _mm256_setzero_ps(), o0 = e0, e1 = e0, o1 = e0;
        for (size_t b = 0; b < nb; b++) {
            __m256i q = _mm256_sub_epi8(unpack_q4_0(w[b].qs), _mm256_set1_epi8(8));
            __m256i aw = _mm256_sign_epi8(q, q);
            float dw = h2f(w[b].d);
            __m256 d0 = _mm256_set1_ps(dw * h2f(x0[b].d));
            __m256 d1 = _mm256_set1_ps(dw * h2f(x1[b].d));
            __m256i p0 = _mm256_madd_epi16(
                _mm256_maddubs_epi16(aw, _mm256_sign_epi8(load256(x0[b].qs), q)),
                _mm256_set1_epi16(1));
            __m256i p1 = _mm256_madd_epi16(
                _mm256_maddubs_epi16(aw, _mm256_sign_epi8(load256(x1[b].qs), q)),
                _mm256_set1_epi16(1));
            if (b & 1) {
                o0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0), o0);
                o1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(p1), o1);
            } else {
                e0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0), e0);
                e1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(p1), e1);
            }
        }
        out[k] = fold16(e0, o0);
        out[k + 1] = fold16(e1, o1);
    }
    for (; k < nx; k++) {
        const struct zt_block_q8_0 *x = (const void *)((const char *)xv + k * xs);
        __m256 ev = _mm256_setzero_ps(), od = ev;
        size_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            __m256 d0 = _mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d));
            __m256 d1 = _mm256_set1_ps(h2f(w[b + 1].d) * h2f(x[b + 1].d));
            __m256i p0 = sum4_q4(unpack_q4_0(w[b].qs), load256(x[b].qs));
            __m256i p1 = sum4_q4(unpack_q4_0(w[b + 1].qs), load256(x[b + 1].qs));
            ev = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0), ev);
            od = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(p1), od);
        }
        if (b < nb) {
            __m256 d0 = _mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d));
            __m256i p0 = sum4_q4(unpack_q4_0(w[b].qs), load256(x[b].qs));
            ev = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(p0), ev);
        }
        out[k] = fold16(ev, od);
    }
}

/* ---- k-quants x Q8_K: 8 lanes, super-block b -> lane b % 8 ------------------- */

static inline void q4k_scales(const uint8_t *q, int32_t *sc, int32_t *m)
{
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 15) | ((q[j] >> 6) << 4);
        m[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
}

static inline float fold8_scalar(float *acc)
{
    for (int h = 4; h >= 1; h /= 2)
        for (int l = 0; l < h; l++)
            acc[l] = acc[l] + acc[l + h];
    return acc[0];
}

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
        int32_t isum = hsum_i32(iv), msum = 0;
        for (int j = 0; j < 8; j++)
            msum += m[j] * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        float d = h2f(w[b].d) * x[b].d;
        float dmin = h2f(w[b].dmin) * x[b].d;
        float *a = &acc[b % 8];
        *a = fmaf(d, (float)isum, *a);
        *a = fmaf(-dmin, (float)msum, *a);
    }
    return fold8_scalar(acc);
}

static float dot_q6_k_1(size_t nb, const struct zt_block_q6_k *w, const struct zt_block_q8_k *x)
{
    float acc[8] = {0};
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    for (size_t b = 0; b < nb; b++) {
        const int8_t *sc = w[b].scales;
        __m256i iv = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
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
                int g = 8 * h + 2 * k; /* groups of 16: g for bytes 0-15, g+1 for 16-31 */
                __m256i p = _mm256_maddubs_epi16(q[k], load256(x[b].qs + 128 * h + 32 * k));
                __m256i s = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(sc[g])),
                                                    _mm_set1_epi16(sc[g + 1]), 1);
                iv = _mm256_add_epi32(iv, _mm256_madd_epi16(p, s));
            }
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
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot_q8_0 = dot_q8_0,
    .dot_q4_0 = dot_q4_0,
    .dot_q4_k = dot_q4_k,
    .dot_q6_k = dot_q6_k,
    .fp16_to_fp32_row = fp16_to_fp32_row,
    .fp32_to_fp16_row = fp32_to_fp16_row,
};

#else
const struct zt__quant_kernels zt__quant_kernels_avx2 = {.name = NULL};
#endif
