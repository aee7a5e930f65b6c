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
 * Bounds: RELAY_MAX requests open at once and RELAY_PER_NODE per worker
 * (past them 503), one parked poll per worker (a new one answers the old
 * at once), a hold of at most HOLD_MAX_MS, a request no poll took within
 * PICKUP_MS answered 502, one with no result piece for IDLE_MS cut. A
 * relay id is 128 random bits handed only to the worker's authenticated
 * poll: the capability its result pieces present. */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aconn.h"
#include "orch_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define RELAY_MAX 1024
#define RELAY_PER_NODE 64
#define NODES_MAX 65536
#define HOLD_MAX_MS 25000
#define PICKUP_MS 10000
#define IDLE_MS 120000
#define POLL_BATCH 8
#define FRESH_MS 2000 /* a worker joined this recently gets requests before its first poll */
#define RELAY_PREFIX "/v1/orchestrator/relay/"
#define RESULT_PREFIX "/v1/orchestrator/relay-result/"
#define RELAY_ID_HEX 33

/* Milliseconds from t to now, 0 when t is later: a time another thread
 * stamped after this one read the clock (a result piece's t_last, a poll's
 * last_poll) must not wrap around into "long ago" (it ended live relays as
 * idle and dropped polling workers as unreachable). */
static uint64_t since(uint64_t now, uint64_t t) { return now > t ? now - t : 0; }

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

struct relay {
    struct relay *next;
    char id[RELAY_ID_HEX];
    char node[ZT_IDENTITY_ID_SIZE];
    json_t *msg;         /* what the worker's poll gets; NULL once delivered */
    struct zt__aconn *gw;    /* the gateway's connection */
    bool started;        /* status and headers went out */
    uint32_t seq;        /* the next result piece expected */
    uint64_t t_created, t_last; /* mono ms */
};

struct outnode {
    struct outnode *next;
    char id[ZT_IDENTITY_ID_SIZE];
    uint64_t last_poll; /* mono ms */
    struct zt__aconn *poll; /* a parked poll, or NULL */
    uint64_t until;     /* mono ms: its hold ends */
    size_t n_relays;
};

struct zt__orch_relay {
    pthread_mutex_t mu;
    struct relay *relays;
    size_t n_relays;
    struct outnode *nodes;
    size_t n_nodes;
    uint64_t seen_ms; /* a node that polled within this is reachable: outbound */
    struct zt_registry *reg;
    zt__orch_relay_gateways_fn gateways; /* every poll answer's "gateways" (or NULL) */
    void *gateways_ud;
    atomic_uint_fast64_t relayed, refused;
};

int zt__orch_relay_new(int64_t seen_ms, struct zt_registry *reg, struct zt__orch_relay **out)
{
    struct zt__orch_relay *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    r->reg = reg;
    pthread_mutex_init(&r->mu, NULL);
    r->seen_ms = (uint64_t)(seen_ms > 0 ? seen_ms : 30000);
    *out = r;
    return 0;
}

/* A worker whose outbound connection is gone is unreachable: its session
 * ends now (its jobs are requeued, the scheduler places nothing more
 * there); alive, it joins again at its next poll (404). As a direct
 * worker the gateway cannot connect to (zt_registry_drop). */
static void drop_worker(struct zt__orch_relay *r, const char *node, const char *why)
{
    if (r->reg && zt_registry_drop(r->reg, node, zt_time_real_ms()) == 0)
        zt_log(ZT_LOG_WARN, "worker_unreachable", "worker=%s reason=%s action=dropped_until_rejoin", node, why);
}

static struct outnode *node_find(struct zt__orch_relay *r, const char *id)
{
    for (struct outnode *n = r->nodes; n; n = n->next)
        if (strcmp(n->id, id) == 0) return n;
    return NULL;
}

/* The gateway's connection ends: its stream ends (ok) or is cut, or, not
 * started, it gets an error. With r->mu held; rl is unlinked by the caller. */
static void relay_end(struct zt__orch_relay *r, struct relay *rl, bool ok, int status, const char *code,
                      const char *msg)
{
    struct outnode *n = node_find(r, rl->node);
    if (n && n->n_relays) n->n_relays--;
    if (rl->started) {
        if (ok) zt_http_async_end(rl->gw->a);
        else zt_http_async_fail(rl->gw->a);
        zt_http_async_release(rl->gw->a);
        zt__aconn_unref(rl->gw);
    } else {
        struct zt_http_resp resp;
        zt_http_resp_init(&resp);
        zt_http_resp_error(&resp, status, code, msg);
        aconn_respond(rl->gw, &resp);
    }
    json_decref(rl->msg);
    zt_free(rl);
    r->n_relays--;
}

/* Up to POLL_BATCH undelivered requests of n, handed over now. */
static json_t *take_for(struct zt__orch_relay *r, struct outnode *n, uint64_t now)
{
    json_t *arr = json_array();
    for (struct relay *rl = r->relays; rl && arr && json_array_size(arr) < POLL_BATCH; rl = rl->next) {
        if (!rl->msg || strcmp(rl->node, n->id) != 0) continue;
        if (json_array_append_new(arr, rl->msg) != 0) break;
        rl->msg = NULL;
        rl->t_last = now;
    }
    return arr;
}

void zt__orch_relay_set_gateways(struct zt__orch_relay *r, zt__orch_relay_gateways_fn fn, void *ud)
{
    pthread_mutex_lock(&r->mu);
    r->gateways = fn;
    r->gateways_ud = ud;
    pthread_mutex_unlock(&r->mu);
}

/* A poll's answer: its requests (stolen; NULL = none) and the gateways
 * that lease here now, as a heartbeat's answer has them: an outbound
 * worker learns a gateway that came after its join at its next poll, and
 * one that went leaves its list. Read when the answer goes, so a request
 * of a new gateway travels with that gateway's descriptor. With r->mu. */
static json_t *poll_body(struct zt__orch_relay *r, json_t *arr)
{
    json_t *a = json_pack("{s:o}", "requests", arr ? arr : json_array());
    json_t *g = r->gateways ? r->gateways(r->gateways_ud) : NULL;
    if (a && g) json_object_set_new(a, "gateways", g);
    else json_decref(g);
    return a;
}

static void poll_answer(struct zt__orch_relay *r, struct zt__aconn *p, json_t *arr)
{
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    zt_http_resp_json(&resp, 200, poll_body(r, arr));
    aconn_respond(p, &resp);
}

void zt__orch_relay_poll(struct zt__orch_relay *r, struct zt_http_req *req, struct zt_http_resp *resp,
                         const char *node_id, int64_t hold_ms)
{
    uint64_t now = zt_time_mono_ms();
    pthread_mutex_lock(&r->mu);
    struct outnode *n = node_find(r, node_id);
    if (!n && r->n_nodes < NODES_MAX && (n = zt_calloc(1, sizeof *n)) != NULL) {
        zt_strlcpy(n->id, node_id, sizeof n->id);
        n->next = r->nodes;
        r->nodes = n;
        r->n_nodes++;
    }
    if (!n) {
        pthread_mutex_unlock(&r->mu);
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "5"));
        zt_http_resp_error(resp, 503, "overloaded", "too many outbound workers");
        return;
    }
    n->last_poll = now;
    if (n->poll) { /* one parked poll per worker: the older one goes back empty */
        poll_answer(r, n->poll, NULL);
        n->poll = NULL;
    }
    json_t *arr = take_for(r, n, now);
    if ((arr && json_array_size(arr) > 0) || hold_ms <= 0) {
        json_t *b = poll_body(r, arr);
        pthread_mutex_unlock(&r->mu);
        zt_http_resp_json(resp, 200, b);
        return;
    }
    json_decref(arr);
    struct zt__aconn *c = zt__aconn_defer(req);
    if (c) {
        n->poll = c;
        n->until = now + (uint64_t)(hold_ms < HOLD_MAX_MS ? hold_ms : HOLD_MAX_MS);
    }
    json_t *b = c ? NULL : poll_body(r, NULL);
    pthread_mutex_unlock(&r->mu);
    if (!c) zt_http_resp_json(resp, 200, b);
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

bool zt__orch_relay_outbound(struct zt__orch_relay *r, const char *node_id)
{
    if (!r) return false;
    uint64_t now = zt_time_mono_ms();
    pthread_mutex_lock(&r->mu);
    struct outnode *n = node_find(r, node_id);
    bool yes = n && (n->poll || since(now, n->last_poll) < r->seen_ms);
    pthread_mutex_unlock(&r->mu);
    return yes;
}

/* The request headers a worker needs to run it (the signature's, the media types). */
static const char *const FORWARD[] = {"Content-Type", "Accept", ZT_NODEAUTH_H_NODE, ZT_NODEAUTH_H_DATE,
                                      ZT_NODEAUTH_H_NONCE, ZT_NODEAUTH_H_SIG, "Authorization"};

void zt__orch_relay_h(struct zt__orch_relay *r, struct zt_registry *reg, struct zt_http_req *req,
                      struct zt_http_resp *resp)
{
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
    struct zt_node_info ni;
    uint64_t now = zt_time_mono_ms();
    bool live = zt_registry_get(reg, node, zt_time_real_ms(), &ni) == 0 && ni.state == ZT_NODE_LIVE;
    size_t len;
    const char *body = zt_http_req_body(req, &len);
    pthread_mutex_lock(&r->mu);
    struct outnode *n = node_find(r, node);
    /* a worker that joined a moment ago may not have polled yet: its
     * requests wait for its first poll (PICKUP_MS at most) */
    bool fresh = live && zt_time_real_ms() - ni.joined_ms < FRESH_MS;
    if (!n && fresh && r->n_nodes < NODES_MAX && (n = zt_calloc(1, sizeof *n)) != NULL) {
        zt_strlcpy(n->id, node, sizeof n->id);
        n->last_poll = now;
        n->next = r->nodes;
        r->nodes = n;
        r->n_nodes++;
    }
    const char *why = NULL;
    int status = 502;
    if (!live || !n || (!n->poll && since(now, n->last_poll) >= r->seen_ms && !fresh)) {
        why = "worker_unreachable";
    } else if (r->n_relays >= RELAY_MAX || n->n_relays >= RELAY_PER_NODE) {
        why = "overloaded";
        status = 503;
    }
    if (why) {
        pthread_mutex_unlock(&r->mu);
        if (live && status == 502) drop_worker(r, node, "no_outbound_connection");
        atomic_fetch_add(&r->refused, 1);
        if (status == 503) zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
        zt_http_resp_error(resp, status, why,
                           status == 503 ? "too many requests open to this worker"
                                         : "this worker keeps no live outbound connection to this orchestrator");
        return;
    }
    struct relay *rl = zt_calloc(1, sizeof *rl);
    char *b64 = NULL;
    size_t b64_len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    if (rl) b64 = zt_malloc(b64_len);
    json_t *hdrs = json_array();
    for (size_t i = 0; hdrs && i < sizeof FORWARD / sizeof FORWARD[0]; i++) {
        const char *v = zt_http_req_header(req, FORWARD[i]);
        char line[8192];
        if (v && (size_t)snprintf(line, sizeof line, "%s: %s", FORWARD[i], v) < sizeof line)
            json_array_append_new(hdrs, json_string(line));
    }
    if (rl && b64) {
        uint8_t rnd[16];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(rl->id, sizeof rl->id, rnd, sizeof rnd);
        sodium_bin2base64(b64, b64_len, (const unsigned char *)body, len, sodium_base64_VARIANT_ORIGINAL);
        rl->msg = json_pack("{s:s,s:s,s:s,s:O,s:s}", "id", rl->id, "method", zt_http_req_method(req), "target",
                            zt_http_req_target(req), "headers", hdrs, "body", b64);
    }
    json_decref(hdrs);
    zt_free(b64);
    if (rl && rl->msg) rl->gw = zt__aconn_defer(req);
    if (!rl || !rl->msg || !rl->gw) {
        pthread_mutex_unlock(&r->mu);
        if (rl) json_decref(rl->msg);
        zt_free(rl);
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return;
    }
    zt_strlcpy(rl->node, node, sizeof rl->node);
    rl->t_created = rl->t_last = now;
    rl->next = r->relays;
    r->relays = rl;
    r->n_relays++;
    n->n_relays++;
    atomic_fetch_add(&r->relayed, 1);
    if (n->poll) {
        poll_answer(r, n->poll, take_for(r, n, now));
        n->poll = NULL;
    }
    pthread_mutex_unlock(&r->mu);
}

static struct relay **relay_slot(struct zt__orch_relay *r, const char *id)
{
    for (struct relay **pp = &r->relays; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->id, id) == 0) return pp;
    return NULL;
}

void zt__orch_relay_result_h(struct zt__orch_relay *r, struct zt_http_req *req, struct zt_http_resp *resp)
{
    const char *id = zt_http_req_path(req) + strlen(RESULT_PREFIX);
    const char *hs = zt_http_req_header(req, "Zentalk-Relay-Status");
    const char *ht = zt_http_req_header(req, "Zentalk-Relay-Type");
    const char *hq = zt_http_req_header(req, "Zentalk-Relay-Seq");
    const char *he = zt_http_req_header(req, "Zentalk-Relay-End");
    long status = hs ? strtol(hs, NULL, 10) : 0;
    long seq = hq ? strtol(hq, NULL, 10) : -1;
    bool end = he && strcmp(he, "1") == 0;
    size_t len;
    const char *body = zt_http_req_body(req, &len);
    pthread_mutex_lock(&r->mu);
    struct relay **pp = strlen(id) == RELAY_ID_HEX - 1 ? relay_slot(r, id) : NULL;
    struct relay *rl = pp ? *pp : NULL;
    int code = 200;
    const char *err = NULL;
    if (!rl || rl->msg) {
        code = 404, err = "unknown_relay"; /* never handed out, or over */
    } else if (seq != (long)rl->seq) {
        code = 409, err = "out_of_order";
    } else if (aconn_gone(rl->gw)) {
        code = 410, err = "client_gone";
    } else if (!rl->started && (status < 100 || status > 599)) {
        code = 400, err = "bad_status";
    } else {
        int rc = 0;
        if (!rl->started) {
            rc = zt_http_async_stream_start(rl->gw->a, (int)status,
                                            ht && ht[0] ? ht : "application/octet-stream");
            rl->started = rc == 0;
        }
        if (!rc && len) rc = zt_http_async_write(rl->gw->a, body, len);
        if (rc) code = 410, err = "client_gone";
        rl->seq++;
        rl->t_last = zt_time_mono_ms();
    }
    if (rl && (end || code == 410 || code == 409)) {
        *pp = rl->next;
        relay_end(r, rl, end && code == 200, 502, "worker_failed", "the worker's answer was cut");
    }
    bool known = rl != NULL;
    pthread_mutex_unlock(&r->mu);
    if (err)
        zt_log_rl(ZT_LOG_WARN, 10, "relay_piece_refused", "relay_known=%s code=%d why=%s seq=%ld end=%s",
                  known ? "yes" : "no", code, err, seq, end ? "yes" : "no");
    if (err) zt_http_resp_error(resp, code, err, "this relay piece was not taken");
    else zt_http_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
}

void zt__orch_relay_sweep(struct zt__orch_relay *r, bool all)
{
    if (!r) return;
    uint64_t now = zt_time_mono_ms();
    pthread_mutex_lock(&r->mu);
    for (struct relay **pp = &r->relays; *pp;) {
        struct relay *rl = *pp;
        bool gone = aconn_gone(rl->gw);
        bool unpicked = rl->msg && since(now, rl->t_created) >= PICKUP_MS;
        bool idle = !rl->msg && since(now, rl->t_last) >= IDLE_MS;
        if (!all && !gone && !unpicked && !idle) {
            pp = &rl->next;
            continue;
        }
        *pp = rl->next;
        if (!all)
            zt_log_rl(ZT_LOG_WARN, 10, "relay_ended", "why=%s", gone ? "gateway_gone" : unpicked ? "unpicked" : "idle");
        relay_end(r, rl, false, unpicked ? 502 : 503, unpicked ? "worker_unreachable" : "unavailable",
                  unpicked ? "the worker did not pick the request up" : "the relay is stopping");
    }
    char lost[16][ZT_IDENTITY_ID_SIZE];
    size_t n_lost = 0;
    for (struct outnode **pp = &r->nodes; *pp;) {
        struct outnode *n = *pp;
        if (n->poll && (all || now >= n->until || aconn_gone(n->poll))) {
            /* a parked poll whose connection closed: the worker is gone */
            if (!all && aconn_gone(n->poll) && n_lost < 16) {
                zt_strlcpy(lost[n_lost++], n->id, sizeof lost[0]);
                n->last_poll = 0;
            }
            poll_answer(r, n->poll, NULL);
            n->poll = NULL;
        }
        if (!n->poll && !n->n_relays && (all || since(now, n->last_poll) >= 4 * r->seen_ms)) {
            *pp = n->next;
            zt_free(n);
            r->n_nodes--;
            continue;
        }
        pp = &n->next;
    }
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n_lost; i++) drop_worker(r, lost[i], "outbound_connection_closed");
}

uint64_t zt__orch_relay_count(struct zt__orch_relay *r, bool refused)
{
    return r ? atomic_load(refused ? &r->refused : &r->relayed) : 0;
}

void zt__orch_relay_free(struct zt__orch_relay *r)
{
    if (!r) return;
    zt__orch_relay_sweep(r, true);
    pthread_mutex_destroy(&r->mu);
    zt_free(r);
}
