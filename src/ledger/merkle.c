/* merkle.c: OpenZeppelin StandardMerkleTree over Keccak-256 (zt_ledger.h):
 * leaves keccak256(keccak256(abi.encode(...))), pairs hashed in ascending
 * order, the leaves sorted by hash and laid out as makeMerkleTree does
 * (tree[len-1-i] = sorted leaf i; tree[i] = pair(tree[2i+1], tree[2i+2])),
 * so the root equals the one @openzeppelin/merkle-tree computes. */
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_ledger.h"

struct zt_merkle {
    size_t n_leaves, n_nodes;
    uint8_t (*tree)[ZT_MERKLE_HASH]; /* in the same allocation as the header */
    size_t *pos;                     /* input leaf i -> its tree index (ditto) */
};

void zt_merkle_leaf_words(const uint8_t (*words)[32], size_t n, uint8_t out[static ZT_MERKLE_HASH])
{
    uint8_t inner[ZT_KECCAK256_LEN];
    zt_keccak256(inner, words, n * 32);
    zt_keccak256(out, inner, sizeof inner);
}

static void put_u128(uint8_t w[32], zt_u128 v)
{
    memset(w, 0, 32);
    for (int i = 31; i >= 16; i--) {
        w[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

void zt_merkle_leaf(uint64_t index, const uint8_t addr[static 20], zt_u128 amount,
                    uint8_t out[static ZT_MERKLE_HASH])
{
    uint8_t w[3][32];
    put_u128(w[0], index);
    memset(w[1], 0, 12);
    memcpy(w[1] + 12, addr, 20);
    put_u128(w[2], amount);
    zt_merkle_leaf_words((const uint8_t(*)[32])w, 3, out);
}

void zt_merkle_pair(const uint8_t a[static ZT_MERKLE_HASH], const uint8_t b[static ZT_MERKLE_HASH],
                    uint8_t out[static ZT_MERKLE_HASH])
{
    uint8_t buf[2 * ZT_MERKLE_HASH];
    bool a_first = memcmp(a, b, ZT_MERKLE_HASH) <= 0;
    memcpy(buf, a_first ? a : b, ZT_MERKLE_HASH);
    memcpy(buf + ZT_MERKLE_HASH, a_first ? b : a, ZT_MERKLE_HASH);
    zt_keccak256(out, buf, sizeof buf);
}

struct sorted {
    const uint8_t *h;
    size_t i;
};

static int cmp_sorted(const void *x, const void *y)
{
    const struct sorted *a = x, *b = y;
    int c = memcmp(a->h, b->h, ZT_MERKLE_HASH);
    if (c) return c;
    return a->i < b->i ? -1 : a->i > b->i; /* stable for equal leaves */
}

int zt_merkle_build(const uint8_t (*leaves)[ZT_MERKLE_HASH], size_t n, struct zt_merkle **out)
{
    if (!leaves || !out || n == 0 || n > SIZE_MAX / 4 / ZT_MERKLE_HASH) return ZT_EINVAL;
    /* one allocation: the header, pos[n], then the 2n - 1 nodes */
    size_t n_nodes = 2 * n - 1;
    struct zt_merkle *m = zt_calloc(1, sizeof *m + n * sizeof(size_t) + n_nodes * ZT_MERKLE_HASH);
    struct sorted *s = zt_calloc(n, sizeof *s);
    if (!m || !s) {
        zt_free(m);
        zt_free(s);
        return ZT_ENOMEM;
    }
    m->n_leaves = n;
    m->n_nodes = n_nodes;
    m->pos = (size_t *)(void *)(m + 1);
    m->tree = (uint8_t(*)[ZT_MERKLE_HASH])(void *)(m->pos + n);
    for (size_t i = 0; i < n; i++) s[i] = (struct sorted){leaves[i], i};
    qsort(s, n, sizeof *s, cmp_sorted);
    for (size_t k = 0; k < n; k++) {
        size_t t = m->n_nodes - 1 - k;
        memcpy(m->tree[t], s[k].h, ZT_MERKLE_HASH);
        m->pos[s[k].i] = t;
    }
    for (size_t i = m->n_nodes - n; i-- > 0;) zt_merkle_pair(m->tree[2 * i + 1], m->tree[2 * i + 2], m->tree[i]);
    zt_free(s);
    *out = m;
    return 0;
}

void zt_merkle_free(struct zt_merkle *m)
{
    zt_free(m); /* one allocation (zt_merkle_build) */
}

void zt_merkle_root(const struct zt_merkle *m, uint8_t out[static ZT_MERKLE_HASH])
{
    memcpy(out, m->tree[0], ZT_MERKLE_HASH);
}

int zt_merkle_proof(const struct zt_merkle *m, size_t i, uint8_t (*proof)[ZT_MERKLE_HASH], size_t cap,
                    size_t *n)
{
    if (!m || i >= m->n_leaves) return ZT_ERANGE;
    size_t k = 0;
    for (size_t t = m->pos[i]; t > 0; t = (t - 1) / 2) {
        if (k == cap) return ZT_ETOOBIG;
        size_t sib = (t % 2) ? t + 1 : t - 1;
        memcpy(proof[k++], m->tree[sib], ZT_MERKLE_HASH);
    }
    *n = k;
    return 0;
}

bool zt_merkle_verify(const uint8_t root[static ZT_MERKLE_HASH], const uint8_t leaf[static ZT_MERKLE_HASH],
                      const uint8_t (*proof)[ZT_MERKLE_HASH], size_t n)
{
    uint8_t h[ZT_MERKLE_HASH];
    memcpy(h, leaf, sizeof h);
    for (size_t i = 0; i < n; i++) zt_merkle_pair(h, proof[i], h);
    return memcmp(h, root, sizeof h) == 0;
}
