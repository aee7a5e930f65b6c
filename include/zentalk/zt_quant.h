/* zt_quant.h: tensor element formats and the dot-product kernels of the CPU
 * inference engine.
 *
 * Formats are byte-compatible with GGUF files written by llama.cpp: F32, F16,
 * BF16, Q8_0, Q4_0, Q4_K, Q6_K (weights) and Q8_K (activations only).
 *
 * Every dot product follows one canonical arithmetic order (see
 * docs/internals/quant.md), implemented exactly by the scalar reference and
 * by every SIMD path, so results are bit-identical across ISAs, machines,
 * thread counts and batch sizes: the network verifies work by comparing
 * output hashes.
 *
 * Usage for y = W x with W (rows, n) of type t:
 *   zt_quant_activations(t, x, xq, n);            -- once per activation row
 *   zt_quant_vec_dot(t, n, W + r * row_bytes, xq, &y[r]);   -- or
 *   zt_quant_matmul_rows(...)                      -- many rows x batch
 * Kernels never allocate and are thread-safe; zt_quant_init() picks the
 * fastest path once (kernels call it lazily too). */
#ifndef ZT_QUANT_H
#define ZT_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_gguf.h"

/* ---- block layouts (GGUF, little-endian) ------------------------------- */

#define ZT_QK8_0 32
#define ZT_QK4_0 32
#define ZT_QK_K 256
#define ZT_K_SCALE_SIZE 12

/* Q8_0: 32 elements, value = qs[i] * d. */
struct zt_block_q8_0 {
    uint16_t d;          /* fp16 scale */
    int8_t qs[ZT_QK8_0];
};

/* Q4_0: 32 elements, value = (q - 8) * d; qs[i] & 15 is element i and
 * qs[i] >> 4 is element i + 16. */
struct zt_block_q4_0 {
    uint16_t d;               /* fp16 scale */
    uint8_t qs[ZT_QK4_0 / 2];
};

/* Q4_K: 256 elements in 8 sub-blocks of 32, value = d*sc[j]*q - dmin*m[j]
 * with 6-bit sc/m packed in scales[12]: for j < 4 sc = scales[j] & 63,
 * m = scales[j+4] & 63; for j >= 4 sc = (scales[j+4] & 15) |
 * ((scales[j-4] >> 6) << 4), m = (scales[j+4] >> 4) | ((scales[j] >> 6) << 4).
 * Nibbles: in each 64-element chunk c, qs[32c + l] & 15 is element 64c + l
 * and qs[32c + l] >> 4 is element 64c + 32 + l. */
struct zt_block_q4_k {
    uint16_t d;                        /* fp16 super-block scale for sc */
    uint16_t dmin;                     /* fp16 super-block scale for m */
    uint8_t scales[ZT_K_SCALE_SIZE];
    uint8_t qs[ZT_QK_K / 2];
};

/* Q6_K: 256 elements, value = d * scales[e/16] * (q - 32), q 6 bits: for
 * element e = 128h + 32k + l (h < 2, k < 4, l < 32): low 4 bits from
 * ql[64h + l + 32(k & 1)] (low nibble for k < 2, high for k >= 2), high 2
 * bits from qh[32h + l] >> 2k. */
struct zt_block_q6_k {
    uint8_t ql[ZT_QK_K / 2];
    uint8_t qh[ZT_QK_K / 4];
    int8_t scales[ZT_QK_K / 16];
    uint16_t d; /* fp16 */
};

/* Q8_K: activation format for k-quants, value = qs[i] * d; bsums[g] is the
 * sum of qs[16g .. 16g+15] (the kernels rely on it). */
struct zt_block_q8_k {
    float d;
    int8_t qs[ZT_QK_K];
    int16_t bsums[ZT_QK_K / 16];
};

_Static_assert(sizeof(struct zt_block_q8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(struct zt_block_q4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(struct zt_block_q4_k) == 144, "Q4_K block is 144 bytes");
_Static_assert(sizeof(struct zt_block_q6_k) == 210, "Q6_K block is 210 bytes");
_Static_assert(sizeof(struct zt_block_q8_k) == 292, "Q8_K block is 292 bytes");

/* ---- scalar conversions (exact; float -> half/bf16 rounds to nearest even,
 * overflow gives Inf, NaN stays a quiet NaN with the sign kept) ----------- */

float zt_fp16_to_fp32(uint16_t h);
uint16_t zt_fp32_to_fp16(float f);
float zt_bf16_to_fp32(uint16_t h);
uint16_t zt_fp32_to_bf16(float f);
/* Row versions (SIMD where available, same bits as the scalar ones). */
void zt_fp16_to_fp32_row(const uint16_t *src, float *dst, size_t n);
void zt_fp32_to_fp16_row(const float *src, uint16_t *dst, size_t n);

/* ---- type traits -------------------------------------------------------- */

/* True for the types this module converts (F32 F16 BF16 Q8_0 Q4_0 Q4_K Q6_K
 * Q8_K). Block size in elements / bytes: 0 for unsupported types. */
bool zt_quant_type_supported(enum zt_ggml_type t);
size_t zt_quant_blck_size(enum zt_ggml_type t);
size_t zt_quant_block_bytes(enum zt_ggml_type t);
/* Bytes of a row of n elements: ZT_EINVAL when t is unsupported or n is not
 * a multiple of its block size, ZT_ERANGE on overflow. */
ZT_NODISCARD int zt_quant_row_bytes(enum zt_ggml_type t, size_t n, size_t *out);

/* ---- rows --------------------------------------------------------------- */

/* Decode n elements of type t at src into dst (scalar reference).
 * ZT_EINVAL: unsupported type or n not a multiple of the block size. */
ZT_NODISCARD int zt_dequant_row(enum zt_ggml_type t, const void *src, float *dst, size_t n);
/* Encode n floats as type t into dst (zt_quant_row_bytes(t, n) bytes).
 * Reference quantisers: deterministic, simple, used to make test models.
 * ZT_EINVAL as above. */
ZT_NODISCARD int zt_quant_row(enum zt_ggml_type t, const float *src, void *dst, size_t n);

/* ---- dot products --------------------------------------------------------- */

/* Activation format that weight type t is multiplied with: F32 for F32, F16
 * and BF16; Q8_0 for Q8_0 and Q4_0; Q8_K for Q4_K and Q6_K.
 * ZT_GGML_TYPE_COUNT for types without a kernel. */
enum zt_ggml_type zt_quant_vec_dot_type(enum zt_ggml_type t);

/* Quantise an activation row x[n] into zt_quant_vec_dot_type(t) format at
 * dst (a copy for F32). Bit-identical on every ISA path. Activations fed to
 * the kernels must come from here (the SIMD paths rely on |q| <= 127 and on
 * Q8_K's bsums). ZT_EINVAL: no kernel for t or n not a multiple of the
 * block size. */
ZT_NODISCARD int zt_quant_activations(enum zt_ggml_type t, const float *x, void *dst, size_t n);

/* *out = dot(weight row w, activation row x) of n elements. ZT_EINVAL as
 * for zt_quant_activations. */
ZT_NODISCARD int zt_quant_vec_dot(enum zt_ggml_type t, size_t n, const void *w, const void *x,
                                  float *out);

/* out[b * out_stride + r] = dot(row r of W, row b of X) for r in
 * [row_begin, row_end) and b < batch. Row r of W is at W + r * row_bytes,
 * row b of X (activation format) at X_q + b * x_row_bytes. Each element is
 * bit-identical to zt_quant_vec_dot (tiling only reuses loads). Threads
 * split [0, rows) into disjoint ranges. ZT_EINVAL: bad type, n, strides
 * smaller than a row, or out_stride < row_end when batch > 1. */
ZT_NODISCARD int zt_quant_matmul_rows(enum zt_ggml_type type, const void *W, size_t row_bytes,
                                      size_t row_begin, size_t row_end, const void *X_q,
                                      size_t x_row_bytes, size_t batch, float *out,
                                      size_t out_stride, size_t n);

/* ---- the declared BF16 precision mode (quant.md, "BF16 mode") ----------- *
 *
 * A reduced-precision mode a job must ask for (zt_job_params.precision),
 * never a silent substitute for the exact one: F32/F16/BF16 weight matrices
 * and their activations are rounded to bf16 and multiplied with AVX512-BF16
 * `vdpbf16ps` where the CPU has it. Its arithmetic is defined by the
 * scalar reference (quant.c) to be the hardware's, so every path (scalar,
 * AVX2, AVX512-BF16) gives the same bits:
 *   - rounding to bf16: round to nearest even; a subnormal f32 becomes a
 *     zero of its sign (the instructions' DAZ); NaN stays a quiet NaN;
 *   - 16 lanes: the pair of elements (2p, 2p + 1) goes to lane p % 16, in
 *     increasing p, as acc = ftz(fma(w[2p+1], x[2p+1], acc)) then acc =
 *     ftz(fma(w[2p], x[2p], acc)), ftz(r) = a zero of r's sign when |r| <
 *     2^-126 (the rounded result: tininess after rounding), lanes from +0;
 *     the length is padded with zeros to a multiple of 32;
 *   - fold lane[l] += lane[l + h] for h = 8, 4, 2, 1 (IEEE adds, no
 *     flush); the result is lane 0. */
enum zt_precision {
    ZT_PRECISION_EXACT = 0, /* the canonical exact order (the default) */
    ZT_PRECISION_BF16 = 1,  /* the declared bf16 mode above */
};
/* "exact" / "bf16"; NULL for another value */
const char *zt_precision_name(enum zt_precision p);
/* 0 and *out for "exact" or "bf16", ZT_EINVAL otherwise */
ZT_NODISCARD int zt_precision_parse(const char *s, enum zt_precision *out);
/* One value rounded as the mode defines (RNE, subnormal -> signed zero). */
uint16_t zt_fp32_to_bf16_mode(float f);
/* n activations rounded into the mode's bf16 (the same bits as the scalar
 * function on every path). */
void zt_quant_bf16_row(const float *src, uint16_t *dst, size_t n);
/* A weight row of type t (F32, F16 or BF16; n elements) in the mode's bf16:
 * decoded exactly to f32, then rounded as above. ZT_EINVAL for another type. */
ZT_NODISCARD int zt_quant_bf16_weights(enum zt_ggml_type t, const void *src, uint16_t *dst, size_t n);
/* *out = the mode's dot of bf16 rows w and x (both from the two functions
 * above: the kernels rely on there being no subnormal bf16). */
void zt_quant_vec_dot_bf16(size_t n, const uint16_t *w, const uint16_t *x, float *out);
/* zt_quant_matmul_rows in the mode: W rows of n bf16 (row r at W + r *
 * row_bytes), X rows of n bf16 (row b at X + b * x_row_bytes). Each element
 * is zt_quant_vec_dot_bf16's bits. ZT_EINVAL as zt_quant_matmul_rows. */
ZT_NODISCARD int zt_quant_matmul_bf16(const uint16_t *W, size_t row_bytes, size_t row_begin, size_t row_end,
                                      const uint16_t *X, size_t x_row_bytes, size_t batch, float *out,
                                      size_t out_stride, size_t n);

/* ---- packed weights (generation near the memory bandwidth) ------------- *
 *
 * A weight matrix repacked once at load into groups of ZT_QUANT_PACK_ROWS
 * rows whose blocks are interleaved 4 bytes at a time (quant.md, "Packed
 * weights"), so one 64-byte vector load feeds the same canonical lane of
 * 16 rows and a row's block scale is one lane of a vector of 16: several
 * rows per activation load, fused dequantise-dot, streaming reads. The
 * results are the bits of zt_quant_matmul_rows on the original rows. Types:
 * Q8_0, Q4_0, Q4_K and Q6_K (others: ZT_EUNSUPPORTED). */
#define ZT_QUANT_PACK_ROWS 16

struct zt_quant_packed;

/* Whether packing type t pays on the path in use (a packed kernel of its
 * own; otherwise the packed layout runs a portable kernel that unpacks,
 * correct but slower than the plain rows). */
bool zt_quant_pack_useful(enum zt_ggml_type t);
/* Packs rows [0, rows) of W (row r at W + r * row_bytes, n elements).
 * ZT_EUNSUPPORTED for a type without a packed layout, ZT_EINVAL for a bad
 * n or stride, ZT_ENOMEM. */
ZT_NODISCARD int zt_quant_pack(enum zt_ggml_type t, const void *W, size_t row_bytes, size_t rows, size_t n,
                               struct zt_quant_packed **out);
void zt_quant_packed_free(struct zt_quant_packed *p); /* NULL: no-op */
size_t zt_quant_packed_bytes(const struct zt_quant_packed *p);
/* As zt_quant_matmul_rows over the packed rows; row_begin must be a
 * multiple of ZT_QUANT_PACK_ROWS (row_end: one too, or the row count).
 * Batch rows are computed one after another against each group of rows
 * (the group stays in cache), so a row's result never depends on the
 * batch. ZT_EINVAL for a bad range or stride, ZT_ENOMEM. */
ZT_NODISCARD int zt_quant_matmul_packed(const struct zt_quant_packed *p, size_t row_begin, size_t row_end,
                                        const void *X_q, size_t x_row_bytes, size_t batch, float *out,
                                        size_t out_stride);
/* The activation terms the packed Q8_0/Q4_0 kernels use (quant_pack.c),
 * prepared once per batch instead of once per call (a multi-threaded
 * product calls zt_quant_matmul_packed once per chunk of rows):
 * zt_quant_packed_prep_bytes(p) bytes per activation row (0: the type has
 * none, pass NULL), zt_quant_packed_prepare writes `batch` rows of them
 * (row k at prep + k * that), and zt_quant_matmul_packed_prep is
 * zt_quant_matmul_packed with them (prep NULL: prepared inside). The same
 * bits either way. */
size_t zt_quant_packed_prep_bytes(const struct zt_quant_packed *p);
ZT_NODISCARD int zt_quant_packed_prepare(const struct zt_quant_packed *p, const void *X_q, size_t x_row_bytes,
                                         size_t batch, int32_t *prep);
ZT_NODISCARD int zt_quant_matmul_packed_prep(const struct zt_quant_packed *p, size_t row_begin, size_t row_end,
                                             const void *X_q, size_t x_row_bytes, size_t batch,
                                             const int32_t *prep, float *out, size_t out_stride);

/* ---- dispatch ------------------------------------------------------------ */

enum zt_quant_isa {
    ZT_QUANT_ISA_SCALAR = 0,
    ZT_QUANT_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
    ZT_QUANT_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ + FMA + F16C */
    ZT_QUANT_ISA_AVX512VNNI = 3, /* AVX-512 + VNNI (vpdpbusd for Q8_0/Q4_0; the rest is avx512's) */
    ZT_QUANT_ISA_AVX512BF16 = 4, /* + AVX512-BF16 (vdpbf16ps for the BF16 mode; the rest is avx512vnni's) */
    ZT_QUANT_ISA_COUNT = 5
};

/* Pick the kernel paths: without ZT_CPU, a short calibration (a few ms)
 * times every path the CPU supports on each weight type, for one
 * activation row (generation) and for tiles of 4 (prompts), and keeps the
 * fastest per (type, shape), so a newer ISA is used only where it wins;
 * ZT_CPU=scalar|avx2|avx512|avx512vnni|avx512bf16 forces one path for
 * everything (the BF16 mode's kernels: the newest path that has them).
 * Every path gives the same bits, so the choice never changes results.
 * Idempotent and thread-safe; the choice is made once. ZT_EUNSUPPORTED
 * when ZT_CPU names a path this CPU (or build) lacks, ZT_EINVAL for an
 * unknown name; the scalar path is used then (same results, slower). */
ZT_NODISCARD int zt_quant_init(void);
/* Name of the newest path in use ("scalar", "avx2", "avx512", "avx512vnni",
 * "avx512bf16" or, for a calibrated choice, the newest path any op uses). */
const char *zt_quant_isa_name(void);
/* Which path runs each op, for --stats and status pages: writes e.g.
 * "F16 gen=avx2 pp=avx2, Q8_0 gen=avx512vnni pp=avx2, ..." (every weight
 * type with a kernel) into buf (NUL-terminated, truncated to cap); returns
 * the length it needed. */
size_t zt_quant_paths(char *buf, size_t cap);
enum zt_quant_isa zt_quant_isa_current(void);
/* Whether this CPU and build can run isa. */
bool zt_quant_isa_available(enum zt_quant_isa isa);
/* Switch paths at run time (tests, benchmarks): ZT_EUNSUPPORTED if not
 * available. Not for use while kernels run on other threads. */
ZT_NODISCARD int zt_quant_set_isa(enum zt_quant_isa isa);

#endif
