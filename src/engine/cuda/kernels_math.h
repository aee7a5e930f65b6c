/* kernels_math.h: the element-level arithmetic of the CUDA kernels
 * (kernels.cu): exact fp16 conversions, the engine's exp and sin/cos,
 * weight decoding, the activation quantiser. Under nvcc these are device
 * functions built on round-to-nearest intrinsics (never fused, whatever
 * the flags); compiled as C for the host (test_cuda_math), the same
 * operations in the same order with one rounding each (no contraction), so
 * a machine without a GPU checks them bit for bit against the CPU engine
 * (zt_math.h, zt_quant.h). */
#ifndef ZT_ENGINE_CUDA_KERNELS_MATH_H
#define ZT_ENGINE_CUDA_KERNELS_MATH_H

#include <stdint.h>

#include "cuda_args.h"

#ifdef __CUDACC__
#define ZT_CU_FN static __device__ __forceinline__
#define ZT_FMUL(a, b) __fmul_rn((a), (b))
#define ZT_FADD(a, b) __fadd_rn((a), (b))
#define ZT_FSUB(a, b) __fsub_rn((a), (b))
#define ZT_DMUL(a, b) __dmul_rn((a), (b))
#define ZT_DADD(a, b) __dadd_rn((a), (b))
#define ZT_DSUB(a, b) __dsub_rn((a), (b))
#define ZT_D2F(x) __double2float_rn(x)
#define ZT_U2F(u) __uint_as_float(u)
#define ZT_F2U(f) __float_as_uint(f)
#define ZT_FDIV(a, b) __fdiv_rn((a), (b))
#define ZT_FMA(a, b, c) __fmaf_rn((a), (b), (c))
#else
#include <math.h>
#include <string.h>
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
#include "../zt_math.h" /* the host's bit casts: zt__f32_bits, zt__f32_u */
#define ZT_CU_FN static inline
#define ZT_FMUL(a, b) ((float)(a) * (float)(b))
#define ZT_FADD(a, b) ((float)(a) + (float)(b))
#define ZT_FSUB(a, b) ((float)(a) - (float)(b))
#define ZT_DMUL(a, b) ((double)(a) * (double)(b))
#define ZT_DADD(a, b) ((double)(a) + (double)(b))
#define ZT_DSUB(a, b) ((double)(a) - (double)(b))
#define ZT_D2F(x) ((float)(x))
#define ZT_U2F(u) zt__f32_bits(u)
#define ZT_F2U(f) zt__f32_u(f)
#define ZT_FDIV(a, b) ((float)(a) / (float)(b))
#define ZT_FMA(a, b, c) fmaf((a), (b), (c))
/* the deterministic mode's division, reciprocal square root and exp
 * (kernels.cu defines the device's, fast or exact) */
#define ZT_DIV(a, b) ZT_FDIV((a), (b))
#define ZT_RSQRT_DIV(m) ZT_FDIV(1.0f, sqrtf(m))
#define ZT_EXP(x) zt_expf(x)
#endif

ZT_CU_FN float u2f(uint32_t u) { return ZT_U2F(u); }

// ---- exact conversions (zt_fp16_to_fp32 / zt_fp32_to_fp16) ----

ZT_CU_FN float half_to_float(uint32_t h)
{
    uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (e == 0u) {
        float f = ZT_FMUL((float)mant, u2f(0x33800000u)); // 2^-24, exact
        return ZT_U2F(ZT_F2U(f) | sign);
    }
    if (e == 31u) return u2f(sign | 0x7f800000u | (mant << 13) | (mant != 0u ? 0x00400000u : 0u));
    return u2f(sign | ((e + 112u) << 23) | (mant << 13));
}

ZT_CU_FN uint32_t float_to_half(float f)
{
    uint32_t x = ZT_F2U(f), sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return sign | 0x7e00u | ((x >> 13) & 0x3ffu);
    if (x >= 0x477ff000u) return sign | 0x7c00u;
    if (x < 0x38800000u) {
        float t = ZT_FADD(ZT_FMUL(u2f(x), 16777216.0f), 8388608.0f);
        return sign | (ZT_F2U(t) - 0x4b000000u);
    }
    x = x - 0x38000000u + 0xfffu + ((x >> 13) & 1u);
    return sign | (x >> 13);
}

ZT_CU_FN uint32_t ld16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

// ---- the engine's exp and sin/cos (zt_math.h, zt_math.c) ----

#ifndef ZT_FAST
// zt__expf: the same constants, the same operations in the same order
// (every one an explicit round-to-nearest intrinsic, so no build flag can
// fuse them), the same flush of subnormal results to +0.
ZT_CU_FN float zt_expf(float x)
{
    if (x != x) return x + x;
    if (x > 88.72283935546875f) return u2f(0x7f800000u);
    if (x < -87.5f) return 0.0f;
    const float magic = 12582912.0f;
    float kn = ZT_FSUB(ZT_FADD(ZT_FMUL(x, 1.44269502162933349609375f), magic), magic);
    int n = (int)kn;
    float r = ZT_FSUB(ZT_FSUB(x, ZT_FMUL(kn, 0.693145751953125f)), ZT_FMUL(kn, 1.428606765330187045e-06f));
    float p = 1.9875691500e-4f;
    p = ZT_FADD(ZT_FMUL(p, r), 1.3981999507e-3f);
    p = ZT_FADD(ZT_FMUL(p, r), 8.3334519073e-3f);
    p = ZT_FADD(ZT_FMUL(p, r), 4.1665795894e-2f);
    p = ZT_FADD(ZT_FMUL(p, r), 1.6666665459e-1f);
    p = ZT_FADD(ZT_FMUL(p, r), 5.0000001201e-1f);
    p = ZT_FADD(ZT_FADD(ZT_FMUL(p, ZT_FMUL(r, r)), r), 1.0f);
    int n1 = n / 2, n2 = n - n1;
    float y = ZT_FMUL(ZT_FMUL(p, u2f((uint32_t)(n1 + 127) << 23)), u2f((uint32_t)(n2 + 127) << 23));
    return y < 1.17549435082228750797e-38f ? 0.0f : y;
}
#endif

ZT_CU_FN double ksin(double r)
{
    double z = ZT_DMUL(r, r);
    double p = 1.58969099521155010221e-10;
    p = ZT_DADD(ZT_DMUL(p, z), -2.50507602534068634195e-08);
    p = ZT_DADD(ZT_DMUL(p, z), 2.75573137070700676789e-06);
    p = ZT_DADD(ZT_DMUL(p, z), -1.98412698298579493134e-04);
    p = ZT_DADD(ZT_DMUL(p, z), 8.33333333332248946124e-03);
    p = ZT_DADD(ZT_DMUL(p, z), -1.66666666666666324348e-01);
    return ZT_DADD(r, ZT_DMUL(ZT_DMUL(r, z), p));
}

ZT_CU_FN double kcos(double r)
{
    double z = ZT_DMUL(r, r);
    double p = -1.13596475577881948265e-11;
    p = ZT_DADD(ZT_DMUL(p, z), 2.08757232129817482790e-09);
    p = ZT_DADD(ZT_DMUL(p, z), -2.75573143513906633035e-07);
    p = ZT_DADD(ZT_DMUL(p, z), 2.48015872894767294178e-05);
    p = ZT_DADD(ZT_DMUL(p, z), -1.38888888888741095749e-03);
    p = ZT_DADD(ZT_DMUL(p, z), 4.16666666666666019037e-02);
    return ZT_DADD(ZT_DSUB(1.0, ZT_DMUL(0.5, z)), ZT_DMUL(ZT_DMUL(z, z), p));
}

// zt__sincosf, used by RoPE in both modes (the device's fast sinf loses
// accuracy for the large angles of late positions)
ZT_CU_FN void zt_sincosf(float x, float *s, float *c)
{
    if (x != x || x - x != 0.0f) {
        *s = *c = x - x;
        return;
    }
    double xd = (double)x;
    const double magic = 6755399441055744.0;
    double fn = ZT_DSUB(ZT_DADD(ZT_DMUL(xd, 6.36619772367581382433e-01), magic), magic);
    double r = ZT_DSUB(ZT_DSUB(ZT_DSUB(xd, ZT_DMUL(fn, 1.57079632673412561417e+00)),
                                   ZT_DMUL(fn, 6.07710050630396597660e-11)),
                         ZT_DMUL(fn, 2.02226624879595063154e-21));
    double sr = ksin(r), cr = kcos(r);
    long long n = (long long)fn;
    switch ((int)(n & 3)) {
    case 0: *s = ZT_D2F(sr); *c = ZT_D2F(cr); break;
    case 1: *s = ZT_D2F(cr); *c = ZT_D2F(-sr); break;
    case 2: *s = ZT_D2F(-sr); *c = ZT_D2F(-cr); break;
    default: *s = ZT_D2F(-cr); *c = ZT_D2F(sr); break;
    }
}

// ---- weight decoding (docs/internals/quant.md) ----

ZT_CU_FN void q4k_scale_min(const uint8_t *wb, uint32_t j, int *sc, int *m)
{
    const uint8_t *s = wb + 4;
    if (j < 4u) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

ZT_CU_FN uint32_t q4k_code(const uint8_t *wb, uint32_t e)
{
    uint32_t j = e / 32u, q = wb[16u + 32u * (j / 2u) + e % 32u];
    return (j & 1u) ? q >> 4 : q & 15u;
}

ZT_CU_FN uint32_t q6k_code(const uint8_t *wb, uint32_t e)
{
    uint32_t h = e / 128u, k = (e / 32u) % 4u, l = e % 32u;
    uint32_t lo = wb[64u * h + l + 32u * (k & 1u)];
    lo = k < 2u ? lo & 15u : lo >> 4;
    uint32_t hi = (wb[128u + 32u * h + l] >> (2u * k)) & 3u;
    return lo | (hi << 4);
}

ZT_CU_FN int q6k_scale(const uint8_t *wb, uint32_t g) { return (int)(int8_t)wb[192u + g]; }

// element i of a row at ro, as zt_dequant_row
ZT_CU_FN float decode(const uint8_t *ro, uint32_t type, uint32_t i)
{
    switch (type) {
    case ZT_CU_F32: return ((const float *)ro)[i];
    case ZT_CU_F16: return half_to_float(ld16(ro + 2u * i));
    case ZT_CU_BF16: return u2f(ld16(ro + 2u * i) << 16);
    case ZT_CU_Q8_0: {
        const uint8_t *bo = ro + (i / 32u) * 34u;
        return ZT_FMUL((float)(int8_t)bo[2u + i % 32u], half_to_float(ld16(bo)));
    }
    case ZT_CU_Q4_0: {
        const uint8_t *bo = ro + (i / 32u) * 18u;
        uint32_t e = i % 32u, q = bo[2u + (e & 15u)];
        return ZT_FMUL((float)((int)(e < 16u ? q & 15u : q >> 4) - 8), half_to_float(ld16(bo)));
    }
    case ZT_CU_Q4_K: {
        const uint8_t *wb = ro + (i / 256u) * 144u;
        uint32_t e = i % 256u;
        int sc, m;
        q4k_scale_min(wb, e / 32u, &sc, &m);
        float d0 = ZT_FMUL(half_to_float(ld16(wb)), (float)sc);
        float dm = ZT_FMUL(half_to_float(ld16(wb + 2)), (float)m);
        return ZT_FSUB(ZT_FMUL(d0, (float)q4k_code(wb, e)), dm);
    }
    default: { // Q6_K
        const uint8_t *wb = ro + (i / 256u) * 210u;
        uint32_t e = i % 256u;
        float ds = ZT_FMUL(half_to_float(ld16(wb + 208)), (float)q6k_scale(wb, e / 16u));
        return ZT_FMUL(ds, (float)((int)q6k_code(wb, e) - 32));
    }
    }
}

// ---- activation quantisers (zt_quant_activations) ----

// round-half-even(v) of v clamped to +-127 (NaN to -127), as rne_clamp
ZT_CU_FN int rne_clamp(float v)
{
    v = v > -127.0f ? v : -127.0f;
    v = v < 127.0f ? v : 127.0f;
    return (int)ZT_FSUB(ZT_FADD(v, 12582912.0f), 12582912.0f);
}

ZT_CU_FN float absmax(const float *x, uint32_t n)
{
    float m = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        float v = fabsf(x[i]);
        m = v > m ? v : m;
    }
    return m;
}

// 4 codes, packed low byte first
ZT_CU_FN uint32_t q8_word(const float *x, float id)
{
    uint32_t w = 0;
    for (uint32_t k = 0; k < 4u; k++) w |= ((uint32_t)rne_clamp(ZT_FMUL(x[k], id)) & 0xffu) << (8u * k);
    return w;
}


// one activation block of n elements (32: Q8_0, d rounded through fp16;
// 256: Q8_K, d kept) as zt_quant_activations: o[0] the d used by the dot
// (float bits), then the n codes packed 4 per word
ZT_CU_FN void quant_block(const float *x, uint32_t n, int fp16_d, uint32_t *o)
{
    float d = ZT_FDIV(absmax(x, n), 127.0f);
    float id = d != 0.0f ? ZT_FDIV(1.0f, d) : 0.0f;
    o[0] = fp16_d ? ZT_F2U(half_to_float(float_to_half(d))) : ZT_F2U(d);
    for (uint32_t j = 0; j < n / 4u; j++) o[1 + j] = q8_word(x + 4u * j, id);
}


// ---- one canonical lane of a matrix product (docs/internals/quant.md) ----
// A tile is one weight row w against nbt <= 4 activation rows (the weights
// decoded once for all of them); acc[c] is row c's chain. The kernels add
// the lanes with the canonical fold as shuffles; test_cuda_math folds them
// in C.

#define ZT_CU_BT 4u

// F32 / F16 / BF16, 32 lanes: lane l takes elements l, l + 32, ... as
// acc = fma(w_i, x_i, acc). x: F32 rows of stride xs.
ZT_CU_FN void mm_f_lane(const uint8_t *w, uint32_t type, const float *x, uint64_t xs, uint32_t nbt, uint32_t n,
                        uint32_t lane, float acc[ZT_CU_BT])
{
    for (uint32_t c = 0; c < ZT_CU_BT; c++) acc[c] = 0.0f;
    for (uint32_t i = lane; i < n; i += 32u) {
        float wi = decode(w, type, i);
        for (uint32_t c = 0; c < ZT_CU_BT; c++)
            if (c < nbt) acc[c] = ZT_FMA(wi, x[(uint64_t)c * xs + i], acc[c]);
    }
}

// Q8_0 / Q4_0 block k against Q8_0 activation blocks (9 words each,
// quant_block; xq: nb blocks per row, rows in order), canonical order v2:
// block k gives one exact int32 sum s_k over its 32 elements, and lane
// k % 8 of 8 takes acc = fma(d_w * d_x, s_k, acc) (mm_q8_step). Thread t
// (0..3) of the block's 4 computes its part, elements 8t..8t+7, of s_k for
// each activation row (exact integers: the 4 parts sum to s_k in any
// order); wd is the block's fp16 weight scale.
ZT_CU_FN void mm_q8_part(const uint8_t *wb, uint32_t type, const uint32_t *xq, uint32_t nb, uint32_t k, uint32_t nbt,
                         uint32_t t, int part[ZT_CU_BT], float *wd)
{
    int wc[8];
    for (uint32_t e = 0; e < 8u; e++) {
        uint32_t el = 8u * t + e;
        if (type == ZT_CU_Q8_0) {
            wc[e] = (int8_t)wb[2u + el];
        } else {
            uint32_t q = wb[2u + (el & 15u)];
            wc[e] = (int)(el < 16u ? q & 15u : q >> 4) - 8;
        }
    }
    *wd = half_to_float(ld16(wb));
    for (uint32_t c = 0; c < ZT_CU_BT; c++) {
        part[c] = 0;
        if (c >= nbt) continue;
        const uint32_t *xb = xq + ((uint64_t)c * nb + k) * 9u;
        uint32_t x0 = xb[1u + 2u * t], x1 = xb[2u + 2u * t];
        int p = 0;
        for (uint32_t e = 0; e < 8u; e++) p += wc[e] * (int)(int8_t)((e < 4u ? x0 : x1) >> (8u * (e & 3u)));
        part[c] = p; // |p| <= 8 * 128 * 127
    }
}

// block k's float step on its canonical lane (k % 8), one activation row:
// d_b = fp16(w.d) * fp16(x.d) (exact in f32), then one fma with the exact
// float(s_k) (|s_k| <= 32 * 128 * 127 < 2^24)
ZT_CU_FN float mm_q8_step(float acc, float wd, float xd, int s)
{
    return ZT_FMA(ZT_FMUL(wd, xd), (float)s, acc);
}

// Q4_K / Q6_K super-block k against Q8_K activation blocks (65 words each):
// thread t's part (elements 8t..8t+7) of the exact int32 isum and msum of
// each activation row (their sums over the 32 threads are the canonical
// sums, in any order); wd, wdmin the block's fp16 scales.
ZT_CU_FN void mm_k_part(const uint8_t *wb, int q6, const uint32_t *xq, uint32_t nbk, uint32_t k, uint32_t nbt,
                        uint32_t t, int isum[ZT_CU_BT], int msum[ZT_CU_BT], float *wd, float *wdmin)
{
    uint32_t e0 = 8u * t;
    int wc[8], sc, m = 0;
    if (q6) {
        sc = q6k_scale(wb, e0 / 16u);
        for (uint32_t e = 0; e < 8u; e++) wc[e] = (int)q6k_code(wb, e0 + e);
    } else {
        q4k_scale_min(wb, e0 / 32u, &sc, &m);
        for (uint32_t e = 0; e < 8u; e++) wc[e] = (int)q4k_code(wb, e0 + e);
    }
    *wd = half_to_float(ld16(q6 ? wb + 208 : wb));
    *wdmin = q6 ? 0.0f : half_to_float(ld16(wb + 2));
    for (uint32_t c = 0; c < ZT_CU_BT; c++) {
        isum[c] = msum[c] = 0;
        if (c >= nbt) continue;
        const uint32_t *xb = xq + ((uint64_t)c * nbk + k) * 65u;
        uint32_t x0 = xb[1u + e0 / 4u], x1 = xb[2u + e0 / 4u];
        int s = 0, bs = 0;
        for (uint32_t e = 0; e < 8u; e++) {
            int xv = (int)(int8_t)((e < 4u ? x0 : x1) >> (8u * (e & 3u)));
            s += wc[e] * xv;
            bs += xv;
        }
        if (q6) {
            isum[c] = sc * (s - 32 * bs);
        } else {
            isum[c] = sc * s;
            msum[c] = m * bs;
        }
    }
}

// the super-block's float step on its canonical lane (k % 8), row c
ZT_CU_FN float mm_k_step(float acc, float wd, float wdmin, float xd, int q6, int isum, int msum)
{
    acc = ZT_FMA(ZT_FMUL(wd, xd), (float)isum, acc);
    if (!q6) acc = ZT_FMA(-ZT_FMUL(wdmin, xd), (float)msum, acc);
    return acc;
}



// ---- the element-wise ops, attention (kernels.cu calls these per thread) ----

// rmsnorm: the row's scale 1 / sqrt(sum of squares in index order / n + eps)
ZT_CU_FN float rms_scale(const float *x, uint32_t n, float eps)
{
    float ss = 0.0f;
    for (uint32_t i = 0; i < n; i++) ss = ZT_FADD(ss, ZT_FMUL(x[i], x[i]));
    return ZT_RSQRT_DIV(ZT_FADD(ZT_DIV(ss, (float)n), eps));
}

ZT_CU_FN float rms_apply(float x, float sc, float g) { return ZT_FMUL(ZT_FMUL(x, sc), g); }

// (g / (1 + exp(-g))) * u
ZT_CU_FN float swiglu1(float g, float u) { return ZT_FMUL(ZT_DIV(g, ZT_FADD(1.0f, ZT_EXP(-g))), u); }

// RoPE pair i of one head v at position pos
ZT_CU_FN void rope_pair(float *v, uint32_t i, uint32_t half, int neox, uint32_t pos, float freq_scale, float inv_freq)
{
    float ps = ZT_FMUL((float)pos, freq_scale);
    float theta = ZT_FMUL(ps, inv_freq);
    float s, c;
    zt_sincosf(theta, &s, &c);
    uint32_t ia = neox ? i : 2u * i, ib = neox ? i + half : 2u * i + 1u;
    float x0 = v[ia], x1 = v[ib];
    v[ia] = ZT_FSUB(ZT_FMUL(x0, c), ZT_FMUL(x1, s));
    v[ib] = ZT_FADD(ZT_FMUL(x0, s), ZT_FMUL(x1, c));
}

// attention: a position's score (dot in index order, no FMA, times scale)
ZT_CU_FN float attn_score(const float *q, const float *kr, uint32_t hd, float scale)
{
    float dot = 0.0f;
    for (uint32_t i = 0; i < hd; i++) dot = ZT_FADD(dot, ZT_FMUL(q[i], kr[i]));
    return ZT_FMUL(dot, scale);
}

// the scores to exp(score - max) in place, in position order; returns 1 / sum
ZT_CU_FN float attn_softmax(float *sc, uint32_t n_pos)
{
    float mx = ZT_U2F(0xff800000u);
    for (uint32_t t = 0; t < n_pos; t++)
        if (sc[t] > mx) mx = sc[t];
    float sum = 0.0f;
    for (uint32_t t = 0; t < n_pos; t++) {
        float e = ZT_EXP(ZT_FSUB(sc[t], mx));
        sc[t] = e;
        sum = ZT_FADD(sum, e);
    }
    return ZT_DIV(1.0f, sum);
}

// output dim i: (p_t * inv) * v_t summed in position order
ZT_CU_FN float attn_out(const float *p, float inv, const float *vc, uint64_t vs, uint32_t n_pos, uint32_t i)
{
    float acc = 0.0f;
    for (uint32_t t = 0; t < n_pos; t++) acc = ZT_FADD(acc, ZT_FMUL(ZT_FMUL(p[t], inv), vc[(uint64_t)t * vs + i]));
    return acc;
}

#endif
