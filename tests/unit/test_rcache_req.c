/* test_rcache_req: one request's part in the result cache (zt_rcache.h,
 * src/jobs/cache_req.c), without HTTP: the scope (two users never share a
 * scope, so never an entry; "tenant" is shared; no identity, no scope),
 * the variant key, and a request's life: a miss set up to store, the
 * verified answer stored, a hit for the same scope and none for another,
 * a sampled hit re-verified (same chain: counted; another chain: counted a
 * mismatch and replaced), the text restarted and dropped when too large;
 * when the cache applies (each rule of zt_rcache_applies), a hit's proof
 * (the cache receipt verifies, names the new and the original job, the
 * issue time and the gateway; a changed receipt or a checkpoint under
 * another key refuses), a free hit's bill (a fresh job id each time), and
 * a hit as one call (billed, the on-hit hook told, proved).
 * The gateway's use over HTTP is test_result_cache's. */
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
#include "zentalk/zt_config.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_rcache.h"
#include "zentalk/zt_sealed.h"

static const uint8_t secret[ZT_RCACHE_SECRET_LEN] = {4, 5, 6};

static struct zt_rcache *mk(uint32_t permille)
{
    struct zt_rcache_opts o = {.max_bytes = 1 << 20, .ttl_s = 3600, .verify_permille = permille, .secret = secret};
    struct zt_rcache *c = NULL;
    assert_int_equal(zt_rcache_new(&o, &c), 0);
    return c;
}

static json_t *body(const char *content)
{
    json_t *b = json_pack("{s:s,s:[{s:s,s:s}],s:i}", "model", "m", "messages", "role", "user", "content", content,
                          "seed", 7);
    assert_non_null(b);
    return b;
}

/* A verified remote result as the job client hands it over: a FINAL
 * checkpoint over chain_byte, signed under a fresh key. */
static void result(struct zt_sealed_result *res, uint8_t chain_byte)
{
    memset(res, 0, sizeof *res);
    memcpy(res->final.finish_reason, "stop", 5);
    res->final.prompt_tokens = 3;
    res->final.completion_tokens = 5;
    res->receipt_len = 10;
    memset(res->receipt_bytes, 0xab, res->receipt_len);
    memcpy(res->receipt.build_id, "b123", 5);
    res->receipt.build_id_len = 4;
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    struct zt_checkpoint ck = {.flags = ZT_CKPT_FLAG_FINAL, .n_tokens = 5, .build_id_len = 4};
    memcpy(ck.build_id, "b123", 5);
    memset(ck.chain, chain_byte, sizeof ck.chain);
    memset(ck.model_sha256, 7, sizeof ck.model_sha256);
    assert_int_equal(zt_checkpoint_sign(&ck, sk, res->checkpoint, sizeof res->checkpoint, &res->checkpoint_len), 0);
    res->ckpt = ck;
}

static void test_scope(void **state)
{
    (void)state;
    char a[128], b[128], t1[128], t2[128];
    assert_true(zt_rcache_scope("user", NULL, "alice", a, sizeof a));
    assert_true(zt_rcache_scope("user", NULL, "bob", b, sizeof b));
    assert_string_equal(a, "user-id:alice"); /* no pseudonyms (audit log off): the identity itself */
    assert_string_not_equal(a, b);
    assert_true(zt_rcache_scope("tenant", NULL, "alice", t1, sizeof t1));
    assert_true(zt_rcache_scope("tenant", NULL, "bob", t2, sizeof t2));
    assert_string_equal(t1, "tenant");
    assert_string_equal(t1, t2);
    /* no identity: nothing to scope by, never cached */
    assert_false(zt_rcache_scope("user", NULL, "", a, sizeof a));
    assert_false(zt_rcache_scope("tenant", NULL, "", a, sizeof a));
    assert_false(zt_rcache_scope("user", NULL, NULL, a, sizeof a));
    /* an identity that looks like another scope's text still names its own */
    assert_true(zt_rcache_scope("user", NULL, "tenant", b, sizeof b));
    assert_string_not_equal(b, t1);

    /* the same question from two users: two unrelated keys */
    struct zt_rcache *c = mk(0);
    json_t *q = body("hello");
    uint8_t ka[ZT_RCACHE_KEY_LEN], kb[ZT_RCACHE_KEY_LEN];
    assert_true(zt_rcache_scope("user", NULL, "alice", a, sizeof a));
    assert_true(zt_rcache_scope("user", NULL, "bob", b, sizeof b));
    assert_int_equal(zt_rcache_key(c, a, "chat", "m", 16, q, ka), 0);
    assert_int_equal(zt_rcache_key(c, b, "chat", "m", 16, q, kb), 0);
    assert_memory_not_equal(ka, kb, sizeof ka);
    json_decref(q);
    zt_rcache_free(c);
}

static void test_variant(void **state)
{
    (void)state;
    char v[64];
    json_t *q = body("x");
    assert_true(zt_rcache_variant("m", q, v, sizeof v));
    assert_string_equal(v, "m");
    json_object_set_new(q, "precision", json_string("bf16"));
    assert_true(zt_rcache_variant("m", q, v, sizeof v));
    assert_string_equal(v, "m precision=bf16");
    json_object_set_new(q, "kv_cache", json_string("f16"));
    assert_true(zt_rcache_variant("m", q, v, sizeof v));
    assert_string_equal(v, "m precision=bf16 kv_cache=f16");
    json_object_del(q, "precision");
    json_object_set_new(q, "kv_cache", json_integer(3)); /* not a string: not a mode */
    assert_true(zt_rcache_variant("m", q, v, sizeof v));
    assert_string_equal(v, "m");
    char small[8];
    assert_false(zt_rcache_variant("model-name", q, small, sizeof small)); /* does not fit */
    json_decref(q);
}

static void test_request_life(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_rcache *c = mk(0);
    char sa[128], sb[128];
    assert_true(zt_rcache_scope("user", NULL, "alice", sa, sizeof sa));
    assert_true(zt_rcache_scope("user", NULL, "bob", sb, sizeof sb));
    json_t *q = body("hello");
    struct zt_rcache_req r;
    struct zt_rcache_entry hit;
    struct zt_rcache_stats st;

    /* the model's file is not known yet: a miss, set up to store */
    assert_int_equal(zt_rcache_req_begin(c, sa, true, "m", 16, q, &r, &hit), ZT_ENOTFOUND);
    assert_true(r.on);
    assert_false(r.verify);
    assert_string_equal(r.model, "m");
    zt_rcache_stats(c, &st);
    assert_int_equal(st.misses, 1);
    zt_rcache_req_text(&r, "hel", 3);
    zt_rcache_req_restart(&r); /* another worker starts again */
    zt_rcache_req_text(&r, "hel", 3);
    zt_rcache_req_text(&r, "lo!", 3);
    struct zt_sealed_result res;
    result(&res, 1);
    res.checkpoint_len = 0; /* v1: no checkpoint, nothing stored */
    zt_rcache_req_done(c, &r, &res, "zt1worker");
    zt_rcache_stats(c, &st);
    assert_int_equal(st.stores, 0);
    result(&res, 1);
    zt_rcache_req_done(c, &r, &res, "zt1worker");
    zt_rcache_stats(c, &st);
    assert_int_equal(st.stores, 1);
    zt_rcache_req_deinit(&r);
    assert_false(r.on);

    /* the same question, the same caller: a hit with the answer */
    assert_int_equal(zt_rcache_req_begin(c, sa, true, "m", 16, q, &r, &hit), 0);
    assert_false(r.on);
    assert_int_equal(hit.text_len, 6);
    assert_memory_equal(hit.text, "hello!", 6);
    assert_string_equal(hit.worker, "zt1worker");
    assert_int_equal(hit.completion_tokens, 5);
    zt_rcache_entry_deinit(&hit);
    zt_rcache_req_deinit(&r);
    /* another caller: no entry of alice's */
    assert_int_equal(zt_rcache_req_begin(c, sb, true, "m", 16, q, &r, &hit), ZT_ENOTFOUND);
    assert_true(r.on);
    zt_rcache_req_deinit(&r);
    /* the same caller, a completion instead of a chat: another job */
    assert_int_equal(zt_rcache_req_begin(c, sa, false, "m", 16, q, &r, &hit), ZT_ENOTFOUND);
    zt_rcache_req_deinit(&r);
    /* a mode asked names another build: not known yet, a miss */
    json_object_set_new(q, "precision", json_string("bf16"));
    assert_int_equal(zt_rcache_req_begin(c, sa, true, "m", 16, q, &r, &hit), ZT_ENOTFOUND);
    assert_string_equal(r.model, "m precision=bf16");
    zt_rcache_req_deinit(&r);

    /* too large to keep: off, nothing stored */
    json_object_del(q, "precision");
    assert_int_equal(zt_rcache_req_begin(c, sb, true, "m", 16, q, &r, &hit), ZT_ENOTFOUND);
    static char big[4096];
    memset(big, 'x', sizeof big);
    for (size_t n = 0; n <= ZT_RCACHE_TEXT_MAX / sizeof big && r.on; n++) zt_rcache_req_text(&r, big, sizeof big);
    assert_false(r.on);
    zt_rcache_req_done(c, &r, &res, "zt1worker");
    zt_rcache_stats(c, &st);
    assert_int_equal(st.stores, 1);
    zt_rcache_req_deinit(&r);
    json_decref(q);
    zt_rcache_free(c);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_reverify(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_rcache *c = mk(1000); /* every hit re-run by a worker */
    char sa[128];
    assert_true(zt_rcache_scope("tenant", NULL, "alice", sa, sizeof sa));
    json_t *q = body("hello");
    struct zt_rcache_req r;
    struct zt_rcache_entry hit;
    struct zt_rcache_stats st;
    struct zt_sealed_result res;
    assert_int_equal(zt_rcache_req_begin(c, sa, true, "m", 16, q, &r, &hit), ZT_ENOTFOUND);
    zt_rcache_req_text(&r, "first", 5);
    result(&res, 1);
    zt_rcache_req_done(c, &r, &res, "zt1first");
    zt_rcache_req_deinit(&r);

    /* a sampled hit: run again, the same chain: counted verified */
    assert_int_equal(zt_rcache_req_begin(c, sa, true, "m", 16, q, &r, &hit), ZT_ENOTFOUND);
    assert_true(r.on);
    assert_true(r.verify);
    assert_string_equal(r.ent.worker, "zt1first");
    zt_rcache_req_text(&r, "first", 5);
    result(&res, 1);
    zt_rcache_req_done(c, &r, &res, "zt1second");
    zt_rcache_stats(c, &st);
    assert_int_equal(st.verified, 1);
    assert_int_equal(st.mismatches, 0);
    zt_rcache_req_deinit(&r);

    /* another chain: a mismatch, and the fresh answer replaces the entry */
    assert_int_equal(zt_rcache_req_begin(c, sa, true, "m", 16, q, &r, &hit), ZT_ENOTFOUND);
    assert_true(r.verify);
    zt_rcache_req_text(&r, "other", 5);
    result(&res, 2);
    zt_rcache_req_done(c, &r, &res, "zt1third");
    zt_rcache_stats(c, &st);
    assert_int_equal(st.mismatches, 1);
    zt_rcache_req_deinit(&r);
    assert_int_equal(zt_rcache_req_begin(c, sa, true, "m", 16, q, &r, &hit), ZT_ENOTFOUND);
    assert_true(r.verify);
    assert_string_equal(r.ent.worker, "zt1third");
    assert_int_equal(r.ent.text_len, 5);
    assert_memory_equal(r.ent.text, "other", 5);
    zt_rcache_req_deinit(&r);
    /* no cache: done is a no-op */
    zt_rcache_req_done(NULL, &r, &res, "zt1x");
    json_decref(q);
    zt_rcache_free(c);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_applies(void **state)
{
    (void)state;
    struct zt_config cfg = {0};
    char user[] = "user", off[] = "off";
    cfg.privacy.result_cache = user;
    cfg.privacy.retention_cache_days = 7;
    struct zt_privacy_verdict v = {.kind = ZT_PRIVACY_VERDICT_ALLOW};
    assert_true(zt_rcache_applies(&cfg, &v));
    v.types = 1u << 3; /* personal data found, even if allowed */
    assert_false(zt_rcache_applies(&cfg, &v));
    v.types = 0;
    v.kind = ZT_PRIVACY_VERDICT_MASKED;
    assert_false(zt_rcache_applies(&cfg, &v));
    v.kind = ZT_PRIVACY_VERDICT_ALLOW;
    cfg.privacy.retention_cache_days = 0;
    assert_false(zt_rcache_applies(&cfg, &v));
    cfg.privacy.retention_cache_days = 7;
    cfg.privacy.result_cache = off;
    assert_false(zt_rcache_applies(&cfg, &v));
}

/* An entry as a worker's verified answer leaves it: a signed receipt and
 * its FINAL checkpoint, both under the worker's key wsk. */
static void signed_entry(struct zt_rcache_entry *e, const uint8_t wsk[64], const uint8_t ck_sk[64])
{
    memset(e, 0, sizeof *e);
    struct zt_env_receipt r = {.prompt_tokens = 3, .completion_tokens = 5, .finished = 1700000000, .build_id_len = 4};
    memset(r.job_id, 0x5a, sizeof r.job_id);
    memset(r.seq_chain, 9, sizeof r.seq_chain);
    memcpy(r.build_id, "b123", 5);
    assert_int_equal(zt_env_receipt_sign(&r, wsk, e->receipt, sizeof e->receipt, &e->receipt_len), 0);
    struct zt_checkpoint ck = {.flags = ZT_CKPT_FLAG_FINAL, .n_tokens = 5, .build_id_len = 4};
    memcpy(ck.build_id, "b123", 5);
    assert_int_equal(zt_checkpoint_sign(&ck, ck_sk, e->checkpoint, sizeof e->checkpoint, &e->checkpoint_len), 0);
}

static void test_hit_receipt(void **state)
{
    (void)state;
    uint8_t wpk[32], wsk[64], gpk[32], gsk[64], opk[32], osk[64];
    crypto_sign_keypair(wpk, wsk);
    crypto_sign_keypair(gpk, gsk);
    crypto_sign_keypair(opk, osk);
    struct zt_rcache_entry e;
    signed_entry(&e, wsk, wsk);
    const char *job = "00112233445566778899aabbccddeeff";
    struct zt_env_receipt rcpt;
    uint8_t out[ZT_RCACHE_RECEIPT_LEN];
    assert_int_equal(zt_rcache_hit_receipt(&e, job, gpk, gsk, 1800000000, &rcpt, out), 0);
    assert_memory_equal(rcpt.worker_pk, wpk, 32);
    struct zt_rcache_receipt cr;
    assert_int_equal(zt_rcache_receipt_verify(out, sizeof out, e.receipt, e.receipt_len, &cr), 0);
    uint8_t jid[ZT_RCACHE_JOB_ID_LEN];
    assert_int_equal(zt_hex_decode_str(jid, sizeof jid, job, ZT_HEX_LOWER), 0);
    assert_memory_equal(cr.job_id, jid, sizeof jid);
    assert_memory_equal(cr.orig_job_id, rcpt.job_id, sizeof cr.orig_job_id);
    assert_memory_equal(cr.gateway_pk, gpk, 32);
    assert_int_equal(cr.issued, 1800000000);
    /* it names this receipt, no other */
    uint8_t other[ZT_ENV_RECEIPT_MAX_LEN];
    memcpy(other, e.receipt, e.receipt_len);
    other[e.receipt_len - 1] ^= 1;
    assert_int_equal(zt_rcache_receipt_verify(out, sizeof out, other, e.receipt_len, &cr), ZT_ECRYPTO);

    /* a changed receipt, or a checkpoint under another key: no proof */
    e.receipt[20] ^= 1;
    assert_int_equal(zt_rcache_hit_receipt(&e, job, gpk, gsk, 1800000000, &rcpt, out), ZT_ECRYPTO);
    signed_entry(&e, wsk, osk);
    assert_int_equal(zt_rcache_hit_receipt(&e, job, gpk, gsk, 1800000000, &rcpt, out), ZT_ECRYPTO);
}

static void test_hit_bill_free(void **state)
{
    (void)state;
    struct zt_config cfg = {0};
    char a[2 * ZT_RCACHE_JOB_ID_LEN + 1], b[2 * ZT_RCACHE_JOB_ID_LEN + 1], why[64] = "";
    zt_rcache_hit_job_id(a);
    zt_rcache_hit_job_id(b);
    assert_int_equal(zt_rcache_hit_bill(NULL, &cfg, "alice", "zt1gw", a, why, sizeof why), 0);
    assert_int_equal(strlen(a), 2 * ZT_RCACHE_JOB_ID_LEN);
    uint8_t jid[ZT_RCACHE_JOB_ID_LEN];
    assert_int_equal(zt_hex_decode_str(jid, sizeof jid, a, ZT_HEX_LOWER), 0);
    assert_string_not_equal(a, b); /* a new job each hit */
    assert_string_equal(why, "");  /* nothing to explain */
}

/* What the on-hit hook was told. */
struct hits {
    unsigned n;
    char job[2 * ZT_RCACHE_JOB_ID_LEN + 1], user[16], model[16], worker[40];
    uint32_t pt, ct;
};

static void on_hit(void *ud, const struct zt_rcache_hit_end *e)
{
    struct hits *h = ud;
    h->n++;
    snprintf(h->job, sizeof h->job, "%s", e->job_id);
    snprintf(h->user, sizeof h->user, "%s", e->user);
    snprintf(h->model, sizeof h->model, "%s", e->model);
    snprintf(h->worker, sizeof h->worker, "%s", e->worker);
    h->pt = e->prompt_tokens;
    h->ct = e->completion_tokens;
}

/* A hit as one call (zt_rcache_hit, chain NULL: free): billed under a
 * fresh job id, the hook told once with that job, the caller, the model
 * and the original's worker and counts, and the cache receipt signed by
 * the gateway for that job. An entry whose receipt does not verify is
 * still billed and told (it was answered, with an error), but not proved. */
static void test_hit(void **state)
{
    (void)state;
    struct zt_rcache *c = mk(0);
    struct hits seen = {0};
    zt_rcache_set_on_hit(c, on_hit, &seen);
    struct zt_identity *gw;
    assert_int_equal(zt_identity_generate(&gw), 0);
    uint8_t wpk[32], wsk[64];
    crypto_sign_keypair(wpk, wsk);
    struct zt_rcache_entry e;
    signed_entry(&e, wsk, wsk);
    snprintf(e.worker, sizeof e.worker, "zt1worker");
    e.prompt_tokens = 3;
    e.completion_tokens = 5;
    struct zt_config cfg = {0};
    struct zt_rcache_hit h;
    struct zt_env_receipt rcpt;
    uint8_t out[ZT_RCACHE_RECEIPT_LEN];
    assert_int_equal(zt_rcache_hit(c, NULL, &cfg, gw, "alice", "m", &e, 1800000000, &h, &rcpt, out), 0);
    assert_true(h.billed);
    assert_int_equal(strlen(h.job_hex), 2 * ZT_RCACHE_JOB_ID_LEN);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.job, h.job_hex);
    assert_string_equal(seen.user, "alice");
    assert_string_equal(seen.model, "m");
    assert_string_equal(seen.worker, "zt1worker");
    assert_int_equal(seen.pt, 3);
    assert_int_equal(seen.ct, 5);
    assert_memory_equal(rcpt.worker_pk, wpk, 32);
    struct zt_rcache_receipt cr;
    assert_int_equal(zt_rcache_receipt_verify(out, sizeof out, e.receipt, e.receipt_len, &cr), 0);
    assert_memory_equal(cr.gateway_pk, zt_identity_sign_pk(gw), 32);
    uint8_t jid[ZT_RCACHE_JOB_ID_LEN];
    assert_int_equal(zt_hex_decode_str(jid, sizeof jid, h.job_hex, ZT_HEX_LOWER), 0);
    assert_memory_equal(cr.job_id, jid, sizeof jid);

    char first[sizeof h.job_hex];
    memcpy(first, h.job_hex, sizeof first);
    e.receipt[20] ^= 1;
    assert_int_equal(zt_rcache_hit(c, NULL, &cfg, gw, "alice", "m", &e, 1800000000, &h, &rcpt, out), ZT_ECRYPTO);
    assert_true(h.proof_failed);
    assert_false(h.billed);
    assert_int_equal(seen.n, 1); /* no bill, no webhook for an answer that is an error */
    assert_string_not_equal(h.job_hex, first); /* a new job each hit */

    zt_rcache_set_on_hit(c, NULL, NULL); /* no hook: still billed and proved */
    e.receipt[20] ^= 1;
    assert_int_equal(zt_rcache_hit(c, NULL, &cfg, gw, "alice", "m", &e, 1800000000, &h, &rcpt, out), 0);
    assert_true(h.billed);
    assert_int_equal(seen.n, 1);
    zt_identity_free(gw);
    zt_rcache_free(c);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    zt_log_set_level(ZT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_variant),
        cmocka_unit_test(test_request_life),
        cmocka_unit_test(test_reverify),
        cmocka_unit_test(test_applies),
        cmocka_unit_test(test_hit_receipt),
        cmocka_unit_test(test_hit_bill_free),
        cmocka_unit_test(test_hit),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
