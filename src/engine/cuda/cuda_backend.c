/* cuda_backend.c: the CUDA compute backend (backend.h,
 * docs/internals/cuda.md). The kernels (kernels.cu) are compiled by nvcc at
 * build time into two fatbins embedded in the binary (cuda_exact: the
 * deterministic mode; cuda_fast: --use_fast_math), and run through the CUDA
 * driver API, which this file loads with dlopen("libcuda.so.1"): the binary
 * links nothing of CUDA and starts on a machine without the NVIDIA driver,
 * where `create` answers ZT_ENOTFOUND ("no CUDA driver").
 *
 * One instance holds the primary context of one device; every buffer is
 * one cuMemAlloc (device memory, zero-filled); uploads and downloads are
 * synchronous copies on the legacy default stream, where the kernels run
 * too, so buffer_set and buffer_get see every op issued before them. Small
 * host arrays of an op (row ids, positions, the caches of each batch item)
 * travel in the kernel's argument block (cuda_args.h), ZT_CU_ITEMS rows per
 * launch. A device error (a failed launch, an illegal address) marks the
 * instance failed: every later call answers ZT_EIO (the GPU pool's health
 * check then takes the device out).
 *
 * Weight types: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K (the CPU's); KV
 * caches F32. In the deterministic mode every op is the CPU backend's bits
 * (kernels.cu says how); the fast mode is within the tolerances of
 * test_backend_ops. */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "backend.h"
#include "cuda_args.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"

/* ---- the driver API, loaded at run time ---------------------------------------- */

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;

enum { CU_OK = 0, CU_ERR_OUT_OF_MEMORY = 2, CU_ERR_NO_DEVICE = 100 };
enum { CU_ATTR_CC_MAJOR = 75, CU_ATTR_CC_MINOR = 76 };

struct cu_api {
    void *lib;
    char why[160]; /* why the driver is not there */
    CUresult (*Init)(unsigned);
    CUresult (*DriverGetVersion)(int *);
    CUresult (*DeviceGetCount)(int *);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DeviceGetName)(char *, int, CUdevice);
    CUresult (*DeviceTotalMem)(size_t *, CUdevice);
    CUresult (*DeviceGetAttribute)(int *, int, CUdevice);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*DevicePrimaryCtxRelease)(CUdevice);
    CUresult (*DevicePrimaryCtxGetState)(CUdevice, unsigned *, int *);
    CUresult (*DeviceGetPCIBusId)(char *, int, CUdevice);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*CtxSynchronize)(void);
    CUresult (*MemGetInfo)(size_t *, size_t *);
    CUresult (*MemAlloc)(CUdeviceptr *, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*MemsetD8)(CUdeviceptr, unsigned char, size_t);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleUnload)(CUmodule);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void **, void **);
    CUresult (*GetErrorName)(CUresult, const char **);
};
static struct cu_api cu;

static pthread_once_t cu_once = PTHREAD_ONCE_INIT;
static CUresult cu_init_rc = -1;

static void cu_load(void)
{
    const char *env = getenv("ZT_CUDA_DRIVER"); /* tests: a library that is not the driver */
    cu.lib = dlopen(env && *env ? env : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!cu.lib) {
        const char *e = dlerror();
        snprintf(cu.why, sizeof cu.why, "no CUDA driver (libcuda.so.1: %s)", e ? e : "not found");
        return;
    }
    static const struct {
        const char *name;
        size_t off;
    } syms[] = {
#define S(f, n) {n, offsetof(struct cu_api, f)}
        S(Init, "cuInit"), S(DriverGetVersion, "cuDriverGetVersion"), S(DeviceGetCount, "cuDeviceGetCount"),
        S(DeviceGet, "cuDeviceGet"), S(DeviceGetName, "cuDeviceGetName"), S(DeviceTotalMem, "cuDeviceTotalMem_v2"),
        S(DeviceGetAttribute, "cuDeviceGetAttribute"), S(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
        S(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"), S(CtxSetCurrent, "cuCtxSetCurrent"),
        S(DevicePrimaryCtxGetState, "cuDevicePrimaryCtxGetState"), S(DeviceGetPCIBusId, "cuDeviceGetPCIBusId"),
        S(CtxSynchronize, "cuCtxSynchronize"), S(MemGetInfo, "cuMemGetInfo_v2"), S(MemAlloc, "cuMemAlloc_v2"),
        S(MemFree, "cuMemFree_v2"), S(MemcpyHtoD, "cuMemcpyHtoD_v2"), S(MemcpyDtoH, "cuMemcpyDtoH_v2"),
        S(MemsetD8, "cuMemsetD8_v2"), S(ModuleLoadData, "cuModuleLoadData"), S(ModuleUnload, "cuModuleUnload"),
        S(ModuleGetFunction, "cuModuleGetFunction"), S(LaunchKernel, "cuLaunchKernel"),
        S(GetErrorName, "cuGetErrorName"),
#undef S
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *f = dlsym(cu.lib, syms[i].name);
        if (!f) {
            snprintf(cu.why, sizeof cu.why, "the CUDA driver has no %s (too old?)", syms[i].name);
            dlclose(cu.lib);
            cu.lib = NULL;
            return;
        }
        memcpy((char *)&cu + syms[i].off, &f, sizeof f);
    }
    cu_init_rc = cu.Init(0);
    if (cu_init_rc != CU_OK) snprintf(cu.why, sizeof cu.why, "the CUDA driver did not start (cuInit: %d)", cu_init_rc);
}

/* 0 when the driver is loaded and initialised; else ZT_ENOTFOUND, *why set */
static int cu_ready(const char **why)
{
    pthread_once(&cu_once, cu_load);
    if (cu.lib && cu_init_rc == CU_OK) return 0;
    *why = cu.why;
    return ZT_ENOTFOUND;
}

static int cufail(const char *what, CUresult r)
{
    const char *name = NULL;
    if (cu.GetErrorName) cu.GetErrorName(r, &name);
    zt_log(ZT_LOG_ERROR, "cuda", "%s failed (%s, %d)", what, name ? name : "?", r);
    return r == CU_ERR_OUT_OF_MEMORY ? ZT_ENOMEM : ZT_EIO;
}

/* ---- embedded kernels (cuda_exact_fatbin.c, cuda_fast_fatbin.c: cmake/embed.cmake) ---- */

extern const unsigned char zt__cuda_fatbin_exact[];
extern const size_t zt__cuda_fatbin_exact_len;
extern const unsigned char zt__cuda_fatbin_fast[];
extern const size_t zt__cuda_fatbin_fast_len;

enum { K_GET_ROWS, K_RMSNORM, K_BINARY, K_ROPE, K_COPY_ROWS, K_ATTENTION, K_QUANT_Q8, K_QUANT_Q8K, K_MATMUL_F,
       K_MATMUL_Q8, K_MATMUL_K, K_COUNT };
static const char *const kernel_names[K_COUNT] = {
    "zt_get_rows", "zt_rmsnorm",  "zt_binary",   "zt_rope",     "zt_copy_rows", "zt_attention",
    "zt_quant_q8", "zt_quant_q8k", "zt_matmul_f", "zt_matmul_q8", "zt_matmul_k",
};

/* ---- instance ------------------------------------------------------------------------ */

struct zt__buffer {
    CUdeviceptr ptr;
    size_t size;
};

struct cuda {
    struct zt__backend base;
    pthread_mutex_t mu; /* every call into the driver for this instance */
    CUdevice dev;
    int ordinal;
    CUcontext ctx;
    CUmodule mod;
    CUfunction fn[K_COUNT];
    bool det;
    bool failed;       /* a device error: every later call is ZT_EIO */
    int fail_after;    /* test hook (ZT_CUDA_FAIL_AFTER): ops left before one fails; -1 = never */
    struct zt__buffer scratch[2]; /* 0: quantised activations, 1: attention scores */
    char name[256];
};

static struct cuda *cu_of(struct zt__backend *be) { return (struct cuda *)be; }

/* Enter the instance: lock, make its context current on this thread. */
static int enter(struct cuda *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->failed) {
        pthread_mutex_unlock(&c->mu);
        return ZT_EIO;
    }
    CUresult r = cu.CtxSetCurrent(c->ctx);
    if (r != CU_OK) {
        int rc = cufail("cuCtxSetCurrent", r);
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    return 0;
}

/* Leave: a device error (not a plain out-of-memory) fails the instance. */
static int leave(struct cuda *c, int rc)
{
    if (rc == ZT_EIO && !c->failed) {
        c->failed = true;
        zt_log(ZT_LOG_ERROR, "cuda", "device %d (%s) failed: its instance answers errors from now on", c->ordinal,
               c->name);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int launch(struct cuda *c, int k, unsigned gx, unsigned gy, unsigned block, void *args)
{
    if (gx == 0 || gy == 0) return 0;
    if (gy > 65535) return ZT_ERANGE;
    if (c->fail_after >= 0 && c->fail_after-- == 0) {
        zt_log(ZT_LOG_ERROR, "cuda", "%s failed (ZT_CUDA_FAIL_AFTER test hook)", kernel_names[k]);
        return ZT_EIO;
    }
    void *params[1] = {args};
    CUresult r = cu.LaunchKernel(c->fn[k], gx, gy, 1, block, 1, 1, 0, NULL, params, NULL);
    return r == CU_OK ? 0 : cufail(kernel_names[k], r);
}

static unsigned groups(size_t n, unsigned per) { return (unsigned)((n + per - 1) / per); }

/* ---- buffers ------------------------------------------------------------------------------ */

static int dev_alloc(size_t size, CUdeviceptr *out)
{
    CUresult r = cu.MemAlloc(out, size ? size : 4);
    if (r != CU_OK) return cufail("cuMemAlloc", r);
    r = cu.MemsetD8(*out, 0, size ? size : 4);
    if (r != CU_OK) {
        cu.MemFree(*out);
        return cufail("cuMemsetD8", r);
    }
    return 0;
}

/* Frees after the queued work that may still read the memory. */
static void dev_free(CUdeviceptr p)
{
    if (!p) return;
    cu.CtxSynchronize();
    cu.MemFree(p);
}

/* At least `bytes` of scratch slot i. */
static int scratch(struct cuda *c, int i, size_t bytes)
{
    struct zt__buffer *s = &c->scratch[i];
    if (s->ptr && s->size >= bytes) return 0;
    size_t want = s->size ? s->size * 2 : (size_t)1 << 20;
    if (want < bytes) want = bytes;
    dev_free(s->ptr);
    s->ptr = 0;
    s->size = 0;
    int rc = dev_alloc(want, &s->ptr);
    if (!rc) s->size = want;
    return rc;
}

static int cuda_buffer_alloc(struct zt__backend *be, size_t size, struct zt__buffer **out)
{
    struct cuda *c = cu_of(be);
    struct zt__buffer *b = zt_calloc(1, sizeof *b);
    if (!b) return ZT_ENOMEM;
    int rc = enter(c);
    if (rc) {
        zt_free(b);
        return rc;
    }
    rc = dev_alloc(size, &b->ptr);
    rc = leave(c, rc);
    if (rc) {
        zt_free(b);
        return rc;
    }
    b->size = size;
    *out = b;
    return 0;
}

static void cuda_buffer_free(struct zt__backend *be, struct zt__buffer *buf)
{
    if (!buf) return;
    struct cuda *c = cu_of(be);
    pthread_mutex_lock(&c->mu);
    if (cu.CtxSetCurrent(c->ctx) == CU_OK) dev_free(buf->ptr); /* also after a failure: give the memory back */
    pthread_mutex_unlock(&c->mu);
    zt_free(buf);
}

/* Copy size bytes at offset of buf from the host's src to the device
 * (to_device), or from the device to dst (this waits for the ops before
 * it). */
static int copy_bytes(struct zt__backend *be, const struct zt__buffer *buf, size_t offset, bool to_device,
                      const void *src, void *dst, size_t size)
{
    if (offset > buf->size || size > buf->size - offset) return ZT_ERANGE;
    if (!size) return 0;
    struct cuda *c = cu_of(be);
    int rc = enter(c);
    if (rc) return rc;
    if (to_device) {
        CUresult r = cu.MemcpyHtoD(buf->ptr + offset, src, size);
        return leave(c, r == CU_OK ? 0 : cufail("cuMemcpyHtoD", r));
    }
    CUresult r = cu.MemcpyDtoH(dst, buf->ptr + offset, size);
    return leave(c, r == CU_OK ? 0 : cufail("cuMemcpyDtoH (an op before it may have failed)", r));
}

static int cuda_buffer_set(struct zt__backend *be, struct zt__buffer *buf, size_t offset, const void *src,
                           size_t size)
{
    return copy_bytes(be, buf, offset, true, src, NULL, size);
}

static int cuda_buffer_get(struct zt__backend *be, const struct zt__buffer *buf, size_t offset, void *dst,
                           size_t size)
{
    return copy_bytes(be, buf, offset, false, NULL, dst, size);
}

/* Weights are copied to the device; unmapping frees the copy. */
static int cuda_buffer_map(struct zt__backend *be, const void *host, size_t size, struct zt__buffer **out)
{
    struct zt__buffer *b;
    int rc = cuda_buffer_alloc(be, size, &b);
    if (rc) return rc;
    rc = cuda_buffer_set(be, b, 0, host, size);
    if (rc) {
        cuda_buffer_free(be, b);
        return rc;
    }
    *out = b;
    return 0;
}

static void cuda_buffer_unmap(struct zt__backend *be, struct zt__buffer *buf) { cuda_buffer_free(be, buf); }

/* ---- tensor checks ----------------------------------------------------------------------- */

/* F32 tensor: device address of row 0, row stride in floats, rows inside the buffer. */
static int f32_view(const struct zt__tensor *t, CUdeviceptr *addr, uint32_t *stride)
{
    if (t->type != ZT_GGML_F32 || t->offset % 4 || t->nb1 % 4 || t->nb1 / 4 > UINT32_MAX) return ZT_EINVAL;
    if (t->ne1 && t->offset + (t->ne1 - 1) * t->nb1 + t->ne0 * 4 > t->buf->size) return ZT_ERANGE;
    *addr = t->buf->ptr + t->offset;
    *stride = (uint32_t)(t->nb1 / 4);
    return 0;
}

/* The F32 views of two operands and a destination (rmsnorm's x, g; add and swiglu's a, b). */
struct views3 {
    CUdeviceptr a, b, dst;
    uint32_t as, bs, ds;
};

static int f32_views3(const struct zt__tensor *a, const struct zt__tensor *b, const struct zt__tensor *dst,
                      struct views3 *v)
{
    int rc = f32_view(a, &v->a, &v->as);
    if (!rc) rc = f32_view(b, &v->b, &v->bs);
    if (!rc) rc = f32_view(dst, &v->dst, &v->ds);
    return rc;
}

static bool cuda_supports(const struct zt__backend *be, enum zt_ggml_type type)
{
    (void)be;
    return zt__backend_weight_type(type);
}

static uint32_t cu_type(enum zt_ggml_type t)
{
    switch (t) {
    case ZT_GGML_F16: return ZT_CU_F16;
    case ZT_GGML_BF16: return ZT_CU_BF16;
    case ZT_GGML_Q8_0: return ZT_CU_Q8_0;
    case ZT_GGML_Q4_0: return ZT_CU_Q4_0;
    case ZT_GGML_Q4_K: return ZT_CU_Q4_K;
    case ZT_GGML_Q6_K: return ZT_CU_Q6_K;
    default: return ZT_CU_F32;
    }
}

static int weight_view(const struct zt__tensor *t)
{
    return zt__backend_check_weight(t, t->buf->size, "cuda");
}

/* ---- ops -------------------------------------------------------------------------------------- */

#define OP(c, call)                       \
    do {                                  \
        int rc_ = enter(c);               \
        if (rc_) return rc_;              \
        return leave((c), (call));        \
    } while (0)

static int get_rows_locked(struct cuda *c, const struct zt__tensor *src, const int32_t *ids,
                           const struct zt__tensor *dst)
{
    CUdeviceptr d0;
    uint32_t ds;
    int rc = weight_view(src);
    if (!rc) rc = f32_view(dst, &d0, &ds);
    if (!rc) rc = zt__get_rows_check(src, ids, dst);
    if (rc) return rc;
    for (size_t b0 = 0; b0 < dst->ne1; b0 += ZT_CU_ITEMS) {
        size_t nb = dst->ne1 - b0 < ZT_CU_ITEMS ? dst->ne1 - b0 : ZT_CU_ITEMS;
        struct zt_cu_get_rows a = {.src = src->buf->ptr + src->offset, .dst = d0 + b0 * ds * 4, .nb1 = src->nb1,
                                   .dst_stride = ds, .n = (uint32_t)src->ne0, .type = cu_type(src->type),
                                   .rows = (uint32_t)nb};
        memcpy(a.ids, ids + b0, nb * sizeof(int32_t));
        rc = launch(c, K_GET_ROWS, groups(src->ne0, 256), (unsigned)nb, 256, &a);
        if (rc) return rc;
    }
    return 0;
}

static int cuda_get_rows(struct zt__backend *be, const struct zt__tensor *src, const int32_t *ids,
                         const struct zt__tensor *dst)
{
    OP(cu_of(be), get_rows_locked(cu_of(be), src, ids, dst));
}

static int rmsnorm_locked(struct cuda *c, const struct zt__tensor *x, const struct zt__tensor *g, float eps,
                          const struct zt__tensor *dst)
{
    struct views3 v;
    int rc = f32_views3(x, g, dst, &v);
    if (rc) return rc;
    if (x->ne1 > 65535) return ZT_ERANGE;
    struct zt_cu_rmsnorm a = {.x = v.a, .g = v.b, .dst = v.dst, .x_stride = v.as, .dst_stride = v.ds,
                              .n = (uint32_t)x->ne0, .eps = eps};
    /* one block per row: the grid's x dimension */
    return launch(c, K_RMSNORM, (unsigned)x->ne1, 1, 256, &a);
}

static int cuda_rmsnorm(struct zt__backend *be, const struct zt__tensor *x, const struct zt__tensor *g, float eps,
                        const struct zt__tensor *dst)
{
    OP(cu_of(be), rmsnorm_locked(cu_of(be), x, g, eps, dst));
}

/* add (op 0) and swiglu (op 1); b may be one row (broadcast) */
static int binary_locked(struct cuda *c, const struct zt__tensor *a, const struct zt__tensor *bt,
                         const struct zt__tensor *dst, uint32_t op)
{
    struct views3 v;
    int rc = f32_views3(a, bt, dst, &v);
    if (rc) return rc;
    if (bt->ne1 == 1 && a->ne1 != 1) v.bs = 0;
    struct zt_cu_binary k = {.a = v.a, .b = v.b, .dst = v.dst, .a_stride = v.as, .b_stride = v.bs,
                             .dst_stride = v.ds, .n = (uint32_t)a->ne0, .op = op};
    return launch(c, K_BINARY, groups(a->ne0, 256), (unsigned)a->ne1, 256, &k);
}

static int cuda_add(struct zt__backend *be, const struct zt__tensor *a, const struct zt__tensor *b,
                    const struct zt__tensor *dst)
{
    OP(cu_of(be), binary_locked(cu_of(be), a, b, dst, 0));
}

static int cuda_swiglu(struct zt__backend *be, const struct zt__tensor *g, const struct zt__tensor *u,
                       const struct zt__tensor *dst)
{
    OP(cu_of(be), binary_locked(cu_of(be), g, u, dst, 1));
}

static int matmul_locked(struct cuda *c, const struct zt__tensor *w, const struct zt__tensor *x,
                         const struct zt__tensor *dst)
{
    CUdeviceptr xa, da;
    uint32_t xs, ds;
    int rc = weight_view(w);
    if (!rc) rc = f32_view(x, &xa, &xs);
    if (!rc) rc = f32_view(dst, &da, &ds);
    if (rc) return rc;
    if (x->ne0 != w->ne0 || dst->ne0 < w->ne1) return ZT_EINVAL;
    if (!x->ne1 || !w->ne1) return 0;
    struct zt_cu_matmul a = {.w = w->buf->ptr + w->offset, .x = xa, .dst = da, .w_nb1 = w->nb1, .x_stride = xs,
                             .dst_stride = ds, .n = (uint32_t)w->ne0, .rows = (uint32_t)w->ne1,
                             .batch = (uint32_t)x->ne1, .type = cu_type(w->type)};
    unsigned gy = groups(x->ne1, 4);
    if (w->type == ZT_GGML_F32 || w->type == ZT_GGML_F16 || w->type == ZT_GGML_BF16)
        return launch(c, K_MATMUL_F, groups(w->ne1, 4), gy, 128, &a);
    bool k = w->type == ZT_GGML_Q4_K || w->type == ZT_GGML_Q6_K;
    size_t nb = w->ne0 / (k ? 256 : 32), words = k ? 65 : 9;
    rc = scratch(c, 0, nb * words * 4 * x->ne1);
    if (rc) return rc;
    struct zt_cu_quant q = {.x = xa, .xq = c->scratch[0].ptr, .x_stride = xs, .n = (uint32_t)w->ne0,
                            .rows = (uint32_t)x->ne1};
    rc = launch(c, k ? K_QUANT_Q8K : K_QUANT_Q8, groups(nb, 128), (unsigned)x->ne1, 128, &q);
    if (rc) return rc;
    a.x = c->scratch[0].ptr;
    a.x_stride = 0; /* quantised rows are packed; the kernels index by batch row */
    if (k) return launch(c, K_MATMUL_K, groups(w->ne1, 4), gy, 128, &a);
    return launch(c, K_MATMUL_Q8, groups(w->ne1, 4), gy, 128, &a);
}

static int cuda_matmul(struct zt__backend *be, const struct zt__tensor *w, const struct zt__tensor *x,
                       const struct zt__tensor *dst)
{
    OP(cu_of(be), matmul_locked(cu_of(be), w, x, dst));
}

static int rope_locked(struct cuda *c, const struct zt__tensor *x, const uint32_t *pos, const struct zt__rope *p)
{
    CUdeviceptr xa, ia;
    uint32_t xs, is;
    int rc = f32_view(x, &xa, &xs);
    if (!rc) rc = f32_view(&p->inv_freq, &ia, &is);
    if (rc) return rc;
    if (!zt__rope_fits(x, p)) return ZT_EINVAL;
    uint32_t half = p->n_rot / 2;
    for (size_t b0 = 0; b0 < x->ne1; b0 += ZT_CU_ITEMS) {
        size_t nb = x->ne1 - b0 < ZT_CU_ITEMS ? x->ne1 - b0 : ZT_CU_ITEMS;
        struct zt_cu_rope a = {.x = xa + b0 * xs * 4, .inv_freq = ia, .x_stride = xs, .half = half,
                               .n_heads = p->n_heads, .head_dim = p->head_dim, .neox = p->neox ? 1u : 0u,
                               .freq_scale = p->freq_scale};
        memcpy(a.pos, pos + b0, nb * sizeof(uint32_t));
        rc = launch(c, K_ROPE, groups((size_t)half * p->n_heads, 256), (unsigned)nb, 256, &a);
        if (rc) return rc;
    }
    return 0;
}

static int cuda_rope(struct zt__backend *be, const struct zt__tensor *x, const uint32_t *pos, const struct zt__rope *p)
{
    OP(cu_of(be), rope_locked(cu_of(be), x, pos, p));
}

/* rows of src to row kv[b].pos of the cache `which` (0: k, 1: v) of each item */
static int store_rows(struct cuda *c, const struct zt__tensor *src, const struct zt__kv_view *kv, int which)
{
    CUdeviceptr sa;
    uint32_t ss;
    int rc = f32_view(src, &sa, &ss);
    if (rc) return rc;
    for (size_t b0 = 0; b0 < src->ne1; b0 += ZT_CU_ITEMS) {
        size_t nb = src->ne1 - b0 < ZT_CU_ITEMS ? src->ne1 - b0 : ZT_CU_ITEMS;
        struct zt_cu_copy_rows a = {.src = sa + b0 * ss * 4, .src_stride = ss, .n = (uint32_t)src->ne0};
        for (size_t b = 0; b < nb; b++) {
            const struct zt__tensor *cache = which ? &kv[b0 + b].v : &kv[b0 + b].k;
            CUdeviceptr ca;
            uint32_t cs;
            rc = f32_view(cache, &ca, &cs);
            if (rc) return rc;
            if (kv[b0 + b].pos >= cache->ne1 || cache->ne0 < src->ne0) return ZT_ERANGE;
            a.dst[b] = ca + (uint64_t)kv[b0 + b].pos * cs * 4;
        }
        rc = launch(c, K_COPY_ROWS, groups(src->ne0, 256), (unsigned)nb, 256, &a);
        if (rc) return rc;
    }
    return 0;
}

static int cuda_kv_store(struct zt__backend *be, const struct zt__tensor *k, const struct zt__tensor *v,
                         const struct zt__kv_view *kv)
{
    struct cuda *c = cu_of(be);
    int rc = enter(c);
    if (rc) return rc;
    rc = store_rows(c, k, kv, 0);
    if (!rc) rc = store_rows(c, v, kv, 1);
    return leave(c, rc);
}

static int attention_locked(struct cuda *c, const struct zt__tensor *q, const struct zt__kv_view *kv,
                            const struct zt__attn *p, const struct zt__tensor *dst)
{
    CUdeviceptr qa, da;
    uint32_t qs, ds;
    int rc = f32_view(q, &qa, &qs);
    if (!rc) rc = f32_view(dst, &da, &ds);
    if (rc) return rc;
    size_t n = q->ne1;
    if (!n) return 0;
    if (!p->n_head_kv || p->n_head % p->n_head_kv || (size_t)p->n_head * p->head_dim > q->ne0 || !p->head_dim)
        return ZT_EINVAL;
    float scale = 1.0f / sqrtf((float)p->head_dim);
    for (size_t b0 = 0; b0 < n; b0 += ZT_CU_ITEMS) {
        size_t nb = n - b0 < ZT_CU_ITEMS ? n - b0 : ZT_CU_ITEMS;
        struct zt_cu_attention a = {.q = qa + b0 * qs * 4, .dst = da + b0 * ds * 4, .q_stride = qs,
                                    .dst_stride = ds, .n_head = p->n_head, .group = p->n_head / p->n_head_kv,
                                    .head_dim = p->head_dim, .scale = scale};
        uint32_t max_pos = 0;
        for (size_t b = 0; b < nb; b++) {
            const struct zt__kv_view *v = &kv[b0 + b];
            CUdeviceptr ka, va;
            uint32_t ks, vs;
            rc = f32_view(&v->k, &ka, &ks);
            if (!rc) rc = f32_view(&v->v, &va, &vs);
            if (rc) return rc;
            if (v->pos >= v->k.ne1 || v->pos >= v->v.ne1) return ZT_ERANGE;
            if ((size_t)p->n_head_kv * p->head_dim > v->k.ne0 || (size_t)p->n_head_kv * p->head_dim > v->v.ne0)
                return ZT_EINVAL;
            a.it[b] = (struct zt_cu_attn_item){.k = ka, .v = va, .k_stride = ks, .v_stride = vs, .pos = v->pos};
            if (v->pos + 1 > max_pos) max_pos = v->pos + 1;
        }
        a.max_pos = max_pos;
        rc = scratch(c, 1, nb * p->n_head * (size_t)max_pos * sizeof(float));
        if (rc) return rc;
        a.scores = c->scratch[1].ptr;
        rc = launch(c, K_ATTENTION, p->n_head, (unsigned)nb, 128, &a);
        if (rc) return rc;
    }
    return 0;
}

static int cuda_attention(struct zt__backend *be, const struct zt__tensor *q, const struct zt__kv_view *kv,
                          const struct zt__attn *p, const struct zt__tensor *dst)
{
    OP(cu_of(be), attention_locked(cu_of(be), q, kv, p, dst));
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static int cuda_set_threads(struct zt__backend *be, unsigned n_threads)
{
    (void)be;
    return n_threads < 1 || n_threads > 256 ? ZT_EINVAL : 0; /* the device decides its own parallelism */
}

static void cuda_free(struct zt__backend *be)
{
    struct cuda *c = cu_of(be);
    if (c->ctx && cu.CtxSetCurrent(c->ctx) == CU_OK) {
        cu.CtxSynchronize();
        dev_free(c->scratch[0].ptr);
        dev_free(c->scratch[1].ptr);
        if (c->mod) cu.ModuleUnload(c->mod);
        cu.CtxSetCurrent(NULL);
        cu.DevicePrimaryCtxRelease(c->dev);
    }
    pthread_mutex_destroy(&c->mu);
    zt_free(c);
}

static const struct zt__backend_ops cuda_ops = ZT__BACKEND_OPS(cuda, "cuda");

/* The device index: ZT_CUDA_DEVICE overrides `want`. */
static int pick(unsigned want, int *ordinal)
{
    if (zt__backend_device_index("ZT_CUDA_DEVICE", "cuda", want, &want) != 0) return ZT_EINVAL;
    int n = 0;
    CUresult r = cu.DeviceGetCount(&n);
    if (r != CU_OK || n == 0) {
        zt_log(ZT_LOG_INFO, "cuda", "no CUDA device");
        return ZT_ENOTFOUND;
    }
    if (want >= (unsigned)n) {
        zt_log(ZT_LOG_ERROR, "cuda", "no CUDA device %u (this machine has %d)", want, n);
        return ZT_ENOTFOUND;
    }
    *ordinal = (int)want;
    return 0;
}

static int cuda_create(const struct zt__backend_params *p, struct zt__backend **out)
{
    const char *why;
    if (cu_ready(&why)) {
        zt_log(ZT_LOG_INFO, "cuda", "%s", why);
        return ZT_ENOTFOUND;
    }
    struct cuda *c = zt_calloc(1, sizeof *c);
    if (!c) return ZT_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->base.ops = &cuda_ops;
    c->fail_after = zt__backend_fail_after("ZT_CUDA_FAIL_AFTER", 1000000);
    void *image = NULL;
    int rc = pick(p->device, &c->ordinal);
    if (rc) goto out;
    CUresult r = cu.DeviceGet(&c->dev, c->ordinal);
    if (r == CU_OK) r = cu.DeviceGetName(c->name, (int)sizeof c->name, c->dev);
    if (r == CU_OK) r = cu.DevicePrimaryCtxRetain(&c->ctx, c->dev);
    if (r != CU_OK) {
        c->ctx = NULL;
        rc = cufail("opening the device", r);
        goto out;
    }
    r = cu.CtxSetCurrent(c->ctx);
    if (r != CU_OK) {
        rc = cufail("cuCtxSetCurrent", r);
        goto out;
    }
    /* Both modes need nothing the device may lack (IEEE fma, division and
     * sqrt are native): the deterministic one is always available. */
    c->det = p->exact;
    c->base.exact = c->det;
    size_t len = c->det ? zt__cuda_fatbin_exact_len : zt__cuda_fatbin_fast_len;
    image = zt_malloc(len + 16); /* the driver wants the image aligned: zt_malloc's alignment */
    if (!image) {
        rc = ZT_ENOMEM;
        goto out;
    }
    memcpy(image, c->det ? zt__cuda_fatbin_exact : zt__cuda_fatbin_fast, len);
    r = cu.ModuleLoadData(&c->mod, image);
    if (r != CU_OK) {
        c->mod = NULL;
        rc = cufail("loading the kernels (cuModuleLoadData: no image for this GPU's architecture?)", r);
        goto out;
    }
    for (int k = 0; k < K_COUNT; k++) {
        r = cu.ModuleGetFunction(&c->fn[k], c->mod, kernel_names[k]);
        if (r != CU_OK) {
            rc = cufail(kernel_names[k], r);
            goto out;
        }
    }
    zt_free(image);
    zt_log(ZT_LOG_DEBUG, "cuda", "device=%d \"%s\" mode=%s", c->ordinal, c->name, c->det ? "deterministic" : "fast");
    *out = &c->base;
    return 0;
out:
    zt_free(image);
    cuda_free(&c->base);
    return rc;
}

/* The devices the driver sees, for `zentalk gpus` (none without a driver). */
/* A PCI bus id "domain:bus:device.function" (hex) as one number, or 0. */
static uint64_t pci_key(const char *s)
{
    uint64_t key = 0;
    static const char seps[4] = {':', ':', '.', '\0'};
    for (int i = 0; i < 4; i++) {
        char *end;
        unsigned long v = strtoul(s, &end, 16);
        if (end == s || *end != seps[i] || v > 0xffffffffu) return 0;
        key = key << (i ? 8 : 0) | v;
        s = end + (i < 3);
    }
    return key | (uint64_t)1 << 63;
}

/* NVML's free memory of the device at PCI bus id `pci` (CUDA's spelling,
 * "0000:17:00.0"; NVML's has an 8-digit domain and may differ in case). */
static bool nvml_free(const char *pci, uint64_t *free_mb)
{
    struct zt_gpu_telemetry t[16];
    size_t n = 0;
    uint64_t want = pci_key(pci);
    if (!want || zt_engine_nvml(t, 16, &n, NULL, 0) != 0) return false;
    for (size_t i = 0; i < n && i < 16; i++)
        if (pci_key(t[i].pci) == want && t[i].mem_total_mb) {
            *free_mb = t[i].mem_free_mb;
            return true;
        }
    return false;
}

/* g's free memory: cuMemGetInfo in the device's primary context when this
 * process has it open already (retaining it then costs nothing); else
 * NVML's figure for the same PCI device, which opens no context; else
 * cuMemGetInfo in a context opened for the question (slow: it is created
 * and destroyed, and takes some memory meanwhile). */
static void cuda_free_mem(CUdevice d, struct zt_gpu_info *g)
{
    unsigned flags = 0;
    int active = 0;
    char pci[32] = "";
    cu.DevicePrimaryCtxGetState(d, &flags, &active);
    if (!active && cu.DeviceGetPCIBusId(pci, (int)sizeof pci, d) == CU_OK && nvml_free(pci, &g->free_mb)) {
        g->has_free = true;
        snprintf(g->free_from, sizeof g->free_from, "NVML");
        return;
    }
    CUcontext ctx;
    size_t fr = 0, total = 0;
    if (cu.DevicePrimaryCtxRetain(&ctx, d) != CU_OK) {
        snprintf(g->free_from, sizeof g->free_from, "none: no CUDA context on the device");
        return;
    }
    if (cu.CtxSetCurrent(ctx) == CU_OK && cu.MemGetInfo(&fr, &total) == CU_OK) {
        g->free_mb = fr / (1024 * 1024);
        g->has_free = true;
        snprintf(g->free_from, sizeof g->free_from, "cuMemGetInfo");
    } else {
        snprintf(g->free_from, sizeof g->free_from, "none: cuMemGetInfo failed");
    }
    cu.CtxSetCurrent(NULL);
    cu.DevicePrimaryCtxRelease(d);
}

static int cuda_list(struct zt_gpu_info *out, size_t cap, size_t *n)
{
    *n = 0;
    const char *why;
    if (cu_ready(&why)) return 0;
    int count = 0;
    if (cu.DeviceGetCount(&count) != CU_OK) return 0;
    int ver = 0;
    cu.DriverGetVersion(&ver);
    for (int i = 0; i < count && (size_t)i < cap; i++) {
        struct zt_gpu_info *g = &out[i];
        memset(g, 0, sizeof *g);
        CUdevice d;
        if (cu.DeviceGet(&d, i) != CU_OK) continue;
        snprintf(g->backend, sizeof g->backend, "cuda");
        g->index = (unsigned)i;
        if (cu.DeviceGetName(g->name, (int)sizeof g->name, d) != CU_OK) snprintf(g->name, sizeof g->name, "?");
        snprintf(g->type, sizeof g->type, "discrete");
        size_t mem = 0;
        if (cu.DeviceTotalMem(&mem, d) == CU_OK) g->memory_mb = mem / (1024 * 1024);
        g->deterministic = true;
        cuda_free_mem(d, g);
        int maj = 0, min = 0;
        cu.DeviceGetAttribute(&maj, CU_ATTR_CC_MAJOR, d);
        cu.DeviceGetAttribute(&min, CU_ATTR_CC_MINOR, d);
        /* compute capability and the driver's CUDA version: "sm_90 13.0" */
        snprintf(g->api, sizeof g->api, "sm_%u%u %u.%u", (unsigned)maj % 100, (unsigned)min % 10,
                 (unsigned)ver / 1000 % 100, (unsigned)ver % 1000 / 10 % 10);
    }
    *n = (size_t)count;
    return 0;
}

const struct zt__backend_reg zt__backend_cuda_reg = {
    .name = "cuda",
    .create = cuda_create,
    .list = cuda_list,
};
