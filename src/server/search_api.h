/* search_api.h: the search and categorisation routes (internal to
 * src/server). The server owns one context, created at start-up: it loads
 * the glove and stopwords assets (a missing asset logs one warning and the
 * routes answer 503 asset_missing) and is then handed the encrypted search
 * store (features.search.db_path) the node opened.
 *
 * Who may act on which user (docs/api.md): `user` must equal the caller's
 * authenticated identity (JWT sub, or "wallet:0x..." for wallet sessions)
 * unless the caller is admin (an admin token, or the loopback operator of
 * the embedded default, who has no token). An anonymous caller that is not
 * admin has no identity and gets 403. */
#ifndef ZT_SERVER_SEARCH_API_H
#define ZT_SERVER_SEARCH_API_H

#include "req.h"
#include <jansson.h>
#include <stdbool.h>

#include "zentalk/zt_auth.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_search.h"




struct zt__feat_search;

/* Never fails for a missing asset (warns; routes answer 503). ZT_ENOMEM. */
ZT_NODISCARD int zt__feat_search_new(const struct zt_config *cfg, struct zt__feat_search **out);
/* Whether search can run (its assets loaded) and waits for a store: the
 * node then opens one (features.search.db_path) and calls
 * zt__feat_search_open. */
bool zt__feat_search_wants_store(const struct zt__feat_search *f);
/* Serve search from st (borrowed: the node owns it and closes it after
 * zt__feat_search_free) with keys derived from id's secret. st NULL (the
 * node could not open it) or a search engine that cannot start logs a
 * warning and the routes answer 503; 0 then too. ZT_ENOMEM. */
struct zt_store;
ZT_NODISCARD int zt__feat_search_open(struct zt__feat_search *f, const struct zt_identity *id, struct zt_store *st);
void zt__feat_search_free(struct zt__feat_search *f);

/* The routes (ud: the struct zt__feat_search). */
void zt__search_h_index(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__search_h_query(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__search_h_delete(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__categorize_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

/* The search engine (GDPR export/erase, retention), or NULL when the
 * store is not open (asset missing, store error, no identity yet). */
struct zt_search *zt__feat_search_engine(struct zt__feat_search *f);

#endif
