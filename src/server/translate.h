/* translate.h: the translation routes (internal to src/server).
 *
 *   POST /v1/features/translate            {"text"|"texts", "source"?, "target", "keep_unknown_marks"?}
 *   GET  /v1/features/translate/languages  installed pairs
 *
 * Requests are checked on the HTTP thread, translated on a small pool of
 * their own (the answer is deferred), so a slow pipeline never holds an
 * HTTP thread. The WebSocket annotator "translation" (ws.c) uses the same
 * engine synchronously on the connection's thread. */
#ifndef ZT_SERVER_TRANSLATE_H
#define ZT_SERVER_TRANSLATE_H

#include "req.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "zentalk/zt_annotate.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"

#define ZT__TR_MAX_TEXTS 64

struct zt__tr;

/* A checked request. Strings point into the JSON body. */
struct zt__tr_req {
    const char *source3;         /* NULL: detect */
    const char *target3;
    const char *texts[ZT__TR_MAX_TEXTS];
    size_t lens[ZT__TR_MAX_TEXTS];
    size_t n;
    bool batch;                  /* "texts" rather than "text" */
    bool keep_marks;
};

/* Check body (a JSON object) against the request schema: exactly one of
 * "text" (string) or "texts" (1..64 strings), "target" required and
 * "source" optional (ISO 639-1 or 639-3 codes of known languages), each
 * text non-empty and at most max_bytes, "keep_unknown_marks" boolean, no
 * other field. 0, or the HTTP status with code and msg filled. */
int zt__tr_parse(json_t *body, size_t max_bytes, struct zt__tr_req *out, const char **code, char *msg,
                 size_t msg_len);

ZT_NODISCARD int zt__tr_new(const struct zt_config *cfg, struct zt__tr **out);
/* Finish queued requests (answered, or 503 once shutting down), stop the
 * pipelines. NULL is a no-op. */
void zt__tr_free(struct zt__tr *tr);
struct zt_translate *zt__tr_engine(struct zt__tr *tr);

void zt__tr_h_translate(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__tr_h_languages(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

/* The "translation" annotator (ud: the struct zt__tr): when the message
 * has translate_to, adds annotations.translation = {source, target, text}
 * or {error:{code,message}}. */
int zt__tr_annotate(void *ud, const struct zt_annot_msg *m, void **conv_state, json_t *annotations);

#endif
