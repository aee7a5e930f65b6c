/* sentiment.c: VADER sentiment (zt_sentiment.h).
 *
 * A line-by-line reading of the reference (vader-sentiment 1.1.3,
 * src/vaderSentiment.js): the same tokens, the same order of the rules and
 * the same floating-point operations in the same order, so the results are
 * bit-for-bit those of the JavaScript code. Where that code has quirks they
 * are kept on purpose and marked "as the reference" (for example "But" with
 * a capital is not the contrastive "but"; Python's VADER differs there).
 *
 * Tokens: the text split at JavaScript's \s, pieces of one UTF-16 unit
 * dropped, then a piece that is a word with a leading or trailing
 * punctuation mark from PUNC_LIST ("good!!!", "'cat") becomes the word;
 * other punctuation stays ("(cat)", ":)"). Lengths are counted in UTF-16
 * units as JavaScript does (an emoji is 2). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "learned.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_sentiment.h"

#define B_INCR 0.293
#define B_DECR (-0.293)
#define C_INCR 0.733
#define N_SCALAR (-0.74)
#define ENTRY_BYTES 16u /* u32 off, u32 len, f64 valence */
#define PAYLOAD_HEAD 8u /* u32 n, u32 pool length */

struct ent {
    uint32_t off, len;
    double val;
};

struct zt_sentiment {
    size_t n;
    struct ent *e;
    char *pool;
    size_t pool_len;
};

/* ---- lexicon -------------------------------------------------------------- */

static int keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static bool lex_find(const struct zt_sentiment *s, const char *w, size_t n, double *val)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct ent *e = &s->e[mid];
        int c = keycmp(s->pool + e->off, e->len, w, n);
        if (c == 0) {
            if (val) *val = e->val;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

int zt_sentiment_from_payload(const void *payload, size_t len, struct zt_sentiment **out)
{
    const uint8_t *p = payload;
    struct zt_sentiment *s = NULL;
    int rc = ZT_EPARSE;
    if (len < PAYLOAD_HEAD) goto out;
    size_t n = zt_get_le32(p), pool_len = zt_get_le32(p + 4);
    if (n == 0 || n > (len - PAYLOAD_HEAD) / ENTRY_BYTES) goto out;
    if (pool_len != len - PAYLOAD_HEAD - n * ENTRY_BYTES) goto out;
    rc = ZT_ENOMEM;
    s = zt_calloc(1, sizeof *s);
    if (!s) goto out;
    s->e = zt_calloc(n, sizeof *s->e);
    s->pool = zt_malloc(pool_len + 1);
    if (!s->e || !s->pool) goto out;
    s->n = n;
    s->pool_len = pool_len;
    const uint8_t *pool = p + PAYLOAD_HEAD + n * ENTRY_BYTES;
    memcpy(s->pool, pool, pool_len);
    s->pool[pool_len] = '\0';
    rc = ZT_EPARSE;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = p + PAYLOAD_HEAD + i * ENTRY_BYTES;
        struct ent *e = &s->e[i];
        e->off = zt_get_le32(q);
        e->len = zt_get_le32(q + 4);
        e->val = zt_get_le_f64(q + 8);
        if (e->len == 0 || e->off > pool_len || e->len > pool_len - e->off || !isfinite(e->val))
            goto out;
        /* strictly increasing keys: binary search depends on it */
        if (i > 0 && keycmp(s->pool + s->e[i - 1].off, s->e[i - 1].len, s->pool + e->off, e->len) >= 0)
            goto out;
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    zt_sentiment_free(s);
    return rc;
}

ZT_ASSET_LOADER(zt_sentiment_load, struct zt_sentiment, ZT_SENTIMENT_KIND, ZT_SENTIMENT_VERSION,
                zt_sentiment_from_payload)

void zt_sentiment_free(struct zt_sentiment *s)
{
    if (!s) return;
    zt_free(s->e);
    zt_free(s->pool);
    zt_free(s);
}

size_t zt_sentiment_size(const struct zt_sentiment *s)
{
    return s ? s->n : 0;
}

/* ---- building the payload (zt-assets vader) ------------------------------ */

struct raw_ent {
    const char *w;
    size_t len;
    double val;
    size_t line;
};

static int raw_cmp(const void *a, const void *b)
{
    const struct raw_ent *x = a, *y = b;
    int c = keycmp(x->w, x->len, y->w, y->len);
    if (c) return c;
    return x->line < y->line ? -1 : x->line > y->line ? 1 : 0;
}

int zt_sentiment_build_payload(const char *lex, size_t len, uint8_t **out, size_t *out_len,
                               size_t *bad_line)
{
    struct raw_ent *r = NULL;
    uint8_t *buf = NULL;
    char num[64];
    size_t n = 0, cap = 0, line = 0;
    int rc = ZT_ENOMEM;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && lex[j] != '\n') j++;
        line++;
        size_t end = j > i && lex[j - 1] == '\r' ? j - 1 : j;
        if (end > i) {
            const char *tab = memchr(lex + i, '\t', end - i);
            rc = ZT_EPARSE;
            if (!tab || tab == lex + i) goto bad;
            const char *v = tab + 1;
            const char *vend = memchr(v, '\t', (size_t)(lex + end - v));
            if (!vend) vend = lex + end;
            size_t vl = (size_t)(vend - v);
            if (vl == 0 || vl >= sizeof num) goto bad;
            memcpy(num, v, vl);
            num[vl] = '\0';
            char *e;
            double d = strtod(num, &e);
            if (*e || !isfinite(d)) goto bad;
            struct raw_ent x = {lex + i, (size_t)(tab - (lex + i)), d, line};
            if ((rc = zt_array_push(&r, &n, &cap, &x, sizeof x, 8192))) goto out;
        }
        i = j + 1;
    }
    rc = ZT_EPARSE;
    if (n == 0) goto bad;
    qsort(r, n, sizeof *r, raw_cmp);
    /* a repeated token keeps its last value, as the reference's object literal does */
    size_t m = 0, pool = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && keycmp(r[m - 1].w, r[m - 1].len, r[i].w, r[i].len) == 0)
            r[m - 1] = r[i];
        else
            r[m++] = r[i];
    }
    for (size_t i = 0; i < m; i++) pool += r[i].len;
    rc = ZT_ETOOBIG;
    if (pool > UINT32_MAX / 2 || m > UINT32_MAX / ENTRY_BYTES) goto out;
    size_t total = PAYLOAD_HEAD + m * ENTRY_BYTES + pool;
    rc = ZT_ENOMEM;
    buf = zt_malloc(total);
    if (!buf) goto out;
    zt_put_le32(buf, (uint32_t)m);
    zt_put_le32(buf + 4, (uint32_t)pool);
    size_t off = 0;
    uint8_t *pp = buf + PAYLOAD_HEAD + m * ENTRY_BYTES;
    for (size_t i = 0; i < m; i++) {
        uint8_t *q = buf + PAYLOAD_HEAD + i * ENTRY_BYTES;
        zt_put_le32(q, (uint32_t)off);
        zt_put_le32(q + 4, (uint32_t)r[i].len);
        zt_put_le_f64(q + 8, r[i].val);
        memcpy(pp + off, r[i].w, r[i].len);
        off += r[i].len;
    }
    *out = buf;
    *out_len = total;
    buf = NULL;
    rc = 0;
    goto out;
bad:
    if (bad_line) *bad_line = line;
out:
    zt_free(r);
    zt_free(buf);
    return rc;
}

/* ---- emoji ---------------------------------------------------------------- */

/* The reference scores no emoji. Each emoji below becomes the lexicon
 * entry beside it (surrounded by spaces) before scoring, so an emoji counts
 * exactly as the emoticon or word would. Table documented in
 * docs/features/sentiment.md. */
struct emoji_read {
    int32_t cp; /* each table sorted by it */
    const char *as;
};

static const struct emoji_read emoji_map[] = {
    {0x2639, ":("},      {0x263A, ":)"},       {0x2764, "<3"},        {0x1F389, "celebrate"},
    {0x1F44D, "good"},   {0x1F44E, "bad"},     {0x1F44F, "applause"}, {0x1F494, "</3"},
    {0x1F495, "<3"},     {0x1F496, "<3"},      {0x1F497, "<3"},       {0x1F499, "<3"},
    {0x1F49A, "<3"},     {0x1F49B, "<3"},      {0x1F49C, "<3"},       {0x1F4A9, "crap"},
    {0x1F600, ":D"},     {0x1F601, ":D"},      {0x1F602, "lol"},      {0x1F603, ":D"},
    {0x1F604, ":D"},     {0x1F605, "relieved"}, {0x1F606, "laugh"},   {0x1F609, ";)"},
    {0x1F60A, ":)"},     {0x1F60B, ":p"},      {0x1F60D, "love"},     {0x1F60E, "cool"},
    {0x1F612, "annoyed"}, {0x1F614, "sad"},    {0x1F618, ":*"},       {0x1F61B, ":p"},
    {0x1F61E, ":("},     {0x1F61F, "worried"}, {0x1F620, "angry"},    {0x1F621, "angry"},
    {0x1F622, ":'("},    {0x1F624, "frustrated"}, {0x1F628, "fear"},  {0x1F629, "tired"},
    {0x1F62D, "sob"},    {0x1F631, "scream"},  {0x1F641, ":("},       {0x1F642, ":)"},
    {0x1F644, "annoyed"}, {0x1F917, "hug"},    {0x1F922, "disgusted"}, {0x1F923, "lmao"},
    {0x1F929, "amazing"}, {0x1F92C, "furious"}, {0x1F92E, "disgusting"}, {0x1F970, "love"},
};

/* What map (n entries) reads cp as; NULL: not in it. */
static const char *emoji_as(const struct emoji_read *map, size_t n, int32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (map[mid].cp == cp) return map[mid].as;
        if (map[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool emoji_modifier(int32_t cp)
{
    return cp == 0xFE0F || cp == 0xFE0E || cp == 0x200D || (cp >= 0x1F3FB && cp <= 0x1F3FF);
}

/* ---- scoring -------------------------------------------------------------- */

struct tok {
    const char *p; /* original case */
    size_t len;
    const char *lo; /* lower case */
    size_t lolen;
    bool in_lex;
    double lex;
    bool upper;
};

/* JavaScript's \s */
static bool js_space(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

static bool ascii_punct(unsigned char c)
{
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}

/* UTF-16 length of valid UTF-8 */
static size_t u16len(const char *p, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c & 0xC0) != 0x80) u += c >= 0xF0 ? 2 : 1;
    }
    return u;
}

static bool eq(const char *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(p, lit, m) == 0;
}

static bool tok_is(const struct tok *t, const char *lit)
{
    return eq(t->p, t->len, lit);
}

static bool tok_lo_is(const struct tok *t, const char *lit)
{
    return eq(t->lo, t->lolen, lit);
}

static const char *const punc_list[] = {".",  "!",   "?",  ",",   ";",   ":",   "-",    "'",    "\"",
                                        "!!", "!!!", "??", "???", "?!?", "!?!", "?!?!", "!?!?"};

static bool in_punc_list(const char *p, size_t n)
{
    for (size_t i = 0; i < sizeof punc_list / sizeof punc_list[0]; i++)
        if (eq(p, n, punc_list[i])) return true;
    return false;
}

static const char *const negate_words[] = {
    "aint",    "arent",   "cannot",   "cant",     "couldnt",  "darent",   "didnt",   "doesnt",
    "ain't",   "aren't",  "can't",    "couldn't", "daren't",  "didn't",   "doesn't", "dont",
    "hadnt",   "hasnt",   "havent",   "isnt",     "mightnt",  "mustnt",   "neither", "don't",
    "hadn't",  "hasn't",  "haven't",  "isn't",    "mightn't", "mustn't",  "neednt",  "needn't",
    "never",   "none",    "nope",     "nor",      "not",      "nothing",  "nowhere", "oughtnt",
    "shant",   "shouldnt", "uhuh",    "wasnt",    "werent",   "oughtn't", "shan't",  "shouldn't",
    "uh-uh",   "wasn't",  "weren't",  "without",  "wont",     "wouldnt",  "won't",   "wouldn't",
    "rarely",  "seldom",  "despite"};

/* negated([word]) of the reference: case-sensitive */
static bool negated(const struct tok *t)
{
    for (size_t i = 0; i < sizeof negate_words / sizeof negate_words[0]; i++)
        if (tok_is(t, negate_words[i])) return true;
    for (size_t i = 0; i + 3 <= t->len; i++)
        if (memcmp(t->p + i, "n't", 3) == 0) return true;
    return false;
}

static const char *const boost_up[] = {
    "absolutely", "amazingly",  "awfully",     "completely",    "considerably", "decidedly",
    "deeply",     "effing",     "enormously",  "entirely",      "especially",   "exceptionally",
    "extremely",  "fabulously", "flipping",    "flippin",       "fricking",     "frickin",
    "frigging",   "friggin",    "fully",       "fucking",       "greatly",      "hella",
    "highly",     "hugely",     "incredibly",  "intensely",     "majorly",      "more",
    "most",       "particularly", "purely",    "quite",         "really",       "remarkably",
    "so",         "substantially", "thoroughly", "totally",     "tremendously", "uber",
    "unbelievably", "unusually", "utterly",    "very"};
static const char *const boost_down[] = {
    "almost",     "barely",   "hardly",   "kinda",   "kindof",   "kind-of", "less",    "little",
    "marginally", "occasionally", "partly", "scarcely", "slightly", "somewhat", "sorta", "sortof",
    "sort-of"};

/* BOOSTER_DICT[lower(word)] for one-word keys; 0 when absent */
static double booster(const struct tok *t, bool *found)
{
    for (size_t i = 0; i < sizeof boost_up / sizeof boost_up[0]; i++)
        if (tok_lo_is(t, boost_up[i])) return *found = true, B_INCR;
    for (size_t i = 0; i < sizeof boost_down / sizeof boost_down[0]; i++)
        if (tok_lo_is(t, boost_down[i])) return *found = true, B_DECR;
    *found = false;
    return 0.0;
}

/* BOOSTER_DICT has three two-word keys, matched case-sensitively on "a b" */
static bool booster_pair(const struct tok *a, const struct tok *b)
{
    return (tok_is(a, "just") && tok_is(b, "enough")) || (tok_is(a, "kind") && tok_is(b, "of")) ||
           (tok_is(a, "sort") && tok_is(b, "of"));
}

static const struct {
    const char *w[3];
    double val;
} idioms[] = {
    {{"the", "shit", NULL}, 3},       {{"the", "bomb", NULL}, 3},         {{"bad", "ass", NULL}, 1.5},
    {{"yeah", "right", NULL}, -2},    {{"cut", "the", "mustard"}, 2},     {{"kiss", "of", "death"}, -1.5},
    {{"hand", "to", "mouth"}, -2},
};

/* SPECIAL_CASE_IDIOMS["t[at] ... t[at+n-1]"] (case-sensitive) */
static bool idiom(const struct tok *t, size_t at, size_t n, double *val)
{
    for (size_t i = 0; i < sizeof idioms / sizeof idioms[0]; i++) {
        size_t k = idioms[i].w[2] ? 3 : 2;
        if (k != n) continue;
        bool ok = true;
        for (size_t j = 0; j < n && ok; j++) ok = tok_is(&t[at + j], idioms[i].w[j]);
        if (ok) {
            *val = idioms[i].val;
            return true;
        }
    }
    return false;
}

/* is_upper_python: no ASCII lower-case letter and at least one upper-case */
static bool is_upper(const char *p, size_t n)
{
    bool up = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 'a' && c <= 'z') return false;
        if (c >= 'A' && c <= 'Z') up = true;
    }
    return up;
}

static double scalar_inc_dec(const struct tok *t, double valence, bool cap_diff)
{
    bool found;
    double scalar = booster(t, &found);
    if (found) {
        if (valence < 0) scalar *= -1;
        if (cap_diff && t->upper) {
            if (valence > 0)
                scalar += C_INCR;
            else
                scalar -= C_INCR;
        }
    }
    return scalar;
}

static double never_check(double valence, const struct tok *t, size_t start_i, size_t i)
{
    if (start_i == 0) {
        if (negated(&t[i - 1])) valence = valence * N_SCALAR;
    }
    if (start_i == 1) {
        if (tok_is(&t[i - 2], "never") && (tok_is(&t[i - 1], "so") || tok_is(&t[i - 1], "this")))
            valence = valence * 1.5;
        else if (negated(&t[i - 2]))
            valence = valence * N_SCALAR;
    }
    if (start_i == 2) {
        /* as the reference: a "so"/"this" right before the word also counts */
        if ((tok_is(&t[i - 3], "never") && (tok_is(&t[i - 2], "so") || tok_is(&t[i - 2], "this"))) ||
            (tok_is(&t[i - 1], "so") || tok_is(&t[i - 1], "this")))
            valence = valence * 1.25;
        else if (negated(&t[i - 3]))
            valence = valence * N_SCALAR;
    }
    return valence;
}

static double idioms_check(double valence, const struct tok *t, size_t n, size_t i)
{
    double v;
    /* onezero, twoonezero, twoone, threetwoone, threetwo: the first found wins */
    if (idiom(t, i - 1, 2, &v) || idiom(t, i - 2, 3, &v) || idiom(t, i - 2, 2, &v) ||
        idiom(t, i - 3, 3, &v) || idiom(t, i - 3, 2, &v))
        valence = v;
    if (n - 1 > i && idiom(t, i, 2, &v)) valence = v;
    if (n - 1 > i + 1 && idiom(t, i, 3, &v)) valence = v;
    if (booster_pair(&t[i - 3], &t[i - 2]) || booster_pair(&t[i - 2], &t[i - 1]))
        valence = valence + B_DECR;
    return valence;
}

static double least_check(const struct zt_sentiment *s, double valence, const struct tok *t, size_t i)
{
    bool least_in_lex = lex_find(s, "least", 5, NULL);
    if (i > 1 && tok_lo_is(&t[i - 1], "least") && !least_in_lex) {
        if (!tok_lo_is(&t[i - 2], "at") && !tok_lo_is(&t[i - 2], "very")) valence = valence * N_SCALAR;
    } else if (i > 0 && tok_lo_is(&t[i - 1], "least") && !least_in_lex) {
        valence = valence * N_SCALAR;
    }
    return valence;
}

static double sentiment_valence(const struct zt_sentiment *s, const struct tok *t, size_t n, size_t i,
                                bool cap_diff)
{
    double valence = 0;
    if (!t[i].in_lex) return valence;
    valence = t[i].lex;
    if (t[i].upper && cap_diff) {
        if (valence > 0)
            valence += C_INCR;
        else
            valence -= C_INCR;
    }
    for (size_t start_i = 0; start_i < 3; start_i++) {
        if (i > start_i && !t[i - (start_i + 1)].in_lex) {
            double sc = scalar_inc_dec(&t[i - (start_i + 1)], valence, cap_diff);
            if (start_i == 1 && sc != 0)
                sc = sc * 0.95;
            else if (start_i == 2 && sc != 0)
                sc = sc * 0.9;
            valence = valence + sc;
            valence = never_check(valence, t, start_i, i);
            if (start_i == 2) valence = idioms_check(valence, t, n, i);
        }
    }
    return least_check(s, valence, t, i);
}

/* ---- chat mode (issue 16) ---------------------------------------------------- */

/* Least |sum of valences| that is not neutral: one mild word ("fine",
 * "ready") does not make small talk positive. */
#define CHAT_DEAD_BAND 0.5
#define CHAT_EVENT (-1.6)  /* a negated expectation: "didn't arrive", "won't answer" */
#define CHAT_IDIOM 2.0     /* "couldn't be happier", "can't wait" (negative idioms: -2.0) */
#define CHAT_SARCASM (-0.8) /* factor of positive valences under a sarcasm cue */

/* Words chat uses differently from the lexicon: 0 drops a word that is
 * phatic in chat ("ok", "lol", "honestly", "free" as in "when you're
 * free"); the others are slang or complaint words the lexicon lacks. */
static const struct {
    const char *w;
    double v;
} chat_lex[] = {
    {"ok", 0},          {"okay", 0},        {"k", 0},            {"kk", 0},          {"sure", 0},
    {"yes", 0},         {"yeah", 0},        {"yep", 0},          {"yup", 0},         {"lol", 0},
    {"lmao", 0},        {"lmfao", 0},       {"rofl", 0},         {"haha", 0},        {"hahaha", 0},
    {"hehe", 0},        {"honestly", 0},    {"please", 0},       {"pls", 0},         {"plz", 0},
    {"free", 0},        {"ready", 0},       {"well", 0},         {"fine", 0},        {"lowkey", 0},
    {"ngl", 0},         {"fr", 0},          {"tbh", 0},          {"x", 0},           {"xx", 0},
    {"support", 0},     {"no", 0},          {"true", 0},         {"share", 0},       {"shared", 0},      {"fyi", 0},          {"btw", 0},
    {"slaps", 2.5},     {"banger", 2.5},    {"goated", 2.5},     {"obsessed", 1.5},  {"nailed", 2.0},
    {"smoothly", 1.5},  {"worth", 1.5},     {"broke", -1.5},     {"broken", -1.8},   {"crashing", -1.8},
    {"crashes", -1.8},  {"crashed", -1.8},  {"cancelled", -1.6}, {"canceled", -1.6}, {"delayed", -1.4},
    {"delays", -1.2},   {"letdown", -2.0},  {"ruined", -2.2},    {"mid", -1.2},      {"underwhelming", -1.8},
    {"overpriced", -1.5}, {"ignored", -1.4}, {"meh", -1.2},      {"ugh", -1.5},      {"smh", -1.2},
    {"gutted", -2.2},   {"rubbish", -1.8},  {"shambles", -2.0},  {"woohoo", 2.0},    {"buzzing", 1.8},
    {"stuck", -1.0},    {"cold", -0.6},     {"rude", -2.0},      {"lush", 2.0},      {"sucks", -2.0},
    {"hate", -2.7},     {"useless", -2.0},  {"unreliable", -1.8}, {"late", -0.6},    {"refund", 0},
    {"star", 1.8},      {"sweetest", 2.5},  {"regret", -1.8},      {"genius", 2.0},    {"legend", 2.0},     {"unbearable", -2.2}, {"slow", -1.0},
    {"cracked", -1.5},  {"proposed", 1.5},  {"stressed", -1.8},  {"disaster", -2.5},
    {"yay", 2.0},       {"perfect", 2.7},   {"tired", -1.2},     {"lost", -1.3},     {"closing", -0.8},
};

/* Round 5 (issue 16): more of chat's words, sorted by bytes for a binary
 * search: English words the lexicon lacks ("ghosted", "nightmare",
 * "epic"), topics it reads as sentiment ("holiday", "party": 0), and the
 * everyday sentiment words of the other languages the features support
 * (French, German, Spanish, Italian, Portuguese, Dutch), lower-cased as
 * written. Looked up after chat_lex. */
static const struct chat_word {
    const char *w;
    double v;
} chat_lex_more[] = {
    {"adorei", 2.5}, {"adoro", 2.5}, {"adoré", 2.5}, {"affreux", -2.5}, {"anxious", -1.8}, {"asco", -2.5},
    {"awkward", -1.2}, {"baal", -2}, {"balen", -2}, {"bedankt", 1.5}, {"bella", 2}, {"bellissima", 2.8},
    {"bellissimo", 2.8}, {"bello", 2}, {"bland", -1.2}, {"blij", 2.2}, {"bonita", 2}, {"bonito", 2}, {"boos", -2},
    {"bravo", 2}, {"brutta", -2}, {"brutto", -2}, {"buenísima", 2.5}, {"buenísimo", 2.5}, {"buonissima", 2.5},
    {"buonissimo", 2.5}, {"burnt", -1}, {"cancelled", -1.6}, {"cansada", -1.2}, {"cansado", -1.2}, {"cassé", -1.6},
    {"cassée", -1.6}, {"catastrophe", -2.5}, {"chaos", -1.5}, {"chata", -1.5}, {"chato", -1.5}, {"chouette", 2},
    {"chuffed", 2.2}, {"complimenti", 2}, {"contenta", 2}, {"contente", 1.8}, {"contento", 2}, {"cosy", 1.5},
    {"cozy", 1.5}, {"damaged", -1.6}, {"danke", 1.5}, {"dankjewel", 1.5}, {"decepcionada", -2}, {"decepcionado", -2},
    {"deliciosa", 2.5}, {"delicioso", 2.5}, {"delusa", -2}, {"delusione", -2}, {"deluso", -2}, {"dented", -1.2},
    {"desastre", -2.5}, {"detesto", -2.5}, {"dommage", -1.5}, {"draining", -1.4}, {"dumped", -1.8}, {"décevant", -2},
    {"décevante", -2}, {"délicieuse", 2.5}, {"délicieux", 2.5}, {"déçu", -2}, {"déçue", -2}, {"encanta", 2.5},
    {"encantó", 2.5}, {"enfadada", -2}, {"enfadado", -2}, {"engaged", 1.5}, {"enttäuschend", -2}, {"enttäuscht", -2},
    {"epic", 2.2}, {"exceeded", 1.8}, {"exhausted", -1.8}, {"exhausting", -1.6}, {"fab", 2.2}, {"fantastica", 2.8},
    {"fantastico", 2.8}, {"fatal", -2}, {"fatigué", -1.5}, {"fatiguée", -1.5}, {"felice", 2.5}, {"felices", 2.5},
    {"felicissima", 3}, {"felicissimo", 3}, {"feliz", 2.5}, {"fever", -1.2}, {"ffs", -1.8}, {"fiasco", -2},
    {"fijn", 2}, {"fijne", 2}, {"filthy", -2.2}, {"flooded", -1.6}, {"flop", -1.8}, {"flu", -1.2}, {"freezing", -0.8},
    {"freue", 2}, {"funeral", -2}, {"furchtbar", -2.5}, {"furchtbare", -2.5}, {"galère", -1.8}, {"geil", 2},
    {"genervt", -2}, {"geniale", 2.5}, {"geweldig", 2.8}, {"geweldige", 2.8}, {"ghosted", -2}, {"glücklich", 2.5},
    {"gracias", 1.5}, {"graduated", 2}, {"grazie", 1.5}, {"guay", 2}, {"génial", 2.5}, {"hammer", 1.5},
    {"hangover", -1.5}, {"harta", -2}, {"harto", -2}, {"headache", -1.5}, {"heavenly", 2.2}, {"heerlijk", 2.5},
    {"heerlijke", 2.5}, {"heureuse", 2.5}, {"heureux", 2.5}, {"hired", 1.8}, {"holiday", 0}, {"holidays", 0},
    {"horrible", -2.5}, {"horrível", -2.5}, {"hyped", 2}, {"ill", -1.2}, {"incazzata", -2.2}, {"incazzato", -2.2},
    {"incredible", 2.5}, {"increible", 2.8}, {"increíble", 2.8}, {"incrível", 2.8}, {"injured", -1.5},
    {"insomnia", -1.5}, {"irritant", -2}, {"j'adore", 2.5}, {"jammer", -1.5}, {"kapot", -1.8}, {"kaputt", -1.8},
    {"katastrophe", -2.5}, {"klasse", 2}, {"leak", -1}, {"leaking", -1.2}, {"lecker", 2.2}, {"leider", -0.8},
    {"lekker", 2}, {"leuk", 2}, {"leuke", 2}, {"lifesaver", 2.2}, {"linda", 2.5}, {"lindo", 2.5}, {"lástima", -1.5},
    {"m'énerve", -2}, {"magnifique", 2.8}, {"mala", -2}, {"malo", -2}, {"maravilhosa", 2.8}, {"maravilhoso", 2.8},
    {"maravillosa", 2.8}, {"maravilloso", 2.8}, {"marre", -2}, {"mejores", 1.8}, {"merci", 1.5}, {"merda", -2.5},
    {"mess", -1.4}, {"mierda", -2.5}, {"migraine", -1.8}, {"missing", -1}, {"mola", 2}, {"mooi", 2}, {"mooie", 2},
    {"müde", -1.2}, {"nervig", -2}, {"nervt", -2}, {"nightmare", -2.5}, {"noisy", -1}, {"nul", -2}, {"nulle", -2},
    {"obrigada", 1.5}, {"obrigado", 1.5}, {"odeio", -2.5}, {"odio", -2.5}, {"oof", -1}, {"orribile", -2.5},
    {"ottima", 2.5}, {"ottimo", 2.5}, {"overcharged", -1.8}, {"overdue", -1}, {"parfait", 2.5}, {"parfaite", 2.5},
    {"parties", 0}, {"party", 0}, {"passed", 1.2}, {"peccato", -1.5}, {"pena", -1.5}, {"perdemos", -1.2},
    {"perdi", -1.2}, {"perfecta", 2.5}, {"perfecto", 2.5}, {"perfekt", 2.5}, {"perfetta", 2.5}, {"perfetto", 2.5},
    {"pessima", -2.8}, {"pessimo", -2.8}, {"phew", 1.2}, {"pire", -2}, {"preciosa", 2.5}, {"precioso", 2.5},
    {"pregnant", 1.5}, {"prima", 2}, {"promoted", 2}, {"promotion", 1.8}, {"pumped", 2}, {"puncture", -1.2},
    {"pésima", -2.8}, {"pésimo", -2.8}, {"péssima", -2.8}, {"péssimo", -2.8}, {"queued", -0.6}, {"raiva", -2},
    {"ramp", -2.5}, {"ravi", 2.2}, {"ravie", 2.2}, {"recommend", 1.5}, {"recommended", 1.5}, {"refused", -1.2},
    {"relieved", 1.8}, {"remboursé", 0}, {"rota", -1.6}, {"roto", -1.6}, {"saudades", 0}, {"scammed", -2.2},
    {"schade", -1.5}, {"scheisse", -2.5}, {"scheiße", -2.5}, {"schifo", -2.8}, {"schlecht", -2}, {"schlechte", -2},
    {"schlechter", -2}, {"schmutzig", -1.8}, {"schrecklich", -2.5}, {"schön", 2}, {"schöne", 2}, {"schöner", 2},
    {"shouting", -1}, {"sigh", -1}, {"slecht", -2}, {"slechte", -2}, {"smelled", -0.8}, {"smelly", -1.5},
    {"smoothly", 1.5}, {"soggy", -1.2}, {"sprained", -1.2}, {"stale", -1.2}, {"stanca", -1.2}, {"stanchissima", -1.8},
    {"stanchissimo", -1.8}, {"stanco", -1.2}, {"stoked", 2.2}, {"stolen", -2}, {"stranded", -1.8}, {"stupenda", 2.8},
    {"stupendo", 2.8}, {"sympa", 1.8}, {"tasty", 2}, {"tear", -0.8}, {"teleurgesteld", -2}, {"terribile", -2.5},
    {"toll", 2.2}, {"tolle", 2.2}, {"toller", 2.2}, {"toothache", -1.5}, {"traurig", -2}, {"triste", -2},
    {"tristes", -2}, {"twisted", -0.8}, {"unhelpful", -1.8}, {"unreal", 2}, {"verdrietig", -2}, {"verspätung", -1.2},
    {"vreselijk", -2.5}, {"waardeloos", -2.5}, {"wahnsinn", 2}, {"welcoming", 1.8}, {"woo", 1.8}, {"wooo", 1.8},
    {"wrecked", -1.8}, {"wtf", -1.5}, {"wunderbar", 2.8}, {"wunderschön", 2.8}, {"wunderschöne", 2.8},
    {"wunderschöner", 2.8}, {"yess", 2}, {"yesss", 2}, {"yikes", -1}, {"yummy", 2}, {"ärgerlich", -2}, {"énerve", -2},
    {"énervé", -2}, {"énervée", -2}, {"ótima", 2.5}, {"ótimo", 2.5},

};

static int chat_word_cmp(const void *key, const void *elem)
{
    const struct chat_word *k = key, *e = elem;
    return strcmp(k->w, e->w);
}

/* The word of a token without its trailing marks ("great," -> "great"). */
static size_t tok_word(const struct tok *t, const char **w)
{
    size_t n = t->lolen;
    while (n > 0 && ascii_punct((unsigned char)t->lo[n - 1]) && t->lo[n - 1] != '\'') n--;
    *w = t->lo;
    return n;
}

static bool word_is(const struct tok *t, const char *lit)
{
    const char *w;
    size_t n = tok_word(t, &w);
    return eq(w, n, lit);
}

static void chat_lexicon(struct tok *k, const struct tok *prev)
{
    const char *w;
    size_t n = tok_word(k, &w);
    for (size_t i = 0; i < sizeof chat_lex / sizeof chat_lex[0]; i++)
        if (eq(w, n, chat_lex[i].w)) {
            k->in_lex = chat_lex[i].v != 0;
            k->lex = chat_lex[i].v;
            return;
        }
    if (n > 0 && n < 32) {
        char key[32];
        memcpy(key, w, n);
        key[n] = 0;
        struct chat_word k0 = {key, 0};
        const struct chat_word *hit =
            bsearch(&k0, chat_lex_more, sizeof chat_lex_more / sizeof chat_lex_more[0], sizeof chat_lex_more[0],
                    chat_word_cmp);
        if (hit) {
            k->in_lex = hit->v != 0;
            k->lex = hit->v;
            return;
        }
    }
    /* "like" is a verb of liking after a subject or a negation, else filler */
    if (eq(w, n, "like") && !(prev && (word_is(prev, "i") || word_is(prev, "you") || word_is(prev, "we") ||
                                       word_is(prev, "they") || word_is(prev, "really") || negated(prev) ||
                                       word_is(prev, "would") || word_is(prev, "i'd") || word_is(prev, "do") ||
                                       word_is(prev, "she") || word_is(prev, "he") || word_is(prev, "to")))) {
        k->in_lex = false;
        k->lex = 0;
        return;
    }
    /* "that was fire", "this is fire": slang praise */
    if (eq(w, n, "fire") && prev &&
        (word_is(prev, "was") || word_is(prev, "is") || word_is(prev, "so") || word_is(prev, "straight") ||
         word_is(prev, "pure") || word_is(prev, "absolute"))) {
        k->in_lex = true;
        k->lex = 2.2;
    }
}

static const char *const chat_expect[] = {
    "arrive", "arrived", "work", "works", "worked", "working", "answer", "answered", "reply", "replied",
    "respond", "responded", "show", "showed", "load", "loads", "loaded", "fix", "fixed", "come",
    "came", "deliver", "delivered", "turn", "start", "starts", "started", "open", "opens", "charge",
    "charges", "buy", "refund", "refunded", "call", "called", "email", "emailed", "text", "texted",
    "ship", "shipped", "update", "listen", "listened", "say", "apologise", "apologize", "apologised", "apologized",
    "bother", "bothered", "turned", "pick", "picked", "last", "lasted",
    "fit", "fits", "connect", "connects", "sync", "syncs", "boot", "boots", "recommend", "return", "back",
    /* round 5: "didn't sleep", "nobody helps", and the other languages' ("no contestan", "ne marche pas") */
    "sleep", "slept", "walk", "help", "helps", "helped", "contestan", "contesta", "responde", "responden", "llega",
    "llegó", "funciona", "funcionan", "répond", "répondent", "marche", "fonctionne", "remboursé", "remboursés",
    "antworten", "antwortet", "funktioniert", "kommt", "risponde", "rispondono", "funziona", "arriva", "aiuta",
    "respondem", "chegou", "antwoorden", "werkt", "rijdt", "komt"};

static bool is_expect(const struct tok *t)
{
    const char *w;
    size_t n = tok_word(t, &w);
    for (size_t i = 0; i < sizeof chat_expect / sizeof chat_expect[0]; i++)
        if (eq(w, n, chat_expect[i])) return true;
    return false;
}

static bool chat_negator(const struct tok *t)
{
    static const char *const other[] = {"nobody", "noone", "pas", "nicht", "kein", "keine", "nadie", "nessuno",
                                        "ninguém", "niemand", "niet", "não", "nao", "non", "nunca", "jamais", NULL};
    if (negated(t) || word_is(t, "no")) return true;
    for (size_t i = 0; other[i]; i++)
        if (word_is(t, other[i])) return true;
    return false;
}

/* Does the token sequence at i spell the words of phrase (space-separated)? */
static size_t phrase_at(const struct tok *t, size_t n, size_t i, const char *phrase)
{
    size_t k = 0;
    const char *p = phrase;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t pl = sp ? (size_t)(sp - p) : strlen(p);
        if (pl == 1 && p[0] != '*') { /* "a", "i": one-unit words are not tokens */
            p += pl;
            while (*p == ' ') p++;
            continue;
        }
        if (i + k >= n) return 0;
        const char *w;
        size_t wn = tok_word(&t[i + k], &w);
        if (wn == 0) return 0;
        if (!(pl == 1 && p[0] == '*') && !(wn == pl && memcmp(w, p, pl) == 0)) return 0;
        k++;
        p += pl;
        while (*p == ' ') p++;
    }
    return k;
}

static const char *const chat_pos_idioms[] = {
    "couldn't be happier", "could not be happier", "can't complain", "cannot complain", "cant complain",
    "can't wait", "cant wait", "cannot wait", "no complaints", "can't thank you enough", "couldn't ask for",
    "no problems", "no issues", "not bad", "not too bad", "never disappoints",
    "can't go wrong", "worth it", "didn't disappoint", "did not disappoint", "can't recommend * enough",
    "crushed it", "killed it", "nailed it", "smashed it", "smashing it", "killing it", "crushing it",
    /* round 5 */
    "went well", "went really well", "went great", "turned out fine", "turned out great", "all good now",
    "like new", "over the moon", "pas mal"};
static const char *const chat_neg_idioms[] = {
    "waste of money", "waste of time", "never again", "not worth", "what a joke", "give me a break",
    "fed up", "sick of", "sick and tired", "had enough", "so done", "not happy", "could've been an email",
    "could have been an email", "let down", "rip off", "ripped off", "kinda hurt", "not impressed",
    "not a fan", "not great", "not good", "not ideal", "not okay", "not ok", "no one", "nobody came",
    "still waiting", "still broken", "never arrived", "never came", "fell apart", "went wrong",
    "why does this always", "always happens to me", "can't stand", "cannot stand", "deleted all my", "lost all my",
    "wiped all my", "not working", "stopped working", "doesn't work", "isn't working",
    /* round 5 */
    "passed away", "nothing is going right", "nothing goes right", "still no", "never called", "never replied",
    "never showed", "never answered", "ran out", "been down", "is down", "mai più", "nunca más", "plus jamais",
    "nie wieder", "nooit meer", "nunca mais", "sale mal", "pas terrible", "left early", "what a mess", "en ai marre"};
/* phrases without sentiment of their own ("not gonna lie that was bad") */
static const char *const chat_neutral_idioms[] = {"not gonna lie", "not going to lie", "no lie", "not to lie",
                                                  "no offense", "no offence", "i'm not gonna lie", "no worries",
                                                  "no problem", "sounds good", "all good", "fair enough", "ok cool"};
static const char *const chat_sarcasm_weak[] = {
    "just great", "just perfect", "just what i needed", "oh great", "oh fantastic", "oh wonderful", "oh perfect",
    "oh joy", "oh good", "love how", "love it when", "how lovely", "great just", "thanks a lot", "so much fun",
    "another monday", "my favourite", "my favorite", "exactly what i needed", "wonderful another",
    "fantastic another", "great another", "love getting", "love being", "love when", "nothing like", "just love"};
static const char *const chat_sarcasm_strong[] = {"yeah right", "said no one ever", "thanks for nothing", "as if",
                                                  "/s"};

static bool has_bytes(const char *text, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (memcmp(text + i, needle, nl) == 0) return true;
    return false;
}

/* Chat-mode corrections of the valences sent[0..n):
 *  - a negated expectation ("didn't arrive", "won't answer", "no one
 *    replied") is a complaint: CHAT_EVENT on the verb;
 *  - "no"/"nobody" before a negative word flips it ("no worries");
 *  - idioms ("couldn't be happier", "waste of money") replace their words;
 *  - sarcasm: a strong cue (eye-roll or upside-down emoji, "yeah right",
 *    "/s") or a weak one ("just great", "oh fantastic") in a message that
 *    also has something negative turns positive valences negative. */
static void chat_adjust(const struct tok *t, size_t n, double *sent, const char *text, size_t len)
{
    /* "can't believe" is surprise, not a negation of what follows */
    for (size_t i = 0; i + 1 < n; i++)
        if (phrase_at(t, n, i, "can't believe") || phrase_at(t, n, i, "cannot believe") ||
            phrase_at(t, n, i, "cant believe"))
            for (size_t j = i + 2; j < n && j <= i + 4; j++)
                if (t[j].in_lex) sent[j] = t[j].lex;
    for (size_t i = 0; i < n; i++) {
        if (!chat_negator(&t[i])) continue;
        for (size_t j = i + 1; j < n && j <= i + 3; j++) {
            if (is_expect(&t[j]) && sent[j] >= 0) { /* "nobody helps": a positive verb not done */
                sent[j] = CHAT_EVENT;
                break;
            }
            if ((word_is(&t[i], "no") || word_is(&t[i], "nobody")) && sent[j] < 0) {
                sent[j] = sent[j] * N_SCALAR;
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof chat_neutral_idioms / sizeof chat_neutral_idioms[0]; k++) {
            size_t m = phrase_at(t, n, i, chat_neutral_idioms[k]);
            for (size_t j = i; j < i + m; j++) sent[j] = 0;
        }
        /* "pretty bad": "pretty" is a booster before a word with sentiment */
        if (word_is(&t[i], "pretty") && i + 1 < n && t[i + 1].in_lex && sent[i + 1] != 0) {
            sent[i] = 0;
            sent[i + 1] *= 1.1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (int pol = 0; pol < 2; pol++) {
            const char *const *list = pol ? chat_neg_idioms : chat_pos_idioms;
            size_t ln = pol ? sizeof chat_neg_idioms / sizeof chat_neg_idioms[0]
                            : sizeof chat_pos_idioms / sizeof chat_pos_idioms[0];
            for (size_t k = 0; k < ln; k++) {
                size_t m = phrase_at(t, n, i, list[k]);
                if (!m) continue;
                for (size_t j = i; j < i + m; j++) sent[j] = 0;
                /* a negated expectation right after ("not worth it") stays neutral */
                sent[i + m - 1] = pol ? -CHAT_IDIOM : CHAT_IDIOM;
                if (i + m < n && pol == 0 && word_is(&t[i + m], "it")) sent[i + m] = 0;
                i += m - 1;
                goto next;
            }
        }
    next:;
    }
    /* "was supposed to be great": the hope did not come true */
    for (size_t i = 0; i < n; i++)
        if (phrase_at(t, n, i, "supposed to be") || phrase_at(t, n, i, "meant to be"))
            for (size_t j = i + 3; j < n && j <= i + 5; j++)
                if (sent[j] > 0) sent[j] *= CHAT_SARCASM;
    /* German and Dutch words that are English sentiment words: "das war toll", "die", "Gift" */
    size_t gd = 0;
    static const char *const gd_words[] = {"das", "ist", "ich", "und", "nicht", "der", "ein", "eine", "sehr", "mit",
                                           "wir", "het", "een", "niet", "echt", "ik", "zo", "dat", "euch", "dem", NULL};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; gd_words[k]; k++)
            if (word_is(&t[i], gd_words[k])) gd++;
    if (gd >= 2)
        for (size_t i = 0; i < n; i++)
            if (word_is(&t[i], "war") || word_is(&t[i], "die") || word_is(&t[i], "gift") || word_is(&t[i], "hell") ||
                word_is(&t[i], "bad") || word_is(&t[i], "arm"))
                sent[i] = 0;
    bool strong = has_bytes(text, len, "\xF0\x9F\x99\x84") || has_bytes(text, len, "\xF0\x9F\x99\x83");
    bool weak = false;
    for (size_t i = 0; i < n && !strong; i++)
        for (size_t k = 0; k < sizeof chat_sarcasm_strong / sizeof chat_sarcasm_strong[0]; k++)
            if (phrase_at(t, n, i, chat_sarcasm_strong[k])) strong = true;
    for (size_t i = 0; i < n && !strong && !weak; i++)
        for (size_t k = 0; k < sizeof chat_sarcasm_weak / sizeof chat_sarcasm_weak[0]; k++)
            if (phrase_at(t, n, i, chat_sarcasm_weak[k])) weak = true;
    if (!strong && weak) {
        bool neg = false;
        for (size_t i = 0; i < n; i++) neg |= sent[i] < 0;
        weak = neg;
    }
    if (strong || weak)
        for (size_t i = 0; i < n; i++)
            if (sent[i] > 0) sent[i] *= CHAT_SARCASM;
}

/* toFixed(digits) then parseFloat: round half away from zero on the
 * double's exact value (glibc's printf would round exact ties to even). */
static double to_fixed(double x, int digits)
{
    char buf[64];
    double scale = digits == 3 ? 1e3 : 1e4;
    double v = fabs(x) * scale;
    if (v - floor(v) == 0.5 && v < 1e15) {
        double r = (floor(v) + 1) / scale;
        return x < 0 ? -r : r;
    }
    snprintf(buf, sizeof buf, "%.*f", digits, x);
    return strtod(buf, NULL);
}

/* Chat mode's own reading of some emoji, looked up before emoji_map; ""
 * drops the emoji (it marks tone, not sentiment: 😅 😭 💀 🙃 😐). */
static const struct emoji_read chat_emoji_map[] = {
    {0x2705, ""},        {0x1F3C6, "win"},  {0x1F44C, "good"},     {0x1F480, ""},       {0x1F48D, "love"},
    {0x1F4AA, "strong"}, {0x1F525, "awesome"}, {0x1F602, "haha"},  {0x1F605, ""},       {0x1F610, ""},
    {0x1F611, ""},       {0x1F62C, "awkward"}, {0x1F62D, ""},      {0x1F643, ""},       {0x1F64F, "grateful"},
    {0x1F921, "stupid"}, {0x1F973, "celebrate"},
};

/* Replace the emoji of emoji_map (chat: chat_emoji_map first); the result
 * is NUL-terminated. */
static int expand_emoji(const char *text, size_t len, bool chat, char **out, size_t *out_len)
{
    if (len > SIZE_MAX / 4 - 16) return ZT_ETOOBIG;
    char *b = zt_malloc(len * 4 + 16);
    if (!b) return ZT_ENOMEM;
    size_t o = 0, i = 0;
    bool after_emoji = false;
    while (i < len) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) {
            zt_free(b);
            return ZT_EPARSE;
        }
        const char *as = NULL;
        if (chat && cp >= 0x2000) as = emoji_as(chat_emoji_map, sizeof chat_emoji_map / sizeof *chat_emoji_map, cp);
        if (!as) as = emoji_as(emoji_map, sizeof emoji_map / sizeof *emoji_map, cp);
        if (as) {
            size_t al = strlen(as);
            b[o++] = ' ';
            memcpy(b + o, as, al);
            o += al;
            b[o++] = ' ';
            after_emoji = true;
        } else if (after_emoji && emoji_modifier(cp)) {
            /* skin tones, variation selectors, joiners of a mapped emoji */
        } else {
            memcpy(b + o, text + i, (size_t)k);
            o += (size_t)k;
            after_emoji = false;
        }
        i += (size_t)k;
    }
    b[o] = '\0';
    *out = b;
    *out_len = o;
    return 0;
}

/* lower-case copy of p[0..n) into dst (room for 4n bytes); returns its length */
static size_t lower_into(const char *p, size_t n, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80) {
            dst[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            i++;
            continue;
        }
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) { /* cannot happen: the text was checked */
            dst[o++] = (char)c;
            i++;
            continue;
        }
        o += (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)dst + o);
        i += (size_t)k;
    }
    return o;
}

/* Chat mode's learned heads (round 10, learned.h): the class comes from
 * zt__sentiment_decide() over the two heads' margins and the rule-based
 * compound at weight LEARNED_W, neutral below LEARNED_NEUTRAL; both set by
 * leave-one-writer-out cross-validation on the tuning and worn sets
 * (`zt-train-clf cv . sentiment`, docs/features/learned.md "Round 10").
 * When the heads overrule the compound's class, the compound moves to
 * +-LEARNED_MOVE (0 for neutral), so zt_sentiment_label() at its usual cut
 * (0.05) reads their class; pos/neg/neu stay the rules'. */
#define LEARNED_W 4.0
#define LEARNED_NEUTRAL (-0.25)
#define LEARNED_MOVE 0.25

static void learned_class(const char *text, size_t len, struct zt_sentiment_result *r)
{
    double mp = 0, mn = 0;
    if (zt__clf_margin(zt__clf_builtin(ZT__CLF_SENT_POS), text, len, &mp) != 0 ||
        zt__clf_margin(zt__clf_builtin(ZT__CLF_SENT_NEG), text, len, &mn) != 0 || mp <= -1e8)
        return; /* no features (the empty text): the rules' answer */
    int cls = zt__sentiment_decide(mp, mn, r->compound, LEARNED_W, LEARNED_NEUTRAL);
    int had = r->compound >= 0.05 ? 0 : r->compound <= -0.05 ? 1 : 2;
    if (cls == had) return;
    r->compound = cls == 0 ? LEARNED_MOVE : cls == 1 ? -LEARNED_MOVE : 0.0;
}

static int score(const struct zt_sentiment *s, bool chat, bool learned, const char *text, size_t len,
                 struct zt_sentiment_result *out)
{
    char *w = NULL, *lo = NULL;
    struct tok *t = NULL;
    double *sent = NULL;
    size_t wl;
    int rc;
    if (len > ZT_SENTIMENT_MAX_TEXT) return ZT_ETOOBIG;
    rc = expand_emoji(text, len, chat, &w, &wl);
    if (rc) return rc;
    rc = ZT_ENOMEM;
    size_t maxt = wl / 2 + 1;
    t = zt_calloc(maxt, sizeof *t);
    lo = zt_malloc(wl * 4 + 1);
    sent = zt_calloc(maxt, sizeof *sent);
    if (!t || !lo || !sent) goto out;

    /* split at \s, keep pieces longer than one UTF-16 unit */
    size_t n = 0, lo_used = 0;
    for (size_t i = 0; i < wl;) {
        size_t start = i;
        for (;;) {
            if (i >= wl) break;
            int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)w + i, (utf8proc_ssize_t)(wl - i), &cp);
            if (k <= 0) {
                rc = ZT_EPARSE;
                goto out;
            }
            if (js_space(cp)) break;
            i += (size_t)k;
        }
        size_t end = i;
        if (i < wl) {
            int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)w + i, (utf8proc_ssize_t)(wl - i), &cp);
            i += (size_t)(k > 0 ? k : 1);
        }
        if (u16len(w + start, end - start) <= 1) continue;
        const char *p = w + start;
        size_t pl = end - start;
        /* words_plus_punc: "p+word" or "word+p" with p in PUNC_LIST and a
         * punctuation-free word longer than one unit becomes the word */
        size_t a = 0, b = 0;
        while (a < pl && ascii_punct((unsigned char)p[a])) a++;
        while (b < pl - a && ascii_punct((unsigned char)p[pl - 1 - b])) b++;
        if ((a > 0) != (b > 0)) {
            const char *core = p + a;
            size_t cl = pl - a - b;
            bool clean = cl > 0;
            for (size_t j = 0; j < cl && clean; j++) clean = !ascii_punct((unsigned char)core[j]);
            bool inlist = a > 0 ? in_punc_list(p, a) : in_punc_list(p + pl - b, b);
            if (clean && inlist && u16len(core, cl) > 1) p = core, pl = cl;
        }
        struct tok *k = &t[n++];
        k->p = p;
        k->len = pl;
        k->lo = lo + lo_used;
        k->lolen = lower_into(p, pl, lo + lo_used);
        lo_used += k->lolen;
        k->in_lex = lex_find(s, k->lo, k->lolen, &k->lex);
        k->upper = is_upper(p, pl);
        if (chat) chat_lexicon(k, n >= 2 ? &t[n - 2] : NULL);
    }

    size_t allcap = 0;
    for (size_t i = 0; i < n; i++) allcap += t[i].upper;
    bool cap_diff = n - allcap > 0 && n - allcap < n;

    for (size_t i = 0; i < n; i++) {
        bool found;
        if ((i < n - 1 && tok_lo_is(&t[i], "kind") && tok_lo_is(&t[i + 1], "of")) ||
            (booster(&t[i], &found), found)) {
            sent[i] = 0;
            continue;
        }
        sent[i] = sentiment_valence(s, t, n, i, cap_diff);
    }

    /* but_check: the first "but", else the first "BUT" (not "But", as the
     * reference; chat mode: any case, and "however") */
    size_t bi = n;
    for (size_t i = 0; i < n && bi == n; i++)
        if (tok_is(&t[i], "but")) bi = i;
    for (size_t i = 0; i < n && bi == n; i++)
        if (tok_is(&t[i], "BUT")) bi = i;
    for (size_t i = 0; chat && i < n && bi == n; i++)
        if (tok_lo_is(&t[i], "but") || tok_lo_is(&t[i], "however") || tok_lo_is(&t[i], "however,")) bi = i;
    if (bi < n) {
        for (size_t i = 0; i < n; i++) {
            if (i < bi)
                sent[i] = sent[i] * 0.5;
            else if (i > bi)
                sent[i] = sent[i] * 1.5;
        }
    }

    if (chat) chat_adjust(t, n, sent, text, len);

    struct zt_sentiment_result r = {0, 0, 0, 0};
    if (n > 0) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += sent[i];
        if (chat) sum = sum > CHAT_DEAD_BAND ? sum - CHAT_DEAD_BAND : sum < -CHAT_DEAD_BAND ? sum + CHAT_DEAD_BAND : 0.0;
        size_t ep = 0, qm = 0;
        for (size_t i = 0; i < len; i++) {
            ep += text[i] == '!';
            qm += text[i] == '?';
        }
        if (ep > 4) ep = 4;
        double ep_amp = (double)ep * 0.292;
        double qm_amp = 0;
        if (qm > 1) qm_amp = qm <= 3 ? (double)qm * 0.18 : 0.96;
        double amp = ep_amp + qm_amp;
        if (sum > 0)
            sum += amp;
        else if (sum < 0)
            sum -= amp;
        double compound = sum / sqrt(sum * sum + 15);
        if (compound < -1.0) compound = -1.0;
        if (compound > 1.0) compound = 1.0;
        double pos = 0, neg = 0;
        size_t neu = 0;
        for (size_t i = 0; i < n; i++) {
            if (sent[i] > 0)
                pos += sent[i] + 1;
            else if (sent[i] < 0)
                neg += sent[i] - 1;
            else
                neu++;
        }
        if (pos > fabs(neg))
            pos += amp;
        else if (pos < fabs(neg))
            neg -= amp;
        double total = pos + fabs(neg) + (double)neu;
        r.pos = to_fixed(fabs(pos / total), 3);
        r.neg = to_fixed(fabs(neg / total), 3);
        r.neu = to_fixed(fabs((double)neu / total), 3);
        r.compound = to_fixed(compound, 4);
    }
    if (chat && learned) learned_class(text, len, &r);
    *out = r;
    rc = 0;
out:
    zt_free(w);
    zt_free(lo);
    zt_free(t);
    zt_free(sent);
    return rc;
}

int zt_sentiment_score(const struct zt_sentiment *s, const char *text, size_t len,
                       struct zt_sentiment_result *out)
{
    return score(s, false, false, text, len, out);
}

int zt_sentiment_score_mode(const struct zt_sentiment *s, enum zt_sentiment_mode mode, const char *text,
                            size_t len, struct zt_sentiment_result *out)
{
    if (mode != ZT_SENTIMENT_VADER && mode != ZT_SENTIMENT_CHAT) return ZT_EINVAL;
    return score(s, mode == ZT_SENTIMENT_CHAT, true, text, len, out);
}

int zt__sentiment_chat_rules(const struct zt_sentiment *s, const char *text, size_t len,
                             struct zt_sentiment_result *out)
{
    return score(s, true, false, text, len, out);
}

const char *zt_sentiment_mode_name(enum zt_sentiment_mode mode)
{
    return mode == ZT_SENTIMENT_CHAT ? "chat" : mode == ZT_SENTIMENT_VADER ? "vader" : "unknown";
}

int zt_sentiment_mode_parse(const char *name, enum zt_sentiment_mode *out)
{
    if (strcmp(name, "chat") == 0) *out = ZT_SENTIMENT_CHAT;
    else if (strcmp(name, "vader") == 0) *out = ZT_SENTIMENT_VADER;
    else return ZT_EINVAL;
    return 0;
}

const char *zt_sentiment_label(const struct zt_sentiment_result *r, double cut)
{
    if (r->compound >= cut) return "positive";
    if (r->compound <= -cut) return "negative";
    return "neutral";
}
