/* zt_sync.h: small helpers over pthread mutexes. */
#ifndef ZT_SYNC_H
#define ZT_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <stdint.h>

/* *v read under mu: a count its owner changes while holding mu. One per
 * type the counts have. */
static inline size_t zt_locked_size(pthread_mutex_t *mu, const size_t *v)
{
    pthread_mutex_lock(mu);
    size_t n = *v;
    pthread_mutex_unlock(mu);
    return n;
}

static inline unsigned zt_locked_unsigned(pthread_mutex_t *mu, const unsigned *v)
{
    pthread_mutex_lock(mu);
    unsigned n = *v;
    pthread_mutex_unlock(mu);
    return n;
}

static inline uint64_t zt_locked_u64(pthread_mutex_t *mu, const uint64_t *v)
{
    pthread_mutex_lock(mu);
    uint64_t n = *v;
    pthread_mutex_unlock(mu);
    return n;
}

/* The same under a read-write lock's read side. */
static inline size_t zt_rdlocked_size(pthread_rwlock_t *lock, const size_t *v)
{
    pthread_rwlock_rdlock(lock);
    size_t n = *v;
    pthread_rwlock_unlock(lock);
    return n;
}

/* A condition variable whose timed waits run on CLOCK_MONOTONIC (their
 * deadlines: zt_time_after_ms(CLOCK_MONOTONIC, ms)), so a wall-clock step
 * neither cuts a wait short nor stretches it. */
static inline void zt_cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* Set *flag under mu and wake every thread waiting on cv for it: stop a
 * worker (then join it), tell a waiter its result is in. */
static inline void zt_set_and_wake(pthread_mutex_t *mu, pthread_cond_t *cv, bool *flag)
{
    pthread_mutex_lock(mu);
    *flag = true;
    pthread_cond_broadcast(cv);
    pthread_mutex_unlock(mu);
}

/* One of the *n workers counted under mu has ended (or never started):
 * take it off and wake every thread waiting on cv for the count (a
 * shutdown waits for 0). */
static inline void zt_count_down(pthread_mutex_t *mu, pthread_cond_t *cv, size_t *n)
{
    pthread_mutex_lock(mu);
    (*n)--;
    pthread_cond_broadcast(cv);
    pthread_mutex_unlock(mu);
}

/* Stop the n threads th[] that wait on cv until *flag: set it, wake them,
 * join them. */
static inline void zt_threads_stop(pthread_mutex_t *mu, pthread_cond_t *cv, bool *flag, pthread_t *th, size_t n)
{
    zt_set_and_wake(mu, cv, flag);
    for (size_t i = 0; i < n; i++) pthread_join(th[i], NULL);
}

/* The same for one thread *th, when *started; *started is false after. */
static inline void zt_thread_stop(pthread_mutex_t *mu, pthread_cond_t *cv, bool *flag, pthread_t *th, bool *started)
{
    if (!*started) return;
    zt_threads_stop(mu, cv, flag, th, 1);
    *started = false;
}

#endif
