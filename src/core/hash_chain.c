/* hash_chain.c: the chained hash index of zt_hash.h. */
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"

int zt_chain_init(struct zt_chain *c, size_t n, size_t min_buckets)
{
    if (n > ((size_t)1 << 30) || min_buckets > ((size_t)1 << 30)) return ZT_EINVAL;
    size_t nb = 1;
    while (nb < min_buckets) nb <<= 1;
    c->bucket = zt_malloc(sizeof *c->bucket * nb);
    c->next = zt_malloc(sizeof *c->next * (n ? n : 1));
    if (!c->bucket || !c->next) {
        zt_chain_deinit(c);
        return ZT_ENOMEM;
    }
    for (size_t i = 0; i < nb; i++) c->bucket[i] = ZT_CHAIN_NIL;
    c->mask = (uint32_t)(nb - 1);
    return 0;
}

void zt_chain_deinit(struct zt_chain *c)
{
    zt_free(c->bucket);
    zt_free(c->next);
    c->bucket = c->next = NULL;
}

void zt_chain_insert(struct zt_chain *c, uint32_t h, uint32_t i)
{
    uint32_t *b = &c->bucket[h & c->mask];
    c->next[i] = *b;
    *b = i;
}

void zt_chain_remove(struct zt_chain *c, uint32_t h, uint32_t i)
{
    uint32_t *pp = &c->bucket[h & c->mask];
    while (*pp != ZT_CHAIN_NIL && *pp != i) pp = &c->next[*pp];
    if (*pp == i) *pp = c->next[i];
}
