/* test_attack_slowloris.c: connection exhaustion against a real
 * zentalk-node (issue 17 item 2). Before: 1,030 connections trickling one
 * header line every 5 s blocked /healthz for every new client.
 *
 * Loopback clients bind to 127.0.0.2, 127.0.0.3, ... to act as several
 * addresses. Checked:
 *  - defaults: one address cannot take every connection (per-address
 *    limit), a new client is served while the attack goes on;
 *  - several addresses: a share of the connections stays for addresses
 *    that hold none (server.new_address_reserve_percent);
 *  - the request head has a deadline (server.header_timeout_s) that a
 *    client trickling header lines does not reset, while a slow body is
 *    not cut by it;
 *  - behind a trusted proxy (server.trusted_proxies) the forwarded address
 *    is the one limited; from anyone else X-Forwarded-For is ignored.
 * ZT_SOAK=1 (make soak): larger counts and a longer trickle; each test
 * prints one "SOAK name sent=.. refused=.. errors=.. rss_before_kb=..
 * rss_after_kb=.." line for the summary table.
 * Usage: test_attack_slowloris PATH/zentalk-node [PATH/zentalk] */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_time.h"

static bool soak;

/* A TCP connection to 127.0.0.1:port from src (a 127.x.y.z address), or -1. */
static int connect_from(uint16_t port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(port)};
    d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || connect(fd, (struct sockaddr *)&d, sizeof d) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static bool send_str(int fd, const char *s)
{
    return send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s);
}

/* True when the server closed fd (EOF or reset) within wait_ms; an answer
 * it sent first is read and dropped. */
static bool closed_by_server(int fd, int wait_ms)
{
    uint64_t deadline = zt_time_mono_ms() + (uint64_t)wait_ms;
    for (;;) {
        int left = (int)(deadline - zt_time_mono_ms());
        if (left <= 0) return false;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, left) <= 0) return false;
        char b[4096];
        ssize_t n = read(fd, b, sizeof b);
        if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
    }
}

/* GET path from src on a fresh connection: the status, 0 when refused or
 * no answer within timeout_ms. headers: extra lines ("Name: v\r\n..."). */
static int get_from(uint16_t port, const char *src, const char *path, const char *headers, int timeout_ms)
{
    int fd = connect_from(port, src);
    if (fd < 0) return 0;
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", path, headers ? headers : "");
    if (!send_str(fd, req)) {
        close(fd);
        return 0;
    }
    char b[8192];
    size_t got = 0;
    uint64_t deadline = zt_time_mono_ms() + (uint64_t)timeout_ms;
    while (got < 12 && zt_time_mono_ms() < deadline) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0) continue;
        ssize_t n = read(fd, b + got, sizeof b - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    b[got] = '\0';
    return got >= 12 && strncmp(b, "HTTP/1.1 ", 9) == 0 ? (int)strtol(b + 9, NULL, 10) : 0;
}

static long rss_kb(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

struct tally {
    unsigned sent, refused, errors;
    long rss_before, rss_after;
};

static void report(const char *name, const struct tally *t)
{
    printf("SOAK %s sent=%u refused=%u errors=%u rss_before_kb=%ld rss_after_kb=%ld\n", name, t->sent, t->refused,
           t->errors, t->rss_before, t->rss_after);
}

static void start_node(struct node *n, char *cfg_dir, size_t cap, const char *config_yaml)
{
    tmp_dir(cfg_dir, cap, "slowcfg");
    put_file(cfg_dir, "config.yaml", config_yaml);
    const char *const args[] = {"--config", cfg_dir, NULL};
    node_spawn(n, args, NULL, true, NULL);
}

static void stop_node(struct node *n, const char *cfg_dir)
{
    kill(n->pid, SIGTERM);
    node_wait(n, 20000);
    node_cleanup(n);
    rm_rf(n->dir);
    rm_rf(cfg_dir);
}

static void need_fds(unsigned n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < n + 64 && rl.rlim_max >= n + 64) {
        rl.rlim_cur = n + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64)
        zt_skip("needs %u open files, the limit is %llu", n + 64, (unsigned long long)rl.rlim_cur);
}

/* The original attack, the node at its defaults but for max_connections:
 * one address opens more connections than the node takes and trickles a
 * header line on each; a new client is still answered, at once. */
static void test_one_address_defaults(void **state)
{
    (void)state;
    unsigned conns = soak ? 1030 : 200;
    int rounds = soak ? 6 : 2;
    need_fds(conns);
    struct node n;
    char cfg[256];
    start_node(&n, cfg, sizeof cfg, "server:\n  max_connections: 128\n");
    struct tally t = {.rss_before = rss_kb(n.pid)};
    int *fd = calloc(conns, sizeof *fd);
    assert_non_null(fd);
    for (unsigned i = 0; i < conns; i++) {
        fd[i] = connect_from(n.port, "127.0.0.2");
        t.sent++;
        if (fd[i] < 0 || !send_str(fd[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n")) t.errors++;
    }
    for (int r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < conns; i++)
            if (fd[i] >= 0 && !send_str(fd[i], "X-Trickle: 1\r\n")) {
                close(fd[i]);
                fd[i] = -1;
                t.refused++;
            }
        int st = get_from(n.port, "127.0.0.1", "/healthz", NULL, 3000);
        if (st != 200) {
            print_error("round %d: /healthz from a new client: %d (want 200)\n", r, st);
            fail();
        }
        zt_time_sleep_ms(soak ? 5000 : 300);
    }
    /* the server closes refused connections on its own threads: on a
     * loaded machine that can take a moment, so count until the number
     * settles at the limit or 5 s pass */
    unsigned open_now = 0;
    uint64_t settle = zt_time_mono_ms() + 5000;
    do {
        open_now = 0;
        for (unsigned i = 0; i < conns; i++) {
            if (fd[i] < 0) continue;
            if (closed_by_server(fd[i], 1)) {
                close(fd[i]);
                fd[i] = -1;
            } else {
                open_now++;
            }
        }
        if (open_now > 64) zt_time_sleep_ms(50);
    } while (open_now > 64 && zt_time_mono_ms() < settle);
    /* one address holds at most server.max_connections_per_address (64),
     * plus what accepts racing on the server's 4 threads can let past
     * before each is counted (up to 3; docs/internals/http.md) */
    if (open_now > 64 + 3) {
        print_error("one address still holds %u connections\n", open_now);
        fail();
    }
    t.refused = conns - open_now;
    for (unsigned i = 0; i < conns; i++)
        if (fd[i] >= 0) close(fd[i]);
    free(fd);
    t.rss_after = rss_kb(n.pid);
    report("slowloris_one_address", &t);
    assert_int_equal(get_from(n.port, "127.0.0.2", "/healthz", NULL, 3000), 200); /* the address is not banned */
    stop_node(&n, cfg);
}

#define GUARDED                                                                                  \
    "server:\n  max_connections: 96\n  max_connections_per_address: 8\n"                           \
    "  new_address_reserve_percent: 25\n  header_timeout_s: 2\n  trusted_proxies: [\"127.0.0.5\"]\n"

/* Many addresses, each at its limit: the reserve keeps room for a new one. */
static void test_many_addresses_reserve(void **state)
{
    (void)state;
    unsigned addrs = soak ? 40 : 14, per = 10; /* 2 over the per-address limit each */
    need_fds(addrs * per);
    struct node n;
    char cfg[256];
    start_node(&n, cfg, sizeof cfg, GUARDED);
    struct tally t = {.rss_before = rss_kb(n.pid)};
    int *fd = calloc(addrs * per, sizeof *fd);
    assert_non_null(fd);
    for (unsigned a = 0; a < addrs; a++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.1.%u", a + 1);
        for (unsigned k = 0; k < per; k++) {
            int f = connect_from(n.port, src);
            t.sent++;
            if (f < 0 || !send_str(f, "GET /healthz HTTP/1.1\r\n")) t.errors++;
            fd[a * per + k] = f;
        }
    }
    /* a new address is served at once while fewer attacking addresses
     * than the reserve (24 of 96) exist; with more (soak: 40), each one's
     * first connection may take a reserved slot, and the head deadline
     * (2 s) frees them: served within it */
    int st = get_from(n.port, "127.0.2.1", "/healthz", NULL, 1500);
    for (uint64_t until = zt_time_mono_ms() + 5000; st != 200 && addrs > 24 && zt_time_mono_ms() < until;) {
        zt_time_sleep_ms(250);
        st = get_from(n.port, "127.0.2.1", "/healthz", NULL, 1500);
    }
    if (st != 200) {
        print_error("/healthz from a new address during the attack: %d\n", st);
        fail();
    }
    unsigned open_now = 0;
    for (unsigned i = 0; i < addrs * per; i++)
        if (fd[i] >= 0 && !closed_by_server(fd[i], 1)) open_now++;
    t.refused = addrs * per - open_now;
    /* the attackers together hold no more than the unreserved 72 plus
     * the first connection of each address */
    if (open_now > 72 + addrs || open_now > 96) {
        print_error("attackers hold %u connections\n", open_now);
        fail();
    }
    assert_true(t.refused >= addrs * 2); /* each address's connections over 8 */
    for (unsigned i = 0; i < addrs * per; i++)
        if (fd[i] >= 0) close(fd[i]);
    free(fd);
    t.rss_after = rss_kb(n.pid);
    report("slowloris_many_addresses", &t);
    stop_node(&n, cfg);
}

/* The head has a deadline that trickling does not reset; a body does not. */
static void test_head_deadline(void **state)
{
    (void)state;
    struct node n;
    char cfg[256];
    start_node(&n, cfg, sizeof cfg, GUARDED);
    struct tally t = {.rss_before = rss_kb(n.pid)};
    unsigned conns = soak ? 64 : 8;
    int fd[64];
    for (unsigned i = 0; i < conns; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.3.%u", i + 1);
        fd[i] = connect_from(n.port, src);
        assert_true(fd[i] >= 0);
        assert_true(send_str(fd[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n"));
        t.sent++;
    }
    /* a slow body after a prompt head is not cut */
    int body_fd = connect_from(n.port, "127.0.4.1");
    assert_true(body_fd >= 0);
    assert_true(send_str(body_fd, "PUT /v1/admin/log-level HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 16\r\nConnection: close\r\n\r\n{\"level\""));
    uint64_t t0 = zt_time_mono_ms();
    bool all_closed = false;
    while (!all_closed && zt_time_mono_ms() - t0 < 6000) {
        all_closed = true;
        for (unsigned i = 0; i < conns; i++) {
            if (fd[i] < 0) continue;
            if (closed_by_server(fd[i], 1) || !send_str(fd[i], "X-Trickle: 1\r\n")) {
                close(fd[i]);
                fd[i] = -1;
                t.refused++;
            } else {
                all_closed = false;
            }
        }
        zt_time_sleep_ms(250); /* never idle for long: the idle timeout (30 s) does not apply */
    }
    uint64_t took = zt_time_mono_ms() - t0;
    if (!all_closed) {
        print_error("trickling connections still open after %llu ms (header_timeout_s 2)\n", (unsigned long long)took);
        fail();
    }
    assert_true(send_str(body_fd, ":\"info\"}"));
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    char b[4096];
    uint64_t d = zt_time_mono_ms() + 5000;
    while (zt_time_mono_ms() < d) {
        struct pollfd pf = {.fd = body_fd, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0) continue;
        ssize_t r = read(body_fd, b, sizeof b);
        if (r <= 0) break;
        assert_int_equal(zt_buf_append(&out, b, (size_t)r), 0);
    }
    close(body_fd);
    if (strncmp(zt_buf_str(&out), "HTTP/1.1 200", 12) != 0) {
        print_error("slow body after a prompt head: %s\n", zt_buf_str(&out));
        fail();
    }
    zt_buf_deinit(&out);
    for (unsigned i = 0; i < conns; i++)
        if (fd[i] >= 0) close(fd[i]);
    t.rss_after = rss_kb(n.pid);
    report("slowloris_head_deadline", &t);
    stop_node(&n, cfg);
}

/* Behind a trusted proxy the forwarded address is limited (requests in
 * flight), not the proxy's; from an untrusted peer the header is ignored. */
static void test_trusted_proxy(void **state)
{
    (void)state;
    struct node n;
    char cfg[256];
    start_node(&n, cfg, sizeof cfg, GUARDED);
    struct tally t = {.rss_before = rss_kb(n.pid)};
    /* the proxy is not held to 8 connections: 12 users' requests in flight */
    int pfd[12];
    for (int i = 0; i < 12; i++) {
        pfd[i] = connect_from(n.port, "127.0.0.5");
        assert_true(pfd[i] >= 0);
        char req[256];
        snprintf(req, sizeof req,
                 "PUT /v1/admin/log-level HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.%d\r\n"
                 "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n{",
                 i + 1);
        assert_true(send_str(pfd[i], req));
        t.sent++;
    }
    for (int i = 0; i < 12; i++) assert_false(closed_by_server(pfd[i], 20));
    /* one forwarded address: 8 requests in flight, the 9th refused with 429 */
    int ffd[9];
    for (int i = 0; i < 9; i++) {
        ffd[i] = connect_from(n.port, "127.0.0.5");
        assert_true(ffd[i] >= 0);
        assert_true(send_str(ffd[i], "PUT /v1/admin/log-level HTTP/1.1\r\nHost: x\r\n"
                                     "X-Forwarded-For: 203.0.113.9, 127.0.0.5\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 16\r\n\r\n{"));
        zt_time_sleep_ms(20);
        t.sent++;
    }
    char b[2048];
    ssize_t r = 0;
    uint64_t d = zt_time_mono_ms() + 3000;
    while (r <= 0 && zt_time_mono_ms() < d) {
        struct pollfd pf = {.fd = ffd[8], .events = POLLIN};
        if (poll(&pf, 1, 100) > 0) r = read(ffd[8], b, sizeof b - 1);
    }
    b[r > 0 ? r : 0] = '\0';
    if (strncmp(b, "HTTP/1.1 429", 12) != 0) {
        print_error("9th request in flight for one forwarded address: %s\n", b);
        fail();
    }
    t.refused++;
    for (int i = 0; i < 8; i++) assert_false(closed_by_server(ffd[i], 1));
    /* Forwarded (RFC 7239) names the address too */
    assert_int_equal(get_from(n.port, "127.0.0.5", "/healthz", "Forwarded: for=\"203.0.113.10\"\r\n", 3000), 200);
    assert_int_equal(get_from(n.port, "127.0.0.5", "/healthz", "Forwarded: for=203.0.113.9\r\n", 3000), 429);
    /* another peer's X-Forwarded-For is not believed: its own address counts */
    assert_int_equal(get_from(n.port, "127.0.0.6", "/healthz", "X-Forwarded-For: 203.0.113.9\r\n", 3000), 200);
    /* let the server finish closing the request above (it still counts
     * for 127.0.0.6 until its close is processed) */
    zt_time_sleep_ms(300);
    /* 12 connections from 127.0.0.6, whose X-Forwarded-For is not
     * believed: its own limit (8) applies. Accepts racing on the server's
     * 4 threads may pass the limit by up to 3 before each is counted
     * (docs/internals/http.md), so at least one of 12 is refused. */
    enum { UN = 12 };
    int ufd[UN];
    unsigned refused = 0;
    for (int i = 0; i < UN; i++) {
        ufd[i] = connect_from(n.port, "127.0.0.6");
        t.sent++;
        if (ufd[i] < 0 || !send_str(ufd[i], "GET /healthz HTTP/1.1\r\nX-Forwarded-For: 10.9.9.9\r\n")) refused++;
    }
    for (int i = 0; i < UN; i++)
        if (ufd[i] >= 0 && closed_by_server(ufd[i], 200)) refused++;
    if (refused < UN - 8 - 3) {
        print_error("127.0.0.6 with X-Forwarded-For from an untrusted peer: %u of %d refused (want at least %d)\n",
                    refused, UN, UN - 8 - 3);
        fail();
    }
    t.refused += refused;
    for (int i = 0; i < UN; i++)
        if (ufd[i] >= 0) close(ufd[i]);
    for (int i = 0; i < 12; i++) close(pfd[i]);
    for (int i = 0; i < 9; i++) close(ffd[i]);
    t.rss_after = rss_kb(n.pid);
    report("trusted_proxy", &t);
    stop_node(&n, cfg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_attack_slowloris ZENTALK_NODE [ZENTALK]\n");
        return 2;
    }
    node_bin = argv[1];
    soak = getenv("ZT_SOAK") && strcmp(getenv("ZT_SOAK"), "1") == 0;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_address_defaults),
        cmocka_unit_test(test_many_addresses_reserve),
        cmocka_unit_test(test_head_deadline),
        cmocka_unit_test(test_trusted_proxy),
    };
    int failed = cmocka_run_group_tests_name("attack_slowloris", tests, NULL, NULL);
    curl_global_cleanup();
    return zt_test_exit(failed);
}
