/* quant.c: tensor formats, reference (de)quantisers, the scalar reference
 * dot-product kernels and run-time dispatch.
 *
 * The scalar kernels DEFINE the canonical arithmetic of every dot product
 * (docs/internals/quant.md); the SIMD files reproduce it bit for bit. Hence
 * the rules here: FMA only where written as fmaf(), never contracted a*b+c
 * elsewhere (gcc's ISO C mode defaults to -ffp-contract=off; clang needs the
 * pragma), no reassociation. */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

#include "zentalk/zt_log.h"
#include "zentalk/zt_quant.h"
#include "quant_int.h"
#include "quant_ref.h"
#include "zt_math.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- conversions ---------------------------------------------------------- */

/* bit casts: zt_math.h's */
#define f2u zt__f32_u
#define u2f zt__f32_bits

float zt_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float */
        float f = (float)mant * 0x1p-24f;
        return u2f(f2u(f) | sign);
    }
    if (exp == 31) /* Inf, or NaN made quiet as F16C's vcvtph2ps does */
        return u2f(sign | 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0));
    return u2f(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t zt_fp32_to_fp16(float f)
{
    uint32_t x = f2u(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) /* NaN: quiet, top payload bits kept (as vcvtps2ph) */
        return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
    if (x >= 0x477ff000u) /* >= 65520 rounds to Inf (ties to even) */
        return (uint16_t)(sign | 0x7c00u);
    if (x < 0x38800000u) {
        /* below 2^-14: subnormal half = RNE(|f| * 2^24), an integer <= 1024;
         * adding 2^23 makes the FPU round it into the low mantissa bits. */
        float t = u2f(x) * 0x1p24f + 0x1p23f;
        return (uint16_t)(sign | (f2u(t) - 0x4b000000u));
    }
    /* normal: rebias the exponent and round the 13 dropped bits to even */
    x = x - 0x38000000u + 0xfffu + ((x >> 13) & 1u);
    return (uint16_t)(sign | (x >> 13));
}

float zt_bf16_to_fp32(uint16_t h)
{
    return u2f((uint32_t)h << 16);
}

uint16_t zt_fp32_to_bf16(float f)
{
    uint32_t x = f2u(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

static void fp16_to_fp32_row_scalar(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = zt_fp16_to_fp32(src[i]);
}

static void fp32_to_fp16_row_scalar(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = zt_fp32_to_fp16(src[i]);
}

/* ---- type traits ------------------------------------------------------------ */

struct type_info {
    uint16_t blck;  /* elements per block */
    uint16_t bytes; /* bytes per block */
};

static struct type_info type_info(enum zt_ggml_type t)
{
    switch (t) {
    case ZT_GGML_F32: return (struct type_info){1, 4};
    case ZT_GGML_F16: return (struct type_info){1, 2};
    case ZT_GGML_BF16: return (struct type_info){1, 2};
    case ZT_GGML_Q8_0: return (struct type_info){ZT_QK8_0, sizeof(struct zt_block_q8_0)};
    case ZT_GGML_Q4_0: return (struct type_info){ZT_QK4_0, sizeof(struct zt_block_q4_0)};
    case ZT_GGML_Q4_K: return (struct type_info){ZT_QK_K, sizeof(struct zt_block_q4_k)};
    case ZT_GGML_Q6_K: return (struct type_info){ZT_QK_K, sizeof(struct zt_block_q6_k)};
    case ZT_GGML_Q8_K: return (struct type_info){ZT_QK_K, sizeof(struct zt_block_q8_k)};
    default: return (struct type_info){0, 0};
    }
}

bool zt_quant_type_supported(enum zt_ggml_type t)
{
    return type_info(t).blck != 0;
}

size_t zt_quant_blck_size(enum zt_ggml_type t)
{
    return type_info(t).blck;
}

size_t zt_quant_block_bytes(enum zt_ggml_type t)
{
    return type_info(t).bytes;
}

int zt_quant_row_bytes(enum zt_ggml_type t, size_t n, size_t *out)
{
    struct type_info ti = type_info(t);
    if (ti.blck == 0 || n % ti.blck != 0)
        return ZT_EINVAL;
    size_t nb = n / ti.blck;
    if (nb > SIZE_MAX / ti.bytes)
        return ZT_ERANGE;
    *out = nb * ti.bytes;
    return 0;
}

/* ---- helpers shared by quantisers -------------------------------------------- */

/* Clamp to [lo, hi] with NaN going to lo (the comparison is false), then
 * round to nearest even with the 1.5*2^23 trick (exact for |v| < 2^22).
 * Written as compares so that SIMD max/min would give the same bits. */
static inline int rne_clamp(float v, float lo, float hi)
{
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return (int)((v + 12582912.0f) - 12582912.0f);
}

static inline float absmax(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m; /* NaN never wins */
    }
    return m;
}

/* The element with the largest magnitude, sign kept (first one on ties). */
static inline float signed_absmax(const float *x, size_t n)
{
    float m = 0.0f, best = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > m) {
            m = a;
            best = x[i];
        }
    }
    return best;
}

/* ---- Q8_0 ----------------------------------------------------------------------- */

static void quantize_q8_0(const float *x, struct zt_block_q8_0 *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++, x += ZT_QK8_0) {
        float amax = absmax(x, ZT_QK8_0);
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = zt_fp32_to_fp16(d);
        for (int i = 0; i < ZT_QK8_0; i++)
            y[b].qs[i] = (int8_t)rne_clamp(x[i] * id, -127.0f, 127.0f);
    }
}

static void dequant_q8_0(const struct zt_block_q8_0 *x, float *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++) {
        float d = zt_fp16_to_fp32(x[b].d);
        for (int i = 0; i < ZT_QK8_0; i++)
            *y++ = (float)x[b].qs[i] * d;
    }
}

/* ---- Q4_0 ----------------------------------------------------------------------- */

/* Q4_0 weights: the extreme element sets the sign of d; the step is then
 * searched around extreme / -8 (a slightly smaller step that clips the
 * extreme often wins) for the least squared error with the fp16 d. */
static void quantize_q4_0(const float *x, struct zt_block_q4_0 *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++, x += ZT_QK4_0) {
        float ext = signed_absmax(x, ZT_QK4_0);
        uint16_t best_d = zt_fp32_to_fp16(ext / -8.0f);
        double best_err = -1.0;
        for (int c = 0; c <= 16 && ext != 0.0f; c++) {
            uint16_t dh = zt_fp32_to_fp16(ext / (-8.0f - 0.125f * (float)c));
            float d = zt_fp16_to_fp32(dh), id = d != 0.0f ? 1.0f / d : 0.0f;
            double err = 0.0;
            for (int i = 0; i < ZT_QK4_0; i++) {
                int q = rne_clamp(x[i] * id + 8.0f, 0.0f, 15.0f);
                double e = (double)((float)(q - 8) * d) - (double)x[i];
                err += e * e;
            }
            if (best_err < 0.0 || err < best_err) {
                best_err = err;
                best_d = dh;
            }
        }
        float d = zt_fp16_to_fp32(best_d);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = best_d;
        for (int i = 0; i < ZT_QK4_0 / 2; i++) {
            int lo = rne_clamp(x[i] * id + 8.0f, 0.0f, 15.0f);
            int hi = rne_clamp(x[i + 16] * id + 8.0f, 0.0f, 15.0f);
            y[b].qs[i] = (uint8_t)(lo | (hi << 4));
        }
    }
}

static void dequant_q4_0(const struct zt_block_q4_0 *x, float *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++, y += ZT_QK4_0) {
        float d = zt_fp16_to_fp32(x[b].d);
        for (int i = 0; i < ZT_QK4_0 / 2; i++) {
            y[i] = (float)((x[b].qs[i] & 15) - 8) * d;
            y[i + 16] = (float)((x[b].qs[i] >> 4) - 8) * d;
        }
    }
}

/* ---- Q4_K ----------------------------------------------------------------------- */

/* 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes. */
static inline void q4k_scale_min(int j, const uint8_t *q, int *sc, int *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void q4k_pack_scales(const int *sc, const int *m, uint8_t *q)
{
    for (int j = 0; j < 4; j++) {
        q[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        q[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
}

/* Affine fit of 32 values to scale * q + off, q in 0..15, off <= 0: try
 * steps around (max - min) / 15, assign codes, refit scale and offset by
 * least squares, keep the fit with the smallest squared error. */
static void fit_affine32(const float *s, float *scale, float *off)
{
    float mn = 0.0f, mx = 0.0f;
    for (int i = 0; i < 32; i++) {
        mn = s[i] < mn ? s[i] : mn;
        mx = s[i] > mx ? s[i] : mx;
    }
    *scale = (mx - mn) / 15.0f;
    *off = mn;
    if (mx == mn)
        return;
    double best = -1.0;
    for (int st = -6; st <= 12; st++) {
        float is = (15.0f + 0.1f * (float)st) / (mx - mn);
        double sl = 0, sl2 = 0, sx = 0, sxl = 0;
        int l[32];
        for (int i = 0; i < 32; i++) {
            l[i] = rne_clamp((s[i] - mn) * is, 0.0f, 15.0f);
            sl += l[i];
            sl2 += (double)l[i] * l[i];
            sx += s[i];
            sxl += (double)s[i] * l[i];
        }
        double den = 32.0 * sl2 - sl * sl, a, o;
        if (den <= 0.0)
            continue;
        a = (32.0 * sxl - sx * sl) / den;
        o = (sl2 * sx - sl * sxl) / den;
        if (o > 0.0) { /* the format's offset is -dmin * m <= 0 */
            o = 0.0;
            a = sxl / sl2;
        }
        if (a <= 0.0)
            continue;
        double err = 0.0;
        for (int i = 0; i < 32; i++) {
            double e = a * l[i] + o - s[i];
            err += e * e;
        }
        if (best < 0.0 || err < best) {
            best = err;
            *scale = (float)a;
            *off = (float)o;
        }
    }
}

/* Per sub-block of 32 an affine fit (value = scale*q - min, min >= 0),
 * then the 8 scales and mins quantised to 6 bits against the super-block
 * d/dmin; each sub-block then tries a few nearby 6-bit scales and keeps the
 * one with the smallest squared error. */
static void quantize_q4_k(const float *x, struct zt_block_q4_k *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++, x += ZT_QK_K) {
        float scale[8], mins[8], max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 8; j++) {
            float off;
            fit_affine32(x + 32 * j, &scale[j], &off);
            mins[j] = -off;
            max_scale = scale[j] > max_scale ? scale[j] : max_scale;
            max_min = mins[j] > max_min ? mins[j] : max_min;
        }
        y[b].d = zt_fp32_to_fp16(max_scale / 63.0f);
        y[b].dmin = zt_fp32_to_fp16(max_min / 63.0f);
        float d = zt_fp16_to_fp32(y[b].d), dmin = zt_fp16_to_fp32(y[b].dmin);
        int sc[8], m[8];
        for (int j = 0; j < 8; j++) {
            const float *s = x + 32 * j;
            m[j] = dmin > 0.0f ? rne_clamp(mins[j] / dmin, 0.0f, 63.0f) : 0;
            int base = d > 0.0f ? rne_clamp(scale[j] / d, 0.0f, 63.0f) : 0;
            float dm = dmin * (float)m[j];
            double best_err = -1.0;
            sc[j] = base;
            for (int cand = base - 2; cand <= base + 2; cand++) {
                if (cand < 1 || cand > 63)
                    continue;
                float ds = d * (float)cand, id = 1.0f / ds;
                double err = 0.0;
                for (int i = 0; i < 32; i++) {
                    int q = rne_clamp((s[i] + dm) * id, 0.0f, 15.0f);
                    double e = (double)(ds * (float)q - dm) - (double)s[i];
                    err += e * e;
                }
                if (best_err < 0.0 || err < best_err) {
                    best_err = err;
                    sc[j] = cand;
                }
            }
        }
        q4k_pack_scales(sc, m, y[b].scales);
        for (int c = 0; c < 4; c++) {
            uint8_t q[64];
            for (int h = 0; h < 2; h++) {
                int j = 2 * c + h;
                float ds = d * (float)sc[j], dm = dmin * (float)m[j];
                float id = ds != 0.0f ? 1.0f / ds : 0.0f;
                for (int i = 0; i < 32; i++)
                    q[32 * h + i] = (uint8_t)rne_clamp((x[64 * c + 32 * h + i] + dm) * id, 0.0f, 15.0f);
            }
            for (int i = 0; i < 32; i++)
                y[b].qs[32 * c + i] = (uint8_t)(q[i] | (q[32 + i] << 4));
        }
    }
}

static void dequant_q4_k(const struct zt_block_q4_k *x, float *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++) {
        float d = zt_fp16_to_fp32(x[b].d), dmin = zt_fp16_to_fp32(x[b].dmin);
        for (int c = 0; c < 4; c++) {
            int sc0, m0, sc1, m1;
            q4k_scale_min(2 * c, x[b].scales, &sc0, &m0);
            q4k_scale_min(2 * c + 1, x[b].scales, &sc1, &m1);
            float d0 = d * (float)sc0, dm0 = dmin * (float)m0;
            float d1 = d * (float)sc1, dm1 = dmin * (float)m1;
            const uint8_t *q = x[b].qs + 32 * c;
            for (int l = 0; l < 32; l++)
                *y++ = d0 * (float)(q[l] & 15) - dm0;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)(q[l] >> 4) - dm1;
        }
    }
}

/* ---- Q6_K ----------------------------------------------------------------------- */

static void quantize_q6_k(const float *x, struct zt_block_q6_k *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++, x += ZT_QK_K) {
        float scale[16], best = 0.0f, amax = 0.0f;
        for (int g = 0; g < 16; g++) {
            /* the extreme element maps to q - 32 = -32 */
            scale[g] = signed_absmax(x + 16 * g, 16) / -32.0f;
            float a = fabsf(scale[g]);
            if (a > amax) {
                amax = a;
                best = scale[g];
            }
        }
        y[b].d = zt_fp32_to_fp16(best / -128.0f);
        float d = zt_fp16_to_fp32(y[b].d);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t q[ZT_QK_K];
        for (int g = 0; g < 16; g++) {
            int sc = rne_clamp(scale[g] * id, -128.0f, 127.0f);
            y[b].scales[g] = (int8_t)sc;
            float ds = d * (float)sc;
            float ids = ds != 0.0f ? 1.0f / ds : 0.0f;
            for (int i = 0; i < 16; i++)
                q[16 * g + i] = (uint8_t)(rne_clamp(x[16 * g + i] * ids, -32.0f, 31.0f) + 32);
        }
        memset(y[b].ql, 0, sizeof y[b].ql);
        memset(y[b].qh, 0, sizeof y[b].qh);
        for (int e = 0; e < ZT_QK_K; e++) {
            int h = e / 128, k = (e % 128) / 32, l = e % 32;
            int qi = 64 * h + l + 32 * (k & 1);
            y[b].ql[qi] = (uint8_t)(y[b].ql[qi] | ((q[e] & 15) << (k < 2 ? 0 : 4)));
            y[b].qh[32 * h + l] = (uint8_t)(y[b].qh[32 * h + l] | ((q[e] >> 4) << (2 * k)));
        }
    }
}

static void dequant_q6_k(const struct zt_block_q6_k *x, float *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++) {
        float d = zt_fp16_to_fp32(x[b].d);
        for (int e = 0; e < ZT_QK_K; e++)
            *y++ = d * (float)x[b].scales[e / 16] * (float)(q6k_code(&x[b], (size_t)e) - 32);
    }
}

/* ---- Q8_K ----------------------------------------------------------------------- */

static void quantize_q8_k(const float *x, struct zt_block_q8_k *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++, x += ZT_QK_K) {
        float amax = absmax(x, ZT_QK_K);
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = d;
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int i = 16 * g; i < 16 * g + 16; i++) {
                int q = rne_clamp(x[i] * id, -127.0f, 127.0f);
                y[b].qs[i] = (int8_t)q;
                sum += q;
            }
            y[b].bsums[g] = (int16_t)sum;
        }
    }
}

static void dequant_q8_k(const struct zt_block_q8_k *x, float *y, size_t nb)
{
    for (size_t b = 0; b < nb; b++)
        for (int i = 0; i < ZT_QK_K; i++)
            *y++ = (float)x[b].qs[i] * x[b].d;
}

/* ---- public row API --------------------------------------------------------------- */

int zt_dequant_row(enum zt_ggml_type t, const void *src, float *dst, size_t n)
{
    struct type_info ti = type_info(t);
    if (ti.blck == 0 || n % ti.blck != 0)
        return ZT_EINVAL;
    size_t nb = n / ti.blck;
    switch (t) {
    case ZT_GGML_F32: memcpy(dst, src, n * sizeof(float)); break;
    case ZT_GGML_F16: fp16_to_fp32_row_scalar(src, dst, n); break;
    case ZT_GGML_BF16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = zt_bf16_to_fp32(s[i]);
        break;
    }
    case ZT_GGML_Q8_0: dequant_q8_0(src, dst, nb); break;
    case ZT_GGML_Q4_0: dequant_q4_0(src, dst, nb); break;
    case ZT_GGML_Q4_K: dequant_q4_k(src, dst, nb); break;
    case ZT_GGML_Q6_K: dequant_q6_k(src, dst, nb); break;
    case ZT_GGML_Q8_K: dequant_q8_k(src, dst, nb); break;
    default: return ZT_EINVAL;
    }
    return 0;
}

int zt_quant_row(enum zt_ggml_type t, const float *src, void *dst, size_t n)
{
    struct type_info ti = type_info(t);
    if (ti.blck == 0 || n % ti.blck != 0)
        return ZT_EINVAL;
    size_t nb = n / ti.blck;
    switch (t) {
    case ZT_GGML_F32: memcpy(dst, src, n * sizeof(float)); break;
    case ZT_GGML_F16: fp32_to_fp16_row_scalar(src, dst, n); break;
    case ZT_GGML_BF16: {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++)
            d[i] = zt_fp32_to_bf16(src[i]);
        break;
    }
    case ZT_GGML_Q8_0: quantize_q8_0(src, dst, nb); break;
    case ZT_GGML_Q4_0: quantize_q4_0(src, dst, nb); break;
    case ZT_GGML_Q4_K: quantize_q4_k(src, dst, nb); break;
    case ZT_GGML_Q6_K: quantize_q6_k(src, dst, nb); break;
    case ZT_GGML_Q8_K: quantize_q8_k(src, dst, nb); break;
    default: return ZT_EINVAL;
    }
    return 0;
}

/* ---- scalar reference kernels: THE canonical order ----------------------------------
 *
 * Float dots (F32/F16/BF16 weights x F32): 32 lanes, element i goes to lane
 * i % 32 in increasing i, acc = fmaf(w, x, acc), lanes start at +0; then
 * lanes fold pairwise: lane l += lane l + h for h = 16, 8, 4, 2, 1.
 *
 * Q8_0 / Q4_0 x Q8_0 (kernel order version 2, "k2" in the engine build
 * id): 8 lanes. Block b gives ONE exact int32 s_b = sum of its 32 products
 * w*x (Q4_0 weight = q - 8; |s_b| <= 32*127*127 < 2^24, so (float)s_b is
 * exact) and goes to lane b % 8: acc = fmaf(d_b, (float)s_b, acc), d_b =
 * fp16(w.d) * fp16(x.d) (exact in float). Fold h = 4, 2, 1.
 *
 * Q4_K / Q6_K x Q8_K: 8 lanes; super-block b goes to lane b % 8 with its
 * exact int32 sums (see below); fold h = 4, 2, 1. */

#define FOLD(acc, nl)                                                                    \
    do {                                                                             \
        for (int h_ = (nl) / 2; h_ >= 1; h_ /= 2)                                    \
            for (int l_ = 0; l_ < h_; l_++)                                          \
                (acc)[l_] = (acc)[l_] + (acc)[l_ + h_];                              \
    } while (0)

static float dot_f32_1(size_t n, const float *w, const float *x)
{
    float acc[32] = {0};
    for (size_t i = 0; i < n; i++)
        acc[i % 32] = fmaf(w[i], x[i], acc[i % 32]);
    FOLD(acc, 32);
    return acc[0];
}

static float dot_f16_1(size_t n, const uint16_t *w, const float *x)
{
    float acc[32] = {0};
    for (size_t i = 0; i < n; i++)
        acc[i % 32] = fmaf(zt_fp16_to_fp32(w[i]), x[i], acc[i % 32]);
    FOLD(acc, 32);
    return acc[0];
}

static float dot_bf16_1(size_t n, const uint16_t *w, const float *x)
{
    float acc[32] = {0};
    for (size_t i = 0; i < n; i++)
        acc[i % 32] = fmaf(zt_bf16_to_fp32(w[i]), x[i], acc[i % 32]);
    FOLD(acc, 32);
    return acc[0];
}

static float dot_q8_0_1(size_t nb, const struct zt_block_q8_0 *w, const struct zt_block_q8_0 *x)
{
    float acc[8] = {0};
    for (size_t b = 0; b < nb; b++) {
        float d = zt_fp16_to_fp32(w[b].d) * zt_fp16_to_fp32(x[b].d);
        int32_t s = 0;
        for (int e = 0; e < ZT_QK8_0; e++)
            s += (int32_t)w[b].qs[e] * x[b].qs[e];
        acc[b % 8] = fmaf(d, (float)s, acc[b % 8]);
    }
    FOLD(acc, 8);
    return acc[0];
}

static float dot_q4_0_1(size_t nb, const struct zt_block_q4_0 *w, const struct zt_block_q8_0 *x)
{
    float acc[8] = {0};
    for (size_t b = 0; b < nb; b++) {
        float d = zt_fp16_to_fp32(w[b].d) * zt_fp16_to_fp32(x[b].d);
        int32_t s = 0;
        for (int e = 0; e < ZT_QK4_0; e++) {
            int q = e < 16 ? (w[b].qs[e] & 15) : (w[b].qs[e - 16] >> 4);
            s += (int32_t)(q - 8) * x[b].qs[e];
        }
        acc[b % 8] = fmaf(d, (float)s, acc[b % 8]);
    }
    FOLD(acc, 8);
    return acc[0];
}

/* Q4_K: isum = sum_j sc[j] * sum_{e in sub-block j} q_e * x_e and
 * msum = sum_j m[j] * (bsums[2j] + bsums[2j+1]), both exact int32; then
 * acc = fmaf(d, (float)isum, acc); acc = fmaf(-dmin, (float)msum, acc)
 * with d = fp16(w.d) * x.d and dmin = fp16(w.dmin) * x.d. */
static float dot_q4_k_1(size_t nb, const struct zt_block_q4_k *w, const struct zt_block_q8_k *x)
{
    float acc[8] = {0};
    for (size_t b = 0; b < nb; b++) {
        int32_t isum = 0, msum = 0;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            q4k_scale_min(j, w[b].scales, &sc, &m);
            const uint8_t *q = w[b].qs + 32 * (j / 2);
            const int8_t *y = x[b].qs + 32 * j;
            int32_t s = 0;
            for (int l = 0; l < 32; l++)
                s += (int32_t)((j & 1) ? (q[l] >> 4) : (q[l] & 15)) * y[l];
            isum += sc * s;
            msum += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        float d = zt_fp16_to_fp32(w[b].d) * x[b].d;
        float dmin = zt_fp16_to_fp32(w[b].dmin) * x[b].d;
        float *a = &acc[b % 8];
        *a = fmaf(d, (float)isum, *a);
        *a = fmaf(-dmin, (float)msum, *a);
    }
    FOLD(acc, 8);
    return acc[0];
}

/* Q6_K: isum = sum_g scales[g] * (sum_{e in group g of 16} q_e * x_e -
 * 32 * bsums[g]) (q the unsigned 6-bit value), exact int32; then
 * acc = fmaf(fp16(w.d) * x.d, (float)isum, acc). */
static float dot_q6_k_1(size_t nb, const struct zt_block_q6_k *w, const struct zt_block_q8_k *x)
{
    float acc[8] = {0};
    for (size_t b = 0; b < nb; b++) {
        int32_t isum = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            for (int e = 16 * g; e < 16 * g + 16; e++)
                s += (int32_t)q6k_code(&w[b], (size_t)e) * x[b].qs[e];
            isum += w[b].scales[g] * (s - 32 * x[b].bsums[g]);
        }
        float d = zt_fp16_to_fp32(w[b].d) * x[b].d;
        acc[b % 8] = fmaf(d, (float)isum, acc[b % 8]);
    }
    FOLD(acc, 8);
    return acc[0];
}

/* ---- the BF16 mode (zt_quant.h, quant.md "BF16 mode") ------------------------
 *
 * The definition, matching what AVX512-BF16's vdpbf16ps computes (tested
 * on the Zen 4 of 2026-12-07 over 32 M random lanes and the underflow
 * corner cases, test_quant's test_bf16_mode_hw; on other CPUs the
 * self-test before bf16m_table guards it): per 16-lane step
 * the odd element's product is added first, each as one fma (a bf16
 * product is exact in f32, so fma and mul-then-add differ only when the
 * product underflows), each result flushed to a zero of its sign when
 * below 2^-126 after rounding (FTZ); inputs are never subnormal (the
 * rounding below flushes them, as the instructions' DAZ would). */

const char *zt_precision_name(enum zt_precision p)
{
    return p == ZT_PRECISION_EXACT ? "exact" : p == ZT_PRECISION_BF16 ? "bf16" : NULL;
}

int zt_precision_parse(const char *s, enum zt_precision *out)
{
    if (s == NULL)
        return ZT_EINVAL;
    if (strcmp(s, "exact") == 0) {
        *out = ZT_PRECISION_EXACT;
        return 0;
    }
    if (strcmp(s, "bf16") == 0) {
        *out = ZT_PRECISION_BF16;
        return 0;
    }
    return ZT_EINVAL;
}

uint16_t zt_fp32_to_bf16_mode(float f)
{
    uint32_t x = f2u(f);
    if ((x & 0x7f800000u) == 0) /* zero or subnormal: a zero of its sign */
        return (uint16_t)((x >> 16) & 0x8000u);
    return zt_fp32_to_bf16(f); /* RNE; NaN quiet; a normal never rounds to a subnormal */
}

static void bf16_row_scalar(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = zt_fp32_to_bf16_mode(src[i]);
}

void zt_quant_bf16_row(const float *src, uint16_t *dst, size_t n)
{
    bf16_row_scalar(src, dst, n);
}

int zt_quant_bf16_weights(enum zt_ggml_type t, const void *src, uint16_t *dst, size_t n)
{
    switch (t) {
    case ZT_GGML_F32:
        bf16_row_scalar(src, dst, n);
        return 0;
    case ZT_GGML_F16: { /* exact widening (the path's row conversion, same bits), then RNE */
        const uint16_t *h = src;
        float tmp[256];
        for (size_t i = 0; i < n; i += 256) {
            size_t k = n - i < 256 ? n - i : 256;
            zt_fp16_to_fp32_row(h + i, tmp, k);
            bf16_row_scalar(tmp, dst + i, k);
        }
        return 0;
    }
    case ZT_GGML_BF16: {
        const uint16_t *b = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = zt_fp32_to_bf16_mode(zt_bf16_to_fp32(b[i])); /* flushes subnormals only */
        return 0;
    }
    default:
        return ZT_EINVAL;
    }
}

/* FTZ after rounding: |r| < 2^-126 becomes a zero of r's sign (NaN kept). */
static inline float ftz(float r)
{
    return fabsf(r) < 0x1p-126f ? copysignf(0.0f, r) : r;
}

static inline float bf16_in(const uint16_t *v, size_t i, size_t n)
{
    if (i >= n)
        return 0.0f;
    uint16_t h = v[i];
    if ((h & 0x7f80u) == 0) /* subnormal input: zero (DAZ), for inputs made elsewhere */
        h &= 0x8000u;
    return zt_bf16_to_fp32(h);
}

static float dot_bf16m_1(size_t n, const uint16_t *w, const uint16_t *x)
{
    float acc[16] = {0};
    size_t np = (n + 31) / 32 * 16; /* pairs, the length padded to a multiple of 32 */
    for (size_t p = 0; p < np; p++) {
        float *a = &acc[p % 16];
        *a = ftz(fmaf(bf16_in(w, 2 * p + 1, n), bf16_in(x, 2 * p + 1, n), *a));
        *a = ftz(fmaf(bf16_in(w, 2 * p, n), bf16_in(x, 2 * p, n), *a));
    }
    FOLD(acc, 16);
    return acc[0];
}

#define SCALAR_DOT(name, call)                                                           \
    static void name(size_t n, const void *w, const void *x, size_t x_stride, size_t nx,  \
                     float *out)                                                         \
    {                                                                                    \
        for (size_t k = 0; k < nx; k++) {                                                \
            const void *xk = (const char *)x + k * x_stride;                             \
            out[k] = call;                                                               \
        }                                                                                \
    }

SCALAR_DOT(dot_f32_scalar, dot_f32_1(n, w, xk))
SCALAR_DOT(dot_f16_scalar, dot_f16_1(n, w, xk))
SCALAR_DOT(dot_bf16_scalar, dot_bf16_1(n, w, xk))
SCALAR_DOT(dot_q8_0_scalar, dot_q8_0_1(n / ZT_QK8_0, w, xk))
SCALAR_DOT(dot_q4_0_scalar, dot_q4_0_1(n / ZT_QK4_0, w, xk))
SCALAR_DOT(dot_q4_k_scalar, dot_q4_k_1(n / ZT_QK_K, w, xk))
SCALAR_DOT(dot_q6_k_scalar, dot_q6_k_1(n / ZT_QK_K, w, xk))
SCALAR_DOT(dot_bf16m_scalar, dot_bf16m_1(n, w, xk))

const struct zt__quant_kernels zt__quant_kernels_scalar = {
    .name = "scalar",
    ZT__QUANT_DOTS(_scalar),
    .dot_bf16m = dot_bf16m_scalar,
};

/* ---- dispatch ------------------------------------------------------------------------ */

/* g_tab[isa]: that path's kernels, the entries it lacks filled from the path
 * below it (avx512vnni <- avx512 <- avx2 <- scalar), so every path has
 * every kernel: avx512 uses avx2's blocked mm_* kernels (its dot kernels
 * reload the weights for each activation row, which made it slower than
 * avx2 on prompts), avx512vnni's dots tile by themselves. g_choice[t][s]:
 * the path that runs weight type t for shape s (0: one activation row,
 * 1: more), all the same path when forced. */
enum { SHAPE_GEN = 0, SHAPE_PP = 1 };
static struct zt__quant_kernels g_tab[ZT_QUANT_ISA_COUNT];
static _Atomic(unsigned char) g_choice[ZT_GGML_TYPE_COUNT][2];
static _Atomic(const struct zt__quant_kernels *) g_kernels; /* conversions, zt_quant_vec_dot */
static _Atomic(int) g_isa = ZT_QUANT_ISA_SCALAR;
static _Atomic(bool) g_forced;
static int g_init_rc;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static const struct zt__quant_kernels *isa_table(enum zt_quant_isa isa)
{
    switch (isa) {
    case ZT_QUANT_ISA_SCALAR: return &zt__quant_kernels_scalar;
    case ZT_QUANT_ISA_AVX2: return &zt__quant_kernels_avx2;
    case ZT_QUANT_ISA_AVX512: return &zt__quant_kernels_avx512;
    case ZT_QUANT_ISA_AVX512VNNI: return &zt__quant_kernels_avx512vnni;
    case ZT_QUANT_ISA_AVX512BF16: return &zt__quant_kernels_avx512bf16;
    default: return NULL;
    }
}

static const char *const isa_names[ZT_QUANT_ISA_COUNT] = {"scalar", "avx2", "avx512", "avx512vnni", "avx512bf16"};

#if defined(__x86_64__) || defined(__i386__)
/* XCR0 via xgetbv, 0 when the OS has not enabled XSAVE (CPUID.1:ECX.OSXSAVE). */
static uint64_t xcr0(void)
{
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27)))
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

bool zt_quant_isa_available(enum zt_quant_isa isa)
{
    const struct zt__quant_kernels *k = isa_table(isa);
    if (k == NULL || k->name == NULL)
        return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* F16C: clang 14 cannot name it in __builtin_cpu_supports, so CPUID
     * leaf 1 ECX bit 29 (the OS-enabled YMM state is covered by "avx2") */
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    /* the OS saves the opmask and all 512-bit registers: XCR0 bits 1, 2
     * (SSE, AVX) and 5, 6, 7 (opmask, ZMM_Hi256, Hi16_ZMM) */
    bool zmm_state = (xcr0() & 0xe6u) == 0xe6u;
    bool avx512 = avx2 && zmm_state && __builtin_cpu_supports("avx512f") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512dq");
    switch (isa) {
    case ZT_QUANT_ISA_SCALAR: return true;
    case ZT_QUANT_ISA_AVX2: return avx2;
    case ZT_QUANT_ISA_AVX512: return avx512;
    case ZT_QUANT_ISA_AVX512VNNI:
        /* CPUID.(7,0):ECX bit 11 */
        return avx512 && __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 11)) != 0;
    case ZT_QUANT_ISA_AVX512BF16:
        /* VNNI (the path below) and CPUID.(7,1):EAX bit 5 */
        return zt_quant_isa_available(ZT_QUANT_ISA_AVX512VNNI) &&
               __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 5)) != 0;
    default: return false;
    }
#else
    return isa == ZT_QUANT_ISA_SCALAR;
#endif
}

static void build_tables(void)
{
    for (int i = 0; i < ZT_QUANT_ISA_COUNT; i++) {
        struct zt__quant_kernels *t = &g_tab[i];
        *t = *isa_table((enum zt_quant_isa)i);
        if (i == 0) {
            t->pk_q8_0 = zt__quant_pk_scalar[0];
            t->pk_q4_0 = zt__quant_pk_scalar[1];
            t->pk_q6_k = zt__quant_pk_scalar[2];
            t->pk_q4_k = zt__quant_pk_scalar[3];
        }
        if (t->name == NULL || i == 0)
            continue;
        const struct zt__quant_kernels *lo = &g_tab[i - 1];
        if (lo->name == NULL)
            continue; /* a path below not built: keep what this one has (avx2 always is with avx512) */
        const struct zt__quant_kernels *own = isa_table((enum zt_quant_isa)i);
#define FILL(f)                                                                                    \
    if (t->f == NULL)                                                                              \
        t->f = lo->f;
/* a blocked kernel is inherited unless this path's own dot tiles by itself */
#define FILL_MM(f, d)                                                                              \
    if (t->f == NULL && (own->d == NULL || !own->dots_tile))                                       \
        t->f = lo->f;
        FILL(dot_f32) FILL(dot_f16) FILL(dot_bf16) FILL(dot_q8_0) FILL(dot_q4_0) FILL(dot_q4_k)
        FILL(dot_q6_k) FILL(fp16_to_fp32_row) FILL(fp32_to_fp16_row) FILL(quant_q8_0_row) FILL(quant_q8_k_row) FILL(pk_q8_0) FILL(pk_q4_0) FILL(pk_q6_k) FILL(pk_q4_k)
        FILL(dot_bf16m)
        if (t->mm_bf16m == NULL && own->dot_bf16m == NULL)
            t->mm_bf16m = lo->mm_bf16m;
        FILL_MM(mm_f32, dot_f32) FILL_MM(mm_f16, dot_f16) FILL_MM(mm8_f16, dot_f16) FILL_MM(mm_q8_0, dot_q8_0) FILL_MM(mm_q4_0, dot_q4_0)
        /* the 8-row tiles only with the 4-row kernels they fall back to */
        if (t->mm8_q8_0 == NULL && t->mm_q8_0 == lo->mm_q8_0)
            t->mm8_q8_0 = lo->mm8_q8_0;
        if (t->mm8_q4_0 == NULL && t->mm_q4_0 == lo->mm_q4_0)
            t->mm8_q4_0 = lo->mm8_q4_0;
#undef FILL
#undef FILL_MM
    }
}

static void set_isa(enum zt_quant_isa isa)
{
    for (int t = 0; t < ZT_GGML_TYPE_COUNT; t++)
        for (int s = 0; s < 2; s++)
            atomic_store(&g_choice[t][s], (unsigned char)isa);
    atomic_store(&g_kernels, &g_tab[isa]);
    atomic_store(&g_isa, (int)isa);
}

static zt__quant_dot_fn dot_fn(const struct zt__quant_kernels *k, enum zt_ggml_type t);
static zt__quant_mm_fn mm_fn(const struct zt__quant_kernels *k, enum zt_ggml_type t);
static zt__quant_mm_fn mm8_fn(const struct zt__quant_kernels *k, enum zt_ggml_type t);
static void matmul_with(const struct zt__quant_kernels *kt, enum zt_ggml_type type, const void *W,
                        size_t row_bytes, size_t row_begin, size_t row_end, const void *X_q,
                        size_t x_row_bytes, size_t batch, float *out, size_t out_stride, size_t n);
static void matmul_fns(zt__quant_dot_fn fn, zt__quant_mm_fn mm, size_t tile, const void *W, size_t row_bytes,
                       size_t row_begin, size_t row_end, const void *X_q, size_t x_row_bytes, size_t batch,
                       float *out, size_t out_stride, size_t n);

/* The calling thread's CPU time: on a shared machine the time it waits for
 * a core would otherwise decide the choice (it flapped run to run at load
 * 14 on the 2-core Zen 4 with the wall clock). */
static uint64_t cal_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Calibration: for each weight type, time every available path on the
 * same product (CAL_ROWS rows of CAL_N, one activation row and a tile of
 * 4), best of CAL_REPS, and keep the fastest. Data are quantised
 * pseudo-random values (the speed of these kernels does not depend on
 * them). The default for a type with no measurement is the newest path. */
#define CAL_N 2048
#define CAL_ROWS 24
#define CAL_REPS 5
static void calibrate(int best_isa)
{
    static const enum zt_ggml_type types[] = {ZT_GGML_F32,  ZT_GGML_F16,  ZT_GGML_BF16, ZT_GGML_Q8_0,
                                              ZT_GGML_Q4_0, ZT_GGML_Q4_K, ZT_GGML_Q6_K};
    set_isa((enum zt_quant_isa)best_isa);
    float *f = malloc(sizeof(float) * CAL_N * CAL_ROWS);
    /* activation rows on a cache line, as the CPU backend's (cpu_matmul_n):
     * malloc's 16-byte alignment made every 512-bit load of an F32 row
     * cross two lines, and the AVX-512 F16 tile lose the calibration it
     * wins on the aligned rows the engine gives it */
    uint8_t *w = malloc(CAL_N * 4 * CAL_ROWS), *x_mem = malloc(CAL_N * 4 * 8 + 1024 + 64), *x = x_mem;
    float out[8 * CAL_ROWS];
    if (!f || !w || !x_mem)
        goto out;
    x += (64 - (uintptr_t)x_mem % 64) % 64;
    uint32_t r = 0x9e3779b9u;
    for (size_t i = 0; i < (size_t)CAL_N * CAL_ROWS; i++) {
        r = r * 1664525u + 1013904223u;
        f[i] = (float)(int32_t)r * (1.0f / 2147483648.0f);
    }
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        enum zt_ggml_type t = types[ti], at = zt_quant_vec_dot_type(t);
        size_t wb = 0, xb = 0;
        if (zt_quant_row_bytes(t, CAL_N, &wb) != 0 || zt_quant_row_bytes(at, CAL_N, &xb) != 0)
            continue;
        bool ok = true;
        for (size_t i = 0; i < CAL_ROWS && ok; i++)
            ok = zt_quant_row(t, f + i * CAL_N, w + i * wb, CAL_N) == 0;
        for (size_t i = 0; i < 8 && ok; i++)
            ok = zt_quant_row(at, f + i * CAL_N, x + i * xb, CAL_N) == 0;
        if (!ok)
            continue;
        for (int s = 0; s < 2; s++) {
            size_t batch = s == SHAPE_GEN ? 1 : 8; /* prompts: 8, a whole tile of mm8_f16 */
            uint64_t best = UINT64_MAX;
            int pick = best_isa, prev = -1;
            /* oldest first: a newer path must win by 3 % (timer noise); one
             * whose kernels for t are the older path's is not measured */
            for (int isa = ZT_QUANT_ISA_AVX2; isa <= best_isa; isa++) {
                if (!zt_quant_isa_available((enum zt_quant_isa)isa))
                    continue;
                if (prev >= 0 && dot_fn(&g_tab[isa], t) == dot_fn(&g_tab[prev], t) &&
                    mm_fn(&g_tab[isa], t) == mm_fn(&g_tab[prev], t) &&
                    mm8_fn(&g_tab[isa], t) == mm8_fn(&g_tab[prev], t))
                    continue;
                prev = isa;
                uint64_t b = UINT64_MAX;
                for (int rep = 0; rep < CAL_REPS; rep++) {
                    uint64_t t0 = cal_ns();
                    for (int k = 0; k < 4; k++)
                        matmul_with(&g_tab[isa], t, w, wb, 0, CAL_ROWS, x, xb, batch, out, CAL_ROWS, CAL_N);
                    uint64_t dt = cal_ns() - t0;
                    if (dt < b)
                        b = dt;
                }
                if (best == UINT64_MAX || b * 100 < best * 97) {
                    best = b;
                    pick = isa;
                }
            }
            atomic_store(&g_choice[t][s], (unsigned char)pick);
        }
    }
out:
    free(f);
    free(w);
    free(x_mem);
}

static void init_once(void)
{
    build_tables();
    const char *env = getenv("ZT_CPU");
    set_isa(ZT_QUANT_ISA_SCALAR);
    if (env != NULL && env[0] != '\0') {
        for (int i = 0; i < ZT_QUANT_ISA_COUNT; i++) {
            if (strcmp(env, isa_names[i]) == 0) {
                if (zt_quant_isa_available((enum zt_quant_isa)i)) {
                    set_isa((enum zt_quant_isa)i);
                    atomic_store(&g_forced, true);
                    g_init_rc = 0;
                } else {
                    zt_log(ZT_LOG_ERROR, "ZT_CPU path not supported by this CPU", "ZT_CPU=%s", env);
                    g_init_rc = ZT_EUNSUPPORTED;
                }
                return;
            }
        }
        zt_log(ZT_LOG_ERROR, "unknown ZT_CPU value (scalar|avx2|avx512|avx512vnni|avx512bf16)", "ZT_CPU=%s", env);
        g_init_rc = ZT_EINVAL;
        return;
    }
    int best = 0;
    for (int i = ZT_QUANT_ISA_COUNT - 1; i > 0 && best == 0; i--)
        if (zt_quant_isa_available((enum zt_quant_isa)i))
            best = i;
    if (best >= ZT_QUANT_ISA_AVX2)
        calibrate(best);
    g_init_rc = 0;
}

int zt_quant_init(void)
{
    pthread_once(&g_once, init_once);
    return g_init_rc;
}

static inline const struct zt__quant_kernels *kernels(void)
{
    const struct zt__quant_kernels *k = atomic_load_explicit(&g_kernels, memory_order_acquire);
    if (k == NULL) {
        zt_ignore(zt_quant_init()); /* a bad ZT_CPU was reported there; scalar is used */
        k = atomic_load(&g_kernels);
    }
    return k;
}

zt__quant_pk_fn zt__quant_pk_current(enum zt_ggml_type t)
{
    const struct zt__quant_kernels *k = kernels();
    return t == ZT_GGML_Q8_0 ? k->pk_q8_0 : t == ZT_GGML_Q4_0 ? k->pk_q4_0 : t == ZT_GGML_Q6_K ? k->pk_q6_k
           : t == ZT_GGML_Q4_K ? k->pk_q4_k
                               : NULL;
}

const char *zt_quant_isa_name(void)
{
    return kernels()->name;
}

enum zt_quant_isa zt_quant_isa_current(void)
{
    (void)kernels();
    return (enum zt_quant_isa)atomic_load(&g_isa);
}

int zt_quant_set_isa(enum zt_quant_isa isa)
{
    (void)kernels(); /* run init first so it cannot override this later */
    if ((unsigned)isa >= ZT_QUANT_ISA_COUNT || !zt_quant_isa_available(isa))
        return ZT_EUNSUPPORTED;
    set_isa(isa);
    return 0;
}

/* ---- the BF16 mode's self-test (review finding F3) ---------------------------
 *
 * The equality of vdpbf16ps and the definition was measured on AMD Zen 4
 * only; Intel documents the instruction as two multiply-adds with DAZ/FTZ
 * and does not promise the fused steps. So at the first use of a path's
 * BF16-mode kernels (and of the AVX2 emulation, as cheap) the corner
 * vectors where fused and unfused steps differ go through that path's dot
 * and blocked kernels and through the definition (dot_bf16m_1); on any
 * difference the path is not used for the mode (logged once as
 * bf16_hw_mismatch) and the next path below with such kernels runs,
 * down to the scalar definition itself. Each corner fills lane 0 only:
 * pair 0 (elements 0, 1) makes the accumulator, pair 16 (elements 32, 33)
 * the step under test. */
struct bf16m_corner {
    float acc_o[2], acc_e[2], step_o[2], step_e[2]; /* {w, x} of each product */
};
static const struct bf16m_corner bf16m_corners[] = {
    /* a product below 2^-126 added to 2^-126: fused keeps it, a flushed product does not */
    {{0x1p-63f, 0x1p-63f}, {0, 0}, {0x1p-70f, 0x1p-70f}, {0, 0}},
    /* ... to -2^-126: fused gives a sum below 2^-126, flushed to -0 */
    {{-0x1p-63f, 0x1p-63f}, {0, 0}, {0x1p-70f, 0x1p-70f}, {0, 0}},
    /* the rounding corner of test_bf16_mode_hw: 2^-126 (1 + 2^-12 + 2^-18) - 2^-138 (1 + 2^-7)^2
     * rounds to 2^-126, kept (tininess after rounding) */
    {{0x1p-63f, 0x1p-63f}, {0x1p-70f * (1 + 0x1p-6f), 0x1p-68f}, {-0x1p-12f * (1 + 0x1p-7f), 0x1p-126f * (1 + 0x1p-7f)},
     {0, 0}},
    /* a product past FLT_MAX with a large opposite accumulator: finite under fma, inf unfused */
    {{-0x1p100f, 0x1p27f}, {0, 0}, {0x1p100f, 0x1p28f}, {0, 0}},
    /* the order: 2^24 + 1 (a tie, to 2^24) + 1 = 2^24; the two products summed first give 2^24 + 2 */
    {{0x1p12f, 0x1p12f}, {0, 0}, {1, 1}, {1, 1}},
};
#define BF16M_NCORNER (sizeof bf16m_corners / sizeof bf16m_corners[0])

static _Atomic(unsigned) g_bf16m_tested, g_bf16m_bad; /* bit isa: the path was tested / failed */
static _Atomic(unsigned) g_bf16m_force;                /* test hook: bit isa fails the test */

void zt__quant_bf16m_selftest_force(unsigned isa_mask)
{
    atomic_store(&g_bf16m_force, isa_mask);
    atomic_store(&g_bf16m_bad, 0u);
    atomic_store(&g_bf16m_tested, 0u);
}

/* The corners through path isa's BF16-mode kernels: the index of the
 * first corner that differs from the definition, or -1. */
static int bf16m_corner_check(const struct zt__quant_kernels *t)
{
    for (size_t c = 0; c < BF16M_NCORNER; c++) {
        const struct bf16m_corner *k = &bf16m_corners[c];
        uint16_t w[64] = {0}, x[64] = {0};
        w[1] = zt_fp32_to_bf16_mode(k->acc_o[0]);
        x[1] = zt_fp32_to_bf16_mode(k->acc_o[1]);
        w[0] = zt_fp32_to_bf16_mode(k->acc_e[0]);
        x[0] = zt_fp32_to_bf16_mode(k->acc_e[1]);
        w[33] = zt_fp32_to_bf16_mode(k->step_o[0]);
        x[33] = zt_fp32_to_bf16_mode(k->step_o[1]);
        w[32] = zt_fp32_to_bf16_mode(k->step_e[0]);
        x[32] = zt_fp32_to_bf16_mode(k->step_e[1]);
        float want = dot_bf16m_1(64, w, x), got = -1.0f, got_mm = want;
        t->dot_bf16m(64, w, x, 0, 1, &got);
        if (t->mm_bf16m != NULL)
            t->mm_bf16m(64, w, sizeof w, 1, x, sizeof x, 1, &got_mm, 1);
        if (f2u(got) != f2u(want) || f2u(got_mm) != f2u(want))
            return (int)c;
    }
    return -1;
}

/* Whether path isa's BF16-mode kernels compute the definition on the
 * corners (tested once per path and process). */
static bool bf16m_path_ok(int isa)
{
    unsigned bit = 1u << isa;
    if (atomic_load(&g_bf16m_tested) & bit)
        return (atomic_load(&g_bf16m_bad) & bit) == 0;
    int c = bf16m_corner_check(&g_tab[isa]);
    if (c < 0 && (atomic_load(&g_bf16m_force) & bit))
        c = (int)BF16M_NCORNER; /* the hook: a forced mismatch */
    if (c >= 0 && !(atomic_fetch_or(&g_bf16m_bad, bit) & bit))
        zt_log(ZT_LOG_WARN, "bf16_hw_mismatch", "path=%s corner=%d action=\"the path below runs the BF16 mode\"",
               isa_names[isa], c);
    atomic_fetch_or(&g_bf16m_tested, bit);
    return c < 0;
}

/* The table whose BF16-mode kernels run: the path in use. Calibration
 * leaves g_isa at the newest path (vdpbf16ps does twice the fma's
 * multiply-adds per instruction, the AVX2 kernel emulates it); ZT_CPU forces
 * it like every op. The table's name is the newest path with such kernels
 * that passes the self-test above (the scalar definition always does). */
static const struct zt__quant_kernels *bf16m_table(void)
{
    (void)kernels();
    int isa = atomic_load(&g_isa);
    for (; isa > 0; isa--) {
        const struct zt__quant_kernels *own = isa_table((enum zt_quant_isa)isa);
        if (own != NULL && own->dot_bf16m != NULL && bf16m_path_ok(isa))
            break;
    }
    return &g_tab[isa];
}

size_t zt_quant_paths(char *buf, size_t cap)
{
    static const enum zt_ggml_type types[] = {ZT_GGML_F32,  ZT_GGML_F16,  ZT_GGML_BF16, ZT_GGML_Q8_0,
                                              ZT_GGML_Q4_0, ZT_GGML_Q4_K, ZT_GGML_Q6_K};
    (void)kernels();
    size_t len = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        enum zt_ggml_type t = types[i];
        int g = atomic_load(&g_choice[t][SHAPE_GEN]), p = atomic_load(&g_choice[t][SHAPE_PP]);
        char part[128];
        /* packed: the CPU backend repacks weights of t at load (quant_pack.c)
         * and both shapes run the packed kernel of the path in use */
        bool pk = zt_quant_pack_useful(t);
        if (pk)
            g = p = atomic_load(&g_isa);
        int k = snprintf(part, sizeof part, "%s%s gen=%s pp=%s%s", i ? ", " : "", zt_ggml_type_name(t),
                         isa_names[g], isa_names[p], pk ? " packed" : "");
        if (k < 0)
            break;
        if (buf != NULL && len < cap)
            snprintf(buf + len, cap - len, "%s", part);
        len += (size_t)k;
    }
    /* the BF16 mode's kernels: the path in use (its newest, or ZT_CPU's) */
    char part[64];
    int k = snprintf(part, sizeof part, ", bf16-mode=%s", bf16m_table()->name);
    if (k > 0) {
        if (buf != NULL && len < cap)
            snprintf(buf + len, cap - len, "%s", part);
        len += (size_t)k;
    }
    if (buf != NULL && cap > 0 && len == 0)
        buf[0] = '\0';
    return len;
}

void zt_fp16_to_fp32_row(const uint16_t *src, float *dst, size_t n)
{
    kernels()->fp16_to_fp32_row(src, dst, n);
}

void zt_fp32_to_fp16_row(const float *src, uint16_t *dst, size_t n)
{
    kernels()->fp32_to_fp16_row(src, dst, n);
}

/* ---- dot products ---------------------------------------------------------------------- */

enum zt_ggml_type zt_quant_vec_dot_type(enum zt_ggml_type t)
{
    switch (t) {
    case ZT_GGML_F32:
    case ZT_GGML_F16:
    case ZT_GGML_BF16: return ZT_GGML_F32;
    case ZT_GGML_Q8_0:
    case ZT_GGML_Q4_0: return ZT_GGML_Q8_0;
    case ZT_GGML_Q4_K:
    case ZT_GGML_Q6_K: return ZT_GGML_Q8_K;
    default: return ZT_GGML_TYPE_COUNT;
    }
}

static zt__quant_dot_fn dot_fn(const struct zt__quant_kernels *k, enum zt_ggml_type t)
{
    switch (t) {
    case ZT_GGML_F32: return k->dot_f32;
    case ZT_GGML_F16: return k->dot_f16;
    case ZT_GGML_BF16: return k->dot_bf16;
    case ZT_GGML_Q8_0: return k->dot_q8_0;
    case ZT_GGML_Q4_0: return k->dot_q4_0;
    case ZT_GGML_Q4_K: return k->dot_q4_k;
    case ZT_GGML_Q6_K: return k->dot_q6_k;
    default: return NULL;
    }
}

static zt__quant_mm_fn mm_fn(const struct zt__quant_kernels *k, enum zt_ggml_type t)
{
    switch (t) {
    case ZT_GGML_F32: return k->mm_f32;
    case ZT_GGML_F16: return k->mm_f16;
    case ZT_GGML_Q8_0: return k->mm_q8_0;
    case ZT_GGML_Q4_0: return k->mm_q4_0;
    default: return NULL;
    }
}

/* The kernel for batches of 8 activation rows (NULL: the 4-row tiles). */
static zt__quant_mm_fn mm8_fn(const struct zt__quant_kernels *k, enum zt_ggml_type t)
{
    switch (t) {
    case ZT_GGML_F16: return k->mm8_f16;
    case ZT_GGML_Q8_0: return k->mm8_q8_0;
    case ZT_GGML_Q4_0: return k->mm8_q4_0;
    default: return NULL;
    }
}

/* Validates t and n for a kernel: 0, or ZT_EINVAL. */
static int check_dot(enum zt_ggml_type t, size_t n)
{
    enum zt_ggml_type at = zt_quant_vec_dot_type(t);
    if (at == ZT_GGML_TYPE_COUNT)
        return ZT_EINVAL;
    if (n % type_info(t).blck != 0 || n % type_info(at).blck != 0)
        return ZT_EINVAL;
    return 0;
}

int zt_quant_activations(enum zt_ggml_type t, const float *x, void *dst, size_t n)
{
    int rc = check_dot(t, n);
    if (rc != 0)
        return rc;
    /* the path's quantiser when it has one: the scalar reference's float
     * operations lane-wise (max, one multiply, the clamp, the 1.5 * 2^23
     * rounding; the scale by the same scalar code), so the same bytes
     * (test_activation_isas); a prompt's rows cost O(n) each against the
     * O(n * rows) of the products, but the scalar loop was 7-9 % of a
     * batched step */
    enum zt_ggml_type at = zt_quant_vec_dot_type(t);
    const struct zt__quant_kernels *k = kernels();
    size_t nb = n / type_info(at).blck;
    if (at == ZT_GGML_Q8_0 && k->quant_q8_0_row) {
        k->quant_q8_0_row(x, dst, nb);
        return 0;
    }
    if (at == ZT_GGML_Q8_K && k->quant_q8_k_row) {
        k->quant_q8_k_row(x, dst, nb);
        return 0;
    }
    return zt_quant_row(at, x, dst, n);
}

int zt_quant_vec_dot(enum zt_ggml_type t, size_t n, const void *w, const void *x, float *out)
{
    int rc = check_dot(t, n);
    if (rc != 0)
        return rc;
    dot_fn(kernels(), t)(n, w, x, 0, 1, out);
    return 0;
}

int zt_quant_matmul_rows(enum zt_ggml_type type, const void *W, size_t row_bytes,
                         size_t row_begin, size_t row_end, const void *X_q, size_t x_row_bytes,
                         size_t batch, float *out, size_t out_stride, size_t n)
{
    int rc = check_dot(type, n);
    if (rc != 0)
        return rc;
    size_t wb = 0, xb = 0;
    if (zt_quant_row_bytes(type, n, &wb) != 0 ||
        zt_quant_row_bytes(zt_quant_vec_dot_type(type), n, &xb) != 0)
        return ZT_EINVAL;
    if (row_begin > row_end || (row_end > row_begin && row_bytes < wb) ||
        (batch > 1 && (x_row_bytes < xb || out_stride < row_end)))
        return ZT_EINVAL;
    (void)kernels();
    int isa = atomic_load_explicit(&g_choice[type][batch > 1 ? SHAPE_PP : SHAPE_GEN], memory_order_relaxed);
    matmul_with(&g_tab[isa], type, W, row_bytes, row_begin, row_end, X_q, x_row_bytes, batch, out,
                out_stride, n);
    return 0;
}

void zt_quant_vec_dot_bf16(size_t n, const uint16_t *w, const uint16_t *x, float *out)
{
    bf16m_table()->dot_bf16m(n, w, x, 0, 1, out);
}

int zt_quant_matmul_bf16(const uint16_t *W, size_t row_bytes, size_t row_begin, size_t row_end,
                         const uint16_t *X, size_t x_row_bytes, size_t batch, float *out,
                         size_t out_stride, size_t n)
{
    size_t wb = n * sizeof(uint16_t);
    if (row_begin > row_end || (row_end > row_begin && row_bytes < wb) ||
        (batch > 1 && (x_row_bytes < wb || out_stride < row_end)))
        return ZT_EINVAL;
    const struct zt__quant_kernels *kt = bf16m_table();
    matmul_fns(kt->dot_bf16m, kt->mm_bf16m, 4, W, row_bytes, row_begin, row_end, X, x_row_bytes, batch, out,
               out_stride, n);
    return 0;
}

static void matmul_with(const struct zt__quant_kernels *kt, enum zt_ggml_type type, const void *W,
                        size_t row_bytes, size_t row_begin, size_t row_end, const void *X_q,
                        size_t x_row_bytes, size_t batch, float *out, size_t out_stride, size_t n)
{
    /* the 8-row tile from 8 activation rows on: below, each weight vector
     * feeds fewer rows and the tile's two half-passes over a weight line
     * read from memory slowly (one row, generation: 46 against 134 tokens/s
     * on the Zen 4), so smaller batches keep the 4-row tiles and the dots */
    zt__quant_mm_fn mm8 = batch >= 8 ? mm8_fn(kt, type) : NULL;
    matmul_fns(dot_fn(kt, type), mm8 ? mm8 : mm_fn(kt, type), mm8 ? 8 : 4, W, row_bytes, row_begin,
               row_end, X_q, x_row_bytes, batch,
               out, out_stride, n);
}

/* tile: the activation rows an mm call takes (4, or 8 for mm8_f16); the
 * dot kernel takes 4 */
static void matmul_fns(zt__quant_dot_fn fn, zt__quant_mm_fn mm, size_t tile, const void *W, size_t row_bytes,
                       size_t row_begin, size_t row_end, const void *X_q, size_t x_row_bytes, size_t batch,
                       float *out, size_t out_stride, size_t n)
{
    /* Rows in chunks of about 64 KiB of weights (stay in L2) while every
     * 4-row tile of the batch streams past them: weights are unpacked once
     * per 4 activation rows (and, with a blocked kernel, activations are
     * loaded once per few weight rows). The tile shape never changes the
     * arithmetic. */
    /* whole tiles of the blocked kernels (3 weight rows for F32/F16, 2 for
     * Q8_0/Q4_0 on AVX2): a chunk of 16 rows left one row in 16 to the dot
     * kernel (the F16 down projection of the benchmark model, n = 2048) */
    size_t chunk = row_bytes ? (64u * 1024u) / row_bytes : 1;
    if (chunk < 6)
        chunk = 6;
    chunk -= chunk % (chunk >= 12 ? 12 : 6);
    for (size_t r0 = row_begin; r0 < row_end; r0 += chunk) {
        size_t r1 = row_end - r0 < chunk ? row_end : r0 + chunk;
        size_t step = mm != NULL ? tile : 4;
        for (size_t b = 0; b < batch; b += step) {
            size_t nx = batch - b < step ? batch - b : step;
            const char *xb0 = (const char *)X_q + b * x_row_bytes;
            if (mm != NULL) {
                mm(n, (const char *)W + r0 * row_bytes, row_bytes, r1 - r0, xb0, x_row_bytes, nx,
                   out + b * out_stride + r0, out_stride);
                continue;
            }
            for (size_t r = r0; r < r1; r++) {
                float res[4];
                fn(n, (const char *)W + r * row_bytes, xb0, x_row_bytes, nx, res);
                for (size_t k = 0; k < nx; k++)
                    out[(b + k) * out_stride + r] = res[k];
            }
        }
    }
}
