/* test_context.c: the conversation context builder (zt_context.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_context.h"
#include "zt_test.h"

/* one token per byte: exact, easy answers */
static long bytes(const char *text, size_t len, void *ud)
{
    (void)text;
    if (ud) (*(int *)ud)++;
    return (long)len;
}

static long failing(const char *text, size_t len, void *ud)
{
    (void)text, (void)len, (void)ud;
    return ZT_EIO;
}

#define MSG(f, t) {f, t, sizeof t - 1}

static void test_estimate(void **state)
{
    (void)state;
    assert_int_equal(zt_context_estimate("", 0), 0);
    /* 2 words -> ceil(2.6) = 3, plus ',' and '!' */
    assert_int_equal(zt_context_estimate("Hello, world!", 13), 5);
    /* 10 words -> 13 */
    const char *s = "one two three four five six seven eight nine ten";
    assert_int_equal(zt_context_estimate(s, strlen(s)), 13);
    /* an emoji run counts once; numbers and URLs are words */
    const char *e = "ok \xf0\x9f\x91\x8d\xf0\x9f\x91\x8d 3.50 https://x.org";
    assert_int_equal(zt_context_estimate(e, strlen(e)), 4 + 1);
    assert_int_equal(zt_context_estimate("\xff", 1), ZT_EPARSE);
    /* more than the stack array of tokens */
    char big[3000];
    for (size_t i = 0; i < 1000; i++) memcpy(big + 3 * i, "ab ", 3);
    assert_int_equal(zt_context_estimate(big, sizeof big), 1300);
}

static void test_build(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    const struct zt_ctx_msg conv[] = {MSG("A", "hi"), MSG("B", "hello there"), MSG("A", "ok")};
    /* lines: "A: hi\n" 6, "B: hello there\n" 15, "A: ok\n" 6 */
    struct zt_ctx_result r;
    assert_int_equal(zt_context_build(conv, 3, 27, bytes, NULL, &r), 0);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.tokens, 27);
    assert_false(r.truncated);
    assert_int_equal(zt_context_build(conv, 3, 26, bytes, NULL, &r), 0);
    assert_int_equal(r.first, 1);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.tokens, 21);
    /* B does not fit: stop there (never skip to an older message) */
    assert_int_equal(zt_context_build(conv, 3, 20, bytes, NULL, &r), 0);
    assert_int_equal(r.first, 2);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.tokens, 6);
    assert_false(r.truncated);
    assert_int_equal(r.last_len, 2);
    /* the newest alone is too long: cut */
    assert_int_equal(zt_context_build(conv, 3, 5, bytes, NULL, &r), 0);
    assert_int_equal(r.n, 1);
    assert_true(r.truncated);
    assert_int_equal(r.last_len, 1);
    assert_int_equal(r.tokens, 5);
    struct zt_buf b;
    zt_buf_init(&b, 1024);
    assert_int_equal(zt_context_render(conv, &r, &b), 0);
    assert_string_equal(zt_buf_str(&b), "A: o\n");
    /* not even the speaker fits */
    assert_int_equal(zt_context_build(conv, 3, 3, bytes, NULL, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.tokens, 0);
    /* render of several, oldest first */
    assert_int_equal(zt_context_build(conv, 3, 100, bytes, NULL, &r), 0);
    zt_buf_reset(&b);
    assert_int_equal(zt_context_render(conv, &r, &b), 0);
    assert_string_equal(zt_buf_str(&b), "A: hi\nB: hello there\nA: ok\n");
    zt_buf_deinit(&b);
    /* an empty conversation */
    assert_int_equal(zt_context_build(conv, 0, 100, bytes, NULL, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_utf8_cut(void **state)
{
    (void)state;
    /* "h\xc3\xa9llo": a 2-byte text prefix would split the e-acute */
    const struct zt_ctx_msg one[] = {MSG("A", "h\xc3\xa9llo")};
    struct zt_ctx_result r;
    assert_int_equal(zt_context_build(one, 1, 6, bytes, NULL, &r), 0); /* "A: " + 2 + "\n" = 6 */
    assert_true(r.truncated);
    assert_int_equal(r.last_len, 1);
    assert_int_equal(zt_context_build(one, 1, 7, bytes, NULL, &r), 0);
    assert_int_equal(r.last_len, 3);
    /* bisection: few count calls for a long message */
    char big[4096];
    memset(big, 'x', sizeof big);
    const struct zt_ctx_msg longm[] = {{"bob", big, sizeof big}};
    int calls = 0;
    assert_int_equal(zt_context_build(longm, 1, 1000, bytes, &calls, &r), 0);
    assert_true(r.truncated);
    assert_int_equal(r.last_len, 1000 - 6);
    assert_true(calls < 20);
}

static void test_estimator_and_errors(void **state)
{
    (void)state;
    const struct zt_ctx_msg conv[] = {MSG("alice", "Are we still on for lunch?"), MSG("bob", "Yes, 12:30 works.")};
    struct zt_ctx_result r;
    /* estimates: "alice: Are we still on for lunch?\n" = 7 words -> 10, ':' '?' -> 12;
     * "bob: Yes, 12:30 works.\n" = bob yes 12 30 works -> 7, ':' ',' ':' '.' -> 11 */
    assert_int_equal(zt_context_build(conv, 2, 23, NULL, NULL, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.tokens, 23);
    assert_int_equal(zt_context_build(conv, 2, 22, NULL, NULL, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.tokens, 11);
    assert_int_equal(zt_context_build(conv, 2, 100, failing, NULL, &r), ZT_EIO);
    const struct zt_ctx_msg bad[] = {MSG("a", "\xc3")};
    assert_int_equal(zt_context_build(bad, 1, 100, NULL, NULL, &r), ZT_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_utf8_cut),
        cmocka_unit_test(test_estimator_and_errors),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
