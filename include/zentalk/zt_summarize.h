/* zt_summarize.h: extractive conversation summaries
 * (docs/features/summarize.md).
 *
 * Key sentences by TextRank: sentences of every message (zt_text_sentences)
 * are the nodes, the similarity of two sentences is the number of content
 * words they share (case-folded words that are not stopwords, light plural
 * stripping) over log(1+|A|) + log(1+|B|); PageRank with damping 0.85, at
 * most 100 iterations or until the L1 change is under 1e-6. A sentence that
 * a later message of another speaker takes up (shares a content word
 * within the next three messages) gets a mild boost (x1.15). Ties go to the
 * earlier sentence; the chosen ones come out in chronological order with
 * their speaker.
 *
 * Alongside: decisions ("let's go with", "we agreed", "decided": lexicon
 * decision of config/intents.txt; a sentence that starts with "let's" and
 * is not a question or an invitation: lexicon decision_start; "Agreed." /
 * "Deal." alone, lexicon decision_agree, makes the proposal it answers
 * - the last sentence of the previous speaker's message - a decision),
 * open questions (questions by the intent detector that no later message of
 * another speaker answers; a message that itself asks, requests or
 * addresses someone else is no answer; a request listed as an action item
 * is not also a question) and action items (commitments "I'll ...", "TODO",
 * requests with a time or an imperative verb "can you send it by Friday",
 * imperatives with a time). An action item's assignee is the person a
 * request addresses ("Carol, can you send the deck?", "... , Carol?",
 * "@carol please review"), else the speaker of a commitment or TODO, else
 * the next other speaker after a request; its due date is the first date or
 * date-time entity of the sentence (zt_entities.h).
 *
 * Stopwords come from the asset stopwords.zta (stopwords-iso, MIT: English,
 * Spanish, French and German); the language whose list covers most words
 * of the conversation is used. Deterministic. */
#ifndef ZT_SUMMARIZE_H
#define ZT_SUMMARIZE_H

#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_conv.h"
#include "zt_entities.h"
#include "zt_error.h"
#include "zt_intent.h"
#include "zt_stopwords.h"

#define ZT_SUMMARY_MAX_SENTENCES 1000 /* sentences of one conversation */


struct zt_summary_item {
    size_t msg;        /* index of the message */
    size_t off, len;   /* the sentence: bytes of msgs[msg].text */
    double score;      /* key sentences: TextRank score; else 1 */
    const char *kind;  /* action items: "commitment", "request", "todo", "task"; else NULL */
    size_t assignee;   /* action items: index of a message whose speaker owns it, or SIZE_MAX */
    /* action items: the person the request addresses, bytes of msgs[msg].text
     * (a name, or an @mention without its '@'); addressed_len 0: none */
    size_t addressed_off, addressed_len;
    /* action items: the due date's words in msgs[msg].text (due_len 0:
     * none) and its ISO 8601 value against the reference time ("" when
     * zt_summarize() was given none) */
    size_t due_off, due_len;
    char due[ZT_ENT_VALUE_MAX];
};

struct zt_summary {
    struct zt_summary_item *key;       /* chronological */
    size_t n_key;
    struct zt_summary_item *decisions;
    size_t n_decisions;
    struct zt_summary_item *questions; /* open ones */
    size_t n_questions;
    struct zt_summary_item *actions;
    size_t n_actions;
    size_t n_sentences;                /* sentences ranked */
    const char *lang;                  /* stopword language used */
    unsigned iterations;               /* PageRank iterations run */
};

/* Summarise msgs[0..n). max_sentences: key sentences wanted (0: 20% of the
 * sentences, 1 to 5); min_salience: least score relative to the best
 * sentence's (0..1) for a key sentence (the best one always). sw may be NULL (no stopwords: every word counts).
 * ZT_EINVAL: n == 0; ZT_ETOOBIG: more than ZT_SUMMARY_MAX_SENTENCES
 * sentences; ZT_EPARSE: invalid UTF-8; ZT_ENOMEM. Free with
 * zt_summary_deinit(). */
ZT_NODISCARD int zt_summarize(const struct zt_intent_model *model, const struct zt_stopwords *sw,
                              const struct zt_conv_msg *msgs, size_t n, size_t max_sentences,
                              double min_salience, struct zt_summary *out);
/* zt_summarize() with a reference time for due dates ("by Friday" is the
 * Friday after ref->now); ref NULL: due dates are found, not resolved. */
ZT_NODISCARD int zt_summarize_at(const struct zt_intent_model *model, const struct zt_stopwords *sw,
                                 const struct zt_conv_msg *msgs, size_t n, size_t max_sentences,
                                 double min_salience, const struct zt_entities_ref *ref, struct zt_summary *out);
void zt_summary_deinit(struct zt_summary *s);
/* The extractive summary's text, appended to out: the key sentences in
 * order, joined by a space, each as "<from>: <sentence>" (the sentence
 * alone when its message has no speaker). msgs: those s was made from.
 * 0, or ZT_ENOMEM / ZT_ETOOBIG (out's cap). */
ZT_NODISCARD int zt_summary_text(const struct zt_summary *s, const struct zt_conv_msg *msgs, struct zt_buf *out);

#endif
