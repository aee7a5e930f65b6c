/* test_group_fixture: a failed group fixture fails the program.
 *
 * cmocka 1.1 prints "FAILED GROUP TEARDOWN" and still returns 0, so the
 * leak checks that run as group teardowns (orch_teardown,
 * zt_test_leak_teardown) could never fail a run (review11 F3). zt_test.h
 * routes cmocka_run_group_tests(_name) through zt_test_run_group, which
 * counts them. Each inner group below is run and its count checked: a
 * teardown that returns -1, one whose leak check fails an assertion, a
 * setup that fails, and a clean group that must count 0. */
#include "zt_test.h"

#include <stdio.h>

static void passes(void **state)
{
    (void)state;
}

static int teardown_returns_error(void **state)
{
    (void)state;
    return -1;
}

static void *leaked;

static int setup_mark(void **state)
{
    return zt_test_leak_setup(state);
}

static int teardown_leaks(void **state)
{
    leaked = zt_malloc(16); /* one allocation live past the mark */
    return zt_test_leak_teardown(state); /* fails an assertion: longjmps out */
}

static int setup_fails(void **state)
{
    (void)state;
    return -1;
}

static int teardown_ok(void **state)
{
    (void)state;
    return 0;
}

static const struct CMUnitTest inner[] = {cmocka_unit_test(passes)};

static void test_teardown_error_counts(void **state)
{
    (void)state;
    assert_int_equal(cmocka_run_group_tests_name("inner_teardown_error", inner, NULL, teardown_returns_error), 1);
}

static void test_teardown_leak_counts(void **state)
{
    (void)state;
    assert_int_equal(cmocka_run_group_tests_name("inner_teardown_leak", inner, setup_mark, teardown_leaks), 1);
    zt_free(leaked);
    leaked = NULL;
}

static void test_setup_failure_counts(void **state)
{
    (void)state;
    assert_true(cmocka_run_group_tests_name("inner_setup_fails", inner, setup_fails, teardown_ok) >= 1);
}

static void test_clean_group_counts_zero(void **state)
{
    (void)state;
    assert_int_equal(cmocka_run_group_tests_name("inner_clean", inner, setup_mark, teardown_ok), 0);
    assert_int_equal(cmocka_run_group_tests(inner, NULL, NULL), 0);
}

int main(void)
{
    /* The outer run is plain cmocka (_cmocka_run_group_tests): the inner
     * runs replace the wrapper's fixture pointers while it runs. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_teardown_error_counts),
        cmocka_unit_test(test_teardown_leak_counts),
        cmocka_unit_test(test_setup_failure_counts),
        cmocka_unit_test(test_clean_group_counts_zero),
    };
    return zt_test_exit(_cmocka_run_group_tests("group_fixture", tests, sizeof tests / sizeof tests[0], NULL, NULL));
}
