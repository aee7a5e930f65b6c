/* gguf_write.c: GGUF writer (version 3, or 2 on request). See zt_gguf.h.
 *
 * Used to generate test models and seed corpora, and later by the quantizer.
 * KVs are serialised into one byte buffer as they are added (the on-disk
 * encoding is final at that point); tensors keep a pointer to their data
 * (owned copy or caller's reference) and are laid out only at write time,
 * once the alignment is known. The file is written next to its destination
 * and renamed over it, so a reader never sees a half-written model. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gguf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#define HOST_LITTLE_ENDIAN 0
#else
#define HOST_LITTLE_ENDIAN 1
#endif

/* Metadata larger than this is surely a bug (real files: under 10 MiB). */
#define MAX_META_BYTES ((size_t)4 << 30)

struct wtensor {
    char *name;
    size_t name_len;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[ZT_GGUF_MAX_DIMS];
    const void *data; /* NULL: zeros */
    void *owned;      /* our copy, or NULL */
    uint64_t size;
    uint64_t offset;  /* from the data section, set at write time */
};

struct zt_gguf_writer {
    uint32_t version;
    uint32_t alignment;
    struct zt_buf kv;  /* serialised KVs, in order */
    char **keys;       /* for duplicate detection */
    size_t n_kv, cap_kv;
    struct wtensor *t;
    size_t n_t, cap_t;
};

int zt_gguf_writer_new(struct zt_gguf_writer **out)
{
    if (!HOST_LITTLE_ENDIAN) return ZT_EUNSUPPORTED;
    struct zt_gguf_writer *w = zt_calloc(1, sizeof *w);
    if (!w) return ZT_ENOMEM;
    w->version = 3;
    w->alignment = ZT_GGUF_DEFAULT_ALIGNMENT;
    zt_buf_init(&w->kv, MAX_META_BYTES);
    *out = w;
    return 0;
}

void zt_gguf_writer_free(struct zt_gguf_writer *w)
{
    if (!w) return;
    zt_buf_deinit(&w->kv);
    for (size_t i = 0; i < w->n_kv; i++) zt_free(w->keys[i]);
    zt_free(w->keys);
    for (size_t i = 0; i < w->n_t; i++) {
        zt_free(w->t[i].name);
        zt_free(w->t[i].owned);
    }
    zt_free(w->t);
    zt_free(w);
}

int zt_gguf_writer_set_version(struct zt_gguf_writer *w, uint32_t version)
{
    if (version != 2 && version != 3) return ZT_EINVAL;
    w->version = version;
    return 0;
}

static int check_name(const char *s, size_t *len)
{
    if (!s) return ZT_EINVAL;
    size_t n = strnlen(s, (size_t)ZT_GGUF_MAX_KEY + 1);
    if (n == 0 || n > ZT_GGUF_MAX_KEY) return ZT_EINVAL;
    *len = n;
    return 0;
}

/* Start a KV: validate and reserve the key. The value is appended by the
 * caller; kv_end() commits or rolls everything back. */
static int kv_begin(struct zt_gguf_writer *w, const char *key, uint32_t type, size_t *mark)
{
    size_t klen;
    int rc = check_name(key, &klen);
    if (rc) return rc;
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) return ZT_EEXIST;
    if (w->n_kv >= ZT_GGUF_MAX_KV) return ZT_ETOOBIG;
    char **k = zt_array_grow(w->keys, &w->cap_kv, w->n_kv + 1, sizeof *k, 16);
    if (!k) return ZT_ENOMEM;
    w->keys = k;
    *mark = w->kv.len;
    uint64_t len64 = klen;
    if ((rc = zt_buf_append(&w->kv, &len64, 8)) != 0 || (rc = zt_buf_append(&w->kv, key, klen)) != 0 ||
        (rc = zt_buf_append(&w->kv, &type, 4)) != 0) {
        w->kv.len = *mark;
        return rc;
    }
    return 0;
}

static int kv_end(struct zt_gguf_writer *w, const char *key, size_t mark, int rc)
{
    if (rc == 0) {
        char *k = zt_strdup(key);
        if (k) {
            w->keys[w->n_kv++] = k;
            return 0;
        }
        rc = ZT_ENOMEM;
    }
    w->kv.len = mark; /* drop the partial entry */
    if (w->kv.data) w->kv.data[mark] = '\0';
    return rc;
}

static int add_scalar(struct zt_gguf_writer *w, const char *key, uint32_t type, const void *v)
{
    if (strcmp(key ? key : "", "general.alignment") == 0) {
        /* The reader refuses anything else; refuse it here first. */
        uint32_t a;
        if (type != ZT_GGUF_U32) return ZT_EINVAL;
        memcpy(&a, v, 4);
        if (a == 0 || (a & (a - 1)) != 0) return ZT_EINVAL;
    }
    size_t mark;
    int rc = kv_begin(w, key, type, &mark);
    if (rc) return rc;
    rc = kv_end(w, key, mark, zt_buf_append(&w->kv, v, zt_gguf_vtype_size((enum zt_gguf_vtype)type)));
    if (rc == 0 && type == ZT_GGUF_U32 && strcmp(key, "general.alignment") == 0) memcpy(&w->alignment, v, 4);
    return rc;
}

int zt_gguf_writer_add_u8(struct zt_gguf_writer *w, const char *key, uint8_t v) { return add_scalar(w, key, ZT_GGUF_U8, &v); }
int zt_gguf_writer_add_i8(struct zt_gguf_writer *w, const char *key, int8_t v) { return add_scalar(w, key, ZT_GGUF_I8, &v); }
int zt_gguf_writer_add_u16(struct zt_gguf_writer *w, const char *key, uint16_t v) { return add_scalar(w, key, ZT_GGUF_U16, &v); }
int zt_gguf_writer_add_i16(struct zt_gguf_writer *w, const char *key, int16_t v) { return add_scalar(w, key, ZT_GGUF_I16, &v); }
int zt_gguf_writer_add_u32(struct zt_gguf_writer *w, const char *key, uint32_t v) { return add_scalar(w, key, ZT_GGUF_U32, &v); }
int zt_gguf_writer_add_i32(struct zt_gguf_writer *w, const char *key, int32_t v) { return add_scalar(w, key, ZT_GGUF_I32, &v); }
int zt_gguf_writer_add_u64(struct zt_gguf_writer *w, const char *key, uint64_t v) { return add_scalar(w, key, ZT_GGUF_U64, &v); }
int zt_gguf_writer_add_i64(struct zt_gguf_writer *w, const char *key, int64_t v) { return add_scalar(w, key, ZT_GGUF_I64, &v); }
int zt_gguf_writer_add_f32(struct zt_gguf_writer *w, const char *key, float v) { return add_scalar(w, key, ZT_GGUF_F32, &v); }
int zt_gguf_writer_add_f64(struct zt_gguf_writer *w, const char *key, double v) { return add_scalar(w, key, ZT_GGUF_F64, &v); }

int zt_gguf_writer_add_bool(struct zt_gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return add_scalar(w, key, ZT_GGUF_BOOL, &b);
}

static int append_str(struct zt_buf *b, const char *s, size_t len)
{
    uint64_t len64 = len;
    int rc = zt_buf_append(b, &len64, 8);
    return rc ? rc : zt_buf_append(b, s, len);
}

int zt_gguf_writer_add_str(struct zt_gguf_writer *w, const char *key, const char *s, size_t len)
{
    if ((!s && len) || len > ZT_GGUF_MAX_STRING) return ZT_EINVAL;
    if (key && strcmp(key, "general.alignment") == 0) return ZT_EINVAL;
    size_t mark;
    int rc = kv_begin(w, key, ZT_GGUF_STRING, &mark);
    if (rc) return rc;
    return kv_end(w, key, mark, append_str(&w->kv, s ? s : "", len));
}

int zt_gguf_writer_add_arr(struct zt_gguf_writer *w, const char *key, enum zt_gguf_vtype elem_type,
                           const void *data, size_t count)
{
    size_t esz = zt_gguf_vtype_size(elem_type), bytes;
    if (esz == 0 || (!data && count)) return ZT_EINVAL;
    if (zt_mul_size(count, esz, &bytes) != 0) return ZT_ERANGE;
    if (elem_type == ZT_GGUF_BOOL)
        for (size_t i = 0; i < count; i++)
            if (((const uint8_t *)data)[i] > 1) return ZT_EINVAL;
    if (key && strcmp(key, "general.alignment") == 0) return ZT_EINVAL;
    size_t mark;
    int rc = kv_begin(w, key, ZT_GGUF_ARRAY, &mark);
    if (rc) return rc;
    uint32_t et = (uint32_t)elem_type;
    uint64_t n = count;
    if ((rc = zt_buf_append(&w->kv, &et, 4)) == 0 && (rc = zt_buf_append(&w->kv, &n, 8)) == 0)
        rc = zt_buf_append(&w->kv, data ? data : "", bytes);
    return kv_end(w, key, mark, rc);
}

int zt_gguf_writer_add_arr_str(struct zt_gguf_writer *w, const char *key, const char *const *strs,
                               const size_t *lens, size_t count)
{
    if (!strs && count) return ZT_EINVAL;
    for (size_t i = 0; i < count; i++) {
        if (!strs[i] && (!lens || lens[i])) return ZT_EINVAL;
        if (lens && lens[i] > ZT_GGUF_MAX_STRING) return ZT_EINVAL;
    }
    if (key && strcmp(key, "general.alignment") == 0) return ZT_EINVAL;
    size_t mark;
    int rc = kv_begin(w, key, ZT_GGUF_ARRAY, &mark);
    if (rc) return rc;
    uint32_t et = ZT_GGUF_STRING;
    uint64_t n = count;
    if ((rc = zt_buf_append(&w->kv, &et, 4)) == 0) rc = zt_buf_append(&w->kv, &n, 8);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const char *s = strs[i] ? strs[i] : "";
        rc = append_str(&w->kv, s, lens ? lens[i] : strlen(s));
    }
    return kv_end(w, key, mark, rc);
}

static int add_tensor(struct zt_gguf_writer *w, const char *name, enum zt_ggml_type type,
                      uint32_t n_dims, const uint64_t *ne, const void *data, size_t size, bool copy)
{
    size_t nlen;
    uint64_t want;
    int rc = check_name(name, &nlen);
    if (rc) return rc;
    if (!ne || zt_ggml_nbytes(type, n_dims, ne, &want) != 0 || want != size) return ZT_EINVAL;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) return ZT_EEXIST;
    if (w->n_t >= ZT_GGUF_MAX_TENSORS) return ZT_ETOOBIG;
    struct wtensor *grown = zt_array_grow(w->t, &w->cap_t, w->n_t + 1, sizeof *grown, 16);
    if (!grown) return ZT_ENOMEM;
    w->t = grown;
    struct wtensor t = {.name_len = nlen, .type = (uint32_t)type, .n_dims = n_dims, .size = size};
    for (uint32_t i = 0; i < ZT_GGUF_MAX_DIMS; i++) t.ne[i] = i < n_dims ? ne[i] : 1;
    t.name = zt_strdup(name);
    if (!t.name) return ZT_ENOMEM;
    if (data && copy) {
        t.owned = zt_malloc(size);
        if (!t.owned) {
            zt_free(t.name);
            return ZT_ENOMEM;
        }
        memcpy(t.owned, data, size);
        t.data = t.owned;
    } else {
        t.data = data;
    }
    w->t[w->n_t++] = t;
    return 0;
}

int zt_gguf_writer_add_tensor(struct zt_gguf_writer *w, const char *name, enum zt_ggml_type type,
                              uint32_t n_dims, const uint64_t *ne, const void *data, size_t size)
{
    return add_tensor(w, name, type, n_dims, ne, data, size, true);
}

int zt_gguf_writer_add_tensor_ref(struct zt_gguf_writer *w, const char *name, enum zt_ggml_type type,
                                  uint32_t n_dims, const uint64_t *ne, const void *data, size_t size)
{
    return add_tensor(w, name, type, n_dims, ne, data, size, false);
}

/* ---- output ------------------------------------------------------------- */

/* Where bytes go: a stdio stream or a preallocated buffer of exact size. */
struct sink {
    FILE *f;
    uint8_t *mem;
    uint64_t pos, cap;
};

static int emit(struct sink *s, const void *p, size_t n)
{
    if (n == 0) return 0;
    if (s->f) {
        if (fwrite(p, 1, n, s->f) != n) return ZT_EIO;
    } else {
        if (n > s->cap - s->pos) return ZT_ERANGE; /* layout and size disagree: a bug */
        memcpy(s->mem + s->pos, p, n);
    }
    s->pos += n;
    return 0;
}

static int emit_zeros(struct sink *s, uint64_t n)
{
    static const uint8_t zeros[4096];
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        int rc = emit(s, zeros, k);
        if (rc) return rc;
        n -= k;
    }
    return 0;
}

static uint64_t pad_to(uint64_t x, uint64_t a) { return (a - x % a) % a; }

/* Lay the tensors out and compute the file size. */
static int layout(struct zt_gguf_writer *w, uint64_t *total)
{
    uint64_t n = 24 + (uint64_t)w->kv.len, off = 0;
    for (size_t i = 0; i < w->n_t; i++) n += 8 + w->t[i].name_len + 4 + 8ull * w->t[i].n_dims + 4 + 8;
    n += pad_to(n, w->alignment);
    for (size_t i = 0; i < w->n_t; i++) {
        struct wtensor *t = &w->t[i];
        t->offset = off;
        if (__builtin_add_overflow(off, t->size, &off) ||
            __builtin_add_overflow(off, pad_to(off, w->alignment), &off))
            return ZT_ERANGE;
    }
    if (__builtin_add_overflow(n, off, total)) return ZT_ERANGE;
    return 0;
}

static int serialise(struct zt_gguf_writer *w, struct sink *s)
{
    uint64_t nt = w->n_t, nkv = w->n_kv;
    int rc;
    if ((rc = emit(s, "GGUF", 4)) || (rc = emit(s, &w->version, 4)) || (rc = emit(s, &nt, 8)) ||
        (rc = emit(s, &nkv, 8)) || (rc = emit(s, w->kv.data, w->kv.len)))
        return rc;
    for (size_t i = 0; i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        uint64_t nl = t->name_len;
        if ((rc = emit(s, &nl, 8)) || (rc = emit(s, t->name, t->name_len)) ||
            (rc = emit(s, &t->n_dims, 4)) || (rc = emit(s, t->ne, 8u * t->n_dims)) ||
            (rc = emit(s, &t->type, 4)) || (rc = emit(s, &t->offset, 8)))
            return rc;
    }
    if ((rc = emit_zeros(s, pad_to(s->pos, w->alignment)))) return rc;
    for (size_t i = 0; i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        rc = t->data ? emit(s, t->data, (size_t)t->size) : emit_zeros(s, t->size);
        if (rc) return rc;
        if ((rc = emit_zeros(s, pad_to(t->size, w->alignment)))) return rc;
    }
    return 0;
}

int zt_gguf_writer_to_mem(struct zt_gguf_writer *w, void **out, size_t *len, struct zt_buf *err)
{
    uint64_t total;
    int rc = layout(w, &total);
    if (rc == 0 && total > SIZE_MAX) rc = ZT_ETOOBIG;
    if (rc) {
        if (err) zt_ignore(zt_buf_appendf(err, "gguf writer: file size overflows"));
        return rc;
    }
    struct sink s = {.mem = zt_malloc((size_t)total), .cap = total};
    if (!s.mem) return ZT_ENOMEM;
    rc = serialise(w, &s);
    if (rc == 0 && s.pos != total) rc = ZT_ERANGE;
    if (rc) {
        zt_free(s.mem);
        return rc;
    }
    *out = s.mem;
    *len = (size_t)total;
    return 0;
}

/* fsync the directory holding path so the rename itself is durable. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? zt_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : zt_strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    zt_free(dir);
}

int zt_gguf_writer_write(struct zt_gguf_writer *w, const char *path, struct zt_buf *err)
{
    char *tmp = NULL;
    int fd = -1, rc;
    FILE *f = NULL;
    uint64_t total;
    const char *what = "layout";

    rc = layout(w, &total);
    if (rc) goto out;
    size_t n = strlen(path) + sizeof ".tmp.XXXXXX";
    tmp = zt_malloc(n);
    if (!tmp) {
        rc = ZT_ENOMEM;
        goto out;
    }
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    what = "create temporary file";
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = errno == ENOENT ? ZT_ENOTFOUND : errno == EACCES ? ZT_EPERM : ZT_EIO;
        zt_free(tmp);
        tmp = NULL; /* nothing to unlink */
        goto out;
    }
    (void)fchmod(fd, 0644); /* mkstemp's 0600 would hide the model from the node's user */
    what = "write";
    f = fdopen(fd, "wb");
    if (!f) {
        rc = ZT_EIO;
        goto out;
    }
    fd = -1; /* owned by f now */
    struct sink s = {.f = f};
    rc = serialise(w, &s);
    if (rc) goto out;
    if (fflush(f) != 0) {
        rc = ZT_EIO;
        goto out;
    }
    what = "fsync";
    if (fsync(fileno(f)) != 0) {
        rc = ZT_EIO;
        goto out;
    }
    what = "close";
    int crc = fclose(f);
    f = NULL;
    if (crc != 0) {
        rc = ZT_EIO;
        goto out;
    }
    what = "rename";
    if (rename(tmp, path) != 0) {
        rc = ZT_EIO;
        goto out;
    }
    zt_free(tmp);
    tmp = NULL;
    sync_dir(path);
out:
    if (rc && err) {
        int e = errno;
        zt_ignore(zt_buf_appendf(err, "%s: gguf writer: %s failed: %s", path, what,
                                 rc == ZT_EIO || rc == ZT_ENOTFOUND || rc == ZT_EPERM ? strerror(e)
                                                                                       : zt_strerror(rc)));
    }
    if (f) fclose(f);
    if (fd >= 0) close(fd);
    if (tmp) {
        unlink(tmp);
        zt_free(tmp);
    }
    return rc;
}
