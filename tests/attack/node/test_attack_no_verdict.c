/* test_attack_no_verdict.c: a gateway in another process that asks for
 * its checkers but never sends the verdict (it colludes with a cheating
 * worker, or just drops it): the orchestrator decides the verdict itself
 * from what it holds, the worker's signed FINAL checkpoint of the check
 * event and the checkers' own signed reports, once
 * orchestrator.verification.verdict_wait_s (2 s here) passed after the
 * last check activity (docs/internals/orchestrator.md "When the gateway's
 * verdict does not come"). An orchestrator-only node and three workers
 * joined with --join whose keys the test made; the test plays the gateway
 * and the checkers' reports:
 *  - a lying worker: the verifier's and the arbiter's signed chains
 *    differ from the worker's, no verdict comes: the job fails
 *    (verification_mismatch), the worker is banned (CHEAT), the checkers
 *    are not; the gateway's late verdict is answered 409 verdict_decided
 *    with the orchestrator's verdict (worker_wrong);
 *  - an honest worker: its checker's signed chain agrees, no verdict
 *    comes: the job is verified, the worker is not penalised;
 *  - a check whose checker the gateway reported failed, no report and no
 *    verdict: "unverified", nothing charged to the worker (the job stays
 *    done).
 * Usage: test_attack_no_verdict PATH/zentalk-node PATH/zentalk */
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

static const uint8_t *sk_of(const char *id)
{
    for (int i = 0; i < N_WK; i++)
        if (zt_str_eq(ids[i], id)) return zt_identity_sign_sk(wk[i].id);
    fail_msg("unknown node %s", id ? id : "(null)");
    return NULL;
}

static json_t *report(const char *body, long want)
{
    return post_json(orch.port, "/v1/orchestrator/report", NULL, body, want);
}

/* The check event of round `round` (the worker's checkpoint of subject,
 * chain 7): the checker the orchestrator picked, into checker. */
static void pick(const char *job, const char *worker, const uint8_t *subject, int round, char *checker)
{
    char body[2048];
    assert_int_equal(zt_test_check_event(sk_of(worker), subject, job, worker, round, body, sizeof body), 0);
    json_t *a = report(body, 200);
    zt_strlcpy(checker, json_string_value(json_object_get(json_object_get(a, "worker"), "node_id")), 64);
    json_decref(a);
    assert_false(zt_str_eq(checker, worker));
}

/* checker's own signed report of its check of subject: chain byte `chain`. */
static void check_report(const char *checker, const uint8_t *subject, uint8_t chain)
{
    /* Each report its own receipt job id: the orchestrator refuses a second
     * report of one receipt as a replay (409), and a random byte collided in
     * about 1 % of runs. */
    static uint8_t next_job = 1;
    char ck[2 * ZT_CKPT_MAX_LEN + 1], rc[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    struct zt_test_chain c = {.subject = subject,
                              .job = next_job++,
                              .chain = chain,
                              .finished = (uint64_t)(zt_time_real_ms() / 1000)};
    assert_int_equal(zt_test_signed_chain(sk_of(checker), &c, ck, rc), 0);
    json_t *b = json_pack("{s:s,s:s,s:s}", "node_id", checker, "checkpoint", ck, "receipt", rc);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    json_decref(post_json(orch.port, "/v1/orchestrator/check-report", NULL, text, 200));
    free(text);
}

/* Wait (at most 20 s) for job to leave "done"; its state then. */
static const char *wait_decided(const char *job)
{
    uint64_t until = zt_time_mono_ms() + 20000;
    const char *st = orch_job_state(orch.port, job);
    while (zt_str_eq(st, "done") && zt_time_mono_ms() < until) {
        zt_time_sleep_ms(200);
        st = orch_job_state(orch.port, job);
    }
    return st;
}

static bool banned(const char *id, long long *mismatches)
{
    json_t *n = orch_node(orch.port, id);
    bool b = json_is_true(json_object_get(n, "banned"));
    if (mismatches) *mismatches = (long long)json_integer_value(json_object_get(n, "mismatches"));
    json_decref(n);
    return b;
}

/* A job leased, run and drawn for a check, on a worker other than `not`. */
static void run_job(char *job, char *worker, const char *not)
{
    char verify[32];
    for (int tries = 0; tries < 20; tries++) {
        orch_lease_run(orch.port, job, worker, verify, sizeof verify);
        if (verify[0] && (!not || !zt_str_eq(worker, not))) return;
    }
    fail_msg("no job drawn for a check on another worker than %s in 20 leases", not ? not : "-");
}

static void test_no_verdict(void **state)
{
    (void)state;
    if (!net_config(cfg, sizeof cfg, "noverdictcfg", 1)) zt_skip("stories260K.gguf not found (tests/models)");
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    const char *const oenv[] = {"ZENTALK_ORCHESTRATOR_VERIFICATION_VERDICT_WAIT_S=2", NULL};
    node_spawn(&orch, oargs, oenv, true, NULL);
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};
    for (int i = 0; i < N_WK; i++) {
        keyed_make(&wk[i], "noverdictwk");
        net_worker(&wk[i].n, cfg, orch.url, wenv, NULL, wk[i].dir, ids[i]);
    }
    assert_int_equal(orch_wait_live(orch.port, N_WK, 20000), N_WK);
    uint8_t subject[32];

    /* a lying worker: verifier and arbiter both differ; no verdict comes */
    char job[64], worker[64], c1[64], c2[64];
    run_job(job, worker, NULL);
    randombytes_buf(subject, sizeof subject);
    pick(job, worker, subject, 0, c1);
    check_report(c1, subject, 9);
    pick(job, worker, subject, 1, c2);
    assert_false(zt_str_eq(c1, c2));
    check_report(c2, subject, 9);
    uint64_t t0 = zt_time_mono_ms();
    assert_string_equal(wait_decided(job), "failed");
    fprintf(stderr, "no verdict: decided by the orchestrator after %llu ms\n",
            (unsigned long long)(zt_time_mono_ms() - t0));
    assert_true(banned(worker, NULL));
    assert_false(banned(c1, NULL));
    assert_false(banned(c2, NULL));
    /* the gateway's verdict, late: 409 with the orchestrator's */
    char body[512];
    snprintf(body, sizeof body,
             "{\"job_id\":\"%s\",\"event\":\"verdict\",\"verdict\":\"agreed\",\"workers\":[\"%s\"],\"checkers\":[]}",
             job, worker);
    json_t *a = report(body, 409);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "error"), "code")), "verdict_decided");
    assert_string_equal(json_string_value(json_object_get(a, "verdict")), "worker_wrong");
    json_decref(a);

    /* an honest worker: its checker agrees; no verdict comes */
    char job2[64], w2[64], c3[64];
    run_job(job2, w2, worker);
    randombytes_buf(subject, sizeof subject);
    pick(job2, w2, subject, 0, c3);
    check_report(c3, subject, 7);
    assert_string_equal(wait_decided(job2), "verified");
    long long mism = -1;
    assert_false(banned(w2, &mism));
    assert_int_equal(mism, 0);
    json_t *n = orch_node(orch.port, w2);
    assert_int_equal(json_integer_value(json_object_get(n, "verified")), 1);
    json_decref(n);

    /* a checker the gateway reported failed, no report, no verdict:
     * unverified, the worker not charged, the job left done */
    char job3[64], w3[64], c4[64];
    run_job(job3, w3, worker);
    randombytes_buf(subject, sizeof subject);
    pick(job3, w3, subject, 0, c4);
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"worker\":\"%s\",\"event\":\"check_failed\"}", job3, c4);
    json_decref(report(body, 200));
    zt_time_sleep_ms(4500); /* past the 2 s wait and the sweep after it */
    assert_string_equal(orch_job_state(orch.port, job3), "done");
    snprintf(body, sizeof body,
             "{\"job_id\":\"%s\",\"event\":\"verdict\",\"verdict\":\"none\",\"workers\":[\"%s\"],\"checkers\":[]}",
             job3, w3);
    a = report(body, 409);
    assert_string_equal(json_string_value(json_object_get(a, "verdict")), "unverified");
    json_decref(a);
    assert_false(banned(w3, &mism));
    assert_int_equal(mism, 0);

    for (int i = 0; i < N_WK; i++) keyed_free(&wk[i]);
    node_stop(&orch, 20000);
    rm_rf(cfg);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_no_verdict")) return 2;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_verdict)};
    return zt_test_exit(cmocka_run_group_tests_name("attack_no_verdict", tests, NULL, NULL));
}
