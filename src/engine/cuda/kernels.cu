// kernels.cu: the kernels of the CUDA backend (cuda_backend.c,
// docs/internals/cuda.md), in the order of the CPU engine's operations.
//
// Built twice by nvcc into fatbins embedded in the binary:
//  - the deterministic mode (cuda_exact): --fmad=false (no a*b+c contracted
//    into an FMA the CPU does not have), denormals kept, and explicit
//    __fmaf_rn where the CPU calls fmaf, __fdiv_rn and __fsqrt_rn (correctly
//    rounded, as IEEE division and sqrtf on the CPU), the engine's own exp
//    (zt_expf in kernels_math.h, zt_math.h's zt__expf operation for operation) and
//    sin/cos (zt_sincosf, zt_math.c's zt__sincosf in double): every op gives
//    the CPU backend's bits;
//  - the fast mode (ZT_FAST, cuda_fast): --use_fast_math, the device's own
//    division, square root and exp (results within the tolerances of
//    test_backend_ops; the engine's build id then ends in +fast).
// Every kernel takes one argument block of cuda_args.h by value.
#include <stdint.h>

#include "cuda_args.h"

#ifdef ZT_FAST
#define ZT_DIV(a, b) __fdividef((a), (b))
#define ZT_RSQRT_DIV(m) rsqrtf(m)
#define ZT_EXP(x) __expf(x)
#else
#define ZT_DIV(a, b) __fdiv_rn((a), (b))
#define ZT_RSQRT_DIV(m) __fdiv_rn(1.0f, __fsqrt_rn(m))
#define ZT_EXP(x) zt_expf(x)
#endif

#define FULL 0xffffffffu

#include "kernels_math.h"

// ---- get_rows, rmsnorm, add / swiglu, rope, row copies ----

extern "C" __global__ void zt_get_rows(const struct zt_cu_get_rows a)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (i >= a.n) return;
    const uint8_t *ro = (const uint8_t *)a.src + (uint64_t)a.ids[b] * a.nb1;
    ((float *)a.dst)[(uint64_t)b * a.dst_stride + i] = decode(ro, a.type, i);
}

// one block per row; the squares summed in index order by one thread (the
// CPU's order), then every thread scales its elements
extern "C" __global__ void zt_rmsnorm(const struct zt_cu_rmsnorm a)
{
    __shared__ float s_scale;
    const float *x = (const float *)a.x + (uint64_t)blockIdx.x * a.x_stride;
    float *y = (float *)a.dst + (uint64_t)blockIdx.x * a.dst_stride;
    const float *g = (const float *)a.g;
    if (threadIdx.x == 0) s_scale = rms_scale(x, a.n, a.eps);
    __syncthreads();
    float sc = s_scale;
    for (uint32_t i = threadIdx.x; i < a.n; i += blockDim.x) y[i] = rms_apply(x[i], sc, g[i]);
}

extern "C" __global__ void zt_binary(const struct zt_cu_binary a)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y;
    if (i >= a.n) return;
    float av = ((const float *)a.a)[(uint64_t)r * a.a_stride + i];
    float bv = ((const float *)a.b)[(uint64_t)r * a.b_stride + i];
    ((float *)a.dst)[(uint64_t)r * a.dst_stride + i] = a.op == 0u ? __fadd_rn(av, bv) : swiglu1(av, bv);
}

// theta = (pos * freq_scale) * inv_freq[i] in float, sin/cos by the
// engine's own function: the CPU's bits in both modes
extern "C" __global__ void zt_rope(const struct zt_cu_rope a)
{
    uint32_t gi = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (gi >= a.half * a.n_heads) return;
    uint32_t i = gi % a.half, h = gi / a.half;
    float *v = (float *)a.x + (uint64_t)b * a.x_stride + (uint64_t)h * a.head_dim;
    rope_pair(v, i, a.half, (int)a.neox, a.pos[b], a.freq_scale, ((const float *)a.inv_freq)[i]);
}

extern "C" __global__ void zt_copy_rows(const struct zt_cu_copy_rows a)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (i >= a.n) return;
    ((float *)a.dst[b])[i] = ((const float *)a.src)[(uint64_t)b * a.src_stride + i];
}

// ---- attention ----

// One block per (head, item). Scores q . k_t (dot in index order, no FMA)
// times the scale go to the item's scratch row, one position per thread;
// thread 0 takes the max and the sum of exp(score - max) in position order;
// then each thread owns output dims and sums (score * inv) * v_t in
// position order: the CPU's operations, in its order.
extern "C" __global__ void zt_attention(const struct zt_cu_attention a)
{
    __shared__ float s_inv;
    uint32_t h = blockIdx.x, j = blockIdx.y, hd = a.head_dim, kvh = h / a.group;
    const struct zt_cu_attn_item *it = &a.it[j];
    uint32_t n_pos = it->pos + 1u;
    const float *q = (const float *)a.q + (uint64_t)j * a.q_stride + (uint64_t)h * hd;
    const float *kc = (const float *)it->k + (uint64_t)kvh * hd;
    const float *vc = (const float *)it->v + (uint64_t)kvh * hd;
    float *sc = (float *)a.scores + ((uint64_t)j * a.n_head + h) * a.max_pos;
    for (uint32_t t = threadIdx.x; t < n_pos; t += blockDim.x)
        sc[t] = attn_score(q, kc + (uint64_t)t * it->k_stride, hd, a.scale);
    __syncthreads();
    if (threadIdx.x == 0) s_inv = attn_softmax(sc, n_pos);
    __syncthreads();
    float inv = s_inv;
    float *o = (float *)a.dst + (uint64_t)j * a.dst_stride + (uint64_t)h * hd;
    for (uint32_t i = threadIdx.x; i < hd; i += blockDim.x) o[i] = attn_out(sc, inv, vc, it->v_stride, n_pos, i);
}

// ---- activation quantisers (zt_quant_activations; quant_block) ----

// Q8_0: per block of 32, 9 words: the fp16-rounded d as a float, 8 words of codes
extern "C" __global__ void zt_quant_q8(const struct zt_cu_quant a)
{
    uint32_t blk = blockIdx.x * blockDim.x + threadIdx.x, row = blockIdx.y, nb = a.n / 32u;
    if (blk >= nb) return;
    const float *x = (const float *)a.x + (uint64_t)row * a.x_stride + blk * 32u;
    quant_block(x, 32u, 1, (uint32_t *)a.xq + ((uint64_t)row * nb + blk) * 9u);
}

// Q8_K: per super-block of 256, 65 words: d (a float), 64 words of codes
extern "C" __global__ void zt_quant_q8k(const struct zt_cu_quant a)
{
    uint32_t blk = blockIdx.x * blockDim.x + threadIdx.x, row = blockIdx.y, nb = a.n / 256u;
    if (blk >= nb) return;
    const float *x = (const float *)a.x + (uint64_t)row * a.x_stride + blk * 256u;
    quant_block(x, 256u, 0, (uint32_t *)a.xq + ((uint64_t)row * nb + blk) * 65u);
}

// ---- matrix products, in the canonical order of docs/internals/quant.md ----
//
// A tile is one weight row against up to 4 activation rows (the weights are
// read once for the 4); each output element is its own chain, so the tile
// never changes a result. The canonical lanes are threads: the fold
// lane[l] += lane[l + h] is a shuffle down by h.

#define BT ZT_CU_BT

// F32 / F16 / BF16: a warp per tile, lane l = canonical lane l (mm_f_lane);
// fold 16, 8, 4, 2, 1. Block: 4 warps (rows).
extern "C" __global__ void zt_matmul_f(const struct zt_cu_matmul a)
{
    uint32_t lane = threadIdx.x & 31u, r = blockIdx.x * 4u + threadIdx.x / 32u, b0 = blockIdx.y * BT;
    bool ok = r < a.rows;
    const uint8_t *w = (const uint8_t *)a.w + (uint64_t)(ok ? r : 0u) * a.w_nb1;
    uint32_t nbt = a.batch - b0 < BT ? a.batch - b0 : BT;
    float acc[BT];
    mm_f_lane(w, a.type, (const float *)a.x + (uint64_t)b0 * a.x_stride, a.x_stride, nbt, a.n, lane, acc);
#pragma unroll
    for (uint32_t c = 0; c < BT; c++)
        for (uint32_t h = 16u; h > 0u; h >>= 1) acc[c] = __fadd_rn(acc[c], __shfl_down_sync(FULL, acc[c], h));
    if (ok && lane == 0u)
        for (uint32_t c = 0; c < nbt; c++) ((float *)a.dst)[(uint64_t)(b0 + c) * a.dst_stride + r] = acc[c];
}

// Q8_0 / Q4_0 against Q8_0 activations, canonical order v2: a warp per
// tile; thread 4g + t is part t (elements 8t..8t+7, mm_q8_part) of
// canonical lane g (0..7). The warp takes 8 consecutive blocks per step,
// block k = k0 + g to group g, so lane g sees its blocks g, g + 8, g + 16,
// ... in increasing order, as the CPU's lane b % 8. The 4 parts of a
// block's exact int32 sum are added by xor shuffles inside the group
// (integers: any order), then every thread of the group takes the float
// step (mm_q8_step; the 4 copies are equal). Fold h = 4, 2, 1 over the
// groups: lane g += lane g + h is a shuffle down by 4h threads, read from
// thread 0. Block: 4 warps (rows).
extern "C" __global__ void zt_matmul_q8(const struct zt_cu_matmul a)
{
    uint32_t lane = threadIdx.x & 31u, g = lane >> 2, t = lane & 3u;
    uint32_t r = blockIdx.x * 4u + threadIdx.x / 32u, b0 = blockIdx.y * BT;
    bool ok = r < a.rows;
    uint32_t nb = a.n / 32u, bb = a.type == ZT_CU_Q8_0 ? 34u : 18u;
    const uint8_t *w = (const uint8_t *)a.w + (uint64_t)(ok ? r : 0u) * a.w_nb1;
    const uint32_t *xq = (const uint32_t *)a.x + (uint64_t)b0 * nb * 9u;
    uint32_t nbt = a.batch - b0 < BT ? a.batch - b0 : BT;
    float acc[BT] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (uint32_t k0 = 0; k0 < nb; k0 += 8u) { // uniform across the warp
        uint32_t k = k0 + g;
        bool has = k < nb;
        int part[BT] = {0, 0, 0, 0};
        float wd = 0.0f;
        if (has) mm_q8_part(w + (uint64_t)k * bb, a.type, xq, nb, k, nbt, t, part, &wd);
#pragma unroll
        for (uint32_t c = 0; c < BT; c++) {
            int s = part[c];
            s += __shfl_xor_sync(FULL, s, 1u);
            s += __shfl_xor_sync(FULL, s, 2u);
            if (has && c < nbt) acc[c] = mm_q8_step(acc[c], wd, __uint_as_float(xq[((uint64_t)c * nb + k) * 9u]), s);
        }
    }
#pragma unroll
    for (uint32_t c = 0; c < BT; c++)
        for (uint32_t h = 4u; h > 0u; h >>= 1) acc[c] = __fadd_rn(acc[c], __shfl_down_sync(FULL, acc[c], 4u * h));
    if (ok && lane == 0u)
        for (uint32_t c = 0; c < nbt; c++) ((float *)a.dst)[(uint64_t)(b0 + c) * a.dst_stride + r] = acc[c];
}

static __device__ __forceinline__ int warp_sum(int v)
{
    for (uint32_t h = 16u; h > 0u; h >>= 1) v += __shfl_xor_sync(FULL, v, h);
    return v;
}

// Q4_K / Q6_K against Q8_K activations: a warp per tile, super-blocks in
// order; the warp sums a super-block's exact int32 parts (mm_k_part), then
// canonical lane k % 8 takes the float step (mm_k_step); fold 4, 2, 1.
extern "C" __global__ void zt_matmul_k(const struct zt_cu_matmul a)
{
    uint32_t lane = threadIdx.x & 31u, r = blockIdx.x * 4u + threadIdx.x / 32u, b0 = blockIdx.y * BT;
    bool ok = r < a.rows;
    uint32_t nbk = a.n / 256u;
    int q6 = a.type == ZT_CU_Q6_K;
    const uint8_t *w = (const uint8_t *)a.w + (uint64_t)(ok ? r : 0u) * a.w_nb1;
    const uint32_t *xq = (const uint32_t *)a.x + (uint64_t)b0 * nbk * 65u;
    float acc[BT] = {0.0f, 0.0f, 0.0f, 0.0f};
    uint32_t nbt = a.batch - b0 < BT ? a.batch - b0 : BT;
    for (uint32_t k = 0; k < nbk; k++) {
        int isum[BT], msum[BT];
        float wd, wdmin;
        mm_k_part(w + (uint64_t)k * (q6 ? 210u : 144u), q6, xq, nbk, k, nbt, lane, isum, msum, &wd, &wdmin);
#pragma unroll
        for (uint32_t c = 0; c < BT; c++) {
            if (c >= nbt) continue; // uniform across the warp
            int is = warp_sum(isum[c]), ms = q6 ? 0 : warp_sum(msum[c]);
            if (lane == (k & 7u)) acc[c] = mm_k_step(acc[c], wd, wdmin, __uint_as_float(xq[((uint64_t)c * nbk + k) * 65u]), q6, is, ms);
        }
    }
#pragma unroll
    for (uint32_t c = 0; c < BT; c++)
        for (uint32_t h = 4u; h > 0u; h >>= 1) acc[c] = __fadd_rn(acc[c], __shfl_down_sync(FULL, acc[c], h, 8));
    if (ok && lane == 0u)
        for (uint32_t c = 0; c < nbt; c++) ((float *)a.dst)[(uint64_t)(b0 + c) * a.dst_stride + r] = acc[c];
}
