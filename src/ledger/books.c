/* books.c: the node's ledger for the gateway's job path (zt_ledger.h
 * "the node's books"): one store handle and one struct zt_ledger behind a
 * mutex (a ledger is not thread-safe; the gateway settles from its pool
 * threads), chain.yaml's prices, and the mapping of a caller to the
 * account that pays: a wallet session's "wallet:0x..." identity. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ledger_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define STAKE_MEMO 256      /* stake gate answers kept (direct-mapped by node id) */
#define STAKE_TTL_MS 2000    /* how long one is trusted (a deposit elsewhere shows within it) */

struct zt_chain {
    atomic_uint_fast64_t reserved, settled, refunded, refused, deposits; /* /metrics */
    atomic_uint_fast64_t batches, batches_signed, batches_exported, rounds_failed, slashes;
    pthread_mutex_t mu;
    struct zt_store *st;
    struct zt_ledger *l;
    struct zt_ledger_prices prices;
    /* under mu: the stake gate's answers, for placement (which asks for
     * every candidate under the registry's lock): good for STAKE_TTL_MS or
     * until gen moves (zt_chain_unlock, a slash: anything that may have
     * changed a stake) */
    struct stake_memo {
        char node[96];
        bool ok;
        uint64_t gen;
        int64_t until_ms;
    } memo[STAKE_MEMO];
    uint64_t gen;
    /* under mu: amounts for /metrics (base units) */
    zt_u128 rewarded, fees, batched, slashed, bonused;
    /* the payout loop */
    struct zt_eip712_domain dom;
    struct zt_payout_key *key;     /* NULL: batches wait in pending */
    char export_dir[4096];         /* <data_dir>/payouts */
    char key_path[4096];
    char pass_env[129];
    int64_t interval_ms;
    pthread_mutex_t loop_mu;       /* stop, cond */
    pthread_cond_t cond;
    pthread_t thread;
    bool running, stop;
    /* told of each batch built and exported (zt_chain_set_on_batch) */
    void (*on_batch)(void *ud, const struct zt_ledger_batch_info *bi);
    void *on_batch_ud;
};

void zt_chain_set_on_batch(struct zt_chain *c, void (*fn)(void *ud, const struct zt_ledger_batch_info *bi), void *ud)
{
    if (!c) return;
    c->on_batch = fn;
    c->on_batch_ud = ud;
}

/* Test only (docs/internals/ledger.md "The payout loop"): with
 * ZT_TEST_MODE=1, ZT_TEST_PAYOUT_INTERVAL_MS=N (1 .. 3,600,000) runs the
 * payout loop every N ms instead of chain.payout_interval_s (at least 60 s),
 * so a black-box test sees earnings batched within seconds. Without
 * ZT_TEST_MODE=1 it is refused (logged, ignored): 0. */
static int64_t test_interval_ms(void)
{
    const char *v = getenv("ZT_TEST_PAYOUT_INTERVAL_MS");
    if (!v || !*v) return 0;
    const char *tm = getenv("ZT_TEST_MODE");
    if (!tm || strcmp(tm, "1") != 0) {
        zt_log(ZT_LOG_ERROR, "test_setting_refused", "name=ZT_TEST_PAYOUT_INTERVAL_MS reason=\"needs ZT_TEST_MODE=1\"");
        return 0;
    }
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (!end || *end || n < 1 || n > 3600000) {
        zt_log(ZT_LOG_ERROR, "test_setting_refused", "name=ZT_TEST_PAYOUT_INTERVAL_MS reason=\"not 1 to 3600000\"");
        return 0;
    }
    zt_log(ZT_LOG_WARN, "test_setting", "name=ZT_TEST_PAYOUT_INTERVAL_MS value=%lld detail=\"test mode: the payout "
                                        "loop runs every %lld ms\"", n, n);
    return (int64_t)n;
}

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
    pthread_mutex_init(&c->loop_mu, NULL);
    zt_cond_init_mono(&c->cond);
    c->dom = (struct zt_eip712_domain){.name = ZT_PAYOUT_DOMAIN_NAME,
                                       .version = ZT_PAYOUT_DOMAIN_VERSION,
                                       .chain_id = (uint64_t)cfg->chain.payout_chain_id};
    const char *contract = cfg->chain.payout_contract ? cfg->chain.payout_contract : "";
    if (contract[0] && zt_ledger_parse_address(contract, c->dom.contract)) {
        zt_buf_sayf(err, "chain.payout_contract: not an address");
        zt_chain_free(c);
        return ZT_ECONFIG;
    }
    const char *dir = cfg->node.data_dir && cfg->node.data_dir[0] ? cfg->node.data_dir : ".";
    const char *kf = cfg->chain.payout_key_file ? cfg->chain.payout_key_file : "payout.key";
    int n1 = snprintf(c->export_dir, sizeof c->export_dir, "%s/payouts", dir);
    int n2 = kf[0] == '/' ? snprintf(c->key_path, sizeof c->key_path, "%s", kf)
                          : snprintf(c->key_path, sizeof c->key_path, "%s/%s", dir, kf);
    int n3 = snprintf(c->pass_env, sizeof c->pass_env, "%s",
                      cfg->chain.payout_passphrase_env ? cfg->chain.payout_passphrase_env : "");
    if (n1 < 0 || (size_t)n1 >= sizeof c->export_dir || n2 < 0 || (size_t)n2 >= sizeof c->key_path || n3 < 0 ||
        (size_t)n3 >= sizeof c->pass_env) {
        zt_buf_sayf(err, "chain: the payout paths are too long");
        zt_chain_free(c);
        return ZT_ETOOBIG;
    }
    c->interval_ms = cfg->chain.payout_interval_s * 1000;
    int64_t t = test_interval_ms();
    if (t) c->interval_ms = t;
    *out = c;
    return 0;
}

void zt_chain_free(struct zt_chain *c)
{
    if (!c) return;
    if (c->running) {
        pthread_mutex_lock(&c->loop_mu);
        c->stop = true;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->loop_mu);
        pthread_join(c->thread, NULL);
    }
    zt_payout_key_free(c->key);
    zt_ledger_free(c->l);
    zt_store_close(c->st);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->loop_mu);
    pthread_mutex_destroy(&c->mu);
    zt_free(c);
}

struct zt_ledger *zt_chain_lock(struct zt_chain *c)
{
    pthread_mutex_lock(&c->mu);
    return c->l;
}

void zt_chain_unlock(struct zt_chain *c)
{
    c->gen++; /* the borrower may have moved a stake */
    pthread_mutex_unlock(&c->mu);
}

const struct zt_eip712_domain *zt_chain_domain(const struct zt_chain *c) { return c ? &c->dom : NULL; }

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
                      uint64_t n_texts, uint64_t max_tokens, const struct zt_ledger_rate *rate, char *msg,
                      size_t cap)
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
    struct zt_ledger_prices p;
    zt_ledger_prices_at(&c->prices, rate, &p);
    pthread_mutex_lock(&c->mu);
    int rc = zt_ledger_job_open(c->l, &p, job_id, addr, ctx_tokens, max_tokens, &reserved);
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add_explicit(rc ? &c->refused : &c->reserved, 1, memory_order_relaxed);
    if (rc == ZT_ERANGE && msg && cap) {
        zt_u128 need;
        char ns[ZT_U128_STR_LEN];
        if (zt_ledger_job_estimate(&p, ctx_tokens, max_tokens, &need)) need = 0;
        zt_u128_format(need, ns);
        snprintf(msg, cap, "the balance of %s does not cover this job's reservation of %s base units", addr, ns);
    }
    if (rc && rc != ZT_ERANGE)
        zt_log(ZT_LOG_WARN, "ledger_reserve_failed", "job=%s error=%s", job_id, zt_strerror(rc));
    return rc;
}

void zt_chain_job_end(struct zt_chain *c, const char *job_id, bool ok, const char *worker,
                      const struct zt_ledger_rate *rate, uint64_t prompt_tokens, uint64_t completion_tokens)
{
    if (!c || !job_id) return;
    struct zt_ledger_prices p;
    zt_ledger_prices_at(&c->prices, rate, &p);
    pthread_mutex_lock(&c->mu);
    int64_t user;
    zt_u128 reserved = 0, cost = 0, fee = 0;
    int state = 0;
    bool settle = ok && worker && worker[0];
    /* the amounts for /metrics, cut to the reservation as job_close cuts them */
    if (settle && !zt_ledger_escrow(c->l, job_id, &user, &reserved, &state) &&
        !zt_ledger_job_cost(&p, prompt_tokens, completion_tokens, &cost, &fee)) {
        if (cost > reserved) cost = reserved;
        if (fee > reserved - cost) fee = reserved - cost;
    }
    int rc = settle ? zt_ledger_job_close(c->l, &p, job_id, worker, prompt_tokens, completion_tokens,
                                          zt_time_real_ms())
                    : zt_ledger_job_fail(c->l, job_id);
    if (!rc && settle && state == 1 && (zt_u128_add(c->rewarded, cost, &c->rewarded) || zt_u128_add(c->fees, fee, &c->fees)))
        c->rewarded = c->fees = ZT_U128_MAX;
    pthread_mutex_unlock(&c->mu);
    if (!rc) atomic_fetch_add_explicit(ok && worker && worker[0] ? &c->settled : &c->refunded, 1, memory_order_relaxed);
    if (rc && rc != ZT_ENOTFOUND) /* ENOTFOUND: never reserved (chain off when it was submitted) */
        zt_log(ZT_LOG_ERROR, "ledger_settle_failed", "job=%s outcome=%s error=%s", job_id, ok ? "ok" : "failed",
               zt_strerror(rc));
}

void zt_chain_provider_wallet(struct zt_chain *c, const char *node_id, const char *wallet)
{
    if (!c || !node_id || !wallet || !wallet[0]) return;
    uint8_t a20[20];
    if (zt_ledger_parse_address(wallet, a20) != 0) return;
    char cur[43] = "", norm[43] = "0x";
    zt_hex_encode(norm + 2, a20, sizeof a20); /* lower-case, as the ledger stores it */
    pthread_mutex_lock(&c->mu);
    int rc = zt_ledger_payout_address(c->l, node_id, cur);
    bool same = !rc && strcmp(cur, norm) == 0;
    if (!same) rc = zt_ledger_set_wallet(c->l, node_id, norm);
    else rc = 0;
    pthread_mutex_unlock(&c->mu);
    if (rc) zt_log(ZT_LOG_ERROR, "ledger_wallet_failed", "node=%s error=%s", node_id, zt_strerror(rc));
    else if (!same) zt_log(ZT_LOG_INFO, "ledger_wallet_set", "node=%s by=join_record", node_id);
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

/* amounts as tokens (base units / 10^18): exact only to a double's 53 bits,
 * which is what a Prometheus sample holds; the books themselves are exact */
static int emit_tokens(struct zt_chain *c, struct zt_metrics_out *o, const zt_u128 *v)
{
    zt_u128 x = 0;
    if (c->l) {
        pthread_mutex_lock(&c->mu);
        x = *v;
        pthread_mutex_unlock(&c->mu);
    }
    const zt_u128 unit = (zt_u128)1000000000000000000u;
    return zt_metrics_emit(o, NULL, NULL, (double)(x / unit) + (double)(x % unit) / 1e18);
}

/* The families of AMOUNT_FAMS, in its order. */
static int m_amount(void *ud, struct zt_metrics_out *o)
{
    struct zt_chain *c = ud;
    const zt_u128 *v[] = {&c->slashed, &c->rewarded, &c->fees, &c->batched, &c->bonused};
    return emit_tokens(c, o, v[zt_metrics_out_index(o)]);
}

static const struct zt_metrics_fam AMOUNT_FAMS[] = {
    {"zentalk_ledger_slashed_tokens_total", "Tokens slashed from stakes on confirmed mismatches (since start).",
     ZT_METRIC_COUNTER, m_amount},
    {"zentalk_ledger_rewards_tokens_total", "Tokens earned by workers in settled jobs (since start).",
     ZT_METRIC_COUNTER, m_amount},
    {"zentalk_ledger_fees_tokens_total", "Tokens of orchestrator fees in settled jobs (since start).",
     ZT_METRIC_COUNTER, m_amount},
    {"zentalk_ledger_payout_tokens_total", "Tokens put into payout batches (since start).", ZT_METRIC_COUNTER,
     m_amount},
    {"zentalk_ledger_verification_bonus_tokens_total",
     "Tokens paid from the fee account to honest verifiers (since start).", ZT_METRIC_COUNTER, m_amount},
};

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
                                 ZT_METRIC_COUNTER, &c->deposits)) ||
        (rc = zt_metrics_add_u64(m, "zentalk_ledger_payout_batches_total", "Payout batches built.", ZT_METRIC_COUNTER,
                                 &c->batches)) ||
        (rc = zt_metrics_add_u64(m, "zentalk_ledger_payout_batches_signed_total",
                                 "Payout batches signed with the payout key (EIP-712).", ZT_METRIC_COUNTER,
                                 &c->batches_signed)) ||
        (rc = zt_metrics_add_u64(m, "zentalk_ledger_payout_batches_exported_total",
                                 "Payout batches exported (signed -> submitted).", ZT_METRIC_COUNTER,
                                 &c->batches_exported)) ||
        (rc = zt_metrics_add_u64(m, "zentalk_ledger_payout_rounds_failed_total",
                                 "Payout rounds that stopped on an error (logged).", ZT_METRIC_COUNTER,
                                 &c->rounds_failed)) ||
        (rc = zt_metrics_add_u64(m, "zentalk_ledger_slashes_total",
                                 "Confirmed verification mismatches slashed (stake taken, unpaid earning clawed back).",
                                 ZT_METRIC_COUNTER, &c->slashes)) ||
        (rc = zt_metrics_add_fns(m, AMOUNT_FAMS, sizeof AMOUNT_FAMS / sizeof AMOUNT_FAMS[0], c)))
        return rc;
    return 0;
}

/* ---- the payout loop ---------------------------------------------------------------- */

#define ROUND_MAX_BATCHES 64 /* unfinished batches finished per round */

int zt_chain_payout_round(struct zt_chain *c, int64_t now_ms, struct zt_chain_round *out)
{
    if (!c || !out) return ZT_EINVAL;
    struct zt_chain_round r = {0};
    int64_t ids[ROUND_MAX_BATCHES];
    size_t n = 0;
    int rc;
    pthread_mutex_lock(&c->mu);
    rc = zt_ledger_batch(c->l, now_ms - c->prices.dispute_window_ms, c->prices.min_payout, now_ms, &r.batch_id,
                         &r.n_leaves);
    struct zt_ledger_batch_info built = {0};
    if (!rc) {
        struct zt_ledger_batch_info bi;
        if (!zt_ledger_batch_info(c->l, r.batch_id, &bi)) built = bi;
        if (built.id && zt_u128_add(c->batched, bi.total, &c->batched))
            c->batched = ZT_U128_MAX;
        atomic_fetch_add_explicit(&c->batches, 1, memory_order_relaxed);
        zt_log(ZT_LOG_INFO, "ledger_batch_built", "batch=%lld leaves=%zu", (long long)r.batch_id, r.n_leaves);
    } else if (rc == ZT_ENOTFOUND) {
        r.batch_id = 0;
        rc = 0;
    }
    if (!rc) rc = zt_ledger_batch_unfinished(c->l, ids, ROUND_MAX_BATCHES, &n);
    pthread_mutex_unlock(&c->mu);
    if (built.id && c->on_batch) c->on_batch(c->on_batch_ud, &built);
    if (rc) goto out;
    if (n && mkdir(c->export_dir, 0700) != 0 && errno != EEXIST) {
        rc = ZT_EIO;
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (!c->key) {
            r.n_waiting++;
            continue;
        }
        char path[4200];
        snprintf(path, sizeof path, "%s/batch-%lld.json", c->export_dir, (long long)ids[i]);
        struct zt_ledger_batch_info bi;
        pthread_mutex_lock(&c->mu);
        rc = zt_ledger_batch_info(c->l, ids[i], &bi);
        if (!rc && bi.state == ZT_BATCH_PENDING && !(rc = zt_ledger_batch_sign(c->l, ids[i], &c->dom, c->key, NULL))) {
            r.n_signed++;
            atomic_fetch_add_explicit(&c->batches_signed, 1, memory_order_relaxed);
        }
        if (!rc && !(rc = zt_ledger_batch_export(c->l, ids[i], &c->dom, path))) {
            r.n_exported++;
            atomic_fetch_add_explicit(&c->batches_exported, 1, memory_order_relaxed);
            zt_log(ZT_LOG_INFO, "ledger_batch_exported", "batch=%lld file=%s", (long long)ids[i], path);
            bi.state = ZT_BATCH_SUBMITTED;
        }
        pthread_mutex_unlock(&c->mu);
        if (!rc && bi.state == ZT_BATCH_SUBMITTED && c->on_batch) c->on_batch(c->on_batch_ud, &bi);
    }
    if (r.n_waiting)
        zt_log(ZT_LOG_WARN, "ledger_batches_unsigned",
               "batches=%zu reason=no payout key (chain.payout_passphrase_env names no set variable)", r.n_waiting);
out:
    if (rc) {
        atomic_fetch_add_explicit(&c->rounds_failed, 1, memory_order_relaxed);
        zt_log(ZT_LOG_ERROR, "ledger_payout_round_failed", "error=%s", zt_strerror(rc));
        return rc;
    }
    *out = r;
    return 0;
}

static void *payout_loop(void *ud)
{
    struct zt_chain *c = ud;
    pthread_mutex_lock(&c->loop_mu);
    while (!c->stop) {
        pthread_mutex_unlock(&c->loop_mu);
        struct zt_chain_round r;
        zt_ignore(zt_chain_payout_round(c, zt_time_real_ms(), &r)); /* logged */
        pthread_mutex_lock(&c->loop_mu);
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, (uint64_t)c->interval_ms);
        while (!c->stop && pthread_cond_timedwait(&c->cond, &c->loop_mu, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&c->loop_mu);
    return NULL;
}

int zt_chain_payouts_start(struct zt_chain *c, struct zt_buf *err)
{
    if (!c || c->running) return ZT_EINVAL;
    const char *pass = c->pass_env[0] ? getenv(c->pass_env) : NULL;
    if (pass && pass[0]) {
        int rc = zt_payout_key_load(c->key_path, pass, strlen(pass), &c->key);
        if (rc) {
            zt_buf_sayf(err, "chain.payout_key_file %s: %s", c->key_path,
                        rc == ZT_ECRYPTO ? "wrong passphrase or altered file"
                        : rc == ZT_EPERM ? "readable by others (chmod 600)"
                                         : zt_strerror(rc));
            return rc;
        }
    } else {
        zt_log(ZT_LOG_WARN, "ledger_no_payout_key",
               "payout batches are built but not signed: set chain.payout_passphrase_env to a variable holding "
               "the passphrase of chain.payout_key_file");
    }
    c->stop = false;
    if (pthread_create(&c->thread, NULL, payout_loop, c) != 0) {
        zt_payout_key_free(c->key);
        c->key = NULL;
        return ZT_ENOMEM;
    }
    c->running = true;
    return 0;
}

bool zt_chain_stake_admit(void *ud, const char *node_id)
{
    struct zt_chain *c = ud;
    if (!c || !node_id) return false;
    if (c->prices.min_stake == 0) return true;
    bool ok = false;
    struct stake_memo *m = &c->memo[zt_fnv1a32_str(node_id) % STAKE_MEMO];
    size_t len = strlen(node_id);
    int64_t now = (int64_t)(zt_time_mono_ns() / 1000000);
    pthread_mutex_lock(&c->mu);
    if (m->gen == c->gen && m->until_ms > now && strcmp(m->node, node_id) == 0) {
        ok = m->ok;
        pthread_mutex_unlock(&c->mu);
        return ok;
    }
    int rc = zt_ledger_stake_ok(c->l, &c->prices, node_id, &ok);
    if (!rc && len < sizeof m->node) {
        memcpy(m->node, node_id, len + 1);
        m->ok = ok;
        m->gen = c->gen;
        m->until_ms = now + STAKE_TTL_MS;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc) zt_log(ZT_LOG_WARN, "ledger_stake_unknown", "node=%s error=%s", node_id, zt_strerror(rc));
    return !rc && ok;
}

/* The honest checkers' PROVIDER accounts (created if new), under c->mu. */
static int checker_accounts(struct zt_chain *c, const char *const *honest, size_t n, int64_t *ids)
{
    for (size_t i = 0; i < n; i++) {
        int rc = zt_ledger_account(c->l, ZT_LEDGER_PROVIDER, honest[i], NULL, &ids[i]);
        if (rc) return rc;
    }
    return 0;
}

int zt_chain_verified(struct zt_chain *c, const char *job_id, const char *worker, bool worker_wrong,
                      const char *const *honest, size_t n_honest)
{
    if (!c || !job_id || !worker || (n_honest && !honest)) return ZT_EINVAL;
    if (n_honest > 16) n_honest = 16;
    int64_t ids[16];
    struct zt_ledger_slash_result r = {0};
    zt_u128 each = 0;
    bool bonus_rep = false;
    const char *step = "accounts";
    pthread_mutex_lock(&c->mu);
    int rc = checker_accounts(c, honest, n_honest, ids);
    if (!rc && worker_wrong) {
        step = "slash";
        rc = zt_ledger_penalize(c->l, job_id, worker, c->prices.slash_amount, ids, n_honest, &r);
        c->gen++; /* the stake moved */
        if (!rc && !r.replayed && zt_u128_add(c->slashed, r.slashed, &c->slashed)) c->slashed = ZT_U128_MAX;
    }
    if (!rc && n_honest) {
        step = "bonus";
        rc = zt_ledger_verification_bonus(c->l, job_id, c->prices.verification_bonus, ids, n_honest, &each,
                                          &bonus_rep);
        zt_u128 all;
        if (!rc && !bonus_rep && each &&
            (zt_u128_mul(each, n_honest, &all) || zt_u128_add(c->bonused, all, &c->bonused)))
            c->bonused = ZT_U128_MAX;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc) {
        zt_log(ZT_LOG_ERROR, "ledger_verification_failed", "job=%s node=%s step=%s error=%s", job_id, worker, step,
               zt_strerror(rc));
        return rc;
    }
    char ss[ZT_U128_STR_LEN], cs[ZT_U128_STR_LEN], bs[ZT_U128_STR_LEN];
    if (worker_wrong && !r.replayed) {
        atomic_fetch_add_explicit(&c->slashes, 1, memory_order_relaxed);
        zt_u128_format(r.slashed, ss);
        zt_u128_format(r.clawed_back, cs);
        zt_log(ZT_LOG_WARN, "ledger_slashed", "job=%s node=%s slashed=%s clawed_back=%s verifiers=%zu", job_id,
               worker, ss, cs, n_honest);
    }
    if (n_honest && !bonus_rep) {
        zt_u128_format(each, bs);
        zt_log(each ? ZT_LOG_INFO : ZT_LOG_WARN, "ledger_verification_bonus", "job=%s verifiers=%zu each=%s%s",
               job_id, n_honest, bs, each ? "" : " (the fee account is empty)");
    }
    return 0;
}

void zt_chain_slash_job(void *ud, const char *job_id, const char *worker)
{
    zt_ignore(zt_chain_verified(ud, job_id, worker, true, NULL, 0)); /* logged */
}
