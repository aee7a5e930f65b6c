/* quant_ref.h: portable inline helpers of the canonical orders, shared by
 * the scalar reference (quant.c), the packed layout (quant_pack.c) and,
 * through quant_simd.h, the x86 kernel files. No intrinsics. */
#ifndef ZT_ENGINE_QUANT_REF_H
#define ZT_ENGINE_QUANT_REF_H

#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_quant.h"

/* 8 lanes in memory folded as the reference does: l += l+4, l += l+2,
 * l += l+1 (acc is overwritten); the result is lane 0. */
static inline float fold8_scalar(float *acc)
{
    for (int h = 4; h >= 1; h /= 2)
        for (int l = 0; l < h; l++)
            acc[l] = acc[l] + acc[l + h];
    return acc[0];
}

/* Code (0..63) of element e of a Q6_K block (quant.md's layout). */
static inline int q6k_code(const struct zt_block_q6_k *x, size_t e)
{
    size_t h = e / 128, k = (e % 128) / 32, l = e % 32;
    int lo = x->ql[64 * h + l + 32 * (k & 1)];
    lo = k < 2 ? (lo & 15) : (lo >> 4);
    int hi = (x->qh[32 * h + l] >> (2 * k)) & 3;
    return lo | (hi << 4);
}

#endif
