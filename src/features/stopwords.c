/* stopwords.c: stop-word lists by language (zt_stopwords.h). */
#include <stdlib.h>
#include <string.h>

#include "conv_util.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_stopwords.h"
#include "zentalk/zt_str.h"

struct zt_stopwords {
    struct {
        char code[3];
        uint64_t *h; /* sorted */
        size_t n, cap;
    } lang[ZT_STOPWORDS_MAX_LANGS];
    size_t n_lang;
    size_t en; /* index of "en", or SIZE_MAX */
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int zt_stopwords_parse(const char *text, size_t len, struct zt_stopwords **out)
{
    struct zt_stopwords *sw = zt_calloc(1, sizeof *sw);
    if (!sw) return ZT_ENOMEM;
    int rc = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        const char *a = p;
        size_t l = (size_t)(e - p);
        p = e < end ? e + 1 : end;
        if (l == 0) continue;
        if (l < 4 || a[2] != ' ' || a[0] < 'a' || a[0] > 'z' || a[1] < 'a' || a[1] > 'z' ||
            l - 3 > ZT_STOPWORDS_WORD_MAX || !zt_utf8_valid(a + 3, l - 3)) {
            rc = ZT_EPARSE;
            goto out;
        }
        size_t li = 0;
        while (li < sw->n_lang && memcmp(sw->lang[li].code, a, 2) != 0) li++;
        if (li == sw->n_lang) {
            if (sw->n_lang == ZT_STOPWORDS_MAX_LANGS) {
                rc = ZT_EPARSE;
                goto out;
            }
            memcpy(sw->lang[li].code, a, 2);
            sw->n_lang++;
        }
        uint64_t h = zt_fnv1a64(a + 3, l - 3);
        if ((rc = zt_array_push(&sw->lang[li].h, &sw->lang[li].n, &sw->lang[li].cap, &h, sizeof h, 256))) goto out;
    }
    for (size_t i = 0; i < sw->n_lang; i++) qsort(sw->lang[i].h, sw->lang[i].n, sizeof(uint64_t), cmp_u64);
    sw->en = zt_stopwords_lang_index(sw, "en");
out:
    return ZT_HAND_OUT(rc, sw, zt_stopwords_free, out);
}

ZT_ASSET_LOADER(zt_stopwords_load, struct zt_stopwords, ZT_STOPWORDS_KIND, ZT_STOPWORDS_VERSION, zt_stopwords_parse)

void zt_stopwords_free(struct zt_stopwords *sw)
{
    if (!sw) return;
    for (size_t i = 0; i < sw->n_lang; i++) zt_free(sw->lang[i].h);
    zt_free(sw);
}

size_t zt_stopwords_langs(const struct zt_stopwords *sw)
{
    return sw ? sw->n_lang : 0;
}

const char *zt_stopwords_lang(const struct zt_stopwords *sw, size_t i)
{
    return sw && i < sw->n_lang ? sw->lang[i].code : "";
}

size_t zt_stopwords_lang_index(const struct zt_stopwords *sw, const char *code)
{
    for (size_t i = 0; sw && i < sw->n_lang; i++)
        if (memcmp(sw->lang[i].code, code, 2) == 0 && code[0] && code[1] && !code[2]) return i;
    return SIZE_MAX;
}

size_t zt_stopwords_count(const struct zt_stopwords *sw)
{
    return sw && sw->en != SIZE_MAX ? sw->lang[sw->en].n : 0;
}

bool zt_stopwords_has_hash(const struct zt_stopwords *sw, size_t li, uint64_t h)
{
    if (!sw || li >= sw->n_lang) return false;
    return bsearch(&h, sw->lang[li].h, sw->lang[li].n, sizeof h, cmp_u64) != NULL;
}

bool zt_stopwords_has_lang(const struct zt_stopwords *sw, size_t li, const char *word, size_t len)
{
    return zt_stopwords_has_hash(sw, li, zt_fnv1a64(word, len));
}

bool zt_stopwords_has(const struct zt_stopwords *sw, const char *word, size_t len)
{
    return sw && zt_stopwords_has_lang(sw, sw->en, word, len);
}
