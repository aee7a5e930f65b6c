/* test_rcache_chain: issue 18's two uses of the node's books (zt_ledger.h):
 * an answer from the result cache billed at chain.price_cache_hit
 * (zt_chain_cache_hit: the caller's wallet pays this gateway's provider
 * account, once per job id; free at 0; 402 reasons for a caller without a
 * wallet or a balance), and the payout-round hook the API bridge's payout
 * webhooks hang on (zt_chain_set_on_batch: told of the batch a round
 * builds), here writing to the webhook outbox as the node's hook does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "zt_test.h"
#include <jansson.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_bridge.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_time.h"

#define USER "0x00000000000000000000000000000000000000ab"
#define GATEWAY "zt1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define WORKER "zt1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/zt-rcache-chain-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const f[] = {"ledger.db", "ledger.db-wal", "ledger.db-shm", "ledger.db-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", dir, f[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static struct zt_chain *chain_open(struct zt_config *cfg)
{
    static const char *const kv[][2] = {
        {"database.sqlite_path", "ledger.db"},
        {"chain.enabled", "true"},
        {"chain.dispute_window_s", "0"},
        {"chain.min_payout", "0.000000000000000001"},
        {"chain.price_cache_hit", "0.000000000000000005"},
    };
    memset(cfg, 0, sizeof *cfg);
    assert_int_equal(zt_config_init_defaults(cfg), 0);
    assert_int_equal(zt_config_set(cfg, "node.data_dir", dir, "test", NULL), 0);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        assert_int_equal(zt_config_set(cfg, kv[i][0], kv[i][1], "test", NULL), 0);
    struct zt_chain *c = NULL;
    assert_int_equal(zt_chain_open(cfg, &c, NULL), 0);
    return c;
}

static zt_u128 bal(struct zt_chain *c, enum zt_ledger_kind k, const char *owner)
{
    zt_u128 v = 0;
    assert_int_equal(zt_chain_balance(c, k, owner, &v), 0);
    return v;
}

static void test_cache_hit_billing(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_chain *c = chain_open(&cfg);
    zt_u128 price = 0;
    assert_int_equal(zt_u128_parse_tokens(cfg.chain.price_cache_hit, strlen(cfg.chain.price_cache_hit), &price), 0);
    assert_true(price == 5);
    char msg[200] = "";
    /* no wallet: refused (the gateway's 402), nothing written */
    assert_int_equal(zt_chain_cache_hit(c, "alice", "c1", GATEWAY, price, msg, sizeof msg), ZT_EPERM);
    assert_non_null(strstr(msg, "wallet"));
    /* a wallet with nothing in it */
    assert_int_equal(zt_chain_cache_hit(c, "wallet:" USER, "c2", GATEWAY, price, msg, sizeof msg), ZT_ERANGE);
    assert_non_null(strstr(msg, "does not cover"));
    assert_int_equal(zt_chain_deposit(c, "d1", USER, 12, NULL), 0);
    assert_int_equal(zt_chain_cache_hit(c, "wallet:" USER, "c3", GATEWAY, price, msg, sizeof msg), 0);
    assert_true(bal(c, ZT_LEDGER_USER, USER) == 7);
    assert_true(bal(c, ZT_LEDGER_PROVIDER, GATEWAY) == 5);
    /* the same job id again: once */
    assert_int_equal(zt_chain_cache_hit(c, "wallet:" USER, "c3", GATEWAY, price, msg, sizeof msg), 0);
    assert_true(bal(c, ZT_LEDGER_USER, USER) == 7);
    /* free: nothing written, no wallet needed */
    assert_int_equal(zt_chain_cache_hit(c, "alice", "c4", GATEWAY, 0, msg, sizeof msg), 0);
    assert_int_equal(zt_chain_cache_hit(c, "wallet:" USER, "c5", GATEWAY, price, msg, sizeof msg), 0);
    assert_int_equal(zt_chain_cache_hit(c, "wallet:" USER, "c6", GATEWAY, price, msg, sizeof msg), ZT_ERANGE);
    assert_true(bal(c, ZT_LEDGER_USER, USER) == 2); /* the refused one left the rest */
    char why[256] = "";
    struct zt_ledger *l = zt_chain_lock(c);
    assert_int_equal(zt_ledger_audit(l, why, sizeof why), 0);
    zt_chain_unlock(c);
    zt_chain_free(c);
    zt_config_deinit(&cfg);
}

struct hook {
    struct zt_store *st;
    int calls;
    int64_t batch;
};

/* what the node's hook does: an outbox row per batch and state */
static void on_batch(void *ud, const struct zt_ledger_batch_info *bi)
{
    struct hook *h = ud;
    h->calls++;
    h->batch = bi->id;
    char key[96];
    snprintf(key, sizeof key, "payout.batch:%lld:%s", (long long)bi->id, zt_ledger_batch_state_name(bi->state));
    json_t *d = json_pack("{s:I,s:I}", "batch_id", (json_int_t)bi->id, "leaves", (json_int_t)bi->n_leaves);
    assert_int_equal(zt_bridge_enqueue(h->st, "payout.batched", key, d, zt_time_real_ms(), NULL), 0);
    json_decref(d);
}

static int count_row(void *ud, const struct zt_bridge_row *r)
{
    (*(int *)ud)++;
    assert_string_equal(r->type, "payout.batched");
    return 0;
}

static void test_payout_hook(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_chain *c = chain_open(&cfg);
    struct hook h = {0};
    assert_int_equal(zt_store_open_config(&cfg, NULL, &h.st, NULL), 0);
    assert_int_equal(zt_bridge_migrate(h.st), 0);
    zt_chain_set_on_batch(c, on_batch, &h);
    assert_int_equal(zt_chain_deposit(c, "d1", USER, 1000000000000000, NULL), 0);
    assert_int_equal(zt_chain_job_open(c, "wallet:" USER, "job-1", 10, 1, 16, NULL, NULL, 0), 0);
    zt_chain_job_end(c, "job-1", true, WORKER, NULL, 100, 10);
    struct zt_ledger *l = zt_chain_lock(c); /* the worker's payout wallet */
    assert_int_equal(zt_ledger_set_wallet(l, WORKER, "0x00000000000000000000000000000000000000cd"), 0);
    zt_chain_unlock(c);
    struct zt_chain_round r;
    assert_int_equal(zt_chain_payout_round(c, zt_time_real_ms() + 1000, &r), 0);
    assert_true(r.batch_id > 0);
    assert_int_equal(h.calls, 1); /* built; no payout key: not exported, no second call */
    assert_int_equal(h.batch, r.batch_id);
    assert_int_equal(zt_chain_payout_round(c, zt_time_real_ms() + 2000, &r), 0);
    assert_int_equal(h.calls, 1); /* nothing new */
    int rows = 0;
    assert_int_equal(zt_bridge_list(h.st, ZT_BRIDGE_PENDING, 10, count_row, &rows), 0);
    assert_int_equal(rows, 1);
    zt_store_close(h.st);
    zt_chain_free(c);
    zt_config_deinit(&cfg);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_hit_billing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payout_hook, setup, teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
