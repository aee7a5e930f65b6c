/* moderation.c: word-list moderation (zt_moderation.h).
 *
 * Text pipeline (the same one normalises the list terms, so both sides
 * meet in one form):
 *   1. utf8proc: NFKC, case fold, strip marks (accents), drop default
 *      ignorables (zero-width joiners, soft hyphens), lump dashes/quotes.
 *   2. Chunks: runs of non-space characters. In a chunk that mixes Latin
 *      with Cyrillic or Greek letters, look-alikes become Latin ("fuсk"
 *      with a Cyrillic 'с').
 *   3. Words: runs of letters, digits, inner l33t characters and inner
 *      masks ('*'); other punctuation separates words. l33t characters map
 *      only in a word that also has a letter ("455" stays a number).
 *   4. Lookups (hash table of normalised terms, open addressing, FNV-1a):
 *      every run of 1..6 words; per word also its prefix terms, its
 *      1 -> l variant, its collapsed form when it has a run of 3+ equal
 *      letters, and masked-letter matching; per chunk the concatenation of
 *      its words ("f.u.c.k"); runs of 3+ one-letter words joined
 *      ("f u c k"); substring terms (scripts without spaces); links.
 * Nothing is matched inside a word, which is what keeps "Scunthorpe",
 * "assassin", "class" and "therapist" clean. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_endian.h"
#include "learned.h"
#include "moderation_internal.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_moderation.h"
#include "zentalk/zt_text.h"

#define F_PREFIX 0x01u
#define F_SUBSTR 0x02u
#define F_HOST 0x04u
#define F_TLD 0x08u

#define W_IPV4 0.75     /* link to a bare IPv4 address */
#define W_PUNYCODE 0.6  /* internationalised host (xn--): look-alike domains */
#define W_USERINFO 0.7  /* "http://bank.com@evil.example/" */
#define SEEN_MAX 256
#define KEY_MAX 512     /* longest normalised term, bytes */
#define ENTRY_HEAD 9    /* payload bytes before each key */
#define FOREIGN 0.75    /* weight factor of another language's LDNOOBW term */

static const char *const cat_names[ZT_MOD_N_CATEGORIES] = {"profanity",  "sexual",    "hate",
                                                            "harassment", "self_harm", "spam_links"};
static const char *const action_names[] = {"allow", "flag", "block"};

const char *zt_moderation_category_name(enum zt_mod_category c)
{
    return (unsigned)c < ZT_MOD_N_CATEGORIES ? cat_names[c] : "unknown";
}

const char *zt_moderation_action_name(enum zt_mod_action a)
{
    return (unsigned)a <= ZT_MOD_BLOCK ? action_names[a] : "unknown";
}

int zt_moderation_action_parse(const char *name, enum zt_mod_action *out)
{
    for (int i = 0; i <= ZT_MOD_BLOCK; i++)
        if (name && strcmp(name, action_names[i]) == 0) {
            *out = (enum zt_mod_action)i;
            return 0;
        }
    return ZT_EINVAL;
}

/* ---- normalisation ---------------------------------------------------------- */

static int fold(const char *text, size_t len, char **out, size_t *out_len)
{
    return zt_text_normalize(text, len, ZT_TEXT_NFKC | ZT_TEXT_CASEFOLD | ZT_TEXT_SKELETON, out, out_len);
}

static bool is_space_cp(int32_t c)
{
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return true;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

static bool is_letter_cp(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_MN && k <= UTF8PROC_CATEGORY_ME);
}

static bool is_digit_cp(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

static int32_t leet(int32_t c)
{
    switch (c) {
    case '4': case '@': return 'a';
    case '3': return 'e';
    case '1': case '!': return 'i';
    case '0': return 'o';
    case '5': case '$': return 's';
    case '7': return 't';
    default: return 0;
    }
}

/* Cyrillic and Greek letters that look like Latin ones (after case folding) */
static int32_t homoglyph(int32_t c)
{
    switch (c) {
    case 0x0430: return 'a'; case 0x0435: return 'e'; case 0x043E: return 'o';
    case 0x0440: return 'p'; case 0x0441: return 'c'; case 0x0443: return 'y';
    case 0x0445: return 'x'; case 0x0456: return 'i'; case 0x0458: return 'j';
    case 0x0455: return 's'; case 0x043A: return 'k'; case 0x043C: return 'm';
    case 0x043D: return 'h'; case 0x0442: return 't'; case 0x0432: return 'b';
    case 0x03BF: return 'o'; case 0x03B1: return 'a'; case 0x03BD: return 'v';
    case 0x03B9: return 'i'; case 0x03BA: return 'k'; case 0x03C4: return 't';
    case 0x03C1: return 'p'; case 0x03C5: return 'u'; case 0x03B5: return 'e';
    default: return 0;
    }
}

enum cls { C_LETTER, C_DIGIT, C_SYM, C_MASK, C_OTHER };

struct word {
    size_t off, len;  /* in the word buffer */
    size_t chunk;
    size_t ncp;       /* code points */
    bool masked;      /* contains '*' */
    bool one;         /* a '1' became 'i' */
    bool changed;     /* l33t or look-alike mapping applied */
    bool has_letter;
};

struct chunkv {
    size_t first, n; /* its words */
};

struct words {
    char *buf;
    size_t used, cap;
    struct word *w;
    size_t n, wcap;
    struct chunkv *c;
    size_t nc, ccap;
    int32_t *cp;
    enum cls *cl;
    size_t cpcap;
};

static void words_free(struct words *ws)
{
    zt_free(ws->buf);
    zt_free(ws->w);
    zt_free(ws->c);
    zt_free(ws->cp);
    zt_free(ws->cl);
}

static int put_cp(struct words *ws, int32_t c)
{
    if (ws->used + 4 > ws->cap) return ZT_ENOMEM; /* sized up front: cannot happen */
    ws->used += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)ws->buf + ws->used);
    return 0;
}

/* Split folded text into chunks and words (see the file comment). */
static int split_words(const char *f, size_t flen, struct words *ws)
{
    memset(ws, 0, sizeof *ws);
    ws->cap = flen * 2 + 16;
    ws->wcap = flen / 1 + 1;
    ws->ccap = flen / 1 + 1;
    ws->cpcap = flen + 1;
    ws->buf = zt_malloc(ws->cap);
    ws->w = zt_calloc(ws->wcap, sizeof *ws->w);
    ws->c = zt_calloc(ws->ccap, sizeof *ws->c);
    ws->cp = zt_calloc(ws->cpcap, sizeof *ws->cp);
    ws->cl = zt_calloc(ws->cpcap, sizeof *ws->cl);
    if (!ws->buf || !ws->w || !ws->c || !ws->cp || !ws->cl) return ZT_ENOMEM;
    size_t i = 0;
    while (i < flen) {
        /* one chunk: code points up to the next space */
        size_t n = 0;
        bool latin = false, cyrgreek = false;
        while (i < flen) {
            int32_t c;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)f + i, (utf8proc_ssize_t)(flen - i), &c);
            if (k <= 0) return ZT_EPARSE;
            if (is_space_cp(c)) {
                if (n) break;
                i += (size_t)k;
                continue;
            }
            i += (size_t)k;
            ws->cp[n++] = c;
            if (c >= 'a' && c <= 'z') latin = true;
            if ((c >= 0x370 && c <= 0x3FF) || (c >= 0x400 && c <= 0x4FF)) cyrgreek = true;
        }
        if (n == 0) break;
        bool mixed = latin && cyrgreek;
        for (size_t j = 0; j < n; j++) {
            int32_t c = ws->cp[j];
            if (mixed && homoglyph(c)) ws->cp[j] = c = homoglyph(c);
            ws->cl[j] = is_letter_cp(c) ? C_LETTER
                        : c == '*'      ? C_MASK
                        : is_digit_cp(c) ? C_DIGIT
                        : (c == '@' || c == '$' || c == '!') ? C_SYM
                                                             : C_OTHER;
        }
        /* '!' is a letter only between two word characters; '*' only inside a word */
        for (size_t j = 0; j < n; j++) {
            if (ws->cl[j] == C_SYM && ws->cp[j] == '!') {
                bool l = j > 0 && (ws->cl[j - 1] == C_LETTER || ws->cl[j - 1] == C_DIGIT);
                bool r = j + 1 < n && (ws->cl[j + 1] == C_LETTER || ws->cl[j + 1] == C_DIGIT);
                if (!(l && r)) ws->cl[j] = C_OTHER;
            }
        }
        for (size_t j = 0; j < n; j++) {
            if (ws->cl[j] != C_MASK) continue;
            size_t a = j, b = j;
            while (a > 0 && ws->cl[a - 1] == C_MASK) a--;
            while (b + 1 < n && ws->cl[b + 1] == C_MASK) b++;
            bool l = a > 0 && ws->cl[a - 1] != C_OTHER;
            bool r = b + 1 < n && ws->cl[b + 1] != C_OTHER;
            if (!(l && r))
                for (size_t q = a; q <= b; q++) ws->cl[q] = C_OTHER;
            j = b;
        }
        if (ws->nc >= ws->ccap) return ZT_ENOMEM;
        struct chunkv *cv = &ws->c[ws->nc];
        cv->first = ws->n;
        cv->n = 0;
        for (size_t j = 0; j < n;) {
            if (ws->cl[j] == C_OTHER) {
                j++;
                continue;
            }
            size_t e = j;
            bool letter = false;
            while (e < n && ws->cl[e] != C_OTHER) letter |= ws->cl[e++] == C_LETTER;
            if (ws->n >= ws->wcap) return ZT_ENOMEM;
            struct word *w = &ws->w[ws->n];
            memset(w, 0, sizeof *w);
            w->off = ws->used;
            w->chunk = ws->nc;
            w->has_letter = letter;
            w->changed = mixed;
            for (size_t q = j; q < e; q++) {
                int32_t c = ws->cp[q];
                if (letter && ws->cl[q] != C_LETTER && leet(c)) {
                    if (c == '1') w->one = true;
                    c = leet(c);
                    w->changed = true;
                }
                if (c == '*') w->masked = true;
                if (put_cp(ws, c) != 0) return ZT_ENOMEM;
                w->ncp++;
            }
            w->len = ws->used - w->off;
            ws->n++;
            cv->n++;
            j = e;
        }
        ws->nc++;
    }
    return 0;
}

/* ---- the term table ----------------------------------------------------------- */

struct term {
    uint32_t off;
    uint16_t len;
    uint8_t cat, flags;
    double w;
    uint8_t nwords;
    char lang[4]; /* the LDNOOBW list it came from ("fr"), "" for curated lists */
};

struct ckey { /* collapsed key of a one-word term */
    uint32_t off, len, term;
};

/* A table of byte-string keys: their bytes (pool) and an open-addressing
 * index over them (FNV-1a, linear probing; probe()): slot = entry index
 * + 1, 0 = empty; at least twice as many slots as entries. */
struct keytab {
    char *pool;
    uint32_t *slots;
    size_t mask;
};

struct zt_moderation {
    struct term *t;
    size_t n;
    struct keytab terms; /* the terms' keys: entry i is t[i] */
    size_t pool_len;
    struct keytab coll; /* collapsed keys of one-word terms: entry i is ck[i] */
    struct ckey *ck;
    size_t nck;
    uint32_t *substr;
    size_t n_substr;
    bool has_prefix;
    size_t max_words;
};

static bool keyeq(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && memcmp(a, b, al) == 0;
}

/* The slot of the entry keyed k (n bytes) in the term table or, collapsed,
 * the collapsed-key table; or the empty slot where it would go. */
static size_t probe(const struct zt_moderation *m, bool collapsed, const char *k, size_t n)
{
    const struct keytab *kt = collapsed ? &m->coll : &m->terms;
    size_t i = (size_t)zt_fnv1a64(k, n) & kt->mask;
    for (uint32_t s; (s = kt->slots[i]) != 0; i = (i + 1) & kt->mask) {
        size_t off = collapsed ? m->ck[s - 1].off : m->t[s - 1].off;
        size_t len = collapsed ? m->ck[s - 1].len : m->t[s - 1].len;
        if (keyeq(kt->pool + off, len, k, n)) break;
    }
    return i;
}

static const struct term *lookup(const struct zt_moderation *m, const char *k, size_t n)
{
    uint32_t s = m->terms.slots[probe(m, false, k, n)];
    return s ? &m->t[s - 1] : NULL;
}

static const struct term *lookup_collapsed(const struct zt_moderation *m, const char *k, size_t n)
{
    uint32_t s = m->coll.slots[probe(m, true, k, n)];
    return s ? &m->t[m->ck[s - 1].term] : NULL;
}

/* runs of equal bytes collapsed to one ("fuuuck" -> "fuck"); returns the
 * length and whether a run of 3+ was seen */
static size_t collapse(const char *s, size_t n, char *out, bool *run3)
{
    size_t o = 0, run = 0;
    if (run3) *run3 = false;
    for (size_t i = 0; i < n; i++) {
        if (o > 0 && out[o - 1] == s[i] && (unsigned char)s[i] < 0x80) {
            if (++run >= 2 && run3) *run3 = true;
            continue;
        }
        run = 0;
        out[o++] = s[i];
    }
    return o;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

/* Room for pool_size key bytes and an index for n keys. */
static int keytab_init(struct keytab *kt, size_t pool_size, size_t n)
{
    kt->pool = zt_malloc(pool_size);
    kt->mask = pow2_at_least(n * 2) - 1;
    kt->slots = zt_calloc(kt->mask + 1, sizeof *kt->slots);
    return kt->pool && kt->slots ? 0 : ZT_ENOMEM;
}

static void keytab_deinit(struct keytab *kt)
{
    zt_free(kt->pool);
    zt_free(kt->slots);
}

void zt_moderation_free(struct zt_moderation *m)
{
    if (!m) return;
    keytab_deinit(&m->terms);
    keytab_deinit(&m->coll);
    zt_free(m->t);
    zt_free(m->ck);
    zt_free(m->substr);
    zt_free(m);
}

size_t zt_moderation_size(const struct zt_moderation *m)
{
    return m ? m->n : 0;
}

static bool cjk_like(int32_t c)
{
    return (c >= 0x2E80 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x3040 && c <= 0x30FF) ||
           (c >= 0x0E00 && c <= 0x0E7F) || (c >= 0x20000 && c <= 0x2FFFF);
}

static bool valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        if (l <= 0) return false;
        i += (size_t)l;
    }
    return true;
}

/* payload: u32 n, then n x (u8 category, u8 flags, u16 weight in 1/1000,
 * 3 bytes language (NUL-padded ASCII), u16 key length, key bytes) */
int zt_moderation_from_payload(const void *payload, size_t len, struct zt_moderation **out)
{
    const uint8_t *p = payload;
    struct zt_moderation *m = NULL;
    int rc = ZT_EPARSE;
    if (len < 4) goto out;
    size_t n = zt_get_le32(p);
    if (n == 0 || n > (len - 4) / (ENTRY_HEAD + 1)) goto out;
    rc = ZT_ENOMEM;
    m = zt_calloc(1, sizeof *m);
    if (!m) goto out;
    m->t = zt_calloc(n, sizeof *m->t);
    m->ck = zt_calloc(n, sizeof *m->ck);
    m->substr = zt_calloc(n, sizeof *m->substr);
    if (!m->t || !m->ck || !m->substr || keytab_init(&m->terms, len, n) != 0 || keytab_init(&m->coll, len, n) != 0)
        goto out;
    size_t at = 4, cused = 0;
    rc = ZT_EPARSE;
    for (size_t i = 0; i < n; i++) {
        if (len - at < ENTRY_HEAD) goto out;
        const uint8_t *q = p + at;
        struct term *t = &m->t[i];
        t->cat = q[0];
        t->flags = q[1];
        unsigned wm = (unsigned)q[2] | (unsigned)q[3] << 8;
        for (int j = 0; j < 3; j++) {
            if (q[4 + j] && (q[4 + j] < 'a' || q[4 + j] > 'z')) goto out;
            t->lang[j] = (char)q[4 + j];
        }
        t->len = (uint16_t)((unsigned)q[7] | (unsigned)q[8] << 8);
        at += ENTRY_HEAD;
        if (t->cat >= ZT_MOD_N_CATEGORIES || wm == 0 || wm > 1000 || t->len == 0 || t->len > KEY_MAX ||
            (t->flags & ~(F_PREFIX | F_SUBSTR | F_HOST | F_TLD)) || len - at < t->len)
            goto out;
        t->w = wm / 1000.0;
        t->off = (uint32_t)m->pool_len;
        memcpy(m->terms.pool + m->pool_len, p + at, t->len);
        m->pool_len += t->len;
        at += t->len;
        const char *k = m->terms.pool + t->off;
        if (!valid_utf8(k, t->len)) goto out;
        t->nwords = 1;
        for (size_t j = 0; j < t->len; j++) t->nwords = (uint8_t)(t->nwords + (k[j] == ' '));
        if (t->nwords > ZT_MODERATION_MAX_WORDS || k[0] == ' ' || k[t->len - 1] == ' ') goto out;
        if (t->nwords > m->max_words) m->max_words = t->nwords;
        size_t s = probe(m, false, k, t->len);
        if (m->terms.slots[s]) goto out; /* duplicate key */
        m->terms.slots[s] = (uint32_t)i + 1;
        if (t->flags & F_PREFIX) m->has_prefix = true;
        if (t->flags & F_SUBSTR) m->substr[m->n_substr++] = (uint32_t)i;
        if (t->nwords == 1 && !(t->flags & (F_HOST | F_TLD | F_SUBSTR))) {
            struct ckey *c = &m->ck[m->nck];
            c->off = (uint32_t)cused;
            c->len = (uint32_t)collapse(k, t->len, m->coll.pool + cused, NULL);
            c->term = (uint32_t)i;
            size_t cs = probe(m, true, m->coll.pool + cused, c->len);
            if (!m->coll.slots[cs]) {
                cused += c->len;
                m->coll.slots[cs] = (uint32_t)++m->nck;
            }
        }
        m->n++;
    }
    if (at != len) goto out;
    *out = m;
    m = NULL;
    rc = 0;
out:
    zt_moderation_free(m);
    return rc;
}

ZT_ASSET_LOADER(zt_moderation_load, struct zt_moderation, ZT_MODERATION_KIND, ZT_MODERATION_VERSION,
                zt_moderation_from_payload)

/* ---- checking ------------------------------------------------------------------- */

struct acc {
    struct zt_moderation_result *r;
    const struct zt_moderation *m;
    const char *lang; /* the message's language, NULL when unknown */
    bool lang_unsure;
    const char *const *also;
    size_t n_also;
    double keep[ZT_MOD_N_CATEGORIES]; /* prod(1 - w) */
    const void *seen[SEEN_MAX];
    size_t n_seen;
};

/* "kill you" -> "k*** y**" */
static void mask_term(const char *k, size_t n, char *out, size_t size)
{
    size_t o = 0;
    bool first = true;
    for (size_t i = 0; i < n;) {
        int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)k + i, (utf8proc_ssize_t)(n - i), &c);
        if (l <= 0) break;
        if (c == ' ') {
            if (o + 1 >= size) break;
            out[o++] = ' ';
            first = true;
        } else if (first) {
            if (o + (size_t)l >= size) break;
            memcpy(out + o, k + i, (size_t)l);
            o += (size_t)l;
            first = false;
        } else {
            if (o + 1 >= size) break;
            out[o++] = '*';
        }
        i += (size_t)l;
    }
    out[o] = '\0';
}

static void add_match(struct acc *a, const void *id, enum zt_mod_category cat, double w, const char *shown,
                      size_t shown_len, bool mask, bool obfuscated)
{
    for (size_t i = 0; i < a->n_seen; i++)
        if (a->seen[i] == id) return;
    if (a->n_seen < SEEN_MAX) a->seen[a->n_seen++] = id;
    a->keep[cat] *= 1.0 - w;
    struct zt_moderation_result *r = a->r;
    if (r->n_matches >= ZT_MODERATION_MAX_MATCHES) {
        r->truncated = true;
        return;
    }
    struct zt_moderation_match *mm = &r->matches[r->n_matches++];
    mm->category = cat;
    mm->weight = w;
    mm->obfuscated = obfuscated;
    if (mask) {
        mask_term(shown, shown_len, mm->term, sizeof mm->term);
    } else {
        size_t l = shown_len < sizeof mm->term - 1 ? shown_len : sizeof mm->term - 1;
        memcpy(mm->term, shown, l);
        mm->term[l] = '\0';
    }
}

/* LDNOOBW terms of languages other than English count at FOREIGN of their
 * weight unless the message is known to be in that language: "bite" (fr),
 * "con" (fr) or "mama" (pt) are ordinary English words. */
static bool also_lang(const struct acc *a, const char *lang)
{
    if (!a->lang_unsure && a->lang) return false;
    for (size_t i = 0; i < a->n_also; i++)
        if (a->also[i] && strcmp(a->also[i], lang) == 0) return true;
    return false;
}

static void add_term(struct acc *a, const struct term *t, bool obfuscated)
{
    double w = t->w;
    if (t->lang[0] && strcmp(t->lang, "en") != 0 && !(a->lang && strcmp(a->lang, t->lang) == 0) &&
        !also_lang(a, t->lang))
        w *= FOREIGN;
    add_match(a, t, (enum zt_mod_category)t->cat, w, a->m->terms.pool + t->off, t->len, true, obfuscated);
}

/* Round 5 (issue 16): a message that quotes or reports abuse rather than
 * sending it ('she told me "nobody wants you here"', "the lyric is \"I'm
 * gonna kill you\"", "someone told Sam to kys, I reported it"): quotation
 * marks with a word of saying or of a work (said, wrote, lyric, film), or
 * a report to the moderators. Its harassment matches count REPORTED as much. */
#define REPORTED 0.45
/* Round 6: the learned model's harassment weight among banter markers
 * (h.friendly: "love you", 😂, ❤) or beside a game or a laugh (h.game:
 * "in ranked", "lol"): its yes alone is then under 0.7. */
#define BANTER 0.7

static bool reported_speech(const struct zt__mod_word *w, size_t n, const char *text, size_t len)
{
    static const char *const cue[] = {"said", "says", "say", "told", "tells", "wrote", "writes", "shouting",
                                      "shouted", "yelled", "screamed", "message", "lyric", "lyrics", "song", "film",
                                      "movie", "book", "villain", "tagline", "quote", "quoting", "reported",
                                      "reporting", "screenshot", "comment", "tweet", "episode", "line", "character",
                                      "sign", "poster", "chorus", "verse", "sings", "sang", "meme", "caption",
                                      "scene", "script", "posted", "commented", "dmed", "messaged", "texted",
                                      "writing", "shouts", "yells", "play", "article", "grita", "dice", "dijo", "sagt",
                                      "schreit", "dit", "crie", "diz", "zegt", "roept", "urla", "peli", "quoted",
                                      "pelicula", NULL};
    static const char *const report[] = {"reported it", "reported them", "reported him", "reported her",
                                         "reported the", "report it", "report them", "to the mods", "to the admins",
                                         "to the admin", "to the moderators", "for hr", "to hr", "screenshot it",
                                         "screenshotted", "report this", "report him", "report her", "mods banned", "admins banned",
                                         "got banned", "banned him", "banned her",
                                         /* round 6: standing by the target */
                                         "anyone who says", "whoever says", "don't listen to", "dont listen to",
                                         "nobody deserves", "no one deserves", "if anyone tells you", "if someone tells you",
                                         "if somebody says", "if anyone says", NULL};
    size_t quotes = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"') quotes++;
        /* U+201C / U+201D */
        if (c == 0xE2 && i + 2 < len && (unsigned char)text[i + 1] == 0x80 &&
            ((unsigned char)text[i + 2] == 0x9C || (unsigned char)text[i + 2] == 0x9D))
            quotes++;
    }
    for (size_t i = 0; i < n; i++) {
        if (!w[i].len) continue;
        if (quotes >= 2)
            for (size_t k = 0; cue[k]; k++)
                if (cue[k][0] == w[i].p[0] && strncmp(w[i].p, cue[k], w[i].len) == 0 && cue[k][w[i].len] == 0)
                    return true;
        char c0 = w[i].p[0];
        if (c0 != 'r' && c0 != 't' && c0 != 'f' && c0 != 's' && c0 != 'a' && c0 != 'w' && c0 != 'd' && c0 != 'n' &&
            c0 != 'i' && c0 != 'm' && c0 != 'g' && c0 != 'b')
            continue; /* the report phrases' first letters */
        for (size_t k = 0; report[k]; k++) {
            const char *p = report[k];
            if (p[0] != c0) continue;
            size_t j = i;
            while (*p && j < n) {
                const char *sp = strchr(p, ' ');
                size_t pl = sp ? (size_t)(sp - p) : strlen(p);
                if (w[j].len != pl || memcmp(w[j].p, p, pl) != 0) break;
                p += pl;
                while (*p == ' ') p++;
                j++;
            }
            if (!*p) return true;
        }
    }
    return false;
}

/* The shape rules of moderation_harass.c (insults, exclusion, incitement,
 * threats, doxxing) as harassment matches shown by their rule name. */
static int harassment_rules(struct acc *a, const struct words *ws, const char *text, size_t len,
                            const struct zt__mod_learned *learned)
{
    struct zt__mod_word stack[64];
    struct zt__mod_word *w = ws->n <= 64 ? stack : zt_malloc(ws->n * sizeof *w);
    if (!w) return ZT_ENOMEM;
    for (size_t i = 0; i < ws->n; i++) {
        w[i].p = ws->buf + ws->w[i].off;
        w[i].len = ws->w[i].len;
    }
    struct zt__mod_hits h;
    zt__mod_harass(w, ws->n, text, len, &h);
    int damp_known = 0; /* reported_speech() only for a message something flags */
    double damp = 1.0;
    struct zt_moderation_result *r = a->r;
    bool lex = false; /* a harassment term of the word list ("i'll kill you") so far */
    for (size_t i = 0; i < r->n_matches && !lex; i++) lex = r->matches[i].category == ZT_MOD_HARASSMENT;
    if (h.n || lex) {
        damp = reported_speech(w, ws->n, text, len) ? REPORTED : 1.0;
        damp_known = 1;
    }
    /* Round 6: the word list's harassment terms in quoted or reported
     * speech count REPORTED as much too ('he wrote "I know where you live"
     * to my sister, we called the police'); the category's score is
     * rebuilt from its matches (all stored: the rules' come after). */
    if (lex && damp < 1.0 && !r->truncated) {
        a->keep[ZT_MOD_HARASSMENT] = 1.0;
        for (size_t i = 0; i < r->n_matches; i++)
            if (r->matches[i].category == ZT_MOD_HARASSMENT) {
                r->matches[i].weight *= damp;
                a->keep[ZT_MOD_HARASSMENT] *= 1.0 - r->matches[i].weight;
            }
    }
    for (size_t i = 0; i < h.n; i++)
        add_match(a, h.v[i].label, ZT_MOD_HARASSMENT, h.v[i].weight * damp, h.v[i].label, strlen(h.v[i].label),
                  false, false);
    /* The learned classifier (learned.h): where it says yes, a harassment
     * match whose weight is at least the default threshold (0.7); a text
     * that names no second or third person needs a margin
     * ZT__CLF_HARASS_GATE higher ("I'm so dumb", "no one wants to go out"),
     * one that names a third person but no second one ZT__CLF_HARASS_GATE3
     * higher (round 11, when the model learned doxxing: "his name is Dan,
     * he lives on Oak Close, we met at the fair"). */
    double mz = -1.0;
    if (learned && zt__clf_margin(learned->m, text, len, &mz) == 0) {
        int person = zt__clf_person(text, len);
        mz -= (person == 2 ? 0.0 : person == 1 ? learned->gate3 : learned->gate) + learned->offset;
    } else mz = -1.0;
    if (mz >= 0) {
        if (!damp_known) damp = reported_speech(w, ws->n, text, len) ? REPORTED : 1.0;
        double wl = damp / (1.0 + exp(-(mz + ZT__MOD_LEARNED_AT)));
        /* round 6: "you absolute clown, you left your keys in the door again 😂", "wreck you in ranked" */
        /* round 12: "you're hopeless at directions, follow me", "come as you are" */
        if (h.friendly || h.game || ((h.praise || h.mild) && h.n == 0)) wl *= BANTER;
        add_match(a, "learned", ZT_MOD_HARASSMENT, wl, "learned", 7, false, false);
    }
    /* Round 6: in reported speech the matches are one quote seen several
     * ways ("go kill yourself" as a term, its tail, the incitement rule):
     * the strongest of them is the score, not their combination. */
    if (damp_known && damp < 1.0 && !r->truncated) {
        double top = 0.0;
        for (size_t i = 0; i < r->n_matches; i++)
            if (r->matches[i].category == ZT_MOD_HARASSMENT && r->matches[i].weight > top) top = r->matches[i].weight;
        a->keep[ZT_MOD_HARASSMENT] = 1.0 - top;
    }
    if (w != stack) zt_free(w);
    return 0;
}

static bool word_term(const struct term *t)
{
    return t && !(t->flags & (F_HOST | F_TLD | F_SUBSTR));
}

/* '*' in w matches one code point of a one-word term of the same length */
static const struct term *mask_match(const struct zt_moderation *m, const char *w, size_t n)
{
    size_t stars = 0, lets = 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)w[i] >= 0x80) return NULL; /* ASCII words only */
        if (w[i] == '*')
            stars++;
        else
            lets++;
    }
    if (lets < 2 || stars > lets || n < 3) return NULL;
    for (size_t i = 0; i < m->n; i++) {
        const struct term *t = &m->t[i];
        if (t->len != n || t->nwords != 1 || !word_term(t) || (t->flags & F_PREFIX)) continue;
        const char *k = m->terms.pool + t->off;
        bool ok = true;
        for (size_t j = 0; j < n && ok; j++) ok = w[j] == '*' || w[j] == k[j];
        if (ok) return t;
    }
    return NULL;
}

/* one word (or a joined variant) against the one-word forms */
/* Words that start like a prefix term and are clean: places (the
 * Scunthorpe problem: "Penistone", "Cockermouth") and ordinary words. */
static bool clean_word(const char *w, size_t n)
{
    static const char *const clean[] = {"penistone", "cockermouth", "cockburn", "cockfosters", "clitheroe",
                                        "scunthorpe", "shitterton", "lightwater", "middlesex", "sussex", "essex",
                                        "wessex", "analysis", "analyst", "analog", "analogue", "cocktail",
                                        "cockpit", "cockatoo", "cockroach", "peacock", "hancock", "shuttlecock",
                                        "dickens", "dickinson", "assassin", "bassist", "therapist", "pussywillow",
                                        "penisula", "arsenal", "arsenic", "titanic", "titan", "titanium",
                                        "sexton", "sextant", "cumbria", "cumberland", "cucumber", NULL};
    for (size_t i = 0; clean[i]; i++)
        if (strlen(clean[i]) == n && memcmp(clean[i], w, n) == 0) return true;
    return false;
}

static void check_word(struct acc *a, const char *w, size_t n, bool one, bool changed, bool masked, char *tmp)
{
    const struct zt_moderation *m = a->m;
    if (n == 0 || n > KEY_MAX) return;
    if (masked) {
        const struct term *t = mask_match(m, w, n);
        if (t) add_term(a, t, true);
        return;
    }
    const struct term *t = lookup(m, w, n);
    if (word_term(t)) {
        add_term(a, t, changed);
        return;
    }
    if (one) {
        memcpy(tmp, w, n);
        for (size_t i = 0; i < n; i++)
            if (tmp[i] == 'i') tmp[i] = 'l';
        t = lookup(m, tmp, n);
        if (word_term(t)) {
            add_term(a, t, true);
            return;
        }
    }
    bool run3;
    size_t cl = collapse(w, n, tmp, &run3);
    if (run3) {
        t = lookup_collapsed(m, tmp, cl);
        if (t) {
            add_term(a, t, true);
            return;
        }
    }
    if (m->has_prefix && !clean_word(w, n)) {
        for (size_t l = n - 1; l >= 4; l--) {
            t = lookup(m, w, l);
            if (t && (t->flags & F_PREFIX)) {
                add_term(a, t, changed);
                return;
            }
        }
    }
}

static bool ascii_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static void check_links(struct acc *a, const char *text, size_t len)
{
    const struct zt_moderation *m = a->m;
    size_t i = 0;
    while (i < len) {
        while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
        size_t s = i;
        while (i < len && !(text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
        size_t e = i;
        while (s < e && text[s] && strchr("(<\"'[", text[s])) s++;
        while (e > s && text[e - 1] && strchr(".,;:!?)>\"']", text[e - 1])) e--;
        if (e - s < 4 || e - s > 2048) continue;
        char u[2049];
        size_t n = e - s;
        for (size_t j = 0; j < n; j++) {
            char c = text[s + j];
            u[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        u[n] = '\0';
        size_t h = 0;
        bool scheme = false;
        if (strncmp(u, "http://", 7) == 0) h = 7, scheme = true;
        else if (strncmp(u, "https://", 8) == 0) h = 8, scheme = true;
        else if (strncmp(u, "www.", 4) == 0) scheme = true;
        size_t he = h;
        while (he < n && u[he] != '/' && u[he] != '?' && u[he] != '#') he++;
        /* userinfo */
        bool userinfo = false;
        for (size_t j = he; j > h; j--)
            if (u[j - 1] == '@') {
                userinfo = true;
                h = j;
                break;
            }
        size_t pe = h;
        while (pe < he && u[pe] != ':') pe++;
        const char *host = u + h;
        size_t hl = pe - h;
        bool valid = hl >= 3 && memchr(host, '.', hl) != NULL;
        for (size_t j = 0; j < hl && valid; j++) valid = ascii_host_char(host[j]);
        if (!valid || host[0] == '.' || host[hl - 1] == '.') continue;
        if (userinfo && !scheme) continue; /* an e-mail address */
        /* the host or a parent domain in the host list */
        const struct term *t = NULL;
        for (size_t j = 0; j < hl && !t; j++) {
            if (j > 0 && host[j - 1] != '.') continue;
            const struct term *c = lookup(m, host + j, hl - j);
            if (c && (c->flags & F_HOST)) t = c;
            if (!scheme) break; /* bare "bit.ly/x": the exact host only */
        }
        if (t) {
            add_match(a, t, ZT_MOD_SPAM_LINKS, t->w, host, hl, false, false);
            continue;
        }
        if (!scheme) continue;
        const char *dot = host + hl;
        while (dot > host && dot[-1] != '.') dot--;
        const struct term *tld = lookup(m, dot - 1, (size_t)(host + hl - (dot - 1)));
        if (tld && (tld->flags & F_TLD)) {
            add_match(a, tld, ZT_MOD_SPAM_LINKS, tld->w, host, hl, false, false);
            continue;
        }
        bool ipv4 = true;
        int dots = 0;
        for (size_t j = 0; j < hl; j++) {
            if (host[j] == '.') dots++;
            else if (host[j] < '0' || host[j] > '9') ipv4 = false;
        }
        static const char ip_id, puny_id, user_id;
        if (ipv4 && dots == 3) {
            add_match(a, &ip_id, ZT_MOD_SPAM_LINKS, W_IPV4, host, hl, false, false);
        } else if (strstr(host, "xn--") == host || strstr(host, ".xn--")) {
            add_match(a, &puny_id, ZT_MOD_SPAM_LINKS, W_PUNYCODE, host, hl, false, false);
        } else if (userinfo) {
            add_match(a, &user_id, ZT_MOD_SPAM_LINKS, W_USERINFO, host, hl, false, false);
        }
    }
}

static int check(const struct zt_moderation *m, const char *text, size_t len, const struct zt_moderation_policy *policy,
                 const struct zt__mod_learned *learned, struct zt_moderation_result *out)
{
    if (len > ZT_MODERATION_MAX_TEXT) return ZT_ETOOBIG;
    char *f = NULL, *key = NULL, *tmp = NULL;
    size_t flen = 0;
    struct words ws;
    memset(&ws, 0, sizeof ws);
    struct zt_moderation_result *r = zt_calloc(1, sizeof *r);
    struct acc *a = zt_calloc(1, sizeof *a);
    int rc = ZT_ENOMEM;
    if (!r || !a) goto out;
    rc = fold(text, len, &f, &flen);
    if (rc) goto out;
    rc = split_words(f, flen, &ws);
    if (rc) goto out;
    rc = ZT_ENOMEM;
    key = zt_malloc(KEY_MAX + 8);
    tmp = zt_malloc(ws.used + KEY_MAX + 8);
    if (!key || !tmp) goto out;
    a->r = r;
    a->m = m;
    a->lang = policy->lang;
    a->lang_unsure = policy->lang_unsure;
    a->also = policy->also_langs;
    a->n_also = policy->n_also_langs;
    for (int c = 0; c < ZT_MOD_N_CATEGORIES; c++) a->keep[c] = 1.0;

    for (size_t i = 0; i < ws.n; i++) {
        const struct word *w = &ws.w[i];
        check_word(a, ws.buf + w->off, w->len, w->one, w->changed, w->masked, tmp);
        /* phrases of 2..max words (no masked words) */
        if (w->masked) continue;
        size_t kl = w->len;
        if (kl > KEY_MAX) continue;
        memcpy(key, ws.buf + w->off, kl);
        bool changed = w->changed;
        for (size_t j = i + 1; j < ws.n && j - i < m->max_words; j++) {
            const struct word *x = &ws.w[j];
            if (x->masked || kl + 1 + x->len > KEY_MAX) break;
            key[kl++] = ' ';
            memcpy(key + kl, ws.buf + x->off, x->len);
            kl += x->len;
            changed |= x->changed;
            const struct term *t = lookup(m, key, kl);
            if (word_term(t)) add_term(a, t, changed);
        }
    }
    /* per chunk: its words joined ("f.u.c.k", "self-harm") */
    for (size_t c = 0; c < ws.nc; c++) {
        const struct chunkv *cv = &ws.c[c];
        if (cv->n < 2) continue;
        size_t kl = 0;
        bool ok = true, one = false;
        for (size_t j = cv->first; j < cv->first + cv->n && ok; j++) {
            const struct word *x = &ws.w[j];
            if (x->masked || kl + x->len > KEY_MAX) ok = false;
            else memcpy(key + kl, ws.buf + x->off, x->len), kl += x->len, one |= x->one;
        }
        if (ok) check_word(a, key, kl, one, true, false, tmp);
    }
    /* runs of 3+ one-letter words ("f u c k") */
    for (size_t i = 0; i < ws.n;) {
        size_t j = i;
        while (j < ws.n && ws.w[j].ncp == 1 && ws.w[j].has_letter) j++;
        if (j - i >= 3) {
            size_t kl = 0;
            for (size_t q = i; q < j && kl + 4 < KEY_MAX; q++) {
                memcpy(key + kl, ws.buf + ws.w[q].off, ws.w[q].len);
                kl += ws.w[q].len;
            }
            check_word(a, key, kl, false, true, false, tmp);
        }
        i = j > i ? j : i + 1;
    }
    /* terms of scripts written without spaces (their characters are 3 or 4 bytes) */
    bool wide = false;
    for (size_t i = 0; i < flen && !wide; i++) wide = (unsigned char)f[i] >= 0xE0;
    for (size_t s = 0; wide && s < m->n_substr; s++) {
        const struct term *t = &m->t[m->substr[s]];
        const char *k = m->terms.pool + t->off;
        for (size_t i = 0; i + t->len <= flen; i++)
            if (f[i] == k[0] && memcmp(f + i, k, t->len) == 0) {
                add_term(a, t, false);
                break;
            }
    }
    check_links(a, text, len);
    rc = harassment_rules(a, &ws, text, len, learned);
    if (rc) goto out;

    r->action = ZT_MOD_ALLOW;
    for (int c = 0; c < ZT_MOD_N_CATEGORIES; c++) {
        r->score[c] = 1.0 - a->keep[c];
        r->matched[c] = r->score[c] > 0 && r->score[c] >= policy->threshold;
        if (r->matched[c] && policy->actions[c] > r->action) r->action = policy->actions[c];
    }
    *out = *r;
    rc = 0;
out:
    words_free(&ws);
    zt_free(f);
    zt_free(key);
    zt_free(tmp);
    zt_free(r);
    zt_free(a);
    return rc;
}

int zt_moderation_check(const struct zt_moderation *m, const char *text, size_t len,
                        const struct zt_moderation_policy *policy, struct zt_moderation_result *out)
{
    const struct zt__mod_learned builtin = {.m = zt__clf_builtin(ZT__CLF_HARASS),
                                            .gate = ZT__CLF_HARASS_GATE,
                                            .gate3 = ZT__CLF_HARASS_GATE3};
    return check(m, text, len, policy, &builtin, out);
}

int zt__moderation_check_with(const struct zt_moderation *m, const char *text, size_t len,
                              const struct zt_moderation_policy *policy, const struct zt__mod_learned *learned,
                              struct zt_moderation_result *out)
{
    return check(m, text, len, policy, learned, out);
}

int zt__moderation_check_rules(const struct zt_moderation *m, const char *text, size_t len,
                               const struct zt_moderation_policy *policy, struct zt_moderation_result *out)
{
    return check(m, text, len, policy, NULL, out);
}

/* ---- builder ---------------------------------------------------------------------- */

struct bent {
    char *key;
    size_t len;
    uint8_t cat, flags;
    unsigned wm;
    char lang[4];
};

struct zt_moderation_builder {
    struct bent *e;
    size_t n, cap;
};

int zt_moderation_builder_new(struct zt_moderation_builder **out)
{
    struct zt_moderation_builder *b = zt_calloc(1, sizeof *b);
    if (!b) return ZT_ENOMEM;
    *out = b;
    return 0;
}

void zt_moderation_builder_free(struct zt_moderation_builder *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) zt_free(b->e[i].key);
    zt_free(b->e);
    zt_free(b);
}

/* the normalised key of a term: its words joined by single spaces */
static int term_key(const char *term, size_t len, char *key, size_t *klen, size_t *nwords)
{
    char *f = NULL;
    size_t flen;
    struct words ws;
    memset(&ws, 0, sizeof ws);
    int rc = fold(term, len, &f, &flen);
    if (rc) goto out;
    rc = split_words(f, flen, &ws);
    if (rc) goto out;
    rc = ZT_EINVAL;
    if (ws.n == 0 || ws.n > ZT_MODERATION_MAX_WORDS) goto out;
    size_t kl = 0;
    for (size_t i = 0; i < ws.n; i++) {
        if (ws.w[i].masked || kl + ws.w[i].len + 1 > KEY_MAX) goto out;
        if (i) key[kl++] = ' ';
        memcpy(key + kl, ws.buf + ws.w[i].off, ws.w[i].len);
        kl += ws.w[i].len;
    }
    *klen = kl;
    *nwords = ws.n;
    rc = 0;
out:
    words_free(&ws);
    zt_free(f);
    return rc;
}

int zt_moderation_builder_add(struct zt_moderation_builder *b, enum zt_mod_category c, const char *term,
                              size_t len, double weight, const char *lang)
{
    char lg[4] = {0, 0, 0, 0};
    for (size_t i = 0; lang && lang[i]; i++) {
        if (i >= 3 || lang[i] < 'a' || lang[i] > 'z') return ZT_EINVAL;
        lg[i] = lang[i];
    }
    char key[KEY_MAX + 1];
    size_t kl = 0, nw = 0;
    uint8_t flags = 0;
    if ((unsigned)c >= ZT_MOD_N_CATEGORIES || !(weight > 0 && weight <= 1)) return ZT_EINVAL;
    while (len && (term[len - 1] == ' ' || term[len - 1] == '\t' || term[len - 1] == '\r')) len--;
    while (len && (term[0] == ' ' || term[0] == '\t')) term++, len--;
    if (len == 0 || len > KEY_MAX) return ZT_EINVAL;
    if (c == ZT_MOD_SPAM_LINKS) {
        /* a host or ".tld", lower-case ASCII */
        for (size_t i = 0; i < len; i++) {
            char ch = term[i];
            ch = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            if (!ascii_host_char(ch)) return ZT_EINVAL;
            key[i] = ch;
        }
        kl = len;
        flags = key[0] == '.' ? F_TLD : F_HOST;
        if (flags == F_HOST && !memchr(key, '.', kl)) return ZT_EINVAL;
    } else {
        bool prefix = len > 1 && term[len - 1] == '*';
        if (prefix) len--;
        int rc = term_key(term, len, key, &kl, &nw);
        if (rc) return rc;
        if (prefix) {
            if (nw != 1) return ZT_EINVAL;
            flags |= F_PREFIX;
        }
        int32_t cp;
        bool nospace = false;
        for (size_t i = 0; i < kl;) {
            utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)key + i, (utf8proc_ssize_t)(kl - i), &cp);
            if (l <= 0) return ZT_EPARSE;
            if (cjk_like(cp)) nospace = true;
            i += (size_t)l;
        }
        if (nospace) flags = (uint8_t)(flags | F_SUBSTR);
        /* a term needs a letter: LDNOOBW has "13." (zh), which would flag every 13 */
        bool letter = false;
        for (size_t i = 0; i < kl && !letter;) {
            utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)key + i, (utf8proc_ssize_t)(kl - i), &cp);
            if (l <= 0) return ZT_EPARSE;
            letter = is_letter_cp(cp);
            i += (size_t)l;
        }
        if (!letter) return ZT_EINVAL;
    }
    for (size_t i = 0; i < b->n; i++)
        if (keyeq(b->e[i].key, b->e[i].len, key, kl)) return 1;
    struct bent *grown = zt_array_grow(b->e, &b->cap, b->n + 1, sizeof *grown, 1024);
    if (!grown) return ZT_ENOMEM;
    b->e = grown;
    char *k = zt_strndup(key, kl);
    if (!k) return ZT_ENOMEM;
    unsigned wm = (unsigned)(weight * 1000 + 0.5);
    struct bent *ne = &b->e[b->n++];
    *ne = (struct bent){k, kl, (uint8_t)c, flags, wm ? wm : 1, {0, 0, 0, 0}};
    memcpy(ne->lang, lg, sizeof lg);
    return 0;
}

bool zt_moderation_builder_touches(const struct zt_moderation_builder *b, enum zt_mod_category c,
                                   const char *term, size_t len)
{
    char key[KEY_MAX + 1];
    size_t kl, nw;
    if (term_key(term, len, key, &kl, &nw) != 0) return false;
    for (size_t s = 0; s < kl;) {
        size_t e = s;
        while (e < kl && key[e] != ' ') e++;
        for (size_t i = 0; i < b->n; i++) {
            const struct bent *x = &b->e[i];
            if (x->cat != c) continue;
            if (keyeq(x->key, x->len, key + s, e - s)) return true;
            if ((x->flags & F_PREFIX) && x->len <= e - s && memcmp(x->key, key + s, x->len) == 0) return true;
        }
        s = e + 1;
    }
    return false;
}

int zt_moderation_builder_payload(const struct zt_moderation_builder *b, uint8_t **out, size_t *out_len)
{
    size_t total = 4;
    for (size_t i = 0; i < b->n; i++) total += ENTRY_HEAD + b->e[i].len;
    uint8_t *p = zt_malloc(total);
    if (!p) return ZT_ENOMEM;
    uint32_t n = (uint32_t)b->n;
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(n >> (8 * i));
    size_t at = 4;
    for (size_t i = 0; i < b->n; i++) {
        const struct bent *e = &b->e[i];
        p[at] = e->cat;
        p[at + 1] = e->flags;
        p[at + 2] = (uint8_t)e->wm;
        p[at + 3] = (uint8_t)(e->wm >> 8);
        memcpy(p + at + 4, e->lang, 3);
        p[at + 7] = (uint8_t)e->len;
        p[at + 8] = (uint8_t)(e->len >> 8);
        memcpy(p + at + ENTRY_HEAD, e->key, e->len);
        at += ENTRY_HEAD + e->len;
    }
    *out = p;
    *out_len = total;
    return 0;
}
