/* attn_avx2.c: AVX2 attention over the KV cache for the CPU backend's
 * one-query (decode) path on a CPU whose kernel path is AVX2
 * (cpu_backend.c chooses it at run time; compiled with the AVX2 flags).
 *
 * The scalar loops' arithmetic, bit for bit (docs/internals/backend.md), as
 * attn_avx512.c does it 16 lanes wide: a score is dot = 0, dot = dot +
 * q[i] * k[i] (product rounded, then the add) in increasing i, then dot *
 * scale, each lane one position's chain over the 8 adjacent positions of a
 * K tile's dimension (cpu_backend.c store_k: tiles of 16 positions,
 * dimension-major); the weighted sum is o[i] = 0, o[i] = o[i] + (s[t] *
 * inv) * v_t[i] in increasing t, each lane one dimension's chain. Up to 4
 * groups of 8 (positions or dimensions) a pass, so 4 independent chains
 * hide the add latency. F16 caches are widened exactly (vcvtph2ps). The
 * rows after the last whole tile and the softmax stay with cpu_backend.c's
 * loops. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attn_cpu.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>

const bool zt__attn_avx2_built = true;

static inline __m256 v8(const void *p, bool f16, size_t off)
{
    return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)p + off)))
               : _mm256_loadu_ps((const float *)p + off);
}

/* ng (1..4) groups of 8 positions from t0 (all below n_pos and in whole
 * tiles): lane u of acc[j] is position t0 + 8 j + u, its dimension i at
 * (t - t % 16) * ks + (col + i) * 16 + t % 16. */
__attribute__((always_inline)) static inline void scores8(const float *q, const void *k, bool f16, size_t ks,
                                                          uint32_t col, uint32_t hd, uint32_t t0, int ng, float scale,
                                                          float *scores)
{
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t off[4];
    for (int j = 0; j < ng; j++) {
        uint32_t t = t0 + 8u * (uint32_t)j;
        off[j] = (size_t)(t - t % 16) * ks + (size_t)col * 16 + t % 16;
    }
    for (uint32_t i = 0; i < hd; i++) {
        __m256 qv = _mm256_set1_ps(q[i]);
        for (int j = 0; j < ng; j++)
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(qv, v8(k, f16, off[j] + (size_t)i * 16)));
    }
    for (int j = 0; j < ng; j++) _mm256_storeu_ps(scores + t0 + 8u * (uint32_t)j, _mm256_mul_ps(acc[j], _mm256_set1_ps(scale)));
}

#define SCORES8(NG)                                                                                                   \
    (f16 ? scores8(q, k, true, ks, col, hd, t, NG, scale, scores) : scores8(q, k, false, ks, col, hd, t, NG, scale, scores))

uint32_t zt__attn_scores_avx2(const float *q, const void *k, bool f16, size_t ks, uint32_t col, uint32_t n_tiled,
                              uint32_t hd, uint32_t n_pos, float scale, float *scores)
{
    uint32_t end = n_pos < n_tiled ? n_pos : n_tiled, t = 0;
    end -= end % 8;
    while (t < end) {
        uint32_t left = (end - t) / 8;
        if (left >= 4) SCORES8(4), t += 32;
        else if (left == 3) SCORES8(3), t += 24;
        else if (left == 2) SCORES8(2), t += 16;
        else SCORES8(1), t += 8;
    }
    return t;
}

/* nb (1..4) blocks of 8 dims from i0 over every position. */
__attribute__((always_inline)) static inline void wsum8(const float *scores, float inv, const void *v, bool f16,
                                                        size_t vs, uint32_t i0, int nb, uint32_t n_pos, float *o)
{
    __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (uint32_t t = 0; t < n_pos; t++) {
        __m256 pr = _mm256_set1_ps(scores[t] * inv);
        size_t off = (size_t)t * vs + i0;
        for (int b = 0; b < nb; b++) a[b] = _mm256_add_ps(a[b], _mm256_mul_ps(pr, v8(v, f16, off + 8u * (size_t)b)));
    }
    for (int b = 0; b < nb; b++) _mm256_storeu_ps(o + i0 + 8u * (uint32_t)b, a[b]);
}

#define WSUM8(NB)                                                                                                     \
    (f16 ? wsum8(scores, inv, v, true, vs, i0, NB, n_pos, o) : wsum8(scores, inv, v, false, vs, i0, NB, n_pos, o))

void zt__attn_wsum_avx2(const float *scores, float inv, const void *v, bool f16, size_t vs, uint32_t hd,
                        uint32_t n_pos, float *o)
{
    for (uint32_t i0 = 0; i0 < hd;) {
        uint32_t left = (hd - i0) / 8;
        if (left >= 4) WSUM8(4), i0 += 32;
        else if (left == 3) WSUM8(3), i0 += 24;
        else if (left == 2) WSUM8(2), i0 += 16;
        else WSUM8(1), i0 += 8;
    }
}

#else
const bool zt__attn_avx2_built = false;

uint32_t zt__attn_scores_avx2(const float *q, const void *k, bool f16, size_t ks, uint32_t col, uint32_t n_tiled,
                              uint32_t hd, uint32_t n_pos, float scale, float *scores)
{
    (void)q, (void)k, (void)f16, (void)ks, (void)col, (void)n_tiled, (void)hd, (void)n_pos, (void)scale, (void)scores;
    return 0;
}

void zt__attn_wsum_avx2(const float *scores, float inv, const void *v, bool f16, size_t vs, uint32_t hd,
                        uint32_t n_pos, float *o)
{
    (void)scores, (void)inv, (void)v, (void)f16, (void)vs, (void)hd, (void)n_pos, (void)o;
}
#endif
