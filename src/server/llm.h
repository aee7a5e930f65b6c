/* llm.h: the OpenAI-compatible routes (internal to src/server):
 *   GET /v1/models, POST /v1/completions, POST /v1/chat/completions,
 *   POST /v1/embeddings. */
#ifndef ZT_SERVER_LLM_H
#define ZT_SERVER_LLM_H

#include <jansson.h>
#include <stdbool.h>

#include "models.h"
#include "zentalk/zt_http.h"

void zt__llm_models(struct zt__models *ms, struct zt_http_req *req, struct zt_http_resp *resp);
void zt__llm_generate(struct zt__models *ms, struct zt_http_req *req, json_t *body, bool chat,
                      struct zt_http_resp *resp);
void zt__llm_embeddings(struct zt__models *ms, struct zt_http_req *req, json_t *body, struct zt_http_resp *resp);

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
