/* quant_int.h: the engine's internals of the quantised kernels, shared by
 * quant.c, the per-ISA kernel files (quant_*.c), quant_pack.c and the CPU
 * backend; not part of the public API (include/zentalk/zt_quant.h). Tests
 * that need a hook include it as ../../src/engine/quant_int.h. */
#ifndef ZT_ENGINE_QUANT_INT_H
#define ZT_ENGINE_QUANT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_quant.h"

/* The CPU backend: memory for a copy of weights on transparent
 * huge pages, carved from the chunks packed matrices use (quant_pack.c);
 * NULL when out of memory. Freed with the chunk handle. */
struct zt__quant_chunk;
void *zt__quant_weights_alloc(size_t bytes, struct zt__quant_chunk **chunk);
void zt__quant_weights_free(struct zt__quant_chunk *chunk);

/* ---- internal: the per-ISA kernel tables (src/engine/quant*.c) ----------- */

/* One weight row w times nx (1..4) activation rows at x + k * x_stride bytes,
 * n elements, results to out[k]. */
typedef void (*zt__quant_dot_fn)(size_t n, const void *w, const void *x, size_t x_stride,
                                 size_t nx, float *out);

/* Blocked product: out[k * out_stride + r] = dot(row r of W, row k of X) for
 * r < nrows (row r at W + r * row_bytes) and k < nx (1..4, row k at
 * X + k * x_stride). Same bits as the dot kernels: only loads are shared
 * between the output elements of a tile. NULL in a table: matmul_rows uses
 * the dot kernel row by row. */
typedef void (*zt__quant_mm_fn)(size_t n, const void *W, size_t row_bytes, size_t nrows,
                                const void *X, size_t x_stride, size_t nx, float *out,
                                size_t out_stride);

/* Packed product (zt_quant_matmul_packed): one group of ZT_QUANT_PACK_ROWS
 * packed rows (nb blocks) times nx activation rows (row k at X + k * xs,
 * act + k * nb * 2 its prepared terms, see quant_pack.c; NULL for the
 * k-quants),
 * out[k * os + r] for r < nvalid. */
typedef void (*zt__quant_pk_fn)(const uint8_t *group, size_t nb, size_t nvalid, const void *X, size_t xs,
                                const int32_t *act, size_t nx, float *out, size_t os);

struct zt__quant_kernels {
    const char *name;
    /* the dot kernels share weight loads over their nx activation rows (so
     * quant.c does not give this path a lower path's mm_* kernels) */
    bool dots_tile;
    zt__quant_dot_fn dot_f32, dot_f16, dot_bf16, dot_q8_0, dot_q4_0, dot_q4_k, dot_q6_k;
    zt__quant_mm_fn mm_f32, mm_f16, mm_q8_0, mm_q4_0;
    /* as mm_f16 but nx 1..8: matmul_rows then walks the batch in tiles of 8
     * activation rows (NULL: mm_f16's tiles of 4) */
    zt__quant_mm_fn mm8_f16;
    /* the same for Q8_0 / Q4_0 (AVX2: a 1 x 8 tile for batches of 8) */
    zt__quant_mm_fn mm8_q8_0, mm8_q4_0;
    zt__quant_pk_fn pk_q8_0, pk_q4_0, pk_q6_k, pk_q4_k; /* packed layout (NULL: the scalar one) */
    /* the BF16 mode (bf16 weight rows x bf16 activation rows) */
    zt__quant_dot_fn dot_bf16m;
    zt__quant_mm_fn mm_bf16m;
    void (*fp16_to_fp32_row)(const uint16_t *src, float *dst, size_t n);
    void (*fp32_to_fp16_row)(const float *src, uint16_t *dst, size_t n);
    /* activation quantisers (nb blocks; NULL: the scalar reference), the
     * reference's float operations lane-wise, so the same bytes */
    void (*quant_q8_0_row)(const float *src, void *dst, size_t nb);
    void (*quant_q8_k_row)(const float *src, void *dst, size_t nb);
};

extern const struct zt__quant_kernels zt__quant_kernels_scalar;
extern const struct zt__quant_kernels zt__quant_kernels_avx2;   /* name NULL if not built */
extern const struct zt__quant_kernels zt__quant_kernels_avx512; /* name NULL if not built */
/* Only dot_q8_0/dot_q4_0; quant.c fills the rest from the avx512 table. */
extern const struct zt__quant_kernels zt__quant_kernels_avx512vnni; /* name NULL if not built */
/* Only the BF16 mode's kernels; the rest from the avx512vnni table. */
extern const struct zt__quant_kernels zt__quant_kernels_avx512bf16; /* name NULL if not built */
/* quant_pack.c: the portable packed kernels {Q8_0, Q4_0, Q6_K, Q4_K}, and the packed
 * kernel of the path in use for a type (quant.c). */
extern const zt__quant_pk_fn zt__quant_pk_scalar[4];
zt__quant_pk_fn zt__quant_pk_current(enum zt_ggml_type t);

/* Test hook (review F3): the BF16-mode self-test (quant.c) fails for the
 * paths whose bit (1 << isa) is set, and every path is tested again at its
 * next use; 0 restores the real test. */
void zt__quant_bf16m_selftest_force(unsigned isa_mask);

/* The dot and row-conversion entries of a kernel table whose functions are
 * named dot_f32<sfx> ... fp32_to_fp16_row<sfx> (sfx may be empty). */
#define ZT__QUANT_DOTS(sfx)                                                                         \
    .dot_f32 = dot_f32##sfx, .dot_f16 = dot_f16##sfx, .dot_bf16 = dot_bf16##sfx,                   \
    .dot_q8_0 = dot_q8_0##sfx, .dot_q4_0 = dot_q4_0##sfx, .dot_q4_k = dot_q4_k##sfx,               \
    .dot_q6_k = dot_q6_k##sfx, .fp16_to_fp32_row = fp16_to_fp32_row##sfx,                          \
    .fp32_to_fp16_row = fp32_to_fp16_row##sfx

#endif
