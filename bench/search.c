/* bench/search.c: private search at scale: index throughput and query
 * latency over N indexed messages.
 *
 *   bench_search [N [USERS [QUERIES [DB]]]]
 *       N        messages indexed (default 100000)
 *       USERS    users they are spread over, round robin (default N / 1000, at least 1)
 *       QUERIES  queries timed after indexing (default 500)
 *       DB       SQLite file (default a fresh file under /tmp, removed at the end)
 *
 * Messages are synthetic: 5..20 words drawn from the 20000 most frequent
 * GloVe words with Zipf weights (xorshift64* with a fixed seed, so runs are
 * comparable). Indexing goes through zt_search_index() in batches of 256
 * per user (one transaction each): tokenising, stemming, keyed hashing, SIF
 * embedding, two XChaCha20-Poly1305 seals, FTS5 and row inserts. Queries
 * are 1..3 words of the same distribution for a random user, with the
 * default features.search settings (candidates 100, scan_limit 20000).
 * Figures only; needs data/assets/glove.zta (make data). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_embed.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_stopwords.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_time.h"

#define VOCAB 20000
#define BATCH 256

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static double cdf[VOCAB];

static size_t zipf_word(void)
{
    double u = (double)(next() >> 11) / 9007199254740992.0;
    size_t lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t make_text(const struct zt_embed *e, size_t words, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < words; i++) {
        size_t wl;
        const char *w = zt_embed_word(e, zipf_word(), &wl);
        if (o + wl + 2 >= cap) break;
        if (o) out[o++] = ' ';
        memcpy(out + o, w, wl);
        o += wl;
    }
    out[o] = '\0';
    return o;
}

/* CPU seconds of this process: on a shared, loaded machine wall time
 * mostly measures the other processes */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static unsigned long arg(int argc, char **argv, int i, unsigned long dflt)
{
    if (argc <= i) return dflt;
    char *end;
    unsigned long v = strtoul(argv[i], &end, 10);
    return *end ? dflt : v;
}

int main(int argc, char **argv)
{
    size_t n = arg(argc, argv, 1, 100000);
    size_t users = arg(argc, argv, 2, n / 1000 ? n / 1000 : 1);
    size_t nq = arg(argc, argv, 3, 500);
    if (n == 0 || users == 0 || nq == 0) {
        fprintf(stderr, "usage: bench_search [N [USERS [QUERIES [DB]]]]\n");
        return 2;
    }
    char path[512], db[600];
    struct zt_embed *e = NULL;
    struct zt_stopwords *sw = NULL;
    if (zt_asset_path(NULL, ZT_EMBED_ASSET, path, sizeof path) || zt_embed_load(path, &e)) {
        fprintf(stderr, "bench_search: %s not installed (run `make data`)\n", ZT_EMBED_ASSET);
        return 1;
    }
    if (zt_asset_path(NULL, ZT_STOPWORDS_ASSET, path, sizeof path) == 0) zt_ignore(zt_stopwords_load(path, &sw));
    if (argc > 4)
        snprintf(db, sizeof db, "%s", argv[4]);
    else
        snprintf(db, sizeof db, "/tmp/zt-bench-search-%ld.db", (long)getpid());
    double h = 0;
    for (size_t i = 0; i < VOCAB; i++) h += 1.0 / (double)(i + 1);
    double acc = 0;
    for (size_t i = 0; i < VOCAB; i++) {
        acc += 1.0 / ((double)(i + 1) * h);
        cdf[i] = acc;
    }
    cdf[VOCAB - 1] = 1.0;
    struct zt_store *st = NULL;
    struct zt_store_opts so = {.path = db, .busy_timeout_ms = 5000};
    if (zt_store_open("sqlite", &so, &st)) {
        fprintf(stderr, "bench_search: cannot open %s\n", db);
        return 1;
    }
    uint8_t secret[32];
    for (size_t i = 0; i < 32; i++) secret[i] = (uint8_t)next();
    struct zt_search_opts o = {.store = st, .embed = e, .stop = sw, .node_secret = secret,
                               .bm25_weight = 1, .vector_weight = 1, .rrf_k = 60,
                               .candidates = 100, .scan_limit = 20000, .min_similarity = 0.3};
    struct zt_search *s = NULL;
    if (zt_search_new(&o, &s)) return 1;

    static char texts[BATCH][512], ids[BATCH][32];
    struct zt_search_msg msgs[BATCH];
    size_t per_user = (n + users - 1) / users, done = 0;
    uint64_t t0 = zt_time_mono_ns();
    double c0 = cpu_s();
    for (size_t u = 0; u < users && done < n; u++) {
        char user[32];
        snprintf(user, sizeof user, "user-%zu", u);
        for (size_t k = 0; k < per_user && done < n;) {
            size_t b = 0;
            while (b < BATCH && k < per_user && done < n) {
                size_t tl = make_text(e, 5 + next() % 16, texts[b], sizeof texts[b]);
                int il = snprintf(ids[b], sizeof ids[b], "m%zu", done);
                msgs[b] = (struct zt_search_msg){ids[b], (size_t)il, texts[b], tl};
                b++, k++, done++;
            }
            int rc = zt_search_index(s, user, msgs, b);
            if (rc) {
                fprintf(stderr, "bench_search: index failed: %s\n", zt_strerror(rc));
                return 1;
            }
        }
        if (users > 1 && (u + 1) % (users / 10 ? users / 10 : 1) == 0)
            fprintf(stderr, "  %zu/%zu messages\n", done, n);
    }
    double idx_s = (double)(zt_time_mono_ns() - t0) / 1e9, idx_cpu = cpu_s() - c0;

    double *lat = zt_calloc(nq, sizeof *lat), *clat = zt_calloc(nq, sizeof *clat);
    size_t hits = 0;
    for (size_t q = 0; q < nq; q++) {
        char user[32], query[128];
        snprintf(user, sizeof user, "user-%zu", (size_t)(next() % users));
        size_t ql = make_text(e, 1 + next() % 3, query, sizeof query);
        struct zt_search_hit *hh = NULL;
        size_t nh = 0;
        uint64_t a = zt_time_mono_ns();
        double ca = cpu_s();
        int rc = zt_search_query(s, user, query, ql, 10, &hh, &nh);
        lat[q] = (double)(zt_time_mono_ns() - a) / 1e6;
        clat[q] = (cpu_s() - ca) * 1e3;
        if (rc) {
            fprintf(stderr, "bench_search: query failed: %s\n", zt_strerror(rc));
            return 1;
        }
        hits += nh;
        zt_search_hits_free(hh, nh);
    }
    qsort(lat, nq, sizeof *lat, cmp_d);
    qsort(clat, nq, sizeof *clat, cmp_d);
    FILE *f = fopen(db, "rb");
    long bytes = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        bytes = ftell(f);
        fclose(f);
    }
    printf("search: N=%zu messages, %zu users (%zu per user), db %.1f MiB (%.0f B/message)\n", n, users,
           per_user, (double)bytes / 1048576.0, (double)bytes / (double)n);
    printf("  index: %.1f s wall, %.1f s CPU: %.0f messages/s wall, %.0f messages per CPU second "
           "(batches of %d, one transaction each)\n",
           idx_s, idx_cpu, (double)n / idx_s, (double)n / idx_cpu, BATCH);
    printf("  query: %zu queries, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, %.1f hits/query\n", nq,
           lat[nq / 2], lat[(nq * 9) / 10], lat[(nq * 99) / 100], lat[nq - 1], (double)hits / (double)nq);
    printf("  query CPU time: p50 %.2f ms, p99 %.2f ms\n", clat[nq / 2], clat[(nq * 99) / 100]);
    zt_free(lat);
    zt_free(clat);
    zt_search_free(s);
    zt_store_close(st);
    zt_stopwords_free(sw);
    zt_embed_free(e);
    if (argc <= 4) {
        unlink(db);
        char p2[640];
        snprintf(p2, sizeof p2, "%s-wal", db);
        unlink(p2);
        snprintf(p2, sizeof p2, "%s-shm", db);
        unlink(p2);
    }
    return 0;
}
