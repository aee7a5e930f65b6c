/* zt_intent.h: what a chat message does (a question, thanks, an invitation...).
 *
 * Rules over zt_text.h tokens, driven by a cue file (config/intents.txt,
 * documented in docs/features/intents.md; a copy is compiled in and used
 * when the config directory has none):
 *   - clause-initial auxiliaries ("are", "can", "did", ...) make a yes/no
 *     question, clause-initial wh-words ("what", "when", ...) a question, a
 *     trailing '?' a question of one kind or the other;
 *   - per-intent lexical cues with weights, combined by noisy-or
 *     (1 - prod(1 - w)); a cue preceded by a negation word does not count;
 *   - per-intent boosts when a lexicon (e.g. time expressions) also matches.
 * Every intent scoring at least ZT_INTENT_MIN is reported (multi-label: a
 * greeting plus a question), best first; with none, the message is a
 * statement. English first; greetings, thanks and farewells also in
 * Spanish, French and German. Deterministic; thread-safe once loaded. */
#ifndef ZT_INTENT_H
#define ZT_INTENT_H

#include <stdbool.h>
#include <stddef.h>

#include "zt_error.h"

enum zt_intent {
    ZT_INTENT_STATEMENT = 0, /* information / statement (the default) */
    ZT_INTENT_QUESTION,      /* wh-question */
    ZT_INTENT_YESNO,         /* yes/no question */
    ZT_INTENT_THANKS,
    ZT_INTENT_GREETING,
    ZT_INTENT_FAREWELL,
    ZT_INTENT_INVITATION,
    ZT_INTENT_SCHEDULING,    /* meeting / time proposal */
    ZT_INTENT_APOLOGY,
    ZT_INTENT_REQUEST,       /* request, ask for help */
    ZT_INTENT_AGREEMENT,
    ZT_INTENT_DISAGREEMENT,
    ZT_INTENT_CONGRATS,
    ZT_INTENT_COMPLAINT,
    ZT_INTENT_BAD_NEWS,      /* bad news shared: lost a job, an accident, a break-up */
    ZT_INTENT_GRIEF,         /* a death or a loss: condolences are fitting */
    ZT_INTENT_URGENT,        /* an urgent request or an emergency */
    ZT_INTENT_COUNT
};

#define ZT_INTENT_MIN 0.5 /* least confidence for a label to be reported */

/* "statement", "question", "yesno_question", "thanks", "greeting",
 * "farewell", "invitation", "scheduling", "apology", "request",
 * "agreement", "disagreement", "congratulations", "complaint", "bad_news",
 * "grief", "urgent". */
const char *zt_intent_name(enum zt_intent i);
/* ZT_ENOTFOUND when name is none of the above. */
ZT_NODISCARD int zt_intent_from_name(const char *name, size_t len, enum zt_intent *out);

struct zt_intent_model;

/* Parse a cue file held in text[0..len); file names it in messages. On
 * ZT_EPARSE err holds "FILE:LINE: what is wrong"; ZT_ENOMEM. Lexicons the
 * rules need (aux, wh, negation, time, decision, commitment, imperative,
 * todo) must be present. */
ZT_NODISCARD int zt_intent_model_parse(const char *text, size_t len, const char *file,
                                       struct zt_intent_model **out, char *err, size_t err_size);
/* Read and parse path; ZT_ENOTFOUND, ZT_EIO, ZT_ETOOBIG (over 1 MiB), or as
 * zt_intent_model_parse(). */
ZT_NODISCARD int zt_intent_model_load(const char *path, struct zt_intent_model **out, char *err,
                                      size_t err_size);
/* The compiled-in copy of config/intents.txt. */
ZT_NODISCARD int zt_intent_model_builtin(struct zt_intent_model **out, char *err, size_t err_size);
void zt_intent_model_free(struct zt_intent_model *m);

struct zt_intent_label {
    enum zt_intent intent;
    double confidence; /* [0, 1] */
};

struct zt_intent_result {
    struct zt_intent_label labels[ZT_INTENT_COUNT]; /* best first; labels[0] is the primary intent */
    size_t n;                                       /* >= 1 */
    bool has_time;                                  /* a time expression was seen */
};

/* Detect the intents of one message text[0..len) (valid UTF-8).
 * ZT_EPARSE: invalid UTF-8; ZT_ENOMEM. */
ZT_NODISCARD int zt_intent_detect(const struct zt_intent_model *m, const char *text, size_t len,
                                  struct zt_intent_result *out);
/* Confidence of intent i in r (0 when it was not reported). */
double zt_intent_score(const struct zt_intent_result *r, enum zt_intent i);

enum zt_lex_where {
    ZT_LEX_ANY,   /* anywhere */
    ZT_LEX_START, /* at a clause start (sentence start, or after , ; : -) */
};
/* Does a phrase of lexicon name match text[0..len)? *hit = false for an
 * unknown lexicon. Used by the summariser (decisions, action items).
 * Lexicon "time" also matches clock times ("3pm", "10:30", "9 am").
 * ZT_EPARSE: invalid UTF-8; ZT_ENOMEM. */
ZT_NODISCARD int zt_intent_lexicon(const struct zt_intent_model *m, const char *name,
                                   const char *text, size_t len, enum zt_lex_where where,
                                   bool *hit);

/* ---- as the intents route answers (intent_pool.c) ---------------------- */

struct json_t;
/* r as JSON: {"intent", "confidence", "labels": [{"intent", "confidence"}],
 * "has_time"}, confidences rounded to 3 decimals. New reference; NULL when
 * out of memory. */
struct json_t *zt_intent_result_json(const struct zt_intent_result *r);

/* Batches worked off the caller's thread: 2 threads, at most 64 batches
 * queued or running, 8 of them one caller's (zt_fair.h), 16 texts per
 * step. */
struct zt_intent_pool;
/* m (borrowed) must outlive the pool. ZT_ENOMEM. */
ZT_NODISCARD int zt_intent_pool_new(const struct zt_intent_model *m, struct zt_intent_pool **out);
/* Stop the workers: batches still queued get done with stopped true.
 * NULL is a no-op. */
void zt_intent_pool_free(struct zt_intent_pool *p);

/* A batch's outcome, in the order the route answers it: stopped (the pool
 * shut down), gone (the caller's gone said so: the rest was not worked),
 * rc (zt_intent_detect's failure: ZT_EPARSE invalid UTF-8, ZT_ENOMEM),
 * results NULL (out of memory), else results (one zt_intent_result_json
 * per text; borrowed: take a reference to keep it). */
struct zt_intent_batch {
    bool stopped;
    bool gone;
    int rc;
    struct json_t *results;
};
typedef bool (*zt_intent_gone_fn)(void *ud);
typedef void (*zt_intent_done_fn)(void *ud, struct zt_intent_batch *b);
/* Queue the texts for caller (the fairness key): text, one JSON string, or
 * texts, an array of n JSON strings (valid UTF-8 is checked per text);
 * both borrowed until done. 0: done(ud, b) is called once, on a pool
 * thread; else zt_fair_submit's refusal (ZT_EPERM, ZT_EBUSY, ZT_ECLOSED)
 * or ZT_ENOMEM, and done is not called. */
ZT_NODISCARD int zt_intent_pool_submit(struct zt_intent_pool *p, const char *caller, struct json_t *text,
                                       struct json_t *texts, size_t n, zt_intent_gone_fn gone,
                                       zt_intent_done_fn done, void *ud);

#endif
