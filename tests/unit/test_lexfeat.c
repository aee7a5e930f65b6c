/* test_lexfeat: the lexicon features a node loads (zt_featset.h,
 * src/features/lexfeat.c), without HTTP: why a feature is not loaded, as a
 * state (disabled, asset missing, unavailable) the route maps to 403/503
 * with the reason, and the moderation policy for one text: the request's
 * language, else the one detected (unsure below ZT_LEXFEAT_LANG_SURE),
 * else none. The routes over HTTP are test_features_lex's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "zt_test.h"

#include "zentalk/zt_config.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_moderation.h"

#define FP_DIR "/usr/share/libexttextcat"
static char fp_dir[] = FP_DIR, no_fp_dir[] = "/nonexistent-fingerprints", xx[] = "xx";

struct fx {
    struct zt_config cfg;
    char dir[64];
    char *data_dir, *fp_dir; /* the config's own, put back before deinit */
    char assets[4096];       /* $ZENTALK_ASSETS_DIR before ("" = unset) */
};

static void fx_init(struct fx *x, char *fps)
{
    assert_int_equal(zt_config_init_defaults(&x->cfg), 0);
    snprintf(x->dir, sizeof x->dir, "%s", "/tmp/zt-lexfeat-XXXXXX");
    assert_non_null(mkdtemp(x->dir)); /* no assets in it: the assets dir for the test */
    const char *a = getenv("ZENTALK_ASSETS_DIR");
    snprintf(x->assets, sizeof x->assets, "%s", a ? a : "");
    assert_int_equal(setenv("ZENTALK_ASSETS_DIR", x->dir, 1), 0);
    x->data_dir = x->cfg.node.data_dir;
    x->fp_dir = x->cfg.features.language.fingerprints_dir;
    x->cfg.node.data_dir = x->dir;
    x->cfg.features.language.fingerprints_dir = fps;
}

static void fx_deinit(struct fx *x)
{
    x->cfg.node.data_dir = x->data_dir;
    x->cfg.features.language.fingerprints_dir = x->fp_dir;
    zt_config_deinit(&x->cfg);
    rmdir(x->dir);
    if (x->assets[0]) assert_int_equal(setenv("ZENTALK_ASSETS_DIR", x->assets, 1), 0);
    else assert_int_equal(unsetenv("ZENTALK_ASSETS_DIR"), 0);
}

static void test_states(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, no_fp_dir);
    struct zt_lexfeat *f = NULL;
    assert_int_equal(zt_lexfeat_new(&x.cfg, &f), 0);
    const char *why = NULL;
    /* no assets, no fingerprints: missing, the reason says what to run */
    assert_int_equal(zt_lexfeat_state(f, ZT_LEXFEAT_SENTIMENT, &why), ZT_FEAT_ASSET_MISSING);
    assert_non_null(strstr(why, "make data"));
    assert_int_equal(zt_lexfeat_state(f, ZT_LEXFEAT_MODERATION, &why), ZT_FEAT_ASSET_MISSING);
    assert_int_equal(zt_lexfeat_state(f, ZT_LEXFEAT_LANGUAGE, &why), ZT_FEAT_ASSET_MISSING);
    assert_non_null(strstr(why, "/nonexistent-fingerprints"));
    assert_null(zt_lexfeat_sentiment(f, NULL));
    zt_lexfeat_free(f);

    /* disabled in features.yaml */
    x.cfg.features.sentiment.enabled = false;
    x.cfg.features.moderation.enabled = false;
    x.cfg.features.language.enabled = false;
    assert_int_equal(zt_lexfeat_new(&x.cfg, &f), 0);
    assert_int_equal(zt_lexfeat_state(f, ZT_LEXFEAT_SENTIMENT, &why), ZT_FEAT_DISABLED);
    assert_string_equal(why, "features.sentiment.enabled is false");
    assert_int_equal(zt_lexfeat_state(f, ZT_LEXFEAT_MODERATION, NULL), ZT_FEAT_DISABLED);
    assert_int_equal(zt_lexfeat_state(f, ZT_LEXFEAT_LANGUAGE, &why), ZT_FEAT_DISABLED);
    zt_lexfeat_free(f);
    fx_deinit(&x);

    /* an unknown language in the list: unavailable (neither disabled nor missing) */
    fx_init(&x, fp_dir);
    char *saved = x.cfg.features.language.languages.items[0];
    x.cfg.features.language.languages.items[0] = xx;
    assert_int_equal(zt_lexfeat_new(&x.cfg, &f), 0);
    assert_int_equal(zt_lexfeat_state(f, ZT_LEXFEAT_LANGUAGE, &why), ZT_FEAT_UNAVAILABLE);
    assert_non_null(strstr(why, "unknown language \"xx\""));
    zt_lexfeat_free(f);
    x.cfg.features.language.languages.items[0] = saved;
    fx_deinit(&x);
}

static void test_moderation_language(void **state)
{
    (void)state;
    if (access(FP_DIR, R_OK) != 0) zt_skip("%s not installed (libexttextcat-data, scripts/setup.sh)", FP_DIR);
    struct fx x;
    fx_init(&x, fp_dir);
    struct zt_lexfeat *f = NULL;
    assert_int_equal(zt_lexfeat_new(&x.cfg, &f), 0);
    const char *why = NULL;
    assert_int_equal(zt_lexfeat_state(f, ZT_LEXFEAT_LANGUAGE, &why), ZT_FEAT_READY);
    assert_string_equal(why, "");
    struct zt_moderation_policy base, p;
    zt_lexfeat_policy(f, &base);
    const char *src = NULL;

    /* the request names it: taken as it is, nothing detected */
    static const char de[] = "Ich habe heute keine Zeit, weil ich den ganzen Tag im Garten arbeiten muss und "
                             "danach noch meine Eltern besuche.";
    zt_lexfeat_moderation_policy(f, de, strlen(de), "fr", &p, &src);
    assert_string_equal(src, "request");
    assert_string_equal(p.lang, "fr");
    assert_false(p.lang_unsure);
    assert_float_equal(p.threshold, base.threshold, 0);
    assert_int_equal(p.n_also_langs, base.n_also_langs);

    /* none named: detected */
    zt_lexfeat_moderation_policy(f, de, strlen(de), NULL, &p, &src);
    assert_string_equal(src, "detected");
    assert_string_equal(p.lang, "de");
    assert_false(p.lang_unsure); /* a long German sentence: sure */

    /* nothing to detect from: no language */
    zt_lexfeat_moderation_policy(f, "1234 5678", 9, NULL, &p, &src);
    assert_string_equal(src, "none");
    assert_null(p.lang);
    zt_lexfeat_free(f);

    /* language identification off: never detected */
    x.cfg.features.language.enabled = false;
    assert_int_equal(zt_lexfeat_new(&x.cfg, &f), 0);
    zt_lexfeat_moderation_policy(f, de, strlen(de), NULL, &p, &src);
    assert_string_equal(src, "none");
    assert_null(p.lang);
    zt_lexfeat_free(f);
    fx_deinit(&x);
}

int main(void)
{
    zt_log_set_level(ZT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_states, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_moderation_language, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
