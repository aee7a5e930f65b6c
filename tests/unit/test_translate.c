/* test_translate.c: Apertium pipelines: known sentences (eng-spa, spa-eng,
 * eng-cat), many messages over one pipeline, the stream-format round trip
 * (checked exactly through a stand-in pipeline that leaves text alone),
 * marks, concurrent requests, a killed pipeline restarted, a stuck one timed
 * out and killed, bad input, unsupported pairs, language codes and the
 * detection hook. Apertium tests skip with a reason when it is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_translate.h"
#include "zt_test.h"

#define MODES "/usr/share/apertium/modes"

static bool have_apertium(void)
{
    if (access(MODES "/eng-spa.mode", R_OK) != 0 || access("/usr/bin/apertium-wblank-mode", X_OK) != 0) {
        zt_skip_part("Apertium with apertium-eng-spa is not installed (scripts/setup.sh)");
        return false;
    }
    return true;
}

static struct zt_translate *open_t(const char *dir, unsigned timeout_ms, unsigned pipes)
{
    struct zt_translate_opts o = {.modes_dir = dir, .timeout_ms = timeout_ms, .pipelines = pipes};
    struct zt_translate *t = NULL;
    assert_int_equal(zt_translate_new(&o, &t), 0);
    return t;
}

static int tr(struct zt_translate *t, const char *s, const char *d, const char *text, bool marks, struct zt_buf *out)
{
    zt_buf_reset(out);
    return zt_translate_text(t, s, d, text, strlen(text), marks, out);
}

static void test_known_sentences(void **state)
{
    (void)state;
    if (!have_apertium()) skip();
    struct zt_translate *t = open_t(NULL, 0, 1);
    assert_true(zt_translate_has_pair(t, "eng", "spa"));
    assert_true(zt_translate_has_pair(t, "spa", "eng"));
    assert_false(zt_translate_has_pair(t, "eng", "eng"));
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(tr(t, "eng", "spa", "The house is big.", false, &out), 0);
    assert_string_equal(zt_buf_str(&out), "La casa es grande.");
    assert_int_equal(tr(t, "eng", "spa", "I have a red car\nand a dog.", false, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "coche rojo\ny un perro."));
    assert_int_equal(tr(t, "spa", "eng", "La casa es grande.", false, &out), 0);
    assert_string_equal(zt_buf_str(&out), "The house is big.");
    if (zt_translate_has_pair(t, "eng", "cat")) {
        assert_int_equal(tr(t, "eng", "cat", "The house is big.", false, &out), 0);
        assert_non_null(strstr(zt_buf_str(&out), "casa"));
    }
    /* marks on unknown words: kept on request, removed by default */
    assert_int_equal(tr(t, "eng", "spa", "xyzzy house", true, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "*xyzzy"));
    assert_int_equal(tr(t, "eng", "spa", "xyzzy house", false, &out), 0);
    assert_null(strchr(zt_buf_str(&out), '*'));
    assert_non_null(strstr(zt_buf_str(&out), "xyzzy"));
    /* characters of Apertium's stream format come back as they were */
    assert_int_equal(tr(t, "eng", "spa", "My dog <b> [x] \\ ^a$ {c} a/b @d ~e 5 * 3", false, &out), 0);
    const char *o = zt_buf_str(&out);
    for (const char *needle = "<b>"; needle; needle = NULL) assert_non_null(strstr(o, needle));
    assert_non_null(strstr(o, "\\"));
    assert_non_null(strstr(o, "~"));
    assert_non_null(strstr(o, "5 * 3"));
    assert_non_null(strstr(o, "{"));
    /* outer whitespace is the input's */
    assert_int_equal(tr(t, "eng", "spa", "  the house  ", false, &out), 0);
    assert_int_equal(strcasecmp(zt_buf_str(&out), "  la casa  "), 0); /* Apertium capitalises */
    zt_buf_deinit(&out);
    zt_translate_free(t);
}

static void test_many_messages_one_pipeline(void **state)
{
    (void)state;
    if (!have_apertium()) skip();
    struct zt_translate *t = open_t(NULL, 0, 1);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(tr(t, "eng", "spa", "house", false, &out), 0);
    int pid = zt_translate_debug_pid(t, "eng", "spa", 0);
    assert_true(pid > 0);
    for (int i = 0; i < 100; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "The house number %d is red.", i);
        assert_int_equal(tr(t, "eng", "spa", msg, false, &out), 0);
        char want[32];
        snprintf(want, sizeof want, "%d", i);
        assert_non_null(strstr(zt_buf_str(&out), "casa"));
        assert_non_null(strstr(zt_buf_str(&out), want));
    }
    assert_int_equal(zt_translate_debug_pid(t, "eng", "spa", 0), pid); /* still the same processes */
    zt_buf_deinit(&out);
    zt_translate_free(t);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1); /* reaped */
}

struct worker {
    struct zt_translate *t;
    int id;
    int ok;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    for (int i = 0; i < 15; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "The dog %d eats in the house.", w->id * 100 + i);
        zt_buf_reset(&out);
        if (zt_translate_text(w->t, "eng", "spa", msg, strlen(msg), false, &out) == 0 &&
            strstr(zt_buf_str(&out), "casa") && strstr(zt_buf_str(&out), "perro"))
            w->ok++;
    }
    zt_buf_deinit(&out);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    if (!have_apertium()) skip();
    struct zt_translate *t = open_t(NULL, 0, 2);
    pthread_t th[6];
    struct worker w[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (struct worker){t, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 15);
    }
    assert_true(zt_translate_debug_pid(t, "eng", "spa", 0) > 0);
    assert_true(zt_translate_debug_pid(t, "eng", "spa", 1) > 0);
    assert_int_equal(zt_translate_debug_pid(t, "eng", "spa", 2), -1); /* pool of 2 */
    zt_translate_free(t);
}

static void test_killed_pipeline_restarts(void **state)
{
    (void)state;
    if (!have_apertium()) skip();
    struct zt_translate *t = open_t(NULL, 0, 1);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(tr(t, "eng", "spa", "house", false, &out), 0);
    int pid = zt_translate_debug_pid(t, "eng", "spa", 0);
    assert_true(pid > 0);
    assert_int_equal(kill(-pid, SIGKILL), 0); /* the whole pipeline */
    usleep(50 * 1000);
    assert_int_equal(tr(t, "eng", "spa", "The house is big.", false, &out), 0);
    assert_string_equal(zt_buf_str(&out), "La casa es grande.");
    int pid2 = zt_translate_debug_pid(t, "eng", "spa", 0);
    assert_true(pid2 > 0);
    assert_int_not_equal(pid2, pid);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1); /* the dead one was reaped */
    zt_buf_deinit(&out);
    zt_translate_free(t);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct zt_translate_opts o = {.modes_dir = MODES, .max_input_bytes = 32};
    struct zt_translate *t = NULL;
    assert_int_equal(zt_translate_new(&o, &t), 0);
    struct zt_buf out;
    zt_buf_init(&out, 1024);
    const char *src = zt_translate_pair_count(t) ? "eng" : "xxx";
    assert_int_equal(zt_translate_text(t, src, "spa", "", 0, false, &out), ZT_EINVAL);
    assert_int_equal(zt_translate_text(t, src, "spa", "a\0b", 3, false, &out), ZT_EINVAL);
    assert_int_equal(zt_translate_text(t, src, "spa", "\xc3\x28", 2, false, &out), ZT_EINVAL);
    assert_int_equal(tr(t, src, "spa", "this text is longer than thirty-two bytes", false, &out), ZT_ETOOBIG);
    assert_int_equal(tr(t, "eng", "klingon", "hello", false, &out), ZT_ENOTFOUND);
    assert_int_equal(tr(t, "xxx", "yyy", "hello", false, &out), ZT_ENOTFOUND);
    assert_int_equal(out.len, 0);
    zt_buf_deinit(&out);
    zt_translate_free(t);
    /* no modes directory: no pairs, a clear not-found */
    struct zt_translate_opts none = {.modes_dir = "/nonexistent/modes"};
    assert_int_equal(zt_translate_new(&none, &t), 0);
    assert_int_equal(zt_translate_pair_count(t), 0);
    zt_buf_init(&out, 1024);
    assert_int_equal(tr(t, "eng", "spa", "hello", false, &out), ZT_ENOTFOUND);
    zt_buf_deinit(&out);
    zt_translate_free(t);
}

/* A stand-in pair whose "pipeline" is `sed -u` (apertium-wblank-mode turns
 * it into `sed -z -u`, which answers each NUL-ended record): the text comes
 * back unchanged, so encode/decode must round-trip it exactly; and a pair
 * that never answers, to see the timeout kill it. */
static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_round_trip_and_timeout(void **state)
{
    (void)state;
    if (access("/usr/bin/apertium-wblank-mode", X_OK) != 0) {
        zt_skip("apertium-wblank-mode is not installed");
    }
    char dir[] = "/tmp/zt-translate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p1[128], p2[128], p3[128];
    snprintf(p1, sizeof p1, "%s/aaa-bbb.mode", dir);
    snprintf(p2, sizeof p2, "%s/ccc-ddd.mode", dir);
    snprintf(p3, sizeof p3, "%s/aaa-bbb_variant.mode", dir);
    write_file(p1, "sed -u s/house/casa/g\n");
    write_file(p2, "sed -u -n s/never/printed/\n");
    write_file(p3, "cat\n");
    struct zt_translate *t = open_t(dir, 400, 1);
    assert_int_equal(zt_translate_pair_count(t), 2); /* the variant is skipped */
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    const char *tricky = "a house\n\t<b>[x]]\\ ^$ {}/@ ~ * # \xc3\xb1 \xe2\x82\xac end";
    assert_int_equal(tr(t, "aaa", "bbb", tricky, true, &out), 0);
    assert_string_equal(zt_buf_str(&out), "a casa\n\t<b>[x]]\\ ^$ {}/@ ~ * # \xc3\xb1 \xe2\x82\xac end");
    for (int i = 0; i < 50; i++) assert_int_equal(tr(t, "aaa", "bbb", "house", false, &out), 0);
    assert_string_equal(zt_buf_str(&out), "casa");

    assert_int_equal(tr(t, "ccc", "ddd", "hello", false, &out), ZT_ETIMEDOUT);
    assert_int_equal(zt_translate_debug_pid(t, "ccc", "ddd", 0), -1); /* killed */
    assert_int_equal(tr(t, "ccc", "ddd", "hello", false, &out), ZT_ETIMEDOUT); /* restarted, stuck again */
    assert_int_equal(tr(t, "aaa", "bbb", "house", false, &out), 0); /* others unaffected */
    zt_buf_deinit(&out);
    zt_translate_free(t);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child left, no zombie */
    assert_int_equal(errno, ECHILD);
    unlink(p1);
    unlink(p2);
    unlink(p3);
    rmdir(dir);
}

static int fake_detect(void *ud, const char *text, size_t len, char lang3[static 4], double *conf)
{
    (void)ud;
    if (len >= 4 && memcmp(text, "casa", 4) == 0) {
        memcpy(lang3, "spa", 4);
        *conf = 0.9;
        return 0;
    }
    return ZT_ENOTFOUND;
}

static void test_codes_and_detector(void **state)
{
    (void)state;
    assert_string_equal(zt_translate_lang3("en"), "eng");
    assert_string_equal(zt_translate_lang3("ENG"), "eng");
    assert_string_equal(zt_translate_lang3("es"), "spa");
    assert_string_equal(zt_translate_lang3("cat"), "cat");
    assert_null(zt_translate_lang3("zz"));
    assert_null(zt_translate_lang3(""));
    assert_string_equal(zt_translate_lang1("spa"), "es");
    assert_null(zt_translate_lang1("xxx"));
    struct zt_translate *t = open_t("/nonexistent", 0, 0);
    char l[4];
    double c;
    assert_int_equal(zt_translate_detect(t, "casa", 4, l, &c), ZT_EUNSUPPORTED);
    zt_translate_set_detector(t, fake_detect, NULL);
    assert_int_equal(zt_translate_detect(t, "casa", 4, l, &c), 0);
    assert_string_equal(l, "spa");
    assert_int_equal(zt_translate_detect(t, "dog", 3, l, &c), ZT_ENOTFOUND);
    zt_translate_free(t);
}

static int64_t live_at_start;

static int mark_live(void **state)
{
    (void)state;
    live_at_start = zt_alloc_live();
    return 0;
}

static int check_leaks(void **state)
{
    (void)state;
    assert_int_equal(zt_alloc_live(), live_at_start);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the node does */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_known_sentences, mark_live, check_leaks),
        cmocka_unit_test_setup_teardown(test_many_messages_one_pipeline, mark_live, check_leaks),
        cmocka_unit_test_setup_teardown(test_concurrent, mark_live, check_leaks),
        cmocka_unit_test_setup_teardown(test_killed_pipeline_restarts, mark_live, check_leaks),
        cmocka_unit_test_setup_teardown(test_bad_input, mark_live, check_leaks),
        cmocka_unit_test_setup_teardown(test_round_trip_and_timeout, mark_live, check_leaks),
        cmocka_unit_test_setup_teardown(test_codes_and_detector, mark_live, check_leaks),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
