/* test_rcache: the result cache's core (zt_rcache.h), memory backend:
 * names scoped per caller and per job field, sealed values that open only
 * under their secret and name, the LRU bound, expiry by retention, the
 * cache receipt (sign, verify, tamper), the chain comparison, no leaks.
 * The Redis backend and the gateway's use are test_result_cache's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "zt_test.h"
#include <jansson.h>
#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_rcache.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"

static const uint8_t secret_a[ZT_RCACHE_SECRET_LEN] = {1, 2, 3};
static const uint8_t secret_b[ZT_RCACHE_SECRET_LEN] = {9, 9, 9};

static struct zt_rcache *mk(const uint8_t *secret, size_t max_bytes, uint32_t permille)
{
    struct zt_rcache_opts o = {.max_bytes = max_bytes, .ttl_s = 3600, .verify_permille = permille, .secret = secret};
    struct zt_rcache *c = NULL;
    assert_int_equal(zt_rcache_new(&o, &c), 0);
    return c;
}

static json_t *body(const char *content, int seed)
{
    json_t *b = json_pack("{s:s,s:[{s:s,s:s}],s:i,s:b}", "model", "m", "messages", "role", "user", "content", content,
                          "seed", seed, "stream", 1);
    assert_non_null(b);
    return b;
}

/* An entry with a real FINAL checkpoint under a fresh key. */
static void entry(struct zt_rcache_entry *e, const char *text, uint8_t chain_byte)
{
    memset(e, 0, sizeof *e);
    e->text = (char *)(uintptr_t)text;
    e->text_len = strlen(text);
    memcpy(e->finish_reason, "stop", 5);
    memcpy(e->worker, "zt1worker", 10);
    e->prompt_tokens = 3;
    e->completion_tokens = 5;
    e->receipt_len = 10;
    memset(e->receipt, 0xab, e->receipt_len);
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    struct zt_checkpoint ck = {.flags = ZT_CKPT_FLAG_FINAL, .n_tokens = 5, .build_id_len = 4};
    memcpy(ck.build_id, "b123", 5);
    memset(ck.chain, chain_byte, sizeof ck.chain);
    memset(ck.model_sha256, 7, sizeof ck.model_sha256);
    assert_int_equal(zt_checkpoint_sign(&ck, sk, e->checkpoint, sizeof e->checkpoint, &e->checkpoint_len), 0);
}

static void test_names(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_rcache *a = mk(secret_a, 1 << 20, 0), *b = mk(secret_b, 1 << 20, 0);
    uint8_t k1[32], k2[32], k3[32], k4[32], k5[32], k6[32];
    json_t *q = body("hello", 1), *q2 = body("hello", 2);
    assert_int_equal(zt_rcache_key(a, "user:alice", "chat", "m", 16, q, k1), 0);
    assert_int_equal(zt_rcache_key(a, "user:bob", "chat", "m", 16, q, k2), 0);
    assert_int_equal(zt_rcache_key(a, "user:alice", "chat", "m", 16, q2, k3), 0);
    assert_int_equal(zt_rcache_key(a, "user:alice", "chat", "m", 17, q, k4), 0);
    assert_int_equal(zt_rcache_key(b, "user:alice", "chat", "m", 16, q, k5), 0);
    assert_memory_not_equal(k1, k2, 32); /* scope */
    assert_memory_not_equal(k1, k3, 32); /* seed */
    assert_memory_not_equal(k1, k4, 32); /* max_tokens */
    assert_memory_not_equal(k1, k5, 32); /* secret */
    /* the answer's shape is not the job */
    json_object_set_new(q, "stream", json_false());
    json_object_set_new(q, "user", json_string("x"));
    assert_int_equal(zt_rcache_key(a, "user:alice", "chat", "m", 16, q, k6), 0);
    assert_memory_equal(k1, k6, 32);
    assert_int_equal(zt_rcache_key(a, "", "chat", "m", 16, q, k6), ZT_EINVAL);
    json_decref(q);
    json_decref(q2);
    zt_rcache_free(a);
    zt_rcache_free(b);
    assert_int_equal(zt_alloc_live(), live);
}

/* The entry name binds the model file and the engine build: another file
 * or build behind the same model name names another entry. */
static void test_name_binds_model_and_build(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_rcache *a = mk(secret_a, 1 << 20, 0);
    uint8_t job[32], n1[32], n2[32], n3[32], n4[32];
    json_t *q = body("hello", 1);
    assert_int_equal(zt_rcache_key(a, "user:alice", "chat", "m", 16, q, job), 0);
    struct zt_rcache_model m1 = {.build_id = "zentalk-engine/1+kv-f16"}, m2 = m1, m3 = m1, cur;
    memset(m1.sha256, 1, sizeof m1.sha256);
    memset(m2.sha256, 2, sizeof m2.sha256);                             /* another file */
    memcpy(m3.sha256, m1.sha256, sizeof m3.sha256);
    zt_strlcpy(m3.build_id, "zentalk-engine/1", sizeof m3.build_id); /* another build (no +kv-f16) */
    assert_int_equal(zt_rcache_name(a, job, &m1, n1), 0);
    assert_int_equal(zt_rcache_name(a, job, &m2, n2), 0);
    assert_int_equal(zt_rcache_name(a, job, &m3, n3), 0);
    assert_int_equal(zt_rcache_name(a, job, &m1, n4), 0);
    assert_memory_not_equal(n1, n2, 32);
    assert_memory_not_equal(n1, n3, 32);
    assert_memory_equal(n1, n4, 32);
    assert_memory_not_equal(n1, job, 32);
    struct zt_rcache_model none = {.build_id = ""};
    assert_int_equal(zt_rcache_name(a, job, &none, n4), ZT_EINVAL);

    /* a stored answer under m1's name is not found under m2's */
    struct zt_rcache_entry e, got;
    entry(&e, "once", 1);
    assert_int_equal(zt_rcache_put(a, n1, &e), 0);
    assert_int_equal(zt_rcache_get(a, n2, &got), ZT_ENOTFOUND);
    assert_int_equal(zt_rcache_get(a, n1, &got), 0);
    zt_rcache_entry_deinit(&got);

    /* what the name runs as: unknown, then the last answer's */
    assert_false(zt_rcache_model_current(a, "m", &cur));
    zt_rcache_model_seen(a, "m", &m1);
    assert_true(zt_rcache_model_current(a, "m", &cur));
    assert_memory_equal(&cur, &m1, sizeof cur);
    zt_rcache_model_seen(a, "m", &m2);
    assert_true(zt_rcache_model_current(a, "m", &cur));
    assert_memory_equal(cur.sha256, m2.sha256, 32);
    assert_false(zt_rcache_model_current(a, "other", &cur));
    /* review F12: a mode-less name answered by workers of both modes stays
     * on the default mode's build; the default build replaces a mode's; a
     * new file replaces it whatever its build */
    struct zt_rcache_model dflt = m2, bf = m2, kv = m2, other = m3;
    zt_strlcpy(dflt.build_id, "zentalk-engine/1+abc", sizeof dflt.build_id);
    zt_strlcpy(bf.build_id, "zentalk-engine/1+abc+bf16", sizeof bf.build_id);
    zt_strlcpy(kv.build_id, "zentalk-engine/1+abc+kv-f16", sizeof kv.build_id);
    zt_strlcpy(other.build_id, "zentalk-engine/1+abc+bf16", sizeof other.build_id);
    zt_rcache_model_seen(a, "pin", &bf);
    assert_true(zt_rcache_model_current(a, "pin", &cur));
    assert_string_equal(cur.build_id, bf.build_id); /* only a mode seen yet: its build */
    zt_rcache_model_seen(a, "pin", &dflt);
    for (int i = 0; i < 3; i++) {
        zt_rcache_model_seen(a, "pin", i == 1 ? &kv : &bf);
        assert_true(zt_rcache_model_current(a, "pin", &cur));
        assert_memory_equal(&cur, &dflt, sizeof cur);
    }
    zt_rcache_model_seen(a, "pin", &other);
    assert_true(zt_rcache_model_current(a, "pin", &cur));
    assert_memory_equal(&cur, &other, sizeof cur);
    /* bounded: many names, the least recently seen forgotten, "m" kept (just read) */
    char nm[16];
    for (int i = 0; i < 100; i++) {
        snprintf(nm, sizeof nm, "x%d", i);
        zt_rcache_model_seen(a, nm, &m3);
        if (i % 8 == 0) assert_true(zt_rcache_model_current(a, "m", &cur));
    }
    assert_true(zt_rcache_model_current(a, "m", &cur));
    assert_false(zt_rcache_model_current(a, "x0", &cur));
    assert_true(zt_rcache_model_current(a, "x99", &cur));
    json_decref(q);
    zt_rcache_free(a);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_put_get_seal(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_rcache *a = mk(secret_a, 1 << 20, 0);
    uint8_t k[32] = {5}, other[32] = {6};
    struct zt_rcache_entry e, got;
    entry(&e, "Once upon a time", 1);
    assert_int_equal(zt_rcache_get(a, k, &got), ZT_ENOTFOUND);
    assert_int_equal(zt_rcache_put(a, k, &e), 0);
    assert_int_equal(zt_rcache_get(a, k, &got), 0);
    assert_string_equal(got.text, "Once upon a time");
    assert_int_equal(got.text_len, e.text_len);
    assert_string_equal(got.finish_reason, "stop");
    assert_string_equal(got.worker, "zt1worker");
    assert_int_equal(got.completion_tokens, 5);
    assert_memory_equal(got.receipt, e.receipt, e.receipt_len);
    assert_memory_equal(got.checkpoint, e.checkpoint, e.checkpoint_len);
    assert_true(zt_rcache_same_chain(&got, e.checkpoint, e.checkpoint_len));
    struct zt_rcache_entry f;
    entry(&f, "x", 2);
    assert_false(zt_rcache_same_chain(&got, f.checkpoint, f.checkpoint_len));
    zt_rcache_entry_deinit(&got);
    assert_int_equal(zt_rcache_get(a, other, &got), ZT_ENOTFOUND);
    struct zt_rcache_stats st;
    zt_rcache_stats(a, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.stores, 1);
    assert_int_equal(st.entries, 1);
    zt_rcache_del(a, k);
    assert_int_equal(zt_rcache_get(a, k, &got), ZT_ENOTFOUND);
    zt_rcache_free(a);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_lru_bound(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_rcache_entry e, got;
    char text[1000];
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    entry(&e, text, 1);
    struct zt_rcache *a = mk(secret_a, 4 * 1400, 0); /* room for about four */
    uint8_t k[10][32];
    for (int i = 0; i < 10; i++) {
        memset(k[i], i + 1, 32);
        assert_int_equal(zt_rcache_put(a, k[i], &e), 0);
        if (i == 5) { /* touch the first still held: it survives the next puts */
            assert_int_equal(zt_rcache_get(a, k[3], &got), 0);
            zt_rcache_entry_deinit(&got);
        }
    }
    struct zt_rcache_stats st;
    zt_rcache_stats(a, &st);
    assert_true(st.bytes <= 4 * 1400);
    assert_true(st.evictions >= 5);
    assert_int_equal(zt_rcache_get(a, k[0], &got), ZT_ENOTFOUND);
    assert_int_equal(zt_rcache_get(a, k[9], &got), 0);
    zt_rcache_entry_deinit(&got);
    /* one entry larger than the whole bound */
    struct zt_rcache *tiny = mk(secret_a, 100, 0);
    assert_int_equal(zt_rcache_put(tiny, k[0], &e), ZT_ETOOBIG);
    zt_rcache_free(tiny);
    zt_rcache_free(a);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_receipt(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64], orig[40];
    crypto_sign_keypair(pk, sk);
    memset(orig, 0x42, sizeof orig);
    struct zt_rcache_receipt r = {.issued = 1700000000};
    memset(r.job_id, 1, 16);
    memset(r.orig_job_id, 2, 16);
    crypto_hash_sha256(r.orig_receipt_sha256, orig, sizeof orig);
    memcpy(r.gateway_pk, pk, 32);
    uint8_t rec[ZT_RCACHE_RECEIPT_LEN];
    assert_int_equal(zt_rcache_receipt_sign(&r, sk, rec), 0);
    assert_memory_equal(rec, "ZTC1", 4);
    struct zt_rcache_receipt out;
    assert_int_equal(zt_rcache_receipt_verify(rec, sizeof rec, orig, sizeof orig, &out), 0);
    assert_memory_equal(out.job_id, r.job_id, 16);
    assert_int_equal(out.issued, 1700000000);
    orig[0] ^= 1; /* another original receipt */
    assert_int_equal(zt_rcache_receipt_verify(rec, sizeof rec, orig, sizeof orig, &out), ZT_ECRYPTO);
    for (size_t i = 0; i < sizeof rec; i += 13) { /* any byte changed */
        rec[i] ^= 0x10;
        assert_int_not_equal(zt_rcache_receipt_verify(rec, sizeof rec, NULL, 0, &out), 0);
        rec[i] ^= 0x10;
    }
    assert_int_equal(zt_rcache_receipt_verify(rec, sizeof rec - 1, NULL, 0, &out), ZT_EPARSE);
    /* a key that is not the receipt's: refused */
    uint8_t pk2[32], sk2[64];
    crypto_sign_keypair(pk2, sk2);
    assert_int_equal(zt_rcache_receipt_sign(&r, sk2, rec), ZT_EINVAL);
}

static void test_sampling(void **state)
{
    (void)state;
    struct zt_rcache *none = mk(secret_a, 1 << 16, 0), *all = mk(secret_a, 1 << 16, 1000);
    for (int i = 0; i < 50; i++) {
        assert_false(zt_rcache_sample_verify(none));
        assert_true(zt_rcache_sample_verify(all));
    }
    zt_rcache_free(none);
    zt_rcache_free(all);
}

/* Redis that is not there at start, or a URL that is not Redis's: refused
 * (the node does not start); the live backend is test_result_cache's. */
static void test_redis_refused(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_rcache *c = NULL;
    struct zt_rcache_opts o = {.backend = "redis", .redis_url = "redis://:pw@127.0.0.1:1/2", .ttl_s = 60,
                               .secret = secret_a, .timeout_ms = 500};
    assert_int_equal(zt_rcache_new(&o, &c), ZT_EIO);
    o.redis_url = "http://127.0.0.1:6379";
    assert_int_equal(zt_rcache_new(&o, &c), ZT_EINVAL);
    o.redis_url = "redis://127.0.0.1:1/x";
    assert_int_equal(zt_rcache_new(&o, &c), ZT_EINVAL);
    o.backend = "memcached";
    assert_int_equal(zt_rcache_new(&o, &c), ZT_EINVAL);
    assert_null(c);
    assert_int_equal(zt_alloc_live(), live);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names), cmocka_unit_test(test_name_binds_model_and_build),         cmocka_unit_test(test_put_get_seal), cmocka_unit_test(test_lru_bound),
        cmocka_unit_test(test_receipt),       cmocka_unit_test(test_sampling),     cmocka_unit_test(test_redis_refused),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
