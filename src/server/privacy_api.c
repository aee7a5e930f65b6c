/* privacy_api.c: the privacy layer in the HTTP API. See privacy_api.h. */
#include "privacy_api.h"

#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_pseudo.h"
#include "zentalk/zt_pseudoid.h"
#include "zentalk/zt_str.h"

struct zt__privacy {
    const struct zt_config *cfg;
    struct zt_privacy_gate *gate; /* detector + policy: the one decision */
    const struct zt_pii_detector *pii;
    struct zt_audit *audit;
    struct zt_pseudoid *pid; /* audit pseudonyms; with the audit log */
    char audit_dir[1024];
};

int zt__privacy_new(const struct zt_config *cfg, struct zt__privacy **out, struct zt_buf *errs)
{
    struct zt__privacy *pv = zt_calloc(1, sizeof *pv);
    if (!pv) return ZT_ENOMEM;
    pv->cfg = cfg;
    int rc = zt_privacy_gate_new(&cfg->privacy, &pv->gate, errs);
    if (!rc) pv->pii = zt_privacy_gate_detector(pv->gate);
    if (rc) {
        zt__privacy_free(pv);
        return rc;
    }
    *out = pv;
    return 0;
}

int zt__privacy_open_audit(struct zt__privacy *pv, const struct zt_identity *id, struct zt_store *st,
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

void zt__privacy_free(struct zt__privacy *pv)
{
    if (!pv) return;
    zt_audit_close(pv->audit);
    zt_pseudoid_free(pv->pid);
    zt_privacy_gate_free(pv->gate);
    zt_free(pv);
}

const struct zt_pii_detector *zt__privacy_detector(const struct zt__privacy *pv)
{
    return pv->pii;
}

const struct zt_privacy_policy *zt__privacy_policy(const struct zt__privacy *pv)
{
    return zt_privacy_gate_policy(pv->gate);
}

const struct zt_privacy_gate *zt__privacy_gate(const struct zt__privacy *pv)
{
    return pv->gate;
}

struct zt_audit *zt__privacy_audit_log(struct zt__privacy *pv)
{
    return pv->audit;
}

const char *zt__privacy_audit_dir(const struct zt__privacy *pv)
{
    return pv->audit ? pv->audit_dir : NULL;
}

int zt__privacy_pseudonym(struct zt__privacy *pv, const char *identity, bool create, char out[static ZT_PSEUDOID_STR])
{
    if (!pv->pid) return ZT_ENOTFOUND;
    return zt_pseudoid_get(pv->pid, identity, create, out);
}

int zt__privacy_forget(struct zt__privacy *pv, const char *identity, bool *found)
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
static void audit_name(struct zt__privacy *pv, const char *identity, char out[static ZT_PSEUDOID_STR + 8])
{
    if (!identity || !identity[0]) {
        zt_strlcpy(out, "anonymous", ZT_PSEUDOID_STR + 8);
        return;
    }
    if (zt_str_starts_with(identity, "node:") && strlen(identity) < ZT_PSEUDOID_STR + 8) {
        zt_strlcpy(out, identity, ZT_PSEUDOID_STR + 8);
        return;
    }
    int rc = zt__privacy_pseudonym(pv, identity, true, out);
    if (rc) {
        zt_log_rl(ZT_LOG_ERROR, 1, "audit_pseudonym_failed", "error=\"%s\"", zt_strerror(rc));
        zt_strlcpy(out, "unresolved", ZT_PSEUDOID_STR + 8);
    }
}

int zt__privacy_record(void *ud, const struct zt__req_ctx *cx, const char *subject_pseudonym, int status)
{
    struct zt__privacy *pv = ud;
    if (!pv || !pv->audit) return 0;
    char who[ZT_PSEUDOID_STR + 8];
    audit_name(pv, cx->principal.identity, who);
    const char *feature = strrchr(cx->route, '/');
    struct zt_audit_event ev = {
        .identity = who,
        .role = zt_auth_role_name(cx->principal.role),
        .subject = subject_pseudonym,
        .route = cx->route,
        .method = zt_http_req_method(cx->req),
        .feature = feature ? feature + 1 : cx->route,
        .request_id = cx->request_id,
        .decision = "none",
        .status = status,
        .outcome = status >= 200 && status < 400 ? "ok" : "error",
    };
    return zt_audit_record(pv->audit, &ev);
}

static bool feature_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')) return false;
    return true;
}

void zt__privacy_h_pii(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__privacy *pv = ud;
    json_t *text = json_object_get(body, "text"), *feature = json_object_get(body, "feature");
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val) {
        if (strcmp(key, "text") != 0 && strcmp(key, "feature") != 0) {
            zt_http_resp_error(resp, 400, "invalid_request", "unknown field; only \"text\" and \"feature\" are accepted");
            return;
        }
    }
    if (!text) {
        zt_http_resp_error(resp, 400, "invalid_request", "\"text\" is required");
        return;
    }
    if (!json_is_string(text)) {
        zt_http_resp_error(resp, 400, "invalid_request", "\"text\" must be a string");
        return;
    }
    if (feature && (!json_is_string(feature) || !feature_ok(json_string_value(feature)))) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "\"feature\" must be a feature name (lower-case letters, digits, _ and -)");
        return;
    }
    size_t len = json_string_length(text);
    const char *t = json_string_value(text);
    if (len == 0) {
        zt_http_resp_error(resp, 400, "invalid_request", "\"text\" must not be empty");
        return;
    }
    if (len > (size_t)pv->cfg->privacy.pii_max_text_bytes) {
        char msg[128];
        snprintf(msg, sizeof msg, "\"text\" is longer than privacy.pii_max_text_bytes (%lld bytes)",
                 (long long)pv->cfg->privacy.pii_max_text_bytes);
        zt_http_resp_error(resp, 413, "too_large", msg);
        return;
    }
    const char *fname = feature ? json_string_value(feature) : "pii";
    /* the decision is the gate's (the one every outbound job passes); the
     * answer shows every hit pseudonymised, whatever the policy keeps */
    struct zt_privacy_text one = {t, len};
    struct zt_privacy_verdict v;
    memset(&v, 0, sizeof v);
    struct zt_pseudo *ps = NULL;
    struct zt_buf masked;
    zt_buf_init(&masked, len * 2 + 4096);
    int rc = zt_privacy_gate_check(pv->gate, fname, &one, 1, &v);
    if (!rc) rc = zt_pseudo_new(pv->pii, &ps);
    if (!rc) rc = zt_pseudo_apply(ps, t, len, &v.hits[0], &masked);
    if (rc) {
        zt_http_resp_error(resp, rc == ZT_ETOOBIG ? 413 : 500, rc == ZT_ETOOBIG ? "too_large" : "internal",
                           rc == ZT_ETOOBIG ? "too much personal data in one text" : "PII detection failed");
        goto out;
    }
    const struct zt_pii_hits *hits = &v.hits[0];
    json_t *arr = json_array(), *types = json_array();
    uint64_t seen = 0;
    for (size_t i = 0; i < hits->n && arr && types; i++) {
        const struct zt_pii_hit *h = &hits->v[i];
        const char *name = zt_pii_type_name(pv->pii, h->type);
        json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:f}", "type", name, "start", (json_int_t)h->start, "end",
                                             (json_int_t)h->end, "confidence", h->confidence));
        if (h->type < 64 && !(seen & (1ull << h->type))) json_array_append_new(types, json_string(name));
        if (h->type < 64) seen |= 1ull << h->type;
    }
    const char *decision = zt_privacy_verdict_decision(&v);
    zt__req_note_privacy(cx, seen, decision);
    zt_http_resp_json(resp, 200,
                      json_pack("{s:o*,s:o*,s:s%,s:s,s:s}", "hits", arr, "types", types, "pseudonymised",
                                zt_buf_str(&masked), masked.len, "decision", decision, "feature", fname));
out:
    zt_pseudo_free(ps);
    zt_buf_deinit(&masked);
    zt_privacy_verdict_deinit(&v);
}

void zt__privacy_audit(struct zt__privacy *pv, const struct zt__req_ctx *cx, bool record, int status)
{
    const struct zt__req_notes *nt = &cx->notes;
    if (nt->recorded || !record || !pv || !pv->audit) return;
    const char *route = cx->route, *identity = cx->principal.identity;
    uint64_t types = nt->pii_types;
    const char *decision = nt->decision;
    const char *job = nt->job_id;
    char who[ZT_PSEUDOID_STR + 8];
    audit_name(pv, identity, who);
    const char *names[64];
    size_t n = 0;
    for (unsigned t = 0; t < 64 && t < zt_pii_type_count(pv->pii); t++)
        if (types & (1ull << t)) names[n++] = zt_pii_type_name(pv->pii, t);
    /* the feature: the last path segment, "chat" for /v1/chat/completions */
    const char *feature = strrchr(route, '/');
    feature = feature ? feature + 1 : route;
    if (zt_str_eq(route, "/v1/chat/completions")) feature = "chat";
    const char *outcome = status >= 200 && status < 400 ? "ok"
                          : (status == 401 || status == 403 || status == 429) ? "denied"
                          : status >= 500                                     ? "error"
                                                                              : "rejected";
    struct zt_audit_event ev = {
        .identity = who,
        .role = zt_auth_role_name(cx->principal.role),
        .route = route,
        .method = zt_http_req_method(cx->req),
        .feature = feature,
        .request_id = cx->request_id,
        .job_id = job[0] ? job : NULL,
        .pii = names,
        .n_pii = n,
        .decision = decision ? decision : "none",
        .status = status,
        .outcome = outcome,
    };
    int rc = zt_audit_record(pv->audit, &ev);
    if (rc)
        zt_log_rl(ZT_LOG_ERROR, 1, "audit_write_failed", "error=\"%s\" request_id=%s", zt_strerror(rc),
                  cx->request_id);
}
