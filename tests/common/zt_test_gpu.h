/* zt_test_gpu.h: the model-level checks every GPU backend's test runs
 * against the CPU (test_vulkan, test_cuda): greedy generation, the same
 * tokens in the fast mode, the same bits in the deterministic mode, the
 * device budget, a weight type without kernels. Header-only (static), for
 * cmocka tests; `backend` names a registered backend with a device here. */
#ifndef ZT_TEST_GPU_H
#define ZT_TEST_GPU_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/backend.h"
#include "zentalk/zt_model.h"

enum { ZT_GREEDY_PROMPT = 9, ZT_GREEDY_GEN = 40 };

/* A 9-token prompt in one batch, then 40 greedy steps one token at a time
 * on the backend of `ro`; tokens[] gets the generated tokens, last[]
 * (n_vocab floats) the logits of the final step. */
static inline void zt_test_greedy_opts(const char *path, const struct zt_model_run_opts *ro, int32_t *tokens,
                                       float *last)
{
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model *m = NULL;
    int rc = zt_model_load_opts(path, ro, &m, &err);
    if (rc) fprintf(stderr, "%s on %s: %s\n", path, ro->backend, zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_buf_deinit(&err);
    assert_string_equal(zt_model_backend(m), ro->split_bytes ? "split" : ro->backend);
    bool det = ro->deterministic;
    size_t nv = zt_model_hparams(m)->n_vocab;
    struct zt_seq *s;
    assert_int_equal(zt_seq_new(m, 128, &s), 0);
    float *logits = malloc(ZT_GREEDY_PROMPT * nv * sizeof(float));
    assert_non_null(logits);
    static const int32_t prompt[ZT_GREEDY_PROMPT] = {1, 403, 407, 261, 378, 270, 288, 317, 262};
    struct zt_batch_item items[ZT_GREEDY_PROMPT];
    for (int i = 0; i < ZT_GREEDY_PROMPT; i++) items[i] = (struct zt_batch_item){s, prompt[i], logits + (size_t)i * nv};
    assert_int_equal(zt_model_decode(m, items, ZT_GREEDY_PROMPT), 0);
    const float *prev = logits + (size_t)(ZT_GREEDY_PROMPT - 1) * nv;
    for (int g = 0; g < ZT_GREEDY_GEN; g++) {
        int32_t best = 0;
        for (size_t v = 1; v < nv; v++)
            if (prev[v] > prev[best]) best = (int32_t)v;
        tokens[g] = best;
        struct zt_batch_item it = {s, best, logits};
        assert_int_equal(zt_model_decode(m, &it, 1), 0);
        prev = logits;
    }
    memcpy(last, logits, nv * sizeof(float));
    free(logits);
    zt_seq_free(s);
    if (det) assert_true(zt_model_exact(m));
    zt_model_free(m);
}

/* The same on `backend` (det: its deterministic mode). */
static inline void zt_test_greedy(const char *path, const char *backend, bool det, int32_t *tokens, float *last)
{
    struct zt_model_run_opts ro = {.backend = backend, .deterministic = det};
    zt_test_greedy_opts(path, &ro, tokens, last);
}

/* The fast mode: the CPU's greedy tokens, last logits within 1e-3 relative. */
static inline void zt_test_gpu_same_tokens(const char *path, const char *backend)
{
    int32_t want[ZT_GREEDY_GEN], got[ZT_GREEDY_GEN];
    float *lw = malloc(4096 * sizeof(float)), *lg = malloc(4096 * sizeof(float));
    assert_true(lw && lg);
    zt_test_greedy(path, "cpu", false, want, lw);
    zt_test_greedy(path, backend, false, got, lg);
    for (int g = 0; g < ZT_GREEDY_GEN; g++) {
        if (want[g] != got[g]) fprintf(stderr, "step %d: %s %d, cpu %d\n", g, backend, got[g], want[g]);
        assert_int_equal(got[g], want[g]);
    }
    double max_abs = 0, max_ref = 0;
    for (size_t v = 0; v < 512; v++) {
        double d = fabs((double)lw[v] - (double)lg[v]);
        if (d > max_abs) max_abs = d;
        if (fabs((double)lw[v]) > max_ref) max_ref = fabs((double)lw[v]);
    }
    printf("%s on %s: %d greedy tokens equal; last logits max abs %.3g (rel %.3g)\n", path, backend, ZT_GREEDY_GEN,
           max_abs, max_abs / max_ref);
    assert_true(max_abs / max_ref < 1e-3);
    free(lw);
    free(lg);
}

/* The deterministic mode: the tokens and the last step's 512 logits bit for
 * bit the CPU's. */
static inline void zt_test_gpu_same_bits(const char *path, const char *backend)
{
    int32_t want[ZT_GREEDY_GEN], got[ZT_GREEDY_GEN];
    float *lw = malloc(4096 * sizeof(float)), *lg = malloc(4096 * sizeof(float));
    assert_true(lw && lg);
    zt_test_greedy(path, "cpu", false, want, lw);
    zt_test_greedy(path, backend, true, got, lg);
    assert_memory_equal(got, want, sizeof want);
    assert_memory_equal(lg, lw, 512 * sizeof(float));
    printf("%s on %s, deterministic mode: %d greedy tokens and the last 512 logits bit-identical to the CPU\n", path,
           backend, ZT_GREEDY_GEN);
    free(lw);
    free(lg);
}

/* gpu_pool.max_vram_mb below the model: refused at load with the sizes,
 * nothing uploaded, no crash; 2 MiB fits; the CPU ignores the budget. */
static inline void zt_test_gpu_vram_budget(const char *path, const char *backend)
{
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model *m = NULL;
    struct zt_model_run_opts ro = {.backend = backend, .deterministic = true, .max_device_mb = 1};
    assert_int_equal(zt_model_load_opts(path, &ro, &m, &err), ZT_ETOOBIG);
    assert_null(m);
    assert_non_null(strstr(zt_buf_str(&err), "gpu_pool.max_vram_mb"));
    printf("max_vram_mb 1: %s\n", zt_buf_str(&err));
    zt_buf_reset(&err);
    ro.max_device_mb = 2;
    assert_int_equal(zt_model_load_opts(path, &ro, &m, &err), 0);
    zt_model_free(m);
    ro.backend = "cpu";
    ro.max_device_mb = 1;
    assert_int_equal(zt_model_load_opts(path, &ro, &m, &err), 0);
    zt_model_free(m);
    zt_buf_deinit(&err);
}

/* A weight type without kernels (Q8_K: activations only): supports() says
 * no (so a model with it is refused at load) and an op called with it
 * anyway fails cleanly; a row id past the table is refused, not read. */
static inline void zt_test_gpu_unsupported_type(const char *backend)
{
    struct zt__backend *be;
    assert_int_equal(zt__backend_new(backend, NULL, &be), 0);
    const struct zt__backend_ops *op = be->ops;
    assert_false(op->supports(be, ZT_GGML_Q8_K));
    assert_false(op->supports(be, ZT_GGML_TYPE_COUNT));
    struct zt__buffer *wb, *xb, *yb;
    assert_int_equal(op->buffer_alloc(be, 292 * 2, &wb), 0);
    assert_int_equal(op->buffer_alloc(be, 256 * 4, &xb), 0);
    assert_int_equal(op->buffer_alloc(be, 2 * 4, &yb), 0);
    struct zt__tensor w = {.buf = wb, .type = ZT_GGML_Q8_K, .ne0 = 256, .ne1 = 2, .nb1 = 292};
    struct zt__tensor x = zt__tensor_f32(xb, 0, 256, 1), y = zt__tensor_f32(yb, 0, 2, 1);
    assert_int_equal(op->matmul(be, &w, &x, &y), ZT_EUNSUPPORTED);
    int32_t ids[1] = {0};
    struct zt__tensor row = zt__tensor_f32(xb, 0, 256, 1);
    assert_int_equal(op->get_rows(be, &w, ids, &row), ZT_EUNSUPPORTED);
    struct zt__tensor one = zt__tensor_f32(yb, 0, 2, 1);
    ids[0] = 2;
    struct zt__tensor t2 = zt__tensor_f32(xb, 0, 2, 2);
    assert_int_equal(op->get_rows(be, &t2, ids, &one), ZT_ERANGE);
    op->buffer_free(be, wb);
    op->buffer_free(be, xb);
    op->buffer_free(be, yb);
    zt__backend_free(be);
}

#endif
