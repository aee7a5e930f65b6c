/* zt_hash.h: SHA-256 from nettle (SHA extensions where the CPU has them),
 * BLAKE2b from libsodium; Keccak-256 on nettle's
 * permutation; the non-cryptographic hashes (FNV-1a, splitmix64) and a
 * chained hash index. */
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
    _Alignas(64) unsigned char opaque[128]; /* nettle's struct sha256_ctx */
};
void zt_sha256_init(struct zt_sha256_ctx *c);
void zt_sha256_update(struct zt_sha256_ctx *c, const void *in, size_t n);
void zt_sha256_final(struct zt_sha256_ctx *c, uint8_t out[static ZT_SHA256_LEN]);

/* SHA-256 of what fd reads, to its end (1 MiB at a time), and of the
 * whole file at path (a model, the running binary). ZT_EIO (errno says
 * why: ENOENT for a missing file), ZT_ENOMEM. out is written only on
 * success. */
ZT_NODISCARD int zt_sha256_fd(int fd, uint8_t out[static ZT_SHA256_LEN]);
ZT_NODISCARD int zt_sha256_file(const char *path, uint8_t out[static ZT_SHA256_LEN]);

/* Keccak-256 with the original Keccak padding, as Ethereum uses (not
 * SHA3-256), of in[0..n), or of the concatenation of parts[i][0..lens[i])
 * for i < n (zt_keccak256v; no copy of the parts is made). Used for
 * Ethereum addresses (EIP-55 checksums) and EIP-191 message hashes. */
#define ZT_KECCAK256_LEN 32
void zt_keccak256(uint8_t out[static ZT_KECCAK256_LEN], const void *in, size_t n);
void zt_keccak256v(uint8_t out[static ZT_KECCAK256_LEN], const void *const *parts, const size_t *lens,
                   size_t n);

/* The keyed hash for tables whose keys a peer chooses (replay rings, maps
 * of ids or addresses): SipHash-2-4 (libsodium's crypto_shorthash) of
 * in[0..n) under key, its 8 bytes read little-endian. Keys are random per
 * process (crypto_shorthash_keygen): values are never stored or shared. */
#define ZT_KEYED_HASH_KEY_LEN 16
uint64_t zt_keyed_hash64(const void *in, size_t n, const uint8_t key[static ZT_KEYED_HASH_KEY_LEN]);

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

/* splitmix64 (Steele, Lea, Flood 2014): zt_mix64 is its finaliser, a
 * 64-bit bit mixer; zt_splitmix64 steps *state by the golden-ratio
 * increment and returns the mixed value, a fast deterministic generator
 * (the sampler's seeding, the learned models' shuffles, the tests' random
 * inputs). Not for secrets. Values are part of some on-disk formats (a
 * trained model depends on its shuffle order): never change them. */
static inline uint64_t zt_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t zt_splitmix64(uint64_t *state)
{
    return zt_mix64(*state += 0x9e3779b97f4a7c15ull);
}

/* A chained hash index over a table of at most n entries that its owner
 * keeps (and hashes) itself, entry i found by its hash h: chains linked
 * through next[], one per bucket (a power of two, at least min_buckets);
 * ZT_HINDEX_NIL ends a chain. The rate limiter's keys and the node
 * signature replay cache use it. Not thread-safe: the owner locks. */
#define ZT_HINDEX_NIL UINT32_MAX
struct zt_hindex {
    uint32_t *bucket, *next;
    uint32_t mask;
};
/* n and min_buckets at most 2^30. 0, ZT_EINVAL or ZT_ENOMEM. */
ZT_NODISCARD int zt_hindex_init(struct zt_hindex *c, size_t n, size_t min_buckets);
/* Frees what init allocated; a zeroed zt_hindex is a no-op. */
void zt_hindex_deinit(struct zt_hindex *c);
/* The first entry of h's chain (then zt_hindex_next), or ZT_HINDEX_NIL. */
static inline uint32_t zt_hindex_first(const struct zt_hindex *c, uint32_t h) { return c->bucket[h & c->mask]; }
static inline uint32_t zt_hindex_next(const struct zt_hindex *c, uint32_t i) { return c->next[i]; }
/* Put entry i (not indexed now) at the head of h's chain. */
void zt_hindex_insert(struct zt_hindex *c, uint32_t h, uint32_t i);
/* Take entry i out of h's chain (no-op when it is not in it). */
void zt_hindex_remove(struct zt_hindex *c, uint32_t h, uint32_t i);

#endif
