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
#include "zentalk/zt_quant.h"

/* A weight kept in the packed layout (zt_quant_pack), found by its address. */
struct packed_w {
    const void *w;
    enum zt_ggml_type type;
    size_t rows;
    struct zt_quant_packed *p;    /* the packed layout, or NULL and: */
    const void *copy;             /* the same rows on huge pages (F32/F16/BF16) */
    struct zt__quant_chunk *chunk;
};

/* The cos and sin of the last rope call's angles with what they were made
 * from: every layer rotates its q and its k at the same positions by the
 * same frequencies, so a forward pass computes them once, not twice per
 * layer (the same zt__sincosf of the same angle: the same bits). */
struct rope_table {
    size_t n;          /* rows */
    uint32_t half;     /* angles per row */
    float freq_scale;
    float *inv_freq;   /* half */
    uint32_t *pos;     /* n */
    float *cs;         /* per row: half cos, then half sin */
    size_t cap;        /* rows the arrays hold */
    uint32_t cap_half;
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
    struct rope_table *rope; /* the last rope call's angles, or NULL */
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
    zt_free(c->rope);
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

static int cpu_buffer_alloc(struct zt__backend *be, size_t size, struct zt__buffer **out)
{
    (void)be;
    void *p = zt_calloc(size ? size : 1, 1);
    if (!p) return ZT_ENOMEM;
    *out = p;
    return 0;
}

static void cpu_buffer_free(struct zt__backend *be, struct zt__buffer *buf)
{
    (void)be;
    zt_free(buf);
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
static int cpu_prepare_weight(struct zt__backend *be, const struct zt__tensor *w)
{
    struct cpu *c = cpu_of(be);
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
#ifdef MADV_COLD
    /* the original rows are no longer read (unless the tensor is also the
     * token embedding): let the kernel reclaim those pages of the mapping
     * first; the data stays valid (MADV_COLD only ages the pages) */
    uintptr_t a = ((uintptr_t)host + 4095u) & ~(uintptr_t)4095u, e = ((uintptr_t)host + w->nb1 * w->ne1) & ~(uintptr_t)4095u;
    if (e > a) zt_ignore(madvise((void *)a, e - a, MADV_COLD));
#endif
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

/* ---- element-wise ops (serial: cheap next to the matrix products) -------- */

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

/* Rows whose sums of squares run side by side: each row's sum is still one
 * chain of adds in index order, and RMS_ROWS independent chains keep the
 * adders busy where one waits on the latency of each add (a single row,
 * one token's, runs alone). */
#define RMS_ROWS 8

/* y = x / sqrt(mean(x^2) + eps) * g, summing squares in order. */
static int cpu_rmsnorm(struct zt__backend *be, const struct zt__tensor *x, const struct zt__tensor *g, float eps,
                       const struct zt__tensor *dst)
{
    (void)be;
    size_t n = x->ne0;
    const float *gv = row(g, 0);
    for (size_t b0 = 0; b0 < x->ne1; b0 += RMS_ROWS) {
        size_t nr = x->ne1 - b0 < RMS_ROWS ? x->ne1 - b0 : RMS_ROWS;
        const float *xv[RMS_ROWS];
        for (size_t r = 0; r < RMS_ROWS; r++)
            xv[r] = row(x, b0 + (r < nr ? r : 0)); /* past the last row: the first again, unused */
        /* named sums: the compiler keeps them in registers */
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
        if (nr == 1) /* one token: its chain alone */
            for (size_t i = 0; i < n; i++) s0 += xv[0][i] * xv[0][i];
        for (size_t i = 0; nr > 1 && i < n; i++) {
            s0 += xv[0][i] * xv[0][i];
            s1 += xv[1][i] * xv[1][i];
            s2 += xv[2][i] * xv[2][i];
            s3 += xv[3][i] * xv[3][i];
            s4 += xv[4][i] * xv[4][i];
            s5 += xv[5][i] * xv[5][i];
            s6 += xv[6][i] * xv[6][i];
            s7 += xv[7][i] * xv[7][i];
        }
        const float ss[RMS_ROWS] = {s0, s1, s2, s3, s4, s5, s6, s7};
        for (size_t r = 0; r < nr; r++) {
            float *y = row(dst, b0 + r);
            const float *xr = xv[r];
            float scale = 1.0f / sqrtf(ss[r] / (float)n + eps);
            size_t i = 0;
            /* blocks of 8 read into locals before any store (y may be x):
             * the compiler makes vector code of them */
            for (; i + 8 <= n; i += 8) {
                float xb[8], gb[8];
                for (size_t j = 0; j < 8; j++) {
                    xb[j] = xr[i + j];
                    gb[j] = gv[i + j];
                }
                for (size_t j = 0; j < 8; j++) y[i + j] = (xb[j] * scale) * gb[j];
            }
            for (; i < n; i++) y[i] = (xr[i] * scale) * gv[i];
        }
    }
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

static int cpu_add(struct zt__backend *be, const struct zt__tensor *a, const struct zt__tensor *bt,
                   const struct zt__tensor *dst)
{
    (void)be;
    size_t n = a->ne0;
    if (bt->ne1 == a->ne1 && contiguous(a) && contiguous(bt) && contiguous(dst)) {
        add_span(row(dst, 0), row(a, 0), row(bt, 0), n * a->ne1);
        return 0;
    }
    for (size_t r = 0; r < a->ne1; r++) add_span(row(dst, r), row(a, r), row(bt, bt->ne1 == 1 ? 0 : r), n);
    return 0;
}

/* The cos and sin of row b's angles pos[b] * freq_scale * inv_freq[i] (at
 * 2 * b * half: half cos, then half sin) for the rope call (x's rows, pos,
 * p): the table kept from the last call
 * when that was made from the same values, else computed into it; NULL
 * when it cannot be allocated (the caller computes them itself). */
static const float *rope_angles(struct cpu *c, size_t n, const uint32_t *pos, float freq_scale,
                                const float *inv_freq, uint32_t half)
{
    struct rope_table *t = c->rope;
    if (t && t->n == n && t->half == half && memcmp(&t->freq_scale, &freq_scale, sizeof freq_scale) == 0 &&
        memcmp(t->inv_freq, inv_freq, half * sizeof *inv_freq) == 0 && memcmp(t->pos, pos, n * sizeof *pos) == 0)
        return t->cs;
    if (!t || t->cap < n || t->cap_half < half) {
        /* one block: the struct, inv_freq, pos, then the pairs */
        size_t cap = t && t->cap > n ? t->cap : n, ch = t && t->cap_half > half ? t->cap_half : half, bytes;
        if (cap < 64) cap = 64;
        if (zt_mul_size(cap, (size_t)ch * 2 * sizeof(float) + sizeof(uint32_t), &bytes) ||
            bytes > SIZE_MAX - sizeof *t - ch * sizeof(float))
            return NULL;
        struct rope_table *nt = zt_malloc(sizeof *t + ch * sizeof(float) + bytes);
        if (!nt) return NULL;
        zt_free(t);
        c->rope = t = nt;
        t->cap = cap;
        t->cap_half = (uint32_t)ch;
        t->inv_freq = (float *)(void *)(t + 1);
        t->cs = t->inv_freq + ch;
        t->pos = (uint32_t *)(void *)(t->cs + cap * ch * 2);
    }
    t->n = 0; /* not a valid key until filled */
    for (size_t b = 0; b < n; b++) {
        float ps = (float)pos[b] * freq_scale, *cs = t->cs + 2 * b * half;
        for (uint32_t i = 0; i < half; i++) zt__sincosf(ps * inv_freq[i], &cs[half + i], &cs[i]);
    }
    memcpy(t->inv_freq, inv_freq, half * sizeof *inv_freq);
    memcpy(t->pos, pos, n * sizeof *pos);
    t->freq_scale = freq_scale;
    t->half = half;
    t->n = n;
    return t->cs;
}

/* Rotate one head's pairs by the angles whose cos and sin are c[i], s[i]:
 * (i, i + half) with neox, else (2i, 2i + 1). Blocks of 4 pairs are read
 * into locals before they are written, which the compiler makes vector
 * code of: the same two products and one add or subtract per value. */
static void rope_head(float *v, bool neox, uint32_t half, const float *c, const float *s)
{
    uint32_t i = 0;
    float x0[4], x1[4], y0[4], y1[4];
    for (; i + 4 <= half; i += 4) {
        if (neox) {
            memcpy(x0, v + i, sizeof x0);
            memcpy(x1, v + i + half, sizeof x1);
        } else {
            for (uint32_t k = 0; k < 4; k++) {
                x0[k] = v[2 * (i + k)];
                x1[k] = v[2 * (i + k) + 1];
            }
        }
        for (uint32_t k = 0; k < 4; k++) {
            y0[k] = x0[k] * c[i + k] - x1[k] * s[i + k];
            y1[k] = x0[k] * s[i + k] + x1[k] * c[i + k];
        }
        if (neox) {
            memcpy(v + i, y0, sizeof y0);
            memcpy(v + i + half, y1, sizeof y1);
        } else {
            for (uint32_t k = 0; k < 4; k++) {
                v[2 * (i + k)] = y0[k];
                v[2 * (i + k) + 1] = y1[k];
            }
        }
    }
    for (; i < half; i++) {
        uint32_t ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
        float a = v[ia], b = v[ib];
        v[ia] = a * c[i] - b * s[i];
        v[ib] = a * s[i] + b * c[i];
    }
}

/* Rotate the first n_rot dims of each head of every row at its position. */
static int cpu_rope(struct zt__backend *be, const struct zt__tensor *x, const uint32_t *pos, const struct zt__rope *p)
{
    uint32_t hd = p->head_dim, half = p->n_rot / 2;
    const float *inv_freq = row(&p->inv_freq, 0);
    const float *table = rope_angles(cpu_of(be), x->ne1, pos, p->freq_scale, inv_freq, half);
    for (size_t b = 0; b < x->ne1; b++) {
        float *xv = row(x, b);
        if (table) {
            const float *c = table + 2 * b * half;
            for (uint32_t h = 0; h < p->n_heads; h++) rope_head(xv + (size_t)h * hd, p->neox, half, c, c + half);
            continue;
        }
        /* no table (out of memory): each angle as it comes */
        float ps = (float)pos[b] * p->freq_scale;
        for (uint32_t i = 0; i < half; i++) {
            float c, s;
            zt__sincosf(ps * inv_freq[i], &s, &c);
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

static int cpu_kv_store(struct zt__backend *be, const struct zt__tensor *k, const struct zt__tensor *v,
                        const struct zt__kv_view *kv)
{
    (void)be;
    for (size_t b = 0; b < k->ne1; b++) {
        store_row(&kv[b].k, kv[b].pos, row(k, b), k->ne0);
        store_row(&kv[b].v, kv[b].pos, row(v, b), v->ne0);
    }
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
    bool quant, do_prep;    /* par_quantize: quantise the rows / prepare their terms */
    atomic_int failed;
};

/* Quantises activation rows [b0, b1) and, for a packed matrix, prepares
 * their terms: once per product (or per group of products with one
 * input, cpu_matmul_n), not once per chunk of weight rows. */
static void par_quantize(void *ctx, size_t b0, size_t b1, unsigned tid)
{
    (void)tid;
    struct mm *f = ctx;
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
    enum zt_ggml_type have_q = ZT_GGML_TYPE_COUNT, have_prep = ZT_GGML_TYPE_COUNT; /* what xq, prep hold */
    size_t have_n = 0;
    uint8_t *xq = NULL;
    for (size_t i = 0; i < n; i++) {
        enum zt_ggml_type at = zt_quant_vec_dot_type(w[i]->type);
        size_t rb;
        if (zt_quant_row_bytes(at, w[i]->ne0, &rb)) return ZT_EINVAL;
        int rc = 0;
        const struct packed_w *pw = prepared_of(c, w[i]);
        struct mm f = {.w = w[i], .x = x, .dst = dst[i], .xq_row = rb, .packed = pw ? pw->p : NULL,
                       .copy = pw ? pw->copy : NULL, .quant = at != have_q || w[i]->ne0 != have_n};
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
    bool vec; /* the AVX-512 kernels (attn_avx512.c) */
    atomic_int failed; /* a worker could not allocate */
    const uint32_t *block; /* work blocks: first item, | ATTN_GROUP for a group of ZT_ATTN_MQ */
};

#define ATTN_GROUP 0x80000000u

/* Element i of cache row t (F32 or F16, exact). */
static inline float kv_at(const void *c, bool f16, size_t idx)
{
    return f16 ? zt_fp16_to_fp32(((const uint16_t *)c)[idx]) : ((const float *)c)[idx];
}

/* Where item b's head h reads: its query, its cache's K and V rows for the
 * KV head of h, and its output. */
struct attn_at {
    const float *q;
    const void *kc, *vc;
    float *o;
    bool f16;
    size_t ks, vs;
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
                            .kc = base(&kv->k) + (size_t)kvh * hd * es,
                            .vc = base(&kv->v) + (size_t)kvh * hd * es,
                            .o = row(a->dst, b) + (size_t)h * hd,
                            .f16 = f16, .ks = kv->k.nb1 / es, .vs = kv->v.nb1 / es, .n_pos = kv->pos + 1};
}

/* The scaled scores of one (item, head) over its n_pos cache rows. The
 * AVX-512 kernels (attn_avx512.c, when the path in use has AVX-512 and
 * head_dim % 16 == 0) compute the same chains 16 lanes at a time. */
static void attn_scores(const struct attn_ctx *a, const struct attn_at *x, float *scores)
{
    uint32_t hd = a->p->head_dim, n_pos = x->n_pos;
    float scale = 1.0f / sqrtf((float)hd);
    bool vec = a->vec && hd % 16 == 0;
    uint32_t t = vec ? zt__attn_scores_avx512(x->q, x->kc, x->f16, x->ks, hd, n_pos, scale, scores) : 0;
    /* 8 positions at a time: each score is still dot = 0, dot += q[i] * k[i]
     * in increasing i (the same bits), but 8 independent chains hide the
     * add latency that bounds the one-position loop. */
    for (; t + 8 <= n_pos; t += 8) {
        float dot[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        for (uint32_t i = 0; i < hd; i++) {
            float qi = x->q[i];
            for (uint32_t u = 0; u < 8; u++) dot[u] += qi * kv_at(x->kc, x->f16, (size_t)(t + u) * x->ks + i);
        }
        for (uint32_t u = 0; u < 8; u++) scores[t + u] = dot[u] * scale;
    }
    for (; t < n_pos; t++) {
        float dot = 0.0f;
        for (uint32_t i = 0; i < hd; i++) dot += x->q[i] * kv_at(x->kc, x->f16, (size_t)t * x->ks + i);
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

/* attn_softmax of the ZT_ATTN_MQ rows of a group (the vector path): each
 * row's max and sum in the same order as there, but the rows' chains
 * interleaved (over the positions all rows have, then each row's own), so
 * the add latency is paid once per position, not once per position and
 * row. */
static void attn_softmax_group(float *const sc[ZT_ATTN_MQ], const uint32_t n_pos[ZT_ATTN_MQ], float inv[ZT_ATTN_MQ])
{
    float mx[ZT_ATTN_MQ], sum[ZT_ATTN_MQ];
    uint32_t common = n_pos[0];
    for (size_t j = 0; j < ZT_ATTN_MQ; j++) {
        mx[j] = -INFINITY;
        sum[j] = 0.0f;
        if (n_pos[j] < common) common = n_pos[j];
    }
    for (uint32_t t = 0; t < common; t++)
        for (size_t j = 0; j < ZT_ATTN_MQ; j++)
            if (sc[j][t] > mx[j]) mx[j] = sc[j][t];
    for (size_t j = 0; j < ZT_ATTN_MQ; j++) {
        for (uint32_t t = common; t < n_pos[j]; t++)
            if (sc[j][t] > mx[j]) mx[j] = sc[j][t];
        zt__exp_sub_avx512(sc[j], n_pos[j], mx[j]);
    }
    for (uint32_t t = 0; t < common; t++)
        for (size_t j = 0; j < ZT_ATTN_MQ; j++) sum[j] += sc[j][t];
    for (size_t j = 0; j < ZT_ATTN_MQ; j++) {
        for (uint32_t t = common; t < n_pos[j]; t++) sum[j] += sc[j][t];
        inv[j] = 1.0f / sum[j];
    }
}

/* Head h of ZT_ATTN_MQ items of one sequence (attn_shared): the scores of
 * all of them per pass over the K tiles, the weighted sums ZT_ATTN_WQ at a
 * time per pass over the V rows; each (item, head) gets attend()'s bits. */
static void attend_group(const struct attn_ctx *a, size_t b0, uint32_t h, float *scores, size_t stride,
                         float *scratch)
{
    uint32_t hd = a->p->head_dim;
    struct attn_at x[ZT_ATTN_MQ];
    const float *q[ZT_ATTN_MQ], *csc[ZT_ATTN_MQ];
    float *sc[ZT_ATTN_MQ], *o[ZT_ATTN_MQ], inv[ZT_ATTN_MQ];
    uint32_t n_pos[ZT_ATTN_MQ];
    for (size_t j = 0; j < ZT_ATTN_MQ; j++) {
        x[j] = attn_at(a, b0 + j, h);
        q[j] = x[j].q;
        sc[j] = scores + j * stride;
        csc[j] = sc[j];
        o[j] = x[j].o;
        n_pos[j] = x[j].n_pos;
    }
    zt__attn_scores_mq_avx512(q, x[0].kc, x[0].f16, x[0].ks, hd, n_pos, 1.0f / sqrtf((float)hd), sc, scratch);
    attn_softmax_group(sc, n_pos, inv);
    if (hd % 64 == 0) {
        for (size_t j = 0; j < ZT_ATTN_MQ; j += ZT_ATTN_WQ)
            zt__attn_wsum_mq_avx512(csc + j, inv + j, x[0].vc, x[0].f16, x[0].vs, hd, n_pos + j, o + j);
    } else {
        for (size_t j = 0; j < ZT_ATTN_MQ; j++) attn_wsum(a, &x[j], sc[j], inv[j]);
    }
}

/* Work unit j: head j % n_head of work block j / n_head (one item, or a
 * group of ZT_ATTN_MQ items of one sequence). */
static void par_attention(void *ctx, size_t j0, size_t j1, unsigned tid)
{
    (void)tid;
    struct attn_ctx *a = ctx;
    size_t n_head = a->p->n_head;
    uint32_t max_pos = 0;
    for (size_t j = j0; j < j1; j++) {
        uint32_t blk = a->block[j / n_head];
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
        uint32_t blk = a->block[j / n_head], h = (uint32_t)(j % n_head);
        if (blk & ATTN_GROUP)
            attend_group(a, blk & ~ATTN_GROUP, h, scores, stride, scores + ZT_ATTN_MQ * stride);
        else
            attend(a, blk, h, scores);
    }
    zt_free(scores);
}

static int cpu_attention(struct zt__backend *be, const struct zt__tensor *q, const struct zt__kv_view *kv,
                         const struct zt__attn *p, const struct zt__tensor *dst)
{
    struct attn_ctx a = {.q = q, .dst = dst, .kv = kv, .p = p,
                         .vec = zt__attn_avx512_built && zt_quant_isa_current() >= ZT_QUANT_ISA_AVX512};
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
    const char *pk = getenv("ZT_PACK");
    c->no_pack = pk != NULL && strcmp(pk, "0") == 0;
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
