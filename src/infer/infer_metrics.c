/* infer_metrics.c: the inference service's metric families, registered
 * with the node's registry (zt_metrics.h). See zt_infer.h. */
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

int zt_infer_register_metrics(struct zt_infer *inf, struct zt_metrics *m)
{
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
