/* bench/sched_sim.c: the orchestrator's scheduler at scale, no network
 * (zt_registry.h, zt_sched.h; docs/internals/orchestrator.md).
 *
 *   bench_sched_sim [WORKERS [JOBS [LOAD [CLIENTS]]]]
 *       WORKERS  virtual workers (default 10000)
 *       JOBS     jobs in the stream (default 200000)
 *       LOAD     offered load as a share of capacity (default 0.95; > 1 overloads and queues)
 *       CLIENTS  clients submitting, Zipf-weighted (default 100)
 *
 * Every worker joins with a real signed join record (a fresh Ed25519 key,
 * its signed descriptor; both signatures verified by the registry), then
 * one round of signed heartbeats. Workers serve 2 of 16 models, have 1..8
 * slots, 5..50 ms per token, prices 50..500 and context 4096 or 8192.
 * Jobs arrive as a Poisson stream on a virtual clock (xorshift64*, fixed
 * seed), 32..512 output tokens; a job runs for tokens x the worker's speed
 * of virtual time and 1 in 100 fails (requeued). The store is SQLite on
 * tmpfs where there is one (every submit, assignment, start and finish is
 * a row write, as in production).
 *
 * Printed: joins/s and heartbeats/s, placement decisions/s (all time spent
 * in submit and pump over the decisions made, by the wall clock and by this
 * thread's CPU time: on a shared machine they differ), p50/p99 placement latency
 * (a submit that placed at once: its call; a queued job: the pump call
 * that placed it, per decision), utilisation (busy slot-time over slot
 * capacity x the virtual span, and sampled once a virtual second in the
 * steady state: running jobs over slots, from 30 s after the first
 * arrival until the last), queue peak. Figures only, never asserted. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define N_MODELS 16
#define T0 ((int64_t)1800000000000)

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}
static double unif(void) { return (double)(next() >> 11) / 9007199254740992.0; }
static uint32_t range(uint32_t lo, uint32_t hi) { return lo + (uint32_t)(next() % (hi - lo + 1)); }

struct vworker {
    char id[ZT_IDENTITY_ID_SIZE];
    double ms_per_tok;
    uint32_t slots;
};

/* completions on the virtual clock: a binary min-heap */
struct done {
    int64_t t;
    uint32_t tokens;
    bool fail;
    char job[ZT_JOB_ID_SIZE];
    char worker[ZT_IDENTITY_ID_SIZE];
};
static struct done *heap;
static size_t heap_n, heap_cap;

static void heap_push(const struct done *d)
{
    if (heap_n == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 4096;
        heap = realloc(heap, heap_cap * sizeof *heap);
        if (!heap) abort();
    }
    size_t i = heap_n++;
    while (i > 0 && heap[(i - 1) / 2].t > d->t) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = *d;
}
static struct done heap_pop(void)
{
    struct done top = heap[0], last = heap[--heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= heap_n) break;
        if (c + 1 < heap_n && heap[c + 1].t < heap[c].t) c++;
        if (heap[c].t >= last.t) break;
        heap[i] = heap[c];
        i = c;
    }
    if (heap_n) heap[i] = last;
    return top;
}

static struct vworker *workers;
static size_t n_workers;
static int cmp_id(const void *a, const void *b) { return strcmp(((const struct vworker *)a)->id, ((const struct vworker *)b)->id); }
static struct vworker *find(const char *id)
{
    struct vworker key;
    zt_strlcpy(key.id, id, sizeof key.id);
    return bsearch(&key, workers, n_workers, sizeof *workers, cmp_id);
}

static double *lat;
static size_t n_lat, cap_lat;
static void sample(double us)
{
    if (n_lat == cap_lat) {
        cap_lat = cap_lat ? cap_lat * 2 : 65536;
        lat = realloc(lat, cap_lat * sizeof *lat);
        if (!lat) abort();
    }
    lat[n_lat++] = us;
}
static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* CPU time of this thread: on a shared machine the wall clock also counts
 * the time other processes had the core */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct zt_sched *S;
static double place_cpu_ns;
static double busy_slot_ms; /* virtual */
static double place_ns;     /* real time in submit + pump */
static size_t decisions, queued_peak, failures;

/* The job was placed at virtual time now on worker: it starts at once. */
static void started(const char *job, const char *worker, int64_t now, uint32_t tokens)
{
    if (zt_sched_job_started(S, job, worker, now) != 0) abort();
    struct vworker *w = find(worker);
    if (!w) abort();
    struct done d = {.tokens = tokens, .fail = next() % 100 == 0};
    double ms = w->ms_per_tok * tokens;
    d.t = now + (int64_t)ms + 1;
    busy_slot_ms += ms;
    zt_strlcpy(d.job, job, sizeof d.job);
    zt_strlcpy(d.worker, worker, sizeof d.worker);
    heap_push(&d);
}

/* tokens of queued jobs, by id (a small open table) */
#define TOK_CAP (1u << 20)
static struct { char id[ZT_JOB_ID_SIZE]; uint32_t tokens; } *tok;
static uint64_t tok_h(const char *id) { return strtoull(id + 16, NULL, 16) & (TOK_CAP - 1); }
static void tok_put(const char *id, uint32_t t)
{
    uint64_t i = tok_h(id);
    while (tok[i].id[0] && strcmp(tok[i].id, id) != 0) i = (i + 1) & (TOK_CAP - 1);
    zt_strlcpy(tok[i].id, id, sizeof tok[i].id);
    tok[i].tokens = t;
}
static uint32_t tok_get(const char *id)
{
    uint64_t i = tok_h(id);
    while (tok[i].id[0]) {
        if (strcmp(tok[i].id, id) == 0) return tok[i].tokens;
        i = (i + 1) & (TOK_CAP - 1);
    }
    return 64;
}

static void pump(int64_t now)
{
    struct zt_sched_event ev[256];
    size_t n;
    do {
        uint64_t t0 = zt_time_mono_ns(), c0 = cpu_ns();
        if (zt_sched_pump(S, now, ev, 256, &n) != 0) abort();
        uint64_t dt = zt_time_mono_ns() - t0, dc = cpu_ns() - c0;
        size_t placed = 0;
        for (size_t i = 0; i < n; i++) placed += ev[i].kind == ZT_SCHED_EV_ASSIGNED;
        if (placed) {
            place_ns += (double)dt;
            place_cpu_ns += (double)dc;
            decisions += placed;
            for (size_t i = 0; i < placed; i++) sample((double)dt / 1000.0 / (double)placed);
        }
        for (size_t i = 0; i < n; i++)
            if (ev[i].kind == ZT_SCHED_EV_ASSIGNED) started(ev[i].job_id, ev[i].worker, now, tok_get(ev[i].job_id));
    } while (n == 256);
}

int main(int argc, char **argv)
{
    size_t W = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    size_t J = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
    double load = argc > 3 ? strtod(argv[3], NULL) : 0.95;
    size_t C = argc > 4 ? strtoul(argv[4], NULL, 10) : 100;
    if (!W || !J || !(load > 0) || !C) {
        fprintf(stderr, "usage: bench_sched_sim [WORKERS [JOBS [LOAD [CLIENTS]]]]\n");
        return 2;
    }
    if (zt_crypto_init() != 0) return 1;
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
    char dir[256], db[300];
    snprintf(dir, sizeof dir, "%s/zt-schedsim-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) return 1;
    snprintf(db, sizeof db, "%s/orch.db", dir);
    struct zt_store *st = NULL;
    struct zt_store_opts so = {.path = db, .busy_timeout_ms = 1000};
    struct zt_identity *self = NULL;
    struct zt_registry *R = NULL;
    if (zt_store_open("sqlite", &so, &st) != 0 || zt_identity_generate(&self) != 0) return 1;
    struct zt_registry_opts ro = {.self_id = zt_identity_id(self), .heartbeat_expiry_ms = 24LL * 3600 * 1000,
                                  .max_nodes = W + 16};
    if (zt_registry_open(st, &ro, T0, &R) != 0 || zt_sched_open(R, NULL, T0, &S) != 0) return 1;

    char models[N_MODELS][32];
    for (int m = 0; m < N_MODELS; m++) snprintf(models[m], sizeof models[m], "model-%02d", m);
    workers = calloc(W, sizeof *workers);
    tok = calloc(TOK_CAP, sizeof *tok);
    if (!workers || !tok) return 1;
    n_workers = W;
    uint64_t slots_total = 0;
    double cap_jobs_per_ms = 0; /* capacity: slots / mean job duration */
    double join_ns = 0, hb_ns = 0;
    struct zt_identity **ids = calloc(W, sizeof *ids);
    uint8_t (*boots)[ZT_REG_BOOT_LEN] = calloc(W, sizeof *boots);
    if (!ids || !boots) return 1;
    const char *roles[] = {"worker"};
    for (size_t i = 0; i < W; i++) {
        struct vworker *w = &workers[i];
        uint32_t m1 = range(0, N_MODELS - 1), m2 = (m1 + range(1, N_MODELS - 1)) % N_MODELS;
        const char *ms[2] = {models[m1], models[m2]};
        char ep[64], *desc = NULL, *rec = NULL;
        snprintf(ep, sizeof ep, "http://10.%zu.%zu.%zu:8080", i >> 16, (i >> 8) & 255, i & 255);
        struct zt_worker_caps caps = {.mem_mb = 16384, .slots = range(1, 8), .ctx_max = next() & 1 ? 8192 : 4096,
                                      .price_per_1k = range(50, 500)};
        zt_strlcpy(caps.engine, "zt-sim-1", sizeof caps.engine);
        w->slots = caps.slots;
        w->ms_per_tok = 5.0 + 45.0 * unif();
        randombytes_buf(boots[i], ZT_REG_BOOT_LEN);
        if (zt_identity_generate(&ids[i]) != 0 ||
            zt_identity_descriptor(ids[i], roles, 1, ms, 2, ep, T0 / 1000 + 86400, &desc) != 0 ||
            zt_registry_join_record(ids[i], desc, zt_identity_id(self), boots[i], 1, T0, &caps, &rec) != 0)
            return 1;
        uint64_t t0 = zt_time_mono_ns();
        if (zt_registry_join(R, rec, strlen(rec), T0, w->id) != 0) return 1;
        join_ns += (double)(zt_time_mono_ns() - t0);
        zt_free(desc);
        zt_free(rec);
        slots_total += caps.slots;
        cap_jobs_per_ms += caps.slots / (w->ms_per_tok * 272.0); /* mean of 32..512 tokens */
    }
    for (size_t i = 0; i < W; i++) {
        char *rec = NULL;
        struct zt_worker_load l = {0};
        if (zt_registry_heartbeat_record(ids[i], zt_identity_id(self), boots[i], 2, T0 + 1000, &l, &rec) != 0) return 1;
        uint64_t t0 = zt_time_mono_ns();
        if (zt_registry_heartbeat(R, rec, strlen(rec), T0 + 1000) != 0) return 1;
        hb_ns += (double)(zt_time_mono_ns() - t0);
        zt_free(rec);
        zt_identity_free(ids[i]);
    }
    free(ids);
    free(boots);
    qsort(workers, W, sizeof *workers, cmp_id);
    printf("workers: %zu (%llu slots, %d models), joins: %.0f/s, heartbeats: %.0f/s (signature checks included)\n", W,
           (unsigned long long)slots_total, N_MODELS, (double)W / (join_ns / 1e9), (double)W / (hb_ns / 1e9));

    /* Zipf weights over clients */
    double *cw = calloc(C, sizeof *cw), zsum = 0;
    if (!cw) return 1;
    for (size_t c = 0; c < C; c++) zsum += cw[c] = 1.0 / (double)(c + 1);
    double rate = load * cap_jobs_per_ms; /* arrivals per virtual ms */
    int64_t now = T0 + 2000, next_tick = now + 1000, first = now;
    double next_arrival = (double)now; /* fractional ms: arrivals can be closer than 1 ms */
    double util_sum = 0;
    size_t util_n = 0;
    size_t submitted = 0, busy_refused = 0, queued_at_submit = 0, at_once = 0;
    while (submitted < J || heap_n) {
        bool arrival = submitted < J && (!heap_n || (int64_t)next_arrival <= heap[0].t);
        if (arrival) {
            now = (int64_t)next_arrival;
            double u = unif() * zsum, acc = 0;
            size_t c = 0;
            while (c + 1 < C && (acc += cw[c]) < u) c++;
            char client[32];
            snprintf(client, sizeof client, "client-%zu", c);
            uint32_t tokens = range(32, 512);
            struct zt_job_req q = {.client = client, .model = models[next() % N_MODELS],
                                   .ctx_tokens = range(16, 2048), .max_tokens = tokens};
            struct zt_sched_result res;
            uint64_t t0 = zt_time_mono_ns(), c0 = cpu_ns();
            int rc = zt_sched_submit(S, &q, now, &res);
            uint64_t dt = zt_time_mono_ns() - t0, dc = cpu_ns() - c0;
            submitted++;
            if (rc == 0 && res.state == ZT_JOB_STATE_ASSIGNED) {
                place_ns += (double)dt;
                place_cpu_ns += (double)dc;
                decisions++;
                sample((double)dt / 1000.0);
                at_once++;
                started(res.job_id, res.worker, now, tokens);
            } else if (rc == 0) {
                queued_at_submit++;
                tok_put(res.job_id, tokens);
            } else if (rc == ZT_EBUSY) {
                busy_refused++;
            } else {
                fprintf(stderr, "submit: %s\n", zt_strerror(rc));
                return 1;
            }
            size_t qn = zt_sched_queued(S);
            if (qn > queued_peak) queued_peak = qn;
            next_arrival += -log(1.0 - unif()) / rate;
        } else {
            struct done d = heap_pop();
            now = d.t;
            enum zt_job_state js;
            if (zt_sched_job_finished(S, d.job, d.worker, d.fail ? ZT_SCHED_ERROR : ZT_SCHED_OK, d.tokens, now, &js) != 0)
                return 1;
            if (js == ZT_JOB_STATE_QUEUED) tok_put(d.job, d.tokens);
            failures += d.fail ? 1 : 0;
            pump(now);
        }
        if (now >= next_tick) {
            pump(now);
            next_tick = now + 1000;
            /* steady state: after the longest job (512 x 50 ms) has had time to
             * fill the slots, while arrivals go on */
            if (now >= first + 30000 && submitted < J) {
                util_sum += (double)heap_n / (double)slots_total;
                util_n++;
            }
        }
    }
    double span_ms = (double)(now - first);
    qsort(lat, n_lat, sizeof *lat, cmp_d);
    printf("jobs: %zu submitted (load %.2f, %zu clients), %zu placed at once, %zu queued first, %zu refused (queue full), "
           "%zu failed and requeued\n",
           submitted, load, C, at_once, queued_at_submit, busy_refused, failures);
    printf("placement: %.0f decisions/s by the wall clock, %.0f per CPU-second; latency (wall) p50 %.1f us, p99 %.1f us, "
           "max %.1f us (%zu decisions)\n",
           (double)decisions / (place_ns / 1e9), (double)decisions / (place_cpu_ns / 1e9), lat[n_lat / 2], lat[(size_t)((double)n_lat * 0.99)], lat[n_lat - 1],
           n_lat);
    printf("utilisation: %.1f%% of %llu slots over the whole %.1f s of virtual time (ramp-up and drain included)",
           100.0 * busy_slot_ms / ((double)slots_total * span_ms), (unsigned long long)slots_total, span_ms / 1000.0);
    if (util_n)
        printf("; %.1f%% in steady state (%zu one-second samples)", 100.0 * util_sum / (double)util_n, util_n);
    else
        printf("; no steady state reached (more JOBS)");
    printf("; queue peak %zu\n", queued_peak);
    zt_sched_free(S);
    zt_registry_free(R);
    zt_store_close(st);
    zt_identity_free(self);
    char p[400];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    free(workers);
    free(tok);
    free(heap);
    free(lat);
    free(cw);
    return 0;
}
