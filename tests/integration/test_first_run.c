/* test_first_run.c: a node as a new user meets it (issue 15, items 1 and 3).
 * With the repository's config/ and a fresh --data-dir, the node serves the
 * bundled demo model (`demo`, stories260K) from the read-only assets
 * directory, and the feature assets of `make data` are found whatever the
 * data directory is.
 * Usage: test_first_run PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char model_path[1024];
static char cfg_dir[1024];

static void stop(struct node *n)
{
    kill(n->pid, SIGTERM);
    assert_int_equal(node_wait(n, 15000), 0);
    node_cleanup(n);
    rm_rf(n->dir);
}

/* POST a one-message chat naming model "demo"; the answer's status. */
static long chat_demo(uint16_t port, struct resp *r)
{
    http(port, "POST", "/v1/chat/completions", "application/json",
         "{\"model\":\"demo\",\"max_tokens\":8,\"seed\":1,"
         "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}",
         r);
    return r->status;
}

static void assert_chat_answer(struct resp *r)
{
    if (r->status != 200) fprintf(stderr, "answer: %s\n", zt_buf_str(&r->body));
    assert_int_equal(r->status, 200);
    json_t *j = resp_json(r);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "demo");
    json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
    assert_true(json_is_string(json_object_get(msg, "content")));
    json_decref(j);
}

/* config/ and a fresh data dir: the demo entry resolves in the assets
 * directory (here one made for the test, as `make data` makes it). */
static void test_demo_model_any_data_dir(void **state)
{
    (void)state;
    if (!model_path[0] || !cfg_dir[0]) {
        zt_skip("tests/models/stories260K.gguf or ZT_SOURCE_DIR (set by ctest) is missing");
        return;
    }
    char assets[256], cmd[2048], env_assets[300];
    tmp_dir(assets, sizeof assets, "assets");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/models' && cp '%s' '%s/models/stories260K.gguf'", assets, model_path,
             assets);
    char out[64];
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    snprintf(env_assets, sizeof env_assets, "ZENTALK_ASSETS_DIR=%s", assets);
    const char *const env[] = {env_assets, "ZENTALK_GPU_POOL_CPU_THREADS=2", NULL};
    const char *const args[] = {"--config", cfg_dir, NULL};
    struct node n;
    node_spawn(&n, args, env, true, NULL);
    struct resp r;
    http(n.port, "GET", "/v1/models", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(zt_buf_str(&r.body), "\"demo\""));
    resp_free(&r);
    chat_demo(n.port, &r);
    assert_chat_answer(&r);
    resp_free(&r);
    /* nothing was written into the data directory for it */
    char p[512];
    snprintf(p, sizeof p, "%s/models/stories260K.gguf", n.data_dir);
    assert_int_not_equal(access(p, F_OK), 0);
    stop(&n);
    rm_rf(assets);
}

/* Without ZENTALK_ASSETS_DIR a build-tree node looks in the source tree's
 * data/assets, which `make data` fills: `make run` (and any --data-dir)
 * chats at once, and the feature assets are found too. */
static void test_build_tree_assets(void **state)
{
    (void)state;
    const char *src = getenv("ZT_SOURCE_DIR");
    if (!src) {
        zt_skip("ZT_SOURCE_DIR is unset (run through ctest)");
        return;
    }
    char demo[1024], vader[1024];
    snprintf(demo, sizeof demo, "%s/data/assets/models/stories260K.gguf", src);
    snprintf(vader, sizeof vader, "%s/data/assets/vader.zta", src);
    bool have_demo = access(demo, R_OK) == 0, have_vader = access(vader, R_OK) == 0;
    if (!have_demo && !have_vader) {
        zt_skip("data/assets is empty: run `make data`");
        return;
    }
    const char *const env[] = {"ZENTALK_ASSETS_DIR=", "ZENTALK_GPU_POOL_CPU_THREADS=2", NULL};
    const char *const args[] = {"--config", cfg_dir, NULL};
    struct node n;
    node_spawn(&n, args, env, true, NULL);
    struct resp r;
    if (have_demo) {
        chat_demo(n.port, &r);
        assert_chat_answer(&r);
        resp_free(&r);
    } else {
        zt_skip_part("data/assets/models/stories260K.gguf missing: run `make data`");
    }
    if (have_vader) {
        http(n.port, "POST", "/v1/features/sentiment", "application/json", "{\"text\":\"I love it\"}", &r);
        if (r.status != 200) fprintf(stderr, "answer: %s\n", zt_buf_str(&r.body));
        assert_int_equal(r.status, 200);
        resp_free(&r);
    } else {
        zt_skip_part("data/assets/vader.zta missing: run `make data`");
    }
    stop(&n);
}

/* An assets directory without the files: the 503 names the directory. */
static void test_missing_assets_named(void **state)
{
    (void)state;
    const char *const env[] = {"ZENTALK_ASSETS_DIR=/nonexistent/zt-assets-first-run", NULL};
    struct node n;
    node_spawn(&n, NULL, env, true, NULL);
    struct resp r;
    http(n.port, "POST", "/v1/features/sentiment", "application/json", "{\"text\":\"I love it\"}", &r);
    assert_error_json(&r, 503, "asset_missing");
    assert_non_null(strstr(zt_buf_str(&r.body), "/nonexistent/zt-assets-first-run"));
    assert_non_null(strstr(zt_buf_str(&r.body), "make data"));
    resp_free(&r);
    /* spam, summaries and search name it too (issue 15 item 3) */
    static const char *const more[][2] = {
        {"/v1/features/spam", "{\"text\":\"hello\"}"},
        {"/v1/features/summarize", "{\"messages\":[{\"from\":\"a\",\"text\":\"hello there\"}]}"},
        {"/v1/search/query", "{\"user\":\"a\",\"query\":\"hello\"}"},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        http(n.port, "POST", more[i][0], "application/json", more[i][1], &r);
        assert_error_json(&r, 503, "asset_missing");
        assert_non_null(strstr(zt_buf_str(&r.body), "/nonexistent/zt-assets-first-run"));
        assert_non_null(strstr(zt_buf_str(&r.body), "make data"));
        assert_null(strstr(zt_buf_str(&r.body), "data/assets"));
        resp_free(&r);
    }
    stop(&n);
}

/* --check-config looks at the model files: a missing one fails, a file
 * that is not a GGUF is a warning; the repository's config/ passes. */
static void test_check_config_model_files(void **state)
{
    (void)state;
    if (!cfg_dir[0]) {
        zt_skip("ZT_SOURCE_DIR (set by ctest) is unset");
        return;
    }
    struct zt_buf out;
    zt_buf_init(&out, 1u << 20);
    const char *const ok_args[] = {"--config", cfg_dir, "--check-config", NULL};
    const char *const no_env[] = {"ZENTALK_ASSETS_DIR", NULL};
    int st = run_prog(node_bin, ok_args, no_env, NULL, &out, RUN_MERGE_STDERR);
    if (st != 0) fprintf(stderr, "%s\n", zt_buf_str(&out));
    assert_int_equal(st, 0);

    char dir[256], data[300];
    tmp_dir(dir, sizeof dir, "ccm");
    snprintf(data, sizeof data, "%s/data", dir);
    put_file(dir, "models.yaml", "models:\n  - id: gone\n    path: models/nowhere.gguf\n");
    const char *const bad_args[] = {"--config", dir, "--data-dir", data, "--check-config", NULL};
    zt_buf_reset(&out);
    assert_int_equal(run_prog(node_bin, bad_args, NULL, NULL, &out, RUN_MERGE_STDERR), 1);
    assert_non_null(strstr(zt_buf_str(&out), "model 'gone': file "));
    assert_non_null(strstr(zt_buf_str(&out), "nowhere.gguf not found"));

    char cmd[1024], sh[64];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/models' && echo 'not a model' > '%s/models/text.gguf'", data, data);
    assert_int_equal(run_shell(cmd, sh, sizeof sh), 0);
    put_file(dir, "models.yaml", "models:\n  - id: text\n    path: models/text.gguf\n");
    zt_buf_reset(&out);
    assert_int_equal(run_prog(node_bin, bad_args, NULL, NULL, &out, RUN_MERGE_STDERR), 0);
    assert_non_null(strstr(zt_buf_str(&out), "warning: models.yaml: model 'text'"));
    assert_non_null(strstr(zt_buf_str(&out), "not a GGUF"));
    zt_buf_deinit(&out);
    rm_rf(dir);
}

/* JSON reals in the shortest form that reads back (0.8, not
 * 0.80000000000000004): no 16-digit fractions in an answer with scores. */
static void test_json_reals_shortest(void **state)
{
    (void)state;
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    struct resp r;
    http(n.port, "POST", "/v1/features/intents", "application/json",
         "{\"text\":\"can we meet tomorrow at 5pm? please send the report\"}", &r);
    assert_int_equal(r.status, 200);
    const char *b = zt_buf_str(&r.body);
    assert_non_null(strstr(b, "confidence"));
    for (const char *p = b; *p; p++) {
        if (*p != '.') continue;
        size_t digits = strspn(p + 1, "0123456789");
        if (digits >= 15) fprintf(stderr, "long real in: %s\n", b);
        assert_true(digits < 15);
    }
    resp_free(&r);
    stop(&n);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_first_run")) return 2;
    if (!find_test_model("stories260K.gguf", model_path, sizeof model_path) || access(model_path, R_OK) != 0)
        model_path[0] = '\0';
    const char *src = getenv("ZT_SOURCE_DIR"); /* set by ctest */
    if (src) snprintf(cfg_dir, sizeof cfg_dir, "%s/config", src);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_model_any_data_dir),
        cmocka_unit_test(test_build_tree_assets),
        cmocka_unit_test(test_missing_assets_named),
        cmocka_unit_test(test_check_config_model_files),
        cmocka_unit_test(test_json_reals_shortest),
    };
    int failed = cmocka_run_group_tests_name("first_run", tests, NULL, NULL);
    curl_global_cleanup();
    return zt_test_exit(failed);
}
