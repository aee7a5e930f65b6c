/* keccak.c: the EIP-191 message hash (zt_keccak.h), over the Keccak-256
 * sponge of zt_hash.h (src/core/hash.c, on nettle's permutation). */
#include <stdio.h>

#include "zentalk/zt_hash.h"
#include "zentalk/zt_keccak.h"

void zt_eip191_hash(const void *msg, size_t n, uint8_t out[static ZT_KECCAK256_LEN])
{
    char prefix[64];
    int pl = snprintf(prefix, sizeof prefix, "\x19" "Ethereum Signed Message:\n%zu", n);
    /* prefix || msg through the sponge without copying msg */
    const void *parts[2] = {prefix, msg};
    size_t lens[2] = {(size_t)pl, n};
    zt_keccak256v(out, parts, lens, 2);
}
