/* cache.c: the result cache (zt_rcache.h): entry names (keyed hashes),
 * sealed values, the cache receipt, counters. Storage is a backend's
 * (cache_mem.c, cache_redis.c); see docs/internals/rcache.md. */
#include "cache_int.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define ZT_RCACHE_MODELS_MAX 64

enum { C_HIT, C_MISS, C_STORE, C_EVICT, C_VERIFIED, C_MISMATCH, C_ERROR, C_N };
static const char *const counter_names[C_N] = {"hit", "miss", "store", "evict", "verified", "mismatch", "error"};

struct zt_rcache {
    const struct zt__rcache_store *ops;
    void *b;
    bool redis;
    int64_t ttl_s;
    uint32_t verify_permille;
    uint8_t *secret; /* sodium_malloc'd, ZT_RCACHE_SECRET_LEN */
    atomic_uint_fast64_t n[C_N];
    /* model name -> the file and build its last verified answer ran as */
    pthread_mutex_t mu;
    struct seen {
        char model[ZT_RCACHE_MODEL_NAME_MAX + 1];
        struct zt_rcache_model m;
        uint64_t used;
    } seen[ZT_RCACHE_MODELS_MAX];
    uint64_t clock;
    /* billed hits (zt_rcache_set_on_hit) */
    void (*on_hit)(void *ud, const struct zt_rcache_hit_end *e);
    void *on_hit_ud;
};

_Static_assert(ZT_RCACHE_RECEIPT_LEN == 4 + 16 + 16 + 32 + 8 + 32 + 64, "cache receipt layout");
#define RECEIPT_SIGNED_LEN (ZT_RCACHE_RECEIPT_LEN - 64)
static const char receipt_ctx[] = "zentalk-cache-receipt-v1";

/* ---- the cache receipt ------------------------------------------------------ */

static void receipt_msg(const uint8_t *signed_part, uint8_t msg[static sizeof receipt_ctx - 1 + RECEIPT_SIGNED_LEN])
{
    memcpy(msg, receipt_ctx, sizeof receipt_ctx - 1);
    memcpy(msg + sizeof receipt_ctx - 1, signed_part, RECEIPT_SIGNED_LEN);
}

int zt_rcache_receipt_sign(const struct zt_rcache_receipt *r, const uint8_t sk[static 64],
                           uint8_t out[static ZT_RCACHE_RECEIPT_LEN])
{
    if (!r || memcmp(sk + 32, r->gateway_pk, 32) != 0) return ZT_EINVAL;
    uint8_t b[ZT_RCACHE_RECEIPT_LEN];
    memcpy(b, "ZTC1", 4);
    memcpy(b + 4, r->job_id, 16);
    memcpy(b + 20, r->orig_job_id, 16);
    memcpy(b + 36, r->orig_receipt_sha256, 32);
    zt_put_le64(b + 68, r->issued);
    memcpy(b + 76, r->gateway_pk, 32);
    uint8_t msg[sizeof receipt_ctx - 1 + RECEIPT_SIGNED_LEN];
    receipt_msg(b, msg);
    if (crypto_sign_detached(b + RECEIPT_SIGNED_LEN, NULL, msg, sizeof msg, sk) != 0) return ZT_EINVAL;
    memcpy(out, b, sizeof b);
    return 0;
}

int zt_rcache_receipt_verify(const uint8_t *rec, size_t len, const uint8_t *orig_receipt, size_t orig_len,
                             struct zt_rcache_receipt *out)
{
    if (!rec || len != ZT_RCACHE_RECEIPT_LEN || memcmp(rec, "ZTC1", 4) != 0) return ZT_EPARSE;
    uint8_t msg[sizeof receipt_ctx - 1 + RECEIPT_SIGNED_LEN];
    receipt_msg(rec, msg);
    if (crypto_sign_verify_detached(rec + RECEIPT_SIGNED_LEN, msg, sizeof msg, rec + 76) != 0) return ZT_ECRYPTO;
    if (orig_receipt) {
        uint8_t h[32];
        zt_sha256(h, orig_receipt, orig_len);
        if (sodium_memcmp(h, rec + 36, 32) != 0) return ZT_ECRYPTO;
    }
    if (out) {
        memcpy(out->job_id, rec + 4, 16);
        memcpy(out->orig_job_id, rec + 20, 16);
        memcpy(out->orig_receipt_sha256, rec + 36, 32);
        out->issued = zt_get_le64(rec + 68);
        memcpy(out->gateway_pk, rec + 76, 32);
    }
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------------- */

int zt_rcache_new(const struct zt_rcache_opts *o, struct zt_rcache **out)
{
    if (!o || !o->secret || o->ttl_s <= 0 || !out) return ZT_EINVAL;
    bool redis = o->backend && zt_str_eq(o->backend, "redis");
    if (!redis && o->backend && !zt_str_eq(o->backend, "memory")) return ZT_EINVAL;
    struct zt_rcache *c = zt_calloc(1, sizeof *c);
    if (!c) return ZT_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    int rc = ZT_ENOMEM;
    c->secret = sodium_malloc(ZT_RCACHE_SECRET_LEN);
    if (!c->secret) goto out;
    memcpy(c->secret, o->secret, ZT_RCACHE_SECRET_LEN);
    c->redis = redis;
    c->ttl_s = o->ttl_s;
    c->verify_permille = o->verify_permille > 1000 ? 1000 : o->verify_permille;
    for (int i = 0; i < C_N; i++) atomic_init(&c->n[i], 0);
    rc = redis ? zt__rcache_redis_new(o->redis_url, o->timeout_ms > 0 ? o->timeout_ms : 2000, o->ttl_s, &c->ops, &c->b)
               : zt__rcache_mem_new(o->max_bytes, &c->ops, &c->b);
out:
    return ZT_HAND_OUT(rc, c, zt_rcache_free, out);
}

void zt_rcache_free(struct zt_rcache *c)
{
    if (!c) return;
    if (c->ops) c->ops->free(c->b);
    sodium_free(c->secret);
    pthread_mutex_destroy(&c->mu);
    zt_free(c);
}

void zt_rcache_set_on_hit(struct zt_rcache *c, void (*fn)(void *ud, const struct zt_rcache_hit_end *e), void *ud)
{
    if (!c) return;
    c->on_hit = fn;
    c->on_hit_ud = ud;
}

void zt__rcache_note_hit(struct zt_rcache *c, const struct zt_rcache_hit_end *e)
{
    if (c && c->on_hit) c->on_hit(c->on_hit_ud, e);
}

const char *zt_rcache_backend(const struct zt_rcache *c)
{
    return c && c->redis ? "redis" : "memory";
}

/* ---- names ---------------------------------------------------------------------- */

int zt_rcache_key(const struct zt_rcache *c, const char *scope, const char *kind, const char *model,
                  uint32_t max_tokens, json_t *body, uint8_t key[static ZT_RCACHE_KEY_LEN])
{
    if (!c || !scope || !scope[0] || !kind || !model || !model[0] || !json_is_object(body)) return ZT_EINVAL;
    /* what reaches the worker (zt_job_build's fields), nothing else: the
     * answer's shape (stream, stream_options, user) is not the job */
    static const char *const fields[] = {"messages", "prompt", "temperature", "top_p", "top_k", "min_p", "seed",
                                         "frequency_penalty", "presence_penalty", "repeat_penalty", "stop",
                                         "logit_bias", "precision", "kv_cache"};
    json_t *j = json_pack("{s:s,s:s,s:I}", "kind", kind, "model", model, "max_tokens", (json_int_t)max_tokens);
    if (!j) return ZT_ENOMEM;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(body, fields[i]);
        if (v && !json_is_null(v) && json_object_set(j, fields[i], v) != 0) {
            json_decref(j);
            return ZT_ENOMEM;
        }
    }
    char *canon = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(j);
    if (!canon) return ZT_ENOMEM;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, c->secret, ZT_RCACHE_SECRET_LEN);
    static const char ctx[] = "zentalk-rcache-key-v1";
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)ctx, sizeof ctx); /* with its NUL: a separator */
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)scope, strlen(scope) + 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)canon, strlen(canon));
    crypto_auth_hmacsha256_final(&st, key);
    sodium_memzero(&st, sizeof st);
    size_t n = strlen(canon);
    sodium_memzero(canon, n);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(canon);
    return 0;
}

int zt_rcache_name(const struct zt_rcache *c, const uint8_t job[static ZT_RCACHE_KEY_LEN],
                   const struct zt_rcache_model *m, uint8_t name[static ZT_RCACHE_KEY_LEN])
{
    if (!c || !m || !m->build_id[0]) return ZT_EINVAL;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, c->secret, ZT_RCACHE_SECRET_LEN);
    static const char ctx[] = "zentalk-rcache-name-v1";
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)ctx, sizeof ctx); /* with its NUL: a separator */
    crypto_auth_hmacsha256_update(&st, job, ZT_RCACHE_KEY_LEN);
    crypto_auth_hmacsha256_update(&st, m->sha256, sizeof m->sha256);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)m->build_id, strlen(m->build_id) + 1);
    crypto_auth_hmacsha256_final(&st, name);
    sodium_memzero(&st, sizeof st);
    return 0;
}

bool zt_rcache_model_current(struct zt_rcache *c, const char *model, struct zt_rcache_model *out)
{
    if (!c || !model || !out) return false;
    bool found = false;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < ZT_RCACHE_MODELS_MAX && !found; i++) {
        if (!c->seen[i].used || !zt_str_eq(c->seen[i].model, model)) continue;
        *out = c->seen[i].m;
        c->seen[i].used = ++c->clock;
        found = true;
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

/* Build id b is build base run in a mode: base, then '+' and the mode's
 * suffixes ("...+bf16", "...+kv-f16", "...+fast"). */
static bool mode_of(const char *b, const char *base)
{
    size_t n = strlen(base);
    return n > 0 && strncmp(b, base, n) == 0 && b[n] == '+';
}

void zt_rcache_model_seen(struct zt_rcache *c, const char *model, const struct zt_rcache_model *m)
{
    if (!c || !model || !m || strlen(model) > ZT_RCACHE_MODEL_NAME_MAX) return;
    pthread_mutex_lock(&c->mu);
    size_t slot = 0;
    bool known = false;
    for (size_t i = 0; i < ZT_RCACHE_MODELS_MAX; i++) {
        if (c->seen[i].used && zt_str_eq(c->seen[i].model, model)) {
            slot = i;
            known = true;
            break;
        }
        if (c->seen[i].used < c->seen[slot].used) slot = i; /* free (0), else the longest unseen */
    }
    /* review F12: a name that a request asks for without a mode is answered
     * by workers of either mode; pinned to the default mode's build once
     * one is known (the same file, the build without the mode suffix), its
     * entries keep their names instead of flipping with every answer */
    bool pinned = known && memcmp(c->seen[slot].m.sha256, m->sha256, sizeof m->sha256) == 0 &&
                  mode_of(m->build_id, c->seen[slot].m.build_id);
    zt_strlcpy(c->seen[slot].model, model, sizeof c->seen[slot].model);
    if (!pinned) c->seen[slot].m = *m;
    c->seen[slot].used = ++c->clock;
    pthread_mutex_unlock(&c->mu);
}

void zt_rcache_note_miss(struct zt_rcache *c)
{
    if (c) atomic_fetch_add(&c->n[C_MISS], 1);
}

/* ---- values: encode, seal, open --------------------------------------------------- */

#define VALUE_VERSION 1u
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

static void value_key(const struct zt_rcache *c, const uint8_t key[static ZT_RCACHE_KEY_LEN], uint8_t out[static 32])
{
    crypto_auth_hmacsha256_state st;
    static const char ctx[] = "zentalk-rcache-value-v1";
    crypto_auth_hmacsha256_init(&st, c->secret, ZT_RCACHE_SECRET_LEN);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)ctx, sizeof ctx);
    crypto_auth_hmacsha256_update(&st, key, ZT_RCACHE_KEY_LEN);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/* version u32 | created i64 | prompt u32 | completion u32 | finish (u8 len) |
 * worker (u8 len) | receipt (u16 len) | checkpoint (u16 len) | text (u32 len);
 * little-endian */
static size_t encoded_len(const struct zt_rcache_entry *e)
{
    return 4 + 8 + 4 + 4 + 1 + strlen(e->finish_reason) + 1 + strlen(e->worker) + 2 + e->receipt_len + 2 +
           e->checkpoint_len + 4 + e->text_len;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n, int width)
{
    if (width == 1) *p = (uint8_t)n;
    else if (width == 2) p[0] = (uint8_t)n, p[1] = (uint8_t)(n >> 8);
    else zt_put_le32(p, (uint32_t)n);
    memcpy(p + width, src, n);
    return p + width + n;
}

static void encode(const struct zt_rcache_entry *e, uint8_t *p)
{
    zt_put_le32(p, VALUE_VERSION);
    zt_put_le64(p + 4, (uint64_t)e->created);
    zt_put_le32(p + 12, e->prompt_tokens);
    zt_put_le32(p + 16, e->completion_tokens);
    p += 20;
    p = put_bytes(p, e->finish_reason, strlen(e->finish_reason), 1);
    p = put_bytes(p, e->worker, strlen(e->worker), 1);
    p = put_bytes(p, e->receipt, e->receipt_len, 2);
    p = put_bytes(p, e->checkpoint, e->checkpoint_len, 2);
    put_bytes(p, e->text, e->text_len, 4);
}

/* A length-prefixed field of [*p, end): its bytes, or NULL (malformed or
 * over cap). */
static const uint8_t *get_bytes(const uint8_t **p, const uint8_t *end, int width, size_t cap, size_t *n)
{
    if ((size_t)(end - *p) < (size_t)width) return NULL;
    size_t len = width == 1 ? (*p)[0] : width == 2 ? (size_t)((*p)[0] | (*p)[1] << 8) : zt_get_le32(*p);
    const uint8_t *v = *p + width;
    if (len > cap || (size_t)(end - v) < len) return NULL;
    *p = v + len;
    *n = len;
    return v;
}

static int decode(const uint8_t *p, size_t len, struct zt_rcache_entry *e)
{
    const uint8_t *end = p + len;
    if (len < 20 || zt_get_le32(p) != VALUE_VERSION) return ZT_EPARSE;
    memset(e, 0, sizeof *e);
    e->created = (int64_t)zt_get_le64(p + 4);
    e->prompt_tokens = zt_get_le32(p + 12);
    e->completion_tokens = zt_get_le32(p + 16);
    p += 20;
    size_t n;
    const uint8_t *v;
    if (!(v = get_bytes(&p, end, 1, sizeof e->finish_reason - 1, &n))) return ZT_EPARSE;
    memcpy(e->finish_reason, v, n);
    if (!(v = get_bytes(&p, end, 1, sizeof e->worker - 1, &n))) return ZT_EPARSE;
    memcpy(e->worker, v, n);
    if (!(v = get_bytes(&p, end, 2, sizeof e->receipt, &e->receipt_len))) return ZT_EPARSE;
    memcpy(e->receipt, v, e->receipt_len);
    if (!(v = get_bytes(&p, end, 2, sizeof e->checkpoint, &e->checkpoint_len))) return ZT_EPARSE;
    memcpy(e->checkpoint, v, e->checkpoint_len);
    if (!(v = get_bytes(&p, end, 4, ZT_RCACHE_TEXT_MAX, &n)) || p != end) return ZT_EPARSE;
    e->text = zt_malloc(n + 1);
    if (!e->text) return ZT_ENOMEM;
    memcpy(e->text, v, n);
    e->text[n] = '\0';
    e->text_len = n;
    return 0;
}

void zt_rcache_entry_deinit(struct zt_rcache_entry *e)
{
    if (!e) return;
    if (e->text) {
        sodium_memzero(e->text, e->text_len);
        zt_free(e->text);
    }
    e->text = NULL;
    e->text_len = 0;
}

int zt_rcache_put(struct zt_rcache *c, const uint8_t key[static ZT_RCACHE_KEY_LEN], const struct zt_rcache_entry *e)
{
    if (!c || !e || (e->text_len && !e->text)) return ZT_EINVAL;
    if (e->text_len > ZT_RCACHE_TEXT_MAX) return ZT_ETOOBIG;
    size_t plen = encoded_len(e), vlen = NONCE_LEN + plen + TAG_LEN;
    uint8_t *pt = zt_malloc(plen), *v = zt_malloc(vlen);
    int rc = ZT_ENOMEM;
    if (!pt || !v) goto out;
    encode(e, pt);
    uint8_t k[32];
    value_key(c, key, k);
    randombytes_buf(v, NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(v + NONCE_LEN, NULL, pt, plen, key, ZT_RCACHE_KEY_LEN, NULL, v, k);
    sodium_memzero(k, sizeof k);
    uint64_t evicted = 0;
    rc = c->ops->put(c->b, key, v, vlen, zt_time_real_ms() + c->ttl_s * 1000, &evicted);
    atomic_fetch_add(&c->n[C_EVICT], evicted);
    atomic_fetch_add(&c->n[rc ? C_ERROR : C_STORE], 1);
out:
    if (pt) {
        sodium_memzero(pt, plen);
        zt_free(pt);
    }
    zt_free(v);
    return rc;
}

int zt_rcache_get(struct zt_rcache *c, const uint8_t key[static ZT_RCACHE_KEY_LEN], struct zt_rcache_entry *out)
{
    if (!c || !out) return ZT_EINVAL;
    uint8_t *v = NULL, *pt = NULL;
    size_t vlen = 0;
    int rc = c->ops->get(c->b, key, zt_time_real_ms(), &v, &vlen);
    if (rc) goto out;
    rc = ZT_ENOTFOUND; /* a value that does not open is no entry (another secret, or tampered with) */
    if (vlen < NONCE_LEN + TAG_LEN) goto out;
    size_t plen = vlen - NONCE_LEN - TAG_LEN;
    pt = zt_malloc(plen ? plen : 1);
    if (!pt) {
        rc = ZT_ENOMEM;
        goto out;
    }
    uint8_t k[32];
    value_key(c, key, k);
    int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, v + NONCE_LEN, vlen - NONCE_LEN, key,
                                                         ZT_RCACHE_KEY_LEN, v, k);
    sodium_memzero(k, sizeof k);
    if (bad) {
        zt_log(ZT_LOG_WARN, "result_cache_bad_entry", "backend=%s reason=\"does not open\"", zt_rcache_backend(c));
        goto out;
    }
    struct zt_rcache_entry e;
    rc = decode(pt, plen, &e);
    if (rc == ZT_EPARSE) rc = ZT_ENOTFOUND;
    sodium_memzero(pt, plen);
    if (!rc) *out = e;
out:
    atomic_fetch_add(&c->n[rc == 0 ? C_HIT : rc == ZT_ENOTFOUND ? C_MISS : C_ERROR], 1);
    zt_free(pt);
    zt_free(v);
    return rc;
}

void zt_rcache_del(struct zt_rcache *c, const uint8_t key[static ZT_RCACHE_KEY_LEN])
{
    if (c) c->ops->del(c->b, key);
}

bool zt_rcache_sample_verify(struct zt_rcache *c)
{
    return c && c->verify_permille && randombytes_uniform(1000) < c->verify_permille;
}

bool zt_rcache_same_chain(const struct zt_rcache_entry *e, const uint8_t *ckpt, size_t ckpt_len)
{
    struct zt_checkpoint a, b;
    if (!e || zt_checkpoint_verify(e->checkpoint, e->checkpoint_len, NULL, &a) != 0 ||
        zt_checkpoint_verify(ckpt, ckpt_len, NULL, &b) != 0)
        return false;
    return a.n_tokens == b.n_tokens && memcmp(a.model_sha256, b.model_sha256, sizeof a.model_sha256) == 0 &&
           memcmp(a.chain, b.chain, sizeof a.chain) == 0 && zt_str_eq(a.build_id, b.build_id);
}

void zt_rcache_note_verify(struct zt_rcache *c, bool same)
{
    if (c) atomic_fetch_add(&c->n[same ? C_VERIFIED : C_MISMATCH], 1);
}

void zt_rcache_stats(struct zt_rcache *c, struct zt_rcache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c) return;
    out->hits = atomic_load(&c->n[C_HIT]);
    out->misses = atomic_load(&c->n[C_MISS]);
    out->stores = atomic_load(&c->n[C_STORE]);
    out->evictions = atomic_load(&c->n[C_EVICT]);
    out->verified = atomic_load(&c->n[C_VERIFIED]);
    out->mismatches = atomic_load(&c->n[C_MISMATCH]);
    out->errors = atomic_load(&c->n[C_ERROR]);
    c->ops->usage(c->b, &out->entries, &out->bytes);
}

static int m_total(void *ud, struct zt_metrics_out *o)
{
    struct zt_rcache *c = ud;
    return zt_metrics_emit_each(o, "result", counter_names, c->n, C_N);
}

static int m_bytes(void *ud, struct zt_metrics_out *o)
{
    struct zt_rcache_stats st;
    zt_rcache_stats(ud, &st);
    return zt_metrics_emit_u64(o, NULL, NULL, st.bytes);
}

int zt_rcache_register_metrics(struct zt_rcache *c, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_result_cache_total",
         "Result cache lookups and entries, by result (hit, miss, store, evict, verified, mismatch, error).",
         ZT_METRIC_COUNTER, m_total},
        {"zentalk_result_cache_bytes", "Bytes held by the in-process result cache (0 with Redis).", ZT_METRIC_GAUGE,
         m_bytes},
    };
    return zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], c);
}
