/* test_attack_http_alloc.c: allocation failures on the HTTP server's
 * request path (issue 17, the "make tsan" bullet: fail the Nth allocation
 * for every N, as test_config and test_store do). An in-process server
 * (src/net's zt_http_start, one thread) answers a handler that reads the
 * method, path, a query parameter, a header and the body; a request with
 * all of them is sent with the Nth zt_malloc from then failing, for every
 * N up to well past the allocations one request makes. Each answer is the
 * right 200 (an allocation the request can do without), a 5xx, or a closed
 * connection — never a crash, a wrong answer or a leak — and the server
 * serves cleanly afterwards. Also: starting the server with the Nth
 * allocation failing returns ZT_ENOMEM/ZT_EIO cleanly or starts it.
 * Usage: test_attack_http_alloc [ZENTALK_NODE [ZENTALK]] (not used: the
 * server runs in this process). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"

#define SWEEP_MAX 400 /* well past the allocations of one request (checked below) */

static void handler(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    (void)ud;
    size_t len = 0;
    const char *body = zt_http_req_body(req, &len);
    const char *q = zt_http_req_query(req, "q"), *h = zt_http_req_header(req, "X-Probe");
    resp->status = 200;
    resp->content_type = "text/plain";
    if (zt_buf_appendf(&resp->body, "m=%s p=%s q=%s h=%s n=%zu b=%.*s", zt_http_req_method(req),
                       zt_http_req_path(req), q ? q : "-", h ? h : "-", len, (int)(len < 64 ? len : 64),
                       body ? body : "") != 0)
        resp->status = 500;
}

/* One request on a fresh connection; the raw answer in out (cap bytes,
 * NUL-terminated; "" when the connection closed without one). No zt_malloc
 * on this thread, so the injected failure lands in the server. */
static void request(uint16_t port, char *out, size_t cap)
{
    static const char req[] = "POST /echo/path?q=question&z=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "X-Probe: probe-value\r\nContent-Type: application/json\r\n"
                              "Content-Length: 24\r\nConnection: close\r\n\r\n{\"text\":\"hello, server\"}";
    out[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)(sizeof req - 1));
    size_t n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1) break;
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        if (n >= cap - 1) break;
    }
    out[n] = '\0';
    close(fd);
}

static const char WANT[] = "m=POST p=/echo/path q=question h=probe-value n=24 b={\"text\":\"hello, server\"}";

/* Live allocations back at base within 2 s (the server frees a request's
 * state in its completion callback, after the answer went out). */
static void wait_live(int64_t base, int n)
{
    for (int i = 0; i < 200 && zt_alloc_live() != base; i++) zt_time_sleep_ms(10);
    if (zt_alloc_live() != base) {
        print_error("n=%d: %lld allocations leaked\n", n, (long long)(zt_alloc_live() - base));
        fail();
    }
}

static void test_request_path_alloc_failures(void **state)
{
    (void)state;
    struct zt_http_opts o = {.host = "127.0.0.1", .threads = 1, .max_connections = 16, .max_header_bytes = 8192,
                             .max_body_bytes = 65536, .timeout_s = 5, .handler = handler};
    struct zt_http_server *srv = NULL;
    int64_t before = zt_alloc_live();
    assert_int_equal(zt_http_start(&o, &srv), 0);
    uint16_t port = zt_http_port(srv);
    static char out[16384];
    request(port, out, sizeof out); /* warm up: whatever the first request sets up once */
    assert_non_null(strstr(out, WANT));
    zt_time_sleep_ms(50);
    int64_t base = zt_alloc_live();
    int ok = 0, refused = 0, closed = 0, last_bad = 0;
    for (int n = 1; n <= SWEEP_MAX; n++) {
        zt_alloc_fail_after(n);
        request(port, out, sizeof out);
        zt_alloc_fail_after(0);
        if (strncmp(out, "HTTP/1.1 200 ", 13) == 0) {
            if (!strstr(out, WANT)) {
                print_error("n=%d: a 200 with the wrong answer:\n%s\n", n, out);
                fail();
            }
            ok++;
        } else if (strncmp(out, "HTTP/1.1 5", 10) == 0) {
            refused++, last_bad = n;
        } else if (!out[0]) {
            closed++, last_bad = n;
        } else {
            print_error("n=%d: unexpected answer:\n%s\n", n, out);
            fail();
        }
        wait_live(base, n);
    }
    print_message("http request path: %d failure points answered 5xx, %d closed, %d served; the last failure at "
                  "n=%d of %d\n",
                  refused, closed, ok, last_bad, SWEEP_MAX);
    assert_true(refused + closed > 0);       /* failures were injected into the request path */
    assert_true(last_bad < SWEEP_MAX - 50); /* and the sweep went well past the last allocation */
    /* still serving */
    request(port, out, sizeof out);
    assert_non_null(strstr(out, WANT));
    zt_http_stop(srv);
    assert_int_equal(zt_alloc_live(), before);
}

static void test_start_alloc_failures(void **state)
{
    (void)state;
    struct zt_http_opts o = {.host = "127.0.0.1", .threads = 1, .max_connections = 16, .max_header_bytes = 8192,
                             .max_body_bytes = 65536, .timeout_s = 5, .header_timeout_s = 5, .handler = handler};
    int n;
    bool started = false;
    for (n = 1; n < 1000 && !started; n++) {
        int64_t live = zt_alloc_live();
        struct zt_http_server *srv = NULL;
        zt_alloc_fail_after(n);
        int rc = zt_http_start(&o, &srv);
        zt_alloc_fail_after(0);
        if (rc != 0 && rc != ZT_ENOMEM && rc != ZT_EIO) {
            print_error("n=%d: rc=%d\n", n, rc);
            fail();
        }
        started = rc == 0;
        if (started) {
            static char out[16384];
            request(zt_http_port(srv), out, sizeof out);
            assert_non_null(strstr(out, WANT));
            zt_http_stop(srv);
        }
        assert_int_equal(zt_alloc_live(), live);
    }
    assert_true(started);
    print_message("http server start: %d failure points, then success\n", n - 2);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_alloc_failures),
        cmocka_unit_test(test_request_path_alloc_failures),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
