/* ws_hub.h: the WebSocket hub of /v1/ws (internal to src/node, the
 * composition root; protocol in docs/api.md, layers in
 * docs/internals/websocket.md).
 *
 * src/net's hub (zt_ws.h, ws_conn.c) runs the connections; each speaks
 * the annotation protocol of zt_annotate.h (src/features/annotate.c): the
 * hello event on open, one answer per text message, the connection's
 * conversations freed on close. The route (src/server/ws_api.c) checks
 * the handshake and hands the socket to this hub. */
#ifndef ZT_NODE_WS_HUB_H
#define ZT_NODE_WS_HUB_H

#include "zentalk/zt_config.h"
#include "zentalk/zt_error.h"

struct zt_annot_engine;
struct zt_ws_hub;

/* A hub whose connections eng (borrowed; it must outlive the hub)
 * answers, within server.ws_max_connections, server.ws_idle_timeout_s and
 * the engine's message size. Free it with zt_ws_hub_free. ZT_ENOMEM. */
ZT_NODISCARD int zt__node_ws_hub_new(const struct zt_config *cfg, struct zt_annot_engine *eng,
                                     struct zt_ws_hub **out);

#endif
