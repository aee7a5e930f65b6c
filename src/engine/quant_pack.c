/* quant_pack.c: packed (interleaved) weight layouts for generation near the
 * memory bandwidth (zt_quant.h "packed weights", docs/internals/quant.md
 * "Packed weights"), the portable kernel that defines their arithmetic, and
 * the dispatch of zt_quant_matmul_packed.
 *
 * A group holds ZT_QUANT_PACK_ROWS (16) rows of nb blocks of 32, as one
 * stream of block pairs (2b, 2b+1), each 64-byte aligned:
 *   scales: the 16 rows' fp16 d of block 2b, then of block 2b+1 (64 bytes);
 *   quants: block 2b then block 2b+1, each in 64-byte chunks in which bytes
 *           4r..4r+3 belong to row r:
 *     Q8_0: 8 chunks, chunk j = elements 4j..4j+3 of each row, stored
 *           unsigned as w + 128 (w ^ 0x80);
 *     Q4_0: 4 chunks, chunk c = the GGUF bytes qs[4c..4c+3] of each row: low
 *           nibbles are elements 4c..4c+3 (canonical lane j = c), high
 *           nibbles elements 16+4c.. (lane j = c + 4).
 * Rows past the matrix's end, and the second block of the last pair when nb
 * is odd, are padding: d = 0 and weights 0 (the kernels skip such a block).
 *
 * So one vector of 16 int32 holds one 4-byte group of each of 16 rows, and
 * vpdpbusd against the activation's 4 bytes broadcast adds 4 products to
 * each of 16 rows at once: 8 chained vpdpbusd give a block's exact s_b of
 * 16 rows (canonical order k2, quant.md); the canonical accumulator of lane
 * l (blocks b % 8 == l) of all 16 rows is one register, and the canonical
 * fold is 7 vector adds for the 16 rows.
 *
 * Q6_K (the output projection of llama-quantize's Q4_0 files) packs per
 * super-block s of 256 elements, as one stream, each part 64-byte aligned:
 *   d:      the 16 rows' fp16 d (32 bytes, padded to 64);
 *   scales: for each group g of 16 elements, the 16 rows' int8 scales[g]
 *           (256 bytes);
 *   codes:  for each group g, 3 chunks of 64 bytes in which bytes 4r..4r+3
 *           belong to row r, element i of the 4-element parts 4g..4g+3
 *           (part = 4 consecutive elements, canonical 16-element group g):
 *           chunk 0 = low nibbles of part 4g | of part 4g+1 << 4, chunk 1 =
 *           parts 4g+2 | 4g+3 << 4, chunk 2 = the 2 high bits of parts 4g,
 *           4g+1, 4g+2, 4g+3 at bits 0, 2, 4, 6.
 * (3392 bytes for 16 rows against 3360 in GGUF.) A vector then holds one
 * 4-element part of 16 rows; with the accumulator preset to -32 * bsums[g],
 * four vpdpbusd give sum_g(q * x) - 32 * bsums[g] for 16 rows, exact.
 *
 * Q4_K packs per super-block of 256 elements: the 16 rows' fp16 d then
 * dmin (64 bytes), the decoded 6-bit scales sc[j] (8 x 16 bytes, row r's
 * at 16j + r) and mins m[j] (the same), then per sub-block j of 32
 * elements 4 chunks of 64 bytes: chunk c holds parts 2c and 2c+1 of the
 * sub-block (4 elements each) as low and high nibbles, bytes 4r..4r+3 for
 * row r (2368 bytes for 16 rows against 2304 in GGUF).
 *
 * Prepared activation terms (per activation row, per block b, 2 int32):
 * c = -128 * sum(x) over the block (Q8_0: the unsigned weight's bias) or
 * -8 * sum(x) (Q4_0: the nibble's bias), then fp16(x.d) as f32 bits. With
 * them, s_b = c + sum (stored weight byte) * x, exact in int32
 * (|.| <= 32 * 255 * 127). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_quant.h"
#include "quant_int.h"
#include "quant_ref.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define G ZT_QUANT_PACK_ROWS

struct zt_quant_packed {
    enum zt_ggml_type type;
    size_t n, nb, rows, groups;
    size_t qb;            /* quant bytes of one block of a group */
    size_t group_bytes;
    void *mem;            /* own allocation (data is its first 64-byte boundary), or NULL */
    struct zt__quant_chunk *chunk;  /* or the shared chunk data was carved from */
    uint8_t *data;
};

/* Copies of 64 KiB and more are carved from shared chunks (32 MiB, or the
 * copy's size) on 2 MiB boundaries that ask for transparent huge pages
 * (THP "madvise" mode): the kernels stream the copies, and one TLB entry
 * then covers 2 MiB instead of 4 KiB, which in a VM (a two-level page
 * walk per miss) doubled the read rate of generation on the Zen 4 of
 * 2026-12-06. Most matrices are under 2 MiB, so each alone could not fill
 * a huge page. A chunk is freed with the last copy in it.
 * ZT_PACK_HUGE=0: every copy its own allocation (comparisons). */
#define PACK_HUGE ((size_t)2 << 20)
#define CHUNK_MIN ((size_t)32 << 20)
#define CARVE_MIN ((size_t)64 << 10)

struct zt__quant_chunk {
    void *mem;
    uint8_t *base; /* 2 MiB aligned */
    size_t cap, used, live;
};

static pthread_mutex_t g_chunk_mu = PTHREAD_MUTEX_INITIALIZER;
static struct zt__quant_chunk *g_chunk; /* the one new copies are carved from */

static void chunk_free(struct zt__quant_chunk *c)
{
    zt_free(c->mem);
    zt_free(c);
}

/* bytes (a multiple of 64) from the current chunk, or a new one; NULL when
 * out of memory. */
static uint8_t *chunk_take(size_t bytes, struct zt__quant_chunk **out)
{
    uint8_t *p = NULL;
    pthread_mutex_lock(&g_chunk_mu);
    struct zt__quant_chunk *c = g_chunk;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = bytes > CHUNK_MIN ? (bytes + PACK_HUGE - 1) / PACK_HUGE * PACK_HUGE : CHUNK_MIN;
        struct zt__quant_chunk *nc = cap >= bytes ? zt_calloc(1, sizeof *nc) : NULL;
        if (nc && (nc->mem = zt_malloc(cap + PACK_HUGE)) == NULL) {
            zt_free(nc);
            nc = NULL;
        }
        if (!nc) goto out;
        nc->base = (uint8_t *)(((uintptr_t)nc->mem + PACK_HUGE - 1) & ~(uintptr_t)(PACK_HUGE - 1));
        nc->cap = cap;
#ifdef MADV_HUGEPAGE
        zt_ignore(madvise(nc->base, cap, MADV_HUGEPAGE)); /* a hint: 4 KiB pages if refused */
#endif
        if (c && c->live == 0) chunk_free(c);
        g_chunk = c = nc;
    }
    p = c->base + c->used;
    c->used += bytes;
    c->live++;
    *out = c;
out:
    pthread_mutex_unlock(&g_chunk_mu);
    return p;
}

static void chunk_put(struct zt__quant_chunk *c)
{
    pthread_mutex_lock(&g_chunk_mu);
    if (--c->live == 0) {
        if (c == g_chunk) g_chunk = NULL;
        chunk_free(c);
    }
    pthread_mutex_unlock(&g_chunk_mu);
}

void *zt__quant_weights_alloc(size_t bytes, struct zt__quant_chunk **chunk)
{
    if (bytes > SIZE_MAX - 63) return NULL;
    return chunk_take((bytes + 63) & ~(size_t)63, chunk);
}

void zt__quant_weights_free(struct zt__quant_chunk *chunk)
{
    if (chunk) chunk_put(chunk);
}

static bool huge_wanted(void)
{
    const char *e = getenv("ZT_PACK_HUGE");
    return !e || strcmp(e, "0") != 0;
}

static size_t quant_block_bytes(enum zt_ggml_type t)
{
    return t == ZT_GGML_Q8_0 ? 8 * 64 : t == ZT_GGML_Q4_0 ? 4 * 64 : 0;
}

#define Q6P_SB_BYTES (64 + 256 + 16 * 192) /* one packed Q6_K super-block of 16 rows */

#define Q4KP_SB_BYTES (64 + 256 + 32 * 64) /* one packed Q4_K super-block of 16 rows */

/* Q4_K: the 6-bit scale and min of sub-block j (quant.md's packing). */
static inline void q4k_sm(const uint8_t *q, size_t j, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 15) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void pack_q4_k_sb(const uint8_t *src, size_t row_bytes, size_t nrows, size_t sb, uint8_t *dst)
{
    uint16_t *d = (uint16_t *)(void *)dst;
    uint8_t *scm = dst + 64, *codes = dst + 64 + 256;
    for (size_t r = 0; r < nrows; r++) {
        struct zt_block_q4_k blk;
        memcpy(&blk, src + r * row_bytes + sb * sizeof blk, sizeof blk);
        d[r] = blk.d;
        d[16 + r] = blk.dmin;
        for (size_t j = 0; j < 8; j++) {
            q4k_sm(blk.scales, j, &scm[16 * j + r], &scm[128 + 16 * j + r]);
            for (size_t e = 0; e < 32; e++) {
                /* element 32j + e: nibble of qs[32 (j / 2) + e], low for even j */
                uint8_t byte = blk.qs[32 * (j / 2) + e];
                uint8_t q = (j % 2) ? (uint8_t)(byte >> 4) : (uint8_t)(byte & 15);
                size_t part = e / 4, i = e % 4;
                codes[(4 * j + part / 2) * 64 + 4 * r + i] |= (uint8_t)(q << (4 * (part % 2)));
            }
        }
    }
}

/* Super-block sb of the 16 rows at src (row r at src + r * row_bytes, rows
 * < nrows) into dst (Q6P_SB_BYTES, zeroed by the caller). */
static void pack_q6_k_sb(const uint8_t *src, size_t row_bytes, size_t nrows, size_t sb, uint8_t *dst)
{
    uint16_t *d = (uint16_t *)(void *)dst;
    int8_t *sc = (int8_t *)(dst + 64);
    uint8_t *codes = dst + 64 + 256;
    for (size_t r = 0; r < nrows; r++) {
        struct zt_block_q6_k blk;
        memcpy(&blk, src + r * row_bytes + sb * sizeof blk, sizeof blk);
        d[r] = blk.d;
        for (size_t g = 0; g < 16; g++) {
            sc[16 * g + r] = blk.scales[g];
            uint8_t *c = codes + 192 * g;
            for (size_t part = 0; part < 4; part++)
                for (size_t i = 0; i < 4; i++) {
                    int q = q6k_code(&blk, 16 * g + 4 * part + i);
                    c[(part / 2) * 64 + 4 * r + i] |= (uint8_t)((q & 15) << (4 * (part % 2)));
                    c[128 + 4 * r + i] |= (uint8_t)((q >> 4) << (2 * part));
                }
        }
    }
}

int zt_quant_pack(enum zt_ggml_type t, const void *W, size_t row_bytes, size_t rows, size_t n,
                  struct zt_quant_packed **out)
{
    bool kq = t == ZT_GGML_Q6_K || t == ZT_GGML_Q4_K;
    size_t qb = quant_block_bytes(t), bsz = kq ? ZT_QK_K : 32;
    if (qb == 0 && !kq) return ZT_EUNSUPPORTED;
    size_t wb;
    if (n == 0 || n % bsz != 0 || zt_quant_row_bytes(t, n, &wb) != 0 || (rows > 0 && row_bytes < wb))
        return ZT_EINVAL;
    struct zt_quant_packed *p = zt_calloc(1, sizeof *p);
    if (!p) return ZT_ENOMEM;
    p->type = t;
    p->n = n;
    p->nb = n / bsz;
    p->rows = rows;
    p->groups = (rows + G - 1) / G;
    p->qb = qb;
    size_t total;
    size_t unit = t == ZT_GGML_Q6_K ? Q6P_SB_BYTES : t == ZT_GGML_Q4_K ? Q4KP_SB_BYTES : 64 + 2 * qb;
    if (zt_mul_size(kq ? p->nb : (p->nb + 1) / 2, unit, &p->group_bytes) != 0 ||
        zt_mul_size(p->group_bytes, p->groups ? p->groups : 1, &total) != 0 || total + 64 < total) {
        zt_free(p);
        return ZT_ERANGE;
    }
    total = (total + 63) & ~(size_t)63;
    if (total >= CARVE_MIN && huge_wanted()) {
        p->data = chunk_take(total, &p->chunk);
        if (!p->data) {
            zt_free(p);
            return ZT_ENOMEM;
        }
    } else {
        p->mem = zt_malloc(total + 64);
        if (!p->mem) {
            zt_free(p);
            return ZT_ENOMEM;
        }
        p->data = (uint8_t *)(((uintptr_t)p->mem + 63) & ~(uintptr_t)63);
    }
    if (kq) {
        /* padding rows: d = dmin = 0, scales 0, codes 0 */
        memset(p->data, 0, p->group_bytes * p->groups);
        for (size_t g = 0; g < p->groups; g++) {
            size_t nr = rows - g * G < G ? rows - g * G : G;
            for (size_t sb = 0; sb < p->nb; sb++) {
                const uint8_t *src = (const uint8_t *)W + g * G * row_bytes;
                uint8_t *dst = p->data + g * p->group_bytes + sb * unit;
                if (t == ZT_GGML_Q6_K) pack_q6_k_sb(src, row_bytes, nr, sb, dst);
                else pack_q4_k_sb(src, row_bytes, nr, sb, dst);
            }
        }
        *out = p;
        return 0;
    }
    const uint8_t pad = t == ZT_GGML_Q8_0 ? 0x80 : 0x88; /* weight 0 */
    for (size_t g = 0; g < p->groups; g++) {
        uint8_t *grp = p->data + g * p->group_bytes;
        for (size_t bp = 0; bp < (p->nb + 1) / 2; bp++) {
            uint8_t *pair = grp + bp * (64 + 2 * qb);
            memset(pair, 0, 64);
            memset(pair + 64, pad, 2 * qb);
        }
        for (size_t r = 0; r < G && g * G + r < rows; r++) {
            const uint8_t *src = (const uint8_t *)W + (g * G + r) * row_bytes;
            for (size_t b = 0; b < p->nb; b++) {
                uint8_t *pair = grp + (b / 2) * (64 + 2 * qb);
                uint16_t *sc = (uint16_t *)(void *)pair + (b % 2) * G;
                uint8_t *qbk = pair + 64 + (b % 2) * qb;
                if (t == ZT_GGML_Q8_0) {
                    struct zt_block_q8_0 blk;
                    memcpy(&blk, src + b * sizeof blk, sizeof blk);
                    sc[r] = blk.d;
                    for (size_t e = 0; e < 32; e++)
                        qbk[(e / 4) * 64 + 4 * r + e % 4] = (uint8_t)blk.qs[e] ^ 0x80u;
                } else {
                    struct zt_block_q4_0 blk;
                    memcpy(&blk, src + b * sizeof blk, sizeof blk);
                    sc[r] = blk.d;
                    for (size_t e = 0; e < 16; e++) qbk[(e / 4) * 64 + 4 * r + e % 4] = blk.qs[e];
                }
            }
        }
    }
    *out = p;
    return 0;
}

void zt_quant_packed_free(struct zt_quant_packed *p)
{
    if (!p) return;
    if (p->chunk) chunk_put(p->chunk);
    zt_free(p->mem);
    zt_free(p);
}

size_t zt_quant_packed_bytes(const struct zt_quant_packed *p) { return p ? p->group_bytes * p->groups : 0; }

/* The portable kernel, the packed layout's definition: for each row, the
 * scalar reference of quant.c (canonical order k2: one exact int32 s_b per
 * block, fmaf into lane b % 8, fold 4, 2, 1) on the bytes read back. */
static void pk_scalar(enum zt_ggml_type t, const uint8_t *grp, size_t nb, size_t nvalid, const void *X, size_t xs,
                      size_t nx, float *out, size_t os)
{
    size_t qb = quant_block_bytes(t);
    for (size_t k = 0; k < nx; k++) {
        const struct zt_block_q8_0 *x = (const struct zt_block_q8_0 *)(const void *)((const char *)X + k * xs);
        for (size_t r = 0; r < nvalid; r++) {
            float acc[8] = {0};
            for (size_t b = 0; b < nb; b++) {
                const uint8_t *pair = grp + (b / 2) * (64 + 2 * qb);
                const uint16_t *sc = (const uint16_t *)(const void *)pair + (b % 2) * G;
                const uint8_t *qbk = pair + 64 + (b % 2) * qb;
                float d = zt_fp16_to_fp32(sc[r]) * zt_fp16_to_fp32(x[b].d);
                int32_t s = 0;
                for (size_t e = 0; e < 32; e++) {
                    int w;
                    if (t == ZT_GGML_Q8_0) {
                        w = (int)qbk[(e / 4) * 64 + 4 * r + e % 4] - 128;
                    } else {
                        size_t c = (e % 16) / 4;
                        uint8_t byte = qbk[c * 64 + 4 * r + e % 4];
                        w = (e < 16 ? (byte & 15) : (byte >> 4)) - 8;
                    }
                    s += (int32_t)w * x[b].qs[e];
                }
                acc[b % 8] = fmaf(d, (float)s, acc[b % 8]);
            }
            out[k * os + r] = fold8_scalar(acc);
        }
    }
}

/* The k-quants' portable kernels: for each activation row k and weight row
 * r, super-block sb adds into lane sb % 8 (sb_fn, the type's canonical
 * step on the codes read back), then the lanes fold 4, 2, 1. */
typedef void (*pk_sb_fn)(const uint8_t *p, size_t r, const struct zt_block_q8_k *x, float *a);

static inline void pk_k_scalar(pk_sb_fn sb_fn, size_t sb_bytes, const uint8_t *grp, size_t nsb, size_t nvalid,
                               const void *X, size_t xs, size_t nx, float *out, size_t os)
{
    for (size_t k = 0; k < nx; k++) {
        const struct zt_block_q8_k *x = (const struct zt_block_q8_k *)(const void *)((const char *)X + k * xs);
        for (size_t r = 0; r < nvalid; r++) {
            float acc[8] = {0};
            for (size_t sb = 0; sb < nsb; sb++) sb_fn(grp + sb * sb_bytes, r, &x[sb], &acc[sb % 8]);
            out[k * os + r] = fold8_scalar(acc);
        }
    }
}

/* Q6_K, row r of packed super-block p: the scalar reference's order. */
static void q6p_sb(const uint8_t *p, size_t r, const struct zt_block_q8_k *x, float *a)
{
    const int8_t *sc = (const int8_t *)(p + 64);
    const uint8_t *codes = p + 64 + 256;
    int32_t isum = 0;
    for (size_t g = 0; g < 16; g++) {
        int32_t s = 0;
        for (size_t e = 16 * g; e < 16 * g + 16; e++) {
            size_t part = (e % 16) / 4, i = e % 4;
            const uint8_t *c = codes + 192 * g;
            int lo = (c[(part / 2) * 64 + 4 * r + i] >> (4 * (part % 2))) & 15;
            int hi = (c[128 + 4 * r + i] >> (2 * part)) & 3;
            s += (int32_t)(lo | (hi << 4)) * x->qs[e];
        }
        isum += sc[16 * g + r] * (s - 32 * x->bsums[g]);
    }
    uint16_t dh;
    memcpy(&dh, p + 2 * r, sizeof dh);
    float d = zt_fp16_to_fp32(dh) * x->d;
    *a = fmaf(d, (float)isum, *a);
}

/* Q4_K, row r of packed super-block p: the scalar reference's order. */
static void q4kp_sb(const uint8_t *p, size_t r, const struct zt_block_q8_k *x, float *a)
{
    const uint8_t *scm = p + 64, *codes = p + 64 + 256;
    int32_t isum = 0, msum = 0;
    for (size_t j = 0; j < 8; j++) {
        int32_t s = 0;
        for (size_t e = 0; e < 32; e++) {
            size_t part = e / 4, i = e % 4;
            int q = (codes[(4 * j + part / 2) * 64 + 4 * r + i] >> (4 * (part % 2))) & 15;
            s += (int32_t)q * x->qs[32 * j + e];
        }
        isum += scm[16 * j + r] * s;
        msum += scm[128 + 16 * j + r] * (x->bsums[2 * j] + x->bsums[2 * j + 1]);
    }
    uint16_t dh, mh;
    memcpy(&dh, p + 2 * r, sizeof dh);
    memcpy(&mh, p + 32 + 2 * r, sizeof mh);
    float d = zt_fp16_to_fp32(dh) * x->d, dmin = zt_fp16_to_fp32(mh) * x->d;
    *a = fmaf(d, (float)isum, *a);
    *a = fmaf(-dmin, (float)msum, *a);
}

static void pk_q6_k_scalar(const uint8_t *grp, size_t nsb, size_t nvalid, const void *X, size_t xs,
                           const int32_t *act, size_t nx, float *out, size_t os)
{
    (void)act;
    pk_k_scalar(q6p_sb, Q6P_SB_BYTES, grp, nsb, nvalid, X, xs, nx, out, os);
}

static void pk_q4_k_scalar(const uint8_t *grp, size_t nsb, size_t nvalid, const void *X, size_t xs,
                           const int32_t *act, size_t nx, float *out, size_t os)
{
    (void)act;
    pk_k_scalar(q4kp_sb, Q4KP_SB_BYTES, grp, nsb, nvalid, X, xs, nx, out, os);
}

static void pk_q8_0_scalar(const uint8_t *grp, size_t nb, size_t nvalid, const void *X, size_t xs,
                           const int32_t *act, size_t nx, float *out, size_t os)
{
    (void)act;
    pk_scalar(ZT_GGML_Q8_0, grp, nb, nvalid, X, xs, nx, out, os);
}

static void pk_q4_0_scalar(const uint8_t *grp, size_t nb, size_t nvalid, const void *X, size_t xs,
                           const int32_t *act, size_t nx, float *out, size_t os)
{
    (void)act;
    pk_scalar(ZT_GGML_Q4_0, grp, nb, nvalid, X, xs, nx, out, os);
}

const zt__quant_pk_fn zt__quant_pk_scalar[4] = {pk_q8_0_scalar, pk_q4_0_scalar, pk_q6_k_scalar, pk_q4_k_scalar};

bool zt_quant_pack_useful(enum zt_ggml_type t)
{
    zt__quant_pk_fn f = zt__quant_pk_current(t);
    return f != NULL &&
           f != zt__quant_pk_scalar[t == ZT_GGML_Q4_0 ? 1 : t == ZT_GGML_Q6_K ? 2 : t == ZT_GGML_Q4_K ? 3 : 0];
}

/* The prepared terms of one activation row (see the top of the file). */
static void prepare(enum zt_ggml_type t, const struct zt_block_q8_0 *x, size_t nb, int32_t *act)
{
    int32_t bias = t == ZT_GGML_Q8_0 ? -128 : -8;
    for (size_t b = 0; b < nb; b++, act += 2) {
        int32_t sum = 0;
        for (int e = 0; e < 32; e++) sum += x[b].qs[e];
        act[0] = bias * sum;
        float d = zt_fp16_to_fp32(x[b].d);
        memcpy(&act[1], &d, sizeof d);
    }
}

size_t zt_quant_packed_prep_bytes(const struct zt_quant_packed *p)
{
    return p && (p->type == ZT_GGML_Q8_0 || p->type == ZT_GGML_Q4_0) ? p->nb * 2 * sizeof(int32_t) : 0;
}

int zt_quant_packed_prepare(const struct zt_quant_packed *p, const void *X_q, size_t x_row_bytes, size_t batch,
                            int32_t *prep)
{
    size_t xb;
    if (!p || zt_quant_packed_prep_bytes(p) == 0 || zt_quant_row_bytes(ZT_GGML_Q8_0, p->n, &xb) != 0 ||
        (batch > 1 && x_row_bytes < xb))
        return ZT_EINVAL;
    for (size_t k = 0; k < batch; k++)
        prepare(p->type, (const struct zt_block_q8_0 *)(const void *)((const char *)X_q + k * x_row_bytes), p->nb,
                prep + k * p->nb * 2);
    return 0;
}

int zt_quant_matmul_packed(const struct zt_quant_packed *p, size_t row_begin, size_t row_end, const void *X_q,
                           size_t x_row_bytes, size_t batch, float *out, size_t out_stride)
{
    return zt_quant_matmul_packed_prep(p, row_begin, row_end, X_q, x_row_bytes, batch, NULL, out, out_stride);
}

int zt_quant_matmul_packed_prep(const struct zt_quant_packed *p, size_t row_begin, size_t row_end, const void *X_q,
                                size_t x_row_bytes, size_t batch, const int32_t *prep, float *out,
                                size_t out_stride)
{
    size_t xb;
    if (!p || zt_quant_row_bytes(zt_quant_vec_dot_type(p->type), p->n, &xb) != 0) return ZT_EINVAL;
    if (row_begin > row_end || row_end > p->rows || row_begin % G != 0 ||
        (row_end % G != 0 && row_end != p->rows) || (batch > 1 && (x_row_bytes < xb || out_stride < row_end)))
        return ZT_EINVAL;
    if (row_begin == row_end || batch == 0) return 0;
    zt__quant_pk_fn fn = zt__quant_pk_current(p->type);
    if (p->type == ZT_GGML_Q6_K || p->type == ZT_GGML_Q4_K) { /* no prepared terms */
        for (size_t r0 = row_begin; r0 < row_end; r0 += G) {
            size_t nvalid = row_end - r0 < G ? row_end - r0 : G;
            fn(p->data + (r0 / G) * p->group_bytes, p->nb, nvalid, X_q, x_row_bytes, NULL, batch, out + r0,
               out_stride);
        }
        return 0;
    }
    int32_t *own = NULL;
    if (!prep) {
        size_t need;
        if (zt_mul_size(zt_quant_packed_prep_bytes(p), batch, &need) != 0) return ZT_ERANGE;
        own = zt_malloc(need);
        if (!own) return ZT_ENOMEM;
        int rc = zt_quant_packed_prepare(p, X_q, x_row_bytes, batch, own);
        if (rc != 0) {
            zt_free(own);
            return rc;
        }
        prep = own;
    }
    for (size_t r0 = row_begin; r0 < row_end; r0 += G) {
        size_t nvalid = row_end - r0 < G ? row_end - r0 : G;
        fn(p->data + (r0 / G) * p->group_bytes, p->nb, nvalid, X_q, x_row_bytes, prep, batch, out + r0, out_stride);
    }
    zt_free(own);
    return 0;
}
