/* ws.h: GET /v1/ws, live annotations over WebSocket (internal to
 * src/server; protocol in docs/api.md, layers in docs/internals/websocket.md).
 *
 * The handshake is checked here (after the route's authorisation, like any
 * other route), then the socket goes to a zt_ws_hub (src/net/ws_conn.c),
 * which calls back with each text message: a JSON event, answered with an
 * annotations event built by the registered annotators, or an error event
 * (the connection stays open unless the frame layer was violated). */
#ifndef ZT_SERVER_WS_H
#define ZT_SERVER_WS_H

#include "req.h"
#include <jansson.h>

#include "zentalk/zt_annotate.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"

struct zt__ws;

ZT_NODISCARD int zt__ws_new(const struct zt_config *cfg, struct zt__ws **out);
/* Annotators run in registration order. ZT_ETOOBIG / ZT_EINVAL. */
ZT_NODISCARD int zt__ws_add_annotator(struct zt__ws *ws, const struct zt_annotator *a);
void zt__ws_h_upgrade(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
/* Close every connection with 1001 and refuse new ones (node shutdown). */
void zt__ws_close_all(struct zt__ws *ws);
size_t zt__ws_count(struct zt__ws *ws);
/* Close all and wait for the connections to end, then free. NULL is a no-op. */
void zt__ws_free(struct zt__ws *ws);

/* Handle one client event (the text of a message) and return the event to
 * answer (the caller owns it; NULL when out of memory). cv is the
 * connection's conversation table. Used by the connection threads, the
 * tests and the fuzz harness. */
struct zt__ws_convs;
struct zt__ws_convs *zt__ws_convs_new(void);
void zt__ws_convs_free(struct zt__ws *ws, struct zt__ws_convs *cv);
json_t *zt__ws_handle_event(struct zt__ws *ws, struct zt__ws_convs *cv, const char *text, size_t len);

#endif
