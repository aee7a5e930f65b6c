/* zt_replies.h: three short suggested replies to the last message of a
 * conversation (docs/features/smart-replies.md).
 *
 * Classical path: the intent of the message to answer (zt_intent.h; the
 * last one not written by `me`, looking back over that speaker's turn when
 * its last message is a plain statement) picks candidates from a response
 * bank (config/replies.txt; a copy is compiled in). Candidates are ranked by
 * their order in the bank, the conversation's register (casual / formal)
 * and, when a sentiment hook is set, the conversation's sentiment; the three
 * chosen have three different meanings (yes / no / maybe, accept / decline /
 * ask for details...) and are never duplicates. Replies fit the mood of
 * what was said: bad news and grief (intents bad_news, grief) get sympathy
 * and are never answered with a positive-toned (cheerful or curious)
 * candidate; with a sentiment hook, a reply whose sentiment clashes with
 * the answered message's is never offered: when the message's sentiment
 * is clear (|s| >= 0.5), no reaction (a reply of a bank that does not
 * answer a question, invitation, request or schedule) of the opposite
 * tone. A reply's sentiment is its curated bank tone. Apologies are not
 * compared (a reassuring reply is the fitting one). When a moderation hook is
 * set every suggestion passes it (flagged ones are skipped); without one the
 * result says so (moderated = false). Deterministic.
 *
 * The generative path (an LLM writes the replies) lives in the server
 * (src/server/conv_api.c); the prompt builder and the parser of the
 * model's answer are here so they can be tested and fuzzed. */
#ifndef ZT_REPLIES_H
#define ZT_REPLIES_H

#include <stdbool.h>
#include <stddef.h>

#include "zt_buf.h"
#include "zt_conv.h"
#include "zt_error.h"
#include "zt_intent.h"

#define ZT_REPLIES_N 3         /* suggestions per answer */
#define ZT_REPLY_MAX 200       /* longest reply in bytes (bank and LLM) */

/* Hooks the server sets from other features. sentiment: the polarity of a
 * text in [-1, 1] (values outside are clamped). is_flagged: true when
 * moderation would flag the text. Either may be NULL. */
typedef double (*zt_sentiment_fn)(const char *text, size_t len, void *ud);
typedef bool (*zt_flag_fn)(const char *text, size_t len, void *ud);
struct zt_reply_hooks {
    zt_sentiment_fn sentiment;
    void *sentiment_ud;
    zt_flag_fn is_flagged;
    void *flag_ud;
};

enum zt_reply_tone { ZT_TONE_NEUTRAL, ZT_TONE_POSITIVE, ZT_TONE_NEGATIVE };
enum zt_reply_register { ZT_REG_ANY, ZT_REG_CASUAL, ZT_REG_FORMAL };

struct zt_reply_bank;

/* Parse a bank held in text[0..len) (file names it in messages). Every
 * intent section needs candidates of at least three meanings and the
 * `statement` section must exist (it is the fallback). ZT_EPARSE with err =
 * "FILE:LINE: what is wrong"; ZT_ENOMEM. */
ZT_NODISCARD int zt_reply_bank_parse(const char *text, size_t len, const char *file,
                                     struct zt_reply_bank **out, char *err, size_t err_size);
/* Read and parse path (at most 1 MiB): ZT_ENOTFOUND, ZT_EIO, ZT_ETOOBIG, or
 * as zt_reply_bank_parse(). */
ZT_NODISCARD int zt_reply_bank_load(const char *path, struct zt_reply_bank **out, char *err,
                                    size_t err_size);
/* The compiled-in copy of config/replies.txt. */
ZT_NODISCARD int zt_reply_bank_builtin(struct zt_reply_bank **out, char *err, size_t err_size);
void zt_reply_bank_free(struct zt_reply_bank *b);

struct zt_reply {
    const char *text;    /* NUL-terminated, owned by the bank */
    const char *meaning; /* the bank's meaning tag ("yes", "decline", ...) */
    enum zt_reply_tone tone;
    double score;        /* ranking score (higher first) */
};

struct zt_replies_result {
    struct zt_reply replies[ZT_REPLIES_N];
    size_t n;                      /* ZT_REPLIES_N unless moderation or the mood filter left fewer */
    size_t target;                 /* index of the message answered */
    struct zt_intent_result intent; /* its intents */
    enum zt_intent used;           /* the intent whose bank led */
    enum zt_reply_register reg;    /* register of the conversation */
    bool has_sentiment;
    double sentiment;              /* when has_sentiment */
    bool moderated;                /* a moderation hook checked every suggestion */
};

/* Suggest replies to msgs[0..n) (n >= 1) for me (me_len 0: whoever speaks
 * next). An intent below min_confidence does not pick replies (the
 * statement bank does). bank, model: loaded; hooks may be NULL. ZT_EINVAL: n == 0;
 * ZT_EPARSE: invalid UTF-8; ZT_ENOMEM. */
ZT_NODISCARD int zt_replies_suggest(const struct zt_reply_bank *bank, const struct zt_intent_model *model,
                                    const struct zt_reply_hooks *hooks, const struct zt_conv_msg *msgs,
                                    size_t n, const char *me, size_t me_len, double min_confidence,
                                    struct zt_replies_result *out);

const char *zt_reply_tone_name(enum zt_reply_tone t);
const char *zt_reply_register_name(enum zt_reply_register r);

/* The windowed conversation as "from: text" lines, through the context
 * builder (zt_context.h): the newest whole messages that fit budget tokens
 * (estimated with zt_context_estimate()), oldest first; the newest alone is
 * cut when it is over. ZT_ETOOBIG when not even the newest speaker fits or
 * out's limit is reached; ZT_EPARSE, ZT_ENOMEM. */
ZT_NODISCARD int zt_replies_transcript(const struct zt_conv_msg *msgs, size_t n, size_t budget,
                                       struct zt_buf *out);

/* The LLM prompt: system instructions and the windowed conversation as one
 * user message (zt_replies_transcript(): the newest messages that fit
 * budget estimated tokens, oldest first). Appends to sys and user.
 * ZT_ETOOBIG when a buffer's limit is reached or nothing fits. */
ZT_NODISCARD int zt_replies_prompt(const struct zt_conv_msg *msgs, size_t n, const char *me, size_t me_len,
                                   size_t budget, struct zt_buf *sys, struct zt_buf *user);

/* Parse a model's answer into at most ZT_REPLIES_N distinct replies: one per
 * line, list markers ("1.", "2)", "-", "*") and surrounding quotes removed,
 * empty lines and lines over ZT_REPLY_MAX bytes skipped, case-insensitive
 * duplicates dropped. out[i] are NUL-terminated. Returns the count (0..3);
 * never fails (text need not be valid UTF-8: invalid lines are skipped). */
size_t zt_replies_parse_llm(const char *text, size_t len, char out[ZT_REPLIES_N][ZT_REPLY_MAX + 1]);

#endif
