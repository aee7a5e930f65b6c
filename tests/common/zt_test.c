/* zt_test.c: see zt_test.h. */
#include "zt_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ZT_TEST_MODELS_DEFAULT
#error "ZT_TEST_MODELS_DEFAULT (the tests/models path) is defined by tests/CMakeLists.txt"
#endif

static unsigned skips;

bool zt_test_model(const char *name, char *buf, size_t cap)
{
    const char *dir = getenv("ZT_TEST_MODELS_DIR");
    if (!dir || !*dir) dir = ZT_TEST_MODELS_DEFAULT;
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return false;
    FILE *f = fopen(buf, "rb");
    if (!f) return false;
    fclose(f);
    return true;
}

void zt_skip_part(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    skips++;
}

void zt__skip_counted(const char *file, int line)
{
    skips++;
    _skip(file, line);
}

unsigned zt_test_skips(void)
{
    return skips;
}

int zt_test_exit(int failures)
{
    if (failures) return 1;
    if (skips) {
        printf("%u skip(s): reported to ctest as skipped (exit %d); everything that ran passed\n", skips,
               ZT_TEST_SKIPPED);
        return ZT_TEST_SKIPPED;
    }
    return 0;
}

/* The group fixtures of the group zt_test_run_group runs now: a wrapper
 * marks itself pending, calls the real fixture and clears the mark only
 * when it returned 0. A failed assertion longjmps out of the fixture, so
 * the mark stays and the run counts it. */
static CMFixtureFunction group_setup, group_teardown;
static int setup_pending, teardown_pending;

static int group_setup_wrap(void **state)
{
    setup_pending = 1;
    int rc = group_setup(state);
    if (rc == 0) setup_pending = 0;
    return rc;
}

static int group_teardown_wrap(void **state)
{
    teardown_pending = 1;
    int rc = group_teardown(state);
    if (rc == 0) teardown_pending = 0;
    return rc;
}

int zt_test_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
                      CMFixtureFunction setup, CMFixtureFunction teardown)
{
    group_setup = setup;
    group_teardown = teardown;
    setup_pending = teardown_pending = 0;
    int failed = _cmocka_run_group_tests(name, tests, n, setup ? group_setup_wrap : NULL,
                                         teardown ? group_teardown_wrap : NULL);
    if (setup_pending) {
        printf("[  FAILED  ] %s: group setup failed\n", name);
        failed++;
    }
    if (teardown_pending) {
        printf("[  FAILED  ] %s: group teardown failed (a leak check, for example)\n", name);
        failed++;
    }
    fflush(stdout);
    return failed;
}

bool zt_test_have_program(const char *name)
{
    if (strchr(name, '/')) return access(name, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    char dir[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n && n < sizeof dir - 1) {
            char full[4352];
            memcpy(dir, path, n);
            dir[n] = '\0';
            snprintf(full, sizeof full, "%s/%s", dir, name);
            if (access(full, X_OK) == 0) return true;
        }
        path += n;
        if (*path == ':') path++;
    }
    return false;
}

void zt_test_on_text(void *ud, const char *t, size_t len)
{
    struct zt_test_text *x = ud;
    if (x->len + len < sizeof x->s) {
        memcpy(x->s + x->len, t, len);
        x->len += len;
        x->s[x->len] = '\0';
    }
}
