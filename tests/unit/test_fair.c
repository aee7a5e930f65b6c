/* test_fair.c: the per-feature work queue of src/core/fair.c (issue 17
 * item 8) without a server: a caller with many long tasks does not keep a
 * one-step task of another caller waiting behind them, the queue's bounds
 * (per caller, in total), and shutdown answers what is still queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "zentalk/zt_fair.h"
#include "zentalk/zt_alloc.h"
#include "zt_test.h"

#define LOG_MAX 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char steps[LOG_MAX]; /* who stepped, in order */
static size_t n_steps, n_done, n_stopped;
static bool gate_open;

struct task {
    char who;
    int left;
    bool gated; /* its first step waits for the gate */
};

static bool step(void *arg)
{
    struct task *t = arg;
    pthread_mutex_lock(&mu);
    if (t->gated) {
        t->gated = false;
        steps[n_steps++] = t->who; /* running: the test may go on */
        pthread_cond_broadcast(&cv);
        while (!gate_open) pthread_cond_wait(&cv, &mu);
    } else if (n_steps < LOG_MAX) {
        steps[n_steps++] = t->who;
    }
    pthread_mutex_unlock(&mu);
    return --t->left > 0;
}

static void done(void *arg, bool stopped)
{
    pthread_mutex_lock(&mu);
    n_done++;
    n_stopped += stopped;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    zt_free(arg);
}

static struct task *task(char who, int n, bool gated)
{
    struct task *t = zt_calloc(1, sizeof *t);
    assert_non_null(t);
    *t = (struct task){who, n, gated};
    return t;
}

static void reset(void)
{
    memset(steps, 0, sizeof steps);
    n_steps = n_done = n_stopped = 0;
    gate_open = false;
}

/* One worker: while A's first step runs, A queues two more 5-step tasks and
 * B one 1-step task. B is served after at most one more step of A, not
 * after A's 14 remaining steps. */
static void test_round_robin(void **state)
{
    (void)state;
    reset();
    struct zt_fair *f = NULL;
    assert_int_equal(zt_fair_new(1, 16, 8, &f), 0);
    assert_int_equal(zt_fair_submit(f, "A", task('A', 5, true), step, done), 0);
    pthread_mutex_lock(&mu);
    while (n_steps == 0) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    assert_int_equal(zt_fair_submit(f, "A", task('A', 5, false), step, done), 0);
    assert_int_equal(zt_fair_submit(f, "A", task('A', 5, false), step, done), 0);
    assert_int_equal(zt_fair_submit(f, "B", task('B', 1, false), step, done), 0);
    pthread_mutex_lock(&mu);
    gate_open = true;
    pthread_cond_broadcast(&cv);
    while (n_done < 4) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    assert_int_equal(n_steps, 16);
    const char *b = memchr(steps, 'B', n_steps);
    assert_non_null(b);
    assert_true(b - steps <= 2);
    assert_int_equal(n_stopped, 0);
    zt_fair_free(f);
}

/* Bounds: per caller (ZT_EPERM), in total (ZT_EBUSY); shutdown answers the
 * queued tasks with stopped set. */
static void test_bounds_and_shutdown(void **state)
{
    (void)state;
    reset();
    struct zt_fair *f = NULL;
    assert_int_equal(zt_fair_new(1, 4, 2, &f), 0);
    assert_int_equal(zt_fair_submit(f, "A", task('A', 1, true), step, done), 0); /* held at the gate */
    pthread_mutex_lock(&mu);
    while (n_steps == 0) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    assert_int_equal(zt_fair_submit(f, "A", task('A', 1, false), step, done), 0);
    struct task *t = task('A', 1, false);
    assert_int_equal(zt_fair_submit(f, "A", t, step, done), ZT_EPERM); /* the task stays ours */
    assert_int_equal(zt_fair_submit(f, "B", t, step, done), 0);
    assert_int_equal(zt_fair_submit(f, "C", task('C', 1, false), step, done), 0);
    t = task('D', 1, false);
    assert_int_equal(zt_fair_submit(f, "D", t, step, done), ZT_EBUSY);
    zt_free(t);
    pthread_mutex_lock(&mu);
    gate_open = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    zt_fair_free(f); /* every task is answered: run, or stopped */
    assert_int_equal(n_done, 4);
    assert_true(n_stopped <= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_bounds_and_shutdown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
