/* test_joiner_report.c: a worker's check reports to its orchestrators
 * (src/node/joiner.c, zt__joiner_check_report) run on threads of their
 * own, at most 2 at once and counted apart from the relay's, the rest
 * queued (16) for those threads: with its orchestrator not answering (a
 * listener that never replies, each post held to its 3 s timeout), 21
 * reports in a row start two posts, queue 16 and drop three, counted
 * (zt__joiner_check_reports_dropped); freeing the joiner cuts the posts in
 * flight and frees the queue. With an orchestrator that answers, a burst
 * of 12 reports is posted whole, none dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/node/joiner.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"

/* The threads of this process (/proc/self/task). */
static int threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

/* A loopback listener that accepts nothing: a connection waits in its
 * backlog and no answer ever comes. Its port in *port. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A joiner whose node.join names http://127.0.0.1:port. */
static struct zt__joiner *joiner_to(int port, struct zt_config *cfg, struct zt_identity **id, struct zt_buf *err)
{
    assert_int_equal(zt_config_init_defaults(cfg), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    char **items = zt_calloc(1, sizeof *items);
    assert_non_null(items);
    items[0] = zt_strdup(url);
    assert_non_null(items[0]);
    cfg->node.join.items = items;
    cfg->node.join.count = 1;
    assert_int_equal(zt_identity_generate(id), 0);
    zt_buf_init(err, 4096);
    struct zt__joiner *j = NULL;
    assert_int_equal(zt__joiner_new(cfg, *id, NULL, NULL, NULL, &j, err), 0);
    return j;
}

/* An orchestrator that answers every request 200 and closes; it counts
 * the check reports it read whole. */
struct answerer {
    int fd;
    atomic_int reports;
    atomic_bool stop;
};

static void *answer_main(void *arg)
{
    struct answerer *a = arg;
    while (!atomic_load(&a->stop)) {
        int c = accept(a->fd, NULL, NULL);
        if (c < 0) continue;
        char req[8192];
        size_t n = 0;
        ssize_t r;
        char *end = NULL;
        long len = -1;
        while (n < sizeof req - 1 && (r = read(c, req + n, sizeof req - 1 - n)) > 0) {
            n += (size_t)r;
            req[n] = 0;
            end = strstr(req, "\r\n\r\n");
            if (end && len < 0) {
                const char *cl = strstr(req, "Content-Length:");
                if (!cl) cl = strstr(req, "content-length:");
                len = cl ? strtol(cl + 15, NULL, 10) : 0;
            }
            if (end && (size_t)(end + 4 - req) + (size_t)len <= n) break;
        }
        if (end && strstr(req, "POST /v1/orchestrator/check-report ") == req) atomic_fetch_add(&a->reports, 1);
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                                 "Connection: close\r\n\r\n{}";
        zt_ignore(write(c, ok, sizeof ok - 1) < 0);
        close(c);
    }
    return NULL;
}

static void test_burst_queued(void **state)
{
    (void)state;
    struct answerer a = {.fd = -1};
    int port = 0;
    a.fd = silent_listener(&port);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, answer_main, &a), 0);
    struct zt_config cfg;
    struct zt_identity *id = NULL;
    struct zt_buf err;
    struct zt__joiner *j = joiner_to(port, &cfg, &id, &err);
    uint8_t ckpt[64], rec[64];
    memset(ckpt, 0x11, sizeof ckpt);
    memset(rec, 0x22, sizeof rec);
    for (int i = 0; i < 12; i++) zt__joiner_check_report(j, ckpt, sizeof ckpt, rec, sizeof rec);
    for (int i = 0; i < 1000 && atomic_load(&a.reports) < 12; i++) zt_time_sleep_ms(10);
    assert_int_equal(atomic_load(&a.reports), 12);
    assert_int_equal(zt__joiner_check_reports_dropped(j), 0);
    zt__joiner_free(j);
    atomic_store(&a.stop, true);
    shutdown(a.fd, SHUT_RDWR);
    /* accept() may not wake on shutdown of a listener: one last connection */
    int k = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)port)};
    zt_ignore(connect(k, (struct sockaddr *)&sa, sizeof sa));
    close(k);
    pthread_join(t, NULL);
    close(a.fd);
    for (int i = 0; i < 500 && threads() > 1; i++) zt_time_sleep_ms(10);
    zt_buf_deinit(&err);
    zt_identity_free(id);
    zt_config_deinit(&cfg);
}

static void test_reports_capped(void **state)
{
    (void)state;
    int port = 0, fd = silent_listener(&port);
    struct zt_config cfg;
    struct zt_identity *id = NULL;
    struct zt_buf err;
    struct zt__joiner *j = joiner_to(port, &cfg, &id, &err);
    uint8_t ckpt[64], rec[64];
    memset(ckpt, 0x11, sizeof ckpt);
    memset(rec, 0x22, sizeof rec);
    assert_int_equal(zt__joiner_check_reports_dropped(j), 0);
    for (int i = 0; i < 21; i++) zt__joiner_check_report(j, ckpt, sizeof ckpt, rec, sizeof rec);
    assert_int_equal(zt__joiner_check_reports_dropped(j), 3);
    zt__joiner_free(j);
    /* the cut posts' detached threads end (their TLS freed) before exit */
    for (int i = 0; i < 500 && threads() > 1; i++) zt_time_sleep_ms(10);
    zt_buf_deinit(&err);
    zt_identity_free(id);
    zt_config_deinit(&cfg);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reports_capped), cmocka_unit_test(test_burst_queued)};
    return zt_test_exit(cmocka_run_group_tests_name("joiner_report", tests, NULL, NULL));
}
