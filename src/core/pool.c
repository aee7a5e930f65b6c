/* pool.c: fixed-size thread pool with a bounded ring-buffer queue. */
#include <pthread.h>
#include <stdbool.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_pool.h"
#include "zentalk/zt_sync.h"

struct task {
    zt_pool_fn fn;
    void *arg;
};

struct zt_pool {
    pthread_mutex_t mu;
    pthread_cond_t has_work;  /* signalled when a task is queued or on shutdown */
    pthread_cond_t idle;      /* signalled when the pool may have become idle */
    struct task *ring;
    size_t cap, head, count;
    size_t running;           /* tasks being executed */
    bool stopping;
    size_t nthreads;
    pthread_t *threads;
};

static void *worker_main(void *arg)
{
    struct zt_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->stopping) pthread_cond_wait(&p->has_work, &p->mu);
        if (p->count == 0 && p->stopping) break;
        struct task t = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        t.fn(t.arg);
        pthread_mutex_lock(&p->mu);
        p->running--;
        if (p->count == 0 && p->running == 0) pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int zt_pool_new(size_t nthreads, size_t queue_max, struct zt_pool **out)
{
    if (nthreads < 1 || nthreads > 1024 || queue_max < 1) return ZT_EINVAL;
    struct zt_pool *p = zt_calloc(1, sizeof *p);
    if (!p) return ZT_ENOMEM;
    /* first: zt_pool_free undoes any step below */
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->has_work, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->ring = zt_calloc(queue_max, sizeof *p->ring);
    p->threads = zt_calloc(nthreads, sizeof *p->threads);
    if (!p->ring || !p->threads) {
        zt_pool_free(p);
        return ZT_ENOMEM;
    }
    p->cap = queue_max;
    for (size_t i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            p->nthreads = i;
            zt_pool_free(p);
            return ZT_ENOMEM;
        }
    }
    p->nthreads = nthreads;
    *out = p;
    return 0;
}

int zt_pool_submit(struct zt_pool *p, zt_pool_fn fn, void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        rc = ZT_ECLOSED;
    } else if (p->count == p->cap) {
        rc = ZT_EBUSY;
    } else {
        p->ring[(p->head + p->count) % p->cap] = (struct task){fn, arg};
        p->count++;
        pthread_cond_signal(&p->has_work);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void zt_pool_wait_idle(struct zt_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->count > 0 || p->running > 0) pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

size_t zt_pool_threads(const struct zt_pool *p)
{
    return p->nthreads;
}

void zt_pool_free(struct zt_pool *p)
{
    if (!p) return;
    zt_threads_stop(&p->mu, &p->has_work, &p->stopping, p->threads, p->nthreads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->has_work);
    pthread_cond_destroy(&p->idle);
    zt_free(p->ring);
    zt_free(p->threads);
    zt_free(p);
}
