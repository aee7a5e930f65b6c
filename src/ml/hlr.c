/* hlr.c: hashed-feature logistic regression at run time (zt_ml.h): parsing
 * a model file and the margin of a sum of weights. Training is in
 * hlr_train.c. */
#include <math.h>
#include <string.h>

#include "zentalk/zt_endian.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_ml.h"

int zt_hlr_parse(const void *data, size_t len, struct zt_hlr *out)
{
    const uint8_t *p = data;
    if (len < ZT_HLR_HEADER || memcmp(p, "ZTLC", 4) != 0 || zt_get_le32(p + 4) != 1) return ZT_EPARSE;
    uint32_t log2 = zt_get_le32(p + 8);
    if (log2 < ZT_HLR_MIN_LOG2 || log2 > ZT_HLR_MAX_LOG2 || len != ZT_HLR_HEADER + ((size_t)1 << log2))
        return ZT_EPARSE;
    struct zt_hlr m = {
        .log2 = log2,
        .mask = (1u << log2) - 1,
        .n_examples = zt_get_le32(p + 12),
        .bias = zt_get_le_f64(p + 16),
        .scale = zt_get_le_f64(p + 24),
        .threshold = zt_get_le_f64(p + 32),
        .w = (const int8_t *)(p + ZT_HLR_HEADER),
    };
    if (!isfinite(m.bias) || !isfinite(m.scale) || !isfinite(m.threshold) || m.scale < 0) return ZT_EPARSE;
    *out = m;
    return 0;
}

double zt_hlr_margin(const struct zt_hlr *m, int64_t q, size_t n)
{
    return n ? m->bias + m->scale * (double)q / sqrt((double)n) - m->threshold : -1e9;
}
