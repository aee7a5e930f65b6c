/* test_auth_api.c: API authentication of a real zentalk-node: a node on a
 * non-loopback listener with encryption.jwt_secret set (tokens minted here
 * with libjwt) answers 401/403/429 JSON errors and serves good tokens; the
 * same listener without a secret refuses to start; the embedded default on
 * 127.0.0.1 keeps serving loopback clients as admin.
 * Usage: test_auth_api PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECRET "integration-secret-abcdefghijklmnopqrstuvwxyz"

static char cfg_dir[256];
static struct node nd;

/* GET/PUT path with an optional Authorization header value. */
static void req(const char *method, const char *path, const char *auth, const char *body,
                struct resp *r)
{
    http_auth(nd.port, method, path, auth, body ? "application/json" : NULL, body, r);
}

static void bearer_req(const char *method, const char *path, const char *token, struct resp *r)
{
    char auth[2048];
    snprintf(auth, sizeof auth, "Bearer %s", token);
    req(method, path, auth, NULL, r);
}

static int group_setup(void **state)
{
    (void)state;
    tmp_dir(cfg_dir, sizeof cfg_dir, "authcfg");
    put_file(cfg_dir, "encryption.yaml", "encryption:\n  require_auth: true\n  jwt_secret: \"" SECRET "\"\n");
    put_file(cfg_dir, "config.yaml", "server:\n  rate_limit_rps: 1\n  rate_limit_burst: 3\n");
    node_spawn_public(&nd, cfg_dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    kill(nd.pid, SIGTERM);
    int st = node_wait(&nd, 20000);
    struct zt_buf err;
    zt_buf_init(&err, 1 << 20);
    node_collect_stderr(&nd, &err);
    /* tokens and the secret never reach the log */
    bool leaked = strstr(zt_buf_str(&err), SECRET) != NULL || strstr(zt_buf_str(&err), "eyJ") != NULL;
    if (leaked) fprintf(stderr, "secret or token in the log:\n%s\n", zt_buf_str(&err));
    zt_buf_deinit(&err);
    node_cleanup(&nd);
    rm_rf(nd.dir);
    rm_rf(cfg_dir);
    return st == 0 && !leaked ? 0 : -1;
}

static void assert_header(struct resp *r, const char *needle)
{
    if (!strstr(zt_buf_str(&r->headers), needle))
        fail_msg("header \"%s\" missing in:\n%s", needle, zt_buf_str(&r->headers));
}

static void test_public_routes_need_no_token(void **state)
{
    (void)state;
    static const char *const paths[] = {"/healthz", "/readyz", "/metrics", "/v1/status"};
    for (size_t i = 0; i < 4; i++) {
        struct resp r;
        req("GET", paths[i], NULL, NULL, &r);
        if (r.status != 200 && !(i == 1 && r.status == 503)) fail_msg("%s: %ld", paths[i], r.status);
        resp_free(&r);
    }
}

static void test_missing_and_invalid_tokens(void **state)
{
    (void)state;
    struct resp r;
    req("GET", "/v1/models", NULL, NULL, &r);
    assert_error_json(&r, 401, "unauthorized");
    assert_header(&r, "WWW-Authenticate: Bearer");
    resp_free(&r);

    req("GET", "/v1/admin/status", NULL, NULL, &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);

    req("POST", "/v1/chat/completions", NULL, "{\"messages\":[]}", &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);

    static const char *const bad_headers[] = {"Basic dXNlcjpwYXNz", "Bearer", "Bearer a.b",
                                              "Bearer a.b.c", "Bearer  x.y.z"};
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        req("GET", "/v1/models", bad_headers[i], NULL, &r);
        assert_error_json(&r, 401, "unauthorized");
        assert_header(&r, "error=\"invalid_token\"");
        resp_free(&r);
    }

    char *t = jwt_mint("some-other-secret-0123456789", "mallory", "admin", 600);
    bearer_req("GET", "/v1/admin/status", t, &r);
    assert_error_json(&r, 401, "unauthorized");
    resp_free(&r);
    free(t);

    t = jwt_mint(SECRET, "late", "user", -3600);
    bearer_req("GET", "/v1/models", t, &r);
    assert_error_json(&r, 401, "unauthorized");
    assert_non_null(strstr(zt_buf_str(&r.body), "expired"));
    resp_free(&r);
    free(t);

    /* an oversized header is refused (by the parser, or by the header limit) */
    char *big = malloc(9000);
    assert_non_null(big);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', 8990);
    big[100] = '.';
    big[200] = '.';
    big[8997] = '\0';
    req("GET", "/v1/models", big, NULL, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    free(big);
}

static void test_roles(void **state)
{
    (void)state;
    struct resp r;
    char *user = jwt_mint(SECRET, "role-user", "user", 600);
    char *admin = jwt_mint(SECRET, "role-admin", "admin", 600);
    char *provider = jwt_mint(SECRET, "role-provider", "provider", 600);

    bearer_req("GET", "/v1/models", user, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    bearer_req("GET", "/v1/models", provider, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    bearer_req("GET", "/v1/admin/status", user, &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);
    bearer_req("GET", "/v1/admin/status", provider, &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);
    char auth[2048];
    snprintf(auth, sizeof auth, "Bearer %s", user);
    req("PUT", "/v1/admin/log-level", auth, "{\"level\":\"debug\"}", &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);

    bearer_req("GET", "/v1/admin/status", admin, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_true(json_is_string(json_object_get(j, "node_id")));
    assert_true(json_is_number(json_object_get(j, "uptime_seconds")));
    assert_true(json_is_array(json_object_get(j, "models_loaded")));
    assert_true(json_is_object(json_object_get(j, "runner")));
    json_t *auth_o = json_object_get(j, "auth");
    assert_true(json_is_true(json_object_get(auth_o, "jwt")));
    assert_true(json_is_false(json_object_get(auth_o, "listener_loopback")));
    json_decref(j);
    resp_free(&r);

    bearer_req("GET", "/v1/admin/log-level", admin, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(user);
    free(admin);
    free(provider);
}

static void test_rate_limit(void **state)
{
    (void)state;
    char *t = jwt_mint(SECRET, "rate-user", "user", 600);
    char *other = jwt_mint(SECRET, "rate-other", "user", 600);
    struct resp r;
    /* burst 3 at 1 per second: the 4th request at once is refused */
    int ok = 0;
    long last = 0;
    for (int i = 0; i < 6 && last != 429; i++) {
        bearer_req("GET", "/v1/models", t, &r);
        last = r.status;
        if (r.status == 200) ok++;
        if (r.status == 429) {
            assert_error_json(&r, 429, "rate_limited");
            const char *ra = strstr(zt_buf_str(&r.headers), "Retry-After: ");
            assert_non_null(ra);
            long secs = strtol(ra + strlen("Retry-After: "), NULL, 10);
            assert_true(secs >= 1 && secs <= 2);
        }
        resp_free(&r);
    }
    assert_int_equal(last, 429);
    assert_true(ok >= 3);
    /* another identity has its own bucket */
    bearer_req("GET", "/v1/models", other, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* public routes are not limited */
    for (int i = 0; i < 10; i++) {
        req("GET", "/healthz", NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    free(t);
    free(other);
}

/* require_auth on a non-loopback listener with no secret: refuse to start. */
static void test_refuses_without_secret(void **state)
{
    (void)state;
    char dir[256];
    tmp_dir(dir, sizeof dir, "authcfg2");
    put_file(dir, "encryption.yaml", "encryption:\n  require_auth: true\n");
    struct node n;
    const char *const args[] = {"--config", dir, "--listen", "0.0.0.0:0", NULL};
    node_spawn(&n, args, NULL, false, NULL);
    assert_int_equal(node_wait(&n, 15000), 1);
    struct zt_buf err;
    zt_buf_init(&err, 1 << 16);
    node_collect_stderr(&n, &err);
    assert_non_null(strstr(zt_buf_str(&err), "encryption.jwt_secret is empty"));
    zt_buf_deinit(&err);
    node_cleanup(&n);
    rm_rf(n.dir);
    rm_rf(dir);
}

/* The embedded default on 127.0.0.1: loopback clients are admin, no token. */
static void test_loopback_default(void **state)
{
    (void)state;
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    uint16_t saved = nd.port;
    nd.port = n.port;
    struct resp r;
    req("GET", "/v1/admin/status", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* a token cannot be checked without a secret: it is ignored */
    req("GET", "/v1/models", "Bearer a.b.c", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    nd.port = saved;
    kill(n.pid, SIGTERM);
    assert_int_equal(node_wait(&n, 20000), 0);
    struct zt_buf err;
    zt_buf_init(&err, 1 << 16);
    node_collect_stderr(&n, &err);
    assert_non_null(strstr(zt_buf_str(&err), "auth_disabled"));
    zt_buf_deinit(&err);
    node_cleanup(&n);
    rm_rf(n.dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_auth_api ZENTALK_NODE [ZENTALK]\n");
        return 2;
    }
    node_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest shared_tests[] = {
        cmocka_unit_test(test_public_routes_need_no_token),
        cmocka_unit_test(test_missing_and_invalid_tokens),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_rate_limit),
    };
    const struct CMUnitTest own_tests[] = {
        cmocka_unit_test(test_refuses_without_secret),
        cmocka_unit_test(test_loopback_default),
    };
    int rc = cmocka_run_group_tests_name("shared node", shared_tests, group_setup, group_teardown);
    rc |= cmocka_run_group_tests_name("own nodes", own_tests, NULL, NULL);
    curl_global_cleanup();
    return zt_test_exit(rc);
}
