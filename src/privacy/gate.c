/* gate.c: the privacy gate (zt_privacy.h): detect, decide, mask; the one
 * place where the policy is applied to the texts of an outbound job.
 *
 * Each text is scanned once; the hits are kept in the verdict (the audit
 * names their types, POST /v1/privacy/pii lists them). For pseudonymise,
 * each text is masked with only the hits whose own action is pseudonymise
 * (zt_privacy_filter): types allowed in clear stay, and one restore map
 * serves the whole job. Nothing of the texts is logged. */
#include <sodium.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_pseudo.h"

struct zt_privacy_gate {
    struct zt_pii_detector *pii;
    struct zt_privacy_policy *policy;
};

int zt_privacy_gate_new(const struct zt_cfg_privacy *privacy, struct zt_privacy_gate **out, struct zt_buf *errs)
{
    if (!privacy || !out) return ZT_EINVAL;
    struct zt_privacy_gate *g = zt_calloc(1, sizeof *g);
    if (!g) return ZT_ENOMEM;
    int rc = zt_pii_detector_new(privacy, &g->pii, errs);
    if (!rc) rc = zt_privacy_policy_new(privacy, g->pii, &g->policy, errs);
    return ZT_HAND_OUT(rc, g, zt_privacy_gate_free, out);
}

void zt_privacy_gate_free(struct zt_privacy_gate *g)
{
    if (!g) return;
    zt_privacy_policy_free(g->policy);
    zt_pii_detector_free(g->pii);
    zt_free(g);
}

int zt_privacy_gate_set_names(struct zt_privacy_gate *g, const void *payload, size_t len)
{
    return g ? zt_pii_detector_set_names(g->pii, payload, len) : ZT_EINVAL;
}

const struct zt_pii_detector *zt_privacy_gate_detector(const struct zt_privacy_gate *g)
{
    return g ? g->pii : NULL;
}

const struct zt_privacy_policy *zt_privacy_gate_policy(const struct zt_privacy_gate *g)
{
    return g ? g->policy : NULL;
}

static bool feature_ok(const char *f)
{
    size_t n = f ? strnlen(f, ZT_PRIVACY_FEATURE_MAX + 1) : 0;
    return n > 0 && n <= ZT_PRIVACY_FEATURE_MAX;
}

/* Mask every text with its pseudonymise hits, one map for the job. */
static int mask(const struct zt_privacy_gate *g, const char *feature, const struct zt_privacy_text *texts,
                struct zt_privacy_verdict *v)
{
    struct zt_pii_hits keep;
    zt_pii_hits_init(&keep);
    int rc = zt_pseudo_new(g->pii, &v->restore);
    if (!rc && !(v->masked = zt_calloc(v->n ? v->n : 1, sizeof *v->masked))) rc = ZT_ENOMEM;
    for (size_t i = 0; !rc && i < v->n; i++) zt_buf_init(&v->masked[i], ZT_PRIVACY_MASKED_MAX);
    for (size_t i = 0; !rc && i < v->n; i++) {
        rc = zt_privacy_filter(g->policy, feature, &v->hits[i], &keep);
        if (!rc) rc = zt_pseudo_apply(v->restore, texts[i].s, texts[i].len, &keep, &v->masked[i]);
    }
    zt_pii_hits_deinit(&keep);
    return rc;
}

int zt_privacy_gate_check(const struct zt_privacy_gate *g, const char *feature, const struct zt_privacy_text *texts,
                          size_t n, struct zt_privacy_verdict *out)
{
    if (!g || !out || !feature_ok(feature) || (n && !texts)) return ZT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!texts[i].s && texts[i].len) return ZT_EINVAL;
    struct zt_privacy_verdict v;
    memset(&v, 0, sizeof v);
    memcpy(v.feature, feature, strlen(feature));
    int rc = 0;
    v.hits = zt_calloc(n ? n : 1, sizeof *v.hits);
    if (!v.hits) return ZT_ENOMEM;
    v.n = n;
    for (size_t i = 0; i < n; i++) zt_pii_hits_init(&v.hits[i]);
    enum zt_privacy_action worst = ZT_PRIVACY_ALLOW;
    for (size_t i = 0; i < n && !rc; i++) {
        const struct zt_pii_hits *h = &v.hits[i];
        rc = zt_pii_detect(g->pii, texts[i].s ? texts[i].s : "", texts[i].len, &v.hits[i]);
        if (rc) break;
        enum zt_privacy_action a = zt_privacy_decide(g->policy, feature, h);
        if (a > worst) worst = a;
        v.types |= zt_pii_hits_types(h);
        for (size_t k = 0; k < h->n; k++)
            if (h->v[k].type < 64 && zt_privacy_action_for(g->policy, feature, h->v[k].type) == ZT_PRIVACY_LOCAL_ONLY)
                v.refused_types |= 1ull << h->v[k].type;
    }
    if (!rc && worst == ZT_PRIVACY_PSEUDONYMISE) rc = mask(g, feature, texts, &v);
    if (rc) {
        zt_privacy_verdict_deinit(&v);
        return rc;
    }
    v.kind = worst == ZT_PRIVACY_LOCAL_ONLY    ? ZT_PRIVACY_VERDICT_REFUSE
             : worst == ZT_PRIVACY_PSEUDONYMISE ? ZT_PRIVACY_VERDICT_MASKED
                                                : ZT_PRIVACY_VERDICT_ALLOW;
    *out = v;
    return 0;
}

void zt_privacy_verdict_own_data(struct zt_privacy_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->kind = ZT_PRIVACY_VERDICT_ALLOW;
    out->own_data = true;
}

const char *zt_privacy_verdict_decision(const struct zt_privacy_verdict *v)
{
    if (!v) return "unknown";
    switch (v->kind) {
    case ZT_PRIVACY_VERDICT_ALLOW: return zt_privacy_action_name(ZT_PRIVACY_ALLOW);
    case ZT_PRIVACY_VERDICT_MASKED: return zt_privacy_action_name(ZT_PRIVACY_PSEUDONYMISE);
    case ZT_PRIVACY_VERDICT_REFUSE: return zt_privacy_action_name(ZT_PRIVACY_LOCAL_ONLY);
    }
    return "unknown";
}

void zt_privacy_verdict_deinit(struct zt_privacy_verdict *v)
{
    if (!v) return;
    for (size_t i = 0; v->hits && i < v->n; i++) zt_pii_hits_deinit(&v->hits[i]);
    for (size_t i = 0; v->masked && i < v->n; i++) {
        if (v->masked[i].data) sodium_memzero(v->masked[i].data, v->masked[i].cap);
        zt_buf_deinit(&v->masked[i]);
    }
    zt_free(v->hits);
    zt_free(v->masked);
    zt_pseudo_free(v->restore);
    memset(v, 0, sizeof *v);
}
