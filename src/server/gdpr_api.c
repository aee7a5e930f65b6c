/* gdpr_api.c: POST /v1/privacy/{export,erase} (gdpr_api.h): who may act on
 * which identity, the statuses and the wording; the export and the erase
 * themselves are the privacy layer's GDPR service (zt_gdpr.h). */
#include "gdpr_api.h"

#include <stdio.h>
#include <string.h>

#include "zentalk/zt_gdpr.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_search.h"

/* The identity the request acts on, or NULL (resp filled: 400, 403). */
static const char *target_of(const struct zt_auth_principal *caller, json_t *body, struct zt_http_resp *resp)
{
    char why[160];
    const char *named = NULL;
    if (zt_gdpr_parse(body, &named, why, sizeof why) != 0) {
        zt_http_resp_error(resp, 400, "invalid_request", why);
        return NULL;
    }
    const char *t = named ? named : caller->identity;
    if (!t[0]) {
        zt_http_resp_error(resp, 400, "identity_required",
                           "the caller has no identity of its own (the loopback operator): name one with "
                           "{\"identity\": \"...\"}");
        return NULL;
    }
    if (!zt_search_may_act(caller, t)) {
        zt_http_resp_error(resp, 403, "forbidden", "\"identity\" must be the caller's own unless the caller is admin");
        return NULL;
    }
    return t;
}

static void store_fail(struct zt_http_resp *resp, int rc, const char *what)
{
    char m[512];
    snprintf(m, sizeof m, "%s: %s", what, zt_strerror(rc));
    if (rc == ZT_EBUSY) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
        zt_http_resp_error(resp, 503, "store_busy", m);
    } else {
        zt_http_resp_error(resp, 500, "store_error", m);
    }
}

void zt__gdpr_h_export(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_gdpr *g = ud;
    const char *id = target_of(&cx->principal, body, resp);
    if (!id) return;
    json_t *root = NULL;
    int rc = zt_gdpr_export(g, id, &root);
    if (!rc) {
        zt_ignore(zt_http_resp_header(resp, "Content-Disposition", "attachment; filename=\"zentalk-export.json\""));
        zt_ignore(zt_http_resp_header(resp, "Cache-Control", "no-store"));
        zt_http_resp_json(resp, 200, root);
    } else if (rc == ZT_ETOOBIG) {
        char m[160];
        snprintf(m, sizeof m, "the export holds more than %zu bytes of messages and audit entries; delete old "
                              "messages (POST /v1/search/delete) or ask the operator", zt_gdpr_export_max(g));
        zt_http_resp_error(resp, 413, "export_too_large", m);
    } else if (rc == ZT_ENOMEM) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
    } else {
        store_fail(resp, rc, "export failed");
    }
}

/* The erase's own audit entry: the request's, with the erased identity's
 * pseudonym as its subject when an admin erases someone else. */
struct erase_audit {
    struct zt__req_ctx *cx;
    bool self;
};

static void erase_audit(void *ud, const char *pseudonym)
{
    struct erase_audit *a = ud;
    int rc = zt__req_audit_now(a->cx, a->self ? NULL : pseudonym, 200);
    if (rc) zt_log(ZT_LOG_ERROR, "audit_write_failed", "error=\"%s\" request_id=%s", zt_strerror(rc), a->cx->request_id);
}

static json_int_t erased_count(json_t *answer, const char *key)
{
    json_t *v = json_object_get(json_object_get(answer, "erased"), key);
    return json_is_true(v) ? 1 : json_integer_value(v);
}

void zt__gdpr_h_erase(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_gdpr *g = ud;
    const char *id = target_of(&cx->principal, body, resp);
    if (!id) return;
    struct erase_audit a = {.cx = cx, .self = strcmp(id, cx->principal.identity) == 0};
    struct zt_gdpr_erase_fail f;
    json_t *j = NULL;
    int rc = zt_gdpr_erase(g, id, erase_audit, &a, &j, &f);
    char m[200];
    if (rc && f.at == ZT_GDPR_STOP_HOLDER && rc == ZT_ECLOSED) {
        snprintf(m, sizeof m, "%s cannot be reached (their store exists but is not open); %s (see the node log)",
                 f.what, f.first ? "nothing was erased" : "nothing after them was erased");
        zt_http_resp_error(resp, 503, "store_unavailable", m);
    } else if (rc && f.at == ZT_GDPR_STOP_HOLDER) {
        snprintf(m, sizeof m, "erasing %s failed; %s", f.what,
                 f.first ? "nothing else was erased" : "what came before was erased, nothing after; retry");
        store_fail(resp, rc, m);
    } else if (rc && f.at == ZT_GDPR_STOP_KEPT) {
        char k[400];
        snprintf(k, sizeof k, "%s were erased, but %s could not state what it keeps; retry", f.erased, f.what);
        store_fail(resp, rc, k);
    } else if (rc && f.at == ZT_GDPR_STOP_SALT) {
        store_fail(resp, rc, "search messages and sessions were erased, but the audit pseudonym salt could not be "
                             "destroyed; retry");
    } else if (rc) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
    } else {
        zt_log(ZT_LOG_INFO, "privacy_erase", "search_docs=%lld sessions=%lld salt_destroyed=%d request_id=%s",
               (long long)erased_count(j, "search_documents"), (long long)erased_count(j, "sessions_revoked"),
               (int)erased_count(j, "audit_salt_destroyed"), cx->request_id);
        zt_http_resp_json(resp, 200, j);
    }
}
