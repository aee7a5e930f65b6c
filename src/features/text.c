/* text.c: normalisation, tokens and sentences (zt_text.h), on utf8proc. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_text.h"

/* Decode one code point at p (n bytes left); 0 at the end, -1 on bad UTF-8. */
static int next_cp(const char *p, size_t n, int32_t *cp)
{
    if (n == 0) return 0;
    utf8proc_ssize_t max = n > 4 ? 4 : (utf8proc_ssize_t)n;
    utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)p, max, cp);
    if (r <= 0 || *cp < 0) return -1;
    return (int)r;
}

static bool is_letter(int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

static bool is_digit(int32_t cp)
{
    return utf8proc_category(cp) == UTF8PROC_CATEGORY_ND;
}

static bool is_word_char(int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ME) || /* letters and marks */
           c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || cp == '_';
}

/* Pictographic code points (emoji and the symbols messengers render as
 * emoji) and the joiners/modifiers that continue an emoji sequence. */
static bool is_emoji(int32_t cp)
{
    return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
           (cp >= 0x2B00 && cp <= 0x2BFF) || (cp >= 0x2300 && cp <= 0x23FF) || cp == 0x203C ||
           cp == 0x2049 || cp == 0x3030 || cp == 0x303D || cp == 0x3297 || cp == 0x3299;
}

static bool is_emoji_continuation(int32_t cp)
{
    return cp == 0x200D || cp == 0xFE0F || cp == 0xFE0E || cp == 0x20E3 ||
           (cp >= 0xE0020 && cp <= 0xE007F) || (cp >= 0x1F3FB && cp <= 0x1F3FF);
}

static bool is_space_or_cc(int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || c == UTF8PROC_CATEGORY_ZS ||
           c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP || c == UTF8PROC_CATEGORY_CC ||
           (c == UTF8PROC_CATEGORY_CF && cp != 0x200D);
}

static bool is_apostrophe(int32_t cp)
{
    return cp == '\'' || cp == 0x2019;
}

static bool prefix_ci(const char *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n < k) return false;
    for (size_t i = 0; i < k; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != lit[i]) return false;
    }
    return true;
}

int zt_text_normalize(const char *text, size_t len, unsigned opts, char **out, size_t *out_len)
{
    if (len > ((size_t)1 << 30)) return ZT_ETOOBIG; /* utf8proc sizes are ssize_t; grows up to 4x */
    int o = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    if (opts & ZT_TEXT_NFKC) o |= UTF8PROC_COMPAT;
    if (opts & ZT_TEXT_CASEFOLD) o |= UTF8PROC_CASEFOLD;
    if (opts & ZT_TEXT_STRIP_CC) o |= UTF8PROC_STRIPCC | UTF8PROC_NLF2LF;
    if (opts & ZT_TEXT_SKELETON) o |= UTF8PROC_STRIPMARK | UTF8PROC_IGNORE | UTF8PROC_LUMP;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &dst,
                                      (utf8proc_option_t)o);
    if (r < 0) {
        free(dst);
        return r == UTF8PROC_ERROR_NOMEM ? ZT_ENOMEM : ZT_EPARSE;
    }
    /* Copy into our allocator so callers free with zt_free (and tests count it). */
    char *copy = zt_malloc((size_t)r + 1);
    if (!copy) {
        free(dst);
        return ZT_ENOMEM;
    }
    memcpy(copy, dst, (size_t)r);
    copy[r] = '\0';
    free(dst);
    *out = copy;
    *out_len = (size_t)r;
    return 0;
}

static void emit(struct zt_token *toks, size_t max, size_t *n, size_t off, size_t len,
                 enum zt_tok_kind kind, uint32_t flags)
{
    if (*n < max) toks[*n] = (struct zt_token){.off = off, .len = len, .kind = kind, .flags = flags};
    (*n)++;
}

int zt_text_tokenize(const char *text, size_t len, struct zt_token *toks, size_t max, size_t *n_out)
{
    size_t i = 0, n = 0;
    while (i < len) {
        int32_t cp;
        int k = next_cp(text + i, len - i, &cp);
        if (k < 0) return ZT_EPARSE;
        if (is_space_or_cc(cp)) {
            i += (size_t)k;
            continue;
        }
        size_t start = i;
        if (prefix_ci(text + i, len - i, "http://") || prefix_ci(text + i, len - i, "https://") ||
            prefix_ci(text + i, len - i, "www.")) {
            size_t j = i;
            while (j < len) {
                int32_t c2;
                int k2 = next_cp(text + j, len - j, &c2);
                if (k2 < 0) return ZT_EPARSE;
                if (is_space_or_cc(c2)) break;
                j += (size_t)k2;
            }
            /* Trailing sentence punctuation is not part of the address. */
            while (j > start && strchr(".,;:!?)]}\"'", text[j - 1])) j--;
            if (j - start > 4) {
                emit(toks, max, &n, start, j - start, ZT_TOK_URL, 0);
                i = j;
                continue;
            }
        }
        if (is_word_char(cp)) {
            bool letter = false, all_upper = true, title = false;
            size_t letters = 0, j = i;
            for (;;) {
                int32_t c2;
                int k2 = next_cp(text + j, len - j, &c2);
                if (k2 < 0) return ZT_EPARSE;
                if (k2 == 0) break;
                if (is_word_char(c2)) {
                    if (is_letter(c2)) {
                        utf8proc_category_t cat = utf8proc_category(c2);
                        if (!letter) title = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT;
                        letter = true;
                        letters++;
                        if (cat == UTF8PROC_CATEGORY_LL) all_upper = false;
                    }
                    j += (size_t)k2;
                    continue;
                }
                /* Inner apostrophe ("don't") or, in numbers, '.'/',' between digits. */
                int32_t c3;
                int k3 = next_cp(text + j + (size_t)k2, len - j - (size_t)k2, &c3);
                if (k3 < 0) return ZT_EPARSE;
                if (k3 > 0 && is_apostrophe(c2) && letter && is_letter(c3)) {
                    j += (size_t)k2;
                    continue;
                }
                if (k3 > 0 && !letter && (c2 == '.' || c2 == ',') && is_digit(c3) && j > start &&
                    is_digit((unsigned char)text[j - 1])) {
                    j += (size_t)k2;
                    continue;
                }
                break;
            }
            uint32_t flags = 0;
            if (letter && all_upper && letters >= 2) flags |= ZT_TOK_F_UPPER;
            if (title) flags |= ZT_TOK_F_TITLE;
            emit(toks, max, &n, start, j - start, letter ? ZT_TOK_WORD : ZT_TOK_NUMBER, flags);
            i = j;
            continue;
        }
        if (is_emoji(cp)) {
            size_t j = i + (size_t)k;
            for (;;) {
                int32_t c2;
                int k2 = next_cp(text + j, len - j, &c2);
                if (k2 < 0) return ZT_EPARSE;
                if (k2 == 0 || !(is_emoji(c2) || is_emoji_continuation(c2))) break;
                j += (size_t)k2;
            }
            emit(toks, max, &n, start, j - start, ZT_TOK_EMOJI, 0);
            i = j;
            continue;
        }
        if (is_emoji_continuation(cp)) { /* a stray joiner or selector */
            i += (size_t)k;
            continue;
        }
        emit(toks, max, &n, start, (size_t)k, ZT_TOK_PUNCT, 0);
        i += (size_t)k;
    }
    *n_out = n;
    return 0;
}

long zt_text_token_fold(const char *text, const struct zt_token *t, char *out, size_t out_size)
{
    if (out_size == 0) return ZT_EINVAL;
    out[0] = '\0';
    if (t->len == 0) return 0;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map(
        (const utf8proc_uint8_t *)text + t->off, (utf8proc_ssize_t)t->len, &dst,
        (utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD));
    if (r < 0) {
        free(dst);
        return r == UTF8PROC_ERROR_NOMEM ? ZT_ENOMEM : ZT_EPARSE;
    }
    long rc = (long)r;
    size_t n = (size_t)r;
    if (n + 1 > out_size) {
        /* Cut at a code point boundary so the prefix stays valid UTF-8. */
        n = out_size - 1;
        while (n > 0 && (dst[n] & 0xC0) == 0x80) n--;
        rc = ZT_ETOOBIG;
    }
    memcpy(out, dst, n);
    out[n] = '\0';
    free(dst);
    return rc;
}

/* Abbreviations after which a '.' does not end a sentence (lower case). */
static const char *const ABBREV[] = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs",
                                     "etc", "e.g", "i.e", "approx", "no", "fig", "inc", "ltd",
                                     "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
                                     "sep", "sept", "oct", "nov", "dec", "a.m", "p.m"};

static bool abbrev_before(const char *text, size_t dot)
{
    size_t b = dot;
    while (b > 0 && (text[b - 1] == '.' || (text[b - 1] >= 'a' && text[b - 1] <= 'z') ||
                     (text[b - 1] >= 'A' && text[b - 1] <= 'Z')))
        b--;
    size_t wl = dot - b;
    if (wl == 0 || wl > 7) return false;
    if (wl == 1) return true; /* a single letter: an initial ("J. Smith", "U.S.") */
    char w[8];
    for (size_t i = 0; i < wl; i++) {
        char c = text[b + i];
        w[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    w[wl] = '\0';
    for (size_t i = 0; i < sizeof ABBREV / sizeof ABBREV[0]; i++)
        if (strcmp(w, ABBREV[i]) == 0) return true;
    /* "U.S" style: letters separated by dots. */
    return wl >= 3 && w[1] == '.';
}

static void push_span(const char *text, size_t a, size_t b, struct zt_span *spans, size_t max,
                      size_t *n)
{
    while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r' || text[a] == '\n')) a++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r' ||
                     text[b - 1] == '\n'))
        b--;
    if (b == a) return;
    if (*n < max) spans[*n] = (struct zt_span){.off = a, .len = b - a};
    (*n)++;
}

int zt_text_sentences(const char *text, size_t len, struct zt_span *spans, size_t max,
                      size_t *n_out)
{
    size_t n = 0, start = 0, i = 0;
    while (i < len) {
        int32_t cp;
        int k = next_cp(text + i, len - i, &cp);
        if (k < 0) return ZT_EPARSE;
        if (cp == '\n') {
            push_span(text, start, i, spans, max, &n);
            i += (size_t)k;
            start = i;
            continue;
        }
        if (cp == '.' || cp == '!' || cp == '?' || cp == 0x2026 /* … */) {
            size_t dot = i;
            size_t j = i + (size_t)k;
            /* a run of terminators and closing quotes/brackets */
            while (j < len && strchr(".!?\"')]", text[j]) && text[j] != '\0') j++;
            while (j + 2 < len && (unsigned char)text[j] == 0xE2 && (unsigned char)text[j + 1] == 0x80 &&
                   ((unsigned char)text[j + 2] == 0x9D || (unsigned char)text[j + 2] == 0x99))
                j += 3; /* ” ’ */
            bool at_end = j >= len;
            bool space_after = !at_end && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' ||
                                           text[j] == '\n');
            if ((at_end || space_after) && !(cp == '.' && j == dot + 1 && abbrev_before(text, dot))) {
                push_span(text, start, j, spans, max, &n);
                start = j;
            }
            i = j;
            continue;
        }
        i += (size_t)k;
    }
    push_span(text, start, len, spans, max, &n);
    *n_out = n;
    return 0;
}

long zt_text_codepoints(const char *text, size_t len)
{
    long count = 0;
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        int k = next_cp(text + i, len - i, &cp);
        if (k <= 0) return ZT_EPARSE;
        i += (size_t)k;
        count++;
    }
    return count;
}

int zt_text_tokenize_all(const char *text, size_t len, struct zt_token *stack, size_t stack_n,
                         struct zt_token **toks, size_t *n)
{
    struct zt_token one;
    size_t total = 0;
    int rc = zt_text_tokenize(text, len, stack_n ? stack : &one, stack_n ? stack_n : 1, &total);
    if (rc) return rc;
    if (stack_n && total <= stack_n) {
        *toks = stack;
        *n = total;
        return 0;
    }
    struct zt_token *t = zt_calloc(total ? total : 1, sizeof *t);
    if (!t) return ZT_ENOMEM;
    size_t again = 0;
    rc = zt_text_tokenize(text, len, t, total, &again);
    if (rc) {
        zt_free(t);
        return rc;
    }
    *toks = t;
    *n = again < total ? again : total;
    return 0;
}
