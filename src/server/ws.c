/* ws.c: GET /v1/ws: the WebSocket handshake and the annotation protocol on
 * top of it. See ws.h, docs/api.md and docs/internals/websocket.md. */
#include <stdio.h>
#include <string.h>

#include "ws.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_ws.h"

#define PROTOCOL_VERSION 1
#define MAX_CONVS 32          /* conversations with annotator state per connection */
#define MAX_ID_BYTES 256      /* conversation, id, from */

struct conv {
    char *id;                 /* NULL: free slot */
    uint64_t last_used;
    void *state[ZT_ANNOTATORS_MAX];
};

struct zt__ws_convs {
    struct conv c[MAX_CONVS];
    uint64_t clock;
};

struct zt__ws {
    struct zt_ws_hub *hub;
    struct zt_annotator ann[ZT_ANNOTATORS_MAX];
    size_t n_ann;
    size_t max_message;
};

/* ---- the "basic" annotator ---------------------------------------------- */

static int basic_annotate(void *ud, const struct zt_annot_msg *m, void **conv_state, json_t *a)
{
    (void)ud, (void)conv_state;
    size_t chars = 0, lines = m->text_len ? 1 : 0;
    for (size_t i = 0; i < m->text_len; i++) {
        unsigned char c = (unsigned char)m->text[i];
        if ((c & 0xc0) != 0x80) chars++; /* count lead bytes: code points */
        if (c == '\n') lines++;
    }
    char iso[ZT_TIME_ISO_LEN];
    zt_time_iso8601(iso, sizeof iso, m->received_ms);
    int rc = json_object_set_new(a, "bytes", json_integer((json_int_t)m->text_len));
    rc |= json_object_set_new(a, "chars", json_integer((json_int_t)chars));
    rc |= json_object_set_new(a, "lines", json_integer((json_int_t)lines));
    rc |= json_object_set_new(a, "received_at", json_string(iso));
    rc |= json_object_set_new(a, "received_at_ms", json_integer((json_int_t)m->received_ms));
    return rc ? ZT_ENOMEM : 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

int zt__ws_add_annotator(struct zt__ws *ws, const struct zt_annotator *a)
{
    if (!a || !a->name || !a->name[0] || !a->annotate) return ZT_EINVAL;
    if (ws->n_ann >= ZT_ANNOTATORS_MAX) return ZT_ETOOBIG;
    ws->ann[ws->n_ann++] = *a;
    return 0;
}

struct zt__ws_convs *zt__ws_convs_new(void)
{
    return zt_calloc(1, sizeof(struct zt__ws_convs));
}

static void conv_clear(struct zt__ws *ws, struct conv *c)
{
    for (size_t i = 0; i < ws->n_ann; i++)
        if (c->state[i] && ws->ann[i].conv_free) ws->ann[i].conv_free(ws->ann[i].ud, c->state[i]);
    zt_free(c->id);
    memset(c, 0, sizeof *c);
}

void zt__ws_convs_free(struct zt__ws *ws, struct zt__ws_convs *cv)
{
    if (!cv) return;
    for (size_t i = 0; i < MAX_CONVS; i++)
        if (cv->c[i].id) conv_clear(ws, &cv->c[i]);
    zt_free(cv);
}

/* The conversation's slot, created (evicting the least recently used) when
 * new. NULL when out of memory. */
static struct conv *conv_get(struct zt__ws *ws, struct zt__ws_convs *cv, const char *id)
{
    struct conv *lru = &cv->c[0], *freec = NULL;
    for (size_t i = 0; i < MAX_CONVS; i++) {
        struct conv *c = &cv->c[i];
        if (c->id && strcmp(c->id, id) == 0) {
            c->last_used = ++cv->clock;
            return c;
        }
        if (!c->id && !freec) freec = c;
        if (c->id && c->last_used < lru->last_used) lru = c;
    }
    struct conv *c = freec ? freec : lru;
    if (c->id) conv_clear(ws, c);
    c->id = zt_strdup(id);
    if (!c->id) return NULL;
    c->last_used = ++cv->clock;
    return c;
}

/* ---- events ------------------------------------------------------------- */

static json_t *error_event(const char *id, const char *code, const char *msg)
{
    return json_pack("{s:s,s:s*,s:{s:s,s:s}}", "type", "error", "id", id, "error", "code", code, "message", msg);
}

/* A required or optional string field of at most max bytes. */
static bool str_field(json_t *ev, const char *name, bool required, size_t max, const char **out, char *msg,
                      size_t ml)
{
    json_t *v = json_object_get(ev, name);
    *out = NULL;
    if (!v && !required) return true;
    if (!json_is_string(v) || (required && json_string_length(v) == 0) || json_string_length(v) > max ||
        memchr(json_string_value(v), '\0', json_string_length(v))) {
        snprintf(msg, ml, "\"%s\" must be a %sstring of at most %zu bytes", name, required ? "non-empty " : "",
                 max);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static json_t *on_message(struct zt__ws *ws, struct zt__ws_convs *cv, json_t *ev)
{
    char msg[160];
    const char *conv_id, *id, *from, *text, *lang, *to;
    if (!str_field(ev, "id", true, MAX_ID_BYTES, &id, msg, sizeof msg))
        return error_event(NULL, "invalid_event", msg);
    if (!str_field(ev, "conversation", true, MAX_ID_BYTES, &conv_id, msg, sizeof msg) ||
        !str_field(ev, "from", false, MAX_ID_BYTES, &from, msg, sizeof msg) ||
        !str_field(ev, "text", false, ws->max_message, &text, msg, sizeof msg) ||
        !str_field(ev, "lang", false, 16, &lang, msg, sizeof msg) ||
        !str_field(ev, "translate_to", false, 16, &to, msg, sizeof msg))
        return error_event(id, "invalid_event", msg);
    if (!text) return error_event(id, "invalid_event", "\"text\" is required (a string)");
    struct conv *c = conv_get(ws, cv, conv_id);
    if (!c) return error_event(id, "internal", "out of memory");
    struct zt_annot_msg m = {
        .conversation = conv_id,
        .id = id,
        .from = from ? from : "",
        .text = text,
        .text_len = json_string_length(json_object_get(ev, "text")),
        .lang = lang,
        .translate_to = to,
        .received_ms = zt_time_real_ms(),
        .event = ev,
    };
    json_t *a = json_object(), *errors = json_object();
    if (!a || !errors) {
        json_decref(a);
        json_decref(errors);
        return error_event(id, "internal", "out of memory");
    }
    for (size_t i = 0; i < ws->n_ann; i++) {
        int rc = ws->ann[i].annotate(ws->ann[i].ud, &m, &c->state[i], a);
        if (rc) json_object_set_new(errors, ws->ann[i].name, json_string(zt_strerror(rc)));
    }
    if (json_object_size(errors)) json_object_set_new(a, "errors", errors);
    else json_decref(errors);
    return json_pack("{s:s,s:s,s:s,s:o}", "type", "annotations", "conversation", conv_id, "id", id, "annotations",
                     a);
}

json_t *zt__ws_handle_event(struct zt__ws *ws, struct zt__ws_convs *cv, const char *text, size_t len)
{
    json_error_t err;
    json_t *ev = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!ev) {
        char msg[256];
        snprintf(msg, sizeof msg, "invalid JSON at line %d, column %d: %s", err.line, err.column, err.text);
        return error_event(NULL, "invalid_json", msg);
    }
    json_t *out;
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!json_is_object(ev)) out = error_event(NULL, "invalid_event", "an event is a JSON object");
    else if (!type) out = error_event(NULL, "invalid_event", "\"type\" is required (\"message\" or \"ping\")");
    else if (zt_str_eq(type, "message")) out = on_message(ws, cv, ev);
    else if (zt_str_eq(type, "ping")) out = json_pack("{s:s}", "type", "pong");
    else out = error_event(NULL, "unknown_type", "unknown event type; known: message, ping");
    json_decref(ev);
    return out;
}

/* ---- connections -------------------------------------------------------- */

static void send_json(struct zt_ws_conn *c, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return;
    if (zt_ws_send_text(c, s, strlen(s)) == ZT_ETOOBIG) { /* over the connection's send budget */
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
    json_t *names = json_array();
    for (size_t i = 0; i < ws->n_ann && names; i++) json_array_append_new(names, json_string(ws->ann[i].name));
    send_json(c, json_pack("{s:s,s:i,s:I,s:o*}", "type", "hello", "version", PROTOCOL_VERSION, "max_message_bytes",
                           (json_int_t)ws->max_message, "annotators", names));
    return zt__ws_convs_new(); /* NULL (out of memory): events answer with an error */
}

static void conn_text(void *ud, void *state, struct zt_ws_conn *c, const char *text, size_t len)
{
    struct zt__ws *ws = ud;
    if (!state) {
        send_json(c, error_event(NULL, "internal", "out of memory"));
        return;
    }
    send_json(c, zt__ws_handle_event(ws, state, text, len));
}

static void conn_close(void *ud, void *state)
{
    zt__ws_convs_free(ud, state);
}

int zt__ws_new(const struct zt_config *cfg, struct zt__ws **out)
{
    struct zt__ws *ws = zt_calloc(1, sizeof *ws);
    if (!ws) return ZT_ENOMEM;
    ws->max_message = (size_t)cfg->server.ws_max_message_bytes;
    struct zt_ws_hub_opts o = {
        .max_message = ws->max_message,
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
    struct zt_annotator basic = {.name = "basic", .annotate = basic_annotate};
    zt_ignore(zt__ws_add_annotator(ws, &basic));
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
