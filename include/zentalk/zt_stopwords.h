/* zt_stopwords.h: stop-word lists by language, from the asset
 * stopwords.zta (npm stopwords-iso, MIT; tools/asset_stopwords.c keeps the
 * English, Spanish, French and German lists, each word NFKC case-folded,
 * single words only). The payload is "LANG WORD\n" lines; words are held
 * as 64-bit FNV-1a hashes, sorted per language.
 *
 * Users: the private search index drops English stop words before
 * stemming (zt_search.h); the summariser picks the conversation's language
 * by stop-word hits and drops that language's stop words (zt_summarize.h).
 * A loaded list is read-only and safe to share between threads. */
#ifndef ZT_STOPWORDS_H
#define ZT_STOPWORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_STOPWORDS_KIND "stopwords"
#define ZT_STOPWORDS_VERSION 1u
#define ZT_STOPWORDS_ASSET "stopwords.zta"
#define ZT_STOPWORDS_MAX_LANGS 16
#define ZT_STOPWORDS_WORD_MAX 64

struct zt_stopwords;

/* Parse a payload of "LANG WORD\n" lines (LANG: 2 lower-case letters, WORD
 * valid UTF-8 of at most ZT_STOPWORDS_WORD_MAX bytes). ZT_EPARSE, ZT_ENOMEM. */
ZT_NODISCARD int zt_stopwords_parse(const char *text, size_t len, struct zt_stopwords **out);
/* Load the asset file path (kind "stopwords"); errors of zt_asset_load()
 * and zt_stopwords_parse(). */
ZT_NODISCARD int zt_stopwords_load(const char *path, struct zt_stopwords **out);
void zt_stopwords_free(struct zt_stopwords *sw);

/* Languages held, and the code of language i ("en"; "" out of range). */
size_t zt_stopwords_langs(const struct zt_stopwords *sw);
const char *zt_stopwords_lang(const struct zt_stopwords *sw, size_t i);
/* Index of language code (2 letters), or SIZE_MAX. */
size_t zt_stopwords_lang_index(const struct zt_stopwords *sw, const char *code);
/* Words of the English list (0 without one). */
size_t zt_stopwords_count(const struct zt_stopwords *sw);

/* Is the folded word[0..len) an English stop word? false for sw NULL. */
bool zt_stopwords_has(const struct zt_stopwords *sw, const char *word, size_t len);
/* ... a stop word of language li (zt_stopwords_lang_index)? */
bool zt_stopwords_has_lang(const struct zt_stopwords *sw, size_t li, const char *word, size_t len);
/* ... by zt_fnv1a64 hash of the word (zt_hash.h), for callers that hash once. */
bool zt_stopwords_has_hash(const struct zt_stopwords *sw, size_t li, uint64_t h);

#endif
