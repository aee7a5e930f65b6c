/* openai.c: the OpenAI response shapes. See openai.h. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "openai.h"
#include "zentalk/zt_json_num.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"

#define EVENT_MAX ((size_t)32 << 20)
#define WHOLE_MAX ((size_t)16 << 20) /* an answer's whole stream at once (a cache hit) */
#define SSE_DONE "data: [DONE]\n\n"

bool zt__openai_options(json_t *body, struct zt__openai_opts *o, struct zt_http_resp *resp)
{
    json_t *jstream = json_object_get(body, "stream");
    if (jstream && !json_is_boolean(jstream) && !json_is_null(jstream)) {
        zt_http_resp_error(resp, 400, "invalid_request", "stream must be a boolean");
        return false;
    }
    json_t *jn = json_object_get(body, "n"); /* one choice per request */
    if (jn && !json_is_null(jn) && !json_is_integer(jn)) {
        zt_http_resp_error(resp, 400, "invalid_request", "n must be an integer");
        return false;
    }
    if (jn && !json_is_null(jn) && json_integer_value(jn) != 1) {
        zt_http_resp_error(resp, 400, "invalid_request", "n must be 1: this node returns one choice per request");
        return false;
    }
    if (json_is_true(json_object_get(body, "echo"))) {
        zt_http_resp_error(resp, 400, "invalid_request", "echo is not supported");
        return false;
    }
    /* refused rather than ignored: a client relying on them would get an
     * answer that silently is not what it asked for */
    json_t *suffix = json_object_get(body, "suffix");
    if (suffix && !json_is_null(suffix) && !(json_is_string(suffix) && json_string_length(suffix) == 0)) {
        zt_http_resp_error(resp, 400, "invalid_request", "suffix is not supported (insertion is not implemented)");
        return false;
    }
    json_t *best_of = json_object_get(body, "best_of");
    if (best_of && !json_is_null(best_of) && !(json_is_integer(best_of) && json_integer_value(best_of) == 1)) {
        zt_http_resp_error(resp, 400, "invalid_request", "best_of is not supported: only 1 (one choice per request)");
        return false;
    }
    /* the engine reports no token probabilities and has no constrained
     * decoding: say so rather than answer without them */
    json_t *jlp = json_object_get(body, "logprobs"), *jtop = json_object_get(body, "top_logprobs");
    if ((jlp && !json_is_null(jlp) && !json_is_false(jlp) && !(json_is_integer(jlp) && json_integer_value(jlp) == 0)) ||
        (jtop && !json_is_null(jtop) && !(json_is_integer(jtop) && json_integer_value(jtop) == 0))) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "logprobs and top_logprobs are not supported: this node's engine does not report token "
                           "probabilities");
        return false;
    }
    json_t *jrf = json_object_get(body, "response_format");
    if (jrf && !json_is_null(jrf)) {
        json_t *jt = json_object_get(jrf, "type");
        if (!json_is_object(jrf) || !json_is_string(jt)) {
            zt_http_resp_error(resp, 400, "invalid_request", "response_format must be an object with a string \"type\"");
            return false;
        }
        if (strcmp(json_string_value(jt), "text") != 0) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "response_format type \"%.40s\" is not supported: this node has no constrained decoding; only "
                     "\"text\" is accepted",
                     json_string_value(jt));
            zt_http_resp_error(resp, 400, "invalid_request", msg);
            return false;
        }
    }
    o->stream = json_is_true(jstream);
    o->include_usage = json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    return true;
}

void zt__openai_answer_init(struct zt__openai_answer *a, bool chat, const char *model, const char *req_id, char *id,
                            size_t n)
{
    snprintf(id, n, "%s-%s", chat ? "chatcmpl" : "cmpl", req_id);
    a->chat = chat;
    a->id = id;
    a->model = model;
    a->created = (long long)time(NULL);
}

static const char *object_name(const struct zt__openai_answer *a, bool chunk)
{
    return a->chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
}

json_t *zt__openai_usage(const struct zt__openai_usage *u)
{
    return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", (int)u->prompt_tokens, "completion_tokens",
                     (int)u->completion_tokens, "total_tokens", (int)(u->prompt_tokens + u->completion_tokens),
                     "prompt_tokens_details", "cached_tokens", (int)u->cached_tokens);
}

json_t *zt__openai_zentalk(const struct zt__openai_ran *r)
{
    char h[2 * ZT_SAMPLER_HASH_LEN + 1];
    zt_hex_encode(h, r->seq_hash, ZT_SAMPLER_HASH_LEN);
    json_t *z = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:O?}", "seq_hash", h, "engine", r->engine, "ran_on",
                          r->ran_on, "job_id", r->job_id, "receipt", r->receipt_hex, "via", r->via, "verification",
                          r->verification, "checks", r->checks);
    if (z && r->cache_orig_job &&
        json_object_set_new(z, "cache", json_pack("{s:b,s:s,s:s?}", "hit", 1, "original_job_id", r->cache_orig_job,
                                                  "receipt", r->cache_receipt)) != 0) {
        json_decref(z);
        return NULL;
    }
    return z;
}

json_t *zt__openai_chunk(const struct zt__openai_answer *a, const char *text, size_t len, const char *finish)
{
    json_t *choice;
    if (a->chat) {
        json_t *delta = json_object();
        if (delta && text) json_object_set_new(delta, "content", json_stringn_nocheck(text, len));
        choice = json_pack("{s:i,s:o*,s:s?}", "index", 0, "delta", delta, "finish_reason", finish);
    } else {
        choice = json_pack("{s:s%,s:i,s:n,s:s?}", "text", text ? text : "", text ? len : 0, "index", 0, "logprobs",
                           "finish_reason", finish);
    }
    if (choice && !finish) json_object_set_new(choice, "finish_reason", json_null());
    return json_pack("{s:s,s:s,s:I,s:s,s:[o*]}", "id", a->id, "object", object_name(a, true), "created",
                     (json_int_t)a->created, "model", a->model, "choices", choice);
}

json_t *zt__openai_final_chunk(const struct zt__openai_answer *a, const char *finish, const struct zt__openai_ran *r)
{
    json_t *last = zt__openai_chunk(a, NULL, 0, finish);
    json_t *z = zt__openai_zentalk(r);
    if (!last || !z) {
        json_decref(last);
        json_decref(z);
        return NULL;
    }
    if (json_object_set_new(last, "zentalk", z) != 0) { /* z is taken either way */
        json_decref(last);
        return NULL;
    }
    return last;
}

json_t *zt__openai_usage_chunk(const struct zt__openai_answer *a, const struct zt__openai_usage *u)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:[],s:o*}", "id", a->id, "object", object_name(a, true), "created",
                     (json_int_t)a->created, "model", a->model, "choices", "usage", zt__openai_usage(u));
}

json_t *zt__openai_completion(const struct zt__openai_answer *a, const char *text, size_t len, const char *finish,
                              const struct zt__openai_usage *u, const struct zt__openai_ran *r)
{
    json_t *choice;
    if (!text) text = "", len = 0;
    if (a->chat)
        choice = json_pack("{s:i,s:{s:s,s:s%},s:s}", "index", 0, "message", "role", "assistant", "content", text, len,
                           "finish_reason", finish);
    else
        choice = json_pack("{s:s%,s:i,s:n,s:s}", "text", text, len, "index", 0, "logprobs", "finish_reason", finish);
    return json_pack("{s:s,s:s,s:I,s:s,s:[o*],s:o*,s:o*}", "id", a->id, "object", object_name(a, false), "created",
                     (json_int_t)a->created, "model", a->model, "choices", choice, "usage", zt__openai_usage(u),
                     "zentalk", zt__openai_zentalk(r));
}

json_t *zt__openai_error_event(const char *code, const char *message)
{
    return json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code, "message", message, "type", "server_error");
}

int zt__openai_sse_buf(struct zt_buf *b, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return ZT_ENOMEM;
    /* reals in their shortest round-trip form (0.8, not 0.80000000000000004) */
    int rc = zt_buf_append_str(b, "data: ");
    if (!rc) rc = zt_json_shorten_reals(s, strlen(s), b);
    if (!rc) rc = zt_buf_append_str(b, "\n\n");
    sodium_memzero(s, strlen(s));
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(s);
    return rc;
}

int zt__openai_sse(struct zt_http_async *a, json_t *j)
{
    struct zt_buf b;
    zt_buf_init(&b, EVENT_MAX);
    int rc = zt__openai_sse_buf(&b, j);
    if (!rc) rc = zt_http_async_write(a, b.data, b.len);
    if (b.data) sodium_memzero(b.data, b.cap);
    zt_buf_deinit(&b);
    return rc;
}

void zt__openai_sse_done(struct zt_http_async *a)
{
    zt_ignore(zt_http_async_write(a, SSE_DONE, strlen(SSE_DONE)));
    zt_http_async_end(a);
}

int zt__openai_stream_whole(const struct zt__openai_answer *a, const char *text, size_t len, const char *finish,
                            const struct zt__openai_usage *u, const struct zt__openai_ran *r,
                            struct zt_http_resp *resp)
{
    struct zt_buf b;
    zt_buf_init(&b, WHOLE_MAX);
    int rc = len ? zt__openai_sse_buf(&b, zt__openai_chunk(a, text, len, NULL)) : 0;
    if (!rc) rc = zt__openai_sse_buf(&b, zt__openai_final_chunk(a, finish, r));
    if (!rc && u) rc = zt__openai_sse_buf(&b, zt__openai_usage_chunk(a, u));
    if (!rc) rc = zt_buf_append_str(&b, SSE_DONE);
    if (rc) {
        if (b.data) sodium_memzero(b.data, b.cap);
        zt_buf_deinit(&b);
        return rc;
    }
    resp->status = 200;
    resp->content_type = "text/event-stream";
    zt_buf_deinit(&resp->body);
    resp->body = b; /* taken */
    return 0;
}

void zt__openai_respond(struct zt_http_async *a, json_t *j)
{
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    zt_http_resp_json(&resp, 200, j);
    zt_ignore(zt_http_async_respond(a, &resp));
    if (resp.body.data) sodium_memzero(resp.body.data, resp.body.cap);
    zt_http_resp_deinit(&resp);
}

void zt__openai_fail(struct zt_http_async *a, bool streaming, int status, const char *code, const char *message)
{
    if (streaming) {
        zt_ignore(zt__openai_sse(a, zt__openai_error_event(code, message)));
        zt_http_async_end(a);
        return;
    }
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    zt_http_resp_error(&resp, status, code, message);
    zt_ignore(zt_http_async_respond(a, &resp));
    zt_http_resp_deinit(&resp);
}

void zt__openai_fail_job(struct zt_http_async *a, bool streaming, int err)
{
    char msg[160];
    snprintf(msg, sizeof msg, "inference failed: %s", zt_strerror(err));
    zt__openai_fail(a, streaming, err == ZT_ECLOSED ? 503 : 500, err == ZT_ECLOSED ? "shutting_down" : "inference_failed",
                    msg);
}

int zt__openai_status(const char *code)
{
    static const struct {
        const char *code;
        int status;
    } map[] = {
        {"invalid_request", 400}, {"context_length_exceeded", 400}, {"prompt_too_large", 413}, {"model_not_found", 404},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].code, code) == 0) return map[i].status;
    return 503; /* no_model, model_unavailable, model_cache_full, overloaded, unavailable, shutting_down */
}

void zt__openai_refuse(struct zt_http_resp *resp, const struct zt_infer_err *err)
{
    if (err->rc == ZT_EBUSY && strcmp(err->code, "overloaded") == 0)
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
    zt_http_resp_error(resp, zt__openai_status(err->code), err->code,
                       err->message[0] ? err->message : zt_strerror(err->rc));
}

static json_t *model_object(const struct zt_cfg_model *e, bool loaded)
{
    return json_pack("{s:s,s:s,s:i,s:s,s:b}", "id", e->id, "object", "model", "created", 0, "owned_by", "zentalk",
                     "loaded", loaded);
}

json_t *zt__openai_models(const struct zt_infer *inf)
{
    json_t *data = json_array();
    for (size_t i = 0; i < zt_infer_model_count(inf) && data; i++) {
        bool loaded;
        const struct zt_cfg_model *e = zt_infer_model(inf, i, &loaded);
        json_array_append_new(data, model_object(e, loaded));
    }
    return json_pack("{s:s,s:o*}", "object", "list", "data", data);
}

json_t *zt__openai_model(const struct zt_infer *inf, const char *id, bool *found)
{
    *found = false;
    for (size_t i = 0; i < zt_infer_model_count(inf); i++) {
        bool loaded;
        const struct zt_cfg_model *e = zt_infer_model(inf, i, &loaded);
        if (strcmp(e->id, id) != 0) continue;
        *found = true;
        return model_object(e, loaded);
    }
    return NULL;
}

/* n floats as the base64 of their little-endian IEEE-754 bytes. */
static json_t *floats_base64(const float *v, uint32_t n)
{
    size_t nb = (size_t)n * 4, cap = sodium_base64_ENCODED_LEN(nb, sodium_base64_VARIANT_ORIGINAL);
    unsigned char *bytes = zt_malloc(nb ? nb : 1);
    char *b64 = zt_malloc(cap);
    json_t *j = NULL;
    if (bytes && b64) {
        for (uint32_t k = 0; k < n; k++) {
            uint32_t u;
            memcpy(&u, &v[k], sizeof u);
            for (int b = 0; b < 4; b++) bytes[(size_t)k * 4 + (size_t)b] = (unsigned char)(u >> (8 * b));
        }
        sodium_bin2base64(b64, cap, bytes, nb, sodium_base64_VARIANT_ORIGINAL);
        j = json_string(b64);
    }
    zt_free(bytes);
    zt_free(b64);
    return j;
}

json_t *zt__openai_embeddings(const char *model, const struct zt_infer_embeddings *e, bool base64)
{
    json_t *data = json_array();
    for (size_t i = 0; i < e->n && data; i++) {
        const float *v = e->v + i * e->n_embd;
        json_t *vec = NULL;
        if (base64) {
            vec = floats_base64(v, e->n_embd);
        } else {
            vec = json_array();
            for (uint32_t k = 0; k < e->n_embd && vec; k++) json_array_append_new(vec, json_real(v[k]));
        }
        json_array_append_new(data, json_pack("{s:s,s:i,s:o*}", "object", "embedding", "index", (int)i, "embedding", vec));
    }
    return json_pack("{s:s,s:o*,s:s,s:{s:i,s:i}}", "object", "list", "data", data, "model", model, "usage",
                     "prompt_tokens", (int)e->prompt_tokens, "total_tokens", (int)e->prompt_tokens);
}
