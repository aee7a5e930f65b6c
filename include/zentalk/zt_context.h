/* zt_context.h: pick the part of a conversation that fits a model's
 * context, for the generative features (smart replies, summaries through
 * the chat model).
 *
 * A conversation is an array of messages, oldest first. Each message is
 * rendered as one line "FROM: TEXT\n" (the speaker kept with every
 * message) and costs the tokens of that line. zt_context_build() walks
 * back from the newest message and keeps every message while the total
 * stays within the budget; it stops at the first that does not fit, so the
 * kept messages are the most recent contiguous run and none is cut. The
 * one exception: when the newest message alone is over the budget, its
 * text is cut (keeping the beginning, on a UTF-8 code-point boundary) to
 * the longest prefix whose line fits, and the result says so.
 *
 * Token counts come from the caller's count function: with a chat model
 * loaded, its tokenizer (zt_tok_encode() with cap 0 answers ZT_ETOOBIG and
 * the number of ids in *n_out: that is the count). Without one,
 * zt_context_estimate() is used: ceil(1.3 x words) + one per punctuation
 * mark, symbol or emoji run (words, numbers and URLs are zt_text.h WORD,
 * NUMBER and URL tokens), a rule of thumb for English BPE vocabularies
 * that tends to over-count rather than under-count. */
#ifndef ZT_CONTEXT_H
#define ZT_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "zt_buf.h"
#include "zt_error.h"

struct zt_ctx_msg {
    const char *from; /* speaker (NUL-terminated, UTF-8) */
    const char *text; /* message text (UTF-8) */
    size_t len;       /* bytes of text */
};

/* Tokens of text[0..len), or a negative ZT_E* (the build fails with it). */
typedef long (*zt_ctx_count_fn)(const char *text, size_t len, void *ud);

struct zt_ctx_result {
    size_t first;      /* index of the oldest kept message */
    size_t n;          /* messages kept: first .. first + n - 1 (0: none fit) */
    size_t tokens;     /* tokens of the kept lines */
    bool truncated;    /* the newest message was cut */
    size_t last_len;   /* bytes of the newest message's text kept (== len unless truncated) */
};

/* Choose the messages of msgs[0..n) that fit budget tokens (see above).
 * count NULL: zt_context_estimate(). A budget too small even for the
 * newest speaker's "FROM: " gives n = 0. ZT_EPARSE: a text or name that is
 * not UTF-8; ZT_ENOMEM; or the count function's error. */
ZT_NODISCARD int zt_context_build(const struct zt_ctx_msg *msgs, size_t n, size_t budget,
                                  zt_ctx_count_fn count, void *ud, struct zt_ctx_result *r);

/* Append the kept lines of r ("FROM: TEXT\n" each, the newest cut to
 * r->last_len) to out. ZT_ENOMEM / ZT_ETOOBIG from the buffer. */
ZT_NODISCARD int zt_context_render(const struct zt_ctx_msg *msgs, const struct zt_ctx_result *r,
                                   struct zt_buf *out);

/* The estimate above for text[0..len) (valid UTF-8; ZT_EPARSE otherwise,
 * ZT_ENOMEM). */
ZT_NODISCARD long zt_context_estimate(const char *text, size_t len);

#endif
