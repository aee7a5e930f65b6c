/* bench/engine.c: prompt-processing and generation speed of the CPU engine.
 *
 *   bench_engine MODEL.gguf [-t THREADS] [-p PROMPT_TOKENS] [-n GEN_TOKENS] [-r REPS]
 *                [-b|--backend BACKEND] [--deterministic] [--busy CPU] [--kv f32|f16]
 *
 * Like llama-bench -p/-n: prompt processing decodes P tokens in one batch,
 * generation decodes N tokens one at a time from position 0 (greedy,
 * logits every step; llama-bench's tg test also starts at position 0).
 * As llama-bench, one untimed warm-up prompt and token first, then every
 * run reuses one sequence truncated to position 0 (llama-bench clears its
 * context's KV cache), so fresh cache pages are not zeroed inside a run.
 * Prints tokens/s (best and mean of REPS runs), the compute backend (-b,
 * default cpu; --deterministic asks a device backend for its deterministic
 * mode, the CPU's bits) and kernel path, and peak RSS. THREADS 0 is the engine's
 * default (the CPUs in the affinity mask).
 *
 * --busy CPU: the contention case of issue 13: a child process spins on CPU
 * (pinned there) for the whole measurement, as another tenant would; two
 * threads must then still be at least as fast as one. With --streams too
 * (the batched steps under contention).
 *
 * --streams: continuous batching instead (issue 13 item 7): for S = 1, 2,
 * 4, 8, 16 sequences, each reads a 16-token prompt, then GEN_TOKENS steps
 * decode one token of every sequence in one zt_model_decode call (one
 * batched matrix pass per step, logits for all, greedy); prints the total
 * tokens/s (best of REPS) and its ratio to one stream. ZT_BENCH_STREAMS=S
 * runs only S streams (to profile that case). The S sequences are made
 * once per count and truncated to position 0 before each repetition, as
 * the runner's slots are (runner.c): a fresh sequence's cache pages are
 * zeroed by the kernel when first written, once per slot in a server, and
 * that zeroing was 5-6 % of a timed 8-stream step when every repetition
 * made new sequences (the first repetition still pays it: -r 2 or more).
 *
 * --kv f16: new sequences get F16 KV caches (zt_model_set_kv_type; the
 * "+kv-f16" build id), half the cache bytes attention reads. */
#define _GNU_SOURCE /* sched_setaffinity */
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

/* CPU time of the whole process (every thread), ns. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int arg_u(const char *s, unsigned *out)
{
    int64_t v;
    if (zt_str_to_i64(s, &v) != 0 || v < 1 || v > 1000000) return -1;
    *out = (unsigned)v;
    return 0;
}

/* A child spinning on cpu until killed; its pid, or -1. */
static pid_t start_busy(unsigned cpu)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) _exit(1);
    for (volatile unsigned long x = 0;; x++) {
    }
}

static size_t argmax(const float *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* --streams: S sequences decoded together, one token each per step. */
static int bench_streams(struct zt_model *m, unsigned threads, unsigned ng, unsigned reps)
{
    enum { MAXS = 16, PROMPT = 16 };
    static const unsigned all[] = {1, 2, 4, 8, 16};
    /* ZT_BENCH_STREAMS=8 measures one count only (a profile of that case) */
    const char *only = getenv("ZT_BENCH_STREAMS");
    unsigned one_count = only ? (unsigned)strtoul(only, NULL, 10) : 0;
    const unsigned *counts = all;
    size_t ncounts = sizeof all / sizeof all[0];
    if (one_count >= 1 && one_count <= MAXS) {
        counts = &one_count;
        ncounts = 1;
    }
    const struct zt_hparams *hp = zt_model_hparams(m);
    if (PROMPT + ng + 1 > hp->n_ctx_train) {
        fprintf(stderr, "bench_engine: 16 + -n exceeds the context (%u)\n", hp->n_ctx_train);
        return 1;
    }
    float *logits = zt_calloc((size_t)MAXS * hp->n_vocab, sizeof(float));
    struct zt_batch_item *items = zt_calloc((size_t)MAXS * PROMPT, sizeof *items);
    if (!logits || !items) return 1;
    char paths[512];
    zt_quant_paths(paths, sizeof paths);
    printf("continuous batching, %u threads, %u steps after a %d-token prompt per stream, best of %u\npaths %s\n",
           threads, ng, PROMPT, reps, paths);
    double one = 0, one_c = 0;
    for (size_t c = 0; c < ncounts; c++) {
        unsigned S = counts[c];
        double best = 0, best_c = 0;
        struct zt_seq *seq[MAXS];
        for (unsigned k = 0; k < S; k++)
            if (zt_seq_new(m, PROMPT + ng + 1, &seq[k]) != 0) return 1;
        for (unsigned r = 0; r < reps; r++) {
            int32_t tok[MAXS];
            size_t n = 0;
            for (unsigned k = 0; k < S; k++) {
                if (zt_seq_truncate(seq[k], 0) != 0) return 1;
                for (unsigned i = 0; i < PROMPT; i++)
                    items[n++] = (struct zt_batch_item){seq[k], (int32_t)((i * 7919u + k * 104729u + 1u) % hp->n_vocab),
                                                        i + 1 == PROMPT ? logits + (size_t)k * hp->n_vocab : NULL};
            }
            if (zt_model_decode(m, items, n) != 0) return 1;
            for (unsigned k = 0; k < S; k++) tok[k] = (int32_t)argmax(logits + (size_t)k * hp->n_vocab, hp->n_vocab);
            uint64_t t0 = zt_time_mono_ns(), c0 = cpu_ns();
            for (unsigned i = 0; i < ng; i++) {
                for (unsigned k = 0; k < S; k++)
                    items[k] = (struct zt_batch_item){seq[k], tok[k], logits + (size_t)k * hp->n_vocab};
                if (zt_model_decode(m, items, S) != 0) return 1;
                for (unsigned k = 0; k < S; k++)
                    tok[k] = (int32_t)argmax(logits + (size_t)k * hp->n_vocab, hp->n_vocab);
            }
            double tps = (double)S * ng / ((double)(zt_time_mono_ns() - t0) / 1e9);
            double tpc = (double)S * ng / ((double)(cpu_ns() - c0) / 1e9);
            if (tps > best) best = tps;
            if (tpc > best_c) best_c = tpc;
        }
        for (unsigned k = 0; k < S; k++) zt_seq_free(seq[k]);
        if (S == 1) one = best, one_c = best_c;
        /* per CPU-second too: on a loaded machine the wall-clock ratio
         * mostly measures the other tenants */
        printf("streams %2u: %8.1f tokens/s total, %6.1f per stream, %5.2fx one stream; %8.1f tokens/CPU-s, %5.2fx\n",
               S, best, best / S, one > 0 ? best / one : 0.0, best_c, one_c > 0 ? best_c / one_c : 0.0);
    }
    zt_free(logits);
    zt_free(items);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned threads = 1, np = 128, ng = 64, reps = 3, busy_cpu = 0;
    bool busy = false, streams = false, det = false, kv_f16 = false;
    const char *path = NULL, *backend = NULL;
    enum zt_precision prec = ZT_PRECISION_EXACT;
    for (int i = 1; i < argc; i++) {
        unsigned *dst = NULL;
        if (!strcmp(argv[i], "--deterministic")) {
            det = true;
            continue;
        }
        if ((!strcmp(argv[i], "-b") || !strcmp(argv[i], "--backend")) && i + 1 < argc) {
            backend = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            if (zt_precision_parse(argv[++i], &prec) != 0) {
                fprintf(stderr, "bench_engine: --precision is exact or bf16\n");
                return 2;
            }
            continue;
        }
        if (!strcmp(argv[i], "--streams")) {
            streams = true;
            continue;
        }
        if (!strcmp(argv[i], "--kv") && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "f16") != 0 && strcmp(t, "f32") != 0) {
                fprintf(stderr, "bench_engine: --kv takes f32 or f16\n");
                return 2;
            }
            kv_f16 = !strcmp(t, "f16");
            continue;
        }
        if (!strcmp(argv[i], "--busy") && i + 1 < argc) {
            int64_t v;
            if (zt_str_to_i64(argv[++i], &v) != 0 || v < 0 || v >= CPU_SETSIZE) {
                fprintf(stderr, "bench_engine: bad value for --busy\n");
                return 2;
            }
            busy_cpu = (unsigned)v;
            busy = true;
            continue;
        }
        if (!strcmp(argv[i], "-t") && i + 1 < argc && !strcmp(argv[i + 1], "0")) {
            threads = zt_model_default_threads();
            i++;
            continue;
        }
        if (!strcmp(argv[i], "-t")) dst = &threads;
        else if (!strcmp(argv[i], "-p")) dst = &np;
        else if (!strcmp(argv[i], "-n")) dst = &ng;
        else if (!strcmp(argv[i], "-r")) dst = &reps;
        else if (!path) path = argv[i];
        if (dst && (i + 1 >= argc || arg_u(argv[++i], dst) != 0)) {
            fprintf(stderr, "bench_engine: bad value for %s\n", argv[i - 1]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: bench_engine MODEL.gguf [-t THREADS] [-p PROMPT] [-n GEN] [-r REPS] [-b|--backend BACKEND] "
                        "[--deterministic] [--busy CPU] [--streams] [--precision exact|bf16] [--kv f32|f16]\n");
        return 2;
    }
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    struct zt_model *m = NULL;
    struct zt_model_run_opts ro = {.backend = backend, .deterministic = det, .precision = (int)prec};
    if (zt_model_load_opts(path, &ro, &m, &err) != 0) {
        fprintf(stderr, "bench_engine: %s\n", zt_buf_str(&err));
        return 1;
    }
    zt_buf_deinit(&err);
    if (zt_model_set_threads(m, threads) != 0) return 1;
    if (kv_f16 && zt_model_set_kv_type(m, ZT_GGML_F16) != 0) {
        fprintf(stderr, "bench_engine: this backend has no F16 KV cache\n");
        zt_model_free(m);
        return 1;
    }
    const struct zt_hparams *hp = zt_model_hparams(m);
    uint32_t n_ctx = np + ng + 1;
    if (n_ctx > hp->n_ctx_train) {
        fprintf(stderr, "bench_engine: -p + -n exceeds the context (%u)\n", hp->n_ctx_train);
        return 1;
    }
    if (streams) {
        /* --busy with --streams: the contention case for batched steps
         * (a spinning process on that CPU for the whole measurement) */
        pid_t spin = busy ? start_busy(busy_cpu) : 0;
        if (spin < 0) {
            fprintf(stderr, "bench_engine: fork failed\n");
            zt_model_free(m);
            return 1;
        }
        if (busy) printf("a busy process on CPU %u\n", busy_cpu);
        int rc = bench_streams(m, threads, ng, reps);
        if (spin > 0) {
            kill(spin, SIGKILL);
            waitpid(spin, NULL, 0);
        }
        zt_model_free(m);
        return rc;
    }
    struct zt_batch_item *items = zt_calloc(np, sizeof *items);
    float *logits = zt_calloc(hp->n_vocab, sizeof(float));
    if (!items || !logits) return 1;
    double best_pp = 0, best_tg = 0, sum_pp = 0, sum_tg = 0, best_ppc = 0, best_tgc = 0;
    pid_t busy_pid = busy ? start_busy(busy_cpu) : 0;
    if (busy_pid < 0) {
        fprintf(stderr, "bench_engine: fork failed\n");
        return 1;
    }
    /* One sequence for every run, truncated to position 0 before each (as
     * llama-bench clears its context's KV cache, and as the runner's slots
     * are reused), after one untimed warm-up prompt and generated token (as
     * llama-bench's): a new sequence each run had its fresh cache pages
     * zeroed by the kernel inside the timed prompt (on the 2-core Zen 4 VM,
     * 5 ms per 4 MiB, run serially by the thread storing K/V while the
     * other threads wait), which a server pays once per slot. */
    struct zt_seq *s;
    if (zt_seq_new(m, n_ctx, &s) != 0) return 1;
    for (unsigned i = 0; i < np; i++)
        items[i] = (struct zt_batch_item){s, (int32_t)((i * 7919u + 1u) % hp->n_vocab), i + 1 == np ? logits : NULL};
    if (zt_model_decode(m, items, np) != 0) return 1;
    if (zt_seq_truncate(s, 0) != 0) return 1;
    if (zt_model_decode(m, &(struct zt_batch_item){s, 1, logits}, 1) != 0) return 1;
    for (unsigned r = 0; r < reps; r++) {
        if (zt_seq_truncate(s, 0) != 0) return 1;
        uint64_t t0 = zt_time_mono_ns(), c0 = cpu_ns();
        if (zt_model_decode(m, items, np) != 0) return 1;
        uint64_t t1 = zt_time_mono_ns(), c1 = cpu_ns();
        double ppc = np / ((double)(c1 - c0) / 1e9);
        if (ppc > best_ppc) best_ppc = ppc;
        /* generation from an empty sequence, as llama-bench's tg test
         * (positions 0..N-1; the prompt's cache would lengthen every step's
         * attention) */
        if (zt_seq_truncate(s, 0) != 0) return 1;
        t1 = zt_time_mono_ns();
        uint64_t c2 = cpu_ns();
        int32_t tok = 1;
        for (unsigned i = 0; i < ng; i++) {
            struct zt_batch_item it = {s, tok, logits};
            if (zt_model_decode(m, &it, 1) != 0) return 1;
            size_t b = 0;
            for (size_t v = 1; v < hp->n_vocab; v++)
                if (logits[v] > logits[b]) b = v;
            tok = (int32_t)b;
        }
        uint64_t t2 = zt_time_mono_ns();
        double tgc = ng / ((double)(cpu_ns() - c2) / 1e9);
        if (tgc > best_tgc) best_tgc = tgc;
        double pp = np / ((double)(t1 - t0) / 1e9), tg = ng / ((double)(t2 - t1) / 1e9);
        if (pp > best_pp) best_pp = pp;
        if (tg > best_tg) best_tg = tg;
        sum_pp += pp;
        sum_tg += tg;
    }
    zt_seq_free(s);
    if (busy_pid > 0) {
        kill(busy_pid, SIGKILL);
        waitpid(busy_pid, NULL, 0);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const struct zt_gguf_tensor *t = zt_gguf_find_tensor(zt_model_gguf(m), "blk.0.ffn_up.weight");
    printf("model %s: %u layers, dim %u, vocab %u, weights %.1f MiB (%s)\n", path, hp->n_layer, hp->n_embd,
           hp->n_vocab, (double)zt_model_weight_bytes(m) / 1048576.0, t ? zt_ggml_type_name(t->type) : "?");
    printf("backend %s%s, kernels %s, threads %u", zt_model_backend(m), zt_model_exact(m) ? "" : " (fast mode)",
           zt_quant_isa_name(), threads);
    if (busy) printf(", a busy process on CPU %u", busy_cpu);
    char paths[512];
    zt_quant_paths(paths, sizeof paths);
    printf("\npaths %s\n", paths);
    printf("prompt %4u tokens: %10.1f t/s best, %10.1f mean\n", np, best_pp, sum_pp / reps);
    printf("gen    %4u tokens: %10.1f t/s best, %10.1f mean\n", ng, best_tg, sum_tg / reps);
    /* tokens per second of the process's CPU time: the kernels' speed
     * without the time spent waiting for a core on a shared machine */
    printf("prompt %4u tokens: %10.1f t/CPU-s best\n", np, best_ppc);
    printf("gen    %4u tokens: %10.1f t/CPU-s best\n", ng, best_tgc);
    /* what one generated token reads: every weight but token_embd (the
     * bench_bandwidth -m figure; its GB/s over this is the share) */
    uint64_t per_tok = zt_model_weight_bytes(m);
    const struct zt_gguf_tensor *emb = zt_gguf_find_tensor(zt_model_gguf(m), "token_embd.weight");
    if (emb && !hp->tied_output) per_tok -= emb->size;
    printf("gen reads %.1f MiB/token: %.2f GB/s at the best rate\n", (double)per_tok / 1048576.0,
           (double)per_tok * best_tg / 1e9);
    printf("peak RSS %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
    zt_free(items);
    zt_free(logits);
    zt_model_free(m);
    return 0;
}
