/* test_translate.c: Apertium pipelines: known sentences (eng-spa, spa-eng,
 * eng-cat), many messages over one pipeline, the stream-format round trip
 * (checked exactly through a stand-in pipeline that leaves text alone),
 * marks, concurrent requests, a killed pipeline restarted, a stuck one timed
 * out and killed, bad input, unsupported pairs, language codes and the
 * detection hook, and the translation service over them (translate_svc.c).
 * Apertium tests skip with a reason when it is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_annotate.h"
#include "zentalk/zt_translate.h"
#include "../../src/features/translate_int.h"
#include "zt_test.h"

#define MODES "/usr/share/apertium/modes"

static bool have_apertium(void)
{
    if (access(MODES "/eng-spa.mode", R_OK) != 0 || access("/usr/bin/apertium-wblank-mode", X_OK) != 0) {
        zt_skip_part("Apertium with apertium-eng-spa is not installed (scripts/setup.sh)");
        return false;
    }
    return true;
}

static struct zt_translate *open_t(const char *dir, unsigned timeout_ms, unsigned pipes)
{
    struct zt_translate_opts o = {.modes_dir = dir, .timeout_ms = timeout_ms, .pipelines = pipes};
    struct zt_translate *t = NULL;
    assert_int_equal(zt_translate_new(&o, &t), 0);
    return t;
}

static int tr(struct zt_translate *t, const char *s, const char *d, const char *text, bool marks, struct zt_buf *out)
{
    zt_buf_reset(out);
    return zt_translate_text(t, s, d, text, strlen(text), marks, out);
}

static void test_known_sentences(void **state)
{
    (void)state;
    if (!have_apertium()) skip();
    struct zt_translate *t = open_t(NULL, 0, 1);
    assert_true(zt_translate_has_pair(t, "eng", "spa"));
    assert_true(zt_translate_has_pair(t, "spa", "eng"));
    assert_false(zt_translate_has_pair(t, "eng", "eng"));
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(tr(t, "eng", "spa", "The house is big.", false, &out), 0);
    assert_string_equal(zt_buf_str(&out), "La casa es grande.");
    assert_int_equal(tr(t, "eng", "spa", "I have a red car\nand a dog.", false, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "coche rojo\ny un perro."));
    assert_int_equal(tr(t, "spa", "eng", "La casa es grande.", false, &out), 0);
    assert_string_equal(zt_buf_str(&out), "The house is big.");
    if (zt_translate_has_pair(t, "eng", "cat")) {
        assert_int_equal(tr(t, "eng", "cat", "The house is big.", false, &out), 0);
        assert_non_null(strstr(zt_buf_str(&out), "casa"));
    }
    /* marks on unknown words: kept on request, removed by default */
    assert_int_equal(tr(t, "eng", "spa", "xyzzy house", true, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "*xyzzy"));
    assert_int_equal(tr(t, "eng", "spa", "xyzzy house", false, &out), 0);
    assert_null(strchr(zt_buf_str(&out), '*'));
    assert_non_null(strstr(zt_buf_str(&out), "xyzzy"));
    /* characters of Apertium's stream format come back as they were */
    assert_int_equal(tr(t, "eng", "spa", "My dog <b> [x] \\ ^a$ {c} a/b @d ~e 5 * 3", false, &out), 0);
    const char *o = zt_buf_str(&out);
    for (const char *needle = "<b>"; needle; needle = NULL) assert_non_null(strstr(o, needle));
    assert_non_null(strstr(o, "\\"));
    assert_non_null(strstr(o, "~"));
    assert_non_null(strstr(o, "5 * 3"));
    assert_non_null(strstr(o, "{"));
    /* outer whitespace is the input's */
    assert_int_equal(tr(t, "eng", "spa", "  the house  ", false, &out), 0);
    assert_int_equal(strcasecmp(zt_buf_str(&out), "  la casa  "), 0); /* Apertium capitalises */
    zt_buf_deinit(&out);
    zt_translate_free(t);
}

static void test_many_messages_one_pipeline(void **state)
{
    (void)state;
    if (!have_apertium()) skip();
    struct zt_translate *t = open_t(NULL, 0, 1);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(tr(t, "eng", "spa", "house", false, &out), 0);
    int pid = zt_translate_debug_pid(t, "eng", "spa", 0);
    assert_true(pid > 0);
    for (int i = 0; i < 100; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "The house number %d is red.", i);
        assert_int_equal(tr(t, "eng", "spa", msg, false, &out), 0);
        char want[32];
        snprintf(want, sizeof want, "%d", i);
        assert_non_null(strstr(zt_buf_str(&out), "casa"));
        assert_non_null(strstr(zt_buf_str(&out), want));
    }
    assert_int_equal(zt_translate_debug_pid(t, "eng", "spa", 0), pid); /* still the same processes */
    zt_buf_deinit(&out);
    zt_translate_free(t);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1); /* reaped */
}

struct worker {
    struct zt_translate *t;
    int id;
    int ok;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    for (int i = 0; i < 15; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "The dog %d eats in the house.", w->id * 100 + i);
        zt_buf_reset(&out);
        if (zt_translate_text(w->t, "eng", "spa", msg, strlen(msg), false, &out) == 0 &&
            strstr(zt_buf_str(&out), "casa") && strstr(zt_buf_str(&out), "perro"))
            w->ok++;
    }
    zt_buf_deinit(&out);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    if (!have_apertium()) skip();
    struct zt_translate *t = open_t(NULL, 0, 2);
    pthread_t th[6];
    struct worker w[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (struct worker){t, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 15);
    }
    assert_true(zt_translate_debug_pid(t, "eng", "spa", 0) > 0);
    assert_true(zt_translate_debug_pid(t, "eng", "spa", 1) > 0);
    assert_int_equal(zt_translate_debug_pid(t, "eng", "spa", 2), -1); /* pool of 2 */
    zt_translate_free(t);
}

static void test_killed_pipeline_restarts(void **state)
{
    (void)state;
    if (!have_apertium()) skip();
    struct zt_translate *t = open_t(NULL, 0, 1);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(tr(t, "eng", "spa", "house", false, &out), 0);
    int pid = zt_translate_debug_pid(t, "eng", "spa", 0);
    assert_true(pid > 0);
    assert_int_equal(kill(-pid, SIGKILL), 0); /* the whole pipeline */
    usleep(50 * 1000);
    assert_int_equal(tr(t, "eng", "spa", "The house is big.", false, &out), 0);
    assert_string_equal(zt_buf_str(&out), "La casa es grande.");
    int pid2 = zt_translate_debug_pid(t, "eng", "spa", 0);
    assert_true(pid2 > 0);
    assert_int_not_equal(pid2, pid);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1); /* the dead one was reaped */
    zt_buf_deinit(&out);
    zt_translate_free(t);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct zt_translate_opts o = {.modes_dir = MODES, .max_input_bytes = 32};
    struct zt_translate *t = NULL;
    assert_int_equal(zt_translate_new(&o, &t), 0);
    struct zt_buf out;
    zt_buf_init(&out, 1024);
    const char *src = zt_translate_pair_count(t) ? "eng" : "xxx";
    assert_int_equal(zt_translate_text(t, src, "spa", "", 0, false, &out), ZT_EINVAL);
    assert_int_equal(zt_translate_text(t, src, "spa", "a\0b", 3, false, &out), ZT_EINVAL);
    assert_int_equal(zt_translate_text(t, src, "spa", "\xc3\x28", 2, false, &out), ZT_EINVAL);
    assert_int_equal(tr(t, src, "spa", "this text is longer than thirty-two bytes", false, &out), ZT_ETOOBIG);
    assert_int_equal(tr(t, "eng", "klingon", "hello", false, &out), ZT_ENOTFOUND);
    assert_int_equal(tr(t, "xxx", "yyy", "hello", false, &out), ZT_ENOTFOUND);
    assert_int_equal(out.len, 0);
    zt_buf_deinit(&out);
    zt_translate_free(t);
    /* no modes directory: no pairs, a clear not-found */
    struct zt_translate_opts none = {.modes_dir = "/nonexistent/modes"};
    assert_int_equal(zt_translate_new(&none, &t), 0);
    assert_int_equal(zt_translate_pair_count(t), 0);
    zt_buf_init(&out, 1024);
    assert_int_equal(tr(t, "eng", "spa", "hello", false, &out), ZT_ENOTFOUND);
    zt_buf_deinit(&out);
    zt_translate_free(t);
}

/* A stand-in pair whose "pipeline" is `sed -u` (apertium-wblank-mode turns
 * it into `sed -z -u`, which answers each NUL-ended record): the text comes
 * back unchanged, so encode/decode must round-trip it exactly; and a pair
 * that never answers, to see the timeout kill it. */
static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_round_trip_and_timeout(void **state)
{
    (void)state;
    if (access("/usr/bin/apertium-wblank-mode", X_OK) != 0) {
        zt_skip("apertium-wblank-mode is not installed");
    }
    char dir[] = "/tmp/zt-translate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p1[128], p2[128], p3[128];
    snprintf(p1, sizeof p1, "%s/aaa-bbb.mode", dir);
    snprintf(p2, sizeof p2, "%s/ccc-ddd.mode", dir);
    snprintf(p3, sizeof p3, "%s/aaa-bbb_variant.mode", dir);
    write_file(p1, "sed -u s/house/casa/g\n");
    write_file(p2, "sed -u -n s/never/printed/\n");
    write_file(p3, "cat\n");
    struct zt_translate *t = open_t(dir, 400, 1);
    assert_int_equal(zt_translate_pair_count(t), 2); /* the variant is skipped */
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    const char *tricky = "a house\n\t<b>[x]]\\ ^$ {}/@ ~ * # \xc3\xb1 \xe2\x82\xac end";
    assert_int_equal(tr(t, "aaa", "bbb", tricky, true, &out), 0);
    assert_string_equal(zt_buf_str(&out), "a casa\n\t<b>[x]]\\ ^$ {}/@ ~ * # \xc3\xb1 \xe2\x82\xac end");
    for (int i = 0; i < 50; i++) assert_int_equal(tr(t, "aaa", "bbb", "house", false, &out), 0);
    assert_string_equal(zt_buf_str(&out), "casa");

    assert_int_equal(tr(t, "ccc", "ddd", "hello", false, &out), ZT_ETIMEDOUT);
    assert_int_equal(zt_translate_debug_pid(t, "ccc", "ddd", 0), -1); /* killed */
    assert_int_equal(tr(t, "ccc", "ddd", "hello", false, &out), ZT_ETIMEDOUT); /* restarted, stuck again */
    assert_int_equal(tr(t, "aaa", "bbb", "house", false, &out), 0); /* others unaffected */
    zt_buf_deinit(&out);
    zt_translate_free(t);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child left, no zombie */
    assert_int_equal(errno, ECHILD);
    unlink(p1);
    unlink(p2);
    unlink(p3);
    rmdir(dir);
}

static int fake_detect(void *ud, const char *text, size_t len, char lang3[static 4], double *conf)
{
    (void)ud;
    if (len >= 4 && memcmp(text, "casa", 4) == 0) {
        memcpy(lang3, "spa", 4);
        *conf = 0.9;
        return 0;
    }
    return ZT_ENOTFOUND;
}

static void test_codes_and_detector(void **state)
{
    (void)state;
    assert_string_equal(zt_translate_lang3("en"), "eng");
    assert_string_equal(zt_translate_lang3("ENG"), "eng");
    assert_string_equal(zt_translate_lang3("es"), "spa");
    assert_string_equal(zt_translate_lang3("cat"), "cat");
    assert_null(zt_translate_lang3("zz"));
    assert_null(zt_translate_lang3(""));
    assert_string_equal(zt_translate_lang1("spa"), "es");
    assert_null(zt_translate_lang1("xxx"));
    struct zt_translate *t = open_t("/nonexistent", 0, 0);
    char l[4];
    double c;
    assert_int_equal(zt_translate_detect(t, "casa", 4, l, &c), ZT_EUNSUPPORTED);
    zt_translate_set_detector(t, fake_detect, NULL);
    assert_int_equal(zt_translate_detect(t, "casa", 4, l, &c), 0);
    assert_string_equal(l, "spa");
    assert_int_equal(zt_translate_detect(t, "dog", 3, l, &c), ZT_ENOTFOUND);
    zt_translate_free(t);
}

/* The translation service (translate_svc.c) without Apertium or a model:
 * the choice of path, its errors, the annotator and a batch on the pool. */
struct batch_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, gone;
    int status;
    char code[32], text[64];
    size_t n;
    bool by_llm;
};

static bool batch_gone(void *ud)
{
    return ((struct batch_wait *)ud)->gone;
}

static void batch_done(void *ud, const struct zt_translate_req *r, struct zt_translate_batch *b)
{
    struct batch_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->status = b->status;
    snprintf(w->code, sizeof w->code, "%s", b->code ? b->code : "");
    if (!b->status) {
        w->n = json_array_size(b->translations);
        snprintf(w->text, sizeof w->text, "%s", json_string_value(json_array_get(b->translations, r->n - 1)));
        w->by_llm = b->by_llm;
    }
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void run_batch(struct zt_translate_svc *s, const struct zt_translate_req *r, struct batch_wait *w)
{
    w->done = false;
    assert_int_equal(zt_translate_svc_submit(s, "id:test", r, batch_gone, batch_done, w), 0);
    pthread_mutex_lock(&w->mu);
    while (!w->done) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static void test_service(void **state)
{
    (void)state;
    struct zt_translate *t = open_t("/nonexistent", 0, 0);
    struct zt_translate_svc_opts o = {.engine = t, .enabled = true, .max_bytes = 64, .threshold = 0.5,
                                      .timeout_ms = 1000, .model = "chat"};
    struct zt_translate_svc *s = NULL;
    assert_int_equal(zt_translate_svc_new(&o, &s), 0);
    assert_ptr_equal(zt_translate_svc_engine(s), t);
    assert_true(zt_translate_svc_enabled(s));
    assert_int_equal(zt_translate_svc_max_bytes(s), 64);
    struct zt_buf out;
    zt_buf_init(&out, 1024);
    const char *used = NULL, *code = NULL, *fb = NULL;
    char msg[768];
    bool llm = true;
    /* a model is set but no inference service: Apertium, which has no pair */
    assert_int_equal(zt_translate_svc_one(s, "eng", "spa", "hello", 5, false, &used, &out, &code, msg, sizeof msg, &fb,
                                          &llm),
                     400);
    assert_string_equal(code, "unsupported_pair");
    assert_non_null(strstr(msg, "no installed translation pair eng-spa; installed pairs: none"));
    assert_string_equal(fb, "no inference service on this node");
    assert_false(llm);
    assert_int_equal(out.len, 0);
    /* the same language is the text itself */
    fb = NULL;
    assert_int_equal(zt_translate_svc_one(s, "eng", "eng", "hello", 5, false, &used, &out, &code, msg, sizeof msg, &fb,
                                          &llm),
                     0);
    assert_string_equal(used, "eng");
    assert_string_equal(zt_buf_str(&out), "hello");
    assert_null(fb);
    /* detection: none installed, then one that cannot tell */
    assert_int_equal(zt_translate_svc_one(s, NULL, "eng", "dog", 3, false, &used, &out, &code, msg, sizeof msg, &fb,
                                          &llm),
                     400);
    assert_string_equal(code, "missing_field");
    zt_translate_set_detector(t, fake_detect, NULL);
    assert_int_equal(zt_translate_svc_one(s, NULL, "eng", "dog", 3, false, &used, &out, &code, msg, sizeof msg, &fb,
                                          &llm),
                     422);
    assert_string_equal(code, "language_not_detected");
    zt_buf_reset(&out);
    assert_int_equal(zt_translate_svc_one(s, NULL, "spa", "casa", 4, false, &used, &out, &code, msg, sizeof msg, &fb,
                                          &llm),
                     0);
    assert_string_equal(used, "spa");
    assert_string_equal(zt_buf_str(&out), "casa");
    zt_buf_deinit(&out);

    /* the annotator */
    json_t *ann = json_object();
    struct zt_annot_msg m = {.conversation = "c", .id = "m", .from = "", .text = "hello", .text_len = 5,
                             .lang = "en", .translate_to = "en"};
    assert_int_equal(zt_translate_annotate(s, &m, NULL, ann), 0);
    json_t *a = json_object_get(ann, "translation");
    assert_string_equal(json_string_value(json_object_get(a, "text")), "hello");
    assert_string_equal(json_string_value(json_object_get(a, "method")), "apertium");
    assert_true(json_is_false(json_object_get(a, "detected")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "source"), "iso639_1")), "en");
    m.translate_to = "zz";
    assert_int_equal(zt_translate_annotate(s, &m, NULL, ann), 0);
    a = json_object_get(json_object_get(ann, "translation"), "error");
    assert_string_equal(json_string_value(json_object_get(a, "code")), "invalid_language");
    json_object_clear(ann);
    m.translate_to = NULL;
    assert_int_equal(zt_translate_annotate(s, &m, NULL, ann), 0);
    assert_int_equal(json_object_size(ann), 0); /* nothing asked */
    json_decref(ann);

    /* a batch on the pool, and one whose client went away */
    struct batch_wait w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct zt_translate_req r = {.source3 = "eng", .target3 = "eng", .texts = {"one", "two"}, .lens = {3, 3}, .n = 2,
                                 .batch = true};
    run_batch(s, &r, &w);
    assert_int_equal(w.status, 0);
    assert_int_equal(w.n, 2);
    assert_string_equal(w.text, "two");
    assert_false(w.by_llm);
    w.gone = true;
    run_batch(s, &r, &w);
    assert_int_equal(w.status, 503);
    assert_string_equal(w.code, "client_gone");
    zt_translate_svc_free(s);
    zt_translate_free(t);

    /* disabled: the annotator says so */
    t = open_t("/nonexistent", 0, 0);
    o.engine = t;
    o.enabled = false;
    assert_int_equal(zt_translate_svc_new(&o, &s), 0);
    ann = json_object();
    m.translate_to = "es";
    assert_int_equal(zt_translate_annotate(s, &m, NULL, ann), 0);
    a = json_object_get(json_object_get(ann, "translation"), "error");
    assert_string_equal(json_string_value(json_object_get(a, "code")), "feature_disabled");
    json_decref(ann);
    zt_translate_svc_free(s);
    zt_translate_free(t);
}

/* issue 16, "what was seen": "Can you pick up the kids from school at 4?"
 * came back as "Puede  eliges arriba de los niños de escolares en 4?" */
static void test_readable_spanish(void **state)
{
    (void)state;
    if (!have_apertium()) return;
    struct zt_translate *t = open_t(NULL, 0, 1);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(tr(t, "eng", "spa", "Can you pick up the kids from school at 4?", false, &out), 0);
    const char *o = zt_buf_str(&out);
    printf("  eng-spa: %s\n", o);
    assert_null(strstr(o, "  "));           /* no doubled spaces */
    assert_null(strpbrk(o, "*#@"));         /* no unknown-word marks */
    assert_null(strstr(o, " ?"));           /* no space before punctuation */
    assert_null(strstr(o, "eliges"));       /* "pick up" is not "choose up" */
    assert_null(strstr(o, "arriba"));
    assert_null(strstr(o, "escolares"));    /* "school" the noun */
    assert_non_null(strstr(o, "recoger"));  /* "can you" + infinitive */
    assert_non_null(strstr(o, "escuela"));
    assert_non_null(strstr(o, "a las 4"));  /* a clock time */
    assert_memory_equal(o, "\xC2\xBF", 2); /* opens with ¿ */
    assert_int_equal(o[strlen(o) - 1], '?');
    /* raw: Apertium's own output, kept for comparison */
    struct zt_translate_opts ro = {.raw = true, .pipelines = 1};
    struct zt_translate *r = NULL;
    assert_int_equal(zt_translate_new(&ro, &r), 0);
    assert_int_equal(tr(r, "eng", "spa", "Can you pick up the kids from school at 4?", false, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "  ")); /* what the issue saw */
    zt_translate_free(r);
    /* other pairs of the same English: Catalan and, when installed, Galician */
    assert_int_equal(tr(t, "eng", "cat", "Can you pick up the kids from school at 4?", false, &out), 0);
    assert_null(strstr(zt_buf_str(&out), "  "));
    assert_non_null(strstr(zt_buf_str(&out), "a les 4"));
    if (zt_translate_has_pair(t, "eng", "glg")) { /* en-gl.mode: a two-letter name */
        assert_int_equal(tr(t, "eng", "glg", "Can you pick up the kids from school at 4?", false, &out), 0);
        assert_non_null(strstr(zt_buf_str(&out), "ás 4"));
    } else {
        zt_skip_part("apertium-en-gl is not installed (scripts/setup.sh)");
    }
    zt_buf_deinit(&out);
    zt_translate_free(t);
}

static void rewrite(const struct zt_translate_rules *rs, bool post, const char *lang, const char *in, const char *want)
{
    struct zt_buf b;
    zt_buf_init(&b, 4096);
    assert_int_equal(zt_translate_rules_apply(rs, post, lang, in, strlen(in), &b), 0);
    assert_string_equal(zt_buf_str(&b), want);
    zt_buf_deinit(&b);
}

static void tidy(const char *src, const char *lang, const char *in, const char *want)
{
    struct zt_buf b;
    zt_buf_init(&b, 4096);
    assert_int_equal(zt_translate_tidy(src, strlen(src), lang, in, strlen(in), &b), 0);
    assert_string_equal(zt_buf_str(&b), want);
    zt_buf_deinit(&b);
}

static void expect_rules_error(const char *text, const char *needle)
{
    struct zt_translate_rules *rs = NULL;
    char err[256];
    assert_int_equal(zt_translate_rules_parse(text, strlen(text), "r.txt", &rs, err, sizeof err), ZT_EPARSE);
    assert_null(rs);
    assert_non_null(strstr(err, needle));
}

/* The rules and the tidying alone (no Apertium needed). */
static void test_rules_and_tidy(void **state)
{
    (void)state;
    struct zt_translate_rules *rs = NULL;
    char err[256];
    assert_int_equal(zt_translate_rules_builtin(&rs, err, sizeof err), 0);
    assert_true(zt_translate_rules_count(rs) > 10);
    rewrite(rs, false, "eng", "Can you pick up the kids from school at 4?",
            "You can collect the kids from the school at 4?");
    rewrite(rs, false, "eng", "I can you know", "I can you know"); /* ^: only at a clause start */
    rewrite(rs, false, "eng", "ok, can we go? Could you", "ok, we can go? You could");
    rewrite(rs, false, "eng", "the pickup truck", "the pickup truck"); /* word boundaries */
    rewrite(rs, false, "spa", "Can you", "Can you"); /* another language's rules */
    rewrite(rs, true, "spa", "Nos vemos en 4? en 1, en 10:30.", "Nos vemos a las 4? a la 1, a las 10:30.");
    rewrite(rs, true, "spa", "en 5 minutos, en 2026, en 30", "en 5 minutos, en 2026, en 30"); /* not clock times */
    rewrite(NULL, true, "spa", "en 4", "en 4");
    zt_translate_rules_free(rs);

    tidy("Can you?", "spa", " Puede  recoger los niños ?", " ¿Puede recoger los niños?");
    tidy("Hi. Great!", "spa", "Hola. Genial !", "Hola. ¡Genial!");
    tidy("¿Qué?", "spa", "Qué?", "Qué?");                 /* the source has its own marks */
    tidy("a ( b ) c", "spa", "a ( b ) c", "a ( b ) c");   /* kept where the source has them */
    tidy("x  y", "cat", "x  y", "x  y");                  /* a double space the source has */
    tidy("Really?", "fra", "Vraiment ?", "Vraiment ?");   /* French typography */
    tidy("a, b", "cat", "a , b  c", "a, b c");
    tidy("", "spa", "", "");
    tidy("pick the kid", "hbs", "#Free @pick djete", "Free pick djete"); /* marks the decoder could not see */
    tidy("mail @bob, 5 * 3", "eng", "mail @bob, 5 * 3", "mail @bob, 5 * 3");

    expect_rules_error("pre eng | a\n", "expected");
    expect_rules_error("mid eng | a | b\n", "pre or post");
    expect_rules_error("pre xx | a | b\n", "ISO 639-3");
    expect_rules_error("pre eng | a # | b\n", "#");
    expect_rules_error("pre eng | ^ | b\n", "FROM");
    expect_rules_error("pre eng | a | b | c\n", "expected");
}

static void clean(const char *answer, size_t src_len, int want_rc, const char *want)
{
    struct zt_buf b;
    zt_buf_init(&b, 4096);
    assert_int_equal(zt_translate_llm_clean(answer, strlen(answer), src_len, &b), want_rc);
    if (!want_rc) assert_string_equal(zt_buf_str(&b), want);
    zt_buf_deinit(&b);
}

/* The generative path's prompt and the cleaning of a model's answer. */
static void test_llm_prompt(void **state)
{
    (void)state;
    struct zt_buf sys, user;
    zt_buf_init(&sys, 4096);
    zt_buf_init(&user, 4096);
    assert_int_equal(zt_translate_llm_prompt("eng", "spa", "See you at 4", 12, &sys, &user), 0);
    assert_non_null(strstr(zt_buf_str(&sys), "from English to Spanish"));
    assert_non_null(strstr(zt_buf_str(&sys), "translation only"));
    assert_string_equal(zt_buf_str(&user), "See you at 4");
    zt_buf_deinit(&sys);
    zt_buf_deinit(&user);
    assert_string_equal(zt_translate_lang_name("hbs"), "Serbo-Croatian");
    assert_string_equal(zt_translate_lang_name("xyz"), "xyz");
    clean("  Nos vemos a las 4.\n", 12, 0, "Nos vemos a las 4.");
    clean("Translation: \"Nos vemos a las 4.\"", 12, 0, "Nos vemos a las 4.");
    clean("Nos vemos a las 4.\n\nNote: informal register.", 12, 0, "Nos vemos a las 4.");
    clean("Traducción: Nos vemos.", 12, 0, "Nos vemos.");
    clean("Nota: trae comida", 12, 0, "Nota: trae comida"); /* the text's own "Note:" */
    clean("   \n", 12, ZT_EPARSE, NULL);
    clean("a\x01b", 12, ZT_EPARSE, NULL);
    clean("\xff", 12, ZT_EPARSE, NULL);
    char longer[400];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    clean(longer, 12, ZT_ETOOBIG, NULL);
}

/* Pairs named with two-letter codes (apertium-en-gl's en-gl.mode). */
static void test_two_letter_modes(void **state)
{
    (void)state;
    char dir[] = "/tmp/zt-translate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p1[128], p2[128], p3[128];
    snprintf(p1, sizeof p1, "%s/en-gl.mode", dir);
    snprintf(p2, sizeof p2, "%s/eng-glg.mode", dir);
    snprintf(p3, sizeof p3, "%s/xx-yy.mode", dir);
    write_file(p1, "cat\n");
    write_file(p2, "cat\n");
    write_file(p3, "cat\n");
    struct zt_translate *t = open_t(dir, 400, 1);
    assert_int_equal(zt_translate_pair_count(t), 1); /* one pair, the unknown codes skipped */
    assert_true(zt_translate_has_pair(t, "eng", "glg"));
    zt_translate_free(t);
    unlink(p2);
    t = open_t(dir, 400, 1);
    assert_int_equal(zt_translate_pair_count(t), 1);
    assert_true(zt_translate_has_pair(t, "eng", "glg"));
    zt_translate_free(t);
    unlink(p1);
    unlink(p3);
    rmdir(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the node does */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_known_sentences, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_many_messages_one_pipeline, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_killed_pipeline_restarts, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_and_timeout, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_codes_and_detector, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_readable_spanish, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_rules_and_tidy, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_two_letter_modes, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_llm_prompt, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_service, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
