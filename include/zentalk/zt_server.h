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

/* Serve HTTPS: read the PEM certificate (chain) and private key
 * (server.tls_cert_file / tls_key_file) and check them with GnuTLS; call
 * before zt_server_start(). ZT_EIO (unreadable; errno in err), ZT_ETOOBIG,
 * ZT_EPARSE (not PEM / not loadable), ZT_ECRYPTO (key and certificate do
 * not match), ZT_EUNSUPPORTED (libmicrohttpd without TLS); err says which. */
struct zt_buf;
ZT_NODISCARD int zt_server_set_tls(struct zt_server *s, const char *cert_path, const char *key_path,
                                   struct zt_buf *err);

/* Load the PEM public key verifying RS256 (RSA) or EdDSA (Ed25519) API
 * tokens (encryption.jwt_public_key_file); call before zt_server_start().
 * ZT_EIO, ZT_ETOOBIG, ZT_EPARSE, ZT_EUNSUPPORTED (another key type),
 * ZT_ECONFIG (encryption.jwt_algorithms lacks the key's algorithm); err
 * says why. */
struct zt_buf;
ZT_NODISCARD int zt_server_load_jwt_key(struct zt_server *s, const char *path, struct zt_buf *err);

/* The relay checks https peers against the PEM CAs in path
 * (server.relay_ca_file; NULL/"" = the system store). ZT_ENOMEM. */
ZT_NODISCARD int zt_server_set_relay_ca(struct zt_server *s, const char *path);

/* (Re)load the trusted peers (zt_peers.h) from path: at start and on
 * SIGHUP. A missing file means no peers (0, logged); on other errors the
 * previous set stays and err says why (ZT_EPARSE, ZT_ETOOBIG, ZT_EIO,
 * ZT_ENOMEM). Dropped descriptors (expired, bad signature) are logged. */
struct zt_buf;
ZT_NODISCARD int zt_server_load_peers(struct zt_server *s, const char *path, struct zt_buf *err);
/* Open the audit log (privacy.audit_log; node.data_dir/logs/audit, see
 * zt_audit.h) with checkpoints signed by id, which must outlive the server;
 * call once, before zt_server_start(). Authenticated requests then write
 * one entry each. A no-op when the audit log is off. Reasons in err.
 * ZT_EIO, ZT_EPARSE (the existing log's last entry is not valid). */
ZT_NODISCARD int zt_server_open_audit(struct zt_server *s, const struct zt_identity *id, struct zt_buf *err);

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
