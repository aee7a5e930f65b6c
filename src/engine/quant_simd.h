/* quant_simd.h: inline helpers shared by the x86 kernel files
 * (quant_avx2.c, and through quant_avx512.h quant_avx512.c and
 * quant_avx512vnni.c); include only from files compiled with at least
 * -mavx2 -mfma -mf16c, after <immintrin.h>. */
#ifndef ZT_ENGINE_QUANT_SIMD_H
#define ZT_ENGINE_QUANT_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <immintrin.h>
#include <math.h>

#include "quant_ref.h" /* fold8_scalar: the same fold on 8 floats in memory */

/* 8 lanes folded as the reference does: l += l+4, l += l+2, l += l+1. */
static inline float fold8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}


/* Canonical order k2 (Q8_0/Q4_0): lane i of the result = the sum of the 8
 * int32 lanes of p_i (one block's exact s_b each): a transposing hadd tree,
 * integer adds only, so exact. */
static inline __m256i hsum8_i32(__m256i p0, __m256i p1, __m256i p2, __m256i p3, __m256i p4,
                                __m256i p5, __m256i p6, __m256i p7)
{
    __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
    __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(p4, p5), _mm256_hadd_epi32(p6, p7));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
                            _mm256_permute2x128_si256(a, b, 0x31));
}

/* Lane i = fp16(d[i * stride]) as f32 for i < m (m <= 8; stride in uint16
 * units: the block size / 2, d at offset 0 of the block), +0 in lanes m..7.
 * The conversion is exact; mul_ps of two of these is the scalar's single
 * f32 product d_b = fp16(w.d) * fp16(x.d) lane-wise. */
static inline __m256 h8(const uint16_t *d, size_t stride, size_t m)
{
    __m128i v;
    if (m == 8) {
        v = _mm_set_epi16((short)d[7 * stride], (short)d[6 * stride], (short)d[5 * stride],
                          (short)d[4 * stride], (short)d[3 * stride], (short)d[2 * stride],
                          (short)d[stride], (short)d[0]);
    } else {
        uint16_t a[8] = {0};
        for (size_t i = 0; i < m; i++)
            a[i] = d[i * stride];
        v = _mm_loadu_si128((const __m128i *)(const void *)a);
    }
    return _mm256_cvtph_ps(v);
}

static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

static inline __m256i load256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* Q4_0 nibbles as 32 bytes in element order (low nibbles = elements 0-15). */
static inline __m256i unpack_q4_0(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs);
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

/* Q4_K: the 6-bit scales and mins of the 8 sub-blocks. */
static inline void q4k_scales(const uint8_t *q, int32_t *sc, int32_t *m)
{
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 15) | ((q[j] >> 6) << 4);
        m[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
}

/* Q4_K's canonical step of one super-block into its lane *a, once isum
 * (the scaled code sums) is known: msum = sum_j m[j] * (bsums[2j] +
 * bsums[2j+1]), then a = fmaf(wd * x.d, isum, a), a = fmaf(-wdmin * x.d,
 * msum, a) (wd, wdmin: the block's d and dmin as f32). */
static inline void q4k_lane(float *a, float wd, float wdmin, const struct zt_block_q8_k *x, const int32_t *m,
                            int32_t isum)
{
    int32_t msum = 0;
    for (int j = 0; j < 8; j++)
        msum += m[j] * (x->bsums[2 * j] + x->bsums[2 * j + 1]);
    float d = wd * x->d, dmin = wdmin * x->d;
    *a = fmaf(d, (float)isum, *a);
    *a = fmaf(-dmin, (float)msum, *a);
}

#endif
