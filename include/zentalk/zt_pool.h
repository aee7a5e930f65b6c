/* zt_pool.h: a small fixed-size thread pool with a bounded FIFO queue.
 *
 * Tasks run in submission order on any worker. zt_pool_submit() never blocks:
 * a full queue is ZT_EBUSY (the caller decides to retry or refuse work).
 * zt_pool_free() runs every queued task, then joins the workers. */
#ifndef ZT_POOL_H
#define ZT_POOL_H

#include <stddef.h>

#include "zt_error.h"

struct zt_pool;
typedef void (*zt_pool_fn)(void *arg);

/* nthreads in [1, 1024], queue_max >= 1. */
ZT_NODISCARD int zt_pool_new(size_t nthreads, size_t queue_max, struct zt_pool **out);
ZT_NODISCARD int zt_pool_submit(struct zt_pool *p, zt_pool_fn fn, void *arg);
/* Block until the queue is empty and no task is running. */
void zt_pool_wait_idle(struct zt_pool *p);
size_t zt_pool_threads(const struct zt_pool *p);
void zt_pool_free(struct zt_pool *p);

#endif
