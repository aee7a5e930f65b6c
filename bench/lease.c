/* bench/lease.c: what a leased job costs the orchestrator, no network
 * (zt_lease.h, the table behind POST /v1/orchestrator/lease and /report;
 * docs/internals/orchestrator.md "Leases").
 *
 *   bench_lease [JOBS [OPEN [CALLERS]]]
 *       JOBS     leased jobs placed, started and finished (default 20000)
 *       OPEN     leases held open at once, the oldest finished first (default 1000)
 *       CALLERS  callers the leases come from, round robin (by address; default 8)
 *
 * The table is the orchestrator role's (zt_orch_role_new with the default
 * configuration, verification off so every `ok` ends its lease), over a
 * real registry and scheduler on a SQLite store on tmpfs where there is
 * one (every submit, start and finish a row write, as in production); 4
 * workers with 4096 slots each join with real signed records, so a lease
 * is always placed at once. Printed: the lease call's latency (the
 * scheduling latency of a leased job: the share's bookkeeping, the submit
 * and the placement) p50/p99 in microseconds by the wall clock, and leased
 * jobs per second for the whole cycle (lease, started, ok), by the wall
 * clock and by this thread's CPU time. Figures only, never asserted. The
 * same source builds against a tree before the per-caller share (it uses
 * only zt_orch_role_new and the calls' common fields), for a before/after
 * on one machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_lease.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_orch_role.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define N_WORKERS 4

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One call of the table: its status (the answer's body in *body, or NULL). */
static int call(struct zt_lease *l, bool place, const char *addr, json_t *req, json_t **body)
{
    struct zt_lease_call c;
    memset(&c, 0, sizeof c);
    c.method = "POST";
    c.target = place ? "/v1/orchestrator/lease" : "/v1/orchestrator/report";
    c.client_addr = addr;
    struct zt_lease_res res;
    zt_lease_res_init(&res);
    if (place) zt_lease_place(l, &c, req, 0, &res);
    else (void)zt_lease_report(l, &c, req, &res);
    int st = res.status;
    if (body) *body = res.body ? json_incref(res.body) : NULL;
    zt_lease_res_deinit(&res);
    return st;
}

struct open_job {
    char id[ZT_JOB_ID_SIZE], worker[ZT_IDENTITY_ID_SIZE];
    size_t caller;
};

static int finish(struct zt_lease *l, const struct open_job *o, const char (*addr)[32])
{
    json_t *r = json_pack("{s:s,s:s,s:s}", "job_id", o->id, "worker", o->worker, "event", "started");
    int st = call(l, false, addr[o->caller], r, NULL);
    json_decref(r);
    if (st != 200) return -1;
    r = json_pack("{s:s,s:s,s:s,s:i}", "job_id", o->id, "worker", o->worker, "event", "ok", "tokens", 16);
    st = call(l, false, addr[o->caller], r, NULL);
    json_decref(r);
    return st == 200 ? 0 : -1;
}

int main(int argc, char **argv)
{
    size_t J = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    size_t K = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    size_t C = argc > 3 ? strtoul(argv[3], NULL, 10) : 8;
    if (!J || !K || K > 4000 || !C || C > 1000) {
        fprintf(stderr, "usage: bench_lease [JOBS [OPEN (1..4000) [CALLERS (1..1000)]]]\n");
        return 2;
    }
    if (zt_crypto_init() != 0) return 1;
    json_set_alloc_funcs(zt_malloc, zt_free);
    zt_log_set_level(ZT_LOG_OFF);
    char dir[256], db[300];
    snprintf(dir, sizeof dir, "%s/zt-leasebench-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) return 1;
    snprintf(db, sizeof db, "%s/orch.db", dir);
    struct zt_store *st = NULL;
    struct zt_store_opts so = {.path = db, .busy_timeout_ms = 1000};
    struct zt_identity *self = NULL;
    struct zt_registry *reg = NULL;
    struct zt_sched *sched = NULL;
    struct zt_orch_role *role = NULL;
    struct zt_config cfg;
    int64_t now = zt_time_real_ms();
    if (zt_config_init_defaults(&cfg) != 0 || zt_store_open("sqlite", &so, &st) != 0 ||
        zt_identity_generate(&self) != 0)
        return 1;
    cfg.orchestrator.verification.enabled = false; /* every ok ends its lease */
    struct zt_registry_opts ro = {.self_id = zt_identity_id(self)};
    if (zt_registry_open(st, &ro, now, &reg) != 0 || zt_sched_open(reg, NULL, now, &sched) != 0 ||
        zt_orch_role_new(&cfg, reg, sched, &role) != 0)
        return 1;
    struct zt_lease *l = zt_orch_role_lease(role);
    const char *roles[] = {"worker"}, *models[] = {"bench-model"};
    struct zt_identity *ids[N_WORKERS];
    for (int i = 0; i < N_WORKERS; i++) {
        char ep[64], *desc = NULL, *rec = NULL;
        uint8_t boot[ZT_REG_BOOT_LEN];
        randombytes_buf(boot, sizeof boot);
        snprintf(ep, sizeof ep, "http://10.0.0.%d:8080", i + 1);
        struct zt_worker_caps caps = {.mem_mb = 16384, .slots = 4096, .ctx_max = 4096, .price_per_1k = 100};
        zt_strlcpy(caps.engine, "zt-bench-1", sizeof caps.engine);
        if (zt_identity_generate(&ids[i]) != 0 ||
            zt_identity_descriptor(ids[i], roles, 1, models, 1, ep, now / 1000 + 3600, &desc) != 0 ||
            zt_registry_join_record(ids[i], desc, zt_identity_id(self), boot, 1, now, &caps, &rec) != 0 ||
            zt_registry_join(reg, rec, strlen(rec), now, NULL) != 0)
            return 1;
        zt_free(desc);
        zt_free(rec);
    }
    char (*addr)[32] = calloc(C, sizeof *addr);
    struct open_job *ring = calloc(K, sizeof *ring);
    uint64_t *lat = calloc(J, sizeof *lat);
    if (!addr || !ring || !lat) return 1;
    for (size_t c = 0; c < C; c++) snprintf(addr[c], sizeof addr[c], "10.1.%zu.%zu", c / 250, c % 250 + 1);
    json_t *req = json_pack("{s:s,s:i,s:i,s:i}", "model", "bench-model", "max_tokens", 16, "ctx_tokens", 64,
                            "wait_ms", 0);
    size_t head = 0, n_open = 0, refused = 0;
    uint64_t w0 = zt_time_mono_ns(), c0 = cpu_ns();
    for (size_t j = 0; j < J; j++) {
        if (n_open == K) { /* the oldest finishes */
            if (finish(l, &ring[head], (const char (*)[32])addr) != 0) return 1;
            head = (head + 1) % K;
            n_open--;
        }
        size_t caller = j % C;
        json_t *body = NULL;
        uint64_t t0 = zt_time_mono_ns();
        int s = call(l, true, addr[caller], req, &body);
        lat[j] = zt_time_mono_ns() - t0;
        if (s != 200) {
            refused++;
            json_decref(body);
            continue;
        }
        struct open_job *o = &ring[(head + n_open) % K];
        zt_strlcpy(o->id, json_string_value(json_object_get(body, "job_id")), sizeof o->id);
        zt_strlcpy(o->worker, json_string_value(json_object_get(json_object_get(body, "worker"), "node_id")),
                   sizeof o->worker);
        o->caller = caller;
        n_open++;
        json_decref(body);
    }
    while (n_open) {
        if (finish(l, &ring[head], (const char (*)[32])addr) != 0) return 1;
        head = (head + 1) % K;
        n_open--;
    }
    double wall = (double)(zt_time_mono_ns() - w0) / 1e9, cpu = (double)(cpu_ns() - c0) / 1e9;
    qsort(lat, J, sizeof *lat, cmp_u64);
    printf("leases: %zu jobs, %zu open at once, %zu callers, %zu refused\n", J, K, C, refused);
    printf("lease call (scheduling latency): p50 %.1f us, p99 %.1f us (wall)\n", (double)lat[J / 2] / 1e3,
           (double)lat[J * 99 / 100] / 1e3);
    printf("cycle (lease, started, ok): %.0f jobs/s by the wall clock, %.0f per CPU-second\n", (double)J / wall,
           (double)J / cpu);
    json_decref(req);
    free(addr);
    free(ring);
    free(lat);
    zt_orch_role_free(role);
    zt_sched_free(sched);
    zt_registry_free(reg);
    zt_store_close(st);
    for (int i = 0; i < N_WORKERS; i++) zt_identity_free(ids[i]);
    zt_identity_free(self);
    zt_config_deinit(&cfg);
    unlink(db);
    char p[400];
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
    rmdir(dir);
    return 0;
}
