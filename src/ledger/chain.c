/* chain.c: chain.yaml's prices and the job path on the ledger (zt_ledger.h;
 * docs/internals/ledger.md "Pricing and the job path"): exact amounts from
 * the configuration, the estimate a job reserves at submission, its
 * settlement from the tokens it used, its refund, and the stake gate. */
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"
#include "zentalk/zt_config.h"

static int tokens(const char *key, const char *s, zt_u128 *out, char *why, size_t cap)
{
    if (s && zt_u128_parse_tokens(s, strlen(s), out) == 0) return 0;
    if (why && cap) snprintf(why, cap, "chain.%s: not an exact token amount", key);
    return ZT_ECONFIG;
}

int zt_ledger_prices_from_config(const struct zt_cfg_chain *c, struct zt_ledger_prices *out, char *why, size_t cap)
{
    if (!c || !out) return ZT_EINVAL;
    struct zt_ledger_prices p = {0};
    int rc;
    if ((rc = tokens("price_prompt_per_1k", c->price_prompt_per_1k, &p.prompt_per_1k, why, cap)) ||
        (rc = tokens("price_completion_per_1k", c->price_completion_per_1k, &p.completion_per_1k, why, cap)) ||
        (rc = tokens("min_payout", c->min_payout, &p.min_payout, why, cap)) ||
        (rc = tokens("verification_bonus", c->verification_bonus, &p.verification_bonus, why, cap)) ||
        (rc = tokens("slash_amount", c->slash_amount, &p.slash_amount, why, cap)) ||
        (rc = tokens("min_stake", c->min_stake, &p.min_stake, why, cap)))
        return rc;
    if (c->orchestrator_fee_bps < 0 || c->orchestrator_fee_bps > 10000 || c->dispute_window_s < 0) {
        if (why && cap) snprintf(why, cap, "chain: fee or dispute window out of range");
        return ZT_ECONFIG;
    }
    p.fee_bps = (uint32_t)c->orchestrator_fee_bps;
    p.dispute_window_ms = c->dispute_window_s * 1000;
    *out = p;
    return 0;
}

void zt_ledger_prices_at(const struct zt_ledger_prices *p, const struct zt_ledger_rate *rate,
                         struct zt_ledger_prices *out)
{
    *out = *p;
    if (!rate) return;
    out->prompt_per_1k = rate->prompt_per_1k;
    out->completion_per_1k = rate->completion_per_1k;
}

int zt_ledger_job_cost(const struct zt_ledger_prices *p, uint64_t prompt_tokens, uint64_t completion_tokens,
                       zt_u128 *cost, zt_u128 *fee)
{
    if (!p || !cost || !fee) return ZT_EINVAL;
    zt_u128 a, b, sum, c, f;
    int rc;
    if ((rc = zt_u128_mul(p->prompt_per_1k, prompt_tokens, &a)) ||
        (rc = zt_u128_mul(p->completion_per_1k, completion_tokens, &b)) || (rc = zt_u128_add(a, b, &sum)))
        return rc;
    c = sum / 1000 + (sum % 1000 != 0);
    /* c * bps / 10000 without overflow: split c into quotient and rest */
    f = (c / 10000) * p->fee_bps + (c % 10000) * p->fee_bps / 10000;
    *cost = c;
    *fee = f;
    return 0;
}

int zt_ledger_job_estimate(const struct zt_ledger_prices *p, uint64_t ctx_tokens, uint64_t max_tokens, zt_u128 *out)
{
    zt_u128 c, f, t;
    int rc = zt_ledger_job_cost(p, ctx_tokens, max_tokens, &c, &f);
    if (!rc) rc = zt_u128_add(c, f, &t);
    if (!rc && out) *out = t;
    return rc;
}

int zt_ledger_job_open(struct zt_ledger *l, const struct zt_ledger_prices *p, const char *job_id,
                       const char *user_addr, uint64_t ctx_tokens, uint64_t max_tokens, zt_u128 *reserved)
{
    if (!l || !p || !job_id || !user_addr) return ZT_EINVAL;
    zt_u128 amount;
    int64_t user;
    int rc = zt_ledger_job_estimate(p, ctx_tokens, max_tokens, &amount);
    if (rc) return rc;
    if (amount == 0) amount = 1; /* a reservation is never empty: free prices still leave a trace */
    if ((rc = zt_ledger_account(l, ZT_LEDGER_USER, user_addr, NULL, &user))) return rc;
    if ((rc = zt_ledger_reserve(l, job_id, user, amount))) return rc;
    if (reserved) *reserved = amount;
    return 0;
}

int zt_ledger_job_close(struct zt_ledger *l, const struct zt_ledger_prices *p, const char *job_id,
                        const char *node_id, uint64_t prompt_tokens, uint64_t completion_tokens, int64_t now_ms)
{
    if (!l || !p || !job_id || !node_id) return ZT_EINVAL;
    int64_t user, prov;
    zt_u128 reserved, cost, fee;
    int state;
    int rc = zt_ledger_escrow(l, job_id, &user, &reserved, &state);
    if (rc) return rc;
    if ((rc = zt_ledger_job_cost(p, prompt_tokens, completion_tokens, &cost, &fee))) return rc;
    if (cost > reserved) cost = reserved;
    if (fee > reserved - cost) fee = reserved - cost;
    if ((rc = zt_ledger_account(l, ZT_LEDGER_PROVIDER, node_id, NULL, &prov))) return rc;
    return zt_ledger_settle(l, job_id, prov, cost, fee, now_ms);
}

int zt_ledger_job_fail(struct zt_ledger *l, const char *job_id)
{
    return zt_ledger_refund(l, job_id);
}

int zt_ledger_stake_ok(struct zt_ledger *l, const struct zt_ledger_prices *p, const char *node_id, bool *ok)
{
    if (!l || !p || !node_id || !ok) return ZT_EINVAL;
    if (p->min_stake == 0) {
        *ok = true;
        return 0;
    }
    if (!zt__ledger_printable_id(node_id, ZT_LEDGER_KEY_MAX)) return ZT_EINVAL;
    struct zt_ledger_bal b = {0};
    int rc = zt__ledger_find_balance(l, ZT_LEDGER_STAKE, node_id, &b); /* read-only: placement calls it */
    if (rc == ZT_ENOTFOUND) { /* never staked */
        rc = 0;
        b.mag = 0;
    }
    if (rc) return rc;
    *ok = !b.neg && b.mag >= p->min_stake;
    return 0;
}
