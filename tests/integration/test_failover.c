/* test_failover: resumable streams across workers, black-box, real nodes.
 *
 * W[0..2]: workers serving the tiny model (tests/models/stories260K.gguf;
 * skipped with the reason when absent), admitting only G's signed jobs,
 * each pausing 25 ms per token (ZT_TEST_DELAY_MS, a test-only setting) so
 * a test can act mid-stream. G: a gateway with no model, the three in its
 * peers file, a stall deadline of 1 s (encryption.remote_stall_ms) and 3 s
 * for a worker's answer to start (encryption.remote_timeout_s).
 *   reference: an SSE completion through G, uninterrupted;
 *   SIGKILL of the worker serving a stream after some text: the client's
 *   stream completes ([DONE], no error) and its text equals the reference
 *   byte for byte, ran_on names another worker, and G's log counts the
 *   tokens of each attempt once (their sum is the answer's completion
 *   tokens);
 *   SIGSTOP of the worker serving the next stream: the same after the
 *   stall deadline;
 *   one more stream: the dead worker and the stopped one failed G's own
 *   attempts, so G holds them (zt_peers_note) and sends the job to the
 *   live one at the first attempt (one job_attempt line): the same text;
 *   with the last one killed too, a stream finds no worker left: G tries
 *   the held ones (the dead one refuses the connection, the stopped one
 *   does not answer within remote_timeout_s) and answers 503
 *   no_worker_left, naming it.
 * The time from the signal to the next text is printed (bench_failover
 * measures it over more runs).
 * The checkpoint a resumed worker is given (this process as G, its own
 * picker): V (a fourth worker) is SIGKILLed after 36 ids; the job ends on
 * W[0], whose FINAL checkpoint chains (prev) to V's last checkpoint before
 * the cut, the one at the last multiple of 16 of the ids V streamed.
 * Verification over the wire (this process signs as G): a job generated
 * on one worker and verified teacher-forced on another (a "verify" body:
 * the prompt and the claimed ids) gives equal signed chains; a worker
 * started with the test-only fault flag (ZT_TEST_FAULT_EVERY, which alters
 * a token now and then), and one whose "stories" is another model file,
 * are caught (zt_job_chain_compare: MISMATCH). */
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
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_privacy.h"
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

static struct keyed W[N_W], G, F, S; /* F: alters tokens (test fault flag); S: another model as "stories" */
static struct keyed V; /* like W, not in G's peers: killed by test_resume_from_last_checkpoint */
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
    {
        make_keyed(&V);
        put_json_array(V.data, "peers.json", &dg, 1);
        put_file(V.dir, "models.yaml", yaml);
        put_file(V.dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
        const char *const vargs[] = {"--config", V.dir, NULL};
        static const char *const venv[] = {"ZENTALK_ENCRYPTION_SEALED_JOBS_CALLERS=peer", "ZT_TEST_MODE=1",
                                           "ZT_TEST_DELAY_MS=25", NULL};
        node_spawn(&V.n, vargs, venv, true, V.dir);
    }
    /* F and S: workers that verification must catch */
    char other_path[1024];
    (void)find_test_model("llama-2-tiny-random.gguf", other_path, sizeof other_path);
    struct keyed *bad[2] = {&F, &S};
    for (int i = 0; i < 2; i++) {
        make_keyed(bad[i]);
        put_json_array(bad[i]->data, "peers.json", &dg, 1);
        char y[1600];
        snprintf(y, sizeof y,
                 "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
                 "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 120\n",
                 i == 0 || !other_path[0] ? model_path : other_path);
        put_file(bad[i]->dir, "models.yaml", y);
        const char *const args[] = {"--config", bad[i]->dir, NULL};
        static const char *const fenv[] = {"ZENTALK_ENCRYPTION_SEALED_JOBS_CALLERS=peer", "ZT_TEST_MODE=1",
                                           "ZT_TEST_FAULT_EVERY=5", NULL};
        static const char *const senv[] = {"ZENTALK_ENCRYPTION_SEALED_JOBS_CALLERS=peer", NULL};
        node_spawn(&bad[i]->n, args, i == 0 ? fenv : senv, true, bad[i]->dir);
    }
    zt_free(dg);
    put_json_array(G.data, "peers.json", gp, N_W);
    for (int i = 0; i < N_W; i++) zt_free(gp[i]);
    const char *const gargs[] = {"--config", G.dir, NULL};
    static const char *const genv[] = {"ZENTALK_ENCRYPTION_REMOTE_STALL_MS=1000", "ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=3",
                                       NULL};
    node_spawn(&G.n, gargs, genv, true, G.dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    struct keyed *all[N_W + 4] = {&W[0], &W[1], &W[2], &G, &F, &S, &V};
    for (size_t i = 0; i < N_W + 4; i++) {
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
    /* the dead one and the stopped one are held: not tried again */
    struct zt_buf text;
    zt_buf_init(&text, 1 << 20);
    uint32_t ct3 = 0;
    uint64_t t0 = zt_time_mono_ms();
    stream(&none, &text, &zt, &ct3);
    assert_int_equal(text.len, ref.len);
    assert_memory_equal(text.data, ref.data, ref.len);
    assert_int_equal(worker_of(json_string_value(json_object_get(zt, "ran_on"))), victim);
    json_decref(zt);
    (void)attempt_tokens(&lines);
    assert_int_equal(lines, 1); /* the live worker at the first attempt */
    printf("past a dead and a stopped worker: whole answer in %llu ms\n", (unsigned long long)(zt_time_mono_ms() - t0));
    zt_buf_deinit(&text);
    zt_buf_deinit(&ref);
    /* no worker left: a clear 503, not a result that "did not verify" */
    assert_int_equal(kill(W[victim].n.pid, SIGKILL), 0);
    struct resp r;
    struct http_opts o = {.ctype = "application/json", .body = REQ, .timeout_ms = 120000};
    assert_int_equal(http_req(G.n.port, "POST", "/v1/completions", &o, &r), 0);
    const char *body = zt_buf_str(&r.body);
    if (!strstr(body, "no_worker_left")) fprintf(stderr, "no worker left: %ld %s\n", r.status, body);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(body, "\"no_worker_left\""));
    assert_non_null(strstr(body, "no worker left for model stories: 3 tried"));
    resp_free(&r);
    (void)attempt_tokens(&lines);
    assert_int_equal(lines, 3); /* each held one once */
}

/* ---- the checkpoint a resumed worker is given ------------------------------------ */

/* This process is the gateway (it signs as G): a job on V, which is
 * SIGKILLed once 36 ids have come (between its checkpoints at 16 and 32
 * and the next at 48), continues on W[0]. The second attempt's body
 * carries V's last checkpoint before the cut: W[0]'s FINAL checkpoint
 * chains to exactly that record (prev), whose count is the last multiple
 * of 16 of the ids V streamed. */
struct cut_run {
    size_t ids;
    bool killed;
    uint8_t last[ZT_CKPT_MAX_LEN]; /* V's last checkpoint seen */
    size_t last_len;
    uint32_t last_n;
    int v_ckpts;
};

static void cut_ids(void *ud, const int32_t *ids, size_t n)
{
    (void)ids;
    struct cut_run *c = ud;
    c->ids += n;
    if (!c->killed && c->ids >= 36) {
        c->killed = true;
        assert_int_equal(kill(V.n.pid, SIGKILL), 0);
    }
}

static void cut_ckpt(void *ud, const uint8_t *rec, size_t len, const struct zt_checkpoint *ck)
{
    struct cut_run *c = ud;
    if (memcmp(ck->worker_pk, zt_identity_sign_pk(V.id), sizeof ck->worker_pk) != 0) return;
    memcpy(c->last, rec, len);
    c->last_len = len;
    c->last_n = ck->n_tokens;
    c->v_ckpts++;
}

struct one_pick {
    int picks;
    uint32_t v_tokens;
    enum zt_job_attempt v_outcome;
};

static void worker_for(const struct keyed *k, struct zt_job_worker *w)
{
    memset(w, 0, sizeof *w);
    zt_strlcpy(w->node_id, zt_identity_id(k->id), sizeof w->node_id);
    memcpy(w->kem_pk, zt_identity_kem_pk(k->id), sizeof w->kem_pk);
    memcpy(w->sign_pk, zt_identity_sign_pk(k->id), sizeof w->sign_pk);
    zt_strlcpy(w->base_url, k->n.url, sizeof w->base_url);
    zt_strlcpy(w->recipient_id, w->node_id, sizeof w->recipient_id);
}

static int pick_w0(void *ud, const char *const *exclude, size_t n, struct zt_job_worker *out)
{
    (void)exclude, (void)n;
    struct one_pick *p = ud;
    if (p->picks++) return ZT_ENOTFOUND;
    worker_for(&W[0], out);
    return 0;
}

static void report_v(void *ud, const struct zt_job_worker *w, enum zt_job_attempt a, uint32_t tokens)
{
    struct one_pick *p = ud;
    if (strcmp(w->node_id, zt_identity_id(V.id)) != 0) return;
    p->v_tokens = tokens;
    p->v_outcome = a;
}

static void test_resume_from_last_checkpoint(void **state)
{
    (void)state;
    need_model();
    json_t *req = json_pack("{s:s,s:s,s:i,s:f}", "model", "stories", "prompt", "Once upon a time", "seed", 11,
                            "temperature", 0.8);
    struct zt_privacy_verdict own;
    zt_privacy_verdict_own_data(&own);
    struct zt_job_worker first;
    worker_for(&V, &first);
    struct zt_job_spec spec = {.model = "stories", .max_tokens = 64, .stream = true, .ttl_s = 300,
                               .now = (uint64_t)(zt_time_real_ms() / 1000), .suite = ZT_HPKE_SUITE_CHACHA,
                               .worker_id = first.node_id, .worker_kem_pk = first.kem_pk,
                               .worker_sign_pk = first.sign_pk};
    struct zt_job_call *j = NULL;
    assert_int_equal(zt_job_call_new(req, ZT_JOB_COMPLETION, &own, &spec, &j), 0);
    struct zt_job_target t = {.base_url = first.base_url, .sign_as = G.id, .recipient_id = first.node_id,
                              .now = zt_time_real_ms() / 1000, .total_timeout_ms = 60000};
    assert_int_equal(zt_job_call_target(j, &t), 0);
    struct one_pick p = {0};
    struct zt_job_picker pk = {.pick = pick_w0, .report = report_v, .ud = &p};
    struct zt_job_failover f = {.picker = &pk, .spec = spec, .target = t, .stall_ms = 5000, .max_workers = 2};
    struct cut_run c = {0};
    struct zt_job_hooks h = {.ids = cut_ids, .checkpoint = cut_ckpt, .ud = &c};
    static struct zt_job_outcome o;
    struct zt_job_failover_stats st;
    assert_int_equal(zt_job_call_send_failover(&j, &first, &f, &h, &o, &st), 0);
    if (o.status != ZT_JOB_VERIFIED) fprintf(stderr, "status %d: %s (%s)\n", o.status, o.why, o.transport);
    assert_true(c.killed);
    assert_int_equal(o.status, ZT_JOB_VERIFIED);
    assert_int_equal(st.workers, 2);
    assert_string_equal(st.last_worker, zt_identity_id(W[0].id));
    assert_int_equal(p.v_outcome, ZT_JOB_ATTEMPT_DIED);
    /* V's checkpoints came every 16 ids; the last one before the cut */
    assert_true(p.v_tokens >= 36 && p.v_tokens < 64);
    assert_int_equal(c.v_ckpts, (int)(p.v_tokens / 16));
    assert_int_equal(c.last_n, p.v_tokens / 16 * 16);
    /* is what W[0] was given: its FINAL checkpoint chains to it */
    uint8_t want[32];
    zt_checkpoint_id(c.last, c.last_len, want);
    assert_memory_equal(o.result.ckpt.prev, want, sizeof want);
    assert_memory_equal(o.result.ckpt.worker_pk, zt_identity_sign_pk(W[0].id), 32);
    assert_int_equal(o.result.ckpt.n_tokens, c.ids);
    printf("V killed after %u ids; resumed from its checkpoint at %u\n", (unsigned)p.v_tokens, (unsigned)c.last_n);
    zt_job_call_free(j);
    zt_privacy_verdict_deinit(&own);
    json_decref(req);
}

/* ---- verification over the wire --------------------------------------------- */

struct got {
    int32_t ids[256];
    size_t n;
};

static void got_ids(void *ud, const int32_t *ids, size_t n)
{
    struct got *g = ud;
    for (size_t i = 0; i < n && g->n < 256; i++) g->ids[g->n++] = ids[i];
}

static void spec_for(const struct keyed *w, struct zt_job_spec *spec)
{
    *spec = (struct zt_job_spec){.model = "stories", .max_tokens = 40, .stream = true, .ttl_s = 300,
                                 .now = (uint64_t)(zt_time_real_ms() / 1000), .suite = ZT_HPKE_SUITE_CHACHA,
                                 .worker_id = zt_identity_id(w->id), .worker_kem_pk = zt_identity_kem_pk(w->id),
                                 .worker_sign_pk = zt_identity_sign_pk(w->id)};
}

/* Send j to w as G; the outcome must verify (or, with may_refuse, be
 * refused as an invalid request). Returns whether it verified. */
static bool send_to(struct zt_job_call *j, const struct keyed *w, struct got *g, struct zt_job_outcome *o,
                    bool may_refuse)
{
    struct zt_job_target t = {.base_url = w->n.url, .sign_as = G.id, .recipient_id = zt_identity_id(w->id),
                              .now = zt_time_real_ms() / 1000, .total_timeout_ms = 60000};
    assert_int_equal(zt_job_call_target(j, &t), 0);
    struct zt_job_hooks h = {.ids = got_ids, .ud = g};
    assert_int_equal(zt_job_call_send(j, &h, o), 0);
    if (may_refuse && o->status == ZT_JOB_REFUSED && o->http_status == 400) return false;
    if (o->status != ZT_JOB_VERIFIED)
        fprintf(stderr, "worker %s: status %d, %s; %s\n", zt_identity_id(w->id), o->status, o->why, o->transport);
    assert_int_equal(o->status, ZT_JOB_VERIFIED);
    assert_true(o->result.checkpoint_len > 0);
    return true;
}

/* Generate on gen, verify on ver; the verdict of the two chains. A
 * verifier that refuses the claimed ids outright (ids its model does not
 * have: another model's) has caught them too: MISMATCH. */
static enum zt_chain_verdict generate_and_verify(const struct keyed *gen, const struct keyed *ver, const char *why_want)
{
    json_t *req = json_pack("{s:s,s:s,s:i,s:f}", "model", "stories", "prompt", "Once upon a time", "seed", 5,
                            "temperature", 0.8);
    struct zt_privacy_verdict own;
    zt_privacy_verdict_own_data(&own);
    struct zt_job_spec spec;
    spec_for(gen, &spec);
    struct zt_job_call *j = NULL, *v = NULL;
    assert_int_equal(zt_job_call_new(req, ZT_JOB_COMPLETION, &own, &spec, &j), 0);
    struct got g = {0}, none = {0};
    static struct zt_job_outcome a, b;
    assert_true(send_to(j, gen, &g, &a, false));
    assert_true(g.n > 0);
    spec_for(ver, &spec);
    assert_int_equal(zt_job_call_continue(j, ZT_JOB_VERIFY, g.ids, g.n, NULL, 0, &spec, &v), 0);
    enum zt_chain_verdict verdict = ZT_CHAIN_MISMATCH;
    const char *why = "the verifier refused the claimed ids";
    if (!send_to(v, ver, &none, &b, true)) goto out;
    assert_int_equal(none.n, 0); /* a verifier streams no ids, only its chain */
    assert_string_equal(b.result.final.finish_reason, "verified");
    assert_int_equal(zt_job_chain_compare(a.result.checkpoint, a.result.checkpoint_len, zt_identity_sign_pk(gen->id),
                                          b.result.checkpoint, b.result.checkpoint_len, zt_identity_sign_pk(ver->id),
                                          &verdict, &why),
                     0);
out:
    if (why_want) assert_string_equal(why, why_want);
    zt_job_call_free(j);
    zt_job_call_free(v);
    zt_privacy_verdict_deinit(&own);
    json_decref(req);
    return verdict;
}

static void test_verify_over_wire(void **state)
{
    (void)state;
    need_model();
    for (int i = 0; i < N_W; i++)
        assert_int_equal(generate_and_verify(&W[i], &W[(i + 1) % N_W], NULL), ZT_CHAIN_MATCH);
    /* a worker that alters a token now and then */
    assert_int_equal(generate_and_verify(&F, &W[0], "the hash chains differ"), ZT_CHAIN_MISMATCH);
    /* a worker whose model is another file */
    char other[1024];
    if (find_test_model("llama-2-tiny-random.gguf", other, sizeof other))
        assert_int_equal(generate_and_verify(&S, &W[1], NULL), ZT_CHAIN_MISMATCH);
    else
        zt_skip_part("llama-2-tiny-random.gguf not found: the swapped-model case did not run");
}

int main(int argc, char **argv)
{
    if (argc > 1) node_bin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_over_wire),
        cmocka_unit_test(test_resume_from_last_checkpoint), /* before test_failover: W[0] alive */
        cmocka_unit_test(test_failover),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
