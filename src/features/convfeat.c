/* convfeat.c: what the conversation features load: the intent cues, the
 * smart-reply bank (the config directory's copies, else the compiled-in
 * ones), with the stopwords the search features loaded and the hooks other
 * features provide. See zt_featset.h. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_intent.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_replies.h"

struct zt_convfeat {
    const struct zt_config *cfg;
    struct zt_intent_model *intents;
    struct zt_reply_bank *bank;
    const struct zt_stopwords *sw; /* borrowed; NULL: the asset is missing */
    struct zt_reply_hooks hooks;
};

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

int zt_convfeat_new(const struct zt_config *cfg, const struct zt_stopwords *sw, struct zt_convfeat **out)
{
    struct zt_convfeat *fc = zt_calloc(1, sizeof *fc);
    if (!fc) return ZT_ENOMEM;
    fc->cfg = cfg;
    fc->sw = sw;
    char path[4200], err[512];
    int rc = 0;
    /* the config directory's copies win over the compiled-in ones */
    bool own = cfg->dir && snprintf(path, sizeof path, "%s/intents.txt", cfg->dir) < (int)sizeof path &&
               file_exists(path);
    rc = own ? zt_intent_model_load(path, &fc->intents, err, sizeof err)
             : zt_intent_model_builtin(&fc->intents, err, sizeof err);
    if (rc) goto bad;
    own = cfg->dir && snprintf(path, sizeof path, "%s/replies.txt", cfg->dir) < (int)sizeof path && file_exists(path);
    rc = own ? zt_reply_bank_load(path, &fc->bank, err, sizeof err) : zt_reply_bank_builtin(&fc->bank, err, sizeof err);
    if (rc) goto bad;
    *out = fc;
    return 0;
bad:
    if (rc != ZT_ENOMEM) {
        zt_log(ZT_LOG_ERROR, "features_config_invalid", "detail=\"%s\"", err);
        rc = ZT_ECONFIG;
    }
    zt_convfeat_free(fc);
    return rc;
}

void zt_convfeat_free(struct zt_convfeat *fc)
{
    if (!fc) return;
    zt_intent_model_free(fc->intents);
    zt_reply_bank_free(fc->bank);
    zt_free(fc);
}

const struct zt_reply_bank *zt_convfeat_bank(const struct zt_convfeat *fc)
{
    return fc->bank;
}

const struct zt_intent_model *zt_convfeat_intents(const struct zt_convfeat *fc)
{
    return fc->intents;
}

const struct zt_reply_hooks *zt_convfeat_hooks(const struct zt_convfeat *fc)
{
    return &fc->hooks;
}

void zt_convfeat_set_hooks(struct zt_convfeat *fc, const struct zt_reply_hooks *hooks)
{
    if (hooks) fc->hooks = *hooks;
    else memset(&fc->hooks, 0, sizeof fc->hooks);
}

const struct zt_stopwords *zt_convfeat_stopwords(const struct zt_convfeat *fc)
{
    return fc->sw;
}
