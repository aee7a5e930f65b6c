/* infer_models.c: the model registry of zt_infer.h: lazy loading and LRU
 * eviction of models (moved from src/server/models.c).
 *
 * Lock order: a runner's lock before inf->mu (runner callbacks release
 * models). So nothing here calls into a runner while holding inf->mu,
 * except freeing an idle runner (no jobs, hence no callbacks). */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpu_pool.h"
#include "infer_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

struct loaded {
    struct zt_runner *runner;   /* NULL: not loaded */
    const struct zt_runner *sha_of; /* sha holds the file's SHA-256 while runner == sha_of */
    uint8_t sha[32];
    size_t bytes;
    unsigned users;
    uint64_t last_used;
    bool loading;
    bool draining; /* a load waits for room: new users wait too (bounded), so it gets its turn */
    bool placed;   /* place holds its GPU pool placement */
    struct zt__place place;
};

/* Two models in a cache that holds one (issue 17 item 11): a load that
 * does not fit beside the models in use waits up to ROOM_WAIT_S for them to
 * be released instead of answering model_cache_full at once. The wait
 * holds the caller's thread (an HTTP thread), so at most BLOCKED_MAX
 * threads wait at a time; past that the old answers stand (refuse the load,
 * or use the loaded model). */
#define ROOM_WAIT_S 30
#define BLOCKED_MAX 2

struct zt_infer {
    void (*on_end)(void *ud, const struct zt_infer_job_end *e); /* zt_infer_set_on_end */
    void *on_end_ud;
    /* cfg->models copied (their strings borrowed from cfg), then the
     * entries registered at run time (zt_infer_register: strings owned),
     * up to cap. Entries are appended, never moved or removed, so a
     * pointer to one (a job's entry) stays valid; n_models is published
     * (release) after its entry and slot are written, so readers need no
     * lock to walk the first n_models. */
    struct zt_cfg_model *models;
    atomic_size_t n_models;
    size_t n_cfg, cap;
    const char *default_model;         /* "" = the first entry */
    const char *data_dir;
    size_t budget;                     /* bytes; 0 = no limit */
    unsigned n_threads, n_slots;
    bool kv_f16; /* gpu_pool.kv_cache_type: f16 */
    bool bf16;   /* gpu_pool.precision: bf16 (the declared BF16 mode) */
    const char *backend; /* compute backend: NULL = cpu (gpu_pool.backend, zt_infer_opts.backend) */
    bool deterministic;  /* a GPU backend's deterministic mode (gpu_pool.deterministic) */
    uint64_t max_vram_mb; /* gpu_pool.max_vram_mb: 0 = no limit */
    unsigned n_gpus;      /* devices of a GPU backend, counted at start */
    struct zt__pool *pool; /* the GPU pool (a GPU backend), NULL on the CPU */
    const char *const *pool_devs; /* gpu_pool.devices */
    size_t n_pool_devs;
    uint32_t n_ctx;
    void (*progress)(void *ud, uint64_t done, uint64_t total);
    void *progress_ud;
    bool detail_in_errors; /* zt_infer_opts.detail_in_errors */
    char *file_path;                   /* zt_infer_new_file() */
    pthread_mutex_t mu;
    pthread_cond_t cv;                 /* a load finished */
    struct loaded *l;                  /* one per entry */
    unsigned room_waiters;             /* loads waiting in wait_for_room */
    struct zt_runner **dead;           /* evicted, freed outside mu (free_dead) */
    size_t n_dead, dead_cap;
    unsigned blocked;                  /* threads waiting for room or for a draining model */
    bool stopping;
};

int zt__infer_fail(struct zt_infer_err *err, int rc, const char *code, const char *fmt, ...)
{
    if (!err) return rc;
    err->rc = rc;
    zt_strlcpy(err->code, code, sizeof err->code);
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (w < 0) err->message[0] = '\0';
    return rc;
}

/* The CPUs this process may run on (its affinity mask), as the engine counts them. */
static unsigned cpus_online(void)
{
    return zt_model_default_threads();
}

/* The number of entries (readers walk them without the lock). */
static size_t count(const struct zt_infer *inf)
{
    return atomic_load_explicit(&((struct zt_infer *)(uintptr_t)inf)->n_models, memory_order_acquire);
}

/* n_models entries (copied from models, their strings borrowed) and room
 * for ZT_INFER_MAX_REGISTERED more. */
static int make(const struct zt_infer_opts *o, const struct zt_cfg_model *models, size_t n_models,
                struct zt_infer **out)
{
    struct zt_infer *inf = zt_calloc(1, sizeof *inf);
    if (!inf) return ZT_ENOMEM;
    inf->cap = n_models + ZT_INFER_MAX_REGISTERED;
    inf->models = zt_calloc(inf->cap, sizeof *inf->models);
    inf->l = zt_calloc(inf->cap, sizeof *inf->l);
    inf->dead_cap = 2 * inf->cap + 4; /* evictions between two free_dead() of concurrent loads */
    inf->dead = zt_calloc(inf->dead_cap, sizeof *inf->dead);
    if (!inf->models || !inf->l || !inf->dead) {
        zt_free(inf->models);
        zt_free(inf->l);
        zt_free(inf->dead);
        zt_free(inf);
        return ZT_ENOMEM;
    }
    if (n_models) memcpy(inf->models, models, n_models * sizeof *models);
    inf->n_cfg = n_models;
    atomic_init(&inf->n_models, n_models);
    if (o) {
        inf->n_threads = o->n_threads > 256 ? 256 : o->n_threads;
        inf->n_slots = o->n_slots > 64 ? 64 : o->n_slots;
        inf->n_ctx = o->n_ctx;
        inf->progress = o->progress;
        inf->progress_ud = o->progress_ud;
        inf->detail_in_errors = o->detail_in_errors;
        inf->backend = o->backend;
    }
    inf->deterministic = !(o && o->fast);
    inf->bf16 = o && o->precision && strcmp(o->precision, "bf16") == 0;
    pthread_mutex_init(&inf->mu, NULL);
    pthread_cond_init(&inf->cv, NULL);
    *out = inf;
    return 0;
}

/* The compute backend asked for is in this binary (checked at start, so a
 * node configured for cuda fails there, not at its first job). */
static int check_backend(struct zt_infer *inf)
{
    char why[256];
    if (!inf->backend) return 0;
    if (zt_engine_backend_built(inf->backend, why, sizeof why) == 0) {
        /* a GPU in its fast mode: receipts say so from the start (+fast) */
        if (strcmp(inf->backend, "cpu") != 0 && !inf->deterministic) zt_engine_mark_inexact();
        if (strcmp(inf->backend, "cpu") == 0) return 0;
        /* the devices of this backend (zentalk gpus lists every backend's) */
        struct zt_gpu_info g[16];
        size_t n = 0;
        unsigned mine = 0;
        if (zt_engine_gpus(g, 16, &n) == 0)
            for (size_t i = 0; i < n && i < 16; i++) mine += strcmp(g[i].backend, inf->backend) == 0;
        inf->n_gpus = mine;
        if (mine == 0) {
            zt_log(ZT_LOG_ERROR, "gpu_pool.backend: no device", "no %s device on this machine (zentalk gpus lists "
                   "what the drivers see)", inf->backend);
            return ZT_ENOTFOUND;
        }
        /* the GPU pool: placement by free memory, split, slots, health */
        return zt__pool_new(inf->backend, inf->pool_devs, inf->n_pool_devs, inf->max_vram_mb,
                            inf->n_slots ? inf->n_slots : 1, &inf->pool);
    }
    zt_log(ZT_LOG_ERROR, "gpu_pool.backend: not built", "%s", why);
    return ZT_EUNSUPPORTED;
}

/* The constructors' common ending: check the backend, then hand inf out or
 * free it. */
static int check_and_hand_out(struct zt_infer *inf, struct zt_infer **out)
{
    int rc = check_backend(inf);
    if (rc) zt_infer_free(inf);
    else *out = inf;
    return rc;
}

unsigned zt__infer_gpu_devices(const struct zt_infer *inf)
{
    return inf->n_gpus;
}

int zt_infer_new(const struct zt_config *cfg, const struct zt_infer_opts *o, struct zt_infer **out)
{
    struct zt_infer *inf = NULL;
    int rc = make(o, cfg->models, cfg->n_models, &inf);
    if (rc) return rc;
    inf->default_model = cfg->model_cache.default_model ? cfg->model_cache.default_model : "";
    inf->data_dir = cfg->node.data_dir;
    inf->budget = cfg->model_cache.memory_budget_mb > 0 ? (size_t)cfg->model_cache.memory_budget_mb * 1024u * 1024u : 0;
    if (!inf->n_threads) inf->n_threads = cfg->gpu_pool.cpu_threads > 0 ? (unsigned)cfg->gpu_pool.cpu_threads : cpus_online();
    if (!inf->n_slots) inf->n_slots = (unsigned)(cfg->gpu_pool.max_batch < 64 ? cfg->gpu_pool.max_batch : 64);
    inf->kv_f16 = cfg->gpu_pool.kv_cache_type && strcmp(cfg->gpu_pool.kv_cache_type, "f16") == 0;
    if (!(o && o->precision)) inf->bf16 = cfg->gpu_pool.precision && strcmp(cfg->gpu_pool.precision, "bf16") == 0;
    if (!inf->backend && cfg->gpu_pool.backend && strcmp(cfg->gpu_pool.backend, "auto") != 0)
        inf->backend = cfg->gpu_pool.backend;
    if (!(o && o->fast)) inf->deterministic = cfg->gpu_pool.deterministic;
    inf->max_vram_mb = cfg->gpu_pool.max_vram_mb > 0 ? (uint64_t)cfg->gpu_pool.max_vram_mb : 0;
    inf->pool_devs = (const char *const *)cfg->gpu_pool.devices.items;
    inf->n_pool_devs = cfg->gpu_pool.devices.count;
    return check_and_hand_out(inf, out);
}

int zt_infer_new_file(const char *path, const struct zt_infer_opts *o, struct zt_infer **out)
{
    struct zt_infer *inf = NULL;
    char *p = zt_strdup(path);
    struct zt_cfg_model e = {.id = p, .path = p, .url = "", .sha256 = "", .temperature = 0.8,
                             .top_p = 0.95, .top_k = 40, .max_tokens = 256};
    int rc = p ? make(o, &e, 1, &inf) : ZT_ENOMEM;
    if (rc) {
        zt_free(p);
        return rc;
    }
    inf->file_path = p;
    inf->default_model = "";
    inf->data_dir = ".";
    if (!inf->n_threads) inf->n_threads = cpus_online();
    if (!inf->n_slots) inf->n_slots = 1;
    return check_and_hand_out(inf, out);
}

void zt_infer_shutdown(struct zt_infer *inf)
{
    if (!inf) return;
    /* copy the list: runner callbacks may call zt__infer_release(), which
     * takes inf->mu, while a runner stops */
    size_t n = count(inf);
    pthread_mutex_lock(&inf->mu);
    inf->stopping = true;
    pthread_cond_broadcast(&inf->cv); /* loads waiting for room give up */
    struct zt_runner **rs = zt_calloc(n ? n : 1, sizeof *rs);
    for (size_t i = 0; rs && i < n; i++) rs[i] = inf->l[i].runner;
    pthread_mutex_unlock(&inf->mu);
    for (size_t i = 0; rs && i < n; i++) zt_runner_shutdown(rs[i]);
    if (!rs) /* out of memory: stop them in place (no request is active by now) */
        for (size_t i = 0; i < n; i++) zt_runner_shutdown(inf->l[i].runner);
    zt_free(rs);
}

void zt_infer_free(struct zt_infer *inf)
{
    if (!inf) return;
    size_t n = count(inf);
    for (size_t i = 0; i < n; i++) zt_runner_free(inf->l[i].runner);
    for (size_t i = 0; i < inf->n_dead; i++) zt_runner_free(inf->dead[i]);
    for (size_t i = inf->n_cfg; i < n; i++) { /* registered: owned */
        zt_free(inf->models[i].id);
        zt_free(inf->models[i].path);
        zt_free(inf->models[i].sha256);
    }
    zt_free(inf->models);
    zt_free(inf->dead);
    pthread_mutex_destroy(&inf->mu);
    pthread_cond_destroy(&inf->cv);
    zt_free(inf->l);
    zt_free(inf->file_path);
    zt__pool_free(inf->pool);
    zt_free(inf);
}

struct zt__pool *zt__infer_pool(const struct zt_infer *inf)
{
    return inf->pool;
}

int zt_infer_model_find(const struct zt_infer *inf, const char *id)
{
    size_t n = count(inf);
    if (n == 0) return -1;
    if (!id || !*id) id = inf->default_model[0] ? inf->default_model : inf->models[0].id;
    for (size_t i = 0; i < n; i++)
        if (zt_str_eq(inf->models[i].id, id)) return (int)i;
    return -1;
}

bool zt_infer_serves(const struct zt_infer *inf, const char *id)
{
    return inf && id && id[0] && zt_infer_model_find(inf, id) >= 0;
}

/* The file of entry e (zt_config_model_file(): the data directory, then
 * the assets directory). */
static int model_file(const struct zt_infer *inf, const struct zt_cfg_model *e, char *out, size_t n, char *alt,
                      size_t alt_n)
{
    return zt_config_model_file(inf->data_dir, e, out, n, alt, alt_n);
}

/* Unloads l (mu held, no users): its runner is freed by free_dead, its
 * GPU placement given back. */
static void unload(struct zt_infer *inf, struct loaded *l)
{
    inf->dead[inf->n_dead++] = l->runner;
    l->runner = NULL;
    l->bytes = 0;
    if (l->placed) zt__pool_release(inf->pool, &l->place);
    l->placed = false;
}

/* Evict idle models, least recently used first, until `need` more bytes fit
 * (inf->mu held). True when they fit. An evicted runner is only set aside:
 * it is freed by free_dead() once inf->mu is released, because a runner's
 * thread holds its own lock while its callbacks take inf->mu
 * (zt__infer_release), so freeing one (which takes that lock) under inf->mu
 * inverts the order (ThreadSanitizer saw it). */
static bool make_room(struct zt_infer *inf, size_t need)
{
    if (inf->budget == 0) return true;
    for (;;) {
        size_t used = 0;
        int victim = -1;
        for (size_t i = 0, n = count(inf); i < n; i++) {
            struct loaded *l = &inf->l[i];
            if (!l->runner) continue;
            used += l->bytes;
            if (l->users == 0 && (victim < 0 || l->last_used < inf->l[victim].last_used)) victim = (int)i;
        }
        if (used + need <= inf->budget) return true;
        if (victim < 0 || inf->n_dead >= inf->dead_cap) return false;
        zt_log(ZT_LOG_INFO, "model_evicted", "model=%s bytes=%zu", inf->models[victim].id, inf->l[victim].bytes);
        unload(inf, &inf->l[victim]);
    }
}

/* Free the runners make_room set aside (inf->mu not held). */
static void free_dead(struct zt_infer *inf)
{
    struct zt_runner *d[8];
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&inf->mu);
        while (n < sizeof d / sizeof d[0] && inf->n_dead) d[n++] = inf->dead[--inf->n_dead];
        pthread_mutex_unlock(&inf->mu);
        if (!n) return;
        for (size_t i = 0; i < n; i++) zt_runner_free(d[i]);
    }
}

/* make_room, waiting (bounded) for models in use to be released (inf->mu
 * held). While a load waits, the models in use take no new users, so a
 * busy model cannot starve the other: they alternate. */
static bool wait_for_room(struct zt_infer *inf, size_t need)
{
    if (make_room(inf, need)) return true;
    if (need > inf->budget || inf->blocked >= BLOCKED_MAX || inf->stopping) return false;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ROOM_WAIT_S;
    inf->room_waiters++;
    inf->blocked++;
    bool ok = false;
    while (!ok && !inf->stopping) {
        for (size_t i = 0, n = count(inf); i < n; i++)
            if (inf->l[i].runner && inf->l[i].users) inf->l[i].draining = true;
        int w = pthread_cond_timedwait(&inf->cv, &inf->mu, &until);
        ok = make_room(inf, need);
        if (w != 0) break; /* timed out */
    }
    inf->blocked--;
    if (--inf->room_waiters == 0)
        for (size_t i = 0, n = count(inf); i < n; i++) inf->l[i].draining = false;
    pthread_cond_broadcast(&inf->cv);
    return ok;
}

/* Read every weight byte once (the model is mapped: this is where the
 * bytes come off the disk), reporting progress. */
static void prefault(const struct zt_infer *inf, const struct zt_model *m)
{
    const struct zt_gguf *g = zt_model_gguf(m);
    uint64_t total = 0, done = 0;
    for (int64_t i = 0; i < zt_gguf_n_tensors(g); i++) total += zt_gguf_tensor(g, i)->size;
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < zt_gguf_n_tensors(g); i++) {
        const struct zt_gguf_tensor *t = zt_gguf_tensor(g, i);
        const uint8_t *p = t->data;
        for (uint64_t off = 0; off < t->size; off += 4096) sink ^= p[off];
        done += t->size;
        inf->progress(inf->progress_ud, done, total);
    }
    (void)sink;
}

int zt__infer_model_sha256(struct zt_infer *inf, const struct zt_cfg_model *e, const struct zt_runner *r,
                           uint8_t out[static 32])
{
    size_t i = (size_t)(e - inf->models);
    if (i >= count(inf) || !r) return ZT_EINVAL;
    struct loaded *l = &inf->l[i];
    pthread_mutex_lock(&inf->mu);
    bool have = l->sha_of == r;
    if (have) memcpy(out, l->sha, 32);
    pthread_mutex_unlock(&inf->mu);
    if (have) return 0;
    /* read the file once per load (the runner is in use: it stays) */
    char path[1024], alt[1024];
    int rc = model_file(inf, e, path, sizeof path, alt, sizeof alt);
    if (rc) return rc;
    uint8_t h[32];
    rc = zt_sha256_file(path, h);
    if (rc) return rc;
    pthread_mutex_lock(&inf->mu);
    if (l->runner == r) {
        l->sha_of = r;
        memcpy(l->sha, h, 32);
    }
    pthread_mutex_unlock(&inf->mu);
    memcpy(out, h, 32);
    return 0;
}

int zt__infer_acquire(struct zt_infer *inf, const char *id, struct zt_runner **out, const struct zt_cfg_model **entry,
                      struct zt_infer_err *err)
{
    if (count(inf) == 0)
        return zt__infer_fail(err, ZT_ENOTFOUND, "no_model", "%s",
                              "no model is configured: add one to models.yaml (see docs/configuration.md), or "
                              "download one with `zentalk models pull URL` and point models.yaml at it");
    int i = zt_infer_model_find(inf, id);
    if (i < 0)
        return zt__infer_fail(err, ZT_ENOTFOUND, "model_not_found",
                              "model '%s' does not exist (GET /v1/models lists them)", id ? id : "");
    const struct zt_cfg_model *e = &inf->models[i];
    struct loaded *l = &inf->l[i];
    pthread_mutex_lock(&inf->mu);
    while (l->loading) pthread_cond_wait(&inf->cv, &inf->mu);
    if (l->runner && l->draining && inf->blocked < BLOCKED_MAX) { /* a load waits for this model's room */
        inf->blocked++;
        while ((l->loading || (l->runner && l->draining)) && !inf->stopping) pthread_cond_wait(&inf->cv, &inf->mu);
        inf->blocked--;
    }
    if (inf->stopping) {
        pthread_mutex_unlock(&inf->mu);
        return zt__infer_fail(err, ZT_ECLOSED, "model_unavailable", "the node is shutting down");
    }
    if (l->runner && l->placed && zt_runner_device_failed(l->runner)) {
        /* its device failed (an op answered ZT_EIO): out of the pool; once
         * the jobs that were on it have ended, the model loads again on
         * what is left */
        zt__pool_fail(inf->pool, &l->place, "an op of the model on it failed (ZT_EIO)");
        if (l->users > 0 || inf->n_dead >= inf->dead_cap) {
            pthread_mutex_unlock(&inf->mu);
            return zt__infer_fail(err, ZT_EBUSY, "model_unavailable",
                                  "model '%s': its GPU failed; it loads again elsewhere once its jobs have ended", e->id);
        }
        zt_log(ZT_LOG_WARN, "model_unloaded", "model=%s reason=\"device failed\"", e->id);
        unload(inf, l);
    }
    if (l->runner) {
        l->users++;
        l->last_used = zt_time_mono_ns();
        *out = l->runner;
        *entry = e;
        pthread_mutex_unlock(&inf->mu);
        return 0;
    }
    l->loading = true;
    pthread_mutex_unlock(&inf->mu);

    /* load outside the lock: other models stay usable meanwhile */
    char path[1024];
    struct zt_model *m = NULL;
    struct zt_runner *r = NULL;
    struct zt_buf why;
    zt_buf_init(&why, 1024);
    char alt[1024];
    int rc = model_file(inf, e, path, sizeof path, alt, sizeof alt);
    if (!rc && access(path, R_OK) != 0) {
        if (e->url[0])
            zt_ignore(zt_buf_appendf(&why, "model '%s' is not downloaded yet: run `zentalk models pull %s%s%s`", e->id,
                                     e->url, e->sha256[0] ? " --sha256 " : "", e->sha256));
        else
            zt_ignore(zt_buf_appendf(&why, "model '%s': file %s not found%s%s%s", e->id, path, alt[0] ? " (nor " : "",
                                     alt, alt[0] ? ")" : ""));
        rc = ZT_ENOTFOUND;
    }
    uint64_t t0 = zt_time_mono_ns();
    struct zt_model_run_opts ro = {.backend = inf->backend, .deterministic = inf->deterministic,
                                   .max_device_mb = inf->pool ? 0 : inf->max_vram_mb,
                                   .precision = inf->bf16 ? ZT_PRECISION_BF16 : ZT_PRECISION_EXACT};
    /* the GPU pool places it: the device with the most room, or two */
    struct zt__place place = {.e = {-1, -1}};
    bool placed = false;
    if (!rc && inf->pool) {
        struct stat st;
        char pwhy[384];
        uint64_t need = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
        rc = zt__pool_place(inf->pool, need, inf->n_slots ? inf->n_slots : 1, &place, pwhy, sizeof pwhy);
        if (rc) zt_ignore(zt_buf_appendf(&why, "model '%s': %s", e->id, pwhy));
        placed = rc == 0;
        ro.device = place.phys[0];
        if (placed && place.e[1] >= 0) {
            ro.device2 = place.phys[1];
            ro.split_bytes = place.bytes[0];
            zt_log(ZT_LOG_INFO, "gpu_pool", "model=%s split over devices %d and %d (%llu + %llu bytes)", e->id,
                   place.e[0], place.e[1], (unsigned long long)place.bytes[0], (unsigned long long)place.bytes[1]);
        }
    }
    if (!rc) rc = zt_model_load_opts(path, &ro, &m, &why);
    if (placed) zt__pool_loaded(inf->pool, &place); /* the driver's next reading shows it */
    if (!rc && !zt_model_exact(m)) zt_engine_mark_inexact(); /* receipts say +fast */
    if (!rc && inf->kv_f16) rc = zt_model_set_kv_type(m, ZT_GGML_F16);
    if (!rc && inf->progress) prefault(inf, m);
    size_t bytes = m ? zt_model_weight_bytes(m) : 0;
    const char *code = "model_unavailable";
    pthread_mutex_lock(&inf->mu);
    if (!rc && !wait_for_room(inf, bytes)) {
        zt_ignore(zt_buf_appendf(&why,
                                 "model '%s' (%.1f MiB) does not fit model_cache.memory_budget_mb (%zu MiB)%s", e->id,
                                 (double)bytes / (1024.0 * 1024.0), inf->budget >> 20,
                                 bytes > inf->budget ? "" : " beside the models in use"));
        rc = ZT_EBUSY;
        code = "model_cache_full";
    }
    pthread_mutex_unlock(&inf->mu);
    free_dead(inf);
    if (!rc) {
        struct zt_runner_opts o = {
            .n_slots = placed ? place.slots : inf->n_slots ? inf->n_slots : 1,
            .n_ctx = inf->n_ctx ? inf->n_ctx : (uint32_t)e->context_size,
            .n_threads = inf->n_threads ? inf->n_threads : 1,
            .max_queue = 256,
        };
        rc = zt_runner_new(m, &o, &r);
        if (rc) zt_ignore(zt_buf_appendf(&why, "model '%s': cannot start its runner: %s", e->id, zt_strerror(rc)));
        else m = NULL; /* owned by the runner now */
    }
    zt_model_free(m);
    pthread_mutex_lock(&inf->mu);
    l->loading = false;
    if (rc && placed) zt__pool_release(inf->pool, &place);
    if (!rc) {
        l->place = place;
        l->placed = placed;
        l->runner = r;
        l->bytes = bytes;
        l->users = 1;
        l->last_used = zt_time_mono_ns();
        *out = r;
        *entry = e;
        zt_log(ZT_LOG_INFO, "model_loaded", "model=%s bytes=%zu load_ms=%llu", e->id, bytes,
               (unsigned long long)((zt_time_mono_ns() - t0) / 1000000u));
    } else {
        /* the detail (paths, what the file held) is the operator's: the log
         * has it, printable and without quotes; the client is told only
         * that the model is unavailable (issue 17 item 10) */
        char detail[ZT_INFER_MSG_MAX];
        zt_strlcpy(detail, why.len ? zt_buf_str(&why) : "", sizeof detail);
        for (char *p = detail; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E || *p == '"' || *p == '\\') *p = '?';
        zt_log(ZT_LOG_WARN, "model_load_failed", "model=%s error=\"%s\" detail=\"%s\"", e->id, zt_strerror(rc),
               detail);
    }
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
    if (rc && (inf->detail_in_errors || zt_str_eq(code, "model_cache_full")))
        zt__infer_fail(err, rc, code, "%s", zt_buf_str(&why)); /* sizes only: no path, no file bytes */
    else if (rc)
        zt__infer_fail(err, rc, code, "model unavailable: '%s' could not be loaded (the node's log says why)", e->id);
    zt_buf_deinit(&why);
    return rc;
}

void zt__infer_release(struct zt_infer *inf, struct zt_runner *r)
{
    if (!r) return;
    pthread_mutex_lock(&inf->mu);
    for (size_t i = 0, n = count(inf); i < n; i++)
        if (inf->l[i].runner == r && inf->l[i].users) {
            inf->l[i].users--;
            inf->l[i].last_used = zt_time_mono_ns();
            if (inf->l[i].users == 0 && inf->room_waiters) pthread_cond_broadcast(&inf->cv); /* room for a load */
        }
    pthread_mutex_unlock(&inf->mu);
}

int zt_infer_load(struct zt_infer *inf, const char *id, struct zt_infer_err *err)
{
    struct zt_runner *r = NULL;
    const struct zt_cfg_model *e = NULL;
    int rc = zt__infer_acquire(inf, id, &r, &e, err);
    if (!rc) zt__infer_release(inf, r);
    return rc;
}

/* A registered model's id: 1..64 of [A-Za-z0-9._-], not starting with '.'. */
static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > ZT_INFER_ID_MAX || id[0] == '.') return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-') return false;
    return true;
}

int zt_infer_register(struct zt_infer *inf, const char *id, const char *path, const char *sha256_hex)
{
    if (!inf || !id || !path || !path[0] || !sha256_hex || !id_ok(id) || strlen(sha256_hex) != 64 || !zt_hex_valid(sha256_hex, 64, ZT_HEX_LOWER) ||
        strlen(path) > 1024)
        return ZT_EINVAL;
    struct zt_cfg_model e = {.id = (char *)(uintptr_t)id, .path = (char *)(uintptr_t)path, .url = "",
                             .sha256 = (char *)(uintptr_t)sha256_hex, .temperature = 0.8, .top_p = 0.95,
                             .top_k = 40, .max_tokens = 256};
    /* the file is there and is a GGUF file (a blob that is not a model is
     * never offered to clients) */
    char file[1024];
    int rc = model_file(inf, &e, file, sizeof file, NULL, 0);
    if (rc) return rc;
    FILE *f = fopen(file, "rb");
    if (!f) return ZT_ENOTFOUND;
    char magic[4] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (got != 4 || memcmp(magic, "GGUF", 4) != 0) return ZT_EINVAL;
    pthread_mutex_lock(&inf->mu); /* writers only: readers walk the published entries */
    size_t n = count(inf);
    bool same = false;
    for (size_t i = 0; i < n && !rc && !same; i++)
        if (zt_str_eq(inf->models[i].id, id)) {
            /* the same registration again (a restart's re-instruction): nothing to do */
            same = i >= inf->n_cfg && zt_str_eq(inf->models[i].sha256, sha256_hex) &&
                   zt_str_eq(inf->models[i].path, path);
            if (!same) rc = ZT_EEXIST;
        }
    if (same) {
        pthread_mutex_unlock(&inf->mu);
        return 0;
    }
    if (!rc && (inf->stopping || n >= inf->cap)) rc = inf->stopping ? ZT_ECLOSED : ZT_ETOOBIG;
    if (!rc) {
        e.id = zt_strdup(id);
        e.path = zt_strdup(path);
        e.sha256 = zt_strdup(sha256_hex);
        if (!e.id || !e.path || !e.sha256) {
            zt_free(e.id);
            zt_free(e.path);
            zt_free(e.sha256);
            rc = ZT_ENOMEM;
        }
    }
    if (!rc) {
        inf->models[n] = e;
        memset(&inf->l[n], 0, sizeof inf->l[n]);
        atomic_store_explicit(&inf->n_models, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&inf->mu);
    if (!rc) zt_log(ZT_LOG_INFO, "model_registered", "model=%s sha256=%s", id, sha256_hex);
    return rc;
}

size_t zt_infer_model_count(const struct zt_infer *inf)
{
    return count(inf);
}

size_t zt_infer_model_ids(const struct zt_infer *inf, const char **ids, size_t max)
{
    size_t n = count(inf);
    if (n > max) n = max;
    for (size_t i = 0; i < n; i++) ids[i] = inf->models[i].id;
    return n;
}

const struct zt_cfg_model *zt_infer_model(const struct zt_infer *inf, size_t i, bool *loaded)
{
    struct zt_infer *m = (struct zt_infer *)(uintptr_t)inf;
    pthread_mutex_lock(&m->mu);
    *loaded = m->l[i].runner != NULL;
    pthread_mutex_unlock(&m->mu);
    return &inf->models[i];
}

int zt_infer_model_file(const struct zt_infer *inf, size_t i, char *out, size_t n)
{
    return model_file(inf, &inf->models[i], out, n, NULL, 0);
}

void zt_infer_stats(struct zt_infer *inf, struct zt_runner_stats *out, size_t *n_loaded)
{
    /* Runner callbacks take inf->mu (zt__infer_release) while holding their
     * runner's lock, so inf->mu must not be held while asking a runner for
     * its statistics: pin the loaded runners (users++) and ask unlocked. */
    memset(out, 0, sizeof *out);
    *n_loaded = 0;
    size_t n = count(inf);
    struct zt_runner **rs = zt_calloc(n ? n : 1, sizeof *rs);
    if (!rs) return;
    pthread_mutex_lock(&inf->mu);
    for (size_t i = 0; i < n; i++)
        if (inf->l[i].runner && !inf->stopping) {
            rs[i] = inf->l[i].runner;
            inf->l[i].users++;
        }
    pthread_mutex_unlock(&inf->mu);
    for (size_t i = 0; i < n; i++) {
        if (!rs[i]) continue;
        struct zt_runner_stats s;
        zt_runner_stats(rs[i], &s);
        out->prompt_tokens += s.prompt_tokens;
        out->generated_tokens += s.generated_tokens;
        out->jobs_done += s.jobs_done;
        out->steps += s.steps;
        out->active_slots += s.active_slots;
        out->queued += s.queued;
        (*n_loaded)++;
    }
    pthread_mutex_lock(&inf->mu);
    for (size_t i = 0; i < n; i++)
        if (rs[i] && inf->l[i].users) inf->l[i].users--;
    pthread_mutex_unlock(&inf->mu);
    zt_free(rs);
}

void zt_infer_set_on_end(struct zt_infer *inf, void (*fn)(void *ud, const struct zt_infer_job_end *e), void *ud)
{
    inf->on_end = fn;
    inf->on_end_ud = ud;
}

void zt__infer_job_ended(struct zt_infer *inf, const struct zt_infer_job_end *e)
{
    if (inf->on_end) inf->on_end(inf->on_end_ud, e);
}
