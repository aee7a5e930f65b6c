/* conv_api.h: the conversation features of the node (internal to
 * src/server): POST /v1/features/intents, /v1/features/smart-replies and
 * /v1/features/summarize (docs/features/{intents,smart-replies,summarize}.md).
 *
 * A context loaded once at start-up owns the cue file, the response bank
 * (config dir copies, else the compiled-in ones), the stopwords asset (may
 * be missing: summarize then answers 503 asset_missing) and the hooks that
 * other features provide (sentiment, moderation). */
#ifndef ZT_SERVER_CONV_API_H
#define ZT_SERVER_CONV_API_H

#include "req.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "zentalk/zt_infer.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_conv.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_replies.h"


/* The routes' state: the loaded data, the chat model of the generative
 * paths and the intents' batch pool (zt_intent.h) (all borrowed; the node
 * builds and frees them). ZT_ENOMEM. */
struct zt__feat_conv;
struct zt_intent_pool;
ZT_NODISCARD int zt__feat_conv_new(const struct zt_config *cfg, struct zt_convfeat *f, struct zt_infer *ms,
                                   struct zt_intent_pool *intents, struct zt__feat_conv **out);
void zt__feat_conv_free(struct zt__feat_conv *fc);

/* The routes (ud: the struct zt__feat_conv). */
void zt__feat_h_intents(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__feat_h_replies(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__feat_h_summarize(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
