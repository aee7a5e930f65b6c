/* bench/lexfeatures.c: messages per second of sentiment (VADER),
 * moderation and language identification on one core.
 *
 *   bench_lexfeatures [seconds per feature]    (default 2)
 *
 * The messages are the 160 labelled chat messages of
 * tests/data/langid_short.tsv (3-15 words, 8 languages) plus a few with
 * emoji, obfuscated profanity and links, cycled; the assets come from
 * $ZENTALK_ASSETS_DIR or data/assets (`make data`). One thread; figures
 * only, nothing asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_asset.h"
#include "zentalk/zt_langid.h"
#include "zentalk/zt_moderation.h"
#include "zentalk/zt_sentiment.h"
#include "zentalk/zt_time.h"

#define MAX_MSGS 256

static char msgs[MAX_MSGS][512];
static size_t lens[MAX_MSGS], n_msgs;

static void add(const char *s)
{
    if (n_msgs >= MAX_MSGS) return;
    size_t l = strlen(s);
    if (l >= sizeof msgs[0]) l = sizeof msgs[0] - 1;
    memcpy(msgs[n_msgs], s, l);
    msgs[n_msgs][l] = '\0';
    lens[n_msgs++] = l;
}

static void load_messages(void)
{
    const char *src = getenv("ZT_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/langid_short.tsv", src ? src : ".");
    FILE *f = fopen(path, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab) continue;
        tab[1 + strcspn(tab + 1, "\n")] = '\0';
        add(tab + 1);
    }
    if (f) fclose(f);
    add("VADER is VERY SMART, handsome, and FUNNY!!! \xF0\x9F\x98\x80");
    add("f.u.c.k this, check bit.ly/abc now!!");
    add("I will kill you if you do that again");
    add("Today only kinda sux! But I'll get by, lol");
}

enum which { SENT, MOD, LANG };

static void run(enum which w, double secs, const struct zt_sentiment *s, const struct zt_moderation *m,
                struct zt_langid *l)
{
    static const char *names[] = {"sentiment", "moderation", "language"};
    struct zt_moderation_policy pol = {.threshold = 0.7, .actions = {1, 1, 2, 2, 1, 1}, .lang = NULL};
    uint64_t t0 = zt_time_mono_ns(), deadline = t0 + (uint64_t)(secs * 1e9), bytes = 0, n = 0;
    volatile double sink = 0;
    while (zt_time_mono_ns() < deadline) {
        for (size_t i = 0; i < n_msgs; i++) {
            int rc = 0;
            if (w == SENT) {
                struct zt_sentiment_result r;
                rc = zt_sentiment_score(s, msgs[i], lens[i], &r);
                sink += r.compound;
            } else if (w == MOD) {
                struct zt_moderation_result r;
                rc = zt_moderation_check(m, msgs[i], lens[i], &pol, &r);
                sink += r.score[0];
            } else {
                struct zt_langid_result r;
                rc = zt_langid_detect(l, msgs[i], lens[i], 0.5, &r);
                sink += r.confidence;
            }
            if (rc) {
                fprintf(stderr, "bench: %s failed: %s\n", names[w], zt_strerror(rc));
                return;
            }
            bytes += lens[i];
        }
        n += n_msgs;
    }
    double el = (double)(zt_time_mono_ns() - t0) / 1e9;
    printf("%-11s %10.0f messages/s  %7.2f MB/s  %6.2f us/message  (%llu messages, avg %.0f bytes)\n", names[w],
           (double)n / el, (double)bytes / el / 1e6, el * 1e6 / (double)n, (unsigned long long)n,
           (double)bytes / (double)n);
    (void)sink;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    if (!(secs > 0 && secs < 3600)) secs = 2.0;
    load_messages();
    char path[4096];
    struct zt_sentiment *s = NULL;
    struct zt_moderation *m = NULL;
    struct zt_langid *l = NULL;
    static const char *const langs[] = {
        "en", "es", "fr", "de", "it", "pt", "nl", "ca", "gl", "eu", "ru", "uk", "pl", "cs", "sk", "sl",
        "hr", "sr", "bg", "ro", "hu", "el", "tr", "sv", "da", "nb", "fi", "et", "lv", "lt", "is", "ga",
        "cy", "sq", "af", "ar", "he", "fa", "hi", "ja", "ko", "zh", "vi", "th", "id", "ms"};
    int rc;
    printf("bench_lexfeatures: %zu messages, one thread, %.1f s per feature\n", n_msgs, secs);
    if ((rc = zt_asset_path("data", ZT_SENTIMENT_ASSET, path, sizeof path)) == 0 &&
        (rc = zt_sentiment_load(path, &s)) == 0)
        run(SENT, secs, s, NULL, NULL);
    else
        printf("sentiment   skipped: %s: %s (make data)\n", path, zt_strerror(rc));
    if ((rc = zt_asset_path("data", ZT_MODERATION_ASSET, path, sizeof path)) == 0 &&
        (rc = zt_moderation_load(path, &m)) == 0)
        run(MOD, secs, NULL, m, NULL);
    else
        printf("moderation  skipped: %s: %s (make data)\n", path, zt_strerror(rc));
    if ((rc = zt_langid_new("/usr/share/libexttextcat", langs, sizeof langs / sizeof langs[0], &l, NULL)) == 0)
        run(LANG, secs, NULL, NULL, l);
    else
        printf("language    skipped: %s\n", zt_strerror(rc));
    zt_sentiment_free(s);
    zt_moderation_free(m);
    zt_langid_free(l);
    return 0;
}
