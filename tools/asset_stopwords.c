/* asset_stopwords.c: `zt-assets stopwords OUT stopwords-iso.json` builds
 * stopwords.zta (zt_summarize.h) from the stopwords-iso package (MIT): the
 * English, Spanish, French and German lists, each word NFKC case-folded,
 * single words only, sorted and deduplicated, as "LANG WORD\n" lines. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_summarize.h"
#include "zentalk/zt_text.h"

int zt__asset_stopwords(const char *out, int argc, char **argv);

static const char *const langs[] = {"en", "es", "fr", "de"};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zt__asset_stopwords(const char *out, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "zt-assets stopwords: usage: zt-assets stopwords OUT stopwords-iso.json\n");
        return 1;
    }
    int ret = 1;
    char *raw = NULL;
    json_t *j = NULL;
    char **words = NULL;
    size_t n_words = 0;
    struct zt_buf payload;
    zt_buf_init(&payload, 16u << 20);
    FILE *f = fopen(argv[0], "rb");
    if (!f) {
        fprintf(stderr, "zt-assets stopwords: cannot open %s\n", argv[0]);
        goto out;
    }
    raw = zt_malloc(8u << 20);
    size_t len = raw ? fread(raw, 1, 8u << 20, f) : 0;
    fclose(f);
    if (!raw || len == 0 || len == 8u << 20) {
        fprintf(stderr, "zt-assets stopwords: %s: empty, unreadable or too large\n", argv[0]);
        goto out;
    }
    json_error_t err;
    j = json_loadb(raw, len, 0, &err);
    if (!json_is_object(j)) {
        fprintf(stderr, "zt-assets stopwords: %s:%d:%d: %s\n", argv[0], err.line, err.column, err.text);
        goto out;
    }
    for (size_t li = 0; li < sizeof langs / sizeof langs[0]; li++) {
        json_t *arr = json_object_get(j, langs[li]);
        if (!json_is_array(arr) || json_array_size(arr) == 0) {
            fprintf(stderr, "zt-assets stopwords: %s: no list for %s\n", argv[0], langs[li]);
            goto out;
        }
        words = zt_calloc(json_array_size(arr), sizeof *words);
        if (!words) goto out;
        n_words = 0;
        size_t i;
        json_t *w;
        json_array_foreach(arr, i, w) {
            if (!json_is_string(w)) continue;
            char *norm = NULL;
            size_t nl = 0;
            if (zt_text_normalize(json_string_value(w), json_string_length(w), ZT_TEXT_NFKC | ZT_TEXT_CASEFOLD, &norm,
                                  &nl) != 0)
                continue;
            if (nl == 0 || nl > 64 || strpbrk(norm, " \t\n")) {
                zt_free(norm);
                continue;
            }
            words[n_words++] = norm;
        }
        qsort(words, n_words, sizeof *words, cmp_str);
        for (size_t k = 0; k < n_words; k++) {
            if (k && strcmp(words[k], words[k - 1]) == 0) continue;
            if (zt_buf_appendf(&payload, "%s %s\n", langs[li], words[k]) != 0) goto out;
        }
        for (size_t k = 0; k < n_words; k++) zt_free(words[k]);
        zt_free(words);
        words = NULL;
        n_words = 0;
    }
    /* the converter's output must load */
    struct zt_stopwords *sw = NULL;
    if (zt_stopwords_parse(payload.data, payload.len, &sw) != 0) {
        fprintf(stderr, "zt-assets stopwords: the list does not parse back\n");
        goto out;
    }
    zt_stopwords_free(sw);
    uint8_t h[ZT_SHA256_LEN];
    zt_sha256(h, raw, len);
    if (zt_asset_write(out, ZT_STOPWORDS_KIND, ZT_STOPWORDS_VERSION, h, payload.data, payload.len) != 0) {
        fprintf(stderr, "zt-assets stopwords: cannot write %s\n", out);
        goto out;
    }
    ret = 0;
out:
    for (size_t k = 0; k < n_words; k++) zt_free(words[k]);
    zt_free(words);
    json_decref(j);
    zt_free(raw);
    zt_buf_deinit(&payload);
    return ret;
}
