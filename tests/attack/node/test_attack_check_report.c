/* test_attack_check_report.c: the checkers' own reports to the
 * orchestrator (POST /v1/orchestrator/check-report; docs/internals/
 * orchestrator.md "Checkers report too") under attack, and what they
 * catch. An orchestrator-only node and three workers joined with --join,
 * whose keys the test made (so it can sign what an honest checker would);
 * the test plays the remote gateway (a leased job, run, drawn for a check,
 * its checker picked) and an attacker posting reports:
 *  - a genuine signed report by a worker not (yet) picked to check: 403;
 *  - a report in the picked checker's name signed by another key: 403;
 *  - a report of a node the registry does not know: 403;
 *  - the picked checker's signed report of a check that ended an hour
 *    before it was picked (an old report replayed for a new pick): 403;
 *  - malformed bodies: 400;
 *  - the picked checker's own report: kept (200); the same again: 409;
 * each refusal counted (zentalk_orchestrator_refusals_total{reason=
 * "check_report"}). Then the gateway's verdicts, with the checker's
 * dissent held: "unavailable" (nothing checked) and "agreed" with a
 * second checker's agreement but the first checker's dissent left out are
 * refused (422, unproven_verdict), nothing charged; the true verdict
 * (checker_wrong, both answers) is accepted. Last, one address flooding
 * the route (reports naming a picked checker, each one a signature check
 * to refuse) is cut off with 429 (rate_limited, counted).
 * Usage: test_attack_check_report PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"
#include "keyed.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zt_test_chain.h"

#define N_WK 3
static struct node orch;
static struct keyed_node wk[N_WK];
static char ids[N_WK][64], cfg[256];
static uint8_t subject[32];
static const char REFUSED_REPORT[] = "zentalk_orchestrator_refusals_total{reason=\"check_report\"}";
static const char REFUSED_VERDICT[] = "zentalk_orchestrator_refusals_total{reason=\"unproven_verdict\"}";

static const uint8_t *sk_of(const char *id)
{
    for (int i = 0; i < N_WK; i++)
        if (zt_str_eq(ids[i], id)) return zt_identity_sign_sk(wk[i].id);
    fail_msg("unknown node %s", id ? id : "(null)");
    return NULL;
}

/* A signed FINAL checkpoint and receipt of the job's subject (hex). */
static void signed_chain(const uint8_t *sk, uint8_t chain, uint64_t finished, char *ckpt, char *rec)
{
    struct zt_test_chain c = {
        .subject = subject, .job = (uint8_t)randombytes_uniform(256), .chain = chain, .finished = finished};
    assert_int_equal(zt_test_signed_chain(sk, &c, ckpt, rec), 0);
}

/* POST a check report as node_id, signed by sk; the answer's status. */
static long check_report(const char *node_id, const uint8_t *sk, uint8_t chain, uint64_t finished, char *kept,
                         size_t cap)
{
    char ck[2 * ZT_CKPT_MAX_LEN + 1], rc[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    signed_chain(sk, chain, finished, ck, rc);
    json_t *b = json_pack("{s:s,s:s,s:s}", "node_id", node_id, "checkpoint", ck, "receipt", rc);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    if (kept) zt_strlcpy(kept, text, cap);
    struct resp r;
    http(orch.port, "POST", "/v1/orchestrator/check-report", "application/json", text, &r);
    free(text);
    long st = r.status;
    resp_free(&r);
    return st;
}

static long post_raw(const char *body)
{
    struct resp r;
    http(orch.port, "POST", "/v1/orchestrator/check-report", "application/json", body, &r);
    long st = r.status;
    resp_free(&r);
    return st;
}

static json_t *report(const char *body, long want)
{
    return post_json(orch.port, "/v1/orchestrator/report", NULL, body, want);
}

/* A verdict: the worker's chain 7 and the checkers named with their chains. */
static void verdict(const char *job, const char *claimed, const char *worker, const char *const *cks,
                    const uint8_t *chains, size_t n, long want)
{
    char wc[2 * ZT_CKPT_MAX_LEN + 1], wr[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    uint64_t now_s = (uint64_t)(zt_time_real_ms() / 1000);
    signed_chain(sk_of(worker), 7, now_s, wc, wr);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char cc[sizeof wc], cr[sizeof wr];
        signed_chain(sk_of(cks[i]), chains[i], now_s, cc, cr);
        json_array_append_new(arr, json_pack("{s:s,s:b,s:s,s:s}", "node_id", cks[i], "wrong", 0, "checkpoint", cc,
                                             "receipt", cr));
    }
    json_t *b = json_pack("{s:s,s:s,s:s,s:[s],s:s,s:s,s:o}", "job_id", job, "event", "verdict", "verdict", claimed,
                          "workers", worker, "checkpoint", wc, "receipt", wr, "checkers", arr);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    json_decref(report(text, want));
    free(text);
}

static void test_check_reports(void **state)
{
    (void)state;
    if (!keyed_orch(&orch, cfg, sizeof cfg, "ckreport", wk, ids, N_WK)) zt_skip("stories260K.gguf not found (tests/models)");

    /* a leased job, run, drawn for a check (its worker is new) */
    char job[64], worker[64], verify[32], body[600];
    keyed_lease_done(orch.port, job, worker, verify);
    assert_string_equal(verify, "new_worker");
    char c1[64], c2[64] = "";
    keyed_check_pick(orch.port, job, worker, 0, c1);
    for (int i = 0; i < N_WK; i++)
        if (!zt_str_eq(ids[i], worker) && !zt_str_eq(ids[i], c1)) zt_strlcpy(c2, ids[i], sizeof c2);
    randombytes_buf(subject, sizeof subject);
    uint64_t now_s = (uint64_t)(zt_time_real_ms() / 1000);
    long long refused0 = metric_value(orch.port, REFUSED_REPORT);

    /* a worker not picked (yet), with its own genuine signature */
    assert_int_equal(check_report(c2, sk_of(c2), 7, now_s, NULL, 0), 403);
    /* forged: the checker's name, another key */
    struct zt_identity *eve = NULL;
    assert_int_equal(zt_identity_generate(&eve), 0);
    assert_int_equal(check_report(c1, zt_identity_sign_sk(eve), 9, now_s, NULL, 0), 403);
    /* a node the registry does not know (eve, signing as herself) */
    assert_int_equal(check_report(zt_identity_id(eve), zt_identity_sign_sk(eve), 9, now_s, NULL, 0), 403);
    zt_identity_free(eve);
    /* the picked checker's report of a check that ended before its pick */
    assert_int_equal(check_report(c1, sk_of(c1), 9, now_s - 3600, NULL, 0), 403);
    /* malformed */
    assert_int_equal(post_raw("{\"node_id\":\"x\"}"), 403);
    assert_int_equal(post_raw("{\"node_id\":7}"), 400);
    assert_int_equal(post_raw("not json"), 400);
    assert_int_equal(metric_value(orch.port, REFUSED_REPORT), refused0 + 6);
    /* the picked checker's own (a dissent, chain 9): kept; again: a replay */
    char kept[4096];
    assert_int_equal(check_report(c1, sk_of(c1), 9, now_s, kept, sizeof kept), 200);
    assert_int_equal(post_raw(kept), 409);
    assert_int_equal(metric_value(orch.port, REFUSED_REPORT), refused0 + 7);

    /* the gateway hides the dissent */
    long long vref0 = metric_value(orch.port, REFUSED_VERDICT);
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"event\":\"verdict\",\"verdict\":\"unavailable\"}", job);
    json_decref(report(body, 422));
    keyed_check_pick(orch.port, job, worker, 1, c2); /* an arbiter, whose agreement it reports alone */
    const char *only_c2[] = {c2}, *both[] = {c1, c2};
    const uint8_t agree[] = {7}, split[] = {9, 7};
    verdict(job, "agreed", worker, only_c2, agree, 1, 422);
    assert_int_equal(metric_value(orch.port, REFUSED_VERDICT), vref0 + 2);
    json_t *n = orch_node(orch.port, c1);
    assert_false(json_is_true(json_object_get(n, "banned"))); /* the hidden dissenter was not charged */
    json_decref(n);
    /* the truth: c1 was outvoted */
    verdict(job, "checker_wrong", worker, both, split, 2, 200);
    assert_int_equal(metric_value(orch.port, REFUSED_VERDICT), vref0 + 2);

    /* a flood from one address: forged reports in a picked checker's name
     * (each costs the orchestrator a signature check): limited per address */
    const char *rate = "zentalk_orchestrator_refusals_total{reason=\"rate_limited\"}";
    long long rate0 = metric_value(orch.port, rate);
    struct zt_identity *mallory = NULL;
    assert_int_equal(zt_identity_generate(&mallory), 0);
    long st = 0;
    for (int i = 0; i < 200 && st != 429; i++) {
        st = check_report(c1, zt_identity_sign_sk(mallory), 9, now_s, NULL, 0);
        assert_true(st == 403 || st == 429);
    }
    zt_identity_free(mallory);
    assert_int_equal(st, 429);
    assert_true(metric_value(orch.port, rate) > rate0);

    keyed_orch_stop(&orch, cfg, wk, N_WK);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_check_report")) return 2;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_check_reports)};
    return zt_test_exit(cmocka_run_group_tests_name("attack_check_report", tests, NULL, NULL));
}
