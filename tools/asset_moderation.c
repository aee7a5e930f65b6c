/* zt-assets moderation OUT SOURCE...: the moderation term table
 * (zt_moderation.h). Sources: LDNOOBW word lists (JSON arrays of
 * strings from the npm package naughty-words, CC-BY-4.0) and the curated
 * lists config/moderation/CATEGORY.txt. Curated lists go in first (they
 * win over LDNOOBW), in the order of cats below; an LDNOOBW term becomes
 * sexual when it touches a sexual.txt word or prefix, profanity otherwise.
 * The source hash recorded in the asset is SHA-256 over every source's
 * own SHA-256, in argument order. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_moderation.h"

static const struct {
    const char *file;
    enum zt_mod_category cat;
    double weight;
} cats[] = {
    {"hate.txt", ZT_MOD_HATE, 0.9},           {"harassment.txt", ZT_MOD_HARASSMENT, 0.9},
    {"self_harm.txt", ZT_MOD_SELF_HARM, 0.9}, {"sexual.txt", ZT_MOD_SEXUAL, 0.8},
    {"profanity.txt", ZT_MOD_PROFANITY, 0.8}, {"spam_links.txt", ZT_MOD_SPAM_LINKS, 0.8},
};
#define LDNOOBW_WEIGHT 0.8

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static size_t ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int add_list(struct zt_moderation_builder *b, const char *path, const uint8_t *data, size_t len,
                    enum zt_mod_category cat, double defw, size_t *added)
{
    const char *s = (const char *)data;
    size_t line = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && s[j] != '\n') j++;
        line++;
        size_t e = j;
        while (e > i && (s[e - 1] == '\r' || s[e - 1] == ' ')) e--;
        if (e > i && s[i] != '#') {
            double w = defw;
            const char *tab = memchr(s + i, '\t', e - i);
            size_t tl = tab ? (size_t)(tab - (s + i)) : e - i;
            if (tab) {
                char num[32];
                size_t nl = (size_t)(s + e - (tab + 1));
                char *end;
                if (nl == 0 || nl >= sizeof num) goto bad;
                memcpy(num, tab + 1, nl);
                num[nl] = '\0';
                w = strtod(num, &end);
                if (*end) goto bad;
            }
            int rc = zt_moderation_builder_add(b, cat, s + i, tl, w, NULL);
            if (rc < 0) goto bad;
            if (rc == 0) (*added)++;
        }
        i = j + 1;
        continue;
    bad:
        fprintf(stderr, "zt-assets moderation: %s:%zu: bad entry\n", path, line);
        return -1;
    }
    return 0;
}

static int add_json(struct zt_moderation_builder *b, const char *path, const uint8_t *data, size_t len,
                    size_t *added)
{
    /* the list's language from its name: "fr.json", "fr-CA-u-sd-caqc.json" -> "fr" */
    char lang[4] = {0, 0, 0, 0};
    const char *nm = base(path);
    for (size_t k = 0; k < 3 && nm[k] >= 'a' && nm[k] <= 'z'; k++) lang[k] = nm[k];
    json_error_t err;
    json_t *a = json_loadb((const char *)data, len, 0, &err);
    if (!json_is_array(a)) {
        fprintf(stderr, "zt-assets moderation: %s:%d: %s\n", path, err.line, a ? "not an array" : err.text);
        json_decref(a);
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) continue;
        const char *t = json_string_value(v);
        size_t tl = json_string_length(v);
        enum zt_mod_category c =
            zt_moderation_builder_touches(b, ZT_MOD_SEXUAL, t, tl) ? ZT_MOD_SEXUAL : ZT_MOD_PROFANITY;
        int rc = zt_moderation_builder_add(b, c, t, tl, LDNOOBW_WEIGHT, lang[0] ? lang : NULL);
        if (rc == 0) (*added)++;
        /* ZT_EINVAL: a term that normalises to nothing (punctuation only) or too long: skipped */
    }
    json_decref(a);
    return 0;
}

int zt__asset_moderation(const char *out, int argc, char **argv)
{
    struct zt_moderation_builder *b = NULL;
    uint8_t **data = NULL, *payload = NULL;
    size_t *lens = NULL, plen = 0, n_list = 0, n_ldnoobw = 0;
    struct zt_sha256_ctx h;
    uint8_t sha[32];
    int ret = 1;
    if (argc < 1) {
        fprintf(stderr, "zt-assets moderation: usage: zt-assets moderation OUT LIST.json... CATEGORY.txt...\n");
        return 1;
    }
    data = zt_calloc((size_t)argc, sizeof *data);
    lens = zt_calloc((size_t)argc, sizeof *lens);
    if (!data || !lens || zt_moderation_builder_new(&b) != 0) goto oom;
    zt_sha256_init(&h);
    for (int i = 0; i < argc; i++) {
        uint8_t one[32];
        if (zt__asset_read_source(argv[i], &data[i], &lens[i], one) != 0) {
            fprintf(stderr, "zt-assets moderation: cannot read %s\n", argv[i]);
            goto out;
        }
        zt_sha256_update(&h, one, sizeof one);
        if (!ends_with(argv[i], ".json") && !ends_with(argv[i], ".txt")) {
            fprintf(stderr, "zt-assets moderation: %s: want .json (LDNOOBW) or CATEGORY.txt\n", argv[i]);
            goto out;
        }
    }
    zt_sha256_final(&h, sha);
    for (size_t c = 0; c < sizeof cats / sizeof cats[0]; c++)
        for (int i = 0; i < argc; i++)
            if (strcmp(base(argv[i]), cats[c].file) == 0 &&
                add_list(b, argv[i], data[i], lens[i], cats[c].cat, cats[c].weight, &n_list) != 0)
                goto out;
    /* English first: a term several lists share is then English (full weight everywhere) */
    for (int i = 0; i < argc; i++)
        if (strcmp(base(argv[i]), "en.json") == 0 && add_json(b, argv[i], data[i], lens[i], &n_ldnoobw) != 0)
            goto out;
    for (int i = 0; i < argc; i++) {
        if (ends_with(argv[i], ".json")) {
            if (strcmp(base(argv[i]), "en.json") != 0 && add_json(b, argv[i], data[i], lens[i], &n_ldnoobw) != 0)
                goto out;
            continue;
        }
        bool known = false;
        for (size_t c = 0; c < sizeof cats / sizeof cats[0]; c++) known |= strcmp(base(argv[i]), cats[c].file) == 0;
        if (!known) {
            fprintf(stderr, "zt-assets moderation: %s: not a known category list\n", argv[i]);
            goto out;
        }
    }
    if (zt_moderation_builder_payload(b, &payload, &plen) != 0) goto oom;
    int rc = zt_asset_write(out, ZT_MODERATION_KIND, ZT_MODERATION_VERSION, sha, payload, plen);
    if (rc) {
        fprintf(stderr, "zt-assets moderation: writing %s: %s\n", out, zt_strerror(rc));
        goto out;
    }
    fprintf(stderr, "zt-assets moderation: %zu curated and %zu LDNOOBW terms\n", n_list, n_ldnoobw);
    ret = 0;
    goto out;
oom:
    fprintf(stderr, "zt-assets moderation: out of memory\n");
out:
    for (int i = 0; data && i < argc; i++) zt_free(data[i]);
    zt_free(data);
    zt_free(lens);
    zt_free(payload);
    zt_moderation_builder_free(b);
    return ret;
}
