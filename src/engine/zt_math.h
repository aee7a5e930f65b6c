/* zt_math.h: the engine's own transcendental functions (internal to
 * src/engine, its backends and tests). docs/internals/engine.md, "The
 * engine's math", has the accuracy table and the denormal policy.
 *
 * Workers run different C libraries, and libm's expf/sinf/cosf/pow/log
 * differ between them in the last bits; a forward pass that called them
 * would give different logits on two workers with the same build id. These
 * functions use only IEEE +, -, *, / (correctly rounded everywhere) and
 * integer bit operations, in a fixed order, compiled with
 * -ffp-contract=off (no FMA fusing), so they give the same bits on every
 * machine. sqrtf stays libm's: IEEE 754 requires it correctly rounded, and
 * SSE/AVX compute it in one instruction.
 *
 * Denormal policy (ZT_MATH_VERSION 1): inputs are taken at their IEEE
 * values (the engine never sets FTZ/DAZ); the exponentials never return a
 * subnormal: a result below the smallest normal is +0. Overflow gives +inf,
 * NaN gives NaN. The Vulkan shaders compute zt__expf in the same order
 * (shaders/common.glsl, zt_expf) with the same flush, so a device that
 * flushes subnormals itself still agrees.
 *
 * ZT_MATH_VERSION is part of the engine build id: change it with any change
 * to these functions' results. */
#ifndef ZT_ENGINE_ZT_MATH_H
#define ZT_ENGINE_ZT_MATH_H

#include <stdint.h>
#include <string.h>

#define ZT_MATH_VERSION "m1"

static inline float zt__f32_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t zt__f32_u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* e^x in float, within 1 ulp of the true value (test_zt_math sweeps it).
 * n = round(x / ln 2) by the 1.5 * 2^23 trick, r = x - n ln2 in two parts
 * (Cody-Waite; n * ln2_hi is exact), e^r by Cephes' degree-6 polynomial in
 * Horner form, then 2^n as two exact power-of-two factors. Inline: softmax
 * and SwiGLU call it per element (and gcc may vectorise those loops: the
 * same operations in the same order, the same bits). */
static inline float zt__expf(float x)
{
    if (x != x) return x + x;
    if (x > 88.72283935546875f) return zt__f32_bits(0x7f800000u);
    if (x < -87.5f) return 0.0f;
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float kn = (x * 1.44269502162933349609375f + magic) - magic;
    int n = (int)kn;
    float r = (x - kn * 0.693145751953125f) - kn * 1.428606765330187045e-06f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = (p * (r * r) + r) + 1.0f;
    int n1 = n / 2, n2 = n - n1;
    float y = (p * zt__f32_bits((uint32_t)(n1 + 127) << 23)) * zt__f32_bits((uint32_t)(n2 + 127) << 23);
    return y < 1.17549435082228750797e-38f ? 0.0f : y;
}

/* sin and cos of a float, computed in double and rounded once: within
 * 1 ulp (nearly always correctly rounded) for |x| < 1.6e6, deterministic
 * beyond (RoPE angles are pos * inv_freq, below that for contexts < 1.6M). */
void zt__sincosf(float x, float *s, float *c);

/* e^x and ln x in double, within a few ulp (the sampler's probabilities,
 * the RoPE table); the same denormal policy (a subnormal result is +0, a
 * subnormal input to zt__log is taken at its value). */
double zt__exp(double x);
double zt__log(double x);
/* base^e for base > 0, as zt__exp(e * zt__log(base)) */
double zt__pow(double base, double e);

#endif
