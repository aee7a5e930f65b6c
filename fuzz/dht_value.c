/* fuzz/dht_value.c: one value read from the discovery DHT
 * (zt__dht_check_value, src/net/dht.c), where anyone can put any bytes.
 * Properties: every input is junk, a descriptor that fits the lookup (it
 * verifies, lists the role and model, and is not expired at the fixed
 * time) or a valid revocation; nothing else comes back, nothing leaks
 * (every allocation it made is given back), nothing crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../src/net/dht_int.h"
#include "zentalk/zt_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        if (sodium_init() < 0) abort();
        json_set_alloc_funcs(zt_malloc, zt_free);
        init = true;
    }
    int64_t live = zt_alloc_live();
    struct zt_node_descriptor d;
    struct zt_dht_revocation r;
    memset(&d, 0, sizeof d);
    int k = zt__dht_check_value(data, size, 1767225600, "worker", "stories", NULL, &d, &r);
    if (k == ZT__DHT_DESCRIPTOR) {
        bool model = false;
        for (size_t i = 0; i < d.n_models; i++) model |= strcmp(d.models[i], "stories") == 0;
        if (!model || d.expires <= 1767225600) abort();
        zt_node_descriptor_deinit(&d);
    } else if (k == ZT__DHT_REVOCATION) {
        if (!r.node_id[0] || r.at < 0) abort();
    } else if (k != ZT__DHT_JUNK) {
        abort();
    }
    if (zt_alloc_live() != live) abort();
    return 0;
}
