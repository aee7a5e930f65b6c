/* route_api.c: local-first routing of LLM requests, the HTTP side. See
 * route_api.h and docs/internals/route.md.
 *
 * The protocol is src/jobs's: where the request runs (zt_route_decide),
 * the privacy gate's verdict over the prompt or every message's content
 * (zt_privacy_gate_check: refuse, masked with a restore map, or allow),
 * and the gateway's job runner (zt_gwjob.h: the sealed-job client on a
 * thread of its pool, the wait for a scheduled worker, failover, the
 * checks, the ledger). This file parses the request, calls those, and
 * renders the answer the runner's sink receives in the shapes of local
 * answers (openai.h, shared with llm_api.c): each opened text chunk goes
 * out (an SSE chunk, or into the answer kept for the end); only once the
 * receipt verifies does the answer end as a success (the JSON object, or
 * the last SSE chunk and [DONE]); otherwise it ends as an error. The
 * runner and its scheduler (struct zt_gw_place, implemented by the
 * orchestrator role, zt_orch_role.h) are the node's, lent here.
 *
 * Nothing of the prompt, the messages or the answer is logged; the logs
 * and the audit log name the job id, the worker and the PII types. */
#include "route_api.h"

#include "llm_api.h"

#include "cache_api.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "openai.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gwjob.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_orch_role.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define TEXT_MAX ((size_t)16 << 20)

_Static_assert(ZT_GW_BUFFER_MAX == ZT__ROUTE_BUFFER_MAX, "the SSE backlog bound");
_Static_assert(ZT_GW_PEERS_MAX == ZT__ROUTE_PEERS_MAX, "peers counted by id");

struct zt__route {
    const struct zt_config *cfg;
    struct zt_infer *ms;
    struct zt_peers *peers;
    struct zt_privacy_layer *pv;
    const struct zt_identity *id;
    struct zt_gw_runner *run;   /* remote jobs (zt_gwjob.h; the node's, lent) */
    struct zt_orch_role *orch;  /* this node's orchestrator (zt_orch_role.h), or NULL */
    struct zt_chain *chain;   /* chain.enabled: the books jobs are paid from (zt_ledger.h), or NULL */
    struct zt_rcache *cache;  /* the result cache (cache_api.h), or NULL */
    atomic_uint_fast64_t local, refused;
};

/* One remote job's answer as the client gets it (the runner's sink). */
struct rout {
    struct zt__route *r;
    struct zt_http_async *a;
    bool chat, stream, include_usage;
    char id[48];                      /* oa.id */
    char model[ZT_ENV_MODEL_MAX + 1]; /* oa.model */
    struct zt__openai_answer oa;
    bool sse_started;
    int fail;                   /* ZT_E* while answering */
    struct zt_buf text;         /* non-streamed answer (restored: wiped) */
    struct zt_rcache_req cache; /* the result cache: the key to store the answer under */
};

/* ---- lifecycle ------------------------------------------------------------ */

int zt__route_new(const struct zt_config *cfg, struct zt_infer *ms, struct zt_peers *peers, struct zt_privacy_layer *pv,
                  struct zt_gw_runner *run, struct zt__route **out)
{
    struct zt__route *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    r->run = run;
    r->cfg = cfg;
    r->ms = ms;
    r->peers = peers;
    r->pv = pv;
    *out = r;
    return 0;
}

void zt__route_set_identity(struct zt__route *r, const struct zt_identity *id)
{
    if (!r) return;
    r->id = id;
}

void zt__route_set_orch(struct zt__route *r, struct zt_orch_role *o)
{
    if (r) r->orch = o;
}

void zt__route_set_chain(struct zt__route *r, struct zt_chain *c)
{
    if (!r) return;
    r->chain = c;
}

void zt__route_set_cache(struct zt__route *r, struct zt_rcache *c)
{
    if (r) r->cache = c;
}

static struct zt__cache_env cache_env(const struct zt__route *r)
{
    return (struct zt__cache_env){.cache = r->cache, .cfg = r->cfg, .id = r->id, .chain = r->chain, .pv = r->pv};
}

void zt__route_free(struct zt__route *r)
{
    zt_free(r);
}

void zt__route_stats(struct zt__route *r, struct zt__route_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return;
    struct zt_gw_stats gs;
    zt_gw_runner_stats(r->run, &gs);
    out->local = atomic_load(&r->local);
    out->remote = gs.remote;
    out->remote_failed = gs.failed;
    out->refused = atomic_load(&r->refused);
    out->inflight = gs.inflight;
}

static int m_jobs(void *ud, struct zt_metrics_out *o)
{
    struct zt__route_stats st;
    zt__route_stats(ud, &st);
    return zt_metrics_emit_u64(o, NULL, "where=\"local\"", st.local); /* the runner adds where="remote" */
}

static int m_refused(void *ud, struct zt_metrics_out *o)
{
    struct zt__route *r = ud;
    return zt_metrics_emit_u64(o, NULL, NULL, atomic_load(&r->refused));
}

int zt__route_register_metrics(struct zt__route *r, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_jobs_total", "Completion and chat requests, by where they ran.", ZT_METRIC_COUNTER, m_jobs},
        {"zentalk_jobs_refused_total",
         "Requests kept on this node by the privacy policy (local_only) with no local model.", ZT_METRIC_COUNTER,
         m_refused},
    };
    return zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], r);
}

json_t *zt__route_peer_counts(struct zt__route *r)
{
    return r ? zt_gw_runner_peer_counts(r->run) : json_object();
}

/* ---- the answer: the runner's sink, in the shapes of local answers (openai.h) */

static void wipe_buf(struct zt_buf *b)
{
    if (b->data) sodium_memzero(b->data, b->cap);
    zt_buf_deinit(b);
}

static void s_free(void *ud)
{
    struct rout *s = ud;
    wipe_buf(&s->text);
    zt_rcache_req_deinit(&s->cache);
    zt_free(s);
}

static void sse(struct rout *s, json_t *o)
{
    int rc = zt__openai_sse(s->a, o);
    if (rc && !s->fail) s->fail = rc;
}

static bool sse_start(struct rout *s)
{
    if (s->sse_started) return true;
    if (zt_http_async_stream_start(s->a, 200, "text/event-stream") != 0) return false;
    s->sse_started = true;
    return true;
}

/* Restored text for the client. */
static int s_text(void *ud, const char *text, size_t len)
{
    struct rout *s = ud;
    if (!len || s->fail) return s->fail;
    zt_rcache_req_text(&s->cache, text, len);
    if (!s->stream) {
        if (zt_buf_append(&s->text, text, len) != 0) s->fail = ZT_ETOOBIG;
        return s->fail;
    }
    if (!sse_start(s)) {
        s->fail = ZT_ECLOSED;
        return s->fail;
    }
    sse(s, zt__openai_chunk(&s->oa, text, len, NULL));
    return s->fail;
}

static void s_error(void *ud, int status, const char *code, const char *msg)
{
    struct rout *s = ud;
    /* streaming: an error event and no [DONE] */
    zt__openai_fail(s->a, s->sse_started, status, code, msg);
}

/* "zentalk": where it ran and the proof: the worker's sequence hash and
 * build, its node id, the job id and the signed receipt (hex). */
static void s_ok(void *ud, const struct zt_gw_answer *a)
{
    struct rout *s = ud;
    const struct zt_sealed_result *res = a->res;
    const char *finish = res->final.finish_reason;
    if (s->stream && !sse_start(s)) return;
    char *rec = zt_malloc(2 * res->receipt_len + 1);
    if (!rec) {
        s_error(s, 503, "overloaded", "out of memory");
        return;
    }
    zt_hex_encode(rec, res->receipt_bytes, res->receipt_len);
    struct zt__openai_ran ran = {.seq_hash = res->receipt.seq_chain,
                                 .engine = res->receipt.build_id,
                                 .ran_on = a->ran_on,
                                 .job_id = a->job_id,
                                 .receipt_hex = rec,
                                 .via = a->via,
                                 .verification = a->verification,
                                 .checks = a->checks};
    struct zt__openai_usage u = {res->final.prompt_tokens, res->final.completion_tokens, 0};
    if (!s->fail) /* stored before the answer goes out: a client that asks again at once gets the hit */
        zt_rcache_req_done(s->r->cache, &s->cache, res, a->ran_on);
    if (s->stream) {
        sse(s, zt__openai_final_chunk(&s->oa, finish, &ran));
        if (s->include_usage) sse(s, zt__openai_usage_chunk(&s->oa, &u));
        zt__openai_sse_done(s->a);
    } else {
        zt__openai_respond(s->a, zt__openai_completion(&s->oa, zt_buf_str(&s->text), s->text.len, finish, &u, &ran));
    }
    zt_free(rec);
}

static void s_gone(void *ud)
{
    struct rout *s = ud;
    /* resume a suspended connection so it is freed (nobody reads it) */
    if (!s->sse_started) s_error(s, 502, "client_gone", "the client went away");
    else zt_http_async_fail(s->a);
}

static bool s_client_gone(void *ud) { return zt_http_async_client_gone(((struct rout *)ud)->a); }

static size_t s_backlog(void *ud)
{
    struct rout *s = ud;
    return s->sse_started ? zt_http_async_pending(s->a) : 0;
}

static bool s_started(void *ud) { return ((struct rout *)ud)->sse_started; }

static void s_restart(void *ud)
{
    struct rout *s = ud;
    wipe_buf(&s->text); /* a non-streamed answer starts again */
    zt_buf_init(&s->text, TEXT_MAX);
    zt_rcache_req_restart(&s->cache);
}

static void s_release(void *ud) { zt_http_async_release(((struct rout *)ud)->a); }

static void on_client_close(void *ud)
{
    zt_gw_job_client_closed(ud);
}

/* Suspend the request and start the job on a pool thread: true when the
 * thread owns it (and its slot). */
static bool start_job(struct zt_gw_job *j, struct rout *s, struct zt_http_req *req)
{
    s->a = zt_http_req_defer(req, on_client_close, j);
    if (!s->a) return false;
    if (zt_gw_job_start(j) != 0) {
        zt_http_async_abandon(s->a); /* on_close will not run */
        s->a = NULL;
        return false;
    }
    return true;
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
    enum zt_route_where fallback;
    enum zt_route_where where =
        zt_route_decide(r->peers, model, local, pin, zt_orch_role_workers(r->orch), now, &w, &fallback);
    bool sched = where == ZT_ROUTE_SCHEDULED;
    switch (where) {
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
    case ZT_ROUTE_REMOTE:
    case ZT_ROUTE_SCHEDULED: break;
    }
    struct zt__openai_opts opts;
    if (!zt__openai_options(body, &opts, resp)) return true;
    uint32_t max_tokens;
    if (!get_max_tokens(r, body, &max_tokens, resp)) return true;
    if (!r->id || zt_gw_runner_stopping(r->run)) {
        zt_http_resp_error(resp, 503, "unavailable", "this node has no identity key to sign remote jobs with");
        return true;
    }

    /* the privacy gate: every text that would leave the node */
    enum zt_job_kind kind = chat ? ZT_JOB_CHAT : ZT_JOB_COMPLETION;
    struct zt_privacy_text texts[ZT_JOB_MAX_MESSAGES];
    size_t n_texts = 0;
    zt_job_texts(body, kind, texts, ZT_JOB_MAX_MESSAGES, &n_texts);
    struct zt_privacy_verdict v;
    struct zt_gw_job *j = NULL;
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
    const char *request_id = zt_http_req_id(req);
    const struct zt_peer *peer = (sched ? fallback : where) == ZT_ROUTE_REMOTE ? &w : NULL;
    struct zt_gw_job_params jp = {.kind = kind, .model = model, .max_tokens = max_tokens,
                                  .caller = cx->principal.identity, .request_id = request_id, .verdict = &v,
                                  .peer = peer};
    struct rout *s = zt_calloc(1, sizeof *s);
    if (!s || zt_gw_job_new(r->run, &jp, &j) != 0) {
        zt_free(s);
        zt_privacy_verdict_deinit(&v);
        goto oom;
    }
    s->r = r;
    s->chat = chat;
    s->stream = opts.stream;
    s->include_usage = opts.include_usage;
    zt_strlcpy(s->model, model, sizeof s->model);
    zt__openai_answer_init(&s->oa, chat, s->model, request_id, s->id, sizeof s->id);
    zt_buf_init(&s->text, TEXT_MAX);
    const struct zt_gw_sink sink = {.text = s_text, .ok = s_ok, .error = s_error, .gone = s_gone,
                                    .client_gone = s_client_gone, .backlog = s_backlog, .started = s_started,
                                    .restart = s_restart, .release = s_release, .free = s_free, .ud = s};
    zt_gw_job_set_sink(j, &sink); /* s is the job's from here on */
    struct zt__cache_env env = cache_env(r);
    if (zt__cache_lookup(&env, cx, body, chat, s->model, max_tokens, zt_gw_job_verdict(j), opts.stream,
                         opts.include_usage, &s->cache, resp))
        goto out; /* answered from the result cache */
    struct zt_gw_launch l = {.body = body, .scheduled = sched, .peer = peer, .now = now,
                             .client_addr = zt_http_req_client_addr(req), .n_texts = n_texts};
    for (size_t i = 0; i < n_texts; i++) l.bytes += texts[i].len;
    if (sched && n_texts && (!get_replicas(r, body, &l.replicas, resp) || !get_price_ceiling(body, &l.price_ceiling, resp)))
        goto out;
    /* the slot, the submission or the seal, the target (zt_gwjob.h) */
    struct zt_gw_launched go;
    struct zt_gw_refusal err;
    if (zt_gw_job_launch(j, &l, &go, &err) != 0) {
        if (err.retry_after) {
            char ra[16];
            snprintf(ra, sizeof ra, "%u", err.retry_after);
            zt_ignore(zt_http_resp_header(resp, "Retry-After", ra));
        }
        zt_http_resp_error(resp, err.status, err.code, err.msg);
        goto out;
    }
    if (!start_job(j, s, req)) goto oom; /* the job gives its slot back, and a scheduled one is withdrawn */
    zt__req_note_privacy(cx, go.types, go.masked ? "pseudonymised" : "remote");
    zt__req_note_job(cx, go.job_id);
    if (!go.scheduled)
        zt_log(ZT_LOG_DEBUG, "remote_job_sent", "job_id=%s worker=%s via=%s model=%s max_tokens=%u request_id=%s",
               go.job_id, go.worker, go.via, model, (unsigned)max_tokens, request_id);
    return true; /* the thread owns j and the slot */
oom:
    zt_http_resp_error(resp, 503, "overloaded", "the remote job could not be started");
out:
    zt_gw_job_discard(j);
    return true;
}

/* The routes: remote when the router says so, else the local path. */
static void generate(struct zt__route *r, struct zt__req_ctx *cx, json_t *body, bool chat, struct zt_http_resp *resp)
{
    if (!zt__route_generate(r, cx, body, chat, resp)) zt__llm_generate(r->ms, cx, body, chat, resp);
}

void zt__route_h_generate(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    generate(ud, cx, body, cx->arg != 0, resp);
}
