/* backend_split.c: one model's layers across two devices (issue 14 item 4,
 * docs/internals/backend.md "Two devices"). A backend instance over two
 * instances of a device backend (two GPUs, or two logical devices of one:
 * the tests run two lavapipe instances):
 *
 * - weights (buffer_map) go to the first device until its budget of weight
 *   bytes is used, then to the second: the model maps its tensors in layer
 *   order, so the first layers run on device 0 and the rest on device 1;
 * - every op runs on the device holding its weight (matmul, get_rows of a
 *   table, rmsnorm's gain, add of a bias); an op without one (add of two
 *   activations, rope, kv_store, attention, swiglu) runs where the last
 *   weighted op ran, i.e. on the device of the current layer;
 * - buffers the engine allocates (activations, KV caches, tables) have a
 *   copy on each device, and every byte range knows which copy is current
 *   (both, or only one). Before an op, the ranges it reads that are current
 *   only on the other device are copied over (through the host); after it,
 *   the range it wrote is current only on its device. A KV cache's rows of a
 *   layer are only ever touched on that layer's device, so the caches never
 *   move; the residual stream moves once per pass at the boundary.
 *
 * Results are each op's on its device: with two exact instances the
 * outputs are the CPU's bits (the op tests and test_vulkan check it). */
#include <pthread.h>
#include <string.h>

#include "backend.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"

enum { BOTH = 2 }; /* a range's state: current on device 0, 1, or both */

struct seg {
    size_t end; /* the segment is [previous end, end) */
    int state;
};

struct zt__buffer {
    struct zt__buffer *b[2]; /* the device buffers (a mapped weight: one of them) */
    size_t size;
    int home;      /* a weight's device; -1 for an allocated buffer */
    struct seg *segs;
    size_t n_segs, cap;
};

struct split {
    struct zt__backend base;
    struct zt__backend *dev[2];
    pthread_mutex_t mu;
    uint64_t budget0;  /* weight bytes device 0 takes */
    uint64_t placed0;  /* weight bytes placed on device 0 so far */
    int cur;           /* where ops without a weight run */
    uint8_t *bounce;   /* host copy between devices */
    size_t bounce_size;
};

static struct split *sp_of(struct zt__backend *be) { return (struct split *)be; }

/* ---- ranges ------------------------------------------------------------------------ */

/* A boundary at off (splitting the segment that spans it). */
static int seg_cut(struct zt__buffer *b, size_t off)
{
    if (off == 0 || off >= b->size) return 0;
    size_t i = 0;
    while (b->segs[i].end < off) i++;
    if (b->segs[i].end == off) return 0;
    if (b->n_segs == b->cap) {
        size_t cap = b->cap * 2;
        struct seg *n = zt_realloc(b->segs, cap * sizeof *n);
        if (!n) return ZT_ENOMEM;
        b->segs = n;
        b->cap = cap;
    }
    memmove(&b->segs[i + 1], &b->segs[i], (b->n_segs - i) * sizeof *b->segs);
    b->segs[i].end = off;
    b->n_segs++;
    return 0;
}

/* [lo, hi) gets `state`; neighbours of the same state merge. */
static int seg_set(struct zt__buffer *b, size_t lo, size_t hi, int state)
{
    if (hi > b->size) hi = b->size;
    if (lo >= hi) return 0;
    int rc = seg_cut(b, lo);
    if (!rc) rc = seg_cut(b, hi);
    if (rc) return rc;
    size_t start = 0, o = 0;
    for (size_t i = 0; i < b->n_segs; i++) {
        if (start >= lo && b->segs[i].end <= hi) b->segs[i].state = state;
        if (o > 0 && b->segs[o - 1].state == b->segs[i].state) {
            b->segs[o - 1].end = b->segs[i].end;
        } else {
            b->segs[o++] = b->segs[i];
        }
        start = b->segs[i].end;
    }
    b->n_segs = o;
    return 0;
}

/* Makes [lo, hi) of b current on device d: each range current only on the
 * other device is copied over through the host and is then current on
 * both (a range current only on d stays so: the other copy is stale). */
static int need(struct split *s, struct zt__buffer *b, size_t lo, size_t hi, int d)
{
    if (b->home >= 0) return b->home == d ? 0 : ZT_EINVAL; /* a weight never moves */
    if (hi > b->size) hi = b->size;
    int o = 1 - d;
    for (;;) {
        size_t start = 0, a = 0, z = 0;
        for (size_t i = 0; i < b->n_segs && start < hi; start = b->segs[i++].end) {
            a = start > lo ? start : lo;
            z = b->segs[i].end < hi ? b->segs[i].end : hi;
            if (a < z && b->segs[i].state == o) break;
            a = z = 0;
        }
        if (a >= z) return 0; /* nothing left only on the other device */
        for (size_t p = a; p < z;) {
            size_t n = z - p < s->bounce_size ? z - p : s->bounce_size;
            int rc = s->dev[o]->ops->buffer_get(s->dev[o], b->b[o], p, s->bounce, n);
            if (!rc) rc = s->dev[d]->ops->buffer_set(s->dev[d], b->b[d], p, s->bounce, n);
            if (rc) return rc;
            p += n;
        }
        int rc = seg_set(b, a, z, BOTH);
        if (rc) return rc;
    }
}

/* Bytes a tensor spans in its buffer: [lo, hi). */
static void extent(const struct zt__tensor *t, size_t row_bytes, size_t *lo, size_t *hi)
{
    *lo = t->offset;
    *hi = t->ne1 ? t->offset + (t->ne1 - 1) * t->nb1 + row_bytes : t->offset;
}

static size_t f32_row(const struct zt__tensor *t) { return t->ne0 * sizeof(float); }

/* Before an op on device d reads t (rows [0, rows) of it). */
static int reads(struct split *s, const struct zt__tensor *t, size_t rows, size_t row_bytes, int d)
{
    struct zt__tensor u = *t;
    u.ne1 = rows;
    size_t lo, hi;
    extent(&u, row_bytes, &lo, &hi);
    return need(s, t->buf, lo, hi, d);
}

/* After an op on device d wrote rows [r0, r1) of t. */
static int wrote(const struct zt__tensor *t, size_t r0, size_t r1, int d)
{
    if (t->buf->home >= 0 || r1 <= r0) return 0;
    size_t lo = t->offset + r0 * t->nb1, hi = t->offset + (r1 - 1) * t->nb1 + f32_row(t);
    return seg_set(t->buf, lo, hi, d);
}

/* t with its buffer on device d. */
static struct zt__tensor on(const struct zt__tensor *t, int d)
{
    struct zt__tensor u = *t;
    u.buf = t->buf->b[d];
    return u;
}

/* The device of an op using weight w (or, for an allocated buffer, the
 * current one); the current device follows the weights. */
static int dev_for(struct split *s, const struct zt__tensor *w)
{
    if (w && w->buf->home >= 0) s->cur = w->buf->home;
    return s->cur;
}

/* ---- memory ------------------------------------------------------------------------- */

static void buf_release(struct split *s, struct zt__buffer *b)
{
    if (!b) return;
    for (int d = 0; d < 2; d++) {
        if (!b->b[d]) continue;
        if (b->home >= 0) s->dev[d]->ops->buffer_unmap(s->dev[d], b->b[d]);
        else s->dev[d]->ops->buffer_free(s->dev[d], b->b[d]);
    }
    zt_free(b->segs);
    zt_free(b);
}

static struct zt__buffer *buf_new(size_t size, int home)
{
    struct zt__buffer *b = zt_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->size = size;
    b->home = home;
    b->cap = 8;
    b->segs = zt_calloc(b->cap, sizeof *b->segs);
    if (!b->segs) {
        zt_free(b);
        return NULL;
    }
    b->segs[0] = (struct seg){.end = size, .state = home >= 0 ? home : BOTH};
    b->n_segs = 1;
    return b;
}

static int sp_buffer_alloc(struct zt__backend *be, size_t size, struct zt__buffer **out)
{
    struct split *s = sp_of(be);
    struct zt__buffer *b = buf_new(size, -1);
    if (!b) return ZT_ENOMEM;
    int rc = 0;
    for (int d = 0; d < 2 && !rc; d++) rc = s->dev[d]->ops->buffer_alloc(s->dev[d], size, &b->b[d]);
    if (rc) {
        buf_release(s, b);
        return rc;
    }
    *out = b;
    return 0;
}

static void sp_buffer_free(struct zt__backend *be, struct zt__buffer *buf)
{
    buf_release(sp_of(be), buf);
}

/* Weights: device 0 until its budget is used, then device 1. */
static int sp_buffer_map(struct zt__backend *be, const void *host, size_t size, struct zt__buffer **out)
{
    struct split *s = sp_of(be);
    pthread_mutex_lock(&s->mu);
    int d = s->placed0 + size <= s->budget0 ? 0 : 1;
    if (d == 0) s->placed0 += size;
    else s->budget0 = s->placed0; /* later weights follow the later layers */
    pthread_mutex_unlock(&s->mu);
    struct zt__buffer *b = buf_new(size, d);
    if (!b) return ZT_ENOMEM;
    int rc = s->dev[d]->ops->buffer_map(s->dev[d], host, size, &b->b[d]);
    if (rc) {
        zt_free(b->segs);
        zt_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

static void sp_buffer_unmap(struct zt__backend *be, struct zt__buffer *buf)
{
    buf_release(sp_of(be), buf);
}

static int sp_buffer_set(struct zt__backend *be, struct zt__buffer *buf, size_t offset, const void *src, size_t size)
{
    struct split *s = sp_of(be);
    if (offset > buf->size || size > buf->size - offset) return ZT_ERANGE;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    for (int d = 0; d < 2 && !rc; d++)
        if (buf->b[d]) rc = s->dev[d]->ops->buffer_set(s->dev[d], buf->b[d], offset, src, size);
    if (!rc && buf->home < 0) rc = seg_set(buf, offset, offset + size, BOTH);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Each range from a device where it is current. */
static int sp_buffer_get(struct zt__backend *be, const struct zt__buffer *buf, size_t offset, void *dst, size_t size)
{
    struct split *s = sp_of(be);
    if (offset > buf->size || size > buf->size - offset) return ZT_ERANGE;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    size_t start = 0, hi = offset + size;
    for (size_t i = 0; i < buf->n_segs && start < hi && !rc; start = buf->segs[i++].end) {
        size_t a = start > offset ? start : offset, z = buf->segs[i].end < hi ? buf->segs[i].end : hi;
        if (a >= z) continue;
        int d = buf->segs[i].state == BOTH ? 0 : buf->segs[i].state;
        rc = s->dev[d]->ops->buffer_get(s->dev[d], buf->b[d], a, (uint8_t *)dst + (a - offset), z - a);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- ops ----------------------------------------------------------------------------------- */

#define LOCKED(s, call) ZT__BACKEND_LOCKED(&(s)->mu, call)

static int get_rows_locked(struct split *s, const struct zt__tensor *src, const int32_t *ids,
                           const struct zt__tensor *dst)
{
    int d = dev_for(s, src);
    int rc = src->buf->home < 0 ? reads(s, src, src->ne1, f32_row(src), d) : 0;
    if (rc) return rc;
    struct zt__tensor a = on(src, d), o = on(dst, d);
    rc = s->dev[d]->ops->get_rows(s->dev[d], &a, ids, &o);
    return rc ? rc : wrote(dst, 0, dst->ne1, d);
}

static int sp_get_rows(struct zt__backend *be, const struct zt__tensor *src, const int32_t *ids,
                       const struct zt__tensor *dst)
{
    LOCKED(sp_of(be), get_rows_locked(sp_of(be), src, ids, dst));
}

static int rmsnorm_locked(struct split *s, const struct zt__tensor *x, const struct zt__tensor *g, float eps,
                          const struct zt__tensor *dst)
{
    int d = dev_for(s, g);
    int rc = reads(s, x, x->ne1, f32_row(x), d);
    if (!rc && g->buf->home < 0) rc = reads(s, g, 1, f32_row(g), d);
    if (rc) return rc;
    struct zt__tensor a = on(x, d), b = on(g, d), o = on(dst, d);
    rc = s->dev[d]->ops->rmsnorm(s->dev[d], &a, &b, eps, &o);
    return rc ? rc : wrote(dst, 0, dst->ne1, d);
}

static int sp_rmsnorm(struct zt__backend *be, const struct zt__tensor *x, const struct zt__tensor *g, float eps,
                      const struct zt__tensor *dst)
{
    LOCKED(sp_of(be), rmsnorm_locked(sp_of(be), x, g, eps, dst));
}

static int matmul_locked(struct split *s, const struct zt__tensor *w, const struct zt__tensor *x,
                         const struct zt__tensor *dst)
{
    int d = dev_for(s, w);
    int rc = reads(s, x, x->ne1, f32_row(x), d);
    if (!rc && w->buf->home < 0) rc = reads(s, w, w->ne1, w->nb1, d);
    if (rc) return rc;
    struct zt__tensor a = on(w, d), b = on(x, d), o = on(dst, d);
    rc = s->dev[d]->ops->matmul(s->dev[d], &a, &b, &o);
    return rc ? rc : wrote(dst, 0, dst->ne1, d);
}

static int sp_matmul(struct zt__backend *be, const struct zt__tensor *w, const struct zt__tensor *x,
                     const struct zt__tensor *dst)
{
    LOCKED(sp_of(be), matmul_locked(sp_of(be), w, x, dst));
}

/* add (op 0) and swiglu (op 1) */
static int binary_locked(struct split *s, const struct zt__tensor *a, const struct zt__tensor *b,
                         const struct zt__tensor *dst, int op)
{
    int d = dev_for(s, a->buf->home >= 0 ? a : b->buf->home >= 0 ? b : NULL);
    int rc = a->buf->home < 0 ? reads(s, a, a->ne1, f32_row(a), d) : 0;
    if (!rc && b->buf->home < 0) rc = reads(s, b, b->ne1, f32_row(b), d);
    if (rc) return rc;
    struct zt__tensor x = on(a, d), y = on(b, d), o = on(dst, d);
    rc = op ? s->dev[d]->ops->swiglu(s->dev[d], &x, &y, &o) : s->dev[d]->ops->add(s->dev[d], &x, &y, &o);
    return rc ? rc : wrote(dst, 0, dst->ne1, d);
}

static int sp_add(struct zt__backend *be, const struct zt__tensor *a, const struct zt__tensor *b,
                  const struct zt__tensor *dst)
{
    LOCKED(sp_of(be), binary_locked(sp_of(be), a, b, dst, 0));
}

static int sp_swiglu(struct zt__backend *be, const struct zt__tensor *g, const struct zt__tensor *u,
                     const struct zt__tensor *dst)
{
    LOCKED(sp_of(be), binary_locked(sp_of(be), g, u, dst, 1));
}

static int rope_locked(struct split *s, const struct zt__tensor *x, const uint32_t *pos, const struct zt__rope *p)
{
    int d = dev_for(s, NULL);
    int rc = reads(s, x, x->ne1, f32_row(x), d);
    if (!rc && p->inv_freq.buf->home < 0) rc = reads(s, &p->inv_freq, 1, f32_row(&p->inv_freq), d);
    if (rc) return rc;
    struct zt__tensor a = on(x, d);
    struct zt__rope q = *p;
    q.inv_freq = on(&p->inv_freq, d);
    rc = s->dev[d]->ops->rope(s->dev[d], &a, pos, &q);
    return rc ? rc : wrote(x, 0, x->ne1, d);
}

static int sp_rope(struct zt__backend *be, const struct zt__tensor *x, const uint32_t *pos, const struct zt__rope *p)
{
    LOCKED(sp_of(be), rope_locked(sp_of(be), x, pos, p));
}

/* The items' views with the buffers of device d (caller frees). Reads rows
 * [0, pos] of each cache when `rows` (attention), none otherwise. */
static int views_on(struct split *s, const struct zt__kv_view *kv, size_t n, int d, bool rows,
                    struct zt__kv_view **out)
{
    struct zt__kv_view *v = zt_malloc((n ? n : 1) * sizeof *v);
    if (!v) return ZT_ENOMEM;
    for (size_t b = 0; b < n; b++) {
        size_t es = kv[b].k.type == ZT_GGML_F16 ? 2 : 4;
        int rc = rows ? reads(s, &kv[b].k, kv[b].pos + 1, kv[b].k.ne0 * es, d) : 0;
        if (!rc && rows) rc = reads(s, &kv[b].v, kv[b].pos + 1, kv[b].v.ne0 * es, d);
        if (rc) {
            zt_free(v);
            return rc;
        }
        v[b] = (struct zt__kv_view){.k = on(&kv[b].k, d), .v = on(&kv[b].v, d), .pos = kv[b].pos};
    }
    *out = v;
    return 0;
}

static int kv_store_locked(struct split *s, const struct zt__tensor *k, const struct zt__tensor *vt,
                           const struct zt__kv_view *kv)
{
    int d = dev_for(s, NULL);
    int rc = reads(s, k, k->ne1, f32_row(k), d);
    if (!rc) rc = reads(s, vt, vt->ne1, f32_row(vt), d);
    struct zt__kv_view *v = NULL;
    if (!rc) rc = views_on(s, kv, k->ne1, d, false, &v);
    if (rc) return rc;
    struct zt__tensor a = on(k, d), b = on(vt, d);
    rc = s->dev[d]->ops->kv_store(s->dev[d], &a, &b, v);
    zt_free(v);
    for (size_t i = 0; !rc && i < k->ne1; i++) {
        size_t es = kv[i].k.type == ZT_GGML_F16 ? 2 : 4;
        struct zt__buffer *kb = kv[i].k.buf, *vb = kv[i].v.buf;
        size_t ko = kv[i].k.offset + kv[i].pos * kv[i].k.nb1, vo = kv[i].v.offset + kv[i].pos * kv[i].v.nb1;
        rc = kb->home < 0 ? seg_set(kb, ko, ko + k->ne0 * es, d) : ZT_EINVAL;
        if (!rc) rc = vb->home < 0 ? seg_set(vb, vo, vo + vt->ne0 * es, d) : ZT_EINVAL;
    }
    return rc;
}

static int sp_kv_store(struct zt__backend *be, const struct zt__tensor *k, const struct zt__tensor *v,
                       const struct zt__kv_view *kv)
{
    LOCKED(sp_of(be), kv_store_locked(sp_of(be), k, v, kv));
}

static int attention_locked(struct split *s, const struct zt__tensor *q, const struct zt__kv_view *kv,
                            const struct zt__attn *p, const struct zt__tensor *dst)
{
    int d = dev_for(s, NULL);
    int rc = reads(s, q, q->ne1, f32_row(q), d);
    struct zt__kv_view *v = NULL;
    if (!rc) rc = views_on(s, kv, q->ne1, d, true, &v);
    if (rc) return rc;
    struct zt__tensor a = on(q, d), o = on(dst, d);
    rc = s->dev[d]->ops->attention(s->dev[d], &a, v, p, &o);
    zt_free(v);
    return rc ? rc : wrote(dst, 0, dst->ne1, d);
}

static int sp_attention(struct zt__backend *be, const struct zt__tensor *q, const struct zt__kv_view *kv,
                        const struct zt__attn *p, const struct zt__tensor *dst)
{
    LOCKED(sp_of(be), attention_locked(sp_of(be), q, kv, p, dst));
}

/* ---- lifecycle ---------------------------------------------------------------------------------- */

static int sp_set_threads(struct zt__backend *be, unsigned n_threads)
{
    struct split *s = sp_of(be);
    int rc = s->dev[0]->ops->set_threads(s->dev[0], n_threads);
    return rc ? rc : s->dev[1]->ops->set_threads(s->dev[1], n_threads);
}

static bool sp_supports(const struct zt__backend *be, enum zt_ggml_type type)
{
    const struct split *s = (const struct split *)be;
    return s->dev[0]->ops->supports(s->dev[0], type) && s->dev[1]->ops->supports(s->dev[1], type);
}

static void sp_free(struct zt__backend *be)
{
    struct split *s = sp_of(be);
    zt__backend_free(s->dev[0]);
    zt__backend_free(s->dev[1]);
    zt_free(s->bounce);
    pthread_mutex_destroy(&s->mu);
    zt_free(s);
}

static const struct zt__backend_ops sp_ops = ZT__BACKEND_OPS(sp, "split");

int zt__backend_new_split(const char *name, const struct zt__backend_params *p, const unsigned devices[2],
                          uint64_t budget0, struct zt__backend **out)
{
    struct split *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    s->budget0 = budget0;
    s->bounce_size = (size_t)4 << 20;
    s->bounce = zt_malloc(s->bounce_size);
    int rc = s->bounce ? 0 : ZT_ENOMEM;
    for (int d = 0; d < 2 && !rc; d++) {
        struct zt__backend_params q = *p;
        q.device = devices[d];
        rc = zt__backend_new(name, &q, &s->dev[d]);
    }
    if (rc) {
        sp_free(&s->base);
        return rc;
    }
    s->base.ops = &sp_ops;
    s->base.exact = s->dev[0]->exact && s->dev[1]->exact;
    zt_log(ZT_LOG_DEBUG, "split", "%s devices %u and %u, %llu weight bytes on the first", name, devices[0],
           devices[1], (unsigned long long)budget0);
    *out = &s->base;
    return 0;
}
