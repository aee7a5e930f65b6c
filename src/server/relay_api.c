/* relay_api.c: POST /v1/relay/jobs, the HTTP side of the oblivious relay. See
 * relay_api.h and docs/internals/relay.md. The relay itself (peer lookup,
 * forwarding, limits, the upstream transfer) is src/jobs's zt_relay; this
 * file reads the request, answers refusals, and is the forward's sink: the
 * client's deferred connection becomes a stream with the upstream's status
 * and content type (zt_http_async_stream_start) and the body follows as it
 * arrives. */
#include <jansson.h>

#include "relay_api.h"

#include <stdatomic.h>
#include <string.h>

#include "aconn.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_jobs.h"


/* One relayed request's connection (aconn.h): held by the forward's thread
 * and by the connection's close callback, freed by the last of the two. */

/* ---- the sink --------------------------------------------------------------- */

static int sink_start(void *ud, int status, const char *content_type)
{
    struct zt__aconn *c = ud;
    return zt_http_async_stream_start(c->a, status, content_type);
}

static int sink_write(void *ud, const void *p, size_t n)
{
    struct zt__aconn *c = ud;
    return n ? zt_http_async_write(c->a, p, n) : 0;
}

static size_t sink_pending(void *ud)
{
    struct zt__aconn *c = ud;
    return zt_http_async_pending(c->a);
}

static bool sink_gone(void *ud)
{
    struct zt__aconn *c = ud;
    if (atomic_load(&c->closed)) return true;
    if (zt_http_async_client_gone(c->a)) { /* gone while we waited for upstream */
        atomic_store(&c->closed, true);
        return true;
    }
    return false;
}

static void sink_end(void *ud, const struct zt_relay_end *e)
{
    struct zt__aconn *c = ud;
    if (e->started) {
        if (e->ok) zt_http_async_end(c->a);
        else zt_http_async_fail(c->a);
    } else {
        /* for a client that went away too: resume the suspended connection
         * so that libmicrohttpd finds it closed and frees it */
        struct zt_http_resp resp;
        zt_http_resp_init(&resp);
        zt_http_resp_error(&resp, e->status, e->code, e->message);
        zt_ignore(zt_http_async_respond(c->a, &resp));
        zt_http_resp_deinit(&resp);
    }
    zt_http_async_release(c->a);
    zt__aconn_unref(c);
}

void zt__relay_h(void *ud, struct zt__req_ctx *cx, json_t *body_json, struct zt_http_resp *resp)
{
    (void)body_json; /* the body is the envelope's bytes, read below */
    struct zt_relay *r = ud;
    struct zt_http_req *req = cx->req;
    size_t len;
    const char *body = zt_http_req_body(req, &len);
    struct zt_relay_fwd *f = NULL;
    struct zt_relay_refusal why;
    if (zt_relay_accept(r, zt_http_req_header(req, ZT__RELAY_TARGET_HEADER), zt_http_req_header(req, "Content-Type"),
                        (const uint8_t *)body, len, &f, &why) != 0) {
        if (why.retry_after) zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
        zt_http_resp_error(resp, why.status, why.code, why.message);
        return;
    }
    struct zt__aconn *c = zt__aconn_defer(req);
    if (!c) goto oom;
    struct zt_relay_sink sink = {.start = sink_start, .write = sink_write, .pending = sink_pending,
                                 .gone = sink_gone, .end = sink_end, .ud = c};
    if (zt_relay_start(f, &sink) != 0) {
        zt_http_async_abandon(c->a); /* on_close will not run */
        zt_free(c);
        goto oom;
    }
    return;
oom:
    zt_relay_fwd_free(f);
    zt_http_resp_error(resp, 503, "overloaded", "the relay could not start the transfer");
}
