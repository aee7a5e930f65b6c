/* privacy_api.c: the privacy layer in the HTTP API. See privacy_api.h. */
#include "privacy_api.h"

#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_pseudo.h"
#include "zentalk/zt_pseudoid.h"
#include "zentalk/zt_str.h"

int zt__privacy_record(void *ud, const struct zt__req_ctx *cx, const char *subject_pseudonym, int status)
{
    const struct zt_privacy_audit_req r = {.identity = cx->principal.identity,
                                           .role = zt_auth_role_name(cx->principal.role),
                                           .route = cx->route,
                                           .method = zt_http_req_method(cx->req),
                                           .request_id = cx->request_id,
                                           .subject = subject_pseudonym,
                                           .status = status};
    return zt_privacy_layer_audit_request(ud, &r);
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
    struct zt_privacy_layer *pv = ud;
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
    if (len > (size_t)zt_privacy_layer_config(pv)->pii_max_text_bytes) {
        char msg[128];
        snprintf(msg, sizeof msg, "\"text\" is longer than privacy.pii_max_text_bytes (%lld bytes)",
                 (long long)zt_privacy_layer_config(pv)->pii_max_text_bytes);
        zt_http_resp_error(resp, 413, "too_large", msg);
        return;
    }
    const char *fname = feature ? json_string_value(feature) : "pii";
    /* the decision is the gate's (the one every outbound job passes); the
     * answer shows every hit pseudonymised, whatever the policy keeps */
    const struct zt_privacy_gate *gate = zt_privacy_layer_gate(pv);
    struct zt_privacy_text one = {t, len};
    struct zt_privacy_verdict v;
    memset(&v, 0, sizeof v);
    struct zt_pseudo *ps = NULL;
    struct zt_buf masked;
    zt_buf_init(&masked, len * 2 + 4096);
    int rc = zt_privacy_gate_check(gate, fname, &one, 1, &v);
    if (!rc) rc = zt_pseudo_new(zt_privacy_gate_detector(gate), &ps);
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
        const char *name = zt_pii_type_name(zt_privacy_gate_detector(gate), h->type);
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

void zt__privacy_audit(struct zt_privacy_layer *pv, const struct zt__req_ctx *cx, bool record, int status)
{
    const struct zt__req_notes *nt = &cx->notes;
    if (nt->recorded || !record) return;
    const struct zt_privacy_audit_req r = {.identity = cx->principal.identity,
                                           .role = zt_auth_role_name(cx->principal.role),
                                           .route = cx->route,
                                           .method = zt_http_req_method(cx->req),
                                           .request_id = cx->request_id,
                                           .job_id = nt->job_id,
                                           .pii_types = nt->pii_types,
                                           .decision = nt->decision,
                                           .status = status};
    int rc = zt_privacy_layer_audit_request(pv, &r);
    if (rc)
        zt_log_rl(ZT_LOG_ERROR, 1, "audit_write_failed", "error=\"%s\" request_id=%s", zt_strerror(rc),
                  cx->request_id);
}
