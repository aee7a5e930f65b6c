#version 450
// Causal attention of item j (a run of items sharing one cache), head h:
// one workgroup per (h, j). Scores q . k_t * scale for t <= pos (each dot in
// index order, no FMA) go to a scratch row; one invocation takes the max and
// the sum of exp(score - max) in position order; then every invocation owns
// output dims and sums (score * inv) * v_t in position order, as the CPU.
// exp and / are the CPU's in the deterministic mode (common.glsl, ZT_EXACT).
// Bindings: 0 q, 1 k, 2 v, 3 dst, 4 pos (uints), 5 scores.
// u0 q offset (floats, item 0 of the run), u1 q stride, u2 k offset, u3 k
// stride, u4 v offset, u5 v stride, u6 dst offset, u7 dst stride, u8 pos
// offset (uints), u9 scores per row, u10 n_head, u11 group, u12 head_dim,
// u13 scale (float bits).
#include "common.glsl"
layout(local_size_x = 64) in;
shared float s_inv;

void main()
{
    uint h = gl_WorkGroupID.x, j = gl_WorkGroupID.y, t0 = gl_LocalInvocationID.x;
    uint hd = pc.u[12], kvh = h / pc.u[11], n_pos = b4.d[pc.u[8] + j] + 1u;
    uint qo = pc.u[0] + j * pc.u[1] + h * hd;
    uint so = (j * pc.u[10] + h) * pc.u[9];
    float scale = uintBitsToFloat(pc.u[13]);
    for (uint t = t0; t < n_pos; t += 64u) {
        uint ko = pc.u[2] + t * pc.u[3] + kvh * hd;
        precise float dot = 0.0;
        for (uint i = 0u; i < hd; i++) {
            precise float p = F(b0, qo + i) * F(b1, ko + i);
            dot = dot + p;
        }
        precise float sc = dot * scale;
        b5.d[so + t] = floatBitsToUint(sc);
    }
    memoryBarrierBuffer();
    barrier();
    if (t0 == 0u) {
        float mx = uintBitsToFloat(0xff800000u);
        for (uint t = 0u; t < n_pos; t++) {
            float s = F(b5, so + t);
            if (s > mx) mx = s;
        }
        precise float sum = 0.0;
        for (uint t = 0u; t < n_pos; t++) {
            precise float e = ZT_EXP(F(b5, so + t) - mx);
            b5.d[so + t] = floatBitsToUint(e);
            sum = sum + e;
        }
        precise float inv = zt_div(1.0, sum);
        s_inv = inv;
    }
    memoryBarrierBuffer();
    barrier();
    float inv = s_inv;
    uint oo = pc.u[6] + j * pc.u[7] + h * hd;
    for (uint i = t0; i < hd; i += 64u) {
        precise float o = 0.0;
        for (uint t = 0u; t < n_pos; t++) {
            precise float p = F(b5, so + t) * inv;
            precise float pv = p * F(b2, pc.u[4] + t * pc.u[5] + kvh * hd + i);
            o = o + pv;
        }
        b3.d[oo + i] = floatBitsToUint(o);
    }
}
