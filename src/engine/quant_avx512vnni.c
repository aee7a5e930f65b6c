/* quant_avx512vnni.c: AVX512-VNNI (vpdpbusd) dot products for Q8_0 and Q4_0
 * weights x Q8_0 activations, chosen at run time by quant.c; every other
 * kernel of this path is the AVX-512 one (quant.c fills the table).
 *
 * Same contract as quant_avx512.c: bit-identical to the scalar reference's
 * canonical order (docs/internals/quant.md). A block pair (b even, b+1)
 * fills one zmm; vpdpbusd from a zero accumulator gives, in int32 lane j,
 * the exact sum of the 4 byte products of elements 4j..4j+3 (the
 * non-saturating form; at most 4 * 255 * 127 in magnitude), which is the
 * canonical p_j; then acc = fma(d_b, (float)p_j, acc) in lane 8*(b%2)+j and
 * the 16-lane fold, as the other paths.
 *
 * The dot kernels multiply one weight row with up to 4 activation rows at
 * once, so a weight block is loaded and unpacked once for all of them; the
 * blocked kernels (mm_*) take 2 weight rows x up to 4 activation rows. */
#include <math.h>
#include <string.h>

#include "zentalk/zt_quant.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&              \
    defined(__AVX512DQ__) && defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#include "quant_avx512.h"

/* Activation block pair k of row x (b even; hi = 0 when b+1 == nb). */
static inline __m512i xpair(const struct zt_block_q8_0 *x, size_t b, bool hi)
{
    return hi ? pair512(load256(x[b].qs), load256(x[b + 1].qs)) : _mm512_zextsi256_si512(load256(x[b].qs));
}

/* Q8_0: |w| (unsigned; |-128| = 128 fits) times x with w's sign moved onto
 * x (x != -128 by construction of the activations, so -x fits). */
static void dot_q8_0(size_t n, const void *wv, const void *xv, size_t xs, size_t nx, float *out)
{
    const struct zt_block_q8_0 *w = wv;
    size_t nb = n / ZT_QK8_0;
    const struct zt_block_q8_0 *x[4];
    __m512 acc[4];
    for (size_t k = 0; k < nx; k++) {
        x[k] = (const struct zt_block_q8_0 *)(const void *)((const char *)xv + k * xs);
        acc[k] = _mm512_setzero_ps();
    }
    for (size_t b = 0; b < nb; b += 2) {
        bool hi = b + 1 < nb;
        __m512i wq = hi ? pair512(load256(w[b].qs), load256(w[b + 1].qs)) : _mm512_zextsi256_si512(load256(w[b].qs));
        __mmask64 neg = _mm512_movepi8_mask(wq);
        __m512i wa = _mm512_abs_epi8(wq);
        float wd0 = h2f(w[b].d), wd1 = hi ? h2f(w[b + 1].d) : 0.0f;
        for (size_t k = 0; k < nx; k++) {
            __m512i xq = xpair(x[k], b, hi);
            __m512i sx = _mm512_mask_sub_epi8(xq, neg, _mm512_setzero_si512(), xq);
            __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wa, sx);
            /* odd tail: the high half has d = 0 and p = 0, fma(0, 0, acc) == acc */
            __m512 d = dpair(wd0 * h2f(x[k][b].d), hi ? wd1 * h2f(x[k][b + 1].d) : 0.0f);
            acc[k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc[k]);
        }
    }
    for (size_t k = 0; k < nx; k++) out[k] = fold16(acc[k]);
}

/* Q4_0: p_j = sum q*x - 8 * sum x over the 4 elements, both exact int32
 * (q unsigned 0..15 is vpdpbusd's unsigned operand). */
static void dot_q4_0(size_t n, const void *wv, const void *xv, size_t xs, size_t nx, float *out)
{
    const struct zt_block_q4_0 *w = wv;
    size_t nb = n / ZT_QK4_0;
    const struct zt_block_q8_0 *x[4];
    __m512 acc[4];
    const __m512i eight = _mm512_set1_epi8(8);
    for (size_t k = 0; k < nx; k++) {
        x[k] = (const struct zt_block_q8_0 *)(const void *)((const char *)xv + k * xs);
        acc[k] = _mm512_setzero_ps();
    }
    for (size_t b = 0; b < nb; b += 2) {
        bool hi = b + 1 < nb;
        __m512i q = hi ? pair512(unpack_q4_0(w[b].qs), unpack_q4_0(w[b + 1].qs))
                       : _mm512_zextsi256_si512(unpack_q4_0(w[b].qs));
        float wd0 = h2f(w[b].d), wd1 = hi ? h2f(w[b + 1].d) : 0.0f;
        for (size_t k = 0; k < nx; k++) {
            __m512i xq = xpair(x[k], b, hi);
            __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q, xq),
                                         _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, xq));
            __m512 d = dpair(wd0 * h2f(x[k][b].d), hi ? wd1 * h2f(x[k][b + 1].d) : 0.0f);
            acc[k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc[k]);
        }
    }
    for (size_t k = 0; k < nx; k++) out[k] = fold16(acc[k]);
}

/* ---- blocked: 2 weight rows x NX activation rows ------------------------------
 *
 * Each output element's float operations are the single dot's (same p_j,
 * same d_b, same fma order over block pairs, same fold); only loads and
 * the weight-only / activation-only integer terms are shared:
 *  Q8_0: p_j = sum (x + 128) * w - 128 * sum w, as one vpdpbusd into an
 *        accumulator preset to -128 * sum4(w) (x + 128 = x ^ 0x80 is the
 *        unsigned operand, 1..255; w signed). Exact: |p| <= 4*255*128.
 *  Q4_0: p_j = sum q * x - 8 * sum x, as one vpdpbusd into an accumulator
 *        preset to -8 * sum4(x) (q unsigned 0..15, x signed).
 * d_b = fp16(w.d) * fp16(x.d) is formed lane-wise with _mm512_mul_ps (the
 * same single f32 product, exact). */

static inline __m512 hpair(uint16_t a, uint16_t b)
{
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)a)),
                                                   _mm_set1_epi16((short)b), 1));
}

static inline __m512i wpair_q8(const struct zt_block_q8_0 *w, size_t b, bool hi)
{
    return hi ? pair512(load256(w[b].qs), load256(w[b + 1].qs)) : _mm512_zextsi256_si512(load256(w[b].qs));
}

static inline __m512i wpair_q4(const struct zt_block_q4_0 *w, size_t b, bool hi)
{
    return hi ? pair512(unpack_q4_0(w[b].qs), unpack_q4_0(w[b + 1].qs)) : _mm512_zextsi256_si512(unpack_q4_0(w[b].qs));
}

#define ALWAYS_INLINE __attribute__((always_inline)) inline

static ALWAYS_INLINE void mm2_q8_0(size_t nb, const struct zt_block_q8_0 *w0, const struct zt_block_q8_0 *w1,
                                   const struct zt_block_q8_0 *const *x, size_t NX, float *o0, float *o1)
{
    __m512 a0[4], a1[4];
    const __m512i bias = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    for (size_t k = 0; k < NX; k++)
        a0[k] = a1[k] = _mm512_setzero_ps();
    for (size_t b = 0; b < nb; b += 2) {
        bool hi = b + 1 < nb;
        __m512i q0 = wpair_q8(w0, b, hi), q1 = wpair_q8(w1, b, hi);
        /* -128 * sum4(w): high half of an odd tail is 0 (w = 0 there) */
        __m512i c0 = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, q0));
        __m512i c1 = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, q1));
        __m512 wd0 = hpair(w0[b].d, hi ? w0[b + 1].d : 0), wd1 = hpair(w1[b].d, hi ? w1[b + 1].d : 0);
        for (size_t k = 0; k < NX; k++) {
            /* x + 128 in the high half of an odd tail is 128, against w = 0 */
            __m512i xu = _mm512_xor_si512(xpair(x[k], b, hi), bias);
            __m512 xd = hpair(x[k][b].d, hi ? x[k][b + 1].d : 0);
            __m512i p0 = _mm512_dpbusd_epi32(c0, xu, q0), p1 = _mm512_dpbusd_epi32(c1, xu, q1);
            a0[k] = _mm512_fmadd_ps(_mm512_mul_ps(wd0, xd), _mm512_cvtepi32_ps(p0), a0[k]);
            a1[k] = _mm512_fmadd_ps(_mm512_mul_ps(wd1, xd), _mm512_cvtepi32_ps(p1), a1[k]);
        }
    }
    for (size_t k = 0; k < NX; k++) {
        o0[k] = fold16(a0[k]);
        o1[k] = fold16(a1[k]);
    }
}

static ALWAYS_INLINE void mm2_q4_0(size_t nb, const struct zt_block_q4_0 *w0, const struct zt_block_q4_0 *w1,
                                   const struct zt_block_q8_0 *const *x, size_t NX, float *o0, float *o1)
{
    __m512 a0[4], a1[4];
    const __m512i eight = _mm512_set1_epi8(8), zero = _mm512_setzero_si512();
    for (size_t k = 0; k < NX; k++)
        a0[k] = a1[k] = _mm512_setzero_ps();
    for (size_t b = 0; b < nb; b += 2) {
        bool hi = b + 1 < nb;
        __m512i q0 = wpair_q4(w0, b, hi), q1 = wpair_q4(w1, b, hi);
        __m512 wd0 = hpair(w0[b].d, hi ? w0[b + 1].d : 0), wd1 = hpair(w1[b].d, hi ? w1[b + 1].d : 0);
        for (size_t k = 0; k < NX; k++) {
            __m512i xq = xpair(x[k], b, hi);
            __m512i c = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, eight, xq));
            __m512 xd = hpair(x[k][b].d, hi ? x[k][b + 1].d : 0);
            __m512i p0 = _mm512_dpbusd_epi32(c, q0, xq), p1 = _mm512_dpbusd_epi32(c, q1, xq);
            a0[k] = _mm512_fmadd_ps(_mm512_mul_ps(wd0, xd), _mm512_cvtepi32_ps(p0), a0[k]);
            a1[k] = _mm512_fmadd_ps(_mm512_mul_ps(wd1, xd), _mm512_cvtepi32_ps(p1), a1[k]);
        }
    }
    for (size_t k = 0; k < NX; k++) {
        o0[k] = fold16(a0[k]);
        o1[k] = fold16(a1[k]);
    }
}

#define MM_VNNI(name, wt, mm2, dot1)                                                               \
    static void name(size_t n, const void *W, size_t row_bytes, size_t nrows, const void *X,       \
                     size_t xs, size_t nx, float *out, size_t os)                                  \
    {                                                                                              \
        size_t nb = n / 32;                                                                        \
        const struct zt_block_q8_0 *x[4];                                                          \
        for (size_t k = 0; k < nx; k++)                                                            \
            x[k] = (const struct zt_block_q8_0 *)(const void *)((const char *)X + k * xs);         \
        size_t r = 0;                                                                              \
        for (; nx > 1 && r + 2 <= nrows; r += 2) {                                                 \
            const wt *w0 = (const wt *)(const void *)((const char *)W + r * row_bytes);            \
            const wt *w1 = (const wt *)(const void *)((const char *)W + (r + 1) * row_bytes);      \
            float o0[4], o1[4];                                                                    \
            switch (nx) {                                                                          \
            case 1: mm2(nb, w0, w1, x, 1, o0, o1); break;                                          \
            case 2: mm2(nb, w0, w1, x, 2, o0, o1); break;                                          \
            case 3: mm2(nb, w0, w1, x, 3, o0, o1); break;                                          \
            default: mm2(nb, w0, w1, x, 4, o0, o1); break;                                         \
            }                                                                                      \
            for (size_t k = 0; k < nx; k++) {                                                      \
                out[k * os + r] = o0[k];                                                           \
                out[k * os + r + 1] = o1[k];                                                       \
            }                                                                                      \
        }                                                                                          \
        for (; r < nrows; r++) {                                                                   \
            float o[4];                                                                            \
            dot1(n, (const char *)W + r * row_bytes, X, xs, nx, o);                                \
            for (size_t k = 0; k < nx; k++)                                                        \
                out[k * os + r] = o[k];                                                            \
        }                                                                                          \
    }

MM_VNNI(mm_q8_0, struct zt_block_q8_0, mm2_q8_0, dot_q8_0)
MM_VNNI(mm_q4_0, struct zt_block_q4_0, mm2_q4_0, dot_q4_0)

/* ---- Q4_K / Q6_K: one weight row x up to 4 activation rows ---------------------
 *
 * The weight super-block is unpacked once into 4 zmm of 64 unsigned codes in
 * element order (shared by every activation row); per activation row one
 * vpdpbusd per 64 elements gives exact 4-element sums, multiplied lane-wise
 * by the sub-block (Q4_K: 32 elements) or group (Q6_K: 16) scale and summed
 * in int32: the canonical isum (integer sums are exact in any grouping;
 * Q4_K |isum| <= 8 * 63 * 32 * 15 * 127, Q6_K as the AVX2 path). The float
 * part is the scalar reference's: the same products, fmaf into lane b % 8,
 * the same fold. */

/* The activation rows of a Q4_K/Q6_K dot and their 8-lane accumulators. */
static inline void q8k_rows(const void *xv, size_t xs, size_t nx, const struct zt_block_q8_k **x, float (*acc)[8])
{
    for (size_t k = 0; k < nx; k++) {
        x[k] = (const struct zt_block_q8_k *)(const void *)((const char *)xv + k * xs);
        for (int l = 0; l < 8; l++) acc[k][l] = 0.0f;
    }
}

static void dot_q4_k(size_t n, const void *wv, const void *xv, size_t xs, size_t nx, float *out)
{
    const struct zt_block_q4_k *w = wv;
    size_t nb = n / ZT_QK_K;
    const struct zt_block_q8_k *x[4];
    float acc[4][8];
    q8k_rows(xv, xs, nx, x, acc);
    const __m256i m4 = _mm256_set1_epi8(15);
    const __m512i zero = _mm512_setzero_si512();
    for (size_t b = 0; b < nb; b++) {
        int32_t sc[8], m[8];
        q4k_scales(w[b].scales, sc, m);
        __m512i q[4], s[4];
        for (int c = 0; c < 4; c++) {
            __m256i raw = load256(w[b].qs + 32 * c);
            q[c] = pair512(_mm256_and_si256(raw, m4), _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4));
            s[c] = pair512(_mm256_set1_epi32(sc[2 * c]), _mm256_set1_epi32(sc[2 * c + 1]));
        }
        float wd = h2f(w[b].d), wdm = h2f(w[b].dmin);
        for (size_t k = 0; k < nx; k++) {
            const struct zt_block_q8_k *xb = &x[k][b];
            __m512i iv = zero;
            for (int c = 0; c < 4; c++) {
                __m512i p = _mm512_dpbusd_epi32(zero, q[c], _mm512_loadu_si512((const void *)(xb->qs + 64 * c)));
                iv = _mm512_add_epi32(iv, _mm512_mullo_epi32(p, s[c]));
            }
            int32_t isum = _mm512_reduce_add_epi32(iv), msum = 0;
            for (int j = 0; j < 8; j++) msum += m[j] * (xb->bsums[2 * j] + xb->bsums[2 * j + 1]);
            float d = wd * xb->d, dmin = wdm * xb->d;
            float *a = &acc[k][b % 8];
            *a = fmaf(d, (float)isum, *a);
            *a = fmaf(-dmin, (float)msum, *a);
        }
    }
    for (size_t k = 0; k < nx; k++) out[k] = fold8_scalar(acc[k]);
}

static void dot_q6_k(size_t n, const void *wv, const void *xv, size_t xs, size_t nx, float *out)
{
    const struct zt_block_q6_k *w = wv;
    size_t nb = n / ZT_QK_K;
    const struct zt_block_q8_k *x[4];
    float acc[4][8];
    q8k_rows(xv, xs, nx, x, acc);
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    const __m512i zero = _mm512_setzero_si512();
    /* lane l of the scale vector of zmm t is group 4t + l / 4 */
    __m512i gidx[4];
    for (int t = 0; t < 4; t++)
        gidx[t] = _mm512_setr_epi32(4 * t, 4 * t, 4 * t, 4 * t, 4 * t + 1, 4 * t + 1, 4 * t + 1, 4 * t + 1,
                                    4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 3, 4 * t + 3, 4 * t + 3,
                                    4 * t + 3);
    for (size_t b = 0; b < nb; b++) {
        /* codes of elements 64t .. 64t + 63 in zmm t (element e = 128h + 32k + l) */
        __m512i q[4], s[4];
        for (int h = 0; h < 2; h++) {
            __m256i qa = load256(w[b].ql + 64 * h), qb = load256(w[b].ql + 64 * h + 32);
            __m256i qh = load256(w[b].qh + 32 * h);
            __m256i k0 = _mm256_or_si256(_mm256_and_si256(qa, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
            __m256i k1 = _mm256_or_si256(_mm256_and_si256(qb, m4),
                                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
            __m256i k2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), m4),
                                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
            __m256i k3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), m4),
                                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
            q[2 * h] = pair512(k0, k1);
            q[2 * h + 1] = pair512(k2, k3);
        }
        __m512i sc32 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)w[b].scales));
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w[b].scales));
        for (int t = 0; t < 4; t++) s[t] = _mm512_permutexvar_epi32(gidx[t], sc32);
        float wd = h2f(w[b].d);
        for (size_t k = 0; k < nx; k++) {
            const struct zt_block_q8_k *xb = &x[k][b];
            /* -32 * sum_g scales[g] * bsums[g], exact (|.| <= 2^27) */
            __m256i bs = _mm256_madd_epi16(sc16, load256(xb->bsums));
            __m512i iv = _mm512_sub_epi32(zero, _mm512_castsi256_si512(_mm256_slli_epi32(bs, 5)));
            iv = _mm512_maskz_mov_epi32(0x00ff, iv);
            for (int t = 0; t < 4; t++) {
                __m512i p = _mm512_dpbusd_epi32(zero, q[t], _mm512_loadu_si512((const void *)(xb->qs + 64 * t)));
                iv = _mm512_add_epi32(iv, _mm512_mullo_epi32(p, s[t]));
            }
            int32_t isum = _mm512_reduce_add_epi32(iv);
            float d = wd * xb->d;
            acc[k][b % 8] = fmaf(d, (float)isum, acc[k][b % 8]);
        }
    }
    for (size_t k = 0; k < nx; k++) out[k] = fold8_scalar(acc[k]);
}

/* ---- packed weights (quant_pack.c has the layout) --------------------------
 *
 * One group of 16 rows: acc_l (l = 0..15) holds canonical lane l of all 16
 * rows. Block b: d = fp16(w.d) * fp16(x.d) for the 16 rows (one cvtph, one
 * mul: the same single f32 product), and for each lane j one vpdpbusd of
 * the rows' 4-byte groups against the activation's 4 bytes broadcast, from
 * the prepared bias c_j, gives the exact p_j of 16 rows; then acc_{8(b%2)+j}
 * = fma(d, p_j, acc). The fold is the canonical one, lane-wise for 16 rows.
 * Batch rows run one after another over the group (it stays in L1/L2). */

static inline __m512i bcast32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

static ALWAYS_INLINE void pk_block(bool q4, __m512 *A, const uint8_t *qq, const __m256i *scb,
                                   const struct zt_block_q8_0 *xb, const int32_t *a)
{
    float dx;
    memcpy(&dx, &a[8], sizeof dx);
    __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_load_si256(scb)), _mm512_set1_ps(dx));
    if (!q4) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m512i w = _mm512_load_si512((const void *)(qq + 64 * j));
            __m512i p = _mm512_dpbusd_epi32(_mm512_set1_epi32(a[j]), w, bcast32(xb->qs + 4 * j));
            A[j] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), A[j]);
        }
        return;
    }
    const __m512i m4 = _mm512_set1_epi8(15);
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m512i v = _mm512_load_si512((const void *)(qq + 64 * c));
        __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        __m512i pl = _mm512_dpbusd_epi32(_mm512_set1_epi32(a[c]), lo, bcast32(xb->qs + 4 * c));
        __m512i ph = _mm512_dpbusd_epi32(_mm512_set1_epi32(a[c + 4]), hi, bcast32(xb->qs + 16 + 4 * c));
        A[c] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(pl), A[c]);
        A[c + 4] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(ph), A[c + 4]);
    }
}

/* Two activation rows against one block of the group: the weights are
 * loaded (and Q4_0's nibbles unpacked) once for both; each row's chains are
 * its own. */
static ALWAYS_INLINE void pk_block2(bool q4, __m512 *A0, __m512 *A1, const uint8_t *qq, const __m256i *scb,
                                    const struct zt_block_q8_0 *x0, const struct zt_block_q8_0 *x1,
                                    const int32_t *a0, const int32_t *a1)
{
    float dx0, dx1;
    memcpy(&dx0, &a0[8], sizeof dx0);
    memcpy(&dx1, &a1[8], sizeof dx1);
    __m512 ws = _mm512_cvtph_ps(_mm256_load_si256(scb));
    __m512 d0 = _mm512_mul_ps(ws, _mm512_set1_ps(dx0)), d1 = _mm512_mul_ps(ws, _mm512_set1_ps(dx1));
    if (!q4) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m512i w = _mm512_load_si512((const void *)(qq + 64 * j));
            __m512i p0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(a0[j]), w, bcast32(x0->qs + 4 * j));
            __m512i p1 = _mm512_dpbusd_epi32(_mm512_set1_epi32(a1[j]), w, bcast32(x1->qs + 4 * j));
            A0[j] = _mm512_fmadd_ps(d0, _mm512_cvtepi32_ps(p0), A0[j]);
            A1[j] = _mm512_fmadd_ps(d1, _mm512_cvtepi32_ps(p1), A1[j]);
        }
        return;
    }
    const __m512i m4 = _mm512_set1_epi8(15);
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m512i v = _mm512_load_si512((const void *)(qq + 64 * c));
        __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        __m512i pl0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(a0[c]), lo, bcast32(x0->qs + 4 * c));
        __m512i ph0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(a0[c + 4]), hi, bcast32(x0->qs + 16 + 4 * c));
        __m512i pl1 = _mm512_dpbusd_epi32(_mm512_set1_epi32(a1[c]), lo, bcast32(x1->qs + 4 * c));
        __m512i ph1 = _mm512_dpbusd_epi32(_mm512_set1_epi32(a1[c + 4]), hi, bcast32(x1->qs + 16 + 4 * c));
        A0[c] = _mm512_fmadd_ps(d0, _mm512_cvtepi32_ps(pl0), A0[c]);
        A0[c + 4] = _mm512_fmadd_ps(d0, _mm512_cvtepi32_ps(ph0), A0[c + 4]);
        A1[c] = _mm512_fmadd_ps(d1, _mm512_cvtepi32_ps(pl1), A1[c]);
        A1[c + 4] = _mm512_fmadd_ps(d1, _mm512_cvtepi32_ps(ph1), A1[c + 4]);
    }
}

/* h = 4, 2, 1 over 8 lane registers of 16 rows; masked store. */
static ALWAYS_INLINE void fold8_store(__m512 *acc, float *out, __mmask16 mask)
{
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) acc[l] = _mm512_add_ps(acc[l], acc[l + 4]);
    acc[0] = _mm512_add_ps(acc[0], acc[2]);
    acc[1] = _mm512_add_ps(acc[1], acc[3]);
    acc[0] = _mm512_add_ps(acc[0], acc[1]);
    _mm512_mask_storeu_ps(out, mask, acc[0]);
}

/* The canonical fold of 16 lanes held as 8 + 8 registers (lane l in lo[l],
 * lane l + 8 in hi[l]), lane-wise for the 16 rows; masked store. */
static ALWAYS_INLINE void pk_fold_store(__m512 *lo, const __m512 *hi, float *out, __mmask16 mask)
{
#pragma GCC unroll 8
    for (int l = 0; l < 8; l++) lo[l] = _mm512_add_ps(lo[l], hi[l]);
    fold8_store(lo, out, mask);
}

static ALWAYS_INLINE void pk_vnni(bool q4, const uint8_t *grp, size_t nb, size_t nvalid, const void *X, size_t xs,
                                  const int32_t *act, size_t nx, float *out, size_t os)
{
    size_t qb = q4 ? 256 : 512, pb = 64 + 2 * qb; /* a block pair: scales, block 2b, block 2b+1 */
    __mmask16 mask = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1u);
    /* One activation row: one sequential stream, left to the hardware
     * prefetchers (a software prefetch 2 KiB ahead was slower on the Zen
     * 4). Several: the passes after the first read the group from cache,
     * so the next group is prefetched into L2 across all passes (pair bp
     * in pass bp % passes), keeping memory busy while they compute. Rows
     * go two at a time (even blocks for both, then odd blocks: 16
     * accumulators a pass), a last odd row alone. */
    const uint8_t *next = grp + (nb + 1) / 2 * pb;
    size_t passes = nx / 2 + nx % 2, k = 0;
    for (; k + 2 <= nx; k += 2) {
        const struct zt_block_q8_0 *x0 = (const struct zt_block_q8_0 *)(const void *)((const char *)X + k * xs);
        const struct zt_block_q8_0 *x1 = (const struct zt_block_q8_0 *)(const void *)((const char *)x0 + xs);
        const int32_t *a0 = act + k * nb * 9, *a1 = a0 + nb * 9;
        __m512 e0[8], e1[8], o0[8], o1[8];
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++) e0[l] = e1[l] = _mm512_setzero_ps();
        for (size_t b = 0; b < nb; b += 2) {
            const uint8_t *pair = grp + (b / 2) * pb;
            if ((b / 2) % passes == k / 2)
                for (size_t o = 0; o < pb; o += 64) _mm_prefetch((const char *)next + (b / 2) * pb + o, _MM_HINT_T1);
            pk_block2(q4, e0, e1, pair + 64, (const __m256i *)(const void *)pair, x0 + b, x1 + b, a0 + 9 * b,
                      a1 + 9 * b);
        }
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++) o0[l] = o1[l] = _mm512_setzero_ps();
        for (size_t b = 1; b < nb; b += 2) {
            const uint8_t *pair = grp + (b / 2) * pb;
            pk_block2(q4, o0, o1, pair + 64 + qb, (const __m256i *)(const void *)pair + 1, x0 + b, x1 + b,
                      a0 + 9 * b, a1 + 9 * b);
        }
        pk_fold_store(e0, o0, out + k * os, mask);
        pk_fold_store(e1, o1, out + (k + 1) * os, mask);
    }
    for (; k < nx; k++) {
        const struct zt_block_q8_0 *x = (const struct zt_block_q8_0 *)(const void *)((const char *)X + k * xs);
        const int32_t *a = act + k * nb * 9;
        __m512 ae[8], ao[8];
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++) ae[l] = ao[l] = _mm512_setzero_ps();
        size_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            const uint8_t *pair = grp + (b / 2) * pb;
            const __m256i *sc = (const __m256i *)(const void *)pair;
            if (nx > 1 && (b / 2) % passes == k / 2)
                for (size_t o = 0; o < pb; o += 64) _mm_prefetch((const char *)next + (b / 2) * pb + o, _MM_HINT_T1);
            pk_block(q4, ae, pair + 64, sc, x + b, a + 9 * b);
            pk_block(q4, ao, pair + 64 + qb, sc + 1, x + b + 1, a + 9 * (b + 1));
        }
        if (b < nb) {
            const uint8_t *pair = grp + (b / 2) * pb;
            pk_block(q4, ae, pair + 64, (const __m256i *)(const void *)pair, x + b, a + 9 * b);
        }
        pk_fold_store(ae, ao, out + k * os, mask);
    }
}

static void pk_q8_0(const uint8_t *grp, size_t nb, size_t nvalid, const void *X, size_t xs, const int32_t *act,
                    size_t nx, float *out, size_t os)
{
    pk_vnni(false, grp, nb, nvalid, X, xs, act, nx, out, os);
}

static void pk_q4_0(const uint8_t *grp, size_t nb, size_t nvalid, const void *X, size_t xs, const int32_t *act,
                    size_t nx, float *out, size_t os)
{
    pk_vnni(true, grp, nb, nvalid, X, xs, act, nx, out, os);
}

/* Packed Q6_K (quant_pack.c): per group g of 16 elements, 3 chunks give the
 * codes of 4 parts of 16 rows; 4 vpdpbusd from -32 * bsums[g] give
 * sum(q * x) - 32 * bsums[g] for the 16 rows, times their scales[g] into
 * the int32 isum; then the super-block's fma into lane sb % 8.
 * One activation row decodes the codes as it goes; several (batched
 * decoding: the output projection of every generating stream) decode a
 * super-block once into 64 vectors and 16 scale vectors in L1 and run up
 * to 8 rows over them, their accumulators waiting in memory between
 * super-blocks (the same integer sums and the same fma per row). */
static ALWAYS_INLINE void q6p_decode(const uint8_t *c, __m512i *q0, __m512i *q1, __m512i *q2, __m512i *q3)
{
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    __m512i n0 = _mm512_load_si512((const void *)c), n1 = _mm512_load_si512((const void *)(c + 64));
    __m512i hb = _mm512_load_si512((const void *)(c + 128));
    *q0 = _mm512_or_si512(_mm512_and_si512(n0, m4), _mm512_slli_epi16(_mm512_and_si512(hb, m2), 4));
    *q1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(n0, 4), m4),
                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 2), m2), 4));
    *q2 = _mm512_or_si512(_mm512_and_si512(n1, m4),
                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 4), m2), 4));
    *q3 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(n1, 4), m4),
                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 6), m2), 4));
}

enum { Q6P_SB = 64 + 256 + 16 * 192, Q6P_ROWS = 8 };

static void pk_q6_k_rows(const uint8_t *grp, size_t nsb, const void *X, size_t xs, size_t nx, float *out, size_t os,
                         __mmask16 mask)
{
    _Alignas(64) __m512i dec[64], scv[16];
    _Alignas(64) __m512 acc[Q6P_ROWS][8];
    for (size_t k = 0; k < nx; k++)
        for (int l = 0; l < 8; l++) acc[k][l] = _mm512_setzero_ps();
    for (size_t sb = 0; sb < nsb; sb++) {
        const uint8_t *p = grp + sb * Q6P_SB;
        const uint8_t *codes = p + 64 + 256;
        for (int g = 0; g < 16; g++) {
            q6p_decode(codes + 192 * g, &dec[4 * g], &dec[4 * g + 1], &dec[4 * g + 2], &dec[4 * g + 3]);
            scv[g] = _mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(const void *)(p + 64 + 16 * g)));
        }
        __m512 wd = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)p));
        for (size_t k = 0; k < nx; k++) {
            const struct zt_block_q8_k *x =
                (const struct zt_block_q8_k *)(const void *)((const char *)X + k * xs) + sb;
            __m512i iv = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int g = 0; g < 16; g++) {
                const int8_t *xq = x->qs + 16 * g;
                __m512i sg = _mm512_set1_epi32(-32 * (int32_t)x->bsums[g]);
                sg = _mm512_dpbusd_epi32(sg, dec[4 * g], bcast32(xq));
                sg = _mm512_dpbusd_epi32(sg, dec[4 * g + 1], bcast32(xq + 4));
                sg = _mm512_dpbusd_epi32(sg, dec[4 * g + 2], bcast32(xq + 8));
                sg = _mm512_dpbusd_epi32(sg, dec[4 * g + 3], bcast32(xq + 12));
                iv = _mm512_add_epi32(iv, _mm512_mullo_epi32(sg, scv[g]));
            }
            __m512 d = _mm512_mul_ps(wd, _mm512_set1_ps(x->d));
            acc[k][sb % 8] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(iv), acc[k][sb % 8]);
        }
    }
    for (size_t k = 0; k < nx; k++) fold8_store(acc[k], out + k * os, mask);
}

static void pk_q6_k(const uint8_t *grp, size_t nsb, size_t nvalid, const void *X, size_t xs, const int32_t *act,
                    size_t nx, float *out, size_t os)
{
    (void)act;
    __mmask16 mask = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1u);
    if (nx >= 2) {
        for (size_t k0 = 0; k0 < nx; k0 += Q6P_ROWS)
            pk_q6_k_rows(grp, nsb, (const char *)X + k0 * xs, xs, nx - k0 < Q6P_ROWS ? nx - k0 : Q6P_ROWS,
                         out + k0 * os, os, mask);
        return;
    }
    for (size_t k = 0; k < nx; k++) {
        const struct zt_block_q8_k *x = (const struct zt_block_q8_k *)(const void *)((const char *)X + k * xs);
        __m512 acc[8];
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++) acc[l] = _mm512_setzero_ps();
        for (size_t sb = 0; sb < nsb; sb++) {
            const uint8_t *p = grp + sb * Q6P_SB;
            const uint8_t *codes = p + 64 + 256;
            __m512i iv = _mm512_setzero_si512();
            for (int g = 0; g < 16; g++) {
                __m512i q0, q1, q2, q3;
                q6p_decode(codes + 192 * g, &q0, &q1, &q2, &q3);
                const int8_t *xq = x[sb].qs + 16 * g;
                __m512i sg = _mm512_set1_epi32(-32 * (int32_t)x[sb].bsums[g]);
                sg = _mm512_dpbusd_epi32(sg, q0, bcast32(xq));
                sg = _mm512_dpbusd_epi32(sg, q1, bcast32(xq + 4));
                sg = _mm512_dpbusd_epi32(sg, q2, bcast32(xq + 8));
                sg = _mm512_dpbusd_epi32(sg, q3, bcast32(xq + 12));
                __m512i sc = _mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(const void *)(p + 64 + 16 * g)));
                iv = _mm512_add_epi32(iv, _mm512_mullo_epi32(sg, sc));
            }
            __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)p)),
                                     _mm512_set1_ps(x[sb].d));
            acc[sb % 8] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(iv), acc[sb % 8]);
        }
        fold8_store(acc, out + k * os, mask);
    }
}

/* Packed Q4_K (quant_pack.c): per sub-block j, 4 chunks give the codes of
 * its 8 parts of 16 rows; 8 vpdpbusd give the exact sub-block sums of 16
 * rows, times their sc[j] into isum; msum = sum_j m[j] * (bsums[2j] +
 * bsums[2j+1]) the same way; then the super-block's two fmas into lane
 * sb % 8 (fnmadd: -(dmin * msum) + acc, the same single rounding as
 * fma(-dmin, msum, acc)). */
static void pk_q4_k(const uint8_t *grp, size_t nsb, size_t nvalid, const void *X, size_t xs, const int32_t *act,
                    size_t nx, float *out, size_t os)
{
    (void)act;
    enum { SB_BYTES = 64 + 256 + 32 * 64 };
    __mmask16 mask = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1u);
    const __m512i m4 = _mm512_set1_epi8(15);
    for (size_t k = 0; k < nx; k++) {
        const struct zt_block_q8_k *x = (const struct zt_block_q8_k *)(const void *)((const char *)X + k * xs);
        __m512 acc[8];
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++) acc[l] = _mm512_setzero_ps();
        for (size_t sb = 0; sb < nsb; sb++) {
            const uint8_t *p = grp + sb * SB_BYTES, *codes = p + 64 + 256;
            __m512i iv = _mm512_setzero_si512(), mv = _mm512_setzero_si512();
            for (int j = 0; j < 8; j++) {
                const int8_t *xq = x[sb].qs + 32 * j;
                __m512i sj = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) {
                    __m512i v = _mm512_load_si512((const void *)(codes + (4 * j + c) * 64));
                    sj = _mm512_dpbusd_epi32(sj, _mm512_and_si512(v, m4), bcast32(xq + 8 * c));
                    sj = _mm512_dpbusd_epi32(sj, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4), bcast32(xq + 8 * c + 4));
                }
                __m512i sc = _mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *)(const void *)(p + 64 + 16 * j)));
                __m512i mn = _mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *)(const void *)(p + 192 + 16 * j)));
                iv = _mm512_add_epi32(iv, _mm512_mullo_epi32(sj, sc));
                mv = _mm512_add_epi32(mv, _mm512_mullo_epi32(mn, _mm512_set1_epi32(x[sb].bsums[2 * j] + x[sb].bsums[2 * j + 1])));
            }
            __m512 xd = _mm512_set1_ps(x[sb].d);
            __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)p)), xd);
            __m512 dm = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)(p + 32))), xd);
            acc[sb % 8] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(iv), acc[sb % 8]);
            acc[sb % 8] = _mm512_fnmadd_ps(dm, _mm512_cvtepi32_ps(mv), acc[sb % 8]);
        }
        fold8_store(acc, out + k * os, mask);
    }
}

/* The other entries are quant.c's to fill from the AVX-512 table. */
const struct zt__quant_kernels zt__quant_kernels_avx512vnni = {
    .name = "avx512vnni",
    .dots_tile = true,
    .dot_q8_0 = dot_q8_0, .mm_q8_0 = mm_q8_0,
    .dot_q4_0 = dot_q4_0, .mm_q4_0 = mm_q4_0,
    .dot_q4_k = dot_q4_k, .dot_q6_k = dot_q6_k,
    .pk_q8_0 = pk_q8_0, .pk_q4_0 = pk_q4_0, .pk_q6_k = pk_q6_k, .pk_q4_k = pk_q4_k,
};

#else
const struct zt__quant_kernels zt__quant_kernels_avx512vnni = {.name = NULL};
#endif
