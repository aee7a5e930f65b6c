/* ratelimit.c: the per-identity token-bucket rate limiter. See
 * zt_ratelimit.h. */
#include "zentalk/zt_ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_auth.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"

/* ---- rate limiter ------------------------------------------------------- */

#define RL_KEY_MAX ZT_AUTH_ID_MAX
#define NIL UINT32_MAX /* ends the LRU list */

struct rl_entry {
    char key[RL_KEY_MAX];
    double tokens;
    uint64_t last_ns;
    uint32_t prev, next; /* LRU list: head = most recent */
};

struct zt_ratelimit {
    pthread_mutex_t mu;
    double rps, burst;
    size_t max, used;
    struct zt_hindex ix; /* e by key_hash() */
    struct rl_entry *e;
    uint32_t head, tail;
};

int zt_ratelimit_new(double rps, double burst, size_t max_keys, struct zt_ratelimit **out)
{
    if (!(rps >= 0) || !(burst >= 1) || max_keys == 0 || max_keys > (1u << 24)) return ZT_EINVAL;
    struct zt_ratelimit *rl = zt_calloc(1, sizeof *rl);
    if (!rl) return ZT_ENOMEM;
    pthread_mutex_init(&rl->mu, NULL); /* first: zt_ratelimit_free undoes any step below */
    rl->rps = rps;
    rl->burst = burst;
    rl->max = max_keys;
    rl->head = rl->tail = NIL;
    int rc = 0;
    if (rps > 0) {
        rl->e = zt_calloc(max_keys, sizeof *rl->e);
        if (!rl->e || zt_hindex_init(&rl->ix, max_keys, max_keys * 2) != 0) rc = ZT_ENOMEM;
    }
    return ZT_HAND_OUT(rc, rl, zt_ratelimit_free, out);
}

void zt_ratelimit_free(struct zt_ratelimit *rl)
{
    if (!rl) return;
    pthread_mutex_destroy(&rl->mu);
    zt_hindex_deinit(&rl->ix);
    zt_free(rl->e);
    zt_free(rl);
}

static uint32_t key_hash(const char *k)
{
    return zt_fnv1a32_str(k);
}

static void lru_unlink(struct zt_ratelimit *rl, uint32_t i)
{
    struct rl_entry *x = &rl->e[i];
    if (x->prev != NIL) rl->e[x->prev].next = x->next; else rl->head = x->next;
    if (x->next != NIL) rl->e[x->next].prev = x->prev; else rl->tail = x->prev;
}

static void lru_push_front(struct zt_ratelimit *rl, uint32_t i)
{
    struct rl_entry *x = &rl->e[i];
    x->prev = NIL;
    x->next = rl->head;
    if (rl->head != NIL) rl->e[rl->head].prev = i;
    rl->head = i;
    if (rl->tail == NIL) rl->tail = i;
}

bool zt_ratelimit_take(struct zt_ratelimit *rl, const char *key, uint64_t now_ns,
                        unsigned *retry_after_s)
{
    if (!rl || rl->rps <= 0) return true;
    char k[RL_KEY_MAX];
    zt_strlcpy(k, key, sizeof k);
    pthread_mutex_lock(&rl->mu);
    uint32_t h = key_hash(k);
    uint32_t i = zt_hindex_first(&rl->ix, h);
    while (i != ZT_HINDEX_NIL && strcmp(rl->e[i].key, k) != 0) i = zt_hindex_next(&rl->ix, i);
    if (i == ZT_HINDEX_NIL) {
        if (rl->used < rl->max) {
            i = (uint32_t)rl->used++;
        } else { /* evict the least recently used key */
            i = rl->tail;
            lru_unlink(rl, i);
            zt_hindex_remove(&rl->ix, key_hash(rl->e[i].key), i);
        }
        struct rl_entry *x = &rl->e[i];
        memcpy(x->key, k, sizeof x->key);
        x->tokens = rl->burst;
        x->last_ns = now_ns;
        zt_hindex_insert(&rl->ix, h, i);
    } else {
        lru_unlink(rl, i);
    }
    lru_push_front(rl, i);
    struct rl_entry *x = &rl->e[i];
    if (now_ns > x->last_ns) {
        x->tokens += (double)(now_ns - x->last_ns) / 1e9 * rl->rps;
        if (x->tokens > rl->burst) x->tokens = rl->burst;
        x->last_ns = now_ns;
    }
    bool ok = x->tokens >= 1.0;
    if (ok) {
        x->tokens -= 1.0;
    } else if (retry_after_s) {
        double wait = ceil((1.0 - x->tokens) / rl->rps);
        *retry_after_s = wait < 1 ? 1u : (wait > 86400 ? 86400u : (unsigned)wait);
    }
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

size_t zt_ratelimit_size(struct zt_ratelimit *rl)
{
    return rl ? zt_locked_size(&rl->mu, &rl->used) : 0;
}
