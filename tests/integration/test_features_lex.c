/* test_features_lex.c: POST /v1/features/{sentiment,moderate,language} and
 * `zentalk sentiment|moderate|language` against the real zentalk-node on
 * 127.0.0.1: known answers, every 4xx of each route, and 503 from a node
 * whose features are disabled (403) or lack their data (503).
 * Needs the assets of `make data` ($ZENTALK_ASSETS_DIR, set by ctest).
 * Usage: test_features_lex PATH/zentalk-node PATH/zentalk */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *cli_bin;
static struct node nd;

static const char *const routes[] = {"/v1/features/sentiment", "/v1/features/moderate",
                                     "/v1/features/language"};

static bool have_assets;

static int group_setup(void **state)
{
    (void)state;
    const char *dir = getenv("ZENTALK_ASSETS_DIR");
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/vader.zta", dir ? dir : "data/assets");
    snprintf(b, sizeof b, "%s/moderation.zta", dir ? dir : "data/assets");
    have_assets = access(a, R_OK) == 0 && access(b, R_OK) == 0;
    if (!have_assets) zt_skip_part("the answers: %s or %s missing (run `make data`)", a, b);
    /* the VADER reference's answers below: this node scores in mode vader */
    static const char *env[] = {"ZENTALK_FEATURES_SENTIMENT_MODE=vader", NULL};
    node_spawn(&nd, NULL, env, true, NULL);
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

/* POST body; the answer's "result" (or its whole object with key NULL) */
static json_t *post_key(const char *path, const char *body, const char *key)
{
    json_t *j = post_json(nd.port, path, NULL, body, 200);
    assert_true(json_is_object(j));
    assert_int_equal(json_object_size(j), 1);
    json_t *res = json_incref(json_object_get(j, key));
    assert_non_null(res);
    json_decref(j);
    return res;
}

static json_t *post_ok(const char *path, const char *body)
{
    json_t *res = post_key(path, body, "result");
    assert_true(json_is_object(res));
    return res;
}

static double num(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static const char *str(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_sentiment(void **state)
{
    (void)state;
    if (!have_assets) skip();
    json_t *j = post_ok(routes[0], "{\"text\": \"VADER is smart, handsome, and funny!\"}");
    assert_true(fabs(num(j, "compound") - 0.8439) < 1e-9); /* the reference's answer */
    assert_true(fabs(num(j, "pos") - 0.752) < 1e-9);
    assert_true(fabs(num(j, "neu") - 0.248) < 1e-9);
    assert_true(num(j, "neg") == 0);
    assert_string_equal(str(j, "label"), "positive");
    assert_string_equal(str(j, "mode"), "vader");
    json_decref(j);
    j = post_ok(routes[0], "{\"text\": \"Today SUX!\"}");
    assert_true(fabs(num(j, "compound") + 0.5461) < 1e-9);
    assert_string_equal(str(j, "label"), "negative");
    json_decref(j);
    j = post_ok(routes[0], "{\"text\": \"The train leaves at nine.\"}");
    assert_string_equal(str(j, "label"), "neutral");
    json_decref(j);
    /* a batch answers in order */
    j = post_key(routes[0], "{\"texts\": [\"The book was good.\", \"Not bad at all\", \"ok\"]}", "results");
    assert_int_equal(json_array_size(j), 3);
    assert_true(fabs(num(json_array_get(j, 0), "compound") - 0.4404) < 1e-9);
    assert_true(fabs(num(json_array_get(j, 1), "compound") + 0.5423) < 1e-9);
    json_decref(j);
}

/* The default mode, chat (issue 16): negation and contrast across clauses,
 * small talk neutral. */
static void test_sentiment_chat(void **state)
{
    (void)state;
    if (!have_assets) skip();
    struct node c;
    node_spawn(&c, NULL, NULL, true, NULL);
    json_t *j = post_json(c.port, routes[0], NULL,
                          "{\"texts\": [\"The package didn't arrive and support won't answer. Terrible.\", "
                          "\"ok see you at 5\"]}",
                          200);
    json_t *res = json_object_get(j, "results");
    assert_int_equal(json_array_size(res), 2);
    assert_string_equal(str(json_array_get(res, 0), "mode"), "chat");
    assert_string_equal(str(json_array_get(res, 0), "label"), "negative");
    assert_string_equal(str(json_array_get(res, 1), "label"), "neutral");
    json_decref(j);
    kill(c.pid, SIGTERM);
    assert_int_equal(node_wait(&c, 20000), 0);
    node_cleanup(&c);
    rm_rf(c.dir);
}

static void test_moderate(void **state)
{
    (void)state;
    if (!have_assets) skip();
    json_t *j = post_ok(routes[1], "{\"text\": \"I will kill you, f.u.c.k you\"}");
    assert_string_equal(str(j, "action"), "block");
    assert_true(json_is_true(json_object_get(j, "flagged")));
    json_t *h = json_object_get(json_object_get(j, "categories"), "harassment");
    assert_true(json_is_true(json_object_get(h, "matched")));
    assert_string_equal(str(h, "action"), "block");
    json_t *m = json_object_get(j, "matches");
    assert_true(json_array_size(m) >= 2);
    bool masked = false;
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v) {
        if (strcmp(str(v, "term"), "f***") == 0) masked = json_is_true(json_object_get(v, "obfuscated"));
        assert_null(strstr(str(v, "term"), "fuck")); /* never in clear */
    }
    assert_true(masked);
    json_decref(j);
    j = post_ok(routes[1], "{\"text\": \"Scunthorpe's class therapist met an assassin\"}");
    assert_string_equal(str(j, "action"), "allow");
    assert_false(json_is_true(json_object_get(j, "flagged")));
    assert_int_equal(json_array_size(json_object_get(j, "matches")), 0);
    json_decref(j);
    /* the request's language: a French word counts fully in French */
    j = post_ok(routes[1], "{\"text\": \"quelle bite\", \"language\": \"fr\"}");
    assert_string_equal(str(j, "action"), "flag");
    assert_string_equal(str(j, "language_source"), "request");
    json_decref(j);
    /* issue 16: harassment, and a short English insult the detector may
     * call Czech is judged with English and the default languages too */
    j = post_ok(routes[1], "{\"text\": \"you're such an idiot, nobody wants you here\"}");
    assert_true(json_is_true(json_object_get(json_object_get(json_object_get(j, "categories"), "harassment"), "matched")));
    assert_true(json_is_true(json_object_get(j, "flagged")));
    json_decref(j);
    j = post_ok(routes[1], "{\"text\": \"you stupid jerk, shut up, nobody likes a snob like you, prat\"}");
    assert_true(json_is_true(json_object_get(json_object_get(json_object_get(j, "categories"), "harassment"), "matched")));
    assert_true(json_is_true(json_object_get(j, "flagged")));
    json_t *lg = json_object_get(j, "language");
    assert_true(json_is_boolean(json_object_get(j, "language_unsure")));
    if (!json_is_string(lg) || strcmp(json_string_value(lg), "en") != 0)
        assert_true(json_is_true(json_object_get(j, "language_unsure")));
    json_decref(j);
    j = post_ok(routes[1], "{\"text\": \"win a prize at bit.ly/abc\"}");
    assert_true(json_is_true(json_object_get(json_object_get(json_object_get(j, "categories"), "spam_links"), "matched")));
    json_decref(j);
}

static void test_language(void **state)
{
    (void)state;
    if (!have_assets) skip();
    json_t *j = post_ok(routes[2], "{\"text\": \"¿Me puedes enviar el archivo otra vez, por favor?\"}");
    assert_string_equal(str(j, "language"), "es");
    assert_string_equal(str(j, "iso639_3"), "spa");
    assert_string_equal(str(j, "name"), "Spanish");
    assert_true(num(j, "confidence") >= 0.5 && num(j, "confidence") <= 1);
    assert_true(json_array_size(json_object_get(j, "alternatives")) == 3);
    json_decref(j);
    j = post_key(routes[2], "{\"texts\": [\"Kom je vanavond naar het feest?\", \"Vieni alla festa stasera?\"]}", "results");
    assert_string_equal(str(json_array_get(j, 0), "best"), "nl");
    assert_string_equal(str(json_array_get(j, 1), "best"), "it");
    json_decref(j);
    j = post_ok(routes[2], "{\"text\": \"12345 :) !!\"}");
    assert_string_equal(str(j, "language"), "und");
    assert_string_equal(str(j, "iso639_3"), "und");
    assert_true(json_is_null(json_object_get(j, "name")));
    assert_true(num(j, "confidence") == 0);
    json_decref(j);
}

static void expect_error(const char *method, const char *path, const char *ctype, const char *body, long status,
                         const char *code)
{
    struct resp r;
    http(nd.port, method, path, ctype, body, &r);
    if (r.status != status) print_error("%s %s %s: HTTP %ld %s\n", method, path, body ? body : "", r.status, zt_buf_str(&r.body));
    assert_error_json(&r, status, code);
    resp_free(&r);
}

static void test_client_errors(void **state)
{
    (void)state;
    if (!have_assets) skip();
    static char big[70000 + 32];
    memcpy(big, "{\"text\": \"", 10);
    memset(big + 10, 'a', 70000);
    memcpy(big + 70010, "\"}", 3);
    static char many[16 + 257 * 4];
    size_t o = 0;
    o += (size_t)snprintf(many, sizeof many, "{\"texts\": [");
    for (int i = 0; i < 257; i++) o += (size_t)snprintf(many + o, sizeof many - o, "%s\"a\"", i ? "," : "");
    snprintf(many + o, sizeof many - o, "]}");
    for (size_t k = 0; k < 3; k++) {
        const char *p = routes[k];
        expect_error("POST", p, "application/json", "{\"text\": ", 400, "invalid_json");
        expect_error("POST", p, "application/json", "[\"text\"]", 400, "invalid_json");
        expect_error("POST", p, "application/json", "", 400, "invalid_json");
        expect_error("POST", p, "text/plain", "{\"text\": \"hi\"}", 415, "unsupported_media_type");
        expect_error("POST", p, "application/json", "{}", 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"text\": 42}", 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"text\": null}", 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"text\": \"hi\", \"extra\": 1}", 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"text\": \"a\", \"text\": \"b\"}", 400, "invalid_json");
        expect_error("POST", p, "application/json", big, 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"text\": \"\"}", 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"texts\": []}", 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"texts\": \"a\"}", 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"texts\": [\"a\", 1]}", 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"texts\": [\"a\", \"\"]}", 400, "invalid_request");
        expect_error("POST", p, "application/json", "{\"text\": \"a\", \"texts\": [\"b\"]}", 400, "invalid_request");
        expect_error("POST", p, "application/json", many, 400, "invalid_request");
        expect_error("GET", p, NULL, NULL, 405, "method_not_allowed");
        expect_error("PUT", p, "application/json", "{\"text\": \"hi\"}", 405, "method_not_allowed");
    }
    expect_error("POST", routes[1], "application/json", "{\"text\": \"hi\", \"language\": \"English\"}", 400,
                 "invalid_request");
    expect_error("POST", routes[1], "application/json", "{\"text\": \"hi\", \"language\": 7}", 400,
                 "invalid_request");
    expect_error("POST", routes[0], "application/json", "{\"text\": \"hi\", \"language\": \"en\"}", 400,
                 "invalid_request");
    expect_error("POST", "/v1/features/sentimen", "application/json", "{\"text\": \"hi\"}", 404, "not_found");
}

/* Run cmd; its stdout into out; returns the exit status. */

static void test_cli(void **state)
{
    (void)state;
    if (!have_assets) skip();
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' --url http://127.0.0.1:%u sentiment VADER is smart, handsome, and funny!",
             cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "positive"));
    assert_non_null(strstr(out, "compound 0.8439"));
    snprintf(cmd, sizeof cmd, "echo 'Kannst du mich vom Bahnhof abholen?' | '%s' language --url http://127.0.0.1:%u",
             cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "de  deu  German"));
    snprintf(cmd, sizeof cmd, "'%s' moderate --json --url http://127.0.0.1:%u 'i will kill you'", cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str(json_object_get(j, "result"), "action"), "block");
    json_decref(j);
    snprintf(cmd, sizeof cmd, "'%s' moderate --url http://127.0.0.1:%u 'f u c k'", cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "profanity: f*** (obfuscated)"));
    snprintf(cmd, sizeof cmd, "'%s' sentiment --bogus 2>/dev/null", cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s' sentiment --url http://127.0.0.1:1 hi 2>/dev/null", cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
}

/* A node with sentiment disabled, no assets and an unknown language: 503s. */
static void test_unavailable(void **state)
{
    (void)state;
    static const char *env[] = {"ZENTALK_FEATURES_SENTIMENT_ENABLED=false", "ZENTALK_ASSETS_DIR=/nonexistent",
                                "ZENTALK_FEATURES_LANGUAGE_LANGUAGES=en,xx", NULL};
    struct node b;
    node_spawn(&b, NULL, env, true, NULL);
    struct resp r;
    http(b.port, "POST", routes[0], "application/json", "{\"text\": \"hi\"}", &r);
    assert_error_json(&r, 403, "feature_disabled");
    resp_free(&r);
    http(b.port, "POST", routes[1], "application/json", "{\"text\": \"hi\"}", &r);
    assert_error_json(&r, 503, "asset_missing");
    assert_non_null(strstr(zt_buf_str(&r.body), "make data"));
    resp_free(&r);
    http(b.port, "POST", routes[2], "application/json", "{\"text\": \"hi\"}", &r);
    assert_error_json(&r, 503, "feature_unavailable");
    assert_non_null(strstr(zt_buf_str(&r.body), "xx"));
    resp_free(&r);
    kill(b.pid, SIGTERM);
    assert_int_equal(node_wait(&b, 20000), 0);
    node_cleanup(&b);
    rm_rf(b.dir);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_features_lex ZENTALK_NODE ZENTALK\n");
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentiment),
        cmocka_unit_test(test_sentiment_chat),
        cmocka_unit_test(test_moderate),
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_client_errors),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_unavailable),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return zt_test_exit(rc);
}
