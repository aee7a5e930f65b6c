/* cuda_args.h: the argument block of every kernel of the CUDA backend,
 * shared by the kernels (kernels.cu, compiled by nvcc) and the host side
 * (cuda_backend.c, compiled by the C compiler). Each kernel takes one of
 * these structs by value (cuLaunchKernel copies it), so the two sides must
 * lay it out alike: only fixed-width integers, 8-byte fields first, no
 * pointers (device addresses are uint64_t). Small host arrays of an op (row
 * ids, positions, per-item cache views) travel inside the block, at most
 * ZT_CU_ITEMS per launch (the host splits larger batches), so an op needs no
 * upload of its own; every block stays under the classic 4 KiB of kernel
 * parameters. Offsets and strides are in elements unless named _bytes. */
#ifndef ZT_ENGINE_CUDA_ARGS_H
#define ZT_ENGINE_CUDA_ARGS_H

#include <stdint.h>

#define ZT_CU_ITEMS 64 /* rows / batch items per launch carried in an argument block */

/* weight / table types of get_rows and matmul */
enum { ZT_CU_F32 = 0, ZT_CU_F16 = 1, ZT_CU_BF16 = 2, ZT_CU_Q8_0 = 3, ZT_CU_Q4_0 = 4, ZT_CU_Q4_K = 5, ZT_CU_Q6_K = 6 };

/* dst[b] = decode(src row ids[b]); grid (ceil(n / 256), rows) */
struct zt_cu_get_rows {
    uint64_t src, dst; /* src: first row's byte address; dst: F32 */
    uint64_t nb1;      /* src row bytes */
    uint32_t dst_stride, n, type, rows;
    int32_t ids[ZT_CU_ITEMS];
};

/* rmsnorm; grid (rows) */
struct zt_cu_rmsnorm {
    uint64_t x, g, dst;
    uint32_t x_stride, dst_stride, n;
    float eps;
};

/* add (op 0) / swiglu (op 1); b_stride 0 broadcasts one row; grid (ceil(n / 256), rows) */
struct zt_cu_binary {
    uint64_t a, b, dst;
    uint32_t a_stride, b_stride, dst_stride, n, op, pad_;
};

/* RoPE in place; grid (ceil(half * n_heads / 256), rows) */
struct zt_cu_rope {
    uint64_t x, inv_freq;
    uint32_t x_stride, half, n_heads, head_dim, neox;
    float freq_scale;
    uint32_t pos[ZT_CU_ITEMS];
};

/* row b of src to dst[b] (F32 rows of n); grid (ceil(n / 256), rows) */
struct zt_cu_copy_rows {
    uint64_t src;
    uint64_t dst[ZT_CU_ITEMS];
    uint32_t src_stride, n;
};

/* attention of item j (one workgroup per (head, item)); grid (n_head, items) */
struct zt_cu_attn_item {
    uint64_t k, v; /* the head-0 column of row 0 of the item's caches */
    uint32_t k_stride, v_stride, pos, pad_;
};
struct zt_cu_attention {
    uint64_t q, dst, scores; /* scores: items * n_head * max_pos floats */
    uint32_t q_stride, dst_stride, max_pos, n_head, group, head_dim;
    float scale;
    uint32_t pad_;
    struct zt_cu_attn_item it[ZT_CU_ITEMS];
};

/* activations to Q8_0 (32-element blocks: 9 words) or Q8_K (256: 65
 * words): one thread per (block, row); grid (ceil(nb / 128), rows) */
struct zt_cu_quant {
    uint64_t x, xq;
    uint32_t x_stride, n, rows, pad_;
};

/* dst[b, r] = dot(w[r], x[b]); x F32 (matmul_f) or quantised (matmul_q8,
 * matmul_k); batch tiles of 4 rows of x */
struct zt_cu_matmul {
    uint64_t w, x, dst;
    uint64_t w_nb1; /* bytes */
    uint32_t x_stride, dst_stride, n, rows, batch, type;
};

#endif
