/* learned_addr.c: the address features of the harassment model (round 12,
 * learned.h's zt__clf_addr_features()): who a message addresses and how,
 * as hashed features beside the spam module's words and n-grams. A linear
 * model over words alone cannot tell "you're a buffoon" from "you're a
 * star" by the shape they share, nor "you're welcome" from "you're
 * worthless"; these features name the shape and the word in it:
 *
 *   p=0|1|2        which person the text names (zt__clf_person())
 *   cop, cop=W     a second person with a copula ("you're", "you are", "u r",
 *                  "t'es", "eres", "du bist", "je bent", "sei", "você é",
 *                  "you look"), W the first word after fillers ("a", "such",
 *                  "so", "the", "really", ...): "cop=buffoon", "cop=welcome"
 *   thanks2        thanks or welcome in a text that names a second person
 *   voc=W          an opening vocative: "hey loser", "oi idiot"
 *   tail=W         a last clause of one or two words after a comma ("..., creep")
 *   first=W        the first word (an imperative: "stop", "crawl", "go")
 *   self, self=W   "yourself" (and the first word with it: "self=go")
 *   ifut, ifut=V   a first-person future ("I'll", "I'm gonna", "imma", "we're
 *                  going to") with a second person within five words after it
 *   youll=W        "you'll W" ("you'll see", "you'll regret")
 *   p3num, p3place a third person only, with a number of 3+ digits or a
 *                  place word (street, road, "lives", "works")
 *
 * Deterministic, no allocation; the words are lower-cased ASCII with
 * apostrophes dropped ("you're" -> "youre"), other bytes kept. */
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "learned.h"
#include "zentalk/zt_hash.h"

#define AW_MAX 96 /* words looked at */
#define AW_LEN 24 /* bytes of a word kept */

struct aw {
    char w[AW_MAX][AW_LEN];
    bool brk[AW_MAX]; /* a clause break (, . ! ? ; :) before the word */
    size_t n;
    bool comma_tail; /* the last comma is followed by one or two words */
};

static bool wchar(unsigned char c)
{
    return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* An emoji or another symbol (4-byte sequences, U+2000-U+2FFF): its length, else 0. */
static size_t sym_len(const char *t, size_t i, size_t len)
{
    unsigned char c = (unsigned char)t[i];
    size_t l = c >= 0xF0 ? 4 : c == 0xE2 ? 3 : 0;
    return i + l <= len ? l : len - i;
}

static void split(const char *t, size_t len, struct aw *a)
{
    a->n = 0;
    bool brk = false;
    size_t i = 0;
    while (i < len && a->n < AW_MAX) {
        unsigned char c = (unsigned char)t[i];
        /* the right single quote U+2019 inside a word is an apostrophe */
        size_t sl = sym_len(t, i, len);
        if (!wchar(c) || sl) {
            if (c == ',' || c == '.' || c == '!' || c == '?' || c == ';' || c == ':') brk = true;
            i += sl ? sl : 1;
            continue;
        }
        size_t k = 0;
        char *w = a->w[a->n];
        while (i < len) {
            c = (unsigned char)t[i];
            if (c == '\'' && i + 1 < len && wchar((unsigned char)t[i + 1]) && k) {
                i++;
                continue;
            }
            if (c == 0xE2 && i + 3 < len && (unsigned char)t[i + 1] == 0x80 && (unsigned char)t[i + 2] == 0x99 &&
                wchar((unsigned char)t[i + 3]) && (unsigned char)t[i + 3] < 0x80 && k) {
                i += 3;
                continue;
            }
            if (!wchar(c) || sym_len(t, i, len)) break; /* an emoji or other symbol ends a word */
            if (k + 1 < AW_LEN) w[k++] = c < 0x80 ? (char)(c | (c >= 'A' && c <= 'Z' ? 0x20 : 0)) : (char)c;
            i++;
        }
        w[k] = '\0';
        a->brk[a->n] = brk;
        brk = false;
        a->n++;
    }
    /* "stop breathing my air, creep": one or two words after the last comma */
    a->comma_tail = false;
    for (size_t j = a->n; j-- > 1;)
        if (a->brk[j]) {
            a->comma_tail = a->n - j <= 2 && j >= 2;
            break;
        }
}

static bool in(const char *w, const char *const *list)
{
    for (size_t k = 0; list[k]; k++)
        if (strcmp(w, list[k]) == 0) return true;
    return false;
}

struct emitter {
    zt__spam_feat_cb cb;
    void *ud;
    uint64_t seen[32];
    size_t n;
};

static void put(struct emitter *e, const char *name, const char *arg)
{
    const char *off = getenv("ZT_CV_ADROFF"); /* experiment: feature groups left out */
    if (off) {
        char key[24];
        snprintf(key, sizeof key, ",%s,", name);
        if (strstr(off, key)) return;
    }
    if (e->n == sizeof e->seen / sizeof e->seen[0]) return;
    char nm[64];
    size_t l = strlen(name);
    memcpy(nm, name, l);
    if (arg) {
        size_t al = strlen(arg);
        if (al > sizeof nm - l - 2) al = sizeof nm - l - 2;
        nm[l++] = '=';
        memcpy(nm + l, arg, al);
        l += al;
    }
    nm[l] = '\0';
    uint64_t h = zt_fnv1a64_step(ZT_FNV1A64_INIT, "adr:", 4);
    h = zt_mix64(zt_fnv1a64_step(h, nm, l));
    if (!h) h = 1;
    for (size_t k = 0; k < e->n; k++)
        if (e->seen[k] == h) return;
    e->seen[e->n++] = h;
    e->cb(h, "adr", nm, e->ud);
}

static const char *const YOU2[] = {"you", "u", "ya", "your", "ur", "yours", "yourself", "youre", "yall", NULL};
static const char *const FILL[] = {
    "a",       "an",      "such",     "so",      "the",   "really",   "just",  "literally", "absolute", "absolutely",
    "total",   "totally", "complete", "completely", "fucking", "fking", "actual", "truly", "pretty",   "very",
    "most",    "biggest", "un",       "une",     "uma",   "um",       "una",   "uno",       "ein",      "eine",
    "einer",   "een",     "echt",     "zo",      "vraiment", "trop",  "tellement", "muy",   "tan",      "proprio",
    "davvero", "cosi",    "mega",     "como",    "tao",   "always",   "still", "seriously", "honestly", "kinda",
    "like",    "being",   "getting",  "such",    "ein",   "n",        "nur",   "sooo",      "soo",      "sehr",
    NULL};
static const char *const THANKS[] = {"thank", "thanks", "thx", "ty", "welcome", "cheers", "merci", "gracias",
                                     "obrigado", "obrigada", "danke", "grazie", "bedankt", "dank", "appreciate",
                                     NULL};
static const char *const VOC[] = {"hey", "oi", "yo", "listen", "hi", "ey", "hola", "ola", "salut", "hallo", "ciao",
                                  "ehi", "hoi", "ok", "okay", "look", NULL};
static const char *const PLACE[] = {"street", "st", "road", "rd", "avenue", "ave", "lane", "close", "drive", "way",
                                    "calle", "rue", "straat", "strasse", "via", "rua", "avenida", "nagar", "court",
                                    "lives", "live", "works", "address", "flat", "apartment", NULL};
static const char *const YOUR_SELF[] = {"yourself", "urself", "yourselves", "yourselfs", NULL};

/* The copulas of a second person: the words of each, then the predicate after it. */
static size_t copula_at(const struct aw *a, size_t i)
{
    static const char *const one[] = {"youre", "tes", "eres", "sei", "sos", "\xc3\xa9s", "youve", NULL};
    static const char *const two[][2] = {{"you", "are"},  {"u", "r"},     {"u", "are"},    {"you", "r"},
                                         {"ur", "a"},     {"tu", "es"},   {"t", "es"},     {"tu", "eres"},
                                         {"du", "bist"},  {"bist", "du"}, {"je", "bent"},  {"jij", "bent"},
                                         {"voce", "e"},   {"voc\xc3\xaa", "\xc3\xa9"},    {"vc", "e"},
                                         {"you", "look"}, {"you", "sound"}, {"you", "smell"}, {"you", "were"},
                                         {"ya", "are"},   {"your", "a"},  {"your", "an"},  {"your", "so"},
                                         {"your", "such"}, {"tu", "sei"}, {"sie", "sind"}, {NULL, NULL}};
    for (size_t k = 0; two[k][0]; k++)
        if (i + 1 < a->n && strcmp(a->w[i], two[k][0]) == 0 && strcmp(a->w[i + 1], two[k][1]) == 0)
            /* "ur a", "your so": the second word is the filler, the predicate follows it */
            return strcmp(two[k][0], "ur") == 0 || strcmp(two[k][0], "your") == 0 ? i + 1 : i + 2;
    if (in(a->w[i], one)) return i + 1;
    return 0;
}

int zt__clf_addr_features(const char *text, size_t len, zt__spam_feat_cb cb, void *ud, size_t *n)
{
    static const char *const pname[] = {"0", "1", "2"};
    struct aw a;
    struct emitter e = {.cb = cb, .ud = ud};
    split(text, len, &a);
    int person = zt__clf_person(text, len);
    put(&e, "p", pname[person]);
    bool thanks = false, self = false, p3place = false, num = false;
    for (size_t i = 0; i < a.n; i++) {
        const char *w = a.w[i];
        thanks = thanks || in(w, THANKS);
        self = self || in(w, YOUR_SELF);
        p3place = p3place || in(w, PLACE);
        if (!num) {
            size_t d = 0;
            for (const char *p = w; *p; p++) d += *p >= '0' && *p <= '9';
            num = d >= 3;
        }
        size_t j = copula_at(&a, i);
        if (j) {
            size_t skip = 0;
            while (j < a.n && skip < 3 && !a.brk[j] && in(a.w[j], FILL)) {
                j++;
                skip++;
            }
            put(&e, "cop", NULL);
            put(&e, "cop", j < a.n && !a.brk[j] ? a.w[j] : "$"); /* "$": nothing after it ("come as you are") */
        }
        /* a first-person future, a second person within five words after it */
        bool fut = strcmp(w, "ill") == 0 || strcmp(w, "imma") == 0 || strcmp(w, "ima") == 0 ||
                   strcmp(w, "gonna") == 0 || strcmp(w, "gunna") == 0 || strcmp(w, "well") == 0 ||
                   (strcmp(w, "will") == 0 && i > 0 && (strcmp(a.w[i - 1], "i") == 0 || strcmp(a.w[i - 1], "we") == 0)) ||
                   (strcmp(w, "going") == 0 && i + 1 < a.n && strcmp(a.w[i + 1], "to") == 0 && i > 0 &&
                    (strcmp(a.w[i - 1], "im") == 0 || strcmp(a.w[i - 1], "were") == 0));
        if (fut && !(strcmp(w, "well") == 0 && (i == 0 || a.brk[i]))) {
            size_t v = i + 1 + (strcmp(w, "going") == 0);
            for (size_t k = v; k < a.n && k <= v + 5; k++)
                if (in(a.w[k], YOU2)) {
                    put(&e, "ifut", NULL);
                    if (v < a.n) put(&e, "ifut", a.w[v]);
                    break;
                }
        }
        if ((strcmp(w, "youll") == 0 || strcmp(w, "ull") == 0) && i + 1 < a.n) put(&e, "youll", a.w[i + 1]);
    }
    if (a.n) {
        put(&e, "first", a.w[0]);
        if (a.n > 1 && in(a.w[0], VOC)) put(&e, "voc", a.w[1]);
        if (a.comma_tail) put(&e, "tail", a.w[a.n - 1]);
    }
    if (thanks && person == 2) put(&e, "thanks2", NULL);
    if (self) {
        put(&e, "self", NULL);
        if (a.n) put(&e, "self", a.w[0]);
    }
    if (person == 1 && num && getenv("ZT_CV_P3")) put(&e, "p3num", NULL);
    if (person == 1 && p3place && getenv("ZT_CV_P3")) put(&e, "p3place", NULL);
    *n += e.n;
    return 0;
}
