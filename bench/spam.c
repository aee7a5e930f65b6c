/* bench/spam.c: messages per second on one core for spam classification
 * (the installed data/assets/spam.zta) and entity extraction, over the
 * chat-style messages of tests/data/spam_chat.tsv.
 *
 *   bench_spam [seconds per figure]     (default 2)
 *
 * Run from the source tree (or set ZT_SOURCE_DIR and ZENTALK_ASSETS_DIR).
 * Figures only: nothing is asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_entities.h"
#include "zentalk/zt_spam.h"
#include "zentalk/zt_time.h"

#define MAX_MSGS 256

static char *msgs[MAX_MSGS];
static size_t lens[MAX_MSGS], n_msgs, total_bytes;

static int load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    while (n_msgs < MAX_MSGS && fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab) continue;
        tab++;
        tab[strcspn(tab, "\n")] = '\0';
        msgs[n_msgs] = zt_strdup(tab);
        lens[n_msgs] = strlen(tab);
        total_bytes += lens[n_msgs];
        n_msgs++;
    }
    fclose(f);
    return n_msgs ? 0 : -1;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    if (!(secs > 0)) secs = 2.0;
    const char *src = getenv("ZT_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/spam_chat.tsv", src ? src : ".");
    if (load(path) != 0) {
        fprintf(stderr, "bench_spam: cannot read %s (run from the source tree or set ZT_SOURCE_DIR)\n", path);
        return 1;
    }
    printf("%zu messages, %.0f bytes on average\n", n_msgs, (double)total_bytes / (double)n_msgs);
    struct zt_spam_model *m = NULL;
    if (zt_asset_path("data", "spam.zta", path, sizeof path) != 0 || zt_spam_load(path, &m) != 0) {
        printf("spam       skipped: %s not installed (run `make data`)\n", path);
    } else {
        uint64_t t0 = zt_time_mono_ns(), done = 0, spam = 0;
        while ((double)(zt_time_mono_ns() - t0) < secs * 1e9) {
            for (size_t i = 0; i < n_msgs; i++) {
                struct zt_spam_result r;
                if (zt_spam_classify(m, msgs[i], lens[i], 0.8, 5, &r) != 0) return 1;
                spam += r.spam;
            }
            done += n_msgs;
        }
        double el = (double)(zt_time_mono_ns() - t0) / 1e9;
        printf("spam       %10.0f messages/s  (%.2f us each, top 5 features; %llu flagged)\n", (double)done / el,
               el / (double)done * 1e6, (unsigned long long)spam);
        zt_spam_free(m);
    }
    struct zt_entities_ref ref = {.now = 1796117400, .utc_offset = 60};
    struct zt_entity ents[64];
    uint64_t t0 = zt_time_mono_ns(), done = 0, found = 0;
    while ((double)(zt_time_mono_ns() - t0) < secs * 1e9) {
        for (size_t i = 0; i < n_msgs; i++) {
            size_t k;
            if (zt_entities_extract(msgs[i], lens[i], &ref, ents, 64, &k) != 0) return 1;
            found += k;
        }
        done += n_msgs;
    }
    double el = (double)(zt_time_mono_ns() - t0) / 1e9;
    printf("entities   %10.0f messages/s  (%.2f us each; %.2f entities per message)\n", (double)done / el,
           el / (double)done * 1e6, (double)found / (double)done);
    for (size_t i = 0; i < n_msgs; i++) zt_free(msgs[i]);
    return 0;
}
