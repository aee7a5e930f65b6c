/* books.c: the node's ledger for the gateway's job path (zt_ledger.h
 * "the node's books"): one store handle and one struct zt_ledger behind a
 * mutex (a ledger is not thread-safe; the gateway settles from its pool
 * threads), chain.yaml's prices, and the mapping of a caller to the
 * account that pays: a wallet session's "wallet:0x..." identity. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_time.h"

struct zt_chain {
    atomic_uint_fast64_t reserved, settled, refunded, refused, deposits; /* /metrics */
    pthread_mutex_t mu;
    struct zt_store *st;
    struct zt_ledger *l;
    struct zt_ledger_prices prices;
};

int zt_chain_open(const struct zt_config *cfg, struct zt_chain **out, struct zt_buf *err)
{
    if (!cfg || !out) return ZT_EINVAL;
    struct zt_chain *c = zt_calloc(1, sizeof *c);
    if (!c) return ZT_ENOMEM;
    char why[128] = "";
    int rc = zt_ledger_prices_from_config(&cfg->chain, &c->prices, why, sizeof why);
    if (rc) {
        zt_buf_sayf(err, "%s", why);
        zt_free(c);
        return rc;
    }
    if ((rc = zt_store_open_config(cfg, NULL, &c->st, err))) {
        zt_free(c);
        return rc;
    }
    if ((rc = zt_ledger_new(c->st, &c->l))) {
        zt_buf_sayf(err, "the ledger: %s", zt_strerror(rc));
        zt_store_close(c->st);
        zt_free(c);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void zt_chain_free(struct zt_chain *c)
{
    if (!c) return;
    zt_ledger_free(c->l);
    zt_store_close(c->st);
    pthread_mutex_destroy(&c->mu);
    zt_free(c);
}

const struct zt_ledger_prices *zt_chain_prices(const struct zt_chain *c)
{
    return c ? &c->prices : NULL;
}

int zt_chain_payer(const char *identity, char out[static 43])
{
    static const char prefix[] = "wallet:";
    if (!identity || strncmp(identity, prefix, sizeof prefix - 1) != 0) return ZT_EPERM;
    return zt__ledger_norm_address(identity + sizeof prefix - 1, out) ? ZT_EPERM : 0;
}

uint64_t zt_chain_prompt_bound(uint64_t prompt_bytes, uint64_t n_texts)
{
    return prompt_bytes + ZT_CHAIN_TEMPLATE_ALLOWANCE * (n_texts + 1);
}

int zt_chain_job_open(struct zt_chain *c, const char *identity, const char *job_id, uint64_t prompt_bytes,
                      uint64_t n_texts, uint64_t max_tokens, char *msg, size_t cap)
{
    if (!c || !job_id) return ZT_EINVAL;
    uint64_t ctx_tokens = zt_chain_prompt_bound(prompt_bytes, n_texts);
    char addr[43];
    if (zt_chain_payer(identity, addr)) {
        if (msg && cap) snprintf(msg, cap, "chain.enabled: jobs are paid from a wallet; sign in with POST /v1/auth/wallet");
        atomic_fetch_add_explicit(&c->refused, 1, memory_order_relaxed);
        return ZT_EPERM;
    }
    zt_u128 reserved = 0;
    pthread_mutex_lock(&c->mu);
    int rc = zt_ledger_job_open(c->l, &c->prices, job_id, addr, ctx_tokens, max_tokens, &reserved);
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add_explicit(rc ? &c->refused : &c->reserved, 1, memory_order_relaxed);
    if (rc == ZT_ERANGE && msg && cap) {
        zt_u128 need;
        char ns[ZT_U128_STR_LEN];
        if (zt_ledger_job_estimate(&c->prices, ctx_tokens, max_tokens, &need)) need = 0;
        zt_u128_format(need, ns);
        snprintf(msg, cap, "the balance of %s does not cover this job's reservation of %s base units", addr, ns);
    }
    if (rc && rc != ZT_ERANGE)
        zt_log(ZT_LOG_WARN, "ledger_reserve_failed", "job=%s error=%s", job_id, zt_strerror(rc));
    return rc;
}

void zt_chain_job_end(struct zt_chain *c, const char *job_id, bool ok, const char *worker, uint64_t prompt_tokens,
                      uint64_t completion_tokens)
{
    if (!c || !job_id) return;
    pthread_mutex_lock(&c->mu);
    int rc = ok && worker && worker[0]
                 ? zt_ledger_job_close(c->l, &c->prices, job_id, worker, prompt_tokens, completion_tokens,
                                       zt_time_real_ms())
                 : zt_ledger_job_fail(c->l, job_id);
    pthread_mutex_unlock(&c->mu);
    if (!rc) atomic_fetch_add_explicit(ok && worker && worker[0] ? &c->settled : &c->refunded, 1, memory_order_relaxed);
    if (rc && rc != ZT_ENOTFOUND) /* ENOTFOUND: never reserved (chain off when it was submitted) */
        zt_log(ZT_LOG_ERROR, "ledger_settle_failed", "job=%s outcome=%s error=%s", job_id, ok ? "ok" : "failed",
               zt_strerror(rc));
}

int zt_chain_cache_hit(struct zt_chain *c, const char *identity, const char *job_id, const char *provider,
                       zt_u128 price, char *msg, size_t cap)
{
    if (!c || !job_id || !provider) return ZT_EINVAL;
    if (price == 0) return 0;
    char addr[43];
    if (zt_chain_payer(identity, addr)) {
        if (msg && cap) snprintf(msg, cap, "chain.enabled: answers are paid from a wallet; sign in with POST /v1/auth/wallet");
        atomic_fetch_add_explicit(&c->refused, 1, memory_order_relaxed);
        return ZT_EPERM;
    }
    /* one "completion token" at price x 1000 per 1000: the cost is price */
    struct zt_ledger_prices p = c->prices;
    p.prompt_per_1k = 0;
    p.completion_per_1k = price * 1000u;
    p.fee_bps = 0;
    if (p.completion_per_1k / 1000u != price) return ZT_ERANGE;
    pthread_mutex_lock(&c->mu);
    int rc = zt_ledger_job_open(c->l, &p, job_id, addr, 0, 1, NULL);
    if (!rc && (rc = zt_ledger_job_close(c->l, &p, job_id, provider, 0, 1, zt_time_real_ms())) != 0)
        zt_ignore(zt_ledger_job_fail(c->l, job_id)); /* the reservation back */
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add_explicit(rc ? &c->refused : &c->settled, 1, memory_order_relaxed);
    if (rc == ZT_ERANGE && msg && cap) {
        char ns[ZT_U128_STR_LEN];
        zt_u128_format(price, ns);
        snprintf(msg, cap, "the balance of %s does not cover the cached answer's price of %s base units", addr, ns);
    }
    if (rc && rc != ZT_ERANGE) zt_log(ZT_LOG_WARN, "ledger_cache_hit_failed", "job=%s error=%s", job_id, zt_strerror(rc));
    return rc;
}

int zt_chain_balance(struct zt_chain *c, enum zt_ledger_kind kind, const char *owner, zt_u128 *out)
{
    if (!c || !owner || !out) return ZT_EINVAL;
    int64_t id;
    struct zt_ledger_bal b;
    pthread_mutex_lock(&c->mu);
    int rc = zt_ledger_account(c->l, kind, owner, NULL, &id);
    if (!rc) rc = zt_ledger_balance(c->l, id, &b);
    pthread_mutex_unlock(&c->mu);
    if (!rc) *out = b.neg ? 0 : b.mag;
    return rc;
}

int zt_chain_deposit(struct zt_chain *c, const char *key, const char *address, zt_u128 amount, bool *replayed)
{
    if (!c || !key || !address || amount == 0) return ZT_EINVAL;
    char k[ZT_LEDGER_KEY_MAX + 1];
    int n = snprintf(k, sizeof k, "deposit:%s", key);
    if (n < 0 || (size_t)n >= sizeof k) return ZT_EINVAL;
    int64_t id;
    pthread_mutex_lock(&c->mu);
    int rc = zt_ledger_account(c->l, ZT_LEDGER_USER, address, NULL, &id);
    if (!rc) rc = zt_ledger_mint(c->l, k, id, amount, NULL, replayed);
    pthread_mutex_unlock(&c->mu);
    if (!rc && !(replayed && *replayed)) atomic_fetch_add_explicit(&c->deposits, 1, memory_order_relaxed);
    return rc;
}

int zt_chain_register_metrics(struct zt_chain *c, struct zt_metrics *m)
{
    static struct zt_chain off; /* chain.enabled false: the families read 0 */
    if (!m) return ZT_EINVAL;
    if (!c) c = &off;
    int rc;
    if ((rc = zt_metrics_add_u64(m, "zentalk_ledger_jobs_reserved_total",
                                 "Jobs whose escrow was reserved from the caller's wallet.", ZT_METRIC_COUNTER,
                                 &c->reserved)) ||
        (rc = zt_metrics_add_u64(m, "zentalk_ledger_jobs_settled_total",
                                 "Jobs settled: the worker's reward, the fee, the rest refunded.", ZT_METRIC_COUNTER,
                                 &c->settled)) ||
        (rc = zt_metrics_add_u64(m, "zentalk_ledger_jobs_refunded_total", "Jobs whose escrow went back whole.",
                                 ZT_METRIC_COUNTER, &c->refunded)) ||
        (rc = zt_metrics_add_u64(m, "zentalk_ledger_payments_refused_total",
                                 "Jobs refused with 402: no wallet caller, or a balance short of the estimate.",
                                 ZT_METRIC_COUNTER, &c->refused)) ||
        (rc = zt_metrics_add_u64(m, "zentalk_ledger_deposits_total", "Admin deposits minted (replays not counted).",
                                 ZT_METRIC_COUNTER, &c->deposits)))
        return rc;
    return 0;
}
