/* attn_avx512.c: AVX-512 attention over the KV cache for the CPU backend
 * (cpu_backend.c chooses it at run time; compiled with the AVX-512 flags).
 *
 * Same arithmetic as the scalar loops of cpu_backend.c, bit for bit
 * (docs/internals/backend.md): a score is dot = 0, dot = dot + q[i] * k[i]
 * (product rounded, then the add) in increasing i, then dot * scale; the
 * output is o[i] = 0, o[i] = o[i] + p_t * v_t[i] in increasing t. Vectors
 * run across 16 positions for the scores (each lane one position's chain)
 * and across 16 dims for the output (each lane one dim's chain), so no
 * sum is reassociated. The K cache is stored in tiles of 16 positions,
 * dimension-major (cpu_backend.c store_k, docs/internals/engine.md "K
 * cache tiles"), so k[t][i] for the 16 t of a tile is one load; rows after
 * the last whole tile are loaded 16 x 16 and transposed in registers. F16
 * caches are widened exactly (vcvtph2ps). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attn_cpu.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__F16C__)
#include <immintrin.h>

#include "avx512_inline.h"

const bool zt__attn_avx512_built = true;

static inline __m512 v_row(const void *v, bool f16, size_t off)
{
    return f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)((const uint16_t *)v + off)))
               : _mm512_loadu_ps((const float *)v + off);
}

/* nt (1..4, a constant where inlined) whole tiles from position t0 (in
 * the tiled part): lane u of acc[j] is position t0 + 16 j + u, its
 * dimension i one load at (t0 + 16 j) * ks + (col + i) * 16; nt chains,
 * so the add latency is paid once per nt tiles. Lanes past n_pos are
 * computed (from whatever the tile holds) and not stored. */
__attribute__((always_inline)) static inline void scores_tiles(const float *q, const void *k, bool f16, size_t ks,
                                                               uint32_t col, uint32_t hd, uint32_t t0, int nt,
                                                               uint32_t n_pos, float scale, float *scores)
{
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    size_t off[4];
    for (int j = 0; j < nt; j++) off[j] = (size_t)(t0 + 16u * (uint32_t)j) * ks + (size_t)col * 16;
    for (uint32_t i = 0; i < hd; i++) {
        __m512 qv = _mm512_set1_ps(q[i]);
        for (int j = 0; j < nt; j++) acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(qv, v_row(k, f16, off[j] + (size_t)i * 16)));
    }
    for (int j = 0; j < nt; j++) {
        uint32_t t = t0 + 16u * (uint32_t)j, m = n_pos - t < 16 ? n_pos - t : 16;
        _mm512_mask_storeu_ps(scores + t, (__mmask16)((1u << m) - 1u), _mm512_mul_ps(acc[j], _mm512_set1_ps(scale)));
    }
}

/* scores_tiles with nt and f16 constants (each its own unrolled loop). */
#define SCORES_TILES(NT)                                                                                              \
    (f16 ? scores_tiles(q, k, true, ks, col, hd, t, NT, n_pos, scale, scores)                                         \
         : scores_tiles(q, k, false, ks, col, hd, t, NT, n_pos, scale, scores))

uint32_t zt__attn_scores_avx512(const float *q, const void *k, bool f16, size_t ks, uint32_t col, uint32_t n_tiled,
                                uint32_t hd, uint32_t n_pos, float scale, float *scores)
{
    /* the tiled part: up to 4 tiles a pass, dot = dot + q[i] * k[i] in
     * increasing i per lane, no transpose */
    uint32_t tiled = n_pos < n_tiled ? n_pos : n_tiled, t = 0;
    for (; t < tiled;) {
        uint32_t left = (tiled - t + 15) / 16;
        if (left >= 4) SCORES_TILES(4), t += 64;
        else if (left == 3) SCORES_TILES(3), t += 48;
        else if (left == 2) SCORES_TILES(2), t += 32;
        else SCORES_TILES(1), t += 16;
    }
    /* rows after the last whole tile: 16 positions a tile (the last one
     * masked), dims 16 at a time loaded as rows and transposed, so lane u
     * of column c[d] is k[t + u] at dim i0 + d */
    for (t = t > n_pos ? n_pos : t; t < n_pos; t += 16) {
        uint32_t nr = n_pos - t < 16 ? n_pos - t : 16;
        __m512 acc = _mm512_setzero_ps();
        for (uint32_t i0 = 0; i0 < hd; i0 += 16) {
            __m512 r[16], c[16];
            for (uint32_t u = 0; u < 16; u++) {
                size_t off = (size_t)(t + u) * ks + col + i0;
                if (u >= nr) r[u] = _mm512_setzero_ps();
                else if (f16) r[u] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)((const uint16_t *)k + off)));
                else r[u] = _mm512_loadu_ps((const float *)k + off);
            }
            zt__transpose16(r, c);
            for (int d = 0; d < 16; d++) acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(q[i0 + (uint32_t)d]), c[d]));
        }
        _mm512_mask_storeu_ps(scores + t, (__mmask16)((1u << nr) - 1u), _mm512_mul_ps(acc, _mm512_set1_ps(scale)));
    }
    return n_pos;
}

/* One query's 64-dim block at i0 over positions [t0, n_pos): a[b] lane
 * l = a[b] lane l + (scores[t] * inv) * v[t][i0 + 16 b + l] in increasing
 * t (4 independent chains, so the add latency is not paid once per
 * position per block). */
__attribute__((always_inline)) static inline void wsum64(const float *scores, float inv, const void *v, bool f16,
                                                         size_t vs, uint32_t i0, uint32_t t0, uint32_t n_pos,
                                                         __m512 a[4])
{
    for (uint32_t t = t0; t < n_pos; t++) {
        __m512 pr = _mm512_set1_ps(scores[t] * inv);
        size_t off = (size_t)t * vs + i0;
        a[0] = _mm512_add_ps(a[0], _mm512_mul_ps(pr, v_row(v, f16, off)));
        a[1] = _mm512_add_ps(a[1], _mm512_mul_ps(pr, v_row(v, f16, off + 16)));
        a[2] = _mm512_add_ps(a[2], _mm512_mul_ps(pr, v_row(v, f16, off + 32)));
        a[3] = _mm512_add_ps(a[3], _mm512_mul_ps(pr, v_row(v, f16, off + 48)));
    }
}

void zt__attn_wsum_avx512(const float *scores, float inv, const void *v, bool f16, size_t vs, uint32_t hd,
                          uint32_t n_pos, float *o)
{
    /* up to 4 blocks of 16 dims per pass over the positions (wsum64), each
     * lane still adding its products in increasing t */
    uint32_t i0 = 0;
    for (; i0 + 64 <= hd; i0 += 64) {
        __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        wsum64(scores, inv, v, f16, vs, i0, 0, n_pos, a);
        for (int b = 0; b < 4; b++) _mm512_storeu_ps(o + i0 + 16 * b, a[b]);
    }
    for (; i0 < hd; i0 += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (uint32_t t = 0; t < n_pos; t++)
            acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(scores[t] * inv), v_row(v, f16, (size_t)t * vs + i0)));
        _mm512_storeu_ps(o + i0, acc);
    }
}

/* An empty asm that takes the 16 accumulators in registers: the compiler
 * may not move their updates across it (it reordered the score loop's
 * dims and positions into long dependent chains). Changes no value. */
__attribute__((always_inline)) static inline void keep16(__m512 *a)
{
    __asm__("" : "+v"(a[0]), "+v"(a[1]), "+v"(a[2]), "+v"(a[3]), "+v"(a[4]), "+v"(a[5]), "+v"(a[6]), "+v"(a[7]));
    __asm__("" : "+v"(a[8]), "+v"(a[9]), "+v"(a[10]), "+v"(a[11]), "+v"(a[12]), "+v"(a[13]), "+v"(a[14]),
                 "+v"(a[15]));
}

/* The valid lanes at position t: queries j with t < n_pos[j]. */
static inline __mmask16 live_at(__m512i npos, uint32_t t)
{
    return _mm512_cmpgt_epu32_mask(npos, _mm512_set1_epi32((int)t));
}

/* ZT_ATTN_MQ (16) queries of one sequence and KV head at once, lanes
 * across the queries throughout (no transpose of scores or weights):
 *
 * scores: the queries are transposed once (qt[i] lane j is q_j[i]); for 16
 * cache rows at a time acc[u] = acc[u] + qt[i] * k[t + u][i] in increasing
 * i, each k element broadcast from a 16 x 16 copy of the tile (F32 tiles
 * read in place, F16 widened exactly, rows after the last whole tile
 * transposed, zeros past the longest n_pos); s[t + u] = acc[u] * scale.
 * Lane j of s[t] is query j's score at t: zt__attn_scores_avx512's bits.
 *
 * softmax, lane j over t < n_pos[j] only (a mask per t; lanes past a
 * query's own positions are never read): mx = s[t] where s[t] > mx
 * (ordered, from -inf, increasing t: cpu_backend.c attn_softmax's max),
 * s[t] = zt__expf(s[t] - mx) (zt__expf16), sum = sum + s[t] in increasing
 * t from 0, inv = 1 / sum, p[t] = s[t] * inv: its bits.
 *
 * weighted sum, 16 dims a pass: acc[d] lane j = acc[d] + p[t] * v[t][i0 +
 * d] in increasing t from 0 for t < n_pos[j] (masked add), then one
 * transpose gives each query its 16 outputs: zt__attn_wsum_avx512's bits,
 * each V element loaded once for the 16 queries.
 *
 * s: 16 * (max n_pos rounded up to 16) floats; scratch: (hd + 16) * 16. */
void zt__attn_group_avx512(const float *const q[ZT_ATTN_MQ], const void *k, const void *v, bool f16, size_t ks,
                           size_t vs, uint32_t col, uint32_t n_tiled, uint32_t hd, const uint32_t n_pos[ZT_ATTN_MQ],
                           float scale, float *const o[ZT_ATTN_MQ], float *s, float *scratch)
{
    float *qt = scratch, *kb = scratch + (size_t)hd * 16;
    for (uint32_t i0 = 0; i0 < hd; i0 += 16) {
        __m512 r[16], c[16];
        for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_ps(q[j] + i0);
        zt__transpose16(r, c);
        for (int d = 0; d < 16; d++) _mm512_storeu_ps(qt + (size_t)(i0 + (uint32_t)d) * 16, c[d]);
    }
    uint32_t max_pos = 0, min_pos = UINT32_MAX;
    for (int j = 0; j < ZT_ATTN_MQ; j++) {
        if (n_pos[j] > max_pos) max_pos = n_pos[j];
        if (n_pos[j] < min_pos) min_pos = n_pos[j];
    }
    const __m512i npos = _mm512_loadu_si512((const void *)n_pos);
    const __m512 vscale = _mm512_set1_ps(scale);
    for (uint32_t t = 0; t < max_pos; t += 16) {
        uint32_t nr = max_pos - t < 16 ? max_pos - t : 16;
        __m512 acc[16];
#pragma GCC unroll 16
        for (int u = 0; u < 16; u++) acc[u] = _mm512_setzero_ps();
        for (uint32_t i0 = 0; i0 < hd; i0 += 16) {
            /* kp[16 d + u]: k[t + u] at dim i0 + d */
            const float *kp = kb;
            if (t < n_tiled && !f16) {
                kp = (const float *)k + (size_t)t * ks + (size_t)(col + i0) * 16;
            } else if (t < n_tiled) {
                for (uint32_t d = 0; d < 16; d++)
                    _mm512_storeu_ps(kb + d * 16, v_row(k, true, (size_t)t * ks + (size_t)(col + i0 + d) * 16));
            } else {
                __m512 r[16], c[16];
                for (uint32_t u = 0; u < 16; u++)
                    r[u] = u < nr ? v_row(k, f16, (size_t)(t + u) * ks + col + i0) : _mm512_setzero_ps();
                zt__transpose16(r, c);
                for (uint32_t d = 0; d < 16; d++) _mm512_storeu_ps(kb + d * 16, c[d]);
            }
            /* unrolled: the 16 accumulators stay in registers, dimension
             * by dimension (keep16: without it gcc ran the 16 dims of one
             * position as one dependent chain, a position after another,
             * ~1.4x slower) */
#pragma GCC unroll 16
            for (int d = 0; d < 16; d++) {
                __m512 qv = _mm512_loadu_ps(qt + (size_t)(i0 + (uint32_t)d) * 16);
#pragma GCC unroll 16
                for (int u = 0; u < 16; u++) acc[u] = _mm512_add_ps(acc[u], _mm512_mul_ps(qv, _mm512_set1_ps(kp[d * 16 + u])));
                keep16(acc);
            }
        }
        for (int u = 0; u < 16; u++) _mm512_storeu_ps(s + (size_t)(t + (uint32_t)u) * 16, _mm512_mul_ps(acc[u], vscale));
    }
    /* softmax per lane over its own positions */
    __m512 mx = _mm512_set1_ps(-__builtin_inff());
    for (uint32_t t = 0; t < max_pos; t++) {
        __m512 st = _mm512_loadu_ps(s + (size_t)t * 16);
        __mmask16 up = _mm512_mask_cmp_ps_mask(live_at(npos, t), st, mx, _CMP_GT_OQ);
        mx = _mm512_mask_mov_ps(mx, up, st);
    }
    /* (the V rows of this KV head are fetched into L2 meanwhile: the
     * weighted sums read them 64 bytes at a time, 3 KiB apart) */
    size_t vrow = (size_t)hd * (f16 ? 2 : 4);
    __m512 sum = _mm512_setzero_ps();
    for (uint32_t t = 0; t < max_pos; t++) {
        const char *vp = (const char *)v + (size_t)t * vs * (f16 ? 2 : 4);
        for (size_t off = 0; off < vrow; off += 64) _mm_prefetch(vp + off, _MM_HINT_T1);
        __m512 e = zt__expf16(_mm512_sub_ps(_mm512_loadu_ps(s + (size_t)t * 16), mx));
        _mm512_storeu_ps(s + (size_t)t * 16, e);
        sum = _mm512_mask_add_ps(sum, live_at(npos, t), sum, e);
    }
    const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
    for (uint32_t t = 0; t < max_pos; t++)
        _mm512_storeu_ps(s + (size_t)t * 16, _mm512_mul_ps(_mm512_loadu_ps(s + (size_t)t * 16), inv));
    /* weighted sums, 16 dims a pass */
    for (uint32_t i0 = 0; i0 < hd; i0 += 16) {
        __m512 acc[16];
#pragma GCC unroll 16
        for (int d = 0; d < 16; d++) acc[d] = _mm512_setzero_ps();
        for (uint32_t t = 0; t < max_pos; t++) {
            __m512 pt = _mm512_loadu_ps(s + (size_t)t * 16);
            __mmask16 live = t < min_pos ? (__mmask16)0xffff : live_at(npos, t);
            const float *vr;
            float vw[16];
            if (f16) {
                _mm512_storeu_ps(vw, v_row(v, true, (size_t)t * vs + i0));
                vr = vw;
            } else {
                vr = (const float *)v + (size_t)t * vs + i0;
            }
#pragma GCC unroll 16
            for (int d = 0; d < 16; d++)
                acc[d] = _mm512_mask_add_ps(acc[d], live, acc[d], _mm512_mul_ps(pt, _mm512_set1_ps(vr[d])));
        }
        __m512 c[16];
        zt__transpose16(acc, c);
        for (int j = 0; j < ZT_ATTN_MQ; j++) _mm512_storeu_ps(o[j] + i0, c[j]);
    }
}

#else
const bool zt__attn_avx512_built = false;

uint32_t zt__attn_scores_avx512(const float *q, const void *k, bool f16, size_t ks, uint32_t col, uint32_t n_tiled,
                                uint32_t hd, uint32_t n_pos, float scale, float *scores)
{
    (void)q, (void)k, (void)f16, (void)ks, (void)col, (void)n_tiled, (void)hd, (void)n_pos, (void)scale, (void)scores;
    return 0;
}

void zt__attn_wsum_avx512(const float *scores, float inv, const void *v, bool f16, size_t vs, uint32_t hd,
                          uint32_t n_pos, float *o)
{
    (void)scores, (void)inv, (void)v, (void)f16, (void)vs, (void)hd, (void)n_pos, (void)o;
}
void zt__attn_group_avx512(const float *const q[ZT_ATTN_MQ], const void *k, const void *v, bool f16, size_t ks,
                           size_t vs, uint32_t col, uint32_t n_tiled, uint32_t hd, const uint32_t n_pos[ZT_ATTN_MQ],
                           float scale, float *const o[ZT_ATTN_MQ], float *s, float *scratch)
{
    (void)q, (void)k, (void)v, (void)f16, (void)ks, (void)vs, (void)col, (void)n_tiled, (void)hd, (void)n_pos,
        (void)scale, (void)o, (void)s, (void)scratch;
}
#endif
