/* search_api.h: the search and categorisation routes (internal to
 * src/server). What they serve is the node's struct zt_searchfeat
 * (zt_featset.h: assets, categorizer, the search engine over the store the
 * node opened); a missing asset makes the routes answer 503 asset_missing.
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
#include "zentalk/zt_featset.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_search.h"




/* The routes (ud: the node's struct zt_searchfeat, zt_featset.h):
 * index, query and delete share zt__search_h, cx->arg the operation
 * (enum zt_search_op). */
void zt__search_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__categorize_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);


#endif
