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
 * zt__lexfeat_new() loads what is enabled in features.yaml: the assets
 * vader.zta and moderation.zta (zt_asset_path(); `make data` builds them)
 * and the fingerprints of features.language.languages. A feature whose
 * data is missing answers 503 asset_missing (or feature_unavailable, for a
 * bad language list) with the reason, after one warning at start-up; a
 * disabled one 403 feature_disabled. The loaded objects are read-only
 * (langid serialises itself), so handlers run on any HTTP thread. */
#ifndef ZT_SERVER_LEX_API_H
#define ZT_SERVER_LEX_API_H

#include "req.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_error.h"

struct zt__lexfeat;
struct zt_sentiment;
struct zt_moderation;
struct zt_langid;
struct zt_moderation_policy;

/* Never fails for missing data (the features then answer 503); ZT_ENOMEM. */
ZT_NODISCARD int zt__lexfeat_new(const struct zt_config *cfg, struct zt__lexfeat **out);
void zt__lexfeat_free(struct zt__lexfeat *f);

/* The loaded objects, NULL when disabled or unavailable: for other
 * server code (the WebSocket annotator, smart replies). */
const struct zt_sentiment *zt__lexfeat_sentiment(const struct zt__lexfeat *f);
const struct zt_moderation *zt__lexfeat_moderation(const struct zt__lexfeat *f);
struct zt_langid *zt__lexfeat_langid(const struct zt__lexfeat *f);
/* The moderation policy of features.moderation (lang NULL). */
void zt__lexfeat_policy(const struct zt__lexfeat *f, struct zt_moderation_policy *p);

struct zt_http_req;
struct zt_http_resp;
struct json_t;
void zt__lexfeat_h_sentiment(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__lexfeat_h_moderate(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__lexfeat_h_language(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
