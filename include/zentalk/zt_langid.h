/* zt_langid.h: language identification of short chat messages.
 *
 * Built on libexttextcat (Debian libexttextcat-2.0; Cavnar & Trenkle's
 * n-gram "out-of-place" ranking, the LibreOffice fork of libtextcat): the
 * message's n-gram fingerprint is compared with the fingerprint (*.lm
 * under fingerprints_dir, /usr/share/libexttextcat) of each configured
 * language, and the closest wins. Restricting the candidates to the
 * languages a deployment expects (features.language.languages) is what
 * makes short texts work; docs/features/language.md has the figures.
 *
 * Confidence: with d1 <= d2 the two smallest distances,
 * g = (d2 - d1) / d1 and confidence = g / (g + 0.006) (0.5 when the runner-up
 * is 0.6 % further away, 0.77 at 2 %, 0.89 at 5 %), times letters / 15 for
 * texts of fewer than 15 letters (one word says little). Below the caller's
 * threshold (or at confidence 0) the answer is "und" (ISO 639 "undetermined"). Texts with fewer
 * than ZT_LANGID_MIN_LETTERS letters are "und" with confidence 0.
 *
 * The fingerprints are read once by zt_langid_new(); detection builds the
 * message's own fingerprint per call. libexttextcat keeps no per-call state
 * in the language fingerprints, but it documents no thread-safety, so calls
 * on one handle are serialised by a mutex (a message takes tens of
 * microseconds). */
#ifndef ZT_LANGID_H
#define ZT_LANGID_H

#include <stddef.h>

#include "zt_error.h"

#define ZT_LANGID_MIN_LETTERS 3
#define ZT_LANGID_MAX_TEXT 65536 /* bytes; detection reads the first 1024 */
#define ZT_LANGID_ALTS 3

struct zt_langid;

/* One supported language: ISO 639-1, ISO 639-3 and English name. */
struct zt_langid_lang {
    const char *code;  /* "en" */
    const char *code3; /* "eng" */
    const char *name;  /* "English" */
};

struct zt_langid_result {
    const struct zt_langid_lang *lang; /* the best candidate, even when und */
    const char *code;  /* lang->code, or "und" below the threshold */
    const char *code3; /* lang->code3, or "und" */
    double confidence; /* [0, 1] */
    size_t n_alts;     /* runners-up, closest first */
    struct {
        const struct zt_langid_lang *lang;
        double distance_ratio; /* their distance / the best distance (>= 1) */
    } alts[ZT_LANGID_ALTS];
};

/* Load the fingerprints of languages[0..n) (ISO 639-1 codes) from dir.
 * ZT_EINVAL: a code this module does not know (*bad points at it) or n ==
 * 0; ZT_ENOTFOUND: a fingerprint file missing (libexttextcat not
 * installed); ZT_ENOMEM. */
ZT_NODISCARD int zt_langid_new(const char *dir, const char *const *languages, size_t n,
                               struct zt_langid **out, const char **bad);
void zt_langid_free(struct zt_langid *l);

/* Detect the language of text[0..len). threshold: least confidence for a
 * code other than "und". ZT_EPARSE: invalid UTF-8; ZT_ETOOBIG: longer than
 * ZT_LANGID_MAX_TEXT; ZT_ENOMEM. */
ZT_NODISCARD int zt_langid_detect(struct zt_langid *l, const char *text, size_t len, double threshold,
                                  struct zt_langid_result *out);

/* The languages this module knows (for --help and errors), NULL-ended
 * iteration: zt_langid_known(i) for i = 0.. until NULL. */
const struct zt_langid_lang *zt_langid_known(size_t i);

#endif
