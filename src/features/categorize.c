/* categorize.c: conversation categories from seed-word centroids
 * (zt_categorize.h). */
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_categorize.h"

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

int zt_categorize(const struct zt_categorizer *c, const char *const *texts, const size_t *lens, size_t n,
                  struct zt_category_score *out, size_t *found)
{
    float acc[ZT_EMBED_MAX_DIM], v[ZT_EMBED_MAX_DIM];
    memset(acc, 0, sizeof acc);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t f = 0;
        int rc = zt_embed_text(c->e, texts[i], lens[i], v, &f);
        if (rc) return rc;
        /* weight each message by its words so long messages count more */
        for (size_t k = 0; k < c->dim; k++) acc[k] += (float)f * v[k];
        total += f;
    }
    zt_embed_normalize(acc, c->dim);
    if (total) remove_common(c, acc);
    for (size_t i = 0; i < c->n; i++) {
        out[i].name = c->names[i];
        out[i].score = total ? (double)zt_embed_dot(acc, c->centroids + i * c->dim, c->dim) : 0.0;
    }
    qsort(out, c->n, sizeof *out, cmp_score);
    if (found) *found = total;
    return 0;
}
