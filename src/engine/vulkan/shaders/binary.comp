#version 450
// Element-wise a (op) b: u7 = 0 add, 1 swiglu (a / (1 + exp(-a))) * b; exp, / as the CPU's
// in the deterministic mode (common.glsl).
// b has a's rows or one row (stride 0). dst may be a.
// Bindings: 0 a, 1 b, 2 dst. u0 a offset (floats), u1 a stride, u2 b offset,
// u3 b stride, u4 dst offset, u5 dst stride, u6 n.
#include "common.glsl"
layout(local_size_x = 64) in;

void main()
{
    uint i = gl_GlobalInvocationID.x, r = gl_GlobalInvocationID.y;
    if (i >= pc.u[6]) return;
    float a = F(b0, pc.u[0] + r * pc.u[1] + i), bv = F(b1, pc.u[2] + r * pc.u[3] + i);
    precise float y;
    if (pc.u[7] == 0u) {
        y = a + bv;
    } else {
        precise float den = 1.0 + ZT_EXP(-a);
        precise float s = zt_div(a, den);
        y = s * bv;
    }
    b2.d[pc.u[4] + r * pc.u[5] + i] = floatBitsToUint(y);
}
