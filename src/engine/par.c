/* par.c: the thread team. See par.h.
 *
 * A run ("job") lives in one of two slots (seq & 1). The caller fills the
 * slot, then publishes the run by storing `next` = (seq << 40 | 0) and
 * bumping the futex word `run_seq`. Every thread takes chunks with a CAS on
 * `next` that checks the run's seq, so a worker that wakes up late can
 * neither take a chunk of a finished run nor read a slot being refilled for
 * a later one: if its CAS succeeds, the run it read the slot of was still
 * current, and a slot is only refilled two runs later, after every chunk of
 * the run before was done. Each finished chunk adds its item count to the
 * slot's `done`; the caller returns when done == n, waiting for chunks that
 * other threads hold, never for threads that hold none.
 *
 * Futex waits, both with the Dekker pattern (seq_cst store of "I may
 * sleep", then re-check; the waker changes the word, then loads the flag):
 * workers sleep on `run_seq` (counted in `sleepers`, so a run costs a
 * FUTEX_WAKE only when someone sleeps); the caller sleeps on `done_word`,
 * bumped by the worker finishing the last chunk when `caller_sleeps`. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "par.h"
#include "zentalk/zt_alloc.h"

#define WINDOW 16       /* team runs per verdict */
#define SOLO_MIN 64     /* runs alone after a bad window, doubling while bad */
#define SOLO_MAX 4096
#define SPIN_ITERS 4000 /* pause-spins (some tens of µs) before a futex wait */
#define IDX_BITS 40
#define IDX_MASK ((UINT64_C(1) << IDX_BITS) - 1)

struct job {
    _Atomic(zt__par_fn) fn;
    _Atomic(void *) ctx;
    _Atomic size_t n, grain;
    _Atomic size_t done;
};

struct worker {
    struct zt__par *p;
    unsigned tid;
};

struct zt__par {
    unsigned n;
    pthread_t *threads;
    struct worker *workers;
    struct job job[2];
    _Atomic uint64_t next;        /* seq << 40 | first item not yet taken */
    _Atomic uint32_t run_seq;     /* futex: bumped for every run (low bits of seq) */
    _Atomic uint32_t sleepers;    /* workers in (or entering) a futex wait */
    _Atomic uint32_t done_word;   /* futex: bumped when the last chunk ends */
    _Atomic uint32_t caller_sleeps;
    atomic_bool stop;
    /* caller only */
    uint64_t seq;
    uint64_t win_team_ns, win_solo_ns; /* this window: team runs' time, the caller's estimate alone */
    unsigned win_runs, solo_left, solo_len;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether the team earned its keep: after every WINDOW team runs, compare
 * their time with what the caller alone would have taken at the rate it
 * worked in them. When a worker keeps losing its core (another process,
 * more threads than cores) the caller waits for chunks held by a
 * descheduled thread and the team is slower than one thread: then the
 * caller works alone for solo_len runs (doubling while the verdict stays
 * bad) and tries the team again. Only who computes an item changes, never
 * its value. */
static void judge(struct zt__par *p, uint64_t team_ns, uint64_t solo_est_ns)
{
    p->win_team_ns += team_ns;
    p->win_solo_ns += solo_est_ns;
    if (++p->win_runs < WINDOW) return;
    bool bad = p->win_team_ns > p->win_solo_ns;
    p->win_runs = 0;
    p->win_team_ns = p->win_solo_ns = 0;
    if (bad) {
        p->solo_len = p->solo_len ? (p->solo_len * 2 > SOLO_MAX ? SOLO_MAX : p->solo_len * 2) : SOLO_MIN;
        p->solo_left = p->solo_len;
    } else {
        p->solo_len = 0;
    }
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
#ifdef __linux__
    syscall(SYS_futex, (uint32_t *)(uintptr_t)w, /* the kernel reads the word */ FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
#else
    (void)w;
    (void)val;
    sched_yield();
#endif
}

static void futex_wake_all(_Atomic uint32_t *w)
{
#ifdef __linux__
    syscall(SYS_futex, (uint32_t *)(uintptr_t)w, /* the kernel reads the word */ FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)w;
#endif
}

/* Takes and runs chunks of the current run until none is left; the number
 * of items this thread did. */
static size_t work(struct zt__par *p, unsigned tid)
{
    size_t mine = 0;
    for (;;) {
        uint64_t w = atomic_load_explicit(&p->next, memory_order_acquire);
        struct job *j = &p->job[(w >> IDX_BITS) & 1];
        size_t i0 = (size_t)(w & IDX_MASK);
        size_t n = atomic_load_explicit(&j->n, memory_order_relaxed);
        if (i0 >= n) return mine;
        size_t g = atomic_load_explicit(&j->grain, memory_order_relaxed);
        zt__par_fn fn = atomic_load_explicit(&j->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&j->ctx, memory_order_relaxed);
        size_t i1 = n - i0 > g ? i0 + g : n;
        if (!atomic_compare_exchange_weak_explicit(&p->next, &w, (w & ~IDX_MASK) | (uint64_t)i1,
                                                   memory_order_acq_rel, memory_order_relaxed))
            continue; /* another thread took it, or a new run began: re-read */
        fn(ctx, i0, i1, tid);
        mine += i1 - i0;
        size_t d = atomic_fetch_add(&j->done, i1 - i0) + (i1 - i0); /* seq_cst: Dekker with caller_sleeps */
        if (d == n && tid != 0 && atomic_load(&p->caller_sleeps)) {
            atomic_fetch_add(&p->done_word, 1);
            futex_wake_all(&p->done_word);
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct zt__par *p = wk->p;
    uint32_t seen = 0;
    for (;;) {
        uint32_t s;
        for (int spins = 0; (s = atomic_load_explicit(&p->run_seq, memory_order_acquire)) == seen &&
                            !atomic_load_explicit(&p->stop, memory_order_acquire);) {
            if (++spins < SPIN_ITERS) {
                cpu_relax();
                continue;
            }
            atomic_fetch_add(&p->sleepers, 1);
            if (atomic_load(&p->run_seq) == seen && !atomic_load(&p->stop)) futex_wait(&p->run_seq, seen);
            atomic_fetch_sub(&p->sleepers, 1);
            spins = 0;
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        seen = s;
        (void)work(p, wk->tid);
    }
    return NULL;
}

unsigned zt__par_default_threads(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int c = CPU_COUNT(&set);
        if (c >= 1) return c > 256 ? 256u : (unsigned)c;
    }
#endif
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c < 1 ? 1u : c > 256 ? 256u : (unsigned)c;
}

int zt__par_new(unsigned n_threads, struct zt__par **out)
{
    if (n_threads < 1 || n_threads > 256) return ZT_EINVAL;
    struct zt__par *p = zt_calloc(1, sizeof *p);
    if (!p) return ZT_ENOMEM;
    p->n = n_threads;
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

void zt__par_for(struct zt__par *p, size_t n, size_t grain, zt__par_fn fn, void *ctx)
{
    if (grain == 0) grain = 1;
    if (n == 0) return;
    if (p->n == 1 || n <= grain) { /* one chunk: not worth a wake-up */
        fn(ctx, 0, n, 0);
        return;
    }
    if (p->solo_left) {
        p->solo_left--;
        fn(ctx, 0, n, 0);
        return;
    }
    uint64_t t0 = now_ns();
    /* The slot of seq+1 was last used by run seq-1, whose chunks are all done. */
    uint64_t seq = ++p->seq;
    struct job *j = &p->job[seq & 1];
    atomic_store_explicit(&j->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&j->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&j->n, n, memory_order_relaxed);
    atomic_store_explicit(&j->grain, grain, memory_order_relaxed);
    atomic_store_explicit(&j->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->next, (seq & ((UINT64_C(1) << (64 - IDX_BITS)) - 1)) << IDX_BITS,
                          memory_order_release);
    atomic_store(&p->run_seq, (uint32_t)seq);
    if (atomic_load(&p->sleepers)) futex_wake_all(&p->run_seq);
    size_t mine = work(p, 0);
    uint64_t t1 = now_ns();
    /* wait for the chunks other threads still hold */
    for (unsigned spins = 0; atomic_load_explicit(&j->done, memory_order_acquire) != n;) {
        if (++spins < SPIN_ITERS) {
            cpu_relax();
            continue;
        }
        uint32_t dw = atomic_load(&p->done_word);
        atomic_store(&p->caller_sleeps, 1);
        if (atomic_load(&j->done) != n) futex_wait(&p->done_word, dw);
        atomic_store(&p->caller_sleeps, 0);
        spins = 0;
    }
    uint64_t t2 = now_ns();
    /* alone, the caller would have done all n items at its rate here */
    judge(p, t2 - t0, mine ? (uint64_t)((double)(t1 - t0) * (double)n / (double)mine) : t2 - t0);
}

void zt__par_free(struct zt__par *p)
{
    if (!p) return;
    if (p->threads) {
        atomic_store(&p->stop, true);
        atomic_fetch_add(&p->run_seq, 1);
        futex_wake_all(&p->run_seq);
        for (unsigned i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    }
    zt_free(p->threads);
    zt_free(p->workers);
    zt_free(p);
}
