#version 450
// dst[b, r] = dot(w[r], xq[b]) for Q8_0 (u8 = 0) and Q4_0 (u8 = 1) weights
// against Q8_0 activations (quant_q8.comp), in the canonical order v2 of
// docs/internals/quant.md: block k gives one exact int32 sum s_k over its
// 32 elements, added to lane k % 8 of 8 as acc = fma(d_w * d_x, s_k, acc)
// (|s_k| <= 32 * 128 * 127 < 2^24: float(s_k) is exact); fold 4, 2, 1.
// Bindings: 0 w, 1 xq, 2 dst. u0 w offset (bytes), u1 w row bytes,
// u4 dst offset, u5 dst stride, u6 n, u7 rows, u8 type.
#include "common.glsl"
layout(local_size_x = 64) in;

uint byte_at(uint off) { return byte0(off); }

// weight code of element e of the block at byte wb
int wcode(uint wb, uint e)
{
    if (pc.u[8] == 0u) return int(byte_at(wb + 2u + e) << 24) >> 24;
    uint q = byte_at(wb + 2u + (e & 15u));
    return int(e < 16u ? q & 15u : q >> 4) - 8;
}

void main()
{
    uint r = gl_GlobalInvocationID.x, b = gl_GlobalInvocationID.y;
    if (r >= pc.u[7]) return;
    uint nb = pc.u[6] / 32u, woff = pc.u[0] + r * pc.u[1], bb = pc.u[8] == 0u ? 34u : 18u;
    precise float acc[8];
    for (uint l = 0u; l < 8u; l++) acc[l] = 0.0;
    for (uint k = 0u; k < nb; k++) {
        uint wb = woff + k * bb, xb = (b * nb + k) * 9u;
        precise float db = half_to_float(byte_at(wb) | (byte_at(wb + 1u) << 8)) * uintBitsToFloat(b1.d[xb]);
        int s = 0; // exact: integer sums in any grouping
        for (uint j = 0u; j < 8u; j++) {
            int xw = int(b1.d[xb + 1u + j]);
            for (uint e = 0u; e < 4u; e++) s += wcode(wb, 4u * j + e) * bitfieldExtract(xw, int(8u * e), 8);
        }
        uint l = k & 7u;
        acc[l] = zt_fma(db, float(s), acc[l]);
    }
    for (uint h = 4u; h > 0u; h >>= 1)
        for (uint l = 0u; l < h; l++) acc[l] = acc[l] + acc[l + h];
    b2.d[pc.u[4] + b * pc.u[5] + r] = floatBitsToUint(acc[0]);
}
