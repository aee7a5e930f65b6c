/* pii.c: PII detection. See zt_pii.h and docs/internals/pii.md.
 *
 * One scanner per built-in type walks the text and proposes candidates;
 * validated types (CARD, IBAN, ETH, BTC, IP) are only proposed when their
 * checksum or range check passes, so ordinary numbers are not reported.
 * Custom types are PCRE2 matches. Candidates are then resolved into a
 * non-overlapping set (resolve()). Every scanner reads text[0..len) only
 * and works on bytes: UTF-8 beyond ASCII never forms part of a hit except
 * through a custom pattern. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_str.h"
#include "pii_internal.h"

static const char *const builtin_names[ZT_PII_N_BUILTIN] = {
    "EMAIL", "PHONE", "CARD", "IBAN", "IP", "ETH", "BTC", "US_SSN", "UK_NINO", "ADDRESS", "PERSON_NAME"};

struct custom {
    char name[ZT_PII_TYPE_NAME_MAX];
    pcre2_code *re;
};

struct zt_pii_detector {
    struct custom custom[ZT_PII_MAX_CUSTOM];
    size_t n_custom;
    pcre2_match_context *mctx; /* match and depth limits (no runaway backtracking) */
    struct names *names;       /* PERSON_NAME: the first-name list, or NULL (no names found) */
    const struct zt_hlr *name_model; /* PERSON_NAME: the context scorer (pii_internal.h), or NULL */
    struct name_gates {              /* PERSON_NAME: the model's extra margins (pii_internal.h) */
        double word, start, brand, place; /* ZT__PII_{WORD,START,BRAND,PLACE}_GATE */
    } name_gates;
};

#define CUSTOM_MATCH_LIMIT 1000000
#define CUSTOM_DEPTH_LIMIT 10000

/* ---- character classes -------------------------------------------------- */

static bool is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}
/* A byte that may not touch a hit on either side: letters, digits, and
 * bytes of multi-byte UTF-8 sequences (a letter in another script). */
static bool is_word(unsigned char c)
{
    return zt_ascii_alnum(c) || c == '_' || c >= 0x80;
}

/* True when a number-like hit starting at s would continue a longer number
 * to its left: a digit or word byte, or "1." / "1-" / "1," / "1/" before it. */
static bool num_left_joined(const char *t, size_t s)
{
    if (s == 0) return false;
    unsigned char p = (unsigned char)t[s - 1];
    if (is_word(p)) return true;
    if ((p == '.' || p == '-' || p == ',' || p == '/' || p == '+' || p == ':') && s >= 2 &&
        zt_ascii_digit((unsigned char)t[s - 2]))
        return true;
    return false;
}
/* The same on the right of a hit ending at e. */
static bool num_right_joined(const char *t, size_t len, size_t e)
{
    if (e >= len) return false;
    unsigned char c = (unsigned char)t[e];
    if (is_word(c)) return true;
    if ((c == '.' || c == '-' || c == ',' || c == '/' || c == ':') && e + 1 < len &&
        zt_ascii_digit((unsigned char)t[e + 1]))
        return true;
    return false;
}

/* ---- candidates --------------------------------------------------------- */

struct cands {
    struct zt_pii_hit *v;
    size_t n, cap;
    int err;
};

static void add(struct cands *c, unsigned type, size_t s, size_t e, double conf)
{
    if (c->err || e <= s) return;
    if (c->n >= (size_t)ZT_PII_MAX_HITS * 4) {
        c->err = ZT_ETOOBIG;
        return;
    }
    struct zt_pii_hit *nv = zt_array_grow(c->v, &c->cap, c->n + 1, sizeof *nv, 16);
    if (!nv) {
        c->err = ZT_ENOMEM;
        return;
    }
    c->v = nv;
    c->v[c->n++] = (struct zt_pii_hit){.type = type, .start = s, .end = e, .confidence = conf};
}

/* ---- EMAIL -------------------------------------------------------------- */

static bool is_local_char(unsigned char c)
{
    return zt_ascii_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\'';
}

/* "icon@2x.png" is a file name, not an address: the last label may not be
 * a common file extension. */
static bool file_extension(const char *s, size_t n)
{
    static const char *const ext[] = {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "txt",
                                      "js", "css", "html", "htm", "json", "xml", "zip", "gz", "tar", "mp3",
                                      "mp4", "mov", "avi", "exe", "dll", "so", "log", "csv", "md", "py",
                                      "yaml", "yml", "tif", "tiff", "heic", "wav", "doc", "docx", "xls", "ppt", NULL};
    for (size_t i = 0; ext[i]; i++) {
        size_t m = strlen(ext[i]);
        if (m != n) continue;
        size_t k = 0;
        while (k < n && (s[k] | 0x20) == ext[i][k]) k++;
        if (k == n) return true;
    }
    return false;
}

static size_t last_label_of(const char *t, size_t at, size_t end)
{
    size_t i = end;
    while (i > at + 1 && t[i - 1] != '.') i--;
    return i;
}

/* From each '@': the longest dot-atom local part to the left, then domain
 * labels (letters, digits, inner hyphens) to the right, at least two
 * labels, the last of 2..24 letters. */
static void scan_email(const char *t, size_t len, struct cands *c)
{
    for (size_t at = 1; at + 1 < len && !c->err; at++) {
        if (t[at] != '@') continue;
        size_t s = at;
        while (s > 0 && is_local_char((unsigned char)t[s - 1]) && at - s < 64) s--;
        while (s < at && (t[s] == '.' || t[s] == '\'')) s++; /* no leading dot */
        if (s == at || t[at - 1] == '.') continue;
        if (s > 0 && (is_word((unsigned char)t[s - 1]) || t[s - 1] == '@')) continue;
        bool dots = false;
        for (size_t i = s; i + 1 < at; i++)
            if (t[i] == '.' && t[i + 1] == '.') dots = true;
        if (dots) continue;
        /* domain */
        size_t e = at + 1, last_label = e, labels = 0, good_end = 0;
        for (;;) {
            size_t ls = e;
            while (e < len && (zt_ascii_alnum((unsigned char)t[e]) || t[e] == '-') && e - ls < 63) e++;
            if (e == ls || t[ls] == '-' || t[e - 1] == '-') break;
            labels++;
            last_label = ls;
            bool tld_ok = true;
            for (size_t i = ls; i < e; i++)
                if (!zt_ascii_alpha((unsigned char)t[i])) tld_ok = false;
            if (labels >= 2 && tld_ok && e - ls >= 2 && e - ls <= 24) good_end = e;
            if (e - at > 255) break; /* longer than any domain name */
            if (e + 1 < len && t[e] == '.' && zt_ascii_alnum((unsigned char)t[e + 1])) {
                e++;
                continue;
            }
            break;
        }
        (void)last_label;
        if (!good_end || good_end - at - 1 > 253) continue;
        if (file_extension(t + last_label_of(t, at, good_end), good_end - last_label_of(t, at, good_end))) continue;
        if (good_end < len && (is_word((unsigned char)t[good_end]) || t[good_end] == '@')) continue;
        add(c, ZT_PII_EMAIL, s, good_end, 1.0);
    }
}

/* ---- PHONE -------------------------------------------------------------- */

/* A phone-like run from s: digit groups joined by one separator each (space,
 * '-', '.', '/'), an optional "(area)" group, and "(0)" after a country
 * code. Returns the end, the group sizes and separators. */
#define MAX_GROUPS 8
struct groups {
    size_t n;
    size_t len[MAX_GROUPS];
    size_t digits;
    char sep[MAX_GROUPS]; /* separator before group i (0 for the first) */
    bool paren[MAX_GROUPS];
    size_t end;
};

static bool read_groups(const char *t, size_t len, size_t i, struct groups *g)
{
    memset(g, 0, sizeof *g);
    for (;;) {
        bool paren = false;
        size_t gs = i;
        if (i < len && t[i] == '(') {
            paren = true;
            i++;
        }
        size_t ds = i;
        while (i < len && zt_ascii_digit((unsigned char)t[i]) && i - ds < 12) i++;
        if (i == ds) {
            i = gs;
            break;
        }
        if (paren) {
            if (i >= len || t[i] != ')') {
                i = gs;
                break;
            }
            i++;
        }
        if (g->n == MAX_GROUPS) return false;
        g->len[g->n] = (paren ? i - 1 : i) - ds;
        g->paren[g->n] = paren;
        g->digits += g->len[g->n];
        g->n++;
        g->end = i;
        /* separator: one of " -./", or ") " already consumed; also a space
         * after a ')' group */
        if (i < len && (t[i] == ' ' || t[i] == '-' || t[i] == '.' || t[i] == '/') && i + 1 < len &&
            (zt_ascii_digit((unsigned char)t[i + 1]) || t[i + 1] == '(')) {
            if (g->n < MAX_GROUPS) g->sep[g->n] = t[i];
            i++;
            continue;
        }
        if (paren && i < len && zt_ascii_digit((unsigned char)t[i])) {
            if (g->n < MAX_GROUPS) g->sep[g->n] = ')';
            continue;
        }
        break;
    }
    return g->n > 0;
}

/* The first k groups of g as a phone number; g->end adjusted. */
static size_t groups_digits(const struct groups *g, size_t k)
{
    size_t d = 0;
    for (size_t i = 0; i < k; i++) d += g->len[i];
    return d;
}

static bool seps_uniform(const struct groups *g, size_t from, size_t to)
{
    char s = 0;
    for (size_t i = from; i < to; i++) {
        if (!g->sep[i] || g->sep[i] == ')') continue;
        if (!s) s = g->sep[i];
        if (g->sep[i] != s) return false;
    }
    return true;
}

/* The end of group k-1 (the groups are contiguous from start). */
static size_t group_end(const char *t, size_t start, const struct groups *g, size_t k)
{
    (void)t;
    size_t i = start;
    for (size_t gi = 0; gi < k; gi++) {
        if (gi > 0 && g->sep[gi] != ')') i++; /* the separator */
        i += g->len[gi] + (g->paren[gi] ? 2 : 0);
    }
    return i;
}

/* w[0..n) is one of list (ASCII letters compared case-folded, the bytes
 * of UTF-8 letters as they are; the list is lower case). */
static bool word_in_utf8(const char *w, size_t n, const char *const *list)
{
    for (size_t k = 0; list[k]; k++) {
        size_t l = strlen(list[k]), q = 0;
        if (l != n) continue;
        while (q < l && ((unsigned char)w[q] >= 0x80 ? w[q] : (char)(w[q] | 0x20)) == list[k][q]) q++;
        if (q == l) return true;
    }
    return false;
}

/* A word of a phone number in the 40 bytes before s ("call", "number",
 * "whatsapp", "cell", "llámame"...): what makes a bare digit run a phone
 * number. Words are runs of ASCII letters and UTF-8 bytes, compared with
 * ASCII case folded. */
static bool phone_cue_before(const char *t, size_t s)
{
    static const char *const cues[] = {"call", "phone", "number", "numbers", "text", "cell", "mobile", "tel",
                                       "whatsapp", "ring", "reach", "contact", "sms", "fax", "landline", "txt",
                                       "llama", "llámame", "llamame", "número", "numero", "appelle", "nummer",
                                       "telefon", "teléfono", "telefono", "ligue", "móvil", "movil",
                                       /* round 9 */
                                       "message", "msg", "voicemail", "office", "dial", "ligar", "celular", NULL};
    size_t from = s > 40 ? s - 40 : 0;
    for (size_t i = from; i < s;) {
        unsigned char ch = (unsigned char)t[i];
        if (!zt_ascii_alpha(ch) && ch < 0x80) {
            i++;
            continue;
        }
        size_t ws = i;
        while (i < s && (zt_ascii_alpha((unsigned char)t[i]) || (unsigned char)t[i] >= 0x80)) i++;
        if (ws == from && ws > 0 && zt_ascii_alpha((unsigned char)t[ws - 1])) continue; /* a word cut in two */
        if (word_in_utf8(t + ws, i - ws, cues)) return true;
    }
    return false;
}

/* The run at s follows a number-like token and one space ("AA1 01 2345"):
 * part of a longer code (a parcel tracking number), not a phone number. */
static bool after_code_token(const char *t, size_t s)
{
    return s >= 2 && t[s - 1] == ' ' && zt_ascii_digit((unsigned char)t[s - 2]);
}

static void scan_phone(const char *t, size_t len, struct cands *c)
{
    for (size_t s = 0; s < len && !c->err; s++) {
        unsigned char ch = (unsigned char)t[s];
        if (!(ch == '+' || ch == '(' || zt_ascii_digit(ch))) continue;
        if (num_left_joined(t, s)) continue;
        if (s > 0 && (t[s - 1] == '+' || t[s - 1] == '$' || t[s - 1] == '#')) continue;
        struct groups g;
        if (ch == '+' || (ch == '0' && s + 1 < len && t[s + 1] == '0')) {
            /* international: +CC or 00CC, then groups; 8..15 digits in all */
            size_t i = ch == '+' ? s + 1 : s + 2;
            if (i >= len || !zt_ascii_digit((unsigned char)t[i]) || t[i] == '0') continue;
            if (!read_groups(t, len, i, &g)) continue;
            size_t best = 0;
            for (size_t k = g.n; k >= 1; k--) {
                size_t d = groups_digits(&g, k);
                if (d < 8 || d > 15) continue;
                if (k == 1 && ch != '+') continue; /* 00 + a bare digit run: too weak */
                if (ch != '+' && !seps_uniform(&g, 1, k)) continue;
                best = k;
                break;
            }
            if (!best) continue;
            size_t e = group_end(t, i, &g, best);
            if (num_right_joined(t, len, e)) continue;
            add(c, ZT_PII_PHONE, s, e, 0.9);
            s = e;
            continue;
        }
        if (!read_groups(t, len, s, &g)) continue;
        size_t e;
        /* a bare run of 10 digits (NXXNXXXXXX) or 1 and 10 digits, where a
         * phone word comes before it ("my new number is 4155550172") */
        if (g.n == 1 && !g.paren[0]) {
            size_t o = g.len[0] == 11 && t[s] == '1' ? 1 : 0;
            e = s + g.len[0];
            if (g.len[0] == 10 + o && t[s + o] >= '2' && t[s + o + 3] >= '2' && !num_right_joined(t, len, e) &&
                !after_code_token(t, s) && phone_cue_before(t, s)) {
                add(c, ZT_PII_PHONE, s, e, 0.6);
                s = e;
            } else if ((g.len[0] == 10 || g.len[0] == 11) && t[s] == '0' && t[s + 1] != '0' &&
                       !num_right_joined(t, len, e) && !after_code_token(t, s) && phone_cue_before(t, s)) {
                /* round 9: a national number with its trunk 0 written without spaces ("07700900321") */
                add(c, ZT_PII_PHONE, s, e, 0.6);
                s = e;
            }
            continue;
        }
        /* round 9: Brazil, (DD) 9XXXX-XXXX or (DD) XXXX-XXXX */
        if (g.n >= 3 && g.paren[0] && g.len[0] == 2 && t[s + 1] != '0' && (g.len[1] == 4 || g.len[1] == 5) &&
            g.len[2] == 4 && (g.sep[1] == ' ' || g.sep[1] == ')') && g.sep[2] == '-') {
            e = group_end(t, s, &g, 3);
            if (!num_right_joined(t, len, e)) {
                add(c, ZT_PII_PHONE, s, e, 0.8);
                s = e;
                continue;
            }
        }
        /* round 9: a local NXX-XXXX (no area code) where a phone word comes before it */
        if (g.n == 2 && !g.paren[0] && g.len[0] == 3 && g.len[1] == 4 && (g.sep[1] == '-' || g.sep[1] == '.') &&
            t[s] >= '2' && !after_code_token(t, s) && phone_cue_before(t, s)) {
            e = group_end(t, s, &g, 2);
            if (!num_right_joined(t, len, e)) {
                add(c, ZT_PII_PHONE, s, e, 0.6);
                s = e;
                continue;
            }
        }
        /* North American: (NXX) XXX-XXXX, NXX-XXX-XXXX, NXX.XXX.XXXX, NXX XXX XXXX
         * (area code 2-9; an exchange starting 0/1, as the 555-123-4567 of
         * films, counts at lower confidence), and 1-NXX-XXX-XXXX */
        size_t g0 = 0;
        if (g.n >= 4 && g.len[0] == 1 && t[s] == '1' && !g.paren[0] && g.sep[1] != '/') g0 = 1;
        if (g.n >= 3 + g0 && g.len[g0] == 3 && g.len[g0 + 1] == 3 && g.len[g0 + 2] == 4) {
            size_t as = g0 ? group_end(t, s, &g, 1) + (g.sep[1] == ')' ? 0 : 1) : s;
            bool parens = g.paren[g0];
            if (parens) as++;
            size_t xs = group_end(t, s, &g, g0 + 1) + (g.sep[g0 + 1] == ')' ? 0 : 1);
            char s1 = g.sep[g0 + 1], s2 = g.sep[g0 + 2];
            bool uniform = parens ? ((s1 == ' ' || s1 == ')') && (s2 == '-' || s2 == '.' || s2 == ' '))
                                  : (s1 == s2 && s1 != '/' && s1 != ')');
            if (g0 && uniform && g.sep[1] != s1 && !parens) uniform = false;
            e = group_end(t, s, &g, g0 + 3);
            if (uniform && t[as] >= '2' && !num_right_joined(t, len, e)) {
                double conf = parens ? 0.85 : s1 == ' ' ? 0.6 : 0.7;
                if (t[xs] < '2') conf -= 0.1;
                if (g0) conf += 0.05;
                add(c, ZT_PII_PHONE, s, e, conf);
                s = e;
                continue;
            }
        }
        /* national with a trunk 0 (UK, DE, FR, IT, NL, BE, AT, CH...): the
         * first group 0 + 1..4 digits, not 00; 10..12 digits; at most 5
         * groups of 2..8 digits; one kind of separator */
        size_t lead = g.paren[0] ? s + 1 : s;
        if (t[lead] == '0' && !after_code_token(t, s) && g.len[0] >= 2 && g.len[0] <= 5 && t[lead + 1] != '0') {
            size_t best = 0;
            for (size_t k = g.n < 5 ? g.n : 5; k >= 2; k--) {
                size_t d = groups_digits(&g, k);
                if (d < 10 || d > 12) continue;
                bool sizes = true;
                for (size_t q = 1; q < k; q++)
                    if (g.len[q] < 2 || g.len[q] > 8 || g.paren[q]) sizes = false;
                if (!sizes || !seps_uniform(&g, 1, k)) continue;
                /* French style: exactly 5 pairs */
                best = k;
                break;
            }
            if (best) {
                e = group_end(t, s, &g, best);
                /* dates such as 01.02.2023 have 8 digits: excluded by the count */
                if (!num_right_joined(t, len, e)) {
                    add(c, ZT_PII_PHONE, s, e, 0.75);
                    s = e;
                    continue;
                }
            }
        }
        /* ES mobile/landline: [6789]xx xx xx xx */
        if (!g.paren[0] && g.n >= 4 && g.len[0] == 3 && g.len[1] == 2 && g.len[2] == 2 && g.len[3] == 2 &&
            t[s] >= '6' && seps_uniform(&g, 1, 4) && g.sep[1] == ' ') {
            e = group_end(t, s, &g, 4);
            if (!num_right_joined(t, len, e)) {
                add(c, ZT_PII_PHONE, s, e, 0.6);
                s = e;
                continue;
            }
        }
        /* ES in threes: [6789]xx xxx xxx, with a phone word before it */
        if (!g.paren[0] && g.n >= 3 && g.len[0] == 3 && g.len[1] == 3 && g.len[2] == 3 && t[s] >= '6' &&
            g.sep[1] == ' ' && g.sep[2] == ' ' && !after_code_token(t, s) && phone_cue_before(t, s)) {
            e = group_end(t, s, &g, 3);
            if (!num_right_joined(t, len, e) && (g.n == 3 || !zt_ascii_digit((unsigned char)t[e + 1]))) {
                add(c, ZT_PII_PHONE, s, e, 0.6);
                s = e;
                continue;
            }
        }
    }
}

/* ---- CARD --------------------------------------------------------------- */

bool zt_pii_luhn_ok(const char *d, size_t n)
{
    if (n == 0) return false;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!zt_ascii_digit((unsigned char)d[n - 1 - i])) return false;
        unsigned v = (unsigned)(d[n - 1 - i] - '0');
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9) v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static unsigned prefix_num(const char *d, size_t k)
{
    unsigned v = 0;
    for (size_t i = 0; i < k; i++) v = v * 10 + (unsigned)(d[i] - '0');
    return v;
}

/* Known issuer identification number ranges and the lengths each uses. */
static bool iin_ok(const char *d, size_t n)
{
    unsigned p1 = prefix_num(d, 1), p2 = prefix_num(d, 2), p3 = prefix_num(d, 3), p4 = prefix_num(d, 4),
             p6 = prefix_num(d, 6);
    if (p1 == 4) return n == 13 || n == 16 || n == 19;                         /* Visa */
    if (p2 >= 51 && p2 <= 55) return n == 16;                                  /* Mastercard */
    if (p4 >= 2221 && p4 <= 2720) return n == 16;                              /* Mastercard 2-series */
    if (p4 >= 2200 && p4 <= 2204) return n >= 16 && n <= 19;                   /* Mir */
    if (p2 == 34 || p2 == 37) return n == 15;                                  /* Amex */
    if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65) return n >= 16 && n <= 19; /* Discover */
    if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) return n >= 14 && n <= 19; /* Diners */
    if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19;                   /* JCB */
    if (p2 == 62) return n >= 16 && n <= 19;                                   /* UnionPay */
    if (p2 == 50 || (p2 >= 56 && p2 <= 58) || p4 == 6304 || p4 == 6759 || p6 == 676770 || p6 == 676774)
        return n >= 13 && n <= 19;                                             /* Maestro */
    if (p2 == 60 || p2 == 81 || p2 == 82 || p3 == 508) return n == 16;         /* RuPay */
    return false;
}

static size_t iban_length(const char *cc);

/* Round 9: the digits at s continue an IBAN written in groups ("ES16 4258
 * 8981 ...", "FR55 8100 4976 ..."): a country code and check digits, then
 * groups of four, before s, the whole run its country's IBAN length, and
 * valid (mod-97) or called an IBAN: its digits are the IBAN's, not a
 * card's. Not any such head: "ref XY12 4111 1111 1111 1111" and "flight
 * BA12 4111 1111 1111 1111" still have a card (review9 F2). */
static bool after_iban_head(const char *t, size_t len, size_t s)
{
    size_t i = s, head = SIZE_MAX;
    for (int groups = 0; groups < 8 && head == SIZE_MAX; groups++) {
        if (i < 5 || t[i - 1] != ' ') return false;
        size_t g = i - 1;
        if (g >= 4 && is_upper((unsigned char)t[g - 4]) && is_upper((unsigned char)t[g - 3]) &&
            zt_ascii_digit((unsigned char)t[g - 2]) && zt_ascii_digit((unsigned char)t[g - 1]) &&
            (g == 4 || !is_word((unsigned char)t[g - 5]))) {
            head = g - 4;
            break;
        }
        if (g < 4) return false;
        for (size_t k = g - 4; k < g; k++)
            if (!zt_ascii_digit((unsigned char)t[k])) return false;
        i = g - 4;
    }
    if (head == SIZE_MAX) return false;
    size_t want = iban_length(t + head);
    if (!want) return false;
    char compact[34];
    size_t n = 0;
    for (size_t k = head; k < len && n < want; k++) {
        unsigned char ch = (unsigned char)t[k];
        if (zt_ascii_alnum(ch)) compact[n++] = (char)(zt_ascii_alpha(ch) ? (ch & ~0x20) : ch);
        else if (ch != ' ') break;
    }
    if (n != want) return false;
    if (zt_pii_iban_ok(compact, n)) return true;
    /* one that fails its checksum is still an IBAN where the message calls
     * it one ("the IBAN ES16 4258 ... is wrong"): "iban" within the 40
     * bytes before it */
    size_t from = head > 40 ? head - 40 : 0;
    for (size_t k = from; k + 4 <= head; k++)
        if ((t[k] | 0x20) == 'i' && (t[k + 1] | 0x20) == 'b' && (t[k + 2] | 0x20) == 'a' && (t[k + 3] | 0x20) == 'n')
            return true;
    return false;
}

static void scan_card(const char *t, size_t len, struct cands *c)
{
    for (size_t s = 0; s < len && !c->err; s++) {
        if (!zt_ascii_digit((unsigned char)t[s]) || num_left_joined(t, s)) continue;
        if (s > 0 && t[s - 1] == '+') continue;
        if (after_iban_head(t, len, s)) {
            while (s + 1 < len && zt_ascii_digit((unsigned char)t[s + 1])) s++;
            continue;
        }
        /* digits with single spaces or dashes between them */
        char d[20];
        size_t nd = 0, i = s, ends[20];
        char sep = 0;
        while (i < len && nd < 20) {
            if (zt_ascii_digit((unsigned char)t[i])) {
                d[nd] = t[i];
                ends[nd] = i + 1;
                nd++;
                i++;
                continue;
            }
            if ((t[i] == ' ' || t[i] == '-') && i + 1 < len && zt_ascii_digit((unsigned char)t[i + 1]) &&
                (sep == 0 || sep == t[i])) {
                sep = t[i];
                i++;
                continue;
            }
            break;
        }
        /* the longest prefix of 13..19 digits that ends a group and validates */
        bool found = false;
        for (size_t k = nd < 19 ? nd : 19; k >= 13; k--) {
            size_t e = ends[k - 1];
            if (e < len && zt_ascii_digit((unsigned char)t[e])) continue; /* mid-group */
            if (num_right_joined(t, len, e) && !(sep && e < len && t[e] == sep)) continue;
            if (!iin_ok(d, k) || !zt_pii_luhn_ok(d, k)) continue;
            add(c, ZT_PII_CARD, s, e, 1.0);
            s = e;
            found = true;
            break;
        }
        if (!found) {
            /* skip the rest of this digit run so its suffixes are not tried */
            while (s + 1 < len && zt_ascii_digit((unsigned char)t[s + 1])) s++;
        }
    }
}

/* ---- IBAN --------------------------------------------------------------- */

struct iban_country {
    char cc[3];
    unsigned char len;
};
/* SWIFT IBAN registry: country code and total length. */
static const struct iban_country iban_countries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

static size_t iban_length(const char *cc)
{
    for (size_t i = 0; i < sizeof iban_countries / sizeof iban_countries[0]; i++)
        if (iban_countries[i].cc[0] == cc[0] && iban_countries[i].cc[1] == cc[1]) return iban_countries[i].len;
    return 0;
}

bool zt_pii_iban_ok(const char *s, size_t n)
{
    if (n < 15 || n > 34 || !is_upper((unsigned char)s[0]) || !is_upper((unsigned char)s[1]) ||
        !zt_ascii_digit((unsigned char)s[2]) || !zt_ascii_digit((unsigned char)s[3]))
        return false;
    if (iban_length(s) != n) return false;
    /* mod 97 of BBAN || CC || check, letters as 10..35 */
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)s[(k + 4) % n];
        if (zt_ascii_digit(ch)) {
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        } else if (zt_ascii_alpha(ch)) {
            unsigned v = (unsigned)((ch | 0x20) - 'a' + 10);
            rem = (rem * 100 + v) % 97;
        } else {
            return false;
        }
    }
    return rem == 1;
}

static void scan_iban(const char *t, size_t len, struct cands *c)
{
    for (size_t s = 0; s + 15 <= len && !c->err; s++) {
        if (!is_upper((unsigned char)t[s]) || !is_upper((unsigned char)t[s + 1])) continue;
        if (s > 0 && is_word((unsigned char)t[s - 1])) continue;
        size_t want = iban_length(t + s);
        if (!want) continue;
        char compact[34];
        size_t n = 0, i = s;
        while (i < len && n < want) {
            unsigned char ch = (unsigned char)t[i];
            if (zt_ascii_alnum(ch)) {
                compact[n++] = (char)(zt_ascii_alpha(ch) ? (ch & ~0x20) : ch);
                i++;
            } else if (ch == ' ' && n >= 4 && n % 4 == 0 && i + 1 < len && zt_ascii_alnum((unsigned char)t[i + 1])) {
                i++; /* groups of four */
            } else {
                break;
            }
        }
        if (n != want) continue;
        if (i < len && is_word((unsigned char)t[i])) continue;
        if (!zt_pii_iban_ok(compact, n)) continue;
        add(c, ZT_PII_IBAN, s, i, 1.0);
        s = i - 1;
    }
}

/* ---- IP ----------------------------------------------------------------- */

/* One octet at i: 0..255 without leading zeros. Returns its end or 0. */
static size_t octet(const char *t, size_t len, size_t i)
{
    size_t s = i;
    unsigned v = 0;
    while (i < len && zt_ascii_digit((unsigned char)t[i]) && i - s < 4) v = v * 10 + (unsigned)(t[i++] - '0');
    size_t n = i - s;
    if (n == 0 || n > 3 || v > 255 || (n > 1 && t[s] == '0')) return 0;
    return i;
}

/* "version", "build", "release" or "firmware" right before s (a space between). */
static bool after_version_word(const char *t, size_t s)
{
    static const char *const vw[] = {"version", "ver", "build", "release", "firmware", "versión", NULL};
    size_t i = s;
    while (i > 0 && t[i - 1] == ' ') i--;
    if (i == s) return false;
    size_t e = i;
    while (i > 0 && (zt_ascii_alpha((unsigned char)t[i - 1]) || (unsigned char)t[i - 1] >= 0x80)) i--;
    return word_in_utf8(t + i, e - i, vw);
}

static void scan_ipv4(const char *t, size_t len, struct cands *c)
{
    for (size_t s = 0; s + 7 <= len && !c->err; s++) {
        if (!zt_ascii_digit((unsigned char)t[s])) continue;
        if (s > 0 && (is_word((unsigned char)t[s - 1]) || t[s - 1] == '.' || t[s - 1] == '-' ||
                      t[s - 1] == '+')) {
            while (s + 1 < len && zt_ascii_digit((unsigned char)t[s + 1])) s++;
            continue;
        }
        size_t i = s;
        bool ok = true;
        for (int k = 0; k < 4 && ok; k++) {
            if (k > 0) {
                if (i >= len || t[i] != '.') ok = false;
                else i++;
            }
            size_t e = ok ? octet(t, len, i) : 0;
            if (!e) ok = false;
            else i = e;
        }
        if (!ok) continue;
        /* not part of a longer dotted number or a word; "1.2.3.4." at the end
         * of a sentence is fine */
        if (i < len && (is_word((unsigned char)t[i]) || t[i] == '-')) continue;
        if (i + 1 < len && t[i] == '.' && zt_ascii_digit((unsigned char)t[i + 1])) continue;
        if (after_version_word(t, s)) continue; /* "version 10.2.14.5" */
        add(c, ZT_PII_IP, s, i, 1.0);
        s = i;
    }
}

static bool is_v6_char(unsigned char ch)
{
    return zt_hex_digit((char)ch) >= 0 || ch == ':' || ch == '.';
}

static void scan_ipv6(const char *t, size_t len, struct cands *c)
{
    for (size_t s = 0; s < len && !c->err; s++) {
        unsigned char ch = (unsigned char)t[s];
        if (!(zt_hex_digit((char)ch) >= 0 || ch == ':')) continue;
        if (s > 0 && (is_word((unsigned char)t[s - 1]) || t[s - 1] == ':' || t[s - 1] == '.')) continue;
        size_t e = s, colons = 0;
        while (e < len && is_v6_char((unsigned char)t[e]) && e - s < 45) {
            if (t[e] == ':') colons++;
            e++;
        }
        if (colons < 2) {
            s = e ? e - 1 : s;
            continue;
        }
        if (e < len && is_word((unsigned char)t[e])) {
            s = e - 1;
            continue;
        }
        /* the whole run, or without a trailing '.' or ':' (end of sentence) */
        size_t best = 0;
        for (size_t trim = 0; trim < 2 && !best; trim++) {
            size_t end = e - trim;
            if (end <= s + 1) break;
            if (trim && !(t[end] == '.' || t[end] == ':')) break;
            char tmp[46];
            size_t n = end - s;
            memcpy(tmp, t + s, n);
            tmp[n] = 0;
            size_t groups = 0;
            bool compressed = strstr(tmp, "::") != NULL;
            for (size_t q = 0; q < n; q++)
                if (zt_hex_digit(tmp[q]) >= 0 && (q == 0 || tmp[q - 1] == ':')) groups++;
            if (groups < 2 && !(compressed && groups >= 1)) continue;
            struct in6_addr a;
            if (inet_pton(AF_INET6, tmp, &a) == 1) best = end;
        }
        if (best) {
            add(c, ZT_PII_IP, s, best, 1.0);
            s = best - 1;
        } else {
            s = e - 1;
        }
    }
}

/* ---- ETH ---------------------------------------------------------------- */

bool zt_pii_eth_ok(const char *s, size_t n)
{
    if (n != 42 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
    bool lower = false, upper = false;
    char low[40];
    for (size_t i = 0; i < 40; i++) {
        unsigned char ch = (unsigned char)s[2 + i];
        if (zt_hex_digit((char)ch) < 0) return false;
        if (ch >= 'a' && ch <= 'f') lower = true;
        if (ch >= 'A' && ch <= 'F') upper = true;
        low[i] = (char)((ch >= 'A' && ch <= 'F') ? ch + 32 : ch);
    }
    if (!(lower && upper)) return true; /* no checksum to check */
    uint8_t h[ZT_KECCAK256_LEN];
    zt_keccak256(h, low, 40);
    for (size_t i = 0; i < 40; i++) {
        unsigned char ch = (unsigned char)s[2 + i];
        if (zt_ascii_digit(ch)) continue;
        unsigned nib = (i % 2 == 0) ? h[i / 2] >> 4 : h[i / 2] & 0x0f;
        if ((nib >= 8) != (ch >= 'A' && ch <= 'F')) return false;
    }
    return true;
}

static void scan_eth(const char *t, size_t len, struct cands *c)
{
    for (size_t s = 0; s + 42 <= len && !c->err; s++) {
        if (t[s] != '0' || (t[s + 1] != 'x' && t[s + 1] != 'X')) continue;
        if (s > 0 && is_word((unsigned char)t[s - 1])) continue;
        if (s + 42 < len && is_word((unsigned char)t[s + 42])) continue;
        if (!zt_pii_eth_ok(t + s, 42)) continue;
        add(c, ZT_PII_ETH, s, s + 42, 1.0);
        s += 41;
    }
}

/* ---- BTC ---------------------------------------------------------------- */

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static int b58_val(unsigned char ch)
{
    const char *p = ch ? strchr(b58_alphabet, ch) : NULL;
    return p ? (int)(p - b58_alphabet) : -1;
}

/* base58check address: 25 bytes = version, 20-byte hash, 4-byte checksum
 * (first 4 bytes of SHA-256(SHA-256(version || hash))). */
static bool b58check_ok(const char *s, size_t n)
{
    if (n < 26 || n > 35) return false;
    uint8_t out[25];
    memset(out, 0, sizeof out);
    size_t leading = 0;
    while (leading < n && s[leading] == '1') leading++;
    for (size_t i = 0; i < n; i++) {
        int v = b58_val((unsigned char)s[i]);
        if (v < 0) return false;
        unsigned carry = (unsigned)v;
        for (size_t j = 25; j-- > 0;) {
            carry += 58u * out[j];
            out[j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        if (carry) return false; /* more than 25 bytes */
    }
    /* leading '1's encode leading zero bytes one to one */
    size_t zeros = 0;
    while (zeros < 25 && out[zeros] == 0) zeros++;
    if (zeros != leading) return false;
    uint8_t v = out[0];
    if (!(v == 0x00 || v == 0x05 || v == 0x6f || v == 0xc4)) return false;
    uint8_t h1[ZT_SHA256_LEN], h2[ZT_SHA256_LEN];
    zt_sha256(h1, out, 21);
    zt_sha256(h2, h1, sizeof h1);
    return memcmp(h2, out + 21, 4) == 0;
}

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t bech32_polymod_step(uint32_t pre)
{
    static const uint32_t gen[5] = {0x3b6a57b2u, 0x26508e6du, 0x1ea119fau, 0x3d4233ddu, 0x2a1462b3u};
    uint32_t b = pre >> 25, c = (pre & 0x1ffffffu) << 5;
    for (unsigned i = 0; i < 5; i++)
        if ((b >> i) & 1u) c ^= gen[i];
    return c;
}

/* BIP 173 / BIP 350 segwit address with hrp bc or tb. */
static bool bech32_ok(const char *s, size_t n)
{
    if (n < 14 || n > 90) return false;
    bool lower = false, upper = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 'a' && ch <= 'z') lower = true;
        if (ch >= 'A' && ch <= 'Z') upper = true;
    }
    if (lower && upper) return false;
    size_t sep = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '1') sep = i;
    if (sep != 2) return false;
    char hrp[2] = {(char)(s[0] | 0x20), (char)(s[1] | 0x20)};
    if (!((hrp[0] == 'b' && hrp[1] == 'c') || (hrp[0] == 't' && hrp[1] == 'b'))) return false;
    uint8_t data[90];
    size_t nd = 0;
    for (size_t i = sep + 1; i < n; i++) {
        const char *p = strchr(bech32_charset, s[i] | 0x20);
        if (!p || !s[i]) return false;
        data[nd++] = (uint8_t)(p - bech32_charset);
    }
    if (nd < 7) return false;
    uint32_t chk = 1;
    for (size_t i = 0; i < 2; i++) chk = bech32_polymod_step(chk) ^ ((uint32_t)hrp[i] >> 5);
    chk = bech32_polymod_step(chk);
    for (size_t i = 0; i < 2; i++) chk = bech32_polymod_step(chk) ^ ((uint32_t)hrp[i] & 0x1f);
    for (size_t i = 0; i < nd; i++) chk = bech32_polymod_step(chk) ^ data[i];
    unsigned version = data[0];
    if (version > 16) return false;
    uint32_t want = version == 0 ? 1u : 0x2bc830a3u;
    if (chk != want) return false;
    /* witness program: 5-bit groups to bytes, 2..40 bytes, v0 = 20 or 32 */
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t plen = 0;
    for (size_t i = 1; i + 6 < nd; i++) {
        acc = (acc << 5) | data[i];
        bits += 5;
        while (bits >= 8) {
            bits -= 8;
            plen++;
        }
    }
    if (bits >= 5 || (acc & ((1u << bits) - 1))) return false;
    if (plen < 2 || plen > 40) return false;
    if (version == 0 && plen != 20 && plen != 32) return false;
    return true;
}

bool zt_pii_btc_ok(const char *s, size_t n)
{
    if (n >= 3 && s[2] == '1' &&
        (((s[0] | 0x20) == 'b' && (s[1] | 0x20) == 'c') || ((s[0] | 0x20) == 't' && (s[1] | 0x20) == 'b')))
        return bech32_ok(s, n);
    return b58check_ok(s, n);
}

static void scan_btc(const char *t, size_t len, struct cands *c)
{
    for (size_t s = 0; s + 26 <= len && !c->err; s++) {
        unsigned char ch = (unsigned char)t[s];
        if (!(ch == '1' || ch == '3' || ch == 'm' || ch == 'n' || ch == '2' || ch == 'b' || ch == 'B' ||
              ch == 't' || ch == 'T'))
            continue;
        if (s > 0 && is_word((unsigned char)t[s - 1])) continue;
        size_t e = s;
        while (e < len && zt_ascii_alnum((unsigned char)t[e]) && e - s < 91) e++;
        if (e < len && is_word((unsigned char)t[e])) continue;
        if (zt_pii_btc_ok(t + s, e - s)) {
            add(c, ZT_PII_BTC, s, e, 1.0);
            s = e - 1;
        }
    }
}

/* ---- custom patterns ---------------------------------------------------- */

/* Patterns are compiled in UTF mode: text that is not valid UTF-8 is
 * checked by the built-in scanners only. A pattern that hits its match
 * limit stops at that point (what it found so far is kept). */
static void scan_custom(const struct zt_pii_detector *d, const char *t, size_t len, struct cands *c)
{
    if (!d || !d->n_custom || !zt_utf8_valid(t, len)) return;
    for (size_t k = 0; k < d->n_custom && !c->err; k++) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(d->custom[k].re, NULL);
        if (!md) {
            c->err = ZT_ENOMEM;
            return;
        }
        PCRE2_SIZE off = 0;
        while (off <= len && !c->err) {
            int rc = pcre2_match(d->custom[k].re, (PCRE2_SPTR)t, len, off, PCRE2_NO_UTF_CHECK, md, d->mctx);
            if (rc < 0) break; /* no match, bad UTF-8 or match limit: nothing more */
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[1] <= ov[0]) {
                off = ov[0] + 1; /* empty match: step on */
                while (off < len && ((unsigned char)t[off] & 0xc0) == 0x80) off++;
                continue;
            }
            if (ov[1] > len || ov[0] > len) break;
            add(c, (unsigned)(ZT_PII_N_BUILTIN + k), ov[0], ov[1], ZT_PII_CUSTOM_CONFIDENCE);
            off = ov[1];
        }
        pcre2_match_data_free(md);
    }
}

/* ---- resolution --------------------------------------------------------- */

static int cmp_rank(const void *pa, const void *pb)
{
    const struct zt_pii_hit *a = pa, *b = pb;
    if (a->confidence != b->confidence) return a->confidence > b->confidence ? -1 : 1;
    size_t la = a->end - a->start, lb = b->end - b->start;
    if (la != lb) return la > lb ? -1 : 1;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    return 0;
}

static int cmp_start(const void *pa, const void *pb)
{
    const struct zt_pii_hit *a = pa, *b = pb;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return 0;
}

/* Greedy by rank: a candidate is kept when it overlaps nothing kept before.
 * Kept hits are looked up in an array sorted by start (binary search). */
static int resolve(struct cands *c, struct zt_pii_hits *out)
{
    if (c->n) qsort(c->v, c->n, sizeof c->v[0], cmp_rank);
    struct zt_pii_hit *kept = zt_calloc(c->n ? c->n : 1, sizeof *kept);
    if (!kept) return ZT_ENOMEM;
    size_t nk = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct zt_pii_hit *h = &c->v[i];
        /* first kept with start >= h->start */
        size_t lo = 0, hi = nk;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (kept[mid].start < h->start) lo = mid + 1;
            else hi = mid;
        }
        if (lo < nk && kept[lo].start < h->end) continue;
        if (lo > 0 && kept[lo - 1].end > h->start) continue;
        if (nk >= ZT_PII_MAX_HITS) {
            zt_free(kept);
            return ZT_ETOOBIG;
        }
        memmove(kept + lo + 1, kept + lo, (nk - lo) * sizeof *kept);
        kept[lo] = *h;
        nk++;
    }
    if (nk) qsort(kept, nk, sizeof *kept, cmp_start); /* already sorted; keeps the contract obvious */
    zt_free(out->v);
    out->v = kept;
    out->n = nk;
    out->cap = c->n ? c->n : 1;
    return 0;
}

/* ---- US_SSN ----------------------------------------------------------------- */

/* t[i, end) begins with w (lower case, wl bytes), ASCII case ignored in t. */
static bool lower_word_at(const char *t, size_t i, size_t end, const char *w, size_t wl)
{
    if (i + wl > end) return false;
    for (size_t q = 0; q < wl; q++) {
        char ch = t[i + q];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        if (ch != w[q]) return false;
    }
    return true;
}

/* Words before a number that make it an identifier ("ssn", "social security"). */
static bool context_before(const char *t, size_t s, const char *const *words)
{
    size_t from = s > 40 ? s - 40 : 0;
    for (size_t i = from; i < s; i++)
        for (size_t k = 0; words[k]; k++)
            if (lower_word_at(t, i, s, words[k], strlen(words[k])) &&
                (i == 0 || !zt_ascii_alpha((unsigned char)t[i - 1])))
                return true;
    return false;
}

static unsigned num_at(const char *t, size_t i, size_t n)
{
    unsigned v = 0;
    for (size_t k = 0; k < n; k++) v = v * 10 + (unsigned)(t[i + k] - '0');
    return v;
}

/* Review 8 F14: the keyword-free spaced shape is no SSN where the number is
 * a draw or a result ("the numbers 123 45 6789 won", "winning numbers were
 * ..."): a word before within 40 bytes, or one right after the number. */
static bool ssn_counter_cue(const char *t, size_t len, size_t s, size_t e)
{
    static const char *const before[] = {"numbers", "digits", "lottery", "lotto", "draw", "drawn", "winning",
                                         "jackpot", "powerball", "bingo", "keno", "combination", "combo", "sequence",
                                         "results", "odds", "picks", NULL};
    static const char *const after[] = {"won", "win", "wins", "winning", "came up", "were drawn", "was drawn",
                                        "drawn", NULL};
    if (context_before(t, s, before)) return true;
    size_t i = e;
    while (i < len && (t[i] == ' ' || t[i] == ',')) i++;
    for (size_t k = 0; after[k]; k++) {
        size_t wl = strlen(after[k]);
        if (lower_word_at(t, i, len, after[k], wl) && (i + wl == len || !zt_ascii_alpha((unsigned char)t[i + wl])))
            return true;
    }
    return false;
}

/* The numbers the SSA voided or never issued that people quote as examples
 * (123-45-6789, Woolworth's 078-05-1120, 219-09-9999): an SSN only with a
 * keyword before them. */
static bool ssn_example(unsigned area, unsigned grp, unsigned ser)
{
    return (area == 123 && grp == 45 && ser == 6789) || (area == 78 && grp == 5 && ser == 1120) ||
           (area == 219 && grp == 9 && ser == 9999);
}

/* AAA-GG-SSSS (or spaces, or 9 digits after "ssn"; spaces also after a tax
 * word): area 001-899 but not
 * 666, group 01-99, serial 0001-9999 (the SSA's rules since 2011). */
static void scan_ssn(const char *t, size_t len, struct cands *c)
{
    static const char *const ctx[] = {"ssn", "social security", "social", "ss#", "ss no", NULL};
    /* AAA GG SSSS with spaces (no phone has that shape) after a tax or payroll word */
    static const char *const ctx_other[] = {"room", "suite", "flat", "apt", "order", "invoice", "ticket", "tracking",
                                            "ref", "case", "item", "part", "serial", "model", "code", "pin", "otp",
                                            "ext", "tel", "phone", "call", "fax", "isbn", "page", "lot", "batch",
                                            "version", "zip", "account", "acct", "routing", "sort", "example",
                                            "sample", "test", "fake", "dummy", "invalid", "score", "scores", "table",
                                            "row", "seat", "flight", "train", "bus", "gate", "platform", "parcel",
                                            "policy", "claim", "member", "customer", "patient", "student", "employee",
                                            "badge", "locker", "booking", "reservation", "confirmation", NULL};
    static const char *const ctx_tax[] = {"tax", "irs", "payroll", "w-2", "w2", "w-9", "w9", "1099", "employer",
                                          "medicare", "benefits", "id number", NULL};
    for (size_t s = 0; s + 9 <= len && !c->err; s++) {
        if (!zt_ascii_digit((unsigned char)t[s]) || num_left_joined(t, s)) continue;
        if (s > 0 && (t[s - 1] == '#' || t[s - 1] == '$')) continue;
        size_t e;
        char sep = 0;
        if (s + 11 <= len && zt_ascii_digit((unsigned char)t[s + 1]) && zt_ascii_digit((unsigned char)t[s + 2]) &&
            (t[s + 3] == '-' || t[s + 3] == ' ') && zt_ascii_digit((unsigned char)t[s + 4]) &&
            zt_ascii_digit((unsigned char)t[s + 5]) && t[s + 6] == t[s + 3] && zt_ascii_digit((unsigned char)t[s + 7]) &&
            zt_ascii_digit((unsigned char)t[s + 8]) && zt_ascii_digit((unsigned char)t[s + 9]) && zt_ascii_digit((unsigned char)t[s + 10])) {
            sep = t[s + 3];
            e = s + 11;
        } else {
            size_t k = s;
            while (k < len && zt_ascii_digit((unsigned char)t[k])) k++;
            if (k - s != 9) continue;
            e = k;
        }
        if (num_right_joined(t, len, e)) continue;
        size_t g = sep ? s + 4 : s + 3, q = sep ? s + 7 : s + 5;
        unsigned area = num_at(t, s, 3), grp = num_at(t, g, 2), ser = num_at(t, q, 4);
        if (area == 0 || area == 666 || area >= 900 || grp == 0 || ser == 0) continue;
        bool ctx_ok = context_before(t, s, ctx);
        double conf;
        if (sep == '-') conf = ctx_ok ? 0.95 : 0.8;
        else if (ctx_ok) conf = 0.85; /* spaces or bare 9 digits: only after "ssn" */
        else if (sep == ' ' && context_before(t, s, ctx_tax)) conf = 0.8; /* "the tax office asked for 123 45 6789" */
        /* round 8: AAA GG SSSS with spaces is the card's own shape (no phone has it): an SSN unless
         * a word before says the number is something else or an example ("room 123 45 6789") */
        else if (sep == ' ' && !context_before(t, s, ctx_other) && !ssn_counter_cue(t, len, s, e) &&
                 !ssn_example(area, grp, ser))
            conf = 0.7;
        else continue;
        add(c, ZT_PII_US_SSN, s, e, conf);
        s = e;
    }
}

/* ---- UK_NINO ------------------------------------------------------------------- */

/* Two letters (the first not D F I Q U V, the second not D F I O Q U V; not
 * BG GB KN NK NT TN ZZ; QQ, HMRC's documented example, is accepted), six
 * digits (pairs may be spaced), a suffix A-D. Upper case, or lower case
 * after "ni"/"nino"/"national insurance". */
static void scan_nino(const char *t, size_t len, struct cands *c)
{
    static const char *const ctx[] = {"nino", "ni number", "ni no", "ni:", "national insurance", "my ni", NULL};
    for (size_t s = 0; s + 9 <= len && !c->err; s++) {
        if (!zt_ascii_alpha((unsigned char)t[s]) || (s > 0 && is_word((unsigned char)t[s - 1]))) continue;
        char a = t[s], b = t[s + 1];
        bool upper = is_upper((unsigned char)a) && is_upper((unsigned char)b);
        if (!zt_ascii_alpha((unsigned char)b)) continue;
        /* cheap first: two letters then a digit or a space and a digit */
        if (!(zt_ascii_digit((unsigned char)t[s + 2]) || (t[s + 2] == ' ' && zt_ascii_digit((unsigned char)t[s + 3])))) continue;
        a = (char)(a & ~0x20);
        b = (char)(b & ~0x20);
        bool qq = a == 'Q' && b == 'Q';
        if (!qq && (strchr("DFIQUV", a) || strchr("DFIOQUV", b))) continue;
        static const char *const bad[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
        bool isbad = false;
        for (size_t k = 0; k < 7; k++) isbad |= a == bad[k][0] && b == bad[k][1];
        if (isbad) continue;
        size_t i = s + 2, digits = 0;
        bool spaced = i < len && t[i] == ' ';
        while (i < len && digits < 6) {
            if (spaced && digits % 2 == 0) {
                if (t[i] != ' ') break;
                i++;
            }
            if (i + 1 >= len || !zt_ascii_digit((unsigned char)t[i]) || !zt_ascii_digit((unsigned char)t[i + 1])) break;
            i += 2;
            digits += 2;
        }
        if (digits != 6) continue;
        if (spaced && i < len && t[i] == ' ') i++;
        if (i >= len) continue;
        char suf = (char)(t[i] & ~0x20);
        if (suf < 'A' || suf > 'D' || (upper && !is_upper((unsigned char)t[i]))) continue;
        size_t e = i + 1;
        if (e < len && is_word((unsigned char)t[e])) continue;
        if (!upper && !context_before(t, s, ctx)) continue;
        /* round 9: HMRC's example prefix named as an example ("dummy NINO QQ 12 34 56 C") */
        static const char *const sample[] = {"dummy", "example", "sample", "test", "fake", "placeholder", "template", NULL};
        if (qq && context_before(t, s, sample)) continue;
        if (qq) { /* "... QQ 12 34 56 C is just the sample on the leaflet" */
            bool after = false;
            for (size_t q = e; q < len && q < e + 40 && !after; q++)
                for (size_t k = 0; sample[k] && !after; k++) {
                    size_t wl = strlen(sample[k]);
                    after = q + wl <= len && memcmp(t + q, sample[k], wl) == 0;
                }
            if (after) continue;
        }
        add(c, ZT_PII_UK_NINO, s, e, qq ? 0.8 : 0.95);
        s = e;
    }
}

/* ---- ADDRESS ------------------------------------------------------------------- */

static const char *const street_words[] = {
    "street", "st", "road", "rd", "avenue", "ave", "av", "lane", "ln", "drive", "dr", "way", "close", "court",
    "ct", "place", "pl", "boulevard", "blvd", "terrace", "crescent", "grove", "gardens", "square", "sq", "hill",
    "parade", "row", "walk", "mews", "highway", "hwy", "parkway", "pkwy", "circle", "cir", "trail", "trl",
    "broadway", "plaza", "alley", "path", "pike", "vale", "rise", "green", "park", NULL};

static bool word_in(const char *w, size_t n, const char *const *list)
{
    if (n == 0) return false;
    char c0 = (char)(w[0] | 0x20);
    for (size_t k = 0; list[k]; k++) {
        if (list[k][0] != c0) continue; /* most entries differ in the first letter: no strlen */
        size_t l = strlen(list[k]);
        if (l != n) continue;
        bool eq = true;
        for (size_t q = 0; q < n && eq; q++) eq = (char)(w[q] | 0x20) == list[k][q];
        if (eq) return true;
    }
    return false;
}

/* A UK postcode at s (A9 9AA, A99 9AA, AA9 9AA, AA99 9AA, A9A 9AA, AA9A
 * 9AA, upper case): its end, or 0. */
static size_t uk_postcode(const char *t, size_t len, size_t s)
{
    if (s > 0 && is_word((unsigned char)t[s - 1])) return 0;
    size_t j = s, a = 0;
    while (j < len && is_upper((unsigned char)t[j]) && a < 2) j++, a++;
    if (!a || j >= len || !zt_ascii_digit((unsigned char)t[j])) return 0;
    j++;
    if (j < len && (zt_ascii_digit((unsigned char)t[j]) || is_upper((unsigned char)t[j]))) j++;
    if (j + 4 > len || t[j] != ' ' || !zt_ascii_digit((unsigned char)t[j + 1]) || !is_upper((unsigned char)t[j + 2]) ||
        !is_upper((unsigned char)t[j + 3]))
        return 0;
    if (j + 4 < len && is_word((unsigned char)t[j + 4])) return 0;
    return j + 4;
}

/* After a street (or a PO box) ending at e: ", City" then ", ST 12345" or a
 * UK postcode ("Leeds LS6 2AB" too) belong to the address; the new end. */
static size_t address_tail(const char *t, size_t len, size_t e)
{
    size_t x = e;
    if (!(x + 2 < len && t[x] == ',' && t[x + 1] == ' ' && is_upper((unsigned char)t[x + 2]))) return e;
    size_t ce = x + 2, direct_pc = 0;
    for (;;) {
        /* "Hay-on-Wye", "Stratford-upon-Avon": hyphens inside a town's name */
        while (ce < len && (zt_ascii_alpha((unsigned char)t[ce]) ||
                            (t[ce] == '-' && ce + 1 < len && zt_ascii_alpha((unsigned char)t[ce + 1]))))
            ce++;
        if (!(ce + 1 < len && t[ce] == ' ' && is_upper((unsigned char)t[ce + 1]))) break;
        if ((direct_pc = uk_postcode(t, len, ce + 1)) != 0) break; /* "Leeds LS6 2AB" */
        size_t q = ce + 1;
        while (q < len && zt_ascii_alpha((unsigned char)t[q])) q++;
        if (q < len && is_word((unsigned char)t[q])) break; /* not a word of the city */
        ce = q;
    }
    if (direct_pc) return direct_pc;
    size_t y = ce;
    if (y < len && t[y] == ',') y++;
    if (y < len && t[y] == ' ') y++;
    size_t pc = y < len ? uk_postcode(t, len, y) : 0;
    if (pc) return pc;
    if (y + 2 < len && is_upper((unsigned char)t[y]) && is_upper((unsigned char)t[y + 1]) && t[y + 2] == ' ') {
        size_t z = y + 3, zd = z;
        while (zd < len && zt_ascii_digit((unsigned char)t[zd])) zd++;
        if (zd - z == 5 && (zd >= len || !is_word((unsigned char)t[zd]))) return zd;
    }
    return ce;
}

/* Round 9: "PO Box 778", "P.O. Box 12": the end of the box number, or 0. */
static size_t po_box(const char *t, size_t len, size_t s)
{
    if (s > 0 && is_word((unsigned char)t[s - 1])) return 0;
    size_t k = s;
    if (k + 2 <= len && t[k] == 'P' && (t[k + 1] | 0x20) == 'o') k += 2;
    else if (k + 4 <= len && t[k] == 'P' && t[k + 1] == '.' && t[k + 2] == 'O' && t[k + 3] == '.') k += 4;
    else return 0;
    if (k < len && t[k] == ' ') k++;
    if (k + 4 > len || (t[k] | 0x20) != 'b' || (t[k + 1] | 0x20) != 'o' || (t[k + 2] | 0x20) != 'x' || t[k + 3] != ' ')
        return 0;
    k += 4;
    size_t d = k;
    while (k < len && zt_ascii_digit((unsigned char)t[k]) && k - d < 7) k++;
    if (k == d || (k < len && is_word((unsigned char)t[k]))) return 0;
    return k;
}

/* "42 Maple Street", "221B Baker Street", "1600 Pennsylvania Avenue NW",
 * "350 Fifth Ave": a house number (1-5 digits, a letter may follow), one to
 * three capitalised words, a street word; then, when they follow, ", City",
 * a US state and ZIP code or a UK postcode are part of the span. A UK
 * postcode alone is an address too. */
static void scan_address(const char *t, size_t len, struct cands *c)
{
    for (size_t s = 0; s < len && !c->err; s++) {
        size_t pe = uk_postcode(t, len, s);
        if (pe) {
            add(c, ZT_PII_ADDRESS, s, pe, 0.85);
            s = pe - 1;
            continue;
        }
        size_t box = po_box(t, len, s);
        /* "PO Box 318, 12 Station Road, ...": the street that follows carries the address */
        if (box && box + 2 < len && t[box] == ',' && t[box + 1] == ' ' && zt_ascii_digit((unsigned char)t[box + 2]))
            box = 0;
        if (box) {
            size_t be = address_tail(t, len, box);
            add(c, ZT_PII_ADDRESS, s, be, be > box ? 0.9 : 0.85);
            s = be;
            continue;
        }
        if (!zt_ascii_digit((unsigned char)t[s]) || num_left_joined(t, s)) continue;
        if (s > 0 && (t[s - 1] == '#' || t[s - 1] == '$')) continue;
        size_t k = s;
        while (k < len && zt_ascii_digit((unsigned char)t[k])) k++;
        if (k - s > 5) {
            s = k;
            continue;
        }
        if (k < len && zt_ascii_alpha((unsigned char)t[k]) && (k + 1 >= len || t[k + 1] == ' ')) k++;
        size_t words = 0, end = 0;
        while (k < len && t[k] == ' ' && words < 4) {
            size_t ws = k + 1, we = ws;
            /* round 9: an ordinal street name ("W 23rd St", "West 57th Street") */
            bool ordinal = false;
            if (ws < len && zt_ascii_digit((unsigned char)t[ws]) && words >= 1) {
                size_t q = ws;
                while (q < len && zt_ascii_digit((unsigned char)t[q]) && q - ws < 3) q++;
                if (q + 2 <= len && (q + 2 == len || !is_word((unsigned char)t[q + 2])) &&
                    (memcmp(t + q, "st", 2) == 0 || memcmp(t + q, "nd", 2) == 0 || memcmp(t + q, "rd", 2) == 0 ||
                     memcmp(t + q, "th", 2) == 0)) {
                    ordinal = true;
                    we = q + 2;
                }
            }
            while (!ordinal && we < len && zt_ascii_alpha((unsigned char)t[we])) we++;
            if (we == ws) break;
            bool cap = ordinal || is_upper((unsigned char)t[ws]);
            /* "1200 Broadway": a street of one word, after a house number of 3+ digits */
            bool alone = words == 0 && k - s >= 3 && we - ws == 8 && memcmp(t + ws, "Broadway", 8) == 0;
            if ((words >= 1 || alone) && cap && word_in(t + ws, we - ws, street_words)) {
                end = we;
                /* round 9: two street words ("Kensington Park Gardens", "Church Hill Road") */
                if (end + 1 < len && t[end] == ' ' && is_upper((unsigned char)t[end + 1])) {
                    size_t x2 = end + 1;
                    while (x2 < len && zt_ascii_alpha((unsigned char)t[x2])) x2++;
                    if ((x2 >= len || !is_word((unsigned char)t[x2])) && word_in(t + end + 1, x2 - end - 1, street_words))
                        end = x2;
                }
                if (end < len && t[end] == '.') end++;
                break;
            }
            if (!cap) break;
            words++;
            k = we;
        }
        if (!end) continue;
        /* a direction: "Avenue NW" */
        size_t e = end;
        if (e + 2 < len && t[e] == ' ' && is_upper((unsigned char)t[e + 1])) {
            size_t d = e + 1, de = d;
            while (de < len && is_upper((unsigned char)t[de])) de++;
            static const char *const dirs[] = {"n", "s", "e", "w", "ne", "nw", "se", "sw", NULL};
            if ((de >= len || !is_word((unsigned char)t[de])) && word_in(t + d, de - d, dirs)) e = de;
        }
        e = address_tail(t, len, e);
        add(c, ZT_PII_ADDRESS, s, e, e > end ? 0.9 : 0.85);
        s = e;
    }
}

/* ---- PERSON_NAME ------------------------------------------------------------ */

/* One allocation: this header, then name[], kind[] and buf. */
struct names {
    char *buf;     /* the payload, lines "name<TAB>u|a\n" sorted by name */
    const char **name;
    char *kind; /* 'u' a name, 'a' a name that is also a word, 'w' a word */
    size_t n;
};

static const char *const name_before[] = {
    "hi", "hey", "hello", "thanks", "thank", "thx", "ty", "cheers", "dear", "bye", "ask", "asked", "tell", "told",
    "cc", "meet", "meeting", "met", "ping", "cardholder", "beneficiary", "payee", "congrats", "congratulations", "sorry", "dm", "yo", "morning", "night",
    "remind", "miss", "mr", "mrs", "ms", "dr", "uncle", "aunt", "auntie", "cousin", "brother", "sister", "son",
    "daughter", "wife", "husband", "boyfriend", "girlfriend", "friend", "boss", "colleague", "manager", "and",
    /* round 12: greetings, thanks and "and" of the other languages the features cover */
    "merci", "grazie", "gracias", "hola", "makasih", "danke", "obrigado", "obrigada", "ciao", "salut", "bonjour",
    "hallo", "hej", "tack", "bedankt", "dzieki", "buongiorno", "buenas", "et", "und", "og", "och", "ve", "sama", NULL};
/* weaker: a listed name after these is a person, an unknown word is not ("from Tesco") */
static const char *const name_before_weak[] = {"with", "or", "from", "to", "for", "by", "see", "saw", "call", "called",
                                               "email", "text", "message", "invite", "invited", "love", "like",
                                               "visit", "visiting", "via", "per", "unlike", "ask", "did", "does",
                                               "has", "much", "again", "soon", "birthday", "anniversary", "luck",
                                               "ok", "okay", "yes", "yeah", "yep", "sure", "nope", "thing", "night",
                                               "evening", "afternoon", "lol", "omg", NULL};
/* verbs of a person after a name ("Sofia said"); copulas and modals count less */
static const char *const name_after[] = {"said", "says", "asked", "told", "thinks", "wants", "sent", "called", "texted",
                                         "emailed", "mentioned", "knows", "likes", "loves", "replied", "agreed", "left",
                                         "joined", "messaged", "promised", "reckons", "thought", "wrote", "needs",
                                         "already", "just", "also", "never", "always", "still", "booked", "bought",
                                         "brought", "came", "went", "arrived", "lands", "landed", "forgot", "isn",
                                         "wasn", "doesn", "didn", "hasn", "texts", "asks", "tells", "says",
                                         /* round 5: everyday verbs of a person */
                                         "lives", "paid", "pays", "drew", "plays", "played", "starts", "started",
                                         "works", "worked", "moved", "cooked", "baked", "drives", "drove", "made",
                                         "found", "won", "passed", "finished", "gave", "took", "feels", "felt",
                                         "cried", "laughed", "lent", "borrowed", "sings", "sang", NULL};
static const char *const name_after_weak[] = {"is", "was", "has", "had", "will", "can", "could", "would", "should",
                                              "got", "did", NULL};
static const char *const modal_after[] = {"you", "i", "we", "they", "he", "she", "it", "be", "this", "that", "there",
                                          "the", "a", "have", "not", "your", "our", "my", NULL};
static const char *const months[] = {"january", "february", "march", "april", "may", "june", "july", "august",
                                     "september", "october", "november", "december", "jan", "feb", "mar", "apr",
                                     "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", NULL};
static const char *const month_before[] = {"in", "on", "of", "since", "until", "till", "by", "next", "last", "this",
                                           "early", "late", "mid", "end", "during", "before", "after", "from", NULL};
static const char *const places[] = {"paris", "london", "sydney", "florence", "victoria", "austin", "dallas",
                                     "houston", "denver", "phoenix", "jordan", "georgia", "virginia", "carolina",
                                     "madison", "savannah", "chelsea", "brooklyn", "india", "china", "kenya",
                                     "israel", "lincoln", "washington", "vienna", "geneva", "adelaide", "orlando",
                                     "charlotte", "aurora", "camden", "darwin", "berlin", "dakota", "montana",
                                     "nevada", "sierra", "asia", "africa", "america", "europe", "france", "italia",
                                     "jersey", "york", "regent",
                                     /* round 5: cities that the model may read as names */
                                     "lyon", "atlanta", "boston", "chicago", "seattle", "miami", "dublin", "madrid",
                                     "rome", "milan", "lisbon", "porto", "amsterdam", "munich", "hamburg", "zurich",
                                     "brussels", "oslo", "stockholm", "helsinki", "prague", "athens", "marseille",
                                     "toulouse", "bordeaux", "nantes", "seville", "valencia", "naples", "turin",
                                     "bologna", "rotterdam", "utrecht", "antwerp", "bristol", "leeds", "glasgow",
                                     "cardiff", "belfast", "brighton", "santiago", "lima", "quito", "havana", NULL};
/* round 5: a capitalised word before these names a place or a firm ("Chase
 * Bank", "Hope Valley", "the Grace Hotel"); after these, a place or a thing
 * ("Santa Barbara", "Union Jack", "the Blue Van") */
static const char *const org_after[] = {"bank", "valley", "hotel", "street", "road", "avenue", "park", "lake", "river",
                                        "bay", "beach", "island", "station", "airport", "hospital", "school", "college",
                                        "university", "church", "centre", "center", "mall", "square", "bridge", "pad",
                                        "cafe", "restaurant", "bar", "pub", "inn", "hall", "tower", "building",
                                        "museum", "theatre", "theater", "cinema", "stadium", "arena", "gardens",
                                        "motors", "airlines", "ltd", "inc", "corp", "foundation", "clinic", "pharmacy",
                                        "bakery", "market", "county", "city", "falls", "springs", "heights", "lane", "drive",
                                        "close", "crescent", "terrace", "garden", "palace", "room", "fair", NULL};
static const char *const place_prefix[] = {"santa", "san", "saint", "st", "mount", "port", "fort", "lake", "cape",
                                           "union", "gare", "blue", "red", "green", "white", "black", "grey", "gray",
                                           "pink", "yellow", "orange", "purple", "golden", "silver", "royal", "north",
                                           "south", "east", "west", "upper", "lower", "great", "little", NULL};
static const char *const seasons[] = {"summer", "autumn", "winter", "spring", NULL};
/* round 7: verbs that a month, a season or a place does not do, and a
 * person's pronoun after the next word ("starts her new job") */
static const char *const person_verb[] = {"said", "says", "told", "tells", "asked", "asks", "texted", "messaged",
                                          "emailed", "replied", "promised", "wants", "thinks", "knows", "loves",
                                          "likes", "needs", "gave", "lost", "forgot", "laughed", "cried", "cooked",
                                          "baked", "signed", "rang", "wrote", "reckons", "agreed", "owes", "borrowed",
                                          NULL};
static const char *const person_object[] = {"her", "his", "me", "us", "him", "she", "he", "my", NULL};
/* ... but not after a copula or a preposition ("June is my favourite month") */
static const char *const not_person_verb[] = {"is", "was", "s", "are", "will", "has", "and", "with", "for", "to",
                                              "in", "on", "at", "of", "reminds", "means", "makes", NULL};
static const char *const season_next[] = {"starts", "started", "ends", "is", "was", "has", "came", "arrived", "lasts",
                                          "holidays", "holiday", "break", "term", "sale", "camp", "will", NULL};

/* greetings and words of other languages that the name lists hold */
static const char *const not_names[] = {"hola", "merci", "obrigado", "obrigada", "gracias", "danke", "ciao", "bonjour",
                                        "salut", "hallo", "grazie", "prego", "amigo", "amiga", "bueno", "buenas",
                                        "vale", "bitte", "oui", "non", "bien", "tschuss", "adios", "hej", "tak",
                                        "mama", "papa", "mum", "mom", "dad", "nana", "baba", "bro", "sis", "hi",
                                        "hey", "hello", "hiya", "felicidades", "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday", "sunday", "mr", "mrs", "ms", "dr", "mx", "prof",
                                        "sir", "madam", "granny", "grandma", "grandpa", "grandad", "granddad", "gran",
                                        "nan", "nanna", "auntie", "aunty", "uncle", "mummy", "daddy", "west", "east", "north",
                                        "south",
                                        /* round 12: grandparents, aunts and uncles in the other languages */
                                        "oma", "opa", "omi", "opi", "nonna", "nonno", "mamie", "papy", "abuela",
                                        "abuelo", "abuelita", "abuelito", "nenek", "kakek", "babcia", "dziadek",
                                        "mormor", "farmor", "morfar", "farfar", "vovo", "tante", "onkel", "oncle",
                                        "teyze", NULL};
/* * Round 5 (issue 16): first names the English list lacks, of the other
 * languages the features support and of many origins, lower-cased UTF-8
 * sorted by bytes (a binary search), and a few English words that are
 * names ("Autumn", "Summer", "Destiny"). A word the list does not know is
 * read as a name; a word the list calls English as a name that is also a
 * word. Common words of those languages are left out ("Rosa", "Paz"). */
static const char *const more_names[] = {
    "aaliyah", "aanya", "aarav", "abdi", "abdullah", "abebe", "abena", "abhishek", "abimbola", "abubakar",
    "achieng", "adaeze", "adaobi", "adebayo", "adeola", "adewale", "aditi", "aditya", "adwoa", "afia", "afonso",
    "afua", "agathe", "agnes", "agnieszka", "agustina", "ahmad", "ahmed", "ahmet", "aiko", "ailsa", "ainhoa",
    "aino", "aisha", "aishwarya", "aisling", "aissatou", "akash", "akira", "akosua", "akua", "alaa", "alejandro",
    "aleksandra", "alessandra", "alessandro", "alessia", "alexandru", "ali", "alva", "alvaro", "amaia", "amal",
    "amani", "amara", "amaya", "amelie", "amina", "aminata", "amir", "amira", "amit", "amélie", "ana", "anahi",
    "anais", "ananth", "ananya", "anastasia", "anastasiya", "anaya", "anaïs", "anders", "andrea", "andreea",
    "andrei", "andres", "andré", "andrés", "aneesh", "angus", "anh", "anika", "anil", "anita", "anjali", "anke",
    "ankit", "anneke", "annika", "anouk", "antoine", "antoni", "antonio", "antti", "aoi", "aoife", "apolline",
    "arash", "arjun", "arnav", "arthur", "arun", "aryan", "asha", "ashish", "ashwin", "asif", "astrid", "aurelie",
    "aurora", "aurélie", "autumn", "avi", "axel", "ayaan", "ayana", "ayesha", "ayodele", "ayse", "ayumi", "ayşe",
    "azadeh", "babajide", "balazs", "balázs", "baptiste", "baraka", "bartosz", "barış", "bashir", "basia",
    "beatrice", "beatriz", "begona", "begoña", "belén", "bence", "benjamín", "benoit", "benoît", "bertrand",
    "bethan", "bhavna", "bilal", "bintou", "birgit", "birgitte", "bisi", "bjorn", "björn", "bogdan", "bogdana",
    "bohdan", "bongani", "bram", "brigitte", "bruna", "bruno", "bukola", "burak", "busisiwe", "caio", "callum",
    "camila", "camille", "caoimhe", "capucine", "carlo", "carmen", "carolina", "carys", "catalina", "catarina",
    "cathal", "catriona", "cecile", "celine", "cem", "cerys", "chiamaka", "chiara", "chidera", "chidi", "chidinma",
    "chike", "chinedu", "chinonso", "chioma", "chipo", "chitra", "chloé", "cian", "ciara", "claudio", "clemence",
    "clement", "clodagh", "clémence", "clément", "constança", "consuelo", "cristian", "cristina", "cécile",
    "céline", "daan", "dafydd", "daiki", "dalia", "damien", "damilola", "damla", "daniela", "dapo", "dario",
    "darius", "dariush", "dariusz", "darragh", "davide", "dawid", "dawit", "deepa", "deepak", "deepika", "delfina",
    "delphine", "deniz", "deshawn", "despina", "destiny", "devendra", "devika", "dhruv", "diego", "dieter",
    "dilnoza", "dimitris", "dina", "diogo", "divya", "diya", "dmitri", "dmitry", "dmytro", "dolores", "dora",
    "duarte", "duc", "duong", "dylan", "dóra", "ebba", "ebere", "ece", "edoardo", "efua", "eilidh", "eirik",
    "eitan", "elena", "eleni", "elias", "elif", "elin", "eline", "elisa", "eliska", "eliška", "elodie", "elsa",
    "eluned", "emanuele", "emeka", "emil", "emilia", "emilie", "emilio", "emine", "emre", "enrico", "enzo", "eoin",
    "erik", "ernesto", "esperanza", "estefania", "eszter", "etienne", "euan", "eunji", "eveliina", "evgenia", "evi",
    "ewa", "ewan", "fabien", "fabio", "fabiola", "fadi", "faisal", "farah", "farhan", "farid", "farida", "fatima",
    "fatma", "fatou", "federica", "federico", "felix", "femi", "femke", "fenna", "fernanda", "fernando", "ffion",
    "filip", "filipa", "filippo", "finn", "fionn", "fleur", "florencia", "florian", "florin", "folake", "francesca",
    "francesco", "francisco", "francois", "francoise", "franziska", "françois", "françoise", "fraser", "frederic",
    "frederik", "fredrik", "freja", "frieda", "frédéric", "funmi", "fynn", "gabriel", "gabriela", "gabriele",
    "gaelle", "gaia", "ganesh", "gaurav", "gayatri", "gaëlle", "geraldine", "gethin", "giacomo", "giada",
    "gianluca", "gianni", "gijs", "ginevra", "giorgia", "giorgio", "giorgos", "giovanni", "gisela", "giulia",
    "giuseppe", "gokhan", "goncalo", "gonzalo", "gonçalo", "gosia", "gregoire", "greta", "grzegorz", "grégoire",
    "guadalupe", "guillaume", "guillermo", "gunter", "gurpreet", "gustavo", "géraldine", "gökhan", "günter",
    "habib", "hadi", "hadiza", "hafsa", "hakan", "hakon", "halyna", "hamish", "hamza", "hana", "hannah", "hanneke",
    "hao", "harmony", "harpreet", "haruka", "haruto", "hassan", "hatice", "hayato", "hector", "hedda", "heike",
    "heinz", "helene", "helmut", "heloise", "henk", "henrik", "hiba", "hidde", "hina", "hinata", "hira", "hiroshi",
    "hodan", "horst", "huda", "hugo", "hui", "huong", "hussain", "hussein", "hyejin", "hyun", "håkon", "héctor",
    "héloïse", "hélène", "hương", "hạnh", "ibrahim", "ida", "idris", "ifeoma", "ignacio", "ikenna", "ilaria",
    "ilse", "imani", "imran", "inaki", "ineke", "ines", "ingrid", "inigo", "inès", "inês", "ioana", "iolo", "ionut",
    "irene", "irina", "iryna", "isa", "isabela", "isabelle", "isha", "ishaan", "isla", "ismail", "itai", "itzel",
    "itziar", "ivan", "ivana", "iñaki", "jabari", "jacek", "jakub", "jamal", "jamila", "jana", "janneke", "jannik",
    "janusz", "jari", "jasper", "jaspreet", "javier", "jaya", "jelena", "jens", "jeremy", "jeroen", "jerome",
    "jesper", "jesse", "jiahui", "jian", "jiho", "jihoon", "jimena", "jing", "jip", "jiri", "jisoo", "jiwoo",
    "jiří", "joana", "joanna", "joao", "joaquin", "joaquín", "joep", "johan", "johanna", "jonas", "joost", "jorge",
    "joris", "jose", "josé", "jovana", "joão", "juan", "juha", "jules", "julien", "juliette", "julián", "juno",
    "jurgen", "jyoti", "jérémy", "jérôme", "jörg", "jörgen", "júlia", "jürgen", "kaan", "kabir", "kacper",
    "kailani", "kainoa", "kaito", "kajal", "kalani", "kamau", "kamran", "karan", "kari", "karim", "karthik",
    "kasia", "kasper", "katalin", "katarzyna", "katerina", "kateřina", "katharina", "kaveh", "kavya", "kayode",
    "kees", "keisha", "kelechi", "kemal", "kemi", "kenji", "keoni", "kerem", "kerstin", "khadija", "khaled",
    "khalid", "kian", "kiara", "kiran", "kirsty", "klaus", "koen", "kofi", "kojo", "komal", "kostas", "krishna",
    "kristoffer", "krisztina", "krzysztof", "kunal", "kwabena", "kwame", "kwesi", "lachlan", "laila", "lakshmi",
    "larissa", "lars", "larysa", "laurent", "layla", "leandro", "leif", "leila", "leilani", "lena", "lennart",
    "leon", "leonardo", "leonie", "leonor", "lerato", "leticia", "letícia", "levente", "lieke", "lina", "ling",
    "linh", "linnea", "lior", "liv", "loic", "lola", "lorenzo", "lotta", "lotte", "lou", "louis", "loïc", "luana",
    "luca", "lucas", "lucia", "lucie", "lucía", "ludovica", "luis", "luiz", "luka", "lukas", "lukáš", "luuk",
    "luís", "léa", "maarten", "madhuri", "mads", "mael", "maeve", "magdalena", "magnus", "mahesh", "mahmoud",
    "maite", "maja", "makana", "malak", "malgorzata", "malik", "malte", "mamadou", "manfred", "manish", "manon",
    "manpreet", "manuel", "marcin", "marco", "marek", "margarida", "margaux", "margot", "mariam", "mariana",
    "marieke", "marisol", "marko", "marloes", "marta", "martina", "martine", "marwa", "maryam", "massimo", "mateo",
    "mateusz", "matheo", "mathieu", "mathilde", "mathis", "mathéo", "matilde", "matteo", "matthias", "matthieu",
    "matti", "mattia", "matías", "maud", "mauricio", "maxime", "maximilian", "maya", "maël", "maëlle", "małgorzata",
    "meera", "mehmet", "mei", "melanie", "melek", "melody", "mercedes", "merle", "merve", "mette", "mhairi", "mia",
    "michal", "michał", "miguel", "mihai", "mikael", "mikko", "minh", "minji", "minseo", "mio", "mireya", "mirthe",
    "mohamed", "mohammed", "mohit", "monika", "moritz", "moussa", "muhammad", "murat", "mustafa", "mykola",
    "mélanie", "nabil", "nadia", "nadine", "nadège", "nalani", "naledi", "nandini", "nasra", "nasrin", "natalia",
    "nataliya", "natasha", "nathalie", "naveen", "navneet", "neha", "nele", "nerea", "ngoc", "ngozi", "ngọc", "nia",
    "niamh", "niccolo", "nicolas", "nicolò", "niels", "nikhil", "niklas", "nikola", "nikolai", "nikos", "nils",
    "nilufar", "nirmala", "nisha", "nitin", "nkechi", "nnamdi", "noa", "noam", "noelani", "noelia", "noemie",
    "nomvula", "noor", "nour", "noura", "noé", "noémie", "nuno", "nurul", "obi", "obinna", "oceane", "océane",
    "oisin", "oisín", "oksana", "olav", "oleksandr", "oleksiy", "olena", "olga", "olivier", "oliwia", "olumide",
    "oluwaseun", "omar", "ondrej", "ondřej", "onur", "orla", "osagie", "oscar", "oskar", "otieno", "ozan", "pablo",
    "paco", "padraig", "paivi", "pallavi", "paolo", "parisa", "parminder", "pascal", "paula", "pauline", "paulo",
    "pawel", "paweł", "pepe", "pernille", "petr", "petra", "phuong", "phương", "pierluigi", "pierre", "pieter",
    "pietro", "pilar", "piotr", "pooja", "poonam", "pradeep", "prakash", "preeti", "priya", "pádraig", "päivi",
    "quentin", "radha", "rafael", "rafaela", "raffaele", "ragnar", "rahul", "rainer", "raj", "rajesh", "rajiv",
    "rakesh", "ramesh", "rami", "ramon", "ramón", "rania", "raphael", "raphaël", "raquel", "rashid", "rasmus",
    "raul", "ravi", "raúl", "reem", "reka", "rekha", "remi", "renata", "renate", "rené", "reza", "rhys", "riccardo",
    "riikka", "riku", "rita", "riya", "roberto", "rocio", "rocío", "rodrigo", "roel", "rohan", "rohit", "roisin",
    "romain", "roos", "ruairi", "ruairí", "ruben", "rubén", "rui", "réka", "rémi", "róisín", "saar", "sabine",
    "sachin", "saeed", "safiya", "saima", "sakura", "salma", "salvatore", "sami", "samir", "samira", "sandeep",
    "sandrine", "sanjay", "sanna", "sanne", "santiago", "sanya", "saoirse", "sapna", "sara", "saurabh", "savannah",
    "sean", "sebastien", "selam", "selin", "seojun", "seoyeon", "seren", "serenity", "sergei", "sergey", "sergio",
    "serkan", "seun", "seán", "shanice", "shanthi", "shira", "shirin", "shreya", "shubham", "shweta", "sibusiso",
    "siddharth", "sietske", "sigrid", "silke", "silvia", "simone", "simran", "sindre", "sinead", "sinéad",
    "siobhan", "sioned", "sipho", "siti", "sjoerd", "sneha", "sofia", "sofía", "solene", "solveig", "solène",
    "somchai", "sora", "soraya", "soren", "sota", "srinivas", "stefan", "stefano", "stellan", "stephanie", "stijn",
    "stéphanie", "suleiman", "summer", "sungmin", "sunil", "sunita", "suresh", "sven", "svenja", "svetlana",
    "svitlana", "swati", "sylvain", "sylvie", "szymon", "sébastien", "sérgio", "sören", "søren", "tadhg", "taeyang",
    "takeshi", "takumi", "tamar", "tamika", "tanisha", "tanvi", "tariku", "tariq", "tarun", "tatiana", "teresa",
    "tereza", "tess", "teun", "thabo", "thais", "thandiwe", "thanh", "thao", "thaís", "themba", "theo", "thiago",
    "thibault", "thierry", "thijs", "thorsten", "théo", "thảo", "tiago", "tigist", "tiina", "tijn", "timo", "tobi",
    "tobias", "tolga", "tolu", "tolulope", "tomas", "tomasz", "tommaso", "tomás", "tomáš", "torsten", "tove",
    "trang", "trinity", "tuan", "tunde", "tuấn", "uche", "uchenna", "ulrich", "umar", "ursula", "usman", "uwe",
    "valentina", "valeria", "valerie", "valérie", "vandana", "varun", "vasco", "venkat", "veronique", "vijay",
    "vikram", "viktor", "vincenzo", "virginie", "vitoria", "vittoria", "vitória", "vivek", "vlad", "vladimir",
    "volker", "vusi", "véronique", "walid", "wambui", "wanjiku", "wanjiru", "waqas", "wei", "wiktoria", "wim",
    "wojciech", "wolfgang", "wouter", "xavier", "xiaoling", "xiaoming", "xiaoyu", "ximena", "xiu", "yael", "yan",
    "yannick", "yannis", "yara", "yaroslav", "yasemin", "yasmin", "yasmine", "yeji", "yemi", "yevgenia", "yevgeny",
    "yiming", "yohannes", "yolanda", "yosef", "yousef", "youssef", "yui", "yuki", "yulia", "yuna", "yuri", "yusuf",
    "yuto", "yves", "zahra", "zainab", "zanele", "zeeshan", "zehra", "zeynep", "zhen", "zhiwei", "ziad", "zihan",
    "zodwa", "zofia", "zoran", "zoé", "zsofia", "zsolt", "zsófia", "zuri", "zuzanna", "álvaro", "ángel", "ángela",
    "åsa", "élodie", "émilie", "étienne", "íñigo", "óscar", "łukasz",
};

/* Round 12: the syllables of romanised Korean given names, sorted: a
 * hyphenated pair of them ("Seo-yeon", "Hyun-woo", "Ji-ho") is a given name
 * (the lists hold no Korean names and the hyphen made them two words). */
static const char *const ko_syllables[] = {
    "a", "ae", "ah", "bin", "bo", "bok", "byeong", "byung", "chae", "chan", "chang", "cheol", "chul", "chun",
    "da", "dae", "do", "dong", "du", "eun", "gang", "geon", "gi", "gu", "gun", "gyeong", "gyu", "ha", "hae",
    "han", "hee", "heon", "ho", "hoon", "hun", "hwa", "hwan", "hye", "hyeon", "hyo", "hyuk", "hyun", "hyung",
    "il", "in", "jae", "jang", "je", "jeong", "ji", "jin", "jo", "joo", "joon", "ju", "jun", "jung", "ka",
    "kang", "ki", "kook", "kwang", "kyeong", "kyu", "kyung", "mi", "min", "mo", "mun", "myeong", "myung", "na",
    "nam", "ok", "pil", "ra", "rae", "ran", "ri", "rin", "ro", "ryu", "sa", "sang", "se", "seo", "seok", "seon",
    "seong", "seung", "shin", "sik", "so", "sol", "soo", "su", "suk", "sun", "sung", "tae", "un", "ung", "won",
    "woo", "wook", "ye", "yeon", "yeong", "yi", "yong", "yoo", "yoon", "young", "yu", "yul", "yun",
};

/* Lower-case w[0..n) into out (ASCII, and the Latin-1 capitals of UTF-8
 * U+00C0..U+00DE but U+00D7); false when it does not fit. */
static bool fold_name(const char *w, size_t n, char *out, size_t cap)
{
    if (n + 1 > cap) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        else if (i > 0 && (unsigned char)w[i - 1] == 0xC3 && c >= 0x80 && c <= 0x9E && c != 0x97)
            c = (unsigned char)(c + 0x20);
        out[i] = (char)c;
    }
    out[n] = 0;
    return true;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* w[0..n), folded as fold_name() folds it, is in the sorted list[0..count). */
static bool folded_in(const char *w, size_t n, const char *const *list, size_t count)
{
    char key[32];
    if (!fold_name(w, n, key, sizeof key)) return false;
    const char *k = key;
    return bsearch(&k, list, count, sizeof *list, cmp_cstr) != NULL;
}

#define FOLDED_IN(w, n, list) folded_in((w), (n), (list), sizeof(list) / sizeof((list)[0]))

static bool more_name(const char *w, size_t n)
{
    return FOLDED_IN(w, n, more_names);
}

static int fold_cmp(const char *a, size_t an, const char *b, size_t bn);

/* Round 12: English closed-class words (pronouns, determiners, auxiliaries,
 * prepositions, conjunctions) and a few sentence openers: never a name at a
 * sentence's start ("She sang", "Our clinic", "Here's", "My SSN is"; "Will"
 * and "May" have rules of their own). Sorted. */
static const char *const function_words[] = {
    "a", "about", "after", "again", "all", "also", "always", "an", "and", "another", "any", "are", "as", "at",
    "be", "because", "been", "before", "both", "but", "by", "can", "could", "did", "do", "does", "done", "each",
    "even", "every", "for", "from", "get", "go", "got", "had", "has", "have", "he", "her", "here", "hers",
    "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "let", "lets", "many", "me",
    "might", "more", "most", "must", "my", "never", "next", "no", "not", "now", "of", "off", "on", "once",
    "one", "only", "or", "our", "ours", "out", "over", "please", "really", "same", "she", "should", "since",
    "so", "some", "still", "such", "than", "thank", "thanks", "that", "the", "their", "theirs", "them", "then",
    "there", "these", "they", "this", "those", "to", "today", "together", "tomorrow", "tonight", "too", "under",
    "until", "up", "us", "very", "was", "we", "well", "were", "what", "when", "where", "which", "while", "who",
    "whom", "whose", "why", "with", "would", "yes", "yesterday", "yet", "you", "your", "yours",
};

static bool function_word(const char *w, size_t n)
{
    return FOLDED_IN(w, n, function_words);
}

static bool ko_syllable(const char *w, size_t n)
{
    return n > 0 && FOLDED_IN(w, n, ko_syllables);
}

/* t[s, e) and then "-" and a lower-case syllable, both Korean and not the
 * same ("Ha-ha", "So-so" are no names): the end of the pair, else e. */
static size_t ko_pair_end(const char *t, size_t len, size_t s, size_t e)
{
    if (e + 2 >= len || t[e] != '-' || !ko_syllable(t + s, e - s)) return e;
    size_t q = e + 1;
    while (q < len && t[q] >= 'a' && t[q] <= 'z') q++;
    if (q < len && (is_word((unsigned char)t[q]) || (unsigned char)t[q] >= 0x80)) return e;
    if (!ko_syllable(t + e + 1, q - e - 1) || fold_cmp(t + s, e - s, t + e + 1, q - e - 1) == 0) return e;
    return q;
}

/* Names the English word list also holds but that chat uses as names
 * ("Carmen", "Jasper", "Sean"): read as names that are no word. */
static const char *const name_first[] = {"ana",  "axel",  "carmen", "clement", "dieter", "gunter",    "hector", "horst",
                                         "jasper", "jesse", "joanna", "lars",  "lotte",   "louis",  "maud",
                                         "merle", "nils",  "paco",   "paolo", "sabine",  "sean",   "veronique",
                                         /* round 7 */
                                         "oscar", "pilar", "obi", NULL};

static const char *const place_before[] = {"to", "in", "from", "at", "visit", "visiting", "via", "near", NULL};

static int name_cmp(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    size_t m = an < bn ? an : bn;
    for (size_t i = 0; i < m; i++) {
        char x = (char)(a[i] | 0x20), y = b[i];
        if (x != y) return (unsigned char)x < (unsigned char)y ? -1 : 1;
    }
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static bool eq_lit(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* -1: unknown; 0: a name; 1: a name that is also an English word; 2: a word */
static int name_find(const struct names *nm, const char *w, size_t n)
{
    size_t lo = 0, hi = nm->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = name_cmp(w, n, nm->name[mid]);
        if (r == 0) return nm->kind[mid] == 'u' ? 0 : nm->kind[mid] == 'a' ? 1 : 2;
        if (r < 0) hi = mid;
        else lo = mid + 1;
    }
    return -1;
}

/* The lower-cased word ending right before position i (spaces skipped), or 0. */
static size_t word_at_end(const char *t, size_t i, char *out, size_t cap, size_t *start)
{
    while (i > 0 && t[i - 1] == ' ') i--;
    size_t e = i;
    while (i > 0 && zt_ascii_alpha((unsigned char)t[i - 1])) i--;
    size_t n = e - i < cap - 1 ? e - i : cap - 1;
    for (size_t k = 0; k < n; k++) out[k] = (char)(t[i + k] | 0x20);
    out[n] = 0;
    *start = i;
    return n;
}

/* The word before position s (letters only), lower-cased into out. */
static size_t prev_word(const char *t, size_t s, char *out, size_t cap, bool *sentence_start, bool *comma)
{
    size_t i = s;
    *comma = false;
    while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '@')) i--;
    if (i == 0) {
        *sentence_start = true;
        return 0;
    }
    char p = t[i - 1];
    *sentence_start = p == '.' || p == '!' || p == '?' || p == '\n' || p == ':' || p == '"' || p == '(';
    *comma = p == ',';
    if (!zt_ascii_alpha((unsigned char)p)) return 0;
    size_t st;
    return word_at_end(t, i, out, cap, &st);
}

/* The lower-cased word starting at or after i (spaces skipped), or 0; *end
 * after it, *start at it. */
static size_t word_after(const char *t, size_t len, size_t i, char *out, size_t cap, size_t *start, size_t *end)
{
    while (i < len && t[i] == ' ') i++;
    size_t s = i;
    while (i < len && zt_ascii_alpha((unsigned char)t[i])) i++;
    size_t n = i - s < cap - 1 ? i - s : cap - 1;
    for (size_t k = 0; k < n; k++) out[k] = (char)(t[s + k] | 0x20);
    out[n] = 0;
    *start = s;
    *end = i;
    return n;
}

static size_t next_word(const char *t, size_t len, size_t e, char *out, size_t cap, bool *cap_next)
{
    size_t s, end;
    size_t n = word_after(t, len, e, out, cap, &s, &end);
    *cap_next = n > 0 && is_upper((unsigned char)t[s]);
    return n;
}

/* sign-offs and acknowledgements before "<word>, Name" ("Cheers, Rob", "ok, Carl") */
static const char *const signoff[] = {"thanks", "thank", "thx", "ty", "cheers", "best", "regards", "love", "sincerely",
                                      "yours", "wishes", "ok", "okay", "yes", "yeah", "yep", "sure", "no", "hi", "hey",
                                      "hello", "morning", "bye", "sorry", "congrats", "welcome", "xx", "xxx", "x",
                                      "ta", "later", "night", "xoxo", NULL};

/* Only spaces, closing punctuation, "x"s and emoji up to the end: the name ends the message. */
static bool at_message_end(const char *t, size_t len, size_t e)
{
    for (size_t i = e; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c >= 0x80 || c == ' ' || c == '!' || c == '.' || c == '?' || c == ')' || c == '\n') continue;
        if ((c == 'x' || c == 'X') && (i == e || t[i - 1] == ' ' || t[i - 1] == 'x' || t[i - 1] == 'X')) continue;
        return false;
    }
    return true;
}

/* Context that says the word at [s, e) is a person whatever the word is:
 * a sign-off or an acknowledgement and a comma before ("Cheers, Rob",
 * "ok Carl," is handled by the weak list), a name and a comma before
 * ("Sophie, Jack"), a dash signing off ("- Peter"), an introduction
 * ("this is Ruth", "I'm Priya,", "my name is Daniel"), a greeting a few
 * words back when the name ends the message ("thanks so much Will"). */
static bool person_context(const struct names *nm, const char *t, size_t len, size_t s, size_t e)
{
    char w[24];
    size_t ws;
    size_t i = s;
    while (i > 0 && t[i - 1] == ' ') i--;
    if (i > 0 && t[i - 1] == ',') {
        size_t n = word_at_end(t, i - 1, w, sizeof w, &ws);
        if (n && word_in(w, n, signoff)) return true;
        int f = name_find(nm, t + s, e - s);
        if (at_message_end(t, len, e) && (f == 0 || f == 1)) return true; /* "Welcome to the team, Oscar!" */
        if (n >= 2 && is_upper((unsigned char)t[ws]) && name_find(nm, t + ws, n) == 0) return true;
        return false;
    }
    if (i > 0 && t[i - 1] == '&') { /* "Alice & Bob" */
        size_t n = word_at_end(t, i - 1, w, sizeof w, &ws);
        return n >= 2 && is_upper((unsigned char)t[ws]) && name_find(nm, t + ws, n) >= 0 && name_find(nm, t + ws, n) < 2;
    }
    /* round 12: an en or em dash too ("\xe2\x80\x93 Joy", "\xe2\x80\x94 Evander") */
    bool udash = i >= 3 && (unsigned char)t[i - 3] == 0xE2 && (unsigned char)t[i - 2] == 0x80 &&
                 ((unsigned char)t[i - 1] == 0x93 || (unsigned char)t[i - 1] == 0x94);
    if (i > 0 && (t[i - 1] == '-' || t[i - 1] == '~' || udash)) {
        size_t k = udash ? i - 3 : i - 1;
        while (k > 0 && (t[k - 1] == '-' || t[k - 1] == ' ')) k--;
        return (k == 0 || t[k - 1] == '\n') && at_message_end(t, len, e);
    }
    size_t n = word_at_end(t, i, w, sizeof w, &ws);
    if (!n) return false;
    char w2[24];
    size_t ws2;
    size_t n2 = ws > 0 ? word_at_end(t, ws > 0 && t[ws - 1] == '\'' ? ws - 1 : ws, w2, sizeof w2, &ws2) : 0;
    bool intro_end = e >= len || t[e] == ',' || t[e] == '.' || t[e] == '!' || at_message_end(t, len, e);
    if (eq_lit(w, "is") && n2 && (eq_lit(w2, "this") || eq_lit(w2, "name") || eq_lit(w2, "it")) && intro_end)
        return true;
    if (eq_lit(w, "m") && ws > 0 && t[ws - 1] == '\'' && n2 == 1 && eq_lit(w2, "i") && intro_end) return true;
    if (eq_lit(w, "am") && n2 == 1 && eq_lit(w2, "i") && intro_end) return true;
    if (at_message_end(t, len, e)) {
        static const char *const greet3[] = {"thanks", "thank", "thx", "love", "congrats", "congratulations",
                                             "birthday", "anniversary", "soon", "luck", "done", "miss", "night",
                                             "morning", "welcome", "xoxo", NULL};
        size_t p = ws;
        for (int back = 0; back < 3 && n; back++) {
            if (word_in(w, n, greet3)) return true;
            n = word_at_end(t, p, w, sizeof w, &p);
        }
    }
    return false;
}

/* Round 8 (issue 16): a word owns an identifier when it is followed
 * (after "'s", a dash or a colon) by an identifier's label ("SSN", "NI",
 * "social security", or after "'s" also "number", "email", "card" ...), or
 * follows "<identifier> de|of|van|di|da ..." ("el correo de Xiomara",
 * "IBAN van Maartje"), or is the object of a verb of reaching someone
 * before "on"/"at" and a number or an address ("reach Thandeka on 415...",
 * "ring Dawn on +31 ..."). The bytes are compared ASCII-case-folded. */
static bool fold_eq(const char *a, size_t an, const char *lit)
{
    size_t ln = strlen(lit);
    if (an != ln) return false;
    for (size_t k = 0; k < an; k++) {
        unsigned char c = (unsigned char)a[k];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (c != (unsigned char)lit[k]) return false;
    }
    return true;
}

static bool fold_in(const char *a, size_t an, const char *const *list)
{
    for (size_t k = 0; list[k]; k++)
        if (fold_eq(a, an, list[k])) return true;
    return false;
}

static bool id_owner(const char *t, size_t len, size_t s, size_t e, bool possessive, const char *pw, size_t pl)
{
    static const char *const label[] = {"ssn", "ni", "nino", "sin", "social", "national", "ssn:", "ni:", "nino:",
                                        "passport", "dob", NULL};
    static const char *const owned[] = {"number", "phone", "mobile", "cell", "email", "e-mail", "mail", "address",
                                        "card", "iban", "account", "details", "new", "home", "nummer", "number:",
                                        "email:", "ssn", "social", "ni", "national", NULL};
    static const char *const id_noun[] = {"número", "numero", "móvil", "movil", "correo", "email", "e-mail", "mail",
                                          "telefone", "telefono", "teléfono", "nummer", "iban", "ssn", "number",
                                          "phone", "address", "dirección", "direccion", "endereço", "endereco",
                                          "adresse", "indirizzo", "cellulare", "handynummer", "handy", "rekening",
                                          "adres", "tarjeta", "cartão", "cartao", "karte", "pas", "celular",
                                          "telefoonnummer", "mobiel", "portable", NULL};
    static const char *const of[] = {"de", "of", "van", "di", "da", "do", "von", "du", "del", "della", NULL};
    static const char *const reach[] = {"reach", "ring", "call", "text", "contact", "phone", "message", "whatsapp",
                                        "email", "try", "get", NULL};
    /* "My SSN", "Her NI number", "Your email", "Mi número" */
    static const char *const det[] = {"my", "your", "his", "her", "our", "their", "its", "the", "this", "that", "new",
                                      "old", "mi", "tu", "su", "mon", "ma", "ton", "ta", "son", "sa", "mein", "meine",
                                      "dein", "sein", "seine", "ihr", "ihre", "mijn", "jouw", "zijn", "haar", "il",
                                      "la", "le", "el", "meu", "minha", "seu", "sua", "mio", "suo", "any", "no",
                                      "which", "what", "whose", "same", "wrong", "fake", "test", "invalid", "valid",
                                      "sample", "example", "dummy", NULL};
    if (fold_in(t + s, e - s, det)) return false;
    size_t i = e;
    if (possessive) i += 2;
    while (i < len && t[i] == ' ') i++;
    /* a dash or a colon between: "Aled — NI", "Colt - SSN" */
    if (!possessive) {
        if (i + 2 < len && (unsigned char)t[i] == 0xE2 && (unsigned char)t[i + 1] == 0x80 &&
            ((unsigned char)t[i + 2] == 0x94 || (unsigned char)t[i + 2] == 0x93))
            i += 3;
        else if (i < len && (t[i] == '-' || t[i] == ':'))
            i++;
        while (i < len && t[i] == ' ') i++;
    }
    size_t ws = i;
    while (i < len && t[i] != ' ' && t[i] != ',' && t[i] != '.') i++;
    if (i > ws && (fold_in(t + ws, i - ws, label) || (possessive && fold_in(t + ws, i - ws, owned)))) return true;
    /* "<noun> de <Name>" */
    if (pl && word_in(pw, pl, of)) {
        size_t q = s;
        while (q > 0 && t[q - 1] == ' ') q--;
        q -= pl;
        while (q > 0 && t[q - 1] == ' ') q--;
        size_t ne = q;
        while (q > 0 && t[q - 1] != ' ') q--;
        if (ne > q && fold_in(t + q, ne - q, id_noun)) return true;
    }
    /* "reach <Name> on +31 ...", "ring <Name> at 07700 ..." */
    if (pl && word_in(pw, pl, reach)) {
        size_t q = e;
        while (q < len && t[q] == ' ') q++;
        if (q + 3 < len && (fold_eq(t + q, 2, "on") || fold_eq(t + q, 2, "at")) && t[q + 2] == ' ') {
            q += 3;
            while (q < len && t[q] == ' ') q++;
            if (q < len && (zt_ascii_digit((unsigned char)t[q]) || t[q] == '+' || t[q] == '(')) return true;
            size_t r = q;
            while (r < len && t[r] != ' ') r++;
            if (memchr(t + q, '@', r - q)) return true;
        }
    }
    return false;
}

/* A title before position s: "Mr ", "Ms ", "Dr. ", "Prof ". */
static bool after_title(const char *t, size_t s)
{
    size_t i = s;
    while (i > 0 && t[i - 1] == ' ') i--;
    if (i > 0 && t[i - 1] == '.') i--;
    if (i == s) return false;
    size_t e = i;
    while (i > 0 && zt_ascii_alpha((unsigned char)t[i - 1])) i--;
    if (i > 0 && zt_ascii_alpha((unsigned char)t[i - 1])) return false;
    static const char *const titles[] = {"mr", "mrs", "ms", "dr", "prof", "mx", NULL};
    return e > i && is_upper((unsigned char)t[i]) && word_in(t + i, e - i, titles);
}

/* Round 9: a kin or religious title before a name ("Grandpa Walter",
 * "Father Declan", "Tía Lupe"): a cue, not a licence for English words
 * ("Father Christmas" stays a word). */
static bool after_kin_title(const char *t, size_t len, size_t s)
{
    size_t i = s;
    while (i > 0 && t[i - 1] == ' ') i--;
    if (i == s) return false;
    size_t e = i;
    while (i > 0 && zt_ascii_alpha((unsigned char)t[i - 1])) i--;
    if (i > 0 && (zt_ascii_alpha((unsigned char)t[i - 1]) || (unsigned char)t[i - 1] >= 0x80)) return false;
    static const char *const titles[] = {"father", "grandpa", "grandma", "granny", "grandad", "granddad", "nana",
                                         "nanna", "pastor", "coach", "rabbi", "imam", "fr", "nonna", "nonno", "abuela",
                                         "abuelo", "oma", "opa", "tante", "onkel", "tio", "tia", "tata", "babcia",
                                         "dziadek", "sensei", "reverend", "rev", "sister", "brother", "nurse", "midwife", NULL};
    static const char *const things[] = {"christmas", "time", "nature", "earth", "frost", "thames", NULL};
    size_t we = s;
    /* round 12: bounded by the text (the fuzz target's names detector read past a text ending in the name) */
    while (we < len && we < s + 24 && zt_ascii_alpha((unsigned char)t[we])) we++;
    return e > i && is_upper((unsigned char)t[i]) && word_in(t + i, e - i, titles) && !fold_in(t + s, we - s, things);
}

/* Round 9: a word opening the message (or a line) before a colon or a dash
 * and an identifier: "Liesel: 3589-0294-...", "Tamsin: NP 32 06 63 C",
 * "Shona – 07700 900298". A field label ("Karte:", "Amex:", "NINo:") is
 * not a name: the word must be capitalised, of 3+ letters, in lower case
 * after the first and no label of the languages the detector covers. */
static bool name_before_id(const char *t, size_t len, size_t s, size_t e)
{
    if (e - s < 3 || !is_upper((unsigned char)t[s])) return false;
    for (size_t k = s + 1; k < e; k++)
        if (is_upper((unsigned char)t[k])) return false;
    if (s > 0 && t[s - 1] != '\n') return false;
    static const char *const labels[] = {
        "karte", "amex", "visa", "nino", "iban", "card", "carte", "tarjeta", "cartão", "cartao", "carta", "konto",
        "tel", "mob", "mobile", "handy", "movil", "móvil", "telefono", "teléfono", "telefone", "cpf", "dni", "nif",
        "nie", "ssn", "pin", "ref", "bsn", "pps", "mastercard", "maestro", "discover", "bizum", "paypal", "venmo",
        "zelle", "revolut", "sepa", "bic", "swift", "imei", "vin", "reg", "sort", "routing", "nhs", "passport",
        "pasaporte", "reisepass", "ausweis", "phone", "cell", "fax", "whatsapp", "signal", "telegram", "pix", "code",
        "codigo", "código", "número", "numero", "nummer", "total", "betrag", "importe", "montant", "room", "flat",
        "unit", "ticket", "order", "pedido", "bestellung", "commande", "tracking", "seat", "gate", "platform",
        "flight", "vuelo", "flug", "booking", "reserva", "cuenta", "conto", "rekening", "compte", "account",
        "celular", "cellulare", "mobiel", "portable", "natel", "tlf", "telf", "kontakt", "contact", "contacto",
        "rut", "curp", "rfc", "pesel", "codice", "fiscale", "steuer", "insee", "secu", "svnr", "ahv", "cnp", "oib",
        "jmbg", "egn", "personnummer", "hetu", "cpr", "bank", "banco", "banque", "iban:", "ip", "mac", "wifi",
        "password", "passwort", "senha", "contraseña", "clave", "otp", "tan", "ssid", "pnr", "cvv", "cvc", "exp",
        "expiry", "valid", "dob", "born", "postcode", "zip", "plz", "cap", "cep", "cp",
        /* countries before their IBAN ("Finland: FI22 ...") */
        "finland", "germany", "france", "spain", "italy", "netherlands", "belgium", "austria", "portugal",
        "ireland", "poland", "sweden", "norway", "denmark", "switzerland", "greece", "deutschland", "españa",
        "espana", "italia", "nederland", "schweiz", "suisse", "brasil", "brazil", "mexico", "canada", "luxembourg",
        "croatia", "slovenia", "slovakia", "czechia", "hungary", "romania", "bulgaria", "estonia", "latvia",
        "lithuania", "malta", "cyprus", "iceland", "turkey", "türkiye", NULL};
    if (fold_in(t + s, e - s, labels)) return false;
    /* a compound label ("Zahlkarte", "Kontonummer", "Handynummer"): a label of 4+ letters ends it */
    for (size_t k = 0; labels[k]; k++) {
        size_t ll = strlen(labels[k]);
        if (ll >= 4 && ll < e - s && fold_eq(t + e - ll, ll, labels[k])) return false;
    }
    size_t q = e;
    if (q < len && t[q] == ':') q++;
    else {
        while (q < len && t[q] == ' ') q++;
        if (q < len && t[q] == '-') q++;
        else if (q + 2 < len && (unsigned char)t[q] == 0xE2 && (unsigned char)t[q + 1] == 0x80 &&
                 ((unsigned char)t[q + 2] == 0x93 || (unsigned char)t[q + 2] == 0x94))
            q += 3;
        else
            return false;
        if (q >= len || t[q] != ' ') return false;
    }
    while (q < len && t[q] == ' ') q++;
    if (q >= len) return false;
    if (zt_ascii_digit((unsigned char)t[q]) || (t[q] == '+' && q + 1 < len && zt_ascii_digit((unsigned char)t[q + 1])) ||
        (t[q] == '(' && q + 1 < len && zt_ascii_digit((unsigned char)t[q + 1])))
        return true;
    /* a UK NINO: two capitals, a space or not, two digits */
    if (q + 3 < len && is_upper((unsigned char)t[q]) && is_upper((unsigned char)t[q + 1])) {
        size_t r = q + 2;
        if (t[r] == ' ') r++;
        return r + 1 < len && zt_ascii_digit((unsigned char)t[r]) && zt_ascii_digit((unsigned char)t[r + 1]);
    }
    return false;
}

/* Round 9: [s, e) lies in an ADDRESS candidate, or is followed by one
 * after a space (a town before its postcode). */
static bool in_address(const struct cands *c, size_t s, size_t e)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct zt_pii_hit *h = &c->v[i];
        if (h->type != ZT_PII_ADDRESS) continue;
        if ((h->start < e && s < h->end) || h->start == e + 1) return true;
    }
    return false;
}

/* Round 9: "'s" and an identity number's label after the word ending at e
 * ("Lewis's NINO", "Gemma's SSN", "Olive's national insurance"). */
static bool possessive_id(const char *t, size_t len, size_t e)
{
    if (!(e + 2 < len && t[e] == '\'' && (t[e + 1] == 's' || t[e + 1] == 'S') && t[e + 2] == ' ')) return false;
    size_t q = e + 3, qe = q;
    while (qe < len && zt_ascii_alpha((unsigned char)t[qe])) qe++;
    static const char *const ids[] = {"nino", "ssn", "ni", "national", "social", "passport", "sin", NULL};
    return qe > q && word_in(t + q, qe - q, ids);
}

/* Round 9: the word before s is an interjection opening the message ("ugh tom forgot", "lol bec fell asleep"). */
static bool lead_at_start(const char *t, size_t s, size_t first_at)
{
    static const char *const interj[] = {"ugh", "lol", "omg", "lmao", "ok", "okay", "oh", "so", "btw", "welp",
                                         "aww", "aw", "haha", "omw", "wait", "ah", "um", "hmm", NULL};
    size_t q = s;
    while (q > 0 && (t[q - 1] == ' ' || t[q - 1] == ',')) q--;
    size_t p = q;
    while (p > 0 && zt_ascii_alpha((unsigned char)t[p - 1])) p--;
    return p == first_at && q > p && word_in(t + p, q - p, interj);
}

/* "@here", "@channel": a group, not a person */
static bool handle_group(const char *w, size_t n)
{
    static const char *const groups[] = {"here", "channel", "everyone", "all", "team", "room", NULL};
    return word_in(w, n, groups);
}

/* The next word is a verb in the past ("fixed") or a negated modal ("can't", "won't"). */
static bool next_is_verb(const char *t, size_t len, size_t e, size_t nl)
{
    size_t i = e;
    while (i < len && t[i] == ' ') i++;
    size_t s = i;
    i += nl;
    if (i + 1 < len && (t[i] == '\'' || t[i] == '\xE2') && (t[i + 1] == 't' || (i + 3 < len && t[i + 3] == 't')))
        return true;
    return nl >= 4 && (t[i - 2] | 0x20) == 'e' && (t[i - 1] | 0x20) == 'd' && (t[s] | 0x20) != 'n' && i - s != 4;
}

/* "<name> is coming": the word after the next one ends in "ing". */
static bool followed_by_ing(const char *t, size_t len, size_t e)
{
    size_t i = e;
    while (i < len && t[i] == ' ') i++;
    while (i < len && zt_ascii_alpha((unsigned char)t[i])) i++;
    while (i < len && t[i] == ' ') i++;
    size_t s = i;
    while (i < len && zt_ascii_alpha((unsigned char)t[i])) i++;
    return i - s >= 5 && (t[i - 3] | 0x20) == 'i' && (t[i - 2] | 0x20) == 'n' && (t[i - 1] | 0x20) == 'g';
}

/* After "<name> and": "I", "me" or a capitalised listed name. */
static bool and_person(const struct names *nm, const char *t, size_t len, size_t e)
{
    size_t i = e;
    while (i < len && t[i] == ' ') i++;
    i += 3; /* "and" */
    while (i < len && t[i] == ' ') i++;
    size_t s = i;
    while (i < len && zt_ascii_alpha((unsigned char)t[i])) i++;
    size_t n = i - s;
    if (n == 1 && t[s] == 'I') return true;
    if (n == 2 && (t[s] | 0x20) == 'm' && (t[s + 1] | 0x20) == 'e') return true;
    return n >= 2 && is_upper((unsigned char)t[s]) && name_find(nm, t + s, n) >= 0 && name_find(nm, t + s, n) < 2;
}

/* Names of the first-name list as written in chat: a capitalised word (or
 * "@name"), with a confidence from the context: a name that is not an
 * English word 0.8 (0.5 at the start of a sentence is still a name:
 * "Priya said"), a name that is also a word ("Will", "May", "Grace",
 * "Carol") 0.3 unless something says it is a person: a greeting or verb of
 * address before ("thanks May", "tell Will"), a vocative comma ("Carol,
 * can you"), '@', a possessive, a verb of speech after ("Grace said"),
 * another name beside it ("Michael and Sarah"). A month after "in"/"on", a
 * modal "Will you" / "May I" and place names after "to"/"in" are not
 * names. Hits below 0.5 are not reported. */
/* The length of the UTF-8 Latin letter at t[i] (U+00C0..U+017F but the
 * signs U+00D7 and U+00F7): 2, or 0. */
static size_t latin_letter(const char *t, size_t len, size_t i)
{
    unsigned char a = (unsigned char)t[i];
    /* round 7: Latin Extended Additional U+1E00..U+1EFF, Vietnamese's "ả", "ươ"'s "ơ" is U+01A1 below */
    if (a == 0xE1 && i + 2 < len && (unsigned char)t[i + 1] >= 0xB8 && (unsigned char)t[i + 1] <= 0xBB &&
        ((unsigned char)t[i + 2] & 0xC0) == 0x80)
        return 3;
    if (i + 1 < len && a == 0xC6 && ((unsigned char)t[i + 1] == 0xA0 || (unsigned char)t[i + 1] == 0xA1 ||
                                     (unsigned char)t[i + 1] == 0xAF || (unsigned char)t[i + 1] == 0xB0))
        return 2; /* Ơ ơ Ư ư */
    if (i + 1 >= len || a < 0xC3 || a > 0xC5) return 0;
    unsigned char b = (unsigned char)t[i + 1];
    if ((b & 0xC0) != 0x80 || (a == 0xC3 && (b == 0x97 || b == 0xB7))) return 0;
    return 2;
}

/* Round 5: the word [s, e) starts the local part of an e-mail address in
 * the same text ("Contact Nkechi at nkechi.o@example.com", "Steph at
 * steph@example.net"): the local part is the word and then '@', '.', '_',
 * '-' or a digit.
 *
 * A candidate word is ASCII letters (a word with a Latin letter beyond
 * ASCII never equals a local part, which is ASCII), so the only prefix of a
 * local part it can equal is the local part's leading run of letters, and
 * only when '@', '.', '_', '-' or a digit follows the run. Those runs
 * (3..20 letters, the lengths a candidate can have) are gathered once per
 * text in one pass over its '@'s and sorted; each candidate is then a
 * binary search: O(len log len) in all, where walking every '@' for every
 * candidate was O(candidates x '@'s) (review finding F7). */
struct ehead {
    size_t b, n; /* the run t[b, b + n) */
};
struct eheads {
    struct ehead *v;
    size_t n, cap;
    bool built;
};

/* Compares a[0..an) with b[0..bn) ASCII-case-folded (| 0x20, as the words are letters). */
static int fold_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    for (size_t k = 0; k < an && k < bn; k++) {
        int x = (unsigned char)a[k] | 0x20, y = (unsigned char)b[k] | 0x20;
        if (x != y) return x < y ? -1 : 1;
    }
    return an < bn ? -1 : an > bn;
}

/* qsort has no context argument: the text, set only around the sort below */
static _Thread_local const char *ehead_t;

static int cmp_ehead(const void *pa, const void *pb)
{
    const struct ehead *a = pa, *b = pb;
    int c = fold_cmp(ehead_t + a->b, a->n, ehead_t + b->b, b->n);
    return c ? c : (a->b > b->b) - (a->b < b->b);
}

/* Gathers the letter runs of the text's local parts: 0 or ZT_ENOMEM. */
static int eheads_build(struct eheads *h, const char *t, size_t len)
{
    h->built = true;
    for (const char *at = memchr(t, '@', len); at; at = memchr(at + 1, '@', len - (size_t)(at + 1 - t))) {
        size_t a = (size_t)(at - t), b = a;
        while (b > 0 && (is_local_char((unsigned char)t[b - 1]))) b--;
        size_t r = b;
        while (r < a && zt_ascii_alpha((unsigned char)t[r])) r++;
        char c = t[r];
        if (r - b < 3 || r - b > 20 || !(r == a || c == '.' || c == '_' || c == '-' || zt_ascii_digit((unsigned char)c)))
            continue;
        struct ehead e = {b, r - b};
        if (zt_array_push(&h->v, &h->n, &h->cap, &e, sizeof e, 16) != 0) return ZT_ENOMEM;
    }
    ehead_t = t;
    if (h->n > 1) qsort(h->v, h->n, sizeof h->v[0], cmp_ehead);
    ehead_t = NULL;
    return 0;
}

static bool starts_email(struct eheads *h, struct cands *c, const char *t, size_t len, size_t s, size_t e)
{
    if (!h->built && (c->err = eheads_build(h, t, len)) != 0) return false;
    size_t n = e - s;
    if (n < 3 || n > 20) return false;
    for (size_t k = s; k < e; k++)
        if (!zt_ascii_alpha((unsigned char)t[k])) return false;
    /* the first run not below the word, then (equal runs sort by offset) one more if that one is the word itself */
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fold_cmp(t + h->v[mid].b, h->v[mid].n, t + s, n) < 0) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo; i < h->n && i < lo + 2; i++)
        if (fold_cmp(t + h->v[i].b, h->v[i].n, t + s, n) == 0 && h->v[i].b != s) return true;
    return false;
}

/* Round 8: the word t[s, s + n) again, as a whole word in any case, at or after from. */
static bool recurs(const char *t, size_t len, size_t from, size_t s, size_t n)
{
    for (size_t i = from; i + n <= len; i++) {
        if (i > 0 && (zt_ascii_alpha((unsigned char)t[i - 1]) || (unsigned char)t[i - 1] >= 0x80)) continue;
        if (i + n < len && (zt_ascii_alpha((unsigned char)t[i + n]) || (unsigned char)t[i + n] >= 0x80)) continue;
        if (fold_cmp(t + i, n, t + s, n) == 0) return true;
    }
    return false;
}

/* ---- PERSON_NAME: the learned context scorer ------------------------------- */

/* The features of a capitalised candidate [s, e) for the name model
 * (zt_ml.h): the word, its ending, what the list says of it, the words and
 * punctuation around it (two each side), and pairs of these. Hashes of
 * "tag:value". The rules' verdicts are not inputs (they were tuned on the
 * same rows). */
#define NAME_FEATS 32

struct nfeat {
    uint64_t h[NAME_FEATS];
    size_t n;
};

static void nf_add(struct nfeat *f, const char *tag, const char *a, size_t an, const char *b, size_t bn)
{
    if (f->n >= NAME_FEATS) return;
    uint64_t h = zt_fnv1a64_step(ZT_FNV1A64_INIT, tag, strlen(tag));
    h = zt_fnv1a64_step(h, ":", 1);
    h = zt_fnv1a64_step(h, a, an);
    if (b) {
        h = zt_fnv1a64_step(h, "|", 1);
        h = zt_fnv1a64_step(h, b, bn);
    }
    f->h[f->n++] = h;
}

/* The byte class of t[i]: "," "@" "-" "." "!" "?" ":" "'" "(" or "w" a word
 * byte, "^" before the start and "$" after the end. */
static const char *byte_class(const char *t, size_t len, size_t i, bool before)
{
    if (before ? i == 0 : i >= len) return before ? "^" : "$";
    char ch = t[before ? i - 1 : i];
    switch (ch) {
    case ',': return ",";
    case '@': return "@";
    case '-': return "-";
    case '.': return ".";
    case '!': return "!";
    case '?': return "?";
    case ':': return ":";
    case '\'': return "'";
    case '(': return "(";
    case '&': return "&";
    case '\n': return "^";
    case ' ': return " ";
    default: return is_word((unsigned char)ch) ? "w" : "o";
    }
}

/* Round 12: words of a company, a shop or an app speaking ("Evri says the
 * parcel is out for delivery", "Monzo support replied", "the Uber app"): a
 * message holding one of these, or a web address, gives every candidate
 * the features "brand" and asks the model ZT__PII_BRAND_GATE more margin
 * (a person may be named beside them too: with a cue the rules still find
 * one). Sorted for the binary search. */
static const char *const brand_words[] = {
    "account",   "app",      "apps",      "basket",   "booking",   "checkout",  "courier",   "customer",
    "customers", "deliver",  "delivered", "deliveries", "delivery", "depot",   "dispatch",  "dispatched",
    "download",  "helpline", "login",     "order",    "ordered",   "orders",    "package",   "parcel",
    "parcels",   "password", "premium",   "refund",   "refunded",  "service",   "shipment",  "shipped",
    "shipping",  "store",    "subscription", "support", "tracking", "update",   "website"};

/* Round 12: companies, shops and apps that chat names as if they were people
 * ("Deliveroo is late again", "Klarna wants the payment", "Evri says"):
 * never a PERSON_NAME but after '@'. Sorted; no name of a person among them. */
static const char *const brands[] = {
    "afterpay", "airbnb", "aldi", "aliexpress", "amazon", "argos", "asda", "barclays", "bolt", "bumble",
    "cashapp", "clearpay", "deliveroo", "depop", "dhl", "doordash", "dpd", "easyjet", "ebay", "etsy", "evri",
    "expedia", "facebook", "fedex", "glovo", "google", "grubhub", "halifax", "hsbc", "ikea", "instacart",
    "instagram", "justeat", "klarna", "lidl", "lloyds", "lyft", "monzo", "morrisons", "natwest", "netflix",
    "parcelforce", "paypal", "primark", "revolut", "ryanair", "sainsburys", "santander", "shein", "snapchat",
    "spotify", "starling", "temu", "tesco", "tiktok", "tinder", "uber", "ups", "usps", "venmo", "vinted",
    "waitrose", "whatsapp", "wolt", "yodel", "zalando", "zelle",
};

static bool brand_name(const char *w, size_t n)
{
    return FOLDED_IN(w, n, brands);
}

/* A brand word or a web address ("www.", ".com", ".co.uk", ".co") anywhere in t[0..len). */
static bool brand_context(const char *t, size_t len)
{
    for (size_t i = 0; i < len;) {
        if (!zt_ascii_alpha((unsigned char)t[i])) {
            /* ".com", ".co.uk", ".co" after a letter */
            if (t[i] == '.' && i > 0 && zt_ascii_alpha((unsigned char)t[i - 1]) && i + 3 <= len &&
                (t[i + 1] | 0x20) == 'c' && (t[i + 2] | 0x20) == 'o') {
                size_t q = i + 3 + (i + 3 < len && (t[i + 3] | 0x20) == 'm');
                if (q == len || !zt_ascii_alpha((unsigned char)t[q])) return true;
            }
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && zt_ascii_alpha((unsigned char)t[i])) i++;
        if (s > 0 && (is_word((unsigned char)t[s - 1]) || (unsigned char)t[s - 1] >= 0x80)) continue;
        if (i < len && (unsigned char)t[i] >= 0x80) continue;
        size_t n = i - s;
        if (n < 3 || n > 15) continue;
        if ((n == 3 && fold_cmp(t + s, 3, "www", 3) == 0 && i < len && t[i] == '.') || FOLDED_IN(t + s, n, brand_words))
            return true;
    }
    return false;
}

static void name_features(const char *t, size_t len, size_t s, size_t e, int f, bool titled, bool at, bool brand,
                          struct nfeat *out)
{
    char self[24], p1[24], p2[24], n1[24], n2[24];
    size_t n = e - s < sizeof self - 1 ? e - s : sizeof self - 1;
    for (size_t k = 0; k < n; k++) self[k] = (unsigned char)t[s + k] < 0x80 ? (char)(t[s + k] | 0x20) : t[s + k];
    self[n] = 0;
    const char *kind = titled ? "t" : at ? "@" : f == 0 ? "u" : f == 1 ? "a" : "x";
    /* words around: p1 p2 before, n1 n2 after (letters only; "" none) */
    size_t ps = s, pl1 = 0, pl2 = 0;
    while (ps > 0 && (t[ps - 1] == ' ' || t[ps - 1] == '@')) ps--;
    if (ps > 0 && zt_ascii_alpha((unsigned char)t[ps - 1])) pl1 = word_at_end(t, ps, p1, sizeof p1, &ps);
    else p1[0] = 0;
    if (pl1) {
        size_t q = ps;
        while (q > 0 && t[q - 1] == ' ') q--;
        if (q > 0 && zt_ascii_alpha((unsigned char)t[q - 1])) pl2 = word_at_end(t, q, p2, sizeof p2, &q);
    }
    if (!pl2) p2[0] = 0;
    size_t ne = e, nl1 = 0, nl2 = 0;
    size_t ws;
    if (e < len && t[e] == ' ') nl1 = word_after(t, len, e, n1, sizeof n1, &ws, &ne);
    else n1[0] = 0;
    if (nl1 && ne < len && t[ne] == ' ') nl2 = word_after(t, len, ne, n2, sizeof n2, &ws, &ne);
    if (!nl2) n2[0] = 0;
    bool next_cap = false;
    for (size_t i = e; i < len; i++) {
        if (t[i] == ' ') continue;
        next_cap = is_upper((unsigned char)t[i]);
        break;
    }
    const char *cb = byte_class(t, len, s > 0 && t[s - 1] == ' ' ? s - 1 : s, true);
    if (s > 0 && t[s - 1] == ' ') { /* the byte before the space */
        size_t q = s - 1;
        while (q > 0 && t[q - 1] == ' ') q--;
        cb = q == 0 ? "^" : byte_class(t, len, q, true);
    }
    const char *ca = byte_class(t, len, e, false);
    if (e + 1 < len && t[e] == '\'') ca = (t[e + 1] | 0x20) == 's' ? "s" : (t[e + 1] | 0x20) == 't' ? "t" : "'";
    static const char *const lens[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8+"};
    out->n = 0;
    nf_add(out, "w", self, n, NULL, 0);
    nf_add(out, "sfx", n >= 3 ? self + n - 3 : self, n >= 3 ? 3 : n, NULL, 0);
    nf_add(out, "k", kind, 1, NULL, 0);
    nf_add(out, "len", lens[n < 8 ? n : 8], strlen(lens[n < 8 ? n : 8]), NULL, 0);
    nf_add(out, "p1", p1, pl1, NULL, 0);
    nf_add(out, "p2", p2, pl2, NULL, 0);
    nf_add(out, "n1", n1, nl1, NULL, 0);
    nf_add(out, "n2", n2, nl2, NULL, 0);
    nf_add(out, "cb", cb, 1, NULL, 0);
    nf_add(out, "ca", ca, 1, NULL, 0);
    nf_add(out, "nc", next_cap ? "1" : "0", 1, NULL, 0);
    nf_add(out, "k.cb", kind, 1, cb, 1);
    nf_add(out, "k.ca", kind, 1, ca, 1);
    nf_add(out, "k.p1", kind, 1, p1, pl1);
    nf_add(out, "k.n1", kind, 1, n1, nl1);
    nf_add(out, "p1.n1", p1, pl1, n1, nl1);
    nf_add(out, "cb.n1", cb, 1, n1, nl1);
    nf_add(out, "p1.ca", p1, pl1, ca, 1);
    nf_add(out, "p2.p1", p2, pl2, p1, pl1);
    nf_add(out, "n1.n2", n1, nl1, n2, nl2);
    nf_add(out, "cb.ca", cb, 1, ca, 1);
    nf_add(out, "k.nc", kind, 1, next_cap ? "1" : "0", 1);
    if (brand) { /* round 12 */
        nf_add(out, "brand", "1", 1, NULL, 0);
        nf_add(out, "k.brand", kind, 1, NULL, 0);
        nf_add(out, "brand.n1", n1, nl1, NULL, 0);
    }
}

/* The name model's margin for the candidate (>= 0: a person), or -1e9 when
 * there is no model. */
static double name_margin(const struct zt_hlr *m, const struct nfeat *f)
{
    if (!m) return -1e9;
    int64_t q = 0;
    for (size_t i = 0; i < f->n; i++) q += zt_hlr_q(m, f->h[i]);
    return zt_hlr_margin(m, q, f->n);
}

/* cand: when not NULL, each capitalised candidate is reported with its
 * features and the rules' confidence before the model (training). */
/* Round 10: [s, ...) opens a sentence (the message's start, or after . ! ? : ; a
 * new line, a quote, a bracket, a dash or a byte beyond ASCII): a capital
 * there says nothing of a name. */
static bool sentence_start(const char *t, size_t s)
{
    size_t q = s;
    while (q > 0 && t[q - 1] == ' ') q--;
    if (q == 0) return true;
    unsigned char c = (unsigned char)t[q - 1];
    return c == '.' || c == '!' || c == '?' || c == ':' || c == ';' || c == '\n' || c == '"' || c == '(' ||
           c == '-' || c == '*' || c >= 0x80;
}

static void scan_names(const struct names *nm, const struct zt_hlr *model, const struct name_gates *gate,
                       const char *t, size_t len, struct cands *c, zt__pii_name_cand_fn cand, void *ud)
{
    if (!nm || !nm->n) return;
    struct eheads eh = {0};
    size_t first_at = 0, pun_s = 0, pun_n = 0, pair_s = SIZE_MAX;
    int brand = -1; /* brand_context() of the text, found at the first candidate the model scores */
    while (first_at < len && (t[first_at] == ' ' || t[first_at] == '\n')) first_at++;
    for (size_t s = 0; s < len && !c->err; s++) {
        /* a Latin capital beyond ASCII may start a name ("Émilie", "Ángela", "Søren" is ASCII-first) */
        bool cap_latin = (unsigned char)t[s] == 0xC3 && s + 1 < len && (unsigned char)t[s + 1] >= 0x80 &&
                         (unsigned char)t[s + 1] <= 0x9E && (unsigned char)t[s + 1] != 0x97;
        if ((!zt_ascii_alpha((unsigned char)t[s]) && !cap_latin) ||
            (s > 0 && (is_word((unsigned char)t[s - 1]) || t[s - 1] == '\'')))
            continue;
        size_t e = cap_latin ? s + 2 : s, k2;
        /* ASCII letters and Latin letters beyond ASCII after the first ("José", "Björn") */
        while (e < len && (zt_ascii_alpha((unsigned char)t[e]) || (k2 = latin_letter(t, len, e)) != 0))
            e += zt_ascii_alpha((unsigned char)t[e]) ? 1 : k2;
        size_t e1 = e;
        if (!cap_latin && is_upper((unsigned char)t[s])) e = ko_pair_end(t, len, s, e); /* round 12: "Seo-yeon" */
        bool ko = e != e1;
        size_t n = e - s;
        bool at = s > 0 && t[s - 1] == '@';
        /* lower case ("thanks michael") only for a listed name that is no word, with a strong cue (below) */
        bool lower = !at && !is_upper((unsigned char)t[s]) && !cap_latin;
        if (n < 2 || n > 20 || (e < len && is_word((unsigned char)t[e])) || (lower && n < 3)) {
            s = e;
            continue;
        }
        /* ALL CAPS words of 2-3 letters are acronyms */
        bool allcaps = true;
        for (size_t k = 1; k < n; k++) allcaps &= is_upper((unsigned char)t[s + k]);
        if (allcaps && (n <= 3 || name_find(nm, t + s, n) != 0) && !at) { /* "IBAN", "ASAP" */
            s = e;
            continue;
        }
        int f = name_find(nm, t + s, n);
        /* (lower-case dictionary words are most words: not looked up) */
        if ((f < 0 || (f == 2 && !lower)) && more_name(t + s, n)) f = f < 0 ? 0 : 1;
        if (f == 1 && word_in(t + s, n, name_first)) f = 0;
        if (ko) f = 0;
        if (cap_latin && f < 0) { /* "Élan", "Économie": an accented capital is a name only when listed */
            s = e;
            continue;
        }
        /* a lower-case name that is also a word, right after a greeting or a request ("tell ben", "hey jake") */
        bool lower_ok = false, lower_cand = false;
        if (lower && f == 1) {
            char lw[24];
            bool lst, lcm;
            size_t lpl = prev_word(t, s, lw, sizeof lw, &lst, &lcm);
            static const char *const lead[] = {"hi", "hey", "hello", "thanks", "thx", "tell", "ask", "ok", "okay",
                                               "lol", "omg", "yo", "morning", "night", "cheers", "bye", "asked",
                                               "told", "remind", "ping", "dm", "congrats", NULL};
            /* never the words that are mostly verbs or months in lower case ("ok will do", "my son will be 7") */
            static const char *const verbs[] = {"will", "may", "can", "mark", "pat", "bill", "rob", "sue", "jack",
                                                "bob", "june", "april", "august", "dawn", "hope", "faith", "joy",
                                                "sunny", "rose", "drew", "chase", "ray", "guy", "art", NULL};
            lower_ok = lpl && word_in(lw, lpl, lead) && !word_in(t + s, n, verbs);
            /* round 9: opening the message (or after an interjection that does), a candidate that only a
             * person's verb or a second name joined by "and" makes a name (below) */
            lower_cand = !lower_ok && !word_in(t + s, n, verbs) && (s == first_at || lead_at_start(t, s, first_at));
        }
        if (lower && f != 0 && !lower_ok && !lower_cand && s != pair_s) {
            s = e;
            continue;
        }
        bool titled = after_title(t, s);
        if (f == 2 && (titled || (at && !handle_group(t + s, n)))) f = -1; /* "Ms Khan", "@raj" */
        /* round 9: a capitalised word whose national insurance or social security number follows
         * ("Lewis's NINO is ...", "Gemma's SSN"): a person, even where the word lists call it a word */
        if (f == 2 && !lower && possessive_id(t, len, e)) f = -1;
        /* round 10: a capitalised word the lists call a word, inside a sentence ("my cousin Gemma is
         * here", "ask Lewis"): a candidate that only the model decides, at a margin word_gate higher */
        /* round 12: also at a sentence's start ("Sage added sage to the stuffing", "Budi udah sampai"),
         * at a margin gate->start higher still */
        bool word_cand = f == 2 && !lower && !at && (model || cand);
        bool start_cand = word_cand && sentence_start(t, s);
        if (!lower && !at && sentence_start(t, s) && function_word(t + s, n)) {
            s = e;
            continue;
        }
        if (f == 2 && !word_cand) {
            s = e;
            continue;
        }
        char pw[24], nw[24], self[24];
        bool start, comma, cap_next;
        size_t pl = prev_word(t, s, pw, sizeof pw, &start, &comma);
        size_t nl = next_word(t, len, e, nw, sizeof nw, &cap_next);
        for (size_t k = 0; k < n && k < sizeof self - 1; k++) self[k] = (char)(t[s + k] | 0x20);
        self[n < sizeof self - 1 ? n : sizeof self - 1] = 0;
        bool ambiguous = f == 1 || n <= 2;
        bool unknown = f < 0; /* neither a listed name nor an English word: "Priya", "Venmo" */
        double conf = ambiguous || unknown ? 0.3 : (start && !pl ? 0.7 : 0.75);
        if (unknown && n < 3) conf = 0;
        bool addressed = pl && (word_in(pw, pl, name_before) || (!unknown && word_in(pw, pl, name_before_weak)));
        if (!addressed && pl && (eq_lit(pw, "to") || eq_lit(pw, "for"))) {
            /* "say hi to Arjun", "thanks to Priya", "a gift for Omar" */
            char pw2[24];
            bool st2, cm2;
            size_t p2s = s;
            while (p2s > 0 && t[p2s - 1] == ' ') p2s--;
            p2s -= pl;
            size_t pl2 = prev_word(t, p2s, pw2, sizeof pw2, &st2, &cm2);
            static const char *const greet[] = {"hi", "hello", "thanks", "love", "regards", "talk", "talked", "spoke",
                                                /* round 8: "ask for Wiremu on the desk" */
                                                "ask", "asking",
                                                "speak", "sent", "send", "gave", "give", "gift", "present", "shout",
                                                "shoutout", "congrats", "welcome", "goodbye", "bye", "wishes", NULL};
            if (pl2 && word_in(pw2, pl2, greet)) addressed = true;
        }
        /* round 9: "a nombre de Nuria", "au nom de", "in nome di", "em nome de", "im Namen von", "in the name of" */
        if (!addressed && pl && (eq_lit(pw, "de") || eq_lit(pw, "di") || eq_lit(pw, "von") || eq_lit(pw, "of"))) {
            char pw2[24];
            bool st2, cm2;
            size_t p2s = s;
            while (p2s > 0 && t[p2s - 1] == ' ') p2s--;
            p2s -= pl;
            size_t pl2 = prev_word(t, p2s, pw2, sizeof pw2, &st2, &cm2);
            static const char *const name_of[] = {"nombre", "nom", "nome", "namen", "name", NULL};
            if (pl2 && word_in(pw2, pl2, name_of)) addressed = true;
        }
        if (!addressed && (titled || person_context(nm, t, len, s, e))) addressed = true;
        /* round 9: "Grandpa Walter", "Father Declan"; "Liesel: 3589-...", "Shona – 07700 ..." */
        bool owner_id = !pl && !at && name_before_id(t, len, s, e);
        if (!addressed && (owner_id || after_kin_title(t, len, s))) addressed = true;
        if (at && handle_group(t + s, n)) conf = 0;
        bool vocative = e < len && t[e] == ',' && (start || addressed);
        bool possessive = e + 1 < len && t[e] == '\'' && (t[e + 1] == 's' || t[e + 1] == 'S');
        /* round 8: the owner of an identifier: "Tammy SSN 586-...", "Lennox NI MX 10 ...", "Autumn's SSN",
         * "Crispin's national insurance number", "el móvil de Inmaculada", "reach Thandeka on 415..." */
        if (!addressed && !titled && !at && id_owner(t, len, s, e, possessive, pl ? pw : NULL, pl)) addressed = true;
        bool subject = nl && word_in(nw, nl, name_after);
        bool subject_weak = nl && word_in(nw, nl, name_after_weak);
        if (subject_weak && (eq_lit(nw, "is") || eq_lit(nw, "was")) && followed_by_ing(t, len, e)) subject = true;
        if (nl && next_is_verb(t, len, e, nl)) subject = true; /* "Ray fixed", "Penny can't" */
        /* "Kevin and I", "Will and May": a name beside "and" and another name or "I" */
        if (nl == 3 && eq_lit(nw, "and") && and_person(nm, t, len, e)) addressed = true;
        bool end_thanks = (e >= len || t[e] == '!' || t[e] == '.' || t[e] == '?') && addressed;
        /* a word in neither list ("Anjali") with a verb of speech or wanting after, or "did X reply?" */
        static const char *const speech[] = {"said", "asked", "told", "thinks", "wants", "texted", "emailed",
                                             "replied", "messaged", "agreed", "reckons", "promised", "wrote", NULL};
        static const char *const did_verb[] = {"reply", "say", "call", "come", "text", "answer", "send", "get",
                                               "ring", "email", "message", NULL};
        /* verbs a person does and an app or a club does not ("Uber says", "Barcelona won") */
        static const char *const own_verb[] = {"gave", "sang", "sings", "cried", "laughed", "cooked", "baked",
                                               "borrowed", "lent", "promised", "texted", "emailed", "messaged",
                                               "replied", "told", "asked", "rang", "reckons", "prefers", "married",
                                               "typed", "signed", "forgot", "owes", "loves", "hates", "studied",
                                               "teaches", "swam", "danced", "rents", "wore",
                                               /* round 9 */
                                               "helped", "climbed", "watched", "rode", "hosted", "waters", "hugged",
                                               "kissed", "phoned",
                                               /* the same in the other languages the features cover */
                                               "mandou", "disse", "fez", "ligou", "dijo", "hizo", "trajo", "llamo",
                                               "neemt", "zei", "belde", "sagt", "ruft", "bringt", "kocht", "dit",
                                               "appelle", "chiama", "porta", "mandato", NULL};
        if (unknown && n >= 3 && nl &&
            (word_in(nw, nl, speech) || (pl && eq_lit(pw, "did") && word_in(nw, nl, did_verb))))
            conf += 0.25;
        /* round 8: an unknown word starting the message as the subject of a person's verb
         * ("Keala gave me", "Siobhan sang", "Latoya typed", "Aurelio is renting") */
        else if (unknown && n >= 3 && nl && start && !pl && !cap_next && word_in(nw, nl, own_verb))
            conf += 0.25;
        if (at || addressed || vocative || (possessive && !unknown) || end_thanks) conf += 0.45;
        else if (subject && !unknown) conf += 0.3;
        else if (subject_weak && !unknown) conf += ambiguous ? 0.1 : 0.2;
        else if (!start && ambiguous) conf += 0.1; /* capitalised mid-sentence */
        if (cap_next && nl && !ambiguous) conf += 0.05; /* a surname */
        /* the learned context scorer: a capitalised word the rules leave
         * below 0.5 is a person when the model says so */
        if (!lower && conf < 0.8 && conf > 0 && starts_email(&eh, c, t, len, s, e)) conf = 0.8;
        bool model_yes = false, place_yes = false;
        if (word_cand) conf = 0.01; /* the rules' cues were written for listed names and unknown words */
        if (!lower && (model || cand) && conf > 0) {
            struct nfeat nf;
            if (brand < 0) brand = brand_context(t, len);
            name_features(t, len, s, e, f, titled, at, brand == 1, &nf);
            if (cand) cand(s, e, nf.h, nf.n, conf, start_cand ? ZT__PII_CAND_START_WORD : 0u, ud);
            double mz = name_margin(model, &nf) - (word_cand ? gate->word : 0.0) - (start_cand ? gate->start : 0.0) -
                        (brand == 1 ? gate->brand : 0.0);
            model_yes = mz >= 0;
            place_yes = mz >= gate->place;
            if (model_yes && conf < 0.5) conf = mz >= 1.0 ? 0.6 : 0.5;
        }
        /* not a person */
        /* round 5: "May's account", "May is bringing the cake": a person */
        bool ing = nl && (eq_lit(nw, "is") || eq_lit(nw, "was")) && followed_by_ing(t, len, e);
        /* round 7: a verb only a person does right after ("June texted", "May said she'd"), or a verb and
         * then a person's pronoun ("Summer starts her new job") */
        bool person_next = nl && word_in(nw, nl, person_verb);
        if (nl && !person_next) {
            char w3[24];
            size_t s2, e2, s3, e3;
            word_after(t, len, e, w3, sizeof w3, &s2, &e2);
            size_t n3 = e2 < len && t[e2] == ' ' ? word_after(t, len, e2, w3, sizeof w3, &s3, &e3) : 0;
            person_next = n3 && word_in(w3, n3, person_object) && !word_in(nw, nl, not_person_verb);
        }
        if (word_in(self, strlen(self), months) &&
            (!(addressed || vocative || at || possessive || ing || person_next) || word_in(pw, pl, month_before) ||
             (e + 1 < len && t[e] == ' ' && zt_ascii_digit((unsigned char)t[e + 1]))))
            conf = 0;
        if ((eq_lit(self, "will") || eq_lit(self, "may") || eq_lit(self, "can") || eq_lit(self, "should")) && nl &&
            word_in(nw, nl, modal_after) && !addressed)
            conf = 0;
        if (word_in(self, strlen(self), not_names)) conf = 0;
        if (!at && brand_name(t + s, n)) conf = 0; /* round 12: "Deliveroo is late again" */
        /* round 7: after an article a name is a thing ("the Oscar went to"; "a" is also a preposition: "dile a Javier") */
        if (pl && (eq_lit(pw, "the") || eq_lit(pw, "an")) && !titled && !at) conf = 0;
        /* round 12: German nouns are capitalised: after an article fused with a preposition or a case
         * article ("ins B\xc3\xbcro", "mit dem Zug", "das Konto") a thing too */
        static const char *const de_article[] = {"dem", "den", "des", "das", "ins", "im", "zum", "zur", "vom",
                                                 "beim", "einen", "einem", "het", NULL};
        if (pl && word_in(pw, pl, de_article) && !titled && !at) conf = 0;
        /* round 5: a field label before a number ("Karte: 4994 ...", "Amex: 3400", "NINo: PS 09") */
        if (f != 0 && !pl && !owner_id && e + 1 < len && t[e] == ':' && !starts_email(&eh, c, t, len, s, e)) {
            size_t q = e + 1;
            while (q < len && t[q] == ' ') q++;
            if (q < len && (zt_ascii_digit((unsigned char)t[q]) ||
                            (q + 3 < len && is_upper((unsigned char)t[q]) && is_upper((unsigned char)t[q + 1]) &&
                             (zt_ascii_digit((unsigned char)t[q + 2]) || t[q + 2] == ' '))))
                conf = 0;
        }
        /* round 5: places and firms named after a person, seasons */
        if (nl && cap_next && word_in(nw, nl, org_after) && !vocative && !at) conf = 0;
        if (pl && s > 0 && word_in(pw, pl, place_prefix) && !addressed) {
            size_t q = s;
            while (q > 0 && t[q - 1] == ' ') q--;
            if (q >= pl && is_upper((unsigned char)t[q - pl])) conf = 0;
        }
        if (word_in(self, strlen(self), seasons) && !addressed && !vocative && !at && !person_next &&
            (!nl || word_in(nw, nl, season_next)))
            conf = 0;
        if (e + 1 < len && t[e] == '\'' && (t[e + 1] | 0x20) == 't') conf = 0; /* "Don't", "Won't" */
        /* a place name is a person only with a cue or the model's yes, never after "to", "in", "from"... */
        if (word_in(self, strlen(self), places) &&
            (word_in(pw, pl, place_before) || (!addressed && !vocative && !place_yes && !person_next)))
            conf = 0;
        if (conf > 0.99) conf = 0.99;
        /* round 7: "finn is asleep", "isla has the flu": a listed name that is no word, starting the message */
        bool lower_subject = subject || (subject_weak && start && !pl && f == 0 &&
                                         !word_in(self, strlen(self), months) && !word_in(self, strlen(self), seasons) &&
                                         !word_in(self, strlen(self), places));
        /* round 9: lower-case chat. An interjection opening the message counts as its start ("ugh tom
         * forgot", "lol bec fell asleep"); a verb only a person does counts as a subject ("noah lost his
         * shoe"); two listed names joined by "and" are people ("tom and jess are coming") */
        bool lead_start = lower && f != 2 && pl && !start && lead_at_start(t, s, first_at);
        bool lower_pair = false;
        if (lower && s == pair_s) lower_pair = true;
        else if (lower && (start || lead_start) && nl == 3 && eq_lit(nw, "and")) {
            /* "tom and jess are coming": the second a listed name too, and (when either is also a
             * word: "rose and ivy") a verb of people after the pair */
            char w3[24], w4[24];
            size_t s2, e2, s3 = 0, e3 = 0, s4, e4;
            word_after(t, len, e, w3, sizeof w3, &s2, &e2);
            size_t n3 = e2 < len && t[e2] == ' ' ? word_after(t, len, e2, w3, sizeof w3, &s3, &e3) : 0;
            int f3 = n3 >= 3 ? name_find(nm, t + s3, n3) : -1;
            if (n3 >= 3 && !is_upper((unsigned char)t[s3]) && (e3 >= len || !is_word((unsigned char)t[e3])) &&
                (f3 == 0 || f3 == 1) && !word_in(w3, n3, not_names)) {
                size_t n4 = e3 < len && t[e3] == ' ' ? word_after(t, len, e3, w4, sizeof w4, &s4, &e4) : 0;
                static const char *const people_verb[] = {"are", "were", "say", "said", "have", "had", "send",
                                                          "sent", "went", "got", "want", "say", NULL};
                bool verb4 = n4 && (word_in(w4, n4, people_verb) || word_in(w4, n4, person_verb) ||
                                    word_in(w4, n4, name_after));
                if ((f == 0 && f3 == 0) || verb4) {
                    lower_pair = true;
                    pair_s = s3;
                }
            }
        }
        lower_subject |= person_next && f == 0;
        if (lower)
            conf = addressed || vocative || lower_pair || (lower_subject && (start || lead_start))
                       ? (addressed || vocative ? 0.7 : 0.55)
                       : 0;
        /* ... and a word that is also a name ("tom", "noah") only with a person's verb or a pair */
        if (lower_cand) conf = person_next || lower_pair ? 0.55 : 0;
        /* a month in lower case is the month ("may and june are the best months") */
        if (lower && !vocative && word_in(self, strlen(self), months)) conf = 0;
        if (word_in(self, strlen(self), not_names)) conf = 0; /* "..., merci" */
        /* "Ruby-throated": a word, not a name */
        if (e + 1 < len && t[e] == '-' && zt_ascii_alpha((unsigned char)t[e + 1]) && !is_upper((unsigned char)t[e + 1]))
            conf = 0;
        /* round 5: a capitalised word right after a first name is its surname ("Emily Clark"): the
         * first name is the hit */
        if (!lower && s >= 2 && t[s - 1] == ' ' && zt_ascii_alpha((unsigned char)t[s - 2])) {
            char fw[24];
            size_t fs;
            size_t fl = word_at_end(t, s - 1, fw, sizeof fw, &fs);
            if (fl >= 2 && is_upper((unsigned char)t[fs]) && (fs == 0 || t[fs - 1] == ' ' || t[fs - 1] == '(') &&
                !word_in(fw, fl, not_names) && !word_in(fw, fl, months)) {
                int pf = name_find(nm, t + fs, fl);
                if (pf == 0 || pf == 1 || more_name(t + fs, fl)) conf = 0;
            }
        }
        /* round 8: the word again later in the same message, the first
         * time starting it with a verb after: a name and then the word
         * itself ("Rose rose early", "Florence studied in Florence",
         * "Earl drinks Earl Grey"); the later one is the thing */
        static const char *const thing_before[] = {"in", "to", "at", "the", "a", "an", "from", "of", "on", "near",
                                                   "visiting", "visit", "through", "via", "my", "his", "her", "our",
                                                   "their", "your", NULL};
        if (pun_n && n == pun_n && fold_cmp(t + s, n, t + pun_s, pun_n) == 0) {
            /* ... only where it reads as the thing ("in Florence", "a Mercedes", "Earl Grey"); the
             * same person named again keeps the hit ("Sam said hi. Sam is coming too") */
            if ((pl && word_in(pw, pl, thing_before)) || cap_next) conf = 0;
        }
        else if (!lower && start && !pl && s == first_at && nl && !cap_next && !possessive && f != 2 &&
                 !word_in(self, strlen(self), not_names) && !word_in(nw, nl, org_after) &&
                 !word_in(nw, nl, modal_after) && recurs(t, len, e, s, n)) {
            if (conf < 0.7) conf = 0.7;
            pun_s = s;
            pun_n = n;
        }
        /* round 9: a word inside an address or right before its postcode is a street, a house or a town
         * ("Willow Court, 4 Park Road", "Chester CH1 2HS", "Chipping Norton OX7 5QR") */
        if (conf >= 0.5 && !addressed && !vocative && !at && in_address(c, s, e)) conf = 0;
        if (conf >= 0.5) add(c, ZT_PII_PERSON_NAME, s, e, conf);
        s = e;
    }
    zt_free(eh.v);
}

/* ---- public ------------------------------------------------------------- */

int zt_pii_detector_new(const struct zt_cfg_privacy *privacy, struct zt_pii_detector **out, struct zt_buf *errs)
{
    struct zt_pii_detector *d = zt_calloc(1, sizeof *d);
    if (!d) return ZT_ENOMEM;
    int rc = 0;
    d->mctx = pcre2_match_context_create(NULL);
    if (!d->mctx) {
        rc = ZT_ENOMEM;
        goto out;
    }
    d->name_model = zt__pii_name_model_builtin();
    d->name_gates = (struct name_gates){ZT__PII_WORD_GATE, ZT__PII_START_GATE, ZT__PII_BRAND_GATE, ZT__PII_PLACE_GATE};
    pcre2_set_match_limit(d->mctx, CUSTOM_MATCH_LIMIT);
    pcre2_set_depth_limit(d->mctx, CUSTOM_DEPTH_LIMIT);
    size_t n = privacy ? privacy->n_extra_patterns : 0;
    if (n > ZT_PII_MAX_CUSTOM) {
        if (errs) zt_ignore(zt_buf_appendf(errs, "privacy.extra_patterns: at most %d entries\n", ZT_PII_MAX_CUSTOM));
        rc = ZT_ECONFIG;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct zt_cfg_pii_pattern *p = &privacy->extra_patterns[i];
        const char *name = p->type ? p->type : "";
        if (!name[0] || strlen(name) >= ZT_PII_TYPE_NAME_MAX || zt_pii_type_find(d, name) >= 0) {
            if (errs) zt_ignore(zt_buf_appendf(errs, "privacy.extra_patterns[%zu].type: empty, too long or repeated\n", i));
            rc = ZT_ECONFIG;
            goto out;
        }
        int err = 0;
        PCRE2_SIZE off = 0;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)(p->regex ? p->regex : ""), PCRE2_ZERO_TERMINATED, PCRE2_UTF,
                                       &err, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            if (pcre2_get_error_message(err, msg, sizeof msg) < 0) msg[0] = 0;
            if (errs)
                zt_ignore(zt_buf_appendf(errs, "privacy.extra_patterns[%zu].regex: does not compile at offset %zu: %s\n",
                                         i, (size_t)off, (const char *)msg));
            rc = ZT_ECONFIG;
            goto out;
        }
        memcpy(d->custom[d->n_custom].name, name, strlen(name) + 1);
        d->custom[d->n_custom].re = re;
        d->n_custom++;
    }
out:
    return ZT_HAND_OUT(rc, d, zt_pii_detector_free, out);
}

int zt_pii_detector_set_names(struct zt_pii_detector *d, const void *payload, size_t len)
{
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += ((const char *)payload)[i] == '\n';
    if (len > SIZE_MAX / 16) return ZT_ENOMEM; /* the size below cannot overflow */
    struct names *nm = zt_calloc(1, sizeof *nm + (lines + 1) * (sizeof *nm->name + 1) + len + 1);
    if (!nm) return ZT_ENOMEM;
    nm->name = (const char **)(void *)(nm + 1);
    nm->kind = (char *)(nm->name + lines + 1);
    nm->buf = nm->kind + lines + 1;
    memcpy(nm->buf, payload, len);
    nm->buf[len] = 0;
    int rc = ZT_EPARSE;
    for (size_t i = 0; i < len;) {
        char *l = nm->buf + i;
        char *nl = memchr(l, '\n', len - i);
        if (!nl) goto out;
        *nl = 0;
        char *tab = strchr(l, '\t');
        if (!tab || tab == l || (tab[1] != 'u' && tab[1] != 'a' && tab[1] != 'w') || tab[2]) goto out;
        *tab = 0;
        for (char *q = l; *q; q++)
            if (*q < 'a' || *q > 'z') goto out;
        if (nm->n && strcmp(nm->name[nm->n - 1], l) >= 0) goto out; /* sorted, unique */
        nm->name[nm->n] = l;
        nm->kind[nm->n] = tab[1];
        nm->n++;
        i = (size_t)(nl - nm->buf) + 1;
    }
    if (!nm->n) goto out;
    zt_free(d->names);
    d->names = nm;
    return 0;
out:
    zt_free(nm);
    return rc;
}

void zt_pii_detector_free(struct zt_pii_detector *d)
{
    if (!d) return;
    zt_free(d->names);
    for (size_t i = 0; i < d->n_custom; i++) pcre2_code_free(d->custom[i].re);
    pcre2_match_context_free(d->mctx);
    zt_free(d);
}

size_t zt_pii_type_count(const struct zt_pii_detector *d)
{
    return ZT_PII_N_BUILTIN + (d ? d->n_custom : 0);
}

const char *zt_pii_type_name(const struct zt_pii_detector *d, unsigned type)
{
    if (type < ZT_PII_N_BUILTIN) return builtin_names[type];
    if (d && type - ZT_PII_N_BUILTIN < d->n_custom) return d->custom[type - ZT_PII_N_BUILTIN].name;
    return "UNKNOWN";
}

int zt_pii_type_find(const struct zt_pii_detector *d, const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < zt_pii_type_count(d); i++)
        if (strcmp(zt_pii_type_name(d, (unsigned)i), name) == 0) return (int)i;
    return -1;
}

void zt_pii_hits_init(struct zt_pii_hits *h)
{
    memset(h, 0, sizeof *h);
}

void zt_pii_hits_deinit(struct zt_pii_hits *h)
{
    if (!h) return;
    zt_free(h->v);
    memset(h, 0, sizeof *h);
}

uint64_t zt_pii_hits_types(const struct zt_pii_hits *h)
{
    uint64_t m = 0;
    for (size_t i = 0; h && i < h->n; i++)
        if (h->v[i].type < 64) m |= 1ull << h->v[i].type;
    return m;
}

int zt_pii_detect(const struct zt_pii_detector *d, const char *text, size_t len, struct zt_pii_hits *out)
{
    struct cands c = {0};
    out->n = 0;
    if (len && !text) return ZT_EINVAL;
    if (len) {
        scan_email(text, len, &c);
        scan_card(text, len, &c);
        scan_iban(text, len, &c);
        scan_ipv4(text, len, &c);
        scan_ipv6(text, len, &c);
        scan_eth(text, len, &c);
        scan_btc(text, len, &c);
        scan_phone(text, len, &c);
        scan_ssn(text, len, &c);
        scan_nino(text, len, &c);
        scan_address(text, len, &c);
        scan_names(d ? d->names : NULL, d ? d->name_model : NULL, d ? &d->name_gates : NULL, text, len, &c, NULL,
                   NULL);
        scan_custom(d, text, len, &c);
    }
    int rc = c.err ? c.err : resolve(&c, out);
    zt_free(c.v);
    if (rc) out->n = 0;
    return rc;
}

/* ---- the name model's hooks (pii_internal.h) ---------------------------------- */

void zt__pii_set_name_model(struct zt_pii_detector *d, const struct zt_hlr *m)
{
    d->name_model = m;
}

void zt__pii_set_name_word_gate(struct zt_pii_detector *d, double gate)
{
    d->name_gates.word = gate;
}

void zt__pii_set_name_start_gate(struct zt_pii_detector *d, double gate)
{
    d->name_gates.start = gate;
}

void zt__pii_set_name_brand_gate(struct zt_pii_detector *d, double gate)
{
    d->name_gates.brand = gate;
}

void zt__pii_set_name_place_gate(struct zt_pii_detector *d, double gate)
{
    d->name_gates.place = gate;
}

int zt__pii_name_candidates(const struct zt_pii_detector *d, const char *text, size_t len, zt__pii_name_cand_fn fn,
                            void *ud)
{
    if (!d || !d->names) return ZT_ENOTFOUND;
    struct cands c = {0};
    static const struct name_gates none = {0.0, 0.0, 0.0, 0.0};
    scan_names(d->names, NULL, &none, text, len, &c, fn, ud);
    zt_free(c.v);
    return c.err;
}
