/* wallet.c: Web3 wallet login. See zt_wallet.h.
 *
 * Primitives come from libraries: Keccak-256 from zt_hash.h (the sponge
 * around nettle's Keccak-f[1600] permutation), recoverable ECDSA over
 * secp256k1 from libsecp256k1, SHA-256 and randomness from libsodium. */
#include "zentalk/zt_wallet.h"

#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_keccak.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_time.h"

/* ---- parsing and formatting --------------------------------------------- */

static int parse_0x(const char *s, uint8_t *out, size_t n)
{
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return ZT_EPARSE;
    return zt_hex_decode_str(out, n, s + 2, ZT_HEX_ANY_CASE);
}

int zt_wallet_parse_address(const char *s, uint8_t out[ZT_WALLET_ADDR_LEN])
{
    return parse_0x(s, out, ZT_WALLET_ADDR_LEN);
}

int zt_wallet_parse_sig(const char *s, uint8_t out[ZT_WALLET_SIG_LEN])
{
    return parse_0x(s, out, ZT_WALLET_SIG_LEN);
}

void zt_wallet_format_address(const uint8_t addr[ZT_WALLET_ADDR_LEN], char out[ZT_WALLET_ADDR_STR])
{
    char lower[2 * ZT_WALLET_ADDR_LEN + 1];
    zt_hex_encode(lower, addr, ZT_WALLET_ADDR_LEN);
    uint8_t h[32];
    zt_keccak256(h, lower, 2 * ZT_WALLET_ADDR_LEN);
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < 2 * ZT_WALLET_ADDR_LEN; i++) {
        unsigned nib = (i % 2 == 0) ? h[i / 2] >> 4 : h[i / 2] & 0x0f;
        char c = lower[i];
        out[2 + i] = (c >= 'a' && nib >= 8) ? (char)(c - 'a' + 'A') : c;
    }
    out[2 + 2 * ZT_WALLET_ADDR_LEN] = '\0';
}

/* ---- recovery ----------------------------------------------------------- */

int zt_wallet_recover(const uint8_t hash[32], const uint8_t sig[ZT_WALLET_SIG_LEN],
                       uint8_t addr[ZT_WALLET_ADDR_LEN])
{
    const secp256k1_context *ctx = secp256k1_context_static;
    int v = sig[64];
    if (v >= 27) v -= 27;
    if (v != 0 && v != 1) return ZT_ECRYPTO;
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, sig, v)) return ZT_ECRYPTO;
    secp256k1_ecdsa_signature plain;
    if (!secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &rs)) return ZT_ECRYPTO;
    /* normalize returns 1 when s was in the upper half: a malleated copy */
    if (secp256k1_ecdsa_signature_normalize(ctx, NULL, &plain)) return ZT_ECRYPTO;
    secp256k1_pubkey pk;
    if (!secp256k1_ecdsa_recover(ctx, &pk, &rs, hash)) return ZT_ECRYPTO;
    uint8_t ser[65];
    size_t sl = sizeof ser;
    if (!secp256k1_ec_pubkey_serialize(ctx, ser, &sl, &pk, SECP256K1_EC_UNCOMPRESSED) || sl != 65)
        return ZT_ECRYPTO;
    uint8_t h[32];
    zt_keccak256(h, ser + 1, 64);
    memcpy(addr, h + 12, ZT_WALLET_ADDR_LEN);
    return 0;
}

bool zt_wallet_verify_personal(const void *msg, size_t n, const uint8_t sig[ZT_WALLET_SIG_LEN],
                                const uint8_t addr[ZT_WALLET_ADDR_LEN])
{
    uint8_t h[32], got[ZT_WALLET_ADDR_LEN];
    zt_eip191_hash(msg, n, h);
    if (zt_wallet_recover(h, sig, got) != 0) return false;
    return sodium_memcmp(got, addr, ZT_WALLET_ADDR_LEN) == 0;
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int zt_wallet_parse_bearer(const char *value, const char **tok, size_t *len)
{
    static const char scheme[] = "bearer ";
    if (!value) return ZT_EPARSE;
    size_t n = strnlen(value, sizeof scheme + ZT_WALLET_TOKEN_LEN + 1);
    if (n != sizeof scheme - 1 + ZT_WALLET_TOKEN_LEN) return ZT_EPARSE;
    for (size_t i = 0; i < sizeof scheme - 1; i++) {
        char c = value[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != scheme[i]) return ZT_EPARSE;
    }
    const char *t = value + sizeof scheme - 1;
    for (size_t i = 0; i < ZT_WALLET_TOKEN_LEN; i++)
        if (!is_b64url(t[i])) return ZT_EPARSE;
    *tok = t;
    *len = ZT_WALLET_TOKEN_LEN;
    return 0;
}

/* ---- nonce and session tables ------------------------------------------ */

#define NIL UINT32_MAX
#define ZT_WALLET_SESSION_CAP ZT_WALLET_MAX_SESSIONS

struct nonce_entry {
    bool live;
    uint8_t addr[ZT_WALLET_ADDR_LEN];
    uint64_t src; /* keyed hash of the client address that asked (0: none given) */
    char nonce[33];
    int64_t issued_s, expires_s;
};

struct session_entry {
    uint8_t hash[32]; /* SHA-256 of the token */
    uint8_t addr[ZT_WALLET_ADDR_LEN];
    int64_t created_s, expires_s;
    uint32_t hnext; /* bucket chain, or the free list */
    bool live;
};

struct zt_wallet {
    pthread_mutex_t mu;
    int64_t ttl_s;
    struct nonce_entry nonces[ZT_WALLET_MAX_NONCES];
    uint8_t src_key[crypto_shorthash_KEYBYTES]; /* a client cannot aim at another's source hash */
    struct session_entry *s;
    uint32_t *buckets, nbuckets;
    uint32_t used, free_head, live;
};

int zt_wallet_new(int64_t session_ttl_s, struct zt_wallet **out)
{
    if (session_ttl_s < 1) return ZT_EINVAL;
    struct zt_wallet *w = zt_calloc(1, sizeof *w);
    if (!w) return ZT_ENOMEM;
    pthread_mutex_init(&w->mu, NULL); /* first: zt_wallet_free undoes any step below */
    w->ttl_s = session_ttl_s;
    crypto_shorthash_keygen(w->src_key);
    w->nbuckets = 2 * ZT_WALLET_SESSION_CAP;
    w->s = zt_calloc(ZT_WALLET_SESSION_CAP, sizeof *w->s);
    w->buckets = zt_malloc(sizeof *w->buckets * w->nbuckets);
    if (!w->s || !w->buckets) {
        zt_wallet_free(w);
        return ZT_ENOMEM;
    }
    for (uint32_t i = 0; i < w->nbuckets; i++) w->buckets[i] = NIL;
    w->free_head = NIL;
    *out = w;
    return 0;
}

void zt_wallet_free(struct zt_wallet *w)
{
    if (!w) return;
    pthread_mutex_destroy(&w->mu);
    sodium_memzero(w->s, sizeof *w->s * w->used); /* slots past used were never written */
    zt_free(w->s);
    zt_free(w->buckets);
    zt_free(w);
}

static int build_message(const struct nonce_entry *e, char *out, size_t size)
{
    char addr[ZT_WALLET_ADDR_STR], iat[ZT_TIME_ISO_LEN], exp[ZT_TIME_ISO_LEN];
    zt_wallet_format_address(e->addr, addr);
    zt_time_iso8601(iat, sizeof iat, e->issued_s * 1000);
    zt_time_iso8601(exp, sizeof exp, e->expires_s * 1000);
    int n = snprintf(out, size,
                     "zentalk-ai wants you to sign in with your Ethereum account:\n%s\n\n"
                     "Sign in to zentalk-ai. Signing sends no transaction and costs nothing.\n\n"
                     "Domain: zentalk-ai\nNonce: %s\nIssued At: %s\nExpiration Time: %s",
                     addr, e->nonce, iat, exp);
    return (n < 0 || (size_t)n >= size) ? ZT_ETOOBIG : n;
}

static uint64_t source_hash(const struct zt_wallet *w, const char *source)
{
    if (!source || !source[0]) return 0;
    uint64_t v = zt_keyed_hash64(source, strnlen(source, 256), w->src_key);
    return v ? v : 1;
}

/* The slot for a new nonce of (addr, src) under w->mu, or a negative error
 * (zt_wallet_nonce's). Expired and used slots are free; a live nonce is
 * replaced only by its own pair's newer one. */
static int nonce_slot(const struct zt_wallet *w, const uint8_t *addr, uint64_t src, int64_t now_s, size_t *slot)
{
    size_t free_slot = SIZE_MAX, oldest_pair = SIZE_MAX, n_pair = 0, n_src = 0, n_addr = 0;
    for (size_t i = 0; i < ZT_WALLET_MAX_NONCES; i++) {
        const struct nonce_entry *x = &w->nonces[i];
        if (!x->live || x->expires_s < now_s) {
            if (free_slot == SIZE_MAX) free_slot = i;
            continue;
        }
        bool same_addr = memcmp(x->addr, addr, ZT_WALLET_ADDR_LEN) == 0;
        n_src += x->src == src;
        n_addr += same_addr;
        if (same_addr && x->src == src) {
            n_pair++;
            if (oldest_pair == SIZE_MAX || x->issued_s < w->nonces[oldest_pair].issued_s) oldest_pair = i;
        }
    }
    if (n_pair >= ZT_WALLET_NONCES_PER_PAIR) { /* the same client asking again: its own oldest goes */
        *slot = oldest_pair;
        return 0;
    }
    if (n_src >= ZT_WALLET_NONCES_PER_SOURCE || n_addr >= ZT_WALLET_NONCES_PER_ADDRESS) return ZT_EPERM;
    if (free_slot == SIZE_MAX) return ZT_EBUSY;
    *slot = free_slot;
    return 0;
}

int zt_wallet_nonce(struct zt_wallet *w, const uint8_t addr[ZT_WALLET_ADDR_LEN], const char *source, int64_t now_s,
                     char *msg, size_t msg_size, char nonce[33], int64_t *expires_at)
{
    struct nonce_entry e;
    memset(&e, 0, sizeof e);
    uint8_t rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    zt_hex_encode(e.nonce, rnd, sizeof rnd);
    memcpy(e.addr, addr, ZT_WALLET_ADDR_LEN);
    e.src = source_hash(w, source);
    e.issued_s = now_s;
    e.expires_s = now_s + ZT_WALLET_NONCE_TTL_S;
    e.live = true;
    int n = build_message(&e, msg, msg_size);
    if (n < 0) return n;
    size_t pick = 0;
    pthread_mutex_lock(&w->mu);
    int rc = nonce_slot(w, addr, e.src, now_s, &pick);
    if (!rc) w->nonces[pick] = e;
    pthread_mutex_unlock(&w->mu);
    if (rc) return rc;
    memcpy(nonce, e.nonce, 33);
    *expires_at = e.expires_s;
    return 0;
}

static uint32_t bucket_of(const struct zt_wallet *w, const uint8_t h[32])
{
    return zt_get_le32(h) & (w->nbuckets - 1);
}

static void session_remove(struct zt_wallet *w, uint32_t i)
{
    uint32_t *pp = &w->buckets[bucket_of(w, w->s[i].hash)];
    while (*pp != NIL && *pp != i) pp = &w->s[*pp].hnext;
    if (*pp == i) *pp = w->s[i].hnext;
    sodium_memzero(&w->s[i], sizeof w->s[i]);
    w->s[i].hnext = w->free_head;
    w->free_head = i;
    w->live--;
}

static uint32_t session_find(struct zt_wallet *w, const uint8_t h[32])
{
    for (uint32_t i = w->buckets[bucket_of(w, h)]; i != NIL; i = w->s[i].hnext)
        if (sodium_memcmp(w->s[i].hash, h, 32) == 0) return i;
    return NIL;
}

static uint32_t session_slot(struct zt_wallet *w, int64_t now_s)
{
    if (w->free_head == NIL && w->used < ZT_WALLET_SESSION_CAP) {
        w->s[w->used].hnext = NIL;
        return w->used++;
    }
    if (w->free_head == NIL) { /* full: drop expired ones, else the soonest to expire */
        uint32_t soonest = 0;
        for (uint32_t i = 0; i < w->used; i++) {
            if (!w->s[i].live) continue;
            if (w->s[i].expires_s <= now_s) session_remove(w, i);
            else if (!w->s[soonest].live || w->s[i].expires_s < w->s[soonest].expires_s) soonest = i;
        }
        if (w->free_head == NIL) session_remove(w, soonest);
    }
    uint32_t i = w->free_head;
    w->free_head = w->s[i].hnext;
    return i;
}

int zt_wallet_login(struct zt_wallet *w, const uint8_t addr[ZT_WALLET_ADDR_LEN], const char *msg,
                     size_t msg_len, const uint8_t sig[ZT_WALLET_SIG_LEN], int64_t now_s,
                     char token[ZT_WALLET_TOKEN_LEN + 1], int64_t *expires_at, const char **why)
{
    static const char key[] = "\nNonce: ";
    const char *reason = "unknown, used or expired message; request a new nonce";
    int rc = ZT_ENOTFOUND;
    char nonce[33];
    const char *k = NULL;
    for (size_t i = 0; msg_len < ZT_WALLET_MSG_MAX && i + sizeof key - 1 <= msg_len && !k; i++)
        if (memcmp(msg + i, key, sizeof key - 1) == 0) k = msg + i;
    if (!k || (size_t)(msg + msg_len - k) < sizeof key - 1 + 32) goto out;
    memcpy(nonce, k + sizeof key - 1, 32);
    nonce[32] = '\0';
    struct nonce_entry e;
    memset(&e, 0, sizeof e);
    bool found = false;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < ZT_WALLET_MAX_NONCES; i++) {
        struct nonce_entry *x = &w->nonces[i];
        if (x->live && memcmp(x->nonce, nonce, 33) == 0) {
            e = *x;
            x->live = false; /* single use, whatever comes next */
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (!found || e.expires_s < now_s) goto out;
    char want[ZT_WALLET_MSG_MAX];
    int wl = build_message(&e, want, sizeof want);
    if (wl < 0 || (size_t)wl != msg_len || memcmp(want, msg, msg_len) != 0) goto out;
    if (memcmp(e.addr, addr, ZT_WALLET_ADDR_LEN) != 0) {
        reason = "the message was issued for another address";
        goto out;
    }
    rc = ZT_ECRYPTO;
    if (!zt_wallet_verify_personal(msg, msg_len, sig, addr)) {
        reason = "signature does not recover to the address";
        goto out;
    }
    uint8_t raw[32], h[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, ZT_WALLET_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    crypto_hash_sha256(h, (const unsigned char *)token, ZT_WALLET_TOKEN_LEN);
    pthread_mutex_lock(&w->mu);
    uint32_t i = session_slot(w, now_s);
    struct session_entry *s = &w->s[i];
    memcpy(s->hash, h, 32);
    memcpy(s->addr, addr, ZT_WALLET_ADDR_LEN);
    s->created_s = now_s;
    s->expires_s = now_s + w->ttl_s;
    s->live = true;
    uint32_t b = bucket_of(w, h);
    s->hnext = w->buckets[b];
    w->buckets[b] = i;
    w->live++;
    *expires_at = s->expires_s;
    pthread_mutex_unlock(&w->mu);
    sodium_memzero(h, sizeof h);
    rc = 0;
out:
    if (rc && why) *why = reason;
    return rc;
}

static void token_hash(const char *tok, size_t len, uint8_t h[32])
{
    crypto_hash_sha256(h, (const unsigned char *)tok, len);
}

int zt_wallet_session(struct zt_wallet *w, const char *tok, size_t len, int64_t now_s,
                       struct zt_auth_principal *out)
{
    if (len != ZT_WALLET_TOKEN_LEN) return ZT_ENOTFOUND;
    uint8_t h[32];
    token_hash(tok, len, h);
    int rc = ZT_ENOTFOUND;
    pthread_mutex_lock(&w->mu);
    uint32_t i = session_find(w, h);
    if (i != NIL && w->s[i].expires_s <= now_s) {
        session_remove(w, i);
        i = NIL;
    }
    if (i != NIL) {
        char lower[2 * ZT_WALLET_ADDR_LEN + 1];
        zt_hex_encode(lower, w->s[i].addr, ZT_WALLET_ADDR_LEN);
        memset(out, 0, sizeof *out);
        snprintf(out->identity, sizeof out->identity, "wallet:0x%s", lower);
        out->role = ZT_AUTH_USER;
        rc = 0;
    }
    pthread_mutex_unlock(&w->mu);
    sodium_memzero(h, sizeof h);
    return rc;
}

int zt_wallet_logout(struct zt_wallet *w, const char *tok, size_t len, int64_t now_s)
{
    if (len != ZT_WALLET_TOKEN_LEN) return ZT_ENOTFOUND;
    uint8_t h[32];
    token_hash(tok, len, h);
    pthread_mutex_lock(&w->mu);
    uint32_t i = session_find(w, h);
    int rc = (i != NIL && w->s[i].expires_s > now_s) ? 0 : ZT_ENOTFOUND;
    if (i != NIL) session_remove(w, i);
    pthread_mutex_unlock(&w->mu);
    sodium_memzero(h, sizeof h);
    return rc;
}

size_t zt_wallet_sessions(struct zt_wallet *w, int64_t now_s)
{
    size_t n = 0;
    pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < w->used; i++)
        if (w->s[i].live && w->s[i].expires_s > now_s) n++;
    pthread_mutex_unlock(&w->mu);
    return n;
}

size_t zt_wallet_list(struct zt_wallet *w, const uint8_t addr[ZT_WALLET_ADDR_LEN], int64_t now_s,
                       struct zt_wallet_session_info *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < w->used; i++) {
        const struct session_entry *e = &w->s[i];
        if (!e->live || e->expires_s <= now_s || memcmp(e->addr, addr, ZT_WALLET_ADDR_LEN) != 0) continue;
        if (n < cap) {
            out[n].created_s = e->created_s;
            out[n].expires_s = e->expires_s;
        }
        n++;
    }
    pthread_mutex_unlock(&w->mu);
    return n;
}

size_t zt_wallet_revoke_address(struct zt_wallet *w, const uint8_t addr[ZT_WALLET_ADDR_LEN])
{
    size_t n = 0;
    pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < w->used; i++) {
        if (!w->s[i].live || memcmp(w->s[i].addr, addr, ZT_WALLET_ADDR_LEN) != 0) continue;
        session_remove(w, i);
        n++;
    }
    for (size_t i = 0; i < ZT_WALLET_MAX_NONCES; i++) {
        struct nonce_entry *x = &w->nonces[i];
        if (memcmp(x->addr, addr, ZT_WALLET_ADDR_LEN) == 0) sodium_memzero(x, sizeof *x);
    }
    pthread_mutex_unlock(&w->mu);
    return n;
}

void zt_wallet_sweep(struct zt_wallet *w, int64_t now_s, size_t *nonces, size_t *sessions)
{
    size_t nn = 0, ns = 0;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < ZT_WALLET_MAX_NONCES; i++) {
        struct nonce_entry *x = &w->nonces[i];
        if (x->live && x->expires_s < now_s) nn++;
        if (!x->live || x->expires_s < now_s) sodium_memzero(x, sizeof *x); /* used ones too */
    }
    for (uint32_t i = 0; i < w->used; i++) {
        if (w->s[i].live && w->s[i].expires_s <= now_s) {
            session_remove(w, i);
            ns++;
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (nonces) *nonces = nn;
    if (sessions) *sessions = ns;
}

