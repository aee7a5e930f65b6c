/* test_bridge: the API bridge's outbox and signatures (zt_bridge.h), on
 * SQLite and on a real PostgreSQL (skipped with the reason when it cannot
 * start): one row per idempotency key, listing per state, counts, the
 * signature header against a known HMAC-SHA256 and its checks (body,
 * secret, timestamp window, malformed headers), the job.completed and
 * payout.settled bodies against fixed vectors. Delivery is
 * test_webhooks's (integration) and test_attack_webhooks's. */
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
#include "zt_test_servers.h"
#include <jansson.h>
#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_bridge.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"

static char dir[256], dbpath[300], pg_db[600];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/zt-bridge-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(dbpath, sizeof dbpath, "%s/b.db", dir);
    return 0;
}

static int setup_pg(void **state)
{
    if (!zt_test_pg_new_db(pg_db, sizeof pg_db)) return -1;
    return setup(state);
}

static int teardown(void **state)
{
    (void)state;
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t j = 0; j < 4; j++) {
        char p[400];
        snprintf(p, sizeof p, "%s%s", dbpath, suffix[j]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static struct zt_store *open_store(void)
{
    struct zt_store *st = NULL;
    struct zt_store_opts o = {.path = pg_db[0] ? pg_db : dbpath, .busy_timeout_ms = 1000};
    assert_int_equal(zt_store_open(pg_db[0] ? "postgres" : "sqlite", &o, &st), 0);
    assert_int_equal(zt_bridge_migrate(st), 0);
    assert_int_equal(zt_bridge_migrate(st), 0); /* again: nothing to do */
    return st;
}

struct seen {
    int n;
    char keys[8][ZT_BRIDGE_KEY_MAX + 1];
};

static int collect(void *ud, const struct zt_bridge_row *r)
{
    struct seen *s = ud;
    if (s->n < 8) snprintf(s->keys[s->n], sizeof s->keys[0], "%s", r->key);
    s->n++;
    assert_int_equal(r->state, ZT_BRIDGE_PENDING);
    assert_int_equal(r->attempts, 0);
    return 0;
}

static void test_outbox(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_store *st = open_store();
    json_t *d = json_pack("{s:s,s:i}", "job_id", "abc", "completion_tokens", 5);
    bool added = false;
    assert_int_equal(zt_bridge_enqueue(st, "job.completed", "job.completed:abc", d, 1000, &added), 0);
    assert_true(added);
    assert_int_equal(zt_bridge_enqueue(st, "job.completed", "job.completed:abc", d, 2000, &added), 0);
    assert_false(added);
    assert_int_equal(zt_bridge_enqueue(st, "payout.settled", "payout.settled:abc", d, 1500, &added), 0);
    assert_true(added);
    assert_int_equal(zt_bridge_enqueue(st, "job.completed", "", d, 1, &added), ZT_EINVAL);
    json_t *arr = json_array();
    assert_int_equal(zt_bridge_enqueue(st, "job.completed", "k", arr, 1, &added), ZT_EINVAL);
    json_decref(arr);
    char *big = zt_malloc(ZT_BRIDGE_BODY_MAX + 10);
    memset(big, 'a', ZT_BRIDGE_BODY_MAX + 9);
    big[ZT_BRIDGE_BODY_MAX + 9] = '\0';
    json_t *bd = json_pack("{s:s}", "x", big);
    assert_int_equal(zt_bridge_enqueue(st, "job.completed", "big", bd, 1, &added), ZT_ETOOBIG);
    json_decref(bd);
    zt_free(big);
    struct seen s = {0};
    assert_int_equal(zt_bridge_list(st, ZT_BRIDGE_PENDING, 10, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "job.completed:abc"); /* oldest first */
    assert_string_equal(s.keys[1], "payout.settled:abc");
    int64_t c[3];
    assert_int_equal(zt_bridge_counts(st, c), 0);
    assert_int_equal(c[ZT_BRIDGE_PENDING], 2);
    assert_int_equal(c[ZT_BRIDGE_DELIVERED], 0);
    json_decref(d);
    zt_store_close(st);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_signature(void **state)
{
    (void)state;
    const char *secret = "s3cret", *body = "{\"id\":\"k\"}";
    char h[128];
    zt_bridge_sign(secret, 1700000000, body, strlen(body), h, sizeof h);
    /* the MAC recomputed here: HMAC-SHA256(secret, "1700000000." || body) */
    uint8_t mac[32];
    crypto_auth_hmacsha256_state s;
    crypto_auth_hmacsha256_init(&s, (const uint8_t *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)"1700000000.", 11);
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)body, strlen(body));
    crypto_auth_hmacsha256_final(&s, mac);
    char want[128] = "t=1700000000,v1=";
    zt_hex_encode(want + strlen(want), mac, sizeof mac);
    assert_string_equal(h, want);
    assert_int_equal(zt_bridge_verify(secret, h, body, strlen(body), 1700000100, 300), 0);
    assert_int_equal(zt_bridge_verify(secret, h, body, strlen(body), 1700000400, 300), ZT_ECRYPTO); /* too old */
    assert_int_equal(zt_bridge_verify(secret, h, body, strlen(body), 1800000000, 0), 0);             /* not checked */
    assert_int_equal(zt_bridge_verify("other", h, body, strlen(body), 1700000000, 300), ZT_ECRYPTO);
    assert_int_equal(zt_bridge_verify(secret, h, "{\"id\":\"K\"}", strlen(body), 1700000000, 300), ZT_ECRYPTO);
    static const char *const bad[] = {"", "t=,v1=00", "v1=abc", "t=17x0,v1=", "t=1700000000",
                                      "t=1700000000,v2=0000000000000000000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(zt_bridge_verify(secret, bad[i], body, strlen(body), 1700000000, 0), ZT_ECRYPTO);
    assert_int_equal(zt_bridge_verify(secret, NULL, body, strlen(body), 1700000000, 0), ZT_ECRYPTO);
}

/* The gateway's job events (src/bridge/events.c): the data objects and
 * keys, compact with sorted keys as the outbox writes them. */
static char *dump(json_t *j)
{
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    assert_non_null(s);
    return s;
}

static void test_event_bodies(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    char key[ZT_BRIDGE_KEY_MAX + 1];
    char *s = dump(zt_bridge_job_completed_data("0123abcd", "alice", "m", "zt1w", "ok", 3, 5, 1200, key));
    assert_string_equal(key, "job.completed:0123abcd");
    assert_string_equal(s, "{\"completion_tokens\":5,\"duration_ms\":1200,\"job_id\":\"0123abcd\",\"model\":\"m\","
                           "\"ok\":true,\"outcome\":\"ok\",\"prompt_tokens\":3,\"user\":\"alice\",\"worker\":\"zt1w\"}");
    zt_free(s);
    /* a cache hit is ok; a failure is not; an anonymous caller's "user" is null */
    s = dump(zt_bridge_job_completed_data("j2", "", "m", "zt1w", "cache", 0, 0, 0, key));
    assert_string_equal(s, "{\"completion_tokens\":0,\"duration_ms\":0,\"job_id\":\"j2\",\"model\":\"m\",\"ok\":true,"
                           "\"outcome\":\"cache\",\"prompt_tokens\":0,\"user\":null,\"worker\":\"zt1w\"}");
    zt_free(s);
    s = dump(zt_bridge_job_completed_data("j3", NULL, "m", "local", "timeout", 4294967295u, 1, 86400000, key));
    assert_string_equal(s, "{\"completion_tokens\":1,\"duration_ms\":86400000,\"job_id\":\"j3\",\"model\":\"m\",\"ok\":false,"
                           "\"outcome\":\"timeout\",\"prompt_tokens\":4294967295,\"user\":null,\"worker\":\"local\"}");
    zt_free(s);
    assert_null(zt_bridge_job_completed_data("", "alice", "m", "w", "ok", 1, 1, 1, key));
    assert_null(zt_bridge_job_completed_data(NULL, "alice", "m", "w", "ok", 1, 1, 1, key));

    /* payout: cost = ceil((1000 x 2500 + 3 x 7000) / 1000) = 2521, fee = floor(2521 x 250 / 10000) = 63 */
    struct zt_ledger_prices p = {.prompt_per_1k = 2500, .completion_per_1k = 7000, .fee_bps = 250};
    s = dump(zt_bridge_payout_settled_data(&p, "0123abcd", "alice", "zt1w", 1000, 3, key));
    assert_string_equal(key, "payout.settled:0123abcd");
    assert_string_equal(s, "{\"amount\":\"2521\",\"completion_tokens\":3,\"fee\":\"63\",\"job_id\":\"0123abcd\","
                           "\"prompt_tokens\":1000,\"user\":\"alice\",\"worker\":\"zt1w\"}");
    zt_free(s);
    /* amounts past 64 bits stay exact (decimal text) */
    p.prompt_per_1k = (zt_u128)1000000000000000000ull * 1000;
    s = dump(zt_bridge_payout_settled_data(&p, "j4", NULL, "zt1w", 1000, 0, key));
    assert_string_equal(s, "{\"amount\":\"1000000000000000000000\",\"completion_tokens\":0,\"fee\":"
                           "\"25000000000000000000\",\"job_id\":\"j4\",\"prompt_tokens\":1000,\"user\":null,\"worker\":\"zt1w\"}");
    zt_free(s);
    assert_null(zt_bridge_payout_settled_data(NULL, "j5", "alice", "w", 1, 1, key));
    assert_null(zt_bridge_payout_settled_data(&p, "", "alice", "w", 1, 1, key));
    p.prompt_per_1k = ZT_U128_MAX; /* the cost overflows: no event */
    assert_null(zt_bridge_payout_settled_data(&p, "j6", "alice", "w", 1000, 1, key));
    /* no bridge: emitting is a no-op */
    zt_bridge_job_completed(NULL, "j7", "alice", "m", "w", "ok", 1, 1, 1);
    zt_bridge_payout_settled(NULL, &p, "j7", "alice", "w", 1, 1);
    assert_int_equal(zt_alloc_live(), live);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_event_bodies),
    };
    int failures = cmocka_run_group_tests_name("bridge_sqlite", tests, NULL, NULL);
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test_setup_teardown(test_outbox, setup_pg, teardown),
    };
    failures += zt_test_pg_run("bridge_postgres", pg_tests);
    return zt_test_exit(failures);
}
