/* test_sealed_worker: the worker side of a sealed job (zt_sealed_worker.h,
 * src/jobs/sealed_worker.c), without HTTP: the descriptor (signed, cached,
 * re-signed with a new endpoint), and the admission's answers in order:
 * an empty or malformed envelope, another recipient, expired, from the
 * future, a lifetime over encryption.job_ttl_s, created before the worker
 * started, a price ceiling under the worker's price, a body that is not a
 * job, a job the inference service refuses; none of these burns the job
 * id. Then accepted jobs (the stories260K test model; skipped without it):
 * the stream header out, the id recorded (the same envelope again is a
 * replay), an anonymous address's share of the replay cache exhausted with
 * a Retry-After while another address and an identity still get in; a
 * run's stream written through a stand-in connection and read back by the
 * client (text, final chunk, receipt), cut short once on a failed write,
 * going on when the client left. The sealed stream over HTTP is
 * test_sealed_jobs's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "zt_test.h"
#include <jansson.h>
#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_runner.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_sealed_worker.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static const char JOB[] = "{\"v\":1,\"kind\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"seed\":7}";

struct fx {
    struct zt_config cfg;
    struct zt_identity *id;
    struct zt_infer *inf;
    struct zt_sealed_worker *w;
    uint8_t client_pk[32], client_sk[32];
    bool have_model;
};

static int setup(void **state)
{
    struct fx *f = zt_calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(zt_config_init_defaults(&f->cfg), 0);
    f->cfg.node.role_mask |= ZT_ROLE_WORKER;
    f->cfg.encryption.replay_ids = 128; /* an anonymous address holds 128/64 = 2 ids */
    f->cfg.encryption.job_ttl_s = 300;
    char model[1024];
    f->have_model = zt_test_model("stories260K.gguf", model, sizeof model);
    if (f->have_model) {
        char yaml[1200];
        int n = snprintf(yaml, sizeof yaml, "models:\n  - id: tiny\n    path: %s\n", model);
        struct zt_buf errs;
        zt_buf_init(&errs, 4096);
        assert_int_equal(zt_config_load_string(&f->cfg, "models.yaml", "models.yaml", yaml, (size_t)n, &errs), 0);
        zt_buf_deinit(&errs);
    }
    assert_int_equal(zt_infer_new(&f->cfg, NULL, &f->inf), 0);
    assert_int_equal(zt_identity_generate(&f->id), 0);
    assert_int_equal(zt_sealed_worker_new(f->id, f->inf, &f->cfg, &f->w), 0);
    crypto_box_keypair(f->client_pk, f->client_sk);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    zt_sealed_worker_free(f->w);
    zt_infer_shutdown(f->inf);
    zt_infer_free(f->inf);
    zt_identity_free(f->id);
    zt_config_deinit(&f->cfg);
    zt_free(f);
    return 0;
}

static uint64_t now_s(void)
{
    return (uint64_t)(zt_time_real_ms() / 1000);
}

/* An envelope sealed to pk, created at created, living ttl seconds. */
static struct zt_env_header last_hdr; /* the header of the last envelope sealed */

static uint8_t *seal_model(struct fx *f, const uint8_t *pk, uint64_t created, uint64_t ttl, uint64_t max_price,
                           const char *body, const char *model, size_t *len)
{
    struct zt_env_header t;
    memset(&t, 0, sizeof t);
    t.flags = ZT_ENV_FLAG_STREAM;
    t.suite = ZT_HPKE_SUITE_CHACHA;
    zt_env_job_id_new(t.job_id);
    memcpy(t.reply_pk, f->client_pk, 32);
    t.created = created;
    t.expires = created + ttl;
    t.max_tokens = 8;
    t.max_price = max_price;
    t.model_len = (uint8_t)strlen(model);
    memcpy(t.model, model, t.model_len + 1);
    uint8_t *env = NULL;
    assert_int_equal(zt_env_seal(&t, pk, (const uint8_t *)body, strlen(body), &last_hdr, &env, len), 0);
    return env;
}

static uint8_t *seal(struct fx *f, const uint8_t *pk, uint64_t created, uint64_t ttl, uint64_t max_price,
                     const char *body, size_t *len)
{
    return seal_model(f, pk, created, ttl, max_price, body, "tiny", len);
}

/* Accept env from caller: the refusal's code ("" when accepted; the run and
 * job are freed). */
static const char *accept_as(struct fx *f, const uint8_t *env, size_t len, const char *caller, bool admitted,
                             struct zt_sealed_refusal *why)
{
    static char code[ZT_INFER_CODE_MAX];
    struct zt_sealed_run *run = NULL;
    struct zt_infer_job *job = NULL;
    uint8_t head[ZT_ENV_STREAM_HDR_LEN];
    memset(why, 0, sizeof *why);
    int rc = zt_sealed_worker_accept(f->w, env, len, caller, admitted, "req-1", &run, &job, head, why);
    if (rc == 0) {
        assert_non_null(run);
        assert_non_null(job);
        assert_memory_equal(head, "ZTS1", 4); /* the stream header's magic */
        zt_infer_job_free(job);
        zt_sealed_run_free(run);
        return "";
    }
    assert_int_equal(rc, ZT_EPERM);
    assert_null(run);
    assert_null(job);
    assert_true(why->err.message[0] != '\0');
    zt_strlcpy(code, why->err.code, sizeof code);
    return code;
}

static void test_descriptor(void **state)
{
    struct fx *f = *state;
    char *a = NULL, *b = NULL;
    /* none before the node listens: a descriptor names its endpoint */
    assert_int_equal(zt_sealed_worker_descriptor(f->w, NULL, &a), ZT_EINVAL);
    assert_null(a);
    zt_sealed_worker_set_endpoint(f->w, "http://10.0.0.8:8080");
    assert_int_equal(zt_sealed_worker_descriptor(f->w, NULL, &a), 0);
    assert_int_equal(zt_sealed_worker_descriptor(f->w, NULL, &b), 0);
    assert_string_equal(a, b); /* cached, not signed again */
    struct zt_node_descriptor d;
    assert_int_equal(zt_identity_descriptor_verify(a, strlen(a), (int64_t)now_s(), &d), 0);
    assert_memory_equal(d.kem_pk, zt_identity_kem_pk(f->id), 32);
    assert_true(d.expires > (int64_t)now_s() + ZT_SEALED_WORKER_DESCRIPTOR_TTL_S - 5);
    bool worker = false;
    for (size_t i = 0; i < d.n_roles; i++) worker |= strcmp(d.roles[i], "worker") == 0;
    assert_true(worker);
    zt_node_descriptor_deinit(&d);
    zt_free(b);
    /* a new endpoint: signed again, naming it; appended to a buffer too */
    zt_sealed_worker_set_endpoint(f->w, "http://10.0.0.9:8080");
    struct zt_buf buf;
    zt_buf_init(&buf, 1 << 16);
    assert_int_equal(zt_sealed_worker_descriptor(f->w, &buf, NULL), 0);
    assert_string_not_equal(zt_buf_str(&buf), a);
    assert_int_equal(zt_identity_descriptor_verify(buf.data, buf.len, (int64_t)now_s(), &d), 0);
    assert_string_equal(d.endpoint, "http://10.0.0.9:8080");
    zt_node_descriptor_deinit(&d);
    zt_buf_deinit(&buf);
    zt_free(a);
    assert_int_equal(zt_sealed_worker_descriptor(NULL, NULL, &a), ZT_EINVAL);
}

static void test_refusals(void **state)
{
    struct fx *f = *state;
    struct zt_sealed_refusal why;
    const uint8_t *kem = zt_identity_kem_pk(f->id);
    uint64_t now = now_s();
    size_t len;
    assert_true(zt_sealed_worker_runs_jobs(f->w));
    assert_string_equal(accept_as(f, (const uint8_t *)"", 0, "10.0.0.1", false, &why), "invalid_envelope");
    assert_string_equal(accept_as(f, (const uint8_t *)"garbage!", 8, "10.0.0.1", false, &why), "invalid_envelope");
    uint8_t other_pk[32], other_sk[32];
    crypto_box_keypair(other_pk, other_sk);
    uint8_t *env = seal(f, other_pk, now, 60, 0, JOB, &len);
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), "wrong_recipient");
    zt_free(env);
    env = seal(f, kem, now - 120, 60, 0, JOB, &len);
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), "envelope_expired");
    zt_free(env);
    env = seal(f, kem, now + ZT_ENV_CLOCK_SKEW + 60, 60, 0, JOB, &len);
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), "envelope_not_yet_valid");
    zt_free(env);
    env = seal(f, kem, now, 301, 0, JOB, &len);
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), "envelope_lifetime_too_long");
    assert_non_null(strstr(why.err.message, "300 s"));
    zt_free(env);
    /* an altered ciphertext does not authenticate */
    env = seal(f, kem, now, 60, 0, JOB, &len);
    env[len - 1] ^= 1;
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), "envelope_rejected");
    zt_free(env);

    /* valid envelopes refused after opening: none burns its id, so the
     * same envelope is refused the same way again, never as a replay */
    struct {
        uint64_t created, max_price;
        const char *body, *code;
    } cases[] = {
        {now - 30, 0, JOB, "envelope_predates_restart"},
        {now, 1, JOB, "price_above_ceiling"},
        {now, 0, "{\"v\":1,\"kind\":\"poem\"}", "unsupported_job"},
        {now, 0, "not json", "invalid_job"},
        {now, 0, "{\"v\":99,\"kind\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "unsupported_job"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        env = seal(f, kem, cases[i].created, 60, cases[i].max_price, cases[i].body, &len);
        char first[ZT_INFER_CODE_MAX];
        zt_strlcpy(first, accept_as(f, env, len, "10.0.0.1", false, &why), sizeof first);
        assert_string_equal(first, cases[i].code);
        assert_false(why.infer);
        assert_int_equal(why.retry_after_s, 0);
        if (i == 1) assert_non_null(strstr(why.err.message, "ceiling (1 base units"));
        assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), first);
        zt_free(env);
    }
    /* the inference service's refusal comes back as its own (its code,
     * rendered with its status by the route), and burns no id either */
    env = seal_model(f, kem, now, 60, 0, JOB, "nosuch", &len);
    const char *code = f->have_model ? "model_not_found" : "no_model";
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), code);
    assert_true(why.infer);
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), code);
    zt_free(env);
}

static void test_accept_and_shares(void **state)
{
    struct fx *f = *state;
    if (!f->have_model) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_sealed_refusal why;
    const uint8_t *kem = zt_identity_kem_pk(f->id);
    uint64_t now = now_s();
    size_t len;
    uint8_t *env = seal(f, kem, now, 60, 0, JOB, &len);
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), "");
    /* the id is recorded: the same envelope again is a replay, from anyone */
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), "envelope_replayed");
    assert_string_equal(accept_as(f, env, len, "alice", true, &why), "envelope_replayed");
    zt_free(env);
    /* a price ceiling at or over the worker's price is taken */
    env = seal(f, kem, now, 60, UINT64_MAX, JOB, &len);
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), "");
    zt_free(env);
    /* the address's share (2 ids) is used up: refused with a wait */
    env = seal(f, kem, now, 60, 0, JOB, &len);
    assert_string_equal(accept_as(f, env, len, "10.0.0.1", false, &why), "replay_share_exhausted");
    assert_true(why.retry_after_s > 0);
    assert_non_null(strstr(why.err.message, "authenticate"));
    /* ... and the id was not burned: another address, then an identity, get in */
    assert_string_equal(accept_as(f, env, len, "10.0.0.2", false, &why), "");
    zt_free(env);
    env = seal(f, kem, now, 60, 0, JOB, &len);
    assert_string_equal(accept_as(f, env, len, "alice", true, &why), "");
    zt_free(env);
}

/* The route's side of a run: a connection that keeps what is written. */
struct conn {
    struct zt_buf out;
    int fail_with; /* what the next write returns (0: written) */
    unsigned ends;
};

static int conn_write(void *c, const void *p, size_t n)
{
    struct conn *k = c;
    if (k->fail_with) return k->fail_with;
    return zt_buf_append(&k->out, p, n);
}

static void conn_end(void *c)
{
    ((struct conn *)c)->ends++;
}

static const struct zt_sealed_conn CONN = {conn_write, conn_end};

static void on_text(void *ud, const char *t, size_t n)
{
    zt_ignore(zt_buf_append(ud, t, n));
}

/* Accept a job and run it with made-up runner events, write failing as
 * fail_with says on the first text: the bytes and ends seen. */
static void run_events(struct fx *f, int fail_with, struct conn *k, uint8_t head[static ZT_ENV_STREAM_HDR_LEN])
{
    size_t len;
    uint8_t *env = seal(f, zt_identity_kem_pk(f->id), now_s(), 60, 0, JOB, &len);
    struct zt_sealed_run *run = NULL;
    struct zt_infer_job *job = NULL;
    struct zt_sealed_refusal why;
    assert_int_equal(zt_sealed_worker_accept(f->w, env, len, "alice", true, NULL, &run, &job, head, &why), 0);
    zt_free(env);
    zt_infer_job_free(job); /* the events below stand in for the runner */
    memset(k, 0, sizeof *k);
    zt_buf_init(&k->out, 1 << 20);
    k->fail_with = fail_with;
    struct zt_job_event ev = {.kind = ZT_JOB_TEXT, .text = "Once", .len = 4, .token = -1};
    zt_sealed_run_text(run, &ev, &CONN, k);
    k->fail_with = 0;
    ev.text = " upon";
    ev.len = 5;
    zt_sealed_run_text(run, &ev, &CONN, k);
    struct zt_job_event done = {.kind = ZT_JOB_DONE, .finish_reason = "length", .prompt_tokens = 3,
                                .completion_tokens = 2, .n_tokens = 2};
    memset(done.hash, 0x5a, sizeof done.hash);
    zt_sealed_run_done(run, &done, &CONN, k);
    zt_sealed_run_free(run);
}

static void test_stream(void **state)
{
    struct fx *f = *state;
    if (!f->have_model) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    uint8_t head[ZT_ENV_STREAM_HDR_LEN];
    struct conn k;
    /* the client reads what the run wrote: the text, and a receipt signed
     * by this worker over what it sent */
    run_events(f, 0, &k, head);
    assert_int_equal(k.ends, 1);
    struct zt_sealed_reader *r = NULL;
    uint8_t input_hash[32];
    zt_sha256(input_hash, JOB, strlen(JOB));
    assert_int_equal(zt_sealed_reader_new(&last_hdr, f->client_sk, zt_identity_kem_pk(f->id),
                                          zt_identity_sign_pk(f->id), input_hash, &r), 0);
    struct zt_buf text;
    zt_buf_init(&text, 1 << 16);
    assert_int_equal(zt_sealed_reader_feed(r, head, sizeof head, on_text, &text), 0);
    assert_int_equal(zt_sealed_reader_feed(r, (const uint8_t *)k.out.data, k.out.len, on_text, &text), 0);
    struct zt_sealed_result res;
    assert_int_equal(zt_sealed_reader_finish(r, &res), 0);
    assert_string_equal(zt_buf_str(&text), "Once upon");
    assert_string_equal(res.final.finish_reason, "length");
    assert_int_equal(res.final.prompt_tokens, 3);
    assert_int_equal(res.final.completion_tokens, 2);
    uint8_t chain[32];
    memset(chain, 0x5a, sizeof chain);
    assert_memory_equal(res.receipt.seq_chain, chain, sizeof chain);
    zt_sealed_reader_free(r);
    zt_buf_deinit(&text);
    zt_buf_deinit(&k.out);

    /* a write that fails ends the stream short, once: nothing after it */
    run_events(f, ZT_EIO, &k, head);
    assert_int_equal(k.ends, 1);
    assert_int_equal(k.out.len, 0);
    zt_buf_deinit(&k.out);
    /* the client gone (ZT_ECLOSED) is not a failure of the run: it goes on */
    run_events(f, ZT_ECLOSED, &k, head);
    assert_int_equal(k.ends, 1);
    assert_true(k.out.len > 0);
    zt_buf_deinit(&k.out);
}

static void test_not_a_worker(void **state)
{
    (void)state;
    struct zt_config cfg;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    cfg.node.role_mask &= ~(unsigned)ZT_ROLE_WORKER;
    struct zt_identity *id = NULL;
    struct zt_infer *inf = NULL;
    struct zt_sealed_worker *w = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    assert_int_equal(zt_infer_new(&cfg, NULL, &inf), 0);
    assert_int_equal(zt_sealed_worker_new(id, inf, &cfg, &w), 0);
    assert_false(zt_sealed_worker_runs_jobs(w));
    assert_false(zt_sealed_worker_runs_jobs(NULL));
    char *d = NULL;
    zt_sealed_worker_set_endpoint(w, "http://10.0.0.7:8080");
    assert_int_equal(zt_sealed_worker_descriptor(w, NULL, &d), 0); /* a gateway signs its descriptor too */
    zt_free(d);
    struct zt_sealed_run *run = NULL;
    struct zt_infer_job *job = NULL;
    uint8_t head[ZT_ENV_STREAM_HDR_LEN];
    struct zt_sealed_refusal why;
    assert_int_equal(zt_sealed_worker_accept(w, (const uint8_t *)"x", 1, "a", false, NULL, &run, &job, head, &why),
                     ZT_EPERM);
    zt_sealed_worker_free(w);
    zt_infer_shutdown(inf);
    zt_infer_free(inf);
    zt_identity_free(id);
    zt_config_deinit(&cfg);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    zt_log_set_level(ZT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_and_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
        cmocka_unit_test(test_not_a_worker),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
