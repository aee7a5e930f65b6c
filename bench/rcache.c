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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "keyed.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define ROUNDS 5

static struct keyed_node W, G;
static char auth[1024];
#define SECRET "bench-rcache-secret-0123456789abcdef"

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
    keyed_make(&W, "bench-rcache");
    keyed_make(&G, "bench-rcache");
    struct keyed_node *gs[] = {&G};
    char *dw = keyed_tiny_worker(&W, argv[2], "m", gs, 1, 64);
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
    keyed_bearer(SECRET, "bench", auth, sizeof auth);

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
    keyed_free(&G);
    keyed_free(&W);
    return rc;
}
