/* spam_api.c: HTTP routes of spam detection, entities and preprocessing.
 * See spam_api.h. Handlers never log message content. */
#include "spam_api.h"

#include <stdio.h>
#include <string.h>

#include "zentalk/zt_asset.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_entities.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_text.h"
#include "zentalk/zt_time.h"

#include "texts.h"

/* ---- request shape --------------------------------------------------------- */

static int disabled(const struct zt_cfg_feature *fc, const char *name, struct zt_http_resp *resp)
{
    if (fc->enabled) return 0;
    char msg[128];
    snprintf(msg, sizeof msg, "the %s feature is disabled (features.%s.enabled)", name, name);
    zt_http_resp_error(resp, 403, "feature_disabled", msg);
    return 1;
}

/* The texts of a request to feature name (configured by fc; NULL: always
 * on), with the route's options (texts.h). Fills resp (403 for a disabled
 * feature, 400 for bad input) and returns -1 when there are none. */
static int get_texts(json_t *body, const char *const *options, const struct zt_cfg_feature *fc, const char *name,
                     struct zt__texts *out, struct zt_http_resp *resp)
{
    if (fc && disabled(fc, name, resp)) return -1;
    return zt__texts_get(body, options, NULL, out, resp) ? 0 : -1;
}

/* Wrap per-text results: {"result": R} or {"results": [R...]} */
static void answer(struct zt_http_resp *resp, json_t *arr_in, json_t *results)
{
    if (!results) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    json_t *o = arr_in ? json_pack("{s:o}", "results", results)
                       : json_pack("{s:O}", "result", json_array_get(results, 0));
    if (!arr_in) json_decref(results);
    zt_http_resp_json(resp, 200, o);
}


/* ---- spam ------------------------------------------------------------------ */

void zt__feat_spam_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_spamfeat *f = ud;
    (void)cx;
    static const char *const options[] = {"threshold", "top", NULL};
    struct zt__texts tx;
    if (get_texts(body, options, &zt_spamfeat_config(f)->spam, "spam", &tx, resp)) return;
    double threshold = zt_spamfeat_config(f)->spam.threshold;
    json_t *th = json_object_get(body, "threshold");
    if (th && (!json_is_number(th) || json_number_value(th) < 0 || json_number_value(th) > 1)) {
        zt_http_resp_error(resp, 400, "invalid_request", "\"threshold\" must be a number in [0, 1]");
        return;
    }
    if (th) threshold = json_number_value(th);
    json_t *tp = json_object_get(body, "top");
    if (tp && (!json_is_integer(tp) || json_integer_value(tp) < 0 || json_integer_value(tp) > ZT_SPAM_TOP_MAX)) {
        zt_http_resp_error(resp, 400, "invalid_request", "\"top\" must be an integer in [0, 16]");
        return;
    }
    size_t top = tp ? (size_t)json_integer_value(tp) : 5;
    if (!zt_spamfeat_model(f)) {
        char m[ZT_ASSET_MISSING_MSG_MAX];
        zt_asset_missing_message("the spam model", "spam.zta", m, sizeof m);
        zt_http_resp_error(resp, 503, "asset_missing", m);
        return;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < tx.n && results; i++) {
        json_t *s = zt__texts_at(&tx, i);
        struct zt_spam_result r;
        int rc = zt_spam_classify(zt_spamfeat_model(f), json_string_value(s), json_string_length(s), threshold, top, &r);
        if (rc) {
            json_decref(results);
            zt_http_resp_error(resp, rc == ZT_ENOMEM ? 500 : 400, rc == ZT_ENOMEM ? "internal" : "invalid_request",
                               rc == ZT_ENOMEM ? "out of memory" : "text is not valid UTF-8");
            return;
        }
        json_t *feats = json_array();
        for (size_t k = 0; k < r.n_top && feats; k++)
            json_array_append_new(feats, json_pack("{s:s,s:s,s:f}", "feature", r.top[k].name, "kind", r.top[k].kind,
                                                   "weight", r.top[k].weight));
        json_t *o = json_pack("{s:s,s:b,s:f,s:f,s:o*}", "label", r.spam ? "spam" : "ham", "spam", r.spam,
                              "probability", r.probability, "threshold", threshold, "features", feats);
        if (!o || json_array_append_new(results, o) != 0) {
            json_decref(results);
            results = NULL;
        }
    }
    answer(resp, tx.arr, results);
}

/* ---- entities -------------------------------------------------------------- */

static json_t *entity_json(const char *text, const struct zt_entity *e)
{
    json_t *o = json_pack("{s:s,s:s%,s:I,s:I,s:I,s:I,s:s}", "type", zt_entity_type_name(e->type), "text", text + e->off,
                          e->len, "start", (json_int_t)e->off, "end", (json_int_t)(e->off + e->len), "start_cp",
                          (json_int_t)e->cp_off, "end_cp", (json_int_t)(e->cp_off + e->cp_len), "value", e->value);
    if (!o) return NULL;
    if (e->type == ZT_ENT_MONEY) {
        json_object_set_new(o, "currency", json_string(e->detail));
        json_object_set_new(o, "amount", json_real(e->amount));
    } else if (e->type == ZT_ENT_WALLET) {
        json_object_set_new(o, "network", json_string(strcmp(e->detail, "eth") == 0 ? "ethereum" : "bitcoin"));
        if (strcmp(e->detail, "eth") != 0) json_object_set_new(o, "kind", json_string(e->detail));
        json_object_set_new(o, "valid", json_boolean(e->valid));
    } else if (e->type == ZT_ENT_PHONE) {
        json_object_set_new(o, "national", json_boolean(e->detail[0] != '\0'));
    }
    return o;
}

void zt__feat_entities_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_spamfeat *f = ud;
    (void)cx;
    static const char *const options[] = {"now", "date_order", NULL};
    struct zt__texts tx;
    if (get_texts(body, options, &zt_spamfeat_config(f)->entities, "entities", &tx, resp)) return;
    struct zt_entities_ref ref = {.now = zt_time_real_ms() / 1000, .utc_offset = 0};
    json_t *now = json_object_get(body, "now");
    if (now && (!json_is_string(now) || zt_entities_parse_time(json_string_value(now), &ref) != 0)) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "\"now\" must be an ISO 8601 date-time with an offset, e.g. \"2026-12-01T09:30:00+01:00\"");
        return;
    }
    json_t *order = json_object_get(body, "date_order");
    if (order) {
        const char *o = json_string_value(order);
        if (zt_str_eq(o, "dmy")) ref.flags |= ZT_ENT_DMY;
        else if (!zt_str_eq(o, "mdy")) {
            zt_http_resp_error(resp, 400, "invalid_request", "\"date_order\" must be \"mdy\" or \"dmy\"");
            return;
        }
    }
    struct zt_entity *ents = zt_calloc(ZT__FEAT_ENTITIES_MAX, sizeof *ents);
    json_t *results = ents ? json_array() : NULL;
    for (size_t i = 0; i < tx.n && results; i++) {
        json_t *s = zt__texts_at(&tx, i);
        const char *text = json_string_value(s);
        size_t k = 0;
        int rc = zt_entities_extract(text, json_string_length(s), &ref, ents, ZT__FEAT_ENTITIES_MAX, &k);
        if (rc) {
            json_decref(results);
            zt_free(ents);
            zt_http_resp_error(resp, 400, "invalid_request", "text is not valid UTF-8");
            return;
        }
        json_t *list = json_array();
        for (size_t j = 0; j < k && j < ZT__FEAT_ENTITIES_MAX && list; j++)
            if (json_array_append_new(list, entity_json(text, &ents[j])) != 0) {
                json_decref(list);
                list = NULL;
            }
        json_t *o = json_pack("{s:o*,s:b}", "entities", list, "truncated", k > ZT__FEAT_ENTITIES_MAX);
        if (!o || !list || json_array_append_new(results, o) != 0) {
            json_decref(results);
            results = NULL;
        }
    }
    zt_free(ents);
    answer(resp, tx.arr, results);
}

/* ---- preprocess ------------------------------------------------------------ */

static const char *kind_name(enum zt_tok_kind k)
{
    switch (k) {
    case ZT_TOK_WORD: return "word";
    case ZT_TOK_NUMBER: return "number";
    case ZT_TOK_URL: return "url";
    case ZT_TOK_EMOJI: return "emoji";
    case ZT_TOK_PUNCT: return "punct";
    }
    return "unknown";
}

static json_t *preprocess_one(const char *text, size_t len)
{
    char *norm = NULL;
    size_t nl = 0;
    struct zt_token *toks = NULL;
    json_t *o = NULL, *tl = NULL, *em = NULL;
    if (zt_text_normalize(text, len, ZT_TEXT_NFKC | ZT_TEXT_CASEFOLD | ZT_TEXT_STRIP_CC, &norm, &nl) != 0) goto out;
    size_t n = 0;
    toks = zt_calloc(len + 1, sizeof *toks);
    if (!toks || zt_text_tokenize(text, len, toks, len + 1, &n) != 0) goto out;
    tl = json_array();
    em = json_array();
    for (size_t i = 0; i < n && tl && em; i++) {
        const struct zt_token *t = &toks[i];
        char fold[256];
        long fl = zt_text_token_fold(text, t, fold, sizeof fold);
        if (fl == ZT_EPARSE) goto out;
        json_t *flags = json_array();
        if (flags && (t->flags & ZT_TOK_F_UPPER)) json_array_append_new(flags, json_string("upper"));
        if (flags && (t->flags & ZT_TOK_F_TITLE)) json_array_append_new(flags, json_string("title"));
        json_array_append_new(tl, json_pack("{s:s%,s:s,s:s,s:I,s:I,s:o*}", "text", text + t->off, t->len, "folded",
                                            fold, "kind", kind_name(t->kind), "start", (json_int_t)t->off, "end",
                                            (json_int_t)(t->off + t->len), "flags", flags));
        if (t->kind == ZT_TOK_EMOJI) json_array_append_new(em, json_stringn(text + t->off, t->len));
    }
    o = json_pack("{s:s%,s:O,s:O}", "normalized", norm, nl, "tokens", tl, "emoji", em);
out:
    json_decref(tl);
    json_decref(em);
    zt_free(toks);
    zt_free(norm);
    return o;
}

void zt__feat_preprocess_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_spamfeat *f = ud;
    struct zt_http_req *req = cx->req;
    (void)f, (void)req;
    static const char *const options[] = {NULL};
    struct zt__texts tx;
    if (get_texts(body, options, NULL, "preprocess", &tx, resp)) return;
    json_t *results = json_array();
    for (size_t i = 0; i < tx.n && results; i++) {
        json_t *s = zt__texts_at(&tx, i);
        json_t *o = preprocess_one(json_string_value(s), json_string_length(s));
        if (!o || json_array_append_new(results, o) != 0) {
            json_decref(results);
            results = NULL;
        }
    }
    answer(resp, tx.arr, results);
}
