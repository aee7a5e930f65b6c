/* zt_stopwords.h: a sorted stop-word list (asset stopwords.zta, kind
 * "stopwords", from the npm package stopwords-iso, MIT; English list).
 * Payload: u32 count | u32 off[count + 1] | word bytes, words case-folded
 * and sorted by bytes. Used by search to keep function words out of the
 * blind index. Read-only after load: thread-safe. */
#ifndef ZT_STOPWORDS_H
#define ZT_STOPWORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "zt_error.h"

#define ZT_STOPWORDS_KIND "stopwords"
#define ZT_STOPWORDS_VERSION 1u
#define ZT_STOPWORDS_ASSET "stopwords.zta"

struct zt_stopwords;

/* ZT_ENOTFOUND, ZT_EPARSE (also: not sorted), ZT_EUNSUPPORTED, ZT_EIO, ZT_ENOMEM. */
ZT_NODISCARD int zt_stopwords_load(const char *path, struct zt_stopwords **out);
void zt_stopwords_free(struct zt_stopwords *sw);
size_t zt_stopwords_count(const struct zt_stopwords *sw);
/* Is the (case-folded) word a stop word? sw == NULL: never. */
bool zt_stopwords_has(const struct zt_stopwords *sw, const char *word, size_t len);

#endif
