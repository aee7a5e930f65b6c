/* infer_metrics.c: the inference service's metric families, registered
 * with the node's registry (zt_metrics.h). See zt_infer.h. */
#include "zentalk/zt_infer.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_runner.h"

enum stat { S_LOADED, S_PROMPT, S_GENERATED, S_JOBS, S_SLOTS, S_QUEUE, S_N };

static int emit(struct zt_infer *inf, struct zt_metrics_out *o, enum stat which)
{
    struct zt_runner_stats st;
    size_t n_loaded;
    zt_infer_stats(inf, &st, &n_loaded);
    const uint64_t v[S_N] = {n_loaded, st.prompt_tokens, st.generated_tokens, st.jobs_done, st.active_slots,
                             st.queued};
    return zt_metrics_emit_u64(o, NULL, NULL, v[which]);
}

static int m_loaded(void *ud, struct zt_metrics_out *o)
{
    return emit(ud, o, S_LOADED);
}
static int m_prompt(void *ud, struct zt_metrics_out *o)
{
    return emit(ud, o, S_PROMPT);
}
static int m_generated(void *ud, struct zt_metrics_out *o)
{
    return emit(ud, o, S_GENERATED);
}
static int m_jobs(void *ud, struct zt_metrics_out *o)
{
    return emit(ud, o, S_JOBS);
}
static int m_slots(void *ud, struct zt_metrics_out *o)
{
    return emit(ud, o, S_SLOTS);
}
static int m_queue(void *ud, struct zt_metrics_out *o)
{
    return emit(ud, o, S_QUEUE);
}

int zt_infer_register_metrics(struct zt_infer *inf, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[S_N] = {
        [S_LOADED] = {"zentalk_models_loaded", "Models loaded in memory.", ZT_METRIC_GAUGE, m_loaded},
        [S_PROMPT] = {"zentalk_prompt_tokens_total", "Prompt tokens processed.", ZT_METRIC_COUNTER, m_prompt},
        [S_GENERATED] = {"zentalk_generated_tokens_total", "Tokens generated.", ZT_METRIC_COUNTER, m_generated},
        [S_JOBS] = {"zentalk_inference_jobs_total", "Generation jobs finished.", ZT_METRIC_COUNTER, m_jobs},
        [S_SLOTS] = {"zentalk_inference_slots_active", "Sequences being decoded now.", ZT_METRIC_GAUGE, m_slots},
        [S_QUEUE] = {"zentalk_inference_queue", "Jobs waiting for a slot.", ZT_METRIC_GAUGE, m_queue},
    };
    return zt_metrics_add_fns(m, fams, S_N, inf);
}
