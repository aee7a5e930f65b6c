/* test_ledger_slash.c: the ledger wired into the scheduler as the node
 * wires it (issue 12 items 2 and 3): the stake gate in placement
 * (zt_sched_set_admit -> zt_chain_stake_admit) and the slash of a
 * confirmed mismatch reported through the scheduler's verdict
 * (zt_sched_job_rejected -> zt_sched_set_on_rejected ->
 * zt_chain_slash_job):
 *
 *  - an unstaked worker is never picked while a staked one is, and a job
 *    only it could run is not servable;
 *  - a paid job settled to the staked worker, then rejected: chain.slash_amount
 *    leaves its stake for the treasury, its earning (not yet in a payout
 *    batch) goes back to the payer, the payout queue no longer holds it,
 *    the audit holds; the worker is banned;
 *  - the hook again (and the verdict again) moves nothing;
 *  - a stake short of slash_amount is slashed to zero, no further;
 *  - zt_ledger_penalize on an earning already batched slashes the stake
 *    only;
 *  - through the verifier's settled hook (zt_verifier_settle ->
 *    zt_verifier_set_on_settled -> zt_chain_verified, as node.c wires it):
 *    an agreed verification pays chain.verification_bonus from the fee
 *    account to the honest checker, once; a worker outvoted is slashed
 *    with the slash shared by the honest checkers (the outvoted checker
 *    gets nothing), and they get the bonus too; an empty fee account pays
 *    no bonus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include "orch_test.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_verifier.h"

#define USER "0x00000000000000000000000000000000000000cc"
#define TOKEN ((zt_u128)1000000000000000000u)

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

/* the node's books on dir/ledger.db, as chain.yaml would set them */
static struct zt_chain *chain_open(const char *min_stake, const char *slash)
{
    const char *const kv[][2] = {
        {"database.sqlite_path", "ledger.db"},
        {"chain.enabled", "true"},
        {"chain.min_stake", min_stake},
        {"chain.slash_amount", slash},
        {"chain.dispute_window_s", "0"},
        {"chain.min_payout", "0.000000000000000001"},
        {"chain.price_prompt_per_1k", "0.000000000000001"},
        {"chain.price_completion_per_1k", "0.000000000000002"},
        {"chain.orchestrator_fee_bps", "1000"},
        {"chain.verification_bonus", "0.000000000000000005"}, /* 5 base units */
    };
    struct zt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    assert_int_equal(zt_config_set(&cfg, "node.data_dir", dir, "test", NULL), 0);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        assert_int_equal(zt_config_set(&cfg, kv[i][0], kv[i][1], "test", NULL), 0);
    struct zt_chain *c = NULL;
    assert_int_equal(zt_chain_open(&cfg, &c, NULL), 0);
    zt_config_deinit(&cfg);
    return c;
}

static zt_u128 balance(struct zt_chain *c, enum zt_ledger_kind kind, const char *owner)
{
    zt_u128 v = 0;
    if (kind == ZT_LEDGER_TREASURY || kind == ZT_LEDGER_FEE) {
        struct zt_ledger *l = zt_chain_lock(c);
        int64_t id;
        struct zt_ledger_bal b;
        assert_int_equal(zt_ledger_system_account(l, kind, &id), 0);
        assert_int_equal(zt_ledger_balance(l, id, &b), 0);
        zt_chain_unlock(c);
        return b.mag;
    }
    assert_int_equal(zt_chain_balance(c, kind, owner, &v), 0);
    return v;
}

static void stake(struct zt_chain *c, const char *key, const char *node, zt_u128 amount)
{
    struct zt_ledger *l = zt_chain_lock(c);
    assert_int_equal(zt_ledger_stake_deposit(l, key, node, amount, NULL), 0);
    zt_chain_unlock(c);
}

static void audit_ok(struct zt_chain *c)
{
    char why[256] = "";
    struct zt_ledger *l = zt_chain_lock(c);
    int rc = zt_ledger_audit(l, why, sizeof why);
    zt_chain_unlock(c);
    if (rc) fail_msg("audit: %s", why);
}

struct wired {
    struct zt_store *st;
    struct zt_registry *r;
    struct zt_sched *s;
    struct zt_chain *c;
};

static void wire(struct wired *w, const char *min_stake, const char *slash)
{
    w->st = store_open();
    struct zt_registry_opts ro = reg_opts();
    assert_int_equal(zt_registry_open(w->st, &ro, T0, &w->r), 0);
    assert_int_equal(zt_sched_open(w->r, NULL, T0, &w->s), 0);
    w->c = chain_open(min_stake, slash);
    zt_sched_set_admit(w->s, zt_chain_stake_admit, w->c);
    zt_sched_set_on_rejected(w->s, zt_chain_slash_job, w->c);
}

static void unwire(struct wired *w)
{
    zt_sched_free(w->s);
    zt_registry_free(w->r);
    zt_store_close(w->st);
    zt_chain_free(w->c);
}

/* a paid job placed, run and settled on its worker; its id in job */
static void paid_job(struct wired *w, const char *want_worker, int k, char job[static ZT_JOB_ID_SIZE])
{
    struct zt_job_req q = {.client = "alice", .model = "tiny-chat", .ctx_tokens = 10, .max_tokens = 16};
    struct zt_sched_result res;
    int64_t t = T0 + 1000 * k;
    assert_int_equal(zt_sched_submit(w->s, &q, t, &res), 0);
    assert_int_equal(res.state, ZT_JOB_STATE_ASSIGNED);
    assert_string_equal(res.worker, want_worker);
    zt_strlcpy(job, res.job_id, ZT_JOB_ID_SIZE);
    char key[32];
    snprintf(key, sizeof key, "dep-%d", k);
    assert_int_equal(zt_chain_deposit(w->c, key, USER, 1000000, NULL), 0);
    assert_int_equal(zt_chain_job_open(w->c, "wallet:" USER, job, 10, 1, 16, NULL, NULL, 0), 0);
    enum zt_job_state js;
    assert_int_equal(zt_sched_job_started(w->s, job, want_worker, t + 1), 0);
    assert_int_equal(zt_sched_job_finished(w->s, job, want_worker, ZT_SCHED_OK, 10, t + 100, &js), 0);
    assert_int_equal(js, ZT_JOB_STATE_DONE);
    zt_chain_job_end(w->c, job, true, want_worker, NULL, 100, 10);
}

static void test_gate_and_slash(void **state)
{
    (void)state;
    struct wired w;
    wire(&w, "100", "10");
    struct worker a, b;
    worker_init(&a, M1, 1, 4, 100);
    worker_init(&b, M1, 2, 4, 100);
    const char *ida = zt_identity_id(a.id), *idb = zt_identity_id(b.id);
    assert_int_equal(do_join(w.r, &a, T0), 0);
    assert_int_equal(do_join(w.r, &b, T0), 0);

    /* nobody staked: no worker may take the job */
    struct zt_job_req q = {.client = "alice", .model = "tiny-chat", .ctx_tokens = 10, .max_tokens = 16};
    struct zt_sched_result res;
    assert_int_equal(zt_sched_submit(w.s, &q, T0, &res), ZT_ENOTFOUND);
    /* a staked 150 tokens, b 1 base unit short of 100: every job goes to a */
    stake(w.c, "a-1", ida, 150 * TOKEN);
    stake(w.c, "b-1", idb, 100 * TOKEN - 1);
    char job[ZT_JOB_ID_SIZE], other[ZT_JOB_ID_SIZE];
    paid_job(&w, ida, 1, job);
    paid_job(&w, ida, 2, other);
    zt_u128 earned = balance(w.c, ZT_LEDGER_PROVIDER, ida);
    assert_true(earned > 0);
    zt_u128 user_before = balance(w.c, ZT_LEDGER_USER, USER), treasury_before = balance(w.c, ZT_LEDGER_TREASURY, NULL);

    /* the mismatch confirmed through the scheduler: the hook slashes */
    assert_int_equal(zt_sched_job_rejected(w.s, job, T0 + 5000), 0);
    assert_true(balance(w.c, ZT_LEDGER_STAKE, ida) == 140 * TOKEN);
    assert_true(balance(w.c, ZT_LEDGER_TREASURY, NULL) == treasury_before + 10 * TOKEN);
    zt_u128 per_job = earned / 2; /* the two jobs cost the same */
    assert_true(balance(w.c, ZT_LEDGER_PROVIDER, ida) == earned - per_job);
    assert_true(balance(w.c, ZT_LEDGER_USER, USER) == user_before + per_job);
    struct zt_node_info ni;
    assert_int_equal(zt_registry_get(w.r, ida, T0 + 5000, &ni), 0);
    assert_true(ni.banned);
    audit_ok(w.c);
    /* again: the verdict is refused (already failed), the hook moves nothing */
    assert_int_equal(zt_sched_job_rejected(w.s, job, T0 + 5001), ZT_EINVAL);
    zt_chain_slash_job(w.c, job, ida);
    assert_true(balance(w.c, ZT_LEDGER_STAKE, ida) == 140 * TOKEN);
    assert_true(balance(w.c, ZT_LEDGER_USER, USER) == user_before + per_job);
    /* the history shows it; the payout queue holds only the honest job */
    struct zt_ledger *l = zt_chain_lock(w.c);
    int64_t sid;
    struct zt_ledger_hist h[4];
    size_t n;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_STAKE, ida, NULL, &sid), 0);
    assert_int_equal(zt_ledger_history(l, sid, 0, h, 4, &n), 0);
    assert_int_equal(n, 2);
    char want[ZT_LEDGER_KEY_MAX + 1];
    snprintf(want, sizeof want, "slash:%s", job);
    assert_string_equal(h[0].key, want);
    assert_true(!h[0].credit && h[0].amount == 10 * TOKEN);
    assert_int_equal(zt_ledger_set_wallet(l, ida, "0x00000000000000000000000000000000000000a1"), 0);
    zt_chain_unlock(w.c);
    struct zt_chain_round r;
    assert_int_equal(zt_chain_payout_round(w.c, zt_time_real_ms() + 1000, &r), 0);
    assert_int_equal(r.batch_id, 1);
    struct zt_ledger_batch_info bi;
    l = zt_chain_lock(w.c);
    assert_int_equal(zt_ledger_batch_info(l, 1, &bi), 0);
    zt_chain_unlock(w.c);
    assert_true(bi.total == per_job);
    audit_ok(w.c);

    /* a: banned; b reaches min_stake and takes the next job */
    stake(w.c, "b-2", idb, 1);
    paid_job(&w, idb, 3, other);
    /* its mismatch with a stake short of slash_amount: the stake goes to zero, no further */
    assert_true(balance(w.c, ZT_LEDGER_STAKE, idb) == 100 * TOKEN);
    zt_chain_free(w.c);
    w.c = chain_open("100", "250");
    zt_sched_set_admit(w.s, zt_chain_stake_admit, w.c);
    zt_sched_set_on_rejected(w.s, zt_chain_slash_job, w.c);
    assert_int_equal(zt_sched_job_rejected(w.s, other, T0 + 9000), 0);
    assert_true(balance(w.c, ZT_LEDGER_STAKE, idb) == 0);
    assert_true(balance(w.c, ZT_LEDGER_PROVIDER, idb) == 0);
    audit_ok(w.c);

    worker_deinit(&a);
    worker_deinit(&b);
    unwire(&w);
}

/* zt_ledger_penalize directly: an earning already in a batch is paid (the
 * stake alone is slashed); a node with no stake and an unpaid earning is
 * clawed back only; each once */
static void test_penalize(void **state)
{
    (void)state;
    struct zt_chain *c = chain_open("0", "5");
    struct zt_ledger *l = zt_chain_lock(c);
    int64_t user, p1, p2;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, USER, NULL, &user), 0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "n1", "0x00000000000000000000000000000000000000b1", &p1), 0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "n2", NULL, &p2), 0);
    assert_int_equal(zt_ledger_mint(l, "m", user, 1000, NULL, NULL), 0);
    assert_int_equal(zt_ledger_stake_deposit(l, "s", "n1", 8, NULL), 0);
    assert_int_equal(zt_ledger_reserve(l, "j1", user, 100), 0);
    assert_int_equal(zt_ledger_settle(l, "j1", p1, 60, 0, 1), 0);
    assert_int_equal(zt_ledger_reserve(l, "j2", user, 100), 0);
    assert_int_equal(zt_ledger_settle(l, "j2", p2, 70, 0, 1), 0);
    int64_t bid;
    size_t nl;
    assert_int_equal(zt_ledger_batch(l, 10, 1, 10, &bid, &nl), 0); /* j1's earning batched (n2 has no wallet) */
    struct zt_ledger_slash_result r;
    assert_int_equal(zt_ledger_penalize(l, "j1", "n1", 5, NULL, 0, &r), 0);
    assert_true(r.slashed == 5 && r.clawed_back == 0 && !r.replayed);
    assert_int_equal(zt_ledger_penalize(l, "j2", "n2", 5, NULL, 0, &r), 0);
    assert_true(r.slashed == 0 && r.clawed_back == 70 && !r.replayed);
    assert_int_equal(zt_ledger_penalize(l, "j2", "n2", 5, NULL, 0, &r), 0);
    assert_true(r.replayed && r.clawed_back == 0);
    assert_int_equal(zt_ledger_penalize(l, "j1", "n1", 5, NULL, 0, &r), 0);
    assert_true(r.replayed);
    struct zt_ledger_bal bu;
    assert_int_equal(zt_ledger_balance(l, user, &bu), 0);
    assert_true(bu.mag == 1000 - 60); /* j1 paid for, j2 given back */
    assert_int_equal(zt_ledger_penalize(l, "j2", "bad id", 5, NULL, 0, &r), ZT_EINVAL);
    zt_chain_unlock(c);
    audit_ok(c);
    zt_chain_free(c);
}

/* node.c's adapter: the verifier's hook to the ledger */
static int chain_verified(void *ud, const char *job_id, enum zt_verify_verdict verdict, const char *worker,
                          const char *const *honest, size_t n_honest)
{
    return zt_chain_verified(ud, job_id, worker, verdict == ZT_VERDICT_WORKER_WRONG, honest, n_honest);
}

static void test_verifier_hook(void **state)
{
    (void)state;
    struct wired w;
    wire(&w, "100", "10");
    zt_sched_set_on_rejected(w.s, NULL, NULL); /* as node.c: the verifier's hook alone */
    struct zt_verifier *v = NULL;
    assert_int_equal(zt_verifier_new(w.r, NULL, NULL, &v), 0);
    zt_verifier_set_on_settled(v, chain_verified, w.c);
    struct worker a, b, c;
    worker_init(&a, M1, 1, 4, 100);
    worker_init(&b, M1, 2, 4, 100);
    worker_init(&c, M1, 3, 4, 100);
    const char *ida = zt_identity_id(a.id), *idb = zt_identity_id(b.id), *idc = zt_identity_id(c.id);
    assert_int_equal(do_join(w.r, &a, T0), 0);
    assert_int_equal(do_join(w.r, &b, T0), 0);
    assert_int_equal(do_join(w.r, &c, T0), 0);
    stake(w.c, "a-1", ida, 150 * TOKEN); /* only a is staked: it runs every job */

    /* the fee account is empty: an agreed check pays no bonus (and the job still verifies) */
    char j0[ZT_JOB_ID_SIZE], j1[ZT_JOB_ID_SIZE], j2[ZT_JOB_ID_SIZE];
    struct zt_job_req q = {.client = "alice", .model = "tiny-chat", .ctx_tokens = 10, .max_tokens = 16};
    struct zt_sched_result res;
    enum zt_job_state js;
    assert_int_equal(zt_sched_submit(w.s, &q, T0, &res), 0);
    zt_strlcpy(j0, res.job_id, sizeof j0);
    assert_int_equal(zt_sched_job_started(w.s, j0, ida, T0 + 1), 0);
    assert_int_equal(zt_sched_job_finished(w.s, j0, ida, ZT_SCHED_OK, 10, T0 + 2, &js), 0);
    const char *wk[] = {ida}, *ck1[] = {idb}, *ck2[] = {idb, idc};
    const bool ok1[] = {false}, ok2[] = {false, true};
    assert_int_equal(zt_verifier_settle(v, w.s, j0, ZT_VERDICT_AGREED, wk, 1, ck1, ok1, 1, T0 + 3), 0);
    assert_true(balance(w.c, ZT_LEDGER_PROVIDER, idb) == 0);

    /* a paid job (fee 12 base units), agreed by b: b gets the bonus, 5, from the fee account */
    paid_job(&w, ida, 1, j1);
    zt_u128 fee0 = balance(w.c, ZT_LEDGER_FEE, NULL);
    assert_true(fee0 == 12);
    assert_int_equal(zt_verifier_settle(v, w.s, j1, ZT_VERDICT_AGREED, wk, 1, ck1, ok1, 1, T0 + 5000), 0);
    assert_true(balance(w.c, ZT_LEDGER_PROVIDER, idb) == 5);
    assert_true(balance(w.c, ZT_LEDGER_FEE, NULL) == fee0 - 5);
    /* again: the job is verified already, the hook is not called; the ledger's call replays */
    assert_int_equal(zt_verifier_settle(v, w.s, j1, ZT_VERDICT_AGREED, wk, 1, ck1, ok1, 1, T0 + 5001), 0);
    assert_int_equal(zt_chain_verified(w.c, j1, ida, false, ck1, 1), 0);
    assert_true(balance(w.c, ZT_LEDGER_PROVIDER, idb) == 5);
    assert_true(balance(w.c, ZT_LEDGER_FEE, NULL) == fee0 - 5);
    audit_ok(w.c);

    /* a outvoted by b (c sided with a and is outvoted too): a's slash, 10 tokens, goes to b alone,
     * not to the treasury or c; b gets the bonus as well */
    paid_job(&w, ida, 2, j2);
    zt_u128 treasury = balance(w.c, ZT_LEDGER_TREASURY, NULL), fee1 = balance(w.c, ZT_LEDGER_FEE, NULL);
    assert_int_equal(zt_verifier_settle(v, w.s, j2, ZT_VERDICT_WORKER_WRONG, wk, 1, ck2, ok2, 2, T0 + 6000), 0);
    assert_true(balance(w.c, ZT_LEDGER_STAKE, ida) == 140 * TOKEN);
    assert_true(balance(w.c, ZT_LEDGER_PROVIDER, idb) == 10 * TOKEN + 5 + 5);
    assert_true(balance(w.c, ZT_LEDGER_PROVIDER, idc) == 0);
    assert_true(balance(w.c, ZT_LEDGER_TREASURY, NULL) == treasury);
    assert_true(balance(w.c, ZT_LEDGER_FEE, NULL) == fee1 - 5);
    struct zt_node_info ni;
    assert_int_equal(zt_registry_get(w.r, ida, T0 + 6000, &ni), 0);
    assert_true(ni.banned);
    /* the history of b's account names both */
    struct zt_ledger *l = zt_chain_lock(w.c);
    int64_t pb;
    struct zt_ledger_hist h[4];
    size_t n;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, idb, NULL, &pb), 0);
    assert_int_equal(zt_ledger_history(l, pb, 0, h, 4, &n), 0);
    assert_int_equal(n, 3);
    char want[ZT_LEDGER_KEY_MAX + 1];
    snprintf(want, sizeof want, "vbonus:%s", j2);
    assert_string_equal(h[0].key, want);
    snprintf(want, sizeof want, "slash:%s", j2);
    assert_string_equal(h[1].key, want);
    assert_true(h[1].credit && h[1].amount == 10 * TOKEN);
    /* bad arguments */
    int64_t ids[1] = {pb};
    assert_int_equal(zt_ledger_verification_bonus(l, j2, 5, NULL, 0, NULL, NULL), ZT_EINVAL);
    bool rep = false;
    zt_u128 each = 1;
    assert_int_equal(zt_ledger_verification_bonus(l, j2, 5, ids, 1, &each, &rep), 0);
    assert_true(rep && each == 0);
    zt_chain_unlock(w.c);
    audit_ok(w.c);

    zt_verifier_free(v);
    worker_deinit(&a);
    worker_deinit(&b);
    worker_deinit(&c);
    unwire(&w);
}

int main(void)
{
    zt_log_set_level(ZT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gate_and_slash, orch_setup, teardown),
        cmocka_unit_test_setup_teardown(test_penalize, orch_setup, teardown),
        cmocka_unit_test_setup_teardown(test_verifier_hook, orch_setup, teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
