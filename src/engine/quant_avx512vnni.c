/* quant_avx512vnni.c: AVX512-VNNI (vpdpbusd) dot products for Q8_0 and Q4_0
 * weights x Q8_0 activations, plain rows and the packed layout of
 * quant_pack.c, and for Q4_K/Q6_K; chosen at run time by quant.c; every
 * other kernel of this path is the AVX-512 one (quant.c fills the table).
 *
 * Same contract as quant_avx512.c: bit-identical to the scalar reference's
 * canonical order (docs/internals/quant.md, order "k2" for Q8_0/Q4_0):
 * block b gives one exact int32 s_b (the sum of its 32 products), then
 * acc[b % 8] = fma(d_b, (float)s_b, acc[b % 8]) with d_b = fp16(w.d) *
 * fp16(x.d), and the fold h = 4, 2, 1.
 *
 * Plain rows: a block pair fills one zmm; vpdpbusd from a zero accumulator
 * gives the exact 4-element sums (weight magnitudes unsigned, the weight's
 * sign moved onto the activation; Q4_0's q - 8 the same way), four block
 * pairs are reduced to the 8 block sums s_b of a ymm by a transposing add
 * (integer, exact), and one ymm fma adds 8 blocks to the 8 lanes. The dot
 * kernels multiply one weight row with up to 4 activation rows at once, the
 * blocked kernels (mm_*) 2 weight rows x up to 4 activation rows: weights
 * are loaded and unpacked once for all of them. */
#include <math.h>
#include <string.h>

#include "zentalk/zt_quant.h"
#include "quant_int.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&              \
    defined(__AVX512DQ__) && defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#include "quant_avx512.h"

#define ALWAYS_INLINE __attribute__((always_inline)) inline

/* The signed weights of block b of a row (Q4_0: q - 8). */
static ALWAYS_INLINE __m256i wblk(bool q4, const void *w, size_t b)
{
    if (q4) return _mm256_sub_epi8(unpack_q4_0(((const struct zt_block_q4_0 *)w)[b].qs), _mm256_set1_epi8(8));
    return load256(((const struct zt_block_q8_0 *)w)[b].qs);
}

/* R weight rows (row r at w[r]) x NX activation rows: 8 blocks from b
 * (cnt of them, 1..8; the rest count as 0) into the 8-lane accumulators
 * acc[r][k]. Per block one ymm vpdpbusd gives its 8 exact 4-element sums,
 * hsum8_i32 the 8 blocks' s_b. */
static ALWAYS_INLINE void vdot8(bool q4, size_t R, const void *const *w, const struct zt_block_q8_0 *const *x,
                                size_t NX, size_t b, size_t cnt, __m256 (*acc)[4])
{
    size_t wbs = q4 ? sizeof(struct zt_block_q4_0) : sizeof(struct zt_block_q8_0);
    __m256 xd[4];
#pragma GCC unroll 8
    for (size_t k = 0; k < NX; k++) xd[k] = h8(&x[k][b].d, sizeof(struct zt_block_q8_0) / 2, cnt);
#pragma GCC unroll 8
    for (size_t r = 0; r < R; r++) {
        /* the 8 blocks' weight magnitudes and signs, shared by the NX rows */
        __m256i wa[8];
        __mmask32 neg[8];
#pragma GCC unroll 8
        for (size_t i = 0; i < 8; i++) {
            __m256i ws = i < cnt ? wblk(q4, w[r], b + i) : _mm256_setzero_si256();
            neg[i] = _mm256_movepi8_mask(ws);
            wa[i] = _mm256_abs_epi8(ws);
        }
        __m256 wd = h8((const uint16_t *)(const void *)((const char *)w[r] + b * wbs), wbs / 2, cnt);
#pragma GCC unroll 8
        for (size_t k = 0; k < NX; k++) {
            __m256i p[8];
#pragma GCC unroll 8
            for (size_t i = 0; i < 8; i++) {
                /* |w| * (x with w's sign): x != -128, so -x fits */
                __m256i xq = i < cnt ? load256(x[k][b + i].qs) : _mm256_setzero_si256();
                __m256i sx = _mm256_mask_sub_epi8(xq, neg[i], _mm256_setzero_si256(), xq);
                p[i] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wa[i], sx);
            }
            __m256i s = hsum8_i32(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
            /* lanes past cnt: d = 0 and s = 0, fma(0, 0, acc) == acc (acc is never -0) */
            acc[r][k] = _mm256_fmadd_ps(_mm256_mul_ps(wd, xd[k]), _mm256_cvtepi32_ps(s), acc[r][k]);
        }
    }
}

static ALWAYS_INLINE void vdot(bool q4, size_t nb, size_t R, const void *const *w,
                               const struct zt_block_q8_0 *const *x, size_t NX, float (*out)[4])
{
    __m256 acc[2][4];
#pragma GCC unroll 8
    for (size_t r = 0; r < R; r++)
#pragma GCC unroll 8
        for (size_t k = 0; k < NX; k++) acc[r][k] = _mm256_setzero_ps();
    size_t b = 0;
    for (; b + 8 <= nb; b += 8) vdot8(q4, R, w, x, NX, b, 8, acc);
    if (b < nb) vdot8(q4, R, w, x, NX, b, nb - b, acc);
#pragma GCC unroll 8
    for (size_t r = 0; r < R; r++)
#pragma GCC unroll 8
        for (size_t k = 0; k < NX; k++) out[r][k] = fold8(acc[r][k]);
}

/* one weight row x nx (1..4) activation rows */
static ALWAYS_INLINE void dot_vnni(bool q4, size_t n, const void *wv, const void *xv, size_t xs, size_t nx,
                                   float *out)
{
    const struct zt_block_q8_0 *x[4];
    for (size_t k = 0; k < nx; k++)
        x[k] = (const struct zt_block_q8_0 *)(const void *)((const char *)xv + k * xs);
    const void *w[1] = {wv};
    float o[2][4];
    switch (nx) {
    case 1: vdot(q4, n / 32, 1, w, x, 1, o); break;
    case 2: vdot(q4, n / 32, 1, w, x, 2, o); break;
    case 3: vdot(q4, n / 32, 1, w, x, 3, o); break;
    default: vdot(q4, n / 32, 1, w, x, 4, o); break;
    }
    for (size_t k = 0; k < nx; k++) out[k] = o[0][k];
}

static void dot_q8_0(size_t n, const void *wv, const void *xv, size_t xs, size_t nx, float *out)
{
    dot_vnni(false, n, wv, xv, xs, nx, out);
}

static void dot_q4_0(size_t n, const void *wv, const void *xv, size_t xs, size_t nx, float *out)
{
    dot_vnni(true, n, wv, xv, xs, nx, out);
}

/* ---- blocked: 2 weight rows x up to 4 activation rows (vdot above); a
 * leftover weight row goes to the dot kernel. Each output element's
 * operations are the single dot's. */
static ALWAYS_INLINE void mm_vnni(bool q4, size_t n, const void *W, size_t row_bytes, size_t nrows, const void *X,
                                  size_t xs, size_t nx, float *out, size_t os)
{
    size_t nb = n / 32;
    const struct zt_block_q8_0 *x[4];
    for (size_t k = 0; k < nx; k++)
        x[k] = (const struct zt_block_q8_0 *)(const void *)((const char *)X + k * xs);
    size_t r = 0;
    for (; nx > 1 && r + 2 <= nrows; r += 2) {
        const void *w[2] = {(const char *)W + r * row_bytes, (const char *)W + (r + 1) * row_bytes};
        float o[2][4];
        switch (nx) {
        case 2: vdot(q4, nb, 2, w, x, 2, o); break;
        case 3: vdot(q4, nb, 2, w, x, 3, o); break;
        default: vdot(q4, nb, 2, w, x, 4, o); break;
        }
        for (size_t k = 0; k < nx; k++) {
            out[k * os + r] = o[0][k];
            out[k * os + r + 1] = o[1][k];
        }
    }
    for (; r < nrows; r++) {
        float o[4];
        dot_vnni(q4, n, (const char *)W + r * row_bytes, X, xs, nx, o);
        for (size_t k = 0; k < nx; k++) out[k * os + r] = o[k];
    }
}

static void mm_q8_0(size_t n, const void *W, size_t row_bytes, size_t nrows, const void *X, size_t xs, size_t nx,
                    float *out, size_t os)
{
    mm_vnni(false, n, W, row_bytes, nrows, X, xs, nx, out, os);
}

static void mm_q4_0(size_t n, const void *W, size_t row_bytes, size_t nrows, const void *X, size_t xs, size_t nx,
                    float *out, size_t os)
{
    mm_vnni(true, n, W, row_bytes, nrows, X, xs, nx, out, os);
}


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
            q4k_lane(&acc[k][b % 8], wd, wdm, xb, m, _mm512_reduce_add_epi32(iv));
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
 * One group of 16 rows: a zmm of 16 int32 holds one 4-byte group of each
 * of the 16 rows, so for block b the 8 chained vpdpbusd of its chunks
 * against the activation's 4 bytes broadcast, from the prepared bias
 * (-128 * sum x for Q8_0's unsigned bytes, -8 * sum x for Q4_0's nibbles),
 * give the exact s_b of the 16 rows; one cvtph and one mul give their d_b
 * (the same single f32 product); acc[b % 8] = fma(d_b, (float)s_b,
 * acc[b % 8]) with register l holding canonical lane l of the 16 rows; the
 * fold h = 4, 2, 1 is 7 vector adds for the 16 rows. Batch rows run up to
 * 8 at a time over the group (weights loaded and unpacked once for them,
 * each row's chains and fmas its own), so a row's result never depends on
 * the batch. */

static inline __m512i bcast32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* s + the 4-byte products of w (unsigned) with the activation's 4 bytes at
 * p broadcast, the broadcast embedded in the vpdpbusd (m32bcst): gcc loads
 * _mm512_set1_epi32 of memory with a separate vpbroadcastd, one more uop
 * per vpdpbusd in the batched kernel. The same exact integer sums. */
typedef int32_t zt_i32_alias __attribute__((may_alias, aligned(1)));
#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define ZT_VNNI_ASAN 1
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define ZT_VNNI_ASAN 1
#endif
#endif
#ifndef ZT_VNNI_ASAN
#define ZT_VNNI_ASAN 0
#endif
static ALWAYS_INLINE __m512i dpbusd_bcast(__m512i s, __m512i w, const int8_t *p)
{
#if ZT_VNNI_ASAN
    /* the sanitizer cannot see a read inside asm: the intrinsic (a separate
     * broadcast, the same sums) where the read must be checked (review10 F9) */
    return _mm512_dpbusd_epi32(s, w, bcast32(p));
#else
    /* AT&T and Intel dialects (-masm=intel) both */
    __asm__("{vpdpbusd %2%{1to16%}, %1, %0|vpdpbusd %0, %1, %2%{1to16%}}"
            : "+v"(s)
            : "v"(w), "m"(*(const zt_i32_alias *)(const void *)p));
    return s;
#endif
}

/* s_b of the 16 rows for NX activation rows: qq the block's
 * chunks, xq[k] the activation's codes, c[k] its prepared bias. */
static ALWAYS_INLINE void pk_sums(bool q4, size_t NX, const uint8_t *qq, const int8_t *const *xq, const int32_t *c,
                                  __m512i *s)
{
    for (size_t k = 0; k < NX; k++) s[k] = _mm512_set1_epi32(c[k]);
    if (!q4) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m512i w = _mm512_load_si512((const void *)(qq + 64 * j));
            for (size_t k = 0; k < NX; k++) s[k] = _mm512_dpbusd_epi32(s[k], w, bcast32(xq[k] + 4 * j));
        }
        return;
    }
    const __m512i m4 = _mm512_set1_epi8(15);
#pragma GCC unroll 4
    for (int ch = 0; ch < 4; ch++) {
        __m512i v = _mm512_load_si512((const void *)(qq + 64 * ch));
        __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        for (size_t k = 0; k < NX; k++) {
            s[k] = _mm512_dpbusd_epi32(s[k], lo, bcast32(xq[k] + 4 * ch));
            s[k] = _mm512_dpbusd_epi32(s[k], hi, bcast32(xq[k] + 16 + 4 * ch));
        }
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

/* One activation row (generation of one stream) over the whole group: one
 * sequential stream, left to the hardware prefetchers (a software prefetch
 * 2 KiB ahead was slower on the Zen 4); the 8 lane accumulators stay in
 * registers. */
static ALWAYS_INLINE void pk_row(bool q4, const uint8_t *grp, size_t nb, __mmask16 mask, const void *X,
                                 const int32_t *act, float *out)
{
    size_t qb = q4 ? 256 : 512, pb = 64 + 2 * qb; /* a block pair: scales, block 2b, block 2b+1 */
    const struct zt_block_q8_0 *x = X;
    __m512 A[8];
#pragma GCC unroll 8
    for (int l = 0; l < 8; l++) A[l] = _mm512_setzero_ps();
    for (size_t b0 = 0; b0 < nb; b0 += 8) {
#pragma GCC unroll 8
        for (size_t l = 0; l < 8; l++) {
            size_t b = b0 + l;
            if (b >= nb) break;
            const uint8_t *pair = grp + (b / 2) * pb;
            const int8_t *xq = x[b].qs;
            __m512i s;
            pk_sums(q4, 1, pair + 64 + (l % 2) * qb, &xq, &act[2 * b], &s);
            __m512 ws = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)(pair + 32 * (l % 2))));
            float dx;
            memcpy(&dx, &act[2 * b + 1], sizeof dx);
            A[l] = _mm512_fmadd_ps(_mm512_mul_ps(ws, _mm512_set1_ps(dx)), _mm512_cvtepi32_ps(s), A[l]);
        }
    }
    fold8_store(A, out, mask);
}

/* Block b of pk_batch for its NX rows: the exact s_b of the 16 rows, then
 * acc[i][b % 8] = fma(d_b, (float)s_b, acc) where acc is +0 for the first
 * block of a lane (first: the canonical lanes start at +0, taken from a
 * register instead of 64 zeroed accumulators stored and loaded again: the
 * same fma, so the same bits, including fma(d, s, +0)'s +0 for a -0
 * product). */
static ALWAYS_INLINE void pk_block(bool q4, size_t NX, const uint8_t *grp, size_t b, bool first,
                                   const int8_t *const *xq, const int32_t *const *a, __m512 (*A)[8])
{
    size_t qb = q4 ? 256 : 512, pb = 64 + 2 * qb;
    const uint8_t *pair = grp + (b / 2) * pb, *qq = pair + 64 + (b % 2) * qb;
    size_t xo = b * sizeof(struct zt_block_q8_0);
    __m512i s[8];
#pragma GCC unroll 8
    for (size_t i = 0; i < NX; i++) s[i] = _mm512_set1_epi32(a[i][2 * b]);
    if (!q4) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m512i w = _mm512_load_si512((const void *)(qq + 64 * j));
#pragma GCC unroll 8
            for (size_t i = 0; i < NX; i++) s[i] = dpbusd_bcast(s[i], w, xq[i] + xo + 4 * j);
        }
    } else {
        const __m512i m4 = _mm512_set1_epi8(15);
#pragma GCC unroll 4
        for (int ch = 0; ch < 4; ch++) {
            __m512i v = _mm512_load_si512((const void *)(qq + 64 * ch));
            __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
#pragma GCC unroll 8
            for (size_t i = 0; i < NX; i++) {
                s[i] = dpbusd_bcast(s[i], lo, xq[i] + xo + 4 * ch);
                s[i] = dpbusd_bcast(s[i], hi, xq[i] + xo + 16 + 4 * ch);
            }
        }
    }
    __m512 ws = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)(pair + 32 * (b % 2))));
#pragma GCC unroll 8
    for (size_t i = 0; i < NX; i++) {
        float dx;
        memcpy(&dx, &a[i][2 * b + 1], sizeof dx);
        A[i][b % 8] = _mm512_fmadd_ps(_mm512_mul_ps(ws, _mm512_set1_ps(dx)), _mm512_cvtepi32_ps(s[i]),
                                      first ? _mm512_setzero_ps() : A[i][b % 8]);
    }
}

/* Two and more activation rows (batched decoding, prompts): NX (1..8) rows from row k
 * over the whole group in one pass, each weight chunk loaded (and Q4_0's
 * nibbles unpacked) once for all NX rows. The NX dpbusd chains of a block
 * are independent, so they hide vpdpbusd's latency; the canonical lane
 * accumulators (8 per row, too many for the registers) wait in L1 between
 * blocks: acc[i][b % 8] = fma(d_b, (float)s_b, acc[i][b % 8]) in block
 * order, the fold as pk_row, so each row's bits are pk_row's (and the
 * scalar reference's) whatever NX is. One pass reads the group once and in
 * order, so for up to 8 rows the weights stream like one row's; more rows
 * take several passes (chunks of at most 8). The next group is prefetched
 * into L2, spread over the blocks of the pass(es): without it a single pass
 * over a 4096-column group ran at half the rate of two passes (the
 * hardware prefetchers do not keep up with a stream read this slowly).
 * The first 8 blocks start their lanes from a zero register (pk_block):
 * zeroing the 64 accumulators in memory first took ~9 % of this kernel's
 * samples on 768-column matrices (24 blocks a pass). */
static ALWAYS_INLINE void pk_batch(bool q4, size_t NX, const uint8_t *grp, size_t nb, __mmask16 mask,
                                   const void *X, size_t xs, const int32_t *act, size_t k, size_t pass,
                                   size_t passes, float *out, size_t os)
{
    size_t qb = q4 ? 256 : 512, pb = 64 + 2 * qb;
    const uint8_t *next = grp + (nb + 1) / 2 * pb;
    _Alignas(64) __m512 A[8][8];
    const int8_t *xq[8];
    const int32_t *a[8];
#pragma GCC unroll 8
    for (size_t i = 0; i < NX; i++) {
        xq[i] = ((const struct zt_block_q8_0 *)(const void *)((const char *)X + (k + i) * xs))->qs;
        a[i] = act + (k + i) * nb * 2;
    }
    size_t head = nb < 8 ? nb : 8;
    for (size_t b = 0; b < nb; b++) {
        if (b % 2 == 0 && (b / 2) % passes == pass)
            for (size_t o = 0; o < pb; o += 64) _mm_prefetch((const char *)next + (b / 2) * pb + o, _MM_HINT_T1);
        if (b < head)
            pk_block(q4, NX, grp, b, true, xq, a, A);
        else
            pk_block(q4, NX, grp, b, false, xq, a, A);
    }
    /* lanes no block reached (fewer than 8 blocks) stay +0 */
    for (size_t l = head; l < 8; l++)
#pragma GCC unroll 8
        for (size_t i = 0; i < NX; i++) A[i][l] = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (size_t i = 0; i < NX; i++) fold8_store(A[i], out + (k + i) * os, mask);
}

static ALWAYS_INLINE void pk_vnni(bool q4, const uint8_t *grp, size_t nb, size_t nvalid, const void *X, size_t xs,
                                  const int32_t *act, size_t nx, float *out, size_t os)
{
    __mmask16 mask = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1u);
    size_t k = 0;
    if (nx >= 2) {
        /* passes of at most 8 rows, as even as they can be (2..8 rows in
         * one pass: batch 2 runs ~5 % faster here than in the one-row
         * kernel's register form for two rows) */
        size_t passes = (nx + 7) / 8;
        for (size_t pass = 0; pass < passes; pass++) {
            size_t m = nx / passes + (pass < nx % passes);
            switch (m) {
            case 1: pk_batch(q4, 1, grp, nb, mask, X, xs, act, k, pass, passes, out, os); break;
            case 2: pk_batch(q4, 2, grp, nb, mask, X, xs, act, k, pass, passes, out, os); break;
            case 3: pk_batch(q4, 3, grp, nb, mask, X, xs, act, k, pass, passes, out, os); break;
            case 4: pk_batch(q4, 4, grp, nb, mask, X, xs, act, k, pass, passes, out, os); break;
            case 5: pk_batch(q4, 5, grp, nb, mask, X, xs, act, k, pass, passes, out, os); break;
            case 6: pk_batch(q4, 6, grp, nb, mask, X, xs, act, k, pass, passes, out, os); break;
            case 7: pk_batch(q4, 7, grp, nb, mask, X, xs, act, k, pass, passes, out, os); break;
            default: pk_batch(q4, 8, grp, nb, mask, X, xs, act, k, pass, passes, out, os); break;
            }
            k += m;
        }
        return;
    }
    if (nx == 1) pk_row(q4, grp, nb, mask, X, act, out);
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
 * decoding: the output projection of every generating stream) decode each
 * group once into registers for up to 8 rows (pk_q6_k_batch), their
 * accumulators waiting in memory between super-blocks (the same integer
 * sums and the same fma per row). */
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

/* NX (1..8) activation rows over the group: per group g of 16 elements the
 * 4 code vectors are decoded once into registers and run all NX rows (their
 * dpbusd chains independent, each from the row's -32 * bsums[g] broadcast
 * from memory), times scales[g] into the row's int32 isum (exact in any
 * order); the super-block's fma into lane sb % 8 per row, the lane
 * accumulators waiting in L1 between super-blocks. */
static ALWAYS_INLINE void pk_q6_k_batch(size_t NX, const uint8_t *grp, size_t nsb, const void *X, size_t xs,
                                        float *out, size_t os, __mmask16 mask)
{
    _Alignas(64) __m512 acc[Q6P_ROWS][8];
    _Alignas(64) int32_t bias[Q6P_ROWS][16];
#pragma GCC unroll 8
    for (size_t k = 0; k < NX; k++)
        for (int l = 0; l < 8; l++) acc[k][l] = _mm512_setzero_ps();
    for (size_t sb = 0; sb < nsb; sb++) {
        const uint8_t *p = grp + sb * Q6P_SB;
        const uint8_t *codes = p + 64 + 256;
        const struct zt_block_q8_k *x[Q6P_ROWS];
        __m512i iv[Q6P_ROWS];
#pragma GCC unroll 8
        for (size_t k = 0; k < NX; k++) {
            x[k] = (const struct zt_block_q8_k *)(const void *)((const char *)X + k * xs) + sb;
            /* -32 * bsums[g] (|.| <= 2^17) */
            __m512i bs = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)x[k]->bsums));
            _mm512_store_si512((void *)bias[k], _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(bs, 5)));
            iv[k] = _mm512_setzero_si512();
        }
        for (int g = 0; g < 16; g++) {
            /* the next group's super-block sb into L2, 256 bytes a group g
             * (groups are contiguous: it follows this one) */
            for (int o = 256 * g; o < 256 * g + 256 && o < Q6P_SB; o += 64)
                _mm_prefetch((const char *)grp + (nsb + sb) * Q6P_SB + o, _MM_HINT_T1);
            __m512i q0, q1, q2, q3;
            q6p_decode(codes + 192 * g, &q0, &q1, &q2, &q3);
            __m512i sc = _mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(const void *)(p + 64 + 16 * g)));
#pragma GCC unroll 8
            for (size_t k = 0; k < NX; k++) {
                const int8_t *xq = x[k]->qs + 16 * g;
                __m512i sg = _mm512_set1_epi32(bias[k][g]);
                sg = _mm512_dpbusd_epi32(sg, q0, bcast32(xq));
                sg = _mm512_dpbusd_epi32(sg, q1, bcast32(xq + 4));
                sg = _mm512_dpbusd_epi32(sg, q2, bcast32(xq + 8));
                sg = _mm512_dpbusd_epi32(sg, q3, bcast32(xq + 12));
                iv[k] = _mm512_add_epi32(iv[k], _mm512_mullo_epi32(sg, sc));
            }
        }
        __m512 wd = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)p));
#pragma GCC unroll 8
        for (size_t k = 0; k < NX; k++) {
            __m512 d = _mm512_mul_ps(wd, _mm512_set1_ps(x[k]->d));
            acc[k][sb % 8] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(iv[k]), acc[k][sb % 8]);
        }
    }
#pragma GCC unroll 8
    for (size_t k = 0; k < NX; k++) fold8_store(acc[k], out + k * os, mask);
}

static void pk_q6_k_rows(const uint8_t *grp, size_t nsb, const void *X, size_t xs, size_t nx, float *out, size_t os,
                         __mmask16 mask)
{
    switch (nx) {
    case 1: pk_q6_k_batch(1, grp, nsb, X, xs, out, os, mask); break;
    case 2: pk_q6_k_batch(2, grp, nsb, X, xs, out, os, mask); break;
    case 3: pk_q6_k_batch(3, grp, nsb, X, xs, out, os, mask); break;
    case 4: pk_q6_k_batch(4, grp, nsb, X, xs, out, os, mask); break;
    case 5: pk_q6_k_batch(5, grp, nsb, X, xs, out, os, mask); break;
    case 6: pk_q6_k_batch(6, grp, nsb, X, xs, out, os, mask); break;
    case 7: pk_q6_k_batch(7, grp, nsb, X, xs, out, os, mask); break;
    default: pk_q6_k_batch(8, grp, nsb, X, xs, out, os, mask); break;
    }
}

static void pk_q6_k(const uint8_t *grp, size_t nsb, size_t nvalid, const void *X, size_t xs, const int32_t *act,
                    size_t nx, float *out, size_t os)
{
    (void)act;
    __mmask16 mask = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1u);
    if (nx >= 2) {
        /* chunks of at most 8 rows, as even as they can be */
        size_t chunks = (nx + Q6P_ROWS - 1) / Q6P_ROWS;
        for (size_t c = 0, k0 = 0; c < chunks; c++) {
            size_t m = nx / chunks + (c < nx % chunks);
            pk_q6_k_rows(grp, nsb, (const char *)X + k0 * xs, xs, m, out + k0 * os, os, mask);
            k0 += m;
        }
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
