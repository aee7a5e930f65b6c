/* cache_api.c: the result cache on the gateway's LLM route. See
 * cache_api.h and docs/internals/rcache.md.
 *
 * Which requests: a remote job (a receipt exists only for those) whose
 * privacy verdict is "allow" with no personal data found, from a caller
 * with an identity (a token's subject, a wallet session, a signed peer;
 * anonymous callers and the tokenless loopback operator have none to
 * scope by and are never cached), while privacy.result_cache is not off and
 * privacy.retention_cache_days is not 0. The scope is the caller (user:
 * its audit pseudonym, which a GDPR erase shreds) or every caller of this
 * gateway (tenant): zt_rcache_scope. The keys, the lookup and the storing
 * of a verified answer, whether the cache applies, a hit's proof and its
 * bill are the cache's (zt_rcache.h, src/jobs/cache_req.c: zt_rcache_hit
 * bills a hit, tells the node's hook, the job.completed webhook, and
 * proves it); this file renders a hit through openai.c. A hit is answered at once, on the HTTP
 * thread: no worker, no pool slot. */
#include "cache_api.h"

#include <string.h>

#include "openai.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_time.h"

/* Answer e in resp (a hit billed and proved: h, rcpt, crb): JSON, or the
 * whole SSE stream at once. */
static void answer_hit(struct zt__req_ctx *cx, bool chat, const char *model, bool stream, bool include_usage,
                       const struct zt_rcache_entry *e, const struct zt_rcache_hit *h,
                       const struct zt_env_receipt *rcpt, const uint8_t *crb, struct zt_http_resp *resp)
{
    char cr_hex[2 * ZT_RCACHE_RECEIPT_LEN + 1], rec_hex[2 * ZT_ENV_RECEIPT_MAX_LEN + 1], orig[2 * 16 + 1];
    zt_hex_encode(cr_hex, crb, ZT_RCACHE_RECEIPT_LEN);
    zt_hex_encode(rec_hex, e->receipt, e->receipt_len);
    zt_hex_encode(orig, rcpt->job_id, 16);
    char id[48];
    struct zt__openai_answer oa;
    zt__openai_answer_init(&oa, chat, model, zt_http_req_id(cx->req), id, sizeof id);
    struct zt__openai_ran ran = {.seq_hash = rcpt->seq_chain,
                                 .engine = rcpt->build_id,
                                 .ran_on = e->worker,
                                 .job_id = h->job_hex,
                                 .receipt_hex = rec_hex,
                                 .verification = "cache",
                                 .cache_orig_job = orig,
                                 .cache_receipt = cr_hex};
    struct zt__openai_usage u = {e->prompt_tokens, e->completion_tokens, 0};
    if (stream) {
        if (zt__openai_stream_whole(&oa, e->text, e->text_len, e->finish_reason, include_usage ? &u : NULL, &ran,
                                    resp) != 0)
            zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return;
    }
    json_t *j = zt__openai_completion(&oa, e->text, e->text_len, e->finish_reason, &u, &ran);
    if (!j) zt_http_resp_error(resp, 503, "overloaded", "out of memory");
    else zt_http_resp_json(resp, 200, j);
}

bool zt__cache_lookup(const struct zt__cache_env *env, struct zt__req_ctx *cx, json_t *body, bool chat,
                      const char *model, uint32_t max_tokens, const struct zt_privacy_verdict *v, bool stream,
                      bool include_usage, struct zt_rcache_req *q, struct zt_http_resp *resp)
{
    memset(q, 0, sizeof *q);
    const struct zt_config *cfg = env->cfg;
    char scope[ZT_AUTH_ID_MAX + 8];
    if (!env->cache || !env->id || !zt_rcache_applies(cfg, v) ||
        !zt_rcache_scope(cfg->privacy.result_cache, env->pv, cx->principal.identity, scope, sizeof scope))
        return false;
    struct zt_rcache_entry e;
    if (zt_rcache_req_begin(env->cache, scope, chat, model, max_tokens, body, q, &e) != 0)
        return false; /* a miss (run it, and store the verified answer), or a hit to re-verify */
    struct zt_rcache_hit h;
    struct zt_env_receipt rcpt;
    uint8_t crb[ZT_RCACHE_RECEIPT_LEN];
    int rc = zt_rcache_hit(env->cache, env->chain, cfg, env->id, cx->principal.identity, model, &e,
                           (uint64_t)(zt_time_real_ms() / 1000), &h, &rcpt, crb);
    if (h.proof_failed) {
        zt_http_resp_error(resp, 500, "internal",
                           rc == ZT_ECRYPTO ? "a cached receipt does not verify" : "the cache receipt cannot be signed");
    } else if (!h.billed) {
        bool pay = rc == ZT_EPERM || rc == ZT_ERANGE;
        zt_http_resp_error(resp, pay ? 402 : 503, pay ? "payment_required" : "unavailable", h.why);
    } else {
        answer_hit(cx, chat, model, stream, include_usage, &e, &h, &rcpt, crb, resp);
        zt__req_note_privacy(cx, 0, "cache");
        zt__req_note_job(cx, h.job_hex);
        zt_log(ZT_LOG_DEBUG, "result_cache_hit", "job_id=%s model=%s request_id=%s", h.job_hex, model,
               zt_http_req_id(cx->req));
    }
    zt_rcache_entry_deinit(&e);
    return true;
}
