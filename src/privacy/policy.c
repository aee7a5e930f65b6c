/* policy.c: privacy decisions per feature and PII type. See zt_privacy.h. */
#include <stdint.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_privacy.h"

struct rule {
    const char *feature; /* NULL = any (borrowed from the config) */
    int type;            /* -1 = any */
    enum zt_privacy_action action;
};

struct zt_privacy_policy {
    bool enabled; /* privacy.pii_filter */
    enum zt_privacy_action fallback;
    size_t n_rules;
    struct rule rules[]; /* privacy.policies, in the same allocation */
};

/* The actions' names (config and API), indexed by enum zt_privacy_action. */
static const char *const ACTION_NAMES[] = {
    [ZT_PRIVACY_ALLOW] = "allow",
    [ZT_PRIVACY_PSEUDONYMISE] = "pseudonymise",
    [ZT_PRIVACY_LOCAL_ONLY] = "local_only",
};
#define N_ACTIONS (sizeof ACTION_NAMES / sizeof ACTION_NAMES[0])

static int parse_action(const char *s, enum zt_privacy_action *out)
{
    for (size_t i = 0; s && i < N_ACTIONS; i++)
        if (strcmp(s, ACTION_NAMES[i]) == 0) {
            *out = (enum zt_privacy_action)i;
            return 0;
        }
    return ZT_EINVAL;
}

const char *zt_privacy_action_name(enum zt_privacy_action a)
{
    return (size_t)a < N_ACTIONS ? ACTION_NAMES[a] : "unknown";
}

int zt_privacy_policy_new(const struct zt_cfg_privacy *privacy, const struct zt_pii_detector *d,
                          struct zt_privacy_policy **out, struct zt_buf *errs)
{
    if (privacy->n_policies > (SIZE_MAX - sizeof(struct zt_privacy_policy)) / sizeof(struct rule)) return ZT_ENOMEM;
    struct zt_privacy_policy *p = zt_calloc(1, sizeof *p + privacy->n_policies * sizeof p->rules[0]);
    if (!p) return ZT_ENOMEM;
    int rc = 0;
    p->enabled = privacy->pii_filter;
    if (parse_action(privacy->default_policy, &p->fallback) != 0) {
        if (errs) zt_ignore(zt_buf_append_str(errs, "privacy.default_policy: unknown action\n"));
        rc = ZT_ECONFIG;
        goto out;
    }
    for (size_t i = 0; i < privacy->n_policies; i++) {
        const struct zt_cfg_privacy_rule *r = &privacy->policies[i];
        struct rule *q = &p->rules[p->n_rules];
        q->feature = (r->feature && strcmp(r->feature, "*") != 0) ? r->feature : NULL;
        q->type = -1;
        if (r->type && strcmp(r->type, "*") != 0) {
            q->type = zt_pii_type_find(d, r->type);
            if (q->type < 0) {
                if (errs)
                    zt_ignore(zt_buf_appendf(errs, "privacy.policies[%zu].type: unknown PII type \"%s\"\n", i,
                                             r->type));
                rc = ZT_ECONFIG;
                goto out;
            }
        }
        if (parse_action(r->action, &q->action) != 0) {
            if (errs) zt_ignore(zt_buf_appendf(errs, "privacy.policies[%zu].action: unknown action\n", i));
            rc = ZT_ECONFIG;
            goto out;
        }
        p->n_rules++;
    }
out:
    return ZT_HAND_OUT(rc, p, zt_privacy_policy_free, out);
}

void zt_privacy_policy_free(struct zt_privacy_policy *p)
{
    zt_free(p); /* with its rules */
}

enum zt_privacy_action zt_privacy_action_for(const struct zt_privacy_policy *p, const char *feature,
                                             unsigned type)
{
    int best = -1;
    enum zt_privacy_action a = p->fallback;
    for (size_t i = 0; i < p->n_rules; i++) {
        const struct rule *r = &p->rules[i];
        if (r->feature && !(feature && strcmp(r->feature, feature) == 0)) continue;
        if (r->type >= 0 && (unsigned)r->type != type) continue;
        int score = (r->feature ? 2 : 0) + (r->type >= 0 ? 1 : 0);
        if (score > best) { /* first of the most specific */
            best = score;
            a = r->action;
        }
    }
    return a;
}

enum zt_privacy_action zt_privacy_decide(const struct zt_privacy_policy *p, const char *feature,
                                         const struct zt_pii_hits *hits)
{
    if (!p->enabled || !hits) return ZT_PRIVACY_ALLOW;
    enum zt_privacy_action worst = ZT_PRIVACY_ALLOW;
    for (size_t i = 0; i < hits->n; i++) {
        enum zt_privacy_action a = zt_privacy_action_for(p, feature, hits->v[i].type);
        if (a > worst) worst = a;
    }
    return worst;
}

int zt_privacy_filter(const struct zt_privacy_policy *p, const char *feature, const struct zt_pii_hits *hits,
                      struct zt_pii_hits *out)
{
    struct zt_pii_hit *v = zt_calloc(hits->n ? hits->n : 1, sizeof *v);
    if (!v) return ZT_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; p->enabled && i < hits->n; i++)
        if (zt_privacy_action_for(p, feature, hits->v[i].type) == ZT_PRIVACY_PSEUDONYMISE) v[n++] = hits->v[i];
    zt_free(out->v);
    out->v = v;
    out->n = n;
    out->cap = hits->n ? hits->n : 1;
    return 0;
}
