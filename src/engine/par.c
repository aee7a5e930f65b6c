/* par.c: the thread team. See par.h.
 *
 * A run is published by storing fn/ctx and then bumping `gen` (release);
 * workers see the new generation (acquire), run their share and bump
 * `done`. A worker that has spun for a while without a new generation
 * sleeps on the condition variable; run() always broadcasts after bumping
 * gen under the mutex, and a worker re-checks gen under the same mutex
 * before waiting, so no wake-up is lost. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "par.h"
#include "zentalk/zt_alloc.h"

#define SPIN_ITERS 2000   /* pause-spins before yielding the CPU */
#define YIELD_ITERS 200   /* sched_yield()s before sleeping */

struct worker {
    struct zt__par *p;
    unsigned ith;
};

struct zt__par {
    unsigned n;
    pthread_t *threads;
    struct worker *workers;
    _Atomic unsigned gen;
    _Atomic unsigned done;
    atomic_bool stop;
    zt__par_fn fn;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct zt__par *p = w->p;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_acquire)) {
            /* more threads than cores: yield so the thread with work runs */
            if (++spins < SPIN_ITERS) {
                cpu_relax();
                continue;
            }
            if (spins < SPIN_ITERS + YIELD_ITERS) {
                sched_yield();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&p->stop, memory_order_acquire))
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
            spins = 0;
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        seen = g;
        p->fn(p->ctx, w->ith, p->n);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel);
    }
    return NULL;
}

int zt__par_new(unsigned n_threads, struct zt__par **out)
{
    if (n_threads < 1 || n_threads > 256) return ZT_EINVAL;
    struct zt__par *p = zt_calloc(1, sizeof *p);
    if (!p) return ZT_ENOMEM;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (n_threads > 1) {
        p->threads = zt_calloc(n_threads, sizeof *p->threads);
        p->workers = zt_calloc(n_threads, sizeof *p->workers);
        if (!p->threads || !p->workers) {
            p->n = 1;
            zt__par_free(p);
            return ZT_ENOMEM;
        }
        for (unsigned i = 1; i < n_threads; i++) {
            p->workers[i] = (struct worker){p, i};
            if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) {
                p->n = i; /* join the ones that started */
                zt__par_free(p);
                return ZT_ENOMEM;
            }
        }
    }
    *out = p;
    return 0;
}

unsigned zt__par_threads(const struct zt__par *p)
{
    return p->n;
}

void zt__par_run(struct zt__par *p, zt__par_fn fn, void *ctx)
{
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    for (unsigned spins = 0; atomic_load_explicit(&p->done, memory_order_acquire) != p->n - 1; spins++) {
        if (spins < SPIN_ITERS) cpu_relax();
        else sched_yield();
    }
}

void zt__par_free(struct zt__par *p)
{
    if (!p) return;
    if (p->threads) {
        pthread_mutex_lock(&p->mu);
        atomic_store_explicit(&p->stop, true, memory_order_release);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (unsigned i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    zt_free(p->threads);
    zt_free(p->workers);
    zt_free(p);
}
