/* gguf.c: GGUF reader (versions 2 and 3). See zt_gguf.h and docs/internals/gguf.md.
 *
 * The file is untrusted input. Parsing is one forward pass over the mapping
 * with a cursor that checks every read against the bytes left, so a count or
 * length cannot make us read (or allocate) past what the file holds: every
 * allocation here is bounded by a multiple of the file size. The result is a
 * set of compact index arrays (KV table, string-array element offsets,
 * tensor table, two hash tables) pointing into the mapping; nothing is copied. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_hash.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#define HOST_LITTLE_ENDIAN 0
#else
#define HOST_LITTLE_ENDIAN 1
#endif

/* Smallest encodings, used to refuse counts the remaining bytes cannot hold
 * before allocating anything for them. */
#define MIN_KV_BYTES 14u     /* key len 8 + key 1 + type 4 + value 1 */
#define MIN_TENSOR_BYTES 33u /* name len 8 + name 1 + n_dims 4 + ne 8 + type 4 + offset 8 */
#define ARRAY_HDR_BYTES 12u  /* element type 4 + count 8 */

/* One metadata entry. Offsets are absolute in the file. */
struct kv {
    uint64_t key_off;
    uint64_t val_off; /* scalar bytes, string bytes, or first array element */
    uint64_t count;   /* string length, or array element count */
    uint64_t sidx;    /* string arrays: first index into zt_gguf.str_off */
    uint32_t key_len;
    uint8_t type;
    uint8_t elem_type;
};

/* The name index of the kv or the tensor table: open addressing (FNV-1a,
 * linear probing; ix_probe), slot = entry index + 1, 0 = empty. */
struct name_ix {
    uint32_t *slot;
    size_t mask;
};

struct zt_gguf {
    const uint8_t *base;
    size_t size;
    void *map; /* non-NULL when we own an mmap of size bytes */
    uint32_t version;
    uint64_t alignment;
    size_t data_off;

    struct kv *kv;
    uint64_t n_kv;
    struct name_ix kv_ix; /* by key */

    /* Offsets of the length prefix of every element of every top-level string
     * array, so zt_gguf_arr_str() is O(1) (a tokenizer reads 32000+ of them). */
    uint64_t *str_off;
    uint64_t n_str, cap_str;

    struct zt_gguf_tensor *tensors;
    uint64_t n_tensors;
    struct name_ix t_ix; /* by name */
};

/* ---- type traits -------------------------------------------------------- */

struct type_traits {
    const char *name;
    uint32_t blck;
    uint32_t size;
};

/* Block layouts as in ggml-common.h; a zero size marks a removed/unknown id. */
static const struct type_traits ggml_traits[ZT_GGML_TYPE_COUNT] = {
    [ZT_GGML_F32] = {"F32", 1, 4},
    [ZT_GGML_F16] = {"F16", 1, 2},
    [ZT_GGML_Q4_0] = {"Q4_0", 32, 18},
    [ZT_GGML_Q4_1] = {"Q4_1", 32, 20},
    [ZT_GGML_Q5_0] = {"Q5_0", 32, 22},
    [ZT_GGML_Q5_1] = {"Q5_1", 32, 24},
    [ZT_GGML_Q8_0] = {"Q8_0", 32, 34},
    [ZT_GGML_Q8_1] = {"Q8_1", 32, 36},
    [ZT_GGML_Q2_K] = {"Q2_K", 256, 84},
    [ZT_GGML_Q3_K] = {"Q3_K", 256, 110},
    [ZT_GGML_Q4_K] = {"Q4_K", 256, 144},
    [ZT_GGML_Q5_K] = {"Q5_K", 256, 176},
    [ZT_GGML_Q6_K] = {"Q6_K", 256, 210},
    [ZT_GGML_Q8_K] = {"Q8_K", 256, 292},
    [ZT_GGML_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [ZT_GGML_IQ2_XS] = {"IQ2_XS", 256, 74},
    [ZT_GGML_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [ZT_GGML_IQ1_S] = {"IQ1_S", 256, 50},
    [ZT_GGML_IQ4_NL] = {"IQ4_NL", 32, 18},
    [ZT_GGML_IQ3_S] = {"IQ3_S", 256, 110},
    [ZT_GGML_IQ2_S] = {"IQ2_S", 256, 82},
    [ZT_GGML_IQ4_XS] = {"IQ4_XS", 256, 136},
    [ZT_GGML_I8] = {"I8", 1, 1},
    [ZT_GGML_I16] = {"I16", 1, 2},
    [ZT_GGML_I32] = {"I32", 1, 4},
    [ZT_GGML_I64] = {"I64", 1, 8},
    [ZT_GGML_F64] = {"F64", 1, 8},
    [ZT_GGML_IQ1_M] = {"IQ1_M", 256, 56},
    [ZT_GGML_BF16] = {"BF16", 1, 2},
    [ZT_GGML_TQ1_0] = {"TQ1_0", 256, 54},
    [ZT_GGML_TQ2_0] = {"TQ2_0", 256, 66},
    [ZT_GGML_MXFP4] = {"MXFP4", 32, 17},
};

static const struct type_traits *traits(enum zt_ggml_type t)
{
    unsigned u = (unsigned)t;
    if (u >= ZT_GGML_TYPE_COUNT || ggml_traits[u].size == 0) return NULL;
    return &ggml_traits[u];
}

uint32_t zt_ggml_blck_size(enum zt_ggml_type t)
{
    const struct type_traits *tt = traits(t);
    return tt ? tt->blck : 0;
}

uint32_t zt_ggml_type_size(enum zt_ggml_type t)
{
    const struct type_traits *tt = traits(t);
    return tt ? tt->size : 0;
}

const char *zt_ggml_type_name(enum zt_ggml_type t)
{
    const struct type_traits *tt = traits(t);
    return tt ? tt->name : "unknown";
}

int zt_ggml_row_size(enum zt_ggml_type t, uint64_t n, uint64_t *bytes)
{
    const struct type_traits *tt = traits(t);
    if (!tt || n % tt->blck != 0) return ZT_EINVAL;
    uint64_t r;
    if (__builtin_mul_overflow(n / tt->blck, (uint64_t)tt->size, &r)) return ZT_ERANGE;
    *bytes = r;
    return 0;
}

int zt_ggml_nbytes(enum zt_ggml_type t, uint32_t n_dims, const uint64_t *ne, uint64_t *bytes)
{
    if (n_dims < 1 || n_dims > ZT_GGUF_MAX_DIMS) return ZT_EINVAL;
    for (uint32_t i = 0; i < n_dims; i++)
        if (ne[i] == 0) return ZT_EINVAL;
    uint64_t r;
    int rc = zt_ggml_row_size(t, ne[0], &r);
    if (rc) return rc;
    for (uint32_t i = 1; i < n_dims; i++)
        if (__builtin_mul_overflow(r, ne[i], &r)) return ZT_ERANGE;
    *bytes = r;
    return 0;
}

static const uint8_t vtype_sizes[ZT_GGUF_VTYPE_COUNT] = {
    [ZT_GGUF_U8] = 1,  [ZT_GGUF_I8] = 1,  [ZT_GGUF_U16] = 2, [ZT_GGUF_I16] = 2,
    [ZT_GGUF_U32] = 4, [ZT_GGUF_I32] = 4, [ZT_GGUF_F32] = 4, [ZT_GGUF_BOOL] = 1,
    [ZT_GGUF_U64] = 8, [ZT_GGUF_I64] = 8, [ZT_GGUF_F64] = 8,
};

static const char *const vtype_names[ZT_GGUF_VTYPE_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

size_t zt_gguf_vtype_size(enum zt_gguf_vtype t)
{
    unsigned u = (unsigned)t;
    return u < ZT_GGUF_VTYPE_COUNT ? vtype_sizes[u] : 0;
}

const char *zt_gguf_vtype_name(enum zt_gguf_vtype t)
{
    unsigned u = (unsigned)t;
    return u < ZT_GGUF_VTYPE_COUNT ? vtype_names[u] : "unknown";
}

/* ---- parsing ------------------------------------------------------------ */

struct rd {
    const uint8_t *p;
    size_t size;
    size_t pos;
    struct zt_buf *err;
    const char *path; /* prefix for messages, or NULL */
    char ctx[320];    /* "kv 3 'general.name'" / "tensor 7 'x'": what is being parsed */
};

static void errf(struct rd *r, const char *fmt, ...) ZT_PRINTF(2, 3);
static void errf(struct rd *r, const char *fmt, ...)
{
    if (!r->err) return;
    if (r->path) zt_ignore(zt_buf_appendf(r->err, "%s: ", r->path));
    if (r->ctx[0]) zt_ignore(zt_buf_appendf(r->err, "%s: ", r->ctx));
    va_list ap;
    va_start(ap, fmt);
    zt_ignore(zt_buf_vappendf(r->err, fmt, ap));
    va_end(ap);
}

/* Quote a name from the file for a message: printable ASCII as is, other bytes
 * as \xNN, cut at 64 bytes, so a hostile name cannot forge or flood a log line. */
static void quote_name(char *out, size_t cap, const uint8_t *s, uint64_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    uint64_t n = len > 64 ? 64 : len;
    for (uint64_t i = 0; i < n && o + 5 < cap; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (n < len && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static void set_ctx(struct rd *r, const char *what, uint64_t i, const uint8_t *name, uint64_t len)
{
    char q[272];
    quote_name(q, sizeof q, name, len);
    snprintf(r->ctx, sizeof r->ctx, "%s %" PRIu64 " '%s'", what, i, q);
}

static int need(struct rd *r, uint64_t n, const char *what)
{
    if (n > r->size - r->pos) {
        errf(r, "truncated at offset %zu: %s needs %" PRIu64 " bytes, %zu left", r->pos, what, n,
             r->size - r->pos);
        return ZT_EPARSE;
    }
    return 0;
}

/* n raw bytes (a little-endian number: the format's and the host's). */
static int rd_raw(struct rd *r, void *v, size_t n, const char *what)
{
    int rc = need(r, n, what);
    if (rc) return rc;
    memcpy(v, r->p + r->pos, n);
    r->pos += n;
    return 0;
}

static int rd_u32(struct rd *r, uint32_t *v, const char *what)
{
    return rd_raw(r, v, 4, what);
}

static int rd_u64(struct rd *r, uint64_t *v, const char *what)
{
    return rd_raw(r, v, 8, what);
}

/* A GGUF string: u64 length then bytes. Sets *off to the bytes. */
static int rd_str(struct rd *r, uint64_t max, uint64_t *off, uint64_t *len, const char *what)
{
    size_t at = r->pos;
    int rc = rd_u64(r, len, what);
    if (rc) return rc;
    if (*len > max) {
        errf(r, "%s at offset %zu: length %" PRIu64 " exceeds the limit %" PRIu64, what, at, *len, max);
        return ZT_ETOOBIG;
    }
    rc = need(r, *len, what);
    if (rc) return rc;
    *off = r->pos;
    r->pos += (size_t)*len;
    return 0;
}

/* A table of n entries of elem bytes (*arr; NULL when n is 0) and its name
 * index (a power of two with at least twice n slots: load <= 1/2), in one
 * allocation that ix->slot owns: the slots, then the entries (cap * 4 is a
 * multiple of 64, so they are aligned). n is at most 1e6, so the index is
 * at most 2^21 uint32_t. */
static int table_alloc(struct name_ix *ix, uint64_t n, size_t elem, void **arr)
{
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    *arr = NULL;
    if (n > (SIZE_MAX - cap * sizeof *ix->slot) / elem) return ZT_ENOMEM;
    ix->slot = zt_calloc(1, cap * sizeof *ix->slot + (size_t)n * elem);
    if (!ix->slot) return ZT_ENOMEM;
    ix->mask = cap - 1;
    if (n) *arr = ix->slot + cap;
    return 0;
}

static int grow_str_index(struct zt_gguf *g, uint64_t more)
{
    /* more <= bytes left / 8, so the index is bounded by the file size. */
    uint64_t want = g->n_str + more;
    if (want <= g->cap_str) return 0;
    uint64_t cap = g->cap_str ? g->cap_str * 2 : 64;
    if (cap < want) cap = want;
    if (cap > SIZE_MAX / sizeof(uint64_t)) return ZT_ENOMEM;
    uint64_t *p = zt_reallocarray(g->str_off, (size_t)cap, sizeof *p);
    if (!p) return ZT_ENOMEM;
    g->str_off = p;
    g->cap_str = cap;
    return 0;
}

/* Parse (validate and skip) one value of type t. With kv non-NULL this is a
 * top-level value: record where it is. depth counts enclosing arrays. */
static int parse_value(struct rd *r, struct zt_gguf *g, uint32_t t, unsigned depth, struct kv *kv)
{
    int rc;
    if (t >= ZT_GGUF_VTYPE_COUNT) {
        errf(r, "unknown value type %" PRIu32 " at offset %zu", t, r->pos - 4);
        return ZT_EPARSE;
    }
    if (t == ZT_GGUF_STRING) {
        uint64_t off, len;
        rc = rd_str(r, ZT_GGUF_MAX_STRING, &off, &len, "string value");
        if (rc) return rc;
        if (kv) {
            kv->val_off = off;
            kv->count = len;
        }
        return 0;
    }
    if (t != ZT_GGUF_ARRAY) {
        size_t sz = vtype_sizes[t];
        rc = need(r, sz, vtype_names[t]);
        if (rc) return rc;
        if (t == ZT_GGUF_BOOL && r->p[r->pos] > 1) {
            errf(r, "bool at offset %zu is %u, not 0 or 1", r->pos, r->p[r->pos]);
            return ZT_EPARSE;
        }
        if (kv) kv->val_off = r->pos;
        r->pos += sz;
        return 0;
    }

    /* Arrays. Nesting is legal GGUF but nothing uses it; a cap keeps a
     * crafted file from exhausting the stack. */
    if (depth >= ZT_GGUF_MAX_ARRAY_DEPTH) {
        errf(r, "arrays nested deeper than %d at offset %zu", ZT_GGUF_MAX_ARRAY_DEPTH, r->pos);
        return ZT_ETOOBIG;
    }
    uint32_t et;
    uint64_t count;
    rc = rd_u32(r, &et, "array element type");
    if (rc) return rc;
    if (et >= ZT_GGUF_VTYPE_COUNT) {
        errf(r, "unknown array element type %" PRIu32 " at offset %zu", et, r->pos - 4);
        return ZT_EPARSE;
    }
    size_t at = r->pos;
    rc = rd_u64(r, &count, "array count");
    if (rc) return rc;
    uint64_t min_elem = et == ZT_GGUF_STRING ? 8 : et == ZT_GGUF_ARRAY ? ARRAY_HDR_BYTES : vtype_sizes[et];
    uint64_t min_bytes;
    if (__builtin_mul_overflow(count, min_elem, &min_bytes)) {
        errf(r, "array at offset %zu: %" PRIu64 " %s elements overflow a 64-bit size", at, count,
             vtype_names[et]);
        return ZT_ERANGE;
    }
    if (min_bytes > r->size - r->pos) {
        errf(r, "array at offset %zu: %" PRIu64 " %s elements need at least %" PRIu64
                " bytes, %zu left",
             at, count, vtype_names[et], min_bytes, r->size - r->pos);
        return ZT_EPARSE;
    }
    if (kv) {
        kv->elem_type = (uint8_t)et;
        kv->count = count;
        kv->val_off = r->pos;
    }
    if (et == ZT_GGUF_STRING) {
        if (kv) {
            rc = grow_str_index(g, count);
            if (rc) {
                errf(r, "out of memory indexing %" PRIu64 " strings", count);
                return rc;
            }
            kv->sidx = g->n_str;
        }
        for (uint64_t i = 0; i < count; i++) {
            uint64_t off, len;
            size_t start = r->pos;
            rc = rd_str(r, ZT_GGUF_MAX_STRING, &off, &len, "array string");
            if (rc) return rc;
            if (kv) g->str_off[g->n_str++] = start;
        }
    } else if (et == ZT_GGUF_ARRAY) {
        for (uint64_t i = 0; i < count; i++) {
            rc = parse_value(r, g, ZT_GGUF_ARRAY, depth + 1, NULL);
            if (rc) return rc;
        }
    } else {
        if (et == ZT_GGUF_BOOL) {
            for (uint64_t i = 0; i < count; i++) {
                if (r->p[r->pos + i] > 1) {
                    errf(r, "bool at offset %zu is %u, not 0 or 1", r->pos + (size_t)i, r->p[r->pos + i]);
                    return ZT_EPARSE;
                }
            }
        }
        r->pos += (size_t)min_bytes;
    }
    return 0;
}

static bool key_is(const struct zt_gguf *g, const struct kv *kv, const char *s, size_t n)
{
    return kv->key_len == n && memcmp(g->base + kv->key_off, s, n) == 0;
}

/* The name of the i-th kv or tensor (what): a non-empty string of at most
 * ZT_GGUF_MAX_KEY bytes, which then names the context of later errors. */
static int rd_name(struct rd *r, const char *what, uint64_t i, const char *noun, uint64_t *off, uint64_t *len)
{
    snprintf(r->ctx, sizeof r->ctx, "%s %" PRIu64, what, i);
    int rc = rd_str(r, ZT_GGUF_MAX_KEY, off, len, noun);
    if (rc) return rc;
    if (*len == 0) {
        errf(r, "empty %s at offset %zu", noun, r->pos - 8);
        return ZT_EPARSE;
    }
    set_ctx(r, what, i, r->p + *off, *len);
    return 0;
}

/* The name of kv i (a key) or of tensor i. */
static struct zt_gguf_str entry_name(const struct zt_gguf *g, bool tensor, uint32_t i)
{
    if (tensor) return g->tensors[i].name;
    return (struct zt_gguf_str){(const char *)(g->base + g->kv[i].key_off), g->kv[i].key_len};
}

/* Open addressing over the kv or tensor table (FNV-1a, linear probing):
 * the slot that holds the entry named s (n bytes), or the empty slot where
 * it would go. */
static size_t ix_probe(const struct zt_gguf *g, bool tensor, const void *s, size_t n)
{
    const struct name_ix *ix = tensor ? &g->t_ix : &g->kv_ix;
    const uint32_t *tab = ix->slot;
    size_t mask = ix->mask;
    size_t slot = (size_t)zt_fnv1a64(s, n) & mask;
    while (tab[slot]) {
        struct zt_gguf_str o = entry_name(g, tensor, tab[slot] - 1);
        if (o.len == n && memcmp(o.ptr, s, n) == 0) break;
        slot = (slot + 1) & mask;
    }
    return slot;
}

/* Index entry i, named by the len bytes at off: ZT_EEXIST (and the error)
 * when the name is taken. */
static int ix_add(struct rd *r, struct zt_gguf *g, bool tensor, uint64_t off, uint64_t len, uint64_t i)
{
    struct name_ix *ix = tensor ? &g->t_ix : &g->kv_ix;
    size_t slot = ix_probe(g, tensor, r->p + off, (size_t)len);
    if (ix->slot[slot]) {
        errf(r, "duplicate %s (first defined by %s %u)", tensor ? "tensor name" : "key", tensor ? "tensor" : "kv",
             ix->slot[slot] - 1);
        return ZT_EEXIST;
    }
    ix->slot[slot] = (uint32_t)i + 1;
    return 0;
}

/* kv i, its key (len bytes at off) read: its value. */
static int parse_kv(struct rd *r, struct zt_gguf *g, uint64_t i, uint64_t off, uint64_t len)
{
    struct kv *kv = &g->kv[i];
    kv->key_off = off;
    kv->key_len = (uint32_t)len;
    uint32_t t;
    int rc = rd_u32(r, &t, "value type");
    if (rc) return rc;
    rc = parse_value(r, g, t, 0, kv);
    if (rc) return rc;
    kv->type = (uint8_t)t;

    if (key_is(g, kv, "general.alignment", 17)) {
        uint32_t a;
        if (t != ZT_GGUF_U32) {
            errf(r, "general.alignment has type %s, must be u32", vtype_names[t]);
            return ZT_EPARSE;
        }
        memcpy(&a, g->base + kv->val_off, 4);
        if (a == 0 || (a & (a - 1)) != 0) {
            errf(r, "general.alignment %" PRIu32 " is not a power of two", a);
            return ZT_EPARSE;
        }
        g->alignment = a;
    }
    return 0;
}

/* tensor i, its name (len bytes at off) read: its shape, type and offset. */
static int parse_tensor_info(struct rd *r, struct zt_gguf *g, uint64_t i, uint64_t off, uint64_t len)
{
    struct zt_gguf_tensor *t = &g->tensors[i];
    t->name.ptr = (const char *)(r->p + off);
    t->name.len = len;
    int rc = rd_u32(r, &t->n_dims, "n_dims");
    if (rc) return rc;
    if (t->n_dims < 1 || t->n_dims > ZT_GGUF_MAX_DIMS) {
        errf(r, "n_dims %" PRIu32 " at offset %zu is not in 1..%d", t->n_dims, r->pos - 4,
             ZT_GGUF_MAX_DIMS);
        return ZT_EPARSE;
    }
    uint64_t nel = 1;
    for (uint32_t d = 0; d < ZT_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        rc = rd_u64(r, &t->ne[d], "ne");
        if (rc) return rc;
        if (t->ne[d] == 0) {
            errf(r, "ne[%" PRIu32 "] is 0", d);
            return ZT_EPARSE;
        }
        /* ggml indexes with int64_t: the element count must fit one. */
        if (__builtin_mul_overflow(nel, t->ne[d], &nel) || nel > (uint64_t)INT64_MAX) {
            errf(r, "element count overflows at ne[%" PRIu32 "] = %" PRIu64, d, t->ne[d]);
            return ZT_ERANGE;
        }
    }
    t->n_elements = nel;
    uint32_t type;
    rc = rd_u32(r, &type, "tensor type");
    if (rc) return rc;
    t->type = (enum zt_ggml_type)type;
    const struct type_traits *tt = traits(t->type);
    if (!tt) {
        errf(r, "unknown ggml tensor type %" PRIu32, type);
        return ZT_EUNSUPPORTED;
    }
    if (t->ne[0] % tt->blck != 0) {
        errf(r, "ne[0] = %" PRIu64 " is not a multiple of the %s block size %" PRIu32, t->ne[0],
             tt->name, tt->blck);
        return ZT_EPARSE;
    }
    rc = zt_ggml_nbytes(t->type, t->n_dims, t->ne, &t->size);
    if (rc) {
        errf(r, "%s data size overflows", tt->name);
        return ZT_ERANGE;
    }
    rc = rd_u64(r, &t->offset, "tensor offset");
    if (rc) return rc;
    if (t->offset % g->alignment != 0) {
        errf(r, "offset %" PRIu64 " is not a multiple of the alignment %" PRIu64, t->offset,
             g->alignment);
        return ZT_EPARSE;
    }
    return 0;
}

/* The kv table (tensor false) or the tensor table: each entry's name,
 * indexed (names are unique), then the rest of it by entry(). */
static int parse_table(struct rd *r, struct zt_gguf *g, bool tensor,
                       int (*entry)(struct rd *r, struct zt_gguf *g, uint64_t i, uint64_t off, uint64_t len))
{
    uint64_t n = tensor ? g->n_tensors : g->n_kv;
    void *arr;
    int rc = table_alloc(tensor ? &g->t_ix : &g->kv_ix, n, tensor ? sizeof *g->tensors : sizeof *g->kv, &arr);
    if (tensor) g->tensors = arr;
    else g->kv = arr;
    for (uint64_t i = 0; i < n && !rc; i++) {
        uint64_t off, len;
        rc = rd_name(r, tensor ? "tensor" : "kv", i, tensor ? "tensor name" : "key", &off, &len);
        if (!rc) rc = ix_add(r, g, tensor, off, len, i); /* probes only the entries before i */
        if (!rc) rc = entry(r, g, i, off, len);
    }
    if (!rc) r->ctx[0] = '\0';
    return rc;
}

struct span {
    uint64_t begin, end;
    uint64_t idx;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

/* Place tensors in the data section and refuse any that leave the file or
 * overlap: kernels may assume each tensor's bytes are its own. */
static int place_tensors(struct rd *r, struct zt_gguf *g)
{
    uint64_t pos = r->pos, data_off;
    if (__builtin_add_overflow(pos, g->alignment - 1, &data_off)) {
        errf(r, "data section offset overflows");
        return ZT_ERANGE;
    }
    data_off -= data_off % g->alignment;
    if (g->n_tensors == 0) {
        g->data_off = data_off < g->size ? (size_t)data_off : g->size;
        return 0;
    }
    if (data_off > g->size) {
        errf(r, "tensor data section starts at %" PRIu64 ", past the end of the file (%zu bytes)",
             data_off, g->size);
        return ZT_EPARSE;
    }
    g->data_off = (size_t)data_off;

    struct span *sp = zt_calloc((size_t)g->n_tensors, sizeof *sp);
    if (!sp) return ZT_ENOMEM;
    int rc = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct zt_gguf_tensor *t = &g->tensors[i];
        uint64_t begin, end;
        set_ctx(r, "tensor", i, (const uint8_t *)t->name.ptr, t->name.len);
        if (__builtin_add_overflow(data_off, t->offset, &begin) ||
            __builtin_add_overflow(begin, t->size, &end) || end > g->size) {
            /* offset is hostile: print offset and size, not a sum that may wrap. */
            errf(r, "data at offset %" PRIu64 " (+%" PRIu64 " bytes, data section at %zu) exceeds file size %zu",
                 t->offset, t->size, g->data_off, g->size);
            rc = ZT_EPARSE;
            goto out;
        }
        t->data = g->base + begin;
        sp[i] = (struct span){begin, end, i};
    }
    r->ctx[0] = '\0';
    qsort(sp, (size_t)g->n_tensors, sizeof *sp, span_cmp);
    for (uint64_t i = 1; i < g->n_tensors; i++) {
        if (sp[i].begin < sp[i - 1].end) {
            const struct zt_gguf_tensor *a = &g->tensors[sp[i - 1].idx], *b = &g->tensors[sp[i].idx];
            char qa[272], qb[272];
            quote_name(qa, sizeof qa, (const uint8_t *)a->name.ptr, a->name.len);
            quote_name(qb, sizeof qb, (const uint8_t *)b->name.ptr, b->name.len);
            errf(r, "tensor '%s' data [%" PRIu64 "..%" PRIu64 ") overlaps tensor '%s' at %" PRIu64, qa,
                 a->offset, a->offset + a->size, qb, b->offset);
            rc = ZT_EPARSE;
            goto out;
        }
    }
out:
    zt_free(sp);
    return rc;
}

void zt_gguf_close(struct zt_gguf *g)
{
    if (!g) return;
    zt_free(g->kv_ix.slot); /* with g->kv */
    zt_free(g->t_ix.slot);  /* with g->tensors */
    zt_free(g->str_off);
    if (g->map) munmap(g->map, g->size);
    zt_free(g);
}

static int parse(const uint8_t *p, size_t size, const char *path, struct zt_buf *err,
                 struct zt_gguf **out)
{
    struct rd r = {.p = p, .size = size, .err = err, .path = path};
    struct zt_gguf *g = NULL;
    int rc;

    if (!HOST_LITTLE_ENDIAN) {
        errf(&r, "GGUF is only supported on little-endian hosts");
        return ZT_EUNSUPPORTED;
    }
    rc = need(&r, 4, "magic");
    if (rc) goto out;
    if (memcmp(p, "GGUF", 4) != 0) {
        errf(&r, "not a GGUF file (magic %02x %02x %02x %02x)", p[0], p[1], p[2], p[3]);
        rc = ZT_EPARSE;
        goto out;
    }
    r.pos = 4;
    g = zt_calloc(1, sizeof *g);
    if (!g) {
        rc = ZT_ENOMEM;
        goto out;
    }
    g->base = p;
    g->size = size;
    g->alignment = ZT_GGUF_DEFAULT_ALIGNMENT;
    rc = rd_u32(&r, &g->version, "version");
    if (rc) goto out;
    if ((g->version & 0xffffu) == 0 && g->version != 0) {
        /* Version 2 or 3 written big-endian reads as 0x02000000/0x03000000. */
        errf(&r, "big-endian GGUF file (version field 0x%08" PRIx32 ") is not supported", g->version);
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    if (g->version == 1) {
        errf(&r, "GGUF version 1 (32-bit counts) is not supported; re-convert the model");
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    if (g->version != 2 && g->version != 3) {
        errf(&r, "GGUF version %" PRIu32 " is not supported (2 and 3 are)", g->version);
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    rc = rd_u64(&r, &g->n_tensors, "tensor count");
    if (rc) goto out;
    rc = rd_u64(&r, &g->n_kv, "kv count");
    if (rc) goto out;
    if (g->n_tensors > ZT_GGUF_MAX_TENSORS || g->n_kv > ZT_GGUF_MAX_KV) {
        errf(&r, "header claims %" PRIu64 " tensors and %" PRIu64 " KVs (limits %u and %u)",
             g->n_tensors, g->n_kv, ZT_GGUF_MAX_TENSORS, ZT_GGUF_MAX_KV);
        rc = ZT_ETOOBIG;
        goto out;
    }
    /* Both counts are <= 1e6, so this cannot overflow. */
    uint64_t min = g->n_kv * MIN_KV_BYTES + g->n_tensors * MIN_TENSOR_BYTES;
    if (min > size - r.pos) {
        errf(&r, "header claims %" PRIu64 " tensors and %" PRIu64 " KVs: they need at least %" PRIu64
                 " bytes, %zu left",
             g->n_tensors, g->n_kv, min, size - r.pos);
        rc = ZT_EPARSE;
        goto out;
    }
    rc = parse_table(&r, g, false, parse_kv);
    if (rc) goto nomem_check;
    rc = parse_table(&r, g, true, parse_tensor_info);
    if (rc) goto nomem_check;
    rc = place_tensors(&r, g);
nomem_check:
    if (rc == ZT_ENOMEM) errf(&r, "out of memory");
out:
    if (rc) {
        zt_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int zt_gguf_open_mem(const void *data, size_t len, struct zt_gguf **out, struct zt_buf *err)
{
    if (!data && len) return ZT_EINVAL;
    static const uint8_t empty[1];
    return parse(data ? data : empty, len, NULL, err, out);
}

int zt_gguf_open(const char *path, struct zt_gguf **out, struct zt_buf *err)
{
    int fd = -1, rc;
    void *map = MAP_FAILED;
    size_t size = 0;
    struct zt_gguf *g = NULL;
    struct stat st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        rc = e == ENOENT ? ZT_ENOTFOUND : e == EACCES || e == EPERM ? ZT_EPERM : ZT_EIO;
        if (err) zt_ignore(zt_buf_appendf(err, "%s: cannot open: %s", path, strerror(e)));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = ZT_EIO;
        if (err) zt_ignore(zt_buf_appendf(err, "%s: fstat: %s", path, strerror(errno)));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = ZT_EINVAL;
        if (err) zt_ignore(zt_buf_appendf(err, "%s: not a regular file", path));
        goto out;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        rc = ZT_ETOOBIG;
        if (err) zt_ignore(zt_buf_appendf(err, "%s: too large to map", path));
        goto out;
    }
    size = (size_t)st.st_size;
    if (size == 0) {
        rc = ZT_EPARSE;
        if (err) zt_ignore(zt_buf_appendf(err, "%s: empty file", path));
        goto out;
    }
    /* Private and read-only: the weights are shared with the page cache and
     * any write through a stray pointer faults instead of corrupting the file. */
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = errno == ENOMEM ? ZT_ENOMEM : ZT_EIO;
        if (err) zt_ignore(zt_buf_appendf(err, "%s: mmap: %s", path, strerror(errno)));
        goto out;
    }
    rc = parse(map, size, path, err, &g);
    if (rc) goto out;
    g->map = map;
    map = MAP_FAILED;
    *out = g;
out:
    if (map != MAP_FAILED) munmap(map, size);
    if (fd >= 0) close(fd);
    return rc;
}

/* ---- accessors ---------------------------------------------------------- */

uint32_t zt_gguf_version(const struct zt_gguf *g) { return g->version; }
uint64_t zt_gguf_alignment(const struct zt_gguf *g) { return g->alignment; }
size_t zt_gguf_file_size(const struct zt_gguf *g) { return g->size; }
size_t zt_gguf_data_offset(const struct zt_gguf *g) { return g->data_off; }
int64_t zt_gguf_n_kv(const struct zt_gguf *g) { return (int64_t)g->n_kv; }
int64_t zt_gguf_n_tensors(const struct zt_gguf *g) { return (int64_t)g->n_tensors; }

int64_t zt_gguf_find_key(const struct zt_gguf *g, const char *key)
{
    if (!g || !key) return -1;
    uint32_t e = g->kv_ix.slot[ix_probe(g, false, key, strlen(key))];
    return e ? (int64_t)e - 1 : -1;
}

static const struct kv *kv_at(const struct zt_gguf *g, int64_t i)
{
    if (!g || i < 0 || (uint64_t)i >= g->n_kv) return NULL;
    return &g->kv[i];
}

struct zt_gguf_str zt_gguf_key_name(const struct zt_gguf *g, int64_t i)
{
    const struct kv *kv = kv_at(g, i);
    if (!kv) return (struct zt_gguf_str){NULL, 0};
    return (struct zt_gguf_str){(const char *)(g->base + kv->key_off), kv->key_len};
}

enum zt_gguf_vtype zt_gguf_kv_type(const struct zt_gguf *g, int64_t i)
{
    const struct kv *kv = kv_at(g, i);
    return kv ? (enum zt_gguf_vtype)kv->type : ZT_GGUF_VTYPE_COUNT;
}

/* Scalar conversions shared by KV values and array elements. */
static int to_i64(unsigned t, const uint8_t *p, int64_t *out)
{
    switch (t) {
    case ZT_GGUF_U8: *out = p[0]; return 0;
    case ZT_GGUF_I8: { int8_t v; memcpy(&v, p, 1); *out = v; return 0; }
    case ZT_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case ZT_GGUF_I16: { int16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case ZT_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case ZT_GGUF_I32: { int32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case ZT_GGUF_I64: { int64_t v; memcpy(&v, p, 8); *out = v; return 0; }
    case ZT_GGUF_U64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > (uint64_t)INT64_MAX) return ZT_EINVAL;
        *out = (int64_t)v;
        return 0;
    }
    default: return ZT_EINVAL;
    }
}

static int to_u64(unsigned t, const uint8_t *p, uint64_t *out)
{
    if (t == ZT_GGUF_U64) {
        memcpy(out, p, 8);
        return 0;
    }
    int64_t v;
    int rc = to_i64(t, p, &v);
    if (rc) return rc;
    if (v < 0) return ZT_EINVAL;
    *out = (uint64_t)v;
    return 0;
}

static int to_f64(unsigned t, const uint8_t *p, double *out)
{
    const uint64_t exact = (uint64_t)1 << 53; /* integers a double holds exactly */
    if (t == ZT_GGUF_F32) {
        float v;
        memcpy(&v, p, 4);
        *out = v;
        return 0;
    }
    if (t == ZT_GGUF_F64) {
        memcpy(out, p, 8);
        return 0;
    }
    if (t == ZT_GGUF_U64) {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > exact) return ZT_EINVAL;
        *out = (double)v;
        return 0;
    }
    int64_t v;
    int rc = to_i64(t, p, &v);
    if (rc) return rc;
    if (v > (int64_t)exact || v < -(int64_t)exact) return ZT_EINVAL;
    *out = (double)v;
    return 0;
}

/* zt_gguf_kv_u64, _i64 and _f64: KV i's number through to_<suffix>. */
#define KV_NUMBER(suffix, T)                                               \
    int zt_gguf_kv_##suffix(const struct zt_gguf *g, int64_t i, T *out)    \
    {                                                                      \
        const struct kv *kv = kv_at(g, i);                                 \
        if (!kv) return ZT_ENOTFOUND;                                      \
        return to_##suffix(kv->type, g->base + kv->val_off, out);          \
    }
KV_NUMBER(u64, uint64_t)
KV_NUMBER(i64, int64_t)
KV_NUMBER(f64, double)
#undef KV_NUMBER

int zt_gguf_kv_bool(const struct zt_gguf *g, int64_t i, bool *out)
{
    const struct kv *kv = kv_at(g, i);
    if (!kv) return ZT_ENOTFOUND;
    if (kv->type != ZT_GGUF_BOOL) return ZT_EINVAL;
    *out = g->base[kv->val_off] != 0;
    return 0;
}

int zt_gguf_kv_str(const struct zt_gguf *g, int64_t i, struct zt_gguf_str *out)
{
    const struct kv *kv = kv_at(g, i);
    if (!kv) return ZT_ENOTFOUND;
    if (kv->type != ZT_GGUF_STRING) return ZT_EINVAL;
    *out = (struct zt_gguf_str){(const char *)(g->base + kv->val_off), kv->count};
    return 0;
}

int zt_gguf_kv_arr(const struct zt_gguf *g, int64_t i, enum zt_gguf_vtype *elem_type, uint64_t *count)
{
    const struct kv *kv = kv_at(g, i);
    if (!kv) return ZT_ENOTFOUND;
    if (kv->type != ZT_GGUF_ARRAY) return ZT_EINVAL;
    if (elem_type) *elem_type = (enum zt_gguf_vtype)kv->elem_type;
    if (count) *count = kv->count;
    return 0;
}

/* Element j of a scalar array. */
static int arr_elem(const struct zt_gguf *g, int64_t i, uint64_t j, const uint8_t **p, unsigned *t)
{
    const struct kv *kv = kv_at(g, i);
    if (!kv) return ZT_ENOTFOUND;
    if (kv->type != ZT_GGUF_ARRAY || vtype_sizes[kv->elem_type] == 0) return ZT_EINVAL;
    if (j >= kv->count) return ZT_ERANGE;
    /* j * size < count * size <= file size: no overflow. */
    *p = g->base + kv->val_off + j * vtype_sizes[kv->elem_type];
    *t = kv->elem_type;
    return 0;
}

int zt_gguf_kv_arr_f64(const struct zt_gguf *g, int64_t i, uint64_t j, double *out)
{
    const uint8_t *p;
    unsigned t;
    int rc = arr_elem(g, i, j, &p, &t);
    return rc ? rc : to_f64(t, p, out);
}

int zt_gguf_kv_arr_i64(const struct zt_gguf *g, int64_t i, uint64_t j, int64_t *out)
{
    const uint8_t *p;
    unsigned t;
    int rc = arr_elem(g, i, j, &p, &t);
    return rc ? rc : to_i64(t, p, out);
}

int zt_gguf_kv_arr_str(const struct zt_gguf *g, int64_t i, uint64_t j, struct zt_gguf_str *out)
{
    const struct kv *kv = kv_at(g, i);
    if (!kv) return ZT_ENOTFOUND;
    if (kv->type != ZT_GGUF_ARRAY || kv->elem_type != ZT_GGUF_STRING) return ZT_EINVAL;
    if (j >= kv->count) return ZT_ERANGE;
    uint64_t off = g->str_off[kv->sidx + j], len;
    memcpy(&len, g->base + off, 8);
    *out = (struct zt_gguf_str){(const char *)(g->base + off + 8), len};
    return 0;
}

const void *zt_gguf_kv_arr_data(const struct zt_gguf *g, int64_t i)
{
    const struct kv *kv = kv_at(g, i);
    if (!kv || kv->type != ZT_GGUF_ARRAY || vtype_sizes[kv->elem_type] == 0) return NULL;
    return g->base + kv->val_off;
}

int zt_gguf_get_u64(const struct zt_gguf *g, const char *key, uint64_t *out)
{
    return zt_gguf_kv_u64(g, zt_gguf_find_key(g, key), out);
}

int zt_gguf_get_i64(const struct zt_gguf *g, const char *key, int64_t *out)
{
    return zt_gguf_kv_i64(g, zt_gguf_find_key(g, key), out);
}

int zt_gguf_get_f64(const struct zt_gguf *g, const char *key, double *out)
{
    return zt_gguf_kv_f64(g, zt_gguf_find_key(g, key), out);
}

int zt_gguf_get_bool(const struct zt_gguf *g, const char *key, bool *out)
{
    return zt_gguf_kv_bool(g, zt_gguf_find_key(g, key), out);
}

int zt_gguf_get_str(const struct zt_gguf *g, const char *key, struct zt_gguf_str *out)
{
    return zt_gguf_kv_str(g, zt_gguf_find_key(g, key), out);
}

int zt_gguf_get_arr(const struct zt_gguf *g, const char *key, enum zt_gguf_vtype *elem_type,
                    uint64_t *count)
{
    return zt_gguf_kv_arr(g, zt_gguf_find_key(g, key), elem_type, count);
}

int zt_gguf_arr_str(const struct zt_gguf *g, const char *key, uint64_t i, struct zt_gguf_str *out)
{
    return zt_gguf_kv_arr_str(g, zt_gguf_find_key(g, key), i, out);
}

int zt_gguf_arr_f64(const struct zt_gguf *g, const char *key, uint64_t i, double *out)
{
    return zt_gguf_kv_arr_f64(g, zt_gguf_find_key(g, key), i, out);
}

int zt_gguf_arr_i64(const struct zt_gguf *g, const char *key, uint64_t i, int64_t *out)
{
    return zt_gguf_kv_arr_i64(g, zt_gguf_find_key(g, key), i, out);
}

const void *zt_gguf_arr_data(const struct zt_gguf *g, const char *key)
{
    return zt_gguf_kv_arr_data(g, zt_gguf_find_key(g, key));
}

const struct zt_gguf_tensor *zt_gguf_tensor(const struct zt_gguf *g, int64_t i)
{
    if (!g || i < 0 || (uint64_t)i >= g->n_tensors) return NULL;
    return &g->tensors[i];
}

const struct zt_gguf_tensor *zt_gguf_find_tensor(const struct zt_gguf *g, const char *name)
{
    if (!g || !name) return NULL;
    uint32_t e = g->t_ix.slot[ix_probe(g, true, name, strlen(name))];
    return e ? &g->tensors[e - 1] : NULL;
}
