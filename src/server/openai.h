/* openai.h: the OpenAI response shapes, rendered in one place (internal to
 * src/server): completion and chat completion objects, their Server-Sent
 * Event chunks, usage, error objects and events, the "zentalk" object
 * (where a job ran and its proof), the model list and embeddings. Used by
 * the local answers (llm_api.c) and the remote ones (route_api.c), so that a
 * client cannot tell them apart by shape.
 *
 * Functions returning json_t * return a new reference, or NULL when out of
 * memory (jansson's packers take NULL members as failure, so a NULL part
 * makes the whole object NULL). */
#ifndef ZT_SERVER_OPENAI_H
#define ZT_SERVER_OPENAI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "zentalk/zt_http.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_sampler.h"

/* What every object of one answer repeats. */
struct zt__openai_answer {
    bool chat;          /* chat.completion[.chunk], else text_completion */
    const char *id;     /* "chatcmpl-<request id>" / "cmpl-<request id>" */
    const char *model;
    long long created;  /* Unix seconds */
};

/* The answer options of a completion or chat request: "stream" (a
 * boolean or null), "stream_options.include_usage", and the fields this
 * node refuses with a 400 that says why ("n" other than 1, "echo": true,
 * "logprobs" / "top_logprobs" asked for, "response_format" other than
 * {"type":"text"}). false with resp holding the 400 when one is wrong. */
struct zt__openai_opts {
    bool stream, include_usage;
};
bool zt__openai_options(json_t *body, struct zt__openai_opts *o, struct zt_http_resp *resp);

/* Fill a->id (n bytes) for request id req_id and set chat, model and
 * created (now). id must outlive a. */
void zt__openai_answer_init(struct zt__openai_answer *a, bool chat, const char *model, const char *req_id, char *id,
                            size_t n);

struct zt__openai_usage {
    uint32_t prompt_tokens, completion_tokens, cached_tokens;
};

/* The "zentalk" object: how the answer was made. ran_on is "local" or the
 * worker's node id; job_id, receipt_hex and via (a relay's id) are for
 * remote jobs (NULL: left out). */
struct zt__openai_ran {
    const uint8_t *seq_hash;   /* ZT_SAMPLER_HASH_LEN bytes */
    const char *engine;        /* build id */
    const char *ran_on;
    const char *job_id;
    const char *receipt_hex;
    const char *via;
    const char *verification; /* "local" (ran here: no other worker checks it), "receipt" (the worker's
                                 signed receipt checked), "verified", "exempt", "skipped", "undecided"
                                 (docs/api.md), or NULL: left out */
    json_t *checks;           /* the other workers that checked it (array, borrowed), or NULL */
    const char *cache_orig_job; /* an answer from the result cache: the job the worker ran (hex) ... */
    const char *cache_receipt;  /* ... and the cache receipt (hex): "cache":{"hit":true,...}; NULL: left out */
};

json_t *zt__openai_usage(const struct zt__openai_usage *u);
json_t *zt__openai_zentalk(const struct zt__openai_ran *r);
/* A streamed chunk: text (len bytes; NULL: none) and finish (NULL: null). */
json_t *zt__openai_chunk(const struct zt__openai_answer *a, const char *text, size_t len, const char *finish);
/* The last chunk: finish_reason and the "zentalk" object. */
json_t *zt__openai_final_chunk(const struct zt__openai_answer *a, const char *finish, const struct zt__openai_ran *r);
/* The usage chunk of stream_options.include_usage (empty choices). */
json_t *zt__openai_usage_chunk(const struct zt__openai_answer *a, const struct zt__openai_usage *u);
/* The whole (non-streamed) answer. */
json_t *zt__openai_completion(const struct zt__openai_answer *a, const char *text, size_t len, const char *finish,
                              const struct zt__openai_usage *u, const struct zt__openai_ran *r);
/* {"error":{"code","message","type":"server_error"}}: the event that ends
 * a stream that failed after it started. */
json_t *zt__openai_error_event(const char *code, const char *message);

/* Append j (taken) to b as one event, "data: <compact JSON>\n\n" (reals
 * in their shortest form); the JSON text is wiped after. 0 or ZT_ENOMEM
 * (j NULL, or out of memory or b's cap). */
ZT_NODISCARD int zt__openai_sse_buf(struct zt_buf *b, json_t *j);
/* Write j (taken) as one event (zt__openai_sse_buf); the bytes are
 * wiped after (they may hold the answer). 0, ZT_ENOMEM (j NULL or out of
 * memory), or zt_http_async_write()'s error. */
ZT_NODISCARD int zt__openai_sse(struct zt_http_async *a, json_t *j);
/* A finished answer as the whole SSE stream at once in resp (200,
 * text/event-stream): the text's chunk (none when len is 0), the final
 * chunk with the "zentalk" object, the usage chunk when u is not NULL, and
 * [DONE]. 0, or ZT_ENOMEM with resp untouched. */
ZT_NODISCARD int zt__openai_stream_whole(const struct zt__openai_answer *a, const char *text, size_t len,
                                         const char *finish, const struct zt__openai_usage *u,
                                         const struct zt__openai_ran *r, struct zt_http_resp *resp);
/* "data: [DONE]\n\n" and the end of the stream. */
void zt__openai_sse_done(struct zt_http_async *a);
/* Answer a deferred request with j (taken) and status 200; wipe the body
 * copy after. */
void zt__openai_respond(struct zt_http_async *a, json_t *j);
/* A failure after the request was accepted: streaming (an SSE stream was
 * started): an error event and the end (no [DONE], so the client does not
 * take what it got as complete); otherwise the JSON error with status. */
void zt__openai_fail(struct zt_http_async *a, bool streaming, int status, const char *code, const char *message);
/* A job that failed with err (ZT_ECLOSED: 503 shutting_down, otherwise
 * 500 inference_failed), as zt__openai_fail(). */
void zt__openai_fail_job(struct zt_http_async *a, bool streaming, int err);

/* The HTTP status of an inference refusal code (zt_infer.h). */
int zt__openai_status(const char *code);
/* resp = the refusal: status by code, Retry-After: 1 when the model's
 * queue was full. */
void zt__openai_refuse(struct zt_http_resp *resp, const struct zt_infer_err *err);

/* GET /v1/models: {"object":"list","data":[{id, object, created, owned_by, loaded}]} */
json_t *zt__openai_models(const struct zt_infer *inf);
/* GET /v1/models/{id}: the one model object of the list, or NULL (none
 * configured with that id, or out of memory: *found tells). */
json_t *zt__openai_model(const struct zt_infer *inf, const char *id, bool *found);
/* The embeddings answer; base64: each vector as the base64 of its
 * little-endian float32 bytes (encoding_format "base64", the official
 * clients' default), else an array of numbers. */
json_t *zt__openai_embeddings(const char *model, const struct zt_infer_embeddings *e, bool base64);

#endif
