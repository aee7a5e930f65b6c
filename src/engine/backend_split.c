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
 *   window on each device: the bytes [lo, hi) that the ops on that device
 *   use, allocated when an op first uses them there and grown (a new
 *   allocation, the old window copied in) when an op uses more. A KV
 *   cache's rows of a layer are only ever touched on that layer's device,
 *   so each device holds the caches of its own layers only; the logits'
 *   matmul output only where the output matrix is. A new buffer of a size
 *   seen before gets the windows that size ended with, allocated at once
 *   (a new sequence's caches: one allocation per device, no growth);
 * - every byte range knows which device's window is current (both, only
 *   one, or none: never written, zero). Before an op, the ranges it reads that are current only on the
 *   other device are copied over (through the host); after it, the range
 *   it wrote is current only on its device. The caches never move; the
 *   residual stream moves once per pass at the boundary.
 *
 * Results are each op's on its device: with two exact instances the
 * outputs are the CPU's bits (the op tests and test_vulkan check it). */
#include <pthread.h>
#include <string.h>

#include "backend.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"

/* A range's state: current on device 0, 1, or both; or never written
 * (zero wherever a window holds it, as a fresh buffer is). */
enum { BOTH = 2, NONE = 3 };

struct seg {
    size_t end; /* the segment is [previous end, end) */
    int state;
};

struct zt__buffer {
    struct zt__buffer *b[2]; /* the device buffers (a mapped weight: one of them; NULL: none there yet) */
    size_t lo[2], hi[2];     /* an allocated buffer: b[d] holds its bytes [lo[d], hi[d]) */
    size_t size;
    int home;      /* a weight's device; -1 for an allocated buffer */
    struct seg *segs;
    size_t n_segs, cap;
};

/* The windows buffers of one size ended with (the last LEARN sizes). */
enum { LEARN = 16 };
struct learned {
    size_t size; /* 0: unused */
    size_t lo[2], hi[2];
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
    struct learned learned[LEARN];
    unsigned learn_next;
    struct zt__split_stats st;
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

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static struct learned *learn_find(struct split *s, size_t size)
{
    for (int i = 0; i < LEARN; i++)
        if (s->learned[i].size == size) return &s->learned[i];
    return NULL;
}

/* Buffers of b's size end with at least d's window of b. */
static void learn_note(struct split *s, const struct zt__buffer *b, int d)
{
    struct learned *l = learn_find(s, b->size);
    if (!l) {
        l = &s->learned[s->learn_next++ % LEARN];
        *l = (struct learned){.size = b->size};
    }
    if (l->lo[d] == l->hi[d]) {
        l->lo[d] = b->lo[d];
        l->hi[d] = b->hi[d];
    } else {
        l->lo[d] = min_sz(l->lo[d], b->lo[d]);
        l->hi[d] = max_sz(l->hi[d], b->hi[d]);
    }
}

/* Copies [lo, hi) of buffer `from` (its byte 0 at buffer offset flo) to
 * `to` (byte 0 at tlo) on device d, through the host. */
static int copy_on(struct split *s, int d, struct zt__buffer *from, size_t flo, struct zt__buffer *to, size_t tlo,
                   size_t lo, size_t hi)
{
    struct zt__backend *be = s->dev[d];
    for (size_t p = lo; p < hi;) {
        size_t n = min_sz(hi - p, s->bounce_size);
        int rc = be->ops->buffer_get(be, from, p - flo, s->bounce, n);
        if (!rc) rc = be->ops->buffer_set(be, to, p - tlo, s->bounce, n);
        if (rc) return rc;
        p += n;
    }
    return 0;
}

/* Copies what d's old window `ob` ([olo, ohi) of b) holds that is current
 * on d into nb (b's bytes from nlo): ranges never written stay the zeros
 * nb starts with, so a cache's growth copies the rows written, not all. */
static int copy_current(struct split *s, const struct zt__buffer *b, int d, struct zt__buffer *ob, size_t olo,
                        size_t ohi, struct zt__buffer *nb, size_t nlo)
{
    size_t start = 0;
    for (size_t i = 0; i < b->n_segs && start < ohi; start = b->segs[i++].end) {
        size_t a = max_sz(start, olo), z = min_sz(b->segs[i].end, ohi);
        if (a >= z || (b->segs[i].state != d && b->segs[i].state != BOTH)) continue;
        int rc = copy_on(s, d, ob, olo, nb, nlo, a, z);
        if (rc) return rc;
    }
    return 0;
}

/* Makes d's window of allocated buffer b hold [lo, hi): allocated on
 * first use (as large as buffers of its size ended with), grown with what
 * the old window held copied in. */
static int window(struct split *s, struct zt__buffer *b, size_t lo, size_t hi, int d)
{
    if (b->home >= 0) return b->home == d ? 0 : ZT_EINVAL; /* a weight never moves */
    hi = min_sz(hi, b->size);
    if (lo >= hi || (b->b[d] && b->lo[d] <= lo && hi <= b->hi[d])) return 0;
    size_t nlo = lo, nhi = hi;
    const struct learned *l = learn_find(s, b->size);
    if (b->b[d]) {
        nlo = min_sz(nlo, b->lo[d]);
        nhi = max_sz(nhi, b->hi[d]);
    } else if (l && l->lo[d] < l->hi[d]) {
        nlo = min_sz(nlo, l->lo[d]);
        nhi = max_sz(nhi, l->hi[d]);
    }
    struct zt__backend *be = s->dev[d];
    struct zt__buffer *nb = NULL;
    int rc = be->ops->buffer_alloc(be, nhi - nlo, &nb);
    if (!rc && b->b[d]) rc = copy_current(s, b, d, b->b[d], b->lo[d], b->hi[d], nb, nlo);
    if (rc) {
        be->ops->buffer_free(be, nb);
        return rc;
    }
    s->st.held[d] += nhi - nlo; /* the old window too, for a moment */
    if (s->st.held[d] > s->st.peak[d]) s->st.peak[d] = s->st.held[d];
    if (b->b[d]) {
        be->ops->buffer_free(be, b->b[d]);
        s->st.held[d] -= b->hi[d] - b->lo[d];
        s->st.grown[d]++;
    }
    b->b[d] = nb;
    b->lo[d] = nlo;
    b->hi[d] = nhi;
    learn_note(s, b, d);
    return 0;
}

/* Makes [lo, hi) of b current on device d (whose window holds it): each
 * range current only on the other device is copied over through the host
 * and is then current on both (a range current only on d stays so: the
 * other copy is stale). */
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
        if (!b->b[o] || a < b->lo[o] || z > b->hi[o] || !b->b[d] || a < b->lo[d] || z > b->hi[d])
            return ZT_EINVAL; /* cannot happen: a range current on o is in o's window */
        for (size_t p = a; p < z;) {
            size_t n = min_sz(z - p, s->bounce_size);
            int rc = s->dev[o]->ops->buffer_get(s->dev[o], b->b[o], p - b->lo[o], s->bounce, n);
            if (!rc) rc = s->dev[d]->ops->buffer_set(s->dev[d], b->b[d], p - b->lo[d], s->bounce, n);
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

/* Before an op on device d uses t: all of it in d's window, and the
 * rows [0, rows) it reads current there (0: it only writes t). Every
 * tensor of an op is used before any is translated with on(): a window
 * that grows gets a new device buffer. */
static int use(struct split *s, const struct zt__tensor *t, size_t rows, size_t row_bytes, int d)
{
    size_t lo, hi;
    extent(t, row_bytes, &lo, &hi);
    int rc = window(s, t->buf, lo, hi, d);
    if (rc || !rows || t->buf->home >= 0) return rc;
    struct zt__tensor u = *t;
    u.ne1 = rows;
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

/* t with its buffer on device d (an allocated buffer: d's window). */
static struct zt__tensor on(const struct zt__tensor *t, int d)
{
    struct zt__tensor u = *t;
    u.buf = t->buf->b[d];
    if (t->buf->home < 0) u.offset -= t->buf->lo[d];
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
    pthread_mutex_lock(&s->mu);
    for (int d = 0; d < 2; d++) {
        if (!b->b[d]) continue;
        if (b->home >= 0) {
            s->dev[d]->ops->buffer_unmap(s->dev[d], b->b[d]);
            s->st.weights[d] -= b->size;
        } else {
            s->dev[d]->ops->buffer_free(s->dev[d], b->b[d]);
            s->st.held[d] -= b->hi[d] - b->lo[d];
        }
    }
    if (b->home < 0) s->st.full -= b->size;
    pthread_mutex_unlock(&s->mu);
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
    b->segs[0] = (struct seg){.end = size, .state = home >= 0 ? home : NONE};
    b->n_segs = 1;
    return b;
}

/* Nothing on the devices yet, unless buffers of this size were used
 * before: then the windows they ended with, at once (a failure shows
 * here rather than in a later op). */
static int sp_buffer_alloc(struct zt__backend *be, size_t size, struct zt__buffer **out)
{
    struct split *s = sp_of(be);
    struct zt__buffer *b = buf_new(size, -1);
    if (!b) return ZT_ENOMEM;
    pthread_mutex_lock(&s->mu);
    s->st.full += size;
    if (s->st.full > s->st.full_peak) s->st.full_peak = s->st.full;
    const struct learned *l = learn_find(s, size);
    int rc = 0;
    for (int d = 0; l && d < 2 && !rc; d++)
        if (l->lo[d] < l->hi[d]) rc = window(s, b, l->lo[d], l->hi[d], d);
    pthread_mutex_unlock(&s->mu);
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
    pthread_mutex_lock(&s->mu);
    s->st.weights[d] += size;
    pthread_mutex_unlock(&s->mu);
    *out = b;
    return 0;
}

static void sp_buffer_unmap(struct zt__backend *be, struct zt__buffer *buf)
{
    buf_release(sp_of(be), buf);
}

static bool holds(const struct zt__buffer *b, int d, size_t lo, size_t hi)
{
    return b->b[d] && b->lo[d] <= lo && hi <= b->hi[d];
}

/* Into every window that holds the range (the current device's, made to,
 * when none does); the range is then current where it was written. */
static int set_locked(struct split *s, struct zt__buffer *buf, size_t offset, const void *src, size_t size)
{
    if (buf->home >= 0) return s->dev[buf->home]->ops->buffer_set(s->dev[buf->home], buf->b[buf->home], offset, src, size);
    size_t hi = offset + size;
    int rc = 0;
    if (!holds(buf, 0, offset, hi) && !holds(buf, 1, offset, hi)) rc = window(s, buf, offset, hi, s->cur);
    bool wrote[2] = {false, false};
    for (int d = 0; d < 2 && !rc; d++)
        if (holds(buf, d, offset, hi)) {
            rc = s->dev[d]->ops->buffer_set(s->dev[d], buf->b[d], offset - buf->lo[d], src, size);
            wrote[d] = true;
        }
    return rc ? rc : seg_set(buf, offset, hi, wrote[0] && wrote[1] ? BOTH : wrote[0] ? 0 : 1);
}

static int sp_buffer_set(struct zt__backend *be, struct zt__buffer *buf, size_t offset, const void *src, size_t size)
{
    struct split *s = sp_of(be);
    if (offset > buf->size || size > buf->size - offset) return ZT_ERANGE;
    if (size == 0) return 0;
    pthread_mutex_lock(&s->mu);
    int rc = set_locked(s, buf, offset, src, size);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* [a, z) of buf, in state `state` (one segment), into out. */
static int get_range(struct split *s, const struct zt__buffer *buf, size_t a, size_t z, int state, uint8_t *out)
{
    if (buf->home >= 0) return s->dev[buf->home]->ops->buffer_get(s->dev[buf->home], buf->b[buf->home], a, out, z - a);
    if (state == NONE) {
        memset(out, 0, z - a);
        return 0;
    }
    /* current on d: in d's window; on both: in both windows */
    int d = state == BOTH ? 0 : state;
    if (!holds(buf, d, a, z)) return ZT_EINVAL;
    return s->dev[d]->ops->buffer_get(s->dev[d], buf->b[d], a - buf->lo[d], out, z - a);
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
        rc = get_range(s, buf, a, z, buf->segs[i].state, (uint8_t *)dst + (a - offset));
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
    int rc = use(s, src, src->ne1, src->buf->home < 0 ? f32_row(src) : src->nb1, d);
    if (!rc) rc = use(s, dst, 0, f32_row(dst), d);
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
    int rc = use(s, x, x->ne1, f32_row(x), d);
    if (!rc) rc = use(s, g, 1, f32_row(g), d);
    if (!rc) rc = use(s, dst, 0, f32_row(dst), d);
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
    int rc = use(s, x, x->ne1, f32_row(x), d);
    if (!rc) rc = use(s, w, w->ne1, w->nb1, d);
    if (!rc) rc = use(s, dst, 0, f32_row(dst), d);
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
    int rc = use(s, a, a->ne1, f32_row(a), d);
    if (!rc) rc = use(s, b, b->ne1, f32_row(b), d);
    if (!rc) rc = use(s, dst, 0, f32_row(dst), d);
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
    int rc = use(s, x, x->ne1, f32_row(x), d);
    if (!rc) rc = use(s, &p->inv_freq, 1, f32_row(&p->inv_freq), d);
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

static size_t kv_row(const struct zt__tensor *t) { return t->ne0 * (t->type == ZT_GGML_F16 ? 2 : 4); }

/* The K cache bytes [lo, hi) (from the view's offset) that hold position
 * pos, under the devices' layout (backend.h zt__kv_view: in a tile of 16
 * positions a column, spread over the tile's rows). */
static void k_span(const struct split *s, const struct zt__tensor *k, size_t pos, size_t *lo, size_t *hi)
{
    size_t es = k->type == ZT_GGML_F16 ? 2 : 4, ks = k->nb1 / es;
    *lo = zt__kv_k_index(s->base.kv_k_tile, k->ne1, ks, pos, 0) * es;
    *hi = (zt__kv_k_index(s->base.kv_k_tile, k->ne1, ks, pos, k->ne0 - 1) + 1) * es;
}

/* Each item's caches (their current layer) in d's window; rows [0, pos]
 * current there when `rows` (attention reads them; kv_store only writes;
 * K: the rows of the tiles that hold them). */
static int views_use(struct split *s, const struct zt__kv_view *kv, size_t n, int d, bool rows)
{
    int rc = 0;
    for (size_t b = 0; b < n && !rc; b++) {
        size_t k_lo, k_hi;
        k_span(s, &kv[b].k, kv[b].pos, &k_lo, &k_hi);
        size_t k_rows = (k_hi + kv[b].k.nb1 - 1) / kv[b].k.nb1; /* rows through the one holding pos's last byte */
        rc = use(s, &kv[b].k, rows ? k_rows : 0, kv_row(&kv[b].k), d);
        if (!rc) rc = use(s, &kv[b].v, rows ? kv[b].pos + 1 : 0, kv_row(&kv[b].v), d);
    }
    return rc;
}

/* The items' views with the buffers of device d (caller frees), once
 * views_use has run. */
static int views_on(const struct zt__kv_view *kv, size_t n, int d, struct zt__kv_view **out)
{
    struct zt__kv_view *v = zt_malloc((n ? n : 1) * sizeof *v);
    if (!v) return ZT_ENOMEM;
    for (size_t b = 0; b < n; b++)
        v[b] = (struct zt__kv_view){.k = on(&kv[b].k, d), .v = on(&kv[b].v, d), .pos = kv[b].pos};
    *out = v;
    return 0;
}

static int kv_store_locked(struct split *s, const struct zt__tensor *k, const struct zt__tensor *vt,
                           const struct zt__kv_view *kv)
{
    int d = dev_for(s, NULL);
    int rc = use(s, k, k->ne1, f32_row(k), d);
    if (!rc) rc = use(s, vt, vt->ne1, f32_row(vt), d);
    if (!rc) rc = views_use(s, kv, k->ne1, d, false);
    struct zt__kv_view *v = NULL;
    if (!rc) rc = views_on(kv, k->ne1, d, &v);
    if (rc) return rc;
    struct zt__tensor a = on(k, d), b = on(vt, d);
    rc = s->dev[d]->ops->kv_store(s->dev[d], &a, &b, v);
    zt_free(v);
    for (size_t i = 0; !rc && i < k->ne1; i++) {
        struct zt__buffer *kb = kv[i].k.buf, *vb = kv[i].v.buf;
        size_t k_lo, k_hi, vo = kv[i].v.offset + kv[i].pos * kv[i].v.nb1;
        k_span(s, &kv[i].k, kv[i].pos, &k_lo, &k_hi);
        rc = kb->home < 0 ? seg_set(kb, kv[i].k.offset + k_lo, kv[i].k.offset + k_hi, d) : ZT_EINVAL;
        if (!rc) rc = vb->home < 0 ? seg_set(vb, vo, vo + kv_row(&kv[i].v), d) : ZT_EINVAL;
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
    int rc = use(s, q, q->ne1, f32_row(q), d);
    if (!rc) rc = views_use(s, kv, q->ne1, d, true);
    if (!rc) rc = use(s, dst, 0, f32_row(dst), d);
    struct zt__kv_view *v = NULL;
    if (!rc) rc = views_on(kv, q->ne1, d, &v);
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

static const struct zt__backend_ops sp_ops;

int zt__backend_split_stats(struct zt__backend *be, struct zt__split_stats *out)
{
    if (!be || be->ops != &sp_ops) return ZT_EINVAL;
    struct split *s = sp_of(be);
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void sp_free(struct zt__backend *be)
{
    struct split *s = sp_of(be);
    zt_log(ZT_LOG_DEBUG, "split",
           "engine buffers held at most %llu + %llu bytes on the two devices (%llu each with a full copy)",
           (unsigned long long)s->st.peak[0], (unsigned long long)s->st.peak[1],
           (unsigned long long)s->st.full_peak);
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
    s->base.kv_k_tile = s->dev[0]->kv_k_tile; /* the devices are instances of one backend */
    zt_log(ZT_LOG_DEBUG, "split", "%s devices %u and %u, %llu weight bytes on the first", name, devices[0],
           devices[1], (unsigned long long)budget0);
    *out = &s->base;
    return 0;
}
