/* ws_api.h: GET /v1/ws, live annotations over WebSocket (internal to
 * src/server; protocol in docs/api.md, layers in docs/internals/websocket.md).
 *
 * The handshake is checked here (after the route's authorisation, like any
 * other route), then the socket goes to the node's zt_ws_hub
 * (src/net/ws_conn.c, built in src/node/ws_hub.c), which calls back with
 * each text message: the annotation engine (zt_annotate.h,
 * src/features/annotate.c) answers it. */
#ifndef ZT_SERVER_WS_API_H
#define ZT_SERVER_WS_API_H

#include <jansson.h>

#include "req.h"
#include "zentalk/zt_http.h"

/* The route (ud: the node's struct zt_ws_hub, src/node/ws_hub.c). */
void zt__ws_h_upgrade(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
