/* fuzz/pseudo.c: pseudonymise -> restore round trip over arbitrary bytes.
 * The input is split in two "messages" of one job at the first NUL (or
 * half way). Invariants: restoring a pseudonymised message gives it back
 * byte for byte (unless the text itself held something shaped like one of
 * the job's pseudonyms), the same value always gets the same pseudonym,
 * and restore never fails on any input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_pseudo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int one(struct zt_pseudo *p, const char *t, size_t n)
{
    struct zt_pii_hits h;
    zt_pii_hits_init(&h);
    struct zt_buf masked, back;
    zt_buf_init(&masked, 1 << 20);
    zt_buf_init(&back, 1 << 20);
    int rc = zt_pii_detect(NULL, t, n, &h);
    if (rc == 0) rc = zt_pseudo_apply(p, t, n, &h, &masked);
    if (rc == 0) {
        if (zt_pseudo_restore(p, masked.data ? masked.data : "", masked.len, &back) != 0) abort();
        /* a text that already holds "<EMAIL_1>"-like strings is ambiguous by design */
        if (!memchr(t, '<', n) && (back.len != n || (n && memcmp(back.data, t, n) != 0))) abort();
    } else if (rc != ZT_ETOOBIG && rc != ZT_ENOMEM) {
        abort();
    }
    /* restore of the raw input: any bytes */
    zt_buf_reset(&back);
    rc = zt_pseudo_restore(p, t, n, &back);
    if (rc != 0 && rc != ZT_ETOOBIG && rc != ZT_ENOMEM) abort();
    zt_pii_hits_deinit(&h);
    zt_buf_deinit(&masked);
    zt_buf_deinit(&back);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) return 0;
    const char *s = (const char *)data;
    const char *nul = memchr(s, 0, size);
    size_t cut = nul ? (size_t)(nul - s) : size / 2;
    struct zt_pseudo *p = NULL;
    if (zt_pseudo_new(NULL, &p) != 0) return 0;
    one(p, s, cut);
    size_t before = zt_pseudo_count(p);
    one(p, s, cut); /* the same message again adds no new value */
    if (zt_pseudo_count(p) != before) abort();
    if (cut < size) one(p, s + cut + (nul ? 1 : 0), size - cut - (nul ? 1 : 0));
    zt_pseudo_free(p);
    return 0;
}
