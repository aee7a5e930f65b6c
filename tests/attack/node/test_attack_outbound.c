/* test_attack_outbound.c: attacks on the relay for workers behind NAT
 * (issue 11; POST /v1/orchestrator/poll, /v1/orchestrator/relay/...,
 * /v1/orchestrator/relay-result/...) of a real zentalk-node.
 *
 *  - a stranger's poll flood: 200 polls asking to be held 20 s, as garbage,
 *    as heartbeats signed by keys that never joined, as a joined worker's
 *    record for another orchestrator: every one answered at once (none
 *    held), and /healthz answers meanwhile;
 *  - one joined worker opening 16 polls at once, each asking for 20 s: at
 *    most one stays parked (a newer poll answers the older, a replayed or
 *    out-of-order sequence is refused), all the others come back at once,
 *    and a replayed poll record is 403;
 *  - relay requests for a node that never joined, for a joined node that
 *    holds no poll, and for garbage ids: 404 or 502 at once, never held;
 *    relay-result pieces with 200 guessed relay ids: 404, nothing written;
 *  - a slow-loris on the long-poll: 40 connections that send half a poll
 *    request and stall do not stop a worker's poll from being answered.
 * Usage: test_attack_outbound PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static struct node gw;
static char gw_id[64];

static int group_setup(void **state)
{
    (void)state;
    const char *const args[] = {"--roles", "gateway,orchestrator", NULL};
    const char *const env[] = {"ZENTALK_ORCHESTRATOR_JOIN_RATE_PER_MINUTE=6000", NULL};
    node_spawn(&gw, args, env, true, NULL);
    struct resp r;
    http(gw.port, "GET", "/v1/node/descriptor", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *d = resp_json(&r);
    zt_strlcpy(gw_id, json_string_value(json_object_get(d, "node_id")), sizeof gw_id);
    json_decref(d);
    resp_free(&r);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (gw.pid > 0) node_cleanup(&gw);
    return 0;
}

struct fake {
    struct zt_identity *id;
    char *desc;
    uint8_t boot[ZT_REG_BOOT_LEN];
    uint64_t seq;
};

static void fake_new(struct fake *f, int n)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(zt_identity_generate(&f->id), 0);
    const char *roles[] = {"worker"};
    const char *models[] = {"m"};
    char ep[512];
    snprintf(ep, sizeof ep, "%.300s/v1/orchestrator/relay/%s", gw.url, zt_identity_id(f->id));
    assert_int_equal(zt_identity_descriptor(f->id, roles, 1, models, 1, ep, zt_time_real_ms() / 1000 + 3600, &f->desc), 0);
    for (size_t i = 0; i < sizeof f->boot; i++) f->boot[i] = (uint8_t)(n * 7 + (int)i);
}

static void fake_free(struct fake *f)
{
    zt_free(f->desc);
    zt_identity_free(f->id);
}

static char *beat_rec(struct fake *f, const char *aud)
{
    struct zt_worker_load load = {0};
    char *rec = NULL;
    assert_int_equal(zt_registry_heartbeat_record(f->id, aud, f->boot, ++f->seq, zt_time_real_ms(), &load, &rec), 0);
    return rec;
}

static long post(const char *path, const char *body, long timeout_ms, struct resp *r)
{
    struct http_opts o = {.ctype = "application/json", .body = body, .timeout_ms = timeout_ms};
    memset(r, 0, sizeof *r);
    if (http_req(gw.port, "POST", path, &o, r) != 0) return 0;
    return r->status;
}

static long post_status(const char *path, const char *body, long timeout_ms)
{
    struct resp r;
    long st = post(path, body, timeout_ms, &r);
    resp_free(&r);
    return st;
}

static void join(struct fake *f)
{
    struct zt_worker_caps caps = {.slots = 2, .mem_mb = 1024};
    zt_strlcpy(caps.engine, "zentalk-engine/test", sizeof caps.engine);
    char *rec = NULL;
    assert_int_equal(
        zt_registry_join_record(f->id, f->desc, gw_id, f->boot, ++f->seq, zt_time_real_ms(), &caps, &rec), 0);
    assert_int_equal(post_status("/v1/orchestrator/join", rec, 10000), 200);
    zt_free(rec);
}

#define HOLD_PATH "/v1/orchestrator/poll?hold_ms=20000"

struct poll_call {
    const char *body;
    long status;
    uint64_t ms;
    int requests;
};

static void *poll_thread(void *arg)
{
    struct poll_call *c = arg;
    uint64_t t0 = zt_time_mono_ms();
    struct resp r;
    c->status = post(HOLD_PATH, c->body, 40000, &r);
    c->ms = zt_time_mono_ms() - t0;
    json_t *j = c->status == 200 ? resp_json(&r) : NULL;
    c->requests = (int)json_array_size(json_object_get(j, "requests"));
    json_decref(j);
    resp_free(&r);
    return NULL;
}

static void test_stranger_poll_flood(void **state)
{
    (void)state;
    struct fake stranger, joined;
    fake_new(&stranger, 1);
    fake_new(&joined, 2);
    join(&joined);
    char *bodies[4];
    bodies[0] = zt_strdup("not a record");
    bodies[1] = beat_rec(&stranger, gw_id);        /* never joined */
    bodies[2] = beat_rec(&joined, zt_identity_id(stranger.id)); /* for another orchestrator */
    bodies[3] = zt_strdup("{\"kind\":\"zentalk-heartbeat\"}");
    uint64_t t0 = zt_time_mono_ms();
    long worst = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t t = zt_time_mono_ms();
        long st = post_status(HOLD_PATH, bodies[i % 4], 10000);
        assert_true(st == 400 || st == 403 || st == 404);
        long el = (long)(zt_time_mono_ms() - t);
        if (el > worst) worst = el;
        if (i % 50 == 0) {
            struct resp h;
            http(gw.port, "GET", "/healthz", NULL, NULL, &h);
            assert_int_equal(h.status, 200);
            resp_free(&h);
        }
    }
    printf("200 forged polls refused in %llu ms (slowest %ld ms), none held\n",
           (unsigned long long)(zt_time_mono_ms() - t0), worst);
    assert_true(worst < 5000);
    assert_int_equal(metric_value(gw.port, "zentalk_orchestrator_records_total{kind=\"poll\"}"), 0);
    for (int i = 0; i < 4; i++) zt_free(bodies[i]);
    fake_free(&stranger);
    fake_free(&joined);
}

static void test_one_worker_many_polls(void **state)
{
    (void)state;
    struct fake f;
    fake_new(&f, 3);
    join(&f);
    enum { N = 16 };
    struct poll_call c[N];
    pthread_t t[N];
    char *rec[N];
    for (int i = 0; i < N; i++) rec[i] = beat_rec(&f, gw_id);
    for (int i = 0; i < N; i++) {
        c[i] = (struct poll_call){.body = rec[i]};
        assert_int_equal(pthread_create(&t[i], NULL, poll_thread, &c[i]), 0);
    }
    /* all but (at most) one come back at once */
    zt_time_sleep_ms(3000);
    char *last = beat_rec(&f, gw_id); /* a newer poll answers the parked one */
    struct poll_call lc = {.body = last};
    pthread_t lt;
    assert_int_equal(pthread_create(&lt, NULL, poll_thread, &lc), 0);
    int quick = 0, parked = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_true(c[i].status == 200 || c[i].status == 403);
        if (c[i].ms < 2500) quick++;
        else parked++;
    }
    printf("16 polls of one worker: %d answered at once, %d held until a newer poll came\n", quick, parked);
    assert_true(parked <= 1);
    /* a replay of a poll record is refused */
    assert_int_equal(post_status(HOLD_PATH, rec[N - 1], 10000), 403);
    /* the parked newest one: released by a leave-free way, a newer poll */
    char *newest = beat_rec(&f, gw_id);
    assert_int_equal(post_status("/v1/orchestrator/poll?hold_ms=0", newest, 10000), 200);
    pthread_join(lt, NULL);
    assert_int_equal(lc.status, 200);
    assert_int_equal(lc.requests, 0);
    for (int i = 0; i < N; i++) zt_free(rec[i]);
    zt_free(last);
    zt_free(newest);
    fake_free(&f);
}

static void test_relay_probes(void **state)
{
    (void)state;
    struct fake never, idle;
    fake_new(&never, 4);
    fake_new(&idle, 5);
    join(&idle); /* joined, but it never polls */
    uint64_t joined = zt_time_mono_ms();
    char path[256];
    uint64_t t0 = zt_time_mono_ms();
    snprintf(path, sizeof path, "/v1/orchestrator/relay/%s/v1/jobs/sealed", zt_identity_id(never.id));
    assert_int_equal(post_status(path, "x", 10000), 502);
    assert_int_equal(post_status("/v1/orchestrator/relay/zt1notanid/v1/jobs/sealed", "x", 10000), 404);
    assert_int_equal(post_status("/v1/orchestrator/relay/", "x", 10000), 404);
    for (int i = 0; i < 200; i++) {
        char id[33];
        for (int k = 0; k < 32; k++) id[k] = "0123456789abcdef"[(i * 31 + k * 7) % 16];
        id[32] = '\0';
        snprintf(path, sizeof path, "/v1/orchestrator/relay-result/%s", id);
        assert_int_equal(post_status(path, "forged piece", 10000), 404);
    }
    printf("relay probes and 200 guessed relay ids refused in %llu ms\n",
           (unsigned long long)(zt_time_mono_ms() - t0));
    /* past the first moments after its join (requests wait for a first
     * poll 2 s at most), a worker that does not poll is unreachable at once
     * (and dropped until it joins again) */
    while (zt_time_mono_ms() - joined < 2200) zt_time_sleep_ms(50);
    snprintf(path, sizeof path, "/v1/orchestrator/relay/%s/v1/jobs/sealed", zt_identity_id(idle.id));
    t0 = zt_time_mono_ms();
    assert_int_equal(post_status(path, "x", 10000), 502);
    assert_true(zt_time_mono_ms() - t0 < 2000);
    assert_int_equal(metric_value(gw.port, "zentalk_orchestrator_relay_requests_total{result=\"relayed\"}"), 0);
    fake_free(&never);
    fake_free(&idle);
}

static void test_slowloris_poll(void **state)
{
    (void)state;
    enum { N = 40 };
    int fds[N];
    static const char half[] = "POST /v1/orchestrator/poll?hold_ms=20000 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{";
    for (int i = 0; i < N; i++) {
        fds[i] = tcp_connect(gw.port);
        assert_true(fds[i] >= 0);
        send_all(fds[i], half, sizeof half - 1);
    }
    struct fake f;
    fake_new(&f, 6);
    join(&f);
    char *rec = beat_rec(&f, gw_id);
    uint64_t t0 = zt_time_mono_ms();
    assert_int_equal(post_status("/v1/orchestrator/poll?hold_ms=500", rec, 20000), 200);
    uint64_t el = zt_time_mono_ms() - t0;
    printf("a worker's poll with %d stalled half-polls open: answered in %llu ms\n", N, (unsigned long long)el);
    assert_true(el < 5000);
    for (int i = 0; i < N; i++) close(fds[i]);
    zt_free(rec);
    fake_free(&f);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_outbound")) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stranger_poll_flood),
        cmocka_unit_test(test_one_worker_many_polls),
        cmocka_unit_test(test_relay_probes),
        cmocka_unit_test(test_slowloris_poll),
    };
    return zt_test_exit(cmocka_run_group_tests_name("attack_outbound", tests, group_setup, group_teardown));
}
