/* translate_rules.c: the rewrites around Apertium (config/translate.txt) and
 * the tidying of its output (zt_translate.h, docs/features/translate.md). */
#include <stdio.h>
#include <string.h>

#include "conv_util.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_translate.h"

#define RULE_WORDS 8
#define RULE_MAX 128 /* bytes of FROM or TO */

extern const unsigned char zt__builtin_translate[];
extern const size_t zt__builtin_translate_len;

struct rule {
    bool post;      /* post: rewrites a translation; else the source */
    char lang[4];
    bool anchored;  /* ^: at a clause start */
    char from[RULE_MAX + 1];
    char to[RULE_MAX + 1];
};

struct zt_translate_rules {
    struct rule *r;
    size_t n, cap;
};

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 || c == '\'';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A field of `FROM` / `TO`: words of [a-z0-9'] and UTF-8, single spaces. */
static bool copy_phrase(const char *a, const char *b, char *out, bool from)
{
    while (a < b && *a == ' ') a++;
    while (b > a && b[-1] == ' ') b--;
    size_t n = (size_t)(b - a), words = 1;
    if (n == 0 || n > RULE_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == ' ') {
            if (a[i + 1] == ' ') return false;
            words++;
        } else if (a[i] == '^' && !(from && i == 0)) {
            return false;
        }
        out[i] = from ? lower(a[i]) : a[i];
    }
    out[n] = '\0';
    return words <= RULE_WORDS && !(from && strcmp(out, "^") == 0);
}

#define FAIL ZT__DATA_FAIL

/* config/translate.txt into rs (zeroed): ZT__DATA_FILE_FUNCS */
static int parse_rules(struct zt_translate_rules *rs, struct zt__dfile *d)
{
    int rc;
    const char *ln, *le;
    while ((rc = zt__dfile_next(d, &ln, &le)) > 0) {
        struct rule r;
        memset(&r, 0, sizeof r);
        const char *bar1 = memchr(ln, '|', (size_t)(le - ln));
        const char *bar2 = bar1 ? memchr(bar1 + 1, '|', (size_t)(le - bar1 - 1)) : NULL;
        if (!bar2 || memchr(bar2 + 1, '|', (size_t)(le - bar2 - 1))) FAIL("expected `pre|post LANG | FROM | TO`");
        const char *s = ln, *f, *lf, *xf;
        size_t fl, ll, xl;
        if (!zt__next_field(&s, bar1, &f, &fl) || !zt__next_field(&s, bar1, &lf, &ll) ||
            zt__next_field(&s, bar1, &xf, &xl))
            FAIL("expected `pre|post LANG | FROM | TO`");
        if (fl == 3 && memcmp(f, "pre", 3) == 0) r.post = false;
        else if (fl == 4 && memcmp(f, "post", 4) == 0) r.post = true;
        else FAIL("a rule starts with pre or post");
        char l3[4] = {0};
        memcpy(l3, lf, ll < 3 ? ll : 3);
        const char *canon = ll == 3 ? zt_translate_lang3(l3) : NULL;
        if (!canon || strcmp(canon, l3) != 0) FAIL("LANG must be an ISO 639-3 code Apertium pairs use");
        memcpy(r.lang, lf, 3);
        if (!copy_phrase(bar1 + 1, bar2, r.from, true)) FAIL("FROM must be 1 to %d words, at most %d bytes", RULE_WORDS, RULE_MAX);
        if (!copy_phrase(bar2 + 1, le, r.to, false)) FAIL("TO must be 1 to %d words, at most %d bytes", RULE_WORDS, RULE_MAX);
        if (r.from[0] == '^') {
            r.anchored = true;
            memmove(r.from, r.from + 1, strlen(r.from));
            if (r.from[0] == ' ' || !r.from[0]) FAIL("nothing after ^");
        }
        if ((strchr(r.to, '#') != NULL) != (strchr(r.from, '#') != NULL)) FAIL("# must be in both FROM and TO, or in neither");
        if ((rc = zt_array_push(&rs->r, &rs->n, &rs->cap, &r, sizeof r, 16))) goto out;
    }
out:
    return rc;
}

ZT__DATA_FILE_FUNCS(zt_translate_rules, struct zt_translate_rules, parse_rules, zt__builtin_translate, "translate.txt")

void zt_translate_rules_free(struct zt_translate_rules *rs)
{
    if (!rs) return;
    zt_free(rs->r);
    zt_free(rs);
}

size_t zt_translate_rules_count(const struct zt_translate_rules *rs)
{
    return rs ? rs->n : 0;
}

/* ---- applying them -------------------------------------------------------- */

/* A clock number at s[0..n): 1..24, optionally ":MM"; its length or 0. After
 * it comes no letter (a count of things, "5 personas", is not a time). */
static size_t clock_at(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && i < 2 && is_digit(s[i])) i++;
    if (i == 0 || (i < n && is_digit(s[i]))) return 0;
    int h = s[0] - '0';
    if (i == 2) h = h * 10 + (s[1] - '0');
    if (h < 1 || h > 24) return 0;
    if (i + 2 < n && s[i] == ':' && is_digit(s[i + 1]) && is_digit(s[i + 2])) i += 3;
    size_t j = i;
    while (j < n && s[j] == ' ') j++;
    if (j < n && alnum((unsigned char)s[j]) && !is_digit(s[j])) return 0;
    return i;
}

/* Does rule r match text at p? *end: past the match; the clock number in
 * *num, *num_len. */
static bool match_at(const struct rule *r, const char *t, size_t n, size_t p, size_t *end, size_t *num,
                     size_t *num_len)
{
    const char *f = r->from;
    size_t i = p;
    while (*f) {
        if (*f == ' ') {
            if (i >= n || t[i] != ' ') return false;
            while (i < n && t[i] == ' ') i++;
            f++;
        } else if (*f == '#') {
            size_t cl = clock_at(t + i, n - i);
            if (!cl) return false;
            *num = i;
            *num_len = cl;
            i += cl;
            f++;
        } else {
            if (i >= n || lower(t[i]) != *f) return false;
            i++;
            f++;
        }
    }
    if (i < n && alnum((unsigned char)t[i])) return false;
    *end = i;
    return true;
}

static bool clause_start(const char *t, size_t p)
{
    size_t i = p;
    while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t' || t[i - 1] == '"' || t[i - 1] == '(')) i--;
    return i == 0 || strchr(".!?,;:\n\r", t[i - 1]) != NULL;
}

int zt_translate_rules_apply(const struct zt_translate_rules *rs, bool post, const char *lang3, const char *text,
                             size_t len, struct zt_buf *out)
{
    int rc = 0;
    size_t p = 0;
    while (p < len && !rc) {
        bool word_start = p == 0 || !alnum((unsigned char)text[p - 1]);
        const struct rule *hit = NULL;
        size_t end = 0, num = 0, num_len = 0;
        for (size_t k = 0; rs && word_start && k < rs->n && !hit; k++) {
            const struct rule *r = &rs->r[k];
            if (r->post != post || strcmp(r->lang, lang3) != 0) continue;
            if (r->anchored && !clause_start(text, p)) continue;
            if (match_at(r, text, len, p, &end, &num, &num_len)) hit = r;
        }
        if (!hit) {
            rc = zt_buf_append_byte(out, text[p]);
            p++;
            continue;
        }
        bool cap = text[p] >= 'A' && text[p] <= 'Z';
        for (const char *c = hit->to; *c && !rc; c++) {
            if (*c == '#') {
                rc = zt_buf_append(out, text + num, num_len);
            } else {
                char ch = *c;
                if (c == hit->to && cap && ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
                rc = zt_buf_append_byte(out, ch);
            }
        }
        p = end;
    }
    return rc;
}

/* ---- tidying ---------------------------------------------------------------- */

static bool has_seq(const char *s, size_t n, char a, char b)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == a && s[i + 1] == b) return true;
    return false;
}

static bool opening_mark(const char *s, size_t n, size_t i)
{
    return i + 1 < n && (unsigned char)s[i] == 0xC2 && ((unsigned char)s[i + 1] == 0xBF || (unsigned char)s[i + 1] == 0xA1);
}

int zt_translate_tidy(const char *src, size_t src_len, const char *target3, const char *text, size_t len,
                      struct zt_buf *out)
{
    int rc = 0;
    bool french = target3 && strcmp(target3, "fra") == 0;
    bool spanish = target3 && strcmp(target3, "spa") == 0;
    bool keep_doubles = has_seq(src, src_len, ' ', ' ');
    bool src_marks = false;
    for (size_t i = 0; i < src_len && !src_marks; i++) src_marks = opening_mark(src, src_len, i);
    size_t start = out->len;
    size_t sent = start; /* where the current sentence starts in out */
    for (size_t i = 0; i < len && !rc; i++) {
        char c = text[i];
        /* an unknown-word mark some pairs' generators escape ("\\@the"),
         * so that it outlives the decoder, when the source has no such character */
        if ((c == '@' || c == '#' || c == '*') && (i == 0 || text[i - 1] == ' ') && i + 1 < len &&
            alnum((unsigned char)text[i + 1]) && !memchr(src, c, src_len))
            continue;
        if (c == ' ') {
            size_t j = i;
            while (j < len && text[j] == ' ') j++;
            char nx = j < len ? text[j] : '\0';
            /* a space before closing punctuation the source did not have */
            if (nx && strchr(",.;:!?)%", nx) && !(french && strchr(";:!?", nx)) && !has_seq(src, src_len, ' ', nx)) {
                i = j - 1;
                continue;
            }
            /* after an opening bracket or mark */
            size_t ol = out->len;
            if (ol > start && ((out->data[ol - 1] == '(' && !has_seq(src, src_len, '(', ' ')) ||
                               (ol - start >= 2 && opening_mark(out->data, ol, ol - 2)))) {
                i = j - 1;
                continue;
            }
            if (!keep_doubles || j - i == 1) {
                rc = ol > start && out->data[ol - 1] == ' ' ? 0 : zt_buf_append_byte(out, ' ');
                i = j - 1;
                continue;
            }
            rc = zt_buf_append(out, text + i, j - i);
            i = j - 1;
            continue;
        }
        if (spanish && !src_marks && (c == '?' || c == '!') && (i + 1 == len || text[i + 1] != c)) {
            /* "¿...?" and "¡...!": open the sentence the mark closes */
            size_t a = sent;
            while (a < out->len && (out->data[a] == ' ' || out->data[a] == '\n' || out->data[a] == '"')) a++;
            if (a < out->len && !opening_mark(out->data, out->len, a)) {
                const char *m = c == '?' ? "\xC2\xBF" : "\xC2\xA1";
                size_t tail = out->len - a;
                rc = zt_buf_append(out, "  ", 2); /* room for the mark */
                if (!rc) {
                    memmove(out->data + a + 2, out->data + a, tail);
                    memcpy(out->data + a, m, 2);
                }
            }
        }
        if (!rc) rc = zt_buf_append_byte(out, c);
        if (!rc && (c == '.' || c == '?' || c == '!' || c == '\n')) sent = out->len;
    }
    if (rc) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    return rc;
}

/* ---- the generative path's prompt and the cleaning of its answer ------------ */

static const struct {
    const char *iso3, *name;
} lang_names[] = {
    {"eng", "English"},   {"spa", "Spanish"},    {"cat", "Catalan"},   {"fra", "French"},     {"por", "Portuguese"},
    {"ita", "Italian"},   {"deu", "German"},     {"oci", "Occitan"},   {"glg", "Galician"},   {"eus", "Basque"},
    {"ron", "Romanian"},  {"nld", "Dutch"},      {"epo", "Esperanto"}, {"arg", "Aragonese"},  {"swe", "Swedish"},
    {"dan", "Danish"},    {"nob", "Norwegian Bokmål"}, {"nno", "Norwegian Nynorsk"}, {"isl", "Icelandic"},
    {"cym", "Welsh"},     {"bre", "Breton"},     {"gle", "Irish"},     {"pol", "Polish"},     {"ces", "Czech"},
    {"slk", "Slovak"},    {"bul", "Bulgarian"},  {"mkd", "Macedonian"}, {"rus", "Russian"},   {"ukr", "Ukrainian"},
    {"bel", "Belarusian"}, {"kaz", "Kazakh"},    {"tat", "Tatar"},     {"tur", "Turkish"},    {"srd", "Sardinian"},
    {"mlt", "Maltese"},   {"ara", "Arabic"},     {"hin", "Hindi"},     {"urd", "Urdu"},       {"ind", "Indonesian"},
    {"msa", "Malay"},     {"afr", "Afrikaans"},  {"fin", "Finnish"},   {"hbs", "Serbo-Croatian"},
};

const char *zt_translate_lang_name(const char *code3)
{
    for (size_t i = 0; code3 && i < sizeof lang_names / sizeof lang_names[0]; i++)
        if (strcmp(lang_names[i].iso3, code3) == 0) return lang_names[i].name;
    return code3;
}

int zt_translate_llm_prompt(const char *source3, const char *target3, const char *text, size_t len,
                            struct zt_buf *sys, struct zt_buf *user)
{
    int rc = zt_buf_appendf(sys,
                            "You translate chat messages from %s to %s. Answer with the translation only: "
                            "no quotes, no notes, no explanation. Keep names, numbers, links and emoji as "
                            "they are.",
                            zt_translate_lang_name(source3), zt_translate_lang_name(target3));
    if (!rc) rc = zt_buf_append(user, text, len);
    return rc;
}

static bool ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int zt_translate_llm_clean(const char *answer, size_t len, size_t src_len, struct zt_buf *out)
{
    if (!zt_utf8_valid(answer, len)) return ZT_EPARSE;
    const char *a = answer, *b = answer + len;
    while (a < b && ws(*a)) a++;
    while (b > a && ws(b[-1])) b--;
    /* a label the model put in front: "Translation:", "Spanish translation:",
     * "Traducción:" (not any "Word:", which may be the text's own) */
    const char *colon = memchr(a, ':', (size_t)(b - a) < 32 ? (size_t)(b - a) : 32);
    if (colon && colon + 1 < b && (colon[1] == ' ' || colon[1] == '\n')) {
        char lab[33];
        size_t ll = (size_t)(colon - a);
        for (size_t i = 0; i < ll; i++) lab[i] = lower(a[i]);
        lab[ll] = '\0';
        if (strstr(lab, "translat") || strstr(lab, "traduc") || strstr(lab, "bersetz")) {
            a = colon + 1;
            while (a < b && ws(*a)) a++;
        }
    }
    /* only the first paragraph: what follows is commentary */
    for (const char *c = a; c + 1 < b; c++)
        if (c[0] == '\n' && c[1] == '\n') {
            b = c;
            break;
        }
    if (b - a >= 2 && ((*a == '"' && b[-1] == '"') || (*a == '\'' && b[-1] == '\''))) {
        a++;
        b--;
    }
    size_t n = (size_t)(b - a);
    if (n == 0) return ZT_EPARSE;
    if (n > 4 * src_len + 64) return ZT_ETOOBIG; /* rambling, not a translation */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] < 0x20 && a[i] != '\n' && a[i] != '\t') return ZT_EPARSE;
    return zt_buf_append(out, a, n);
}
