/* par.h: a persistent team of threads for data-parallel loops (internal to
 * src/engine).
 *
 * zt__par_for(p, n, grain, fn, ctx) covers the items [0, n) with calls
 * fn(ctx, i0, i1, tid) on chunks of at most `grain` items that the threads
 * take from a shared counter (the caller is tid 0 and always works), and
 * returns when every item is done. When the caller works alone (a team of
 * one, n <= grain, or the team's fallback below) it makes one call for
 * [0, n). A thread that loses its core (another
 * process, more threads than cores) only delays the chunk it holds: the
 * others take the rest, and a worker that arrives after the last chunk was
 * taken does nothing, so two threads never wait for a descheduled third.
 * Which thread computes an item must never change its value (the engine's
 * kernels compute each output element the same way wherever its chunk
 * starts), so results are the same for every thread count.
 *
 * Waiting: workers spin briefly on a new run, then sleep on a futex; the
 * caller spins briefly on the last chunks, then sleeps until the worker
 * holding them finishes. Every 16 team runs the caller compares their time
 * with its own rate times n; when the team lost (a worker kept losing its
 * core), the caller works alone for 64 runs (doubling while it keeps
 * losing, up to 4096) before trying the team again. */
#ifndef ZT_ENGINE_PAR_H
#define ZT_ENGINE_PAR_H

#include <stddef.h>

#include "zentalk/zt_error.h"

struct zt__par;
typedef void (*zt__par_fn)(void *ctx, size_t i0, size_t i1, unsigned tid);

/* n_threads in [1, 256]. */
ZT_NODISCARD int zt__par_new(unsigned n_threads, struct zt__par **out);
unsigned zt__par_threads(const struct zt__par *p);
/* n < 2^40 items; grain >= 1 (0 counts as 1). */
void zt__par_for(struct zt__par *p, size_t n, size_t grain, zt__par_fn fn, void *ctx);
void zt__par_free(struct zt__par *p);

/* The CPUs this process may run on (sched_getaffinity), in [1, 256]: the
 * default thread count, so a container or taskset limit is respected. */
unsigned zt__par_default_threads(void);

#endif
