/* translate_api.h: the translation routes (internal to src/server).
 *
 *   POST /v1/features/translate            {"text"|"texts", "source"?, "target", "keep_unknown_marks"?}
 *   GET  /v1/features/translate/languages  installed pairs
 *
 * Requests are checked on the HTTP thread and handed to the translation
 * service (zt_translate.h, src/features/translate_svc.c), which works them
 * on a pool of its own; the answer is deferred, so a slow pipeline never
 * holds an HTTP thread. The WebSocket annotator "translation" is the
 * service's (zt_translate_annotate). */
#ifndef ZT_SERVER_TRANSLATE_API_H
#define ZT_SERVER_TRANSLATE_API_H

#include <jansson.h>

#include "req.h"
#include "zentalk/zt_http.h"

/* ud: the struct zt_translate_svc (built and freed by the node). */
void zt__tr_h_translate(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__tr_h_languages(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
