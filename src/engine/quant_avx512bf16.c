/* quant_avx512bf16.c: the BF16 precision mode's kernels on AVX512-BF16
 * (`vdpbf16ps`), chosen at run time by quant.c; every other kernel of this
 * path is avx512vnni's (quant.c fills the table).
 *
 * The mode's arithmetic (zt_quant.h, docs/internals/quant.md "BF16 mode")
 * is defined as what vdpbf16ps computes: canonical lane j of a 32-element
 * step is dword j of the 64-byte vectors, and one vdpbf16ps adds the odd
 * element's product then the even one's, each an fma rounded once and
 * flushed to zero below 2^-126 (its DAZ/FTZ); the scalar reference in
 * quant.c does the same operations one lane at a time. A tail shorter than
 * 32 is loaded with a zeroing mask: the definition pads with zeros.
 *
 * mm_bf16m: 4 weight rows x up to 4 activation rows, 16 zmm accumulators
 * (one canonical 16-lane set per output); per 32 elements 4 + nx loads and
 * 4 nx vdpbf16ps. The 16 folds (h = 8, 4, 2, 1) run transposed: each level
 * adds the upper lanes of two outputs' vectors to their lower lanes in one
 * vector add (the same lane l + lane l + h, so the same bits), and the last
 * level leaves output (row r, activation k) in lane 4k + r. */
#include <string.h>

#include "zentalk/zt_quant.h"
#include "quant_int.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__) &&    \
    defined(__AVX512BF16__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#include "quant_avx512.h"

#define ALWAYS_INLINE __attribute__((always_inline)) inline

static ALWAYS_INLINE __m512 dp(__m512 acc, __m512i w, __m512i x)
{
    return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)x);
}

/* One weight row x NX (1..4) activation rows (row k at x + k * xs). */
static ALWAYS_INLINE void dot_rows(size_t n, const uint16_t *w, const char *x, size_t xs, size_t NX, float *out)
{
    __m512 acc[4];
#pragma GCC unroll 4
    for (size_t k = 0; k < NX; k++) acc[k] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i wv = _mm512_loadu_si512(w + i);
#pragma GCC unroll 4
        for (size_t k = 0; k < NX; k++)
            acc[k] = dp(acc[k], wv, _mm512_loadu_si512((const uint16_t *)(const void *)(x + k * xs) + i));
    }
    if (i < n) {
        __mmask32 m = (__mmask32)((1ull << (n - i)) - 1);
        __m512i wv = _mm512_maskz_loadu_epi16(m, w + i);
#pragma GCC unroll 4
        for (size_t k = 0; k < NX; k++)
            acc[k] = dp(acc[k], wv, _mm512_maskz_loadu_epi16(m, (const uint16_t *)(const void *)(x + k * xs) + i));
    }
#pragma GCC unroll 4
    for (size_t k = 0; k < NX; k++) out[k] = fold16(acc[k]);
}

static void dot_bf16m(size_t n, const void *w, const void *x, size_t xs, size_t nx, float *out)
{
    switch (nx) {
    case 1: dot_rows(n, w, x, xs, 1, out); break;
    case 2: dot_rows(n, w, x, xs, 2, out); break;
    case 3: dot_rows(n, w, x, xs, 3, out); break;
    default: dot_rows(n, w, x, xs, 4, out); break;
    }
}

/* The folds of 16 canonical 16-lane sets a[4r + k] (weight row r,
 * activation row k): lane 4k + r of the result is output (r, k). Each level
 * puts the lower lanes of two sets in one vector and their upper lanes in
 * another, then adds: lane l + lane l + h for h = 8 (128-bit quarters 0-1
 * with 2-3), 4 (quarter 0 with 1), 2 and 1 (within quarters). */
static ALWAYS_INLINE __m512 fold4x4(__m512 *a)
{
    __m512 s[8], t[4], u[2];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) /* [a_2i lanes 0-7 folded, a_2i+1 lanes 0-7 folded] */
        s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) /* quarters: a_4j .. a_4j+3, 4 lanes each */
        t[j] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * j], s[2 * j + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(s[2 * j], s[2 * j + 1], _MM_SHUFFLE(3, 1, 3, 1)));
#pragma GCC unroll 2
    for (int m = 0; m < 2; m++) /* quarter q: a_8m+q in lanes 0-1, a_8m+4+q in lanes 2-3 */
        u[m] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * m], t[2 * m + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(t[2 * m], t[2 * m + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* quarter q: a_q, a_4+q, a_8+q, a_12+q: lane 4q + r is a_4r+q */
    return _mm512_add_ps(_mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* 4 weight rows (w[r]) x NX activation rows: the 16 results, lane 4k + r. */
static ALWAYS_INLINE __m512 tile4(size_t n, const uint16_t *const *w, const char *x, size_t xs, size_t NX)
{
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    const uint16_t *xr[4];
#pragma GCC unroll 4
    for (size_t k = 0; k < NX; k++) xr[k] = (const uint16_t *)(const void *)(x + k * xs);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i wv[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) wv[r] = _mm512_loadu_si512(w[r] + i);
#pragma GCC unroll 4
        for (size_t k = 0; k < NX; k++) {
            __m512i xv = _mm512_loadu_si512(xr[k] + i);
#pragma GCC unroll 4
            for (size_t r = 0; r < 4; r++) acc[4 * r + k] = dp(acc[4 * r + k], wv[r], xv);
        }
    }
    if (i < n) {
        __mmask32 m = (__mmask32)((1ull << (n - i)) - 1);
        __m512i wv[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) wv[r] = _mm512_maskz_loadu_epi16(m, w[r] + i);
#pragma GCC unroll 4
        for (size_t k = 0; k < NX; k++) {
            __m512i xv = _mm512_maskz_loadu_epi16(m, xr[k] + i);
#pragma GCC unroll 4
            for (size_t r = 0; r < 4; r++) acc[4 * r + k] = dp(acc[4 * r + k], wv[r], xv);
        }
    }
    return fold4x4(acc);
}

static void mm_bf16m(size_t n, const void *W, size_t row_bytes, size_t nrows, const void *X, size_t x_stride,
                     size_t nx, float *out, size_t out_stride)
{
    if (nx == 1) { /* generation: one weight stream at a time (measured faster from memory than 4 interleaved) */
        for (size_t r = 0; r < nrows; r++)
            dot_rows(n, (const uint16_t *)(const void *)((const char *)W + r * row_bytes), X, x_stride, 1, out + r);
        return;
    }
    for (size_t r0 = 0; r0 < nrows; r0 += 4) {
        size_t nr = nrows - r0 < 4 ? nrows - r0 : 4;
        const uint16_t *w[4];
        for (size_t r = 0; r < 4; r++) /* past the end: row r0 again, not stored */
            w[r] = (const uint16_t *)(const void *)((const char *)W + (r0 + (r < nr ? r : 0)) * row_bytes);
        __m512 v;
        switch (nx) {
        case 1: v = tile4(n, w, X, x_stride, 1); break;
        case 2: v = tile4(n, w, X, x_stride, 2); break;
        case 3: v = tile4(n, w, X, x_stride, 3); break;
        default: v = tile4(n, w, X, x_stride, 4); break;
        }
        float res[16];
        _mm512_storeu_ps(res, v);
        for (size_t k = 0; k < nx; k++) memcpy(out + k * out_stride + r0, res + 4 * k, nr * sizeof(float));
    }
}

const struct zt__quant_kernels zt__quant_kernels_avx512bf16 = {
    .name = "avx512bf16",
    .dot_bf16m = dot_bf16m,
    .mm_bf16m = mm_bf16m,
};

#else
const struct zt__quant_kernels zt__quant_kernels_avx512bf16 = {.name = NULL};
#endif
