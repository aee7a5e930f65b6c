/* test_summarize.c: extractive summaries (zt_summarize.h) of hand-written
 * conversations: key sentences, decisions, open questions, action items;
 * the stopwords asset when installed; malformed stopword payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_summarize.h"
#include "zt_test.h"

static struct zt_intent_model *model;
static struct zt_stopwords *small_sw;

static const char SMALL_SW[] = "en the\nen a\nen an\nen is\nen are\nen we\nen i\nen you\nen to\nen for\nen of\nen on\nen it\n"
                               "en and\nen by\nen can\nen let's\nen with\nen go\nen should\nen that\nen this\nen be\n"
                               "en i'll\nen will\nen do\nen what\nen about\nen so\nen our\nen at\nen in\nen me\nen my\n"
                               "es el\nes la\nes de\nes que\n";

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (zt_intent_model_builtin(&model, err, sizeof err) != 0) return -1;
    return zt_stopwords_parse(SMALL_SW, sizeof SMALL_SW - 1, &small_sw);
}

static int teardown(void **state)
{
    (void)state;
    zt_intent_model_free(model);
    zt_stopwords_free(small_sw);
    return 0;
}

struct line {
    const char *from, *text;
};

static const struct line launch[] = {
    {"alice", "Hi team!"},
    {"bob", "Hey Alice."},
    {"alice", "We need to pick the launch date for the mobile app release."},
    {"carol", "The mobile app release depends on the payment review."},
    {"bob", "The payment review finishes on Wednesday."},
    {"alice", "Then the launch date could be Thursday, right after the payment review."},
    {"carol", "Thursday works. Let's go with Thursday for the launch."},
    {"bob", "Who will write the release notes?"},
    {"alice", "I'll write the release notes by Wednesday."},
    {"carol", "Can you send the launch checklist to marketing by Friday?"},
    {"bob", "Sure."},
    {"carol", "What about the app store screenshots?"},
    {"alice", "TODO: update the screenshots."},
    {"bob", "Cool, thanks all."},
};

static void to_msgs(const struct line *l, size_t n, struct zt_conv_msg *m)
{
    for (size_t i = 0; i < n; i++) m[i] = (struct zt_conv_msg){l[i].from, strlen(l[i].from), l[i].text, strlen(l[i].text)};
}

static bool item_has(const struct zt_conv_msg *m, const struct zt_summary_item *it, size_t n, size_t msg,
                     const char *needle)
{
    for (size_t i = 0; i < n; i++) {
        if (it[i].msg != msg) continue;
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)it[i].len, m[it[i].msg].text + it[i].off);
        if (!needle || strstr(buf, needle)) return true;
    }
    return false;
}

static void check_launch(const struct zt_stopwords *sw)
{
    size_t n = sizeof launch / sizeof launch[0];
    struct zt_conv_msg m[sizeof launch / sizeof launch[0]];
    to_msgs(launch, n, m);
    struct zt_summary s;
    assert_int_equal(zt_summarize(model, sw, m, n, 3, 0.0, &s), 0);
    assert_int_equal(s.n_key, 3);
    for (size_t i = 0; i < s.n_key; i++) {
        printf("  key: [%zu] %s: %.*s (%.4f)\n", s.key[i].msg, launch[s.key[i].msg].from, (int)s.key[i].len,
               m[s.key[i].msg].text + s.key[i].off, s.key[i].score);
        if (i) assert_true(s.key[i - 1].msg <= s.key[i].msg); /* chronological */
    }
    /* the sentences about the launch date and the payment review carry it */
    assert_true(item_has(m, s.key, s.n_key, 5, "launch date"));
    assert_false(item_has(m, s.key, s.n_key, 0, NULL)); /* "Hi team!" is not key */
    assert_false(item_has(m, s.key, s.n_key, 13, NULL));
    /* decisions */
    assert_int_equal(s.n_decisions, 1);
    assert_true(item_has(m, s.decisions, s.n_decisions, 6, "Let's go with Thursday"));
    /* open questions: "Who will write..." is answered by alice; the
     * screenshots question only gets a TODO that shares its words: answered too;
     * nothing else is open */
    assert_false(item_has(m, s.questions, s.n_questions, 7, NULL));
    /* action items */
    assert_true(item_has(m, s.actions, s.n_actions, 8, "I'll write the release notes"));
    assert_true(item_has(m, s.actions, s.n_actions, 9, "launch checklist"));
    assert_true(item_has(m, s.actions, s.n_actions, 12, "TODO"));
    for (size_t i = 0; i < s.n_actions; i++) {
        if (s.actions[i].msg == 8) {
            assert_string_equal(s.actions[i].kind, "commitment");
            assert_int_equal(s.actions[i].assignee, 8);
        }
        if (s.actions[i].msg == 9) {
            assert_string_equal(s.actions[i].kind, "request");
            assert_int_equal(s.actions[i].assignee, 10); /* bob answers carol's request */
        }
    }
    assert_false(item_has(m, s.actions, s.n_actions, 13, NULL));
    zt_summary_deinit(&s);
}

static void test_launch_small_stopwords(void **state)
{
    (void)state;
    check_launch(small_sw);
}

static void test_launch_asset(void **state)
{
    (void)state;
    char path[512];
    const char *dir = getenv("ZENTALK_ASSETS_DIR");
    assert_int_equal(zt_asset_path("data", "stopwords.zta", path, sizeof path), 0);
    struct zt_stopwords *sw = NULL;
    int rc = zt_stopwords_load(path, &sw);
    if (rc == ZT_ENOTFOUND) {
        zt_skip("%s not found (run `make data`; ZENTALK_ASSETS_DIR=%s)", path, dir ? dir : "");
    }
    assert_int_equal(rc, 0);
    assert_true(zt_stopwords_langs(sw) >= 4);
    assert_string_equal(zt_stopwords_lang(sw, 0), "en");
    check_launch(sw);
    zt_stopwords_free(sw);
}

static void test_open_questions(void **state)
{
    (void)state;
    static const struct line l[] = {
        {"ann", "When is the budget deadline?"},
        {"ben", "Also, who is presenting on Monday?"},
        {"ann", "I can present."},
        {"ben", "Should we invite the finance team?"},
        {"ben", "They might have opinions."},
    };
    size_t n = sizeof l / sizeof l[0];
    struct zt_conv_msg m[5];
    to_msgs(l, n, m);
    struct zt_summary s;
    assert_int_equal(zt_summarize(model, small_sw, m, n, 0, 0.0, &s), 0);
    /* the deadline was never answered; nor was the finance question (only
     * ben spoke after it); the presenter question was */
    assert_true(item_has(m, s.questions, s.n_questions, 0, "deadline"));
    assert_true(item_has(m, s.questions, s.n_questions, 3, "finance"));
    assert_false(item_has(m, s.questions, s.n_questions, 1, NULL));
    assert_int_equal(s.n_questions, 2);
    assert_int_equal(s.n_decisions, 0);
    assert_true(s.n_key >= 1 && s.n_key <= 5);
    assert_string_equal(s.lang, "en");
    zt_summary_deinit(&s);

    /* the same call twice gives the same answer */
    struct zt_summary a, b;
    assert_int_equal(zt_summarize(model, small_sw, m, n, 2, 0.0, &a), 0);
    assert_int_equal(zt_summarize(model, small_sw, m, n, 2, 0.0, &b), 0);
    assert_int_equal(a.n_key, b.n_key);
    for (size_t i = 0; i < a.n_key; i++) assert_int_equal(a.key[i].msg, b.key[i].msg);
    zt_summary_deinit(&a);
    zt_summary_deinit(&b);
}

/* issue 16, "what was seen": this thread gave no decision, missed the
 * questions and left the action item without an assignee */
static void test_issue_thread(void **state)
{
    (void)state;
    static const struct line l[] = {
        {"alice", "Let's decide: Bob presents on Friday."},
        {"bob", "Who's presenting the budget part?"},
        {"alice", "Carol, can you send the deck by Thursday?"},
        {"bob", "Which room are we in?"},
    };
    size_t n = sizeof l / sizeof l[0];
    struct zt_conv_msg m[4];
    to_msgs(l, n, m);
    struct zt_entities_ref ref;
    assert_int_equal(zt_entities_parse_time("2026-12-07T09:00:00Z", &ref), 0); /* a Monday */
    struct zt_summary s;
    assert_int_equal(zt_summarize_at(model, small_sw, m, n, 0, 0.0, &ref, &s), 0);
    assert_int_equal(s.n_decisions, 1);
    assert_true(item_has(m, s.decisions, s.n_decisions, 0, "Bob presents"));
    assert_int_equal(s.n_questions, 2);
    assert_true(item_has(m, s.questions, s.n_questions, 1, "Who's presenting"));
    assert_true(item_has(m, s.questions, s.n_questions, 3, "Which room"));
    assert_int_equal(s.n_actions, 1);
    const struct zt_summary_item *a = &s.actions[0];
    assert_int_equal(a->msg, 2);
    assert_string_equal(a->kind, "request");
    assert_int_equal(a->addressed_len, 5);
    assert_memory_equal(m[2].text + a->addressed_off, "Carol", 5);
    assert_int_equal(a->assignee, SIZE_MAX); /* carol has not spoken: not bob, who spoke next */
    assert_true(a->due_len > 0);
    assert_memory_equal(m[2].text + a->due_off, "Thursday", 8);
    assert_string_equal(a->due, "2026-12-10");
    zt_summary_deinit(&s);

    /* "@dave" and a vocative at the end; a speaker addressed owns the item;
     * "Agreed." makes the proposal it answers a decision */
    static const struct line l2[] = {
        {"erin", "We'll go with the blue theme?"},
        {"dave", "Agreed."},
        {"erin", "@dave please review the copy by tomorrow"},
        {"frank", "Can you book the room for Monday, Erin?"},
        {"erin", "Sure."},
    };
    n = sizeof l2 / sizeof l2[0];
    struct zt_conv_msg m2[5];
    to_msgs(l2, n, m2);
    assert_int_equal(zt_summarize_at(model, small_sw, m2, n, 0, 0.0, NULL, &s), 0);
    assert_true(item_has(m2, s.decisions, s.n_decisions, 0, "blue theme"));
    bool seen_dave = false, seen_erin = false;
    for (size_t i = 0; i < s.n_actions; i++) {
        const struct zt_summary_item *x = &s.actions[i];
        if (x->msg == 2) {
            seen_dave = true;
            assert_memory_equal(m2[2].text + x->addressed_off, "dave", 4);
            assert_int_equal(x->assignee, 1);
            assert_true(x->due_len > 0);
            assert_string_equal(x->due, ""); /* no reference time */
        }
        if (x->msg == 3) {
            seen_erin = true;
            assert_memory_equal(m2[3].text + x->addressed_off, "Erin", 4);
            assert_int_equal(x->assignee, 4);
        }
    }
    assert_true(seen_dave && seen_erin);
    zt_summary_deinit(&s);
}

/* The summary's text: key sentences in order, "from: sentence", joined by
 * a space; a message without a speaker gives the sentence alone. */
static void test_text(void **state)
{
    (void)state;
    struct zt_conv_msg m[2] = {{"alice", 5, "We ship on Monday. Nothing else.", 32}, {"", 0, "Fine by me.", 11}};
    struct zt_summary s = {0};
    struct zt_summary_item key[3] = {{.msg = 0, .off = 0, .len = 18}, {.msg = 1, .off = 0, .len = 11},
                                     {.msg = 0, .off = 19, .len = 13}};
    s.key = key;
    s.n_key = 3;
    struct zt_buf b;
    zt_buf_init(&b, 1 << 10);
    assert_int_equal(zt_summary_text(&s, m, &b), 0);
    assert_string_equal(zt_buf_str(&b), "alice: We ship on Monday. Fine by me. alice: Nothing else.");
    zt_buf_reset(&b);
    s.n_key = 0;
    assert_int_equal(zt_summary_text(&s, m, &b), 0);
    assert_int_equal(b.len, 0);
    zt_buf_deinit(&b);
    zt_buf_init(&b, 8); /* over the cap */
    s.n_key = 1;
    assert_int_not_equal(zt_summary_text(&s, m, &b), 0);
    zt_buf_deinit(&b);
}

static void test_edges(void **state)
{
    (void)state;
    struct zt_summary s;
    struct zt_conv_msg one = {"a", 1, "ok", 2};
    assert_int_equal(zt_summarize(model, NULL, &one, 1, 0, 0.0, &s), 0);
    assert_int_equal(s.n_key, 1);
    zt_summary_deinit(&s);
    struct zt_conv_msg empty = {"a", 1, "", 0};
    assert_int_equal(zt_summarize(model, small_sw, &empty, 1, 0, 0.0, &s), 0);
    assert_int_equal(s.n_key, 0);
    zt_summary_deinit(&s);
    assert_int_equal(zt_summarize(model, small_sw, &one, 0, 0, 0.0, &s), ZT_EINVAL);
    struct zt_conv_msg bad = {"a", 1, "\xff", 1};
    assert_int_equal(zt_summarize(model, small_sw, &bad, 1, 0, 0.0, &s), ZT_EPARSE);
    /* too many sentences */
    size_t len = (ZT_SUMMARY_MAX_SENTENCES + 1) * 4;
    char *big = zt_malloc(len);
    assert_non_null(big);
    for (size_t i = 0; i < len; i += 4) memcpy(big + i, "Go. ", 4);
    struct zt_conv_msg bm = {"a", 1, big, len};
    assert_int_equal(zt_summarize(model, small_sw, &bm, 1, 0, 0.0, &s), ZT_ETOOBIG);
    zt_free(big);

    struct zt_stopwords *sw = NULL;
    assert_int_equal(zt_stopwords_parse("english the\n", 12, &sw), ZT_EPARSE);
    assert_int_equal(zt_stopwords_parse("e the\n", 6, &sw), ZT_EPARSE);
    assert_int_equal(zt_stopwords_parse("en \xff\n", 5, &sw), ZT_EPARSE);
    assert_int_equal(zt_stopwords_parse("", 0, &sw), 0);
    assert_int_equal(zt_stopwords_langs(sw), 0);
    zt_stopwords_free(sw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_launch_small_stopwords),
        cmocka_unit_test(test_launch_asset),
        cmocka_unit_test(test_open_questions),
        cmocka_unit_test(test_issue_thread),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_text),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    if (zt_alloc_live() != 0) {
        printf("leak: %lld allocations live\n", (long long)zt_alloc_live());
        return 1;
    }
    return zt_test_exit(rc);
}
