/* model.c: llama / qwen2 transformer: loading and the batched forward pass.
 * See zt_model.h for the contract (notably determinism).
 *
 * Shapes (ggml order [ne0, ne1]: ne0 is the contiguous row length):
 *   token_embd   [n_embd, n_vocab]     output       [n_embd, n_vocab] (or tied)
 *   attn_q       [n_embd, n_head*hd]   attn_k/v     [n_embd, n_head_kv*hd]
 *   attn_output  [n_head*hd, n_embd]   ffn_gate/up  [n_embd, n_ff]
 *   ffn_down     [n_ff, n_embd]        *_norm       [n_embd]
 *   attn_q/k/v.bias (qwen2)            [rows]
 * A weight with ne = [n, rows] is used as y[r] = dot(W[r, :], x).
 *
 * Every operation of the pass runs on a compute backend (backend.h): the
 * weights, activations and KV caches live in its buffers, and this file
 * only names them and orders the ops. The CPU backend is the default.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "zt_math.h"
#include "par.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_tokenizer.h"

#define MAX_BATCH 512 /* larger batches are processed in chunks (same results) */

/* Weights are tensors in the backend's memory (buf NULL: absent): ne0 = row
 * length, ne1 = rows (1 for norms and biases). */
struct layer {
    struct zt__tensor attn_norm, wq, wk, wv, wo, bq, bk, bv, ffn_norm, w_gate, w_up, w_down;
    bool has_bias;
};

struct zt_model {
    struct zt_gguf *gguf;
    struct zt_tokenizer *tok;
    struct zt_hparams hp;
    struct zt__tensor tok_embd, out_norm, output;
    struct layer *layers;
    struct zt__backend *be;
    struct zt__buffer **mapped; /* weight buffers to unmap, n_mapped of them */
    size_t n_mapped;
    size_t weight_bytes;
    struct zt__buffer *rope_inv_freq; /* (n_rot/2) F32 */
    _Atomic int kv_type;              /* enum zt_ggml_type of new sequences' caches: F32 (0) or F16 */
    int precision;                    /* enum zt_precision, fixed at load */
    bool all_rows; /* every row through the last layer (zt_model_embed reads m->x), no trim */

    /* Activations for one chunk of up to MAX_BATCH tokens, in the backend's
     * memory, grown on demand (rows of the widths below). */
    size_t cap;             /* tokens the scratch holds */
    struct zt__buffer *x;   /* (cap, n_embd) the residual stream */
    struct zt__buffer *xn;  /* (cap, widest) normed input of a matmul */
    struct zt__buffer *q, *att;       /* (cap, n_head * head_dim) */
    struct zt__buffer *k, *v;         /* (cap, n_head_kv * head_dim) */
    struct zt__buffer *ffn_g, *ffn_u; /* (cap, n_ff) */
    struct zt__buffer *tmp;           /* (cap, max(n_vocab, widest)) matmul output */
    /* host side of the chunk: token ids, positions, KV views */
    int32_t *tokens;
    uint32_t *pos;
    struct zt__kv_view *kv;
};

struct zt_seq {
    const struct zt_model *m;
    uint32_t n_ctx;
    uint32_t pos;
    uint32_t pending;       /* tokens of this sequence in the batch being decoded */
    enum zt_ggml_type kv_type;  /* F32 or F16: the model's when the sequence was made */
    struct zt__buffer *k_cache; /* (n_layer, n_ctx, n_head_kv * hd) kv_type, backend memory */
    struct zt__buffer *v_cache; /* (n_layer, n_ctx, n_head_kv * hd) kv_type */
};

/* ---- loading ------------------------------------------------------------ */

static int get_u32(const struct zt_gguf *g, const char *arch, const char *suffix, uint32_t *out,
                   bool required, struct zt_buf *err)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint64_t v;
    int rc = zt_gguf_get_u64(g, key, &v);
    if (rc == ZT_ENOTFOUND && !required) return 0;
    if (rc || v > UINT32_MAX) {
        zt_ignore(zt_buf_appendf(err, "model: metadata %s %s", key, rc == ZT_ENOTFOUND ? "is missing" : "is not a valid count"));
        return ZT_EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

static int get_f32(const struct zt_gguf *g, const char *arch, const char *suffix, float *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double v;
    int rc = zt_gguf_get_f64(g, key, &v);
    if (rc == ZT_ENOTFOUND) return 0;
    if (rc || !isfinite(v)) return ZT_EINVAL;
    *out = (float)v;
    return 0;
}

static bool type_supported(enum zt_ggml_type t)
{
    switch (t) {
    case ZT_GGML_F32: case ZT_GGML_F16: case ZT_GGML_BF16: case ZT_GGML_Q8_0:
    case ZT_GGML_Q4_0: case ZT_GGML_Q4_K: case ZT_GGML_Q6_K:
        return true;
    default:
        return false;
    }
}

/* Find a tensor, check its shape (ne0 = n, ne1 = rows; rows 0 = 1-D) and
 * type, and map it into the backend (m->mapped keeps it for unmapping). */
static int find_weight(struct zt_model *m, const char *name, uint64_t n, uint64_t rows,
                       bool required, struct zt__tensor *w, struct zt_buf *err)
{
    const struct zt_gguf_tensor *t = zt_gguf_find_tensor(m->gguf, name);
    memset(w, 0, sizeof *w);
    if (!t) {
        if (!required) return 0;
        zt_ignore(zt_buf_appendf(err, "model: tensor '%s' is missing", name));
        return ZT_EINVAL;
    }
    uint64_t want_rows = rows ? rows : 1;
    bool shape_ok = t->ne[0] == n && t->ne[1] == want_rows && t->ne[2] == 1 && t->ne[3] == 1 &&
                    (rows ? t->n_dims == 2 : t->n_dims == 1);
    if (!shape_ok) {
        zt_ignore(zt_buf_appendf(err, "model: tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%llu, %llu]",
                                 name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                                 (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                                 (unsigned long long)n, (unsigned long long)want_rows));
        return ZT_EINVAL;
    }
    if (!type_supported(t->type)) {
        zt_ignore(zt_buf_appendf(err, "model: unsupported tensor type %s (tensor '%s'); supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K",
                                 zt_ggml_type_name(t->type), name));
        return ZT_EUNSUPPORTED;
    }
    /* norms and biases are read as plain floats */
    if (!rows && t->type != ZT_GGML_F32) {
        zt_ignore(zt_buf_appendf(err, "model: tensor '%s' must be F32, is %s", name, zt_ggml_type_name(t->type)));
        return ZT_EUNSUPPORTED;
    }
    uint64_t rb;
    if (zt_ggml_row_size(t->type, n, &rb) != 0) {
        zt_ignore(zt_buf_appendf(err, "model: tensor '%s': row length %llu is not a multiple of the %s block size",
                                 name, (unsigned long long)n, zt_ggml_type_name(t->type)));
        return ZT_EUNSUPPORTED;
    }
    if (!m->be->ops->supports(m->be, t->type)) {
        zt_ignore(zt_buf_appendf(err, "model: the %s backend has no kernels for %s (tensor '%s')",
                                 m->be->ops->name, zt_ggml_type_name(t->type), name));
        return ZT_EUNSUPPORTED;
    }
    struct zt__buffer *buf;
    int rc = m->be->ops->buffer_map(m->be, t->data, (size_t)t->size, &buf);
    if (rc) {
        zt_ignore(zt_buf_appendf(err, "model: tensor '%s' does not fit the %s backend", name, m->be->ops->name));
        return rc;
    }
    m->mapped[m->n_mapped++] = buf;
    *w = (struct zt__tensor){.buf = buf, .type = t->type, .ne0 = (size_t)n, .ne1 = (size_t)want_rows,
                               .nb1 = (size_t)rb};
    return 0;
}

static int load_hparams(struct zt_model *m, struct zt_buf *err)
{
    struct zt_hparams *hp = &m->hp;
    struct zt_gguf_str archs;
    if (zt_gguf_get_str(m->gguf, "general.architecture", &archs) != 0) {
        zt_ignore(zt_buf_append_str(err, "model: general.architecture is missing"));
        return ZT_EINVAL;
    }
    char arch[32];
    if (archs.len >= sizeof arch) archs.len = sizeof arch - 1;
    memcpy(arch, archs.ptr, archs.len);
    arch[archs.len] = '\0';
    if (strcmp(arch, "llama") == 0) {
        hp->arch = ZT_ARCH_LLAMA;
    } else if (strcmp(arch, "qwen2") == 0) {
        hp->arch = ZT_ARCH_QWEN2;
        hp->rope_neox = true;
    } else {
        zt_ignore(zt_buf_appendf(err, "model: unsupported architecture '%s' (supported: llama, qwen2)", arch));
        return ZT_EUNSUPPORTED;
    }
    int rc = 0;
    rc |= get_u32(m->gguf, arch, "context_length", &hp->n_ctx_train, true, err);
    rc |= get_u32(m->gguf, arch, "embedding_length", &hp->n_embd, true, err);
    rc |= get_u32(m->gguf, arch, "block_count", &hp->n_layer, true, err);
    rc |= get_u32(m->gguf, arch, "feed_forward_length", &hp->n_ff, true, err);
    rc |= get_u32(m->gguf, arch, "attention.head_count", &hp->n_head, true, err);
    if (rc) return ZT_EINVAL;
    hp->n_head_kv = hp->n_head;
    if (get_u32(m->gguf, arch, "attention.head_count_kv", &hp->n_head_kv, false, err)) return ZT_EINVAL;
    if (!hp->n_embd || !hp->n_head || !hp->n_head_kv || !hp->n_layer || !hp->n_ff ||
        hp->n_embd % hp->n_head || hp->n_head % hp->n_head_kv || hp->n_layer > 1024 ||
        hp->n_embd > 65536 || hp->n_ff > 1u << 20 || !hp->n_ctx_train) {
        zt_ignore(zt_buf_appendf(err, "model: inconsistent dimensions (n_embd %u, n_head %u, n_head_kv %u, n_layer %u, n_ff %u)",
                                 hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_layer, hp->n_ff));
        return ZT_EINVAL;
    }
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->n_rot = hp->head_dim;
    if (get_u32(m->gguf, arch, "rope.dimension_count", &hp->n_rot, false, err)) return ZT_EINVAL;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2) {
        zt_ignore(zt_buf_appendf(err, "model: rope.dimension_count %u does not fit head size %u", hp->n_rot, hp->head_dim));
        return ZT_EINVAL;
    }
    hp->rope_freq_base = 10000.0f;
    hp->rope_freq_scale = 1.0f;
    hp->rms_eps = 1e-5f;
    if (get_f32(m->gguf, arch, "rope.freq_base", &hp->rope_freq_base) ||
        get_f32(m->gguf, arch, "attention.layer_norm_rms_epsilon", &hp->rms_eps)) {
        zt_ignore(zt_buf_append_str(err, "model: rope.freq_base or layer_norm_rms_epsilon is not a number"));
        return ZT_EINVAL;
    }
    /* linear RoPE scaling: positions are divided by the factor */
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    struct zt_gguf_str st;
    if (zt_gguf_get_str(m->gguf, key, &st) == 0 && !(st.len == 4 && memcmp(st.ptr, "none", 4) == 0)) {
        if (st.len == 6 && memcmp(st.ptr, "linear", 6) == 0) {
            float factor = 1.0f;
            if (get_f32(m->gguf, arch, "rope.scaling.factor", &factor) || factor <= 0.0f) {
                zt_ignore(zt_buf_append_str(err, "model: bad rope.scaling.factor"));
                return ZT_EINVAL;
            }
            hp->rope_freq_scale = 1.0f / factor;
        } else {
            zt_ignore(zt_buf_appendf(err, "model: unsupported rope scaling '%.*s' (supported: none, linear)", (int)st.len, st.ptr));
            return ZT_EUNSUPPORTED;
        }
    }
    if (!(hp->rope_freq_base > 0.0f) || !(hp->rms_eps > 0.0f)) {
        zt_ignore(zt_buf_append_str(err, "model: rope.freq_base and rms epsilon must be positive"));
        return ZT_EINVAL;
    }
    return 0;
}

static int load_weights(struct zt_model *m, struct zt_buf *err)
{
    const struct zt_hparams *hp = &m->hp;
    const struct zt_gguf_tensor *te = zt_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te) {
        zt_ignore(zt_buf_append_str(err, "model: tensor 'token_embd.weight' is missing"));
        return ZT_EINVAL;
    }
    m->hp.n_vocab = (uint32_t)te->ne[1];
    if (te->ne[1] == 0 || te->ne[1] > (1u << 24)) {
        zt_ignore(zt_buf_append_str(err, "model: token_embd.weight has an implausible vocabulary size"));
        return ZT_EINVAL;
    }
    uint64_t n_vocab = hp->n_vocab, d = hp->n_embd;
    uint64_t qd = (uint64_t)hp->n_head * hp->head_dim, kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    /* every weight find_weight maps: 3 global, 12 per layer */
    m->mapped = zt_calloc(3 + (size_t)hp->n_layer * 12, sizeof *m->mapped);
    if (!m->mapped) return ZT_ENOMEM;
    int rc = find_weight(m, "token_embd.weight", d, n_vocab, true, &m->tok_embd, err);
    if (!rc) rc = find_weight(m, "output_norm.weight", d, 0, true, &m->out_norm, err);
    if (!rc) rc = find_weight(m, "output.weight", d, n_vocab, false, &m->output, err);
    if (rc) return rc;
    if (!m->output.buf) {
        m->output = m->tok_embd;
        m->hp.tied_output = true;
    }
    m->layers = zt_calloc(hp->n_layer, sizeof *m->layers);
    if (!m->layers) return ZT_ENOMEM;
    for (uint32_t l = 0; l < hp->n_layer && !rc; l++) {
        struct layer *L = &m->layers[l];
        char name[96];
#define W(field, suffix, n, rows, req)                                                     \
    do {                                                                                  \
        snprintf(name, sizeof name, "blk.%u." suffix, l);                                 \
        if (!rc) rc = find_weight(m, name, (n), (rows), (req), &L->field, err);          \
    } while (0)
        W(attn_norm, "attn_norm.weight", d, 0, true);
        W(wq, "attn_q.weight", d, qd, true);
        W(wk, "attn_k.weight", d, kvd, true);
        W(wv, "attn_v.weight", d, kvd, true);
        W(wo, "attn_output.weight", qd, d, true);
        W(ffn_norm, "ffn_norm.weight", d, 0, true);
        W(w_gate, "ffn_gate.weight", d, hp->n_ff, true);
        W(w_up, "ffn_up.weight", d, hp->n_ff, true);
        W(w_down, "ffn_down.weight", hp->n_ff, d, true);
        bool bias = hp->arch == ZT_ARCH_QWEN2;
        W(bq, "attn_q.bias", qd, 0, bias);
        W(bk, "attn_k.bias", kvd, 0, bias);
        W(bv, "attn_v.bias", kvd, 0, bias);
#undef W
        L->has_bias = L->bq.buf != NULL;
    }
    if (rc) return rc;
    /* matrices the backend may repack (CPU: interleaved groups for the
     * packed kernels); a failure only leaves the plain rows in use */
    if (m->be->ops->prepare_weight) {
        /* in the BF16 mode the bf16 copies are the weights: a failure is
         * the load's */
        int prc = m->be->ops->prepare_weight(m->be, &m->output);
        if (prc && m->precision == ZT_PRECISION_BF16) return prc;
        for (uint32_t l = 0; l < hp->n_layer; l++) {
            const struct layer *L = &m->layers[l];
            const struct zt__tensor *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
            for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
                prc = m->be->ops->prepare_weight(m->be, mats[i]);
                if (prc && m->precision == ZT_PRECISION_BF16) return prc;
            }
        }
    }
    for (int64_t i = 0; i < zt_gguf_n_tensors(m->gguf); i++) m->weight_bytes += zt_gguf_tensor(m->gguf, i)->size;
    return 0;
}

static void free_scratch(struct zt_model *m)
{
    struct zt__buffer **bufs[] = {&m->x, &m->xn, &m->q, &m->k, &m->v, &m->att, &m->ffn_g, &m->ffn_u, &m->tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        if (*bufs[i]) m->be->ops->buffer_free(m->be, *bufs[i]);
        *bufs[i] = NULL;
    }
    zt_free(m->tokens);
    zt_free(m->pos);
    zt_free(m->kv);
    m->tokens = NULL;
    m->pos = NULL;
    m->kv = NULL;
    m->cap = 0;
}

/* Scratch for `tokens` rows: sized by the widest row each buffer holds. */
static int ensure_scratch(struct zt_model *m, size_t tokens)
{
    if (tokens <= m->cap) return 0;
    free_scratch(m);
    const struct zt_hparams *hp = &m->hp;
    size_t d = hp->n_embd, qd = (size_t)hp->n_head * hp->head_dim, kvd = (size_t)hp->n_head_kv * hp->head_dim;
    size_t widest = d > hp->n_ff ? d : hp->n_ff;
    if (qd > widest) widest = qd;
    size_t out_w = hp->n_vocab > widest ? hp->n_vocab : widest;
    struct {
        struct zt__buffer **buf;
        size_t width;
    } acts[] = {{&m->x, d}, {&m->xn, widest}, {&m->q, qd}, {&m->k, kvd}, {&m->v, kvd}, {&m->att, qd},
                {&m->ffn_g, hp->n_ff}, {&m->ffn_u, hp->n_ff}, {&m->tmp, out_w}};
    int rc = 0;
    for (size_t i = 0; i < sizeof acts / sizeof acts[0] && !rc; i++)
        rc = m->be->ops->buffer_alloc(m->be, tokens * acts[i].width * sizeof(float), acts[i].buf);
    m->tokens = zt_calloc(tokens, sizeof *m->tokens);
    m->pos = zt_calloc(tokens, sizeof *m->pos);
    m->kv = zt_calloc(tokens, sizeof *m->kv);
    if (!rc && (!m->tokens || !m->pos || !m->kv)) rc = ZT_ENOMEM;
    if (rc) {
        free_scratch(m);
        return rc;
    }
    m->cap = tokens;
    return 0;
}

/* theta_i = pos * base^(-2i/n_rot), computed in double once so every
 * sequence, thread and backend uses the same table. */
static int load_rope_table(struct zt_model *m)
{
    uint32_t half = m->hp.n_rot / 2;
    float *inv_freq = zt_calloc(half + 1, sizeof(float));
    if (!inv_freq) return ZT_ENOMEM;
    for (uint32_t i = 0; i < half; i++)
        inv_freq[i] = (float)zt__pow((double)m->hp.rope_freq_base, -2.0 * i / (double)m->hp.n_rot);
    int rc = m->be->ops->buffer_alloc(m->be, (half + 1) * sizeof(float), &m->rope_inv_freq);
    if (!rc) rc = m->be->ops->buffer_set(m->be, m->rope_inv_freq, 0, inv_freq, half * sizeof(float));
    zt_free(inv_freq);
    return rc;
}

int zt_model_load_opts(const char *path, const struct zt_model_run_opts *o, struct zt_model **out,
                       struct zt_buf *err)
{
    int rc = 0;
    const char *backend = o ? o->backend : NULL;
    struct zt_model *m = zt_calloc(1, sizeof *m);
    if (!m) return ZT_ENOMEM;
    struct zt__backend_params bp = {.n_threads = 1, .device = o ? o->device : 0, .exact = o && o->deterministic,
                                    .bf16 = o && o->precision == ZT_PRECISION_BF16};
    if (o && o->precision != ZT_PRECISION_EXACT &&
        (o->precision != ZT_PRECISION_BF16 || (backend && strcmp(backend, "cpu") != 0))) {
        zt_ignore(zt_buf_appendf(err, "model: precision mode %d is not available on compute backend '%s' (the "
                                      "BF16 mode runs on the CPU)", o->precision, backend ? backend : "cpu"));
        zt_free(m);
        return o->precision == ZT_PRECISION_BF16 ? ZT_EUNSUPPORTED : ZT_EINVAL;
    }
    m->precision = bp.bf16 ? ZT_PRECISION_BF16 : ZT_PRECISION_EXACT;
    if (o && o->split_bytes && backend) {
        const unsigned devs[2] = {o->device, o->device2};
        rc = zt__backend_new_split(backend, &bp, devs, o->split_bytes, &m->be);
    } else {
        rc = zt__backend_new(backend, &bp, &m->be);
    }
    bool built = false;
    for (size_t i = 0; backend && i < zt__backend_count(); i++)
        if (!strcmp(zt__backend_at(i)->name, backend)) built = true;
    if (rc == ZT_ENOTFOUND && built) {
        /* in this build, but no driver or no such device here (the backend logged which) */
        zt_ignore(zt_buf_appendf(err, "model: compute backend '%s' found no device %u on this machine (no driver "
                                      "or no such device: see the log)", backend, bp.device));
    } else if (rc == ZT_ENOTFOUND) {
        zt_ignore(zt_buf_appendf(err, "model: compute backend '%s' is not in this build (available:",
                                 backend ? backend : "cpu"));
        for (size_t i = 0; i < zt__backend_count(); i++)
            zt_ignore(zt_buf_appendf(err, " %s", zt__backend_at(i)->name));
        zt_ignore(zt_buf_append_str(err, ")"));
    } else if (rc) {
        zt_ignore(zt_buf_appendf(err, "model: compute backend '%s' did not start (%s)", backend ? backend : "cpu",
                                 zt_strerror(rc)));
    }
    if (!rc) rc = zt_gguf_open(path, &m->gguf, err);
    if (!rc && o && o->max_device_mb && backend && strcmp(backend, "cpu") != 0) {
        size_t need = zt_gguf_file_size(m->gguf) - zt_gguf_data_offset(m->gguf);
        if ((uint64_t)need > o->max_device_mb * 1024u * 1024u) {
            zt_ignore(zt_buf_appendf(err, "model: its weights need %.1f MiB of %s device memory, above the budget "
                                          "of %llu MiB (gpu_pool.max_vram_mb)",
                                     (double)need / (1024.0 * 1024.0), backend, (unsigned long long)o->max_device_mb));
            rc = ZT_ETOOBIG;
        }
    }
    if (!rc) rc = load_hparams(m, err);
    if (!rc) rc = load_weights(m, err);
    if (!rc) rc = zt_tok_from_gguf(m->gguf, &m->tok, err);
    if (!rc && zt_tok_n_vocab(m->tok) != m->hp.n_vocab) {
        zt_ignore(zt_buf_appendf(err, "model: tokenizer has %u tokens but token_embd has %u rows",
                                 (unsigned)zt_tok_n_vocab(m->tok), m->hp.n_vocab));
        rc = ZT_EINVAL;
    }
    if (!rc) rc = load_rope_table(m);
    if (rc) {
        zt_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int zt_model_load_on(const char *path, const char *backend, struct zt_model **out, struct zt_buf *err)
{
    struct zt_model_run_opts o = {.backend = backend};
    return zt_model_load_opts(path, &o, out, err);
}

bool zt_model_exact(const struct zt_model *m)
{
    return m->be->exact;
}

int zt_model_precision(const struct zt_model *m)
{
    return m->precision;
}

int zt_model_load(const char *path, struct zt_model **out, struct zt_buf *err)
{
    return zt_model_load_on(path, NULL, out, err);
}

void zt_model_free(struct zt_model *m)
{
    if (!m) return;
    if (m->be) {
        free_scratch(m);
        if (m->rope_inv_freq) m->be->ops->buffer_free(m->be, m->rope_inv_freq);
        for (size_t i = 0; i < m->n_mapped; i++) m->be->ops->buffer_unmap(m->be, m->mapped[i]);
        zt__backend_free(m->be);
    }
    zt_free(m->mapped);
    zt_free(m->layers);
    zt_tok_free(m->tok);
    zt_gguf_close(m->gguf);
    zt_free(m);
}

const struct zt_hparams *zt_model_hparams(const struct zt_model *m) { return &m->hp; }
struct zt_tokenizer *zt_model_tokenizer(const struct zt_model *m) { return m->tok; }
const struct zt_gguf *zt_model_gguf(const struct zt_model *m) { return m->gguf; }
size_t zt_model_weight_bytes(const struct zt_model *m) { return m->weight_bytes; }
const char *zt_model_backend(const struct zt_model *m) { return m->be->ops->name; }

unsigned zt_model_default_threads(void) { return zt__par_default_threads(); }

int zt_model_set_threads(struct zt_model *m, unsigned n_threads)
{
    if (n_threads < 1 || n_threads > 256) return ZT_EINVAL;
    return m->be->ops->set_threads(m->be, n_threads);
}

int zt_model_set_kv_type(struct zt_model *m, enum zt_ggml_type t)
{
    if (t != ZT_GGML_F32 && t != ZT_GGML_F16) return ZT_EINVAL;
    if (t != ZT_GGML_F32 && (!m->be->ops->supports_kv || !m->be->ops->supports_kv(m->be, t)))
        return ZT_EUNSUPPORTED;
    atomic_store(&m->kv_type, (int)t);
    return 0;
}

enum zt_ggml_type zt_seq_kv_type(const struct zt_seq *s)
{
    return s->kv_type;
}

enum zt_ggml_type zt_model_kv_type(const struct zt_model *m)
{
    return (enum zt_ggml_type)atomic_load(&m->kv_type);
}

struct zt__backend *zt__model_be(const struct zt_model *m) { return m->be; }

/* ---- sequences ---------------------------------------------------------- */

int zt_seq_new(const struct zt_model *m, uint32_t n_ctx, struct zt_seq **out)
{
    if (n_ctx == 0) n_ctx = m->hp.n_ctx_train;
    if (n_ctx > m->hp.n_ctx_train || n_ctx > (1u << 20)) return ZT_ERANGE;
    enum zt_ggml_type kt = (enum zt_ggml_type)atomic_load(&m->kv_type);
    size_t kvd = (size_t)m->hp.n_head_kv * m->hp.head_dim, per, bytes;
    if (zt_mul_size((size_t)m->hp.n_layer * n_ctx, kvd, &per) ||
        zt_mul_size(per, kt == ZT_GGML_F16 ? 2 : sizeof(float), &bytes))
        return ZT_ERANGE;
    struct zt_seq *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    s->m = m;
    s->n_ctx = n_ctx;
    s->kv_type = kt;
    int rc = m->be->ops->buffer_alloc(m->be, bytes, &s->k_cache);
    if (!rc) rc = m->be->ops->buffer_alloc(m->be, bytes, &s->v_cache);
    if (!rc) *out = s;
    else zt_seq_free(s);
    return rc;
}

void zt_seq_free(struct zt_seq *s)
{
    if (!s) return;
    struct zt__backend *be = s->m->be;
    if (s->k_cache) be->ops->buffer_free(be, s->k_cache);
    if (s->v_cache) be->ops->buffer_free(be, s->v_cache);
    zt_free(s);
}

uint32_t zt_seq_pos(const struct zt_seq *s) { return s->pos; }
uint32_t zt_seq_n_ctx(const struct zt_seq *s) { return s->n_ctx; }

int zt_seq_truncate(struct zt_seq *s, uint32_t pos)
{
    if (pos > s->pos) return ZT_ERANGE;
    s->pos = pos; /* later writes overwrite the rest; attention never reads past pos */
    return 0;
}

/* ---- forward pass ------------------------------------------------------- */

#define TRY(call)                                                                                  \
    do {                                                                                           \
        rc = (call);                                                                               \
        if (rc) goto out;                                                                          \
    } while (0)

/* dst[i] = w[i] x, i < n: one call where the backend reads x once. */
static int matmul_n(struct zt__backend *be, const struct zt__tensor *const *w, const struct zt__tensor *x,
                    const struct zt__tensor *const *dst, size_t n)
{
    if (be->ops->matmul_n) return be->ops->matmul_n(be, w, x, dst, n);
    for (size_t i = 0; i < n; i++) {
        int rc = be->ops->matmul(be, w[i], x, dst[i]);
        if (rc) return rc;
    }
    return 0;
}

/* Rows [r0, r0 + nr) of a layer after its K/V store: attention, the
 * output projection and the FFN into the residual x. Every row's bits are
 * its own (the backends are batch-invariant), whichever rows run. */
static int layer_rows(struct zt_model *m, const struct layer *L, const struct zt__attn *attn, size_t r0, size_t nr)
{
    const struct zt_hparams *hp = &m->hp;
    struct zt__backend *be = m->be;
    const struct zt__backend_ops *op = be->ops;
    size_t d = hp->n_embd, qd = (size_t)hp->n_head * hp->head_dim, f = sizeof(float);
    int rc = 0;
    struct zt__tensor x = zt__tensor_f32(m->x, r0 * d * f, d, nr);
    struct zt__tensor xn = zt__tensor_f32(m->xn, r0 * d * f, d, nr);
    struct zt__tensor q = zt__tensor_f32(m->q, r0 * qd * f, qd, nr);
    struct zt__tensor att = zt__tensor_f32(m->att, r0 * qd * f, qd, nr);
    struct zt__tensor g = zt__tensor_f32(m->ffn_g, r0 * hp->n_ff * f, hp->n_ff, nr);
    struct zt__tensor u = zt__tensor_f32(m->ffn_u, r0 * hp->n_ff * f, hp->n_ff, nr);
    struct zt__tensor proj = zt__tensor_f32(m->tmp, r0 * d * f, d, nr);
    TRY(op->attention(be, &q, m->kv + r0, attn, &att));
    TRY(op->matmul(be, &L->wo, &att, &proj));
    TRY(op->add(be, &x, &proj, &x));

    TRY(op->rmsnorm(be, &x, &L->ffn_norm, hp->rms_eps, &xn));
    TRY(matmul_n(be, (const struct zt__tensor *const[]){&L->w_gate, &L->w_up}, &xn,
                 (const struct zt__tensor *const[]){&g, &u}, 2));
    TRY(op->swiglu(be, &g, &u, &g));
    TRY(op->matmul(be, &L->w_down, &g, &proj));
    TRY(op->add(be, &x, &proj, &x));
out:
    return rc;
}

/* The chunk's n items through every layer: the activations below are (n,
 * width) F32 tensors over the model's scratch buffers, in the backend.
 * The last layer needs every row only up to its K/V store; past it, only
 * the rows whose logits are asked for (a prompt's last row, a verifier's
 * positions): when those are one run (or none), only it runs on. */
static int decode_chunk(struct zt_model *m, const struct zt_batch_item *items, size_t n)
{
    const struct zt_hparams *hp = &m->hp;
    struct zt__backend *be = m->be;
    const struct zt__backend_ops *op = be->ops;
    size_t d = hp->n_embd, hd = hp->head_dim, qd = (size_t)hp->n_head * hd, kvd = (size_t)hp->n_head_kv * hd;
    int rc = 0;
    for (size_t b = 0; b < n; b++) items[b].seq->pending = 0;
    for (size_t b = 0; b < n; b++) {
        struct zt_seq *s = items[b].seq;
        m->pos[b] = s->pos + s->pending++;
        m->tokens[b] = items[b].token;
        size_t es = s->kv_type == ZT_GGML_F16 ? 2 : sizeof(float);
        m->kv[b] = (struct zt__kv_view){
            .k = {.buf = s->k_cache, .type = s->kv_type, .ne0 = kvd, .ne1 = s->n_ctx, .nb1 = kvd * es},
            .v = {.buf = s->v_cache, .type = s->kv_type, .ne0 = kvd, .ne1 = s->n_ctx, .nb1 = kvd * es},
            .pos = m->pos[b]};
    }
    struct zt__tensor x = zt__tensor_f32(m->x, 0, d, n);             /* (n, n_embd) residual */
    struct zt__tensor xn = zt__tensor_f32(m->xn, 0, d, n);           /* (n, n_embd) normed */
    struct zt__tensor q = zt__tensor_f32(m->q, 0, qd, n);            /* (n, n_head * hd) */
    struct zt__tensor k = zt__tensor_f32(m->k, 0, kvd, n);           /* (n, n_head_kv * hd) */
    struct zt__tensor v = zt__tensor_f32(m->v, 0, kvd, n);           /* (n, n_head_kv * hd) */
    struct zt__rope rope_q = {.n_heads = hp->n_head, .head_dim = hp->head_dim, .n_rot = hp->n_rot,
                              .neox = hp->rope_neox, .freq_scale = hp->rope_freq_scale,
                              .inv_freq = zt__tensor_f32(m->rope_inv_freq, 0, hp->n_rot / 2, 1)};
    struct zt__rope rope_k = rope_q;
    rope_k.n_heads = hp->n_head_kv;
    struct zt__attn attn = {.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim};

    /* the rows asking for logits: n_out of them from lo; trim when they
     * are fewer than n and one run (or none) */
    size_t n_out = 0, lo = 0, hi = 0;
    for (size_t b = 0; b < n; b++)
        if (items[b].logits) {
            if (!n_out++) lo = b;
            hi = b + 1;
        }
    bool trim = !m->all_rows && n_out < n && hi - lo == n_out;
    TRY(op->get_rows(be, &m->tok_embd, m->tokens, &x));
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const struct layer *L = &m->layers[l];
        for (size_t b = 0; b < n; b++) {
            size_t layer_bytes = (size_t)l * m->kv[b].k.ne1 * m->kv[b].k.nb1;
            m->kv[b].k.offset = layer_bytes;
            m->kv[b].v.offset = layer_bytes;
        }
        TRY(op->rmsnorm(be, &x, &L->attn_norm, hp->rms_eps, &xn));
        TRY(matmul_n(be, (const struct zt__tensor *const[]){&L->wq, &L->wk, &L->wv}, &xn,
                     (const struct zt__tensor *const[]){&q, &k, &v}, 3));
        if (L->has_bias) {
            TRY(op->add(be, &q, &L->bq, &q));
            TRY(op->add(be, &k, &L->bk, &k));
            TRY(op->add(be, &v, &L->bv, &v));
        }
        TRY(op->rope(be, &q, m->pos, &rope_q));
        TRY(op->rope(be, &k, m->pos, &rope_k));
        TRY(op->kv_store(be, &k, &v, m->kv));
        if (l + 1 < hp->n_layer || !trim) TRY(layer_rows(m, L, &attn, 0, n));
        else if (n_out) TRY(layer_rows(m, L, &attn, lo, n_out));
    }
    /* logits only for the items that ask: gather their rows (m->tokens is
     * free now and holds the row ids), norm, project, read back */
    for (size_t b = 0, j = 0; b < n; b++)
        if (items[b].logits) m->tokens[j++] = (int32_t)b;
    if (n_out) {
        struct zt__tensor xo = zt__tensor_f32(m->xn, 0, d, n_out);           /* (n_out, n_embd) */
        struct zt__tensor logits = zt__tensor_f32(m->tmp, 0, hp->n_vocab, n_out); /* (n_out, n_vocab) */
        /* the callers' rows themselves when they follow one another (a
         * verifier's block of positions, one token's) and the backend's
         * buffers are host memory: no copy of n_out * n_vocab floats */
        bool direct = be->host_memory;
        for (size_t j = 1; direct && j < n_out; j++)
            direct = items[m->tokens[j]].logits == items[m->tokens[0]].logits + j * hp->n_vocab;
        if (direct) logits.buf = (struct zt__buffer *)(void *)items[m->tokens[0]].logits;
        if (n_out == n) {
            TRY(op->rmsnorm(be, &x, &m->out_norm, hp->rms_eps, &xo));
        } else if (trim) { /* the run's rows, in place */
            struct zt__tensor xr = zt__tensor_f32(m->x, lo * d * sizeof(float), d, n_out);
            TRY(op->rmsnorm(be, &xr, &m->out_norm, hp->rms_eps, &xo));
        } else {
            TRY(op->get_rows(be, &x, m->tokens, &xo));
            TRY(op->rmsnorm(be, &xo, &m->out_norm, hp->rms_eps, &xo));
        }
        TRY(op->matmul(be, &m->output, &xo, &logits));
        size_t j = 0, row_bytes = hp->n_vocab * sizeof(float);
        for (size_t b = 0; b < n && !direct; b++) {
            if (!items[b].logits) continue;
            TRY(op->buffer_get(be, m->tmp, j * row_bytes, items[b].logits, row_bytes));
            j++;
        }
    }
    for (size_t b = 0; b < n; b++) {
        items[b].seq->pos += items[b].seq->pending;
        items[b].seq->pending = 0;
    }
out:
    return rc;
}

int zt_model_decode(struct zt_model *m, const struct zt_batch_item *items, size_t n)
{
    /* validate everything first so a bad item changes nothing */
    for (size_t b = 0; b < n; b++) {
        if (!items[b].seq || items[b].seq->m != m) return ZT_EINVAL;
        if (items[b].token < 0 || (uint32_t)items[b].token >= m->hp.n_vocab) return ZT_EINVAL;
        items[b].seq->pending = 0;
    }
    for (size_t b = 0; b < n; b++) {
        struct zt_seq *s = items[b].seq;
        if (s->pos + ++s->pending > s->n_ctx) {
            for (size_t c = 0; c < n; c++) items[c].seq->pending = 0;
            return ZT_ERANGE;
        }
    }
    for (size_t b = 0; b < n; b++) items[b].seq->pending = 0;
    int rc = ensure_scratch(m, n < MAX_BATCH ? n : MAX_BATCH);
    if (rc) return rc;
    for (size_t off = 0; off < n; off += MAX_BATCH) {
        size_t c = n - off < MAX_BATCH ? n - off : MAX_BATCH;
        rc = decode_chunk(m, items + off, c);
        if (rc) return rc;
    }
    return 0;
}

int zt_model_embed(struct zt_model *m, const int32_t *tokens, size_t n, float *out)
{
    if (n == 0) return ZT_EINVAL;
    const struct zt_hparams *hp = &m->hp;
    struct zt_seq *s = NULL;
    int rc = zt_seq_new(m, n <= hp->n_ctx_train ? (uint32_t)n : hp->n_ctx_train, &s);
    if (rc) return rc;
    size_t d = hp->n_embd;
    double *acc = zt_calloc(d, sizeof(double));
    float *row = zt_calloc(d, sizeof(float));
    struct zt_batch_item *items = zt_calloc(n, sizeof *items);
    if (!acc || !row || !items) {
        rc = ZT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) items[i] = (struct zt_batch_item){s, tokens[i], NULL};
    /* the hidden states are in m->x after decode: run in chunks and pool
     * (every row through the last layer: none asks for logits, which
     * would otherwise let the decode stop at the last layer's K/V) */
    for (size_t off = 0; off < n; off += MAX_BATCH) {
        size_t c = n - off < MAX_BATCH ? n - off : MAX_BATCH;
        m->all_rows = true;
        rc = zt_model_decode(m, items + off, c);
        m->all_rows = false;
        if (rc) goto out;
        struct zt__tensor x = zt__tensor_f32(m->x, 0, d, c), xn = zt__tensor_f32(m->xn, 0, d, c);
        TRY(m->be->ops->rmsnorm(m->be, &x, &m->out_norm, hp->rms_eps, &xn));
        for (size_t b = 0; b < c; b++) {
            TRY(m->be->ops->buffer_get(m->be, m->xn, b * d * sizeof(float), row, d * sizeof(float)));
            for (size_t i = 0; i < d; i++) acc[i] += row[i];
        }
    }
    double norm = 0.0;
    for (size_t i = 0; i < d; i++) {
        acc[i] /= (double)n;
        norm += acc[i] * acc[i];
    }
    norm = sqrt(norm);
    for (size_t i = 0; i < d; i++) out[i] = (float)(norm > 0 ? acc[i] / norm : 0.0);
out:
    zt_free(items);
    zt_free(row);
    zt_free(acc);
    zt_seq_free(s);
    return rc;
}
