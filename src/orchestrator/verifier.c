/* verifier.c: which jobs are verified, by whom, and what the outcome
 * costs (zt_verifier.h; docs/internals/orchestrator.md "Verification").
 * Everything here is metadata: node ids, job ids, engine builds. The
 * secret keys both draws; it lives in this struct only (sodium_malloc'd,
 * wiped at free). */
#include <sodium.h>
#include <string.h>

#include "orch_int.h"
#include "orch_verdict.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_verifier.h"

struct zt_verifier {
    struct zt_registry *reg;
    struct zt_verifier_opts o;
    uint8_t *secret; /* ZT_VERIFIER_SECRET_LEN, sodium_malloc */
    struct zt_verifier_stats st; /* under reg->mu */
    zt_verifier_verdict_fn on_settled; /* under reg->mu: the node's hook (the ledger), or NULL */
    void *on_settled_ud;
};

#define DEF_RATE 0.05
#define DEF_NEW_JOBS 10u
#define DEF_LOW_REP 0.8

int zt_verifier_new(struct zt_registry *reg, const struct zt_verifier_opts *o, const uint8_t *secret,
                    struct zt_verifier **out)
{
    if (!reg || !out) return ZT_EINVAL;
    struct zt_verifier_opts d = {.rate = DEF_RATE, .new_worker_jobs = DEF_NEW_JOBS, .low_reputation = DEF_LOW_REP};
    if (o) d = *o;
    if (!(d.rate >= 0 && d.rate <= 1) || !(d.low_reputation >= 0 && d.low_reputation <= 1)) return ZT_EINVAL;
    struct zt_verifier *v = zt_calloc(1, sizeof *v);
    if (!v) return ZT_ENOMEM;
    v->secret = sodium_malloc(ZT_VERIFIER_SECRET_LEN);
    if (!v->secret) {
        zt_free(v);
        return ZT_ENOMEM;
    }
    if (secret) memcpy(v->secret, secret, ZT_VERIFIER_SECRET_LEN);
    else randombytes_buf(v->secret, ZT_VERIFIER_SECRET_LEN);
    v->reg = reg;
    v->o = d;
    *out = v;
    return 0;
}

void zt_verifier_free(struct zt_verifier *v)
{
    if (!v) return;
    sodium_free(v->secret); /* wipes */
    zt_free(v);
}

const char *zt_verify_reason_name(enum zt_verify_reason r)
{
    switch (r) {
    case ZT_VERIFY_NONE: return "none";
    case ZT_VERIFY_SAMPLED: return "sampled";
    case ZT_VERIFY_NEW_WORKER: return "new_worker";
    case ZT_VERIFY_LOW_REPUTATION: return "low_reputation";
    }
    return "?";
}

/* BLAKE2b-keyed(secret, tag || 0 || a || 0 || round || b) as a u64. */
static uint64_t draw(const struct zt_verifier *v, const char *tag, const char *a, uint32_t round, const char *b)
{
    crypto_generichash_state h;
    uint8_t out[16], z = 0, r[4];
    zt_put_le32(r, round);
    crypto_generichash_init(&h, v->secret, ZT_VERIFIER_SECRET_LEN, sizeof out);
    crypto_generichash_update(&h, (const uint8_t *)tag, strlen(tag));
    crypto_generichash_update(&h, &z, 1);
    crypto_generichash_update(&h, (const uint8_t *)a, strlen(a));
    crypto_generichash_update(&h, &z, 1);
    crypto_generichash_update(&h, r, sizeof r);
    if (b) crypto_generichash_update(&h, (const uint8_t *)b, strlen(b));
    crypto_generichash_final(&h, out, sizeof out);
    uint64_t x = zt_get_be64(out);
    sodium_memzero(&h, sizeof h);
    return x;
}

enum zt_verify_reason zt_verifier_sample(struct zt_verifier *v, const char *job_id, const char *worker,
                                         int64_t now_ms)
{
    if (!v || !job_id || v->o.off) return ZT_VERIFY_NONE;
    enum zt_verify_reason why = ZT_VERIFY_NONE;
    pthread_mutex_lock(&v->reg->mu);
    struct orch_node *n = worker ? orch_node_find(v->reg, worker) : NULL;
    if (v->o.new_worker_jobs && (!n || n->verified < v->o.new_worker_jobs)) why = ZT_VERIFY_NEW_WORKER;
    else if (n && v->o.low_reputation > 0 && orch_node_rep(v->reg, n, now_ms) < v->o.low_reputation)
        why = ZT_VERIFY_LOW_REPUTATION;
    else if (v->o.rate > 0 && (double)(draw(v, "sample", job_id, 0, NULL) >> 11) * 0x1p-53 < v->o.rate)
        why = ZT_VERIFY_SAMPLED;
    if (why != ZT_VERIFY_NONE) v->st.sampled++;
    pthread_mutex_unlock(&v->reg->mu);
    return why;
}

static bool excluded(const char *id, const char *const *ex, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ex[i] && strcmp(ex[i], id) == 0) return true;
    return false;
}

int zt_verifier_pick(struct zt_verifier *v, const char *job_id, unsigned round, const char *model, const char *engine,
                     const char *const *exclude, size_t n_exclude, int64_t now_ms, struct zt_node_info *out)
{
    if (!v || !job_id || !model || !out || (n_exclude && !exclude)) return ZT_EINVAL;
    char best[ZT_IDENTITY_ID_SIZE] = "";
    uint64_t best_h = 0;
    bool best_free = false;
    pthread_mutex_lock(&v->reg->mu);
    struct orch_model *m = orch_model_get(v->reg, model, false);
    for (size_t i = 0; m && i < m->n; i++) {
        struct orch_node *n = m->nodes[i];
        if (!orch_node_eligible(v->reg, n, now_ms) || excluded(n->id, exclude, n_exclude)) continue;
        if (engine && engine[0] && strcmp(n->caps.engine, engine) != 0) continue;
        bool fr = orch_node_free_slots(n) > 0;
        uint64_t h = draw(v, "pick", job_id, round, n->id);
        /* a free slot first, then the smallest keyed hash */
        if (!best[0] || (fr && !best_free) || (fr == best_free && h < best_h)) {
            zt_strlcpy(best, n->id, sizeof best);
            best_h = h;
            best_free = fr;
        }
    }
    pthread_mutex_unlock(&v->reg->mu);
    if (!best[0]) return ZT_ENOTFOUND;
    return zt_registry_get(v->reg, best, now_ms, out);
}

/* Report o for node id (if known); the first error wins in *rc. With
 * reg->mu held. */
static void charge(struct zt_verifier *v, const char *id, enum zt_outcome o, int64_t now, int *rc)
{
    if (!id || !id[0]) return;
    struct orch_node *n = orch_node_find(v->reg, id);
    int e = n ? orch_node_report(v->reg, n, o, now) : ZT_ENOTFOUND;
    if (e && e != ZT_ENOTFOUND && !*rc) *rc = e;
    if (o == ZT_OUTCOME_CHEAT || o == ZT_OUTCOME_MISMATCH)
        zt_log(ZT_LOG_WARN, "verification_charged", "node=%s outcome=%s", id,
               o == ZT_OUTCOME_CHEAT ? "cheat" : "mismatch");
}

/* One settlement: what zt_verifier_settle was given, and what its writes did. */
struct settle {
    struct zt_verifier *v;
    struct zt_sched *s;
    const struct zt__settle_req *q;
    bool moved;                           /* the job moved now: the hook's cue (once per job) */
    char rejected[ZT_IDENTITY_ID_SIZE];   /* moved to failed: its worker (the scheduler's hook) */
};

static bool settle_req_ok(const struct zt__settle_req *q)
{
    return q && q->v && q->s && q->job_id && (!q->n_workers || q->workers) &&
           (!q->n_checkers || (q->checkers && q->wrong)) && q->verdict <= ZT_VERDICT_UNDECIDED;
}

/* The settlement's store writes, with reg->mu held: the job's move and the
 * nodes' reputations. Each is tried; the first error is returned. */
static int settle_locked(struct settle *a)
{
    const struct zt__settle_req *q = a->q;
    int rc = 0, e;
    char w[ZT_IDENTITY_ID_SIZE];
    a->moved = false;
    a->rejected[0] = '\0';
    switch (q->verdict) {
    case ZT_VERDICT_AGREED:
    case ZT_VERDICT_CHECKER_WRONG:
        /* done -> verified: the job's (last) worker earns VERIFIED; a job
         * the store does not know (or that moved) charges the nodes only */
        e = orch_sched_verdict_locked(a->s, q->job_id, ZT_JOB_STATE_VERIFIED, ZT_OUTCOME_VERIFIED, q->now_ms, w);
        a->moved = !e;
        if (e == ZT_ENOTFOUND || e == ZT_EINVAL)
            charge(a->v, q->n_workers ? q->workers[0] : NULL, ZT_OUTCOME_VERIFIED, q->now_ms, &rc);
        else if (e) rc = e;
        break;
    case ZT_VERDICT_WORKER_WRONG: {
        enum zt_outcome o = q->n_workers <= 1 ? ZT_OUTCOME_CHEAT : ZT_OUTCOME_MISMATCH;
        e = orch_sched_verdict_locked(a->s, q->job_id, ZT_JOB_STATE_FAILED, o, q->now_ms, w);
        a->moved = !e;
        if (!e) zt_strlcpy(a->rejected, w, sizeof a->rejected);
        if (e == ZT_ENOTFOUND || e == ZT_EINVAL) charge(a->v, q->n_workers ? q->workers[0] : NULL, o, q->now_ms, &rc);
        else if (e) rc = e;
        zt_log(ZT_LOG_WARN, "verification_charged", "node=%s outcome=%s job=%s",
               q->n_workers ? q->workers[0] : "-", o == ZT_OUTCOME_CHEAT ? "cheat" : "mismatch", q->job_id);
        for (size_t i = 1; i < q->n_workers; i++) charge(a->v, q->workers[i], o, q->now_ms, &rc);
        break;
    }
    case ZT_VERDICT_UNDECIDED:
        for (size_t i = 0; i < q->n_workers; i++) charge(a->v, q->workers[i], ZT_OUTCOME_MISMATCH, q->now_ms, &rc);
        break;
    }
    for (size_t i = 0; i < q->n_checkers; i++)
        charge(a->v, q->checkers[i],
               q->verdict == ZT_VERDICT_UNDECIDED ? ZT_OUTCOME_MISMATCH
               : q->wrong[i]                      ? ZT_OUTCOME_CHEAT
                                                  : ZT_OUTCOME_COMPLETED,
               q->now_ms, &rc);
    return rc;
}

/* The node's hooks (the ledger: the scheduler's slash of a rejected
 * worker, the verifier's bonus and slash), outside the lock; rejected is
 * the worker of a job moved to failed ("" none), moved whether the job
 * moved. The ledger's entries are keyed by the job id, so a call repeated
 * for the same job pays nothing twice (zt_chain_verified). 0, or the
 * verifier hook's error (not done: run it again later). */
static int settle_hooks(struct zt_verifier *v, struct zt_sched *s, const char *job_id, enum zt_verify_verdict verdict,
                        const char *worker, const char *const *honest, size_t n_honest, const char *rejected,
                        bool moved)
{
    if (rejected[0]) orch_sched_rejected_hook(s, job_id, rejected);
    pthread_mutex_lock(&v->reg->mu);
    zt_verifier_verdict_fn hook = v->on_settled;
    void *hook_ud = v->on_settled_ud;
    pthread_mutex_unlock(&v->reg->mu);
    if (hook && moved && worker && worker[0]) return hook(hook_ud, job_id, verdict, worker, honest, n_honest);
    return 0;
}

/* The checkers in q's majority (not wrong), at most ZT_VERIFIER_HONEST_MAX. */
static size_t honest_of(const struct zt__settle_req *q, const char **honest)
{
    size_t nh = 0;
    for (size_t i = 0; i < q->n_checkers && nh < ZT_VERIFIER_HONEST_MAX; i++)
        if (!q->wrong[i]) honest[nh++] = q->checkers[i];
    return nh;
}

static int settle_req_hooks(struct zt_verifier *v, struct zt_sched *s, const struct zt__settle_req *q,
                            const char *rejected, bool moved)
{
    const char *honest[ZT_VERIFIER_HONEST_MAX];
    size_t nh = honest_of(q, honest);
    return settle_hooks(v, s, q->job_id, q->verdict, q->n_workers ? q->workers[0] : NULL, honest, nh, rejected,
                        moved);
}

/* An outbox row's hooks (it moved the job, or it would not be written). */
static int outbox_hooks(struct zt_verifier *v, struct zt_sched *s, const struct zt__outbox_row *row)
{
    const char *honest[ZT_VERIFIER_HONEST_MAX];
    for (size_t i = 0; i < row->n_honest; i++) honest[i] = row->honest[i];
    return settle_hooks(v, s, row->job_id, row->verdict, row->worker, honest, row->n_honest, row->rejected, true);
}

/* The counters, once a settlement is made. */
static void settle_count(struct zt_verifier *v, enum zt_verify_verdict verdict)
{
    pthread_mutex_lock(&v->reg->mu);
    if (verdict == ZT_VERDICT_AGREED) v->st.agreed++;
    else if (verdict == ZT_VERDICT_WORKER_WRONG) v->st.worker_wrong++;
    else if (verdict == ZT_VERDICT_CHECKER_WRONG) v->st.checker_wrong++;
    else v->st.undecided++;
    pthread_mutex_unlock(&v->reg->mu);
}

int zt_verifier_settle(struct zt_verifier *v, struct zt_sched *s, const char *job_id, enum zt_verify_verdict verdict,
                       const char *const *workers, size_t n_workers, const char *const *checkers, const bool *wrong,
                       size_t n_checkers, int64_t now_ms)
{
    const struct zt__settle_req q = {.v = v, .s = s, .job_id = job_id, .verdict = verdict, .workers = workers,
                                     .n_workers = n_workers, .checkers = checkers, .wrong = wrong,
                                     .n_checkers = n_checkers, .now_ms = now_ms};
    if (!settle_req_ok(&q)) return ZT_EINVAL;
    struct settle a = {.v = v, .s = s, .q = &q};
    pthread_mutex_lock(&v->reg->mu);
    int rc = settle_locked(&a);
    pthread_mutex_unlock(&v->reg->mu);
    settle_count(v, verdict);
    zt_ignore(settle_req_hooks(v, s, &q, a.rejected, a.moved)); /* the hook logs its failure */
    return rc;
}

/* zt__verifier_settle_evidence's transaction: the settlement's writes and,
 * when a hook has something to do, its outbox row (a->row, a->e). */
struct settle_tx {
    struct settle a;
    struct zt__evidence *e;
    struct zt__outbox_row row;
    bool has_row;
};

static int settle_tx_body(void *ud)
{
    struct settle_tx *t = ud;
    int rc = settle_locked(&t->a);
    if (rc) return rc;
    const struct zt__settle_req *q = t->a.q;
    struct zt__outbox_row *row = &t->row;
    memset(row, 0, sizeof *row);
    /* the verifier's hook runs for a moved job with a worker
     * (zt_verifier.h); the row carries the scheduler's rejected worker
     * too. Without a verifier hook no row (nothing for a sweeper to pay):
     * the scheduler's hook alone runs after the commit, once. */
    t->has_row = t->a.moved && q->n_workers && t->a.v->on_settled; /* reg->mu held */
    if (!t->has_row) return 0;
    zt_strlcpy(row->job_id, q->job_id, sizeof row->job_id);
    row->verdict = q->verdict;
    if (zt_strlcpy(row->worker, q->workers[0], sizeof row->worker) >= sizeof row->worker) return ZT_EINVAL;
    zt_strlcpy(row->rejected, t->a.rejected, sizeof row->rejected);
    const char *honest[ZT_VERIFIER_HONEST_MAX];
    size_t nh = honest_of(q, honest);
    for (size_t i = 0; i < nh; i++)
        if (zt_strlcpy(row->honest[i], honest[i], sizeof row->honest[i]) >= sizeof row->honest[i]) return ZT_EINVAL;
    row->n_honest = nh;
    return zt__evidence_outbox_put(t->e, row);
}

/* A leased outbox row's hooks, then the row deleted (a hook that failed:
 * left, its lease passes, a sweep runs it again). */
static int outbox_run(struct zt__evidence *e, struct zt_verifier *v, struct zt_sched *s,
                      const struct zt__outbox_row *row)
{
    int rc = outbox_hooks(v, s, row);
    if (rc) {
        zt_log_rl(ZT_LOG_WARN, 1, "settle_outbox_hook_failed", "job=%s error=%s (run again after its lease)",
                  row->job_id, zt_strerror(rc));
        return rc;
    }
    rc = zt__evidence_outbox_done(e, row->job_id);
    if (rc) /* run again after its lease: the ledger's job-id keys make it a no-op */
        zt_log_rl(ZT_LOG_WARN, 1, "settle_outbox_done_failed", "job=%s error=%s", row->job_id, zt_strerror(rc));
    return rc;
}

int zt__verifier_outbox_sweep(struct zt__evidence *e, struct zt_verifier *v, struct zt_sched *s, size_t max,
                              size_t *ran)
{
    if (ran) *ran = 0;
    if (!e || !v || !s) return ZT_EINVAL;
    pthread_mutex_lock(&v->reg->mu);
    bool hooked = v->on_settled != NULL;
    pthread_mutex_unlock(&v->reg->mu);
    if (!hooked) return 0;
    /* on the pump's thread (placement waits): the sweep stops at the first
     * hook that fails (the ledger is down or stuck: the next row would
     * wait as long; the rows keep their leases and a later sweep runs them)
     * and once it ran OUTBOX_SWEEP_BUDGET_MS (review11 F5) */
    uint64_t until = zt_time_mono_ms() + OUTBOX_SWEEP_BUDGET_MS;
    for (size_t i = 0; i < max; i++) {
        struct zt__outbox_row row;
        int rc = zt__evidence_outbox_next(e, &row);
        if (rc == ZT_ENOTFOUND) return 0;
        if (rc) return rc;
        zt_log(ZT_LOG_INFO, "settle_outbox_sweep", "job=%s verdict=%d (left by a crash or a failed hook)",
               row.job_id, (int)row.verdict);
        rc = outbox_run(e, v, s, &row);
        if (rc) return rc;
        if (ran) (*ran)++;
        if (zt_time_mono_ms() >= until) break;
    }
    return 0;
}

/* zt__verifier_settle_evidence (id: the claim) and zt__verifier_settle_local
 * (id NULL: no claim), one path. */
static int settle_committed(struct zt__evidence *e, const uint8_t *id, const struct zt__settle_req *q)
{
    if (!e) return ZT_EINVAL;
    if (!settle_req_ok(q) || orch_sched_store(q->s) != q->v->reg->st) {
        if (id) zt__evidence_settle(e, id, false);
        return ZT_EINVAL;
    }
    /* 1. the job's move and the reputations with the claim marked used,
     * and the outbox row of what the hooks must do, one transaction (only
     * the holder of the claim commits it) */
    struct settle_tx t = {.a = {.v = q->v, .s = q->s, .q = q}, .e = e};
    int rc = zt__evidence_commit(e, id, settle_tx_body, &t);
    if (rc) return rc;
    settle_count(q->v, q->verdict);
    /* 2. then the node's hooks (the ledger's slash and bonus), from the
     * committed row: only a committed verdict is ever paid (review10 F2).
     * The ledger is another store handle (its own connection, or another
     * database) and cannot join the transaction: a crash before the row is
     * deleted leaves it to a sweeper (zt__verifier_outbox_sweep), and the
     * ledger's job-id keys make a second run pay nothing */
    if (t.has_row) zt_ignore(outbox_run(e, q->v, q->s, &t.row)); /* logged; a sweep runs it again */
    else if (t.a.rejected[0]) orch_sched_rejected_hook(q->s, q->job_id, t.a.rejected);
    return 0;
}

int zt__verifier_settle_evidence(struct zt__evidence *e, const uint8_t id[static ZT__ONCE_ID_LEN],
                                 const struct zt__settle_req *q)
{
    return settle_committed(e, id, q);
}

int zt__verifier_settle_local(struct zt__evidence *e, const struct zt__settle_req *q)
{
    return settle_committed(e, NULL, q);
}

void zt_verifier_set_on_settled(struct zt_verifier *v, zt_verifier_verdict_fn fn, void *ud)
{
    if (!v) return;
    pthread_mutex_lock(&v->reg->mu);
    v->on_settled = fn;
    v->on_settled_ud = ud;
    pthread_mutex_unlock(&v->reg->mu);
}

void zt_verifier_stats(struct zt_verifier *v, struct zt_verifier_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!v) return;
    pthread_mutex_lock(&v->reg->mu);
    *out = v->st;
    pthread_mutex_unlock(&v->reg->mu);
}

void zt_verifier_note_unavailable(struct zt_verifier *v)
{
    if (!v) return;
    pthread_mutex_lock(&v->reg->mu);
    v->st.unavailable++;
    pthread_mutex_unlock(&v->reg->mu);
}

/* ---- metrics ------------------------------------------------------------------- */

static int m_verifications(void *ud, struct zt_metrics_out *out)
{
    struct zt_verifier_stats st;
    zt_verifier_stats(ud, &st);
    const uint64_t v[] = {st.agreed, st.worker_wrong, st.checker_wrong, st.undecided, st.unavailable};
    static const char *const names[] = {"outcome=\"agreed\"", "outcome=\"worker_wrong\"",
                                        "outcome=\"checker_wrong\"", "outcome=\"undecided\"",
                                        "outcome=\"no_verifier\""};
    int rc = 0;
    for (size_t i = 0; i < 5 && !rc; i++) rc = zt_metrics_emit_u64(out, NULL, names[i], v[i]);
    return rc;
}

int zt_verifier_register_metrics(struct zt_verifier *v, struct zt_metrics *m)
{
    return zt_metrics_add_fn(m, "zentalk_orchestrator_verifications_total",
                             "Jobs checked on other workers, by outcome (who was in the minority).", ZT_METRIC_COUNTER,
                             m_verifications, v);
}
