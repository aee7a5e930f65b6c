/* bench/failover.c: the time from a worker's death (SIGKILL) or stall
 * (SIGSTOP, against the gateway's stall deadline) to the client's stream
 * going on, on the loopback network (issue 11 item 4).
 *
 *   bench_failover ZENTALK_NODE MODEL.gguf [runs] [stall_ms]   (default 5, 1000)
 *
 * Starts a gateway G and 2 * runs + 5 workers of MODEL (static peers, the
 * test-only per-token pause ZT_TEST_DELAY_MS=20 so a stream lasts long
 * enough to be cut), takes an uninterrupted SSE completion through G as the
 * reference, then per run: a stream whose serving worker gets SIGKILL after
 * some text, and one whose serving worker gets SIGSTOP (then SIGKILL, so
 * later streams pass over it at once). Measured: signal -> the first piece
 * of text that reaches the client after it (the new worker's first token
 * through G). Prints p50 / p95 per signal, and the attempts G made (its
 * job_attempt log lines: a failed one is a worker that died, stalled or
 * refused); every text must equal the reference (checked). A run whose
 * signalled worker did not serve the stream (G holds a worker that failed
 * one of its attempts lately, e.g. one that stalled on a loaded machine)
 * is not counted and runs again on a spare worker (4 of them). Each node logs
 * to node.log in its directory; on a failure the directories are kept and
 * named. Built with the test harness (tests/integration). */
#include <signal.h>
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

#define MAX_W 45
#define SPARE 4 /* workers for runs measured again (below) */
#define REQ                                                                                                  \
    "{\"model\":\"m\",\"prompt\":\"Once upon a time\",\"seed\":11,\"temperature\":0.8,\"max_tokens\":100," \
    "\"stream\":true}"

struct keyed {
    struct zt_identity *id;
    char dir[256], data[320];
    struct node n;
    bool dead;
    char log_env[400];
};

static struct keyed W[MAX_W], G;
static int n_w;

static void make_keyed(struct keyed *k)
{
    tmp_dir(k->dir, sizeof k->dir, "bench-failover");
    snprintf(k->data, sizeof k->data, "%s/data", k->dir);
    if (mkdir(k->data, 0700) != 0 || zt_identity_generate(&k->id) != 0) exit(1);
    snprintf(k->log_env, sizeof k->log_env, "ZENTALK_LOG_FILE=%s/node.log", k->dir);
    char key[400];
    snprintf(key, sizeof key, "%s/node.key", k->data);
    if (zt_identity_save(k->id, key, NULL, 0, NULL, 0, NULL) != 0) exit(1);
}

struct act {
    int victim, sig;
    size_t min_bytes;
    bool fired;
    uint64_t fired_ns, next_ns;
};

static void on_piece(struct resp *r, void *ud)
{
    struct act *a = ud;
    uint64_t now = zt_time_mono_ns();
    if (!a->fired && a->victim >= 0 && r->body.len >= a->min_bytes) {
        a->fired = true;
        a->fired_ns = zt_time_mono_ns();
        kill(W[a->victim].n.pid, a->sig);
    } else if (a->fired && !a->next_ns && now - a->fired_ns > 3000000) {
        a->next_ns = now; /* text again, beyond what was in flight at the signal */
    }
}

/* Stop at a failure: the nodes' directories (and logs) are kept. */
static _Noreturn void give_up(void)
{
    fprintf(stderr, "the gateway's log: %s/node.log; kept (each with its node.log):", G.dir);
    for (int i = 0; i < n_w; i++) fprintf(stderr, " %s", W[i].dir);
    fprintf(stderr, " %s\n", G.dir);
    exit(1);
}

/* An SSE completion through G: its text, and the worker it ran on. */
static int stream(struct act *a, struct zt_buf *text)
{
    struct resp r;
    struct http_opts o = {.ctype = "application/json", .body = REQ, .on_body = on_piece, .ud = a,
                          .timeout_ms = 300000};
    if (http_req(G.n.port, "POST", "/v1/completions", &o, &r) != 0 || r.status != 200) {
        fprintf(stderr, "stream failed: %ld %.400s\n", r.status, r.body.data ? zt_buf_str(&r.body) : "");
        give_up();
    }
    int ran = -1;
    const char *s = zt_buf_str(&r.body);
    for (const char *p = strstr(s, "data: "); p; p = strstr(p, "data: ")) {
        p += 6;
        const char *e = strstr(p, "\n\n");
        if (!e || strncmp(p, "[DONE]", 6) == 0) break;
        json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL);
        if (!j || json_object_get(j, "error")) {
            fprintf(stderr, "error event: %.*s\n", (int)(e - p), p);
            give_up();
        }
        const char *t = json_string_value(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "text"));
        if (t) zt_ignore(zt_buf_append_str(text, t));
        const char *on = json_string_value(json_object_get(json_object_get(j, "zentalk"), "ran_on"));
        for (int i = 0; on && i < n_w; i++)
            if (strcmp(on, zt_identity_id(W[i].id)) == 0) ran = i;
        json_decref(j);
        p = e;
    }
    resp_free(&r);
    return ran;
}

/* Whether G's log, since the last call, has a failed attempt of node_id:
 * the signalled worker was serving the stream. (G holds a worker that
 * failed one of its attempts lately, zt_peers_note, e.g. one that stalled
 * on a loaded machine, so the stream may have gone to another one.) */
static bool failed_since(const char *node_id)
{
    static long off;
    char path[400];
    snprintf(path, sizeof path, "%s/node.log", G.dir);
    FILE *f = fopen(path, "r");
    if (!f) return true; /* no log: cannot tell */
    bool seen = false;
    char line[2048];
    if (fseek(f, off, SEEK_SET) == 0)
        while (fgets(line, sizeof line, f))
            if (strstr(line, "job_attempt") && strstr(line, node_id) && !strstr(line, "outcome=ok")) seen = true;
    off = ftell(f);
    fclose(f);
    return seen;
}

/* The attempts in G's log: how many, and how many failed. */
static void count_attempts(int jobs)
{
    char path[400];
    snprintf(path, sizeof path, "%s/node.log", G.dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[2048];
    int all = 0, failed = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "job_attempt")) {
            all++;
            failed += strstr(line, "outcome=ok") == NULL;
        }
    fclose(f);
    printf("gateway: %d jobs, %d worker attempts, %d of them failed (2 per run are the signalled workers)\n", jobs,
           all, failed);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, int n)
{
    qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
    int i95 = (95 * n + 99) / 100 - 1;
    printf("%-8s %d runs: p50 %.1f ms, p95 %.1f ms (min %.1f, max %.1f)\n", what, n, (double)ns[n / 2] / 1e6,
           (double)ns[i95 < 0 ? 0 : i95] / 1e6, (double)ns[0] / 1e6, (double)ns[n - 1] / 1e6);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_failover ZENTALK_NODE MODEL.gguf [runs] [stall_ms]\n");
        return 2;
    }
    node_bin = argv[1];
    int runs = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5;
    int stall = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 1000;
    if (runs < 1 || 2 * runs + 1 + SPARE > MAX_W) return 2;
    n_w = 2 * runs + 1 + SPARE;
    make_keyed(&G);
    int64_t exp = zt_time_real_ms() / 1000 + 3600;
    const char *roles[] = {"gateway"};
    char *dg = NULL;
    if (zt_identity_descriptor(G.id, roles, 1, NULL, 0, "http://127.0.0.1:1", exp, &dg) != 0) return 1;
    char yaml[1600];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: m\n"
             "models:\n  - id: m\n    path: %s\n    context_size: 512\n    max_tokens: 100\n",
             argv[2]);
    char **gp = zt_calloc((size_t)n_w, sizeof *gp);
    for (int i = 0; i < n_w; i++) {
        make_keyed(&W[i]);
        put_json_array(W[i].data, "peers.json", &dg, 1);
        put_file(W[i].dir, "models.yaml", yaml);
        put_file(W[i].dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
        const char *const wargs[] = {"--config", W[i].dir, NULL};
        const char *const wenv[] = {"ZENTALK_ENCRYPTION_SEALED_JOBS_CALLERS=peer", "ZT_TEST_MODE=1",
                                    "ZT_TEST_DELAY_MS=20", W[i].log_env, NULL};
        node_spawn(&W[i].n, wargs, wenv, true, W[i].dir);
        struct resp d;
        http(W[i].n.port, "GET", "/v1/node/descriptor", NULL, NULL, &d);
        gp[i] = zt_strdup(zt_buf_str(&d.body));
        resp_free(&d);
    }
    put_json_array(G.data, "peers.json", gp, (size_t)n_w);
    char stall_env[64];
    snprintf(stall_env, sizeof stall_env, "ZENTALK_ENCRYPTION_REMOTE_STALL_MS=%d", stall);
    const char *const gargs[] = {"--config", G.dir, NULL};
    const char *const genv[] = {stall_env, "ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=3", G.log_env, NULL};
    node_spawn(&G.n, gargs, genv, true, G.dir);

    struct zt_buf ref;
    zt_buf_init(&ref, 1 << 20);
    struct act none = {.victim = -1};
    int serving = stream(&none, &ref);
    (void)failed_since("");
    uint64_t kill_ns[20], stop_ns[20];
    int again = 0;
    for (int k = 0; k < runs; k++) {
        for (int s = 0; s < 2; s++) {
            struct act a = {.victim = serving, .sig = s ? SIGSTOP : SIGKILL, .min_bytes = 800};
            struct zt_buf text;
            zt_buf_init(&text, 1 << 20);
            int ran = stream(&a, &text);
            if (!a.fired || !a.next_ns || text.len != ref.len || memcmp(text.data, ref.data, ref.len) != 0 ||
                ran == serving) {
                fprintf(stderr, "run %d: the stream did not resume as one identical text\n", k);
                give_up();
            }
            bool was_serving = failed_since(zt_identity_id(W[serving].id));
            if (s) kill(W[serving].n.pid, SIGKILL); /* passed over at once from now on */
            W[serving].dead = true;
            zt_buf_deinit(&text);
            if (!was_serving) { /* no failover was measured: this run again */
                fprintf(stderr, "run %d: the signalled worker was not serving the stream (G held it); again\n", k);
                if (++again > SPARE) give_up();
                serving = ran;
                s--;
                continue;
            }
            (s ? stop_ns : kill_ns)[k] = a.next_ns - a.fired_ns;
            serving = ran;
        }
    }
    printf("failover on loopback, model %s, %d workers, per-token pause 20 ms, stall deadline %d ms\n", argv[2], n_w,
           stall);
    report("SIGKILL", kill_ns, runs);
    report("SIGSTOP", stop_ns, runs);
    printf("(SIGSTOP includes the stall deadline; signal -> first text at the client after it)\n");
    count_attempts(1 + 2 * runs + again);
    if (again) printf("%d run(s) measured again: the signalled worker was not serving the stream\n", again);
    for (int i = 0; i < n_w; i++) {
        node_cleanup(&W[i].n);
        zt_identity_free(W[i].id);
        rm_rf(W[i].dir);
        zt_free(gp[i]);
    }
    node_cleanup(&G.n);
    zt_identity_free(G.id);
    rm_rf(G.dir);
    zt_free(gp);
    zt_free(dg);
    zt_buf_deinit(&ref);
    return 0;
}
