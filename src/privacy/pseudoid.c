/* pseudoid.c: keyed pseudonyms of identities (zt_pseudoid.h). */
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_pseudoid.h"
#include "zentalk/zt_str.h"

#define SALT_LEN 32
#define REF_KEY_LEN 32

struct zt_pseudoid {
    pthread_mutex_t mu;
    struct zt_store *store;
    uint8_t *k_ref; /* sodium_malloc'd */
};

int zt_pseudoid_new(struct zt_store *store, const uint8_t secret[static ZT_PSEUDOID_SECRET_LEN],
                    struct zt_pseudoid **out)
{
    if (!store) return ZT_EINVAL;
    if (sodium_init() < 0) {
        zt_store_close(store);
        return ZT_ECRYPTO;
    }
    struct zt_pseudoid *p = zt_calloc(1, sizeof *p);
    uint8_t *k = sodium_malloc(REF_KEY_LEN);
    if (!p || !k) {
        zt_free(p);
        if (k) sodium_free(k);
        zt_store_close(store);
        return ZT_ENOMEM;
    }
    if (crypto_kdf_derive_from_key(k, REF_KEY_LEN, 1, "ztpseuid", secret) != 0) {
        sodium_free(k);
        zt_free(p);
        zt_store_close(store);
        return ZT_ECRYPTO;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->store = store;
    p->k_ref = k;
    *out = p;
    return 0;
}

void zt_pseudoid_free(struct zt_pseudoid *p)
{
    if (!p) return;
    zt_store_close(p->store);
    sodium_free(p->k_ref);
    pthread_mutex_destroy(&p->mu);
    zt_free(p);
}

static int check(const char *identity, size_t *len)
{
    if (!identity) return ZT_EINVAL;
    size_t n = strnlen(identity, ZT_PSEUDOID_IDENTITY_MAX + 1);
    if (n == 0 || n > ZT_PSEUDOID_IDENTITY_MAX) return ZT_EINVAL;
    *len = n;
    return 0;
}

static void ref_of(const struct zt_pseudoid *p, const char *identity, size_t n, uint8_t ref[ZT_STORE_REF_LEN])
{
    crypto_generichash(ref, ZT_STORE_REF_LEN, (const unsigned char *)identity, n, p->k_ref, REF_KEY_LEN);
}

int zt_pseudoid_get(struct zt_pseudoid *p, const char *identity, bool create, char out[static ZT_PSEUDOID_STR])
{
    size_t n;
    int rc = check(identity, &n);
    if (rc) return rc;
    uint8_t ref[ZT_STORE_REF_LEN];
    uint8_t *salt = sodium_malloc(SALT_LEN);
    if (!salt) return ZT_ENOMEM;
    ref_of(p, identity, n, ref);
    pthread_mutex_lock(&p->mu);
    rc = zt_store_salt_get(p->store, ref, salt, SALT_LEN);
    if (rc == ZT_ENOTFOUND && create) {
        randombytes_buf(salt, SALT_LEN);
        rc = zt_store_salt_put(p->store, ref, salt, SALT_LEN);
    }
    pthread_mutex_unlock(&p->mu);
    if (!rc) {
        uint8_t mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, salt, SALT_LEN);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)identity, n);
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_memzero(&st, sizeof st);
        out[0] = 'p';
        out[1] = ':';
        zt_hex_encode(out + 2, mac, 16);
        sodium_memzero(mac, sizeof mac);
    }
    sodium_free(salt);
    return rc;
}

int zt_pseudoid_forget(struct zt_pseudoid *p, const char *identity, bool *found)
{
    size_t n;
    int rc = check(identity, &n);
    if (rc) return rc;
    uint8_t ref[ZT_STORE_REF_LEN];
    ref_of(p, identity, n, ref);
    bool f = false;
    pthread_mutex_lock(&p->mu);
    rc = zt_store_salt_delete(p->store, ref, &f);
    pthread_mutex_unlock(&p->mu);
    if (!rc && found) *found = f;
    return rc;
}

bool zt_pseudoid_is(const char *s)
{
    if (!s || s[0] != 'p' || s[1] != ':') return false;
    for (int i = 2; i < 34; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[34] == '\0';
}
