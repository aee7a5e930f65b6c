/* nvml.c: NVIDIA telemetry through NVML (zt_engine.h zt_engine_nvml,
 * docs/internals/gpu_pool.md): libnvidia-ml.so.1 is loaded with dlopen on
 * first use and initialised once; a machine without it (no NVIDIA driver)
 * gets ZT_ENOTFOUND and the reason, never a crash. Only the few calls the
 * GPU pool reads are bound, by their versioned names. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_engine.h"

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
struct nvml_util {
    unsigned gpu, memory;
};
struct nvml_mem {
    unsigned long long total, free, used;
};
struct nvml_pci { /* nvmlPciInfo_t: only the bus id is read */
    char bus_id_legacy[16];
    unsigned domain, bus, device, pci_device_id, pci_subsystem_id;
    char bus_id[32];
};

static struct {
    void *lib;
    char why[160];
    nvmlReturn_t (*Init)(void);
    nvmlReturn_t (*DeviceGetCount)(unsigned *);
    nvmlReturn_t (*DeviceGetHandleByIndex)(unsigned, nvmlDevice_t *);
    nvmlReturn_t (*DeviceGetName)(nvmlDevice_t, char *, unsigned);
    nvmlReturn_t (*DeviceGetMemoryInfo)(nvmlDevice_t, struct nvml_mem *);
    nvmlReturn_t (*DeviceGetUtilizationRates)(nvmlDevice_t, struct nvml_util *);
    nvmlReturn_t (*DeviceGetTemperature)(nvmlDevice_t, int, unsigned *);
    nvmlReturn_t (*DeviceGetPowerUsage)(nvmlDevice_t, unsigned *);
    nvmlReturn_t (*DeviceGetPciInfo)(nvmlDevice_t, struct nvml_pci *);
} nv;

static pthread_once_t nv_once = PTHREAD_ONCE_INIT;
static bool nv_ok;

static void *sym(const char *name, bool *missing)
{
    void *f = dlsym(nv.lib, name);
    if (!f && !*missing) {
        snprintf(nv.why, sizeof nv.why, "NVML has no %s (too old?)", name);
        *missing = true;
    }
    return f;
}

static void nv_load(void)
{
    const char *env = getenv("ZT_NVML_LIBRARY");
    const char *path = env && *env ? env : "libnvidia-ml.so.1";
    nv.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!nv.lib) {
        const char *e = dlerror();
        snprintf(nv.why, sizeof nv.why, "NVML not available (%s: %s)", path, e ? e : "not found");
        return;
    }
    bool missing = false;
    void *f[9] = {sym("nvmlInit_v2", &missing),
                  sym("nvmlDeviceGetCount_v2", &missing),
                  sym("nvmlDeviceGetHandleByIndex_v2", &missing),
                  sym("nvmlDeviceGetName", &missing),
                  sym("nvmlDeviceGetMemoryInfo", &missing),
                  sym("nvmlDeviceGetUtilizationRates", &missing),
                  sym("nvmlDeviceGetTemperature", &missing),
                  sym("nvmlDeviceGetPowerUsage", &missing),
                  sym("nvmlDeviceGetPciInfo_v3", &missing)};
    if (missing) {
        dlclose(nv.lib);
        nv.lib = NULL;
        return;
    }
    memcpy(&nv.Init, &f[0], sizeof f[0]);
    memcpy(&nv.DeviceGetCount, &f[1], sizeof f[1]);
    memcpy(&nv.DeviceGetHandleByIndex, &f[2], sizeof f[2]);
    memcpy(&nv.DeviceGetName, &f[3], sizeof f[3]);
    memcpy(&nv.DeviceGetMemoryInfo, &f[4], sizeof f[4]);
    memcpy(&nv.DeviceGetUtilizationRates, &f[5], sizeof f[5]);
    memcpy(&nv.DeviceGetTemperature, &f[6], sizeof f[6]);
    memcpy(&nv.DeviceGetPowerUsage, &f[7], sizeof f[7]);
    memcpy(&nv.DeviceGetPciInfo, &f[8], sizeof f[8]);
    nvmlReturn_t r = nv.Init();
    if (r != 0) {
        snprintf(nv.why, sizeof nv.why, "NVML did not start (nvmlInit: %d; no NVIDIA driver running?)", r);
        return;
    }
    nv_ok = true;
}

int zt_engine_nvml(struct zt_gpu_telemetry *out, size_t cap, size_t *n, char *why, size_t why_size)
{
    *n = 0;
    pthread_once(&nv_once, nv_load);
    if (!nv_ok) {
        if (why && why_size) snprintf(why, why_size, "%s", nv.why);
        return ZT_ENOTFOUND;
    }
    unsigned count = 0;
    if (nv.DeviceGetCount(&count) != 0 || count == 0) {
        if (why && why_size) snprintf(why, why_size, "NVML sees no NVIDIA device");
        return ZT_ENOTFOUND;
    }
    for (unsigned i = 0; i < count && i < cap; i++) {
        struct zt_gpu_telemetry *t = &out[i];
        memset(t, 0, sizeof *t);
        t->index = i;
        nvmlDevice_t d;
        if (nv.DeviceGetHandleByIndex(i, &d) != 0) continue;
        if (nv.DeviceGetName(d, t->name, sizeof t->name) != 0) snprintf(t->name, sizeof t->name, "?");
        struct nvml_pci pci;
        memset(&pci, 0, sizeof pci);
        if (nv.DeviceGetPciInfo(d, &pci) == 0) snprintf(t->pci, sizeof t->pci, "%.31s", pci.bus_id);
        struct nvml_mem mem;
        if (nv.DeviceGetMemoryInfo(d, &mem) == 0) {
            t->mem_total_mb = mem.total >> 20;
            t->mem_used_mb = mem.used >> 20;
            t->mem_free_mb = mem.free >> 20;
        }
        struct nvml_util u;
        t->has_util = nv.DeviceGetUtilizationRates(d, &u) == 0;
        if (t->has_util) t->util_pct = u.gpu;
        t->has_temp = nv.DeviceGetTemperature(d, 0 /* NVML_TEMPERATURE_GPU */, &t->temp_c) == 0;
        t->has_power = nv.DeviceGetPowerUsage(d, &t->power_mw) == 0;
    }
    *n = count;
    return 0;
}
