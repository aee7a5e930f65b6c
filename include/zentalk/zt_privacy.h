/* zt_privacy.h: the privacy decision the gateway takes before a job leaves
 * the node.
 *
 * privacy.yaml gives an action per feature and PII type:
 *
 *   privacy:
 *     default_policy: pseudonymise
 *     policies:
 *       - {feature: chat, type: EMAIL, action: pseudonymise}
 *       - {feature: chat, type: CARD,  action: local_only}
 *       - {feature: "*",  type: IP,    action: allow}
 *
 * For one (feature, type) the most specific rule wins: feature and type
 * both named, then feature named with type "*", then feature "*" with the
 * type named, then "*"/"*", then default_policy. For a job, the decision is
 * the strictest action over the types found (local_only > pseudonymise >
 * allow); a job without PII, or with privacy.pii_filter off, is allow. */
#ifndef ZT_PRIVACY_H
#define ZT_PRIVACY_H

#include "zt_buf.h"
#include "zt_config.h"
#include "zt_error.h"
#include "zt_pii.h"

enum zt_privacy_action {
    ZT_PRIVACY_ALLOW = 0,        /* sent (sealed) as is */
    ZT_PRIVACY_PSEUDONYMISE = 1, /* PII replaced by pseudonyms before sealing */
    ZT_PRIVACY_LOCAL_ONLY = 2,   /* the job never leaves this node */
};

struct zt_privacy_policy;

/* Compile privacy->policies (with d's type names: a rule naming a type the
 * detector does not know is ZT_ECONFIG, reason in errs). privacy and d must
 * outlive the policy. ZT_ENOMEM. */
ZT_NODISCARD int zt_privacy_policy_new(const struct zt_cfg_privacy *privacy, const struct zt_pii_detector *d,
                                       struct zt_privacy_policy **out, struct zt_buf *errs);
void zt_privacy_policy_free(struct zt_privacy_policy *p);

/* The action for one PII type in one feature. */
enum zt_privacy_action zt_privacy_action_for(const struct zt_privacy_policy *p, const char *feature,
                                             unsigned type);
/* The decision for a job of feature whose text gave hits. */
enum zt_privacy_action zt_privacy_decide(const struct zt_privacy_policy *p, const char *feature,
                                         const struct zt_pii_hits *hits);
/* Keep in out only the hits whose action is pseudonymise (what
 * zt_pseudo_apply() should replace when the decision is pseudonymise: types
 * allowed in clear stay). out is overwritten. ZT_ENOMEM. */
ZT_NODISCARD int zt_privacy_filter(const struct zt_privacy_policy *p, const char *feature,
                                   const struct zt_pii_hits *hits, struct zt_pii_hits *out);

const char *zt_privacy_action_name(enum zt_privacy_action a); /* "allow", ... */

#endif
