/* test_features_spam.c: POST /v1/features/spam, /v1/features/entities and
 * /v1/features/preprocess of a real zentalk-node: success paths (single and
 * batch), every 4xx, 503 asset_missing on a node without the spam model and
 * 403 feature_disabled on a node that turns the features off.
 * Usage: test_features_spam PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_asset.h"

static struct node nd;
static bool have_model;

static json_t *post_ok(const char *path, const char *body)
{
    return post_json(nd.port, path, NULL, body, 200);
}

static void post_err(uint16_t port, const char *path, const char *ctype, const char *body, long status, const char *code)
{
    struct resp r;
    http(port, "POST", path, ctype, body, &r);
    if (r.status != status) fprintf(stderr, "%s %s: HTTP %ld %s\n", path, body, r.status, zt_buf_str(&r.body));
    assert_error_json(&r, status, code);
    resp_free(&r);
}

static void test_spam(void **state)
{
    (void)state;
    if (!have_model) {
        zt_skip("data/assets/spam.zta not installed (run `make data`)");
    }
    json_t *j = post_ok("/v1/features/spam",
                        "{\"text\":\"Congratulations! You have been selected to WIN a FREE iPhone. Click here to "
                        "claim your prize now: http://bit.ly/3xWin\"}");
    json_t *r = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(r, "label")), "spam");
    assert_true(json_is_true(json_object_get(r, "spam")));
    double p = json_number_value(json_object_get(r, "probability"));
    assert_true(p >= 0.8 && p <= 1.0);
    assert_true(json_number_value(json_object_get(r, "threshold")) == 0.8);
    json_t *f = json_object_get(r, "features");
    assert_int_equal(json_array_size(f), 5);
    assert_true(json_is_string(json_object_get(json_array_get(f, 0), "feature")));
    assert_true(json_is_string(json_object_get(json_array_get(f, 0), "kind")));
    assert_true(json_is_number(json_object_get(json_array_get(f, 0), "weight")));
    json_decref(j);
    /* batch, threshold and top */
    j = post_ok("/v1/features/spam", "{\"texts\":[\"are we still on for lunch tomorrow?\",\"WIN CASH NOW!!! "
                                     "Text WIN to 80082, free entry\"],\"threshold\":0.5,\"top\":2}");
    json_t *rs = json_object_get(j, "results");
    assert_int_equal(json_array_size(rs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rs, 0), "label")), "ham");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rs, 1), "label")), "spam");
    assert_int_equal(json_array_size(json_object_get(json_array_get(rs, 1), "features")), 2);
    assert_true(json_number_value(json_object_get(json_array_get(rs, 0), "threshold")) == 0.5);
    json_decref(j);
}

static void test_entities(void **state)
{
    (void)state;
    json_t *j = post_ok("/v1/features/entities",
                        "{\"text\":\"@ana lunch tomorrow at 2pm? \\u00e9 $3.50 at https://example.org\","
                        "\"now\":\"2026-12-01T09:30:00+01:00\"}");
    json_t *es = json_object_get(json_object_get(j, "result"), "entities");
    assert_int_equal(json_array_size(es), 4);
    json_t *e = json_array_get(es, 0);
    assert_string_equal(json_string_value(json_object_get(e, "type")), "mention");
    assert_string_equal(json_string_value(json_object_get(e, "value")), "@ana");
    e = json_array_get(es, 1);
    assert_string_equal(json_string_value(json_object_get(e, "type")), "datetime");
    assert_string_equal(json_string_value(json_object_get(e, "text")), "tomorrow at 2pm");
    assert_string_equal(json_string_value(json_object_get(e, "value")), "2026-12-02T14:00:00+01:00");
    assert_int_equal(json_integer_value(json_object_get(e, "start")), 11);
    assert_int_equal(json_integer_value(json_object_get(e, "end")), 26);
    e = json_array_get(es, 2);
    assert_string_equal(json_string_value(json_object_get(e, "type")), "money");
    assert_string_equal(json_string_value(json_object_get(e, "currency")), "USD");
    /* after the 2-byte e-acute, byte and code point offsets differ by one */
    assert_int_equal(json_integer_value(json_object_get(e, "start")), 31);
    assert_int_equal(json_integer_value(json_object_get(e, "start_cp")), 30);
    e = json_array_get(es, 3);
    assert_string_equal(json_string_value(json_object_get(e, "type")), "url");
    assert_true(json_is_false(json_object_get(json_object_get(j, "result"), "truncated")));
    json_decref(j);
    /* batch; date order; wallets */
    j = post_ok("/v1/features/entities", "{\"texts\":[\"12/01/2026\",\"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359\","
                                         "\"nothing here\"],\"date_order\":\"dmy\",\"now\":\"2026-12-01T09:30:00Z\"}");
    json_t *rs = json_object_get(j, "results");
    assert_int_equal(json_array_size(rs), 3);
    e = json_array_get(json_object_get(json_array_get(rs, 0), "entities"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "value")), "2026-01-12");
    e = json_array_get(json_object_get(json_array_get(rs, 1), "entities"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "network")), "ethereum");
    assert_true(json_is_true(json_object_get(e, "valid")));
    assert_int_equal(json_array_size(json_object_get(json_array_get(rs, 2), "entities")), 0);
    json_decref(j);
}

static void test_preprocess(void **state)
{
    (void)state;
    json_t *j = post_ok("/v1/features/preprocess", "{\"text\":\"Hello WORLD \\ud83d\\udc4d\"}");
    json_t *r = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(r, "normalized")), "hello world \xf0\x9f\x91\x8d");
    json_t *t = json_object_get(r, "tokens");
    assert_int_equal(json_array_size(t), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 1), "kind")), "word");
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 1), "folded")), "world");
    assert_string_equal(json_string_value(json_array_get(json_object_get(json_array_get(t, 1), "flags"), 0)), "upper");
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 2), "kind")), "emoji");
    assert_int_equal(json_array_size(json_object_get(r, "emoji")), 1);
    json_decref(j);
    j = post_ok("/v1/features/preprocess", "{\"texts\":[\"a\",\"b c\"]}");
    assert_int_equal(json_array_size(json_object_get(j, "results")), 2);
    json_decref(j);
}

static void test_bad_requests(void **state)
{
    (void)state;
    static const char *const paths[] = {"/v1/features/spam", "/v1/features/entities", "/v1/features/preprocess"};
    char *big = malloc(70 * 1024);
    assert_non_null(big);
    memcpy(big, "{\"text\":\"", 9);
    memset(big + 9, 'a', 65 * 1024);
    memcpy(big + 9 + 65 * 1024, "\"}", 3);
    char many[4096] = "{\"texts\":[";
    for (int i = 0; i < 257; i++) strncat(many, i ? ",\"a\"" : "\"a\"", sizeof many - strlen(many) - 1);
    strncat(many, "]}", sizeof many - strlen(many) - 1);
    for (size_t i = 0; i < 3; i++) {
        const char *p = paths[i];
        uint16_t port = nd.port;
        post_err(port, p, "text/plain", "{\"text\":\"x\"}", 415, "unsupported_media_type");
        post_err(port, p, "application/json", "", 400, "invalid_json");
        post_err(port, p, "application/json", "{\"text\":", 400, "invalid_json");
        post_err(port, p, "application/json", "[\"x\"]", 400, NULL);
        post_err(port, p, "application/json", "{}", 400, "invalid_request");
        post_err(port, p, "application/json", "{\"text\":\"a\",\"texts\":[\"b\"]}", 400, "invalid_request");
        post_err(port, p, "application/json", "{\"text\":42}", 400, "invalid_request");
        post_err(port, p, "application/json", "{\"text\":\"\"}", 400, "invalid_request");
        post_err(port, p, "application/json", "{\"text\":\"a\\u0000b\"}", 400, "invalid_json"); /* jansson refuses NUL */
        post_err(port, p, "application/json", big, 400, "invalid_request");
        post_err(port, p, "application/json", "{\"texts\":[]}", 400, "invalid_request");
        post_err(port, p, "application/json", "{\"texts\":\"a\"}", 400, "invalid_request");
        post_err(port, p, "application/json", "{\"texts\":[\"a\",null]}", 400, "invalid_request");
        post_err(port, p, "application/json", "{\"texts\":[\"a\",\"\"]}", 400, "invalid_request");
        post_err(port, p, "application/json", many, 400, "invalid_request");
        struct resp r;
        http(port, "GET", p, NULL, NULL, &r);
        assert_error_json(&r, 405, NULL);
        resp_free(&r);
    }
    free(big);
    post_err(nd.port, paths[0], "application/json", "{\"text\":\"a\",\"threshold\":1.5}", 400, "invalid_request");
    post_err(nd.port, paths[0], "application/json", "{\"text\":\"a\",\"threshold\":\"x\"}", 400, "invalid_request");
    post_err(nd.port, paths[0], "application/json", "{\"text\":\"a\",\"top\":17}", 400, "invalid_request");
    post_err(nd.port, paths[0], "application/json", "{\"text\":\"a\",\"top\":1.5}", 400, "invalid_request");
    post_err(nd.port, paths[1], "application/json", "{\"text\":\"a\",\"now\":\"tomorrow\"}", 400, "invalid_request");
    post_err(nd.port, paths[1], "application/json", "{\"text\":\"a\",\"now\":3}", 400, "invalid_request");
    post_err(nd.port, paths[1], "application/json", "{\"text\":\"a\",\"date_order\":\"ymd\"}", 400, "invalid_request");
}

static void test_asset_missing(void **state)
{
    (void)state;
    struct node n2;
    const char *const env[] = {"ZENTALK_ASSETS_DIR=/nonexistent/zt-assets", NULL};
    node_spawn(&n2, NULL, env, true, NULL);
    post_err(n2.port, "/v1/features/spam", "application/json", "{\"text\":\"hello\"}", 503, "asset_missing");
    /* bad input is still a 400 first */
    post_err(n2.port, "/v1/features/spam", "application/json", "{\"text\":\"\"}", 400, "invalid_request");
    /* entities need no asset */
    struct resp r;
    http(n2.port, "POST", "/v1/features/entities", "application/json", "{\"text\":\"hi @bob\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    kill(n2.pid, SIGTERM);
    assert_int_equal(node_wait(&n2, 10000), 0);
    struct zt_buf err;
    zt_buf_init(&err, 1 << 20);
    node_collect_stderr(&n2, &err);
    assert_non_null(strstr(zt_buf_str(&err), "asset_missing"));
    zt_buf_deinit(&err);
    node_cleanup(&n2);
}

static void test_disabled(void **state)
{
    (void)state;
    struct node n2;
    const char *const env[] = {"ZENTALK_FEATURES_SPAM_ENABLED=false", "ZENTALK_FEATURES_ENTITIES_ENABLED=false", NULL};
    node_spawn(&n2, NULL, env, true, NULL);
    post_err(n2.port, "/v1/features/spam", "application/json", "{\"text\":\"hello\"}", 403, "feature_disabled");
    post_err(n2.port, "/v1/features/entities", "application/json", "{\"text\":\"hello\"}", 403, "feature_disabled");
    kill(n2.pid, SIGTERM);
    assert_int_equal(node_wait(&n2, 10000), 0);
    node_cleanup(&n2);
}

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
    node_wait(&nd, 10000);
    node_cleanup(&nd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_features_spam ZENTALK_NODE ZENTALK\n");
        return 2;
    }
    node_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    char path[4096];
    have_model = zt_asset_path("data", "spam.zta", path, sizeof path) == 0 && access(path, R_OK) == 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spam),         cmocka_unit_test(test_entities),      cmocka_unit_test(test_preprocess),
        cmocka_unit_test(test_bad_requests), cmocka_unit_test(test_asset_missing), cmocka_unit_test(test_disabled),
    };
    int failed = cmocka_run_group_tests_name("features_spam", tests, group_setup, group_teardown);
    curl_global_cleanup();
    return zt_test_exit(failed);
}
