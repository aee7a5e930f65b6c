/* attn_cpu.h: the CPU backend's vector attention kernels (attn_avx512.c),
 * internal to src/engine/cpu. cpu_backend.c uses them when the kernel path
 * in use is AVX-512 or newer (zt_quant_isa_current) and the head size is a
 * multiple of 16; they give the scalar loops' bits. */
#ifndef ZT_ENGINE_ATTN_CPU_H
#define ZT_ENGINE_ATTN_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const bool zt__attn_avx512_built;

/* scores[t] = (sum in order of q[i] * k[t][col + i]) * scale for t < the
 * returned count (all n_pos); k is a K cache (F32, or F16 when f16) of ks
 * elements a row in the CPU's layout (backend.h zt__kv_view): positions
 * below n_tiled (a multiple of 16) in tiles, element (t, c) at (t - t %
 * 16) * ks + 16 c + t % 16, the rest rows, at t * ks + c; hd a multiple
 * of 16. The caller does the rest. */
uint32_t zt__attn_scores_avx512(const float *q, const void *k, bool f16, size_t ks, uint32_t col, uint32_t n_tiled,
                                uint32_t hd, uint32_t n_pos, float scale, float *scores);
/* o[i] = sum over t < n_pos in order of (scores[t] * inv) * v[t][i]; hd a
 * multiple of 16. */
void zt__attn_wsum_avx512(const float *scores, float inv, const void *v, bool f16, size_t vs, uint32_t hd,
                          uint32_t n_pos, float *o);

/* The attention of ZT_ATTN_MQ queries of one sequence and KV head at once
 * (cpu_backend.c's batched prompt path), each with its own q, n_pos and
 * output o, with the one-query path's bits (zt__attn_scores_avx512, the
 * softmax of cpu_backend.c, zt__attn_wsum_avx512): lanes across the
 * queries for scores, softmax and weighted sums alike, so each K tile and
 * V row is loaded once for all of them. k as above, v the KV head's first
 * V column (vs elements a row), hd a multiple of 16; s: 16 * (the largest
 * n_pos rounded up to 16) floats, scratch (hd + 16) * 16 floats. */
#define ZT_ATTN_MQ 16
void zt__attn_group_avx512(const float *const q[ZT_ATTN_MQ], const void *k, const void *v, bool f16, size_t ks,
                           size_t vs, uint32_t col, uint32_t n_tiled, uint32_t hd, const uint32_t n_pos[ZT_ATTN_MQ],
                           float scale, float *const o[ZT_ATTN_MQ], float *s, float *scratch);

/* attn_avx2.c (built with AVX2 and F16C; cpu_backend.c uses it when the
 * path in use is AVX2 and the head size is a multiple of 8): the one-query
 * kernels 8 lanes wide, with the scalar loops' bits. Scores as above for
 * the positions below min(n_pos, n_tiled) rounded down to 8 (whole groups
 * of 8 in tiles), returning that count (the caller does the rest); the
 * weighted sum as zt__attn_wsum_avx512 for hd a multiple of 8. */
extern const bool zt__attn_avx2_built;
uint32_t zt__attn_scores_avx2(const float *q, const void *k, bool f16, size_t ks, uint32_t col, uint32_t n_tiled,
                              uint32_t hd, uint32_t n_pos, float scale, float *scores);
void zt__attn_wsum_avx2(const float *scores, float inv, const void *v, bool f16, size_t vs, uint32_t hd,
                        uint32_t n_pos, float *o);

/* ew_avx512.c (same condition: built with AVX-512 and the path in use
 * is AVX-512 or newer): y[i] = (g[i] / (1 + zt__expf(-g[i]))) * u[i], and
 * s[i] = zt__expf(s[i] - mx), lane by lane with zt__expf's bits. */
void zt__swiglu_avx512(float *y, const float *g, const float *u, size_t n);
void zt__exp_sub_avx512(float *s, size_t n, float mx);
/* ss[j] = sum in increasing i of xr[j][i] * xr[j][i] (product rounded,
 * then added, from 0) for 16 rows, lanes across the rows; n a multiple of
 * 16. */
void zt__norm_sums16_avx512(const float *const xr[16], size_t n, float ss[16]);
/* y[i] = (x[i] * s) * g[i] (RMSNorm's scaling; y may be x). */
void zt__scale_mul_avx512(float *y, const float *x, float s, const float *g, size_t n);

#endif
