/* fuzz/gguf.c: the GGUF reader (zt_gguf_open_mem) on arbitrary bytes.
 *
 * Beyond "no crash": every KV, array element and tensor byte of a file that
 * opens is touched (so ASan checks every pointer the reader hands out
 * against the input buffer), lookups by name find the same index, and a file
 * that opens is re-written with the writer and must re-open with the same
 * tables. Nothing may leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ELEMS 4096 /* array elements visited per KV: keeps each run fast */

static volatile uint8_t sink;

static void touch(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    uint8_t x = 0;
    for (uint64_t i = 0; i < n; i++) x ^= b[i];
    sink ^= x;
}

/* A NUL-terminated copy of s, or NULL when s holds a NUL (not addressable by
 * the C-string lookups) or the copy fails. */
static char *cstr(struct zt_gguf_str s)
{
    if (memchr(s.ptr, 0, (size_t)s.len)) return NULL;
    return zt_strndup(s.ptr, (size_t)s.len);
}

/* Re-add KV i of g to w. Returns 1 if it cannot be represented (nested array,
 * key with a NUL), 0 on success, -1 on an unexpected writer error. */
static int copy_kv(const struct zt_gguf *g, int64_t i, struct zt_gguf_writer *w)
{
    char *key = cstr(zt_gguf_key_name(g, i));
    if (!key) return 1;
    enum zt_gguf_vtype t = zt_gguf_kv_type(g, i), et;
    struct zt_gguf_str s;
    uint64_t count;
    int rc = 0;
    switch (t) {
    case ZT_GGUF_STRING:
        if (zt_gguf_kv_str(g, i, &s)) abort();
        rc = zt_gguf_writer_add_str(w, key, s.ptr, (size_t)s.len);
        break;
    case ZT_GGUF_ARRAY:
        if (zt_gguf_kv_arr(g, i, &et, &count)) abort();
        if (et == ZT_GGUF_ARRAY) {
            rc = 1;
        } else if (et == ZT_GGUF_STRING) {
            const char **strs = zt_calloc(count ? (size_t)count : 1, sizeof *strs);
            size_t *lens = zt_calloc(count ? (size_t)count : 1, sizeof *lens);
            if (!strs || !lens) abort();
            for (uint64_t j = 0; j < count; j++) {
                if (zt_gguf_kv_arr_str(g, i, j, &s)) abort();
                strs[j] = s.ptr;
                lens[j] = (size_t)s.len;
            }
            rc = zt_gguf_writer_add_arr_str(w, key, strs, lens, (size_t)count);
            zt_free(strs);
            zt_free(lens);
        } else {
            rc = zt_gguf_writer_add_arr(w, key, et, zt_gguf_kv_arr_data(g, i), (size_t)count);
        }
        break;
    default: {
        /* Scalars: add by type; the reader's raw bytes are at a known place
         * only through the typed getters, so go through them. */
        uint64_t u;
        int64_t v;
        double d;
        bool b;
        switch (t) {
        case ZT_GGUF_U8: if (zt_gguf_kv_u64(g, i, &u)) abort(); rc = zt_gguf_writer_add_u8(w, key, (uint8_t)u); break;
        case ZT_GGUF_I8: if (zt_gguf_kv_i64(g, i, &v)) abort(); rc = zt_gguf_writer_add_i8(w, key, (int8_t)v); break;
        case ZT_GGUF_U16: if (zt_gguf_kv_u64(g, i, &u)) abort(); rc = zt_gguf_writer_add_u16(w, key, (uint16_t)u); break;
        case ZT_GGUF_I16: if (zt_gguf_kv_i64(g, i, &v)) abort(); rc = zt_gguf_writer_add_i16(w, key, (int16_t)v); break;
        case ZT_GGUF_U32: if (zt_gguf_kv_u64(g, i, &u)) abort(); rc = zt_gguf_writer_add_u32(w, key, (uint32_t)u); break;
        case ZT_GGUF_I32: if (zt_gguf_kv_i64(g, i, &v)) abort(); rc = zt_gguf_writer_add_i32(w, key, (int32_t)v); break;
        case ZT_GGUF_U64: if (zt_gguf_kv_u64(g, i, &u)) abort(); rc = zt_gguf_writer_add_u64(w, key, u); break;
        case ZT_GGUF_I64: if (zt_gguf_kv_i64(g, i, &v)) abort(); rc = zt_gguf_writer_add_i64(w, key, v); break;
        case ZT_GGUF_F32: if (zt_gguf_kv_f64(g, i, &d)) abort(); rc = zt_gguf_writer_add_f32(w, key, (float)d); break;
        case ZT_GGUF_F64: if (zt_gguf_kv_f64(g, i, &d)) abort(); rc = zt_gguf_writer_add_f64(w, key, d); break;
        case ZT_GGUF_BOOL: if (zt_gguf_kv_bool(g, i, &b)) abort(); rc = zt_gguf_writer_add_bool(w, key, b); break;
        default: abort();
        }
    }
    }
    zt_free(key);
    return rc > 0 ? 1 : rc == 0 ? 0 : -1;
}

static void walk(const struct zt_gguf *g)
{
    int64_t n_kv = zt_gguf_n_kv(g), n_t = zt_gguf_n_tensors(g);
    for (int64_t i = 0; i < n_kv; i++) {
        struct zt_gguf_str k = zt_gguf_key_name(g, i), s;
        if (!k.ptr || k.len == 0) abort();
        touch(k.ptr, k.len);
        char *key = cstr(k);
        if (key) {
            if (zt_gguf_find_key(g, key) != i) abort(); /* keys are unique */
            zt_free(key);
        }
        enum zt_gguf_vtype t = zt_gguf_kv_type(g, i), et;
        uint64_t u, count;
        int64_t v;
        double d;
        bool b;
        zt_ignore(zt_gguf_kv_u64(g, i, &u));
        zt_ignore(zt_gguf_kv_i64(g, i, &v));
        zt_ignore(zt_gguf_kv_f64(g, i, &d));
        zt_ignore(zt_gguf_kv_bool(g, i, &b));
        if (t == ZT_GGUF_STRING) {
            if (zt_gguf_kv_str(g, i, &s)) abort();
            touch(s.ptr, s.len);
        }
        if (t != ZT_GGUF_ARRAY) {
            if (zt_gguf_kv_arr(g, i, &et, &count) != ZT_EINVAL) abort();
            continue;
        }
        if (zt_gguf_kv_arr(g, i, &et, &count)) abort();
        const void *raw = zt_gguf_kv_arr_data(g, i);
        if (raw) touch(raw, count * zt_gguf_vtype_size(et));
        for (uint64_t j = 0; j < count && j < MAX_ELEMS; j++) {
            if (et == ZT_GGUF_STRING) {
                if (zt_gguf_kv_arr_str(g, i, j, &s)) abort();
                touch(s.ptr, s.len);
            } else {
                zt_ignore(zt_gguf_kv_arr_f64(g, i, j, &d));
                zt_ignore(zt_gguf_kv_arr_i64(g, i, j, &v));
            }
        }
        if (zt_gguf_kv_arr_i64(g, i, count, &v) == 0) abort(); /* one past the end */
    }
    if (zt_gguf_key_name(g, n_kv).ptr) abort();

    for (int64_t i = 0; i < n_t; i++) {
        const struct zt_gguf_tensor *t = zt_gguf_tensor(g, i);
        if (!t || t->size == 0 || t->n_dims < 1 || t->n_dims > ZT_GGUF_MAX_DIMS) abort();
        if (zt_ggml_type_size(t->type) == 0) abort();
        touch(t->name.ptr, t->name.len);
        touch(t->data, t->size);
        char *name = cstr(t->name);
        if (name) {
            if (zt_gguf_find_tensor(g, name) != t) abort();
            zt_free(name);
        }
    }
    if (zt_gguf_tensor(g, n_t)) abort();
}

/* Writer round trip: what the reader accepts, the writer must reproduce. */
static void rewrite(const struct zt_gguf *g)
{
    struct zt_gguf_writer *w = NULL;
    void *mem = NULL;
    size_t len = 0;
    struct zt_gguf *g2 = NULL;
    if (zt_gguf_writer_new(&w)) abort();
    if (zt_gguf_writer_set_version(w, zt_gguf_version(g))) abort();
    for (int64_t i = 0; i < zt_gguf_n_kv(g); i++) {
        int rc = copy_kv(g, i, w);
        if (rc < 0) abort();
        if (rc > 0) goto out; /* not representable: skip the round trip */
    }
    for (int64_t i = 0; i < zt_gguf_n_tensors(g); i++) {
        const struct zt_gguf_tensor *t = zt_gguf_tensor(g, i);
        char *name = cstr(t->name);
        if (!name) goto out;
        int rc = zt_gguf_writer_add_tensor_ref(w, name, t->type, t->n_dims, t->ne, t->data, (size_t)t->size);
        zt_free(name);
        if (rc) abort();
    }
    if (zt_gguf_writer_to_mem(w, &mem, &len, NULL)) abort();
    if (zt_gguf_open_mem(mem, len, &g2, NULL)) abort();
    if (zt_gguf_n_kv(g2) != zt_gguf_n_kv(g) || zt_gguf_n_tensors(g2) != zt_gguf_n_tensors(g) ||
        zt_gguf_alignment(g2) != zt_gguf_alignment(g))
        abort();
    for (int64_t i = 0; i < zt_gguf_n_tensors(g); i++) {
        const struct zt_gguf_tensor *a = zt_gguf_tensor(g, i), *b = zt_gguf_tensor(g2, i);
        if (a->size != b->size || a->type != b->type || memcmp(a->ne, b->ne, sizeof a->ne) != 0 ||
            memcmp(a->data, b->data, (size_t)a->size) != 0)
            abort();
    }
    zt_gguf_close(g2);
out:
    zt_free(mem);
    zt_gguf_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t live = zt_alloc_live();
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    struct zt_gguf *g = NULL;
    int rc = zt_gguf_open_mem(data, size, &g, &err);
    if (rc == 0) {
        walk(g);
        rewrite(g);
        zt_gguf_close(g);
    } else if (err.len == 0 && rc != ZT_ENOMEM) {
        abort(); /* every rejection says why */
    }
    zt_buf_deinit(&err);
    if (zt_alloc_live() != live) abort();
    return 0;
}
