/* backend.h: the compute-backend seam of the engine (internal to src/engine
 * and its tests). docs/internals/backend.md has the whole story.
 *
 * The forward pass (model.c) never touches tensor memory itself: it names
 * tensors by (buffer, offset, shape) descriptors and asks a backend to move
 * data in and out of its memory and to run operations on it. A backend is a
 * table of function pointers (struct zt__backend_ops, designated
 * initialisers) plus the instance state behind struct zt__backend. The CPU
 * backend (cpu/cpu_backend.c) is the reference: every other backend is
 * tested op by op against it (tests/unit/test_backend_ops.c).
 *
 * Memory. A struct zt__buffer is an opaque handle owned by the backend that
 * made it: device memory on a GPU, and on the CPU simply the host address
 * (no allocation behind the handle). Weights come in through buffer_map
 * (the CPU wraps the mmapped file, zero copy; a device backend allocates and
 * uploads); activations, KV caches and tables through buffer_alloc +
 * buffer_set. The engine reads results back only with buffer_get.
 *
 * Ordering. Ops run in the order they are called, each seeing the results
 * of the ones before; a backend may queue them (a GPU command buffer) as
 * long as buffer_get and buffer_set wait for everything issued earlier.
 * Host arrays passed to an op (row ids, positions, KV views) are only read
 * during the call.
 *
 * Threads. One instance runs one forward pass at a time: op calls on an
 * instance are serialised by its owner (the model). buffer_alloc/free/map/
 * unmap may be called from any thread at any time (sequences are created
 * while another sequence decodes). A backend uses as many threads of its
 * own as set_threads says; results never depend on it.
 *
 * Errors: every fallible call returns 0 or a negative ZT_E* (ZT_ENOMEM for
 * memory, ZT_EIO for a device that failed); an op that fails leaves its
 * destination undefined and the forward pass gives up.
 *
 * Determinism: the CPU backend computes every element in the canonical
 * order of docs/internals/quant.md and backend.md; an instance whose
 * `exact` flag is set promises the same bits, and the op tests hold it to
 * that. */
#ifndef ZT_ENGINE_BACKEND_H
#define ZT_ENGINE_BACKEND_H

#include "zentalk/zt_engine.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_error.h"
#include "zentalk/zt_gguf.h"

struct zt__buffer; /* opaque, backend-owned memory */

/* A 2-D tensor: ne1 rows of ne0 elements of `type`; row r starts at byte
 * offset + r * nb1 of buf. Activations are F32 with nb1 = 4 * ne0; weights
 * have the rows of their GGUF type. A descriptor is a plain value: making
 * one allocates nothing. */
struct zt__tensor {
    struct zt__buffer *buf;
    size_t offset;
    enum zt_ggml_type type;
    size_t ne0;  /* row length, elements */
    size_t ne1;  /* rows */
    size_t nb1;  /* bytes between rows */
};

/* One batch item's view of its sequence's KV cache for the current layer:
 * k and v are (n_ctx, n_head_kv * head_dim), F32 or (where supports_kv
 * says so) F16. The item's own key and value go to row `pos`; its
 * attention reads rows [0, pos]. V is row-major (element (p, c) at
 * p * nb1 + c * es); K is too unless the instance's kv_k_tile is 16 (the
 * CPU, docs/internals/engine.md "K cache tiles"): then each whole tile of
 * 16 positions [16T, 16T + 16) below ne1 rounded down to 16 is stored
 * dimension-major, element (p, c) at byte 16T * nb1 + (16c + p - 16T) * es,
 * and the rows after the last whole tile stay row-major. Only kv_store and
 * attention read or write the layout (zt__kv_k_index gives it). */
struct zt__kv_view {
    struct zt__tensor k, v;
    uint32_t pos;
};

/* Rotary embedding of x (n rows of n_heads * head_dim): the first n_rot
 * dims of each head rotated by theta_i = pos * freq_scale * inv_freq[i],
 * pairs (2i, 2i+1), or (i, i + n_rot/2) when neox. inv_freq: F32, one row
 * of n_rot / 2, in the backend's memory. */
struct zt__rope {
    uint32_t n_heads, head_dim, n_rot;
    bool neox;
    float freq_scale;
    struct zt__tensor inv_freq;
};

/* Causal attention over each item's cache; query head h reads KV head
 * h / (n_head / n_head_kv). */
struct zt__attn {
    uint32_t n_head, n_head_kv, head_dim;
};

struct zt__backend;

struct zt__backend_ops {
    const char *name;

    void (*free)(struct zt__backend *be);
    /* Host threads the backend may use (1..256); never changes results. */
    ZT_NODISCARD int (*set_threads)(struct zt__backend *be, unsigned n_threads);
    /* Whether matmul and get_rows take weights of this type. */
    bool (*supports)(const struct zt__backend *be, enum zt_ggml_type type);

    /* ---- memory ---- */
    /* size bytes, zero-filled. */
    ZT_NODISCARD int (*buffer_alloc)(struct zt__backend *be, size_t size, struct zt__buffer **out);
    void (*buffer_free)(struct zt__backend *be, struct zt__buffer *buf); /* NULL: no-op */
    /* Read-only weights from host memory that outlives the buffer (the
     * model's mapping): the CPU wraps it, a device copies it. */
    ZT_NODISCARD int (*buffer_map)(struct zt__backend *be, const void *host, size_t size,
                                   struct zt__buffer **out);
    void (*buffer_unmap)(struct zt__backend *be, struct zt__buffer *buf); /* NULL: no-op */
    /* Upload size bytes at offset; ops issued later see them. */
    ZT_NODISCARD int (*buffer_set)(struct zt__backend *be, struct zt__buffer *buf, size_t offset,
                                   const void *src, size_t size);
    /* Waits for every op issued before it. */
    ZT_NODISCARD int (*buffer_get)(struct zt__backend *be, const struct zt__buffer *buf, size_t offset,
                                   void *dst, size_t size);

    /* Optional (NULL: F32 only): whether KV caches of this type work
     * (kv_store rounds into it, attention widens it exactly). */
    bool (*supports_kv)(const struct zt__backend *be, enum zt_ggml_type type);
    /* Optional (NULL: nothing to do): w is a weight matmul will read for
     * the rest of the instance's life (a matrix of the model); the backend
     * may keep its own faster copy (the CPU packs Q8_0/Q4_0/Q4_K/Q6_K
     * rows into interleaved groups). Never changes results; an error leaves w usable
     * as it is. */
    ZT_NODISCARD int (*prepare_weight)(struct zt__backend *be, const struct zt__tensor *w);

    /* ---- ops: dst is F32, its rows never overlap a source unless said ---- */
    /* dst[b] = row ids[b] of src (any supported weight type, or F32),
     * decoded to F32; b < n = dst->ne1. */
    ZT_NODISCARD int (*get_rows)(struct zt__backend *be, const struct zt__tensor *src, const int32_t *ids,
                                 const struct zt__tensor *dst);
    /* dst[b] = x[b] / sqrt(mean(x[b]^2) + eps) * g (g: one F32 row); the
     * squares are summed in index order. dst may be x. */
    ZT_NODISCARD int (*rmsnorm)(struct zt__backend *be, const struct zt__tensor *x, const struct zt__tensor *g,
                                float eps, const struct zt__tensor *dst);
    /* dst[b, r] = dot(w[r], x[b]) for r < w->ne1, b < x->ne1: x is F32,
     * quantised per row to w's activation format (zt_quant.h) first. */
    ZT_NODISCARD int (*matmul)(struct zt__backend *be, const struct zt__tensor *w, const struct zt__tensor *x,
                               const struct zt__tensor *dst);
    /* dst = a + b element-wise; b has a's rows or one row (broadcast).
     * dst may be a. */
    ZT_NODISCARD int (*add)(struct zt__backend *be, const struct zt__tensor *a, const struct zt__tensor *b,
                            const struct zt__tensor *dst);
    /* In place on x; pos[b] is row b's position. */
    ZT_NODISCARD int (*rope)(struct zt__backend *be, const struct zt__tensor *x, const uint32_t *pos,
                             const struct zt__rope *p);
    /* Row b of k and of v to row kv[b].pos of kv[b].k and kv[b].v. */
    ZT_NODISCARD int (*kv_store)(struct zt__backend *be, const struct zt__tensor *k, const struct zt__tensor *v,
                                 const struct zt__kv_view *kv);
    /* dst[b] (n_head * head_dim) = softmax(q[b] . K^T / sqrt(head_dim)) V
     * over rows [0, kv[b].pos] of item b's cache, per head. */
    ZT_NODISCARD int (*attention)(struct zt__backend *be, const struct zt__tensor *q, const struct zt__kv_view *kv,
                                  const struct zt__attn *p, const struct zt__tensor *dst);
    /* dst = silu(g) * u = (g / (1 + exp(-g))) * u. dst may be g. */
    ZT_NODISCARD int (*swiglu)(struct zt__backend *be, const struct zt__tensor *g, const struct zt__tensor *u,
                               const struct zt__tensor *dst);
};

/* The ops table of a backend whose functions are named <p>_free ...
 * <p>_swiglu, every entry set. */
#define ZT__BACKEND_OPS(p, nm)                                                                      \
    {                                                                                              \
        .name = nm, .free = p##_free, .set_threads = p##_set_threads, .supports = p##_supports,    \
        .buffer_alloc = p##_buffer_alloc, .buffer_free = p##_buffer_free,                          \
        .buffer_map = p##_buffer_map, .buffer_unmap = p##_buffer_unmap,                            \
        .buffer_set = p##_buffer_set, .buffer_get = p##_buffer_get, .get_rows = p##_get_rows,      \
        .rmsnorm = p##_rmsnorm, .matmul = p##_matmul, .add = p##_add, .rope = p##_rope,            \
        .kv_store = p##_kv_store, .attention = p##_attention, .swiglu = p##_swiglu,                \
    }

/* An instance: backends embed this as the first member of their state. */
struct zt__backend {
    const struct zt__backend_ops *ops;
    /* Bit-identical to the CPU backend on every op (the op tests check it
     * exactly; other backends are checked within a tolerance). Set by
     * create: always for the CPU; a device backend sets it when it runs in
     * its deterministic mode (zt__backend_params.exact). */
    bool exact;
    /* The K cache layout (zt__kv_view): 0 row-major, or 16 (tiles of 16
     * positions stored dimension-major). Set by create. */
    uint8_t kv_k_tile;
};

/* The element index of K cache element (p, c) in a view of ne1 rows, ks
 * elements a row, under layout `tile` (0 or 16: zt__kv_view). */
static inline size_t zt__kv_k_index(unsigned tile, size_t ne1, size_t ks, size_t p, size_t c)
{
    if (tile && p < ne1 - ne1 % tile) return (p - p % tile) * ks + c * tile + p % tile;
    return p * ks + c;
}

/* ---- registry ------------------------------------------------------------ */

struct zt__backend_params {
    unsigned n_threads; /* host threads (0 = 1) */
    unsigned device;    /* device index for backends with several (CPU: ignored) */
    bool exact;         /* ask for the CPU's bits (a device's deterministic mode;
                         * CPU: always); the instance's `exact` says what it got */
    bool bf16;          /* the declared BF16 precision mode (zt_quant.h): float
                         * matrices in bf16 (the CPU only; model.c refuses it
                         * on the others) */
};

/* A compiled-in backend: backend.c lists them (the CPU first). create
 * returns ZT_ENOTFOUND when this machine has no such device. */
struct zt__backend_reg {
    const char *name;
    ZT_NODISCARD int (*create)(const struct zt__backend_params *p, struct zt__backend **out);
    /* optional: the devices this backend sees (zt_engine_gpus) */
    int (*list)(struct zt_gpu_info *out, size_t cap, size_t *n);
};

extern const struct zt__backend_reg zt__backend_cpu_reg;

size_t zt__backend_count(void);
const struct zt__backend_reg *zt__backend_at(size_t i);
/* By name (NULL = "cpu"): ZT_ENOTFOUND for a backend this build lacks. */
ZT_NODISCARD int zt__backend_new(const char *name, const struct zt__backend_params *p, struct zt__backend **out);
void zt__backend_free(struct zt__backend *be);
/* One model across two devices of backend `name` (backend_split.c): the
 * first budget0 bytes of weights (in the order they are mapped, i.e. the
 * first layers) on devices[0], the rest on devices[1]; p as for
 * zt__backend_new (its device is ignored). The instance's ops name is
 * "split". */
ZT_NODISCARD int zt__backend_new_split(const char *name, const struct zt__backend_params *p,
                                       const unsigned devices[2], uint64_t budget0, struct zt__backend **out);

/* What a split instance holds on its two devices (bytes): weights, and
 * the windows of the buffers the engine allocated (activations, KV caches,
 * tables) now and at most; `full` (full_peak at most) is what those
 * buffers take in all, i.e. what each device would hold with a copy of
 * every one; grown counts windows that had to grow (a new, larger
 * allocation). ZT_EINVAL when be is not a split instance. */
struct zt__split_stats {
    uint64_t weights[2], held[2], peak[2];
    uint64_t full, full_peak;
    uint64_t grown[2];
};
ZT_NODISCARD int zt__backend_split_stats(struct zt__backend *be, struct zt__split_stats *out);
struct zt_model;
/* The backend instance a model runs on (tests). */
struct zt__backend *zt__model_be(const struct zt_model *m);

/* For device backends: the weight types they have kernels for (the CPU's:
 * F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K), and the checks of a weight
 * tensor before a kernel reads it: a type without kernels is
 * ZT_EUNSUPPORTED (logged under `who`), misaligned rows or a length that is
 * not whole blocks ZT_EINVAL, rows past buf_size (the buffer's bytes)
 * ZT_ERANGE. */
bool zt__backend_weight_type(enum zt_ggml_type type);
ZT_NODISCARD int zt__backend_check_weight(const struct zt__tensor *t, size_t buf_size, const char *who);

/* The checks of a device backend's get_rows: dst rows as long as src's
 * (ZT_EINVAL), every one of dst's ne1 ids a row of src (ZT_ERANGE). */
ZT_NODISCARD int zt__get_rows_check(const struct zt__tensor *src, const int32_t *ids, const struct zt__tensor *dst);

/* Whether a device backend's rope kernel can apply p to x: an even n_rot
 * within head_dim, inv_freq with n_rot / 2 entries, the heads within a row
 * of x. */
bool zt__rope_fits(const struct zt__tensor *x, const struct zt__rope *p);

/* The device a GPU backend opens: the index in the environment variable
 * env (decimal, at most 1000) when it is set, else want. ZT_EINVAL, logged
 * under tag, when env holds anything else. */
ZT_NODISCARD int zt__backend_device_index(const char *env, const char *tag, unsigned want, unsigned *out);

/* A device backend's fault-injection hook for the tests: the number in the
 * environment variable env when it is a whole number in [0, max), else -1
 * (no failure). */
int zt__backend_fail_after(const char *env, long max);

/* In an op of a backend whose calls hold one mutex *mu: return call's result
 * computed under it. */
#define ZT__BACKEND_LOCKED(mu, call)    \
    do {                                \
        pthread_mutex_lock(mu);         \
        int rc_ = (call);               \
        pthread_mutex_unlock(mu);       \
        return rc_;                     \
    } while (0)

/* A tensor descriptor over buf (F32 rows of ne0 when type is F32). */
static inline struct zt__tensor zt__tensor_f32(struct zt__buffer *buf, size_t offset, size_t ne0, size_t ne1)
{
    return (struct zt__tensor){.buf = buf, .offset = offset, .type = ZT_GGML_F32, .ne0 = ne0, .ne1 = ne1,
                               .nb1 = ne0 * sizeof(float)};
}

#endif
