/* hash.c: SHA-256 through nettle (its x86-64 code uses the SHA
 * extensions where the CPU has them: 4 to 9 times libsodium's portable
 * SHA-256 on the benchmark machine, which was 60% of a mesh pull's CPU),
 * BLAKE2b through libsodium. */
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <nettle/sha3.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"

_Static_assert(sizeof(struct sha256_ctx) <= sizeof(((struct zt_sha256_ctx *)0)->opaque),
               "zt_sha256_ctx too small for nettle's state");
_Static_assert(SHA256_DIGEST_SIZE == ZT_SHA256_LEN, "SHA-256 length");

int zt_hash_init(void)
{
    return sodium_init() < 0 ? ZT_ECRYPTO : 0;
}

void zt_sha256(uint8_t out[static ZT_SHA256_LEN], const void *in, size_t n)
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, n, in);
    sha256_digest(&c, ZT_SHA256_LEN, out);
}

_Static_assert(ZT_KEYED_HASH_KEY_LEN == crypto_shorthash_KEYBYTES, "SipHash key length");

uint64_t zt_keyed_hash64(const void *in, size_t n, const uint8_t key[static ZT_KEYED_HASH_KEY_LEN])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, in, n, key);
    return zt_get_le64(h);
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
    sha256_init((struct sha256_ctx *)(void *)c->opaque);
}

void zt_sha256_update(struct zt_sha256_ctx *c, const void *in, size_t n)
{
    sha256_update((struct sha256_ctx *)(void *)c->opaque, n, in);
}

void zt_sha256_final(struct zt_sha256_ctx *c, uint8_t out[static ZT_SHA256_LEN])
{
    sha256_digest((struct sha256_ctx *)(void *)c->opaque, ZT_SHA256_LEN, out);
    sodium_memzero(c, sizeof *c);
}

static int sha256_chunk(void *ud, const void *p, size_t n)
{
    zt_sha256_update(ud, p, n);
    return 0;
}

int zt_sha256_fd(int fd, uint8_t out[static ZT_SHA256_LEN])
{
    enum { CHUNK = 1 << 20 };
    void *buf = zt_malloc(CHUNK);
    if (!buf) return ZT_ENOMEM;
    struct zt_sha256_ctx c;
    zt_sha256_init(&c);
    int rc = zt_fd_read_chunks(fd, buf, CHUNK, sha256_chunk, &c);
    int e = errno;
    if (rc == 0) zt_sha256_final(&c, out);
    sodium_memzero(&c, sizeof c);
    zt_free(buf);
    errno = e;
    return rc;
}

int zt_sha256_file(const char *path, uint8_t out[static ZT_SHA256_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return ZT_EIO;
    int rc = zt_sha256_fd(fd, out);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Keccak-256: Debian ships no Keccak-256 (pre-SHA-3 padding) library, so
 * this is only the sponge around nettle's Keccak-f[1600] permutation:
 * absorb 136-byte blocks (rate 1088 bits) as little-endian lanes, pad with
 * 0x01 ... 0x80 (SHA3-256 would use 0x06), squeeze 32 bytes. */
#define KECCAK256_RATE 136

static void keccak_absorb(struct sha3_state *st, const uint8_t *block)
{
    for (size_t i = 0; i < KECCAK256_RATE / 8; i++) st->a[i] ^= zt_get_le64(block + 8 * i);
    sha3_permute(st);
}

void zt_keccak256v(uint8_t out[static ZT_KECCAK256_LEN], const void *const *parts, const size_t *lens,
                   size_t n)
{
    struct sha3_state st;
    memset(&st, 0, sizeof st);
    uint8_t block[KECCAK256_RATE];
    size_t fill = 0;
    for (size_t k = 0; k < n; k++) {
        const uint8_t *q = parts[k];
        size_t m = lens[k];
        while (m) {
            size_t take = KECCAK256_RATE - fill < m ? KECCAK256_RATE - fill : m;
            memcpy(block + fill, q, take);
            fill += take, q += take, m -= take;
            if (fill == KECCAK256_RATE) {
                keccak_absorb(&st, block);
                fill = 0;
            }
        }
    }
    memset(block + fill, 0, KECCAK256_RATE - fill);
    block[fill] ^= 0x01;
    block[KECCAK256_RATE - 1] ^= 0x80;
    keccak_absorb(&st, block);
    for (size_t i = 0; i < 32; i++) out[i] = (uint8_t)(st.a[i / 8] >> (8 * (i % 8)));
    sodium_memzero(&st, sizeof st);
    sodium_memzero(block, sizeof block);
}

void zt_keccak256(uint8_t out[static ZT_KECCAK256_LEN], const void *in, size_t n)
{
    const void *parts[1] = {in};
    size_t lens[1] = {n};
    zt_keccak256v(out, parts, lens, 1);
}
