/* embed.c: GloVe word vectors and SIF sentence embeddings (zt_embed.h). */
#include <math.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_embed.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_text.h"

#define HEADER 16u
#define TOK_STACK 256
#define WORD_MAX 128

struct zt_embed {
    struct zt_asset a;
    uint32_t n, dim;
    const float *scale;   /* (n) unaligned-safe copy below */
    float *scale_mem;
    const int8_t *vec;    /* (n, dim) */
    const uint8_t *offs;  /* (n + 1) u32 */
    const uint8_t *sorted;/* (n) u32 */
    const char *pool;
    size_t pool_len;
    double harmonic;      /* H_n for the Zipf probabilities */
    float common[ZT_EMBED_MAX_DIM]; /* unit expected SIF vector of random text */
};

int zt_embed_load(const char *path, struct zt_embed **out)
{
    struct zt_embed *e = zt_calloc(1, sizeof *e);
    if (!e) return ZT_ENOMEM;
    int rc = zt_asset_load(path, ZT_EMBED_KIND, ZT_EMBED_VERSION, &e->a);
    if (rc) {
        zt_free(e);
        return rc;
    }
    rc = ZT_EPARSE;
    const uint8_t *p = e->a.data;
    size_t len = e->a.len;
    if (len < HEADER) goto out;
    e->n = zt_get_le32(p);
    e->dim = zt_get_le32(p + 4);
    if (zt_get_le32(p + 8) != 0 || e->n == 0 || e->dim == 0 || e->dim > ZT_EMBED_MAX_DIM ||
        e->n > (1u << 24))
        goto out;
    size_t n = e->n, dim = e->dim;
    /* sizes: all products fit in 64 bits given the bounds above */
    size_t need = HEADER + 4 * n + n * dim + 4 * (n + 1) + 4 * n;
    if (len < need) goto out;
    e->vec = (const int8_t *)(p + HEADER + 4 * n);
    e->offs = p + HEADER + 4 * n + n * dim;
    e->sorted = e->offs + 4 * (n + 1);
    e->pool = (const char *)(e->sorted + 4 * n);
    e->pool_len = len - need;
    if (zt_get_le32(e->offs) != 0 || zt_get_le32(e->offs + 4 * n) != e->pool_len) goto out;
    for (size_t i = 0; i < n; i++) {
        uint32_t a = zt_get_le32(e->offs + 4 * i), b = zt_get_le32(e->offs + 4 * (i + 1));
        if (b <= a || b - a > WORD_MAX) goto out;
        if (zt_get_le32(e->sorted + 4 * i) >= n) goto out;
    }
    e->scale_mem = zt_calloc(n, sizeof(float));
    if (!e->scale_mem) {
        rc = ZT_ENOMEM;
        goto out;
    }
    memcpy(e->scale_mem, p + HEADER, 4 * n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(e->scale_mem[i]) || e->scale_mem[i] < 0) goto out;
    e->scale = e->scale_mem;
    double h = 0;
    for (size_t i = 1; i <= n; i++) h += 1.0 / (double)i;
    e->harmonic = h;
    /* The common component SIF removes (its first principal component over
     * a corpus), estimated without a corpus: the expected SIF embedding of
     * text drawn from the Zipf distribution, sum_w p(w) * weight(w) * v(w). */
    for (size_t i = 0; i < n; i++) {
        double p_w = 1.0 / ((double)(i + 1) * h);
        zt_embed_accumulate(e, i, (float)(p_w * zt_embed_sif_weight(e, i)), e->common);
    }
    zt_embed_normalize(e->common, dim);
    *out = e;
    return 0;
out:
    zt_embed_free(e);
    return rc;
}

void zt_embed_free(struct zt_embed *e)
{
    if (!e) return;
    zt_free(e->scale_mem);
    zt_asset_deinit(&e->a);
    zt_free(e);
}

size_t zt_embed_dim(const struct zt_embed *e) { return e->dim; }
size_t zt_embed_count(const struct zt_embed *e) { return e->n; }

const char *zt_embed_word(const struct zt_embed *e, size_t row, size_t *len)
{
    uint32_t a = zt_get_le32(e->offs + 4 * row), b = zt_get_le32(e->offs + 4 * (row + 1));
    *len = b - a;
    return e->pool + a;
}

static int cmp_word(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = memcmp(a, b, m);
    if (c) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

long zt_embed_lookup(const struct zt_embed *e, const char *word, size_t len)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t row = zt_get_le32(e->sorted + 4 * mid);
        size_t wl;
        const char *w = zt_embed_word(e, row, &wl);
        int c = cmp_word(w, wl, word, len);
        if (c == 0) return (long)row;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void zt_embed_vector(const struct zt_embed *e, size_t row, float *out)
{
    const int8_t *v = e->vec + row * e->dim;
    float s = e->scale[row];
    for (size_t i = 0; i < e->dim; i++) out[i] = s * (float)v[i];
}

void zt_embed_accumulate(const struct zt_embed *e, size_t row, float w, float *acc)
{
    const int8_t *v = e->vec + row * e->dim;
    float s = w * e->scale[row];
    for (size_t i = 0; i < e->dim; i++) acc[i] += s * (float)v[i];
}

float zt_embed_sif_weight(const struct zt_embed *e, size_t row)
{
    double p = 1.0 / ((double)(row + 1) * e->harmonic);
    return (float)(ZT_EMBED_SIF_A / (ZT_EMBED_SIF_A + p));
}

float zt_embed_normalize(float *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    float norm = (float)sqrt(s);
    if (norm > 0)
        for (size_t i = 0; i < n; i++) v[i] /= norm;
    return norm;
}

float zt_embed_dot(const float *a, const float *b, size_t n)
{
    float s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

int zt_embed_text(const struct zt_embed *e, const char *text, size_t len, float *out, size_t *found)
{
    struct zt_token stack[TOK_STACK], *toks = stack;
    size_t n = 0, nf = 0;
    int rc = zt_text_tokenize_all(text, len, stack, TOK_STACK, &toks, &n);
    if (rc) return rc;
    memset(out, 0, e->dim * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (toks[i].kind != ZT_TOK_WORD && toks[i].kind != ZT_TOK_NUMBER) continue;
        char w[WORD_MAX + 1];
        long wl = zt_text_token_fold(text, &toks[i], w, sizeof w);
        if (wl <= 0) continue;
        long row = zt_embed_lookup(e, w, (size_t)wl);
        if (row < 0) continue;
        zt_embed_accumulate(e, (size_t)row, zt_embed_sif_weight(e, (size_t)row), out);
        nf++;
    }
    if (nf) {
        float pr = zt_embed_dot(out, e->common, e->dim);
        for (size_t i = 0; i < e->dim; i++) out[i] -= pr * e->common[i];
    }
    zt_embed_normalize(out, e->dim);
    if (found) *found = nf;
    if (toks != stack) zt_free(toks);
    return 0;
}
