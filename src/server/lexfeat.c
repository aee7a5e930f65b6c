/* lexfeat.c: sentiment, moderation and language routes. See lexfeat.h. */
#include "lexfeat.h"

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

#define WHY_LEN 4400 /* a path (4096) and a reason */
#define TEXT_MAX 65536 /* every feature's ZT_*_MAX_TEXT */

_Static_assert(TEXT_MAX == ZT_SENTIMENT_MAX_TEXT && TEXT_MAX == ZT_MODERATION_MAX_TEXT &&
                   TEXT_MAX == ZT_LANGID_MAX_TEXT,
               "one text limit for the three routes");

struct zt__lexfeat {
    const struct zt_config *cfg;
    struct zt_sentiment *sent;
    struct zt_moderation *mod;
    struct zt_langid *lang;
    struct zt_moderation_policy policy;
    char sent_why[WHY_LEN], mod_why[WHY_LEN], lang_why[WHY_LEN];
};

static void load_asset_why(char *why, const char *path, int rc)
{
    snprintf(why, WHY_LEN, "cannot load %s: %s%s", path, zt_strerror(rc),
             rc == ZT_ENOTFOUND || rc == ZT_EUNSUPPORTED ? " (run `make data`)" : "");
}

int zt__lexfeat_new(const struct zt_config *cfg, struct zt__lexfeat **out)
{
    struct zt__lexfeat *f = zt_calloc(1, sizeof *f);
    if (!f) return ZT_ENOMEM;
    f->cfg = cfg;
    const struct zt_cfg_features *fe = &cfg->features;
    char path[4096];
    int rc;
    if (!fe->sentiment.enabled) {
        snprintf(f->sent_why, WHY_LEN, "features.sentiment.enabled is false");
    } else if ((rc = zt_asset_path(cfg->node.data_dir, ZT_SENTIMENT_ASSET, path, sizeof path)) != 0 ||
               (rc = zt_sentiment_load(path, &f->sent)) != 0) {
        load_asset_why(f->sent_why, path, rc);
        zt_log(ZT_LOG_WARN, "feature_unavailable", "feature=sentiment reason=\"%s\"", f->sent_why);
    }
    if (!fe->moderation.enabled) {
        snprintf(f->mod_why, WHY_LEN, "features.moderation.enabled is false");
    } else if ((rc = zt_asset_path(cfg->node.data_dir, ZT_MODERATION_ASSET, path, sizeof path)) != 0 ||
               (rc = zt_moderation_load(path, &f->mod)) != 0) {
        load_asset_why(f->mod_why, path, rc);
        zt_log(ZT_LOG_WARN, "feature_unavailable", "feature=moderation reason=\"%s\"", f->mod_why);
    }
    f->policy.threshold = fe->moderation.threshold;
    const struct zt_cfg_moderation_actions *a = &fe->moderation.actions;
    const char *acts[ZT_MOD_N_CATEGORIES];
    acts[ZT_MOD_PROFANITY] = a->profanity;
    acts[ZT_MOD_SEXUAL] = a->sexual;
    acts[ZT_MOD_HATE] = a->hate;
    acts[ZT_MOD_HARASSMENT] = a->harassment;
    acts[ZT_MOD_SELF_HARM] = a->self_harm;
    acts[ZT_MOD_SPAM_LINKS] = a->spam_links;
    for (int c = 0; c < ZT_MOD_N_CATEGORIES; c++)
        if (zt_moderation_action_parse(acts[c], &f->policy.actions[c]) != 0) f->policy.actions[c] = ZT_MOD_FLAG;
    if (!fe->language.enabled) {
        snprintf(f->lang_why, WHY_LEN, "features.language.enabled is false");
    } else {
        const char *bad = NULL;
        rc = zt_langid_new(fe->language.fingerprints_dir, (const char *const *)fe->language.languages.items,
                           fe->language.languages.count, &f->lang, &bad);
        if (rc) {
            if (rc == ZT_EINVAL && bad)
                snprintf(f->lang_why, WHY_LEN, "features.language.languages: unknown language \"%s\"", bad);
            else
                snprintf(f->lang_why, WHY_LEN, "cannot load the libexttextcat fingerprints of %s from %s: %s",
                         bad ? bad : "the languages", fe->language.fingerprints_dir, zt_strerror(rc));
            zt_log(ZT_LOG_WARN, "feature_unavailable", "feature=language reason=\"%s\"", f->lang_why);
        }
    }
    *out = f;
    return 0;
}

void zt__lexfeat_free(struct zt__lexfeat *f)
{
    if (!f) return;
    zt_sentiment_free(f->sent);
    zt_moderation_free(f->mod);
    zt_langid_free(f->lang);
    zt_free(f);
}

const struct zt_sentiment *zt__lexfeat_sentiment(const struct zt__lexfeat *f)
{
    return f->sent;
}

const struct zt_moderation *zt__lexfeat_moderation(const struct zt__lexfeat *f)
{
    return f->mod;
}

struct zt_langid *zt__lexfeat_langid(const struct zt__lexfeat *f)
{
    return f->lang;
}

void zt__lexfeat_policy(const struct zt__lexfeat *f, struct zt_moderation_policy *p)
{
    *p = f->policy;
    p->lang = NULL;
}

/* ---- request and response helpers ------------------------------------------- */

/* Scores are rounded (VADER: 3-4 decimals), so 17 significant digits would
 * print 0.83160000000000001: answer with 10. */
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

/* body must be {"text": string} plus the optional keys named in extra;
 * false (resp filled with a 400 or 413) otherwise. */
static bool get_text(json_t *body, const char *const *extra, const char *usage, const char **text,
                     size_t *len, struct zt_http_resp *resp)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        bool known = strcmp(key, "text") == 0;
        for (size_t i = 0; extra && extra[i] && !known; i++) known = strcmp(key, extra[i]) == 0;
        if (!known) {
            char msg[WHY_LEN];
            snprintf(msg, sizeof msg, "unknown field \"%.64s\"; the body is %s", key, usage);
            zt_http_resp_error(resp, 400, "invalid_request", msg);
            return false;
        }
    }
    json_t *t = json_object_get(body, "text");
    if (!json_is_string(t)) {
        char msg[WHY_LEN];
        snprintf(msg, sizeof msg, "\"text\" must be a string; the body is %s", usage);
        zt_http_resp_error(resp, 400, "invalid_request", msg);
        return false;
    }
    *text = json_string_value(t);
    *len = json_string_length(t);
    if (*len > TEXT_MAX) {
        zt_http_resp_error(resp, 413, "payload_too_large", "\"text\" is longer than 65536 bytes");
        return false;
    }
    return true;
}

static bool available(const void *obj, const char *why, struct zt_http_resp *resp)
{
    if (obj) return true;
    bool disabled = strstr(why, "enabled is false") != NULL;
    zt_http_resp_error(resp, 503, disabled ? "feature_disabled" : "feature_unavailable", why);
    return false;
}

static void internal(struct zt_http_resp *resp, const char *feature, int rc, struct zt_http_req *req)
{
    zt_log(ZT_LOG_WARN, "feature_failed", "feature=%s error=\"%s\" request_id=%s", feature, zt_strerror(rc),
           zt_http_req_id(req));
    if (rc == ZT_EPARSE)
        zt_http_resp_error(resp, 400, "invalid_request", "\"text\" is not valid UTF-8");
    else
        zt_http_resp_error(resp, 500, "internal", zt_strerror(rc));
}

/* ---- handlers ------------------------------------------------------------------ */

void zt__lexfeat_h_sentiment(struct zt__lexfeat *f, struct zt_http_req *req, json_t *body,
                             struct zt_http_resp *resp)
{
    const char *text;
    size_t len;
    if (!available(f->sent, f->sent_why, resp)) return;
    if (!get_text(body, NULL, "{\"text\": \"...\"}", &text, &len, resp)) return;
    struct zt_sentiment_result r;
    int rc = zt_sentiment_score(f->sent, text, len, &r);
    if (rc) {
        internal(resp, "sentiment", rc, req);
        return;
    }
    respond(resp, json_pack("{s:f,s:f,s:f,s:f,s:s}", "compound", r.compound, "pos", r.pos, "neu", r.neu, "neg",
                            r.neg, "label", zt_sentiment_label(&r, f->cfg->features.sentiment.threshold)));
}

static json_t *lang_json(const struct zt_langid_result *r)
{
    json_t *alts = json_array();
    for (size_t i = 0; alts && i < r->n_alts; i++)
        json_array_append_new(alts, json_pack("{s:s,s:s,s:f}", "language", r->alts[i].lang->code, "name",
                                              r->alts[i].lang->name, "distance_ratio", round(r->alts[i].distance_ratio * 1e4) / 1e4));
    return json_pack("{s:s,s:s,s:s?,s:f,s:s,s:o}", "language", r->code, "iso639_3", r->code3, "name",
                     strcmp(r->code, "und") == 0 ? NULL : r->lang->name, "confidence", round(r->confidence * 1e4) / 1e4, "best",
                     r->lang->code, "alternatives", alts ? alts : json_array());
}

void zt__lexfeat_h_language(struct zt__lexfeat *f, struct zt_http_req *req, json_t *body,
                            struct zt_http_resp *resp)
{
    const char *text;
    size_t len;
    if (!available(f->lang, f->lang_why, resp)) return;
    if (!get_text(body, NULL, "{\"text\": \"...\"}", &text, &len, resp)) return;
    struct zt_langid_result r;
    int rc = zt_langid_detect(f->lang, text, len, f->cfg->features.language.threshold, &r);
    if (rc) {
        internal(resp, "language", rc, req);
        return;
    }
    respond(resp, lang_json(&r));
}

static bool lang_code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 3) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'a' || s[i] > 'z') return false;
    return true;
}

void zt__lexfeat_h_moderate(struct zt__lexfeat *f, struct zt_http_req *req, json_t *body,
                            struct zt_http_resp *resp)
{
    static const char *const extra[] = {"language", NULL};
    static const char usage[] = "{\"text\": \"...\", \"language\": \"<ISO 639-1 code, optional>\"}";
    const char *text;
    size_t len;
    if (!available(f->mod, f->mod_why, resp)) return;
    if (!get_text(body, extra, usage, &text, &len, resp)) return;
    struct zt_moderation_policy p = f->policy;
    p.lang = NULL;
    const char *lang_source = "none";
    json_t *lj = json_object_get(body, "language");
    if (lj) {
        if (!json_is_string(lj) || !lang_code_ok(json_string_value(lj))) {
            zt_http_resp_error(resp, 400, "invalid_request",
                               "\"language\" must be an ISO 639-1 code in lower case, such as \"en\"");
            return;
        }
        p.lang = json_string_value(lj);
        lang_source = "request";
    } else if (f->lang) {
        struct zt_langid_result lr;
        if (zt_langid_detect(f->lang, text, len, f->cfg->features.language.threshold, &lr) == 0 &&
            strcmp(lr.code, "und") != 0) {
            p.lang = lr.code;
            lang_source = "detected";
        }
    }
    struct zt_moderation_result r;
    int rc = zt_moderation_check(f->mod, text, len, &p, &r);
    if (rc) {
        internal(resp, "moderation", rc, req);
        return;
    }
    json_t *cats = json_object();
    json_t *matches = json_array();
    for (int c = 0; cats && c < ZT_MOD_N_CATEGORIES; c++)
        json_object_set_new(cats, zt_moderation_category_name((enum zt_mod_category)c),
                            json_pack("{s:f,s:b,s:s}", "score", r.score[c], "matched", r.matched[c], "action",
                                      zt_moderation_action_name(p.actions[c])));
    for (size_t i = 0; matches && i < r.n_matches; i++)
        json_array_append_new(matches, json_pack("{s:s,s:s,s:f,s:b}", "category",
                                                 zt_moderation_category_name(r.matches[i].category), "term",
                                                 r.matches[i].term, "weight", r.matches[i].weight,
                                                 "obfuscated", r.matches[i].obfuscated));
    respond(resp, json_pack("{s:s,s:b,s:o,s:o,s:b,s:s?,s:s}", "action", zt_moderation_action_name(r.action),
                            "flagged", r.action != ZT_MOD_ALLOW, "categories", cats ? cats : json_object(),
                            "matches", matches ? matches : json_array(), "truncated", r.truncated, "language",
                            p.lang, "language_source", lang_source));
}
