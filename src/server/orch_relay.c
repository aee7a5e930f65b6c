/* orch_relay.c: workers behind NAT (issue 11; docs/internals/orchestrator.md
 * "Workers behind NAT"). See orch_api.h.
 *
 * A worker with node.outbound keeps a long-poll to its orchestrator: each
 * poll is a signed heartbeat record (POST /v1/orchestrator/poll, checked by
 * the registry as a heartbeat: replay-proof, it keeps the session live) that
 * the orchestrator holds until a request for that worker arrives or the
 * hold ends. The worker's descriptor names the orchestrator's relay as its
 * endpoint (/v1/orchestrator/relay/<node id>), so a gateway sends it sealed
 * jobs there exactly as to any worker; the relay hands the request (method,
 * target, the signature headers, body) to the worker's poll and holds the
 * gateway's connection; the worker runs it against its own listener on
 * loopback and streams the answer back in pieces (POST
 * /v1/orchestrator/relay-result/<relay id>, in order), each written to the
 * gateway's connection as it comes. The relay reads nothing: the job is
 * sealed to the worker and signed by the gateway for the worker's id (the
 * signature covers the relay path); the result is sealed and signed by the
 * worker.
 *
 * The queues, the matching of pieces to relays, the bounds and the sweep
 * are the orchestrator's (zt_nat_relay.h, src/orchestrator/relay.c); this
 * file keeps the HTTP parts: the routes' parsing and answers, and the held
 * connections behind the relay's two interfaces (a worker's parked poll, a
 * gateway's request whose answer streams back through a sink). */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aconn.h"
#include "orch_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_nat_relay.h"
#include "zentalk/zt_nodeauth.h"

#define RELAY_PREFIX "/v1/orchestrator/relay/"
#define RESULT_PREFIX "/v1/orchestrator/relay-result/"

/* Deferred connections (aconn.h): held by the relay and by their close
 * callbacks. */
static bool aconn_gone(struct zt__aconn *c) { return atomic_load(&c->closed) || zt_http_async_client_gone(c->a); }

/* Answer a deferred connection with resp and let it go. */
static void aconn_respond(struct zt__aconn *c, struct zt_http_resp *resp)
{
    zt_ignore(zt_http_async_respond(c->a, resp)); /* ZT_ECLOSED: gone; it is resumed and freed all the same */
    zt_http_resp_deinit(resp);
    zt_http_async_release(c->a);
    zt__aconn_unref(c);
}

/* The relay's answer as an HTTP response (status 0: parked, nothing to write). */
static void render(const struct zt_nat_res *res, struct zt_http_resp *resp)
{
    if (res->status == 0) return;
    if (res->retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", res->retry_after_s);
        zt_ignore(zt_http_resp_header(resp, "Retry-After", ra));
    }
    if (res->code) zt_http_resp_error(resp, res->status, res->code, res->msg);
    else zt_http_resp_json(resp, res->status, res->body);
}

/* ---- the held connections: a worker's parked poll, a gateway's request ---- */

/* Either interface over a deferred connection (the interface first: a
 * pointer to it is a pointer to the whole). */
struct held {
    union {
        struct zt_nat_poll poll;
        struct zt_nat_sink sink;
    } base;
    struct zt__aconn *c;
};

static struct zt__aconn *conn_of(void *base) { return ((struct held *)base)->c; }

/* req deferred behind a new struct held; NULL when out of memory or it
 * cannot be deferred. */
static struct held *held_new(struct zt_http_req *req)
{
    struct held *h = zt_calloc(1, sizeof *h);
    if (h && !(h->c = zt__aconn_defer(req))) {
        zt_free(h);
        h = NULL;
    }
    return h;
}

/* Answer a held connection with res and let it go. */
static void held_answer(void *base, const struct zt_nat_res *res)
{
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    render(res, &resp);
    aconn_respond(conn_of(base), &resp);
    zt_free(base);
}

static void poll_answer(struct zt_nat_poll *p, json_t *body)
{
    held_answer(p, &(struct zt_nat_res){.status = 200, .body = body});
}

static bool poll_gone(struct zt_nat_poll *p) { return aconn_gone(conn_of(p)); }

static struct zt_nat_poll *park_poll(void *ud)
{
    struct held *h = held_new(ud);
    if (!h) return NULL;
    h->base.poll = (struct zt_nat_poll){.answer = poll_answer, .gone = poll_gone};
    return &h->base.poll;
}

void zt__orch_relay_poll(struct zt_nat_relay *r, struct zt_http_req *req, struct zt_http_resp *resp,
                         const char *node_id, int64_t hold_ms)
{
    struct zt_nat_res res;
    zt_nat_relay_poll(r, node_id, hold_ms, park_poll, req, &res);
    render(&res, resp);
}

static int gw_start(struct zt_nat_sink *s, int status, const char *content_type)
{
    return zt_http_async_stream_start(conn_of(s)->a, status, content_type);
}

static int gw_write(struct zt_nat_sink *s, const char *p, size_t n) { return zt_http_async_write(conn_of(s)->a, p, n); }

static void gw_finish(struct zt_nat_sink *s, bool ok)
{
    struct zt__aconn *c = conn_of(s);
    if (ok) zt_http_async_end(c->a);
    else zt_http_async_fail(c->a);
    zt_http_async_release(c->a);
    zt__aconn_unref(c);
    zt_free(s);
}

static void gw_refuse(struct zt_nat_sink *s, int status, const char *code, const char *msg)
{
    held_answer(s, &(struct zt_nat_res){.status = status, .code = code, .msg = msg});
}

static bool gw_gone(struct zt_nat_sink *s) { return aconn_gone(conn_of(s)); }

static struct zt_nat_sink *park_gw(void *ud)
{
    struct held *h = held_new(ud);
    if (!h) return NULL;
    h->base.sink = (struct zt_nat_sink){
        .start = gw_start, .write = gw_write, .finish = gw_finish, .refuse = gw_refuse, .gone = gw_gone};
    return &h->base.sink;
}

const char *zt__orch_relay_split(const char *path, const char *self_id, bool *self)
{
    size_t pl = strlen(RELAY_PREFIX);
    if (!path || strncmp(path, RELAY_PREFIX, pl) != 0) return NULL;
    const char *id = path + pl, *slash = strchr(id, '/');
    if (!slash || (size_t)(slash - id) >= ZT_IDENTITY_ID_SIZE) return NULL;
    char buf[ZT_IDENTITY_ID_SIZE];
    memcpy(buf, id, (size_t)(slash - id));
    buf[slash - id] = '\0';
    if (!zt_identity_id_valid(buf)) return NULL;
    *self = self_id && strcmp(buf, self_id) == 0;
    return slash;
}

/* The request headers a worker needs to run it (the signature's, the media types). */
static const char *const FORWARD[] = {"Content-Type", "Accept", ZT_NODEAUTH_H_NODE, ZT_NODEAUTH_H_DATE,
                                      ZT_NODEAUTH_H_NONCE, ZT_NODEAUTH_H_SIG, "Authorization"};

/* The relay routes on a node that runs no orchestrator (or whose
 * orchestrator runs in another process). */
static bool no_relay(const struct zt_nat_relay *r, struct zt_http_resp *resp)
{
    if (r) return false;
    zt_http_resp_error(resp, 404, "not_an_orchestrator", "this node does not run the orchestrator role (node.roles)");
    return true;
}

void zt__orch_relay_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt_nat_relay *r = ud;
    if (no_relay(r, resp)) return;
    struct zt_http_req *req = cx->req;
    bool self = false;
    const char *rest = zt__orch_relay_split(zt_http_req_path(req), NULL, &self);
    if (!rest) {
        zt_http_resp_error(resp, 404, "not_found", "no such worker relay");
        return;
    }
    char node[ZT_IDENTITY_ID_SIZE];
    const char *id = zt_http_req_path(req) + strlen(RELAY_PREFIX);
    memcpy(node, id, (size_t)(rest - id));
    node[rest - id] = '\0';
    json_t *hdrs = json_array();
    for (size_t i = 0; hdrs && i < sizeof FORWARD / sizeof FORWARD[0]; i++) {
        const char *v = zt_http_req_header(req, FORWARD[i]);
        char line[8192];
        if (v && (size_t)snprintf(line, sizeof line, "%s: %s", FORWARD[i], v) < sizeof line)
            json_array_append_new(hdrs, json_string(line));
    }
    struct zt_nat_req q = {.node_id = node, .method = zt_http_req_method(req), .target = zt_http_req_target(req),
                           .headers = hdrs, .park = park_gw, .park_ud = req};
    q.body = zt_http_req_body(req, &q.body_len);
    struct zt_nat_res res;
    if (hdrs) zt_nat_relay_request(r, &q, &res);
    else res = (struct zt_nat_res){.status = 503, .code = "overloaded", .msg = "out of memory"};
    json_decref(hdrs);
    render(&res, resp);
}

void zt__orch_relay_result_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt_nat_relay *r = ud;
    if (no_relay(r, resp)) return;
    struct zt_http_req *req = cx->req;
    const char *hs = zt_http_req_header(req, "Zentalk-Relay-Status");
    const char *hq = zt_http_req_header(req, "Zentalk-Relay-Seq");
    const char *he = zt_http_req_header(req, "Zentalk-Relay-End");
    struct zt_nat_piece p = {.relay_id = zt_http_req_path(req) + strlen(RESULT_PREFIX),
                             .status = hs ? strtol(hs, NULL, 10) : 0,
                             .content_type = zt_http_req_header(req, "Zentalk-Relay-Type"),
                             .seq = hq ? strtol(hq, NULL, 10) : -1,
                             .end = he && strcmp(he, "1") == 0};
    p.body = zt_http_req_body(req, &p.len);
    struct zt_nat_res res;
    zt_nat_relay_piece(r, &p, &res);
    render(&res, resp);
}
