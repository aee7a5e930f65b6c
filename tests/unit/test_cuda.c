/* test_cuda.c: the CUDA compute backend (src/engine/cuda) at the model
 * level, on an NVIDIA GPU. The op-by-op comparison against the CPU is
 * test_cuda_ops (test_backend_ops with ZT_OPS_BACKEND=cuda); here: greedy
 * generation on stories260K gives the CPU's tokens in the fast mode and the
 * CPU's bits (tokens and logits) in the deterministic mode, a weight type
 * without kernels is refused, a device budget below the model is refused,
 * a device that fails (the ZT_CUDA_FAIL_AFTER hook) answers errors from then
 * on, and a device index that does not exist is an error.
 *
 * Every GPU test is skipped, with the reason, when the build has no CUDA
 * backend (nvcc was not found) or the machine has no CUDA driver or device;
 * scripts/cuda_check.sh runs them on a GPU machine. What runs without a GPU
 * (test_no_device): with the backend built and no driver or device, the
 * backend reports "not found", a model asked to load on it fails with the
 * reason, and zentalk gpus lists no CUDA device: the binary does not need
 * libcuda to start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/backend.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_model.h"
#include "zt_test_gpu.h"

static bool cuda_built(void)
{
    for (size_t i = 0; i < zt__backend_count(); i++)
        if (!strcmp(zt__backend_at(i)->name, "cuda")) return true;
    return false;
}

/* Skips the current test unless a CUDA device is usable here. */
static void need_cuda(void)
{
#ifdef ZT_TEST_ASAN
    zt_skip("CUDA backend not tested under AddressSanitizer (the driver's allocations upset LeakSanitizer)");
#endif
    if (!cuda_built()) zt_skip("this build has no CUDA backend (nvcc was not found at build time)");
    struct zt__backend *be;
    int rc = zt__backend_new("cuda", NULL, &be);
    if (rc == ZT_ENOTFOUND)
        zt_skip("no CUDA driver or device on this machine: the CUDA backend was compiled but not run "
                "(scripts/cuda_check.sh runs it on a GPU machine)");
    assert_int_equal(rc, 0);
    zt__backend_free(be);
}

/* Built, but no driver or device: "not found", a clean load error, no
 * CUDA device listed. */
static void test_no_device(void **state)
{
    (void)state;
    if (!cuda_built()) zt_skip("this build has no CUDA backend (nvcc was not found at build time)");
    struct zt__backend *be = NULL;
    int rc = zt__backend_new("cuda", NULL, &be);
    if (rc == 0) {
        zt__backend_free(be);
        zt_skip("a CUDA device is present: the no-device path is not tested here");
    }
    assert_int_equal(rc, ZT_ENOTFOUND);
    assert_null(be);
    char path[1024];
    zt_need_model("stories260K.gguf", path, sizeof path);
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model *m = NULL;
    assert_int_equal(zt_model_load_on(path, "cuda", &m, &err), ZT_ENOTFOUND);
    assert_null(m);
    assert_non_null(strstr(zt_buf_str(&err), "cuda"));
    printf("no device: %s\n", zt_buf_str(&err));
    zt_buf_deinit(&err);
#ifdef ZT_TEST_ASAN
    /* the list enumerates the Vulkan devices too: Mesa's allocations upset LeakSanitizer */
    zt_skip_part("zentalk gpus' list not checked under AddressSanitizer (Mesa's allocations upset LeakSanitizer)");
#else
    struct zt_gpu_info g[16];
    size_t n = 0;
    assert_int_equal(zt_engine_gpus(g, 16, &n), 0);
    for (size_t i = 0; i < n && i < 16; i++) assert_string_not_equal(g[i].backend, "cuda");
#endif
}

static void test_greedy_stories(void **state)
{
    (void)state;
    need_cuda();
    char path[1024];
    zt_need_model("stories260K.gguf", path, sizeof path);
    zt_test_gpu_same_tokens(path, "cuda");
}

/* The deterministic mode: the tokens and every logit of the last step bit
 * for bit the CPU's. */
static void test_deterministic_stories(void **state)
{
    (void)state;
    need_cuda();
    char path[1024];
    zt_need_model("stories260K.gguf", path, sizeof path);
    zt_test_gpu_same_bits(path, "cuda");
}

/* gpu_pool.max_vram_mb below the model: refused at load, nothing uploaded. */
static void test_vram_budget(void **state)
{
    (void)state;
    need_cuda();
    char path[1024];
    zt_need_model("stories260K.gguf", path, sizeof path);
    zt_test_gpu_vram_budget(path, "cuda");
}

/* zt_engine_gpus (zentalk gpus) lists the CUDA devices. */
static void test_list_devices(void **state)
{
    (void)state;
    need_cuda();
    struct zt_gpu_info g[16];
    size_t n = 0;
    bool found = false;
    assert_int_equal(zt_engine_gpus(g, 16, &n), 0);
    for (size_t i = 0; i < n && i < 16; i++) {
        if (strcmp(g[i].backend, "cuda") != 0) continue;
        printf("cuda device %u: %s, %llu MiB, %s\n", g[i].index, g[i].name, (unsigned long long)g[i].memory_mb,
               g[i].api);
        assert_true(g[i].memory_mb > 0);
        assert_true(g[i].deterministic);
        found = true;
    }
    assert_true(found);
}

static void test_unsupported_type(void **state)
{
    (void)state;
    need_cuda();
    zt_test_gpu_unsupported_type("cuda");
}

/* ZT_CUDA_FAIL_AFTER=1: the first op works, the second fails with ZT_EIO,
 * and the instance answers ZT_EIO from then on (the GPU pool's health
 * check takes such a device out). */
static void test_failing_device(void **state)
{
    (void)state;
    need_cuda();
    setenv("ZT_CUDA_FAIL_AFTER", "1", 1);
    struct zt__backend *be;
    int rc = zt__backend_new("cuda", NULL, &be);
    unsetenv("ZT_CUDA_FAIL_AFTER");
    assert_int_equal(rc, 0);
    const struct zt__backend_ops *op = be->ops;
    struct zt__buffer *b;
    assert_int_equal(op->buffer_alloc(be, 64 * sizeof(float), &b), 0);
    struct zt__tensor t = zt__tensor_f32(b, 0, 64, 1);
    assert_int_equal(op->add(be, &t, &t, &t), 0);
    assert_int_equal(op->add(be, &t, &t, &t), ZT_EIO);
    float got[64];
    assert_int_equal(op->buffer_get(be, b, 0, got, sizeof got), ZT_EIO);
    assert_int_equal(op->add(be, &t, &t, &t), ZT_EIO);
    op->buffer_free(be, b);
    zt__backend_free(be);
}

/* ZT_CUDA_DEVICE picks the device; an index past the list is an error. */
static void test_device_index(void **state)
{
    (void)state;
    need_cuda();
    struct zt__backend *be = NULL;
    setenv("ZT_CUDA_DEVICE", "999", 1);
    assert_int_equal(zt__backend_new("cuda", NULL, &be), ZT_ENOTFOUND);
    assert_null(be);
    setenv("ZT_CUDA_DEVICE", "x", 1);
    assert_int_equal(zt__backend_new("cuda", NULL, &be), ZT_EINVAL);
    setenv("ZT_CUDA_DEVICE", "0", 1);
    assert_int_equal(zt__backend_new("cuda", NULL, &be), 0);
    assert_false(be->exact);
    assert_true(be->ops->supports(be, ZT_GGML_Q4_K));
    zt__backend_free(be);
    unsetenv("ZT_CUDA_DEVICE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_device, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_greedy_stories, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_stories, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_vram_budget, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_list_devices, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_type, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_failing_device, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_device_index, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
