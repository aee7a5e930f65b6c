/* zt_translate.h: message translation through Apertium (rule-based,
 * offline; GPL language data from Debian's apertium-* packages).
 *
 * Each installed pair (a mode file "eng-spa.mode" in the modes directory)
 * gets long-lived pipelines started on first use: the pair's mode run in
 * Apertium's null-flush mode (apertium-wblank-mode -z), so one process
 * chain serves many messages, each ended by a NUL byte and answered by a
 * NUL-ended translation. The text is put into Apertium's stream format
 * here (escaping, control characters as superblanks) and taken out of it
 * on the way back, so any UTF-8 text round-trips. A pair has a small pool of
 * pipelines; a request takes a free one or waits (bounded by the timeout).
 * A pipeline that dies is restarted (the request is retried once); one that
 * does not answer in time is killed (its whole process group) and restarted
 * on next use, the request failing with ZT_ETIMEDOUT. Children are reaped.
 * Thread-safe. See docs/features/translate.md. */
#ifndef ZT_TRANSLATE_H
#define ZT_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "zt_buf.h"
#include "zt_error.h"

struct zt_translate;

struct zt_translate_opts {
    const char *modes_dir;     /* NULL or "": /usr/share/apertium/modes */
    size_t max_input_bytes;    /* per text; 0 = 16384 */
    unsigned timeout_ms;       /* per text; 0 = 10000 */
    unsigned pipelines;        /* per pair; 0 = 2 */
    const char *rules_path;    /* NULL or "": the built-in config/translate.txt */
    bool raw;                  /* Apertium's output as it is: no rules, no tidying */
};

/* Discover the pairs in modes_dir (names LLL-LLL.mode with three-letter
 * codes, or LL-LL.mode with two-letter ones as apertium-en-gl and
 * apertium-eo-en name theirs: en-gl is eng-glg; a three-letter name wins
 * over a two-letter one of the same pair; variants such as
 * eng-cat_valencia are skipped). Loads the rules (rules_path, else the
 * built-in copy; ZT_EPARSE with the reason logged when they are broken). No pair installed is not
 * an error: zt_translate_pair_count() is 0 and every translation fails
 * with ZT_ENOTFOUND. Starts no process. */
ZT_NODISCARD int zt_translate_new(const struct zt_translate_opts *opts, struct zt_translate **out);
/* Stop every pipeline (EOF, then SIGKILL after a second) and reap it.
 * Requests in progress fail with ZT_ECLOSED. NULL is a no-op. */
void zt_translate_free(struct zt_translate *t);

size_t zt_translate_pair_count(const struct zt_translate *t);
/* Pair i as ISO 639-3 codes (static to t). */
void zt_translate_pair(const struct zt_translate *t, size_t i, const char **source, const char **target);
bool zt_translate_has_pair(const struct zt_translate *t, const char *source3, const char *target3);

/* ISO 639-1 or 639-3 code (any case) to its 639-3 form ("en", "eng" ->
 * "eng"), for the languages Apertium pairs use; NULL when unknown. */
const char *zt_translate_lang3(const char *code);
/* 639-3 to 639-1 ("eng" -> "en"); NULL when the language has none. */
const char *zt_translate_lang1(const char *code3);

/* Translate text[0..len) from source3 to target3 (639-3 codes) into out
 * (appended). Unless opts.raw or keep_marks: the source is rewritten by the
 * rules' `pre` lines, the translation by the `post` lines and tidied
 * (zt_translate_tidy()). keep_marks gives Apertium's output as it is, with
 * its marks on words it did not know (*word), could not generate (#word)
 * or found no translation for (@word); otherwise they are removed. Errors: ZT_EINVAL empty text, NUL bytes or
 * not UTF-8; ZT_ETOOBIG over max_input_bytes (or out is full);
 * ZT_ENOTFOUND no such pair; ZT_ETIMEDOUT no answer in time (the pipeline
 * was killed); ZT_EIO the pipeline cannot be started or keeps dying;
 * ZT_ECLOSED shutting down; ZT_ENOMEM. Never logs the text. */
ZT_NODISCARD int zt_translate_text(struct zt_translate *t, const char *source3, const char *target3,
                                   const char *text, size_t len, bool keep_marks, struct zt_buf *out);

/* ---- rewrites and tidying (config/translate.txt) ---------------------- */

/* Rules around Apertium: `pre LANG | FROM | TO` rewrites a source text in
 * LANG, `post LANG | FROM | TO` a translation into LANG (the format is in
 * config/translate.txt and docs/features/translate.md). */
struct zt_translate_rules;
/* ZT_EPARSE with err = "FILE:LINE: what is wrong"; ZT_ENOMEM. */
ZT_NODISCARD int zt_translate_rules_parse(const char *text, size_t len, const char *file,
                                          struct zt_translate_rules **out, char *err, size_t err_size);
/* Read and parse path (at most 1 MiB): ZT_ENOTFOUND, ZT_EIO, ZT_ETOOBIG, or as above. */
ZT_NODISCARD int zt_translate_rules_load(const char *path, struct zt_translate_rules **out, char *err,
                                         size_t err_size);
/* The compiled-in copy of config/translate.txt. */
ZT_NODISCARD int zt_translate_rules_builtin(struct zt_translate_rules **out, char *err, size_t err_size);
void zt_translate_rules_free(struct zt_translate_rules *rs);
size_t zt_translate_rules_count(const struct zt_translate_rules *rs);
/* Append text[0..len) to out with the `pre` (post false) or `post` rules of
 * lang3 applied, left to right, the first matching rule at each word.
 * rs NULL copies. ZT_ETOOBIG when out is full; ZT_ENOMEM. */
ZT_NODISCARD int zt_translate_rules_apply(const struct zt_translate_rules *rs, bool post, const char *lang3,
                                          const char *text, size_t len, struct zt_buf *out);
/* Append a translation text[0..len) into target3 to out, tidied: runs of
 * spaces made one (unless the source src[0..src_len) has a double space),
 * no space before , . ; : ! ? ) % or after ( ¿ ¡ where the source has none
 * (French keeps its space before ; : ! ?), a mark * # @ left at the start of
 * a word dropped when the source has no such character (eng-hbs escapes
 * them), and for Spanish the opening ¿ / ¡ of a sentence that ends in ? / !
 * (unless the source uses them). */
ZT_NODISCARD int zt_translate_tidy(const char *src, size_t src_len, const char *target3, const char *text,
                                   size_t len, struct zt_buf *out);

/* ---- the generative path (features.translate.model) ------------------- */

/* English name of a 639-3 code ("spa" -> "Spanish"); the code itself when
 * unknown. */
const char *zt_translate_lang_name(const char *code3);
/* The chat prompt asking a model to translate text[0..len) from source3 to
 * target3: the instructions appended to sys, the text to user. */
ZT_NODISCARD int zt_translate_llm_prompt(const char *source3, const char *target3, const char *text, size_t len,
                                         struct zt_buf *sys, struct zt_buf *user);
/* A model's answer made a translation (appended to out): whitespace around
 * it, a leading label ("Translation: ", "Spanish translation:", "Traducción:"), quotes around it and anything after
 * a blank line removed. ZT_EPARSE: empty, not UTF-8 or control characters;
 * ZT_ETOOBIG: over 4 x src_len + 64 bytes (not a translation). */
ZT_NODISCARD int zt_translate_llm_clean(const char *answer, size_t len, size_t src_len, struct zt_buf *out);

/* ---- language detection hook ----------------------------------------- */

/* A detector (language identification, set once at start-up): write the
 * 639-3 code of text's language to lang3 and a confidence in [0, 1];
 * return 0, or a negative ZT_E* when it cannot tell. Called from request
 * threads: it must be thread-safe. */
typedef int (*zt_translate_detect_fn)(void *ud, const char *text, size_t len, char lang3[static 4],
                                      double *confidence);
/* Install (or with fn NULL remove) the detector. Not synchronised with
 * requests: call it before the server starts. */
void zt_translate_set_detector(struct zt_translate *t, zt_translate_detect_fn fn, void *ud);
bool zt_translate_has_detector(const struct zt_translate *t);
/* Run the detector: ZT_EUNSUPPORTED when none is installed. */
ZT_NODISCARD int zt_translate_detect(struct zt_translate *t, const char *text, size_t len,
                                     char lang3[static 4], double *confidence);

/* ---- the request of POST /v1/features/translate ---- */

struct json_t;

#define ZT_TRANSLATE_REQ_MAX_TEXTS 64

/* A checked request. Strings point into the JSON body. */
struct zt_translate_req {
    const char *source3;         /* NULL: detect */
    const char *target3;
    const char *texts[ZT_TRANSLATE_REQ_MAX_TEXTS];
    size_t lens[ZT_TRANSLATE_REQ_MAX_TEXTS];
    size_t n;
    bool batch;                  /* "texts" rather than "text" */
    bool keep_marks;
};

/* Check body (a JSON object) against the request schema: exactly one of
 * "text" (string) or "texts" (1..64 strings), "target" required and
 * "source" optional (ISO 639-1 or 639-3 codes of known languages), each
 * text non-empty and at most max_bytes, "keep_unknown_marks" boolean, no
 * other field. 0, or the HTTP status with code and msg filled. */
int zt_translate_req_parse(struct json_t *body, size_t max_bytes, struct zt_translate_req *out, const char **code, char *msg,
                 size_t msg_len);

/* ---- the translation service (translate_svc.c) ---------------------------
 * What POST /v1/features/translate and the "translation" annotator call:
 * one text is translated by the chat model of features.translate.model
 * when one is set (and keep_unknown_marks is not asked), with Apertium as
 * the fallback; a request's texts are worked one per step on a pool of its
 * own, fair per caller (zt_fair.h), so a slow pipeline never holds the
 * caller's thread. Errors are the HTTP status, code and message the routes
 * answer. Thread-safe. */

struct zt_infer;
struct zt_annot_msg;
struct zt_translate_svc;

struct zt_translate_svc_opts {
    struct zt_translate *engine; /* the Apertium pipelines, borrowed: they outlive the service */
    bool enabled;                /* features.translate.enabled (the annotator answers feature_disabled) */
    size_t max_bytes;            /* features.translate.max_bytes: per text */
    double threshold;            /* features.translate.threshold: detection confidence */
    unsigned timeout_ms;         /* features.translate.timeout_ms: the model's answer */
    const char *model;           /* features.translate.model; NULL or "": Apertium only (copied) */
};

/* Starts the pool. ZT_ENOMEM. */
ZT_NODISCARD int zt_translate_svc_new(const struct zt_translate_svc_opts *opts, struct zt_translate_svc **out);
/* The inference service that runs opts.model (NULL: none; Apertium only,
 * with fallback "no inference service on this node"). Call before use. */
void zt_translate_svc_set_infer(struct zt_translate_svc *s, struct zt_infer *ms);
/* Stop the pool: batches queued end with 503 shutting_down (their done is
 * called). NULL is a no-op. */
void zt_translate_svc_free(struct zt_translate_svc *s);
struct zt_translate *zt_translate_svc_engine(const struct zt_translate_svc *s);
bool zt_translate_svc_enabled(const struct zt_translate_svc *s);
size_t zt_translate_svc_max_bytes(const struct zt_translate_svc *s);

/* {"iso639_3": l3, "iso639_1": its 639-1 code or absent} (new reference;
 * NULL when out of memory). */
struct json_t *zt_translate_lang_json(const char *l3);

/* Translate one text (source3 NULL: detect it, 422 language_not_detected
 * under opts.threshold). 0 with *used_src set and the translation appended
 * to out, or an HTTP status with code and msg. With a model set and
 * keep_marks false the model translates; Apertium's translation is the
 * fallback (*fallback says why; it stays NULL when the model answered;
 * *by_llm says it did). Blocks for at most the timeouts. */
ZT_NODISCARD int zt_translate_svc_one(struct zt_translate_svc *s, const char *source3, const char *target3,
                                      const char *text, size_t len, bool keep_marks, const char **used_src,
                                      struct zt_buf *out, const char **code, char *msg, size_t msg_size,
                                      const char **fallback, bool *by_llm);

/* The outcome of a batch: status 0 and the results, or an HTTP status with
 * code and msg (client_gone, shutting_down, or the first failing text's). */
struct zt_translate_batch {
    int status;
    const char *code;
    char msg[768];
    struct json_t *translations;  /* strings, one per text (borrowed: take a reference to keep them) */
    struct json_t *sources;       /* zt_translate_lang_json of each text's source language */
    const char *source3;          /* the first text's source language */
    const char *fallback;         /* why the model did not answer, first seen; NULL when it always did */
    bool by_llm;                  /* every text was translated by the model */
};
/* True when nobody waits for the answer any more: the batch stops
 * (status 503 client_gone). Called from the pool's threads. */
typedef bool (*zt_translate_gone_fn)(void *ud);
/* Called once, from a pool thread (or from zt_translate_svc_free for a
 * batch still queued), with the request given to submit and the outcome. */
typedef void (*zt_translate_done_fn)(void *ud, const struct zt_translate_req *r, struct zt_translate_batch *b);

/* Queue the translation of r's texts for caller (the fairness key). r is
 * copied (its strings must live until done). 0: done will be called; else
 * zt_fair_submit's refusal (ZT_EPERM this caller has too many queued,
 * ZT_EBUSY the queue is full, ZT_ECLOSED) or ZT_ENOMEM, and done is not
 * called. */
ZT_NODISCARD int zt_translate_svc_submit(struct zt_translate_svc *s, const char *caller,
                                         const struct zt_translate_req *r, zt_translate_gone_fn gone,
                                         zt_translate_done_fn done, void *ud);

/* The "translation" annotator (zt_annotate.h; ud: the service): when the
 * message has translate_to, adds annotations.translation = {source,
 * target, text, detected, method} or {error:{code,message}}. */
int zt_translate_annotate(void *ud, const struct zt_annot_msg *m, void **conv_state, struct json_t *annotations);

#endif
