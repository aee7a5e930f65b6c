/* zt_engine.h: the inference engine (GGUF models on the CPU).
 * Sub-modules have their own headers: zt_gguf.h (model files), zt_quant.h
 * (tensor formats and dot-product kernels), zt_tokenizer.h. */
#ifndef ZT_ENGINE_H
#define ZT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

/* "zentalk-engine/VERSION+COMMIT+MATH+ORDER" (e.g. "...+m1+k2"): names
 * the kernels, the math (zt_math.h's version) and the kernels' reduction
 * order version (docs/internals/quant.md; builds before "k2" had none) in
 * signed receipts. After zt_engine_mark_inexact()
 * it ends in "+fast": this process runs a model on a backend that is not
 * bit-identical to the CPU engine (a GPU in its fast mode), so its outputs
 * must not be compared by hash with exact workers'. */
const char *zt_engine_build_id(void);
/* The build id of work done with KV caches of element type kv (a
 * zt_ggml_type): zt_engine_build_id() for F32, with "+kv-f16" appended for
 * F16 (its outputs differ from F32's, so verifiers must compare like with
 * like). */
const char *zt_engine_build_id_kv(int kv);
/* The build id of work done with KV caches of type kv in precision mode
 * `precision` (enum zt_precision of zt_quant.h): zt_engine_build_id_kv(kv)
 * for EXACT, with "+bf16" after the KV part for the declared BF16 mode
 * (before "+fast"): receipts, checkpoints and a worker's descriptor name
 * the mode, so a verifier runs the same one. */
const char *zt_engine_build_id_mode(int kv, int precision);
/* Called once a model runs somewhere not exact (zt_model_exact() false). */
void zt_engine_mark_inexact(void);
/* true after zt_engine_mark_inexact() */
bool zt_engine_is_inexact(void);

/* 0 when the compute backend `name` (cpu, vulkan, cuda) is built into this
 * binary; else ZT_ENOTFOUND with the reason and the backends it has in why
 * (a NUL-terminated message, at most why_size bytes). */
int zt_engine_backend_built(const char *name, char *why, size_t why_size);

/* A compute device a GPU backend sees (`zentalk gpus`). */
struct zt_gpu_info {
    char backend[16];    /* "vulkan" */
    unsigned index;      /* the backend's device index (ZT_VULKAN_DEVICE) */
    char name[256];      /* the driver's device name */
    char type[16];       /* discrete, integrated, virtual, cpu, other */
    uint64_t memory_mb;  /* the largest device-local memory heap, MiB */
    bool deterministic;  /* the deterministic mode is possible (shaderFloat64) */
    char api[16];        /* the device's API version, "1.3.255" */
    /* Free device memory as the driver reports it now (other processes'
     * use included): Vulkan: heapBudget - heapUsage of that heap
     * (VK_EXT_memory_budget); CUDA: cuMemGetInfo, or NVML's memory free
     * when no context of this process is open on the device. */
    bool has_free;       /* the driver reported it */
    uint64_t free_mb;    /* MiB, when has_free */
    char free_from[48];  /* where free_mb came from, or why there is none */
};
/* Every device of every GPU backend built in: up to cap in out, the count
 * found in *n (0 when none, or no driver). 0 or ZT_ENOMEM. */
int zt_engine_gpus(struct zt_gpu_info *out, size_t cap, size_t *n);

/* A health probe of device `device` of `backend`: a fresh instance (the
 * deterministic mode), a small op, its result compared with the exact
 * one. 0, or the error (why says what failed). */
int zt_engine_probe(const char *backend, unsigned device, char *why, size_t why_size);

/* NVIDIA telemetry from NVML (libnvidia-ml.so.1, loaded with dlopen on
 * first use: nothing links it, and a machine without it is reported, not
 * crashed on). */
struct zt_gpu_telemetry {
    unsigned index;          /* NVML's index */
    char name[96];
    char pci[32];            /* PCI bus id, "00000000:17:00.0" */
    uint64_t mem_total_mb, mem_used_mb, mem_free_mb;
    bool has_util, has_temp, has_power; /* the driver answered for these */
    unsigned util_pct;       /* GPU busy share over the driver's last sample period */
    unsigned temp_c;         /* core temperature */
    unsigned power_mw;       /* board power draw */
};
/* Every NVIDIA device NVML sees: up to cap in out, the count in *n.
 * ZT_ENOTFOUND when NVML is not usable here (why says: not installed, no
 * device, the driver did not start); ZT_NVML_LIBRARY=path loads another
 * library (tests). */
int zt_engine_nvml(struct zt_gpu_telemetry *out, size_t cap, size_t *n, char *why, size_t why_size);

#endif
