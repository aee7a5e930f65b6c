/* test_langid.c: language identification (zt_langid.h) on libexttextcat.
 *
 * Known answers, "und" cases, errors, and the accuracy on the labelled
 * short messages of tests/data/langid_short.tsv (20 per language for
 * en/es/fr/de/it/pt/nl/ca, 3 to 15 words): printed, and held above a floor
 * so that a regression (a broken fingerprint path, a bad confidence
 * formula) fails. docs/features/language.md quotes these figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "zentalk/zt_langid.h"
#include "zt_test.h"

#define FP_DIR "/usr/share/libexttextcat"

/* features.language.languages' default (src/core/config.c) */
static const char *const defaults[] = {
    "en", "es", "fr", "de", "it", "pt", "nl", "ca", "gl", "eu", "ru", "uk", "pl", "cs", "sk", "sl",
    "hr", "sr", "bg", "ro", "hu", "el", "tr", "sv", "da", "nb", "fi", "et", "lv", "lt", "is", "ga",
    "cy", "sq", "af", "ar", "he", "fa", "hi", "ja", "ko", "zh", "vi", "th", "id", "ms"};
static const char *const eight[] = {"en", "es", "fr", "de", "it", "pt", "nl", "ca"};

static struct zt_langid *open_langs(const char *const *langs, size_t n)
{
    struct zt_langid *l = NULL;
    const char *bad = NULL;
    if (access(FP_DIR, R_OK) != 0) zt_skip("%s not installed (libexttextcat-data, scripts/setup.sh)", FP_DIR);
    int rc = zt_langid_new(FP_DIR, langs, n, &l, &bad);
    if (rc) print_error("zt_langid_new: %s (%s)\n", zt_strerror(rc), bad ? bad : "-");
    assert_int_equal(rc, 0);
    return l;
}

static const char *detect(struct zt_langid *l, const char *text, double th, double *conf)
{
    struct zt_langid_result r;
    assert_int_equal(zt_langid_detect(l, text, strlen(text), th, &r), 0);
    assert_true(r.confidence >= 0 && r.confidence <= 1);
    if (conf) *conf = r.confidence;
    return r.code;
}

static void test_known_answers(void **state)
{
    (void)state;
    struct zt_langid *l = open_langs(defaults, sizeof defaults / sizeof defaults[0]);
    assert_string_equal(detect(l, "The quick brown fox jumps over the lazy dog and runs away", 0.5, NULL), "en");
    assert_string_equal(detect(l, "Der schnelle braune Fuchs springt über den faulen Hund", 0.5, NULL), "de");
    assert_string_equal(detect(l, "El rápido zorro marrón salta sobre el perro perezoso", 0.5, NULL), "es");
    assert_string_equal(detect(l, "Быстрая коричневая лиса прыгает через ленивую собаку", 0.5, NULL), "ru");
    assert_string_equal(detect(l, "Ο γρήγορος καφέ αλεπού πηδάει πάνω από το τεμπέλικο σκυλί", 0.5, NULL), "el");
    /* 639-3 code and runners-up */
    struct zt_langid_result r;
    const char *t = "Je voudrais réserver une table pour deux personnes ce soir";
    assert_int_equal(zt_langid_detect(l, t, strlen(t), 0.5, &r), 0);
    assert_string_equal(r.code, "fr");
    assert_string_equal(r.code3, "fra");
    assert_string_equal(r.lang->name, "French");
    assert_true(r.n_alts == ZT_LANGID_ALTS);
    assert_true(r.alts[0].distance_ratio >= 1.0 && r.alts[1].distance_ratio >= r.alts[0].distance_ratio);
    /* und: no letters, too short, or a threshold nothing reaches */
    double c;
    assert_string_equal(detect(l, "", 0.5, &c), "und");
    assert_true(c == 0);
    assert_string_equal(detect(l, "12345 !!! :)", 0.5, &c), "und");
    assert_true(c == 0);
    assert_string_equal(detect(l, "ok", 0.5, NULL), "und");
    assert_string_equal(detect(l, "hello", 0.5, &c), "und"); /* 5 letters: confidence x 5/15 */
    assert_true(c < 0.34);
    assert_string_equal(detect(l, "The quick brown fox jumps over the lazy dog", 1.0, NULL), "und");
    /* errors */
    assert_int_equal(zt_langid_detect(l, "caf\xc3", 4, 0.5, &r), ZT_EPARSE);
    static char big[ZT_LANGID_MAX_TEXT + 1];
    memset(big, 'a', sizeof big);
    assert_int_equal(zt_langid_detect(l, big, sizeof big, 0.5, &r), ZT_ETOOBIG);
    /* a long text is cut at a character boundary */
    for (size_t i = 0; i + 2 <= ZT_LANGID_MAX_TEXT; i += 2) memcpy(big + i, "\xc3\xa9", 2);
    assert_int_equal(zt_langid_detect(l, big + 1 - 1, ZT_LANGID_MAX_TEXT, 0.0, &r), 0);
    zt_langid_free(l);

    struct zt_langid *x = NULL;
    const char *bad = NULL;
    const char *unknown[] = {"en", "xx"};
    assert_int_equal(zt_langid_new(FP_DIR, unknown, 2, &x, &bad), ZT_EINVAL);
    assert_string_equal(bad, "xx");
    assert_int_equal(zt_langid_new("/nonexistent", eight, 8, &x, &bad), ZT_ENOTFOUND);
    assert_int_equal(zt_langid_new(FP_DIR, eight, 0, &x, &bad), ZT_EINVAL);
    assert_null(x);
    assert_non_null(zt_langid_known(0));
    zt_langid_free(NULL);
}

struct acc {
    int total, correct, answered, answered_correct;
};

static void measure(const char *const *langs, size_t n, double th, struct acc *a, int per_lang[8][2])
{
    const char *src = getenv("ZT_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/langid_short.tsv", src ? src : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    struct zt_langid *l = open_langs(langs, n);
    char line[1024];
    memset(a, 0, sizeof *a);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        char *text = tab + 1;
        text[strcspn(text, "\n")] = '\0';
        struct zt_langid_result r;
        assert_int_equal(zt_langid_detect(l, text, strlen(text), th, &r), 0);
        int ok = strcmp(r.lang->code, line) == 0;
        a->total++;
        a->correct += ok;
        if (strcmp(r.code, "und") != 0) {
            a->answered++;
            a->answered_correct += ok;
        }
        for (size_t k = 0; per_lang && k < 8; k++)
            if (strcmp(eight[k], line) == 0) per_lang[k][0]++, per_lang[k][1] += ok;
    }
    fclose(f);
    zt_langid_free(l);
}

static void test_accuracy_short_messages(void **state)
{
    (void)state;
    struct acc a46, a8;
    int per[8][2];
    memset(per, 0, sizeof per);
    measure(defaults, sizeof defaults / sizeof defaults[0], 0.5, &a46, per);
    measure(eight, 8, 0.5, &a8, NULL);
    printf("langid short messages, %zu candidate languages: top-1 %d/%d (%.1f%%); at threshold 0.5: "
           "answered %d (%.1f%%), of which correct %d (%.1f%%)\n",
           sizeof defaults / sizeof defaults[0], a46.correct, a46.total, 100.0 * a46.correct / a46.total,
           a46.answered, 100.0 * a46.answered / a46.total, a46.answered_correct,
           100.0 * a46.answered_correct / (a46.answered ? a46.answered : 1));
    printf("  per language (top-1):");
    for (int k = 0; k < 8; k++) printf(" %s %d/%d", eight[k], per[k][1], per[k][0]);
    printf("\nlangid short messages, 8 candidate languages: top-1 %d/%d (%.1f%%); answered %d, correct %d (%.1f%%)\n",
           a8.correct, a8.total, 100.0 * a8.correct / a8.total, a8.answered, a8.answered_correct,
           100.0 * a8.answered_correct / (a8.answered ? a8.answered : 1));
    assert_int_equal(a46.total, 160);
    assert_true(a46.correct >= 136);                  /* >= 85 % top-1 */
    assert_true(a46.answered_correct * 100 >= 88 * a46.answered); /* precision when answering */
    assert_true(a8.correct >= 144);                   /* >= 90 % */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_accuracy_short_messages),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
