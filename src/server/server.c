/* server.c: routes of the node's HTTP API. See zt_server.h.
 *
 * Routing is an exact match on the path over a small static table (a
 * path ending in '/' also serves every longer path under it); each
 * route lists its methods (HEAD is served wherever GET is) and whether it
 * takes a body: a JSON object (checked here once: content type, UTF-8, JSON
 * syntax with line:column, so handlers only see valid JSON objects), or raw
 * bytes of one media type (sealed envelopes: only the content type is
 * checked here; the handler reads zt_http_req_body()). Either way the body
 * is bounded by server.max_body_bytes (the HTTP layer answers 413).
 *
 * The route table (build_routes) maps {methods, path, minimum role, body
 * kind} to a handler and its user data: the subsystem it serves, handed
 * over by the node (zt_server_deps); handlers get an explicit request
 * context (req.h), never thread-locals. docs/internals/dispatch.md.
 *
 * Each route has a minimum role (zt_auth.h). Who the caller is:
 *  - a valid "Authorization: Bearer <jwt>" (when encryption.jwt_secret is
 *    set): the token's sub and role, rate-limited per sub;
 *  - a live wallet session token (a bearer token that is not a JWT, from
 *    POST /v1/auth/wallet/login; zt_wallet.h): "wallet:0x<address>", role
 *    user, rate-limited the same way;
 *  - no token (or no secret to check one against): anonymous, which is
 *    admin for loopback peers when no secret is configured (the embedded
 *    default), nothing on a non-loopback listener with require_auth, and
 *    user otherwise. Routes of role "none" (probes, metrics, status) skip
 *    all of this. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attest_api.h"
#include "lex_api.h"
#include "conv_api.h"
#include "search_api.h"
#include "server_deps.h"
#include "spam_api.h"
#include "gdpr_api.h"
#include "mesh_api.h"
#include "dbsync_api.h"
#include "ledger_api.h"
#include "orch_api.h"
#include "http_metrics.h"
#include "llm_api.h"
#include "zentalk/zt_infer.h"
#include "privacy_api.h"
#include "relay_api.h"
#include "req.h"
#include "route_api.h"
#include "sealed_api.h"
#include "translate_api.h"
#include "wallet_api.h"
#include "web_api.h"
#include "ws_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_auth.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_ratelimit.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_server.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_version.h"
#include "zentalk/zt_wallet.h"
#include "zentalk/zt_ws.h"

enum method_bit {
    M_GET = 1u << 0,
    M_HEAD = 1u << 1,
    M_POST = 1u << 2,
    M_PUT = 1u << 3,
    M_DELETE = 1u << 4,
    M_PATCH = 1u << 5,
    M_OPTIONS = 1u << 6,
};

/* Route body kinds: none, a JSON object (checked here once: content type,
 * UTF-8, syntax), or raw job envelope bytes (application/vnd.zentalk.envelope,
 * only the content type checked here). */
enum body_kind { B_NONE, B_JSON, B_ENVELOPE };

/* Node routes: who may call them is configurable (encryption.relay_callers,
 * encryption.sealed_jobs_callers): "peer" = only a signed request from a
 * registered peer (zt_nodeauth.h), "peer_or_user" = that or any caller the
 * usual rules admit at min_role. */
enum node_gate {
    GATE_NONE = 0,
    GATE_RELAY,  /* POST /v1/relay/jobs */
    GATE_SEALED, /* POST /v1/jobs/sealed (the worker route) */
};

struct route {
    unsigned methods;            /* M_GET implies M_HEAD */
    const char *path;
    enum zt_auth_role min_role;  /* least role allowed (zt_auth.h) */
    enum body_kind body;         /* what the body methods (body_methods) carry */
    zt__handler_fn fn;
    void *ud;                    /* the subsystem the route serves */
    unsigned body_methods;       /* methods whose body is of kind body */
    enum node_gate gate;
    intptr_t arg;                /* a constant for the handler (cx->arg): which op or kind of the subsystem */
};

#define N_ROLES ZT_ROLE_COUNT

struct role_state {
    atomic_bool ready;
    pthread_mutex_t mu;
    char detail[128];
};

#define MAX_ROUTES 72
_Static_assert(MAX_ROUTES + 1 <= ZT__METRICS_MAX_ROUTES, "raise ZT__METRICS_MAX_ROUTES (http_metrics.h)");

struct zt_server {
    struct zt_server_deps d;     /* the subsystems served (borrowed) */
    _Atomic(struct zt_http_server *) http; /* set once listening; read by handlers meanwhile */
    uint64_t start_mono_ns;
    int64_t start_real_ms;
    atomic_bool draining;
    struct role_state roles[N_ROLES];
    struct zt__metrics metrics;  /* per-route HTTP counters */
    struct route routes[MAX_ROUTES];
    size_t n_routes;
    struct zt__audit_sink audit; /* the privacy layer's audit log */
    char endpoint[300];          /* the URL served, once listening */
    bool listener_loopback;      /* server.listen is a loopback address */
    atomic_uint_fast64_t node_auth[6]; /* by enum node_auth_result */
    char *tls_cert;              /* PEM, or NULL: plain HTTP */
    char *tls_key;               /* PEM, sodium_malloc'd */
};

static void allow_header(const struct route *r, char *out, size_t n);

enum node_auth_result { NA_OK, NA_UNKNOWN, NA_BAD_SIG, NA_STALE, NA_REPLAY, NA_MALFORMED };
static const char *const node_auth_names[6] = {"ok", "unknown_node", "bad_signature", "stale_date", "replay", "malformed"};

static const char *const UNMATCHED = "unmatched";

/* ---- the request context ------------------------------------------------- */

void zt__req_note_job(struct zt__req_ctx *cx, const char *job_hex)
{
    zt_strlcpy(cx->notes.job_id, job_hex ? job_hex : "", sizeof cx->notes.job_id);
}

int zt__req_audit_now(struct zt__req_ctx *cx, const char *subject_pseudonym, int status)
{
    cx->notes.recorded = true;
    return cx->audit->record ? cx->audit->record(cx->audit->ud, cx, subject_pseudonym, status) : 0;
}

/* ---- the node's own routes ----------------------------------------------- */

static void h_healthz(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)ud, (void)cx, (void)body;
    zt_http_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static int role_index(unsigned role)
{
    for (int i = 0; i < N_ROLES; i++)
        if (role == (1u << i)) return i;
    return -1;
}

static json_t *roles_json(struct zt_server *s, bool *all_ready)
{
    json_t *o = json_object();
    *all_ready = true;
    for (int i = 0; i < N_ROLES && o; i++) {
        if (!(s->d.cfg->node.role_mask & (1u << i))) continue;
        struct role_state *rs = &s->roles[i];
        bool ready = atomic_load(&rs->ready);
        char detail[sizeof rs->detail];
        pthread_mutex_lock(&rs->mu);
        memcpy(detail, rs->detail, sizeof detail);
        pthread_mutex_unlock(&rs->mu);
        if (!ready) *all_ready = false;
        json_object_set_new(o, zt_role_names[i], json_pack("{s:b,s:s}", "ready", ready, "detail", detail));
    }
    return o;
}

static void h_readyz(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_server *s = ud;
    (void)cx, (void)body;
    bool all_ready;
    json_t *roles = roles_json(s, &all_ready);
    bool draining = atomic_load(&s->draining);
    const char *status = draining ? "draining" : (all_ready ? "ready" : "not_ready");
    int code = (all_ready && !draining) ? 200 : 503;
    zt_http_resp_json(resp, code, json_pack("{s:s,s:o*}", "status", status, "roles", roles));
}

static double uptime_s(const struct zt_server *s)
{
    return (double)(zt_time_mono_ns() - s->start_mono_ns) / 1e9;
}

/* GET /metrics: the registry, where every subsystem registered its own
 * families (zt_metrics.h). */
static void h_metrics(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_server *s = ud;
    (void)cx, (void)body;
    if (zt_metrics_render(s->d.metrics, &resp->body) != 0) {
        zt_http_resp_error(resp, 500, "internal", "could not render metrics");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* The server's own families. */
static int m_build_info(void *ud, struct zt_metrics_out *o)
{
    (void)ud;
    char labels[256];
    snprintf(labels, sizeof labels, "version=\"%s\",commit=\"%s\",build_type=\"%s\"", ZT_VERSION, ZT_GIT_COMMIT,
             ZT_BUILD_TYPE);
    return zt_metrics_emit_u64(o, NULL, labels, 1);
}

static int m_uptime(void *ud, struct zt_metrics_out *o)
{
    return zt_metrics_emit(o, NULL, NULL, uptime_s(ud));
}

static int m_start_time(void *ud, struct zt_metrics_out *o)
{
    const struct zt_server *s = ud;
    return zt_metrics_emit(o, NULL, NULL, (double)s->start_real_ms / 1000.0);
}

static int m_inflight(void *ud, struct zt_metrics_out *o)
{
    const struct zt_server *s = ud;
    return zt_metrics_emit_u64(o, NULL, NULL, (uint64_t)zt_server_inflight(s));
}

static int m_role_ready(void *ud, struct zt_metrics_out *o)
{
    struct zt_server *s = ud;
    int rc = 0;
    for (int i = 0; i < N_ROLES && !rc; i++)
        if (s->d.cfg->node.role_mask & (1u << i))
            rc = zt_metrics_emitf_u64(o, NULL, atomic_load(&s->roles[i].ready) ? 1 : 0, "role=\"%s\"",
                                      zt_role_names[i]);
    return rc;
}

static int m_node_auth(void *ud, struct zt_metrics_out *o)
{
    struct zt_server *s = ud;
    return zt_metrics_emit_each(o, "result", node_auth_names, s->node_auth, 6);
}

static int register_metrics(struct zt_server *s)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_build_info", "Build of this node (always 1).", ZT_METRIC_GAUGE, m_build_info},
        {"zentalk_uptime_seconds", "Seconds since the node started.", ZT_METRIC_GAUGE, m_uptime},
        {"zentalk_start_time_seconds", "Start time of the node since the Unix epoch.", ZT_METRIC_GAUGE, m_start_time},
        {"zentalk_http_requests_in_flight", "Requests being served now.", ZT_METRIC_GAUGE, m_inflight},
        {"zentalk_role_ready", "Whether each enabled role is ready.", ZT_METRIC_GAUGE, m_role_ready},
    };
    static const struct zt_metrics_fam auth[] = {
        {"zentalk_node_auth_total", "Signed node requests checked, by result.", ZT_METRIC_COUNTER, m_node_auth},
    };
    int rc = zt_metrics_add_fns(s->d.metrics, fams, sizeof fams / sizeof fams[0], s);
    if (!rc) rc = zt_metrics_register_process(s->d.metrics); /* process_resident_memory_bytes, in its old place */
    if (!rc) rc = zt_metrics_add_fns(s->d.metrics, auth, 1, s);
    if (!rc) rc = zt__metrics_register_http(&s->metrics, s->d.metrics);
    return rc;
}

static void h_status(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_server *s = ud;
    (void)cx, (void)body;
    json_t *roles = json_array();
    for (int i = 0; i < N_ROLES && roles; i++)
        if (s->d.cfg->node.role_mask & (1u << i)) json_array_append_new(roles, json_string(zt_role_names[i]));
    char started[ZT_TIME_ISO_LEN];
    zt_time_iso8601(started, sizeof started, s->start_real_ms);
    bool all_ready;
    json_t *readiness = roles_json(s, &all_ready);
    /* models load on first use; no network yet, so no peers */
    json_t *configured = json_array(), *loaded = json_array();
    for (size_t i = 0; i < zt_infer_model_count(s->d.models) && configured && loaded; i++) {
        bool is_loaded;
        const struct zt_cfg_model *e = zt_infer_model(s->d.models, i, &is_loaded);
        json_array_append_new(configured, json_string(e->id));
        if (is_loaded) json_array_append_new(loaded, json_string(e->id));
    }
    /* the trusted peers (public: their descriptors are) */
    json_t *peers = json_array();
    size_t np = zt_peers_count(s->d.peers);
    struct zt_peer *pv = np ? zt_calloc(np, sizeof *pv) : NULL;
    np = pv ? zt_peers_list(s->d.peers, pv, np) : 0;
    for (size_t i = 0; i < np && peers; i++) json_array_append_new(peers, json_string(pv[i].node_id));
    zt_free(pv);
    json_t *j = json_pack("{s:s,s:s,s:s,s:o*,s:o*,s:b,s:f,s:s,s:s,s:o*,s:o*,s:o*}",
                          "node_id", s->d.node_id, "version", ZT_VERSION, "commit", ZT_GIT_COMMIT,
                          "roles", roles, "readiness", readiness, "ready",
                          all_ready && !atomic_load(&s->draining), "uptime_seconds", uptime_s(s),
                          "started_at", started, "listen", s->d.cfg->server.listen, "models", loaded,
                          "models_configured", configured, "peers", peers);
    struct zt__route_stats rts;
    zt__route_stats(s->d.route, &rts);
    if (j)
        json_object_set_new(j, "jobs",
                            json_pack("{s:I,s:I,s:I,s:I,s:o*}", "local", (json_int_t)rts.local, "remote",
                                      (json_int_t)rts.remote, "remote_failed", (json_int_t)rts.remote_failed,
                                      "refused", (json_int_t)rts.refused, "by_peer", zt__route_peer_counts(s->d.route)));
    zt_http_resp_json(resp, 200, j);
}

static void h_log_level(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)ud;
    if (body) {
        json_t *lv = json_object_get(body, "level");
        enum zt_log_level level;
        if (!json_is_string(lv)) {
            zt_http_resp_error(resp, 400, "invalid_request",
                               "body must be {\"level\": \"debug|info|warn|error\"}");
            return;
        }
        if (json_object_size(body) != 1) {
            zt_http_resp_error(resp, 400, "invalid_request", "unknown field; only \"level\" is accepted");
            return;
        }
        if (zt_log_level_parse(json_string_value(lv), &level) != 0 || level == ZT_LOG_OFF) {
            zt_http_resp_error(resp, 400, "invalid_request", "level must be debug, info, warn or error");
            return;
        }
        zt_log_set_level(level);
        zt_log(ZT_LOG_WARN, "log_level_changed", "level=%s request_id=%s", zt_log_level_name(level),
               cx->request_id);
    }
    zt_http_resp_json(resp, 200, json_pack("{s:s}", "level", zt_log_level_name(zt_log_get_level())));
}

static void h_admin_status(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_server *s = ud;
    (void)cx, (void)body;
    struct zt_runner_stats st;
    size_t n_loaded;
    zt_infer_stats(s->d.models, &st, &n_loaded);
    json_t *loaded = json_array();
    for (size_t i = 0; i < zt_infer_model_count(s->d.models) && loaded; i++) {
        bool is_loaded;
        const struct zt_cfg_model *e = zt_infer_model(s->d.models, i, &is_loaded);
        if (is_loaded) json_array_append_new(loaded, json_string(e->id));
    }
    const char *secret = s->d.cfg->encryption.jwt_secret;
    json_t *j = json_pack(
        "{s:s,s:s,s:f,s:I,s:o*,s:{s:I,s:I,s:I,s:i,s:i},s:{s:b,s:b,s:b,s:I,s:I,s:I},s:I}", "node_id",
        s->d.node_id, "version", ZT_VERSION, "uptime_seconds", uptime_s(s), "started_at_ms",
        (json_int_t)s->start_real_ms, "models_loaded", loaded, "runner", "prompt_tokens",
        (json_int_t)st.prompt_tokens, "generated_tokens", (json_int_t)st.generated_tokens, "jobs_done",
        (json_int_t)st.jobs_done, "active_slots", (int)st.active_slots, "queued", (int)st.queued, "auth",
        "jwt", secret && secret[0], "require_auth", s->d.cfg->encryption.require_auth,
        "listener_loopback", s->listener_loopback, "rate_limit_rps",
        (json_int_t)s->d.cfg->server.rate_limit_rps, "rate_limit_burst",
        (json_int_t)s->d.cfg->server.rate_limit_burst, "rate_limit_identities",
        (json_int_t)zt_ratelimit_size(s->d.limiter), "requests_in_flight",
        (json_int_t)zt_server_inflight(s));
    zt_http_resp_json(resp, 200, j);
}

/* GET /ui/routes.json: the route table (paths, methods, least role), so
 * that the dashboard shows a panel only for routes this node has (a probe
 * of a missing route would be a 404 in the browser's console). A route
 * whose subsystem this node does not run (its user data is NULL, e.g. the
 * ledger's without chain.enabled: they answer 404 chain_disabled) is left
 * out. Public, as docs/api.md is. */
static void h_ui_routes(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_server *s = ud;
    (void)cx, (void)body;
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_routes && a; i++) {
        if (!s->routes[i].ud) continue;
        char allow[96];
        allow_header(&s->routes[i], allow, sizeof allow);
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "path", s->routes[i].path, "methods", allow, "role",
                                           zt_auth_role_name(s->routes[i].min_role)));
    }
    zt_http_resp_json(resp, 200, json_pack("{s:o*}", "routes", a));
}

/* ---- the route table ----------------------------------------------------- */

/* {methods, path, minimum role, body kind, handler, user data, body
 * methods, gate, arg}: the handler is the module's own, its user data the
 * subsystem it serves; routes sharing a handler pass it a constant (arg,
 * read as cx->arg). */
static int build_routes(struct zt_server *s)
{
    const struct zt_server_deps *d = &s->d;
    const struct route table[] = {
        {M_GET, "/healthz", ZT_AUTH_NONE, B_NONE, h_healthz, s, 0, 0, 0},
        {M_GET, "/readyz", ZT_AUTH_NONE, B_NONE, h_readyz, s, 0, 0, 0},
        {M_GET, "/metrics", ZT_AUTH_NONE, B_NONE, h_metrics, s, 0, 0, 0},
        {M_GET, "/v1/status", ZT_AUTH_NONE, B_NONE, h_status, s, 0, 0, 0},
        {M_GET | M_PUT, "/v1/admin/log-level", ZT_AUTH_ADMIN, B_JSON, h_log_level, s, M_PUT, 0, 0},
        {M_GET, "/v1/admin/status", ZT_AUTH_ADMIN, B_NONE, h_admin_status, s, 0, 0, 0},
        {M_GET, "/v1/models", ZT_AUTH_USER, B_NONE, zt__llm_h_models, d->models, 0, 0, 0},
        {M_GET, "/v1/models/", ZT_AUTH_USER, B_NONE, zt__llm_h_model, d->models, 0, 0, 0},
        {M_GET, "/", ZT_AUTH_NONE, B_NONE, zt__web_h, s, 0, 0, 0},
        {M_GET, "/ui/routes.json", ZT_AUTH_NONE, B_NONE, h_ui_routes, s, 0, 0, 0},
        {M_GET, "/ui/", ZT_AUTH_NONE, B_NONE, zt__web_h, s, 0, 0, 0},
        {M_POST, "/v1/completions", ZT_AUTH_USER, B_JSON, zt__route_h_generate, d->route, M_POST, 0, 0},
        {M_POST, "/v1/chat/completions", ZT_AUTH_USER, B_JSON, zt__route_h_generate, d->route, M_POST, 0, 1},
        {M_POST, "/v1/embeddings", ZT_AUTH_USER, B_JSON, zt__llm_h_embeddings, d->models, M_POST, 0, 0},
        {M_GET, "/v1/attestation/report", ZT_AUTH_NONE, B_NONE, zt__attest_handle, d->attest, 0, 0, 0},
        {M_POST, "/v1/auth/wallet/nonce", ZT_AUTH_NONE, B_JSON, zt__wallet_h_nonce, d->wallet, M_POST, 0, 0},
        {M_POST, "/v1/auth/wallet/login", ZT_AUTH_NONE, B_JSON, zt__wallet_h_login, d->wallet, M_POST, 0, 0},
        {M_POST, "/v1/auth/logout", ZT_AUTH_NONE, B_NONE, zt__wallet_h_logout, d->wallet, 0, 0, 0},
        {M_POST, "/v1/features/spam", ZT_AUTH_USER, B_JSON, zt__feat_spam_h, d->feat_spam, M_POST, 0, 0},
        {M_POST, "/v1/features/entities", ZT_AUTH_USER, B_JSON, zt__feat_entities_h, d->feat_spam, M_POST, 0, 0},
        {M_POST, "/v1/features/preprocess", ZT_AUTH_USER, B_JSON, zt__feat_preprocess_h, d->feat_spam, M_POST, 0, 0},
        {M_POST, "/v1/relay/jobs", ZT_AUTH_USER, B_NONE, zt__relay_h, d->relay, 0, GATE_RELAY, 0},
        {M_POST, "/v1/features/translate", ZT_AUTH_USER, B_JSON, zt__tr_h_translate, d->translate, M_POST, 0, 0},
        {M_GET, "/v1/features/translate/languages", ZT_AUTH_USER, B_NONE, zt__tr_h_languages, d->translate, 0, 0, 0},
        {M_GET, "/v1/ws", ZT_AUTH_USER, B_NONE, zt__ws_h_upgrade, d->ws, 0, 0, 0},
        {M_POST, "/v1/privacy/pii", ZT_AUTH_USER, B_JSON, zt__privacy_h_pii, d->privacy, M_POST, 0, 0},
        {M_GET, "/v1/node/descriptor", ZT_AUTH_NONE, B_NONE, zt__sealed_h_descriptor, d->sealed, 0, 0, 0},
        {M_POST, "/v1/jobs/sealed", ZT_AUTH_USER, B_ENVELOPE, zt__sealed_h_job, d->sealed, M_POST, GATE_SEALED, 0},
        {M_POST, "/v1/search/index", ZT_AUTH_USER, B_JSON, zt__search_h, d->search, M_POST, 0, ZT_SEARCH_OP_INDEX},
        {M_POST, "/v1/search/query", ZT_AUTH_USER, B_JSON, zt__search_h, d->search, M_POST, 0, ZT_SEARCH_OP_QUERY},
        {M_POST, "/v1/search/delete", ZT_AUTH_USER, B_JSON, zt__search_h, d->search, M_POST, 0, ZT_SEARCH_OP_DELETE},
        {M_POST, "/v1/features/categorize", ZT_AUTH_USER, B_JSON, zt__categorize_h, d->search, M_POST, 0, 0},
        {M_POST, "/v1/features/intents", ZT_AUTH_USER, B_JSON, zt__feat_h_intents, d->conv, M_POST, 0, 0},
        {M_POST, "/v1/features/smart-replies", ZT_AUTH_USER, B_JSON, zt__feat_h_replies, d->conv, M_POST, 0, 0},
        {M_POST, "/v1/features/summarize", ZT_AUTH_USER, B_JSON, zt__feat_h_summarize, d->conv, M_POST, 0, 0},
        {M_POST, "/v1/features/sentiment", ZT_AUTH_USER, B_JSON, zt__lexfeat_h, d->lexfeat, M_POST, 0, ZT_LEXFEAT_SENTIMENT},
        {M_POST, "/v1/features/moderate", ZT_AUTH_USER, B_JSON, zt__lexfeat_h, d->lexfeat, M_POST, 0, ZT_LEXFEAT_MODERATION},
        {M_POST, "/v1/features/language", ZT_AUTH_USER, B_JSON, zt__lexfeat_h, d->lexfeat, M_POST, 0, ZT_LEXFEAT_LANGUAGE},
        {M_POST, "/v1/privacy/export", ZT_AUTH_USER, B_JSON, zt__gdpr_h_export, d->gdpr, M_POST, 0, 0},
        {M_POST, "/v1/privacy/erase", ZT_AUTH_USER, B_JSON, zt__gdpr_h_erase, d->gdpr, M_POST, 0, 0},
        {M_POST, "/v1/orchestrator/join", ZT_AUTH_NONE, B_NONE, zt__orch_h_record, d->orch, 0, 0, ZT__ORCH_JOIN},
        {M_POST, "/v1/orchestrator/heartbeat", ZT_AUTH_NONE, B_NONE, zt__orch_h_record, d->orch, 0, 0, ZT__ORCH_HEARTBEAT},
        {M_POST, "/v1/orchestrator/leave", ZT_AUTH_NONE, B_NONE, zt__orch_h_record, d->orch, 0, 0, ZT__ORCH_LEAVE},
        {M_POST, "/v1/orchestrator/revoke", ZT_AUTH_NONE, B_NONE, zt__orch_h_revoke, d->orch, 0, 0, 0},
        {M_POST, "/v1/orchestrator/poll", ZT_AUTH_NONE, B_NONE, zt__orch_h_record, d->orch, 0, 0, ZT__ORCH_POLL},
        {M_POST, "/v1/orchestrator/relay/", ZT_AUTH_NONE, B_NONE, zt__orch_relay_h, d->nat_relay, 0, 0, 0},
        {M_POST, "/v1/orchestrator/relay-result/", ZT_AUTH_NONE, B_NONE, zt__orch_relay_result_h, d->nat_relay, 0, 0, 0},
        {M_GET, "/v1/orchestrator/nodes", ZT_AUTH_ADMIN, B_NONE, zt__orch_h_nodes, d->orch, 0, 0, 0},
        {M_GET, "/v1/orchestrator/jobs", ZT_AUTH_ADMIN, B_NONE, zt__orch_h_jobs, d->orch, 0, 0, 0},
        {M_POST, "/v1/orchestrator/lease", ZT_AUTH_ADMIN, B_JSON, zt__orch_h_lease, d->orch, M_POST, 0, 0},
        {M_POST, "/v1/orchestrator/report", ZT_AUTH_ADMIN, B_JSON, zt__orch_h_report, d->orch, M_POST, 0, 0},
        {M_POST, "/v1/orchestrator/check-report", ZT_AUTH_NONE, B_JSON, zt__orch_h_check_report, d->orch, M_POST, 0, 0},
        {M_GET, "/v1/balance", ZT_AUTH_USER, B_NONE, zt__ledger_h_balance, d->chain, 0, 0, 0},
        {M_GET, "/v1/rewards", ZT_AUTH_PROVIDER, B_NONE, zt__ledger_h_rewards, d->chain, 0, 0, 0},
        {M_POST, "/v1/admin/ledger/deposit", ZT_AUTH_ADMIN, B_JSON, zt__ledger_h_deposit, d->chain, M_POST, 0, 0},
        {M_GET, "/v1/payouts", ZT_AUTH_PROVIDER, B_NONE, zt__ledger_h_payouts, d->chain, 0, 0, 0},
        {M_GET, "/v1/rewards/proofs/", ZT_AUTH_USER, B_NONE, zt__ledger_h_proof, d->chain, 0, 0, 0},
        {M_PUT, "/v1/rewards/wallet", ZT_AUTH_PROVIDER, B_JSON, zt__ledger_h_wallet, d->chain, M_PUT, 0, 0},
        {M_POST, "/v1/admin/payouts/run", ZT_AUTH_ADMIN, B_NONE, zt__ledger_h_payout_run, d->chain, 0, 0, 0},
        {M_GET | M_POST, "/v1/mesh/", ZT_AUTH_PROVIDER, B_JSON, zt__mesh_h, d->mesh, M_POST, 0, 0},
        {M_GET | M_POST, "/v1/dbsync/", ZT_AUTH_ADMIN, B_JSON, zt__dbsync_h, d->dbsync, M_POST, 0, 0},
    };
    _Static_assert(sizeof table / sizeof table[0] <= MAX_ROUTES, "raise MAX_ROUTES");
    s->n_routes = sizeof table / sizeof table[0];
    memcpy(s->routes, table, sizeof table);
    for (size_t i = 0; i < s->n_routes; i++)
        if (zt__metrics_add_route(&s->metrics, s->routes[i].path) != 0) return ZT_ETOOBIG;
    return zt__metrics_add_route(&s->metrics, UNMATCHED); /* every route, and "unmatched", has its own metrics */
}

/* ---- dispatch ----------------------------------------------------------- */

static unsigned method_bit(const char *m)
{
    static const struct {
        const char *name;
        unsigned bit;
    } map[] = {{"GET", M_GET},       {"HEAD", M_HEAD},   {"POST", M_POST},      {"PUT", M_PUT},
               {"DELETE", M_DELETE}, {"PATCH", M_PATCH}, {"OPTIONS", M_OPTIONS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(m, map[i].name) == 0) return map[i].bit;
    return 0;
}

static void allow_header(const struct route *r, char *out, size_t n)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    unsigned m = r->methods | M_OPTIONS | ((r->methods & M_GET) ? M_HEAD : 0);
    out[0] = '\0';
    for (unsigned i = 0; i < 7; i++) {
        if (!(m & (1u << i))) continue;
        if (out[0]) strncat(out, ", ", n - strlen(out) - 1);
        strncat(out, names[i], n - strlen(out) - 1);
    }
}

/* True if the Content-Type header ct is media type mt (parameters allowed). */
static bool media_is(const char *ct, const char *mt)
{
    size_t n = strlen(mt);
    return ct && strncmp(ct, mt, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Parse and check a JSON request body; on error fills resp and returns NULL. */
static json_t *parse_body(struct zt_http_req *req, struct zt_http_resp *resp)
{
    const char *ct = zt_http_req_header(req, "Content-Type");
    if (!ct || !(zt_str_starts_with(ct, "application/json") &&
                 (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' '))) {
        zt_http_resp_error(resp, 415, "unsupported_media_type", "Content-Type must be application/json");
        return NULL;
    }
    size_t len;
    const char *data = zt_http_req_body(req, &len);
    if (len == 0) {
        zt_http_resp_error(resp, 400, "invalid_json", "request body is empty; a JSON object is required");
        return NULL;
    }
    if (!zt_utf8_valid(data, len)) {
        zt_http_resp_error(resp, 400, "invalid_json", "request body is not valid UTF-8");
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        char msg[256];
        snprintf(msg, sizeof msg, "invalid JSON at line %d, column %d: %s", err.line, err.column,
                 err.text);
        zt_http_resp_error(resp, 400, "invalid_json", msg);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        zt_http_resp_error(resp, 400, "invalid_json", "request body must be a JSON object");
        return NULL;
    }
    return j;
}

static void unauthorized(struct zt_http_resp *resp, bool invalid, const char *message)
{
    zt_ignore(zt_http_resp_header(resp, "WWW-Authenticate",
                                  invalid ? "Bearer realm=\"zentalk-ai\", error=\"invalid_token\""
                                          : "Bearer realm=\"zentalk-ai\""));
    zt_http_resp_error(resp, 401, "unauthorized", message);
}

/* A request carrying the Zentalk-* signature headers (zt_nodeauth.h) is
 * checked whatever its route: 1 and *p = "node:zt1...", role provider, when
 * a registered peer signed it; 0 when it carries none of the headers; -1
 * (resp filled: 401, or 503 when the replay cache is full) otherwise. */
static int node_caller(struct zt_server *s, struct zt_http_req *req, struct zt_http_resp *resp,
                       struct zt_auth_principal *p)
{
    const char *hn = zt_http_req_header(req, ZT_NODEAUTH_H_NODE);
    const char *hd = zt_http_req_header(req, ZT_NODEAUTH_H_DATE);
    const char *hno = zt_http_req_header(req, ZT_NODEAUTH_H_NONCE);
    const char *hs = zt_http_req_header(req, ZT_NODEAUTH_H_SIG);
    if (!hn && !hd && !hno && !hs) return 0;
    struct zt_nodeauth_parsed np;
    const char *why = "malformed or missing Zentalk-Node/-Date/-Nonce/-Signature header";
    enum node_auth_result res = NA_MALFORMED;
    int rc = zt_nodeauth_parse(hn, hd, hno, hs, &np);
    if (!rc && !s->d.identity) {
        rc = ZT_EINVAL;
        why = "this node has no identity to check node signatures against";
    } else if (!rc) {
        size_t len;
        const char *body = zt_http_req_body(req, &len);
        rc = zt_nodeauth_verify(s->d.nodeauth, s->d.peers, zt_identity_id(s->d.identity), zt_http_req_method(req),
                                zt_http_req_target(req), body, len, &np, zt_time_real_ms() / 1000, &why);
        res = rc == 0                ? NA_OK
              : rc == ZT_ENOTFOUND   ? NA_UNKNOWN
              : rc == ZT_ETIMEDOUT   ? NA_STALE
              : rc == ZT_EEXIST      ? NA_REPLAY
              : rc == ZT_ECRYPTO     ? NA_BAD_SIG
                                     : NA_MALFORMED;
    }
    atomic_fetch_add(&s->node_auth[res], 1);
    if (rc == ZT_ENOMEM) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return -1;
    }
    if (rc == ZT_EBUSY) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "5"));
        zt_http_resp_error(resp, 503, "overloaded", why);
        return -1;
    }
    if (rc) {
        zt_log_rl(ZT_LOG_WARN, 10, "node_auth_rejected", "result=%s node=%s request_id=%s", node_auth_names[res],
                  hn && zt_identity_id_valid(hn) ? hn : "-", zt_http_req_id(req));
        zt_http_resp_error(resp, 401, "invalid_node_signature", why);
        return -1;
    }
    memset(p, 0, sizeof *p);
    snprintf(p->identity, sizeof p->identity, "node:%s", np.node);
    p->role = ZT_AUTH_PROVIDER;
    zt_log(ZT_LOG_DEBUG, "node_auth_ok", "node=%s request_id=%s", np.node, zt_http_req_id(req));
    return 1;
}

static bool gate_peer_only(const struct zt_server *s, enum node_gate g)
{
    const struct zt_cfg_encryption *enc = &s->d.cfg->encryption;
    if (g == GATE_RELAY) return zt_str_eq(enc->relay_callers, "peer");
    if (g == GATE_SEALED) return zt_str_eq(enc->sealed_jobs_callers, "peer");
    return false;
}

/* The caller's role for route r; false (resp filled: 401, 403, 429, 500)
 * when the request may not go on. node: the verified peer that signed the
 * request, or NULL. *who is the caller as far as known (for the audit log). */
static bool authorize(struct zt_server *s, struct zt_http_req *req, const struct route *r,
                      const struct zt_auth_principal *node, struct zt_http_resp *resp,
                      struct zt_auth_principal *who)
{
    if (r->min_role == ZT_AUTH_NONE) return true;
    if (!node && gate_peer_only(s, r->gate)) {
        zt_http_resp_error(resp, 401, "unauthorized",
                           "this route accepts only requests signed by a registered peer node");
        return false;
    }
    const struct zt_cfg_encryption *enc = &s->d.cfg->encryption;
    bool has_key = (enc->jwt_secret && enc->jwt_secret[0]) || s->d.auth_keys->rsa_pem || s->d.auth_keys->has_ed25519;
    const char *hdr = !node && has_key ? zt_http_req_header(req, "Authorization") : NULL;
    struct zt_auth_principal *p = who;
    memset(p, 0, sizeof *p);
    if (node) {
        /* not rate-limited per identity: a relay carries many users'
         * requests, and limits its own callers itself */
        *p = *node;
    } else if (hdr) {
        const char *tok, *why = "Authorization must be \"Bearer <token>\"";
        size_t len;
        int rc = zt_auth_parse_header(hdr, &tok, &len);
        if (!rc) {
            rc = zt_auth_verify_keys(s->d.auth_keys, s->d.cfg->integration.jwt_issuer,
                                      s->d.cfg->integration.jwt_audience, tok, len,
                                      zt_time_real_ms() / 1000, p, &why);
            if (rc == ZT_EINVAL) { /* no algorithm of the token's kind is keyed */
                rc = ZT_ECRYPTO;
                why = "algorithm not accepted (see encryption.jwt_algorithms)";
            }
        } else if (zt_wallet_parse_bearer(hdr, &tok, &len) == 0) { /* not a JWT: a session? */
            rc = zt_wallet_session(s->d.wallet, tok, len, zt_time_real_ms() / 1000, p);
            if (rc) {
                rc = ZT_ECRYPTO;
                why = "unknown, expired or revoked session";
            }
        }
        if (rc == ZT_ENOMEM) {
            zt_http_resp_error(resp, 500, "internal", "out of memory");
            return false;
        }
        if (rc) {
            zt_log(ZT_LOG_DEBUG, "auth_rejected", "reason=\"%s\" request_id=%s", why, zt_http_req_id(req));
            char msg[160];
            snprintf(msg, sizeof msg, "invalid bearer token: %s", why);
            unauthorized(resp, true, msg);
            return false;
        }
        unsigned retry = 1;
        if (!zt_ratelimit_take(s->d.limiter, p->identity, zt_time_mono_ns(), &retry)) {
            char v[16];
            snprintf(v, sizeof v, "%u", retry);
            zt_ignore(zt_http_resp_header(resp, "Retry-After", v));
            zt_http_resp_error(resp, 429, "rate_limited",
                               "too many requests for this identity; retry after Retry-After seconds");
            return false;
        }
    } else if (!has_key && zt_http_req_peer_is_loopback(req)) {
        p->role = ZT_AUTH_ADMIN; /* no way to issue tokens: the local operator */
    } else if (enc->require_auth && !s->listener_loopback) {
        unauthorized(resp, false, "this route requires \"Authorization: Bearer <token>\"");
        return false;
    } else {
        p->role = ZT_AUTH_USER;
    }
    if (p->role < r->min_role) {
        char msg[160];
        snprintf(msg, sizeof msg, "this route requires role %s; the caller has role %s",
                 zt_auth_role_name(r->min_role), hdr || node ? zt_auth_role_name(p->role) : "anonymous");
        zt_http_resp_error(resp, 403, "forbidden", msg);
        return false;
    }
    return true;
}

static void dispatch(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    struct zt_server *s = ud;
    const char *path = zt_http_req_path(req);
    /* a worker behind NAT (orch_api.h): its orchestrator's relay path is,
     * on the worker, the route after it (the signature covers the whole
     * target); on the orchestrator, its signature is the worker's to check */
    bool relay_self = false;
    const char *relay_rest =
        zt__orch_relay_split(path, s->d.identity ? zt_identity_id(s->d.identity) : NULL, &relay_self);
    if (relay_rest && relay_self) path = relay_rest;
    const struct route *r = NULL;
    for (size_t i = 0; i < s->n_routes; i++) {
        if (strcmp(s->routes[i].path, path) == 0) {
            r = &s->routes[i];
            break;
        }
    }
    /* a path ending in '/' (other than "/") is a prefix route: it serves
     * every longer path under it (/v1/models/{id}, /ui/{file}) */
    for (size_t i = 0; i < s->n_routes && !r; i++) {
        size_t n = strlen(s->routes[i].path);
        if (n > 1 && s->routes[i].path[n - 1] == '/' && strncmp(s->routes[i].path, path, n) == 0 && path[n])
            r = &s->routes[i];
    }
    zt_http_req_set_route(req, r ? r->path : UNMATCHED);
    struct zt_auth_principal node_p;
    int nc = relay_rest && !relay_self ? 0 : node_caller(s, req, resp, &node_p);
    if (nc < 0) return;
    if (!r) {
        zt_http_resp_error(resp, 404, "not_found", "no such route");
        return;
    }
    unsigned m = method_bit(zt_http_req_method(req));
    unsigned allowed = r->methods | ((r->methods & M_GET) ? M_HEAD : 0);
    if (m == M_OPTIONS) {
        char allow[96];
        allow_header(r, allow, sizeof allow);
        zt_ignore(zt_http_resp_header(resp, "Allow", allow));
        resp->status = 204;
        return;
    }
    if (!(m & allowed)) {
        char allow[96];
        allow_header(r, allow, sizeof allow);
        zt_ignore(zt_http_resp_header(resp, "Allow", allow));
        zt_http_resp_error(resp, 405, "method_not_allowed", "method not allowed on this route");
        return;
    }
    struct zt__req_ctx cx = {
        .req = req, .route = r->path, .request_id = zt_http_req_id(req), .arg = r->arg, .audit = &s->audit};
    json_t *body = NULL;
    if (!authorize(s, req, r, nc > 0 ? &node_p : NULL, resp, &cx.principal)) goto audit;
    if ((r->body_methods & m) && r->body == B_ENVELOPE) {
        if (!media_is(zt_http_req_header(req, "Content-Type"), ZT_SEALED_MEDIA_ENVELOPE)) {
            zt_http_resp_error(resp, 415, "unsupported_media_type",
                               "Content-Type must be " ZT_SEALED_MEDIA_ENVELOPE);
            goto audit;
        }
    } else if (r->body_methods & m) {
        body = parse_body(req, resp);
        if (!body) goto audit;
    } else {
        size_t len;
        zt_ignore(zt_http_req_body(req, &len));
        if (len > 0 && m != M_POST && m != M_PUT) {
            zt_http_resp_error(resp, 400, "bad_request", "this route takes no request body");
            goto audit;
        }
    }
    r->fn(r->ud, &cx, body, resp);
    json_decref(body);
audit:
    /* Authenticated routes leave an audit entry (never content). For a
     * response produced later (inference), the status is the handler's at
     * return: 200 = accepted. */
    zt__privacy_audit(s->d.privacy, &cx, r->min_role >= ZT_AUTH_USER, resp->status);
}

static void observe(void *ud, const char *route, const char *method, int status, uint64_t dur_ns)
{
    (void)method;
    struct zt_server *s = ud;
    zt__metrics_observe(&s->metrics, route, UNMATCHED, status, dur_ns);
}

/* ---- lifecycle ---------------------------------------------------------- */

int zt_server_new(const struct zt_server_deps *d, struct zt_server **out)
{
    if (!d || !d->cfg || !d->node_id || !d->metrics || !d->auth_keys) return ZT_EINVAL;
    struct zt_server *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    s->d = *d;
    s->start_mono_ns = zt_time_mono_ns();
    s->start_real_ms = zt_time_real_ms();
    s->audit = (struct zt__audit_sink){.record = zt__privacy_record, .ud = d->privacy};
    for (int i = 0; i < N_ROLES; i++) {
        pthread_mutex_init(&s->roles[i].mu, NULL);
        zt_strlcpy(s->roles[i].detail, "starting", sizeof s->roles[i].detail);
    }
    char host[256];
    uint16_t port;
    if (zt_str_split_hostport(d->cfg->server.listen, host, sizeof host, &port) == 0)
        s->listener_loopback = zt_str_eq(host, "localhost") || zt_str_eq(host, "::1") ||
                               zt_str_starts_with(host, "127.");
    int rc = build_routes(s);
    if (!rc) rc = register_metrics(s);
    return ZT_HAND_OUT(rc, s, zt_server_free, out);
}

int zt_server_start(struct zt_server *s)
{
    char host[256];
    uint16_t port;
    int rc = zt_str_split_hostport(s->d.cfg->server.listen, host, sizeof host, &port);
    if (rc) return ZT_EINVAL;
    bool v6 = strchr(host, ':') != NULL;
    struct zt_http_opts o = {
        .host = host,
        .port = port,
        .threads = (unsigned)s->d.cfg->server.threads,
        .max_connections = (unsigned)s->d.cfg->server.max_connections,
        .max_header_bytes = (size_t)s->d.cfg->server.max_header_bytes,
        .max_body_bytes = (size_t)s->d.cfg->server.max_body_bytes,
        .timeout_s = (unsigned)s->d.cfg->server.request_timeout_s,
        .max_conns_per_address = (unsigned)s->d.cfg->server.max_connections_per_address,
        .new_address_reserve_percent = (unsigned)s->d.cfg->server.new_address_reserve_percent,
        .header_timeout_s = (unsigned)s->d.cfg->server.header_timeout_s,
        .trusted_proxies = (const char *const *)s->d.cfg->server.trusted_proxies.items,
        .n_trusted_proxies = s->d.cfg->server.trusted_proxies.count,
        .handler = dispatch,
        .observer = observe,
        .ud = s,
        .tls_cert_pem = s->tls_cert,
        .tls_key_pem = s->tls_key,
    };
    struct zt_http_server *http = NULL;
    rc = zt_http_start(&o, &http);
    atomic_store(&s->http, http);
    if (rc == 0 && s->d.cfg->node.endpoint && s->d.cfg->node.endpoint[0]) {
        zt_strlcpy(s->endpoint, s->d.cfg->node.endpoint, sizeof s->endpoint);
    } else if (rc == 0) {
        bool any = zt_str_eq(host, "0.0.0.0") || zt_str_eq(host, "::") || !host[0];
        snprintf(s->endpoint, sizeof s->endpoint, "%s://%s%s%s:%u", s->tls_cert ? "https" : "http", v6 ? "[" : "",
                 any ? "127.0.0.1" : host, v6 ? "]" : "", (unsigned)zt_http_port(http));
        if (any)
            zt_log(ZT_LOG_WARN, "endpoint_guessed",
                   "endpoint=%s detail=\"listening on all addresses: set node.endpoint to the URL peers should use\"",
                   s->endpoint);
    }
    return rc;
}

uint16_t zt_server_port(const struct zt_server *s)
{
    struct zt_http_server *http = atomic_load(&s->http);
    return http ? zt_http_port(http) : 0;
}

void zt_server_set_ready(struct zt_server *s, enum zt_role role, bool ready, const char *detail)
{
    int i = role_index((unsigned)role);
    if (i < 0) return;
    pthread_mutex_lock(&s->roles[i].mu);
    zt_strlcpy(s->roles[i].detail, detail ? detail : "", sizeof s->roles[i].detail);
    pthread_mutex_unlock(&s->roles[i].mu);
    atomic_store(&s->roles[i].ready, ready);
}

int64_t zt_server_inflight(const struct zt_server *s)
{
    struct zt_http_server *http = atomic_load(&s->http);
    return http ? zt_http_inflight(http) : 0;
}

int zt_server_drain(struct zt_server *s, uint64_t timeout_ms)
{
    atomic_store(&s->draining, true);
    if (!s->http) return 0;
    zt_http_quiesce(s->http);
    zt_ws_hub_close_all(s->d.ws, ZT_WS_CLOSE_GOING_AWAY); /* WebSockets get a 1001 close now */
    return zt_http_wait_idle(s->http, timeout_ms);
}

const char *zt_server_endpoint(const struct zt_server *s)
{
    return s->endpoint;
}

bool zt_server_tls(const struct zt_server *s)
{
    return s->tls_cert != NULL;
}

void zt_server_wait_idle(struct zt_server *s, uint64_t wait_ms)
{
    if (s->http) zt_ignore(zt_http_wait_idle(s->http, wait_ms));
}

#define TLS_FILE_MAX ((size_t)1 << 20)

/* Read a whole PEM file into *out (a key in sodium's guarded memory,
 * zt_file_read_secret, so it never passes through an ordinary heap
 * buffer); err says which file and why. */
static int read_pem(const char *path, bool secret, char **out, struct zt_buf *err)
{
    size_t n = 0;
    int rc = secret ? zt_file_read_secret(path, TLS_FILE_MAX, out, &n) : zt_file_read(path, TLS_FILE_MAX, out, &n);
    bool empty = !rc && n == 0;
    if (empty) {
        if (secret) zt_file_secret_free(*out);
        else zt_free(*out);
        *out = NULL;
        rc = ZT_ETOOBIG; /* as before: not a usable size */
    }
    if (rc)
        zt_ignore(zt_buf_appendf(err, "%s: %s", path,
                                 rc == ZT_ETOOBIG    ? (empty ? "empty file" : "larger than 1 MiB")
                                 : rc == ZT_ENOMEM   ? "out of memory"
                                                     : strerror(errno ? errno : EIO)));
    return rc == ZT_ENOTFOUND ? ZT_EIO : rc;
}

/* A certificate and its key as read_pem() returned them; NULLs are
 * no-ops. */
static void tls_pair_free(char *cert, char *key)
{
    zt_free(cert);
    zt_file_secret_free(key);
}

int zt_server_set_tls(struct zt_server *s, const char *cert_path, const char *key_path, struct zt_buf *err)
{
    char *cert = NULL, *key = NULL;
    int rc = read_pem(cert_path, false, &cert, err);
    if (!rc) rc = read_pem(key_path, true, &key, err);
    char why[160] = "";
    if (!rc) {
        rc = zt_http_tls_check(cert, key, why, sizeof why);
        if (rc) zt_ignore(zt_buf_appendf(err, "%s / %s: %s", cert_path, key_path, why));
    }
    if (rc) {
        tls_pair_free(cert, key);
        return rc;
    }
    tls_pair_free(s->tls_cert, s->tls_key);
    s->tls_cert = cert;
    s->tls_key = key;
    return 0;
}

void zt_server_free(struct zt_server *s)
{
    if (!s) return;
    zt_http_stop(s->http);
    tls_pair_free(s->tls_cert, s->tls_key);
    for (int i = 0; i < N_ROLES; i++) pthread_mutex_destroy(&s->roles[i].mu);
    zt_free(s);
}
