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
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "par.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_tokenizer.h"

#define MAX_BATCH 512 /* larger batches are processed in chunks (same results) */

struct weight {
    const void *data;
    enum zt_ggml_type type;
    uint64_t n;         /* row length (ne0) */
    uint64_t rows;      /* ne1 */
    uint64_t row_bytes;
};

struct layer {
    struct weight attn_norm, wq, wk, wv, wo, bq, bk, bv, ffn_norm, w_gate, w_up, w_down;
    bool has_bias;
};

struct zt_model {
    struct zt_gguf *gguf;
    struct zt_tokenizer *tok;
    struct zt_hparams hp;
    struct weight tok_embd, out_norm, output;
    struct layer *layers;
    struct zt__par *par;
    size_t weight_bytes;
    float *rope_inv_freq;   /* (n_rot/2) */

    /* scratch for one chunk of up to MAX_BATCH tokens, grown on demand */
    size_t cap;             /* tokens the scratch holds */
    float *x, *xn, *q, *k, *v, *att, *ffn_g, *ffn_u, *tmp;
    uint8_t *xq;            /* activations quantised for the current matmul */
    size_t xq_bytes;
};

struct zt_seq {
    const struct zt_model *m;
    uint32_t n_ctx;
    uint32_t pos;
    uint32_t pending;       /* tokens of this sequence in the batch being decoded */
    float *k_cache;         /* (n_layer, n_ctx, n_head_kv * hd) */
    float *v_cache;         /* (n_layer, n_ctx, n_head_kv * hd) */
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

/* Find a tensor and check its shape: ne0 = n, ne1 = rows (rows 0 = 1-D). */
static int find_weight(const struct zt_model *m, const char *name, uint64_t n, uint64_t rows,
                       bool required, struct weight *w, struct zt_buf *err)
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
    w->data = t->data;
    w->type = t->type;
    w->n = n;
    w->rows = want_rows;
    w->row_bytes = rb;
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
    int rc = find_weight(m, "token_embd.weight", d, n_vocab, true, &m->tok_embd, err);
    if (!rc) rc = find_weight(m, "output_norm.weight", d, 0, true, &m->out_norm, err);
    if (!rc) rc = find_weight(m, "output.weight", d, n_vocab, false, &m->output, err);
    if (rc) return rc;
    if (!m->output.data) {
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
        L->has_bias = L->bq.data != NULL;
    }
    if (rc) return rc;
    for (int64_t i = 0; i < zt_gguf_n_tensors(m->gguf); i++) m->weight_bytes += zt_gguf_tensor(m->gguf, i)->size;
    return 0;
}

static void free_scratch(struct zt_model *m)
{
    float **bufs[] = {&m->x, &m->xn, &m->q, &m->k, &m->v, &m->att, &m->ffn_g, &m->ffn_u, &m->tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        zt_free(*bufs[i]);
        *bufs[i] = NULL;
    }
    zt_free(m->xq);
    m->xq = NULL;
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
    m->x = zt_calloc(tokens * d, sizeof(float));
    m->xn = zt_calloc(tokens * widest, sizeof(float));
    m->q = zt_calloc(tokens * qd, sizeof(float));
    m->k = zt_calloc(tokens * kvd, sizeof(float));
    m->v = zt_calloc(tokens * kvd, sizeof(float));
    m->att = zt_calloc(tokens * qd, sizeof(float));
    m->ffn_g = zt_calloc(tokens * hp->n_ff, sizeof(float));
    m->ffn_u = zt_calloc(tokens * hp->n_ff, sizeof(float));
    m->tmp = zt_calloc(tokens * out_w, sizeof(float));
    /* quantised activations: at most 4 bytes per element (F32) plus block headers */
    m->xq_bytes = tokens * (widest * 4 + 1024);
    m->xq = zt_malloc(m->xq_bytes);
    if (!m->x || !m->xn || !m->q || !m->k || !m->v || !m->att || !m->ffn_g || !m->ffn_u || !m->tmp || !m->xq) {
        free_scratch(m);
        return ZT_ENOMEM;
    }
    m->cap = tokens;
    return 0;
}

int zt_model_load(const char *path, struct zt_model **out, struct zt_buf *err)
{
    /* an unusable ZT_CPU override falls back to the scalar kernels (same
     * results, slower); zt_quant_init reports it, the model still loads */
    zt_ignore(zt_quant_init());
    int rc = 0;
    struct zt_model *m = zt_calloc(1, sizeof *m);
    if (!m) return ZT_ENOMEM;
    rc = zt_gguf_open(path, &m->gguf, err);
    if (!rc) rc = load_hparams(m, err);
    if (!rc) rc = load_weights(m, err);
    if (!rc) rc = zt_tok_from_gguf(m->gguf, &m->tok, err);
    if (!rc && zt_tok_n_vocab(m->tok) != m->hp.n_vocab) {
        zt_ignore(zt_buf_appendf(err, "model: tokenizer has %u tokens but token_embd has %u rows",
                                 (unsigned)zt_tok_n_vocab(m->tok), m->hp.n_vocab));
        rc = ZT_EINVAL;
    }
    if (!rc) rc = zt__par_new(1, &m->par);
    if (!rc) {
        m->rope_inv_freq = zt_calloc(m->hp.n_rot / 2 + 1, sizeof(float));
        if (!m->rope_inv_freq) rc = ZT_ENOMEM;
    }
    if (rc) {
        zt_model_free(m);
        return rc;
    }
    /* theta_i = pos * base^(-2i/n_rot), computed in double once so every
     * sequence and thread uses the same table. */
    for (uint32_t i = 0; i < m->hp.n_rot / 2; i++)
        m->rope_inv_freq[i] = (float)pow((double)m->hp.rope_freq_base, -2.0 * i / (double)m->hp.n_rot);
    *out = m;
    return 0;
}

void zt_model_free(struct zt_model *m)
{
    if (!m) return;
    zt__par_free(m->par);
    free_scratch(m);
    zt_free(m->rope_inv_freq);
    zt_free(m->layers);
    zt_tok_free(m->tok);
    zt_gguf_close(m->gguf);
    zt_free(m);
}

const struct zt_hparams *zt_model_hparams(const struct zt_model *m) { return &m->hp; }
struct zt_tokenizer *zt_model_tokenizer(const struct zt_model *m) { return m->tok; }
const struct zt_gguf *zt_model_gguf(const struct zt_model *m) { return m->gguf; }
size_t zt_model_weight_bytes(const struct zt_model *m) { return m->weight_bytes; }

int zt_model_set_threads(struct zt_model *m, unsigned n_threads)
{
    if (n_threads < 1 || n_threads > 256) return ZT_EINVAL;
    if (zt__par_threads(m->par) == n_threads) return 0;
    struct zt__par *p;
    int rc = zt__par_new(n_threads, &p);
    if (rc) return rc;
    zt__par_free(m->par);
    m->par = p;
    return 0;
}

/* ---- sequences ---------------------------------------------------------- */

int zt_seq_new(const struct zt_model *m, uint32_t n_ctx, struct zt_seq **out)
{
    if (n_ctx == 0) n_ctx = m->hp.n_ctx_train;
    if (n_ctx > m->hp.n_ctx_train || n_ctx > (1u << 20)) return ZT_ERANGE;
    size_t kvd = (size_t)m->hp.n_head_kv * m->hp.head_dim, per;
    if (zt_mul_size((size_t)m->hp.n_layer * n_ctx, kvd, &per)) return ZT_ERANGE;
    struct zt_seq *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    s->m = m;
    s->n_ctx = n_ctx;
    s->k_cache = zt_calloc(per, sizeof(float));
    s->v_cache = zt_calloc(per, sizeof(float));
    if (!s->k_cache || !s->v_cache) {
        zt_seq_free(s);
        return ZT_ENOMEM;
    }
    *out = s;
    return 0;
}

void zt_seq_free(struct zt_seq *s)
{
    if (!s) return;
    zt_free(s->k_cache);
    zt_free(s->v_cache);
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

/* The chunk being decoded, shared with the parallel kernels. */
struct fwd {
    struct zt_model *m;
    const struct zt_batch_item *items;
    uint32_t *pos;          /* position of each item */
    size_t n;               /* items in the chunk */
    /* matmul arguments */
    const struct weight *w;
    const float *in;        /* n rows of w->n floats */
    float *out;             /* n rows of w->rows floats */
    size_t out_stride;
    enum zt_ggml_type vt;
    size_t xq_row;
    int layer;
    atomic_int failed;      /* a worker could not allocate */
    atomic_size_t next_row; /* matmul: first row not yet taken */
};

static void par_quantize(void *ctx, unsigned ith, unsigned nth)
{
    struct fwd *f = ctx;
    size_t b0, b1;
    zt__par_range(f->n, ith, nth, &b0, &b1);
    for (size_t b = b0; b < b1; b++)
        zt_ignore(zt_quant_activations(f->w->type, f->in + b * f->w->n, f->m->xq + b * f->xq_row, f->w->n));
}

/* Threads take chunks of rows from a shared counter rather than fixed
 * shares, so a thread that loses its core for a while does not hold the
 * others up. Which thread computes a row never changes its value: every
 * element is the same kernel in the same order wherever its tile starts. */
static void par_matmul(void *ctx, unsigned ith, unsigned nth)
{
    (void)ith;
    struct fwd *f = ctx;
    size_t rows = f->w->rows;
    /* about 8 chunks per thread, a multiple of 12 rows (whole 2- and 3-row tiles) */
    size_t chunk = nth == 1 ? rows : rows / ((size_t)nth * 8);
    chunk = chunk < 12 ? 12 : chunk - chunk % 12;
    for (;;) {
        size_t r0 = atomic_fetch_add_explicit(&f->next_row, chunk, memory_order_relaxed);
        if (r0 >= rows) break;
        size_t r1 = r0 + chunk < rows ? r0 + chunk : rows;
        zt_ignore(zt_quant_matmul_rows(f->w->type, f->w->data, f->w->row_bytes, r0, r1, f->m->xq, f->xq_row, f->n,
                                       f->out, f->out_stride, f->w->n));
    }
}

/* out[b, r] = dot(W[r], in[b]) for the n rows of the chunk. */
static void matmul(struct fwd *f, const struct weight *w, const float *in, float *out)
{
    f->w = w;
    f->in = in;
    f->out = out;
    f->out_stride = w->rows;
    f->vt = zt_quant_vec_dot_type(w->type);
    uint64_t rb = 0;
    zt_ignore(zt_ggml_row_size(f->vt, w->n, &rb));
    f->xq_row = (size_t)rb;
    zt__par_run(f->m->par, par_quantize, f);
    atomic_store_explicit(&f->next_row, 0, memory_order_relaxed); /* published by par_run's release */
    zt__par_run(f->m->par, par_matmul, f);
}

/* y = x / sqrt(mean(x^2) + eps) * g, summing squares in order. */
static void rmsnorm(float *y, const float *x, const float *g, size_t n, float eps)
{
    float ss = 0.0f;
    for (size_t i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (size_t i = 0; i < n; i++) y[i] = (x[i] * scale) * g[i];
}

/* Rotate the first n_rot dims of each head of x (n_heads * hd) at pos. */
static void rope(const struct zt_model *m, float *x, uint32_t n_heads, uint32_t pos)
{
    const struct zt_hparams *hp = &m->hp;
    uint32_t hd = hp->head_dim, half = hp->n_rot / 2;
    float p = (float)pos * hp->rope_freq_scale;
    for (uint32_t i = 0; i < half; i++) {
        float theta = p * m->rope_inv_freq[i];
        float c = cosf(theta), s = sinf(theta);
        for (uint32_t h = 0; h < n_heads; h++) {
            float *v = x + (size_t)h * hd;
            uint32_t a = hp->rope_neox ? i : 2 * i;
            uint32_t b = hp->rope_neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

/* Attention of item b, head h over its sequence's cache [0, pos]. */
static void attend(struct fwd *f, size_t b, uint32_t h, float *scores)
{
    const struct zt_model *m = f->m;
    const struct zt_hparams *hp = &m->hp;
    struct zt_seq *s = f->items[b].seq;
    uint32_t hd = hp->head_dim, kvh = h / (hp->n_head / hp->n_head_kv);
    size_t kvd = (size_t)hp->n_head_kv * hd;
    const float *q = m->q + b * (size_t)hp->n_head * hd + (size_t)h * hd;
    const float *kc = s->k_cache + (size_t)f->layer * s->n_ctx * kvd + (size_t)kvh * hd;
    const float *vc = s->v_cache + (size_t)f->layer * s->n_ctx * kvd + (size_t)kvh * hd;
    uint32_t n_pos = f->pos[b] + 1;
    float scale = 1.0f / sqrtf((float)hd);
    float mx = -INFINITY;
    uint32_t t = 0;
    /* 8 positions at a time: each score is still dot = 0, dot += q[i] * k[i]
     * in increasing i (the same bits), but 8 independent chains hide the
     * add latency that bounds the one-position loop. */
    for (; t + 8 <= n_pos; t += 8) {
        const float *k = kc + (size_t)t * kvd;
        float dot[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        for (uint32_t i = 0; i < hd; i++) {
            float qi = q[i];
            for (uint32_t u = 0; u < 8; u++) dot[u] += qi * k[(size_t)u * kvd + i];
        }
        for (uint32_t u = 0; u < 8; u++) {
            scores[t + u] = dot[u] * scale;
            if (scores[t + u] > mx) mx = scores[t + u];
        }
    }
    for (; t < n_pos; t++) {
        const float *k = kc + (size_t)t * kvd;
        float dot = 0.0f;
        for (uint32_t i = 0; i < hd; i++) dot += q[i] * k[i];
        scores[t] = dot * scale;
        if (scores[t] > mx) mx = scores[t];
    }
    float sum = 0.0f;
    for (t = 0; t < n_pos; t++) {
        scores[t] = expf(scores[t] - mx);
        sum += scores[t];
    }
    float inv = 1.0f / sum;
    float *o = m->att + b * (size_t)hp->n_head * hd + (size_t)h * hd;
    for (uint32_t i = 0; i < hd; i++) o[i] = 0.0f;
    for (t = 0; t < n_pos; t++) {
        const float *v = vc + (size_t)t * kvd;
        float p = scores[t] * inv;
        for (uint32_t i = 0; i < hd; i++) o[i] += p * v[i];
    }
}

static void par_attention(void *ctx, unsigned ith, unsigned nth)
{
    struct fwd *f = ctx;
    const struct zt_hparams *hp = &f->m->hp;
    size_t j0, j1;
    zt__par_range(f->n * hp->n_head, ith, nth, &j0, &j1);
    if (j0 == j1) return;
    uint32_t max_pos = 0;
    for (size_t b = 0; b < f->n; b++)
        if (f->pos[b] + 1 > max_pos) max_pos = f->pos[b] + 1;
    float *scores = zt_malloc((size_t)max_pos * sizeof(float));
    if (!scores) {
        atomic_store(&f->failed, 1);
        return;
    }
    for (size_t j = j0; j < j1; j++) attend(f, j / hp->n_head, (uint32_t)(j % hp->n_head), scores);
    zt_free(scores);
}

/* Per-row element-wise work, split over rows. */
static void par_swiglu(void *ctx, unsigned ith, unsigned nth)
{
    struct fwd *f = ctx;
    size_t nff = f->m->hp.n_ff, i0, i1;
    zt__par_range(f->n * nff, ith, nth, &i0, &i1);
    for (size_t i = i0; i < i1; i++) {
        float g = f->m->ffn_g[i];
        f->m->ffn_g[i] = (g / (1.0f + expf(-g))) * f->m->ffn_u[i];
    }
}

static int decode_chunk(struct zt_model *m, const struct zt_batch_item *items, size_t n)
{
    const struct zt_hparams *hp = &m->hp;
    size_t d = hp->n_embd, hd = hp->head_dim, qd = (size_t)hp->n_head * hd, kvd = (size_t)hp->n_head_kv * hd;
    uint32_t pos[MAX_BATCH];
    for (size_t b = 0; b < n; b++) items[b].seq->pending = 0;
    for (size_t b = 0; b < n; b++) {
        struct zt_seq *s = items[b].seq;
        pos[b] = s->pos + s->pending++;
    }
    struct fwd f = {.m = m, .items = items, .pos = pos, .n = n};

    for (size_t b = 0; b < n; b++) {
        const uint8_t *row = (const uint8_t *)m->tok_embd.data + (size_t)items[b].token * m->tok_embd.row_bytes;
        zt_ignore(zt_dequant_row(m->tok_embd.type, row, m->x + b * d, d));
    }
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const struct layer *L = &m->layers[l];
        f.layer = (int)l;
        for (size_t b = 0; b < n; b++)
            rmsnorm(m->xn + b * d, m->x + b * d, L->attn_norm.data, d, hp->rms_eps);
        matmul(&f, &L->wq, m->xn, m->q);
        matmul(&f, &L->wk, m->xn, m->k);
        matmul(&f, &L->wv, m->xn, m->v);
        for (size_t b = 0; b < n; b++) {
            float *q = m->q + b * qd, *k = m->k + b * kvd, *v = m->v + b * kvd;
            if (L->has_bias) {
                const float *bq = L->bq.data, *bk = L->bk.data, *bv = L->bv.data;
                for (size_t i = 0; i < qd; i++) q[i] += bq[i];
                for (size_t i = 0; i < kvd; i++) k[i] += bk[i];
                for (size_t i = 0; i < kvd; i++) v[i] += bv[i];
            }
            rope(m, q, hp->n_head, pos[b]);
            rope(m, k, hp->n_head_kv, pos[b]);
            struct zt_seq *s = items[b].seq;
            size_t off = ((size_t)l * s->n_ctx + pos[b]) * kvd;
            memcpy(s->k_cache + off, k, kvd * sizeof(float));
            memcpy(s->v_cache + off, v, kvd * sizeof(float));
        }
        zt__par_run(m->par, par_attention, &f);
        if (atomic_load(&f.failed)) return ZT_ENOMEM;
        matmul(&f, &L->wo, m->att, m->tmp);
        for (size_t i = 0; i < n * d; i++) m->x[i] += m->tmp[i];

        for (size_t b = 0; b < n; b++)
            rmsnorm(m->xn + b * d, m->x + b * d, L->ffn_norm.data, d, hp->rms_eps);
        matmul(&f, &L->w_gate, m->xn, m->ffn_g);
        matmul(&f, &L->w_up, m->xn, m->ffn_u);
        zt__par_run(m->par, par_swiglu, &f);
        matmul(&f, &L->w_down, m->ffn_g, m->tmp);
        for (size_t i = 0; i < n * d; i++) m->x[i] += m->tmp[i];
    }
    /* logits only for the items that ask: gather their normed rows */
    size_t n_out = 0;
    for (size_t b = 0; b < n; b++) {
        if (!items[b].logits) continue;
        rmsnorm(m->xn + n_out * d, m->x + b * d, m->out_norm.data, d, hp->rms_eps);
        n_out++;
    }
    if (n_out) {
        f.n = n_out;
        matmul(&f, &m->output, m->xn, m->tmp);
        size_t j = 0;
        for (size_t b = 0; b < n; b++) {
            if (!items[b].logits) continue;
            memcpy(items[b].logits, m->tmp + j * hp->n_vocab, hp->n_vocab * sizeof(float));
            j++;
        }
    }
    for (size_t b = 0; b < n; b++) {
        items[b].seq->pos += items[b].seq->pending;
        items[b].seq->pending = 0;
    }
    return 0;
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
    struct zt_batch_item *items = zt_calloc(n, sizeof *items);
    if (!acc || !items) {
        rc = ZT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) items[i] = (struct zt_batch_item){s, tokens[i], NULL};
    /* the hidden states are in m->x after decode: run in chunks and pool */
    for (size_t off = 0; off < n; off += MAX_BATCH) {
        size_t c = n - off < MAX_BATCH ? n - off : MAX_BATCH;
        rc = zt_model_decode(m, items + off, c);
        if (rc) goto out;
        for (size_t b = 0; b < c; b++) {
            rmsnorm(m->xn, m->x + b * d, m->out_norm.data, d, hp->rms_eps);
            for (size_t i = 0; i < d; i++) acc[i] += m->xn[i];
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
    zt_free(acc);
    zt_seq_free(s);
    return rc;
}
