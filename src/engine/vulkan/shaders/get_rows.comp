#version 450
// dst[b] = decode(src[ids[b]]) for F32 (u7 = 0), F16 (1), Q8_0 (2), Q4_0 (3),
// BF16 (4), Q4_K (5), Q6_K (6) rows.
// Bindings: 0 src, 1 ids (int32), 2 dst. u0 src offset (bytes), u1 src row
// bytes, u2 ids offset (uints), u3 dst offset (floats), u4 dst stride, u5 n.
#include "common.glsl"
layout(local_size_x = 64) in;

uint byte_at(uint off) { return byte0(off); }

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
    } else if (pc.u[7] == 5u) {
        uint wb = ro + (i / 256u) * 144u, e = i % 256u;
        int sc, m;
        q4k_scale_min(wb, e / 32u, sc, m);
        precise float d0 = half_to_float(byte_at(wb) | (byte_at(wb + 1u) << 8)) * float(sc);
        precise float dm = half_to_float(byte_at(wb + 2u) | (byte_at(wb + 3u) << 8)) * float(m);
        precise float pv = d0 * float(q4k_code(wb, e)) - dm;
        v = pv;
    } else if (pc.u[7] == 6u) {
        uint wb = ro + (i / 256u) * 210u, e = i % 256u;
        precise float ds = half_to_float(byte_at(wb + 208u) | (byte_at(wb + 209u) << 8)) * float(q6k_scale(wb, e / 16u));
        precise float pv = ds * float(int(q6k_code(wb, e)) - 32);
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
