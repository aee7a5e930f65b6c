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
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_model.h"
#include "zt_test_gpu.h"

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
    zt_test_gpu_same_bits(path, "vulkan");
    /* and through the staging path */
    setenv("ZT_VULKAN_STAGING", "1", 1);
    zt_test_gpu_same_bits(path, "vulkan");
    unsetenv("ZT_VULKAN_STAGING");
}

static void test_greedy_stories(void **state)
{
    (void)state;
    need_vulkan();
    char path[1024];
    zt_need_model("stories260K.gguf", path, sizeof path);
    /* device-only memory through the staging path, then the default */
    setenv("ZT_VULKAN_STAGING", "1", 1);
    zt_test_gpu_same_tokens(path, "vulkan");
    unsetenv("ZT_VULKAN_STAGING");
    zt_test_gpu_same_tokens(path, "vulkan");
}

/* gpu_pool.max_vram_mb below the model: refused at load with the sizes,
 * nothing uploaded, no crash; the CPU ignores the budget. */
static void test_vram_budget(void **state)
{
    (void)state;
    need_vulkan();
    char path[1024];
    zt_need_model("stories260K.gguf", path, sizeof path);
    zt_test_gpu_vram_budget(path, "vulkan");
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

/* A weight type the backend has no kernels for is refused (supports, ops). */
static void test_unsupported_type(void **state)
{
    (void)state;
    need_vulkan();
    zt_test_gpu_unsupported_type("vulkan");
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
        cmocka_unit_test_setup_teardown(test_greedy_stories, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_stories, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_vram_budget, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_list_devices, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_type, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_staging, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_device_index, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
