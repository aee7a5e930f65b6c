/* test_attack_webhooks.c: an API server (integration.api_url) that abuses
 * the node's webhook deliveries (issue 18 item 5).
 *
 * L: a raw HTTP listener in this process, the node's api_url, whose
 * behaviour the test switches: REDIRECT (302 to T, another listener here:
 * a receiver that would steal the signed events), DRIP (200 and a
 * Content-Length of 1 MB, then one byte every 200 ms), HUGE (200 and an
 * endless fast body), then OK (200, small). G: a gateway whose one peer
 * serves model "m" at a dead address, so each chat request fails at once
 * (502) and leaves a job.completed event to deliver.
 *   REDIRECT: the event is not delivered, nothing reaches T, it stays
 *     pending with its error, and is tried again.
 *   DRIP: each attempt is cut by integration.timeout_ms (1 s) and tried
 *     again; /healthz answers meanwhile.
 *   HUGE: each attempt stops at the answer cap; tried again.
 *   OK: the same event, with the same idempotency key, is delivered once.
 * Usage: test_attack_webhooks PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_bridge.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define SECRET "attack-webhook-secret-0123456789"

enum mode { REDIRECT, DRIP, HUGE, OK };

static struct {
    int lfd, tfd;
    uint16_t port, tport;
    pthread_t th;
    atomic_int mode;
    atomic_bool stop;
    atomic_int attempts, thief_hits, ok_bodies;
    char key[ZT_BRIDGE_KEY_MAX + 1]; /* the first Idempotency-Key seen */
    atomic_bool key_changed;
} L;

static char gdir[256], gdata[320];
static struct node G;
static const char *cli_bin;

/* Read a request head and its body (Content-Length); the head in out. */
static void read_request(int c, struct zt_buf *out)
{
    char buf[4096];
    size_t need = 0;
    for (;;) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 2000) != 1) return;
        ssize_t r = recv(c, buf, sizeof buf, 0);
        if (r <= 0 || zt_buf_append(out, buf, (size_t)r) != 0) return;
        const char *s = zt_buf_str(out), *end = strstr(s, "\r\n\r\n");
        if (!end) continue;
        if (!need) {
            const char *cl = NULL;
            for (const char *q = s; q < end && !cl; q++)
                if (strncasecmp(q, "\r\ncontent-length:", 17) == 0) cl = q + 17;
            need = (size_t)(end + 4 - s) + (cl ? strtoul(cl, NULL, 10) : 0);
        }
        if (out->len >= need) return;
    }
}

static void note_key(const char *head)
{
    const char *k = strcasestr(head, "\r\nIdempotency-Key: ");
    if (!k) return;
    k += 19;
    char key[ZT_BRIDGE_KEY_MAX + 1];
    size_t n = strcspn(k, "\r\n");
    zt_strlcpy(key, k, n + 1 < sizeof key ? n + 1 : sizeof key);
    if (!L.key[0]) zt_strlcpy(L.key, key, sizeof L.key);
    else if (strcmp(L.key, key) != 0) atomic_store(&L.key_changed, true);
}

static void serve(int c)
{
    struct zt_buf req;
    zt_buf_init(&req, 1 << 20);
    read_request(c, &req);
    atomic_fetch_add(&L.attempts, 1);
    note_key(zt_buf_str(&req));
    char head[256];
    switch (atomic_load(&L.mode)) {
    case REDIRECT:
        snprintf(head, sizeof head,
                 "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%u/steal\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n", L.tport);
        send_all(c, head, strlen(head));
        break;
    case DRIP: {
        static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{";
        send_all(c, h, sizeof h - 1);
        for (int i = 0; i < 40 && !atomic_load(&L.stop); i++) { /* 8 s at most: the node gives up first */
            zt_time_sleep_ms(200);
            if (send(c, " ", 1, MSG_NOSIGNAL) != 1) break;
        }
        break;
    }
    case HUGE: {
        static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n";
        send_all(c, h, sizeof h - 1);
        static char junk[65536];
        memset(junk, 'x', sizeof junk);
        for (int i = 0; i < 16000 && !atomic_load(&L.stop); i++) /* 1 GB offered; the node stops reading */
            if (send(c, junk, sizeof junk, MSG_NOSIGNAL) <= 0) break;
        break;
    }
    case OK:
    default: {
        static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                                "Connection: close\r\n\r\n{}";
        send_all(c, h, sizeof h - 1);
        atomic_fetch_add(&L.ok_bodies, 1);
        break;
    }
    }
    zt_buf_deinit(&req);
}

static void *main_l(void *arg)
{
    (void)arg;
    while (!atomic_load(&L.stop)) {
        struct pollfd p[2] = {{.fd = L.lfd, .events = POLLIN}, {.fd = L.tfd, .events = POLLIN}};
        if (poll(p, 2, 50) < 1) continue;
        if (p[1].revents & POLLIN) { /* the thief: anything here is a leak */
            int c = accept(L.tfd, NULL, NULL);
            if (c >= 0) {
                atomic_fetch_add(&L.thief_hits, 1);
                close(c);
            }
        }
        if (p[0].revents & POLLIN) {
            int c = accept(L.lfd, NULL, NULL);
            if (c >= 0) {
                serve(c);
                close(c);
            }
        }
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    L.lfd = listen_any(&L.port);
    L.tfd = listen_any(&L.tport);
    assert_int_equal(pthread_create(&L.th, NULL, main_l, NULL), 0);
    tmp_dir(gdir, sizeof gdir, "attack-webhooks");
    snprintf(gdata, sizeof gdata, "%s/data", gdir);
    assert_int_equal(mkdir(gdata, 0700), 0);
    /* a worker of "m" that is not there: every job fails at once */
    struct zt_identity *w = NULL;
    assert_int_equal(zt_identity_generate(&w), 0);
    const char *roles[] = {"worker"}, *models[] = {"m"};
    char *dw = NULL;
    assert_int_equal(zt_identity_descriptor(w, roles, 1, models, 1, "http://127.0.0.1:1",
                                            zt_time_real_ms() / 1000 + 3600, &dw), 0);
    put_json_array(gdata, "peers.json", &dw, 1);
    zt_free(dw);
    zt_identity_free(w);
    char url[96];
    snprintf(url, sizeof url, "ZENTALK_INTEGRATION_API_URL=http://127.0.0.1:%u", L.port);
    const char *const env[] = {url, "ZENTALK_INTEGRATION_WEBHOOK_SECRET=" SECRET,
                               "ZENTALK_INTEGRATION_WEBHOOK_RETRY_BASE_MS=50", "ZENTALK_INTEGRATION_TIMEOUT_MS=1000",
                               "ZENTALK_INTEGRATION_WEBHOOK_MAX_ATTEMPTS=100", NULL};
    node_spawn(&G, NULL, env, true, gdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (G.pid) node_cleanup(&G);
    atomic_store(&L.stop, true);
    pthread_join(L.th, NULL);
    close(L.lfd);
    close(L.tfd);
    if (gdir[0]) rm_rf(gdir);
    return 0;
}

static void wait_attempts(int n, int timeout_ms)
{
    uint64_t until = zt_time_mono_ms() + (uint64_t)timeout_ms;
    while (atomic_load(&L.attempts) < n && zt_time_mono_ms() < until) zt_time_sleep_ms(20);
    assert_true(atomic_load(&L.attempts) >= n);
}

static void test_abusive_api_server(void **state)
{
    (void)state;
    atomic_store(&L.mode, REDIRECT);
    struct resp r;
    http(G.port, "POST", "/v1/chat/completions", "application/json",
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r);
    assert_int_equal(r.status, 502);
    resp_free(&r);
    wait_attempts(2, 10000);
    assert_int_equal(atomic_load(&L.thief_hits), 0);
    assert_int_equal(metric_value(G.port, "zentalk_webhooks_total{result=\"delivered\"}"), 0);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    const char *args[] = {"webhooks", "list", "--data-dir", gdata, NULL};
    assert_int_equal(run_prog(cli_bin, args, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "pending"));
    assert_non_null(strstr(zt_buf_str(&out), "job.completed:"));
    zt_buf_deinit(&out);

    atomic_store(&L.mode, DRIP);
    int a = atomic_load(&L.attempts);
    uint64_t t0 = zt_time_mono_ms();
    http(G.port, "GET", "/healthz", NULL, NULL, &r); /* the node answers while it is dripped */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    wait_attempts(a + 2, 15000);
    assert_true(zt_time_mono_ms() - t0 < 12000); /* each attempt cut near timeout_ms, not after 8 s */
    assert_int_equal(metric_value(G.port, "zentalk_webhooks_total{result=\"delivered\"}"), 0);

    atomic_store(&L.mode, HUGE);
    a = atomic_load(&L.attempts);
    wait_attempts(a + 2, 15000);
    assert_int_equal(metric_value(G.port, "zentalk_webhooks_total{result=\"delivered\"}"), 0);

    atomic_store(&L.mode, OK);
    uint64_t until = zt_time_mono_ms() + 15000;
    while (metric_value(G.port, "zentalk_webhooks_total{result=\"delivered\"}") < 1 && zt_time_mono_ms() < until)
        zt_time_sleep_ms(20);
    assert_int_equal(metric_value(G.port, "zentalk_webhooks_total{result=\"delivered\"}"), 1);
    assert_int_equal(atomic_load(&L.ok_bodies), 1);
    assert_false(atomic_load(&L.key_changed)); /* every attempt carried the one event's key */
    assert_int_equal(atomic_load(&L.thief_hits), 0);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_webhooks")) return 2;
    cli_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abusive_api_server),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
