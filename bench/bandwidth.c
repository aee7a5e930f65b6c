/* bench/bandwidth.c: streaming read bandwidth, the limit of token generation
 * (issue 13 item 3).
 *
 *   bench_bandwidth [-m MODEL.gguf | -s MiB] [-t THREADS] [-r REPS] [--4k]
 *
 * Reads a buffer the size of the weights one generated token reads (with
 * -m: every tensor of the model but token_embd; default 512 MiB) with the
 * widest loads this CPU has (AVX-512, else AVX2, else 8-byte words) and
 * software prefetch 2 KiB ahead, split over THREADS threads (default 1),
 * best of REPS (default 6) passes, over transparent huge pages as the
 * engine's packed weights (--4k: 4 KiB pages). Prints GB/s and the
 * tokens/s ceiling that bandwidth puts on generation. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define PREFETCH_AHEAD 2048
#define PREFETCH_AHEAD_PAD (PREFETCH_AHEAD + 256) /* prefetches past the end stay inside */

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint8_t *p, size_t n)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        _mm_prefetch((const char *)p + i + PREFETCH_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)p + i + PREFETCH_AHEAD + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)p + i + PREFETCH_AHEAD + 128, _MM_HINT_T0);
        _mm_prefetch((const char *)p + i + PREFETCH_AHEAD + 192, _MM_HINT_T0);
        a0 = _mm512_xor_si512(a0, _mm512_load_si512((const void *)(p + i)));
        a1 = _mm512_xor_si512(a1, _mm512_load_si512((const void *)(p + i + 64)));
        a2 = _mm512_xor_si512(a2, _mm512_load_si512((const void *)(p + i + 128)));
        a3 = _mm512_xor_si512(a3, _mm512_load_si512((const void *)(p + i + 192)));
    }
    a0 = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
    uint64_t out[8];
    _mm512_storeu_si512((void *)out, a0);
    return out[0] ^ out[7];
}

__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        _mm_prefetch((const char *)p + i + PREFETCH_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)p + i + PREFETCH_AHEAD + 64, _MM_HINT_T0);
        a0 = _mm256_xor_si256(a0, _mm256_load_si256((const __m256i *)(const void *)(p + i)));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256((const __m256i *)(const void *)(p + i + 32)));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256((const __m256i *)(const void *)(p + i + 64)));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256((const __m256i *)(const void *)(p + i + 96)));
    }
    a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    return (uint64_t)_mm256_extract_epi64(a0, 0) ^ (uint64_t)_mm256_extract_epi64(a0, 3);
}
#endif

static uint64_t read_words(const uint8_t *p, size_t n)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    uint64_t a = 0, b = 0;
    for (size_t i = 0; i + 2 <= n / 8; i += 2) {
        a ^= w[i];
        b ^= w[i + 1];
    }
    return a ^ b;
}

typedef uint64_t (*read_fn)(const uint8_t *p, size_t n);

struct part {
    read_fn fn;
    const uint8_t *p;
    size_t n;
    uint64_t sink;
};

static void *run_part(void *arg)
{
    struct part *pt = arg;
    pt->sink = pt->fn(pt->p, pt->n);
    return NULL;
}

/* Bytes of every tensor but token_embd (what one generated token reads). */
static int weights_per_token(const char *path, size_t *out)
{
    struct zt_gguf *g = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 256);
    int rc = zt_gguf_open(path, &g, &err);
    zt_buf_deinit(&err);
    if (rc != 0) return -1;
    static const char embd[] = "token_embd.weight";
    size_t total = 0;
    for (int64_t i = 0; i < zt_gguf_n_tensors(g); i++) {
        const struct zt_gguf_tensor *t = zt_gguf_tensor(g, i);
        bool is_embd = t->name.len == sizeof embd - 1 && memcmp(t->name.ptr, embd, sizeof embd - 1) == 0;
        if (!is_embd) total += (size_t)t->size;
    }
    zt_gguf_close(g);
    *out = total;
    return 0;
}

int main(int argc, char **argv)
{
    size_t bytes = (size_t)512 << 20;
    unsigned threads = 1, reps = 6;
    bool small_pages = false;
    for (int i = 1; i < argc; i += 2) {
        int64_t v = 0;
        if (!strcmp(argv[i], "--4k")) {
            small_pages = true;
            i--;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_bandwidth: %s needs a value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "-m")) {
            if (weights_per_token(argv[i + 1], &bytes) != 0) {
                fprintf(stderr, "bench_bandwidth: cannot read %s\n", argv[i + 1]);
                return 1;
            }
            continue;
        }
        if (zt_str_to_i64(argv[i + 1], &v) != 0 || v < 1 || v > 1000000) {
            fprintf(stderr, "bench_bandwidth: bad value for %s\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "-s")) bytes = (size_t)v << 20;
        else if (!strcmp(argv[i], "-t")) threads = v > 256 ? 256 : (unsigned)v;
        else if (!strcmp(argv[i], "-r")) reps = (unsigned)v;
        else {
            fprintf(stderr, "usage: bench_bandwidth [-m MODEL.gguf | -s MiB] [-t THREADS] [-r REPS] [--4k]\n");
            return 2;
        }
    }
    read_fn fn = read_words;
    const char *kind = "64-bit";
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        fn = read_avx512;
        kind = "avx512";
    } else if (__builtin_cpu_supports("avx2")) {
        fn = read_avx2;
        kind = "avx2";
    }
#endif
    bytes = (bytes + 255) & ~(size_t)255;
    /* on 2 MiB boundaries with transparent huge pages, as the engine's
     * packed weights (quant_pack.c): the best the machine streams (in a VM
     * a 4 KiB TLB miss is a two-level walk); --4k: plain pages */
    size_t huge = (size_t)2 << 20, total = (bytes + PREFETCH_AHEAD_PAD + huge - 1) / huge * huge;
    uint8_t *buf = aligned_alloc(huge, total);
    if (!buf) return 1;
#ifdef MADV_HUGEPAGE
    if (!small_pages) (void)madvise(buf, total, MADV_HUGEPAGE);
#endif
    memset(buf, 1, bytes + PREFETCH_AHEAD_PAD); /* touch every page */
    struct part *parts = calloc(threads, sizeof *parts);
    pthread_t *tids = calloc(threads, sizeof *tids);
    if (!parts || !tids) return 1;
    size_t per = (bytes / threads) & ~(size_t)255;
    double best = 0;
    uint64_t sink = 0;
    for (unsigned r = 0; r < reps; r++) {
        uint64_t t0 = zt_time_mono_ns();
        for (unsigned k = 0; k < threads; k++) {
            parts[k] = (struct part){fn, buf + k * per, k + 1 == threads ? bytes - k * per : per, 0};
            if (k && pthread_create(&tids[k], NULL, run_part, &parts[k]) != 0) return 1;
        }
        run_part(&parts[0]);
        for (unsigned k = 1; k < threads; k++) pthread_join(tids[k], NULL);
        double s = (double)(zt_time_mono_ns() - t0) / 1e9;
        for (unsigned k = 0; k < threads; k++) sink ^= parts[k].sink;
        if ((double)bytes / s > best) best = (double)bytes / s;
    }
    printf("read %.1f MiB (%s) with %s loads, prefetch %d B ahead, %u thread(s), best of %u: %.2f GB/s "
           "(generation ceiling %.1f tokens/s) [%llx]\n",
           (double)bytes / 1048576.0, small_pages ? "4 KiB pages" : "huge pages", kind, PREFETCH_AHEAD, threads,
           reps, best / 1e9, best / (double)bytes,
           (unsigned long long)(sink & 0xf));
    free(parts);
    free(tids);
    free(buf);
    return 0;
}
