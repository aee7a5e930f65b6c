/* test_attack_lease_takeover.c: who may have another orchestrator continue
 * a remote gateway's job (docs/internals/orchestrator.md "Failover to
 * another orchestrator"). Two orchestrator-only nodes A and B on one
 * PostgreSQL and one Redis stream (claim window a minute: only the
 * gateway's call moves a job here), one worker joined to A (B knows it
 * from the shared registry); the test plays two registered gateways, G
 * and S, with keys it made, signing their calls (Zentalk-Gateway-*) as a
 * gateway does:
 *  - G leases a job at A and starts it; S's signed cancel of it at A, and
 *    an unsigned one, are refused (403 not_job_gateway);
 *  - A is killed with SIGKILL; at B, S's signed call about G's job is
 *    refused (403, counted) and the row stays A's; an unsigned call is 404
 *    (nobody to continue it for); a call that names G but is signed by S's
 *    key, and G's own call signed for A, are 401 (counted);
 *  - G's signed report takes the job over at B (200, done, the row B's);
 *    that request replayed byte for byte is 401 (counted), and S still
 *    cannot cancel the job now at B.
 * Skips with the reason when PostgreSQL or Redis cannot be started, or
 * without the test model.
 * Usage: test_attack_lease_takeover PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zt_test_servers.h"

static const char NOT_GW[] = "zentalk_orchestrator_refusals_total{reason=\"not_job_gateway\"}";
static const char BAD_SIG[] = "zentalk_orchestrator_refusals_total{reason=\"gateway_signature\"}";
static char db[700];

/* A signed call as a gateway makes it: the four header lines in h (and
 * NULL), signed by `by` as the node `as` for the orchestrator `aud`. */
struct signed_call {
    char lines[4][160];
    const char *h[5];
};

static void sign_call(struct signed_call *c, const struct zt_identity *by, const char *as, const char *aud,
                      const char *path, const char *body)
{
    struct zt_nodeauth_headers sh;
    assert_int_equal(zt_nodeauth_sign(by, aud, "POST", path, body, strlen(body), zt_time_real_ms() / 1000, &sh), 0);
    if (as) { /* claim another node: the canonical string must name it, signed by `by` */
        uint8_t sha[32];
        crypto_hash_sha256(sha, (const uint8_t *)body, strlen(body));
        struct zt_buf canon;
        zt_buf_init(&canon, 4096);
        assert_int_equal(zt_nodeauth_canonical(as, aud, "POST", path, strtoll(sh.date, NULL, 10), sh.nonce, sha, &canon),
                         0);
        uint8_t sig[ZT_ED25519_SIG_LEN];
        crypto_sign_detached(sig, NULL, (const uint8_t *)canon.data, canon.len, zt_identity_sign_sk(by));
        zt_buf_deinit(&canon);
        sodium_bin2base64(sh.sig, sizeof sh.sig, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
        zt_strlcpy(sh.node, as, sizeof sh.node);
    }
    snprintf(c->lines[0], sizeof c->lines[0], "Zentalk-Gateway: %s", sh.node);
    snprintf(c->lines[1], sizeof c->lines[1], "Zentalk-Gateway-Date: %s", sh.date);
    snprintf(c->lines[2], sizeof c->lines[2], "Zentalk-Gateway-Nonce: %s", sh.nonce);
    snprintf(c->lines[3], sizeof c->lines[3], "Zentalk-Gateway-Signature: %s", sh.sig);
    for (int i = 0; i < 4; i++) c->h[i] = c->lines[i];
    c->h[4] = NULL;
}

/* POST body to path at port with the signed call's headers (NULL: none);
 * asserts the status, returns the answer (json_decref it). */
static json_t *send_call(uint16_t port, const char *path, const char *body, const struct signed_call *c, long want)
{
    struct resp r;
    http_bin(port, "POST", path, "application/json", body, strlen(body), c ? c->h : NULL, &r);
    if (r.status != want) fprintf(stderr, "%s %s: %ld %s\n", path, body, r.status, zt_buf_str(&r.body));
    assert_int_equal(r.status, want);
    json_t *j = resp_json(&r);
    resp_free(&r);
    return j;
}

/* A signed call of gateway `by` (claiming to be `as` when not NULL) to the orchestrator `aud` at port. */
static json_t *gw_call(uint16_t port, const char *aud, const struct zt_identity *by, const char *as, const char *path,
                       const char *body, long want)
{
    struct signed_call c;
    sign_call(&c, by, as, aud, path, body);
    return send_call(port, path, body, &c, want);
}

static void expect_code(json_t *j, const char *code)
{
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")), code);
    json_decref(j);
}

/* The row's owner and state ("" when there is none). */
static void row_of(const char *job, char *owner, size_t cap, long *state)
{
    PGconn *c = PQconnectdb(db);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    const char *params[1] = {job};
    PGresult *r = PQexecParams(c, "SELECT orch, state FROM sched_jobs WHERE job_id = $1", 1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    owner[0] = '\0';
    *state = -1;
    if (PQntuples(r) == 1) {
        zt_strlcpy(owner, PQgetvalue(r, 0, 0), cap);
        *state = strtol(PQgetvalue(r, 0, 1), NULL, 10);
    }
    PQclear(r);
    PQfinish(c);
}

/* A gateway identity and its signed descriptor, registered at both. */
static struct zt_identity *gateway(const uint16_t ports[2])
{
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    const char *roles[] = {"gateway"};
    char *desc = NULL;
    assert_int_equal(zt_identity_descriptor(id, roles, 1, NULL, 0, "http://127.0.0.1:9", zt_time_real_ms() / 1000 + 3600,
                                            &desc),
                     0);
    json_t *b = json_pack("{s:s}", "gateway", desc);
    char *text = json_dumps(b, JSON_COMPACT);
    for (int i = 0; i < 2; i++) json_decref(send_call(ports[i], "/v1/orchestrator/lease", text, NULL, 200));
    free(text);
    json_decref(b);
    zt_free(desc);
    return id;
}

static void test_lease_takeover(void **state)
{
    (void)state;
    char cfg[256], redis[256];
    if (!net_config(cfg, sizeof cfg, "leasetakeover", 2)) zt_skip("stories260K.gguf not found (tests/models)");
    if (!zt_test_pg_new_db(db, sizeof db)) zt_skip("%s", db);
    if (!zt_test_redis_start(redis, sizeof redis)) zt_skip("%s", redis);
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    struct zt_test_shared_env se;
    zt_test_shared_env(&se, db, redis, 60000);
    const char *const *oenv = se.v;
    struct node a, b, w;
    char a_id[64], b_id[64], w_id[64];
    node_spawn(&a, oargs, oenv, true, NULL);
    node_spawn(&b, oargs, oenv, true, NULL);
    node_id_of(a.port, a_id, sizeof a_id, NULL);
    node_id_of(b.port, b_id, sizeof b_id, NULL);
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};
    net_worker(&w, cfg, a.url, wenv, NULL, NULL, w_id);
    assert_int_equal(orch_wait_live(a.port, 1, 20000), 1);
    assert_int_equal(orch_wait_live(b.port, 1, 20000), 1); /* from the shared registry */
    const uint16_t ports[2] = {a.port, b.port};
    struct zt_identity *g = gateway(ports), *s = gateway(ports);
    const char *g_id = zt_identity_id(g);

    /* G's job at A, started on the worker */
    json_t *j = gw_call(a.port, a_id, g, NULL, "/v1/orchestrator/lease", "{\"model\":\"stories\",\"max_tokens\":8}",
                        200);
    char job[64], worker[64], body[400];
    zt_strlcpy(job, json_string_value(json_object_get(j, "job_id")), sizeof job);
    zt_strlcpy(worker, json_string_value(json_object_get(json_object_get(j, "worker"), "node_id")), sizeof worker);
    json_decref(j);
    assert_string_equal(worker, w_id);
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"worker\":\"%s\",\"event\":\"started\"}", job, worker);
    json_decref(gw_call(a.port, a_id, g, NULL, "/v1/orchestrator/report", body, 200));
    /* another gateway cannot cancel it, nor can an unsigned caller */
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"event\":\"cancel\"}", job);
    expect_code(gw_call(a.port, a_id, s, NULL, "/v1/orchestrator/report", body, 403), "not_job_gateway");
    expect_code(send_call(a.port, "/v1/orchestrator/report", body, NULL, 403), "not_job_gateway");
    char owner[64];
    long st;
    row_of(job, owner, sizeof owner, &st);
    assert_string_equal(owner, a_id);
    assert_int_equal(st, 2); /* running */

    /* A dies */
    assert_int_equal(kill(a.pid, SIGKILL), 0);
    assert_int_equal(node_wait(&a, 10000), 128 + SIGKILL);
    long long not_gw0 = metric_value(b.port, NOT_GW), bad0 = metric_value(b.port, BAD_SIG);
    assert_true(not_gw0 >= 0 && bad0 >= 0);

    /* S asks B for G's job: refused, counted, the row not moved */
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"wait_ms\":0}", job);
    expect_code(gw_call(b.port, b_id, s, NULL, "/v1/orchestrator/lease", body, 403), "not_job_gateway");
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"worker\":\"%s\",\"event\":\"ok\",\"tokens\":8}", job, worker);
    expect_code(gw_call(b.port, b_id, s, NULL, "/v1/orchestrator/report", body, 403), "not_job_gateway");
    assert_int_equal(metric_value(b.port, NOT_GW), not_gw0 + 2);
    /* unsigned: nobody to continue it for */
    expect_code(send_call(b.port, "/v1/orchestrator/report", body, NULL, 404), "unknown_job");
    /* G's name with S's key, and G's own call made for A: 401 */
    expect_code(gw_call(b.port, b_id, s, g_id, "/v1/orchestrator/report", body, 401), "invalid_gateway_signature");
    expect_code(gw_call(b.port, a_id, g, NULL, "/v1/orchestrator/report", body, 401), "invalid_gateway_signature");
    assert_int_equal(metric_value(b.port, BAD_SIG), bad0 + 2);
    row_of(job, owner, sizeof owner, &st);
    assert_string_equal(owner, a_id);
    assert_int_equal(st, 2);
    assert_int_equal(metric_value(b.port, "zentalk_orchestrator_jobs_continued_total"), 0);

    /* G's own report takes it over: done at B */
    struct signed_call gc;
    sign_call(&gc, g, NULL, b_id, "/v1/orchestrator/report", body);
    j = send_call(b.port, "/v1/orchestrator/report", body, &gc, 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "done");
    json_decref(j);
    row_of(job, owner, sizeof owner, &st);
    assert_string_equal(owner, b_id);
    assert_int_equal(st, 3);
    assert_int_equal(metric_value(b.port, "zentalk_orchestrator_jobs_continued_total"), 1);
    /* the same request replayed: 401, counted, nothing moves */
    expect_code(send_call(b.port, "/v1/orchestrator/report", body, &gc, 401), "invalid_gateway_signature");
    assert_int_equal(metric_value(b.port, BAD_SIG), bad0 + 3);
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"event\":\"cancel\"}", job);
    expect_code(gw_call(b.port, b_id, s, NULL, "/v1/orchestrator/report", body, 403), "not_job_gateway");
    assert_int_equal(metric_value(b.port, NOT_GW), not_gw0 + 3);
    row_of(job, owner, sizeof owner, &st);
    assert_int_equal(st, 3);
    assert_int_equal(metric_value(b.port, "zentalk_orchestrator_jobs_continued_total"), 1);

    zt_identity_free(g);
    zt_identity_free(s);
    node_stop(&w, 20000);
    node_stop(&b, 20000);
    node_cleanup(&a);
    rm_rf(a.dir);
    rm_rf(cfg);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_lease_takeover")) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_takeover),
    };
    return zt_test_exit(cmocka_run_group_tests_name("attack_lease_takeover", tests, NULL, NULL));
}
