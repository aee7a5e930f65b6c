/* models.h: the model registry of a node (internal to src/server).
 *
 * Entries come from models.yaml; a model is loaded on first use (lazily)
 * into a runner, and loaded models are evicted least-recently-used when the
 * weights of the loaded set would exceed model_cache.memory_budget_mb.
 * A runner in use (acquired) is never evicted. Thread-safe.
 *
 * Lock order: a runner's lock before ms->mu (runner callbacks release
 * models). So nothing here calls into a runner while holding ms->mu, except
 * freeing an idle runner (no jobs, hence no callbacks). */
#ifndef ZT_SERVER_MODELS_H
#define ZT_SERVER_MODELS_H

#include <stdbool.h>
#include <stddef.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_runner.h"

struct zt__models;

ZT_NODISCARD int zt__models_new(const struct zt_config *cfg, struct zt__models **out);
void zt__models_free(struct zt__models *ms);
/* Shutdown step: end every job (ZT_ECLOSED) and stop the runner threads;
 * runners stay allocated until zt__models_free(). Later acquires fail. */
void zt__models_shutdown(struct zt__models *ms);

/* Resolve id ("" or NULL = the default model) and return its runner, loading
 * it if needed. ZT_ENOTFOUND: no such id (or no model configured at all);
 * ZT_EBUSY: it does not fit the memory budget beside models in use; other
 * errors: the load failed (err says why, for the operator and the client).
 * Pair with zt__models_release(). */
ZT_NODISCARD int zt__models_acquire(struct zt__models *ms, const char *id, struct zt_runner **out,
                                    const struct zt_cfg_model **entry, struct zt_buf *err);
void zt__models_release(struct zt__models *ms, struct zt_runner *r);

size_t zt__models_count(const struct zt__models *ms);
/* Entry i and whether it is loaded now. */
const struct zt_cfg_model *zt__models_entry(const struct zt__models *ms, size_t i, bool *loaded);
/* The file of entry i: data_dir/path, or data_dir/models/<last segment of
 * its url>. ZT_ETOOBIG when it does not fit n bytes. */
ZT_NODISCARD int zt__models_file(const struct zt__models *ms, size_t i, char *out, size_t n);
/* Sum of runner statistics of the loaded models. */
void zt__models_stats(struct zt__models *ms, struct zt_runner_stats *out, size_t *n_loaded);

#endif
