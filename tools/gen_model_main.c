/* zt-gen-model: write a random-weight llama / qwen2 GGUF (tests, benchmarks).
 *
 *   zt-gen-model OUT.gguf [--arch llama|qwen2] [--type F32|F16|BF16|Q8_0|Q4_0|Q4_K|Q6_K]
 *       [--output-type T] [--dim N] [--layers N] [--heads N] [--kv-heads N] [--ff N]
 *       [--ctx N] [--vocab N | --vocab-from MODEL.gguf] [--tied] [--seed N]
 *
 * The benchmark model of BENCHMARKS.md (134M parameters):
 *   zt-gen-model m.gguf --type Q4_0 --dim 768 --layers 12 --heads 12 --kv-heads 12 \
 *       --ff 2048 --ctx 2048 --vocab-from tests/models/llama-2-tiny-random.gguf */
#include <stdio.h>
#include <string.h>

#include "genmodel.h"
#include "zentalk/zt_str.h"

static int parse_type(const char *s, enum zt_ggml_type *t)
{
    static const struct {
        const char *name;
        enum zt_ggml_type t;
    } types[] = {{"F32", ZT_GGML_F32},   {"F16", ZT_GGML_F16},   {"BF16", ZT_GGML_BF16}, {"Q8_0", ZT_GGML_Q8_0},
                 {"Q4_0", ZT_GGML_Q4_0}, {"Q4_K", ZT_GGML_Q4_K}, {"Q6_K", ZT_GGML_Q6_K}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (zt_str_eq_ci(s, types[i].name)) {
            *t = types[i].t;
            return 0;
        }
    return -1;
}

int main(int argc, char **argv)
{
    struct zt_genmodel_opts o;
    zt_genmodel_defaults(&o);
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t *u = NULL;
        if (!strcmp(a, "--dim")) u = &o.n_embd;
        else if (!strcmp(a, "--layers")) u = &o.n_layer;
        else if (!strcmp(a, "--heads")) u = &o.n_head;
        else if (!strcmp(a, "--kv-heads")) u = &o.n_head_kv;
        else if (!strcmp(a, "--ff")) u = &o.n_ff;
        else if (!strcmp(a, "--ctx")) u = &o.n_ctx;
        else if (!strcmp(a, "--vocab")) u = &o.n_vocab;
        if (u) {
            int64_t x;
            if (!v || zt_str_to_i64(v, &x) != 0 || x < 1 || x > 1000000) {
                fprintf(stderr, "zt-gen-model: %s needs a positive number\n", a);
                return 2;
            }
            *u = (uint32_t)x;
            i++;
        } else if (!strcmp(a, "--arch") && v) {
            o.arch = v;
            i++;
        } else if ((!strcmp(a, "--type") || !strcmp(a, "--output-type")) && v) {
            if (parse_type(v, !strcmp(a, "--type") ? &o.type : &o.output_type) != 0) {
                fprintf(stderr, "zt-gen-model: unknown type %s\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--vocab-from") && v) {
            o.vocab_from = v;
            i++;
        } else if (!strcmp(a, "--seed") && v) {
            uint64_t s;
            if (zt_str_to_u64(v, &s) != 0) return 2;
            o.seed = s;
            i++;
        } else if (!strcmp(a, "--tied")) {
            o.tied = true;
        } else if (a[0] != '-' && !out) {
            out = a;
        } else {
            fprintf(stderr, "zt-gen-model: unknown or incomplete option %s\n", a);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "usage: zt-gen-model OUT.gguf [--arch A] [--type T] [--dim N] ... (see the source)\n");
        return 2;
    }
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    int rc = zt_genmodel_write(&o, out, &err);
    if (rc) fprintf(stderr, "zt-gen-model: %s (%s)\n", zt_buf_str(&err), zt_strerror(rc));
    zt_buf_deinit(&err);
    return rc ? 1 : 0;
}
