/* genmodel.c: random-weight model files. See genmodel.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "genmodel.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_str.h"

void zt_genmodel_defaults(struct zt_genmodel_opts *o)
{
    memset(o, 0, sizeof *o);
    o->arch = "llama";
    o->type = ZT_GGML_F32;
    o->output_type = ZT_GGML_TYPE_COUNT;
    o->n_embd = 64;
    o->n_layer = 2;
    o->n_head = 4;
    o->n_head_kv = 2;
    o->n_ff = 128;
    o->n_ctx = 256;
    o->n_vocab = 320;
    o->seed = 1;
    o->rope_base = 10000.0f;
}

/* splitmix64 + Box-Muller: deterministic normals */
struct rng {
    uint64_t s;
    bool have;
    double spare;
};

static uint64_t next_u64(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double normal(struct rng *r)
{
    if (r->have) {
        r->have = false;
        return r->spare;
    }
    double u1 = ((double)(next_u64(r) >> 11) + 0.5) * 0x1.0p-53, u2 = (double)(next_u64(r) >> 11) * 0x1.0p-53;
    double m = sqrt(-2.0 * log(u1));
    r->spare = m * sin(2.0 * M_PI * u2);
    r->have = true;
    return m * cos(2.0 * M_PI * u2);
}

/* A [n, rows] weight of the given type, values N(0, std) (+ mean). */
static int add_weight(struct zt_gguf_writer *w, struct rng *r, const char *name, enum zt_ggml_type type, uint64_t n,
                      uint64_t rows, double mean, double std, struct zt_buf *err)
{
    uint64_t ne[2] = {n, rows ? rows : 1};
    uint32_t dims = rows ? 2 : 1;
    size_t row_bytes;
    int rc = zt_quant_row_bytes(type, (size_t)n, &row_bytes);
    if (rc) {
        zt_ignore(zt_buf_appendf(err, "genmodel: %s: row of %llu is not a multiple of the %s block", name,
                                 (unsigned long long)n, zt_ggml_type_name(type)));
        return rc;
    }
    size_t total = row_bytes * (size_t)ne[1];
    uint8_t *data = zt_malloc(total);
    float *row = zt_malloc((size_t)n * sizeof(float));
    if (!data || !row) {
        zt_free(data);
        zt_free(row);
        return ZT_ENOMEM;
    }
    for (uint64_t i = 0; i < ne[1] && !rc; i++) {
        for (uint64_t k = 0; k < n; k++) row[k] = (float)(mean + std * normal(r));
        rc = zt_quant_row(type, row, data + i * row_bytes, (size_t)n);
    }
    if (!rc) rc = zt_gguf_writer_add_tensor(w, name, type, dims, ne, data, total);
    zt_free(row);
    zt_free(data);
    return rc;
}

static int add_synthetic_vocab(struct zt_gguf_writer *w, uint32_t n)
{
    /* <unk> <s> </s>, 256 byte tokens, then "▁t<i>" words and single letters */
    char **toks = zt_calloc(n, sizeof *toks);
    float *scores = zt_calloc(n, sizeof *scores);
    int32_t *types = zt_calloc(n, sizeof *types);
    int rc = (!toks || !scores || !types) ? ZT_ENOMEM : 0;
    for (uint32_t i = 0; !rc && i < n; i++) {
        char buf[32];
        if (i == 0) snprintf(buf, sizeof buf, "<unk>"), types[i] = 2;
        else if (i == 1) snprintf(buf, sizeof buf, "<s>"), types[i] = 3;
        else if (i == 2) snprintf(buf, sizeof buf, "</s>"), types[i] = 3;
        else if (i < 259) snprintf(buf, sizeof buf, "<0x%02X>", i - 3), types[i] = 6;
        else if (i < 285) snprintf(buf, sizeof buf, "%c", 'a' + (i - 259)), types[i] = 1;
        else snprintf(buf, sizeof buf, "\xe2\x96\x81t%u", i), types[i] = 1;
        scores[i] = -(float)i;
        toks[i] = zt_strdup(buf);
        if (!toks[i]) rc = ZT_ENOMEM;
    }
    if (!rc) rc = zt_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5);
    if (!rc) rc = zt_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, NULL, n);
    if (!rc) rc = zt_gguf_writer_add_arr(w, "tokenizer.ggml.scores", ZT_GGUF_F32, scores, n);
    if (!rc) rc = zt_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", ZT_GGUF_I32, types, n);
    if (!rc) rc = zt_gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    if (!rc) rc = zt_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
    if (!rc) rc = zt_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    for (uint32_t i = 0; toks && i < n; i++) zt_free(toks[i]);
    zt_free(toks);
    zt_free(scores);
    zt_free(types);
    return rc;
}

/* Copy the tokenizer of another model; returns its vocabulary size. */
static int copy_vocab(struct zt_gguf_writer *w, const char *path, uint32_t *n_vocab, struct zt_buf *err)
{
    struct zt_gguf *g = NULL;
    int rc = zt_gguf_open(path, &g, err);
    if (rc) return rc;
    enum zt_gguf_vtype et;
    uint64_t n = 0;
    rc = zt_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n);
    const char **strs = rc ? NULL : zt_calloc(n, sizeof *strs);
    size_t *lens = rc ? NULL : zt_calloc(n, sizeof *lens);
    if (!rc && (!strs || !lens)) rc = ZT_ENOMEM;
    for (uint64_t i = 0; !rc && i < n; i++) {
        struct zt_gguf_str s;
        rc = zt_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &s);
        strs[i] = s.ptr;
        lens[i] = (size_t)s.len;
    }
    struct zt_gguf_str model;
    if (!rc) rc = zt_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (!rc) rc = zt_gguf_writer_add_str(w, "tokenizer.ggml.model", model.ptr, (size_t)model.len);
    if (!rc) rc = zt_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", strs, lens, (size_t)n);
    const void *sc = rc ? NULL : zt_gguf_arr_data(g, "tokenizer.ggml.scores");
    const void *ty = rc ? NULL : zt_gguf_arr_data(g, "tokenizer.ggml.token_type");
    if (!rc && sc) rc = zt_gguf_writer_add_arr(w, "tokenizer.ggml.scores", ZT_GGUF_F32, sc, (size_t)n);
    if (!rc && ty) rc = zt_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", ZT_GGUF_I32, ty, (size_t)n);
    const char *ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"};
    for (size_t i = 0; !rc && i < 3; i++) {
        uint64_t v;
        if (zt_gguf_get_u64(g, ids[i], &v) == 0) rc = zt_gguf_writer_add_u32(w, ids[i], (uint32_t)v);
    }
    if (!rc) *n_vocab = (uint32_t)n;
    zt_free(strs);
    zt_free(lens);
    zt_gguf_close(g);
    return rc;
}

int zt_genmodel_write(const struct zt_genmodel_opts *o, const char *path, struct zt_buf *err)
{
    bool qwen = strcmp(o->arch, "qwen2") == 0;
    if ((!qwen && strcmp(o->arch, "llama") != 0) || !o->n_head || !o->n_head_kv || o->n_embd % o->n_head ||
        o->n_head % o->n_head_kv) {
        zt_ignore(zt_buf_append_str(err, "genmodel: bad architecture or head counts"));
        return ZT_EINVAL;
    }
    struct zt_gguf_writer *w = NULL;
    int rc = zt_gguf_writer_new(&w);
    if (rc) return rc;
    struct rng r = {.s = o->seed};
    uint32_t n_vocab = o->n_vocab;
    char key[128];
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, o->arch), key)
    rc = zt_gguf_writer_add_str(w, "general.architecture", o->arch, strlen(o->arch));
    if (!rc) rc = zt_gguf_writer_add_str(w, "general.name", "zentalk random test model", 25);
    if (!rc) rc = o->vocab_from ? copy_vocab(w, o->vocab_from, &n_vocab, err) : add_synthetic_vocab(w, n_vocab);
    if (!rc) rc = zt_gguf_writer_add_u32(w, KEY("context_length"), o->n_ctx);
    if (!rc) rc = zt_gguf_writer_add_u32(w, KEY("embedding_length"), o->n_embd);
    if (!rc) rc = zt_gguf_writer_add_u32(w, KEY("block_count"), o->n_layer);
    if (!rc) rc = zt_gguf_writer_add_u32(w, KEY("feed_forward_length"), o->n_ff);
    if (!rc) rc = zt_gguf_writer_add_u32(w, KEY("attention.head_count"), o->n_head);
    if (!rc) rc = zt_gguf_writer_add_u32(w, KEY("attention.head_count_kv"), o->n_head_kv);
    if (!rc) rc = zt_gguf_writer_add_f32(w, KEY("rope.freq_base"), o->rope_base);
    if (!rc) rc = zt_gguf_writer_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
#undef KEY
    uint64_t d = o->n_embd, hd = d / o->n_head, qd = d, kvd = hd * o->n_head_kv;
    enum zt_ggml_type out_t = o->output_type == ZT_GGML_TYPE_COUNT ? o->type : o->output_type;
    if (!rc) rc = add_weight(w, &r, "token_embd.weight", o->type, d, n_vocab, 0, 0.02, err);
    if (!rc) rc = add_weight(w, &r, "output_norm.weight", ZT_GGML_F32, d, 0, 1.0, 0.0, err);
    if (!rc && !o->tied) rc = add_weight(w, &r, "output.weight", out_t, d, n_vocab, 0, 0.02, err);
    for (uint32_t l = 0; !rc && l < o->n_layer; l++) {
        char name[96];
#define W(suffix, n, rows, mean, std, type)                                                   \
    do {                                                                                      \
        snprintf(name, sizeof name, "blk.%u." suffix, l);                                     \
        if (!rc) rc = add_weight(w, &r, name, (type), (n), (rows), (mean), (std), err);       \
    } while (0)
        W("attn_norm.weight", d, 0, 1.0, 0.0, ZT_GGML_F32);
        W("attn_q.weight", d, qd, 0, 0.02, o->type);
        W("attn_k.weight", d, kvd, 0, 0.02, o->type);
        W("attn_v.weight", d, kvd, 0, 0.02, o->type);
        W("attn_output.weight", qd, d, 0, 0.02, o->type);
        W("ffn_norm.weight", d, 0, 1.0, 0.0, ZT_GGML_F32);
        W("ffn_gate.weight", d, o->n_ff, 0, 0.02, o->type);
        W("ffn_up.weight", d, o->n_ff, 0, 0.02, o->type);
        W("ffn_down.weight", o->n_ff, d, 0, 0.02, o->type);
        if (qwen) {
            W("attn_q.bias", qd, 0, 0, 0.02, ZT_GGML_F32);
            W("attn_k.bias", kvd, 0, 0, 0.02, ZT_GGML_F32);
            W("attn_v.bias", kvd, 0, 0, 0.02, ZT_GGML_F32);
        }
#undef W
    }
    if (!rc) rc = zt_gguf_writer_write(w, path, err);
    zt_gguf_writer_free(w);
    return rc;
}
