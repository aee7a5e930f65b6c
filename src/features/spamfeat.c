/* spamfeat.c: the spam model a node loads (data/assets/spam.zta). See
 * zt_featset.h. */
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_spam.h"

struct zt_spamfeat {
    const struct zt_config *cfg;
    struct zt_spam_model *model; /* NULL: asset missing */
};

int zt_spamfeat_new(const struct zt_config *cfg, struct zt_spamfeat **out)
{
    struct zt_spamfeat *f = zt_calloc(1, sizeof *f);
    if (!f) return ZT_ENOMEM;
    f->cfg = cfg;
    char path[4096];
    int rc = zt_asset_path(cfg->node.data_dir, "spam.zta", path, sizeof path);
    if (rc == 0) rc = zt_spam_load(path, &f->model);
    if (rc == ZT_ENOMEM) {
        zt_free(f);
        return rc;
    }
    if (rc) {
        f->model = NULL;
        zt_log(ZT_LOG_WARN, "asset_missing", "asset=spam.zta path=\"%s\" reason=\"%s\" hint=\"run make data\"", path,
               zt_strerror(rc));
    }
    *out = f;
    return 0;
}

void zt_spamfeat_free(struct zt_spamfeat *f)
{
    if (!f) return;
    zt_spam_free(f->model);
    zt_free(f);
}

const struct zt_spam_model *zt_spamfeat_model(const struct zt_spamfeat *f)
{
    return f ? f->model : NULL;
}

const struct zt_cfg_features *zt_spamfeat_config(const struct zt_spamfeat *f)
{
    return &f->cfg->features;
}
