#version 450
// dst[b] = x[b] / sqrt(mean(x[b]^2) + eps) * g: one workgroup per row; the
// squares are summed in index order by one invocation (as the CPU), then
// every invocation scales its elements. dst may be x.
// Bindings: 0 x, 1 g, 2 dst. u0 x offset (floats), u1 x stride, u2 g offset,
// u3 dst offset, u4 dst stride, u5 n, u6 eps (float bits).
#include "common.glsl"
layout(local_size_x = 64) in;
shared float s_scale;

void main()
{
    uint b = gl_WorkGroupID.x, t = gl_LocalInvocationID.x, n = pc.u[5];
    uint xo = pc.u[0] + b * pc.u[1], yo = pc.u[3] + b * pc.u[4];
    if (t == 0u) {
        precise float ss = 0.0;
        for (uint i = 0u; i < n; i++) {
            precise float v = F(b0, xo + i);
            precise float sq = v * v;
            ss = ss + sq;
        }
        precise float m = zt_div(ss, float(n)) + uintBitsToFloat(pc.u[6]);
        precise float sc = zt_div(1.0, zt_sqrt(m));
        s_scale = sc;
    }
    barrier();
    precise float sc = s_scale;
    for (uint i = t; i < n; i += 64u) {
        precise float y = (F(b0, xo + i) * sc) * F(b1, pc.u[2] + i);
        b2.d[yo + i] = floatBitsToUint(y);
    }
}
