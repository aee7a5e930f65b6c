/* exempt.c: privacy.yaml's verification exemptions (zt_privacy.h). A job
 * that is verified or replicated is sealed to one or two more workers,
 * each of which sees the user's text: features and users named here are
 * never sent to them. */
#include <string.h>

#include "zentalk/zt_config.h"
#include "zentalk/zt_privacy.h"

static bool listed(const struct zt_strlist *l, const char *s)
{
    if (!s || !s[0]) return false;
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i], s) == 0) return true;
    return false;
}

const char *zt_privacy_verification_exempt(const struct zt_cfg_privacy *p, const char *feature, const char *identity)
{
    if (!p) return NULL;
    if (listed(&p->verification_exempt_features, feature)) return "feature";
    if (listed(&p->verification_exempt_users, identity)) return "user";
    return NULL;
}
