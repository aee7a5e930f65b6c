/* test_gpu_pool.c: the GPU pool (src/infer/gpu_pool.c) and NVML
 * telemetry (src/engine/nvml.c, zt_engine_nvml).
 *
 * - NVML through a stand-in library (tests/common/fake_nvml.c, two devices,
 *   one without a power reading): the values arrive, the missing reading
 *   is reported as missing; without the stand-in (ZT_NVML_LIBRARY naming a
 *   file that does not exist, in a child-free way: a second library path is
 *   not loadable after the first, so that case is the integration test's,
 *   on this machine without NVML).
 * - Placement on two logical devices of lavapipe ([0, 0], 1 MiB each): the
 *   device with the most room, then the other, then a split over both, a
 *   refusal with the sizes; slots per device; a device failing its health
 *   check (ZT_GPU_POOL_FAIL) and a device failed by an op, both out of the
 *   pool. Skipped with the reason without Vulkan or under AddressSanitizer.
 * - The driver's free memory (faked per entry with ZT_GPU_POOL_FREE_MB):
 *   a model that fits the own count but not the driver's figure less the
 *   margin goes elsewhere, or is refused naming the driver; two logical
 *   devices share one driver figure; a model placed but not loaded counts,
 *   and so does one loaded while the driver was being asked, until a
 *   reading taken after its load; no figure (lavapipe has no
 *   VK_EXT_memory_budget) leaves the own count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/infer/gpu_pool.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"

static void test_nvml_fake(void **state)
{
    (void)state;
    setenv("ZT_NVML_LIBRARY", ZT_FAKE_NVML, 1);
    struct zt_gpu_telemetry t[4];
    size_t n = 0;
    char why[256] = "";
    assert_int_equal(zt_engine_nvml(t, 4, &n, why, sizeof why), 0);
    assert_int_equal(n, 2);
    assert_string_equal(t[0].name, "Fake GPU 0");
    assert_string_equal(t[1].pci, "00000000:18:00.0");
    assert_int_equal(t[0].mem_total_mb, 80 * 1024);
    assert_int_equal(t[1].mem_used_mb, 2 * 1024);
    assert_int_equal(t[1].mem_free_mb, 78 * 1024);
    assert_true(t[0].has_util && t[0].util_pct == 40 && t[1].util_pct == 41);
    assert_true(t[0].has_temp && t[0].temp_c == 60);
    assert_true(t[0].has_power && t[0].power_mw == 312500);
    assert_false(t[1].has_power); /* not supported on that board: missing, not zero */
    /* a smaller array: the count is still the devices' */
    assert_int_equal(zt_engine_nvml(t, 1, &n, NULL, 0), 0);
    assert_int_equal(n, 2);
}

static bool have_vulkan(void)
{
#ifdef ZT_TEST_ASAN
    zt_skip_part("Vulkan devices not used under AddressSanitizer (Mesa's allocations upset LeakSanitizer)");
    return false;
#else
    struct zt_gpu_info g[8];
    size_t n = 0;
    assert_int_equal(zt_engine_gpus(g, 8, &n), 0);
    for (size_t i = 0; i < n && i < 8; i++)
        if (!strcmp(g[i].backend, "vulkan")) return true;
    zt_skip_part("no Vulkan device here (the pool needs a GPU backend's device list)");
    return false;
#endif
}

static void test_placement(void **state)
{
    (void)state;
    if (!have_vulkan()) return;
    static const char *const devs[] = {"0", "0"};
    struct zt__pool *p;
    unsetenv("ZT_GPU_POOL_FAIL");
    assert_int_equal(zt__pool_new("vulkan", devs, 2, 1, 2, &p), 0);
    assert_int_equal(zt__pool_count(p), 2);
    const uint64_t mib = 1024 * 1024;
    struct zt__place a, b, c, d;
    char why[384];
    assert_int_equal(zt__pool_place(p, 6 * mib / 10, 1, &a, why, sizeof why), 0);
    assert_int_equal(a.e[0], 0);
    assert_int_equal(a.e[1], -1);
    assert_int_equal(a.phys[0], 0);
    assert_int_equal(zt__pool_place(p, 6 * mib / 10, 1, &b, why, sizeof why), 0);
    assert_int_equal(b.e[0], 1); /* the most room */
    /* 0.4 MiB left on each: 0.6 MiB only as a split over both */
    assert_int_equal(zt__pool_place(p, 6 * mib / 10, 1, &c, why, sizeof why), 0);
    assert_true(c.e[0] >= 0 && c.e[1] >= 0 && c.e[0] != c.e[1]);
    assert_int_equal(c.bytes[0] + c.bytes[1], 6 * mib / 10);
    /* every slot taken (2 per device): even a small model waits for one */
    assert_int_equal(zt__pool_place(p, 1000, 1, &d, why, sizeof why), ZT_ETOOBIG);
    assert_non_null(strstr(why, "0 healthy devices with a free slot"));
    zt__pool_release(p, &c);
    zt__pool_release(p, &b);
    assert_int_equal(zt__pool_place(p, 12 * mib / 10, 1, &c, why, sizeof why), 0);
    assert_int_equal(c.e[0], 1);
    assert_int_equal(c.e[1], 0);
    assert_int_equal(c.bytes[0], mib);
    assert_int_equal(c.bytes[1], 12 * mib / 10 - mib);
    struct zt__pool_entry e;
    zt__pool_get(p, 1, &e);
    assert_int_equal(e.used, mib);
    assert_int_equal(e.slots_used, 1);
    assert_int_equal(zt__pool_place(p, mib, 1, &d, why, sizeof why), ZT_ETOOBIG);
    assert_non_null(strstr(why, "gpu_pool.max_vram_mb"));
    printf("refused: %s\n", why);
    /* an op of the split model failed: both its devices are out */
    zt__pool_fail(p, &c, "test");
    zt__pool_get(p, 0, &e);
    assert_false(e.healthy);
    assert_string_equal(e.why, "test");
    zt__pool_release(p, &c);
    zt__pool_release(p, &a);
    assert_int_equal(zt__pool_place(p, 1000, 1, &d, why, sizeof why), ZT_ETOOBIG);
    zt__pool_free(p);

    /* the first device fails its health check: the second takes the model */
    setenv("ZT_GPU_POOL_FAIL", "0", 1);
    assert_int_equal(zt__pool_new("vulkan", devs, 2, 2, 1, &p), 0);
    assert_int_equal(zt__pool_place(p, mib, 4, &a, why, sizeof why), 0);
    assert_int_equal(a.e[0], 1);
    assert_int_equal(a.slots, 1); /* the device's one slot */
    zt__pool_get(p, 0, &e);
    assert_false(e.healthy);
    assert_non_null(strstr(e.why, "health probe"));
    zt__pool_free(p);
    unsetenv("ZT_GPU_POOL_FAIL");

    /* an index past the backend's devices */
    static const char *const bad[] = {"7"};
    assert_int_equal(zt__pool_new("vulkan", bad, 1, 0, 1, &p), ZT_ENOTFOUND);
}

/* A pool of two logical devices on Vulkan device 0 (two slots each), the
 * failure and free-memory fakes cleared: the driver-memory tests' GPU. */
static struct zt__pool *two_views(void)
{
    static const char *const devs[] = {"0", "0"};
    struct zt__pool *p = NULL;
    unsetenv("ZT_GPU_POOL_FAIL");
    unsetenv("ZT_GPU_POOL_FREE_MB");
    assert_int_equal(zt__pool_new("vulkan", devs, 2, 2, 2, &p), 0);
    return p;
}

/* The driver's free memory (ZT_GPU_POOL_FREE_MB fakes it per entry):
 * a device that holds a model by the pool's own count but not by the
 * driver's figure less the margin is passed over, or the model refused
 * with the driver named; a driver that reports nothing leaves the own
 * count (lavapipe's real case: it has no VK_EXT_memory_budget). */
static void test_driver_free(void **state)
{
    (void)state;
    if (!have_vulkan()) return;
    const uint64_t mib = 1024 * 1024;
    struct zt__pool_entry e;
    struct zt__place a, b;
    char why[384], hook[64];
    struct zt__pool *p = two_views();
    /* what the driver says here, unfaked */
    struct zt_gpu_info g[8];
    size_t n = 0;
    assert_int_equal(zt_engine_gpus(g, 8, &n), 0);
    zt__pool_refresh(p, 0);
    zt__pool_get(p, 0, &e);
    assert_true(e.margin >= 256 * mib);
    for (size_t i = 0; i < n && i < 8; i++)
        if (!strcmp(g[i].backend, "vulkan") && g[i].index == 0) {
            assert_int_equal(e.drv_known, g[i].has_free);
            printf("vulkan 0 (%s): driver free memory %s%s\n", g[i].name, g[i].has_free ? "reported by " : "",
                   g[i].free_from);
        }
    if (!e.drv_known) assert_int_equal(e.room, e.budget); /* the own count */
    uint64_t m = e.margin / mib;
    /* a quarter MiB on device 0; the driver then leaves device 1 1 MiB */
    assert_int_equal(zt__pool_place(p, mib / 4, 1, &a, why, sizeof why), 0);
    assert_int_equal(a.e[0], 0);
    zt__pool_loaded(p, &a); /* from now the driver's reading would show it */
    snprintf(hook, sizeof hook, "1:%llu", (unsigned long long)m + 1);
    setenv("ZT_GPU_POOL_FREE_MB", hook, 1);
    /* 1.5 MiB: the own count would take device 1 (2 MiB free there, 1.75 on
     * device 0); the driver's figure sends it to device 0 */
    assert_int_equal(zt__pool_place(p, 3 * mib / 2, 1, &b, why, sizeof why), 0);
    assert_int_equal(b.e[0], 0);
    assert_int_equal(b.e[1], -1);
    zt__pool_get(p, 1, &e);
    assert_true(e.drv_known);
    assert_int_equal(e.drv_free, (m + 1) * mib);
    assert_int_equal(e.room, 0); /* b is placed on the same GPU, not loaded: the reading cannot show it yet */
    assert_non_null(strstr(e.drv_from, "ZT_GPU_POOL_FREE_MB"));
    zt__pool_loaded(p, &b);
    zt__pool_get(p, 1, &e);
    assert_int_equal(e.room, 0); /* loaded after the reading in use was taken: still held */
    zt__pool_refresh(p, 0);      /* a reading taken since (the fake figure as it is) */
    zt__pool_get(p, 1, &e);
    assert_int_equal(e.room, mib);
    zt__pool_release(p, &b);
    zt__pool_release(p, &a);
    /* both logical devices of the one GPU at 1 MiB by the driver: 1.5 MiB
     * fits neither, nor both together (they share the driver's figure) */
    snprintf(hook, sizeof hook, "0:%llu,1:%llu", (unsigned long long)m + 1, (unsigned long long)m + 1);
    setenv("ZT_GPU_POOL_FREE_MB", hook, 1);
    assert_int_equal(zt__pool_place(p, 3 * mib / 2, 1, &b, why, sizeof why), ZT_ETOOBIG);
    printf("refused: %s\n", why);
    assert_non_null(strstr(why, "the driver reports"));
    assert_non_null(strstr(why, "margin"));
    /* 1 MiB still fits one of them */
    assert_int_equal(zt__pool_place(p, mib, 1, &b, why, sizeof why), 0);
    assert_int_equal(b.e[1], -1);
    /* placed but not loaded: the driver's reading cannot show it yet, so
     * the GPU's other logical device has nothing left by the driver */
    assert_int_equal(zt__pool_place(p, mib / 2, 1, &a, why, sizeof why), ZT_ETOOBIG);
    zt__pool_loaded(p, &b);
    zt__pool_release(p, &b);
    /* a driver that reports nothing: the own count alone */
    setenv("ZT_GPU_POOL_FREE_MB", "0:none,1:none", 1);
    assert_int_equal(zt__pool_place(p, 3 * mib / 2, 1, &b, why, sizeof why), 0);
    zt__pool_get(p, (size_t)b.e[0], &e);
    assert_false(e.drv_known);
    assert_int_equal(e.room, e.budget - 3 * mib / 2);
    zt__pool_release(p, &b);
    unsetenv("ZT_GPU_POOL_FREE_MB");
    zt__pool_free(p);
}

struct load_in_window {
    struct zt__pool *p;
    struct zt__place *pl;
    int calls;
};

static void load_now(void *arg)
{
    struct load_in_window *w = arg;
    if (w->calls++ == 0) zt__pool_loaded(w->p, w->pl);
}

/* A model that finishes loading while the driver is being asked (between
 * the reading and its use, outside the pool's lock) is in neither the
 * reading nor the placed-but-not-loaded count unless the pool keeps it
 * until a reading taken after its load: the other logical device of the
 * GPU was given the model's bytes twice. */
static void test_driver_free_race(void **state)
{
    (void)state;
    if (!have_vulkan()) return;
    const uint64_t mib = 1024 * 1024;
    struct zt__pool_entry e;
    struct zt__place a;
    char why[384], hook[64];
    struct zt__pool *p = two_views();
    zt__pool_get(p, 0, &e);
    uint64_t m = e.margin / mib;
    /* the GPU has 2 MiB free above the margin, by the driver */
    snprintf(hook, sizeof hook, "0:%llu,1:%llu", (unsigned long long)m + 2, (unsigned long long)m + 2);
    setenv("ZT_GPU_POOL_FREE_MB", hook, 1);
    assert_int_equal(zt__pool_place(p, mib, 1, &a, why, sizeof why), 0);
    assert_int_equal(a.e[0], 0);
    zt__pool_get(p, 1, &e);
    assert_int_equal(e.room, mib); /* a is placed, not loaded */
    /* a reading taken before a's load (the same 2 MiB), a loaded while it
     * is taken: the other device still has 1 MiB, not 2 */
    struct load_in_window w = {p, &a, 0};
    zt__pool_test_read_hook(p, load_now, &w);
    zt__pool_refresh(p, 0);
    assert_int_equal(w.calls, 1);
    zt__pool_get(p, 1, &e);
    assert_int_equal(e.room, mib);
    /* the next reading is taken after the load and shows it: 1 MiB */
    snprintf(hook, sizeof hook, "0:%llu,1:%llu", (unsigned long long)m + 1, (unsigned long long)m + 1);
    setenv("ZT_GPU_POOL_FREE_MB", hook, 1);
    zt__pool_refresh(p, 0);
    zt__pool_get(p, 1, &e);
    assert_int_equal(e.room, mib);
    zt__pool_test_read_hook(p, NULL, NULL);
    zt__pool_release(p, &a);
    unsetenv("ZT_GPU_POOL_FREE_MB");
    zt__pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nvml_fake),
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_driver_free),
        cmocka_unit_test(test_driver_free_race),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
