/* zt_text.h: text preprocessing shared by the messaging features.
 *
 * Unicode normalisation (utf8proc: NFKC, optional case folding), a
 * tokeniser that keeps byte spans into the caller's text (so features can
 * look at the original case, punctuation and emoji), lower-cased token
 * copies, and a sentence splitter. All input is untrusted: invalid UTF-8 is
 * ZT_EPARSE, sizes are bounded by the caller's arrays, nothing allocates
 * except zt_text_normalize().
 *
 * Token kinds:
 *   WORD    letters, marks and digits (a run containing at least one
 *           letter), with inner apostrophes kept ("don't", "l'eau")
 *   NUMBER  digits with inner '.' or ',' between digits ("3.50", "1,000")
 *   URL     "http://", "https://" or "www." up to the next space
 *   EMOJI   a run of pictographic symbols with their modifiers, variation
 *           selectors and zero-width joiners (one token per run)
 *   PUNCT   one punctuation or other symbol character
 * Whitespace and control characters separate tokens and are not returned. */
#ifndef ZT_TEXT_H
#define ZT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

enum zt_tok_kind {
    ZT_TOK_WORD = 1,
    ZT_TOK_NUMBER,
    ZT_TOK_URL,
    ZT_TOK_EMOJI,
    ZT_TOK_PUNCT,
};

#define ZT_TOK_F_UPPER 0x01u  /* a WORD whose letters are all upper case (at least 2) */
#define ZT_TOK_F_TITLE 0x02u  /* a WORD starting with an upper-case letter */

struct zt_token {
    size_t off;            /* byte offset into the text */
    size_t len;            /* bytes */
    enum zt_tok_kind kind;
    uint32_t flags;        /* ZT_TOK_F_* */
};

#define ZT_TEXT_NFKC 0x01u     /* compatibility composition (fullwidth, ligatures...) */
#define ZT_TEXT_CASEFOLD 0x02u /* Unicode case folding */
#define ZT_TEXT_STRIP_CC 0x04u /* drop control characters other than \n and \t */
#define ZT_TEXT_SKELETON 0x08u /* drop accents and default-ignorable characters, lump look-alike
                                  punctuation (utf8proc STRIPMARK | IGNORE | LUMP): the
                                  moderation matcher's folding */

/* Normalise text[0..len) into a new NUL-terminated string *out (zt_malloc'd;
 * free with zt_free) of *out_len bytes. ZT_EPARSE: invalid UTF-8;
 * ZT_ENOMEM. */
ZT_NODISCARD int zt_text_normalize(const char *text, size_t len, unsigned opts, char **out,
                                   size_t *out_len);

/* Tokenise all of text[0..len): into stack (room for stack_n tokens, may
 * be NULL with 0) when they fit, else into a new array (zt_malloc'd). *toks
 * is stack or that array (free it with zt_free when it is not stack), *n
 * the count. ZT_EPARSE (invalid UTF-8), ZT_ENOMEM. */
ZT_NODISCARD int zt_text_tokenize_all(const char *text, size_t len, struct zt_token *stack, size_t stack_n,
                                      struct zt_token **toks, size_t *n);

/* Tokenise text[0..len) into toks[0..max). *n is the number of tokens
 * found; when more than max exist the first max are stored and *n is the
 * total (callers that need all of them retry with a larger array).
 * ZT_EPARSE: invalid UTF-8. */
ZT_NODISCARD int zt_text_tokenize(const char *text, size_t len, struct zt_token *toks, size_t max,
                                  size_t *n);

/* The case-folded, NFKC form of one token of text into out (NUL-terminated;
 * out_size >= 1). Returns its length, or a negative ZT_ETOOBIG when it does
 * not fit (out then holds a truncated, still valid, prefix) or ZT_EPARSE. */
ZT_NODISCARD long zt_text_token_fold(const char *text, const struct zt_token *t, char *out,
                                     size_t out_size);

/* Sentence boundaries of text[0..len): the byte span of each sentence
 * (leading/trailing whitespace trimmed, empty sentences skipped) into
 * spans[0..max) as (off, len) pairs; *n is the total as for
 * zt_text_tokenize(). A sentence ends at '.', '!', '?' (and runs of them,
 * with closing quotes/brackets) followed by whitespace and not preceded by
 * a common abbreviation or a single letter ("e.g.", "Dr.", "U.S."), at a
 * newline, or at the end. */
struct zt_span {
    size_t off, len;
};
ZT_NODISCARD int zt_text_sentences(const char *text, size_t len, struct zt_span *spans, size_t max,
                                   size_t *n);

/* Number of Unicode code points in valid UTF-8 text (ZT_EPARSE otherwise). */
ZT_NODISCARD long zt_text_codepoints(const char *text, size_t len);

#endif
