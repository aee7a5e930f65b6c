/* cache_api.h: the result cache on the gateway's LLM route (internal to
 * src/server; route_api.c calls it). The cache is src/jobs's (zt_rcache.h);
 * this file decides per request whether it applies (privacy.result_cache,
 * retention_cache_days, the privacy verdict, who asks), answers a hit in
 * the OpenAI shapes with the worker's original receipt and a cache receipt
 * signed by this node, bills it (chain.price_cache_hit), and stores a
 * verified remote answer. See docs/internals/rcache.md. */
#ifndef ZT_SERVER_CACHE_API_H
#define ZT_SERVER_CACHE_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "req.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_rcache.h"
#include "zentalk/zt_sealed.h"

struct zt_chain;

/* What one request needs from the cache, kept with the job (embedded;
 * zero-initialised = off). */
struct zt__cache_req {
    bool on;                         /* a verified answer is stored under key */
    bool verify;                     /* a sampled hit re-run: compare with ent */
    uint8_t job[ZT_RCACHE_KEY_LEN];  /* the job's digest (zt_rcache_key) */
    uint8_t key[ZT_RCACHE_KEY_LEN];  /* verify: the entry's name */
    char model[ZT_RCACHE_MODEL_NAME_MAX + 1]; /* the model and modes asked (zt_rcache_model_seen's name) */
    struct zt_rcache_entry ent;      /* verify: the cached entry */
    struct zt_buf text;              /* the answer as it streams (wiped) */
};

struct zt__cache_env {
    struct zt_rcache *cache;         /* NULL: no cache */
    const struct zt_config *cfg;
    const struct zt_identity *id;    /* signs cache receipts */
    struct zt_chain *chain;          /* bills hits (NULL: free) */
    struct zt_bridge *bridge;        /* job.completed webhooks (NULL: none) */
    struct zt_privacy_layer *pv;     /* callers' pseudonyms: the user scope (GDPR erase shreds it) */
};

/* Before a remote job starts (after the privacy verdict v): true when the
 * request was answered here (a hit, or 402 when the hit cannot be paid);
 * false to go on, with q set up (store the answer, or re-verify an entry).
 * stream / include_usage: the answer's shape. */
bool zt__cache_lookup(const struct zt__cache_env *env, struct zt__req_ctx *cx, json_t *body, bool chat,
                      const char *model, uint32_t max_tokens, const struct zt_privacy_verdict *v, bool stream,
                      bool include_usage, struct zt__cache_req *q, struct zt_http_resp *resp);
/* The answer's text as it streams (no-op when off). */
void zt__cache_text(struct zt__cache_req *q, const char *text, size_t len);
/* A verified remote result: store it (or compare it with the entry being
 * re-verified). worker: its node id. */
void zt__cache_done(const struct zt__cache_env *env, struct zt__cache_req *q, const struct zt_sealed_result *res,
                    const char *worker);
/* The job starts again on another worker: forget the text so far. */
void zt__cache_restart(struct zt__cache_req *q);
void zt__cache_req_deinit(struct zt__cache_req *q);

/* The webhooks of the gateway's job path (zt_bridge.h; b NULL: no-op):
 * job.completed (key "job.completed:<job id>": no text, the counts and
 * where it ran; outcome "ok", "cache", or why it failed) and
 * payout.settled (key "payout.settled:<job id>": what the worker earned at
 * prices p, in base units). */
struct zt_bridge;
struct zt_ledger_prices;
void zt__cache_job_webhook(struct zt_bridge *b, const char *job_id, const char *user, const char *model,
                           const char *worker, const char *outcome, uint32_t prompt_tokens,
                           uint32_t completion_tokens, uint64_t duration_ms);
void zt__cache_payout_webhook(struct zt_bridge *b, const struct zt_ledger_prices *p, const char *job_id,
                              const char *user, const char *worker, uint32_t prompt_tokens,
                              uint32_t completion_tokens);

#endif
