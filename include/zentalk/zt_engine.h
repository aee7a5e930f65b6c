/* zt_engine.h: the inference engine (GGUF models on the CPU).
 * Sub-modules have their own headers: zt_gguf.h (model files), zt_quant.h
 * (tensor formats and dot-product kernels), zt_tokenizer.h. */
#ifndef ZT_ENGINE_H
#define ZT_ENGINE_H

#include "zt_error.h"

/* "zentalk-engine/VERSION+COMMIT": names the kernels in signed receipts. */
const char *zt_engine_build_id(void);
/* The build id of work done with KV caches of element type kv (a
 * zt_ggml_type): zt_engine_build_id() for F32, with "+kv-f16" appended for
 * F16 (its outputs differ from F32's, so verifiers must compare like with
 * like). */
const char *zt_engine_build_id_kv(int kv);

#endif
