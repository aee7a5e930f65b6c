/* test_local_first: local-first routing, black-box, with real nodes.
 *
 * W: a worker serving the tiny model (../shared/models/stories260K.gguf;
 * the test skips with the reason when it is absent) that admits only
 * signed peers and trusts G. G: a gateway with no model and W (its real
 * descriptor, which lists the model) in its peers file, and a privacy
 * policy: completions pseudonymise, chat keeps EMAIL local_only.
 *   G's /v1/completions and /v1/chat/completions (JSON and SSE) answer
 *   exactly W's own text for the same seed and parameters, with
 *   ran_on = W's id, W's sequence hash and a receipt;
 *   a model nobody serves: 404; an e-mail address in a completion: the
 *   answer is W's direct answer to the prompt with <EMAIL_1> in its place
 *   (so W never saw the address); in a chat: 403 local_only and W ran
 *   nothing; G's audit log holds the decisions and job ids, never the
 *   address; G's /v1/status and metrics count the jobs; W down: 502. */
#include <curl/curl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

struct keyed {
    struct zt_identity *id;
    char dir[256];
    char data[320];
    struct node n;
};

static struct keyed W, G;
static bool have_model;
static char model_path[1024];

static void make_keyed(struct keyed *k)
{
    zt_strlcpy(k->dir, "/tmp/zt-route-XXXXXX", sizeof k->dir);
    assert_non_null(mkdtemp(k->dir));
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
    const char *shared = getenv("ZT_SHARED_DIR");
    snprintf(model_path, sizeof model_path, "%s/models/stories260K.gguf", shared ? shared : "../shared");
    have_model = access(model_path, R_OK) == 0;
    if (!have_model) return 0;
    make_keyed(&W);
    make_keyed(&G);
    /* W trusts G: G's signed requests verify */
    const char *roles[] = {"gateway"};
    char *dg = NULL;
    assert_int_equal(zt_identity_descriptor(G.id, roles, 1, NULL, 0, "http://127.0.0.1:1",
                                            zt_time_real_ms() / 1000 + 3600, &dg),
                     0);
    put_json_array(W.data, "peers.json", &dg, 1);
    zt_free(dg);
    char yaml[1600];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 32\n",
             model_path);
    put_file(W.dir, "models.yaml", yaml);
    put_file(W.dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
    const char *const wargs[] = {"--config", W.dir, NULL};
    static const char *const wenv[] = {"ZENTALK_ENCRYPTION_SEALED_JOBS_CALLERS=peer", NULL};
    node_spawn(&W.n, wargs, wenv, true, W.dir);

    /* G knows W by W's own descriptor (its endpoint and models) */
    struct resp d;
    http(W.n.port, "GET", "/v1/node/descriptor", NULL, NULL, &d);
    assert_int_equal(d.status, 200);
    char *dw = zt_strdup(zt_buf_str(&d.body));
    resp_free(&d);
    put_json_array(G.data, "peers.json", &dw, 1);
    zt_free(dw);
    put_file(G.dir, "privacy.yaml",
             "privacy:\n  default_policy: pseudonymise\n  policies:\n"
             "    - {feature: chat, type: EMAIL, action: local_only}\n"
             "    - {feature: completion, type: EMAIL, action: pseudonymise}\n");
    const char *const gargs[] = {"--config", G.dir, NULL};
    node_spawn(&G.n, gargs, NULL, true, G.dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    struct keyed *all[] = {&W, &G};
    for (size_t i = 0; i < 2; i++) {
        if (all[i]->n.pid) node_cleanup(&all[i]->n);
        zt_identity_free(all[i]->id);
        if (all[i]->dir[0]) rm_rf(all[i]->dir);
    }
    return 0;
}

static void need_model(void)
{
    if (!have_model) {
        printf("skipped: needs the tiny model %s (make data)\n", model_path);
        skip();
    }
}

static json_t *post_json(uint16_t port, const char *path, const char *body, long want)
{
    struct resp r;
    http(port, "POST", path, "application/json", body, &r);
    if (r.status != want) fprintf(stderr, "%s -> %ld: %s\n", path, r.status, zt_buf_str(&r.body));
    assert_int_equal(r.status, want);
    json_t *j = resp_json(&r);
    resp_free(&r);
    return j;
}

static const char *answer_text(json_t *j, bool chat)
{
    json_t *c = json_array_get(json_object_get(j, "choices"), 0);
    return json_string_value(chat ? json_object_get(json_object_get(c, "message"), "content")
                                  : json_object_get(c, "text"));
}

/* The text of an SSE answer; *last gets the chunk with finish_reason (new
 * reference). Fails unless it ends with [DONE]. */
static void sse_text(const char *s, bool chat, struct zt_buf *text, json_t **last)
{
    *last = NULL;
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
        assert_null(json_object_get(j, "error"));
        json_t *c = json_array_get(json_object_get(j, "choices"), 0);
        const char *t = json_string_value(chat ? json_object_get(json_object_get(c, "delta"), "content")
                                               : json_object_get(c, "text"));
        if (t) assert_int_equal(zt_buf_append_str(text, t), 0);
        if (json_is_string(json_object_get(c, "finish_reason"))) {
            json_decref(*last);
            *last = json_incref(j);
        }
        json_decref(j);
        p = e;
    }
    assert_true(done);
    assert_non_null(*last);
}

static void assert_remote(json_t *zt)
{
    assert_non_null(zt);
    assert_string_equal(json_string_value(json_object_get(zt, "ran_on")), zt_identity_id(W.id));
    const char *rec = json_string_value(json_object_get(zt, "receipt"));
    assert_non_null(rec);
    assert_true(strlen(rec) > 200);
    assert_int_equal(strlen(json_string_value(json_object_get(zt, "job_id"))), 32);
}

#define COMPLETION "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"seed\":7,\"temperature\":0.8,\"max_tokens\":32%s}"
#define CHAT "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],\"seed\":3,\"temperature\":0.7,\"max_tokens\":24%s}"

static void test_completion_and_chat(void **state)
{
    (void)state;
    need_model();
    char body[512];
    for (int chat = 0; chat < 2; chat++) {
        const char *path = chat ? "/v1/chat/completions" : "/v1/completions";
        snprintf(body, sizeof body, chat ? CHAT : COMPLETION, "");
        json_t *direct = post_json(W.n.port, path, body, 200);
        assert_string_equal(json_string_value(json_object_get(json_object_get(direct, "zentalk"), "ran_on")), "local");
        uint64_t t0 = zt_time_mono_ms();
        json_t *via = post_json(G.n.port, path, body, 200);
        uint64_t t1 = zt_time_mono_ms();
        const char *want = answer_text(direct, chat);
        assert_true(strlen(want) > 10);
        assert_string_equal(answer_text(via, chat), want);
        assert_string_equal(json_string_value(json_object_get(via, "object")), chat ? "chat.completion" : "text_completion");
        json_t *zt = json_object_get(via, "zentalk");
        assert_remote(zt);
        assert_string_equal(json_string_value(json_object_get(zt, "seq_hash")),
                            json_string_value(json_object_get(json_object_get(direct, "zentalk"), "seq_hash")));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(via, "usage"), "completion_tokens")),
                         json_integer_value(json_object_get(json_object_get(direct, "usage"), "completion_tokens")));
        if (!chat) {
            uint64_t t2 = zt_time_mono_ms();
            json_t *again = post_json(W.n.port, path, body, 200);
            uint64_t t3 = zt_time_mono_ms();
            json_decref(again);
            printf("32-token completion: local on W %llu ms, through G to W %llu ms\n",
                   (unsigned long long)(t3 - t2), (unsigned long long)(t1 - t0));
        }

        /* SSE */
        snprintf(body, sizeof body, chat ? CHAT : COMPLETION, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
        struct resp r;
        http(G.n.port, "POST", path, "application/json", body, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(zt_buf_str(&r.headers), "text/event-stream"));
        struct zt_buf text;
        zt_buf_init(&text, 1 << 20);
        json_t *last;
        sse_text(zt_buf_str(&r.body), chat != 0, &text, &last);
        assert_string_equal(zt_buf_str(&text), want);
        assert_remote(json_object_get(last, "zentalk"));
        assert_non_null(strstr(zt_buf_str(&r.body), "\"usage\""));
        json_decref(last);
        zt_buf_deinit(&text);
        resp_free(&r);
        json_decref(direct);
        json_decref(via);
    }
}

static void test_not_served(void **state)
{
    (void)state;
    need_model();
    struct resp r;
    http(G.n.port, "POST", "/v1/completions", "application/json", "{\"model\":\"nobody-serves-this\",\"prompt\":\"x\"}", &r);
    assert_error_json(&r, 404, "model_not_found");
    assert_non_null(strstr(zt_buf_str(&r.body), "no registered peer"));
    resp_free(&r);
}

static void test_pseudonymise_and_local_only(void **state)
{
    (void)state;
    need_model();
    /* completion: pseudonymised; W's answer to the placeholder prompt */
    const char *masked = "{\"model\":\"stories\",\"prompt\":\"Lily wrote to <EMAIL_1> and\",\"seed\":11,"
                         "\"temperature\":0.9,\"max_tokens\":32}";
    const char *clear = "{\"model\":\"stories\",\"prompt\":\"Lily wrote to lily.doe@example.com and\",\"seed\":11,"
                        "\"temperature\":0.9,\"max_tokens\":32}";
    json_t *direct = post_json(W.n.port, "/v1/completions", masked, 200);
    json_t *via = post_json(G.n.port, "/v1/completions", clear, 200);
    assert_string_equal(answer_text(via, false), answer_text(direct, false));
    assert_string_equal(json_string_value(json_object_get(json_object_get(via, "zentalk"), "seq_hash")),
                        json_string_value(json_object_get(json_object_get(direct, "zentalk"), "seq_hash")));
    /* and not W's answer to the address itself (the comparison means something) */
    json_t *leak = post_json(W.n.port, "/v1/completions", clear, 200);
    assert_string_not_equal(json_string_value(json_object_get(json_object_get(leak, "zentalk"), "seq_hash")),
                            json_string_value(json_object_get(json_object_get(via, "zentalk"), "seq_hash")));
    json_decref(leak);
    json_decref(direct);
    json_decref(via);

    /* chat: EMAIL is local_only and G has no model: refused, W ran nothing */
    long long w_jobs = metric_value(W.n.port, "zentalk_inference_jobs_total");
    long long w_auth = metric_value(W.n.port, "zentalk_node_auth_total{result=\"ok\"}");
    struct resp r;
    http(G.n.port, "POST", "/v1/chat/completions", "application/json",
         "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"mail bob@example.org now\"}]}", &r);
    assert_error_json(&r, 403, "local_only");
    assert_non_null(strstr(zt_buf_str(&r.body), "EMAIL"));
    assert_null(strstr(zt_buf_str(&r.body), "bob@example.org"));
    resp_free(&r);
    assert_int_equal(metric_value(W.n.port, "zentalk_inference_jobs_total"), w_jobs);
    assert_int_equal(metric_value(W.n.port, "zentalk_node_auth_total{result=\"ok\"}"), w_auth);
    assert_true(metric_value(G.n.port, "zentalk_jobs_refused_total") >= 1);
}

/* Every audit file of G, concatenated. */
static void read_audit(struct zt_buf *out)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/logs/audit", G.data);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) assert_int_equal(zt_buf_append(out, buf, n), 0);
        fclose(f);
    }
    closedir(d);
}

static void test_audit_status_metrics(void **state)
{
    (void)state;
    need_model();
    struct zt_buf a;
    zt_buf_init(&a, 1 << 24);
    /* the entry is written when the handler returns; give it a moment */
    for (int i = 0; i < 100; i++) {
        zt_buf_reset(&a);
        read_audit(&a);
        if (strstr(zt_buf_str(&a), "\"refused\"")) break;
        zt_time_sleep_ms(20);
    }
    const char *s = zt_buf_str(&a);
    assert_non_null(strstr(s, "\"decision\":\"remote\""));
    assert_non_null(strstr(s, "\"decision\":\"pseudonymised\""));
    assert_non_null(strstr(s, "\"decision\":\"refused\""));
    assert_non_null(strstr(s, "\"job_id\":\""));
    assert_non_null(strstr(s, "EMAIL"));
    assert_null(strstr(s, "lily.doe@example.com"));
    assert_null(strstr(s, "bob@example.org"));
    assert_null(strstr(s, "Once upon a time"));
    zt_buf_deinit(&a);

    struct resp r;
    http(G.n.port, "GET", "/v1/status", NULL, NULL, &r);
    json_t *st = resp_json(&r);
    resp_free(&r);
    json_t *jobs = json_object_get(st, "jobs");
    assert_true(json_integer_value(json_object_get(jobs, "remote")) >= 5);
    assert_int_equal(json_integer_value(json_object_get(jobs, "local")), 0);
    json_t *bp = json_object_get(json_object_get(jobs, "by_peer"), zt_identity_id(W.id));
    assert_true(json_integer_value(json_object_get(bp, "ok")) >= 5);
    json_decref(st);
    assert_true(metric_value(G.n.port, "zentalk_jobs_total{where=\"remote\"}") >= 5);
    assert_true(metric_value(W.n.port, "zentalk_jobs_total{where=\"local\"}") >= 4);
}

static void test_worker_down(void **state)
{
    (void)state;
    need_model();
    node_cleanup(&W.n);
    struct resp r;
    http(G.n.port, "POST", "/v1/completions", "application/json",
         "{\"model\":\"stories\",\"prompt\":\"Once\",\"max_tokens\":4}", &r);
    assert_error_json(&r, 502, "worker_unreachable");
    resp_free(&r);
    http(G.n.port, "POST", "/v1/chat/completions", "application/json",
         "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}", &r);
    assert_error_json(&r, 502, "worker_unreachable");
    resp_free(&r);
    assert_true(metric_value(G.n.port, "zentalk_remote_jobs_failed_total") >= 2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_local_first ZENTALK_NODE\n");
        return 2;
    }
    node_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_set_alloc_funcs(zt_malloc, zt_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_and_chat),
        cmocka_unit_test(test_not_served),
        cmocka_unit_test(test_pseudonymise_and_local_only),
        cmocka_unit_test(test_audit_status_metrics),
        cmocka_unit_test(test_worker_down),
    };
    int rc = cmocka_run_group_tests_name("local_first", tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
