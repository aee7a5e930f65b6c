/* infer_int.h: what the files of src/infer share (internal to src/infer). */
#ifndef ZT_INFER_INT_H
#define ZT_INFER_INT_H

#include <pthread.h>

#include "zentalk/zt_infer.h"

#define ZT__INFER_MAX_BIAS 300
#define ZT__INFER_TEXT_MAX ((size_t)16 << 20)

/* Resolve id ("" or NULL: the default) and return its runner, loading it
 * when needed; pair with zt__infer_release(). Refusals as
 * zt_infer_load(). */
ZT_NODISCARD int zt__infer_acquire(struct zt_infer *inf, const char *id, struct zt_runner **out,
                                   const struct zt_cfg_model **entry, struct zt_infer_err *err);
void zt__infer_release(struct zt_infer *inf, struct zt_runner *r);
/* The GPU pool (gpu_pool.h), NULL on the CPU. */
struct zt__pool *zt__infer_pool(const struct zt_infer *inf);
/* Devices of the GPU backend the models run on, counted at start (0 on the CPU). */
unsigned zt__infer_gpu_devices(const struct zt_infer *inf);
/* SHA-256 of entry e's file, loaded as runner r (acquired): read once per
 * load and kept. ZT_EIO, ZT_ENOMEM. */
ZT_NODISCARD int zt__infer_model_sha256(struct zt_infer *inf, const struct zt_cfg_model *e, const struct zt_runner *r,
                                        uint8_t out[static 32]);

/* Fill err (message formatted); returns rc. */
int zt__infer_fail(struct zt_infer_err *err, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A request checked, its model acquired and its prompt tokenized:
 * everything zt_runner_submit() needs. params.stop points into stop_buf. */
struct zt_infer_job {
    struct zt_infer *inf;
    struct zt_runner *runner; /* acquired */
    const struct zt_cfg_model *entry;
    struct zt_job_params params;
    struct zt_logit_bias bias[ZT__INFER_MAX_BIAS];
    char stop_buf[ZT_RUNNER_MAX_STOP][ZT_RUNNER_MAX_STOP_LEN + 1];
    int32_t *toks;
    size_t n_toks;
    int32_t *given;           /* params.forced: ids given (zt_infer_job_give) */
    bool fell_back;
    bool report_end;                     /* zt_infer_job_report_end */
    char job_id[ZT_INFER_JOB_ID_HEX];
    char user[ZT_INFER_USER_MAX];
};

/* The hook of zt_infer_set_on_end, when set. */
void zt__infer_job_ended(struct zt_infer *inf, const struct zt_infer_job_end *e);

#endif
