/* ws_hub.c: the WebSocket hub of /v1/ws, its connections speaking the
 * annotation protocol. See ws_hub.h. */
#include "ws_hub.h"

#include <jansson.h>
#include <string.h>

#include "zentalk/zt_annotate.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_json_num.h"
#include "zentalk/zt_ws.h"

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
    send_json(c, zt_annot_hello_event(ud));
    return zt_annot_convs_new(); /* NULL (out of memory): events answer with an error */
}

static void conn_text(void *ud, void *state, struct zt_ws_conn *c, const char *text, size_t len)
{
    if (!state) {
        send_json(c, zt_annot_error_event(NULL, "internal", "out of memory"));
        return;
    }
    send_json(c, zt_annot_handle_event(ud, state, text, len));
}

static void conn_close(void *ud, void *state)
{
    zt_annot_convs_free(ud, state);
}

int zt__node_ws_hub_new(const struct zt_config *cfg, struct zt_annot_engine *eng, struct zt_ws_hub **out)
{
    struct zt_ws_hub_opts o = {
        .max_message = zt_annot_max_message(eng),
        .max_connections = (unsigned)cfg->server.ws_max_connections,
        .idle_timeout_s = (unsigned)cfg->server.ws_idle_timeout_s,
        .on_open = conn_open,
        .on_text = conn_text,
        .on_close = conn_close,
        .ud = eng,
    };
    return zt_ws_hub_new(&o, out);
}
