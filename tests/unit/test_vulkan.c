/* test_vulkan.c: the Vulkan compute backend (src/engine/vulkan) at the
 * model level, on whatever Vulkan device the machine has (Mesa's lavapipe in
 * CI). The op-by-op comparison against the CPU is in test_backend_ops.c;
 * here: greedy generation on stories260K gives the CPU's tokens, a weight
 * type without kernels is refused cleanly, device-only memory through the
 * staging path, and a device index that does not exist is an error. Skipped (with the reason)
 * when the build has no Vulkan backend, the machine no Vulkan device, or
 * under AddressSanitizer (Mesa's allocations upset LeakSanitizer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/engine/backend.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_model.h"
#include "zt_test_greedy.h"


/* Skips the current test unless a Vulkan device is usable here. */
static void need_vulkan(void)
{
#ifdef ZT_TEST_ASAN
    zt_skip("Vulkan backend not tested under AddressSanitizer (Mesa's allocations upset LeakSanitizer)");
#endif
    bool built = false;
    for (size_t i = 0; i < zt__backend_count(); i++)
        if (!strcmp(zt__backend_at(i)->name, "vulkan")) built = true;
    if (!built) zt_skip("this build has no Vulkan backend (ZT_VULKAN: needs libvulkan-dev and glslc)");
    struct zt__backend *be;
    int rc = zt__backend_new("vulkan", NULL, &be);
    if (rc == ZT_ENOTFOUND) zt_skip("no Vulkan device on this machine (lavapipe: mesa-vulkan-drivers)");
    assert_int_equal(rc, 0);
    zt__backend_free(be);
}

static int64_t live_at_start;

static int setup(void **state)
{
    (void)state;
    live_at_start = zt_alloc_live();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(zt_alloc_live(), live_at_start);
    return 0;
}

enum { N_GEN = ZT_GREEDY_GEN };

static void greedy_mode(const char *path, const char *backend, bool det, int32_t *tokens, float *last)
{
    zt_test_greedy(path, backend, det, tokens, last);
}

static void greedy(const char *path, const char *backend, int32_t *tokens, float *last)
{
    greedy_mode(path, backend, false, tokens, last);
}

/* The deterministic mode (issue 14 item 3): the 40 tokens and every logit of
 * the last step bit for bit the CPU's (lavapipe has shaderFloat64; a device
 * without it loads in the fast mode, which is a skip here). */
static void test_deterministic_stories(void **state)
{
    (void)state;
    need_vulkan();
    char path[1024];
    zt_need_model("stories260K.gguf", path, sizeof path);
    struct zt__backend *be;
    struct zt__backend_params bp = {.exact = true};
    assert_int_equal(zt__backend_new("vulkan", &bp, &be), 0);
    bool det = be->exact;
    zt__backend_free(be);
    if (!det) zt_skip("this Vulkan device has no shaderFloat64: no deterministic mode");
    size_t nv = 512;
    int32_t want[N_GEN], got[N_GEN];
    float *lw = malloc(4096 * sizeof(float)), *lg = malloc(4096 * sizeof(float));
    assert_true(lw && lg);
    greedy(path, "cpu", want, lw);
    greedy_mode(path, "vulkan", true, got, lg);
    assert_memory_equal(got, want, sizeof want);
    assert_memory_equal(lg, lw, nv * sizeof(float));
    /* and through the staging path */
    setenv("ZT_VULKAN_STAGING", "1", 1);
    greedy_mode(path, "vulkan", true, got, lg);
    unsetenv("ZT_VULKAN_STAGING");
    assert_memory_equal(got, want, sizeof want);
    assert_memory_equal(lg, lw, nv * sizeof(float));
    printf("stories260K, deterministic mode: %d greedy tokens and the last %zu logits bit-identical to the CPU\n",
           N_GEN, nv);
    free(lw);
    free(lg);
}

static void test_greedy_stories(void **state)
{
    (void)state;
    need_vulkan();
    char path[1024];
    zt_need_model("stories260K.gguf", path, sizeof path);
    int32_t want[N_GEN], got[N_GEN];
    float *lw = malloc(4096 * sizeof(float)), *lg = malloc(4096 * sizeof(float));
    assert_true(lw && lg);
    greedy(path, "cpu", want, lw);
    /* device-only memory through the staging path, then the default */
    setenv("ZT_VULKAN_STAGING", "1", 1);
    greedy(path, "vulkan", got, lg);
    unsetenv("ZT_VULKAN_STAGING");
    assert_memory_equal(got, want, sizeof want);
    greedy(path, "vulkan", got, lg);
    for (int g = 0; g < N_GEN; g++) {
        if (want[g] != got[g]) fprintf(stderr, "step %d: vulkan %d, cpu %d\n", g, got[g], want[g]);
        assert_int_equal(got[g], want[g]);
    }
    double max_abs = 0, max_ref = 0;
    for (size_t v = 0; v < 512; v++) {
        double d = fabs((double)lw[v] - (double)lg[v]);
        if (d > max_abs) max_abs = d;
        if (fabs((double)lw[v]) > max_ref) max_ref = fabs((double)lw[v]);
    }
    printf("stories260K: %d greedy tokens equal; last logits max abs %.3g (rel %.3g)\n", N_GEN, max_abs,
           max_abs / max_ref);
    assert_true(max_abs / max_ref < 1e-3);
    free(lw);
    free(lg);
}

/* gpu_pool.max_vram_mb below the model: refused at load with the sizes,
 * nothing uploaded, no crash; the CPU ignores the budget. */
static void test_vram_budget(void **state)
{
    (void)state;
    need_vulkan();
    char path[1024];
    zt_need_model("stories260K.gguf", path, sizeof path);
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model *m = NULL;
    struct zt_model_run_opts ro = {.backend = "vulkan", .deterministic = true, .max_device_mb = 1};
    assert_int_equal(zt_model_load_opts(path, &ro, &m, &err), ZT_ETOOBIG);
    assert_null(m);
    assert_non_null(strstr(zt_buf_str(&err), "gpu_pool.max_vram_mb"));
    printf("max_vram_mb 1: %s\n", zt_buf_str(&err));
    zt_buf_reset(&err);
    ro.max_device_mb = 2;
    assert_int_equal(zt_model_load_opts(path, &ro, &m, &err), 0);
    zt_model_free(m);
    ro.backend = "cpu";
    ro.max_device_mb = 1;
    assert_int_equal(zt_model_load_opts(path, &ro, &m, &err), 0);
    zt_model_free(m);
    zt_buf_deinit(&err);
}

/* zt_engine_gpus (zentalk gpus) lists the device the backend runs on. */
static void test_list_devices(void **state)
{
    (void)state;
    need_vulkan();
    struct zt_gpu_info g[16];
    size_t n = 0;
    assert_int_equal(zt_engine_gpus(g, 16, &n), 0);
    assert_true(n >= 1);
    printf("device 0: %s (%s), %llu MiB, api %s, deterministic %s\n", g[0].name, g[0].type,
           (unsigned long long)g[0].memory_mb, g[0].api, g[0].deterministic ? "yes" : "no");
    assert_string_equal(g[0].backend, "vulkan");
    assert_true(g[0].name[0] != '\0');
    assert_true(g[0].memory_mb > 0);
}

/* A weight type the backend has no kernels for (Q8_K: activations only):
 * supports() says no (so a model with it is refused at load, naming backend,
 * type and tensor, as for every backend) and an op called with it anyway
 * fails cleanly instead of computing garbage. */
static void test_unsupported_type(void **state)
{
    (void)state;
    need_vulkan();
    struct zt__backend *be;
    assert_int_equal(zt__backend_new("vulkan", NULL, &be), 0);
    const struct zt__backend_ops *op = be->ops;
    assert_false(op->supports(be, ZT_GGML_Q8_K));
    assert_false(op->supports(be, ZT_GGML_TYPE_COUNT));
    struct zt__buffer *wb, *xb, *yb;
    assert_int_equal(op->buffer_alloc(be, 292 * 2, &wb), 0);
    assert_int_equal(op->buffer_alloc(be, 256 * 4, &xb), 0);
    assert_int_equal(op->buffer_alloc(be, 2 * 4, &yb), 0);
    struct zt__tensor w = {.buf = wb, .type = ZT_GGML_Q8_K, .ne0 = 256, .ne1 = 2, .nb1 = 292};
    struct zt__tensor x = zt__tensor_f32(xb, 0, 256, 1), y = zt__tensor_f32(yb, 0, 2, 1);
    assert_int_equal(op->matmul(be, &w, &x, &y), ZT_EUNSUPPORTED);
    int32_t ids[1] = {0};
    struct zt__tensor row = zt__tensor_f32(xb, 0, 256, 1);
    assert_int_equal(op->get_rows(be, &w, ids, &row), ZT_EUNSUPPORTED);
    /* a row id past the table is refused, not read */
    struct zt__tensor one = zt__tensor_f32(yb, 0, 2, 1);
    ids[0] = 2;
    struct zt__tensor t2 = zt__tensor_f32(xb, 0, 2, 2);
    assert_int_equal(op->get_rows(be, &t2, ids, &one), ZT_ERANGE);
    op->buffer_free(be, wb);
    op->buffer_free(be, xb);
    op->buffer_free(be, yb);
    zt__backend_free(be);
}

/* Device-only buffers (ZT_VULKAN_STAGING=1; what a discrete GPU without
 * resizable BAR gets): zero-filled, uploads and downloads at offsets
 * through the bounce buffer, weights copied in. */
static void test_staging(void **state)
{
    (void)state;
    need_vulkan();
    setenv("ZT_VULKAN_STAGING", "1", 1);
    struct zt__backend *be;
    assert_int_equal(zt__backend_new("vulkan", NULL, &be), 0);
    unsetenv("ZT_VULKAN_STAGING");
    const struct zt__backend_ops *op = be->ops;
    enum { N = 1000 };
    float src[N], got[N];
    for (int i = 0; i < N; i++) src[i] = (float)i * 0.25f - 7.0f;
    struct zt__buffer *b, *m;
    assert_int_equal(op->buffer_alloc(be, N * sizeof(float), &b), 0);
    assert_int_equal(op->buffer_get(be, b, 0, got, sizeof got), 0);
    for (int i = 0; i < N; i++) assert_true(got[i] == 0.0f && !signbit(got[i]));
    assert_int_equal(op->buffer_set(be, b, 40 * sizeof(float), src, 100 * sizeof(float)), 0);
    assert_int_equal(op->buffer_get(be, b, 40 * sizeof(float), got, 100 * sizeof(float)), 0);
    assert_memory_equal(got, src, 100 * sizeof(float));
    assert_int_equal(op->buffer_get(be, b, 39 * sizeof(float), got, sizeof(float)), 0);
    assert_true(got[0] == 0.0f);
    assert_int_equal(op->buffer_map(be, src, sizeof src, &m), 0);
    assert_int_equal(op->buffer_get(be, m, 0, got, sizeof got), 0);
    assert_memory_equal(got, src, sizeof src);
    /* an op between device-only buffers: b = m + m */
    struct zt__tensor mt = zt__tensor_f32(m, 0, 100, 10), bt = zt__tensor_f32(b, 0, 100, 10);
    assert_int_equal(op->add(be, &mt, &mt, &bt), 0);
    assert_int_equal(op->buffer_get(be, b, 0, got, sizeof got), 0);
    for (int i = 0; i < N; i++) assert_true(got[i] == src[i] + src[i]);
    op->buffer_unmap(be, m);
    op->buffer_free(be, b);
    zt__backend_free(be);
}

/* ZT_VULKAN_DEVICE picks the device; an index past the list is an error. */
static void test_device_index(void **state)
{
    (void)state;
    need_vulkan();
    struct zt__backend *be = NULL;
    setenv("ZT_VULKAN_DEVICE", "999", 1);
    assert_int_equal(zt__backend_new("vulkan", NULL, &be), ZT_ENOTFOUND);
    assert_null(be);
    setenv("ZT_VULKAN_DEVICE", "x", 1);
    assert_int_equal(zt__backend_new("vulkan", NULL, &be), ZT_EINVAL);
    setenv("ZT_VULKAN_DEVICE", "0", 1);
    assert_int_equal(zt__backend_new("vulkan", NULL, &be), 0);
    assert_false(be->exact);
    assert_true(be->ops->supports(be, ZT_GGML_Q8_0));
    assert_true(be->ops->supports(be, ZT_GGML_Q4_0));
    assert_true(be->ops->supports(be, ZT_GGML_Q4_K));
    zt__backend_free(be);
    unsetenv("ZT_VULKAN_DEVICE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_greedy_stories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_stories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vram_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_index, setup, teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
