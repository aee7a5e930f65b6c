/* once.c: a bounded set of 16-byte ids, each kept until its expiry, for
 * "accepted once" (orch_verdict.h, zt__once_*): the worker receipts a
 * verdict used (lease.c) and the checkers' report receipts
 * (orch_verdict.c). Open addressing, linear probing, keyed SipHash (the
 * ids come from the network: no chosen collisions); expired entries and
 * tombstones go when the table is rebuilt, which happens before it grows,
 * so it holds at most `max` live ids and never forgets one before its
 * expiry (a full set refuses new ids instead). */
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "orch_verdict.h"
#include "zentalk/zt_alloc.h"

enum { SLOT_EMPTY = 0, SLOT_PENDING, SLOT_USED, SLOT_TOMB };

struct once_slot {
    uint8_t id[ZT__ONCE_ID_LEN];
    int64_t expires; /* unix ms */
    uint8_t state;
};

struct zt__once {
    pthread_mutex_t mu;
    struct once_slot *s;
    size_t cap;     /* a power of two */
    size_t filled;  /* pending + used + tombstones */
    size_t held;    /* pending + used (expired ones too, until a rebuild drops them) */
    size_t max;     /* live ids at most */
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
    zt_free(o);
}

static size_t home(const struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, id, ZT__ONCE_ID_LEN, o->key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)v & (o->cap - 1);
}

static bool live(const struct once_slot *s, int64_t now_ms)
{
    /* through its expiry ms: the callers' expiry is the last moment the
     * thing could be accepted again, itself included (review7 F10) */
    return (s->state == SLOT_PENDING || s->state == SLOT_USED) && s->expires >= now_ms;
}

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

/* Rebuild into cap slots, dropping tombstones and expired ids. With o->mu. */
static int rebuild(struct zt__once *o, size_t cap, int64_t now_ms)
{
    struct once_slot *ns = zt_calloc(cap, sizeof *ns);
    if (!ns) return ZT_ENOMEM;
    struct once_slot *old = o->s;
    size_t old_cap = o->cap;
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
    zt_free(old);
    return 0;
}

enum zt__once_rc zt__once_take(struct zt__once *o, const uint8_t id[static ZT__ONCE_ID_LEN], int64_t expires_ms,
                               int64_t now_ms, bool pending)
{
    pthread_mutex_lock(&o->mu);
    struct once_slot *s = find(o, id);
    if (s && live(s, now_ms)) {
        enum zt__once_rc rc = s->state == SLOT_PENDING ? ZT__ONCE_PENDING : ZT__ONCE_USED;
        pthread_mutex_unlock(&o->mu);
        return rc;
    }
    /* a new id past `max` held or 3/4 of the slots: drop the dead, grow
     * if still crowded, refuse if `max` are alive */
    if (!s && (o->held >= o->max || (o->filled + 1) * 4 > o->cap * 3)) {
        size_t n_live = 0;
        for (size_t i = 0; i < o->cap; i++) n_live += live(&o->s[i], now_ms);
        if (n_live >= o->max) {
            pthread_mutex_unlock(&o->mu);
            return ZT__ONCE_FULL;
        }
        size_t cap = o->cap;
        while ((n_live + 1) * 2 > cap) cap *= 2;
        if (rebuild(o, cap, now_ms) != 0) {
            pthread_mutex_unlock(&o->mu);
            return ZT__ONCE_FULL;
        }
    }
    if (!s) {
        size_t i = home(o, id);
        while (o->s[i].state == SLOT_PENDING || o->s[i].state == SLOT_USED) i = (i + 1) & (o->cap - 1);
        s = &o->s[i];
        if (s->state == SLOT_EMPTY) o->filled++;
        o->held++;
        memcpy(s->id, id, ZT__ONCE_ID_LEN);
    }
    s->expires = expires_ms;
    s->state = pending ? SLOT_PENDING : SLOT_USED;
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
        s->state = SLOT_TOMB;
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
