/* test_result_cache: the gateway's result cache, black-box, with real nodes.
 *
 * W: a worker serving the tiny model (tests/models/stories260K.gguf; the
 * test skips with the reason when it is absent) that admits only signed
 * peers. G: a gateway with W in its peers file and API tokens (HS256,
 * minted here): users alice and bob (the other gateways too). Callers
 * without an identity (anonymous, the tokenless loopback operator) are
 * never cached: test_local_first, test_failover and test_network repeat
 * their requests as such and still reach a worker each time.
 *   alice asks twice: the second answer comes from the cache with the same
 *   text and the same worker receipt, a new job id, and a cache receipt
 *   signed by G that names the original receipt and the new job id; the
 *   worker ran once; a streamed request for the same job is a hit too.
 *   bob asks the same question: a miss by G's own counters, run by W.
 *   A request holding personal data (pseudonymised by the policy) is never
 *   cached. After alice's GDPR erase her entries cannot be reached.
 * G_OFF (privacy.result_cache: off): nothing cached, every request runs.
 * G_T (privacy.result_cache: tenant): bob's request is a hit on alice's
 *   entry; anonymous callers are still never cached.
 * G_V (result_cache_verify_permille 1000): the repeated request is re-run
 *   by W and compared: counted as verified.
 * G_R (database.result_cache: redis on the program's redis-server): a hit
 *   from Redis; Redis holds no plaintext (skipped with the reason when no
 *   redis-server can start).
 * G_M with two workers serving "stories" from two model files (WA the tiny
 *   model, WB llama-2-tiny-random.gguf): after the one that answered alice
 *   is killed, bob's request runs on the other; alice's repeated question is
 *   then a miss answered by the other file, never the old file's entry. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "keyed.h"
#include "zt_test_servers.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_rcache.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define SECRET "result-cache-test-secret-0123456789"

static struct keyed_node W, G, G_OFF, G_V, G_R, G_T, WA, WB, G_M;
static bool have_model, have_redis, have_other;
static char model_path[1024], other_path[1024], redis_url[128], alice[1024], bob[1024];

#define Q1 "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":12,\"seed\":7%s}"

static void start_gateway(struct keyed_node *g, char *dw, const char *const *env)
{
    char *gp[1] = {dw};
    put_file(g->dir, "encryption.yaml", "encryption:\n  jwt_secret: \"" SECRET "\"\n");
    put_json_array(g->data, "peers.json", gp, 1);
    const char *const args[] = {"--config", g->dir, NULL};
    node_spawn(&g->n, args, env, true, g->dir);
}

static int setup(void **state)
{
    (void)state;
    (void)find_test_model("stories260K.gguf", model_path, sizeof model_path);
    have_model = access(model_path, R_OK) == 0;
    if (!have_model) return 0;
    struct keyed_node *gs[] = {&G, &G_OFF, &G_V, &G_R, &G_T};
    keyed_make(&W, "rcache");
    for (size_t i = 0; i < 5; i++) keyed_make(gs[i], "rcache");
    char *dw = keyed_tiny_worker(&W, model_path, "stories", gs, 5, 32);

    static const char *const genv[] = {"ZENTALK_DATABASE_RESULT_CACHE_VERIFY_PERMILLE=0", NULL};
    start_gateway(&G, dw, genv);
    static const char *const offenv[] = {"ZENTALK_PRIVACY_RESULT_CACHE=off", NULL};
    start_gateway(&G_OFF, dw, offenv);
    static const char *const tenv[] = {"ZENTALK_PRIVACY_RESULT_CACHE=tenant",
                                       "ZENTALK_DATABASE_RESULT_CACHE_VERIFY_PERMILLE=0", NULL};
    start_gateway(&G_T, dw, tenv);
    static const char *const venv[] = {"ZENTALK_DATABASE_RESULT_CACHE_VERIFY_PERMILLE=1000", NULL};
    start_gateway(&G_V, dw, venv);
    have_redis = zt_test_redis_start(redis_url, sizeof redis_url);
    if (have_redis) {
        char url_env[200];
        snprintf(url_env, sizeof url_env, "ZENTALK_DATABASE_REDIS_URL=%s", redis_url);
        const char *const renv[] = {"ZENTALK_DATABASE_RESULT_CACHE=redis", url_env,
                                    "ZENTALK_DATABASE_RESULT_CACHE_VERIFY_PERMILLE=0", NULL};
        start_gateway(&G_R, dw, renv);
    }
    zt_free(dw);
    have_other = find_test_model("llama-2-tiny-random.gguf", other_path, sizeof other_path);
    if (have_other) {
        struct keyed_node *gm[] = {&G_M};
        keyed_make(&WA, "rcache");
        keyed_make(&WB, "rcache");
        keyed_make(&G_M, "rcache");
        char *dws[2] = {keyed_tiny_worker(&WA, model_path, "stories", gm, 1, 32),
                        keyed_tiny_worker(&WB, other_path, "stories", gm, 1, 32)};
        put_file(G_M.dir, "encryption.yaml", "encryption:\n  jwt_secret: \"" SECRET "\"\n");
        put_json_array(G_M.data, "peers.json", dws, 2);
        const char *const args[] = {"--config", G_M.dir, NULL};
        node_spawn(&G_M.n, args, genv, true, G_M.dir);
        zt_free(dws[0]);
        zt_free(dws[1]);
    }
    keyed_bearer(SECRET, "alice", alice, sizeof alice);
    keyed_bearer(SECRET, "bob", bob, sizeof bob);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    struct keyed_node *all[] = {&W, &G, &G_OFF, &G_V, &G_R, &G_T, &WA, &WB, &G_M};
    for (size_t i = 0; i < 9; i++) keyed_free(all[i]);
    return 0;
}

static long long counter(uint16_t port, const char *result)
{
    char name[96];
    snprintf(name, sizeof name, "zentalk_result_cache_total{result=\"%s\"}", result);
    return metric_value(port, name);
}

static const char *content(json_t *a)
{
    return json_string_value(
        json_object_get(json_object_get(json_array_get(json_object_get(a, "choices"), 0), "message"), "content"));
}

static const char *zfield(json_t *a, const char *k)
{
    return json_string_value(json_object_get(json_object_get(a, "zentalk"), k));
}

static json_t *ask(uint16_t port, const char *auth, const char *extra)
{
    char body[512];
    snprintf(body, sizeof body, Q1, extra);
    return post_json(port, "/v1/chat/completions", auth, body, 200);
}

/* The same question asked by first and then by second (auth headers, NULL:
 * anonymous) on port; *w0 the worker's job count before. */
static void ask_twice(uint16_t port, const char *first, const char *second, const char *extra, long long *w0,
                      json_t **a, json_t **b)
{
    *w0 = metric_value(W.n.port, "zentalk_inference_jobs_total");
    *a = ask(port, first, extra);
    *b = ask(port, second, extra);
}

/* The same bytes and the same receipt; the cache receipt verifies. */
static void test_hit_same_answer_and_receipt(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    long long w0 = metric_value(W.n.port, "zentalk_inference_jobs_total");
    json_t *a1 = ask(G.n.port, alice, "");
    assert_string_equal(zfield(a1, "verification"), "receipt");
    assert_int_equal(counter(G.n.port, "miss"), 1);
    assert_int_equal(counter(G.n.port, "store"), 1);
    json_t *a2 = ask(G.n.port, alice, "");
    assert_int_equal(counter(G.n.port, "hit"), 1);
    assert_int_equal(metric_value(W.n.port, "zentalk_inference_jobs_total"), w0 + 1); /* W ran it once */
    assert_true(strlen(content(a1)) > 5);
    assert_string_equal(content(a2), content(a1));
    assert_string_equal(zfield(a2, "receipt"), zfield(a1, "receipt"));
    assert_string_equal(zfield(a2, "seq_hash"), zfield(a1, "seq_hash"));
    assert_string_equal(zfield(a2, "ran_on"), zfield(a1, "ran_on"));
    assert_string_equal(zfield(a2, "verification"), "cache");
    assert_string_not_equal(zfield(a2, "job_id"), zfield(a1, "job_id"));

    /* the cache receipt: G's signature, the original receipt, the new job id */
    json_t *c = json_object_get(json_object_get(a2, "zentalk"), "cache");
    const char *crh = json_string_value(json_object_get(c, "receipt"));
    const char *orh = zfield(a1, "receipt");
    assert_non_null(crh);
    uint8_t cr[ZT_RCACHE_RECEIPT_LEN], orig[ZT_ENV_RECEIPT_MAX_LEN];
    size_t olen = strlen(orh) / 2;
    assert_int_equal(zt_hex_decode_str(cr, sizeof cr, crh, ZT_HEX_LOWER), 0);
    assert_int_equal(zt_hex_decode(orig, olen, orh, strlen(orh), ZT_HEX_LOWER), 0);
    struct zt_rcache_receipt r;
    assert_int_equal(zt_rcache_receipt_verify(cr, sizeof cr, orig, olen, &r), 0);
    assert_memory_equal(r.gateway_pk, zt_identity_sign_pk(G.id), 32);
    char jid[33];
    zt_hex_encode(jid, r.job_id, 16);
    assert_string_equal(jid, zfield(a2, "job_id"));
    struct zt_env_receipt wr;
    assert_int_equal(zt_env_receipt_verify(orig, olen, NULL, &wr), 0); /* still the worker's own */
    zt_hex_encode(jid, wr.job_id, 16);
    assert_string_equal(jid, json_string_value(json_object_get(c, "original_job_id")));
    assert_int_equal(zt_rcache_receipt_verify(cr, sizeof cr, orig, olen - 1, &r), ZT_ECRYPTO);
    cr[50] ^= 1;
    assert_int_equal(zt_rcache_receipt_verify(cr, sizeof cr, NULL, 0, &r), ZT_ECRYPTO);

    /* streamed: the same job, a hit, the same text in SSE */
    struct resp s;
    char body[512];
    snprintf(body, sizeof body, Q1, ",\"stream\":true");
    http_auth(G.n.port, "POST", "/v1/chat/completions", alice, "application/json", body, &s);
    assert_int_equal(s.status, 200);
    assert_non_null(strstr(zt_buf_str(&s.body), "data: [DONE]"));
    assert_non_null(strstr(zt_buf_str(&s.body), "\"verification\":\"cache\""));
    json_t *jc = json_string(content(a1));
    char *enc = json_dumps(jc, JSON_ENCODE_ANY);
    assert_non_null(strstr(zt_buf_str(&s.body), enc));
    free(enc);
    json_decref(jc);
    resp_free(&s);
    assert_int_equal(counter(G.n.port, "hit"), 2);
    json_decref(a1);
    json_decref(a2);
}

/* bob's first request for alice's question is a miss, run by W. */
static void test_users_share_nothing(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    json_t *a = ask(G.n.port, alice, ",\"temperature\":0.5");
    long long miss = counter(G.n.port, "miss"), hit = counter(G.n.port, "hit");
    long long w0 = metric_value(W.n.port, "zentalk_inference_jobs_total");
    json_t *b = ask(G.n.port, bob, ",\"temperature\":0.5");
    assert_int_equal(counter(G.n.port, "miss"), miss + 1);
    assert_int_equal(counter(G.n.port, "hit"), hit);
    assert_int_equal(metric_value(W.n.port, "zentalk_inference_jobs_total"), w0 + 1);
    assert_string_equal(zfield(b, "verification"), "receipt");
    assert_string_equal(content(b), content(a)); /* deterministic: the same answer, computed again */
    assert_string_not_equal(zfield(b, "receipt"), zfield(a, "receipt"));
    json_decref(a);
    json_decref(b);
    /* personal data (pseudonymised by the default policy): never cached */
    const char *pii = "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"write to carol@example.org\"}],"
                      "\"max_tokens\":8}";
    long long stores = counter(G.n.port, "store");
    json_decref(post_json(G.n.port, "/v1/chat/completions", alice, pii, 200));
    json_decref(post_json(G.n.port, "/v1/chat/completions", alice, pii, 200));
    assert_int_equal(counter(G.n.port, "store"), stores);
    assert_int_equal(counter(G.n.port, "hit"), hit);
    /* no identity (anonymous): nothing to scope an entry by, never cached */
    json_decref(ask(G.n.port, NULL, ",\"temperature\":0.3"));
    json_decref(ask(G.n.port, NULL, ",\"temperature\":0.3"));
    assert_int_equal(counter(G.n.port, "store"), stores);
    assert_int_equal(counter(G.n.port, "hit"), hit);
}

/* A GDPR erase destroys alice's pseudonym salt: her entries can no longer
 * be named (crypto-shredding); her next request is a miss. */
static void test_erase_shreds(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    json_decref(ask(G.n.port, alice, ",\"temperature\":0.7"));
    json_t *b = ask(G.n.port, alice, ",\"temperature\":0.7");
    assert_string_equal(zfield(b, "verification"), "cache");
    json_decref(b);
    json_t *e = post_json(G.n.port, "/v1/privacy/erase", alice, "{}", 200);
    json_decref(e);
    long long miss = counter(G.n.port, "miss");
    b = ask(G.n.port, alice, ",\"temperature\":0.7");
    assert_string_equal(zfield(b, "verification"), "receipt");
    assert_int_equal(counter(G.n.port, "miss"), miss + 1);
    json_decref(b);
}

/* privacy.result_cache: off: nothing is kept. */
static void test_policy_off(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    long long w0;
    json_t *a, *b;
    ask_twice(G_OFF.n.port, alice, alice, "", &w0, &a, &b);
    assert_string_equal(zfield(b, "verification"), "receipt");
    assert_null(json_object_get(json_object_get(b, "zentalk"), "cache"));
    assert_int_equal(metric_value(W.n.port, "zentalk_inference_jobs_total"), w0 + 2);
    assert_int_equal(counter(G_OFF.n.port, "store"), -1); /* no cache at all */
    json_decref(a);
    json_decref(b);
}

/* privacy.result_cache: tenant: every identified caller of the gateway
 * shares the entries (bob hits alice's answer); anonymous callers never
 * (nothing to scope by). */
static void test_tenant_scope(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    long long w0;
    json_t *a, *b;
    ask_twice(G_T.n.port, alice, bob, ",\"temperature\":0.4", &w0, &a, &b);
    assert_string_equal(zfield(a, "verification"), "receipt");
    assert_string_equal(zfield(b, "verification"), "cache");
    assert_string_equal(content(b), content(a));
    assert_string_equal(zfield(b, "receipt"), zfield(a, "receipt"));
    assert_int_equal(counter(G_T.n.port, "hit"), 1);
    assert_int_equal(metric_value(W.n.port, "zentalk_inference_jobs_total"), w0 + 1);
    /* anonymous: the same question is run, not answered from the tenant's entry, and not stored */
    long long stores = counter(G_T.n.port, "store"), w1;
    json_t *n1, *n2;
    ask_twice(G_T.n.port, NULL, NULL, ",\"temperature\":0.4", &w1, &n1, &n2);
    assert_string_equal(zfield(n1, "verification"), "receipt");
    assert_string_equal(zfield(n2, "verification"), "receipt");
    assert_int_equal(counter(G_T.n.port, "hit"), 1);
    assert_int_equal(counter(G_T.n.port, "store"), stores);
    assert_int_equal(metric_value(W.n.port, "zentalk_inference_jobs_total"), w0 + 3);
    json_decref(a);
    json_decref(b);
    json_decref(n1);
    json_decref(n2);
}

/* Every hit re-run by a worker and compared. */
static void test_reverify(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    json_t *a = ask(G_V.n.port, alice, "");
    json_t *b = ask(G_V.n.port, alice, "");
    assert_string_equal(zfield(b, "verification"), "receipt"); /* the worker's fresh answer */
    assert_string_equal(content(b), content(a));
    assert_int_equal(counter(G_V.n.port, "verified"), 1);
    assert_int_equal(counter(G_V.n.port, "mismatch"), 0);
    json_decref(a);
    json_decref(b);
}

/* The entry names the model file and engine build, not only the model's
 * name: another file behind "stories" never answers with the old one's
 * entry. */
static void test_model_swap_misses(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    if (!have_other) zt_skip("tests/models/llama-2-tiny-random.gguf is absent");
    json_t *a1 = ask(G_M.n.port, alice, ",\"temperature\":0.2");
    json_t *a2 = ask(G_M.n.port, alice, ",\"temperature\":0.2");
    assert_string_equal(zfield(a1, "verification"), "receipt");
    assert_string_equal(zfield(a2, "verification"), "cache"); /* cached while the file is the same */
    /* the worker that answered goes: "stories" is now the other file */
    struct keyed_node *gone = NULL;
    char id[64];
    node_id_of(WA.n.port, id, sizeof id, NULL);
    gone = zt_str_eq(id, zfield(a1, "ran_on")) ? &WA : &WB;
    assert_int_equal(kill(gone->n.pid, SIGKILL), 0);
    (void)node_wait(&gone->n, 10000);
    node_cleanup(&gone->n);
    gone->n.pid = 0;
    json_t *b = ask(G_M.n.port, bob, ",\"temperature\":0.9"); /* any verified answer of the other file */
    assert_string_not_equal(zfield(b, "ran_on"), zfield(a1, "ran_on"));
    long long hits = counter(G_M.n.port, "hit"), miss = counter(G_M.n.port, "miss");
    json_t *a3 = ask(G_M.n.port, alice, ",\"temperature\":0.2");
    assert_string_equal(zfield(a3, "verification"), "receipt"); /* run again, not the old file's entry */
    assert_string_equal(zfield(a3, "ran_on"), zfield(b, "ran_on"));
    assert_int_equal(counter(G_M.n.port, "hit"), hits);
    assert_int_equal(counter(G_M.n.port, "miss"), miss + 1);
    json_t *a4 = ask(G_M.n.port, alice, ",\"temperature\":0.2"); /* and cached again, for the new file */
    assert_string_equal(zfield(a4, "verification"), "cache");
    assert_string_equal(content(a4), content(a3));
    assert_string_equal(zfield(a4, "receipt"), zfield(a3, "receipt"));
    json_decref(a1);
    json_decref(a2);
    json_decref(b);
    json_decref(a3);
    json_decref(a4);
}

/* Redis: a hit through Redis; what Redis holds is no plaintext. */
static void test_redis(void **state)
{
    (void)state;
    if (!have_model) zt_skip("tests/models/stories260K.gguf is absent");
    if (!have_redis) zt_skip("no redis-server could start (see zt_test_servers)");
    json_t *a = ask(G_R.n.port, alice, ",\"temperature\":0.9");
    json_t *b = ask(G_R.n.port, alice, ",\"temperature\":0.9");
    assert_string_equal(zfield(b, "verification"), "cache");
    assert_string_equal(content(b), content(a));
    assert_string_equal(zfield(b, "receipt"), zfield(a, "receipt"));
    assert_int_equal(counter(G_R.n.port, "hit"), 1);
    /* the stored value does not hold the answer */
    char cmd[512], out[1 << 16];
    const char *hp = redis_url + strlen("redis://");
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(hp, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 6379;
    snprintf(cmd, sizeof cmd,
             "redis-cli -h %s -p %ld --raw KEYS 'zentalk:rcache:*' | head -1 | xargs -r redis-cli -h %s -p %ld --raw GET",
             host, port, host, port);
    if (run_shell(cmd, out, sizeof out) == 0 && out[0]) {
        char probe[24];
        zt_strlcpy(probe, content(a), sizeof probe);
        assert_null(strstr(out, probe));
    } else {
        zt_skip_part("redis-cli could not read the entry back");
    }
    json_decref(a);
    json_decref(b);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_result_cache")) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_same_answer_and_receipt),
        cmocka_unit_test(test_users_share_nothing),
        cmocka_unit_test(test_erase_shreds),
        cmocka_unit_test(test_policy_off),
        cmocka_unit_test(test_tenant_scope),
        cmocka_unit_test(test_reverify),
        cmocka_unit_test(test_redis),
        cmocka_unit_test(test_model_swap_misses),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
