/* llm.c: OpenAI-compatible completions, chat, embeddings over the runners.
 *
 * A request is checked, tokenized and submitted to the model's runner from
 * the HTTP thread; the answer is produced on the runner thread through an
 * async HTTP handle (deferred JSON, or Server-Sent Events when stream is
 * true). A struct job_ctx joins the two sides: one reference for the runner
 * (dropped on the job's last event, or when it is cancelled) and one for the
 * connection (dropped when it closes; closing cancels the job).
 * Lock order: runner lock -> ctx->mu (callbacks); the HTTP side never holds
 * ctx->mu while calling into the runner, except around submit, before the
 * job exists. */
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "llm.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_chat.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_tokenizer.h"

#define MAX_PROMPT_BYTES (4u << 20)
#define MAX_EMBED_INPUTS 64
#define TEXT_MAX (16u << 20)

static const char *const NO_MODEL_MSG =
    "no model is configured: add one to models.yaml (see docs/configuration.md), or download one with "
    "`zentalk models pull URL` and point models.yaml at it";

/* ---- shared helpers ----------------------------------------------------- */

static void hex(char *out, const uint8_t *in, size_t n)
{
    zt_hex_encode(out, in, n);
}

static void make_id(char *out, size_t n, const char *prefix, const char *req_id)
{
    snprintf(out, n, "%s-%s", prefix, req_id);
}

/* Acquire the model named in body (or the default). On failure fills resp. */
static int acquire(struct zt__models *ms, json_t *body, struct zt_runner **r, const struct zt_cfg_model **e,
                   struct zt_http_resp *resp)
{
    json_t *jm = json_object_get(body, "model");
    if (jm && !json_is_string(jm)) {
        zt_http_resp_error(resp, 400, "invalid_request", "model must be a string");
        return -1;
    }
    if (zt__models_count(ms) == 0) {
        zt_http_resp_error(resp, 503, "no_model", NO_MODEL_MSG);
        return -1;
    }
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    int rc = zt__models_acquire(ms, jm ? json_string_value(jm) : NULL, r, e, &err);
    if (rc == ZT_ENOTFOUND && !err.len) {
        char msg[256];
        snprintf(msg, sizeof msg, "model '%s' does not exist (GET /v1/models lists them)", jm ? json_string_value(jm) : "");
        zt_http_resp_error(resp, 404, "model_not_found", msg);
    } else if (rc) {
        zt_http_resp_error(resp, 503, rc == ZT_EBUSY ? "model_cache_full" : "model_unavailable",
                           err.len ? zt_buf_str(&err) : zt_strerror(rc));
    }
    zt_buf_deinit(&err);
    return rc ? -1 : 0;
}

/* Optional number field in [lo, hi]; writes *out when present. */
static bool get_num(json_t *body, const char *key, double lo, double hi, double *out, struct zt_http_resp *resp)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v)) return true;
    char msg[160];
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < lo || json_number_value(v) > hi) {
        snprintf(msg, sizeof msg, "%s must be a number between %g and %g", key, lo, hi);
        zt_http_resp_error(resp, 400, "invalid_request", msg);
        return false;
    }
    *out = json_number_value(v);
    return true;
}

static bool get_int(json_t *body, const char *key, double lo, double hi, double *out, struct zt_http_resp *resp)
{
    json_t *v = json_object_get(body, key);
    if (v && !json_is_null(v) && !json_is_integer(v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s must be an integer", key);
        zt_http_resp_error(resp, 400, "invalid_request", msg);
        return false;
    }
    return get_num(body, key, lo, hi, out, resp);
}

/* ---- GET /v1/models ----------------------------------------------------- */

void zt__llm_models(struct zt__models *ms, struct zt_http_req *req, struct zt_http_resp *resp)
{
    (void)req;
    json_t *data = json_array();
    for (size_t i = 0; i < zt__models_count(ms) && data; i++) {
        bool loaded;
        const struct zt_cfg_model *e = zt__models_entry(ms, i, &loaded);
        json_array_append_new(data, json_pack("{s:s,s:s,s:i,s:s,s:b}", "id", e->id, "object", "model", "created", 0,
                                              "owned_by", "zentalk", "loaded", loaded));
    }
    zt_http_resp_json(resp, 200, json_pack("{s:s,s:o*}", "object", "list", "data", data));
}

/* ---- completions and chat ----------------------------------------------- */

struct job_ctx {
    pthread_mutex_t mu;
    int refs;
    struct zt__models *ms;
    struct zt_runner *runner;
    struct zt_http_async *async;
    uint64_t job_id;
    bool chat, stream, include_usage;
    bool finished, closed;
    char id[48];
    char model[160];
    long long created;
    struct zt_buf text;       /* non-streamed answer */
    /* embeddings */
    size_t n_inputs, n_done;  /* completions expected / seen */
    size_t n_jobs;            /* entries of job_ids (0 ids were never queued) */
    uint64_t *job_ids;
    json_t *vectors;          /* array being filled */
    uint32_t embed_tokens;
    int err;
    /* another answer format (zt__llm_stream): events go to the sink */
    const struct zt__llm_sink *sink;
    void *sink_ud;
};

static void ctx_unref(struct job_ctx *c)
{
    pthread_mutex_lock(&c->mu);
    int left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left) return;
    zt_http_async_release(c->async);
    zt__models_release(c->ms, c->runner);
    if (c->sink && c->sink->free) c->sink->free(c->sink_ud);
    zt_buf_deinit(&c->text);
    json_decref(c->vectors);
    zt_free(c->job_ids);
    pthread_mutex_destroy(&c->mu);
    zt_free(c);
}

static struct job_ctx *ctx_new(struct zt__models *ms, struct zt_runner *r, const char *model)
{
    struct job_ctx *c = zt_calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->mu, NULL);
    c->refs = 2;
    c->ms = ms;
    c->runner = r;
    c->created = (long long)time(NULL);
    zt_strlcpy(c->model, model, sizeof c->model);
    zt_buf_init(&c->text, TEXT_MAX);
    return c;
}

/* The connection ended: stop the work (at most once). */
static void on_close(void *ud)
{
    struct job_ctx *c = ud;
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    bool fin = c->finished;
    pthread_mutex_unlock(&c->mu);
    if (!fin) {
        if (c->job_ids)
            for (size_t i = 0; i < c->n_jobs; i++) zt_runner_cancel(c->runner, c->job_ids[i]);
        else
            zt_runner_cancel(c->runner, c->job_id);
        pthread_mutex_lock(&c->mu);
        bool drop = !c->finished;
        c->finished = true;
        pthread_mutex_unlock(&c->mu);
        if (drop) ctx_unref(c); /* the runner will not call back any more */
    }
    ctx_unref(c);
}

static void sse(struct job_ctx *c, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return;
    struct zt_buf b;
    zt_buf_init(&b, TEXT_MAX);
    if (zt_buf_appendf(&b, "data: %s\n\n", s) == 0) zt_ignore(zt_http_async_write(c->async, b.data, b.len));
    zt_buf_deinit(&b);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(s);
}

static json_t *chunk(struct job_ctx *c, const char *text, size_t len, const char *finish, bool role)
{
    json_t *choice;
    if (c->chat) {
        json_t *delta = json_object();
        if (role) json_object_set_new(delta, "role", json_string("assistant"));
        if (text) json_object_set_new(delta, "content", json_stringn_nocheck(text, len));
        choice = json_pack("{s:i,s:o,s:s?}", "index", 0, "delta", delta, "finish_reason", finish);
        if (choice && !finish) json_object_set_new(choice, "finish_reason", json_null());
    } else {
        choice = json_pack("{s:s%,s:i,s:n,s:s?}", "text", text ? text : "", text ? len : 0, "index", 0, "logprobs",
                           "finish_reason", finish);
        if (choice && !finish) json_object_set_new(choice, "finish_reason", json_null());
    }
    return json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", c->id, "object",
                     c->chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)c->created,
                     "model", c->model, "choices", choice);
}

static json_t *usage(const struct zt_job_event *ev)
{
    return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", (int)ev->prompt_tokens, "completion_tokens",
                     (int)ev->completion_tokens, "total_tokens", (int)(ev->prompt_tokens + ev->completion_tokens),
                     "prompt_tokens_details", "cached_tokens", (int)ev->cached_tokens);
}

static json_t *zentalk_ext(const struct zt_job_event *ev)
{
    char h[2 * ZT_SAMPLER_HASH_LEN + 1];
    hex(h, ev->hash, ZT_SAMPLER_HASH_LEN);
    return json_pack("{s:s,s:s,s:s}", "seq_hash", h, "engine", zt_engine_build_id(), "ran_on", "local");
}

static void answer_error(struct job_ctx *c, int err)
{
    int status = err == ZT_ECLOSED ? 503 : 500;
    const char *code = err == ZT_ECLOSED ? "shutting_down" : "inference_failed";
    char msg[160];
    snprintf(msg, sizeof msg, "inference failed: %s", zt_strerror(err));
    if (c->stream) {
        sse(c, json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code, "message", msg, "type", "server_error"));
        zt_http_async_end(c->async);
    } else {
        struct zt_http_resp resp;
        zt_http_resp_init(&resp);
        zt_http_resp_error(&resp, status, code, msg);
        zt_ignore(zt_http_async_respond(c->async, &resp));
        zt_http_resp_deinit(&resp);
    }
}

static void on_gen_event(void *ud, const struct zt_job_event *ev)
{
    struct job_ctx *c = ud;
    pthread_mutex_lock(&c->mu);
    bool closed = c->closed;
    if (ev->kind != ZT_JOB_TEXT) c->finished = true;
    pthread_mutex_unlock(&c->mu);
    if (!closed && c->sink) {
        if (ev->kind == ZT_JOB_TEXT) c->sink->text(c->sink_ud, c->async, ev->text, ev->len);
        else if (ev->kind == ZT_JOB_DONE) c->sink->done(c->sink_ud, c->async, ev);
        else c->sink->fail(c->sink_ud, c->async, ev->err);
    } else if (!closed) {
        if (ev->kind == ZT_JOB_TEXT) {
            if (c->stream) sse(c, chunk(c, ev->text, ev->len, NULL, false));
            else if (zt_buf_append(&c->text, ev->text, ev->len) != 0) c->err = ZT_ETOOBIG;
        } else if (ev->kind == ZT_JOB_DONE && c->stream) {
            json_t *last = chunk(c, NULL, 0, ev->finish_reason, false);
            if (last) json_object_set_new(last, "zentalk", zentalk_ext(ev));
            sse(c, last);
            if (c->include_usage) {
                json_t *u = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o*}", "id", c->id, "object",
                                      c->chat ? "chat.completion.chunk" : "text_completion", "created",
                                      (json_int_t)c->created, "model", c->model, "choices", "usage", usage(ev));
                sse(c, u);
            }
            zt_ignore(zt_http_async_write(c->async, "data: [DONE]\n\n", 14));
            zt_http_async_end(c->async);
        } else if (ev->kind == ZT_JOB_DONE) {
            json_t *choice;
            if (c->chat)
                choice = json_pack("{s:i,s:{s:s,s:s%},s:s}", "index", 0, "message", "role", "assistant", "content",
                                   zt_buf_str(&c->text), c->text.len, "finish_reason", ev->finish_reason);
            else
                choice = json_pack("{s:s%,s:i,s:n,s:s}", "text", zt_buf_str(&c->text), c->text.len, "index", 0,
                                   "logprobs", "finish_reason", ev->finish_reason);
            json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:[o*],s:o*,s:o*}", "id", c->id, "object",
                                  c->chat ? "chat.completion" : "text_completion", "created", (json_int_t)c->created,
                                  "model", c->model, "choices", choice, "usage", usage(ev), "zentalk", zentalk_ext(ev));
            struct zt_http_resp resp;
            zt_http_resp_init(&resp);
            zt_http_resp_json(&resp, 200, j);
            zt_ignore(zt_http_async_respond(c->async, &resp));
            zt_http_resp_deinit(&resp);
        } else {
            answer_error(c, ev->err);
        }
    }
    if (ev->kind != ZT_JOB_TEXT) ctx_unref(c); /* the runner's reference */
}

/* stop: a string or an array of up to 4 non-empty strings */
static bool parse_stop(json_t *body, struct zt_job_params *p, struct zt_http_resp *resp)
{
    json_t *v = json_object_get(body, "stop");
    if (!v || json_is_null(v)) return true;
    if (json_is_string(v)) {
        p->stop[0] = json_string_value(v);
        p->n_stop = 1;
    } else if (json_is_array(v) && json_array_size(v) <= 4) {
        size_t i;
        json_t *s;
        json_array_foreach(v, i, s) {
            if (!json_is_string(s)) break;
            p->stop[p->n_stop++] = json_string_value(s);
        }
        if (p->n_stop != json_array_size(v)) p->n_stop = ZT_RUNNER_MAX_STOP + 1;
    } else {
        p->n_stop = ZT_RUNNER_MAX_STOP + 1;
    }
    for (size_t i = 0; i < p->n_stop && p->n_stop <= ZT_RUNNER_MAX_STOP; i++)
        if (!p->stop[i][0] || strlen(p->stop[i]) > ZT_RUNNER_MAX_STOP_LEN) p->n_stop = ZT_RUNNER_MAX_STOP + 1;
    if (p->n_stop > ZT_RUNNER_MAX_STOP) {
        zt_http_resp_error(resp, 400, "invalid_request", "stop must be a string or an array of at most 4 non-empty strings of at most 256 bytes");
        return false;
    }
    return true;
}

/* logit_bias: {"token id": bias in [-100, 100]} */
static bool parse_bias(json_t *body, uint32_t n_vocab, struct zt_logit_bias *out, size_t *n, struct zt_http_resp *resp)
{
    json_t *v = json_object_get(body, "logit_bias");
    *n = 0;
    if (!v || json_is_null(v)) return true;
    if (!json_is_object(v) || json_object_size(v) > 300) {
        zt_http_resp_error(resp, 400, "invalid_request", "logit_bias must be an object of at most 300 token ids");
        return false;
    }
    const char *key;
    json_t *b;
    json_object_foreach(v, key, b) {
        int64_t id;
        if (zt_str_to_i64(key, &id) != 0 || id < 0 || id >= (int64_t)n_vocab || !json_is_number(b) ||
            json_number_value(b) < -100 || json_number_value(b) > 100) {
            zt_http_resp_error(resp, 400, "invalid_request",
                               "logit_bias keys must be token ids of this model and values numbers in [-100, 100]");
            return false;
        }
        double bv = json_number_value(b);
        out[(*n)++] = (struct zt_logit_bias){(int32_t)id, bv <= -100 ? -INFINITY : (float)bv};
    }
    return true;
}

/* Build the prompt text: the completion prompt, or the chat formatted with
 * the model's template. */
static bool build_prompt(struct zt_runner *r, json_t *body, bool chat, struct zt_buf *out, struct zt_http_resp *resp)
{
    if (!chat) {
        json_t *p = json_object_get(body, "prompt");
        if (json_is_array(p) && json_array_size(p) == 1) p = json_array_get(p, 0);
        if (!json_is_string(p)) {
            zt_http_resp_error(resp, 400, "invalid_request", "prompt must be a string (or an array holding one string)");
            return false;
        }
        if (zt_buf_append(out, json_string_value(p), json_string_length(p)) != 0) {
            zt_http_resp_error(resp, 413, "prompt_too_large", "prompt is too large");
            return false;
        }
        return true;
    }
    json_t *msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0 || json_array_size(msgs) > 1024) {
        zt_http_resp_error(resp, 400, "invalid_request", "messages must be a non-empty array (at most 1024 messages)");
        return false;
    }
    struct zt_chat_msg *cm = zt_calloc(json_array_size(msgs), sizeof *cm);
    if (!cm) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return false;
    }
    size_t i;
    json_t *m;
    bool ok = true;
    json_array_foreach(msgs, i, m) {
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_string(role) || !json_is_string(content)) {
            ok = false;
            break;
        }
        cm[i] = (struct zt_chat_msg){json_string_value(role), json_string_value(content)};
    }
    if (!ok) {
        zt_free(cm);
        zt_http_resp_error(resp, 400, "invalid_request", "each message needs a string role and a string content");
        return false;
    }
    struct zt_gguf_str ts;
    char *tmpl = NULL;
    if (zt_gguf_get_str(zt_model_gguf(zt_runner_model(r)), "tokenizer.chat_template", &ts) == 0)
        tmpl = zt_strndup(ts.ptr, ts.len);
    bool fell_back;
    enum zt_chat_tmpl t = zt_chat_detect(tmpl, &fell_back);
    if (fell_back) zt_log_rl(ZT_LOG_WARN, 1, "chat_template_fallback", "detail=\"unknown chat template, using ChatML\"");
    zt_free(tmpl);
    int rc = zt_chat_format(t, cm, json_array_size(msgs), true, out);
    zt_free(cm);
    if (rc == ZT_EINVAL) zt_http_resp_error(resp, 400, "invalid_request", "message roles must be system, user or assistant");
    else if (rc) zt_http_resp_error(resp, 413, "prompt_too_large", "the conversation is too large");
    return rc == 0;
}

/* Tokenize the prompt for r into *toks (zt_calloc'd, n_ctx + 1 entries).
 * On failure fills resp (400 context_length_exceeded / invalid_request, 503)
 * and returns ZT_ETOOBIG, ZT_EINVAL or ZT_ENOMEM. */
static int encode_prompt(struct zt_runner *r, const struct zt_buf *prompt, bool chat, int32_t **toks, size_t *n,
                         struct zt_http_resp *resp)
{
    uint32_t n_ctx = zt_runner_n_ctx(r);
    int32_t *t = zt_calloc(n_ctx + 1, sizeof *t);
    if (!t) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return ZT_ENOMEM;
    }
    *n = 0;
    int rc = zt_tok_encode(zt_model_tokenizer(zt_runner_model(r)), zt_buf_str(prompt), prompt->len, true, chat, t,
                           n_ctx + 1, n);
    if (rc == ZT_ETOOBIG || *n >= n_ctx) {
        char msg[200];
        snprintf(msg, sizeof msg, "the prompt is %zu tokens; this model's context is %u tokens", *n, n_ctx);
        zt_http_resp_error(resp, 400, "context_length_exceeded", msg);
        zt_free(t);
        return ZT_ETOOBIG;
    }
    if (rc || *n == 0) {
        zt_http_resp_error(resp, 400, "invalid_request", rc ? "the prompt cannot be tokenized" : "the prompt is empty");
        zt_free(t);
        return ZT_EINVAL;
    }
    *toks = t;
    return 0;
}

bool zt__llm_prepare(struct zt__models *ms, json_t *body, bool chat, struct zt__llm_prep *out,
                     struct zt_http_resp *resp)
{
    struct zt_runner *r = NULL;
    const struct zt_cfg_model *e = NULL;
    struct zt_buf prompt;
    int32_t *toks = NULL;
    bool ok = false;
    zt_buf_init(&prompt, MAX_PROMPT_BYTES);
    memset(out, 0, sizeof *out);

    if (acquire(ms, body, &r, &e, resp) != 0) goto out;
    const struct zt_hparams *hp = zt_model_hparams(zt_runner_model(r));

    struct zt_job_params *p = &out->params;
    zt_sampler_params_default(&p->sampler);
    double temperature = e->temperature, top_p = e->top_p, top_k = (double)e->top_k, min_p = 0.05, seed = 0,
           max_tokens = (double)e->max_tokens, fp = 0, pp = 0, rp = 1.0;
    if (!get_num(body, "temperature", 0, 2, &temperature, resp) || !get_num(body, "top_p", 0.0001, 1, &top_p, resp) ||
        !get_int(body, "top_k", 0, 100000, &top_k, resp) || !get_num(body, "min_p", 0, 1, &min_p, resp) ||
        !get_int(body, "seed", -9007199254740991.0, 9007199254740991.0, &seed, resp) ||
        !get_int(body, "max_tokens", 1, 1e9, &max_tokens, resp) ||
        !get_int(body, "max_completion_tokens", 1, 1e9, &max_tokens, resp) ||
        !get_num(body, "frequency_penalty", -2, 2, &fp, resp) || !get_num(body, "presence_penalty", -2, 2, &pp, resp) ||
        !get_num(body, "repeat_penalty", 0.01, 10, &rp, resp))
        goto out;
    p->sampler.temperature = (float)temperature;
    p->sampler.top_p = (float)top_p;
    p->sampler.top_k = (int32_t)top_k;
    p->sampler.min_p = (float)min_p;
    p->sampler.seed = (uint64_t)(int64_t)seed;
    p->sampler.frequency_penalty = (float)fp;
    p->sampler.presence_penalty = (float)pp;
    p->sampler.repeat_penalty = (float)rp;
    p->max_tokens = (uint32_t)max_tokens;
    if (!parse_stop(body, p, resp) || !parse_bias(body, hp->n_vocab, out->bias, &p->sampler.n_logit_bias, resp))
        goto out;
    p->sampler.logit_bias = out->bias;

    if (!build_prompt(r, body, chat, &prompt, resp)) goto out;
    size_t n = 0;
    if (encode_prompt(r, &prompt, chat, &toks, &n, resp) != 0) goto out;
    out->runner = r;
    out->entry = e;
    out->toks = toks;
    out->n_toks = n;
    r = NULL;
    toks = NULL;
    ok = true;
out:
    if (r) zt__models_release(ms, r);
    zt_free(toks);
    if (prompt.data) sodium_memzero(prompt.data, prompt.len);
    zt_buf_deinit(&prompt);
    return ok;
}

void zt__llm_prep_release(struct zt__models *ms, struct zt__llm_prep *p)
{
    if (!p) return;
    if (p->runner) zt__models_release(ms, p->runner);
    if (p->toks) sodium_memzero(p->toks, p->n_toks * sizeof *p->toks); /* the prompt, as tokens */
    zt_free(p->toks);
    p->runner = NULL;
    p->toks = NULL;
}

/* Take an async handle for the request and queue the prepared job with c
 * as its context. On failure resp is filled, c is freed (its runner
 * reference is p's again) and -1 returned. */
static int submit(struct zt__llm_prep *p, struct zt_http_req *req, struct job_ctx *c,
                  const char *stream_type, const void *head, size_t head_len, struct zt_http_resp *resp)
{
    pthread_mutex_lock(&c->mu);
    c->async = stream_type ? zt_http_req_stream(req, 200, stream_type, on_close, c)
                           : zt_http_req_defer(req, on_close, c);
    int rc = c->async ? 0 : ZT_ENOMEM;
    if (!rc && head_len) rc = zt_http_async_write(c->async, head, head_len);
    if (!rc) rc = zt_runner_submit(p->runner, p->toks, p->n_toks, &p->params, on_gen_event, c, &c->job_id);
    if (rc) {
        zt_http_async_abandon(c->async);
        c->async = NULL;
        pthread_mutex_unlock(&c->mu);
        c->refs = 1;
        c->runner = NULL; /* stays p's */
        c->sink = NULL;   /* the sink's data stays the caller's */
        ctx_unref(c);
        if (rc == ZT_EBUSY) {
            zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
            zt_http_resp_error(resp, 503, "overloaded", "too many requests are waiting for this model; retry shortly");
        } else if (rc == ZT_EINVAL) {
            zt_http_resp_error(resp, 400, "invalid_request", "invalid sampling parameters");
        } else {
            zt_http_resp_error(resp, 503, "unavailable", zt_strerror(rc));
        }
        return -1;
    }
    pthread_mutex_unlock(&c->mu);
    p->runner = NULL; /* the context holds the model now */
    return 0;
}

void zt__llm_generate(struct zt__models *ms, struct zt_http_req *req, json_t *body, bool chat,
                      struct zt_http_resp *resp)
{
    struct zt__llm_prep p;
    memset(&p, 0, sizeof p);
    json_t *jstream = json_object_get(body, "stream");
    if (jstream && !json_is_boolean(jstream) && !json_is_null(jstream)) {
        zt_http_resp_error(resp, 400, "invalid_request", "stream must be a boolean");
        return;
    }
    double n_choices = 1;
    if (!get_int(body, "n", 1, 1, &n_choices, resp)) return; /* one choice per request */
    json_t *echo = json_object_get(body, "echo");
    if (json_is_true(echo)) {
        zt_http_resp_error(resp, 400, "invalid_request", "echo is not supported");
        return;
    }
    if (!zt__llm_prepare(ms, body, chat, &p, resp)) return;
    struct job_ctx *c = ctx_new(ms, p.runner, p.entry->id);
    if (!c) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        goto out;
    }
    c->chat = chat;
    c->stream = json_is_true(jstream);
    json_t *so = json_object_get(body, "stream_options");
    c->include_usage = json_is_true(json_object_get(so, "include_usage"));
    make_id(c->id, sizeof c->id, chat ? "chatcmpl" : "cmpl", zt_http_req_id(req));
    zt_ignore(submit(&p, req, c, c->stream ? "text/event-stream" : NULL, NULL, 0, resp));
out:
    zt__llm_prep_release(ms, &p);
}

int zt__llm_stream(struct zt__models *ms, struct zt__llm_prep *p, struct zt_http_req *req, const char *content_type,
                   const void *head, size_t head_len, const struct zt__llm_sink *sink, void *sink_ud,
                   struct zt_http_resp *resp)
{
    struct job_ctx *c = ctx_new(ms, p->runner, p->entry->id);
    if (!c) {
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return -1;
    }
    c->stream = true;
    c->sink = sink;
    c->sink_ud = sink_ud;
    return submit(p, req, c, content_type, head, head_len, resp);
}

/* ---- chat for server-side features ------------------------------------- */

struct feat_job {
    struct zt__models *ms;
    struct zt_runner *runner;
    struct zt_buf text;
    int err;
    zt__llm_done_fn cb;
    void *ud;
};

static void on_feat_event(void *ud, const struct zt_job_event *ev)
{
    struct feat_job *j = ud;
    if (ev->kind == ZT_JOB_TEXT) {
        if (!j->err && zt_buf_append(&j->text, ev->text, ev->len) != 0) j->err = ZT_ETOOBIG;
        return;
    }
    int err = ev->kind == ZT_JOB_DONE ? j->err : (ev->err ? ev->err : ZT_EINVAL);
    j->cb(j->ud, err, zt_buf_str(&j->text), j->text.len);
    zt__models_release(j->ms, j->runner);
    zt_buf_deinit(&j->text);
    zt_free(j);
}

int zt__llm_chat_run(struct zt__models *ms, const char *model_id, json_t *messages, uint32_t max_tokens,
                     zt__llm_done_fn cb, void *ud, struct zt_buf *why)
{
    struct zt_runner *r = NULL;
    const struct zt_cfg_model *e = NULL;
    struct feat_job *j = NULL;
    int32_t *toks = NULL;
    json_t *body = NULL;
    struct zt_buf prompt;
    struct zt_http_resp tmp;
    zt_buf_init(&prompt, MAX_PROMPT_BYTES);
    zt_http_resp_init(&tmp);
    int rc = zt__models_acquire(ms, model_id, &r, &e, why);
    if (rc) {
        r = NULL;
        goto out;
    }
    body = json_pack("{s:O}", "messages", messages);
    if (!body) {
        rc = ZT_ENOMEM;
        goto out;
    }
    /* the same chat template and tokenizer as POST /v1/chat/completions */
    if (!build_prompt(r, body, true, &prompt, &tmp)) {
        rc = tmp.status == 413 ? ZT_ETOOBIG : ZT_EINVAL;
        goto out;
    }
    size_t n = 0;
    rc = encode_prompt(r, &prompt, true, &toks, &n, &tmp);
    if (rc) goto out;
    struct zt_job_params p;
    memset(&p, 0, sizeof p);
    zt_sampler_params_default(&p.sampler);
    p.sampler.temperature = 0; /* greedy: the same conversation gives the same answer */
    p.sampler.seed = 0;
    p.max_tokens = max_tokens;
    j = zt_calloc(1, sizeof *j);
    if (!j) {
        rc = ZT_ENOMEM;
        goto out;
    }
    j->ms = ms;
    j->runner = r;
    j->cb = cb;
    j->ud = ud;
    zt_buf_init(&j->text, TEXT_MAX);
    uint64_t job_id;
    rc = zt_runner_submit(r, toks, n, &p, on_feat_event, j, &job_id);
    if (rc) {
        zt_buf_deinit(&j->text);
        zt_free(j);
        goto out;
    }
    r = NULL; /* the job holds the model now */
out:
    if (rc && why && !why->len) zt_ignore(zt_buf_append_str(why, zt_strerror(rc)));
    if (r) zt__models_release(ms, r);
    zt_free(toks);
    json_decref(body);
    zt_buf_deinit(&prompt);
    zt_http_resp_deinit(&tmp);
    return rc;
}

/* ---- embeddings --------------------------------------------------------- */

/* One embedding input finished (or the handler finished submitting, which
 * counts as one more "input" so the answer cannot go out before every job
 * was queued). The last one answers. */
static void embed_done(struct job_ctx *c)
{
    pthread_mutex_lock(&c->mu);
    bool last = ++c->n_done == c->n_inputs, closed = c->closed;
    if (last) c->finished = true;
    pthread_mutex_unlock(&c->mu);
    if (!last) return;
    if (!closed) {
        if (c->err) {
            answer_error(c, c->err);
        } else {
            struct zt_http_resp resp;
            zt_http_resp_init(&resp);
            zt_http_resp_json(&resp, 200,
                              json_pack("{s:s,s:O,s:s,s:{s:i,s:i}}", "object", "list", "data", c->vectors, "model",
                                        c->model, "usage", "prompt_tokens", (int)c->embed_tokens, "total_tokens",
                                        (int)c->embed_tokens));
            zt_ignore(zt_http_async_respond(c->async, &resp));
            zt_http_resp_deinit(&resp);
        }
    }
    ctx_unref(c); /* the runner side's reference */
}

static void on_embed_event(void *ud, const struct zt_job_event *ev)
{
    struct job_ctx *c = ud;
    pthread_mutex_lock(&c->mu);
    if (ev->kind == ZT_JOB_EMBEDDING) {
        /* the runner runs embedding jobs first in, first out: results come
         * in input order */
        json_t *vec = json_array();
        for (uint32_t i = 0; i < ev->n_embd && vec; i++) json_array_append_new(vec, json_real(ev->embedding[i]));
        size_t idx = json_array_size(c->vectors);
        json_array_append_new(c->vectors, json_pack("{s:s,s:i,s:o*}", "object", "embedding", "index", (int)idx,
                                                    "embedding", vec));
        c->embed_tokens += ev->prompt_tokens;
    } else if (!c->err) {
        c->err = ev->err;
    }
    pthread_mutex_unlock(&c->mu);
    embed_done(c);
}

void zt__llm_embeddings(struct zt__models *ms, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp)
{
    json_t *input = json_object_get(body, "input");
    size_t n_in = json_is_string(input) ? 1 : (json_is_array(input) ? json_array_size(input) : 0);
    if (n_in == 0 || n_in > MAX_EMBED_INPUTS) {
        zt_http_resp_error(resp, 400, "invalid_request", "input must be a string or an array of 1 to 64 strings");
        return;
    }
    for (size_t i = 0; json_is_array(input) && i < n_in; i++)
        if (!json_is_string(json_array_get(input, i)) || json_string_length(json_array_get(input, i)) == 0) {
            zt_http_resp_error(resp, 400, "invalid_request", "every input must be a non-empty string");
            return;
        }
    if (json_is_string(input) && json_string_length(input) == 0) {
        zt_http_resp_error(resp, 400, "invalid_request", "input must not be empty");
        return;
    }
    json_t *fmt = json_object_get(body, "encoding_format");
    if (fmt && !(json_is_string(fmt) && strcmp(json_string_value(fmt), "float") == 0)) {
        zt_http_resp_error(resp, 400, "invalid_request", "encoding_format must be \"float\"");
        return;
    }
    struct zt_runner *r = NULL;
    const struct zt_cfg_model *e = NULL;
    if (acquire(ms, body, &r, &e, resp) != 0) return;
    uint32_t n_ctx = zt_runner_n_ctx(r);
    struct zt_tokenizer *tok = zt_model_tokenizer(zt_runner_model(r));
    int32_t *toks = zt_calloc(n_ctx + 1, sizeof *toks);
    struct job_ctx *c = toks ? ctx_new(ms, r, e->id) : NULL;
    if (c) {
        c->n_jobs = n_in;
        c->job_ids = zt_calloc(n_in, sizeof *c->job_ids);
        c->vectors = json_array();
    }
    if (!c || !c->job_ids || !c->vectors) {
        if (c) {
            c->refs = 1;
            ctx_unref(c); /* releases r */
        } else {
            zt__models_release(ms, r);
        }
        zt_free(toks);
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return;
    }
    /* Jobs are submitted without holding c->mu: a finished job's callback
     * takes c->mu while the runner's lock is held, and submitting takes the
     * runner's lock. The handler's own "input" keeps the answer back until
     * everything is queued. */
    c->n_inputs = n_in + 1;
    c->async = zt_http_req_defer(req, on_close, c);
    int rc = c->async ? 0 : ZT_ENOMEM;
    size_t submitted = 0;
    for (size_t i = 0; !rc && i < n_in; i++) {
        json_t *s = json_is_string(input) ? input : json_array_get(input, i);
        size_t n = 0;
        rc = zt_tok_encode(tok, json_string_value(s), json_string_length(s), true, false, toks, n_ctx + 1, &n);
        if (rc == ZT_ETOOBIG || n > n_ctx) rc = ZT_ERANGE;
        if (!rc) rc = zt_runner_embed(r, toks, n, on_embed_event, c, &c->job_ids[i]);
        if (!rc) submitted++;
    }
    zt_free(toks);
    if (rc && submitted == 0) {
        /* nothing queued, so no callback can come: answer directly */
        zt_http_async_abandon(c->async);
        c->async = NULL;
        c->refs = 1;
        ctx_unref(c);
        if (rc == ZT_ERANGE) zt_http_resp_error(resp, 400, "context_length_exceeded", "an input is longer than the model's context");
        else zt_http_resp_error(resp, 503, "unavailable", zt_strerror(rc));
        return;
    }
    if (rc) {
        pthread_mutex_lock(&c->mu);
        c->n_inputs -= n_in - submitted; /* those will never report */
        c->err = rc;
        pthread_mutex_unlock(&c->mu);
    }
    embed_done(c);
}
