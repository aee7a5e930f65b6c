/* hash.c: SHA-256 and BLAKE2b through libsodium. */
#include <sodium.h>
#include <string.h>

#include "zentalk/zt_hash.h"

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((struct zt_sha256_ctx *)0)->opaque),
               "zt_sha256_ctx too small for libsodium's state");

int zt_hash_init(void)
{
    return sodium_init() < 0 ? ZT_ECRYPTO : 0;
}

void zt_sha256(uint8_t out[static ZT_SHA256_LEN], const void *in, size_t n)
{
    crypto_hash_sha256(out, in, n);
}

int zt_blake2b(uint8_t *out, size_t outlen, const void *in, size_t n, const uint8_t *key,
               size_t keylen)
{
    if (outlen < crypto_generichash_BYTES_MIN || outlen > crypto_generichash_BYTES_MAX)
        return ZT_EINVAL;
    if (key && (keylen < crypto_generichash_KEYBYTES_MIN || keylen > crypto_generichash_KEYBYTES_MAX))
        return ZT_EINVAL;
    if (crypto_generichash(out, outlen, in, n, key, key ? keylen : 0) != 0) return ZT_EINVAL;
    return 0;
}

void zt_sha256_init(struct zt_sha256_ctx *c)
{
    crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)c->opaque);
}

void zt_sha256_update(struct zt_sha256_ctx *c, const void *in, size_t n)
{
    crypto_hash_sha256_update((crypto_hash_sha256_state *)(void *)c->opaque, in, n);
}

void zt_sha256_final(struct zt_sha256_ctx *c, uint8_t out[static ZT_SHA256_LEN])
{
    crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)c->opaque, out);
    sodium_memzero(c, sizeof *c);
}
