/* zt-assets: convert downloaded data sources into asset files
 * (scripts/data.sh runs it; see zt_asset.h).
 *   zt-assets NAME OUT SOURCE...   */
#include <stdio.h>
#include <string.h>

#include "assets.h"

static const struct zt_asset_tool tools[] = {
    {"vader", "vader_lexicon.txt (npm vader-sentiment)", zt__asset_vader},
    {"moderation", "naughty-words/*.json (LDNOOBW) config/moderation/*.txt", zt__asset_moderation},
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
