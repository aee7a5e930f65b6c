/* gpu_pool.h: the GPU pool of a worker (internal to src/infer;
 * docs/internals/gpu_pool.md). The devices of the GPU backend the models
 * run on (gpu_pool.devices: indices into that backend's device list, a
 * repeat being a second logical device of one GPU), each with a memory
 * budget (the device's memory, capped by gpu_pool.max_vram_mb), the weight
 * bytes of the models placed on it, the driver's free-memory reading,
 * slots (gpu_pool.max_batch sequences decoded at once, shared by its
 * models) and a health state. Thread-safe. */
#ifndef ZT_INFER_GPU_POOL_H
#define ZT_INFER_GPU_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_error.h"

#define ZT__POOL_MAX 16

struct zt__pool;

/* Where a model went: entries e[0] (and e[1] when split: the first
 * bytes[0] of its weights on e[0], the rest on e[1]); phys[] the backend's
 * device indices; slots its runner's slots. */
struct zt__place {
    int e[2];
    unsigned phys[2];
    uint64_t bytes[2];
    unsigned slots;
};

struct zt__pool_entry {
    unsigned phys;          /* the backend's device index */
    uint64_t budget, used;  /* bytes: the pool's own count */
    unsigned slots, slots_used;
    bool healthy;
    char why[128];          /* why it is out of the pool */
    /* The driver's reading of the device's free memory (zt_gpu_info), as
     * of the last placement or refresh; shared by the logical devices of
     * one GPU. */
    bool drv_known;         /* the driver reported one */
    uint64_t drv_free;      /* bytes, when drv_known */
    uint64_t margin;        /* bytes left free below the driver's figure */
    char drv_from[48];      /* its source, or why there is none */
    uint64_t room;          /* what a new model may take: budget - used, and
                             * at most drv_free - margin when drv_known */
};

/* The pool of `backend`'s devices: `devices` (n of them; NULL/0 = every
 * device the backend lists), max_vram_mb per device (0 = its memory),
 * slots per device. ZT_ENOTFOUND (logged) when an index names no device or
 * the backend has none. */
ZT_NODISCARD int zt__pool_new(const char *backend, const char *const *devices, size_t n, uint64_t max_vram_mb,
                              unsigned slots, struct zt__pool **out);
void zt__pool_free(struct zt__pool *p);

/* Places a model of `bytes` weights wanting `want_slots`: on the healthy
 * device with the most room that holds it and has a free slot, else split
 * over the two with the most. Room is the pool's own count (budget minus
 * the weights placed there), capped by the driver's free memory less a
 * margin (5% of the device's memory, at least 256 MiB) where the driver
 * reports it, read afresh for each placement (and logged); two logical
 * devices of one GPU share its driver figure. A device is probed (a small
 * op on a fresh instance, compared with the expected bits) before its
 * first use; one that fails is out of the pool. ZT_ETOOBIG with why when
 * nothing holds it.
 * Test hook: ZT_GPU_POOL_FREE_MB=i:N[,j:none] makes the driver report N
 * MiB free (or nothing) for pool entry i. */
ZT_NODISCARD int zt__pool_place(struct zt__pool *p, uint64_t bytes, unsigned want_slots, struct zt__place *out,
                                char *why, size_t why_size);
/* The model of a placement was loaded, or its load failed: the driver's
 * next reading begun after this shows what it took (until then the pool
 * subtracts it from the readings, also from one begun before this and
 * applied after it). */
void zt__pool_loaded(struct zt__pool *p, const struct zt__place *pl);
/* Gives a placement's memory and slots back. */
void zt__pool_release(struct zt__pool *p, const struct zt__place *pl);
/* The devices of a placement failed (an op answered ZT_EIO): out of the
 * pool for good (until the node restarts). */
void zt__pool_fail(struct zt__pool *p, const struct zt__place *pl, const char *why);

/* Reads the driver's free memory of every device again, when the last
 * reading is older than max_age_ms (the metrics scrape). */
void zt__pool_refresh(struct zt__pool *p, unsigned max_age_ms);

size_t zt__pool_count(const struct zt__pool *p);
/* Test hook: fn(arg) runs in every driver reading after the driver was
 * asked and before its figures are applied, without the pool's lock (the
 * window in which another thread's model may finish loading). */
void zt__pool_test_read_hook(struct zt__pool *p, void (*fn)(void *), void *arg);
void zt__pool_get(struct zt__pool *p, size_t i, struct zt__pool_entry *out);

#endif
