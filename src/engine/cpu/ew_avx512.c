/* ew_avx512.c: AVX-512 element-wise kernels for the CPU backend (SwiGLU and
 * the softmax's exponentials; cpu_backend.c chooses them at run time as it
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

static inline __m512 expf16(__m512 x)
{
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 kn = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269502162933349609375f)), magic),
                              magic);
    __m512i n = _mm512_cvttps_epi32(kn);
    __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(kn, _mm512_set1_ps(0.693145751953125f))),
                             _mm512_mul_ps(kn, _mm512_set1_ps(1.428606765330187045e-06f)));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
    /* n1 = n / 2 rounded toward zero, n2 = n - n1 */
    __m512i n1 = _mm512_srai_epi32(_mm512_add_epi32(n, _mm512_srli_epi32(n, 31)), 1);
    __m512i n2 = _mm512_sub_epi32(n, n1);
    const __m512i bias = _mm512_set1_epi32(127);
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23))),
                             _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23)));
    const __m512 zero = _mm512_setzero_ps();
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(y, _mm512_set1_ps(1.17549435082228750797e-38f), _CMP_LT_OQ), zero);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.5f), _CMP_LT_OQ), zero);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.72283935546875f), _CMP_GT_OQ),
                           _mm512_castsi512_ps(_mm512_set1_epi32(0x7f800000)));
    return _mm512_mask_add_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x, x);
}

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
        __m512 e = expf16(_mm512_xor_ps(gi, sign));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_div_ps(gi, _mm512_add_ps(one, e)), ui));
    }
}

void zt__exp_sub_avx512(float *s, size_t n, float mx)
{
    const __m512 vm = _mm512_set1_ps(mx);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail(n - i);
        _mm512_mask_storeu_ps(s + i, m, expf16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + i), vm)));
    }
}

#else
void zt__swiglu_avx512(float *y, const float *g, const float *u, size_t n)
{
    (void)y, (void)g, (void)u, (void)n;
}

void zt__exp_sub_avx512(float *s, size_t n, float mx)
{
    (void)s, (void)n, (void)mx;
}
#endif
