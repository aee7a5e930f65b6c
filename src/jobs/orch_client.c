/* orch_client.c: a gateway's placement through an orchestrator in another
 * process. See zt_orch_client.h.
 *
 * The client of the orchestrator's lease routes (their table is
 * src/orchestrator/lease.c, zt_lease.h): a lease per job (and per failover pick), reports of each
 * attempt, the checks' picks, the verdict with its evidence. The workers'
 * keys and endpoints come in the lease answers and are kept for the
 * attempt that follows. */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_orch_client.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define CALL_TIMEOUT_MS 10000L
#define WORKERS_KEPT ZT_ORCH_WORKERS_KEPT
#define SENDS_QUEUED_MAX ZT_ORCH_SENDS_QUEUED
#define SENDS_DRAIN_MS ZT_ORCH_DRAIN_MS

#define ORCHS_MAX ZT_ORCH_MAX

struct orch_ep {
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + 1];
    char pin[ZT_IDENTITY_ID_SIZE];
    char id[ZT_IDENTITY_ID_SIZE]; /* its node id once known (the pin, or its descriptor's): our calls' audience */
    bool verified;
};

struct zt_orch_client {
    struct zt_http_client *http;
    struct orch_ep eps[ORCHS_MAX];
    size_t n_eps, cur; /* cur: the one calls go to (under mu); the next when it does not answer */
    char *auth; /* "Authorization: Bearer ..." or NULL */
    const struct zt_identity *id; /* signs our calls (NULL: unsigned) */
    pthread_mutex_t mu;
    zt_orch_desc_fn own_desc;
    void *desc_ud;
    uint64_t desc_sent; /* mono ms: our descriptor went with a lease (0: never) */
    struct zt_orch_worker workers[WORKERS_KEPT]; /* the last workers leased, by node id */
    size_t next;
    /* verdicts sent after the user's answer (zt_orch_client_verdict) by up
     * to ZT_ORCH_SENDERS threads, started as the queue needs them */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;    /* a verdict queued, or stopping */
    pthread_cond_t donecv; /* a send ended (stopping waits on it; monotonic) */
    json_t *q[SENDS_QUEUED_MAX];
    size_t qhead, qn;
    size_t n_threads, idle, busy; /* senders started, waiting for work, sending */
    pthread_t threads[ZT_ORCH_SENDERS];
    bool qstop, qlate; /* stopping; past the drain: what is still queued is dropped */
    uint64_t n_sent, n_dropped, n_overflow, n_refused; /* under qmu; refused: still not 200 after its tries */
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

int zt_orch_client_new(const char *orchestrators, const char *token, const struct zt_identity *id,
                       zt_orch_desc_fn own_desc, void *ud, struct zt_orch_client **out, struct zt_buf *err)
{
    const char *text = orchestrators ? orchestrators : "";
    struct zt_orch_client *r = zt_calloc(1, sizeof *r);
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
    const char *tok = token;
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
    zt_cond_init_mono(&r->donecv);
    *out = r;
    return 0;
}

void zt_orch_client_free(struct zt_orch_client *r)
{
    if (!r) return;
    /* the queued verdicts still go for SENDS_DRAIN_MS; then the calls in
     * flight are cut (the client's shutdown: each returns within about
     * 100 ms) and the rest dropped, counted and logged */
    struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, SENDS_DRAIN_MS);
    pthread_mutex_lock(&r->qmu);
    r->qstop = true;
    pthread_cond_broadcast(&r->qcv);
    pthread_cond_broadcast(&r->donecv); /* a sender waiting to send again stops waiting */
    while ((r->qn || r->busy) && pthread_cond_timedwait(&r->donecv, &r->qmu, &until) == 0) {
    }
    size_t queued = r->qn, cut = r->busy, n = r->n_threads;
    uint64_t dropped0 = r->n_dropped;
    r->qlate = queued || cut;
    pthread_mutex_unlock(&r->qmu);
    if (cut) zt_http_client_shutdown(r->http);
    for (size_t i = 0; i < n; i++) pthread_join(r->threads[i], NULL);
    if (queued || cut)
        zt_log(ZT_LOG_WARN, "orchestrator_reports_dropped",
               "dropped=%llu cut=%zu reason=stopping drain_ms=%d note=\"the orchestrator decides these verdicts "
               "itself after orchestrator.verification.verdict_wait_s\"",
               (unsigned long long)(r->n_dropped - dropped0), cut, SENDS_DRAIN_MS);
    pthread_cond_destroy(&r->donecv);
    pthread_cond_destroy(&r->qcv);
    pthread_mutex_destroy(&r->qmu);
    zt_http_client_free(r->http);
    zt_free(r->auth);
    pthread_mutex_destroy(&r->mu);
    zt_free(r);
}

/* The pinned orchestrator's descriptor, verified once; an unpinned one's
 * node id learnt once (best effort: unknown, our calls go unsigned). */
static int verify_pin(struct zt_orch_client *r, struct orch_ep *ep)
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
static long call_ep(struct zt_orch_client *r, struct orch_ep *ep, const char *path, const char *text,
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
        snprintf(hv[0], sizeof hv[0], "%s: %s", ZT_NODEAUTH_GW_H_NODE, sh.node);
        snprintf(hv[1], sizeof hv[1], "%s: %s", ZT_NODEAUTH_GW_H_DATE, sh.date);
        snprintf(hv[2], sizeof hv[2], "%s: %s", ZT_NODEAUTH_GW_H_NONCE, sh.nonce);
        snprintf(hv[3], sizeof hv[3], "%s: %s", ZT_NODEAUTH_GW_H_SIG, sh.sig);
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
 * us (src/orchestrator/lease.c); on another it does not know it (404). */
/* Put our signed descriptor into body (unless there) and *text: true when added. */
static bool with_descriptor(struct zt_orch_client *r, json_t *body, char **text)
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

static long call(struct zt_orch_client *r, const char *path, json_t *body, long timeout_ms, json_t **out)
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

static void keep_worker(struct zt_orch_client *r, json_t *w)
{
    const char *id = json_string_value(json_object_get(w, "node_id"));
    const char *ep = json_string_value(json_object_get(w, "endpoint"));
    const char *kem = json_string_value(json_object_get(w, "kem_pk"));
    const char *sig = json_string_value(json_object_get(w, "ed25519_pk"));
    struct zt_orch_worker ni;
    memset(&ni, 0, sizeof ni);
    size_t n1 = 0, n2 = 0;
    struct zt_peer *p = &ni.peer;
    if (!id || !ep || !kem || !sig || strlen(id) >= sizeof p->node_id || strlen(ep) >= sizeof p->endpoint ||
        sodium_hex2bin(p->kem_pk, sizeof p->kem_pk, kem, strlen(kem), NULL, &n1, NULL) != 0 ||
        n1 != sizeof p->kem_pk ||
        sodium_hex2bin(p->ed25519_pk, sizeof p->ed25519_pk, sig, strlen(sig), NULL, &n2, NULL) != 0 ||
        n2 != sizeof p->ed25519_pk)
        return;
    zt_strlcpy(p->node_id, id, sizeof p->node_id);
    zt_strlcpy(p->endpoint, ep, sizeof p->endpoint);
    /* its prices (an orchestrator of an older build sends none: "" and the
     * gateway settles at its own chain.yaml prices) */
    const char *pp = json_string_value(json_object_get(w, "price_prompt_per_1k"));
    const char *pc = json_string_value(json_object_get(w, "price_completion_per_1k"));
    if (pp && pc && strlen(pp) < sizeof ni.price_prompt && strlen(pc) < sizeof ni.price_completion) {
        zt_strlcpy(ni.price_prompt, pp, sizeof ni.price_prompt);
        zt_strlcpy(ni.price_completion, pc, sizeof ni.price_completion);
    }
    pthread_mutex_lock(&r->mu);
    size_t slot = r->next;
    for (size_t i = 0; i < WORKERS_KEPT; i++)
        if (strcmp(r->workers[i].peer.node_id, id) == 0) slot = i;
    if (slot == r->next) r->next = (r->next + 1) % WORKERS_KEPT;
    r->workers[slot] = ni;
    pthread_mutex_unlock(&r->mu);
}

int zt_orch_client_worker(struct zt_orch_client *r, const char *node_id, struct zt_orch_worker *out)
{
    int rc = ZT_ENOTFOUND;
    if (!node_id || !node_id[0]) return rc;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < WORKERS_KEPT && rc; i++)
        if (strcmp(r->workers[i].peer.node_id, node_id) == 0) {
            *out = r->workers[i];
            rc = 0;
        }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int zt_orch_client_lease(struct zt_orch_client *r, const struct zt_orch_lease_req *jr, const char *job_id,
                         long wait_ms, struct zt_orch_lease *out)
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
        json_t *w = json_object_get(a, "worker");
        const char *wid = json_string_value(json_object_get(w, "node_id"));
        if (st == 200 && wid && strlen(wid) < sizeof out->worker) {
            keep_worker(r, w);
            zt_strlcpy(out->worker, wid, sizeof out->worker);
        }
    } else if (st == 410) {
        out->failed = true;
    } else if (st == 503) {
        rc = ZT_EBUSY;
    } else if (st == 404) {
        rc = ZT_ENOTFOUND;
    } else {
        rc = ZT_EIO;
    }
    json_decref(a);
    return rc;
}

int zt_orch_client_report(struct zt_orch_client *r, const char *job_id, const char *worker, const char *event,
                          uint32_t tokens, char state[ZT_ORCH_STATE_MAX])
{
    json_t *body = json_pack("{s:s,s:s,s:s,s:I}", "job_id", job_id, "worker", worker ? worker : "", "event", event,
                             "tokens", (json_int_t)tokens);
    json_t *a = NULL;
    long st = call(r, "/v1/orchestrator/report", body, CALL_TIMEOUT_MS, &a);
    const char *s = json_string_value(json_object_get(a, "state"));
    if (state) zt_strlcpy(state, s && strlen(s) < ZT_ORCH_STATE_MAX ? s : "", ZT_ORCH_STATE_MAX);
    json_decref(a);
    return st == 200 ? 0 : st == 404 ? ZT_ENOTFOUND : st ? ZT_EINVAL : ZT_EIO;
}

void zt_orch_client_register(struct zt_orch_client *r)
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

static void send_async(struct zt_orch_client *r, json_t *body);

int zt_orch_client_ok(struct zt_orch_client *r, const char *job_id, const char *worker, uint32_t tokens,
                      bool replicas, char *verify, size_t cap)
{
    json_t *body = json_pack("{s:s,s:s,s:s,s:I,s:b}", "job_id", job_id, "worker", worker, "event", "ok", "tokens",
                             (json_int_t)tokens, "replicas", replicas);
    json_t *a = NULL;
    json_incref(body);
    long st = call(r, "/v1/orchestrator/report", body, CALL_TIMEOUT_MS, &a);
    const char *v = json_string_value(json_object_get(a, "verify"));
    verify[0] = '\0';
    if (st == 200 && v) zt_strlcpy(verify, v, cap);
    json_decref(a);
    /* no orchestrator answered (one restarting): the report is sent again
     * by the senders until one does, else the job's row stays running
     * there and holds its worker's slot (its restart resumes it) */
    if (!st) send_async(r, body);
    else json_decref(body);
    return st == 200 ? 0 : st == 404 ? ZT_ENOTFOUND : st ? ZT_EINVAL : ZT_EIO;
}

int zt_orch_client_check_pick(struct zt_orch_client *r, const char *job_id, const char *worker,
                              const uint8_t *ckpt, size_t ckpt_len, unsigned round, const char *const *exclude,
                              size_t n, struct zt_orch_worker *out)
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
        rc = zt_orch_client_worker(r, id, out);
    }
    json_decref(a);
    return rc;
}

#define SEND_TRIES 3 /* a 503 (store or evidence busy: nothing used up) is sent again, after 1 s, then 2 s */
#define SEND_TRIES_DOWN 7 /* no orchestrator answered (one restarting): after 1, 2, 4, 8, 8, 8 s (31 s) */

/* POST body (taken) to the orchestrator's report route: a 503 is sent
 * again (SEND_TRIES in all), and, by a sender thread (down), so is a
 * report no orchestrator answered (SEND_TRIES_DOWN; never on a job's
 * thread, which would keep its client waiting), not once stopping: the
 * orchestrator decides a verdict it never gets itself, and an ok it never
 * gets leaves the job running there; what is still refused is logged
 * (review7 F5: a verdict answered 503 was lost without a word). */
static void send_event(struct zt_orch_client *r, json_t *body, bool down)
{
    long st = 0;
    for (int t = 1;; t++) {
        json_t *a = NULL;
        json_incref(body);
        st = call(r, "/v1/orchestrator/report", body, CALL_TIMEOUT_MS, &a);
        json_decref(a);
        pthread_mutex_lock(&r->qmu);
        bool stopping = r->qstop;
        pthread_mutex_unlock(&r->qmu);
        if ((st != 503 && (st != 0 || !down)) || t == (st ? SEND_TRIES : SEND_TRIES_DOWN) || stopping) break;
        /* the wait ends early when the client stops (it drains, then cuts) */
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, 1000u << (t < 4 ? t - 1 : 3));
        pthread_mutex_lock(&r->qmu);
        while (!r->qstop && pthread_cond_timedwait(&r->donecv, &r->qmu, &ts) == 0) {
        }
        pthread_mutex_unlock(&r->qmu);
    }
    if (st != 200 && st != 202) {
        pthread_mutex_lock(&r->qmu);
        r->n_refused++;
        pthread_mutex_unlock(&r->qmu);
        zt_log_rl(ZT_LOG_WARN, 10, "orchestrator_report_refused", "event=%s job=%s status=%ld",
                  json_string_value(json_object_get(body, "event")) ? json_string_value(json_object_get(body, "event"))
                                                                     : "?",
                  json_string_value(json_object_get(body, "job_id")) ? json_string_value(json_object_get(body, "job_id"))
                                                                      : "?",
                  st);
    }
    json_decref(body);
}

/* A sender: the queued verdicts, oldest first; stopping, until the queue
 * is empty; past the drain (qlate), each is dropped, counted. */
static void *sender_main(void *arg)
{
    struct zt_orch_client *r = arg;
    pthread_mutex_lock(&r->qmu);
    for (;;) {
        while (!r->qn && !r->qstop) {
            r->idle++;
            pthread_cond_wait(&r->qcv, &r->qmu);
            r->idle--;
        }
        if (!r->qn) break;
        json_t *body = r->q[r->qhead];
        r->qhead = (r->qhead + 1) % SENDS_QUEUED_MAX;
        r->qn--;
        bool late = r->qlate;
        r->busy++;
        pthread_mutex_unlock(&r->qmu);
        if (late) json_decref(body);
        else send_event(r, body, true);
        pthread_mutex_lock(&r->qmu);
        r->busy--;
        if (late) r->n_dropped++;
        else r->n_sent++;
        pthread_cond_broadcast(&r->donecv);
    }
    pthread_mutex_unlock(&r->qmu);
    return NULL;
}

/* Queue body (taken) for the senders, one more started when none waits
 * for it (up to ZT_ORCH_SENDERS); sent on this thread when the queue is
 * full, when no sender could start, or when stopping. */
static void send_async(struct zt_orch_client *r, json_t *body)
{
    if (!body) return;
    pthread_mutex_lock(&r->qmu);
    bool queued = !r->qstop && r->qn < SENDS_QUEUED_MAX;
    if (queued) {
        r->q[(r->qhead + r->qn) % SENDS_QUEUED_MAX] = body;
        r->qn++;
        if (r->idle < r->qn && r->n_threads < ZT_ORCH_SENDERS &&
            pthread_create(&r->threads[r->n_threads], NULL, sender_main, r) == 0)
            r->n_threads++;
        if (!r->n_threads) { /* none could start: take it back, send it here */
            r->qn--;
            queued = false;
        }
        pthread_cond_signal(&r->qcv);
    }
    if (!queued) r->n_overflow++;
    pthread_mutex_unlock(&r->qmu);
    if (queued) return;
    zt_log_rl(ZT_LOG_WARN, 10, "orchestrator_verdict_inline",
              "reason=\"queue full (%d), no sender, or stopping\" action=sent_on_the_job_thread", SENDS_QUEUED_MAX);
    send_event(r, body, false); /* it waits (up to the orchestrator's verdict wait) */
    pthread_mutex_lock(&r->qmu);
    r->n_sent++;
    pthread_mutex_unlock(&r->qmu);
}

void zt_orch_client_verdict_counts(struct zt_orch_client *r, uint64_t *sent, uint64_t *dropped, uint64_t *overflow)
{
    pthread_mutex_lock(&r->qmu);
    if (sent) *sent = r->n_sent;
    if (dropped) *dropped = r->n_dropped;
    if (overflow) *overflow = r->n_overflow;
    pthread_mutex_unlock(&r->qmu);
}

void zt_orch_client_check_failed(struct zt_orch_client *r, const char *job_id, const char *checker, bool stalled)
{
    send_event(r,
               json_pack("{s:s,s:s,s:s,s:b}", "job_id", job_id, "worker", checker, "event", "check_failed", "stalled",
                         stalled),
               false);
}

/* ---- the verdict (docs/api.md POST /v1/orchestrator/report, event verdict) ---- */

/* Hex of len bytes as a JSON string (NULL when empty). */
static json_t *hex_json(const uint8_t *p, size_t len)
{
    char buf[2 * (ZT_CKPT_MAX_LEN > ZT_ENV_RECEIPT_MAX_LEN ? ZT_CKPT_MAX_LEN : ZT_ENV_RECEIPT_MAX_LEN) + 1];
    if (!len || len * 2 >= sizeof buf) return NULL;
    zt_hex_encode(buf, p, len);
    return json_string(buf);
}

/* Test only (docs/internals/orchestrator.md "Checkers report too"), with
 * ZT_TEST_MODE=1: ZT_TEST_DROP_CHECKER=1 makes this gateway lie in its
 * verdicts: it leaves its last answered checker out and claims what the
 * other answers decide (the orchestrator catches it with that checker's
 * own report). Without ZT_TEST_MODE=1 it is refused (logged, ignored). */
static bool test_drop_checker(void)
{
    const char *f = getenv("ZT_TEST_DROP_CHECKER");
    if (!f || strcmp(f, "1") != 0) return false;
    const char *tm = getenv("ZT_TEST_MODE");
    if (tm && strcmp(tm, "1") == 0) return true;
    zt_log_rl(ZT_LOG_ERROR, 60, "test_setting_refused", "name=ZT_TEST_DROP_CHECKER reason=\"needs ZT_TEST_MODE=1\"");
    return false;
}

/* The lying gateway's claim without checker `skip`: what the worker's and
 * the other checkers' answers decide. */
static const char *claim_without(const struct zt_orch_verdict *cr, size_t skip)
{
    struct zt_job_answer a[ZT_JOB_CHECKERS_MAX + 1];
    size_t n = 0;
    a[n++] = (struct zt_job_answer){.ckpt = cr->worker->checkpoint, .ckpt_len = cr->worker->checkpoint_len};
    for (size_t i = 0; i < cr->res->n; i++) {
        const struct zt_job_check_one *x = &cr->res->c[i];
        if (i == skip || !x->answered) continue;
        a[n++] = (struct zt_job_answer){.ckpt = x->checkpoint, .ckpt_len = x->checkpoint_len,
                                        .refused_ids = x->refused_ids};
    }
    return zt_job_check_verdict_name(zt_job_check_decide(a, n, NULL, NULL));
}

/* The verdict report of the gateway's checks, with their evidence. */
static json_t *verdict_report(const char *job_id, const struct zt_orch_verdict *cr)
{
    const char *claim = cr->verdict;
    size_t skip = SIZE_MAX;
    if (cr->res && cr->worker && cr->worker->checkpoint_len && test_drop_checker()) {
        for (size_t i = 0; i < cr->res->n; i++)
            if (cr->res->c[i].answered) skip = i;
        if (skip != SIZE_MAX) claim = claim_without(cr, skip);
    }
    json_t *w = json_array(), *c = json_array();
    for (size_t i = 0; w && i < cr->n_workers; i++) json_array_append_new(w, json_string(cr->workers[i]));
    for (size_t i = 0; c && cr->res && i < cr->res->n; i++) {
        const struct zt_job_check_one *x = &cr->res->c[i];
        if (!x->answered || i == skip) continue;
        json_array_append_new(c, json_pack("{s:s,s:b,s:b,s:o*,s:o*}", "node_id", x->node_id, "wrong", x->wrong,
                                           "refused", x->refused_ids, "checkpoint",
                                           hex_json(x->checkpoint, x->checkpoint_len), "receipt",
                                           hex_json(x->receipt, x->receipt_len)));
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:o}", "job_id", job_id, "event", "verdict", "verdict", claim,
                          "workers", w, "checkers", c);
    if (j && cr->worker) {
        json_object_set_new(j, "checkpoint", hex_json(cr->worker->checkpoint, cr->worker->checkpoint_len));
        json_object_set_new(j, "receipt", hex_json(cr->worker->receipt_bytes, cr->worker->receipt_len));
    }
    return j;
}

void zt_orch_client_verdict(struct zt_orch_client *r, const char *job_id, const struct zt_orch_verdict *v)
{
    send_async(r, verdict_report(job_id, v));
}
