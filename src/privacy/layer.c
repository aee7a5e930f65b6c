/* layer.c: the node's privacy layer: the privacy gate (PII detector and
 * policy), the audit log and the identities' audit pseudonyms. See
 * zt_privacy.h ("the node's privacy layer"). */
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_audit.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_pseudoid.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"

struct zt_privacy_layer {
    const struct zt_config *cfg;
    struct zt_privacy_gate *gate; /* detector + policy: the one decision */
    struct zt_audit *audit;
    struct zt_pseudoid *pid; /* audit pseudonyms; with the audit log */
    char audit_dir[1024];
};

int zt_privacy_layer_new(const struct zt_config *cfg, struct zt_privacy_layer **out, struct zt_buf *errs)
{
    struct zt_privacy_layer *pv = zt_calloc(1, sizeof *pv);
    if (!pv) return ZT_ENOMEM;
    pv->cfg = cfg;
    int rc = zt_privacy_gate_new(&cfg->privacy, &pv->gate, errs);
    return ZT_HAND_OUT(rc, pv, zt_privacy_layer_free, out);
}

int zt_privacy_layer_open_audit(struct zt_privacy_layer *pv, const struct zt_identity *id, struct zt_store *st,
                           struct zt_buf *errs)
{
    const struct zt_cfg_privacy *p = &pv->cfg->privacy;
    if (!p->audit_log || pv->audit) {
        zt_store_close(st);
        return 0;
    }
    char *dir = pv->audit_dir;
    int n = snprintf(dir, sizeof pv->audit_dir, "%s/logs/audit", pv->cfg->node.data_dir);
    if (n < 0 || (size_t)n >= sizeof pv->audit_dir) {
        zt_store_close(st);
        return ZT_ETOOBIG;
    }
    /* identities go into the log as keyed pseudonyms whose salts live in
     * the node store (database.*, opened by the node): no salt store, no audit log */
    if (!st) {
        if (errs) zt_ignore(zt_buf_appendf(errs, "audit: no node store for the pseudonym salts\n"));
        return ZT_EINVAL;
    }
    int src = zt_pseudoid_new(st, zt_identity_kem_sk(id), &pv->pid);
    if (src) {
        if (errs) zt_ignore(zt_buf_appendf(errs, "audit: cannot use the pseudonym store: %s\n", zt_strerror(src)));
        return src;
    }
    enum zt_audit_fsync mode = ZT_AUDIT_FSYNC_CHECKPOINT;
    if (zt_str_eq(p->audit_fsync, "always")) mode = ZT_AUDIT_FSYNC_ALWAYS;
    else if (zt_str_eq(p->audit_fsync, "never")) mode = ZT_AUDIT_FSYNC_NEVER;
    struct zt_audit_opts o = {
        .dir = dir,
        .id = id,
        .max_bytes = (uint64_t)p->audit_max_bytes,
        .checkpoint_entries = (uint64_t)p->audit_checkpoint_entries,
        .checkpoint_ms = (uint64_t)p->audit_checkpoint_seconds * 1000u,
        .fsync = mode,
        .retention_days = p->retention_audit_days,
    };
    int rc = zt_audit_open(&o, &pv->audit, errs);
    if (!rc) zt_log(ZT_LOG_INFO, "audit_log_open", "dir=%s seq=%llu", dir, (unsigned long long)zt_audit_seq(pv->audit));
    return rc;
}

void zt_privacy_layer_free(struct zt_privacy_layer *pv)
{
    if (!pv) return;
    zt_audit_close(pv->audit);
    zt_pseudoid_free(pv->pid);
    zt_privacy_gate_free(pv->gate);
    zt_free(pv);
}

int zt_privacy_layer_set_names(struct zt_privacy_layer *pv, const void *payload, size_t len)
{
    return pv ? zt_privacy_gate_set_names(pv->gate, payload, len) : ZT_EINVAL;
}

const struct zt_privacy_gate *zt_privacy_layer_gate(const struct zt_privacy_layer *pv)
{
    return pv->gate;
}

struct zt_audit *zt_privacy_layer_audit_log(struct zt_privacy_layer *pv)
{
    return pv->audit;
}

const char *zt_privacy_layer_audit_dir(const struct zt_privacy_layer *pv)
{
    return pv->audit ? pv->audit_dir : NULL;
}

int zt_privacy_layer_pseudonym(struct zt_privacy_layer *pv, const char *identity, bool create, char out[static ZT_PSEUDOID_STR])
{
    if (!pv->pid) return ZT_ENOTFOUND;
    return zt_pseudoid_get(pv->pid, identity, create, out);
}

int zt_privacy_layer_forget(struct zt_privacy_layer *pv, const char *identity, bool *found)
{
    if (!pv->pid) {
        if (found) *found = false;
        return 0;
    }
    return zt_pseudoid_forget(pv->pid, identity, found);
}

/* How an identity is written into an audit entry: node identities (public
 * node ids, not persons) and "anonymous" in clear, every other identity as
 * its pseudonym; "unresolved" when the salt store failed (never clear). */
void zt_privacy_layer_audit_name(struct zt_privacy_layer *pv, const char *identity, char out[static ZT_PSEUDOID_STR + 8])
{
    if (!identity || !identity[0]) {
        zt_strlcpy(out, "anonymous", ZT_PSEUDOID_STR + 8);
        return;
    }
    if (zt_str_starts_with(identity, "node:") && strlen(identity) < ZT_PSEUDOID_STR + 8) {
        zt_strlcpy(out, identity, ZT_PSEUDOID_STR + 8);
        return;
    }
    int rc = zt_privacy_layer_pseudonym(pv, identity, true, out);
    if (rc) {
        zt_log_rl(ZT_LOG_ERROR, 1, "audit_pseudonym_failed", "error=\"%s\"", zt_strerror(rc));
        zt_strlcpy(out, "unresolved", ZT_PSEUDOID_STR + 8);
    }
}

const struct zt_cfg_privacy *zt_privacy_layer_config(const struct zt_privacy_layer *pv)
{
    return &pv->cfg->privacy;
}

int zt_privacy_layer_audit_request(struct zt_privacy_layer *pv, const struct zt_privacy_audit_req *r)
{
    struct zt_audit *log = pv ? zt_privacy_layer_audit_log(pv) : NULL;
    if (!log) return 0;
    char who[ZT_PSEUDOID_STR + 8];
    zt_privacy_layer_audit_name(pv, r->identity, who);
    const char *names[64];
    size_t n = 0;
    const struct zt_pii_detector *pii = zt_privacy_gate_detector(zt_privacy_layer_gate(pv));
    for (unsigned t = 0; t < 64 && t < zt_pii_type_count(pii); t++)
        if (r->pii_types & (1ull << t)) names[n++] = zt_pii_type_name(pii, t);
    /* the feature: the last path segment, "chat" for /v1/chat/completions */
    const char *feature = strrchr(r->route, '/');
    feature = feature ? feature + 1 : r->route;
    if (zt_str_eq(r->route, "/v1/chat/completions")) feature = "chat";
    int st = r->status;
    const char *outcome = st >= 200 && st < 400                   ? "ok"
                          : (st == 401 || st == 403 || st == 429) ? "denied"
                          : st >= 500                             ? "error"
                                                                  : "rejected";
    struct zt_audit_event ev = {
        .identity = who,
        .role = r->role,
        .subject = r->subject,
        .route = r->route,
        .method = r->method,
        .feature = feature,
        .request_id = r->request_id,
        .job_id = r->job_id && r->job_id[0] ? r->job_id : NULL,
        .pii = names,
        .n_pii = n,
        .decision = r->decision ? r->decision : "none",
        .status = st,
        .outcome = outcome,
    };
    return zt_audit_record(log, &ev);
}
