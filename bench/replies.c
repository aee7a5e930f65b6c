/* bench/replies.c: the classical conversation features on one core.
 *
 *   bench_replies [seconds]    (default 1 per row)
 *
 * Over a fixed 50-message, four-speaker conversation (built-in text):
 *   intents     zt_intent_detect on each message          -> messages/s
 *   replies     zt_replies_suggest for the whole thread   -> suggestions/s
 *   summarize   zt_summarize of the whole thread          -> messages/s (50 x calls/s)
 * Stopwords: data/assets/stopwords.zta ($ZENTALK_ASSETS_DIR) when installed,
 * else none (said in the output). Figures only: nothing is asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_replies.h"
#include "zentalk/zt_summarize.h"
#include "zentalk/zt_time.h"

static const char *const lines[] = {
    "Hi everyone, quick sync about the launch?",
    "Sure, I'm here.",
    "Morning! What's the status of the payment review?",
    "The payment review should finish on Wednesday.",
    "Great. Then the launch could be Thursday.",
    "Thursday works for marketing if the screenshots are ready.",
    "Who is updating the screenshots?",
    "I'll update them by Tuesday.",
    "Thanks! Can you also send the copy to legal?",
    "Yes, I'll send it today.",
    "Do we have the budget approved for the ads?",
    "Not yet, finance wants a revised forecast.",
    "That's frustrating, we sent it last week.",
    "Sorry, that was my fault, I forgot to attach the sheet.",
    "No worries. Please resend it by Friday.",
    "Will do.",
    "Are we still doing the dinner after the launch?",
    "Yes! Want to join us, Dave?",
    "I'd love to. What time?",
    "How about 7pm on Friday?",
    "Works for me.",
    "Let's go with the Italian place then.",
    "Agreed.",
    "By the way, the app keeps crashing on older phones.",
    "Which versions are affected?",
    "Android 9 and 10, as far as I can tell.",
    "Can you file a ticket with the logs?",
    "Done, it's ticket 4521.",
    "Thanks, I'll look at it tomorrow morning.",
    "Should we delay the launch because of it?",
    "I don't think so, it's a small share of users.",
    "I disagree, crashes hurt the ratings.",
    "Fair point. Let's decide on Wednesday after the review.",
    "OK, I'll put it on the agenda.",
    "TODO: check crash rate by device.",
    "I can take that one.",
    "Congrats on the new dashboard by the way, it looks great!",
    "Thank you!",
    "Is the press release final?",
    "Almost, I need one more quote.",
    "Could you ask the CEO for the quote?",
    "Sure, I'll ping her now.",
    "Meeting notes are in the shared folder.",
    "Perfect, thanks.",
    "Anything else before we wrap up?",
    "Nope, all good.",
    "Have a great evening everyone!",
    "Bye!",
    "See you tomorrow.",
    "Good night!",
};
static const char *const who[] = {"alice", "bob", "carol", "dave"};

static double now_s(void)
{
    return (double)zt_time_mono_ns() / 1e9;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 1.0;
    if (!(secs > 0)) secs = 1.0;
    char err[256];
    struct zt_intent_model *model = NULL;
    struct zt_reply_bank *bank = NULL;
    struct zt_stopwords *sw = NULL;
    if (zt_intent_model_builtin(&model, err, sizeof err) || zt_reply_bank_builtin(&bank, err, sizeof err)) {
        fprintf(stderr, "bench_replies: %s\n", err);
        return 1;
    }
    char path[1024];
    if (zt_asset_path("data", "stopwords.zta", path, sizeof path) == 0 && zt_stopwords_load(path, &sw) == 0)
        printf("stopwords: %s\n", path);
    else
        printf("stopwords: none (%s not installed: run `make data`)\n", path);
    enum { N = sizeof lines / sizeof lines[0] };
    struct zt_conv_msg m[N];
    for (size_t i = 0; i < N; i++)
        m[i] = (struct zt_conv_msg){who[i % 4], strlen(who[i % 4]), lines[i], strlen(lines[i])};
    printf("conversation: %d messages\n", N);

    unsigned long calls = 0;
    double t0 = now_s(), t;
    do {
        for (size_t i = 0; i < N; i++) {
            struct zt_intent_result r;
            if (zt_intent_detect(model, m[i].text, m[i].len, &r)) return 1;
        }
        calls++;
    } while ((t = now_s() - t0) < secs);
    printf("%-10s %10.0f messages/s\n", "intents", (double)calls * N / t);

    calls = 0;
    t0 = now_s();
    do {
        struct zt_replies_result r;
        if (zt_replies_suggest(bank, model, NULL, m, N, "alice", 5, 0.5, &r)) return 1;
        calls++;
    } while ((t = now_s() - t0) < secs);
    /* a suggestion reads only the last messages: per-thread calls are the figure */
    printf("%-10s %10.0f suggestions/s (each over the 50-message thread)\n", "replies", (double)calls / t);

    calls = 0;
    t0 = now_s();
    do {
        struct zt_summary s;
        if (zt_summarize(model, sw, m, N, 0, 0.5, &s)) return 1;
        zt_summary_deinit(&s);
        calls++;
    } while ((t = now_s() - t0) < secs);
    printf("%-10s %10.0f messages/s (%.1f summaries/s of the 50-message thread)\n", "summarize", (double)calls * N / t,
           (double)calls / t);

    zt_intent_model_free(model);
    zt_reply_bank_free(bank);
    zt_stopwords_free(sw);
    return 0;
}
