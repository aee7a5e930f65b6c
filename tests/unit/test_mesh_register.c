/* test_mesh_register.c: models registered at run time (zt_infer_register,
 * what the mesh's installed hook calls for a model fetched from peers; see
 * docs/internals/infer.md): a registration while a job holds another model
 * leaves that job and its entry untouched, the new model serves the same
 * text as its file opened directly, the same registration again is a no-op,
 * and the refusals (bad id or hash, missing file, not GGUF, an id taken,
 * past ZT_INFER_MAX_REGISTERED). A thread registering while another reads
 * the ids runs clean under the sanitizers. Skipped without stories260K.gguf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_mesh.h"

static char model[1024], model_sha[65];

static int setup(void **state)
{
    (void)state;
    zt_test_leak_mark();
    if (!zt_test_model("stories260K.gguf", model, sizeof model)) {
        model[0] = '\0';
        return 0;
    }
    struct zt_mesh_manifest man; /* the file's SHA-256, as the mesh computes it */
    assert_int_equal(zt_mesh_manifest_of_file(model, &man), 0);
    zt_hex_encode(model_sha, man.file_sha256, 32);
    zt_mesh_manifest_deinit(&man);
    return 0;
}

/* Greedy completion of "Once upon a time" (8 tokens) on model id. */
static void complete(struct zt_infer *inf, const char *id, struct zt_test_text *out)
{
    struct zt_infer_request rq = {.model = id, .prompt = "Once upon a time", .prompt_len = 16, .max_tokens = 8};
    zt_sampler_params_default(&rq.sampler);
    rq.sampler.temperature = 0;
    struct zt_infer_job *job = NULL;
    struct zt_infer_err err;
    assert_int_equal(zt_infer_job_new(inf, &rq, &job, &err), 0);
    struct zt_infer_result res;
    memset(out, 0, sizeof *out);
    assert_int_equal(zt_infer_run(job, zt_test_on_text, NULL, out, &res), 0);
    assert_int_equal(res.completion_tokens, 8);
}

static void test_register_beside_a_running_job(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer_opts o = {.n_threads = 1, .n_slots = 2, .n_ctx = 128};
    struct zt_infer *inf = NULL;
    assert_int_equal(zt_infer_new_file(model, &o, &inf), 0);
    struct zt_test_text want;
    complete(inf, NULL, &want);
    /* a job holds the first model (acquired, not started) */
    struct zt_infer_request rq = {.prompt = "Once upon a time", .prompt_len = 16, .max_tokens = 8};
    zt_sampler_params_default(&rq.sampler);
    rq.sampler.temperature = 0;
    struct zt_infer_job *held = NULL;
    struct zt_infer_err err;
    assert_int_equal(zt_infer_job_new(inf, &rq, &held, &err), 0);
    bool loaded = false;
    const struct zt_cfg_model *first = zt_infer_model(inf, 0, &loaded);
    assert_true(loaded);

    assert_int_equal(zt_infer_register(inf, "from-mesh", model, model_sha), 0);
    assert_int_equal(zt_infer_model_count(inf), 2);
    assert_ptr_equal(zt_infer_model(inf, 0, &loaded), first); /* nothing moved */
    assert_true(zt_infer_serves(inf, "from-mesh"));
    const struct zt_cfg_model *e = zt_infer_model(inf, 1, &loaded);
    assert_false(loaded); /* loaded on first use */
    assert_string_equal(e->id, "from-mesh");
    assert_string_equal(e->sha256, model_sha);
    const char *ids[4];
    assert_int_equal(zt_infer_model_ids(inf, ids, 4), 2);
    assert_string_equal(ids[1], "from-mesh");
    /* the same registration again: nothing to do */
    assert_int_equal(zt_infer_register(inf, "from-mesh", model, model_sha), 0);
    assert_int_equal(zt_infer_model_count(inf), 2);

    /* the held job runs as if nothing happened; the new model gives the same text */
    struct zt_test_text a = {0}, b;
    struct zt_infer_result res;
    assert_int_equal(zt_infer_run(held, zt_test_on_text, NULL, &a, &res), 0);
    assert_string_equal(a.s, want.s);
    complete(inf, "from-mesh", &b);
    assert_string_equal(b.s, want.s);
    zt_infer_shutdown(inf);
    zt_infer_free(inf); /* the registered entry's strings freed (zt_test_leak_teardown counts) */
}

static void test_refusals(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct zt_infer *inf = NULL;
    assert_int_equal(zt_infer_new_file(model, NULL, &inf), 0);
    static const char *const bad_ids[] = {"", ".hidden", "a b", "a/b", "x\n",
                                          "0123456789012345678901234567890123456789012345678901234567890123456789"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
        assert_int_equal(zt_infer_register(inf, bad_ids[i], model, model_sha), ZT_EINVAL);
    assert_int_equal(zt_infer_register(inf, "m", model, "ABCD"), ZT_EINVAL);
    char upper[65];
    memcpy(upper, model_sha, 65);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    if (strcmp(upper, model_sha) != 0) assert_int_equal(zt_infer_register(inf, "m", model, upper), ZT_EINVAL);
    assert_int_equal(zt_infer_register(inf, "m", "", model_sha), ZT_EINVAL);
    assert_int_equal(zt_infer_register(inf, "m", "/nonexistent/zt/x.gguf", model_sha), ZT_ENOTFOUND);
    /* a file that is not GGUF (a blob that is not a model) */
    char tmp[] = "/tmp/zt-reg-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a model", 11), 11);
    close(fd);
    assert_int_equal(zt_infer_register(inf, "m", tmp, model_sha), ZT_EINVAL);
    unlink(tmp);
    assert_int_equal(zt_infer_model_count(inf), 1);
    /* an id taken: by another file, or by a models.yaml entry */
    assert_int_equal(zt_infer_register(inf, "m", model, model_sha), 0);
    char other[65];
    memcpy(other, model_sha, 65);
    other[0] = other[0] == '0' ? '1' : '0';
    assert_int_equal(zt_infer_register(inf, "m", model, other), ZT_EEXIST);
    /* up to ZT_INFER_MAX_REGISTERED */
    for (int i = 1; i < ZT_INFER_MAX_REGISTERED; i++) {
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        assert_int_equal(zt_infer_register(inf, id, model, model_sha), 0);
    }
    assert_int_equal(zt_infer_model_count(inf), 1 + ZT_INFER_MAX_REGISTERED);
    assert_int_equal(zt_infer_register(inf, "one-more", model, model_sha), ZT_ETOOBIG);
    zt_infer_shutdown(inf);
    assert_int_equal(zt_infer_register(inf, "m", model, model_sha), 0); /* the same: still nothing to do */
    zt_infer_free(inf);
}

/* Readers walk the ids without a lock while another thread registers. */
struct race {
    struct zt_infer *inf;
    int rc;
};

static void *registrar(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < ZT_INFER_MAX_REGISTERED && !r->rc; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        r->rc = zt_infer_register(r->inf, id, model, model_sha);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    if (!model[0]) zt_skip("stories260K.gguf not found (tests/models, or set ZT_TEST_MODELS_DIR)");
    struct race r = {0};
    assert_int_equal(zt_infer_new_file(model, NULL, &r.inf), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, registrar, &r), 0);
    size_t seen = 1;
    while (seen < 1 + ZT_INFER_MAX_REGISTERED) {
        const char *ids[64];
        size_t n = zt_infer_model_ids(r.inf, ids, 64);
        assert_true(n >= seen); /* never shrinks */
        for (size_t i = 1; i < n; i++) {
            assert_int_equal(ids[i][0], 'r'); /* each entry whole once counted */
            assert_int_equal(zt_infer_model_find(r.inf, ids[i]), (int)i);
        }
        seen = n;
    }
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    zt_infer_shutdown(r.inf);
    zt_infer_free(r.inf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_beside_a_running_job),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_concurrent_readers),
    };
    return zt_test_exit(cmocka_run_group_tests_name("mesh_register", tests, setup, zt_test_leak_teardown));
}
