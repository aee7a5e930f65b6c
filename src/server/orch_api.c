/* orch_api.c: the orchestrator role over HTTP. See orch_api.h.
 *
 * Handlers only translate: the record goes to the registry as received
 * (its bytes are what the worker signed), the registry's answer becomes a
 * status. The role (zt_orch_role.h: the verifier, the NAT relay, the lease
 * table, the pump) is the node's, lent here; nothing here keeps state of
 * its own beyond the routes' refusal counters and the two per-address
 * rate limiters (joins and revocations, check reports). */
#include "orch_api.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_lease.h"
#include "zentalk/zt_nat_relay.h"
#include "zentalk/zt_orch_role.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_ratelimit.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define JOIN_LIMIT_KEYS 4096 /* client addresses tracked by the join limiter */
/* check reports per client address (a report of a recently picked node
 * costs up to two signature checks, and the route has no auth): a worker
 * reports once per check it ran */
#define REPORT_LIMIT_RPS 10.0
#define REPORT_LIMIT_BURST 40.0
#define LIST_MAX 1000        /* nodes or jobs in one answer */

/* Why a record or a submission was refused (zentalk_orchestrator_refusals_total). */
enum refusal { RF_RATE, RF_FORGED, RF_DUPLICATE, RF_STALE, RF_FULL, RF_UNKNOWN, RF_MALFORMED, RF_CHECK_REPORT, RF_N };
static const char *const refusal_names[RF_N] = {"rate_limited", "forged_or_forbidden", "duplicate_id",
                                                "stale",        "registry_full",       "unknown_session",
                                                "malformed",    "check_report"};

struct zt__orch {
    struct zt_orch_role *role; /* the orchestrator (zt_orch_role.h), lent by the node */
    const struct zt_config *cfg;
    /* the role's parts (borrowed; NULL for a remote one) */
    struct zt_registry *reg;
    struct zt_sched *sched;
    struct zt_nat_relay *relay; /* workers behind NAT (routes in orch_relay.c) */
    struct zt_lease *lease;     /* placement for gateways in other processes */
    struct zt_ratelimit *join_limit;
    struct zt_ratelimit *report_limit; /* POST check-report, per address */
    atomic_uint_fast64_t refused[RF_N];
    atomic_uint_fast64_t accepted[4]; /* join, heartbeat, leave, poll */
};

void zt__orch_free(struct zt__orch *o)
{
    if (!o) return;
    zt_ratelimit_free(o->join_limit);
    zt_ratelimit_free(o->report_limit);
    zt_free(o);
}

int zt__orch_new(struct zt_orch_role *role, struct zt__orch **out)
{
    const struct zt_config *cfg = zt_orch_role_config(role);
    struct zt__orch *o = zt_calloc(1, sizeof *o);
    if (!o) return ZT_ENOMEM;
    /* the role's parts, borrowed */
    o->role = role;
    o->cfg = cfg;
    o->reg = zt_orch_role_registry(role);
    o->sched = zt_orch_role_sched(role);
    o->relay = zt_orch_role_relay(role);
    o->lease = zt_orch_role_lease(role);
    /* a gateway whose orchestrator runs elsewhere has no registry here:
     * its orchestrator routes never counted nor limited anything */
    if (!zt_orch_role_is_remote(role)) {
        double per_min = (double)cfg->orchestrator.join_rate_per_minute;
        double burst = per_min / 4.0 < 1.0 ? 1.0 : per_min / 4.0;
        if (zt_ratelimit_new(per_min / 60.0, burst, JOIN_LIMIT_KEYS, &o->join_limit) != 0 ||
            zt_ratelimit_new(REPORT_LIMIT_RPS, REPORT_LIMIT_BURST, JOIN_LIMIT_KEYS, &o->report_limit) != 0) {
            zt__orch_free(o);
            return ZT_ENOMEM;
        }
    }
    *out = o;
    return 0;
}

/* New capacity, a free slot or a revocation: place what waits. */
static void kick(struct zt__orch *o) { zt_orch_role_kick(o->role); }

/* ---- metrics: the routes' own refusals and records ----------------------------- */

/* The routes' refusals; the lease table and the placement add their own
 * reasons to the family (zt_orch_role_register_metrics). */
static int m_refused(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    return zt_metrics_emit_each(out, "reason", refusal_names, o->refused, RF_N);
}

static int m_records(void *ud, struct zt_metrics_out *out)
{
    struct zt__orch *o = ud;
    static const char *const kinds[4] = {"join", "heartbeat", "leave", "poll"};
    return zt_metrics_emit_each(out, "kind", kinds, o->accepted, 4);
}

int zt__orch_register_metrics(struct zt__orch *o, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_orchestrator_refusals_total", "Worker records and job submissions refused, by reason.",
         ZT_METRIC_COUNTER, m_refused},
        {"zentalk_orchestrator_records_total", "Worker records accepted, by kind.", ZT_METRIC_COUNTER, m_records},
    };
    return zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], o);
}

/* ---- records ------------------------------------------------------------------- */

/* Whether this node runs no orchestrator here (none, or a gateway's role
 * whose orchestrator runs in another process: no registry, lease table or
 * limiters here): answered 404 (review9 F1: a remote gateway's
 * check-report route reached a NULL lease table and crashed). */
static bool no_orchestrator(struct zt__orch *o, struct zt_http_resp *resp)
{
    if (o && !zt_orch_role_is_remote(o->role)) return false;
    zt_http_resp_error(resp, 404, "not_an_orchestrator", "this node does not run the orchestrator role (node.roles)");
    return true;
}

/* The answers to the registry's refusals; the last one answers any other
 * error. */
static const char FORGED_MSG[] =
    "the record is forged, replayed, for another orchestrator, or the node is banned or quarantined";
static const struct {
    int rc, status;
    enum refusal why;
    const char *code, *msg;
} RECORD_ERRORS[] = {
    {ZT_EPERM, 403, RF_FORGED, "record_refused", FORGED_MSG},
    {ZT_ECRYPTO, 403, RF_FORGED, "record_refused", FORGED_MSG},
    {ZT_EEXIST, 409, RF_DUPLICATE, "duplicate_node_id",
     "this node id has a live session from another endpoint (the same key on two machines?)"},
    {ZT_ETIMEDOUT, 400, RF_STALE, "stale_record",
     "the record's timestamp is outside the orchestrator's window, or the descriptor expired"},
    {ZT_EBUSY, 503, RF_FULL, "registry_full", "the registry is full (orchestrator.max_nodes)"},
    {ZT_ENOTFOUND, 404, RF_UNKNOWN, "join_again", "no live session for this node: join again"},
    {0, 400, RF_MALFORMED, "malformed_record", "the record is not a well-formed signed zentalk record of this kind"},
};

/* A registry error to an HTTP answer. */
static void refuse(struct zt__orch *o, int rc, const char *kind, struct zt_http_req *req, struct zt_http_resp *resp)
{
    if (rc == ZT_ENOMEM || rc == ZT_EIO) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "5"));
        zt_http_resp_error(resp, 503, "unavailable", "the orchestrator could not record it; retry");
        return;
    }
    size_t i = 0, last = sizeof RECORD_ERRORS / sizeof RECORD_ERRORS[0] - 1;
    while (i < last && RECORD_ERRORS[i].rc != rc) i++;
    int status = RECORD_ERRORS[i].status;
    enum refusal why = RECORD_ERRORS[i].why;
    atomic_fetch_add(&o->refused[why], 1);
    if (status == 503) zt_ignore(zt_http_resp_header(resp, "Retry-After", "30"));
    zt_log_rl(ZT_LOG_WARN, 10, "orchestrator_record_refused", "kind=%s reason=%s client=%s request_id=%s", kind,
              refusal_names[why], zt_http_req_client_addr(req), zt_http_req_id(req));
    zt_http_resp_error(resp, status, RECORD_ERRORS[i].code, RECORD_ERRORS[i].msg);
}

/* A per-address bucket (rl: joins and revocations, or check reports):
 * false with 429 answered. */
static bool rate_ok_in(struct zt__orch *o, struct zt_ratelimit *rl, const char *msg, struct zt_http_req *req,
                       struct zt_http_resp *resp)
{
    unsigned retry = 1;
    if (zt_ratelimit_take(rl, zt_http_req_client_addr(req), zt_time_mono_ns(), &retry)) return true;
    char v[16];
    snprintf(v, sizeof v, "%u", retry);
    zt_ignore(zt_http_resp_header(resp, "Retry-After", v));
    atomic_fetch_add(&o->refused[RF_RATE], 1);
    zt_http_resp_error(resp, 429, "rate_limited", msg);
    return false;
}

static bool rate_ok(struct zt__orch *o, struct zt_http_req *req, struct zt_http_resp *resp)
{
    return rate_ok_in(o, o->join_limit, "too many joins from this address; retry after Retry-After", req, resp);
}

void zt__orch_h_record(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt__orch *o = ud;
    int kind = (int)cx->arg; /* ZT__ORCH_JOIN .. ZT__ORCH_POLL */
    static const char *const names[4] = {"join", "heartbeat", "leave", "poll"};
    if (no_orchestrator(o, resp)) return;
    struct zt_http_req *req = cx->req;
    if (kind == 0 && !rate_ok(o, req, resp)) return;
    size_t len;
    const char *rec = zt_http_req_body(req, &len);
    int64_t now = zt_time_real_ms();
    char node[ZT_IDENTITY_ID_SIZE] = "";
    int rc = kind == 0   ? zt_registry_join(o->reg, rec, len, now, node)
             : kind == 1 ? zt_registry_heartbeat(o->reg, rec, len, now)
             : kind == 3 ? zt_registry_poll(o->reg, rec, len, now, node)
                         : zt_registry_leave(o->reg, rec, len, now);
    if (rc) {
        refuse(o, rc, names[kind], req, resp);
        return;
    }
    atomic_fetch_add(&o->accepted[kind], 1);
    if (kind == 3) {
        /* a verified heartbeat: node is the worker's; the poll waits for its requests */
        const char *hq = zt_http_req_query(req, "hold_ms");
        long hold = hq ? strtol(hq, NULL, 10) : 0;
        zt__orch_relay_poll(o->relay, req, resp, node, hold);
        kick(o);
        return;
    }
    if (kind == 0) {
        zt_log(ZT_LOG_INFO, "worker_joined", "node_id=%s client=%s", node, zt_http_req_client_addr(req));
        /* the gateways that place through this orchestrator from other
         * processes: the worker admits their sealed jobs as this one's */
        json_t *ans = json_pack("{s:s,s:s,s:I,s:o}", "status", "joined", "node_id", node, "heartbeat_expiry_ms",
                                (json_int_t)o->cfg->orchestrator.heartbeat_expiry_ms, "gateways",
                                zt_lease_gateways(o->lease));
        json_t *mm = json_array(); /* mesh.serve_models: what the worker fetches from the mesh and serves */
        for (size_t i = 0; mm && i < o->cfg->mesh.serve_models.count; i++)
            json_array_append_new(mm, json_string(o->cfg->mesh.serve_models.items[i]));
        if (ans && mm) json_object_set(ans, "mesh_models", mm);
        json_decref(mm);
        zt_http_resp_json(resp, 200, ans);
    } else {
        if (kind == 2) zt_log(ZT_LOG_INFO, "worker_left", "client=%s", zt_http_req_client_addr(req));
        zt_http_resp_json(resp, 200,
                          kind == 1 ? json_pack("{s:s,s:o}", "status", "ok", "gateways", zt_lease_gateways(o->lease))
                                    : json_pack("{s:s}", "status", "left"));
    }
    kick(o); /* new capacity (or lost): place what waits */
}

/* A signed revocation (zt_dht.h's record, signed by the key it revokes):
 * the registry honours it (and the DHT, when this node runs one, publishes
 * it). Role none: the record is its own credential; joins' rate limit. */
void zt__orch_h_revoke(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    struct zt_http_req *req = cx->req;
    if (!rate_ok(o, req, resp)) return;
    size_t len;
    const char *rec = zt_http_req_body(req, &len);
    struct zt_dht_revocation v;
    bool published = false;
    int rc = zt_orch_role_revoke(o->role, rec, len, &v, &published);
    if (rc == ZT_EBUSY) {
        zt_http_resp_error(resp, 503, "registry_full", "too many revocations are remembered");
        return;
    }
    if (rc) {
        atomic_fetch_add(&o->refused[RF_FORGED], 1);
        zt_http_resp_error(resp, rc == ZT_ECRYPTO ? 403 : 400, rc == ZT_ECRYPTO ? "record_refused" : "malformed_record",
                           "not a revocation signed by the key it revokes (zentalk node revoke)");
        return;
    }
    zt_http_resp_json(resp, 200, json_pack("{s:s,s:s,s:s,s:b}", "status", "revoked", "node_id", v.node_id, "what",
                                           v.has_kem ? "kem_key" : "node_key", "published", published));
}

struct zt_nat_relay *zt__orch_nat_relay(struct zt__orch *o)
{
    return o ? o->relay : NULL;
}

/* ---- the lease routes: zt_lease.h's calls over HTTP ---- */

/* The lease table's answer as an HTTP response. */
static void lease_render(const struct zt_lease_res *res, struct zt_http_resp *resp)
{
    if (res->retry_after_s) {
        char v[16];
        snprintf(v, sizeof v, "%u", res->retry_after_s);
        zt_ignore(zt_http_resp_header(resp, "Retry-After", v));
    }
    if (res->code || !res->body)
        zt_http_resp_error(resp, res->status ? res->status : 500, res->code ? res->code : "internal",
                           res->message ? res->message : "no answer");
    else
        zt_http_resp_json(resp, res->status, json_incref(res->body));
}

/* A lease call parked on its deferred connection. */
struct lease_waiter {
    struct zt_lease_waiter w;
    struct zt_http_async *a;
};

static void lease_waiter_answer(struct zt_lease_waiter *w, struct zt_lease_res *res)
{
    struct lease_waiter *lw = (struct lease_waiter *)w;
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    lease_render(res, &resp);
    zt_ignore(zt_http_async_respond(lw->a, &resp)); /* ZT_ECLOSED: the gateway went; released all the same */
    zt_http_resp_deinit(&resp);
    zt_http_async_release(lw->a);
    zt_free(lw);
}

static void lease_waiter_close(void *ud) { (void)ud; }

static struct zt_lease_waiter *lease_defer(void *ud)
{
    struct lease_waiter *lw = zt_calloc(1, sizeof *lw);
    if (!lw) return NULL;
    lw->a = zt_http_req_defer(ud, lease_waiter_close, NULL);
    if (!lw->a) {
        zt_free(lw);
        return NULL;
    }
    lw->w.answer = lease_waiter_answer;
    return &lw->w;
}

/* What the lease table needs of the request besides its JSON body: the
 * caller as authenticated (its share of the leases) too. */
static void lease_call_of(const struct zt__req_ctx *cx, struct zt_lease_call *c)
{
    struct zt_http_req *req = cx->req;
    memset(c, 0, sizeof *c);
    c->sig_node = zt_http_req_header(req, ZT__GW_H_NODE);
    c->sig_date = zt_http_req_header(req, ZT__GW_H_DATE);
    c->sig_nonce = zt_http_req_header(req, ZT__GW_H_NONCE);
    c->sig_sig = zt_http_req_header(req, ZT__GW_H_SIG);
    c->method = zt_http_req_method(req);
    c->target = zt_http_req_target(req);
    c->raw = zt_http_req_body(req, &c->raw_len);
    c->client_addr = zt_http_req_client_addr(req);
    c->principal = cx->principal.identity;
    c->defer = lease_defer;
    c->defer_ud = req;
}

void zt__orch_h_lease(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    struct zt_lease_call call;
    struct zt_lease_res res;
    lease_call_of(cx, &call);
    zt_lease_res_init(&res);
    zt_lease_place(o->lease, &call, body, o->cfg->encryption.remote_timeout_s * 1000, &res);
    if (res.status) lease_render(&res, resp); /* else parked: answered by its waiter */
    zt_lease_res_deinit(&res);
}

void zt__orch_h_report(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    struct zt_lease_call call;
    struct zt_lease_res res;
    lease_call_of(cx, &call);
    zt_lease_res_init(&res);
    zt_ignore(zt_lease_report(o->lease, &call, body, &res)); /* refusals: counted by the lease */
    if (res.status) lease_render(&res, resp);
    zt_lease_res_deinit(&res);
    kick(o); /* a slot may be free */
}

void zt__orch_h_check_report(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    if (!rate_ok_in(o, o->report_limit, "too many check reports from this address; retry after Retry-After",
                    cx->req, resp))
        return;
    const char *why = NULL;
    int rc = zt_lease_check_report(o->lease, body, &why);
    if (!rc) {
        zt_http_resp_json(resp, 200, json_pack("{s:s}", "status", "kept"));
        return;
    }
    atomic_fetch_add(&o->refused[RF_CHECK_REPORT], 1);
    zt_log_rl(ZT_LOG_WARN, 10, "check_report_refused", "why=\"%s\" client=%s", why ? why : zt_strerror(rc),
              zt_http_req_client_addr(cx->req));
    if (rc == ZT_EEXIST) zt_http_resp_error(resp, 409, "check_report_replayed", why);
    else if (rc == ZT_EPERM) zt_http_resp_error(resp, 403, "check_report_refused", why);
    else if (rc == ZT_ENOMEM) zt_http_resp_error(resp, 503, "overloaded", "out of memory");
    else if (rc == ZT_EBUSY) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "5"));
        zt_http_resp_error(resp, 503, "overloaded", why ? why : "too many reports held; retry later");
    }
    else zt_http_resp_error(resp, 400, "invalid_request", why ? why : "a report needs node_id, checkpoint, receipt");
}

/* ---- lists ----------------------------------------------------------------------- */

/* A node whose whole key is revoked is "revoked" whatever ended its
 * session (zt_registry_revoke ends it as a drop: it would read "expired"). */
static const char *node_state_name(struct zt_registry *reg, const struct zt_node_info *x)
{
    if (x->state != ZT_NODE_LIVE && zt_registry_revoked(reg, x->node_id, NULL)) return "revoked";
    return x->state == ZT_NODE_LIVE ? "live" : x->state == ZT_NODE_EXPIRED ? "expired" : "left";
}

void zt__orch_h_nodes(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx, (void)body;
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    struct zt_node_info *v = zt_calloc(LIST_MAX, sizeof *v);
    if (!v) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return;
    }
    int64_t now = zt_time_real_ms();
    size_t n = zt_registry_list(o->reg, false, now, v, LIST_MAX);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        const struct zt_node_info *x = &v[i];
        json_t *models = json_array();
        char tmp[sizeof x->models];
        zt_strlcpy(tmp, x->models, sizeof tmp);
        for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t && models; t = strtok_r(NULL, ",", &save))
            json_array_append_new(models, json_string(t));
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:o*,s:f,s:b,s:b,s:{s:i,s:i},s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:s}",
                           "node_id", x->node_id, "endpoint", x->endpoint, "state", node_state_name(o->reg, x),
                           "models", models, "reputation", x->reputation, "eligible", x->eligible, "banned",
                           x->banned, "load", "busy", (int)x->load.busy, "queue", (int)x->load.queue, "slots",
                           (int)x->caps.slots, "inflight", (int)x->inflight, "last_heartbeat_ms",
                           (json_int_t)x->last_seen_ms, "joined_ms", (json_int_t)x->joined_ms, "completed",
                           (json_int_t)x->completed, "failed", (json_int_t)x->failed, "timed_out",
                           (json_int_t)x->timed_out, "mismatches", (json_int_t)x->mismatches, "verified",
                           (json_int_t)x->verified, "latency_ms_per_token", x->latency_ms_per_tok, "engine",
                           x->caps.engine));
        json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "reachable",
                            json_string(zt_nat_relay_outbound(o->relay, x->node_id) ? "outbound" : "direct"));
    }
    zt_free(v);
    zt_http_resp_json(resp, 200,
                      json_pack("{s:o*,s:I,s:I,s:I}", "nodes", arr, "live", (json_int_t)zt_registry_count(o->reg, true),
                                "queued", (json_int_t)zt_sched_queued(o->sched), "now_ms", (json_int_t)now));
}

void zt__orch_h_jobs(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx, (void)body;
    struct zt__orch *o = ud;
    if (no_orchestrator(o, resp)) return;
    size_t max = 100;
    const char *q = zt_http_req_query(cx->req, "limit");
    if (q) {
        long l = strtol(q, NULL, 10);
        if (l < 1 || l > LIST_MAX) {
            zt_http_resp_error(resp, 400, "invalid_request", "limit must be between 1 and 1000");
            return;
        }
        max = (size_t)l;
    }
    struct zt_job_info *v = zt_calloc(max, sizeof *v);
    size_t n = 0;
    if (!v || zt_sched_job_list(o->sched, v, max, &n) != 0) {
        zt_free(v);
        zt_http_resp_error(resp, 503, "unavailable", "the job table could not be read");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        const struct zt_job_info *x = &v[i];
        /* the client key is a fairness key (an identity): not shown */
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:I,s:I,s:I,s:I}", "job_id", x->job_id,
                                             "model", x->model, "state", zt_job_state_name(x->state), "worker",
                                             x->worker, "attempts", (int)x->attempts, "max_tokens",
                                             (int)x->max_tokens, "tokens", (int)x->tokens, "created_ms",
                                             (json_int_t)x->created_ms, "started_ms", (json_int_t)x->started_ms,
                                             "finished_ms", (json_int_t)x->finished_ms, "updated_ms",
                                             (json_int_t)x->updated_ms));
        if (x->reason[0]) json_object_set_new(json_array_get(arr, i), "reason", json_string(x->reason));
    }
    zt_free(v);
    zt_http_resp_json(resp, 200, json_pack("{s:o*,s:I}", "jobs", arr, "queued", (json_int_t)zt_sched_queued(o->sched)));
}
