/* mesh_api.c: the mesh's routes (mesh_api.h). Parsing and rendering only:
 * the work is zt_mesh.h's. */
#include "mesh_api.h"

#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_mesh.h"
#include "zentalk/zt_str.h"

#define PREFIX "/v1/mesh/"

static bool hex64(const char *s)
{
    return s && strlen(s) == 64 && zt_hex_valid(s, 64, ZT_HEX_LOWER);
}

/* "sha256:<hex>" or "<hex>" -> the hex, or NULL. */
static const char *sha_arg(json_t *body)
{
    const char *s = json_string_value(json_object_get(body, "sha256"));
    if (s && zt_str_starts_with(s, "sha256:")) s += 7;
    return hex64(s) ? s : NULL;
}

static void send_text(struct zt_http_resp *resp, int status, int rc, char *json)
{
    if (rc) {
        zt_http_resp_error(resp, rc == ZT_ENOTFOUND ? 404 : 500, rc == ZT_ENOTFOUND ? "not_found" : "internal",
                           zt_strerror(rc));
        return;
    }
    resp->status = status;
    if (zt_buf_append_str(&resp->body, json) != 0) zt_http_resp_error(resp, 500, "internal", "answer too large");
    zt_free(json);
}

static void error_of(struct zt_http_resp *resp, int rc, const char *what)
{
    int st = rc == ZT_ENOTFOUND ? 404 : rc == ZT_EINVAL ? 400 : rc == ZT_EPERM ? 403
           : rc == ZT_ETOOBIG ? 507 : rc == ZT_EBUSY ? 503 : rc == ZT_EIO ? 422 : 500;
    const char *code = st == 404 ? "not_found" : st == 400 ? "invalid_request" : st == 403 ? "refused"
                     : st == 507 ? "store_full" : st == 503 ? "busy" : st == 422 ? "unreadable" : "internal";
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %s", what, zt_strerror(rc));
    zt_http_resp_error(resp, st, code, msg);
}

static bool limited(struct zt_mesh *m, struct zt__req_ctx *cx, struct zt_http_resp *resp)
{
    unsigned retry = 1;
    const char *who = cx->principal.identity[0] ? cx->principal.identity : zt_http_req_client_addr(cx->req);
    if (zt_mesh_serve_allowed(m, who, &retry)) return false;
    char v[16];
    snprintf(v, sizeof v, "%u", retry);
    zt_ignore(zt_http_resp_header(resp, "Retry-After", v));
    zt_http_resp_error(resp, 429, "rate_limited", "too many mesh requests; retry after Retry-After");
    return true;
}

static void serve_bytes(struct zt_mesh *m, struct zt__req_ctx *cx, bool manifest, const char *hex,
                        struct zt_http_resp *resp)
{
    if (!hex64(hex)) {
        zt_http_resp_error(resp, 400, "invalid_request", "expected 64 lower-case hex digits");
        return;
    }
    if (limited(m, cx, resp)) return;
    int rc = manifest ? zt_mesh_serve_manifest(m, hex, &resp->body) : zt_mesh_serve_chunk(m, hex, &resp->body);
    if (rc) {
        zt_buf_reset(&resp->body);
        error_of(resp, rc, manifest ? "manifest" : "chunk");
        return;
    }
    resp->status = 200;
    resp->content_type = "application/octet-stream";
}

static bool operator_only(struct zt__req_ctx *cx, struct zt_http_resp *resp)
{
    if (cx->principal.role >= ZT_AUTH_ADMIN) return false;
    zt_http_resp_error(resp, 403, "forbidden", "this mesh route is for the node's operator");
    return true;
}

static void post(struct zt_mesh *m, struct zt__req_ctx *cx, const char *verb, json_t *body,
                 struct zt_http_resp *resp)
{
    const char *sha = sha_arg(body);
    if (strcmp(verb, "replicate") == 0) { /* a holder asks (a signed peer) */
        json_int_t rf = json_integer_value(json_object_get(body, "rf"));
        if (!sha || rf < 0 || rf > ZT_MESH_RF_MAX) {
            zt_http_resp_error(resp, 400, "invalid_request", "expected {\"sha256\":hex,\"rf\":1..16}");
            return;
        }
        int rc = zt_mesh_offer(m, sha, (unsigned)rf);
        if (rc) error_of(resp, rc, "replica");
        else zt_http_resp_json(resp, 202, json_pack("{s:s,s:s}", "status", "accepted", "sha256", sha));
        return;
    }
    if (operator_only(cx, resp)) return;
    if (strcmp(verb, "add") == 0) {
        const char *path = json_string_value(json_object_get(body, "path"));
        const char *name = json_string_value(json_object_get(body, "name"));
        json_int_t rf = json_integer_value(json_object_get(body, "rf"));
        char hex[65];
        if (!path || !path[0] || (name && name[0] && !zt_mesh_name_ok(name)) || rf < 0 || rf > ZT_MESH_RF_MAX) {
            zt_http_resp_error(resp, 400, "invalid_request", "expected {\"path\":s[,\"name\":FILE][,\"rf\":0..16]}");
            return;
        }
        int rc = zt_mesh_add_file(m, path, name, (unsigned)rf, hex);
        if (rc) error_of(resp, rc, "add");
        else zt_http_resp_json(resp, 200, json_pack("{s:s,s:s}", "status", "added", "sha256", hex));
        return;
    }
    if (!sha) {
        zt_http_resp_error(resp, 400, "invalid_request", "expected {\"sha256\":\"<64 hex>\"}");
        return;
    }
    int rc;
    if (strcmp(verb, "pull") == 0) {
        const char *name = json_string_value(json_object_get(body, "name"));
        if (name && name[0] && !zt_mesh_name_ok(name)) {
            zt_http_resp_error(resp, 400, "invalid_request", "name: a file name (letters, digits, . _ -)");
            return;
        }
        rc = zt_mesh_pull(m, sha, name, json_is_true(json_object_get(body, "install")), 0);
        if (rc) {
            error_of(resp, rc, "pull");
            return;
        }
        char *j = NULL;
        rc = zt_mesh_pull_json(m, sha, &j);
        send_text(resp, 202, rc, j);
        return;
    }
    if (strcmp(verb, "pin") == 0) rc = zt_mesh_pin(m, sha);
    else if (strcmp(verb, "unpin") == 0) rc = zt_mesh_unpin(m, sha);
    else {
        zt_http_resp_error(resp, 404, "not_found", "no such mesh route");
        return;
    }
    if (rc) error_of(resp, rc, verb);
    else zt_http_resp_json(resp, 200, json_pack("{s:s,s:s}", "status", verb[0] == 'p' ? "pinned" : "unpinned",
                                                "sha256", sha));
}

void zt__mesh_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_mesh *m = ud;
    if (!m) {
        zt_http_resp_error(resp, 404, "mesh_disabled", "this node does not run the mesh (mesh.enabled)");
        return;
    }
    const char *path = zt_http_req_path(cx->req);
    const char *rest = zt_str_starts_with(path, PREFIX) ? path + strlen(PREFIX) : "";
    if (strcmp(zt_http_req_method(cx->req), "POST") == 0) {
        post(m, cx, rest, body, resp);
        return;
    }
    bool chunk = zt_str_starts_with(rest, "chunk/"), manifest = zt_str_starts_with(rest, "manifest/");
    if (chunk || manifest) {
        serve_bytes(m, cx, manifest, rest + (chunk ? 6 : 9), resp);
        return;
    }
    if (operator_only(cx, resp)) return;
    char *j = NULL;
    int rc;
    if (strcmp(rest, "status") == 0) rc = zt_mesh_status_json(m, &j);
    else if (strcmp(rest, "blobs") == 0) rc = zt_mesh_list_json(m, &j);
    else if (zt_str_starts_with(rest, "pull/") && hex64(rest + 5)) rc = zt_mesh_pull_json(m, rest + 5, &j);
    else rc = ZT_ENOTFOUND;
    send_text(resp, 200, rc, j);
}
