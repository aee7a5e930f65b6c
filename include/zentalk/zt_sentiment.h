/* zt_sentiment.h: rule-based sentiment of short messages (VADER).
 *
 * VADER (Hutto & Gilbert, "VADER: A Parsimonious Rule-based Model for
 * Sentiment Analysis of Social Media Text", ICWSM 2014), as the npm package
 * vader-sentiment 1.1.3 computes it: lexicon valences, negation within three
 * words (x -0.74), boosters and dampeners (+-0.293), ALL-CAPS emphasis
 * (+-0.733 when the text mixes case), "but", "least", "kind of", the
 * reference idioms, "!" and "?" amplification, compound = x/sqrt(x^2+15),
 * and the pos/neu/neg proportions. Results equal the JavaScript
 * implementation's (tests/unit/test_sentiment.c holds its outputs).
 * Emoji, which that implementation does not score, are first replaced by a
 * lexicon entry from a small documented table (docs/features/sentiment.md).
 *
 * The lexicon is the asset data/assets/vader.zta (`zt-assets vader`, from
 * vader_lexicon.txt of the npm package). A loaded struct zt_sentiment is
 * read-only: any number of threads may score with it at once. */
#ifndef ZT_SENTIMENT_H
#define ZT_SENTIMENT_H

#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_SENTIMENT_ASSET "vader.zta"
#define ZT_SENTIMENT_KIND "vader"
#define ZT_SENTIMENT_VERSION 1u
#define ZT_SENTIMENT_MAX_TEXT 65536 /* longest text scored, bytes */

struct zt_sentiment;

struct zt_sentiment_result {
    double compound; /* [-1, 1], rounded to 4 decimals as the reference does */
    double pos, neu, neg; /* proportions, rounded to 3 decimals */
};

/* Load the lexicon asset at path (zt_asset_load() errors: ZT_ENOTFOUND,
 * ZT_EPARSE, ZT_EUNSUPPORTED, ZT_EIO, ZT_ENOMEM; a payload that does not
 * parse is ZT_EPARSE). Free with zt_sentiment_free(). */
ZT_NODISCARD int zt_sentiment_load(const char *path, struct zt_sentiment **out);
/* Build from a payload in memory (the bytes are copied). ZT_EPARSE. */
ZT_NODISCARD int zt_sentiment_from_payload(const void *payload, size_t len,
                                           struct zt_sentiment **out);
void zt_sentiment_free(struct zt_sentiment *s);
/* Lexicon entries. */
size_t zt_sentiment_size(const struct zt_sentiment *s);

/* Score text[0..len) (UTF-8). ZT_EPARSE: invalid UTF-8; ZT_ETOOBIG: longer
 * than ZT_SENTIMENT_MAX_TEXT; ZT_ENOMEM. A text without words scores all
 * zeros. */
ZT_NODISCARD int zt_sentiment_score(const struct zt_sentiment *s, const char *text, size_t len,
                                    struct zt_sentiment_result *out);

/* Scoring modes. ZT_SENTIMENT_VADER is the reference above, digit for
 * digit (zt_sentiment_score()). ZT_SENTIMENT_CHAT (issue 16) reads chat:
 * phatic words ("ok", "lol", "honestly") and tone emoji (😅 🙃) carry no
 * sentiment, slang and complaint words the lexicon lacks do ("slaps",
 * "cancelled"), a negated expectation is a complaint ("didn't arrive",
 * "won't answer"), "no" before a negative word flips it ("no worries"),
 * idioms ("couldn't be happier", "waste of money"), contrast in any case
 * ("But", "however"), clear sarcasm cues (🙄, "yeah right", "oh
 * fantastic" with something negative) turn praise negative, and a sum of
 * valences within +-0.5 is neutral (docs/features/sentiment.md). */
enum zt_sentiment_mode { ZT_SENTIMENT_VADER = 0, ZT_SENTIMENT_CHAT = 1, ZT_SENTIMENT_N_MODES = 2 };

/* zt_sentiment_score() in the given mode; ZT_EINVAL for another mode. */
ZT_NODISCARD int zt_sentiment_score_mode(const struct zt_sentiment *s, enum zt_sentiment_mode mode,
                                         const char *text, size_t len, struct zt_sentiment_result *out);
/* "vader", "chat" */
const char *zt_sentiment_mode_name(enum zt_sentiment_mode mode);
/* "vader" or "chat"; ZT_EINVAL otherwise */
ZT_NODISCARD int zt_sentiment_mode_parse(const char *name, enum zt_sentiment_mode *out);

/* "positive" (compound >= cut), "negative" (compound <= -cut) or "neutral";
 * cut is features.sentiment.threshold (0.05 by default). */
const char *zt_sentiment_label(const struct zt_sentiment_result *r, double cut);

/* Payload of the asset from vader_lexicon.txt (lines "token<TAB>mean<TAB>
 * ...", a repeated token keeps its last value). *out is zt_malloc'd.
 * ZT_EPARSE with the line number in *bad_line; ZT_ENOMEM. */
ZT_NODISCARD int zt_sentiment_build_payload(const char *lexicon, size_t len, uint8_t **out,
                                            size_t *out_len, size_t *bad_line);

#endif
