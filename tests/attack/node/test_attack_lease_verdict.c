/* test_attack_lease_verdict.c: a gateway in another process that lies to
 * its orchestrator about a verification (POST /v1/orchestrator/report,
 * event verdict; docs/internals/orchestrator.md "Verification over
 * leases"). An orchestrator-only node and three workers joined with --join,
 * whose keys the test made (so it can sign what an honest worker and
 * checker would); the test plays the remote gateway: it leases a job, runs
 * it (reported started and ok: new workers are always drawn), asks for
 * its checker without excluding the worker (the orchestrator never picks
 * it anyway), and reports:
 *  - "worker_wrong" with the worker's and the checker's signed chains
 *    equal (a lie about the verdict): 422 verdict_refused;
 *  - the checker's checkpoint and receipt forged (signed by a key of the
 *    test's, not the checker's) to disagree with the worker: 422;
 *  - a third worker's genuine signed disagreement, though the orchestrator
 *    never picked it to check this job: 422;
 *  - the verdict with no evidence at all (the form of the last release): 422;
 *  - an earlier verdict's signed evidence replayed for the worker's next
 *    job: 422 (evidence is accepted once);
 *  - evidence whose worker receipt finished two hours ago (older than
 *    the hour an orchestrator keeps used evidence for): 422;
 * each counted (zentalk_orchestrator_refusals_total{reason=
 * "unproven_verdict"}), none charged: the job stays done and the worker
 * is neither banned nor charged a mismatch. Then the honest report
 * ("agreed", both chains) is accepted: the job is verified.
 * Usage: test_attack_lease_verdict PATH/zentalk-node PATH/zentalk */
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
static const char REFUSED[] = "zentalk_orchestrator_refusals_total{reason=\"unproven_verdict\"}";

static int index_of(const char *id)
{
    for (int i = 0; i < N_WK; i++)
        if (zt_str_eq(ids[i], id)) return i;
    fail_msg("unknown node %s", id ? id : "(null)");
    return -1;
}

static uint64_t age_next_s; /* the next verdict()'s worker receipt finished this long ago */

/* A FINAL checkpoint for the job's subject with chain byte `chain`, and
 * the receipt that goes with it (its input_hash the subject: the job's
 * first body; a random sealed-job id; finished at `finished`, unix s: the
 * orchestrator takes a verdict's evidence for an hour after its receipt's
 * finish), signed by sk (hex); signed_chain: finished now. */
static void signed_chain_at(const uint8_t *sk, uint8_t chain, uint64_t finished, char *ckpt_hex, char *rec_hex)
{
    uint8_t env_id[16];
    randombytes_buf(env_id, sizeof env_id);
    struct zt_test_chain c = {.subject = subject, .job_id = env_id, .chain = chain, .finished = finished};
    assert_int_equal(zt_test_signed_chain(sk, &c, ckpt_hex, rec_hex), 0);
}

static void signed_chain(const uint8_t *sk, uint8_t chain, char *ckpt_hex, char *rec_hex)
{
    signed_chain_at(sk, chain, (uint64_t)(zt_time_real_ms() / 1000), ckpt_hex, rec_hex);
}

static json_t *report(const char *body, long want)
{
    return post_json(orch.port, "/v1/orchestrator/report", NULL, body, want);
}

/* A verdict report: the worker's chain w_chain (its key), one checker's
 * entry named `checker` with chain c_chain signed by c_sk. */
static char last_wc[2 * ZT_CKPT_MAX_LEN + 1], last_wr[2 * ZT_ENV_RECEIPT_MAX_LEN + 1]; /* the last worker evidence */
static bool replay_next; /* the next verdict() sends last_wc/last_wr again instead of new evidence */

static void verdict(const char *job, const char *claimed, const char *worker, uint8_t w_chain, const char *checker,
                    const uint8_t *c_sk, uint8_t c_chain, long want)
{
    char wc[2 * ZT_CKPT_MAX_LEN + 1], wr[2 * ZT_ENV_RECEIPT_MAX_LEN + 1], cc[sizeof wc], cr[sizeof wr];
    if (replay_next) {
        zt_strlcpy(wc, last_wc, sizeof wc);
        zt_strlcpy(wr, last_wr, sizeof wr);
        replay_next = false;
    } else {
        signed_chain_at(zt_identity_sign_sk(wk[index_of(worker)].id), w_chain,
                        (uint64_t)(zt_time_real_ms() / 1000) - age_next_s, wc, wr);
        age_next_s = 0;
    }
    zt_strlcpy(last_wc, wc, sizeof last_wc);
    zt_strlcpy(last_wr, wr, sizeof last_wr);
    signed_chain(c_sk, c_chain, cc, cr);
    json_t *b = json_pack("{s:s,s:s,s:s,s:[s],s:s,s:s,s:[{s:s,s:b,s:s,s:s}]}", "job_id", job, "event", "verdict",
                          "verdict", claimed, "workers", worker, "checkpoint", wc, "receipt", wr, "checkers",
                          "node_id", checker, "wrong", 0, "checkpoint", cc, "receipt", cr);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    json_t *a = report(text, want);
    free(text);
    if (want == 422) assert_string_equal(json_string_value(json_object_get(json_object_get(a, "error"), "code")),
                                         "verdict_refused");
    json_decref(a);
}

/* The job's state at the orchestrator. */
static const char *job_state(const char *job)
{
    return orch_job_state(orch.port, job);
}

static void test_lying_gateway(void **state)
{
    (void)state;
    if (!keyed_orch(&orch, NULL, cfg, sizeof cfg, "verdict", wk, ids, N_WK))
        zt_skip("stories260K.gguf not found (tests/models)");

    /* the job, run and drawn for a check (its worker is new) */
    char job[64], worker[64], body[2048], verify[32];
    orch_lease_run(orch.port, job, worker, verify, sizeof verify);
    assert_string_equal(verify, "new_worker");
    json_t *a;
    /* the gateway "forgets" to exclude the worker: the orchestrator does.
     * The check event carries the worker's signed checkpoint (its subject) */
    randombytes_buf(subject, sizeof subject);
    const uint8_t *worker_sk = zt_identity_sign_sk(wk[index_of(worker)].id);
    assert_int_equal(zt_test_check_event(worker_sk, subject, job, worker, 0, body, sizeof body), 0);
    a = report(body, 200);
    char checker[64], other[64] = "";
    zt_strlcpy(checker, json_string_value(json_object_get(json_object_get(a, "worker"), "node_id")), sizeof checker);
    json_decref(a);
    assert_false(zt_str_eq(checker, worker));
    for (int i = 0; i < N_WK; i++)
        if (!zt_str_eq(ids[i], worker) && !zt_str_eq(ids[i], checker)) zt_strlcpy(other, ids[i], sizeof other);
    long long refused0 = metric_value(orch.port, REFUSED);
    const uint8_t *checker_sk = zt_identity_sign_sk(wk[index_of(checker)].id);

    /* a lie about the verdict: the signed chains agree */
    verdict(job, "worker_wrong", worker, 7, checker, checker_sk, 7, 422);
    verdict(job, "undecided", worker, 7, checker, checker_sk, 7, 422);
    /* a forged checker receipt: signed by a key of the attacker's */
    struct zt_identity *eve = NULL;
    assert_int_equal(zt_identity_generate(&eve), 0);
    verdict(job, "worker_wrong", worker, 7, checker, zt_identity_sign_sk(eve), 9, 422);
    zt_identity_free(eve);
    /* a genuine disagreement by a worker never picked to check this job */
    verdict(job, "worker_wrong", worker, 7, other, zt_identity_sign_sk(wk[index_of(other)].id), 9, 422);
    /* no evidence at all */
    snprintf(body, sizeof body,
             "{\"job_id\":\"%s\",\"event\":\"verdict\",\"verdict\":\"worker_wrong\",\"workers\":[\"%s\"],"
             "\"checkers\":[{\"node_id\":\"%s\",\"wrong\":false}]}",
             job, worker, checker);
    json_decref(report(body, 422));
    assert_int_equal(metric_value(orch.port, REFUSED), refused0 + 5);
    /* none of it was charged */
    assert_string_equal(job_state(job), "done");
    json_t *n = orch_node(orch.port, worker);
    assert_false(json_is_true(json_object_get(n, "banned")));
    assert_int_equal(json_integer_value(json_object_get(n, "mismatches")), 0);
    json_decref(n);

    /* the truth is accepted */
    verdict(job, "agreed", worker, 7, checker, checker_sk, 7, 200);
    assert_string_equal(job_state(job), "verified");
    n = orch_node(orch.port, worker);
    assert_false(json_is_true(json_object_get(n, "banned")));
    assert_int_equal(json_integer_value(json_object_get(n, "verified")), 1);
    json_decref(n);
    assert_int_equal(metric_value(orch.port, REFUSED), refused0 + 5);

    /* a replay: the same worker's next job, drawn for a check, "verified"
     * with the evidence of the job above (its signed receipt again) */
    char job2[64] = "";
    for (int tries = 0; tries < 40 && !job2[0]; tries++) {
        char j2[64], w2[64];
        orch_lease_run(orch.port, j2, w2, verify, sizeof verify);
        if (zt_str_eq(w2, worker) && verify[0]) zt_strlcpy(job2, j2, sizeof job2);
    }
    if (!job2[0]) fail_msg("no second job of %s drawn for a check in 40 leases", worker);
    /* (the same subject: what refuses it is the evidence used once) */
    assert_int_equal(zt_test_check_event(worker_sk, subject, job2, worker, 0, body, sizeof body), 0);
    a = report(body, 200);
    char checker2[64];
    zt_strlcpy(checker2, json_string_value(json_object_get(json_object_get(a, "worker"), "node_id")), sizeof checker2);
    json_decref(a);
    replay_next = true;
    verdict(job2, "agreed", worker, 7, checker2, zt_identity_sign_sk(wk[index_of(checker2)].id), 7, 422);
    assert_int_equal(metric_value(orch.port, REFUSED), refused0 + 6);
    assert_string_equal(job_state(job2), "done");
    /* evidence older than the orchestrator keeps used evidence for (its
     * receipt finished two hours ago): refused by its age */
    age_next_s = 7200;
    verdict(job2, "agreed", worker, 7, checker2, zt_identity_sign_sk(wk[index_of(checker2)].id), 7, 422);
    assert_int_equal(metric_value(orch.port, REFUSED), refused0 + 7);
    assert_string_equal(job_state(job2), "done");
    /* fresh evidence for it is accepted */
    verdict(job2, "agreed", worker, 7, checker2, zt_identity_sign_sk(wk[index_of(checker2)].id), 7, 200);
    assert_string_equal(job_state(job2), "verified");

    keyed_orch_stop(&orch, cfg, wk, N_WK);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_lease_verdict")) return 2;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_lying_gateway)};
    return zt_test_exit(cmocka_run_group_tests_name("attack_lease_verdict", tests, NULL, NULL));
}
