/* test_orch_verdict.c: the orchestrator's own check of a remote gateway's
 * verification verdict (src/orchestrator/orch_verdict.c, zt__orch_verdict_check)
 * and the majority rule it shares with the gateway (zt_job_check_decide):
 * - honest reports (agreed; the worker outvoted by two checkers; a checker
 *   outvoted) are proven, with who was wrong;
 * - a claimed verdict the chains do not say, a checker's checkpoint signed
 *   by another key than the registry's for it, a checker this
 *   orchestrator never picked, a worker that never ran the job (or not
 *   last), another subject, a receipt that does not go with its
 *   checkpoint, a non-FINAL checkpoint, a one-attempt job whose receipt's
 *   input_hash is not the subject: refused (ZT_EPERM);
 * - refusals of the ids (unsigned) explain the gateway's verdict but are
 *   never charged: a conviction by refusals alone proves nothing;
 * - a malformed report is ZT_EINVAL; the rule: fewer than two answers is
 *   UNAVAILABLE, no strict majority UNDECIDED;
 * - the checkers' own reports (zt__check_reports_*): kept only from a node
 *   picked here, signed by its registry key, of a check that ended after
 *   the pick, each receipt once (forged, unpicked, stale, replayed:
 *   refused); a verdict that leaves out a picked checker's held answer, or
 *   calls it a refusal, is refused when that answer changes the decision,
 *   and decided with it when it does not; a report that arrives while the
 *   verdict waits for it counts; a report is held for the job its checker
 *   was picked for (zt__check_reports_for_job); a gateway that names all
 *   ZT_JOB_CHECKERS_MAX picked checkers refused still has a held signed
 *   answer put in its refusal's place; a pick whose check the gateway
 *   called failed is awaited no more and a later report of that checker
 *   goes under its other pick (zt__check_reports_failed);
 * - reports are credited by subject: one checker picked for two jobs whose
 *   reports come in the "wrong" order has each credited to its own job; a
 *   report of a subject never picked is refused; a verdict of another
 *   subject than its checkers were picked for is refused; a verdict that
 *   lacks a picked checker's report still on its way says so (awaiting)
 *   and is decided with it once it came;
 * - the orchestrator's own verdict when a gateway sends none
 *   (zt__orch_verdict_own): the worker's signed checkpoint against the
 *   checkers' held reports: two dissenting reports convict the worker
 *   (worker_wrong), one agreeing report verifies it, one dissent alone is
 *   undecided, no report is unverified (nothing settled), a pick not yet
 *   reported says awaiting, a worker checkpoint under another key is
 *   ZT_EINVAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "../../src/orchestrator/orch_verdict.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"
#include "zt_test_chain.h"
#include "zt_test_verdict.h"

enum { W, W2, C1, C2, C3, EVE, C4, C5, C6, C7, C8, N_NODES };
static const char *const IDS[N_NODES] = {"w", "w2", "c1", "c2", "c3", "eve", "c4", "c5", "c6", "c7", "c8"};
static struct zt_identity *keys[N_NODES];
static uint8_t SUBJECT[32], OTHER[32], THIRD[32], FOURTH[32];

static struct zt_test_nodes NODES = {IDS, keys, N_NODES};

/* A node's evidence for subject with chain byte `chain`, signed by
 * `signer` (hex into ckpt and rec). tamper: 1 the receipt's chain differs,
 * 2 the checkpoint is not FINAL, 3 the receipt's input_hash is not the
 * subject. */
static void evidence(int signer, const uint8_t *subject, uint8_t chain, int tamper, char *ckpt, char *rec)
{
    struct zt_test_chain c = {.subject = subject,
                              .input_hash = tamper == 3 ? OTHER : NULL,
                              .job = (uint8_t)(signer + 1),
                              .chain = chain,
                              .receipt_off = tamper == 1,
                              .not_final = tamper == 2};
    assert_int_equal(zt_test_signed_chain(zt_identity_sign_sk(keys[signer]), &c, ckpt, rec), 0);
}

/* One checker in a report: node `who`, signed by `signer`, or refused. */
struct ck {
    int who, signer;
    uint8_t chain;
    const uint8_t *subject;
    int tamper;
    bool refused;
};

static json_t *report(const char *verdict, const int *workers, size_t nw, uint8_t w_chain, int w_tamper,
                      const struct ck *cs, size_t nc)
{
    char ckpt[2 * ZT_CKPT_MAX_LEN + 1], rec[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    evidence(workers[0], SUBJECT, w_chain, w_tamper, ckpt, rec);
    json_t *ws = json_array(), *arr = json_array();
    for (size_t i = 0; i < nw; i++) json_array_append_new(ws, json_string(IDS[workers[i]]));
    for (size_t i = 0; i < nc; i++) {
        if (cs[i].refused) {
            json_array_append_new(arr, json_pack("{s:s,s:b}", "node_id", IDS[cs[i].who], "refused", 1));
            continue;
        }
        char c2[sizeof ckpt], r2[sizeof rec];
        evidence(cs[i].signer, cs[i].subject ? cs[i].subject : SUBJECT, cs[i].chain, cs[i].tamper, c2, r2);
        json_array_append_new(arr, json_pack("{s:s,s:b,s:s,s:s}", "node_id", IDS[cs[i].who], "wrong", 0,
                                             "checkpoint", c2, "receipt", r2));
    }
    return json_pack("{s:s,s:o,s:o,s:s,s:s}", "verdict", verdict, "workers", ws, "checkers", arr, "checkpoint", ckpt,
                     "receipt", rec);
}

static const char *const RAN[] = {"w", "w2"};
static const char *const PICKED[] = {"c1", "c2", "c3"};

static json_t *last; /* the last report checked: out's strings are its */

static int check(json_t *body, unsigned attempts, struct zt__verdict *out)
{
    struct zt__verdict_job job = {.worker = "w",
                                  .attempts = attempts,
                                  .ran = RAN,
                                  .n_ran = 2,
                                  .picked = PICKED,
                                  .n_picked = 3,
                                  .key = zt_test_nodes_key, .key_ud = &NODES};
    const char *why = NULL;
    int rc = zt__orch_verdict_check(&job, body, out, &why);
    assert_true(rc == 0 ? why == NULL : why != NULL);
    json_decref(last);
    last = body;
    return rc;
}

static const int ONE[] = {W};

static void test_honest(void **state)
{
    (void)state;
    struct zt__verdict v;
    struct ck agree[] = {{.who = C1, .signer = C1, .chain = 7}};
    assert_int_equal(check(report("agreed", ONE, 1, 7, 0, agree, 1), 1, &v), 0);
    assert_true(v.settle);
    assert_int_equal(v.verdict, ZT_VERDICT_AGREED);
    assert_int_equal(v.n_workers, 1);
    assert_int_equal(v.n_checkers, 1);
    assert_string_equal(v.checkers[0], "c1");
    assert_false(v.wrong[0]);
    /* the worker outvoted by verifier and arbiter */
    struct ck two[] = {{.who = C1, .signer = C1, .chain = 9}, {.who = C2, .signer = C2, .chain = 9}};
    assert_int_equal(check(report("worker_wrong", ONE, 1, 7, 0, two, 2), 1, &v), 0);
    assert_int_equal(v.verdict, ZT_VERDICT_WORKER_WRONG);
    assert_false(v.wrong[0] || v.wrong[1]);
    /* a checker outvoted: it is the wrong one */
    struct ck split[] = {{.who = C1, .signer = C1, .chain = 9}, {.who = C2, .signer = C2, .chain = 7}};
    assert_int_equal(check(report("checker_wrong", ONE, 1, 7, 0, split, 2), 1, &v), 0);
    assert_int_equal(v.verdict, ZT_VERDICT_CHECKER_WRONG);
    assert_true(v.wrong[0]);
    assert_false(v.wrong[1]);
    /* three different chains: undecided */
    struct ck three[] = {{.who = C1, .signer = C1, .chain = 9}, {.who = C2, .signer = C2, .chain = 8}};
    assert_int_equal(check(report("undecided", ONE, 1, 7, 0, three, 2), 1, &v), 0);
    assert_int_equal(v.verdict, ZT_VERDICT_UNDECIDED);
    /* a failover: two workers, the last first; the subject is not the
     * last body's input_hash, so that is not asked */
    const int both[] = {W, W2};
    assert_int_equal(check(report("agreed", both, 2, 7, 3, agree, 1), 2, &v), 0);
    assert_int_equal(v.n_workers, 2);
}

static void test_lies(void **state)
{
    (void)state;
    struct zt__verdict v;
    struct ck agree[] = {{.who = C1, .signer = C1, .chain = 7}};
    /* the chains agree: any other claim is refused */
    assert_int_equal(check(report("worker_wrong", ONE, 1, 7, 0, agree, 1), 1, &v), ZT_EPERM);
    assert_int_equal(check(report("checker_wrong", ONE, 1, 7, 0, agree, 1), 1, &v), ZT_EPERM);
    assert_int_equal(check(report("undecided", ONE, 1, 7, 0, agree, 1), 1, &v), ZT_EPERM);
    /* the chains differ: "agreed" is refused */
    struct ck two[] = {{.who = C1, .signer = C1, .chain = 9}, {.who = C2, .signer = C2, .chain = 9}};
    assert_int_equal(check(report("agreed", ONE, 1, 7, 0, two, 2), 1, &v), ZT_EPERM);
    assert_int_equal(check(report("checker_wrong", ONE, 1, 7, 0, two, 2), 1, &v), ZT_EPERM);
    /* a forged checker checkpoint: c2's, signed by eve */
    struct ck forged[] = {{.who = C1, .signer = C1, .chain = 9}, {.who = C2, .signer = EVE, .chain = 9}};
    assert_int_equal(check(report("worker_wrong", ONE, 1, 7, 0, forged, 2), 1, &v), ZT_EPERM);
    /* a checker never picked here (eve, with her own valid signature) */
    struct ck stranger[] = {{.who = C1, .signer = C1, .chain = 9}, {.who = EVE, .signer = EVE, .chain = 9}};
    assert_int_equal(check(report("worker_wrong", ONE, 1, 7, 0, stranger, 2), 1, &v), ZT_EPERM);
    /* the same checker twice */
    struct ck twice[] = {{.who = C1, .signer = C1, .chain = 9}, {.who = C1, .signer = C1, .chain = 9}};
    assert_int_equal(check(report("worker_wrong", ONE, 1, 7, 0, twice, 2), 1, &v), ZT_EPERM);
    /* a worker that did not run it, or not last */
    const int eve[] = {EVE}, w2_first[] = {W2, W};
    assert_int_equal(check(report("agreed", eve, 1, 7, 0, agree, 1), 1, &v), ZT_EPERM);
    assert_int_equal(check(report("agreed", w2_first, 2, 7, 0, agree, 1), 2, &v), ZT_EPERM);
    /* another subject, a receipt off its checkpoint, not FINAL */
    struct ck other[] = {{.who = C1, .signer = C1, .chain = 7, .subject = OTHER}};
    assert_int_equal(check(report("agreed", ONE, 1, 7, 0, other, 1), 1, &v), ZT_EPERM);
    struct ck off[] = {{.who = C1, .signer = C1, .chain = 7, .tamper = 1}};
    assert_int_equal(check(report("agreed", ONE, 1, 7, 0, off, 1), 1, &v), ZT_EPERM);
    assert_int_equal(check(report("agreed", ONE, 1, 7, 1, agree, 1), 1, &v), ZT_EPERM);
    assert_int_equal(check(report("agreed", ONE, 1, 7, 2, agree, 1), 1, &v), ZT_EPERM);
    /* one attempt: the worker's receipt must be of the subject */
    assert_int_equal(check(report("agreed", ONE, 1, 7, 3, agree, 1), 1, &v), ZT_EPERM);
    /* no evidence at all (what a gateway of the last release sent) */
    assert_int_equal(check(json_pack("{s:s,s:[s],s:[{s:s,s:b}]}", "verdict", "worker_wrong", "workers", "w",
                                     "checkers", "node_id", "c1", "wrong", 0),
                           1, &v),
                     ZT_EPERM);
}

static void test_refusals(void **state)
{
    (void)state;
    struct zt__verdict v;
    /* two checkers refused the ids: the gateway's verdict, nothing proven */
    struct ck refused[] = {{.who = C1, .refused = true}, {.who = C2, .refused = true}};
    assert_int_equal(check(report("worker_wrong", ONE, 1, 7, 0, refused, 2), 1, &v), 0);
    assert_false(v.settle);
    assert_int_equal(v.n_refused, 2);
    assert_int_equal(check(report("agreed", ONE, 1, 7, 0, refused, 2), 1, &v), ZT_EPERM);
    /* one refused, the arbiter agreed with the worker: the gateway says
     * checker_wrong, the signatures prove agreement, the refuser is not charged */
    struct ck mixed[] = {{.who = C1, .refused = true}, {.who = C2, .signer = C2, .chain = 7}};
    assert_int_equal(check(report("checker_wrong", ONE, 1, 7, 0, mixed, 2), 1, &v), 0);
    assert_true(v.settle);
    assert_int_equal(v.verdict, ZT_VERDICT_AGREED);
    assert_int_equal(v.n_checkers, 1);
    assert_string_equal(v.checkers[0], "c2");
    assert_false(v.wrong[0]);
    /* a gateway that relabels an honest checker's signed agreement as a
     * refusal, so that two colluding checkers become the signed majority
     * against the worker: the claim (undecided) holds over all answers, but
     * the signed subset alone would convict the worker: nothing settled */
    struct ck relabel[] = {{.who = C1, .refused = true},
                           {.who = C2, .signer = C2, .chain = 8},
                           {.who = C3, .signer = C3, .chain = 8}};
    assert_int_equal(check(report("undecided", ONE, 1, 7, 0, relabel, 3), 1, &v), 0);
    assert_false(v.settle);
}

static void test_malformed_and_rule(void **state)
{
    (void)state;
    struct zt__verdict v;
    assert_int_equal(check(json_pack("{s:s}", "verdict", "agreed"), 1, &v), ZT_EINVAL);
    assert_int_equal(check(json_pack("{s:s,s:[]}", "verdict", "maybe", "workers"), 1, &v), ZT_EINVAL);
    assert_int_equal(check(json_pack("{s:s,s:[i]}", "verdict", "agreed", "workers", 3), 1, &v), ZT_EINVAL);
    /* the rule itself */
    assert_int_equal(zt_job_check_decide(NULL, 0, NULL, NULL), ZT_CHECK_UNAVAILABLE);
    struct zt_job_answer a[3] = {{.refused_ids = true}, {.refused_ids = true}, {.refused_ids = false}};
    assert_int_equal(zt_job_check_decide(a, 1, NULL, NULL), ZT_CHECK_UNAVAILABLE);
    assert_int_equal(zt_job_check_decide(a, 2, NULL, NULL), ZT_CHECK_AGREED);
    a[1].refused_ids = false; /* a refusal against an unreadable answer: no majority */
    assert_int_equal(zt_job_check_decide(a, 2, NULL, NULL), ZT_CHECK_UNDECIDED);
}

/* A checker's own report: node `who` signed by `signer`, chain byte, job
 * byte (its receipt's id), finished at unix s. */
static json_t *report_of_subject(int who, int signer, uint8_t chain, uint8_t job, uint64_t finished,
                                 const uint8_t *subject)
{
    char ckpt[2 * ZT_CKPT_MAX_LEN + 1], rec[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    struct zt_test_chain c = {.subject = subject, .job = job, .chain = chain, .finished = finished};
    assert_int_equal(zt_test_signed_chain(zt_identity_sign_sk(keys[signer]), &c, ckpt, rec), 0);
    return json_pack("{s:s,s:s,s:s}", "node_id", IDS[who], "checkpoint", ckpt, "receipt", rec);
}

/* The same, of the job whose subject is SUBJECT. */
static json_t *own_report(int who, int signer, uint8_t chain, uint8_t job, uint64_t finished)
{
    return report_of_subject(who, signer, chain, job, finished, SUBJECT);
}

static int put(struct zt__check_reports *cr, json_t *body, int64_t now_ms)
{
    const char *why = NULL;
    int rc = zt__check_reports_put(cr, zt_test_nodes_key, &NODES, body, now_ms, NULL, &why);
    assert_true(rc == 0 || why != NULL);
    json_decref(body);
    return rc;
}

/* body checked against a job whose checkers picked here are picked[n],
 * with cr's reports (body kept in `last`: out's strings are its). */
static bool awaiting; /* the last check_picked's: a picked checker's report it lacks may still come */

static int check_picked(json_t *body, struct zt__check_reports *cr, const char *const *picked, size_t n,
                        struct zt__verdict *out, const char **why)
{
    struct zt__verdict_job job = {.worker = "w",
                                  .attempts = 1,
                                  .ran = RAN,
                                  .n_ran = 2,
                                  .picked = picked,
                                  .n_picked = n,
                                  .key = zt_test_nodes_key, .key_ud = &NODES,
                                  .reports = cr,
                                  .subject = SUBJECT,
                                  .awaiting = &awaiting};
    int rc = zt__orch_verdict_check(&job, body, out, why);
    json_decref(last);
    last = body;
    return rc;
}

static int check_held(json_t *body, struct zt__check_reports *cr, struct zt__verdict *out, const char **why)
{
    return check_picked(body, cr, PICKED, 3, out, why);
}

/* checker picked for job's check of subject by this node's own gateway. */
static void expect(struct zt__check_reports *cr, const char *checker, const char *job, const uint8_t *subject,
                   int64_t now)
{
    assert_int_equal(zt__check_reports_expect(cr, "", checker, job, subject, now), 0);
}

static void test_check_reports(void **state)
{
    (void)state;
    int64_t now;
    uint64_t now_s;
    struct zt__check_reports *cr = zt_test_fresh_reports(&now, &now_s);
    /* nobody picked yet: refused */
    assert_int_equal(put(cr, own_report(C1, C1, 9, 0x31, now_s), now), ZT_EPERM);
    expect(cr, "c1", "job-a", SUBJECT, now);
    expect(cr, "c2", "job-a", SUBJECT, now);
    expect(cr, "c3", "job-b", SUBJECT, now);
    /* a node that was not picked (eve, with her own valid signature) */
    assert_int_equal(put(cr, own_report(EVE, EVE, 9, 0x32, now_s), now), ZT_EPERM);
    /* forged: c2's report signed by eve */
    assert_int_equal(put(cr, own_report(C2, EVE, 9, 0x33, now_s), now), ZT_EPERM);
    /* stale: a check that ended an hour before the pick */
    assert_int_equal(put(cr, own_report(C3, C3, 9, 0x34, now_s - 3600), now), ZT_EPERM);
    /* the picked checker's own: kept once; the same receipt again is a replay */
    assert_int_equal(put(cr, own_report(C1, C1, 9, 0x35, now_s), now), 0);
    assert_int_equal(put(cr, own_report(C1, C1, 9, 0x35, now_s), now), ZT_EEXIST);
    /* a report is held for the job its checker was picked for: a verdict
     * saying nothing was checked is refused there (orch_lease.c) */
    bool wait = true;
    assert_true(zt__check_reports_for_job(cr, "job-a", &wait));
    assert_false(wait);
    assert_false(zt__check_reports_for_job(cr, "job-b", &wait)); /* c3's pick: no report yet, awaited */
    assert_true(wait);
    assert_false(zt__check_reports_for_job(cr, "job-z", &wait)); /* nobody picked for it: nothing awaited */
    assert_false(wait);
    /* malformed */
    assert_int_equal(put(cr, json_pack("{s:s}", "node_id", "c1"), now), ZT_EPERM);
    assert_int_equal(put(cr, json_pack("{s:i}", "node_id", 1), now), ZT_EINVAL);
    /* past the window the pick is forgotten */
    assert_int_equal(put(cr, own_report(C3, C3, 9, 0x36, now_s), now + ZT__CHECK_REPORT_WINDOW_MS + 1000), ZT_EPERM);

    /* the gateway drops c1's dissent (the worker's 7 against c1's 9) and
     * reports c2's agreement as "agreed": decided with c1's held answer it
     * is checker_wrong, so the verdict is refused */
    struct zt__verdict v;
    const char *why = NULL;
    struct ck agree2[] = {{.who = C2, .signer = C2, .chain = 7}};
    assert_int_equal(check_held(report("agreed", ONE, 1, 7, 0, agree2, 1), cr, &v, &why), ZT_EPERM);
    assert_non_null(strstr(why, "leaves out a picked checker"));
    /* the honest verdict with every answer verifies */
    struct ck all[] = {{.who = C1, .signer = C1, .chain = 9}, {.who = C2, .signer = C2, .chain = 7}};
    assert_int_equal(check_held(report("checker_wrong", ONE, 1, 7, 0, all, 2), cr, &v, &why), 0);
    assert_int_equal(v.n_added, 0);
    /* c1 called a refusal (a relabelled signed answer): its held answer counts */
    struct ck relabel[] = {{.who = C1, .refused = true}, {.who = C2, .signer = C2, .chain = 7}};
    assert_int_equal(check_held(report("agreed", ONE, 1, 7, 0, relabel, 2), cr, &v, &why), ZT_EPERM);
    assert_int_equal(check_held(report("checker_wrong", ONE, 1, 7, 0, relabel, 2), cr, &v, &why), 0);
    assert_int_equal(v.n_refused, 0);
    assert_int_equal(v.n_added, 1);
    assert_true(v.settle);
    /* decided with the held answer: c2's 9 alone against the worker's 7
     * decides nothing, with c1's held 9 it is worker_wrong, which is what
     * the gateway claims: proven, c1 named among the checkers */
    struct ck c2_9[] = {{.who = C2, .signer = C2, .chain = 9}};
    assert_int_equal(check_held(report("worker_wrong", ONE, 1, 7, 0, c2_9, 1), cr, &v, &why), 0);
    assert_int_equal(v.verdict, ZT_VERDICT_WORKER_WRONG);
    assert_int_equal(v.n_added, 1);
    assert_int_equal(v.n_checkers, 2);
    assert_string_equal(v.checkers[1], "c1");
    assert_true(v.settle);
    zt__check_reports_free(cr);
}

/* c1 picked for job A, then for job B; its check of A fails (the
 * gateway's check_failed) and its check of B reports: the report is B's,
 * an "unavailable" verdict for A is not refused and awaits nothing. A
 * report that still comes for a failed pick is kept under it. */
static void test_failed_pick(void **state)
{
    (void)state;
    int64_t now;
    uint64_t now_s;
    struct zt__check_reports *cr = zt_test_fresh_reports(&now, &now_s);
    expect(cr, "c1", "job-A", OTHER, now - 2000);
    expect(cr, "c1", "job-B", SUBJECT, now - 1000);
    zt__check_reports_failed(cr, "c1", "job-A");
    assert_int_equal(put(cr, own_report(C1, C1, 9, 0x61, now_s), now), 0);
    bool wait = true;
    assert_true(zt__check_reports_for_job(cr, "job-B", &wait));
    assert_false(zt__check_reports_for_job(cr, "job-A", &wait));
    assert_false(wait); /* nothing awaited under a failed pick */
    /* a gateway calling c2's check failed cannot hide the answer that comes */
    expect(cr, "c2", "job-C", SUBJECT, now - 1000);
    zt__check_reports_failed(cr, "c2", "job-C");
    assert_int_equal(put(cr, own_report(C2, C2, 9, 0x62, now_s), now), 0);
    assert_true(zt__check_reports_for_job(cr, "job-C", &wait));
    zt__check_reports_free(cr);
}

/* One checker picked for two jobs of different subjects, its reports in
 * the "wrong" order (B's check first): each is credited to its own job's
 * pick by its signed subject (node-only matching credited B's report to
 * A, the older pick). A report of a subject it was never picked for, or
 * of a job picked for another node, is refused. */
static void test_subject_match(void **state)
{
    (void)state;
    int64_t now;
    uint64_t now_s;
    struct zt__check_reports *cr = zt_test_fresh_reports(&now, &now_s);
    expect(cr, "c1", "job-A", SUBJECT, now - 2000);
    expect(cr, "c1", "job-B", OTHER, now - 1000);
    expect(cr, "c2", "job-C", THIRD, now - 1000);
    char job[ZT_JOB_ID_SIZE] = "";
    json_t *b = report_of_subject(C1, C1, 9, 0x71, now_s, OTHER);
    assert_int_equal(zt__check_reports_put(cr, zt_test_nodes_key, &NODES, b, now, job, NULL), 0);
    json_decref(b);
    assert_string_equal(job, "job-B");
    bool wait = false;
    assert_true(zt__check_reports_for_job(cr, "job-B", &wait));
    assert_false(zt__check_reports_for_job(cr, "job-A", &wait)); /* A's report is still to come */
    assert_true(wait);
    /* a verdict for A without c1's answer is not decided with B's report:
     * it awaits c1's report of A */
    static const char *const C1_ONLY[] = {"c1"};
    struct zt__verdict v;
    const char *why = NULL;
    assert_int_equal(check_picked(report("undecided", ONE, 1, 7, 0, NULL, 0), cr, C1_ONLY, 1, &v, &why), ZT_EPERM);
    assert_true(awaiting);
    /* c1's report of C's subject (c2's pick) and of a subject never picked: refused */
    assert_int_equal(put(cr, report_of_subject(C1, C1, 9, 0x72, now_s, THIRD), now), ZT_EPERM);
    assert_int_equal(put(cr, report_of_subject(C1, C1, 9, 0x73, now_s, FOURTH), now), ZT_EPERM);
    /* then A's own report: A's */
    b = report_of_subject(C1, C1, 7, 0x74, now_s, SUBJECT);
    assert_int_equal(zt__check_reports_put(cr, zt_test_nodes_key, &NODES, b, now, job, NULL), 0);
    json_decref(b);
    assert_string_equal(job, "job-A");
    assert_true(zt__check_reports_for_job(cr, "job-A", &wait));
    assert_false(wait);
    /* decided with it now: c1 agrees with the worker */
    assert_int_equal(check_picked(report("agreed", ONE, 1, 7, 0, NULL, 0), cr, C1_ONLY, 1, &v, &why), 0);
    assert_false(awaiting);
    assert_int_equal(v.n_added, 1);
    zt__check_reports_free(cr);
}

/* Eight checkers picked, the gateway calls all eight refused (the answers
 * are full): c1's held signed dissent still replaces its refusal. */
static void test_all_refused(void **state)
{
    (void)state;
    static const char *const EIGHT[] = {"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"};
    const int who[] = {C1, C2, C3, C4, C5, C6, C7, C8};
    struct zt__check_reports *cr = NULL;
    assert_int_equal(zt__check_reports_new(&cr), 0);
    int64_t now = zt_time_real_ms();
    for (size_t i = 0; i < 8; i++) expect(cr, EIGHT[i], "job-8", SUBJECT, now);
    assert_int_equal(put(cr, own_report(C1, C1, 9, 0x51, (uint64_t)(now / 1000)), now), 0);
    struct ck cs[8];
    for (size_t i = 0; i < 8; i++) cs[i] = (struct ck){.who = who[i], .refused = true};
    struct zt__verdict v;
    const char *why = NULL;
    /* decided with c1's answer: 7 refusals still outvote the worker, but
     * the signed worker 7 against c1's 9 proves nothing: not settled */
    assert_int_equal(check_picked(report("worker_wrong", ONE, 1, 7, 0, cs, 8), cr, EIGHT, 8, &v, &why), 0);
    assert_int_equal(v.n_added, 1);
    assert_int_equal(v.n_refused, 7);
    assert_int_equal(v.n_checkers, 1);
    assert_string_equal(v.checkers[0], "c1");
    assert_false(v.settle);
    zt__check_reports_free(cr);
}

/* A report still on its way when the verdict comes: the check says so
 * (awaiting, never waiting itself: orch_lease.c defers the verdict's call),
 * and decided again once it came, the dissent is caught. */
static void test_late_report(void **state)
{
    (void)state;
    int64_t now;
    uint64_t now_s;
    struct zt__check_reports *cr = zt_test_fresh_reports(&now, &now_s);
    expect(cr, "c1", "job-l", SUBJECT, now);
    struct zt__verdict v;
    const char *why = NULL;
    struct ck agree2[] = {{.who = C2, .signer = C2, .chain = 7}};
    assert_int_equal(check_held(report("agreed", ONE, 1, 7, 0, agree2, 1), cr, &v, &why), 0);
    assert_true(awaiting); /* c1 picked, its report not held yet */
    assert_int_equal(v.n_added, 0);
    /* c1's dissent arrives after the verdict: decided again, caught */
    assert_int_equal(put(cr, own_report(C1, C1, 9, 0x41, now_s), now), 0);
    assert_int_equal(check_held(report("agreed", ONE, 1, 7, 0, agree2, 1), cr, &v, &why), ZT_EPERM);
    assert_false(awaiting);
    /* a verdict whose worker's checkpoint is of another subject than its
     * checkers were picked for: refused */
    struct zt__verdict_job job = {.worker = "w", .attempts = 1, .ran = RAN, .n_ran = 2, .picked = PICKED,
                                  .n_picked = 3, .key = zt_test_nodes_key, .key_ud = &NODES, .reports = cr,
                                  .subject = OTHER};
    json_t *body = report("agreed", ONE, 1, 7, 0, agree2, 1);
    assert_int_equal(zt__orch_verdict_check(&job, body, &v, &why), ZT_EPERM);
    assert_non_null(strstr(why, "another subject"));
    json_decref(body);
    zt__check_reports_free(cr);
}

/* A gateway repeating one check pick (the same checker, job and subject)
 * refreshes its entry: the flood never evicts another job's pick whose
 * checker has not reported yet (review6 F2). */
static void test_pick_flood(void **state)
{
    (void)state;
    int64_t now;
    uint64_t now_s;
    struct zt__check_reports *cr = zt_test_fresh_reports(&now, &now_s);
    expect(cr, "c1", "job-r", SUBJECT, now);
    for (int i = 0; i < ZT__CHECK_REPORTS_MAX + 8; i++) expect(cr, "c2", "job-f", OTHER, now);
    bool waits = false;
    assert_false(zt__check_reports_for_job(cr, "job-r", &waits));
    assert_true(waits); /* c1's pick survived */
    waits = false;
    assert_false(zt__check_reports_for_job(cr, "job-f", &waits));
    assert_true(waits);
    zt__check_reports_free(cr);
}

/* The worker's signed FINAL checkpoint of SUBJECT (chain 7), raw bytes. */
static size_t worker_ckpt(uint8_t *out)
{
    char ckpt[2 * ZT_CKPT_MAX_LEN + 1], rec[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    evidence(W, SUBJECT, 7, 0, ckpt, rec);
    size_t len = strlen(ckpt) / 2;
    assert_int_equal(zt_hex_decode(out, len, ckpt, strlen(ckpt), ZT_HEX_ANY_CASE), 0);
    return len;
}

static void test_own_verdict(void **state)
{
    (void)state;
    int64_t now;
    uint64_t now_s;
    struct zt__check_reports *cr = zt_test_fresh_reports(&now, &now_s);
    uint8_t wc[ZT_CKPT_MAX_LEN];
    size_t wlen = worker_ckpt(wc);
    const uint8_t *wpk = zt_identity_sign_pk(keys[W]);
    struct zt__verdict v;
    bool aw = false;
    /* nobody picked: unverified, nothing settled */
    assert_int_equal(zt__orch_verdict_own(cr, wc, wlen, wpk, NULL, 0, &v, &aw), 0);
    assert_false(v.settle);
    assert_false(aw);
    /* c1 picked, its report not held yet: awaiting, nothing to settle */
    expect(cr, "c1", "job-o", SUBJECT, now);
    assert_int_equal(zt__orch_verdict_own(cr, wc, wlen, wpk, PICKED, 1, &v, &aw), 0);
    assert_true(aw);
    assert_false(v.settle);
    /* c1 dissents: one against one, undecided */
    assert_int_equal(put(cr, own_report(C1, C1, 9, 0x51, now_s), now), 0);
    assert_int_equal(zt__orch_verdict_own(cr, wc, wlen, wpk, PICKED, 1, &v, &aw), 0);
    assert_false(aw);
    assert_true(v.settle);
    assert_int_equal(v.verdict, ZT_VERDICT_UNDECIDED);
    /* the arbiter c2 dissents too: the worker is convicted, nobody else */
    expect(cr, "c2", "job-o", SUBJECT, now);
    assert_int_equal(put(cr, own_report(C2, C2, 9, 0x52, now_s), now), 0);
    assert_int_equal(zt__orch_verdict_own(cr, wc, wlen, wpk, PICKED, 2, &v, &aw), 0);
    assert_true(v.settle);
    assert_int_equal(v.verdict, ZT_VERDICT_WORKER_WRONG);
    assert_int_equal(v.n_checkers, 2);
    assert_false(v.wrong[0]);
    assert_false(v.wrong[1]);
    /* an honest job: c3's report agrees with the worker: verified */
    expect(cr, "c3", "job-h", OTHER, now);
    struct zt_test_chain c = {.subject = OTHER, .job = 0x61, .chain = 7};
    char ckpt[2 * ZT_CKPT_MAX_LEN + 1], rec[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    assert_int_equal(zt_test_signed_chain(zt_identity_sign_sk(keys[W]), &c, ckpt, rec), 0);
    uint8_t hc[ZT_CKPT_MAX_LEN];
    size_t hlen = strlen(ckpt) / 2;
    assert_int_equal(zt_hex_decode(hc, hlen, ckpt, strlen(ckpt), ZT_HEX_ANY_CASE), 0);
    assert_int_equal(put(cr, report_of_subject(C3, C3, 7, 0x62, now_s, OTHER), now), 0);
    const char *const c3[] = {"c3"};
    assert_int_equal(zt__orch_verdict_own(cr, hc, hlen, wpk, c3, 1, &v, &aw), 0);
    assert_true(v.settle);
    assert_int_equal(v.verdict, ZT_VERDICT_AGREED);
    assert_string_equal(v.checkers[0], "c3");
    /* (c3 was picked for OTHER only: not counted on SUBJECT's job) */
    assert_int_equal(zt__orch_verdict_own(cr, wc, wlen, wpk, c3, 1, &v, &aw), 0);
    assert_false(v.settle);
    /* the worker's checkpoint under another key than the registry's */
    assert_int_equal(zt__orch_verdict_own(cr, wc, wlen, zt_identity_sign_pk(keys[EVE]), PICKED, 2, &v, &aw),
                     ZT_EINVAL);
    zt__check_reports_free(cr);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    if (zt_test_nodes_generate(&NODES) != 0) return 1;
    memset(SUBJECT, 0x5b, sizeof SUBJECT);
    memset(OTHER, 0x6c, sizeof OTHER);
    memset(THIRD, 0x7d, sizeof THIRD);
    memset(FOURTH, 0x8e, sizeof FOURTH);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_honest), cmocka_unit_test(test_lies),
                                       cmocka_unit_test(test_refusals), cmocka_unit_test(test_malformed_and_rule),
                                       cmocka_unit_test(test_check_reports), cmocka_unit_test(test_all_refused), cmocka_unit_test(test_failed_pick),
                                       cmocka_unit_test(test_subject_match),
                                       cmocka_unit_test(test_late_report), cmocka_unit_test(test_own_verdict),
                                       cmocka_unit_test(test_pick_flood)};
    int rc = cmocka_run_group_tests_name("orch_verdict", tests, NULL, NULL);
    json_decref(last);
    zt_test_nodes_free(&NODES);
    return zt_test_exit(rc);
}
