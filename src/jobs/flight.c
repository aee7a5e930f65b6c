/* flight.c: the job pool (zt_jobs.h): a bounded number of detached threads
 * for jobs in flight (the gateway's remote jobs, the relay's forwards).
 * A thread whose job ended waits up to IDLE_MS for the next one before it
 * exits, so a steady stream of jobs does not create (and fault in the
 * stack of) a thread per job. Shutdown waits on a condition variable, not
 * a sleep loop. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "transfer.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define IDLE_MS 10000u /* how long a thread whose job ended waits for another */

struct start {
    struct zt_job_pool *p;
    void (*fn)(void *);
    void *arg;
    struct start *next;
};

struct zt_job_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* signalled when a job or a thread ends */
    pthread_cond_t work; /* a job was queued for a waiting thread, or the pool stops */
    unsigned max, inflight;
    unsigned threads;    /* alive, running a job or waiting for one */
    unsigned idle;       /* waiting threads no queued job is promised to yet */
    struct start *head, *tail; /* jobs handed to waiting threads */
    atomic_bool stopping;
};

int zt_job_pool_new(unsigned max_inflight, struct zt_job_pool **out)
{
    if (!out) return ZT_EINVAL;
    if (zt__jobs_http_init() != 0) return ZT_EIO;
    struct zt_job_pool *p = zt_calloc(1, sizeof *p);
    if (!p) {
        zt__jobs_http_cleanup();
        return ZT_ENOMEM;
    }
    zt_cond_init_mono(&p->cv);
    zt_cond_init_mono(&p->work);
    pthread_mutex_init(&p->mu, NULL);
    p->max = max_inflight ? max_inflight : 1;
    *out = p;
    return 0;
}

int zt_job_pool_reserve(struct zt_job_pool *p)
{
    if (atomic_load(&p->stopping)) return ZT_ECLOSED;
    pthread_mutex_lock(&p->mu);
    bool full = p->inflight >= p->max;
    if (!full) p->inflight++;
    pthread_mutex_unlock(&p->mu);
    return full ? ZT_EBUSY : 0;
}

void zt_job_pool_unreserve(struct zt_job_pool *p)
{
    pthread_mutex_lock(&p->mu);
    if (p->inflight) p->inflight--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* The next job for a thread whose job ended, or NULL (it exits) after
 * IDLE_MS without one. */
static struct start *next_job(struct zt_job_pool *p)
{
    struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, IDLE_MS);
    pthread_mutex_lock(&p->mu);
    p->idle++;
    while (!p->head && !atomic_load(&p->stopping))
        if (pthread_cond_timedwait(&p->work, &p->mu, &until) != 0) break;
    struct start *s = p->head;
    if (s) { /* its spawner counted this thread out of idle */
        p->head = s->next;
        if (!p->head) p->tail = NULL;
    } else {
        p->idle--;
        p->threads--;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void *run(void *arg)
{
    struct start *a = arg;
    struct zt_job_pool *p = a->p;
    while (a) {
        struct start s = *a;
        zt_free(a);
        s.fn(s.arg);
        zt_job_pool_unreserve(p);
        a = next_job(p);
    }
    return NULL;
}

int zt_job_pool_spawn(struct zt_job_pool *p, void (*fn)(void *), void *arg)
{
    struct start *s = zt_malloc(sizeof *s);
    if (!s) return ZT_ENOMEM;
    *s = (struct start){.p = p, .fn = fn, .arg = arg};
    pthread_mutex_lock(&p->mu);
    if (p->idle > 0) { /* a waiting thread takes it */
        p->idle--;
        if (p->tail) p->tail->next = s;
        else p->head = s;
        p->tail = s;
        pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    p->threads++;
    pthread_mutex_unlock(&p->mu);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int prc = pthread_create(&t, &attr, run, s);
    pthread_attr_destroy(&attr);
    if (prc != 0) {
        zt_free(s);
        pthread_mutex_lock(&p->mu);
        p->threads--;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return ZT_EIO;
    }
    return 0;
}

bool zt_job_pool_stopping(struct zt_job_pool *p)
{
    return atomic_load(&p->stopping);
}

unsigned zt_job_pool_inflight(struct zt_job_pool *p)
{
    return p ? zt_locked_unsigned(&p->mu, &p->inflight) : 0;
}

unsigned zt_job_pool_shutdown(struct zt_job_pool *p, uint64_t wait_ms)
{
    if (!p) return 0;
    atomic_store(&p->stopping, true);
    struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, wait_ms);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->work); /* waiting threads exit */
    while (p->inflight > 0)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0) break;
    unsigned left = p->inflight;
    pthread_mutex_unlock(&p->mu);
    return left;
}

/* Wait (up to the same kind of deadline) until every thread has exited:
 * a thread past its job still reads p. True when none is left. */
static bool threads_gone(struct zt_job_pool *p, uint64_t wait_ms)
{
    struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, wait_ms);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->work);
    while (p->threads > 0)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0) break;
    bool gone = p->threads == 0;
    pthread_mutex_unlock(&p->mu);
    return gone;
}

int zt_job_pool_close(struct zt_job_pool *p, uint64_t wait_ms, const char *owner)
{
    if (!p) return 0;
    if (zt_job_pool_shutdown(p, wait_ms) > 0 || !threads_gone(p, wait_ms + 1000)) {
        /* a thread still holds p: leak it rather than free under it */
        char event[48];
        snprintf(event, sizeof event, "%s_leak", owner ? owner : "job_pool");
        zt_log(ZT_LOG_WARN, event, "detail=\"jobs still running at shutdown\"");
        return ZT_EBUSY;
    }
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    zt_free(p);
    zt__jobs_http_cleanup();
    return 0;
}
