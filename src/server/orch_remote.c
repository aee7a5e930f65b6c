/* orch_remote.c: a gateway's placement through an orchestrator in another
 * process (node.orchestrator, zentalk-node --orchestrator URL[#NODE_ID];
 * docs/internals/orchestrator.md "Leases"). See orch_api.h.
 *
 * The client of orch_lease.c's routes: a lease per job (and per failover
 * pick), reports of each attempt. The workers' keys and endpoints come in
 * the lease answers (from their signed join records at the orchestrator)
 * and are kept for the attempt that follows. With #NODE_ID the
 * orchestrator's descriptor is fetched and verified before the first
 * lease (a machine in the middle could otherwise choose the workers).
 *
 * Every call is signed with this node's key for the orchestrator it goes
 * to (the Zentalk-Gateway-* headers, orch_api.h; its node id: the pin, or
 * its descriptor fetched once): the jobs leased are this gateway's, and
 * when their orchestrator dies, the next of node.orchestrator's list on
 * the same store continues them for this gateway alone (orch_lease.c). */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define CALL_TIMEOUT_MS 10000L
#define WORKERS_KEPT 256
#define SENDS_QUEUED_MAX 256 /* verdicts waiting to go after the user's answer */
#define SENDS_DRAIN_MS 3000  /* stopping: the queued ones still go this long */

#define ORCHS_MAX 4 /* node.orchestrator: a comma-separated list, the first preferred */

struct orch_ep {
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + 1];
    char pin[ZT_IDENTITY_ID_SIZE];
    char id[ZT_IDENTITY_ID_SIZE]; /* its node id once known (the pin, or its descriptor's): our calls' audience */
    bool verified;
};

struct zt__orch_remote {
    struct zt_http_client *http;
    struct orch_ep eps[ORCHS_MAX];
    size_t n_eps, cur; /* cur: the one calls go to (under mu); the next when it does not answer */
    char *auth; /* "Authorization: Bearer ..." or NULL */
    const struct zt_identity *id; /* signs our calls (NULL: unsigned) */
    pthread_mutex_t mu;
    zt__orch_desc_fn own_desc;
    void *desc_ud;
    uint64_t desc_sent; /* mono ms: our descriptor went with a lease (0: never) */
    struct zt_node_info workers[WORKERS_KEPT]; /* the last workers leased, by node id */
    size_t next;
    /* reports sent after the user's answer (zt__orch_remote_event_async),
     * in order, by one thread started with the first */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    json_t *q[SENDS_QUEUED_MAX];
    size_t qhead, qn;
    bool qstarted, qstop;
    uint64_t qdeadline; /* mono ms: stopping, the queue is dropped after it */
    pthread_t qthread;
};

#define DESC_RESEND_MS 300000 /* our descriptor goes with a lease this often (it expires in an hour) */

/* One "URL[#NODE_ID]" of node.orchestrator into ep; NULL or the problem. */
static const char *parse_ep(const char *text, size_t len, struct orch_ep *ep)
{
    while (len && (*text == ' ' || *text == '\t')) text++, len--;
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t')) len--;
    const char *hash = memchr(text, '#', len);
    size_t ul = hash ? (size_t)(hash - text) : len;
    if (ul >= sizeof ep->url) return "URL too long";
    memcpy(ep->url, text, ul);
    ep->url[ul] = '\0';
    while (ul > 0 && ep->url[ul - 1] == '/') ep->url[--ul] = '\0';
    const char *why = zt_peers_endpoint_problem(ep->url);
    if (why) return why;
    if (hash) {
        size_t pl = len - ul - 1;
        if (pl >= sizeof ep->pin) return "the part after '#' is not a node id (zt1...)";
        memcpy(ep->pin, hash + 1, pl);
        ep->pin[pl] = '\0';
        if (!zt_identity_id_valid(ep->pin)) return "the part after '#' is not a node id (zt1...)";
    }
    ep->verified = !ep->pin[0];
    return NULL;
}

int zt__orch_remote_new(const struct zt_config *cfg, const struct zt_identity *id, zt__orch_desc_fn own_desc,
                        void *ud, struct zt__orch_remote **out, struct zt_buf *err)
{
    const char *text = cfg->node.orchestrator;
    struct zt__orch_remote *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    const char *why = NULL;
    for (const char *p = text; !why;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        why = r->n_eps == ORCHS_MAX ? "more than 4 orchestrators" : parse_ep(p, len, &r->eps[r->n_eps]);
        if (!why) r->n_eps++;
        if (!comma) break;
        p = comma + 1;
    }
    if (why) {
        zt_ignore(zt_buf_appendf(err, "node.orchestrator %s: %s\n", text, why));
        zt_free(r);
        return ZT_ECONFIG;
    }
    const char *tok = cfg->node.orchestrator_token;
    if (tok && tok[0]) {
        size_t n = strlen("Authorization: Bearer ") + strlen(tok) + 1;
        if ((r->auth = zt_malloc(n)) != NULL) snprintf(r->auth, n, "Authorization: Bearer %s", tok);
    }
    struct zt_http_client_opts ho = {.max_inflight = 64};
    if ((tok && tok[0] && !r->auth) || zt_http_client_new(&ho, &r->http) != 0) {
        zt_free(r->auth);
        zt_free(r);
        return ZT_ENOMEM;
    }
    r->own_desc = own_desc;
    r->desc_ud = ud;
    r->id = id;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->qmu, NULL);
    pthread_cond_init(&r->qcv, NULL);
    *out = r;
    return 0;
}

void zt__orch_remote_free(struct zt__orch_remote *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->qmu);
    r->qstop = true;
    r->qdeadline = zt_time_mono_ms() + SENDS_DRAIN_MS;
    bool started = r->qstarted;
    pthread_cond_signal(&r->qcv);
    pthread_mutex_unlock(&r->qmu);
    if (started) pthread_join(r->qthread, NULL); /* it sends what it can, then drops the rest */
    pthread_cond_destroy(&r->qcv);
    pthread_mutex_destroy(&r->qmu);
    zt_http_client_free(r->http);
    zt_free(r->auth);
    pthread_mutex_destroy(&r->mu);
    zt_free(r);
}

/* The pinned orchestrator's descriptor, verified once; an unpinned one's
 * node id learnt once (best effort: unknown, our calls go unsigned). */
static int verify_pin(struct zt__orch_remote *r, struct orch_ep *ep)
{
    pthread_mutex_lock(&r->mu);
    bool done = ep->verified && (ep->id[0] || !r->id);
    pthread_mutex_unlock(&r->mu);
    if (done) return 0;
    if (!ep->pin[0]) {
        struct zt_http_response resp;
        zt_http_response_init(&resp);
        struct zt_node_descriptor d;
        if (zt_http_client_descriptor(r->http, ep->url, CALL_TIMEOUT_MS, zt_time_real_ms() / 1000, &resp, &d) == 0) {
            pthread_mutex_lock(&r->mu);
            zt_strlcpy(ep->id, d.node_id, sizeof ep->id);
            pthread_mutex_unlock(&r->mu);
            zt_node_descriptor_deinit(&d);
        }
        zt_http_response_deinit(&resp);
        return 0;
    }
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    struct zt_node_descriptor d;
    int rc = zt_http_client_descriptor(r->http, ep->url, CALL_TIMEOUT_MS, zt_time_real_ms() / 1000, &resp, &d);
    if (!rc && strcmp(d.node_id, ep->pin) != 0) rc = ZT_EPERM;
    if (rc == ZT_EPERM)
        zt_log_rl(ZT_LOG_ERROR, 30, "orchestrator_id_mismatch", "url=%s expected=%s got=%s", ep->url, ep->pin,
                  d.node_id);
    zt_node_descriptor_deinit(&d);
    zt_http_response_deinit(&resp);
    if (!rc) {
        pthread_mutex_lock(&r->mu);
        ep->verified = true;
        zt_strlcpy(ep->id, ep->pin, sizeof ep->id);
        pthread_mutex_unlock(&r->mu);
    }
    return rc;
}

/* POST text to path at ep: the status (0: no answer) and the parsed
 * answer in *out (may be NULL). */
static long call_ep(struct zt__orch_remote *r, struct orch_ep *ep, const char *path, const char *text,
                    long timeout_ms, json_t **out)
{
    *out = NULL;
    if (verify_pin(r, ep) != 0) return 0;
    char url[sizeof ep->url + 64];
    snprintf(url, sizeof url, "%s%s", ep->url, path);
    /* signed for this orchestrator (its id, known once verify_pin ran) */
    char aud[ZT_IDENTITY_ID_SIZE];
    pthread_mutex_lock(&r->mu);
    zt_strlcpy(aud, ep->id, sizeof aud);
    pthread_mutex_unlock(&r->mu);
    char hv[4][ZT_NODEAUTH_SIG_B64 + 64];
    const char *h[6] = {NULL};
    size_t nh = 0;
    if (r->auth) h[nh++] = r->auth;
    struct zt_nodeauth_headers sh;
    if (r->id && aud[0] &&
        zt_nodeauth_sign(r->id, aud, "POST", path, text, strlen(text), zt_time_real_ms() / 1000, &sh) == 0) {
        snprintf(hv[0], sizeof hv[0], "%s: %s", ZT__GW_H_NODE, sh.node);
        snprintf(hv[1], sizeof hv[1], "%s: %s", ZT__GW_H_DATE, sh.date);
        snprintf(hv[2], sizeof hv[2], "%s: %s", ZT__GW_H_NONCE, sh.nonce);
        snprintf(hv[3], sizeof hv[3], "%s: %s", ZT__GW_H_SIG, sh.sig);
        for (int i = 0; i < 4; i++) h[nh++] = hv[i];
    }
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_json(r->http, url, nh ? h : NULL, text, timeout_ms, &resp);
    long st = rc ? 0 : resp.status;
    if (st) *out = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
    if (!st || st >= 500)
        zt_log_rl(ZT_LOG_WARN, 10, "orchestrator_call_failed", "url=%s status=%ld detail=\"%.200s\"", url, st,
                  rc ? resp.reason : zt_buf_str(&resp.body));
    zt_http_response_deinit(&resp);
    return st;
}

/* POST body (taken) to the orchestrator's path: the current one, and when
 * it does not answer at all (down, unreachable, not the pinned node), the
 * next of node.orchestrator's list, which becomes the current one (its
 * workers learn of this gateway through the descriptor sent with the next
 * lease). The status (0: none answered) and the answer in *out. A call
 * about a job leased at the one that went down reaches the next with our
 * descriptor and signature: on the same store it continues the job for
 * us (orch_lease.c); on another it does not know it (404). */
/* Put our signed descriptor into body (unless there) and *text: true when added. */
static bool with_descriptor(struct zt__orch_remote *r, json_t *body, char **text)
{
    char *desc = NULL;
    if (!r->own_desc || json_object_get(body, "gateway") || r->own_desc(r->desc_ud, &desc) != 0 || !desc) return false;
    json_object_set_new(body, "gateway", json_string(desc));
    zt_free(desc);
    char *t2 = json_dumps(body, JSON_COMPACT);
    if (!t2) return false;
    zt_free(*text);
    *text = t2;
    return true;
}

static long call(struct zt__orch_remote *r, const char *path, json_t *body, long timeout_ms, json_t **out)
{
    *out = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!text) {
        json_decref(body);
        return 0;
    }
    pthread_mutex_lock(&r->mu);
    size_t first = r->cur;
    pthread_mutex_unlock(&r->mu);
    long st = 0;
    for (size_t k = 0; k < r->n_eps && !st; k++) {
        size_t i = (first + k) % r->n_eps;
        /* the next orchestrator may not know our key yet: it comes with the call */
        if (k == 1) with_descriptor(r, body, &text);
        st = call_ep(r, &r->eps[i], path, text, timeout_ms, out);
        if (st == 401 && with_descriptor(r, body, &text)) {
            /* our signature refused: our descriptor may have left its
             * table (16 gateways at most); once more with it */
            json_decref(*out);
            st = call_ep(r, &r->eps[i], path, text, timeout_ms, out);
        }
        if (st && i != first) {
            pthread_mutex_lock(&r->mu);
            bool moved = r->cur != i;
            r->cur = i;
            r->desc_sent = 0; /* tell the new one of us with the next lease */
            pthread_mutex_unlock(&r->mu);
            if (moved)
                zt_log(ZT_LOG_WARN, "orchestrator_failover", "from=%s to=%s", r->eps[first].url, r->eps[i].url);
        }
    }
    zt_free(text); /* jansson allocates with zt_malloc (json_set_alloc_funcs) */
    json_decref(body);
    return st;
}

static void keep_worker(struct zt__orch_remote *r, json_t *w)
{
    const char *id = json_string_value(json_object_get(w, "node_id"));
    const char *ep = json_string_value(json_object_get(w, "endpoint"));
    const char *kem = json_string_value(json_object_get(w, "kem_pk"));
    const char *sig = json_string_value(json_object_get(w, "ed25519_pk"));
    struct zt_node_info ni;
    memset(&ni, 0, sizeof ni);
    size_t n1 = 0, n2 = 0;
    if (!id || !ep || !kem || !sig || strlen(id) >= sizeof ni.node_id || strlen(ep) >= sizeof ni.endpoint ||
        sodium_hex2bin(ni.kem_pk, sizeof ni.kem_pk, kem, strlen(kem), NULL, &n1, NULL) != 0 ||
        n1 != sizeof ni.kem_pk ||
        sodium_hex2bin(ni.ed25519_pk, sizeof ni.ed25519_pk, sig, strlen(sig), NULL, &n2, NULL) != 0 ||
        n2 != sizeof ni.ed25519_pk)
        return;
    zt_strlcpy(ni.node_id, id, sizeof ni.node_id);
    zt_strlcpy(ni.endpoint, ep, sizeof ni.endpoint);
    ni.state = ZT_NODE_LIVE;
    /* its prices (an orchestrator of an older build sends none: "" and the
     * gateway settles at its own chain.yaml prices) */
    const char *pp = json_string_value(json_object_get(w, "price_prompt_per_1k"));
    const char *pc = json_string_value(json_object_get(w, "price_completion_per_1k"));
    if (pp && pc && strlen(pp) < sizeof ni.caps.price_prompt && strlen(pc) < sizeof ni.caps.price_completion) {
        zt_strlcpy(ni.caps.price_prompt, pp, sizeof ni.caps.price_prompt);
        zt_strlcpy(ni.caps.price_completion, pc, sizeof ni.caps.price_completion);
    }
    pthread_mutex_lock(&r->mu);
    size_t slot = r->next;
    for (size_t i = 0; i < WORKERS_KEPT; i++)
        if (strcmp(r->workers[i].node_id, id) == 0) slot = i;
    if (slot == r->next) r->next = (r->next + 1) % WORKERS_KEPT;
    r->workers[slot] = ni;
    pthread_mutex_unlock(&r->mu);
}

int zt__orch_remote_worker(struct zt__orch_remote *r, const char *node_id, struct zt_node_info *out)
{
    int rc = ZT_ENOTFOUND;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < WORKERS_KEPT && rc; i++)
        if (strcmp(r->workers[i].node_id, node_id) == 0) {
            *out = r->workers[i];
            rc = 0;
        }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int zt__orch_remote_lease(struct zt__orch_remote *r, const struct zt_job_req *jr, const char *job_id, long wait_ms,
                          struct zt_sched_result *out)
{
    memset(out, 0, sizeof *out);
    json_t *body = jr ? json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "model", jr->model, "client", jr->client,
                                  "ctx_tokens", (json_int_t)jr->ctx_tokens, "max_tokens", (json_int_t)jr->max_tokens,
                                  "price_ceiling", (json_int_t)jr->price_ceiling, "deadline_ms",
                                  (json_int_t)jr->deadline_ms, "wait_ms", (json_int_t)wait_ms)
                      : json_pack("{s:s,s:I}", "job_id", job_id, "wait_ms", (json_int_t)wait_ms);
    /* our signed descriptor now and then: the orchestrator vouches for us to its workers */
    uint64_t now = zt_time_mono_ms();
    pthread_mutex_lock(&r->mu);
    bool send = r->own_desc && (!r->desc_sent || now - r->desc_sent >= DESC_RESEND_MS);
    if (send) r->desc_sent = now;
    pthread_mutex_unlock(&r->mu);
    char *desc = NULL;
    if (send && body && r->own_desc(r->desc_ud, &desc) == 0 && desc) {
        json_object_set_new(body, "gateway", json_string(desc));
        zt_free(desc);
    }
    json_t *a = NULL;
    long st = call(r, "/v1/orchestrator/lease", body, wait_ms + CALL_TIMEOUT_MS, &a);
    int rc = 0;
    const char *id = json_string_value(json_object_get(a, "job_id"));
    if ((st == 200 || st == 202) && id && strlen(id) < sizeof out->job_id) {
        zt_strlcpy(out->job_id, id, sizeof out->job_id);
        out->state = ZT_JOB_STATE_QUEUED;
        json_t *w = json_object_get(a, "worker");
        const char *wid = json_string_value(json_object_get(w, "node_id"));
        if (st == 200 && wid && strlen(wid) < sizeof out->worker) {
            keep_worker(r, w);
            zt_strlcpy(out->worker, wid, sizeof out->worker);
            out->state = ZT_JOB_STATE_ASSIGNED;
        }
    } else if (st == 410) {
        out->state = ZT_JOB_STATE_FAILED;
    } else if (st == 503) {
        out->retry_after_s = 1;
        rc = ZT_EBUSY;
    } else if (st == 404) {
        rc = ZT_ENOTFOUND;
    } else {
        rc = ZT_EIO;
    }
    json_decref(a);
    return rc;
}

int zt__orch_remote_report(struct zt__orch_remote *r, const char *job_id, const char *worker, const char *event,
                           uint32_t tokens, enum zt_job_state *state)
{
    json_t *body = json_pack("{s:s,s:s,s:s,s:I}", "job_id", job_id, "worker", worker ? worker : "", "event", event,
                             "tokens", (json_int_t)tokens);
    json_t *a = NULL;
    long st = call(r, "/v1/orchestrator/report", body, CALL_TIMEOUT_MS, &a);
    const char *s = json_string_value(json_object_get(a, "state"));
    if (state) {
        *state = ZT_JOB_STATE_FAILED;
        for (int i = 0; s && i < ZT_JOB_STATE_COUNT; i++)
            if (strcmp(s, zt_job_state_name((enum zt_job_state)i)) == 0) *state = (enum zt_job_state)i;
    }
    json_decref(a);
    return st == 200 ? 0 : st == 404 ? ZT_ENOTFOUND : st ? ZT_EINVAL : ZT_EIO;
}

void zt__orch_remote_register(struct zt__orch_remote *r)
{
    char *desc = NULL;
    if (!r->own_desc || r->own_desc(r->desc_ud, &desc) != 0 || !desc) return;
    /* with every orchestrator of the list: their workers admit our jobs
     * before a failover needs them */
    json_t *body = json_pack("{s:s}", "gateway", desc);
    zt_free(desc);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) return;
    for (size_t i = 0; i < r->n_eps; i++) {
        json_t *a = NULL;
        long st = call_ep(r, &r->eps[i], "/v1/orchestrator/lease", text, 2000, &a);
        json_decref(a);
        if (st != 200) continue;
        pthread_mutex_lock(&r->mu);
        if (i == r->cur) r->desc_sent = zt_time_mono_ms();
        pthread_mutex_unlock(&r->mu);
        zt_log(ZT_LOG_INFO, "gateway_registered", "orchestrator=%s", r->eps[i].url);
    }
    zt_free(text);
}

/* ---- checks of leased jobs (the orchestrator's verifier, this gateway's work) ---- */

int zt__orch_remote_ok(struct zt__orch_remote *r, const char *job_id, const char *worker, uint32_t tokens,
                       bool replicas, char *verify, size_t cap)
{
    json_t *body = json_pack("{s:s,s:s,s:s,s:I,s:b}", "job_id", job_id, "worker", worker, "event", "ok", "tokens",
                             (json_int_t)tokens, "replicas", replicas);
    json_t *a = NULL;
    long st = call(r, "/v1/orchestrator/report", body, CALL_TIMEOUT_MS, &a);
    const char *v = json_string_value(json_object_get(a, "verify"));
    verify[0] = '\0';
    if (st == 200 && v) zt_strlcpy(verify, v, cap);
    json_decref(a);
    return st == 200 ? 0 : st == 404 ? ZT_ENOTFOUND : st ? ZT_EINVAL : ZT_EIO;
}

int zt__orch_remote_check_pick(struct zt__orch_remote *r, const char *job_id, const char *worker,
                               const uint8_t *ckpt, size_t ckpt_len, unsigned round, const char *const *exclude,
                               size_t n, struct zt_node_info *out)
{
    if (!ckpt || !ckpt_len || ckpt_len > ZT_CKPT_MAX_LEN) return ZT_EINVAL;
    /* the checked worker's signed FINAL checkpoint: the check's subject,
     * by which the orchestrator credits the checker's own report */
    char hex[2 * ZT_CKPT_MAX_LEN + 1];
    zt_hex_encode(hex, ckpt, ckpt_len);
    json_t *ex = json_array();
    for (size_t i = 0; ex && i < n; i++) json_array_append_new(ex, json_string(exclude[i]));
    json_t *body = json_pack("{s:s,s:s,s:s,s:I,s:o,s:s}", "job_id", job_id, "worker", worker, "event", "check",
                             "round", (json_int_t)round, "exclude", ex, "checkpoint", hex);
    json_t *a = NULL;
    long st = call(r, "/v1/orchestrator/report", body, CALL_TIMEOUT_MS, &a);
    int rc = st == 404 ? ZT_ENOTFOUND : ZT_EIO;
    json_t *w = json_object_get(a, "worker");
    const char *id = json_string_value(json_object_get(w, "node_id"));
    if (st == 200 && id) {
        keep_worker(r, w);
        rc = zt__orch_remote_worker(r, id, out);
    }
    json_decref(a);
    return rc;
}

void zt__orch_remote_event(struct zt__orch_remote *r, json_t *body)
{
    json_t *a = NULL;
    (void)call(r, "/v1/orchestrator/report", body, CALL_TIMEOUT_MS, &a);
    json_decref(a);
}

/* The sender: the queued reports in order; stopping, until the queue is
 * empty or its deadline passed (the rest dropped, logged). */
static void *sender_main(void *arg)
{
    struct zt__orch_remote *r = arg;
    size_t dropped = 0;
    pthread_mutex_lock(&r->qmu);
    for (;;) {
        while (!r->qn && !r->qstop) pthread_cond_wait(&r->qcv, &r->qmu);
        if (!r->qn) break;
        json_t *body = r->q[r->qhead];
        r->qhead = (r->qhead + 1) % SENDS_QUEUED_MAX;
        r->qn--;
        bool late = r->qstop && zt_time_mono_ms() >= r->qdeadline;
        pthread_mutex_unlock(&r->qmu);
        if (late) {
            json_decref(body);
            dropped++;
        } else {
            zt__orch_remote_event(r, body);
        }
        pthread_mutex_lock(&r->qmu);
    }
    pthread_mutex_unlock(&r->qmu);
    if (dropped) zt_log(ZT_LOG_WARN, "orchestrator_reports_dropped", "count=%zu reason=stopping", dropped);
    return NULL;
}

void zt__orch_remote_event_async(struct zt__orch_remote *r, json_t *body)
{
    if (!body) return;
    pthread_mutex_lock(&r->qmu);
    if (!r->qstarted && !r->qstop) r->qstarted = pthread_create(&r->qthread, NULL, sender_main, r) == 0;
    bool queued = r->qstarted && !r->qstop && r->qn < SENDS_QUEUED_MAX;
    if (queued) {
        r->q[(r->qhead + r->qn) % SENDS_QUEUED_MAX] = body;
        r->qn++;
        pthread_cond_signal(&r->qcv);
    }
    pthread_mutex_unlock(&r->qmu);
    if (!queued) zt__orch_remote_event(r, body); /* no thread, or a full queue: sent now (it waits) */
}
