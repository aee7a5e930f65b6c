/* bench/rcache.c: the gateway's result cache, hit latency with the
 * receipt (issue 18 item 3; target: under 5 ms p50), on loopback.
 *
 *   bench_rcache ZENTALK_NODE MODEL.gguf [hits] [backend] [redis_url]   (default 200, memory)
 *
 * Starts a worker W of MODEL and a gateway G (W as its static peer, the
 * cache with re-verification off, API tokens: one user). Per round: a new question (another
 * seed) runs on W (a miss: timed as the reference), then the same
 * question is asked `hits` times (hits: each answered from the cache with
 * W's receipt and G's cache receipt, checked to be a hit). Times are the
 * client's: request sent to the whole answer read, over HTTP on loopback,
 * one connection per request (curl). Prints p50 / p95 of hits (JSON and
 * SSE) and of misses. Built with the test harness (tests/integration). */
#include <jwt.h>
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

#define ROUNDS 5

struct keyed {
    struct zt_identity *id;
    char dir[256], data[320];
    struct node n;
};

static struct keyed W, G;
static char auth[1024];
#define SECRET "bench-rcache-secret-0123456789abcdef"

/* An API token for user "bench" (HS256 under G's encryption.jwt_secret):
 * the cache keeps entries per identity. */
static int mint(void)
{
    jwt_t *j = NULL;
    if (jwt_new(&j) != 0) return 1;
    int rc = jwt_add_grant(j, "sub", "bench") || jwt_add_grant(j, "role", "user") ||
             jwt_add_grant(j, "iss", "zentalk-api") || jwt_add_grant(j, "aud", "zentalk-ai") ||
             jwt_add_grant_int(j, "exp", (long)(zt_time_real_ms() / 1000) + 36000) ||
             jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET));
    char *t = rc ? NULL : jwt_encode_str(j);
    if (t) snprintf(auth, sizeof auth, "Bearer %s", t);
    free(t);
    jwt_free(j);
    return t ? 0 : 1;
}

static void make_keyed(struct keyed *k)
{
    tmp_dir(k->dir, sizeof k->dir, "bench-rcache");
    snprintf(k->data, sizeof k->data, "%s/data", k->dir);
    if (mkdir(k->data, 0700) != 0 || zt_identity_generate(&k->id) != 0) exit(1);
    char key[400];
    snprintf(key, sizeof key, "%s/node.key", k->data);
    if (zt_identity_save(k->id, key, NULL, 0, NULL, 0, NULL) != 0) exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *us, size_t n)
{
    if (!n) return;
    qsort(us, n, sizeof *us, cmp_u64);
    printf("%-22s n=%-5zu p50 %8.3f ms   p95 %8.3f ms\n", what, n, (double)us[n / 2] / 1000.0,
           (double)us[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1] / 1000.0);
}

/* One request; its time in microseconds; 0 on a wrong answer. */
static uint64_t timed(const char *body, const char *want)
{
    struct resp r;
    uint64_t t0 = zt_time_mono_ns();
    http_auth(G.n.port, "POST", "/v1/chat/completions", auth, "application/json", body, &r);
    uint64_t us = (zt_time_mono_ns() - t0) / 1000;
    bool ok = r.status == 200 && strstr(zt_buf_str(&r.body), want) && strstr(zt_buf_str(&r.body), "\"receipt\"");
    if (!ok) fprintf(stderr, "unexpected answer %ld: %.300s\n", r.status, zt_buf_str(&r.body));
    resp_free(&r);
    return ok ? (us ? us : 1) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_rcache ZENTALK_NODE MODEL.gguf [hits] [memory|redis] [redis_url]\n");
        return 2;
    }
    node_bin = argv[1];
    long hits = argc > 3 ? strtol(argv[3], NULL, 10) : 200;
    const char *backend = argc > 4 ? argv[4] : "memory";
    if (hits < 1 || hits > 100000) return 2;
    make_keyed(&W);
    make_keyed(&G);
    int64_t exp = zt_time_real_ms() / 1000 + 3600;
    const char *roles[] = {"gateway"};
    char *dg = NULL;
    if (zt_identity_descriptor(G.id, roles, 1, NULL, 0, "http://127.0.0.1:1", exp, &dg) != 0) return 1;
    put_json_array(W.data, "peers.json", &dg, 1);
    zt_free(dg);
    char yaml[1600];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: m\n"
             "models:\n  - id: m\n    path: %s\n    context_size: 512\n    max_tokens: 64\n",
             argv[2]);
    put_file(W.dir, "models.yaml", yaml);
    put_file(W.dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
    const char *const wargs[] = {"--config", W.dir, NULL};
    static const char *const wenv[] = {"ZENTALK_ENCRYPTION_SEALED_JOBS_CALLERS=peer", NULL};
    node_spawn(&W.n, wargs, wenv, true, W.dir);
    struct resp d;
    http(W.n.port, "GET", "/v1/node/descriptor", NULL, NULL, &d);
    char *dw = zt_strdup(zt_buf_str(&d.body));
    resp_free(&d);
    put_json_array(G.data, "peers.json", &dw, 1);
    zt_free(dw);
    char be[64], url[300];
    snprintf(be, sizeof be, "ZENTALK_DATABASE_RESULT_CACHE=%s", backend);
    snprintf(url, sizeof url, "ZENTALK_DATABASE_REDIS_URL=%s", argc > 5 ? argv[5] : "");
    const char *const genv[] = {be, url, "ZENTALK_DATABASE_RESULT_CACHE_VERIFY_PERMILLE=0",
                                "ZENTALK_SERVER_RATE_LIMIT_RPS=100000", "ZENTALK_SERVER_RATE_LIMIT_BURST=100000", NULL};
    put_file(G.dir, "encryption.yaml", "encryption:\n  jwt_secret: \"" SECRET "\"\n");
    const char *const gargs[] = {"--config", G.dir, NULL};
    node_spawn(&G.n, gargs, genv, true, G.dir);
    if (mint() != 0) return 1;

    uint64_t *hit_json = zt_calloc((size_t)hits * ROUNDS, sizeof *hit_json);
    uint64_t *hit_sse = zt_calloc((size_t)hits * ROUNDS, sizeof *hit_sse);
    uint64_t miss[ROUNDS];
    size_t nj = 0, ns = 0, nm = 0;
    int rc = 0;
    for (int round = 0; round < ROUNDS && !rc; round++) {
        char body[512], sbody[512];
        snprintf(body, sizeof body,
                 "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                 "\"max_tokens\":64,\"seed\":%d}", 100 + round);
        snprintf(sbody, sizeof sbody,
                 "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                 "\"max_tokens\":64,\"seed\":%d,\"stream\":true}", 100 + round);
        uint64_t t = timed(body, "\"verification\":\"receipt\"");
        if (!t) rc = 1;
        else miss[nm++] = t;
        for (long i = 0; i < hits && !rc; i++) {
            uint64_t h = timed(i % 2 ? sbody : body, "\"verification\":\"cache\"");
            if (!h) rc = 1;
            else if (i % 2) hit_sse[ns++] = h;
            else hit_json[nj++] = h;
        }
    }
    printf("bench_rcache: backend %s, %d rounds, %ld hits per round (loopback, curl, a connection per request)\n",
           backend, ROUNDS, hits);
    report("miss (worker runs it)", miss, nm);
    report("hit, JSON", hit_json, nj);
    report("hit, SSE", hit_sse, ns);
    printf("zentalk_result_cache_total{result=\"hit\"} %lld\n",
           metric_value(G.n.port, "zentalk_result_cache_total{result=\"hit\"}"));
    zt_free(hit_json);
    zt_free(hit_sse);
    node_cleanup(&G.n);
    node_cleanup(&W.n);
    rm_rf(G.dir);
    rm_rf(W.dir);
    zt_identity_free(G.id);
    zt_identity_free(W.id);
    return rc;
}
