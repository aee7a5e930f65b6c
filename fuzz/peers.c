/* fuzz/peers.c: the peers file parser (src/net/peers.c). Properties: any
 * input loads or fails with ZT_EPARSE/ZT_ETOOBIG/ZT_ENOMEM; on success the
 * kept count equals the registry size and every kept peer can be looked up
 * (unforgeable inputs mean it is nearly always zero, but nothing crashes
 * and a failed load leaves the previous registry). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_peers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        if (sodium_init() < 0) abort();
        zt_log_set_level(ZT_LOG_OFF); /* dropped descriptors are logged */
        init = true;
    }
    if (size > 1 << 16) return 0;
    struct zt_peers *p = NULL;
    if (zt_peers_new(&p) != 0) return 0;
    size_t kept = 0, dropped = 0;
    int rc = zt_peers_load_text(p, (const char *)data, size, 1767225600, &kept, &dropped, NULL);
    if (rc == 0 && kept != zt_peers_count(p)) abort();
    if (rc != 0 && rc != ZT_EPARSE && rc != ZT_ETOOBIG && rc != ZT_ENOMEM) abort();
    if (rc != 0 && zt_peers_count(p) != 0) abort();
    zt_peers_free(p);
    return 0;
}
