/* zt_engine.h: the inference engine (GGUF models on the CPU).
 * Sub-modules have their own headers: zt_gguf.h (model files), zt_quant.h
 * (tensor formats and dot-product kernels), zt_tokenizer.h. */
#ifndef ZT_ENGINE_H
#define ZT_ENGINE_H

#include "zt_error.h"

/* "zentalk-engine/VERSION+COMMIT+MATH": names the kernels and the math
 * (zt_math.h's version) in signed receipts. After zt_engine_mark_inexact()
 * it ends in "+fast": this process runs a model on a backend that is not
 * bit-identical to the CPU engine (a GPU in its fast mode), so its outputs
 * must not be compared by hash with exact workers'. */
const char *zt_engine_build_id(void);
/* The build id of work done with KV caches of element type kv (a
 * zt_ggml_type): zt_engine_build_id() for F32, with "+kv-f16" appended for
 * F16 (its outputs differ from F32's, so verifiers must compare like with
 * like). */
const char *zt_engine_build_id_kv(int kv);
/* Called once a model runs somewhere not exact (zt_model_exact() false). */
void zt_engine_mark_inexact(void);

/* 0 when the compute backend `name` (cpu, vulkan, cuda) is built into this
 * binary; else ZT_ENOTFOUND with the reason and the backends it has in why
 * (a NUL-terminated message, at most why_size bytes). */
int zt_engine_backend_built(const char *name, char *why, size_t why_size);

#endif
