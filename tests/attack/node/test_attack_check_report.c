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
 *  - a check event without the checked worker's signed checkpoint (the
 *    check's subject), or with one signed by another key: 400;
 *  - the picked checker's genuine report of a subject it was never
 *    picked for: 403;
 *  - the picked checker's own report: kept (200); the same again: 409;
 * each refusal counted (zentalk_orchestrator_refusals_total{reason=
 * "check_report"}). Then the gateway's verdicts, with the checker's
 * dissent held: "unavailable" (nothing checked) and "agreed" with a
 * second checker's agreement but the first checker's dissent left out are
 * refused (422, unproven_verdict), nothing charged; the true verdict
 * (checker_wrong, both answers) is accepted. A second job of another
 * subject: its checker's reports of the first job's subject (or of one
 * never picked) are not credited to it, so its "unavailable" verdict waits
 * (deferred) for the checker's own report, and is refused (422) as soon
 * as that comes, well before the 5 s wait ends: the orchestrator runs one
 * HTTP thread, which the waiting verdict does not hold. A third job's
 * checker never reports: its "unavailable" verdict is answered (200) when
 * the 5 s wait ends, the thread serving other calls meanwhile. Last, one address flooding
 * the route (reports naming a picked checker, each one a signature check
 * to refuse) is cut off with 429 (rate_limited, counted).
 * Usage: test_attack_check_report PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"
#include "keyed.h"

#include <pthread.h>
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

/* A signed FINAL checkpoint and receipt of subject s (hex). */
static void chain_of(const uint8_t *s, const uint8_t *sk, uint8_t chain, uint64_t finished, char *ckpt, char *rec)
{
    struct zt_test_chain c = {.subject = s, .job = (uint8_t)randombytes_uniform(256), .chain = chain, .finished = finished};
    assert_int_equal(zt_test_signed_chain(sk, &c, ckpt, rec), 0);
}

/* The same, of the job's subject. */
static void signed_chain(const uint8_t *sk, uint8_t chain, uint64_t finished, char *ckpt, char *rec)
{
    chain_of(subject, sk, chain, finished, ckpt, rec);
}

/* POST a check report of subject s as node_id, signed by sk; the answer's status. */
static long report_of(const uint8_t *s, const char *node_id, const uint8_t *sk, uint8_t chain, uint64_t finished,
                      char *kept, size_t cap)
{
    char ck[2 * ZT_CKPT_MAX_LEN + 1], rc[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    chain_of(s, sk, chain, finished, ck, rc);
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

/* The same, of the job's subject. */
static long check_report(const char *node_id, const uint8_t *sk, uint8_t chain, uint64_t finished, char *kept,
                         size_t cap)
{
    return report_of(subject, node_id, sk, chain, finished, kept, cap);
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

/* "check" round r for job, of subject s (the worker's signed checkpoint
 * with it): the checker the orchestrator picked. */
static void pick_of(const uint8_t *s, const char *job, const char *worker, int round, char *out)
{
    char body[2048];
    assert_int_equal(zt_test_check_event(sk_of(worker), s, job, worker, round, body, sizeof body), 0);
    json_t *a = report(body, 200);
    zt_strlcpy(out, json_string_value(json_object_get(json_object_get(a, "worker"), "node_id")), 64);
    json_decref(a);
}

static void pick(const char *job, const char *worker, int round, char *out)
{
    pick_of(subject, job, worker, round, out);
}

/* A leased job run by its worker and drawn for a check: job and worker
 * filled; false when not drawn. */
static bool run_drawn(char *job, char *worker)
{
    char verify[32];
    orch_lease_run(orch.port, job, worker, verify, sizeof verify);
    return verify[0] != '\0';
}

/* A verdict posted on a thread of its own (it waits for a report). */
struct pending {
    char body[256];
    long status;
    uint64_t ms; /* how long its answer took */
};

static void *post_pending(void *arg)
{
    struct pending *p = arg;
    uint64_t t0 = zt_time_mono_ms();
    struct resp r;
    http(orch.port, "POST", "/v1/orchestrator/report", "application/json", p->body, &r);
    p->status = r.status;
    p->ms = zt_time_mono_ms() - t0;
    resp_free(&r);
    return NULL;
}

static void test_check_reports(void **state)
{
    (void)state;
    /* one HTTP thread: a verdict waiting for a report must not hold it
     * (the report it waits for needs it) */
    const char *const oenv[] = {"ZENTALK_SERVER_THREADS=1", NULL};
    if (!keyed_orch(&orch, oenv, cfg, sizeof cfg, "ckreport", wk, ids, N_WK))
        zt_skip("stories260K.gguf not found (tests/models)");

    /* a leased job, run, drawn for a check (its worker is new) */
    char job[64], worker[64], body[600];
    assert_true(run_drawn(job, worker));
    char c1[64], c2[64] = "";
    randombytes_buf(subject, sizeof subject);
    /* a check event without the worker's signed checkpoint (its subject), or
     * with one another key signed: refused */
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"worker\":\"%s\",\"event\":\"check\",\"round\":0,\"exclude\":[]}",
             job, worker);
    json_decref(report(body, 400));
    for (int i = 0; i < N_WK; i++)
        if (!zt_str_eq(ids[i], worker)) zt_strlcpy(c2, ids[i], sizeof c2);
    char ev[2048];
    assert_int_equal(zt_test_check_event(sk_of(c2), subject, job, worker, 0, ev, sizeof ev), 0);
    json_decref(report(ev, 400));
    pick(job, worker, 0, c1);
    assert_false(zt_str_eq(c1, worker));
    for (int i = 0; i < N_WK; i++)
        if (!zt_str_eq(ids[i], worker) && !zt_str_eq(ids[i], c1)) zt_strlcpy(c2, ids[i], sizeof c2);
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
    /* the picked checker's genuine report of a subject it was never picked for */
    uint8_t never[32];
    randombytes_buf(never, sizeof never);
    assert_int_equal(report_of(never, c1, sk_of(c1), 9, now_s, NULL, 0), 403);
    assert_int_equal(metric_value(orch.port, REFUSED_REPORT), refused0 + 7);
    /* the picked checker's own (a dissent, chain 9): kept; again: a replay */
    char kept[4096];
    assert_int_equal(check_report(c1, sk_of(c1), 9, now_s, kept, sizeof kept), 200);
    assert_int_equal(post_raw(kept), 409);
    assert_int_equal(metric_value(orch.port, REFUSED_REPORT), refused0 + 8);

    /* the gateway hides the dissent */
    long long vref0 = metric_value(orch.port, REFUSED_VERDICT);
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"event\":\"verdict\",\"verdict\":\"unavailable\"}", job);
    json_decref(report(body, 422));
    pick(job, worker, 1, c2); /* an arbiter, whose agreement it reports alone */
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

    /* a second job of another subject: its checker's genuine reports of
     * the first job's subject, or of one never picked, are not credited to
     * the second job's pick (node-only matching did) */
    char job2[64] = "", w2[64];
    for (int tries = 0; tries < 40 && !job2[0]; tries++)
        if (run_drawn(body, w2)) zt_strlcpy(job2, body, sizeof job2);
    if (!job2[0]) fail_msg("no second job drawn for a check in 40 leases");
    uint8_t subject2[32];
    randombytes_buf(subject2, sizeof subject2);
    char k2[64];
    pick_of(subject2, job2, w2, 0, k2);
    long long refused1 = metric_value(orch.port, REFUSED_REPORT);
    /* of the first job's subject: kept under the first job's pick when k2
     * was picked for it (c1 or c2), else refused; never the second's */
    long st1 = check_report(k2, sk_of(k2), 7, now_s, NULL, 0);
    assert_int_equal(st1, zt_str_eq(k2, c1) || zt_str_eq(k2, c2) ? 200 : 403);
    assert_int_equal(report_of(never, k2, sk_of(k2), 9, now_s, NULL, 0), 403);
    assert_int_equal(metric_value(orch.port, REFUSED_REPORT), refused1 + (st1 == 403 ? 2 : 1));
    /* so an "unavailable" verdict for the second job is not refused on
     * them: it waits for k2's own report (its call deferred, no thread
     * held), which comes 300 ms later, and is refused on that */
    struct pending pv;
    snprintf(pv.body, sizeof pv.body, "{\"job_id\":\"%s\",\"event\":\"verdict\",\"verdict\":\"unavailable\"}",
             job2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, post_pending, &pv), 0);
    zt_time_sleep_ms(300);
    assert_int_equal(report_of(subject2, k2, sk_of(k2), 7, now_s, NULL, 0), 200);
    pthread_join(t, NULL);
    assert_int_equal(pv.status, 422);
    assert_true(pv.ms < 4000); /* decided when the report came, not at the end of the 5 s wait */
    assert_int_equal(metric_value(orch.port, REFUSED_VERDICT), vref0 + 3);

    /* a third job whose checker never reports: its "unavailable" verdict is
     * answered when the wait ends (the pump's sweep), and goes through;
     * meanwhile the one HTTP thread serves other calls */
    char job3[64] = "", w3[64], k3[64];
    for (int tries = 0; tries < 40 && !job3[0]; tries++)
        if (run_drawn(body, w3)) zt_strlcpy(job3, body, sizeof job3);
    if (!job3[0]) fail_msg("no third job drawn for a check in 40 leases");
    uint8_t subject3[32];
    randombytes_buf(subject3, sizeof subject3);
    pick_of(subject3, job3, w3, 0, k3);
    snprintf(pv.body, sizeof pv.body, "{\"job_id\":\"%s\",\"event\":\"verdict\",\"verdict\":\"unavailable\"}",
             job3);
    assert_int_equal(pthread_create(&t, NULL, post_pending, &pv), 0);
    zt_time_sleep_ms(500);
    uint64_t t0 = zt_time_mono_ms();
    json_decref(orch_node(orch.port, k3));
    assert_true(zt_time_mono_ms() - t0 < 2000); /* not behind the waiting verdict */
    pthread_join(t, NULL);
    assert_int_equal(pv.status, 200);
    assert_true(pv.ms >= 4500 && pv.ms < 20000); /* the 5 s wait, then decided */
    assert_int_equal(metric_value(orch.port, REFUSED_VERDICT), vref0 + 3);

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
