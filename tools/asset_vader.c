/* zt-assets vader OUT vader_lexicon.txt: the VADER lexicon (zt_sentiment.h)
 * from the npm package vader-sentiment (the file vader_lexicon.txt of its
 * tarball; the lexicon is MIT, the package Apache-2.0). */
#include <stdio.h>

#include "assets.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_sentiment.h"

int zt__asset_vader(const char *out, int argc, char **argv)
{
    uint8_t *src = NULL, *payload = NULL;
    size_t src_len = 0, plen = 0, bad = 0;
    uint8_t sha[32];
    int ret = 1;
    if (argc != 1) {
        fprintf(stderr, "zt-assets vader: usage: zt-assets vader OUT vader_lexicon.txt\n");
        return 1;
    }
    if (zt__asset_read_source(argv[0], &src, &src_len, sha) != 0) {
        fprintf(stderr, "zt-assets vader: cannot read %s\n", argv[0]);
        goto out;
    }
    int rc = zt_sentiment_build_payload((const char *)src, src_len, &payload, &plen, &bad);
    if (rc) {
        fprintf(stderr, "zt-assets vader: %s: line %zu: %s\n", argv[0], bad, zt_strerror(rc));
        goto out;
    }
    rc = zt_asset_write(out, ZT_SENTIMENT_KIND, ZT_SENTIMENT_VERSION, sha, payload, plen);
    if (rc) {
        fprintf(stderr, "zt-assets vader: writing %s: %s\n", out, zt_strerror(rc));
        goto out;
    }
    ret = 0;
out:
    zt_free(src);
    zt_free(payload);
    return ret;
}
