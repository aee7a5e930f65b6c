/* mesh_api.h: the mesh over HTTP (internal to src/server;
 * docs/internals/mesh.md, docs/api.md). One route, GET/POST /v1/mesh/...,
 * served by zt__mesh_h with the node's struct zt_mesh (NULL: mesh.enabled
 * false, every path answers 404 mesh_disabled):
 *
 *  peers (a signed node request, or the loopback operator), rate-limited per caller:
 *  - GET  /v1/mesh/manifest/<root hex>   the manifest (application/octet-stream)
 *  - GET  /v1/mesh/chunk/<sha256 hex>    one chunk's bytes
 *  - POST /v1/mesh/replicate {"sha256","rf"}  please hold this blob (202)
 *  the operator (admin):
 *  - GET  /v1/mesh/status, /v1/mesh/blobs, /v1/mesh/pull/<sha256 hex>
 *  - POST /v1/mesh/add {"path","name","rf"}, /v1/mesh/pull {"sha256","name","install"},
 *         /v1/mesh/pin {"sha256"}, /v1/mesh/unpin {"sha256"} */
#ifndef ZT_SERVER_MESH_API_H
#define ZT_SERVER_MESH_API_H

#include "req.h"

void zt__mesh_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
