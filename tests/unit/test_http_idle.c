/* test_http_idle: zt_http_wait_idle (src/net/http_server.c), the wait a
 * node's drain and shutdown make for the requests in flight: it times out
 * while one is held, and returns as soon as the last one ends (woken by
 * the in-flight count dropping to 0, not by a poll). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zentalk/zt_http.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"

/* The handler holds each request until the test opens the gate. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};

static void held_handler(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    (void)ud, (void)req;
    pthread_mutex_lock(&gate.mu);
    while (!gate.open) pthread_cond_wait(&gate.cv, &gate.mu);
    pthread_mutex_unlock(&gate.mu);
    zt_http_resp_error(resp, 404, "not_found", "held, then answered");
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    zt_time_sleep_ms(100);
    zt_set_and_wake(&gate.mu, &gate.cv, &gate.open);
    return NULL;
}

/* A connection with one request sent (the caller closes it). */
static int send_request(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr), 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    static const char req[] = "GET /held HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    return fd;
}

static void test_wait_idle(void **state)
{
    (void)state;
    struct zt_http_opts o = {.host = "127.0.0.1", .threads = 2, .max_connections = 16, .max_header_bytes = 16384,
                             .max_body_bytes = 1 << 16, .timeout_s = 30, .header_timeout_s = 30,
                             .handler = held_handler};
    struct zt_http_server *srv = NULL;
    assert_int_equal(zt_http_start(&o, &srv), 0);
    assert_int_equal(zt_http_wait_idle(srv, 0), 0); /* nothing in flight */
    assert_int_equal(zt_http_wait_idle(srv, 1000), 0);

    int fd = send_request(zt_http_port(srv));
    for (int i = 0; i < 500 && zt_http_inflight(srv) == 0; i++) zt_time_sleep_ms(10);
    assert_int_equal(zt_http_inflight(srv), 1);
    /* held: the wait ends at its timeout, the request still in flight */
    uint64_t t0 = zt_time_mono_ms();
    assert_int_equal(zt_http_wait_idle(srv, 50), ZT_ETIMEDOUT);
    assert_true(zt_time_mono_ms() - t0 >= 50);
    assert_int_equal(zt_http_inflight(srv), 1);

    /* released meanwhile: the wait returns when the request ends, long
     * before its timeout */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, open_gate_later, NULL), 0);
    t0 = zt_time_mono_ms();
    assert_int_equal(zt_http_wait_idle(srv, 60000), 0);
    uint64_t waited = zt_time_mono_ms() - t0;
    assert_int_equal(zt_http_inflight(srv), 0);
    assert_true(waited < 60000);
    pthread_join(th, NULL);
    print_message("wait_idle: returned %llu ms after the wait began (the gate opened at 100 ms)\n",
                  (unsigned long long)waited);
    char buf[512];
    assert_true(read(fd, buf, sizeof buf) > 0); /* the answer came */
    close(fd);
    zt_http_stop(srv);
}

int main(void)
{
    zt_log_set_level(ZT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wait_idle, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests_name("http_idle", tests, NULL, NULL));
}
