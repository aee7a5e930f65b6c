/* test_orch_evidence.c: a verdict's evidence (a worker receipt's sealed-job
 * id) is used once across an orchestrator restart and between two
 * orchestrators on one store (src/orchestrator/evidence.c,
 * orch_verdict.h zt__evidence_*), on SQLite and on a real PostgreSQL:
 *
 *  - evidence used (settled) before a restart is refused after it, also
 *    when the set in memory is fresh, until its expiry; past its expiry
 *    its row is claimed again;
 *  - evidence given back (a settlement that failed) is taken again, after
 *    a restart too (its row was deleted);
 *  - evidence pending when the orchestrator died is "pending" (retry) for
 *    the claim's deadline (30 s), then claimed over: the settlement commits
 *    with marking it used (zt__evidence_commit), so a claim still pending
 *    was not settled (it was refused before; the settlement itself, with a
 *    crash, in test_orch_settle_once);
 *  - a second orchestrator on the same store is told "pending" (retry)
 *    while the first settles, and refuses what the first used; what the
 *    first gave back it takes (review8 F11: it answered "used" before);
 *  - the table is the store owner "orch_evidence", version 3 (a versioned
 *    migration, as the orchestrator's other tables). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../src/orchestrator/orch_verdict.h"
#include "orch_test.h"
#include "zentalk/zt_log.h"

#define HOUR 3600000

static void id_of(uint8_t n, uint8_t id[static ZT__ONCE_ID_LEN])
{
    memset(id, 0x5a, ZT__ONCE_ID_LEN);
    id[0] = n;
}

/* One orchestrator's store, registry and evidence set. */
struct orch {
    struct zt_store *st;
    struct zt_registry *r;
    struct zt__evidence *e;
};

static void orch_start(struct orch *o)
{
    o->st = store_open();
    struct zt_registry_opts ro = reg_opts();
    assert_int_equal(zt_registry_open(o->st, &ro, T0, &o->r), 0);
    assert_int_equal(zt__evidence_open(o->r, 1000, &o->e), 0);
}

static void orch_stop(struct orch *o)
{
    zt__evidence_free(o->e);
    zt_registry_free(o->r);
    zt_store_close(o->st);
    memset(o, 0, sizeof *o);
}

static enum zt__once_rc take(struct orch *o, uint8_t n, int64_t until, int64_t now)
{
    uint8_t id[ZT__ONCE_ID_LEN];
    id_of(n, id);
    return zt__evidence_take(o->e, id, until, now);
}

/* The claims' deadlines are on the store's clock (review10 F5): a take's
 * now is the evidence's expiry only; this moves o's store clock (the
 * test seam) to cross a 30 s deadline without sleeping. */
static void shift(struct orch *o, int64_t ms)
{
    zt_store_clock_shift(o->st, ms);
}

static void settle(struct orch *o, uint8_t n, bool used)
{
    uint8_t id[ZT__ONCE_ID_LEN];
    id_of(n, id);
    zt__evidence_settle(o->e, id, used);
}

static void test_restart(void **state)
{
    (void)state;
    struct orch a;
    orch_start(&a);
    int v = 0;
    assert_int_equal(zt_store_owner_version(a.st, "orch_evidence", &v), 0);
    assert_int_equal(v, 4); /* 4: the settlement outbox */
    /* 1 used; 2 given back; 3 used with a short expiry; 4 pending at the crash */
    assert_int_equal(take(&a, 1, T0 + HOUR, T0), ZT__ONCE_TAKEN);
    assert_int_equal(take(&a, 1, T0 + HOUR, T0), ZT__ONCE_PENDING);
    settle(&a, 1, true);
    assert_int_equal(take(&a, 1, T0 + HOUR, T0), ZT__ONCE_USED);
    assert_int_equal(take(&a, 2, T0 + HOUR, T0), ZT__ONCE_TAKEN);
    settle(&a, 2, false);
    assert_int_equal(take(&a, 3, T0 + 1000, T0), ZT__ONCE_TAKEN);
    settle(&a, 3, true);
    assert_int_equal(take(&a, 4, T0 + HOUR, T0), ZT__ONCE_TAKEN);
    orch_stop(&a); /* restarted: nothing in memory */
    orch_start(&a);
    /* the evidence used before is refused (it was accepted before this fix) */
    assert_int_equal(take(&a, 1, T0 + HOUR, T0 + 10), ZT__ONCE_USED);
    assert_int_equal(take(&a, 1, T0 + HOUR, T0 + HOUR), ZT__ONCE_USED); /* through its expiry ms */
    assert_int_equal(take(&a, 4, T0 + HOUR, T0 + 10), ZT__ONCE_PENDING); /* its settlement may be running */
    shift(&a, 20000);
    assert_int_equal(take(&a, 4, T0 + HOUR, T0 + 30000), ZT__ONCE_PENDING);
    /* its claimer died before its settlement committed: not settled, claimed over */
    shift(&a, 31000);
    assert_int_equal(take(&a, 4, T0 + HOUR, T0 + 30001), ZT__ONCE_TAKEN);
    settle(&a, 4, true);
    assert_int_equal(take(&a, 4, T0 + HOUR, T0 + 30002), ZT__ONCE_USED);
    /* given back: taken again */
    assert_int_equal(take(&a, 2, T0 + HOUR, T0 + 10), ZT__ONCE_TAKEN);
    settle(&a, 2, true);
    /* refused until its expiry, claimed again past it */
    assert_int_equal(take(&a, 3, T0 + 2000, T0 + 1000), ZT__ONCE_USED);
    orch_stop(&a);
    orch_start(&a);
    assert_int_equal(take(&a, 3, T0 + HOUR, T0 + 1001), ZT__ONCE_TAKEN);
    settle(&a, 3, true);
    assert_int_equal(take(&a, 2, T0 + HOUR, T0 + 20), ZT__ONCE_USED);
    orch_stop(&a);
}

/* A second orchestrator on the same store (the shared PostgreSQL store, or
 * one SQLite file) while the first runs. */
static void test_two_orchestrators(void **state)
{
    (void)state;
    struct orch a, b;
    orch_start(&a);
    orch_start(&b);
    assert_int_equal(take(&a, 7, T0 + HOUR, T0), ZT__ONCE_TAKEN);
    assert_int_equal(take(&b, 7, T0 + HOUR, T0), ZT__ONCE_PENDING); /* pending there: retry, not taken */
    settle(&a, 7, true);
    assert_int_equal(take(&b, 7, T0 + HOUR, T0 + 5), ZT__ONCE_USED);
    assert_int_equal(take(&b, 7, T0 + HOUR, T0 + 40000), ZT__ONCE_USED); /* used: past the pending deadline too */
    /* pending at a, given back: b takes it then */
    assert_int_equal(take(&a, 9, T0 + HOUR, T0), ZT__ONCE_TAKEN);
    assert_int_equal(take(&b, 9, T0 + HOUR, T0 + 1), ZT__ONCE_PENDING);
    settle(&a, 9, false);
    assert_int_equal(take(&b, 9, T0 + HOUR, T0 + 2), ZT__ONCE_TAKEN);
    settle(&b, 9, true);
    assert_int_equal(take(&a, 9, T0 + HOUR, T0 + 3), ZT__ONCE_USED);
    assert_int_equal(take(&b, 8, T0 + HOUR, T0), ZT__ONCE_TAKEN);
    settle(&b, 8, false);
    assert_int_equal(take(&a, 8, T0 + HOUR, T0), ZT__ONCE_TAKEN);
    settle(&a, 8, true);
    /* a claim of a past its deadline (a too slow): b claims it over; a's
     * late mark is not its own row any more (a settlement's transaction
     * then rolls back: test_orch_settle_once) and b's stands */
    assert_int_equal(take(&a, 10, T0 + HOUR, T0), ZT__ONCE_TAKEN);
    shift(&b, 20000);
    assert_int_equal(take(&b, 10, T0 + HOUR, T0 + 30000), ZT__ONCE_PENDING);
    shift(&b, 31000);
    assert_int_equal(take(&b, 10, T0 + HOUR, T0 + 30001), ZT__ONCE_TAKEN);
    settle(&a, 10, false); /* a's give-back deletes nothing of b's */
    assert_int_equal(take(&a, 10, T0 + HOUR, T0 + 30002), ZT__ONCE_PENDING);
    settle(&b, 10, true);
    assert_int_equal(take(&a, 10, T0 + HOUR, T0 + 30003), ZT__ONCE_USED);
    orch_stop(&b);
    orch_stop(&a);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, orch_setup, orch_teardown)
    const struct CMUnitTest tests[] = {T(test_restart), T(test_two_orchestrators)};
    int failures = cmocka_run_group_tests_name("orch_evidence_sqlite", tests, NULL, NULL);
#define P(f) cmocka_unit_test_setup_teardown(f, orch_setup_pg, orch_teardown)
    const struct CMUnitTest pg_tests[] = {P(test_restart), P(test_two_orchestrators)};
    failures += zt_test_pg_run("orch_evidence_postgres", pg_tests);
    return zt_test_exit(failures);
}
