/* cache_api.h: the result cache on the gateway's LLM route (internal to
 * src/server; route_api.c calls it). The cache is src/jobs's (zt_rcache.h):
 * it says whether it applies (zt_rcache_applies: privacy.result_cache,
 * retention_cache_days, the privacy verdict; zt_rcache_scope: who asks),
 * keys, looks up and stores (zt_rcache_req_*), proves a hit (the worker's
 * original receipt checked, a cache receipt signed by this node), bills it
 * (chain.price_cache_hit) and tells the node's hook (the job.completed
 * webhook): zt_rcache_hit. This file answers a hit in the OpenAI shapes
 * (openai.c). See docs/internals/rcache.md. */
#ifndef ZT_SERVER_CACHE_API_H
#define ZT_SERVER_CACHE_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "req.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_rcache.h"
#include "zentalk/zt_sealed.h"

struct zt_chain;

struct zt__cache_env {
    struct zt_rcache *cache;         /* NULL: no cache */
    const struct zt_config *cfg;
    const struct zt_identity *id;    /* signs cache receipts */
    struct zt_chain *chain;          /* bills hits (NULL: free) */
    struct zt_privacy_layer *pv;     /* callers' pseudonyms: the user scope (GDPR erase shreds it) */
};

/* Before a remote job starts (after the privacy verdict v): true when the
 * request was answered here (a hit, or 402 when the hit cannot be paid);
 * false to go on, with q set up (store the answer, or re-verify an entry).
 * stream / include_usage: the answer's shape. q: the request's part in the
 * cache (zt_rcache.h: zt_rcache_req_text, _restart, _done, _deinit as the
 * job runs). */
bool zt__cache_lookup(const struct zt__cache_env *env, struct zt__req_ctx *cx, json_t *body, bool chat,
                      const char *model, uint32_t max_tokens, const struct zt_privacy_verdict *v, bool stream,
                      bool include_usage, struct zt_rcache_req *q, struct zt_http_resp *resp);

#endif
