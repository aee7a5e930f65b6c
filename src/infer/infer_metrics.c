/* infer_metrics.c: the inference service's metric families, registered
 * with the node's registry (zt_metrics.h). See zt_infer.h. */
#include <stdio.h>

#include "gpu_pool.h"
#include "infer_int.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_runner.h"

enum stat { S_LOADED, S_PROMPT, S_GENERATED, S_JOBS, S_SLOTS, S_QUEUE, S_GPUS, S_EXACT, S_N };

/* Every family's callback: fams[i] is sample i of v. */
static int emit(void *ud, struct zt_metrics_out *o)
{
    struct zt_infer *inf = ud;
    struct zt_runner_stats st;
    size_t n_loaded;
    zt_infer_stats(inf, &st, &n_loaded);
    const uint64_t v[S_N] = {n_loaded,     st.prompt_tokens, st.generated_tokens,        st.jobs_done,
                             st.active_slots, st.queued,     zt__infer_gpu_devices(inf), !zt_engine_is_inexact()};
    return zt_metrics_emit_u64(o, NULL, NULL, v[zt_metrics_out_index(o)]);
}

/* ---- NVIDIA telemetry (NVML, read at each scrape) ---- */

enum nv_stat { NV_UTIL, NV_MEM_USED, NV_MEM_TOTAL, NV_TEMP, NV_POWER, NV_N };

static int nv_emit(struct zt_metrics_out *o, enum nv_stat which)
{
    struct zt_gpu_telemetry t[16];
    size_t n = 0;
    if (zt_engine_nvml(t, 16, &n, NULL, 0) != 0) return 0; /* no NVML: the family has no samples */
    for (size_t i = 0; i < n && i < 16; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "gpu=\"%u\"", t[i].index);
        int rc = 0;
        switch (which) {
        case NV_UTIL: rc = t[i].has_util ? zt_metrics_emit_u64(o, NULL, labels, t[i].util_pct) : 0; break;
        case NV_MEM_USED: rc = zt_metrics_emit_u64(o, NULL, labels, t[i].mem_used_mb << 20); break;
        case NV_MEM_TOTAL: rc = zt_metrics_emit_u64(o, NULL, labels, t[i].mem_total_mb << 20); break;
        case NV_TEMP: rc = t[i].has_temp ? zt_metrics_emit_u64(o, NULL, labels, t[i].temp_c) : 0; break;
        default: rc = t[i].has_power ? zt_metrics_emit(o, NULL, labels, t[i].power_mw / 1000.0) : 0; break;
        }
        if (rc) return rc;
    }
    return 0;
}

static int m_nv_avail(void *ud, struct zt_metrics_out *o)
{
    (void)ud;
    size_t n = 0;
    struct zt_gpu_telemetry t[1];
    return zt_metrics_emit_u64(o, NULL, NULL, zt_engine_nvml(t, 1, &n, NULL, 0) == 0 ? 1 : 0);
}
/* nv[1..]: the per-device samples, nv[i] is enum nv_stat i - 1. */
static int m_nv(void *ud, struct zt_metrics_out *o)
{
    (void)ud;
    return nv_emit(o, (enum nv_stat)(zt_metrics_out_index(o) - 1));
}

/* ---- the GPU pool, per device of the pool ---- */

enum pool_stat { P_HEALTHY, P_WEIGHTS, P_BUDGET, P_SLOTS, P_DRV_FREE, P_ROOM };

static int pool_emit(struct zt_infer *inf, struct zt_metrics_out *o, enum pool_stat which)
{
    struct zt__pool *p = zt__infer_pool(inf);
    /* the driver's reading: at most one every 5 s, however many scrapes */
    if (which == P_DRV_FREE || which == P_ROOM) zt__pool_refresh(p, 5000);
    for (size_t i = 0; i < zt__pool_count(p); i++) {
        struct zt__pool_entry e;
        zt__pool_get(p, i, &e);
        if (which == P_DRV_FREE && !e.drv_known) continue; /* the driver reports nothing: no sample */
        char labels[64];
        snprintf(labels, sizeof labels, "device=\"%zu\",gpu=\"%u\"", i, e.phys);
        const uint64_t vals[] = {[P_HEALTHY] = e.healthy, [P_WEIGHTS] = e.used, [P_BUDGET] = e.budget,
                                 [P_SLOTS] = e.slots_used, [P_DRV_FREE] = e.drv_free, [P_ROOM] = e.room};
        int rc = zt_metrics_emit_u64(o, NULL, labels, vals[which]);
        if (rc) return rc;
    }
    return 0;
}

/* pool[i] is enum pool_stat i. */
static int m_pool(void *ud, struct zt_metrics_out *o)
{
    return pool_emit(ud, o, (enum pool_stat)zt_metrics_out_index(o));
}

int zt_infer_register_metrics(struct zt_infer *inf, struct zt_metrics *m)
{
    static const struct zt_metrics_fam pool[] = {
        {"zentalk_gpu_pool_healthy", "1 while a device of the GPU pool is in it (0: a health check or an op failed).",
         ZT_METRIC_GAUGE, m_pool},
        {"zentalk_gpu_pool_weight_bytes", "Weight bytes of the models placed on a device of the GPU pool.",
         ZT_METRIC_GAUGE, m_pool},
        {"zentalk_gpu_pool_budget_bytes", "Device memory the GPU pool may fill with weights (gpu_pool.max_vram_mb).",
         ZT_METRIC_GAUGE, m_pool},
        {"zentalk_gpu_pool_slots_used", "Slots (gpu_pool.max_batch per device) held by the models on a device.",
         ZT_METRIC_GAUGE, m_pool},
        {"zentalk_gpu_pool_driver_free_bytes", "Free memory the driver reports for a device of the GPU pool "
         "(VK_EXT_memory_budget, cuMemGetInfo or NVML); no sample when it reports none.", ZT_METRIC_GAUGE, m_pool},
        {"zentalk_gpu_pool_room_bytes", "Weight bytes a new model may take on a device of the GPU pool: the budget "
         "less the weights placed, at most the driver's free memory less a margin.", ZT_METRIC_GAUGE, m_pool},
    };
    int prc = zt_metrics_add_fns(m, pool, sizeof pool / sizeof pool[0], inf);
    if (prc) return prc;
    static const struct zt_metrics_fam nv[] = {
        {"zentalk_gpu_nvml_available", "1 when NVML (NVIDIA telemetry) answers on this machine.", ZT_METRIC_GAUGE,
         m_nv_avail},
        {"zentalk_gpu_utilization_percent", "GPU busy share (NVML), per NVIDIA device.", ZT_METRIC_GAUGE, m_nv},
        {"zentalk_gpu_memory_used_bytes", "Device memory in use (NVML), per NVIDIA device.", ZT_METRIC_GAUGE,
         m_nv},
        {"zentalk_gpu_memory_total_bytes", "Device memory (NVML), per NVIDIA device.", ZT_METRIC_GAUGE, m_nv},
        {"zentalk_gpu_temperature_celsius", "Core temperature (NVML), per NVIDIA device.", ZT_METRIC_GAUGE,
         m_nv},
        {"zentalk_gpu_power_watts", "Board power draw (NVML), per NVIDIA device.", ZT_METRIC_GAUGE, m_nv},
    };
    int rc = zt_metrics_add_fns(m, nv, sizeof nv / sizeof nv[0], NULL);
    if (rc) return rc;
    static const struct zt_metrics_fam fams[S_N] = {
        [S_LOADED] = {"zentalk_models_loaded", "Models loaded in memory.", ZT_METRIC_GAUGE, emit},
        [S_PROMPT] = {"zentalk_prompt_tokens_total", "Prompt tokens processed.", ZT_METRIC_COUNTER, emit},
        [S_GENERATED] = {"zentalk_generated_tokens_total", "Tokens generated.", ZT_METRIC_COUNTER, emit},
        [S_JOBS] = {"zentalk_inference_jobs_total", "Generation jobs finished.", ZT_METRIC_COUNTER, emit},
        [S_SLOTS] = {"zentalk_inference_slots_active", "Sequences being decoded now.", ZT_METRIC_GAUGE, emit},
        [S_QUEUE] = {"zentalk_inference_queue", "Jobs waiting for a slot.", ZT_METRIC_GAUGE, emit},
        [S_GPUS] = {"zentalk_gpu_devices", "Devices of the GPU backend (gpu_pool.backend) seen at start; 0 on the CPU.",
                    ZT_METRIC_GAUGE, emit},
        [S_EXACT] = {"zentalk_compute_exact", "1 when the models compute the CPU engine's bits (0: a GPU's fast mode, "
                     "build id +fast).", ZT_METRIC_GAUGE, emit},
    };
    return zt_metrics_add_fns(m, fams, S_N, inf);
}
