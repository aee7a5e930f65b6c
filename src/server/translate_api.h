/* translate_api.h: the translation routes (internal to src/server).
 *
 *   POST /v1/features/translate            {"text"|"texts", "source"?, "target", "keep_unknown_marks"?}
 *   GET  /v1/features/translate/languages  installed pairs
 *
 * Requests are checked on the HTTP thread, translated on a small pool of
 * their own (the answer is deferred), so a slow pipeline never holds an
 * HTTP thread. The WebSocket annotator "translation" (ws.c) uses the same
 * engine synchronously on the connection's thread. */
#ifndef ZT_SERVER_TRANSLATE_API_H
#define ZT_SERVER_TRANSLATE_API_H

#include "req.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "zentalk/zt_annotate.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"


struct zt__tr;
struct zt_translate;


/* The routes over engine (borrowed: the node builds it from
 * features.translate and frees it after zt__tr_free), with a small pool of
 * their own for the deferred answers. ZT_ENOMEM. */
ZT_NODISCARD int zt__tr_new(const struct zt_config *cfg, struct zt_translate *engine, struct zt__tr **out);
/* The inference service that runs features.translate.model (NULL: none;
 * Apertium only). Call before the server starts serving. */
struct zt_infer;
void zt__tr_set_infer(struct zt__tr *tr, struct zt_infer *ms);
/* Finish queued requests (answered, or 503 once shutting down), stop the
 * pipelines. NULL is a no-op. */
void zt__tr_free(struct zt__tr *tr);

void zt__tr_h_translate(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__tr_h_languages(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

/* The "translation" annotator (ud: the struct zt__tr): when the message
 * has translate_to, adds annotations.translation = {source, target, text}
 * or {error:{code,message}}. */
int zt__tr_annotate(void *ud, const struct zt_annot_msg *m, void **conv_state, json_t *annotations);

#endif
