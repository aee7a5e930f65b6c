#version 450
// RoPE in place with cos/sin computed on the host (the CPU's cosf/sinf, so
// the op is exact): table row b holds (cos, sin) of pos[b] * scale *
// inv_freq[i] for i < half. One invocation per (i, head, row).
// Bindings: 0 x, 1 table. u0 x offset (floats), u1 x stride, u2 table offset
// (uints), u3 half, u4 n_heads, u5 head_dim, u6 neox.
#include "common.glsl"
layout(local_size_x = 64) in;

void main()
{
    uint half_ = pc.u[3], gi = gl_GlobalInvocationID.x, b = gl_GlobalInvocationID.y;
    if (gi >= half_ * pc.u[4]) return;
    uint i = gi % half_, h = gi / half_;
    uint to = pc.u[2] + (b * half_ + i) * 2u;
    float c = F(b1, to), s = F(b1, to + 1u);
    uint vo = pc.u[0] + b * pc.u[1] + h * pc.u[5];
    uint ia = pc.u[6] != 0u ? i : 2u * i, ib = pc.u[6] != 0u ? i + half_ : 2u * i + 1u;
    float x0 = F(b0, vo + ia), x1 = F(b0, vo + ib);
    precise float ya = x0 * c - x1 * s;
    precise float yb = x0 * s + x1 * c;
    b0.d[vo + ia] = floatBitsToUint(ya);
    b0.d[vo + ib] = floatBitsToUint(yb);
}
