/* relay_api.h: the oblivious relay, POST /v1/relay/jobs (internal to
 * src/server). See docs/internals/relay.md.
 *
 * A client that does not want the worker to learn its address sends the
 * sealed envelope here with "Zentalk-Target-Node: zt1..."; the relay looks
 * the node up in the peer registry (never an arbitrary URL), forwards the
 * body unchanged to <peer endpoint>/v1/jobs/sealed signed as itself
 * (zt_nodeauth.h) and without anything that identifies the client, and
 * streams the worker's status, content type and body back as they arrive.
 * The relay sees the client's address and the envelope's cleartext header,
 * never the plaintext; the worker sees the plaintext, never the client. */
#ifndef ZT_SERVER_RELAY_API_H
#define ZT_SERVER_RELAY_API_H

#include <stdint.h>

#include "req.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_peers.h"

#include "zentalk/zt_jobs.h"

/* The relay's core is zt_relay (zt_jobs.h); this is its HTTP route. */
#define ZT__RELAY_CONTENT_TYPE ZT_SEALED_MEDIA_ENVELOPE
#define ZT__RELAY_TARGET_HEADER ZT_JOB_TARGET_HEADER
#define ZT__RELAY_UPSTREAM_PATH ZT_JOB_PATH_SEALED
#define ZT__RELAY_BUFFER_MAX ZT_RELAY_BUFFER_MAX /* response bytes queued per client */

struct zt__relay;

struct zt__relay_stats {
    uint64_t forwarded;   /* upstream answered (any status) */
    uint64_t failed;      /* 502/504: upstream unreachable, timed out, cut */
    uint64_t refused;     /* 4xx/503 answered by the relay itself */
    unsigned inflight;
};

/* Check https peers against the PEM CAs in path (copied; NULL or "" =
 * the system store). Call before the first request. ZT_ENOMEM. */
/* Whether the relay may forward to loopback and private addresses
 * (server.relay_private_targets, resolved by the node). */
void zt__relay_set_allow_private(struct zt__relay *r, bool allow);
ZT_NODISCARD int zt__relay_set_ca_file(struct zt__relay *r, const char *path);

/* peers must outlive the relay; id may be set later with
 * zt__relay_set_identity (before the first request). timeout_s: seconds to
 * wait for the upstream's response headers, and the longest silence while
 * streaming. max_inflight: relayed requests at once (503 beyond).
 * ZT_ENOMEM, ZT_EIO (the HTTP client failed to initialise). */
ZT_NODISCARD int zt__relay_new(struct zt_peers *peers, unsigned timeout_s, unsigned max_inflight,
                               struct zt__relay **out);
void zt__relay_set_identity(struct zt__relay *r, const struct zt_identity *id);
/* Abort the transfers in progress and wait (up to wait_ms) for their
 * threads to finish. Call before the HTTP server stops. */
void zt__relay_shutdown(struct zt__relay *r, uint64_t wait_ms);
void zt__relay_free(struct zt__relay *r);
void zt__relay_stats(struct zt__relay *r, struct zt__relay_stats *out);

/* The route handler: answers at once (400/404/415/503) or defers the
 * response to a transfer thread. */
void zt__relay_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
/* Register zentalk_relay_requests_total and zentalk_relay_in_flight
 * (zt_metrics.h). */
struct zt_metrics;
ZT_NODISCARD int zt__relay_register_metrics(struct zt__relay *r, struct zt_metrics *m);

#endif
