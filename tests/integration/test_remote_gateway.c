/* test_remote_gateway.c: a gateway in another process than its
 * orchestrator (issue 11; node.orchestrator, zentalk-node --roles gateway
 * --orchestrator URL#NODE_ID; docs/internals/orchestrator.md "Leases").
 * An orchestrator-only node, a gateway-only node that places through it,
 * and two workers joined to the orchestrator (slowed by the test-only
 * ZT_TEST_DELAY_MS; no peers file anywhere: the gateway's descriptor goes
 * to the orchestrator, which hands it to the workers that join it):
 * - chats sent to the gateway run on the workers, with receipts, and their
 *   job rows are done at the orchestrator (leased, reported);
 * - verification through the lease: the orchestrator draws the job (new
 *   workers always), chooses the checker (the other worker, never the one
 *   that ran it), the gateway runs the teacher-forced check and reports
 *   the verdict with the signed chains, which the orchestrator checks and
 *   charges (the rows are verified, no verdict refused);
 *   the answer says "verified" with the check; replicated execution
 *   ("zentalk":{"replicas":1}) runs on the replica the orchestrator picks;
 * - a streamed chat whose worker is killed with SIGKILL mid-stream is
 *   continued by the other worker (the gateway's failover loop reports the
 *   failure and leases the job's next worker) and its text equals the
 *   uninterrupted run byte for byte;
 * - a wrong #NODE_ID pin: the gateway never places through that node;
 * - the user's answer does not wait for the verdict's round trip: with
 *   silent checkers (the test-only ZT_TEST_NO_CHECK_REPORT: they answer
 *   the gateway but never report to the orchestrator) and a gateway that
 *   leaves its checker out of its verdict (ZT_TEST_DROP_CHECKER), the
 *   orchestrator holds the verdict up to 5 s for the checker's report
 *   (verdict_waits), yet the answer ("verified", with the check) comes at
 *   once: the gateway sends its verdict on its own thread;
 * - the same orchestrator killed with SIGKILL and restarted (same data
 *   and port) while 6 streams hold its 4 slots and wait: it is restarted
 *   once the running ones ended at their workers (their gateway's ok
 *   reports found nobody and are sent again); each stream completes with
 *   the reference text or gets a clear 502/503 (the restart's races,
 *   docs/internals/orchestrator.md), the workers ran each completed job
 *   once and no other, every row ended (done once per completed stream),
 *   none left running; while it was down the gateway asked for it a few
 *   times a second, not in a busy loop;
 * - node.orchestrator with two orchestrators (the workers joined both):
 *   after the first is killed with SIGKILL, chats through the gateway are
 *   placed by the second;
 * - the same two on one PostgreSQL and one Redis stream (test_takeover's
 *   setup): streamed chats sent at once, more than the workers' slots, so
 *   some run and the rest wait at the first orchestrator; it is killed with
 *   SIGKILL: the second continues every one of them for the gateway (the
 *   waiting ones are placed by it, the running ones report there): every
 *   stream completes with the text of an uninterrupted run, each job ran
 *   once (the workers' inference counts), every row is done at the second,
 *   none twice, `zentalk jobs` at the second shows them done, and the
 *   stream is empty. The time from the kill to each job's takeover, and
 *   to each waiting job's placement at the second, is printed (p50/p95);
 * - the same with the first worker killed too, 300 ms after the
 *   orchestrator: its streams are reported to the second orchestrator,
 *   which continues them on the other worker (a second attempt, resumed
 *   from the tokens streamed): the texts are still the reference, every
 *   row done once at the second.
 * Usage: test_remote_gateway PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_queue.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zt_test_servers.h"

static struct node orch, gw, wk[2];
static const char *cli_bin;
static char orch_id[64], wk_id[2][64];

static const char BODY[] = "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                           "\"max_tokens\":40,\"temperature\":0%s}";

/* A chat through the gateway: status, its text and worker. */
static long chat(bool stream, struct zt_buf *text, char *ran_on, size_t cap)
{
    char body[300];
    snprintf(body, sizeof body, BODY, stream ? ",\"stream\":true" : "");
    return chat_text(gw.port, body, stream, text, ran_on, cap);
}

struct stream_call {
    long status;
    struct zt_buf text;
    char ran_on[64];
};

static void *stream_thread(void *arg)
{
    struct stream_call *c = arg;
    c->status = chat(true, &c->text, c->ran_on, sizeof c->ran_on);
    return NULL;
}

/* Jobs at the orchestrator in `state`, or also in `also` (may be NULL),
 * read at once (a job moving from one to the other is counted once). */
static long jobs_in_states(const char *state, const char *also)
{
    struct resp r;
    http(orch.port, "GET", "/v1/orchestrator/jobs?limit=100", NULL, NULL, &r);
    json_t *j = resp_json(&r);
    resp_free(&r);
    long n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "jobs"), i, x) {
        const char *st = json_string_value(json_object_get(x, "state"));
        n += zt_str_eq(st, state) || (also && zt_str_eq(st, also));
    }
    json_decref(j);
    return n;
}

static long jobs_in_state(const char *state) { return jobs_in_states(state, NULL); }

/* A config directory for the workers (stories260K) in cfg; skips without
 * the model. */
static void worker_config(char *cfg, size_t cap, const char *tag)
{
    char model[1024], yaml[1400];
    if (!find_test_model("stories260K.gguf", model, sizeof model)) zt_skip("stories260K.gguf not found (tests/models)");
    tmp_dir(cfg, cap, tag);
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 64\n",
             model);
    put_file(cfg, "models.yaml", yaml);
    put_file(cfg, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
}

/* Until the orchestrator at port lists both workers live (fails past until). */
static void wait_live(uint16_t port, uint64_t until)
{
    uint64_t now = zt_time_mono_ms();
    assert_int_equal(orch_wait_live(port, 2, now < until ? (int)(until - now) : 0), 2);
}

/* Jobs that ended well: done, or done and verified (in one read: the
 * gateway's verdict, sent after its answer, may move a job between them) */
static long ended(void) { return jobs_in_states("done", "verified"); }

static void test_remote_gateway(void **state)
{
    (void)state;
    char cfg[256];
    worker_config(cfg, sizeof cfg, "remotegw");
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    const char *const oenv[] = {"ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000", NULL};
    node_spawn(&orch, oargs, oenv, true, NULL);
    node_id_of(orch.port, orch_id, sizeof orch_id, NULL);

    char pinned[300];
    snprintf(pinned, sizeof pinned, "%s#%s", orch.url, orch_id);
    const char *const gargs[] = {"--roles", "gateway", "--orchestrator", pinned, NULL};
    const char *const genv[] = {"ZENTALK_ENCRYPTION_REMOTE_STALL_MS=1500", "ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=20",
                                NULL};
    node_spawn(&gw, gargs, genv, true, NULL);
    char gw_id[64];
    node_id_of(gw.port, gw_id, sizeof gw_id, NULL);
    /* the NAT relay's routes are the orchestrator's: a gateway whose
     * orchestrator runs elsewhere answers 404 (it once handed a NULL relay
     * to them and crashed on an unauthenticated request) */
    char relay_paths[9][200];
    snprintf(relay_paths[0], sizeof relay_paths[0], "/v1/orchestrator/relay-result/%s",
             "0123456789abcdef0123456789abcdef");
    snprintf(relay_paths[1], sizeof relay_paths[1], "/v1/orchestrator/relay/%s/v1/models", orch_id);
    /* and every other orchestrator route (review9 F1: check-report, open
     * to anyone, crashed such a gateway on its NULL lease table) */
    static const char *const others[] = {"/v1/orchestrator/check-report", "/v1/orchestrator/lease",
                                         "/v1/orchestrator/report",       "/v1/orchestrator/revoke",
                                         "/v1/orchestrator/join",         "/v1/orchestrator/heartbeat",
                                         "/v1/orchestrator/leave"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        snprintf(relay_paths[2 + i], sizeof relay_paths[2 + i], "%s", others[i]);
    for (size_t i = 0; i < sizeof relay_paths / sizeof relay_paths[0]; i++) {
        struct resp rr;
        http(gw.port, "POST", relay_paths[i], "application/json", "{}", &rr);
        assert_int_equal(rr.status, 404);
        json_t *ej = resp_json(&rr);
        resp_free(&rr);
        assert_string_equal(json_string_value(json_object_get(json_object_get(ej, "error"), "code")),
                            "not_an_orchestrator");
        json_decref(ej);
    }
    /* no peers file: the orchestrator vouches for the gateway that leases there */
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZT_TEST_MODE=1", "ZT_TEST_DELAY_MS=40",
                                NULL};
    for (int i = 0; i < 2; i++) {
        const char *const wargs[] = {"--config", cfg, "--roles", "worker", "--join", orch.url, NULL};
        node_spawn(&wk[i], wargs, wenv, true, NULL);
        node_id_of(wk[i].port, wk_id[i], sizeof wk_id[i], NULL);
    }
    uint64_t until = zt_time_mono_ms() + 20000;
    wait_live(orch.port, until);

    /* chats through the gateway in its own process */
    struct zt_buf ref;
    zt_buf_init(&ref, 1 << 16);
    char ran[64];
    assert_int_equal(chat(false, &ref, ran, sizeof ran), 200);
    assert_true(zt_str_eq(ran, wk_id[0]) || zt_str_eq(ran, wk_id[1]));
    assert_true(ref.len > 0);
    until = zt_time_mono_ms() + 5000;
    while (ended() < 1 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(ended(), 1);
    /* verified through the lease: new workers are always checked
     * (orchestrator.verification.new_worker_jobs); the orchestrator drew
     * the job and chose the checker (the other worker), the gateway ran the
     * teacher-forced check and reported the verdict, which the orchestrator
     * charged: the job row is verified there */
    char body[400];
    snprintf(body, sizeof body, BODY, "");
    struct resp vr;
    http(gw.port, "POST", "/v1/chat/completions", "application/json", body, &vr);
    assert_int_equal(vr.status, 200);
    json_t *vj = resp_json(&vr);
    resp_free(&vr);
    json_t *z = json_object_get(vj, "zentalk");
    const char *ran_on = json_string_value(json_object_get(z, "ran_on"));
    assert_non_null(ran_on);
    assert_string_equal(json_string_value(json_object_get(z, "verification")), "verified");
    assert_non_null(json_object_get(z, "receipt"));
    json_t *ck = json_array_get(json_object_get(z, "checks"), 0);
    assert_non_null(ck);
    const char *checker = json_string_value(json_object_get(ck, "node"));
    assert_non_null(checker);
    assert_false(zt_str_eq(checker, ran_on)); /* never the verified worker */
    assert_true(zt_str_eq(checker, wk_id[0]) || zt_str_eq(checker, wk_id[1]));
    assert_true(json_is_true(json_object_get(ck, "agrees")));
    json_decref(vj);
    until = zt_time_mono_ms() + 5000;
    while (jobs_in_state("verified") < 2 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(jobs_in_state("verified"), 2);
    /* replicated execution over leases: the replica is the orchestrator's
     * choice too, and agrees */
    snprintf(body, sizeof body, BODY, ",\"zentalk\":{\"replicas\":1}");
    http(gw.port, "POST", "/v1/chat/completions", "application/json", body, &vr);
    assert_int_equal(vr.status, 200);
    vj = resp_json(&vr);
    resp_free(&vr);
    z = json_object_get(vj, "zentalk");
    assert_string_equal(json_string_value(json_object_get(z, "verification")), "verified");
    ck = json_array_get(json_object_get(z, "checks"), 0);
    assert_string_equal(json_string_value(json_object_get(ck, "role")), "replica");
    assert_false(zt_str_eq(json_string_value(json_object_get(ck, "node")),
                           json_string_value(json_object_get(z, "ran_on"))));
    assert_true(json_is_true(json_object_get(ck, "agrees")));
    json_decref(vj);
    until = zt_time_mono_ms() + 5000;
    while (jobs_in_state("verified") < 3 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(jobs_in_state("verified"), 3);
    /* the orchestrator checked the gateway's evidence itself and found it true */
    assert_int_equal(metric_value(orch.port, "zentalk_orchestrator_refusals_total{reason=\"unproven_verdict\"}"), 0);

    /* a stream whose worker dies mid-way continues on the other */
    struct stream_call sc;
    memset(&sc, 0, sizeof sc);
    zt_buf_init(&sc.text, 1 << 16);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stream_thread, &sc), 0);
    char victim[64] = "";
    until = zt_time_mono_ms() + 20000;
    while (!victim[0] && zt_time_mono_ms() < until) {
        orch_running_worker(orch.port, victim, sizeof victim);
        if (!victim[0]) zt_time_sleep_ms(20);
    }
    assert_true(victim[0]);
    zt_time_sleep_ms(400); /* some tokens streamed */
    int vi = zt_str_eq(victim, wk_id[0]) ? 0 : 1;
    uint64_t t_kill = zt_time_mono_ms();
    assert_int_equal(kill(wk[vi].pid, SIGKILL), 0);
    pthread_join(t, NULL);
    printf("stream through the remote gateway, worker killed: finished %llu ms after the kill on %s\n",
           (unsigned long long)(zt_time_mono_ms() - t_kill), sc.ran_on);
    assert_int_equal(sc.status, 200);
    assert_string_equal(sc.ran_on, wk_id[1 - vi]);
    assert_string_equal(zt_buf_str(&sc.text), zt_buf_str(&ref));
    zt_buf_deinit(&sc.text);
    zt_buf_deinit(&ref);
    assert_int_equal(node_wait(&wk[vi], 10000), 128 + SIGKILL);
    until = zt_time_mono_ms() + 5000;
    while (ended() < 4 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(ended(), 4);

    node_stop(&wk[1 - vi], 20000);
    node_cleanup(&wk[vi]);
    rm_rf(wk[vi].dir);
    node_stop(&gw, 20000);

    /* a gateway pinned to another node id (a machine in the middle would
     * answer at the URL): it never places through that node */
    char bad[300];
    snprintf(bad, sizeof bad, "%s#%s", orch.url, wk_id[vi]);
    const char *const bargs[] = {"--roles", "gateway", "--orchestrator", bad, NULL};
    node_spawn(&gw, bargs, genv, true, NULL);
    struct zt_buf x;
    zt_buf_init(&x, 1 << 16);
    assert_true(chat(false, &x, ran, sizeof ran) != 200);
    zt_buf_deinit(&x);
    assert_int_equal(ended() + jobs_in_state("queued") + jobs_in_state("failed"), 4);
    node_stop(&gw, 20000);
    node_stop(&orch, 20000);
    rm_rf(cfg);
}

/* Whether the orchestrator's stderr so far (read into orch_log: reading
 * takes it from the pipe) holds `what`. */
static struct zt_buf orch_log;

static bool orch_logged(const char *what)
{
    node_collect_stderr(&orch, &orch_log);
    return strstr(zt_buf_str(&orch_log), what) != NULL;
}

/* How many times the orchestrator's stderr so far holds `what`. */
static unsigned orch_logged_n(const char *what)
{
    node_collect_stderr(&orch, &orch_log);
    unsigned n = 0;
    for (const char *p = zt_buf_str(&orch_log); (p = strstr(p, what)) != NULL; p += strlen(what)) n++;
    return n;
}

static void test_answer_before_verdict(void **state)
{
    (void)state;
    char cfg[256];
    worker_config(cfg, sizeof cfg, "answerfirst");
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    node_spawn(&orch, oargs, NULL, true, NULL);
    node_id_of(orch.port, orch_id, sizeof orch_id, NULL);
    char pinned[300];
    snprintf(pinned, sizeof pinned, "%s#%s", orch.url, orch_id);
    const char *const gargs[] = {"--roles", "gateway", "--orchestrator", pinned, NULL};
    const char *const genv[] = {"ZT_TEST_MODE=1", "ZT_TEST_DROP_CHECKER=1", "ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=20",
                                NULL};
    node_spawn(&gw, gargs, genv, true, NULL);
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZT_TEST_MODE=1",
                                "ZT_TEST_NO_CHECK_REPORT=1", NULL};
    for (int i = 0; i < 2; i++) {
        const char *const wargs[] = {"--config", cfg, "--roles", "worker", "--join", orch.url, NULL};
        node_spawn(&wk[i], wargs, wenv, true, NULL);
    }
    wait_live(orch.port, zt_time_mono_ms() + 20000);
    zt_buf_init(&orch_log, 1 << 22);
    const char body[] = "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                        "\"max_tokens\":8,\"temperature\":0}";
    uint64_t worst = 0;
    for (int k = 0; k < 2; k++) { /* every job is checked (new workers) and its verdict held */
        uint64_t t0 = zt_time_mono_ms();
        struct resp vr;
        http(gw.port, "POST", "/v1/chat/completions", "application/json", body, &vr);
        uint64_t ms = zt_time_mono_ms() - t0;
        worst = ms > worst ? ms : worst;
        /* the answer came first: the orchestrator has not yet ended this
         * job's held verdict wait (it ends CHECK_REPORT_WAIT_MS after it
         * began, the checker being silent; the k earlier jobs' waits may
         * have). An order, not a wall-clock bound: a loaded machine makes
         * the chat slow, not the order different. */
        assert_true(orch_logged_n("verdict_wait_over") <= (unsigned)k);
        assert_int_equal(vr.status, 200);
        json_t *vj = resp_json(&vr);
        resp_free(&vr);
        json_t *z = json_object_get(vj, "zentalk");
        assert_string_equal(json_string_value(json_object_get(z, "verification")), "verified");
        assert_true(json_is_true(json_object_get(json_array_get(json_object_get(z, "checks"), 0), "agrees")));
        json_decref(vj);
    }
    printf("answers with the verdict held at the orchestrator: the slower in %llu ms\n", (unsigned long long)worst);
    /* the orchestrator held the verdict for the silent checker's report */
    uint64_t until = zt_time_mono_ms() + 10000;
    while (!orch_logged("verdict_waits") && zt_time_mono_ms() < until) zt_time_sleep_ms(100);
    if (!orch_logged("verdict_waits")) fprintf(stderr, "orchestrator:\n%s\n", zt_buf_str(&orch_log));
    assert_true(orch_logged("verdict_waits"));
    /* and the held verdicts did end after the answers (the wait is real) */
    until = zt_time_mono_ms() + 20000;
    while (orch_logged_n("verdict_wait_over") < 2 && zt_time_mono_ms() < until) zt_time_sleep_ms(100);
    assert_int_equal(orch_logged_n("verdict_wait_over"), 2);
    for (int i = 0; i < 2; i++) node_stop(&wk[i], 20000);
    node_stop(&gw, 20000);
    node_stop(&orch, 20000);
    zt_buf_deinit(&orch_log);
    rm_rf(cfg);
}

/* node.orchestrator with two orchestrators: the gateway places through
 * the first; once it is killed, through the second (the workers joined
 * both and admit the gateway, which registered with both at its start). */
static void test_orchestrator_failover(void **state)
{
    (void)state;
    char cfg[256];
    worker_config(cfg, sizeof cfg, "remotegw2");
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    const char *const oenv[] = {"ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000", NULL};
    struct node ob;
    char ob_id[64];
    node_spawn(&orch, oargs, oenv, true, NULL);
    node_spawn(&ob, oargs, oenv, true, NULL);
    node_id_of(orch.port, orch_id, sizeof orch_id, NULL);
    node_id_of(ob.port, ob_id, sizeof ob_id, NULL);
    char list[700];
    snprintf(list, sizeof list, "%s#%s, %s#%s", orch.url, orch_id, ob.url, ob_id);
    const char *const gargs[] = {"--roles", "gateway", "--orchestrator", list, NULL};
    const char *const genv[] = {"ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=20", NULL};
    node_spawn(&gw, gargs, genv, true, NULL); /* it registers with both: their workers admit it */
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};
    for (int i = 0; i < 2; i++) {
        const char *const wargs[] = {"--config", cfg, "--roles", "worker", "--join", orch.url, "--join", ob.url, NULL};
        node_spawn(&wk[i], wargs, wenv, true, NULL);
        node_id_of(wk[i].port, wk_id[i], sizeof wk_id[i], NULL);
    }
    struct node *os[2] = {&orch, &ob};
    uint64_t until = zt_time_mono_ms() + 20000;
    for (int k = 0; k < 2; k++) wait_live(os[k]->port, until);
    struct zt_buf text;
    zt_buf_init(&text, 1 << 16);
    char ran[64];
    assert_int_equal(chat(false, &text, ran, sizeof ran), 200);
    assert_true(ended() >= 1); /* placed through the first */
    kill(orch.pid, SIGKILL);
    assert_int_equal(node_wait(&orch, 10000), 128 + SIGKILL);
    node_cleanup(&orch);
    /* the next chats go through the second */
    zt_buf_reset(&text);
    long st = chat(false, &text, ran, sizeof ran);
    printf("after the first orchestrator's SIGKILL: chat through the gateway %ld on %s\n", st, ran);
    assert_int_equal(st, 200);
    assert_true(zt_str_eq(ran, wk_id[0]) || zt_str_eq(ran, wk_id[1]));
    orch = ob; /* jobs_in_state asks orch */
    until = zt_time_mono_ms() + 5000;
    while (ended() < 1 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(ended(), 1);
    zt_buf_deinit(&text);
    node_stop(&gw, 20000);
    for (int i = 0; i < 2; i++) node_stop(&wk[i], 20000);
    node_stop(&orch, 20000);
    memset(&orch, 0, sizeof orch);
    rm_rf(cfg);
}

/* ---- the same orchestrator killed and restarted while jobs wait ---------------- */

#define N_RESTART 6

/* The orchestrator's job rows (its last 100) in state. */
static long restart_rows(const char *state)
{
    struct resp r;
    http(orch.port, "GET", "/v1/orchestrator/jobs?limit=100", NULL, NULL, &r);
    json_t *j = resp_json(&r);
    resp_free(&r);
    long n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "jobs"), i, x) n += zt_str_eq(json_string_value(json_object_get(x, "state")), state);
    json_decref(j);
    return n;
}

static void test_orchestrator_restart_queued(void **state)
{
    (void)state;
    char cfg[256];
    worker_config(cfg, sizeof cfg, "remotegw4");
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    const char *const oenv[] = {"ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000",
                                "ZENTALK_ORCHESTRATOR_VERIFICATION_ENABLED=false", NULL};
    node_spawn(&orch, oargs, oenv, true, NULL);
    node_id_of(orch.port, orch_id, sizeof orch_id, NULL);
    char pinned[300], odir[256], listen[64];
    snprintf(pinned, sizeof pinned, "%s#%s", orch.url, orch_id);
    zt_strlcpy(odir, orch.dir, sizeof odir);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)orch.port);
    const char *const gargs[] = {"--roles", "gateway", "--orchestrator", pinned, NULL};
    const char *const genv[] = {"ZENTALK_ENCRYPTION_REMOTE_STALL_MS=3000", "ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=40",
                                NULL};
    node_spawn(&gw, gargs, genv, true, NULL);
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZT_TEST_MODE=1", "ZT_TEST_DELAY_MS=40",
                                NULL};
    for (int i = 0; i < 2; i++) {
        const char *const wargs[] = {"--config", cfg, "--roles", "worker", "--join", orch.url, NULL};
        node_spawn(&wk[i], wargs, wenv, true, NULL);
        node_id_of(wk[i].port, wk_id[i], sizeof wk_id[i], NULL);
    }
    uint64_t until = zt_time_mono_ms() + 20000;
    wait_live(orch.port, until);
    struct zt_buf ref;
    zt_buf_init(&ref, 1 << 16);
    char ran[64];
    assert_int_equal(chat(true, &ref, ran, sizeof ran), 200);
    assert_true(ref.len > 0);
    /* more streams than slots (2 workers x 2): some run, the rest wait */
    struct stream_call sc[N_RESTART];
    pthread_t t[N_RESTART];
    for (int i = 0; i < N_RESTART; i++) {
        memset(&sc[i], 0, sizeof sc[i]);
        zt_buf_init(&sc[i].text, 1 << 16);
        assert_int_equal(pthread_create(&t[i], NULL, stream_thread, &sc[i]), 0);
    }
    until = zt_time_mono_ms() + 20000;
    while ((restart_rows("running") < 2 || restart_rows("queued") < 1) && zt_time_mono_ms() < until)
        zt_time_sleep_ms(20);
    long run_at_kill = restart_rows("running"), wait_at_kill = restart_rows("queued");
    assert_true(run_at_kill >= 2);
    assert_true(wait_at_kill >= 1);
    uint64_t t_kill = zt_time_mono_ms();
    assert_int_equal(kill(orch.pid, SIGKILL), 0);
    assert_int_equal(node_wait(&orch, 10000), 128 + SIGKILL);
    node_cleanup(&orch);
    /* restarted once the running jobs have ended at their workers: their
     * gateway's ok reports found no orchestrator */
    until = zt_time_mono_ms() + 20000;
    long long ended_at_workers = 0;
    while (ended_at_workers < 1 + run_at_kill && zt_time_mono_ms() < until) {
        zt_time_sleep_ms(20);
        ended_at_workers = 0;
        for (int i = 0; i < 2; i++) ended_at_workers += metric_value(wk[i].port, "zentalk_inference_jobs_total");
    }
    zt_time_sleep_ms(300); /* their ok reports tried (and found nobody) */
    uint64_t down_ms = zt_time_mono_ms() - t_kill;
    const char *const rargs[] = {"--roles", "orchestrator", "--listen", listen, NULL};
    node_spawn(&orch, rargs, oenv, true, odir);
    printf("orchestrator killed with %ld jobs running and %ld waiting, restarted in %llu ms\n", run_at_kill,
           wait_at_kill, (unsigned long long)(zt_time_mono_ms() - t_kill));
    for (int i = 0; i < N_RESTART; i++) pthread_join(t[i], NULL);
    printf("orchestrator restarted: every stream ended %llu ms after the kill\n",
           (unsigned long long)(zt_time_mono_ms() - t_kill));
    /* a stream completes with the uninterrupted text, or, in the races
     * orchestrator.md lists for a restart, its client gets a clear error
     * (503 no_worker, 502 worker_refused or worker_unreachable) and its job
     * never ran */
    int ok = 0;
    for (int i = 0; i < N_RESTART; i++) {
        if (sc[i].status != 200 || !zt_str_eq(zt_buf_str(&sc[i].text), zt_buf_str(&ref)))
            printf("stream %d: status %ld text \"%s\"\n", i, sc[i].status, zt_buf_str(&sc[i].text));
        if (sc[i].status != 200) {
            assert_true(sc[i].status == 503 || sc[i].status == 502);
            continue;
        }
        ok++;
        assert_string_equal(zt_buf_str(&sc[i].text), zt_buf_str(&ref));
        assert_true(zt_str_eq(sc[i].ran_on, wk_id[0]) || zt_str_eq(sc[i].ran_on, wk_id[1]));
    }
    printf("after the restart: %d of %d streams completed (%ld were running at the kill, %lld of them ended at "
           "their workers before the restart)\n",
           ok, N_RESTART, run_at_kill, ended_at_workers - 1);
    assert_true(ok >= 1);
    /* each job that completed ran once, and no other ran (the workers'
     * counts); every row ended, done once for each completed one: none
     * left running (the ok reports of the jobs that ended while it was
     * down came again) */
    long long ran_jobs = 0;
    for (int i = 0; i < 2; i++) ran_jobs += metric_value(wk[i].port, "zentalk_inference_jobs_total");
    assert_int_equal(ran_jobs, ok + 1);
    until = zt_time_mono_ms() + 10000;
    while (restart_rows("done") < ok + 1 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(restart_rows("done"), ok + 1);
    assert_int_equal(restart_rows("failed"), N_RESTART - ok);
    assert_int_equal(restart_rows("running") + restart_rows("assigned") + restart_rows("queued"), 0);
    /* while it was down the waiting jobs asked for it a few times a second
     * (every 250 ms), not in a busy loop (thousands of calls a second) */
    struct zt_buf lg;
    zt_buf_init(&lg, 1 << 24);
    node_collect_stderr(&gw, &lg);
    long calls = 0;
    for (const char *p = zt_buf_str(&lg); (p = strstr(p, "orchestrator_call_failed")) != NULL; p++) calls++;
    for (const char *p = zt_buf_str(&lg); (p = strstr(p, "log_suppressed count=")) != NULL; p++)
        calls += strtol(p + strlen("log_suppressed count="), NULL, 10);
    zt_buf_deinit(&lg);
    printf("the gateway's failed calls while the orchestrator was down (%llu ms): %ld\n", (unsigned long long)down_ms,
           calls);
    assert_true(calls <= (long)(down_ms / 100) * N_RESTART);
    for (int i = 0; i < N_RESTART; i++) zt_buf_deinit(&sc[i].text);
    zt_buf_deinit(&ref);
    node_stop(&gw, 20000);
    for (int i = 0; i < 2; i++) node_stop(&wk[i], 20000);
    node_stop(&orch, 20000);
    memset(&orch, 0, sizeof orch);
    rm_rf(cfg);
}

/* ---- a shared store: the second orchestrator continues the first's jobs ---- */

#define N_STREAMS 8
static char db[700];

static long pg_long(const char *sql) { return zt_test_pg_long(db, sql); }

static long pg_count(const char *cond)
{
    char sql[600];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sched_jobs WHERE %s", cond);
    return pg_long(sql);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* The first orchestrator killed with streams running and waiting; with
 * kill_worker, the first worker too, 300 ms later (its streams resume on
 * the other through the second orchestrator). */
static void takeover_run(bool kill_worker)
{
    char cfg[256], redis[256];
    worker_config(cfg, sizeof cfg, "remotegw3");
    if (!zt_test_pg_new_db(db, sizeof db)) zt_skip("%s", db);
    if (!zt_test_redis_start(redis, sizeof redis)) zt_skip("%s", redis);
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    /* rows end done (the verification over leases is test_remote_gateway's) */
    struct zt_test_shared_env se;
    zt_test_shared_env(&se, db, redis, 2000);
    const char *const *oenv = se.v;
    struct node oa, ob;
    char oa_id[64], ob_id[64];
    node_spawn(&oa, oargs, oenv, true, NULL);
    node_spawn(&ob, oargs, oenv, true, NULL);
    node_id_of(oa.port, oa_id, sizeof oa_id, NULL);
    node_id_of(ob.port, ob_id, sizeof ob_id, NULL);
    char list[700];
    snprintf(list, sizeof list, "%s#%s, %s#%s", oa.url, oa_id, ob.url, ob_id);
    const char *const gargs[] = {"--roles", "gateway", "--orchestrator", list, NULL};
    const char *const genv[] = {"ZENTALK_ENCRYPTION_REMOTE_STALL_MS=3000", "ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=40",
                                NULL};
    node_spawn(&gw, gargs, genv, true, NULL);
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZT_TEST_MODE=1", "ZT_TEST_DELAY_MS=40",
                                NULL};
    for (int i = 0; i < 2; i++) {
        const char *const wargs[] = {"--config", cfg, "--roles", "worker", "--join", oa.url, "--join", ob.url, NULL};
        node_spawn(&wk[i], wargs, wenv, true, NULL);
        node_id_of(wk[i].port, wk_id[i], sizeof wk_id[i], NULL);
    }
    uint64_t until = zt_time_mono_ms() + 20000;
    wait_live(oa.port, until);
    wait_live(ob.port, until);

    /* the reference, through the first */
    struct zt_buf ref;
    zt_buf_init(&ref, 1 << 16);
    char ran[64];
    assert_int_equal(chat(true, &ref, ran, sizeof ran), 200);
    assert_true(ref.len > 0);
    char cond[300];
    snprintf(cond, sizeof cond, "orch = '%s' AND state = 3", oa_id);
    /* the gateway answers, then reports ok from a background sender (it
     * retries while no orchestrator answers): the row is done soon after */
    until = zt_time_mono_ms() + 10000;
    while (pg_count(cond) < 1 && zt_time_mono_ms() < until) zt_time_sleep_ms(20);
    assert_int_equal(pg_count(cond), 1);

    /* more streams than slots (2 workers x 2): some run, the rest wait at A */
    struct stream_call sc[N_STREAMS];
    pthread_t t[N_STREAMS];
    for (int i = 0; i < N_STREAMS; i++) {
        memset(&sc[i], 0, sizeof sc[i]);
        zt_buf_init(&sc[i].text, 1 << 16);
        assert_int_equal(pthread_create(&t[i], NULL, stream_thread, &sc[i]), 0);
    }
    snprintf(cond, sizeof cond, "orch = '%s' AND state IN (0, 1, 2)", oa_id);
    char running[300], waiting[300];
    snprintf(running, sizeof running, "orch = '%s' AND state = 2", oa_id);
    snprintf(waiting, sizeof waiting, "orch = '%s' AND state = 0", oa_id);
    until = zt_time_mono_ms() + 20000;
    while ((pg_count(cond) < N_STREAMS || pg_count(running) < 2) && zt_time_mono_ms() < until) zt_time_sleep_ms(20);
    long run_at_kill = pg_count(running), wait_at_kill = pg_count(waiting);
    assert_true(run_at_kill >= 2);
    assert_true(wait_at_kill >= 1);
    int64_t kill_wall = zt_time_real_ms();
    uint64_t t_kill = zt_time_mono_ms();
    assert_int_equal(kill(oa.pid, SIGKILL), 0);
    /* each job the second takes over (its counter, polled): the gateway's
     * next call about it, or the claim of the dead one's stream entries */
    long took[N_STREAMS];
    size_t n_took = 0;
    until = t_kill + 20000;
    while (n_took < N_STREAMS && zt_time_mono_ms() < until) {
        long long v = metric_value(ob.port, "zentalk_orchestrator_jobs_continued_total");
        long now = (long)(zt_time_mono_ms() - t_kill);
        if (kill_worker && now >= 300 && wk[0].pid > 0) {
            assert_int_equal(kill(wk[0].pid, SIGKILL), 0);
            assert_int_equal(node_wait(&wk[0], 10000), 128 + SIGKILL);
            node_cleanup(&wk[0]);
            rm_rf(wk[0].dir);
            wk[0].pid = 0;
        }
        while (v > (long long)n_took && n_took < N_STREAMS) took[n_took++] = now;
        if (n_took < N_STREAMS) zt_time_sleep_ms(10);
    }
    assert_int_equal(n_took, N_STREAMS);
    assert_int_equal(node_wait(&oa, 10000), 128 + SIGKILL);
    printf("first orchestrator killed with %ld jobs running and %ld waiting\n", run_at_kill, wait_at_kill);
    for (int i = 0; i < N_STREAMS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < N_STREAMS; i++) {
        if (sc[i].status != 200 || !zt_str_eq(zt_buf_str(&sc[i].text), zt_buf_str(&ref)))
            printf("stream %d: status %ld text \"%s\"\n", i, sc[i].status, zt_buf_str(&sc[i].text));
        assert_int_equal(sc[i].status, 200);
        assert_string_equal(zt_buf_str(&sc[i].text), zt_buf_str(&ref));
        zt_buf_deinit(&sc[i].text);
    }
    /* every job done, once, and the second orchestrator's now */
    assert_int_equal(pg_long("SELECT count(*) FROM sched_jobs"), N_STREAMS + 1);
    until = zt_time_mono_ms() + 10000;
    while (pg_count("state = 3") < N_STREAMS + 1 && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(pg_count("state = 3"), N_STREAMS + 1);
    snprintf(cond, sizeof cond, "orch = '%s'", ob_id);
    assert_int_equal(pg_count(cond), N_STREAMS);
    assert_int_equal(pg_count("reason = 'orchestrator_lost'"), 0);
    assert_int_equal(metric_value(ob.port, "zentalk_orchestrator_jobs_continued_total"), N_STREAMS);
    if (!kill_worker) {
        /* each ran once: the workers ran the reference and the streams, no more */
        long long ran_jobs = 0;
        for (int i = 0; i < 2; i++) ran_jobs += metric_value(wk[i].port, "zentalk_inference_jobs_total");
        assert_int_equal(ran_jobs, N_STREAMS + 1);
    } else {
        /* those the dead worker had went on on the other (a second attempt,
         * resumed from the tokens streamed), through the second orchestrator */
        snprintf(cond, sizeof cond, "orch = '%s' AND attempts = 2 AND worker = '%s'", ob_id, wk_id[1]);
        assert_true(pg_count(cond) >= 1);
        assert_int_equal(pg_count("attempts > 2"), 0);
    }
    /* the waiting ones went on at the second: the time from the kill to
     * their placement there */
    long lat[N_STREAMS];
    size_t nl = 0;
    PGconn *c = PQconnectdb(db);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT assigned - %lld FROM sched_jobs WHERE assigned > %lld ORDER BY 1",
             (long long)kill_wall, (long long)kill_wall);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    for (int i = 0; i < PQntuples(r) && nl < N_STREAMS; i++) lat[nl++] = strtol(PQgetvalue(r, i, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    assert_true(nl >= (size_t)wait_at_kill);
    qsort(lat, nl, sizeof lat[0], cmp_long);
    printf("takeover for a remote gateway%s (claim window 2000 ms): kill -> job taken over at the second "
           "orchestrator, %d jobs: p50 %ld ms, p95 %ld ms; kill -> placed on a worker there, the %zu that "
           "waited: p50 %ld ms, p95 %ld ms (bounded by free slots)\n",
           kill_worker ? ", a worker killed too" : "", N_STREAMS, took[N_STREAMS / 2], took[(N_STREAMS * 95 + 99) / 100 - 1], nl, lat[nl / 2],
           lat[(nl * 95 + 99) / 100 - 1]);
    printf("kill -> taken over, each job (ms):");
    for (int k = 0; k < N_STREAMS; k++) printf(" %ld", took[k]);
    printf("\n");
    /* `zentalk jobs` at the second shows them done */
    assert_int_equal(cli_jobs_in_state(cli_bin, ob.url, "done"), N_STREAMS + 1);
    /* the dead one's stream entries: acknowledged once their jobs ended
     * (after the second claimed them) */
    struct zt_queue *q = NULL;
    struct zt_queue_opts qo = {.backend = "redis", .url = redis, .consumer = "test-observer"};
    assert_int_equal(zt_queue_open(&qo, &q), 0);
    size_t entries = 1, pending = 1;
    until = zt_time_mono_ms() + 10000;
    while (zt_queue_depth(q, &entries, &pending) == 0 && entries > 0 && zt_time_mono_ms() < until)
        zt_time_sleep_ms(100);
    assert_int_equal(entries, 0);
    zt_queue_free(q);

    zt_buf_deinit(&ref);
    node_stop(&gw, 20000);
    for (int k = 0; k < 2; k++)
        if (wk[k].pid > 0) node_stop(&wk[k], 20000);
    node_stop(&ob, 20000);
    node_cleanup(&oa);
    rm_rf(oa.dir);
    rm_rf(cfg);
}

static void test_takeover_continues(void **state)
{
    (void)state;
    takeover_run(false);
}

static void test_takeover_worker_dies(void **state)
{
    (void)state;
    takeover_run(true);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_remote_gateway")) return 2;
    cli_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_gateway),
        cmocka_unit_test(test_answer_before_verdict),
        cmocka_unit_test(test_orchestrator_failover),
        cmocka_unit_test(test_orchestrator_restart_queued),
        cmocka_unit_test(test_takeover_continues),
        cmocka_unit_test(test_takeover_worker_dies),
    };
    return zt_test_exit(cmocka_run_group_tests_name("remote_gateway", tests, NULL, NULL));
}
