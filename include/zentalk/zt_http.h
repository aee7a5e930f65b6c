/* zt_http.h: the HTTP server (libmicrohttpd, epoll, internal thread pool).
 *
 * The server reads a whole request (bounded by max_body_bytes), hands it to
 * one handler, and sends the response the handler filled. It enforces the
 * request limits itself and answers them with a JSON error body:
 *   413 body too large, 431 headers too large, 400 bad Content-Length;
 *   400 and close for a request whose framing is in doubt (two
 *   Content-Length headers, Content-Length with Transfer-Encoding, a
 *   transfer coding other than chunked, bare-LF line endings, %00 in the
 *   target: RFC 9112 §6.3, docs/internals/http.md).
 * (Requests too malformed for libmicrohttpd to parse at all, or headers too
 * big for its per-connection memory pool, are answered by libmicrohttpd with
 * its own short body.) Every response carries X-Request-Id.
 *
 * Handlers run on the server's threads and must not block for long. */
#ifndef ZT_HTTP_H
#define ZT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"

struct zt_http_server;
struct zt_http_req;

#define ZT_HTTP_MAX_RESP_HEADERS 8
#define ZT_HTTP_REQUEST_ID_LEN 17 /* 16 hex digits + NUL */

struct zt_http_resp {
    int status;                   /* default 200 */
    const char *content_type;     /* static string; default application/json */
    struct zt_buf body;
    struct {
        const char *name;         /* static string */
        char value[128];
    } headers[ZT_HTTP_MAX_RESP_HEADERS];
    size_t n_headers;
};

/* Called once per complete request. The handler sets resp->status and body;
 * route_label (static string, or NULL) names the matched route for metrics. */
typedef void (*zt_http_handler)(void *ud, struct zt_http_req *req, struct zt_http_resp *resp);
/* Called when a response was sent (or the connection ended), with the label
 * the handler chose (NULL for requests rejected before routing), the status
 * and the request's duration in nanoseconds. */
typedef void (*zt_http_observer)(void *ud, const char *route_label, const char *method,
                                 int status, uint64_t duration_ns);

struct zt_http_opts {
    const char *host;             /* numeric IPv4/IPv6 address or "localhost" */
    uint16_t port;                /* 0 = ephemeral (see zt_http_port) */
    unsigned threads;
    unsigned max_connections;
    size_t max_header_bytes;
    size_t max_body_bytes;
    unsigned timeout_s;           /* idle connection timeout */
    /* Slowloris guards (docs/internals/http.md). Connections one peer
     * address (an IPv6 /64) may hold, and requests in flight one client
     * address may have when it comes through a trusted proxy; 0 = no
     * limit. */
    unsigned max_conns_per_address;
    /* Share of max_connections (0..90 %) kept for addresses that hold no
     * connection: an address that holds one cannot add more once only
     * that share is left. */
    unsigned new_address_reserve_percent;
    /* Seconds a request head (request line and headers) may take in all,
     * from the connection's start or the end of the previous request,
     * however it trickles; 0 = none (only timeout_s, an idle timeout). */
    unsigned header_timeout_s;
    /* Peers (IPv4/IPv6 addresses, or ADDR/BITS) whose Forwarded /
     * X-Forwarded-For are believed; they are exempt from the per-address
     * connection limit, the forwarded address is limited instead. */
    const char *const *trusted_proxies;
    size_t n_trusted_proxies;
    zt_http_handler handler;
    zt_http_observer observer;    /* may be NULL */
    void *ud;
    /* HTTPS: both PEM texts (NUL-terminated, kept by the caller until
     * zt_http_stop), or both NULL for plain HTTP. */
    const char *tls_cert_pem;
    const char *tls_key_pem;
};

/* Check a PEM certificate (chain) and private key for the listener with
 * GnuTLS, as libmicrohttpd will load them. 0; ZT_EUNSUPPORTED when this
 * libmicrohttpd has no TLS; ZT_EPARSE (not PEM, or unreadable as a
 * certificate/key); ZT_ECRYPTO (the key does not belong to the
 * certificate). A short reason goes to why (why_len bytes). */
ZT_NODISCARD int zt_http_tls_check(const char *cert_pem, const char *key_pem, char *why, size_t why_len);

/* Bind, listen and start serving. ZT_EADDRINUSE when the port is taken,
 * ZT_EINVAL for a host that is not a numeric address, the errors of
 * zt_http_tls_check() for a bad certificate/key, ZT_EIO otherwise. */
ZT_NODISCARD int zt_http_start(const struct zt_http_opts *opts, struct zt_http_server **out);
uint16_t zt_http_port(const struct zt_http_server *s);
/* Requests accepted and not yet completed. */
int64_t zt_http_inflight(const struct zt_http_server *s);
/* Wait until no request is in flight (zt_http_inflight 0), at most
 * timeout_ms: 0, or ZT_ETIMEDOUT with requests still in flight. The wait
 * sleeps on a condition variable signalled when the count drops to 0. */
ZT_NODISCARD int zt_http_wait_idle(struct zt_http_server *s, uint64_t timeout_ms);
/* Stop accepting new connections (the listening socket is closed); requests
 * in progress go on. */
void zt_http_quiesce(struct zt_http_server *s);
/* Stop the server; connections still open are closed. NULL is a no-op. */
void zt_http_stop(struct zt_http_server *s);

/* Request accessors. Strings live as long as the request. */
const char *zt_http_req_method(const struct zt_http_req *r);
const char *zt_http_req_path(const struct zt_http_req *r);       /* without the query */
const char *zt_http_req_header(const struct zt_http_req *r, const char *name); /* or NULL */
const char *zt_http_req_query(const struct zt_http_req *r, const char *name);  /* or NULL */
const char *zt_http_req_id(const struct zt_http_req *r);
/* The request target exactly as received: path and query, still
 * percent-encoded ("/v1/x?a=%20b"). What signed node requests cover. */
const char *zt_http_req_target(const struct zt_http_req *r);
const char *zt_http_req_body(const struct zt_http_req *r, size_t *len);        /* NUL-terminated */
/* True when the client connected from 127.0.0.0/8 or ::1. */
bool zt_http_req_peer_is_loopback(const struct zt_http_req *r);
/* The client's address as text: the peer's, or the forwarded address when
 * the peer is one of opts.trusted_proxies (what per-address limits count). */
const char *zt_http_req_client_addr(const struct zt_http_req *r);
/* Label for metrics/logs (a static string such as "/v1/status"). */
void zt_http_req_set_route(struct zt_http_req *r, const char *label);

/* Fill resp with {"error":{"code":code,"message":message}} and status. */
void zt_http_resp_error(struct zt_http_resp *resp, int status, const char *code,
                        const char *message);
/* Fill resp with the compact JSON of j (a jansson json_t) and status; takes
 * the reference to j. On failure resp becomes a 500 error. */
void zt_http_resp_json(struct zt_http_resp *resp, int status, struct json_t *j);
/* Add a response header (name must be a static string). */
ZT_NODISCARD int zt_http_resp_header(struct zt_http_resp *resp, const char *name,
                                     const char *value);

/* ---- responses produced later, on another thread ---------------------- */

/* A handler that cannot answer at once (inference) takes an async handle:
 *  - zt_http_req_defer(): the connection waits (suspended, no thread held)
 *    until zt_http_async_respond() gives the complete response;
 *  - zt_http_req_stream(): status and headers go out now and the body is
 *    streamed with zt_http_async_write() until zt_http_async_end() (chunked
 *    transfer encoding; Server-Sent Events use this).
 * on_close(ud) runs once when the connection ends for any reason (client
 * gone, response sent, server stopping): the producer must stop; writes
 * after that return ZT_ECLOSED. The handle stays valid until the producer
 * calls zt_http_async_release() (exactly once), whatever happened. Any
 * thread may call the async functions. Returns NULL when out of memory (the
 * handler then answers normally). */
struct zt_http_async;
typedef void (*zt_http_close_fn)(void *ud);

struct zt_http_async *zt_http_req_defer(struct zt_http_req *r, zt_http_close_fn on_close, void *ud);
struct zt_http_async *zt_http_req_stream(struct zt_http_req *r, int status, const char *content_type,
                                         zt_http_close_fn on_close, void *ud);
/* Deferred: send resp (its body is taken; resp may be reused). ZT_ECLOSED
 * when the client is gone, ZT_EINVAL when not deferred or already answered. */
ZT_NODISCARD int zt_http_async_respond(struct zt_http_async *a, struct zt_http_resp *resp);
/* Streamed: queue bytes. ZT_ECLOSED when the client is gone, ZT_ETOOBIG when
 * the client reads too slowly and more than 8 MiB wait. */
ZT_NODISCARD int zt_http_async_write(struct zt_http_async *a, const void *p, size_t n);
void zt_http_async_end(struct zt_http_async *a);
/* Deferred handle only: turn it into a stream now that the status is known
 * (a relay learns it from upstream): status and content_type (copied; at
 * most 127 printable ASCII bytes) go out, then zt_http_async_write() as for
 * zt_http_req_stream(). ZT_EINVAL (bad arguments, not deferred or already
 * answered), ZT_ECLOSED (client gone). */
ZT_NODISCARD int zt_http_async_stream_start(struct zt_http_async *a, int status, const char *content_type);
/* Stream bytes queued and not yet handed to the socket (for backpressure). */
size_t zt_http_async_pending(struct zt_http_async *a);
/* True when the client has gone: the connection ended, or (while it waits,
 * suspended) its peer closed the socket. A producer that waits long for
 * its data (the relay) polls this to stop early. */
bool zt_http_async_client_gone(struct zt_http_async *a);
/* End a stream as failed: the connection closes without the final chunk,
 * so the client sees a truncated body, not a complete one. */
void zt_http_async_fail(struct zt_http_async *a);
void zt_http_async_release(struct zt_http_async *a);
/* Inside the handler only, before it returns: give the handle up (e.g. the
 * work could not be queued) and answer through resp as usual. Frees a. */
void zt_http_async_abandon(struct zt_http_async *a);

/* ---- protocol upgrade (WebSocket) --------------------------------------- */

/* An upgraded connection: after "101 Switching Protocols" the socket
 * belongs to whoever zt_http_req_upgrade() named, until it calls
 * zt_http_upgraded_close(). */
struct zt_http_upgraded;
/* Runs on a server thread once the 101 went out: fd is the socket (read
 * and write it; never close() it), extra the bytes the client sent after
 * its request that the server already read (treat them as read from fd).
 * It must not block: hand the connection to a thread of its own. */
typedef void (*zt_http_upgrade_fn)(void *ud, struct zt_http_upgraded *u, int fd, const char *extra,
                                   size_t extra_len);
/* Inside a handler only: answer 101 with the headers the handler put in
 * resp (Upgrade, Sec-WebSocket-Accept, ...; libmicrohttpd adds "Connection:
 * Upgrade"), then call fn. From then on the request no longer counts in
 * flight (zt_http_inflight); the observer sees status 101 when the
 * upgraded connection closes. If the client goes away before the 101 is
 * sent, fn is never called. ZT_EINVAL when already deferred/upgraded. */
ZT_NODISCARD int zt_http_req_upgrade(struct zt_http_req *r, zt_http_upgrade_fn fn, void *ud);
/* Close the upgraded socket and free u (exactly once, any thread). */
void zt_http_upgraded_close(struct zt_http_upgraded *u);

/* Initialise / free a response for a deferred answer (handlers get theirs
 * ready-made). */
void zt_http_resp_init(struct zt_http_resp *resp);
void zt_http_resp_deinit(struct zt_http_resp *resp);

#endif
