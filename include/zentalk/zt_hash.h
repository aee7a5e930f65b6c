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

#endif
