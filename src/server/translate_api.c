/* translate_api.c: POST /v1/features/translate, GET /v1/features/translate/languages
 * and the "translation" annotator. See translate_api.h and docs/features/translate.md. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fair_api.h"
#include "translate_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_translate.h"

#define POOL_THREADS 4
#define POOL_QUEUE 256      /* requests queued or running */
#define POOL_PER_CALLER 16  /* of them, one caller's */
#define BATCH_BUDGET 4      /* a batch holds at most this many times max_bytes in total */
#define LLM_MAX_TOKENS 256 /* tokens of one translation by the model */

struct zt__tr {
    struct zt_translate *t;
    struct zt_fair *pool; /* fair per caller, one text per step (zt_fair.h) */
    size_t max_bytes;
    double threshold;
    bool enabled;
    unsigned timeout_ms;
    char model[129];       /* features.translate.model; "" = Apertium only */
    struct zt_infer *ms;
};

void zt__tr_set_infer(struct zt__tr *tr, struct zt_infer *ms)
{
    if (tr) tr->ms = ms;
}

int zt__tr_new(const struct zt_config *cfg, struct zt_translate *engine, struct zt__tr **out)
{
    const struct zt_cfg_translate *c = &cfg->features.translate;
    struct zt__tr *tr = zt_calloc(1, sizeof *tr);
    if (!tr) return ZT_ENOMEM;
    tr->t = engine;
    tr->max_bytes = (size_t)c->max_bytes;
    tr->threshold = c->threshold;
    tr->enabled = c->enabled;
    tr->timeout_ms = (unsigned)c->timeout_ms;
    if (c->model) zt_strlcpy(tr->model, c->model, sizeof tr->model);
    int rc = zt_fair_new(POOL_THREADS, POOL_QUEUE, POOL_PER_CALLER, &tr->pool);
    if (rc) {
        zt_free(tr);
        return rc;
    }
    *out = tr;
    return 0;
}

void zt__tr_free(struct zt__tr *tr)
{
    if (!tr) return;
    zt_fair_free(tr->pool); /* what is queued is answered 503 */
    zt_free(tr);
}

/* ---- request checks ----------------------------------------------------- */

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

/* ---- the chat model (features.translate.model) ---------------------------- */

/* One wait for a model's answer: the pool thread waits (bounded by the
 * timeout), the runner thread answers; whoever is last frees it. */
struct llm_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    int err;
    char *text;
    size_t len;
};

static void llm_wait_unref(struct llm_wait *w)
{
    pthread_mutex_lock(&w->mu);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (!last) return;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    zt_free(w->text);
    zt_free(w);
}

static void llm_answer(void *ud, int err, const char *text, size_t len)
{
    struct llm_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->err = err;
    if (!err) {
        w->text = zt_malloc(len + 1);
        if (w->text) {
            memcpy(w->text, text, len);
            w->text[len] = '\0';
            w->len = len;
        } else {
            w->err = ZT_ENOMEM;
        }
    }
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    llm_wait_unref(w);
}

/* Translate with the model: 0 with the translation appended to out, or a
 * negative ZT_E* with *why saying why (the caller falls back to Apertium). */
static int llm_translate(struct zt__tr *tr, const char *src3, const char *dst3, const char *text, size_t len,
                         struct zt_buf *out, const char **why)
{
    struct zt_buf sys, user, err;
    zt_buf_init(&sys, 4096);
    zt_buf_init(&user, 2 * tr->max_bytes + 64);
    zt_buf_init(&err, 512);
    struct llm_wait *w = NULL;
    json_t *msgs = NULL;
    int rc = zt_translate_llm_prompt(src3, dst3, text, len, &sys, &user);
    if (!rc) {
        msgs = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", zt_buf_str(&sys), "role", "user",
                         "content", zt_buf_str(&user));
        w = zt_calloc(1, sizeof *w);
        rc = msgs && w ? 0 : ZT_ENOMEM;
    }
    if (rc) {
        *why = "out of memory";
        goto out;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->refs = 2; /* ours and the callback's */
    /* a translation is about as long as its source: room for twice its
     * bytes / 2 tokens, so a model that rambles stops early */
    size_t max_tok = len + 32 < LLM_MAX_TOKENS ? len + 32 : LLM_MAX_TOKENS;
    rc = zt_infer_chat_run(tr->ms, tr->model, msgs, (uint32_t)max_tok, llm_answer, w, &err);
    if (rc) {
        w->refs = 1;
        *why = rc == ZT_ETOOBIG     ? "the text does not fit the model's context"
               : rc == ZT_ENOTFOUND ? "the configured model is not in models.yaml"
               : rc == ZT_EBUSY     ? "the model is busy"
                                    : "the model could not be loaded";
        if (rc != ZT_ETOOBIG && rc != ZT_EBUSY)
            zt_log_rl(ZT_LOG_WARN, 1, "translate_llm_unavailable", "model=%s error=\"%s\"", tr->model,
                      zt_buf_str(&err));
        goto out;
    }
    struct timespec ts = zt_time_after_ms(CLOCK_REALTIME, (uint64_t)tr->timeout_ms);
    pthread_mutex_lock(&w->mu);
    int wr = 0;
    while (!w->done && wr != ETIMEDOUT) wr = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    bool done = w->done;
    int werr = w->err;
    pthread_mutex_unlock(&w->mu);
    if (!done) {
        rc = ZT_ETIMEDOUT;
        *why = "the model took longer than features.translate.timeout_ms";
    } else if (werr) {
        rc = werr;
        *why = "the model failed";
    } else {
        rc = zt_translate_llm_clean(w->text, w->len, len, out);
        if (rc) *why = "the model's answer is not a translation";
    }
out:
    if (w) llm_wait_unref(w);
    json_decref(msgs);
    zt_buf_deinit(&sys);
    zt_buf_deinit(&user);
    zt_buf_deinit(&err);
    return rc;
}

/* Translate one text. 0 with *used_src set and the translation appended to
 * out, or an HTTP status with code and msg. With a chat model configured
 * it translates; Apertium's translation is the fallback (*fallback says why;
 * it stays NULL when the model answered; *by_llm says it did). */
static int translate_one(struct zt__tr *tr, const char *src3, const char *dst3, const char *text, size_t len,
                         bool marks, const char **used_src, struct zt_buf *out, const char **code, char *msg,
                         size_t ml, const char **fallback, bool *by_llm)
{
    *by_llm = false;
    if (!src3) {
        char l3[4];
        double conf = 0;
        int drc = zt_translate_detect(tr->t, text, len, l3, &conf);
        if (drc == ZT_EUNSUPPORTED)
            return bad(code, "missing_field", msg, ml,
                       "\"source\" is required: this node has no language detection", 400);
        if (drc || conf < tr->threshold || !(src3 = zt_translate_lang3(l3)))
            return bad(code, "language_not_detected", msg, ml,
                       "the source language could not be detected with enough confidence "
                       "(features.translate.threshold); give \"source\"",
                       422);
    }
    *used_src = src3;
    if (zt_str_eq(src3, dst3)) return zt_buf_append(out, text, len) ? bad(code, "internal", msg, ml, "out of memory", 500) : 0;
    if (tr->model[0] && !marks) {
        size_t mark = out->len;
        if (!tr->ms) {
            *fallback = "no inference service on this node";
        } else if (llm_translate(tr, src3, dst3, text, len, out, fallback) == 0) {
            *by_llm = true;
            return 0;
        }
        out->len = mark;
        if (out->data) out->data[mark] = '\0';
        zt_log(ZT_LOG_INFO, "translate_llm_fallback", "model=%s reason=\"%s\"", tr->model, *fallback);
    }
    if (!zt_translate_has_pair(tr->t, src3, dst3)) {
        char pairs[512];
        pairs_list(tr->t, pairs, sizeof pairs);
        snprintf(msg, ml, "no installed translation pair %s-%s; installed pairs: %s", src3, dst3, pairs);
        *code = "unsupported_pair";
        return 400;
    }
    int rc = zt_translate_text(tr->t, src3, dst3, text, len, marks, out);
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

static json_t *lang_json(const char *l3)
{
    const char *l1 = zt_translate_lang1(l3);
    return json_pack("{s:s,s:s?}", "iso639_3", l3, "iso639_1", l1);
}

/* ---- POST /v1/features/translate ---------------------------------------- */

struct job {
    struct zt__tr *tr;
    struct zt_http_async *a;
    json_t *body;             /* our reference: the request's strings live in it */
    struct zt_translate_req r;
    /* progress, one text per step */
    size_t i;
    int st;
    const char *code;
    char msg[768];
    json_t *translations, *sources;
    const char *src_all, *fallback;
    bool used_llm;
    struct zt_buf out;
};

/* Translate the next text; true while texts remain and all went well. */
static bool job_step(void *arg)
{
    struct job *j = arg;
    if (j->st || j->i >= j->r.n) return false;
    if (zt_http_async_client_gone(j->a)) { /* nobody reads the rest: stop (the answer is dropped) */
        j->st = bad(&j->code, "client_gone", j->msg, sizeof j->msg, "the client went away", 503);
        return false;
    }
    if (!j->translations || !j->sources) {
        j->st = bad(&j->code, "internal", j->msg, sizeof j->msg, "out of memory", 500);
        return false;
    }
    const char *used = NULL, *fb = NULL;
    bool llm = false;
    zt_buf_reset(&j->out);
    size_t i = j->i++;
    j->st = translate_one(j->tr, j->r.source3, j->r.target3, j->r.texts[i], j->r.lens[i], j->r.keep_marks, &used,
                          &j->out, &j->code, j->msg, sizeof j->msg, &fb, &llm);
    if (j->st) return false;
    if (fb && !j->fallback) j->fallback = fb;
    j->used_llm = j->used_llm && llm;
    if (!j->src_all) j->src_all = used;
    json_array_append_new(j->translations, json_stringn(zt_buf_str(&j->out), j->out.len));
    json_array_append_new(j->sources, lang_json(used));
    return j->i < j->r.n;
}

/* Answer and free the job. */
static void job_done(void *arg, bool stopped)
{
    struct job *j = arg;
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    json_t *translations = j->translations, *sources = j->sources;
    if (stopped && !j->st) j->st = bad(&j->code, "shutting_down", j->msg, sizeof j->msg, "the node is shutting down", 503);
    if (j->st) {
        zt_http_resp_error(&resp, j->st, j->code, j->msg);
        json_decref(translations);
        json_decref(sources);
    } else if (!translations || !sources) {
        zt_http_resp_error(&resp, 500, "internal", "out of memory");
        json_decref(translations);
        json_decref(sources);
    } else {
        json_t *o = json_pack("{s:o,s:b,s:s}", "target", lang_json(j->r.target3), "detected", j->r.source3 == NULL,
                              "method", j->used_llm ? "llm" : "apertium");
        if (o && j->fallback) json_object_set_new(o, "fallback", json_string(j->fallback));
        if (o) {
            if (j->r.batch) {
                json_object_set_new(o, "translations", translations);
                json_object_set_new(o, "sources", sources); /* per text: detection may differ */
            } else {
                json_object_set_new(o, "translation", json_incref(json_array_get(translations, 0)));
                json_decref(translations);
                json_decref(sources);
            }
            json_object_set_new(o, "source", lang_json(j->src_all));
        } else {
            json_decref(translations);
            json_decref(sources);
        }
        zt_http_resp_json(&resp, 200, o);
    }
    zt_ignore(zt_http_async_respond(j->a, &resp)); /* ZT_ECLOSED: the client left */
    zt_http_resp_deinit(&resp);
    zt_http_async_release(j->a);
    zt_buf_deinit(&j->out);
    json_decref(j->body);
    zt_free(j);
}

static void on_client_gone(void *ud)
{
    (void)ud; /* the job finishes on its own (bounded by the timeout) and its answer is dropped */
}

void zt__tr_h_translate(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__tr *tr = ud;
    struct zt_http_req *req = cx->req;
    if (!tr->enabled) {
        zt_http_resp_error(resp, 503, "feature_disabled", "translation is disabled (features.translate.enabled)");
        return;
    }
    const char *code = NULL;
    char msg[512];
    struct job *j = zt_calloc(1, sizeof *j);
    if (!j) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    int st = zt_translate_req_parse(body, tr->max_bytes, &j->r, &code, msg, sizeof msg);
    if (st) {
        zt_free(j);
        zt_http_resp_error(resp, st, code, msg);
        return;
    }
    size_t total = 0; /* the request's work budget */
    for (size_t i = 0; i < j->r.n; i++) total += j->r.lens[i];
    if (total > BATCH_BUDGET * tr->max_bytes) {
        snprintf(msg, sizeof msg, "the batch holds %zu bytes of text; at most %zu (4 x features.translate.max_bytes)",
                 total, BATCH_BUDGET * tr->max_bytes);
        zt_free(j);
        zt_http_resp_error(resp, 413, "batch_too_large", msg);
        return;
    }
    j->tr = tr;
    j->body = json_incref(body);
    j->translations = json_array();
    j->sources = json_array();
    j->used_llm = true;
    zt_buf_init(&j->out, 8 * tr->max_bytes + 4096);
    char caller[160];
    zt__fair_caller(cx, caller, sizeof caller);
    j->a = zt_http_req_defer(req, on_client_gone, NULL);
    int rc = j->a ? zt_fair_submit(tr->pool, caller, j, job_step, job_done) : ZT_ENOMEM;
    if (rc) {
        if (j->a) zt_http_async_abandon(j->a);
        json_decref(j->body);
        json_decref(j->translations);
        json_decref(j->sources);
        zt_buf_deinit(&j->out);
        zt_free(j);
        zt__fair_refuse(resp, rc, "translations");
    }
}

/* ---- GET /v1/features/translate/languages ------------------------------- */

void zt__tr_h_languages(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__tr *tr = ud;
    (void)cx, (void)body;
    json_t *pairs = json_array();
    size_t n = zt_translate_pair_count(tr->t);
    for (size_t i = 0; i < n && pairs; i++) {
        const char *s, *d;
        zt_translate_pair(tr->t, i, &s, &d);
        char mode[8];
        snprintf(mode, sizeof mode, "%s-%s", s, d);
        json_array_append_new(pairs, json_pack("{s:s,s:o,s:o}", "mode", mode, "source", lang_json(s), "target",
                                               lang_json(d)));
    }
    zt_http_resp_json(resp, 200,
                      json_pack("{s:o*,s:b,s:b,s:s}", "pairs", pairs, "enabled", tr->enabled, "detection",
                                zt_translate_has_detector(tr->t),
                                "engine", "apertium"));
}

/* ---- annotator ---------------------------------------------------------- */

int zt__tr_annotate(void *ud, const struct zt_annot_msg *m, void **conv_state, json_t *annotations)
{
    (void)conv_state;
    struct zt__tr *tr = ud;
    if (!m->translate_to) return 0;
    const char *code = NULL;
    char msg[768];
    int st;
    const char *dst3 = zt_translate_lang3(m->translate_to), *src3 = NULL, *used = NULL;
    const char *fb = NULL;
    bool llm = false;
    struct zt_buf out;
    zt_buf_init(&out, 8 * tr->max_bytes + 4096);
    if (!tr->enabled) {
        st = bad(&code, "feature_disabled", msg, sizeof msg, "translation is disabled on this node", 503);
    } else if (!dst3) {
        st = bad(&code, "invalid_language", msg, sizeof msg, "\"translate_to\" must be an ISO 639-1 or 639-3 code", 400);
    } else if (m->lang && !(src3 = zt_translate_lang3(m->lang))) {
        st = bad(&code, "invalid_language", msg, sizeof msg, "\"lang\" must be an ISO 639-1 or 639-3 code", 400);
    } else if (m->text_len > tr->max_bytes) {
        st = bad(&code, "text_too_large", msg, sizeof msg, "text is over features.translate.max_bytes", 413);
    } else {
        st = translate_one(tr, src3, dst3, m->text, m->text_len, false, &used, &out, &code, msg, sizeof msg, &fb, &llm);
    }
    json_t *o;
    if (st) {
        o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    } else {
        o = json_pack("{s:o,s:o,s:s%,s:b,s:s}", "source", lang_json(used), "target", lang_json(dst3), "text",
                      zt_buf_str(&out), out.len, "detected", src3 == NULL, "method",
                      llm ? "llm" : "apertium");
    }
    zt_buf_deinit(&out);
    if (!o) return ZT_ENOMEM;
    return json_object_set_new(annotations, "translation", o) ? ZT_ENOMEM : 0;
}
