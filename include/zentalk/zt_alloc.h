/* zt_alloc.h: allocation wrappers.
 *
 * Every allocation in zentalk goes through these so that tests can count live
 * allocations (a test ends by asserting none leaked) and inject failures
 * (the Nth allocation from now fails), as curl's torture mode does.
 * zt_free(NULL) is a no-op. Thread-safe. */
#ifndef ZT_ALLOC_H
#define ZT_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

void *zt_malloc(size_t n);
void *zt_calloc(size_t count, size_t size); /* overflow-checked */
void *zt_realloc(void *p, size_t n);
void *zt_reallocarray(void *p, size_t count, size_t size); /* overflow-checked */

/* Room for at least need (> 0) elements of elem bytes in the array p whose
 * capacity is *cap: p itself when it has room, else p reallocated to a
 * capacity doubled from *cap (or first when *cap is 0) until need fits,
 * with *cap updated. NULL when the size overflows or memory runs out; p is
 * then untouched and still the caller's. The one "grow a dynamic array"
 * of the tree:
 *     struct item *v = zt_array_grow(a->v, &a->cap, a->n + 1, sizeof *v, 16);
 *     if (!v) return ZT_ENOMEM;
 *     a->v = v; */
void *zt_array_grow(void *p, size_t *cap, size_t need, size_t elem, size_t first);
/* Append the elem bytes at x to an array of *n elements and capacity *cap
 * grown as zt_array_grow() does, then ++*n. pv is the address of the
 * array's pointer (a T ** for any object type T, elem == sizeof(T)): it is
 * updated when the array moves. ZT_ENOMEM with nothing changed:
 *     return zt_array_push(&a->v, &a->n, &a->cap, &item, sizeof item, 16); */
ZT_NODISCARD int zt_array_push(void *pv, size_t *n, size_t *cap, const void *x, size_t elem, size_t first);
/* The end of a constructor that built obj step by step and holds the first
 * error in rc: rc == 0 hands obj to the caller through *out and gives 0;
 * otherwise obj is freed with free_fn (which must accept what was built so
 * far) and rc is given back, *out untouched. The one "on error unwind, else
 * hand out" tail of the tree:
 *     int rc = step_one(x);
 *     if (!rc) rc = step_two(x);
 *     return ZT_HAND_OUT(rc, x, x_free, out);
 * rc and obj are evaluated more than once: pass plain variables. */
#define ZT_HAND_OUT(rc, obj, free_fn, out) ((rc) ? ((free_fn)(obj), (rc)) : (*(out) = (obj), 0))
char *zt_strdup(const char *s);
char *zt_strndup(const char *s, size_t n);
void zt_free(void *p);

/* Number of live allocations made through these wrappers. */
int64_t zt_alloc_live(void);

/* Overflow-checked a*b; returns 0 and sets *out, or ZT_ERANGE. */
ZT_NODISCARD int zt_mul_size(size_t a, size_t b, size_t *out);

#endif
