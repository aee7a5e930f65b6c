/* alloc.c: counting, failure-injecting allocation wrappers.
 *
 * The live count is exact for memory obtained here; realloc(NULL) counts as
 * an allocation and realloc(p, 0) is treated as an allocation of 1 byte so
 * the count stays meaningful. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "alloc_int.h"

static atomic_int_fast64_t live;
static atomic_int_fast64_t fail_countdown; /* 0 = off */

static int should_fail(void)
{
    int_fast64_t v = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (v > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &v, v - 1)) return v == 1;
    }
    return 0;
}

void *zt_malloc(size_t n)
{
    if (should_fail()) return NULL;
    void *p = malloc(n ? n : 1);
    if (p) atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

int zt_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return ZT_ERANGE;
    *out = r;
    return 0;
}

void *zt_calloc(size_t count, size_t size)
{
    size_t n;
    if (zt_mul_size(count, size, &n) != 0) return NULL;
    if (should_fail()) return NULL;
    void *p = calloc(n ? n : 1, 1);
    if (p) atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

void *zt_realloc(void *p, size_t n)
{
    if (!p) return zt_malloc(n);
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void *zt_reallocarray(void *p, size_t count, size_t size)
{
    size_t n;
    if (zt_mul_size(count, size, &n) != 0) return NULL;
    return zt_realloc(p, n);
}

void *zt_array_grow(void *p, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap && p) return p;
    size_t nc = *cap ? *cap : (first ? first : 1);
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return NULL;
        nc *= 2;
    }
    void *np = zt_reallocarray(p, nc, elem);
    if (!np) return NULL;
    *cap = nc;
    return np;
}

int zt_array_push(void *pv, size_t *n, size_t *cap, const void *x, size_t elem, size_t first)
{
    void *p;
    memcpy(&p, pv, sizeof p); /* an object pointer, whatever its type */
    p = zt_array_grow(p, cap, *n + 1, elem, first);
    if (!p) return ZT_ENOMEM;
    memcpy(pv, &p, sizeof p);
    memcpy((char *)p + *n * elem, x, elem);
    (*n)++;
    return 0;
}

char *zt_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = zt_malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *zt_strdup(const char *s)
{
    return zt_strndup(s, strlen(s));
}

void zt_free(void *p)
{
    if (!p) return;
    atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    free(p);
}

int64_t zt_alloc_live(void)
{
    return (int64_t)atomic_load(&live);
}

void zt_alloc_fail_after(int64_t n)
{
    atomic_store(&fail_countdown, n > 0 ? n : 0);
}
