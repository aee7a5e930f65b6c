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

/* The relay is zt_relay (zt_jobs.h); this is its HTTP route. */
#define ZT__RELAY_CONTENT_TYPE ZT_SEALED_MEDIA_ENVELOPE
#define ZT__RELAY_TARGET_HEADER ZT_JOB_TARGET_HEADER
#define ZT__RELAY_UPSTREAM_PATH ZT_JOB_PATH_SEALED
#define ZT__RELAY_BUFFER_MAX ZT_RELAY_BUFFER_MAX /* response bytes queued per client */

/* The route handler (ud: the node's struct zt_relay, built with
 * zt_relay_new): answers at once (400/404/415/503) or defers the response
 * to a transfer thread. */
void zt__relay_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
