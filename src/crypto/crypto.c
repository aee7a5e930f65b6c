/* crypto.c: library initialisation. */
#include <sodium.h>

#include "zentalk/zt_crypto.h"

int zt_crypto_init(void)
{
    return sodium_init() < 0 ? ZT_ECRYPTO : 0;
}
