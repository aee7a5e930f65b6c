/* searchfeat.c: what the search and categorisation features load (the
 * GloVe and stopwords assets, the categorizer) and the search engine over
 * the store the node hands over, and the search store as a holder of a
 * GDPR export and erase. See zt_featset.h. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_categorize.h"
#include "zentalk/zt_embed.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_stopwords.h"
#include "zentalk/zt_time.h"

struct zt_searchfeat {
    const struct zt_config *cfg;
    struct zt_embed *embed;
    struct zt_stopwords *stop;
    struct zt_store *store;
    struct zt_search *search;
    struct zt_categorizer *cat;
    const char *cat_error; /* why categorisation is unavailable with the assets present */
};

/* Logs an asset that is in the data dir but does not load (rc, of its _load). */
static void warn_unloaded(const char *asset, const char *path, int rc)
{
    if (rc)
        zt_log(ZT_LOG_WARN, "asset_missing", "asset=%s path=\"%s\" error=\"%s\" hint=\"run make data\"", asset,
               path, zt_strerror(rc));
}

/* The GloVe and stopwords assets into f->embed and f->stop (each stays NULL
 * where it is absent or does not load). */
static void load_assets(struct zt_searchfeat *f)
{
    char p[4096];
    const char *dir = f->cfg->node.data_dir;
    if (zt_asset_path(dir, ZT_EMBED_ASSET, p, sizeof p) == 0)
        warn_unloaded(ZT_EMBED_ASSET, p, zt_embed_load(p, &f->embed));
    if (zt_asset_path(dir, ZT_STOPWORDS_ASSET, p, sizeof p) == 0)
        warn_unloaded(ZT_STOPWORDS_ASSET, p, zt_stopwords_load(p, &f->stop));
}

static int make_categorizer(struct zt_searchfeat *f)
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

int zt_searchfeat_new(const struct zt_config *cfg, struct zt_searchfeat **out)
{
    struct zt_searchfeat *f = zt_calloc(1, sizeof *f);
    if (!f) return ZT_ENOMEM;
    f->cfg = cfg;
    load_assets(f);
    if (f->embed) {
        int rc = make_categorizer(f);
        if (rc == ZT_ENOMEM) {
            zt_searchfeat_free(f);
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

bool zt_searchfeat_wants_store(const struct zt_searchfeat *f)
{
    return f->embed && !f->search;
}

int zt_searchfeat_open(struct zt_searchfeat *f, const struct zt_identity *id, struct zt_store *st)
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
        .max_messages_per_user = sc->max_messages_per_user,
        .max_bytes_per_user = sc->max_bytes_per_user,
    };
    int rc = zt_search_new(&o, &f->search);
    if (rc) {
        zt_log(ZT_LOG_WARN, "search_unavailable", "error=\"%s\"", zt_strerror(rc));
        f->store = NULL;
        return rc == ZT_ENOMEM ? rc : 0;
    }
    return 0;
}

static int store_bytes_metric(void *ud, struct zt_metrics_out *o)
{
    const struct zt_searchfeat *f = ud;
    uint64_t n = 0;
    if (!f->store || zt_store_disk_bytes(f->store, &n) != 0) return 0; /* no sample without a store */
    return zt_metrics_emit_u64(o, NULL, "store=\"search\"", n);
}

int zt_searchfeat_register_metrics(struct zt_searchfeat *f, struct zt_metrics *m)
{
    return zt_metrics_add_fn(m, "zentalk_store_bytes", "Bytes the store takes on disk (SQLite: file and WAL).",
                             ZT_METRIC_GAUGE, store_bytes_metric, f);
}

struct zt_search *zt_searchfeat_engine(struct zt_searchfeat *f)
{
    return f ? f->search : NULL;
}

void zt_searchfeat_free(struct zt_searchfeat *f)
{
    if (!f) return;
    zt_search_free(f->search);
    zt_categorizer_free(f->cat);
    zt_stopwords_free(f->stop);
    zt_embed_free(f->embed);
    zt_free(f);
}

const struct zt_embed *zt_searchfeat_embed(const struct zt_searchfeat *f)
{
    return f->embed;
}

const struct zt_stopwords *zt_searchfeat_stopwords(const struct zt_searchfeat *f)
{
    return f->stop;
}

const struct zt_categorizer *zt_searchfeat_categorizer(const struct zt_searchfeat *f, const char **why)
{
    if (why) *why = f->cat_error ? f->cat_error : "no categories";
    return f->cat;
}

const struct zt_cfg_features *zt_searchfeat_config(const struct zt_searchfeat *f)
{
    return &f->cfg->features;
}

/* ---- the search store as a holder of a GDPR export and erase (zt_gdpr.h) ---- */

/* Whether the search database file exists and is not empty (data the
 * store holds while it is not open). */
static bool search_file_exists(const struct zt_searchfeat *f)
{
    const char *p = f->cfg->features.search.db_path;
    char path[4096];
    int k = p[0] == '/' ? snprintf(path, sizeof path, "%s", p)
                        : snprintf(path, sizeof path, "%s/%s", f->cfg->node.data_dir, p);
    struct stat st;
    return k > 0 && (size_t)k < sizeof path && stat(path, &st) == 0 && st.st_size > 0;
}

/* The identity's messages, decrypted for the owner, newest first, as
 * {kept, count, items}. */
static int export_messages(struct zt_search *se, const char *identity, size_t budget, size_t *used, json_t **out)
{
    struct zt_search_hit *hits = NULL;
    size_t count = 0, nh = 0, bytes = 0;
    int rc = zt_search_count(se, identity, &count);
    if (!rc && count > ZT_SEARCH_EXPORT_MAX_DOCS) rc = ZT_ETOOBIG; /* bounds the memory of the list below */
    if (!rc) rc = zt_search_list(se, identity, 0, &hits, &nh);
    if (rc) return rc;
    json_t *items = json_array();
    for (size_t i = 0; items && i < nh; i++) {
        bytes += strlen(hits[i].text) + strlen(hits[i].id);
        if (bytes > budget) {
            json_decref(items);
            zt_search_hits_free(hits, nh);
            return ZT_ETOOBIG;
        }
        char at[ZT_TIME_ISO_LEN];
        zt_time_iso8601(at, sizeof at, hits[i].ts);
        if (json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:I}", "id", hits[i].id, "text", hits[i].text,
                                                   "indexed_at", at, "indexed_at_ms", (json_int_t)hits[i].ts)) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    zt_search_hits_free(hits, nh);
    *out = items ? json_pack("{s:b,s:I,s:o}", "kept", 1, "count", (json_int_t)nh, "items", items) : NULL;
    *used = bytes;
    return *out ? 0 : ZT_ENOMEM;
}

int zt_searchfeat_gdpr_export(void *feat, const char *identity, size_t budget, size_t *used, json_t **out,
                              const char **why)
{
    struct zt_searchfeat *f = feat;
    struct zt_search *se = zt_searchfeat_engine(f);
    *used = 0;
    *out = NULL;
    *why = NULL;
    if (se && strlen(identity) <= ZT_SEARCH_USER_MAX) return export_messages(se, identity, budget, used, out);
    if (se) {
        *out = json_pack("{s:b,s:I,s:[]}", "kept", 1, "count", (json_int_t)0, "items");
    } else {
        bool there = search_file_exists(f);
        *out = json_pack("{s:b,s:s}", "kept", there, "reason",
                         there ? "the search store exists but is not open on this node now (see the node log); retry "
                                 "when it is"
                               : "search is not available on this node (asset missing or store not opened)");
    }
    return *out ? 0 : ZT_ENOMEM;
}

int zt_searchfeat_gdpr_erase(void *feat, const char *identity, json_t *erased, json_t *kept)
{
    (void)kept;
    struct zt_searchfeat *f = feat;
    struct zt_search *se = zt_searchfeat_engine(f);
    if (!se && search_file_exists(f)) return ZT_ECLOSED; /* its messages cannot be reached now */
    size_t n_docs = 0;
    bool key_gone = false;
    if (se && strlen(identity) <= ZT_SEARCH_USER_MAX) {
        int rc = zt_search_delete_user(se, identity, &n_docs);
        if (rc) return rc;
        key_gone = true;
    }
    if (json_object_set_new(erased, "search_documents", json_integer((json_int_t)n_docs)) ||
        json_object_set_new(erased, "search_key_destroyed", json_boolean(key_gone)))
        return ZT_ENOMEM;
    return 0;
}
