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

/* The same for several queries of one sequence and KV head at once
 * (cpu_backend.c's batched prompt path), each with its own q, n_pos and
 * output, with the one-query kernels' bits: the scores of ZT_ATTN_MQ
 * queries (lanes across the queries: no transpose per cache tile;
 * scratch of (hd + 16) * 16 floats), the weighted sums of ZT_ATTN_WQ
 * queries (hd a multiple of 64; v rows loaded once over the positions all
 * of them have). */
#define ZT_ATTN_MQ 16
#define ZT_ATTN_WQ 4
void zt__attn_scores_mq_avx512(const float *const q[ZT_ATTN_MQ], const void *k, bool f16, size_t ks, uint32_t col,
                               uint32_t n_tiled, uint32_t hd, const uint32_t n_pos[ZT_ATTN_MQ], float scale,
                               float *const scores[ZT_ATTN_MQ], float *scratch);
void zt__attn_wsum_mq_avx512(const float *const scores[ZT_ATTN_WQ], const float inv[ZT_ATTN_WQ], const void *v,
                             bool f16, size_t vs, uint32_t hd, const uint32_t n_pos[ZT_ATTN_WQ],
                             float *const o[ZT_ATTN_WQ]);

/* ew_avx512.c (same condition: built with AVX-512 and the path in use
 * is AVX-512 or newer): y[i] = (g[i] / (1 + zt__expf(-g[i]))) * u[i], and
 * s[i] = zt__expf(s[i] - mx), lane by lane with zt__expf's bits. */
void zt__swiglu_avx512(float *y, const float *g, const float *u, size_t n);
void zt__exp_sub_avx512(float *s, size_t n, float mx);

#endif
