/* conv_util.h: helpers shared by the conversation features (intent.c,
 * replies.c, summarize.c); internal to src/features. */
#ifndef ZT_FEATURES_CONV_UTIL_H
#define ZT_FEATURES_CONV_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_error.h"
#include "zentalk/zt_intent.h"

#define ZT__DATA_FILE_MAX (1u << 20)

/* Read a data file of at most ZT__DATA_FILE_MAX bytes into *out (zt_malloc'd,
 * NUL-terminated). ZT_ENOTFOUND, ZT_EIO, ZT_ETOOBIG, ZT_ENOMEM; err says
 * which file and why. */
ZT_NODISCARD int zt__feat_read_file(const char *path, char **out, size_t *len, char *err, size_t err_size);

/* A message tokenised once for several intent / lexicon queries
 * (intent.c); the summariser asks six questions of every sentence. */
struct zt__ptext;
ZT_NODISCARD int zt__ptext_new(const char *text, size_t len, struct zt__ptext **out);
void zt__ptext_free(struct zt__ptext *p);
ZT_NODISCARD int zt__intent_detect_p(const struct zt_intent_model *m, const struct zt__ptext *p,
                                     struct zt_intent_result *out);
bool zt__intent_lexicon_p(const struct zt_intent_model *m, const char *name, const struct zt__ptext *p,
                          enum zt_lex_where where);

#endif
