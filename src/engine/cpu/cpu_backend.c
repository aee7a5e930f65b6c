/* cpu_backend.c: the CPU compute backend, the reference every other backend
 * is tested against (backend.h, docs/internals/backend.md).
 *
 * Buffers are host memory and a buffer handle is the host address itself;
 * weights are used in place in the model's mapping. Matrix products go to
 * the kernels of zt_quant.h (quant*.c, dispatched by ISA, ZT_CPU to force
 * one); the element-wise ops are written here. Work is split over a
 * persistent thread team (par.h): threads split rows of a matrix product,
 * (item, head) pairs of attention and elements of SwiGLU, never a
 * reduction, so the thread count never changes a bit. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "attn_cpu.h"
#include "backend.h"
#include "zt_math.h"
#include "par.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_quant.h"
#include "quant_int.h"

/* A weight kept in the packed layout (zt_quant_pack), found by its address. */
struct packed_w {
    const void *w;
    enum zt_ggml_type type;
    size_t rows;
    struct zt_quant_packed *p;    /* the packed layout, or NULL and: */
    const void *copy;             /* the same rows on huge pages (F32/F16/BF16), or in the
                                   * BF16 mode the rows rounded to the mode's bf16 */
    struct zt__quant_chunk *chunk;
};

struct cpu {
    struct zt__backend base;
    struct zt__par *par;
    uint8_t *xq;   /* activations quantised for the current matmul */
    size_t xq_cap; /* bytes */
    int32_t *prep; /* their packed-kernel terms (zt_quant_packed_prepare) */
    size_t prep_cap; /* bytes */
    struct packed_w *packed;
    size_t n_packed, packed_cap;
    bool no_pack;  /* ZT_PACK=0: keep the plain rows (benchmarks) */
    bool bf16;     /* the BF16 precision mode: float matrices as bf16 copies */
    /* RoPE's cos/sin of the last call's rows (every layer's Q and K of a
     * pass rotate the same positions): what they were computed for */
    float *rope_cs;         /* (rows, 2 * half): cos, sin */
    size_t rope_cs_cap;     /* floats */
    uint32_t *rope_pos;     /* rows */
    size_t rope_pos_cap;    /* entries */
    float *rope_inv;        /* half */
    size_t rope_inv_cap;    /* floats */
    size_t rope_rows;       /* 0: none */
    uint32_t rope_half;
    float rope_scale;
};

static struct cpu *cpu_of(struct zt__backend *be) { return (struct cpu *)be; }

/* Host address of a tensor's first row / of row r (F32). */
static inline uint8_t *base(const struct zt__tensor *t) { return (uint8_t *)t->buf + t->offset; }
static inline float *row(const struct zt__tensor *t, size_t r) { return (float *)(base(t) + r * t->nb1); }
static inline bool contiguous(const struct zt__tensor *t) { return t->nb1 == t->ne0 * sizeof(float); }

/* ---- lifecycle and memory ------------------------------------------------- */

static void cpu_free(struct zt__backend *be)
{
    struct cpu *c = cpu_of(be);
    zt__par_free(c->par);
    zt_free(c->xq);
    zt_free(c->prep);
    for (size_t i = 0; i < c->n_packed; i++) {
        zt_quant_packed_free(c->packed[i].p);
        zt__quant_weights_free(c->packed[i].chunk);
    }
    zt_free(c->packed);
    zt_free(c->rope_cs);
    zt_free(c->rope_pos);
    zt_free(c->rope_inv);
    zt_free(c);
}

static int cpu_set_threads(struct zt__backend *be, unsigned n_threads)
{
    struct cpu *c = cpu_of(be);
    if (n_threads < 1 || n_threads > 256) return ZT_EINVAL;
    if (zt__par_threads(c->par) == n_threads) return 0;
    struct zt__par *p;
    int rc = zt__par_new(n_threads, &p);
    if (rc) return rc;
    zt__par_free(c->par);
    c->par = p;
    return 0;
}

/* Every weight type zt_quant.h has a dot-product kernel for. */
static bool cpu_supports(const struct zt__backend *be, enum zt_ggml_type type)
{
    (void)be;
    return zt_quant_vec_dot_type(type) != ZT_GGML_TYPE_COUNT;
}

/* A buffer is host memory whose address is the handle; the 64 bytes
 * before it hold the address zt_calloc gave. Buffers of 2 MiB and more
 * (KV caches, a batch's activations) start on a 2 MiB boundary and ask for
 * transparent huge pages (THP "madvise" mode), as the weight copies do
 * (quant.md, "Huge pages"): attention walks a sequence's cache in 4 KiB
 * blocks (a head's part of a K tile) and 256-byte rows 3 KiB apart (V),
 * one TLB miss per block on 4 KiB pages; at 8 streams of the 134M model
 * the score kernel's time fell by a third and the K store's by half.
 * Pages are still touched (and zeroed) on first use, 2 MiB at a time.
 * ZT_BUF_HUGE=0: plain allocations (comparisons). */
#define BUF_HUGE ((size_t)2 << 20)
#define BUF_HEAD ((size_t)64)

static bool buf_huge_wanted(void)
{
    const char *e = getenv("ZT_BUF_HUGE");
    return !e || strcmp(e, "0") != 0;
}

static int cpu_buffer_alloc(struct zt__backend *be, size_t size, struct zt__buffer **out)
{
    (void)be;
    bool huge = size >= BUF_HUGE && buf_huge_wanted();
    /* the handle sits BUF_HEAD past the block's start, rounded up to 2 MiB
     * for a huge buffer: up to BUF_HUGE - 1 + BUF_HEAD bytes in */
    size_t slack = huge ? BUF_HUGE + BUF_HEAD : BUF_HEAD;
    if (size > SIZE_MAX - slack) return ZT_ERANGE;
    uint8_t *p = zt_calloc(size + slack, 1); /* large: fresh mapped pages, not touched here */
    if (!p) return ZT_ENOMEM;
    uint8_t *a = p + BUF_HEAD;
    if (huge) {
        a = (uint8_t *)(((uintptr_t)p + BUF_HEAD + BUF_HUGE - 1) & ~(uintptr_t)(BUF_HUGE - 1));
#ifdef MADV_HUGEPAGE
        size_t span = (size_t)(p + size + slack - a) & ~(BUF_HUGE - 1);
        if (span) zt_ignore(madvise(a, span, MADV_HUGEPAGE)); /* a hint: 4 KiB pages if refused */
#endif
    }
    memcpy(a - BUF_HEAD, &p, sizeof p);
    *out = (struct zt__buffer *)(void *)a;
    return 0;
}

static void cpu_buffer_free(struct zt__backend *be, struct zt__buffer *buf)
{
    (void)be;
    if (!buf) return;
    void *p;
    memcpy(&p, (uint8_t *)buf - BUF_HEAD, sizeof p);
    zt_free(p);
}

/* Zero copy: the handle is the address of the (read-only) mapping. */
static int cpu_buffer_map(struct zt__backend *be, const void *host, size_t size, struct zt__buffer **out)
{
    (void)be;
    (void)size;
    *out = (struct zt__buffer *)(uintptr_t)host;
    return 0;
}

static void cpu_buffer_unmap(struct zt__backend *be, struct zt__buffer *buf)
{
    (void)be;
    (void)buf;
}

static int cpu_buffer_set(struct zt__backend *be, struct zt__buffer *buf, size_t offset, const void *src,
                          size_t size)
{
    (void)be;
    if (size) memcpy((uint8_t *)buf + offset, src, size);
    return 0;
}

static int cpu_buffer_get(struct zt__backend *be, const struct zt__buffer *buf, size_t offset, void *dst,
                          size_t size)
{
    (void)be;
    if (size) memcpy(dst, (const uint8_t *)buf + offset, size);
    return 0;
}

/* ---- packed weights ------------------------------------------------------ */

/* Q8_0/Q4_0/Q4_K/Q6_K matrices go to the packed layout when the kernel path in use
 * has packed kernels (AVX512-VNNI): one vector load then feeds 16 rows. */
/* The original rows of a copied or packed matrix are no longer read
 * (unless the tensor is also the token embedding): let the kernel reclaim
 * those pages of the mapping first; the data stays valid (MADV_COLD only
 * ages the pages). */
static void cold_pages(const struct zt__tensor *w, const void *host)
{
#ifdef MADV_COLD
    uintptr_t a = ((uintptr_t)host + 4095u) & ~(uintptr_t)4095u, e = ((uintptr_t)host + w->nb1 * w->ne1) & ~(uintptr_t)4095u;
    if (e > a) zt_ignore(madvise((void *)a, e - a, MADV_COLD));
#else
    (void)w, (void)host;
#endif
}

static bool is_float(enum zt_ggml_type t)
{
    return t == ZT_GGML_F32 || t == ZT_GGML_F16 || t == ZT_GGML_BF16;
}

/* The BF16 mode: every float matrix (whatever its size; ZT_PACK=0 too)
 * becomes a copy in the mode's bf16 (zt_quant_bf16_weights), on huge
 * pages; the products read only that. */
static int prepare_bf16(struct cpu *c, const struct zt__tensor *w, const void *host)
{
    struct packed_w pw = {.w = host, .type = w->type, .rows = w->ne1};
    size_t bytes;
    if (zt_mul_size(w->ne0 * sizeof(uint16_t), w->ne1, &bytes)) return ZT_ERANGE;
    uint16_t *copy = zt__quant_weights_alloc(bytes, &pw.chunk);
    if (!copy) return ZT_ENOMEM;
    for (size_t r = 0; r < w->ne1; r++) {
        int rc = zt_quant_bf16_weights(w->type, (const uint8_t *)host + r * w->nb1, copy + r * w->ne0, w->ne0);
        if (rc) {
            zt__quant_weights_free(pw.chunk);
            return rc;
        }
    }
    pw.copy = copy;
    c->packed[c->n_packed++] = pw;
    return 0;
}

static int cpu_prepare_weight(struct zt__backend *be, const struct zt__tensor *w)
{
    struct cpu *c = cpu_of(be);
    if (c->bf16 && is_float(w->type)) {
        const void *host = (const uint8_t *)w->buf + w->offset;
        for (size_t i = 0; i < c->n_packed; i++)
            if (c->packed[i].w == host) return 0;
        struct packed_w *v = zt_array_grow(c->packed, &c->packed_cap, c->n_packed + 1, sizeof *v, 16);
        if (!v) return ZT_ENOMEM;
        c->packed = v;
        int rc = prepare_bf16(c, w, host);
        if (!rc) cold_pages(w, host);
        return rc;
    }
    /* matrices without a packed kernel on the path in use (floats; every
     * type on AVX2) are copied as they are onto transparent huge pages
     * (quant_pack.c's chunks): the mapping's 4 KiB pages cost a TLB miss
     * each 4 KiB of the stream (ZT_PACK_HUGE=0 or ZT_PACK=0: read in place) */
    const char *hp = getenv("ZT_PACK_HUGE");
    bool plain = !zt_quant_pack_useful(w->type) && !(hp && !strcmp(hp, "0"));
    if (c->no_pack || w->ne1 < ZT_QUANT_PACK_ROWS || (!plain && !zt_quant_pack_useful(w->type))) return 0;
    const void *host = (const uint8_t *)w->buf + w->offset;
    for (size_t i = 0; i < c->n_packed; i++)
        if (c->packed[i].w == host) return 0; /* tied output and embedding, prepared twice */
    struct packed_w *v = zt_array_grow(c->packed, &c->packed_cap, c->n_packed + 1, sizeof *v, 16);
    if (!v) return ZT_ENOMEM;
    c->packed = v;
    struct packed_w pw = {.w = host, .type = w->type, .rows = w->ne1};
    if (plain) {
        size_t bytes;
        if (zt_mul_size(w->nb1, w->ne1, &bytes)) return ZT_ERANGE;
        void *copy = zt__quant_weights_alloc(bytes, &pw.chunk);
        if (!copy) return ZT_ENOMEM;
        memcpy(copy, host, bytes);
        pw.copy = copy;
    } else {
        int rc = zt_quant_pack(w->type, host, w->nb1, w->ne1, w->ne0, &pw.p);
        if (rc) return rc;
    }
    c->packed[c->n_packed++] = pw;
    cold_pages(w, host);
    return 0;
}

static const struct packed_w *prepared_of(const struct cpu *c, const struct zt__tensor *w)
{
    const void *host = (const uint8_t *)w->buf + w->offset;
    for (size_t i = 0; i < c->n_packed; i++)
        if (c->packed[i].w == host && c->packed[i].type == w->type && c->packed[i].rows == w->ne1)
            return &c->packed[i];
    return NULL;
}

/* ---- element-wise ops ------------------------------------------------------
 *
 * Serial for a few rows (a generation step); a prompt's rows are split over
 * the team (ew_rows): run serially between two matrix products, RMSNorm,
 * the residual add, RoPE and the K/V store of 128 rows took 0.3-0.4 ms a
 * layer, long enough that a 2-thread team's worker went to sleep (par.c's
 * spin) and had to be woken for the next product. Each row is computed by
 * the same code whichever thread takes it: the same bits. */

/* Rows per chunk: about 4 chunks a thread, at least min_rows (a multiple of
 * which every chunk but the last is). Fewer rows than 2 * min_rows run in
 * one call (par.h: one chunk is not worth a wake-up). */
static void ew_rows(struct zt__par *par, size_t n, size_t min_rows, zt__par_fn fn, void *ctx)
{
    size_t per = n / ((size_t)zt__par_threads(par) * 4);
    per = per < min_rows ? min_rows : per - per % min_rows;
    if (n < 2 * min_rows) per = n;
    zt__par_for(par, n, per, fn, ctx);
}

static int cpu_get_rows(struct zt__backend *be, const struct zt__tensor *src, const int32_t *ids,
                        const struct zt__tensor *dst)
{
    (void)be;
    for (size_t b = 0; b < dst->ne1; b++) {
        int rc = zt_dequant_row(src->type, base(src) + (size_t)ids[b] * src->nb1, row(dst, b), src->ne0);
        if (rc) return rc;
    }
    return 0;
}

/* y = x / sqrt(mean(x^2) + eps) * g, summing squares in order,
 * up to 8 rows at a time: each row's sum is still one chain in index
 * order (the same bits), but the rows' chains interleave, so a batch of
 * streams pays the add latency once per element, not once per element
 * and row; with the AVX-512 kernels 16 rows go in the lanes of one vector
 * chain (zt__norm_sums16_avx512). */
/* ss[j] = sum in order of xr[j][i]^2, nr (a constant where inlined) chains. */
__attribute__((always_inline)) static inline void norm_sums(const float *const *xr, size_t nr, size_t n, float *ss)
{
    for (size_t j = 0; j < nr; j++) ss[j] = 0.0f;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nr; j++) ss[j] += xr[j][i] * xr[j][i];
}

struct norm_ctx {
    const struct zt__tensor *x, *dst;
    const float *g;
    float eps;
    bool vec, vec16;
};

static void norm_rows(void *ctx, size_t r0, size_t r1, unsigned tid)
{
    (void)tid;
    const struct norm_ctx *e = ctx;
    size_t n = e->x->ne0;
    for (size_t b0 = r0, nr; b0 < r1; b0 += nr) {
        size_t left = r1 - b0;
        nr = e->vec16 && left >= 16 ? 16 : left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        const float *xr[16];
        float ss[16];
        for (size_t j = 0; j < nr; j++) xr[j] = row(e->x, b0 + j);
        if (nr == 16) zt__norm_sums16_avx512(xr, n, ss);
        else if (nr == 8) norm_sums(xr, 8, n, ss);
        else if (nr == 4) norm_sums(xr, 4, n, ss);
        else if (nr == 2) norm_sums(xr, 2, n, ss);
        else norm_sums(xr, 1, n, ss);
        for (size_t j = 0; j < nr; j++) {
            const float *xv = xr[j];
            float *y = row(e->dst, b0 + j), scale = 1.0f / sqrtf(ss[j] / (float)n + e->eps);
            if (e->vec) {
                zt__scale_mul_avx512(y, xv, scale, e->g, n);
                continue;
            }
            for (size_t i = 0; i < n; i++) y[i] = (xv[i] * scale) * e->g[i];
        }
    }
}

static int cpu_rmsnorm(struct zt__backend *be, const struct zt__tensor *x, const struct zt__tensor *g, float eps,
                       const struct zt__tensor *dst)
{
    /* 16 rows of a prompt at a time in the vector lanes (ew_avx512.c) */
    bool vec = zt__attn_avx512_built && zt_quant_isa_current() >= ZT_QUANT_ISA_AVX512;
    struct norm_ctx e = {.x = x, .dst = dst, .g = row(g, 0), .eps = eps, .vec = vec, .vec16 = vec && x->ne0 % 16 == 0};
    ew_rows(cpu_of(be)->par, x->ne1, 16, norm_rows, &e);
    return 0;
}

/* y = a + b over n floats (y may be a): blocks of 8 read into locals before
 * they are stored, which the compiler makes vector code of. */
static void add_span(float *y, const float *a, const float *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float s[8];
        for (size_t j = 0; j < 8; j++) s[j] = a[i + j] + b[i + j];
        memcpy(y + i, s, sizeof s);
    }
    for (; i < n; i++) y[i] = a[i] + b[i];
}

struct add_ctx {
    const struct zt__tensor *a, *b, *dst;
};

static void add_rows(void *ctx, size_t r0, size_t r1, unsigned tid)
{
    (void)tid;
    const struct add_ctx *e = ctx;
    size_t n = e->a->ne0;
    if (contiguous(e->a) && contiguous(e->b) && contiguous(e->dst) && e->b->ne1 == e->a->ne1) {
        add_span(row(e->dst, r0), row(e->a, r0), row(e->b, r0), n * (r1 - r0));
        return;
    }
    for (size_t r = r0; r < r1; r++) add_span(row(e->dst, r), row(e->a, r), row(e->b, e->b->ne1 == 1 ? 0 : r), n);
}

static int cpu_add(struct zt__backend *be, const struct zt__tensor *a, const struct zt__tensor *bt,
                   const struct zt__tensor *dst)
{
    struct add_ctx e = {.a = a, .b = bt, .dst = dst};
    ew_rows(cpu_of(be)->par, a->ne1, 16, add_rows, &e);
    return 0;
}

/* c->rope_cs holds cos, sin of theta = (pos[b] * freq_scale) * inv_freq[i]
 * for the n rows: kept from the last call when it was for the same
 * positions, scale and frequencies (the same values, so the same bits). */
static int rope_table(struct cpu *c, const uint32_t *pos, size_t n, uint32_t half, float scale, const float *inv_freq)
{
    if (c->rope_rows == n && c->rope_half == half && memcmp(&c->rope_scale, &scale, sizeof scale) == 0 &&
        memcmp(c->rope_pos, pos, n * sizeof *pos) == 0 && memcmp(c->rope_inv, inv_freq, half * sizeof(float)) == 0)
        return 0;
    c->rope_rows = 0;
    size_t cs;
    if (zt_mul_size(n, 2 * (size_t)half, &cs)) return ZT_ERANGE;
    float *t = zt_array_grow(c->rope_cs, &c->rope_cs_cap, cs, sizeof *t, 64);
    if (!t) return ZT_ENOMEM;
    c->rope_cs = t;
    uint32_t *ps = zt_array_grow(c->rope_pos, &c->rope_pos_cap, n, sizeof *ps, 16);
    if (!ps) return ZT_ENOMEM;
    c->rope_pos = ps;
    float *iv = zt_array_grow(c->rope_inv, &c->rope_inv_cap, half, sizeof *iv, 16);
    if (!iv) return ZT_ENOMEM;
    c->rope_inv = iv;
    for (size_t b = 0; b < n; b++) {
        float pscale = (float)pos[b] * scale;
        for (uint32_t i = 0; i < half; i++) {
            float th = pscale * inv_freq[i], sn, cn;
            zt__sincosf(th, &sn, &cn);
            t[b * 2 * half + 2 * i] = cn;
            t[b * 2 * half + 2 * i + 1] = sn;
        }
    }
    memcpy(ps, pos, n * sizeof *pos);
    memcpy(iv, inv_freq, half * sizeof(float));
    c->rope_rows = n;
    c->rope_half = half;
    c->rope_scale = scale;
    return 0;
}

struct rope_ctx {
    const struct zt__tensor *x;
    const struct zt__rope *p;
    const float *cs; /* the rows' cos, sin (rope_table) */
};

static void rope_rows(void *ctx, size_t r0, size_t r1, unsigned tid)
{
    (void)tid;
    const struct rope_ctx *e = ctx;
    const struct zt__rope *p = e->p;
    uint32_t hd = p->head_dim, half = p->n_rot / 2;
    for (size_t b = r0; b < r1; b++) {
        float *xv = row(e->x, b);
        const float *cs = e->cs + b * 2 * half;
        for (uint32_t i = 0; i < half; i++) {
            float c = cs[2 * i], s = cs[2 * i + 1];
            for (uint32_t h = 0; h < p->n_heads; h++) {
                float *v = xv + (size_t)h * hd;
                uint32_t ia = p->neox ? i : 2 * i;
                uint32_t ib = p->neox ? i + half : 2 * i + 1;
                float x0 = v[ia], x1 = v[ib];
                v[ia] = x0 * c - x1 * s;
                v[ib] = x0 * s + x1 * c;
            }
        }
    }
}

/* Rotate the first n_rot dims of each head of every row at its position. */
static int cpu_rope(struct zt__backend *be, const struct zt__tensor *x, const uint32_t *pos, const struct zt__rope *p)
{
    struct cpu *cp = cpu_of(be);
    uint32_t half = p->n_rot / 2;
    if (!x->ne1 || !half) return 0;
    int rc = rope_table(cp, pos, x->ne1, half, p->freq_scale, row(&p->inv_freq, 0));
    if (rc) return rc;
    struct rope_ctx e = {.x = x, .p = p, .cs = cp->rope_cs};
    ew_rows(cp->par, x->ne1, 8, rope_rows, &e);
    return 0;
}

/* Caches of F32 (copies) or F16 (rounded to nearest even, zt_fp32_to_fp16_row). */
static bool cpu_supports_kv(const struct zt__backend *be, enum zt_ggml_type type)
{
    (void)be;
    return type == ZT_GGML_F32 || type == ZT_GGML_F16;
}

static void store_row(const struct zt__tensor *cache, uint32_t pos, const float *src, size_t n)
{
    uint8_t *dst = base(cache) + (size_t)pos * cache->nb1;
    if (cache->type == ZT_GGML_F16) zt_fp32_to_fp16_row(src, (uint16_t *)(void *)dst, n);
    else memcpy(dst, src, n * sizeof(float));
}

/* The K cache layout (backend.h zt__kv_view, docs/internals/engine.md "K
 * cache tiles"): whole tiles of KT positions below the view's last whole
 * tile are stored dimension-major, so one position's scores are 16 lanes
 * of one load per dimension (no transpose); the rows after stay plain. */
#define KT 16u

static inline uint32_t k_tiled(const struct zt__tensor *k) { return (uint32_t)(k->ne1 - k->ne1 % KT); }

/* Row pos of k to its K cache: a row, or a column of its tile (the same
 * rounding to F16 as a row: zt_fp32_to_fp16_row, then scattered). */
static void store_k(const struct zt__tensor *cache, uint32_t pos, const float *src, size_t n)
{
    if (pos >= k_tiled(cache)) {
        store_row(cache, pos, src, n);
        return;
    }
    bool f16 = cache->type == ZT_GGML_F16;
    uint8_t *tile = base(cache) + (size_t)(pos - pos % KT) * cache->nb1;
    uint32_t u = pos % KT;
    if (!f16) {
        float *d = (float *)(void *)tile;
        for (size_t c = 0; c < n; c++) d[c * KT + u] = src[c];
        return;
    }
    uint16_t *d = (uint16_t *)(void *)tile, h[256];
    for (size_t c0 = 0; c0 < n; c0 += 256) {
        size_t m = n - c0 < 256 ? n - c0 : 256;
        zt_fp32_to_fp16_row(src + c0, h, m);
        for (size_t c = 0; c < m; c++) d[(c0 + c) * KT + u] = h[c];
    }
}

struct kv_ctx {
    const struct zt__tensor *k, *v;
    const struct zt__kv_view *kv;
};

static void kv_rows(void *ctx, size_t r0, size_t r1, unsigned tid)
{
    (void)tid;
    const struct kv_ctx *e = ctx;
    for (size_t b = r0; b < r1; b++) {
        store_k(&e->kv[b].k, e->kv[b].pos, row(e->k, b), e->k->ne0);
        store_row(&e->kv[b].v, e->kv[b].pos, row(e->v, b), e->v->ne0);
    }
}

/* Every row writes its own position (items of one sequence are distinct
 * positions); chunks of whole K tiles' worth of rows (KT) keep two threads
 * off one tile's lines, mostly. */
static int cpu_kv_store(struct zt__backend *be, const struct zt__tensor *k, const struct zt__tensor *v,
                        const struct zt__kv_view *kv)
{
    struct kv_ctx e = {.k = k, .v = v, .kv = kv};
    ew_rows(cpu_of(be)->par, k->ne1, KT, kv_rows, &e);
    return 0;
}

/* ---- parallel ops ---------------------------------------------------------- */

struct mm {
    const struct zt__tensor *w, *x, *dst;
    const struct zt_quant_packed *packed; /* or NULL: the plain rows */
    const void *copy;                     /* the plain rows' huge-page copy, or NULL */
    uint8_t *xq;
    size_t xq_row;          /* bytes of one quantised activation row */
    int32_t *prep;          /* packed-kernel terms of the rows, or NULL */
    size_t prep_row;        /* int32 per row */
    bool bf16;              /* the BF16 mode: copy and xq are bf16 rows */
    bool quant, do_prep;    /* par_quantize: quantise the rows / prepare their terms */
    atomic_int failed;
};

/* Quantises activation rows [b0, b1) and, for a packed matrix, prepares
 * their terms: once per product (or per group of products with one input,
 * cpu_matmul_n), not once per chunk of weight rows. */
static void par_quantize(void *ctx, size_t b0, size_t b1, unsigned tid)
{
    (void)tid;
    struct mm *f = ctx;
    if (f->bf16) {
        for (size_t b = b0; f->quant && b < b1; b++)
            zt_quant_bf16_row(row(f->x, b), (uint16_t *)(void *)(f->xq + b * f->xq_row), f->w->ne0);
        return;
    }
    for (size_t b = b0; f->quant && b < b1; b++)
        if (zt_quant_activations(f->w->type, row(f->x, b), f->xq + b * f->xq_row, f->w->ne0))
            atomic_store(&f->failed, 1);
    if (f->do_prep && zt_quant_packed_prepare(f->packed, f->xq + b0 * f->xq_row, f->xq_row, b1 - b0,
                                              f->prep + b0 * f->prep_row))
        atomic_store(&f->failed, 1);
}

/* Threads take chunks of rows from the team's shared counter (par.h), so a
 * thread that loses its core for a while does not hold the others up.
 * Which thread computes a row never changes its value: every element is
 * the same kernel in the same order wherever its tile starts. */
static void par_matmul(void *ctx, size_t r0, size_t r1, unsigned tid)
{
    (void)tid;
    struct mm *f = ctx;
    if (f->packed) {
        if (zt_quant_matmul_packed_prep(f->packed, r0, r1, f->xq, f->xq_row, f->x->ne1, f->prep, row(f->dst, 0),
                                        f->dst->nb1 / sizeof(float)))
            atomic_store(&f->failed, 1);
        return;
    }
    if (f->bf16) {
        if (zt_quant_matmul_bf16(f->copy, f->w->ne0 * sizeof(uint16_t), r0, r1, (const uint16_t *)(void *)f->xq,
                                 f->xq_row, f->x->ne1, row(f->dst, 0), f->dst->nb1 / sizeof(float), f->w->ne0))
            atomic_store(&f->failed, 1);
        return;
    }
    if (zt_quant_matmul_rows(f->w->type, f->copy ? f->copy : base(f->w), f->w->nb1, r0, r1, f->xq, f->xq_row, f->x->ne1,
                             row(f->dst, 0), f->dst->nb1 / sizeof(float), f->w->ne0))
        atomic_store(&f->failed, 1);
}

/* old when it holds per * n bytes, else a new buffer (old freed); NULL
 * with *rc set when that fails (old kept). */
static void *scratch(void *old, size_t *cap, size_t per, size_t n, int *rc)
{
    size_t need;
    if (zt_mul_size(per, n, &need)) {
        *rc = ZT_ERANGE;
        return NULL;
    }
    if (old && need <= *cap) return old;
    void *p = zt_malloc(need ? need : 1);
    if (!p) {
        *rc = ZT_ENOMEM;
        return NULL;
    }
    zt_free(old);
    *cap = need;
    return p;
}

/* dst[i] = w[i] x for i < n. The quantised rows of x (and their
 * packed-kernel terms) are made once and kept for the next product whose
 * weights take the same activation format (and packed type): the same
 * bytes each product would have made (a function of x and the format). */
static int cpu_matmul_n(struct zt__backend *be, const struct zt__tensor *const *w, const struct zt__tensor *x,
                        const struct zt__tensor *const *dst, size_t n)
{
    struct cpu *c = cpu_of(be);
    unsigned nth = zt__par_threads(c->par);
    /* activation rows: ~4 chunks a thread */
    size_t qg = x->ne1 / ((size_t)nth * 4);
    /* what xq and prep hold (ZT_GGML_TYPE_COUNT: nothing; the BF16 mode's
     * rows are keyed as BF16) */
    enum zt_ggml_type have_q = ZT_GGML_TYPE_COUNT, have_prep = ZT_GGML_TYPE_COUNT;
    size_t have_n = 0;
    uint8_t *xq = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t rb;
        bool bf16 = c->bf16 && is_float(w[i]->type);
        enum zt_ggml_type at = bf16 ? ZT_GGML_BF16 : zt_quant_vec_dot_type(w[i]->type);
        if (bf16) rb = w[i]->ne0 * sizeof(uint16_t);
        else if (zt_quant_row_bytes(at, w[i]->ne0, &rb)) return ZT_EINVAL;
        int rc = 0;
        const struct packed_w *pw = prepared_of(c, w[i]);
        /* the BF16 mode never falls back to the exact product (a matrix
         * prepare_weight did not convert is an error, not a silent substitute) */
        if (bf16 && (!pw || !pw->copy)) return ZT_EINVAL;
        struct mm f = {.w = w[i], .x = x, .dst = dst[i], .xq_row = rb, .packed = pw ? pw->p : NULL,
                       .copy = pw ? pw->copy : NULL, .bf16 = bf16, .quant = at != have_q || w[i]->ne0 != have_n};
        if (f.quant) {
            /* one row more, to start the rows on a 64-byte boundary: malloc
             * gives 16 (a large block is mmap'ed, 16 bytes past a page), and
             * a 512-bit load across two cache lines costs two */
            xq = scratch(c->xq, &c->xq_cap, rb, x->ne1 + 1, &rc);
            if (!xq) return rc;
            c->xq = xq;
            if (rb >= 64) xq += (64 - (uintptr_t)xq % 64) % 64;
            have_q = ZT_GGML_TYPE_COUNT; /* valid once made */
            have_prep = ZT_GGML_TYPE_COUNT;
        }
        f.xq = xq;
        size_t pb = zt_quant_packed_prep_bytes(f.packed);
        if (pb > 0) {
            f.do_prep = f.quant || have_prep != w[i]->type;
            if (f.do_prep) {
                int32_t *prep = scratch(c->prep, &c->prep_cap, pb, x->ne1, &rc);
                if (!prep) return rc;
                c->prep = prep;
                have_prep = ZT_GGML_TYPE_COUNT;
            }
            f.prep = c->prep;
            f.prep_row = pb / sizeof(int32_t);
        }
        if (f.quant || f.do_prep) {
            zt__par_for(c->par, x->ne1, qg ? qg : 1, par_quantize, &f);
            if (atomic_load(&f.failed)) return ZT_EINVAL;
            if (f.quant) {
                have_q = at;
                have_n = w[i]->ne0;
            }
            if (f.do_prep) have_prep = w[i]->type;
        }
        /* weight rows: ~8 chunks a thread, multiples of 12 rows (whole 2-
         * and 3-row tiles); packed: whole groups of 16 rows (48 = both) */
        size_t rows = w[i]->ne1, chunk = nth == 1 ? rows : rows / ((size_t)nth * 8);
        size_t unit = f.packed ? 48 : 12;
        chunk = chunk < unit ? unit : chunk - chunk % unit;
        zt__par_for(c->par, rows, chunk, par_matmul, &f);
        if (atomic_load(&f.failed)) return ZT_EINVAL;
    }
    return 0;
}

static int cpu_matmul(struct zt__backend *be, const struct zt__tensor *w, const struct zt__tensor *x,
                      const struct zt__tensor *dst)
{
    return cpu_matmul_n(be, &w, x, &dst, 1);
}

struct attn_ctx {
    const struct zt__tensor *q, *dst;
    const struct zt__kv_view *kv;
    const struct zt__attn *p;
    bool vec;  /* the AVX-512 kernels (attn_avx512.c) */
    bool vec2; /* else the AVX2 one-query kernels (attn_avx2.c) */
    atomic_int failed; /* a worker could not allocate */
    const uint32_t *block; /* work blocks: first item, | ATTN_GROUP for a group of ZT_ATTN_MQ */
    size_t n_blocks;
    bool head_major; /* every block a group: units run head by head (attn_unit) */
};

#define ATTN_GROUP 0x80000000u

/* Element i of cache row t (F32 or F16, exact). */
static inline float kv_at(const void *c, bool f16, size_t idx)
{
    return f16 ? zt_fp16_to_fp32(((const uint16_t *)c)[idx]) : ((const float *)c)[idx];
}

/* Where item b's head h reads: its query, its K cache (whole rows: kcol
 * is the KV head's first column, n_tiled the positions in whole tiles),
 * its V rows for the KV head of h, and its output. */
struct attn_at {
    const float *q;
    const void *kc, *vc;
    float *o;
    bool f16;
    size_t ks, vs;
    uint32_t kcol, n_tiled;
    uint32_t n_pos;
};

static struct attn_at attn_at(const struct attn_ctx *a, size_t b, uint32_t h)
{
    const struct zt__attn *p = a->p;
    uint32_t hd = p->head_dim, kvh = h / (p->n_head / p->n_head_kv);
    const struct zt__kv_view *kv = &a->kv[b];
    bool f16 = kv->k.type == ZT_GGML_F16;
    size_t es = f16 ? 2 : 4;
    return (struct attn_at){.q = row(a->q, b) + (size_t)h * hd,
                            .kc = base(&kv->k),
                            .vc = base(&kv->v) + (size_t)kvh * hd * es,
                            .o = row(a->dst, b) + (size_t)h * hd,
                            .f16 = f16, .ks = kv->k.nb1 / es, .vs = kv->v.nb1 / es, .kcol = kvh * hd,
                            .n_tiled = k_tiled(&kv->k), .n_pos = kv->pos + 1};
}

/* The scaled scores of one (item, head) over its n_pos cache rows. The
 * AVX-512 kernels (attn_avx512.c, when the path in use has AVX-512 and
 * head_dim % 16 == 0) compute the same chains 16 lanes at a time, the AVX2
 * ones (attn_avx2.c, path AVX2, head_dim % 8 == 0) 8 at a time for the
 * whole groups of 8 in tiles. */
static void attn_scores(const struct attn_ctx *a, const struct attn_at *x, float *scores)
{
    uint32_t hd = a->p->head_dim, n_pos = x->n_pos;
    float scale = 1.0f / sqrtf((float)hd);
    uint32_t t = 0;
    if (a->vec && hd % 16 == 0)
        t = zt__attn_scores_avx512(x->q, x->kc, x->f16, x->ks, x->kcol, x->n_tiled, hd, n_pos, scale, scores);
    else if (a->vec2 && hd % 8 == 0)
        t = zt__attn_scores_avx2(x->q, x->kc, x->f16, x->ks, x->kcol, x->n_tiled, hd, n_pos, scale, scores);
    /* 8 positions at a time: each score is still dot = 0, dot += q[i] * k[i]
     * in increasing i (the same bits), but 8 independent chains hide the
     * add latency that bounds the one-position loop. In a tile the 8
     * positions' elements of a dimension are adjacent. */
    for (; t + 8 <= n_pos; t += 8) {
        float dot[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        bool tiled = t + 8 <= x->n_tiled; /* t % 8 == 0: the 8 share a tile */
        for (uint32_t i = 0; i < hd; i++) {
            float qi = x->q[i];
            size_t at = tiled ? (size_t)(t - t % KT) * x->ks + (size_t)(x->kcol + i) * KT + t % KT
                              : (size_t)t * x->ks + x->kcol + i;
            size_t step = tiled ? 1 : x->ks;
            for (uint32_t u = 0; u < 8; u++) dot[u] += qi * kv_at(x->kc, x->f16, at + u * step);
        }
        for (uint32_t u = 0; u < 8; u++) scores[t + u] = dot[u] * scale;
    }
    for (; t < n_pos; t++) {
        float dot = 0.0f;
        for (uint32_t i = 0; i < hd; i++)
            dot += x->q[i] * kv_at(x->kc, x->f16, zt__kv_k_index(KT, x->n_tiled, x->ks, t, x->kcol + i));
        scores[t] = dot * scale;
    }
}

/* scores[t] = exp(scores[t] - max) in place; returns 1 / their sum (in
 * order). */
static float attn_softmax(const struct attn_ctx *a, float *scores, uint32_t n_pos)
{
    float mx = -INFINITY, sum = 0.0f;
    for (uint32_t t = 0; t < n_pos; t++)
        if (scores[t] > mx) mx = scores[t];
    if (a->vec) { /* the exponentials 16 at a time (same bits), the sum in order */
        zt__exp_sub_avx512(scores, n_pos, mx);
        for (uint32_t t = 0; t < n_pos; t++) sum += scores[t];
    } else {
        for (uint32_t t = 0; t < n_pos; t++) {
            scores[t] = zt__expf(scores[t] - mx);
            sum += scores[t];
        }
    }
    return 1.0f / sum;
}

/* o[i] = sum over t in order of (scores[t] * inv) * v[t][i]. */
static void attn_wsum(const struct attn_ctx *a, const struct attn_at *x, const float *scores, float inv)
{
    uint32_t hd = a->p->head_dim;
    if (a->vec && hd % 16 == 0) {
        zt__attn_wsum_avx512(scores, inv, x->vc, x->f16, x->vs, hd, x->n_pos, x->o);
        return;
    }
    if (a->vec2 && hd % 8 == 0) {
        zt__attn_wsum_avx2(scores, inv, x->vc, x->f16, x->vs, hd, x->n_pos, x->o);
        return;
    }
    for (uint32_t i = 0; i < hd; i++) x->o[i] = 0.0f;
    for (uint32_t t = 0; t < x->n_pos; t++) {
        float pr = scores[t] * inv;
        for (uint32_t i = 0; i < hd; i++) x->o[i] += pr * kv_at(x->vc, x->f16, (size_t)t * x->vs + i);
    }
}

/* Attention of item b, head h over its cache rows [0, pos]. */
static void attend(const struct attn_ctx *a, size_t b, uint32_t h, float *scores)
{
    struct attn_at x = attn_at(a, b, h);
    attn_scores(a, &x, scores);
    attn_wsum(a, &x, scores, attn_softmax(a, scores, x.n_pos));
}

/* Items b0 .. b0 + ZT_ATTN_MQ - 1 read the same cache (one sequence's
 * prompt rows in a batch): the vector kernels can take them together. */
static bool attn_shared(const struct attn_ctx *a, size_t b0)
{
    const struct zt__kv_view *k0 = &a->kv[b0];
    for (size_t b = b0 + 1; b < b0 + ZT_ATTN_MQ; b++) {
        const struct zt__kv_view *kv = &a->kv[b];
        if (kv->k.buf != k0->k.buf || kv->k.offset != k0->k.offset || kv->k.nb1 != k0->k.nb1 ||
            kv->k.type != k0->k.type || kv->v.buf != k0->v.buf || kv->v.offset != k0->v.offset ||
            kv->v.nb1 != k0->v.nb1 || kv->v.type != k0->v.type)
            return false;
    }
    return true;
}

/* Head h of ZT_ATTN_MQ items of one sequence (attn_shared): scores,
 * softmax and weighted sums of all of them at once, lanes across the items
 * (zt__attn_group_avx512); each (item, head) gets attend()'s bits. */
static void attend_group(const struct attn_ctx *a, size_t b0, uint32_t h, float *s, float *scratch)
{
    const float *q[ZT_ATTN_MQ];
    float *o[ZT_ATTN_MQ];
    uint32_t n_pos[ZT_ATTN_MQ];
    struct attn_at x0 = attn_at(a, b0, h);
    for (size_t j = 0; j < ZT_ATTN_MQ; j++) {
        struct attn_at x = j ? attn_at(a, b0 + j, h) : x0;
        q[j] = x.q;
        o[j] = x.o;
        n_pos[j] = x.n_pos;
    }
    uint32_t hd = a->p->head_dim;
    zt__attn_group_avx512(q, x0.kc, x0.vc, x0.f16, x0.ks, x0.vs, x0.kcol, x0.n_tiled, hd, n_pos,
                          1.0f / sqrtf((float)hd), o, s, scratch);
}

/* Asks for the cache bytes one (item, head) will read into L2, at most
 * its first ATTN_PF_POS positions: its K tiles' columns of the head (a
 * contiguous block of hd * 16 elements per tile), the K rows after the last
 * whole tile and its V rows (hd elements each, vs apart). A decode step's
 * units are short (an item's few hundred positions of one head) and each
 * reads its own sequence's cache, which no other unit of the step touches:
 * out of cache, their loads stalled on memory (the weighted sum's adds took
 * most of its samples) and the hardware prefetchers had no time to ramp up
 * within a unit. par_attention asks for the next unit's bytes before it
 * starts one, so the fetch overlaps the current unit's arithmetic. A hint
 * only: nothing computed changes. */
#define ATTN_PF_POS 256u

static void attn_prefetch(const struct attn_at *x, uint32_t hd)
{
    size_t es = x->f16 ? 2 : 4;
    uint32_t n = x->n_pos < ATTN_PF_POS ? x->n_pos : ATTN_PF_POS, t = 0;
    const char *k = x->kc, *v = x->vc;
    for (; t < n && t < x->n_tiled; t += KT) {
        const char *tile = k + ((size_t)t * x->ks + (size_t)x->kcol * KT) * es;
        for (size_t o = 0; o < (size_t)hd * KT * es; o += 64) __builtin_prefetch(tile + o, 0, 2);
    }
    for (; t < n; t++) {
        const char *r = k + ((size_t)t * x->ks + x->kcol) * es;
        for (size_t o = 0; o < (size_t)hd * es; o += 64) __builtin_prefetch(r + o, 0, 2);
    }
    for (t = 0; t < n; t++) {
        const char *r = v + (size_t)t * x->vs * es;
        for (size_t o = 0; o < (size_t)hd * es; o += 64) __builtin_prefetch(r + o, 0, 2);
    }
}

/* Work unit j: head j % n_head of work block j / n_head (one item, or a
 * group of ZT_ATTN_MQ items of one sequence); when every block is a group
 * (a prompt's or a verifier's rows), block j % nb of head j / nb instead:
 * the groups of one head follow one another and read the same K/V columns
 * (up to n_pos x head_dim x 2 elements), which then stay in L2 from one
 * group to the next instead of coming back from L3 once per group. Each
 * unit computes what it did before: the same bits in any order. */
static void attn_unit(const struct attn_ctx *a, size_t j, uint32_t *blk, uint32_t *h)
{
    size_t n_head = a->p->n_head;
    if (a->head_major) {
        *blk = a->block[j % a->n_blocks];
        *h = (uint32_t)(j / a->n_blocks);
    } else {
        *blk = a->block[j / n_head];
        *h = (uint32_t)(j % n_head);
    }
}

static void par_attention(void *ctx, size_t j0, size_t j1, unsigned tid)
{
    (void)tid;
    struct attn_ctx *a = ctx;
    uint32_t max_pos = 0;
    for (size_t j = j0; j < j1; j++) {
        uint32_t blk, h;
        attn_unit(a, j, &blk, &h);
        size_t b0 = blk & ~ATTN_GROUP, b1 = b0 + (blk & ATTN_GROUP ? ZT_ATTN_MQ : 1);
        for (size_t b = b0; b < b1; b++)
            if (a->kv[b].pos + 1 > max_pos) max_pos = a->kv[b].pos + 1;
    }
    size_t stride = (size_t)max_pos + 16; /* a multiple of 16 apart: whole tiles stay aligned */
    stride -= stride % 16;
    /* the scores of a block's items, then the grouped kernel's scratch */
    float *scores = zt_malloc((ZT_ATTN_MQ * stride + ((size_t)a->p->head_dim + 16) * 16) * sizeof(float));
    if (!scores) {
        atomic_store(&a->failed, 1);
        return;
    }
    for (size_t j = j0; j < j1; j++) {
        uint32_t blk, h, nblk, nh;
        attn_unit(a, j, &blk, &h);
        if (j + 1 < j1 && (attn_unit(a, j + 1, &nblk, &nh), !(nblk & ATTN_GROUP))) {
            struct attn_at next = attn_at(a, nblk, nh);
            attn_prefetch(&next, a->p->head_dim);
        }
        if (blk & ATTN_GROUP)
            attend_group(a, blk & ~ATTN_GROUP, h, scores, scores + ZT_ATTN_MQ * stride);
        else
            attend(a, blk, h, scores);
    }
    zt_free(scores);
}

static int cpu_attention(struct zt__backend *be, const struct zt__tensor *q, const struct zt__kv_view *kv,
                         const struct zt__attn *p, const struct zt__tensor *dst)
{
    enum zt_quant_isa isa = zt_quant_isa_current();
    struct attn_ctx a = {.q = q, .dst = dst, .kv = kv, .p = p,
                         .vec = zt__attn_avx512_built && isa >= ZT_QUANT_ISA_AVX512,
                         .vec2 = zt__attn_avx2_built && isa >= ZT_QUANT_ISA_AVX2};
    size_t n = q->ne1;
    if (n >= ATTN_GROUP) return ZT_EINVAL;
    /* the work blocks: runs of ZT_ATTN_MQ items reading one cache become
     * groups (with the vector kernels), every other item is its own */
    uint32_t *block = zt_malloc((n ? n : 1) * sizeof *block);
    if (!block) return ZT_ENOMEM;
    bool mq = a.vec && p->head_dim % 16 == 0;
    size_t nb = 0;
    for (size_t b = 0; b < n;) {
        if (mq && b + ZT_ATTN_MQ <= n && attn_shared(&a, b)) {
            block[nb++] = (uint32_t)b | ATTN_GROUP;
            b += ZT_ATTN_MQ;
        } else {
            block[nb++] = (uint32_t)b++;
        }
    }
    a.block = block;
    a.n_blocks = nb;
    a.head_major = true;
    for (size_t i = 0; i < nb; i++) a.head_major = a.head_major && (block[i] & ATTN_GROUP);
    struct zt__par *par = cpu_of(be)->par;
    size_t units = nb * p->n_head, g = units / ((size_t)zt__par_threads(par) * 4);
    zt__par_for(par, units, g ? g : 1, par_attention, &a);
    zt_free(block);
    return atomic_load(&a.failed) ? ZT_ENOMEM : 0;
}

struct ew {
    const struct zt__tensor *g, *u, *dst;
    bool flat;
    bool vec; /* ew_avx512.c's kernel (the same bits) */
};

static void swiglu_span(bool vec, float *y, const float *g, const float *u, size_t n)
{
    if (vec) {
        zt__swiglu_avx512(y, g, u, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        y[i] = (gi / (1.0f + zt__expf(-gi))) * u[i];
    }
}

/* Contiguous tensors are split by elements, others by rows. */
static void par_swiglu(void *ctx, size_t i0, size_t i1, unsigned tid)
{
    (void)tid;
    const struct ew *e = ctx;
    if (e->flat) {
        swiglu_span(e->vec, row(e->dst, 0) + i0, row(e->g, 0) + i0, row(e->u, 0) + i0, i1 - i0);
        return;
    }
    for (size_t r = i0; r < i1; r++) swiglu_span(e->vec, row(e->dst, r), row(e->g, r), row(e->u, r), e->g->ne0);
}

static int cpu_swiglu(struct zt__backend *be, const struct zt__tensor *g, const struct zt__tensor *u,
                      const struct zt__tensor *dst)
{
    struct ew e = {.g = g, .u = u, .dst = dst, .flat = contiguous(g) && contiguous(u) && contiguous(dst),
                   .vec = zt__attn_avx512_built && zt_quant_isa_current() >= ZT_QUANT_ISA_AVX512};
    struct zt__par *par = cpu_of(be)->par;
    size_t n = e.flat ? g->ne0 * g->ne1 : g->ne1;
    size_t per = n / ((size_t)zt__par_threads(par) * 4), min = e.flat ? 4096 : 1;
    zt__par_for(par, n, per > min ? per : min, par_swiglu, &e);
    return 0;
}

/* ---- registration ----------------------------------------------------------- */

static const struct zt__backend_ops cpu_ops = {
    .name = "cpu", .free = cpu_free, .set_threads = cpu_set_threads, .supports = cpu_supports,
    .buffer_alloc = cpu_buffer_alloc, .buffer_free = cpu_buffer_free, .buffer_map = cpu_buffer_map,
    .buffer_unmap = cpu_buffer_unmap, .buffer_set = cpu_buffer_set, .buffer_get = cpu_buffer_get,
    .prepare_weight = cpu_prepare_weight, .supports_kv = cpu_supports_kv, .get_rows = cpu_get_rows, .rmsnorm = cpu_rmsnorm,
    .matmul = cpu_matmul, .matmul_n = cpu_matmul_n, .add = cpu_add, .rope = cpu_rope, .kv_store = cpu_kv_store,
    .attention = cpu_attention, .swiglu = cpu_swiglu,
};

static int cpu_create(const struct zt__backend_params *p, struct zt__backend **out)
{
    /* an unusable ZT_CPU override falls back to the scalar kernels (same
     * results, slower); zt_quant_init reports it, the backend still works */
    zt_ignore(zt_quant_init());
    struct cpu *c = zt_calloc(1, sizeof *c);
    if (!c) return ZT_ENOMEM;
    c->base.ops = &cpu_ops;
    c->base.exact = true;
    c->base.host_memory = true;
    c->base.kv_k_tile = KT;
    const char *pk = getenv("ZT_PACK");
    c->no_pack = pk != NULL && strcmp(pk, "0") == 0;
    c->bf16 = p->bf16;
    if (c->bf16 && !zt_quant_isa_available(ZT_QUANT_ISA_AVX512BF16))
        zt_log(ZT_LOG_WARN, "bf16_mode_emulated",
               "reason=\"this CPU has no AVX512-BF16: the BF16 precision mode runs its emulation, several times "
               "slower than the exact mode (same bits as on an AVX512-BF16 CPU)\"");
    int rc = zt__par_new(p->n_threads ? p->n_threads : 1, &c->par);
    if (rc) {
        zt_free(c);
        return rc;
    }
    *out = &c->base;
    return 0;
}

const struct zt__backend_reg zt__backend_cpu_reg = {
    .name = "cpu",
    .create = cpu_create,
};
