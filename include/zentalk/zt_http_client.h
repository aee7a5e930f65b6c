/* zt_http_client.h: the one outbound HTTP client (libcurl, a bounded pool).
 *
 * Every request a node or the CLI sends goes through here, so the hardened
 * defaults live in one place (src/net/http_client.c, harden()):
 *   - http:// and https:// only, for the URL and for any redirect;
 *   - no redirects unless the request asks, and then at most max_redirects
 *     hops, each checked before it is followed: same host (or any host when
 *     ZT_HTTP_REDIRECT_ANY_HOST), never https -> http, never another scheme;
 *   - a connect timeout, a total timeout and a low-speed limit (a body fed
 *     a byte at a time is cut), each with a default a request may change;
 *   - a cap on the response body (the write callback stops the transfer
 *     past it, so an endless body costs at most the cap) and on the response
 *     headers (all lines of all responses together);
 *   - no proxy from the environment unless the request asks (the CLI does,
 *     nodes never), no signals (CURLOPT_NOSIGNAL), TLS peer and host
 *     verification always on, an optional CA file.
 *
 * Lifecycle: zt_net_client_global_init() once at start-up, before any
 * thread that might use libcurl exists (main() of the node and of the CLI
 * call it; it is not pthread_once'd, because curl_global_init must run
 * before threads anyway and an explicit call makes that order visible);
 * zt_net_client_global_cleanup() at exit. Further init/cleanup pairs are
 * counted by libcurl and harmless (src/jobs makes one, for programs that
 * use it without such a main()). Then zt_http_client_new(),
 * zt_http_client_do() as often as wanted, zt_http_client_shutdown() to
 * cancel what is in flight, zt_http_client_free().
 *
 * Threads: zt_http_client_do() may be called from any number of threads at
 * once. It runs the transfer on the calling thread (the pool lends it an
 * idle easy handle with its warm connections) and blocks until it is done.
 * When max_inflight requests are already running, the call waits on a
 * condition variable until one finishes (backpressure; no polling). The
 * callbacks run on the calling thread, inside zt_http_client_do(); they may
 * block (that stalls only their own transfer) but must not call into the
 * same client. See docs/internals/http_client.md for why a pool and not a
 * multi handle on an event thread.
 *
 * Ownership: the request and everything it points to are the caller's and
 * need only live for the call. The response is the caller's: initialise it
 * with zt_http_response_init() and free it with zt_http_response_deinit().
 *
 * Errors: 0 when an HTTP response came back complete, whatever its status
 * (check resp->status); otherwise a negative ZT_E* and a short reason in
 * resp->reason (no URL query strings, no header values in it):
 *   ZT_EINVAL     bad request (no URL, a scheme other than http/https,
 *                 a header line with CR/LF)
 *   ZT_EPERM      a redirect the request did not allow (off, another host,
 *                 another scheme, https -> http, too many hops)
 *   ZT_ETOOBIG    the body or the headers went past their caps
 *   ZT_ETIMEDOUT  connect, first-byte or total timeout, or the low-speed limit
 *   ZT_ECLOSED    the client was shut down (before or during the request)
 *   ZT_ECRYPTO    TLS verification failed (certificate, host name, CA)
 *   ZT_ENET       connection refused, DNS, reset, malformed response
 *   ZT_ERANGE     range_from was asked and the server cannot resume there
 *   ZT_ENOMEM     out of memory
 *   or what a callback returned (a negative ZT_E*) when it stopped the
 *   transfer, and ZT_ECLOSED when should_stop() said so. */
#ifndef ZT_HTTP_CLIENT_H
#define ZT_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"

struct zt_http_client;

/* Defaults for what a request leaves at 0. */
#define ZT_HTTP_CLIENT_CONNECT_TIMEOUT_MS 10000L
#define ZT_HTTP_CLIENT_TIMEOUT_MS 30000L
#define ZT_HTTP_CLIENT_LOW_SPEED_BPS 64L      /* bytes per second, averaged over ... */
#define ZT_HTTP_CLIENT_LOW_SPEED_S 15L        /* ... this many seconds */
#define ZT_HTTP_CLIENT_MAX_BODY (16u << 20)   /* 16 MiB */
#define ZT_HTTP_CLIENT_MAX_HEADERS (64u << 10) /* 64 KiB */
#define ZT_HTTP_CLIENT_MAX_INFLIGHT 16u
#define ZT_HTTP_CLIENT_MAX_REDIRECTS 5u
#define ZT_HTTP_CLIENT_REASON_LEN 256

/* Once per process, before threads; 0 or ZT_EIO. libcurl then allocates
 * through zt_malloc/zt_free (counted, failure-injectable). The cleanup
 * undoes it. */
ZT_NODISCARD int zt_net_client_global_init(void);
void zt_net_client_global_cleanup(void);

struct zt_http_client_opts {
    unsigned max_inflight;      /* requests running at once; 0 = 16 */
    const char *ca_file;        /* PEM CA bundle for https; NULL = the system store; copied */
    const char *user_agent;     /* copied; NULL = "zentalk/VERSION" */
    size_t max_header_bytes;    /* 0 = 64 KiB */
};

enum zt_http_redirect {
    ZT_HTTP_REDIRECT_NONE = 0,  /* a 3xx is refused with ZT_EPERM (the default) */
    ZT_HTTP_REDIRECT_SAME_HOST, /* follow to the same host name, http/https, no downgrade */
    ZT_HTTP_REDIRECT_ANY_HOST,  /* also another host (model downloads go to a CDN);
                                   the request's headers (credentials, signatures)
                                   are not sent to another host */
};

/* Called once, when the final response's headers are complete (not for 1xx
 * or for a redirect being followed), before the first body byte; also for a
 * response without a body. content_type is "" when absent; content_length
 * is the Content-Length (of this response: the rest of the file after a
 * Range), or -1 when absent. Return 0 to go on, a negative ZT_E* to stop
 * (the call returns it). */
typedef int (*zt_http_head_fn)(void *ud, long status, const char *content_type, int64_t content_length);
/* Called with each piece of the body as it arrives (streams: SSE, downloads).
 * Return 0 to go on, a negative ZT_E* to stop the transfer. */
typedef int (*zt_http_body_fn)(void *ud, const void *data, size_t n);
/* Polled about every 100 ms and on every piece of data; true cancels
 * the request (the call returns ZT_ECLOSED). */
typedef bool (*zt_http_stop_fn)(void *ud);

struct zt_http_request {
    const char *method;          /* NULL: "GET", or "POST" when body is set */
    const char *url;             /* http:// or https:// */
    const char *const *headers;  /* "Name: value" lines, NULL-terminated; or NULL.
                                    "Name:" with no value removes a header the
                                    client would send ("User-Agent:": none) */
    const void *body;            /* request body, or NULL */
    size_t body_len;
    const char *content_type;    /* of body; NULL = none sent */
    long connect_timeout_ms;     /* 0 = 10 s */
    long timeout_ms;             /* whole request; 0 = 30 s; < 0 = none (downloads:
                                    then the low-speed limit must be on) */
    long low_speed_bps;          /* cut below this many bytes/s ...; 0 = 64; < 0 = off
                                    (only with a total timeout) */
    long low_speed_s;            /* ... sustained this long; 0 = 15 s */
    size_t max_body_bytes;       /* 0 = 16 MiB; SIZE_MAX = no cap (downloads, whose
                                    size is checked by their on_body) */
    enum zt_http_redirect redirects;
    unsigned max_redirects;      /* 0 = 5 (when redirects are followed) */
    long first_byte_timeout_ms;  /* the final answer's headers within this; 0 = no
                                    such limit (a peer that accepts and stays mute) */
    uint64_t range_from;         /* > 0: ask for bytes from this offset (Range) */
    const char *ca_file;         /* PEM CA bundle for this request; NULL = the client's */
    bool env_proxy;              /* honour http_proxy/https_proxy/no_proxy (a user's
                                    CLI does); false = never a proxy (nodes) */
    const char *resolve;         /* "HOST:PORT:ADDRESS" (libcurl's CURLOPT_RESOLVE): new
                                    connections to HOST:PORT go to ADDRESS without
                                    resolving HOST again, so an address the caller
                                    checked is the one used (DNS rebinding); TLS still
                                    verifies HOST. NULL: resolve normally */
    zt_http_head_fn on_head;     /* may be NULL */
    zt_http_body_fn on_body;     /* NULL: the body is collected in resp->body */
    zt_http_stop_fn should_stop; /* may be NULL */
    void *ud;                    /* for the three callbacks */
};

struct zt_http_response {
    long status;                   /* final HTTP status; 0 when none came */
    char content_type[128];        /* "" when absent */
    uint64_t body_bytes;           /* bytes of the final response's body seen */
    unsigned redirects;            /* hops followed */
    struct zt_buf body;            /* the body when the request has no on_body */
    char reason[ZT_HTTP_CLIENT_REASON_LEN]; /* why the call failed, "" on success */
};

void zt_http_response_init(struct zt_http_response *resp);
void zt_http_response_deinit(struct zt_http_response *resp);

/* Make a client. ZT_ENOMEM, ZT_EINVAL (max_inflight over 4096). */
ZT_NODISCARD int zt_http_client_new(const struct zt_http_client_opts *opts, struct zt_http_client **out);
/* Send one request and wait for its answer (see the top of this file for the
 * errors). resp must have been initialised; it is reset first. */
ZT_NODISCARD int zt_http_client_do(struct zt_http_client *c, const struct zt_http_request *req,
                                   struct zt_http_response *resp);
/* Requests running now (for metrics and tests). */
unsigned zt_http_client_inflight(struct zt_http_client *c);
/* Refuse new requests (ZT_ECLOSED), cancel those in flight (each call
 * returns ZT_ECLOSED within about 100 ms), and wait until they have
 * returned. Idempotent; any thread except one inside a callback. */
void zt_http_client_shutdown(struct zt_http_client *c);
/* Shut down (if not yet) and free. NULL is a no-op. */
void zt_http_client_free(struct zt_http_client *c);

/* Convenience for JSON APIs: POST body (JSON text) to url, or GET when body
 * is NULL; the answer is collected in resp->body. headers as above. */
ZT_NODISCARD int zt_http_client_json(struct zt_http_client *c, const char *url, const char *const *headers,
                                     const char *body, long timeout_ms, struct zt_http_response *resp);

/* GET base_url + "/v1/node/descriptor" and check the signed node descriptor
 * it answers (zt_identity_descriptor_verify at now, unix seconds; a status
 * other than 200 is ZT_EIO). resp (initialised) keeps the answer, the
 * descriptor's text on success, for the caller to deinit; *d is zeroed first
 * and holds the verified descriptor on success (zt_node_descriptor_deinit it
 * either way). The joiner and a remote gateway read their orchestrator's. */
struct zt_node_descriptor;
ZT_NODISCARD int zt_http_client_descriptor(struct zt_http_client *c, const char *base_url, long timeout_ms,
                                           int64_t now, struct zt_http_response *resp,
                                           struct zt_node_descriptor *d);

#endif
