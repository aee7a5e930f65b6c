#version 450
// Activations to Q8_0 as zt_quant_activations: per block of 32, d = amax/127,
// codes = round-half-even(x / d) clamped to +-127. Output per block: 9 uints,
// the fp16-rounded d as a float, then the 32 codes packed 4 per uint.
// Bindings: 0 x (F32), 1 xq. u0 x offset (floats), u1 x stride, u2 n,
// u3 rows. One invocation per (block, row).
#include "common.glsl"
layout(local_size_x = 64) in;

void main()
{
    uint blk = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y, nb = pc.u[2] / 32u;
    if (blk >= nb) return;
    uint xo = pc.u[0] + row * pc.u[1] + blk * 32u;
    precise float d = zt_div(absmax0(xo, 32u), 127.0);
    precise float id = d != 0.0 ? zt_div(1.0, d) : 0.0;
    uint o = (row * nb + blk) * 9u;
    b1.d[o] = floatBitsToUint(half_to_float(float_to_half(d)));
    for (uint j = 0u; j < 8u; j++) b1.d[o + 1u + j] = q8_word(xo + 4u * j, id);
}
