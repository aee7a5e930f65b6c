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
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define DESC_TTL_S 3600          /* the worker's own descriptor in a join record */
#define RETRY_MS 2000            /* a failed join is retried this soon (at most the beat) */
#define CALL_TIMEOUT_MS 5000L
#define LEAVE_TIMEOUT_MS 2000L

struct orch {
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + 1]; /* no trailing '/' */
    char aud[ZT_IDENTITY_ID_SIZE];            /* its node id, from its descriptor ("" = not fetched) */
    char pin[ZT_IDENTITY_ID_SIZE];            /* URL#zt1...: the id it must have ("" = any) */
    int64_t desc_expires, desc_fetched;       /* unix s */
    uint64_t seq;
    bool joined;
    int64_t next_ms;                          /* mono: next join attempt or heartbeat */
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
    bool drain_sent;          /* that heartbeat went out */
    long leave_timeout_ms; /* set by zt__joiner_stop */
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
    j->cfg = cfg;
    j->id = id;
    j->models = models;
    j->trust = trust;
    j->trust_ud = trust_ud;
    j->n = cfg->node.join.count;
    j->o = j->n ? zt_calloc(j->n, sizeof *j->o) : NULL;
    struct zt_http_client_opts ho = {.max_inflight = 4};
    if ((j->n && !j->o) || zt_http_client_new(&ho, &j->http) != 0) {
        zt_free(j->o);
        zt_free(j);
        return ZT_ENOMEM;
    }
    for (size_t i = 0; i < j->n; i++) {
        if (parse_join_url(cfg->node.join.items[i], &j->o[i], err) != 0) {
            zt_http_client_free(j->http);
            zt_free(j->o);
            zt_free(j);
            return ZT_ECONFIG;
        }
    }
    randombytes_buf(j->boot, sizeof j->boot);
    pthread_mutex_init(&j->mu, NULL);
    zt_cond_init_mono(&j->cv);
    *out = j;
    return 0;
}

/* POST rec to URL/v1/orchestrator/<what>; the HTTP status, or 0 when none. */
/* The join answer's "mesh_models": each sha256:<hex> to the hook. */
static void answer_models(struct zt__joiner *j, const struct zt_buf *body)
{
    if (!j->models_fn) return;
    json_t *a = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(a, "mesh_models"), i, v) {
        const char *s = json_string_value(v);
        if (s && zt_str_starts_with(s, "sha256:") && strlen(s) == 71) j->models_fn(j->models_ud, s + 7);
        if (i >= 63) break;
    }
    json_decref(a);
}

void zt__joiner_set_models_hook(struct zt__joiner *j, zt__joiner_models_fn fn, void *ud)
{
    j->models_fn = fn;
    j->models_ud = ud;
}

static long post_record(struct zt__joiner *j, const struct orch *o, const char *what, const char *rec, long timeout)
{
    char url[sizeof o->url + 40];
    snprintf(url, sizeof url, "%s/v1/orchestrator/%s", o->url, what);
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_json(j->http, url, NULL, rec, timeout, &resp);
    long st = rc ? 0 : resp.status;
    if (st == 200 && strcmp(what, "join") == 0) answer_models(j, &resp.body);
    if (st != 200 && st != 404)
        zt_log_rl(ZT_LOG_WARN, 30, "orchestrator_call_failed", "url=%s record=%s status=%ld detail=\"%.200s\"", url,
                  what, st, rc ? resp.reason : zt_buf_str(&resp.body));
    zt_http_response_deinit(&resp);
    return st;
}

/* GET the orchestrator's descriptor, verify it, trust it. */
static int fetch_descriptor(struct zt__joiner *j, size_t i, int64_t now_s)
{
    struct orch *o = &j->o[i];
    char url[sizeof o->url + 32];
    snprintf(url, sizeof url, "%s/v1/node/descriptor", o->url);
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_json(j->http, url, NULL, NULL, CALL_TIMEOUT_MS, &resp);
    if (!rc && resp.status != 200) rc = ZT_EIO;
    struct zt_node_descriptor d;
    memset(&d, 0, sizeof d);
    if (!rc) rc = zt_identity_descriptor_verify(zt_buf_str(&resp.body), resp.body.len, now_s, &d);
    if (!rc && strcmp(d.node_id, zt_identity_id(j->id)) == 0) rc = ZT_EINVAL; /* joining itself */
    if (!rc && o->pin[0] && strcmp(d.node_id, o->pin) != 0) {
        zt_log_rl(ZT_LOG_ERROR, 30, "orchestrator_id_mismatch", "url=%s expected=%s got=%s", o->url, o->pin, d.node_id);
        rc = ZT_EPERM; /* not the node the operator named: never trusted */
    }
    if (!rc) rc = j->trust(j->trust_ud, i, zt_buf_str(&resp.body), resp.body.len);
    if (!rc) {
        if (o->aud[0] && strcmp(o->aud, d.node_id) != 0)
            zt_log(ZT_LOG_WARN, "orchestrator_changed", "url=%s was=%s now=%s", o->url, o->aud, d.node_id);
        zt_strlcpy(o->aud, d.node_id, sizeof o->aud);
        o->desc_expires = d.expires;
        o->desc_fetched = now_s;
    } else {
        zt_log_rl(ZT_LOG_WARN, 30, "orchestrator_descriptor_failed", "url=%s status=%ld error=%s", url, resp.status,
                  zt_strerror(rc));
    }
    zt_node_descriptor_deinit(&d);
    zt_http_response_deinit(&resp);
    return rc;
}

static const char *const role_names[] = {"gateway", "orchestrator", "worker"};

/* This worker's signed descriptor and capabilities. */
static int own_descriptor(struct zt__joiner *j, int64_t now_s, char **out)
{
    const char *roles[3];
    size_t nr = 0;
    for (unsigned b = 0; b < 3; b++)
        if (j->cfg->node.role_mask & (1u << b)) roles[nr++] = role_names[b];
    size_t nm = zt_infer_model_count(j->models);
    if (nm > ZT_DESCRIPTOR_MAX_MODELS) nm = ZT_DESCRIPTOR_MAX_MODELS;
    const char *names[ZT_DESCRIPTOR_MAX_MODELS];
    for (size_t i = 0; i < nm; i++) {
        bool loaded;
        names[i] = zt_infer_model(j->models, i, &loaded)->id;
    }
    return zt_identity_descriptor(j->id, roles, nr, names, nm, j->endpoint, now_s + DESC_TTL_S, out);
}

static void caps_of(const struct zt__joiner *j, struct zt_worker_caps *c)
{
    memset(c, 0, sizeof *c);
    zt_strlcpy(c->engine, zt_engine_build_id(), sizeof c->engine);
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
        long st = post_record(j, o, "join", rec, CALL_TIMEOUT_MS);
        o->joined = st == 200;
        if (o->joined)
            zt_log(ZT_LOG_INFO, "orchestrator_joined", "url=%s orchestrator=%s slots=%u", o->url, o->aud,
                   (unsigned)caps.slots);
    }
    zt_free(desc);
    zt_free(rec);
}

static void heartbeat(struct zt__joiner *j, size_t i)
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
    if (zt_registry_heartbeat_record(j->id, o->aud, j->boot, ++o->seq, now_ms, &load, &rec) != 0) return;
    long code = post_record(j, o, "heartbeat", rec, CALL_TIMEOUT_MS);
    zt_free(rec);
    if (code == 404) { /* the session is gone: join again now */
        zt_log(ZT_LOG_INFO, "orchestrator_rejoin", "url=%s orchestrator=%s", o->url, o->aud);
        o->joined = false;
        join(j, i);
    }
}

static void leave_all(struct zt__joiner *j)
{
    for (size_t i = 0; i < j->n; i++) {
        struct orch *o = &j->o[i];
        if (!o->joined) continue;
        char *rec = NULL;
        if (zt_registry_leave_record(j->id, o->aud, j->boot, ++o->seq, zt_time_real_ms(), &rec) != 0) continue;
        long st = post_record(j, o, "leave", rec, j->leave_timeout_ms);
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
        bool now = j->beat_now;
        j->beat_now = false;
        pthread_mutex_unlock(&j->mu);
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < j->n; i++) {
            struct orch *o = &j->o[i];
            if ((int64_t)zt_time_mono_ms() >= o->next_ms || (now && o->joined)) {
                if (o->joined) heartbeat(j, i);
                else join(j, i);
                o->next_ms = (int64_t)zt_time_mono_ms() + (o->joined ? beat : retry);
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
        if (wait > 0 && !j->beat_now) {
            struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, (uint64_t)wait);
            pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        }
    }
    pthread_mutex_unlock(&j->mu);
    leave_all(j);
    return NULL;
}

int zt__joiner_start(struct zt__joiner *j, const char *endpoint)
{
    if (!j || !j->n || j->running) return 0;
    zt_strlcpy(j->endpoint, endpoint, sizeof j->endpoint);
    size_t l = strlen(j->endpoint);
    while (l > 0 && j->endpoint[l - 1] == '/') j->endpoint[--l] = '\0';
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
        pthread_join(j->thread, NULL);
    }
    j->running = false;
}

void zt__joiner_free(struct zt__joiner *j)
{
    if (!j) return;
    zt__joiner_stop(j, 0);
    zt_http_client_free(j->http);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    zt_free(j->o);
    zt_free(j);
}
