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
    printf("zentalk gpus: %s\n", json_string_value(json_object_get(d, "name")));
    json_decref(j);
    const char *const targs[] = {"gpus", NULL};
    assert_int_equal(run_prog(cli, targs, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "DETERMINISTIC"));
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

/* The text of a greedy completion from a node with gpu-pool body gpu; the
 * node's zentalk_gpu_devices and zentalk_compute_exact in *devs, *exact */
static char *node_greedy(const char *gpu, long want, long long *devs, long long *exact)
{
    char dir[1024];
    gpu_config(dir, sizeof dir, gpu);
    const char *const args[] = {"--config", dir, NULL};
    struct node n;
    node_spawn(&n, args, NULL, true, NULL);
    json_t *j = post_json(n.port, "/v1/completions", NULL,
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
    *devs = metric_value(n.port, "zentalk_gpu_devices");
    *exact = metric_value(n.port, "zentalk_compute_exact");
    node_cleanup(&n);
    return text;
}

/* A node with gpu_pool.backend: vulkan answers the CPU node's greedy text
 * (deterministic mode), reports the device and exactness in /metrics, and
 * a gpu_pool.max_vram_mb below the model is refused (503), not crashed on. */
static void test_node_vulkan(void **state)
{
    (void)state;
    if (!model_path[0]) zt_skip("tests/models/stories260K.gguf missing");
#ifdef ZT_TEST_ASAN
    zt_skip("Vulkan backend not tested under AddressSanitizer (Mesa's allocations upset LeakSanitizer)");
#endif
    struct zt_buf probe;
    zt_buf_init(&probe, 1u << 16);
    const char *const gargs[] = {"gpus", "--json", NULL};
    int st = run_prog(cli, gargs, NULL, NULL, &probe, 0);
    bool have = st == 0 && strstr(zt_buf_str(&probe), "\"vulkan_built\":true") &&
                !strstr(zt_buf_str(&probe), "\"gpus\":[]");
    zt_buf_deinit(&probe);
    if (!have) zt_skip("no Vulkan backend or device here");
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

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_gpu_backend ZENTALK_NODE ZENTALK\n");
        return 2;
    }
    node_bin = argv[1];
    cli = argv[2];
    signal(SIGPIPE, SIG_IGN);
    if (!find_test_model("stories260K.gguf", model_path, sizeof model_path) || access(model_path, R_OK) != 0)
        model_path[0] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_vulkan_same_tokens),
        cmocka_unit_test(test_run_cuda_same_tokens),
        cmocka_unit_test(test_node_cuda_refused),
        cmocka_unit_test(test_gpus_command),
        cmocka_unit_test(test_node_vulkan),
    };
    return zt_test_exit(cmocka_run_group_tests_name("gpu_backend", tests, NULL, NULL));
}
