/* test_nat_relay: the orchestrator's relay for workers behind NAT
 * (zt_nat_relay.h, src/orchestrator/relay.c) with stand-in connections: a
 * worker's parked poll, a gateway's request handed to it, the answer
 * streamed back piece by piece in order; the refusals (unreachable,
 * overloaded, unknown relay, out of order, bad status, gateway gone);
 * the sweep (a poll whose worker went drops it from the registry) and the
 * stop (every held connection answered). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "zt_test.h"
#include "zt_test_sqlite.h"

#include <jansson.h>

#include "orch_test.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nat_relay.h"
#include "zentalk/zt_time.h"

static const char *const M1[] = {"tiny-chat", NULL};

/* ---- stand-in connections -------------------------------------------------- */

struct fake_poll {
    struct zt_nat_poll base;
    json_t *body; /* the answer, once answered */
    int answered;
    bool gone;
};

static void fp_answer(struct zt_nat_poll *p, json_t *body)
{
    struct fake_poll *f = (struct fake_poll *)p;
    f->answered++;
    json_decref(f->body);
    f->body = body;
}

static bool fp_gone(struct zt_nat_poll *p) { return ((struct fake_poll *)p)->gone; }

static struct zt_nat_poll *park_poll(void *ud)
{
    struct fake_poll *f = ud;
    if (!f) return NULL;
    f->base = (struct zt_nat_poll){.answer = fp_answer, .gone = fp_gone};
    return &f->base;
}

struct fake_sink {
    struct zt_nat_sink base;
    int status;            /* start()'s, or refuse()'s */
    char ctype[64], code[64];
    char out[256];
    size_t out_len;
    int finished, refused; /* calls */
    bool ok, gone;
};

static int fs_start(struct zt_nat_sink *s, int status, const char *ct)
{
    struct fake_sink *f = (struct fake_sink *)s;
    if (f->gone) return ZT_ECLOSED;
    f->status = status;
    zt_strlcpy(f->ctype, ct, sizeof f->ctype);
    return 0;
}

static int fs_write(struct zt_nat_sink *s, const char *p, size_t n)
{
    struct fake_sink *f = (struct fake_sink *)s;
    if (f->gone || f->out_len + n > sizeof f->out) return ZT_ECLOSED;
    memcpy(f->out + f->out_len, p, n);
    f->out_len += n;
    return 0;
}

static void fs_finish(struct zt_nat_sink *s, bool ok)
{
    struct fake_sink *f = (struct fake_sink *)s;
    f->finished++;
    f->ok = ok;
}

static void fs_refuse(struct zt_nat_sink *s, int status, const char *code, const char *msg)
{
    struct fake_sink *f = (struct fake_sink *)s;
    (void)msg;
    f->refused++;
    f->status = status;
    zt_strlcpy(f->code, code, sizeof f->code);
}

static bool fs_gone(struct zt_nat_sink *s) { return ((struct fake_sink *)s)->gone; }

static struct zt_nat_sink *park_sink(void *ud)
{
    struct fake_sink *f = ud;
    if (!f) return NULL;
    memset(f, 0, sizeof *f);
    f->base = (struct zt_nat_sink){
        .start = fs_start, .write = fs_write, .finish = fs_finish, .refuse = fs_refuse, .gone = fs_gone};
    return &f->base;
}

static json_t *gateways(void *ud)
{
    (void)ud;
    return json_pack("[s]", "gw-1");
}

/* ---- helpers ------------------------------------------------------------------ */

static void request(struct zt_nat_relay *r, const char *node, struct fake_sink *s, struct zt_nat_res *res)
{
    json_t *h = json_pack("[s]", "Content-Type: application/json");
    struct zt_nat_req q = {.node_id = node, .method = "POST", .target = "/v1/sealed/jobs", .headers = h,
                           .body = "abc", .body_len = 3, .park = park_sink, .park_ud = s};
    zt_nat_relay_request(r, &q, res);
    json_decref(h);
}

static void piece(struct zt_nat_relay *r, const char *id, long status, long seq, bool end, const char *body,
                  struct zt_nat_res *res)
{
    struct zt_nat_piece p = {.relay_id = id, .status = status, .content_type = "text/event-stream", .seq = seq,
                             .end = end, .body = body, .len = body ? strlen(body) : 0};
    zt_nat_relay_piece(r, &p, res);
    if (res->status == 200) {
        assert_true(json_is_true(json_object_get(res->body, "ok")));
        json_decref(res->body);
        res->body = NULL;
    }
}

/* The relay id of the only request in a poll's answer (copied to id). */
static void only_request(json_t *body, char id[static 64])
{
    json_t *reqs = json_object_get(body, "requests");
    assert_int_equal(json_array_size(reqs), 1);
    json_t *m = json_array_get(reqs, 0);
    assert_string_equal(json_string_value(json_object_get(m, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(m, "target")), "/v1/sealed/jobs");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "headers"), 0)),
                        "Content-Type: application/json");
    assert_string_equal(json_string_value(json_object_get(m, "body")), "YWJj"); /* base64("abc") */
    const char *s = json_string_value(json_object_get(m, "id"));
    assert_non_null(s);
    assert_int_equal(strlen(s), 32);
    zt_strlcpy(id, s, 64);
}

static bool live(struct zt_registry *reg, struct worker *w)
{
    struct zt_node_info ni;
    return zt_registry_get(reg, zt_identity_id(w->id), zt_time_real_ms(), &ni) == 0 && ni.state == ZT_NODE_LIVE;
}

/* ---- the tests ---------------------------------------------------------------- */

static void test_relay(void **state)
{
    (void)state;
    struct zt_store *st = store_open();
    struct zt_registry *reg = NULL;
    struct zt_registry_opts o = reg_opts();
    int64_t now = zt_time_real_ms();
    assert_int_equal(zt_registry_open(st, &o, now, &reg), 0);
    struct worker w, w2;
    worker_init(&w, M1, 1, 2, 100);
    worker_init(&w2, M1, 2, 2, 100);
    /* joined 5 s ago: past the grace a worker gets before its first poll */
    assert_int_equal(do_join(reg, &w, now - 5000), 0);
    assert_int_equal(do_join(reg, &w2, now - 5000), 0);
    const char *wid = zt_identity_id(w.id);
    struct zt_nat_relay *r = NULL;
    assert_int_equal(zt_nat_relay_new(30000, reg, &r), 0);
    zt_nat_relay_set_gateways(r, gateways, NULL);
    assert_false(zt_nat_relay_outbound(r, wid));

    /* a poll with nothing waiting is parked; a request is handed to it at once */
    struct fake_poll p1 = {0};
    struct zt_nat_res res;
    zt_nat_relay_poll(r, wid, 1000, park_poll, &p1, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(p1.answered, 0);
    assert_true(zt_nat_relay_outbound(r, wid));
    struct fake_sink a;
    request(r, wid, &a, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(p1.answered, 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p1.body, "gateways"), 0)), "gw-1");
    char ida[64];
    only_request(p1.body, ida);
    assert_int_equal(zt_nat_relay_count(r, false), 1);

    /* the answer, in order: status and type with the first piece, then the rest, then the end */
    piece(r, "0123", 200, 0, false, "x", &res);
    assert_int_equal(res.status, 404);
    assert_string_equal(res.code, "unknown_relay");
    piece(r, ida, 200, 0, false, "he", &res);
    assert_int_equal(res.status, 200);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.ctype, "text/event-stream");
    piece(r, ida, 0, 1, true, "llo", &res);
    assert_int_equal(res.status, 200);
    assert_int_equal(a.out_len, 5);
    assert_memory_equal(a.out, "hello", 5);
    assert_int_equal(a.finished, 1);
    assert_true(a.ok);
    assert_int_equal(a.refused, 0);
    piece(r, ida, 0, 2, false, "late", &res); /* over */
    assert_int_equal(res.status, 404);

    /* queued while no poll waits, taken by the next poll at once; a piece out of order ends it */
    struct fake_sink b;
    request(r, wid, &b, &res);
    assert_int_equal(res.status, 0);
    struct fake_poll p2 = {0};
    zt_nat_relay_poll(r, wid, 1000, park_poll, &p2, &res);
    assert_int_equal(res.status, 200);
    assert_int_equal(p2.answered, 0);
    char idb[64];
    only_request(res.body, idb);
    json_decref(res.body);
    piece(r, idb, 200, 1, false, "x", &res);
    assert_int_equal(res.status, 409);
    assert_string_equal(res.code, "out_of_order");
    assert_int_equal(b.refused, 1); /* never started: an error */
    assert_int_equal(b.status, 502);
    assert_string_equal(b.code, "worker_failed");

    /* a bad status is refused and the relay stays; a gateway gone ends it */
    struct fake_sink c;
    request(r, wid, &c, &res);
    zt_nat_relay_poll(r, wid, 0, park_poll, NULL, &res);
    assert_int_equal(res.status, 200);
    char idc[64];
    only_request(res.body, idc);
    json_decref(res.body);
    piece(r, idc, 42, 0, false, "x", &res);
    assert_int_equal(res.status, 400);
    assert_string_equal(res.code, "bad_status");
    c.gone = true;
    piece(r, idc, 200, 0, false, "x", &res);
    assert_int_equal(res.status, 410);
    assert_int_equal(c.refused, 1);

    /* nothing waiting and no hold: an empty answer at once */
    zt_nat_relay_poll(r, wid, 0, park_poll, NULL, &res);
    assert_int_equal(res.status, 200);
    assert_int_equal(json_array_size(json_object_get(res.body, "requests")), 0);
    json_decref(res.body);

    /* one parked poll per worker: a new one sends the older back empty */
    struct fake_poll p3 = {0}, p4 = {0};
    zt_nat_relay_poll(r, wid, 1000, park_poll, &p3, &res);
    assert_int_equal(res.status, 0);
    zt_nat_relay_poll(r, wid, 1000, park_poll, &p4, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(p3.answered, 1);
    assert_int_equal(json_array_size(json_object_get(p3.body, "requests")), 0);
    assert_int_equal(p4.answered, 0);

    /* a worker that never polled: unreachable, and dropped from the registry */
    struct fake_sink d;
    assert_true(live(reg, &w2));
    request(r, zt_identity_id(w2.id), &d, &res);
    assert_int_equal(res.status, 502);
    assert_string_equal(res.code, "worker_unreachable");
    assert_false(live(reg, &w2));
    assert_int_equal(zt_nat_relay_count(r, true), 1);

    /* a sweep finds the parked poll's connection closed: the worker is dropped */
    zt_nat_relay_sweep(r, false);
    assert_int_equal(p4.answered, 0); /* still held */
    p4.gone = true;
    zt_nat_relay_sweep(r, false);
    assert_int_equal(p4.answered, 1);
    assert_false(zt_nat_relay_outbound(r, wid));
    assert_false(live(reg, &w));

    zt_nat_relay_free(r);
    json_decref(p1.body);
    json_decref(p3.body);
    json_decref(p4.body);
    worker_deinit(&w);
    worker_deinit(&w2);
    zt_registry_free(reg);
    zt_store_close(st);
}

/* 64 requests open to one worker at most (503, Retry-After 1); stopping
 * answers every held request (503) and the parked poll. */
static void test_bounds_and_stop(void **state)
{
    (void)state;
    struct zt_store *st = store_open();
    struct zt_registry *reg = NULL;
    struct zt_registry_opts o = reg_opts();
    int64_t now = zt_time_real_ms();
    assert_int_equal(zt_registry_open(st, &o, now, &reg), 0);
    struct worker w;
    worker_init(&w, M1, 1, 2, 100);
    assert_int_equal(do_join(reg, &w, now), 0); /* just joined: requests wait for its first poll */
    const char *wid = zt_identity_id(w.id);
    struct zt_nat_relay *r = NULL;
    assert_int_equal(zt_nat_relay_new(30000, reg, &r), 0);
    static struct fake_sink s[65];
    struct zt_nat_res res;
    for (int i = 0; i < 64; i++) {
        request(r, wid, &s[i], &res);
        assert_int_equal(res.status, 0);
    }
    request(r, wid, &s[64], &res);
    assert_int_equal(res.status, 503);
    assert_string_equal(res.code, "overloaded");
    assert_int_equal(res.retry_after_s, 1);
    assert_int_equal(s[64].refused, 0); /* never held */
    /* a poll takes 8 at a time */
    zt_nat_relay_poll(r, wid, 1000, park_poll, NULL, &res);
    assert_int_equal(res.status, 200);
    assert_int_equal(json_array_size(json_object_get(res.body, "requests")), 8);
    json_decref(res.body);
    struct fake_poll p = {0};
    zt_nat_relay_poll(r, wid, 1000, park_poll, &p, &res);
    assert_int_equal(res.status, 200); /* more waiting: not parked */
    json_decref(res.body);
    /* the stop: every held request answered */
    zt_nat_relay_free(r);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(s[i].refused, 1);
        assert_int_equal(s[i].status, 503);
        assert_string_equal(s[i].code, "unavailable");
    }
    worker_deinit(&w);
    zt_registry_free(reg);
    zt_store_close(st);
}

/* A parked poll is answered when the relay stops. */
static void test_stop_answers_poll(void **state)
{
    (void)state;
    struct zt_nat_relay *r = NULL;
    assert_int_equal(zt_nat_relay_new(0, NULL, &r), 0);
    struct fake_poll p = {0};
    struct zt_nat_res res;
    zt_nat_relay_poll(r, "zt1nobody", 60000, park_poll, &p, &res);
    assert_int_equal(res.status, 0);
    assert_true(zt_nat_relay_outbound(r, "zt1nobody"));
    struct fake_sink s;
    request(r, "zt1nobody", &s, &res); /* no registry: nobody is live */
    assert_int_equal(res.status, 502);
    zt_nat_relay_free(r);
    assert_int_equal(p.answered, 1);
    assert_int_equal(json_array_size(json_object_get(p.body, "requests")), 0);
    json_decref(p.body);
}

int main(void)
{
    if (zt_test_sqlite_route_alloc() != 0) {
        printf("cannot route SQLite's allocator\n");
        return 1;
    }
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, orch_setup, orch_teardown)
    const struct CMUnitTest tests[] = {
        T(test_relay),
        T(test_bounds_and_stop),
        T(test_stop_answers_poll),
    };
    return zt_test_exit(cmocka_run_group_tests_name("nat_relay", tests, NULL, NULL));
}
