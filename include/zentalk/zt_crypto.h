/* zt_crypto.h: cryptography for zentalk-ai, on libsodium. Sub-modules have
 * their own headers (zt_hpke.h, ...). */
#ifndef ZT_CRYPTO_H
#define ZT_CRYPTO_H

#include "zt_error.h"

/* Initialise libsodium (idempotent, thread-safe). 0 or ZT_ECRYPTO. */
ZT_NODISCARD int zt_crypto_init(void);

#endif
