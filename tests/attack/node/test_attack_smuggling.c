/* test_attack_smuggling.c: request smuggling against a real zentalk-node
 * (issue 17 item 6). Each request is followed by a pipelined GET /healthz
 * on the same connection: a server that misreads where the first request
 * ends serves the second one. RFC 9112 §6.3: two Content-Length headers,
 * or Content-Length with Transfer-Encoding, are answered 400 and the
 * connection is closed, so nothing behind them is served; a request line or
 * header line ending in a bare LF is refused; a %00 in the path does not
 * cut it short ("/healthz%00abc" is not /healthz).
 * Usage: test_attack_smuggling PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_time.h"

static struct node nd;

static int setup(void **state)
{
    (void)state;
    node_spawn(&nd, NULL, NULL, true, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kill(nd.pid, SIGTERM);
    node_wait(&nd, 20000);
    node_cleanup(&nd);
    rm_rf(nd.dir);
    return 0;
}

/* Send req whole (no half-close: a server that keeps the connection open
 * would serve what follows) and read until the server closes or 5 s pass.
 * *closed says whether it closed. */
static void exchange(const char *req, struct zt_buf *out, bool *closed)
{
    int fd = tcp_connect(nd.port);
    send_all(fd, req, strlen(req));
    zt_buf_reset(out);
    *closed = false;
    uint64_t deadline = zt_time_mono_ms() + 5000;
    while (zt_time_mono_ms() < deadline) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0) continue;
        char tmp[8192];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0) {
            *closed = true;
            break;
        }
        assert_int_equal(zt_buf_append(out, tmp, (size_t)n), 0);
    }
    close(fd);
}

static unsigned count_responses(const char *s)
{
    unsigned n = 0;
    for (const char *p = s; (p = strstr(p, "HTTP/1.1 ")) != NULL; p++) n++;
    return n;
}

/* Status lines in s that are not "HTTP/1.1 400". */
static unsigned count_not_400(const char *s)
{
    unsigned n = 0;
    for (const char *p = s; (p = strstr(p, "HTTP/1.1 ")) != NULL; p++)
        if (strncmp(p, "HTTP/1.1 400", 12) != 0) n++;
    return n;
}

/* The request must be answered 400, the connection closed, and the
 * pipelined /healthz behind it never served. (libmicrohttpd 0.9.75 answers
 * a Content-Length it cannot parse itself, and writes its 400's header
 * block twice before the one body: still 400s only, then close.) */
static void expect_refused(const char *what, const char *req)
{
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    bool closed;
    exchange(req, &out, &closed);
    const char *s = zt_buf_str(&out);
    if (strncmp(s, "HTTP/1.1 400", 12) != 0 || count_responses(s) < 1 || count_not_400(s) || !closed ||
        strstr(s, "\"ok\"")) {
        print_error("%s: expected one 400 and close, got (closed=%d):\n%s\n", what, closed, s);
        zt_buf_deinit(&out);
        fail();
    }
    zt_buf_deinit(&out);
}

static const char healthz[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

static void test_double_content_length(void **state)
{
    (void)state;
    char req[512];
    snprintf(req, sizeof req,
             "POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: 2\r\nContent-Length: 41\r\n\r\n{}%s", healthz);
    expect_refused("two Content-Length headers", req);
    /* the same value twice is still two headers (RFC 9112 §6.3 allows
     * merging identical values; we refuse: no proxy gains from sending it) */
    snprintf(req, sizeof req,
             "POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}%s", healthz);
    expect_refused("Content-Length twice, same value", req);
    snprintf(req, sizeof req, "POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}%s", healthz);
    expect_refused("Content-Length list", req);
}

static void test_content_length_and_chunked(void **state)
{
    (void)state;
    char req[512];
    snprintf(req, sizeof req,
             "POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s", healthz);
    expect_refused("Content-Length with Transfer-Encoding: chunked", req);
    snprintf(req, sizeof req,
             "POST /v1/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             "Content-Length: 40\r\n\r\n0\r\n\r\n%s", healthz);
    expect_refused("Transfer-Encoding before Content-Length", req);
    /* a transfer coding other than chunked alone cannot be framed */
    snprintf(req, sizeof req, "POST /v1/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                              "0\r\n\r\n%s", healthz);
    expect_refused("Transfer-Encoding: gzip, chunked", req);
}

static void test_bare_lf(void **state)
{
    (void)state;
    char req[512];
    snprintf(req, sizeof req, "GET /healthz HTTP/1.1\nHost: x\r\nX-A: 1\r\n\r\n%s", healthz);
    expect_refused("bare LF after the request line", req);
    snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n%s", healthz);
    expect_refused("bare LF after a header line", req);
}

static void test_nul_in_path(void **state)
{
    (void)state;
    static const char *const targets[] = {"/healthz%00abc", "/healthz%00", "/v1/status%00.json",
                                          "/healthz?x=%00"};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", targets[i]);
        struct zt_buf out;
        zt_buf_init(&out, 1 << 20);
        int st = raw_request(nd.port, req, strlen(req), &out);
        if (st != 400) {
            print_error("%s: expected 400, got %d:\n%s\n", targets[i], st, zt_buf_str(&out));
            zt_buf_deinit(&out);
            fail();
        }
        zt_buf_deinit(&out);
    }
}

/* What must keep working: a plain pipelined pair is served twice, a sized
 * body and a chunked body are read. */
static void test_well_formed_still_served(void **state)
{
    (void)state;
    char req[512];
    snprintf(req, sizeof req, "%sGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", healthz);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    bool closed;
    exchange(req, &out, &closed);
    assert_int_equal(count_responses(zt_buf_str(&out)), 2);
    struct resp r = {0};
    http(nd.port, "GET", "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    snprintf(req, sizeof req,
             "PUT /v1/admin/log-level HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n10\r\n{\"level\":\"info\"}\r\n0\r\n\r\n");
    int st = raw_request(nd.port, req, strlen(req), &out);
    assert_int_equal(st, 200);
    zt_buf_deinit(&out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_attack_smuggling ZENTALK_NODE [ZENTALK]\n");
        return 2;
    }
    node_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_content_length), cmocka_unit_test(test_content_length_and_chunked),
        cmocka_unit_test(test_bare_lf),               cmocka_unit_test(test_nul_in_path),
        cmocka_unit_test(test_well_formed_still_served),
    };
    int failed = cmocka_run_group_tests_name("attack_smuggling", tests, setup, teardown);
    curl_global_cleanup();
    return zt_test_exit(failed);
}
