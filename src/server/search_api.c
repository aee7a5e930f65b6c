/* search_api.c: POST /v1/search/{index,query,delete} and
 * POST /v1/features/categorize (search_api.h, docs/api.md). */
#include <stdio.h>
#include <string.h>

#include "search_api.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_categorize.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"


/* ---- handlers ---------------------------------------------------------------- */

static void store_error(struct zt_http_resp *resp, int rc)
{
    if (rc == ZT_ENOMEM)
        zt_http_resp_error(resp, 500, "internal", "out of memory");
    else if (rc == ZT_EBUSY)
        zt_http_resp_error(resp, 503, "store_busy", "the search store is busy; retry");
    else if (rc == ZT_ECRYPTO)
        zt_http_resp_error(resp, 500, "store_corrupt", "a stored message failed authentication");
    else if (rc == ZT_EPARSE)
        zt_http_resp_error(resp, 400, "invalid_request", "text is not valid UTF-8");
    else if (rc == ZT_EINVAL)
        zt_http_resp_error(resp, 400, "invalid_request", "invalid argument");
    else if (rc == ZT_EPERM)
        zt_http_resp_error(resp, 403, "quota_exceeded",
                           "the user's search index is at its quota (features.search.max_messages_per_user, "
                           "max_bytes_per_user); delete messages to make room");
    else
        zt_http_resp_error(resp, 500, "store_error", "the search store failed");
}

/* Whether the request parsed (rc of its _parse); answers it when not. */
static bool parsed(int rc, const char *why, struct zt_http_resp *resp)
{
    if (rc == ZT_ENOMEM)
        zt_http_resp_error(resp, 500, "internal", "out of memory");
    else if (rc)
        zt_http_resp_error(resp, 400, "invalid_request", why);
    return rc == 0;
}

/* Whether the GloVe asset is loaded; answers 503 when not. */
static bool have_embed(struct zt_searchfeat *f, struct zt_http_resp *resp)
{
    if (zt_searchfeat_embed(f)) return true;
    char m[ZT_ASSET_MISSING_MSG_MAX];
    zt_asset_missing_message("the word vectors", ZT_EMBED_ASSET, m, sizeof m);
    zt_http_resp_error(resp, 503, "asset_missing", m);
    return false;
}

static void search_handle(struct zt_searchfeat *f, enum zt_search_op op, const struct zt_auth_principal *caller,
                          json_t *body, struct zt_http_resp *resp)
{
    if (!zt_searchfeat_config(f)->search.enabled) {
        zt_http_resp_error(resp, 403, "feature_disabled", "search is disabled (features.search.enabled)");
        return;
    }
    char why[160];
    struct zt_search_req r;
    int rc = zt_search_req_parse(op, body, &r, why, sizeof why);
    if (!parsed(rc, why, resp)) return;
    if (!zt_search_may_act(caller, r.user)) {
        zt_http_resp_error(resp, 403, "forbidden",
                           "\"user\" must be the caller's own identity unless the caller is admin");
        goto out;
    }
    if (!have_embed(f, resp)) goto out;
    struct zt_search *se = zt_searchfeat_engine(f);
    if (!se) {
        zt_http_resp_error(resp, 503, "store_unavailable", "the search store could not be opened (see the node log)");
        goto out;
    }
    if (op == ZT_SEARCH_OP_INDEX) {
        rc = zt_search_index(se, r.user, r.msgs, r.n_msgs);
        if (rc) {
            store_error(resp, rc);
            goto out;
        }
        zt_http_resp_json(resp, 200, json_pack("{s:{s:I}}", "result", "indexed", (json_int_t)r.n_msgs));
    } else if (op == ZT_SEARCH_OP_QUERY) {
        struct zt_search_hit *h = NULL;
        size_t n = 0;
        rc = zt_search_query(se, r.user, r.query, r.query_len, r.limit, &h, &n);
        if (rc) {
            store_error(resp, rc);
            goto out;
        }
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
            json_t *o = json_pack("{s:s,s:s,s:f,s:f,s:f,s:I}", "id", h[i].id, "text", h[i].text, "score",
                                  h[i].score, "bm25", h[i].bm25, "similarity", h[i].similarity,
                                  "indexed_at_ms", (json_int_t)h[i].ts);
            if (!o || json_array_append_new(arr, o)) {
                json_decref(arr);
                arr = NULL;
            }
        }
        zt_search_hits_free(h, n);
        if (!arr) {
            zt_http_resp_error(resp, 500, "internal", "out of memory");
            goto out;
        }
        zt_http_resp_json(resp, 200, json_pack("{s:o}", "results", arr));
    } else {
        size_t n = 0;
        if (r.id) {
            bool found = false;
            rc = zt_search_delete(se, r.user, r.id, r.id_len, &found);
            n = found;
        } else {
            rc = zt_search_delete_user(se, r.user, &n);
        }
        if (rc) {
            store_error(resp, rc);
            goto out;
        }
        zt_http_resp_json(resp, 200, json_pack("{s:{s:I,s:b}}", "result", "deleted", (json_int_t)n,
                                               "user_key_destroyed", r.id == NULL));
    }
out:
    zt_search_req_deinit(&r);
}

static json_t *cat_result(const struct zt_categorizer *c, const struct zt_cfg_categorize *cc,
                          const char *const *texts, const size_t *lens, size_t n, int *err)
{
    struct zt_category_pick p;
    *err = zt_categorize_pick(c, texts, lens, n, (size_t)cc->top, cc->threshold, &p);
    if (*err) return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p.n_shown; i++)
        if (json_array_append_new(arr, json_pack("{s:s,s:f}", "name", p.shown[i].name, "score", p.shown[i].score))) {
            json_decref(arr);
            arr = NULL;
        }
    json_t *o = arr ? json_pack("{s:s,s:f,s:o,s:I}", "category", p.category, "score", p.score, "categories", arr,
                                "words", (json_int_t)p.found)
                    : NULL;
    if (!o) *err = ZT_ENOMEM;
    return o;
}

void zt__search_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    search_handle(ud, (enum zt_search_op)cx->arg, &cx->principal, body, resp);
}

void zt__categorize_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx;
    struct zt_searchfeat *f = ud;
    const struct zt_cfg_categorize *cc = &zt_searchfeat_config(f)->categorize;
    if (!cc->enabled) {
        zt_http_resp_error(resp, 403, "feature_disabled", "categorisation is disabled (features.categorize.enabled)");
        return;
    }
    char why[160];
    struct zt_categorize_req r;
    int rc = zt_categorize_req_parse(body, &r, why, sizeof why);
    if (!parsed(rc, why, resp)) return;
    if (!have_embed(f, resp)) goto out;
    const char *cat_why = NULL;
    const struct zt_categorizer *cat = zt_searchfeat_categorizer(f, &cat_why);
    if (!cat) {
        zt_http_resp_error(resp, 503, "categories_invalid", cat_why);
        goto out;
    }
    json_t *res = NULL;
    if (r.batch) {
        res = json_array();
        for (size_t i = 0; res && i < r.n; i++) {
            json_t *o = cat_result(cat, cc, &r.texts[i], &r.lens[i], 1, &rc);
            if (!o || json_array_append_new(res, o)) {
                json_decref(res);
                res = NULL;
            }
        }
    } else {
        res = cat_result(cat, cc, r.texts, r.lens, r.n, &rc);
    }
    if (!res) {
        if (rc == ZT_EPARSE)
            zt_http_resp_error(resp, 400, "invalid_request", "text is not valid UTF-8");
        else
            zt_http_resp_error(resp, 500, "internal", "out of memory");
        goto out;
    }
    zt_http_resp_json(resp, 200, json_pack("{s:o}", r.batch ? "results" : "result", res));
out:
    zt_categorize_req_deinit(&r);
}
