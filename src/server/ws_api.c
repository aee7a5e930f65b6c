/* ws_api.c: GET /v1/ws: the WebSocket handshake and the connections, which
 * speak the annotation protocol of zt_annotate.h. See ws_api.h,
 * docs/api.md and docs/internals/websocket.md. */
#include "ws_api.h"

#include <stdio.h>
#include <string.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_json_num.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_ws.h"

#define PROTOCOL_VERSION 1

struct zt__ws {
    struct zt_ws_hub *hub;
    struct zt_annot_engine *eng; /* borrowed */
};

/* ---- connections -------------------------------------------------------- */

static void send_json(struct zt_ws_conn *c, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return;
    /* reals in their shortest round-trip form (0.8, not 0.80000000000000004) */
    struct zt_buf b;
    zt_buf_init(&b, 2 * strlen(s) + 64); /* a shortened real is never much longer */
    int rc = zt_json_shorten_reals(s, strlen(s), &b);
    if (!rc) rc = zt_ws_send_text(c, b.data, b.len);
    zt_buf_deinit(&b);
    if (rc == ZT_ETOOBIG) { /* over the connection's send budget */
        static const char too_big[] = "{\"type\":\"error\",\"id\":null,\"error\":{\"code\":\"answer_too_large\","
                                      "\"message\":\"the answer is over this connection's send buffer\"}}";
        zt_ignore(zt_ws_send_text(c, too_big, sizeof too_big - 1));
    }
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(s);
}

static void *conn_open(void *ud, struct zt_ws_conn *c)
{
    struct zt__ws *ws = ud;
    const char *nv[ZT_ANNOTATORS_MAX];
    size_t n = zt_annot_names(ws->eng, nv, ZT_ANNOTATORS_MAX);
    json_t *names = json_array();
    for (size_t i = 0; i < n && names; i++) json_array_append_new(names, json_string(nv[i]));
    send_json(c, json_pack("{s:s,s:i,s:I,s:o*}", "type", "hello", "version", PROTOCOL_VERSION, "max_message_bytes",
                           (json_int_t)zt_annot_max_message(ws->eng), "annotators", names));
    return zt_annot_convs_new(); /* NULL (out of memory): events answer with an error */
}

static void conn_text(void *ud, void *state, struct zt_ws_conn *c, const char *text, size_t len)
{
    struct zt__ws *ws = ud;
    if (!state) {
        send_json(c, zt_annot_error_event(NULL, "internal", "out of memory"));
        return;
    }
    send_json(c, zt_annot_handle_event(ws->eng, state, text, len));
}

static void conn_close(void *ud, void *state)
{
    zt_annot_convs_free(((struct zt__ws *)ud)->eng, state);
}

int zt__ws_new(const struct zt_config *cfg, struct zt_annot_engine *eng, struct zt__ws **out)
{
    struct zt__ws *ws = zt_calloc(1, sizeof *ws);
    if (!ws) return ZT_ENOMEM;
    ws->eng = eng;
    struct zt_ws_hub_opts o = {
        .max_message = zt_annot_max_message(eng),
        .max_connections = (unsigned)cfg->server.ws_max_connections,
        .idle_timeout_s = (unsigned)cfg->server.ws_idle_timeout_s,
        .on_open = conn_open,
        .on_text = conn_text,
        .on_close = conn_close,
        .ud = ws,
    };
    int rc = zt_ws_hub_new(&o, &ws->hub);
    if (rc) {
        zt_free(ws);
        return rc;
    }
    *out = ws;
    return 0;
}

void zt__ws_close_all(struct zt__ws *ws)
{
    if (ws) zt_ws_hub_close_all(ws->hub, ZT_WS_CLOSE_GOING_AWAY);
}

size_t zt__ws_count(struct zt__ws *ws)
{
    return ws ? zt_ws_hub_count(ws->hub) : 0;
}

void zt__ws_free(struct zt__ws *ws)
{
    if (!ws) return;
    zt_ws_hub_free(ws->hub);
    zt_free(ws);
}

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
    struct zt__ws *ws = ud;
    int rc = zt_ws_hub_adopt(ws->hub, u, fd, extra, extra_len); /* closes the socket on failure */
    if (rc) zt_log_rl(ZT_LOG_WARN, 10, "ws_adopt_failed", "rc=%d", rc);
}

void zt__ws_h_upgrade(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__ws *ws = ud;
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
    if (!zt_ws_hub_has_room(ws->hub)) {
        zt_http_resp_error(resp, 503, "overloaded", "too many WebSocket connections (server.ws_max_connections)");
        return;
    }
    if (zt_http_resp_header(resp, "Upgrade", "websocket") != 0 ||
        zt_http_resp_header(resp, "Sec-WebSocket-Accept", accept) != 0 ||
        zt_http_req_upgrade(req, on_upgraded, ws) != 0) {
        zt_http_resp_error(resp, 500, "internal", "could not switch protocols");
        return;
    }
}
