/* test_features_replies.c: the conversation features of a real zentalk-node:
 * POST /v1/features/intents, /v1/features/smart-replies and
 * /v1/features/summarize (success paths and every 4xx), features disabled
 * in features.yaml (403), a malformed intents.txt (start-up fails with
 * file:line), the CLI commands `zentalk replies` / `zentalk summarize`, and
 * the generative path with the tiny stories model (plumbing only: three
 * non-empty distinct strings and "method":"llm"; skipped without it).
 * Usage: test_features_replies PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"
#include "zentalk/zt_asset.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *cli_bin;
static struct node nd;
static bool have_stopwords;
static char model_path[1024];

static int group_setup(void **state)
{
    (void)state;
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

static json_t *post_to(uint16_t port, const char *path, const char *body, long want_status)
{
    return post_json(port, path, NULL, body, want_status);
}

static void expect_error(const char *path, const char *body, long status, const char *code)
{
    struct resp r;
    http(nd.port, "POST", path, "application/json", body, &r);
    if (r.status != status) fprintf(stderr, "POST %s %.80s -> %ld: %s\n", path, body, r.status, zt_buf_str(&r.body));
    assert_error_json(&r, status, code);
    resp_free(&r);
}

static const char *sget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (!s) fail_msg("no string %s", k);
    return s;
}

static void assert_three_distinct(json_t *replies)
{
    assert_true(json_is_array(replies));
    assert_int_equal(json_array_size(replies), 3);
    for (size_t i = 0; i < 3; i++) {
        const char *a = sget(json_array_get(replies, i), "text");
        assert_true(a[0] != '\0');
        for (size_t k = 0; k < i; k++) assert_string_not_equal(a, sget(json_array_get(replies, k), "text"));
    }
}

static void test_intents(void **state)
{
    (void)state;
    json_t *j = post_to(nd.port, "/v1/features/intents", "{\"text\":\"Hi! Are you free tomorrow at 3pm?\"}", 200);
    json_t *r = json_object_get(j, "result");
    assert_string_equal(sget(r, "intent"), "scheduling"); /* the greeting comes second */
    assert_true(json_array_size(json_object_get(r, "labels")) >= 3); /* + greeting, yes/no question */
    assert_string_equal(sget(json_array_get(json_object_get(r, "labels"), 1), "intent"), "greeting");
    assert_true(json_is_true(json_object_get(r, "has_time")));
    json_decref(j);
    j = post_to(nd.port, "/v1/features/intents", "{\"texts\":[\"thanks!\",\"sorry\",\"The sky is blue\"]}", 200);
    json_t *rs = json_object_get(j, "results");
    assert_int_equal(json_array_size(rs), 3);
    assert_string_equal(sget(json_array_get(rs, 0), "intent"), "thanks");
    assert_string_equal(sget(json_array_get(rs, 1), "intent"), "apology");
    assert_string_equal(sget(json_array_get(rs, 2), "intent"), "statement");
    json_decref(j);
    expect_error("/v1/features/intents", "{}", 400, "invalid_request");
    expect_error("/v1/features/intents", "{\"text\":\"\"}", 400, "invalid_request");
    expect_error("/v1/features/intents", "{\"text\":3}", 400, "invalid_request");
    expect_error("/v1/features/intents", "{\"texts\":[]}", 400, "invalid_request");
    expect_error("/v1/features/intents", "{\"texts\":[\"a\",null]}", 400, "invalid_request");
    expect_error("/v1/features/intents", "{\"text\":\"a\",\"texts\":[\"b\"]}", 400, "invalid_request");
}

/* Is the asset installed where the node will look (ZENTALK_ASSETS_DIR)? */
static bool asset_present(const char *name)
{
    char p[1024];
    return zt_asset_path(NULL, name, p, sizeof p) == 0 && access(p, R_OK) == 0;
}

static void test_replies(void **state)
{
    (void)state;
    json_t *j = post_to(nd.port, "/v1/features/smart-replies",
                        "{\"messages\":[{\"from\":\"bob\",\"text\":\"hey\"},"
                        "{\"from\":\"alice\",\"text\":\"Do you want to grab lunch tomorrow?\"}],\"me\":\"bob\"}",
                        200);
    json_t *r = json_object_get(j, "result");
    assert_three_distinct(json_object_get(r, "replies"));
    assert_string_equal(sget(r, "method"), "classical");
    /* the node wires moderation and sentiment in when their assets are installed */
    assert_string_equal(sget(r, "moderation"), asset_present("moderation.zta") ? "checked" : "unavailable");
    if (asset_present("vader.zta"))
        assert_true(json_is_number(json_object_get(r, "sentiment")));
    else
        assert_true(json_is_null(json_object_get(r, "sentiment")));
    assert_string_equal(sget(json_object_get(r, "intent"), "intent"), "invitation");
    assert_int_equal(json_integer_value(json_object_get(r, "reply_to")), 1);
    assert_string_equal(sget(r, "from"), "alice");
    const char *meanings[3];
    for (size_t i = 0; i < 3; i++) meanings[i] = sget(json_array_get(json_object_get(r, "replies"), i), "meaning");
    bool accept = false, decline = false;
    for (size_t i = 0; i < 3; i++) {
        accept |= strcmp(meanings[i], "accept") == 0;
        decline |= strcmp(meanings[i], "decline") == 0;
    }
    assert_true(accept && decline);
    /* the same conversation, the same answer */
    json_t *j2 = post_to(nd.port, "/v1/features/smart-replies",
                         "{\"messages\":[{\"from\":\"bob\",\"text\":\"hey\"},"
                         "{\"from\":\"alice\",\"text\":\"Do you want to grab lunch tomorrow?\"}],\"me\":\"bob\"}",
                         200);
    assert_true(json_equal(j, j2));
    json_decref(j2);
    json_decref(j);
    /* "from" is optional */
    j = post_to(nd.port, "/v1/features/smart-replies", "{\"messages\":[{\"text\":\"Are you coming?\"}]}", 200);
    assert_three_distinct(json_object_get(json_object_get(j, "result"), "replies"));
    json_decref(j);
}

static void test_summarize(void **state)
{
    (void)state;
    const char *body =
        "{\"messages\":["
        "{\"from\":\"alice\",\"text\":\"We need to pick the launch date for the mobile app release.\"},"
        "{\"from\":\"carol\",\"text\":\"The mobile app release depends on the payment review.\"},"
        "{\"from\":\"bob\",\"text\":\"The payment review finishes on Wednesday.\"},"
        "{\"from\":\"alice\",\"text\":\"Then the launch date could be Thursday, after the payment review.\"},"
        "{\"from\":\"carol\",\"text\":\"Thursday works. Let's go with Thursday for the launch.\"},"
        "{\"from\":\"alice\",\"text\":\"I'll write the release notes by Wednesday.\"},"
        "{\"from\":\"carol\",\"text\":\"What about the budget for the ads?\"}],\"max_sentences\":2}";
    if (!have_stopwords) {
        zt_skip_part("the success path: stopwords.zta not installed (run `make data`); expecting 503");
        expect_error("/v1/features/summarize", body, 503, "asset_missing");
        return;
    }
    json_t *j = post_to(nd.port, "/v1/features/summarize", body, 200);
    json_t *r = json_object_get(j, "result");
    assert_string_equal(sget(r, "method"), "extractive");
    assert_string_equal(sget(r, "language"), "en");
    json_t *key = json_object_get(r, "key_messages");
    assert_int_equal(json_array_size(key), 2);
    assert_true(json_integer_value(json_object_get(json_array_get(key, 0), "index")) <
                json_integer_value(json_object_get(json_array_get(key, 1), "index")));
    json_t *dec = json_object_get(r, "decisions");
    assert_int_equal(json_array_size(dec), 1);
    assert_string_equal(sget(json_array_get(dec, 0), "from"), "carol");
    assert_non_null(strstr(sget(json_array_get(dec, 0), "text"), "Let's go with Thursday"));
    json_t *q = json_object_get(r, "open_questions");
    assert_int_equal(json_array_size(q), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(q, 0), "index")), 6);
    json_t *act = json_object_get(r, "action_items");
    assert_int_equal(json_array_size(act), 1);
    assert_string_equal(sget(json_array_get(act, 0), "kind"), "commitment");
    assert_string_equal(sget(json_array_get(act, 0), "assignee"), "alice");
    assert_true(strlen(sget(r, "summary")) > 0);
    json_decref(j);
}

/* Bad requests on both conversation routes. */
static void test_bad_requests(void **state)
{
    (void)state;
    const char *const routes[] = {"/v1/features/smart-replies", "/v1/features/summarize"};
    /* 501 messages and a 64 KiB + 1 text */
    struct zt_buf many, big;
    zt_buf_init(&many, 1u << 20);
    zt_buf_init(&big, 1u << 20);
    assert_int_equal(zt_buf_append_str(&many, "{\"messages\":["), 0);
    for (int i = 0; i < 501; i++) assert_int_equal(zt_buf_appendf(&many, "%s{\"text\":\"hi\"}", i ? "," : ""), 0);
    assert_int_equal(zt_buf_append_str(&many, "]}"), 0);
    assert_int_equal(zt_buf_append_str(&big, "{\"messages\":[{\"text\":\""), 0);
    for (int i = 0; i < 65537; i++) assert_int_equal(zt_buf_append_byte(&big, 'a'), 0);
    assert_int_equal(zt_buf_append_str(&big, "\"}]}"), 0);
    for (size_t k = 0; k < 2; k++) {
        const char *p = routes[k];
        if (k == 1 && !have_stopwords) {
            zt_skip_part("summarize 4xx checks: stopwords.zta not installed (the route answers 503 first)");
            break;
        }
        expect_error(p, "{\"messages\":[]}", 400, "invalid_request");
        expect_error(p, "{}", 400, "invalid_request");
        expect_error(p, "{\"messages\":\"hi\"}", 400, "invalid_request");
        expect_error(p, "{\"messages\":[{\"from\":\"a\"}]}", 400, "invalid_request");
        expect_error(p, "{\"messages\":[{\"from\":\"a\",\"text\":\"\"}]}", 400, "invalid_request");
        expect_error(p, "{\"messages\":[{\"from\":\"a\",\"text\":7}]}", 400, "invalid_request");
        expect_error(p, "{\"messages\":[{\"from\":7,\"text\":\"hi\"}]}", 400, "invalid_request");
        expect_error(p, "{\"messages\":[{\"from\":[\"a\"],\"text\":\"hi\"}]}", 400, "invalid_request");
        expect_error(p, "{\"messages\":[\"hi\"]}", 400, "invalid_request");
        expect_error(p, "{\"messages\":[{\"text\":\"a\\u0000b\"}]}", 400, "invalid_json"); /* NUL: refused by the JSON layer */
        expect_error(p, zt_buf_str(&many), 413, "too_large");
        expect_error(p, zt_buf_str(&big), 413, "too_large");
        expect_error(p, "{\"messages\":[{\"text\":\"hi\"}", 400, "invalid_json");
        struct resp r;
        http(nd.port, "POST", p, "text/plain", "{\"messages\":[{\"text\":\"hi\"}]}", &r);
        assert_int_equal(r.status, 415);
        resp_free(&r);
        http(nd.port, "GET", p, NULL, NULL, &r);
        assert_int_equal(r.status, 405);
        resp_free(&r);
    }
    expect_error(routes[0], "{\"messages\":[{\"text\":\"hi\"}],\"me\":5}", 400, "invalid_request");
    expect_error(routes[0], "{\"messages\":[{\"text\":\"hi\"}],\"max_sentences\":2}", 400, "invalid_request");
    if (have_stopwords) {
        expect_error(routes[1], "{\"messages\":[{\"text\":\"hi\"}],\"max_sentences\":0}", 400, "invalid_request");
        expect_error(routes[1], "{\"messages\":[{\"text\":\"hi\"}],\"max_sentences\":21}", 400, "invalid_request");
        expect_error(routes[1], "{\"messages\":[{\"text\":\"hi\"}],\"max_sentences\":\"3\"}", 400, "invalid_request");
        expect_error(routes[1], "{\"messages\":[{\"text\":\"hi\"}],\"me\":\"bob\"}", 400, "invalid_request");
    }
    zt_buf_deinit(&many);
    zt_buf_deinit(&big);
}

/* Run the CLI with stdin text; its stdout into out. Returns the exit code. */
static int run_cli(const char *const *args, const char *in, struct zt_buf *out)
{
    return run_prog(cli_bin, args, NULL, in, out, 0);
}

static void test_cli(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", nd.port);
    struct zt_buf out;
    zt_buf_init(&out, 1u << 20);
    const char *const a1[] = {"replies", "--url", url, "--me", "bob", NULL};
    assert_int_equal(run_cli(a1, "bob: hi\nalice: Are you coming to the meeting tonight?\n", &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "1. "));
    assert_non_null(strstr(zt_buf_str(&out), "3. "));
    zt_buf_reset(&out);
    const char *const a2[] = {"replies", "--url", url, "--json", NULL};
    assert_int_equal(run_cli(a2, "{\"messages\":[{\"from\":\"a\",\"text\":\"Thanks!\"}]}", &out), 0);
    json_t *j = json_loads(zt_buf_str(&out), 0, NULL);
    assert_non_null(j);
    assert_three_distinct(json_object_get(json_object_get(j, "result"), "replies"));
    json_decref(j);
    zt_buf_reset(&out);
    const char *const a3[] = {"replies", "--url", url, NULL};
    assert_int_equal(run_cli(a3, "\n\n", &out), 1); /* no messages */
    if (have_stopwords) {
        zt_buf_reset(&out);
        const char *const a4[] = {"summarize", "--url", url, "--max-sentences", "1", NULL};
        assert_int_equal(run_cli(a4, "alice: Let's go with the blue design.\nbob: I'll send the mockups by Friday.\n", &out), 0);
        assert_non_null(strstr(zt_buf_str(&out), "Decisions:"));
        assert_non_null(strstr(zt_buf_str(&out), "Action items:"));
    }
    zt_buf_deinit(&out);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    put_file(dir, name, text);
}

static void test_disabled(void **state)
{
    (void)state;
    char dir[64];
    tmp_dir(dir, sizeof dir, "featcfg");
    write_file(dir, "features.yaml",
               "features:\n  smart_replies:\n    enabled: false\n  summarize:\n    enabled: false\n");
    struct node n;
    const char *const args[] = {"--config", dir, NULL};
    node_spawn(&n, args, NULL, true, NULL);
    json_t *j = post_to(n.port, "/v1/features/smart-replies", "{\"messages\":[{\"text\":\"hi\"}]}", 403);
    assert_string_equal(sget(json_object_get(j, "error"), "code"), "feature_disabled");
    json_decref(j);
    j = post_to(n.port, "/v1/features/summarize", "{\"messages\":[{\"text\":\"hi\"}]}", 403);
    assert_string_equal(sget(json_object_get(j, "error"), "code"), "feature_disabled");
    json_decref(j);
    kill(n.pid, SIGTERM);
    assert_int_equal(node_wait(&n, 15000), 0);
    node_cleanup(&n);
    rm_rf(n.dir);
    rm_rf(dir);
}

static void test_malformed_cue_file(void **state)
{
    (void)state;
    char dir[64];
    tmp_dir(dir, sizeof dir, "featcfg");
    write_file(dir, "intents.txt", "lexicon aux\nis\nintent nonsense\n");
    struct node n;
    const char *const args[] = {"--config", dir, NULL};
    node_spawn(&n, args, NULL, false, NULL);
    int st = node_wait(&n, 15000);
    struct zt_buf err;
    zt_buf_init(&err, 1u << 20);
    node_collect_stderr(&n, &err);
    assert_int_equal(st, 1);
    if (!strstr(zt_buf_str(&err), "intents.txt:3: unknown intent 'nonsense'"))
        fail_msg("stderr lacks the file:line error: %s", zt_buf_str(&err));
    zt_buf_deinit(&err);
    node_cleanup(&n);
    rm_rf(n.dir);
    rm_rf(dir);
}

static void test_llm_path(void **state)
{
    (void)state;
    if (!model_path[0]) {
        zt_skip("stories260K.gguf not found (tests/models); the generative path is untested here");
    }
    char dir[64];
    tmp_dir(dir, sizeof dir, "featcfg");
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\nmodels:\n  - id: stories\n    path: %s\n    context_size: 256\n",
             model_path);
    write_file(dir, "models.yaml", yaml);
    write_file(dir, "features.yaml", "features:\n  smart_replies:\n    model: stories\n  summarize:\n    model: stories\n");
    write_file(dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 2\n  max_batch: 4\n");
    struct node n;
    const char *const args[] = {"--config", dir, NULL};
    node_spawn(&n, args, NULL, true, NULL);
    const char *body = "{\"messages\":[{\"from\":\"alice\",\"text\":\"Do you want to play in the park?\"}],\"me\":\"bob\"}";
    json_t *j = post_to(n.port, "/v1/features/smart-replies", body, 200);
    json_t *r = json_object_get(j, "result");
    const char *fb = json_string_value(json_object_get(r, "fallback"));
    if (fb) fail_msg("the generative path fell back: %s", fb);
    assert_string_equal(sget(r, "method"), "llm");
    assert_three_distinct(json_object_get(r, "replies"));
    assert_string_equal(sget(r, "moderation"), asset_present("moderation.zta") ? "checked" : "unavailable");
    /* greedy: the same request, the same replies */
    json_t *j2 = post_to(n.port, "/v1/features/smart-replies", body, 200);
    assert_true(json_equal(json_object_get(j, "result"), json_object_get(j2, "result")));
    json_decref(j2);
    json_decref(j);
    if (have_stopwords) {
        j = post_to(n.port, "/v1/features/summarize",
                    "{\"messages\":[{\"from\":\"tim\",\"text\":\"Let's go to the park.\"},"
                    "{\"from\":\"sue\",\"text\":\"I'll bring the ball.\"}]}",
                    200);
        r = json_object_get(j, "result");
        fb = json_string_value(json_object_get(r, "fallback"));
        if (fb) fail_msg("the generative summary fell back: %s", fb);
        assert_string_equal(sget(r, "method"), "llm");
        assert_true(strlen(sget(r, "summary")) > 0);
        assert_int_equal(json_array_size(json_object_get(r, "action_items")), 1); /* the extractive parts stay */
        json_decref(j);
    }
    kill(n.pid, SIGTERM);
    assert_int_equal(node_wait(&n, 20000), 0);
    node_cleanup(&n);
    rm_rf(n.dir);
    rm_rf(dir);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_features_replies ZENTALK_NODE ZENTALK\n");
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    const char *ad = getenv("ZENTALK_ASSETS_DIR");
    char p[1024];
    snprintf(p, sizeof p, "%s/stopwords.zta", ad && ad[0] ? ad : "data/assets");
    have_stopwords = access(p, R_OK) == 0;
    if (!have_stopwords) printf("note: %s not found; summaries are checked to answer 503 asset_missing\n", p);
    (void)find_test_model("stories260K.gguf", model_path, sizeof model_path);
    char *abs = access(model_path, R_OK) == 0 ? realpath(model_path, NULL) : NULL;
    if (abs) {
        snprintf(model_path, sizeof model_path, "%s", abs);
        free(abs);
    } else {
        model_path[0] = '\0';
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intents), cmocka_unit_test(test_replies), cmocka_unit_test(test_summarize),
        cmocka_unit_test(test_bad_requests), cmocka_unit_test(test_cli),
    };
    const struct CMUnitTest solo[] = {
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_malformed_cue_file),
        cmocka_unit_test(test_llm_path),
    };
    int failed = cmocka_run_group_tests_name("features_replies", tests, group_setup, group_teardown);
    failed += cmocka_run_group_tests_name("features_replies_config", solo, NULL, NULL);
    curl_global_cleanup();
    return zt_test_exit(failed);
}
