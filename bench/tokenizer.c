/* bench/tokenizer.c: tokenizer throughput on the committed test
 * vocabularies (moved out of tests/unit/test_tokenizer.c: figures only,
 * nothing asserted on speed).
 *
 *   bench_tokenizer [MODELS_DIR]
 *       MODELS_DIR  folder holding llama-2-tiny-random.gguf and
 *                   tokenizer-tests/ggml-vocab-gpt-2.gguf (default: the
 *                   repository's tests/models, compiled in)
 *
 * SPM: the Llama 2 vocabulary (32000 tokens), encode and decode of 256 KiB
 * of English prose. BPE: GPT-2's byte-level vocabulary (50257 tokens and
 * its merges), encode of 128 KiB of the same prose. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_tokenizer.h"

#ifndef ZT_BENCH_MODELS_DIR
#define ZT_BENCH_MODELS_DIR "tests/models"
#endif

static const char para[] =
    "The quick brown fox jumps over the lazy dog. In the beginning, there was a small "
    "village by the river, where people lived quietly and worked in the fields. "
    "Tokenizers turn text into numbers, and numbers back into text, 1234 times a second.\n";

static double now_s(void)
{
    return (double)zt_time_mono_ns() / 1e9;
}

static struct zt_tokenizer *load(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct zt_gguf *g = NULL;
    struct zt_tokenizer *t = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    if (zt_gguf_open(path, &g, &err) != 0 || zt_tok_from_gguf(g, &t, &err) != 0) {
        fprintf(stderr, "bench_tokenizer: %s: %s\n", path, zt_buf_str(&err));
        t = NULL;
    }
    zt_gguf_close(g);
    zt_buf_deinit(&err);
    return t;
}

/* Encode (and optionally decode) `bytes` of prose for at least 0.5 s. */
static int run(const char *label, const struct zt_tokenizer *t, size_t bytes, bool decode)
{
    struct zt_buf b;
    zt_buf_init(&b, 1u << 20);
    while (b.len + sizeof para < bytes)
        if (zt_buf_append_str(&b, para) != 0) return 1;
    size_t cap = b.len, n = 0, total = 0;
    int32_t *ids = zt_malloc(cap * sizeof *ids);
    if (!ids) return 1;
    double t0 = now_s(), t1;
    int reps = 0;
    do {
        if (zt_tok_encode(t, b.data, b.len, false, false, ids, cap, &n) != 0) return 1;
        total += n;
        reps++;
        t1 = now_s();
    } while (t1 - t0 < 0.5);
    printf("%s encode: %.2f M tokens/s, %.1f MB/s (%zu tokens per %zu bytes)\n", label,
           (double)total / (t1 - t0) / 1e6, (double)b.len * reps / (t1 - t0) / 1e6, n, b.len);
    if (decode) {
        struct zt_buf o;
        zt_buf_init(&o, 1u << 22);
        t0 = now_s();
        reps = 0;
        do {
            zt_buf_reset(&o);
            if (zt_tok_decode(t, ids, n, 0, &o) != 0) return 1;
            reps++;
            t1 = now_s();
        } while (t1 - t0 < 0.2);
        printf("%s decode: %.1f M tokens/s\n", label, (double)n * reps / (t1 - t0) / 1e6);
        zt_buf_deinit(&o);
    }
    zt_free(ids);
    zt_buf_deinit(&b);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ZT_BENCH_MODELS_DIR;
    struct zt_tokenizer *spm = load(dir, "llama-2-tiny-random.gguf");
    struct zt_tokenizer *bpe = load(dir, "tokenizer-tests/ggml-vocab-gpt-2.gguf");
    int rc = !spm || !bpe;
    if (!rc) rc = run("SPM (Llama 2 vocab)", spm, 256 * 1024, true);
    if (!rc) rc = run("BPE (GPT-2 vocab)", bpe, 128 * 1024, false);
    zt_tok_free(spm);
    zt_tok_free(bpe);
    return rc;
}
