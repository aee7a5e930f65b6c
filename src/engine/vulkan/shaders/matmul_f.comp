#version 450
// dst[b, r] = dot(w[r], x[b]) for F32 (u8 = 0), F16 (1), BF16 (2) weights, in
// the canonical order of docs/internals/quant.md: 32 lanes, element i into
// lane i % 32 as acc = fma(w_i, x_i, acc), then the fold 16, 8, 4, 2, 1.
// One invocation per output element. Bindings: 0 w, 1 x (F32), 2 dst.
// u0 w offset (bytes), u1 w row bytes, u2 x offset (floats), u3 x stride,
// u4 dst offset, u5 dst stride, u6 n, u7 rows, u8 type.
#include "common.glsl"
layout(local_size_x = 64) in;

float wval(uint off, uint i)
{
    if (pc.u[8] == 0u) return uintBitsToFloat(b0.d[(off >> 2) + i]);
    uint byte = off + 2u * i;
    uint word = b0.d[byte >> 2];
    uint h = (byte & 2u) != 0u ? word >> 16 : word & 0xffffu;
    return pc.u[8] == 1u ? half_to_float(h) : uintBitsToFloat(h << 16);
}

void main()
{
    uint r = gl_GlobalInvocationID.x, b = gl_GlobalInvocationID.y;
    if (r >= pc.u[7]) return;
    uint n = pc.u[6], woff = pc.u[0] + r * pc.u[1], xo = pc.u[2] + b * pc.u[3];
    precise float acc[32];
    for (uint l = 0u; l < 32u; l++) acc[l] = 0.0;
    for (uint base = 0u; base < n; base += 32u)
        for (uint l = 0u; l < 32u; l++) {
            uint i = base + l;
            if (i < n) acc[l] = zt_fma(wval(woff, i), F(b1, xo + i), acc[l]);
        }
    for (uint h = 16u; h > 0u; h >>= 1)
        for (uint l = 0u; l < h; l++) acc[l] = acc[l] + acc[l + h];
    b2.d[pc.u[4] + b * pc.u[5] + r] = floatBitsToUint(acc[0]);
}
