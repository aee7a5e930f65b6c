/* zt_server.h: the node's HTTP API (routes, JSON errors, metrics).
 *
 * Routes of this version:
 *   GET  /healthz              liveness: 200 while the process serves
 *   GET  /readyz               200 when every enabled role is ready, else 503
 *   GET  /metrics              Prometheus text exposition format 0.0.4
 *   GET  /v1/status            node id, roles, version, uptime, models, peers
 *   GET  /v1/attestation/report?nonce=HEX  signed software attestation (zt_attest.h)
 *   GET  /v1/node/descriptor   the signed node descriptor (zt_identity.h)
 *   POST /v1/jobs/sealed       run a sealed job (zt_sealed.h; worker role)
 *   /v1/models, /v1/completions, /v1/chat/completions, /v1/embeddings (OpenAI)
 *   GET  /v1/admin/log-level   current log level (loopback clients only)
 *   PUT  /v1/admin/log-level   {"level":"debug"} (loopback clients only)
 * Unknown paths are 404, known paths with another method 405 (with Allow),
 * and every error body is {"error":{"code":"...","message":"..."}}. */
#ifndef ZT_SERVER_H
#define ZT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "zt_config.h"
#include "zt_error.h"

struct zt_server;

/* cfg and node_id must outlive the server. */
ZT_NODISCARD int zt_server_new(const struct zt_config *cfg, const char *node_id,
                               struct zt_server **out);
/* Bind cfg->server.listen and serve. ZT_EADDRINUSE, ZT_EPERM, ZT_EINVAL or ZT_EIO. */
ZT_NODISCARD int zt_server_start(struct zt_server *s);
uint16_t zt_server_port(const struct zt_server *s);

/* Sign attestation reports (GET /v1/attestation/report) and the node
 * descriptor, and open sealed jobs, with id, which must outlive the server;
 * call once, before zt_server_start(). Hashes the running binary and
 * allocates the replay cache (worker role). Without it those routes answer
 * 503. ZT_ENOMEM, ZT_EIO,
 * ZT_EINVAL (called twice). */
struct zt_identity;
ZT_NODISCARD int zt_server_set_identity(struct zt_server *s, const struct zt_identity *id);

/* Readiness of one role (ZT_ROLE_*), shown by /readyz and /metrics.
 * detail is copied (short text for operators, no secrets). */
void zt_server_set_ready(struct zt_server *s, enum zt_role role, bool ready, const char *detail);

/* Graceful stop: /readyz turns 503, the listener closes, requests in flight
 * finish. Returns 0 when none is left, ZT_ETIMEDOUT after timeout_ms. */
ZT_NODISCARD int zt_server_drain(struct zt_server *s, uint64_t timeout_ms);
int64_t zt_server_inflight(const struct zt_server *s);

/* Stops serving (if started) and frees. NULL is a no-op. */
void zt_server_free(struct zt_server *s);

#endif
