/* map.c: string-keyed hash map of the orchestrator (orch_int.h): open
 * addressing with linear probing and tombstones, SipHash-2-4 under a random
 * per-process key (libsodium crypto_shorthash), so keys a peer chooses
 * (client names, node ids it grinds) cannot pile into one chain. The load
 * factor (entries + tombstones) stays under 3/4. */
#include <string.h>

#include <sodium.h>

#include "orch_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"

const char orch_map_tomb[1] = {0};

static uint8_t map_key[crypto_shorthash_KEYBYTES];
static pthread_once_t map_once = PTHREAD_ONCE_INIT;

static void map_key_init(void)
{
    if (sodium_init() < 0) return; /* the key stays zero: still a hash, only not secret */
    randombytes_buf(map_key, sizeof map_key);
}

static uint64_t hash_of(const char *key)
{
    pthread_once(&map_once, map_key_init);
    return zt_keyed_hash64(key, strlen(key), map_key);
}

static bool live(const struct orch_map_slot *s) { return s->key && s->key != orch_map_tomb; }

void *orch_map_get(const struct orch_map *m, const char *key)
{
    if (!m->cap) return NULL;
    uint64_t h = hash_of(key);
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const struct orch_map_slot *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->key != orch_map_tomb && s->hash == h && strcmp(s->key, key) == 0) return s->val;
    }
}

static void insert_slot(struct orch_map_slot *slots, size_t cap, const char *key, void *val, uint64_t h)
{
    size_t mask = cap - 1;
    size_t i = (size_t)h & mask;
    while (live(&slots[i])) i = (i + 1) & mask;
    slots[i] = (struct orch_map_slot){.key = key, .val = val, .hash = h};
}

static int grow(struct orch_map *m, size_t need)
{
    size_t cap = m->cap ? m->cap : 16;
    while ((need + 1) * 4 > cap * 3) cap *= 2;
    if (cap == m->cap && (m->used + 1) * 4 <= m->cap * 3) return 0;
    struct orch_map_slot *ns = zt_calloc(cap, sizeof *ns);
    if (!ns) return ZT_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (live(&m->slots[i])) insert_slot(ns, cap, m->slots[i].key, m->slots[i].val, m->slots[i].hash);
    zt_free(m->slots);
    m->slots = ns;
    m->cap = cap;
    m->used = m->n;
    return 0;
}

int orch_map_reserve(struct orch_map *m, size_t n)
{
    if (m->cap && (m->used + n + 1) * 4 <= m->cap * 3) return 0;
    return grow(m, m->n + n);
}

int orch_map_put(struct orch_map *m, const char *key, void *val)
{
    int rc = orch_map_reserve(m, 1);
    if (rc) return rc;
    uint64_t h = hash_of(key);
    size_t mask = m->cap - 1;
    size_t tomb = SIZE_MAX;
    size_t i = (size_t)h & mask;
    for (;; i = (i + 1) & mask) {
        struct orch_map_slot *s = &m->slots[i];
        if (!s->key) break;
        if (s->key == orch_map_tomb) {
            if (tomb == SIZE_MAX) tomb = i;
            continue;
        }
        if (s->hash == h && strcmp(s->key, key) == 0) {
            s->key = key;
            s->val = val;
            return 0;
        }
    }
    if (tomb != SIZE_MAX) {
        i = tomb;
    } else {
        m->used++;
    }
    m->slots[i] = (struct orch_map_slot){.key = key, .val = val, .hash = h};
    m->n++;
    return 0;
}

void orch_map_del(struct orch_map *m, const char *key)
{
    if (!m->cap) return;
    uint64_t h = hash_of(key);
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct orch_map_slot *s = &m->slots[i];
        if (!s->key) return;
        if (s->key != orch_map_tomb && s->hash == h && strcmp(s->key, key) == 0) {
            s->key = orch_map_tomb;
            s->val = NULL;
            m->n--;
            return;
        }
    }
}

void orch_map_deinit(struct orch_map *m)
{
    zt_free(m->slots);
    memset(m, 0, sizeof *m);
}
