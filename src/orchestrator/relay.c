/* relay.c: the orchestrator's relay for workers behind NAT: the outbound
 * workers' parked polls, the gateways' requests queued for them and the
 * answers streamed back. See zt_nat_relay.h; the routes are
 * src/server/orch_relay.c's. */
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_nat_relay.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_registry.h"
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
#define RELAY_ID_HEX 33

/* Milliseconds from t to now, 0 when t is later: a time another thread
 * stamped after this one read the clock (a result piece's t_last, a poll's
 * last_poll) must not wrap around into "long ago" (it ended live relays as
 * idle and dropped polling workers as unreachable). */
static uint64_t since(uint64_t now, uint64_t t) { return now > t ? now - t : 0; }

struct relay {
    struct relay *next;
    char id[RELAY_ID_HEX];
    char node[ZT_IDENTITY_ID_SIZE];
    json_t *msg;             /* what the worker's poll gets; NULL once delivered */
    struct zt_nat_sink *gw;  /* the gateway's connection */
    bool started;            /* status and headers went out */
    uint32_t seq;            /* the next result piece expected */
    uint64_t t_created, t_last; /* mono ms */
};

struct outnode {
    struct outnode *next;
    char id[ZT_IDENTITY_ID_SIZE];
    uint64_t last_poll;        /* mono ms */
    struct zt_nat_poll *poll;  /* a parked poll, or NULL */
    uint64_t until;            /* mono ms: its hold ends */
    size_t n_relays;
};

struct zt_nat_relay {
    pthread_mutex_t mu;
    struct relay *relays;
    size_t n_relays;
    struct outnode *nodes;
    size_t n_nodes;
    uint64_t seen_ms; /* a node that polled within this is reachable: outbound */
    struct zt_registry *reg;
    zt_nat_gateways_fn gateways; /* every poll answer's "gateways" (or NULL) */
    void *gateways_ud;
    atomic_uint_fast64_t relayed, refused;
};

static void res_error(struct zt_nat_res *res, int status, const char *code, const char *msg, int retry_after_s)
{
    *res = (struct zt_nat_res){.status = status, .code = code, .msg = msg, .retry_after_s = retry_after_s};
}

int zt_nat_relay_new(int64_t seen_ms, struct zt_registry *reg, struct zt_nat_relay **out)
{
    struct zt_nat_relay *r = zt_calloc(1, sizeof *r);
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
static void drop_worker(struct zt_nat_relay *r, const char *node, const char *why)
{
    if (r->reg && zt_registry_drop(r->reg, node, zt_time_real_ms()) == 0)
        zt_log(ZT_LOG_WARN, "worker_unreachable", "worker=%s reason=%s action=dropped_until_rejoin", node, why);
}

static struct outnode *node_find(struct zt_nat_relay *r, const char *id)
{
    for (struct outnode *n = r->nodes; n; n = n->next)
        if (strcmp(n->id, id) == 0) return n;
    return NULL;
}

/* A node entry for id, added when missing and there is room (NULL: none).
 * With r->mu. */
static struct outnode *node_add(struct zt_nat_relay *r, const char *id, uint64_t last_poll)
{
    struct outnode *n = node_find(r, id);
    if (n || r->n_nodes >= NODES_MAX || !(n = zt_calloc(1, sizeof *n))) return n;
    zt_strlcpy(n->id, id, sizeof n->id);
    n->last_poll = last_poll;
    n->next = r->nodes;
    r->nodes = n;
    r->n_nodes++;
    return n;
}

/* The gateway's connection ends: its stream ends (ok) or is cut, or, not
 * started, it gets an error. With r->mu held; rl is unlinked by the caller. */
static void relay_end(struct zt_nat_relay *r, struct relay *rl, bool ok, int status, const char *code,
                      const char *msg)
{
    struct outnode *n = node_find(r, rl->node);
    if (n && n->n_relays) n->n_relays--;
    if (rl->started) rl->gw->finish(rl->gw, ok);
    else rl->gw->refuse(rl->gw, status, code, msg);
    json_decref(rl->msg);
    zt_free(rl);
    r->n_relays--;
}

/* Up to POLL_BATCH undelivered requests of n, handed over now. */
static json_t *take_for(struct zt_nat_relay *r, struct outnode *n, uint64_t now)
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

void zt_nat_relay_set_gateways(struct zt_nat_relay *r, zt_nat_gateways_fn fn, void *ud)
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
static json_t *poll_body(struct zt_nat_relay *r, json_t *arr)
{
    json_t *a = json_pack("{s:o}", "requests", arr ? arr : json_array());
    json_t *g = r->gateways ? r->gateways(r->gateways_ud) : NULL;
    if (a && g) json_object_set_new(a, "gateways", g);
    else json_decref(g);
    return a;
}

/* Answer a parked poll and let it go. With r->mu. */
static void poll_answer(struct zt_nat_relay *r, struct zt_nat_poll *p, json_t *arr)
{
    p->answer(p, poll_body(r, arr));
}

void zt_nat_relay_poll(struct zt_nat_relay *r, const char *node_id, int64_t hold_ms,
                       struct zt_nat_poll *(*park)(void *ud), void *ud, struct zt_nat_res *res)
{
    uint64_t now = zt_time_mono_ms();
    pthread_mutex_lock(&r->mu);
    struct outnode *n = node_add(r, node_id, 0);
    if (!n) {
        pthread_mutex_unlock(&r->mu);
        res_error(res, 503, "overloaded", "too many outbound workers", 5);
        return;
    }
    n->last_poll = now;
    if (n->poll) { /* one parked poll per worker: the older one goes back empty */
        poll_answer(r, n->poll, NULL);
        n->poll = NULL;
    }
    json_t *arr = take_for(r, n, now);
    struct zt_nat_poll *p = NULL;
    if ((!arr || json_array_size(arr) == 0) && hold_ms > 0) {
        json_decref(arr);
        arr = NULL;
        p = park(ud);
        if (p) {
            n->poll = p;
            n->until = now + (uint64_t)(hold_ms < HOLD_MAX_MS ? hold_ms : HOLD_MAX_MS);
        }
    }
    *res = (struct zt_nat_res){0};
    if (!p) {
        res->status = 200;
        res->body = poll_body(r, arr);
    }
    pthread_mutex_unlock(&r->mu);
}

bool zt_nat_relay_outbound(struct zt_nat_relay *r, const char *node_id)
{
    if (!r) return false;
    uint64_t now = zt_time_mono_ms();
    pthread_mutex_lock(&r->mu);
    struct outnode *n = node_find(r, node_id);
    bool yes = n && (n->poll || since(now, n->last_poll) < r->seen_ms);
    pthread_mutex_unlock(&r->mu);
    return yes;
}

/* The message a poll hands the worker: {id, method, target, headers,
 * body (base64)}; NULL when out of memory. */
static json_t *relay_msg(const struct relay *rl, const struct zt_nat_req *q)
{
    size_t b64_len = sodium_base64_encoded_len(q->body_len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = zt_malloc(b64_len);
    if (!b64) return NULL;
    sodium_bin2base64(b64, b64_len, (const unsigned char *)(q->body ? q->body : ""), q->body_len,
                      sodium_base64_VARIANT_ORIGINAL);
    json_t *hdrs = q->headers ? json_incref(q->headers) : json_array();
    json_t *msg = hdrs ? json_pack("{s:s,s:s,s:s,s:o,s:s}", "id", rl->id, "method", q->method, "target", q->target,
                                   "headers", hdrs, "body", b64)
                       : NULL;
    zt_free(b64);
    return msg;
}

void zt_nat_relay_request(struct zt_nat_relay *r, const struct zt_nat_req *q, struct zt_nat_res *res)
{
    const char *node = q->node_id;
    struct zt_node_info ni;
    uint64_t now = zt_time_mono_ms();
    bool live = r->reg && zt_registry_get(r->reg, node, zt_time_real_ms(), &ni) == 0 && ni.state == ZT_NODE_LIVE;
    pthread_mutex_lock(&r->mu);
    /* a worker that joined a moment ago may not have polled yet: its
     * requests wait for its first poll (PICKUP_MS at most) */
    bool fresh = live && zt_time_real_ms() - ni.joined_ms < FRESH_MS;
    struct outnode *n = fresh ? node_add(r, node, now) : node_find(r, node);
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
        res_error(res, status, why,
                  status == 503 ? "too many requests open to this worker"
                                : "this worker keeps no live outbound connection to this orchestrator",
                  status == 503 ? 1 : 0);
        return;
    }
    struct relay *rl = zt_calloc(1, sizeof *rl);
    if (rl) {
        uint8_t rnd[16];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(rl->id, sizeof rl->id, rnd, sizeof rnd);
        rl->msg = relay_msg(rl, q);
    }
    if (rl && rl->msg) rl->gw = q->park(q->park_ud);
    if (!rl || !rl->msg || !rl->gw) {
        pthread_mutex_unlock(&r->mu);
        if (rl) json_decref(rl->msg);
        zt_free(rl);
        res_error(res, 503, "overloaded", "out of memory", 0);
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
    *res = (struct zt_nat_res){0};
}

static struct relay **relay_slot(struct zt_nat_relay *r, const char *id)
{
    for (struct relay **pp = &r->relays; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->id, id) == 0) return pp;
    return NULL;
}

void zt_nat_relay_piece(struct zt_nat_relay *r, const struct zt_nat_piece *p, struct zt_nat_res *res)
{
    const char *id = p->relay_id ? p->relay_id : "";
    pthread_mutex_lock(&r->mu);
    struct relay **pp = strlen(id) == RELAY_ID_HEX - 1 ? relay_slot(r, id) : NULL;
    struct relay *rl = pp ? *pp : NULL;
    int code = 200;
    const char *err = NULL;
    if (!rl || rl->msg) {
        code = 404, err = "unknown_relay"; /* never handed out, or over */
    } else if (p->seq != (long)rl->seq) {
        code = 409, err = "out_of_order";
    } else if (rl->gw->gone(rl->gw)) {
        code = 410, err = "client_gone";
    } else if (!rl->started && (p->status < 100 || p->status > 599)) {
        code = 400, err = "bad_status";
    } else {
        int rc = 0;
        if (!rl->started) {
            const char *ct = p->content_type && p->content_type[0] ? p->content_type : "application/octet-stream";
            rc = rl->gw->start(rl->gw, (int)p->status, ct);
            rl->started = rc == 0;
        }
        if (!rc && p->len) rc = rl->gw->write(rl->gw, p->body, p->len);
        if (rc) code = 410, err = "client_gone";
        rl->seq++;
        rl->t_last = zt_time_mono_ms();
    }
    if (rl && (p->end || code == 410 || code == 409)) {
        *pp = rl->next;
        relay_end(r, rl, p->end && code == 200, 502, "worker_failed", "the worker's answer was cut");
    }
    bool known = rl != NULL;
    pthread_mutex_unlock(&r->mu);
    if (err) {
        zt_log_rl(ZT_LOG_WARN, 10, "relay_piece_refused", "relay_known=%s code=%d why=%s seq=%ld end=%s",
                  known ? "yes" : "no", code, err, p->seq, p->end ? "yes" : "no");
        res_error(res, code, err, "this relay piece was not taken", 0);
        return;
    }
    *res = (struct zt_nat_res){.status = 200, .body = json_pack("{s:b}", "ok", 1)};
}

void zt_nat_relay_sweep(struct zt_nat_relay *r, bool all)
{
    if (!r) return;
    uint64_t now = zt_time_mono_ms();
    pthread_mutex_lock(&r->mu);
    for (struct relay **pp = &r->relays; *pp;) {
        struct relay *rl = *pp;
        bool gone = rl->gw->gone(rl->gw);
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
        if (n->poll) {
            bool gone = n->poll->gone(n->poll);
            if (all || now >= n->until || gone) {
                /* a parked poll whose connection closed: the worker is gone */
                if (!all && gone && n_lost < 16) {
                    zt_strlcpy(lost[n_lost++], n->id, sizeof lost[0]);
                    n->last_poll = 0;
                }
                poll_answer(r, n->poll, NULL);
                n->poll = NULL;
            }
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

uint64_t zt_nat_relay_count(struct zt_nat_relay *r, bool refused)
{
    return r ? atomic_load(refused ? &r->refused : &r->relayed) : 0;
}

void zt_nat_relay_free(struct zt_nat_relay *r)
{
    if (!r) return;
    zt_nat_relay_sweep(r, true);
    pthread_mutex_destroy(&r->mu);
    zt_free(r);
}

/* ---- metrics ------------------------------------------------------------------- */

static int m_relayed(void *ud, struct zt_metrics_out *out)
{
    int rc = zt_metrics_emit_u64(out, NULL, "result=\"relayed\"", zt_nat_relay_count(ud, false));
    return rc ? rc : zt_metrics_emit_u64(out, NULL, "result=\"refused\"", zt_nat_relay_count(ud, true));
}

int zt_nat_relay_register_metrics(struct zt_nat_relay *r, struct zt_metrics *m)
{
    return zt_metrics_add_fn(m, "zentalk_orchestrator_relay_requests_total",
                             "Requests for workers behind NAT relayed over their outbound long-poll, or refused.",
                             ZT_METRIC_COUNTER, m_relayed, r);
}
