/* cmd_gpus.c: `zentalk gpus [--json]`: every device of the GPU backends
 * built into this binary (Vulkan physical devices today), with its type,
 * device-local memory and whether the deterministic mode (the CPU's bits,
 * docs/internals/vulkan.md) is possible on it. Runs locally, no node. */
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
                   "Lists the compute devices of the GPU backends built into this binary (Vulkan):\n"
                   "index (ZT_VULKAN_DEVICE), name, type, device-local memory, API version, and whether\n"
                   "the deterministic mode (the CPU engine's bits) is possible on it.\n");
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
    if (zt_engine_gpus(g, MAX_GPUS, &n) != 0) {
        fprintf(stderr, "zentalk: gpus: out of memory\n");
        return 1;
    }
    if (n > MAX_GPUS) n = MAX_GPUS;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:s, s:I, s:b, s:s}", "backend", g[i].backend,
                                                 "index", (json_int_t)g[i].index, "name", g[i].name, "type",
                                                 g[i].type, "memory_mb", (json_int_t)g[i].memory_mb,
                                                 "deterministic", g[i].deterministic, "api", g[i].api));
        json_t *o = json_pack("{s:o, s:b}", "gpus", arr ? arr : json_array(), "vulkan_built", vk);
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
    if (!vk) {
        printf("no GPU backend in this binary (%s)\n", why);
        return 0;
    }
    if (n == 0) {
        printf("no Vulkan device (no driver, or none found)\n");
        return 0;
    }
    printf("%-8s %-5s %-40s %-10s %10s  %-8s %s\n", "BACKEND", "INDEX", "NAME", "TYPE", "MEMORY", "API",
           "DETERMINISTIC");
    for (size_t i = 0; i < n; i++)
        printf("%-8s %-5u %-40s %-10s %7llu MiB  %-8s %s\n", g[i].backend, g[i].index, g[i].name, g[i].type,
               (unsigned long long)g[i].memory_mb, g[i].api, g[i].deterministic ? "yes" : "no (no shaderFloat64)");
    return 0;
}
