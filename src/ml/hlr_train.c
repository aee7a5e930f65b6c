/* hlr_train.c: the deterministic trainer of hashed-feature logistic
 * regression (zt_ml.h). Only + - * / sqrt floor and ldexp are used (all
 * exact or correctly rounded in IEEE-754, and this file is built with
 * -ffp-contract=off), so the same examples give the same bytes everywhere. */
#include <math.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_ml.h"

/* exp(x) from + - * / floor and ldexp only: x = k ln2 + r, |r| <= ln2/2,
 * e^r by its Taylor series to r^13 (error below 1e-16 there). */
static double det_exp(double x)
{
    if (x > 700.0) x = 700.0;
    if (x < -700.0) x = -700.0;
    static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double k = floor(x / 0.6931471805599453 + 0.5);
    double r = (x - k * ln2_hi) - k * ln2_lo;
    double s = 1.0;
    for (int i = 13; i >= 1; i--) s = 1.0 + s * r / (double)i;
    return ldexp(s, (int)k);
}

static double sigmoid(double z)
{
    return 1.0 / (1.0 + det_exp(-z));
}

int zt_hlr_train(const uint64_t *h, const size_t *start, const uint8_t *label, size_t n,
                 const struct zt_hlr_params *p, uint8_t **out, size_t *out_len)
{
    if (!h || !start || !label || !n || !p || p->log2 < ZT_HLR_MIN_LOG2 || p->log2 > ZT_HLR_MAX_LOG2 ||
        n > UINT32_MAX)
        return ZT_EINVAL;
    size_t nb = (size_t)1 << p->log2;
    uint64_t mask = nb - 1;
    size_t *order = zt_calloc(n, sizeof *order);
    double *w = zt_calloc(nb, sizeof *w), *g2 = zt_calloc(nb, sizeof *g2);
    uint8_t *file = zt_calloc(ZT_HLR_HEADER + nb, 1);
    int rc = ZT_ENOMEM;
    if (!order || !w || !g2 || !file) goto out;
    for (size_t i = 0; i < n; i++) order[i] = i;
    double bias = 0.0, gb = 0.0;
    const double eps = 1e-8;
    uint64_t seed = p->seed;
    for (uint32_t ep = 0; ep < p->epochs; ep++) {
        for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
            size_t j = (size_t)(zt_splitmix64(&seed) % (uint64_t)(i + 1));
            size_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (size_t oi = 0; oi < n; oi++) {
            size_t i = order[oi];
            size_t a = start[i], b = start[i + 1];
            double x = b > a ? 1.0 / sqrt((double)(b - a)) : 0.0;
            double s = 0.0;
            for (size_t k = a; k < b; k++) s += w[h[k] & mask];
            double y = label[i] ? 1.0 : 0.0;
            double g = sigmoid(bias + x * s) - y;
            if (label[i]) g *= p->pos_weight;
            for (size_t k = a; k < b; k++) {
                size_t j = (size_t)(h[k] & mask);
                double gk = g * x + p->l2 * w[j];
                g2[j] += gk * gk;
                w[j] -= p->lr * gk / (sqrt(g2[j]) + eps);
            }
            gb += g * g;
            bias -= p->lr * g / (sqrt(gb) + eps);
        }
    }
    double maxw = 0.0;
    for (size_t j = 0; j < nb; j++) maxw = fabs(w[j]) > maxw ? fabs(w[j]) : maxw;
    double scale = maxw > 0 ? maxw / 127.0 : 1.0;
    for (size_t j = 0; j < nb; j++) {
        double q = floor(w[j] / scale + 0.5);
        if (q > 127) q = 127;
        if (q < -127) q = -127;
        file[ZT_HLR_HEADER + j] = (uint8_t)(int8_t)q;
    }
    memcpy(file, "ZTLC", 4);
    zt_put_le32(file + 4, 1);
    zt_put_le32(file + 8, p->log2);
    zt_put_le32(file + 12, (uint32_t)n);
    zt_put_le_f64(file + 16, bias);
    zt_put_le_f64(file + 24, scale);
    zt_put_le_f64(file + 32, p->threshold);
    *out = file;
    *out_len = ZT_HLR_HEADER + nb;
    file = NULL;
    rc = 0;
out:
    zt_free(order);
    zt_free(w);
    zt_free(g2);
    zt_free(file);
    return rc;
}
