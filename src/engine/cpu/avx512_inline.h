/* avx512_inline.h: inline helpers shared by the CPU backend's AVX-512
 * files (ew_avx512.c, attn_avx512.c); include it only where the AVX-512
 * flags are on. zt__expf16 is zt__expf (zt_math.h) on 16 lanes: the same
 * float operations in the same order as the scalar function, so the same
 * bits lane by lane (ew_avx512.c says how). zt__transpose16 moves 16 x 16
 * floats (no arithmetic). */
#ifndef ZT_ENGINE_AVX512_INLINE_H
#define ZT_ENGINE_AVX512_INLINE_H

#include <immintrin.h>

static inline __m512 zt__expf16(__m512 x)
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

/* 16 rows of 16 floats in r[0..15] become 16 columns: c[d] lane u is
 * r[u] lane d (unpack within 128-bit lanes, then 64-bit shuffles, then a
 * 4 x 4 transpose of the 128-bit lanes). Moves only: no arithmetic. */
/* always inlined: a call per tile costs more than the moves */
__attribute__((always_inline)) static inline void zt__transpose16(const __m512 *r, __m512 *c)
{
    __m512 t[16], u[16];
    for (int k = 0; k < 8; k++) {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    /* u[4k + m], 128-bit lane L: dim 4L + m of rows 4k..4k+3 */
    for (int k = 0; k < 4; k++) {
        u[4 * k + 0] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
        u[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xee);
        u[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
        u[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xee);
    }
    for (int m = 0; m < 4; m++) {
        __m512 x0 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88), x1 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xdd);
        __m512 x2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88), x3 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xdd);
        c[m] = _mm512_shuffle_f32x4(x0, x2, 0x88);
        c[8 + m] = _mm512_shuffle_f32x4(x0, x2, 0xdd);
        c[4 + m] = _mm512_shuffle_f32x4(x1, x3, 0x88);
        c[12 + m] = _mm512_shuffle_f32x4(x1, x3, 0xdd);
    }
}

#endif
