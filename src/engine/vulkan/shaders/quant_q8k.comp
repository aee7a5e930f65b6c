#version 450
// Activations to Q8_K as zt_quant_activations: per super-block of 256,
// d = amax/127 (kept as a float), codes = round-half-even(x / d) clamped to
// +-127. Output per block: 65 uints, d then the 256 codes packed 4 per uint
// (the dot recomputes the bsums: exact integers).
// Bindings: 0 x (F32), 1 xq. u0 x offset (floats), u1 x stride, u2 n.
#include "common.glsl"
layout(local_size_x = 64) in;

void main()
{
    uint blk = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y, nb = pc.u[2] / 256u;
    if (blk >= nb) return;
    uint xo = pc.u[0] + row * pc.u[1] + blk * 256u;
    precise float d = zt_div(absmax0(xo, 256u), 127.0);
    precise float id = d != 0.0 ? zt_div(1.0, d) : 0.0;
    uint o = (row * nb + blk) * 65u;
    b1.d[o] = floatBitsToUint(d);
    for (uint j = 0u; j < 64u; j++) b1.d[o + 1u + j] = q8_word(xo + 4u * j, id);
}
