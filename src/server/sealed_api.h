/* sealed_api.h: the node's identity routes and sealed jobs (internal to
 * src/server):
 *   GET  /v1/node/descriptor  the signed node descriptor (zt_identity.h):
 *                             id, keys, roles, models, endpoint, expiry
 *   POST /v1/jobs/sealed      a worker runs a job sealed to its X25519 key
 *                             and streams back the sealed result and a
 *                             signed receipt (zt_sealed.h)
 * Thin handlers over the worker side of sealed jobs (zt_sealed_worker.h,
 * src/jobs). Wire formats: docs/api.md and
 * docs/architecture/SECURE_GPU_ENCRYPTION.md; threat model:
 * docs/privacy/ENCRYPTION.md. Thread-safe. */
#ifndef ZT_SERVER_SEALED_API_H
#define ZT_SERVER_SEALED_API_H

#include "req.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_sealed_worker.h"

/* GET /v1/node/descriptor (ud: the node's struct zt_sealed_worker, which
 * may be NULL: 503). */
void zt__sealed_h_descriptor(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

/* POST /v1/jobs/sealed with the envelope as the body (dispatch checked
 * the content type; ud as above). */
void zt__sealed_h_job(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
