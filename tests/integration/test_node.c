/* test_node.c: black-box tests of zentalk-node and the zentalk CLI.
 *
 * Starts the real daemon on 127.0.0.1 with an ephemeral port and a temporary
 * data directory, speaks HTTP to it (libcurl for well-formed requests, raw
 * sockets for malformed ones), and checks status codes, JSON shapes, the
 * Prometheus exposition format, limits, signals and shutdown.
 * Usage: test_node PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE /* nftw, strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static const char *cli_bin;

/* ---- the shared node for the route tests -------------------------------- */

static struct node shared;

static int group_setup(void **state)
{
    (void)state;
    const char *const env[] = {"ZENTALK_LOG_LEVEL=debug", NULL};
    char logarg[400];
    (void)logarg;
    node_spawn(&shared, NULL, env, true, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    kill(shared.pid, SIGTERM);
    int st = node_wait(&shared, 20000);
    node_cleanup(&shared);
    rm_rf(shared.dir);
    return st == 0 ? 0 : -1;
}

static void test_healthz(void **state)
{
    (void)state;
    struct resp r;
    http(shared.port, "GET", "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    assert_non_null(strstr(zt_buf_str(&r.headers), "X-Request-Id: "));
    resp_free(&r);

    http(shared.port, "HEAD", "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    resp_free(&r);
}

static void test_readyz(void **state)
{
    (void)state;
    struct resp r;
    http(shared.port, "GET", "/readyz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ready");
    json_t *roles = json_object_get(j, "roles");
    assert_int_equal(json_object_size(roles), 3);
    const char *names[] = {"gateway", "orchestrator", "worker"};
    for (int i = 0; i < 3; i++) {
        json_t *role = json_object_get(roles, names[i]);
        assert_true(json_is_true(json_object_get(role, "ready")));
        assert_true(json_is_string(json_object_get(role, "detail")));
    }
    json_decref(j);
    resp_free(&r);
}

static void test_status(void **state)
{
    (void)state;
    struct resp r;
    http(shared.port, "GET", "/v1/status", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    const char *id = json_string_value(json_object_get(j, "node_id"));
    assert_non_null(id);
    /* the id is derived from the node's identity key, created on first
     * start in the data directory (0600); `zentalk id` reads the same file */
    assert_int_equal(strlen(id), 35);
    assert_memory_equal(id, "zt1", 3);
    char path[400], cmd[900], out[2048];
    snprintf(path, sizeof path, "%s/node.key", shared.data_dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/node_id", shared.data_dir);
    assert_int_not_equal(access(path, F_OK), 0); /* the old id file is gone */
    snprintf(cmd, sizeof cmd, "'%s' id --data-dir '%s' --json", cli_bin, shared.data_dir);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    json_t *cj = json_loads(out, 0, NULL);
    assert_non_null(cj);
    assert_string_equal(json_string_value(json_object_get(cj, "node_id")), id);
    json_decref(cj);
    assert_true(json_is_string(json_object_get(j, "version")));
    assert_true(json_is_number(json_object_get(j, "uptime_seconds")));
    assert_true(json_is_true(json_object_get(j, "ready")));
    json_t *roles = json_object_get(j, "roles");
    assert_int_equal(json_array_size(roles), 3);
    assert_string_equal(json_string_value(json_array_get(roles, 0)), "gateway");
    assert_true(json_is_array(json_object_get(j, "models")));
    assert_true(json_is_array(json_object_get(j, "peers")));
    json_decref(j);
    resp_free(&r);
}

/* Check the text exposition format 0.0.4 line by line. */
static void test_metrics_format(void **state)
{
    (void)state;
    struct resp r;
    http(shared.port, "GET", "/healthz", NULL, NULL, &r);
    resp_free(&r);
    http(shared.port, "GET", "/no/such/route", NULL, NULL, &r);
    resp_free(&r);
    http(shared.port, "GET", "/metrics", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(zt_buf_str(&r.headers), "Content-Type: text/plain; version=0.0.4"));

    regex_t sample, help, type;
    assert_int_equal(regcomp(&sample,
                             "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\""
                             "(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\\})? [-+0-9.eE]+|\\+Inf$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    assert_int_equal(regcomp(&help, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$", REG_EXTENDED | REG_NOSUB), 0);
    assert_int_equal(regcomp(&type, "^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    char *text = strdup(zt_buf_str(&r.body));
    assert_non_null(text);
    size_t lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lines++;
        int ok;
        if (strncmp(line, "# HELP", 6) == 0) ok = regexec(&help, line, 0, NULL, 0) == 0;
        else if (strncmp(line, "# TYPE", 6) == 0) ok = regexec(&type, line, 0, NULL, 0) == 0;
        else ok = regexec(&sample, line, 0, NULL, 0) == 0;
        if (!ok) fprintf(stderr, "bad exposition line: %s\n", line);
        assert_true(ok);
    }
    free(text);
    regfree(&sample);
    regfree(&help);
    regfree(&type);
    assert_true(lines > 20);
    const char *m = zt_buf_str(&r.body);
    assert_non_null(strstr(m, "zentalk_build_info{version=\""));
    assert_non_null(strstr(m, "\nzentalk_uptime_seconds "));
    /* this scrape, and perhaps the previous test's request: the server counts
     * a request out after its answer has left, so under load the client can
     * be here before the last one was counted out */
    const char *inf = strstr(m, "\nzentalk_http_requests_in_flight ");
    assert_non_null(inf);
    char *inf_end = NULL;
    unsigned long in_flight = strtoul(inf + strlen("\nzentalk_http_requests_in_flight "), &inf_end, 10);
    assert_true(inf_end && *inf_end == '\n');
    assert_true(in_flight >= 1 && in_flight <= 2);
    assert_non_null(strstr(m, "zentalk_http_requests_total{route=\"/healthz\",status=\"200\"} "));
    assert_non_null(strstr(m, "zentalk_http_requests_total{route=\"unmatched\",status=\"404\"} "));
    assert_non_null(strstr(m, "zentalk_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} "));
    assert_non_null(strstr(m, "zentalk_role_ready{role=\"worker\"} 1"));

    /* histogram: buckets are cumulative and +Inf equals _count */
    const char *p = strstr(m, "zentalk_http_request_duration_seconds_bucket{route=\"/healthz\"");
    unsigned long long prev = 0, v = 0;
    while (p && zt_str_starts_with(p, "zentalk_http_request_duration_seconds_bucket{route=\"/healthz\",")) {
        const char *sp = strchr(p, ' ');
        v = strtoull(sp + 1, NULL, 10);
        assert_true(v >= prev);
        prev = v;
        p = strchr(p, '\n') + 1;
    }
    assert_non_null(p);
    assert_true(zt_str_starts_with(p, "zentalk_http_request_duration_seconds_sum{route=\"/healthz\"} "));
    p = strchr(p, '\n') + 1;
    char expect[128];
    snprintf(expect, sizeof expect, "zentalk_http_request_duration_seconds_count{route=\"/healthz\"} %llu\n", v);
    assert_true(strncmp(p, expect, strlen(expect)) == 0);
    resp_free(&r);
}

static void test_errors_are_json(void **state)
{
    (void)state;
    struct resp r;
    http(shared.port, "GET", "/nope", NULL, NULL, &r);
    assert_error_json(&r, 404, "not_found");
    resp_free(&r);

    http(shared.port, "POST", "/healthz", "application/json", "{}", &r);
    assert_error_json(&r, 405, "method_not_allowed");
    assert_non_null(strstr(zt_buf_str(&r.headers), "Allow: GET, HEAD, OPTIONS"));
    resp_free(&r);

    http(shared.port, "DELETE", "/v1/status", NULL, NULL, &r);
    assert_error_json(&r, 405, "method_not_allowed");
    resp_free(&r);

    http(shared.port, "OPTIONS", "/v1/admin/log-level", NULL, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_non_null(strstr(zt_buf_str(&r.headers), "Allow: GET, HEAD, PUT, OPTIONS"));
    resp_free(&r);

    http(shared.port, "PUT", "/v1/admin/log-level", "application/json", "{\"level\": ", &r);
    assert_error_json(&r, 400, "invalid_json");
    assert_non_null(strstr(zt_buf_str(&r.body), "line 1"));
    resp_free(&r);

    http(shared.port, "PUT", "/v1/admin/log-level", "text/plain", "{\"level\":\"info\"}", &r);
    assert_error_json(&r, 415, "unsupported_media_type");
    resp_free(&r);

    http(shared.port, "PUT", "/v1/admin/log-level", "application/json", "[1,2]", &r);
    assert_error_json(&r, 400, "invalid_json");
    resp_free(&r);

    http(shared.port, "PUT", "/v1/admin/log-level", "application/json", "{\"level\":\"loud\"}", &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);

    http(shared.port, "PUT", "/v1/admin/log-level", "application/json", "{\"level\":\"debug\",\"level\":\"info\"}", &r);
    assert_error_json(&r, 400, "invalid_json"); /* duplicate keys are refused */
    resp_free(&r);

    http(shared.port, "PUT", "/v1/admin/log-level", "application/json", "{\"level\":\"warn\"}", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(zt_buf_str(&r.body), "\"level\":\"warn\""));
    resp_free(&r);
    http(shared.port, "GET", "/v1/admin/log-level", NULL, NULL, &r);
    assert_non_null(strstr(zt_buf_str(&r.body), "\"level\":\"warn\""));
    resp_free(&r);
    http(shared.port, "PUT", "/v1/admin/log-level", "application/json", "{\"level\":\"debug\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_limits(void **state)
{
    (void)state;
    struct zt_buf out;
    zt_buf_init(&out, 1 << 22);

    /* body larger than server.max_body_bytes (1 MiB): 413 before reading it */
    const char *big = "PUT /v1/admin/log-level HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 5000000\r\n\r\n{\"level\":";
    assert_int_equal(raw_request(shared.port, big, strlen(big), &out), 413);
    assert_non_null(strstr(zt_buf_str(&out), "\"body_too_large\""));

    /* chunked body that grows past the limit: 413 */
    struct zt_buf req;
    zt_buf_init(&req, 1 << 22);
    assert_int_equal(zt_buf_append_str(&req, "PUT /v1/admin/log-level HTTP/1.1\r\nHost: x\r\n"
                                              "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(zt_buf_append_str(&req, "8000\r\n"), 0);
        for (int k = 0; k < 0x8000; k++) assert_int_equal(zt_buf_append_byte(&req, ' '), 0);
        assert_int_equal(zt_buf_append_str(&req, "\r\n"), 0);
    }
    assert_int_equal(zt_buf_append_str(&req, "0\r\n\r\n"), 0);
    assert_int_equal(raw_request(shared.port, req.data, req.len, &out), 413);

    /* headers over server.max_header_bytes (16 KiB): our JSON 431 */
    zt_buf_reset(&req);
    assert_int_equal(zt_buf_append_str(&req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "), 0);
    for (int k = 0; k < 20000; k++) assert_int_equal(zt_buf_append_byte(&req, 'a'), 0);
    assert_int_equal(zt_buf_append_str(&req, "\r\n\r\n"), 0);
    assert_int_equal(raw_request(shared.port, req.data, req.len, &out), 431);
    assert_non_null(strstr(zt_buf_str(&out), "\"headers_too_large\""));
    zt_buf_deinit(&req);
    zt_buf_deinit(&out);
}

/* 200 malformed requests of every kind; each must get a 4xx and the node
 * must keep serving. */
static void test_malformed_requests(void **state)
{
    (void)state;
    struct zt_buf out, req;
    zt_buf_init(&out, 1 << 22);
    zt_buf_init(&req, 1 << 22);
    static const char *const bad_methods[] = {"FOO", "GETT", "get", "BREW", "PROPFIND", "TRACE", "CONNECT",
                                              "PATCH", "DELETE", "POST"};
    static const char *const bad_json[] = {
        "{", "}", "{\"level\"", "{\"level\":}", "[", "nul", "{\"a\":1,}", "{'level':'info'}",
        "{\"level\":\"info\"", "\"just a string\"", "42", "{\"level\":\"info\"}}", "{\"level\":\"\\x\"}",
        "{\"level\":\"\xff\xfe\"}", "\xef\xbb\xbf{}", "{\"level\": NaN}", "{\"a\":[[[[[[[[[[",
        "{\"level\":\"info\",}", "{\"level\":[\"info\"]}", "{\"extra\":1}"};
    int count = 0;
    for (int i = 0; count < 200; i++) {
        zt_buf_reset(&req);
        int kind = i % 8;
        int rc = 0;
        switch (kind) {
        case 0: /* methods the route does not have, or nobody has */
            rc = zt_buf_appendf(&req, "%s /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                                bad_methods[(size_t)i % 10]);
            break;
        case 1: /* huge headers: over our limit, or over libmicrohttpd's pool */
            rc = zt_buf_appendf(&req, "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Pad: ");
            for (int k = 0; k < (i % 16 == 1 ? 300000 : 17000 + i * 10); k++) rc |= zt_buf_append_byte(&req, 'z');
            rc |= zt_buf_append_str(&req, "\r\n\r\n");
            break;
        case 2: /* truncated JSON bodies with a matching Content-Length */
        case 3: { /* invalid JSON */
            const char *b = bad_json[(size_t)(i / 8 + kind) % 20];
            size_t bl = strlen(b);
            if (kind == 2 && bl > 2) bl = bl / 2;
            rc = zt_buf_appendf(&req, "PUT /v1/admin/log-level HTTP/1.1\r\nHost: x\r\n"
                                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%.*s",
                                bl, (int)bl, b);
            break;
        }
        case 4: /* bad Content-Length values */
            rc = zt_buf_appendf(&req, "PUT /v1/admin/log-level HTTP/1.1\r\nHost: x\r\n"
                                      "Content-Type: application/json\r\nContent-Length: %s\r\n\r\n{}",
                                (i / 8) % 3 == 0 ? "abc" : ((i / 8) % 3 == 1 ? "-1" : "99999999999999999999999"));
            break;
        case 5: /* garbage request lines */
            rc = zt_buf_appendf(&req, "%s\r\nHost: x\r\n\r\n",
                                (i / 8) % 4 == 0 ? "GET /healthz" /* HTTP/0.9 */ : ((i / 8) % 4 == 1 ? "GET /healthz HTTP/1.1 extra" :
                                                           ((i / 8) % 4 == 2 ? "\x01\x02\x03 / HTTP/1.1" : "GET healthz HTTP/1.1")));
            break;
        case 6: /* bodies on routes that take none, wrong content types */
            rc = zt_buf_appendf(&req, "%s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 2\r\n\r\n{}",
                                (i / 8) % 2 ? "GET /v1/status" : "PUT /v1/admin/log-level",
                                (i / 8) % 2 ? "application/json" : "application/x-www-form-urlencoded");
            break;
        case 7: /* unknown routes, odd paths, header without colon */
            rc = zt_buf_appendf(&req, "%s HTTP/1.1\r\nHost: x\r\n%s\r\n",
                                (i / 8) % 3 == 0 ? "GET /v1/../../etc/passwd" : ((i / 8) % 3 == 1 ? "GET /%00" : "GET /v1/status"),
                                (i / 8) % 3 == 2 ? "NoColonHeader\r\n" : "");
            break;
        }
        assert_int_equal(rc, 0);
        int status = raw_request(shared.port, req.data, req.len, &out);
        if (status < 400 || status > 499)
            fprintf(stderr, "case %d (kind %d) got status %d:\n%.300s\n---\n%.500s\n", i, kind, status, req.data,
                    zt_buf_str(&out));
        assert_true(status >= 400 && status <= 499);
        count++;
        if (count % 25 == 0) { /* still up */
            struct resp r;
            http(shared.port, "GET", "/healthz", NULL, NULL, &r);
            assert_int_equal(r.status, 200);
            resp_free(&r);
        }
    }
    assert_int_equal(count, 200);
    /* still alive */
    assert_int_equal(kill(shared.pid, 0), 0);
    struct resp r;
    http(shared.port, "GET", "/readyz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    zt_buf_deinit(&out);
    zt_buf_deinit(&req);
}

static void test_data_dir_layout(void **state)
{
    (void)state;
    const char *subs[] = {"", "/checkpoints", "/temp", "/encrypted_cache", "/logs", "/models"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s%s", shared.data_dir, subs[i]);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0700);
    }
}

static void test_cli_status(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' status --url http://127.0.0.1:%u", cli_bin, shared.port);
    char out[4096];
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "node        "));
    assert_non_null(strstr(out, "ready       yes"));
    assert_non_null(strstr(out, "gateway"));

    snprintf(cmd, sizeof cmd, "'%s' status --json --url http://127.0.0.1:%u", cli_bin, shared.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_decref(j);

    /* a node that is not there: exit 1 and a message */
    snprintf(cmd, sizeof cmd, "'%s' status --url http://127.0.0.1:1 2>&1", cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "cannot reach"));

    snprintf(cmd, sizeof cmd, "'%s' --help >/dev/null && '%s' bogus 2>/dev/null", cli_bin, cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 2);
}

/* ---- tests with their own node ------------------------------------------ */

/* A second node on the same port fails clearly; so does a second node on
 * the same data directory. */
static void test_port_and_datadir_in_use(void **state)
{
    (void)state;
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", shared.port);
    const char *const a1[] = {"--listen", listen, NULL};
    struct node n2;
    node_spawn(&n2, a1, NULL, false, NULL);
    assert_int_equal(node_wait(&n2, 10000), 1);
    struct zt_buf err;
    zt_buf_init(&err, 1 << 16);
    node_collect_stderr(&n2, &err);
    assert_non_null(strstr(zt_buf_str(&err), "address already in use"));
    node_cleanup(&n2);
    rm_rf(n2.dir);

    const char *const a2[] = {"--data-dir", shared.data_dir, NULL};
    node_spawn(&n2, a2, NULL, false, NULL);
    assert_int_equal(node_wait(&n2, 10000), 1);
    zt_buf_reset(&err);
    node_collect_stderr(&n2, &err);
    assert_non_null(strstr(zt_buf_str(&err), "in use by another zentalk-node"));
    node_cleanup(&n2);
    rm_rf(n2.dir);
    zt_buf_deinit(&err);
}

/* SIGTERM while a request is half-sent: the request completes, then the
 * node exits 0. SIGHUP reopens the log file. Logs carry no bodies. */
static void test_signals_drain_and_reopen(void **state)
{
    (void)state;
    char dir[64];
    tmp_dir(dir, sizeof dir, "sig");
    char logfile[300], envlog[340];
    snprintf(logfile, sizeof logfile, "%s/node.log", dir);
    snprintf(envlog, sizeof envlog, "ZENTALK_LOG_FILE=%s", logfile);
    const char *const env[] = {envlog, "ZENTALK_LOG_FORMAT=json", "ZENTALK_LOG_LEVEL=debug", NULL};
    struct node n;
    node_spawn(&n, NULL, env, true, dir);

    /* a canary in a request body must never reach the log */
    struct resp r;
    http(n.port, "PUT", "/v1/admin/log-level", "application/json", "{\"level\":\"CANARY-7f3a9\"}", &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);

    /* rotate: move the file away, SIGHUP, the node writes to a new file */
    char rotated[340];
    snprintf(rotated, sizeof rotated, "%s.1", logfile);
    assert_int_equal(rename(logfile, rotated), 0);
    assert_int_equal(kill(n.pid, SIGHUP), 0);
    struct stat st;
    uint64_t deadline = zt_time_mono_ms() + 5000;
    while (stat(logfile, &st) != 0 && zt_time_mono_ms() < deadline) zt_time_sleep_ms(20);
    assert_int_equal(stat(logfile, &st), 0);

    /* half a request in flight */
    int fd = tcp_connect(n.port);
    const char *head = "PUT /v1/admin/log-level HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 16\r\nConnection: close\r\n\r\n{\"level\":";
    send_all(fd, head, strlen(head));
    zt_time_sleep_ms(200);
    assert_int_equal(kill(n.pid, SIGTERM), 0);
    zt_time_sleep_ms(300);
    assert_int_equal(kill(n.pid, 0), 0); /* still draining */
    send_all(fd, "\"info\"}", 7);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    (void)read_until(fd, &out, "\x01never\x01", 5000);
    close(fd);
    assert_true(strncmp(zt_buf_str(&out), "HTTP/1.1 200", 12) == 0);
    assert_int_equal(node_wait(&n, 15000), 0);

    /* the logs: JSON lines, reopened, drained, never the canary */
    struct zt_buf logs;
    zt_buf_init(&logs, 1 << 22);
    const char *files[] = {rotated, logfile};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        assert_non_null(f);
        char line[8192];
        while (fgets(line, sizeof line, f)) {
            json_t *j = json_loads(line, 0, NULL);
            if (!j) fprintf(stderr, "log line is not JSON: %s", line);
            assert_non_null(j);
            json_decref(j);
            assert_int_equal(zt_buf_append_str(&logs, line), 0);
        }
        fclose(f);
    }
    assert_non_null(strstr(zt_buf_str(&logs), "\"msg\":\"log_reopened\""));
    assert_non_null(strstr(zt_buf_str(&logs), "\"msg\":\"shutdown_started\""));
    assert_non_null(strstr(zt_buf_str(&logs), "\"msg\":\"node_stopped\""));
    assert_null(strstr(zt_buf_str(&logs), "CANARY-7f3a9"));
    zt_buf_deinit(&logs);
    zt_buf_deinit(&out);
    node_cleanup(&n);
    rm_rf(dir);
}


static void test_cli_flags_and_check_config(void **state)
{
    (void)state;
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' --help", node_bin);
    assert_int_equal(run_shell_buf(cmd, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "--check-config"));
    zt_buf_reset(&out);
    snprintf(cmd, sizeof cmd, "'%s' --version", node_bin);
    assert_int_equal(run_shell_buf(cmd, &out), 0);
    assert_true(zt_str_starts_with(zt_buf_str(&out), "zentalk-node "));
    zt_buf_reset(&out);
    snprintf(cmd, sizeof cmd, "'%s' --bogus 2>&1", node_bin);
    assert_int_equal(run_shell_buf(cmd, &out), 2);

    /* the repository's config/ is valid */
    const char *src = getenv("ZT_SOURCE_DIR");
    assert_non_null(src);
    zt_buf_reset(&out);
    snprintf(cmd, sizeof cmd, "'%s' --config '%s/config' --check-config 2>&1", node_bin, src);
    int st = run_shell_buf(cmd, &out);
    if (st != 0) fprintf(stderr, "%s\n", zt_buf_str(&out));
    assert_int_equal(st, 0);

    /* a broken file: exit 1, file:line:col and the key */
    char dir[64];
    tmp_dir(dir, sizeof dir, "cfg");
    char path[300];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("server:\n  threads: 0\n", f);
    fclose(f);
    zt_buf_reset(&out);
    snprintf(cmd, sizeof cmd, "'%s' --config '%s' --check-config 2>&1", node_bin, dir);
    assert_int_equal(run_shell_buf(cmd, &out), 1);
    assert_non_null(strstr(zt_buf_str(&out), "config.yaml:2:"));
    assert_non_null(strstr(zt_buf_str(&out), "server.threads"));

    /* environment and flags are checked the same way */
    zt_buf_reset(&out);
    snprintf(cmd, sizeof cmd, "ZENTALK_SERVER_THREADS=lots '%s' --check-config 2>&1", node_bin);
    assert_int_equal(run_shell_buf(cmd, &out), 1);
    assert_non_null(strstr(zt_buf_str(&out), "ZENTALK_SERVER_THREADS"));
    zt_buf_reset(&out);
    snprintf(cmd, sizeof cmd, "'%s' --listen nonsense --check-config 2>&1", node_bin);
    assert_int_equal(run_shell_buf(cmd, &out), 1);
    assert_non_null(strstr(zt_buf_str(&out), "--listen"));
    zt_buf_reset(&out);
    snprintf(cmd, sizeof cmd, "'%s' --config /nonexistent/zt --check-config 2>&1", node_bin);
    assert_int_equal(run_shell_buf(cmd, &out), 1);

    /* --dump-config redacts secrets */
    zt_buf_reset(&out);
    snprintf(cmd, sizeof cmd, "ZENTALK_DATABASE_POSTGRES_URL=postgres://u:hunter2@h/db '%s' --dump-config", node_bin);
    assert_int_equal(run_shell_buf(cmd, &out), 0);
    assert_null(strstr(zt_buf_str(&out), "hunter2"));
    assert_non_null(strstr(zt_buf_str(&out), "listen:"));
    rm_rf(dir);
    zt_buf_deinit(&out);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_node ZENTALK_NODE ZENTALK\n");
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest shared_tests[] = {
        cmocka_unit_test(test_healthz),
        cmocka_unit_test(test_readyz),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_metrics_format),
        cmocka_unit_test(test_errors_are_json),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_data_dir_layout),
        cmocka_unit_test(test_cli_status),
        cmocka_unit_test(test_port_and_datadir_in_use),
    };
    const struct CMUnitTest own_tests[] = {
        cmocka_unit_test(test_signals_drain_and_reopen),
        cmocka_unit_test(test_cli_flags_and_check_config),
    };
    int failed = cmocka_run_group_tests_name("node_shared", shared_tests, group_setup, group_teardown);
    failed += cmocka_run_group_tests_name("node_lifecycle", own_tests, NULL, NULL);
    curl_global_cleanup();
    return zt_test_exit(failed);
}
