/* stopwords.c: sorted stop-word lists (zt_stopwords.h). */
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_stopwords.h"

struct zt_stopwords {
    struct zt_asset a;
    uint32_t n;
    const uint8_t *offs;
    const char *pool;
};

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char *word_at(const struct zt_stopwords *sw, size_t i, size_t *len)
{
    uint32_t a = get_u32(sw->offs + 4 * i), b = get_u32(sw->offs + 4 * (i + 1));
    *len = b - a;
    return sw->pool + a;
}

static int cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

int zt_stopwords_load(const char *path, struct zt_stopwords **out)
{
    struct zt_stopwords *sw = zt_calloc(1, sizeof *sw);
    if (!sw) return ZT_ENOMEM;
    int rc = zt_asset_load(path, ZT_STOPWORDS_KIND, ZT_STOPWORDS_VERSION, &sw->a);
    if (rc) {
        zt_free(sw);
        return rc;
    }
    rc = ZT_EPARSE;
    if (sw->a.len < 8) goto out;
    sw->n = get_u32(sw->a.data);
    if (sw->n > (1u << 20) || sw->a.len < 4 + 4 * ((size_t)sw->n + 1)) goto out;
    sw->offs = sw->a.data + 4;
    sw->pool = (const char *)(sw->offs + 4 * ((size_t)sw->n + 1));
    size_t pool_len = sw->a.len - 4 - 4 * ((size_t)sw->n + 1);
    if (get_u32(sw->offs) != 0 || get_u32(sw->offs + 4 * (size_t)sw->n) != pool_len) goto out;
    for (size_t i = 0; i < sw->n; i++)
        if (get_u32(sw->offs + 4 * (i + 1)) <= get_u32(sw->offs + 4 * i)) goto out;
    for (size_t i = 1; i < sw->n; i++) {
        size_t al, bl;
        const char *a = word_at(sw, i - 1, &al), *b = word_at(sw, i, &bl);
        if (cmp(a, al, b, bl) >= 0) goto out;
    }
    *out = sw;
    return 0;
out:
    zt_stopwords_free(sw);
    return rc;
}

void zt_stopwords_free(struct zt_stopwords *sw)
{
    if (!sw) return;
    zt_asset_deinit(&sw->a);
    zt_free(sw);
}

size_t zt_stopwords_count(const struct zt_stopwords *sw) { return sw ? sw->n : 0; }

bool zt_stopwords_has(const struct zt_stopwords *sw, const char *word, size_t len)
{
    if (!sw) return false;
    size_t lo = 0, hi = sw->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, wl;
        const char *w = word_at(sw, mid, &wl);
        int c = cmp(w, wl, word, len);
        if (c == 0) return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}
