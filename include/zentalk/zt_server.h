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
 *   POST /v1/privacy/pii       {"text": ...}: PII hits and the pseudonymised text
 * The server only routes: src/node builds every subsystem (struct
 * zt_server_deps), hands them over, and frees them after zt_server_free
 * (docs/internals/dispatch.md).
 * Unknown paths are 404, known paths with another method 405 (with Allow),
 * and every error body is {"error":{"code":"...","message":"..."}}. */
#ifndef ZT_SERVER_H
#define ZT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "zt_config.h"
#include "zt_error.h"

struct zt_server;

/* The subsystems the routes serve, built by the node (src/node) and
 * defined in the internal header src/server/server_deps.h. */
struct zt_server_deps;

/* d is copied; what it points at must outlive the server. Registers the
 * server's metric families in d->metrics. ZT_ENOMEM, ZT_EINVAL (no cfg,
 * node id or metrics). */
ZT_NODISCARD int zt_server_new(const struct zt_server_deps *d, struct zt_server **out);
/* Bind cfg->server.listen and serve. ZT_EADDRINUSE, ZT_EPERM, ZT_EINVAL or ZT_EIO. */
ZT_NODISCARD int zt_server_start(struct zt_server *s);
uint16_t zt_server_port(const struct zt_server *s);
/* The URL the node serves (node.endpoint, or the listener's), once started. */
const char *zt_server_endpoint(const struct zt_server *s);

/* Serve HTTPS: read the PEM certificate (chain) and private key
 * (server.tls_cert_file / tls_key_file) and check them with GnuTLS; call
 * before zt_server_start(). ZT_EIO (unreadable; errno in err), ZT_ETOOBIG,
 * ZT_EPARSE (not PEM / not loadable), ZT_ECRYPTO (key and certificate do
 * not match), ZT_EUNSUPPORTED (libmicrohttpd without TLS); err says which. */
struct zt_buf;
ZT_NODISCARD int zt_server_set_tls(struct zt_server *s, const char *cert_path, const char *key_path,
                                   struct zt_buf *err);
bool zt_server_tls(const struct zt_server *s);

/* Readiness of one role (ZT_ROLE_*), shown by /readyz and /metrics.
 * detail is copied (short text for operators, no secrets). */
void zt_server_set_ready(struct zt_server *s, enum zt_role role, bool ready, const char *detail);

/* Graceful stop: /readyz turns 503, the listener closes, WebSockets get a
 * 1001 close, requests in flight finish. Returns 0 when none is left,
 * ZT_ETIMEDOUT after timeout_ms. */
ZT_NODISCARD int zt_server_drain(struct zt_server *s, uint64_t timeout_ms);
int64_t zt_server_inflight(const struct zt_server *s);
/* Shutdown step: wait up to wait_ms for the requests in flight to finish
 * (after the node ended the jobs they wait on). */
void zt_server_wait_idle(struct zt_server *s, uint64_t wait_ms);

/* Stops serving (if started) and frees the server, not the subsystems it
 * was given. NULL is a no-op. */
void zt_server_free(struct zt_server *s);

#endif
