/* test_replies.c: smart replies from the bank (zt_replies.h): triplets per
 * intent, distinct meanings, sentiment and moderation hooks, whose turn it
 * is, malformed bank files, and the LLM prompt and answer parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_replies.h"
#include "zt_test.h"

static struct zt_intent_model *model;
static struct zt_reply_bank *bank;

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (zt_intent_model_builtin(&model, err, sizeof err) != 0 || zt_reply_bank_builtin(&bank, err, sizeof err) != 0) {
        printf("builtin data: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zt_intent_model_free(model);
    zt_reply_bank_free(bank);
    return 0;
}

static struct zt_conv_msg msg(const char *from, const char *text)
{
    return (struct zt_conv_msg){from, strlen(from), text, strlen(text)};
}

static void suggest1(const char *text, const struct zt_reply_hooks *h, struct zt_replies_result *r)
{
    struct zt_conv_msg m[2] = {msg("bob", "hey"), msg("alice", text)};
    assert_int_equal(zt_replies_suggest(bank, model, h, m, 2, "bob", 3, 0.5, r), 0);
}

static bool has_meaning(const struct zt_replies_result *r, const char *meaning)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->replies[i].meaning, meaning) == 0) return true;
    return false;
}

static void assert_distinct(const struct zt_replies_result *r)
{
    assert_int_equal(r->n, ZT_REPLIES_N);
    for (size_t i = 0; i < r->n; i++) {
        assert_true(r->replies[i].text[0]);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(r->replies[i].text, r->replies[j].text);
            assert_string_not_equal(r->replies[i].meaning, r->replies[j].meaning);
        }
    }
}

static void test_triplets(void **state)
{
    (void)state;
    struct zt_replies_result r;
    suggest1("Are you coming tonight?", NULL, &r);
    assert_int_equal(r.used, ZT_INTENT_YESNO);
    assert_distinct(&r);
    assert_true(has_meaning(&r, "yes") && has_meaning(&r, "no") && has_meaning(&r, "maybe"));
    assert_false(r.moderated);
    assert_false(r.has_sentiment);

    suggest1("Do you want to grab lunch tomorrow?", NULL, &r);
    assert_int_equal(r.used, ZT_INTENT_INVITATION);
    assert_distinct(&r);
    assert_true(has_meaning(&r, "accept") && has_meaning(&r, "decline") && has_meaning(&r, "ask_detail"));

    suggest1("Can we meet at 3pm on Friday?", NULL, &r);
    assert_int_equal(r.used, ZT_INTENT_SCHEDULING);
    assert_distinct(&r);
    assert_true(has_meaning(&r, "confirm") && has_meaning(&r, "ask_time"));

    const char *others[] = {"Thanks a lot!", "Good morning!", "Sorry, I'm late", "Congrats on the new job!",
                            "The app keeps crashing", "I'm at the station", "What time is the show?",
                            "Could you send me the report?", "Sounds good", "No, I don't think so", "Bye!"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        suggest1(others[i], NULL, &r);
        assert_distinct(&r);
    }
    /* deterministic */
    struct zt_replies_result r2;
    suggest1("Could you send me the report?", NULL, &r);
    suggest1("Could you send me the report?", NULL, &r2);
    for (size_t i = 0; i < r.n; i++) assert_string_equal(r.replies[i].text, r2.replies[i].text);
}

static double fixed_sentiment(const char *t, size_t n, void *ud)
{
    (void)t, (void)n;
    return *(double *)ud;
}

static bool flag_yes(const char *t, size_t n, void *ud)
{
    (void)ud;
    return n >= 3 && (strncmp(t, "Yes", 3) == 0 || strncmp(t, "Yea", 3) == 0);
}

static void test_hooks(void **state)
{
    (void)state;
    struct zt_replies_result r;
    double pos = 1.0, neg = -1.0;
    struct zt_reply_hooks h = {.sentiment = fixed_sentiment, .sentiment_ud = &pos};
    suggest1("Are you coming tonight?", &h, &r);
    assert_true(r.has_sentiment);
    assert_string_equal(r.replies[0].meaning, "yes"); /* positive conversation: yes first */
    h.sentiment_ud = &neg;
    suggest1("Are you coming tonight?", &h, &r);
    assert_string_not_equal(r.replies[0].meaning, "yes"); /* negative: no / maybe lead */
    assert_distinct(&r);

    /* moderation: nothing flagged is suggested */
    struct zt_reply_hooks m = {.is_flagged = flag_yes};
    suggest1("Are you coming tonight?", &m, &r);
    assert_true(r.moderated);
    assert_int_equal(r.n, ZT_REPLIES_N);
    for (size_t i = 0; i < r.n; i++) assert_false(flag_yes(r.replies[i].text, strlen(r.replies[i].text), NULL));
}

/* a toy polarity: sad words negative, cheerful ones positive */
static double toy_sentiment(const char *t, size_t n, void *ud)
{
    (void)ud;
    char b[256];
    snprintf(b, sizeof b, "%.*s", (int)n, t);
    static const char *const sad[] = {"passed away", "sorry", "awful", "terrible", "died", "Oh no", "wrong"};
    static const char *const glad[] = {"Nice", "Great", "Interesting", "Thanks", "Awesome", "Yes", "love", "fun"};
    for (size_t i = 0; i < sizeof sad / sizeof sad[0]; i++)
        if (strstr(b, sad[i])) return -0.8;
    for (size_t i = 0; i < sizeof glad / sizeof glad[0]; i++)
        if (strstr(b, glad[i])) return 0.7;
    return 0;
}

static bool cheerful(const struct zt_replies_result *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->replies[i].tone == ZT_TONE_POSITIVE || toy_sentiment(r->replies[i].text, strlen(r->replies[i].text), NULL) > 0)
            return true;
    return false;
}

/* issue 16, "what was seen": "My grandmother passed away last night" got
 * "Got it." / "Thanks for letting me know!" / "Interesting, tell me more." */
static void test_mood(void **state)
{
    (void)state;
    struct zt_replies_result r;
    struct zt_reply_hooks h = {.sentiment = toy_sentiment};
    for (int hooked = 0; hooked < 2; hooked++) {
        suggest1("My grandmother passed away last night", hooked ? &h : NULL, &r);
        assert_int_equal(r.used, ZT_INTENT_GRIEF);
        assert_distinct(&r);
        assert_true(has_meaning(&r, "condolence"));
        assert_false(cheerful(&r));
        for (size_t i = 0; i < r.n; i++) {
            assert_null(strstr(r.replies[i].text, "Interesting"));
            assert_null(strstr(r.replies[i].text, "Got it"));
        }
        suggest1("I got laid off today", hooked ? &h : NULL, &r);
        assert_int_equal(r.used, ZT_INTENT_BAD_NEWS);
        assert_distinct(&r);
        assert_true(has_meaning(&r, "sorry"));
        assert_false(cheerful(&r));
        suggest1("Urgent: the server is down, can you call me right now?", hooked ? &h : NULL, &r);
        assert_int_equal(r.used, ZT_INTENT_URGENT);
        assert_distinct(&r);
        assert_true(has_meaning(&r, "on_it") && has_meaning(&r, "call"));
        suggest1("I'm so sorry, I completely forgot our meeting", hooked ? &h : NULL, &r);
        assert_int_equal(r.used, ZT_INTENT_APOLOGY);
        assert_true(has_meaning(&r, "forgive"));
        suggest1("This is terrible, the app keeps crashing and support won't answer", hooked ? &h : NULL, &r);
        assert_int_equal(r.used, ZT_INTENT_COMPLAINT);
        assert_true(has_meaning(&r, "sorry"));
    }
    /* the hook's filter on its own: a sad statement no intent cue knows */
    suggest1("Everything went wrong today", &h, &r);
    assert_distinct(&r);
    for (size_t i = 0; i < r.n; i++) assert_true(toy_sentiment(r.replies[i].text, strlen(r.replies[i].text), NULL) <= 0);
    assert_true(has_meaning(&r, "ack") && has_meaning(&r, "ask"));
    /* and a happy message gets no gloomy reply */
    suggest1("We won the game, what a fun night", &h, &r);
    assert_distinct(&r);
    for (size_t i = 0; i < r.n; i++) assert_true(toy_sentiment(r.replies[i].text, strlen(r.replies[i].text), NULL) >= 0);
    /* an answer's tone is not a mood: "no" stays offered to a cheerful question */
    suggest1("Do you love the new office? It's so fun!", &h, &r);
    assert_distinct(&r);
    assert_true(has_meaning(&r, "no") || has_meaning(&r, "decline"));
}

static void test_turns(void **state)
{
    (void)state;
    struct zt_replies_result r;
    /* bob's own last message is skipped: alice's question is answered */
    struct zt_conv_msg m[3] = {msg("alice", "Do you want to come to the party?"), msg("bob", "hmm"),
                               msg("bob", "let me think")};
    assert_int_equal(zt_replies_suggest(bank, model, NULL, m, 3, "bob", 3, 0.5, &r), 0);
    assert_int_equal(r.target, 0);
    assert_int_equal(r.used, ZT_INTENT_INVITATION);
    /* a statement closing alice's turn: her earlier question leads */
    struct zt_conv_msg m2[3] = {msg("bob", "hi"), msg("alice", "Are you free on Friday?"), msg("alice", "I have tickets.")};
    assert_int_equal(zt_replies_suggest(bank, model, NULL, m2, 3, "bob", 3, 0.5, &r), 0);
    assert_int_equal(r.target, 1);
    assert_int_equal(r.used, ZT_INTENT_SCHEDULING);
    assert_int_equal(zt_replies_suggest(bank, model, NULL, m2, 0, NULL, 0, 0.5, &r), ZT_EINVAL);
    /* formal register */
    struct zt_conv_msg m3[1] = {msg("ms smith", "Dear Bob, could you kindly send the contract? Regards")};
    assert_int_equal(zt_replies_suggest(bank, model, NULL, m3, 1, NULL, 0, 0.5, &r), 0);
    assert_int_equal(r.reg, ZT_REG_FORMAL);
}

static void expect_bank_error(const char *text, const char *needle)
{
    struct zt_reply_bank *b = NULL;
    char err[256];
    assert_int_equal(zt_reply_bank_parse(text, strlen(text), "r.txt", &b, err, sizeof err), ZT_EPARSE);
    assert_null(b);
    if (!strstr(err, needle)) fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

#define STMT "intent statement\na neutral any | A\nb neutral any | B\nc neutral any | C\n"

static void test_bank_malformed(void **state)
{
    (void)state;
    struct zt_reply_bank *b = NULL;
    char err[256];
    assert_int_equal(zt_reply_bank_parse(STMT, strlen(STMT), "r.txt", &b, err, sizeof err), 0);
    zt_reply_bank_free(b);
    expect_bank_error("yes positive casual | Yes\n", "r.txt:1: a reply outside");
    expect_bank_error("intent nope\n", "r.txt:1: unknown intent 'nope'");
    expect_bank_error(STMT "intent thanks\nYes positive casual | x\n", "r.txt:6: meaning");
    expect_bank_error(STMT "intent thanks\nyes happy casual | x\n", "r.txt:6: tone");
    expect_bank_error(STMT "intent thanks\nyes positive loud | x\n", "r.txt:6: register");
    expect_bank_error(STMT "intent thanks\nyes positive casual\n", "r.txt:6: expected");
    expect_bank_error(STMT "intent thanks\nyes positive casual |   \n", "r.txt:6: empty reply");
    expect_bank_error(STMT "intent thanks\nyes positive casual extra | x\n", "r.txt:6: expected `|`");
    expect_bank_error(STMT "intent thanks\na positive casual | x\nb positive casual | X\n", "r.txt:7: duplicate");
    expect_bank_error(STMT "intent thanks\na positive casual | x\nb positive casual | y\n", "r.txt:5: intent thanks needs");
    expect_bank_error(STMT "intent statement\n", "r.txt:5: intent statement already");
    expect_bank_error("intent thanks\na neutral any | A\nb neutral any | B\nc neutral any | C\n", "statement");
    expect_bank_error(STMT "intent thanks\n\x01 x\n", "r.txt:6: control");
    assert_int_equal(zt_reply_bank_load("/nonexistent/replies.txt", &b, err, sizeof err), ZT_ENOTFOUND);
}

static void test_llm_parse(void **state)
{
    (void)state;
    char out[ZT_REPLIES_N][ZT_REPLY_MAX + 1];
    const char *a = "1. Sure, see you there!\n2) \"Sorry, I can't.\"\n\n- What time?\n4. extra";
    assert_int_equal(zt_replies_parse_llm(a, strlen(a), out), 3);
    assert_string_equal(out[0], "Sure, see you there!");
    assert_string_equal(out[1], "Sorry, I can't.");
    assert_string_equal(out[2], "What time?");
    const char *b = "Yes\nyes\nYES\n\n   \nNo";
    assert_int_equal(zt_replies_parse_llm(b, strlen(b), out), 2);
    /* prose: sentence by sentence */
    const char *c = "Once upon a time, there was a girl. She liked to play. She liked to play. The sun was hot.";
    assert_int_equal(zt_replies_parse_llm(c, strlen(c), out), 3);
    assert_string_equal(out[0], "Once upon a time, there was a girl.");
    assert_string_equal(out[1], "She liked to play.");
    assert_string_equal(out[2], "The sun was hot.");
    assert_int_equal(zt_replies_parse_llm("", 0, out), 0);
    assert_int_equal(zt_replies_parse_llm("\xff\xfe\n1.\n\"\"", 8, out), 0);

    struct zt_conv_msg m[3] = {msg("alice", "first message that is long"), msg("bob", "second"), msg("alice", "third?")};
    struct zt_buf sys, user;
    zt_buf_init(&sys, 4096);
    zt_buf_init(&user, 4096);
    /* a budget of 14 estimated tokens (zt_context.h) holds the last two lines */
    assert_int_equal(zt_replies_prompt(m, 3, "bob", 3, 14, &sys, &user), 0);
    assert_non_null(strstr(zt_buf_str(&sys), "three"));
    assert_non_null(strstr(zt_buf_str(&user), "alice: third?"));
    assert_non_null(strstr(zt_buf_str(&user), "bob: second"));
    assert_null(strstr(zt_buf_str(&user), "first message")); /* windowed out */
    zt_buf_deinit(&sys);
    zt_buf_deinit(&user);
}

static bool flag_rude(const char *text, size_t len, void *ud)
{
    (void)ud;
    return len >= 4 && memcmp(text, "rude", 4) == 0;
}

static const char *str_of(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* What a model's answer makes of the classical result (conv_llm.c). */
static void test_llm_result(void **state)
{
    (void)state;
    struct zt_config cfg;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    struct zt_convfeat *f = NULL;
    assert_int_equal(zt_convfeat_new(&cfg, NULL, &f), 0);
    struct zt_reply_hooks h = {.is_flagged = flag_rude};
    zt_convfeat_set_hooks(f, &h);
    json_t *classical = json_pack("{s:s,s:s,s:[]}", "method", "classical", "bank", "greeting", "replies");
    /* three usable replies: the model's, without the bank */
    const char *three = "1. Sure thing\n2. Not today\n3. Maybe later\n";
    json_t *r = zt_convfeat_llm_result(f, false, classical, 0, three, strlen(three));
    assert_ptr_not_equal(r, classical);
    assert_string_equal(str_of(r, "method"), "llm");
    assert_null(json_object_get(r, "bank"));
    assert_int_equal(json_array_size(json_object_get(r, "replies")), 3);
    assert_string_equal(str_of(json_array_get(json_object_get(r, "replies"), 1), "text"), "Not today");
    json_decref(r);
    assert_string_equal(str_of(classical, "method"), "classical"); /* untouched */
    /* one flagged: the classical answer, saying why */
    const char *flagged = "Sure thing\nrude words\nMaybe later\n";
    r = zt_convfeat_llm_result(f, false, classical, 0, flagged, strlen(flagged));
    assert_ptr_equal(r, classical);
    assert_string_equal(str_of(r, "fallback"), "moderation flagged the model's replies");
    json_decref(r);
    r = zt_convfeat_llm_result(f, false, classical, 0, "only one", 8);
    assert_string_equal(str_of(r, "fallback"), "the model did not give three distinct replies");
    json_decref(r);
    r = zt_convfeat_llm_result(f, false, classical, ZT_ECLOSED, NULL, 0);
    assert_string_equal(str_of(r, "fallback"), "the node is shutting down");
    json_decref(r);
    r = zt_convfeat_llm_result(f, true, classical, ZT_EIO, NULL, 0);
    assert_string_equal(str_of(r, "fallback"), "inference failed");
    json_decref(r);
    /* a summary: trimmed; an empty one falls back */
    json_object_del(classical, "fallback");
    r = zt_convfeat_llm_result(f, true, classical, 0, "\n  They agreed to meet.  \n", 26);
    assert_string_equal(str_of(r, "summary"), "They agreed to meet.");
    assert_string_equal(str_of(r, "method"), "llm");
    json_decref(r);
    r = zt_convfeat_llm_result(f, true, classical, 0, " \n\t", 3);
    assert_string_equal(str_of(r, "fallback"), "the model's answer was empty");
    json_decref(r);
    json_decref(classical);
    zt_convfeat_free(f);
    zt_config_deinit(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_triplets),  cmocka_unit_test(test_hooks), cmocka_unit_test(test_mood),     cmocka_unit_test(test_turns),
        cmocka_unit_test(test_bank_malformed), cmocka_unit_test(test_llm_parse), cmocka_unit_test(test_llm_result),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    if (zt_alloc_live() != 0) {
        printf("leak: %lld allocations live\n", (long long)zt_alloc_live());
        return 1;
    }
    return zt_test_exit(rc);
}
