/* llm_api.h: the OpenAI-compatible routes (internal to src/server):
 *   GET /v1/models, POST /v1/completions, POST /v1/chat/completions,
 *   POST /v1/embeddings;
 * thin HTTP handlers over the inference service (zt_infer.h), answering
 * in the shapes of openai.h. And the streamed answer of an inference job
 * that other routes share (the sealed jobs of sealed.c). */
#ifndef ZT_SERVER_LLM_API_H
#define ZT_SERVER_LLM_API_H

#include <jansson.h>
#include <stdbool.h>

#include "req.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_infer.h"

/* GET /v1/models (ud: the node's struct zt_infer). */
void zt__llm_h_models(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
/* GET /v1/models/{id} (a prefix route; ud as above): one model, or 404
 * model_not_found. */
void zt__llm_h_model(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
/* A completion (chat false) or chat request run on this node; called by the
 * local-first router's handlers (route_api.h) when the model is served here.
 * Its end is reported (zt_infer_job_report_end: the node sends the
 * job.completed webhook, worker "local"; outcome ok, failed, or
 * client_gone). */
void zt__llm_generate(struct zt_infer *inf, struct zt__req_ctx *cx, json_t *body, bool chat,
                      struct zt_http_resp *resp);
/* POST /v1/embeddings (ud: the node's struct zt_infer). */
void zt__llm_h_embeddings(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

/* Receives a streamed job's events on the runner thread, only while the
 * connection is open; each call must be quick (write to a, never block).
 * done and fail are the last event: they should end the stream
 * (zt_http_async_end). free(ud) runs once when the job and the connection
 * are both over. */
struct zt__llm_sink {
    void (*text)(void *ud, struct zt_http_async *a, const struct zt_job_event *ev); /* ZT_JOB_TEXT */
    void (*done)(void *ud, struct zt_http_async *a, const struct zt_job_event *ev);
    void (*fail)(void *ud, struct zt_http_async *a, int err);
    void (*free)(void *ud);
};

/* Start a streamed answer (status 200, content_type, a static string), write
 * head (head_len bytes, may be 0) as its first bytes, and start job with
 * its events going to sink. The connection closing cancels the job. On
 * success the job is consumed and sink_ud is the answer's (freed through
 * sink->free) and 0 is returned; on failure resp holds the error (503
 * overloaded with Retry-After, ...), job and sink_ud stay the caller's,
 * and -1 is returned. */
int zt__llm_stream(struct zt_infer_job *job, struct zt_http_req *req, const char *content_type, const void *head,
                   size_t head_len, const struct zt__llm_sink *sink, void *sink_ud, struct zt_http_resp *resp);

#endif
