/* test_revoked.c: the registry honouring signed revocations (zt_registry.h,
 * src/orchestrator/revoked.c): a revoked KEM key ends the live session
 * using it and refuses joins carrying it, while a join with the rotated
 * key is taken; a revoked node key refuses every join of that id; forged
 * records (another key's signature, a changed byte, junk) are refused and
 * change nothing; revocations survive a restart of the orchestrator,
 * which ends a restored session they cover; and the DHT's revocations
 * (zt_dht_on_revocation) reach the registry, including those it learnt
 * before the hook was set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <jansson.h>

#include "orch_test.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_log.h"

static const char *const M1[] = {"tiny-chat", NULL};

/* The worker with a new KEM key (same Ed25519 key, so the same node id)
 * and a descriptor carrying it. */
static void rotate(struct worker *w)
{
    uint8_t *sec = sodium_malloc(64);
    assert_non_null(sec);
    memcpy(sec, zt_identity_sign_sk(w->id), 32);
    randombytes_buf(sec + 32, 32);
    struct zt_identity *n = NULL;
    assert_int_equal(zt_identity_from_secret(sec, sec + 32, &n), 0);
    sodium_free(sec);
    assert_string_equal(zt_identity_id(n), zt_identity_id(w->id));
    zt_identity_free(w->id);
    w->id = n;
    zt_free(w->desc);
    const char *roles[] = {"worker"};
    assert_int_equal(zt_identity_descriptor(w->id, roles, 1, M1, 1, w->endpoint, T0 / 1000 + 3600, &w->desc), 0);
    randombytes_buf(w->boot, sizeof w->boot); /* a restart */
    w->seq = 0;
}

/* A store, a registry on it and two workers of M1 joined at T0. */
static void open_two(struct zt_store **st, struct zt_registry **r, struct worker *a, struct worker *b)
{
    *st = store_open();
    struct zt_registry_opts ro = reg_opts();
    assert_int_equal(zt_registry_open(*st, &ro, T0, r), 0);
    worker_init(a, M1, 1, 2, 100);
    worker_init(b, M1, 2, 2, 100);
    assert_int_equal(do_join(*r, a, T0), 0);
    assert_int_equal(do_join(*r, b, T0), 0);
}

static enum zt_node_state state_of(struct zt_registry *r, struct worker *w, int64_t now)
{
    return node_info(r, w, now).state;
}

static void test_kem_and_node_key(void **state)
{
    (void)state;
    struct zt_store *st = NULL;
    struct zt_registry *r = NULL;
    struct worker a, b;
    open_two(&st, &r, &a, &b);
    struct zt_registry_opts ro = reg_opts();
    uint8_t old_kem[32];
    memcpy(old_kem, zt_identity_kem_pk(a.id), 32);

    /* forged: b signs a revocation of a's KEM key (b's key, a's id: refused) */
    char *rec = NULL;
    assert_int_equal(zt_dht_revocation(b.id, old_kem, T0 / 1000, &rec), 0);
    json_t *j = json_loads(rec, 0, NULL);
    json_object_set_new(j, "node_id", json_string(zt_identity_id(a.id)));
    char *forged = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    zt_free(rec);
    assert_int_not_equal(zt_registry_revoke(r, forged, strlen(forged), T0 + 1), 0);
    zt_free(forged);
    assert_int_equal(zt_registry_revoke(r, "{}", 2, T0 + 1), ZT_EPARSE);
    assert_int_equal(zt_registry_revoked_count(r), 0);
    assert_int_equal(state_of(r, &a, T0 + 1), ZT_NODE_LIVE);

    /* a's own revocation of its KEM key (after a rotation): the session
     * using it ends, a join carrying it is refused */
    assert_int_equal(zt_dht_revocation(a.id, old_kem, T0 / 1000, &rec), 0);
    char bad[1024];
    zt_strlcpy(bad, rec, sizeof bad);
    char *sig = strstr(bad, "\"sig\":\"");
    assert_non_null(sig);
    sig[8] = sig[8] == '0' ? '1' : '0'; /* one signature digit changed */
    assert_int_equal(zt_registry_revoke(r, bad, strlen(bad), T0 + 1), ZT_ECRYPTO);
    assert_int_equal(zt_registry_revoke(r, rec, strlen(rec), T0 + 2), 0);
    assert_int_equal(zt_registry_revoke(r, rec, strlen(rec), T0 + 2), 0); /* again: nothing new */
    zt_free(rec);
    assert_true(zt_registry_revoked(r, zt_identity_id(a.id), old_kem));
    assert_false(zt_registry_revoked(r, zt_identity_id(a.id), NULL));
    assert_int_equal(zt_registry_revoked_count(r), 1);
    assert_int_not_equal(state_of(r, &a, T0 + 2), ZT_NODE_LIVE);
    assert_int_equal(do_join(r, &a, T0 + 3), ZT_EPERM);
    /* the rotated key joins */
    rotate(&a);
    assert_int_equal(do_join(r, &a, T0 + 4), 0);
    assert_int_equal(state_of(r, &a, T0 + 4), ZT_NODE_LIVE);
    assert_true(node_info(r, &a, T0 + 4).eligible);

    /* b's whole key: its session ends, no join of that id again, rotated or not */
    assert_int_equal(zt_dht_revocation(b.id, NULL, T0 / 1000, &rec), 0);
    assert_int_equal(zt_registry_revoke(r, rec, strlen(rec), T0 + 5), 0);
    zt_free(rec);
    assert_int_not_equal(state_of(r, &b, T0 + 5), ZT_NODE_LIVE);
    assert_false(node_info(r, &b, T0 + 5).eligible);
    assert_int_equal(do_join(r, &b, T0 + 6), ZT_EPERM);
    rotate(&b);
    assert_int_equal(do_join(r, &b, T0 + 7), ZT_EPERM);
    assert_true(zt_registry_revoked(r, zt_identity_id(b.id), zt_identity_kem_pk(b.id)));

    /* a restart: both revocations hold */
    zt_registry_free(r);
    r = NULL;
    assert_int_equal(zt_registry_open(st, &ro, T0 + 10, &r), 0);
    assert_int_equal(zt_registry_revoked_count(r), 2);
    assert_int_equal(do_join(r, &b, T0 + 11), ZT_EPERM);
    assert_int_equal(state_of(r, &a, T0 + 11), ZT_NODE_LIVE); /* restored: its key is the new one */

    /* a session restored from the store whose key was revoked meanwhile
     * (the revocation row written while this registry was down) ends */
    zt_registry_free(r);
    r = NULL;
    assert_int_equal(zt_registry_open(st, &ro, T0 + 20, &r), 0);
    uint8_t new_kem[32];
    memcpy(new_kem, zt_identity_kem_pk(a.id), 32);
    zt_registry_free(r);
    r = NULL;
    {
        /* another registry on the same store records the revocation */
        struct zt_registry *r2 = NULL;
        assert_int_equal(zt_registry_open(st, &ro, T0 + 21, &r2), 0);
        assert_int_equal(zt_registry_revoke_key(r2, zt_identity_id(a.id), new_kem, T0 / 1000, T0 + 21), 0);
        zt_registry_free(r2);
    }
    assert_int_equal(zt_registry_open(st, &ro, T0 + 22, &r), 0);
    assert_int_not_equal(state_of(r, &a, T0 + 22), ZT_NODE_LIVE);
    zt_registry_free(r);
    worker_deinit(&a);
    worker_deinit(&b);
    zt_store_close(st);
}

static void got(void *ud, const char *node_id, const uint8_t *kem_pk, int64_t at)
{
    (void)at;
    zt_ignore(zt_registry_revoke_key(ud, node_id, kem_pk, at, T0 + 100));
}

static void test_dht_hook(void **state)
{
    (void)state;
    if (!zt_dht_available()) zt_skip("the DHT is not built (no OpenDHT)");
    struct zt_dht_opts o = {.port = 0};
    struct zt_dht *d = NULL;
    if (zt_dht_new(&o, &d) != 0) zt_skip("cannot start a DHT node here (UDP bind)");
    struct zt_store *st = NULL;
    struct zt_registry *r = NULL;
    struct worker a, b;
    open_two(&st, &r, &a, &b);
    /* learnt before the hook: replayed when it is set */
    char *rec = NULL;
    assert_int_equal(zt_dht_revocation(a.id, NULL, T0 / 1000, &rec), 0);
    assert_int_equal(zt_dht_revoke(d, rec, strlen(rec)), 0);
    zt_free(rec);
    zt_dht_on_revocation(d, got, r);
    assert_true(zt_registry_revoked(r, zt_identity_id(a.id), NULL));
    assert_int_not_equal(state_of(r, &a, T0 + 100), ZT_NODE_LIVE);
    /* learnt after */
    assert_int_equal(zt_dht_revocation(b.id, zt_identity_kem_pk(b.id), T0 / 1000, &rec), 0);
    assert_int_equal(zt_dht_revoke(d, rec, strlen(rec)), 0);
    zt_free(rec);
    assert_true(zt_registry_revoked(r, zt_identity_id(b.id), zt_identity_kem_pk(b.id)));
    assert_int_equal(do_join(r, &b, T0 + 101), ZT_EPERM);
    zt_dht_free(d);
    zt_registry_free(r);
    worker_deinit(&a);
    worker_deinit(&b);
    zt_store_close(st);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, orch_setup, orch_teardown)
    const struct CMUnitTest tests[] = {T(test_kem_and_node_key), T(test_dht_hook)};
    int failures = cmocka_run_group_tests_name("revoked_sqlite", tests, NULL, NULL);
#define P(f) cmocka_unit_test_setup_teardown(f, orch_setup_pg, orch_teardown)
    const struct CMUnitTest pg_tests[] = {P(test_kem_and_node_key)};
    failures += zt_test_pg_run("revoked_postgres", pg_tests);
    return zt_test_exit(failures);
}
