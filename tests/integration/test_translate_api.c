/* test_translate_api.c: POST /v1/features/translate, GET
 * /v1/features/translate/languages and `zentalk translate`, against the real
 * zentalk-node on 127.0.0.1: known sentences, batches, ISO 639-1 and 639-3
 * codes, concurrent requests, and the 4xx answers (unsupported pair listing
 * the installed ones, missing source without a detector, empty, oversize,
 * NUL, malformed requests). Translations skip with a reason when Apertium's
 * eng-spa pair is not installed.
 * Usage: test_translate_api PATH/zentalk-node PATH/zentalk */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *cli_bin;
static struct node nd;
static bool have_pair;

static int group_setup(void **state)
{
    (void)state;
    have_pair = access("/usr/share/apertium/modes/eng-spa.mode", R_OK) == 0;
    node_spawn(&nd, NULL, NULL, true, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    kill(nd.pid, SIGTERM);
    int st = node_wait(&nd, 20000);
    node_cleanup(&nd);
    rm_rf(nd.dir);
    return st == 0 ? 0 : -1;
}

static bool need_pair(void)
{
    if (!have_pair) zt_skip_part("Apertium's eng-spa pair is not installed (scripts/setup.sh)");
    return have_pair;
}

static bool detection; /* the node detects languages (test_languages) */

static void post(const char *body, struct resp *r)
{
    http(nd.port, "POST", "/v1/features/translate", "application/json", body, r);
}

static void test_languages(void **state)
{
    (void)state;
    struct resp r;
    http(nd.port, "GET", "/v1/features/translate/languages", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_true(json_is_true(json_object_get(j, "enabled")));
    /* language identification is wired in when its fingerprints are installed */
    detection = json_is_true(json_object_get(j, "detection"));
    json_t *pairs = json_object_get(j, "pairs");
    assert_true(json_is_array(pairs));
    bool found = false;
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "mode")), "eng-spa") == 0) {
            found = true;
            assert_string_equal(json_string_value(json_object_get(json_object_get(p, "source"), "iso639_1")), "en");
            assert_string_equal(json_string_value(json_object_get(json_object_get(p, "target"), "iso639_3")), "spa");
        }
    }
    assert_int_equal(found, have_pair);
    json_decref(j);
    resp_free(&r);
}

static void test_translate(void **state)
{
    (void)state;
    if (!need_pair()) skip();
    struct resp r;
    post("{\"text\":\"The house is big.\",\"source\":\"eng\",\"target\":\"spa\"}", &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "translation")), "La casa es grande.");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "source"), "iso639_1")), "en");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "target"), "iso639_3")), "spa");
    assert_true(json_is_false(json_object_get(j, "detected")));
    json_decref(j);
    resp_free(&r);
    /* ISO 639-1 codes, a batch, and back */
    post("{\"texts\":[\"I have a red car.\",\"The dog\"],\"source\":\"en\",\"target\":\"es\"}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    json_t *t = json_object_get(j, "translations");
    assert_int_equal(json_array_size(t), 2);
    assert_non_null(strstr(json_string_value(json_array_get(t, 0)), "coche rojo"));
    assert_non_null(strstr(json_string_value(json_array_get(t, 1)), "perro"));
    json_decref(j);
    resp_free(&r);
    post("{\"text\":\"La casa es grande.\",\"source\":\"es\",\"target\":\"en\"}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "translation")), "The house is big.");
    json_decref(j);
    resp_free(&r);
    /* same language: the text as it is */
    post("{\"text\":\"hello\",\"source\":\"en\",\"target\":\"eng\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_errors(void **state)
{
    (void)state;
    struct resp r;
    post("{\"text\":\"The house\",\"source\":\"en\",\"target\":\"fr\"}", &r);
    assert_error_json(&r, 400, "unsupported_pair");
    if (have_pair) assert_non_null(strstr(zt_buf_str(&r.body), "eng-spa")); /* lists the installed ones */
    resp_free(&r);
    if (detection) { /* no source: detected */
        post("{\"text\":\"The house is very big and the garden is beautiful.\",\"target\":\"es\"}", &r);
        if (r.status != 200) fprintf(stderr, "detected translation: %ld %s\n", r.status, zt_buf_str(&r.body));
        assert_int_equal(r.status, 200);
        json_t *dj = resp_json(&r);
        assert_string_equal(json_string_value(json_object_get(json_object_get(dj, "source"), "iso639_1")), "en");
        json_decref(dj);
    } else {
        post("{\"text\":\"The house\",\"target\":\"es\"}", &r);
        assert_error_json(&r, 400, "missing_field");
        assert_non_null(strstr(zt_buf_str(&r.body), "language detection"));
    }
    resp_free(&r);
    post("{\"text\":\"x\",\"source\":\"en\"}", &r);
    assert_error_json(&r, 400, "missing_field");
    resp_free(&r);
    post("{\"text\":\"\",\"source\":\"en\",\"target\":\"es\"}", &r);
    assert_error_json(&r, 400, "invalid_text");
    resp_free(&r);
    post("{\"text\":\"a\\u0000b\",\"source\":\"en\",\"target\":\"es\"}", &r);
    assert_true(r.status == 400);
    resp_free(&r);
    post("{\"text\":\"a\",\"texts\":[\"b\"],\"source\":\"en\",\"target\":\"es\"}", &r);
    assert_error_json(&r, 400, "missing_field");
    resp_free(&r);
    post("{\"texts\":[],\"source\":\"en\",\"target\":\"es\"}", &r);
    assert_error_json(&r, 400, "invalid_text");
    resp_free(&r);
    post("{\"texts\":[1],\"source\":\"en\",\"target\":\"es\"}", &r);
    assert_error_json(&r, 400, "invalid_text");
    resp_free(&r);
    post("{\"text\":\"a\",\"source\":\"english\",\"target\":\"es\"}", &r);
    assert_error_json(&r, 400, "invalid_language");
    resp_free(&r);
    post("{\"text\":\"a\",\"source\":\"en\",\"target\":\"es\",\"colour\":1}", &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    post("{\"text\":\"a\",\"source\":\"en\",\"target\":\"es\",\"keep_unknown_marks\":\"yes\"}", &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    /* invalid UTF-8 never reaches the handler */
    post("{\"text\":\"\xc3\x28\",\"source\":\"en\",\"target\":\"es\"}", &r);
    assert_error_json(&r, 400, "invalid_json");
    resp_free(&r);
    /* over features.translate.max_bytes (16384) */
    struct zt_buf big;
    zt_buf_init(&big, 1 << 20);
    assert_int_equal(zt_buf_append_str(&big, "{\"source\":\"en\",\"target\":\"es\",\"text\":\""), 0);
    for (int i = 0; i < 17000; i++) assert_int_equal(zt_buf_append_byte(&big, 'a'), 0);
    assert_int_equal(zt_buf_append_str(&big, "\"}"), 0);
    post(zt_buf_str(&big), &r);
    assert_error_json(&r, 413, "text_too_large");
    resp_free(&r);
    /* more than 64 texts */
    zt_buf_reset(&big);
    assert_int_equal(zt_buf_append_str(&big, "{\"source\":\"en\",\"target\":\"es\",\"texts\":[\"a\""), 0);
    for (int i = 0; i < 64; i++) assert_int_equal(zt_buf_append_str(&big, ",\"a\""), 0);
    assert_int_equal(zt_buf_append_str(&big, "]}"), 0);
    post(zt_buf_str(&big), &r);
    assert_error_json(&r, 400, "too_many_texts");
    resp_free(&r);
    zt_buf_deinit(&big);
    http(nd.port, "GET", "/v1/features/translate", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
}

struct worker {
    int id;
    int ok;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 5; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"text\":\"The dog %d sleeps in the house.\",\"source\":\"en\",\"target\":\"es\"}",
                 w->id * 10 + i);
        struct resp r;
        post(body, &r);
        if (r.status == 200 && strstr(zt_buf_str(&r.body), "casa") && strstr(zt_buf_str(&r.body), "perro")) w->ok++;
        resp_free(&r);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    if (!need_pair()) skip();
    pthread_t th[8];
    struct worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 5);
    }
}

/* A node whose modes directory holds stand-in pairs: fra-por answers
 * (`sed -u`, made `sed -z -u` by apertium-wblank-mode), deu-ita never does:
 * 504 within features.translate.timeout_ms, and the node goes on serving. */
static void test_timeout_504(void **state)
{
    (void)state;
    if (access("/usr/bin/apertium-wblank-mode", X_OK) != 0) {
        zt_skip("apertium-wblank-mode is not installed");
    }
    char dir[64];
    tmp_dir(dir, sizeof dir, "trmodes");
    put_file(dir, "fra-por.mode", "sed -u s/maison/casa/g\n");
    put_file(dir, "deu-ita.mode", "sed -u -n s/never/printed/\n");
    char e1[300];
    snprintf(e1, sizeof e1, "ZENTALK_FEATURES_TRANSLATE_MODES_DIR=%s", dir);
    const char *env[] = {e1, "ZENTALK_FEATURES_TRANSLATE_TIMEOUT_MS=300", NULL};
    struct node n2;
    node_spawn(&n2, NULL, env, true, NULL);
    struct resp r;
    http(n2.port, "POST", "/v1/features/translate", "application/json",
         "{\"text\":\"ma maison <b>\",\"source\":\"fr\",\"target\":\"pt\"}", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(zt_buf_str(&r.body), "\"translation\":\"ma casa <b>\""));
    resp_free(&r);
    for (int i = 0; i < 2; i++) { /* killed, restarted, stuck again */
        http(n2.port, "POST", "/v1/features/translate", "application/json",
             "{\"text\":\"Hallo\",\"source\":\"de\",\"target\":\"it\"}", &r);
        assert_error_json(&r, 504, "timeout");
        resp_free(&r);
    }
    http(n2.port, "POST", "/v1/features/translate", "application/json",
         "{\"text\":\"maison\",\"source\":\"fra\",\"target\":\"por\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    kill(n2.pid, SIGTERM);
    assert_int_equal(node_wait(&n2, 20000), 0);
    node_cleanup(&n2);
    rm_rf(n2.dir);
    rm_rf(dir);
}


static void test_cli(void **state)
{
    (void)state;
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' translate --url http://127.0.0.1:%u 2>/dev/null", cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 2); /* --to is required */
    snprintf(cmd, sizeof cmd, "'%s' --url http://127.0.0.1:%u translate --from en --to fr house 2>&1", cli_bin,
             nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "no installed translation pair"));
    if (!need_pair()) return;
    snprintf(cmd, sizeof cmd, "'%s' translate --url http://127.0.0.1:%u --from eng --to spa The house is big.",
             cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_string_equal(out, "La casa es grande.\n");
    snprintf(cmd, sizeof cmd, "printf 'I have a red car\\n' | '%s' translate -u http://127.0.0.1:%u -f en -t es",
             cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "coche rojo"));
    snprintf(cmd, sizeof cmd, "'%s' translate --url http://127.0.0.1:%u --from en --to es --json The house", cli_bin,
             nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"translation\":\"La casa\""));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_translate_api ZENTALK_NODE ZENTALK\n");
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_languages), cmocka_unit_test(test_translate),  cmocka_unit_test(test_errors),
        cmocka_unit_test(test_concurrent), cmocka_unit_test(test_cli),    cmocka_unit_test(test_timeout_504),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return zt_test_exit(rc);
}
