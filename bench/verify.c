/* bench/verify.c: what teacher-forced verification costs next to the
 * generation it checks (issue 11 item 5; docs/architecture/WIRE.md).
 *
 *   bench_verify MODEL.gguf [prompt_tokens] [gen_tokens] [threads] [runs] [verify-only]
 *                                      (default 128, 512, 1, 3)
 *
 * On one runner: a job of prompt_tokens (ids spread over the vocabulary)
 * generating gen_tokens (greedy, EOS ignored); then a VERIFY job of the same
 * prompt and the ids generated, which the runner scores in batched passes
 * of 64 and whose chain must equal the generation's. Also a RESUME at half
 * way (what a failover costs the new worker). Median wall times and the
 * ratios, and the same in process CPU time (submit to the last event: the
 * engine's threads' work, which a shared, loaded machine hardly changes);
 * nothing asserted but the chains. With a sixth argument `verify-only`:
 * `runs` verifications of gen_tokens given ids and nothing else (what `perf
 * record` should see of a verification; CPU time median, min and max). */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_runner.h"
#include "zentalk/zt_time.h"

struct res {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int err;
    int32_t *ids;
    size_t n, cap;
    uint8_t hash[32];
    uint64_t first_ns, end_ns, end_cpu_ns;
};

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_event(void *ud, const struct zt_job_event *ev)
{
    struct res *r = ud;
    pthread_mutex_lock(&r->mu);
    if (!r->first_ns) r->first_ns = zt_time_mono_ns();
    if (ev->kind == ZT_JOB_TEXT && ev->token >= 0 && r->n < r->cap) r->ids[r->n++] = ev->token;
    if (ev->kind == ZT_JOB_DONE || ev->kind == ZT_JOB_ERROR) {
        r->err = ev->kind == ZT_JOB_ERROR ? ev->err : 0;
        memcpy(r->hash, ev->hash, 32);
        r->end_ns = zt_time_mono_ns();
        r->end_cpu_ns = cpu_ns();
        r->done = true;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Run one job; wall ns from submit to the last event (and the process
 * CPU ns in *cpu when not NULL). */
static uint64_t run(struct zt_runner *rn, const int32_t *prompt, size_t np, const struct zt_job_params *p,
                    struct res *r, uint64_t *cpu)
{
    r->n = 0;
    r->done = false;
    r->first_ns = 0;
    uint64_t c0 = cpu_ns(), t0 = zt_time_mono_ns(), id;
    if (zt_runner_submit(rn, prompt, np, p, on_event, r, &id) != 0) {
        fprintf(stderr, "submit failed\n");
        exit(1);
    }
    pthread_mutex_lock(&r->mu);
    while (!r->done) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    if (r->err) {
        fprintf(stderr, "job failed: %d\n", r->err);
        exit(1);
    }
    if (cpu) *cpu = r->end_cpu_ns - c0;
    return r->end_ns - t0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double median_ms(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return (double)v[n / 2] / 1e6;
}

static struct zt_job_params greedy(size_t ng)
{
    struct zt_job_params p;
    memset(&p, 0, sizeof p);
    zt_sampler_params_default(&p.sampler);
    p.sampler.temperature = 0.0f;
    p.max_tokens = (uint32_t)ng;
    p.ignore_eos = true;
    p.want_ids = true;
    return p;
}

/* Fill the cache with other tokens so the next job recomputes everything,
 * as another worker would (the slot keeps its KV cache). */
static void evict(struct zt_runner *rn, int32_t *prompt, struct res *r)
{
    int32_t first = prompt[0];
    prompt[0] = first == 1 ? 2 : 1;
    struct zt_job_params p = greedy(1);
    p.want_ids = false;
    p.ignore_eos = false;
    (void)run(rn, prompt, 1, &p, r, NULL);
    prompt[0] = first;
}

/* verify-only: runs verifications of gen_tokens ids spread over the
 * vocabulary (no generation: a profile sees verification alone; the cost
 * does not depend on which ids are claimed), every chain the same. */
static int verify_loop(struct zt_runner *rn, uint32_t nv, int32_t *prompt, size_t np, int32_t *gen, size_t ng,
                       unsigned runs, struct res *r)
{
    for (size_t i = 0; i < np; i++) prompt[i] = (int32_t)(1 + (i * 7919) % (nv - 1));
    for (size_t i = 0; i < ng; i++) gen[i] = (int32_t)(1 + (i * 104729 + 17) % (nv - 1));
    struct zt_job_params pv = greedy(ng);
    pv.force = ZT_JOB_FORCE_VERIFY;
    pv.forced = gen;
    pv.n_forced = ng;
    uint64_t cv[64];
    uint8_t h[32];
    for (unsigned k = 0; k < runs; k++) {
        evict(rn, prompt, r);
        (void)run(rn, prompt, np, &pv, r, &cv[k]);
        if (k > 0 && memcmp(r->hash, h, 32) != 0) {
            fprintf(stderr, "two verifications of the same ids gave different chains\n");
            return -1;
        }
        memcpy(h, r->hash, 32);
    }
    double med = median_ms(cv, runs); /* sorts cv */
    printf("verify-only: verification median of %u %.1f ms CPU (min %.1f, max %.1f)\n", runs, med,
           (double)cv[0] / 1e6, (double)cv[runs - 1] / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_verify MODEL.gguf [prompt_tokens] [gen_tokens] [threads] [runs] [verify-only]\n");
        return 2;
    }
    size_t np = argc > 2 ? strtoul(argv[2], NULL, 10) : 128;
    size_t ng = argc > 3 ? strtoul(argv[3], NULL, 10) : 512;
    unsigned threads = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1;
    unsigned runs = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 3;
    bool verify_only = argc > 6 && strcmp(argv[6], "verify-only") == 0;
    if (runs < 1 || runs > 64 || np < 1 || ng < 2 || (argc > 6 && !verify_only)) return 2;
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model *m = NULL;
    if (zt_model_load(argv[1], &m, &err) != 0) {
        fprintf(stderr, "%s\n", zt_buf_str(&err));
        return 1;
    }
    zt_buf_deinit(&err);
    uint32_t nv = zt_model_hparams(m)->n_vocab;
    struct zt_runner_opts o = {.n_slots = 1, .n_ctx = (uint32_t)(np + ng + 8), .n_threads = threads, .max_queue = 4};
    struct zt_runner *rn = NULL;
    if (zt_runner_new(m, &o, &rn) != 0) {
        fprintf(stderr, "cannot start a runner (context %zu)\n", np + ng + 8);
        return 1;
    }
    int32_t *prompt = zt_calloc(np, sizeof *prompt), *gen = zt_calloc(ng, sizeof *gen);
    struct res r = {.cap = ng};
    r.ids = zt_calloc(ng, sizeof *r.ids);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    uint64_t tg[64], tv[64], tr[64], tp[64], cg[64], cv[64], cp[64];
    int32_t *all = zt_calloc(np + ng, sizeof *all);
    int rc = 0;
    if (verify_only) {
        rc = verify_loop(rn, nv, prompt, np, gen, ng, runs, &r) ? 1 : 0;
    } else {
        for (unsigned k = 0; k < runs; k++) {
            for (size_t i = 0; i < np; i++) prompt[i] = (int32_t)(1 + (i * 7919 + k * 131) % (nv - 1));
            struct zt_job_params p = greedy(ng);
            tg[k] = run(rn, prompt, np, &p, &r, &cg[k]);
            uint8_t h[32];
            memcpy(h, r.hash, 32);
            memcpy(gen, r.ids, r.n * sizeof *gen);
            size_t n = r.n;
            /* the slot keeps its KV cache: change the first prompt token so
             * the checks recompute everything, as another worker would */
            struct zt_job_params pv = p;
            pv.force = ZT_JOB_FORCE_VERIFY;
            pv.forced = gen;
            pv.n_forced = n;
            evict(rn, prompt, &r);
            tv[k] = run(rn, prompt, np, &pv, &r, &cv[k]);
            if (memcmp(r.hash, h, 32) != 0) {
                fprintf(stderr, "the verifier's chain differs from the generation's\n");
                return 1;
            }
            /* the same tokens as a plain prompt (logits of the last only):
             * what verification costs beyond reading them */
            memcpy(all, prompt, np * sizeof *all);
            memcpy(all + np, gen, n * sizeof *all);
            evict(rn, all, &r);
            tp[k] = run(rn, all, np + n - 1, &(struct zt_job_params){.sampler = p.sampler, .max_tokens = 1}, &r,
                        &cp[k]);
            struct zt_job_params pr = p;
            pr.force = ZT_JOB_FORCE_RESUME;
            pr.forced = gen;
            pr.n_forced = n / 2;
            evict(rn, prompt, &r);
            uint64_t t0 = zt_time_mono_ns();
            (void)run(rn, prompt, np, &pr, &r, NULL);
            tr[k] = r.first_ns - t0; /* to the first new token: the replay of prompt + n/2 ids */
            if (memcmp(r.hash, h, 32) != 0) {
                fprintf(stderr, "the resumed chain differs from the generation's\n");
                return 1;
            }
        }
        double g = median_ms(tg, runs), v = median_ms(tv, runs), rs = median_ms(tr, runs), pf = median_ms(tp, runs);
        printf("model %s, %u thread(s), prompt %zu + %zu generated tokens, median of %u\n", argv[1], threads, np, ng,
               runs);
        printf("  generation                 %9.1f ms\n", g);
        printf("  teacher-forced verification %8.1f ms  = %.3f of the generation (1/%.1f)\n", v, v / g, g / v);
        printf("  the same tokens as a prompt %8.1f ms  (verification / plain prompt = %.2f)\n", pf, v / pf);
        printf("  resume at %zu: first token   %8.1f ms (prompt + %zu ids replayed in batched passes)\n", ng / 2, rs,
               ng / 2);
        double cgm = median_ms(cg, runs), cvm = median_ms(cv, runs), cpm = median_ms(cp, runs);
        printf("  CPU time: generation %.1f ms, verification %.1f ms = %.3f of the generation, plain prompt %.1f ms\n",
               cgm, cvm, cvm / cgm, cpm);
    }
    zt_free(all);
    zt_free(prompt);
    zt_free(gen);
    zt_free(r.ids);
    zt_runner_free(rn);
    return rc;
}
