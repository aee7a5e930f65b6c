/* zt_hash.h: SHA-256 and BLAKE2b, from libsodium; Keccak-256 on nettle's permutation. */
#ifndef ZT_HASH_H
#define ZT_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_SHA256_LEN 32
#define ZT_BLAKE2B_LEN 32      /* default output length */
#define ZT_BLAKE2B_MAX_LEN 64

/* Initialise libsodium once; safe to call from many threads. Returns 0 or ZT_ECRYPTO. */
ZT_NODISCARD int zt_hash_init(void);

void zt_sha256(uint8_t out[static ZT_SHA256_LEN], const void *in, size_t n);

/* BLAKE2b with outlen in [16, 64]; key may be NULL (keylen 0) or 16..64 bytes.
 * Returns 0, or ZT_EINVAL for a bad length. */
ZT_NODISCARD int zt_blake2b(uint8_t *out, size_t outlen, const void *in, size_t n,
                            const uint8_t *key, size_t keylen);

/* Streaming SHA-256 for files and large inputs. */
struct zt_sha256_ctx {
    _Alignas(64) unsigned char opaque[128]; /* crypto_hash_sha256_state */
};
void zt_sha256_init(struct zt_sha256_ctx *c);
void zt_sha256_update(struct zt_sha256_ctx *c, const void *in, size_t n);
void zt_sha256_final(struct zt_sha256_ctx *c, uint8_t out[static ZT_SHA256_LEN]);

/* Keccak-256 with the original Keccak padding, as Ethereum uses (not
 * SHA3-256), of in[0..n), or of the concatenation of parts[i][0..lens[i])
 * for i < n (zt_keccak256v; no copy of the parts is made). Used for
 * Ethereum addresses (EIP-55 checksums) and EIP-191 message hashes. */
#define ZT_KECCAK256_LEN 32
void zt_keccak256(uint8_t out[static ZT_KECCAK256_LEN], const void *in, size_t n);
void zt_keccak256v(uint8_t out[static ZT_KECCAK256_LEN], const void *const *parts, const size_t *lens,
                   size_t n);

/* FNV-1a (64-bit), the one hash for in-memory hash tables and feature
 * buckets. Not for anything a peer could aim collisions at without a
 * keyed step after it (spam.c mixes its own). Values are part of some
 * on-disk formats (spam model buckets): never change them. */
#define ZT_FNV1A64_INIT 0xcbf29ce484222325ull
#define ZT_FNV1A64_PRIME 0x100000001b3ull

/* Continue an FNV-1a hash h over n more bytes (h starts at ZT_FNV1A64_INIT). */
static inline uint64_t zt_fnv1a64_step(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * ZT_FNV1A64_PRIME;
    return h;
}

static inline uint64_t zt_fnv1a64(const void *p, size_t n)
{
    return zt_fnv1a64_step(ZT_FNV1A64_INIT, p, n);
}

/* 32-bit FNV-1a of a NUL-terminated string. */
static inline uint32_t zt_fnv1a32_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

#endif
