/* fuzz/pii.c: the PII detector over arbitrary bytes, with a custom pattern,
 * then again with a small first-name list (round 12: the PERSON_NAME scanner,
 * its compiled-in model, the brand, Korean-pair and sentence-start paths).
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

/* The detector with names: a few names, names that are words and words
 * ("name<TAB>u|a|w", sorted), so every kind of candidate occurs. */
static struct zt_pii_detector *names_detector(void)
{
    static struct zt_pii_detector *d;
    static const char names[] = "ana\tu\ncarol\tu\nclover\tw\ngrace\ta\nlunch\tw\nmay\ta\nparis\ta\n"
                                "sage\tw\nthe\tw\nwill\ta\n";
    if (!d && (zt_pii_detector_new(NULL, &d, NULL) != 0 || zt_pii_detector_set_names(d, names, sizeof names - 1) != 0))
        abort();
    return d;
}

static void check(const struct zt_pii_detector *d, const char *s, size_t size)
{
    struct zt_pii_hits h;
    zt_pii_hits_init(&h);
    int rc = zt_pii_detect(d, s, size, &h);
    if (rc != 0 && rc != ZT_ETOOBIG && rc != ZT_ENOMEM) abort();
    size_t end = 0;
    for (size_t i = 0; i < h.n; i++) {
        const struct zt_pii_hit *x = &h.v[i];
        if (x->start >= x->end || x->end > size || x->start < end) abort();
        if (x->type >= zt_pii_type_count(d)) abort();
        if (!(x->confidence > 0.0 && x->confidence <= 1.0)) abort();
        end = x->end;
        size_t n = x->end - x->start;
        if (x->type == ZT_PII_ETH && !zt_pii_eth_ok(s + x->start, n)) abort();
        if (x->type == ZT_PII_BTC && !zt_pii_btc_ok(s + x->start, n)) abort();
    }
    zt_pii_hits_deinit(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) return 0;
    const char *s = (const char *)data;
    check(detector(), s, size);
    check(names_detector(), s, size);
    return 0;
}
