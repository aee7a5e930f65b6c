/* test_failover: resumable streams across workers, black-box, real nodes.
 *
 * W[0..2]: workers serving the tiny model (tests/models/stories260K.gguf;
 * skipped with the reason when absent), admitting only G's signed jobs,
 * each pausing 25 ms per token (ZT_TEST_DELAY_MS, a test-only setting) so
 * a test can act mid-stream. G: a gateway with no model, the three in its
 * peers file, a stall deadline of 1 s (encryption.remote_stall_ms).
 *   reference: an SSE completion through G, uninterrupted;
 *   SIGKILL of the worker serving a stream after some text: the client's
 *   stream completes ([DONE], no error) and its text equals the reference
 *   byte for byte, ran_on names another worker, and G's log counts the
 *   tokens of each attempt once (their sum is the answer's completion
 *   tokens);
 *   SIGSTOP of the worker serving the next stream: the same after the
 *   stall deadline.
 * The time from the signal to the next text is printed (bench_failover
 * measures it over more runs). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define N_W 3

struct keyed {
    struct zt_identity *id;
    char dir[256];
    char data[320];
    struct node n;
    bool stopped;
};

static struct keyed W[N_W], G;
static bool have_model;
static char model_path[1024];

#define REQ                                                                                                   \
    "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"seed\":11,\"temperature\":0.8,\"max_tokens\":120," \
    "\"stream\":true,\"stream_options\":{\"include_usage\":true}}"

static void make_keyed(struct keyed *k)
{
    tmp_dir(k->dir, sizeof k->dir, "failover");
    snprintf(k->data, sizeof k->data, "%s/data", k->dir);
    assert_int_equal(mkdir(k->data, 0700), 0);
    assert_int_equal(zt_identity_generate(&k->id), 0);
    char key[400];
    snprintf(key, sizeof key, "%s/node.key", k->data);
    assert_int_equal(zt_identity_save(k->id, key, NULL, 0, NULL, 0, NULL), 0);
}

static int setup(void **state)
{
    (void)state;
    (void)find_test_model("stories260K.gguf", model_path, sizeof model_path);
    have_model = access(model_path, R_OK) == 0;
    if (!have_model) return 0;
    make_keyed(&G);
    int64_t exp = zt_time_real_ms() / 1000 + 3600;
    const char *roles[] = {"gateway"};
    char *dg = NULL;
    assert_int_equal(zt_identity_descriptor(G.id, roles, 1, NULL, 0, "http://127.0.0.1:1", exp, &dg), 0);
    char yaml[1600];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 120\n",
             model_path);
    char *gp[N_W];
    for (int i = 0; i < N_W; i++) {
        make_keyed(&W[i]);
        put_json_array(W[i].data, "peers.json", &dg, 1);
        put_file(W[i].dir, "models.yaml", yaml);
        put_file(W[i].dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
        const char *const wargs[] = {"--config", W[i].dir, NULL};
        static const char *const wenv[] = {"ZENTALK_ENCRYPTION_SEALED_JOBS_CALLERS=peer", "ZT_TEST_MODE=1",
                                           "ZT_TEST_DELAY_MS=25", NULL};
        node_spawn(&W[i].n, wargs, wenv, true, W[i].dir);
        struct resp d;
        http(W[i].n.port, "GET", "/v1/node/descriptor", NULL, NULL, &d);
        assert_int_equal(d.status, 200);
        gp[i] = zt_strdup(zt_buf_str(&d.body));
        resp_free(&d);
    }
    zt_free(dg);
    put_json_array(G.data, "peers.json", gp, N_W);
    for (int i = 0; i < N_W; i++) zt_free(gp[i]);
    const char *const gargs[] = {"--config", G.dir, NULL};
    static const char *const genv[] = {"ZENTALK_ENCRYPTION_REMOTE_STALL_MS=1000", NULL};
    node_spawn(&G.n, gargs, genv, true, G.dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    struct keyed *all[N_W + 1] = {&W[0], &W[1], &W[2], &G};
    for (size_t i = 0; i < N_W + 1; i++) {
        if (all[i]->stopped && all[i]->n.pid) kill(all[i]->n.pid, SIGCONT);
        if (all[i]->n.pid) node_cleanup(&all[i]->n);
        zt_identity_free(all[i]->id);
        if (all[i]->dir[0]) rm_rf(all[i]->dir);
    }
    return 0;
}

static void need_model(void)
{
    if (!have_model) zt_skip("needs the tiny model stories260K.gguf (tests/models)");
}

/* The text of an SSE completion, and its last chunk's zentalk object
 * (ran_on, receipt) as a new reference. Fails on an error event or no
 * [DONE]. */
static void sse_text(const char *s, struct zt_buf *text, json_t **zt, uint32_t *completion_tokens)
{
    *zt = NULL;
    bool done = false;
    for (const char *p = strstr(s, "data: "); p; p = strstr(p, "data: ")) {
        p += 6;
        const char *e = strstr(p, "\n\n");
        assert_non_null(e);
        if (strncmp(p, "[DONE]", 6) == 0) {
            done = true;
            break;
        }
        json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL);
        assert_non_null(j);
        if (json_object_get(j, "error")) fprintf(stderr, "error event: %.*s\n", (int)(e - p), p);
        assert_null(json_object_get(j, "error"));
        json_t *c = json_array_get(json_object_get(j, "choices"), 0);
        const char *t = json_string_value(json_object_get(c, "text"));
        if (t) assert_int_equal(zt_buf_append_str(text, t), 0);
        if (json_object_get(j, "zentalk")) {
            json_decref(*zt);
            *zt = json_incref(json_object_get(j, "zentalk"));
        }
        json_t *u = json_object_get(j, "usage");
        if (u) *completion_tokens = (uint32_t)json_integer_value(json_object_get(u, "completion_tokens"));
        json_decref(j);
        p = e;
    }
    assert_true(done);
    assert_non_null(*zt);
}

static int worker_of(const char *node_id)
{
    for (int i = 0; i < N_W; i++)
        if (strcmp(node_id, zt_identity_id(W[i].id)) == 0) return i;
    return -1;
}

/* A stream through G; after min_bytes of its body, sig goes to the worker
 * that G's peer order sends it to (victim). */
struct act {
    int victim, sig;
    size_t min_bytes;
    bool fired;
    uint64_t fired_ms, resumed_ms;
    size_t body_at_fire;
};

static void on_piece(struct resp *r, void *ud)
{
    struct act *a = ud;
    if (!a->fired && a->victim >= 0 && r->body.len >= a->min_bytes) {
        a->fired = true;
        a->body_at_fire = r->body.len;
        a->fired_ms = zt_time_mono_ms();
        assert_int_equal(kill(W[a->victim].n.pid, a->sig), 0);
        if (a->sig == SIGSTOP) W[a->victim].stopped = true;
    } else if (a->fired && !a->resumed_ms && r->body.len > a->body_at_fire + 64) {
        a->resumed_ms = zt_time_mono_ms(); /* text again (a piece beyond what was in flight) */
    }
}

static void stream(struct act *a, struct zt_buf *text, json_t **zt, uint32_t *ct)
{
    struct resp r;
    struct http_opts o = {.ctype = "application/json", .body = REQ, .on_body = on_piece, .ud = a,
                          .timeout_ms = 120000};
    assert_int_equal(http_req(G.n.port, "POST", "/v1/completions", &o, &r), 0);
    assert_int_equal(r.status, 200);
    sse_text(zt_buf_str(&r.body), text, zt, ct);
    resp_free(&r);
}

/* Sum of tokens=N over G's job_attempt log lines since the last call. */
static uint32_t attempt_tokens(unsigned *lines)
{
    struct zt_buf b;
    zt_buf_init(&b, 1 << 24);
    node_collect_stderr(&G.n, &b);
    uint32_t sum = 0;
    *lines = 0;
    const char *s = zt_buf_str(&b);
    for (const char *p = strstr(s, "job_attempt"); p; p = strstr(p + 1, "job_attempt")) {
        const char *t = strstr(p, "tokens=");
        const char *nl = strchr(p, '\n');
        if (t && (!nl || t < nl)) sum += (uint32_t)strtoul(t + 7, NULL, 10);
        (*lines)++;
    }
    zt_buf_deinit(&b);
    return sum;
}

static void test_failover(void **state)
{
    (void)state;
    need_model();
    /* the reference, uninterrupted: which worker G sends to first */
    struct zt_buf ref;
    zt_buf_init(&ref, 1 << 20);
    json_t *zt = NULL;
    uint32_t ct = 0;
    struct act none = {.victim = -1};
    stream(&none, &ref, &zt, &ct);
    int first = worker_of(json_string_value(json_object_get(zt, "ran_on")));
    assert_true(first >= 0);
    json_decref(zt);
    assert_true(ref.len > 100);
    assert_true(ct >= 100); /* long enough to be cut in the middle */
    unsigned lines;
    (void)attempt_tokens(&lines);

    static const int sigs[2] = {SIGKILL, SIGSTOP};
    int victim = first;
    for (int k = 0; k < 2; k++) {
        struct act a = {.victim = victim, .sig = sigs[k], .min_bytes = 1500};
        struct zt_buf text;
        zt_buf_init(&text, 1 << 20);
        uint32_t ct2 = 0;
        stream(&a, &text, &zt, &ct2);
        assert_true(a.fired);
        /* one continuous text, byte for byte the uninterrupted one */
        assert_int_equal(text.len, ref.len);
        assert_memory_equal(text.data, ref.data, ref.len);
        int ran = worker_of(json_string_value(json_object_get(zt, "ran_on")));
        assert_true(ran >= 0 && ran != victim);
        json_decref(zt);
        /* each token counted for one worker: the attempts sum to the answer */
        uint32_t sum = attempt_tokens(&lines);
        assert_true(lines >= 2);
        assert_int_equal(sum, ct2 + (ct2 < 120 ? 1 : 0)); /* an EOS id is streamed but not counted in usage */
        printf("%s: text resumed %llu ms after the signal (stall deadline 1000 ms)\n",
               sigs[k] == SIGKILL ? "SIGKILL" : "SIGSTOP", (unsigned long long)(a.resumed_ms - a.fired_ms));
        zt_buf_deinit(&text);
        victim = ran; /* the next stream starts on the worker that finished this one */
    }
    zt_buf_deinit(&ref);
}

int main(int argc, char **argv)
{
    if (argc > 1) node_bin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
