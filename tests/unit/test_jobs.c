/* test_jobs.c: sealed jobs as a protocol (zt_jobs.h): the builder takes
 * nothing but the privacy gate's verdict (missing, refusing, or taken for
 * another feature or other texts: refused; masked: the masked texts go
 * out, and the worker's decoder reads them back); the client refuses the
 * same before sealing anything; the texts the gate must see; the
 * local-first decision's local cases; the static peers' failure memory
 * and pick order; the job pool's slots. */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
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
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hpke.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_time.h"

static const char *policy_yaml = "privacy:\n"
                                 "  default_policy: pseudonymise\n"
                                 "  policies:\n"
                                 "    - {feature: chat, type: CARD, action: local_only}\n";

struct fixture {
    struct zt_config cfg;
    struct zt_privacy_gate *g;
};

static int setup(void **state)
{
    static struct fixture f;
    assert_int_equal(zt_crypto_init(), 0);
    assert_int_equal(zt_config_init_defaults(&f.cfg), 0);
    assert_int_equal(zt_config_load_string(&f.cfg, "privacy.yaml", "privacy.yaml", policy_yaml,
                                           strlen(policy_yaml), NULL),
                     0);
    f.cfg.privacy.pii_filter = true;
    assert_int_equal(zt_privacy_gate_new(&f.cfg.privacy, &f.g, NULL), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    zt_privacy_gate_free(f->g);
    zt_config_deinit(&f->cfg);
    return 0;
}

/* The gate's verdict over the texts of req for kind. */
static int check(struct fixture *f, json_t *req, enum zt_job_kind kind, struct zt_privacy_verdict *v)
{
    struct zt_privacy_text t[ZT_JOB_MAX_MESSAGES];
    size_t n = 0;
    zt_job_texts(req, kind, t, ZT_JOB_MAX_MESSAGES, &n);
    return zt_privacy_gate_check(f->g, zt_job_kind_feature(kind), t, n, v);
}

static json_t *chat_req(const char *user)
{
    return json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s}],s:i}", "model", "tiny", "messages", "role", "system", "content",
                     "be brief", "role", "user", "content", user, "seed", 7);
}

static void test_texts(void **state)
{
    (void)state;
    struct zt_privacy_text t[4];
    size_t n = 99;
    json_t *c = chat_req("hi");
    zt_job_texts(c, ZT_JOB_CHAT, t, 4, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(t[1].s, "hi", 2);
    zt_job_texts(c, ZT_JOB_CHAT, t, 1, &n); /* more messages than room: none */
    assert_int_equal(n, 0);
    zt_job_texts(c, ZT_JOB_COMPLETION, t, 4, &n); /* a chat request has no prompt */
    assert_int_equal(n, 0);
    json_decref(c);
    json_t *p = json_pack("{s:[s]}", "prompt", "one");
    zt_job_texts(p, ZT_JOB_COMPLETION, t, 4, &n);
    assert_int_equal(n, 1);
    assert_int_equal(t[0].len, 3);
    json_decref(p);
    assert_string_equal(zt_job_kind_feature(ZT_JOB_CHAT), "chat");
    assert_string_equal(zt_job_kind_feature(ZT_JOB_COMPLETION), "completion");
}

static void test_build_needs_a_verdict(void **state)
{
    struct fixture *f = *state;
    int64_t live = zt_alloc_live();
    char *body = NULL;
    size_t len = 0;
    json_t *req = chat_req("my card is 4111111111111111");
    /* no verdict: no body */
    assert_int_equal(zt_job_build(req, ZT_JOB_CHAT, NULL, &body, &len), ZT_EPERM);
    assert_null(body);
    /* a refusing verdict: no body */
    struct zt_privacy_verdict v;
    assert_int_equal(check(f, req, ZT_JOB_CHAT, &v), 0);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_REFUSE);
    assert_int_equal(zt_job_build(req, ZT_JOB_CHAT, &v, &body, &len), ZT_EPERM);
    assert_null(body);
    /* a refusing verdict dressed up as an allow of another kind of job is
     * still not this job's */
    zt_privacy_verdict_deinit(&v);
    json_t *clean = chat_req("hello");
    assert_int_equal(check(f, clean, ZT_JOB_CHAT, &v), 0);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_ALLOW);
    json_t *p = json_pack("{s:s}", "prompt", "hello");
    assert_int_equal(zt_job_build(p, ZT_JOB_COMPLETION, &v, &body, &len), ZT_EPERM); /* taken for "chat" */
    assert_int_equal(zt_job_build(req, ZT_JOB_CHAT, &v, &body, &len), 0);            /* same feature, same count */
    sodium_memzero(body, len);
    zt_free(body);
    body = NULL;
    json_t *three = json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "messages", "role", "user", "content", "a",
                              "role", "user", "content", "b", "role", "user", "content", "c");
    assert_int_equal(zt_job_build(three, ZT_JOB_CHAT, &v, &body, &len), ZT_EPERM); /* other texts */
    /* a forged kind is refused too */
    v.kind = (enum zt_privacy_verdict_kind)7;
    assert_int_equal(zt_job_build(clean, ZT_JOB_CHAT, &v, &body, &len), ZT_EPERM);
    v.kind = ZT_PRIVACY_VERDICT_ALLOW;
    zt_privacy_verdict_deinit(&v);
    assert_null(body);
    json_decref(three);
    json_decref(p);
    json_decref(clean);
    json_decref(req);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_build_masked_round_trip(void **state)
{
    struct fixture *f = *state;
    int64_t live = zt_alloc_live();
    json_t *req = json_pack("{s:[s],s:f,s:n}", "prompt", "write to alice@example.com", "temperature", 0.5, "seed");
    struct zt_privacy_verdict v;
    assert_int_equal(check(f, req, ZT_JOB_COMPLETION, &v), 0);
    assert_int_equal(v.kind, ZT_PRIVACY_VERDICT_MASKED);
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(zt_job_build(req, ZT_JOB_COMPLETION, &v, &body, &len), 0);
    assert_null(strstr(body, "alice@example.com")); /* the value never leaves */
    struct zt_job_request jr;
    const char *why = NULL;
    assert_int_equal(zt_job_body_decode((const uint8_t *)body, len, "tiny", 16, &jr, &why), 0);
    assert_int_equal(jr.kind, ZT_JOB_COMPLETION);
    assert_string_equal(json_string_value(json_object_get(jr.request, "prompt")), "write to <EMAIL_1>");
    assert_true(json_real_value(json_object_get(jr.request, "temperature")) == 0.5);
    assert_null(json_object_get(jr.request, "seed")); /* null: as absent */
    zt_job_request_deinit(&jr);
    zt_job_request_deinit(&jr);
    sodium_memzero(body, len);
    zt_free(body);
    /* own data (a user's CLI): sent as it is */
    struct zt_privacy_verdict own;
    zt_privacy_verdict_own_data(&own);
    assert_int_equal(zt_job_build(req, ZT_JOB_COMPLETION, &own, &body, &len), 0);
    assert_non_null(strstr(body, "alice@example.com"));
    sodium_memzero(body, len);
    zt_free(body);
    /* a request of the wrong shape under a good verdict: ZT_EINVAL */
    json_t *bad = json_pack("{s:i}", "prompt", 3);
    assert_int_equal(zt_job_build(bad, ZT_JOB_COMPLETION, &own, &body, &len), ZT_EINVAL);
    json_decref(bad);
    zt_privacy_verdict_deinit(&v);
    json_decref(req);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_client_refuses_before_sealing(void **state)
{
    struct fixture *f = *state;
    int64_t live = zt_alloc_live();
    uint8_t kem_sk[ZT_HPKE_SK_LEN], kem_pk[ZT_HPKE_PK_LEN], sign_pk[ZT_ENV_ED25519_PK_LEN] = {1};
    assert_int_equal(zt_hpke_keypair(kem_sk, kem_pk), 0);
    struct zt_job_spec spec = {
        .model = "tiny",
        .max_tokens = 8,
        .stream = true,
        .ttl_s = 60,
        .now = (uint64_t)(zt_time_real_ms() / 1000),
        .suite = ZT_HPKE_SUITE_CHACHA,
        .worker_id = "zt1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        .worker_kem_pk = kem_pk,
        .worker_sign_pk = sign_pk,
    };
    json_t *req = chat_req("card 4111111111111111");
    struct zt_job_call *job = NULL;
    assert_int_equal(zt_job_call_new(req, ZT_JOB_CHAT, NULL, &spec, &job), ZT_EPERM);
    assert_null(job);
    struct zt_privacy_verdict v;
    assert_int_equal(check(f, req, ZT_JOB_CHAT, &v), 0);
    assert_int_equal(zt_job_call_new(req, ZT_JOB_CHAT, &v, &spec, &job), ZT_EPERM);
    assert_null(job);
    zt_privacy_verdict_deinit(&v);
    /* the same job under an allow: sealed, with a job id; no target yet */
    json_t *ok = chat_req("hello");
    assert_int_equal(check(f, ok, ZT_JOB_CHAT, &v), 0);
    assert_int_equal(zt_job_call_new(ok, ZT_JOB_CHAT, &v, &spec, &job), 0);
    assert_int_equal(strlen(zt_job_call_id(job)), 2 * ZT_ENV_JOB_ID_LEN);
    assert_string_equal(zt_job_call_url(job), "");
    struct zt_job_outcome o;
    assert_int_equal(zt_job_call_send(job, NULL, &o), ZT_EINVAL);
    struct zt_job_target t = {.base_url = "http://127.0.0.1:9/", .via_relay = true};
    assert_int_equal(zt_job_call_target(job, &t), 0);
    assert_string_equal(zt_job_call_url(job), "http://127.0.0.1:9/v1/relay/jobs");
    zt_job_call_free(job);
    zt_job_call_free(NULL);
    zt_privacy_verdict_deinit(&v);
    json_decref(ok);
    json_decref(req);
    sodium_memzero(kem_sk, sizeof kem_sk);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_route_local(void **state)
{
    (void)state;
    struct zt_peers *peers = NULL;
    assert_int_equal(zt_peers_new(&peers), 0);
    struct zt_peer w;
    assert_int_equal(zt_route_decide(peers, "tiny", false, NULL, 0, 0, &w, NULL), ZT_ROUTE_LOCAL); /* no peers */
    assert_int_equal(zt_route_decide(peers, NULL, false, NULL, 0, 0, &w, NULL), ZT_ROUTE_LOCAL);   /* default model */
    assert_int_equal(zt_route_decide(NULL, "tiny", false, NULL, 0, 0, &w, NULL), ZT_ROUTE_LOCAL);
    assert_int_equal(zt_route_decide(peers, "tiny", true, NULL, 0, 0, &w, NULL), ZT_ROUTE_LOCAL);  /* served here */
    zt_peers_free(peers);
}

/* With workers joined to this node's orchestrator, the scheduler first;
 * the static peers are the fallback (ZT_ROUTE_REMOTE with the peer, or
 * NOWHERE); a model served here, no model, or a pinned worker never go
 * to the scheduler. */
static void test_route_scheduled(void **state)
{
    (void)state;
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    const char *roles[] = {"worker"};
    const char *models[] = {"tiny"};
    char *d = NULL;
    int64_t now = 1800000000;
    assert_int_equal(zt_identity_descriptor(id, roles, 1, models, 1, "http://10.0.0.1:8080", now + 3600, &d), 0);
    char text[4096];
    snprintf(text, sizeof text, "[%s]", d);
    zt_free(d);
    struct zt_peers *peers = NULL;
    assert_int_equal(zt_peers_new(&peers), 0);
    size_t kept = 0;
    assert_int_equal(zt_peers_load_text(peers, text, strlen(text), now, &kept, NULL, NULL), 0);
    assert_int_equal(kept, 1);
    struct zt_peer w;
    enum zt_route_where fb = ZT_ROUTE_LOCAL;
    /* no joined worker: the static decision alone */
    assert_int_equal(zt_route_decide(peers, "tiny", false, NULL, 0, now, &w, &fb), ZT_ROUTE_REMOTE);
    assert_string_equal(w.node_id, zt_identity_id(id));
    assert_int_equal(zt_route_decide(peers, "other", false, NULL, 0, now, &w, &fb), ZT_ROUTE_NOWHERE);
    /* joined workers: the scheduler, the static peer as the fallback */
    memset(&w, 0, sizeof w);
    assert_int_equal(zt_route_decide(peers, "tiny", false, NULL, 2, now, &w, &fb), ZT_ROUTE_SCHEDULED);
    assert_int_equal(fb, ZT_ROUTE_REMOTE);
    assert_string_equal(w.node_id, zt_identity_id(id));
    assert_int_equal(zt_route_decide(peers, "other", false, NULL, 2, now, &w, &fb), ZT_ROUTE_SCHEDULED);
    assert_int_equal(fb, ZT_ROUTE_NOWHERE);
    assert_int_equal(zt_route_decide(NULL, "other", false, NULL, 1, now, &w, NULL), ZT_ROUTE_SCHEDULED);
    assert_int_equal(zt_route_decide(NULL, "other", false, NULL, 1, now, &w, &fb), ZT_ROUTE_SCHEDULED);
    assert_int_equal(fb, ZT_ROUTE_NOWHERE); /* no peers: a 404 when no joined worker serves it */
    /* never scheduled: served here, the default model, a pinned worker */
    assert_int_equal(zt_route_decide(peers, "tiny", true, NULL, 2, now, &w, &fb), ZT_ROUTE_LOCAL);
    assert_int_equal(zt_route_decide(peers, NULL, false, NULL, 2, now, &w, &fb), ZT_ROUTE_LOCAL);
    assert_int_equal(zt_route_decide(peers, "tiny", false, zt_identity_id(id), 2, now, &w, &fb), ZT_ROUTE_REMOTE);
    assert_int_equal(zt_route_decide(peers, "tiny", false, "", 2, now, &w, &fb), ZT_ROUTE_SCHEDULED);
    zt_peers_free(peers);
    zt_identity_free(id);
}

/* Three worker peers serving "tiny", loaded at now; ids[] sorted as the
 * registry sorts them (by node id). */
static struct zt_peers *three_workers(int64_t now, struct zt_identity *ids[3], char names[3][ZT_IDENTITY_ID_SIZE])
{
    const char *roles[] = {"worker"};
    const char *models[] = {"tiny"};
    char text[16384] = "[";
    for (int i = 0; i < 3; i++) {
        char *d = NULL;
        assert_int_equal(zt_identity_generate(&ids[i]), 0);
        assert_int_equal(zt_identity_descriptor(ids[i], roles, 1, models, 1, "http://10.0.0.1:8080", now + 3600, &d), 0);
        size_t l = strlen(text);
        snprintf(text + l, sizeof text - l, "%s%s", i ? "," : "", d);
        zt_free(d);
        snprintf(names[i], ZT_IDENTITY_ID_SIZE, "%s", zt_identity_id(ids[i]));
    }
    size_t l = strlen(text);
    snprintf(text + l, sizeof text - l, "]");
    for (int i = 1; i < 3; i++) /* sort the names by id */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[ZT_IDENTITY_ID_SIZE];
            memcpy(t, names[j], sizeof t);
            memcpy(names[j], names[j - 1], sizeof t);
            memcpy(names[j - 1], t, sizeof t);
        }
    struct zt_peers *peers = NULL;
    assert_int_equal(zt_peers_new(&peers), 0);
    size_t kept = 0;
    assert_int_equal(zt_peers_load_text(peers, text, strlen(text), now, &kept, NULL, NULL), 0);
    assert_int_equal(kept, 3);
    return peers;
}

/* The failure memory (zt_peers_note): a failed peer is picked after every
 * healthy one, a held one only when no other serves the model, a pin
 * takes it anyway; an ok clears it; the hold ends, doubles per failure in
 * a row up to its cap; the table is bounded (the hold that ends first is
 * forgotten); ids that cannot be node ids are ignored. */
static void test_peers_failure_memory(void **state)
{
    (void)state;
    int64_t t = 1800000000;
    struct zt_identity *ids[3];
    char n[3][ZT_IDENTITY_ID_SIZE];
    struct zt_peers *p = three_workers(t, ids, n);
    struct zt_peer w;
    assert_int_equal(zt_peers_pick(p, "tiny", NULL, t, &w), 0);
    assert_string_equal(w.node_id, n[0]);
    zt_peers_note(p, n[0], false, t);
    assert_true(zt_peers_held(p, n[0], t));
    assert_true(zt_peers_held(p, n[0], t + ZT_PEERS_HOLD_S - 1));
    assert_false(zt_peers_held(p, n[0], t + ZT_PEERS_HOLD_S));
    assert_false(zt_peers_held(p, n[1], t));
    assert_int_equal(zt_peers_pick(p, "tiny", NULL, t, &w), 0);
    assert_string_equal(w.node_id, n[1]); /* healthy first */
    zt_peers_note(p, n[1], false, t);
    assert_int_equal(zt_peers_pick(p, "tiny", NULL, t, &w), 0);
    assert_string_equal(w.node_id, n[2]);
    zt_peers_note(p, n[2], false, t);
    assert_int_equal(zt_peers_pick(p, "tiny", NULL, t, &w), 0);
    assert_string_equal(w.node_id, n[0]); /* all held: still tried, in id order */
    assert_int_equal(zt_peers_pick(p, "tiny", n[2], t, &w), 0);
    assert_string_equal(w.node_id, n[2]); /* a pin, held or not */
    assert_int_equal(zt_peers_pick(p, "other", NULL, t, &w), ZT_ENOTFOUND);
    zt_peers_note(p, n[2], true, t); /* an ok clears it */
    assert_false(zt_peers_held(p, n[2], t));
    assert_int_equal(zt_peers_pick(p, "tiny", NULL, t, &w), 0);
    assert_string_equal(w.node_id, n[2]);
    assert_int_equal(zt_peers_pick(p, "tiny", NULL, t + ZT_PEERS_HOLD_S, &w), 0);
    assert_string_equal(w.node_id, n[0]); /* its hold ended */
    /* failures in a row double the hold, up to the cap */
    zt_peers_note(p, n[0], false, t + ZT_PEERS_HOLD_S);
    assert_true(zt_peers_held(p, n[0], t + 3 * ZT_PEERS_HOLD_S - 1));
    assert_false(zt_peers_held(p, n[0], t + 3 * ZT_PEERS_HOLD_S));
    for (int i = 0; i < 10; i++) zt_peers_note(p, n[0], false, t);
    int64_t cap = (int64_t)ZT_PEERS_HOLD_S << ZT_PEERS_HOLD_DOUBLINGS;
    assert_true(zt_peers_held(p, n[0], t + cap - 1));
    assert_false(zt_peers_held(p, n[0], t + cap));
    zt_peers_note(p, n[0], true, t);
    zt_peers_note(p, n[0], false, t); /* after an ok: a first failure again */
    assert_false(zt_peers_held(p, n[0], t + ZT_PEERS_HOLD_S));
    /* not node ids: ignored */
    char longer[2 * ZT_IDENTITY_ID_SIZE];
    memset(longer, 'z', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    zt_peers_note(p, longer, false, t);
    zt_peers_note(p, "", false, t);
    zt_peers_note(p, NULL, false, t);
    zt_peers_note(NULL, n[1], false, t);
    assert_false(zt_peers_held(p, longer, t));
    assert_false(zt_peers_held(p, NULL, t));
    assert_false(zt_peers_held(NULL, n[1], t));
    /* bounded: with the table full, the hold that ends first is forgotten */
    zt_peers_note(p, n[1], true, t);
    zt_peers_note(p, n[2], true, t);
    zt_peers_note(p, n[0], true, t);
    for (int i = 0; i < ZT_PEERS_HELD_MAX; i++) {
        char id[32];
        snprintf(id, sizeof id, "zt1fake%05d", i);
        zt_peers_note(p, id, false, t + i);
    }
    assert_true(zt_peers_held(p, "zt1fake00000", t));
    zt_peers_note(p, n[1], false, t + ZT_PEERS_HELD_MAX);
    assert_true(zt_peers_held(p, n[1], t + ZT_PEERS_HELD_MAX));
    assert_false(zt_peers_held(p, "zt1fake00000", t)); /* the first to end: gone */
    assert_true(zt_peers_held(p, "zt1fake00001", t));
    char last[32];
    snprintf(last, sizeof last, "zt1fake%05d", ZT_PEERS_HELD_MAX - 1);
    assert_true(zt_peers_held(p, last, t));
    zt_peers_free(p);
    for (int i = 0; i < 3; i++) zt_identity_free(ids[i]);
}

/* The router's picks (the first one and the failover picker's) take a
 * peer its own attempts found failed after every healthy one: the
 * picker's health hook feeds the memory (its report only logs). */
static void test_route_failure_memory(void **state)
{
    (void)state;
    int64_t now = zt_time_real_ms() / 1000;
    struct zt_identity *ids[3];
    char n[3][ZT_IDENTITY_ID_SIZE];
    struct zt_peers *peers = three_workers(now, ids, n);
    struct zt_peer w;
    assert_int_equal(zt_route_decide(peers, "tiny", false, NULL, 0, now, &w, NULL), ZT_ROUTE_REMOTE);
    assert_string_equal(w.node_id, n[0]);
    struct zt_route_picker rp;
    zt_route_picker_init(&rp, peers, "tiny", NULL, NULL, now);
    struct zt_job_worker jw;
    zt_route_worker(&w, NULL, &jw);
    rp.picker.report(rp.picker.ud, &jw, ZT_JOB_ATTEMPT_DIED, 5); /* the log only */
    assert_false(zt_peers_held(peers, n[0], now));
    rp.picker.health(rp.picker.ud, &jw, false);
    assert_true(zt_peers_held(peers, n[0], now));
    /* the next job starts on a healthy peer */
    assert_int_equal(zt_route_decide(peers, "tiny", false, NULL, 0, now, &w, NULL), ZT_ROUTE_REMOTE);
    assert_string_equal(w.node_id, n[1]);
    /* the failover after n[1]: n[2], not the held n[0] first */
    const char *excl[] = {n[1]};
    struct zt_job_worker next;
    assert_int_equal(rp.picker.pick(rp.picker.ud, excl, 1, &next), 0);
    assert_string_equal(next.node_id, n[2]);
    rp.picker.health(rp.picker.ud, &next, false);
    /* only held ones left: the held one is still tried */
    assert_int_equal(rp.picker.pick(rp.picker.ud, excl, 1, &next), 0);
    assert_string_equal(next.node_id, n[0]);
    const char *excl3[] = {n[1], n[0], n[2]};
    assert_int_equal(rp.picker.pick(rp.picker.ud, excl3, 3, &next), ZT_ENOTFOUND);
    /* an ok clears */
    zt_route_worker(&w, NULL, &jw);
    rp.picker.health(rp.picker.ud, &jw, false);
    assert_true(zt_peers_held(peers, n[1], now));
    rp.picker.health(rp.picker.ud, &jw, true);
    assert_false(zt_peers_held(peers, n[1], now));
    rp.picker.health(rp.picker.ud, &next, true);
    assert_int_equal(zt_route_decide(peers, "tiny", false, NULL, 0, now, &w, NULL), ZT_ROUTE_REMOTE);
    assert_string_equal(w.node_id, n[0]);
    zt_peers_free(peers);
    for (int i = 0; i < 3; i++) zt_identity_free(ids[i]);
}

static void bump(void *arg)
{
    zt_time_sleep_ms(20);
    (*(int *)arg)++;
}

static void test_pool(void **state)
{
    (void)state;
    struct zt_job_pool *p = NULL;
    assert_int_equal(zt_job_pool_new(2, &p), 0);
    assert_int_equal(zt_job_pool_reserve(p), 0);
    assert_int_equal(zt_job_pool_reserve(p), 0);
    assert_int_equal(zt_job_pool_reserve(p), ZT_EBUSY);
    assert_int_equal(zt_job_pool_inflight(p), 2);
    zt_job_pool_unreserve(p);
    static int runs;
    assert_int_equal(zt_job_pool_spawn(p, bump, &runs), 0); /* holds the first slot */
    assert_int_equal(zt_job_pool_shutdown(p, 5000), 0);
    assert_int_equal(runs, 1);
    assert_int_equal(zt_job_pool_inflight(p), 0);
    assert_int_equal(zt_job_pool_reserve(p), ZT_ECLOSED);
    assert_true(zt_job_pool_stopping(p));
    assert_int_equal(zt_job_pool_close(p, 0, "test"), 0);
    assert_int_equal(zt_job_pool_close(NULL, 0, "test"), 0);
}

struct seen {
    pthread_t t;
    atomic_bool done;
};

static void note_thread(void *arg)
{
    struct seen *s = arg;
    s->t = pthread_self();
    atomic_store(&s->done, true);
}

/* A thread whose job ended takes the next one (no thread per job): of ten
 * jobs one after another, some ran on a thread an earlier one had. */
static void test_pool_reuses_threads(void **state)
{
    (void)state;
    struct zt_job_pool *p = NULL;
    assert_int_equal(zt_job_pool_new(4, &p), 0);
    static struct seen seen[10];
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(zt_job_pool_reserve(p), 0);
        assert_int_equal(zt_job_pool_spawn(p, note_thread, &seen[i]), 0);
        for (int k = 0; k < 500 && (!atomic_load(&seen[i].done) || zt_job_pool_inflight(p) > 0); k++)
            zt_time_sleep_ms(2);
        assert_true(atomic_load(&seen[i].done));
        zt_time_sleep_ms(20); /* the thread parks */
    }
    size_t again = 0;
    for (size_t i = 1; i < 10; i++)
        for (size_t k = 0; k < i; k++)
            if (pthread_equal(seen[i].t, seen[k].t)) {
                again++;
                break;
            }
    assert_true(again > 0);
    assert_int_equal(zt_job_pool_close(p, 5000, "test"), 0); /* the parked thread exits */
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free); /* as the programs do: counted */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_texts),
        cmocka_unit_test(test_build_needs_a_verdict),
        cmocka_unit_test(test_build_masked_round_trip),
        cmocka_unit_test(test_client_refuses_before_sealing),
        cmocka_unit_test(test_route_local),
        cmocka_unit_test(test_route_scheduled),
        cmocka_unit_test(test_peers_failure_memory),
        cmocka_unit_test(test_route_failure_memory),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pool_reuses_threads),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
