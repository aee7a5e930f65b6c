/* translate_svc.c: the translation service behind POST
 * /v1/features/translate and the "translation" annotator: the choice of
 * path for one text (language detection, the chat model of
 * features.translate.model first, Apertium as the fallback), the batch
 * worked one text per step on a pool fair per caller, and the annotator.
 * No HTTP here: errors are the status, code and message the routes answer.
 * See zt_translate.h and docs/features/translate.md. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_annotate.h"
#include "zentalk/zt_fair.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_translate.h"

#define POOL_THREADS 4
#define POOL_QUEUE 256      /* requests queued or running */
#define POOL_PER_CALLER 16  /* of them, one caller's */
#define LLM_MAX_TOKENS 256  /* tokens of one translation by the model */

struct zt_translate_svc {
    struct zt_translate *t;
    struct zt_fair *pool; /* fair per caller, one text per step (zt_fair.h) */
    size_t max_bytes;
    double threshold;
    bool enabled;
    unsigned timeout_ms;
    char model[129];       /* features.translate.model; "" = Apertium only */
    struct zt_infer *ms;
};

int zt_translate_svc_new(const struct zt_translate_svc_opts *o, struct zt_translate_svc **out)
{
    struct zt_translate_svc *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    s->t = o->engine;
    s->max_bytes = o->max_bytes;
    s->threshold = o->threshold;
    s->enabled = o->enabled;
    s->timeout_ms = o->timeout_ms;
    if (o->model) zt_strlcpy(s->model, o->model, sizeof s->model);
    int rc = zt_fair_new(POOL_THREADS, POOL_QUEUE, POOL_PER_CALLER, &s->pool);
    return ZT_HAND_OUT(rc, s, zt_free, out);
}

void zt_translate_svc_set_infer(struct zt_translate_svc *s, struct zt_infer *ms)
{
    if (s) s->ms = ms;
}

void zt_translate_svc_free(struct zt_translate_svc *s)
{
    if (!s) return;
    zt_fair_free(s->pool); /* what is queued ends with "stopped" (503 shutting_down) */
    zt_free(s);
}

struct zt_translate *zt_translate_svc_engine(const struct zt_translate_svc *s) { return s->t; }
bool zt_translate_svc_enabled(const struct zt_translate_svc *s) { return s->enabled; }
size_t zt_translate_svc_max_bytes(const struct zt_translate_svc *s) { return s->max_bytes; }

json_t *zt_translate_lang_json(const char *l3)
{
    const char *l1 = zt_translate_lang1(l3);
    return json_pack("{s:s,s:s?}", "iso639_3", l3, "iso639_1", l1);
}

/* ---- one text ------------------------------------------------------------- */

static int bad(const char **code, const char *c, char *msg, size_t ml, const char *m, int status)
{
    *code = c;
    zt_strlcpy(msg, m, ml);
    return status;
}

static void pairs_list(struct zt_translate *t, char *out, size_t n)
{
    out[0] = '\0';
    size_t np = zt_translate_pair_count(t);
    for (size_t i = 0; i < np; i++) {
        const char *s, *d;
        zt_translate_pair(t, i, &s, &d);
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s-%s", i ? ", " : "", s, d);
    }
    if (!np) zt_strlcpy(out, "none (install apertium and a pair such as apertium-eng-spa)", n);
}

/* Translate with the model: 0 with the translation appended to out, or a
 * negative ZT_E* with *why saying why (the caller falls back to Apertium). */
static int llm_translate(struct zt_translate_svc *s, const char *src3, const char *dst3, const char *text, size_t len,
                         struct zt_buf *out, const char **why)
{
    struct zt_buf sys, user, err;
    zt_buf_init(&sys, 4096);
    zt_buf_init(&user, 2 * s->max_bytes + 64);
    zt_buf_init(&err, 512);
    json_t *msgs = NULL;
    char *answer = NULL;
    size_t answer_len = 0;
    int rc = zt_translate_llm_prompt(src3, dst3, text, len, &sys, &user);
    if (!rc) {
        msgs = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", zt_buf_str(&sys), "role", "user",
                         "content", zt_buf_str(&user));
        rc = msgs ? 0 : ZT_ENOMEM;
    }
    if (rc) {
        *why = "out of memory";
        goto out;
    }
    /* a translation is about as long as its source: room for twice its
     * bytes / 2 tokens, so a model that rambles stops early */
    size_t max_tok = len + 32 < LLM_MAX_TOKENS ? len + 32 : LLM_MAX_TOKENS;
    enum zt_infer_wait_end end;
    rc = zt_infer_chat_wait(s->ms, s->model, msgs, (uint32_t)max_tok, s->timeout_ms, &answer, &answer_len, &end, &err);
    switch (end) {
    case ZT_INFER_NOT_STARTED:
        *why = rc == ZT_ETOOBIG     ? "the text does not fit the model's context"
               : rc == ZT_ENOTFOUND ? "the configured model is not in models.yaml"
               : rc == ZT_EBUSY     ? "the model is busy"
                                    : "the model could not be loaded";
        if (rc != ZT_ETOOBIG && rc != ZT_EBUSY)
            zt_log_rl(ZT_LOG_WARN, 1, "translate_llm_unavailable", "model=%s error=\"%s\"", s->model,
                      zt_buf_str(&err));
        break;
    case ZT_INFER_TIMED_OUT: *why = "the model took longer than features.translate.timeout_ms"; break;
    case ZT_INFER_FAILED: *why = "the model failed"; break;
    case ZT_INFER_ANSWERED:
        rc = zt_translate_llm_clean(answer, answer_len, len, out);
        if (rc) *why = "the model's answer is not a translation";
        break;
    }
out:
    zt_free(answer);
    json_decref(msgs);
    zt_buf_deinit(&sys);
    zt_buf_deinit(&user);
    zt_buf_deinit(&err);
    return rc;
}

int zt_translate_svc_one(struct zt_translate_svc *s, const char *src3, const char *dst3, const char *text, size_t len,
                         bool marks, const char **used_src, struct zt_buf *out, const char **code, char *msg, size_t ml,
                         const char **fallback, bool *by_llm)
{
    *by_llm = false;
    if (!src3) {
        char l3[4];
        double conf = 0;
        int drc = zt_translate_detect(s->t, text, len, l3, &conf);
        if (drc == ZT_EUNSUPPORTED)
            return bad(code, "missing_field", msg, ml,
                       "\"source\" is required: this node has no language detection", 400);
        if (drc || conf < s->threshold || !(src3 = zt_translate_lang3(l3)))
            return bad(code, "language_not_detected", msg, ml,
                       "the source language could not be detected with enough confidence "
                       "(features.translate.threshold); give \"source\"",
                       422);
    }
    *used_src = src3;
    if (zt_str_eq(src3, dst3)) return zt_buf_append(out, text, len) ? bad(code, "internal", msg, ml, "out of memory", 500) : 0;
    if (s->model[0] && !marks) {
        size_t mark = out->len;
        if (!s->ms) {
            *fallback = "no inference service on this node";
        } else if (llm_translate(s, src3, dst3, text, len, out, fallback) == 0) {
            *by_llm = true;
            return 0;
        }
        out->len = mark;
        if (out->data) out->data[mark] = '\0';
        zt_log(ZT_LOG_INFO, "translate_llm_fallback", "model=%s reason=\"%s\"", s->model, *fallback);
    }
    if (!zt_translate_has_pair(s->t, src3, dst3)) {
        char pairs[512];
        pairs_list(s->t, pairs, sizeof pairs);
        snprintf(msg, ml, "no installed translation pair %s-%s; installed pairs: %s", src3, dst3, pairs);
        *code = "unsupported_pair";
        return 400;
    }
    int rc = zt_translate_text(s->t, src3, dst3, text, len, marks, out);
    switch (rc) {
    case 0: return 0;
    case ZT_ETIMEDOUT:
        return bad(code, "timeout", msg, ml,
                   "translation took longer than features.translate.timeout_ms; the pipeline was restarted", 504);
    case ZT_ETOOBIG: return bad(code, "text_too_large", msg, ml, "text or its translation is too large", 413);
    case ZT_EINVAL: return bad(code, "invalid_text", msg, ml, "text must be non-empty UTF-8 without NUL", 400);
    case ZT_ENOTFOUND: return bad(code, "unsupported_pair", msg, ml, "no such translation pair", 400);
    case ZT_ECLOSED: return bad(code, "shutting_down", msg, ml, "the node is shutting down", 503);
    case ZT_ENOMEM: return bad(code, "internal", msg, ml, "out of memory", 500);
    default:
        return bad(code, "translation_unavailable", msg, ml,
                   "the Apertium pipeline could not be started or keeps failing (see the node's log)", 503);
    }
}

/* ---- a batch, one text per step on the pool ----------------------------------- */

struct batch {
    struct zt_translate_svc *s;
    struct zt_translate_req r;
    zt_translate_gone_fn gone;
    zt_translate_done_fn done;
    void *ud;
    size_t i;                 /* the next text */
    struct zt_translate_batch b;
    struct zt_buf out;
};

/* Translate the next text; true while texts remain and all went well. */
static bool batch_step(void *arg)
{
    struct batch *j = arg;
    struct zt_translate_batch *b = &j->b;
    if (b->status || j->i >= j->r.n) return false;
    if (j->gone && j->gone(j->ud)) { /* nobody reads the rest: stop (the answer is dropped) */
        b->status = bad(&b->code, "client_gone", b->msg, sizeof b->msg, "the client went away", 503);
        return false;
    }
    if (!b->translations || !b->sources) {
        b->status = bad(&b->code, "internal", b->msg, sizeof b->msg, "out of memory", 500);
        return false;
    }
    const char *used = NULL, *fb = NULL;
    bool llm = false;
    zt_buf_reset(&j->out);
    size_t i = j->i++;
    b->status = zt_translate_svc_one(j->s, j->r.source3, j->r.target3, j->r.texts[i], j->r.lens[i], j->r.keep_marks,
                                     &used, &j->out, &b->code, b->msg, sizeof b->msg, &fb, &llm);
    if (b->status) return false;
    if (fb && !b->fallback) b->fallback = fb;
    b->by_llm = b->by_llm && llm;
    if (!b->source3) b->source3 = used;
    json_array_append_new(b->translations, json_stringn(zt_buf_str(&j->out), j->out.len));
    json_array_append_new(b->sources, zt_translate_lang_json(used));
    return j->i < j->r.n;
}

static void batch_free(struct batch *j)
{
    json_decref(j->b.translations);
    json_decref(j->b.sources);
    zt_buf_deinit(&j->out);
    zt_free(j);
}

/* Hand the outcome to the caller and free the batch. */
static void batch_done(void *arg, bool stopped)
{
    struct batch *j = arg;
    struct zt_translate_batch *b = &j->b;
    if (stopped && !b->status)
        b->status = bad(&b->code, "shutting_down", b->msg, sizeof b->msg, "the node is shutting down", 503);
    else if (!b->status && (!b->translations || !b->sources))
        b->status = bad(&b->code, "internal", b->msg, sizeof b->msg, "out of memory", 500);
    j->done(j->ud, &j->r, b);
    batch_free(j);
}

int zt_translate_svc_submit(struct zt_translate_svc *s, const char *caller, const struct zt_translate_req *r,
                            zt_translate_gone_fn gone, zt_translate_done_fn done, void *ud)
{
    struct batch *j = zt_calloc(1, sizeof *j);
    if (!j) return ZT_ENOMEM;
    j->s = s;
    j->r = *r;
    j->gone = gone;
    j->done = done;
    j->ud = ud;
    j->b.translations = json_array();
    j->b.sources = json_array();
    j->b.by_llm = true;
    zt_buf_init(&j->out, 8 * s->max_bytes + 4096);
    int rc = zt_fair_submit(s->pool, caller, j, batch_step, batch_done);
    if (rc) batch_free(j);
    return rc;
}

/* ---- the "translation" annotator ------------------------------------------------ */

int zt_translate_annotate(void *ud, const struct zt_annot_msg *m, void **conv_state, json_t *annotations)
{
    (void)conv_state;
    struct zt_translate_svc *s = ud;
    if (!m->translate_to) return 0;
    const char *code = NULL;
    char msg[768];
    int st;
    const char *dst3 = zt_translate_lang3(m->translate_to), *src3 = NULL, *used = NULL;
    const char *fb = NULL;
    bool llm = false;
    struct zt_buf out;
    zt_buf_init(&out, 8 * s->max_bytes + 4096);
    if (!s->enabled) {
        st = bad(&code, "feature_disabled", msg, sizeof msg, "translation is disabled on this node", 503);
    } else if (!dst3) {
        st = bad(&code, "invalid_language", msg, sizeof msg, "\"translate_to\" must be an ISO 639-1 or 639-3 code", 400);
    } else if (m->lang && !(src3 = zt_translate_lang3(m->lang))) {
        st = bad(&code, "invalid_language", msg, sizeof msg, "\"lang\" must be an ISO 639-1 or 639-3 code", 400);
    } else if (m->text_len > s->max_bytes) {
        st = bad(&code, "text_too_large", msg, sizeof msg, "text is over features.translate.max_bytes", 413);
    } else {
        st = zt_translate_svc_one(s, src3, dst3, m->text, m->text_len, false, &used, &out, &code, msg, sizeof msg, &fb,
                                  &llm);
    }
    json_t *o;
    if (st) {
        o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    } else {
        o = json_pack("{s:o,s:o,s:s%,s:b,s:s}", "source", zt_translate_lang_json(used), "target",
                      zt_translate_lang_json(dst3), "text", zt_buf_str(&out), out.len, "detected", src3 == NULL,
                      "method", llm ? "llm" : "apertium");
    }
    zt_buf_deinit(&out);
    if (!o) return ZT_ENOMEM;
    return json_object_set_new(annotations, "translation", o) ? ZT_ENOMEM : 0;
}
