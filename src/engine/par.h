/* par.h: a persistent team of threads for data-parallel loops (internal to
 * src/engine). zt__par_run(p, fn, ctx) runs fn(ctx, ith, nth) on every
 * thread of the team (the caller is thread 0) and returns when all are
 * done. Workers spin briefly between runs, then sleep, so the many short
 * loops of a forward pass do not pay a wake-up each. */
#ifndef ZT_ENGINE_PAR_H
#define ZT_ENGINE_PAR_H

#include <stddef.h>

#include "zentalk/zt_error.h"

struct zt__par;
typedef void (*zt__par_fn)(void *ctx, unsigned ith, unsigned nth);

ZT_NODISCARD int zt__par_new(unsigned n_threads, struct zt__par **out);
unsigned zt__par_threads(const struct zt__par *p);
void zt__par_run(struct zt__par *p, zt__par_fn fn, void *ctx);
void zt__par_free(struct zt__par *p);

/* The [begin, end) share of n items for thread ith of nth (contiguous, sizes
 * differ by at most one). */
static inline void zt__par_range(size_t n, unsigned ith, unsigned nth, size_t *begin, size_t *end)
{
    size_t base = n / nth, rem = n % nth;
    *begin = ith * base + (ith < rem ? ith : rem);
    *end = *begin + base + (ith < rem ? 1 : 0);
}

#endif
