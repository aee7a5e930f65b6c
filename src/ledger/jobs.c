/* jobs.c: escrow per job id, settlement, refund, stake and slash
 * (zt_ledger.h). Each is one zt_store_tx whose ledger transaction carries
 * the key "<op>:<job id>", so a repeat is a replay and never moves money
 * twice; ledger_escrows holds each job's reservation and state. */
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"

enum { ESC_RESERVED = 1, ESC_SETTLED = 2, ESC_REFUNDED = 3 };

static bool job_ok(const char *job)
{
    return zt__ledger_printable_id(job, ZT_LEDGER_JOB_MAX);
}

struct job_args {
    struct zt_ledger *l;
    const char *job;
    int64_t user, provider;
    zt_u128 amount, cost, fee;
    int64_t now_ms;
    const int64_t *verifiers;
    size_t n_verifiers;
    /* the job's escrow row, by esc_load */
    int64_t esc_user;
    zt_u128 esc_amount;
    int esc_state;
    /* job_tx: what runs in the transaction, with the rc of esc_load */
    int (*body)(struct job_args *a, int esc_rc);
};

/* the escrow row of job: ZT_ENOTFOUND */
static int esc_get(struct zt_ledger *l, const char *job, int64_t *user, zt_u128 *amount, int *state)
{
    struct zt_store_stmt *q = l->q_esc_get;
    int rc = zt_store_bind_text(q, 1, job, SIZE_MAX);
    if (!rc) rc = zt__ledger_row(q);
    if (rc) goto out;
    int64_t st;
    const char *s;
    size_t n;
    if ((rc = zt_store_column_i64(q, 0, user)) || (rc = zt_store_column_text(q, 1, &s, &n)) ||
        (rc = zt_store_column_i64(q, 2, &st)))
        goto out;
    if (zt_u128_parse(s, n, amount)) rc = ZT_EIO;
    *state = (int)st;
out:
    zt_store_reset(q);
    return rc;
}

static int esc_load(struct job_args *a)
{
    return esc_get(a->l, a->job, &a->esc_user, &a->esc_amount, &a->esc_state);
}

static int esc_set(struct zt_ledger *l, const char *job, int state)
{
    int rc;
    if ((rc = zt_store_bind_i64(l->q_esc_set, 1, state)) || (rc = zt_store_bind_text(l->q_esc_set, 2, job, SIZE_MAX)))
        return rc;
    return zt__ledger_run(l->q_esc_set);
}


static void job_key(char *key, size_t cap, const char *op, const char *job)
{
    snprintf(key, cap, "%s:%s", op, job);
}

static int job_tx_run(struct zt_store *st, void *ud)
{
    (void)st;
    struct job_args *a = ud;
    return a->body(a, esc_load(a));
}

/* One zt_store_tx for an operation on a->job: body, after loading the
 * job's escrow row (its rc: 0 or ZT_ENOTFOUND, or an error). */
static int job_tx(struct job_args *a, int (*body)(struct job_args *a, int esc_rc))
{
    a->body = body;
    return zt__ledger_write_tx(a->l, job_tx_run, a);
}

/* Post op's ledger transaction for a->job, keyed "<op>:<job>" so that a
 * repeat is a replay (*replayed). */
static int post_job_tx(struct job_args *a, const char *op, const struct zt_ledger_entry *e, size_t n, bool *replayed)
{
    char key[ZT_LEDGER_KEY_MAX + 1];
    job_key(key, sizeof key, op, a->job);
    int64_t tx;
    return zt__ledger_post_tx(a->l, key, op, false, e, n, &tx, replayed);
}

static int reserve_body(struct job_args *a, int rc)
{
    struct zt_ledger *l = a->l;
    if (rc == 0) return a->esc_user == a->user && a->esc_amount == a->amount ? 0 : ZT_EEXIST;
    if (rc != ZT_ENOTFOUND) return rc;
    char as[ZT_U128_STR_LEN];
    zt_u128_format(a->amount, as);
    if ((rc = zt_store_bind_text(l->q_esc_ins, 1, a->job, SIZE_MAX)) || (rc = zt_store_bind_i64(l->q_esc_ins, 2, a->user)) ||
        (rc = zt_store_bind_text(l->q_esc_ins, 3, as, SIZE_MAX)) || (rc = zt__ledger_run(l->q_esc_ins)))
        return rc;
    struct zt_ledger_entry e[2] = {{a->user, a->amount, false}, {l->escrow_id, a->amount, true}};
    bool rep;
    return post_job_tx(a, "reserve", e, 2, &rep);
}

int zt_ledger_reserve(struct zt_ledger *l, const char *job_id, int64_t user, zt_u128 amount)
{
    if (!l || !job_ok(job_id) || amount == 0) return ZT_EINVAL;
    struct job_args a = {.l = l, .job = job_id, .user = user, .amount = amount};
    return job_tx(&a, reserve_body);
}

static int settle_body(struct job_args *a, int rc)
{
    struct zt_ledger *l = a->l;
    zt_u128 used, rest;
    if (rc) return rc;
    if (a->esc_state == ESC_REFUNDED) return ZT_EPERM;
    if ((rc = zt_u128_add(a->cost, a->fee, &used)) || (rc = zt_u128_sub(a->esc_amount, used, &rest))) return ZT_ERANGE;
    struct zt_ledger_entry e[4];
    size_t n = 0;
    e[n++] = (struct zt_ledger_entry){l->escrow_id, a->esc_amount, false};
    if (a->cost) e[n++] = (struct zt_ledger_entry){a->provider, a->cost, true};
    if (a->fee) e[n++] = (struct zt_ledger_entry){l->fee_id, a->fee, true};
    if (rest) e[n++] = (struct zt_ledger_entry){a->esc_user, rest, true};
    bool rep;
    if ((rc = post_job_tx(a, "settle", e, n, &rep))) return rc;
    if (rep) return 0;
    if (a->esc_state != ESC_RESERVED) return ZT_EIO;
    if ((rc = esc_set(l, a->job, ESC_SETTLED))) return rc;
    if (!a->cost) return 0;
    char cs[ZT_U128_STR_LEN];
    zt_u128_format(a->cost, cs);
    struct zt_store_stmt *q = l->q_earn_ins;
    if ((rc = zt_store_bind_i64(q, 1, a->provider)) || (rc = zt_store_bind_text(q, 2, a->job, SIZE_MAX)) ||
        (rc = zt_store_bind_text(q, 3, cs, SIZE_MAX)) || (rc = zt_store_bind_i64(q, 4, a->now_ms)))
        return rc;
    return zt__ledger_run(q);
}

int zt_ledger_settle(struct zt_ledger *l, const char *job_id, int64_t provider, zt_u128 cost, zt_u128 fee,
                     int64_t now_ms)
{
    if (!l || !job_ok(job_id)) return ZT_EINVAL;
    int kind;
    struct zt_ledger_bal b;
    int rc = zt__ledger_get_bal(l, provider, &kind, &b);
    if (rc) return rc == ZT_ENOTFOUND ? ZT_EINVAL : rc;
    if (kind != ZT_LEDGER_PROVIDER) return ZT_EINVAL;
    struct job_args a = {.l = l, .job = job_id, .provider = provider, .cost = cost, .fee = fee, .now_ms = now_ms};
    return job_tx(&a, settle_body);
}

static int refund_body(struct job_args *a, int rc)
{
    struct zt_ledger *l = a->l;
    if (rc) return rc;
    if (a->esc_state == ESC_SETTLED) return ZT_EPERM;
    struct zt_ledger_entry e[2] = {{l->escrow_id, a->esc_amount, false}, {a->esc_user, a->esc_amount, true}};
    bool rep;
    if ((rc = post_job_tx(a, "refund", e, 2, &rep))) return rc;
    if (rep) return 0;
    return esc_set(l, a->job, ESC_REFUNDED);
}

int zt_ledger_refund(struct zt_ledger *l, const char *job_id)
{
    if (!l || !job_ok(job_id)) return ZT_EINVAL;
    struct job_args a = {.l = l, .job = job_id};
    return job_tx(&a, refund_body);
}

int zt_ledger_stake(struct zt_ledger *l, const char *key, const char *node_id, zt_u128 amount)
{
    if (!l) return ZT_EINVAL;
    int64_t prov, stake;
    int rc;
    if ((rc = zt_ledger_account(l, ZT_LEDGER_PROVIDER, node_id, NULL, &prov)) ||
        (rc = zt_ledger_account(l, ZT_LEDGER_STAKE, node_id, NULL, &stake)))
        return rc;
    struct zt_ledger_entry e[2] = {{prov, amount, false}, {stake, amount, true}};
    return zt_ledger_post(l, key, "stake", e, 2, NULL, NULL);
}

int zt_ledger_slash(struct zt_ledger *l, const char *job_id, const char *node_id, zt_u128 amount,
                    const int64_t *verifiers, size_t n_verifiers)
{
    if (!l || !job_ok(job_id) || (n_verifiers && !verifiers) || n_verifiers > 16) return ZT_EINVAL;
    int64_t stake;
    int rc = zt_ledger_account(l, ZT_LEDGER_STAKE, node_id, NULL, &stake);
    if (rc) return rc;
    struct zt_ledger_entry e[18];
    size_t n = 0;
    zt_u128 share = n_verifiers ? amount / n_verifiers : 0, rem = n_verifiers ? amount % n_verifiers : amount;
    e[n++] = (struct zt_ledger_entry){stake, amount, false};
    if (share)
        for (size_t i = 0; i < n_verifiers; i++) e[n++] = (struct zt_ledger_entry){verifiers[i], share, true};
    if (rem) e[n++] = (struct zt_ledger_entry){l->treasury_id, rem, true};
    char key[ZT_LEDGER_KEY_MAX + 1];
    job_key(key, sizeof key, "slash", job_id);
    return zt_ledger_post(l, key, "slash", e, n, NULL, NULL);
}

int zt_ledger_escrow(struct zt_ledger *l, const char *job_id, int64_t *user, zt_u128 *amount, int *state)
{
    if (!l || !job_ok(job_id) || !user || !amount || !state) return ZT_EINVAL;
    int64_t u;
    zt_u128 a;
    int s;
    int rc = esc_get(l, job_id, &u, &a, &s);
    if (rc) return rc;
    *user = u;
    *amount = a;
    *state = s;
    return 0;
}

int zt_ledger_stake_deposit(struct zt_ledger *l, const char *key, const char *node_id, zt_u128 amount,
                            bool *replayed)
{
    if (!l || !key || amount == 0) return ZT_EINVAL;
    char k[ZT_LEDGER_KEY_MAX + 1];
    int n = snprintf(k, sizeof k, "stake:%s", key);
    if (n < 0 || (size_t)n >= sizeof k) return ZT_EINVAL;
    int64_t stake;
    int rc = zt_ledger_account(l, ZT_LEDGER_STAKE, node_id, NULL, &stake);
    if (rc) return rc;
    return zt_ledger_mint(l, k, stake, amount, NULL, replayed);
}

int zt_ledger_set_wallet(struct zt_ledger *l, const char *node_id, const char *address)
{
    int64_t id;
    if (!address) return ZT_EINVAL;
    return zt_ledger_account(l, ZT_LEDGER_PROVIDER, node_id, address, &id);
}

/* ---- a confirmed mismatch: slash the stake, claw back the unpaid earning --------- */

struct penalize_args {
    struct zt_ledger *l;
    const char *job, *node;
    zt_u128 amount;
    const int64_t *verifiers;
    size_t n_verifiers;
    struct zt_ledger_slash_result r;
};

/* the job's earning when no batch holds it yet: ZT_ENOTFOUND otherwise */
static int unpaid_earning(struct zt_store *st, const char *job, int64_t *id, int64_t *provider, zt_u128 *amount)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st,
                              "SELECT e.id, e.provider_id, e.amount FROM ledger_earnings e WHERE e.job_id = ? AND"
                              " NOT EXISTS (SELECT 1 FROM ledger_batch_items b WHERE b.earning_id = e.id)",
                              &q);
    if (rc) return rc;
    const char *s;
    size_t n;
    if (!(rc = zt_store_bind_text(q, 1, job, SIZE_MAX)) && !(rc = zt__ledger_row(q)) &&
        !(rc = zt_store_column_i64(q, 0, id)) && !(rc = zt_store_column_i64(q, 1, provider)) &&
        !(rc = zt_store_column_text(q, 2, &s, &n)) && zt_u128_parse(s, n, amount))
        rc = ZT_EIO;
    zt_store_stmt_free(q);
    return rc;
}

static int penalize_body(struct zt_store *st, void *ud)
{
    struct penalize_args *a = ud;
    struct zt_ledger *l = a->l;
    char key[ZT_LEDGER_KEY_MAX + 1];
    job_key(key, sizeof key, "slash", a->job);
    a->r = (struct zt_ledger_slash_result){0};
    /* done before (the slash's key, or the clawback's alone when the stake was empty) */
    struct zt_store_stmt *q = l->q_tx_get;
    char ckey[ZT_LEDGER_KEY_MAX + 1];
    job_key(ckey, sizeof ckey, "clawback", a->job);
    for (int i = 0; i < 2; i++) {
        int rc = zt_store_bind_text(q, 1, i ? ckey : key, SIZE_MAX);
        if (!rc) rc = zt__ledger_row(q);
        zt_store_reset(q);
        if (!rc) {
            a->r.replayed = true;
            return 0;
        }
        if (rc != ZT_ENOTFOUND) return rc;
    }
    /* the stake: at most what it holds */
    int64_t stake;
    struct zt_ledger_bal sb;
    int rc = zt_ledger_account(l, ZT_LEDGER_STAKE, a->node, NULL, &stake);
    if (!rc) rc = zt__ledger_get_bal(l, stake, NULL, &sb);
    if (rc) return rc;
    zt_u128 take = sb.neg ? 0 : sb.mag < a->amount ? sb.mag : a->amount;
    if (take) {
        struct zt_ledger_entry e[18];
        size_t n = 0;
        zt_u128 share = a->n_verifiers ? take / a->n_verifiers : 0;
        zt_u128 rem = a->n_verifiers ? take % a->n_verifiers : take;
        e[n++] = (struct zt_ledger_entry){stake, take, false};
        if (share)
            for (size_t i = 0; i < a->n_verifiers; i++) e[n++] = (struct zt_ledger_entry){a->verifiers[i], share, true};
        if (rem) e[n++] = (struct zt_ledger_entry){l->treasury_id, rem, true};
        int64_t tx;
        bool rep;
        if ((rc = zt__ledger_check_body(key, "slash", false, e, n, n)) ||
            (rc = zt__ledger_post_tx(l, key, "slash", false, e, n, &tx, &rep)))
            return rc;
        a->r.slashed = take;
    }
    /* the earning not yet paid out goes back to the job's payer */
    int64_t eid, prov, user;
    zt_u128 earned, reserved;
    int state;
    rc = unpaid_earning(st, a->job, &eid, &prov, &earned);
    if (rc == ZT_ENOTFOUND) return 0;
    if (rc) return rc;
    if ((rc = esc_get(l, a->job, &user, &reserved, &state))) return rc == ZT_ENOTFOUND ? ZT_EIO : rc;
    struct zt_ledger_bal pb;
    if ((rc = zt__ledger_get_bal(l, prov, NULL, &pb))) return rc;
    if (pb.neg || pb.mag < earned) return 0; /* spent (staked) meanwhile: the stake's slash stands alone */
    struct zt_ledger_entry c[2] = {{prov, earned, false}, {user, earned, true}};
    int64_t tx;
    bool rep;
    if ((rc = zt__ledger_check_body(ckey, "clawback", false, c, 2, 2)) ||
        (rc = zt__ledger_post_tx(l, ckey, "clawback", false, c, 2, &tx, &rep)))
        return rc;
    struct zt_store_stmt *d = NULL;
    if ((rc = zt_store_prepare(st, "DELETE FROM ledger_earnings WHERE id = ?", &d))) return rc;
    if (!(rc = zt_store_bind_i64(d, 1, eid))) rc = zt__ledger_run(d);
    zt_store_stmt_free(d);
    if (!rc) a->r.clawed_back = earned;
    return rc;
}

int zt_ledger_penalize(struct zt_ledger *l, const char *job_id, const char *node_id, zt_u128 amount,
                       const int64_t *verifiers, size_t n_verifiers, struct zt_ledger_slash_result *out)
{
    if (!l || !job_ok(job_id) || !zt__ledger_printable_id(node_id, ZT_LEDGER_KEY_MAX) ||
        (n_verifiers && !verifiers) || n_verifiers > 16)
        return ZT_EINVAL;
    struct penalize_args a = {.l = l, .job = job_id, .node = node_id, .amount = amount, .verifiers = verifiers,
                              .n_verifiers = n_verifiers};
    int rc = zt__ledger_write_tx(l, penalize_body, &a);
    if (!rc && out) *out = a.r;
    return rc;
}

/* ---- the verification bonus: the fee account pays the checkers --------------------- */

struct bonus_args {
    struct zt_ledger *l;
    const char *job;
    zt_u128 bonus;
    const int64_t *verifiers;
    size_t n;
    zt_u128 paid; /* to each */
    bool replayed;
};

static int bonus_body(struct zt_store *st, void *ud)
{
    (void)st;
    struct bonus_args *a = ud;
    struct zt_ledger *l = a->l;
    char key[ZT_LEDGER_KEY_MAX + 1];
    job_key(key, sizeof key, "vbonus", a->job);
    a->paid = 0;
    a->replayed = false;
    struct zt_store_stmt *q = l->q_tx_get;
    int rc = zt_store_bind_text(q, 1, key, SIZE_MAX);
    if (!rc) rc = zt__ledger_row(q);
    zt_store_reset(q);
    if (!rc) {
        a->replayed = true;
        return 0;
    }
    if (rc != ZT_ENOTFOUND) return rc;
    /* each checker at most its share of what the fee account holds */
    struct zt_ledger_bal fb;
    if ((rc = zt__ledger_get_bal(l, l->fee_id, NULL, &fb))) return rc;
    zt_u128 each = fb.neg ? 0 : fb.mag / a->n;
    if (each > a->bonus) each = a->bonus;
    if (!each) return 0; /* an empty fee account pays nothing (logged by the caller) */
    struct zt_ledger_entry e[17];
    size_t n = 0;
    e[n++] = (struct zt_ledger_entry){l->fee_id, each * a->n, false};
    for (size_t i = 0; i < a->n; i++) e[n++] = (struct zt_ledger_entry){a->verifiers[i], each, true};
    int64_t tx;
    bool rep;
    if ((rc = zt__ledger_check_body(key, "verification_bonus", false, e, n, n)) ||
        (rc = zt__ledger_post_tx(l, key, "verification_bonus", false, e, n, &tx, &rep)))
        return rc;
    a->paid = each;
    return 0;
}

int zt_ledger_verification_bonus(struct zt_ledger *l, const char *job_id, zt_u128 bonus, const int64_t *verifiers,
                                 size_t n_verifiers, zt_u128 *paid_each, bool *replayed)
{
    if (!l || !job_ok(job_id) || !verifiers || n_verifiers == 0 || n_verifiers > 16) return ZT_EINVAL;
    struct bonus_args a = {.l = l, .job = job_id, .bonus = bonus, .verifiers = verifiers, .n = n_verifiers};
    int rc = bonus ? zt__ledger_write_tx(l, bonus_body, &a) : 0;
    if (rc) return rc;
    if (paid_each) *paid_each = a.paid;
    if (replayed) *replayed = a.replayed;
    return 0;
}
