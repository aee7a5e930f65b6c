/* zt_ml.h: hashed-feature logistic regression, the small learned models of
 * the messaging features (src/features/learned.h: chat scams, harassment)
 * and of PII detection (person names in context, src/privacy). A text or a
 * token becomes a set of 64-bit feature hashes (the caller's business); the
 * model is one int8 weight per bucket (hash mod 2^log2), a bias and a scale.
 * Training is deterministic: the same examples give the same bytes on
 * every IEEE-754 machine, so a committed model file can be checked against
 * its tuning data byte for byte.
 *
 * Model file v1 (little-endian):
 *   0 "ZTLC" | 4 u32 version (1) | 8 u32 buckets_log2 | 12 u32 n_examples
 *   | 16 f64 bias | 24 f64 scale | 32 f64 threshold (decision logit)
 *   | 40 i8 weights[2^buckets_log2]   (weight = q * scale)
 * logit = bias + scale * sum(q[h & mask]) / sqrt(n) over the n features.
 *
 * Thread safety: a parsed model is read-only; scoring from many threads is
 * fine. Training allocates and is single-threaded per call. */
#ifndef ZENTALK_ZT_ML_H
#define ZENTALK_ZT_ML_H

#include <stddef.h>
#include <stdint.h>

#define ZT_HLR_HEADER 40u
#define ZT_HLR_MIN_LOG2 8u
#define ZT_HLR_MAX_LOG2 24u

struct zt_hlr {
    uint32_t log2, mask, n_examples;
    double bias, scale, threshold;
    const int8_t *w; /* points into the parsed bytes */
};

/* A view of the model file data[0..len) (kept alive by the caller).
 * ZT_EPARSE. */
int zt_hlr_parse(const void *data, size_t len, struct zt_hlr *out);

/* The quantised weight of feature hash h. */
static inline int zt_hlr_q(const struct zt_hlr *m, uint64_t h)
{
    return m->w[h & m->mask];
}

/* The logit minus the decision threshold for n features whose quantised
 * weights sum to q: >= 0 means yes. No features (n == 0): -1e9, never yes. */
double zt_hlr_margin(const struct zt_hlr *m, int64_t q, size_t n);

struct zt_hlr_params {
    uint32_t log2, epochs;
    double lr, l2;
    double pos_weight; /* gradient weight of positive examples */
    double threshold;  /* decision logit written into the file */
    uint64_t seed;     /* order of the examples in each epoch */
};

/* Train on n examples: example i has the feature hashes h[start[i] ..
 * start[i+1]) (start has n + 1 entries) and label[i] (1 yes, 0 no).
 * Logistic regression, AdaGrad steps, L2 on the touched weights, a
 * fixed-seed shuffle per epoch, weights quantised to int8; the model file
 * is written into *out (zt_malloc'd). ZT_EINVAL, ZT_ENOMEM. */
int zt_hlr_train(const uint64_t *h, const size_t *start, const uint8_t *label, size_t n,
                 const struct zt_hlr_params *p, uint8_t **out, size_t *out_len);

#endif
