/* zt_privacy.h: the privacy decision the gateway takes before a job leaves
 * the node, and the gate that applies it (zt_privacy_gate_check: the one
 * place the decision is taken; the sealed-job builder of zt_jobs.h takes
 * nothing but its verdict).
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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_config.h"
#include "zt_error.h"
#include "zt_pii.h"
#include "zt_pseudo.h"
#include "zt_pseudoid.h"

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

/* ---- The gate ---------------------------------------------------------------
 *
 * Every text that leaves the node in a job passes the gate first:
 *
 *   struct zt_privacy_text t[] = {{prompt, prompt_len}};
 *   struct zt_privacy_verdict v;
 *   rc = zt_privacy_gate_check(gate, "completion", t, 1, &v);
 *   switch (v.kind) {
 *   case ZT_PRIVACY_VERDICT_REFUSE: answer 403, never send;
 *   case ZT_PRIVACY_VERDICT_MASKED: send v.masked[i] for t[i]; restore the
 *        answer with v.restore (zt_pseudo_stream_*);
 *   case ZT_PRIVACY_VERDICT_ALLOW:  send t as it is;
 *   }
 *   zt_privacy_verdict_deinit(&v);
 *
 * zt_job_build() (zt_jobs.h) takes the verdict as an argument and refuses
 * a missing or refusing one, so an outbound path cannot forget the policy.
 * The gate is immutable once built: zt_privacy_gate_check() may run on any
 * number of threads at once. */

#define ZT_PRIVACY_MASKED_MAX ((size_t)32 << 20) /* bytes of one masked text */
#define ZT_PRIVACY_FEATURE_MAX 64                /* bytes of a feature name */

struct zt_privacy_gate;

/* The detector and policy of privacy (privacy.yaml; privacy must outlive
 * the gate). ZT_ECONFIG (a pattern that does not compile, a rule naming an
 * unknown type or action: reason in errs), ZT_ENOMEM. */
ZT_NODISCARD int zt_privacy_gate_new(const struct zt_cfg_privacy *privacy, struct zt_privacy_gate **out,
                                     struct zt_buf *errs);
void zt_privacy_gate_free(struct zt_privacy_gate *g);
/* zt_pii_detector_set_names() on the gate's detector, before it is shared. */
ZT_NODISCARD int zt_privacy_gate_set_names(struct zt_privacy_gate *g, const void *payload, size_t len);
const struct zt_pii_detector *zt_privacy_gate_detector(const struct zt_privacy_gate *g);
const struct zt_privacy_policy *zt_privacy_gate_policy(const struct zt_privacy_gate *g);

/* One text of a job (borrowed; UTF-8, not NUL-terminated). */
struct zt_privacy_text {
    const char *s;
    size_t len;
};

enum zt_privacy_verdict_kind {
    ZT_PRIVACY_VERDICT_ALLOW = 0,  /* send the texts as they are */
    ZT_PRIVACY_VERDICT_MASKED = 1, /* send masked[] instead; restore the answer with restore */
    ZT_PRIVACY_VERDICT_REFUSE = 2, /* the texts never leave the node (local_only) */
};

/* What the gate decided for the texts of one job. Owned by the caller,
 * released with zt_privacy_verdict_deinit() (which wipes the masked texts
 * and the restore map's values). */
struct zt_privacy_verdict {
    enum zt_privacy_verdict_kind kind;
    char feature[ZT_PRIVACY_FEATURE_MAX + 1]; /* the feature it was taken for ("" for own data) */
    bool own_data;              /* zt_privacy_verdict_own_data(): no node's policy applies */
    uint64_t types;             /* bit t: PII type t (< 64) found in some text */
    uint64_t refused_types;     /* bit t: found, and local_only for this feature */
    size_t n;                   /* texts checked */
    struct zt_pii_hits *hits;   /* n: what the detector found in text i (all types) */
    struct zt_buf *masked;      /* MASKED: n texts, text i with its pseudonymised PII replaced */
    struct zt_pseudo *restore;  /* MASKED: the pseudonyms' values, to restore the answer */
};

/* Detect the PII of texts[0..n) (n may be 0), decide for feature (1..64
 * bytes) with the policy (the strictest action over every hit of every
 * text; allow when privacy.pii_filter is off or nothing is found) and, for
 * pseudonymise, mask each text with one restore map for the whole job
 * (the same value gets the same pseudonym in every text; types the policy
 * allows stay in clear). *out is written on success only. ZT_EINVAL (bad
 * arguments), ZT_ETOOBIG (too much PII for one job, or a masked text over
 * ZT_PRIVACY_MASKED_MAX), ZT_ENOMEM. */
ZT_NODISCARD int zt_privacy_gate_check(const struct zt_privacy_gate *g, const char *feature,
                                       const struct zt_privacy_text *texts, size_t n,
                                       struct zt_privacy_verdict *out);

/* The verdict of a client that sends its own user's text straight to a
 * worker it chose (zentalk job run): no node stands in between, so no
 * node's policy applies; kind allow, own_data true. Written out explicitly
 * so that a path without a gate says so. */
void zt_privacy_verdict_own_data(struct zt_privacy_verdict *out);

/* The policy's name for the verdict: "allow", "pseudonymise" or
 * "local_only" (what the audit log and POST /v1/privacy/pii call it). */
const char *zt_privacy_verdict_decision(const struct zt_privacy_verdict *v);

/* Wipe and free what v holds and zero it; NULL and a zeroed verdict are
 * no-ops. */
void zt_privacy_verdict_deinit(struct zt_privacy_verdict *v);

/* privacy.yaml's verification exemptions: "feature" when feature is in
 * verification_exempt_features, "user" when identity is in
 * verification_exempt_users, else NULL (the job may be sent to a verifier
 * or replicas, each of which sees the user's text). */
const char *zt_privacy_verification_exempt(const struct zt_cfg_privacy *p, const char *feature, const char *identity);

/* ---- the node's privacy layer (src/privacy/layer.c) ----
 * The gate every outbound job passes, the audit log and the identities'
 * audit pseudonyms (zt_pseudoid.h), built once by the node; the HTTP
 * layer writes the audit entries through it. Thread-safe. */

struct zt_privacy_layer;
struct zt_config;
struct zt_cfg_privacy;
struct zt_identity;
struct zt_audit;
struct zt_buf;

/* Detector and policy from cfg->privacy (cfg must outlive it). ZT_ECONFIG
 * (reason in errs), ZT_ENOMEM. */
ZT_NODISCARD int zt_privacy_layer_new(const struct zt_config *cfg, struct zt_privacy_layer **out, struct zt_buf *errs);
/* Open the audit log in node.data_dir/logs/audit, signed by id, when
 * privacy.audit_log is on, with the identities' pseudonym salts in st
 * (the node store; owned from here on, closed by pv, also on failure and
 * when the audit log is off). Errors as
 * zt_audit_open(); ZT_EINVAL without a store. */
struct zt_store;
ZT_NODISCARD int zt_privacy_layer_open_audit(struct zt_privacy_layer *pv, const struct zt_identity *id, struct zt_store *st,
                                        struct zt_buf *errs);
void zt_privacy_layer_free(struct zt_privacy_layer *pv);

/* Hand the names asset's payload (ZT_PII_NAMES_ASSET, read by the node:
 * assets are loaded above this library) to the detector, before pv is
 * shared: PERSON_NAME is detected from then on, masked as privacy.policies
 * says. Copied. ZT_EPARSE, ZT_ENOMEM. */
ZT_NODISCARD int zt_privacy_layer_set_names(struct zt_privacy_layer *pv, const void *payload, size_t len);
/* The privacy gate every outbound job passes (zt_privacy_gate_check); its
 * detector and policy: zt_privacy_gate_detector(), zt_privacy_gate_policy(). */
const struct zt_privacy_gate *zt_privacy_layer_gate(const struct zt_privacy_layer *pv);
struct zt_audit *zt_privacy_layer_audit_log(struct zt_privacy_layer *pv); /* NULL when off */
/* One request's audit entry (the HTTP layer's, after the answer; or a
 * handler's own, such as a GDPR erase's while the salt still exists). */
struct zt_privacy_audit_req {
    const char *identity;   /* the caller's identity ("" anonymous): written as zt_privacy_layer_audit_name */
    const char *role;       /* the caller's role name */
    const char *route;      /* the path; the feature is its last segment ("chat" for /v1/chat/completions) */
    const char *method;
    const char *request_id;
    const char *subject;    /* whom it was about, when not the caller (a pseudonym), or NULL */
    const char *job_id;     /* or NULL / "" */
    uint64_t pii_types;     /* bit t: PII type t of the detector found in the texts */
    const char *decision;   /* local | remote | pseudonymised | refused | cache; NULL: "none" */
    int status;             /* the HTTP status: the outcome ok (2xx, 3xx), denied (401, 403, 429),
                             * error (5xx) or rejected (other 4xx) */
};
/* Write it to the audit log (0 when the log is off, or zt_audit_record's
 * error). */
ZT_NODISCARD int zt_privacy_layer_audit_request(struct zt_privacy_layer *pv, const struct zt_privacy_audit_req *r);

/* The audit directory, or NULL when the audit log is off. */
const char *zt_privacy_layer_audit_dir(const struct zt_privacy_layer *pv);
/* identity's audit pseudonym (zt_pseudoid.h); ZT_ENOTFOUND when it has no
 * salt (and !create) or the audit log is off. */
ZT_NODISCARD int zt_privacy_layer_pseudonym(struct zt_privacy_layer *pv, const char *identity, bool create,
                                       char out[static ZT_PSEUDOID_STR]);
/* Destroy identity's pseudonym salt (GDPR erase). Idempotent. */
ZT_NODISCARD int zt_privacy_layer_forget(struct zt_privacy_layer *pv, const char *identity, bool *found);
/* How an identity is written into an audit entry (out: ZT_PSEUDOID_STR + 8 bytes):
 * "anonymous", a node identity ("node:zt1...") in clear, any other as its
 * pseudonym; "unresolved" when the salt store failed (never in clear). */
void zt_privacy_layer_audit_name(struct zt_privacy_layer *pv, const char *identity, char out[static ZT_PSEUDOID_STR + 8]);
const struct zt_cfg_privacy *zt_privacy_layer_config(const struct zt_privacy_layer *pv);

#endif
