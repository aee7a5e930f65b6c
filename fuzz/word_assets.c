/* fuzz/word_assets.c: the payload parsers of the glove (zt_embed.h) and
 * stopwords (zt_stopwords.h) assets. The input is wrapped in a valid asset
 * container (zt_asset_write computes the trailing hash) so the fuzzer
 * reaches the payload checks; the first byte picks the kind. Properties:
 * a payload that loads can be used (every lookup, word and vector stays in
 * bounds: ASan checks), and nothing leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_embed.h"
#include "zentalk/zt_stopwords.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20)) return 0;
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/zt-fuzz-asset-%ld.zta", (long)getpid());
    static const uint8_t sha[32];
    bool glove = data[0] & 1;
    if (zt_asset_write(path, glove ? ZT_EMBED_KIND : ZT_STOPWORDS_KIND,
                       glove ? ZT_EMBED_VERSION : ZT_STOPWORDS_VERSION, sha, data + 1, size - 1))
        return 0;
    int64_t live = zt_alloc_live();
    if (glove) {
        struct zt_embed *e = NULL;
        if (zt_embed_load(path, &e) == 0) {
            size_t n = zt_embed_count(e), dim = zt_embed_dim(e);
            if (n == 0 || dim == 0 || dim > ZT_EMBED_MAX_DIM) abort();
            float v[ZT_EMBED_MAX_DIM];
            for (size_t i = 0; i < n && i < 64; i++) {
                size_t wl;
                const char *w = zt_embed_word(e, i, &wl);
                if (zt_embed_lookup(e, w, wl) < 0) { /* duplicates may shadow, but a word is found */
                }
                zt_embed_vector(e, i, v);
            }
            size_t found;
            if (zt_embed_text(e, "the quick brown fox", 19, v, &found) != 0) abort();
            zt_embed_free(e);
        }
    } else {
        struct zt_stopwords *sw = NULL;
        if (zt_stopwords_load(path, &sw) == 0) {
            (void)zt_stopwords_has(sw, "the", 3);
            (void)zt_stopwords_has(sw, "", 0);
            zt_stopwords_free(sw);
        }
    }
    if (zt_alloc_live() != live) abort();
    unlink(path);
    return 0;
}
