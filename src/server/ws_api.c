/* ws_api.c: GET /v1/ws: the WebSocket handshake; the socket then goes to
 * the node's hub (src/node/ws_hub.c), whose connections speak the
 * annotation protocol of zt_annotate.h. See ws_api.h, docs/api.md and
 * docs/internals/websocket.md. */
#include "ws_api.h"

#include <string.h>

#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_ws.h"

/* ---- handshake ---------------------------------------------------------- */

/* Does the comma-separated header value list token (case-insensitive)? */
static bool has_token(const char *v, const char *token)
{
    size_t tl = strlen(token);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',') v++;
        size_t n = strcspn(v, ",");
        size_t e = n;
        while (e && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e == tl) {
            bool same = true;
            for (size_t i = 0; i < tl && same; i++) {
                char a = v[i], b = token[i];
                if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
                same = a == b;
            }
            if (same) return true;
        }
        v += n;
    }
    return false;
}

static void on_upgraded(void *ud, struct zt_http_upgraded *u, int fd, const char *extra, size_t extra_len)
{
    int rc = zt_ws_hub_adopt(ud, u, fd, extra, extra_len); /* closes the socket on failure */
    if (rc) zt_log_rl(ZT_LOG_WARN, 10, "ws_adopt_failed", "rc=%d", rc);
}

void zt__ws_h_upgrade(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_ws_hub *hub = ud;
    struct zt_http_req *req = cx->req;
    (void)body;
    if (!zt_str_eq(zt_http_req_method(req), "GET")) {
        zt_http_resp_error(resp, 400, "bad_request", "a WebSocket handshake is a GET request");
        return;
    }
    if (!has_token(zt_http_req_header(req, "Upgrade"), "websocket") ||
        !has_token(zt_http_req_header(req, "Connection"), "upgrade")) {
        zt_ignore(zt_http_resp_header(resp, "Upgrade", "websocket"));
        zt_http_resp_error(resp, 426, "upgrade_required",
                           "this route speaks WebSocket: send \"Upgrade: websocket\" and \"Connection: Upgrade\"");
        return;
    }
    if (!zt_str_eq(zt_http_req_header(req, "Sec-WebSocket-Version"), "13")) {
        zt_ignore(zt_http_resp_header(resp, "Sec-WebSocket-Version", "13"));
        zt_http_resp_error(resp, 426, "unsupported_version", "only WebSocket version 13 (RFC 6455) is supported");
        return;
    }
    char accept[ZT_WS_ACCEPT_LEN];
    if (zt_ws_accept_key(zt_http_req_header(req, "Sec-WebSocket-Key"), accept) != 0) {
        zt_http_resp_error(resp, 400, "bad_request", "Sec-WebSocket-Key must be the base64 of 16 bytes");
        return;
    }
    if (!zt_ws_hub_has_room(hub)) {
        zt_http_resp_error(resp, 503, "overloaded", "too many WebSocket connections (server.ws_max_connections)");
        return;
    }
    if (zt_http_resp_header(resp, "Upgrade", "websocket") != 0 ||
        zt_http_resp_header(resp, "Sec-WebSocket-Accept", accept) != 0 ||
        zt_http_req_upgrade(req, on_upgraded, hub) != 0) {
        zt_http_resp_error(resp, 500, "internal", "could not switch protocols");
        return;
    }
}
