/* categorize.c: conversation categories from seed-word centroids
 * (zt_categorize.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_categorize.h"
#include "zentalk/zt_text.h"

#define TAU 0.1 /* softmax temperature of a word's votes */
#define TOK_STACK 512

#define S(...) ((const char *const[]){__VA_ARGS__}), (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static const struct zt_category_def BUILTIN[] = {
    {"work", S("meeting", "deadline", "project", "office", "client", "report", "manager",
               "colleague", "presentation", "boss", "salary", "job")},
    {"family", S("mom", "dad", "parents", "kids", "children", "grandma", "brother", "sister",
                 "daughter", "son", "family", "aunt")},
    {"friends", S("friends", "buddy", "party", "hangout", "drinks", "catch", "weekend", "fun",
                  "pal", "birthday", "mates", "chill")},
    {"shopping", S("buy", "store", "order", "delivery", "discount", "sale", "price", "shop",
                   "cart", "mall", "purchase", "shipping")},
    {"travel", S("flight", "hotel", "airport", "trip", "passport", "vacation", "luggage",
                 "booking", "train", "beach", "tourist", "visa")},
    {"finance", S("bank", "money", "loan", "invoice", "budget", "tax", "payment", "account",
                  "savings", "credit", "mortgage", "investment")},
    {"health", S("doctor", "hospital", "medicine", "sick", "appointment", "fever", "pain",
                 "dentist", "prescription", "symptoms", "nurse", "surgery")},
    {"sports", S("football", "match", "game", "team", "score", "league", "soccer", "basketball",
                 "coach", "players", "tennis", "goal")},
    {"tech", S("computer", "software", "laptop", "code", "bug", "server", "app", "update",
               "phone", "internet", "wifi", "programming")},
    {"entertainment", S("movie", "film", "music", "concert", "show", "series", "netflix",
                        "album", "song", "actor", "episode", "theater")},
    {"food", S("dinner", "lunch", "restaurant", "recipe", "pizza", "cook", "breakfast",
               "delicious", "chicken", "pasta", "meal", "dessert")},
};

const struct zt_category_def *zt_categorize_builtin(size_t *n)
{
    *n = sizeof BUILTIN / sizeof BUILTIN[0];
    return BUILTIN;
}

struct zt_categorizer {
    const struct zt_embed *e;
    size_t n, dim;
    char **names;
    float *centroids; /* (n, dim), common component removed, unit length */
    float *common;    /* (dim) unit vector */
};

void zt_categorizer_free(struct zt_categorizer *c)
{
    if (!c) return;
    for (size_t i = 0; c->names && i < c->n; i++) zt_free(c->names[i]);
    zt_free(c->names);
    zt_free(c->centroids);
    zt_free(c->common);
    zt_free(c);
}

size_t zt_categorizer_count(const struct zt_categorizer *c) { return c->n; }

static void remove_common(const struct zt_categorizer *c, float *v)
{
    float p = zt_embed_dot(v, c->common, c->dim);
    for (size_t i = 0; i < c->dim; i++) v[i] -= p * c->common[i];
    zt_embed_normalize(v, c->dim);
}

int zt_categorizer_new(const struct zt_embed *e, const struct zt_category_def *defs, size_t n,
                       struct zt_categorizer **out)
{
    if (!e || !defs || n == 0 || n > ZT_CATEGORIZE_MAX) return ZT_EINVAL;
    struct zt_categorizer *c = zt_calloc(1, sizeof *c);
    if (!c) return ZT_ENOMEM;
    int rc = ZT_ENOMEM;
    c->e = e;
    c->dim = zt_embed_dim(e);
    c->names = zt_calloc(n, sizeof *c->names);
    c->centroids = zt_calloc(n * c->dim, sizeof(float));
    c->common = zt_calloc(c->dim, sizeof(float));
    if (!c->names || !c->centroids || !c->common) goto out;
    c->n = n;
    float v[ZT_EMBED_MAX_DIM];
    for (size_t i = 0; i < n; i++) {
        rc = ZT_EINVAL;
        if (!defs[i].name || !defs[i].name[0] || strlen(defs[i].name) > ZT_CATEGORIZE_NAME_MAX) goto out;
        rc = ZT_ENOMEM;
        c->names[i] = zt_strdup(defs[i].name);
        if (!c->names[i]) goto out;
        float *cen = c->centroids + i * c->dim;
        size_t got = 0;
        for (size_t j = 0; j < defs[i].n_seeds; j++) {
            const char *w = defs[i].seeds[j];
            long row = w ? zt_embed_lookup(e, w, strlen(w)) : -1;
            if (row < 0) continue;
            zt_embed_vector(e, (size_t)row, v);
            zt_embed_normalize(v, c->dim);
            for (size_t k = 0; k < c->dim; k++) cen[k] += v[k];
            got++;
        }
        rc = ZT_EINVAL;
        if (got == 0) goto out;
        zt_embed_normalize(cen, c->dim);
        for (size_t k = 0; k < c->dim; k++) c->common[k] += cen[k];
    }
    zt_embed_normalize(c->common, c->dim);
    if (n > 1)
        for (size_t i = 0; i < n; i++) remove_common(c, c->centroids + i * c->dim);
    else
        memset(c->common, 0, c->dim * sizeof(float));
    *out = c;
    return 0;
out:
    zt_categorizer_free(c);
    return rc;
}

static int cmp_score(const void *a, const void *b)
{
    const struct zt_category_score *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

/* Add the votes of text's words: each word with a vector gives its SIF
 * weight to the categories by a softmax (temperature TAU) of its cosine to
 * each centroid, so a generic word spreads its weight and a topical word
 * gives it to its category. */
static int votes(const struct zt_categorizer *c, const char *text, size_t len, double *score, double *wsum,
                 size_t *found)
{
    struct zt_token stack[TOK_STACK], *toks = stack;
    size_t n = 0;
    int rc = zt_text_tokenize(text, len, stack, TOK_STACK, &n);
    if (rc) return rc;
    if (n > TOK_STACK) {
        toks = zt_calloc(n, sizeof *toks);
        if (!toks) return ZT_ENOMEM;
        rc = zt_text_tokenize(text, len, toks, n, &n);
        if (rc) goto out;
    }
    float v[ZT_EMBED_MAX_DIM];
    double sim[ZT_CATEGORIZE_MAX];
    for (size_t i = 0; i < n; i++) {
        if (toks[i].kind != ZT_TOK_WORD) continue;
        char w[128];
        long wl = zt_text_token_fold(text, &toks[i], w, sizeof w);
        if (wl <= 0) continue;
        long row = zt_embed_lookup(c->e, w, (size_t)wl);
        if (row < 0) continue;
        zt_embed_vector(c->e, (size_t)row, v);
        zt_embed_normalize(v, c->dim);
        remove_common(c, v);
        double mx = -2, z = 0;
        for (size_t k = 0; k < c->n; k++) {
            sim[k] = zt_embed_dot(v, c->centroids + k * c->dim, c->dim);
            if (sim[k] > mx) mx = sim[k];
        }
        for (size_t k = 0; k < c->n; k++) z += exp((sim[k] - mx) / TAU);
        double wt = zt_embed_sif_weight(c->e, (size_t)row);
        for (size_t k = 0; k < c->n; k++) score[k] += wt * exp((sim[k] - mx) / TAU) / z;
        *wsum += wt;
        (*found)++;
    }
    rc = 0;
out:
    if (toks != stack) zt_free(toks);
    return rc;
}

int zt_categorize(const struct zt_categorizer *c, const char *const *texts, const size_t *lens, size_t n,
                  struct zt_category_score *out, size_t *found)
{
    double vs[ZT_CATEGORIZE_MAX] = {0}, wsum = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = votes(c, texts[i], lens[i], vs, &wsum, &total);
        if (rc) return rc;
    }
    for (size_t i = 0; i < c->n; i++) {
        out[i].name = c->names[i];
        out[i].score = wsum > 0 ? vs[i] / wsum : 0.0;
    }
    qsort(out, c->n, sizeof *out, cmp_score);
    if (found) *found = total;
    return 0;
}

int zt_categorize_pick(const struct zt_categorizer *c, const char *const *texts, const size_t *lens, size_t n,
                       size_t top, double threshold, struct zt_category_pick *out)
{
    memset(out, 0, sizeof *out);
    struct zt_category_score sc[ZT_CATEGORIZE_MAX];
    int rc = zt_categorize(c, texts, lens, n, sc, &out->found);
    if (rc) return rc;
    out->n_shown = top < zt_categorizer_count(c) ? top : zt_categorizer_count(c);
    memcpy(out->shown, sc, out->n_shown * sizeof sc[0]);
    bool none = out->found == 0 || sc[0].score < threshold;
    out->category = none ? ZT_CATEGORIZE_NONE : sc[0].name;
    out->score = out->found ? sc[0].score : 0.0;
    return 0;
}
