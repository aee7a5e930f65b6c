/* zt_gguf.h: GGUF model files (versions 2 and 3): reader and writer.
 *
 * zt_gguf_open() maps the file read-only and parses the header, every
 * metadata key/value (all GGUF value types, arrays included) and the tensor
 * table. Every count, length, offset and size is bounds-checked against the
 * file: a truncated or hostile file is an error with a message, never a
 * crash. Tensor data stays in the mapping (zero copy); pointers returned
 * here live until zt_gguf_close(). Thread-safe for concurrent readers.
 * Little-endian files on little-endian hosts only (a big-endian file or host
 * is refused with ZT_EUNSUPPORTED). Format notes, limits and the list of
 * checks: docs/internals/gguf.md. The writer is at the end of this file. */
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
    ZT_GGML_IQ2_XXS = 16,
    ZT_GGML_IQ2_XS = 17,
    ZT_GGML_IQ3_XXS = 18,
    ZT_GGML_IQ1_S = 19,
    ZT_GGML_IQ4_NL = 20,
    ZT_GGML_IQ3_S = 21,
    ZT_GGML_IQ2_S = 22,
    ZT_GGML_IQ4_XS = 23,
    ZT_GGML_I8 = 24,
    ZT_GGML_I16 = 25,
    ZT_GGML_I32 = 26,
    ZT_GGML_I64 = 27,
    ZT_GGML_F64 = 28,
    ZT_GGML_IQ1_M = 29,
    ZT_GGML_BF16 = 30,
    /* 31..33 and 36..38 were removed from ggml (repacked Q4_0 variants). */
    ZT_GGML_TQ1_0 = 34,
    ZT_GGML_TQ2_0 = 35,
    ZT_GGML_MXFP4 = 39,
    ZT_GGML_TYPE_COUNT = 40 /* upper bound for tables indexed by type */
};

/* GGUF metadata value types. */
enum zt_gguf_vtype {
    ZT_GGUF_U8 = 0, ZT_GGUF_I8 = 1, ZT_GGUF_U16 = 2, ZT_GGUF_I16 = 3,
    ZT_GGUF_U32 = 4, ZT_GGUF_I32 = 5, ZT_GGUF_F32 = 6, ZT_GGUF_BOOL = 7,
    ZT_GGUF_STRING = 8, ZT_GGUF_ARRAY = 9, ZT_GGUF_U64 = 10, ZT_GGUF_I64 = 11,
    ZT_GGUF_F64 = 12,
    ZT_GGUF_VTYPE_COUNT = 13 /* also returned by zt_gguf_kv_type() for a bad index */
};

#define ZT_GGUF_MAX_DIMS 4

/* Limits enforced by the reader (and the writer); see docs/internals/gguf.md. */
#define ZT_GGUF_MAX_KV 1000000u
#define ZT_GGUF_MAX_TENSORS 1000000u
#define ZT_GGUF_MAX_STRING (1u << 30)  /* bytes in one string value */
#define ZT_GGUF_MAX_KEY 65535u         /* bytes in a key or tensor name */
#define ZT_GGUF_MAX_ARRAY_DEPTH 8      /* arrays of arrays of ... */
#define ZT_GGUF_DEFAULT_ALIGNMENT 32u

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
 * one-line reason (with the byte offset where useful) to err (may be NULL):
 * ZT_ENOTFOUND/ZT_EPERM/ZT_EIO (the file), ZT_EPARSE (malformed or truncated),
 * ZT_EUNSUPPORTED (version, byte order), ZT_ETOOBIG (a limit above),
 * ZT_ERANGE (a size computation overflows), ZT_EEXIST (duplicate key or
 * tensor name), ZT_ENOMEM. *out is written only on success. */
ZT_NODISCARD int zt_gguf_open(const char *path, struct zt_gguf **out, struct zt_buf *err);
/* Same over a caller-owned buffer that must outlive the handle (tests, fuzzing). */
ZT_NODISCARD int zt_gguf_open_mem(const void *data, size_t len, struct zt_gguf **out,
                                  struct zt_buf *err);
void zt_gguf_close(struct zt_gguf *g);

uint32_t zt_gguf_version(const struct zt_gguf *g);
uint64_t zt_gguf_alignment(const struct zt_gguf *g);
size_t zt_gguf_file_size(const struct zt_gguf *g);
/* Byte offset of the tensor data section (aligned) from the start of the file. */
size_t zt_gguf_data_offset(const struct zt_gguf *g);

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

/* The same getters by KV index (0 <= i < n_kv; ZT_ENOTFOUND otherwise), for
 * walking all metadata without building NUL-terminated key names. Nested
 * arrays (elem_type ZT_GGUF_ARRAY) are validated at open but their elements
 * are not addressable: the element getters return ZT_EINVAL for them.
 * Element index past the end: ZT_ERANGE. */
ZT_NODISCARD int zt_gguf_kv_u64(const struct zt_gguf *g, int64_t i, uint64_t *out);
ZT_NODISCARD int zt_gguf_kv_i64(const struct zt_gguf *g, int64_t i, int64_t *out);
ZT_NODISCARD int zt_gguf_kv_f64(const struct zt_gguf *g, int64_t i, double *out);
ZT_NODISCARD int zt_gguf_kv_bool(const struct zt_gguf *g, int64_t i, bool *out);
ZT_NODISCARD int zt_gguf_kv_str(const struct zt_gguf *g, int64_t i, struct zt_gguf_str *out);
ZT_NODISCARD int zt_gguf_kv_arr(const struct zt_gguf *g, int64_t i, enum zt_gguf_vtype *elem_type,
                                uint64_t *count);
ZT_NODISCARD int zt_gguf_kv_arr_str(const struct zt_gguf *g, int64_t i, uint64_t j,
                                    struct zt_gguf_str *out);
ZT_NODISCARD int zt_gguf_kv_arr_f64(const struct zt_gguf *g, int64_t i, uint64_t j, double *out);
ZT_NODISCARD int zt_gguf_kv_arr_i64(const struct zt_gguf *g, int64_t i, uint64_t j, int64_t *out);
const void *zt_gguf_kv_arr_data(const struct zt_gguf *g, int64_t i);

/* Bytes per element of a scalar value type (0 for STRING/ARRAY/unknown), and a name. */
size_t zt_gguf_vtype_size(enum zt_gguf_vtype t);
const char *zt_gguf_vtype_name(enum zt_gguf_vtype t);

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
/* Bytes of a whole tensor with n_dims dims ne[] (ne[0] a multiple of the
 * block size, every ne >= 1): ZT_EINVAL or ZT_ERANGE (overflow) otherwise. */
ZT_NODISCARD int zt_ggml_nbytes(enum zt_ggml_type t, uint32_t n_dims, const uint64_t *ne,
                                uint64_t *bytes);

/* ---- Writer ------------------------------------------------------------
 *
 * Builds a GGUF file in memory-light form: KVs are serialised as they are
 * added; tensor data is copied by zt_gguf_writer_add_tensor() and only
 * referenced by zt_gguf_writer_add_tensor_ref() (the caller keeps it alive
 * and unchanged until zt_gguf_writer_write() returns). Keys and tensor names
 * must be non-empty, at most ZT_GGUF_MAX_KEY bytes and unique (ZT_EEXIST).
 * Writes version 3 (or 2, same layout, for tests) with the alignment of a
 * "general.alignment" U32 KV if one was added, otherwise 32. Tensors are laid
 * out in the order added, each padded to the alignment (as llama.cpp does). */
struct zt_gguf_writer;

ZT_NODISCARD int zt_gguf_writer_new(struct zt_gguf_writer **out);
void zt_gguf_writer_free(struct zt_gguf_writer *w);
/* 2 or 3 (default 3); ZT_EINVAL otherwise. */
ZT_NODISCARD int zt_gguf_writer_set_version(struct zt_gguf_writer *w, uint32_t version);

ZT_NODISCARD int zt_gguf_writer_add_u8(struct zt_gguf_writer *w, const char *key, uint8_t v);
ZT_NODISCARD int zt_gguf_writer_add_i8(struct zt_gguf_writer *w, const char *key, int8_t v);
ZT_NODISCARD int zt_gguf_writer_add_u16(struct zt_gguf_writer *w, const char *key, uint16_t v);
ZT_NODISCARD int zt_gguf_writer_add_i16(struct zt_gguf_writer *w, const char *key, int16_t v);
ZT_NODISCARD int zt_gguf_writer_add_u32(struct zt_gguf_writer *w, const char *key, uint32_t v);
ZT_NODISCARD int zt_gguf_writer_add_i32(struct zt_gguf_writer *w, const char *key, int32_t v);
ZT_NODISCARD int zt_gguf_writer_add_u64(struct zt_gguf_writer *w, const char *key, uint64_t v);
ZT_NODISCARD int zt_gguf_writer_add_i64(struct zt_gguf_writer *w, const char *key, int64_t v);
ZT_NODISCARD int zt_gguf_writer_add_f32(struct zt_gguf_writer *w, const char *key, float v);
ZT_NODISCARD int zt_gguf_writer_add_f64(struct zt_gguf_writer *w, const char *key, double v);
ZT_NODISCARD int zt_gguf_writer_add_bool(struct zt_gguf_writer *w, const char *key, bool v);
/* A string of len bytes (any bytes, at most ZT_GGUF_MAX_STRING). */
ZT_NODISCARD int zt_gguf_writer_add_str(struct zt_gguf_writer *w, const char *key, const char *s,
                                        size_t len);
/* An array of count scalars of elem_type (not STRING/ARRAY), packed little-endian
 * as in memory on this host (bool: one byte 0/1 each). */
ZT_NODISCARD int zt_gguf_writer_add_arr(struct zt_gguf_writer *w, const char *key,
                                        enum zt_gguf_vtype elem_type, const void *data,
                                        size_t count);
/* An array of count strings; lens may be NULL for NUL-terminated strings. */
ZT_NODISCARD int zt_gguf_writer_add_arr_str(struct zt_gguf_writer *w, const char *key,
                                            const char *const *strs, const size_t *lens,
                                            size_t count);

/* A tensor: size must equal zt_ggml_nbytes(type, n_dims, ne) (ZT_EINVAL
 * otherwise); data NULL writes zeros. */
ZT_NODISCARD int zt_gguf_writer_add_tensor(struct zt_gguf_writer *w, const char *name,
                                           enum zt_ggml_type type, uint32_t n_dims,
                                           const uint64_t *ne, const void *data, size_t size);
ZT_NODISCARD int zt_gguf_writer_add_tensor_ref(struct zt_gguf_writer *w, const char *name,
                                               enum zt_ggml_type type, uint32_t n_dims,
                                               const uint64_t *ne, const void *data, size_t size);

/* Write atomically: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. On error nothing is left at path (an existing file
 * there is untouched) and a reason is appended to err (may be NULL). */
ZT_NODISCARD int zt_gguf_writer_write(struct zt_gguf_writer *w, const char *path, struct zt_buf *err);
/* The same bytes into a zt_malloc'd buffer (free with zt_free): tests, fuzz seeds. */
ZT_NODISCARD int zt_gguf_writer_to_mem(struct zt_gguf_writer *w, void **out, size_t *len,
                                       struct zt_buf *err);

#endif
