/* search_api.c: POST /v1/search/{index,query,delete} and
 * POST /v1/features/categorize (feat_search.h, docs/api.md). */
#include <stdio.h>
#include <string.h>

#include "search_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_categorize.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"

#define ASSET_MSG "the %s asset is not installed; run `make data`"

struct zt__feat_search {
    const struct zt_config *cfg;
    struct zt_embed *embed;
    struct zt_stopwords *stop;
    struct zt_store *store;
    struct zt_search *search;
    struct zt_categorizer *cat;
    const char *cat_error; /* why categorisation is unavailable with the assets present */
};

/* ---- context ----------------------------------------------------------------- */

static struct zt_embed *load_embed(const struct zt_config *cfg)
{
    char p[4096];
    struct zt_embed *e = NULL;
    if (zt_asset_path(cfg->node.data_dir, ZT_EMBED_ASSET, p, sizeof p) != 0) return NULL;
    int rc = zt_embed_load(p, &e);
    if (rc)
        zt_log(ZT_LOG_WARN, "asset_missing", "asset=%s path=\"%s\" error=\"%s\" hint=\"run make data\"",
               ZT_EMBED_ASSET, p, zt_strerror(rc));
    return rc ? NULL : e;
}

static struct zt_stopwords *load_stop(const struct zt_config *cfg)
{
    char p[4096];
    struct zt_stopwords *sw = NULL;
    if (zt_asset_path(cfg->node.data_dir, ZT_STOPWORDS_ASSET, p, sizeof p) != 0) return NULL;
    int rc = zt_stopwords_load(p, &sw);
    if (rc)
        zt_log(ZT_LOG_WARN, "asset_missing", "asset=%s path=\"%s\" error=\"%s\" hint=\"run make data\"",
               ZT_STOPWORDS_ASSET, p, zt_strerror(rc));
    return rc ? NULL : sw;
}

static int make_categorizer(struct zt__feat_search *f)
{
    const struct zt_cfg_categorize *cc = &f->cfg->features.categorize;
    size_t n = cc->n_categories;
    if (n == 0) {
        const struct zt_category_def *defs = zt_categorize_builtin(&n);
        return zt_categorizer_new(f->embed, defs, n, &f->cat);
    }
    struct zt_category_def *defs = zt_calloc(n, sizeof *defs);
    if (!defs) return ZT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        defs[i].name = cc->categories[i].name;
        defs[i].seeds = (const char *const *)cc->categories[i].seeds.items;
        defs[i].n_seeds = cc->categories[i].seeds.count;
    }
    int rc = zt_categorizer_new(f->embed, defs, n, &f->cat);
    zt_free(defs);
    return rc;
}

int zt__feat_search_new(const struct zt_config *cfg, struct zt__feat_search **out)
{
    struct zt__feat_search *f = zt_calloc(1, sizeof *f);
    if (!f) return ZT_ENOMEM;
    f->cfg = cfg;
    f->embed = load_embed(cfg);
    f->stop = load_stop(cfg);
    if (f->embed) {
        int rc = make_categorizer(f);
        if (rc == ZT_ENOMEM) {
            zt__feat_search_free(f);
            return rc;
        }
        if (rc) {
            f->cat_error = "features.categorize.categories: a category has no seed word in the vocabulary";
            zt_log(ZT_LOG_WARN, "categorize_unavailable", "reason=\"%s\"", f->cat_error);
        }
    }
    *out = f;
    return 0;
}

bool zt__feat_search_wants_store(const struct zt__feat_search *f)
{
    return f->embed && !f->search;
}

int zt__feat_search_open(struct zt__feat_search *f, const struct zt_identity *id, struct zt_store *st)
{
    if (!f->embed || f->search || !st) return 0;
    const struct zt_cfg_search *sc = &f->cfg->features.search;
    f->store = st;
    struct zt_search_opts o = {
        .store = f->store,
        .embed = f->embed,
        .stop = f->stop,
        .node_secret = zt_identity_kem_sk(id),
        .bm25_weight = sc->bm25_weight,
        .vector_weight = sc->vector_weight,
        .rrf_k = sc->rrf_k,
        .candidates = sc->candidates,
        .scan_limit = sc->scan_limit,
        .min_similarity = sc->threshold,
    };
    int rc = zt_search_new(&o, &f->search);
    if (rc) {
        zt_log(ZT_LOG_WARN, "search_unavailable", "error=\"%s\"", zt_strerror(rc));
        f->store = NULL;
        return rc == ZT_ENOMEM ? rc : 0;
    }
    return 0;
}

struct zt_search *zt__feat_search_engine(struct zt__feat_search *f)
{
    return f ? f->search : NULL;
}

void zt__feat_search_free(struct zt__feat_search *f)
{
    if (!f) return;
    zt_search_free(f->search);
    zt_categorizer_free(f->cat);
    zt_stopwords_free(f->stop);
    zt_embed_free(f->embed);
    zt_free(f);
}

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
    else
        zt_http_resp_error(resp, 500, "store_error", "the search store failed");
}

static void search_handle(struct zt__feat_search *f, enum zt_search_op op, const struct zt_auth_principal *caller,
                          json_t *body, struct zt_http_resp *resp)
{
    if (!f->cfg->features.search.enabled) {
        zt_http_resp_error(resp, 403, "feature_disabled", "search is disabled (features.search.enabled)");
        return;
    }
    char why[160];
    struct zt_search_req r;
    int rc = zt_search_req_parse(op, body, &r, why, sizeof why);
    if (rc == ZT_ENOMEM) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    if (rc) {
        zt_http_resp_error(resp, 400, "invalid_request", why);
        return;
    }
    if (!zt_search_may_act(caller, r.user)) {
        zt_http_resp_error(resp, 403, "forbidden",
                           "\"user\" must be the caller's own identity unless the caller is admin");
        goto out;
    }
    if (!f->embed) {
        char m[128];
        snprintf(m, sizeof m, ASSET_MSG, ZT_EMBED_ASSET);
        zt_http_resp_error(resp, 503, "asset_missing", m);
        goto out;
    }
    if (!f->search) {
        zt_http_resp_error(resp, 503, "store_unavailable", "the search store could not be opened (see the node log)");
        goto out;
    }
    if (op == ZT_SEARCH_OP_INDEX) {
        rc = zt_search_index(f->search, r.user, r.msgs, r.n_msgs);
        if (rc) {
            store_error(resp, rc);
            goto out;
        }
        zt_http_resp_json(resp, 200, json_pack("{s:{s:I}}", "result", "indexed", (json_int_t)r.n_msgs));
    } else if (op == ZT_SEARCH_OP_QUERY) {
        struct zt_search_hit *h = NULL;
        size_t n = 0;
        rc = zt_search_query(f->search, r.user, r.query, r.query_len, r.limit, &h, &n);
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
            rc = zt_search_delete(f->search, r.user, r.id, r.id_len, &found);
            n = found;
        } else {
            rc = zt_search_delete_user(f->search, r.user, &n);
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
    struct zt_category_score sc[ZT_CATEGORIZE_MAX];
    size_t found = 0;
    *err = zt_categorize(c, texts, lens, n, sc, &found);
    if (*err) return NULL;
    size_t top = (size_t)cc->top < zt_categorizer_count(c) ? (size_t)cc->top : zt_categorizer_count(c);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < top; i++)
        if (json_array_append_new(arr, json_pack("{s:s,s:f}", "name", sc[i].name, "score", sc[i].score))) {
            json_decref(arr);
            arr = NULL;
        }
    bool none = found == 0 || sc[0].score < cc->threshold;
    json_t *o = arr ? json_pack("{s:s,s:f,s:o,s:I}", "category", none ? "uncategorised" : sc[0].name, "score",
                                found ? sc[0].score : 0.0, "categories", arr, "words", (json_int_t)found)
                    : NULL;
    if (!o) *err = ZT_ENOMEM;
    return o;
}

void zt__search_h_index(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    search_handle(ud, ZT_SEARCH_OP_INDEX, &cx->principal, body, resp);
}

void zt__search_h_query(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    search_handle(ud, ZT_SEARCH_OP_QUERY, &cx->principal, body, resp);
}

void zt__search_h_delete(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    search_handle(ud, ZT_SEARCH_OP_DELETE, &cx->principal, body, resp);
}

void zt__categorize_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx;
    struct zt__feat_search *f = ud;
    const struct zt_cfg_categorize *cc = &f->cfg->features.categorize;
    if (!cc->enabled) {
        zt_http_resp_error(resp, 403, "feature_disabled", "categorisation is disabled (features.categorize.enabled)");
        return;
    }
    char why[160];
    struct zt_categorize_req r;
    int rc = zt_categorize_req_parse(body, &r, why, sizeof why);
    if (rc == ZT_ENOMEM) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    if (rc) {
        zt_http_resp_error(resp, 400, "invalid_request", why);
        return;
    }
    if (!f->embed) {
        char m[128];
        snprintf(m, sizeof m, ASSET_MSG, ZT_EMBED_ASSET);
        zt_http_resp_error(resp, 503, "asset_missing", m);
        goto out;
    }
    if (!f->cat) {
        zt_http_resp_error(resp, 503, "categories_invalid", f->cat_error ? f->cat_error : "no categories");
        goto out;
    }
    json_t *res = NULL;
    if (r.batch) {
        res = json_array();
        for (size_t i = 0; res && i < r.n; i++) {
            json_t *o = cat_result(f->cat, cc, &r.texts[i], &r.lens[i], 1, &rc);
            if (!o || json_array_append_new(res, o)) {
                json_decref(res);
                res = NULL;
            }
        }
    } else {
        res = cat_result(f->cat, cc, r.texts, r.lens, r.n, &rc);
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
