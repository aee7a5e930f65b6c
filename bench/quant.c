/* bench/quant.c: single-threaded matrix-vector / matrix-matrix speed of the
 * dot-product kernels (src/engine/quant*.c) for every weight type and every
 * ISA path this CPU runs.
 *
 * Prints, per (type, isa, shape, batch): weight GB/s (bytes of W streamed
 * per second: the figure that bounds token generation) and GFLOP/s
 * (2 * rows * n * batch per call). W is larger than L2 for the big shape,
 * so batch 1 there is a memory-bandwidth test, like generation.
 *
 * Without an isa filter, also the packed layout (zt_quant_pack) on the
 * AVX512-VNNI path where the CPU has it, batch 1..16; the filter "packed"
 * runs only that.
 *
 * usage: bench_quant [seconds_per_case (default 0.3)] [isa name filter]
 * env: ZT_BENCH_CPU_TIME=1 (thread CPU time, not wall time), ZT_BENCH_BATCH=B
 * (the second batch size, 1..64, default 16), ZT_BENCH_TYPES=Q8_0,Q4_0 (only
 * these weight types; default all) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_quant.h"

/* ZT_BENCH_CPU_TIME=1 times by the thread's CPU time instead of the wall
 * clock: on a shared, loaded machine the time the thread waited for a core
 * then does not count (comparisons of kernels, not of machines) */
static clockid_t g_clock = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec ts;
    clock_gettime(g_clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x243f6a8885a308d3ull;

static float rnd(void) /* roughly N(0, 1): sum of uniforms */
{
    float s = 0.0f;
    for (int i = 0; i < 4; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        s += (float)(rng >> 40) * 0x1p-24f - 0.5f;
    }
    return s * 1.7f;
}

static const enum zt_ggml_type types[] = {ZT_GGML_F32,  ZT_GGML_F16,  ZT_GGML_BF16, ZT_GGML_Q8_0,
                                          ZT_GGML_Q4_0, ZT_GGML_Q4_K, ZT_GGML_Q6_K};
static const char *const type_names[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"};
static const char *const isa_names[ZT_QUANT_ISA_COUNT] = {"scalar", "avx2", "avx512", "avx512vnni", "avx512bf16"};

/* name is one of the comma-separated entries of list */
static bool type_listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == len && strncmp(p, name, len) == 0)
            return true;
        p += l + (e ? 1 : 0);
    }
    return false;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 0.3;
    const char *isa_filter = argc > 2 ? argv[2] : NULL;
    static const size_t shapes[][2] = {{2048, 768}, {4096, 4096}}; /* rows, n */
    size_t batches[] = {1, 16};
    const char *ct = getenv("ZT_BENCH_CPU_TIME"), *bb = getenv("ZT_BENCH_BATCH");
    if (ct && ct[0] == '1')
        g_clock = CLOCK_THREAD_CPUTIME_ID;
    unsigned long bv = bb ? strtoul(bb, NULL, 10) : 0;
    if (bv >= 1 && bv <= 64) /* the second batch size (default 16) */
        batches[1] = (size_t)bv;
    if (zt_quant_init() != 0)
        fprintf(stderr, "zt_quant_init: ZT_CPU refused, using scalar\n");
    printf("%-5s %-10s %11s %5s %10s %9s %10s\n", "type", "isa", "rows x n", "batch", "ms/call",
           "W GB/s", "GFLOP/s");
    const char *tf = getenv("ZT_BENCH_TYPES");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        enum zt_ggml_type t = types[ti];
        if (tf && !type_listed(tf, type_names[ti]))
            continue;
        enum zt_ggml_type at = zt_quant_vec_dot_type(t);
        for (size_t si = 0; si < 2; si++) {
            size_t rows = shapes[si][0], n = shapes[si][1];
            size_t wb = 0, xb = 0;
            if (zt_quant_row_bytes(t, n, &wb) != 0 || zt_quant_row_bytes(at, n, &xb) != 0)
                return 1;
            unsigned char *W = zt_malloc(wb * rows);
            unsigned char *X = zt_malloc(xb * 64);
            float *row = zt_malloc(n * sizeof *row);
            float *out = zt_malloc(64 * rows * sizeof *out);
            if (!W || !X || !row || !out)
                return 1;
            for (size_t r = 0; r < rows; r++) {
                for (size_t i = 0; i < n; i++)
                    row[i] = rnd() * 0.02f;
                if (zt_quant_row(t, row, W + r * wb, n) != 0)
                    return 1;
            }
            for (size_t b = 0; b < 64; b++) {
                for (size_t i = 0; i < n; i++)
                    row[i] = rnd();
                if (zt_quant_activations(t, row, X + b * xb, n) != 0)
                    return 1;
            }
            bool packed_only = isa_filter && strcmp(isa_filter, "packed") == 0;
            for (int isa = 0; isa < ZT_QUANT_ISA_COUNT && !packed_only; isa++) {
                if (isa_filter && strcmp(isa_filter, isa_names[isa]) != 0)
                    continue;
                if (zt_quant_set_isa((enum zt_quant_isa)isa) != 0)
                    continue;
                for (size_t bi = 0; bi < 2; bi++) {
                    size_t batch = batches[bi];
                    double t0 = now(), t1 = t0;
                    long calls = 0;
                    do {
                        if (zt_quant_matmul_rows(t, W, wb, 0, rows, X, xb, batch, out, rows, n) != 0)
                            return 1;
                        calls++;
                        t1 = now();
                    } while (t1 - t0 < secs);
                    double per = (t1 - t0) / (double)calls;
                    printf("%-5s %-10s %5zux%-5zu %5zu %10.3f %9.2f %10.2f\n", type_names[ti],
                           isa_names[isa], rows, n, batch, per * 1e3,
                           (double)(wb * rows) / per * 1e-9,
                           2.0 * (double)rows * (double)n * (double)batch / per * 1e-9);
                    fflush(stdout);
                }
            }
            /* the packed layout (Q8_0 .. Q6_K) on the path in use, batch
             * 1, 2, 4, 8, 16: the ceiling of continuous batching and
             * prompts (a flat GFLOP/s from batch 2 on means the kernel's
             * arithmetic, not the weight loads, bounds it) */
            struct zt_quant_packed *p = NULL;
            if ((!isa_filter || packed_only) && zt_quant_set_isa(ZT_QUANT_ISA_AVX512VNNI) == 0 && zt_quant_pack_useful(t) &&
                zt_quant_pack(t, W, wb, rows, n, &p) == 0) {
                static const size_t pb[] = {1, 2, 3, 4, 8, 16};
                for (size_t bi = 0; bi < 6; bi++) {
                    double t0 = now(), t1 = t0;
                    long calls = 0;
                    do {
                        if (zt_quant_matmul_packed(p, 0, rows, X, xb, pb[bi], out, rows) != 0) return 1;
                        calls++;
                        t1 = now();
                    } while (t1 - t0 < secs);
                    double per = (t1 - t0) / (double)calls;
                    printf("%-5s %-10s %5zux%-5zu %5zu %10.3f %9.2f %10.2f packed\n", type_names[ti], "avx512vnni",
                           rows, n, pb[bi], per * 1e3, (double)zt_quant_packed_bytes(p) / per * 1e-9,
                           2.0 * (double)rows * (double)n * (double)pb[bi] / per * 1e-9);
                    fflush(stdout);
                }
                zt_quant_packed_free(p);
            }
            zt_free(W);
            zt_free(X);
            zt_free(row);
            zt_free(out);
        }
    }
    return 0;
}
