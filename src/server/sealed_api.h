/* sealed_api.h: the node's identity routes and sealed jobs (internal to
 * src/server):
 *   GET  /v1/node/descriptor  the signed node descriptor (zt_identity.h):
 *                             id, keys, roles, models, endpoint, expiry
 *   POST /v1/jobs/sealed      a worker runs a job sealed to its X25519 key
 *                             and streams back the sealed result and a
 *                             signed receipt (zt_sealed.h)
 * Wire formats: docs/api.md and docs/architecture/SECURE_GPU_ENCRYPTION.md;
 * threat model: docs/privacy/ENCRYPTION.md. Thread-safe. */
#ifndef ZT_SERVER_SEALED_API_H
#define ZT_SERVER_SEALED_API_H

#include <stdint.h>

#include "req.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_infer.h"

struct zt__sealed;

/* id, ms and cfg must outlive the result. Allocates the replay cache
 * (ZT__SEALED_REPLAY_IDS job ids) when cfg runs the worker role.
 * ZT_ENOMEM. */
#define ZT__SEALED_REPLAY_IDS ((size_t)65536)
#define ZT__SEALED_DESCRIPTOR_TTL_S 3600
ZT_NODISCARD int zt__sealed_new(const struct zt_identity *id, struct zt_infer *ms,
                                const struct zt_config *cfg, struct zt__sealed **out);
void zt__sealed_free(struct zt__sealed *sj);

/* The URL the node serves, for the descriptor (copied; the cached
 * descriptor is re-signed). Called once the server listens, while requests
 * may already run: until then the descriptor names no endpoint. */
void zt__sealed_set_endpoint(struct zt__sealed *sj, const char *endpoint);

/* A check this worker ran ended (a teacher-forced verification job, or a
 * replica: a resume with no ids and no checkpoint): its
 * signed FINAL checkpoint and receipt (no text), handed over just before
 * the final chunk goes to the gateway, so that the worker can report them
 * to its orchestrators itself (joiner.c). Must not block. */
typedef void (*zt__sealed_check_fn)(void *ud, const uint8_t *ckpt, size_t ckpt_len, const uint8_t *receipt,
                                    size_t receipt_len);
/* Set once, before the server serves. */
void zt__sealed_set_check_hook(struct zt__sealed *sj, zt__sealed_check_fn fn, void *ud);

/* The node's signed descriptor, as GET /v1/node/descriptor serves it, in
 * *out (zt_free) for the discovery DHT. ZT_EINVAL (sj NULL), ZT_ENOMEM. */
ZT_NODISCARD int zt__sealed_descriptor(struct zt__sealed *sj, char **out);

/* GET /v1/node/descriptor (ud: sj, which may be NULL: 503). */
void zt__sealed_h_descriptor(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

/* POST /v1/jobs/sealed with the envelope as the body (dispatch checked
 * the content type; ud: sj, which may be NULL: 503). */
void zt__sealed_h_job(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
