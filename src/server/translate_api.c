/* translate_api.c: POST /v1/features/translate and GET
 * /v1/features/translate/languages over the translation service
 * (zt_translate.h). See translate_api.h and docs/features/translate.md. */
#include <stdio.h>

#include "fair_api.h"
#include "translate_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_translate.h"

#define BATCH_BUDGET 4 /* a batch holds at most this many times max_bytes in total */

/* ---- POST /v1/features/translate ---------------------------------------- */

/* A deferred request (its strings live in the body it holds). */
struct job {
    struct zt__fair_req fr;
};

static bool job_gone(void *ud)
{
    return zt__fair_client_gone(&((struct job *)ud)->fr);
}

/* Answer the batch's outcome and free the job. */
static void job_done(void *ud, const struct zt_translate_req *r, struct zt_translate_batch *b)
{
    struct job *j = ud;
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    if (b->status) {
        zt_http_resp_error(&resp, b->status, b->code, b->msg);
    } else {
        json_t *o = json_pack("{s:o,s:b,s:s}", "target", zt_translate_lang_json(r->target3), "detected",
                              r->source3 == NULL, "method", b->by_llm ? "llm" : "apertium");
        if (o && b->fallback) json_object_set_new(o, "fallback", json_string(b->fallback));
        if (o) {
            if (r->batch) {
                json_object_set(o, "translations", b->translations);
                json_object_set(o, "sources", b->sources); /* per text: detection may differ */
            } else {
                json_object_set(o, "translation", json_array_get(b->translations, 0));
            }
            json_object_set_new(o, "source", zt_translate_lang_json(b->source3));
        }
        zt_http_resp_json(&resp, 200, o);
    }
    zt__fair_answer(&j->fr, &resp);
    zt_free(j);
}

void zt__tr_h_translate(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_translate_svc *tr = ud;
    if (!zt_translate_svc_enabled(tr)) {
        zt_http_resp_error(resp, 503, "feature_disabled", "translation is disabled (features.translate.enabled)");
        return;
    }
    const char *code = NULL;
    char msg[512];
    size_t max_bytes = zt_translate_svc_max_bytes(tr);
    struct zt_translate_req r;
    int st = zt_translate_req_parse(body, max_bytes, &r, &code, msg, sizeof msg);
    if (st) {
        zt_http_resp_error(resp, st, code, msg);
        return;
    }
    size_t total = 0; /* the request's work budget */
    for (size_t i = 0; i < r.n; i++) total += r.lens[i];
    if (zt__fair_over_budget(resp, total, BATCH_BUDGET * max_bytes, " (4 x features.translate.max_bytes)")) return;
    struct job *j = zt_calloc(1, sizeof *j);
    if (!j) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    char caller[160];
    zt__fair_caller(cx, caller, sizeof caller);
    int rc = zt__fair_defer(&j->fr, cx, body);
    if (!rc) rc = zt_translate_svc_submit(tr, caller, &r, job_gone, job_done, j);
    if (rc) {
        zt__fair_refused(&j->fr, resp, rc, "translations");
        zt_free(j);
    }
}

/* ---- GET /v1/features/translate/languages ------------------------------- */

void zt__tr_h_languages(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_translate_svc *tr = ud;
    struct zt_translate *t = zt_translate_svc_engine(tr);
    (void)cx, (void)body;
    json_t *pairs = json_array();
    size_t n = zt_translate_pair_count(t);
    for (size_t i = 0; i < n && pairs; i++) {
        const char *s, *d;
        zt_translate_pair(t, i, &s, &d);
        char mode[8];
        snprintf(mode, sizeof mode, "%s-%s", s, d);
        json_array_append_new(pairs, json_pack("{s:s,s:o,s:o}", "mode", mode, "source", zt_translate_lang_json(s),
                                               "target", zt_translate_lang_json(d)));
    }
    zt_http_resp_json(resp, 200,
                      json_pack("{s:o*,s:b,s:b,s:s}", "pairs", pairs, "enabled", zt_translate_svc_enabled(tr),
                                "detection", zt_translate_has_detector(t), "engine", "apertium"));
}
