/* zt_keccak.h: the EIP-191 ("personal_sign") message hash that Ethereum
 * wallets sign: Keccak-256("\x19Ethereum Signed Message:\n" || decimal
 * length || msg). Keccak-256 itself is zt_keccak256() in zt_hash.h. */
#ifndef ZT_KECCAK_H
#define ZT_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#include "zt_hash.h"

void zt_eip191_hash(const void *msg, size_t n, uint8_t out[static ZT_KECCAK256_LEN]);

#endif
