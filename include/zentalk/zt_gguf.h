/* zt_gguf.h: GGUF model files (versions 2 and 3), read-only.
 *
 * zt_gguf_open() maps the file read-only and parses the header, every
 * metadata key/value (all GGUF value types, arrays included) and the tensor
 * table. Every count, length, offset and size is bounds-checked against the
 * file: a truncated or hostile file is an error with a message, never a
 * crash. Tensor data stays in the mapping (zero copy); pointers returned
 * here live until zt_gguf_close(). Thread-safe for concurrent readers. */
#ifndef ZT_GGUF_H
#define ZT_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"

/* ggml tensor types, numbered as in the GGUF specification. */
enum zt_ggml_type {
    ZT_GGML_F32 = 0,
    ZT_GGML_F16 = 1,
    ZT_GGML_Q4_0 = 2,
    ZT_GGML_Q4_1 = 3,
    ZT_GGML_Q5_0 = 6,
    ZT_GGML_Q5_1 = 7,
    ZT_GGML_Q8_0 = 8,
    ZT_GGML_Q8_1 = 9,
    ZT_GGML_Q2_K = 10,
    ZT_GGML_Q3_K = 11,
    ZT_GGML_Q4_K = 12,
    ZT_GGML_Q5_K = 13,
    ZT_GGML_Q6_K = 14,
    ZT_GGML_Q8_K = 15,
    ZT_GGML_BF16 = 30,
    ZT_GGML_TYPE_COUNT = 40 /* upper bound for tables indexed by type */
};

/* GGUF metadata value types. */
enum zt_gguf_vtype {
    ZT_GGUF_U8 = 0, ZT_GGUF_I8 = 1, ZT_GGUF_U16 = 2, ZT_GGUF_I16 = 3,
    ZT_GGUF_U32 = 4, ZT_GGUF_I32 = 5, ZT_GGUF_F32 = 6, ZT_GGUF_BOOL = 7,
    ZT_GGUF_STRING = 8, ZT_GGUF_ARRAY = 9, ZT_GGUF_U64 = 10, ZT_GGUF_I64 = 11,
    ZT_GGUF_F64 = 12,
};

#define ZT_GGUF_MAX_DIMS 4

struct zt_gguf;

struct zt_gguf_str {
    const char *ptr; /* points into the mapping: NOT NUL-terminated */
    uint64_t len;
};

struct zt_gguf_tensor {
    struct zt_gguf_str name;
    enum zt_ggml_type type;
    uint32_t n_dims;
    uint64_t ne[ZT_GGUF_MAX_DIMS]; /* ne[0] = row length (contiguous); unused dims are 1 */
    uint64_t n_elements;
    uint64_t offset;               /* from the start of the data section */
    uint64_t size;                 /* bytes */
    const void *data;              /* inside the mapping, aligned */
};

/* Open and validate a file. On error returns a negative ZT_E* and appends a
 * one-line reason (with the byte offset where useful) to err (may be NULL). */
ZT_NODISCARD int zt_gguf_open(const char *path, struct zt_gguf **out, struct zt_buf *err);
/* Same over a caller-owned buffer that must outlive the handle (tests, fuzzing). */
ZT_NODISCARD int zt_gguf_open_mem(const void *data, size_t len, struct zt_gguf **out,
                                  struct zt_buf *err);
void zt_gguf_close(struct zt_gguf *g);

uint32_t zt_gguf_version(const struct zt_gguf *g);
uint64_t zt_gguf_alignment(const struct zt_gguf *g);
size_t zt_gguf_file_size(const struct zt_gguf *g);

/* Metadata. Keys are looked up by exact name; index -1 = absent. */
int64_t zt_gguf_n_kv(const struct zt_gguf *g);
int64_t zt_gguf_find_key(const struct zt_gguf *g, const char *key);
struct zt_gguf_str zt_gguf_key_name(const struct zt_gguf *g, int64_t i);
enum zt_gguf_vtype zt_gguf_kv_type(const struct zt_gguf *g, int64_t i);

/* Typed getters by key name: 0 on success, ZT_ENOTFOUND when absent,
 * ZT_EINVAL when the stored type does not convert losslessly (any integer
 * type that fits is accepted by the integer getters; F32/F64 by get_f64). */
ZT_NODISCARD int zt_gguf_get_u64(const struct zt_gguf *g, const char *key, uint64_t *out);
ZT_NODISCARD int zt_gguf_get_i64(const struct zt_gguf *g, const char *key, int64_t *out);
ZT_NODISCARD int zt_gguf_get_f64(const struct zt_gguf *g, const char *key, double *out);
ZT_NODISCARD int zt_gguf_get_bool(const struct zt_gguf *g, const char *key, bool *out);
ZT_NODISCARD int zt_gguf_get_str(const struct zt_gguf *g, const char *key, struct zt_gguf_str *out);

/* Arrays: element type and count; elements read by index. */
ZT_NODISCARD int zt_gguf_get_arr(const struct zt_gguf *g, const char *key,
                                 enum zt_gguf_vtype *elem_type, uint64_t *count);
ZT_NODISCARD int zt_gguf_arr_str(const struct zt_gguf *g, const char *key, uint64_t i,
                                 struct zt_gguf_str *out);          /* O(1): offsets are indexed at open */
ZT_NODISCARD int zt_gguf_arr_f64(const struct zt_gguf *g, const char *key, uint64_t i, double *out);
ZT_NODISCARD int zt_gguf_arr_i64(const struct zt_gguf *g, const char *key, uint64_t i, int64_t *out);
/* Raw pointer to a numeric array's packed little-endian elements (NULL for strings/nested). */
const void *zt_gguf_arr_data(const struct zt_gguf *g, const char *key);

/* Tensors. */
int64_t zt_gguf_n_tensors(const struct zt_gguf *g);
const struct zt_gguf_tensor *zt_gguf_tensor(const struct zt_gguf *g, int64_t i);
const struct zt_gguf_tensor *zt_gguf_find_tensor(const struct zt_gguf *g, const char *name);

/* Type traits: elements per block and bytes per block (0 for unknown types),
 * and a name ("F32", "Q4_K", ...; "unknown" otherwise). */
uint32_t zt_ggml_blck_size(enum zt_ggml_type t);
uint32_t zt_ggml_type_size(enum zt_ggml_type t);
const char *zt_ggml_type_name(enum zt_ggml_type t);
/* Bytes for n elements of t (n must be a multiple of the block size);
 * ZT_EINVAL/ZT_ERANGE otherwise. */
ZT_NODISCARD int zt_ggml_row_size(enum zt_ggml_type t, uint64_t n, uint64_t *bytes);

#endif
