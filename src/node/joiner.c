/* joiner.c: a worker joins its orchestrators (joiner.h). One thread serves
 * every URL of node.join in turn: few orchestrators, one small request
 * each per beat. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "joiner.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define DESC_TTL_S 3600          /* the worker's own descriptor in a join record */
#define RETRY_MS 2000            /* a failed join is retried this soon (at most the beat) */
#define CALL_TIMEOUT_MS 5000L
#define LEAVE_TIMEOUT_MS 2000L
#define RELAY_THREADS_MAX 64     /* relayed requests run at once (node.outbound) */
#define RELAY_HEADERS_MAX 10
#define RELAY_TIMEOUT_MS 600000L /* one relayed request, whole */
#define RESULT_TIMEOUT_MS 10000L /* one piece of its answer */
/* a long-poll is held at most this long (and a beat): the drain heartbeat
 * of a stopping worker waits for the poll in progress at most this long */
#define POLL_HOLD_MS 2000

struct orch {
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + 1]; /* no trailing '/' */
    char aud[ZT_IDENTITY_ID_SIZE];            /* its node id, from its descriptor ("" = not fetched) */
    char pin[ZT_IDENTITY_ID_SIZE];            /* URL#zt1...: the id it must have ("" = any) */
    int64_t desc_expires, desc_fetched;       /* unix s */
    uint64_t seq;
    bool joined;
    int64_t next_ms;                          /* mono: next join attempt or heartbeat */
    char *desc;                               /* its verified descriptor (zt_malloc'd) */
    char *gw_answer;                          /* the "gateways" it vouched for last, as sent */
    json_t *gws;                              /* those that verified (descriptor texts) */
};

struct zt__joiner {
    const struct zt_config *cfg;
    const struct zt_identity *id;
    struct zt_infer *models;
    zt__joiner_trust_fn trust;
    void *trust_ud;
    zt__joiner_models_fn models_fn; /* the join answer's mesh_models */
    void *models_ud;
    struct zt_http_client *http;
    char endpoint[ZT_DESCRIPTOR_MAX_ENDPOINT + 1];
    uint8_t boot[ZT_REG_BOOT_LEN]; /* random per process start */
    struct orch *o;
    size_t n;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool draining, beat_now;  /* zt__joiner_drain: report every slot busy, at once */
    bool rejoin;              /* zt__joiner_refresh: join again with the new descriptor */
    bool drain_sent;          /* that heartbeat went out */
    long leave_timeout_ms; /* set by zt__joiner_stop */
    /* node.outbound: reached through a long-poll to the first orchestrator */
    bool outbound;
    char local[ZT_DESCRIPTOR_MAX_ENDPOINT + 1]; /* this node's own listener, where relayed requests run */
    struct zt_http_client *relay_http, *result_http;
    struct zt_http_client *poll_http; /* the long-poll alone */
    size_t relay_active; /* relay threads running (under mu) */
    size_t creport_active;   /* check-report threads running (under mu) */
    uint64_t creport_dropped; /* check reports not sent: threads busy and the queue full (under mu) */
    struct creport *cq_head, *cq_tail; /* reports waiting for a report thread (under mu) */
    size_t cq_len;
};

/* URL[#NODE_ID] into o; the URL must be http(s)://host[:port]. */
static int parse_join_url(const char *text, struct orch *o, struct zt_buf *err)
{
    const char *hash = strchr(text, '#');
    size_t ul = hash ? (size_t)(hash - text) : strlen(text);
    if (ul >= sizeof o->url) {
        zt_ignore(zt_buf_appendf(err, "node.join %s: URL too long", text));
        return ZT_ECONFIG;
    }
    memcpy(o->url, text, ul);
    o->url[ul] = '\0';
    while (ul > 0 && o->url[ul - 1] == '/') o->url[--ul] = '\0';
    const char *why = zt_peers_endpoint_problem(o->url);
    if (!why && hash && !zt_identity_id_valid(hash + 1)) why = "the part after '#' is not a node id (zt1...)";
    if (why) {
        zt_ignore(zt_buf_appendf(err, "node.join %s: %s", text, why));
        return ZT_ECONFIG;
    }
    if (hash) zt_strlcpy(o->pin, hash + 1, sizeof o->pin);
    return 0;
}

int zt__joiner_check(const struct zt_config *cfg, struct zt_buf *err)
{
    if (cfg->node.outbound && !cfg->node.join.count) {
        zt_ignore(zt_buf_appendf(err, "node.outbound (--outbound) needs an orchestrator to poll: node.join (--join)\n"));
        return ZT_ECONFIG;
    }
    if (cfg->node.join.count && !(cfg->node.role_mask & ZT_ROLE_WORKER)) {
        zt_ignore(zt_buf_appendf(err, "node.join (--join) needs the worker role (node.roles, --roles)\n"));
        return ZT_ECONFIG;
    }
    int rc = 0;
    for (size_t i = 0; i < cfg->node.join.count; i++) {
        struct orch o;
        memset(&o, 0, sizeof o);
        if (parse_join_url(cfg->node.join.items[i], &o, err) != 0) {
            zt_ignore(zt_buf_appendf(err, "\n"));
            rc = ZT_ECONFIG;
        }
    }
    return rc;
}

int zt__joiner_new(const struct zt_config *cfg, const struct zt_identity *id, struct zt_infer *models,
                   zt__joiner_trust_fn trust, void *trust_ud, struct zt__joiner **out, struct zt_buf *err)
{
    struct zt__joiner *j = zt_calloc(1, sizeof *j);
    if (!j) return ZT_ENOMEM;
    pthread_mutex_init(&j->mu, NULL);
    zt_cond_init_mono(&j->cv);
    j->cfg = cfg;
    j->id = id;
    j->models = models;
    j->trust = trust;
    j->trust_ud = trust_ud;
    j->n = cfg->node.join.count;
    j->o = j->n ? zt_calloc(j->n, sizeof *j->o) : NULL;
    struct zt_http_client_opts ho = {.max_inflight = 4}, rho = {.max_inflight = RELAY_THREADS_MAX};
    j->outbound = cfg->node.outbound && j->n > 0;
    if ((j->n && !j->o) || zt_http_client_new(&ho, &j->http) != 0 ||
        (j->outbound && (zt_http_client_new(&rho, &j->relay_http) != 0 ||
                         zt_http_client_new(&rho, &j->result_http) != 0 ||
                         zt_http_client_new(&ho, &j->poll_http) != 0))) {
        zt__joiner_free(j);
        return ZT_ENOMEM;
    }
    for (size_t i = 0; i < j->n; i++) {
        if (parse_join_url(cfg->node.join.items[i], &j->o[i], err) != 0) {
            zt__joiner_free(j);
            return ZT_ECONFIG;
        }
    }
    randombytes_buf(j->boot, sizeof j->boot);
    *out = j;
    return 0;
}

/* The join answer's "mesh_models": each sha256:<hex> to the hook. */
static void answer_models(struct zt__joiner *j, const json_t *a)
{
    if (!j->models_fn) return;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(a, "mesh_models"), i, v) {
        const char *s = json_string_value(v);
        if (s && zt_str_starts_with(s, "sha256:") && strlen(s) == 71) j->models_fn(j->models_ud, s + 7);
        if (i >= 63) break;
    }
}

void zt__joiner_set_models_hook(struct zt__joiner *j, zt__joiner_models_fn fn, void *ud)
{
    j->models_fn = fn;
    j->models_ud = ud;
}

/* POST rec to URL/v1/orchestrator/<what>; the HTTP status, or 0 when none. */
static long post_record(struct zt__joiner *j, const struct orch *o, const char *what, const char *rec, long timeout,
                        json_t **answer)
{
    if (answer) *answer = NULL;
    char url[sizeof o->url + 40];
    snprintf(url, sizeof url, "%s/v1/orchestrator/%s", o->url, what);
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_json(j->http, url, NULL, rec, timeout, &resp);
    long st = rc ? 0 : resp.status;
    if (st == 200 && (answer || strcmp(what, "join") == 0)) {
        json_t *a = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
        if (strcmp(what, "join") == 0) answer_models(j, a);
        if (answer) *answer = a;
        else json_decref(a);
    }
    if (st != 200 && st != 404)
        zt_log_rl(ZT_LOG_WARN, 30, "orchestrator_call_failed", "url=%s record=%s status=%ld detail=\"%.200s\"", url,
                  what, st, rc ? resp.reason : zt_buf_str(&resp.body));
    zt_http_response_deinit(&resp);
    return st;
}

/* Trust orchestrator i and the gateways it vouches for: one JSON array. */
static int trust_all(struct zt__joiner *j, size_t i)
{
    struct orch *o = &j->o[i];
    json_t *arr = json_array();
    json_t *d = o->desc ? json_loads(o->desc, 0, NULL) : NULL;
    if (!arr || !d || json_array_append_new(arr, d) != 0) {
        json_decref(arr);
        return ZT_ENOMEM;
    }
    size_t k;
    json_t *g;
    json_array_foreach(o->gws, k, g) json_array_append_new(arr, json_loads(json_string_value(g), 0, NULL));
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!text) return ZT_ENOMEM;
    int rc = j->trust(j->trust_ud, i, text, strlen(text));
    zt_free(text); /* jansson allocates with zt_malloc (json_set_alloc_funcs) */
    return rc;
}

/* An answer's "gateways": the gateways (in other processes) orchestrator i
 * places jobs for; those whose descriptor verifies (role gateway, not
 * expired, not this node) are admitted as its own gateway is. */
static void vouch(struct zt__joiner *j, size_t i, json_t *answer)
{
    struct orch *o = &j->o[i];
    json_t *list = json_object_get(answer, "gateways");
    if (!json_is_array(list)) return;
    char *text = json_dumps(list, JSON_COMPACT);
    if (!text || (o->gw_answer && strcmp(text, o->gw_answer) == 0)) {
        zt_free(text);
        return; /* the same as last time */
    }
    json_t *ok = json_array();
    size_t k;
    json_t *g;
    json_array_foreach(list, k, g) {
        const char *t = json_string_value(g);
        struct zt_node_descriptor d;
        memset(&d, 0, sizeof d);
        if (!t || zt_identity_descriptor_verify(t, strlen(t), zt_time_real_ms() / 1000, &d) != 0) continue;
        bool gw = false;
        for (size_t r = 0; r < d.n_roles; r++) gw = gw || strcmp(d.roles[r], "gateway") == 0;
        if (gw && strcmp(d.node_id, zt_identity_id(j->id)) != 0 && ok) json_array_append_new(ok, json_string(t));
        zt_node_descriptor_deinit(&d);
    }
    zt_free(o->gw_answer);
    o->gw_answer = zt_strdup(text);
    zt_free(text);
    json_decref(o->gws);
    o->gws = ok;
    if (trust_all(j, i) == 0 && json_array_size(ok))
        zt_log(ZT_LOG_INFO, "orchestrator_gateways", "url=%s gateways=%zu", o->url, json_array_size(ok));
}

/* GET the orchestrator's descriptor, verify it, trust it. */
static int fetch_descriptor(struct zt__joiner *j, size_t i, int64_t now_s)
{
    struct orch *o = &j->o[i];
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    struct zt_node_descriptor d;
    int rc = zt_http_client_descriptor(j->http, o->url, CALL_TIMEOUT_MS, now_s, &resp, &d);
    if (!rc && strcmp(d.node_id, zt_identity_id(j->id)) == 0) rc = ZT_EINVAL; /* joining itself */
    if (!rc && o->pin[0] && strcmp(d.node_id, o->pin) != 0) {
        zt_log_rl(ZT_LOG_ERROR, 30, "orchestrator_id_mismatch", "url=%s expected=%s got=%s", o->url, o->pin, d.node_id);
        rc = ZT_EPERM; /* not the node the operator named: never trusted */
    }
    if (!rc) {
        char *copy = zt_strndup(zt_buf_str(&resp.body), resp.body.len);
        if (!copy) rc = ZT_ENOMEM;
        else {
            zt_free(o->desc);
            o->desc = copy;
            rc = trust_all(j, i);
        }
    }
    if (!rc) {
        if (o->aud[0] && strcmp(o->aud, d.node_id) != 0)
            zt_log(ZT_LOG_WARN, "orchestrator_changed", "url=%s was=%s now=%s", o->url, o->aud, d.node_id);
        zt_strlcpy(o->aud, d.node_id, sizeof o->aud);
        o->desc_expires = d.expires;
        o->desc_fetched = now_s;
    } else {
        zt_log_rl(ZT_LOG_WARN, 30, "orchestrator_descriptor_failed", "url=%s/v1/node/descriptor status=%ld error=%s",
                  o->url, resp.status, zt_strerror(rc));
    }
    zt_node_descriptor_deinit(&d);
    zt_http_response_deinit(&resp);
    return rc;
}

/* This worker's signed descriptor and capabilities. */
static int own_descriptor(struct zt__joiner *j, int64_t now_s, char **out)
{
    const char *roles[ZT_ROLE_COUNT], *names[ZT_DESCRIPTOR_MAX_MODELS];
    size_t nr = zt_role_list(j->cfg->node.role_mask, roles);
    size_t nm = zt_infer_model_ids(j->models, names, ZT_DESCRIPTOR_MAX_MODELS);
    return zt_identity_descriptor(j->id, roles, nr, names, nm, j->endpoint, now_s + DESC_TTL_S, out);
}

static void caps_of(const struct zt__joiner *j, struct zt_worker_caps *c)
{
    memset(c, 0, sizeof *c);
    /* the build id its jobs' receipts carry: the KV cache type and the
     * precision mode included (verifiers are picked by it) */
    const char *kv = j->cfg->gpu_pool.kv_cache_type, *pr = j->cfg->gpu_pool.precision;
    zt_strlcpy(c->engine,
               zt_engine_build_id_mode(kv && !strcmp(kv, "f16") ? ZT_GGML_F16 : ZT_GGML_F32,
                                       pr && !strcmp(pr, "bf16") ? ZT_PRECISION_BF16 : ZT_PRECISION_EXACT),
               sizeof c->engine);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(c->cpu, sizeof c->cpu, "%ld cpus", cpus > 0 ? cpus : 1);
    /* a GPU backend (gpu_pool.backend), deterministic unless "(fast)" */
    const char *be = j->cfg->gpu_pool.backend;
    if (be && (!strcmp(be, "vulkan") || !strcmp(be, "cuda")))
        snprintf(c->gpu, sizeof c->gpu, "%s%s", be, j->cfg->gpu_pool.deterministic ? "" : " (fast)");
    else
        zt_strlcpy(c->gpu, "none", sizeof c->gpu);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    c->mem_mb = pages > 0 && psz > 0 ? (uint64_t)pages / (1u << 20) * (uint64_t)psz : 0;
    int64_t slots = j->cfg->gpu_pool.max_batch;
    c->slots = (uint32_t)(slots < 1 ? 1 : slots > 64 ? 64 : slots); /* the runner's slots (zt_runner.h) */
    /* its prices per 1000 prompt and completion tokens, in base units
     * (chain.yaml's: the orchestrator settles its jobs at them), and for
     * readers of older builds price_per_1k, the higher of the two (the
     * most a record holds when it does not fit) */
    zt_u128 pp = 0, pc = 0;
    const char *sp = j->cfg->chain.price_prompt_per_1k, *sc = j->cfg->chain.price_completion_per_1k;
    if (sp && sc && zt_u128_parse_tokens(sp, strlen(sp), &pp) == 0 && zt_u128_parse_tokens(sc, strlen(sc), &pc) == 0) {
        zt_u128 hi = pp > pc ? pp : pc;
        c->price_per_1k = hi <= INT64_MAX ? (uint64_t)hi : (uint64_t)INT64_MAX;
        char ds[ZT_U128_STR_LEN];
        zt_u128_format(pp, ds);
        zt_strlcpy(c->price_prompt, ds, sizeof c->price_prompt);
        zt_u128_format(pc, ds);
        zt_strlcpy(c->price_completion, ds, sizeof c->price_completion);
    }
    /* the payout wallet the orchestrator's ledger pays (checked by the config layer) */
    const char *w = j->cfg->chain.wallet_address;
    if (w && strlen(w) == 42) zt_strlcpy(c->wallet, w, sizeof c->wallet);
}

static void join(struct zt__joiner *j, size_t i)
{
    struct orch *o = &j->o[i];
    int64_t now_ms = zt_time_real_ms(), now_s = now_ms / 1000;
    if (fetch_descriptor(j, i, now_s) != 0) return;
    char *desc = NULL, *rec = NULL;
    struct zt_worker_caps caps;
    caps_of(j, &caps);
    int rc = own_descriptor(j, now_s, &desc);
    if (!rc) rc = zt_registry_join_record(j->id, desc, o->aud, j->boot, ++o->seq, now_ms, &caps, &rec);
    if (rc) {
        zt_log_rl(ZT_LOG_ERROR, 30, "join_record_failed", "url=%s error=%s", o->url, zt_strerror(rc));
    } else {
        json_t *answer = NULL;
        long st = post_record(j, o, "join", rec, CALL_TIMEOUT_MS, &answer);
        o->joined = st == 200;
        if (o->joined) vouch(j, i, answer);
        json_decref(answer);
        if (o->joined)
            zt_log(ZT_LOG_INFO, "orchestrator_joined", "url=%s orchestrator=%s slots=%u", o->url, o->aud,
                   (unsigned)caps.slots);
    }
    zt_free(desc);
    zt_free(rec);
}

/* The next signed heartbeat record for orchestrator i (NULL on failure). */
static char *beat_record(struct zt__joiner *j, size_t i)
{
    struct orch *o = &j->o[i];
    int64_t now_ms = zt_time_real_ms();
    /* a descriptor past half its life is refetched (the gateway's keys or endpoint may change) */
    if (o->desc_expires && now_ms / 1000 > o->desc_fetched + (o->desc_expires - o->desc_fetched) / 2)
        zt_ignore(fetch_descriptor(j, i, now_ms / 1000));
    struct zt_runner_stats st;
    size_t n_loaded;
    zt_infer_stats(j->models, &st, &n_loaded);
    struct zt_worker_load load = {.busy = st.active_slots, .queue = st.queued};
    pthread_mutex_lock(&j->mu);
    if (j->draining) { /* stopping: no new work, what runs finishes before the leave */
        struct zt_worker_caps caps;
        caps_of(j, &caps);
        load.busy = caps.slots;
    }
    pthread_mutex_unlock(&j->mu);
    char *rec = NULL;
    if (zt_registry_heartbeat_record(j->id, o->aud, j->boot, ++o->seq, now_ms, &load, &rec) != 0) return NULL;
    return rec;
}

static void rejoin(struct zt__joiner *j, size_t i)
{
    struct orch *o = &j->o[i];
    zt_log(ZT_LOG_INFO, "orchestrator_rejoin", "url=%s orchestrator=%s", o->url, o->aud);
    o->joined = false;
    join(j, i);
}

static void heartbeat(struct zt__joiner *j, size_t i)
{
    char *rec = beat_record(j, i);
    if (!rec) return;
    json_t *answer = NULL;
    long code = post_record(j, &j->o[i], "heartbeat", rec, CALL_TIMEOUT_MS, &answer);
    zt_free(rec);
    if (code == 200) vouch(j, i, answer);
    json_decref(answer);
    pthread_mutex_lock(&j->mu);
    bool draining = j->draining;
    pthread_mutex_unlock(&j->mu);
    if (code == 404 && !draining) rejoin(j, i); /* the session is gone: join again now (not when leaving) */
}

/* ---- node.outbound: requests relayed over the long-poll ---------------------------- */

struct rjob {
    struct zt__joiner *j;
    char id[64];
    char method[16];
    char url[2 * ZT_DESCRIPTOR_MAX_ENDPOINT + 2100];
    char result_url[ZT_DESCRIPTOR_MAX_ENDPOINT + 128];
    char hdr[RELAY_HEADERS_MAX][8200];
    const char *hp[RELAY_HEADERS_MAX + 2];
    uint8_t *body;
    size_t len;
    long status;
    char ctype[128];
    uint32_t seq;
};

/* One piece of the answer to the orchestrator, in order; end: the last. */
static int rj_send(struct rjob *rj, const void *p, size_t n, bool end)
{
    char l_seq[48], l_status[48], l_type[160];
    snprintf(l_seq, sizeof l_seq, "Zentalk-Relay-Seq: %u", (unsigned)rj->seq);
    snprintf(l_status, sizeof l_status, "Zentalk-Relay-Status: %ld", rj->status);
    snprintf(l_type, sizeof l_type, "Zentalk-Relay-Type: %s", rj->ctype);
    const char *h[] = {l_seq, l_status, l_type, end ? "Zentalk-Relay-End: 1" : NULL, NULL};
    struct zt_http_request req = {.method = "POST", .url = rj->result_url, .headers = h, .body = n ? p : "",
                                  .body_len = n, .content_type = "application/octet-stream",
                                  .timeout_ms = RESULT_TIMEOUT_MS};
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_do(rj->j->result_http, &req, &resp);
    long st = rc ? 0 : resp.status;
    zt_http_response_deinit(&resp);
    rj->seq++;
    return st == 200 ? 0 : ZT_ECLOSED; /* the gateway went, or the orchestrator: stop */
}

static int rj_head(void *ud, long status, const char *content_type, int64_t content_length)
{
    (void)content_length;
    struct rjob *rj = ud;
    rj->status = status;
    zt_strlcpy(rj->ctype, content_type && content_type[0] ? content_type : "application/octet-stream",
               sizeof rj->ctype);
    return 0;
}

static int rj_body(void *ud, const void *data, size_t n)
{
    return n ? rj_send(ud, data, n, false) : 0;
}

static void *relay_main(void *arg)
{
    struct rjob *rj = arg;
    struct zt__joiner *j = rj->j;
    struct zt_http_request req = {.method = rj->method, .url = rj->url, .headers = rj->hp, .body = rj->body,
                                  .body_len = rj->len, .timeout_ms = RELAY_TIMEOUT_MS, .low_speed_bps = -1,
                                  .max_body_bytes = SIZE_MAX, .on_head = rj_head, .on_body = rj_body, .ud = rj};
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_do(j->relay_http, &req, &resp);
    if (rc != ZT_ECLOSED) {
        if (!rj->status) { /* our own listener did not answer */
            rj->status = 502;
            zt_strlcpy(rj->ctype, "application/json", sizeof rj->ctype);
            static const char err[] = "{\"error\":{\"code\":\"worker_failed\",\"message\":\"no answer\"}}";
            zt_ignore(rj_send(rj, err, sizeof err - 1, true));
        } else {
            zt_ignore(rj_send(rj, NULL, 0, true));
        }
    }
    if (rc && rc != ZT_ECLOSED)
        zt_log_rl(ZT_LOG_WARN, 10, "relay_request_failed", "relay=%s error=%s", rj->id, zt_strerror(rc));
    zt_http_response_deinit(&resp);
    zt_free(rj->body);
    zt_free(rj);
    zt_count_down(&j->mu, &j->cv, &j->relay_active);
    return NULL;
}

/* Run fn(arg) on a detached thread counted in *active, at most max at once
 * (a stop waits for them); false when there is no room (max, stopping) or
 * no thread: then fn does not run. */
static bool start_counted(struct zt__joiner *j, void *(*fn)(void *), void *arg, size_t *active, size_t max)
{
    pthread_mutex_lock(&j->mu);
    bool room = *active < max && !j->stop;
    if (room) (*active)++;
    pthread_mutex_unlock(&j->mu);
    pthread_t t;
    pthread_attr_t at;
    bool started = false;
    if (room && pthread_attr_init(&at) == 0) {
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&t, &at, fn, arg) == 0;
        pthread_attr_destroy(&at);
    }
    if (!started && room) zt_count_down(&j->mu, &j->cv, active); /* wakes a stop waiting for 0 too */
    return started;
}

/* One request of a poll's answer: run it on a thread of its own. */
static void relay_start(struct zt__joiner *j, const struct orch *o, json_t *r)
{
    const char *id = json_string_value(json_object_get(r, "id"));
    const char *method = json_string_value(json_object_get(r, "method"));
    const char *target = json_string_value(json_object_get(r, "target"));
    const char *b64 = json_string_value(json_object_get(r, "body"));
    json_t *hs = json_object_get(r, "headers");
    struct rjob *rj = zt_calloc(1, sizeof *rj);
    if (!rj) return;
    rj->j = j;
    bool ok = id && method && target && b64 && target[0] == '/' && json_is_array(hs) &&
              json_array_size(hs) <= RELAY_HEADERS_MAX && strlen(id) < sizeof rj->id &&
              strlen(method) < sizeof rj->method &&
              (size_t)snprintf(rj->url, sizeof rj->url, "%s%s", j->local, target) < sizeof rj->url &&
              (size_t)snprintf(rj->result_url, sizeof rj->result_url, "%s/v1/orchestrator/relay-result/%s", o->url,
                               id) < sizeof rj->result_url;
    size_t n = 0;
    for (size_t i = 0; ok && i < json_array_size(hs); i++) {
        const char *h = json_string_value(json_array_get(hs, i));
        ok = h && strlen(h) < sizeof rj->hdr[0] && !strpbrk(h, "\r\n");
        if (ok) {
            zt_strlcpy(rj->hdr[n], h, sizeof rj->hdr[n]);
            rj->hp[n] = rj->hdr[n];
            n++;
        }
    }
    rj->hp[n++] = "Expect:";
    rj->hp[n] = NULL;
    size_t bl = b64 ? strlen(b64) : 0;
    if (ok && bl) {
        rj->body = zt_malloc(bl);
        ok = rj->body && sodium_base642bin(rj->body, bl, b64, bl, NULL, &rj->len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL) == 0;
    }
    if (ok) {
        zt_strlcpy(rj->id, id, sizeof rj->id);
        zt_strlcpy(rj->method, method, sizeof rj->method);
    }
    if (ok && start_counted(j, relay_main, rj, &j->relay_active, RELAY_THREADS_MAX)) return;
    zt_log_rl(ZT_LOG_WARN, 10, "relay_request_refused", "reason=%s", ok ? "busy" : "malformed");
    if (ok) { /* the gateway hears it at once rather than at its stall deadline */
        rj->status = 503;
        zt_strlcpy(rj->ctype, "application/json", sizeof rj->ctype);
        static const char err[] = "{\"error\":{\"code\":\"overloaded\",\"message\":\"worker busy\"}}";
        zt_ignore(rj_send(rj, err, sizeof err - 1, true));
    }
    zt_free(rj->body);
    zt_free(rj);
}

/* ---- a check's signed answer, reported to the orchestrators ---------------------- */

#define CHECK_REPORT_TIMEOUT_MS 3000L
/* report threads at once, counted apart from the relay's (a report never
 * takes a relayed request's room) and under the 4 calls j->http carries,
 * so the heartbeat keeps room when the orchestrators do not answer */
#define CHECK_REPORT_THREADS_MAX 2
/* reports waiting while both threads post (a burst of checks finishing at
 * once on a loaded worker): the threads take them in order; past this
 * many a report is dropped, counted */
#define CHECK_REPORT_QUEUE_MAX 16

struct creport {
    struct zt__joiner *j;
    char *body; /* {"checkpoint","node_id","receipt"} */
    struct creport *next; /* in j's queue */
};

static void creport_free(struct creport *c)
{
    if (!c) return;
    zt_free(c->body);
    zt_free(c);
}

/* The next queued report for a report thread that finished one, or NULL:
 * then the thread is no longer counted (in the same locked section, so a
 * report queued meanwhile is never left without a thread). */
static struct creport *creport_next(struct zt__joiner *j)
{
    pthread_mutex_lock(&j->mu);
    struct creport *c = j->stop ? NULL : j->cq_head;
    if (c) {
        j->cq_head = c->next;
        if (!j->cq_head) j->cq_tail = NULL;
        j->cq_len--;
        c->next = NULL;
    } else {
        j->creport_active--;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return c;
}

/* Post one report to every orchestrator of node.join: the one that picked
 * this checker keeps it, the others refuse it (403, not picked there). */
static void creport_post(struct zt__joiner *j, const struct creport *c)
{
    for (size_t i = 0; i < j->n; i++) {
        char url[sizeof j->o[i].url + 48];
        snprintf(url, sizeof url, "%s/v1/orchestrator/check-report", j->o[i].url);
        struct zt_http_response resp;
        zt_http_response_init(&resp);
        int rc = zt_http_client_json(j->http, url, NULL, c->body, CHECK_REPORT_TIMEOUT_MS, &resp);
        if (rc || (resp.status != 200 && resp.status != 403))
            zt_log_rl(ZT_LOG_WARN, 30, "check_report_failed", "url=%s status=%ld error=%s", url, rc ? 0 : resp.status,
                      zt_strerror(rc));
        zt_http_response_deinit(&resp);
    }
}

static void *creport_main(void *arg)
{
    struct creport *c = arg;
    struct zt__joiner *j = c->j;
    while (c) {
        creport_post(j, c);
        creport_free(c);
        c = creport_next(j);
    }
    return NULL;
}

void zt__joiner_check_report(struct zt__joiner *j, const uint8_t *ckpt, size_t ckpt_len, const uint8_t *receipt,
                             size_t receipt_len)
{
    if (!j || !j->n || !ckpt || !receipt || ckpt_len > ZT_CKPT_MAX_LEN || receipt_len > ZT_ENV_RECEIPT_MAX_LEN) return;
    char ck[2 * ZT_CKPT_MAX_LEN + 1], rc_hex[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    sodium_bin2hex(ck, sizeof ck, ckpt, ckpt_len);
    sodium_bin2hex(rc_hex, sizeof rc_hex, receipt, receipt_len);
    json_t *b = json_pack("{s:s,s:s,s:s}", "checkpoint", ck, "node_id", zt_identity_id(j->id), "receipt", rc_hex);
    struct creport *c = zt_calloc(1, sizeof *c);
    if (c) c->body = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(b);
    if (!c || !c->body) {
        zt_free(c);
        return;
    }
    c->j = j;
    /* on a thread of its own (the inference thread hands it over and goes
     * on), counted apart from the relay threads: a stop waits for it. With
     * CHECK_REPORT_THREADS_MAX posting it waits in the queue for one of
     * them; with the queue full too it is dropped, counted: the gateway's
     * verdict still carries this signed answer */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (start_counted(j, creport_main, c, &j->creport_active, CHECK_REPORT_THREADS_MAX)) return;
        pthread_mutex_lock(&j->mu);
        /* a thread that is running takes it from the queue before it ends */
        bool queued = !j->stop && j->creport_active > 0 && j->cq_len < CHECK_REPORT_QUEUE_MAX;
        if (queued) {
            if (j->cq_tail) j->cq_tail->next = c;
            else j->cq_head = c;
            j->cq_tail = c;
            j->cq_len++;
        }
        bool retry = !queued && !j->stop && j->creport_active == 0; /* the threads ended meanwhile */
        pthread_mutex_unlock(&j->mu);
        if (queued) return;
        if (!retry) break;
    }
    pthread_mutex_lock(&j->mu);
    uint64_t dropped = ++j->creport_dropped;
    pthread_mutex_unlock(&j->mu);
    zt_log_rl(ZT_LOG_WARN, 30, "check_report_dropped", "reason=busy dropped_total=%llu", (unsigned long long)dropped);
    creport_free(c);
}

/* The heartbeat as a long-poll (held up to hold ms); its answer's
 * requests start. False when it failed (retry later). */
static bool poll_once(struct zt__joiner *j, size_t i, int64_t hold)
{
    struct orch *o = &j->o[i];
    char *rec = beat_record(j, i);
    if (!rec) return false;
    char url[sizeof o->url + 64];
    snprintf(url, sizeof url, "%s/v1/orchestrator/poll?hold_ms=%lld", o->url, (long long)hold);
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_json(j->poll_http, url, NULL, rec, (long)hold + CALL_TIMEOUT_MS, &resp);
    zt_free(rec);
    long st = rc ? 0 : resp.status;
    if (st == 200) {
        json_t *a = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
        json_t *reqs = json_object_get(a, "requests");
        /* the gateways leasing there now (a newer orchestrator's answer):
         * admitted before the requests run, one of a new gateway among them */
        if (json_object_get(a, "gateways")) vouch(j, i, a);
        for (size_t k = 0; k < json_array_size(reqs); k++) relay_start(j, o, json_array_get(reqs, k));
        json_decref(a);
    } else if (st != 404) {
        zt_log_rl(ZT_LOG_WARN, 30, "orchestrator_call_failed", "url=%s record=poll status=%ld detail=\"%.200s\"",
                  url, st, rc ? resp.reason : zt_buf_str(&resp.body));
    }
    zt_http_response_deinit(&resp);
    if (st == 404) rejoin(j, i);
    return st == 200;
}

static void leave_all(struct zt__joiner *j)
{
    for (size_t i = 0; i < j->n; i++) {
        struct orch *o = &j->o[i];
        if (!o->joined) continue;
        char *rec = NULL;
        if (zt_registry_leave_record(j->id, o->aud, j->boot, ++o->seq, zt_time_real_ms(), &rec) != 0) continue;
        long st = post_record(j, o, "leave", rec, j->leave_timeout_ms, NULL);
        zt_free(rec);
        zt_log(st == 200 ? ZT_LOG_INFO : ZT_LOG_WARN, "orchestrator_left", "url=%s orchestrator=%s status=%ld",
               o->url, o->aud, st);
        o->joined = false;
    }
}

static void *joiner_main(void *arg)
{
    struct zt__joiner *j = arg;
    int64_t beat = j->cfg->node.heartbeat_interval_ms;
    int64_t retry = beat < RETRY_MS ? beat : RETRY_MS;
    pthread_mutex_lock(&j->mu);
    while (!j->stop) {
        bool now = j->beat_now, again = j->rejoin && !j->draining;
        j->beat_now = false;
        j->rejoin = false;
        pthread_mutex_unlock(&j->mu);
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < j->n; i++) {
            struct orch *o = &j->o[i];
            if ((int64_t)zt_time_mono_ms() >= o->next_ms || (now && o->joined) || (again && o->joined)) {
                bool polled = false;
                pthread_mutex_lock(&j->mu);
                bool draining = j->draining || j->stop;
                pthread_mutex_unlock(&j->mu);
                if (again && o->joined && !draining) {
                    join(j, i); /* the same boot: the session's descriptor replaced */
                } else if (o->joined && i == 0 && j->outbound && !draining) {
                    /* the heartbeat is the long-poll: held up to a beat, then at once again
                     * (stopping: plain heartbeats, the poll was cut) */
                    polled = poll_once(j, i, beat < POLL_HOLD_MS ? beat : POLL_HOLD_MS);
                } else if (o->joined) {
                    heartbeat(j, i);
                } else {
                    join(j, i);
                }
                /* an outbound worker polls again at once (and first right after its join) */
                bool poll_now = polled || (o->joined && i == 0 && j->outbound);
                o->next_ms = (int64_t)zt_time_mono_ms() + (poll_now ? 0 : o->joined ? beat : retry);
            }
            if (o->next_ms < next) next = o->next_ms;
        }
        pthread_mutex_lock(&j->mu);
        if (now) {
            j->drain_sent = true;
            pthread_cond_broadcast(&j->cv);
        }
        if (j->stop) break;
        int64_t wait = next - (int64_t)zt_time_mono_ms();
        if (wait > 0 && !j->beat_now && !j->rejoin) {
            struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, (uint64_t)wait);
            pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        }
    }
    pthread_mutex_unlock(&j->mu);
    leave_all(j);
    return NULL;
}

void zt__joiner_refresh(struct zt__joiner *j)
{
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    j->rejoin = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

int zt__joiner_start(struct zt__joiner *j, const char *endpoint)
{
    if (!j || !j->n || j->running) return 0;
    zt_strlcpy(j->endpoint, endpoint, sizeof j->endpoint);
    size_t l = strlen(j->endpoint);
    while (l > 0 && j->endpoint[l - 1] == '/') j->endpoint[--l] = '\0';
    if (j->outbound) {
        /* reached through the first orchestrator's relay; requests run on this listener */
        zt_strlcpy(j->local, j->endpoint, sizeof j->local);
        if ((size_t)snprintf(j->endpoint, sizeof j->endpoint, "%s/v1/orchestrator/relay/%s", j->o[0].url,
                             zt_identity_id(j->id)) >= sizeof j->endpoint)
            return ZT_ETOOBIG;
        zt_log(ZT_LOG_INFO, "worker_outbound", "orchestrator=%s", j->o[0].url);
    }
    if (pthread_create(&j->thread, NULL, joiner_main, j) != 0) return ZT_EIO;
    j->running = true;
    return 0;
}

void zt__joiner_drain(struct zt__joiner *j)
{
    if (!j || !j->running) return;
    pthread_mutex_lock(&j->mu);
    j->draining = true;
    j->beat_now = true;
    pthread_cond_broadcast(&j->cv);
    /* wait (a little) for it to go out: the listener stops accepting next */
    struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, 1000);
    while (!j->drain_sent && pthread_cond_timedwait(&j->cv, &j->mu, &ts) == 0) {}
    pthread_mutex_unlock(&j->mu);
}

void zt__joiner_stop(struct zt__joiner *j, uint64_t wait_ms)
{
    if (!j || !j->running) return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_broadcast(&j->cv);
    j->leave_timeout_ms = (long)(wait_ms < (uint64_t)LEAVE_TIMEOUT_MS ? wait_ms : (uint64_t)LEAVE_TIMEOUT_MS);
    if (j->leave_timeout_ms < 1) j->leave_timeout_ms = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    /* past wait_ms, the call in progress (and the leaves) are cut: the
     * orchestrators expire the sessions instead */
    struct timespec ts = zt_time_after_ms(CLOCK_REALTIME, wait_ms);
    if (pthread_timedjoin_np(j->thread, NULL, &ts) != 0) {
        zt_http_client_shutdown(j->http);
        if (j->poll_http) zt_http_client_shutdown(j->poll_http);
        pthread_join(j->thread, NULL);
    }
    j->running = false;
    /* relayed requests in flight: a little time to finish, then cut */
    pthread_mutex_lock(&j->mu);
    struct timespec rts = zt_time_after_ms(CLOCK_MONOTONIC, wait_ms < 2000 ? wait_ms : 2000);
    while ((j->relay_active || j->creport_active) && pthread_cond_timedwait(&j->cv, &j->mu, &rts) == 0) {}
    bool cut = j->relay_active || j->creport_active;
    pthread_mutex_unlock(&j->mu);
    if (cut) {
        if (j->relay_http) zt_http_client_shutdown(j->relay_http);
        if (j->result_http) zt_http_client_shutdown(j->result_http);
        if (j->creport_active) zt_http_client_shutdown(j->http); /* the reports' posts */
        pthread_mutex_lock(&j->mu);
        while (j->relay_active || j->creport_active) pthread_cond_wait(&j->cv, &j->mu);
        pthread_mutex_unlock(&j->mu);
    }
}

uint64_t zt__joiner_check_reports_dropped(struct zt__joiner *j)
{
    if (!j) return 0;
    pthread_mutex_lock(&j->mu);
    uint64_t n = j->creport_dropped;
    pthread_mutex_unlock(&j->mu);
    return n;
}

void zt__joiner_free(struct zt__joiner *j)
{
    if (!j) return;
    zt__joiner_stop(j, 0);
    /* reports still posting (a joiner never started stops nothing): cut */
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    bool posting = j->creport_active > 0;
    pthread_mutex_unlock(&j->mu);
    if (posting) zt_http_client_shutdown(j->http);
    pthread_mutex_lock(&j->mu);
    while (j->creport_active) pthread_cond_wait(&j->cv, &j->mu);
    /* reports still queued when the threads stopped: not sent */
    struct creport *q = j->cq_head;
    j->cq_head = j->cq_tail = NULL;
    j->cq_len = 0;
    pthread_mutex_unlock(&j->mu);
    while (q) {
        struct creport *next = q->next;
        creport_free(q);
        q = next;
    }
    zt_http_client_free(j->http);
    zt_http_client_free(j->relay_http);
    zt_http_client_free(j->result_http);
    zt_http_client_free(j->poll_http);
    for (size_t i = 0; j->o && i < j->n; i++) {
        zt_free(j->o[i].desc);
        zt_free(j->o[i].gw_answer);
        json_decref(j->o[i].gws);
    }
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    zt_free(j->o);
    zt_free(j);
}
