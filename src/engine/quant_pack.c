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
 * So one vector of 16 int32 holds the 4-byte groups of 16 rows for one
 * canonical lane j, and vpdpbusd against the activation's 4 bytes
 * broadcast gives the exact p_j of 16 rows at once; the canonical
 * accumulator of lane l of all 16 rows is one register, and the canonical
 * fold is 15 vector adds for the 16 rows.
 *
 * Prepared activation terms (per activation row, per block b, 9 int32):
 * c_j = -128 * sum4(x) (Q8_0: the unsigned weight's bias) or -8 * sum4(x)
 * (Q4_0: the nibble's bias) for j = 0..7, then fp16(x.d) as f32 bits. With
 * them, p_j = c_j + sum (stored weight byte) * x, exact in int32. */
#include <math.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_quant.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define G ZT_QUANT_PACK_ROWS

struct zt_quant_packed {
    enum zt_ggml_type type;
    size_t n, nb, rows, groups;
    size_t qb;            /* quant bytes of one block of a group */
    size_t group_bytes;
    void *mem;            /* allocation; data is its first 64-byte boundary */
    uint8_t *data;
};

static size_t quant_block_bytes(enum zt_ggml_type t)
{
    return t == ZT_GGML_Q8_0 ? 8 * 64 : t == ZT_GGML_Q4_0 ? 4 * 64 : 0;
}

int zt_quant_pack(enum zt_ggml_type t, const void *W, size_t row_bytes, size_t rows, size_t n,
                  struct zt_quant_packed **out)
{
    size_t qb = quant_block_bytes(t);
    if (qb == 0) return ZT_EUNSUPPORTED;
    size_t wb;
    if (n == 0 || n % 32 != 0 || zt_quant_row_bytes(t, n, &wb) != 0 || (rows > 0 && row_bytes < wb))
        return ZT_EINVAL;
    struct zt_quant_packed *p = zt_calloc(1, sizeof *p);
    if (!p) return ZT_ENOMEM;
    p->type = t;
    p->n = n;
    p->nb = n / 32;
    p->rows = rows;
    p->groups = (rows + G - 1) / G;
    p->qb = qb;
    size_t total;
    if (zt_mul_size((p->nb + 1) / 2, 64 + 2 * qb, &p->group_bytes) != 0 ||
        zt_mul_size(p->group_bytes, p->groups ? p->groups : 1, &total) != 0 || total + 64 < total) {
        zt_free(p);
        return ZT_ERANGE;
    }
    p->mem = zt_malloc(total + 64);
    if (!p->mem) {
        zt_free(p);
        return ZT_ENOMEM;
    }
    p->data = (uint8_t *)(((uintptr_t)p->mem + 63) & ~(uintptr_t)63);
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
    zt_free(p->mem);
    zt_free(p);
}

size_t zt_quant_packed_bytes(const struct zt_quant_packed *p) { return p ? p->group_bytes * p->groups : 0; }

/* The portable kernel, the packed layout's definition: for each row, the
 * scalar reference of quant.c (canonical order) on the bytes read back. */
static void pk_scalar(enum zt_ggml_type t, const uint8_t *grp, size_t nb, size_t nvalid, const void *X, size_t xs,
                      size_t nx, float *out, size_t os)
{
    size_t qb = quant_block_bytes(t);
    for (size_t k = 0; k < nx; k++) {
        const struct zt_block_q8_0 *x = (const struct zt_block_q8_0 *)(const void *)((const char *)X + k * xs);
        for (size_t r = 0; r < nvalid; r++) {
            float acc[16] = {0};
            for (size_t b = 0; b < nb; b++) {
                const uint8_t *pair = grp + (b / 2) * (64 + 2 * qb);
                const uint16_t *sc = (const uint16_t *)(const void *)pair + (b % 2) * G;
                const uint8_t *qbk = pair + 64 + (b % 2) * qb;
                float d = zt_fp16_to_fp32(sc[r]) * zt_fp16_to_fp32(x[b].d);
                float *a = acc + 8 * (b % 2);
                for (int j = 0; j < 8; j++) {
                    int32_t s = 0;
                    for (size_t e = 4 * (size_t)j; e < 4 * (size_t)j + 4; e++) {
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
                    a[j] = fmaf(d, (float)s, a[j]);
                }
            }
            for (int h = 8; h >= 1; h /= 2)
                for (int l = 0; l < h; l++) acc[l] = acc[l] + acc[l + h];
            out[k * os + r] = acc[0];
        }
    }
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

const zt__quant_pk_fn zt__quant_pk_scalar[2] = {pk_q8_0_scalar, pk_q4_0_scalar};

bool zt_quant_pack_useful(enum zt_ggml_type t)
{
    zt__quant_pk_fn f = zt__quant_pk_current(t);
    return f != NULL && f != zt__quant_pk_scalar[t == ZT_GGML_Q4_0];
}

/* The prepared terms of one activation row (see the top of the file). */
static void prepare(enum zt_ggml_type t, const struct zt_block_q8_0 *x, size_t nb, int32_t *act)
{
    int32_t bias = t == ZT_GGML_Q8_0 ? -128 : -8;
    for (size_t b = 0; b < nb; b++, act += 9) {
        for (int j = 0; j < 8; j++)
            act[j] = bias * (x[b].qs[4 * j] + x[b].qs[4 * j + 1] + x[b].qs[4 * j + 2] + x[b].qs[4 * j + 3]);
        float d = zt_fp16_to_fp32(x[b].d);
        memcpy(&act[8], &d, sizeof d);
    }
}

int zt_quant_matmul_packed(const struct zt_quant_packed *p, size_t row_begin, size_t row_end, const void *X_q,
                           size_t x_row_bytes, size_t batch, float *out, size_t out_stride)
{
    size_t xb;
    if (!p || zt_quant_row_bytes(ZT_GGML_Q8_0, p->n, &xb) != 0) return ZT_EINVAL;
    if (row_begin > row_end || row_end > p->rows || row_begin % G != 0 ||
        (row_end % G != 0 && row_end != p->rows) || (batch > 1 && (x_row_bytes < xb || out_stride < row_end)))
        return ZT_EINVAL;
    if (row_begin == row_end || batch == 0) return 0;
    size_t per = p->nb * 9, need;
    if (zt_mul_size(per * sizeof(int32_t), batch, &need) != 0) return ZT_ERANGE;
    int32_t *act = zt_malloc(need);
    if (!act) return ZT_ENOMEM;
    for (size_t k = 0; k < batch; k++)
        prepare(p->type, (const struct zt_block_q8_0 *)(const void *)((const char *)X_q + k * x_row_bytes), p->nb,
                act + k * per);
    zt__quant_pk_fn fn = zt__quant_pk_current(p->type);
    for (size_t r0 = row_begin; r0 < row_end; r0 += G) {
        size_t nvalid = row_end - r0 < G ? row_end - r0 : G;
        fn(p->data + (r0 / G) * p->group_bytes, p->nb, nvalid, X_q, x_row_bytes, act, batch, out + r0, out_stride);
    }
    zt_free(act);
    return 0;
}
