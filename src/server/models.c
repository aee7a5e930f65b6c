/* models.c: lazy loading and LRU eviction of models. See models.h. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "models.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

struct loaded {
    struct zt_runner *runner;   /* NULL: not loaded */
    size_t bytes;
    unsigned users;
    uint64_t last_used;
    bool loading;
};

struct zt__models {
    const struct zt_config *cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a load finished */
    struct loaded *l;           /* one per cfg->models entry */
    bool stopping;
};

int zt__models_new(const struct zt_config *cfg, struct zt__models **out)
{
    struct zt__models *ms = zt_calloc(1, sizeof *ms);
    if (!ms) return ZT_ENOMEM;
    ms->cfg = cfg;
    ms->l = zt_calloc(cfg->n_models ? cfg->n_models : 1, sizeof *ms->l);
    if (!ms->l) {
        zt_free(ms);
        return ZT_ENOMEM;
    }
    pthread_mutex_init(&ms->mu, NULL);
    pthread_cond_init(&ms->cv, NULL);
    *out = ms;
    return 0;
}

void zt__models_shutdown(struct zt__models *ms)
{
    if (!ms) return;
    /* copy the list: runner callbacks may call zt__models_release(), which
     * takes ms->mu, while a runner stops */
    size_t n = ms->cfg->n_models;
    pthread_mutex_lock(&ms->mu);
    ms->stopping = true;
    struct zt_runner **rs = zt_calloc(n ? n : 1, sizeof *rs);
    for (size_t i = 0; rs && i < n; i++) rs[i] = ms->l[i].runner;
    pthread_mutex_unlock(&ms->mu);
    for (size_t i = 0; rs && i < n; i++) zt_runner_shutdown(rs[i]);
    if (!rs) /* out of memory: stop them in place (no request is active by now) */
        for (size_t i = 0; i < n; i++) zt_runner_shutdown(ms->l[i].runner);
    zt_free(rs);
}

void zt__models_free(struct zt__models *ms)
{
    if (!ms) return;
    for (size_t i = 0; i < ms->cfg->n_models; i++) zt_runner_free(ms->l[i].runner);
    pthread_mutex_destroy(&ms->mu);
    pthread_cond_destroy(&ms->cv);
    zt_free(ms->l);
    zt_free(ms);
}

static int find(const struct zt__models *ms, const char *id)
{
    const struct zt_config *c = ms->cfg;
    if (c->n_models == 0) return -1;
    if (!id || !*id) id = c->model_cache.default_model[0] ? c->model_cache.default_model : c->models[0].id;
    for (size_t i = 0; i < c->n_models; i++)
        if (zt_str_eq(c->models[i].id, id)) return (int)i;
    return -1;
}

/* data_dir/path, or data_dir/models/<last segment of url> */
static int model_file(const struct zt_config *c, const struct zt_cfg_model *e, char *out, size_t n)
{
    const char *p = e->path;
    char tmp[512];
    if (!p[0]) {
        const char *slash = strrchr(e->url, '/');
        snprintf(tmp, sizeof tmp, "models/%s", slash ? slash + 1 : e->url);
        p = tmp;
    }
    int w = p[0] == '/' ? snprintf(out, n, "%s", p) : snprintf(out, n, "%s/%s", c->node.data_dir, p);
    return (w < 0 || (size_t)w >= n) ? ZT_ETOOBIG : 0;
}

static unsigned default_threads(const struct zt_config *c)
{
    if (c->gpu_pool.cpu_threads > 0) return (unsigned)c->gpu_pool.cpu_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)(n > 256 ? 256 : n) : 1u;
}

/* Evict idle models, least recently used first, until `need` more bytes fit
 * (ms->mu held). True when they fit. */
static bool make_room(struct zt__models *ms, size_t need)
{
    size_t budget = (size_t)ms->cfg->model_cache.memory_budget_mb * 1024u * 1024u;
    if (budget == 0) return true;
    for (;;) {
        size_t used = 0;
        int victim = -1;
        for (size_t i = 0; i < ms->cfg->n_models; i++) {
            struct loaded *l = &ms->l[i];
            if (!l->runner) continue;
            used += l->bytes;
            if (l->users == 0 && (victim < 0 || l->last_used < ms->l[victim].last_used)) victim = (int)i;
        }
        if (used + need <= budget) return true;
        if (victim < 0) return false;
        zt_log(ZT_LOG_INFO, "model_evicted", "model=%s bytes=%zu", ms->cfg->models[victim].id, ms->l[victim].bytes);
        zt_runner_free(ms->l[victim].runner);
        ms->l[victim].runner = NULL;
        ms->l[victim].bytes = 0;
    }
}

int zt__models_acquire(struct zt__models *ms, const char *id, struct zt_runner **out,
                       const struct zt_cfg_model **entry, struct zt_buf *err)
{
    int i = find(ms, id);
    if (i < 0) return ZT_ENOTFOUND;
    const struct zt_cfg_model *e = &ms->cfg->models[i];
    struct loaded *l = &ms->l[i];
    pthread_mutex_lock(&ms->mu);
    while (l->loading) pthread_cond_wait(&ms->cv, &ms->mu);
    if (ms->stopping) {
        pthread_mutex_unlock(&ms->mu);
        zt_ignore(zt_buf_append_str(err, "the node is shutting down"));
        return ZT_ECLOSED;
    }
    if (l->runner) {
        l->users++;
        l->last_used = zt_time_mono_ns();
        *out = l->runner;
        *entry = e;
        pthread_mutex_unlock(&ms->mu);
        return 0;
    }
    l->loading = true;
    pthread_mutex_unlock(&ms->mu);

    /* load outside the lock: other models stay usable meanwhile */
    char path[1024];
    struct zt_model *m = NULL;
    struct zt_runner *r = NULL;
    int rc = model_file(ms->cfg, e, path, sizeof path);
    if (!rc && access(path, R_OK) != 0) {
        if (e->url[0])
            zt_ignore(zt_buf_appendf(err, "model '%s' is not downloaded yet: run `zentalk models pull %s%s%s`", e->id,
                                     e->url, e->sha256[0] ? " --sha256 " : "", e->sha256));
        else
            zt_ignore(zt_buf_appendf(err, "model '%s': file %s not found", e->id, path));
        rc = ZT_ENOTFOUND;
    }
    uint64_t t0 = zt_time_mono_ns();
    if (!rc) rc = zt_model_load(path, &m, err);
    size_t bytes = m ? zt_model_weight_bytes(m) : 0;
    pthread_mutex_lock(&ms->mu);
    if (!rc && !make_room(ms, bytes)) {
        zt_ignore(zt_buf_appendf(err, "model '%s' (%zu MiB) does not fit model_cache.memory_budget_mb beside the models in use",
                                 e->id, bytes >> 20));
        rc = ZT_EBUSY;
    }
    pthread_mutex_unlock(&ms->mu);
    if (!rc) {
        struct zt_runner_opts o = {
            .n_slots = (unsigned)(ms->cfg->gpu_pool.max_batch < 64 ? ms->cfg->gpu_pool.max_batch : 64),
            .n_ctx = (uint32_t)e->context_size,
            .n_threads = default_threads(ms->cfg),
            .max_queue = 256,
        };
        rc = zt_runner_new(m, &o, &r);
        if (rc) zt_ignore(zt_buf_appendf(err, "model '%s': cannot start its runner: %s", e->id, zt_strerror(rc)));
        else m = NULL; /* owned by the runner now */
    }
    zt_model_free(m);
    pthread_mutex_lock(&ms->mu);
    l->loading = false;
    if (!rc) {
        l->runner = r;
        l->bytes = bytes;
        l->users = 1;
        l->last_used = zt_time_mono_ns();
        *out = r;
        *entry = e;
        zt_log(ZT_LOG_INFO, "model_loaded", "model=%s bytes=%zu load_ms=%llu", e->id, bytes,
               (unsigned long long)((zt_time_mono_ns() - t0) / 1000000u));
    } else {
        zt_log(ZT_LOG_WARN, "model_load_failed", "model=%s error=\"%s\"", e->id, zt_strerror(rc));
    }
    pthread_cond_broadcast(&ms->cv);
    pthread_mutex_unlock(&ms->mu);
    return rc;
}

void zt__models_release(struct zt__models *ms, struct zt_runner *r)
{
    if (!r) return;
    pthread_mutex_lock(&ms->mu);
    for (size_t i = 0; i < ms->cfg->n_models; i++)
        if (ms->l[i].runner == r && ms->l[i].users) {
            ms->l[i].users--;
            ms->l[i].last_used = zt_time_mono_ns();
        }
    pthread_mutex_unlock(&ms->mu);
}

size_t zt__models_count(const struct zt__models *ms)
{
    return ms->cfg->n_models;
}

const struct zt_cfg_model *zt__models_entry(const struct zt__models *ms, size_t i, bool *loaded)
{
    struct zt__models *m = (struct zt__models *)(uintptr_t)ms;
    pthread_mutex_lock(&m->mu);
    *loaded = m->l[i].runner != NULL;
    pthread_mutex_unlock(&m->mu);
    return &ms->cfg->models[i];
}

int zt__models_file(const struct zt__models *ms, size_t i, char *out, size_t n)
{
    return model_file(ms->cfg, &ms->cfg->models[i], out, n);
}

void zt__models_stats(struct zt__models *ms, struct zt_runner_stats *out, size_t *n_loaded)
{
    /* Runner callbacks take ms->mu (zt__models_release) while holding their
     * runner's lock, so ms->mu must not be held while asking a runner for
     * its statistics: pin the loaded runners (users++) and ask unlocked. */
    memset(out, 0, sizeof *out);
    *n_loaded = 0;
    size_t n = ms->cfg->n_models;
    struct zt_runner **rs = zt_calloc(n ? n : 1, sizeof *rs);
    if (!rs) return;
    pthread_mutex_lock(&ms->mu);
    for (size_t i = 0; i < n; i++)
        if (ms->l[i].runner && !ms->stopping) {
            rs[i] = ms->l[i].runner;
            ms->l[i].users++;
        }
    pthread_mutex_unlock(&ms->mu);
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
    pthread_mutex_lock(&ms->mu);
    for (size_t i = 0; i < n; i++)
        if (rs[i] && ms->l[i].users) ms->l[i].users--;
    pthread_mutex_unlock(&ms->mu);
    zt_free(rs);
}
