/* identity_int.h: the test hook of src/crypto/identity.c (tests and the
 * key-file fuzzer); not part of the public API (zt_identity.h). */
#ifndef ZT_CRYPTO_IDENTITY_INT_H
#define ZT_CRYPTO_IDENTITY_INT_H

#include <stddef.h>
#include <stdint.h>

/* Test hook (zt__ = not a public API): lower the opslimit/memlimit a key
 * file may ask for (0, 0 restores the defaults), so tests and fuzzers stay
 * fast. Not thread-safe. */
void zt__identity_test_set_kdf_max(uint64_t opslimit_max, size_t memlimit_max);

#endif
