/* cache_mem.c: the result cache's in-process backend: a hash table of
 * sealed values with an LRU list, bounded in bytes (names + values + the
 * node overhead); the least recently used entries go first. */
#include "cache_int.h"

#include <pthread.h>
#include <string.h>

#include "zentalk/zt_alloc.h"

#define BUCKETS 4096u /* power of two */

struct ment {
    uint8_t key[ZT_RCACHE_KEY_LEN];
    uint8_t *val;
    size_t len;
    int64_t expires_ms;
    struct ment *next_b;            /* bucket chain */
    struct ment *lru_prev, *lru_next; /* head = most recent */
};

struct mem {
    pthread_mutex_t mu;
    struct ment *b[BUCKETS];
    struct ment *head, *tail;
    size_t max_bytes, bytes;
    uint64_t entries;
};

static size_t cost(const struct ment *e)
{
    return sizeof *e + e->len;
}

static struct ment **slot(struct mem *m, const uint8_t key[static ZT_RCACHE_KEY_LEN])
{
    /* names are HMAC outputs: their first bytes are already uniform */
    uint32_t h = (uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16;
    struct ment **pp = &m->b[h & (BUCKETS - 1)];
    while (*pp && memcmp((*pp)->key, key, ZT_RCACHE_KEY_LEN) != 0) pp = &(*pp)->next_b;
    return pp;
}

static void lru_unlink(struct mem *m, struct ment *e)
{
    if (e->lru_prev) e->lru_prev->lru_next = e->lru_next;
    else m->head = e->lru_next;
    if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
    else m->tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_front(struct mem *m, struct ment *e)
{
    e->lru_next = m->head;
    if (m->head) m->head->lru_prev = e;
    m->head = e;
    if (!m->tail) m->tail = e;
}

/* Remove the entry at *pp (its bucket slot). */
static void drop(struct mem *m, struct ment **pp)
{
    struct ment *e = *pp;
    *pp = e->next_b;
    lru_unlink(m, e);
    m->bytes -= cost(e);
    m->entries--;
    zt_free(e->val);
    zt_free(e);
}

static int mem_get(void *b, const uint8_t key[static ZT_RCACHE_KEY_LEN], int64_t now_ms, uint8_t **val, size_t *len)
{
    struct mem *m = b;
    int rc = ZT_ENOTFOUND;
    pthread_mutex_lock(&m->mu);
    struct ment **pp = slot(m, key);
    if (*pp && (*pp)->expires_ms <= now_ms) drop(m, pp);
    else if (*pp) {
        struct ment *e = *pp;
        uint8_t *v = zt_malloc(e->len);
        if (!v) rc = ZT_ENOMEM;
        else {
            memcpy(v, e->val, e->len);
            *val = v;
            *len = e->len;
            lru_unlink(m, e);
            lru_front(m, e);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_put(void *b, const uint8_t key[static ZT_RCACHE_KEY_LEN], const uint8_t *val, size_t len,
                   int64_t expires_ms, uint64_t *evicted)
{
    struct mem *m = b;
    struct ment *e = zt_calloc(1, sizeof *e);
    if (!e) return ZT_ENOMEM;
    e->val = zt_malloc(len);
    if (!e->val) {
        zt_free(e);
        return ZT_ENOMEM;
    }
    memcpy(e->key, key, ZT_RCACHE_KEY_LEN);
    memcpy(e->val, val, len);
    e->len = len;
    e->expires_ms = expires_ms;
    if (cost(e) > m->max_bytes) {
        zt_free(e->val);
        zt_free(e);
        return ZT_ETOOBIG;
    }
    pthread_mutex_lock(&m->mu);
    struct ment **pp = slot(m, key);
    if (*pp) drop(m, pp);
    while (m->tail && m->bytes + cost(e) > m->max_bytes) {
        drop(m, slot(m, m->tail->key));
        (*evicted)++;
    }
    pp = slot(m, key);
    *pp = e;
    lru_front(m, e);
    m->bytes += cost(e);
    m->entries++;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static void mem_del(void *b, const uint8_t key[static ZT_RCACHE_KEY_LEN])
{
    struct mem *m = b;
    pthread_mutex_lock(&m->mu);
    struct ment **pp = slot(m, key);
    if (*pp) drop(m, pp);
    pthread_mutex_unlock(&m->mu);
}

static void mem_usage(void *b, uint64_t *entries, uint64_t *bytes)
{
    struct mem *m = b;
    pthread_mutex_lock(&m->mu);
    *entries = m->entries;
    *bytes = m->bytes;
    pthread_mutex_unlock(&m->mu);
}

static void mem_free(void *b)
{
    struct mem *m = b;
    if (!m) return;
    while (m->tail) drop(m, slot(m, m->tail->key));
    pthread_mutex_destroy(&m->mu);
    zt_free(m);
}

static const struct zt__rcache_store mem_ops = {
    .get = mem_get, .put = mem_put, .del = mem_del, .usage = mem_usage, .free = mem_free,
};

int zt__rcache_mem_new(size_t max_bytes, const struct zt__rcache_store **ops, void **out)
{
    if (!max_bytes) return ZT_EINVAL;
    struct mem *m = zt_calloc(1, sizeof *m);
    if (!m) return ZT_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    m->max_bytes = max_bytes;
    *ops = &mem_ops;
    *out = m;
    return 0;
}
