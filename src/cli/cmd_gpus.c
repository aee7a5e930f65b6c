/* cmd_gpus.c: `zentalk gpus [--json]`: every device of the GPU backends
 * built into this binary (Vulkan physical devices, CUDA devices), with its
 * type, memory, the driver's free memory and whether the deterministic mode (the CPU's bits,
 * docs/internals/vulkan.md, cuda.md) is possible on it, then the NVIDIA
 * telemetry NVML gives (utilisation, memory in use, temperature, power),
 * or why there is none. Runs locally, no node. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_gpus.h"
#include "zentalk/zt_engine.h"

enum { MAX_GPUS = 16 };

int zt__cli_gpus(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("Usage: zentalk gpus [--json]\n"
                   "Lists the compute devices of the GPU backends built into this binary (Vulkan, CUDA):\n"
                   "index (ZT_VULKAN_DEVICE, ZT_CUDA_DEVICE), name, type, memory, free memory as the driver\n"
                   "reports it (VK_EXT_memory_budget, cuMemGetInfo or NVML; '-' when it reports none), API\n"
                   "version, and whether the deterministic mode (the CPU engine's bits) is possible on it;\n"
                   "then NVIDIA telemetry from NVML (utilisation, memory used, temperature, power), or why\n"
                   "NVML is not available.\n");
            return 0;
        } else {
            fprintf(stderr, "zentalk: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    struct zt_gpu_info g[MAX_GPUS];
    size_t n = 0;
    char why[256];
    bool vk = zt_engine_backend_built("vulkan", why, sizeof why) == 0;
    bool cu = zt_engine_backend_built("cuda", NULL, 0) == 0;
    if (zt_engine_gpus(g, MAX_GPUS, &n) != 0) {
        fprintf(stderr, "zentalk: gpus: out of memory\n");
        return 1;
    }
    if (n > MAX_GPUS) n = MAX_GPUS;
    struct zt_gpu_telemetry t[MAX_GPUS];
    size_t nt = 0;
    char nv_why[256] = "";
    bool nvml = zt_engine_nvml(t, MAX_GPUS, &nt, nv_why, sizeof nv_why) == 0;
    if (nt > MAX_GPUS) nt = MAX_GPUS;
    if (json) {
        json_t *arr = json_array(), *tel = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:s, s:I, s:o, s:s, s:b, s:s}", "backend",
                                                 g[i].backend, "index", (json_int_t)g[i].index, "name", g[i].name,
                                                 "type", g[i].type, "memory_mb", (json_int_t)g[i].memory_mb,
                                                 "free_mb",
                                                 g[i].has_free ? json_integer((json_int_t)g[i].free_mb) : json_null(),
                                                 "free_from", g[i].free_from, "deterministic", g[i].deterministic,
                                                 "api", g[i].api));
        for (size_t i = 0; tel && i < nt; i++) {
            json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I}", "index", (json_int_t)t[i].index, "name",
                                  t[i].name, "pci", t[i].pci, "memory_total_mb", (json_int_t)t[i].mem_total_mb,
                                  "memory_used_mb", (json_int_t)t[i].mem_used_mb, "memory_free_mb",
                                  (json_int_t)t[i].mem_free_mb);
            if (o && t[i].has_util) json_object_set_new(o, "utilization_pct", json_integer(t[i].util_pct));
            if (o && t[i].has_temp) json_object_set_new(o, "temperature_c", json_integer(t[i].temp_c));
            if (o && t[i].has_power) json_object_set_new(o, "power_w", json_real(t[i].power_mw / 1000.0));
            json_array_append_new(tel, o);
        }
        json_t *o = json_pack("{s:o, s:b, s:b, s:{s:b, s:s, s:o}}", "gpus", arr ? arr : json_array(), "vulkan_built",
                              vk, "cuda_built", cu, "nvml", "available", nvml, "reason", nvml ? "" : nv_why,
                              "devices", tel ? tel : json_array());
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (!s) {
            json_decref(o);
            return 1;
        }
        printf("%s\n", s);
        free(s);
        json_decref(o);
        return 0;
    }
    if (!vk && !cu) {
        printf("no GPU backend in this binary (%s)\n", why);
    } else if (n == 0) {
        printf("no GPU device (no driver, or none found)\n");
    } else {
        printf("%-8s %-5s %-40s %-10s %10s %10s  %-12s %s\n", "BACKEND", "INDEX", "NAME", "TYPE", "MEMORY", "FREE",
               "API", "DETERMINISTIC");
        for (size_t i = 0; i < n; i++) {
            char fr[32] = "-";
            if (g[i].has_free) snprintf(fr, sizeof fr, "%llu MiB", (unsigned long long)g[i].free_mb);
            printf("%-8s %-5u %-40s %-10s %7llu MiB %10s  %-12s %s\n", g[i].backend, g[i].index, g[i].name, g[i].type,
                   (unsigned long long)g[i].memory_mb, fr, g[i].api,
                   g[i].deterministic ? "yes" : "no (no shaderFloat64)");
        }
        for (size_t i = 0; i < n; i++)
            if (!g[i].has_free)
                printf("%s %u: the driver reports no free memory (%s); the GPU pool places by its own count\n",
                       g[i].backend, g[i].index,
                       strncmp(g[i].free_from, "none: ", 6) ? g[i].free_from : g[i].free_from + 6);
    }
    if (!nvml) {
        printf("NVML: %s\n", nv_why);
        return 0;
    }
    printf("\nNVML %-3s %-32s %-16s %6s %17s %6s %8s\n", "", "NAME", "PCI", "UTIL", "MEMORY USED", "TEMP", "POWER");
    for (size_t i = 0; i < nt; i++) {
        char util[16] = "-", temp[16] = "-", power[16] = "-";
        if (t[i].has_util) snprintf(util, sizeof util, "%u%%", t[i].util_pct);
        if (t[i].has_temp) snprintf(temp, sizeof temp, "%uC", t[i].temp_c);
        if (t[i].has_power) snprintf(power, sizeof power, "%.1fW", t[i].power_mw / 1000.0);
        printf("     %-3u %-32.32s %-16.16s %6s %7llu/%-6llu MiB %6s %8s\n", t[i].index, t[i].name, t[i].pci, util,
               (unsigned long long)t[i].mem_used_mb, (unsigned long long)t[i].mem_total_mb, temp, power);
    }
    return 0;
}
