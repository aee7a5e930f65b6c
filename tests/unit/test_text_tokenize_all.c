/* test_text_tokenize_all.c: zt_text_tokenize_all, the one "tokenise the
 * whole text" the features share (intent, summarize, embed, context). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_text.h"

static void test_stack_heap_and_errors(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    const char *text = "Meet me at 10am, ok? https://example.com 🙂 thanks";
    size_t len = strlen(text);
    struct zt_token want[64];
    size_t nwant = 0;
    assert_int_equal(zt_text_tokenize(text, len, want, 64, &nwant), 0);
    assert_true(nwant > 4 && nwant < 64);

    /* Fits the stack: no allocation, the stack itself. */
    struct zt_token stack[64], *toks = NULL;
    size_t n = 0;
    assert_int_equal(zt_text_tokenize_all(text, len, stack, 64, &toks, &n), 0);
    assert_ptr_equal(toks, stack);
    assert_int_equal(n, nwant);
    assert_memory_equal(toks, want, n * sizeof *toks);
    assert_int_equal(zt_alloc_live(), live);

    /* Too small a stack, or none: a new array with the same tokens. */
    assert_int_equal(zt_text_tokenize_all(text, len, stack, 2, &toks, &n), 0);
    assert_ptr_not_equal(toks, stack);
    assert_int_equal(n, nwant);
    assert_memory_equal(toks, want, n * sizeof *toks);
    zt_free(toks);
    assert_int_equal(zt_text_tokenize_all(text, len, NULL, 0, &toks, &n), 0);
    assert_int_equal(n, nwant);
    assert_memory_equal(toks, want, n * sizeof *toks);
    zt_free(toks);

    /* Empty text: zero tokens (an array to free when there is no stack). */
    assert_int_equal(zt_text_tokenize_all("", 0, NULL, 0, &toks, &n), 0);
    assert_int_equal(n, 0);
    zt_free(toks);

    /* Bad UTF-8 and a failed allocation leave *toks alone. */
    toks = NULL;
    assert_int_equal(zt_text_tokenize_all("a\xff", 2, NULL, 0, &toks, &n), ZT_EPARSE);
    assert_null(toks);
    zt_alloc_fail_after(1);
    assert_int_equal(zt_text_tokenize_all(text, len, NULL, 0, &toks, &n), ZT_ENOMEM);
    assert_null(toks);
    assert_int_equal(zt_alloc_live(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_heap_and_errors),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
