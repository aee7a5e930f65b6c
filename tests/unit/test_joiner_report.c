/* test_joiner_report.c: a worker's check reports to its orchestrators
 * (src/node/joiner.c, zt__joiner_check_report) run on threads of their
 * own, at most 2 at once and counted apart from the relay's: with its
 * orchestrator not answering (a listener that never replies, each post
 * held to its 3 s timeout), five reports in a row start two posts and
 * drop three, counted (zt__joiner_check_reports_dropped); freeing the
 * joiner cuts the posts in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
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

static void test_reports_capped(void **state)
{
    (void)state;
    int port = 0, fd = silent_listener(&port);
    struct zt_config cfg;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    char **items = zt_calloc(1, sizeof *items);
    assert_non_null(items);
    items[0] = zt_strdup(url);
    assert_non_null(items[0]);
    cfg.node.join.items = items;
    cfg.node.join.count = 1;
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    struct zt__joiner *j = NULL;
    assert_int_equal(zt__joiner_new(&cfg, id, NULL, NULL, NULL, &j, &err), 0);
    uint8_t ckpt[64], rec[64];
    memset(ckpt, 0x11, sizeof ckpt);
    memset(rec, 0x22, sizeof rec);
    assert_int_equal(zt__joiner_check_reports_dropped(j), 0);
    for (int i = 0; i < 5; i++) zt__joiner_check_report(j, ckpt, sizeof ckpt, rec, sizeof rec);
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reports_capped)};
    return zt_test_exit(cmocka_run_group_tests_name("joiner_report", tests, NULL, NULL));
}
