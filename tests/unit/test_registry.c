/* test_registry.c: the orchestrator's worker registry (zt_registry.h):
 * join, heartbeat, leave and expiry; forged, replayed and foreign records
 * refused; duplicate node ids (a copied key file) refused and quarantined;
 * the reputation formula's values, the threshold and the ban of a cheat;
 * persistence across close and reopen; a flood of 10,000 forged joins (and
 * a Sybil flood of validly signed ones) with bounded memory; and an
 * allocation-failure sweep over open + join with SQLite's and jansson's
 * allocations routed through zt_malloc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"
#include "zt_test_sqlite.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>

#include "orch_test.h"
#include "zentalk/zt_log.h"

static const char *const M1[] = {"tiny-chat", NULL};

static struct zt_registry *reg_open(struct zt_store *st, int64_t now)
{
    struct zt_registry *r = NULL;
    struct zt_registry_opts o = reg_opts();
    assert_int_equal(zt_registry_open(st, &o, now, &r), 0);
    return r;
}

/* rec with member key replaced by val (stolen), re-serialised canonically:
 * the signature no longer covers it. (jansson allocates with zt_malloc
 * here: free with zt_free.) */
static char *tamper(const char *rec, const char *key, json_t *val)
{
    json_t *j = json_loads(rec, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_set_new(j, key, val), 0);
    char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    assert_non_null(out);
    return out;
}

static int join_text(struct zt_registry *r, const char *rec, int64_t now)
{
    return zt_registry_join(r, rec, strlen(rec), now, NULL);
}

/* A fresh store and registry with one worker (tiny-chat, 2 slots) joined at T0. */
static struct zt_registry *open_joined(struct zt_store **st, struct worker *w)
{
    *st = store_open();
    struct zt_registry *r = reg_open(*st, T0);
    worker_init(w, M1, 1, 2, 100);
    assert_int_equal(do_join(r, w, T0), 0);
    return r;
}

static void close_all(struct zt_registry *r, struct zt_store *st, struct worker *w)
{
    worker_deinit(w);
    zt_registry_free(r);
    zt_store_close(st);
}

static void test_join_heartbeat_leave(void **state)
{
    (void)state;
    struct zt_store *st = store_open();
    struct zt_registry *r = reg_open(st, T0);
    struct worker w;
    worker_init(&w, M1, 1, 4, 100);
    char id[ZT_IDENTITY_ID_SIZE] = "";
    char *rec = join_rec(&w, T0);
    assert_int_equal(zt_registry_join(r, rec, strlen(rec), T0, id), 0);
    zt_free(rec);
    assert_string_equal(id, zt_identity_id(w.id));
    assert_int_equal(zt_registry_count(r, true), 1);
    struct zt_node_info ni = node_info(r, &w, T0);
    assert_int_equal(ni.state, ZT_NODE_LIVE);
    assert_string_equal(ni.endpoint, w.endpoint);
    assert_string_equal(ni.caps.engine, "zt-test-engine-1");
    assert_int_equal(ni.caps.slots, 4);
    assert_int_equal(ni.n_models, 1);
    assert_true(ni.eligible);
    assert_memory_equal(ni.kem_pk, zt_identity_kem_pk(w.id), ZT_X25519_LEN);

    assert_int_equal(do_hb(r, &w, T0 + 10000, 3), 0);
    ni = node_info(r, &w, T0 + 10000);
    assert_int_equal(ni.load.busy, 3);
    assert_int_equal(ni.last_seen_ms, T0 + 10000);
    /* a poll is a heartbeat that names its worker (the relay's queue) */
    char *poll = hb_rec(&w, T0 + 10500, 2);
    char pid[ZT_IDENTITY_ID_SIZE] = "";
    assert_int_equal(zt_registry_poll(r, poll, strlen(poll), T0 + 10500, pid), 0);
    assert_string_equal(pid, zt_identity_id(w.id));
    assert_int_equal(node_info(r, &w, T0 + 10500).load.busy, 2);
    pid[0] = '\0';
    assert_int_equal(zt_registry_poll(r, poll, strlen(poll), T0 + 10600, pid), ZT_EPERM); /* a replay */
    assert_string_equal(pid, "");
    zt_free(poll);

    /* a re-join of the same boot updates the capabilities */
    w.caps.slots = 8;
    assert_int_equal(do_join(r, &w, T0 + 11000), 0);
    assert_int_equal(node_info(r, &w, T0 + 11000).caps.slots, 8);
    assert_int_equal(zt_registry_count(r, false), 1);
    assert_string_equal(node_info(r, &w, T0 + 11000).caps.wallet, ""); /* none announced */
    /* the payout wallet (chain.wallet_address): signed in the caps, kept as sent */
    zt_strlcpy(w.caps.wallet, "0x00000000000000000000000000000000000000Aa", sizeof w.caps.wallet);
    assert_int_equal(do_join(r, &w, T0 + 11100), 0);
    assert_string_equal(node_info(r, &w, T0 + 11100).caps.wallet, "0x00000000000000000000000000000000000000Aa");
    char *wrec = NULL;
    zt_strlcpy(w.caps.wallet, "0x00000000000000000000000000000000000000zz", sizeof w.caps.wallet);
    assert_int_equal(zt_registry_join_record(w.id, w.desc, zt_identity_id(orch_id), w.boot, 500, T0, &w.caps, &wrec),
                     ZT_EINVAL);
    zt_strlcpy(w.caps.wallet, "0x00", sizeof w.caps.wallet);
    assert_int_equal(zt_registry_join_record(w.id, w.desc, zt_identity_id(orch_id), w.boot, 500, T0, &w.caps, &wrec),
                     ZT_EINVAL);
    w.caps.wallet[0] = 0;

    assert_int_equal(do_leave(r, &w, T0 + 12000), 0);
    ni = node_info(r, &w, T0 + 12000);
    assert_int_equal(ni.state, ZT_NODE_LEFT);
    assert_false(ni.eligible);
    assert_int_equal(zt_registry_count(r, true), 0);
    assert_int_equal(do_hb(r, &w, T0 + 13000, 0), ZT_ENOTFOUND); /* join again first */
    assert_int_equal(do_join(r, &w, T0 + 14000), 0);
    assert_int_equal(zt_registry_count(r, true), 1);

    /* a node that does not say it is a worker */
    struct worker g;
    worker_init_roles(&g, M1, 2, 1, 1, "gateway");
    assert_int_equal(do_join(r, &g, T0), ZT_EPERM);
    worker_deinit(&g);
    close_all(r, st, &w);
}

static void test_expiry(void **state)
{
    (void)state;
    struct zt_store *st;
    struct worker w;
    struct zt_registry *r = open_joined(&st, &w);
    assert_int_equal(zt_registry_expire(r, T0 + 29999), 0);
    assert_int_equal(do_hb(r, &w, T0 + 20000, 0), 0);
    assert_int_equal(zt_registry_expire(r, T0 + 49999), 0);
    assert_int_equal(zt_registry_expire(r, T0 + 50000), 1);
    struct zt_node_info ni = node_info(r, &w, T0 + 50000);
    assert_int_equal(ni.state, ZT_NODE_EXPIRED);
    assert_false(ni.eligible);
    assert_int_equal(do_hb(r, &w, T0 + 51000, 0), ZT_ENOTFOUND);
    assert_int_equal(do_join(r, &w, T0 + 52000), 0); /* comes back */
    assert_int_equal(node_info(r, &w, T0 + 52000).state, ZT_NODE_LIVE);
    close_all(r, st, &w);
}

static void test_forged(void **state)
{
    (void)state;
    struct zt_store *st = store_open();
    struct zt_registry *r = reg_open(st, T0);
    struct worker w, x;
    worker_init(&w, M1, 1, 2, 100);
    worker_init(&x, M1, 2, 2, 100);
    char *rec = join_rec(&w, T0);
    char *bad;

    /* the capabilities changed after signing */
    json_t *c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "engine", "zt-test-engine-1", "cpu", "x86_64 test", "gpu",
                          "none", "mem_mb", (json_int_t)4096, "slots", (json_int_t)4096, "ctx_max",
                          (json_int_t)4096, "price_per_1k", (json_int_t)100);
    bad = tamper(rec, "caps", c);
    assert_int_equal(join_text(r, bad, T0), ZT_ECRYPTO);
    zt_free(bad);
    /* a payout wallet added after signing (the signature fails); a malformed one (the schema) */
    static const struct {
        const char *wallet;
        int want;
    } wallets[] = {{"0x00000000000000000000000000000000000000aa", ZT_ECRYPTO}, {"0x00aa", ZT_EPARSE}};
    for (size_t i = 0; i < sizeof wallets / sizeof wallets[0]; i++) {
        c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "engine", "zt-test-engine-1", "cpu", "x86_64 test", "gpu",
                      "none", "mem_mb", (json_int_t)4096, "slots", (json_int_t)2, "ctx_max", (json_int_t)4096,
                      "price_per_1k", (json_int_t)100, "wallet", wallets[i].wallet);
        bad = tamper(rec, "caps", c);
        assert_int_equal(join_text(r, bad, T0), wallets[i].want);
        zt_free(bad);
    }
    /* a signature of another key */
    bad = tamper(rec, "sig", json_string("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                                          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"));
    assert_int_equal(join_text(r, bad, T0), ZT_ECRYPTO);
    zt_free(bad);
    /* x's descriptor inside w's record */
    bad = tamper(rec, "descriptor", json_string(x.desc));
    assert_int_equal(join_text(r, bad, T0), ZT_ECRYPTO);
    zt_free(bad);
    /* another orchestrator's record */
    char *other = NULL;
    assert_int_equal(zt_registry_join_record(w.id, w.desc, zt_identity_id(x.id), w.boot, 99, T0, &w.caps, &other), 0);
    assert_int_equal(join_text(r, other, T0), ZT_EPERM);
    zt_free(other);
    /* out of the time window (either way), an expired descriptor */
    assert_int_equal(join_text(r, rec, T0 + 60001), ZT_ETIMEDOUT);
    assert_int_equal(join_text(r, rec, T0 - 60001), ZT_ETIMEDOUT);
    assert_int_equal(join_text(r, rec, T0 + 3600 * 1000 + 1000), ZT_ETIMEDOUT);
    /* malformed: not JSON, an extra member, a missing member, a bad version */
    assert_int_equal(join_text(r, "{\"v\":1", T0), ZT_EPARSE);
    bad = tamper(rec, "extra", json_true());
    assert_int_equal(join_text(r, bad, T0), ZT_EPARSE);
    zt_free(bad);
    bad = tamper(rec, "v", json_integer(2));
    assert_int_equal(join_text(r, bad, T0), ZT_EUNSUPPORTED);
    zt_free(bad);
    bad = tamper(rec, "kind", json_string("zentalk-heartbeat"));
    assert_int_equal(join_text(r, bad, T0), ZT_EPARSE);
    zt_free(bad);
    assert_int_equal(zt_registry_count(r, false), 0); /* nothing stuck */

    /* heartbeats: unknown node, then a forged one for a live node */
    assert_int_equal(do_hb(r, &x, T0, 0), ZT_ENOTFOUND);
    assert_int_equal(join_text(r, rec, T0), 0);
    char *hb = hb_rec(&w, T0 + 1000, 1);
    bad = tamper(hb, "busy", json_integer(0));
    assert_int_equal(zt_registry_heartbeat(r, bad, strlen(bad), T0 + 1000), ZT_ECRYPTO);
    zt_free(bad);
    /* x signs a heartbeat that names w */
    bad = tamper(hb, "node_id", json_string(zt_identity_id(x.id)));
    assert_int_equal(zt_registry_heartbeat(r, bad, strlen(bad), T0 + 1000), ZT_ENOTFOUND);
    zt_free(bad);
    assert_int_equal(zt_registry_heartbeat(r, hb, strlen(hb), T0 + 1000), 0);
    assert_int_equal(node_info(r, &w, T0 + 1000).load.busy, 1);
    zt_free(hb);
    zt_free(rec);
    worker_deinit(&w);
    worker_deinit(&x);
    zt_registry_free(r);
    zt_store_close(st);
}

/* The caps' two prices (decimal strings of base units, u128): a record of
 * an older worker has price_per_1k alone, which stands for both; a new one
 * carries both, and its price_per_1k must be the higher one (capped at
 * 2^63-1, for readers of older builds), else the record is refused. */
static void test_prices(void **state)
{
    (void)state;
    struct zt_store *st = store_open();
    struct zt_registry *r = reg_open(st, T0);
    struct worker w, x;
    struct zt_node_info ni;
    worker_init(&w, M1, 1, 2, 100); /* price_per_1k alone */
    assert_int_equal(do_join(r, &w, T0), 0);
    assert_int_equal(zt_registry_get(r, zt_identity_id(w.id), T0, &ni), 0);
    assert_string_equal(ni.caps.price_prompt, "100");
    assert_string_equal(ni.caps.price_completion, "100");
    worker_init(&x, M1, 2, 2, (uint64_t)INT64_MAX);
    zt_strlcpy(x.caps.price_prompt, "7", sizeof x.caps.price_prompt);
    zt_strlcpy(x.caps.price_completion, "340282366920938463463374607431768211455", sizeof x.caps.price_completion);
    assert_int_equal(do_join(r, &x, T0), 0);
    assert_int_equal(zt_registry_get(r, zt_identity_id(x.id), T0, &ni), 0);
    assert_string_equal(ni.caps.price_prompt, "7");
    assert_string_equal(ni.caps.price_completion, "340282366920938463463374607431768211455");
    assert_int_equal(ni.caps.price_per_1k, (uint64_t)INT64_MAX);
    /* a worker cannot build an inconsistent or malformed record */
    static const struct {
        const char *prompt, *completion;
        uint64_t legacy;
    } bad[] = {{"7", "9", 8},     {"07", "9", 9}, {"7", "", 7}, {"7", "340282366920938463463374607431768211456", INT64_MAX},
               {"1e3", "9", 9}, {"-1", "9", 9}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct zt_worker_caps c = x.caps;
        zt_strlcpy(c.price_prompt, bad[i].prompt, sizeof c.price_prompt);
        zt_strlcpy(c.price_completion, bad[i].completion, sizeof c.price_completion);
        c.price_per_1k = bad[i].legacy;
        char *out = NULL;
        assert_int_equal(zt_registry_join_record(x.id, x.desc, zt_identity_id(orch_id), x.boot, 50, T0, &c, &out),
                         ZT_EINVAL);
    }
    /* nor sign one (the orchestrator's schema): price_per_1k disagreeing, one price alone, a number */
    char *rec = join_rec(&x, T0);
    json_t *c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s}", "engine", "zt-test-engine-1", "cpu", "x86_64 test",
                          "gpu", "none", "mem_mb", (json_int_t)4096, "slots", (json_int_t)2, "ctx_max", (json_int_t)4096,
                          "price_per_1k", (json_int_t)8, "price_prompt_per_1k", "7", "price_completion_per_1k", "9");
    char *t = tamper(rec, "caps", c);
    assert_int_equal(join_text(r, t, T0), ZT_EPARSE);
    zt_free(t);
    c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "engine", "zt-test-engine-1", "cpu", "x86_64 test", "gpu",
                  "none", "mem_mb", (json_int_t)4096, "slots", (json_int_t)2, "ctx_max", (json_int_t)4096,
                  "price_per_1k", (json_int_t)9, "price_prompt_per_1k", "7");
    t = tamper(rec, "caps", c);
    assert_int_equal(join_text(r, t, T0), ZT_EPARSE);
    zt_free(t);
    c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:s}", "engine", "zt-test-engine-1", "cpu", "x86_64 test", "gpu",
                  "none", "mem_mb", (json_int_t)4096, "slots", (json_int_t)2, "ctx_max", (json_int_t)4096,
                  "price_per_1k", (json_int_t)9, "price_prompt_per_1k", (json_int_t)7, "price_completion_per_1k", "9");
    t = tamper(rec, "caps", c);
    assert_int_equal(join_text(r, t, T0), ZT_EPARSE);
    zt_free(t);
    zt_free(rec);
    worker_deinit(&x);
    close_all(r, st, &w);
}

static void test_replay(void **state)
{
    (void)state;
    struct zt_store *st = store_open();
    struct zt_registry *r = reg_open(st, T0);
    struct worker w;
    worker_init(&w, M1, 1, 2, 100);
    char *j1 = join_rec(&w, T0);
    assert_int_equal(join_text(r, j1, T0), 0);
    assert_int_equal(join_text(r, j1, T0 + 1), ZT_EPERM); /* the same join again */
    char *h1 = hb_rec(&w, T0 + 1000, 0);
    char *h2 = hb_rec(&w, T0 + 2000, 1);
    assert_int_equal(zt_registry_heartbeat(r, h2, strlen(h2), T0 + 2000), 0);
    assert_int_equal(zt_registry_heartbeat(r, h2, strlen(h2), T0 + 2001), ZT_EPERM);
    assert_int_equal(zt_registry_heartbeat(r, h1, strlen(h1), T0 + 2002), ZT_EPERM); /* older sequence */
    assert_int_equal(join_text(r, j1, T0 + 2003), ZT_EPERM);
    /* the same across a restart of the orchestrator */
    zt_registry_free(r);
    r = reg_open(st, T0 + 3000);
    assert_int_equal(zt_registry_heartbeat(r, h2, strlen(h2), T0 + 3000), ZT_EPERM);
    assert_int_equal(join_text(r, j1, T0 + 3000), ZT_EPERM);
    assert_int_equal(do_hb(r, &w, T0 + 3000, 0), 0);
    /* a captured record of an older boot, after a restart of the worker */
    uint8_t old_boot[ZT_REG_BOOT_LEN];
    memcpy(old_boot, w.boot, sizeof old_boot);
    randombytes_buf(w.boot, sizeof w.boot);
    assert_int_equal(do_join(r, &w, T0 + 4000), 0);
    assert_int_equal(join_text(r, j1, T0 + 4001), ZT_EPERM);
    zt_free(j1);
    zt_free(h1);
    zt_free(h2);
    close_all(r, st, &w);
}

static void test_duplicate_id(void **state)
{
    (void)state;
    struct zt_store *st;
    struct worker w;
    struct zt_registry *r = open_joined(&st, &w);

    /* the key file copied to a second machine: same id, another boot and endpoint */
    struct worker copy = w;
    copy.id = NULL;
    copy.desc = NULL;
    uint8_t seed[ZT_ED25519_SEED_LEN];
    memcpy(seed, zt_identity_sign_sk(w.id), sizeof seed);
    assert_int_equal(zt_identity_from_secret(seed, zt_identity_kem_sk(w.id), &copy.id), 0);
    sodium_memzero(seed, sizeof seed);
    assert_string_equal(zt_identity_id(copy.id), zt_identity_id(w.id));
    randombytes_buf(copy.boot, sizeof copy.boot);
    copy.seq = 0;
    snprintf(copy.endpoint, sizeof copy.endpoint, "http://192.168.7.7:8080");
    const char *roles[] = {"worker"};
    assert_int_equal(zt_identity_descriptor(copy.id, roles, 1, M1, 1, copy.endpoint, T0 / 1000 + 3600, &copy.desc), 0);
    assert_int_equal(do_join(r, &copy, T0 + 1000), ZT_EEXIST);
    assert_int_equal(node_info(r, &w, T0 + 1000).dup_refused, 1);
    assert_int_equal(do_hb(r, &copy, T0 + 1500, 0), ZT_EPERM); /* its boot is not the session's */
    assert_int_equal(do_hb(r, &w, T0 + 2000, 0), 0);            /* the first one is undisturbed */

    /* a restart from the same endpoint replaces the session ... */
    struct worker restarted = w;
    randombytes_buf(restarted.boot, sizeof restarted.boot);
    restarted.seq = 0;
    assert_int_equal(do_join(r, &restarted, T0 + 3000), 0);
    assert_true(node_info(r, &w, T0 + 3000).eligible);
    /* ... and when the old boot still speaks after that, two processes hold
     * the key: quarantine */
    assert_int_equal(do_hb(r, &w, T0 + 4000, 0), ZT_EEXIST);
    struct zt_node_info ni = node_info(r, &w, T0 + 4000);
    assert_false(ni.eligible);
    assert_true(ni.quarantine_until_ms > T0 + 4000);
    assert_int_equal(do_join(r, &restarted, T0 + 5000), ZT_EPERM);
    assert_int_equal(do_hb(r, &restarted, T0 + 5000, 0), ZT_EPERM);
    /* after the quarantine, a join is accepted again */
    int64_t later = ni.quarantine_until_ms + 1;
    randombytes_buf(w.boot, sizeof w.boot);
    w.seq = 0;
    zt_free(w.desc);
    assert_int_equal(zt_identity_descriptor(w.id, roles, 1, M1, 1, w.endpoint, later / 1000 + 3600, &w.desc), 0);
    assert_int_equal(do_join(r, &w, later), 0);
    assert_true(node_info(r, &w, later).eligible);
    worker_deinit(&copy);
    close_all(r, st, &w);
}

static void test_reputation(void **state)
{
    (void)state;
    /* the formula's values */
    assert_true(fabs(zt_reputation_score(0, 0, 2, 1) - 2.0 / 3) < 1e-12);
    assert_true(fabs(zt_reputation_score(8, 0, 2, 1) - 10.0 / 11) < 1e-12);
    assert_true(fabs(zt_reputation_score(0, 2, 2, 1) - 0.4) < 1e-12);
    assert_true(fabs(zt_reputation_score(0, 3, 2, 1) - 2.0 / 6) < 1e-12);
    assert_true(fabs(zt_reputation_decay(0, 1000) - 1) < 1e-12);
    assert_true(fabs(zt_reputation_decay(1000, 1000) - 0.5) < 1e-12);
    assert_true(fabs(zt_reputation_decay(3000, 1000) - 0.125) < 1e-12);

    struct zt_store *st = store_open();
    struct zt_registry *r = NULL;
    struct zt_registry_opts o = reg_opts();
    o.rep_half_life_ms = 3600 * 1000; /* an hour, for the test */
    assert_int_equal(zt_registry_open(st, &o, T0, &r), 0);
    struct worker w;
    worker_init(&w, M1, 1, 2, 100);
    assert_int_equal(do_join(r, &w, T0), 0);
    const char *id = zt_identity_id(w.id);
    assert_true(fabs(node_info(r, &w, T0).reputation - 2.0 / 3) < 1e-9);
    assert_int_equal(zt_registry_report(r, id, ZT_OUTCOME_FAILED, T0), 0);
    struct zt_node_info ni = node_info(r, &w, T0);
    assert_true(fabs(ni.reputation - 0.5) < 1e-9);
    assert_true(ni.eligible); /* at the threshold: still gets work */
    assert_int_equal(zt_registry_report(r, id, ZT_OUTCOME_TIMED_OUT, T0), 0);
    ni = node_info(r, &w, T0);
    assert_true(fabs(ni.reputation - 0.4) < 1e-9);
    assert_false(ni.eligible); /* below */
    assert_int_equal(ni.failed, 1);
    assert_int_equal(ni.timed_out, 1);
    /* one half-life later the two failures weigh one: back at 0.5 */
    int64_t t1 = T0 + 3600 * 1000;
    ni = node_info(r, &w, t1);
    assert_true(fabs(ni.reputation - 0.5) < 1e-9);
    /* successes and verifications raise it; a disputed verification weighs 3 */
    for (int i = 0; i < 8; i++) assert_int_equal(zt_registry_report(r, id, ZT_OUTCOME_COMPLETED, t1), 0);
    ni = node_info(r, &w, t1);
    assert_true(fabs(ni.reputation - 10.0 / 12) < 1e-9); /* (2 + 8) / (2 + 1 + 8 + 1) */
    assert_int_equal(zt_registry_report(r, id, ZT_OUTCOME_MISMATCH, t1), 0);
    ni = node_info(r, &w, t1);
    assert_true(fabs(ni.reputation - 10.0 / 15) < 1e-9); /* bad 1 + 3 */
    assert_int_equal(ni.mismatches, 1);
    assert_int_equal(zt_registry_report(r, id, ZT_OUTCOME_VERIFIED, t1), 0);
    assert_int_equal(node_info(r, &w, t1).verified, 1);
    assert_int_equal(zt_registry_report(r, "zt1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ZT_OUTCOME_FAILED, t1), ZT_ENOTFOUND);
    close_all(r, st, &w);
}

static void test_cheat(void **state)
{
    (void)state;
    struct zt_store *st;
    struct worker w;
    struct zt_registry *r = open_joined(&st, &w);
    const char *id = zt_identity_id(w.id);
    for (int i = 0; i < 50; i++) assert_int_equal(zt_registry_report(r, id, ZT_OUTCOME_COMPLETED, T0), 0);
    assert_true(node_info(r, &w, T0).reputation > 0.95);
    /* one confirmed mismatch: no work at once, whatever the record */
    assert_int_equal(zt_registry_report(r, id, ZT_OUTCOME_CHEAT, T0), 0);
    struct zt_node_info ni = node_info(r, &w, T0);
    assert_true(ni.banned);
    assert_false(ni.eligible);
    assert_true(ni.reputation > 0.95);
    assert_int_equal(do_hb(r, &w, T0 + 1000, 0), ZT_EPERM);
    randombytes_buf(w.boot, sizeof w.boot);
    assert_int_equal(do_join(r, &w, T0 + 2000), ZT_EPERM);
    /* the ban survives a restart; an operator lifts it */
    zt_registry_free(r);
    r = reg_open(st, T0 + 3000);
    assert_true(node_info(r, &w, T0 + 3000).banned);
    assert_int_equal(zt_registry_unban(r, id), 0);
    assert_int_equal(do_join(r, &w, T0 + 4000), 0);
    assert_true(node_info(r, &w, T0 + 4000).eligible);
    close_all(r, st, &w);
}

static void test_persistence(void **state)
{
    (void)state;
    struct zt_store *st = store_open();
    struct zt_registry *r = reg_open(st, T0);
    struct worker a, b;
    const char *const two[] = {"tiny-chat", "tiny-embed", NULL};
    worker_init(&a, two, 1, 3, 100);
    worker_init(&b, M1, 2, 2, 200);
    assert_int_equal(do_join(r, &a, T0), 0);
    assert_int_equal(do_join(r, &b, T0), 0);
    assert_int_equal(do_hb(r, &a, T0 + 1000, 2), 0);
    assert_int_equal(zt_registry_report(r, zt_identity_id(a.id), ZT_OUTCOME_COMPLETED, T0 + 1000), 0);
    assert_int_equal(zt_registry_report(r, zt_identity_id(b.id), ZT_OUTCOME_FAILED, T0 + 1000), 0);
    assert_int_equal(do_leave(r, &b, T0 + 2000), 0);
    zt_registry_free(r);
    zt_store_close(st);

    /* reopen a minute later (heartbeats were lost meanwhile) */
    st = store_open();
    int64_t t = T0 + 60000;
    r = reg_open(st, t);
    assert_int_equal(zt_registry_count(r, false), 2);
    assert_int_equal(zt_registry_count(r, true), 1);
    struct zt_node_info ni = node_info(r, &a, t);
    assert_int_equal(ni.state, ZT_NODE_LIVE);
    assert_int_equal(ni.n_models, 2);
    assert_int_equal(ni.caps.slots, 3);
    assert_int_equal(ni.load.busy, 2);
    assert_int_equal(ni.completed, 1);
    assert_true(fabs(ni.reputation - 3.0 / 4) < 1e-4); /* a minute of a 7-day half-life */
    assert_string_equal(ni.endpoint, a.endpoint);
    ni = node_info(r, &b, t);
    assert_int_equal(ni.state, ZT_NODE_LEFT);
    assert_int_equal(ni.failed, 1);
    /* a has one expiry window from the restart */
    assert_int_equal(zt_registry_expire(r, t + 29999), 0);
    assert_int_equal(do_hb(r, &a, t + 29000, 0), 0);
    assert_int_equal(zt_registry_expire(r, t + 58999), 0);
    assert_int_equal(zt_registry_expire(r, t + 59000), 1);
    worker_deinit(&a);
    worker_deinit(&b);
    zt_registry_free(r);
    zt_store_close(st);
}

/* A forged descriptor for a random key (its node id derived correctly, its
 * signature random) in a join record with a random signature. */
static char *forged_join(int64_t ts)
{
    uint8_t pk[ZT_ED25519_PK_LEN], kem[ZT_X25519_LEN], sig[ZT_ED25519_SIG_LEN], boot[ZT_REG_BOOT_LEN];
    char id[ZT_IDENTITY_ID_SIZE], hpk[65], hkem[65], hsig[129], hboot[33];
    randombytes_buf(pk, sizeof pk);
    randombytes_buf(kem, sizeof kem);
    randombytes_buf(sig, sizeof sig);
    randombytes_buf(boot, sizeof boot);
    zt_identity_node_id(pk, id);
    sodium_bin2hex(hpk, sizeof hpk, pk, sizeof pk);
    sodium_bin2hex(hkem, sizeof hkem, kem, sizeof kem);
    sodium_bin2hex(hsig, sizeof hsig, sig, sizeof sig);
    sodium_bin2hex(hboot, sizeof hboot, boot, sizeof boot);
    json_t *d = json_pack("{s:s,s:s,s:I,s:s,s:[s],s:s,s:[s],s:s,s:i}", "endpoint", "http://203.0.113.9:8080",
                          "ed25519_pk", hpk, "expires", (json_int_t)(ts / 1000 + 3600), "kem_pk", hkem, "models",
                          "tiny-chat", "node_id", id, "roles", "worker", "sig", hsig, "v", 1);
    char *dtext = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    randombytes_buf(sig, sizeof sig);
    sodium_bin2hex(hsig, sizeof hsig, sig, sizeof sig);
    json_t *rec = json_pack("{s:s,s:s,s:{s:s,s:I,s:s,s:s,s:I,s:I,s:I},s:s,s:s,s:s,s:I,s:s,s:I,s:i}", "aud",
                            zt_identity_id(orch_id), "boot", hboot, "caps", "cpu", "", "ctx_max", (json_int_t)4096,
                            "engine", "x", "gpu", "", "mem_mb", (json_int_t)1, "price_per_1k", (json_int_t)0, "slots",
                            (json_int_t)4096, "descriptor", dtext, "kind", "zentalk-join", "node_id", id, "seq",
                            (json_int_t)1, "sig", hsig, "ts", (json_int_t)ts, "v", 1);
    char *out = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    json_decref(rec);
    zt_free(dtext);
    assert_non_null(out);
    return out;
}

static int64_t count_rows(struct zt_store *st)
{
    struct zt_store_stmt *q = NULL;
    int64_t n = -1;
    assert_int_equal(zt_store_prepare(st, "SELECT count(*) FROM registry_nodes", &q), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_i64(q, 0, &n), 0);
    zt_store_stmt_free(q);
    return n;
}

/* 10,000 forged joins: all refused, nothing kept (allocations back to
 * where they were after every one, no node, no row). Then a Sybil flood of
 * validly signed joins from fresh keys stops at max_nodes. */
static void test_join_flood(void **state)
{
    (void)state;
    struct zt_store *st = store_open();
    struct zt_registry *r = reg_open(st, T0);
    int64_t base = zt_alloc_live();
    int64_t extra_max = 0;
    for (int i = 0; i < 10000; i++) {
        char *rec = forged_join(T0);
        int rc = join_text(r, rec, T0);
        zt_free(rec);
        if (rc != ZT_ECRYPTO) {
            print_error("forged join %d: %s\n", i, zt_strerror(rc));
            fail();
        }
        int64_t extra = zt_alloc_live() - base;
        if (extra > extra_max) extra_max = extra;
    }
    assert_int_equal(extra_max, 0);
    assert_int_equal(zt_registry_count(r, false), 0);
    assert_int_equal(count_rows(st), 0);
    zt_registry_free(r);

    struct zt_registry_opts o = reg_opts();
    o.max_nodes = 50;
    assert_int_equal(zt_registry_open(st, &o, T0, &r), 0);
    int accepted = 0, full = 0;
    for (int i = 0; i < 300; i++) {
        struct worker w;
        worker_init(&w, M1, i % 250, 1, 1);
        int rc = do_join(r, &w, T0);
        accepted += rc == 0;
        full += rc == ZT_EBUSY;
        worker_deinit(&w);
    }
    assert_int_equal(accepted, 50);
    assert_int_equal(full, 250);
    assert_int_equal(zt_registry_count(r, false), 50);
    /* once the flood's sessions expired, they do not lock new workers out:
     * the silent, workless ones are forgotten; a banned one never is */
    char banned[ZT_IDENTITY_ID_SIZE];
    {
        struct worker w; /* all 50 live: no room */
        worker_init(&w, M1, 1, 1, 1);
        assert_int_equal(do_join(r, &w, T0), ZT_EBUSY);
        worker_deinit(&w);
    }
    int64_t t = T0 + 40000;
    assert_int_equal(zt_registry_expire(r, t), 50);
    struct worker keep;
    worker_init(&keep, M1, 7, 1, 1);
    for (int i = 0; i < 60; i++) {
        struct worker w;
        worker_init(&w, M1, i, 1, 1);
        if (i == 0) {
            assert_int_equal(do_join(r, &keep, t), 0);
            zt_strlcpy(banned, zt_identity_id(keep.id), sizeof banned);
            assert_int_equal(zt_registry_report(r, banned, ZT_OUTCOME_CHEAT, t), 0);
            assert_int_equal(do_leave(r, &keep, t), ZT_EPERM); /* banned: no record accepted */
        }
        int rc = do_join(r, &w, t);
        assert_int_equal(rc, i < 49 ? 0 : ZT_EBUSY); /* 49 expired ones forgotten, then full of live ones */
        worker_deinit(&w);
    }
    assert_int_equal(zt_registry_count(r, false), 50);
    struct zt_node_info bi;
    assert_int_equal(zt_registry_get(r, banned, t, &bi), 0); /* still there, still banned */
    assert_true(bi.banned);
    assert_int_equal(count_rows(st), 50);
    worker_deinit(&keep);
    print_message("join flood: 10000 forged joins refused, 0 allocations kept; Sybil flood stopped at max_nodes (50 of 300), "
                  "expired workless nodes forgotten when full, banned kept\n");
    zt_registry_free(r);
    zt_store_close(st);
}

/* ---- allocation failures ------------------------------------------------------ */


/* Open the store and the registry and join w, with allocation fail_n
 * failing (0: none). */
static int open_join(const char *rec, int fail_n)
{
    struct zt_store *st = NULL;
    struct zt_registry *r = NULL;
    struct zt_store_opts so = {.path = dbpath, .busy_timeout_ms = 100};
    struct zt_registry_opts o = reg_opts();
    zt_alloc_fail_after(fail_n);
    int rc = zt_store_open("sqlite", &so, &st);
    if (!rc) rc = zt_registry_open(st, &o, T0, &r);
    if (!rc) rc = zt_registry_join(r, rec, strlen(rec), T0, NULL);
    zt_alloc_fail_after(0);
    zt_registry_free(r);
    zt_store_close(st);
    return rc;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct worker w;
    worker_init(&w, M1, 1, 2, 100);
    char *rec = join_rec(&w, T0);
    /* every allocation point (every 3rd; all with ZT_TORTURE_FULL=1) until
     * 15 points in a row succeed: past the end of the run */
    const char *full = getenv("ZT_TORTURE_FULL");
    int stride = full && full[0] == '1' ? 1 : 3;
    int failed = 0, tried = 0, ok_streak = 0, n;
    for (n = 1; n < 200000 && ok_streak < 15; n += stride) {
        rm_db();
        tried++;
        int64_t live = zt_alloc_live();
        int rc = open_join(rec, n);
        if (zt_alloc_live() != live) {
            print_error("failure point %d: %lld allocations leaked\n", n, (long long)(zt_alloc_live() - live));
            fail();
        }
        if (rc == 0) {
            ok_streak++;
            continue;
        }
        ok_streak = 0;
        failed++;
        if (rc != ZT_ENOMEM && rc != ZT_EIO) {
            print_error("failure point %d: %s\n", n, zt_strerror(rc));
            fail();
        }
        /* what the failed attempt left is consistent: a clean open and join */
        assert_int_equal(open_join(rec, 0), 0);
    }
    assert_true(failed > 10);
    print_message("alloc sweep: %d allocation points tried (up to %d), %d failed cleanly, the rest recovered\n", tried,
                  n, failed);
    zt_free(rec);
    worker_deinit(&w);
}

/* Two orchestrators on one store (sync_ms): a worker joined to A is seen
 * by B after a sync (models, load, last heartbeat, reputation), joins B
 * too with the same boot and a sequence of its own, and its leave at A
 * ends B's session. Without the sync B would expire it (no heartbeat of
 * its own for 30 s). */
static void test_shared_store(void **state)
{
    (void)state;
    struct zt_identity *idb = NULL;
    assert_int_equal(zt_identity_generate(&idb), 0);
    struct zt_store *sa = store_open(), *sb = store_open();
    struct zt_registry_opts oa = reg_opts(), ob = reg_opts();
    oa.sync_ms = ob.sync_ms = 1000;
    ob.self_id = zt_identity_id(idb);
    struct zt_registry *ra = NULL, *rb = NULL;
    assert_int_equal(zt_registry_open(sa, &oa, T0, &ra), 0);
    assert_int_equal(zt_registry_open(sb, &ob, T0, &rb), 0);
    struct worker w;
    worker_init(&w, M1, 1, 2, 100);
    assert_int_equal(do_join(ra, &w, T0), 0);
    assert_int_equal(zt_registry_count(rb, false), 0);
    assert_true(zt_registry_sync(rb, T0 + 10) >= 1);
    struct zt_node_info ni = node_info(rb, &w, T0 + 10);
    assert_int_equal(ni.state, ZT_NODE_LIVE);
    assert_int_equal(ni.n_models, 1);
    assert_true(ni.eligible);
    assert_int_equal(zt_registry_sync(rb, T0 + 20), 0); /* nothing new */

    /* a heartbeat and an outcome at A reach B */
    assert_int_equal(do_hb(ra, &w, T0 + 20000, 1), 0);
    assert_int_equal(zt_registry_report(ra, zt_identity_id(w.id), ZT_OUTCOME_COMPLETED, T0 + 20000), 0);
    assert_true(zt_registry_sync(rb, T0 + 20010) >= 1);
    ni = node_info(rb, &w, T0 + 20010);
    assert_int_equal(ni.load.busy, 1);
    assert_int_equal(ni.completed, 1);
    assert_int_equal(ni.last_seen_ms, T0 + 20000);
    assert_int_equal(zt_registry_expire(rb, T0 + 35000), 0);

    /* the same boot joins B with B's own sequence (1): not a replay there */
    char *rec = NULL;
    assert_int_equal(zt_registry_join_record(w.id, w.desc, zt_identity_id(idb), w.boot, 1, T0 + 36000, &w.caps, &rec), 0);
    assert_int_equal(zt_registry_join(rb, rec, strlen(rec), T0 + 36000, NULL), 0);
    assert_int_equal(zt_registry_join(rb, rec, strlen(rec), T0 + 36000, NULL), ZT_EPERM); /* a replay at B */
    zt_free(rec);
    /* A's view is not disturbed by B's write (same boot, A's sequence) */
    zt_ignore(zt_registry_sync(ra, T0 + 36010));
    assert_int_equal(do_hb(ra, &w, T0 + 40000, 0), 0);

    /* the leave at A ends the session at B */
    assert_int_equal(do_leave(ra, &w, T0 + 41000), 0);
    assert_true(zt_registry_sync(rb, T0 + 41010) >= 1);
    ni = node_info(rb, &w, T0 + 41010);
    assert_int_equal(ni.state, ZT_NODE_LEFT);
    assert_false(ni.eligible);

    /* a restart (new boot) that joins B only: A sees the new session */
    randombytes_buf(w.boot, sizeof w.boot);
    assert_int_equal(zt_registry_join_record(w.id, w.desc, zt_identity_id(idb), w.boot, 1, T0 + 50000, &w.caps, &rec), 0);
    assert_int_equal(zt_registry_join(rb, rec, strlen(rec), T0 + 50000, NULL), 0);
    zt_free(rec);
    assert_true(zt_registry_sync(ra, T0 + 50010) >= 1);
    ni = node_info(ra, &w, T0 + 50010);
    assert_int_equal(ni.state, ZT_NODE_LIVE);
    w.seq = 0; /* A's own sequence for the new boot */
    assert_int_equal(do_hb(ra, &w, T0 + 51000, 0), 0);

    worker_deinit(&w);
    zt_registry_free(ra);
    zt_registry_free(rb);
    zt_store_close(sa);
    zt_store_close(sb);
    zt_identity_free(idb);
}

int main(void)
{
    if (zt_test_sqlite_route_alloc() != 0) {
        printf("cannot route SQLite's allocator\n");
        return 1;
    }
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, orch_setup, orch_teardown)
    const struct CMUnitTest tests[] = {
        T(test_join_heartbeat_leave), T(test_expiry),      T(test_forged),     T(test_prices),     T(test_replay),
        T(test_duplicate_id),         T(test_reputation),  T(test_cheat),      T(test_persistence),
        T(test_join_flood),           T(test_alloc_failures), T(test_shared_store),
    };
    int failures = cmocka_run_group_tests_name("registry_sqlite", tests, NULL, NULL);
    /* the same on a real PostgreSQL (the sweep is over SQLite's allocator) */
#define P(f) cmocka_unit_test_setup_teardown(f, orch_setup_pg, orch_teardown)
    const struct CMUnitTest pg_tests[] = {
        P(test_join_heartbeat_leave), P(test_expiry),     P(test_forged), P(test_replay),
        P(test_duplicate_id),         P(test_reputation), P(test_cheat),  P(test_persistence),
        P(test_join_flood),           P(test_shared_store),
    };
    failures += zt_test_pg_run("registry_postgres", pg_tests);
    return zt_test_exit(failures);
}
