/* route.c: local-first routing of LLM requests. See route.h and
 * docs/internals/route.md.
 *
 * A remote job, in order, on the HTTP thread: pick the worker peer; the
 * privacy decision over the prompt or every message's content (refuse,
 * pseudonymise into a copy of the request, or send as is); the job body
 * (zt_sealed_job_body) sealed to the worker's KEM key with a fresh reply
 * key (zt_sealed_call_seal); the request signed as this node; the client's
 * connection deferred; a detached thread started. On the thread: one
 * libcurl easy transfer; the sealed result is fed to the reader as it
 * arrives, each opened text chunk goes through the streaming restore of
 * the pseudonyms and out (an SSE chunk, or into the answer kept for the
 * end); at the end the reader checks that the stream is complete and the
 * receipt signed by the worker's key for this header, body and output.
 * Only then does the answer end as a success (the JSON object, or the
 * last SSE chunk and [DONE]); otherwise it ends as an error.
 *
 * Nothing of the prompt, the messages or the answer is logged; the logs
 * and the audit log name the job id, the worker and the PII types. */
#include "route.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_pseudo.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define TEXT_MAX ((size_t)16 << 20)
#define ERR_BODY_MAX ((size_t)16384)
#define MASKED_MAX ((size_t)32 << 20)
#define PATH_SEALED "/v1/jobs/sealed"
#define PATH_RELAY "/v1/relay/jobs"

struct peer_count {
    char id[ZT_IDENTITY_ID_SIZE];
    uint64_t ok, failed;
};

struct zt__route {
    const struct zt_config *cfg;
    struct zt_infer *ms;
    struct zt_peers *peers;
    struct zt__privacy *pv;
    const struct zt_identity *id;
    pthread_mutex_t mu; /* inflight, per */
    unsigned inflight;
    struct peer_count per[ZT__ROUTE_PEERS_MAX];
    size_t n_per;
    atomic_bool stopping;
    atomic_uint_fast64_t local, remote, failed, refused;
};

struct rjob {
    struct zt__route *r;
    struct zt_http_async *a;
    atomic_int refs;    /* the thread + on_close */
    atomic_bool closed; /* the client is gone */
    bool chat, stream, include_usage;
    char id[48];
    char model[ZT_ENV_MODEL_MAX + 1];
    long long created;
    struct zt_peer worker;
    char via[ZT_IDENTITY_ID_SIZE]; /* relay id, or "" */
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + 32];
    char job_hex[2 * ZT_ENV_JOB_ID_LEN + 1];
    struct curl_slist *headers;
    struct zt_sealed_call call;
    struct zt_pseudo *pseudo; /* NULL unless pseudonymised */
    struct zt_pseudo_stream ps;
    /* transfer state (the thread's only) */
    CURL *curl;
    bool checked, is_result, timed_out, sse_started;
    long status;
    int fail;                 /* ZT_E* from the reader or while answering */
    struct zt_buf err_body;   /* a non-result answer of the worker */
    struct zt_buf text;       /* non-streamed answer (restored: wiped) */
    struct zt_buf scratch;    /* one restored piece (wiped) */
    uint64_t start_ms;
};

/* ---- lifecycle ------------------------------------------------------------ */

static bool id_ok(const char *s)
{
    return !s || !s[0] || zt_identity_id_valid(s);
}

int zt__route_new(const struct zt_config *cfg, struct zt_infer *ms, struct zt_peers *peers, struct zt__privacy *pv,
                  struct zt__route **out)
{
    if (!id_ok(cfg->encryption.remote_worker) || !id_ok(cfg->encryption.relay)) {
        zt_log(ZT_LOG_ERROR, "config_invalid",
               "key=encryption.remote_worker/encryption.relay reason=\"must be a node id (zt1 and 32 characters of "
               "a-z, 2-7) or empty\"");
        return ZT_ECONFIG;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return ZT_EIO;
    struct zt__route *r = zt_calloc(1, sizeof *r);
    if (!r) {
        curl_global_cleanup();
        return ZT_ENOMEM;
    }
    r->cfg = cfg;
    r->ms = ms;
    r->peers = peers;
    r->pv = pv;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

void zt__route_set_identity(struct zt__route *r, const struct zt_identity *id)
{
    if (r) r->id = id;
}

void zt__route_shutdown(struct zt__route *r, uint64_t wait_ms)
{
    if (!r) return;
    atomic_store(&r->stopping, true);
    uint64_t deadline = zt_time_mono_ms() + wait_ms;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        unsigned n = r->inflight;
        pthread_mutex_unlock(&r->mu);
        if (n == 0 || zt_time_mono_ms() >= deadline) break;
        zt_time_sleep_ms(5);
    }
}

void zt__route_free(struct zt__route *r)
{
    if (!r) return;
    zt__route_shutdown(r, 10000);
    pthread_mutex_lock(&r->mu);
    bool left = r->inflight > 0;
    pthread_mutex_unlock(&r->mu);
    if (left) { /* a thread still holds r: leak it rather than free under it */
        zt_log(ZT_LOG_WARN, "route_leak", "detail=\"remote jobs still running at shutdown\"");
        return;
    }
    pthread_mutex_destroy(&r->mu);
    zt_free(r);
    curl_global_cleanup();
}

void zt__route_stats(struct zt__route *r, struct zt__route_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return;
    out->local = atomic_load(&r->local);
    out->remote = atomic_load(&r->remote);
    out->remote_failed = atomic_load(&r->failed);
    out->refused = atomic_load(&r->refused);
    pthread_mutex_lock(&r->mu);
    out->inflight = r->inflight;
    pthread_mutex_unlock(&r->mu);
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
    curl_slist_free_all(j->headers);
    zt_sealed_call_deinit(&j->call);
    zt_pseudo_stream_deinit(&j->ps);
    zt_pseudo_free(j->pseudo);
    wipe_buf(&j->text);
    wipe_buf(&j->scratch);
    zt_buf_deinit(&j->err_body);
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
    return atomic_load(&j->closed) || atomic_load(&j->r->stopping);
}

/* ---- the answer: the shapes of llm.c's local answers ---------------------- */

static void sse(struct rjob *j, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) {
        if (!j->fail) j->fail = ZT_ENOMEM;
        return;
    }
    struct zt_buf b;
    zt_buf_init(&b, TEXT_MAX);
    int rc = zt_buf_appendf(&b, "data: %s\n\n", s);
    if (!rc) rc = zt_http_async_write(j->a, b.data, b.len);
    if (rc && !j->fail) j->fail = rc;
    wipe_buf(&b);
    sodium_memzero(s, strlen(s));
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(s);
}

static json_t *chunk(const struct rjob *j, const char *text, size_t len, const char *finish)
{
    json_t *choice;
    if (j->chat) {
        json_t *delta = json_object();
        if (delta && text) json_object_set_new(delta, "content", json_stringn_nocheck(text, len));
        choice = json_pack("{s:i,s:o*,s:s?}", "index", 0, "delta", delta, "finish_reason", finish);
    } else {
        choice = json_pack("{s:s%,s:i,s:n,s:s?}", "text", text ? text : "", text ? len : 0, "index", 0, "logprobs",
                           "finish_reason", finish);
    }
    if (choice && !finish) json_object_set_new(choice, "finish_reason", json_null());
    return json_pack("{s:s,s:s,s:I,s:s,s:[o*]}", "id", j->id, "object",
                     j->chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)j->created, "model",
                     j->model, "choices", choice);
}

static json_t *usage(const struct zt_sealed_final *f)
{
    return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", (int)f->prompt_tokens, "completion_tokens",
                     (int)f->completion_tokens, "total_tokens", (int)(f->prompt_tokens + f->completion_tokens),
                     "prompt_tokens_details", "cached_tokens", 0);
}

/* "zentalk": where it ran and the proof: the worker's sequence hash and
 * build, its node id, the job id and the signed receipt (hex). */
static json_t *zentalk_ext(const struct rjob *j, const struct zt_sealed_result *res)
{
    char seq[2 * ZT_ENV_HASH_LEN + 1];
    zt_hex_encode(seq, res->receipt.seq_chain, sizeof res->receipt.seq_chain);
    char *rec = zt_malloc(2 * res->receipt_len + 1);
    if (!rec) return NULL;
    zt_hex_encode(rec, res->receipt_bytes, res->receipt_len);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?}", "seq_hash", seq, "engine", res->receipt.build_id, "ran_on",
                          j->worker.node_id, "job_id", j->job_hex, "receipt", rec, "via", j->via[0] ? j->via : NULL);
    zt_free(rec);
    return o;
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
    if (!j->stream) {
        if (zt_buf_append(&j->text, text, len) != 0) j->fail = ZT_ETOOBIG;
        return;
    }
    if (!sse_start(j)) {
        j->fail = ZT_ECLOSED;
        return;
    }
    sse(j, chunk(j, text, len, NULL));
}

/* An opened (authenticated, not yet verified) text chunk. */
static void on_text(void *ud, const char *text, size_t len)
{
    struct rjob *j = ud;
    if (j->fail) return;
    if (!j->pseudo) {
        emit(j, text, len);
        return;
    }
    zt_buf_reset(&j->scratch);
    int rc = zt_pseudo_stream_feed(&j->ps, text, len, &j->scratch);
    if (rc) j->fail = rc;
    else emit(j, zt_buf_str(&j->scratch), j->scratch.len);
    if (j->scratch.data) sodium_memzero(j->scratch.data, j->scratch.len);
    zt_buf_reset(&j->scratch);
}

static void answer_error(struct rjob *j, int status, const char *code, const char *msg)
{
    if (j->sse_started) {
        /* an error event and no [DONE]: the client must not take what it
         * got as a complete answer */
        sse(j, json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code, "message", msg, "type", "server_error"));
        zt_http_async_end(j->a);
        return;
    }
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    zt_http_resp_error(&resp, status, code, msg);
    zt_ignore(zt_http_async_respond(j->a, &resp));
    zt_http_resp_deinit(&resp);
}

static void answer_ok(struct rjob *j, const struct zt_sealed_result *res)
{
    const char *finish = res->final.finish_reason;
    if (j->stream) {
        if (!sse_start(j)) return;
        json_t *last = chunk(j, NULL, 0, finish);
        if (last) json_object_set_new(last, "zentalk", zentalk_ext(j, res));
        sse(j, last);
        if (j->include_usage)
            sse(j, json_pack("{s:s,s:s,s:I,s:s,s:[],s:o*}", "id", j->id, "object",
                             j->chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)j->created,
                             "model", j->model, "choices", "usage", usage(&res->final)));
        zt_ignore(zt_http_async_write(j->a, "data: [DONE]\n\n", 14));
        zt_http_async_end(j->a);
        return;
    }
    json_t *choice;
    if (j->chat)
        choice = json_pack("{s:i,s:{s:s,s:s%},s:s}", "index", 0, "message", "role", "assistant", "content",
                           zt_buf_str(&j->text), j->text.len, "finish_reason", finish);
    else
        choice = json_pack("{s:s%,s:i,s:n,s:s}", "text", zt_buf_str(&j->text), j->text.len, "index", 0, "logprobs",
                           "finish_reason", finish);
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o*],s:o*,s:o*}", "id", j->id, "object",
                          j->chat ? "chat.completion" : "text_completion", "created", (json_int_t)j->created, "model",
                          j->model, "choices", choice, "usage", usage(&res->final), "zentalk", zentalk_ext(j, res));
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    zt_http_resp_json(&resp, 200, o);
    zt_ignore(zt_http_async_respond(j->a, &resp));
    if (resp.body.data) sodium_memzero(resp.body.data, resp.body.cap);
    zt_http_resp_deinit(&resp);
}

/* ---- the transfer --------------------------------------------------------- */

static bool media_is(const char *ct, const char *mt)
{
    size_t n = strlen(mt);
    return ct && strncmp(ct, mt, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct rjob *j = ud;
    size_t len = size * n;
    if (!j->checked) {
        char *ct = NULL;
        curl_easy_getinfo(j->curl, CURLINFO_RESPONSE_CODE, &j->status);
        curl_easy_getinfo(j->curl, CURLINFO_CONTENT_TYPE, &ct);
        j->is_result = j->status == 200 && media_is(ct, ZT_SEALED_MEDIA_RESULT);
        j->checked = true;
    }
    if (!j->is_result) {
        size_t room = ERR_BODY_MAX - j->err_body.len;
        zt_ignore(zt_buf_append(&j->err_body, p, len < room ? len : room));
        return len;
    }
    while (j->sse_started && zt_http_async_pending(j->a) > ZT__ROUTE_BUFFER_MAX) { /* a slow client */
        if (aborted(j)) return 0;
        zt_time_sleep_ms(2);
    }
    int rc = zt_sealed_reader_feed(j->call.reader, (const uint8_t *)p, len, on_text, j);
    if (rc && !j->fail) j->fail = rc;
    return j->fail ? 0 : len; /* nothing after a bad chunk can be trusted: abort */
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct rjob *j = ud;
    if (aborted(j)) return 1;
    if (zt_http_async_client_gone(j->a)) { /* gone while we waited for the worker */
        atomic_store(&j->closed, true);
        return 1;
    }
    if (!j->checked && zt_time_mono_ms() - j->start_ms > (uint64_t)j->r->cfg->encryption.remote_timeout_s * 1000u) {
        j->timed_out = true;
        return 1;
    }
    return 0;
}

/* The worker (or relay) answered something other than a sealed result. */
static void worker_refused(struct rjob *j, char *msg, size_t msg_size)
{
    json_t *e = json_loadb(zt_buf_str(&j->err_body), j->err_body.len, 0, NULL);
    json_t *eo = json_object_get(e, "error");
    const char *code = json_string_value(json_object_get(eo, "code"));
    const char *text = json_string_value(json_object_get(eo, "message"));
    long st = j->status;
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

static void run_transfer(struct rjob *j)
{
    struct zt__route *r = j->r;
    CURL *c = curl_easy_init();
    CURLcode cr = CURLE_FAILED_INIT;
    char errbuf[CURL_ERROR_SIZE] = "";
    j->curl = c;
    j->start_ms = zt_time_mono_ms();
    if (c) {
        long t = (long)r->cfg->encryption.remote_timeout_s;
        curl_easy_setopt(c, CURLOPT_URL, j->url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never an environment proxy */
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)j->call.env);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->call.env_len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, t < 10 ? t : 10L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* silence while streaming */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, t);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, j);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        cr = curl_easy_perform(c);
        if (!j->checked) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &j->status);
    }
    const char *outcome = "ok";
    char msg[512];
    struct zt_sealed_result res;
    memset(&res, 0, sizeof res);
    if (atomic_load(&j->closed)) {
        outcome = "client_gone";
        /* resume a suspended connection so it is freed (nobody reads it) */
        if (!j->sse_started) answer_error(j, 502, "client_gone", "the client went away");
        else zt_http_async_fail(j->a);
    } else if (j->is_result) {
        int frc = j->fail ? j->fail : zt_sealed_reader_finish(j->call.reader, &res);
        if (!frc && memcmp(res.receipt.worker_pk, j->worker.ed25519_pk, sizeof j->worker.ed25519_pk) != 0)
            frc = ZT_ECRYPTO;
        if (!frc && j->pseudo) {
            zt_buf_reset(&j->scratch);
            frc = zt_pseudo_stream_end(&j->ps, &j->scratch);
            if (!frc) emit(j, zt_buf_str(&j->scratch), j->scratch.len);
            if (!frc) frc = j->fail;
        }
        if (frc) {
            outcome = "unverified";
            const char *why = zt_sealed_reader_error(j->call.reader);
            if (frc == ZT_ETOOBIG) why = "the answer is too large";
            else if (!why[0] && frc == ZT_ECRYPTO) why = "the receipt is not signed by the worker's key";
            else if (!why[0]) why = zt_strerror(frc);
            snprintf(msg, sizeof msg, "the result from worker %s did not verify (%s%s%s); it is not passed on as good",
                     j->worker.node_id, why, cr != CURLE_OK ? "; transport: " : "",
                     cr != CURLE_OK ? (errbuf[0] ? errbuf : curl_easy_strerror(cr)) : "");
            answer_error(j, 502, "unverified_result", msg);
        } else {
            answer_ok(j, &res);
        }
    } else if (j->status >= 100) {
        outcome = "refused";
        worker_refused(j, msg, sizeof msg);
    } else if (j->timed_out || cr == CURLE_OPERATION_TIMEDOUT) {
        outcome = "timeout";
        snprintf(msg, sizeof msg, "worker %s did not answer in time (encryption.remote_timeout_s)", j->worker.node_id);
        answer_error(j, 504, "worker_timeout", msg);
    } else if (atomic_load(&r->stopping)) {
        outcome = "shutdown";
        answer_error(j, 503, "shutting_down", "the node is shutting down");
    } else {
        outcome = "unreachable";
        snprintf(msg, sizeof msg, "worker %s%s%s could not be reached", j->worker.node_id, j->via[0] ? " via relay " : "",
                 j->via);
        answer_error(j, 502, "worker_unreachable", msg);
    }
    bool ok = strcmp(outcome, "ok") == 0;
    if (strcmp(outcome, "client_gone") != 0) count_peer(r, j->worker.node_id, ok);
    zt_log(ok ? ZT_LOG_INFO : ZT_LOG_WARN, "remote_job_done",
           "job_id=%s worker=%s via=%s model=%s outcome=%s worker_status=%ld prompt_tokens=%u completion_tokens=%u "
           "duration_ms=%llu",
           j->job_hex, j->worker.node_id, j->via[0] ? j->via : "-", j->model, outcome, j->status,
           (unsigned)res.final.prompt_tokens, (unsigned)res.final.completion_tokens,
           (unsigned long long)(zt_time_mono_ms() - j->start_ms));
    if (c) curl_easy_cleanup(c);
    j->curl = NULL;
}

static void *transfer_thread(void *arg)
{
    struct rjob *j = arg;
    struct zt__route *r = j->r;
    run_transfer(j);
    zt_http_async_release(j->a);
    job_unref(j);
    pthread_mutex_lock(&r->mu);
    r->inflight--;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- the request ---------------------------------------------------------- */

/* The path part of an endpoint URL ("" for "http://host:port"). */
static const char *endpoint_path(const char *endpoint)
{
    const char *p = strstr(endpoint, "://");
    p = p ? p + 3 : endpoint;
    const char *slash = strchr(p, '/');
    return slash ? slash : "";
}

static bool serves_locally(struct zt__route *r, const char *model)
{
    if (!(r->cfg->node.role_mask & ZT_ROLE_WORKER)) return false;
    for (size_t i = 0; i < zt_infer_model_count(r->ms); i++) {
        bool loaded;
        if (strcmp(zt_infer_model(r->ms, i, &loaded)->id, model) == 0) return true;
    }
    return false;
}

/* The texts the privacy decision covers: the prompt, or each message's
 * content. Returns how many (0: none of the right shape); texts[i] are
 * the json strings (borrowed from body). */
static size_t texts_of(json_t *body, bool chat, json_t **texts, size_t max)
{
    size_t n = 0;
    if (!chat) {
        json_t *p = json_object_get(body, "prompt");
        if (json_is_array(p) && json_array_size(p) == 1) p = json_array_get(p, 0);
        if (json_is_string(p)) texts[n++] = p;
        return n;
    }
    json_t *m = json_object_get(body, "messages");
    size_t i;
    json_t *e;
    json_array_foreach(m, i, e) {
        if (n == max) return 0;
        json_t *c = json_object_get(e, "content");
        if (!json_is_string(c)) return 0;
        texts[n++] = c;
    }
    return n;
}

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

struct privacy_out {
    enum zt_privacy_action act;
    uint64_t types, local_only_types;
    json_t *masked;           /* the request with typed pseudonyms (pseudonymise) */
    struct zt_pseudo *pseudo; /* its mapping */
};

/* Detect, decide, and for pseudonymise build the masked copy. ZT_ENOMEM,
 * ZT_ETOOBIG, ZT_EINVAL (a request whose texts are not of the right
 * shape: the body builder answers that). */
static int apply_privacy(struct zt__route *r, json_t *body, bool chat, struct privacy_out *po)
{
    const struct zt_pii_detector *d = zt__privacy_detector(r->pv);
    const struct zt_privacy_policy *pol = zt__privacy_policy(r->pv);
    const char *feature = chat ? "chat" : "completion";
    json_t *texts[ZT_SEALED_MAX_MESSAGES];
    size_t n = texts_of(body, chat, texts, ZT_SEALED_MAX_MESSAGES);
    struct zt_pii_hits hits, keep;
    zt_pii_hits_init(&hits);
    zt_pii_hits_init(&keep);
    struct zt_buf masked;
    zt_buf_init(&masked, MASKED_MAX);
    int rc = 0;
    memset(po, 0, sizeof *po);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = zt_pii_detect(d, json_string_value(texts[i]), json_string_length(texts[i]), &hits);
        if (rc) break;
        enum zt_privacy_action a = zt_privacy_decide(pol, feature, &hits);
        if (a > po->act) po->act = a;
        po->types |= zt_pii_hits_types(&hits);
        for (size_t k = 0; k < hits.n; k++)
            if (hits.v[k].type < 64 && zt_privacy_action_for(pol, feature, hits.v[k].type) == ZT_PRIVACY_LOCAL_ONLY)
                po->local_only_types |= 1ull << hits.v[k].type;
    }
    if (rc || po->act != ZT_PRIVACY_PSEUDONYMISE) goto out;
    po->masked = json_deep_copy(body);
    rc = po->masked ? zt_pseudo_new(d, &po->pseudo) : ZT_ENOMEM;
    json_t *mt[ZT_SEALED_MAX_MESSAGES];
    size_t mn = rc ? 0 : texts_of(po->masked, chat, mt, ZT_SEALED_MAX_MESSAGES);
    if (!rc && mn != n) rc = ZT_EINVAL;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *t = json_string_value(texts[i]);
        size_t len = json_string_length(texts[i]);
        rc = zt_pii_detect(d, t, len, &hits);
        if (!rc) rc = zt_privacy_filter(pol, feature, &hits, &keep);
        zt_buf_reset(&masked);
        if (!rc) rc = zt_pseudo_apply(po->pseudo, t, len, &keep, &masked);
        if (!rc && json_string_setn(mt[i], zt_buf_str(&masked), masked.len) != 0) rc = ZT_ENOMEM;
    }
    if (!rc && !chat) { /* the prompt may have been ["..."]: the masked copy holds the string */
        json_t *p = json_object_get(po->masked, "prompt");
        if (json_is_array(p) && json_object_set(po->masked, "prompt", json_array_get(p, 0)) != 0) rc = ZT_ENOMEM;
    }
out:
    if (rc) {
        json_decref(po->masked);
        zt_pseudo_free(po->pseudo);
        po->masked = NULL;
        po->pseudo = NULL;
    }
    zt_pii_hits_deinit(&hits);
    zt_pii_hits_deinit(&keep);
    wipe_buf(&masked);
    return rc;
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

bool zt__route_generate(struct zt__route *r, struct zt_http_req *req, json_t *body, bool chat,
                        struct zt_http_resp *resp)
{
    json_t *jm = json_object_get(body, "model");
    const char *model = json_string_value(jm);
    if (!r) return false;
    if (!model || serves_locally(r, model) || zt_peers_count(r->peers) == 0) {
        /* a model of this node, the default model, or no peers to ask:
         * here, as before */
        atomic_fetch_add(&r->local, 1);
        zt__privacy_note(0, "local");
        return false;
    }
    struct zt_peer w;
    int64_t now = zt_time_real_ms() / 1000;
    const char *pin = r->cfg->encryption.remote_worker;
    char msg[640];
    if (zt_peers_pick(r->peers, model, pin, now, &w) != 0) {
        snprintf(msg, sizeof msg, "model '%.128s' is not served here (no local model by that name) and no registered "
                 "peer%s%s serves it (GET /v1/models lists the local ones)", model, pin && pin[0] ? " " : "",
                 pin && pin[0] ? pin : "");
        zt_http_resp_error(resp, 404, "model_not_found", msg);
        return true;
    }
    json_t *jstream = json_object_get(body, "stream");
    if (jstream && !json_is_boolean(jstream) && !json_is_null(jstream)) {
        zt_http_resp_error(resp, 400, "invalid_request", "stream must be a boolean");
        return true;
    }
    json_t *jn = json_object_get(body, "n");
    if (jn && !json_is_null(jn) && !(json_is_integer(jn) && json_integer_value(jn) == 1)) {
        zt_http_resp_error(resp, 400, "invalid_request", "n must be an integer between 1 and 1");
        return true;
    }
    if (json_is_true(json_object_get(body, "echo"))) {
        zt_http_resp_error(resp, 400, "invalid_request", "echo is not supported");
        return true;
    }
    uint32_t max_tokens;
    if (!get_max_tokens(r, body, &max_tokens, resp)) return true;
    if (!r->id || atomic_load(&r->stopping)) {
        zt_http_resp_error(resp, 503, "unavailable", "this node has no identity key to sign remote jobs with");
        return true;
    }

    struct privacy_out po;
    struct rjob *j = NULL;
    char *jb = NULL;
    size_t jb_len = 0;
    bool counted = false;
    int rc = apply_privacy(r, body, chat, &po);
    const struct zt_pii_detector *det = zt__privacy_detector(r->pv);
    if (rc && rc != ZT_EINVAL) {
        zt_http_resp_error(resp, rc == ZT_ETOOBIG ? 413 : 503, rc == ZT_ETOOBIG ? "too_large" : "overloaded",
                           rc == ZT_ETOOBIG ? "too much personal data in one request" : "PII detection failed");
        return true;
    }
    if (!rc && po.act == ZT_PRIVACY_LOCAL_ONLY) {
        char types[512];
        type_names(det, po.local_only_types ? po.local_only_types : po.types, types, sizeof types);
        snprintf(msg, sizeof msg, "the request holds personal data (%s) that the privacy policy keeps on this node "
                 "(local_only for feature %s), and this node does not serve model '%.128s'", types,
                 chat ? "chat" : "completion", model);
        zt__privacy_note(po.types, "refused");
        atomic_fetch_add(&r->refused, 1);
        zt_http_resp_error(resp, 403, "local_only", msg);
        return true;
    }
    /* the body sealed: the masked copy when pseudonymised */
    rc = zt_sealed_job_body(po.masked ? po.masked : body, chat ? ZT_SEALED_CHAT : ZT_SEALED_COMPLETION, &jb, &jb_len);
    if (rc) {
        zt_http_resp_error(resp, rc == ZT_EINVAL ? 400 : 503, rc == ZT_EINVAL ? "invalid_request" : "overloaded",
                           rc == ZT_EINVAL ? (chat ? "messages must be a non-empty array of {role, content} strings"
                                                   : "prompt must be a string (or an array holding one string)")
                                           : "out of memory");
        goto out;
    }
    pthread_mutex_lock(&r->mu);
    bool full = r->inflight >= (unsigned)r->cfg->encryption.remote_max_inflight;
    if (!full) r->inflight++;
    pthread_mutex_unlock(&r->mu);
    if (full) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
        zt_http_resp_error(resp, 503, "overloaded", "too many remote jobs in progress; retry shortly");
        goto out;
    }
    counted = true;
    j = zt_calloc(1, sizeof *j);
    if (!j) goto oom;
    j->r = r;
    atomic_init(&j->refs, 1);
    j->chat = chat;
    j->stream = json_is_true(jstream);
    j->include_usage = json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    snprintf(j->id, sizeof j->id, "%s-%s", chat ? "chatcmpl" : "cmpl", zt_http_req_id(req));
    zt_strlcpy(j->model, model, sizeof j->model);
    j->created = (long long)(zt_time_real_ms() / 1000);
    j->worker = w;
    zt_buf_init(&j->err_body, ERR_BODY_MAX);
    zt_buf_init(&j->text, TEXT_MAX);
    zt_buf_init(&j->scratch, TEXT_MAX);
    j->pseudo = po.pseudo;
    po.pseudo = NULL;
    zt_pseudo_stream_init(&j->ps, j->pseudo);

    struct zt_hpke_suite suite = zt_str_eq(r->cfg->encryption.aead, "aes256gcm") ? ZT_HPKE_SUITE_AES256GCM
                                                                                : ZT_HPKE_SUITE_CHACHA;
    rc = zt_sealed_call_seal(model, max_tokens, true, (uint64_t)r->cfg->encryption.job_ttl_s, (uint64_t)now, suite,
                             w.kem_pk, w.ed25519_pk, (const uint8_t *)jb, jb_len, &j->call);
    if (rc) {
        zt_http_resp_error(resp, rc == ZT_ENOMEM ? 503 : 502, rc == ZT_ENOMEM ? "overloaded" : "worker_unusable",
                           rc == ZT_ENOMEM ? "out of memory"
                                           : "the job cannot be sealed to the worker (model id or KEM key)");
        goto out;
    }
    zt_hex_encode(j->job_hex, j->call.sent.job_id, ZT_ENV_JOB_ID_LEN);

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
    const char *path = j->via[0] ? PATH_RELAY : PATH_SEALED;
    char target[ZT_NODEAUTH_TARGET_MAX];
    if ((size_t)snprintf(j->url, sizeof j->url, "%s%s", to.endpoint, path) >= sizeof j->url ||
        (size_t)snprintf(target, sizeof target, "%s%s", endpoint_path(to.endpoint), path) >= sizeof target)
        goto oom;
    struct zt_nodeauth_headers sh;
    if (zt_nodeauth_sign(r->id, to.node_id, "POST", target, j->call.env, j->call.env_len, now, &sh) != 0) goto oom;
    const char *fixed[] = {"Content-Type: " ZT_SEALED_MEDIA_ENVELOPE, "Accept: " ZT_SEALED_MEDIA_RESULT, "Expect:"};
    for (size_t i = 0; i < 3; i++) {
        struct curl_slist *l = curl_slist_append(j->headers, fixed[i]);
        if (!l) goto oom;
        j->headers = l;
    }
    if (j->via[0]) {
        char th[96];
        snprintf(th, sizeof th, "Zentalk-Target-Node: %s", w.node_id);
        struct curl_slist *l = curl_slist_append(j->headers, th);
        if (!l) goto oom;
        j->headers = l;
    }
    if (zt_nodeauth_curl_headers(&sh, &j->headers) != 0) goto oom;
    j->a = zt_http_req_defer(req, on_client_close, j);
    if (!j->a) goto oom;
    atomic_fetch_add(&j->refs, 1); /* on_close's */
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int prc = pthread_create(&t, &attr, transfer_thread, j);
    pthread_attr_destroy(&attr);
    if (prc != 0) {
        zt_http_async_abandon(j->a); /* on_close will not run */
        j->a = NULL;
        atomic_fetch_sub(&j->refs, 1);
        goto oom;
    }
    zt__privacy_note(po.types, po.act == ZT_PRIVACY_PSEUDONYMISE ? "pseudonymised" : "remote");
    zt__privacy_note_job(j->job_hex);
    zt_log(ZT_LOG_DEBUG, "remote_job_sent", "job_id=%s worker=%s via=%s model=%s max_tokens=%u request_id=%s",
           j->job_hex, w.node_id, j->via[0] ? j->via : "-", model, (unsigned)max_tokens, zt_http_req_id(req));
    j = NULL; /* the thread owns it */
    counted = false;
    goto out;
oom:
    zt_http_resp_error(resp, 503, "overloaded", "the remote job could not be started");
out:
    if (j) {
        atomic_store(&j->refs, 1);
        job_unref(j);
    }
    if (counted) {
        pthread_mutex_lock(&r->mu);
        r->inflight--;
        pthread_mutex_unlock(&r->mu);
    }
    if (jb) {
        sodium_memzero(jb, jb_len);
        zt_free(jb);
    }
    json_decref(po.masked);
    zt_pseudo_free(po.pseudo);
    return true;
}
