/* zt_keccak.h: Keccak-256 (Ethereum's hash) and the EIP-191 message hash.
 *
 * Keccak-256 is the original Keccak padding (0x01), not SHA3-256 (0x06);
 * the permutation is nettle's. Used by wallet login (EIP-191 signatures,
 * EIP-55 addresses) and the PII detector (EIP-55 checksums). */
#ifndef ZT_KECCAK_H
#define ZT_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define ZT_KECCAK256_LEN 32

/* out = Keccak-256(p[0..n)). */
void zt_keccak256(const void *p, size_t n, uint8_t out[ZT_KECCAK256_LEN]);
/* EIP-191 personal_sign hash: Keccak-256("\x19Ethereum Signed Message:\n" +
 * decimal(n) + msg), streamed without copying msg. */
void zt_eip191_hash(const void *msg, size_t n, uint8_t out[ZT_KECCAK256_LEN]);

#endif
