/* gdpr_api.h: the GDPR export and erasure routes (internal to src/server; docs/privacy/DATA_HANDLING.md, docs/api.md).
 *
 * POST /v1/privacy/export and POST /v1/privacy/erase act on one identity:
 * the caller's own (JWT sub, or "wallet:0x..." for a wallet session), or,
 * for an admin (the loopback operator of the embedded default included),
 * the one named in {"identity": ...}. A non-admin naming another identity
 * gets 403.
 *
 * The export and the erase are the privacy layer's GDPR service
 * (zt_gdpr.h: what each holds, the byte budget, the erase's order); the
 * routes map its errors: 413 export_too_large past ZT_GDPR_EXPORT_MAX
 * bytes or ZT_SEARCH_EXPORT_MAX_DOCS messages, 503 store_unavailable (a
 * holder's store not open) and store_busy, 500 store_error. The erase's
 * own audit entry is the request's, written by the route when the service
 * asks for it (before the pseudonym salt goes), with the erased identity's
 * pseudonym as subject when an admin erases someone else.
 *
 * The retention sweeper is the privacy layer's too (zt_gdpr.h). */
#ifndef ZT_SERVER_GDPR_API_H
#define ZT_SERVER_GDPR_API_H

#include <jansson.h>

#include "req.h"
#include "zentalk/zt_http.h"

/* The routes (ud: the node's struct zt_gdpr, zt_gdpr.h). */
void zt__gdpr_h_export(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__gdpr_h_erase(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
