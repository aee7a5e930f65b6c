/* llm.h: the OpenAI-compatible routes (internal to src/server):
 *   GET /v1/models, POST /v1/completions, POST /v1/chat/completions,
 *   POST /v1/embeddings;
 * and the request builder and job streaming they share with other routes
 * (the sealed jobs of sealed.c). */
#ifndef ZT_SERVER_LLM_H
#define ZT_SERVER_LLM_H

#include <jansson.h>
#include <stdbool.h>

#include "models.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_runner.h"

void zt__llm_models(struct zt__models *ms, struct zt_http_req *req, struct zt_http_resp *resp);
void zt__llm_generate(struct zt__models *ms, struct zt_http_req *req, json_t *body, bool chat,
                      struct zt_http_resp *resp);
void zt__llm_embeddings(struct zt__models *ms, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp);

/* A completion or chat request checked, its model acquired and its prompt
 * tokenized: everything zt_runner_submit() needs. params.sampler.logit_bias
 * points into bias and params.stop into the request body, so keep both in
 * place (do not copy the struct) until the job is submitted. */
struct zt__llm_prep {
    struct zt_runner *runner; /* acquired; released by zt__llm_prep_release() */
    const struct zt_cfg_model *entry;
    struct zt_job_params params;
    struct zt_logit_bias bias[300];
    int32_t *toks;
    size_t n_toks;
};

/* Build the job of an OpenAI completion (chat false: "prompt") or chat
 * ("messages", formatted with the model's chat template) request body:
 * model (default when absent), sampling fields with their ranges and the
 * model's defaults, max_tokens, stop, logit_bias, tokenization within the
 * context. "stream", "n" and "echo" are the caller's. On failure resp holds
 * the 4xx/5xx answer (404 model_not_found, 503 no_model, 400
 * invalid_request / context_length_exceeded, ...) and false is returned;
 * the messages never quote the prompt. */
bool zt__llm_prepare(struct zt__models *ms, json_t *body, bool chat, struct zt__llm_prep *out,
                     struct zt_http_resp *resp);
void zt__llm_prep_release(struct zt__models *ms, struct zt__llm_prep *p);

/* Receives a streamed job's events on the runner thread, only while the
 * connection is open; each call must be quick (write to a, never block).
 * done and fail are the last event: they should end the stream
 * (zt_http_async_end). free(ud) runs once when the job and the connection
 * are both over. */
struct zt__llm_sink {
    void (*text)(void *ud, struct zt_http_async *a, const char *text, size_t len);
    void (*done)(void *ud, struct zt_http_async *a, const struct zt_job_event *ev);
    void (*fail)(void *ud, struct zt_http_async *a, int err);
    void (*free)(void *ud);
};

/* Start a streamed answer (status 200, content_type, a static string), write
 * head (head_len bytes, may be 0) as its first bytes, and queue p's job with
 * its events going to sink. The connection closing cancels the job. On
 * success the job owns p's model reference and sink_ud (freed through
 * sink->free) and 0 is returned; on failure resp holds the error (503
 * overloaded with Retry-After, ...), p and sink_ud stay the caller's, and
 * -1 is returned. */
int zt__llm_stream(struct zt__models *ms, struct zt__llm_prep *p, struct zt_http_req *req, const char *content_type,
                   const void *head, size_t head_len, const struct zt__llm_sink *sink, void *sink_ud,
                   struct zt_http_resp *resp);
/* Run one chat completion for a server-side feature (smart replies,
 * summaries) through the code POST /v1/chat/completions uses: the model
 * registry, the model's chat template, the tokenizer and the runner.
 * messages: a JSON array of {"role","content"} (borrowed). Greedy
 * decoding (deterministic), at most max_tokens. On success cb is called
 * exactly once, later, on the runner thread, with err 0 and the text, or an
 * error. Returns ZT_ENOTFOUND (no such model), ZT_EBUSY, ZT_ETOOBIG (the
 * prompt does not fit the model's context), ZT_EINVAL, ZT_ENOMEM or a load
 * error (why, when not NULL, says why); cb is not called then. */
typedef void (*zt__llm_done_fn)(void *ud, int err, const char *text, size_t len);
ZT_NODISCARD int zt__llm_chat_run(struct zt__models *ms, const char *model_id, json_t *messages, uint32_t max_tokens,
                                  zt__llm_done_fn cb, void *ud, struct zt_buf *why);

#endif
