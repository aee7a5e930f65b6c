/* zt_math.c: the engine's own sin/cos, exp and log (zt_math.h says why).
 * Only +, -, *, / and integer bit operations, in the order written; the
 * engine is compiled with -ffp-contract=off, and nothing here depends on
 * the C library's math. Coefficients: fdlibm's __kernel_sin/__kernel_cos
 * (Sun Microsystems, freely redistributable) for sin/cos, Taylor series for
 * exp and log. */
#include "zt_math.h"

#include <float.h>

static double f64_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static uint64_t f64_u(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* 2^n for -1022 <= n <= 1023 */
static double pow2i(int n)
{
    return f64_bits((uint64_t)(n + 1023) << 52);
}

static double ksin(double r)
{
    double z = r * r;
    double p = 1.58969099521155010221e-10;
    p = p * z + -2.50507602534068634195e-08;
    p = p * z + 2.75573137070700676789e-06;
    p = p * z + -1.98412698298579493134e-04;
    p = p * z + 8.33333333332248946124e-03;
    p = p * z + -1.66666666666666324348e-01;
    return r + (r * z) * p;
}

static double kcos(double r)
{
    double z = r * r;
    double p = -1.13596475577881948265e-11;
    p = p * z + 2.08757232129817482790e-09;
    p = p * z + -2.75573143513906633035e-07;
    p = p * z + 2.48015872894767294178e-05;
    p = p * z + -1.38888888888741095749e-03;
    p = p * z + 4.16666666666666019037e-02;
    return (1.0 - 0.5 * z) + (z * z) * p;
}

void zt__sincosf(float x, float *s, float *c)
{
    if (x != x || x - x != 0.0f) { /* NaN or infinity */
        *s = *c = x - x;
        return;
    }
    double xd = x;
    /* n = round(x * 2/pi); r = x - n pi/2 in three parts (fdlibm's pio2_1,
     * pio2_2, pio2_2t: 33 + 33 + 53 bits, n * part exact for |n| < 2^20). */
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    double fn = (xd * 6.36619772367581382433e-01 + magic) - magic;
    double r = ((xd - fn * 1.57079632673412561417e+00) - fn * 6.07710050630396597660e-11) -
               fn * 2.02226624879595063154e-21;
    double sr = ksin(r), cr = kcos(r);
    int64_t n = (int64_t)fn;
    switch ((int)(n & 3)) {
    case 0: *s = (float)sr; *c = (float)cr; break;
    case 1: *s = (float)cr; *c = (float)-sr; break;
    case 2: *s = (float)-sr; *c = (float)-cr; break;
    default: *s = (float)-cr; *c = (float)sr; break;
    }
}

double zt__exp(double x)
{
    if (x != x) return x + x;
    if (x > 709.782712893383973096) return f64_bits(0x7ff0000000000000ull);
    if (x < -708.5) return 0.0;
    const double magic = 6755399441055744.0;
    double kn = (x * 1.44269504088896338700e+00 + magic) - magic;
    int n = (int)kn;
    /* fdlibm's ln2_hi (32 bits: kn * ln2_hi exact) and ln2_lo */
    double r = (x - kn * 6.93147180369123816490e-01) - kn * 1.90821492927058770002e-10;
    /* Taylor to r^13 (|r| <= 0.347: the next term is below 2^-57) */
    double p = 1.0 / 6227020800.0;
    static const double inv_fact[] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                      1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,     1.0 / 120.0,
                                      1.0 / 24.0,        1.0 / 6.0,        0.5,             1.0};
    for (size_t i = 0; i < sizeof inv_fact / sizeof inv_fact[0]; i++) p = p * r + inv_fact[i];
    p = p * r + 1.0;
    int n1 = n / 2, n2 = n - n1;
    double y = (p * pow2i(n1)) * pow2i(n2);
    return y < DBL_MIN ? 0.0 : y;
}

double zt__log(double x)
{
    if (x != x) return x + x;
    if (x < 0.0) return (x - x) / 0.0; /* NaN */
    if (x == 0.0) return -1.0 / 0.0;
    if (x - x != 0.0) return x; /* +inf */
    int k = 0;
    uint64_t u = f64_u(x);
    if ((u >> 52) == 0) { /* subnormal: scale up exactly */
        x *= 18014398509481984.0; /* 2^54 */
        k = -54;
        u = f64_u(x);
    }
    k += (int)(u >> 52) - 1023;
    double m = f64_bits((u & 0x000fffffffffffffull) | 0x3ff0000000000000ull); /* [1, 2) */
    if (m > 1.41421356237309504880) {
        m = m * 0.5;
        k++;
    }
    /* ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716; the series
     * to s^25 (the next term is below 2^-60 relative) */
    double f = m - 1.0, s = f / (2.0 + f), z = s * s;
    double p = 1.0 / 25.0;
    for (int j = 23; j >= 3; j -= 2) p = p * z + 1.0 / (double)j;
    double lnm = 2.0 * s + (2.0 * s) * (z * p);
    double kd = k;
    return (kd * 6.93147180369123816490e-01 + lnm) + kd * 1.90821492927058770002e-10;
}

double zt__pow(double base, double e)
{
    return zt__exp(e * zt__log(base));
}
