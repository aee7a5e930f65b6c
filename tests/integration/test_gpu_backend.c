/* test_gpu_backend.c: choosing the compute backend from outside (issue 14,
 * wiring): `zentalk run --backend vulkan` writes the same greedy tokens as
 * the CPU on the test model (in the deterministic default and with
 * --fast), `--backend cuda` likewise on an NVIDIA GPU (refused with a
 * clear "not built" or "found no device" elsewhere), a node configured with
 * gpu_pool.backend: cuda refuses to start without a CUDA device, saying why, `zentalk gpus` lists the Vulkan devices, and a node on
 * vulkan answers the CPU node's greedy text, says so in /metrics, and
 * refuses (503) a model above gpu_pool.max_vram_mb. The Vulkan parts are skipped (with the reason) when the
 * build has no Vulkan backend, the machine no Vulkan device, or under
 * AddressSanitizer (Mesa's allocations upset LeakSanitizer, as in
 * test_vulkan).
 * Usage: test_gpu_backend PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static const char *cli;
static char model_path[1024];

/* zentalk run MODEL PROMPT -n 32 --temp 0 --json [extra...]: the exit
 * status, stdout and stderr merged in out */
static int run_greedy(const char *backend, bool fast, struct zt_buf *out)
{
    const char *args[16];
    int a = 0;
    args[a++] = "run";
    args[a++] = model_path;
    args[a++] = "Once upon a time";
    args[a++] = "-n";
    args[a++] = "32";
    args[a++] = "--temp";
    args[a++] = "0";
    args[a++] = "--threads";
    args[a++] = "1";
    args[a++] = "--json";
    args[a++] = "--backend";
    args[a++] = backend;
    if (fast) args[a++] = "--fast";
    args[a] = NULL;
    zt_buf_reset(out);
    return run_prog(cli, args, NULL, NULL, out, RUN_MERGE_STDERR);
}

/* zentalk run --backend B gives the CPU's 32 greedy tokens, in the
 * deterministic default and with --fast; a build without B says "not
 * built", a machine without its device "found no device" (both skips). */
static void run_same_tokens(const char *backend)
{
    if (!model_path[0]) zt_skip("tests/models/stories260K.gguf missing");
#ifdef ZT_TEST_ASAN
    zt_skip("GPU backends not tested under AddressSanitizer (the drivers' allocations upset LeakSanitizer)");
#endif
    struct zt_buf cpu, gpu;
    zt_buf_init(&cpu, 1u << 16);
    zt_buf_init(&gpu, 1u << 16);
    assert_int_equal(run_greedy("cpu", false, &cpu), 0);
    int st = run_greedy(backend, false, &gpu);
    if (st != 0 && strstr(zt_buf_str(&gpu), "not built")) {
        /* the refusal names the option and what the binary has */
        assert_int_equal(st, 1);
        assert_non_null(strstr(zt_buf_str(&gpu), "--backend"));
        assert_non_null(strstr(zt_buf_str(&gpu), "built here: cpu"));
        zt_buf_deinit(&cpu);
        zt_buf_deinit(&gpu);
        zt_skip("this build has no %s backend (refused with the reason)", backend);
    }
    if (st != 0 && (strstr(zt_buf_str(&gpu), "found no device") || strstr(zt_buf_str(&gpu), "did not start"))) {
        zt_buf_deinit(&cpu);
        zt_buf_deinit(&gpu);
        zt_skip("no %s device on this machine (refused with the reason)", backend);
    }
    if (st != 0) fprintf(stderr, "%s\n", zt_buf_str(&gpu));
    assert_int_equal(st, 0);
    json_t *jc = json_loads(zt_buf_str(&cpu), 0, NULL), *jv = json_loads(zt_buf_str(&gpu), 0, NULL);
    assert_non_null(jc);
    assert_non_null(jv);
    const char *tc = json_string_value(json_object_get(jc, "text"));
    assert_non_null(tc);
    assert_string_equal(json_string_value(json_object_get(jv, "text")), tc);
    assert_int_equal(json_integer_value(json_object_get(jv, "completion_tokens")), 32);
    printf("zentalk run --backend %s: the CPU's 32 greedy tokens\n", backend);
    json_decref(jv);
    /* the fast mode: greedy agreement on this model too */
    assert_int_equal(run_greedy(backend, true, &gpu), 0);
    jv = json_loads(zt_buf_str(&gpu), 0, NULL);
    assert_non_null(jv);
    assert_string_equal(json_string_value(json_object_get(jv, "text")), tc);
    json_decref(jv);
    json_decref(jc);
    zt_buf_deinit(&cpu);
    zt_buf_deinit(&gpu);
}

static void test_run_vulkan_same_tokens(void **state)
{
    (void)state;
    run_same_tokens("vulkan");
}

static void test_run_cuda_same_tokens(void **state)
{
    (void)state;
    run_same_tokens("cuda");
}

/* gpu_pool.backend: cuda (through the environment) stops the node at start */
static void test_node_cuda_refused(void **state)
{
    (void)state;
    struct node n;
    struct zt_buf err;
    zt_buf_init(&err, 1u << 16);
    const char *const env[] = {"ZENTALK_GPU_POOL_BACKEND=cuda", NULL};
    uint16_t port = node_start(&n, NULL, env, NULL, &err);
    node_cleanup(&n);
    if (port != 0) {
        zt_buf_deinit(&err);
        zt_skip("a CUDA device is present: the node started on it");
    }
    /* without nvcc at build time: "not built"; built, on a machine without
     * an NVIDIA GPU: "no cuda device" */
    const char *e = zt_buf_str(&err);
    if (!strstr(e, "not built") && !strstr(e, "no cuda device")) fprintf(stderr, "%s\n", e);
    assert_non_null(strstr(e, "cuda"));
    assert_true(strstr(e, "not built") || strstr(e, "no cuda device"));
    zt_buf_deinit(&err);
}

/* zentalk gpus lists the Vulkan devices (lavapipe here), --json too */
static void test_gpus_command(void **state)
{
    (void)state;
#ifdef ZT_TEST_ASAN
    zt_skip("Vulkan devices not enumerated under AddressSanitizer (Mesa's allocations upset LeakSanitizer)");
#endif
    struct zt_buf out;
    zt_buf_init(&out, 1u << 16);
    const char *const args[] = {"gpus", "--json", NULL};
    assert_int_equal(run_prog(cli, args, NULL, NULL, &out, 0), 0);
    json_t *j = json_loads(zt_buf_str(&out), 0, NULL);
    assert_non_null(j);
    json_t *g = json_object_get(j, "gpus");
    assert_true(json_is_array(g));
    if (!json_is_true(json_object_get(j, "vulkan_built")) || json_array_size(g) == 0) {
        json_decref(j);
        zt_buf_deinit(&out);
        zt_skip("no Vulkan backend or device here: the list is empty");
    }
    json_t *d = json_array_get(g, 0);
    assert_string_equal(json_string_value(json_object_get(d, "backend")), "vulkan");
    assert_true(json_integer_value(json_object_get(d, "memory_mb")) > 0);
    /* the driver's free memory: a number with its source, or null and why */
    json_t *fr = json_object_get(d, "free_mb");
    const char *from = json_string_value(json_object_get(d, "free_from"));
    assert_non_null(from);
    bool none = json_is_null(fr);
    assert_true(none || json_is_integer(fr));
    assert_int_equal(none, strncmp(from, "none: ", 6) == 0);
    printf("zentalk gpus: %s, driver free memory: %s\n", json_string_value(json_object_get(d, "name")),
           none ? from : "reported");
    json_decref(j);
    const char *const targs[] = {"gpus", NULL};
    assert_int_equal(run_prog(cli, targs, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "DETERMINISTIC"));
    assert_non_null(strstr(zt_buf_str(&out), "FREE"));
    if (none) assert_non_null(strstr(zt_buf_str(&out), "places by its own count"));
    zt_buf_deinit(&out);
}

/* A config dir serving stories260K with gpu-pool.yaml's body gpu (the
 * leading "gpu_pool:\n" added). */
static void gpu_config(char *dir, size_t cap, const char *gpu)
{
    tmp_dir(dir, cap, "gpucfg");
    char p[1200];
    snprintf(p, sizeof p, "%s/models.yaml", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f,
            "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
            "models:\n"
            "  - id: stories\n    path: %s\n    context_size: 256\n    temperature: 0.8\n    top_p: 0.95\n"
            "    top_k: 40\n    max_tokens: 24\n",
            model_path);
    fclose(f);
    snprintf(p, sizeof p, "%s/gpu-pool.yaml", dir);
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n%s", gpu);
    fclose(f);
}

/* A metric of a node: name (labels included) and the value read. */
struct probe {
    const char *name;
    long long v;
};

/* The text of a greedy completion (want 200; NULL for another status)
 * from a node with gpu-pool body gpu and environment env, then the values
 * of the metrics pr[0..n). */
static char *node_run(const char *gpu, const char *const *env, long want, struct probe *pr, size_t n)
{
    char dir[1024];
    gpu_config(dir, sizeof dir, gpu);
    const char *const args[] = {"--config", dir, NULL};
    struct node nd;
    node_spawn(&nd, args, env, true, NULL);
    json_t *j = post_json(nd.port, "/v1/completions", NULL,
                          "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"temperature\":0,"
                          "\"max_tokens\":24}",
                          want);
    char *text = NULL;
    if (want == 200) {
        const char *t = json_string_value(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "text"));
        assert_non_null(t);
        text = strdup(t);
    }
    json_decref(j);
    for (size_t i = 0; i < n; i++) pr[i].v = metric_value(nd.port, pr[i].name);
    node_cleanup(&nd);
    return text;
}

/* Greedy completions (at most k) from a node whose devices fail, until the
 * model cannot be placed any more (503, no healthy device left): each an
 * error, not a hang or a crash; then the metrics pr[0..n). Returns NULL. */
static char *node_run_n(const char *gpu, const char *const *env, int k, struct probe *pr, size_t n)
{
    char dir[1024];
    gpu_config(dir, sizeof dir, gpu);
    const char *const args[] = {"--config", dir, NULL};
    struct node nd;
    node_spawn(&nd, args, env, true, NULL);
    long status = 0;
    bool gone = false; /* the model could not be placed any more */
    for (int i = 0; i < k && !gone; i++) {
        struct resp r;
        http(nd.port, "POST", "/v1/completions", "application/json",
             "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"temperature\":0,\"max_tokens\":24}", &r);
        printf("request %d on a failing device: %ld %.200s\n", i + 1, r.status, zt_buf_str(&r.body));
        assert_true(r.status != 200);
        status = r.status;
        /* a 503 "its GPU failed" while the failed jobs end, then "could not be loaded" */
        gone = r.status == 503 && strstr(zt_buf_str(&r.body), "could not be loaded");
        resp_free(&r);
        if (!gone && r.status == 503) usleep(50 * 1000);
    }
    assert_int_equal(status, 503);
    assert_true(gone);
    for (size_t i = 0; i < n; i++) pr[i].v = metric_value(nd.port, pr[i].name);
    node_cleanup(&nd);
    return NULL;
}

/* node_run with the node's zentalk_gpu_devices and zentalk_compute_exact
 * in *devs, *exact */
static char *node_greedy(const char *gpu, long want, long long *devs, long long *exact)
{
    struct probe pr[2] = {{"zentalk_gpu_devices", 0}, {"zentalk_compute_exact", 0}};
    char *text = node_run(gpu, NULL, want, pr, 2);
    *devs = pr[0].v;
    *exact = pr[1].v;
    return text;
}

/* Skips the current test unless the model, a Vulkan backend and a device
 * are here (and not under AddressSanitizer). */
#define need_vulkan_node()                                                                                 \
    do {                                                                                                   \
        if (!model_path[0]) zt_skip("tests/models/stories260K.gguf missing");                             \
        if (asan_build()) zt_skip("Vulkan backend not tested under AddressSanitizer (Mesa's allocations " \
                                  "upset LeakSanitizer)");                                                 \
        if (!have_vulkan()) zt_skip("no Vulkan backend or device here");                                   \
    } while (0)

static bool asan_build(void)
{
#ifdef ZT_TEST_ASAN
    return true;
#else
    return false;
#endif
}

/* zentalk gpus --json lists a Vulkan device */
static bool have_vulkan(void)
{
    struct zt_buf probe;
    zt_buf_init(&probe, 1u << 16);
    const char *const gargs[] = {"gpus", "--json", NULL};
    int st = run_prog(cli, gargs, NULL, NULL, &probe, 0);
    bool have = st == 0 && strstr(zt_buf_str(&probe), "\"vulkan_built\":true") &&
                !strstr(zt_buf_str(&probe), "\"gpus\":[]");
    zt_buf_deinit(&probe);
    return have;
}

/* A node with gpu_pool.backend: vulkan answers the CPU node's greedy text
 * (deterministic mode), reports the device and exactness in /metrics, and
 * a gpu_pool.max_vram_mb below the model is refused (503), not crashed on. */
static void test_node_vulkan(void **state)
{
    (void)state;
    need_vulkan_node();
    long long devs, exact;
    char *cpu = node_greedy("", 200, &devs, &exact);
    assert_int_equal(devs, 0);
    assert_int_equal(exact, 1);
    char *vk = node_greedy("  backend: vulkan\n", 200, &devs, &exact);
    assert_true(devs >= 1);
    assert_int_equal(exact, 1);
    assert_string_equal(vk, cpu);
    free(vk);
    vk = node_greedy("  backend: vulkan\n  deterministic: false\n", 200, &devs, &exact);
    assert_int_equal(exact, 0);
    free(vk);
    assert_null(node_greedy("  backend: vulkan\n  max_vram_mb: 1\n", 503, &devs, &exact));
    assert_int_equal(exact, 1);
    printf("node on vulkan: the CPU node's greedy text \"%s\"; max_vram_mb 1: 503\n", cpu);
    free(cpu);
}

/* The GPU pool on two logical devices of lavapipe (gpu_pool.devices
 * [0, 0]): stories260K (1.1 MiB) does not fit one device's 1 MiB
 * (max_vram_mb), so its layers are split over both and the node answers
 * the CPU node's text, both devices holding weights in /metrics; with the
 * first device failing its health check (ZT_GPU_POOL_FAIL=0) and 2 MiB per
 * device, the model goes to the second and the first is out of the pool;
 * with the driver reporting no free memory on the first (ZT_GPU_POOL_FREE_MB)
 * likewise, its room 0 in /metrics; both out: 503, the node stays up. */
static void test_node_pool(void **state)
{
    (void)state;
    need_vulkan_node();
    long long devs, exact;
    char *cpu = node_greedy("", 200, &devs, &exact);
    struct probe pr[6] = {{"zentalk_gpu_pool_weight_bytes{device=\"0\",gpu=\"0\"}", 0},
                          {"zentalk_gpu_pool_weight_bytes{device=\"1\",gpu=\"0\"}", 0},
                          {"zentalk_gpu_pool_healthy{device=\"0\",gpu=\"0\"}", 0},
                          {"zentalk_gpu_pool_healthy{device=\"1\",gpu=\"0\"}", 0},
                          {"zentalk_gpu_pool_slots_used{device=\"1\",gpu=\"0\"}", 0},
                          {"zentalk_gpu_nvml_available", 0}};
    char *split = node_run("  backend: vulkan\n  devices: [\"0\", \"0\"]\n  max_vram_mb: 1\n", NULL, 200, pr, 6);
    assert_string_equal(split, cpu);
    assert_true(pr[0].v > 0 && pr[1].v > 0);
    assert_true(pr[0].v + pr[1].v > 1024 * 1024);
    assert_int_equal(pr[2].v, 1);
    assert_int_equal(pr[3].v, 1);
    assert_int_equal(pr[4].v, 2); /* max_batch 2: the device's slots, held by the model */
    assert_int_equal(pr[5].v, 0); /* no NVML here: reported, not crashed on */
    printf("pool [0, 0] at 1 MiB each: split %lld + %lld bytes, the CPU node's text\n", pr[0].v, pr[1].v);
    free(split);
    const char *const fail0[] = {"ZT_GPU_POOL_FAIL=0", NULL};
    char *moved = node_run("  backend: vulkan\n  devices: [\"0\", \"0\"]\n  max_vram_mb: 2\n", fail0, 200, pr, 4);
    assert_string_equal(moved, cpu);
    assert_int_equal(pr[0].v, 0);
    assert_true(pr[1].v > 1024 * 1024);
    assert_int_equal(pr[2].v, 0);
    assert_int_equal(pr[3].v, 1);
    free(moved);
    /* the driver reports nothing free on the first device (ZT_GPU_POOL_FREE_MB):
     * the model that fits its 2 MiB by the pool's count goes to the second */
    const char *const low0[] = {"ZT_GPU_POOL_FREE_MB=0:0", NULL};
    struct probe room[3] = {{"zentalk_gpu_pool_room_bytes{device=\"0\",gpu=\"0\"}", -1},
                            {"zentalk_gpu_pool_driver_free_bytes{device=\"0\",gpu=\"0\"}", -1},
                            {"zentalk_gpu_pool_weight_bytes{device=\"1\",gpu=\"0\"}", 0}};
    moved = node_run("  backend: vulkan\n  devices: [\"0\", \"0\"]\n  max_vram_mb: 2\n", low0, 200, room, 3);
    assert_string_equal(moved, cpu);
    assert_int_equal(room[0].v, 0);
    assert_int_equal(room[1].v, 0);
    assert_true(room[2].v > 1024 * 1024);
    free(moved);
    /* a device whose ops start failing at run time (ZT_VULKAN_FAIL_AFTER: every
     * instance fails after 40 dispatches, the health probe's one passes):
     * the model's device is taken out at the next request and the model
     * moves to the other, which fails too; then 503, the node stays up */
    const char *const failing[] = {"ZT_VULKAN_FAIL_AFTER=40", NULL};
    assert_null(node_run_n("  backend: vulkan\n  devices: [\"0\", \"0\"]\n  max_vram_mb: 2\n", failing, 20, pr, 4));
    assert_int_equal(pr[2].v, 0);
    assert_int_equal(pr[3].v, 0);
    const char *const fail_both[] = {"ZT_GPU_POOL_FAIL=0,1", NULL};
    assert_null(node_run("  backend: vulkan\n  devices: [\"0\", \"0\"]\n", fail_both, 503, pr, 4));
    assert_int_equal(pr[2].v, 0);
    assert_int_equal(pr[3].v, 0);
    free(cpu);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_gpu_backend ZENTALK_NODE ZENTALK [cuda]\n");
        return 2;
    }
    node_bin = argv[1];
    cli = argv[2];
    signal(SIGPIPE, SIG_IGN);
    if (!find_test_model("stories260K.gguf", model_path, sizeof model_path) || access(model_path, R_OK) != 0)
        model_path[0] = '\0';
    /* the CUDA run is its own ctest entry (test_gpu_backend_cuda, argument
     * "cuda"): it skips on a machine without an NVIDIA GPU, and that skip
     * must not hide that the Vulkan checks below ran and passed */
    if (argc > 3 && strcmp(argv[3], "cuda") == 0) {
        const struct CMUnitTest cuda[] = {cmocka_unit_test(test_run_cuda_same_tokens)};
        return zt_test_exit(cmocka_run_group_tests_name("gpu_backend_cuda", cuda, NULL, NULL));
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_vulkan_same_tokens),
        cmocka_unit_test(test_node_cuda_refused),
        cmocka_unit_test(test_gpus_command),
        cmocka_unit_test(test_node_vulkan),
        cmocka_unit_test(test_node_pool),
    };
    return zt_test_exit(cmocka_run_group_tests_name("gpu_backend", tests, NULL, NULL));
}
