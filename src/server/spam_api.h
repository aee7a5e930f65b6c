/* spam_api.h: the routes of spam detection, entity extraction and text
 * preprocessing (internal to src/server):
 *   POST /v1/features/spam, /v1/features/entities, /v1/features/preprocess
 * See docs/api.md ("Messaging features"). */
#ifndef ZT_SERVER_SPAM_API_H
#define ZT_SERVER_SPAM_API_H

#include "req.h"
#include <jansson.h>

#include "zentalk/zt_featset.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_spam.h"

#define ZT__FEAT_ENTITIES_MAX 256u /* entities reported per text */

/* The routes (ud: the node's struct zt_spamfeat, zt_featset.h). */

void zt__feat_spam_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__feat_entities_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__feat_preprocess_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
