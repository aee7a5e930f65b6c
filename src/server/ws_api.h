/* ws_api.h: GET /v1/ws, live annotations over WebSocket (internal to
 * src/server; protocol in docs/api.md, layers in docs/internals/websocket.md).
 *
 * The handshake is checked here (after the route's authorisation, like any
 * other route), then the socket goes to a zt_ws_hub (src/net/ws_conn.c),
 * which calls back with each text message: the annotation engine
 * (zt_annotate.h, src/features/annotate.c) answers it. */
#ifndef ZT_SERVER_WS_API_H
#define ZT_SERVER_WS_API_H

#include <jansson.h>

#include "req.h"
#include "zentalk/zt_annotate.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"

struct zt__ws;

/* eng (borrowed) answers the events; it must outlive the result. */
ZT_NODISCARD int zt__ws_new(const struct zt_config *cfg, struct zt_annot_engine *eng, struct zt__ws **out);
/* The route (ud: the struct zt__ws). */
void zt__ws_h_upgrade(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
/* Close every connection with 1001 and refuse new ones (node shutdown). */
void zt__ws_close_all(struct zt__ws *ws);
size_t zt__ws_count(struct zt__ws *ws);
/* Close all and wait for the connections to end, then free. NULL is a no-op. */
void zt__ws_free(struct zt__ws *ws);

#endif
