/* fake_nvml.c: a stand-in for libnvidia-ml.so.1 with two devices and fixed
 * readings, loaded by zt_engine_nvml through ZT_NVML_LIBRARY in
 * test_gpu_pool (this machine has no NVIDIA driver): the dlopen binding,
 * the structures and the telemetry paths run for real. Device 1 answers no
 * power reading (NVML_ERROR_NOT_SUPPORTED), as many boards do. */
#include <stdio.h>
#include <string.h>

struct dev {
    int id;
};
static struct dev devs[2] = {{0}, {1}};

struct nvml_util {
    unsigned gpu, memory;
};
struct nvml_mem {
    unsigned long long total, free, used;
};
struct nvml_pci {
    char bus_id_legacy[16];
    unsigned domain, bus, device, pci_device_id, pci_subsystem_id;
    char bus_id[32];
};

int nvmlInit_v2(void);
int nvmlDeviceGetCount_v2(unsigned *n);
int nvmlDeviceGetHandleByIndex_v2(unsigned i, struct dev **d);
int nvmlDeviceGetName(struct dev *d, char *name, unsigned len);
int nvmlDeviceGetMemoryInfo(struct dev *d, struct nvml_mem *m);
int nvmlDeviceGetUtilizationRates(struct dev *d, struct nvml_util *u);
int nvmlDeviceGetTemperature(struct dev *d, int sensor, unsigned *t);
int nvmlDeviceGetPowerUsage(struct dev *d, unsigned *mw);
int nvmlDeviceGetPciInfo_v3(struct dev *d, struct nvml_pci *p);

int nvmlInit_v2(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned *n)
{
    *n = 2;
    return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned i, struct dev **d)
{
    if (i > 1) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *d = &devs[i];
    return 0;
}
int nvmlDeviceGetName(struct dev *d, char *name, unsigned len)
{
    snprintf(name, len, "Fake GPU %d", d->id);
    return 0;
}
int nvmlDeviceGetMemoryInfo(struct dev *d, struct nvml_mem *m)
{
    m->total = 80ull << 30;
    m->used = (unsigned long long)(d->id + 1) << 30;
    m->free = m->total - m->used;
    return 0;
}
int nvmlDeviceGetUtilizationRates(struct dev *d, struct nvml_util *u)
{
    u->gpu = 40u + (unsigned)d->id;
    u->memory = 10;
    return 0;
}
int nvmlDeviceGetTemperature(struct dev *d, int sensor, unsigned *t)
{
    if (sensor != 0) return 2;
    *t = 60u + (unsigned)d->id;
    return 0;
}
int nvmlDeviceGetPowerUsage(struct dev *d, unsigned *mw)
{
    if (d->id == 1) return 3; /* NVML_ERROR_NOT_SUPPORTED */
    *mw = 312500;
    return 0;
}
int nvmlDeviceGetPciInfo_v3(struct dev *d, struct nvml_pci *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->bus_id, sizeof p->bus_id, "00000000:%02X:00.0", 0x17 + d->id);
    return 0;
}
