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
 * of a verified answer are the cache's (zt_rcache.h, src/jobs/cache_req.c);
 * this file renders a hit and bills it. A hit is answered at once, on the
 * HTTP thread: no worker, no pool slot. */
#include "cache_api.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "openai.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_bridge.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_json_num.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define SSE_MAX ((size_t)16 << 20)

/* One "data: <json>\n\n" event appended to b (j taken). */
static int sse_event(struct zt_buf *b, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return ZT_ENOMEM;
    int rc = zt_buf_append_str(b, "data: ");
    if (!rc) rc = zt_json_shorten_reals(s, strlen(s), b);
    if (!rc) rc = zt_buf_append_str(b, "\n\n");
    sodium_memzero(s, strlen(s));
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(s);
    return rc;
}

/* The "zentalk" object of a hit: the original worker's proof, and the
 * cache's (added under "cache"). */
static int add_cache_object(json_t *answer, const char *orig_job, const char *cache_rec)
{
    json_t *z = json_object_get(answer, "zentalk");
    json_t *c = json_pack("{s:b,s:s,s:s}", "hit", 1, "original_job_id", orig_job, "receipt", cache_rec);
    if (!z || !c || json_object_set_new(z, "cache", c) != 0) return ZT_ENOMEM;
    return 0;
}

/* Answer e in resp: JSON, or the whole SSE stream at once. */
static void answer_hit(const struct zt__cache_env *env, struct zt__req_ctx *cx, bool chat, const char *model,
                       bool stream, bool include_usage, const struct zt_rcache_entry *e, const char *job_hex,
                       struct zt_http_resp *resp)
{
    struct zt_env_receipt rcpt;
    struct zt_checkpoint ck;
    if (zt_env_receipt_verify(e->receipt, e->receipt_len, NULL, &rcpt) != 0 ||
        zt_checkpoint_verify(e->checkpoint, e->checkpoint_len, rcpt.worker_pk, &ck) != 0) {
        zt_http_resp_error(resp, 500, "internal", "a cached receipt does not verify");
        return;
    }
    /* the cache receipt: this node binds the original receipt to the new job */
    struct zt_rcache_receipt cr = {.issued = (uint64_t)(zt_time_real_ms() / 1000)};
    zt_ignore(zt_hex_decode_str(cr.job_id, sizeof cr.job_id, job_hex, ZT_HEX_LOWER));
    memcpy(cr.orig_job_id, rcpt.job_id, sizeof cr.orig_job_id);
    zt_sha256(cr.orig_receipt_sha256, e->receipt, e->receipt_len);
    memcpy(cr.gateway_pk, zt_identity_sign_pk(env->id), sizeof cr.gateway_pk);
    uint8_t crb[ZT_RCACHE_RECEIPT_LEN];
    char cr_hex[2 * ZT_RCACHE_RECEIPT_LEN + 1], rec_hex[2 * ZT_ENV_RECEIPT_MAX_LEN + 1], orig[2 * 16 + 1];
    if (zt_rcache_receipt_sign(&cr, zt_identity_sign_sk(env->id), crb) != 0) {
        zt_http_resp_error(resp, 500, "internal", "the cache receipt cannot be signed");
        return;
    }
    zt_hex_encode(cr_hex, crb, sizeof crb);
    zt_hex_encode(rec_hex, e->receipt, e->receipt_len);
    zt_hex_encode(orig, rcpt.job_id, 16);
    char id[48];
    struct zt__openai_answer oa;
    zt__openai_answer_init(&oa, chat, model, zt_http_req_id(cx->req), id, sizeof id);
    struct zt__openai_ran ran = {.seq_hash = rcpt.seq_chain,
                                 .engine = rcpt.build_id,
                                 .ran_on = e->worker,
                                 .job_id = job_hex,
                                 .receipt_hex = rec_hex,
                                 .verification = "cache"};
    struct zt__openai_usage u = {e->prompt_tokens, e->completion_tokens, 0};
    if (!stream) {
        json_t *j = zt__openai_completion(&oa, e->text, e->text_len, e->finish_reason, &u, &ran);
        if (!j || add_cache_object(j, orig, cr_hex) != 0) {
            json_decref(j);
            zt_http_resp_error(resp, 503, "overloaded", "out of memory");
            return;
        }
        zt_http_resp_json(resp, 200, j);
        return;
    }
    struct zt_buf b;
    zt_buf_init(&b, SSE_MAX);
    json_t *last = zt__openai_final_chunk(&oa, e->finish_reason, &ran);
    int rc = e->text_len ? sse_event(&b, zt__openai_chunk(&oa, e->text, e->text_len, NULL)) : 0;
    if (!rc) rc = last ? add_cache_object(last, orig, cr_hex) : ZT_ENOMEM;
    if (!rc) rc = sse_event(&b, last);
    else json_decref(last);
    if (!rc && include_usage) rc = sse_event(&b, zt__openai_usage_chunk(&oa, &u));
    if (!rc) rc = zt_buf_append_str(&b, "data: [DONE]\n\n");
    if (rc) {
        if (b.data) sodium_memzero(b.data, b.cap);
        zt_buf_deinit(&b);
        zt_http_resp_error(resp, 503, "overloaded", "out of memory");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/event-stream";
    zt_buf_deinit(&resp->body);
    resp->body = b; /* taken */
}

bool zt__cache_lookup(const struct zt__cache_env *env, struct zt__req_ctx *cx, json_t *body, bool chat,
                      const char *model, uint32_t max_tokens, const struct zt_privacy_verdict *v, bool stream,
                      bool include_usage, struct zt_rcache_req *q, struct zt_http_resp *resp)
{
    memset(q, 0, sizeof *q);
    const struct zt_config *cfg = env->cfg;
    char scope[ZT_AUTH_ID_MAX + 8];
    if (!env->cache || !env->id || zt_str_eq(cfg->privacy.result_cache, "off") ||
        cfg->privacy.retention_cache_days <= 0 || v->kind != ZT_PRIVACY_VERDICT_ALLOW || v->types != 0 ||
        !zt_rcache_scope(cfg->privacy.result_cache, env->pv, cx->principal.identity, scope, sizeof scope))
        return false;
    struct zt_rcache_entry e;
    if (zt_rcache_req_begin(env->cache, scope, chat, model, max_tokens, body, q, &e) != 0)
        return false; /* a miss (run it, and store the verified answer), or a hit to re-verify */
    uint8_t jid[ZT_RCACHE_JOB_ID_LEN];
    char job_hex[2 * ZT_RCACHE_JOB_ID_LEN + 1];
    randombytes_buf(jid, sizeof jid);
    zt_hex_encode(job_hex, jid, sizeof jid);
    zt_u128 price = 0;
    const char *ps = cfg->chain.price_cache_hit;
    if (env->chain && ps && zt_u128_parse_tokens(ps, strlen(ps), &price) != 0) price = 0;
    char why[200] = "the ledger could not charge the cached answer";
    int rc = env->chain ? zt_chain_cache_hit(env->chain, cx->principal.identity, job_hex, zt_identity_id(env->id),
                                             price, why, sizeof why)
                        : 0;
    if (rc) {
        bool pay = rc == ZT_EPERM || rc == ZT_ERANGE;
        zt_http_resp_error(resp, pay ? 402 : 503, pay ? "payment_required" : "unavailable", why);
    } else {
        answer_hit(env, cx, chat, model, stream, include_usage, &e, job_hex, resp);
        zt__req_note_privacy(cx, 0, "cache");
        zt__req_note_job(cx, job_hex);
        zt_log(ZT_LOG_DEBUG, "result_cache_hit", "job_id=%s model=%s request_id=%s", job_hex, model,
               zt_http_req_id(cx->req));
        zt_bridge_job_completed(env->bridge, job_hex, cx->principal.identity, model, e.worker, "cache",
                                e.prompt_tokens, e.completion_tokens, 0);
    }
    zt_rcache_entry_deinit(&e);
    return true;
}
