/* pseudo.c: per-job pseudonymisation mapping. See zt_pseudo.h.
 *
 * Everything derived from the values (their bytes, and the entry table
 * whose lengths and offsets describe them) is kept in sodium_malloc'd
 * blocks; growing a block copies into a new one and sodium_free()s the old,
 * which wipes it. Lookups are linear: a job holds a few dozen values. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_pseudo.h"

struct entry {
    uint32_t type;
    uint32_t index; /* 1-based, per type */
    uint32_t off;   /* into vault */
    uint32_t len;
};

struct zt_pseudo {
    const struct zt_pii_detector *d;
    struct entry *entries; /* sodium_malloc'd, cap_entries */
    size_t n_entries, cap_entries;
    unsigned char *vault;  /* sodium_malloc'd, cap_bytes */
    size_t used, cap_bytes;
    uint32_t next_index[ZT_PII_MAX_TYPES];
};

static void *secure_grow(void *old, size_t old_bytes, size_t new_bytes)
{
    void *n = sodium_malloc(new_bytes);
    if (!n) return NULL;
    if (old) {
        memcpy(n, old, old_bytes);
        sodium_free(old); /* wipes */
    }
    return n;
}

int zt_pseudo_new(const struct zt_pii_detector *d, struct zt_pseudo **out)
{
    if (sodium_init() < 0) return ZT_ECRYPTO; /* idempotent, thread-safe */
    struct zt_pseudo *p = zt_calloc(1, sizeof *p);
    if (!p) return ZT_ENOMEM;
    p->d = d;
    *out = p;
    return 0;
}

void zt_pseudo_free(struct zt_pseudo *p)
{
    if (!p) return;
    if (p->entries) sodium_free(p->entries);
    if (p->vault) sodium_free(p->vault);
    sodium_memzero(p, sizeof *p);
    zt_free(p);
}

size_t zt_pseudo_count(const struct zt_pseudo *p)
{
    return p ? p->n_entries : 0;
}

static const struct entry *find_value(const struct zt_pseudo *p, unsigned type, const char *v, size_t n)
{
    for (size_t i = 0; i < p->n_entries; i++) {
        const struct entry *e = &p->entries[i];
        if (e->type == type && e->len == n && memcmp(p->vault + e->off, v, n) == 0) return e;
    }
    return NULL;
}

static const struct entry *find_pseudonym(const struct zt_pseudo *p, unsigned type, uint32_t index)
{
    for (size_t i = 0; i < p->n_entries; i++)
        if (p->entries[i].type == type && p->entries[i].index == index) return &p->entries[i];
    return NULL;
}

static int add_value(struct zt_pseudo *p, unsigned type, const char *v, size_t n, const struct entry **out)
{
    if (type >= ZT_PII_MAX_TYPES || p->n_entries >= ZT_PSEUDO_MAX_ENTRIES || n > ZT_PSEUDO_MAX_BYTES - p->used)
        return ZT_ETOOBIG;
    if (p->n_entries == p->cap_entries) {
        size_t ncap = p->cap_entries ? p->cap_entries * 2 : 16;
        struct entry *ne = secure_grow(p->entries, p->cap_entries * sizeof *ne, ncap * sizeof *ne);
        if (!ne) return ZT_ENOMEM;
        p->entries = ne;
        p->cap_entries = ncap;
    }
    if (p->used + n > p->cap_bytes) {
        size_t ncap = p->cap_bytes ? p->cap_bytes : 1024;
        while (ncap < p->used + n) ncap *= 2;
        unsigned char *nv = secure_grow(p->vault, p->used, ncap);
        if (!nv) return ZT_ENOMEM;
        p->vault = nv;
        p->cap_bytes = ncap;
    }
    memcpy(p->vault + p->used, v, n);
    struct entry *e = &p->entries[p->n_entries++];
    e->type = type;
    e->index = ++p->next_index[type];
    e->off = (uint32_t)p->used;
    e->len = (uint32_t)n;
    p->used += n;
    *out = e;
    return 0;
}

static int append_pseudonym(const struct zt_pseudo *p, const struct entry *e, struct zt_buf *out)
{
    return zt_buf_appendf(out, "<%s_%u>", zt_pii_type_name(p->d, e->type), (unsigned)e->index);
}

int zt_pseudo_apply(struct zt_pseudo *p, const char *text, size_t len, const struct zt_pii_hits *hits,
                    struct zt_buf *out)
{
    if (!p || (len && !text) || !hits || !out) return ZT_EINVAL;
    for (size_t i = 0; i < hits->n; i++) {
        const struct zt_pii_hit *h = &hits->v[i];
        if (h->start >= h->end || h->end > len || (i && h->start < hits->v[i - 1].end) ||
            h->type >= zt_pii_type_count(p->d))
            return ZT_EINVAL;
    }
    /* for rollback */
    size_t out_len = out->len, n_entries = p->n_entries, used = p->used;
    uint32_t next_index[ZT_PII_MAX_TYPES];
    memcpy(next_index, p->next_index, sizeof next_index);
    int rc = 0;
    size_t pos = 0;
    for (size_t i = 0; i < hits->n && !rc; i++) {
        const struct zt_pii_hit *h = &hits->v[i];
        rc = zt_buf_append(out, text + pos, h->start - pos);
        if (rc) break;
        const struct entry *e = find_value(p, h->type, text + h->start, h->end - h->start);
        if (!e) rc = add_value(p, h->type, text + h->start, h->end - h->start, &e);
        if (!rc) rc = append_pseudonym(p, e, out);
        pos = h->end;
    }
    if (!rc) rc = zt_buf_append(out, text + pos, len - pos);
    if (rc) {
        out->len = out_len;
        if (out->data) out->data[out_len] = '\0';
        if (p->vault && p->used > used) sodium_memzero(p->vault + used, p->used - used);
        p->used = used;
        p->n_entries = n_entries;
        memcpy(p->next_index, next_index, sizeof next_index);
    }
    return rc;
}

/* A pseudonym at text[0..len): "<" NAME "_" DIGITS ">" with NAME of
 * A-Z 0-9 _. On success *type, *index and *plen are set. */
static bool parse_pseudonym(const struct zt_pseudo *p, const char *t, size_t len, unsigned *type,
                              uint32_t *index, size_t *plen)
{
    if (len < 4 || t[0] != '<') return false;
    size_t i = 1, last_us = 0;
    while (i < len && i < ZT_PSEUDO_PSEUDONYM_MAX && t[i] != '>') {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
        if (c == '_') last_us = i;
        i++;
    }
    if (i >= len || t[i] != '>' || last_us < 2 || last_us + 1 >= i) return false;
    uint64_t v = 0;
    for (size_t k = last_us + 1; k < i; k++) {
        if (t[k] < '0' || t[k] > '9') return false;
        v = v * 10 + (uint64_t)(t[k] - '0');
        if (v > UINT32_MAX) return false;
    }
    if (t[last_us + 1] == '0') return false;
    char name[ZT_PII_TYPE_NAME_MAX];
    size_t nl = last_us - 1;
    if (nl >= sizeof name) return false;
    memcpy(name, t + 1, nl);
    name[nl] = '\0';
    int ty = zt_pii_type_find(p->d, name);
    if (ty < 0) return false;
    *type = (unsigned)ty;
    *index = (uint32_t)v;
    *plen = i + 1;
    return true;
}

int zt_pseudo_restore(const struct zt_pseudo *p, const char *text, size_t len, struct zt_buf *out)
{
    if (!p || (len && !text) || !out) return ZT_EINVAL;
    size_t out_len = out->len, pos = 0, i = 0;
    int rc = 0;
    while (i < len && !rc) {
        const char *lt = memchr(text + i, '<', len - i);
        if (!lt) break;
        i = (size_t)(lt - text);
        unsigned type;
        uint32_t index;
        size_t plen;
        const struct entry *e = NULL;
        if (parse_pseudonym(p, text + i, len - i, &type, &index, &plen))
            e = find_pseudonym(p, type, index);
        if (!e) {
            i++;
            continue;
        }
        rc = zt_buf_append(out, text + pos, i - pos);
        if (!rc) rc = zt_buf_append(out, p->vault + e->off, e->len);
        i += plen;
        pos = i;
    }
    if (!rc) rc = zt_buf_append(out, text + pos, len - pos);
    if (rc) {
        if (out->data && out->len > out_len) sodium_memzero(out->data + out_len, out->len - out_len);
        out->len = out_len;
        if (out->data) out->data[out_len] = '\0';
    }
    return rc;
}

/* ---- streaming restore ---------------------------------------------------- */

void zt_pseudo_stream_init(struct zt_pseudo_stream *s, const struct zt_pseudo *p)
{
    memset(s, 0, sizeof *s);
    s->p = p;
}

static bool pseudo_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Where the tail that may still become a pseudonym starts in t[0..len)
 * (len when there is none). */
static size_t open_tail(const char *t, size_t len)
{
    size_t lo = len > ZT_PSEUDO_PSEUDONYM_MAX - 1 ? len - (ZT_PSEUDO_PSEUDONYM_MAX - 1) : 0;
    for (size_t i = len; i-- > lo;) {
        if (t[i] == '<') {
            for (size_t k = i + 1; k < len; k++)
                if (!pseudo_char(t[k])) return len;
            return i;
        }
        if (!pseudo_char(t[i])) return len;
    }
    return len;
}

int zt_pseudo_stream_feed(struct zt_pseudo_stream *s, const char *text, size_t len, struct zt_buf *out)
{
    if (!s || !s->p || (len && !text) || !out) return ZT_EINVAL;
    /* held || text, without copying text when nothing is held */
    char *joined = NULL;
    const char *t = text;
    size_t n = len;
    if (s->n_held) {
        if (len > SIZE_MAX - s->n_held) return ZT_ETOOBIG;
        n = s->n_held + len;
        joined = zt_malloc(n ? n : 1);
        if (!joined) return ZT_ENOMEM;
        memcpy(joined, s->held, s->n_held);
        if (len) memcpy(joined + s->n_held, text, len);
        t = joined;
    }
    size_t cut = open_tail(t, n);
    int rc = zt_pseudo_restore(s->p, t, cut, out);
    if (!rc) {
        char tail[ZT_PSEUDO_PSEUDONYM_MAX];
        memcpy(tail, t + cut, n - cut);
        sodium_memzero(s->held, sizeof s->held);
        memcpy(s->held, tail, n - cut);
        s->n_held = n - cut;
        sodium_memzero(tail, sizeof tail);
    }
    if (joined) {
        sodium_memzero(joined, n);
        zt_free(joined);
    }
    return rc;
}

int zt_pseudo_stream_end(struct zt_pseudo_stream *s, struct zt_buf *out)
{
    if (!s || !s->p || !out) return ZT_EINVAL;
    int rc = zt_pseudo_restore(s->p, s->held, s->n_held, out);
    if (!rc) zt_pseudo_stream_deinit(s);
    return rc;
}

void zt_pseudo_stream_deinit(struct zt_pseudo_stream *s)
{
    if (!s) return;
    sodium_memzero(s->held, sizeof s->held);
    s->n_held = 0;
}
