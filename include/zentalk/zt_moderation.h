/* zt_moderation.h: content moderation of chat messages from word lists.
 *
 * Categories: profanity, sexual, hate, harassment (threats, insults aimed
 * at a person, exclusion, incitement to self-harm and doxxing included:
 * word lists plus the shape rules of moderation_harass.c, issue 16),
 * self-harm and spam links. Terms come from LDNOOBW (the npm package
 * naughty-words, CC-BY-4.0: profanity and sexual terms in 28 languages)
 * and the curated lists of config/moderation/ (hate, harassment,
 * self-harm, extra profanity and sexual terms, link shorteners and
 * suspicious top-level domains); `zt-assets moderation` merges them into
 * data/assets/moderation.zta.
 *
 * Matching is over token sequences, never substrings of words (so
 * "Scunthorpe", "assassin", "class" and "therapist" are clean): the text is
 * NFKC-normalised, case-folded, stripped of accents and invisible
 * characters; mixed-script words have Cyrillic/Greek look-alikes mapped to
 * Latin; inner l33t characters are mapped (4 a, 3 e, 1 i or l, 0 o, 5 s,
 * 7 t, @ a, $ s, ! i); then each token and each run of up to 6 tokens is
 * looked up in a hash table of the normalised terms. Obfuscations tried per
 * word: the word with its inner punctuation removed ("f.u.c.k"), runs of
 * single letters joined ("f u c k"), letter runs of 3+ collapsed
 * ("fuuuck"), and masked letters ("f*ck", "sh*t": '*' matches one letter
 * of a listed word of the same length). Scripts written without spaces
 * (Chinese, Japanese, Thai) are matched as substrings.
 *
 * Score per category: 1 - prod(1 - w) over its distinct matches (w: the
 * term's weight, 0.8 to 0.95 by list; docs/features/moderation.md). A
 * category with score >= the policy threshold is "matched" and its action
 * (allow, flag, block) applies; the result's action is the strongest.
 * Matched terms are reported masked ("f***"), links by their host.
 *
 * A loaded struct zt_moderation is read-only and thread-safe. */
#ifndef ZT_MODERATION_H
#define ZT_MODERATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_MODERATION_ASSET "moderation.zta"
#define ZT_MODERATION_KIND "moderation"
#define ZT_MODERATION_VERSION 1u
#define ZT_MODERATION_MAX_TEXT 65536
#define ZT_MODERATION_MAX_MATCHES 16
#define ZT_MODERATION_TERM_MAX 64  /* masked term shown, bytes with NUL */
#define ZT_MODERATION_MAX_WORDS 6  /* longest phrase, tokens */

enum zt_mod_category {
    ZT_MOD_PROFANITY = 0,
    ZT_MOD_SEXUAL,
    ZT_MOD_HATE,
    ZT_MOD_HARASSMENT,
    ZT_MOD_SELF_HARM,
    ZT_MOD_SPAM_LINKS,
    ZT_MOD_N_CATEGORIES
};

enum zt_mod_action { ZT_MOD_ALLOW = 0, ZT_MOD_FLAG = 1, ZT_MOD_BLOCK = 2 };

/* "profanity", "sexual", "hate", "harassment", "self_harm", "spam_links" */
const char *zt_moderation_category_name(enum zt_mod_category c);
/* "allow", "flag", "block" */
const char *zt_moderation_action_name(enum zt_mod_action a);
/* ZT_EINVAL for another name */
ZT_NODISCARD int zt_moderation_action_parse(const char *name, enum zt_mod_action *out);

struct zt_moderation_policy {
    double threshold; /* features.moderation.threshold */
    enum zt_mod_action actions[ZT_MOD_N_CATEGORIES];
    /* The message's ISO 639-1 language (zt_langid_detect()), or NULL:
     * LDNOOBW terms of another language than English count at 0.75 of
     * their weight unless the message is in that language ("bite" is
     * French profanity and an English verb). */
    const char *lang;
    /* Issue 16: a short English message may be detected as another
     * language. When lang is NULL or lang_unsure is set (the detector's
     * confidence was low), LDNOOBW terms of the also_langs (the configured
     * default languages; NULL entries ignored) count at full weight too.
     * The harassment rules (insults, exclusion, threats, doxxing; English)
     * run whatever the language. A zeroed policy keeps the old behaviour. */
    bool lang_unsure;
    const char *const *also_langs;
    size_t n_also_langs;
};

struct zt_moderation_match {
    enum zt_mod_category category;
    double weight;
    char term[ZT_MODERATION_TERM_MAX]; /* masked ("f***", "k*** y*****"), or a link's host */
    bool obfuscated; /* found through l33t, spacing, masking or repeated letters */
};

struct zt_moderation_result {
    double score[ZT_MOD_N_CATEGORIES];
    bool matched[ZT_MOD_N_CATEGORIES]; /* score >= threshold */
    enum zt_mod_action action;         /* strongest action of the matched categories */
    size_t n_matches;                  /* stored; more may exist (see truncated) */
    bool truncated;
    struct zt_moderation_match matches[ZT_MODERATION_MAX_MATCHES];
};

struct zt_moderation;

/* Load the asset at path (zt_asset_load() errors; a payload that does not
 * parse: ZT_EPARSE). */
ZT_NODISCARD int zt_moderation_load(const char *path, struct zt_moderation **out);
ZT_NODISCARD int zt_moderation_from_payload(const void *payload, size_t len,
                                            struct zt_moderation **out);
void zt_moderation_free(struct zt_moderation *m);
size_t zt_moderation_size(const struct zt_moderation *m); /* terms */

/* Check text[0..len) (UTF-8) under policy. ZT_EPARSE: invalid UTF-8;
 * ZT_ETOOBIG: longer than ZT_MODERATION_MAX_TEXT; ZT_ENOMEM. */
ZT_NODISCARD int zt_moderation_check(const struct zt_moderation *m, const char *text, size_t len,
                                     const struct zt_moderation_policy *policy,
                                     struct zt_moderation_result *out);

/* ---- building the asset (zt-assets moderation) ---------------------------- */

/* Entries are added in priority order: a term added twice keeps its first
 * category. Term syntax: words separated by spaces; for a host list
 * (ZT_MOD_SPAM_LINKS) a host name ("bit.ly") or a top-level domain
 * (".xyz"); a trailing '*' makes a one-word term a prefix ("porn*"). */
struct zt_moderation_builder;
ZT_NODISCARD int zt_moderation_builder_new(struct zt_moderation_builder **out);
void zt_moderation_builder_free(struct zt_moderation_builder *b);
/* ZT_EINVAL: a term that normalises to nothing or to more than
 * ZT_MODERATION_MAX_WORDS words, or weight outside (0, 1]; ZT_EPARSE:
 * invalid UTF-8; ZT_ENOMEM. A term must have a letter. lang: the LDNOOBW
 * list's language ("fr"; 1-3 lower-case letters) or NULL for curated lists.
 * Returns 1 (not an error) when the term was already present. */
ZT_NODISCARD int zt_moderation_builder_add(struct zt_moderation_builder *b, enum zt_mod_category c,
                                           const char *term, size_t len, double weight,
                                           const char *lang);
/* True when one of the words of term equals a word, or starts with a
 * prefix, already added to category c (the converter uses it to sort
 * LDNOOBW terms into sexual or profanity). */
bool zt_moderation_builder_touches(const struct zt_moderation_builder *b, enum zt_mod_category c,
                                   const char *term, size_t len);
/* The payload (zt_malloc'd). ZT_ENOMEM. */
ZT_NODISCARD int zt_moderation_builder_payload(const struct zt_moderation_builder *b, uint8_t **out,
                                               size_t *out_len);

#endif
