/* fair.c: a feature's bounded work queue, fair per caller. See zt_fair.h. */
#include "zentalk/zt_fair.h"

#include <pthread.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"

#define CALLER_MAX 160

struct task {
    void *ud;
    zt_fair_step_fn step;
    zt_fair_done_fn done;
    struct caller *c;
    struct task *next;
};

struct caller {
    char key[CALLER_MAX];
    struct task *head, *tail; /* queued, oldest first */
    size_t n;                 /* queued + running */
    bool ready;               /* in the round-robin list */
    struct caller *next_ready;
    struct caller *next_all;
};

struct zt_fair {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct caller *all;                    /* every caller holding a task */
    struct caller *ready_head, *ready_tail; /* callers with queued tasks, round-robin */
    size_t n_tasks, max_tasks, max_per_caller;
    bool stopping;
    unsigned n_threads;
    pthread_t *threads;
};

static void ready_push(struct zt_fair *f, struct caller *c)
{
    if (c->ready) return;
    c->ready = true;
    c->next_ready = NULL;
    if (f->ready_tail) f->ready_tail->next_ready = c;
    else f->ready_head = c;
    f->ready_tail = c;
}

static struct caller *ready_pop(struct zt_fair *f)
{
    struct caller *c = f->ready_head;
    if (!c) return NULL;
    f->ready_head = c->next_ready;
    if (!f->ready_head) f->ready_tail = NULL;
    c->ready = false;
    return c;
}

/* A task of c ended (f->mu held): forget c when it holds none. */
static void task_ended(struct zt_fair *f, struct caller *c)
{
    f->n_tasks--;
    if (--c->n) return;
    for (struct caller **pp = &f->all; *pp; pp = &(*pp)->next_all)
        if (*pp == c) {
            *pp = c->next_all;
            break;
        }
    zt_free(c);
}

static void *worker(void *arg)
{
    struct zt_fair *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->ready_head && !f->stopping) pthread_cond_wait(&f->cv, &f->mu);
        struct caller *c = ready_pop(f);
        if (!c) break; /* stopping, nothing queued */
        struct task *t = c->head;
        c->head = t->next;
        if (!c->head) c->tail = NULL;
        else ready_push(f, c); /* its next task after the other callers' */
        bool stopped = f->stopping, more = false;
        pthread_mutex_unlock(&f->mu);
        if (!stopped) more = t->step(t->ud);
        pthread_mutex_lock(&f->mu);
        if (more && !f->stopping) {
            t->next = c->head; /* the caller's oldest task stays first */
            c->head = t;
            if (!c->tail) c->tail = t;
            ready_push(f, c);
            pthread_cond_signal(&f->cv);
            continue;
        }
        stopped = stopped || more;
        pthread_mutex_unlock(&f->mu);
        t->done(t->ud, stopped);
        pthread_mutex_lock(&f->mu);
        task_ended(f, c);
        zt_free(t);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int zt_fair_new(unsigned threads, size_t max_tasks, size_t max_per_caller, struct zt_fair **out)
{
    if (threads == 0 || threads > 64 || max_tasks == 0 || max_per_caller == 0) return ZT_EINVAL;
    struct zt_fair *f = zt_calloc(1, sizeof *f);
    if (!f) return ZT_ENOMEM;
    f->threads = zt_calloc(threads, sizeof *f->threads);
    if (!f->threads) {
        zt_free(f);
        return ZT_ENOMEM;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->max_tasks = max_tasks;
    f->max_per_caller = max_per_caller;
    for (; f->n_threads < threads; f->n_threads++)
        if (pthread_create(&f->threads[f->n_threads], NULL, worker, f) != 0) {
            zt_fair_free(f);
            return ZT_ENOMEM;
        }
    *out = f;
    return 0;
}

void zt_fair_free(struct zt_fair *f)
{
    if (!f) return;
    zt_threads_stop(&f->mu, &f->cv, &f->stopping, f->threads, f->n_threads);
    /* the workers drained the queue (done with stopped set) before leaving */
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    zt_free(f->threads);
    zt_free(f);
}

int zt_fair_submit(struct zt_fair *f, const char *caller, void *ud, zt_fair_step_fn step, zt_fair_done_fn done)
{
    struct task *t = zt_calloc(1, sizeof *t);
    if (!t) return ZT_ENOMEM;
    t->ud = ud;
    t->step = step;
    t->done = done;
    int rc = 0;
    pthread_mutex_lock(&f->mu);
    struct caller *c = f->all;
    while (c && strncmp(c->key, caller, sizeof c->key) != 0) c = c->next_all;
    if (f->stopping) rc = ZT_ECLOSED;
    else if (f->n_tasks >= f->max_tasks) rc = ZT_EBUSY;
    else if (c && c->n >= f->max_per_caller) rc = ZT_EPERM;
    else if (!c && !(c = zt_calloc(1, sizeof *c))) rc = ZT_ENOMEM;
    else if (c->n == 0) {
        zt_strlcpy(c->key, caller, sizeof c->key);
        c->next_all = f->all;
        f->all = c;
    }
    if (!rc) {
        t->c = c;
        if (c->tail) c->tail->next = t;
        else c->head = t;
        c->tail = t;
        c->n++;
        f->n_tasks++;
        ready_push(f, c);
        pthread_cond_signal(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    if (rc) zt_free(t);
    return rc;
}
