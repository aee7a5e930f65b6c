/* keccak.c: Keccak-256 and the EIP-191 message hash. See zt_keccak.h.
 *
 * The Keccak-f[1600] permutation comes from nettle (nettle_sha3_permute).
 * Debian ships no Keccak-256 (pre-SHA-3 padding) library, so keccak256()
 * below is only the sponge around nettle's permutation: absorb 136-byte
 * blocks (rate 1088 bits) as little-endian lanes, pad with 0x01 ... 0x80
 * (SHA3-256 would use 0x06), squeeze 32 bytes. */
#include <nettle/sha3.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_keccak.h"

#define KECCAK256_RATE 136

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void absorb(struct sha3_state *st, const uint8_t *block)
{
    for (size_t i = 0; i < KECCAK256_RATE / 8; i++) st->a[i] ^= le64(block + 8 * i);
    sha3_permute(st);
}

void zt_keccak256(const void *p, size_t n, uint8_t out[32])
{
    struct sha3_state st;
    memset(&st, 0, sizeof st);
    const uint8_t *in = p;
    for (; n >= KECCAK256_RATE; in += KECCAK256_RATE, n -= KECCAK256_RATE) absorb(&st, in);
    uint8_t last[KECCAK256_RATE];
    memset(last, 0, sizeof last);
    if (n) memcpy(last, in, n);
    last[n] ^= 0x01;
    last[KECCAK256_RATE - 1] ^= 0x80;
    absorb(&st, last);
    for (size_t i = 0; i < 32; i++) out[i] = (uint8_t)(st.a[i / 8] >> (8 * (i % 8)));
    sodium_memzero(&st, sizeof st);
    sodium_memzero(last, sizeof last);
}

void zt_eip191_hash(const void *msg, size_t n, uint8_t out[32])
{
    char prefix[64];
    int pl = snprintf(prefix, sizeof prefix, "\x19" "Ethereum Signed Message:\n%zu", n);
    struct sha3_state st;
    memset(&st, 0, sizeof st);
    /* stream prefix || msg through the sponge without copying msg */
    uint8_t block[KECCAK256_RATE];
    size_t fill = 0;
    const uint8_t *parts[2] = {(const uint8_t *)prefix, msg};
    size_t lens[2] = {(size_t)pl, n};
    for (int k = 0; k < 2; k++) {
        const uint8_t *q = parts[k];
        size_t m = lens[k];
        while (m) {
            size_t take = KECCAK256_RATE - fill < m ? KECCAK256_RATE - fill : m;
            memcpy(block + fill, q, take);
            fill += take, q += take, m -= take;
            if (fill == KECCAK256_RATE) {
                absorb(&st, block);
                fill = 0;
            }
        }
    }
    memset(block + fill, 0, KECCAK256_RATE - fill);
    block[fill] ^= 0x01;
    block[KECCAK256_RATE - 1] ^= 0x80;
    absorb(&st, block);
    for (size_t i = 0; i < 32; i++) out[i] = (uint8_t)(st.a[i / 8] >> (8 * (i % 8)));
    sodium_memzero(&st, sizeof st);
}
