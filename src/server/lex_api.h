/* lex_api.h: the lexicon-based messaging features of the API (internal to
 * src/server): sentiment (VADER), moderation (word lists) and language
 * identification (libexttextcat).
 *
 *   POST /v1/features/sentiment  {"text": "..."} | {"texts": [...]}
 *   POST /v1/features/moderate   the same, plus "language": "en" (optional)
 *   POST /v1/features/language   {"text": "..."} | {"texts": [...]}
 * answer {"result": {...}} or {"results": [{...}, ...]} (docs/api.md,
 * "Messaging features"). Texts: non-empty, at most 64 KiB, at most 256 per
 * batch; otherwise 400.
 *
 * The features are loaded by the node (zt_lexfeat_new, zt_featset.h). A
 * feature whose data is missing answers 503 asset_missing (or
 * feature_unavailable, for a bad language list) with the reason; a
 * disabled one 403 feature_disabled. The loaded objects are read-only
 * (langid serialises itself), so handlers run on any HTTP thread. */
#ifndef ZT_SERVER_LEX_API_H
#define ZT_SERVER_LEX_API_H

#include "req.h"
#include "zentalk/zt_featset.h"

/* The routes (ud: the node's struct zt_lexfeat, zt_featset.h; cx->arg:
 * which feature, enum zt_lexfeat_kind). */
struct zt_http_req;
struct zt_http_resp;
struct json_t;
void zt__lexfeat_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
