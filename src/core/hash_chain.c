/* hash_chain.c: the chained hash index of zt_hash.h. */
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"

int zt_hindex_init(struct zt_hindex *c, size_t n, size_t min_buckets)
{
    if (n > ((size_t)1 << 30) || min_buckets > ((size_t)1 << 30)) return ZT_EINVAL;
    size_t nb = 1;
    while (nb < min_buckets) nb <<= 1;
    c->bucket = zt_malloc(sizeof *c->bucket * nb);
    c->next = zt_malloc(sizeof *c->next * (n ? n : 1));
    if (!c->bucket || !c->next) {
        zt_hindex_deinit(c);
        return ZT_ENOMEM;
    }
    for (size_t i = 0; i < nb; i++) c->bucket[i] = ZT_HINDEX_NIL;
    c->mask = (uint32_t)(nb - 1);
    return 0;
}

void zt_hindex_deinit(struct zt_hindex *c)
{
    zt_free(c->bucket);
    zt_free(c->next);
    c->bucket = c->next = NULL;
}

void zt_hindex_insert(struct zt_hindex *c, uint32_t h, uint32_t i)
{
    uint32_t *b = &c->bucket[h & c->mask];
    c->next[i] = *b;
    *b = i;
}

void zt_hindex_remove(struct zt_hindex *c, uint32_t h, uint32_t i)
{
    uint32_t *pp = &c->bucket[h & c->mask];
    while (*pp != ZT_HINDEX_NIL && *pp != i) pp = &c->next[*pp];
    if (*pp == i) *pp = c->next[i];
}
