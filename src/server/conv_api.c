/* conv_api.c: POST /v1/features/intents, /v1/features/smart-replies and
 * /v1/features/summarize (conv_api.h).
 *
 * The classical answer is computed first, on the HTTP thread (it is cheap);
 * when the feature names a chat model (features.NAME.model) the request is
 * deferred and the model is asked (zt_convfeat_llm_start, src/features/
 * conv_llm.c, through zt_infer_chat_run); what its answer makes of the
 * classical one (zt_convfeat_llm_result: the model's when usable, otherwise
 * the classical answer with "fallback" saying why) is sent. A struct
 * llm_ctx joins the two sides like llm_api.c's answer: one reference for
 * the job's callback, one for the connection. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "conv_api.h"
#include "fair_api.h"
#include "llm_api.h"
#include "texts.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_intent.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_summarize.h"

struct zt__feat_conv {
    const struct zt_config *cfg;
    struct zt_convfeat *f;           /* the loaded data (zt_featset.h), borrowed */
    struct zt_infer *ms;             /* the generative paths' chat model, borrowed */
    struct zt_intent_pool *intents;  /* intent batches, off the HTTP threads (zt_intent.h), borrowed */
};

_Static_assert(ZT__TEXTS_MAX == ZT_INTENT_MAX_TEXTS && ZT__TEXT_MAX == ZT_CONV_MAX_TEXT,
               "intents take the texts every feature takes (texts.h)");

#define INTENT_BUDGET ((size_t)512 << 10) /* bytes of text in one request */

int zt__feat_conv_new(const struct zt_config *cfg, struct zt_convfeat *f, struct zt_infer *ms,
                      struct zt_intent_pool *intents, struct zt__feat_conv **out)
{
    struct zt__feat_conv *fc = zt_calloc(1, sizeof *fc);
    if (!fc) return ZT_ENOMEM;
    fc->cfg = cfg;
    fc->f = f;
    fc->ms = ms;
    fc->intents = intents;
    *out = fc;
    return 0;
}

void zt__feat_conv_free(struct zt__feat_conv *fc)
{
    zt_free(fc);
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *num3(double v)
{
    return json_real(round(v * 1000.0) / 1000.0);
}

static json_t *strn(const char *s, size_t n)
{
    return json_stringn(s, n);
}

static bool disabled(const struct zt_cfg_feature *f, const char *name, struct zt_http_resp *resp)
{
    if (f->enabled) return false;
    char msg[160];
    snprintf(msg, sizeof msg, "the %s feature is disabled (features.%s.enabled: false)", name, name);
    zt_http_resp_error(resp, 403, "feature_disabled", msg);
    return true;
}

static void bad_request(int rc, const char *err, struct zt_http_resp *resp)
{
    if (rc == ZT_ENOMEM) zt_http_resp_error(resp, 503, "overloaded", "out of memory");
    else zt_http_resp_error(resp, rc == ZT_ETOOBIG ? 413 : 400, rc == ZT_ETOOBIG ? "too_large" : "invalid_request", err);
}

/* The request's conversation into *cr (summarize: with its summary
 * options); false, with the answer in resp, when it is not one. */
static bool conv_parsed(json_t *body, bool summarize, struct zt_conv_req *cr, struct zt_http_resp *resp)
{
    char err[256];
    int rc = zt_conv_req_parse(body, summarize, cr, err, sizeof err);
    if (rc) bad_request(rc, err, resp);
    return rc == 0;
}

/* ---- POST /v1/features/intents ----------------------------------------------- */

/* A deferred intents request: the connection and the body its texts live in. */
struct intents_job {
    struct zt__fair_req fr;
    bool single; /* "text" rather than "texts" */
};

static bool intents_client_gone(void *ud)
{
    return zt__fair_client_gone(&((struct intents_job *)ud)->fr);
}

/* Answer the batch's outcome (zt_intent_pool_submit) and free the job. */
static void intents_done(void *ud, struct zt_intent_batch *b)
{
    struct intents_job *j = ud;
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    if (b->stopped) {
        zt_http_resp_error(&resp, 503, "shutting_down", "the node is shutting down");
    } else if (b->gone) {
        zt_http_resp_error(&resp, 503, "client_gone", "the client went away");
    } else if (b->rc) {
        bad_request(b->rc, "text is not valid UTF-8", &resp);
    } else if (!b->results) {
        zt_http_resp_error(&resp, 503, "overloaded", "out of memory");
    } else if (j->single) {
        zt_http_resp_json(&resp, 200, json_pack("{s:O}", "result", json_array_get(b->results, 0)));
    } else {
        zt_http_resp_json(&resp, 200, json_pack("{s:O}", "results", b->results));
    }
    zt__fair_answer(&j->fr, &resp);
    zt_free(j);
}

void zt__feat_h_intents(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__feat_conv *fc = ud;
    struct zt__texts tx;
    if (!zt__texts_get(body, NULL, "{\"text\"} or {\"texts\"}", &tx, resp)) return;
    size_t total = 0;
    for (size_t i = 0; i < tx.n; i++) total += json_string_length(zt__texts_at(&tx, i));
    if (zt__fair_over_budget(resp, total, INTENT_BUDGET, "")) return; /* the request's work budget */
    struct intents_job *j = zt_calloc(1, sizeof *j);
    if (!j) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return;
    }
    j->single = tx.single != NULL;
    char caller[160];
    zt__fair_caller(cx, caller, sizeof caller);
    int rc = zt__fair_defer(&j->fr, cx, body);
    if (!rc)
        rc = zt_intent_pool_submit(fc->intents, caller, tx.single, tx.arr, tx.n, intents_client_gone, intents_done, j);
    if (rc) {
        zt__fair_refused(&j->fr, resp, rc, "intent batches");
        zt_free(j);
    }
}

/* ---- the generative path ------------------------------------------------------- */

struct llm_ctx {
    pthread_mutex_t mu;
    int refs;
    bool closed;
    bool summarize;
    struct zt__feat_conv *fc;
    struct zt_http_async *async;
    json_t *classical; /* the answer if the model's is not usable (owned) */
};

static void llm_unref(struct llm_ctx *c)
{
    pthread_mutex_lock(&c->mu);
    int left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left) return;
    zt_http_async_release(c->async);
    json_decref(c->classical);
    pthread_mutex_destroy(&c->mu);
    zt_free(c);
}

static void llm_on_close(void *ud)
{
    struct llm_ctx *c = ud;
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    pthread_mutex_unlock(&c->mu);
    llm_unref(c);
}

static void respond_result(struct zt_http_async *a, json_t *result)
{
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    zt_http_resp_json(&resp, 200, json_pack("{s:o}", "result", result));
    zt_ignore(zt_http_async_respond(a, &resp));
    zt_http_resp_deinit(&resp);
}

static void llm_done(void *ud, int err, const char *text, size_t len)
{
    struct llm_ctx *c = ud;
    pthread_mutex_lock(&c->mu);
    bool closed = c->closed;
    pthread_mutex_unlock(&c->mu);
    if (!closed) respond_result(c->async, zt_convfeat_llm_result(c->fc->f, c->summarize, c->classical, err, text, len));
    llm_unref(c);
}

/* Ask the feature's model (zt_convfeat_llm_start); on success the request
 * is deferred (resp untouched) and true is returned. On failure *why says
 * why and the caller answers the classical result at once. Takes no
 * reference to classical. */
static bool llm_start(struct zt__feat_conv *fc, struct zt_http_req *req, const char *model, bool summarize,
                      const struct zt_conv_req *cr, json_t *classical, const char **why)
{
    struct llm_ctx *c = zt_calloc(1, sizeof *c);
    bool ok = false;
    *why = "out of memory";
    if (!c) goto out;
    pthread_mutex_init(&c->mu, NULL);
    c->refs = 2;
    c->fc = fc;
    c->summarize = summarize;
    c->classical = json_incref(classical);
    c->async = zt_http_req_defer(req, llm_on_close, c);
    if (!c->async) goto out;
    if (zt_convfeat_llm_start(fc->ms, model, summarize, cr, llm_done, c, why) != 0) {
        zt_http_async_abandon(c->async);
        c->async = NULL;
        goto out;
    }
    ok = true;
out:
    if (c && !ok) {
        c->refs = 1;
        llm_unref(c);
    }
    return ok;
}

/* Answer result (taking it), through the model first when one is set. */
static void answer(struct zt__feat_conv *fc, struct zt_http_req *req, const char *model, bool summarize,
                   const struct zt_conv_req *cr, json_t *result, struct zt_http_resp *resp)
{
    if (!result) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return;
    }
    if (model && model[0]) {
        const char *why;
        if (llm_start(fc, req, model, summarize, cr, result, &why)) {
            json_decref(result);
            return;
        }
        json_object_set_new(result, "fallback", json_string(why));
    }
    zt_http_resp_json(resp, 200, json_pack("{s:o}", "result", result));
}

/* ---- POST /v1/features/smart-replies ----------------------------------------- */

void zt__feat_h_replies(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__feat_conv *fc = ud;
    struct zt_http_req *req = cx->req;
    const struct zt_cfg_feature *f = &fc->cfg->features.smart_replies;
    if (disabled(f, "smart_replies", resp)) return;
    struct zt_conv_req cr;
    if (!conv_parsed(body, false, &cr, resp)) return;
    struct zt_replies_result r;
    int rc = zt_replies_suggest(zt_convfeat_bank(fc->f), zt_convfeat_intents(fc->f), zt_convfeat_hooks(fc->f), cr.msgs, cr.n, cr.me, cr.me_len, f->threshold, &r);
    if (rc) {
        zt_conv_req_deinit(&cr);
        bad_request(rc, "a message is not valid UTF-8", resp);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < r.n && arr; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "text", r.replies[i].text, "meaning", r.replies[i].meaning,
                                             "tone", zt_reply_tone_name(r.replies[i].tone)));
    const struct zt_conv_msg *t = &cr.msgs[r.target];
    json_t *res = json_pack("{s:o*,s:s,s:i,s:o*,s:o*,s:s,s:s,s:o*,s:s}", "replies", arr, "method", "classical",
                            "reply_to", (int)r.target, "from", t->from_len ? strn(t->from, t->from_len) : json_null(),
                            "intent", zt_intent_result_json(&r.intent), "bank", zt_intent_name(r.used), "register",
                            zt_reply_register_name(r.reg), "sentiment", r.has_sentiment ? num3(r.sentiment) : json_null(),
                            "moderation", r.moderated ? "checked" : "unavailable");
    answer(fc, req, f->model, false, &cr, res, resp);
    zt_conv_req_deinit(&cr);
}

/* ---- POST /v1/features/summarize ----------------------------------------------- */

static json_t *items_json(const struct zt_conv_req *cr, const struct zt_summary_item *it, size_t n, bool actions)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && a; i++) {
        const struct zt_conv_msg *m = &cr->msgs[it[i].msg];
        json_t *o = json_pack("{s:i,s:o,s:o}", "index", (int)it[i].msg, "from",
                              m->from_len ? strn(m->from, m->from_len) : json_null(), "text",
                              strn(m->text + it[i].off, it[i].len));
        if (o && actions) {
            json_object_set_new(o, "kind", json_string(it[i].kind));
            const struct zt_conv_msg *as = it[i].assignee < cr->n ? &cr->msgs[it[i].assignee] : NULL;
            const char *ad = m->text + it[i].addressed_off;
            json_object_set_new(o, "assignee", as && as->from_len ? strn(as->from, as->from_len)
                                               : it[i].addressed_len ? strn(ad, it[i].addressed_len)
                                                                     : json_null());
            json_object_set_new(o, "addressed_to", it[i].addressed_len ? strn(ad, it[i].addressed_len) : json_null());
            json_object_set_new(o, "due", it[i].due_len ? json_pack("{s:o,s:o}", "text",
                                                                    strn(m->text + it[i].due_off, it[i].due_len),
                                                                    "value", it[i].due[0] ? json_string(it[i].due)
                                                                                          : json_null())
                                                        : json_null());
        }
        json_array_append_new(a, o);
    }
    return a;
}

void zt__feat_h_summarize(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__feat_conv *fc = ud;
    struct zt_http_req *req = cx->req;
    const struct zt_cfg_feature *f = &fc->cfg->features.summarize;
    if (disabled(f, "summarize", resp)) return;
    if (!zt_convfeat_stopwords(fc->f)) {
        char m[ZT_ASSET_MISSING_MSG_MAX];
        zt_asset_missing_message("the stopwords list", "stopwords.zta", m, sizeof m);
        zt_http_resp_error(resp, 503, "asset_missing", m);
        return;
    }
    struct zt_conv_req cr;
    if (!conv_parsed(body, true, &cr, resp)) return;
    struct zt_summary s;
    /* due dates resolve against the time of the request (UTC) */
    struct zt_entities_ref now = {.now = zt_time_real_ms() / 1000};
    int rc = zt_summarize_at(zt_convfeat_intents(fc->f), zt_convfeat_stopwords(fc->f), cr.msgs, cr.n,
                         (size_t)cr.max_sentences, f->threshold, &now, &s);
    if (rc) {
        zt_conv_req_deinit(&cr);
        char err[256];
        snprintf(err, sizeof err, rc == ZT_ETOOBIG ? "the conversation has more than %d sentences"
                                                   : "a message is not valid UTF-8",
                 ZT_SUMMARY_MAX_SENTENCES);
        bad_request(rc, err, resp);
        return;
    }
    struct zt_buf sum;
    zt_buf_init(&sum, 1u << 20);
    rc = zt_summary_text(&s, cr.msgs, &sum);
    json_t *res = rc ? NULL
                     : json_pack("{s:s,s:s%,s:o*,s:o*,s:o*,s:o*,s:i,s:s}", "method", "extractive", "summary",
                                 zt_buf_str(&sum), sum.len, "key_messages", items_json(&cr, s.key, s.n_key, false),
                                 "decisions", items_json(&cr, s.decisions, s.n_decisions, false), "open_questions",
                                 items_json(&cr, s.questions, s.n_questions, false), "action_items",
                                 items_json(&cr, s.actions, s.n_actions, true), "sentences", (int)s.n_sentences,
                                 "language", s.lang);
    zt_buf_deinit(&sum);
    zt_summary_deinit(&s);
    answer(fc, req, f->model, true, &cr, res, resp);
    zt_conv_req_deinit(&cr);
}
