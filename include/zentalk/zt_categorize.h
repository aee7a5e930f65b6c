/* zt_categorize.h: automatic categorisation of a chat or channel.
 *
 * Each category is a set of seed words; its centroid is the normalised
 * mean of the seeds' unit GloVe vectors (zt_embed.h), minus the common
 * component (the projection on the mean of all centroids). Every word of
 * the conversation that has a vector votes with its SIF weight, split over
 * the categories by a softmax (temperature 0.1) of its cosine similarity
 * to each centroid: a generic word spreads its weight, a topical word gives
 * it to its category. A category's score is its share of the votes (the
 * scores sum to 1; 1/n is no preference). The caller reports the top
 * categories and "uncategorised" when the best share is below its
 * threshold. (Scoring the SIF average against the centroids directly was
 * measured too: 71.8% on the labelled check against 77.3% for votes.)
 * Read-only after creation: thread-safe. */
#ifndef ZT_CATEGORIZE_H
#define ZT_CATEGORIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "zt_embed.h"
#include "zt_error.h"

#define ZT_CATEGORIZE_MAX 64
#define ZT_CATEGORIZE_NAME_MAX 64

struct zt_category_def {
    const char *name;
    const char *const *seeds;
    size_t n_seeds;
};

struct zt_category_score {
    const char *name; /* owned by the categoriser */
    double score;     /* share of the conversation's votes, in [0, 1] */
};

struct zt_categorizer;

/* The built-in categories (work, family, friends, shopping, travel, finance,
 * health, sports, tech, entertainment, food); *n is their count. */
const struct zt_category_def *zt_categorize_builtin(size_t *n);

/* Build centroids for defs[0..n) (1..ZT_CATEGORIZE_MAX; names copied).
 * ZT_EINVAL: n out of range, an empty name, or a category none of whose
 * seeds is in the vocabulary; ZT_ENOMEM. Free with zt_categorizer_free(). */
ZT_NODISCARD int zt_categorizer_new(const struct zt_embed *e, const struct zt_category_def *defs,
                                    size_t n, struct zt_categorizer **out);
void zt_categorizer_free(struct zt_categorizer *c);
size_t zt_categorizer_count(const struct zt_categorizer *c);

/* Score the conversation texts[0..n) (lens[i] bytes each): every category
 * into out[0..zt_categorizer_count()), best first. *found = words of the
 * conversation that have a vector (0: every score is 0). ZT_EPARSE:
 * invalid UTF-8; ZT_ENOMEM. */
ZT_NODISCARD int zt_categorize(const struct zt_categorizer *c, const char *const *texts,
                               const size_t *lens, size_t n, struct zt_category_score *out,
                               size_t *found);

/* The category of a conversation that has none clear enough. */
#define ZT_CATEGORIZE_NONE "uncategorised"
/* What a categorisation decides (features.categorize's top and threshold):
 * the category, the best one's name, or ZT_CATEGORIZE_NONE when no word of
 * the texts has a vector or the best share is below threshold; its score
 * (the best share, 0 when no word voted); the scores shown, the best top
 * ones (at most the categoriser's count). */
struct zt_category_pick {
    const char *category; /* the categoriser's, or ZT_CATEGORIZE_NONE (static) */
    double score;
    struct zt_category_score shown[ZT_CATEGORIZE_MAX];
    size_t n_shown;
    size_t found; /* words of the texts that voted (zt_categorize's *found) */
};
/* zt_categorize() over texts[0..n), then the pick. Its errors. */
ZT_NODISCARD int zt_categorize_pick(const struct zt_categorizer *c, const char *const *texts, const size_t *lens,
                                    size_t n, size_t top, double threshold, struct zt_category_pick *out);

/* ---- the request of POST /v1/features/categorize ---- */

#define ZT_CATEGORIZE_TEXT_MAX 65536 /* bytes per text */
#define ZT_CATEGORIZE_BATCH_MAX 256  /* texts or messages per request */

struct json_t;
/* A checked categorisation request: texts[0..n) with their lengths;
 * conversation says whether they form one conversation ("messages", or
 * "text") or a batch to categorise one by one ("texts"). */
struct zt_categorize_req {
    const char **texts; /* zt_malloc'd array of pointers into the body */
    size_t *lens;
    size_t n;
    bool batch;         /* "texts": one result each */
};
ZT_NODISCARD int zt_categorize_req_parse(struct json_t *body, struct zt_categorize_req *out, char *why,
                                      size_t why_len);
void zt_categorize_req_deinit(struct zt_categorize_req *r);

#endif
