/* fuzz/pseudo_stream.c: the streaming restore of pseudonyms
 * (zt_pseudo_stream_*) over arbitrary job output cut into arbitrary
 * pieces. The first byte seeds the piece sizes; the rest is the output.
 * Invariants: feeding never fails on any bytes (short of memory), the held
 * tail stays under ZT_PSEUDO_PSEUDONYM_MAX, and the result equals the
 * one-shot zt_pseudo_restore() of the whole output: cutting the stream
 * never loses, duplicates or half-restores a pseudonym. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_pseudo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zt_pseudo *mapping(void)
{
    static const char text[] = "a@b.io, c.d@example.org, +44 20 7946 0018, 4111 1111 1111 1111";
    struct zt_pseudo *p = NULL;
    if (zt_pseudo_new(NULL, &p) != 0) return NULL;
    struct zt_pii_hits h;
    zt_pii_hits_init(&h);
    struct zt_buf masked;
    zt_buf_init(&masked, 4096);
    if (zt_pii_detect(NULL, text, sizeof text - 1, &h) != 0 ||
        zt_pseudo_apply(p, text, sizeof text - 1, &h, &masked) != 0) {
        zt_pseudo_free(p);
        p = NULL;
    }
    zt_pii_hits_deinit(&h);
    zt_buf_deinit(&masked);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384) return 0;
    struct zt_pseudo *p = mapping();
    if (!p) return 0;
    uint32_t seed = data[0] * 2654435761u + 1u;
    const char *t = (const char *)data + 1;
    size_t n = size - 1;
    struct zt_buf whole, streamed;
    zt_buf_init(&whole, 1 << 20);
    zt_buf_init(&streamed, 1 << 20);
    if (zt_pseudo_restore(p, t, n, &whole) != 0) abort();
    struct zt_pseudo_stream st;
    zt_pseudo_stream_init(&st, p);
    for (size_t i = 0; i < n;) {
        seed = seed * 1103515245u + 12345u;
        size_t step = 1 + (seed >> 16) % 61;
        if (step > n - i) step = n - i;
        if (zt_pseudo_stream_feed(&st, t + i, step, &streamed) != 0) abort();
        if (st.n_held >= ZT_PSEUDO_PSEUDONYM_MAX) abort();
        i += step;
    }
    if (zt_pseudo_stream_end(&st, &streamed) != 0) abort();
    if (st.n_held != 0) abort();
    if (streamed.len != whole.len || (whole.len && memcmp(streamed.data, whole.data, whole.len) != 0)) abort();
    zt_pseudo_stream_deinit(&st);
    zt_buf_deinit(&whole);
    zt_buf_deinit(&streamed);
    zt_pseudo_free(p);
    return 0;
}
