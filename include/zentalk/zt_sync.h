/* zt_sync.h: small helpers over pthread mutexes. */
#ifndef ZT_SYNC_H
#define ZT_SYNC_H

#include <pthread.h>
#include <stddef.h>

/* *v read under mu: a count its owner changes while holding mu. */
static inline size_t zt_locked_size(pthread_mutex_t *mu, const size_t *v)
{
    pthread_mutex_lock(mu);
    size_t n = *v;
    pthread_mutex_unlock(mu);
    return n;
}

#endif
