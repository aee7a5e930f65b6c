/* bench/http_client.c: the outbound HTTP client against a local server.
 *
 *   bench_http_client [requests] [threads]   (default 2000 requests, 1 and 8 threads)
 *
 * Starts the project's own HTTP server (zt_http.h, libmicrohttpd) on
 * 127.0.0.1 with a handler that answers GET /small with 16 bytes of JSON and
 * GET /big with 256 KiB, then sends `requests` requests from 1 and from N
 * caller threads, two ways, in the same run:
 *   easy-per-request  curl_easy_init/perform/cleanup for every request (a
 *                     new connection each time: what the CLI, the job client
 *                     and the relay each did before zt_http_client)
 *   zt_http_client    the pool (zt_http_client_do; a slot's connection is
 *                     kept and reused), with max_inflight = threads
 * Prints requests/s and latency p50/p99 per way. Figures only: nothing is
 * asserted (docs/internals/http_client.md quotes a run). */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_time.h"

static char big_body[256 * 1024];

static void handler(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    (void)ud;
    const char *path = zt_http_req_path(req);
    resp->status = 200;
    int rc = strcmp(path, "/big") == 0 ? zt_buf_append(&resp->body, big_body, sizeof big_body)
                                       : zt_buf_append_str(&resp->body, "{\"ok\":true,\"n\":1}");
    if (rc != 0) resp->status = 500;
}

enum way { WAY_EASY, WAY_CLIENT };

struct job {
    enum way way;
    struct zt_http_client *client;
    const char *url;
    unsigned n;
    uint64_t *lat_ns; /* n of them */
    unsigned failures;
};

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static int sink_body(void *ud, const void *p, size_t n)
{
    (void)ud;
    (void)p;
    (void)n;
    return 0;
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    for (unsigned i = 0; i < j->n; i++) {
        uint64_t t0 = zt_time_mono_ns();
        bool ok;
        if (j->way == WAY_EASY) {
            CURL *c = curl_easy_init();
            long status = 0;
            ok = c != NULL;
            if (c) {
                curl_easy_setopt(c, CURLOPT_URL, j->url);
                curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
                curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
                curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
                ok = curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
                     status == 200;
                curl_easy_cleanup(c);
            }
        } else {
            struct zt_http_request req = {.url = j->url, .timeout_ms = 10000, .on_body = sink_body};
            ok = zt_http_client_do(j->client, &req, &resp) == 0 && resp.status == 200;
        }
        j->lat_ns[i] = zt_time_mono_ns() - t0;
        if (!ok) j->failures++;
    }
    zt_http_response_deinit(&resp);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench(enum way way, const char *url, const char *label, unsigned total, unsigned threads)
{
    struct zt_http_client *client = NULL;
    if (way == WAY_CLIENT) {
        struct zt_http_client_opts o = {.max_inflight = threads};
        if (zt_http_client_new(&o, &client) != 0) {
            fprintf(stderr, "bench: cannot make the client\n");
            exit(1);
        }
    }
    unsigned per = total / threads;
    uint64_t *lat = zt_calloc((size_t)per * threads, sizeof *lat);
    struct job *jobs = zt_calloc(threads, sizeof *jobs);
    pthread_t *tid = zt_calloc(threads, sizeof *tid);
    if (!lat || !jobs || !tid) exit(1);
    uint64_t t0 = zt_time_mono_ns();
    for (unsigned i = 0; i < threads; i++) {
        jobs[i] = (struct job){.way = way, .client = client, .url = url, .n = per, .lat_ns = lat + (size_t)i * per};
        if (pthread_create(&tid[i], NULL, run_job, &jobs[i]) != 0) exit(1);
    }
    unsigned failures = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        failures += jobs[i].failures;
    }
    double secs = (double)(zt_time_mono_ns() - t0) / 1e9;
    size_t n = (size_t)per * threads;
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("%-18s %-6s %2u threads  %8.0f req/s  p50 %7.1f us  p99 %7.1f us%s\n",
           way == WAY_EASY ? "easy-per-request" : "zt_http_client", label, threads, (double)n / secs,
           (double)lat[n / 2] / 1e3, (double)lat[n * 99 / 100] / 1e3, failures ? "  (FAILURES)" : "");
    if (failures) printf("  %u of %zu requests failed\n", failures, n);
    zt_free(lat);
    zt_free(jobs);
    zt_free(tid);
    zt_http_client_free(client);
}

int main(int argc, char **argv)
{
    unsigned total = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000;
    unsigned nthreads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 8;
    if (total == 0 || nthreads == 0 || nthreads > 256) {
        fprintf(stderr, "usage: bench_http_client [requests] [threads]\n");
        return 2;
    }
    json_set_alloc_funcs(zt_malloc, zt_free);
    if (zt_net_client_global_init() != 0) return 1;
    memset(big_body, 'x', sizeof big_body);
    struct zt_http_opts o = {
        .host = "127.0.0.1",
        .threads = 4,
        .max_connections = 1024,
        .max_header_bytes = 16384,
        .max_body_bytes = 1 << 20,
        .timeout_s = 30,
        .handler = handler,
    };
    struct zt_http_server *srv = NULL;
    if (zt_http_start(&o, &srv) != 0) {
        fprintf(stderr, "bench: cannot start the server\n");
        return 1;
    }
    char small[128], big[128];
    snprintf(small, sizeof small, "http://127.0.0.1:%u/small", (unsigned)zt_http_port(srv));
    snprintf(big, sizeof big, "http://127.0.0.1:%u/big", (unsigned)zt_http_port(srv));
    printf("bench_http_client: %u requests per row, server zt_http (libmicrohttpd, 4 threads), %s\n", total,
           curl_version());
    unsigned thread_counts[2] = {1, nthreads};
    for (unsigned t = 0; t < (nthreads == 1 ? 1u : 2u); t++) {
        for (int w = 0; w < 2; w++) bench((enum way)w, small, "16 B", total, thread_counts[t]);
        for (int w = 0; w < 2; w++) bench((enum way)w, big, "256 KiB", total / 4, thread_counts[t]);
    }
    zt_http_stop(srv);
    zt_net_client_global_cleanup();
    return 0;
}
