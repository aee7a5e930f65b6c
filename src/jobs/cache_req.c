/* cache_req.c: one request's part in the result cache (zt_rcache.h): the
 * scope and variant keys, the lookup that sets a request up, and the
 * store-or-replace decision for a verified answer; whether the cache
 * applies to a request, a hit's proof (the cached receipt verified, the
 * cache receipt signed) and its bill, and a hit as one call (bill, hook,
 * proof: zt_rcache_hit). The gateway's route (src/server/cache_api.c)
 * renders a hit. See docs/internals/rcache.md. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_config.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_pseudoid.h"
#include "zentalk/zt_rcache.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#include "cache_int.h"

bool zt_rcache_scope(const char *mode, struct zt_privacy_layer *pv, const char *identity, char *out, size_t n)
{
    if (!identity || !identity[0]) return false; /* no identity to scope by */
    if (zt_str_eq(mode, "tenant")) {
        zt_strlcpy(out, "tenant", n);
        return true;
    }
    char p[ZT_PSEUDOID_STR];
    int rc = pv ? zt_privacy_layer_pseudonym(pv, identity, true, p) : ZT_ENOTFOUND;
    if (rc == 0) snprintf(out, n, "user:%s", p);
    else if (rc == ZT_ENOTFOUND) snprintf(out, n, "user-id:%s", identity);
    return rc == 0 || rc == ZT_ENOTFOUND;
}

bool zt_rcache_variant(const char *model, json_t *body, char *out, size_t n)
{
    const char *p = json_string_value(json_object_get(body, "precision"));
    const char *kv = json_string_value(json_object_get(body, "kv_cache"));
    int w = snprintf(out, n, "%s%s%s%s%s", model, p ? " precision=" : "", p ? p : "", kv ? " kv_cache=" : "",
                     kv ? kv : "");
    return w > 0 && (size_t)w < n;
}

bool zt_rcache_applies(const struct zt_config *cfg, const struct zt_privacy_verdict *v)
{
    return !zt_str_eq(cfg->privacy.result_cache, "off") && cfg->privacy.retention_cache_days > 0 &&
           v->kind == ZT_PRIVACY_VERDICT_ALLOW && v->types == 0;
}

int zt_rcache_hit_receipt(const struct zt_rcache_entry *e, const char *job_hex, const uint8_t gateway_pk[static 32],
                          const uint8_t gateway_sk[static 64], uint64_t now_s, struct zt_env_receipt *rcpt,
                          uint8_t out[static ZT_RCACHE_RECEIPT_LEN])
{
    struct zt_checkpoint ck;
    if (zt_env_receipt_verify(e->receipt, e->receipt_len, NULL, rcpt) != 0 ||
        zt_checkpoint_verify(e->checkpoint, e->checkpoint_len, rcpt->worker_pk, &ck) != 0)
        return ZT_ECRYPTO;
    /* the cache receipt: this node binds the original receipt to the new job */
    struct zt_rcache_receipt cr = {.issued = now_s};
    zt_ignore(zt_hex_decode_str(cr.job_id, sizeof cr.job_id, job_hex, ZT_HEX_LOWER));
    memcpy(cr.orig_job_id, rcpt->job_id, sizeof cr.orig_job_id);
    zt_sha256(cr.orig_receipt_sha256, e->receipt, e->receipt_len);
    memcpy(cr.gateway_pk, gateway_pk, sizeof cr.gateway_pk);
    return zt_rcache_receipt_sign(&cr, gateway_sk, out);
}

void zt_rcache_hit_job_id(char job_hex[static 2 * ZT_RCACHE_JOB_ID_LEN + 1])
{
    uint8_t jid[ZT_RCACHE_JOB_ID_LEN];
    randombytes_buf(jid, sizeof jid);
    zt_hex_encode(job_hex, jid, sizeof jid);
}

int zt_rcache_hit_bill(struct zt_chain *chain, const struct zt_config *cfg, const char *identity, const char *provider,
                       const char *job_hex, char *why, size_t n)
{
    if (!chain) return 0;
    zt_u128 price = 0;
    const char *ps = cfg->chain.price_cache_hit;
    if (ps && zt_u128_parse_tokens(ps, strlen(ps), &price) != 0) price = 0;
    zt_strlcpy(why, "the ledger could not charge the cached answer", n);
    return zt_chain_cache_hit(chain, identity, job_hex, provider, price, why, n);
}

int zt_rcache_hit(struct zt_rcache *c, struct zt_chain *chain, const struct zt_config *cfg, const struct zt_identity *gw,
                  const char *identity, const char *model, const struct zt_rcache_entry *e, uint64_t now_s,
                  struct zt_rcache_hit *h, struct zt_env_receipt *rcpt, uint8_t out[static ZT_RCACHE_RECEIPT_LEN])
{
    memset(h, 0, sizeof *h);
    zt_rcache_hit_job_id(h->job_hex);
    /* proved first: an entry whose receipt does not verify is answered
     * with an error and charges nobody */
    int rc = zt_rcache_hit_receipt(e, h->job_hex, zt_identity_sign_pk(gw), zt_identity_sign_sk(gw), now_s, rcpt, out);
    if (rc) {
        h->proof_failed = true;
        return rc;
    }
    rc = zt_rcache_hit_bill(chain, cfg, identity, zt_identity_id(gw), h->job_hex, h->why, sizeof h->why);
    if (rc) return rc;
    h->billed = true;
    const struct zt_rcache_hit_end end = {.job_id = h->job_hex, .user = identity, .model = model, .worker = e->worker,
                                          .prompt_tokens = e->prompt_tokens, .completion_tokens = e->completion_tokens};
    zt__rcache_note_hit(c, &end);
    return 0;
}

int zt_rcache_req_begin(struct zt_rcache *c, const char *scope, bool chat, const char *model, uint32_t max_tokens,
                        json_t *body, struct zt_rcache_req *q, struct zt_rcache_entry *hit)
{
    memset(q, 0, sizeof *q);
    if (!zt_rcache_variant(model, body, q->model, sizeof q->model) ||
        zt_rcache_key(c, scope, chat ? "chat" : "completion", model, max_tokens, body, q->job) != 0)
        return ZT_ENOTFOUND;
    zt_buf_init(&q->text, ZT_RCACHE_TEXT_MAX);
    q->on = true;
    /* the entry's name binds the model file and build the name runs as,
     * known from the last verified answer for it; none yet: a miss */
    struct zt_rcache_model mi;
    if (!zt_rcache_model_current(c, q->model, &mi)) {
        zt_rcache_note_miss(c);
        return ZT_ENOTFOUND;
    }
    if (zt_rcache_name(c, q->job, &mi, q->key) != 0) return ZT_ENOTFOUND;
    struct zt_rcache_entry e;
    if (zt_rcache_get(c, q->key, &e) != 0) return ZT_ENOTFOUND; /* a miss: run it, and store the verified answer */
    if (zt_rcache_sample_verify(c)) { /* a worker runs it again; the answer is compared */
        q->verify = true;
        q->ent = e;
        return ZT_ENOTFOUND;
    }
    zt_rcache_req_deinit(q);
    *hit = e;
    return 0;
}

void zt_rcache_req_text(struct zt_rcache_req *q, const char *text, size_t len)
{
    if (q->on && zt_buf_append(&q->text, text, len) != 0) q->on = false; /* too large to keep */
}

void zt_rcache_req_restart(struct zt_rcache_req *q)
{
    if (q->text.data) sodium_memzero(q->text.data, q->text.cap);
    q->text.len = 0;
}

void zt_rcache_req_done(struct zt_rcache *c, struct zt_rcache_req *q, const struct zt_sealed_result *res,
                        const char *worker)
{
    if (!q->on || !c || !res->checkpoint_len) return;
    /* what this answer ran as: from now on the name's entries are those of
     * this file and build (another one behind the name: the old entries
     * are no longer named) */
    struct zt_rcache_model mi;
    memcpy(mi.sha256, res->ckpt.model_sha256, sizeof mi.sha256);
    zt_strlcpy(mi.build_id, res->receipt.build_id, sizeof mi.build_id);
    uint8_t name[ZT_RCACHE_KEY_LEN];
    if (zt_rcache_name(c, q->job, &mi, name) != 0) return;
    zt_rcache_model_seen(c, q->model, &mi);
    if (q->verify) {
        bool same = zt_rcache_same_chain(&q->ent, res->checkpoint, res->checkpoint_len);
        zt_rcache_note_verify(c, same);
        if (!same) {
            zt_rcache_del(c, q->key); /* the fresh, verified answer replaces it below */
            zt_log(ZT_LOG_WARN, "result_cache_mismatch", "worker=%s cached_worker=%s action=replaced", worker,
                   q->ent.worker);
        }
    }
    struct zt_rcache_entry e = {
        .text = q->text.data ? q->text.data : (char *)"",
        .text_len = q->text.len,
        .prompt_tokens = res->final.prompt_tokens,
        .completion_tokens = res->final.completion_tokens,
        .receipt_len = res->receipt_len,
        .checkpoint_len = res->checkpoint_len,
        .created = zt_time_real_ms() / 1000,
    };
    zt_strlcpy(e.finish_reason, res->final.finish_reason, sizeof e.finish_reason);
    zt_strlcpy(e.worker, worker, sizeof e.worker);
    memcpy(e.receipt, res->receipt_bytes, res->receipt_len);
    memcpy(e.checkpoint, res->checkpoint, res->checkpoint_len);
    int rc = zt_rcache_put(c, name, &e);
    if (rc && rc != ZT_ETOOBIG)
        zt_log(ZT_LOG_WARN, "result_cache_store_failed", "backend=%s error=%s", zt_rcache_backend(c),
               zt_strerror(rc));
}

void zt_rcache_req_deinit(struct zt_rcache_req *q)
{
    if (!q) return;
    zt_rcache_entry_deinit(&q->ent);
    if (q->text.data) sodium_memzero(q->text.data, q->text.cap);
    zt_buf_deinit(&q->text);
    q->on = q->verify = false;
}
