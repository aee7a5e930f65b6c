/* test_gguf.c: the GGUF reader and writer (src/engine/gguf.c, gguf_write.c).
 *
 * Real files from tests/models (a counted skip if absent), a writer ->
 * reader round trip of every value and tensor type, hand-built v2 files, and
 * one hand-built malformed file per check the reader makes, each of which
 * must give its specific error and message without crashing or leaking.
 * Malformed inputs are copied into exactly-sized heap buffers so ASan sees
 * any read past the end.
 *
 * With ZT_GGUF_WRITE_CORPUS=DIR set, test_write_corpus writes the fuzz seed
 * corpus (fuzz/corpus/gguf) into DIR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"

/* Path of a shared test model, or NULL (and a printed reason) when absent. */
static const char *model_path(char *buf, size_t cap, const char *name)
{
    if (!zt_test_model(name, buf, cap)) {
        zt_skip_part("test model %s not found", buf);
        return NULL;
    }
    return buf;
}

static bool str_eq(struct zt_gguf_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* ---- a byte builder for hand-made files ---------------------------------- */

static struct {
    uint8_t p[1 << 16];
    size_t len;
} B;

static void b_reset(void) { B.len = 0; }

static void b_bytes(const void *p, size_t n)
{
    assert_true(n <= sizeof B.p - B.len);
    memcpy(B.p + B.len, p, n);
    B.len += n;
}

static void b_u32(uint32_t v) { b_bytes(&v, 4); }
static void b_u64(uint64_t v) { b_bytes(&v, 8); }

static void b_str(const char *s)
{
    b_u64(strlen(s));
    b_bytes(s, strlen(s));
}

static void b_hdr(uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    b_reset();
    b_bytes("GGUF", 4);
    b_u32(version);
    b_u64(n_tensors);
    b_u64(n_kv);
}

static void b_kv_u32(const char *key, uint32_t v)
{
    b_str(key);
    b_u32(ZT_GGUF_U32);
    b_u32(v);
}

static void b_tensor(const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off)
{
    b_str(name);
    b_u32(n_dims);
    for (uint32_t i = 0; i < n_dims; i++) b_u64(ne[i]);
    b_u32(type);
    b_u64(off);
}

static void b_zeros(size_t n)
{
    static const uint8_t z[4096];
    while (n) {
        size_t k = n < sizeof z ? n : sizeof z;
        b_bytes(z, k);
        n -= k;
    }
}

static void b_pad(size_t a) { b_zeros((a - B.len % a) % a); }

/* Open p[0..len) from an exactly-sized heap copy. */
static int open_copy(const void *p, size_t len, struct zt_gguf **g, struct zt_buf *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len) memcpy(copy, p, len);
    int rc = zt_gguf_open_mem(copy, len, g, err);
    if (rc == 0) {
        /* The handle points into the buffer: keep it until close. Tests that
         * get here close at once. */
        zt_gguf_close(*g);
        *g = NULL;
    }
    free(copy);
    return rc;
}

/* The file in B must fail with `want` and a message containing needle. */
static void expect_err_at(int want, const char *needle, int line)
{
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    struct zt_gguf *g = NULL;
    int rc = open_copy(B.p, B.len, &g, &err);
    if (rc != want || !strstr(zt_buf_str(&err), needle))
        print_message("line %d: want %d '%s', got %d '%s'\n", line, want, needle, rc, zt_buf_str(&err));
    assert_int_equal(rc, want);
    assert_non_null(strstr(zt_buf_str(&err), needle));
    assert_null(g);
    zt_buf_deinit(&err);
}
#define expect_err(want, needle) expect_err_at(want, needle, __LINE__)

/* The file in B must open; it is opened over B itself (valid until next b_*). */
static struct zt_gguf *expect_ok(void)
{
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    struct zt_gguf *g = NULL;
    int rc = zt_gguf_open_mem(B.p, B.len, &g, &err);
    if (rc) print_message("unexpected error %d: %s\n", rc, zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_buf_deinit(&err);
    return g;
}

/* ---- type traits ---------------------------------------------------------- */

static void test_type_traits(void **state)
{
    (void)state;
    static const struct {
        enum zt_ggml_type t;
        const char *name;
        uint32_t blck, size;
    } want[] = {
        {ZT_GGML_F32, "F32", 1, 4},      {ZT_GGML_F16, "F16", 1, 2},
        {ZT_GGML_BF16, "BF16", 1, 2},    {ZT_GGML_Q8_0, "Q8_0", 32, 34},
        {ZT_GGML_Q4_0, "Q4_0", 32, 18},  {ZT_GGML_Q4_K, "Q4_K", 256, 144},
        {ZT_GGML_Q6_K, "Q6_K", 256, 210}, {ZT_GGML_Q4_1, "Q4_1", 32, 20},
        {ZT_GGML_Q5_K, "Q5_K", 256, 176}, {ZT_GGML_Q8_K, "Q8_K", 256, 292},
        {ZT_GGML_IQ4_XS, "IQ4_XS", 256, 136}, {ZT_GGML_MXFP4, "MXFP4", 32, 17},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(zt_ggml_type_name(want[i].t), want[i].name);
        assert_int_equal(zt_ggml_blck_size(want[i].t), want[i].blck);
        assert_int_equal(zt_ggml_type_size(want[i].t), want[i].size);
    }
    /* Removed and out-of-range ids are unknown. */
    assert_string_equal(zt_ggml_type_name((enum zt_ggml_type)4), "unknown");
    assert_string_equal(zt_ggml_type_name((enum zt_ggml_type)31), "unknown");
    assert_string_equal(zt_ggml_type_name((enum zt_ggml_type)40), "unknown");
    assert_string_equal(zt_ggml_type_name((enum zt_ggml_type)-1), "unknown");
    assert_int_equal(zt_ggml_type_size((enum zt_ggml_type)1000), 0);

    uint64_t n;
    assert_int_equal(zt_ggml_row_size(ZT_GGML_Q4_K, 512, &n), 0);
    assert_int_equal(n, 288);
    assert_int_equal(zt_ggml_row_size(ZT_GGML_Q8_0, 64, &n), 0);
    assert_int_equal(n, 68);
    assert_int_equal(zt_ggml_row_size(ZT_GGML_Q8_0, 33, &n), ZT_EINVAL);
    assert_int_equal(zt_ggml_row_size((enum zt_ggml_type)4, 32, &n), ZT_EINVAL);
    assert_int_equal(zt_ggml_row_size(ZT_GGML_F64, UINT64_MAX / 4, &n), ZT_ERANGE);
    uint64_t ne[4] = {256, 3, 2, 1};
    assert_int_equal(zt_ggml_nbytes(ZT_GGML_Q6_K, 4, ne, &n), 0);
    assert_int_equal(n, 210 * 6);
    assert_int_equal(zt_ggml_nbytes(ZT_GGML_Q6_K, 0, ne, &n), ZT_EINVAL);
    assert_int_equal(zt_ggml_nbytes(ZT_GGML_Q6_K, 5, ne, &n), ZT_EINVAL);
    uint64_t big[2] = {1ull << 40, 1ull << 40};
    assert_int_equal(zt_ggml_nbytes(ZT_GGML_F32, 2, big, &n), ZT_ERANGE);

    assert_int_equal(zt_gguf_vtype_size(ZT_GGUF_U64), 8);
    assert_int_equal(zt_gguf_vtype_size(ZT_GGUF_STRING), 0);
    assert_string_equal(zt_gguf_vtype_name(ZT_GGUF_BOOL), "bool");
    assert_string_equal(zt_gguf_vtype_name(ZT_GGUF_VTYPE_COUNT), "unknown");
}

/* ---- real models ------------------------------------------------------------ */

/* Offsets and pointers aligned; the data ends at EOF (exact) or within the
 * padding our writer, like llama.cpp's, adds after the last tensor. */
static void check_layout(const struct zt_gguf *g, bool exact)
{
    uint64_t end = 0;
    for (int64_t i = 0; i < zt_gguf_n_tensors(g); i++) {
        const struct zt_gguf_tensor *t = zt_gguf_tensor(g, i);
        assert_non_null(t);
        assert_int_equal(t->offset % zt_gguf_alignment(g), 0);
        assert_int_equal((uintptr_t)t->data % zt_gguf_alignment(g), 0); /* mmap is page-aligned */
        uint64_t e = t->offset + t->size;
        if (e > end) end = e;
    }
    end += zt_gguf_data_offset(g);
    if (exact) assert_int_equal(end, zt_gguf_file_size(g));
    assert_true(end <= zt_gguf_file_size(g) && zt_gguf_file_size(g) - end < zt_gguf_alignment(g));
}

static void test_stories260k(void **state)
{
    (void)state;
    char path[4096];
    if (!model_path(path, sizeof path, "stories260K.gguf")) skip();
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    struct zt_gguf *g = NULL;
    int rc = zt_gguf_open(path, &g, &err);
    if (rc) print_message("%s\n", zt_buf_str(&err));
    assert_int_equal(rc, 0);

    assert_int_equal(zt_gguf_version(g), 3);
    assert_int_equal(zt_gguf_n_tensors(g), 48);
    assert_int_equal(zt_gguf_n_kv(g), 19);
    assert_int_equal(zt_gguf_alignment(g), 32);
    assert_int_equal(zt_gguf_file_size(g), 1185376);

    uint64_t u;
    int64_t s;
    double d;
    struct zt_gguf_str str;
    assert_int_equal(zt_gguf_get_u64(g, "llama.context_length", &u), 0);
    assert_int_equal(u, 2048);
    assert_int_equal(zt_gguf_get_u64(g, "llama.embedding_length", &u), 0);
    assert_int_equal(u, 64);
    assert_int_equal(zt_gguf_get_u64(g, "llama.attention.head_count_kv", &u), 0);
    assert_int_equal(u, 4);
    assert_int_equal(zt_gguf_get_i64(g, "llama.feed_forward_length", &s), 0);
    assert_int_equal(s, 172);
    assert_int_equal(zt_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &d), 0);
    assert_true(d > 0.99e-5 && d < 1.01e-5);
    assert_int_equal(zt_gguf_get_str(g, "general.architecture", &str), 0);
    assert_true(str_eq(str, "llama"));
    assert_int_equal(zt_gguf_get_str(g, "tokenizer.ggml.model", &str), 0);
    assert_true(str_eq(str, "llama"));
    /* The misspelled key, as written by the converter. */
    assert_int_equal(zt_gguf_get_u64(g, "tokenizer.ggml.seperator_token_id", &u), 0);
    assert_int_equal(u, 0xFFFFFFFFu);
    assert_int_equal(zt_gguf_get_u64(g, "tokenizer.ggml.bos_token_id", &u), 0);
    assert_int_equal(u, 1);

    /* Absent keys and wrong types. */
    assert_int_equal(zt_gguf_find_key(g, "llama.rope.freq_base"), -1);
    assert_int_equal(zt_gguf_get_u64(g, "llama.rope.freq_base", &u), ZT_ENOTFOUND);
    assert_int_equal(zt_gguf_get_u64(g, "general.architecture", &u), ZT_EINVAL);
    assert_int_equal(zt_gguf_get_str(g, "llama.context_length", &str), ZT_EINVAL);
    bool b;
    assert_int_equal(zt_gguf_get_bool(g, "llama.context_length", &b), ZT_EINVAL);
    int64_t ki = zt_gguf_find_key(g, "general.name");
    assert_true(ki >= 0);
    assert_int_equal(zt_gguf_kv_type(g, ki), ZT_GGUF_STRING);
    assert_true(str_eq(zt_gguf_key_name(g, ki), "general.name"));
    assert_int_equal(zt_gguf_kv_type(g, 19), ZT_GGUF_VTYPE_COUNT);
    assert_null(zt_gguf_key_name(g, -1).ptr);

    /* Vocabulary. */
    enum zt_gguf_vtype et;
    uint64_t count;
    assert_int_equal(zt_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &count), 0);
    assert_int_equal(et, ZT_GGUF_STRING);
    assert_int_equal(count, 512);
    assert_int_equal(zt_gguf_arr_str(g, "tokenizer.ggml.tokens", 403, &str), 0);
    assert_true(str_eq(str, "\xe2\x96\x81Once")); /* U+2581 LOWER ONE EIGHTH BLOCK */
    assert_int_equal(zt_gguf_arr_str(g, "tokenizer.ggml.tokens", 0, &str), 0);
    assert_true(str_eq(str, "<unk>"));
    assert_int_equal(zt_gguf_arr_str(g, "tokenizer.ggml.tokens", 3, &str), 0);
    assert_true(str_eq(str, "<0x00>"));
    assert_int_equal(zt_gguf_arr_str(g, "tokenizer.ggml.tokens", 512, &str), ZT_ERANGE);
    assert_null(zt_gguf_arr_data(g, "tokenizer.ggml.tokens"));
    assert_int_equal(zt_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &count), 0);
    assert_int_equal(et, ZT_GGUF_F32);
    assert_int_equal(count, 512);
    assert_non_null(zt_gguf_arr_data(g, "tokenizer.ggml.scores"));
    assert_int_equal(zt_gguf_arr_f64(g, "tokenizer.ggml.scores", 511, &d), 0);
    assert_int_equal(zt_gguf_arr_str(g, "tokenizer.ggml.scores", 0, &str), ZT_EINVAL);
    assert_int_equal(zt_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &count), 0);
    assert_int_equal(count, 512);
    assert_int_equal(zt_gguf_arr_i64(g, "tokenizer.ggml.token_type", 0, &s), 0);
    assert_int_equal(s, 2); /* unknown */
    assert_int_equal(zt_gguf_arr_i64(g, "tokenizer.ggml.token_type", 1, &s), 0);
    assert_int_equal(s, 3); /* control (BOS) */
    assert_int_equal(zt_gguf_arr_i64(g, "tokenizer.ggml.token_type", 3, &s), 0);
    assert_int_equal(s, 6); /* byte */
    assert_int_equal(zt_gguf_arr_i64(g, "tokenizer.ggml.token_type", 403, &s), 0);
    assert_int_equal(s, 1); /* normal */

    /* Tensors. */
    const struct zt_gguf_tensor *t = zt_gguf_find_tensor(g, "blk.0.attn_k.weight");
    assert_non_null(t);
    assert_int_equal(t->type, ZT_GGML_F32);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 32);
    assert_int_equal(t->ne[2], 1);
    assert_int_equal(t->n_elements, 64 * 32);
    assert_int_equal(t->size, 64 * 32 * 4);
    t = zt_gguf_find_tensor(g, "blk.4.ffn_down.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 172);
    assert_int_equal(t->ne[1], 64);
    t = zt_gguf_find_tensor(g, "output_norm.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->ne[0], 64);
    /* output.weight is a copy of token_embd.weight. */
    const struct zt_gguf_tensor *e = zt_gguf_find_tensor(g, "token_embd.weight");
    t = zt_gguf_find_tensor(g, "output.weight");
    assert_non_null(e);
    assert_non_null(t);
    assert_int_equal(e->size, 64 * 512 * 4);
    assert_memory_equal(e->data, t->data, e->size);
    assert_null(zt_gguf_find_tensor(g, "blk.5.attn_k.weight"));
    assert_null(zt_gguf_tensor(g, 48));
    check_layout(g, true);

    zt_gguf_close(g);
    zt_buf_deinit(&err);
}

static void test_llama2_tiny(void **state)
{
    (void)state;
    char path[4096];
    if (!model_path(path, sizeof path, "llama-2-tiny-random.gguf")) skip();
    struct zt_gguf *g = NULL;
    assert_int_equal(zt_gguf_open(path, &g, NULL), 0);
    assert_int_equal(zt_gguf_n_tensors(g), 12);
    assert_int_equal(zt_gguf_n_kv(g), 18);
    enum zt_gguf_vtype et;
    uint64_t count, u;
    struct zt_gguf_str str;
    assert_int_equal(zt_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &count), 0);
    assert_int_equal(count, 32000);
    assert_int_equal(zt_gguf_arr_str(g, "tokenizer.ggml.tokens", 15043, &str), 0);
    assert_true(str_eq(str, "\xe2\x96\x81Hello"));
    assert_int_equal(zt_gguf_arr_str(g, "tokenizer.ggml.tokens", 3186, &str), 0);
    assert_true(str_eq(str, "\xe2\x96\x81world"));
    assert_int_equal(zt_gguf_arr_str(g, "tokenizer.ggml.tokens", 31999, &str), 0);
    assert_int_equal(zt_gguf_get_u64(g, "general.file_type", &u), 0);
    assert_int_equal(u, 1);
    assert_int_equal(zt_gguf_get_u64(g, "llama.context_length", &u), 0);
    assert_int_equal(u, 4096);
    const struct zt_gguf_tensor *t = zt_gguf_find_tensor(g, "output.weight");
    assert_non_null(t);
    assert_int_equal(t->type, ZT_GGML_F16);
    assert_int_equal(t->ne[0], 8);
    assert_int_equal(t->ne[1], 32000);
    assert_int_equal(t->size, 8 * 32000 * 2);
    t = zt_gguf_find_tensor(g, "blk.0.ffn_down.weight");
    assert_non_null(t);
    assert_int_equal(t->type, ZT_GGML_F16);
    assert_int_equal(t->ne[0], 32);
    t = zt_gguf_find_tensor(g, "blk.0.attn_norm.weight");
    assert_non_null(t);
    assert_int_equal(t->type, ZT_GGML_F32);
    check_layout(g, true);
    zt_gguf_close(g);

    /* Open time: the 700 KB metadata block with 32000 strings. */
    enum { N = 50 };
    uint64_t best = UINT64_MAX, sum = 0;
    for (int i = 0; i < N; i++) {
        uint64_t t0 = zt_time_mono_ns();
        assert_int_equal(zt_gguf_open(path, &g, NULL), 0);
        uint64_t dt = zt_time_mono_ns() - t0;
        zt_gguf_close(g);
        sum += dt;
        if (dt < best) best = dt;
    }
    print_message("open llama-2-tiny-random.gguf: best %.3f ms, mean %.3f ms over %d opens\n",
                  (double)best / 1e6, (double)sum / N / 1e6, N);
    assert_true(best < 50 * 1000 * 1000ull); /* target is < 10 ms; loose for sanitizer builds */
}

/* Injected allocation failures anywhere in open: ZT_ENOMEM, no leak, no crash. */
static void test_alloc_failures(void **state)
{
    (void)state;
    char path[4096];
    if (!model_path(path, sizeof path, "stories260K.gguf")) skip();
    int64_t before = zt_alloc_live();
    int n;
    for (n = 1; n < 1000; n++) {
        struct zt_buf err;
        zt_buf_init(&err, 4096);
        struct zt_gguf *g = NULL;
        zt_alloc_fail_after(n);
        int rc = zt_gguf_open(path, &g, &err);
        zt_alloc_fail_after(0);
        zt_buf_deinit(&err);
        if (rc == 0) {
            zt_gguf_close(g);
            break;
        }
        assert_int_equal(rc, ZT_ENOMEM);
        assert_null(g);
        assert_int_equal(zt_alloc_live(), before);
    }
    assert_true(n > 3 && n < 1000);
    assert_int_equal(zt_alloc_live(), before);
}

/* ---- writer -> reader round trip -------------------------------------------- */

struct tdesc {
    const char *name;
    enum zt_ggml_type type;
    uint32_t n_dims;
    uint64_t ne[4];
    size_t size;
};

static const struct tdesc tensors[] = {
    {"t.f32", ZT_GGML_F32, 2, {256, 2, 1, 1}, 256 * 2 * 4},
    {"t.f16", ZT_GGML_F16, 2, {256, 2, 1, 1}, 256 * 2 * 2},
    {"t.bf16", ZT_GGML_BF16, 1, {7, 1, 1, 1}, 14},
    {"t.q8_0", ZT_GGML_Q8_0, 2, {256, 2, 1, 1}, 8 * 34 * 2},
    {"t.q4_0", ZT_GGML_Q4_0, 3, {64, 2, 3, 1}, 2 * 18 * 6},
    {"t.q4_k", ZT_GGML_Q4_K, 2, {512, 1, 1, 1}, 2 * 144},
    {"t.q6_k", ZT_GGML_Q6_K, 4, {256, 1, 2, 2}, 210 * 4},
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])

static uint8_t tdata[N_TENSORS][4096];

static void fill_tdata(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < N_TENSORS; i++)
        for (size_t j = 0; j < sizeof tdata[i]; j++) {
            x = x * 1103515245u + 12345u;
            tdata[i][j] = (uint8_t)(x >> 16);
        }
}

static const uint8_t a_u8[] = {0, 1, 255};
static const int8_t a_i8[] = {-128, 0, 127};
static const uint16_t a_u16[] = {0, 65535};
static const int16_t a_i16[] = {-32768, 32767};
static const uint32_t a_u32[] = {0, 4000000000u, 7};
static const int32_t a_i32[] = {INT32_MIN, -1, INT32_MAX};
static const uint64_t a_u64[] = {UINT64_MAX, 1};
static const int64_t a_i64[] = {INT64_MIN, INT64_MAX};
static const float a_f32[] = {1.5f, -0.25f};
static const double a_f64[] = {1e300, -2.5};
static const uint8_t a_bool[] = {1, 0, 0, 1};
static const char *const a_str[] = {"a", "", "\xff\xfe", "\xe2\x96\x81Once"};

/* A writer with every KV type and the tensors above. */
static int build_all(struct zt_gguf_writer **out, uint32_t alignment)
{
    struct zt_gguf_writer *w = NULL;
    int rc = zt_gguf_writer_new(&w);
    if (rc) return rc;
    if ((rc = zt_gguf_writer_add_u8(w, "v.u8", 200)) || (rc = zt_gguf_writer_add_i8(w, "v.i8", -100)) ||
        (rc = zt_gguf_writer_add_u16(w, "v.u16", 60000)) ||
        (rc = zt_gguf_writer_add_i16(w, "v.i16", -30000)) ||
        (rc = zt_gguf_writer_add_u32(w, "v.u32", 4000000000u)) ||
        (rc = zt_gguf_writer_add_i32(w, "v.i32", -2000000000)) ||
        (rc = zt_gguf_writer_add_u64(w, "v.u64", (1ull << 63) + 5)) ||
        (rc = zt_gguf_writer_add_i64(w, "v.i64", -(1ll << 62))) ||
        (rc = zt_gguf_writer_add_f32(w, "v.f32", 1.5f)) ||
        (rc = zt_gguf_writer_add_f64(w, "v.f64", -2.25)) ||
        (rc = zt_gguf_writer_add_bool(w, "v.bool", true)) ||
        (rc = zt_gguf_writer_add_str(w, "v.str", "hello\0world", 11)) ||
        (rc = zt_gguf_writer_add_str(w, "v.empty", "", 0)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.u8", ZT_GGUF_U8, a_u8, 3)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.i8", ZT_GGUF_I8, a_i8, 3)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.u16", ZT_GGUF_U16, a_u16, 2)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.i16", ZT_GGUF_I16, a_i16, 2)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.u32", ZT_GGUF_U32, a_u32, 3)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.i32", ZT_GGUF_I32, a_i32, 3)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.u64", ZT_GGUF_U64, a_u64, 2)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.i64", ZT_GGUF_I64, a_i64, 2)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.f32", ZT_GGUF_F32, a_f32, 2)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.f64", ZT_GGUF_F64, a_f64, 2)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.bool", ZT_GGUF_BOOL, a_bool, 4)) ||
        (rc = zt_gguf_writer_add_arr(w, "a.empty", ZT_GGUF_I32, NULL, 0)) ||
        (rc = zt_gguf_writer_add_arr_str(w, "a.str", a_str, NULL, 4)))
        goto out;
    if (alignment && (rc = zt_gguf_writer_add_u32(w, "general.alignment", alignment))) goto out;
    for (size_t i = 0; i < N_TENSORS; i++) {
        const struct tdesc *d = &tensors[i];
        rc = (i % 2 ? zt_gguf_writer_add_tensor_ref : zt_gguf_writer_add_tensor)(
            w, d->name, d->type, d->n_dims, d->ne, tdata[i], d->size);
        if (rc) goto out;
    }
out:
    if (rc) {
        zt_gguf_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static void check_all(const struct zt_gguf *g, uint64_t alignment)
{
    uint64_t u;
    int64_t s;
    double d;
    bool b;
    struct zt_gguf_str str;
    assert_int_equal(zt_gguf_n_kv(g), 26 + (alignment != 32));
    assert_int_equal(zt_gguf_alignment(g), alignment);
    assert_int_equal(zt_gguf_get_u64(g, "v.u8", &u), 0);
    assert_int_equal(u, 200);
    assert_int_equal(zt_gguf_get_i64(g, "v.i8", &s), 0);
    assert_int_equal(s, -100);
    assert_int_equal(zt_gguf_get_u64(g, "v.i8", &u), ZT_EINVAL); /* negative */
    assert_int_equal(zt_gguf_get_u64(g, "v.u16", &u), 0);
    assert_int_equal(u, 60000);
    assert_int_equal(zt_gguf_get_i64(g, "v.i16", &s), 0);
    assert_int_equal(s, -30000);
    assert_int_equal(zt_gguf_get_u64(g, "v.u32", &u), 0);
    assert_int_equal(u, 4000000000u);
    assert_int_equal(zt_gguf_get_i64(g, "v.i32", &s), 0);
    assert_int_equal(s, -2000000000);
    assert_int_equal(zt_gguf_get_u64(g, "v.u64", &u), 0);
    assert_true(u == (1ull << 63) + 5);
    assert_int_equal(zt_gguf_get_i64(g, "v.u64", &s), ZT_EINVAL); /* > INT64_MAX */
    assert_int_equal(zt_gguf_get_f64(g, "v.u64", &d), ZT_EINVAL); /* not exact */
    assert_int_equal(zt_gguf_get_i64(g, "v.i64", &s), 0);
    assert_true(s == -(1ll << 62));
    assert_int_equal(zt_gguf_get_f64(g, "v.f32", &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(zt_gguf_get_u64(g, "v.f32", &u), ZT_EINVAL);
    assert_int_equal(zt_gguf_get_f64(g, "v.f64", &d), 0);
    assert_true(d == -2.25);
    assert_int_equal(zt_gguf_get_f64(g, "v.u32", &d), 0); /* exact integers convert */
    assert_true(d == 4000000000.0);
    assert_int_equal(zt_gguf_get_bool(g, "v.bool", &b), 0);
    assert_true(b);
    assert_int_equal(zt_gguf_get_str(g, "v.str", &str), 0);
    assert_int_equal(str.len, 11);
    assert_memory_equal(str.ptr, "hello\0world", 11);
    assert_int_equal(zt_gguf_get_str(g, "v.empty", &str), 0);
    assert_int_equal(str.len, 0);

    static const struct {
        const char *key;
        enum zt_gguf_vtype t;
        const void *data;
        uint64_t n;
    } arrs[] = {
        {"a.u8", ZT_GGUF_U8, a_u8, 3},     {"a.i8", ZT_GGUF_I8, a_i8, 3},
        {"a.u16", ZT_GGUF_U16, a_u16, 2},  {"a.i16", ZT_GGUF_I16, a_i16, 2},
        {"a.u32", ZT_GGUF_U32, a_u32, 3},  {"a.i32", ZT_GGUF_I32, a_i32, 3},
        {"a.u64", ZT_GGUF_U64, a_u64, 2},  {"a.i64", ZT_GGUF_I64, a_i64, 2},
        {"a.f32", ZT_GGUF_F32, a_f32, 2},  {"a.f64", ZT_GGUF_F64, a_f64, 2},
        {"a.bool", ZT_GGUF_BOOL, a_bool, 4}, {"a.empty", ZT_GGUF_I32, NULL, 0},
    };
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        enum zt_gguf_vtype et;
        uint64_t n;
        assert_int_equal(zt_gguf_get_arr(g, arrs[i].key, &et, &n), 0);
        assert_int_equal(et, arrs[i].t);
        assert_int_equal(n, arrs[i].n);
        const void *p = zt_gguf_arr_data(g, arrs[i].key);
        assert_non_null(p);
        if (n) assert_memory_equal(p, arrs[i].data, n * zt_gguf_vtype_size(et));
        assert_int_equal(zt_gguf_arr_i64(g, arrs[i].key, n, &s), ZT_ERANGE);
    }
    assert_int_equal(zt_gguf_arr_i64(g, "a.i8", 0, &s), 0);
    assert_int_equal(s, -128);
    assert_int_equal(zt_gguf_arr_i64(g, "a.u32", 1, &s), 0);
    assert_int_equal(s, 4000000000ll);
    assert_int_equal(zt_gguf_arr_i64(g, "a.i64", 0, &s), 0);
    assert_true(s == INT64_MIN);
    assert_int_equal(zt_gguf_arr_i64(g, "a.u64", 0, &s), ZT_EINVAL);
    assert_int_equal(zt_gguf_arr_f64(g, "a.f64", 0, &d), 0);
    assert_true(d == 1e300);
    assert_int_equal(zt_gguf_arr_f64(g, "a.f32", 1, &d), 0);
    assert_true(d == -0.25);
    assert_int_equal(zt_gguf_arr_i64(g, "a.f32", 1, &s), ZT_EINVAL);
    assert_int_equal(zt_gguf_arr_i64(g, "v.u8", 0, &s), ZT_EINVAL); /* not an array */
    assert_int_equal(zt_gguf_arr_i64(g, "nope", 0, &s), ZT_ENOTFOUND);
    enum zt_gguf_vtype et;
    uint64_t n;
    assert_int_equal(zt_gguf_get_arr(g, "a.str", &et, &n), 0);
    assert_int_equal(et, ZT_GGUF_STRING);
    assert_int_equal(n, 4);
    for (uint64_t i = 0; i < 4; i++) {
        assert_int_equal(zt_gguf_arr_str(g, "a.str", i, &str), 0);
        assert_true(str_eq(str, a_str[i]));
    }
    assert_int_equal(zt_gguf_arr_str(g, "a.str", 4, &str), ZT_ERANGE);
    assert_int_equal(zt_gguf_arr_f64(g, "a.str", 0, &d), ZT_EINVAL);

    assert_int_equal(zt_gguf_n_tensors(g), N_TENSORS);
    for (size_t i = 0; i < N_TENSORS; i++) {
        const struct tdesc *de = &tensors[i];
        const struct zt_gguf_tensor *t = zt_gguf_tensor(g, (int64_t)i);
        assert_non_null(t);
        assert_ptr_equal(zt_gguf_find_tensor(g, de->name), t);
        assert_true(str_eq(t->name, de->name));
        assert_int_equal(t->type, de->type);
        assert_int_equal(t->n_dims, de->n_dims);
        for (int k = 0; k < 4; k++) assert_int_equal(t->ne[k], de->ne[k]);
        assert_int_equal(t->size, de->size);
        assert_int_equal(t->offset % alignment, 0);
        assert_memory_equal(t->data, tdata[i], de->size);
    }
}

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/zt-gguf-XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(tmpdir));
}

/* Remove tmpdir, asserting it holds only `expect` entries (no temp files left). */
static void remove_tmpdir(int expect)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        n++;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
    assert_int_equal(n, expect);
}

static void test_roundtrip(void **state)
{
    (void)state;
    fill_tdata();
    make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/all.gguf", tmpdir);

    for (uint32_t align = 0; align <= 64; align += 64) {
        struct zt_gguf_writer *w = NULL;
        assert_int_equal(build_all(&w, align), 0);
        struct zt_buf err;
        zt_buf_init(&err, 4096);
        assert_int_equal(zt_gguf_writer_write(w, path, &err), 0);
        void *mem = NULL;
        size_t len = 0;
        assert_int_equal(zt_gguf_writer_to_mem(w, &mem, &len, &err), 0);
        zt_gguf_writer_free(w);

        struct zt_gguf *g = NULL;
        int rc = zt_gguf_open(path, &g, &err);
        if (rc) print_message("%s\n", zt_buf_str(&err));
        assert_int_equal(rc, 0);
        assert_int_equal(zt_gguf_version(g), 3);
        check_all(g, align ? align : 32);
        check_layout(g, false);
        /* The file and the in-memory image are the same bytes. */
        assert_int_equal(zt_gguf_file_size(g), len);
        assert_memory_equal((const uint8_t *)zt_gguf_tensor(g, 0)->data - zt_gguf_data_offset(g), mem, len);
        zt_gguf_close(g);

        assert_int_equal(zt_gguf_open_mem(mem, len, &g, &err), 0);
        check_all(g, align ? align : 32);
        zt_gguf_close(g);
        zt_free(mem);
        zt_buf_deinit(&err);
    }
    remove_tmpdir(1);
}

static void test_writer_errors(void **state)
{
    (void)state;
    struct zt_gguf_writer *w = NULL;
    assert_int_equal(zt_gguf_writer_new(&w), 0);
    assert_int_equal(zt_gguf_writer_add_u32(w, "k", 1), 0);
    assert_int_equal(zt_gguf_writer_add_u32(w, "k", 2), ZT_EEXIST);
    assert_int_equal(zt_gguf_writer_add_str(w, "k", "x", 1), ZT_EEXIST);
    assert_int_equal(zt_gguf_writer_add_u32(w, "", 1), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_u32(w, NULL, 1), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_u32(w, "general.alignment", 0), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_u32(w, "general.alignment", 48), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_u64(w, "general.alignment", 64), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_str(w, "general.alignment", "64", 2), ZT_EINVAL);
    static const uint8_t bad_bool[] = {0, 2};
    assert_int_equal(zt_gguf_writer_add_arr(w, "b", ZT_GGUF_BOOL, bad_bool, 2), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_arr(w, "b", ZT_GGUF_STRING, bad_bool, 2), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_arr(w, "b", ZT_GGUF_U64, bad_bool, SIZE_MAX / 4), ZT_ERANGE);
    assert_int_equal(zt_gguf_writer_set_version(w, 1), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_set_version(w, 4), ZT_EINVAL);

    float f[32] = {0};
    uint64_t ne[4] = {32, 1, 1, 1};
    assert_int_equal(zt_gguf_writer_add_tensor(w, "t", ZT_GGML_F32, 1, ne, f, sizeof f), 0);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "t", ZT_GGML_F32, 1, ne, f, sizeof f), ZT_EEXIST);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "u", ZT_GGML_F32, 1, ne, f, 4), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "u", (enum zt_ggml_type)4, 1, ne, f, 4), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "u", ZT_GGML_F32, 5, ne, f, sizeof f), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "u", ZT_GGML_F32, 0, ne, f, sizeof f), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "u", ZT_GGML_Q4_K, 1, ne, f, 144), ZT_EINVAL);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "", ZT_GGML_F32, 1, ne, f, sizeof f), ZT_EINVAL);
    /* NULL data: zeros. */
    assert_int_equal(zt_gguf_writer_add_tensor(w, "z", ZT_GGML_F32, 1, ne, NULL, sizeof f), 0);

    /* A directory that does not exist: an error, and nothing is created. */
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    assert_true(zt_gguf_writer_write(w, "/nonexistent-zt-dir/x.gguf", &err) < 0);
    assert_non_null(strstr(zt_buf_str(&err), "/nonexistent-zt-dir/x.gguf"));
    zt_buf_reset(&err);

    /* Overwrite: the second write replaces the first atomically. */
    make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.gguf", tmpdir);
    assert_int_equal(zt_gguf_writer_write(w, path, &err), 0);
    assert_int_equal(zt_gguf_writer_add_u8(w, "later", 7), 0);
    assert_int_equal(zt_gguf_writer_write(w, path, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    struct zt_gguf *g = NULL;
    assert_int_equal(zt_gguf_open(path, &g, &err), 0);
    assert_int_equal(zt_gguf_n_kv(g), 2);
    assert_int_equal(zt_gguf_n_tensors(g), 2);
    const struct zt_gguf_tensor *t = zt_gguf_find_tensor(g, "z");
    assert_non_null(t);
    assert_memory_equal(t->data, f, sizeof f);
    zt_gguf_close(g);
    remove_tmpdir(1);
    zt_buf_deinit(&err);
    zt_gguf_writer_free(w);
    zt_gguf_writer_free(NULL);
}

/* Allocation failures while building and serialising: ENOMEM, no leak. */
static void test_writer_alloc_failures(void **state)
{
    (void)state;
    fill_tdata();
    int64_t before = zt_alloc_live();
    int n;
    for (n = 1; n < 10000; n++) {
        struct zt_gguf_writer *w = NULL;
        void *mem = NULL;
        size_t len;
        zt_alloc_fail_after(n);
        int rc = build_all(&w, 0);
        if (rc == 0) {
            rc = zt_gguf_writer_to_mem(w, &mem, &len, NULL);
            zt_gguf_writer_free(w);
        }
        zt_alloc_fail_after(0);
        if (rc == 0) {
            zt_free(mem);
            break;
        }
        assert_int_equal(rc, ZT_ENOMEM);
        assert_int_equal(zt_alloc_live(), before);
    }
    assert_true(n > 10 && n < 10000);
}

/* ---- versions ------------------------------------------------------------------ */

static void test_v2_and_versions(void **state)
{
    (void)state;
    /* A v2 file by hand: same layout as v3 (64-bit counts and lengths). */
    static const float w4[4] = {1, 2, 3, 4};
    const uint64_t ne[1] = {4};
    b_hdr(2, 1, 2);
    b_str("general.architecture");
    b_u32(ZT_GGUF_STRING);
    b_str("llama");
    b_kv_u32("llama.block_count", 1);
    b_tensor("w", 1, ne, ZT_GGML_F32, 0);
    b_pad(32);
    b_bytes(w4, sizeof w4);
    struct zt_gguf *g = expect_ok();
    assert_int_equal(zt_gguf_version(g), 2);
    struct zt_gguf_str s;
    assert_int_equal(zt_gguf_get_str(g, "general.architecture", &s), 0);
    assert_true(str_eq(s, "llama"));
    const struct zt_gguf_tensor *t = zt_gguf_find_tensor(g, "w");
    assert_non_null(t);
    assert_memory_equal(t->data, w4, sizeof w4);
    assert_int_equal(zt_gguf_data_offset(g) % 32, 0);
    zt_gguf_close(g);

    /* The writer can produce v2 too. */
    struct zt_gguf_writer *w = NULL;
    assert_int_equal(zt_gguf_writer_new(&w), 0);
    assert_int_equal(zt_gguf_writer_set_version(w, 2), 0);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "w", ZT_GGML_F32, 1, ne, w4, sizeof w4), 0);
    void *mem;
    size_t len;
    assert_int_equal(zt_gguf_writer_to_mem(w, &mem, &len, NULL), 0);
    assert_int_equal(zt_gguf_open_mem(mem, len, &g, NULL), 0);
    assert_int_equal(zt_gguf_version(g), 2);
    zt_gguf_close(g);
    zt_free(mem);
    zt_gguf_writer_free(w);

    /* Header-only file: no KVs, no tensors. */
    b_hdr(3, 0, 0);
    g = expect_ok();
    assert_int_equal(zt_gguf_n_kv(g), 0);
    assert_int_equal(zt_gguf_n_tensors(g), 0);
    assert_int_equal(zt_gguf_find_key(g, "x"), -1);
    assert_null(zt_gguf_find_tensor(g, "x"));
    zt_gguf_close(g);

    b_hdr(1, 0, 0);
    expect_err(ZT_EUNSUPPORTED, "version 1 (32-bit counts)");
    b_hdr(4, 0, 0);
    expect_err(ZT_EUNSUPPORTED, "version 4 is not supported");
    b_hdr(0, 0, 0);
    expect_err(ZT_EUNSUPPORTED, "version 0");
    b_hdr(0x03000000u, 0, 0); /* a big-endian v3 file */
    expect_err(ZT_EUNSUPPORTED, "big-endian");
    b_hdr(3, 0, 0);
    memcpy(B.p, "GGML", 4);
    expect_err(ZT_EPARSE, "not a GGUF file");
    b_reset();
    expect_err(ZT_EPARSE, "truncated at offset 0");
    b_bytes("GGUF", 4);
    expect_err(ZT_EPARSE, "truncated at offset 4: version");
}

/* ---- malformed files -------------------------------------------------------------- */

static void test_malformed_header_and_kv(void **state)
{
    (void)state;
    /* Counts over the limits, and counts the file cannot hold. */
    b_hdr(3, 2000000, 0);
    expect_err(ZT_ETOOBIG, "limits");
    b_hdr(3, 0, UINT64_MAX);
    expect_err(ZT_ETOOBIG, "limits");
    b_hdr(3, 0, 1000000);
    expect_err(ZT_EPARSE, "need at least 14000000 bytes");
    b_hdr(3, 1000000, 0);
    expect_err(ZT_EPARSE, "need at least 33000000 bytes");

    /* Key: empty, too long, past EOF. */
    b_hdr(3, 0, 1);
    b_str("");
    b_u32(ZT_GGUF_U8);
    b_zeros(8);
    expect_err(ZT_EPARSE, "kv 0: empty key");
    b_hdr(3, 0, 1);
    b_u64(70000);
    b_zeros(20);
    expect_err(ZT_ETOOBIG, "key at offset 24: length 70000 exceeds the limit 65535");
    b_hdr(3, 0, 1);
    b_u64(1000);
    b_bytes("abcdefghijklmn", 14);
    expect_err(ZT_EPARSE, "kv 0: truncated at offset 32: key needs 1000 bytes, 14 left");

    /* String value past EOF and over the 1 GiB limit. */
    b_hdr(3, 0, 1);
    b_str("s");
    b_u32(ZT_GGUF_STRING);
    b_u64(100);
    b_bytes("short", 5);
    expect_err(ZT_EPARSE, "kv 0 's': truncated at offset 45: string value needs 100 bytes, 5 left");
    b_hdr(3, 0, 1);
    b_str("s");
    b_u32(ZT_GGUF_STRING);
    b_u64((1ull << 30) + 1);
    b_zeros(8);
    expect_err(ZT_ETOOBIG, "exceeds the limit 1073741824");

    /* Scalar past EOF. */
    b_hdr(3, 0, 1);
    b_str("x");
    b_u32(ZT_GGUF_U64);
    b_zeros(4);
    expect_err(ZT_EPARSE, "u64 needs 8 bytes, 4 left");

    /* Unknown value types. */
    b_hdr(3, 0, 1);
    b_str("x");
    b_u32(13);
    b_zeros(8);
    expect_err(ZT_EPARSE, "kv 0 'x': unknown value type 13");
    b_hdr(3, 0, 1);
    b_str("x");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(99);
    b_u64(0);
    expect_err(ZT_EPARSE, "unknown array element type 99");

    /* Bools must be 0 or 1 (scalars and array elements). */
    b_hdr(3, 0, 1);
    b_str("b");
    b_u32(ZT_GGUF_BOOL);
    b_bytes("\x02", 1);
    expect_err(ZT_EPARSE, "not 0 or 1");
    b_hdr(3, 0, 1);
    b_str("b");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(ZT_GGUF_BOOL);
    b_u64(3);
    b_bytes("\x01\x00\xff", 3);
    expect_err(ZT_EPARSE, "not 0 or 1");

    /* Array counts: count * elemsize overflows; more than the file holds. */
    b_hdr(3, 0, 1);
    b_str("a");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(ZT_GGUF_U64);
    b_u64(1ull << 62);
    b_zeros(64);
    expect_err(ZT_ERANGE, "overflow");
    b_hdr(3, 0, 1);
    b_str("a");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(ZT_GGUF_ARRAY);
    b_u64(UINT64_MAX / 6);
    b_zeros(64);
    expect_err(ZT_ERANGE, "overflow");
    b_hdr(3, 0, 1);
    b_str("a");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(ZT_GGUF_U8);
    b_u64(1000);
    b_zeros(999);
    expect_err(ZT_EPARSE, "1000 u8 elements need at least 1000 bytes, 999 left");
    b_hdr(3, 0, 1);
    b_str("a");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(ZT_GGUF_STRING);
    b_u64(1ull << 40);
    b_zeros(64);
    expect_err(ZT_EPARSE, "string elements need at least");
    /* Each string fits the count check but the lengths run past EOF. */
    b_hdr(3, 0, 1);
    b_str("a");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(ZT_GGUF_STRING);
    b_u64(3);
    b_str("one");
    b_u64(1000);
    b_zeros(16);
    expect_err(ZT_EPARSE, "array string needs 1000 bytes");

    /* Nested arrays: fine up to the depth limit, an error past it. */
    b_hdr(3, 0, 1);
    b_str("nest");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(ZT_GGUF_ARRAY);
    b_u64(2);
    b_u32(ZT_GGUF_STRING);
    b_u64(1);
    b_str("x");
    b_u32(ZT_GGUF_U16);
    b_u64(2);
    b_zeros(4);
    struct zt_gguf *g = expect_ok();
    enum zt_gguf_vtype et;
    uint64_t n;
    int64_t s;
    struct zt_gguf_str str;
    assert_int_equal(zt_gguf_get_arr(g, "nest", &et, &n), 0);
    assert_int_equal(et, ZT_GGUF_ARRAY);
    assert_int_equal(n, 2);
    assert_int_equal(zt_gguf_arr_i64(g, "nest", 0, &s), ZT_EINVAL);
    assert_int_equal(zt_gguf_arr_str(g, "nest", 0, &str), ZT_EINVAL);
    assert_null(zt_gguf_arr_data(g, "nest"));
    zt_gguf_close(g);
    for (int depth = 1; depth <= 40; depth++) {
        b_hdr(3, 0, 1);
        b_str("bomb");
        b_u32(ZT_GGUF_ARRAY);
        for (int i = 0; i < depth - 1; i++) {
            b_u32(ZT_GGUF_ARRAY);
            b_u64(1);
        }
        b_u32(ZT_GGUF_U8);
        b_u64(0);
        if (depth <= ZT_GGUF_MAX_ARRAY_DEPTH) {
            zt_gguf_close(expect_ok());
        } else {
            expect_err(ZT_ETOOBIG, "arrays nested deeper than 8");
        }
    }

    /* Duplicate keys; non-UTF-8 keys are accepted bytes, quoted in messages. */
    b_hdr(3, 0, 2);
    b_kv_u32("dup", 1);
    b_kv_u32("dup", 2);
    expect_err(ZT_EEXIST, "kv 1 'dup': duplicate key (first defined by kv 0)");
    b_hdr(3, 0, 2);
    b_kv_u32("\xff\xfe\n'", 1);
    b_kv_u32("\xff\xfe\n'", 2);
    expect_err(ZT_EEXIST, "kv 1 '\\xff\\xfe\\x0a\\x27': duplicate key");
    b_hdr(3, 0, 1);
    b_kv_u32("\xff\xfe", 7);
    g = expect_ok();
    assert_int_equal(zt_gguf_find_key(g, "\xff\xfe"), 0);
    zt_gguf_close(g);

    /* general.alignment: u32, non-zero power of two. */
    static const uint32_t bad_align[] = {0, 3, 48, 0xffffffffu};
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        b_hdr(3, 0, 1);
        b_kv_u32("general.alignment", bad_align[i]);
        expect_err(ZT_EPARSE, "is not a power of two");
    }
    b_hdr(3, 0, 1);
    b_str("general.alignment");
    b_u32(ZT_GGUF_U64);
    b_u64(32);
    expect_err(ZT_EPARSE, "general.alignment has type u64, must be u32");
    b_hdr(3, 0, 1);
    b_kv_u32("general.alignment", 1);
    g = expect_ok();
    assert_int_equal(zt_gguf_alignment(g), 1);
    zt_gguf_close(g);
}

static void test_malformed_tensors(void **state)
{
    (void)state;
    const uint64_t ne8[1] = {8};
    const uint64_t ne16[1] = {16};

    /* n_dims 0 and 5. */
    b_hdr(3, 1, 0);
    b_tensor("t", 0, ne8, ZT_GGML_F32, 0);
    b_zeros(64);
    expect_err(ZT_EPARSE, "tensor 0 't': n_dims 0 at offset");
    b_hdr(3, 1, 0);
    const uint64_t ne5[5] = {1, 1, 1, 1, 1};
    b_tensor("t", 5, ne5, ZT_GGML_F32, 0);
    b_zeros(64);
    expect_err(ZT_EPARSE, "n_dims 5");

    /* ne with a zero; element count overflow; byte size overflow. */
    b_hdr(3, 1, 0);
    const uint64_t ne_zero[2] = {8, 0};
    b_tensor("t", 2, ne_zero, ZT_GGML_F32, 0);
    b_zeros(64);
    expect_err(ZT_EPARSE, "ne[1] is 0");
    b_hdr(3, 1, 0);
    const uint64_t ne_big[3] = {1ull << 32, 1ull << 30, 4};
    b_tensor("t", 3, ne_big, ZT_GGML_F32, 0);
    b_zeros(64);
    expect_err(ZT_ERANGE, "element count overflows at ne[2]");
    b_hdr(3, 1, 0);
    const uint64_t ne_bytes[1] = {1ull << 62};
    b_tensor("t", 1, ne_bytes, ZT_GGML_F64, 0);
    b_zeros(64);
    expect_err(ZT_ERANGE, "F64 data size overflows");

    /* Unknown types: removed ids and out-of-range ids. */
    static const uint32_t bad_types[] = {4, 5, 31, 36, 40, 1000, 0xffffffffu};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "unknown ggml tensor type %u", bad_types[i]);
        b_hdr(3, 1, 0);
        b_tensor("t", 1, ne8, bad_types[i], 0);
        b_zeros(64);
        expect_err(ZT_EUNSUPPORTED, want);
    }
    /* Row length not a multiple of the block. */
    b_hdr(3, 1, 0);
    b_tensor("q", 1, ne16, ZT_GGML_Q4_0, 0);
    b_zeros(64);
    expect_err(ZT_EPARSE, "ne[0] = 16 is not a multiple of the Q4_0 block size 32");

    /* Offset not aligned; data past EOF; offset near 2^64. */
    b_hdr(3, 1, 0);
    b_tensor("t", 1, ne8, ZT_GGML_F32, 4);
    b_pad(32);
    b_zeros(64);
    expect_err(ZT_EPARSE, "offset 4 is not a multiple of the alignment 32");
    b_hdr(3, 1, 0);
    b_tensor("blk.3.ffn_up.weight", 1, ne16, ZT_GGML_F32, 32);
    b_pad(32);
    b_zeros(64);
    expect_err(ZT_EPARSE, "tensor 0 'blk.3.ffn_up.weight': data at offset 32 (+64 bytes, data section at 96) "
                          "exceeds file size 160");
    b_hdr(3, 1, 0);
    b_tensor("t", 1, ne8, ZT_GGML_F32, UINT64_MAX - 31);
    b_pad(32);
    b_zeros(64);
    expect_err(ZT_EPARSE, "exceeds file size");
    /* The tensor table ends at EOF, so the data section starts past it. */
    b_hdr(3, 1, 0);
    b_tensor("t", 1, ne8, ZT_GGML_F32, 0);
    expect_err(ZT_EPARSE, "past the end of the file");

    /* Overlapping data and duplicate names. */
    b_hdr(3, 2, 0);
    b_tensor("a", 1, ne16, ZT_GGML_F32, 0);
    b_tensor("b", 1, ne16, ZT_GGML_F32, 32);
    b_pad(32);
    b_zeros(128);
    expect_err(ZT_EPARSE, "tensor 'a' data [0..64) overlaps tensor 'b' at 32");
    b_hdr(3, 2, 0);
    b_tensor("b", 1, ne16, ZT_GGML_F32, 64);
    b_tensor("a", 1, ne16, ZT_GGML_F32, 64);
    b_pad(32);
    b_zeros(128);
    expect_err(ZT_EPARSE, "overlaps");
    b_hdr(3, 2, 0);
    b_tensor("a", 1, ne16, ZT_GGML_F32, 0);
    b_tensor("a", 1, ne16, ZT_GGML_F32, 64);
    b_pad(32);
    b_zeros(128);
    expect_err(ZT_EEXIST, "tensor 1 'a': duplicate tensor name (first defined by tensor 0)");
    b_hdr(3, 1, 0);
    b_tensor("", 1, ne16, ZT_GGML_F32, 0);
    b_pad(32);
    b_zeros(64);
    expect_err(ZT_EPARSE, "empty tensor name");

    /* Adjacent tensors out of file order are fine; alignment from the KV applies. */
    b_hdr(3, 2, 1);
    b_kv_u32("general.alignment", 64);
    b_tensor("b", 1, ne16, ZT_GGML_F32, 64);
    b_tensor("a", 1, ne16, ZT_GGML_F32, 0);
    b_pad(64);
    b_zeros(128);
    struct zt_gguf *g = expect_ok();
    assert_int_equal(zt_gguf_data_offset(g) % 64, 0);
    assert_ptr_equal((const uint8_t *)zt_gguf_find_tensor(g, "b")->data,
                     (const uint8_t *)zt_gguf_find_tensor(g, "a")->data + 64);
    zt_gguf_close(g);
    b_hdr(3, 1, 1);
    b_kv_u32("general.alignment", 64);
    b_tensor("t", 1, ne16, ZT_GGML_F32, 32);
    b_pad(64);
    b_zeros(128);
    expect_err(ZT_EPARSE, "offset 32 is not a multiple of the alignment 64");
}

/* Every prefix of a small valid file is an error until the tensor data is
 * complete; no prefix crashes or leaks (ASan checks the exact-size copies). */
static void test_truncation(void **state)
{
    (void)state;
    fill_tdata();
    struct zt_gguf_writer *w = NULL;
    assert_int_equal(build_all(&w, 0), 0);
    void *mem;
    size_t len;
    assert_int_equal(zt_gguf_writer_to_mem(w, &mem, &len, NULL), 0);
    zt_gguf_writer_free(w);

    struct zt_gguf *g = NULL;
    assert_int_equal(zt_gguf_open_mem(mem, len, &g, NULL), 0);
    uint64_t end = 0;
    for (int64_t i = 0; i < zt_gguf_n_tensors(g); i++) {
        const struct zt_gguf_tensor *t = zt_gguf_tensor(g, i);
        if (t->offset + t->size > end) end = t->offset + t->size;
    }
    end += zt_gguf_data_offset(g);
    zt_gguf_close(g);

    struct zt_buf err;
    zt_buf_init(&err, 4096);
    int parse = 0, other = 0;
    for (size_t n = 0; n < len; n++) {
        zt_buf_reset(&err);
        int rc = open_copy(mem, n, &g, &err);
        if (n < end) {
            if (rc == 0) print_message("prefix %zu of %zu opened\n", n, len);
            assert_true(rc < 0);
            assert_true(err.len > 0); /* always a reason */
            if (rc == ZT_EPARSE) parse++;
            else other++;
        } else {
            assert_int_equal(rc, 0);
        }
    }
    print_message("%zu prefixes: %d EPARSE, %d other errors\n", len, parse, other);
    assert_int_equal(other, 0);
    zt_buf_deinit(&err);
    zt_free(mem);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    struct zt_gguf *g = NULL;
    assert_int_equal(zt_gguf_open("/nonexistent-zt-dir/m.gguf", &g, &err), ZT_ENOTFOUND);
    assert_non_null(strstr(zt_buf_str(&err), "/nonexistent-zt-dir/m.gguf: cannot open"));
    assert_null(g);
    zt_buf_reset(&err);
    assert_int_equal(zt_gguf_open("/", &g, &err), ZT_EINVAL);
    assert_non_null(strstr(zt_buf_str(&err), "not a regular file"));

    make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/empty.gguf", tmpdir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    zt_buf_reset(&err);
    assert_int_equal(zt_gguf_open(path, &g, &err), ZT_EPARSE);
    assert_non_null(strstr(zt_buf_str(&err), "empty file"));
    /* A file-level parse error carries the path. */
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("GGUF\x04", f);
    fclose(f);
    zt_buf_reset(&err);
    assert_int_equal(zt_gguf_open(path, &g, &err), ZT_EPARSE);
    assert_non_null(strstr(zt_buf_str(&err), "empty.gguf: truncated at offset 4"));
    remove_tmpdir(1);

    assert_int_equal(zt_gguf_open_mem(NULL, 0, &g, &err), ZT_EPARSE);
    assert_int_equal(zt_gguf_open_mem(NULL, 5, &g, &err), ZT_EINVAL);
    zt_gguf_close(NULL);
    zt_buf_deinit(&err);
}

/* ---- fuzz seed corpus ----------------------------------------------------------------- */

static void put_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(n < 64 * 1024);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void put_writer(const char *dir, const char *name, struct zt_gguf_writer *w)
{
    void *mem;
    size_t len;
    assert_int_equal(zt_gguf_writer_to_mem(w, &mem, &len, NULL), 0);
    put_file(dir, name, mem, len);
    zt_free(mem);
    zt_gguf_writer_free(w);
}

static void test_write_corpus(void **state)
{
    (void)state;
    const char *dir = getenv("ZT_GGUF_WRITE_CORPUS");
    if (!dir) return; /* only on request: the corpus is committed */
    fill_tdata();
    struct zt_gguf_writer *w = NULL;

    assert_int_equal(build_all(&w, 0), 0);
    put_writer(dir, "all-types", w);
    assert_int_equal(build_all(&w, 64), 0);
    put_writer(dir, "all-types-align64", w);

    /* A llama-shaped miniature: the keys and tensor names a model loader reads. */
    assert_int_equal(zt_gguf_writer_new(&w), 0);
    assert_int_equal(zt_gguf_writer_add_str(w, "general.architecture", "llama", 5), 0);
    assert_int_equal(zt_gguf_writer_add_u32(w, "llama.context_length", 64), 0);
    assert_int_equal(zt_gguf_writer_add_u32(w, "llama.embedding_length", 32), 0);
    assert_int_equal(zt_gguf_writer_add_u32(w, "llama.block_count", 1), 0);
    assert_int_equal(zt_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f), 0);
    const char *toks[40];
    char tokbuf[40][8];
    float scores[40];
    int32_t types[40];
    for (int i = 0; i < 40; i++) {
        snprintf(tokbuf[i], sizeof tokbuf[i], "t%d", i);
        toks[i] = tokbuf[i];
        scores[i] = (float)-i;
        types[i] = 1;
    }
    assert_int_equal(zt_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 40), 0);
    assert_int_equal(zt_gguf_writer_add_arr(w, "tokenizer.ggml.scores", ZT_GGUF_F32, scores, 40), 0);
    assert_int_equal(zt_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", ZT_GGUF_I32, types, 40), 0);
    uint64_t ne_e[2] = {32, 40}, ne_n[1] = {32}, ne_q[2] = {32, 32};
    assert_int_equal(zt_gguf_writer_add_tensor(w, "token_embd.weight", ZT_GGML_F16, 2, ne_e, NULL, 32 * 40 * 2), 0);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "output_norm.weight", ZT_GGML_F32, 1, ne_n, NULL, 128), 0);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", ZT_GGML_Q8_0, 2, ne_q, NULL, 34 * 32), 0);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "blk.0.attn_k.weight", ZT_GGML_Q4_0, 2, ne_q, NULL, 18 * 32), 0);
    put_writer(dir, "llama-mini", w);

    assert_int_equal(zt_gguf_writer_new(&w), 0);
    assert_int_equal(zt_gguf_writer_set_version(w, 2), 0);
    assert_int_equal(zt_gguf_writer_add_str(w, "general.name", "v2", 2), 0);
    assert_int_equal(zt_gguf_writer_add_tensor(w, "w", ZT_GGML_BF16, 1, ne_n, NULL, 64), 0);
    put_writer(dir, "v2", w);

    /* Hand-made and broken ones. */
    const uint64_t ne16[1] = {16};
    b_hdr(3, 0, 0);
    put_file(dir, "empty-v3", B.p, B.len);
    b_hdr(1, 0, 0);
    put_file(dir, "bad-v1", B.p, B.len);
    b_hdr(0x03000000u, 0, 0);
    put_file(dir, "bad-big-endian", B.p, B.len);
    b_hdr(3, 0, 1);
    b_str("nest");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(ZT_GGUF_ARRAY);
    b_u64(2);
    b_u32(ZT_GGUF_STRING);
    b_u64(1);
    b_str("x");
    b_u32(ZT_GGUF_U16);
    b_u64(2);
    b_zeros(4);
    put_file(dir, "nested-array", B.p, B.len);
    b_hdr(3, 0, 1);
    b_str("bomb");
    b_u32(ZT_GGUF_ARRAY);
    for (int i = 0; i < 12; i++) {
        b_u32(ZT_GGUF_ARRAY);
        b_u64(1);
    }
    b_u32(ZT_GGUF_U8);
    b_u64(0);
    put_file(dir, "bad-depth", B.p, B.len);
    b_hdr(3, 0, 2);
    b_kv_u32("dup", 1);
    b_kv_u32("dup", 2);
    put_file(dir, "bad-dup-key", B.p, B.len);
    b_hdr(3, 2, 0);
    b_tensor("a", 1, ne16, ZT_GGML_F32, 0);
    b_tensor("b", 1, ne16, ZT_GGML_F32, 32);
    b_pad(32);
    b_zeros(128);
    put_file(dir, "bad-overlap", B.p, B.len);
    b_hdr(3, 1, 1);
    b_kv_u32("general.alignment", 48);
    b_tensor("t", 1, ne16, ZT_GGML_Q4_K, 0);
    b_pad(32);
    b_zeros(64);
    put_file(dir, "bad-alignment", B.p, B.len);
    b_hdr(3, 1, 0);
    b_tensor("t", 1, ne16, ZT_GGML_F32, 7);
    b_pad(32);
    put_file(dir, "bad-offset", B.p, B.len);
    b_hdr(3, 0, 1);
    b_str("a");
    b_u32(ZT_GGUF_ARRAY);
    b_u32(ZT_GGUF_U64);
    b_u64(1ull << 62);
    b_zeros(16);
    put_file(dir, "bad-array-count", B.p, B.len);
    print_message("wrote the seed corpus to %s\n", dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_type_traits, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_stories260k, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_llama2_tiny, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_writer_errors, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_writer_alloc_failures, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_v2_and_versions, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_header_and_kv, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_tensors, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_truncation, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_write_corpus, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
