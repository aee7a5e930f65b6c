/* zt_model.h: llama-family transformer models (architectures `llama` and
 * `qwen2`) loaded from GGUF, and the batched forward pass.
 *
 * A struct zt_model holds the hyper-parameters and the read-only, mmapped
 * weights; it is shared by every sequence. A struct zt_seq is one sequence's
 * mutable state (its KV cache and position). Both live on a compute
 * backend (the CPU unless zt_model_load_on names another; see
 * docs/internals/backend.md). zt_model_decode() runs one
 * forward pass over a batch of tokens that may belong to different
 * sequences (prompt processing and continuous batching are the same call).
 *
 * Determinism: every output element is computed by the same arithmetic in
 * the same order whatever the thread count, the batch composition, or
 * whether a sequence's earlier tokens were computed in this call or an
 * earlier one: threads split rows, never reductions; matrix products use
 * the per-element kernels of zt_quant.h; attention reduces over positions
 * in order. So logits are bit-identical under all of those (tested). */
#ifndef ZT_MODEL_H
#define ZT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"
#include "zt_gguf.h"

struct zt_model;
struct zt_seq;
struct zt_gguf;
struct zt_tokenizer;

enum zt_arch {
    ZT_ARCH_LLAMA = 1,
    ZT_ARCH_QWEN2 = 2,
};

struct zt_hparams {
    enum zt_arch arch;
    uint32_t n_vocab;
    uint32_t n_ctx_train;     /* context length the model was trained with */
    uint32_t n_embd;          /* model dimension */
    uint32_t n_layer;
    uint32_t n_ff;            /* feed-forward hidden size */
    uint32_t n_head;
    uint32_t n_head_kv;       /* < n_head: grouped-query attention */
    uint32_t head_dim;        /* n_embd / n_head */
    uint32_t n_rot;           /* rotary dimensions per head */
    float rope_freq_base;
    float rope_freq_scale;    /* 1 / linear scaling factor */
    bool rope_neox;           /* rotate halves (qwen2) instead of adjacent pairs (llama) */
    float rms_eps;
    bool tied_output;         /* output projection is token_embd */
};

/* Load a model: maps the GGUF, checks architecture, every tensor's presence,
 * shape and type (unsupported types are a clear error naming the type and
 * tensor), and builds the tokenizer. Problems are appended to err. */
ZT_NODISCARD int zt_model_load(const char *path, struct zt_model **out, struct zt_buf *err);
/* The same on a named compute backend ("cpu", the default and reference;
 * NULL = "cpu"). ZT_ENOTFOUND when this build has no such backend,
 * ZT_EUNSUPPORTED when the backend lacks a tensor type the model uses. */
ZT_NODISCARD int zt_model_load_on(const char *path, const char *backend, struct zt_model **out,
                                  struct zt_buf *err);
/* Where and how a model runs: backend name (NULL = "cpu"), device index (for
 * backends with several), and the deterministic mode: logits bit-identical
 * to the CPU's (a device backend's exact mode; docs/internals/vulkan.md).
 * A backend that cannot honour it loads in its fast mode;
 * zt_model_exact() says which. */
struct zt_model_run_opts {
    const char *backend;
    unsigned device;
    bool deterministic;
    /* a device backend's memory budget in MiB (gpu_pool.max_vram_mb; 0 =
     * none): a model whose weights need more is refused (ZT_ETOOBIG, the
     * sizes in err) before anything is uploaded. Ignored on the CPU. */
    uint64_t max_device_mb;
    /* Layers split across two devices of the backend (the GPU pool, when
     * no device has room for the whole model): when split_bytes > 0 the
     * first split_bytes of weights (the first layers) go on `device`, the
     * rest on `device2`; zt_model_backend() then says "split". */
    unsigned device2;
    uint64_t split_bytes;
    /* the precision mode (zt_quant.h, enum zt_precision): EXACT (0, the
     * default) or the declared BF16 mode, in which F32/F16/BF16 weight
     * matrices are products in bf16 (other bits than exact: work done so is
     * named by zt_engine_build_id_mode). BF16 runs on the CPU backend only
     * (ZT_EUNSUPPORTED elsewhere). */
    int precision;
};
ZT_NODISCARD int zt_model_load_opts(const char *path, const struct zt_model_run_opts *o, struct zt_model **out,
                                    struct zt_buf *err);
/* true when the model's results are the CPU engine's bits (always on the
 * CPU; on a device backend in its deterministic mode). */
bool zt_model_exact(const struct zt_model *m);
/* The precision mode it was loaded in (enum zt_precision). */
int zt_model_precision(const struct zt_model *m);
void zt_model_free(struct zt_model *m);

const struct zt_hparams *zt_model_hparams(const struct zt_model *m);
struct zt_tokenizer *zt_model_tokenizer(const struct zt_model *m);
const struct zt_gguf *zt_model_gguf(const struct zt_model *m);
/* Bytes of weights mapped (for the cache's memory budget). */
size_t zt_model_weight_bytes(const struct zt_model *m);
/* Name of the compute backend the model runs on ("cpu"). */
const char *zt_model_backend(const struct zt_model *m);

/* Threads used by zt_model_decode for this model (1..256). Changing it never
 * changes results. Default: 1. */
ZT_NODISCARD int zt_model_set_threads(struct zt_model *m, unsigned n_threads);
/* The thread count to use when none is configured: the CPUs in this
 * process's affinity mask (sched_getaffinity; taskset and container CPU
 * sets count, offline or excluded cores do not), 1..256. */
unsigned zt_model_default_threads(void);

/* A sequence with room for n_ctx tokens (0 = the model's training context).
 * Its KV cache lives in the model's compute backend: free every sequence
 * before its model. */
/* KV cache element type of the sequences made from now on: ZT_GGML_F32
 * (the default) or ZT_GGML_F16 (half the memory; keys and values rounded
 * to fp16 on store and widened exactly on read, so results are as
 * deterministic as with F32 but not the same bits: the KV type is part of
 * what a verifier must match, see zt_engine_build_id_kv). ZT_EINVAL for
 * another type, ZT_EUNSUPPORTED when the model's backend lacks it.
 * Sequences made earlier keep their type. */
ZT_NODISCARD int zt_model_set_kv_type(struct zt_model *m, enum zt_ggml_type t);
enum zt_ggml_type zt_model_kv_type(const struct zt_model *m);
ZT_NODISCARD int zt_seq_new(const struct zt_model *m, uint32_t n_ctx, struct zt_seq **out);
void zt_seq_free(struct zt_seq *s);
enum zt_ggml_type zt_seq_kv_type(const struct zt_seq *s); /* its cache's: F32 or F16 */
uint32_t zt_seq_pos(const struct zt_seq *s);     /* tokens in the cache */
uint32_t zt_seq_n_ctx(const struct zt_seq *s);
/* Forget every token from pos on (pos <= current position): reuse a cached
 * prompt prefix, or roll back. */
ZT_NODISCARD int zt_seq_truncate(struct zt_seq *s, uint32_t pos);

/* One entry of a batch: token `token` appended to sequence `seq` at its next
 * position. logits: NULL, or n_vocab floats to receive this token's logits. */
struct zt_batch_item {
    struct zt_seq *seq;
    int32_t token;
    float *logits;
};

/* Run the forward pass for n items (items of one sequence must be in order).
 * Each item's token is written to its sequence's KV cache and the sequence
 * advances. ZT_ERANGE when a sequence is full, ZT_EINVAL for a bad token id
 * (nothing is changed then). */
ZT_NODISCARD int zt_model_decode(struct zt_model *m, const struct zt_batch_item *items, size_t n);

/* Mean-pooled, L2-normalised final hidden states (after the output norm) of
 * the tokens, computed in a scratch sequence: embeddings for /v1/embeddings. */
ZT_NODISCARD int zt_model_embed(struct zt_model *m, const int32_t *tokens, size_t n, float *out);

#endif
