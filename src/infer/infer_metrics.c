/* infer_metrics.c: the inference service's metric families, registered
 * with the node's registry (zt_metrics.h). See zt_infer.h. */
#include "zentalk/zt_infer.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_runner.h"

enum stat { S_LOADED, S_PROMPT, S_GENERATED, S_JOBS, S_SLOTS, S_QUEUE, S_N };

static const struct {
    const char *name, *help;
    enum zt_metric_type type;
} fams[S_N] = {
    [S_LOADED] = {"zentalk_models_loaded", "Models loaded in memory.", ZT_METRIC_GAUGE},
    [S_PROMPT] = {"zentalk_prompt_tokens_total", "Prompt tokens processed.", ZT_METRIC_COUNTER},
    [S_GENERATED] = {"zentalk_generated_tokens_total", "Tokens generated.", ZT_METRIC_COUNTER},
    [S_JOBS] = {"zentalk_inference_jobs_total", "Generation jobs finished.", ZT_METRIC_COUNTER},
    [S_SLOTS] = {"zentalk_inference_slots_active", "Sequences being decoded now.", ZT_METRIC_GAUGE},
    [S_QUEUE] = {"zentalk_inference_queue", "Jobs waiting for a slot.", ZT_METRIC_GAUGE},
};

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
    static const zt_metrics_fn fns[S_N] = {m_loaded, m_prompt, m_generated, m_jobs, m_slots, m_queue};
    int rc = 0;
    for (int i = 0; i < S_N && !rc; i++) rc = zt_metrics_add_fn(m, fams[i].name, fams[i].help, fams[i].type, fns[i], inf);
    return rc;
}
