/* test_attack_consistency.c: the answers a client gets are the documented
 * ones (issue 17 item 11), against a real zentalk-node. Before:
 *  - spam, entities, preprocess and intents accepted unknown fields (the
 *    docs say 400 invalid_request);
 *  - intents answered 413 for too many texts where the other features
 *    answer 400;
 *  - model_cache_full said "(0 MiB)" for a model under 1 MiB;
 *  - suffix and best_of were silently ignored;
 *  - two models in a cache that holds one starved each other: a request
 *    for the second while the first ran got 503 at once (664 of 1,322).
 * Usage: test_attack_consistency PATH/zentalk-node [PATH/zentalk] */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char model_path[1024];

static void expect(uint16_t port, const char *path, const char *body, long status, const char *code)
{
    struct resp r;
    http(port, "POST", path, "application/json", body, &r);
    if (r.status != status) fprintf(stderr, "POST %s %s: %ld %s\n", path, body, r.status, zt_buf_str(&r.body));
    assert_error_json(&r, status, code);
    resp_free(&r);
}

/* Unknown fields are refused with 400 by every text feature. */
static void test_unknown_fields(void **state)
{
    (void)state;
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    static const char *const routes[] = {"/v1/features/spam", "/v1/features/entities", "/v1/features/preprocess",
                                         "/v1/features/intents"};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        expect(n.port, routes[i], "{\"text\":\"hello there\",\"bogus\":1}", 400, "invalid_request");
        expect(n.port, routes[i], "{\"texts\":[\"hello\"],\"threshhold\":0.5}", 400, "invalid_request");
    }
    /* the documented options are still accepted (or refused for their value, not as unknown) */
    struct resp r;
    http(n.port, "POST", "/v1/features/entities", "application/json",
         "{\"text\":\"call me at 5pm\",\"now\":\"2026-12-01T09:30:00+01:00\",\"date_order\":\"dmy\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    http(n.port, "POST", "/v1/features/preprocess", "application/json", "{\"text\":\"Hello World\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    http(n.port, "POST", "/v1/features/spam", "application/json", "{\"text\":\"win money\",\"threshold\":0.5,\"top\":3}",
         &r);
    assert_true(r.status == 200 || r.status == 503); /* 503 asset_missing without make data */
    resp_free(&r);
    node_stop(&n, 60000);
}

/* intents: too many texts, or a text too long, is 400 like the others. */
static void test_intents_too_many(void **state)
{
    (void)state;
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    struct zt_buf b;
    zt_buf_init(&b, 1u << 20);
    assert_int_equal(zt_buf_append_str(&b, "{\"texts\":["), 0);
    for (int i = 0; i < 257; i++) assert_int_equal(zt_buf_appendf(&b, "%s\"hi\"", i ? "," : ""), 0);
    assert_int_equal(zt_buf_append_str(&b, "]}"), 0);
    expect(n.port, "/v1/features/intents", zt_buf_str(&b), 400, "invalid_request");
    expect(n.port, "/v1/features/spam", zt_buf_str(&b), 400, "invalid_request"); /* the same answer */
    zt_buf_reset(&b);
    assert_int_equal(zt_buf_append_str(&b, "{\"text\":\""), 0);
    for (int i = 0; i < 65537; i++) assert_int_equal(zt_buf_append_byte(&b, 'a'), 0);
    assert_int_equal(zt_buf_append_str(&b, "\"}"), 0);
    expect(n.port, "/v1/features/intents", zt_buf_str(&b), 400, "invalid_request");
    zt_buf_deinit(&b);
    node_stop(&n, 60000);
}

/* A config dir whose models.yaml serves the test model as ids a and b. */
static void models_config(char *dir, size_t cap, unsigned budget_mb)
{
    tmp_dir(dir, cap, "conscfg");
    char text[2600];
    snprintf(text, sizeof text,
             "model_cache:\n  memory_budget_mb: %u\n  default_model: a\n"
             "models:\n"
             "  - id: a\n    path: %s\n    context_size: 256\n    max_tokens: 16\n"
             "  - id: b\n    path: %s\n    context_size: 256\n    max_tokens: 16\n",
             budget_mb, model_path, model_path);
    put_file(dir, "models.yaml", text);
    put_file(dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 4\n");
}

/* suffix and best_of are refused, not ignored. */
static void test_suffix_best_of(void **state)
{
    (void)state;
    if (!find_test_model("stories260K.gguf", model_path, sizeof model_path)) zt_skip("stories260K.gguf not found");
    char cfg[256];
    models_config(cfg, sizeof cfg, 0);
    const char *const args[] = {"--config", cfg, NULL};
    struct node n;
    node_spawn(&n, args, NULL, true, NULL);
    expect(n.port, "/v1/completions", "{\"model\":\"a\",\"prompt\":\"Once\",\"max_tokens\":2,\"suffix\":\" end\"}", 400,
           "invalid_request");
    expect(n.port, "/v1/completions", "{\"model\":\"a\",\"prompt\":\"Once\",\"max_tokens\":2,\"best_of\":3}", 400,
           "invalid_request");
    expect(n.port, "/v1/completions", "{\"model\":\"a\",\"prompt\":\"Once\",\"max_tokens\":2,\"best_of\":\"x\"}", 400,
           "invalid_request");
    /* their neutral values stay accepted (clients send the defaults) */
    json_t *j = post_json(n.port, "/v1/completions", NULL,
                          "{\"model\":\"a\",\"prompt\":\"Once\",\"max_tokens\":2,\"best_of\":1,\"suffix\":null}", 200);
    json_decref(j);
    node_stop(&n, 60000);
    rm_rf(cfg);
}

/* model_cache_full names the model's real size. */
static void test_cache_full_message(void **state)
{
    (void)state;
    if (!find_test_model("stories260K.gguf", model_path, sizeof model_path)) zt_skip("stories260K.gguf not found");
    char cfg[256];
    models_config(cfg, sizeof cfg, 1); /* the model's weights are over 1 MiB */
    const char *const args[] = {"--config", cfg, NULL};
    struct node n;
    node_spawn(&n, args, NULL, true, NULL);
    struct resp r;
    http(n.port, "POST", "/v1/completions", "application/json", "{\"model\":\"a\",\"prompt\":\"Once\",\"max_tokens\":2}",
         &r);
    assert_error_json(&r, 503, "model_cache_full");
    json_t *j = resp_json(&r);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    assert_non_null(msg);
    const char *p = strchr(msg, '(');
    assert_non_null(p);
    double mib = strtod(p + 1, NULL);
    if (!(mib > 1.0 && mib < 2.0)) fail_msg("model size in the message is not the real one: %s", msg);
    json_decref(j);
    resp_free(&r);
    node_stop(&n, 60000);
    rm_rf(cfg);
}

struct worker {
    uint16_t port;
    int id, ok, full, other;
};

static void *alternate(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 6; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"model\":\"%s\",\"prompt\":\"Once upon\",\"max_tokens\":8,\"seed\":%d}",
                 (w->id + i) % 2 ? "a" : "b", i);
        struct http_opts o = {.ctype = "application/json", .body = body, .timeout_ms = 120000};
        struct resp r;
        if (http_req(w->port, "POST", "/v1/completions", &o, &r) != 0) w->other++;
        else if (r.status == 200) w->ok++;
        else if (r.status == 503 && strstr(zt_buf_str(&r.body), "model_cache_full")) w->full++;
        else w->other++;
        resp_free(&r);
    }
    return NULL;
}

/* Two models in a cache that holds one: requests for the model not loaded
 * wait for the other's jobs to end (bounded), instead of 503 at once. Two
 * clients at a time: the wait holds an HTTP thread, and at most two wait. */
static void test_two_models_small_cache(void **state)
{
    (void)state;
    if (!find_test_model("stories260K.gguf", model_path, sizeof model_path)) zt_skip("stories260K.gguf not found");
    char cfg[256];
    models_config(cfg, sizeof cfg, 2); /* one copy fits, two do not */
    const char *const args[] = {"--config", cfg, NULL};
    struct node n;
    node_spawn(&n, args, NULL, true, NULL);
    enum { W = 2 };
    struct worker w[W];
    pthread_t t[W];
    for (int i = 0; i < W; i++) {
        w[i] = (struct worker){.port = n.port, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, alternate, &w[i]), 0);
    }
    int ok = 0, full = 0, other = 0;
    for (int i = 0; i < W; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok, full += w[i].full, other += w[i].other;
    }
    printf("two models, one cache slot: %d answered, %d model_cache_full, %d other\n", ok, full, other);
    assert_int_equal(full, 0);
    assert_int_equal(other, 0);
    assert_int_equal(ok, W * 6);
    struct resp r; /* the node still answers */
    http(n.port, "GET", "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    node_stop(&n, 60000);
    rm_rf(cfg);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_consistency")) return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_fields),     cmocka_unit_test(test_intents_too_many),
        cmocka_unit_test(test_suffix_best_of),     cmocka_unit_test(test_cache_full_message),
        cmocka_unit_test(test_two_models_small_cache),
    };
    int f = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return zt_test_exit(f);
}
