/* attn_avx512.c: AVX-512 attention over the KV cache for the CPU backend
 * (cpu_backend.c chooses it at run time; compiled with the AVX-512 flags).
 *
 * Same arithmetic as the scalar loops of cpu_backend.c, bit for bit
 * (docs/internals/backend.md): a score is dot = 0, dot = dot + q[i] * k[i]
 * (product rounded, then the add) in increasing i, then dot * scale; the
 * output is o[i] = 0, o[i] = o[i] + p_t * v_t[i] in increasing t. Vectors
 * run across 16 positions for the scores (each lane one position's chain:
 * k[t][i] for 16 t is one gather) and across 16 dims for the output (each
 * lane one dim's chain), so no sum is reassociated. F16 caches are widened
 * exactly (vcvtph2ps). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attn_cpu.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__F16C__)
#include <immintrin.h>

const bool zt__attn_avx512_built = true;

uint32_t zt__attn_scores_avx512(const float *q, const void *k, bool f16, size_t ks, uint32_t hd, uint32_t n_pos,
                                float scale, float *scores)
{
    if (ks > (size_t)INT32_MAX / 32) return 0;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint32_t t = 0;
    if (!f16) {
        /* element offsets of position t + u, dim 0 */
        const __m512i step = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)ks));
        const float *kf = k;
        for (; t + 16 <= n_pos; t += 16) {
            const float *base = kf + (size_t)t * ks;
            __m512 acc = _mm512_setzero_ps();
            for (uint32_t i = 0; i < hd; i++) {
                __m512 col = _mm512_i32gather_ps(step, base + i, 4);
                acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(q[i]), col));
            }
            _mm512_storeu_ps(scores + t, _mm512_mul_ps(acc, _mm512_set1_ps(scale)));
        }
        return t;
    }
    /* F16: one 32-bit gather brings dims i and i + 1 (hd is even) */
    const __m512i step = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)(ks * 2)));
    const uint8_t *kb = k;
    for (; t + 16 <= n_pos; t += 16) {
        const uint8_t *base = kb + (size_t)t * ks * 2;
        __m512 acc = _mm512_setzero_ps();
        for (uint32_t i = 0; i < hd; i += 2) {
            __m512i w = _mm512_i32gather_epi32(step, base + (size_t)i * 2, 1);
            __m512 c0 = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(w));
            __m512 c1 = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(w, 16)));
            acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(q[i]), c0));
            acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(q[i + 1]), c1));
        }
        _mm512_storeu_ps(scores + t, _mm512_mul_ps(acc, _mm512_set1_ps(scale)));
    }
    return t;
}

void zt__attn_wsum_avx512(const float *scores, float inv, const void *v, bool f16, size_t vs, uint32_t hd,
                          uint32_t n_pos, float *o)
{
    for (uint32_t i0 = 0; i0 < hd; i0 += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (uint32_t t = 0; t < n_pos; t++) {
            __m512 pr = _mm512_set1_ps(scores[t] * inv);
            __m512 vv = f16 ? _mm512_cvtph_ps(_mm256_loadu_si256(
                                  (const __m256i *)(const void *)((const uint16_t *)v + (size_t)t * vs + i0)))
                            : _mm512_loadu_ps((const float *)v + (size_t)t * vs + i0);
            acc = _mm512_add_ps(acc, _mm512_mul_ps(pr, vv));
        }
        _mm512_storeu_ps(o + i0, acc);
    }
}

#else
const bool zt__attn_avx512_built = false;

uint32_t zt__attn_scores_avx512(const float *q, const void *k, bool f16, size_t ks, uint32_t hd, uint32_t n_pos,
                                float scale, float *scores)
{
    (void)q, (void)k, (void)f16, (void)ks, (void)hd, (void)n_pos, (void)scale, (void)scores;
    return 0;
}

void zt__attn_wsum_avx512(const float *scores, float inv, const void *v, bool f16, size_t vs, uint32_t hd,
                          uint32_t n_pos, float *o)
{
    (void)scores, (void)inv, (void)v, (void)f16, (void)vs, (void)hd, (void)n_pos, (void)o;
}
#endif
