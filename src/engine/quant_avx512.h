/* quant_avx512.h: inline helpers shared by the AVX-512 kernel files
 * (quant_avx512.c, quant_avx512vnni.c); include only from files compiled
 * with the AVX-512 flags, after <immintrin.h>. */
#ifndef ZT_ENGINE_QUANT_AVX512_H
#define ZT_ENGINE_QUANT_AVX512_H

#include <stdint.h>
#include <immintrin.h>

static inline float fold8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 16 lanes: l += l+8, then fold8. */
static inline float fold16(__m512 v)
{
    return fold8(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

static inline __m256i load256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
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

static inline __m256i unpack_q4_0(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs);
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

#endif
