// common.glsl: bindings, push constants and exact conversions shared by the
// compute shaders of the Vulkan backend (src/engine/vulkan/vulkan_backend.c).
// Every buffer is bound as an array of uint and read by byte offset, so
// tensors at any offset and weights of any row size need no alignment
// beyond their element size. Float expressions whose rounding must match
// the CPU are marked `precise` (no contraction into FMA, no reassociation).
#extension GL_GOOGLE_include_directive : require

layout(set = 0, binding = 0) buffer B0 { uint d[]; } b0;
layout(set = 0, binding = 1) buffer B1 { uint d[]; } b1;
layout(set = 0, binding = 2) buffer B2 { uint d[]; } b2;
layout(set = 0, binding = 3) buffer B3 { uint d[]; } b3;
layout(set = 0, binding = 4) buffer B4 { uint d[]; } b4;
layout(set = 0, binding = 5) buffer B5 { uint d[]; } b5;

layout(push_constant) uniform PC { uint u[32]; } pc;

#define F(buf, i) uintBitsToFloat(buf.d[i])

// IEEE half (low 16 bits of h) to float, exactly as zt_fp16_to_fp32
float half_to_float(uint h)
{
    uint sign = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu;
    uint mant = h & 0x3ffu;
    if (e == 0u) {
        precise float f = float(mant) * uintBitsToFloat(0x33800000u); // 2^-24
        return uintBitsToFloat(floatBitsToUint(f) | sign);
    }
    if (e == 31u) return uintBitsToFloat(sign | 0x7f800000u | (mant << 13) | (mant != 0u ? 0x00400000u : 0u));
    return uintBitsToFloat(sign | ((e + 112u) << 23) | (mant << 13));
}

// float to IEEE half bits, round to nearest even, exactly as zt_fp32_to_fp16
uint float_to_half(float f)
{
    uint x = floatBitsToUint(f);
    uint sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return sign | 0x7e00u | ((x >> 13) & 0x3ffu);
    if (x >= 0x477ff000u) return sign | 0x7c00u;
    if (x < 0x38800000u) {
        precise float t = uintBitsToFloat(x) * 16777216.0 + 8388608.0;
        return sign | (floatBitsToUint(t) - 0x4b000000u);
    }
    x = x - 0x38000000u + 0xfffu + ((x >> 13) & 1u);
    return sign | (x >> 13);
}

// The deterministic mode: every shader with an fma, a division, a square
// root or an exp is also built with ZT_EXACT (the *_emu modules, for
// devices with shaderFloat64), where those are computed to the CPU's bits;
// the fast mode (the plain modules) uses the device's own.
//
// fma(a, b, c) with one rounding. Vulkan lets a device compute fma() as a
// multiply and an add (lavapipe does), so the matrix shaders use zt_fma:
// the real fma() in the fast mode, or, built with ZT_EXACT, an exact
// emulation: the product is exact
// in double; the sum is rounded to odd (TwoSum gives its error; an inexact
// sum with an even last bit moves one ulp towards the exact value), and
// rounding that to float is then the correctly rounded a * b + c (Boldo and
// Melquiond, "Emulation of FMA and correctly rounded sums", 2008).
#ifdef ZT_EXACT
float zt_fma(float a, float b, float c)
{
    precise double p = double(a) * double(b);
    precise double cd = double(c);
    precise double s = p + cd;
    precise double bb = s - p;
    precise double e = (p - (s - bb)) + (cd - bb);
    if (e != 0.0) {
        uvec2 u = unpackDouble2x32(s);
        if ((u.x & 1u) == 0u) {
            if ((e > 0.0) == (s > 0.0)) {
                u.x += 1u; // even: no carry
            } else {
                if (u.x == 0u) u.y -= 1u;
                u.x -= 1u;
            }
            s = packDouble2x32(u);
        }
    }
    return float(s);
}

// a / b correctly rounded (Vulkan allows 2.5 ulp for a float division):
// the quotient in double (far below a float ulp off), rounded to float, then
// moved to the neighbour on the right side of the midpoints, which are
// checked exactly in double (a midpoint has 25 bits, b 24: the product is
// exact). A quotient of floats is never a midpoint, so there are no ties.
// b is finite and non-zero, or +-inf (a finite: +-0).
float zt_div(float a, float b)
{
    if (isinf(b)) return uintBitsToFloat((floatBitsToUint(a) ^ floatBitsToUint(b)) & 0x80000000u);
    precise double q = double(a) / double(b);
    float f = float(q);
    if (f == 0.0 || isinf(f) || isnan(f)) return f;
    uint sgn = floatBitsToUint(f) & 0x80000000u, u = floatBitsToUint(f) & 0x7fffffffu;
    precise double ad = abs(double(a)), bd = abs(double(b)), fd = double(uintBitsToFloat(u));
    precise double lo = (fd + double(uintBitsToFloat(u - 1u))) * 0.5;
    precise double hi = (fd + double(uintBitsToFloat(u + 1u))) * 0.5;
    precise double lob = lo * bd, hib = hi * bd;
    if (ad < lob) u = u - 1u;
    else if (ad > hib) u = u + 1u;
    return uintBitsToFloat(sgn | u);
}

// sqrt(m) correctly rounded (Vulkan's sqrt is an approximation), for m > 0
// finite: the same neighbour check against the squared midpoints (50 bits,
// exact in double).
float zt_sqrt(float m)
{
    precise double s = sqrt(double(m));
    float f = float(s);
    if (!(f > 0.0) || isinf(f)) return f;
    uint u = floatBitsToUint(f);
    precise double md = double(m), fd = double(f);
    precise double lo = (fd + double(uintBitsToFloat(u - 1u))) * 0.5;
    precise double hi = (fd + double(uintBitsToFloat(u + 1u))) * 0.5;
    precise double lo2 = lo * lo, hi2 = hi * hi;
    if (md < lo2) u = u - 1u;
    else if (md > hi2) u = u + 1u;
    return uintBitsToFloat(u);
}
#define ZT_EXP(x) zt_expf(x)
#else
float zt_fma(float a, float b, float c) { return fma(a, b, c); }
#define zt_div(a, b) ((a) / (b))
#define zt_sqrt(m) sqrt(m)
#define ZT_EXP(x) exp(x)
#endif

// ---- activation quantisers (quant_q8.comp, quant_q8k.comp) ----
// amax of n floats of b0 from xo, as the CPU's absmax (NaN never wins)
float absmax0(uint xo, uint n)
{
    float m = 0.0;
    for (uint i = 0u; i < n; i++) {
        float a = abs(F(b0, xo + i));
        m = a > m ? a : m;
    }
    return m;
}

// 4 codes round-half-even(x * id) clamped to +-127, packed low byte first
uint q8_word(uint xo, float id)
{
    uint word = 0u;
    for (uint k = 0u; k < 4u; k++) {
        precise float v = F(b0, xo + k) * id;
        v = v > -127.0 ? v : -127.0;
        v = v < 127.0 ? v : 127.0;
        precise float rr = (v + 12582912.0) - 12582912.0;
        word |= (uint(int(rr)) & 0xffu) << (8u * k);
    }
    return word;
}

// ---- k-quant weight decoding (docs/internals/quant.md) ----
uint byte0(uint off) { return (b0.d[off >> 2] >> (8u * (off & 3u))) & 0xffu; }

// Q4_K sub-block j (0..7) of the block at byte wb: 6-bit scale and min
void q4k_scale_min(uint wb, uint j, out int sc, out int m)
{
    uint s = wb + 4u;
    if (j < 4u) {
        sc = int(byte0(s + j) & 63u);
        m = int(byte0(s + j + 4u) & 63u);
    } else {
        sc = int((byte0(s + j + 4u) & 15u) | ((byte0(s + j - 4u) >> 6) << 4));
        m = int((byte0(s + j + 4u) >> 4) | ((byte0(s + j) >> 6) << 4));
    }
}

// Q4_K element e of the block at wb: the unsigned 4-bit code
uint q4k_code(uint wb, uint e)
{
    uint j = e / 32u, q = byte0(wb + 16u + 32u * (j / 2u) + e % 32u);
    return (j & 1u) != 0u ? q >> 4 : q & 15u;
}

// Q6_K element e = 128h + 32k + l of the block at wb: the unsigned 6-bit code
uint q6k_code(uint wb, uint e)
{
    uint h = e / 128u, k = (e / 32u) % 4u, l = e % 32u;
    uint lo = byte0(wb + 64u * h + l + 32u * (k & 1u));
    lo = k < 2u ? lo & 15u : lo >> 4;
    uint hi = (byte0(wb + 128u + 32u * h + l) >> (2u * k)) & 3u;
    return lo | (hi << 4);
}

int q6k_scale(uint wb, uint g) { return int(byte0(wb + 192u + g) << 24) >> 24; }

// e^x exactly as the engine's zt__expf (src/engine/zt_math.h): the same
// constants (as bit patterns, so no decimal parsing can move them), the
// same operations in the same order, every one `precise`, and the same
// flush of results below the smallest normal to +0 (so a device that
// flushes subnormals itself still agrees). Add and multiply are correctly
// rounded in Vulkan, so the result is the CPU's bit for bit.
float zt_expf(float x)
{
    if (isnan(x)) return x;
    if (x > uintBitsToFloat(0x42b17218u)) return uintBitsToFloat(0x7f800000u);
    if (x < uintBitsToFloat(0xc2af0000u)) return 0.0;
    const float magic = uintBitsToFloat(0x4b400000u); // 1.5 * 2^23
    precise float t = x * uintBitsToFloat(0x3fb8aa3bu);
    precise float t2 = t + magic;
    precise float kn = t2 - magic;
    int n = int(kn);
    precise float h = kn * uintBitsToFloat(0x3f317200u);
    precise float l = kn * uintBitsToFloat(0x35bfbe8eu);
    precise float r = (x - h) - l;
    precise float p = uintBitsToFloat(0x39506967u);
    p = p * r + uintBitsToFloat(0x3ab743ceu);
    p = p * r + uintBitsToFloat(0x3c088908u);
    p = p * r + uintBitsToFloat(0x3d2aa9c1u);
    p = p * r + uintBitsToFloat(0x3e2aaaaau);
    p = p * r + 0.5;
    precise float rr = r * r;
    p = (p * rr + r) + 1.0;
    int n1 = n / 2, n2 = n - n1;
    precise float y = (p * uintBitsToFloat(uint(n1 + 127) << 23)) * uintBitsToFloat(uint(n2 + 127) << 23);
    return y < uintBitsToFloat(0x00800000u) ? 0.0 : y;
}
