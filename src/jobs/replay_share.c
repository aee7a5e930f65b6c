/* replay_share.c: per-caller shares of the replay cache. See zt_replay_share.h. */
#include "zentalk/zt_replay_share.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"

#define RING 16      /* buckets per caller: a lifetime spans at most 10 (ttl / WIDTHS + 2) */
#define WIDTHS 8     /* a bucket is ttl / WIDTHS seconds of expiry times */
#define KEYS_MAX 4096

struct bucket {
    uint32_t idx; /* expires / width of the ids counted here */
    uint32_t n;
};

struct entry {
    uint64_t key; /* keyed hash of the caller; 0: an empty slot */
    struct bucket b[RING];
};

struct zt_replay_share {
    pthread_mutex_t mu;
    uint64_t width;
    uint32_t addr_max, anon_max, admitted_max;
    struct entry anon; /* every anonymous caller together */
    struct entry *t, *spare; /* the table and its rebuild space: the two halves of mem */
    size_t mask, used, keys_max;
    uint8_t hkey[crypto_shorthash_KEYBYTES];
    struct entry mem[];
};

int zt_replay_share_new(size_t cap, uint64_t ttl_s, struct zt_replay_share **out)
{
    if (cap < 64 || ttl_s == 0) return ZT_EINVAL;
    size_t keys_max = cap / 16 < 64 ? 64 : cap / 16 > KEYS_MAX ? KEYS_MAX : cap / 16;
    size_t n = 2;
    while (n < 2 * keys_max) n <<= 1;
    struct zt_replay_share *s = zt_calloc(1, sizeof *s + 2 * n * sizeof s->mem[0]);
    if (!s) return ZT_ENOMEM;
    s->keys_max = keys_max;
    s->t = s->mem;
    s->spare = s->mem + n;
    pthread_mutex_init(&s->mu, NULL);
    s->mask = n - 1;
    s->width = ttl_s / WIDTHS ? ttl_s / WIDTHS : 1;
    s->addr_max = (uint32_t)(cap / 64);
    s->anon_max = (uint32_t)(cap / 2);
    s->admitted_max = (uint32_t)(cap / 8);
    crypto_shorthash_keygen(s->hkey);
    *out = s;
    return 0;
}

void zt_replay_share_free(struct zt_replay_share *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    zt_free(s); /* with both tables */
}

static uint64_t key_of(const struct zt_replay_share *s, const char *caller, bool admitted)
{
    /* the two kinds never share a key: an identity cannot pose as an address */
    unsigned char buf[300];
    size_t n = strnlen(caller ? caller : "", sizeof buf - 2);
    buf[0] = admitted ? 'i' : 'a';
    buf[1] = ':';
    memcpy(buf + 2, caller ? caller : "", n);
    uint64_t v = zt_keyed_hash64(buf, n + 2, s->hkey);
    return v ? v : 1;
}

static size_t find(const struct zt_replay_share *s, const struct entry *t, uint64_t key)
{
    size_t i = (size_t)(key & s->mask);
    while (t[i].key && t[i].key != key) i = (i + 1) & s->mask;
    return i;
}

/* Ids of e counted at time bucket now_idx or later; *oldest the earliest
 * such bucket (UINT32_MAX: none). */
static uint32_t live(const struct entry *e, uint32_t now_idx, uint32_t *oldest)
{
    uint32_t n = 0, o = UINT32_MAX;
    for (size_t i = 0; i < RING; i++)
        if (e->b[i].n && e->b[i].idx >= now_idx) {
            n += e->b[i].n;
            if (e->b[i].idx < o) o = e->b[i].idx;
        }
    if (oldest) *oldest = o;
    return n;
}

static void bump(struct entry *e, uint32_t idx)
{
    struct bucket *b = &e->b[idx % RING];
    if (b->idx != idx) b->idx = idx, b->n = 0;
    b->n++;
}

static void unbump(struct entry *e, uint32_t idx)
{
    struct bucket *b = &e->b[idx % RING];
    if (b->idx == idx && b->n) b->n--;
}

/* Keep only callers with ids still counted (s->mu held). */
static void sweep(struct zt_replay_share *s, uint32_t now_idx)
{
    size_t n = s->mask + 1, used = 0;
    memset(s->spare, 0, n * sizeof *s->spare);
    for (size_t i = 0; i < n; i++) {
        if (!s->t[i].key || live(&s->t[i], now_idx, NULL) == 0) continue;
        s->spare[find(s, s->spare, s->t[i].key)] = s->t[i];
        used++;
    }
    struct entry *t = s->t;
    s->t = s->spare;
    s->spare = t;
    s->used = used;
}

static unsigned retry_after(const struct zt_replay_share *s, uint32_t oldest, uint64_t now)
{
    uint64_t end = ((uint64_t)oldest + 1) * s->width;
    return oldest == UINT32_MAX || end <= now ? 1u : (unsigned)(end - now);
}

int zt_replay_share_take(struct zt_replay_share *s, const char *caller, bool admitted, uint64_t now,
                          uint64_t expires, unsigned *retry_s)
{
    uint64_t key = key_of(s, caller, admitted);
    uint32_t now_idx = (uint32_t)(now / s->width), idx = (uint32_t)(expires / s->width), oldest;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    size_t i = find(s, s->t, key);
    if (!s->t[i].key) {
        if (s->used >= s->keys_max) {
            sweep(s, now_idx);
            i = find(s, s->t, key);
        }
        if (s->used >= s->keys_max) { /* every tracked caller holds live ids */
            if (!admitted) {
                *retry_s = (unsigned)s->width;
                rc = ZT_EBUSY;
            }
            goto out; /* admitted: through, uncounted */
        }
        s->t[i].key = key;
        s->used++;
    }
    struct entry *e = &s->t[i];
    if (live(e, now_idx, &oldest) >= (admitted ? s->admitted_max : s->addr_max)) {
        *retry_s = retry_after(s, oldest, now);
        rc = ZT_EBUSY;
        goto out;
    }
    if (!admitted && live(&s->anon, now_idx, &oldest) >= s->anon_max) {
        *retry_s = retry_after(s, oldest, now);
        rc = ZT_EBUSY;
        goto out;
    }
    bump(e, idx);
    if (!admitted) bump(&s->anon, idx);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void zt_replay_share_undo(struct zt_replay_share *s, const char *caller, bool admitted, uint64_t expires)
{
    uint64_t key = key_of(s, caller, admitted);
    uint32_t idx = (uint32_t)(expires / s->width);
    pthread_mutex_lock(&s->mu);
    size_t i = find(s, s->t, key);
    if (s->t[i].key) {
        unbump(&s->t[i], idx);
        if (!admitted) unbump(&s->anon, idx);
    }
    pthread_mutex_unlock(&s->mu);
}
