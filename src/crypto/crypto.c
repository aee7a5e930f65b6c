/* crypto.c: library initialisation; the guarded-memory cache. */
#include <pthread.h>
#include <stdbool.h>
#include <sodium.h>

#include "zentalk/zt_crypto.h"

int zt_crypto_init(void)
{
    return sodium_init() < 0 ? ZT_ECRYPTO : 0;
}

/* ---- guarded blocks, kept for reuse (zt_crypto.h) ------------------------ */

/* sodium_malloc places a block at the end of its data pages, so that an
 * overrun hits the guard page at once: a block is reused only for the
 * same size. The few sizes of the per-job secrets (an HPKE context, a
 * secret key) fill the classes; other sizes are freed as before. */
enum { CLASSES = 4 };

static struct {
    pthread_mutex_t mu;
    struct {
        size_t size; /* 0: free class */
        size_t n;
        void *p[ZT_SECURE_CACHE];
    } c[CLASSES];
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

void *zt_secure_alloc(size_t size)
{
    if (size == 0 || zt_crypto_init() != 0) return NULL;
    void *p = NULL;
    pthread_mutex_lock(&cache.mu);
    for (size_t i = 0; i < CLASSES; i++)
        if (cache.c[i].size == size) {
            if (cache.c[i].n) p = cache.c[i].p[--cache.c[i].n];
            break;
        }
    pthread_mutex_unlock(&cache.mu);
    return p ? p : sodium_malloc(size);
}

void zt_secure_free(void *p, size_t size)
{
    if (!p) return;
    sodium_memzero(p, size);
    pthread_mutex_lock(&cache.mu);
    size_t i, free_class = CLASSES;
    for (i = 0; i < CLASSES && cache.c[i].size != size; i++)
        if (cache.c[i].size == 0 && free_class == CLASSES) free_class = i;
    if (i == CLASSES && free_class < CLASSES) {
        i = free_class;
        cache.c[i].size = size;
    }
    bool kept = i < CLASSES && cache.c[i].n < ZT_SECURE_CACHE;
    if (kept) cache.c[i].p[cache.c[i].n++] = p;
    pthread_mutex_unlock(&cache.mu);
    if (!kept) sodium_free(p);
}

size_t zt_secure_cached(void)
{
    size_t n = 0;
    pthread_mutex_lock(&cache.mu);
    for (size_t i = 0; i < CLASSES; i++) n += cache.c[i].n;
    pthread_mutex_unlock(&cache.mu);
    return n;
}
