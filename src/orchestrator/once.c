/* once.c: a bounded set of 16-byte ids, each kept until its expiry, for
 * "accepted once" (orch_verdict.h, zt__once_*): the worker receipts a
 * verdict used (lease.c, through evidence.c) and the checkers' report
 * receipts (orch_verdict.c). Open addressing, linear probing, keyed
 * SipHash (the ids come from the network: no chosen collisions).
 *
 * Every id taken also goes on a min-heap of expiries; each take first pops
 * what has expired (its slot becomes a tombstone), so `held` is the exact
 * number alive and a full set is known without a scan. Tombstones go when
 * the table is rebuilt, which happens only when the slots in use pass 3/4
 * of the table and leaves it at most half full: amortised O(1) per take
 * (review7 F12; before, a set near its bound rescanned and rebuilt the
 * whole table on every new id). It holds at most `max` live ids and never
 * forgets one before its expiry (a full set refuses new ids instead). */
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "orch_verdict.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"

enum { SLOT_EMPTY = 0, SLOT_PENDING, SLOT_USED, SLOT_TOMB };

struct once_slot {
    uint8_t id[ZT__ONCE_ID_LEN];
    int64_t expires; /* unix ms */
    uint8_t state;
};

/* An expiry on the heap: slot's id expires then (stale once the slot was
 * given back, reused or its expiry changed: then its expiry differs or the
 * slot is no longer held, and the entry is dropped when it comes up). */
struct once_exp {
    int64_t expires;
    size_t slot;
};

struct zt__once {
    pthread_mutex_t mu;
    struct once_slot *s;
    size_t cap;     /* a power of two */
    size_t filled;  /* pending + used + tombstones */
    size_t held;    /* pending + used: after expire_locked, exactly the live ids */
    size_t max;     /* live ids at most */
    struct once_exp *h; /* min-heap by expiry */
    size_t n_h, cap_h;
    uint8_t key[crypto_shorthash_KEYBYTES];
};

#define ONCE_CAP0 1024

int zt__once_new(size_t max, struct zt__once **out)
{
    struct zt__once *o = zt_calloc(1, sizeof *o);
    if (!o) return ZT_ENOMEM;
    o->cap = ONCE_CAP0;
    o->s = zt_calloc(o->cap, sizeof *o->s);
    if (!o->s) {
        zt_free(o);
        return ZT_ENOMEM;
    }
    o->max = max ? max : 1;
    randombytes_buf(o->key, sizeof o->key);
    pthread_mutex_init(&o->mu, NULL);
    *out = o;
    return 0;
}

void zt__once_free(struct zt__once *o)
{
    if (!o) return;
    pthread_mutex_destroy(&o->mu);
    zt_free(o->s);
    zt_free(o->h);
    zt_free(o);
}

static size_t home(const struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN])
{
    return (size_t)zt_keyed_hash64(id, ZT__ONCE_ID_LEN, o->key) & (o->cap - 1);
}

static bool held_state(const struct once_slot *s) { return s->state == SLOT_PENDING || s->state == SLOT_USED; }

static bool live(const struct once_slot *s, int64_t now_ms)
{
    /* through its expiry ms: the callers' expiry is the last moment the
     * thing could be accepted again, itself included (review7 F10) */
    return held_state(s) && s->expires >= now_ms;
}

/* ---- the heap of expiries ---------------------------------------------------- */

static void heap_up(struct zt__once *o, size_t i)
{
    struct once_exp e = o->h[i];
    while (i > 0 && o->h[(i - 1) / 2].expires > e.expires) {
        o->h[i] = o->h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    o->h[i] = e;
}

static void heap_down(struct zt__once *o, size_t i)
{
    struct once_exp e = o->h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= o->n_h) break;
        if (c + 1 < o->n_h && o->h[c + 1].expires < o->h[c].expires) c++;
        if (o->h[c].expires >= e.expires) break;
        o->h[i] = o->h[c];
        i = c;
    }
    o->h[i] = e;
}

/* The heap made again from the held slots (after a rebuild moved them,
 * or when stale entries outnumber the table). With o->mu. */
static int heap_remake(struct zt__once *o)
{
    size_t need = o->held + 1;
    if (need > o->cap_h) {
        size_t cap = o->cap_h ? o->cap_h : 64;
        while (cap < need) cap *= 2;
        struct once_exp *nh = zt_realloc(o->h, cap * sizeof *nh);
        if (!nh) return ZT_ENOMEM;
        o->h = nh;
        o->cap_h = cap;
    }
    o->n_h = 0;
    for (size_t i = 0; i < o->cap; i++)
        if (held_state(&o->s[i])) o->h[o->n_h++] = (struct once_exp){.expires = o->s[i].expires, .slot = i};
    for (size_t i = o->n_h / 2; i-- > 0;) heap_down(o, i);
    return 0;
}

/* Room for one more heap entry (ZT_ENOMEM: none). With o->mu. */
static int heap_room(struct zt__once *o)
{
    if (o->n_h > 2 * o->cap && heap_remake(o) != 0) return ZT_ENOMEM; /* stale entries pile up */
    if (o->n_h < o->cap_h) return 0;
    size_t cap = o->cap_h ? o->cap_h * 2 : 64;
    struct once_exp *nh = zt_realloc(o->h, cap * sizeof *nh);
    if (!nh) return ZT_ENOMEM;
    o->h = nh;
    o->cap_h = cap;
    return 0;
}

/* Drop the ids expired before now_ms (their slots become tombstones): each
 * one popped once. With o->mu. */
static void expire_locked(struct zt__once *o, int64_t now_ms)
{
    while (o->n_h && o->h[0].expires < now_ms) {
        struct once_exp e = o->h[0];
        o->h[0] = o->h[--o->n_h];
        if (o->n_h) heap_down(o, 0);
        struct once_slot *s = &o->s[e.slot];
        if (held_state(s) && s->expires == e.expires) {
            s->state = SLOT_TOMB;
            o->held--;
        }
    }
}

/* ---- the table ---------------------------------------------------------------- */

/* The slot holding id (any state but empty/tomb), or NULL. With o->mu. */
static struct once_slot *find(struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN])
{
    for (size_t i = home(o, id), n = 0; n < o->cap; i = (i + 1) & (o->cap - 1), n++) {
        struct once_slot *s = &o->s[i];
        if (s->state == SLOT_EMPTY) return NULL;
        if (s->state != SLOT_TOMB && memcmp(s->id, id, ZT__ONCE_ID_LEN) == 0) return s;
    }
    return NULL;
}

/* Rebuild into cap slots, dropping tombstones and expired ids, and the
 * heap with it. With o->mu. */
static int rebuild(struct zt__once *o, size_t cap, int64_t now_ms)
{
    struct once_slot *ns = zt_calloc(cap, sizeof *ns);
    if (!ns) return ZT_ENOMEM;
    struct once_slot *old = o->s;
    size_t old_cap = o->cap, old_filled = o->filled, old_held = o->held;
    o->s = ns;
    o->cap = cap;
    o->filled = o->held = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!live(&old[i], now_ms)) continue;
        size_t j = home(o, old[i].id);
        while (o->s[j].state != SLOT_EMPTY) j = (j + 1) & (cap - 1);
        o->s[j] = old[i];
        o->filled++;
        o->held++;
    }
    if (heap_remake(o) != 0) { /* the old table stays */
        o->s = old;
        o->cap = old_cap;
        o->filled = old_filled;
        o->held = old_held;
        zt_free(ns);
        return ZT_ENOMEM;
    }
    zt_free(old);
    return 0;
}

enum zt__once_rc zt__once_take(struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN], int64_t expires_ms,
                               int64_t now_ms, bool pending)
{
    pthread_mutex_lock(&o->mu);
    expire_locked(o, now_ms);
    struct once_slot *s = find(o, id);
    if (s && live(s, now_ms)) {
        enum zt__once_rc rc = s->state == SLOT_PENDING ? ZT__ONCE_PENDING : ZT__ONCE_USED;
        pthread_mutex_unlock(&o->mu);
        return rc;
    }
    enum zt__once_rc rc = ZT__ONCE_TAKEN;
    if (!s && o->held >= o->max) {
        rc = ZT__ONCE_FULL; /* exact: every expired id was dropped above */
    } else if (!s && (o->filled + 1) * 4 > o->cap * 3) {
        /* tombstones and growth: at most half full after it, so the next
         * rebuild is a quarter of the table's inserts away */
        size_t cap = o->cap;
        while ((o->held + 1) * 2 > cap) cap *= 2;
        if (rebuild(o, cap, now_ms) != 0) rc = ZT__ONCE_FULL;
    }
    if (rc == ZT__ONCE_TAKEN && heap_room(o) != 0) rc = ZT__ONCE_FULL;
    if (rc != ZT__ONCE_TAKEN) {
        pthread_mutex_unlock(&o->mu);
        return rc;
    }
    if (!s) {
        size_t i = home(o, id);
        while (held_state(&o->s[i])) i = (i + 1) & (o->cap - 1);
        s = &o->s[i];
        if (s->state == SLOT_EMPTY) o->filled++;
        memcpy(s->id, id, ZT__ONCE_ID_LEN);
    }
    if (!held_state(s)) o->held++; /* (an expired slot of the same id is counted once) */
    s->expires = expires_ms;
    s->state = pending ? SLOT_PENDING : SLOT_USED;
    o->h[o->n_h] = (struct once_exp){.expires = expires_ms, .slot = (size_t)(s - o->s)};
    heap_up(o, o->n_h++);
    pthread_mutex_unlock(&o->mu);
    return ZT__ONCE_TAKEN;
}

bool zt__once_seen(struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN], int64_t now_ms)
{
    pthread_mutex_lock(&o->mu);
    struct once_slot *s = find(o, id);
    bool seen = s && live(s, now_ms);
    pthread_mutex_unlock(&o->mu);
    return seen;
}

void zt__once_settle(struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN], bool used)
{
    pthread_mutex_lock(&o->mu);
    struct once_slot *s = find(o, id);
    if (s && s->state == SLOT_PENDING && !used) {
        s->state = SLOT_TOMB; /* its heap entry goes stale */
        o->held--;
    } else if (s && s->state == SLOT_PENDING) {
        s->state = SLOT_USED;
    }
    pthread_mutex_unlock(&o->mu);
}

size_t zt__once_count(struct zt__once *o, int64_t now_ms)
{
    size_t n = 0;
    pthread_mutex_lock(&o->mu);
    for (size_t i = 0; i < o->cap; i++) n += live(&o->s[i], now_ms);
    pthread_mutex_unlock(&o->mu);
    return n;
}
