/* gpu_pool.c: placement of models on the devices of the GPU backend, by
 * free memory, with a layer split over two devices when none holds a
 * model, per-device slots and health (gpu_pool.h,
 * docs/internals/gpu_pool.md). */
#include "gpu_pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_log.h"

struct dev {
    struct zt__pool_entry e;
    bool probed;
};

struct zt__pool {
    pthread_mutex_t mu;
    const char *backend;
    size_t n;
    struct dev d[ZT__POOL_MAX];
};

/* ZT_GPU_POOL_FAIL=i[,j...] (tests): the probe of these entries fails, as
 * a device whose op gives wrong bits or an error would. */
static bool fail_hook(size_t i)
{
    const char *env = getenv("ZT_GPU_POOL_FAIL");
    for (const char *p = env; p && *p;) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p) break;
        if (v == i) return true;
        p = *end == ',' ? end + 1 : end;
    }
    return false;
}

static int probe(const char *backend, unsigned phys, size_t entry, char *why, size_t why_size)
{
    if (fail_hook(entry)) {
        snprintf(why, why_size, "health probe failed (ZT_GPU_POOL_FAIL test hook)");
        return ZT_EIO;
    }
    return zt_engine_probe(backend, phys, why, why_size);
}

int zt__pool_new(const char *backend, const char *const *devices, size_t n, uint64_t max_vram_mb, unsigned slots,
                 struct zt__pool **out)
{
    struct zt_gpu_info g[ZT__POOL_MAX];
    size_t ng = 0, mine = 0;
    unsigned idx[ZT__POOL_MAX];
    uint64_t mem[ZT__POOL_MAX];
    if (zt_engine_gpus(g, ZT__POOL_MAX, &ng) != 0) return ZT_ENOMEM;
    for (size_t i = 0; i < ng && i < ZT__POOL_MAX; i++)
        if (!strcmp(g[i].backend, backend)) {
            idx[mine] = g[i].index;
            mem[mine++] = g[i].memory_mb;
        }
    if (mine == 0) {
        zt_log(ZT_LOG_ERROR, "gpu_pool", "no %s device on this machine", backend);
        return ZT_ENOTFOUND;
    }
    struct zt__pool *p = zt_calloc(1, sizeof *p);
    if (!p) return ZT_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    p->backend = backend;
    size_t want = n ? n : mine;
    if (want > ZT__POOL_MAX) want = ZT__POOL_MAX;
    for (size_t i = 0; i < want; i++) {
        size_t k = i;
        if (n) {
            char *end;
            unsigned long v = strtoul(devices[i], &end, 10);
            if (*end || v >= mine) {
                zt_log(ZT_LOG_ERROR, "gpu_pool", "gpu_pool.devices: %s is not a %s device here (it has %zu)",
                       devices[i], backend, mine);
                zt__pool_free(p);
                return ZT_ENOTFOUND;
            }
            k = v;
        }
        struct zt__pool_entry *e = &p->d[i].e;
        e->phys = idx[k];
        e->budget = mem[k] << 20;
        if (max_vram_mb && max_vram_mb < mem[k]) e->budget = max_vram_mb << 20;
        e->slots = slots ? slots : 1;
        e->healthy = true;
    }
    p->n = want;
    *out = p;
    return 0;
}

void zt__pool_free(struct zt__pool *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->mu);
    zt_free(p);
}

static uint64_t room(const struct zt__pool_entry *e) { return e->budget > e->used ? e->budget - e->used : 0; }

/* Healthy entries with a free slot, most room first (probing the ones not
 * yet probed: mu is released meanwhile). */
static size_t candidates(struct zt__pool *p, int *order)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct dev *d = &p->d[i];
        if (d->e.healthy && !d->probed) {
            char why[128];
            pthread_mutex_unlock(&p->mu);
            int rc = probe(p->backend, d->e.phys, i, why, sizeof why);
            pthread_mutex_lock(&p->mu);
            d->probed = true;
            if (rc) {
                d->e.healthy = false;
                snprintf(d->e.why, sizeof d->e.why, "%s", why);
                zt_log(ZT_LOG_ERROR, "gpu_pool", "device %zu (%s %u) is out of the pool: %s", i, p->backend,
                       d->e.phys, why);
            }
        }
        if (!d->e.healthy || d->e.slots_used >= d->e.slots) continue;
        size_t j = k++;
        while (j > 0 && room(&p->d[order[j - 1]].e) < room(&d->e)) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = (int)i;
    }
    return k;
}

int zt__pool_place(struct zt__pool *p, uint64_t bytes, unsigned want_slots, struct zt__place *out, char *why,
                   size_t why_size)
{
    int order[ZT__POOL_MAX];
    pthread_mutex_lock(&p->mu);
    size_t k = candidates(p, order);
    struct zt__place pl = {.e = {-1, -1}};
    if (k >= 1 && room(&p->d[order[0]].e) >= bytes) {
        pl.e[0] = order[0];
        pl.bytes[0] = bytes;
    } else if (k >= 2 && room(&p->d[order[0]].e) + room(&p->d[order[1]].e) >= bytes) {
        pl.e[0] = order[0];
        pl.e[1] = order[1];
        pl.bytes[0] = room(&p->d[order[0]].e);
        pl.bytes[1] = bytes - pl.bytes[0];
    } else {
        snprintf(why, why_size,
                 "its weights need %.1f MiB of %s device memory; the pool's %zu healthy device%s with a free slot "
                 "ha%s %.1f MiB free on the largest%s (device memory, gpu_pool.max_vram_mb)",
                 (double)bytes / 1048576.0, p->backend, k, k == 1 ? "" : "s", k == 1 ? "s" : "ve",
                 k ? (double)room(&p->d[order[0]].e) / 1048576.0 : 0.0,
                 k >= 2 ? " (a split takes two)" : "");
        pthread_mutex_unlock(&p->mu);
        return ZT_ETOOBIG;
    }
    unsigned slots = want_slots ? want_slots : 1;
    for (int s = 0; s < 2 && pl.e[s] >= 0; s++) {
        struct zt__pool_entry *e = &p->d[pl.e[s]].e;
        if (e->slots - e->slots_used < slots) slots = e->slots - e->slots_used;
    }
    pl.slots = slots;
    for (int s = 0; s < 2 && pl.e[s] >= 0; s++) {
        struct zt__pool_entry *e = &p->d[pl.e[s]].e;
        e->used += pl.bytes[s];
        e->slots_used += slots;
        pl.phys[s] = e->phys;
    }
    pthread_mutex_unlock(&p->mu);
    *out = pl;
    return 0;
}

void zt__pool_release(struct zt__pool *p, const struct zt__place *pl)
{
    if (!p || !pl) return;
    pthread_mutex_lock(&p->mu);
    for (int s = 0; s < 2; s++) {
        if (pl->e[s] < 0 || (size_t)pl->e[s] >= p->n) continue;
        struct zt__pool_entry *e = &p->d[pl->e[s]].e;
        e->used = e->used > pl->bytes[s] ? e->used - pl->bytes[s] : 0;
        e->slots_used = e->slots_used > pl->slots ? e->slots_used - pl->slots : 0;
    }
    pthread_mutex_unlock(&p->mu);
}

void zt__pool_fail(struct zt__pool *p, const struct zt__place *pl, const char *why)
{
    if (!p || !pl) return;
    pthread_mutex_lock(&p->mu);
    for (int s = 0; s < 2; s++) {
        if (pl->e[s] < 0 || (size_t)pl->e[s] >= p->n) continue;
        struct zt__pool_entry *e = &p->d[pl->e[s]].e;
        if (e->healthy)
            zt_log(ZT_LOG_ERROR, "gpu_pool", "device %d (%s %u) is out of the pool: %s", pl->e[s], p->backend,
                   e->phys, why);
        e->healthy = false;
        snprintf(e->why, sizeof e->why, "%s", why);
    }
    pthread_mutex_unlock(&p->mu);
}

size_t zt__pool_count(const struct zt__pool *p) { return p ? p->n : 0; }

void zt__pool_get(struct zt__pool *p, size_t i, struct zt__pool_entry *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->d[i].e;
    pthread_mutex_unlock(&p->mu);
}
