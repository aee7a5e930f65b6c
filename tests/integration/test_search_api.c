/* test_search_api.c: private search and categorisation through a real
 * zentalk-node: index (one and batch), query, delete by id and by user,
 * who may act on which user (JWT sub vs "user", admin), categorisation of
 * a text, a batch and a conversation, and the 4xx/5xx answers (bad bodies,
 * feature disabled, asset missing). Skips the asset-dependent parts when
 * the glove asset is absent (make data).
 * Usage: test_search_api PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SECRET "search-integration-secret-abcdefghijklmnopqrstuvwxyz"

static bool have_assets(void)
{
    const char *d = getenv("ZENTALK_ASSETS_DIR");
    char p[1024];
    snprintf(p, sizeof p, "%s/glove.zta", d ? d : "data/assets");
    struct stat st;
    if (stat(p, &st) != 0) {
        zt_skip_part("%s not installed (run `make data`)", p);
        return false;
    }
    return true;
}

static void post(uint16_t port, const char *path, const char *token, const char *body, struct resp *r)
{
    char auth[1024];
    if (token) snprintf(auth, sizeof auth, "Bearer %s", token);
    http_auth(port, "POST", path, token ? auth : NULL, "application/json", body, r);
}

static void stop(struct node *n)
{
    kill(n->pid, SIGTERM);
    assert_int_equal(node_wait(n, 20000), 0);
    node_cleanup(n);
}

static const char *hit_id(json_t *j, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(j, "results"), i), "id"));
}

/* Embedded default: loopback, no token, the operator is admin. */
static void test_index_query_delete(void **state)
{
    (void)state;
    if (!have_assets()) skip();
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    struct resp r;
    post(n.port, "/v1/search/index", NULL,
         "{\"user\":\"alice\",\"messages\":["
         "{\"id\":\"1\",\"text\":\"Our flight to Lisbon leaves at seven\"},"
         "{\"id\":\"2\",\"text\":\"The plumber fixed the kitchen sink\"},"
         "{\"id\":\"3\",\"text\":\"Remember the dentist appointment on Monday\"}]}",
         &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "result"), "indexed")), 3);
    json_decref(j);
    resp_free(&r);
    post(n.port, "/v1/search/index", NULL, "{\"user\":\"alice\",\"id\":\"4\",\"text\":\"Pizza or sushi tonight?\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    post(n.port, "/v1/search/query", NULL, "{\"user\":\"alice\",\"query\":\"flights\",\"limit\":2}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_string_equal(hit_id(j, 0), "1");
    json_t *h0 = json_array_get(json_object_get(j, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(h0, "text")), "Our flight to Lisbon leaves at seven");
    assert_true(json_real_value(json_object_get(h0, "bm25")) > 0);
    assert_true(json_array_size(json_object_get(j, "results")) <= 2);
    json_decref(j);
    resp_free(&r);
    /* semantic: no word in common */
    post(n.port, "/v1/search/query", NULL, "{\"user\":\"alice\",\"query\":\"restaurant dinner\"}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_string_equal(hit_id(j, 0), "4");
    json_decref(j);
    resp_free(&r);

    post(n.port, "/v1/search/delete", NULL, "{\"user\":\"alice\",\"id\":\"1\"}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "result"), "deleted")), 1);
    json_decref(j);
    resp_free(&r);
    post(n.port, "/v1/search/query", NULL, "{\"user\":\"alice\",\"query\":\"flight Lisbon\"}", &r);
    j = resp_json(&r);
    for (size_t i = 0; i < json_array_size(json_object_get(j, "results")); i++)
        assert_string_not_equal(hit_id(j, i), "1");
    json_decref(j);
    resp_free(&r);
    post(n.port, "/v1/search/delete", NULL, "{\"user\":\"alice\"}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "result"), "deleted")), 3);
    assert_true(json_is_true(json_object_get(json_object_get(j, "result"), "user_key_destroyed")));
    json_decref(j);
    resp_free(&r);
    post(n.port, "/v1/search/query", NULL, "{\"user\":\"alice\",\"query\":\"sushi\"}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_int_equal(json_array_size(json_object_get(j, "results")), 0);
    json_decref(j);
    resp_free(&r);

    /* 4xx */
    static const char *const bad[][2] = {
        {"/v1/search/index", "{\"id\":\"1\",\"text\":\"x\"}"},
        {"/v1/search/index", "{\"user\":\"a\"}"},
        {"/v1/search/index", "{\"user\":\"a\",\"id\":\"1\",\"text\":\"\"}"},
        {"/v1/search/index", "{\"user\":\"a\",\"id\":\"1\",\"text\":5}"},
        {"/v1/search/index", "{\"user\":\"a\",\"id\":1,\"text\":\"x\"}"},
        {"/v1/search/index", "{\"user\":\"a\",\"messages\":[]}"},
        {"/v1/search/index", "{\"user\":\"a\",\"messages\":[\"x\"]}"},
        {"/v1/search/index", "{\"user\":\"a\",\"id\":\"1\",\"text\":\"x\",\"messages\":[]}"},
        {"/v1/search/index", "{\"user\":\"a\",\"id\":\"1\",\"text\":\"x\",\"extra\":1}"},
        {"/v1/search/query", "{\"user\":\"a\"}"},
        {"/v1/search/query", "{\"user\":\"a\",\"query\":\"x\",\"limit\":0}"},
        {"/v1/search/query", "{\"user\":\"a\",\"query\":\"x\",\"limit\":101}"},
        {"/v1/search/query", "{\"user\":\"a\",\"query\":\"x\",\"limit\":\"5\"}"},
        {"/v1/search/query", "{\"user\":\"\",\"query\":\"x\"}"},
        {"/v1/search/delete", "{\"id\":\"1\"}"},
        {"/v1/search/delete", "{\"user\":\"a\",\"id\":\"\"}"},
        {"/v1/features/categorize", "{}"},
        {"/v1/features/categorize", "{\"text\":\"\"}"},
        {"/v1/features/categorize", "{\"text\":\"a\",\"texts\":[\"b\"]}"},
        {"/v1/features/categorize", "{\"texts\":[\"a\",3]}"},
        {"/v1/features/categorize", "{\"texts\":[]}"},
        {"/v1/features/categorize", "{\"messages\":[{\"from\":\"x\"}]}"},
        {"/v1/features/categorize", "{\"messages\":[{\"from\":1,\"text\":\"hi\"}]}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        post(n.port, bad[i][0], NULL, bad[i][1], &r);
        if (r.status != 400) fprintf(stderr, "case %zu: %s %s -> %ld\n", i, bad[i][0], bad[i][1], r.status);
        assert_error_json(&r, 400, "invalid_request");
        resp_free(&r);
    }
    /* oversized text (64 KiB + 1) and batch (257 messages) */
    struct zt_buf b;
    zt_buf_init(&b, 1u << 20);
    assert_int_equal(zt_buf_append_str(&b, "{\"user\":\"a\",\"id\":\"big\",\"text\":\""), 0);
    for (int i = 0; i < 65537; i++) assert_int_equal(zt_buf_append(&b, "a", 1), 0);
    assert_int_equal(zt_buf_append_str(&b, "\"}"), 0);
    post(n.port, "/v1/search/index", NULL, zt_buf_str(&b), &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    zt_buf_reset(&b);
    assert_int_equal(zt_buf_append_str(&b, "{\"user\":\"a\",\"messages\":["), 0);
    for (int i = 0; i < 257; i++) {
        char m[64];
        snprintf(m, sizeof m, "%s{\"id\":\"%d\",\"text\":\"t\"}", i ? "," : "", i);
        assert_int_equal(zt_buf_append_str(&b, m), 0);
    }
    assert_int_equal(zt_buf_append_str(&b, "]}"), 0);
    post(n.port, "/v1/search/index", NULL, zt_buf_str(&b), &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    zt_buf_deinit(&b);
    http(n.port, "GET", "/v1/search/query", NULL, NULL, &r);
    assert_error_json(&r, 405, "method_not_allowed");
    resp_free(&r);
    stop(&n);
}

static void test_categorize(void **state)
{
    (void)state;
    if (!have_assets()) skip();
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    struct resp r;
    post(n.port, "/v1/features/categorize", NULL,
         "{\"text\":\"We land at the airport at nine and take a taxi to the hotel\"}", &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r), *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "category")), "travel");
    assert_int_equal(json_array_size(json_object_get(res, "categories")), 3);
    json_decref(j);
    resp_free(&r);
    post(n.port, "/v1/features/categorize", NULL,
         "{\"messages\":[{\"from\":\"a\",\"text\":\"did you watch the game?\"},"
         "{\"from\":\"b\",\"text\":\"yes, what a goal by the striker\"}]}",
         &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "result"), "category")), "sports");
    json_decref(j);
    resp_free(&r);
    post(n.port, "/v1/features/categorize", NULL, "{\"texts\":[\"my laptop needs a software update\",\"zzqx\"]}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    json_t *arr = json_object_get(j, "results");
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "category")), "tech");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "category")), "uncategorised");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 1), "words")), 0);
    json_decref(j);
    resp_free(&r);
    stop(&n);
}

/* With a JWT secret: "user" must be the token's sub unless the role is admin. */
static void test_identity_rules(void **state)
{
    (void)state;
    if (!have_assets()) skip();
    char dir[256];
    tmp_dir(dir, sizeof dir, "searchcfg");
    put_file(dir, "encryption.yaml", "encryption:\n  jwt_secret: \"" SECRET "\"\n");
    const char *const args[] = {"--config", dir, NULL};
    struct node n;
    node_spawn(&n, args, NULL, true, NULL);
    char *alice = jwt_mint(SECRET, "alice", "user", 600), *admin = jwt_mint(SECRET, "ops", "admin", 600);
    struct resp r;
    post(n.port, "/v1/search/index", alice, "{\"user\":\"alice\",\"id\":\"1\",\"text\":\"hello there\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    post(n.port, "/v1/search/index", alice, "{\"user\":\"bob\",\"id\":\"1\",\"text\":\"hello\"}", &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);
    post(n.port, "/v1/search/query", alice, "{\"user\":\"bob\",\"query\":\"hello\"}", &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);
    post(n.port, "/v1/search/delete", alice, "{\"user\":\"bob\"}", &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);
    /* no token: a loopback caller without identity may not act on anyone */
    post(n.port, "/v1/search/query", NULL, "{\"user\":\"alice\",\"query\":\"hello\"}", &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);
    post(n.port, "/v1/search/query", admin, "{\"user\":\"alice\",\"query\":\"hello\"}", &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(hit_id(j, 0), "1");
    json_decref(j);
    resp_free(&r);
    post(n.port, "/v1/search/query", alice, "{\"user\":\"alice\",\"query\":\"hello\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(alice);
    free(admin);
    stop(&n);
    rm_rf(dir);
}

/* Feature switched off and asset missing. */
static void test_disabled_and_missing(void **state)
{
    (void)state;
    const char *const env[] = {"ZENTALK_FEATURES_CATEGORIZE_ENABLED=false",
                               "ZENTALK_ASSETS_DIR=/nonexistent-zentalk-assets", NULL};
    struct node n;
    node_spawn(&n, NULL, env, true, NULL);
    struct resp r;
    post(n.port, "/v1/features/categorize", NULL, "{\"text\":\"hello\"}", &r);
    assert_error_json(&r, 403, "feature_disabled");
    resp_free(&r);
    post(n.port, "/v1/search/query", NULL, "{\"user\":\"a\",\"query\":\"hello\"}", &r);
    assert_error_json(&r, 503, "asset_missing");
    assert_non_null(strstr(zt_buf_str(&r.body), "make data"));
    resp_free(&r);
    /* bad input is still a 400 before the asset is needed */
    post(n.port, "/v1/search/query", NULL, "{\"user\":\"a\"}", &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    stop(&n);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/zentalk-node [PATH/zentalk]\n", argv[0]);
        return 2;
    }
    node_bin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_query_delete),
        cmocka_unit_test(test_categorize),
        cmocka_unit_test(test_identity_rules),
        cmocka_unit_test(test_disabled_and_missing),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
