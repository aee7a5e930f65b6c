/* dbsync_api.h: the database sync over HTTP (internal to src/server;
 * zt_dbsync.h, docs/api.md). One route for the node's operator (role
 * admin), served by zt__dbsync_h with the node's struct zt_dbsync (NULL:
 * no database sync here, every path answers 404 dbsync_disabled):
 *  - GET  /v1/dbsync/status   the last segment made, segments made, interval
 *  - GET  /v1/dbsync/audit    the published chain against the store
 *  - POST /v1/dbsync/publish  publish what changed now {"segments":N} */
#ifndef ZT_SERVER_DBSYNC_API_H
#define ZT_SERVER_DBSYNC_API_H

#include "req.h"

void zt__dbsync_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
