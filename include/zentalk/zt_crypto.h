/* zt_crypto.h: cryptography for zentalk-ai, on libsodium. Sub-modules have
 * their own headers (zt_hpke.h, ...). */
#ifndef ZT_CRYPTO_H
#define ZT_CRYPTO_H

#include "zt_error.h"

/* Initialise libsodium (idempotent, thread-safe). 0 or ZT_ECRYPTO. */
ZT_NODISCARD int zt_crypto_init(void);

#include <stddef.h>

/* Guarded memory for secrets (sodium_malloc: guard pages, mlock), reused.
 * A sodium_malloc/sodium_free pair is about ten system calls (mmap,
 * mprotect, mlock, madvise and their undoing; the munmap's TLB shootdowns
 * cost more in a threaded process), made several times per network job.
 * zt_secure_free wipes the block and keeps it (at most ZT_SECURE_CACHE
 * blocks per size, a few sizes) for the next zt_secure_alloc of the same
 * size; past that it sodium_frees it. A block is always guarded memory:
 * a kept one keeps its guard pages and lock, and holds zeros. Thread-safe.
 * zt_secure_alloc: NULL when out of memory; the contents are unspecified
 * (zero when reused, libsodium's fill when new). size must be the size
 * the block was allocated with. zt_secure_free(NULL, n) does nothing. */
#define ZT_SECURE_CACHE 16
void *zt_secure_alloc(size_t size);
void zt_secure_free(void *p, size_t size);
/* Blocks currently kept for reuse (tests). */
size_t zt_secure_cached(void);

#endif
