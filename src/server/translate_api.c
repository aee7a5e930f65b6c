/* translate_api.c: POST /v1/features/translate, GET /v1/features/translate/languages
 * and the "translation" annotator. See translate_api.h and docs/features/translate.md. */
#include <stdio.h>
#include <string.h>

#include "translate_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_pool.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_translate.h"

#define POOL_THREADS 4
#define POOL_QUEUE 256

struct zt__tr {
    struct zt_translate *t;
    struct zt_pool *pool;
    size_t max_bytes;
    double threshold;
    bool enabled;
};

int zt__tr_new(const struct zt_config *cfg, struct zt_translate *engine, struct zt__tr **out)
{
    const struct zt_cfg_translate *c = &cfg->features.translate;
    struct zt__tr *tr = zt_calloc(1, sizeof *tr);
    if (!tr) return ZT_ENOMEM;
    tr->t = engine;
    tr->max_bytes = (size_t)c->max_bytes;
    tr->threshold = c->threshold;
    tr->enabled = c->enabled;
    int rc = zt_pool_new(POOL_THREADS, POOL_QUEUE, &tr->pool);
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
    zt_pool_free(tr->pool); /* runs what is queued */
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

/* Translate one text. 0 with *used_src set and the translation appended to
 * out, or an HTTP status with code and msg. */
static int translate_one(struct zt__tr *tr, const char *src3, const char *dst3, const char *text, size_t len,
                         bool marks, const char **used_src, struct zt_buf *out, const char **code, char *msg,
                         size_t ml)
{
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
};

static void run_job(void *arg)
{
    struct job *j = arg;
    struct zt__tr *tr = j->tr;
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    const char *code = NULL;
    char msg[768];
    int st = 0;
    json_t *translations = json_array(), *sources = json_array();
    const char *src_all = j->r.source3;
    struct zt_buf out;
    zt_buf_init(&out, 8 * tr->max_bytes + 4096);
    for (size_t i = 0; i < j->r.n && !st && translations && sources; i++) {
        const char *used = NULL;
        zt_buf_reset(&out);
        st = translate_one(tr, j->r.source3, j->r.target3, j->r.texts[i], j->r.lens[i], j->r.keep_marks, &used,
                           &out, &code, msg, sizeof msg);
        if (st) break;
        if (!src_all) src_all = used;
        json_array_append_new(translations, json_stringn(zt_buf_str(&out), out.len));
        json_array_append_new(sources, lang_json(used));
    }
    zt_buf_deinit(&out);
    if (st) {
        zt_http_resp_error(&resp, st, code, msg);
        json_decref(translations);
        json_decref(sources);
    } else if (!translations || !sources) {
        zt_http_resp_error(&resp, 500, "internal", "out of memory");
        json_decref(translations);
        json_decref(sources);
    } else {
        json_t *o = json_pack("{s:o,s:b}", "target", lang_json(j->r.target3), "detected", j->r.source3 == NULL);
        if (o) {
            if (j->r.batch) {
                json_object_set_new(o, "translations", translations);
                json_object_set_new(o, "sources", sources); /* per text: detection may differ */
            } else {
                json_object_set_new(o, "translation", json_incref(json_array_get(translations, 0)));
                json_decref(translations);
                json_decref(sources);
            }
            json_object_set_new(o, "source", lang_json(src_all));
        } else {
            json_decref(translations);
            json_decref(sources);
        }
        zt_http_resp_json(&resp, 200, o);
    }
    zt_ignore(zt_http_async_respond(j->a, &resp)); /* ZT_ECLOSED: the client left */
    zt_http_resp_deinit(&resp);
    zt_http_async_release(j->a);
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
    j->tr = tr;
    j->body = json_incref(body);
    j->a = zt_http_req_defer(req, on_client_gone, NULL);
    if (!j->a || zt_pool_submit(tr->pool, run_job, j) != 0) {
        if (j->a) zt_http_async_abandon(j->a);
        json_decref(j->body);
        zt_free(j);
        zt_http_resp_error(resp, 503, "overloaded", "too many translations queued; retry shortly");
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
        st = translate_one(tr, src3, dst3, m->text, m->text_len, false, &used, &out, &code, msg, sizeof msg);
    }
    json_t *o;
    if (st) {
        o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    } else {
        o = json_pack("{s:o,s:o,s:s%,s:b}", "source", lang_json(used), "target", lang_json(dst3), "text",
                      zt_buf_str(&out), out.len, "detected", src3 == NULL);
    }
    zt_buf_deinit(&out);
    if (!o) return ZT_ENOMEM;
    return json_object_set_new(annotations, "translation", o) ? ZT_ENOMEM : 0;
}
