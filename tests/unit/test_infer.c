/* test_infer.c: the inference service (zt_infer.h). Bad requests come back
 * as (code, message) with the first fault's answer; a real generation on
 * stories260K.gguf through the request builder and a runner task; the
 * struct builder of the CLI gives the same text as the OpenAI one; a
 * closed task stops its job; embeddings and feature chat runs. Skipped
 * (cmocka skip) when the tiny model is not found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_attest.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_infer.h"

static char model[1024];

static bool find_model(void)
{
    if (zt_test_model("stories260K.gguf", model, sizeof model)) return true;
    model[0] = '\0';
    return false;
}

static struct zt_infer *open_file(uint32_t n_ctx)
{
    struct zt_infer_opts o = {.n_threads = 1, .n_slots = 2, .n_ctx = n_ctx};
    struct zt_infer *inf = NULL;
    assert_int_equal(zt_infer_new_file(model, &o, &inf), 0);
    return inf;
}

static void close_inf(struct zt_infer *inf)
{
    zt_infer_shutdown(inf);
    zt_infer_free(inf);
}

/* The request is refused with code and message; nothing is held. */
static void refused(struct zt_infer *inf, const char *body, bool chat, int rc, const char *code, const char *msg)
{
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    assert_non_null(j);
    struct zt_infer_job *job = NULL;
    struct zt_infer_err err;
    memset(&err, 0, sizeof err);
    assert_int_equal(zt_infer_job_openai(inf, j, chat, &job, &err), rc);
    assert_null(job);
    assert_int_equal(err.rc, rc);
    assert_string_equal(err.code, code);
    if (msg) assert_string_equal(err.message, msg);
    json_decref(j);
}

static void test_bad_requests(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer *inf = open_file(64);
    refused(inf, "{\"model\":3,\"prompt\":\"x\"}", false, ZT_EINVAL, "invalid_request", "model must be a string");
    refused(inf, "{\"model\":\"nosuch\",\"prompt\":\"x\"}", false, ZT_ENOTFOUND, "model_not_found",
            "model 'nosuch' does not exist (GET /v1/models lists them)");
    refused(inf, "{\"prompt\":\"x\",\"temperature\":3}", false, ZT_EINVAL, "invalid_request",
            "temperature must be a number between 0 and 2");
    refused(inf, "{\"prompt\":\"x\",\"top_k\":1.5}", false, ZT_EINVAL, "invalid_request", "top_k must be an integer");
    refused(inf, "{\"prompt\":\"x\",\"max_tokens\":0}", false, ZT_EINVAL, "invalid_request",
            "max_tokens must be a number between 1 and 1e+09");
    refused(inf, "{\"prompt\":\"x\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", false, ZT_EINVAL, "invalid_request",
            "stop must be a string or an array of at most 4 non-empty strings of at most 256 bytes");
    refused(inf, "{\"prompt\":\"x\",\"stop\":[\"\"]}", false, ZT_EINVAL, "invalid_request", NULL);
    refused(inf, "{\"prompt\":\"x\",\"logit_bias\":{\"999999\":1}}", false, ZT_EINVAL, "invalid_request",
            "logit_bias keys must be token ids of this model and values numbers in [-100, 100]");
    refused(inf, "{\"prompt\":\"x\",\"logit_bias\":{\"5\":101}}", false, ZT_EINVAL, "invalid_request", NULL);
    /* the first fault answers: the sampling fields before the prompt */
    refused(inf, "{\"temperature\":-1}", false, ZT_EINVAL, "invalid_request",
            "temperature must be a number between 0 and 2");
    refused(inf, "{}", false, ZT_EINVAL, "invalid_request", "prompt must be a string (or an array holding one string)");
    refused(inf, "{\"prompt\":[\"a\",\"b\"]}", false, ZT_EINVAL, "invalid_request", NULL);
    refused(inf, "{\"messages\":[]}", true, ZT_EINVAL, "invalid_request",
            "messages must be a non-empty array (at most 1024 messages)");
    refused(inf, "{\"messages\":[{\"role\":\"user\"}]}", true, ZT_EINVAL, "invalid_request",
            "each message needs a string role and a string content");
    refused(inf, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", true, ZT_EINVAL, "invalid_request",
            "message roles must be system, user or assistant");
    /* over the context (64 tokens here): the prompt's size is named, never its text */
    char body[4096];
    int w = snprintf(body, sizeof body, "{\"prompt\":\"");
    for (int i = 0; i < 100; i++) w += snprintf(body + w, sizeof body - (size_t)w, "once upon a time ");
    snprintf(body + w, sizeof body - (size_t)w, "\"}");
    refused(inf, body, false, ZT_ERANGE, "context_length_exceeded", NULL);
    close_inf(inf);

    /* no model configured at all */
    struct zt_config cfg;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    assert_int_equal(zt_infer_new(&cfg, NULL, &inf), 0);
    assert_int_equal(zt_infer_model_count(inf), 0);
    assert_int_equal(zt_infer_model_find(inf, NULL), -1);
    refused(inf, "{\"prompt\":\"x\"}", false, ZT_ENOTFOUND, "no_model", NULL);
    struct zt_infer_err err;
    assert_int_equal(zt_infer_load(inf, "x", &err), ZT_ENOTFOUND);
    assert_string_equal(err.code, "no_model");
    close_inf(inf);
    zt_config_deinit(&cfg);
}

static void test_registry(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer *inf = open_file(0);
    assert_int_equal(zt_infer_model_count(inf), 1);
    assert_int_equal(zt_infer_model_find(inf, NULL), 0);
    assert_int_equal(zt_infer_model_find(inf, model), 0);
    assert_true(zt_infer_serves(inf, model));
    assert_false(zt_infer_serves(inf, ""));
    assert_false(zt_infer_serves(inf, "other"));
    bool loaded = true;
    assert_string_equal(zt_infer_model(inf, 0, &loaded)->id, model);
    assert_false(loaded);
    char path[1100];
    assert_int_equal(zt_infer_model_file(inf, 0, path, sizeof path), 0);
    assert_non_null(strstr(path, "stories260K.gguf"));
    assert_int_equal(zt_infer_model_file(inf, 0, path, 4), ZT_ETOOBIG);
    struct zt_infer_err err;
    assert_int_equal(zt_infer_load(inf, NULL, &err), 0);
    zt_infer_model(inf, 0, &loaded);
    assert_true(loaded);
    struct zt_runner_stats st;
    size_t n_loaded = 0;
    zt_infer_stats(inf, &st, &n_loaded);
    assert_int_equal(n_loaded, 1);
    close_inf(inf);
}

static void test_generate(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer *inf = open_file(256);
    json_t *body = json_pack("{s:s,s:i,s:i,s:s}", "prompt", "Once upon a time", "max_tokens", 12, "temperature", 0,
                             "stop", "zzzz");
    struct zt_infer_job *job = NULL;
    struct zt_infer_err err;
    assert_int_equal(zt_infer_job_openai(inf, body, false, &job, &err), 0);
    json_decref(body); /* the job keeps nothing of the body */
    assert_string_equal(zt_infer_job_model(job), model);
    assert_true(zt_infer_job_prompt_tokens(job) > 1);
    assert_int_equal(zt_infer_job_n_ctx(job), 256);
    size_t n_prompt = zt_infer_job_prompt_tokens(job);
    struct zt_test_text a = {0};
    struct zt_infer_result res;
    assert_int_equal(zt_infer_run(job, zt_test_on_text, NULL, &a, &res), 0);
    assert_int_equal(res.err, 0);
    assert_string_equal(res.finish_reason, "length");
    assert_int_equal(res.completion_tokens, 12);
    assert_int_equal(res.prompt_tokens, n_prompt);
    assert_true(strncmp(a.s, ", there was a little girl", 25) == 0);
    assert_true(res.total_ns >= res.first_event_ns);

    /* the CLI's struct request: the same text for the same sampling */
    struct zt_infer_request rq = {.prompt = "Once upon a time", .prompt_len = 16, .max_tokens = 12};
    zt_sampler_params_default(&rq.sampler);
    rq.sampler.temperature = 0;
    assert_int_equal(zt_infer_job_new(inf, &rq, &job, &err), 0);
    struct zt_infer_result res2;
    struct zt_test_text b = {0};
    assert_int_equal(zt_infer_run(job, zt_test_on_text, NULL, &b, &res2), 0);
    assert_string_equal(a.s, b.s);
    assert_memory_equal(res.hash, res2.hash, sizeof res.hash);

    /* a chat through the model's template (ChatML fallback for this model) */
    struct zt_chat_msg msgs[] = {{"user", "Hello"}};
    struct zt_infer_request cq = {.msgs = msgs, .n_msgs = 1, .max_tokens = 4};
    zt_sampler_params_default(&cq.sampler);
    cq.sampler.seed = 7;
    assert_int_equal(zt_infer_job_new(inf, &cq, &job, &err), 0);
    assert_true(zt_infer_job_template_fell_back(job));
    struct zt_test_text c = {0};
    assert_int_equal(zt_infer_run(job, zt_test_on_text, NULL, &c, &res), 0);
    assert_true(res.completion_tokens <= 4);
    /* an empty conversation is refused */
    cq.n_msgs = 0;
    assert_int_equal(zt_infer_job_new(inf, &cq, &job, &err), ZT_EINVAL);
    assert_string_equal(err.code, "invalid_request");
    close_inf(inf);
}

/* A started task closed before its end: the job is cancelled and the sink
 * is freed exactly once, with no event after the close. */
struct sink_state {
    pthread_mutex_t mu;
    int events, frees;
    bool closed, after_close;
    bool last; /* the last event came */
};

static void sink_event(void *ud, const struct zt_job_event *ev)
{
    struct sink_state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->events++;
    if (ev->kind != ZT_JOB_TEXT) s->last = true;
    if (s->closed) s->after_close = true;
    pthread_mutex_unlock(&s->mu);
}

static void sink_free(void *ud)
{
    struct sink_state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->frees++;
    pthread_mutex_unlock(&s->mu);
}

static const struct zt_infer_sink SINK = {sink_event, sink_free};

static void test_task_close(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer *inf = open_file(256);
    struct sink_state s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    json_t *body = json_pack("{s:s,s:i}", "prompt", "The dog", "max_tokens", 200);
    struct zt_infer_job *job = NULL;
    struct zt_infer_err err;
    assert_int_equal(zt_infer_job_openai(inf, body, false, &job, &err), 0);
    struct zt_infer_task *t = NULL;
    assert_int_equal(zt_infer_start(job, &SINK, &s, &t, &err), 0);
    zt_infer_task_close(t);
    pthread_mutex_lock(&s.mu);
    s.closed = true;
    pthread_mutex_unlock(&s.mu);
    usleep(50000);
    pthread_mutex_lock(&s.mu);
    assert_false(s.after_close);
    assert_int_equal(s.frees, 1);
    pthread_mutex_unlock(&s.mu);
    /* the model was released: it can be loaded, used and freed again */
    assert_int_equal(zt_infer_load(inf, NULL, &err), 0);
    json_decref(body);
    close_inf(inf);
}

/* A reported job's end (zt_infer_job_report_end), told once to the hook
 * when its task is freed: outcome, tokens, model, the caller, a fresh job
 * id; closed before its end: client_gone; a job not reported: nothing. */
struct ends {
    int n;
    struct zt_infer_job_end e;
    char job_id[ZT_INFER_JOB_ID_HEX], user[ZT_INFER_USER_MAX], outcome[16];
};

static void on_end(void *ud, const struct zt_infer_job_end *e)
{
    struct ends *x = ud;
    x->n++;
    x->e = *e;
    snprintf(x->job_id, sizeof x->job_id, "%s", e->job_id);
    snprintf(x->user, sizeof x->user, "%s", e->user);
    snprintf(x->outcome, sizeof x->outcome, "%s", e->outcome);
}

static struct zt_infer_task *start_job(struct zt_infer *inf, struct sink_state *s, int max_tokens, const char *user)
{
    json_t *body = json_pack("{s:s,s:i,s:i}", "prompt", "The dog", "max_tokens", max_tokens, "temperature", 0);
    struct zt_infer_job *job = NULL;
    struct zt_infer_err err;
    assert_int_equal(zt_infer_job_openai(inf, body, false, &job, &err), 0);
    json_decref(body);
    if (user) zt_infer_job_report_end(job, user);
    struct zt_infer_task *t = NULL;
    assert_int_equal(zt_infer_start(job, &SINK, s, &t, &err), 0);
    return t;
}

static void wait_last(struct sink_state *s)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&s->mu);
        bool last = s->last;
        pthread_mutex_unlock(&s->mu);
        if (last) return;
        usleep(5000);
    }
    fail_msg("the job did not end");
}

static void test_job_end(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer *inf = open_file(256);
    struct ends x = {0};
    zt_infer_set_on_end(inf, on_end, &x);

    /* run to its end, then closed by its owner: told once, when freed */
    struct sink_state s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct zt_infer_task *t = start_job(inf, &s, 4, "alice");
    wait_last(&s);
    assert_int_equal(x.n, 0); /* the owner still holds it */
    zt_infer_task_close(t);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.outcome, "ok");
    assert_string_equal(x.user, "alice");
    assert_string_equal(x.e.model, model);
    assert_int_equal(x.e.completion_tokens, 4);
    assert_true(x.e.prompt_tokens > 1);
    assert_int_equal(strlen(x.job_id), ZT_INFER_JOB_ID_HEX - 1);
    assert_int_equal(strspn(x.job_id, "0123456789abcdef"), ZT_INFER_JOB_ID_HEX - 1);
    char first[ZT_INFER_JOB_ID_HEX];
    memcpy(first, x.job_id, sizeof first);

    /* closed at once: the client went (unless it had already ended) */
    struct sink_state s2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    t = start_job(inf, &s2, 200, "");
    zt_infer_task_close(t);
    assert_int_equal(x.n, 2);
    pthread_mutex_lock(&s2.mu);
    bool ended = s2.last;
    pthread_mutex_unlock(&s2.mu);
    if (!ended) assert_string_equal(x.outcome, "client_gone");
    assert_string_equal(x.user, "");
    assert_string_not_equal(x.job_id, first); /* a new id each job */

    /* not reported: the hook hears nothing */
    struct sink_state s3 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    t = start_job(inf, &s3, 2, NULL);
    wait_last(&s3);
    zt_infer_task_close(t);
    assert_int_equal(x.n, 2);
    close_inf(inf);
}

/* Embeddings and feature chat runs, waited for. */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int err;
    size_t n;
    uint32_t n_embd, tokens;
    char text[1024];
};

static void wait_done(struct waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static void on_embedded(void *ud, int err, const struct zt_infer_embeddings *e)
{
    struct waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->err = err;
    if (e) {
        w->n = e->n;
        w->n_embd = e->n_embd;
        w->tokens = e->prompt_tokens;
    }
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void on_chat(void *ud, int err, const char *text, size_t len)
{
    struct waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->err = err;
    snprintf(w->text, sizeof w->text, "%.*s", (int)len, text);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static const struct zt_infer_embed_sink EMBED_SINK = {on_embedded, NULL};

static void test_embed_and_chat_run(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer *inf = open_file(128);
    struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    json_t *body = json_pack("{s:[s,s]}", "input", "a cat", "a dog");
    struct zt_infer_task *t = NULL;
    struct zt_infer_err err;
    assert_int_equal(zt_infer_embed_openai(inf, body, &EMBED_SINK, &w, &t, &err), 0);
    wait_done(&w);
    zt_infer_task_close(t);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.n, 2);
    assert_true(w.n_embd > 0);
    assert_true(w.tokens >= 2);
    json_decref(body);
    body = json_pack("{s:[]}", "input");
    assert_int_equal(zt_infer_embed_openai(inf, body, &EMBED_SINK, &w, &t, &err), ZT_EINVAL);
    assert_string_equal(err.message, "input must be a string or an array of 1 to 64 strings");
    json_decref(body);
    body = json_pack("{s:s,s:s}", "input", "x", "encoding_format", "int8");
    assert_int_equal(zt_infer_embed_openai(inf, body, &EMBED_SINK, &w, &t, &err), ZT_EINVAL);
    assert_string_equal(err.message, "encoding_format must be \"float\" or \"base64\"");
    json_decref(body);

    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "Hello");
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    struct zt_buf why;
    zt_buf_init(&why, 1024);
    assert_int_equal(zt_infer_chat_run(inf, NULL, msgs, 6, on_chat, &w, &why), 0);
    wait_done(&w);
    assert_int_equal(w.err, 0);
    char first[1024];
    snprintf(first, sizeof first, "%s", w.text);
    w.done = false;
    assert_int_equal(zt_infer_chat_run(inf, "", msgs, 6, on_chat, &w, &why), 0);
    wait_done(&w);
    assert_string_equal(first, w.text); /* greedy: the same answer */
    assert_int_equal(zt_infer_chat_run(inf, "nosuch", msgs, 6, on_chat, &w, &why), ZT_ENOTFOUND);
    assert_true(why.len > 0);
    zt_buf_deinit(&why);
    json_decref(msgs);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    close_inf(inf);
}

/* zt_infer_chat_wait: the same answer as zt_infer_chat_run, on this thread;
 * a start error says it did not start. */
static void test_chat_wait(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer *inf = open_file(128);
    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "Hello");
    struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct zt_buf why;
    zt_buf_init(&why, 1024);
    assert_int_equal(zt_infer_chat_run(inf, NULL, msgs, 6, on_chat, &w, &why), 0);
    wait_done(&w);
    assert_int_equal(w.err, 0);
    char *text = NULL;
    size_t len = 99;
    enum zt_infer_wait_end end = ZT_INFER_FAILED;
    assert_int_equal(zt_infer_chat_wait(inf, NULL, msgs, 6, 60000, &text, &len, &end, &why), 0);
    assert_int_equal(end, ZT_INFER_ANSWERED);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_string_equal(text, w.text); /* greedy: the same answer */
    zt_free(text);
    assert_int_equal(zt_infer_chat_wait(inf, "nosuch", msgs, 6, 60000, &text, &len, &end, &why), ZT_ENOTFOUND);
    assert_int_equal(end, ZT_INFER_NOT_STARTED);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_true(why.len > 0);
    zt_buf_deinit(&why);
    json_decref(msgs);
    close_inf(inf);
}

/* What the worker attests: no model before one is loaded; the loaded
 * model with its file's SHA-256, the running binary's, the engine build;
 * the report signed by the node key and verified with the nonce. */
static void test_attest_claims(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer *inf = open_file(0);
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    struct zt_infer_attest *a = NULL;
    assert_int_equal(zt_infer_attest_new(inf, id, &a), 0);
    const char *nonce = "00112233445566778899aabbccddeeff";
    uint8_t self[ZT_SHA256_LEN], file[ZT_SHA256_LEN];
    assert_int_equal(zt_sha256_file("/proc/self/exe", self), 0);
    assert_int_equal(zt_sha256_file(model, file), 0);

    struct zt_attest_claims c;
    struct zt_attest_model *models = NULL;
    assert_int_equal(zt_infer_attest_claims(a, nonce, &c, &models), 0);
    assert_int_equal(c.n_models, 0); /* configured, not loaded: not attested */
    assert_memory_equal(c.binary_sha256, self, sizeof self);
    assert_string_equal(c.engine, zt_engine_build_id());
    assert_ptr_equal(c.nonce_hex, nonce);
    zt_free(models);

    struct zt_infer_err err;
    assert_int_equal(zt_infer_load(inf, NULL, &err), 0);
    assert_int_equal(zt_infer_attest_claims(a, nonce, &c, &models), 0);
    assert_int_equal(c.n_models, 1);
    assert_ptr_equal(c.models, models);
    assert_string_equal(models[0].id, model);
    assert_memory_equal(models[0].sha256, file, sizeof file);
    zt_free(models);

    char *report = NULL;
    assert_int_equal(zt_infer_attest_report(a, nonce, &report), 0);
    struct zt_attest_report r;
    assert_int_equal(zt_attest_verify(report, strlen(report), nonce, &r), 0);
    assert_string_equal(r.node_id, zt_identity_id(id));
    assert_int_equal(r.n_models, 1);
    assert_memory_equal(r.models[0].sha256, file, sizeof file);
    assert_memory_equal(r.binary_sha256, self, sizeof self);
    zt_attest_report_deinit(&r);
    zt_free(report);

    zt_infer_attest_free(a);
    zt_identity_free(id);
    close_inf(inf);
}

int main(void)
{
    find_model();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_requests, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_registry, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_generate, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_task_close, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_embed_and_chat_run, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_chat_wait, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_attest_claims, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_job_end, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests_name("infer", tests, NULL, NULL));
}
