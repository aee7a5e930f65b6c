/* quant_avx512.h: inline helpers shared by the AVX-512 kernel files
 * (quant_avx512.c, quant_avx512vnni.c); include only from files compiled
 * with the AVX-512 flags, after <immintrin.h>. */
#ifndef ZT_ENGINE_QUANT_AVX512_H
#define ZT_ENGINE_QUANT_AVX512_H

#include <stdint.h>
#include <immintrin.h>

#include "quant_simd.h"

/* 16 lanes: l += l+8, then fold8. */
static inline float fold16(__m512 v)
{
    return fold8(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

static inline __m512i pair512(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* d0 in lanes 0-7, d1 in lanes 8-15. */
static inline __m512 dpair(float d0, float d1)
{
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(d0)), _mm256_set1_ps(d1), 1);
}

#endif
