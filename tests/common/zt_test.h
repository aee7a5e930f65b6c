/* zt_test.h: what every test shares, unit and black-box: where the
 * committed test models are, and skips that ctest counts as skipped.
 *
 * A test that cannot run (a model, an asset, a program it needs is absent)
 * calls zt_skip("why"): the reason is printed and the cmocka test is
 * skipped. A part of a test that cannot run calls zt_skip_part("why") and
 * goes on. main() returns zt_test_exit(failures): the failure count when
 * something failed, else ZT_TEST_SKIPPED (77, the SKIP_RETURN_CODE every
 * ctest entry carries) when anything was skipped, else 0. So ctest's
 * summary shows an executable that could not run all of itself as
 * "Skipped" (with the reasons in its output), never as a clean pass, and
 * a failure beside a skip still fails. cmocka 1.1 itself returns 0 for a
 * group whose tests were all skipped, hence this counter. */
#ifndef ZT_TEST_H
#define ZT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "zentalk/zt_alloc.h"
#include "../../src/core/alloc_int.h" /* zt_alloc_fail_after */

#define ZT_TEST_SKIPPED 77

/* The committed test file NAME under tests/models (for example
 * "stories260K.gguf" or "tokenizer-tests/llama-spm.inp") as a path in buf:
 * $ZT_TEST_MODELS_DIR/NAME, else the tests/models path compiled in.
 * False if it cannot be opened (the caller skips, saying so). */
bool zt_test_model(const char *name, char *buf, size_t cap);

/* Like zt_test_model, but skips the current test (with the reason) when
 * the file is absent. */
#define zt_need_model(name, buf, cap)                                                        \
    do {                                                                                     \
        if (!zt_test_model((name), (buf), (cap)))                                            \
            zt_skip("test model %s not found (tests/models, or set ZT_TEST_MODELS_DIR)", (name)); \
    } while (0)

/* Print "SKIP: <reason>" and count one skip (a part of a test that did not
 * run). The test goes on. */
void zt_skip_part(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print the reason, count it and skip the current cmocka test. */
#define zt_skip(...)                                                                         \
    do {                                                                                     \
        zt_skip_part(__VA_ARGS__);                                                           \
        _skip(__FILE__, __LINE__);                                                           \
    } while (0)

/* cmocka's own skip(), counted too (a test that printed its reason some
 * other way and then calls skip() is still reported as skipped). */
void zt__skip_counted(const char *file, int line);
#undef skip
#define skip() zt__skip_counted(__FILE__, __LINE__)

/* How many skips were counted so far. */
unsigned zt_test_skips(void);

/* The exit status of a test program whose cmocka groups reported
 * `failures` in all: failures -> 1, else any skip -> ZT_TEST_SKIPPED, else 0. */
int zt_test_exit(int failures);

/* cmocka 1.1 leaves a failed group setup or teardown out of the count it
 * returns (it prints "FAILED GROUP TEARDOWN" and returns 0), so a leak
 * check run as a group teardown could never fail the program. Every group
 * run through cmocka_run_group_tests(_name) in a file that includes this
 * header goes through zt_test_run_group instead: it returns cmocka's count
 * plus one for each group fixture that returned non-zero or failed an
 * assertion. */
int zt_test_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
                      CMFixtureFunction setup, CMFixtureFunction teardown);
#undef cmocka_run_group_tests
#undef cmocka_run_group_tests_name
#define cmocka_run_group_tests(tests, setup, teardown)                                       \
    zt_test_run_group(#tests, (tests), sizeof(tests) / sizeof((tests)[0]), (setup), (teardown))
#define cmocka_run_group_tests_name(name, tests, setup, teardown)                            \
    zt_test_run_group((name), (tests), sizeof(tests) / sizeof((tests)[0]), (setup), (teardown))

/* True if NAME is an executable file in $PATH (or a path to one). */
bool zt_test_have_program(const char *name);

/* Text a callback streams (ud, text, len: a job's tokens), collected
 * NUL-terminated: zt_test_on_text with ud a zeroed struct zt_test_text;
 * what does not fit in s is dropped. */
struct zt_test_text {
    char s[4096];
    size_t len;
};
void zt_test_on_text(void *ud, const char *t, size_t len);

/* ---- a loopback server of a few lines, for peers that misbehave on purpose ----
 * zt_test_tcp_start listens on 127.0.0.1 (a free port) and hands each
 * connection it accepts to fn(fd, ud) on its own thread, one at a time,
 * closing it after; zt_test_tcp_stop ends the thread and the socket.
 * zt_test_http_read reads a request's head and the body its
 * Content-Length announces into buf (NUL-terminated): the total length,
 * *head_len the head's (with its blank line), or 0 on a short read. */
struct zt_test_tcp;
typedef void (*zt_test_tcp_fn)(int fd, void *ud);
struct zt_test_tcp *zt_test_tcp_start(zt_test_tcp_fn fn, void *ud);
uint16_t zt_test_tcp_port(const struct zt_test_tcp *s);
void zt_test_tcp_stop(struct zt_test_tcp *s);
size_t zt_test_http_read(int fd, char *buf, size_t cap, size_t *head_len);

/* ---- the allocation leak check around each unit test ----
 * zt_test_leak_mark() notes how many zt_alloc allocations are live
 * (zt_test_leak_base() says how many); zt_test_leak_check() ends any allocation-failure injection
 * (zt_alloc_fail_after(0)) and fails the test when the count differs.
 * zt_test_leak_setup / zt_test_leak_teardown are the two as cmocka setup
 * and teardown functions; a test with more to set up calls them from its
 * own. (Defined here, static, so that a test that never calls them need
 * not link zt_core.) */
static int64_t zt_test__live_at_mark __attribute__((unused));

static inline void zt_test_leak_mark(void)
{
    zt_test__live_at_mark = zt_alloc_live();
}

/* The count zt_test_leak_mark() noted. */
static inline int64_t zt_test_leak_base(void)
{
    return zt_test__live_at_mark;
}

static inline void zt_test_leak_check(void)
{
    zt_alloc_fail_after(0);
    assert_int_equal(zt_alloc_live(), zt_test__live_at_mark); /* nothing leaked */
}

static inline int zt_test_leak_setup(void **state)
{
    (void)state;
    zt_test_leak_mark();
    return 0;
}

static inline int zt_test_leak_teardown(void **state)
{
    (void)state;
    zt_test_leak_check();
    return 0;
}

/* ---- float bit casts ---- */
static inline uint32_t zt_test_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float zt_test_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ZT_TEST_ASAN: this test is built with AddressSanitizer (gcc or clang);
 * the Vulkan tests pass over the device there (Mesa's own allocations
 * upset LeakSanitizer). */
#if defined(__SANITIZE_ADDRESS__)
#define ZT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZT_TEST_ASAN 1
#endif
#endif

#endif
