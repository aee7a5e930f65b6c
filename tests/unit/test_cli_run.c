/* test_cli_run.c: `zentalk run` and `zentalk chat` against stories260K.gguf
 * (the real CLI binary in $ZT_BUILD_DIR/src/cli/zentalk). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zentalk/zt_buf.h"
#include "zt_test.h"

static char cli[1024], model[1024];

static int run(const char *cmd, struct zt_buf *out)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char tmp[4096];
    size_t n;
    zt_buf_reset(out);
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0) assert_int_equal(zt_buf_append(out, tmp, n), 0);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* First line of every test (cmocka 1.1 reports a skip inside a setup
 * function as an error, so the check is in the test). */
#define NEED_MODEL()                                                                         \
    do {                                                                                     \
        if (!model[0]) zt_skip("test model stories260K.gguf not found (tests/models)");      \
    } while (0)

static void test_run_greedy(void **state)
{
    (void)state;
    NEED_MODEL();
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "'%s' run '%s' 'Once upon a time' -n 12 --temp 0 --threads 1", cli, model);
    assert_int_equal(run(cmd, &out), 0);
    assert_true(strncmp(zt_buf_str(&out), "Once upon a time, there was a little girl", 41) == 0);
    /* --stats goes to stderr and names both speeds */
    snprintf(cmd, sizeof cmd, "'%s' run '%s' 'Once upon a time' -n 4 --stats 2>&1 >/dev/null", cli, model);
    assert_int_equal(run(cmd, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "prompt:"));
    assert_non_null(strstr(zt_buf_str(&out), "generation:"));
    /* same seed, same text */
    struct zt_buf again;
    zt_buf_init(&again, 1 << 20);
    snprintf(cmd, sizeof cmd, "'%s' run '%s' 'The dog' -n 16 --seed 9 --threads 2", cli, model);
    assert_int_equal(run(cmd, &out), 0);
    snprintf(cmd, sizeof cmd, "'%s' run '%s' 'The dog' -n 16 --seed 9 --threads 1", cli, model);
    assert_int_equal(run(cmd, &again), 0);
    assert_string_equal(zt_buf_str(&out), zt_buf_str(&again));
    zt_buf_deinit(&again);
    zt_buf_deinit(&out);
}

static void test_run_by_id_and_errors(void **state)
{
    (void)state;
    NEED_MODEL();
    char dir[] = "/tmp/zt-clirun-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/models.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "models:\n  - id: tiny\n    path: %s\n", model);
    fclose(f);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "'%s' run tiny 'Once upon a time' -n 6 --temp 0 --config '%s'", cli, dir);
    assert_int_equal(run(cmd, &out), 0);
    assert_true(strncmp(zt_buf_str(&out), "Once upon a time, there", 23) == 0);
    snprintf(cmd, sizeof cmd, "'%s' run nosuch 'x' --config '%s' 2>&1", cli, dir);
    assert_int_equal(run(cmd, &out), 1);
    assert_non_null(strstr(zt_buf_str(&out), "neither a GGUF file nor a model id"));
    snprintf(cmd, sizeof cmd, "'%s' run /nonexistent.gguf 'x' 2>&1", cli);
    assert_int_equal(run(cmd, &out), 1);
    snprintf(cmd, sizeof cmd, "'%s' run '%s' 2>&1", cli, model);
    assert_int_equal(run(cmd, &out), 2);
    snprintf(cmd, sizeof cmd, "'%s' run '%s' x --temp 9 2>&1", cli, model);
    assert_int_equal(run(cmd, &out), 2);
    snprintf(cmd, sizeof cmd, "'%s' run '%s' x --precision fp8 2>&1", cli, model);
    assert_int_equal(run(cmd, &out), 2);
    assert_non_null(strstr(zt_buf_str(&out), "--precision must be exact or bf16"));
    /* the declared BF16 mode runs (the model's float matrices in bf16) and
     * --stats names its kernel path */
    snprintf(cmd, sizeof cmd, "'%s' run '%s' 'Once upon a time' -n 6 --temp 0 --precision bf16 --stats 2>&1", cli,
             model);
    assert_int_equal(run(cmd, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "Once upon a time,"));
    assert_non_null(strstr(zt_buf_str(&out), "bf16-mode="));
    unlink(path);
    rmdir(dir);
    zt_buf_deinit(&out);
}

static void test_chat(void **state)
{
    (void)state;
    NEED_MODEL();
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "printf 'Hello\\nTell me more\\n/reset\\nAgain\\n/exit\\n' | '%s' chat '%s' -n 8 --temp 0 2>/dev/null",
             cli, model);
    assert_int_equal(run(cmd, &out), 0);
    /* three answers, one line each */
    size_t lines = 0;
    for (const char *p = zt_buf_str(&out); *p; p++) lines += *p == '\n';
    assert_true(lines >= 3);
    zt_buf_deinit(&out);
}

int main(void)
{
    const char *b = getenv("ZT_BUILD_DIR");
    snprintf(cli, sizeof cli, "%s/src/cli/zentalk", b ? b : "build");
    (void)zt_test_model("stories260K.gguf", model, sizeof model);
    char *abs = realpath(model, NULL);
    if (abs) {
        snprintf(model, sizeof model, "%s", abs);
        free(abs);
    } else {
        model[0] = '\0';
    }
    if (access(cli, X_OK) != 0) {
        fprintf(stderr, "test_cli_run: %s is not built (build the zentalk target first)\n", cli);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_greedy),
        cmocka_unit_test(test_run_by_id_and_errors),
        cmocka_unit_test(test_chat),
    };
    return zt_test_exit(cmocka_run_group_tests_name("cli_run", tests, NULL, NULL));
}
