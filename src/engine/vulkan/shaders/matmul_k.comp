#version 450
// dst[b, r] = dot(w[r], xq[b]) for Q4_K (u8 = 0) and Q6_K (u8 = 1) weights
// against Q8_K activations (quant_q8k.comp), in the canonical order of
// docs/internals/quant.md: super-block k to lane k % 8; exact int32 sums;
// Q4_K: acc = fma(d, isum, acc); acc = fma(-dmin, msum, acc); Q6_K:
// acc = fma(d, isum, acc); fold 4, 2, 1.
// Bindings: 0 w, 1 xq, 2 dst. u0 w offset (bytes), u1 w row bytes,
// u4 dst offset, u5 dst stride, u6 n, u7 rows, u8 type.
#include "common.glsl"
layout(local_size_x = 64) in;

int xcode(uint xb, uint e) { return bitfieldExtract(int(b1.d[xb + 1u + e / 4u]), int(8u * (e % 4u)), 8); }

void main()
{
    uint r = gl_GlobalInvocationID.x, b = gl_GlobalInvocationID.y;
    if (r >= pc.u[7]) return;
    uint nb = pc.u[6] / 256u, woff = pc.u[0] + r * pc.u[1];
    precise float acc[8];
    for (uint l = 0u; l < 8u; l++) acc[l] = 0.0;
    for (uint k = 0u; k < nb; k++) {
        uint xb = (b * nb + k) * 65u;
        float xd = uintBitsToFloat(b1.d[xb]);
        uint l = k % 8u;
        if (pc.u[8] == 0u) {
            uint wb = woff + k * 144u;
            int isum = 0, msum = 0;
            for (uint j = 0u; j < 8u; j++) {
                int sc, m;
                q4k_scale_min(wb, j, sc, m);
                int s = 0, bs = 0;
                for (uint e = 32u * j; e < 32u * j + 32u; e++) {
                    int xq = xcode(xb, e);
                    s += int(q4k_code(wb, e)) * xq;
                    bs += xq;
                }
                isum += sc * s;
                msum += m * bs;
            }
            precise float d = half_to_float(byte0(wb) | (byte0(wb + 1u) << 8)) * xd;
            precise float dmin = half_to_float(byte0(wb + 2u) | (byte0(wb + 3u) << 8)) * xd;
            acc[l] = zt_fma(d, float(isum), acc[l]);
            acc[l] = zt_fma(-dmin, float(msum), acc[l]);
        } else {
            uint wb = woff + k * 210u;
            int isum = 0;
            for (uint g = 0u; g < 16u; g++) {
                int s = 0, bs = 0;
                for (uint e = 16u * g; e < 16u * g + 16u; e++) {
                    int xq = xcode(xb, e);
                    s += int(q6k_code(wb, e)) * xq;
                    bs += xq;
                }
                isum += q6k_scale(wb, g) * (s - 32 * bs);
            }
            precise float d = half_to_float(byte0(wb + 208u) | (byte0(wb + 209u) << 8)) * xd;
            acc[l] = zt_fma(d, float(isum), acc[l]);
        }
    }
    for (uint h = 4u; h > 0u; h >>= 1)
        for (uint l = 0u; l < h; l++) acc[l] = acc[l] + acc[l + h];
    b2.d[pc.u[4] + b * pc.u[5] + r] = floatBitsToUint(acc[0]);
}
