/* nodeauth.c: signed node-to-node requests. See zt_nodeauth.h and
 * docs/internals/nodeauth.md.
 *
 * Replay cache: a ring of (key, expiry) in insertion order plus a hash
 * chain over it. A signature with date d is acceptable while |now - d| <=
 * W, so one inserted at time t can be replayed at most until d + W <= t +
 * 2W: entries expire at t + 2W, which keeps the ring ordered by expiry.
 * When the ring is full the oldest entry is dropped if it expired; if not,
 * the new request is refused (ZT_EBUSY) rather than a live one forgotten. */
#include "zentalk/zt_nodeauth.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"

#define KEY_LEN 16
#define CACHE_MAX ((size_t)1 << 24)

static const char PREFIX[] = "zentalk-node-request-v1";

static bool method_ok(const char *m)
{
    size_t n = 0;
    for (; m[n]; n++)
        if (m[n] < 'A' || m[n] > 'Z' || n >= ZT_NODEAUTH_METHOD_MAX) return false;
    return n > 0;
}

static bool target_ok(const char *t)
{
    if (t[0] != '/') return false;
    size_t n = 0;
    for (; t[n]; n++)
        if ((unsigned char)t[n] <= 0x20 || (unsigned char)t[n] >= 0x7F || n >= ZT_NODEAUTH_TARGET_MAX)
            return false;
    return true;
}

static bool nonce_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')) || n >= ZT_NODEAUTH_NONCE_HEX)
            return false;
    return n == ZT_NODEAUTH_NONCE_HEX;
}

int zt_nodeauth_canonical(const char *from, const char *to, const char *method, const char *target,
                          int64_t date, const char *nonce, const uint8_t body_sha256[static 32],
                          struct zt_buf *out)
{
    if (!from || !to || !method || !target || !nonce || !zt_identity_id_valid(from) ||
        !zt_identity_id_valid(to) || !method_ok(method) || !target_ok(target) || !nonce_ok(nonce) ||
        date < 0)
        return ZT_EINVAL;
    char hex[2 * ZT_SHA256_LEN + 1];
    zt_hex_encode(hex, body_sha256, ZT_SHA256_LEN);
    return zt_buf_appendf(out, "%s\n%s\n%s\n%s\n%s\n%lld\n%s\n%s", PREFIX, from, to, method, target,
                          (long long)date, nonce, hex);
}

int zt_nodeauth_sign(const struct zt_identity *id, const char *to_id, const char *method, const char *target,
                     const void *body, size_t body_len, int64_t now, struct zt_nodeauth_headers *out)
{
    struct zt_nodeauth_headers h;
    memset(&h, 0, sizeof h);
    uint8_t nonce[ZT_NODEAUTH_NONCE_HEX / 2], digest[ZT_SHA256_LEN], sig[ZT_ED25519_SIG_LEN];
    randombytes_buf(nonce, sizeof nonce);
    zt_hex_encode(h.nonce, nonce, sizeof nonce);
    zt_sha256(digest, body_len ? body : "", body_len);
    zt_strlcpy(h.node, zt_identity_id(id), sizeof h.node);
    struct zt_buf c;
    zt_buf_init(&c, ZT_NODEAUTH_TARGET_MAX + 512);
    int rc = zt_nodeauth_canonical(h.node, to_id, method, target, now, h.nonce, digest, &c);
    if (!rc) rc = zt_identity_sign(id, (const uint8_t *)c.data, c.len, sig);
    zt_buf_deinit(&c);
    if (rc) return rc;
    snprintf(h.date, sizeof h.date, "%lld", (long long)now);
    sodium_bin2base64(h.sig, sizeof h.sig, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    *out = h;
    return 0;
}

int zt_nodeauth_curl_headers(const struct zt_nodeauth_headers *h, struct curl_slist **list)
{
    const char *names[4] = {ZT_NODEAUTH_H_NODE, ZT_NODEAUTH_H_DATE, ZT_NODEAUTH_H_NONCE, ZT_NODEAUTH_H_SIG};
    const char *vals[4] = {h->node, h->date, h->nonce, h->sig};
    for (int i = 0; i < 4; i++) {
        char line[160];
        snprintf(line, sizeof line, "%s: %s", names[i], vals[i]);
        struct curl_slist *n = curl_slist_append(*list, line);
        if (!n) return ZT_ENOMEM;
        *list = n;
    }
    return 0;
}

int zt_nodeauth_parse(const char *node, const char *date, const char *nonce, const char *sig,
                      struct zt_nodeauth_parsed *out)
{
    if (!node || !date || !nonce || !sig) return ZT_EPARSE;
    if (!zt_identity_id_valid(node)) return ZT_EPARSE;
    size_t dl = 0;
    int64_t d = 0;
    for (; date[dl]; dl++) {
        if (date[dl] < '0' || date[dl] > '9' || dl >= 18) return ZT_EPARSE;
        d = d * 10 + (date[dl] - '0');
    }
    if (dl == 0 || (dl > 1 && date[0] == '0')) return ZT_EPARSE;
    if (!nonce_ok(nonce)) return ZT_EPARSE;
    if (strnlen(sig, ZT_NODEAUTH_SIG_B64 + 1) != ZT_NODEAUTH_SIG_B64) return ZT_EPARSE;
    struct zt_nodeauth_parsed p;
    memset(&p, 0, sizeof p);
    size_t bl = 0;
    const char *end = NULL;
    if (sodium_base642bin(p.sig, sizeof p.sig, sig, ZT_NODEAUTH_SIG_B64, NULL, &bl, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bl != sizeof p.sig || end != sig + ZT_NODEAUTH_SIG_B64)
        return ZT_EPARSE;
    /* one encoding per signature: re-encode and compare (no stray bits) */
    char again[ZT_NODEAUTH_SIG_B64 + 1];
    sodium_bin2base64(again, sizeof again, p.sig, sizeof p.sig, sodium_base64_VARIANT_ORIGINAL);
    if (memcmp(again, sig, ZT_NODEAUTH_SIG_B64) != 0) return ZT_EPARSE;
    zt_strlcpy(p.node, node, sizeof p.node);
    memcpy(p.nonce, nonce, sizeof p.nonce);
    p.date = d;
    *out = p;
    return 0;
}

/* ---- verifier ------------------------------------------------------------ */

struct cache_entry {
    uint8_t key[KEY_LEN];
    int64_t expires;
};

struct zt_nodeauth_verifier {
    pthread_mutex_t mu;
    size_t max, used, head; /* ring: entries [head, head+used) mod max, oldest first */
    struct zt_hindex ix;      /* e by key_hash() */
    struct cache_entry *e;
};

int zt_nodeauth_verifier_new(size_t cache_max, struct zt_nodeauth_verifier **out)
{
    if (cache_max == 0) cache_max = ZT_NODEAUTH_CACHE_DEFAULT;
    if (cache_max > CACHE_MAX) return ZT_EINVAL;
    struct zt_nodeauth_verifier *v = zt_calloc(1, sizeof *v);
    if (!v) return ZT_ENOMEM;
    pthread_mutex_init(&v->mu, NULL); /* first: zt_nodeauth_verifier_free undoes any step below */
    v->max = cache_max;
    v->e = zt_calloc(cache_max, sizeof *v->e);
    int rc = !v->e || zt_hindex_init(&v->ix, cache_max, cache_max) != 0 ? ZT_ENOMEM : 0;
    return ZT_HAND_OUT(rc, v, zt_nodeauth_verifier_free, out);
}

void zt_nodeauth_verifier_free(struct zt_nodeauth_verifier *v)
{
    if (!v) return;
    pthread_mutex_destroy(&v->mu);
    zt_hindex_deinit(&v->ix);
    zt_free(v->e);
    zt_free(v);
}

static uint32_t key_hash(const uint8_t key[KEY_LEN])
{
    uint32_t h;
    memcpy(&h, key, sizeof h); /* the key is a hash already */
    return h;
}

static void drop_oldest(struct zt_nodeauth_verifier *v)
{
    uint32_t i = (uint32_t)v->head;
    zt_hindex_remove(&v->ix, key_hash(v->e[i].key), i);
    v->head = (v->head + 1) % v->max;
    v->used--;
}

/* 0 and remembered, ZT_EEXIST seen, ZT_EBUSY full. */
static int cache_insert(struct zt_nodeauth_verifier *v, const uint8_t key[KEY_LEN], int64_t now)
{
    int rc = 0;
    pthread_mutex_lock(&v->mu);
    while (v->used && v->e[v->head].expires <= now) drop_oldest(v);
    uint32_t h = key_hash(key);
    for (uint32_t i = zt_hindex_first(&v->ix, h); i != ZT_HINDEX_NIL; i = zt_hindex_next(&v->ix, i)) {
        if (sodium_memcmp(v->e[i].key, key, KEY_LEN) == 0) {
            rc = ZT_EEXIST;
            goto out;
        }
    }
    if (v->used == v->max) {
        rc = ZT_EBUSY;
        goto out;
    }
    uint32_t i = (uint32_t)((v->head + v->used) % v->max);
    memcpy(v->e[i].key, key, KEY_LEN);
    v->e[i].expires = now + 2 * ZT_NODEAUTH_WINDOW_S;
    zt_hindex_insert(&v->ix, h, i);
    v->used++;
out:
    pthread_mutex_unlock(&v->mu);
    return rc;
}

int zt_nodeauth_verify(struct zt_nodeauth_verifier *v, struct zt_peers *peers, const char *self_id,
                       const char *method, const char *target, const void *body, size_t body_len,
                       const struct zt_nodeauth_parsed *p, int64_t now, const char **why)
{
    const char *reason = NULL;
    int rc = 0;
    struct zt_buf c;
    zt_buf_init(&c, ZT_NODEAUTH_TARGET_MAX + 512);
    if (p->date > now + ZT_NODEAUTH_WINDOW_S || p->date < now - ZT_NODEAUTH_WINDOW_S) {
        rc = ZT_ETIMEDOUT;
        reason = "Zentalk-Date is more than 300 seconds from this node's clock";
        goto out;
    }
    struct zt_peer peer;
    if (zt_peers_lookup(peers, p->node, now, &peer) != 0) {
        rc = ZT_ENOTFOUND;
        reason = "the calling node is not a registered peer (or its descriptor expired)";
        goto out;
    }
    uint8_t digest[ZT_SHA256_LEN];
    zt_sha256(digest, body_len ? body : "", body_len);
    rc = zt_nodeauth_canonical(p->node, self_id, method, target, p->date, p->nonce, digest, &c);
    if (rc == ZT_ENOMEM) {
        reason = "out of memory";
        goto out;
    }
    if (rc || zt_identity_verify(peer.ed25519_pk, (const uint8_t *)c.data, c.len, p->sig) != 0) {
        rc = ZT_ECRYPTO;
        reason = "bad node signature";
        goto out;
    }
    uint8_t key[KEY_LEN];
    if (zt_blake2b(key, sizeof key, p->sig, sizeof p->sig, NULL, 0) != 0) {
        rc = ZT_ECRYPTO;
        reason = "bad node signature";
        goto out;
    }
    rc = cache_insert(v, key, now);
    if (rc == ZT_EEXIST) reason = "replayed node signature";
    else if (rc == ZT_EBUSY) reason = "replay cache full; retry later";
out:
    zt_buf_deinit(&c);
    if (why) *why = reason;
    return rc;
}

size_t zt_nodeauth_cache_size(struct zt_nodeauth_verifier *v) { return zt_locked_size(&v->mu, &v->used); }
