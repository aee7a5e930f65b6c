/* sampler.c: deterministic sampling. See zt_sampler.h. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_sampler.h"
#include "zt_math.h"

struct cand {
    int32_t id;
    float logit;
};

struct zt_sampler {
    struct zt_sampler_params p;
    struct zt_logit_bias *bias;  /* owned copy; the arrays live in the sampler's own block */
    uint32_t n_vocab;
    int32_t *history;            /* accepted tokens (ring of at most hist_cap) */
    size_t hist_len, hist_cap, n_accepted;
    uint64_t n_generated;        /* tokens accepted with logits: the draw position */
    uint32_t *counts;            /* occurrences of each token in the whole history */
    uint32_t *stamp;             /* de-duplicates the repetition window */
    uint32_t stamp_gen;
    struct cand *cands;          /* n_vocab scratch */
    uint8_t hash[ZT_SAMPLER_HASH_LEN];
};

void zt_sampler_params_default(struct zt_sampler_params *p)
{
    memset(p, 0, sizeof *p);
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
}

/* ---- random numbers: splitmix64 seeding, xoshiro256** ------------------- */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* The draw for generated position pos (0-based: the number of tokens
 * accepted with logits before it): a generator seeded from (seed, pos)
 * alone, so the sampler's state at token N is reconstructible from the
 * N tokens (a resumed or verifying worker replays them; WIRE.md). Uniform
 * double in [0, 1) from the top 53 bits of its first output. */
static double draw_at(uint64_t seed, uint64_t pos)
{
    uint64_t s[4], x = seed ^ (pos * 0xD6E8FEB86659FD93ull);
    for (int i = 0; i < 4; i++) s[i] = zt_splitmix64(&x);
    return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

/* ---- lifecycle ---------------------------------------------------------- */

int zt_sampler_new(const struct zt_sampler_params *p, uint32_t n_vocab, struct zt_sampler **out)
{
    if (n_vocab == 0 || !(p->temperature >= 0.0f) || !isfinite(p->temperature) || !(p->top_p > 0.0f) ||
        isnan(p->min_p) || !(p->min_p <= 1.0f) || !(p->repeat_penalty > 0.0f) || !isfinite(p->repeat_penalty) ||
        !isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty) || p->repeat_last_n < -1 ||
        (p->n_logit_bias && !p->logit_bias) || p->n_logit_bias > n_vocab)
        return ZT_EINVAL;
    for (size_t i = 0; i < p->n_logit_bias; i++)
        if (p->logit_bias[i].token < 0 || (uint32_t)p->logit_bias[i].token >= n_vocab ||
            isnan(p->logit_bias[i].bias) || p->logit_bias[i].bias == INFINITY)
            return ZT_EINVAL;
    /* One block: the sampler, then its n_vocab scratch (cands, counts,
     * stamp), the history ring and the owned logit-bias copy. The struct's
     * size keeps malloc's alignment and every array holds 4-byte items. */
    size_t hist_cap = p->repeat_last_n > 0 ? (size_t)p->repeat_last_n : 0;
    size_t part[3], size = sizeof(struct zt_sampler);
    if (zt_mul_size(n_vocab, sizeof(struct cand) + 2 * sizeof(uint32_t), &part[0]) ||
        zt_mul_size(hist_cap, sizeof(int32_t), &part[1]) ||
        zt_mul_size(p->n_logit_bias, sizeof(struct zt_logit_bias), &part[2]))
        return ZT_ENOMEM;
    for (size_t i = 0; i < 3; i++) {
        if (part[i] > SIZE_MAX - size) return ZT_ENOMEM;
        size += part[i];
    }
    struct zt_sampler *s = zt_calloc(1, size);
    if (!s) return ZT_ENOMEM;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->hist_cap = hist_cap;
    s->cands = (struct cand *)(void *)(s + 1);
    s->counts = (uint32_t *)(void *)(s->cands + n_vocab);
    s->stamp = s->counts + n_vocab;
    s->history = hist_cap ? (int32_t *)(void *)(s->stamp + n_vocab) : NULL;
    s->bias = p->n_logit_bias ? (struct zt_logit_bias *)(void *)(s->stamp + n_vocab + hist_cap) : NULL;
    if (p->n_logit_bias) memcpy(s->bias, p->logit_bias, p->n_logit_bias * sizeof *s->bias);
    s->p.logit_bias = s->bias;

    /* h0 binds every parameter that changes the output */
    uint8_t init[14 + 4 * 10 + 8];
    size_t n = 0;
    memcpy(init, "zentalk-seq-v1", 14);
    n = 14;
    const float fs[] = {p->temperature, p->top_p, p->min_p, p->repeat_penalty, p->frequency_penalty,
                        p->presence_penalty};
    for (size_t i = 0; i < 6; i++, n += 4) zt_put_le32(init + n, zt__f32_u(fs[i]));
    zt_put_le32(init + n, (uint32_t)p->top_k), n += 4;
    zt_put_le32(init + n, (uint32_t)p->repeat_last_n), n += 4;
    zt_put_le32(init + n, n_vocab), n += 4;
    zt_put_le32(init + n, (uint32_t)p->n_logit_bias), n += 4;
    zt_put_le32(init + n, (uint32_t)p->seed), n += 4;
    zt_put_le32(init + n, (uint32_t)(p->seed >> 32)), n += 4;
    zt_ignore(zt_blake2b(s->hash, sizeof s->hash, init, n, NULL, 0));
    for (size_t i = 0; i < p->n_logit_bias; i++) {
        uint8_t link[ZT_SAMPLER_HASH_LEN + 8];
        memcpy(link, s->hash, ZT_SAMPLER_HASH_LEN);
        zt_put_le32(link + ZT_SAMPLER_HASH_LEN, (uint32_t)p->logit_bias[i].token);
        zt_put_le32(link + ZT_SAMPLER_HASH_LEN + 4, zt__f32_u(p->logit_bias[i].bias));
        zt_ignore(zt_blake2b(s->hash, sizeof s->hash, link, sizeof link, NULL, 0));
    }
    *out = s;
    return 0;
}

/* One allocation (zt_sampler_new). */
void zt_sampler_free(struct zt_sampler *s) { zt_free(s); }

/* ---- sampling ----------------------------------------------------------- */

/* descending logit, then ascending id: a total order, so the result never
 * depends on the sort algorithm */
static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->logit > y->logit) return -1;
    if (x->logit < y->logit) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

static void apply_penalties(struct zt_sampler *s, float *logits)
{
    const struct zt_sampler_params *p = &s->p;
    for (size_t i = 0; i < p->n_logit_bias; i++) logits[p->logit_bias[i].token] += p->logit_bias[i].bias;
    if (p->repeat_penalty != 1.0f && p->repeat_last_n != 0) {
        /* each distinct token in the window once, as llama.cpp does */
        size_t n = p->repeat_last_n < 0 ? 0 : s->hist_len;
        if (p->repeat_last_n < 0) {
            for (uint32_t t = 0; t < s->n_vocab; t++)
                if (s->counts[t]) logits[t] = logits[t] > 0 ? logits[t] / p->repeat_penalty : logits[t] * p->repeat_penalty;
        } else {
            if (++s->stamp_gen == 0) { /* wrapped: clear the stamps once */
                memset(s->stamp, 0, s->n_vocab * sizeof *s->stamp);
                s->stamp_gen = 1;
            }
            for (size_t i = 0; i < n; i++) {
                int32_t t = s->history[i];
                if (s->stamp[t] == s->stamp_gen) continue;
                s->stamp[t] = s->stamp_gen;
                logits[t] = logits[t] > 0 ? logits[t] / p->repeat_penalty : logits[t] * p->repeat_penalty;
            }
        }
    }
    if (p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f)
        for (uint32_t t = 0; t < s->n_vocab; t++)
            if (s->counts[t])
                logits[t] -= (float)s->counts[t] * p->frequency_penalty + p->presence_penalty;
}

/* ---- scans over the vocabulary ----------------------------------------------
 *
 * The loops below visit the logits in blocks of SCAN_BLOCK and skip, with
 * one comparison per element that the compiler turns into vector code, the
 * blocks where nothing can change the result; a block that might is
 * processed element by element exactly as a plain loop would. So every
 * result is the plain loop's, bit for bit. */

#define SCAN_BLOCK 16

/* Whether some x[i], i < SCAN_BLOCK, is greater than thr (an ordered
 * comparison: NaN never is). */
static inline bool block_any_above(const float *x, float thr)
{
    int any = 0;
    for (int i = 0; i < SCAN_BLOCK; i++) any |= x[i] > thr;
    return any != 0;
}

/* Whether some x[i], i < SCAN_BLOCK, is NaN. */
static inline bool block_any_nan(const float *x)
{
    int any = 0;
    for (int i = 0; i < SCAN_BLOCK; i++) any |= x[i] != x[i];
    return any != 0;
}

static bool any_nan(const float *x, uint32_t n)
{
    uint32_t t = 0;
    for (; t + SCAN_BLOCK <= n; t += SCAN_BLOCK)
        if (block_any_nan(x + t)) return true;
    for (; t < n; t++)
        if (isnan(x[t])) return true;
    return false;
}

/* The first id of the greatest logit other than -INFINITY (no NaN), or -1.
 * A block whose elements are all at most the best so far changes nothing
 * (the best is replaced only by a strictly greater logit). */
static int32_t argmax(const float *x, uint32_t n)
{
    int32_t best = -1;
    float bv = -INFINITY;
    for (uint32_t t0 = 0; t0 < n; t0 += SCAN_BLOCK) {
        uint32_t end = n - t0 < SCAN_BLOCK ? n : t0 + SCAN_BLOCK;
        if (end - t0 == SCAN_BLOCK && !block_any_above(x + t0, bv)) continue;
        for (uint32_t t = t0; t < end; t++)
            if (x[t] != -INFINITY && (best < 0 || x[t] > bv)) {
                best = (int32_t)t;
                bv = x[t];
            }
    }
    return best;
}

/* The best cap candidates of x by cand_cmp (value desc, id asc), sorted,
 * into top; -INFINITY left out when drop_ninf. Returns how many (less than
 * cap when fewer qualify). With the list full, a candidate of a greater id
 * gets in only when its value is greater than the last one's (cand_cmp:
 * equal values, or NaN on either side, order by id), so a block with no
 * such value is skipped: the list is the insertion sort's of every
 * candidate, which, the order being total on the values sample() admits,
 * is also the first cap of a full sort. */
static size_t top_cands(const float *x, uint32_t n, bool drop_ninf, struct cand *top, size_t cap)
{
    size_t k = 0;
    for (uint32_t t0 = 0; t0 < n; t0 += SCAN_BLOCK) {
        uint32_t end = n - t0 < SCAN_BLOCK ? n : t0 + SCAN_BLOCK;
        if (k == cap && end - t0 == SCAN_BLOCK && !block_any_above(x + t0, top[k - 1].logit)) continue;
        for (uint32_t t = t0; t < end; t++) {
            if (drop_ninf && x[t] == -INFINITY) continue;
            struct cand c = {(int32_t)t, x[t]};
            if (k == cap && cand_cmp(&c, &top[k - 1]) >= 0) continue;
            size_t i = k < cap ? k++ : k - 1;
            while (i > 0 && cand_cmp(&c, &top[i - 1]) < 0) {
                top[i] = top[i - 1];
                i--;
            }
            top[i] = c;
        }
    }
    return k;
}

/* Up to this top_k the candidates are selected by top_cands (cost ~ the
 * vocabulary plus top_k per candidate that gets in) rather than sorted. */
#define SELECT_MAX_K 256

bool zt_sampler_keeps_logits(const struct zt_sampler *s)
{
    const struct zt_sampler_params *p = &s->p;
    return p->n_logit_bias == 0 && (p->repeat_penalty == 1.0f || p->repeat_last_n == 0) &&
           p->frequency_penalty == 0.0f && p->presence_penalty == 0.0f;
}

int32_t zt_sampler_sample(struct zt_sampler *s, float *logits)
{
    const struct zt_sampler_params *p = &s->p;
    if (any_nan(logits, s->n_vocab)) return ZT_EINVAL;
    apply_penalties(s, logits);

    if (p->temperature == 0.0f) {
        int32_t best = argmax(logits, s->n_vocab);
        return best >= 0 ? best : ZT_EINVAL;
    }
    size_t n = 0;
    if (p->top_k > 0 && p->top_k <= SELECT_MAX_K) {
        n = top_cands(logits, s->n_vocab, true, s->cands, (size_t)p->top_k);
        if (n == 0) return ZT_EINVAL;
    } else {
        for (uint32_t t = 0; t < s->n_vocab; t++)
            if (logits[t] != -INFINITY) s->cands[n++] = (struct cand){(int32_t)t, logits[t]};
        if (n == 0) return ZT_EINVAL;
        qsort(s->cands, n, sizeof *s->cands, cand_cmp);
        if (p->top_k > 0 && (size_t)p->top_k < n) n = (size_t)p->top_k;
    }

    /* probabilities at temperature 1 for top-p / min-p (llama.cpp order) */
    double mx = s->cands[0].logit, sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += zt__exp((double)s->cands[i].logit - mx);
    if (p->top_p < 1.0f) {
        double cum = 0.0;
        size_t keep = n;
        for (size_t i = 0; i < n; i++) {
            cum += zt__exp((double)s->cands[i].logit - mx) / sum;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0.0f) {
        /* keep tokens with p >= min_p * p_max, i.e. logit >= max + ln(min_p) */
        double floor_logit = mx + zt__log((double)p->min_p);
        size_t keep = 1;
        while (keep < n && (double)s->cands[keep].logit >= floor_logit) keep++;
        n = keep;
    }
    double inv_t = 1.0 / (double)p->temperature, total = 0.0;
    for (size_t i = 0; i < n; i++) total += zt__exp(((double)s->cands[i].logit - mx) * inv_t);
    double r = draw_at(p->seed, s->n_generated) * total, acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        acc += zt__exp(((double)s->cands[i].logit - mx) * inv_t);
        if (r < acc) return s->cands[i].id;
    }
    return s->cands[n - 1].id;
}

int zt_sampler_accept(struct zt_sampler *s, int32_t token, const float *raw_logits)
{
    if (token < 0 || (uint32_t)token >= s->n_vocab) return ZT_EINVAL;
    if (s->hist_cap) {
        if (s->hist_len < s->hist_cap) {
            s->history[s->hist_len++] = token;
        } else {
            memmove(s->history, s->history + 1, (s->hist_cap - 1) * sizeof *s->history);
            s->history[s->hist_cap - 1] = token;
        }
    }
    if (s->counts[token] < UINT32_MAX) s->counts[token]++;
    s->n_accepted++;

    uint8_t link[ZT_SAMPLER_HASH_LEN + 4 + ZT_SAMPLER_HASH_TOPK * 8];
    size_t n = 0;
    memcpy(link, s->hash, ZT_SAMPLER_HASH_LEN);
    n = ZT_SAMPLER_HASH_LEN;
    zt_put_le32(link + n, (uint32_t)token), n += 4;
    if (raw_logits) {
        s->n_generated++;
        /* top-k by (value desc, id asc) with a small insertion list */
        struct cand top[ZT_SAMPLER_HASH_TOPK];
        size_t k = top_cands(raw_logits, s->n_vocab, false, top, ZT_SAMPLER_HASH_TOPK);
        for (size_t i = 0; i < k; i++, n += 8) {
            zt_put_le32(link + n, (uint32_t)top[i].id);
            zt_put_le32(link + n + 4, zt__f32_u(top[i].logit));
        }
    }
    zt_ignore(zt_blake2b(s->hash, sizeof s->hash, link, n, NULL, 0));
    return 0;
}

void zt_sampler_hash(const struct zt_sampler *s, uint8_t out[static ZT_SAMPLER_HASH_LEN])
{
    memcpy(out, s->hash, ZT_SAMPLER_HASH_LEN);
}

size_t zt_sampler_n_accepted(const struct zt_sampler *s)
{
    return s->n_accepted;
}

uint64_t zt_sampler_n_generated(const struct zt_sampler *s)
{
    return s->n_generated;
}

double zt_sampler_draw(uint64_t seed, uint64_t pos)
{
    return draw_at(seed, pos);
}
