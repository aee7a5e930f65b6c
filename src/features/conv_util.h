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

/* ---- line-oriented data files (config/intents.txt, config/replies.txt,
 * config/translate.txt) ---- */

/* A data file being parsed: the text left, its name, the number of the line
 * read last, and where a parse error goes. */
struct zt__dfile {
    const char *p, *end;
    const char *file;
    size_t line;
    char *err;
    size_t err_size;
};

/* The parse error of a data file at its current line: "FILE:LINE: why".
 * Expects d (the struct zt__dfile *), rc and an out label where it is used. */
#define ZT__DATA_FAIL(...)                                         \
    do {                                                           \
        snprintf(d->err, d->err_size, "%s:%zu: ", d->file, d->line); \
        size_t el_ = strlen(d->err);                               \
        snprintf(d->err + el_, d->err_size - el_, __VA_ARGS__);    \
        rc = ZT_EPARSE;                                            \
        goto out;                                                  \
    } while (0)

/* The next line of d that is not blank or a # comment, without its line end
 * and the spaces and tabs around it, in *ln..*le: 1. 0 at the end of the
 * text; ZT_EPARSE (d->err says "FILE:LINE: invalid UTF-8" or "... control
 * character") when the line cannot be a line of a data file. d->line counts
 * every line read. */
ZT_NODISCARD int zt__dfile_next(struct zt__dfile *d, const char **ln, const char **le);

/* The first field of ln..le in *f, *fl (empty, at ln, when there is none);
 * returns where the rest of the line starts. */
const char *zt__first_field(const char *ln, const char *le, const char **f, size_t *fl);

/* The next field of *s..e (separated by spaces and tabs) in *f, *fl, and *s
 * past it; false when there is none. */
bool zt__next_field(const char **s, const char *e, const char **f, size_t *fl);

/* The three functions of a data file held in a TYPE that PREFIX_free()
 * frees, given its parser BODY(TYPE *obj, struct zt__dfile *d) (0 or an
 * error, with d->err set on ZT_EPARSE):
 *   PREFIX_parse(text, len, name, out, err, err_size) parses text into a
 *     zeroed TYPE, freed again when BODY fails;
 *   PREFIX_load(path, out, err, err_size) reads the file at path (at most
 *     ZT__DATA_FILE_MAX bytes) and parses it;
 *   PREFIX_builtin(out, err, err_size) parses the copy of config/FILE built
 *     in as BLOB (BLOB_len bytes). */
#define ZT__DATA_FILE_FUNCS(prefix, type, body, blob, file)                                             \
    int prefix##_parse(const char *text, size_t len, const char *name, type **out, char *err,          \
                       size_t err_size)                                                                 \
    {                                                                                                   \
        if (err_size) err[0] = '\0';                                                                    \
        type *o_ = zt_calloc(1, sizeof *o_);                                                            \
        if (!o_) return ZT_ENOMEM;                                                                      \
        struct zt__dfile d_ = {text, text + len, name, 0, err, err_size};                               \
        int rc = body(o_, &d_);                                                                         \
        if (rc) {                                                                                       \
            prefix##_free(o_);                                                                          \
            return rc;                                                                                  \
        }                                                                                               \
        *out = o_;                                                                                      \
        return 0;                                                                                       \
    }                                                                                                   \
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
