/* asset_stopwords.c: `zt-assets stopwords OUT SOURCE`: the English stop
 * words of the npm package stopwords-iso (MIT) as a sorted list
 * (zt_stopwords.h). SOURCE: the package tarball (.tgz, read through
 * `tar -xOzf`) or the extracted stopwords-iso.json ({"en":[...], ...}). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_stopwords.h"
#include "zentalk/zt_text.h"

#define MAX_SRC (4u << 20)

static int fail(const char *msg)
{
    fprintf(stderr, "zt-assets stopwords: %s\n", msg);
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

int zt__asset_stopwords(const char *out, int argc, char **argv);
int zt__asset_stopwords(const char *out, int argc, char **argv)
{
    if (argc != 1) return fail("usage: zt-assets stopwords OUT SOURCE.tgz|SOURCE.json");
    const char *src = argv[0];
    int rc = 1, piped = 0;
    char *buf = NULL, **words = NULL;
    size_t n = 0, nw = 0;
    uint8_t *payload = NULL;
    json_t *j = NULL;
    FILE *f;
    size_t sl = strlen(src);
    if (sl > 4 && strcmp(src + sl - 4, ".tgz") == 0) {
        if (strchr(src, '\'')) return fail("source path must not contain a quote");
        char cmd[4200];
        int k = snprintf(cmd, sizeof cmd, "tar -xOzf '%s' package/stopwords-iso.json", src);
        if (k < 0 || (size_t)k >= sizeof cmd) return fail("source path too long");
        f = popen(cmd, "r");
        piped = 1;
    } else {
        f = fopen(src, "rb");
    }
    if (!f) return fail("cannot open the source");
    buf = zt_malloc(MAX_SRC);
    if (!buf) goto out;
    n = fread(buf, 1, MAX_SRC, f);
    int st = piped ? pclose(f) : fclose(f);
    f = NULL;
    if (st != 0 || n == 0 || n == MAX_SRC) {
        fail("cannot read the source");
        goto out;
    }
    json_error_t err;
    j = json_loadb(buf, n, 0, &err);
    json_t *en = j ? json_object_get(j, "en") : NULL;
    if (!json_is_array(en) || json_array_size(en) == 0) {
        fail("no \"en\" list in the source");
        goto out;
    }
    words = zt_calloc(json_array_size(en), sizeof *words);
    if (!words) goto out;
    size_t i;
    json_t *v;
    json_array_foreach(en, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || !s[0]) continue;
        char *norm = NULL;
        size_t nl;
        if (zt_text_normalize(s, strlen(s), ZT_TEXT_NFKC | ZT_TEXT_CASEFOLD, &norm, &nl)) continue;
        words[nw++] = norm;
    }
    qsort(words, nw, sizeof *words, cmp_str);
    size_t u = 0, pool = 0;
    for (i = 0; i < nw; i++) {
        if (u > 0 && strcmp(words[u - 1], words[i]) == 0) {
            zt_free(words[i]);
            continue;
        }
        words[u++] = words[i];
        pool += strlen(words[i]);
    }
    nw = u;
    size_t len = 4 + 4 * (nw + 1) + pool;
    payload = zt_calloc(1, len);
    if (!payload) goto out;
    put_u32(payload, (uint32_t)nw);
    uint32_t off = 0;
    for (i = 0; i < nw; i++) {
        size_t wl = strlen(words[i]);
        put_u32(payload + 4 + 4 * i, off);
        memcpy(payload + 4 + 4 * (nw + 1) + off, words[i], wl);
        off += (uint32_t)wl;
    }
    put_u32(payload + 4 + 4 * nw, off);
    uint8_t sha[32];
    FILE *h = fopen(src, "rb");
    if (!h) goto out;
    struct zt_sha256_ctx c;
    zt_sha256_init(&c);
    uint8_t chunk[1 << 16];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, h)) > 0) zt_sha256_update(&c, chunk, got);
    fclose(h);
    zt_sha256_final(&c, sha);
    if (zt_asset_write(out, ZT_STOPWORDS_KIND, ZT_STOPWORDS_VERSION, sha, payload, len)) {
        fail("cannot write the asset");
        goto out;
    }
    printf("zt-assets stopwords: %zu English words -> %s\n", nw, out);
    rc = 0;
out:
    if (f) {
        if (piped)
            pclose(f);
        else
            fclose(f);
    }
    if (rc && !buf) fail("out of memory");
    for (i = 0; words && i < nw; i++) zt_free(words[i]);
    zt_free(words);
    zt_free(payload);
    zt_free(buf);
    json_decref(j);
    return rc;
}
