/* gwjob.c: the gateway's remote-job runner. See zt_gwjob.h and
 * docs/internals/route.md.
 *
 * A job runs on a thread of the runner's pool: sent to a static peer
 * (run_static), or submitted to the scheduler and sent to the workers it
 * assigns (run_sched: the wait for a worker, the scheduler as the
 * failover's picker, the checks by other workers, the ledger's
 * settlement). The answer goes to the job's sink (struct zt_gw_sink),
 * which the HTTP route renders; the scheduler is reached through struct
 * zt_gw_place, which the node wires to its orchestrator (that module
 * depends on this one, so it cannot be called by name).
 *
 * Nothing of the prompt, the messages or the answer is logged. */
#include "zentalk/zt_gwjob.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_audit.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_orch_client.h"
#include "zentalk/zt_pseudoid.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define WAIT_TICK_MS 100 /* a job waiting for a worker looks at its client's socket this often */
#define GONE_CHECK_MS 10u /* how often a job in flight looks whether its client went */
#define RAN_MAX 16        /* workers one placed job is sent to (orchestrator.max_attempts <= 10) */

struct peer_count {
    char id[ZT_IDENTITY_ID_SIZE];
    uint64_t ok, failed;
};

/* The placement metrics: zt_sched_submit's time in seconds for the jobs
 * it accepted, and why a placed job moved to another worker. */
#define LAT_BUCKETS 6
static const double lat_le[LAT_BUCKETS] = {0.0001, 0.0005, 0.001, 0.005, 0.025, 0.1};
enum retry { RETRY_UNREACHABLE, RETRY_REFUSED, RETRY_TIMEOUT, RETRY_UNVERIFIED, RETRY_N };
static const char *const retry_names[RETRY_N] = {"unreachable", "refused", "timeout", "unverified"};

struct zt_gw_runner {
    const struct zt_config *cfg;
    const struct zt_identity *id;
    struct zt_peers *peers;
    struct zt_privacy_layer *pv;
    struct zt_job_pool *pool; /* jobs in flight */
    struct zt_gw_place place; /* the scheduler (place.submit NULL: none) */
    struct zt_chain *chain;   /* chain.enabled: the books jobs are paid from, or NULL */
    struct zt_gw_hooks hooks; /* the webhooks (zt_gw_runner_set_hooks) */
    pthread_mutex_t mu;       /* per, waiting */
    pthread_cond_t cv;        /* a scheduler event arrived, a client closed, the node stops */
    struct zt_gw_job *waiting; /* jobs placed through the scheduler (sched_next) */
    struct peer_count per[ZT_GW_PEERS_MAX];
    size_t n_per;
    atomic_uint_fast64_t remote, failed;
    /* scheduled placements (the zentalk_orchestrator_* families of
     * zt_gw_runner_register_metrics) */
    atomic_uint_fast64_t lat_count, lat_sum_ns, lat_bucket[LAT_BUCKETS];
    atomic_uint_fast64_t retries[RETRY_N];
    atomic_uint_fast64_t ended[2]; /* failed, done */
};

struct zt_gw_job {
    struct zt_gw_runner *r;
    struct zt_gw_sink sink;
    atomic_int refs;    /* the thread + the connection's close */
    atomic_bool closed; /* the client is gone */
    bool scheduled;
    bool slot; /* holds a reserved pool slot, not yet taken by a thread (zt_gw_job_launch) */
    char model[ZT_ENV_MODEL_MAX + 1];
    struct zt_peer worker;
    char via[ZT_IDENTITY_ID_SIZE]; /* relay id, or "" */
    struct zt_privacy_verdict verdict; /* the gate's; the job borrows it */
    struct zt_job_call *job;
    /* failover to the next static peer (zt_jobs.h); first is j->worker */
    struct zt_route_picker rp;
    struct zt_job_failover fo;
    struct zt_job_worker first;
    struct zt_job_failover_stats fst; /* how many workers it took */
    int fail;                         /* the sink's ZT_E* while answering */
    char user[ZT_AUTH_ID_MAX];        /* the caller's identity: webhooks, exemptions, the ledger */
    uint64_t start_ms;
    /* placed through the scheduler: the job's id there, the body kept to
     * seal it again to another worker, and what the pump said (under r->mu) */
    char sched_id[ZT_GW_JOB_ID_SIZE];
    json_t *body;
    enum zt_job_kind kind;
    uint32_t max_tokens;
    char assigned[ZT_IDENTITY_ID_SIZE]; /* a worker to run it on now, or "" */
    /* the prices of the worker it was last sealed to, as its join record
     * said then: a worker that rejoins dearer mid-job is not paid more */
    struct zt_ledger_rate placed_rate;
    char placed_of[ZT_IDENTITY_ID_SIZE]; /* "" = none known */
    bool sched_failed;
    struct zt_gw_job *sched_next;
    /* the scheduler as the failover's picker (the job thread's only): the
     * last attempt the failover loop reported, not yet told to the
     * scheduler (the next pick tells it, or the thread once the loop ends) */
    struct zt_job_picker sp;
    uint64_t until; /* mono ms: the longest wait for a worker */
    bool pending;
    bool told; /* a pick told the last failure, and no attempt began since */
    char pend_worker[ZT_IDENTITY_ID_SIZE];
    enum zt_job_attempt pend_a;
    /* verification (docs/internals/orchestrator.md "Verification"): the
     * ids streamed, the workers that had the job, what the answer says */
    int32_t *ids;
    size_t n_ids, cap_ids;
    bool ids_oom;
    char ran[RAN_MAX][ZT_IDENTITY_ID_SIZE];
    size_t n_ran;
    const uint8_t *check_ckpt; /* while checking: the worker's signed FINAL checkpoint (its subject) */
    size_t check_ckpt_len;
    char audit_who[ZT_PSEUDOID_STR + 8]; /* the caller as the audit log names it */
    char request_id[64];
    unsigned replicas;        /* replicated execution asked (zentalk.replicas); 0: none */
    uint64_t price_ceiling;   /* zentalk.max_price_per_1k (base units); 0: none */
    const char *verification; /* what the answer says; NULL: "receipt" */
    char remote_verify[32];   /* a remote orchestrator's draw for a check ("": none) */
    json_t *checks;           /* the workers that checked it, for the answer */
    uint64_t gone_ns;         /* mono ns: when on_cancelled last looked at the client's socket */
};

/* ---- the runner ------------------------------------------------------------ */

int zt_gw_runner_new(const struct zt_gw_runner_opts *o, struct zt_gw_runner **out)
{
    struct zt_gw_runner *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    int rc = zt_job_pool_new((unsigned)o->cfg->encryption.remote_max_inflight, &r->pool);
    if (rc) {
        zt_free(r);
        return rc;
    }
    r->cfg = o->cfg;
    r->id = o->id;
    r->peers = o->peers;
    r->pv = o->pv;
    pthread_mutex_init(&r->mu, NULL);
    zt_cond_init_mono(&r->cv);
    *out = r;
    return 0;
}

void zt_gw_runner_set_identity(struct zt_gw_runner *r, const struct zt_identity *id)
{
    if (r) r->id = id;
}

void zt_gw_runner_set_place(struct zt_gw_runner *r, const struct zt_gw_place *p)
{
    if (!r) return;
    if (p) r->place = *p;
    else memset(&r->place, 0, sizeof r->place);
}

void zt_gw_runner_set_chain(struct zt_gw_runner *r, struct zt_chain *c)
{
    if (r) r->chain = c;
}

void zt_gw_runner_set_hooks(struct zt_gw_runner *r, const struct zt_gw_hooks *h)
{
    if (!r) return;
    if (h) r->hooks = *h;
    else memset(&r->hooks, 0, sizeof r->hooks);
}

void zt_gw_runner_shutdown(struct zt_gw_runner *r, uint64_t wait_ms)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu); /* jobs waiting for a worker see the pool stopping */
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    zt_ignore(zt_job_pool_shutdown(r->pool, wait_ms));
}

void zt_gw_runner_free(struct zt_gw_runner *r)
{
    if (!r) return;
    if (zt_job_pool_close(r->pool, 10000, "route") != 0) return; /* its threads hold r: leak r too */
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    zt_free(r);
}

bool zt_gw_runner_stopping(const struct zt_gw_runner *r)
{
    return zt_job_pool_stopping(r->pool);
}

int zt_gw_runner_reserve(struct zt_gw_runner *r)
{
    return zt_job_pool_reserve(r->pool);
}

void zt_gw_runner_unreserve(struct zt_gw_runner *r)
{
    zt_job_pool_unreserve(r->pool);
}

/* A submission to the scheduler: how long it took and its result (0,
 * ZT_EBUSY, ZT_ENOTFOUND, ...). */
static void note_submit(struct zt_gw_runner *r, uint64_t elapsed_ns, int rc)
{
    const struct zt_gw_place *p = &r->place;
    if (p->note_submit) p->note_submit(p->ud, elapsed_ns, rc);
    if (rc) return;
    atomic_fetch_add(&r->lat_count, 1);
    atomic_fetch_add(&r->lat_sum_ns, elapsed_ns);
    double s = (double)elapsed_ns / 1e9;
    for (int i = 0; i < LAT_BUCKETS; i++)
        if (s <= lat_le[i]) atomic_fetch_add(&r->lat_bucket[i], 1);
}

static void note_retry(struct zt_gw_runner *r, enum retry why)
{
    const struct zt_gw_place *p = &r->place;
    atomic_fetch_add(&r->retries[why], 1);
    if (p->note_retry) p->note_retry(p->ud, retry_names[why]);
}

void zt_gw_runner_stats(struct zt_gw_runner *r, struct zt_gw_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return;
    out->remote = atomic_load(&r->remote);
    out->failed = atomic_load(&r->failed);
    out->inflight = zt_job_pool_inflight(r->pool);
}

json_t *zt_gw_runner_peer_counts(struct zt_gw_runner *r)
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

static void count_peer(struct zt_gw_runner *r, const char *id, bool ok)
{
    atomic_fetch_add(ok ? &r->remote : &r->failed, 1);
    pthread_mutex_lock(&r->mu);
    size_t i = 0;
    while (i < r->n_per && strcmp(r->per[i].id, id) != 0) i++;
    if (i == r->n_per && r->n_per < ZT_GW_PEERS_MAX) zt_strlcpy(r->per[r->n_per++].id, id, sizeof r->per[0].id);
    if (i < r->n_per) {
        if (ok) r->per[i].ok++;
        else r->per[i].failed++;
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- a job's lifetime ------------------------------------------------------ */

int zt_gw_job_new(struct zt_gw_runner *r, const struct zt_gw_job_params *p, struct zt_gw_job **out)
{
    struct zt_gw_job *j = zt_calloc(1, sizeof *j);
    if (!j) return ZT_ENOMEM;
    j->r = r;
    atomic_init(&j->refs, 1);
    j->verdict = *p->verdict; /* the job borrows it from here on */
    memset(p->verdict, 0, sizeof *p->verdict);
    j->kind = p->kind;
    j->max_tokens = p->max_tokens;
    zt_strlcpy(j->model, p->model, sizeof j->model);
    if (p->peer) j->worker = *p->peer;
    zt_strlcpy(j->user, p->caller ? p->caller : "", sizeof j->user);
    zt_strlcpy(j->request_id, p->request_id ? p->request_id : "", sizeof j->request_id);
    *out = j;
    return 0;
}

void zt_gw_job_set_sink(struct zt_gw_job *j, const struct zt_gw_sink *s)
{
    j->sink = *s;
}

const struct zt_privacy_verdict *zt_gw_job_verdict(const struct zt_gw_job *j)
{
    return &j->verdict;
}

const char *zt_gw_job_via(const struct zt_gw_job *j)
{
    return j->via[0] ? j->via : NULL;
}

static void job_unref(struct zt_gw_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1) return;
    zt_job_call_free(j->job);
    json_decref(j->body);
    json_decref(j->checks);
    zt_free(j->ids);
    zt_privacy_verdict_deinit(&j->verdict);
    if (j->sink.free) j->sink.free(j->sink.ud);
    zt_free(j);
}

static bool unlink_waiting(struct zt_gw_runner *r, struct zt_gw_job *j);

void zt_gw_job_discard(struct zt_gw_job *j)
{
    if (!j) return;
    if (j->sched_id[0] && unlink_waiting(j->r, j)) j->r->place.cancel(j->r->place.ud, j->sched_id); /* submitted */
    if (j->slot) zt_gw_runner_unreserve(j->r);
    atomic_store(&j->refs, 1);
    job_unref(j);
}

void zt_gw_job_client_closed(struct zt_gw_job *j)
{
    struct zt_gw_runner *r = j->r;
    atomic_store(&j->closed, true);
    if (j->scheduled) { /* a job waiting for a worker stops waiting */
        pthread_mutex_lock(&r->mu);
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    job_unref(j);
}

static bool aborted(const struct zt_gw_job *j)
{
    return atomic_load(&j->closed) || zt_job_pool_stopping(j->r->pool);
}

static bool client_gone(struct zt_gw_job *j)
{
    return j->sink.client_gone && j->sink.client_gone(j->sink.ud);
}

static bool started(struct zt_gw_job *j)
{
    return j->sink.started && j->sink.started(j->sink.ud);
}

static void answer_error(struct zt_gw_job *j, int status, const char *code, const char *msg)
{
    j->sink.error(j->sink.ud, status, code, msg);
}

/* ---- the answer --------------------------------------------------------------- */

/* An opened (authenticated, not yet verified) text chunk, pseudonyms
 * restored by the job client. */
static int on_text(void *ud, const char *text, size_t len)
{
    struct zt_gw_job *j = ud;
    while (j->sink.backlog && j->sink.backlog(j->sink.ud) > ZT_GW_BUFFER_MAX) { /* a slow client */
        if (aborted(j)) return ZT_ECLOSED;
        zt_time_sleep_ms(2);
    }
    if (!len || j->fail) return j->fail;
    j->fail = j->sink.text(j->sink.ud, text, len);
    return j->fail;
}

static bool on_cancelled(void *ud)
{
    struct zt_gw_job *j = ud;
    if (aborted(j)) return true;
    /* the client's socket at most every GONE_CHECK_MS: the HTTP client
     * asks on each of its callbacks (dozens per job), and each look is a
     * poll(2) under the connection's lock */
    uint64_t now = zt_time_mono_ns();
    if (now - j->gone_ns < GONE_CHECK_MS * 1000000u) return false;
    j->gone_ns = now;
    if (client_gone(j)) { /* gone while we waited for the worker */
        atomic_store(&j->closed, true);
        return true;
    }
    return false;
}

/* The ids the workers stream (what a verifier is given). */
static void on_ids(void *ud, const int32_t *ids, size_t n)
{
    struct zt_gw_job *j = ud;
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
static void send_job(struct zt_gw_job *j, struct zt_job_outcome *o)
{
    j->start_ms = zt_time_mono_ms();
    j->n_ids = 0;
    struct zt_job_hooks hooks = {.text = on_text, .cancelled = on_cancelled, .ud = j, .ids = on_ids};
    int rc;
    j->fst = (struct zt_job_failover_stats){0};
    if (j->fo.picker) /* the next worker continues a stream its worker dropped */
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

static void set_verdict(struct zt_gw_verdict *v, int status, const char *code, const char *outcome)
{
    v->status = status;
    zt_strlcpy(v->code, code, sizeof v->code);
    v->outcome = outcome;
}

void zt_gw_outcome_answer(const struct zt_job_outcome *o, const char *answer, size_t answer_len, const char *worker,
                          const char *via, bool stopping, char *msg, size_t cap, struct zt_gw_verdict *out)
{
    set_verdict(out, 200, "", "ok");
    msg[0] = '\0';
    switch (o->status) {
    case ZT_JOB_VERIFIED: break;
    case ZT_JOB_UNVERIFIED: {
        const char *why = o->rc == ZT_ETOOBIG ? "the answer is too large" : o->why[0] ? o->why : zt_strerror(o->rc);
        snprintf(msg, cap, "the result from worker %s did not verify (%s%s%s); it is not passed on as good", worker,
                 why, o->transport[0] ? "; transport: " : "", o->transport);
        set_verdict(out, 502, "unverified_result", "unverified");
        break;
    }
    case ZT_JOB_REFUSED: {
        /* the request's own faults (checked by the worker's request
         * builder) and the worker's load pass through as the worker put them */
        long st = o->http_status;
        json_t *e = answer ? json_loadb(answer, answer_len, 0, NULL) : NULL;
        json_t *eo = json_object_get(e, "error");
        const char *code = json_string_value(json_object_get(eo, "code"));
        const char *text = json_string_value(json_object_get(eo, "message"));
        if ((st == 400 || st == 413 || st == 503) && code && text) {
            snprintf(msg, cap, "%s (worker %s)", text, worker);
            set_verdict(out, (int)st, code, "refused");
        } else {
            snprintf(msg, cap, "worker %s refused the job: HTTP %ld%s%s", worker, st, code ? " " : "",
                     code ? code : "");
            set_verdict(out, 502, "worker_refused", "refused");
        }
        json_decref(e);
        break;
    }
    case ZT_JOB_TIMEOUT:
        snprintf(msg, cap, "worker %s did not answer in time (encryption.remote_timeout_s)", worker);
        set_verdict(out, 504, "worker_timeout", "timeout");
        break;
    case ZT_JOB_CANCELLED:
    case ZT_JOB_UNREACHABLE:
        if (stopping) {
            snprintf(msg, cap, "the node is shutting down");
            set_verdict(out, 503, "shutting_down", "shutdown");
            break;
        }
        snprintf(msg, cap, "worker %s%s%s could not be reached", worker, via ? " via relay " : "", via ? via : "");
        set_verdict(out, 502, "worker_unreachable", "unreachable");
        break;
    }
}

bool zt_gw_worker_fault(const struct zt_job_outcome *o, bool started_, bool closed, bool stopping)
{
    if (started_ || closed || stopping) return false;
    if (o->status == ZT_JOB_REFUSED) return o->http_status != 400 && o->http_status != 413;
    return o->status != ZT_JOB_VERIFIED && o->status != ZT_JOB_CANCELLED;
}

bool zt_gw_settle_rate(const struct zt_ledger_rate *now, const struct zt_ledger_rate *then, struct zt_ledger_rate *out)
{
    if (now) *out = *now;
    if (then) { /* the lower of then and now */
        if (!now || then->prompt_per_1k < out->prompt_per_1k) out->prompt_per_1k = then->prompt_per_1k;
        if (!now || then->completion_per_1k < out->completion_per_1k) out->completion_per_1k = then->completion_per_1k;
    }
    return now || then;
}

static void answer_ok(struct zt_gw_job *j, const struct zt_sealed_result *res)
{
    struct zt_gw_answer a = {.res = res,
                             .ran_on = j->worker.node_id,
                             .job_id = zt_job_call_id(j->job),
                             .via = j->via[0] ? j->via : NULL,
                             .verification = j->verification ? j->verification : "receipt",
                             .checks = j->checks};
    j->sink.ok(j->sink.ud, &a);
}

/* Answer the client after the job's outcome; returns the outcome's name
 * for the log ("ok", "client_gone", "refused", ...). */
static const char *answer_outcome(struct zt_gw_job *j, const struct zt_job_outcome *o)
{
    if (atomic_load(&j->closed)) {
        j->sink.gone(j->sink.ud); /* resume a suspended connection so it is freed (nobody reads it) */
        return "client_gone";
    }
    char msg[512];
    size_t alen = 0;
    const char *answer = o->status == ZT_JOB_REFUSED && j->job ? zt_job_call_answer(j->job, &alen) : NULL;
    struct zt_gw_verdict v;
    zt_gw_outcome_answer(o, answer, alen, j->worker.node_id, j->via[0] ? j->via : NULL,
                         zt_job_pool_stopping(j->r->pool), msg, sizeof msg, &v);
    if (v.code[0] && j->fst.none_left && !zt_job_pool_stopping(j->r->pool)) { /* not the last worker's fault alone */
        char last[400];
        zt_strlcpy(last, msg, sizeof last);
        snprintf(msg, sizeof msg, "no worker left for model %.64s: %u tried, the last one failed too (%.380s)", j->model,
                 j->fst.workers, last);
        v.status = 503;
        zt_strlcpy(v.code, "no_worker_left", sizeof v.code);
    }
    if (!v.code[0]) answer_ok(j, &o->result);
    else answer_error(j, v.status, v.code, msg);
    return v.outcome;
}

static void log_done(struct zt_gw_job *j, const struct zt_job_outcome *o, const char *outcome)
{
    bool ok = strcmp(outcome, "ok") == 0;
    if (strcmp(outcome, "retry") != 0 && j->r->hooks.ended) {
        struct zt_gw_end e = {.job_id = j->sched_id[0] ? j->sched_id : j->job ? zt_job_call_id(j->job) : NULL,
                              .user = j->user,
                              .model = j->model,
                              .worker = j->worker.node_id,
                              .outcome = outcome,
                              .prompt_tokens = o->result.final.prompt_tokens,
                              .completion_tokens = o->result.final.completion_tokens,
                              .ms = zt_time_mono_ms() - j->start_ms};
        j->r->hooks.ended(j->r->hooks.ud, &e);
    }
    if (strcmp(outcome, "client_gone") != 0) count_peer(j->r, j->worker.node_id, ok);
    zt_log(ok ? ZT_LOG_INFO : ZT_LOG_WARN, "remote_job_done",
           "job_id=%s sched_job=%s worker=%s workers=%u via=%s model=%s outcome=%s worker_status=%ld prompt_tokens=%u "
           "completion_tokens=%u duration_ms=%llu",
           j->job ? zt_job_call_id(j->job) : "-", j->sched_id[0] ? j->sched_id : "-", j->worker.node_id,
           j->fst.workers, j->via[0] ? j->via : "-", j->model, outcome, o->http_status,
           (unsigned)o->result.final.prompt_tokens, (unsigned)o->result.final.completion_tokens,
           (unsigned long long)(zt_time_mono_ms() - j->start_ms));
}

static void job_end(struct zt_gw_job *j)
{
    if (j->sink.release) j->sink.release(j->sink.ud);
    job_unref(j);
}

/* ---- a static peer ------------------------------------------------------------ */

static struct zt_job_spec job_spec(const struct zt_gw_job *j, const struct zt_peer *w, uint64_t now)
{
    const struct zt_config *cfg = j->r->cfg;
    return (struct zt_job_spec){
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
}

static struct zt_job_target job_target(const struct zt_gw_job *j, const struct zt_peer *to, int64_t now)
{
    long t_ms = (long)j->r->cfg->encryption.remote_timeout_s * 1000L;
    return (struct zt_job_target){
        .base_url = to->endpoint,
        .via_relay = j->via[0] != '\0',
        .sign_as = j->r->id,
        .recipient_id = to->node_id,
        .now = now,
        .connect_timeout_ms = t_ms < 10000L ? t_ms : 10000L,
        .first_byte_timeout_ms = t_ms,
        .idle_timeout_ms = t_ms,
    };
}

/* The failover's template: the spec and target of the first call, with
 * the worker fields set per pick. */
static void set_failover(struct zt_gw_job *j, const struct zt_job_picker *picker, const struct zt_job_spec *spec,
                         const struct zt_job_target *target, unsigned max_workers)
{
    j->fo = (struct zt_job_failover){.picker = picker, .spec = *spec, .target = *target,
                                     .stall_ms = (long)j->r->cfg->encryption.remote_stall_ms,
                                     .max_workers = max_workers};
    j->fo.spec.model = j->model;
    j->fo.target.base_url = j->fo.target.recipient_id = NULL; /* per worker */
}

int zt_gw_job_seal(struct zt_gw_job *j, json_t *body, const struct zt_peer *w, int64_t now)
{
    j->worker = *w;
    struct zt_job_spec spec = job_spec(j, &j->worker, (uint64_t)now);
    spec.max_price = 0;
    int rc = zt_job_call_new(body, j->kind, &j->verdict, &spec, &j->job);
    if (!rc) j->fo.spec = spec;
    return rc;
}

int zt_gw_job_target(struct zt_gw_job *j, const char *relay, const char *pin, int64_t now,
                     char job_id[static 2 * ZT_ENV_JOB_ID_LEN + 1])
{
    /* where: the worker, or the relay with the worker as its target */
    struct zt_peer to = j->worker;
    if (relay && relay[0]) {
        if (zt_peers_lookup(j->r->peers, relay, now, &to) != 0) return ZT_ENOTFOUND;
        zt_strlcpy(j->via, to.node_id, sizeof j->via);
    }
    struct zt_job_target target = job_target(j, &to, now);
    if (zt_job_call_target(j->job, &target) != 0) return ZT_ENOMEM;
    /* a worker that dies or stalls mid-stream: the next peer serving the
     * model continues it (resumable streams, docs/internals/jobs.md) */
    zt_route_picker_init(&j->rp, j->r->peers, j->model, pin, j->via[0] ? &to : NULL, now);
    zt_route_worker(&j->worker, j->via[0] ? &to : NULL, &j->first);
    struct zt_job_spec spec = j->fo.spec;
    set_failover(j, &j->rp.picker, &spec, &target, 16); /* static peers: held (failed lately) ones last */
    zt_strlcpy(job_id, zt_job_call_id(j->job), 2 * ZT_ENV_JOB_ID_LEN + 1);
    return 0;
}

static void run_static(void *arg)
{
    struct zt_gw_job *j = arg;
    struct zt_job_outcome o;
    send_job(j, &o);
    log_done(j, &o, answer_outcome(j, &o));
    job_end(j);
}

/* ---- jobs placed by the scheduler ------------------------------------------- */

void zt_gw_job_set_scheduled(struct zt_gw_job *j, json_t *body, unsigned replicas, uint64_t price_ceiling,
                             const char *audit_who)
{
    j->scheduled = true;
    j->body = json_incref(body);
    j->replicas = replicas;
    j->price_ceiling = price_ceiling;
    zt_strlcpy(j->audit_who, audit_who ? audit_who : "", sizeof j->audit_who);
}

static bool remote(const struct zt_gw_runner *r)
{
    return r->place.remote(r->place.ud);
}

static void peer_of(const struct zt_job_worker *w, struct zt_peer *out)
{
    memset(out, 0, sizeof *out);
    zt_strlcpy(out->node_id, w->node_id, sizeof out->node_id);
    memcpy(out->ed25519_pk, w->sign_pk, sizeof out->ed25519_pk);
    memcpy(out->kem_pk, w->kem_pk, sizeof out->kem_pk);
    zt_strlcpy(out->endpoint, w->base_url, sizeof out->endpoint);
}

/* The body under the verdict, sealed to worker w, posted straight to it. */
static int make_call(struct zt_gw_job *j, const struct zt_peer *w, uint64_t now)
{
    struct zt_gw_runner *r = j->r;
    struct zt_job_spec spec = job_spec(j, w, now);
    int rc = zt_job_call_new(j->body, j->kind, &j->verdict, &spec, &j->job);
    if (rc) return rc;
    struct zt_gw_worker_info wi;
    j->placed_of[0] = '\0';
    if (r->chain && r->place.worker(r->place.ud, w->node_id, &wi) == 0 && wi.has_rate) {
        j->placed_rate = wi.rate;
        zt_strlcpy(j->placed_of, w->node_id, sizeof j->placed_of);
    }
    struct zt_job_target target = job_target(j, w, (int64_t)now);
    rc = zt_job_call_target(j->job, &target);
    if (rc) return rc;
    /* a worker that dies or stalls mid-stream: the scheduler gives the
     * next one, which continues the stream (resumable streams) */
    zt_route_worker(w, NULL, &j->first);
    set_failover(j, &j->sp, &spec, &target, (unsigned)r->cfg->orchestrator.max_attempts);
    return 0;
}

/* Take j off the waiting list: false when it was not on it. */
static bool unlink_waiting(struct zt_gw_runner *r, struct zt_gw_job *j)
{
    bool found = false;
    pthread_mutex_lock(&r->mu);
    for (struct zt_gw_job **pp = &r->waiting; *pp; pp = &(*pp)->sched_next)
        if (*pp == j) {
            *pp = j->sched_next;
            found = true;
            break;
        }
    pthread_mutex_unlock(&r->mu);
    return found;
}

bool zt_gw_runner_event(struct zt_gw_runner *r, const char *job_id, bool assigned, const char *worker)
{
    pthread_mutex_lock(&r->mu);
    struct zt_gw_job *j = r->waiting;
    while (j && strcmp(j->sched_id, job_id) != 0) j = j->sched_next;
    if (j && assigned) zt_strlcpy(j->assigned, worker, sizeof j->assigned);
    if (j && !assigned) j->sched_failed = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return j != NULL;
}

/* Wait until the pump assigns the job (or fails it, or the client goes);
 * true with worker set when assigned. An assignment, a failure, the
 * client's close and a shutdown signal r->cv; a client whose socket went
 * without a close (the connection is suspended, so nothing tells) is seen
 * by a look every WAIT_TICK_MS. */
static bool wait_assigned(struct zt_gw_job *j, uint64_t until_mono, char worker[static ZT_IDENTITY_ID_SIZE])
{
    struct zt_gw_runner *r = j->r;
    pthread_mutex_lock(&r->mu);
    while (!j->assigned[0] && !j->sched_failed && !aborted(j) && !client_gone(j) && zt_time_mono_ms() < until_mono) {
        uint64_t left = until_mono - zt_time_mono_ms();
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, left < WAIT_TICK_MS ? left : WAIT_TICK_MS);
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
static bool await_worker(struct zt_gw_job *j, char worker[static ZT_IDENTITY_ID_SIZE])
{
    const struct zt_gw_place *p = &j->r->place;
    if (remote(j->r)) { /* the orchestrator in another process: its lease answers */
        if (wait_assigned(j, zt_time_mono_ms(), worker)) return true; /* the submission's own */
        while (!j->sched_failed && !aborted(j) && !client_gone(j) && zt_time_mono_ms() < j->until) {
            uint64_t left = j->until - zt_time_mono_ms();
            int got = p->wait(p->ud, j->sched_id, left < 1000 ? (long)left : 1000L, worker);
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
           !j->sched_failed && !aborted(j) && !client_gone(j) && zt_time_mono_ms() < j->until &&
           p->servable(p->ud, j->sched_id))
        ;
    return got;
}

/* Tell the scheduler how the last attempt went (charge: the worker's
 * fault); true when the job is still queued or assigned after it. */
static bool tell_sched(struct zt_gw_job *j, const char *worker, enum zt_job_attempt a, bool charge, bool unreachable)
{
    const struct zt_gw_place *p = &j->r->place;
    /* charged, requeued or failed by the scheduler's rules; one that cannot
     * be reached at all is dropped until it joins again */
    bool live = p->failed(p->ud, j->sched_id, worker, a == ZT_JOB_ATTEMPT_STALLED, charge, unreachable);
    if (charge) {
        count_peer(j->r, worker, false);
        note_retry(j->r, a == ZT_JOB_ATTEMPT_DIED      ? RETRY_UNREACHABLE
                         : a == ZT_JOB_ATTEMPT_REFUSED ? RETRY_REFUSED
                         : a == ZT_JOB_ATTEMPT_STALLED ? RETRY_TIMEOUT
                                                       : RETRY_UNVERIFIED);
    }
    p->kick(p->ud);
    return live;
}

/* The failover loop's report: a good one goes to the scheduler now, a
 * failure waits for the next pick (or for the thread, which knows the
 * whole outcome). */
static void sched_report(void *ud, const struct zt_job_worker *w, enum zt_job_attempt a, uint32_t tokens)
{
    struct zt_gw_job *j = ud;
    const struct zt_gw_place *p = &j->r->place;
    if (a == ZT_JOB_ATTEMPT_OK) {
        p->ok(p->ud, j->sched_id, w->node_id, tokens, j->replicas > 0, j->remote_verify, sizeof j->remote_verify);
        return;
    }
    j->pending = true;
    zt_strlcpy(j->pend_worker, w->node_id, sizeof j->pend_worker);
    j->pend_a = a;
}

/* The worker at node_id from the registry, started on the job. */
static int sched_start(struct zt_gw_job *j, const char *worker)
{
    const struct zt_gw_place *p = &j->r->place;
    struct zt_gw_worker_info wi;
    int rc = p->start(p->ud, j->sched_id, worker, &wi);
    if (rc) return rc;
    zt_strlcpy(wi.w.node_id, worker, sizeof wi.w.node_id);
    peer_of(&wi.w, &j->worker);
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
    struct zt_gw_job *j = ud;
    const struct zt_gw_place *p = &j->r->place;
    if (j->pending) {
        j->pending = false;
        j->told = true;
        if (!tell_sched(j, j->pend_worker, j->pend_a, true, j->pend_a == ZT_JOB_ATTEMPT_DIED)) return ZT_ENOTFOUND;
    }
    char worker[ZT_IDENTITY_ID_SIZE];
    for (int tries = 0; tries < 3; tries++) {
        if (!await_worker(j, worker)) return ZT_ENOTFOUND;
        if (sched_start(j, worker) == 0) break;
        if (tries == 2) return ZT_ENOTFOUND;
        /* gone meanwhile: back to the queue */
        zt_ignore(p->failed(p->ud, j->sched_id, worker, false, true, false));
    }
    zt_route_worker(&j->worker, NULL, out);
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
    struct zt_gw_job *j = ud;
    const struct zt_gw_place *p = &j->r->place;
    return p->check_pick(p->ud, j->sched_id, j->model, j->worker.node_id, j->worker.ed25519_pk, j->check_ckpt,
                         j->check_ckpt_len, round, exclude, n, out);
}

/* A checker that failed its check: charged as a failed job. */
static void check_failed(void *ud, const struct zt_job_worker *w, enum zt_job_attempt a)
{
    struct zt_gw_job *j = ud;
    const struct zt_gw_place *p = &j->r->place;
    p->check_failed(p->ud, j->sched_id, w->node_id, a == ZT_JOB_ATTEMPT_STALLED);
}

/* The audit log: every extra worker the user's text was sealed to (which
 * job, which nodes, why). Never content. */
static void audit_disclosure(struct zt_gw_job *j, const struct zt_job_check_result *res, bool replica)
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
 * worker anything. The orchestrator (in this process: zt_lease_settle_local,
 * one store transaction with its settlement outbox row) moves the job
 * (verified, or failed with verification_mismatch) and reports the
 * outcomes to the registry (the loser: ZT_OUTCOME_CHEAT, banned at once).
 * The ledger's slashing (chain.slash_amount) hangs here: the losers are
 * res's wrong checkers and, for WORKER_WRONG, j->ran. */
static void settle_verification(struct zt_gw_job *j, const char *verdict, const struct zt_job_check_result *res,
                                const struct zt_job_outcome *o)
{
    const char *workers[RAN_MAX + 1];
    size_t nw = 0;
    workers[nw++] = j->worker.node_id; /* the last worker first */
    for (size_t i = 0; i < j->n_ran; i++)
        if (strcmp(j->ran[i], j->worker.node_id) != 0) workers[nw++] = j->ran[i];
    struct zt_orch_verdict cr = {
        .verdict = verdict, .workers = workers, .n_workers = nw, .res = res, .worker = &o->result};
    j->r->place.check_settle(j->r->place.ud, j->sched_id, &cr);
}

/* A check that settles nothing ("none", "unavailable"). */
static void settle_none(struct zt_gw_job *j, const char *verdict)
{
    struct zt_orch_verdict cr = {.verdict = verdict};
    j->r->place.check_settle(j->r->place.ud, j->sched_id, &cr);
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
static bool check_job(struct zt_gw_job *j, const struct zt_job_outcome *o)
{
    struct zt_gw_runner *r = j->r;
    /* the draw: this node's verifier, or a remote orchestrator's (its
     * answer to the ok report; docs/internals/orchestrator.md "Leases") */
    bool rem = remote(r);
    int64_t now = zt_time_real_ms();
    const char *why;
    if (j->replicas) why = "replicas";
    else if (rem) why = j->remote_verify[0] ? j->remote_verify : NULL;
    else why = r->place.draw(r->place.ud, j->sched_id, j->worker.node_id, now);
    if (!why) return true; /* "receipt" */
    const char *exempt = zt_privacy_verification_exempt(&r->cfg->privacy, zt_job_kind_feature(j->kind), j->user);
    if (exempt) {
        j->verification = "exempt";
        zt_log(ZT_LOG_INFO, "job_check_exempt", "sched_job=%s by=%s", j->sched_id, exempt);
        if (rem) settle_none(j, "none");
        return true;
    }
    if (!o->result.checkpoint_len || j->ids_oom) { /* nothing to compare: the receipt */
        if (rem) settle_none(j, "none");
        return true;
    }
    const char *ran[RAN_MAX];
    for (size_t i = 0; i < j->n_ran; i++) ran[i] = j->ran[i];
    long t_ms = (long)r->cfg->encryption.remote_timeout_s * 1000L;
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
        if (rem) settle_none(j, "none");
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
           why, j->replicas ? "replica" : "teacher_forced", zt_job_check_verdict_name(res->verdict), res->n,
           (unsigned long long)res->ms);
    zt_free(res);
    return keep;
}

static bool worker_fault(struct zt_gw_job *j, const struct zt_job_outcome *o)
{
    return zt_gw_worker_fault(o, started(j), atomic_load(&j->closed), zt_job_pool_stopping(j->r->pool));
}

/* Settle or refund the job with the ledger (chain.enabled): a verified
 * answer at the lower of the worker's prices when it was placed and now. */
static void settle_chain(struct zt_gw_job *j, const struct zt_job_outcome *o, const char *outcome, const char *worker)
{
    struct zt_gw_runner *r = j->r;
    bool paid = o->status == ZT_JOB_VERIFIED && outcome && strcmp(outcome, "ok") == 0;
    struct zt_gw_worker_info wi;
    bool known = false; /* the worker's own prices now, from its signed join record */
    if (r->chain && paid && r->place.worker(r->place.ud, worker, &wi) == 0) { /* its join record's wallet */
        zt_chain_provider_wallet(r->chain, worker, wi.wallet);
        known = wi.has_rate;
    }
    bool then = paid && r->chain && j->placed_of[0] && zt_str_eq(j->placed_of, worker);
    struct zt_ledger_rate rate;
    bool own = zt_gw_settle_rate(known ? &wi.rate : NULL, then ? &j->placed_rate : NULL, &rate);
    zt_chain_job_end(r->chain, j->sched_id, paid, paid ? worker : NULL, own ? &rate : NULL,
                     o->result.final.prompt_tokens, o->result.final.completion_tokens); /* settle or refund */
    if (paid && r->chain && r->hooks.paid) {
        struct zt_ledger_prices at;
        zt_ledger_prices_at(zt_chain_prices(r->chain), own ? &rate : NULL, &at);
        const struct zt_gw_paid pd = {.at = &at, .job_id = j->sched_id, .user = j->user, .worker = worker,
                                      .prompt_tokens = o->result.final.prompt_tokens,
                                      .completion_tokens = o->result.final.completion_tokens};
        r->hooks.paid(r->hooks.ud, &pd);
    }
}

static void run_sched(void *arg)
{
    struct zt_gw_job *j = arg;
    struct zt_gw_runner *r = j->r;
    const struct zt_gw_place *p = &r->place;
    j->until = zt_time_mono_ms() + (uint64_t)r->cfg->encryption.remote_timeout_s * 1000u;
    j->sp = (struct zt_job_picker){.pick = sched_pick, .report = sched_report, .ud = j};
    struct zt_job_outcome o;
    memset(&o, 0, sizeof o);
    const char *outcome = NULL;
    char worker[ZT_IDENTITY_ID_SIZE];
    j->start_ms = zt_time_mono_ms();
    while (!outcome) {
        if (!await_worker(j, worker)) {
            bool failed = j->sched_failed || !p->servable(p->ud, j->sched_id);
            p->cancel(p->ud, j->sched_id);
            if (aborted(j) || client_gone(j)) {
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
                p->cancel(p->ud, j->sched_id);
                if (rc == ZT_EINVAL)
                    answer_error(j, 400, "invalid_request",
                                 j->kind == ZT_JOB_CHAT ? "messages must be a non-empty array of {role, content} strings"
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
            p->cancel(p->ud, j->sched_id);
            outcome = answer_outcome(j, &o);
            break;
        }
        /* the worker failed it before anything reached the client: the
         * scheduler charges it and requeues the job (or fails it) */
        log_done(j, &o, "retry");
        if (!tell_sched(j, last, a, !told, !told && o.status == ZT_JOB_UNREACHABLE && o.http_status == 0)) {
            outcome = answer_outcome(j, &o);
            break;
        }
        if (j->sink.restart) j->sink.restart(j->sink.ud); /* a non-streamed answer starts again */
    }
    /* paid: the worker that finished (ran_on), not the loop's first pick:
     * after a failover the scheduler's picker moved j->worker on */
    settle_chain(j, &o, outcome, j->worker.node_id);
    /* whatever happened, the job is over here: one still active in the
     * scheduler (requeued and reassigned while its first worker finished
     * after all, or left for another reason) must not hold a slot */
    bool paid = o.status == ZT_JOB_VERIFIED && outcome && strcmp(outcome, "ok") == 0;
    if (!(paid && remote(r))) /* remote: its ok report ended the lease */
        p->cancel(p->ud, j->sched_id);
    bool done = outcome && strcmp(outcome, "ok") == 0;
    atomic_fetch_add(&r->ended[done], 1);
    if (p->note_end) p->note_end(p->ud, done);
    p->kick(p->ud); /* a slot is free */
    zt_ignore(unlink_waiting(r, j));
    log_done(j, &o, outcome);
    job_end(j);
}

/* ---- submission ------------------------------------------------------------------ */

/* The key of zt_gw_client_key's pseudonyms: random per process (fair
 * queueing needs a key stable only while jobs wait). */
static uint8_t client_salt[crypto_generichash_KEYBYTES];
static pthread_once_t client_salt_once = PTHREAD_ONCE_INIT;
static void client_salt_init(void) { randombytes_buf(client_salt, sizeof client_salt); }

void zt_gw_client_key(const char *identity, const char *addr, char *out, size_t n)
{
    char who[ZT_AUTH_ID_MAX + 64];
    if (identity && identity[0]) snprintf(who, sizeof who, "id:%s", identity);
    else snprintf(who, sizeof who, "addr:%s", addr ? addr : "");
    pthread_once(&client_salt_once, client_salt_init);
    uint8_t h[16];
    crypto_generichash(h, sizeof h, (const uint8_t *)who, strlen(who), client_salt, sizeof client_salt);
    char hx[2 * sizeof h + 1];
    sodium_bin2hex(hx, sizeof hx, h, sizeof h);
    snprintf(out, n, "c:%s", hx);
}

static int refuse(struct zt_gw_refusal *err, int status, const char *code, const char *msg, int rc)
{
    err->status = status;
    err->code = code;
    if (msg != err->msg) zt_strlcpy(err->msg, msg, sizeof err->msg);
    return rc ? rc : ZT_EPERM;
}

int zt_gw_job_submit(struct zt_gw_job *j, const char *client, const char *identity, uint64_t bytes, size_t n_texts,
                     struct zt_gw_refusal *err, char job_id[static ZT_GW_JOB_ID_SIZE])
{
    struct zt_gw_runner *r = j->r;
    const struct zt_gw_place *p = &r->place;
    memset(err, 0, sizeof *err);
    struct zt_gw_submit s = {
        .client = client,
        .model = j->model,
        .ctx_tokens = (uint32_t)(bytes / 4 + 1), /* an estimate: the gateway does not tokenize */
        .max_tokens = j->max_tokens,
        .price_ceiling = j->price_ceiling,
    };
    struct zt_gw_placed sr;
    memset(&sr, 0, sizeof sr);
    /* a remote orchestrator's answer comes over HTTP, not under the lock */
    uint64_t t0 = zt_time_mono_ns();
    bool rem = remote(r);
    int rc = rem ? p->submit(p->ud, &s, &sr) : 0;
    pthread_mutex_lock(&r->mu); /* an assignment of the pump finds the job listed */
    if (!rem) rc = p->submit(p->ud, &s, &sr);
    note_submit(r, zt_time_mono_ns() - t0, rc);
    if (!rc) {
        zt_strlcpy(j->sched_id, sr.job_id, sizeof j->sched_id);
        if (sr.assigned) zt_strlcpy(j->assigned, sr.worker, sizeof j->assigned);
        j->sched_next = r->waiting;
        r->waiting = j;
    }
    pthread_mutex_unlock(&r->mu);
    zt_strlcpy(err->msg, "the ledger could not reserve the job", sizeof err->msg);
    /* the reservation at the chosen worker's own prices; while the job
     * waits for one, at the client's ceiling (it bounds whichever worker
     * comes), else at chain.yaml's prices (docs/internals/ledger.md) */
    struct zt_ledger_rate rate = {j->price_ceiling, j->price_ceiling};
    bool rated = j->price_ceiling != 0;
    struct zt_gw_worker_info wi;
    if (!rc && r->chain && sr.assigned && p->worker(p->ud, sr.worker, &wi) == 0 && wi.has_rate) {
        rate = wi.rate;
        rated = true;
    }
    int lrc = !rc && r->chain ? zt_chain_job_open(r->chain, identity, j->sched_id, bytes, n_texts, j->max_tokens,
                                                  rated ? &rate : NULL, err->msg, sizeof err->msg)
                              : 0;
    if (lrc) { /* chain.enabled and the caller cannot pay (docs/internals/ledger.md) */
        zt_ignore(unlink_waiting(r, j));
        p->cancel(p->ud, j->sched_id);
        bool pay = lrc == ZT_EPERM || lrc == ZT_ERANGE;
        return refuse(err, pay ? 402 : 503, pay ? "payment_required" : "unavailable", err->msg, lrc);
    }
    if (rc == ZT_ENOTFOUND && j->price_ceiling) /* never another route: it would not keep the ceiling */
        return refuse(err, 503, "no_worker", "no worker of this model within zentalk.max_price_per_1k", ZT_EPERM);
    if (rc == ZT_ENOTFOUND) {
        memset(err, 0, sizeof *err);
        return ZT_ENOTFOUND;
    }
    if (rc == ZT_EBUSY) {
        err->retry_after = sr.retry_after_s ? sr.retry_after_s : 1;
        return refuse(err, 503, "overloaded",
                      "every worker of this model is busy and the queue is full; retry after Retry-After", rc);
    }
    if (rc) return refuse(err, 503, "unavailable", "the scheduler could not take the job", rc);
    zt_strlcpy(job_id, j->sched_id, ZT_GW_JOB_ID_SIZE);
    zt_log(ZT_LOG_DEBUG, "sched_job_submitted", "sched_job=%s state=%s worker=%s model=%s request_id=%s", sr.job_id,
           sr.assigned ? "assigned" : "queued", sr.worker[0] ? sr.worker : "-", j->model,
           j->request_id[0] ? j->request_id : "-");
    return 0;
}

int zt_gw_job_start(struct zt_gw_job *j)
{
    struct zt_gw_runner *r = j->r;
    atomic_fetch_add(&j->refs, 1); /* the connection's close */
    bool had_slot = j->slot;
    j->slot = false; /* the thread's once spawned: set before, j is the thread's after (review10 F7) */
    int rc = zt_job_pool_spawn(r->pool, j->scheduled ? run_sched : run_static, j);
    if (rc) {
        j->slot = had_slot;
        atomic_fetch_sub(&j->refs, 1);
        if (j->scheduled && unlink_waiting(r, j)) r->place.cancel(r->place.ud, j->sched_id);
    }
    return rc;
}

static int slot(struct zt_gw_job *j, struct zt_gw_refusal *err)
{
    if (zt_gw_runner_reserve(j->r) != 0) {
        err->retry_after = 1;
        return refuse(err, 503, "overloaded", "too many remote jobs in progress; retry shortly", ZT_EBUSY);
    }
    j->slot = true;
    return 0;
}

static void unslot(struct zt_gw_job *j)
{
    if (j->slot) zt_gw_runner_unreserve(j->r);
    j->slot = false;
}

static const char *texts_msg(const struct zt_gw_job *j)
{
    return j->kind == ZT_JOB_CHAT ? "messages must be a non-empty array of {role, content} strings"
                                  : "prompt must be a string (or an array holding one string)";
}

/* Submitted to the scheduler: 0 (placed), ZT_ENOTFOUND (no joined worker
 * serves the model: the static peers may), else refused. */
static int launch_sched(struct zt_gw_job *j, const struct zt_gw_launch *l, struct zt_gw_launched *out,
                        struct zt_gw_refusal *err)
{
    struct zt_gw_runner *r = j->r;
    if (!l->n_texts) return refuse(err, 400, "invalid_request", texts_msg(j), ZT_EINVAL);
    int rc = slot(j, err);
    if (rc) return rc;
    char who[ZT_PSEUDOID_STR + 8] = ""; /* the audit log's name for the caller (no privacy layer: no log) */
    if (r->pv) zt_privacy_layer_audit_name(r->pv, j->user, who);
    zt_gw_job_set_scheduled(j, l->body, l->replicas, l->price_ceiling, who);
    char client[64]; /* "c:" + 32 hex digits */
    zt_gw_client_key(j->user, l->client_addr, client, sizeof client);
    rc = zt_gw_job_submit(j, client, j->user, l->bytes, l->n_texts, err, out->job_id);
    if (!rc) {
        out->scheduled = true;
        return 0;
    }
    unslot(j);
    if (rc != ZT_ENOTFOUND || err->status) return rc;
    /* no joined worker serves it: the static peers may */
    j->scheduled = false;
    json_decref(j->body);
    j->body = NULL;
    return ZT_ENOTFOUND;
}

int zt_gw_job_launch(struct zt_gw_job *j, const struct zt_gw_launch *l, struct zt_gw_launched *out,
                     struct zt_gw_refusal *err)
{
    const struct zt_config *cfg = j->r->cfg;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    out->types = j->verdict.types;
    out->masked = j->verdict.kind == ZT_PRIVACY_VERDICT_MASKED;
    int rc;
    if (l->scheduled && (rc = launch_sched(j, l, out, err)) != ZT_ENOTFOUND) return rc;
    if (!l->peer) {
        snprintf(err->msg, sizeof err->msg, "model '%.128s' is not served here, by any joined worker with a free "
                 "reputation and context, or by a registered peer", j->model);
        return refuse(err, 404, "model_not_found", err->msg, ZT_ENOTFOUND);
    }
    /* the body under the verdict, sealed to the worker */
    rc = zt_gw_job_seal(j, l->body, l->peer, l->now);
    if (rc == ZT_EINVAL) return refuse(err, 400, "invalid_request", texts_msg(j), rc);
    if (rc) {
        bool mem = rc == ZT_ENOMEM || rc == ZT_EPERM;
        return refuse(err, mem ? 503 : 502, mem ? "overloaded" : "worker_unusable",
                      mem ? "out of memory" : "the job cannot be sealed to the worker (model id or KEM key)", rc);
    }
    if ((rc = slot(j, err)) != 0) return rc;
    /* where: the worker, or the relay with the worker as its target */
    const char *relay = cfg->encryption.relay;
    char job_id[2 * ZT_ENV_JOB_ID_LEN + 1];
    rc = zt_gw_job_target(j, relay, cfg->encryption.remote_worker, l->now, job_id);
    if (rc) {
        unslot(j);
        if (rc != ZT_ENOTFOUND)
            return refuse(err, 503, "overloaded", "the remote job could not be started", rc);
        snprintf(err->msg, sizeof err->msg, "the relay %s (encryption.relay) is not a registered peer", relay);
        return refuse(err, 502, "relay_unknown", err->msg, rc);
    }
    zt_strlcpy(out->job_id, job_id, sizeof out->job_id);
    zt_strlcpy(out->via, j->via[0] ? j->via : "-", sizeof out->via);
    zt_strlcpy(out->worker, l->peer->node_id, sizeof out->worker);
    return 0;
}

/* ---- metrics ------------------------------------------------------------------- */

static int m_retries(void *ud, struct zt_metrics_out *out)
{
    struct zt_gw_runner *r = ud;
    return zt_metrics_emit_each(out, "reason", retry_names, r->retries, RETRY_N);
}

static int m_ended(void *ud, struct zt_metrics_out *out)
{
    struct zt_gw_runner *r = ud;
    int rc = zt_metrics_emit_u64(out, NULL, "outcome=\"done\"", atomic_load(&r->ended[1]));
    return rc ? rc : zt_metrics_emit_u64(out, NULL, "outcome=\"failed\"", atomic_load(&r->ended[0]));
}

static int m_placement(void *ud, struct zt_metrics_out *out)
{
    struct zt_gw_runner *r = ud;
    int rc = 0;
    for (int i = 0; i < LAT_BUCKETS && !rc; i++)
        rc = zt_metrics_emitf_u64(out, "_bucket", atomic_load(&r->lat_bucket[i]), "le=\"%g\"", lat_le[i]);
    uint64_t n = atomic_load(&r->lat_count);
    if (!rc) rc = zt_metrics_emit_u64(out, "_bucket", "le=\"+Inf\"", n);
    if (!rc) rc = zt_metrics_emit(out, "_sum", NULL, (double)atomic_load(&r->lat_sum_ns) / 1e9);
    if (!rc) rc = zt_metrics_emit_u64(out, "_count", NULL, n);
    return rc;
}

/* zentalk_jobs_total's remote part (the family is the router's). */
static int m_remote(void *ud, struct zt_metrics_out *out)
{
    struct zt_gw_stats st;
    zt_gw_runner_stats(ud, &st);
    return zt_metrics_emit_u64(out, NULL, "where=\"remote\"", st.remote);
}

/* fams[0..1]: one unlabelled sample each. */
static int m_one(void *ud, struct zt_metrics_out *out)
{
    struct zt_gw_stats st;
    zt_gw_runner_stats(ud, &st);
    const uint64_t v[] = {st.failed, st.inflight};
    return zt_metrics_emit_u64(out, NULL, NULL, v[zt_metrics_out_index(out)]);
}

static const struct zt_metrics_fam placed[] = {
    {"zentalk_orchestrator_job_retries_total",
     "Placed jobs moved to another worker after theirs failed them, by why.", ZT_METRIC_COUNTER, m_retries},
    {"zentalk_orchestrator_jobs_total", "Placed jobs that ended, by outcome.", ZT_METRIC_COUNTER, m_ended},
    {"zentalk_orchestrator_placement_seconds", "Time zt_sched_submit took for jobs it accepted (placed or queued).",
     ZT_METRIC_HISTOGRAM, m_placement},
};

int zt_gw_runner_register_metrics(struct zt_gw_runner *r, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_remote_jobs_failed_total", "Remote jobs that failed (unreachable, refused, unverified).",
         ZT_METRIC_COUNTER, m_one},
        {"zentalk_remote_jobs_in_flight", "Remote jobs in progress.", ZT_METRIC_GAUGE, m_one},
    };
    int rc = zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], r);
    return rc ? rc : zt_metrics_add_part(m, "zentalk_jobs_total", ZT_METRIC_COUNTER, m_remote, r);
}

int zt_gw_runner_register_placement_metrics(struct zt_gw_runner *r, struct zt_metrics *m)
{
    return zt_metrics_add_fns(m, placed, sizeof placed / sizeof placed[0], r);
}
