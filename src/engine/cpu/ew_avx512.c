/* ew_avx512.c: AVX-512 element-wise kernels for the CPU backend (SwiGLU,
 * the softmax's exponentials, RMSNorm's sums of squares; cpu_backend.c chooses them at run time as it
 * does the attention kernels of attn_avx512.c; compiled with the AVX-512
 * flags).
 *
 * zt__expf (zt_math.h) lane by lane: the same float operations in the same
 * order (1.5 * 2^23 rounding of x / ln 2, the two-part Cody-Waite
 * reduction, the Horner polynomial, 2^n as two exact factors with n / 2
 * truncated toward zero as C does, the flush of results below the smallest
 * normal), the same answers for NaN (x + x), x > 88.72... (+Inf) and x <
 * -87.5 (+0), so the same bits (test_backend_ops compares them with the
 * scalar code over special and random values). No FMA: each multiply and
 * add is its own rounding, as in the scalar source compiled with
 * -ffp-contract=off. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attn_cpu.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__)
#include <immintrin.h>

#include "avx512_inline.h"

static inline __mmask16 tail(size_t k)
{
    return (__mmask16)((1u << k) - 1u);
}

void zt__swiglu_avx512(float *y, const float *g, const float *u, size_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u));
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail(n - i);
        __m512 gi = _mm512_maskz_loadu_ps(m, g + i), ui = _mm512_maskz_loadu_ps(m, u + i);
        /* (g / (1 + e^-g)) * u */
        __m512 e = zt__expf16(_mm512_xor_ps(gi, sign));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_div_ps(gi, _mm512_add_ps(one, e)), ui));
    }
}

void zt__exp_sub_avx512(float *s, size_t n, float mx)
{
    const __m512 vm = _mm512_set1_ps(mx);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail(n - i);
        _mm512_mask_storeu_ps(s + i, m, zt__expf16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + i), vm)));
    }
}

void zt__norm_sums16_avx512(const float *const xr[16], size_t n, float ss[16])
{
    __m512 acc = _mm512_setzero_ps();
    for (size_t i0 = 0; i0 < n; i0 += 16) {
        __m512 r[16], c[16];
        for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_ps(xr[j] + i0);
        zt__transpose16(r, c);
        for (int d = 0; d < 16; d++) acc = _mm512_add_ps(acc, _mm512_mul_ps(c[d], c[d]));
    }
    _mm512_storeu_ps(ss, acc);
}

void zt__scale_mul_avx512(float *y, const float *x, float s, const float *g, size_t n)
{
    const __m512 vs = _mm512_set1_ps(s);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail(n - i);
        __m512 xi = _mm512_maskz_loadu_ps(m, x + i), gi = _mm512_maskz_loadu_ps(m, g + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_mul_ps(xi, vs), gi));
    }
}

#else
void zt__scale_mul_avx512(float *y, const float *x, float s, const float *g, size_t n)
{
    (void)y, (void)x, (void)s, (void)g, (void)n;
}

void zt__norm_sums16_avx512(const float *const xr[16], size_t n, float ss[16])
{
    (void)xr, (void)n, (void)ss;
}

void zt__swiglu_avx512(float *y, const float *g, const float *u, size_t n)
{
    (void)y, (void)g, (void)u, (void)n;
}

void zt__exp_sub_avx512(float *s, size_t n, float mx)
{
    (void)s, (void)n, (void)mx;
}
#endif
