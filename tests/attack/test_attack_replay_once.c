/* test_attack_replay_once.c: "each receipt accepted once" must hold for as
 * long as the receipt can be replayed, not only while it is among the
 * last N seen (review6 F10), and a flood of check picks must not evict
 * another gateway's (review6 F2). Against the orchestrator's check
 * reports (src/orchestrator/orch_verdict.c) and the set both they and the
 * lease table's verdict evidence use (src/orchestrator/once.c):
 *
 *  - a checker's report is kept; 1,100 other reports follow (more than the
 *    1,024-entry ring that held receipt ids before), with the picks of
 *    each finished job forgotten as a lease end does; then the first
 *    report, replayed under a fresh pick of the same checker for the same
 *    subject, is refused as a replay (ZT_EEXIST), while a fresh report of
 *    the same check is taken; once the replayed receipt is past the
 *    window in which any pick could take it, it is refused by its age;
 *  - the verdict-evidence set as the lease table uses it: one id, then
 *    5,000 others (more than the 4,096-entry ring before), then the first
 *    again: refused; an id taken pending (a settlement in flight) answers
 *    PENDING to a second taker and, given back after a failed
 *    settlement, can be taken again; a full set refuses new ids and
 *    forgets none; an id is dropped only after its expiry;
 *  - picks: a gateway that opens as many picks as its share allows gets
 *    ZT_ETOOBIG for the next one, others' picks stay (their reports are
 *    still taken), and another gateway can still pick; an ended lease's
 *    pick no longer counts against its gateway's share;
 *  - review7 F4: eight gateway identities each open their whole share,
 *    twice what the table held before (four filled it and every other
 *    gateway got ZT_EBUSY): an honest gateway's checkers are still picked
 *    and their reports taken, nothing evicted;
 *  - review7 F12: the set at its bound, with ids expiring one by one,
 *    makes room for exactly one new id each time (amortised work, no
 *    rebuild per take) and forgets no live id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "../../src/orchestrator/orch_verdict.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"
#include "zt_test_chain.h"
#include "zt_test_verdict.h"

enum { C1, C2, C3, N_NODES };
static const char *const IDS[N_NODES] = {"c1", "c2", "c3"};
static struct zt_identity *keys[N_NODES];
static uint8_t SUBJECT[32], OTHER[32];

static struct zt_test_nodes NODES = {IDS, keys, N_NODES};

/* who's signed report of subject, receipt id n (big-endian in the first
 * bytes of the sealed-job id), finished at unix s. */
static json_t *report(int who, const uint8_t *subject, uint32_t n, uint64_t finished)
{
    uint8_t env_id[16];
    memset(env_id, 0xa5, sizeof env_id);
    env_id[0] = (uint8_t)(n >> 24);
    env_id[1] = (uint8_t)(n >> 16);
    env_id[2] = (uint8_t)(n >> 8);
    env_id[3] = (uint8_t)n;
    env_id[4] = (uint8_t)who;
    char ckpt[2 * ZT_CKPT_MAX_LEN + 1], rec[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    struct zt_test_chain c = {.subject = subject, .job_id = env_id, .chain = 9, .finished = finished};
    assert_int_equal(zt_test_signed_chain(zt_identity_sign_sk(keys[who]), &c, ckpt, rec), 0);
    return json_pack("{s:s,s:s,s:s}", "node_id", IDS[who], "checkpoint", ckpt, "receipt", rec);
}

static int put(struct zt__check_reports *cr, json_t *body, int64_t now_ms, const char **why)
{
    return zt__check_reports_put(cr, zt_test_nodes_key, &NODES, body, now_ms, NULL, why);
}

static void test_report_receipt_replay(void **state)
{
    (void)state;
    int64_t now;
    uint64_t now_s;
    struct zt__check_reports *cr = zt_test_fresh_reports(&now, &now_s);
    const char *why = NULL;
    /* c1 checks job-0 and reports (receipt 0): kept */
    assert_int_equal(zt__check_reports_expect(cr, "gw-a", "c1", "job-0", SUBJECT, now), 0);
    json_t *first = report(C1, SUBJECT, 0, now_s);
    assert_int_equal(put(cr, first, now, &why), 0);
    zt__check_reports_forget(cr, "job-0"); /* its lease ended */
    /* 1,100 other reports of c2's checks, four per job, each job's picks
     * forgotten when it is done (a lease ending) */
    for (uint32_t i = 0; i < 1100; i++) {
        char job[32];
        snprintf(job, sizeof job, "job-f%u", i / 4);
        if (i % 4 == 0) assert_int_equal(zt__check_reports_expect(cr, "gw-b", "c2", job, OTHER, now), 0);
        json_t *b = report(C2, OTHER, 1 + i, now_s);
        assert_int_equal(put(cr, b, now, &why), 0);
        json_decref(b);
        if (i % 4 == 3) zt__check_reports_forget(cr, job);
    }
    /* c1 picked again for the same subject (another job): the first
     * report replayed is refused, a fresh one of the check is taken */
    assert_int_equal(zt__check_reports_expect(cr, "gw-a", "c1", "job-z", SUBJECT, now), 0);
    assert_int_equal(put(cr, first, now, &why), ZT_EEXIST);
    assert_non_null(strstr(why, "already reported"));
    json_t *fresh = report(C1, SUBJECT, 5000, now_s);
    assert_int_equal(put(cr, fresh, now, &why), 0);
    json_decref(fresh);
    /* still a replay at the end of the window in which a pick made then
     * could take it... */
    int64_t later = now + ZT__CHECK_REPORT_WINDOW_MS;
    assert_int_equal(zt__check_reports_expect(cr, "gw-a", "c1", "job-y", SUBJECT, now + 1000), 0);
    assert_int_equal(put(cr, first, later, &why), ZT_EEXIST);
    /* ...and past it no pick can take it: refused by its age */
    int64_t past = now + ZT__CHECK_REPORT_WINDOW_MS + ZT__CHECK_REPORT_SKEW_MS + 1000;
    assert_int_equal(zt__check_reports_expect(cr, "gw-a", "c1", "job-x", SUBJECT, past), 0);
    assert_int_equal(put(cr, first, past, &why), ZT_EPERM);
    /* a receipt dated past the clock skew could outlive its entry: refused */
    json_t *future = report(C1, SUBJECT, 6000, now_s + 3600);
    assert_int_equal(put(cr, future, now, &why), ZT_EPERM);
    assert_non_null(strstr(why, "future"));
    json_decref(future);
    json_decref(first);
    zt__check_reports_free(cr);
}

static void id_of(uint32_t n, uint8_t id[static 16])
{
    memset(id, 0x3c, 16);
    id[12] = (uint8_t)(n >> 24);
    id[13] = (uint8_t)(n >> 16);
    id[14] = (uint8_t)(n >> 8);
    id[15] = (uint8_t)n;
}

static void test_evidence_set(void **state)
{
    (void)state;
    struct zt__once *o = NULL;
    assert_int_equal(zt__once_new(65536, &o), 0);
    int64_t now = zt_time_real_ms(), hour = 3600000;
    uint8_t id[16], first[16];
    id_of(0, first);
    /* a verdict's evidence, settled: used */
    assert_int_equal(zt__once_take(o, first, now + hour, now, true), ZT__ONCE_TAKEN);
    zt__once_settle(o, first, true);
    /* 5,000 other verdicts */
    for (uint32_t i = 1; i <= 5000; i++) {
        id_of(i, id);
        assert_int_equal(zt__once_take(o, id, now + hour, now, true), ZT__ONCE_TAKEN);
        zt__once_settle(o, id, true);
    }
    assert_int_equal(zt__once_count(o, now), 5001);
    /* the first again, an hour less a second later: refused */
    assert_int_equal(zt__once_take(o, first, now + 2 * hour, now + hour - 1000, true), ZT__ONCE_USED);
    /* pending: a second taker is told so, not "used"; given back after
     * a failed settlement it is taken again */
    id_of(9000, id);
    assert_int_equal(zt__once_take(o, id, now + hour, now, true), ZT__ONCE_TAKEN);
    assert_int_equal(zt__once_take(o, id, now + hour, now, true), ZT__ONCE_PENDING);
    zt__once_settle(o, id, false);
    assert_false(zt__once_seen(o, id, now));
    assert_int_equal(zt__once_take(o, id, now + hour, now, true), ZT__ONCE_TAKEN);
    zt__once_settle(o, id, true);
    assert_int_equal(zt__once_take(o, id, now + hour, now, true), ZT__ONCE_USED);
    /* past its expiry an id goes (the lease table refuses its receipt by
     * age by then) */
    assert_false(zt__once_seen(o, first, now + hour + 1));
    /* an id is held through its expiry ms itself: taken at the last moment
     * it could be accepted, it is not accepted again in that ms (review7 F10) */
    id_of(9001, id);
    assert_int_equal(zt__once_take(o, id, now, now, false), ZT__ONCE_TAKEN);
    assert_int_equal(zt__once_take(o, id, now, now, false), ZT__ONCE_USED);
    assert_false(zt__once_seen(o, id, now + 1));
    zt__once_free(o);

    /* a full set refuses new ids and forgets none */
    assert_int_equal(zt__once_new(3000, &o), 0);
    for (uint32_t i = 0; i < 3000; i++) {
        id_of(i, id);
        assert_int_equal(zt__once_take(o, id, now + hour, now, false), ZT__ONCE_TAKEN);
    }
    id_of(3000, id);
    assert_int_equal(zt__once_take(o, id, now + hour, now, false), ZT__ONCE_FULL);
    for (uint32_t i = 0; i < 3000; i++) {
        id_of(i, id);
        assert_true(zt__once_seen(o, id, now));
    }
    /* once they expire (past their expiry ms) there is room again */
    id_of(3000, id);
    assert_int_equal(zt__once_take(o, id, now + 2 * hour, now + hour + 1, false), ZT__ONCE_TAKEN);
    assert_int_equal(zt__once_count(o, now + hour + 1), 1);
    zt__once_free(o);
}

static void test_pick_shares(void **state)
{
    (void)state;
    int64_t now;
    uint64_t now_s;
    struct zt__check_reports *cr = zt_test_fresh_reports(&now, &now_s);
    const char *why = NULL;
    /* gateway A's checker c1 is picked; the stranger S opens its share */
    assert_int_equal(zt__check_reports_expect(cr, "gw-a", "c1", "job-a", SUBJECT, now), 0);
    char job[32];
    for (int i = 0; i < ZT__CHECK_PICKS_PER_GATEWAY; i++) {
        snprintf(job, sizeof job, "job-s%d", i);
        assert_int_equal(zt__check_reports_expect(cr, "gw-s", "c2", job, OTHER, now), 0);
    }
    assert_int_equal(zt__check_reports_expect(cr, "gw-s", "c2", "job-s-more", OTHER, now), ZT_ETOOBIG);
    assert_int_equal(zt__check_reports_picks(cr, "gw-s", now), ZT__CHECK_PICKS_PER_GATEWAY);
    /* A's pick is still there: c1's report is taken, and it was awaited */
    bool waits = false;
    assert_false(zt__check_reports_for_job(cr, "job-a", &waits));
    assert_true(waits);
    json_t *b = report(C1, SUBJECT, 1, now_s);
    assert_int_equal(put(cr, b, now, &why), 0);
    json_decref(b);
    /* a lease that ends: its picks no longer count against the share */
    zt__check_reports_forget(cr, "job-s0");
    assert_int_equal(zt__check_reports_picks(cr, "gw-s", now), ZT__CHECK_PICKS_PER_GATEWAY - 1);
    assert_int_equal(zt__check_reports_expect(cr, "gw-s", "c2", "job-s-more", OTHER, now), 0);
    /* and the window frees the rest */
    int64_t later = now + ZT__CHECK_REPORT_WINDOW_MS + 1;
    assert_int_equal(zt__check_reports_picks(cr, NULL, later), 0);
    assert_int_equal(zt__check_reports_expect(cr, "gw-s", "c2", "job-s-later", OTHER, later), 0);
    zt__check_reports_free(cr);
}

/* review7 F4: a few gateway identities (self-signed descriptors cost
 * nothing) each open their whole share of picks, twice what the table
 * held before (4 x 1,024 filled it, and every other gateway got 429
 * check_picks_full for the window): an honest gateway that comes after
 * still has its checker picked, and that checker's report is taken;
 * nothing of the flood or of the honest gateway was evicted. The table
 * holds every pick the open leases can have (orch_verdict.h). */
static void test_pick_identity_flood(void **state)
{
    (void)state;
    int64_t now;
    uint64_t now_s;
    struct zt__check_reports *cr = zt_test_fresh_reports(&now, &now_s);
    const char *why = NULL;
    enum { GATEWAYS = 8 };
    _Static_assert(GATEWAYS * ZT__CHECK_PICKS_PER_GATEWAY >= 2 * 4096, "past the old table");
    /* the honest gateway's first check, then the flood */
    assert_int_equal(zt__check_reports_expect(cr, "gw-honest", "c1", "job-h0", SUBJECT, now), 0);
    char gw[16], job[48];
    for (int g = 0; g < GATEWAYS; g++) {
        snprintf(gw, sizeof gw, "gw-sybil-%d", g);
        for (int i = 0; i < ZT__CHECK_PICKS_PER_GATEWAY; i++) {
            /* 16 checkers per job, as a lease may have */
            snprintf(job, sizeof job, "job-%d-%d", g, i / ZT__VERDICT_NODES_MAX);
            char node[16];
            snprintf(node, sizeof node, "x%d", i % ZT__VERDICT_NODES_MAX);
            assert_int_equal(zt__check_reports_expect(cr, gw, node, job, OTHER, now), 0);
        }
        assert_int_equal(zt__check_reports_expect(cr, gw, "x0", "job-more", OTHER, now), ZT_ETOOBIG);
    }
    assert_int_equal(zt__check_reports_picks(cr, NULL, now), 1 + GATEWAYS * ZT__CHECK_PICKS_PER_GATEWAY);
    /* the honest gateway's next checks are picked (before: ZT_EBUSY) */
    assert_int_equal(zt__check_reports_expect(cr, "gw-honest", "c1", "job-h1", SUBJECT, now), 0);
    assert_int_equal(zt__check_reports_expect(cr, "gw-new", "c3", "job-n1", OTHER, now), 0);
    /* and its checkers' reports are taken, credited to its jobs */
    json_t *b = report(C1, SUBJECT, 1, now_s);
    assert_int_equal(put(cr, b, now, &why), 0);
    json_decref(b);
    b = report(C1, SUBJECT, 2, now_s);
    assert_int_equal(put(cr, b, now, &why), 0);
    json_decref(b);
    assert_true(zt__check_reports_for_job(cr, "job-h0", NULL));
    assert_true(zt__check_reports_for_job(cr, "job-h1", NULL));
    /* nothing of the flood was evicted either */
    for (int g = 0; g < GATEWAYS; g++) {
        snprintf(gw, sizeof gw, "gw-sybil-%d", g);
        assert_int_equal(zt__check_reports_picks(cr, gw, now), ZT__CHECK_PICKS_PER_GATEWAY);
    }
    zt__check_reports_free(cr);
}

/* review7 F12: at its bound the set stays exact with amortised work: ids
 * expiring one by one each make room for exactly one more, a given-back
 * pending id makes room, a full set refuses and forgets none; many rounds
 * of that churn at the bound keep every live id. */
static void test_once_bound(void **state)
{
    (void)state;
    enum { MAX = 2000, ROUNDS = 20000 };
    struct zt__once *o = NULL;
    assert_int_equal(zt__once_new(MAX, &o), 0);
    int64_t now = zt_time_real_ms();
    uint8_t id[16];
    /* MAX ids, id i alive through now + i */
    for (uint32_t i = 0; i < MAX; i++) {
        id_of(i, id);
        assert_int_equal(zt__once_take(o, id, now + i, now, false), ZT__ONCE_TAKEN);
    }
    id_of(MAX, id);
    assert_int_equal(zt__once_take(o, id, now + MAX, now, false), ZT__ONCE_FULL);
    /* at now + t, ids 0..t-1 are gone and each new id lives MAX ms: room
     * for one new id per ms, never two */
    uint32_t next = MAX;
    for (uint32_t t = 1; t <= ROUNDS; t++) {
        int64_t at = now + t;
        id_of(next, id);
        assert_int_equal(zt__once_take(o, id, at + MAX - 1, at, false), ZT__ONCE_TAKEN);
        next++;
        id_of(next, id);
        assert_int_equal(zt__once_take(o, id, at + MAX - 1, at, false), ZT__ONCE_FULL);
        if (t % 997 == 0) { /* now and then: exactly MAX alive, the newest among them */
            assert_int_equal(zt__once_count(o, at), MAX);
            id_of(t - 1 + MAX, id); /* taken at t - 1, alive */
            assert_true(zt__once_seen(o, id, at));
        }
    }
    /* every id taken in the last MAX ms is still there; older ones are gone */
    int64_t end = now + ROUNDS;
    for (uint32_t i = next - MAX; i < next; i++) {
        id_of(i, id);
        assert_true(zt__once_seen(o, id, end));
        assert_int_equal(zt__once_take(o, id, end + MAX, end, false), ZT__ONCE_USED);
    }
    id_of(next - MAX - 1, id);
    assert_false(zt__once_seen(o, id, end));
    /* a pending id given back frees its place */
    zt__once_free(o);
    assert_int_equal(zt__once_new(2, &o), 0);
    id_of(1, id);
    assert_int_equal(zt__once_take(o, id, now + 10, now, true), ZT__ONCE_TAKEN);
    id_of(2, id);
    assert_int_equal(zt__once_take(o, id, now + 10, now, false), ZT__ONCE_TAKEN);
    id_of(3, id);
    assert_int_equal(zt__once_take(o, id, now + 10, now, false), ZT__ONCE_FULL);
    id_of(1, id);
    zt__once_settle(o, id, false);
    id_of(3, id);
    assert_int_equal(zt__once_take(o, id, now + 10, now, false), ZT__ONCE_TAKEN);
    id_of(1, id);
    assert_int_equal(zt__once_take(o, id, now + 10, now, false), ZT__ONCE_FULL);
    zt__once_free(o);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    if (zt_test_nodes_generate(&NODES) != 0) return 1;
    randombytes_buf(SUBJECT, sizeof SUBJECT);
    randombytes_buf(OTHER, sizeof OTHER);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_report_receipt_replay),
                                       cmocka_unit_test(test_evidence_set), cmocka_unit_test(test_pick_shares),
                                       cmocka_unit_test(test_pick_identity_flood), cmocka_unit_test(test_once_bound)};
    int rc = cmocka_run_group_tests_name("attack_replay_once", tests, NULL, NULL);
    zt_test_nodes_free(&NODES);
    return zt_test_exit(rc);
}
