/* fuzz/pii.c: the PII detector over arbitrary bytes, with a custom pattern.
 * Invariants: hits in bounds, sorted, non-overlapping, of a known type,
 * with confidence in (0, 1]; each validated hit re-validates on its own. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_config.h"
#include "zentalk/zt_pii.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zt_pii_detector *detector(void)
{
    static struct zt_pii_detector *d;
    static struct zt_cfg_pii_pattern pat = {.type = "TICKET", .regex = "T-[0-9]{4,8}"};
    static struct zt_cfg_privacy p = {.extra_patterns = &pat, .n_extra_patterns = 1};
    if (!d && zt_pii_detector_new(&p, &d, NULL) != 0) abort();
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) return 0;
    const char *s = (const char *)data;
    struct zt_pii_hits h;
    zt_pii_hits_init(&h);
    int rc = zt_pii_detect(detector(), s, size, &h);
    if (rc != 0 && rc != ZT_ETOOBIG && rc != ZT_ENOMEM) abort();
    size_t end = 0;
    for (size_t i = 0; i < h.n; i++) {
        const struct zt_pii_hit *x = &h.v[i];
        if (x->start >= x->end || x->end > size || x->start < end) abort();
        if (x->type >= zt_pii_type_count(detector())) abort();
        if (!(x->confidence > 0.0 && x->confidence <= 1.0)) abort();
        end = x->end;
        size_t n = x->end - x->start;
        if (x->type == ZT_PII_ETH && !zt_pii_eth_ok(s + x->start, n)) abort();
        if (x->type == ZT_PII_BTC && !zt_pii_btc_ok(s + x->start, n)) abort();
    }
    zt_pii_hits_deinit(&h);
    return 0;
}
