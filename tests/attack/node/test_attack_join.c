/* test_attack_join.c: attacks on the orchestrator's worker routes of a
 * real zentalk-node (issue 11): POST /v1/orchestrator/join, heartbeat and
 * leave, and a worker that lies about its models.
 *
 *  - a join flood from four addresses (127.0.0.2 .. 127.0.0.5): past the
 *    per-address burst every join is 429 with Retry-After, and a worker
 *    joining from another address meanwhile is accepted;
 *  - forged and replayed records over HTTP: a changed capability, a record
 *    for another orchestrator, a record signed by another key, the same
 *    join twice, an old heartbeat again, a heartbeat outside the time
 *    window, a heartbeat of a node that never joined (404: join again),
 *    garbage; a leave ends the session (the next heartbeat is 404);
 *  - a worker whose descriptor claims a model it does not have (models.yaml
 *    names a file that is not there): the job sent to it fails cleanly (an
 *    error answer, no hang), the failures are charged to its reputation,
 *    and once below the threshold it gets no more work (404);
 *  - a worker told to join URL#NODE_ID where another node answers at URL
 *    (a machine in the middle) never joins nor trusts it; with the right
 *    id it joins.
 * Usage: test_attack_join PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    node_spawn(&gw, args, NULL, true, NULL);
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

/* POST a record (len bytes) from address from (NULL: 127.0.0.1). */
static long post_rec(const char *what, const char *rec, size_t len, const char *from, struct resp *r)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/orchestrator/%s", what);
    struct http_opts o = {.ctype = "application/json", .body = rec, .len = len, .sized = true, .from = from};
    memset(r, 0, sizeof *r);
    assert_int_equal(http_req(gw.port, "POST", path, &o, r), 0);
    return r->status;
}

static long post_once(const char *what, const char *rec, const char *from)
{
    struct resp r;
    long st = post_rec(what, rec, strlen(rec), from, &r);
    if (st != 200) fprintf(stderr, "  %s -> %ld %s\n", what, st, zt_buf_str(&r.body));
    resp_free(&r);
    return st;
}

/* A worker of our own making: a key, its descriptor, records. */
struct fake {
    struct zt_identity *id;
    char *desc;
    uint8_t boot[ZT_REG_BOOT_LEN];
    uint64_t seq;
};

static void fake_new(struct fake *f, int port)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(zt_identity_generate(&f->id), 0);
    const char *roles[] = {"worker"};
    const char *models[] = {"m"};
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    assert_int_equal(zt_identity_descriptor(f->id, roles, 1, models, 1, ep, zt_time_real_ms() / 1000 + 3600, &f->desc), 0);
    for (size_t i = 0; i < sizeof f->boot; i++) f->boot[i] = (uint8_t)(port + (int)i);
}

static void fake_free(struct fake *f)
{
    zt_free(f->desc);
    zt_identity_free(f->id);
}

static char *join_rec(struct fake *f, const char *aud, int64_t ts)
{
    struct zt_worker_caps caps = {.slots = 4, .mem_mb = 1024};
    zt_strlcpy(caps.engine, "zentalk-engine/test", sizeof caps.engine);
    char *rec = NULL;
    assert_int_equal(zt_registry_join_record(f->id, f->desc, aud, f->boot, ++f->seq, ts, &caps, &rec), 0);
    return rec;
}

static char *beat_rec(struct fake *f, int64_t ts)
{
    struct zt_worker_load load = {.busy = 1};
    char *rec = NULL;
    assert_int_equal(zt_registry_heartbeat_record(f->id, gw_id, f->boot, ++f->seq, ts, &load, &rec), 0);
    return rec;
}

static void test_join_flood(void **state)
{
    (void)state;
    static const char *const from[] = {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"};
    const char *junk = "{\"kind\":\"zentalk-join\",\"v\":1}";
    long limited = 0;
    for (int a = 0; a < 4; a++) {
        int n429 = 0;
        for (int i = 0; i < 40; i++) {
            struct resp r;
            long st = post_rec("join", junk, strlen(junk), from[a], &r);
            if (st == 429) {
                n429++;
                assert_non_null(strstr(zt_buf_str(&r.headers), "Retry-After"));
            } else {
                assert_int_equal(st, 400); /* malformed: refused, not kept */
            }
            resp_free(&r);
        }
        fprintf(stderr, "%s: %d of 40 joins rate-limited\n", from[a], n429);
        assert_true(n429 >= 20); /* the burst is 15 at the default 60 per minute */
        limited += n429;
    }
    /* another address is not held back by the flood */
    struct fake f;
    fake_new(&f, 9001);
    char *rec = join_rec(&f, gw_id, zt_time_real_ms());
    assert_int_equal(post_once("join", rec, "127.0.0.6"), 200);
    zt_free(rec);
    fake_free(&f);
    assert_true(metric_value(gw.port, "zentalk_orchestrator_refusals_total{reason=\"rate_limited\"}") >= limited);
    assert_true(metric_value(gw.port, "zentalk_orchestrator_refusals_total{reason=\"malformed\"}") >= 4);
}

/* Replace the first occurrence of from by to in s (same length). */
static void patch(char *s, const char *from, const char *to)
{
    char *p = strstr(s, from);
    assert_non_null(p);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(p, to, strlen(to));
}

static void test_forged_and_replayed(void **state)
{
    (void)state;
    struct fake f, other;
    fake_new(&f, 9002);
    fake_new(&other, 9003);
    int64_t now = zt_time_real_ms();

    /* a changed capability breaks the signature */
    char *rec = join_rec(&f, gw_id, now);
    patch(rec, "\"slots\":4", "\"slots\":9");
    assert_int_equal(post_once("join", rec, NULL), 403);
    zt_free(rec);
    /* a record made for another orchestrator */
    rec = join_rec(&f, zt_identity_id(other.id), now);
    assert_int_equal(post_once("join", rec, NULL), 403);
    zt_free(rec);
    /* f's descriptor in a record signed by another key */
    struct zt_worker_caps caps = {.slots = 4};
    zt_strlcpy(caps.engine, "x", sizeof caps.engine);
    rec = NULL;
    assert_int_equal(zt_registry_join_record(other.id, f.desc, gw_id, f.boot, ++f.seq, now, &caps, &rec), 0);
    assert_int_equal(post_once("join", rec, NULL), 403);
    zt_free(rec);
    /* garbage */
    assert_int_equal(post_once("join", "not json at all", NULL), 400);
    assert_int_equal(post_once("heartbeat", "{}", NULL), 400);

    /* the real join, then the same record again */
    rec = join_rec(&f, gw_id, now);
    assert_int_equal(post_once("join", rec, NULL), 200);
    assert_int_equal(post_once("join", rec, NULL), 403);
    zt_free(rec);
    /* a heartbeat, then the same again */
    rec = beat_rec(&f, zt_time_real_ms());
    assert_int_equal(post_once("heartbeat", rec, NULL), 200);
    assert_int_equal(post_once("heartbeat", rec, NULL), 403);
    zt_free(rec);
    /* a heartbeat dated outside the window (60 s) */
    rec = beat_rec(&f, zt_time_real_ms() - 120000);
    assert_int_equal(post_once("heartbeat", rec, NULL), 400);
    zt_free(rec);
    /* a node that never joined: join first */
    rec = beat_rec(&other, zt_time_real_ms());
    assert_int_equal(post_once("heartbeat", rec, NULL), 404);
    zt_free(rec);
    /* the forged ones left no node behind; the real one is live */
    struct resp r;
    http(gw.port, "GET", "/v1/orchestrator/nodes", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(zt_buf_str(&r.body), zt_identity_id(other.id)));
    assert_non_null(strstr(zt_buf_str(&r.body), zt_identity_id(f.id)));
    resp_free(&r);
    /* leave, then a heartbeat is told to join again */
    rec = NULL;
    assert_int_equal(zt_registry_leave_record(f.id, gw_id, f.boot, ++f.seq, zt_time_real_ms(), &rec), 0);
    assert_int_equal(post_once("leave", rec, NULL), 200);
    zt_free(rec);
    rec = beat_rec(&f, zt_time_real_ms());
    assert_int_equal(post_once("heartbeat", rec, NULL), 404);
    zt_free(rec);
    fake_free(&f);
    fake_free(&other);
    assert_true(metric_value(gw.port, "zentalk_orchestrator_refusals_total{reason=\"forged_or_forbidden\"}") >= 5);
}

static json_t *node_of(const char *id)
{
    struct resp r;
    http(gw.port, "GET", "/v1/orchestrator/nodes", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    resp_free(&r);
    size_t i;
    json_t *n, *found = NULL;
    json_array_foreach(json_object_get(j, "nodes"), i, n) {
        if (zt_str_eq(json_string_value(json_object_get(n, "node_id")), id)) found = json_incref(n);
    }
    json_decref(j);
    return found;
}

static void test_worker_claims_missing_model(void **state)
{
    (void)state;
    char cfg[256];
    tmp_dir(cfg, sizeof cfg, "liarcfg");
    put_file(cfg, "models.yaml", "models:\n  - id: ghost\n    path: models/not-there.gguf\n");
    struct node liar;
    const char *const args[] = {"--config", cfg, "--roles", "worker", "--join", gw.url, NULL};
    const char *const env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};
    node_spawn(&liar, args, env, true, NULL);
    struct resp r;
    http(liar.port, "GET", "/v1/node/descriptor", NULL, NULL, &r);
    json_t *d = resp_json(&r);
    char id[64];
    zt_strlcpy(id, json_string_value(json_object_get(d, "node_id")), sizeof id);
    json_decref(d);
    resp_free(&r);
    json_t *n = NULL;
    for (int i = 0; i < 100 && !n; i++) {
        n = node_of(id);
        if (!n) zt_time_sleep_ms(100);
    }
    assert_non_null(n);
    json_decref(n);

    const char *chat = "{\"model\":\"ghost\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4}";
    http(gw.port, "POST", "/v1/chat/completions", "application/json", chat, &r);
    fprintf(stderr, "ghost: %ld %s\n", r.status, zt_buf_str(&r.body));
    assert_true(r.status >= 500 && r.status < 600);
    json_t *e = resp_json(&r);
    assert_non_null(json_object_get(e, "error"));
    json_decref(e);
    resp_free(&r);
    /* charged: every attempt failed on it, and it is below the threshold */
    n = node_of(id);
    assert_non_null(n);
    assert_true(json_integer_value(json_object_get(n, "failed")) + json_integer_value(json_object_get(n, "timed_out")) >= 2);
    assert_true(json_number_value(json_object_get(n, "reputation")) < 0.5);
    assert_false(json_is_true(json_object_get(n, "eligible")));
    json_decref(n);
    assert_true(metric_value(gw.port, "zentalk_orchestrator_job_retries_total{reason=\"refused\"}") >= 1);
    /* the gateway counts the job's end after the client has its answer */
    assert_true(metric_wait_at_least(gw.port, "zentalk_orchestrator_jobs_total{outcome=\"failed\"}", 1, 5000) >= 1);
    /* and gets no more work */
    http(gw.port, "POST", "/v1/chat/completions", "application/json", chat, &r);
    assert_error_json(&r, 404, "model_not_found");
    resp_free(&r);
    node_cleanup(&liar);
    rm_rf(cfg);
}

static void test_pinned_join(void **state)
{
    (void)state;
    char cfg[256];
    tmp_dir(cfg, sizeof cfg, "pincfg");
    put_file(cfg, "models.yaml", "models:\n  - id: pinned\n    path: models/none.gguf\n");
    struct fake other;
    fake_new(&other, 9004);
    char url[200];
    snprintf(url, sizeof url, "%s#%s", gw.url, zt_identity_id(other.id));
    const char *const env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=200", NULL};
    const char *const args[] = {"--config", cfg, "--roles", "worker", "--join", url, NULL};
    struct node w;
    node_spawn(&w, args, env, true, NULL);
    struct zt_buf log;
    zt_buf_init(&log, 1u << 20);
    for (int i = 0; i < 50 && !strstr(zt_buf_str(&log), "orchestrator_id_mismatch"); i++) {
        zt_time_sleep_ms(100);
        node_collect_stderr(&w, &log);
    }
    assert_non_null(strstr(zt_buf_str(&log), "orchestrator_id_mismatch"));
    assert_null(strstr(zt_buf_str(&log), "orchestrator_joined"));
    node_cleanup(&w);
    /* with the orchestrator's own id it joins */
    snprintf(url, sizeof url, "%s#%s", gw.url, gw_id);
    const char *const ok_args[] = {"--config", cfg, "--roles", "worker", "--join", url, NULL};
    node_spawn(&w, ok_args, env, true, NULL);
    zt_buf_reset(&log);
    for (int i = 0; i < 50 && !strstr(zt_buf_str(&log), "orchestrator_joined"); i++) {
        zt_time_sleep_ms(100);
        node_collect_stderr(&w, &log);
    }
    assert_non_null(strstr(zt_buf_str(&log), "orchestrator_joined"));
    node_cleanup(&w);
    zt_buf_deinit(&log);
    fake_free(&other);
    rm_rf(cfg);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_join")) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_flood),
        cmocka_unit_test(test_forged_and_replayed),
        cmocka_unit_test(test_worker_claims_missing_model),
        cmocka_unit_test(test_pinned_join),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
