/* conv_util.h: helpers shared by the conversation features (intent.c,
 * replies.c, summarize.c); internal to src/features. */
#ifndef ZT_FEATURES_CONV_UTIL_H
#define ZT_FEATURES_CONV_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_error.h"

#define ZT__DATA_FILE_MAX (1u << 20)

/* Read a data file of at most ZT__DATA_FILE_MAX bytes into *out (zt_malloc'd,
 * NUL-terminated). ZT_ENOTFOUND, ZT_EIO, ZT_ETOOBIG, ZT_ENOMEM; err says
 * which file and why. */
ZT_NODISCARD int zt__feat_read_file(const char *path, char **out, size_t *len, char *err, size_t err_size);

/* FNV-1a, the hash of folded words in the cue tables and stopword sets. */
static inline uint64_t zt__fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

#endif
