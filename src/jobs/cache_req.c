/* cache_req.c: one request's part in the result cache (zt_rcache.h): the
 * scope and variant keys, the lookup that sets a request up, and the
 * store-or-replace decision for a verified answer. The gateway's route
 * (src/server/cache_api.c) decides whether the cache applies and renders a
 * hit. See docs/internals/rcache.md. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_log.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_pseudoid.h"
#include "zentalk/zt_rcache.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

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
