/* conv_util.h: helpers shared by the conversation features (intent.c,
 * replies.c, summarize.c); internal to src/features. */
#ifndef ZT_FEATURES_CONV_UTIL_H
#define ZT_FEATURES_CONV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_intent.h"

#define ZT__DATA_FILE_MAX (1u << 20)

/* Read a data file of at most ZT__DATA_FILE_MAX bytes into *out (zt_malloc'd,
 * NUL-terminated). ZT_ENOTFOUND, ZT_EIO, ZT_ETOOBIG, ZT_ENOMEM; err says
 * which file and why. */
ZT_NODISCARD int zt__feat_read_file(const char *path, char **out, size_t *len, char *err, size_t err_size);

/* The two loaders of a data file whose parser is PREFIX_parse(text, len,
 * name, out, err, err_size): PREFIX_load(path, out, err, err_size) reads the
 * file at path and parses it; PREFIX_builtin(out, err, err_size) parses the
 * copy of config/FILE built in as BLOB (BLOB_len bytes). */
#define ZT__DATA_FILE_LOADERS(prefix, type, blob, file)                                                 \
    int prefix##_load(const char *path, type **out, char *err, size_t err_size)                         \
    {                                                                                                   \
        char *buf;                                                                                      \
        size_t n;                                                                                       \
        int rc = zt__feat_read_file(path, &buf, &n, err, err_size);                                     \
        if (rc) return rc;                                                                              \
        rc = prefix##_parse(buf, n, path, out, err, err_size);                                          \
        zt_free(buf);                                                                                   \
        return rc;                                                                                      \
    }                                                                                                   \
    int prefix##_builtin(type **out, char *err, size_t err_size)                                        \
    {                                                                                                   \
        return prefix##_parse((const char *)blob, blob##_len, "config/" file " (built in)", out, err,     \
                              err_size);                                                                \
    }

/* ---- line-oriented data files (config/intents.txt, config/replies.txt) ---- */

/* The parse error of a data file at the current line: "FILE:LINE: why".
 * Expects err, err_size, file, line, rc and an out label where it is used. */
#define ZT__DATA_FAIL(...)                                \
    do {                                                  \
        snprintf(err, err_size, "%s:%zu: ", file, line);  \
        size_t el_ = strlen(err);                         \
        snprintf(err + el_, err_size - el_, __VA_ARGS__); \
        rc = ZT_EPARSE;                                   \
        goto out;                                         \
    } while (0)

struct zt__lines {
    const char *p, *end;
};

/* The next line of text that is not blank or a # comment, without its line
 * end and the spaces and tabs around it, in *ln..*le; *line counts every
 * line read. false at the end of the text. */
bool zt__lines_next(struct zt__lines *r, size_t *line, const char **ln, const char **le);

/* NULL, or why ln..le cannot be a line of a data file ("invalid UTF-8",
 * "control character"). */
const char *zt__line_problem(const char *ln, const char *le);

/* The next field of *s..e (separated by spaces and tabs) in *f, *fl, and *s
 * past it; false when there is none. */
bool zt__next_field(const char **s, const char *e, const char **f, size_t *fl);

/* A message tokenised once for several intent / lexicon queries
 * (intent.c); the summariser asks six questions of every sentence. */
struct zt__ptext {
    struct ptok *t; /* words (intent.c) */
    size_t n;
    struct psent *s; /* sentences (intent.c) */
    size_t n_s;
};
/* Tokenises text into *p (all zero on failure); zt__ptext_deinit frees. */
ZT_NODISCARD int zt__ptext_init(const char *text, size_t len, struct zt__ptext *p);
void zt__ptext_deinit(struct zt__ptext *p);
ZT_NODISCARD int zt__intent_detect_p(const struct zt_intent_model *m, const struct zt__ptext *p,
                                     struct zt_intent_result *out);
bool zt__intent_lexicon_p(const struct zt_intent_model *m, const char *name, const struct zt__ptext *p,
                          enum zt_lex_where where);

#endif
