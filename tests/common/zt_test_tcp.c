/* zt_test_tcp.c: a loopback server for peers that misbehave on purpose
 * (zt_test.h). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zentalk/zt_error.h"
#include "zt_test.h"

struct zt_test_tcp {
    int fd;
    uint16_t port;
    pthread_t thr;
    atomic_bool stop;
    zt_test_tcp_fn fn;
    void *ud;
};

static void *accept_main(void *arg)
{
    struct zt_test_tcp *s = arg;
    while (!atomic_load(&s->stop)) {
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0) continue;
        if (!atomic_load(&s->stop)) s->fn(fd, s->ud);
        close(fd);
    }
    return NULL;
}

struct zt_test_tcp *zt_test_tcp_start(zt_test_tcp_fn fn, void *ud)
{
    struct zt_test_tcp *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->fn = fn;
    s->ud = ud;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thr, NULL, accept_main, s), 0);
    return s;
}

uint16_t zt_test_tcp_port(const struct zt_test_tcp *s)
{
    return s->port;
}

void zt_test_tcp_stop(struct zt_test_tcp *s)
{
    if (!s) return;
    atomic_store(&s->stop, true);
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* wake accept() */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(s->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    zt_ignore(connect(fd, (struct sockaddr *)&a, sizeof a));
    close(fd);
    pthread_join(s->thr, NULL);
    close(s->fd);
    free(s);
}

size_t zt_test_http_read(int fd, char *buf, size_t cap, size_t *head_len)
{
    size_t len = 0;
    char *end = NULL;
    while (len < cap - 1) { /* the head, then the body it announces */
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0) return 0;
        len += (size_t)r;
        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n"))) break;
    }
    if (!end) return 0;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t hl = (size_t)(end + 4 - buf), want = hl + (cl ? strtoul(cl + 17, NULL, 10) : 0);
    while (len < want && len < cap - 1) {
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0) return 0;
        len += (size_t)r;
    }
    buf[len] = '\0';
    *head_len = hl;
    return len < want ? 0 : want;
}
