/* llm_api.c: OpenAI-compatible completions, chat and embeddings: parse, call
 * the inference service (zt_infer.h), render (openai.h).
 *
 * A request is turned into a job (zt_infer_job_openai) and started from
 * the HTTP thread; the answer is produced on the runner thread through an
 * async HTTP handle (deferred JSON, or Server-Sent Events when stream is
 * true). A struct answer joins the two sides: it is the task's sink data,
 * freed by the task once the job is over and the connection closed
 * (closing cancels the job). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "llm_api.h"
#include "openai.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_str.h"

#define TEXT_MAX ((size_t)16 << 20)

/* ---- GET /v1/models ----------------------------------------------------- */

void zt__llm_h_models(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx, (void)body;
    zt_http_resp_json(resp, 200, zt__openai_models(ud));
}

/* GET /v1/models/{id}: the id is the rest of the path, percent-decoded. */
void zt__llm_h_model(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    static const char prefix[] = "/v1/models/";
    const char *raw = zt_http_req_path(cx->req) + sizeof prefix - 1;
    char id[160];
    size_t n = 0;
    for (const char *p = raw; *p; p++) {
        int hi, lo;
        char c = *p;
        if (c == '%' && (hi = zt_hex_digit(p[1])) >= 0 && (lo = zt_hex_digit(p[2])) >= 0) {
            c = (char)(hi * 16 + lo);
            p += 2;
        }
        if (n + 1 >= sizeof id || c == '\0') {
            zt_http_resp_error(resp, 404, "model_not_found", "no model with that id is configured on this node");
            return;
        }
        id[n++] = c;
    }
    id[n] = '\0';
    bool found;
    json_t *m = zt__openai_model(ud, id, &found);
    if (!found) {
        zt_http_resp_error(resp, 404, "model_not_found", "no model with that id is configured on this node");
        return;
    }
    zt_http_resp_json(resp, 200, m);
}

/* ---- one answer ------------------------------------------------------------ */

struct answer {
    pthread_mutex_t mu;       /* task, closed */
    struct zt_infer_task *task;
    atomic_bool closed;       /* the connection ended */
    struct zt_http_async *async;
    bool stream, include_usage;
    bool base64;              /* embeddings: encoding_format "base64" */
    char id[48];
    char model[160];
    struct zt__openai_answer oa;
    struct zt_buf text;       /* non-streamed answer */
    /* another answer format (zt__llm_stream): events go to the sink */
    const struct zt__llm_sink *sink;
    void *sink_ud;
};

static struct answer *answer_new(bool chat, const char *model, const char *req_id)
{
    struct answer *c = zt_calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->mu, NULL);
    zt_strlcpy(c->model, model, sizeof c->model);
    zt__openai_answer_init(&c->oa, chat, c->model, req_id, c->id, sizeof c->id);
    zt_buf_init(&c->text, TEXT_MAX);
    return c;
}

/* The task's free: the job is over and the connection closed. */
static void answer_free(void *ud)
{
    struct answer *c = ud;
    zt_http_async_release(c->async);
    if (c->sink && c->sink->free) c->sink->free(c->sink_ud);
    zt_buf_deinit(&c->text);
    pthread_mutex_destroy(&c->mu);
    zt_free(c);
}

/* The connection ended: stop the work. */
static void on_close(void *ud)
{
    struct answer *c = ud;
    atomic_store(&c->closed, true);
    pthread_mutex_lock(&c->mu);
    struct zt_infer_task *t = c->task;
    c->task = NULL;
    pthread_mutex_unlock(&c->mu);
    zt_infer_task_close(t); /* may free c; NULL: set_task() closes it */
}

/* The task started: keep it for on_close, or close it now when the
 * connection already ended. */
static void set_task(struct answer *c, struct zt_infer_task *t)
{
    pthread_mutex_lock(&c->mu);
    bool closed = atomic_load(&c->closed);
    if (!closed) c->task = t;
    pthread_mutex_unlock(&c->mu);
    if (closed) zt_infer_task_close(t);
}

static void on_event(void *ud, const struct zt_job_event *ev)
{
    struct answer *c = ud;
    if (atomic_load(&c->closed)) return;
    if (c->sink) {
        if (ev->kind == ZT_JOB_TEXT) c->sink->text(c->sink_ud, c->async, ev);
        else if (ev->kind == ZT_JOB_DONE) c->sink->done(c->sink_ud, c->async, ev);
        else c->sink->fail(c->sink_ud, c->async, ev->err);
        return;
    }
    if (ev->kind == ZT_JOB_ERROR) {
        zt__openai_fail_job(c->async, c->stream, ev->err);
        return;
    }
    if (ev->kind == ZT_JOB_TEXT) {
        if (c->stream) zt_ignore(zt__openai_sse(c->async, zt__openai_chunk(&c->oa, ev->text, ev->len, NULL)));
        else zt_ignore(zt_buf_append(&c->text, ev->text, ev->len));
        return;
    }
    struct zt__openai_usage u = {ev->prompt_tokens, ev->completion_tokens, ev->cached_tokens};
    struct zt__openai_ran ran = {.seq_hash = ev->hash, .engine = ev->engine ? ev->engine : zt_engine_build_id(),
                                  .ran_on = "local", .verification = "local"};
    if (c->stream) {
        zt_ignore(zt__openai_sse(c->async, zt__openai_final_chunk(&c->oa, ev->finish_reason, &ran)));
        if (c->include_usage) zt_ignore(zt__openai_sse(c->async, zt__openai_usage_chunk(&c->oa, &u)));
        zt__openai_sse_done(c->async);
    } else {
        zt__openai_respond(c->async, zt__openai_completion(&c->oa, zt_buf_str(&c->text), c->text.len,
                                                           ev->finish_reason, &u, &ran));
    }
}

static const struct zt_infer_sink SINK = {on_event, answer_free};

/* Take an async handle for the request and start job with c as its sink
 * data. On failure resp is filled, c is freed (but not sink_ud: the
 * caller's) and the job stays the caller's; -1. */
static int start(struct zt_infer_job *job, struct zt_http_req *req, struct answer *c, const char *stream_type,
                 const void *head, size_t head_len, struct zt_http_resp *resp)
{
    c->async = stream_type ? zt_http_req_stream(req, 200, stream_type, on_close, c) : zt_http_req_defer(req, on_close, c);
    int rc = c->async ? 0 : ZT_ENOMEM;
    if (!rc && head_len) rc = zt_http_async_write(c->async, head, head_len);
    struct zt_infer_err err = {.rc = rc, .code = "unavailable"};
    zt_strlcpy(err.message, zt_strerror(rc), sizeof err.message);
    struct zt_infer_task *t = NULL;
    if (!rc) rc = zt_infer_start(job, &SINK, c, &t, &err);
    if (rc) {
        zt_http_async_abandon(c->async); /* on_close will not run */
        c->async = NULL;
        c->sink = NULL; /* the sink's data stays the caller's */
        answer_free(c);
        zt__openai_refuse(resp, &err);
        return -1;
    }
    set_task(c, t);
    return 0;
}

/* ---- completions and chat ----------------------------------------------- */

void zt__llm_generate(struct zt_infer *inf, struct zt__req_ctx *cx, json_t *body, bool chat,
                      struct zt_http_resp *resp)
{
    struct zt_http_req *req = cx->req;
    struct zt__openai_opts opts;
    if (!zt__openai_options(body, &opts, resp)) return;
    struct zt_infer_job *job = NULL;
    struct zt_infer_err err;
    if (zt_infer_job_openai(inf, body, chat, &job, &err) != 0) {
        zt__openai_refuse(resp, &err);
        return;
    }
    struct answer *c = answer_new(chat, zt_infer_job_model(job), zt_http_req_id(req));
    if (!c) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        zt_infer_job_free(job);
        return;
    }
    c->stream = opts.stream;
    c->include_usage = opts.include_usage;
    zt_infer_job_report_end(job, cx->principal.identity); /* the node's job.completed webhook (worker "local") */
    if (start(job, req, c, c->stream ? "text/event-stream" : NULL, NULL, 0, resp) != 0) zt_infer_job_free(job);
}

int zt__llm_stream(struct zt_infer_job *job, struct zt_http_req *req, const char *content_type, const void *head,
                   size_t head_len, const struct zt__llm_sink *sink, void *sink_ud, struct zt_http_resp *resp)
{
    struct answer *c = answer_new(false, zt_infer_job_model(job), zt_http_req_id(req));
    if (!c) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return -1;
    }
    c->stream = true;
    c->sink = sink;
    c->sink_ud = sink_ud;
    return start(job, req, c, content_type, head, head_len, resp);
}

/* ---- embeddings --------------------------------------------------------- */

static void on_embedded(void *ud, int err, const struct zt_infer_embeddings *e)
{
    struct answer *c = ud;
    if (atomic_load(&c->closed)) return;
    if (err) zt__openai_fail_job(c->async, false, err);
    else zt__openai_respond(c->async, zt__openai_embeddings(c->model, e, c->base64));
}

static const struct zt_infer_embed_sink EMBED_SINK = {on_embedded, answer_free};

void zt__llm_h_embeddings(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_infer *inf = ud;
    struct zt_http_req *req = cx->req;
    json_t *jm = json_object_get(body, "model");
    int i = zt_infer_model_find(inf, json_is_string(jm) ? json_string_value(jm) : NULL);
    struct answer *c = answer_new(false, i >= 0 ? zt_infer_model(inf, (size_t)i, &(bool){false})->id : "",
                                  zt_http_req_id(req));
    struct zt_infer_err err = {.rc = ZT_ENOMEM, .code = "overloaded", .message = "out of memory"};
    if (c) {
        json_t *fmt = json_object_get(body, "encoding_format");
        c->base64 = json_is_string(fmt) && strcmp(json_string_value(fmt), "base64") == 0;
        c->async = zt_http_req_defer(req, on_close, c);
    }
    struct zt_infer_task *t = NULL;
    if (!c || !c->async || zt_infer_embed_openai(inf, body, &EMBED_SINK, c, &t, &err) != 0) {
        if (c) {
            zt_http_async_abandon(c->async); /* on_close will not run */
            c->async = NULL;
            answer_free(c);
        }
        zt__openai_refuse(resp, &err);
        return;
    }
    set_task(c, t);
}
