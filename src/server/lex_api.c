/* lex_api.c: sentiment, moderation and language routes. See lex_api.h. */
#include "lex_api.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_langid.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_moderation.h"
#include "zentalk/zt_sentiment.h"

#include "texts.h"


_Static_assert(ZT__TEXT_MAX == ZT_SENTIMENT_MAX_TEXT && ZT__TEXT_MAX == ZT_MODERATION_MAX_TEXT &&
                   ZT__TEXT_MAX == ZT_LANGID_MAX_TEXT,
               "one text limit for the three routes (texts.h)");

/* ---- request and response helpers ------------------------------------------- */

/* Scores are rounded (VADER: 3-4 decimals), so 17 significant digits would
 * print 0.83160000000000001: answer with 10. Takes the reference to j. */
static void respond(struct zt_http_resp *resp, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(j);
    if (!s) {
        zt_http_resp_error(resp, 500, "internal", "could not encode the response");
        return;
    }
    zt_buf_reset(&resp->body);
    int rc = zt_buf_append_str(&resp->body, s);
    if (!rc) rc = zt_buf_append_byte(&resp->body, '\n');
    void (*jfree)(void *);
    json_get_alloc_funcs(NULL, &jfree);
    jfree(s);
    if (rc) {
        zt_http_resp_error(resp, 500, "internal", "could not encode the response");
        return;
    }
    resp->status = 200;
    resp->content_type = "application/json";
}

static bool available(struct zt_lexfeat *f, enum zt_lexfeat_kind k, struct zt_http_resp *resp)
{
    const char *why;
    enum zt_feat_state st = zt_lexfeat_state(f, k, &why);
    if (st == ZT_FEAT_READY) return true;
    if (st == ZT_FEAT_DISABLED)
        zt_http_resp_error(resp, 403, "feature_disabled", why);
    else if (st == ZT_FEAT_ASSET_MISSING)
        zt_http_resp_error(resp, 503, "asset_missing", why);
    else
        zt_http_resp_error(resp, 503, "feature_unavailable", why);
    return false;
}

static void failed(struct zt_http_resp *resp, const char *feature, int rc, struct zt_http_req *req)
{
    zt_log(ZT_LOG_WARN, "feature_failed", "feature=%s error=\"%s\" request_id=%s", feature, zt_strerror(rc),
           zt_http_req_id(req));
    if (rc == ZT_EPARSE)
        zt_http_resp_error(resp, 400, "invalid_request", "a text is not valid UTF-8");
    else
        zt_http_resp_error(resp, 500, "internal", zt_strerror(rc));
}

/* {"result": r} or {"results": [r...]} */
static json_t *wrap(bool batch, json_t *results)
{
    if (!results) return NULL;
    if (batch) return json_pack("{s:o}", "results", results);
    json_t *one = json_incref(json_array_get(results, 0));
    json_decref(results);
    return one ? json_pack("{s:o}", "result", one) : NULL;
}

static bool lang_code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 3) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'a' || s[i] > 'z') return false;
    return true;
}

/* ---- one text ------------------------------------------------------------------ */

static int sentiment_one(struct zt_lexfeat *f, const char *text, size_t len, json_t **out)
{
    struct zt_sentiment_result r;
    enum zt_sentiment_mode mode = zt_lexfeat_sentiment_mode(f);
    int rc = zt_sentiment_score_mode(zt_lexfeat_sentiment(f, NULL), mode, text, len, &r);
    if (rc) return rc;
    *out = json_pack("{s:f,s:f,s:f,s:f,s:s,s:s}", "compound", r.compound, "pos", r.pos, "neu", r.neu, "neg", r.neg,
                     "label", zt_sentiment_label(&r, zt_lexfeat_config(f)->sentiment.threshold), "mode",
                     zt_sentiment_mode_name(mode));
    return *out ? 0 : ZT_ENOMEM;
}

static int language_one(struct zt_lexfeat *f, const char *text, size_t len, json_t **out)
{
    struct zt_langid_result r;
    int rc = zt_langid_detect(zt_lexfeat_langid(f, NULL), text, len, zt_lexfeat_config(f)->language.threshold, &r);
    if (rc) return rc;
    json_t *alts = json_array();
    for (size_t i = 0; alts && i < r.n_alts; i++)
        json_array_append_new(alts, json_pack("{s:s,s:s,s:f}", "language", r.alts[i].lang->code, "name",
                                              r.alts[i].lang->name, "distance_ratio",
                                              round(r.alts[i].distance_ratio * 1e4) / 1e4));
    *out = json_pack("{s:s,s:s,s:s?,s:f,s:s,s:o}", "language", r.code, "iso639_3", r.code3, "name",
                     strcmp(r.code, "und") == 0 ? NULL : r.lang->name, "confidence",
                     round(r.confidence * 1e4) / 1e4, "best", r.lang->code, "alternatives",
                     alts ? alts : json_array());
    return *out ? 0 : ZT_ENOMEM;
}

static int moderate_one(struct zt_lexfeat *f, const char *text, size_t len, const char *lang, json_t **out)
{
    struct zt_moderation_policy p;
    const char *lang_source;
    zt_lexfeat_moderation_policy(f, text, len, lang, &p, &lang_source);
    struct zt_moderation_result r;
    int rc = zt_moderation_check(zt_lexfeat_moderation(f, NULL), text, len, &p, &r);
    if (rc) return rc;
    json_t *cats = json_object();
    json_t *matches = json_array();
    for (int c = 0; cats && c < ZT_MOD_N_CATEGORIES; c++)
        json_object_set_new(cats, zt_moderation_category_name((enum zt_mod_category)c),
                            json_pack("{s:f,s:b,s:s}", "score", round(r.score[c] * 1e4) / 1e4, "matched",
                                      r.matched[c], "action", zt_moderation_action_name(p.actions[c])));
    for (size_t i = 0; matches && i < r.n_matches; i++)
        json_array_append_new(matches, json_pack("{s:s,s:s,s:f,s:b}", "category",
                                                 zt_moderation_category_name(r.matches[i].category), "term",
                                                 r.matches[i].term, "weight", round(r.matches[i].weight * 1e4) / 1e4,
                                                 "obfuscated", r.matches[i].obfuscated));
    *out = json_pack("{s:s,s:b,s:o,s:o,s:b,s:s?,s:s,s:b}", "action", zt_moderation_action_name(r.action), "flagged",
                     r.action != ZT_MOD_ALLOW, "categories", cats ? cats : json_object(), "matches",
                     matches ? matches : json_array(), "truncated", r.truncated, "language", p.lang,
                     "language_source", lang_source, "language_unsure", p.lang_unsure || !p.lang);
    return *out ? 0 : ZT_ENOMEM;
}

/* ---- handlers ------------------------------------------------------------------ */

enum which { W_SENT = ZT_LEXFEAT_SENTIMENT, W_MOD = ZT_LEXFEAT_MODERATION, W_LANG = ZT_LEXFEAT_LANGUAGE };

static void handle(struct zt_lexfeat *f, enum which w, struct zt_http_req *req, json_t *body,
                   struct zt_http_resp *resp)
{
    static const char *const mod_extra[] = {"language", NULL};
    static const char usage[] = "{\"text\": \"...\"} or {\"texts\": [\"...\", ...]}";
    static const char mod_usage[] = "{\"text\": \"...\"} or {\"texts\": [...]}, with an optional "
                                    "\"language\": \"<ISO 639-1 code>\"";
    static const char *const names[] = {"sentiment", "moderation", "language"};
    if (!available(f, (enum zt_lexfeat_kind)w, resp)) return;
    struct zt__texts tx;
    if (!zt__texts_get(body, w == W_MOD ? mod_extra : NULL, w == W_MOD ? mod_usage : usage, &tx, resp)) return;
    const char *lang = NULL;
    if (w == W_MOD) {
        json_t *lj = json_object_get(body, "language");
        if (lj && (!json_is_string(lj) || !lang_code_ok(json_string_value(lj)))) {
            zt_http_resp_error(resp, 400, "invalid_request",
                               "\"language\" must be an ISO 639-1 code in lower case, such as \"en\"");
            return;
        }
        lang = lj ? json_string_value(lj) : NULL;
    }
    json_t *results = json_array();
    if (!results) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    for (size_t i = 0; i < tx.n; i++) {
        const char *t = json_string_value(zt__texts_at(&tx, i));
        size_t len = json_string_length(zt__texts_at(&tx, i));
        json_t *one = NULL;
        int rc = w == W_SENT ? sentiment_one(f, t, len, &one)
                 : w == W_MOD ? moderate_one(f, t, len, lang, &one)
                              : language_one(f, t, len, &one);
        if (rc) {
            json_decref(results);
            failed(resp, names[w], rc, req);
            return;
        }
        json_array_append_new(results, one);
    }
    respond(resp, wrap(tx.arr != NULL, results));
}

void zt__lexfeat_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    handle(ud, (enum which)cx->arg, cx->req, body, resp);
}
