/* genmodel.h: writes random-weight llama / qwen2 GGUF models of any tensor
 * type, for kernel tests and benchmarks (tools/, not part of the node).
 * Weights are normal with std 0.02 (norms 1.0, biases small), from a seeded
 * generator, so the same options always give the same file. */
#ifndef ZT_TOOLS_GENMODEL_H
#define ZT_TOOLS_GENMODEL_H

#include <stdint.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_gguf.h"

struct zt_genmodel_opts {
    const char *arch;          /* "llama" or "qwen2" */
    enum zt_ggml_type type;    /* 2-D weights */
    enum zt_ggml_type output_type; /* output.weight (ZT_GGML_TYPE_COUNT = same as type) */
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    uint32_t n_vocab;          /* synthetic vocabulary size (>= 300) when vocab_from is NULL */
    const char *vocab_from;    /* copy the tokenizer of this GGUF (its size wins) */
    bool tied;                 /* no output.weight: use token_embd */
    uint64_t seed;
    float rope_base;
};

void zt_genmodel_defaults(struct zt_genmodel_opts *o);
/* Build the model and write it to path (atomically). */
ZT_NODISCARD int zt_genmodel_write(const struct zt_genmodel_opts *o, const char *path, struct zt_buf *err);

#endif
