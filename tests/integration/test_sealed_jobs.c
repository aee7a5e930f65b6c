/* test_sealed_jobs.c: sealed jobs end to end against a real zentalk-node
 * serving stories260K.gguf.
 *
 *  - GET /v1/node/descriptor verifies and names the keys `zentalk id` shows;
 *  - `zentalk job run` gives exactly the text /v1/completions and
 *    /v1/chat/completions give for the same seed and parameters, with a
 *    receipt that verifies (and whose seq chain is the API's seq_hash);
 *  - raw HTTP: a replayed envelope is 409, expired / future / too long-lived
 *    ones are refused, one byte flipped anywhere is refused (and does not
 *    burn the real job id), an envelope for another key is 421 (or 400 when
 *    relabelled), garbage is 400, a wrong content type 415, a body over the
 *    limit 413, bad job bodies 400, an unknown model 404, a node without
 *    models 503; a header whose price ceiling is under the worker's price
 *    is 402 price_above_ceiling, one at its price runs;
 *  - a captured result stream, truncated or altered anywhere, is refused by
 *    the client's reader; a client that disconnects cancels the job;
 *  - a v2 job of 40 tokens streams signed checkpoints at 16 and 32 ids and
 *    its FINAL one at 40 (the cadence the reader requires).
 * Usage: test_sealed_jobs PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static const char *cli_bin;
static char model_path[1024];
static char cfg_dir[256];
static struct node nd;
static struct zt_node_descriptor desc;

#define ENV_CT ZT_SEALED_MEDIA_ENVELOPE

#define NEED_MODEL()                                                                \
    do {                                                                            \
        if (!model_path[0]) {                                                       \
            zt_skip("stories260K.gguf not found (tests/models)");                   \
        }                                                                           \
    } while (0)

static void fetch_descriptor(uint16_t port, struct zt_node_descriptor *d)
{
    struct resp r;
    http(port, "GET", "/v1/node/descriptor", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    int rc = zt_identity_descriptor_verify(zt_buf_str(&r.body), r.body.len, (int64_t)time(NULL), d);
    if (rc) fprintf(stderr, "descriptor: %d %s\n", rc, zt_buf_str(&r.body));
    assert_int_equal(rc, 0);
    resp_free(&r);
}

static int group_setup(void **state)
{
    (void)state;
    if (!model_path[0]) return 0;
    tmp_dir(cfg_dir, sizeof cfg_dir, "sealcfg");
    char yaml[1400];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
             "models:\n"
             "  - id: stories\n    path: %s\n    context_size: 256\n    temperature: 0.8\n    top_p: 0.95\n"
             "    top_k: 40\n    max_tokens: 32\n",
             model_path);
    put_file(cfg_dir, "models.yaml", yaml);
    put_file(cfg_dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 2\n  max_batch: 4\n");
    const char *const args[] = {"--config", cfg_dir, NULL};
    node_spawn(&nd, args, NULL, true, NULL);
    fetch_descriptor(nd.port, &desc);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (!model_path[0]) return 0;
    zt_node_descriptor_deinit(&desc);
    kill(nd.pid, SIGTERM);
    int st = node_wait(&nd, 20000);
    node_cleanup(&nd);
    rm_rf(nd.dir);
    rm_rf(cfg_dir);
    return st == 0 ? 0 : -1;
}

/* Run cmd; its stdout into out; returns the exit status. */

/* ---- sealing helpers ------------------------------------------------------- */

struct job {
    struct zt_env_header hdr; /* as sent */
    uint8_t reply_sk[32];
    uint8_t input_hash[32];
    uint8_t *env;
    size_t len;
};

/* The header's price ceiling of the next seal() (then back to 0: none). */
static uint64_t next_max_price;

/* Seal body to pk with the given times (0: now and now + 300). */
static void seal(struct job *j, const char *body, const char *model, uint32_t max_tokens, uint64_t created,
                 uint64_t expires, const uint8_t *pk)
{
    memset(j, 0, sizeof *j);
    struct zt_env_header t;
    memset(&t, 0, sizeof t);
    uint64_t now = (uint64_t)time(NULL);
    t.flags = ZT_ENV_FLAG_STREAM;
    t.suite = ZT_HPKE_SUITE_CHACHA;
    zt_env_job_id_new(t.job_id);
    assert_int_equal(zt_hpke_keypair(j->reply_sk, t.reply_pk), 0);
    t.created = created ? created : now;
    t.expires = expires ? expires : now + 300;
    t.max_tokens = max_tokens;
    t.max_price = next_max_price;
    next_max_price = 0;
    t.model_len = (uint8_t)strlen(model);
    memcpy(t.model, model, t.model_len);
    zt_sha256(j->input_hash, body, strlen(body));
    assert_int_equal(zt_env_seal(&t, pk ? pk : desc.kem_pk, (const uint8_t *)body, strlen(body), &j->hdr, &j->env,
                                 &j->len),
                     0);
}

static void job_free(struct job *j)
{
    zt_free(j->env);
    j->env = NULL;
}

static void post(const void *body, size_t len, const char *ctype, struct resp *r)
{
    http_bin(nd.port, "POST", "/v1/jobs/sealed", ctype, body, len, NULL, r);
}

static void on_text(void *ud, const char *t, size_t n)
{
    assert_int_equal(zt_buf_append(ud, t, n), 0);
}

/* Read a captured response; text into text (may be NULL). */
static int read_resp(const struct job *j, const uint8_t *p, size_t n, struct zt_buf *text, struct zt_sealed_result *res)
{
    struct zt_sealed_reader *rd = NULL;
    assert_int_equal(zt_sealed_reader_new(&j->hdr, j->reply_sk, desc.kem_pk, desc.ed25519_pk, j->input_hash, &rd), 0);
    int rc = zt_sealed_reader_feed(rd, p, n, text ? on_text : NULL, text);
    if (!rc) rc = zt_sealed_reader_finish(rd, res);
    zt_sealed_reader_free(rd);
    return rc;
}

static const char *COMPLETION = "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"Once upon a time\",\"seed\":11}";

/* ---- tests ------------------------------------------------------------------ */

static void test_descriptor(void **state)
{
    (void)state;
    NEED_MODEL();
    char want_ep[64];
    snprintf(want_ep, sizeof want_ep, "http://127.0.0.1:%u", nd.port);
    assert_string_equal(desc.endpoint, want_ep);
    assert_int_equal(desc.n_models, 1);
    assert_string_equal(desc.models[0], "stories");
    bool worker = false;
    for (size_t i = 0; i < desc.n_roles; i++) worker |= strcmp(desc.roles[i], "worker") == 0;
    assert_true(worker);
    assert_true(desc.expires > (int64_t)time(NULL) + 3000);
    /* the node id of /v1/status, and the keys `zentalk id` prints */
    struct resp r;
    http(nd.port, "GET", "/v1/status", NULL, NULL, &r);
    json_t *st = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(st, "node_id")), desc.node_id);
    json_decref(st);
    resp_free(&r);
    char cmd[1024], out[4096], hex[65];
    snprintf(cmd, sizeof cmd, "'%s' id --data-dir '%s' --json", cli_bin, nd.data_dir);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    json_t *id = json_loads(out, 0, NULL);
    assert_non_null(id);
    assert_string_equal(json_string_value(json_object_get(id, "node_id")), desc.node_id);
    zt_hex_encode(hex, desc.kem_pk, 32);
    assert_string_equal(json_string_value(json_object_get(id, "kem_pk")), hex);
    zt_hex_encode(hex, desc.ed25519_pk, 32);
    assert_string_equal(json_string_value(json_object_get(id, "ed25519_pk")), hex);
    json_decref(id);
    /* role none: public; HEAD works; POST is 405 */
    http(nd.port, "POST", "/v1/node/descriptor", "application/json", "{}", &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
}

/* `zentalk job run --json` next to the plain API with the same parameters. */
static json_t *cli_json(const char *args)
{
    char cmd[2048];
    static char out[1 << 16];
    snprintf(cmd, sizeof cmd, "'%s' job run --node http://127.0.0.1:%u %s --json", cli_bin, nd.port, args);
    int rc = run_shell(cmd, out, sizeof out);
    if (rc) fprintf(stderr, "%s -> %d: %s\n", cmd, rc, out);
    assert_int_equal(rc, 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    return j;
}

static json_t *api(const char *path, const char *body)
{
    struct resp r;
    http(nd.port, "POST", path, "application/json", body, &r);
    if (r.status != 200) fprintf(stderr, "%s: %ld %s\n", path, r.status, zt_buf_str(&r.body));
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    resp_free(&r);
    return j;
}

static void check_receipt(json_t *cli, json_t *ref)
{
    json_t *rc = json_object_get(cli, "receipt");
    assert_true(json_is_true(json_object_get(rc, "verified")));
    assert_string_equal(json_string_value(json_object_get(rc, "worker_node_id")), desc.node_id);
    /* the seq chain the worker signed is the chain the API reports */
    assert_string_equal(json_string_value(json_object_get(rc, "seq_chain")),
                        json_string_value(json_object_get(json_object_get(ref, "zentalk"), "seq_hash")));
    assert_string_equal(json_string_value(json_object_get(rc, "build_id")),
                        json_string_value(json_object_get(json_object_get(ref, "zentalk"), "engine")));
    /* the receipt bytes verify against the descriptor's key */
    const char *hex = json_string_value(json_object_get(rc, "bytes"));
    assert_non_null(hex);
    uint8_t bytes[ZT_ENV_RECEIPT_MAX_LEN];
    size_t n = 0;
    assert_int_equal(sodium_hex2bin(bytes, sizeof bytes, hex, strlen(hex), NULL, &n, NULL), 0);
    struct zt_env_receipt rec;
    assert_int_equal(zt_env_receipt_verify(bytes, n, desc.ed25519_pk, &rec), 0);
    json_t *u = json_object_get(ref, "usage");
    assert_int_equal(rec.prompt_tokens, json_integer_value(json_object_get(u, "prompt_tokens")));
    assert_int_equal(rec.completion_tokens, json_integer_value(json_object_get(u, "completion_tokens")));
}

static void test_cli_matches_api(void **state)
{
    (void)state;
    NEED_MODEL();
    /* completion, sampled */
    json_t *a = cli_json("stories 'Once upon a time' --seed 7 --temp 0.8 -n 20");
    json_t *b = api("/v1/completions",
                    "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"seed\":7,\"temperature\":0.8,\"max_tokens\":20}");
    json_t *cb = json_array_get(json_object_get(b, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "text")), json_string_value(json_object_get(cb, "text")));
    assert_string_equal(json_string_value(json_object_get(a, "finish_reason")),
                        json_string_value(json_object_get(cb, "finish_reason")));
    assert_true(strlen(json_string_value(json_object_get(a, "text"))) > 10);
    check_receipt(a, b);
    json_decref(a);
    json_decref(b);

    /* chat with a system message, greedy, with top-k / top-p */
    a = cli_json("stories Lily --chat --system 'Tell a story.' --seed 3 --temp 0 --top-k 20 --top-p 0.9 -n 24");
    b = api("/v1/chat/completions",
            "{\"messages\":[{\"role\":\"system\",\"content\":\"Tell a story.\"},{\"role\":\"user\",\"content\":\"Lily\"}],"
            "\"seed\":3,\"temperature\":0,\"top_k\":20,\"top_p\":0.9,\"max_tokens\":24}");
    cb = json_object_get(json_array_get(json_object_get(b, "choices"), 0), "message");
    assert_string_equal(json_string_value(json_object_get(a, "text")),
                        json_string_value(json_object_get(cb, "content")));
    check_receipt(a, b);
    json_decref(a);
    json_decref(b);

    /* --no-stream: the same text in one chunk */
    a = cli_json("stories 'Once upon a time' --seed 7 --temp 0.8 -n 20 --no-stream");
    b = cli_json("stories 'Once upon a time' --seed 7 --temp 0.8 -n 20");
    assert_string_equal(json_string_value(json_object_get(a, "text")), json_string_value(json_object_get(b, "text")));
    /* same request and output, different job: the same chain, another header
     * hash; wire v2's output holds checkpoints signed for each job, so the
     * output hashes differ (replicas compare chains: docs/architecture/WIRE.md) */
    json_t *ra = json_object_get(a, "receipt"), *rb = json_object_get(b, "receipt");
    assert_string_equal(json_string_value(json_object_get(ra, "seq_chain")),
                        json_string_value(json_object_get(rb, "seq_chain")));
    assert_string_not_equal(json_string_value(json_object_get(ra, "output_hash")),
                            json_string_value(json_object_get(rb, "output_hash")));
    assert_string_not_equal(json_string_value(json_object_get(ra, "header_hash")),
                            json_string_value(json_object_get(rb, "header_hash")));
    json_decref(a);
    json_decref(b);

    /* plain output: the text, a newline, then (--receipt) the receipt as JSON */
    char cmd[2048], out[1 << 16];
    snprintf(cmd, sizeof cmd,
             "'%s' job run stories 'Once upon a time' --node http://127.0.0.1:%u --seed 7 --temp 0.8 -n 20 "
             "--receipt --expect-id %s",
             cli_bin, nd.port, desc.node_id);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    json_t *rec = json_loads(nl + 1, 0, NULL);
    assert_non_null(rec);
    assert_true(json_is_true(json_object_get(rec, "verified")));
    json_decref(rec);
    /* a saved descriptor works without fetching it */
    char dpath[400];
    snprintf(dpath, sizeof dpath, "%s/desc.json", nd.dir);
    struct resp r;
    http(nd.port, "GET", "/v1/node/descriptor", NULL, NULL, &r);
    put_file(nd.dir, "desc.json", zt_buf_str(&r.body));
    resp_free(&r);
    snprintf(cmd, sizeof cmd, "'%s' job run --descriptor '%s' stories 'Once upon a time' -n 4 --json", cli_bin, dpath);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
}

static void test_cli_errors(void **state)
{
    (void)state;
    NEED_MODEL();
    char cmd[2048], out[8192];
    const char *u = "http://127.0.0.1";
    /* the wrong node */
    snprintf(cmd, sizeof cmd, "'%s' job run --node %s:%u stories x --expect-id zt1aizub4ibwtcvkirhee3zfsdhn36ekgqc 2>&1",
             cli_bin, u, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "not the expected"));
    /* a model the node does not serve */
    snprintf(cmd, sizeof cmd, "'%s' job run --node %s:%u nope x 2>&1", cli_bin, u, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "does not serve"));
    /* unreachable; no descriptor route */
    snprintf(cmd, sizeof cmd, "'%s' job run --node %s:1 stories x 2>/dev/null", cli_bin, u);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    snprintf(cmd, sizeof cmd, "'%s' job run --node %s:%u/nope stories x 2>/dev/null", cli_bin, u, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    /* a tampered saved descriptor */
    struct resp r;
    http(nd.port, "GET", "/v1/node/descriptor", NULL, NULL, &r);
    char *t = strstr(r.body.data, "\"stories\"");
    assert_non_null(t);
    t[1] = 'S';
    put_file(nd.dir, "bad-desc.json", zt_buf_str(&r.body));
    resp_free(&r);
    snprintf(cmd, sizeof cmd, "'%s' job run --descriptor '%s/bad-desc.json' Stories x 2>&1", cli_bin, nd.dir);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "signature"));
    /* a relay that has no relay route: the POST is refused (404), exit 1 */
    snprintf(cmd, sizeof cmd, "'%s' job run --node %s:%u --via %s:%u stories x 2>&1", cli_bin, u, nd.port, u, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "404"));
    /* a price ceiling under the worker's price (2 * 10^15 base units per 1k): refused, exit 1 */
    snprintf(cmd, sizeof cmd, "'%s' job run --node %s:%u stories x -n 2 --max-price 1999999999999999 2>&1", cli_bin, u,
             nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "price"));
    /* usage: exit 2 */
    const char *bad[] = {"stories", "--node", "stories x --seed 1.5", "stories x --temp 9", "stories x -n 0",
                         "stories x --expect-id nope", "stories x --system s", "stories x --bogus", "a b c",
                         "stories x --max-price -1", "stories x --max-price 1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "'%s' job run --node %s:%u %s 2>/dev/null", cli_bin, u, nd.port, bad[i]);
        int rc = run_shell(cmd, out, sizeof out);
        if (rc != 2) fprintf(stderr, "usage case '%s': %d\n", bad[i], rc);
        assert_int_equal(rc, 2);
    }
    snprintf(cmd, sizeof cmd, "'%s' job run stories x 2>/dev/null", cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s' job bogus 2>/dev/null", cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s' job run --help", cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Exit status"));
}

static void test_raw_job_and_replay(void **state)
{
    (void)state;
    NEED_MODEL();
    struct job j;
    seal(&j, COMPLETION, "stories", 16, 0, 0, NULL);
    struct resp r;
    post(j.env, j.len, ENV_CT, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(zt_buf_str(&r.headers), "Content-Type: " ZT_SEALED_MEDIA_RESULT));
    struct zt_buf text;
    zt_buf_init(&text, 1 << 16);
    struct zt_sealed_result res;
    assert_int_equal(read_resp(&j, (const uint8_t *)r.body.data, r.body.len, &text, &res), 0);
    assert_int_equal(res.final.completion_tokens, 16);
    assert_string_equal(res.final.finish_reason, "length");
    /* same as the API */
    json_t *b = api("/v1/completions", "{\"prompt\":\"Once upon a time\",\"seed\":11,\"max_tokens\":16}");
    assert_string_equal(zt_buf_str(&text),
                        json_string_value(json_object_get(json_array_get(json_object_get(b, "choices"), 0), "text")));
    json_decref(b);
    resp_free(&r);
    /* the same envelope again: a replay */
    post(j.env, j.len, ENV_CT, &r);
    assert_error_json(&r, 409, "envelope_replayed");
    resp_free(&r);
    zt_buf_deinit(&text);
    job_free(&j);
}

static void test_times(void **state)
{
    (void)state;
    NEED_MODEL();
    uint64_t now = (uint64_t)time(NULL);
    struct {
        uint64_t created, expires;
        long status;
        const char *code;
    } cases[] = {
        {now - 200, now - 10, 410, "envelope_expired"},
        {now + 1000, now + 1200, 400, "envelope_not_yet_valid"},
        {now, now + 1000, 400, "envelope_lifetime_too_long"}, /* encryption.job_ttl_s = 300 */
        {now - 290, now + 5, 409, "envelope_predates_restart"}, /* created before the node started */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct job j;
        seal(&j, COMPLETION, "stories", 8, cases[i].created, cases[i].expires, NULL);
        struct resp r;
        post(j.env, j.len, ENV_CT, &r);
        if (r.status != cases[i].status) fprintf(stderr, "case %zu: %ld %s\n", i, r.status, zt_buf_str(&r.body));
        assert_error_json(&r, cases[i].status, cases[i].code);
        resp_free(&r);
        job_free(&j);
    }
}

static void test_every_flip(void **state)
{
    (void)state;
    NEED_MODEL();
    struct job j;
    seal(&j, COMPLETION, "stories", 4, 0, 0, NULL);
    uint8_t *copy = malloc(j.len);
    assert_non_null(copy);
    for (size_t i = 0; i < j.len; i++) {
        memcpy(copy, j.env, j.len);
        copy[i] ^= 0x01;
        struct resp r;
        post(copy, j.len, ENV_CT, &r);
        if (r.status < 400 || r.status > 421) fprintf(stderr, "flip at %zu: %ld %s\n", i, r.status, zt_buf_str(&r.body));
        assert_true(r.status >= 400 && r.status <= 421);
        assert_error_json(&r, r.status, NULL);
        resp_free(&r);
    }
    /* and truncations */
    size_t cuts[] = {1, 4, 5, 136, 137, 143, 144, j.len - 17, j.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct resp r;
        post(j.env, cuts[i], ENV_CT, &r);
        assert_int_equal(r.status, 400);
        resp_free(&r);
    }
    /* none of that burnt the real job id */
    struct resp r;
    post(j.env, j.len, ENV_CT, &r);
    assert_int_equal(r.status, 200);
    struct zt_sealed_result res;
    assert_int_equal(read_resp(&j, (const uint8_t *)r.body.data, r.body.len, NULL, &res), 0);
    resp_free(&r);
    free(copy);
    job_free(&j);
}

static void test_other_key(void **state)
{
    (void)state;
    NEED_MODEL();
    uint8_t sk[32], pk[32], kid[ZT_ENV_KID_LEN];
    assert_int_equal(zt_hpke_keypair(sk, pk), 0);
    struct job j;
    seal(&j, COMPLETION, "stories", 4, 0, 0, pk);
    struct resp r;
    post(j.env, j.len, ENV_CT, &r);
    assert_error_json(&r, 421, "wrong_recipient");
    resp_free(&r);
    /* relabelled with this worker's key id: it still cannot be opened */
    zt_env_key_id(desc.kem_pk, kid);
    memcpy(j.env + 28, kid, sizeof kid);
    post(j.env, j.len, ENV_CT, &r);
    assert_error_json(&r, 400, "envelope_rejected");
    resp_free(&r);
    job_free(&j);
}

static void test_garbage_and_media_type(void **state)
{
    (void)state;
    NEED_MODEL();
    struct resp r;
    uint8_t junk[300];
    randombytes_buf(junk, sizeof junk);
    post(junk, sizeof junk, ENV_CT, &r);
    assert_error_json(&r, 400, "invalid_envelope");
    resp_free(&r);
    post("ZTJ1\x01", 5, ENV_CT, &r);
    assert_error_json(&r, 400, "invalid_envelope");
    resp_free(&r);
    post("ZTJ1\x07", 5, ENV_CT, &r); /* another version */
    assert_error_json(&r, 400, "unsupported_envelope");
    resp_free(&r);
    post(NULL, 0, ENV_CT, &r);
    assert_error_json(&r, 400, "invalid_envelope");
    resp_free(&r);
    struct job j;
    seal(&j, COMPLETION, "stories", 4, 0, 0, NULL);
    const char *types[] = {"application/json", "text/plain", "application/octet-stream",
                           "application/vnd.zentalk.envelopes", NULL};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        post(j.env, j.len, types[i], &r);
        assert_error_json(&r, 415, "unsupported_media_type");
        resp_free(&r);
    }
    /* parameters after the media type are fine */
    post(j.env, j.len, ENV_CT "; v=1", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    job_free(&j);
    /* a body over server.max_body_bytes (1 MiB) */
    size_t big = (2u << 20);
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST /v1/jobs/sealed HTTP/1.1\r\nHost: x\r\nContent-Type: " ENV_CT "\r\nContent-Length: %zu\r\n\r\n",
                      big);
    char *req = calloc(1, (size_t)hn + big);
    assert_non_null(req);
    memcpy(req, head, (size_t)hn);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(raw_request(nd.port, req, (size_t)hn + big, &out), 413);
    zt_buf_deinit(&out);
    free(req);
    /* GET is 405 */
    http(nd.port, "GET", "/v1/jobs/sealed", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
}

/* The client's price ceiling sealed in the header (max_price, base units
 * per 1000 tokens): a worker priced above it refuses the job (402), one at
 * or under it runs it. This node has chain.yaml's default prices, 0.001
 * and 0.002 tokens per 1000 prompt and completion tokens: its price is the
 * higher, 2 * 10^15 base units. */
static void test_price_ceiling(void **state)
{
    (void)state;
    NEED_MODEL();
    struct job j;
    struct resp r;
    next_max_price = 1999999999999999u;
    seal(&j, COMPLETION, "stories", 4, 0, 0, NULL);
    assert_int_equal(j.hdr.max_price, 1999999999999999u);
    post(j.env, j.len, ENV_CT, &r);
    assert_error_json(&r, 402, "price_above_ceiling");
    resp_free(&r);
    job_free(&j);
    next_max_price = 2000000000000000u;
    seal(&j, COMPLETION, "stories", 4, 0, 0, NULL);
    post(j.env, j.len, ENV_CT, &r);
    assert_int_equal(r.status, 200);
    struct zt_sealed_result res;
    assert_int_equal(read_resp(&j, (const uint8_t *)r.body.data, r.body.len, NULL, &res), 0);
    assert_int_equal(res.final.completion_tokens, 4);
    resp_free(&r);
    job_free(&j);
}

static void test_bad_jobs(void **state)
{
    (void)state;
    NEED_MODEL();
    struct {
        const char *body, *model;
        long status;
        const char *code;
    } cases[] = {
        {"not json", "stories", 400, "invalid_job"},
        {"{\"v\":1,\"kind\":\"embedding\",\"input\":\"x\"}", "stories", 400, "unsupported_job"},
        {"{\"v\":3,\"kind\":\"completion\",\"prompt\":\"x\"}", "stories", 400, "unsupported_job"},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"x\",\"model\":\"other\"}", "stories", 400, "invalid_job"},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"x\",\"max_tokens\":99}", "stories", 400, "invalid_job"},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"x\",\"stream\":true}", "stories", 400, "invalid_job"},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"x\",\"temperature\":5}", "stories", 400, "invalid_request"},
        {"{\"v\":1,\"kind\":\"chat\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "stories", 400,
         "invalid_request"},
        {"{\"v\":1,\"kind\":\"completion\",\"prompt\":\"x\"}", "nope", 404, "model_not_found"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct job j;
        seal(&j, cases[i].body, cases[i].model, 8, 0, 0, NULL);
        struct resp r;
        post(j.env, j.len, ENV_CT, &r);
        if (r.status != cases[i].status) fprintf(stderr, "case %zu: %ld %s\n", i, r.status, zt_buf_str(&r.body));
        assert_error_json(&r, cases[i].status, cases[i].code);
        /* errors travel in clear: they never quote the body */
        assert_null(strstr(zt_buf_str(&r.body), "\"x\""));
        resp_free(&r);
        job_free(&j);
    }
    /* a prompt over the context (256 tokens) */
    struct zt_buf big;
    zt_buf_init(&big, 1 << 20);
    assert_int_equal(zt_buf_append_str(&big, "{\"v\":1,\"kind\":\"completion\",\"prompt\":\""), 0);
    for (int i = 0; i < 400; i++) assert_int_equal(zt_buf_append_str(&big, "dog "), 0);
    assert_int_equal(zt_buf_append_str(&big, "\"}"), 0);
    struct job j;
    seal(&j, zt_buf_str(&big), "stories", 8, 0, 0, NULL);
    struct resp r;
    post(j.env, j.len, ENV_CT, &r);
    assert_error_json(&r, 400, "context_length_exceeded");
    assert_null(strstr(zt_buf_str(&r.body), "dog"));
    resp_free(&r);
    job_free(&j);
    zt_buf_deinit(&big);
}

static void test_tampered_stream(void **state)
{
    (void)state;
    NEED_MODEL();
    struct job j;
    seal(&j, COMPLETION, "stories", 12, 0, 0, NULL);
    struct resp r;
    post(j.env, j.len, ENV_CT, &r);
    assert_int_equal(r.status, 200);
    const uint8_t *p = (const uint8_t *)r.body.data;
    size_t n = r.body.len;
    struct zt_sealed_result res;
    assert_int_equal(read_resp(&j, p, n, NULL, &res), 0);
    /* every truncation */
    for (size_t cut = 0; cut < n; cut++) assert_int_equal(read_resp(&j, p, cut, NULL, &res), ZT_ECRYPTO);
    /* every byte altered */
    uint8_t *copy = malloc(n + 1);
    assert_non_null(copy);
    for (size_t i = 0; i < n; i++) {
        memcpy(copy, p, n);
        copy[i] ^= 0x80;
        int rc = read_resp(&j, copy, n, NULL, &res);
        assert_true(rc == ZT_ECRYPTO || rc == ZT_EPARSE || rc == ZT_EUNSUPPORTED);
    }
    /* an extra byte */
    memcpy(copy, p, n);
    copy[n] = 0;
    assert_int_equal(read_resp(&j, copy, n + 1, NULL, &res), ZT_EPARSE);
    /* another job's stream, or another reply key */
    struct job other;
    seal(&other, COMPLETION, "stories", 12, 0, 0, NULL);
    assert_int_equal(read_resp(&other, p, n, NULL, &res), ZT_ECRYPTO);
    memcpy(other.hdr.job_id, j.hdr.job_id, 16);
    assert_true(read_resp(&other, p, n, NULL, &res) != 0);
    free(copy);
    job_free(&other);
    resp_free(&r);
    job_free(&j);
}

/* Wire v2: a signed checkpoint after every ZT_SEALED_CHECKPOINT_EVERY (16)
 * ids, then the FINAL one: 40 ids give K records at 16 and 32 and FINAL at
 * 40, each under the worker's key, naming this job and the body's hash as
 * subject, none with a prev (a fresh job). */
struct ckpts {
    int n, final;
    uint32_t at[8];
    size_t ids;
    uint8_t job_id[ZT_ENV_JOB_ID_LEN], subject[ZT_ENV_HASH_LEN];
    bool same;
};

static void ck_ids(void *ud, const int32_t *ids, size_t n)
{
    (void)ids;
    ((struct ckpts *)ud)->ids += n;
}

static void ck_seen(void *ud, const uint8_t *rec, size_t len, const struct zt_checkpoint *c)
{
    (void)rec, (void)len;
    struct ckpts *k = ud;
    static const uint8_t zero[ZT_ENV_HASH_LEN];
    if (k->n < 8) k->at[k->n] = c->n_tokens;
    k->n++;
    k->final += (c->flags & ZT_CKPT_FLAG_FINAL) != 0;
    k->same &= memcmp(c->job_id, k->job_id, sizeof k->job_id) == 0 &&
               memcmp(c->subject, k->subject, sizeof k->subject) == 0 && memcmp(c->prev, zero, sizeof zero) == 0 &&
               memcmp(c->worker_pk, desc.ed25519_pk, sizeof c->worker_pk) == 0;
}

static void test_checkpoint_cadence(void **state)
{
    (void)state;
    NEED_MODEL();
    struct job j;
    seal(&j, "{\"v\":2,\"kind\":\"completion\",\"prompt\":\"Once upon a time\",\"seed\":11}",
         "stories", 40, 0, 0, NULL);
    struct resp r;
    post(j.env, j.len, ENV_CT, &r);
    assert_int_equal(r.status, 200);
    struct ckpts k = {.same = true};
    memcpy(k.job_id, j.hdr.job_id, sizeof k.job_id);
    memcpy(k.subject, j.input_hash, sizeof k.subject);
    struct zt_sealed_reader *rd = NULL;
    assert_int_equal(zt_sealed_reader_new(&j.hdr, j.reply_sk, desc.kem_pk, desc.ed25519_pk, j.input_hash, &rd), 0);
    struct zt_sealed_v2_hooks h = {.tokens = ck_ids, .checkpoint = ck_seen};
    zt_sealed_reader_v2(rd, 0, &h, &k);
    assert_int_equal(zt_sealed_reader_feed(rd, (const uint8_t *)r.body.data, r.body.len, NULL, NULL), 0);
    struct zt_sealed_result res;
    assert_int_equal(zt_sealed_reader_finish(rd, &res), 0);
    zt_sealed_reader_free(rd);
    assert_int_equal(res.final.completion_tokens, 40);
    assert_int_equal(k.ids, 40);
    assert_int_equal(k.n, 3);
    assert_int_equal(k.at[0], 16);
    assert_int_equal(k.at[1], 32);
    assert_int_equal(k.at[2], 40);
    assert_int_equal(k.final, 1);
    assert_true(k.same);
    assert_true(res.ckpt.flags & ZT_CKPT_FLAG_FINAL);
    resp_free(&r);
    job_free(&j);
}

/* A client that goes away mid-stream: the job is cancelled. */
static void test_disconnect_cancels(void **state)
{
    (void)state;
    NEED_MODEL();
    for (int i = 0; i < 4; i++) {
        struct job j;
        seal(&j, "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"Once\"}", "stories", 240, 0, 0, NULL);
        char head[256];
        int hn = snprintf(head, sizeof head,
                          "POST /v1/jobs/sealed HTTP/1.1\r\nHost: x\r\nContent-Type: " ENV_CT
                          "\r\nContent-Length: %zu\r\n\r\n",
                          j.len);
        int fd = tcp_connect(nd.port);
        send_all(fd, head, (size_t)hn);
        send_all(fd, j.env, j.len);
        struct zt_buf out;
        zt_buf_init(&out, 1 << 20);
        assert_true(read_until(fd, &out, "ZTS1", 5000));
        close(fd);
        zt_buf_deinit(&out);
        job_free(&j);
    }
    uint64_t deadline = zt_time_mono_ms() + 5000;
    bool idle = false;
    while (!idle && zt_time_mono_ms() < deadline) {
        struct resp r;
        http(nd.port, "GET", "/metrics", NULL, NULL, &r);
        idle = strstr(zt_buf_str(&r.body), "\nzentalk_inference_slots_active 0\n") != NULL;
        resp_free(&r);
        if (!idle) zt_time_sleep_ms(50);
    }
    assert_true(idle);
    /* still serving */
    struct job j;
    seal(&j, COMPLETION, "stories", 4, 0, 0, NULL);
    struct resp r;
    post(j.env, j.len, ENV_CT, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    job_free(&j);
}

/* A node without models: 503 no_model, after the envelope opened. */
static void test_no_model(void **state)
{
    (void)state;
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    struct zt_node_descriptor d;
    memset(&d, 0, sizeof d);
    fetch_descriptor(n.port, &d);
    assert_int_equal(d.n_models, 0);
    struct job j;
    seal(&j, "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"x\"}", "stories", 4, 0, 0, d.kem_pk);
    struct resp r;
    http_bin(n.port, "POST", "/v1/jobs/sealed", ENV_CT, j.env, j.len, NULL, &r);
    assert_error_json(&r, 503, "no_model");
    resp_free(&r);
    job_free(&j);
    zt_node_descriptor_deinit(&d);
    kill(n.pid, SIGTERM);
    assert_int_equal(node_wait(&n, 15000), 0);
    node_cleanup(&n);
    rm_rf(n.dir);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_sealed_jobs ZENTALK_NODE ZENTALK\n");
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    if (zt_crypto_init() != 0) return 1;
    (void)find_test_model("stories260K.gguf", model_path, sizeof model_path);
    if (access(model_path, R_OK) != 0) {
        printf("note: %s not found; the tests that need the tiny model are skipped\n", model_path);
        model_path[0] = '\0';
    }
    char *abs = model_path[0] ? realpath(model_path, NULL) : NULL;
    if (abs) {
        snprintf(model_path, sizeof model_path, "%s", abs);
        free(abs);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_cli_matches_api),
        cmocka_unit_test(test_cli_errors),
        cmocka_unit_test(test_raw_job_and_replay),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_every_flip),
        cmocka_unit_test(test_other_key),
        cmocka_unit_test(test_garbage_and_media_type),
        cmocka_unit_test(test_bad_jobs),
        cmocka_unit_test(test_price_ceiling),
        cmocka_unit_test(test_tampered_stream),
        cmocka_unit_test(test_checkpoint_cadence),
        cmocka_unit_test(test_disconnect_cancels),
        cmocka_unit_test(test_no_model),
    };
    int failed = cmocka_run_group_tests_name("sealed_jobs", tests, group_setup, group_teardown);
    curl_global_cleanup();
    return zt_test_exit(failed);
}
