/* cache_int.h: the result cache's storage backends (internal to src/jobs).
 * A backend stores opaque sealed values under 32-byte names; cache.c does
 * the naming, sealing and counting (zt_rcache.h). */
#ifndef ZT_JOBS_CACHE_INT_H
#define ZT_JOBS_CACHE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_rcache.h"

struct zt__rcache_store {
    /* 0 with *val (zt_malloc'd) and *len, ZT_ENOTFOUND, ZT_EIO, ZT_ENOMEM */
    int (*get)(void *b, const uint8_t key[static ZT_RCACHE_KEY_LEN], int64_t now_ms, uint8_t **val, size_t *len);
    /* 0, ZT_ETOOBIG, ZT_EIO, ZT_ENOMEM; *evicted counts entries dropped for room */
    int (*put)(void *b, const uint8_t key[static ZT_RCACHE_KEY_LEN], const uint8_t *val, size_t len,
               int64_t expires_ms, uint64_t *evicted);
    void (*del)(void *b, const uint8_t key[static ZT_RCACHE_KEY_LEN]);
    void (*usage)(void *b, uint64_t *entries, uint64_t *bytes);
    void (*free)(void *b);
};

/* Tell the on-hit hook (zt_rcache_set_on_hit) of a billed hit (cache_req.c). */
void zt__rcache_note_hit(struct zt_rcache *c, const struct zt_rcache_hit_end *e);

int zt__rcache_mem_new(size_t max_bytes, const struct zt__rcache_store **ops, void **out);
int zt__rcache_redis_new(const char *url, int64_t timeout_ms, int64_t ttl_s, const struct zt__rcache_store **ops,
                         void **out);

#endif
