/* test_intent.c: intent detection (zt_intent.h) over the compiled-in cue
 * file: labelled messages per intent (accuracy printed), multi-label,
 * and malformed cue files (file:line errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_intent.h"
#include "zt_test.h"

struct labelled {
    const char *text;
    enum zt_intent want;
};

#define L(T, I) {T, ZT_INTENT_##I}
static const struct labelled cases[] = {
    /* wh-questions */
    L("What time is it?", QUESTION), L("Where are you?", QUESTION), L("who is coming to the demo", QUESTION),
    L("Why did the build fail?", QUESTION), L("How do I reset my password?", QUESTION),
    L("Which one do you prefer?", QUESTION), L("what's the wifi password", QUESTION),
    L("So what do you think?", QUESTION), L("and when is the deadline?", QUESTION),
    L("Whose laptop is this?", QUESTION), L("How much does it cost?", QUESTION),
    L("Any idea where the keys are?", QUESTION),
    /* yes/no questions */
    L("Are you coming?", YESNO), L("Is it raining there?", YESNO), L("Did you see the game last night?", YESNO),
    L("Have you finished the report?", YESNO), L("do you like sushi", YESNO), L("Is this seat taken?", YESNO),
    L("Was the test green?", YESNO), L("You ok?", YESNO), L("Should I bring anything?", YESNO),
    L("Has anyone seen my charger?", YESNO), L("Did it work?", YESNO), L("are you home", YESNO),
    /* thanks */
    L("Thanks!", THANKS), L("Thank you so much for your help", THANKS), L("thx man", THANKS),
    L("Much appreciated.", THANKS), L("ty!", THANKS), L("I really appreciate it", THANKS),
    L("Thanks a lot for the ride", THANKS), L("Cheers for that", THANKS), L("Merci beaucoup", THANKS),
    L("Danke dir!", THANKS), L("Gracias amigo", THANKS), L("🙏🙏", THANKS),
    /* greetings */
    L("Hi!", GREETING), L("Hello there", GREETING), L("hey", GREETING), L("Good morning everyone", GREETING),
    L("Hiya :)", GREETING), L("What's up?", GREETING), L("How are you?", GREETING), L("Hola!", GREETING),
    L("Bonjour à tous", GREETING), L("Guten Morgen", GREETING), L("Hey, long time no see", GREETING),
    L("Nice to meet you", GREETING),
    /* farewells */
    L("Bye!", FAREWELL), L("See you tomorrow", FAREWELL), L("Good night!", FAREWELL),
    L("Talk to you later", FAREWELL), L("ttyl", FAREWELL), L("Take care", FAREWELL),
    L("Gotta go, bye", FAREWELL), L("Have a great weekend!", FAREWELL), L("Catch you later", FAREWELL),
    L("Au revoir", FAREWELL), L("Tschüss!", FAREWELL), L("Adiós", FAREWELL),
    /* invitations */
    L("Do you want to grab lunch?", INVITATION), L("Wanna come to my party on Saturday?", INVITATION),
    L("Would you like to join us for dinner?", INVITATION), L("Join us at the bar tonight!", INVITATION),
    L("Come over this weekend", INVITATION), L("You're invited to my birthday party", INVITATION),
    L("Let's grab a coffee sometime", INVITATION), L("Up for a movie tonight?", INVITATION),
    L("We're going hiking, want to come?", INVITATION), L("Feel like getting drinks later?", INVITATION),
    L("Are you coming to the party?", INVITATION), L("wanna play tennis tomorrow", INVITATION),
    /* scheduling */
    L("Can we meet at 3pm tomorrow?", SCHEDULING), L("Are you free on Monday?", SCHEDULING),
    L("Let's schedule a call for next week", SCHEDULING), L("How about Tuesday at 10:30?", SCHEDULING),
    L("Does Friday work for you?", SCHEDULING), L("Can we reschedule the meeting?", SCHEDULING),
    L("What time works for you tomorrow?", SCHEDULING), L("Let's sync this afternoon", SCHEDULING),
    L("Are you available for a quick call at 2 pm?", SCHEDULING),
    L("I'd like to set up a meeting on Thursday", SCHEDULING), L("Can we move it to next Monday?", SCHEDULING),
    L("Let's meet at noon", SCHEDULING),
    /* apologies */
    L("Sorry I'm late", APOLOGY), L("My bad, I forgot", APOLOGY), L("I apologize for the delay", APOLOGY),
    L("So sorry about that!", APOLOGY), L("Apologies for the confusion", APOLOGY), L("my fault, sorry", APOLOGY),
    L("Please forgive me", APOLOGY), L("Sorry, wrong chat", APOLOGY), L("I messed up, sorry", APOLOGY),
    L("Désolé pour le retard", APOLOGY), L("Entschuldigung!", APOLOGY), L("I didn't mean to offend you", APOLOGY),
    /* requests */
    L("Can you send me the file?", REQUEST), L("Could you help me with this bug?", REQUEST),
    L("Please review my pull request", REQUEST), L("I need help with the slides", REQUEST),
    L("Would you mind checking the logs?", REQUEST), L("Can you pick up some milk?", REQUEST),
    L("pls call me back", REQUEST), L("Let me know when you're done", REQUEST),
    L("Could you send the invoice by Friday?", REQUEST), L("Do me a favor and water the plants", REQUEST),
    L("I need you to sign this", REQUEST), L("Can u help me move on Sunday", REQUEST),
    /* agreement */
    L("Yes, sounds good", AGREEMENT), L("Sure!", AGREEMENT), L("I agree", AGREEMENT), L("ok", AGREEMENT),
    L("Sounds like a plan", AGREEMENT), L("Exactly, that's what I meant", AGREEMENT),
    L("Makes sense to me", AGREEMENT), L("Yeah, good idea", AGREEMENT), L("Fair enough", AGREEMENT),
    L("Absolutely", AGREEMENT), L("👍", AGREEMENT), L("Works for me", AGREEMENT),
    /* disagreement */
    L("No, I don't think so", DISAGREEMENT), L("I disagree", DISAGREEMENT), L("Nope", DISAGREEMENT),
    L("That's not true", DISAGREEMENT), L("I'm not sure about that", DISAGREEMENT),
    L("Not really", DISAGREEMENT), L("No way", DISAGREEMENT), L("I don't agree with you", DISAGREEMENT),
    L("That's a bad idea", DISAGREEMENT), L("nah", DISAGREEMENT), L("You're wrong about this", DISAGREEMENT),
    L("I'd rather not", DISAGREEMENT),
    /* congratulations */
    L("Congratulations!", CONGRATS), L("Congrats on the new job!", CONGRATS), L("Well done!", CONGRATS),
    L("Great job on the launch", CONGRATS), L("Happy birthday!!", CONGRATS), L("So proud of you", CONGRATS),
    L("You nailed it", CONGRATS), L("Nice work team", CONGRATS), L("🎉🎉🎉", CONGRATS),
    L("Félicitations !", CONGRATS), L("Kudos to everyone", CONGRATS), L("You deserve it", CONGRATS),
    /* complaints */
    L("This is so annoying", COMPLAINT), L("The app keeps crashing", COMPLAINT),
    L("I'm really frustrated with the delivery", COMPLAINT), L("The service was terrible", COMPLAINT),
    L("It still doesn't work", COMPLAINT), L("I'm sick of these delays", COMPLAINT),
    L("This is unacceptable", COMPLAINT), L("Really disappointed with the result", COMPLAINT),
    L("The printer is broken again", COMPLAINT), L("Worst customer support ever", COMPLAINT),
    L("I'm fed up with this", COMPLAINT), L("What a waste of time", COMPLAINT),
    /* bad news, grief, urgency (issue 16) */
    L("I lost my job today", BAD_NEWS), L("Bad news, the flight got cancelled", BAD_NEWS),
    L("We broke up last week", BAD_NEWS), L("I was in a car accident this morning", BAD_NEWS),
    L("Dad is in the hospital again", BAD_NEWS), L("She was diagnosed with cancer", BAD_NEWS),
    L("I got laid off", BAD_NEWS), L("My bike was stolen", BAD_NEWS), L("I didn't get the job", BAD_NEWS),
    L("Having a rough week", BAD_NEWS), L("I failed the exam 😢", BAD_NEWS), L("I got fired", BAD_NEWS),
    L("My grandmother passed away last night", GRIEF), L("Our dog died this morning", GRIEF),
    L("The funeral is on Saturday", GRIEF), L("I lost my dad last month", GRIEF),
    L("We had to put down our cat", GRIEF), L("My uncle passed away", GRIEF), L("RIP grandpa", GRIEF),
    L("She is no longer with us", GRIEF), L("He just passed", GRIEF), L("Her husband died suddenly", GRIEF),
    L("I lost my brother in the war", GRIEF), L("Rest in peace, old friend", GRIEF),
    L("Urgent: the server is down", URGENT), L("I need the file ASAP", URGENT),
    L("Call me right now", URGENT), L("It's an emergency", URGENT), L("Please reply immediately", URGENT),
    L("Need this urgently", URGENT), L("Send it as soon as possible", URGENT),
    L("Come right away, the pipe burst", URGENT), L("This is time sensitive", URGENT),
    L("🚨 production is on fire", URGENT), L("Call me asap", URGENT), L("We need help now", URGENT),
    /* statements */
    L("I'm at the station.", STATEMENT), L("The meeting notes are in the shared folder", STATEMENT),
    L("It's raining here", STATEMENT), L("I just got home", STATEMENT), L("The build takes ten minutes.", STATEMENT),
    L("My flight lands at 6", STATEMENT), L("We have two cats", STATEMENT),
    L("I read that book last year", STATEMENT), L("The store closes early today", STATEMENT),
    L("Here is the link https://example.org/doc", STATEMENT), L("Dinner was lovely.", STATEMENT),
    L("I'm working from home", STATEMENT),
};

/* Written after the cue file was tuned and never used to tune it: the
 * figure printed for these is the honest one. */
static const struct labelled held_out[] = {
    L("Where did you park?", QUESTION), L("What should we cook tonight?", QUESTION),
    L("Is the shop open on Sundays?", YESNO), L("Did you get my email?", YESNO),
    L("Thanks for the update", THANKS), L("thank you!!", THANKS),
    L("Hey there!", GREETING), L("Good evening all", GREETING),
    L("See you soon", FAREWELL), L("Night night, take care", FAREWELL),
    L("Want to come to the concert with us?", INVITATION), L("Join us for brunch on Sunday!", INVITATION),
    L("Could we push the meeting to 4pm?", SCHEDULING), L("Are you available next Tuesday morning?", SCHEDULING),
    L("Sorry for the late reply", APOLOGY), L("My apologies, I misread it", APOLOGY),
    L("Please send me the address", REQUEST), L("Can you help me fix the printer?", REQUEST),
    L("Yep, that works", AGREEMENT), L("Totally agree with you", AGREEMENT),
    L("Nope, not going to happen", DISAGREEMENT), L("I don't think that's right", DISAGREEMENT),
    L("Congrats on the promotion!", CONGRATS), L("Well done on the marathon", CONGRATS),
    L("The wifi is terrible today", COMPLAINT), L("This update is so frustrating", COMPLAINT),
    L("My aunt passed away yesterday", GRIEF), L("I just lost my job", BAD_NEWS),
    L("Need the keys urgently!", URGENT),
    L("I left the keys on the table", STATEMENT), L("The train was on time", STATEMENT),
};

static struct zt_intent_model *model;

static int setup(void **state)
{
    (void)state;
    char err[256];
    int rc = zt_intent_model_builtin(&model, err, sizeof err);
    if (rc) printf("builtin cue file: %s\n", err);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    zt_intent_model_free(model);
    return 0;
}

static void test_accuracy(void **state)
{
    (void)state;
    size_t n = sizeof cases / sizeof cases[0], ok = 0, per[ZT_INTENT_COUNT] = {0}, per_ok[ZT_INTENT_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        struct zt_intent_result r;
        assert_int_equal(zt_intent_detect(model, cases[i].text, strlen(cases[i].text), &r), 0);
        assert_true(r.n >= 1);
        per[cases[i].want]++;
        if (r.labels[0].intent == cases[i].want) {
            ok++;
            per_ok[cases[i].want]++;
        } else {
            printf("  miss: \"%s\": want %s, got %s (%.2f)\n", cases[i].text, zt_intent_name(cases[i].want),
                   zt_intent_name(r.labels[0].intent), r.labels[0].confidence);
        }
    }
    for (int i = 0; i < ZT_INTENT_COUNT; i++) {
        assert_true(per[i] >= 10);
        printf("  %-16s %zu/%zu\n", zt_intent_name((enum zt_intent)i), per_ok[i], per[i]);
    }
    double acc = (double)ok / (double)n;
    printf("intent accuracy (primary label): %zu/%zu = %.1f%%\n", ok, n, 100.0 * acc);
    assert_true(acc >= 0.9);
}

static void test_held_out(void **state)
{
    (void)state;
    size_t n = sizeof held_out / sizeof held_out[0], ok = 0;
    for (size_t i = 0; i < n; i++) {
        struct zt_intent_result r;
        assert_int_equal(zt_intent_detect(model, held_out[i].text, strlen(held_out[i].text), &r), 0);
        if (r.labels[0].intent == held_out[i].want) ok++;
        else
            printf("  held-out miss: \"%s\": want %s, got %s\n", held_out[i].text, zt_intent_name(held_out[i].want),
                   zt_intent_name(r.labels[0].intent));
    }
    printf("intent accuracy (held out, primary label): %zu/%zu = %.1f%%\n", ok, n, 100.0 * (double)ok / (double)n);
    assert_true((double)ok / (double)n >= 0.75);
}

static void test_multilabel(void **state)
{
    (void)state;
    struct zt_intent_result r;
    const char *t = "Hi Anna! Are you coming to the meeting at 3pm?";
    assert_int_equal(zt_intent_detect(model, t, strlen(t), &r), 0);
    assert_true(zt_intent_score(&r, ZT_INTENT_GREETING) >= ZT_INTENT_MIN);
    assert_true(zt_intent_score(&r, ZT_INTENT_YESNO) >= ZT_INTENT_MIN);
    assert_true(zt_intent_score(&r, ZT_INTENT_SCHEDULING) >= ZT_INTENT_MIN);
    assert_true(r.has_time);
    for (size_t i = 1; i < r.n; i++) assert_true(r.labels[i - 1].confidence >= r.labels[i].confidence);
    /* a negation in front of a cue cancels it */
    t = "I'm not sorry at all.";
    assert_int_equal(zt_intent_detect(model, t, strlen(t), &r), 0);
    assert_true(zt_intent_score(&r, ZT_INTENT_APOLOGY) == 0);
    /* empty and punctuation-only messages are statements */
    assert_int_equal(zt_intent_detect(model, "", 0, &r), 0);
    assert_int_equal(r.labels[0].intent, ZT_INTENT_STATEMENT);
    assert_int_equal(zt_intent_detect(model, "...", 3, &r), 0);
    assert_int_equal(r.labels[0].intent, ZT_INTENT_STATEMENT);
    /* invalid UTF-8 */
    assert_int_equal(zt_intent_detect(model, "\xff\xfe", 2, &r), ZT_EPARSE);
}

static void test_lexicon(void **state)
{
    (void)state;
    bool hit;
    const char *t = "OK, let's go with the blue design.";
    assert_int_equal(zt_intent_lexicon(model, "decision", t, strlen(t), ZT_LEX_ANY, &hit), 0);
    assert_true(hit);
    t = "I'll send the slides by Friday";
    assert_int_equal(zt_intent_lexicon(model, "commitment", t, strlen(t), ZT_LEX_START, &hit), 0);
    assert_true(hit);
    assert_int_equal(zt_intent_lexicon(model, "time", t, strlen(t), ZT_LEX_ANY, &hit), 0);
    assert_true(hit);
    t = "see you at 10:30";
    assert_int_equal(zt_intent_lexicon(model, "time", t, strlen(t), ZT_LEX_ANY, &hit), 0);
    assert_true(hit);
    t = "I am here";
    assert_int_equal(zt_intent_lexicon(model, "time", t, strlen(t), ZT_LEX_ANY, &hit), 0);
    assert_false(hit);
    assert_int_equal(zt_intent_lexicon(model, "no-such-lexicon", t, strlen(t), ZT_LEX_ANY, &hit), 0);
    assert_false(hit);
}

static void expect_parse_error(const char *text, const char *needle)
{
    struct zt_intent_model *m = NULL;
    char err[256];
    assert_int_equal(zt_intent_model_parse(text, strlen(text), "t.txt", &m, err, sizeof err), ZT_EPARSE);
    assert_null(m);
    if (!strstr(err, needle)) fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static const char *const MIN_LEX = "lexicon aux\nis\nlexicon pronoun\nit\nlexicon wh\nwhat\nlexicon negation\nnot\n"
                                   "lexicon time\ntoday\nlexicon decision\ndecided\nlexicon commitment\ni'll\n"
                                   "lexicon imperative\nsend\nlexicon todo\ntodo\n";

static void test_malformed(void **state)
{
    (void)state;
    char buf[1024];
    struct zt_intent_model *m = NULL;
    char err[256];
    snprintf(buf, sizeof buf, "%sintent thanks\nany 0.9 thanks\n", MIN_LEX);
    assert_int_equal(zt_intent_model_parse(buf, strlen(buf), "t.txt", &m, err, sizeof err), 0);
    struct zt_intent_result r;
    assert_int_equal(zt_intent_detect(m, "thanks!", 7, &r), 0);
    assert_int_equal(r.labels[0].intent, ZT_INTENT_THANKS);
    zt_intent_model_free(m);

    snprintf(buf, sizeof buf, "%sintent nonsense\n", MIN_LEX);
    expect_parse_error(buf, "t.txt:19: unknown intent 'nonsense'");
    snprintf(buf, sizeof buf, "%sintent thanks\nany 1.5 thanks\n", MIN_LEX);
    expect_parse_error(buf, "t.txt:20: weight");
    snprintf(buf, sizeof buf, "%sintent thanks\nsometimes 0.5 thanks\n", MIN_LEX);
    expect_parse_error(buf, "t.txt:20: unknown directive");
    snprintf(buf, sizeof buf, "%sintent thanks\nany 0.5\n", MIN_LEX);
    expect_parse_error(buf, "t.txt:20: bad phrase");
    snprintf(buf, sizeof buf, "%sintent thanks\nboost nolex 0.5\n", MIN_LEX);
    expect_parse_error(buf, "unknown lexicon 'nolex'");
    snprintf(buf, sizeof buf, "%sany 0.5 x\n", "lexicon aux\n");
    assert_int_equal(zt_intent_model_parse(buf, strlen(buf), "t.txt", &m, err, sizeof err), ZT_EPARSE); /* lexicons missing */
    expect_parse_error("any 0.5 thanks\n", "t.txt:1: a cue outside");
    expect_parse_error("lexicon aux\nlexicon aux\n", "t.txt:2: lexicon aux defined twice");
    expect_parse_error("lexicon aux\n\xff\n", "t.txt:2: invalid UTF-8");
    expect_parse_error("lexicon aux\na b c d e f g h i\n", "t.txt:2: bad phrase");
    expect_parse_error("lexicon aux\n", "lexicon pronoun is missing");
    assert_int_equal(zt_intent_model_load("/nonexistent/intents.txt", &m, err, sizeof err), ZT_ENOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/intents.txt"));
}

/* Batches on the pool (intent_pool.c): one text, several, invalid UTF-8,
 * a caller gone. */
struct pool_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, gone_asked;
    struct zt_intent_batch b;
    json_t *results; /* a copy of the batch's results */
};

static bool pool_gone(void *ud)
{
    return ((struct pool_wait *)ud)->gone_asked;
}

static void pool_done(void *ud, struct zt_intent_batch *b)
{
    struct pool_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->b = *b;
    w->results = json_deep_copy(b->results); /* ours alone: no reference shared across threads */
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void pool_run(struct zt_intent_pool *p, json_t *text, json_t *texts, size_t n, struct pool_wait *w)
{
    json_decref(w->results);
    w->results = NULL;
    w->done = false;
    assert_int_equal(zt_intent_pool_submit(p, "id:test", text, texts, n, pool_gone, pool_done, w), 0);
    pthread_mutex_lock(&w->mu);
    while (!w->done) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static void test_pool(void **state)
{
    (void)state;
    struct zt_intent_pool *p = NULL;
    assert_int_equal(zt_intent_pool_new(model, &p), 0);
    struct pool_wait w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    json_t *one = json_string("Thank you so much!");
    pool_run(p, one, NULL, 1, &w);
    assert_false(w.b.stopped || w.b.gone);
    assert_int_equal(w.b.rc, 0);
    assert_int_equal(json_array_size(w.results), 1);
    struct zt_intent_result r;
    assert_int_equal(zt_intent_detect(model, "Thank you so much!", 18, &r), 0);
    json_t *want = zt_intent_result_json(&r);
    assert_true(json_equal(json_array_get(w.results, 0), want));
    assert_string_equal(json_string_value(json_object_get(want, "intent")), zt_intent_name(r.labels[0].intent));
    json_decref(want);
    /* more texts than one step (16) */
    json_t *many = json_array();
    for (int i = 0; i < 40; i++) json_array_append_new(many, json_string(i % 2 ? "Can we meet at 3pm?" : "thanks!"));
    pool_run(p, NULL, many, 40, &w);
    assert_int_equal(w.b.rc, 0);
    assert_int_equal(json_array_size(w.results), 40);
    assert_true(json_is_true(json_object_get(json_array_get(w.results, 1), "has_time")));
    /* a text that is not UTF-8 stops the batch */
    json_t *bad = json_array();
    json_array_append_new(bad, json_string("fine"));
    json_array_append_new(bad, json_stringn_nocheck("\xc3\x28", 2));
    pool_run(p, NULL, bad, 2, &w);
    assert_int_equal(w.b.rc, ZT_EPARSE);
    /* nobody waits: the rest is not worked */
    w.gone_asked = true;
    pool_run(p, NULL, many, 40, &w);
    assert_true(w.b.gone);
    assert_int_equal(json_array_size(w.results), 0);
    json_decref(w.results);
    json_decref(bad);
    json_decref(many);
    json_decref(one);
    zt_intent_pool_free(p);
    zt_intent_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_held_out),
        cmocka_unit_test(test_multilabel),
        cmocka_unit_test(test_lexicon),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_pool),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    if (zt_alloc_live() != 0) {
        printf("leak: %lld allocations live\n", (long long)zt_alloc_live());
        return 1;
    }
    return zt_test_exit(rc);
}
