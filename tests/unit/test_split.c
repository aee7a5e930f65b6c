/* test_split.c: one model's layers across two devices (issue 14 item 4,
 * src/engine/backend_split.c). On two CPU instances (every build, the
 * sanitizer one too) and on two logical Vulkan devices (lavapipe twice; a
 * skip with the reason without Vulkan or under AddressSanitizer):
 *
 * - ops: a weight that fits the first device's budget goes there, the next
 *   to the second; a matrix product on each, the activation moving between
 *   them through the host, norms and adds following the weights, and reads
 *   of ranges current on either device: the bits of one CPU;
 * - models: stories260K split at half its bytes (deterministic mode)
 *   gives the CPU's 40 greedy tokens and last logits bit for bit, and so
 *   does a generated 4-layer Q8_0 model split at half its bytes (its first
 *   two layers on one device, the rest on the other);
 * - memory: on those two models, each device holds the KV caches of its
 *   own layers only (the two caches once in all, where every buffer used
 *   to have a copy on each device), a second sequence's caches come in one
 *   window per device with no growth, and every logit is the CPU's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/engine/backend.h"
#include "genmodel.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_quant.h"
#include "zt_test_gpu.h"

/* Whether `name` runs here (two logical devices of device 0); a skip with
 * the reason otherwise. */
static bool usable(const char *name)
{
    if (!strcmp(name, "cpu")) return true;
#ifdef ZT_TEST_ASAN
    zt_skip_part("%s: not tested under AddressSanitizer (the driver's allocations upset LeakSanitizer)", name);
    return false;
#else
    struct zt__backend *be;
    int rc = zt__backend_new(name, NULL, &be);
    if (rc == ZT_ENOTFOUND) {
        zt_skip_part("%s: not in this build or no device on this machine", name);
        return false;
    }
    assert_int_equal(rc, 0);
    zt__backend_free(be);
    return true;
#endif
}

static const char *const backends[] = {"cpu", "vulkan"};

/* x (4 rows of 64) -> rmsnorm(g0) -> matmul(w0, device 0) -> matmul(w1,
 * device 1) -> add the input of w1 -> read back: against one CPU. */
static void run_chain(struct zt__backend *be, const uint8_t *w, size_t rb, const float *x, const float *g, float *out)
{
    const struct zt__backend_ops *op = be->ops;
    enum { N = 64, B = 4 };
    struct zt__buffer *w0, *w1, *g0, *xb, *yb, *zb;
    assert_int_equal(op->buffer_map(be, w, rb * N, &w0), 0);
    assert_int_equal(op->buffer_map(be, g, N * sizeof(float), &g0), 0);
    assert_int_equal(op->buffer_map(be, w + rb * N, rb * N, &w1), 0);
    assert_int_equal(op->buffer_alloc(be, B * N * sizeof(float), &xb), 0);
    assert_int_equal(op->buffer_alloc(be, B * N * sizeof(float), &yb), 0);
    assert_int_equal(op->buffer_alloc(be, B * N * sizeof(float), &zb), 0);
    assert_int_equal(op->buffer_set(be, xb, 0, x, B * N * sizeof(float)), 0);
    struct zt__tensor tw0 = {.buf = w0, .type = ZT_GGML_Q8_0, .ne0 = N, .ne1 = N, .nb1 = rb};
    struct zt__tensor tw1 = {.buf = w1, .type = ZT_GGML_Q8_0, .ne0 = N, .ne1 = N, .nb1 = rb};
    struct zt__tensor tx = zt__tensor_f32(xb, 0, N, B), ty = zt__tensor_f32(yb, 0, N, B);
    struct zt__tensor tz = zt__tensor_f32(zb, 0, N, B), tg = zt__tensor_f32(g0, 0, N, 1);
    assert_int_equal(op->rmsnorm(be, &tx, &tg, 1e-5f, &tx), 0);
    assert_int_equal(op->matmul(be, &tw0, &tx, &ty), 0);
    assert_int_equal(op->matmul(be, &tw1, &ty, &tz), 0);
    assert_int_equal(op->add(be, &tz, &ty, &tz), 0);
    /* row 1 of z only, then all of it: reads across the two devices' ranges */
    assert_int_equal(op->buffer_get(be, zb, N * sizeof(float), out, N * sizeof(float)), 0);
    assert_int_equal(op->buffer_get(be, zb, 0, out, B * N * sizeof(float)), 0);
    /* and x, normed on device 0 */
    assert_int_equal(op->buffer_get(be, xb, 0, out + B * N, B * N * sizeof(float)), 0);
    op->buffer_unmap(be, w0);
    op->buffer_unmap(be, w1);
    op->buffer_unmap(be, g0);
    op->buffer_free(be, xb);
    op->buffer_free(be, yb);
    op->buffer_free(be, zb);
}

static void test_split_ops(void **state)
{
    (void)state;
    enum { N = 64, B = 4 };
    size_t rb;
    assert_int_equal(zt_quant_row_bytes(ZT_GGML_Q8_0, N, &rb), 0);
    uint8_t *w = malloc(2 * N * rb);
    float x[B * N], g[N], row[N], want[2 * B * N], got[2 * B * N];
    assert_non_null(w);
    uint32_t r = 12345;
    for (size_t i = 0; i < 2 * N; i++) {
        for (size_t k = 0; k < N; k++) {
            r = r * 1103515245u + 12345u;
            row[k] = (float)((r >> 8) % 2001) / 1000.0f - 1.0f;
        }
        assert_int_equal(zt_quant_row(ZT_GGML_Q8_0, row, w + i * rb, N), 0);
    }
    for (size_t i = 0; i < B * N; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (size_t i = 0; i < N; i++) g[i] = 0.5f + (float)i / 64.0f;
    struct zt__backend *one;
    struct zt__backend_params p = {.n_threads = 1, .exact = true};
    assert_int_equal(zt__backend_new("cpu", &p, &one), 0);
    run_chain(one, w, rb, x, g, want);
    zt__backend_free(one);
    for (size_t k = 0; k < sizeof backends / sizeof backends[0]; k++) {
        if (!usable(backends[k])) continue;
        static const unsigned devs[2] = {0, 0};
        struct zt__backend *be;
        /* w0 fits device 0's budget; g0 and w1 do not: they go to device 1 */
        assert_int_equal(zt__backend_new_split(backends[k], &p, devs, N * rb, &be), 0);
        assert_string_equal(be->ops->name, "split");
        assert_true(be->exact);
        run_chain(be, w, rb, x, g, got);
        assert_memory_equal(got, want, sizeof want);
        /* a buffer no op has used: nothing on the devices, reads as zeros;
         * a range set reads back between the zeros */
        struct zt__buffer *ub;
        uint8_t fresh[256], put[64];
        memset(fresh, 0x55, sizeof fresh);
        memset(put, 0xa7, sizeof put);
        assert_int_equal(be->ops->buffer_alloc(be, sizeof fresh, &ub), 0);
        assert_int_equal(be->ops->buffer_get(be, ub, 0, fresh, sizeof fresh), 0);
        for (size_t i = 0; i < sizeof fresh; i++) assert_int_equal(fresh[i], 0);
        assert_int_equal(be->ops->buffer_set(be, ub, 64, put, sizeof put), 0);
        assert_int_equal(be->ops->buffer_get(be, ub, 0, fresh, sizeof fresh), 0);
        for (size_t i = 0; i < sizeof fresh; i++) assert_int_equal(fresh[i], i >= 64 && i < 128 ? 0xa7 : 0);
        be->ops->buffer_free(be, ub);
        printf("split over two %s devices: a chain of ops across both, the bits of one CPU\n", backends[k]);
        zt__backend_free(be);
    }
    free(w);
}

/* Greedy on path split at split_bytes: the CPU's tokens and logits, bits. */
static void split_model(const char *path, const char *backend, uint64_t split_bytes)
{
    int32_t want[ZT_GREEDY_GEN], got[ZT_GREEDY_GEN];
    float *lw = malloc(32768 * sizeof(float)), *lg = malloc(32768 * sizeof(float));
    assert_true(lw && lg);
    zt_test_greedy(path, "cpu", false, want, lw);
    struct zt_model_run_opts ro = {.backend = backend, .deterministic = true, .device = 0, .device2 = 0,
                                   .split_bytes = split_bytes};
    zt_test_greedy_opts(path, &ro, got, lg);
    assert_memory_equal(got, want, sizeof want);
    assert_memory_equal(lg, lw, 512 * sizeof(float));
    printf("%s split over two %s devices at %llu bytes: %d greedy tokens and the last logits bit-identical to the "
           "CPU\n", path, backend, (unsigned long long)split_bytes, ZT_GREEDY_GEN);
    free(lw);
    free(lg);
}

static uint64_t file_bytes(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void test_split_models(void **state)
{
    (void)state;
    char stories[1024];
    zt_need_model("stories260K.gguf", stories, sizeof stories);
    char dir[] = "/tmp/zt-split-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char gen[128];
    snprintf(gen, sizeof gen, "%s/m.gguf", dir);
    struct zt_genmodel_opts o;
    zt_genmodel_defaults(&o);
    o.type = ZT_GGML_Q8_0;
    o.n_embd = 256;
    o.n_head = 8;
    o.n_head_kv = 2;
    o.n_ff = 512;
    o.n_layer = 4;
    o.n_vocab = 512;
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    assert_int_equal(zt_genmodel_write(&o, gen, &err), 0);
    zt_buf_deinit(&err);
    for (size_t k = 0; k < sizeof backends / sizeof backends[0]; k++) {
        if (!usable(backends[k])) continue;
        split_model(stories, backends[k], file_bytes(stories) / 2);
        split_model(gen, backends[k], file_bytes(gen) / 2);
    }
    unlink(gen);
    rmdir(dir);
}

static struct zt_model *load(const char *path, const struct zt_model_run_opts *ro)
{
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model *m = NULL;
    int rc = zt_model_load_opts(path, ro, &m, &err);
    if (rc) fprintf(stderr, "%s: %s\n", path, zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_buf_deinit(&err);
    return m;
}

/* n tokens of s (one batch), the logits of each into lg */
static void decode(struct zt_model *m, struct zt_seq *s, const int32_t *tok, size_t n, float *lg, size_t nv)
{
    struct zt_batch_item items[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) items[i] = (struct zt_batch_item){s, tok[i], lg + i * nv};
    assert_int_equal(zt_model_decode(m, items, n), 0);
}

static uint64_t both(const uint64_t v[2]) { return v[0] + v[1]; }

/* Device memory of a split model: each device holds the KV caches of its
 * own layers only (and the activations its ops use), where it used to hold
 * a copy of every buffer; a second sequence's caches come in one
 * allocation per device, of exactly its layers' rows; the logits stay the
 * CPU's bits throughout. */
static void split_memory(const char *path, const char *backend, uint64_t split_bytes)
{
    struct zt_model_run_opts cro = {.backend = "cpu", .deterministic = true};
    struct zt_model_run_opts ro = {.backend = backend, .deterministic = true, .split_bytes = split_bytes};
    struct zt_model *mc = load(path, &cro), *ms = load(path, &ro);
    struct zt__split_stats a, b, c;
    assert_int_equal(zt__backend_split_stats(zt__model_be(ms), &a), 0);
    assert_int_equal(zt__backend_split_stats(zt__model_be(mc), &b), ZT_EINVAL); /* not a split */
    const struct zt_hparams *hp = zt_model_hparams(ms);
    const uint32_t n_ctx = 128;
    const uint64_t kv = (uint64_t)hp->n_layer * n_ctx * hp->n_head_kv * hp->head_dim * sizeof(float); /* one cache */
    size_t nv = hp->n_vocab;
    float *want = malloc(16 * nv * sizeof(float)), *got = malloc(16 * nv * sizeof(float));
    assert_true(want && got);
    static const int32_t prompt[9] = {1, 403, 407, 261, 378, 270, 288, 317, 262};
    struct zt_seq *sc, *ss, *sc2, *ss2;
    assert_int_equal(zt_seq_new(mc, n_ctx, &sc), 0);
    assert_int_equal(zt_seq_new(ms, n_ctx, &ss), 0);
    /* the first sequence of its size: nothing on the devices before use */
    assert_int_equal(zt__backend_split_stats(zt__model_be(ms), &b), 0);
    assert_int_equal(both(b.held), both(a.held));
    decode(mc, sc, prompt, 9, want, nv);
    decode(ms, ss, prompt, 9, got, nv);
    assert_memory_equal(got, want, 9 * nv * sizeof(float));
    for (int g = 0; g < 8; g++) {
        int32_t t = (int32_t)((g * 37 + 5) % (int)nv);
        decode(mc, sc, &t, 1, want, nv);
        decode(ms, ss, &t, 1, got, nv);
        assert_memory_equal(got, want, nv * sizeof(float));
    }
    assert_int_equal(zt__backend_split_stats(zt__model_be(ms), &a), 0);
    /* a copy of every buffer on each device would be 2 * full; the two
     * caches (2 * kv) are now held once between the two devices */
    assert_true(a.held[0] > 0 && a.held[1] > 0);
    assert_true(a.held[0] < a.full && a.held[1] < a.full);
    assert_true(both(a.held) + 2 * kv <= 2 * a.full);
    /* a second sequence: its caches at once, one window per device, exactly
     * one copy of its rows in all */
    assert_int_equal(zt_seq_new(mc, n_ctx, &sc2), 0);
    assert_int_equal(zt_seq_new(ms, n_ctx, &ss2), 0);
    assert_int_equal(zt__backend_split_stats(zt__model_be(ms), &b), 0);
    assert_int_equal(both(b.held) - both(a.held), 2 * kv);
    assert_true(b.held[0] > a.held[0] && b.held[1] > a.held[1]);
    decode(mc, sc2, prompt, 9, want, nv);
    decode(ms, ss2, prompt, 9, got, nv);
    assert_memory_equal(got, want, 9 * nv * sizeof(float));
    assert_int_equal(zt__backend_split_stats(zt__model_be(ms), &c), 0);
    assert_int_equal(both(c.grown), both(b.grown)); /* no window grew for it */
    assert_int_equal(both(c.held), both(b.held));
    printf("%s split over two %s devices: engine buffers %llu + %llu bytes (peak %llu + %llu; %llu on each with a "
           "copy of every buffer), of which KV caches %llu per sequence in all (%llu with copies); weights %llu + "
           "%llu\n",
           path, backend, (unsigned long long)c.held[0], (unsigned long long)c.held[1],
           (unsigned long long)c.peak[0], (unsigned long long)c.peak[1], (unsigned long long)c.full,
           (unsigned long long)(2 * kv), (unsigned long long)(4 * kv), (unsigned long long)c.weights[0],
           (unsigned long long)c.weights[1]);
    zt_seq_free(ss2);
    zt_seq_free(sc2);
    zt_seq_free(ss);
    zt_seq_free(sc);
    assert_int_equal(zt__backend_split_stats(zt__model_be(ms), &c), 0);
    zt_model_free(ms);
    zt_model_free(mc);
    free(want);
    free(got);
}

static void test_split_memory(void **state)
{
    (void)state;
    char stories[1024];
    zt_need_model("stories260K.gguf", stories, sizeof stories);
    char dir[] = "/tmp/zt-splitmem-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char gen[128];
    snprintf(gen, sizeof gen, "%s/m.gguf", dir);
    struct zt_genmodel_opts o;
    zt_genmodel_defaults(&o);
    o.type = ZT_GGML_Q8_0;
    o.n_embd = 256;
    o.n_head = 8;
    o.n_head_kv = 2;
    o.n_ff = 512;
    o.n_layer = 4;
    o.n_vocab = 512;
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    assert_int_equal(zt_genmodel_write(&o, gen, &err), 0);
    zt_buf_deinit(&err);
    for (size_t k = 0; k < sizeof backends / sizeof backends[0]; k++) {
        if (!usable(backends[k])) continue;
        split_memory(stories, backends[k], file_bytes(stories) / 2);
        split_memory(gen, backends[k], file_bytes(gen) / 2);
    }
    unlink(gen);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_split_ops, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_split_models, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_split_memory, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
