/* server.c: routes of the node's HTTP API. See zt_server.h.
 *
 * Routing is an exact match on the path over a small static table; each
 * route lists its methods (HEAD is served wherever GET is) and whether it
 * takes a body: a JSON object (checked here once: content type, UTF-8, JSON
 * syntax with line:column, so handlers only see valid JSON objects), or raw
 * bytes of one media type (sealed envelopes: only the content type is
 * checked here; the handler reads zt_http_req_body()). Either way the body
 * is bounded by server.max_body_bytes (the HTTP layer answers 413).
 *
 * Each route has a minimum role (auth.h). Who the caller is:
 *  - a valid "Authorization: Bearer <jwt>" (when encryption.jwt_secret is
 *    set): the token's sub and role, rate-limited per sub;
 *  - a live wallet session token (a bearer token that is not a JWT, from
 *    POST /v1/auth/wallet/login; wallet.h): "wallet:0x<address>", role
 *    user, rate-limited the same way;
 *  - no token (or no secret to check one against): anonymous, which is
 *    admin for loopback peers when no secret is configured (the embedded
 *    default), nothing on a non-loopback listener with require_auth, and
 *    user otherwise. Routes of role "none" (probes, metrics, status) skip
 *    all of this. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attest.h"
#include "zentalk/zt_auth.h"
#include "zentalk/zt_ratelimit.h"
#include "feat_spam.h"
#include "feat_search.h"
#include "feat_replies.h"
#include "feat_lex.h"
#include "wiring.h"
#include "gdpr.h"
#include "llm.h"
#include "metrics.h"
#include "models.h"
#include "relay.h"
#include "route.h"
#include "translate.h"
#include "privacy.h"
#include "sealed.h"
#include "wallet.h"
#include "ws.h"
#include "zentalk/zt_annotate.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_server.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_version.h"

enum method_bit {
    M_GET = 1u << 0,
    M_HEAD = 1u << 1,
    M_POST = 1u << 2,
    M_PUT = 1u << 3,
    M_DELETE = 1u << 4,
    M_PATCH = 1u << 5,
    M_OPTIONS = 1u << 6,
};

struct zt_server;
typedef void (*route_fn)(struct zt_server *s, struct zt_http_req *req, json_t *body,
                         struct zt_http_resp *resp);

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
    const char *path;
    unsigned methods;   /* M_GET implies M_HEAD */
    unsigned body;      /* methods that take a body (a JSON object), | BODY_ENVELOPE */
    enum zt_auth_role min_role; /* least role allowed (auth.h) */
    route_fn fn;
};

/* The node routes, by path (kept apart from the route table). */
static const struct {
    const char *path;
    enum node_gate gate;
} node_gates[] = {
    {"/v1/relay/jobs", GATE_RELAY},
    {"/v1/jobs/sealed", GATE_SEALED},
};

static enum node_gate route_gate(const char *path)
{
    for (size_t i = 0; i < sizeof node_gates / sizeof node_gates[0]; i++)
        if (strcmp(node_gates[i].path, path) == 0) return node_gates[i].gate;
    return GATE_NONE;
}
/* Route body kind: raw job envelope bytes (application/vnd.zentalk.envelope)
 * instead of a JSON object. */
#define BODY_ENVELOPE (1u << 16)

#define N_ROLES 3
static const char *const role_names[N_ROLES] = {"gateway", "orchestrator", "worker"};

struct role_state {
    atomic_bool ready;
    pthread_mutex_t mu;
    char detail[128];
};

struct zt_server {
    const struct zt_config *cfg;
    const char *node_id;
    struct zt_http_server *http;
    uint64_t start_mono_ns;
    int64_t start_real_ms;
    atomic_bool draining;
    struct role_state roles[N_ROLES];
    struct zt__metrics metrics;
    struct zt__models *models;
    struct zt__attest *attest; /* NULL until zt_server_set_identity() */
    struct zt__sealed *sealed; /* descriptor and sealed jobs; NULL until then too */
    char endpoint[300];          /* the URL served, once listening */
    bool listener_loopback;      /* server.listen is a loopback address */
    struct zt_ratelimit *limiter;
    struct zt__wallet *wallet;   /* wallet login nonces and sessions */
    struct zt__feat_spam *feat_spam; /* spam model; entities, preprocess (feat_spam.h) */
    const struct zt_identity *identity; /* signs relayed requests; NULL until set */
    struct zt_peers *peers;      /* trusted peers (encryption.peers_file) */
    struct zt_nodeauth_verifier *nodeauth; /* replay cache of node signatures */
    struct zt__relay *relay;
    struct zt__route *route;     /* local-first routing of LLM requests */
    atomic_uint_fast64_t node_auth[6]; /* by enum node_auth_result */
    struct zt_auth_keys auth_keys; /* HS256 secret, RS256/EdDSA public key */
    char *tls_cert;              /* PEM, or NULL: plain HTTP */
    char *tls_key;               /* PEM, sodium_malloc'd */
    size_t tls_key_size;
    struct zt__tr *translate;    /* /v1/features/translate (translate.h) */
    struct zt__ws *ws;           /* /v1/ws (ws.h) */
    struct zt__privacy *privacy; /* PII detector, policy, audit log */
    struct zt__feat_search *search; /* search + categorisation (feat_search.h) */
    struct zt__feat_conv *conv;  /* intents, smart replies, summaries (feat_replies.h) */
    struct zt__lexfeat *lexfeat; /* sentiment, moderation, language (feat_lex.h) */
    struct zt__wiring *wiring;   /* features using one another (wiring.h) */
    struct zt__gdpr *gdpr;       /* privacy export/erase, retention sweeper (gdpr.h) */
};

enum node_auth_result { NA_OK, NA_UNKNOWN, NA_BAD_SIG, NA_STALE, NA_REPLAY, NA_MALFORMED };
static const char *const node_auth_names[6] = {"ok", "unknown_node", "bad_signature", "stale_date", "replay", "malformed"};

#define RATE_LIMIT_KEYS 10000 /* identities tracked; least recently seen evicted */

static const char *const UNMATCHED = "unmatched";

/* ---- handlers ----------------------------------------------------------- */

static void h_healthz(struct zt_server *s, struct zt_http_req *req, json_t *body,
                      struct zt_http_resp *resp)
{
    (void)s, (void)req, (void)body;
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
        if (!(s->cfg->node.role_mask & (1u << i))) continue;
        struct role_state *rs = &s->roles[i];
        bool ready = atomic_load(&rs->ready);
        char detail[sizeof rs->detail];
        pthread_mutex_lock(&rs->mu);
        memcpy(detail, rs->detail, sizeof detail);
        pthread_mutex_unlock(&rs->mu);
        if (!ready) *all_ready = false;
        json_object_set_new(o, role_names[i], json_pack("{s:b,s:s}", "ready", ready, "detail", detail));
    }
    return o;
}

static void h_readyz(struct zt_server *s, struct zt_http_req *req, json_t *body,
                     struct zt_http_resp *resp)
{
    (void)req, (void)body;
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

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long pages_total = 0, pages_rss = 0;
    int n = fscanf(f, "%ld %ld", &pages_total, &pages_rss); /* NOLINT: fixed /proc format */
    fclose(f);
    if (n != 2) return -1;
    return pages_rss * sysconf(_SC_PAGESIZE);
}

static void h_metrics(struct zt_server *s, struct zt_http_req *req, json_t *body,
                      struct zt_http_resp *resp)
{
    (void)req, (void)body;
    struct zt_buf *b = &resp->body;
    int rc = 0;
    rc |= zt_buf_appendf(b,
                         "# HELP zentalk_build_info Build of this node (always 1).\n"
                         "# TYPE zentalk_build_info gauge\n"
                         "zentalk_build_info{version=\"%s\",commit=\"%s\",build_type=\"%s\"} 1\n",
                         ZT_VERSION, ZT_GIT_COMMIT, ZT_BUILD_TYPE);
    rc |= zt_buf_appendf(b,
                         "# HELP zentalk_uptime_seconds Seconds since the node started.\n"
                         "# TYPE zentalk_uptime_seconds gauge\n"
                         "zentalk_uptime_seconds %.3f\n"
                         "# HELP zentalk_start_time_seconds Start time of the node since the Unix epoch.\n"
                         "# TYPE zentalk_start_time_seconds gauge\n"
                         "zentalk_start_time_seconds %.3f\n",
                         uptime_s(s), (double)s->start_real_ms / 1000.0);
    rc |= zt_buf_appendf(b,
                         "# HELP zentalk_http_requests_in_flight Requests being served now.\n"
                         "# TYPE zentalk_http_requests_in_flight gauge\n"
                         "zentalk_http_requests_in_flight %lld\n",
                         (long long)(s->http ? zt_http_inflight(s->http) : 0));
    rc |= zt_buf_append_str(b, "# HELP zentalk_role_ready Whether each enabled role is ready.\n"
                               "# TYPE zentalk_role_ready gauge\n");
    for (int i = 0; i < N_ROLES; i++)
        if (s->cfg->node.role_mask & (1u << i))
            rc |= zt_buf_appendf(b, "zentalk_role_ready{role=\"%s\"} %d\n", role_names[i],
                                 atomic_load(&s->roles[i].ready) ? 1 : 0);
    long rss = rss_bytes();
    if (rss >= 0)
        rc |= zt_buf_appendf(b,
                             "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                             "# TYPE process_resident_memory_bytes gauge\n"
                             "process_resident_memory_bytes %ld\n",
                             rss);
    struct zt_runner_stats st;
    size_t n_loaded;
    zt__models_stats(s->models, &st, &n_loaded);
    rc |= zt_buf_appendf(b,
                         "# HELP zentalk_models_loaded Models loaded in memory.\n"
                         "# TYPE zentalk_models_loaded gauge\n"
                         "zentalk_models_loaded %zu\n"
                         "# HELP zentalk_prompt_tokens_total Prompt tokens processed.\n"
                         "# TYPE zentalk_prompt_tokens_total counter\n"
                         "zentalk_prompt_tokens_total %llu\n"
                         "# HELP zentalk_generated_tokens_total Tokens generated.\n"
                         "# TYPE zentalk_generated_tokens_total counter\n"
                         "zentalk_generated_tokens_total %llu\n"
                         "# HELP zentalk_inference_jobs_total Generation jobs finished.\n"
                         "# TYPE zentalk_inference_jobs_total counter\n"
                         "zentalk_inference_jobs_total %llu\n"
                         "# HELP zentalk_inference_slots_active Sequences being decoded now.\n"
                         "# TYPE zentalk_inference_slots_active gauge\n"
                         "zentalk_inference_slots_active %u\n"
                         "# HELP zentalk_inference_queue Jobs waiting for a slot.\n"
                         "# TYPE zentalk_inference_queue gauge\n"
                         "zentalk_inference_queue %u\n",
                         n_loaded, (unsigned long long)st.prompt_tokens, (unsigned long long)st.generated_tokens,
                         (unsigned long long)st.jobs_done, st.active_slots, st.queued);
    rc |= zt_buf_append_str(b, "# HELP zentalk_node_auth_total Signed node requests checked, by result.\n"
                               "# TYPE zentalk_node_auth_total counter\n");
    for (int i = 0; i < 6; i++)
        rc |= zt_buf_appendf(b, "zentalk_node_auth_total{result=\"%s\"} %llu\n", node_auth_names[i],
                             (unsigned long long)atomic_load(&s->node_auth[i]));
    struct zt__relay_stats rs;
    zt__relay_stats(s->relay, &rs);
    rc |= zt_buf_appendf(b,
                         "# HELP zentalk_relay_requests_total Relayed requests, by outcome.\n"
                         "# TYPE zentalk_relay_requests_total counter\n"
                         "zentalk_relay_requests_total{outcome=\"forwarded\"} %llu\n"
                         "zentalk_relay_requests_total{outcome=\"failed\"} %llu\n"
                         "zentalk_relay_requests_total{outcome=\"refused\"} %llu\n"
                         "# HELP zentalk_relay_in_flight Relayed requests in progress.\n"
                         "# TYPE zentalk_relay_in_flight gauge\n"
                         "zentalk_relay_in_flight %u\n"
                         "# HELP zentalk_peers Trusted peers in the registry.\n"
                         "# TYPE zentalk_peers gauge\n"
                         "zentalk_peers %zu\n",
                         (unsigned long long)rs.forwarded, (unsigned long long)rs.failed,
                         (unsigned long long)rs.refused, rs.inflight, zt_peers_count(s->peers));
    struct zt__route_stats rts;
    zt__route_stats(s->route, &rts);
    rc |= zt_buf_appendf(b,
                         "# HELP zentalk_jobs_total Completion and chat requests, by where they ran.\n"
                         "# TYPE zentalk_jobs_total counter\n"
                         "zentalk_jobs_total{where=\"local\"} %llu\n"
                         "zentalk_jobs_total{where=\"remote\"} %llu\n"
                         "# HELP zentalk_remote_jobs_failed_total Remote jobs that failed (unreachable, refused, "
                         "unverified).\n"
                         "# TYPE zentalk_remote_jobs_failed_total counter\n"
                         "zentalk_remote_jobs_failed_total %llu\n"
                         "# HELP zentalk_jobs_refused_total Requests kept on this node by the privacy policy "
                         "(local_only) with no local model.\n"
                         "# TYPE zentalk_jobs_refused_total counter\n"
                         "zentalk_jobs_refused_total %llu\n"
                         "# HELP zentalk_remote_jobs_in_flight Remote jobs in progress.\n"
                         "# TYPE zentalk_remote_jobs_in_flight gauge\n"
                         "zentalk_remote_jobs_in_flight %u\n",
                         (unsigned long long)rts.local, (unsigned long long)rts.remote,
                         (unsigned long long)rts.remote_failed, (unsigned long long)rts.refused, rts.inflight);
    rc |= zt__metrics_render_http(&s->metrics, b);
    if (rc) {
        zt_http_resp_error(resp, 500, "internal", "could not render metrics");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void h_status(struct zt_server *s, struct zt_http_req *req, json_t *body,
                     struct zt_http_resp *resp)
{
    (void)req, (void)body;
    json_t *roles = json_array();
    for (int i = 0; i < N_ROLES && roles; i++)
        if (s->cfg->node.role_mask & (1u << i)) json_array_append_new(roles, json_string(role_names[i]));
    char started[ZT_TIME_ISO_LEN];
    zt_time_iso8601(started, sizeof started, s->start_real_ms);
    bool all_ready;
    json_t *readiness = roles_json(s, &all_ready);
    /* models load on first use; no network yet, so no peers */
    json_t *configured = json_array(), *loaded = json_array();
    for (size_t i = 0; i < zt__models_count(s->models) && configured && loaded; i++) {
        bool is_loaded;
        const struct zt_cfg_model *e = zt__models_entry(s->models, i, &is_loaded);
        json_array_append_new(configured, json_string(e->id));
        if (is_loaded) json_array_append_new(loaded, json_string(e->id));
    }
    /* the trusted peers (public: their descriptors are) */
    json_t *peers = json_array();
    size_t np = zt_peers_count(s->peers);
    struct zt_peer *pv = np ? zt_calloc(np, sizeof *pv) : NULL;
    np = pv ? zt_peers_list(s->peers, pv, np) : 0;
    for (size_t i = 0; i < np && peers; i++) json_array_append_new(peers, json_string(pv[i].node_id));
    zt_free(pv);
    json_t *j = json_pack("{s:s,s:s,s:s,s:o*,s:o*,s:b,s:f,s:s,s:s,s:o*,s:o*,s:o*}",
                          "node_id", s->node_id, "version", ZT_VERSION, "commit", ZT_GIT_COMMIT,
                          "roles", roles, "readiness", readiness, "ready",
                          all_ready && !atomic_load(&s->draining), "uptime_seconds", uptime_s(s),
                          "started_at", started, "listen", s->cfg->server.listen, "models", loaded,
                          "models_configured", configured, "peers", peers);
    struct zt__route_stats rts;
    zt__route_stats(s->route, &rts);
    if (j)
        json_object_set_new(j, "jobs",
                            json_pack("{s:I,s:I,s:I,s:I,s:o*}", "local", (json_int_t)rts.local, "remote",
                                      (json_int_t)rts.remote, "remote_failed", (json_int_t)rts.remote_failed,
                                      "refused", (json_int_t)rts.refused, "by_peer", zt__route_peer_counts(s->route)));
    zt_http_resp_json(resp, 200, j);
}

static void h_log_level(struct zt_server *s, struct zt_http_req *req, json_t *body,
                        struct zt_http_resp *resp)
{
    (void)s;
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
               zt_http_req_id(req));
    }
    zt_http_resp_json(resp, 200, json_pack("{s:s}", "level", zt_log_level_name(zt_log_get_level())));
}

static void h_models(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    zt__llm_models(s->models, req, resp);
}

static void h_completions(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    if (zt__route_generate(s->route, req, body, false, resp)) return;
    zt__llm_generate(s->models, req, body, false, resp);
}

static void h_chat(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    if (zt__route_generate(s->route, req, body, true, resp)) return;
    zt__llm_generate(s->models, req, body, true, resp);
}

static void h_embeddings(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__llm_embeddings(s->models, req, body, resp);
}

static void h_admin_status(struct zt_server *s, struct zt_http_req *req, json_t *body,
                           struct zt_http_resp *resp)
{
    (void)req, (void)body;
    struct zt_runner_stats st;
    size_t n_loaded;
    zt__models_stats(s->models, &st, &n_loaded);
    json_t *loaded = json_array();
    for (size_t i = 0; i < zt__models_count(s->models) && loaded; i++) {
        bool is_loaded;
        const struct zt_cfg_model *e = zt__models_entry(s->models, i, &is_loaded);
        if (is_loaded) json_array_append_new(loaded, json_string(e->id));
    }
    const char *secret = s->cfg->encryption.jwt_secret;
    json_t *j = json_pack(
        "{s:s,s:s,s:f,s:I,s:o*,s:{s:I,s:I,s:I,s:i,s:i},s:{s:b,s:b,s:b,s:I,s:I,s:I},s:I}", "node_id",
        s->node_id, "version", ZT_VERSION, "uptime_seconds", uptime_s(s), "started_at_ms",
        (json_int_t)s->start_real_ms, "models_loaded", loaded, "runner", "prompt_tokens",
        (json_int_t)st.prompt_tokens, "generated_tokens", (json_int_t)st.generated_tokens, "jobs_done",
        (json_int_t)st.jobs_done, "active_slots", (int)st.active_slots, "queued", (int)st.queued, "auth",
        "jwt", secret && secret[0], "require_auth", s->cfg->encryption.require_auth,
        "listener_loopback", s->listener_loopback, "rate_limit_rps",
        (json_int_t)s->cfg->server.rate_limit_rps, "rate_limit_burst",
        (json_int_t)s->cfg->server.rate_limit_burst, "rate_limit_identities",
        (json_int_t)zt_ratelimit_size(s->limiter), "requests_in_flight",
        (json_int_t)(s->http ? zt_http_inflight(s->http) : 0));
    zt_http_resp_json(resp, 200, j);
}

static void h_attest(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    zt__attest_handle(s->attest, req, resp);
}

static void h_wallet_nonce(struct zt_server *s, struct zt_http_req *req, json_t *body,
                           struct zt_http_resp *resp)
{
    zt__wallet_h_nonce(s->wallet, req, body, resp);
}

static void h_wallet_login(struct zt_server *s, struct zt_http_req *req, json_t *body,
                           struct zt_http_resp *resp)
{
    zt__wallet_h_login(s->wallet, req, body, resp);
}

static void h_logout(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    zt__wallet_h_logout(s->wallet, req, resp);
}

static void h_feat_spam(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__feat_spam_h(s->feat_spam, req, body, resp);
}

static void h_feat_entities(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__feat_entities_h(s->feat_spam, req, body, resp);
}

static void h_feat_preprocess(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__feat_preprocess_h(s->feat_spam, req, body, resp);
}

static void h_relay(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    zt__relay_handle(s->relay, req, resp);
}

static void h_translate(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__tr_h_translate(s->translate, req, body, resp);
}

static void h_translate_languages(struct zt_server *s, struct zt_http_req *req, json_t *body,
                                  struct zt_http_resp *resp)
{
    (void)body;
    zt__tr_h_languages(s->translate, req, resp);
}

static void h_ws(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    zt__ws_h_upgrade(s->ws, req, resp);
}

static void h_privacy_pii(struct zt_server *s, struct zt_http_req *req, json_t *body,
                          struct zt_http_resp *resp)
{
    zt__privacy_h_pii(s->privacy, req, body, resp);
}

static void h_descriptor(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    zt__sealed_descriptor(s->sealed, s->endpoint, req, resp);
}

static void h_sealed_job(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    zt__sealed_job(s->sealed, req, resp);
}

/* The caller authorize() admitted, for handlers that act on behalf of an
 * identity (search). Set on the thread that runs the handler. */
static _Thread_local struct zt_auth_principal tl_caller;

static void h_search_index(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)req;
    zt__feat_search_handle(s->search, ZT__SEARCH_INDEX, &tl_caller, body, resp);
}

static void h_search_query(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)req;
    zt__feat_search_handle(s->search, ZT__SEARCH_QUERY, &tl_caller, body, resp);
}

static void h_search_delete(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)req;
    zt__feat_search_handle(s->search, ZT__SEARCH_DELETE, &tl_caller, body, resp);
}

static void h_categorize(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    (void)req;
    zt__feat_categorize_handle(s->search, body, resp);
}

static void h_feat_intents(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__feat_h_intents(s->conv, req, body, resp);
}

static void h_feat_replies(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__feat_h_replies(s->conv, req, body, resp);
}

static void h_feat_summarize(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__feat_h_summarize(s->conv, req, body, resp);
}

static void h_sentiment(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__lexfeat_h_sentiment(s->lexfeat, req, body, resp);
}

static void h_moderate(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__lexfeat_h_moderate(s->lexfeat, req, body, resp);
}

static void h_language(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__lexfeat_h_language(s->lexfeat, req, body, resp);
}

static void h_privacy_export(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__gdpr_h_export(s->gdpr, req, &tl_caller, body, resp);
}

static void h_privacy_erase(struct zt_server *s, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    zt__gdpr_h_erase(s->gdpr, req, &tl_caller, body, resp);
}

static const struct route routes[] = {
    {"/healthz", M_GET, 0, ZT_AUTH_NONE, h_healthz},
    {"/readyz", M_GET, 0, ZT_AUTH_NONE, h_readyz},
    {"/metrics", M_GET, 0, ZT_AUTH_NONE, h_metrics},
    {"/v1/status", M_GET, 0, ZT_AUTH_NONE, h_status},
    {"/v1/admin/log-level", M_GET | M_PUT, M_PUT, ZT_AUTH_ADMIN, h_log_level},
    {"/v1/admin/status", M_GET, 0, ZT_AUTH_ADMIN, h_admin_status},
    {"/v1/models", M_GET, 0, ZT_AUTH_USER, h_models},
    {"/v1/completions", M_POST, M_POST, ZT_AUTH_USER, h_completions},
    {"/v1/chat/completions", M_POST, M_POST, ZT_AUTH_USER, h_chat},
    {"/v1/embeddings", M_POST, M_POST, ZT_AUTH_USER, h_embeddings},
    {"/v1/attestation/report", M_GET, 0, ZT_AUTH_NONE, h_attest},
    {"/v1/auth/wallet/nonce", M_POST, M_POST, ZT_AUTH_NONE, h_wallet_nonce},
    {"/v1/auth/wallet/login", M_POST, M_POST, ZT_AUTH_NONE, h_wallet_login},
    {"/v1/auth/logout", M_POST, 0, ZT_AUTH_NONE, h_logout},
    {"/v1/features/spam", M_POST, M_POST, ZT_AUTH_USER, h_feat_spam},
    {"/v1/features/entities", M_POST, M_POST, ZT_AUTH_USER, h_feat_entities},
    {"/v1/features/preprocess", M_POST, M_POST, ZT_AUTH_USER, h_feat_preprocess},
    {"/v1/relay/jobs", M_POST, 0, ZT_AUTH_USER, h_relay},
    {"/v1/features/translate", M_POST, M_POST, ZT_AUTH_USER, h_translate},
    {"/v1/features/translate/languages", M_GET, 0, ZT_AUTH_USER, h_translate_languages},
    {"/v1/ws", M_GET, 0, ZT_AUTH_USER, h_ws},
    {"/v1/privacy/pii", M_POST, M_POST, ZT_AUTH_USER, h_privacy_pii},
    {"/v1/node/descriptor", M_GET, 0, ZT_AUTH_NONE, h_descriptor},
    {"/v1/jobs/sealed", M_POST, M_POST | BODY_ENVELOPE, ZT_AUTH_USER, h_sealed_job},
    {"/v1/search/index", M_POST, M_POST, ZT_AUTH_USER, h_search_index},
    {"/v1/search/query", M_POST, M_POST, ZT_AUTH_USER, h_search_query},
    {"/v1/search/delete", M_POST, M_POST, ZT_AUTH_USER, h_search_delete},
    {"/v1/features/categorize", M_POST, M_POST, ZT_AUTH_USER, h_categorize},
    {"/v1/features/intents", M_POST, M_POST, ZT_AUTH_USER, h_feat_intents},
    {"/v1/features/smart-replies", M_POST, M_POST, ZT_AUTH_USER, h_feat_replies},
    {"/v1/features/summarize", M_POST, M_POST, ZT_AUTH_USER, h_feat_summarize},
    {"/v1/features/sentiment", M_POST, M_POST, ZT_AUTH_USER, h_sentiment},
    {"/v1/features/moderate", M_POST, M_POST, ZT_AUTH_USER, h_moderate},
    {"/v1/features/language", M_POST, M_POST, ZT_AUTH_USER, h_language},
    {"/v1/privacy/export", M_POST, M_POST, ZT_AUTH_USER, h_privacy_export},
    {"/v1/privacy/erase", M_POST, M_POST, ZT_AUTH_USER, h_privacy_erase},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])
/* every route, and "unmatched", has its own metrics */
_Static_assert(N_ROUTES + 1 <= ZT__METRICS_MAX_ROUTES, "raise ZT__METRICS_MAX_ROUTES (metrics.h)");

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
    if (!rc && !s->identity) {
        rc = ZT_EINVAL;
        why = "this node has no identity to check node signatures against";
    } else if (!rc) {
        size_t len;
        const char *body = zt_http_req_body(req, &len);
        rc = zt_nodeauth_verify(s->nodeauth, s->peers, zt_identity_id(s->identity), zt_http_req_method(req),
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
    const struct zt_cfg_encryption *enc = &s->cfg->encryption;
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
    memset(&tl_caller, 0, sizeof tl_caller);
    if (r->min_role == ZT_AUTH_NONE) return true;
    if (!node && gate_peer_only(s, route_gate(r->path))) {
        zt_http_resp_error(resp, 401, "unauthorized",
                           "this route accepts only requests signed by a registered peer node");
        return false;
    }
    const struct zt_cfg_encryption *enc = &s->cfg->encryption;
    bool has_key = (enc->jwt_secret && enc->jwt_secret[0]) || s->auth_keys.rsa_pem || s->auth_keys.has_ed25519;
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
            rc = zt_auth_verify_keys(&s->auth_keys, s->cfg->integration.jwt_issuer,
                                      s->cfg->integration.jwt_audience, tok, len,
                                      zt_time_real_ms() / 1000, p, &why);
            if (rc == ZT_EINVAL) { /* no algorithm of the token's kind is keyed */
                rc = ZT_ECRYPTO;
                why = "algorithm not accepted (see encryption.jwt_algorithms)";
            }
        } else if (zt__wallet_parse_bearer(hdr, &tok, &len) == 0) { /* not a JWT: a session? */
            rc = zt__wallet_session(s->wallet, tok, len, zt_time_real_ms() / 1000, p);
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
        if (!zt_ratelimit_take(s->limiter, p->identity, zt_time_mono_ns(), &retry)) {
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
    tl_caller = *p;
    return true;
}

static void dispatch(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    struct zt_server *s = ud;
    const char *path = zt_http_req_path(req);
    const struct route *r = NULL;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (strcmp(routes[i].path, path) == 0) {
            r = &routes[i];
            break;
        }
    }
    zt_http_req_set_route(req, r ? r->path : UNMATCHED);
    struct zt_auth_principal node_p;
    int nc = node_caller(s, req, resp, &node_p);
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
    struct zt_auth_principal who;
    memset(&who, 0, sizeof who);
    json_t *body = NULL;
    if (!authorize(s, req, r, nc > 0 ? &node_p : NULL, resp, &who)) goto audit;
    if ((r->body & m) && (r->body & BODY_ENVELOPE)) {
        if (!media_is(zt_http_req_header(req, "Content-Type"), ZT_SEALED_MEDIA_ENVELOPE)) {
            zt_http_resp_error(resp, 415, "unsupported_media_type",
                               "Content-Type must be " ZT_SEALED_MEDIA_ENVELOPE);
            goto audit;
        }
    } else if (r->body & m) {
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
    r->fn(s, req, body, resp);
    json_decref(body);
audit:
    /* Authenticated routes leave an audit entry (never content). For a
     * response produced later (inference), the status is the handler's at
     * return: 200 = accepted. */
    zt__privacy_audit(s->privacy, req, r->min_role >= ZT_AUTH_USER, r->path, who.identity,
                      zt_auth_role_name(who.role), resp->status);
}

static void observe(void *ud, const char *route, const char *method, int status, uint64_t dur_ns)
{
    (void)method;
    struct zt_server *s = ud;
    zt__metrics_observe(&s->metrics, route, UNMATCHED, status, dur_ns);
}

/* ---- lifecycle ---------------------------------------------------------- */

int zt_server_new(const struct zt_config *cfg, const char *node_id, struct zt_server **out)
{
    struct zt_server *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    s->cfg = cfg;
    s->node_id = node_id;
    s->start_mono_ns = zt_time_mono_ns();
    s->start_real_ms = zt_time_real_ms();
    for (int i = 0; i < N_ROLES; i++) {
        pthread_mutex_init(&s->roles[i].mu, NULL);
        zt_strlcpy(s->roles[i].detail, "starting", sizeof s->roles[i].detail);
    }
    char host[256];
    uint16_t port;
    if (zt_str_split_hostport(cfg->server.listen, host, sizeof host, &port) == 0)
        s->listener_loopback = zt_str_eq(host, "localhost") || zt_str_eq(host, "::1") ||
                               zt_str_starts_with(host, "127.");
    /* On failure zt_server_free() releases whatever was created (every
     * member it frees accepts NULL). One line per subsystem. */
    int rc = ZT_ENOMEM;
    if (zt_ratelimit_new((double)cfg->server.rate_limit_rps, (double)cfg->server.rate_limit_burst,
                          RATE_LIMIT_KEYS, &s->limiter) != 0)
        goto fail;
    if (zt__wallet_new(cfg->server.session_ttl_s > 0 ? cfg->server.session_ttl_s : 86400, &s->wallet) != 0)
        goto fail;
    struct zt_buf perr;
    zt_buf_init(&perr, 4096);
    if (zt__privacy_new(cfg, &s->privacy, &perr) != 0) {
        zt_log(ZT_LOG_ERROR, "privacy_config_invalid", "reason=\"%s\"", zt_buf_str(&perr));
        zt_buf_deinit(&perr);
        rc = ZT_ECONFIG;
        goto fail;
    }
    zt_buf_deinit(&perr);
    if (zt__lexfeat_new(cfg, &s->lexfeat) != 0) goto fail;
    if (zt__models_new(cfg, &s->models) != 0) goto fail;
    if (zt__feat_spam_new(cfg, &s->feat_spam) != 0) goto fail;
    if (zt_peers_new(&s->peers) != 0) goto fail;
    if (zt_nodeauth_verifier_new(0, &s->nodeauth) != 0) goto fail;
    if (zt__relay_new(s->peers, (unsigned)cfg->server.relay_timeout_s,
                      (unsigned)cfg->server.relay_max_inflight, &s->relay) != 0)
        goto fail;
    if ((rc = zt__route_new(cfg, s->models, s->peers, s->privacy, &s->route)) != 0) goto fail;
    rc = ZT_ENOMEM;
    zt_auth_keys_init(&s->auth_keys);
    s->auth_keys.hs_secret = cfg->encryption.jwt_secret;
    for (size_t i = 0; i < cfg->encryption.jwt_algorithms.count; i++) {
        unsigned bit = 0;
        if (zt_auth_alg_parse(cfg->encryption.jwt_algorithms.items[i], &bit) == 0) s->auth_keys.algs |= bit;
    }
    if (zt__tr_new(cfg, &s->translate) != 0) goto fail;
    if (zt__ws_new(cfg, &s->ws) != 0) goto fail;
    struct zt_annotator tr_ann = {.name = "translation", .annotate = zt__tr_annotate, .ud = s->translate};
    if (zt__ws_add_annotator(s->ws, &tr_ann) != 0) goto fail;
    if (zt__feat_search_new(cfg, &s->search) != 0) goto fail;
    if ((rc = zt__feat_conv_new(cfg, s->models, &s->conv)) != 0) goto fail;
    if ((rc = zt__wiring_new(cfg, s->lexfeat, s->feat_spam, s->conv, s->translate, s->ws, &s->wiring)) != 0)
        goto fail;
    zt_log(ZT_LOG_INFO, "features_wired", "wired=%s", zt__wiring_summary(s->wiring));
    if (zt__gdpr_new(cfg, node_id, s->privacy, s->search, s->wallet, &s->gdpr) != 0) goto fail;
    for (size_t i = 0; i < N_ROUTES; i++) zt_ignore(zt__metrics_add_route(&s->metrics, routes[i].path));
    zt_ignore(zt__metrics_add_route(&s->metrics, UNMATCHED));
    *out = s;
    return 0;
fail:
    zt_server_free(s);
    return rc;
}

int zt_server_start(struct zt_server *s)
{
    char host[256];
    uint16_t port;
    int rc = zt_str_split_hostport(s->cfg->server.listen, host, sizeof host, &port);
    if (rc) return ZT_EINVAL;
    bool v6 = strchr(host, ':') != NULL;
    struct zt_http_opts o = {
        .host = host,
        .port = port,
        .threads = (unsigned)s->cfg->server.threads,
        .max_connections = (unsigned)s->cfg->server.max_connections,
        .max_header_bytes = (size_t)s->cfg->server.max_header_bytes,
        .max_body_bytes = (size_t)s->cfg->server.max_body_bytes,
        .timeout_s = (unsigned)s->cfg->server.request_timeout_s,
        .handler = dispatch,
        .observer = observe,
        .ud = s,
        .tls_cert_pem = s->tls_cert,
        .tls_key_pem = s->tls_key,
    };
    rc = zt_http_start(&o, &s->http);
    if (rc == 0) rc = zt__gdpr_start(s->gdpr); /* retention sweeper: identity and audit log are set by now */
    if (rc == 0 && s->cfg->node.endpoint && s->cfg->node.endpoint[0]) {
        zt_strlcpy(s->endpoint, s->cfg->node.endpoint, sizeof s->endpoint);
    } else if (rc == 0) {
        bool any = zt_str_eq(host, "0.0.0.0") || zt_str_eq(host, "::") || !host[0];
        snprintf(s->endpoint, sizeof s->endpoint, "%s://%s%s%s:%u", s->tls_cert ? "https" : "http", v6 ? "[" : "",
                 any ? "127.0.0.1" : host, v6 ? "]" : "", (unsigned)zt_http_port(s->http));
        if (any)
            zt_log(ZT_LOG_WARN, "endpoint_guessed",
                   "endpoint=%s detail=\"listening on all addresses: set node.endpoint to the URL peers should use\"",
                   s->endpoint);
    }
    return rc;
}

uint16_t zt_server_port(const struct zt_server *s)
{
    return s->http ? zt_http_port(s->http) : 0;
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
    return s->http ? zt_http_inflight(s->http) : 0;
}

int zt_server_drain(struct zt_server *s, uint64_t timeout_ms)
{
    atomic_store(&s->draining, true);
    if (!s->http) return 0;
    zt_http_quiesce(s->http);
    zt__ws_close_all(s->ws); /* WebSockets get a 1001 close now */
    uint64_t deadline = zt_time_mono_ms() + timeout_ms;
    while (zt_http_inflight(s->http) > 0) {
        if (zt_time_mono_ms() >= deadline) return ZT_ETIMEDOUT;
        zt_time_sleep_ms(10);
    }
    return 0;
}

int zt_server_open_audit(struct zt_server *s, const struct zt_identity *id, struct zt_buf *err)
{
    return zt__privacy_open_audit(s->privacy, id, err);
}

int zt_server_set_identity(struct zt_server *s, const struct zt_identity *id)
{
    if (s->attest) return ZT_EINVAL;
    s->identity = id;
    zt__relay_set_identity(s->relay, id);
    zt__route_set_identity(s->route, id);
    int rc = zt__feat_search_set_identity(s->search, id);
    if (rc) return rc;
    rc = zt__sealed_new(id, s->models, s->cfg, &s->sealed);
    if (rc) return rc;
    rc = zt__attest_new(id, s->models, &s->attest);
    if (rc) {
        zt__sealed_free(s->sealed);
        s->sealed = NULL;
    }
    return rc;
}

#define TLS_FILE_MAX ((size_t)1 << 20)

/* Read a whole PEM file into *out (sodium_malloc'd when secret). */
static int read_pem(const char *path, bool secret, char **out, size_t *size, struct zt_buf *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        zt_ignore(zt_buf_appendf(err, "%s: %s", path, strerror(errno)));
        return ZT_EIO;
    }
    char *buf = secret ? sodium_malloc(TLS_FILE_MAX + 1) : zt_malloc(TLS_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return ZT_ENOMEM;
    }
    size_t n = fread(buf, 1, TLS_FILE_MAX + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || n > TLS_FILE_MAX || n == 0) {
        zt_ignore(zt_buf_appendf(err, "%s: %s", path, bad ? "read error" : n ? "larger than 1 MiB" : "empty file"));
        if (secret) sodium_free(buf);
        else zt_free(buf);
        return bad ? ZT_EIO : ZT_ETOOBIG;
    }
    buf[n] = '\0';
    *out = buf;
    *size = TLS_FILE_MAX + 1;
    return 0;
}

int zt_server_set_tls(struct zt_server *s, const char *cert_path, const char *key_path, struct zt_buf *err)
{
    char *cert = NULL, *key = NULL;
    size_t csz = 0, ksz = 0;
    int rc = read_pem(cert_path, false, &cert, &csz, err);
    if (!rc) rc = read_pem(key_path, true, &key, &ksz, err);
    char why[160] = "";
    if (!rc) {
        rc = zt_http_tls_check(cert, key, why, sizeof why);
        if (rc) zt_ignore(zt_buf_appendf(err, "%s / %s: %s", cert_path, key_path, why));
    }
    if (rc) {
        zt_free(cert);
        if (key) sodium_free(key);
        return rc;
    }
    zt_free(s->tls_cert);
    if (s->tls_key) sodium_free(s->tls_key);
    s->tls_cert = cert;
    s->tls_key = key;
    s->tls_key_size = ksz;
    return 0;
}

int zt_server_load_jwt_key(struct zt_server *s, const char *path, struct zt_buf *err)
{
    char buf[ZT_AUTH_PEM_MAX + 1];
    FILE *f = fopen(path, "rb");
    if (!f) {
        zt_ignore(zt_buf_appendf(err, "%s: %s", path, strerror(errno)));
        return ZT_EIO;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) {
        zt_ignore(zt_buf_appendf(err, "%s: read error", path));
        return ZT_EIO;
    }
    if (n > ZT_AUTH_PEM_MAX) {
        zt_ignore(zt_buf_appendf(err, "%s: larger than %d bytes", path, ZT_AUTH_PEM_MAX));
        return ZT_ETOOBIG;
    }
    const char *why = "";
    int rc = zt_auth_keys_set_pem(&s->auth_keys, buf, n, &why);
    if (rc) {
        zt_ignore(zt_buf_appendf(err, "%s: %s", path, why));
        return rc;
    }
    bool rsa = s->auth_keys.rsa_pem != NULL;
    unsigned need = rsa ? ZT_AUTH_ALG_RS256 : ZT_AUTH_ALG_EDDSA;
    if (!(s->auth_keys.algs & need)) {
        zt_ignore(zt_buf_appendf(err, "%s: an %s key, but encryption.jwt_algorithms does not list %s", path,
                                 rsa ? "RSA" : "Ed25519", rsa ? "RS256" : "EdDSA"));
        return ZT_ECONFIG;
    }
    zt_log(ZT_LOG_INFO, "jwt_public_key_loaded", "file=%s alg=%s", path, rsa ? "RS256" : "EdDSA");
    return 0;
}

int zt_server_set_relay_ca(struct zt_server *s, const char *path)
{
    return zt__relay_set_ca_file(s->relay, path);
}

int zt_server_load_peers(struct zt_server *s, const char *path, struct zt_buf *err)
{
    size_t kept = 0, dropped = 0;
    int rc = zt_peers_load_file(s->peers, path, zt_time_real_ms() / 1000, &kept, &dropped, err);
    if (rc == ZT_ENOTFOUND) {
        zt_log(ZT_LOG_INFO, "peers_loaded", "file=%s peers=0 detail=\"no peers file: no trusted peers\"", path);
        return 0;
    }
    if (rc) return rc;
    zt_log(dropped ? ZT_LOG_WARN : ZT_LOG_INFO, "peers_loaded", "file=%s peers=%zu dropped=%zu", path, kept,
           dropped);
    return 0;
}

int zt_server_add_annotator(struct zt_server *s, const struct zt_annotator *a)
{
    return zt__ws_add_annotator(s->ws, a);
}

struct zt_translate *zt_server_translate(struct zt_server *s)
{
    return zt__tr_engine(s->translate);
}

void zt_server_free(struct zt_server *s)
{
    if (!s) return;
    zt__gdpr_free(s->gdpr); /* stops the sweeper before what it sweeps goes */
    /* End inference first: every job answers (an error for those cut
     * short), the connections it resumes get a moment to flush, and only
     * then does the HTTP server close what is left. */
    zt__models_shutdown(s->models);
    zt__relay_shutdown(s->relay, 5000);
    zt__route_shutdown(s->route, 5000);
    for (int i = 0; i < 200 && s->http && zt_http_inflight(s->http) > 0; i++) zt_time_sleep_ms(10);
    zt__ws_free(s->ws); /* closes (1001) and ends upgraded connections before the daemon stops */
    zt_http_stop(s->http);
    zt__relay_free(s->relay);
    zt__route_free(s->route);
    zt_nodeauth_verifier_free(s->nodeauth);
    zt_peers_free(s->peers);
    zt_auth_keys_deinit(&s->auth_keys);
    zt_free(s->tls_cert);
    if (s->tls_key) sodium_free(s->tls_key);
    zt__tr_free(s->translate); /* after the last request that could use a pipeline */
    zt__attest_free(s->attest);
    zt__sealed_free(s->sealed);
    zt__feat_conv_free(s->conv); /* after zt__models_shutdown(): no job callback runs any more */
    zt__models_free(s->models);
    zt__feat_spam_free(s->feat_spam);
    zt__feat_search_free(s->search);
    zt_ratelimit_free(s->limiter);
    zt__wallet_free(s->wallet);
    zt__privacy_free(s->privacy); /* final audit checkpoint */
    zt__lexfeat_free(s->lexfeat);
    zt__wiring_free(s->wiring); /* after every feature that calls into it */
    for (int i = 0; i < N_ROLES; i++) pthread_mutex_destroy(&s->roles[i].mu);
    zt_free(s);
}
