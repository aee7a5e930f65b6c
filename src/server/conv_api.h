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
#include "zentalk/zt_conv.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_replies.h"


struct zt__feat_conv;

/* Load the data of the conversation features. A missing stopwords asset is
 * one warning; a malformed intents.txt / replies.txt in the config
 * directory is ZT_ECONFIG (logged with file:line). ms: the model registry
 * (borrowed) for the generative paths. */
ZT_NODISCARD int zt__feat_conv_new(const struct zt_config *cfg, struct zt_infer *ms, struct zt__feat_conv **out);
void zt__feat_conv_free(struct zt__feat_conv *fc);
/* Set the hooks (sentiment, moderation) other features provide; NULL
 * members unset them. Call before the server starts serving. */
void zt__feat_conv_set_hooks(struct zt__feat_conv *fc, const struct zt_reply_hooks *hooks);
/* The loaded response bank, cue model and hooks, for the live annotator
 * (wiring.c); borrowed, valid while fc lives. */
const struct zt_reply_bank *zt__feat_conv_bank(const struct zt__feat_conv *fc);
const struct zt_intent_model *zt__feat_conv_intents(const struct zt__feat_conv *fc);
const struct zt_reply_hooks *zt__feat_conv_hooks(const struct zt__feat_conv *fc);


void zt__feat_h_intents(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__feat_h_replies(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__feat_h_summarize(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
