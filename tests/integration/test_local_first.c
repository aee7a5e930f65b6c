/* test_local_first: local-first routing, black-box, with real nodes.
 *
 * W: a worker serving the tiny model (tests/models/stories260K.gguf;
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
 *   address; G's /v1/status and metrics count the jobs; W down: 502.
 * F: a fake worker in this process (a real key) whose results do not
 *   verify (cut short, or a receipt signed by another key): G answers 502,
 *   or ends its SSE stream with an error event and no [DONE].
 * R, G2: a relay and a gateway with encryption.relay = R: the job goes
 *   G2 -> R -> W, same answer, "via" = R. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

struct keyed {
    struct zt_identity *id;
    char dir[256];
    char data[320];
    struct node n;
};

static struct keyed W, G, R, G2; /* R: a relay; G2: a gateway that sends through R */
static bool have_model;
static char model_path[1024];

/* ---- F: a fake worker in this process, with a real key ----------------------
 * It opens the job and answers a sealed stream that does not verify:
 * FAKE_CUT one authentic text chunk, then the connection closes (no final
 * chunk); FAKE_FORGED a complete stream whose receipt is signed by another
 * key. */
enum fake_mode { FAKE_CUT, FAKE_FORGED };

static struct {
    struct zt_identity *id, *other;
    int lfd;
    uint16_t port;
    pthread_t th;
    atomic_int mode;
    atomic_bool stop;
    atomic_int served;
} F;


static void fake_serve(int c, struct zt_env_replay *replay)
{
    struct zt_buf req, out;
    zt_buf_init(&req, 1 << 22);
    zt_buf_init(&out, 1 << 20);
    size_t need = 0, head_len = 0;
    char buf[4096];
    for (;;) { /* headers, then Content-Length bytes */
        ssize_t r = recv(c, buf, sizeof buf, 0);
        if (r <= 0) break;
        if (zt_buf_append(&req, buf, (size_t)r) != 0) break;
        const char *st = zt_buf_str(&req), *end = strstr(st, "\r\n\r\n");
        if (!end) continue;
        if (!need) {
            head_len = (size_t)(end + 4 - st);
            const char *cl = NULL;
            for (const char *q = st; *q && !cl; q++)
                if (strncasecmp(q, "\r\ncontent-length:", 17) == 0) cl = q;
            need = head_len + (cl ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (req.len >= need) break;
    }
    struct zt_env_header hdr;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    struct zt_sealed_writer *w = NULL;
    uint64_t now = (uint64_t)(zt_time_real_ms() / 1000);
    if (need && req.len >= need &&
        zt_env_open(zt_identity_kem_sk(F.id), (const uint8_t *)req.data + head_len, need - head_len, now, replay, &hdr,
                    &pt, &pt_len) == 0 &&
        zt_sealed_writer_new(&hdr, zt_identity_kem_sk(F.id), true, &out, &w) == 0 &&
        (zt_sealed_writer_v2(w), zt_sealed_writer_tokens(w, (const int32_t[]){5, 6, 7, 8}, 4, "Once upon a fake", 16,
                                                         &out) == 0)) {
        if (atomic_load(&F.mode) == FAKE_FORGED) {
            /* a well-formed wire v2 stream (final checkpoint by the real key): only the receipt is forged */
            struct zt_checkpoint ck = {.flags = ZT_CKPT_FLAG_FINAL, .n_tokens = 4, .build_id_len = 4};
            memcpy(ck.job_id, hdr.job_id, sizeof ck.job_id);
            zt_strlcpy(ck.build_id, "fake", sizeof ck.build_id);
            uint8_t rec[ZT_CKPT_MAX_LEN];
            size_t rl = 0;
            if (zt_checkpoint_sign(&ck, zt_identity_sign_sk(F.id), rec, sizeof rec, &rl) == 0)
                zt_ignore(zt_sealed_writer_checkpoint(w, rec, rl, &out));
            struct zt_sealed_final f = {.finish_reason = "stop", .prompt_tokens = 3, .completion_tokens = 4};
            struct zt_env_receipt rc;
            memset(&rc, 0, sizeof rc);
            zt_sha256(rc.input_hash, pt, pt_len);
            rc.finished = now;
            rc.build_id_len = (uint8_t)zt_strlcpy(rc.build_id, "fake", sizeof rc.build_id);
            zt_ignore(zt_sealed_writer_finish(w, &f, &rc, zt_identity_sign_sk(F.other), &out));
        }
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.zentalk.result\r\n"
                                   "Connection: close\r\n\r\n";
        send_all(c, head, sizeof head - 1);
        send_all(c, out.data, out.len);
    } else {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 52\r\nConnection: close\r\n\r\n"
                                  "{\"error\":{\"code\":\"fake_bad\",\"message\":\"fake worker\"}}";
        send_all(c, bad, sizeof bad - 1);
    }
    atomic_fetch_add(&F.served, 1);
    zt_sealed_writer_free(w);
    zt_env_body_free(pt, pt_len);
    zt_buf_deinit(&req);
    zt_buf_deinit(&out);
    close(c);
}

static void *fake_main(void *arg)
{
    (void)arg;
    struct zt_env_replay *replay = NULL;
    if (zt_env_replay_new(1024, &replay) != 0) return NULL;
    while (!atomic_load(&F.stop)) {
        struct pollfd pfd = {.fd = F.lfd, .events = POLLIN};
        if (poll(&pfd, 1, 50) != 1) continue;
        int c = accept(F.lfd, NULL, NULL);
        if (c >= 0) fake_serve(c, replay);
    }
    zt_env_replay_free(replay);
    return NULL;
}

static void make_keyed(struct keyed *k)
{
    tmp_dir(k->dir, sizeof k->dir, "route");
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
    make_keyed(&W);
    make_keyed(&G);
    make_keyed(&R);
    make_keyed(&G2);
    int64_t exp = zt_time_real_ms() / 1000 + 3600;
    /* W trusts G and the relay R: their signed requests verify */
    const char *roles[] = {"gateway"};
    char *dg[2] = {NULL, NULL};
    assert_int_equal(zt_identity_descriptor(G.id, roles, 1, NULL, 0, "http://127.0.0.1:1", exp, &dg[0]), 0);
    assert_int_equal(zt_identity_descriptor(R.id, roles, 1, NULL, 0, "http://127.0.0.1:1", exp, &dg[1]), 0);
    put_json_array(W.data, "peers.json", dg, 2);
    zt_free(dg[0]);
    zt_free(dg[1]);
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
    /* F: a worker of model "fake" that answers results that do not verify */
    assert_int_equal(zt_identity_generate(&F.id), 0);
    assert_int_equal(zt_identity_generate(&F.other), 0);
    F.lfd = listen_any(&F.port);
    assert_int_equal(pthread_create(&F.th, NULL, fake_main, NULL), 0);
    const char *wroles[] = {"worker"}, *fmodels[] = {"fake"};
    char furl[64];
    snprintf(furl, sizeof furl, "http://127.0.0.1:%u", F.port);
    char *gp[2] = {dw, NULL};
    assert_int_equal(zt_identity_descriptor(F.id, wroles, 1, fmodels, 1, furl, exp, &gp[1]), 0);
    put_json_array(G.data, "peers.json", gp, 2);
    zt_free(gp[1]);

    /* R relays to W and admits G2; G2 sends through R */
    char *dg2 = NULL;
    assert_int_equal(zt_identity_descriptor(G2.id, roles, 1, NULL, 0, "http://127.0.0.1:1", exp, &dg2), 0);
    char *rp[2] = {dw, dg2};
    put_json_array(R.data, "peers.json", rp, 2);
    zt_free(dg2);
    static const char *const renv[] = {"ZENTALK_ENCRYPTION_RELAY_CALLERS=peer", NULL};
    node_spawn(&R.n, NULL, renv, true, R.dir);
    http(R.n.port, "GET", "/v1/node/descriptor", NULL, NULL, &d);
    assert_int_equal(d.status, 200);
    char *g2p[2] = {dw, zt_strdup(zt_buf_str(&d.body))};
    resp_free(&d);
    put_json_array(G2.data, "peers.json", g2p, 2);
    zt_free(g2p[1]);
    char relay_env[96];
    snprintf(relay_env, sizeof relay_env, "ZENTALK_ENCRYPTION_RELAY=%s", zt_identity_id(R.id));
    const char *const g2env[] = {relay_env, NULL};
    node_spawn(&G2.n, NULL, g2env, true, G2.dir);
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
    if (F.id) {
        atomic_store(&F.stop, true);
        pthread_join(F.th, NULL);
        close(F.lfd);
        zt_identity_free(F.id);
        zt_identity_free(F.other);
    }
    struct keyed *all[] = {&W, &G, &R, &G2};
    for (size_t i = 0; i < 4; i++) {
        if (all[i]->n.pid) node_cleanup(&all[i]->n);
        zt_identity_free(all[i]->id);
        if (all[i]->dir[0]) rm_rf(all[i]->dir);
    }
    return 0;
}

static void need_model(void)
{
    if (!have_model) {
        zt_skip("needs the tiny model stories260K.gguf (tests/models)");
    }
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
        json_t *direct = post_json(W.n.port, path, NULL, body, 200);
        assert_string_equal(json_string_value(json_object_get(json_object_get(direct, "zentalk"), "ran_on")), "local");
        /* the single node says it verified nothing (issue 11 item 5) */
        assert_string_equal(json_string_value(json_object_get(json_object_get(direct, "zentalk"), "verification")),
                            "local");
        uint64_t t0 = zt_time_mono_ms();
        json_t *via = post_json(G.n.port, path, NULL, body, 200);
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
        (void)t0, (void)t1;
        if (!chat) { /* the figure: median of 9 runs each, in microseconds */
            uint64_t loc[9], rem[9];
            for (int i = 0; i < 9; i++) {
                uint64_t a = zt_time_mono_ns();
                json_decref(post_json(W.n.port, path, NULL, body, 200));
                uint64_t b = zt_time_mono_ns();
                json_decref(post_json(G.n.port, path, NULL, body, 200));
                uint64_t c = zt_time_mono_ns();
                loc[i] = (b - a) / 1000;
                rem[i] = (c - b) / 1000;
            }
            for (int i = 0; i < 9; i++)
                for (int k = i + 1; k < 9; k++) {
                    if (loc[k] < loc[i]) { uint64_t x = loc[i]; loc[i] = loc[k]; loc[k] = x; }
                    if (rem[k] < rem[i]) { uint64_t x = rem[i]; rem[i] = rem[k]; rem[k] = x; }
                }
            printf("32-token completion (median of 9): local on W %llu us, G -> W sealed %llu us\n",
                   (unsigned long long)loc[4], (unsigned long long)rem[4]);
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
    const char *masked = "{\"model\":\"stories\",\"prompt\":\"The dog wrote to <EMAIL_1> and\",\"seed\":11,"
                         "\"temperature\":0.9,\"max_tokens\":32}";
    const char *clear = "{\"model\":\"stories\",\"prompt\":\"The dog wrote to lily.doe@example.com and\",\"seed\":11,"
                        "\"temperature\":0.9,\"max_tokens\":32}";
    json_t *direct = post_json(W.n.port, "/v1/completions", NULL, masked, 200);
    json_t *via = post_json(G.n.port, "/v1/completions", NULL, clear, 200);
    assert_string_equal(answer_text(via, false), answer_text(direct, false));
    assert_string_equal(json_string_value(json_object_get(json_object_get(via, "zentalk"), "seq_hash")),
                        json_string_value(json_object_get(json_object_get(direct, "zentalk"), "seq_hash")));
    /* and not W's answer to the address itself (the comparison means something) */
    json_t *leak = post_json(W.n.port, "/v1/completions", NULL, clear, 200);
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

/* Results that do not verify never pass as good: 502 before any text; an
 * SSE stream that already carried text ends with an error event, no [DONE]. */
static void test_unverified(void **state)
{
    (void)state;
    need_model();
    int modes[] = {FAKE_CUT, FAKE_FORGED};
    for (int m = 0; m < 2; m++) {
        atomic_store(&F.mode, modes[m]);
        struct resp r;
        http(G.n.port, "POST", "/v1/completions", "application/json",
             "{\"model\":\"fake\",\"prompt\":\"Once\",\"max_tokens\":8}", &r);
        assert_error_json(&r, 502, "unverified_result");
        assert_null(strstr(zt_buf_str(&r.body), "upon a fake"));
        resp_free(&r);
        http(G.n.port, "POST", "/v1/chat/completions", "application/json",
             "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}", &r);
        assert_int_equal(r.status, 200);
        const char *b = zt_buf_str(&r.body);
        assert_non_null(strstr(b, "Once upon a fake"));          /* authentic chunk, shown as it came */
        assert_non_null(strstr(b, "\"code\":\"unverified_result\"")); /* then the verdict */
        assert_null(strstr(b, "[DONE]"));
        resp_free(&r);
    }
    assert_int_equal(atomic_load(&F.served), 4);
}

/* G2 sends through the relay R: same answer, ran_on W, via R. */
static void test_via_relay(void **state)
{
    (void)state;
    need_model();
    char body[512];
    snprintf(body, sizeof body, COMPLETION, "");
    long long fwd = metric_value(R.n.port, "zentalk_relay_requests_total{outcome=\"forwarded\"}");
    json_t *direct = post_json(W.n.port, "/v1/completions", NULL, body, 200);
    json_t *via = post_json(G2.n.port, "/v1/completions", NULL, body, 200);
    assert_string_equal(answer_text(via, false), answer_text(direct, false));
    json_t *zt = json_object_get(via, "zentalk");
    assert_remote(zt);
    assert_string_equal(json_string_value(json_object_get(zt, "via")), zt_identity_id(R.id));
    assert_int_equal(metric_value(R.n.port, "zentalk_relay_requests_total{outcome=\"forwarded\"}"), fwd + 1);
    json_decref(direct);
    json_decref(via);
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
        cmocka_unit_test(test_unverified),
        cmocka_unit_test(test_via_relay),
        cmocka_unit_test(test_worker_down),
    };
    int rc = cmocka_run_group_tests_name("local_first", tests, setup, teardown);
    curl_global_cleanup();
    return zt_test_exit(rc);
}
