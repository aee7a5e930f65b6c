/* test_par.c: the engine's thread team (src/engine/par.c): every item of a
 * zt__par_for is done exactly once, in chunks no larger than the grain, by
 * thread ids below the team size, over many back-to-back runs (late workers
 * must never take a chunk of a later run), with more threads than cores,
 * and the default thread count is the affinity mask's CPU count. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../../src/engine/par.h"
#include "zentalk/zt_model.h"

#define MAX_ITEMS 6000

struct run {
    _Atomic uint32_t hits[MAX_ITEMS];
    size_t grain, n;
    unsigned nth;
    atomic_int bad; /* a chunk over the grain or a tid out of range */
};

static void mark(void *ctx, size_t i0, size_t i1, unsigned tid)
{
    struct run *r = ctx;
    /* chunks of at most the grain, or the whole range when one thread works alone */
    bool whole = i0 == 0 && i1 == r->n;
    if (i1 <= i0 || (i1 - i0 > r->grain && !whole) || tid >= r->nth) atomic_store(&r->bad, 1);
    for (size_t i = i0; i < i1; i++) atomic_fetch_add_explicit(&r->hits[i], 1, memory_order_relaxed);
}

static void check_team(unsigned nth, unsigned runs)
{
    struct zt__par *p = NULL;
    assert_int_equal(zt__par_new(nth, &p), 0);
    assert_int_equal(zt__par_threads(p), nth);
    struct run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->nth = nth;
    uint32_t seed = 12345u + nth;
    for (unsigned k = 0; k < runs; k++) {
        seed = seed * 1664525u + 1013904223u;
        size_t n = (seed >> 8) % MAX_ITEMS;
        r->grain = 1 + (seed >> 3) % 97;
        r->n = n;
        for (size_t i = 0; i < MAX_ITEMS; i++) atomic_store_explicit(&r->hits[i], 0, memory_order_relaxed);
        zt__par_for(p, n, r->grain, mark, r);
        assert_int_equal(atomic_load(&r->bad), 0);
        for (size_t i = 0; i < MAX_ITEMS; i++) {
            uint32_t h = atomic_load_explicit(&r->hits[i], memory_order_relaxed);
            if (h != (i < n ? 1u : 0u)) fail_msg("threads %u run %u n %zu grain %zu: item %zu done %u times", nth, k, n, r->grain, i, h);
        }
    }
    zt__par_free(p);
    free(r);
}

static void test_every_item_once(void **state)
{
    (void)state;
    check_team(1, 50);
    check_team(2, 400);
    check_team(3, 300);
    check_team(8, 200); /* more threads than this machine's cores: late workers */
}

static void test_bad_args(void **state)
{
    (void)state;
    struct zt__par *p = NULL;
    assert_int_equal(zt__par_new(0, &p), ZT_EINVAL);
    assert_int_equal(zt__par_new(257, &p), ZT_EINVAL);
    zt__par_free(NULL);
    assert_int_equal(zt__par_new(2, &p), 0);
    zt__par_for(p, 0, 1, mark, NULL); /* no items: fn never called (NULL ctx would crash) */
    zt__par_free(p);
}

static void test_default_threads(void **state)
{
    (void)state;
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int c = CPU_COUNT(&set);
    unsigned want = c < 1 ? 1u : c > 256 ? 256u : (unsigned)c;
    assert_int_equal(zt__par_default_threads(), want);
    assert_int_equal(zt_model_default_threads(), want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_item_once),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_default_threads),
    };
    return zt_test_exit(cmocka_run_group_tests_name("par", tests, NULL, NULL));
}
