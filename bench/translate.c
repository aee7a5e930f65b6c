/* bench/translate.c: translation throughput through one long-lived Apertium
 * pipeline (zt_translate.h), i.e. about one core's worth of Apertium: the
 * stages of a pipeline run as separate processes, but each message passes
 * through them one after another.
 *
 *   bench_translate [messages] [pair]     (default 500, eng-spa)
 *
 * Prints messages/s and the latency percentiles over short chat-like
 * messages (4 to 16 words), after one warm-up message that starts the
 * pipeline (its start-up time is printed apart). Figures only. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_translate.h"

static const char *const MSGS[] = {
    "The house is big.",
    "I will be late for dinner tonight, sorry.",
    "Can you send me the photos from the weekend?",
    "The meeting moved to Thursday at ten in the morning.",
    "My dog ate my homework again.",
    "We need more milk, bread and eggs.",
    "Happy birthday! I hope you have a wonderful day with your family.",
    "Where did you park the car?",
};
#define N_MSGS (sizeof MSGS / sizeof MSGS[0])

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    uint64_t n = 500;
    if (argc > 1 && (zt_str_to_u64(argv[1], &n) != 0 || n == 0 || n > 10000000)) {
        fprintf(stderr, "usage: bench_translate [messages] [pair]\n");
        return 2;
    }
    const char *pair = argc > 2 ? argv[2] : "eng-spa";
    if (strlen(pair) != 7 || pair[3] != '-') {
        fprintf(stderr, "bench_translate: pair is like eng-spa\n");
        return 2;
    }
    char src[4], dst[4];
    memcpy(src, pair, 3);
    src[3] = '\0';
    memcpy(dst, pair + 4, 3);
    dst[3] = '\0';
    struct zt_translate_opts o = {.pipelines = 1};
    struct zt_translate *t = NULL;
    if (zt_translate_new(&o, &t) != 0 || !zt_translate_has_pair(t, src, dst)) {
        printf("bench_translate: skipped: Apertium pair %s is not installed\n", pair);
        zt_translate_free(t);
        return 0;
    }
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    uint64_t t0 = zt_time_mono_ns();
    int rc = zt_translate_text(t, src, dst, "Hello.", 6, false, &out);
    uint64_t start_ns = zt_time_mono_ns() - t0;
    if (rc) {
        fprintf(stderr, "bench_translate: first translation failed: %s\n", zt_strerror(rc));
        return 1;
    }
    uint64_t *lat = zt_calloc(n, sizeof *lat);
    if (!lat) return 1;
    size_t bytes = 0;
    t0 = zt_time_mono_ns();
    for (uint64_t i = 0; i < n; i++) {
        const char *m = MSGS[i % N_MSGS];
        zt_buf_reset(&out);
        uint64_t a = zt_time_mono_ns();
        rc = zt_translate_text(t, src, dst, m, strlen(m), false, &out);
        lat[i] = zt_time_mono_ns() - a;
        if (rc) {
            fprintf(stderr, "bench_translate: message %llu failed: %s\n", (unsigned long long)i, zt_strerror(rc));
            return 1;
        }
        bytes += strlen(m);
    }
    double secs = (double)(zt_time_mono_ns() - t0) / 1e9;
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("pair %s, 1 pipeline: pipeline start + first message %.1f ms\n", pair, (double)start_ns / 1e6);
    printf("%llu messages in %.2f s: %.0f messages/s, %.1f KB/s of input\n", (unsigned long long)n, secs,
           (double)n / secs, (double)bytes / secs / 1e3);
    printf("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms\n", (double)lat[n / 2] / 1e6,
           (double)lat[n * 9 / 10] / 1e6, (double)lat[n * 99 / 100] / 1e6);
    zt_free(lat);
    zt_buf_deinit(&out);
    zt_translate_free(t);
    return 0;
}
