/* zt_test_greedy.h: greedy generation on a compute backend, for the tests
 * of the GPU backends (test_vulkan, test_cuda) that compare a device with
 * the CPU at the model level. Header-only (static), for cmocka tests. */
#ifndef ZT_TEST_GREEDY_H
#define ZT_TEST_GREEDY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_model.h"

enum { ZT_GREEDY_PROMPT = 9, ZT_GREEDY_GEN = 40 };

/* A 9-token prompt in one batch, then 40 greedy steps one token at a time
 * on `backend` (det: its deterministic mode); tokens[] gets the generated
 * tokens, last[] (n_vocab floats) the logits of the final step. */
static inline void zt_test_greedy(const char *path, const char *backend, bool det, int32_t *tokens, float *last)
{
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    struct zt_model *m = NULL;
    struct zt_model_run_opts ro = {.backend = backend, .deterministic = det};
    int rc = zt_model_load_opts(path, &ro, &m, &err);
    if (rc) fprintf(stderr, "%s on %s: %s\n", path, backend, zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_buf_deinit(&err);
    assert_string_equal(zt_model_backend(m), backend);
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

#endif
