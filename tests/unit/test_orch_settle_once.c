/* test_orch_settle_once.c: a verdict's settlement and its evidence claim
 * commit together (review8 F11, the crash half; orch_verdict.h
 * zt__verifier_settle_evidence, zt__evidence_commit), on a SQLite file and
 * on a real PostgreSQL, with the node's ledger (its own SQLite file, as a
 * separate store handle) wired to the verifier's hook as node.c does:
 *
 *  - an orchestrator process killed (fork, SIGKILL) after it claimed the
 *    evidence and before its settlement: the claim is "pending" (503
 *    evidence_busy) until its deadline, then a second orchestrator on the
 *    same store takes it over and settles: the worker slashed once, the
 *    honest checker paid once, the job failed, the reputations charged
 *    once; a replay after that is refused. Before, the pending row read as
 *    used past its deadline and the retry was refused (the job stayed
 *    unsettled);
 *  - the same, killed after the commit and before the ledger's hook, or
 *    inside it after the ledger's writes (the hook runs after the
 *    commit, review10 F2): settled, the evidence used, the settlement
 *    outbox's row left; no sweep runs it while its lease is live, and
 *    after a restart past the lease the sweeper pays exactly once (a
 *    second run of the hook pays nothing: the ledger's job-id keys);
 *  - two sweepers (two orchestrators, two threads) racing for that row:
 *    run once, paid once;
 *  - an orchestrator whose own clock is ahead does not take a live claim
 *    over: the deadline is on the store's clock (review10 F5);
 *  - a settlement's conflict retries leave the registry's lock free
 *    during their back-off (review10 F6);
 *  - a verdict that does not commit (its claim taken over by another
 *    orchestrator's different verdict) pays nothing in the ledger;
 *  - a settlement that runs past its claim's deadline while another
 *    orchestrator takes it over and settles: the late one's transaction
 *    rolls back (ZT_EEXIST), nothing charged twice, in the store or in its
 *    registry's memory;
 *  - the in-process gateway's verdict (an embedded gateway and
 *    orchestrator, zt__verifier_settle_local, no evidence claim) killed
 *    after its commit, before or inside the ledger's hook: its outbox row
 *    left, the sweeper after a restart pays exactly once. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "zt_test.h"

#include "../../src/orchestrator/orch_verdict.h"
#include "orch_test.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_verifier.h"

#define HOUR 3600000
#define TOKEN ((zt_u128)1000000000000000000u)
#define USER "0x00000000000000000000000000000000000000cc"
#define T1 (T0 + 10000) /* the verdict's time (the job ran at T0 + 1000) */

static const char *const M1[] = {"tiny-chat", NULL};

static void rm_ledger(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t j = 0; j < sizeof suffix / sizeof suffix[0]; j++) {
        char p[400];
        snprintf(p, sizeof p, "%s/ledger.db%s", dir, suffix[j]);
        unlink(p);
    }
    char pd[400];
    snprintf(pd, sizeof pd, "%s/payouts", dir);
    rmdir(pd);
}

static int teardown(void **state)
{
    rm_ledger();
    return orch_teardown(state);
}

/* One orchestrator: its store, registry, scheduler, verifier and evidence
 * set, and the node's ledger. Opened without cmocka's asserts (a forked
 * child uses it too): 0 or the step that failed. */
struct orch {
    struct zt_store *st;
    struct zt_registry *r;
    struct zt_sched *s;
    struct zt_verifier *v;
    struct zt__evidence *e;
    struct zt_chain *c;
};

static bool kill_in_hook;     /* the child: die inside the ledger's hook, after the ledger's writes */
static bool kill_before_hook; /* the child: die after the commit, before the ledger's writes */

/* test_uncommitted_verdict_pays_nothing: what runs inside the first
 * verdict's ledger hook (another orchestrator's takeover), once */
static void (*in_hook)(void);

/* node.c's adapter: the verifier's hook to the ledger */
static int chain_verified(void *ud, const char *job_id, enum zt_verify_verdict verdict, const char *worker,
                          const char *const *honest, size_t n_honest)
{
    if (kill_before_hook) raise(SIGKILL);
    int rc = zt_chain_verified(ud, job_id, worker, verdict == ZT_VERDICT_WORKER_WRONG, honest, n_honest);
    if (kill_in_hook) raise(SIGKILL);
    void (*f)(void) = in_hook;
    in_hook = NULL;
    if (f) f();
    return rc;
}

static struct zt_chain *chain_open(void)
{
    const char *const kv[][2] = {
        {"database.sqlite_path", "ledger.db"},
        {"chain.enabled", "true"},
        {"chain.min_stake", "100"},
        {"chain.slash_amount", "10"},
        {"chain.dispute_window_s", "0"},
        {"chain.min_payout", "0.000000000000000001"},
        {"chain.price_prompt_per_1k", "0.000000000000001"},
        {"chain.price_completion_per_1k", "0.000000000000002"},
        {"chain.orchestrator_fee_bps", "1000"},
        {"chain.verification_bonus", "0.000000000000000005"}, /* 5 base units */
    };
    struct zt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct zt_chain *c = NULL;
    int rc = zt_config_init_defaults(&cfg);
    if (!rc) rc = zt_config_set(&cfg, "node.data_dir", dir, "test", NULL);
    for (size_t i = 0; !rc && i < sizeof kv / sizeof kv[0]; i++) rc = zt_config_set(&cfg, kv[i][0], kv[i][1], "test", NULL);
    if (!rc) rc = zt_chain_open(&cfg, &c, NULL);
    zt_config_deinit(&cfg);
    return rc ? NULL : c;
}

static int orch_open(struct orch *o)
{
    memset(o, 0, sizeof *o);
    struct zt_store_opts so = {.path = pg_db[0] ? pg_db : dbpath, .busy_timeout_ms = 1000};
    if (zt_store_open(pg_db[0] ? "postgres" : "sqlite", &so, &o->st)) return 1;
    struct zt_registry_opts ro = reg_opts();
    if (zt_registry_open(o->st, &ro, T0, &o->r)) return 2;
    if (zt_sched_open(o->r, NULL, T0, &o->s)) return 3;
    if (zt_verifier_new(o->r, NULL, NULL, &o->v)) return 4;
    if (zt__evidence_open(o->r, 1000, &o->e)) return 5;
    if (!(o->c = chain_open())) return 6;
    zt_sched_set_admit(o->s, zt_chain_stake_admit, o->c);
    zt_verifier_set_on_settled(o->v, chain_verified, o->c); /* as node.c: the verifier's hook alone */
    return 0;
}

static void orch_close(struct orch *o)
{
    zt__evidence_free(o->e);
    zt_verifier_free(o->v);
    zt_sched_free(o->s);
    zt_registry_free(o->r);
    zt_store_close(o->st);
    zt_chain_free(o->c);
    memset(o, 0, sizeof *o);
}

static zt_u128 balance(struct zt_chain *c, enum zt_ledger_kind kind, const char *owner)
{
    zt_u128 v = 0;
    assert_int_equal(zt_chain_balance(c, kind, owner, &v), 0);
    return v;
}

static void audit_ok(struct zt_chain *c)
{
    char why[256] = "";
    struct zt_ledger *l = zt_chain_lock(c);
    int rc = zt_ledger_audit(l, why, sizeof why);
    zt_chain_unlock(c);
    if (rc) fail_msg("audit: %s", why);
}

/* The evidence id of the job's worker receipt. */
static void evidence_id(uint8_t id[static ZT__ONCE_ID_LEN])
{
    memset(id, 0x6b, ZT__ONCE_ID_LEN);
}

/* The network: workers a (staked, runs the job) and b (the checker); a
 * paid job run by a and finished (done), its id in job. */
struct net {
    struct worker a, b;
    const char *ida, *idb;
    char job[ZT_JOB_ID_SIZE];
};

static void net_start(struct orch *o, struct net *n)
{
    assert_int_equal(orch_open(o), 0);
    worker_init(&n->a, M1, 1, 4, 100);
    worker_init(&n->b, M1, 2, 4, 100);
    n->ida = zt_identity_id(n->a.id);
    n->idb = zt_identity_id(n->b.id);
    assert_int_equal(do_join(o->r, &n->a, T0), 0);
    assert_int_equal(do_join(o->r, &n->b, T0), 0);
    struct zt_ledger *l = zt_chain_lock(o->c);
    assert_int_equal(zt_ledger_stake_deposit(l, "a-1", n->ida, 150 * TOKEN, NULL), 0);
    zt_chain_unlock(o->c);
    struct zt_job_req q = {.client = "alice", .model = "tiny-chat", .ctx_tokens = 10, .max_tokens = 16};
    struct zt_sched_result res;
    assert_int_equal(zt_sched_submit(o->s, &q, T0 + 1000, &res), 0);
    assert_int_equal(res.state, ZT_JOB_STATE_ASSIGNED);
    assert_string_equal(res.worker, n->ida);
    zt_strlcpy(n->job, res.job_id, sizeof n->job);
    assert_int_equal(zt_chain_deposit(o->c, "dep-1", USER, 1000000, NULL), 0);
    assert_int_equal(zt_chain_job_open(o->c, "wallet:" USER, n->job, 10, 1, 16, NULL, NULL, 0), 0);
    enum zt_job_state js;
    assert_int_equal(zt_sched_job_started(o->s, n->job, n->ida, T0 + 1001), 0);
    assert_int_equal(zt_sched_job_finished(o->s, n->job, n->ida, ZT_SCHED_OK, 10, T0 + 1100, &js), 0);
    assert_int_equal(js, ZT_JOB_STATE_DONE);
    zt_chain_job_end(o->c, n->job, true, n->ida, NULL, 100, 10);
}

static void net_free(struct net *n)
{
    worker_deinit(&n->a);
    worker_deinit(&n->b);
}

/* The verdict: a's output was wrong, b (honest) says so: a is slashed
 * (10 tokens, to b) and banned, b gets the bonus (5) and a completed. */
/* local: the in-process gateway's verdict (an embedded gateway and
 * orchestrator: place.c -> zt_lease_settle_local ->
 * zt__verifier_settle_local), no evidence claim. */
static int settle_how(struct orch *o, const struct net *n, enum zt_verify_verdict verdict, int64_t now, bool local)
{
    static const bool wrong[] = {false};
    const char *workers[] = {n->ida}, *checkers[] = {n->idb};
    const struct zt__settle_req q = {.v = o->v, .s = o->s, .job_id = n->job, .verdict = verdict,
                                     .workers = workers, .n_workers = 1, .checkers = checkers, .wrong = wrong,
                                     .n_checkers = 1, .now_ms = now};
    if (local) return zt__verifier_settle_local(o->e, &q);
    uint8_t id[ZT__ONCE_ID_LEN];
    evidence_id(id);
    return zt__verifier_settle_evidence(o->e, id, &q);
}

static int settle_verdict_at(struct orch *o, const struct net *n, enum zt_verify_verdict verdict, int64_t now)
{
    return settle_how(o, n, verdict, now, false);
}

static int settle_local_at(struct orch *o, const struct net *n, int64_t now)
{
    return settle_how(o, n, ZT_VERDICT_WORKER_WRONG, now, true);
}

static int settle_at(struct orch *o, const struct net *n, int64_t now)
{
    return settle_verdict_at(o, n, ZT_VERDICT_WORKER_WRONG, now);
}

static enum zt__once_rc take_at(struct orch *o, int64_t now)
{
    uint8_t id[ZT__ONCE_ID_LEN];
    evidence_id(id);
    return zt__evidence_take(o->e, id, now + HOUR, now);
}

/* The claims' deadlines are on the store's clock (review10 F5): now is
 * the orchestrator's own clock (the evidence's expiry only), shift moves
 * its store handle's clock (the seam; 0 the real one). */
static enum zt__once_rc take_shifted(struct orch *o, int64_t now, int64_t shift)
{
    zt_store_clock_shift(o->st, shift);
    return take_at(o, now);
}

/* One sweep of the settlement outbox with the store's clock shifted: the
 * rows it ran. */
static size_t sweep_shifted(struct orch *o, int64_t shift)
{
    zt_store_clock_shift(o->st, shift);
    size_t ran = 0;
    assert_int_equal(zt__verifier_outbox_sweep(o->e, o->v, o->s, 64, &ran), 0);
    return ran;
}

/* The outbox rows left (any owner). */
static int64_t outbox_rows(struct orch *o)
{
    struct zt_store_stmt *q = NULL;
    int64_t n = -1;
    assert_int_equal(zt_store_prepare(o->st, "SELECT COUNT(*) FROM orch_settle_outbox", &q), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_i64(q, 0, &n), 0);
    zt_store_stmt_free(q);
    return n;
}

/* Settled exactly once: the ledger's entries, the job's state, the
 * reputations in the store (a fresh registry reads them; b completed
 * `completed` jobs in all, this check among them). */
static void settled_once(struct orch *o, const struct net *n, uint64_t completed)
{
    assert_true(balance(o->c, ZT_LEDGER_STAKE, n->ida) == 140 * TOKEN);
    assert_true(balance(o->c, ZT_LEDGER_PROVIDER, n->idb) == 10 * TOKEN + 5);
    struct zt_ledger *l = zt_chain_lock(o->c);
    int64_t sid;
    struct zt_ledger_hist h[8];
    size_t nh = 0;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_STAKE, n->ida, NULL, &sid), 0);
    assert_int_equal(zt_ledger_history(l, sid, 0, h, 8, &nh), 0);
    zt_chain_unlock(o->c);
    assert_int_equal(nh, 2); /* the deposit and one slash */
    audit_ok(o->c);
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(o->s, n->job, &ji), 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    struct zt_registry *r = NULL;
    struct zt_registry_opts ro = reg_opts();
    assert_int_equal(zt_registry_open(o->st, &ro, T0, &r), 0);
    struct zt_node_info ni;
    assert_int_equal(zt_registry_get(r, n->ida, T1, &ni), 0);
    assert_true(ni.banned);
    assert_int_equal(ni.mismatches, 1);
    assert_int_equal(zt_registry_get(r, n->idb, T1, &ni), 0);
    assert_int_equal(ni.completed, completed);
    zt_registry_free(r);
}

/* The in-process gateway's verdict (an embedded gateway and orchestrator:
 * place.c -> zt_lease_settle_local -> zt__verifier_settle_local; no
 * evidence claim): settled without a crash, paid once, no outbox row left. */
static void test_local_settle(void **state)
{
    (void)state;
    struct orch o;
    struct net n;
    net_start(&o, &n);
    assert_int_equal(settle_local_at(&o, &n, T1), 0);
    assert_int_equal(outbox_rows(&o), 0); /* the hook ran after the commit: its row deleted */
    settled_once(&o, &n, 1);
    orch_close(&o);
    net_free(&n);
}

enum crash_point { AFTER_CLAIM, BEFORE_LEDGER_HOOK, IN_LEDGER_HOOK };

/* The first orchestrator, in a child process: claims the evidence and
 * dies at the point (SIGKILL: no cleanup, no rollback of its own); local:
 * the in-process gateway's verdict instead (no claim). Exits with the
 * failing step otherwise. */
static void child(enum crash_point point, const struct net *n, bool local)
{
    struct orch o;
    int rc = orch_open(&o);
    if (rc) _exit(10 + rc);
    if (!local && take_at(&o, T1) != ZT__ONCE_TAKEN) _exit(20);
    if (point == AFTER_CLAIM) raise(SIGKILL);
    if (point == IN_LEDGER_HOOK) kill_in_hook = true;
    else kill_before_hook = true;
    rc = local ? settle_local_at(&o, n, T1) : settle_at(&o, n, T1);
    _exit(rc ? 30 : 31); /* not reached: the hook kills */
}

static void crash_then_takeover(enum crash_point point, bool local)
{
    struct orch o;
    struct net n;
    net_start(&o, &n);
    zt_u128 stake0 = balance(o.c, ZT_LEDGER_STAKE, n.ida);
    assert_true(stake0 == 150 * TOKEN);
    orch_close(&o); /* nothing open across the fork */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child(point, &n, local);
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL)
        fail_msg("the child did not die at the crash point: %s %d", WIFEXITED(ws) ? "exit" : "signal",
                 WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));

    /* a second orchestrator on the same store (and the same ledger) */
    assert_int_equal(orch_open(&o), 0);
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(o.s, n.job, &ji), 0);
    if (point == IN_LEDGER_HOOK || point == BEFORE_LEDGER_HOOK) {
        /* the hook runs after the commit (review10 F2): settled, the
         * evidence used, nothing to take over; the outbox row of the
         * ledger's part is left (the kill came before its delete) */
        assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
        if (!local) assert_int_equal(take_at(&o, T1 + 5), ZT__ONCE_USED);
        assert_int_equal(outbox_rows(&o), 1);
        if (point == BEFORE_LEDGER_HOOK) /* settled and not paid yet */
            assert_true(balance(o.c, ZT_LEDGER_STAKE, n.ida) == 150 * TOKEN);
        else
            settled_once(&o, &n, 1);
        /* the dead run's lease (10 s of the store's clock) is live: no sweep runs it */
        assert_int_equal(sweep_shifted(&o, 0), 0);
        assert_int_equal(outbox_rows(&o), 1);
        orch_close(&o);
        /* restarted, past the lease: the sweeper runs it, paid exactly once
         * (the ledger's job-id keys make the second run after the kill in
         * the hook a no-op) */
        assert_int_equal(orch_open(&o), 0);
        assert_int_equal(sweep_shifted(&o, 11000), 1);
        assert_int_equal(outbox_rows(&o), 0);
        settled_once(&o, &n, 1);
        assert_int_equal(sweep_shifted(&o, 60000), 0);
        if (local) { /* the verdict again (a repeat): the job does not move, no row, nothing paid twice */
            assert_int_equal(settle_local_at(&o, &n, T1 + 1), 0);
            assert_int_equal(outbox_rows(&o), 0);
            assert_true(balance(o.c, ZT_LEDGER_STAKE, n.ida) == 140 * TOKEN);
            assert_true(balance(o.c, ZT_LEDGER_PROVIDER, n.idb) == 10 * TOKEN + 5);
            audit_ok(o.c);
        } else {
            assert_int_equal(take_shifted(&o, T1 + 30001, 31000), ZT__ONCE_USED);
            settled_once(&o, &n, 1);
        }
        orch_close(&o);
        net_free(&n);
        return;
    }
    /* nothing of the settlement ran: not the store's, not the ledger's */
    assert_true(balance(o.c, ZT_LEDGER_STAKE, n.ida) == 150 * TOKEN);
    assert_int_equal(ji.state, ZT_JOB_STATE_DONE);
    /* the dead claim is live until its deadline (30 s of the store's
     * clock): retry (503 evidence_busy) */
    assert_int_equal(take_shifted(&o, T1 + 5, 0), ZT__ONCE_PENDING);
    assert_int_equal(take_shifted(&o, T1 + 20000, 20000), ZT__ONCE_PENDING);
    /* past it: not settled (the settlement commits with the claim), taken
     * over (before: ZT__ONCE_USED, and the job was never settled) */
    assert_int_equal(take_shifted(&o, T1 + 30001, 31000), ZT__ONCE_TAKEN);
    assert_int_equal(settle_at(&o, &n, T1 + 30001), 0);
    assert_int_equal(outbox_rows(&o), 0); /* the hook ran: its row deleted */
    settled_once(&o, &n, 1);
    /* a replay after the settlement: refused, here and after a restart */
    assert_int_equal(take_at(&o, T1 + 30002), ZT__ONCE_USED);
    orch_close(&o);
    assert_int_equal(orch_open(&o), 0);
    assert_int_equal(take_at(&o, T1 + 30003), ZT__ONCE_USED);
    assert_int_equal(take_at(&o, T1 + 90000), ZT__ONCE_USED); /* used: no deadline */
    settled_once(&o, &n, 1);
    orch_close(&o);
    net_free(&n);
}

static void test_crash_after_claim(void **state)
{
    (void)state;
    crash_then_takeover(AFTER_CLAIM, false);
}

static void test_crash_in_ledger_hook(void **state)
{
    (void)state;
    crash_then_takeover(IN_LEDGER_HOOK, false);
}

static void test_crash_before_ledger_hook(void **state)
{
    (void)state;
    crash_then_takeover(BEFORE_LEDGER_HOOK, false);
}

/* The in-process verdict's process killed (fork, SIGKILL) after its commit,
 * before the ledger's hook or inside it after the ledger's writes: the job
 * settled and its outbox row left (before, zt_verifier_settle ran the hook
 * with no row: a kill before it left the verdict settled and never paid);
 * no sweep runs the row while its lease is live; restarted past the
 * lease, the sweeper pays exactly once (crash_then_takeover, local). */
static void test_local_crash_before_ledger_hook(void **state)
{
    (void)state;
    crash_then_takeover(BEFORE_LEDGER_HOOK, true);
}

static void test_local_crash_in_ledger_hook(void **state)
{
    (void)state;
    crash_then_takeover(IN_LEDGER_HOOK, true);
}

/* Two sweepers (two orchestrators of the store, in two threads) race for
 * the row a crash left: the ledger pays once, the row is run once. */
struct sweeper {
    struct orch *o;
    size_t ran;
    int rc;
};

static void *sweep_thread(void *ud)
{
    struct sweeper *w = ud;
    w->rc = zt__verifier_outbox_sweep(w->o->e, w->o->v, w->o->s, 64, &w->ran);
    return NULL;
}

static void test_sweepers_race(void **state)
{
    (void)state;
    struct orch a, b;
    struct net n;
    net_start(&a, &n);
    orch_close(&a);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child(BEFORE_LEDGER_HOOK, &n, false);
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    assert_int_equal(orch_open(&a), 0);
    assert_int_equal(orch_open(&b), 0);
    assert_true(balance(a.c, ZT_LEDGER_STAKE, n.ida) == 150 * TOKEN); /* settled, unpaid */
    zt_store_clock_shift(a.st, 11000);
    zt_store_clock_shift(b.st, 11000);
    struct sweeper wa = {.o = &a, .rc = -1}, wb = {.o = &b, .rc = -1};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, sweep_thread, &wa), 0);
    assert_int_equal(pthread_create(&tb, NULL, sweep_thread, &wb), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(wa.rc, 0);
    assert_int_equal(wb.rc, 0);
    assert_int_equal(wa.ran + wb.ran, 1);
    assert_int_equal(outbox_rows(&a), 0);
    settled_once(&a, &n, 1);
    /* the hook itself run again for the job (two runners whose leases
     * overlapped): the ledger's job-id keys make it a no-op */
    const char *honest[] = {n.idb};
    assert_int_equal(zt_chain_verified(b.c, n.job, n.ida, true, honest, 1), 0);
    settled_once(&a, &n, 1);
    orch_close(&b);
    orch_close(&a);
    net_free(&n);
}

/* review10 F6: a settlement's retries do not hold the registry's lock
 * through their back-off. The transaction's body (run with the lock held)
 * starts a thread that takes the lock (a registry read, as heartbeats and
 * placement do) and asks for a retry (a conflict) until that thread got
 * the lock, at most 10 tries (about 1.3 s of back-off). Holding the lock
 * through the retries (before), the thread gets it only after the whole
 * settlement, and the body runs out of tries without seeing it. */
struct f6 {
    struct orch *o;
    pthread_t t;
    bool started;
    atomic_bool got;
    int calls;
    bool got_in_tx; /* the thread had the lock between two attempts */
};

static void *f6_reader(void *ud)
{
    struct f6 *f = ud;
    struct zt_node_info ni;
    zt_ignore(zt_registry_get(f->o->r, "zt1nobody", T1, &ni));
    atomic_store(&f->got, true);
    return NULL;
}

static int f6_body(void *ud)
{
    struct f6 *f = ud;
    f->calls++;
    if (!f->started) f->started = pthread_create(&f->t, NULL, f6_reader, f) == 0;
    if (atomic_load(&f->got)) {
        f->got_in_tx = true;
        return 0;
    }
    return f->calls < 10 ? zt_store_retry(f->o->st) : 0;
}

static void test_retry_backoff_unlocked(void **state)
{
    (void)state;
    struct orch a;
    struct net n;
    net_start(&a, &n);
    a.st->tx_attempts = 10;
    struct f6 f = {.o = &a};
    atomic_init(&f.got, false);
    assert_int_equal(take_at(&a, T1), ZT__ONCE_TAKEN);
    uint8_t id[ZT__ONCE_ID_LEN];
    evidence_id(id);
    assert_int_equal(zt__evidence_commit(a.e, id, f6_body, &f), 0);
    assert_true(f.started);
    pthread_join(f.t, NULL);
    assert_true(f.got_in_tx);
    assert_true(f.calls >= 2);
    assert_int_equal(take_at(&a, T1 + 1), ZT__ONCE_USED); /* committed with the last attempt */
    orch_close(&a);
    net_free(&n);
}

/* Malformed outbox rows (a verdict out of range, a checker id too long,
 * an empty checker line: written by no binary of ours, but read from a
 * shared store): the sweeper logs and leaves them, runs no hook, and
 * does not crash. */
static void put_raw(struct orch *o, const char *job, int64_t verdict, const char *worker, const char *honest)
{
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(o->st,
                                      "INSERT INTO orch_settle_outbox(job_id, verdict, worker, rejected, honest, owner,"
                                      " until) VALUES(?, ?, ?, '', ?, ?, 0)",
                                      &q),
                     0);
    static const uint8_t owner[16] = {1};
    assert_int_equal(zt_store_bind_text(q, 1, job, SIZE_MAX), 0);
    assert_int_equal(zt_store_bind_i64(q, 2, verdict), 0);
    assert_int_equal(zt_store_bind_text(q, 3, worker, SIZE_MAX), 0);
    assert_int_equal(zt_store_bind_text(q, 4, honest, SIZE_MAX), 0);
    assert_int_equal(zt_store_bind_blob(q, 5, owner, sizeof owner), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_DONE);
    zt_store_stmt_free(q);
}

static void test_outbox_bad_rows(void **state)
{
    (void)state;
    struct orch a;
    struct net n;
    net_start(&a, &n);
    char longid[200];
    memset(longid, 'z', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    char honest[300];
    snprintf(honest, sizeof honest, "%s\n\n", n.idb);
    put_raw(&a, "00000000000000000000000000000001", 99, n.ida, "");
    put_raw(&a, "00000000000000000000000000000002", ZT_VERDICT_WORKER_WRONG, longid, "");
    put_raw(&a, "00000000000000000000000000000003", ZT_VERDICT_WORKER_WRONG, n.ida, longid);
    put_raw(&a, "00000000000000000000000000000004", ZT_VERDICT_WORKER_WRONG, n.ida, honest);
    assert_int_equal(sweep_shifted(&a, 0), 0);
    assert_int_equal(outbox_rows(&a), 4);
    assert_true(balance(a.c, ZT_LEDGER_STAKE, n.ida) == 150 * TOKEN); /* no hook ran */
    assert_int_equal(sweep_shifted(&a, 60000), 0);
    orch_close(&a);
    net_free(&n);
}

/* The ledger, as a hook: counts its calls, fails with hook_rc (ZT_EBUSY:
 * the ledger stuck) after sleeping hook_sleep_ms. */
static int hook_calls, hook_rc;
static unsigned hook_sleep_ms;

static int counted_hook(void *ud, const char *job_id, enum zt_verify_verdict verdict, const char *worker,
                        const char *const *honest, size_t n_honest)
{
    (void)ud, (void)job_id, (void)verdict, (void)worker, (void)honest, (void)n_honest;
    hook_calls++;
    if (hook_sleep_ms) zt_time_sleep_ms(hook_sleep_ms);
    return hook_rc;
}

/* review11 F5: the sweep runs on the pump's thread. With the ledger
 * failing it stops at the first failed hook (the old code ran all three
 * rows' hooks, each as slow as the ledger, and returned 0), and a slow
 * ledger that succeeds is cut off after OUTBOX_SWEEP_BUDGET_MS; the rows
 * not reached are run by a later sweep. */
static void test_sweep_stops_at_hook_failure(void **state)
{
    (void)state;
    struct orch a;
    struct net n;
    net_start(&a, &n);
    zt_verifier_set_on_settled(a.v, counted_hook, NULL);
    put_raw(&a, "00000000000000000000000000000011", ZT_VERDICT_WORKER_WRONG, n.ida, "");
    put_raw(&a, "00000000000000000000000000000012", ZT_VERDICT_WORKER_WRONG, n.ida, "");
    put_raw(&a, "00000000000000000000000000000013", ZT_VERDICT_WORKER_WRONG, n.ida, "");
    hook_calls = 0, hook_rc = ZT_EBUSY, hook_sleep_ms = 0;
    size_t ran = 9;
    assert_int_equal(zt__verifier_outbox_sweep(a.e, a.v, a.s, 64, &ran), ZT_EBUSY);
    assert_int_equal(hook_calls, 1);
    assert_int_equal(ran, 0);
    assert_int_equal(outbox_rows(&a), 3);
    /* the ledger back but slow (600 ms a row): the budget (1 s) stops the
     * sweep after one or two rows */
    hook_calls = 0, hook_rc = 0, hook_sleep_ms = 600;
    zt_store_clock_shift(a.st, 60000); /* past the first row's lease too */
    assert_int_equal(zt__verifier_outbox_sweep(a.e, a.v, a.s, 64, &ran), 0);
    assert_true(ran >= 1 && ran <= 2);
    assert_int_equal(hook_calls, (int)ran);
    assert_int_equal(outbox_rows(&a), 3 - (int64_t)ran);
    /* and the next sweeps run the rest */
    hook_sleep_ms = 0;
    assert_int_equal(zt__verifier_outbox_sweep(a.e, a.v, a.s, 64, &ran), 0);
    assert_int_equal(outbox_rows(&a), 0);
    zt_store_clock_shift(a.st, 0);
    orch_close(&a);
    net_free(&n);
}

/* review10 F5: the claim's deadline is on the store's clock. An
 * orchestrator whose own clock runs 60 s ahead does not take a live claim
 * over (before: it did, at once); past the deadline on the store's clock
 * it does. */
static void test_skewed_clock_no_early_takeover(void **state)
{
    (void)state;
    struct orch a, b;
    struct net n;
    net_start(&a, &n);
    assert_int_equal(orch_open(&b), 0);
    assert_int_equal(take_shifted(&a, T1, 0), ZT__ONCE_TAKEN);
    assert_int_equal(take_shifted(&b, T1 + 60000, 0), ZT__ONCE_PENDING);
    assert_int_equal(take_shifted(&b, T1 + 3600000, 0), ZT__ONCE_PENDING);
    /* a's own clock behind does not stretch its claim either */
    assert_int_equal(take_shifted(&b, T1 + 1, 31000), ZT__ONCE_TAKEN);
    assert_int_equal(settle_at(&b, &n, T1 + 1), 0);
    assert_int_equal(settle_at(&a, &n, T1 + 2), ZT_EEXIST);
    settled_once(&b, &n, 1);
    orch_close(&b);
    orch_close(&a);
    net_free(&n);
}

/* A settlement past its claim's deadline: taken over meanwhile, its
 * transaction rolls back. */
static void test_late_settlement_rolls_back(void **state)
{
    (void)state;
    struct orch a, b;
    struct net n;
    net_start(&a, &n);
    assert_int_equal(orch_open(&b), 0);
    /* b completed another job meanwhile, seen by the second orchestrator
     * only (a's registry in memory is older: a late write of a's would
     * put the row back) */
    assert_int_equal(zt_registry_report(b.r, n.idb, ZT_OUTCOME_COMPLETED, T1), 0);
    assert_int_equal(take_at(&a, T1), ZT__ONCE_TAKEN);
    assert_int_equal(take_at(&b, T1 + 1), ZT__ONCE_PENDING); /* a's claim is live: b's gateway retries */
    assert_int_equal(take_shifted(&b, T1 + 30001, 31000), ZT__ONCE_TAKEN);
    assert_int_equal(settle_at(&b, &n, T1 + 30001), 0);
    struct zt_node_info ni;
    assert_int_equal(zt_registry_get(a.r, n.idb, T1, &ni), 0);
    uint64_t completed_in_a = ni.completed;
    /* a comes back late: its claim is not its own any more */
    assert_int_equal(settle_at(&a, &n, T1 + 30002), ZT_EEXIST);
    settled_once(&b, &n, 2); /* none of a's writes kept */
    /* a's registry in memory is put back as it was (the rolled-back charges) */
    assert_int_equal(zt_registry_get(a.r, n.idb, T1, &ni), 0);
    assert_int_equal(ni.completed, completed_in_a);
    assert_int_equal(take_at(&a, T1 + 30003), ZT__ONCE_USED);
    orch_close(&b);
    orch_close(&a);
    net_free(&n);
}

/* review10 F2: a verdict pays in the ledger only once committed, and the
 * ledger agrees with the job's state. a settles "worker wrong"; inside its
 * ledger hook, b (past a's claim deadline) tries to take the evidence over
 * and settle "agreed". Before, a's hook ran on a peek before a's commit:
 * b took the claim over and verified the job, a's commit rolled back, and
 * the worker was slashed for a job the store says was verified. Now a has
 * committed before its hook runs: b finds the evidence used. */
static struct orch *race_b;
static const struct net *race_n;
static enum zt__once_rc race_take;
static int race_settle = -1;

static void race_in_hook(void)
{
    race_take = take_shifted(race_b, T1 + 30001, 31000);
    if (race_take == ZT__ONCE_TAKEN) race_settle = settle_verdict_at(race_b, race_n, ZT_VERDICT_AGREED, T1 + 30001);
}

static void test_uncommitted_verdict_pays_nothing(void **state)
{
    (void)state;
    struct orch a, b;
    struct net n;
    net_start(&a, &n);
    assert_int_equal(orch_open(&b), 0);
    race_b = &b;
    race_n = &n;
    race_settle = -1;
    assert_int_equal(take_at(&a, T1), ZT__ONCE_TAKEN);
    in_hook = race_in_hook;
    int rc = settle_at(&a, &n, T1 + 1);
    in_hook = NULL;
    struct zt_job_info ji;
    assert_int_equal(zt_sched_job_get(b.s, n.job, &ji), 0);
    zt_u128 stake = balance(b.c, ZT_LEDGER_STAKE, n.ida);
    /* whatever happened, the ledger agrees with the job's state */
    if (ji.state == ZT_JOB_STATE_VERIFIED) assert_true(stake == 150 * TOKEN);
    else assert_true(stake == 140 * TOKEN);
    /* and what happens now: a committed first, b found the evidence used */
    assert_int_equal(rc, 0);
    assert_int_equal(ji.state, ZT_JOB_STATE_FAILED);
    assert_int_equal(race_take, ZT__ONCE_USED);
    assert_int_equal(race_settle, -1);
    audit_ok(b.c);
    orch_close(&b);
    orch_close(&a);
    net_free(&n);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, orch_setup, teardown)
    const struct CMUnitTest tests[] = {T(test_crash_after_claim),        T(test_crash_in_ledger_hook),
                                       T(test_crash_before_ledger_hook), T(test_sweepers_race),
                                       T(test_skewed_clock_no_early_takeover), T(test_late_settlement_rolls_back),
                                       T(test_uncommitted_verdict_pays_nothing), T(test_retry_backoff_unlocked),
                                       T(test_outbox_bad_rows), T(test_local_settle),
                                       T(test_local_crash_before_ledger_hook), T(test_local_crash_in_ledger_hook),
                                       T(test_sweep_stops_at_hook_failure)};
    int failures = cmocka_run_group_tests_name("orch_settle_once_sqlite", tests, NULL, NULL);
#define P(f) cmocka_unit_test_setup_teardown(f, orch_setup_pg, teardown)
    const struct CMUnitTest pg_tests[] = {P(test_crash_after_claim),        P(test_crash_in_ledger_hook),
                                          P(test_crash_before_ledger_hook), P(test_sweepers_race),
                                          P(test_skewed_clock_no_early_takeover), P(test_late_settlement_rolls_back),
                                          P(test_uncommitted_verdict_pays_nothing), P(test_retry_backoff_unlocked),
                                          P(test_outbox_bad_rows), P(test_local_settle),
                                          P(test_local_crash_before_ledger_hook),
                                          P(test_local_crash_in_ledger_hook), P(test_sweep_stops_at_hook_failure)};
    failures += zt_test_pg_run("orch_settle_once_postgres", pg_tests);
    return zt_test_exit(failures);
}
