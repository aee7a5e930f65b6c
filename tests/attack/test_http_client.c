/* test_http_client.c: the outbound HTTP client (src/net/http_client.c)
 * against a server that misbehaves on purpose.
 *
 * The server is a few dozen lines of sockets in this file (a real HTTP
 * server would refuse to be this rude): it listens on 127.0.0.1, handles
 * each connection on a thread of its own, answers one request per
 * connection and picks its behaviour by path. The normal path (GET and POST
 * of JSON, a streamed SSE body through the callback) is checked first, then
 * the attacks: redirects to file:// and to another host (refused before any
 * connection is made to it), a redirect loop, an endless body and a body
 * over the cap (stopped at the cap), a drip-fed body (cut by the low-speed
 * limit in bounded time), huge headers (many lines, one long line), the
 * in-flight limit (callers wait, then proceed) and shutdown with requests
 * in flight. The whole run takes a few seconds. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h> /* zt_http.h names json_t */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"

/* ---- the rude server ---------------------------------------------------- */

static int listen_fd = -1;
static uint16_t port;
static pthread_t accept_thread;
static atomic_bool server_stop;
static atomic_int conns_active; /* connection threads running */
static atomic_int hits_ok;      /* requests for /ok */
static atomic_int slow_now;     /* /slow requests being served at once ... */
static atomic_int slow_max;     /* ... and the most seen */

static void send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0 && !atomic_load(&server_stop)) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* false once the peer has gone (a write fails) or the server stops */
static bool send_ok(int fd, const void *p, size_t n)
{
    if (atomic_load(&server_stop)) return false;
    return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n;
}

static void sleep_ms(unsigned ms)
{
    usleep(ms * 1000u);
}

/* Read the request head and any Content-Length body into buf. */
static size_t read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    char *end = NULL;
    while (len < cap - 1) {
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")) != NULL) break;
    }
    if (!end) return len;
    size_t head = (size_t)(end + 4 - buf);
    const char *cl = strstr(buf, "\r\nContent-Length:");
    size_t want = cl && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    while (len < head + want && len < cap - 1) {
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    return len;
}

static void serve(int fd)
{
    char buf[65536];
    size_t n = read_request(fd, buf, sizeof buf);
    char path[256] = "";
    const char *sp = n ? strchr(buf, ' ') : NULL; /* "METHOD /path HTTP/1.1" */
    if (!sp) return;
    size_t pl = strcspn(sp + 1, " \r\n");
    if (pl == 0 || pl >= sizeof path) return;
    memcpy(path, sp + 1, pl);
    path[pl] = '\0';
    char out[1024];
    if (strncmp(path, "http://", 7) == 0) { /* absolute form: we are someone's proxy */
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{\"proxied\":true}");
    } else if (strcmp(path, "/mute") == 0) {
        /* accepts, reads the request, says nothing for a long time */
        for (int i = 0; i < 50 && !atomic_load(&server_stop); i++) sleep_ms(100);
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    } else if (strcmp(path, "/ok") == 0) {
        atomic_fetch_add(&hits_ok, 1);
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
                     "Connection: close\r\n\r\n{\"ok\":true}");
    } else if (strcmp(path, "/echo") == 0) {
        const char *body = strstr(buf, "\r\n\r\n") + 4;
        const char *ct = strstr(buf, "\r\nContent-Type: application/json") ? "application/json" : "text/plain";
        snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                 ct, strlen(body));
        send_str(fd, out);
        send_str(fd, body);
    } else if (strcmp(path, "/sse") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
        for (int i = 0; i < 5; i++) {
            snprintf(out, sizeof out, "data: {\"n\":%d}\n\n", i);
            send_str(fd, out);
            sleep_ms(20);
        }
    } else if (strcmp(path, "/redirect-file") == 0) {
        send_str(fd, "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (strcmp(path, "/redirect-other-host") == 0) {
        /* "localhost" reaches this very server: a connection made in spite of
         * the refusal would show up in hits_ok */
        snprintf(out, sizeof out, "HTTP/1.1 302 Found\r\nLocation: http://localhost:%u/ok\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n", (unsigned)port);
        send_str(fd, out);
    } else if (strcmp(path, "/redirect-same") == 0) {
        send_str(fd, "HTTP/1.1 301 Moved\r\nLocation: /ok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (strcmp(path, "/redirect-loop") == 0) {
        send_str(fd, "HTTP/1.1 302 Found\r\nLocation: /redirect-loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (strcmp(path, "/endless") == 0) {
        /* no length, no end: bytes until the client hangs up */
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
        static const char chunk[16384];
        while (send_ok(fd, chunk, sizeof chunk)) {
        }
    } else if (strcmp(path, "/big") == 0) {
        /* announced over the cap */
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\nConnection: close\r\n\r\n");
        static const char chunk[16384];
        for (int i = 0; i < 64 && send_ok(fd, chunk, sizeof chunk); i++) {
        }
    } else if (strcmp(path, "/drip") == 0) {
        /* a byte every 100 ms: alive, and useless */
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n");
        for (int i = 0; i < 600 && send_ok(fd, "x", 1); i++) sleep_ms(100);
    } else if (strcmp(path, "/many-headers") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\n");
        char line[128];
        for (int i = 0; i < 4000; i++) {
            snprintf(line, sizeof line, "X-Pad-%04d: %080d\r\n", i, 0);
            if (!send_ok(fd, line, strlen(line))) return;
        }
        send_str(fd, "Content-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (strcmp(path, "/long-header") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nX-Long: ");
        static char pad[1024];
        memset(pad, 'a', sizeof pad);
        for (int i = 0; i < 1024 && send_ok(fd, pad, sizeof pad); i++) {
        }
        send_str(fd, "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (strcmp(path, "/slow") == 0) {
        int now = atomic_fetch_add(&slow_now, 1) + 1;
        int prev = atomic_load(&slow_max);
        while (now > prev && !atomic_compare_exchange_weak(&slow_max, &prev, now)) {
        }
        sleep_ms(300);
        atomic_fetch_sub(&slow_now, 1);
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    } else {
        send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    serve(fd);
    shutdown(fd, SHUT_WR);
    close(fd);
    atomic_fetch_sub(&conns_active, 1);
    return NULL;
}

static void *accept_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&server_stop)) {
        struct pollfd p = {.fd = listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) continue;
        atomic_fetch_add(&conns_active, 1);
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0) {
            close(fd);
            atomic_fetch_sub(&conns_active, 1);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

static int64_t live_base; /* zt_ allocations after global init (libcurl's own) */

static int server_start(void **state)
{
    (void)state;
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(listen_fd >= 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(listen_fd, 64), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(listen_fd, (struct sockaddr *)&a, &al), 0);
    port = ntohs(a.sin_port);
    atomic_store(&server_stop, false);
    assert_int_equal(pthread_create(&accept_thread, NULL, accept_main, NULL), 0);
    assert_int_equal(zt_net_client_global_init(), 0);
    live_base = zt_alloc_live();
    return 0;
}

static int server_stop_all(void **state)
{
    (void)state;
    /* every client freed: nothing of ours or libcurl's is left */
    if (zt_alloc_live() != live_base)
        fprintf(stderr, "leak: %lld allocations live\n", (long long)(zt_alloc_live() - live_base));
    assert_int_equal(zt_alloc_live(), live_base);
    atomic_store(&server_stop, true);
    pthread_join(accept_thread, NULL);
    while (atomic_load(&conns_active) > 0) sleep_ms(10);
    close(listen_fd);
    zt_net_client_global_cleanup();
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void url_for(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "http://127.0.0.1:%u%s", (unsigned)port, path);
}

static struct zt_http_client *client(unsigned max_inflight)
{
    struct zt_http_client *c = NULL;
    struct zt_http_client_opts o = {.max_inflight = max_inflight, .max_header_bytes = 32u << 10};
    assert_int_equal(zt_http_client_new(&o, &c), 0);
    return c;
}

static double secs_since(uint64_t t0)
{
    return (double)(zt_time_mono_ns() - t0) / 1e9;
}

/* ---- the normal path ---------------------------------------------------- */

static void test_get_and_post_json(void **state)
{
    (void)state;
    struct zt_http_client *c = client(4);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/ok");
    assert_int_equal(zt_http_client_json(c, url, NULL, NULL, 2000, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(zt_buf_str(&r.body), "{\"ok\":true}");

    url_for(url, sizeof url, "/echo");
    const char *hdrs[] = {"X-Test: yes", NULL};
    assert_int_equal(zt_http_client_json(c, url, hdrs, "{\"q\":\"hello\"}", 2000, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json"); /* the request said JSON */
    assert_string_equal(zt_buf_str(&r.body), "{\"q\":\"hello\"}");

    url_for(url, sizeof url, "/absent");
    assert_int_equal(zt_http_client_json(c, url, NULL, NULL, 2000, &r), 0); /* an answer, not an error */
    assert_int_equal(r.status, 404);

    /* bad input never reaches the network */
    assert_int_equal(zt_http_client_json(c, "file:///etc/passwd", NULL, NULL, 2000, &r), ZT_EINVAL);
    assert_int_equal(zt_http_client_json(c, "gopher://127.0.0.1/", NULL, NULL, 2000, &r), ZT_EINVAL);
    const char *bad[] = {"X-Evil: a\r\nX-Injected: b", NULL};
    assert_int_equal(zt_http_client_json(c, url, bad, NULL, 2000, &r), ZT_EINVAL);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

struct sse {
    int heads;
    long status;
    char ctype[64];
    char text[512];
    size_t len;
    int pieces;
};

static int sse_head(void *ud, long status, const char *ct, int64_t content_length)
{
    assert_int_equal(content_length, -1); /* a stream has no length */
    struct sse *s = ud;
    s->heads++;
    s->status = status;
    snprintf(s->ctype, sizeof s->ctype, "%s", ct);
    return 0;
}

static int sse_body(void *ud, const void *p, size_t n)
{
    struct sse *s = ud;
    if (s->len + n >= sizeof s->text) return ZT_ETOOBIG;
    memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len] = '\0';
    s->pieces++;
    return 0;
}

static void test_stream_callback(void **state)
{
    (void)state;
    struct zt_http_client *c = client(4);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/sse");
    struct sse s = {0};
    struct zt_http_request q = {.url = url, .timeout_ms = 3000, .on_head = sse_head, .on_body = sse_body, .ud = &s};
    assert_int_equal(zt_http_client_do(c, &q, &r), 0);
    assert_int_equal(s.heads, 1);
    assert_int_equal(s.status, 200);
    assert_string_equal(s.ctype, "text/event-stream");
    assert_non_null(strstr(s.text, "data: {\"n\":0}\n\n"));
    assert_non_null(strstr(s.text, "data: {\"n\":4}\n\n"));
    assert_true(s.pieces >= 2); /* it came as it was sent, not in one piece at the end */
    assert_int_equal(r.body.len, 0); /* the callback took the body */
    assert_int_equal(r.body_bytes, s.len);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

static void test_redirect_same_host_when_asked(void **state)
{
    (void)state;
    struct zt_http_client *c = client(4);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/redirect-same");
    /* off by default: refused */
    assert_int_equal(zt_http_client_json(c, url, NULL, NULL, 2000, &r), ZT_EPERM);
    assert_non_null(strstr(r.reason, "redirects are off"));
    struct zt_http_request q = {.url = url, .timeout_ms = 2000, .redirects = ZT_HTTP_REDIRECT_SAME_HOST};
    assert_int_equal(zt_http_client_do(c, &q, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.redirects, 1);
    assert_string_equal(zt_buf_str(&r.body), "{\"ok\":true}");
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

/* ---- the attacks -------------------------------------------------------- */

static void test_redirect_to_file_refused(void **state)
{
    (void)state;
    struct zt_http_client *c = client(4);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/redirect-file");
    for (int pol = ZT_HTTP_REDIRECT_NONE; pol <= ZT_HTTP_REDIRECT_ANY_HOST; pol++) {
        struct zt_http_request q = {.url = url, .timeout_ms = 2000, .redirects = (enum zt_http_redirect)pol};
        assert_int_equal(zt_http_client_do(c, &q, &r), ZT_EPERM);
        assert_int_equal(r.body.len, 0);
        if (pol != ZT_HTTP_REDIRECT_NONE) assert_non_null(strstr(r.reason, "file"));
    }
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

static void test_redirect_to_other_host_refused(void **state)
{
    (void)state;
    struct zt_http_client *c = client(4);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/redirect-other-host");
    int before = atomic_load(&hits_ok);
    struct zt_http_request q = {.url = url, .timeout_ms = 2000, .redirects = ZT_HTTP_REDIRECT_SAME_HOST};
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_EPERM);
    assert_non_null(strstr(r.reason, "another host"));
    assert_int_equal(atomic_load(&hits_ok), before); /* never connected there */
    /* and a loop ends at the hop limit */
    url_for(url, sizeof url, "/redirect-loop");
    q.url = url;
    q.max_redirects = 3;
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_EPERM);
    assert_int_equal(r.redirects, 3);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

static void test_endless_body_stopped_at_cap(void **state)
{
    (void)state;
    struct zt_http_client *c = client(4);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/endless");
    struct zt_http_request q = {.url = url, .timeout_ms = 5000, .max_body_bytes = 1u << 20};
    uint64_t t0 = zt_time_mono_ns();
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_ETOOBIG);
    assert_true(r.body.len <= (1u << 20));
    assert_true(secs_since(t0) < 3.0);
    /* the same through a streaming callback */
    struct sse s = {0};
    q.on_body = sse_body; /* its own 512-byte limit stops it first */
    q.ud = &s;
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_ETOOBIG);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

static void test_body_over_cap(void **state)
{
    (void)state;
    struct zt_http_client *c = client(4);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/big"); /* Content-Length of 100 MiB: refused on sight */
    struct zt_http_request q = {.url = url, .timeout_ms = 5000, .max_body_bytes = 1u << 20};
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_ETOOBIG);
    assert_int_equal(r.body.len, 0);
    /* the default cap applies when the request names none */
    q.max_body_bytes = 0;
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_ETOOBIG);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

static void test_drip_fed_body_cut(void **state)
{
    (void)state;
    struct zt_http_client *c = client(4);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/drip");
    /* 10 bytes/s is below 100 bytes/s for 1 s: cut by the low-speed limit
     * long before the total timeout */
    struct zt_http_request q = {.url = url, .timeout_ms = 20000, .low_speed_bps = 100, .low_speed_s = 1};
    uint64_t t0 = zt_time_mono_ns();
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_ETIMEDOUT);
    double el = secs_since(t0);
    assert_true(el < 3.0);
    /* with the low-speed limit off, the total timeout cuts it */
    q.low_speed_bps = -1;
    q.timeout_ms = 700;
    t0 = zt_time_mono_ns();
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_ETIMEDOUT);
    el = secs_since(t0);
    assert_true(el >= 0.6 && el < 2.0);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

static void test_huge_headers_refused(void **state)
{
    (void)state;
    struct zt_http_client *c = client(4); /* 32 KiB of headers at most */
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/many-headers"); /* ~380 KB of short lines */
    assert_int_equal(zt_http_client_json(c, url, NULL, NULL, 3000, &r), ZT_ETOOBIG);
    assert_non_null(strstr(r.reason, "headers"));
    url_for(url, sizeof url, "/long-header"); /* one 1 MiB line */
    int rc = zt_http_client_json(c, url, NULL, NULL, 3000, &r);
    if (rc != ZT_ETOOBIG) print_message("long header: %d %s\n", rc, r.reason);
    assert_int_equal(rc, ZT_ETOOBIG);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

struct worker {
    struct zt_http_client *c;
    char url[128];
    int rc;
    long status;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct zt_http_response r;
    zt_http_response_init(&r);
    struct zt_http_request q = {.url = w->url, .timeout_ms = 10000};
    w->rc = zt_http_client_do(w->c, &q, &r);
    w->status = r.status;
    zt_http_response_deinit(&r);
    return NULL;
}

static void test_inflight_limit_waits_then_proceeds(void **state)
{
    (void)state;
    struct zt_http_client *c = client(2);
    enum { N = 6 };
    struct worker w[N];
    pthread_t t[N];
    atomic_store(&slow_max, 0);
    uint64_t t0 = zt_time_mono_ns();
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.c = c};
        url_for(w[i].url, sizeof w[i].url, "/slow");
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    unsigned seen = 0;
    for (int k = 0; k < 20; k++) {
        unsigned n = zt_http_client_inflight(c);
        if (n > seen) seen = n;
        sleep_ms(20);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].rc, 0);
        assert_int_equal(w[i].status, 200);
    }
    double el = secs_since(t0);
    assert_int_equal(atomic_load(&slow_max), 2); /* never more than the limit at the server */
    assert_true(seen <= 2);
    assert_true(el >= 0.85); /* three rounds of 300 ms */
    assert_int_equal(zt_http_client_inflight(c), 0);
    zt_http_client_free(c);
}

static void test_shutdown_cancels_inflight(void **state)
{
    (void)state;
    struct zt_http_client *c = client(2);
    enum { N = 3 };
    struct worker w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) { /* two drip, the third waits for a slot */
        w[i] = (struct worker){.c = c};
        url_for(w[i].url, sizeof w[i].url, "/drip");
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    while (zt_http_client_inflight(c) < 2) sleep_ms(10);
    sleep_ms(100);
    uint64_t t0 = zt_time_mono_ns();
    zt_http_client_shutdown(c);
    assert_true(secs_since(t0) < 1.0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].rc, ZT_ECLOSED);
    }
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/ok");
    assert_int_equal(zt_http_client_json(c, url, NULL, NULL, 1000, &r), ZT_ECLOSED);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
    zt_http_client_free(NULL);
}

/* ---- https -------------------------------------------------------------- */

static char tls_dir[64];

/* openssl req ... (fork/exec, no shell); false when openssl is missing */
static bool make_cert(const char *cert, const char *key)
{
    const char *const argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", NULL};
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execvp("openssl", (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = zt_malloc(16384);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 16383, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static uint16_t plain_port_for_tls; /* where /down sends the client */

static void tls_handler(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    (void)ud;
    if (strcmp(zt_http_req_path(req), "/down") == 0) {
        char loc[96];
        snprintf(loc, sizeof loc, "http://127.0.0.1:%u/ok", (unsigned)plain_port_for_tls);
        resp->status = 302;
        assert_int_equal(zt_http_resp_header(resp, "Location", loc), 0);
        return;
    }
    resp->status = 200;
    assert_int_equal(zt_buf_append_str(&resp->body, "{\"tls\":true}"), 0);
}

static void test_https_verification(void **state)
{
    (void)state;
    snprintf(tls_dir, sizeof tls_dir, "/tmp/zt-attack-tls-XXXXXX");
    assert_non_null(mkdtemp(tls_dir));
    char cert[128], key[128], other[128], other_key[128];
    snprintf(cert, sizeof cert, "%s/cert.pem", tls_dir);
    snprintf(key, sizeof key, "%s/key.pem", tls_dir);
    snprintf(other, sizeof other, "%s/other.pem", tls_dir);
    snprintf(other_key, sizeof other_key, "%s/other-key.pem", tls_dir);
    if (!make_cert(cert, key) || !make_cert(other, other_key)) {
        unlink(cert), unlink(key), unlink(other), unlink(other_key), rmdir(tls_dir);
        zt_skip("openssl cannot make a test certificate here");
    }
    char *cert_pem = slurp(cert), *key_pem = slurp(key);
    struct zt_http_opts o = {.host = "127.0.0.1", .threads = 2, .max_connections = 16, .max_header_bytes = 8192,
                             .max_body_bytes = 65536, .timeout_s = 5, .handler = tls_handler,
                             .tls_cert_pem = cert_pem, .tls_key_pem = key_pem};
    struct zt_http_server *srv = NULL;
    int src = zt_http_start(&o, &srv);
    if (src == ZT_EUNSUPPORTED) {
        zt_free(cert_pem), zt_free(key_pem);
        unlink(cert), unlink(key), unlink(other), unlink(other_key), rmdir(tls_dir);
        zt_skip("this libmicrohttpd has no TLS");
    }
    assert_int_equal(src, 0);
    plain_port_for_tls = port;
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/ok", (unsigned)zt_http_port(srv));
    struct zt_http_response r;
    zt_http_response_init(&r);

    /* self-signed and not trusted: refused */
    struct zt_http_client *c = client(2);
    assert_int_equal(zt_http_client_json(c, url, NULL, NULL, 3000, &r), ZT_ECRYPTO);
    zt_http_client_free(c);
    /* trusted through the CA file: answered */
    struct zt_http_client_opts co = {.max_inflight = 2, .ca_file = cert};
    assert_int_equal(zt_http_client_new(&co, &c), 0);
    assert_int_equal(zt_http_client_json(c, url, NULL, NULL, 3000, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(zt_buf_str(&r.body), "{\"tls\":true}");
    /* https -> http is never followed, even to the same host */
    snprintf(url, sizeof url, "https://127.0.0.1:%u/down", (unsigned)zt_http_port(srv));
    struct zt_http_request q = {.url = url, .timeout_ms = 3000, .redirects = ZT_HTTP_REDIRECT_ANY_HOST};
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_EPERM);
    assert_non_null(strstr(r.reason, "https to http"));
    zt_http_client_free(c);
    /* another CA: refused */
    co.ca_file = other;
    assert_int_equal(zt_http_client_new(&co, &c), 0);
    snprintf(url, sizeof url, "https://127.0.0.1:%u/ok", (unsigned)zt_http_port(srv));
    assert_int_equal(zt_http_client_json(c, url, NULL, NULL, 3000, &r), ZT_ECRYPTO);
    zt_http_client_free(c);

    zt_http_response_deinit(&r);
    zt_http_stop(srv);
    zt_free(cert_pem);
    zt_free(key_pem);
    unlink(cert), unlink(key), unlink(other), unlink(other_key), rmdir(tls_dir);
}

/* Every allocation of a client's life (ours and libcurl's) made to fail in
 * turn: each call fails cleanly or succeeds, and nothing leaks. */
static void test_allocation_failures(void **state)
{
    (void)state;
    char url[128];
    url_for(url, sizeof url, "/ok");
    int clean_runs = 0;
    int64_t n = 1;
    for (; n < 4000 && clean_runs < 40; n++) {
        int64_t before = zt_alloc_live();
        zt_alloc_fail_after(n);
        struct zt_http_client *c = NULL;
        struct zt_http_response r;
        zt_http_response_init(&r);
        int rc = zt_http_client_new(NULL, &c);
        if (rc == 0) rc = zt_http_client_json(c, url, NULL, "{\"a\":1}", 2000, &r);
        zt_alloc_fail_after(0);
        if (rc == 0) {
            assert_int_equal(r.status, 200);
            clean_runs++;
        } else {
            clean_runs = 0;
            assert_true(rc < 0);
        }
        zt_http_response_deinit(&r);
        zt_http_client_free(c);
        assert_int_equal(zt_alloc_live(), before);
    }
    /* a run survives some failures (libcurl retries or does without), so
     * the sweep ends after 40 clean runs in a row, past the last point */
    print_message("allocation failures: %lld points swept\n", (long long)(n - 40));
    assert_int_equal(clean_runs, 40);
}

static void test_mute_peer_first_byte_timeout(void **state)
{
    (void)state;
    struct zt_http_client *c = client(2);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128];
    url_for(url, sizeof url, "/mute");
    struct zt_http_request q = {.url = url, .timeout_ms = 20000, .low_speed_bps = -1, .first_byte_timeout_ms = 300};
    uint64_t t0 = zt_time_mono_ns();
    assert_int_equal(zt_http_client_do(c, &q, &r), ZT_ETIMEDOUT);
    double el = secs_since(t0);
    assert_true(el >= 0.25 && el < 1.5);
    assert_non_null(strstr(r.reason, "first-byte"));
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

static void test_env_proxy_only_when_asked(void **state)
{
    (void)state;
    struct zt_http_client *c = client(2);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", (unsigned)port);
    assert_int_equal(setenv("http_proxy", proxy, 1), 0);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    /* 192.0.2.1 (TEST-NET-1) is reachable only through the proxy */
    struct zt_http_request q = {.url = "http://192.0.2.1/ok", .timeout_ms = 2000, .connect_timeout_ms = 300,
                                .env_proxy = true};
    int rc_proxy = zt_http_client_do(c, &q, &r);
    char body[64];
    zt_strlcpy(body, zt_buf_str(&r.body), sizeof body);
    q.env_proxy = false; /* the default: the environment is ignored */
    int rc_direct = zt_http_client_do(c, &q, &r);
    unsetenv("http_proxy");
    assert_int_equal(rc_proxy, 0);
    assert_string_equal(body, "{\"proxied\":true}");
    assert_true(rc_direct == ZT_ETIMEDOUT || rc_direct == ZT_ENET);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

/* DNS rebinding (issue 17 item 7): a caller that checked a name's address
 * pins it (resolve), and the connection goes there without a second
 * lookup: here a name that does not resolve at all reaches the pinned
 * address, and without the pin the same URL fails. */
static void test_resolve_pins_the_address(void **state)
{
    (void)state;
    struct zt_http_client *c = client(2);
    struct zt_http_response r;
    zt_http_response_init(&r);
    char url[128], pin[128];
    snprintf(url, sizeof url, "http://rebind.invalid:%u/ok", (unsigned)port);
    snprintf(pin, sizeof pin, "rebind.invalid:%u:127.0.0.1", (unsigned)port);
    struct zt_http_request q = {.url = url, .timeout_ms = 3000, .resolve = pin};
    assert_int_equal(zt_http_client_do(c, &q, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(zt_buf_str(&r.body), "{\"ok\":true}");
    zt_http_client_free(c); /* a fresh client: no DNS cache entry left from the pin */
    c = client(2);
    q.resolve = NULL;
    assert_int_not_equal(zt_http_client_do(c, &q, &r), 0);
    zt_http_response_deinit(&r);
    zt_http_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_and_post_json),
        cmocka_unit_test(test_stream_callback),
        cmocka_unit_test(test_redirect_same_host_when_asked),
        cmocka_unit_test(test_redirect_to_file_refused),
        cmocka_unit_test(test_redirect_to_other_host_refused),
        cmocka_unit_test(test_endless_body_stopped_at_cap),
        cmocka_unit_test(test_body_over_cap),
        cmocka_unit_test(test_drip_fed_body_cut),
        cmocka_unit_test(test_huge_headers_refused),
        cmocka_unit_test(test_inflight_limit_waits_then_proceeds),
        cmocka_unit_test(test_shutdown_cancels_inflight),
        cmocka_unit_test(test_mute_peer_first_byte_timeout),
        cmocka_unit_test(test_env_proxy_only_when_asked),
        cmocka_unit_test(test_resolve_pins_the_address),
        cmocka_unit_test(test_https_verification),
        cmocka_unit_test(test_allocation_failures),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, server_start, server_stop_all));
}
