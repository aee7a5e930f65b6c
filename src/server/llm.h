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

#endif
