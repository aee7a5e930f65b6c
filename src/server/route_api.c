/* route_api.c: local-first routing of LLM requests, the HTTP side. See
 * route_api.h and docs/internals/route.md.
 *
 * The protocol is src/jobs's: where the request runs (zt_route_decide),
 * the privacy gate's verdict over the prompt or every message's content
 * (zt_privacy_gate_check: refuse, masked with a restore map, or allow),
 * the sealed-job client (zt_job_call_*: body under the verdict, sealed to
 * the worker's KEM key, posted signed as this node, the result opened and
 * verified, pseudonyms restored as it streams) on a thread of the job pool.
 * This file parses the request, calls those, and renders the answer in
 * the shapes of local answers (openai.h, shared with llm_api.c): each opened
 * text chunk goes out (an SSE chunk, or into
 * the answer kept for the end); only once the receipt verifies does the
 * answer end as a success (the JSON object, or the last SSE chunk and
 * [DONE]); otherwise it ends as an error.
 *
 * Nothing of the prompt, the messages or the answer is logged; the logs
 * and the audit log name the job id, the worker and the PII types. */
#include "route_api.h"

#include "llm_api.h"

#include "cache_api.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "openai.h"
#include "orch_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_audit.h"
#include "zentalk/zt_bridge.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_verifier.h"

#define TEXT_MAX ((size_t)16 << 20)
#define WAIT_TICK_MS 100 /* a job waiting for a worker looks at its client this often */
#define GONE_CHECK_MS 10u  /* how often a job in flight looks whether its client went */
#define RAN_MAX 16       /* workers one placed job is sent to (orchestrator.max_attempts <= 10) */

struct peer_count {
    char id[ZT_IDENTITY_ID_SIZE];
    uint64_t ok, failed;
};

struct zt__route {
    const struct zt_config *cfg;
    struct zt_infer *ms;
    struct zt_peers *peers;
    struct zt_privacy_layer *pv;
    const struct zt_identity *id;
    struct zt_job_pool *pool; /* remote jobs in flight */
    struct zt__orch *orch;    /* this node's orchestrator, or NULL */
    struct zt_chain *chain;   /* chain.enabled: the books jobs are paid from (zt_ledger.h), or NULL */
    struct zt_rcache *cache;  /* the result cache (cache_api.h), or NULL */
    struct zt_bridge *bridge; /* webhooks to the API server (zt_bridge.h), or NULL */
    pthread_mutex_t mu;       /* per, waiting */
    pthread_cond_t cv;        /* a scheduler event arrived */
    struct rjob *waiting;     /* jobs placed through the scheduler (sched_next) */
    struct peer_count per[ZT__ROUTE_PEERS_MAX];
    size_t n_per;
    atomic_uint_fast64_t local, remote, failed, refused;
};

struct rjob {
    struct zt__route *r;
    struct zt_http_async *a;
    atomic_int refs;    /* the thread + on_close */
    atomic_bool closed; /* the client is gone */
    bool chat, stream, include_usage;
    char id[48];                       /* oa.id */
    char model[ZT_ENV_MODEL_MAX + 1];  /* oa.model */
    struct zt__openai_answer oa;
    struct zt_peer worker;
    char via[ZT_IDENTITY_ID_SIZE]; /* relay id, or "" */
    struct zt_privacy_verdict verdict; /* the gate's; the job borrows it */
    struct zt_job_call *job;
    /* failover to the next static peer (zt_jobs.h); first is j->worker */
    struct zt_route_picker rp;
    struct zt_job_failover fo;
    struct zt_job_worker first;
    struct zt_job_failover_stats fst; /* how many workers it took */
    /* answer state (the thread's only) */
    bool sse_started;
    int fail;               /* ZT_E* while answering */
    struct zt_buf text;     /* non-streamed answer (restored: wiped) */
    struct zt_rcache_req cache; /* the result cache: the key to store the answer under */
    char user[ZT_AUTH_ID_MAX];  /* the caller's identity, for the completion webhook */
    uint64_t start_ms;
    /* placed through the scheduler (r->orch): the job's id there, the body
     * kept to seal it again to another worker, and what the pump said
     * (under r->mu) */
    char sched_id[ZT_JOB_ID_SIZE];
    json_t *body;
    enum zt_job_kind kind;
    uint32_t max_tokens;
    char assigned[ZT_IDENTITY_ID_SIZE]; /* a worker to run it on now, or "" */
    /* the prices of the worker it was last sealed to, as its join record
     * said then: a worker that rejoins dearer mid-job is not paid more */
    struct zt_ledger_rate placed_rate;
    char placed_of[ZT_IDENTITY_ID_SIZE]; /* "" = none known */
    bool sched_failed;
    struct rjob *sched_next;
    /* the scheduler as the failover's picker (the job thread's only): the
     * last attempt the failover loop reported, not yet told to the
     * scheduler (the next pick tells it, or the thread once the loop ends) */
    struct zt_job_picker sp;
    uint64_t until;                     /* mono ms: the longest wait for a worker */
    bool pending;
    bool told;                          /* a pick told the last failure, and no attempt began since */
    char pend_worker[ZT_IDENTITY_ID_SIZE];
    enum zt_job_attempt pend_a;
    /* verification (docs/internals/orchestrator.md "Verification"): the
     * ids streamed, the workers that had the job, who asked, what the
     * answer says */
    int32_t *ids;
    size_t n_ids, cap_ids;
    bool ids_oom;
    char ran[RAN_MAX][ZT_IDENTITY_ID_SIZE];
    size_t n_ran;
    const uint8_t *check_ckpt;          /* while checking: the worker's signed FINAL checkpoint (its subject) */
    size_t check_ckpt_len;
    char caller[ZT_AUTH_ID_MAX];        /* the caller's identity ("" anonymous), for the exemptions */
    char audit_who[ZT_PSEUDOID_STR + 8]; /* the same as the audit log names it */
    char request_id[64];
    unsigned replicas;                  /* replicated execution asked (zentalk.replicas); 0: none */
    uint64_t price_ceiling;             /* zentalk.max_price_per_1k (base units); 0: none */
    const char *verification;           /* what the answer says; NULL: "receipt" */
    char remote_verify[32];             /* a remote orchestrator's draw for a check ("": none) */
    json_t *checks;                     /* the workers that checked it, for the answer */
    uint64_t gone_ns;                   /* mono ns: when on_cancelled last looked at the client's socket */
};

/* ---- lifecycle ------------------------------------------------------------ */

static bool id_ok(const char *s)
{
    return !s || !s[0] || zt_identity_id_valid(s);
}

int zt__route_new(const struct zt_config *cfg, struct zt_infer *ms, struct zt_peers *peers, struct zt_privacy_layer *pv,
                  struct zt__route **out)
{
    if (!id_ok(cfg->encryption.remote_worker) || !id_ok(cfg->encryption.relay)) {
        zt_log(ZT_LOG_ERROR, "config_invalid",
               "key=encryption.remote_worker/encryption.relay reason=\"must be a node id (zt1 and 32 characters of "
               "a-z, 2-7) or empty\"");
        return ZT_ECONFIG;
    }
    struct zt__route *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    int rc = zt_job_pool_new((unsigned)cfg->encryption.remote_max_inflight, &r->pool);
    if (rc) {
        zt_free(r);
        return rc;
    }
    r->cfg = cfg;
    r->ms = ms;
    r->peers = peers;
    r->pv = pv;
    pthread_mutex_init(&r->mu, NULL);
    zt_cond_init_mono(&r->cv);
    *out = r;
    return 0;
}

void zt__route_set_identity(struct zt__route *r, const struct zt_identity *id)
{
    if (r) r->id = id;
}

void zt__route_set_orch(struct zt__route *r, struct zt__orch *o)
{
    if (r) r->orch = o;
}

void zt__route_set_chain(struct zt__route *r, struct zt_chain *c)
{
    if (r) r->chain = c;
}

void zt__route_set_cache(struct zt__route *r, struct zt_rcache *c)
{
    if (r) r->cache = c;
}

void zt__route_set_bridge(struct zt__route *r, struct zt_bridge *b)
{
    if (r) r->bridge = b;
}

static struct zt__cache_env cache_env(const struct zt__route *r)
{
    return (struct zt__cache_env){.cache = r->cache, .cfg = r->cfg, .id = r->id, .chain = r->chain, .bridge = r->bridge,
                                  .pv = r->pv};
}

void zt__route_shutdown(struct zt__route *r, uint64_t wait_ms)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu); /* jobs waiting for a worker see the pool stopping */
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    zt_ignore(zt_job_pool_shutdown(r->pool, wait_ms));
}

void zt__route_free(struct zt__route *r)
{
    if (!r) return;
    if (zt_job_pool_close(r->pool, 10000, "route") != 0) return; /* its threads hold r: leak r too */
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    zt_free(r);
}

void zt__route_stats(struct zt__route *r, struct zt__route_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return;
    out->local = atomic_load(&r->local);
    out->remote = atomic_load(&r->remote);
    out->remote_failed = atomic_load(&r->failed);
    out->refused = atomic_load(&r->refused);
    out->inflight = zt_job_pool_inflight(r->pool);
}

static int m_jobs(void *ud, struct zt_metrics_out *o)
{
    struct zt__route_stats st;
    zt__route_stats(ud, &st);
    int rc = zt_metrics_emit_u64(o, NULL, "where=\"local\"", st.local);
    return rc ? rc : zt_metrics_emit_u64(o, NULL, "where=\"remote\"", st.remote);
}

/* fams[1..3]: one unlabelled sample each. */
static int m_one(void *ud, struct zt_metrics_out *o)
{
    struct zt__route_stats st;
    zt__route_stats(ud, &st);
    const uint64_t v[] = {0, st.remote_failed, st.refused, st.inflight};
    return zt_metrics_emit_u64(o, NULL, NULL, v[zt_metrics_out_index(o)]);
}

int zt__route_register_metrics(struct zt__route *r, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_jobs_total", "Completion and chat requests, by where they ran.", ZT_METRIC_COUNTER, m_jobs},
        {"zentalk_remote_jobs_failed_total", "Remote jobs that failed (unreachable, refused, unverified).",
         ZT_METRIC_COUNTER, m_one},
        {"zentalk_jobs_refused_total",
         "Requests kept on this node by the privacy policy (local_only) with no local model.", ZT_METRIC_COUNTER,
         m_one},
        {"zentalk_remote_jobs_in_flight", "Remote jobs in progress.", ZT_METRIC_GAUGE, m_one},
    };
    return zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], r);
}

json_t *zt__route_peer_counts(struct zt__route *r)
{
    json_t *o = json_object();
    if (!o || !r) return o;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_per; i++)
        json_object_set_new(o, r->per[i].id,
                            json_pack("{s:I,s:I}", "ok", (json_int_t)r->per[i].ok, "failed", (json_int_t)r->per[i].failed));
    pthread_mutex_unlock(&r->mu);
    return o;
}

static void count_peer(struct zt__route *r, const char *id, bool ok)
{
    atomic_fetch_add(ok ? &r->remote : &r->failed, 1);
    pthread_mutex_lock(&r->mu);
    size_t i = 0;
    while (i < r->n_per && strcmp(r->per[i].id, id) != 0) i++;
    if (i == r->n_per && r->n_per < ZT__ROUTE_PEERS_MAX) zt_strlcpy(r->per[r->n_per++].id, id, sizeof r->per[0].id);
    if (i < r->n_per) {
        if (ok) r->per[i].ok++;
        else r->per[i].failed++;
    }
    pthread_mutex_unlock(&r->mu);
}

static void wipe_buf(struct zt_buf *b)
{
    if (b->data) sodium_memzero(b->data, b->cap);
    zt_buf_deinit(b);
}

static void job_unref(struct rjob *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1) return;
    zt_job_call_free(j->job);
    json_decref(j->body);
    json_decref(j->checks);
    zt_free(j->ids);
    zt_privacy_verdict_deinit(&j->verdict);
    wipe_buf(&j->text);
    zt_rcache_req_deinit(&j->cache);
    zt_free(j);
}

static void on_client_close(void *ud)
{
    struct rjob *j = ud;
    atomic_store(&j->closed, true);
    job_unref(j);
}

static bool aborted(const struct rjob *j)
{
    return atomic_load(&j->closed) || zt_job_pool_stopping(j->r->pool);
}

/* ---- the answer: the shapes of local answers (openai.h) ----------------- */

static void sse(struct rjob *j, json_t *o)
{
    int rc = zt__openai_sse(j->a, o);
    if (rc && !j->fail) j->fail = rc;
}

/* "zentalk": where it ran and the proof: the worker's sequence hash and
 * build, its node id, the job id and the signed receipt (hex, written to
 * rec: 2 * receipt_len + 1 bytes). */
static struct zt__openai_ran ran_on(const struct rjob *j, const struct zt_sealed_result *res, char *rec)
{
    zt_hex_encode(rec, res->receipt_bytes, res->receipt_len);
    return (struct zt__openai_ran){.seq_hash = res->receipt.seq_chain,
                                   .engine = res->receipt.build_id,
                                   .ran_on = j->worker.node_id,
                                   .job_id = zt_job_call_id(j->job),
                                   .receipt_hex = rec,
                                   .via = j->via[0] ? j->via : NULL,
                                   .verification = j->verification ? j->verification : "receipt",
                                   .checks = j->checks};
}

static bool sse_start(struct rjob *j)
{
    if (j->sse_started) return true;
    if (zt_http_async_stream_start(j->a, 200, "text/event-stream") != 0) return false;
    j->sse_started = true;
    return true;
}

/* Restored text for the client. */
static void emit(struct rjob *j, const char *text, size_t len)
{
    if (!len || j->fail) return;
    zt_rcache_req_text(&j->cache, text, len);
    if (!j->stream) {
        if (zt_buf_append(&j->text, text, len) != 0) j->fail = ZT_ETOOBIG;
        return;
    }
    if (!sse_start(j)) {
        j->fail = ZT_ECLOSED;
        return;
    }
    sse(j, zt__openai_chunk(&j->oa, text, len, NULL));
}

static void answer_error(struct rjob *j, int status, const char *code, const char *msg)
{
    /* streaming: an error event and no [DONE] */
    zt__openai_fail(j->a, j->sse_started, status, code, msg);
}

static void answer_ok(struct rjob *j, const struct zt_sealed_result *res)
{
    const char *finish = res->final.finish_reason;
    if (j->stream && !sse_start(j)) return;
    char *rec = zt_malloc(2 * res->receipt_len + 1);
    if (!rec) {
        answer_error(j, 503, "overloaded", "out of memory");
        return;
    }
    struct zt__openai_ran ran = ran_on(j, res, rec);
    struct zt__openai_usage u = {res->final.prompt_tokens, res->final.completion_tokens, 0};
    if (!j->fail) /* stored before the answer goes out: a client that asks again at once gets the hit */
        zt_rcache_req_done(j->r->cache, &j->cache, res, j->worker.node_id);
    if (j->stream) {
        sse(j, zt__openai_final_chunk(&j->oa, finish, &ran));
        if (j->include_usage) sse(j, zt__openai_usage_chunk(&j->oa, &u));
        zt__openai_sse_done(j->a);
    } else {
        zt__openai_respond(j->a,
                           zt__openai_completion(&j->oa, zt_buf_str(&j->text), j->text.len, finish, &u, &ran));
    }
    zt_free(rec);
}

/* An opened (authenticated, not yet verified) text chunk, pseudonyms
 * restored by the job client. */
static int on_text(void *ud, const char *text, size_t len)
{
    struct rjob *j = ud;
    while (j->sse_started && zt_http_async_pending(j->a) > ZT__ROUTE_BUFFER_MAX) { /* a slow client */
        if (aborted(j)) return ZT_ECLOSED;
        zt_time_sleep_ms(2);
    }
    emit(j, text, len);
    return j->fail;
}

static bool on_cancelled(void *ud)
{
    struct rjob *j = ud;
    if (aborted(j)) return true;
    /* the client's socket at most every GONE_CHECK_MS: the HTTP client
     * asks on each of its callbacks (dozens per job), and each look is a
     * poll(2) under the connection's lock */
    uint64_t now = zt_time_mono_ns();
    if (now - j->gone_ns < GONE_CHECK_MS * 1000000u) return false;
    j->gone_ns = now;
    if (zt_http_async_client_gone(j->a)) { /* gone while we waited for the worker */
        atomic_store(&j->closed, true);
        return true;
    }
    return false;
}

/* The worker (or relay) answered something other than a sealed result. */
static void worker_refused(struct rjob *j, long st, char *msg, size_t msg_size)
{
    size_t alen;
    const char *answer = zt_job_call_answer(j->job, &alen);
    json_t *e = json_loadb(answer, alen, 0, NULL);
    json_t *eo = json_object_get(e, "error");
    const char *code = json_string_value(json_object_get(eo, "code"));
    const char *text = json_string_value(json_object_get(eo, "message"));
    /* the request's own faults (checked by the worker's request builder)
     * and the worker's load pass through as the worker put them */
    if ((st == 400 || st == 413 || st == 503) && code && text) {
        snprintf(msg, msg_size, "%s (worker %s)", text, j->worker.node_id);
        answer_error(j, (int)st, code, msg);
    } else {
        snprintf(msg, msg_size, "worker %s refused the job: HTTP %ld%s%s", j->worker.node_id, st, code ? " " : "",
                 code ? code : "");
        answer_error(j, 502, "worker_refused", msg);
    }
    json_decref(e);
}

/* The ids the workers stream (what a verifier is given). */
static void on_ids(void *ud, const int32_t *ids, size_t n)
{
    struct rjob *j = ud;
    if (j->ids_oom) return;
    int32_t *v = zt_array_grow(j->ids, &j->cap_ids, j->n_ids + n, sizeof *v, 256);
    if (!v) {
        j->ids_oom = true; /* the job goes on; it cannot be verified */
        return;
    }
    j->ids = v;
    memcpy(j->ids + j->n_ids, ids, n * sizeof *ids);
    j->n_ids += n;
}

/* Send the job to its worker; *o is always written. */
static void send_job(struct rjob *j, struct zt_job_outcome *o)
{
    j->start_ms = zt_time_mono_ms();
    j->n_ids = 0;
    struct zt_job_hooks hooks = {.text = on_text, .cancelled = on_cancelled, .ud = j, .ids = on_ids};
    int rc;
    j->fst = (struct zt_job_failover_stats){0};
    if (j->fo.picker) /* static peers: the next one continues a stream its worker dropped */
        rc = zt_job_call_send_failover(&j->job, &j->first, &j->fo, &hooks, o, &j->fst);
    else
        rc = zt_job_call_send(j->job, &hooks, o);
    if (rc != 0) {
        memset(o, 0, sizeof *o);
        o->status = ZT_JOB_UNREACHABLE;
        zt_strlcpy(o->transport, "cannot set up the HTTP client", sizeof o->transport);
    }
    if (j->fst.last_worker[0]) zt_strlcpy(j->worker.node_id, j->fst.last_worker, sizeof j->worker.node_id);
}

/* Answer the client after the job's outcome; returns the outcome's name
 * for the log ("ok", "client_gone", "refused", ...). */
static const char *answer_outcome(struct rjob *j, const struct zt_job_outcome *o)
{
    const char *outcome = "ok";
    char msg[512];
    if (atomic_load(&j->closed)) {
        /* resume a suspended connection so it is freed (nobody reads it) */
        if (!j->sse_started) answer_error(j, 502, "client_gone", "the client went away");
        else zt_http_async_fail(j->a);
        return "client_gone";
    }
    switch (o->status) {
    case ZT_JOB_VERIFIED: answer_ok(j, &o->result); break;
    case ZT_JOB_UNVERIFIED: {
        outcome = "unverified";
        const char *why = o->rc == ZT_ETOOBIG ? "the answer is too large" : o->why[0] ? o->why : zt_strerror(o->rc);
        snprintf(msg, sizeof msg, "the result from worker %s did not verify (%s%s%s); it is not passed on as good",
                 j->worker.node_id, why, o->transport[0] ? "; transport: " : "", o->transport);
        answer_error(j, 502, "unverified_result", msg);
        break;
    }
    case ZT_JOB_REFUSED:
        outcome = "refused";
        worker_refused(j, o->http_status, msg, sizeof msg);
        break;
    case ZT_JOB_TIMEOUT:
        outcome = "timeout";
        snprintf(msg, sizeof msg, "worker %s did not answer in time (encryption.remote_timeout_s)", j->worker.node_id);
        answer_error(j, 504, "worker_timeout", msg);
        break;
    case ZT_JOB_CANCELLED:
    case ZT_JOB_UNREACHABLE:
        if (zt_job_pool_stopping(j->r->pool)) {
            answer_error(j, 503, "shutting_down", "the node is shutting down");
            return "shutdown";
        }
        outcome = "unreachable";
        snprintf(msg, sizeof msg, "worker %s%s%s could not be reached", j->worker.node_id,
                 j->via[0] ? " via relay " : "", j->via);
        answer_error(j, 502, "worker_unreachable", msg);
        break;
    }
    return outcome;
}

static void log_done(struct rjob *j, const struct zt_job_outcome *o, const char *outcome)
{
    bool ok = strcmp(outcome, "ok") == 0;
    if (strcmp(outcome, "retry") != 0)
        zt_bridge_job_completed(j->r->bridge, j->sched_id[0] ? j->sched_id : j->job ? zt_job_call_id(j->job) : NULL,
                                j->user, j->model, j->worker.node_id, outcome, o->result.final.prompt_tokens,
                                o->result.final.completion_tokens, zt_time_mono_ms() - j->start_ms);
    if (strcmp(outcome, "client_gone") != 0) count_peer(j->r, j->worker.node_id, ok);
    zt_log(ok ? ZT_LOG_INFO : ZT_LOG_WARN, "remote_job_done",
           "job_id=%s sched_job=%s worker=%s workers=%u via=%s model=%s outcome=%s worker_status=%ld prompt_tokens=%u "
           "completion_tokens=%u duration_ms=%llu",
           j->job ? zt_job_call_id(j->job) : "-", j->sched_id[0] ? j->sched_id : "-", j->worker.node_id,
           j->fst.workers, j->via[0] ? j->via : "-", j->model, outcome, o->http_status,
           (unsigned)o->result.final.prompt_tokens, (unsigned)o->result.final.completion_tokens,
           (unsigned long long)(zt_time_mono_ms() - j->start_ms));
}

static void run_job(void *arg)
{
    struct rjob *j = arg;
    struct zt_job_outcome o;
    send_job(j, &o);
    log_done(j, &o, answer_outcome(j, &o));
    zt_http_async_release(j->a);
    job_unref(j);
}

/* ---- jobs placed by the scheduler (this node's orchestrator) ------------ */

/* A worker's own prices from its join record's caps (decimal strings of
 * base units): false when they do not parse (a worker known through a
 * remote orchestrator of an older build, which does not send them). */
static bool caps_rate(const struct zt_worker_caps *c, struct zt_ledger_rate *out)
{
    zt_u128 p, q;
    if (zt_u128_parse(c->price_prompt, strlen(c->price_prompt), &p) ||
        zt_u128_parse(c->price_completion, strlen(c->price_completion), &q))
        return false;
    out->prompt_per_1k = p;
    out->completion_per_1k = q;
    return true;
}

/* The body under the verdict, sealed to worker w, posted straight to it. */
static int make_call(struct rjob *j, const struct zt_peer *w, uint64_t now)
{
    const struct zt_config *cfg = j->r->cfg;
    struct zt_job_spec spec = {
        .model = j->model,
        .max_tokens = j->max_tokens,
        .max_price = j->price_ceiling, /* the worker enforces it too */
        .stream = true,
        .ttl_s = (uint64_t)cfg->encryption.job_ttl_s,
        .now = now,
        .suite = zt_str_eq(cfg->encryption.aead, "aes256gcm") ? ZT_HPKE_SUITE_AES256GCM : ZT_HPKE_SUITE_CHACHA,
        .worker_id = w->node_id,
        .worker_kem_pk = w->kem_pk,
        .worker_sign_pk = w->ed25519_pk,
    };
    int rc = zt_job_call_new(j->body, j->kind, &j->verdict, &spec, &j->job);
    if (rc) return rc;
    struct zt_node_info wi;
    j->placed_of[0] = '\0';
    if (j->r->chain && zt__orch_worker(j->r->orch, w->node_id, &wi) == 0 && caps_rate(&wi.caps, &j->placed_rate))
        zt_strlcpy(j->placed_of, w->node_id, sizeof j->placed_of);
    long t_ms = (long)cfg->encryption.remote_timeout_s * 1000L;
    struct zt_job_target target = {
        .base_url = w->endpoint,
        .sign_as = j->r->id,
        .recipient_id = w->node_id,
        .now = (int64_t)now,
        .connect_timeout_ms = t_ms < 10000L ? t_ms : 10000L,
        .first_byte_timeout_ms = t_ms,
        .idle_timeout_ms = t_ms,
    };
    rc = zt_job_call_target(j->job, &target);
    if (rc) return rc;
    /* a worker that dies or stalls mid-stream: the scheduler gives the
     * next one, which continues the stream (resumable streams) */
    memset(&j->first, 0, sizeof j->first);
    zt_strlcpy(j->first.node_id, w->node_id, sizeof j->first.node_id);
    memcpy(j->first.kem_pk, w->kem_pk, sizeof j->first.kem_pk);
    memcpy(j->first.sign_pk, w->ed25519_pk, sizeof j->first.sign_pk);
    zt_strlcpy(j->first.base_url, w->endpoint, sizeof j->first.base_url);
    zt_strlcpy(j->first.recipient_id, w->node_id, sizeof j->first.recipient_id);
    j->fo = (struct zt_job_failover){.picker = &j->sp, .spec = spec, .target = target,
                                     .stall_ms = (long)cfg->encryption.remote_stall_ms,
                                     .max_workers = (unsigned)cfg->orchestrator.max_attempts};
    j->fo.spec.model = j->model;
    j->fo.target.base_url = j->fo.target.recipient_id = NULL; /* per worker */
    return 0;
}

static void unlink_waiting(struct zt__route *r, struct rjob *j)
{
    pthread_mutex_lock(&r->mu);
    for (struct rjob **pp = &r->waiting; *pp; pp = &(*pp)->sched_next)
        if (*pp == j) {
            *pp = j->sched_next;
            break;
        }
    pthread_mutex_unlock(&r->mu);
}

void zt__route_sched_event(void *ud, const struct zt_sched_event *ev)
{
    struct zt__route *r = ud;
    if (ev->kind == ZT_SCHED_EV_REQUEUED) return; /* its thread learns it when the call fails */
    pthread_mutex_lock(&r->mu);
    struct rjob *j = r->waiting;
    while (j && strcmp(j->sched_id, ev->job_id) != 0) j = j->sched_next;
    if (j && ev->kind == ZT_SCHED_EV_ASSIGNED) zt_strlcpy(j->assigned, ev->worker, sizeof j->assigned);
    if (j && ev->kind == ZT_SCHED_EV_FAILED) j->sched_failed = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    /* a job nobody waits for (its client went, or it outlived a restart of
     * this node): free the worker's slot */
    if (!j && ev->kind == ZT_SCHED_EV_ASSIGNED) zt_ignore(zt_sched_job_cancel(zt__orch_sched(r->orch), ev->job_id,
                                                                             zt_time_real_ms()));
}

/* Wait until the pump assigns the job (or fails it, or the client goes);
 * true with worker set when assigned. */
static bool wait_assigned(struct rjob *j, uint64_t until_mono, char worker[static ZT_IDENTITY_ID_SIZE])
{
    struct zt__route *r = j->r;
    pthread_mutex_lock(&r->mu);
    while (!j->assigned[0] && !j->sched_failed && !aborted(j) && !zt_http_async_client_gone(j->a) &&
           zt_time_mono_ms() < until_mono) {
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, WAIT_TICK_MS);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    bool got = j->assigned[0] != '\0';
    zt_strlcpy(worker, j->assigned, ZT_IDENTITY_ID_SIZE);
    j->assigned[0] = '\0';
    pthread_mutex_unlock(&r->mu);
    return got;
}

/* Wait for the job's next worker: true with worker set; false when the
 * job failed, nobody can take it any more, the client went or the node
 * stops, or j->until passed. */
static bool await_worker(struct rjob *j, char worker[static ZT_IDENTITY_ID_SIZE])
{
    if (zt__orch_is_remote(j->r->orch)) { /* the orchestrator in another process: its lease answers */
        if (wait_assigned(j, zt_time_mono_ms(), worker)) return true; /* the submission's own */
        while (!j->sched_failed && !aborted(j) && !zt_http_async_client_gone(j->a) && zt_time_mono_ms() < j->until) {
            uint64_t left = j->until - zt_time_mono_ms();
            int got = zt__orch_wait_remote(j->r->orch, j->sched_id, left < 1000 ? (long)left : 1000L, worker);
            if (got > 0) return true;
            if (got < 0) j->sched_failed = true;
        }
        return false;
    }
    bool got;
    /* a second at a time: a job no worker can take any more (they failed
     * it, left or expired) gives up instead of waiting */
    while (!(got = wait_assigned(j, zt_time_mono_ms() + 1000 < j->until ? zt_time_mono_ms() + 1000 : j->until,
                                 worker)) &&
           !j->sched_failed && !aborted(j) && !zt_http_async_client_gone(j->a) && zt_time_mono_ms() < j->until &&
           zt__orch_job_servable(j->r->orch, j->sched_id))
        ;
    return got;
}

/* Tell the scheduler how the last attempt went (charge: the worker's
 * fault); returns the job's state after it. */
static enum zt_job_state tell_sched(struct rjob *j, const char *worker, enum zt_job_attempt a, bool charge,
                                    bool unreachable)
{
    struct zt__route *r = j->r;
    /* charged, requeued or failed by the scheduler's rules; one that cannot
     * be reached at all is dropped until it joins again (zt__orch_job_failed) */
    enum zt_job_state st =
        zt__orch_job_failed(r->orch, j->sched_id, worker, a == ZT_JOB_ATTEMPT_STALLED, charge, unreachable);
    if (charge) {
        count_peer(r, worker, false);
        zt__orch_note_retry(r->orch, a == ZT_JOB_ATTEMPT_DIED      ? "unreachable"
                                     : a == ZT_JOB_ATTEMPT_REFUSED ? "refused"
                                     : a == ZT_JOB_ATTEMPT_STALLED ? "timeout"
                                                                   : "unverified");
    }
    zt__orch_kick(r->orch);
    return st;
}

/* The failover loop's report: a good one goes to the scheduler now, a
 * failure waits for the next pick (or for the thread, which knows the
 * whole outcome). */
static void sched_report(void *ud, const struct zt_job_worker *w, enum zt_job_attempt a, uint32_t tokens)
{
    struct rjob *j = ud;
    if (a == ZT_JOB_ATTEMPT_OK) {
        zt__orch_job_ok(j->r->orch, j->sched_id, w->node_id, tokens, j->replicas > 0, j->remote_verify,
                        sizeof j->remote_verify);
        return;
    }
    j->pending = true;
    zt_strlcpy(j->pend_worker, w->node_id, sizeof j->pend_worker);
    j->pend_a = a;
}

/* The worker at node_id from the registry, started on the job. */
static int sched_start(struct rjob *j, const char *worker)
{
    struct zt_node_info ni;
    int rc = zt__orch_job_start(j->r->orch, j->sched_id, worker, &ni);
    if (rc) return rc;
    memset(&j->worker, 0, sizeof j->worker);
    zt_strlcpy(j->worker.node_id, worker, sizeof j->worker.node_id);
    memcpy(j->worker.ed25519_pk, ni.ed25519_pk, sizeof j->worker.ed25519_pk);
    memcpy(j->worker.kem_pk, ni.kem_pk, sizeof j->worker.kem_pk);
    zt_strlcpy(j->worker.endpoint, ni.endpoint, sizeof j->worker.endpoint);
    bool seen = false;
    for (size_t i = 0; i < j->n_ran; i++) seen |= strcmp(j->ran[i], worker) == 0;
    if (!seen && j->n_ran < RAN_MAX) zt_strlcpy(j->ran[j->n_ran++], worker, sizeof j->ran[0]);
    return 0;
}

/* The failover loop's pick: the failed attempt is the worker's fault (the
 * loop fails over only then), the scheduler requeues the job, and the
 * next worker it assigns continues it. */
static int sched_pick(void *ud, const char *const *exclude, size_t n, struct zt_job_worker *out)
{
    (void)exclude, (void)n; /* the scheduler's business: the failed worker was charged */
    struct rjob *j = ud;
    if (j->pending) {
        j->pending = false;
        j->told = true;
        enum zt_job_state st = tell_sched(j, j->pend_worker, j->pend_a, true, j->pend_a == ZT_JOB_ATTEMPT_DIED);
        if (st != ZT_JOB_STATE_QUEUED && st != ZT_JOB_STATE_ASSIGNED) return ZT_ENOTFOUND;
    }
    char worker[ZT_IDENTITY_ID_SIZE];
    for (int tries = 0; tries < 3; tries++) {
        if (!await_worker(j, worker)) return ZT_ENOTFOUND;
        if (sched_start(j, worker) == 0) break;
        if (tries == 2) return ZT_ENOTFOUND;
        /* gone meanwhile: back to the queue */
        zt_ignore(zt__orch_job_failed(j->r->orch, j->sched_id, worker, false, true, false));
    }
    memset(out, 0, sizeof *out);
    zt_strlcpy(out->node_id, worker, sizeof out->node_id);
    memcpy(out->kem_pk, j->worker.kem_pk, sizeof out->kem_pk);
    memcpy(out->sign_pk, j->worker.ed25519_pk, sizeof out->sign_pk);
    zt_strlcpy(out->base_url, j->worker.endpoint, sizeof out->base_url);
    zt_strlcpy(out->recipient_id, worker, sizeof out->recipient_id);
    j->told = false; /* a new attempt */
    zt_log(ZT_LOG_INFO, "sched_failover", "sched_job=%s worker=%s", j->sched_id, worker);
    return 0;
}

/* ---- verification: other workers check the answer ------------------------- */

/* The checker of a round: the orchestrator's keyed choice (zt_verifier.h),
 * a live worker of the model on the worker's engine build, none that had
 * the job. */
static int check_pick(void *ud, unsigned round, const char *const *exclude, size_t n, struct zt_job_worker *out)
{
    struct rjob *j = ud;
    struct zt_node_info ni;
    int rc = zt__orch_check_pick(j->r->orch, j->sched_id, j->model, j->worker.node_id, j->worker.ed25519_pk,
                                 j->check_ckpt, j->check_ckpt_len, round, exclude, n, &ni);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    zt_strlcpy(out->node_id, ni.node_id, sizeof out->node_id);
    memcpy(out->kem_pk, ni.kem_pk, sizeof out->kem_pk);
    memcpy(out->sign_pk, ni.ed25519_pk, sizeof out->sign_pk);
    zt_strlcpy(out->base_url, ni.endpoint, sizeof out->base_url);
    zt_strlcpy(out->recipient_id, ni.node_id, sizeof out->recipient_id);
    return 0;
}

/* A checker that failed its check: charged as a failed job. */
static void check_failed(void *ud, const struct zt_job_worker *w, enum zt_job_attempt a)
{
    struct rjob *j = ud;
    zt__orch_check_failed(j->r->orch, j->sched_id, w->node_id, a == ZT_JOB_ATTEMPT_STALLED);
}

/* The audit log: every extra worker the user's text was sealed to (which
 * job, which nodes, why). Never content. */
static void audit_disclosure(struct rjob *j, const struct zt_job_check_result *res, bool replica)
{
    struct zt_audit *a = zt_privacy_layer_audit_log(j->r->pv);
    if (!a || !res->n) return;
    const char *nodes[ZT_JOB_CHECKERS_MAX];
    for (const char *const *reason = (const char *const[]){replica ? "replica" : "verification", "arbitration", NULL};
         *reason; reason++) {
        size_t n = 0;
        bool arb = strcmp(*reason, "arbitration") == 0;
        for (size_t i = 0; i < res->n; i++)
            if ((strcmp(res->c[i].role, "arbiter") == 0) == arb) nodes[n++] = res->c[i].node_id;
        if (!n) continue;
        struct zt_audit_event ev = {
            .kind = "disclosure",
            .identity = j->audit_who,
            .feature = zt_job_kind_feature(j->kind),
            .job_id = j->sched_id,
            .request_id = j->request_id[0] ? j->request_id : NULL,
            .decision = "remote",
            .outcome = "sent",
            .nodes = nodes,
            .n_nodes = n,
            .reason = *reason,
        };
        int rc = zt_audit_record(a, &ev);
        if (rc)
            zt_log_rl(ZT_LOG_ERROR, 1, "audit_write_failed", "error=\"%s\" sched_job=%s", zt_strerror(rc), j->sched_id);
    }
}

/* Charge what the checks decided: the one place a verification costs a
 * worker anything. zt_verifier_settle moves the job (verified, or failed
 * with verification_mismatch) and reports the outcomes to the registry
 * (the loser: ZT_OUTCOME_CHEAT, banned at once). The ledger's slashing
 * (chain.slash_amount) hangs here: the losers are res's wrong checkers
 * and, for WORKER_WRONG, j->ran. */
static void settle_verification(struct rjob *j, const char *verdict, const struct zt_job_check_result *res,
                                const struct zt_job_outcome *o)
{
    const char *workers[RAN_MAX + 1];
    size_t nw = 0;
    workers[nw++] = j->worker.node_id; /* the last worker first */
    for (size_t i = 0; i < j->n_ran; i++)
        if (strcmp(j->ran[i], j->worker.node_id) != 0) workers[nw++] = j->ran[i];
    struct zt_orch_verdict cr = {
        .verdict = verdict, .workers = workers, .n_workers = nw, .res = res, .worker = &o->result};
    zt__orch_check_settle(j->r->orch, j->sched_id, &cr);
}

/* A check that settles nothing ("none", "unavailable"). */
static void settle_none(struct rjob *j, const char *verdict)
{
    struct zt_orch_verdict cr = {.verdict = verdict};
    zt__orch_check_settle(j->r->orch, j->sched_id, &cr);
}

/* The answer's "checks": who checked, in which role, whether it agreed,
 * and its signed receipt. */
static json_t *checks_json(const struct zt_job_check_result *res)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < res->n; i++) {
        const struct zt_job_check_one *c = &res->c[i];
        char rec[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
        zt_hex_encode(rec, c->receipt, c->receipt_len);
        json_array_append_new(a, json_pack("{s:s,s:s,s:b,s:b,s:s?}", "node", c->node_id, "role", c->role, "answered",
                                           c->answered, "agrees", c->agrees, "receipt",
                                           c->receipt_len ? rec : NULL));
    }
    return a;
}

/* Verify a job that returned a verified result, when the orchestrator's
 * draw (or the worker's newness or reputation, or the request's replicas)
 * says so and privacy.yaml does not exempt it. False: the worker's
 * answer lost (the caller answers an error). */
static bool check_job(struct rjob *j, const struct zt_job_outcome *o)
{
    struct zt__route *r = j->r;
    /* the draw: this node's verifier, or a remote orchestrator's (its
     * answer to the ok report; docs/internals/orchestrator.md "Leases") */
    bool remote = zt__orch_is_remote(r->orch);
    int64_t now = zt_time_real_ms();
    const char *why;
    if (j->replicas) why = "replicas";
    else if (remote) why = j->remote_verify[0] ? j->remote_verify : NULL;
    else {
        enum zt_verify_reason vr = zt_verifier_sample(zt__orch_verifier(r->orch), j->sched_id, j->worker.node_id, now);
        why = vr == ZT_VERIFY_NONE ? NULL : zt_verify_reason_name(vr);
    }
    if (!why) return true; /* "receipt" */
    const char *exempt = zt_privacy_verification_exempt(&r->cfg->privacy, zt_job_kind_feature(j->kind), j->caller);
    if (exempt) {
        j->verification = "exempt";
        zt_log(ZT_LOG_INFO, "job_check_exempt", "sched_job=%s by=%s", j->sched_id, exempt);
        if (remote) settle_none(j, "none");
        return true;
    }
    if (!o->result.checkpoint_len || j->ids_oom) { /* nothing to compare: the receipt */
        if (remote) settle_none(j, "none");
        return true;
    }
    const char *ran[RAN_MAX];
    for (size_t i = 0; i < j->n_ran; i++) ran[i] = j->ran[i];
    const struct zt_config *cfg = r->cfg;
    long t_ms = (long)cfg->encryption.remote_timeout_s * 1000L;
    struct zt_job_hooks h = {.cancelled = on_cancelled, .ud = j};
    struct zt_job_check_req req = {
        .job = j->job,
        .ckpt = o->result.checkpoint,
        .ckpt_len = o->result.checkpoint_len,
        .worker_pk = j->worker.ed25519_pk,
        .ids = j->ids,
        .n_ids = j->n_ids,
        .ran = ran,
        .n_ran = j->n_ran,
        .mode = j->replicas ? ZT_JOB_CHECK_REPLICA : ZT_JOB_CHECK_TEACHER_FORCED,
        .replicas = j->replicas,
        .spec = j->fo.spec,
        .target = j->fo.target,
        .hooks = &h,
    };
    req.spec.now = (uint64_t)(now / 1000);
    req.target.now = now / 1000;
    req.target.first_byte_timeout_ms = req.target.idle_timeout_ms = t_ms;
    struct zt_job_checker ck = {.pick = check_pick, .failed = check_failed, .ud = j};
    j->check_ckpt = o->result.checkpoint; /* the subject its checkers are picked for */
    j->check_ckpt_len = o->result.checkpoint_len;
    struct zt_job_check_result *res = zt_calloc(1, sizeof *res);
    if (!res || zt_job_check_run(&req, &ck, res) != 0) {
        zt_free(res);
        if (remote) settle_none(j, "none");
        return true; /* out of memory: the receipt */
    }
    audit_disclosure(j, res, j->replicas > 0);
    bool keep = true;
    switch (res->verdict) {
    case ZT_CHECK_AGREED: j->verification = "verified"; settle_verification(j, "agreed", res, o); break;
    case ZT_CHECK_CHECKER_WRONG:
        j->verification = "verified"; /* by the majority: the dissenting checker lost */
        settle_verification(j, "checker_wrong", res, o);
        break;
    case ZT_CHECK_WORKER_WRONG:
        j->verification = "mismatch";
        settle_verification(j, "worker_wrong", res, o);
        keep = false;
        break;
    case ZT_CHECK_UNDECIDED: j->verification = "undecided"; settle_verification(j, "undecided", res, o); break;
    case ZT_CHECK_UNAVAILABLE:
        /* one worker alone (the embedded default), or none free: said so */
        j->verification = "skipped";
        settle_none(j, "unavailable");
        break;
    }
    if (res->n) j->checks = checks_json(res);
    zt_log(keep ? ZT_LOG_INFO : ZT_LOG_WARN, "job_checked",
           "sched_job=%s worker=%s why=%s mode=%s verdict=%s checkers=%zu ms=%llu", j->sched_id, j->worker.node_id,
           why, j->replicas ? "replica" : "teacher_forced",
           zt_job_check_verdict_name(res->verdict), res->n, (unsigned long long)res->ms);
    zt_free(res);
    return keep;
}

/* Whether a failed attempt may go to another worker: nothing reached the
 * client yet and the worker, not the request, is at fault. */
static bool worker_fault(const struct rjob *j, const struct zt_job_outcome *o)
{
    if (j->sse_started || atomic_load(&j->closed) || zt_job_pool_stopping(j->r->pool)) return false;
    if (o->status == ZT_JOB_REFUSED) return o->http_status != 400 && o->http_status != 413;
    return o->status != ZT_JOB_VERIFIED && o->status != ZT_JOB_CANCELLED;
}

static void run_sched(void *arg)
{
    struct rjob *j = arg;
    struct zt__route *r = j->r;
    j->until = zt_time_mono_ms() + (uint64_t)r->cfg->encryption.remote_timeout_s * 1000u;
    j->sp = (struct zt_job_picker){.pick = sched_pick, .report = sched_report, .ud = j};
    struct zt_job_outcome o;
    memset(&o, 0, sizeof o);
    const char *outcome = NULL;
    char worker[ZT_IDENTITY_ID_SIZE];
    j->start_ms = zt_time_mono_ms();
    while (!outcome) {
        if (!await_worker(j, worker)) {
            bool failed = j->sched_failed || !zt__orch_job_servable(r->orch, j->sched_id);
            zt__orch_job_cancel(r->orch, j->sched_id);
            if (aborted(j) || zt_http_async_client_gone(j->a)) {
                atomic_store(&j->closed, !zt_job_pool_stopping(r->pool));
                if (zt_job_pool_stopping(r->pool)) answer_error(j, 503, "shutting_down", "the node is shutting down");
                else answer_error(j, 502, "client_gone", "the client went away");
                outcome = "client_gone";
                break;
            }
            answer_error(j, 503, "no_worker",
                         failed ? "no worker can complete the job: every attempt failed, or the workers serving "
                                  "the model left or fell under the reputation threshold"
                                : "no worker became free in time (encryption.remote_timeout_s); retry later");
            outcome = failed ? "failed" : "queue_timeout";
            break;
        }
        int rc = sched_start(j, worker);
        if (!rc) {
            zt_job_call_free(j->job);
            j->job = NULL;
            rc = make_call(j, &j->worker, (uint64_t)(zt_time_real_ms() / 1000));
            if (rc == ZT_EINVAL || rc == ZT_ENOMEM) { /* the request's fault, or ours: not the worker's */
                zt__orch_job_cancel(r->orch, j->sched_id);
                if (rc == ZT_EINVAL)
                    answer_error(j, 400, "invalid_request",
                                 j->chat ? "messages must be a non-empty array of {role, content} strings"
                                         : "prompt must be a string (or an array holding one string)");
                else
                    answer_error(j, 503, "overloaded", "out of memory");
                outcome = rc == ZT_EINVAL ? "invalid" : "oom";
                break;
            }
        }
        j->pending = false;
        j->told = false;
        if (rc) { /* the worker went meanwhile, or the body cannot be sealed to it */
            memset(&o, 0, sizeof o);
            o.status = ZT_JOB_UNREACHABLE;
            zt_strlcpy(o.transport, zt_strerror(rc), sizeof o.transport);
            j->pending = true;
            zt_strlcpy(j->pend_worker, worker, sizeof j->pend_worker);
            j->pend_a = ZT_JOB_ATTEMPT_DIED;
        } else {
            send_job(j, &o); /* the failover loop: reports each attempt, picks through the scheduler */
        }
        if (o.status == ZT_JOB_VERIFIED && !atomic_load(&j->closed)) {
            /* the scheduler was told (sched_report); other workers check it */
            if (check_job(j, &o)) {
                outcome = answer_outcome(j, &o);
            } else {
                outcome = "mismatch";
                answer_error(j, 502, "verification_failed",
                             "another worker checked the answer and it did not match (the worker that produced it "
                             "was penalised); retry the request");
            }
            break;
        }
        /* the loop ended on a failure: its last attempt is pending here */
        const char *last = j->pending ? j->pend_worker : j->worker.node_id;
        enum zt_job_attempt a = j->pending ? j->pend_a : ZT_JOB_ATTEMPT_BAD;
        bool told = !j->pending && j->told; /* a pick told it already (and found no next worker) */
        j->pending = false;
        if (!worker_fault(j, &o)) {
            /* the request's own fault, the client gone, a shutdown, or a
             * stream cut that no other worker could continue: the job ends
             * here */
            bool blame = !atomic_load(&j->closed) && !zt_job_pool_stopping(r->pool) && o.status != ZT_JOB_REFUSED;
            if (blame && !told) zt_ignore(tell_sched(j, last, a, true, false));
            zt__orch_job_cancel(r->orch, j->sched_id);
            outcome = answer_outcome(j, &o);
            break;
        }
        /* the worker failed it before anything reached the client: the
         * scheduler charges it and requeues the job (or fails it) */
        log_done(j, &o, "retry");
        enum zt_job_state st = tell_sched(j, last, a, !told, !told && o.status == ZT_JOB_UNREACHABLE && o.http_status == 0);
        if (st != ZT_JOB_STATE_QUEUED && st != ZT_JOB_STATE_ASSIGNED) {
            outcome = answer_outcome(j, &o);
            break;
        }
        wipe_buf(&j->text); /* a non-streamed answer starts again */
        zt_buf_init(&j->text, TEXT_MAX);
        zt_rcache_req_restart(&j->cache);
    }
    bool paid = o.status == ZT_JOB_VERIFIED && outcome && strcmp(outcome, "ok") == 0;
    struct zt_node_info wi;
    struct zt_ledger_rate rate;
    bool own = false; /* settled at the worker's own prices when its join record is known here */
    if (r->chain && paid && zt__orch_worker(r->orch, worker, &wi) == 0) { /* its signed join record's wallet */
        zt_chain_provider_wallet(r->chain, worker, wi.caps.wallet);
        own = caps_rate(&wi.caps, &rate);
    }
    if (paid && r->chain && j->placed_of[0] && zt_str_eq(j->placed_of, worker)) { /* the lower of then and now */
        if (!own || j->placed_rate.prompt_per_1k < rate.prompt_per_1k) rate.prompt_per_1k = j->placed_rate.prompt_per_1k;
        if (!own || j->placed_rate.completion_per_1k < rate.completion_per_1k)
            rate.completion_per_1k = j->placed_rate.completion_per_1k;
        own = true;
    }
    zt_chain_job_end(r->chain, j->sched_id, paid, paid ? worker : NULL, own ? &rate : NULL,
                     o.result.final.prompt_tokens, o.result.final.completion_tokens); /* settle or refund */
    if (paid && r->chain) {
        struct zt_ledger_prices at;
        zt_ledger_prices_at(zt_chain_prices(r->chain), own ? &rate : NULL, &at);
        zt_bridge_payout_settled(r->bridge, &at, j->sched_id, j->user, worker, o.result.final.prompt_tokens,
                                 o.result.final.completion_tokens);
    }
    /* whatever happened, the job is over here: one still active in the
     * scheduler (requeued and reassigned while its first worker finished
     * after all, or left for another reason) must not hold a slot */
    if (!(paid && zt__orch_is_remote(r->orch))) /* remote: its ok report ended the lease */
        zt__orch_job_cancel(r->orch, j->sched_id);
    zt__orch_note_end(r->orch, outcome && strcmp(outcome, "ok") == 0);
    zt__orch_kick(r->orch); /* a slot is free */
    unlink_waiting(r, j);
    log_done(j, &o, outcome);
    zt_http_async_release(j->a);
    job_unref(j);
}

/* The key of client_key's pseudonyms: random per process (fair queueing
 * needs a key stable only while jobs wait). */
static uint8_t client_salt[crypto_generichash_KEYBYTES];
static pthread_once_t client_salt_once = PTHREAD_ONCE_INIT;
static void client_salt_init(void) { randombytes_buf(client_salt, sizeof client_salt); }

/* Client key for fair queueing: a pseudonym of the caller's identity, else
 * of its address ("c:" + keyed BLAKE2b-128 in hex). The key is stored in
 * the job table (PostgreSQL when shared) and sent to a remote orchestrator:
 * neither may learn who the user is (test_canary). */
static void client_key(struct zt__req_ctx *cx, char *out, size_t n)
{
    char who[ZT_SCHED_CLIENT_MAX + 64];
    if (cx->principal.identity[0]) snprintf(who, sizeof who, "id:%s", cx->principal.identity);
    else snprintf(who, sizeof who, "addr:%s", zt_http_req_client_addr(cx->req));
    pthread_once(&client_salt_once, client_salt_init);
    uint8_t h[16];
    crypto_generichash(h, sizeof h, (const uint8_t *)who, strlen(who), client_salt, sizeof client_salt);
    char hx[2 * sizeof h + 1];
    sodium_bin2hex(hx, sizeof hx, h, sizeof h);
    snprintf(out, n, "c:%s", hx);
}

enum sched_start { SCHED_STARTED, SCHED_ANSWERED, SCHED_NONE };

/* Submit the job to the scheduler and hand it to a pool thread (its slot
 * reserved by the caller) that waits for its worker. STARTED: the thread
 * owns j and the slot; ANSWERED: an error is in resp; NONE: the scheduler
 * has no worker for the model (the static peers may have one). */
static enum sched_start route_scheduled(struct zt__route *r, struct zt__req_ctx *cx, struct rjob *j,
                            const struct zt_privacy_text *texts, size_t n_texts, struct zt_http_resp *resp)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n_texts; i++) bytes += texts[i].len;
    char client[ZT_SCHED_CLIENT_MAX + 1];
    client_key(cx, client, sizeof client);
    struct zt_job_req jr = {
        .client = client,
        .model = j->model,
        .ctx_tokens = (uint32_t)(bytes / 4 + 1), /* an estimate: the gateway does not tokenize */
        .max_tokens = j->max_tokens,
        .price_ceiling = j->price_ceiling,
    };
    struct zt_sched_result sr;
    memset(&sr, 0, sizeof sr);
    /* a remote orchestrator's answer comes over HTTP, not under the lock */
    uint64_t t0 = zt_time_mono_ns();
    int rc = zt__orch_is_remote(r->orch) ? zt__orch_submit(r->orch, &jr, &sr) : 0;
    pthread_mutex_lock(&r->mu); /* an assignment of the pump finds the job listed */
    if (!zt__orch_is_remote(r->orch)) rc = zt__orch_submit(r->orch, &jr, &sr);
    zt__orch_note_submit(r->orch, zt_time_mono_ns() - t0, rc);
    if (!rc) {
        zt_strlcpy(j->sched_id, sr.job_id, sizeof j->sched_id);
        if (sr.state == ZT_JOB_STATE_ASSIGNED) zt_strlcpy(j->assigned, sr.worker, sizeof j->assigned);
        j->sched_next = r->waiting;
        r->waiting = j;
    }
    pthread_mutex_unlock(&r->mu);
    char why[200] = "the ledger could not reserve the job";
    /* the reservation at the chosen worker's own prices; while the job
     * waits for one, at the client's ceiling (it bounds whichever worker
     * comes), else at chain.yaml's prices (docs/internals/ledger.md) */
    struct zt_ledger_rate rate = {j->price_ceiling, j->price_ceiling};
    bool rated = j->price_ceiling != 0;
    struct zt_node_info wi;
    if (!rc && r->chain && sr.state == ZT_JOB_STATE_ASSIGNED && zt__orch_worker(r->orch, sr.worker, &wi) == 0 &&
        caps_rate(&wi.caps, &rate))
        rated = true;
    int lrc = !rc && r->chain ? zt_chain_job_open(r->chain, cx->principal.identity, j->sched_id, bytes, n_texts,
                                                  jr.max_tokens, rated ? &rate : NULL, why, sizeof why)
                              : 0;
    if (lrc) { /* chain.enabled and the caller cannot pay (docs/internals/ledger.md) */
        unlink_waiting(r, j);
        zt__orch_job_cancel(r->orch, j->sched_id);
        bool pay = lrc == ZT_EPERM || lrc == ZT_ERANGE;
        zt_http_resp_error(resp, pay ? 402 : 503, pay ? "payment_required" : "unavailable", why);
        return SCHED_ANSWERED;
    }
    if (rc == ZT_ENOTFOUND && j->price_ceiling) { /* never another route: it would not keep the ceiling */
        zt_http_resp_error(resp, 503, "no_worker", "no worker of this model within zentalk.max_price_per_1k");
        return SCHED_ANSWERED;
    }
    if (rc == ZT_ENOTFOUND) return SCHED_NONE;
    if (rc == ZT_EBUSY) {
        char v[16];
        snprintf(v, sizeof v, "%u", sr.retry_after_s ? sr.retry_after_s : 1);
        zt_ignore(zt_http_resp_header(resp, "Retry-After", v));
        zt_http_resp_error(resp, 503, "overloaded", "every worker of this model is busy and the queue is full; retry after Retry-After");
        return SCHED_ANSWERED;
    }
    if (rc) {
        zt_http_resp_error(resp, 503, "unavailable", "the scheduler could not take the job");
        return SCHED_ANSWERED;
    }
    j->a = zt_http_req_defer(cx->req, on_client_close, j);
    if (j->a) atomic_fetch_add(&j->refs, 1); /* on_close's */
    if (!j->a || zt_job_pool_spawn(r->pool, run_sched, j) != 0) {
        if (j->a) {
            zt_http_async_abandon(j->a); /* on_close will not run */
            j->a = NULL;
            atomic_fetch_sub(&j->refs, 1);
        }
        unlink_waiting(r, j);
        zt__orch_job_cancel(r->orch, j->sched_id);
        zt_http_resp_error(resp, 503, "overloaded", "the remote job could not be started");
        return SCHED_ANSWERED;
    }
    zt__req_note_job(cx, j->sched_id);
    zt_log(ZT_LOG_DEBUG, "sched_job_submitted", "sched_job=%s state=%s worker=%s model=%s request_id=%s", sr.job_id,
           zt_job_state_name(sr.state), sr.worker[0] ? sr.worker : "-", j->model, zt_http_req_id(cx->req));
    return SCHED_STARTED; /* the thread owns j and the pool slot */
}

/* ---- the request ---------------------------------------------------------- */

static bool serves_locally(struct zt__route *r, const char *model)
{
    return (r->cfg->node.role_mask & ZT_ROLE_WORKER) && zt_infer_serves(r->ms, model);
}

/* The texts the privacy decision covers: the prompt, or each message's
 * content. Returns how many (0: none of the right shape); texts[i] are
 * the json strings (borrowed from body). */
static void type_names(const struct zt_pii_detector *d, uint64_t types, char *out, size_t n)
{
    size_t w = 0;
    out[0] = '\0';
    for (unsigned t = 0; t < 64 && t < zt_pii_type_count(d); t++) {
        if (!(types & (1ull << t))) continue;
        int k = snprintf(out + w, n - w, "%s%s", w ? ", " : "", zt_pii_type_name(d, t));
        if (k < 0 || (size_t)k >= n - w) break;
        w += (size_t)k;
    }
}

static bool get_max_tokens(struct zt__route *r, json_t *body, uint32_t *out, struct zt_http_resp *resp)
{
    int64_t v = r->cfg->encryption.remote_max_tokens;
    const char *keys[] = {"max_tokens", "max_completion_tokens"};
    for (int i = 0; i < 2; i++) {
        json_t *m = json_object_get(body, keys[i]);
        if (!m || json_is_null(m)) continue;
        if (!json_is_integer(m) || json_integer_value(m) < 1 || json_integer_value(m) > (json_int_t)ZT_ENV_MAX_TOKENS) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s must be an integer between 1 and %u", keys[i], (unsigned)ZT_ENV_MAX_TOKENS);
            zt_http_resp_error(resp, 400, "invalid_request", msg);
            return false;
        }
        v = json_integer_value(m);
    }
    if (v > (int64_t)ZT_ENV_MAX_TOKENS) v = ZT_ENV_MAX_TOKENS;
    *out = (uint32_t)v;
    return true;
}

/* "zentalk": {"replicas": N}: replicated execution on N more workers
 * (1..orchestrator.verification.max_replicas); absent: none. */
static bool get_replicas(struct zt__route *r, json_t *body, unsigned *out, struct zt_http_resp *resp)
{
    json_t *z = json_object_get(body, "zentalk"), *n = json_object_get(z, "replicas");
    *out = 0;
    if (!z || json_is_null(z) || !n || json_is_null(n)) return true;
    int64_t max = r->cfg->orchestrator.verification.max_replicas;
    if (!json_is_integer(n) || json_integer_value(n) < 0 || json_integer_value(n) > max) {
        char msg[160];
        snprintf(msg, sizeof msg, "zentalk.replicas must be an integer from 0 to %lld (orchestrator.verification."
                 "max_replicas)", (long long)max);
        zt_http_resp_error(resp, 400, "invalid_request", msg);
        return false;
    }
    *out = (unsigned)json_integer_value(n);
    return true;
}

/* "zentalk": {"max_price_per_1k": N}: the client's price ceiling, in the
 * ledger's base units per 1000 tokens (a worker's advertised price_per_1k
 * above it is never placed); absent or 0: none. */
static bool get_price_ceiling(json_t *body, uint64_t *out, struct zt_http_resp *resp)
{
    json_t *n = json_object_get(json_object_get(body, "zentalk"), "max_price_per_1k");
    *out = 0;
    if (!n || json_is_null(n)) return true;
    if (!json_is_integer(n) || json_integer_value(n) < 0) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "zentalk.max_price_per_1k must be a non-negative integer (base units per 1000 tokens)");
        return false;
    }
    *out = (uint64_t)json_integer_value(n);
    return true;
}

bool zt__route_generate(struct zt__route *r, struct zt__req_ctx *cx, json_t *body, bool chat,
                        struct zt_http_resp *resp)
{
    struct zt_http_req *req = cx->req;
    json_t *jm = json_object_get(body, "model");
    const char *model = json_string_value(jm);
    if (!r) return false;
    struct zt_peer w;
    int64_t now = zt_time_real_ms() / 1000;
    const char *pin = r->cfg->encryption.remote_worker;
    char msg[640];
    bool local = model && serves_locally(r, model);
    enum zt_route_where where = zt_route_decide(r->peers, model, local, pin, now, &w);
    /* with an orchestrator here and workers joined, the scheduler places
     * the job; the static peers stay for models no joined worker serves */
    bool sched = r->orch && model && !local && (!pin || !pin[0]) && zt__orch_has_workers(r->orch);
    if (!sched) switch (where) {
    case ZT_ROUTE_LOCAL:
        /* a model of this node, the default model, or no peers to ask:
         * here, as before */
        atomic_fetch_add(&r->local, 1);
        zt__req_note_privacy(cx, 0, "local");
        return false;
    case ZT_ROUTE_NOWHERE:
        snprintf(msg, sizeof msg, "model '%.128s' is not served here (no local model by that name) and no registered "
                 "peer%s%s serves it (GET /v1/models lists the local ones)", model, pin && pin[0] ? " " : "",
                 pin && pin[0] ? pin : "");
        zt_http_resp_error(resp, 404, "model_not_found", msg);
        return true;
    case ZT_ROUTE_REMOTE: break;
    }
    struct zt__openai_opts opts;
    if (!zt__openai_options(body, &opts, resp)) return true;
    uint32_t max_tokens;
    if (!get_max_tokens(r, body, &max_tokens, resp)) return true;
    if (!r->id || zt_job_pool_stopping(r->pool)) {
        zt_http_resp_error(resp, 503, "unavailable", "this node has no identity key to sign remote jobs with");
        return true;
    }

    /* the privacy gate: every text that would leave the node */
    enum zt_job_kind kind = chat ? ZT_JOB_CHAT : ZT_JOB_COMPLETION;
    struct zt_privacy_text texts[ZT_JOB_MAX_MESSAGES];
    size_t n_texts = 0;
    zt_job_texts(body, kind, texts, ZT_JOB_MAX_MESSAGES, &n_texts);
    struct zt_privacy_verdict v;
    struct rjob *j = NULL;
    bool reserved = false;
    int rc = zt_privacy_gate_check(zt_privacy_layer_gate(r->pv), zt_job_kind_feature(kind), texts, n_texts, &v);
    if (rc) {
        zt_http_resp_error(resp, rc == ZT_ETOOBIG ? 413 : 503, rc == ZT_ETOOBIG ? "too_large" : "overloaded",
                           rc == ZT_ETOOBIG ? "too much personal data in one request" : "PII detection failed");
        return true;
    }
    if (v.kind == ZT_PRIVACY_VERDICT_REFUSE) {
        char types[512];
        type_names(zt_privacy_gate_detector(zt_privacy_layer_gate(r->pv)), v.refused_types ? v.refused_types : v.types, types, sizeof types);
        snprintf(msg, sizeof msg, "the request holds personal data (%s) that the privacy policy keeps on this node "
                 "(local_only for feature %s), and this node does not serve model '%.128s'", types,
                 zt_job_kind_feature(kind), model);
        zt__req_note_privacy(cx, v.types, "refused");
        atomic_fetch_add(&r->refused, 1);
        zt_http_resp_error(resp, 403, "local_only", msg);
        zt_privacy_verdict_deinit(&v);
        return true;
    }
    j = zt_calloc(1, sizeof *j);
    if (!j) {
        zt_privacy_verdict_deinit(&v);
        goto oom;
    }
    j->r = r;
    atomic_init(&j->refs, 1);
    j->verdict = v; /* the job borrows it from here on */
    memset(&v, 0, sizeof v);
    j->chat = chat;
    j->stream = opts.stream;
    j->include_usage = opts.include_usage;
    zt_strlcpy(j->model, model, sizeof j->model);
    zt__openai_answer_init(&j->oa, chat, j->model, zt_http_req_id(req), j->id, sizeof j->id);
    j->worker = w;
    zt_strlcpy(j->user, cx->principal.identity, sizeof j->user);
    zt_buf_init(&j->text, TEXT_MAX);
    struct zt__cache_env env = cache_env(r);
    if (zt__cache_lookup(&env, cx, body, chat, j->model, max_tokens, &j->verdict, opts.stream, opts.include_usage,
                         &j->cache, resp))
        goto out; /* answered from the result cache */
    if (sched) {
        if (!n_texts) {
            zt_http_resp_error(resp, 400, "invalid_request",
                               chat ? "messages must be a non-empty array of {role, content} strings"
                                    : "prompt must be a string (or an array holding one string)");
            goto out;
        }
        if (!get_replicas(r, body, &j->replicas, resp) || !get_price_ceiling(body, &j->price_ceiling, resp)) goto out;
        if (zt_job_pool_reserve(r->pool) != 0) {
            zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
            zt_http_resp_error(resp, 503, "overloaded", "too many remote jobs in progress; retry shortly");
            goto out;
        }
        reserved = true;
        j->body = json_incref(body);
        j->kind = kind;
        j->max_tokens = max_tokens;
        zt_strlcpy(j->caller, cx->principal.identity, sizeof j->caller);
        zt_privacy_layer_audit_name(r->pv, cx->principal.identity, j->audit_who);
        zt_strlcpy(j->request_id, zt_http_req_id(req) ? zt_http_req_id(req) : "", sizeof j->request_id);
        uint64_t types = j->verdict.types;
        bool masked = j->verdict.kind == ZT_PRIVACY_VERDICT_MASKED;
        switch (route_scheduled(r, cx, j, texts, n_texts, resp)) {
        case SCHED_STARTED:
            zt__req_note_privacy(cx, types, masked ? "pseudonymised" : "remote");
            return true;
        case SCHED_ANSWERED: goto out;
        case SCHED_NONE: break;
        }
        zt_job_pool_unreserve(r->pool);
        reserved = false;
        if (where != ZT_ROUTE_REMOTE) {
            snprintf(msg, sizeof msg, "model '%.128s' is not served here, by any joined worker with a free "
                     "reputation and context, or by a registered peer", model);
            zt_http_resp_error(resp, 404, "model_not_found", msg);
            goto out;
        }
    }

    /* the body under the verdict, sealed to the worker */
    struct zt_job_spec spec = {
        .model = model,
        .max_tokens = max_tokens,
        .stream = true,
        .ttl_s = (uint64_t)r->cfg->encryption.job_ttl_s,
        .now = (uint64_t)now,
        .suite = zt_str_eq(r->cfg->encryption.aead, "aes256gcm") ? ZT_HPKE_SUITE_AES256GCM : ZT_HPKE_SUITE_CHACHA,
        .worker_id = w.node_id,
        .worker_kem_pk = w.kem_pk,
        .worker_sign_pk = w.ed25519_pk,
    };
    rc = zt_job_call_new(body, kind, &j->verdict, &spec, &j->job);
    if (rc == ZT_EINVAL) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           chat ? "messages must be a non-empty array of {role, content} strings"
                                : "prompt must be a string (or an array holding one string)");
        goto out;
    }
    if (rc) {
        bool mem = rc == ZT_ENOMEM || rc == ZT_EPERM;
        zt_http_resp_error(resp, mem ? 503 : 502, mem ? "overloaded" : "worker_unusable",
                           mem ? "out of memory" : "the job cannot be sealed to the worker (model id or KEM key)");
        goto out;
    }
    rc = zt_job_pool_reserve(r->pool);
    if (rc) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
        zt_http_resp_error(resp, 503, "overloaded", "too many remote jobs in progress; retry shortly");
        goto out;
    }
    reserved = true;

    /* where: the worker, or the relay with the worker as its target */
    struct zt_peer to = w;
    const char *relay = r->cfg->encryption.relay;
    if (relay && relay[0]) {
        if (zt_peers_lookup(r->peers, relay, now, &to) != 0) {
            snprintf(msg, sizeof msg, "the relay %s (encryption.relay) is not a registered peer", relay);
            zt_http_resp_error(resp, 502, "relay_unknown", msg);
            goto out;
        }
        zt_strlcpy(j->via, to.node_id, sizeof j->via);
    }
    long t_ms = (long)r->cfg->encryption.remote_timeout_s * 1000L;
    struct zt_job_target target = {
        .base_url = to.endpoint,
        .via_relay = j->via[0] != '\0',
        .sign_as = r->id,
        .recipient_id = to.node_id,
        .now = now,
        .connect_timeout_ms = t_ms < 10000L ? t_ms : 10000L,
        .first_byte_timeout_ms = t_ms,
        .idle_timeout_ms = t_ms,
    };
    if (zt_job_call_target(j->job, &target) != 0) goto oom;
    /* a worker that dies or stalls mid-stream: the next peer serving the
     * model continues it (resumable streams, docs/internals/jobs.md) */
    zt_route_picker_init(&j->rp, r->peers, j->model, pin, j->via[0] ? &to : NULL, now);
    zt_route_worker(&w, j->via[0] ? &to : NULL, &j->first);
    j->fo = (struct zt_job_failover){.picker = &j->rp.picker, .spec = spec, .target = target,
                                     .stall_ms = (long)r->cfg->encryption.remote_stall_ms,
                                     .max_workers = 16}; /* static peers: dead ones are tried too */
    j->fo.spec.model = j->model;
    j->fo.target.base_url = j->fo.target.recipient_id = NULL; /* per worker */
    j->a = zt_http_req_defer(req, on_client_close, j);
    if (!j->a) goto oom;
    atomic_fetch_add(&j->refs, 1); /* on_close's */
    /* once the thread runs, j may end at any moment: note what we log first */
    char job_id[2 * ZT_ENV_JOB_ID_LEN + 1], via[ZT_IDENTITY_ID_SIZE];
    zt_strlcpy(job_id, zt_job_call_id(j->job), sizeof job_id);
    zt_strlcpy(via, j->via[0] ? j->via : "-", sizeof via);
    uint64_t types = j->verdict.types;
    bool masked = j->verdict.kind == ZT_PRIVACY_VERDICT_MASKED;
    if (zt_job_pool_spawn(r->pool, run_job, j) != 0) {
        zt_http_async_abandon(j->a); /* on_close will not run */
        j->a = NULL;
        atomic_fetch_sub(&j->refs, 1);
        goto oom;
    }
    zt__req_note_privacy(cx, types, masked ? "pseudonymised" : "remote");
    zt__req_note_job(cx, job_id);
    zt_log(ZT_LOG_DEBUG, "remote_job_sent", "job_id=%s worker=%s via=%s model=%s max_tokens=%u request_id=%s", job_id,
           w.node_id, via, model, (unsigned)max_tokens, zt_http_req_id(req));
    return true; /* the thread owns j and the slot */
oom:
    zt_http_resp_error(resp, 503, "overloaded", "the remote job could not be started");
out:
    if (j) {
        atomic_store(&j->refs, 1);
        job_unref(j);
    }
    if (reserved) zt_job_pool_unreserve(r->pool);
    return true;
}

/* The routes: remote when the router says so, else the local path. */
static void generate(struct zt__route *r, struct zt__req_ctx *cx, json_t *body, bool chat, struct zt_http_resp *resp)
{
    if (!zt__route_generate(r, cx, body, chat, resp)) zt__llm_generate(r->ms, cx, body, chat, r->bridge, resp);
}

void zt__route_h_completions(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    generate(ud, cx, body, false, resp);
}

void zt__route_h_chat(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    generate(ud, cx, body, true, resp);
}
