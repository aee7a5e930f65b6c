/* gpu_pool.c: placement of models on the devices of the GPU backend, by
 * free memory (the pool's own count, capped by the driver's reading), with
 * a layer split over two devices when none holds a model, per-device slots
 * and health (gpu_pool.h, docs/internals/gpu_pool.md). */
#include "gpu_pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_time.h"

struct dev {
    struct zt__pool_entry e;
    bool probed;
    int said;          /* what the log last said of its driver figure: 0 nothing, 1 known, 2 none */
    uint64_t pending;  /* bytes placed here whose model is not loaded yet */
    /* Bytes of the models loaded here, ever (zt__pool_loaded), and that sum
     * when the driver reading in use was begun: the difference finished
     * loading after the driver was asked, so the reading may not show it. */
    uint64_t loaded_total, loaded_seen;
};

struct zt__pool {
    pthread_mutex_t mu;
    const char *backend;
    size_t n;
    uint64_t read_ns;  /* when the driver was last asked (zt_time_mono_ns) */
    void (*read_hook)(void *); /* tests: runs between asking the driver and applying its figures */
    void *read_hook_arg;
    struct dev d[ZT__POOL_MAX];
};

enum { MARGIN_MIN_MB = 256, MARGIN_DIV = 20 }; /* driver figure less max(256 MiB, 5% of the device) */

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
        e->margin = mem[k] / MARGIN_DIV > MARGIN_MIN_MB ? mem[k] / MARGIN_DIV : MARGIN_MIN_MB;
        e->margin <<= 20;
        e->room = e->budget;
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

/* What the driver's figure leaves a new model (UINT64_MAX: no figure):
 * less the margin, and less what the reading cannot show: the weights
 * placed on the same GPU but not loaded yet, and those loaded after the
 * driver was asked for it. */
static uint64_t drv_room(const struct zt__pool *p, const struct zt__pool_entry *e)
{
    if (!e->drv_known) return UINT64_MAX;
    uint64_t held = e->margin;
    for (size_t i = 0; i < p->n; i++)
        if (p->d[i].e.phys == e->phys) held += p->d[i].pending + (p->d[i].loaded_total - p->d[i].loaded_seen);
    return e->drv_free > held ? e->drv_free - held : 0;
}

/* Every entry's room (caller holds mu). */
static void set_rooms(struct zt__pool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        struct zt__pool_entry *e = &p->d[i].e;
        uint64_t own = e->budget > e->used ? e->budget - e->used : 0, drv = drv_room(p, e);
        e->room = own < drv ? own : drv;
    }
}

static uint64_t room(const struct zt__pool_entry *e) { return e->room; }

/* ZT_GPU_POOL_FREE_MB=i:N[,j:none] (tests): the driver's figure for entry
 * i. 1 with *mb set (UINT64_MAX: "none") when the hook names i. */
static bool free_hook(size_t i, uint64_t *mb)
{
    const char *env = getenv("ZT_GPU_POOL_FREE_MB");
    for (const char *q = env; q && *q;) {
        char *end;
        unsigned long long v = strtoull(q, &end, 10);
        if (end == q || *end != ':') break;
        q = end + 1;
        unsigned long long f = UINT64_MAX;
        if (!strncmp(q, "none", 4)) end = (char *)(uintptr_t)(q + 4);
        else f = strtoull(q, &end, 10);
        if (end == q) break;
        if (v == i) {
            *mb = f;
            return true;
        }
        q = *end == ',' ? end + 1 : end;
    }
    return false;
}

static double mib(uint64_t b) { return (double)b / 1048576.0; }

/* The driver's free memory of every entry's device (zt_engine_gpus: the
 * driver is asked without mu held), then each entry's room. A model may
 * finish loading while the driver is asked (zt__pool_loaded takes it out
 * of `pending`): what was loaded before the question began is in the
 * reading, what was loaded since may not be, so it stays held
 * (loaded_total - loaded_seen) until a reading begun after it is applied.
 * Two readings applied out of order are still each consistent with the
 * sum taken at their start. */
static void read_driver(struct zt__pool *p)
{
    struct zt_gpu_info g[ZT__POOL_MAX];
    uint64_t seen[ZT__POOL_MAX];
    size_t ng = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n; i++) seen[i] = p->d[i].loaded_total;
    void (*hook)(void *) = p->read_hook;
    void *hook_arg = p->read_hook_arg;
    pthread_mutex_unlock(&p->mu);
    if (zt_engine_gpus(g, ZT__POOL_MAX, &ng) != 0) ng = 0;
    if (ng > ZT__POOL_MAX) ng = ZT__POOL_MAX;
    if (hook) hook(hook_arg);
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n; i++) {
        struct dev *d = &p->d[i];
        struct zt__pool_entry *e = &d->e;
        d->loaded_seen = seen[i];
        e->drv_known = false;
        snprintf(e->drv_from, sizeof e->drv_from, "none: the backend no longer lists the device");
        for (size_t k = 0; k < ng; k++)
            if (!strcmp(g[k].backend, p->backend) && g[k].index == e->phys) {
                e->drv_known = g[k].has_free;
                e->drv_free = g[k].free_mb << 20;
                snprintf(e->drv_from, sizeof e->drv_from, "%s", g[k].free_from);
            }
        uint64_t fake;
        if (free_hook(i, &fake)) {
            e->drv_known = fake != UINT64_MAX;
            e->drv_free = e->drv_known ? fake << 20 : 0;
            snprintf(e->drv_from, sizeof e->drv_from, "%s", e->drv_known ? "ZT_GPU_POOL_FREE_MB test hook"
                                                                        : "none: ZT_GPU_POOL_FREE_MB test hook");
        }
        int say = e->drv_known ? 1 : 2;
        if (say != d->said) {
            if (say == 2)
                zt_log(ZT_LOG_WARN, "gpu_pool",
                       "device %zu (%s %u): the driver reports no free memory (%s); placing by the pool's own count",
                       i, p->backend, e->phys, strncmp(e->drv_from, "none: ", 6) ? e->drv_from : e->drv_from + 6);
            else
                zt_log(ZT_LOG_INFO, "gpu_pool", "device %zu (%s %u): free memory from the driver (%s)", i, p->backend,
                       e->phys, e->drv_from);
            d->said = say;
        }
    }
    set_rooms(p);
    p->read_ns = zt_time_mono_ns();
    pthread_mutex_unlock(&p->mu);
}

void zt__pool_refresh(struct zt__pool *p, unsigned max_age_ms)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    bool stale = !p->read_ns || zt_time_mono_ns() - p->read_ns >= (uint64_t)max_age_ms * 1000000u;
    pthread_mutex_unlock(&p->mu);
    if (stale) read_driver(p);
}

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

/* The room of the second device of a split over a and b: two logical
 * devices of one GPU share the driver's figure, so together they take no
 * more than it leaves. */
static uint64_t second_room(const struct zt__pool *p, const struct zt__pool_entry *a, const struct zt__pool_entry *b)
{
    uint64_t r = room(b);
    if (a->phys == b->phys && a->drv_known) {
        uint64_t left = drv_room(p, a) > room(a) ? drv_room(p, a) - room(a) : 0;
        if (r > left) r = left;
    }
    return r;
}

/* One line per device with a free slot: its room and what bounds it. */
static void log_rooms(const struct zt__pool *p, const int *order, size_t k, uint64_t bytes)
{
    for (size_t j = 0; j < k; j++) {
        const struct zt__pool_entry *e = &p->d[order[j]].e;
        uint64_t own = e->budget > e->used ? e->budget - e->used : 0;
        if (e->drv_known)
            zt_log(ZT_LOG_INFO, "gpu_pool",
                   "placing %.1f MiB: device %d (%s %u) room %.1f MiB = min(pool count %.1f MiB, driver free %.1f MiB "
                   "- margin %.1f MiB; %s)",
                   mib(bytes), order[j], p->backend, e->phys, mib(e->room), mib(own), mib(e->drv_free),
                   mib(e->margin), e->drv_from);
        else
            zt_log(ZT_LOG_INFO, "gpu_pool", "placing %.1f MiB: device %d (%s %u) room %.1f MiB (pool count; driver "
                   "free memory %s)",
                   mib(bytes), order[j], p->backend, e->phys, mib(e->room), e->drv_from);
    }
}

int zt__pool_place(struct zt__pool *p, uint64_t bytes, unsigned want_slots, struct zt__place *out, char *why,
                   size_t why_size)
{
    int order[ZT__POOL_MAX];
    read_driver(p);
    pthread_mutex_lock(&p->mu);
    size_t k = candidates(p, order);
    log_rooms(p, order, k, bytes);
    struct zt__place pl = {.e = {-1, -1}};
    const struct zt__pool_entry *e0 = k ? &p->d[order[0]].e : NULL, *e1 = k >= 2 ? &p->d[order[1]].e : NULL;
    if (e0 && room(e0) >= bytes) {
        pl.e[0] = order[0];
        pl.bytes[0] = bytes;
    } else if (e1 && room(e0) + second_room(p, e0, e1) >= bytes) {
        pl.e[0] = order[0];
        pl.e[1] = order[1];
        pl.bytes[0] = room(e0);
        pl.bytes[1] = bytes - pl.bytes[0];
    } else {
        char drv[160] = "";
        if (e0 && e0->drv_known && drv_room(p, e0) < e0->budget - (e0->used < e0->budget ? e0->used : e0->budget))
            snprintf(drv, sizeof drv, "; the driver reports %.1f MiB free on it, less a %.1f MiB margin", mib(e0->drv_free),
                     mib(e0->margin));
        snprintf(why, why_size,
                 "its weights need %.1f MiB of %s device memory; the pool's %zu healthy device%s with a free slot "
                 "ha%s %.1f MiB free on the largest%s%s (device memory, gpu_pool.max_vram_mb, the driver's free "
                 "memory)",
                 mib(bytes), p->backend, k, k == 1 ? "" : "s", k == 1 ? "s" : "ve", e0 ? mib(room(e0)) : 0.0,
                 k >= 2 ? " (a split takes two)" : "", drv);
        zt_log(ZT_LOG_WARN, "gpu_pool", "refused: %s", why);
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
    /* until it is loaded, the driver's reading does not show it */
    for (int s = 0; s < 2 && pl.e[s] >= 0; s++) p->d[pl.e[s]].pending += pl.bytes[s];
    set_rooms(p);
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
    set_rooms(p);
    pthread_mutex_unlock(&p->mu);
}

void zt__pool_loaded(struct zt__pool *p, const struct zt__place *pl)
{
    if (!p || !pl) return;
    pthread_mutex_lock(&p->mu);
    for (int s = 0; s < 2; s++) {
        if (pl->e[s] < 0 || (size_t)pl->e[s] >= p->n) continue;
        struct dev *d = &p->d[pl->e[s]];
        uint64_t b = d->pending > pl->bytes[s] ? pl->bytes[s] : d->pending;
        d->pending -= b;
        d->loaded_total += b; /* held until a reading begun from now on is applied */
    }
    set_rooms(p);
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

void zt__pool_test_read_hook(struct zt__pool *p, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->read_hook = fn;
    p->read_hook_arg = arg;
    pthread_mutex_unlock(&p->mu);
}

void zt__pool_get(struct zt__pool *p, size_t i, struct zt__pool_entry *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->d[i].e;
    pthread_mutex_unlock(&p->mu);
}
