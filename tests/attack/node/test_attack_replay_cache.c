/* test_attack_replay_cache.c: sealed-job replay cache exhaustion against a
 * real worker (issue 17 item 1). Before: 66,000 envelopes sealed to the
 * public kem_pk with an empty body {} filled the 65,536-id cache in 16 s
 * (the id was recorded once the ciphertext authenticated, before the body
 * was validated); for 5 minutes every real job got 503 replay_cache_full.
 *
 * Loopback clients bind to 127.0.0.2, 127.0.0.3, ... to act as several
 * addresses. Checked:
 *  - a job whose body is refused does not record its id (the same envelope
 *    again is 400 again, not 409), so a flood of validly sealed {} bodies
 *    leaves the cache empty and real jobs run, with the default cache and
 *    with a small one (encryption.replay_ids);
 *  - one anonymous address holds at most its share of the ids (429
 *    replay_share_exhausted past it), and others still get jobs through;
 *  - anonymous callers together hold at most half; an authenticated caller
 *    still gets its job through when they are at their limit.
 * ZT_SOAK=1 (make soak): the full 70,000-envelope flood.
 * Usage: test_attack_replay_cache PATH/zentalk-node [PATH/zentalk] */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_sealed.h"

#define SECRET "replay-attack-secret-0123456789abcdefghijklmnopqrstuv"

static char model_path[1024];
static bool soak;

struct worker {
    struct node n;
    char cfg[256];
    struct zt_node_descriptor desc;
};

/* A worker serving the test model as "stories", with extra encryption.yaml
 * lines (NULL: none). */
static void worker_start(struct worker *w, const char *encryption)
{
    tmp_dir(w->cfg, sizeof w->cfg, "replaycfg");
    char yaml[1400];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 8\n",
             model_path);
    put_file(w->cfg, "models.yaml", yaml);
    put_file(w->cfg, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 4\n");
    if (encryption) {
        snprintf(yaml, sizeof yaml, "encryption:\n%s", encryption);
        put_file(w->cfg, "encryption.yaml", yaml);
    }
    const char *const args[] = {"--config", w->cfg, NULL};
    node_spawn(&w->n, args, NULL, true, NULL);
    struct resp r;
    http(w->n.port, "GET", "/v1/node/descriptor", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(zt_identity_descriptor_verify(zt_buf_str(&r.body), r.body.len, (int64_t)time(NULL), &w->desc), 0);
    resp_free(&r);
}

static void worker_stop(struct worker *w)
{
    zt_node_descriptor_deinit(&w->desc);
    node_stop(&w->n, 60000);
    rm_rf(w->cfg);
}

/* body sealed to the worker, valid for 300 s; *env (zt_free it). */
static size_t seal(const struct worker *w, const char *body, uint8_t **env)
{
    struct zt_env_header t, h;
    memset(&t, 0, sizeof t);
    uint64_t now = (uint64_t)time(NULL);
    uint8_t reply_sk[32];
    t.flags = ZT_ENV_FLAG_STREAM;
    t.suite = ZT_HPKE_SUITE_CHACHA;
    zt_env_job_id_new(t.job_id);
    assert_int_equal(zt_hpke_keypair(reply_sk, t.reply_pk), 0);
    t.created = now;
    t.expires = now + 300;
    t.max_tokens = 1;
    t.model_len = 7;
    memcpy(t.model, "stories", 7);
    size_t len = 0;
    assert_int_equal(zt_env_seal(&t, w->desc.kem_pk, (const uint8_t *)body, strlen(body), &h, env, &len), 0);
    return len;
}

/* POST an envelope from src with an Authorization value (NULL: none); the
 * status, and the error code (if any) in code. */
static long post_env(const struct worker *w, const char *src, const char *auth, const uint8_t *env, size_t len,
                     char *code, size_t code_cap)
{
    char ct[96];
    snprintf(ct, sizeof ct, "%s", ZT_SEALED_MEDIA_ENVELOPE);
    struct http_opts o = {.ctype = ct, .body = env, .len = len, .sized = true, .from = src, .auth = auth,
                          .timeout_ms = 60000};
    struct resp r;
    assert_int_equal(http_req(w->n.port, "POST", "/v1/jobs/sealed", &o, &r), 0);
    long st = r.status;
    if (code) code[0] = '\0';
    if (st != 200) {
        json_t *j = resp_json(&r);
        const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
        if (code && c) snprintf(code, code_cap, "%s", c);
        json_decref(j);
    }
    resp_free(&r);
    return st;
}

static const char *JOB = "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"Once upon a time\"}";

static long real_job(const struct worker *w, const char *src, const char *auth, char *code, size_t cap)
{
    uint8_t *env = NULL;
    size_t len = seal(w, JOB, &env);
    long st = post_env(w, src, auth, env, len, code, cap);
    zt_free(env);
    return st;
}

/* n envelopes with the body {} from src: every one refused with 400
 * invalid_job; the first is sent again and is still 400, not 409. */
static void empty_flood(const struct worker *w, const char *src, unsigned n)
{
    uint8_t *first = NULL;
    size_t first_len = 0;
    char code[64];
    for (unsigned i = 0; i < n; i++) {
        uint8_t *env = NULL;
        size_t len = seal(w, "{}", &env);
        long st = post_env(w, src, NULL, env, len, code, sizeof code);
        if (st != 400 || strcmp(code, "invalid_job") != 0) fail_msg("{} #%u: %ld %s", i, st, code);
        if (i == 0) first = env, first_len = len;
        else zt_free(env);
    }
    assert_int_equal(post_env(w, src, NULL, first, first_len, code, sizeof code), 400);
    assert_string_equal(code, "invalid_job"); /* the id was not recorded */
    zt_free(first);
}

static void test_empty_bodies_not_recorded(void **state)
{
    (void)state;
    if (!model_path[0]) zt_skip("stories260K.gguf not found (tests/models)");
    struct worker w;
    worker_start(&w, NULL);
    unsigned n = soak ? 70000 : 500;
    empty_flood(&w, "127.0.0.2", n);
    if (soak) printf("SOAK replay_empty_bodies sent=%u refused=%u errors=0\n", n, n);
    char code[64];
    assert_int_equal(real_job(&w, "127.0.0.3", NULL, code, sizeof code), 200);
    worker_stop(&w);
}

static void test_small_cache_flood(void **state)
{
    (void)state;
    if (!model_path[0]) zt_skip("stories260K.gguf not found (tests/models)");
    struct worker w;
    worker_start(&w, "  replay_ids: 256\n");
    empty_flood(&w, "127.0.0.2", 300);
    char code[64];
    assert_int_equal(real_job(&w, "127.0.0.3", NULL, code, sizeof code), 200);
    worker_stop(&w);
}

/* 256 ids: an anonymous address may hold 256/64 = 4. */
static void test_per_address_share(void **state)
{
    (void)state;
    if (!model_path[0]) zt_skip("stories260K.gguf not found (tests/models)");
    struct worker w;
    worker_start(&w, "  replay_ids: 256\n");
    char code[64];
    int ok = 0, limited = 0;
    for (int i = 0; i < 10; i++) {
        long st = real_job(&w, "127.0.0.2", NULL, code, sizeof code);
        if (st == 200) ok++;
        else if (st == 429 && strcmp(code, "replay_share_exhausted") == 0) limited++;
        else fail_msg("job %d: %ld %s", i, st, code);
    }
    assert_int_equal(ok, 4);
    assert_int_equal(limited, 6);
    assert_int_equal(real_job(&w, "127.0.0.3", NULL, code, sizeof code), 200);
    worker_stop(&w);
}

/* Anonymous callers together hold at most half (128 of 256): past it a new
 * anonymous address is refused, an authenticated user is not. */
static void test_admitted_preferred(void **state)
{
    (void)state;
    if (!model_path[0]) zt_skip("stories260K.gguf not found (tests/models)");
    struct worker w;
    worker_start(&w, "  replay_ids: 256\n  jwt_secret: \"" SECRET "\"\n");
    char code[64], src[32];
    int ok = 0;
    for (int a = 0; a < 40 && ok < 128; a++) {
        snprintf(src, sizeof src, "127.0.1.%d", 10 + a);
        for (int i = 0; i < 4; i++)
            if (real_job(&w, src, NULL, code, sizeof code) == 200) ok++;
    }
    assert_int_equal(ok, 128);
    assert_int_equal(real_job(&w, "127.0.2.1", NULL, code, sizeof code), 429);
    assert_string_equal(code, "replay_share_exhausted");
    char *tok = jwt_mint(SECRET, "alice", "user", 600);
    char auth[1024];
    snprintf(auth, sizeof auth, "Bearer %s", tok);
    assert_int_equal(real_job(&w, "127.0.2.1", auth, code, sizeof code), 200);
    free(tok);
    worker_stop(&w);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_replay_cache")) return 2;
    soak = getenv("ZT_SOAK") && strcmp(getenv("ZT_SOAK"), "1") == 0;
    find_test_model("stories260K.gguf", model_path, sizeof model_path);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_bodies_not_recorded),
        cmocka_unit_test(test_small_cache_flood),
        cmocka_unit_test(test_per_address_share),
        cmocka_unit_test(test_admitted_preferred),
    };
    int f = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return zt_test_exit(f);
}
