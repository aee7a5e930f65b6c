/* zt_engine.h: the inference engine (GGUF models on the CPU).
 * Sub-modules have their own headers: zt_gguf.h (model files), zt_quant.h
 * (tensor formats and dot-product kernels), zt_tokenizer.h. */
#ifndef ZT_ENGINE_H
#define ZT_ENGINE_H

#include "zt_error.h"

/* "zentalk-engine/VERSION+COMMIT": names the kernels in signed receipts. */
const char *zt_engine_build_id(void);

#endif
