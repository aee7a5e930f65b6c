/* test_learned.c: the learned chat classifiers (src/features/learned.h)
 * and the person-name scorer of PII detection (src/privacy/pii_internal.h):
 * retraining from tests/data/tune/ reproduces the committed model files
 * byte for byte (the name model with the names asset; skipped without it), the compiled-in models are those files, the parser
 * refuses broken files and training is deterministic. How the models join
 * the rules is checked by test_spam and test_moderation (the rows
 * and the false-positive cases). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/features/learned.h"
#include "../../src/privacy/pii_internal.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_file.h"
#include "zt_test.h"

static const char *src_dir(void)
{
    const char *s = getenv("ZT_SOURCE_DIR");
    return s ? s : ".";
}

static void test_retrain_reproduces(void **state)
{
    (void)state;
    for (int w = 0; w < ZT__CLF_N; w++) {
        enum zt__clf_which which = (enum zt__clf_which)w;
        char path[4096];
        snprintf(path, sizeof path, "%s/src/features/models/%s", src_dir(), zt__clf_name(which));
        char *committed = NULL;
        size_t clen = 0;
        assert_int_equal(zt_file_read(path, 1u << 26, &committed, &clen), 0);
        struct zt__clf_example *ex = NULL;
        char **bufs = NULL;
        size_t n = 0, nb = 0, len = 0;
        assert_int_equal(zt__clf_examples(which, src_dir(), &ex, &n, &bufs, &nb), 0);
        assert_true(n > 1000);
        uint8_t *out = NULL;
        assert_int_equal(zt__clf_train(ex, n, zt__clf_recipe(which), &out, &len), 0);
        if (len != clen || memcmp(out, committed, len) != 0)
            fail_msg("%s: retraining gives other bytes (run `build/tools/zt-train-clf write` after changing the "
                     "tuning sets or the recipe, and commit the file)",
                     path);
        /* the compiled-in model is the committed file */
        struct zt_hlr file;
        assert_int_equal(zt_hlr_parse(committed, clen, &file), 0);
        const struct zt_hlr *b = zt__clf_builtin(which);
        assert_int_equal(b->log2, file.log2);
        assert_int_equal(b->n_examples, (uint32_t)zt__clf_n_trained(ex, n));
        assert_memory_equal(b->w, file.w, (size_t)1 << file.log2);
        assert_true(b->bias == file.bias && b->scale == file.scale && b->threshold == file.threshold);
        zt_free(out);
        zt_free(committed);
        zt__clf_examples_free(ex, bufs, nb);
    }
}

/* The person-name scorer: retraining with the names asset gives the
 * committed src/privacy/models/names.clf, which is the compiled-in one. */
static void test_name_model_reproduces(void **state)
{
    (void)state;
    char path[4096];
    struct zt_asset a;
    if (zt_asset_path("data", ZT_PII_NAMES_ASSET, path, sizeof path) != 0 ||
        zt_asset_load(path, ZT_PII_NAMES_KIND, ZT_PII_NAMES_VERSION, &a) != 0) {
        printf("skipping: data/assets/%s not installed (run `make data`)\n", ZT_PII_NAMES_ASSET);
        skip();
    }
    struct zt_pii_detector *d = NULL;
    assert_int_equal(zt_pii_detector_new(NULL, &d, NULL), 0);
    assert_int_equal(zt_pii_detector_set_names(d, a.data, a.len), 0);
    zt_asset_deinit(&a);
    struct zt__pii_name_set set;
    assert_int_equal(zt__pii_name_set_load(d, src_dir(), &set), 0);
    assert_true(set.n > 300);
    uint8_t *out = NULL;
    size_t len = 0, clen = 0;
    assert_int_equal(zt__pii_name_train(&set, NULL, zt__pii_name_recipe(), &out, &len), 0);
    snprintf(path, sizeof path, "%s/src/privacy/models/names.clf", src_dir());
    char *committed = NULL;
    assert_int_equal(zt_file_read(path, 1u << 26, &committed, &clen), 0);
    if (len != clen || memcmp(out, committed, len) != 0)
        fail_msg("%s: retraining gives other bytes (run `build/tools/zt-train-clf write` after changing the "
                 "PII tuning sets, the name features or the recipe, and commit the file)",
                 path);
    const struct zt_hlr *b = zt__pii_name_model_builtin();
    assert_non_null(b);
    assert_int_equal(b->n_examples, (uint32_t)set.n);
    assert_memory_equal(b->w, committed + ZT_HLR_HEADER, (size_t)1 << b->log2);
    zt_free(out);
    zt_free(committed);
    zt__pii_name_set_deinit(&set);
    zt_pii_detector_free(d);
}

static void test_parse(void **state)
{
    (void)state;
    const struct zt_hlr *b = zt__clf_builtin(ZT__CLF_SPAM_CHAT);
    size_t len = ZT_HLR_HEADER + ((size_t)1 << b->log2);
    uint8_t *f = zt_malloc(len);
    assert_non_null(f);
    memcpy(f, (const uint8_t *)b->w - ZT_HLR_HEADER, len);
    struct zt_hlr m;
    assert_int_equal(zt_hlr_parse(f, len, &m), 0);
    assert_int_equal(zt_hlr_parse(f, len - 1, &m), ZT_EPARSE);
    assert_int_equal(zt_hlr_parse(f, 10, &m), ZT_EPARSE);
    f[0] = 'X';
    assert_int_equal(zt_hlr_parse(f, len, &m), ZT_EPARSE);
    f[0] = 'Z';
    f[8] = 30; /* buckets_log2 out of range */
    assert_int_equal(zt_hlr_parse(f, len, &m), ZT_EPARSE);
    zt_free(f);
    /* not UTF-8: refused, as zt_spam_classify() refuses it */
    double mz;
    assert_int_equal(zt__clf_margin(b, "\xff\xfe", 2, &mz), ZT_EPARSE);
    /* the empty text has no features: never a yes, whatever the bias */
    for (int w = 0; w < ZT__CLF_N; w++) {
        assert_int_equal(zt__clf_margin(zt__clf_builtin((enum zt__clf_which)w), "", 0, &mz), 0);
        assert_true(mz < -1e6);
    }
}

/* The actionable cues behind the chat-scam model's gate (ZT__CLF_SPAM_GATE):
 * a link (bare ones too), money, a phone number or a number; not words alone. */
static void test_actionable(void **state)
{
    (void)state;
    const struct zt_hlr *b = zt__clf_builtin(ZT__CLF_SPAM_CHAT);
    static const struct {
        const char *text;
        bool act;
    } rows[] = {
        {"claim your reward at http://prize-claim.xyz", true},
        {"send me $50 today", true},
        {"call 0800 123 4567 now", true},
        {"pay the fee at hmrc-refund-gov.com today", true},
        {"your late relative left $4.5M", true},
        {"Congratulations, you have been selected", false},
        {"e.g. the slides, ok.so what now", false},
        {"¡Felicidades por el nuevo trabajo!", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        double mz = 0;
        bool act = !rows[i].act;
        assert_int_equal(zt__clf_score(b, rows[i].text, strlen(rows[i].text), &mz, &act), 0);
        if (act != rows[i].act) fail_msg("%s: actionable %d, expected %d", rows[i].text, act, rows[i].act);
    }
}

/* The same examples twice give the same bytes, and the model learns them. */
static void test_deterministic(void **state)
{
    (void)state;
    struct zt__clf_example ex[] = {
        {.text = "claim your free USDT airdrop now at http://usdt-bonus.xyz", .len = 58, .label = 1},
        {.text = "can you send me the slides from this morning?", .len = 45, .label = 0},
        {.text = "you won a $1000 gift card, reply YES", .len = 36, .label = 1},
        {.text = "see you at 5", .len = 12, .label = 0},
    };
    struct zt_hlr_params p = *zt__clf_recipe(ZT__CLF_SPAM_CHAT);
    p.log2 = 10;
    uint8_t *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    assert_int_equal(zt__clf_train(ex, 4, &p, &a, &la), 0);
    assert_int_equal(zt__clf_train(ex, 4, &p, &b, &lb), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    struct zt_hlr m;
    assert_int_equal(zt_hlr_parse(a, la, &m), 0);
    double yes, no;
    assert_int_equal(zt__clf_margin(&m, ex[0].text, ex[0].len, &yes), 0);
    assert_int_equal(zt__clf_margin(&m, ex[1].text, ex[1].len, &no), 0);
    assert_true(yes > no);
    zt_free(a);
    zt_free(b);
    assert_int_equal(zt__clf_train(ex, 0, &p, &a, &la), ZT_EINVAL);
}

/* Training weights (round 11): an example of weight 2 trains as two copies
 * of it, one of weight -1 as if it were not there; others are refused. */
static void test_weights(void **state)
{
    (void)state;
    struct zt__clf_example w[] = {
        {.text = "you're welcome", .len = 14, .label = 0, .weight = 2},
        {.text = "you're such an idiot", .len = 20, .label = 1},
        {.text = "his name is Dan, he lives on Oak Close", .len = 38, .label = 1, .weight = -1},
        {.text = "see you at 5", .len = 12, .label = 0},
    };
    struct zt__clf_example d[] = {w[0], w[0], w[1], w[3]};
    d[0].weight = d[1].weight = 0;
    assert_int_equal(zt__clf_n_trained(w, 4), 4);
    struct zt_hlr_params p = *zt__clf_recipe(ZT__CLF_HARASS);
    p.log2 = 10;
    uint8_t *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    assert_int_equal(zt__clf_train(w, 4, &p, &a, &la), 0);
    assert_int_equal(zt__clf_train(d, 4, &p, &b, &lb), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    zt_free(a);
    zt_free(b);
    w[2].weight = -2;
    assert_int_equal(zt__clf_train(w, 4, &p, &a, &la), ZT_EINVAL);
    w[2].weight = 65;
    assert_int_equal(zt__clf_train(w, 4, &p, &a, &la), ZT_EINVAL);
    struct zt__clf_example none = w[2];
    none.weight = -1;
    assert_int_equal(zt__clf_train(&none, 1, &p, &a, &la), ZT_EINVAL);
}

/* The harassment model's gate: a text that names a second or third person. */
static void test_addressed(void **state)
{
    (void)state;
    static const char *const yes[] = {"you're a clown", "tell HER to leave", "ich hasse dich", "voc\xc3\xaa \xc3\xa9 um lixo",
                                      "je bent dom", "kys", "t'es nul"};
    static const char *const no[] = {"I'm so dumb today", "no one wants to go out in this rain", "", "youth club at 6",
                                     "Sorry, I can't make it.", "I won\xe2\x80\x99t be able to"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!zt__clf_addressed(yes[i], strlen(yes[i]))) fail_msg("not addressed: %s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (zt__clf_addressed(no[i], strlen(no[i]))) fail_msg("addressed: %s", no[i]);
    /* round 11: second person (the gate's 0) before third person only (ZT__CLF_HARASS_GATE3) */
    assert_int_equal(zt__clf_person("his name is Dan, he lives on Oak Close", 38), 1);
    assert_int_equal(zt__clf_person("tell HER you're done", 20), 2);
    assert_int_equal(zt__clf_person("ich hasse dich", 14), 2);
    assert_int_equal(zt__clf_person("er wohnt in Kiel", 16), 1);
    assert_int_equal(zt__clf_person("youth club at 6", 15), 0);
    assert_int_equal(zt__clf_person("", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retrain_reproduces),
        cmocka_unit_test(test_name_model_reproduces),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_actionable),
        cmocka_unit_test(test_addressed),
        cmocka_unit_test(test_weights),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
