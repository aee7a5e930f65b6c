/* lexfeat.c: the lexicon-based features a node loads (sentiment,
 * moderation, language identification) from its configuration and
 * assets. See zt_featset.h. */
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_langid.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_moderation.h"
#include "zentalk/zt_sentiment.h"

#define PATH_LEN 4096
#define WHY_LEN 4400 /* a path and a reason */

struct zt_lexfeat {
    const struct zt_config *cfg;
    struct zt_sentiment *sent;
    struct zt_moderation *mod;
    struct zt_langid *lang;
    struct zt_moderation_policy policy;
    const char *also_langs[ZT_CFG_MAX_LIST + 1]; /* "en" and features.moderation.default_languages */
    char sent_why[WHY_LEN], mod_why[WHY_LEN], lang_why[WHY_LEN];
    enum zt_feat_state sent_state, mod_state, lang_state;
};

static void unavailable(const char *feature, const char *why)
{
    zt_log(ZT_LOG_WARN, "feature_unavailable", "feature=%s reason=\"%s\"", feature, why);
}

/* rc of loading path for feature: why and *state (and the log) when it
 * failed. */
static void loaded(const char *feature, const char *path, int rc, char *why, enum zt_feat_state *state)
{
    if (!rc) return;
    bool missing = rc == ZT_ENOTFOUND || rc == ZT_EUNSUPPORTED;
    snprintf(why, WHY_LEN, "cannot load %s: %s%s", path, zt_strerror(rc), missing ? " (run `make data`)" : "");
    *state = missing ? ZT_FEAT_ASSET_MISSING : ZT_FEAT_UNAVAILABLE;
    unavailable(feature, why);
}

/* Whether features.<feature> is on and its asset has a path (into path,
 * PATH_LEN bytes) to load; if not, why says so (and the log). */
static bool asset_wanted(const struct zt_config *cfg, bool enabled, const char *feature, const char *asset,
                         char *path, char *why, enum zt_feat_state *state)
{
    if (!enabled) {
        snprintf(why, WHY_LEN, "features.%s.enabled is false", feature);
        *state = ZT_FEAT_DISABLED;
        return false;
    }
    int rc = zt_asset_path(cfg->node.data_dir, asset, path, PATH_LEN);
    loaded(feature, path, rc, why, state);
    return rc == 0;
}

int zt_lexfeat_new(const struct zt_config *cfg, struct zt_lexfeat **out)
{
    struct zt_lexfeat *f = zt_calloc(1, sizeof *f);
    if (!f) return ZT_ENOMEM;
    f->cfg = cfg;
    const struct zt_cfg_features *fe = &cfg->features;
    char path[PATH_LEN];
    int rc;
    if (asset_wanted(cfg, fe->sentiment.enabled, "sentiment", ZT_SENTIMENT_ASSET, path, f->sent_why, &f->sent_state))
        loaded("sentiment", path, zt_sentiment_load(path, &f->sent), f->sent_why, &f->sent_state);
    if (asset_wanted(cfg, fe->moderation.enabled, "moderation", ZT_MODERATION_ASSET, path, f->mod_why,
                     &f->mod_state))
        loaded("moderation", path, zt_moderation_load(path, &f->mod), f->mod_why, &f->mod_state);
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
    /* when detection is unsure: English and the configured default languages */
    size_t n_also = 0;
    f->also_langs[n_also++] = "en";
    for (size_t i = 0; i < fe->moderation.default_languages.count && n_also < ZT_CFG_MAX_LIST + 1; i++)
        if (strcmp(fe->moderation.default_languages.items[i], "en") != 0)
            f->also_langs[n_also++] = fe->moderation.default_languages.items[i];
    f->policy.also_langs = f->also_langs;
    f->policy.n_also_langs = n_also;
    if (!fe->language.enabled) {
        snprintf(f->lang_why, WHY_LEN, "features.language.enabled is false");
        f->lang_state = ZT_FEAT_DISABLED;
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
            f->lang_state = rc == ZT_ENOTFOUND ? ZT_FEAT_ASSET_MISSING : ZT_FEAT_UNAVAILABLE;
            unavailable("language", f->lang_why);
        }
    }
    *out = f;
    return 0;
}

void zt_lexfeat_free(struct zt_lexfeat *f)
{
    if (!f) return;
    zt_sentiment_free(f->sent);
    zt_moderation_free(f->mod);
    zt_langid_free(f->lang);
    zt_free(f);
}

const struct zt_sentiment *zt_lexfeat_sentiment(const struct zt_lexfeat *f, const char **why)
{
    if (why) *why = f->sent_why;
    return f->sent;
}

const struct zt_moderation *zt_lexfeat_moderation(const struct zt_lexfeat *f, const char **why)
{
    if (why) *why = f->mod_why;
    return f->mod;
}

struct zt_langid *zt_lexfeat_langid(const struct zt_lexfeat *f, const char **why)
{
    if (why) *why = f->lang_why;
    return f->lang;
}

enum zt_feat_state zt_lexfeat_state(const struct zt_lexfeat *f, enum zt_lexfeat_kind k, const char **why)
{
    const char *w = k == ZT_LEXFEAT_SENTIMENT ? f->sent_why : k == ZT_LEXFEAT_MODERATION ? f->mod_why : f->lang_why;
    const void *obj = k == ZT_LEXFEAT_SENTIMENT    ? (const void *)f->sent
                      : k == ZT_LEXFEAT_MODERATION ? (const void *)f->mod
                                                   : (const void *)f->lang;
    enum zt_feat_state st = k == ZT_LEXFEAT_SENTIMENT    ? f->sent_state
                            : k == ZT_LEXFEAT_MODERATION ? f->mod_state
                                                         : f->lang_state;
    if (why) *why = obj ? "" : w;
    if (obj) return ZT_FEAT_READY;
    return st == ZT_FEAT_READY ? ZT_FEAT_UNAVAILABLE : st;
}

void zt_lexfeat_moderation_policy(const struct zt_lexfeat *f, const char *text, size_t len, const char *lang,
                                  struct zt_moderation_policy *p, const char **source)
{
    *p = f->policy;
    p->lang = lang;
    *source = lang ? "request" : "none";
    struct zt_langid_result lr;
    if (!lang && f->lang &&
        zt_langid_detect(f->lang, text, len, f->cfg->features.language.threshold, &lr) == 0 &&
        strcmp(lr.code, "und") != 0) {
        p->lang = lr.code;
        *source = "detected";
        p->lang_unsure = lr.confidence < ZT_LEXFEAT_LANG_SURE;
    }
}

void zt_lexfeat_policy(const struct zt_lexfeat *f, struct zt_moderation_policy *p)
{
    *p = f->policy;
    p->lang = NULL;
    p->lang_unsure = false;
}

const struct zt_cfg_features *zt_lexfeat_config(const struct zt_lexfeat *f)
{
    return &f->cfg->features;
}

enum zt_sentiment_mode zt_lexfeat_sentiment_mode(const struct zt_lexfeat *f)
{
    enum zt_sentiment_mode m = ZT_SENTIMENT_CHAT;
    const char *name = f->cfg->features.sentiment.mode;
    if (name && zt_sentiment_mode_parse(name, &m) != 0) m = ZT_SENTIMENT_CHAT;
    return m;
}
