#version 450
// dst[b] = decode(src[ids[b]]) for F32 (u7 = 0), F16 (1), Q8_0 (2), Q4_0 (3),
// BF16 (4) rows.
// Bindings: 0 src, 1 ids (int32), 2 dst. u0 src offset (bytes), u1 src row
// bytes, u2 ids offset (uints), u3 dst offset (floats), u4 dst stride, u5 n.
#include "common.glsl"
layout(local_size_x = 64) in;

uint byte_at(uint off) { return (b0.d[off >> 2] >> (8u * (off & 3u))) & 0xffu; }

void main()
{
    uint i = gl_GlobalInvocationID.x, b = gl_GlobalInvocationID.y;
    if (i >= pc.u[5]) return;
    uint ro = pc.u[0] + b1.d[pc.u[2] + b] * pc.u[1];
    float v;
    if (pc.u[7] == 0u) {
        v = uintBitsToFloat(b0.d[(ro >> 2) + i]);
    } else if (pc.u[7] == 1u || pc.u[7] == 4u) {
        uint o = ro + 2u * i, h = byte_at(o) | (byte_at(o + 1u) << 8);
        v = pc.u[7] == 1u ? half_to_float(h) : uintBitsToFloat(h << 16);
    } else if (pc.u[7] == 3u) {
        uint bo = ro + (i / 32u) * 18u, e = i % 32u;
        precise float d = half_to_float(byte_at(bo) | (byte_at(bo + 1u) << 8));
        uint q = byte_at(bo + 2u + (e & 15u));
        precise float pv = float(int(e < 16u ? q & 15u : q >> 4) - 8) * d;
        v = pv;
    } else {
        uint bo = ro + (i / 32u) * 34u;
        precise float d = half_to_float(byte_at(bo) | (byte_at(bo + 1u) << 8));
        int q = int(byte_at(bo + 2u + i % 32u) << 24) >> 24;
        precise float pv = float(q) * d;
        v = pv;
    }
    b2.d[pc.u[3] + b * pc.u[4] + i] = floatBitsToUint(v);
}
