/* entities.c: rule-based entity extraction (zt_entities.h). Hand-written
 * matchers over bytes (each a small state machine with explicit bounds)
 * rather than regular expressions: dates need arithmetic, wallets need
 * checksums, and the boundary rules are shared. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "zentalk/zt_entities.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_text.h"

/* ---- small helpers -------------------------------------------------------- */

/* ASCII letters and digits and every byte of a multi-byte character */
static int is_word_byte(char c)
{
    return zt_ascii_alnum(c) || (uint8_t)c >= 0x80;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

struct cx {
    const char *t;
    size_t len;
    const struct zt_entities_ref *ref;
    int64_t ref_days; /* local civil day number of the reference time */
    int64_t ref_sod;  /* its second of the day */
};

static int boundary_before(const struct cx *c, size_t p)
{
    return p == 0 || !is_word_byte(c->t[p - 1]);
}

static int boundary_after(const struct cx *c, size_t p)
{
    return p >= c->len || !is_word_byte(c->t[p]);
}

/* end of word w (ASCII, case-insensitive) at p, followed by a boundary; 0 if not there */
static size_t word_at(const struct cx *c, size_t p, const char *w)
{
    size_t n = strlen(w);
    if (p + n > c->len) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(c->t[p + i]) != w[i]) return 0;
    return boundary_after(c, p + n) ? p + n : 0;
}

static size_t skip_sp(const struct cx *c, size_t p)
{
    while (p < c->len && (c->t[p] == ' ' || c->t[p] == '\t')) p++;
    return p;
}

/* up to maxd digits at p: *v, returns the count (0 = none) */
static size_t digits_at(const struct cx *c, size_t p, size_t maxd, int64_t *v)
{
    size_t k = 0;
    int64_t x = 0;
    while (p + k < c->len && k < maxd && zt_ascii_digit(c->t[p + k])) x = x * 10 + (c->t[p + k++] - '0');
    if (p + k < c->len && k == maxd && zt_ascii_digit(c->t[p + k])) return 0; /* more digits than allowed */
    *v = x;
    return k;
}

/* ---- calendar (proleptic Gregorian, H. Hinnant's algorithms) --------------- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int64_t m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

static int valid_date(int64_t y, int64_t m, int64_t d)
{
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* 0 = Sunday */
static int weekday(int64_t days)
{
    return (int)((days % 7 + 11) % 7);
}

/* ---- date/time ------------------------------------------------------------- */

struct when {
    int has_date, has_time;
    int64_t days; /* local civil day */
    int64_t sod;  /* second of day */
};

static const char *const MONTHS[12][2] = {
    {"january", "jan"}, {"february", "feb"}, {"march", "mar"},     {"april", "apr"},
    {"may", "may"},     {"june", "jun"},     {"july", "jul"},      {"august", "aug"},
    {"september", "sep"}, {"october", "oct"}, {"november", "nov"}, {"december", "dec"},
};

static const char *const WEEKDAYS[7][2] = {
    {"sunday", "sun"},   {"monday", "mon"}, {"tuesday", "tue"}, {"wednesday", "wed"},
    {"thursday", "thu"}, {"friday", "fri"}, {"saturday", "sat"},
};

/* month name at p (full, 3-letter, "sept", with an optional '.'): 1..12 and *end */
static int month_at(const struct cx *c, size_t p, size_t *end)
{
    for (int i = 0; i < 12; i++)
        for (int k = 0; k < 2; k++) {
            size_t e = word_at(c, p, MONTHS[i][k]);
            if (!e && i == 8 && k == 1) e = word_at(c, p, "sept");
            if (e) {
                if (e < c->len && c->t[e] == '.') e++;
                *end = e;
                return i + 1;
            }
        }
    return 0;
}

static int weekday_at(const struct cx *c, size_t p, size_t *end)
{
    for (int i = 0; i < 7; i++)
        for (int k = 0; k < 2; k++) {
            size_t e = word_at(c, p, WEEKDAYS[i][k]);
            if (e) {
                *end = e;
                return i;
            }
        }
    return -1;
}

/* day number with an optional ordinal suffix */
static size_t day_at(const struct cx *c, size_t p, int64_t *d)
{
    size_t k = digits_at(c, p, 2, d);
    if (!k || *d < 1 || *d > 31) return 0;
    size_t e = p + k;
    static const char *const suf[] = {"st", "nd", "rd", "th"};
    for (int i = 0; i < 4; i++)
        if (e + 2 <= c->len && lower(c->t[e]) == suf[i][0] && lower(c->t[e + 1]) == suf[i][1]) {
            e += 2;
            break;
        }
    return boundary_after(c, e) ? e : 0;
}

static size_t year_after(const struct cx *c, size_t p, int64_t *y)
{
    size_t q = p;
    if (q < c->len && c->t[q] == ',') q++;
    q = skip_sp(c, q);
    if (q == p) return 0;
    size_t k = digits_at(c, q, 4, y);
    if (k != 4 || !boundary_after(c, q + k)) return 0;
    return q + 4;
}

static int64_t ref_year(const struct cx *c)
{
    int64_t y, m, d;
    civil_from_days(c->ref_days, &y, &m, &d);
    return y;
}

/* number words for "in two hours" */
static size_t count_at(const struct cx *c, size_t p, int64_t *n)
{
    static const char *const words[] = {"a", "an", "one", "two", "three", "four", "five", "six",
                                        "seven", "eight", "nine", "ten", "eleven", "twelve"};
    static const int vals[] = {1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    size_t k = digits_at(c, p, 4, n);
    if (k) return boundary_after(c, p + k) ? p + k : 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t e = word_at(c, p, words[i]);
        if (e) {
            *n = vals[i];
            return e;
        }
    }
    return 0;
}

/* "minutes" etc. after p: seconds per unit, or 0 */
static int64_t unit_at(const struct cx *c, size_t p, size_t *end)
{
    static const struct {
        const char *w;
        int64_t s;
    } u[] = {{"minutes", 60},   {"minute", 60},    {"mins", 60},     {"min", 60},       {"hours", 3600},
             {"hour", 3600},    {"hrs", 3600},     {"hr", 3600},     {"days", 86400},   {"day", 86400},
             {"weeks", 604800}, {"week", 604800}};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        size_t e = word_at(c, p, u[i].w);
        if (e) {
            *end = e;
            return u[i].s;
        }
    }
    return 0;
}

static void set_instant(const struct cx *c, struct when *w, int64_t delta, int64_t unit)
{
    if (unit >= 86400) {
        w->has_date = 1;
        w->days = c->ref_days + delta * (unit / 86400);
    } else {
        int64_t s = c->ref_sod + delta * unit;
        w->has_date = w->has_time = 1;
        w->days = c->ref_days + floor_div(s, 86400);
        w->sod = s - floor_div(s, 86400) * 86400;
    }
}

/* "in N units" and "N units ago" */
static size_t relative_span(const struct cx *c, size_t p, struct when *w)
{
    int64_t n;
    size_t e, q = word_at(c, p, "in");
    if (q) {
        q = skip_sp(c, q);
        if (q == word_at(c, p, "in") || !(e = count_at(c, q, &n))) return 0;
        size_t ue;
        int64_t u = unit_at(c, skip_sp(c, e), &ue);
        if (!u || skip_sp(c, e) == e || n > 10000) return 0;
        set_instant(c, w, n, u);
        return ue;
    }
    if (!(e = count_at(c, p, &n)) || skip_sp(c, e) == e || n > 10000) return 0;
    size_t ue;
    int64_t u = unit_at(c, skip_sp(c, e), &ue);
    if (!u) return 0;
    size_t ae = skip_sp(c, ue);
    if (ae == ue || !(ae = word_at(c, ae, "ago"))) return 0;
    set_instant(c, w, -n, u);
    return ae;
}

/* a time of day at p; iso: in an ISO date-time (an offset may follow) */
static size_t time_at_(const struct cx *c, size_t p, int64_t *sod, int iso)
{
    size_t e;
    if ((e = word_at(c, p, "noon"))) {
        *sod = 12 * 3600;
        return e;
    }
    if ((e = word_at(c, p, "midnight"))) {
        *sod = 0;
        return e;
    }
    int64_t h, mi = 0, s = 0;
    size_t k = digits_at(c, p, 2, &h);
    if (!k) return 0;
    e = p + k;
    int colon = 0;
    if (e + 2 < c->len && c->t[e] == ':' && zt_ascii_digit(c->t[e + 1])) {
        size_t k2 = digits_at(c, e + 1, 2, &mi);
        if (k2 != 2 || mi > 59) return 0;
        e += 3;
        colon = 1;
        if (e + 2 < c->len && c->t[e] == ':' && zt_ascii_digit(c->t[e + 1])) {
            size_t k3 = digits_at(c, e + 1, 2, &s);
            if (k3 != 2 || s > 59) return 0;
            e += 3;
        }
    }
    /* am / pm / a.m. / p.m. */
    size_t q = skip_sp(c, e);
    int ampm = 0;
    size_t ae = 0;
    if (q + 1 < c->len && (lower(c->t[q]) == 'a' || lower(c->t[q]) == 'p')) {
        int pm = lower(c->t[q]) == 'p';
        if (lower(c->t[q + 1]) == 'm' && boundary_after(c, q + 2)) ae = q + 2;
        else if (q + 3 < c->len && c->t[q + 1] == '.' && lower(c->t[q + 2]) == 'm' && c->t[q + 3] == '.')
            ae = q + 4;
        if (ae) ampm = pm ? 2 : 1;
    }
    if (ampm) {
        if (h < 1 || h > 12) return 0;
        if (ampm == 1 && h == 12) h = 0;
        if (ampm == 2 && h != 12) h += 12;
        e = ae;
    } else {
        if (!colon || h > 23) return 0;
        if (!iso && !boundary_after(c, e)) return 0;
    }
    *sod = h * 3600 + mi * 60 + s;
    return e;
}

static size_t time_at(const struct cx *c, size_t p, int64_t *sod)
{
    return time_at_(c, p, sod, 0);
}

/* UTC offset "Z", "+01:00", "+0100", "-05" after an ISO time: minutes */
static size_t offset_at(const struct cx *c, size_t p, int *off)
{
    if (p < c->len && (c->t[p] == 'Z' || c->t[p] == 'z')) {
        *off = 0;
        return p + 1;
    }
    if (p >= c->len || (c->t[p] != '+' && c->t[p] != '-')) return 0;
    int sign = c->t[p] == '-' ? -1 : 1;
    int64_t h, m = 0;
    if (digits_at(c, p + 1, 2, &h) != 2 || h > 18) return 0;
    size_t e = p + 3;
    if (e < c->len && c->t[e] == ':') e++;
    if (e + 1 < c->len && zt_ascii_digit(c->t[e]) && zt_ascii_digit(c->t[e + 1])) {
        if (digits_at(c, e, 2, &m) != 2 || m > 59) return 0;
        e += 2;
    }
    *off = sign * (int)(h * 60 + m);
    return e;
}

/* an absolute or relative date at p */
/* The date y-m-d, which ends the match at end, into w; 0 when there is no
 * such day. */
static size_t set_date(struct when *w, int64_t y, int64_t m, int64_t d, size_t end)
{
    if (!valid_date(y, m, d)) return 0;
    w->has_date = 1;
    w->days = days_from_civil(y, m, d);
    return end;
}

static size_t date_at(const struct cx *c, size_t p, struct when *w)
{
    int64_t a, b, y, d;
    size_t e, k;
    /* ISO 2026-12-01[Thh:mm[:ss][offset]] */
    if ((k = digits_at(c, p, 4, &y)) == 4 && p + 10 <= c->len && c->t[p + 4] == '-' &&
        digits_at(c, p + 5, 2, &a) == 2 && c->t[p + 7] == '-' && digits_at(c, p + 8, 2, &b) == 2) {
        if (!valid_date(y, a, b)) return 0;
        w->has_date = 1;
        w->days = days_from_civil(y, a, b);
        e = p + 10;
        int64_t sod;
        size_t te;
        if (e < c->len && (c->t[e] == 'T' || c->t[e] == 't') && (te = time_at_(c, e + 1, &sod, 1)) != 0) {
            int off;
            size_t oe = offset_at(c, te, &off);
            w->has_time = 1;
            w->sod = sod;
            if (oe) { /* convert to the reference offset */
                int64_t s = w->days * 86400 + sod - (int64_t)off * 60 + (int64_t)c->ref->utc_offset * 60;
                w->days = floor_div(s, 86400);
                w->sod = s - w->days * 86400;
                te = oe;
            }
            e = te;
        }
        return boundary_after(c, e) ? e : 0;
    }
    /* numeric with separators */
    if ((k = digits_at(c, p, 2, &a)) != 0 && p + k < c->len &&
        (c->t[p + k] == '/' || c->t[p + k] == '.' || c->t[p + k] == '-')) {
        char sep = c->t[p + k];
        size_t q = p + k + 1, k2 = digits_at(c, q, 2, &b);
        if (!k2 || q + k2 >= c->len || c->t[q + k2] != sep) return 0;
        q += k2 + 1;
        size_t k3 = digits_at(c, q, 4, &y);
        if (!(k3 == 4 || (k3 == 2 && sep == '/')) || !boundary_after(c, q + k3)) return 0;
        if (k3 == 2) y += 2000;
        int64_t mo, da;
        if (sep != '/') mo = b, da = a; /* 01.12.2026, 01-12-2026: day first */
        else if (a > 12) mo = b, da = a;
        else if (b > 12) mo = a, da = b;
        else if (c->ref->flags & ZT_ENT_DMY) mo = b, da = a;
        else mo = a, da = b;
        return set_date(w, y, mo, da, q + k3);
    }
    /* 1 Dec [2026], 1st of December 2026 */
    if ((e = day_at(c, p, &d)) != 0) {
        size_t q = skip_sp(c, e), me;
        size_t of = word_at(c, q, "of");
        if (of) q = skip_sp(c, of);
        int m;
        if (q == e || !(m = month_at(c, q, &me))) return 0;
        size_t ye = year_after(c, me, &y);
        return set_date(w, ye ? y : ref_year(c), m, d, ye ? ye : me);
    }
    /* December 1[st][,] [2026] */
    int m;
    size_t me;
    if ((m = month_at(c, p, &me)) != 0) {
        size_t q = skip_sp(c, me);
        if (q == me || !(e = day_at(c, q, &d))) return 0;
        size_t ye = year_after(c, e, &y);
        return set_date(w, ye ? y : ref_year(c), m, d, ye ? ye : e);
    }
    /* relative days */
    static const struct {
        const char *w;
        int delta;
    } rel[] = {{"today", 0}, {"tonight", 0}, {"tomorrow", 1}, {"tmrw", 1}, {"yesterday", -1}};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
        if ((e = word_at(c, p, rel[i].w))) {
            w->has_date = 1;
            w->days = c->ref_days + rel[i].delta;
            return e;
        }
    /* [this|next|on] weekday, next week */
    size_t q = p;
    int next = 0;
    if ((e = word_at(c, p, "next"))) next = 1, q = skip_sp(c, e);
    else if ((e = word_at(c, p, "this")) || (e = word_at(c, p, "on"))) q = skip_sp(c, e);
    if (q == e && e) return 0;
    if (next && (e = word_at(c, q, "week"))) {
        w->has_date = 1;
        w->days = c->ref_days + 7;
        return e;
    }
    int wd = weekday_at(c, q, &e);
    if (wd < 0) return 0;
    int64_t diff = (wd - weekday(c->ref_days) + 7) % 7;
    if (next && diff == 0) diff = 7;
    w->has_date = 1;
    w->days = c->ref_days + diff;
    return e;
}

static void fmt_when(const struct cx *c, const struct when *w, struct zt_entity *e)
{
    int64_t y, m, d;
    civil_from_days(w->days, &y, &m, &d);
    if (!w->has_time) {
        e->type = ZT_ENT_DATE;
        snprintf(e->value, sizeof e->value, "%04lld-%02lld-%02lld", (long long)y, (long long)m, (long long)d);
        return;
    }
    e->type = ZT_ENT_DATETIME;
    int off = c->ref->utc_offset, ao = off < 0 ? -off : off;
    char tz[24];
    if (off == 0) zt_strlcpy(tz, "Z", sizeof tz);
    else snprintf(tz, sizeof tz, "%c%02d:%02d", off < 0 ? '-' : '+', ao / 60, ao % 60);
    snprintf(e->value, sizeof e->value, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld%s", (long long)y, (long long)m,
             (long long)d, (long long)(w->sod / 3600), (long long)(w->sod / 60 % 60), (long long)(w->sod % 60), tz);
}

static size_t m_datetime(const struct cx *c, size_t p, struct zt_entity *ent)
{
    struct when w = {0};
    size_t e = date_at(c, p, &w);
    if (e && !w.has_time) {
        /* "tomorrow at 2pm", "1 Dec 2026, 14:30" */
        size_t q = e;
        if (q < c->len && c->t[q] == ',') q++;
        q = skip_sp(c, q);
        size_t at = word_at(c, q, "at");
        if (at) q = skip_sp(c, at);
        int64_t sod;
        size_t te = q > e ? time_at(c, q, &sod) : 0;
        if (te) {
            w.has_time = 1;
            w.sod = sod;
            e = te;
        }
    } else if (!e) {
        memset(&w, 0, sizeof w);
        int64_t sod;
        size_t te = time_at(c, p, &sod);
        if (te) {
            /* "2pm tomorrow", "14:30 on Monday" */
            w.has_date = w.has_time = 1;
            w.days = c->ref_days;
            w.sod = sod;
            e = te;
            size_t q = skip_sp(c, te);
            struct when w2 = {0};
            size_t de = q > te ? date_at(c, q, &w2) : 0;
            if (de && !w2.has_time) {
                w.days = w2.days;
                e = de;
            }
        } else {
            memset(&w, 0, sizeof w);
            e = relative_span(c, p, &w);
        }
    }
    if (!e) return 0;
    if (w.days < days_from_civil(1, 1, 1) || w.days > days_from_civil(9999, 12, 31)) return 0;
    fmt_when(c, &w, ent);
    return e;
}

/* ---- URL, e-mail, mention, hashtag ----------------------------------------- */

static void put_value(struct zt_entity *e, const char *s, size_t n)
{
    size_t max = sizeof e->value - 1;
    if (n > max) {
        n = max;
        while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80) n--;
    }
    memcpy(e->value, s, n);
    e->value[n] = '\0';
}

static size_t m_url(const struct cx *c, size_t p, struct zt_entity *ent)
{
    size_t s = 0;
    int www = 0;
    if (lower(c->t[p]) == 'h') {
        const char *pre[] = {"https://", "http://"};
        for (int i = 0; i < 2 && !s; i++) {
            size_t n = strlen(pre[i]), k = 0;
            while (k < n && p + k < c->len && lower(c->t[p + k]) == pre[i][k]) k++;
            if (k == n) s = n;
        }
    }
    if (!s) {
        size_t k = 0;
        while (k < 4 && p + k < c->len && lower(c->t[p + k]) == "www."[k]) k++;
        if (k != 4) return 0;
        s = 4;
        www = 1;
    }
    size_t e = p + s;
    while (e < c->len && (uint8_t)c->t[e] > 0x20 && c->t[e] != 0x7f && c->t[e] != '<' && c->t[e] != '>' &&
           c->t[e] != '"')
        e++;
    for (;;) { /* trailing punctuation is the sentence's */
        if (e <= p + s) return 0;
        char l = c->t[e - 1];
        if (strchr(".,;:!?'", l)) {
            e--;
            continue;
        }
        if (l == ')') {
            int open = 0, close = 0;
            for (size_t i = p; i < e; i++) open += c->t[i] == '(', close += c->t[i] == ')';
            if (close > open) {
                e--;
                continue;
            }
        }
        break;
    }
    if (!zt_ascii_alnum(c->t[p + s]) && (uint8_t)c->t[p + s] < 0x80) return 0;
    char v[ZT_ENT_VALUE_MAX];
    size_t n = 0;
    if (www) {
        memcpy(v, "http://", 7);
        n = 7;
    }
    int in_host = 1;
    for (size_t i = p; i < e && n < sizeof v - 1; i++) {
        char ch = c->t[i];
        if (i >= p + s && (ch == '/' || ch == '?' || ch == '#')) in_host = 0;
        v[n++] = in_host ? lower(ch) : ch;
    }
    put_value(ent, v, n);
    ent->type = ZT_ENT_URL;
    return e;
}

static int is_local(char ch)
{
    return zt_ascii_alnum(ch) || ch == '.' || ch == '_' || ch == '%' || ch == '+' || ch == '-';
}

/* domain labels at p: end, or 0; *dots the number of dots */
static size_t domain_at(const struct cx *c, size_t p, int *dots)
{
    size_t e = p, last_label = p, good_end = 0;
    *dots = 0;
    for (;;) {
        size_t ls = e;
        while (e < c->len && (zt_ascii_alnum(c->t[e]) || c->t[e] == '-') && e - ls < 63) e++;
        if (e == ls || c->t[ls] == '-' || c->t[e - 1] == '-') break;
        last_label = ls;
        good_end = e;
        if (e + 1 < c->len && c->t[e] == '.' && zt_ascii_alnum(c->t[e + 1])) {
            (*dots)++;
            e++;
            continue;
        }
        break;
    }
    if (!good_end || *dots == 0) return 0;
    size_t tl = good_end - last_label;
    if (tl < 2) return 0;
    for (size_t i = last_label; i < good_end; i++)
        if (!zt_ascii_alpha(c->t[i])) return 0;
    return good_end;
}

static size_t m_email(const struct cx *c, size_t p, struct zt_entity *ent)
{
    if (p > 0 && is_local(c->t[p - 1])) return 0;
    if (!zt_ascii_alnum(c->t[p]) && c->t[p] != '_') return 0;
    size_t e = p;
    while (e < c->len && is_local(c->t[e]) && e - p < 64) e++;
    if (e >= c->len || c->t[e] != '@' || c->t[e - 1] == '.') return 0;
    int dots;
    size_t de = domain_at(c, e + 1, &dots);
    if (!de || (de < c->len && (is_word_byte(c->t[de]) || c->t[de] == '@'))) return 0;
    char v[ZT_ENT_VALUE_MAX];
    size_t n = 0;
    for (size_t i = p; i < de && n < sizeof v - 1; i++) v[n++] = i > e ? lower(c->t[i]) : c->t[i];
    put_value(ent, v, n);
    ent->type = ZT_ENT_EMAIL;
    return de;
}

static size_t m_mention(const struct cx *c, size_t p, struct zt_entity *ent)
{
    if (c->t[p] != '@' || (p > 0 && (is_word_byte(c->t[p - 1]) || is_local(c->t[p - 1])))) return 0;
    size_t e = p + 1;
    while (e < c->len && (zt_ascii_alnum(c->t[e]) || c->t[e] == '_' ||
                          (c->t[e] == '.' && e + 1 < c->len && (zt_ascii_alnum(c->t[e + 1]) || c->t[e + 1] == '_'))) &&
           e - p <= 64)
        e++;
    if (e == p + 1 || e - p > 65 || !boundary_after(c, e)) return 0;
    char v[70];
    size_t n = 0;
    for (size_t i = p; i < e; i++) v[n++] = lower(c->t[i]);
    put_value(ent, v, n);
    ent->type = ZT_ENT_MENTION;
    return e;
}

static size_t m_hashtag(const struct cx *c, size_t p, struct zt_entity *ent)
{
    if (c->t[p] != '#' || (p > 0 && (is_word_byte(c->t[p - 1]) || c->t[p - 1] == '#' || c->t[p - 1] == '&')))
        return 0;
    size_t e = p + 1;
    int letters = 0;
    while (e < c->len && e - p < 140) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)c->t + e, (utf8proc_ssize_t)(c->len - e), &cp);
        if (k <= 0) break;
        utf8proc_category_t cat = utf8proc_category(cp);
        int letter = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
                     cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_LO;
        int ok = letter || cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_MN ||
                 cat == UTF8PROC_CATEGORY_MC || cp == '_';
        if (!ok) break;
        letters |= letter || cp == '_';
        e += (size_t)k;
    }
    if (e == p + 1 || !letters) return 0;
    struct zt_token t = {.off = p + 1, .len = e - p - 1, .kind = ZT_TOK_WORD};
    char v[ZT_ENT_VALUE_MAX];
    v[0] = '#';
    long fl = zt_text_token_fold(c->t, &t, v + 1, sizeof v - 1);
    if (fl == ZT_EPARSE) return 0;
    put_value(ent, v, strlen(v));
    ent->type = ZT_ENT_HASHTAG;
    return e;
}

/* ---- wallets ------------------------------------------------------------------ */


int zt_eth_checksum(const char *hex40, char out[static 43])
{
    char lowhex[41];
    for (int i = 0; i < 40; i++) {
        if (zt_hex_digit(hex40[i]) < 0) return ZT_EPARSE;
        lowhex[i] = lower(hex40[i]);
    }
    lowhex[40] = '\0';
    uint8_t h[ZT_KECCAK256_LEN];
    zt_keccak256(h, lowhex, 40);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        unsigned nib = (i % 2 == 0) ? h[i / 2] >> 4 : h[i / 2] & 0x0fu;
        char ch = lowhex[i];
        out[2 + i] = (ch >= 'a' && nib >= 8) ? (char)(ch - 'a' + 'A') : ch;
    }
    out[42] = '\0';
    return 0;
}

static size_t m_eth(const struct cx *c, size_t p, struct zt_entity *ent)
{
    if (p + 42 > c->len || c->t[p] != '0' || c->t[p + 1] != 'x') return 0;
    int up = 0, lo = 0;
    for (size_t i = p + 2; i < p + 42; i++) {
        if (zt_hex_digit(c->t[i]) < 0) return 0;
        up |= c->t[i] >= 'A' && c->t[i] <= 'F';
        lo |= c->t[i] >= 'a' && c->t[i] <= 'f';
    }
    if (!boundary_after(c, p + 42)) return 0;
    char cs[43];
    if (zt_eth_checksum(c->t + p + 2, cs) != 0) return 0;
    ent->type = ZT_ENT_WALLET;
    ent->valid = !(up && lo) || memcmp(cs + 2, c->t + p + 2, 40) == 0;
    put_value(ent, cs, 42);
    zt_strlcpy(ent->detail, "eth", sizeof ent->detail);
    return p + 42;
}

static const char B58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static int b58v(char ch)
{
    const char *q = ch ? strchr(B58, ch) : NULL;
    return q ? (int)(q - B58) : -1;
}

static bool base58check(const char *s, size_t n, const char **kind)
{
    if (n < 25 || n > 35) return false;
    uint8_t out[40] = {0}; /* big-endian accumulator */
    for (size_t i = 0; i < n; i++) {
        int v = b58v(s[i]);
        if (v < 0) return false;
        unsigned carry = (unsigned)v;
        for (int k = 39; k >= 0; k--) {
            carry += 58u * out[k];
            out[k] = (uint8_t)carry;
            carry >>= 8;
        }
        if (carry) return false;
    }
    size_t zeros = 0;
    while (zeros < n && s[zeros] == '1') zeros++;
    size_t first = 0;
    while (first < 40 && out[first] == 0) first++;
    size_t blen = zeros + (40 - first);
    if (blen != 25) return false;
    uint8_t raw[25] = {0};
    memcpy(raw + zeros, out + first, 40 - first);
    if (raw[0] != 0x00 && raw[0] != 0x05) return false;
    uint8_t h1[32], h2[32];
    zt_sha256(h1, raw, 21);
    zt_sha256(h2, h1, 32);
    if (memcmp(h2, raw + 21, 4) != 0) return false;
    *kind = raw[0] == 0x00 ? "p2pkh" : "p2sh";
    return true;
}

static uint32_t bech32_polymod(const uint8_t *v, size_t n)
{
    static const uint32_t G[5] = {0x3b6a57b2u, 0x26508e6du, 0x1ea119fau, 0x3d4233ddu, 0x2a1462b3u};
    uint32_t chk = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t top = chk >> 25;
        chk = (chk & 0x1ffffffu) << 5 ^ v[i];
        for (int k = 0; k < 5; k++)
            if ((top >> k) & 1) chk ^= G[k];
    }
    return chk;
}

static bool bech32_valid(const char *s, size_t n, const char **kind)
{
    static const char CS[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    if (n < 14 || n > 90) return false;
    int up = 0, lo = 0;
    for (size_t i = 0; i < n; i++) up |= s[i] >= 'A' && s[i] <= 'Z', lo |= s[i] >= 'a' && s[i] <= 'z';
    if (up && lo) return false;
    if (lower(s[0]) != 'b' || lower(s[1]) != 'c' || s[2] != '1') return false;
    uint8_t v[100];
    size_t nv = 0;
    v[nv++] = 'b' >> 5, v[nv++] = 'c' >> 5, v[nv++] = 0, v[nv++] = 'b' & 31, v[nv++] = 'c' & 31;
    uint8_t data[90];
    size_t nd = 0;
    for (size_t i = 3; i < n; i++) {
        const char *q = strchr(CS, lower(s[i]));
        if (!q || !s[i]) return false;
        data[nd++] = (uint8_t)(q - CS);
        v[nv++] = (uint8_t)(q - CS);
    }
    if (nd < 7) return false;
    uint32_t pm = bech32_polymod(v, nv);
    int ver = data[0];
    if (ver > 16) return false;
    if (!((ver == 0 && pm == 1) || (ver > 0 && pm == 0x2bc830a3u))) return false;
    /* 5-bit groups to bytes, no leftover bits beyond padding */
    uint32_t acc = 0;
    int bits = 0;
    size_t plen = 0;
    for (size_t i = 1; i < nd - 6; i++) {
        acc = (acc << 5) | data[i];
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            plen++;
        }
    }
    if (bits >= 5 || (acc & ((1u << bits) - 1u)) != 0) return false;
    if (plen < 2 || plen > 40 || (ver == 0 && plen != 20 && plen != 32)) return false;
    *kind = ver == 0 ? (plen == 20 ? "p2wpkh" : "p2wsh") : (ver == 1 && plen == 32 ? "p2tr" : "segwit");
    return true;
}

bool zt_btc_address_valid(const char *s, size_t n, const char **kind)
{
    const char *k = NULL;
    bool ok = (n >= 3 && lower(s[0]) == 'b' && lower(s[1]) == 'c' && s[2] == '1') ? bech32_valid(s, n, &k)
                                                                                  : base58check(s, n, &k);
    if (ok && kind) *kind = k;
    return ok;
}

static size_t m_btc(const struct cx *c, size_t p, struct zt_entity *ent)
{
    char f = c->t[p];
    if (f != '1' && f != '3' && f != 'b' && f != 'B') return 0;
    size_t e = p;
    while (e < c->len && zt_ascii_alnum(c->t[e]) && e - p <= 90) e++;
    if (!boundary_after(c, e)) return 0;
    const char *kind;
    if (!zt_btc_address_valid(c->t + p, e - p, &kind)) return 0;
    char v[ZT_ENT_VALUE_MAX];
    size_t n = e - p;
    for (size_t i = 0; i < n; i++) v[i] = (f == 'b' || f == 'B') ? lower(c->t[p + i]) : c->t[p + i];
    put_value(ent, v, n);
    ent->type = ZT_ENT_WALLET;
    ent->valid = true;
    zt_strlcpy(ent->detail, kind, sizeof ent->detail);
    return e;
}

/* ---- money ------------------------------------------------------------------- */

/* an amount at p ("1,000.50", "3,50", "1.2"): value and end, or 0 */
static size_t amount_at(const struct cx *c, size_t p, double *val)
{
    if (p >= c->len || !zt_ascii_digit(c->t[p])) return 0;
    size_t e = p;
    int commas = 0, dots = 0;
    size_t last_sep = 0;
    while (e < c->len) {
        if (zt_ascii_digit(c->t[e])) {
            e++;
        } else if ((c->t[e] == ',' || c->t[e] == '.') && e + 1 < c->len && zt_ascii_digit(c->t[e + 1])) {
            if (c->t[e] == ',') commas++;
            else dots++;
            last_sep = e;
            e++;
        } else {
            break;
        }
        if (e - p > 40) return 0;
    }
    char dec = 0;
    if (commas && dots) dec = c->t[last_sep];
    else if (dots == 1) dec = '.';
    else if (commas == 1) {
        size_t after = 0;
        while (last_sep + 1 + after < e && zt_ascii_digit(c->t[last_sep + 1 + after])) after++;
        if (after != 3) dec = ',';
    }
    double v = 0, scale = 0;
    for (size_t i = p; i < e; i++) {
        char ch = c->t[i];
        if (zt_ascii_digit(ch)) {
            if (scale > 0) {
                v += (ch - '0') * scale;
                scale /= 10;
            } else {
                v = v * 10 + (ch - '0');
            }
        } else if (ch == dec && i == last_sep) {
            scale = 0.1;
        }
    }
    *val = v;
    return e;
}

static size_t mult_at(const struct cx *c, size_t p, double *m)
{
    *m = 1;
    if (p + 2 <= c->len && lower(c->t[p]) == 'b' && lower(c->t[p + 1]) == 'n' && boundary_after(c, p + 2)) {
        *m = 1e9;
        return p + 2;
    }
    if (p < c->len && (lower(c->t[p]) == 'k' || lower(c->t[p]) == 'm') && boundary_after(c, p + 1)) {
        *m = lower(c->t[p]) == 'k' ? 1e3 : 1e6;
        return p + 1;
    }
    return p;
}

static const char *symbol_at(const struct cx *c, size_t p, size_t *end)
{
    static const struct {
        const char *s, *code;
    } sy[] = {{"$", "USD"}, {"\xe2\x82\xac", "EUR"}, {"\xc2\xa3", "GBP"}, {"\xc2\xa5", "JPY"}};
    for (size_t i = 0; i < sizeof sy / sizeof sy[0]; i++) {
        size_t n = strlen(sy[i].s);
        if (p + n <= c->len && memcmp(c->t + p, sy[i].s, n) == 0) {
            *end = p + n;
            return sy[i].code;
        }
    }
    return NULL;
}

static const char *const CODES[] = {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "CNY", "INR", "RUB",
                                    "BRL", "MXN", "SEK", "NOK", "DKK", "PLN", "BTC", "ETH"};

static const char *code_at(const struct cx *c, size_t p, size_t *end, int any_case)
{
    for (size_t i = 0; i < sizeof CODES / sizeof CODES[0] && p + 3 <= c->len && boundary_after(c, p + 3); i++) {
        int ok = 1;
        for (int k = 0; k < 3 && ok; k++)
            ok = any_case ? lower(c->t[p + (size_t)k]) == lower(CODES[i][k]) : c->t[p + (size_t)k] == CODES[i][k];
        if (ok) {
            *end = p + 3;
            return CODES[i];
        }
    }
    static const struct {
        const char *w, *code;
    } words[] = {{"dollars", "USD"}, {"dollar", "USD"}, {"bucks", "USD"}, {"euros", "EUR"},
                 {"euro", "EUR"},    {"pounds", "GBP"}, {"yen", "JPY"}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t e = word_at(c, p, words[i].w);
        if (e) {
            *end = e;
            return words[i].code;
        }
    }
    return NULL;
}

static size_t m_money(const struct cx *c, size_t p, struct zt_entity *ent)
{
    const char *code = NULL;
    double v = 0, mult = 1;
    size_t e = 0, q;
    if ((code = symbol_at(c, p, &q)) != NULL) { /* $3.50, € 20 */
        if (p > 0 && is_word_byte(c->t[p - 1]) && (uint8_t)c->t[p - 1] < 0x80) return 0;
        q = skip_sp(c, q);
        if (!(e = amount_at(c, q, &v))) return 0;
        e = mult_at(c, e, &mult);
        if (!boundary_after(c, e)) return 0;
    } else if (boundary_before(c, p) && (code = code_at(c, p, &q, 0)) != NULL && q - p == 3) { /* USD 20 */
        size_t r = skip_sp(c, q);
        if (r == q || !(e = amount_at(c, r, &v))) return 0;
        e = mult_at(c, e, &mult);
        if (!boundary_after(c, e)) return 0;
    } else if (boundary_before(c, p) && (e = amount_at(c, p, &v)) != 0) { /* 20€, 1.2k USD */
        e = mult_at(c, e, &mult);
        size_t r = skip_sp(c, e), se;
        if ((code = symbol_at(c, r, &se)) != NULL) e = se;
        else if (r > e && (code = code_at(c, r, &se, 1)) != NULL) e = se;
        else if (r == e && mult == 1 && (code = code_at(c, r, &se, 0)) != NULL) e = se; /* 20EUR */
        else return 0;
    } else {
        return 0;
    }
    v *= mult;
    if (!isfinite(v) || v > 1e15) return 0;
    int decimals = strcmp(code, "JPY") == 0 ? 0 : (strcmp(code, "BTC") == 0 || strcmp(code, "ETH") == 0) ? 8 : 2;
    char num[64];
    snprintf(num, sizeof num, "%.*f", decimals, v);
    if (decimals == 8) { /* no trailing zeros for crypto amounts */
        size_t n = strlen(num);
        while (n > 0 && num[n - 1] == '0') num[--n] = '\0';
        if (n > 0 && num[n - 1] == '.') num[--n] = '\0';
    }
    snprintf(ent->value, sizeof ent->value, "%s %s", num, code);
    zt_strlcpy(ent->detail, code, sizeof ent->detail);
    ent->amount = v;
    ent->type = ZT_ENT_MONEY;
    return e;
}

/* ---- phone ------------------------------------------------------------------- */

static size_t m_phone(const struct cx *c, size_t p, struct zt_entity *ent)
{
    char ch = c->t[p];
    int intl = ch == '+';
    if (!intl && !zt_ascii_digit(ch) && ch != '(') return 0;
    if (!boundary_before(c, p) || (p > 0 && (c->t[p - 1] == '+' || c->t[p - 1] == '.'))) return 0;
    size_t e = intl ? p + 1 : p;
    char digits[20];
    size_t nd = 0, seps = 0, last_digit_end = 0;
    int open = 0, prev_sep = 1;
    while (e < c->len) {
        char x = c->t[e];
        if (zt_ascii_digit(x)) {
            if (nd >= 16) return 0;
            digits[nd++] = x;
            prev_sep = 0;
            last_digit_end = e + 1;
        } else if (x == '(' && !open && (prev_sep || e == p)) {
            open = 1;
            prev_sep = 1;
        } else if (x == ')' && open == 1 && !prev_sep) {
            open = 2;
            seps++;
        } else if ((x == ' ' || x == '-' || x == '.') && !prev_sep && e + 1 < c->len &&
                   (zt_ascii_digit(c->t[e + 1]) || c->t[e + 1] == '(')) {
            prev_sep = 1;
            seps++;
        } else if (x == ' ' && open == 2 && !prev_sep) {
            prev_sep = 1;
        } else {
            break;
        }
        e++;
        if (intl && nd == 0 && !zt_ascii_digit(x)) return 0;
    }
    if (open == 1 || !last_digit_end || !boundary_after(c, last_digit_end)) return 0;
    digits[nd] = '\0';
    if (intl) {
        if (nd < 8 || nd > 15 || digits[0] == '0') return 0;
        snprintf(ent->value, sizeof ent->value, "+%s", digits);
    } else {
        if (nd < 10 || nd > 11 || !(digits[0] == '0' || seps > 0 || ch == '(')) return 0;
        zt_strlcpy(ent->value, digits, sizeof ent->value);
        zt_strlcpy(ent->detail, "national", sizeof ent->detail);
    }
    ent->type = ZT_ENT_PHONE;
    return last_digit_end;
}

/* ---- driver ------------------------------------------------------------------ */

typedef size_t (*matcher)(const struct cx *c, size_t p, struct zt_entity *e);

int zt_entities_extract(const char *text, size_t len, const struct zt_entities_ref *ref, struct zt_entity *out,
                        size_t max, size_t *n_out)
{
    if (!zt_utf8_valid(text, len)) return ZT_EPARSE;
    if (!ref || ref->utc_offset < -1080 || ref->utc_offset > 1080) return ZT_EINVAL;
    if (ref->now < -62135596800LL || ref->now > 253402300799LL) return ZT_EINVAL; /* years 1..9999 */
    struct cx c = {.t = text, .len = len, .ref = ref};
    int64_t local = ref->now + (int64_t)ref->utc_offset * 60;
    c.ref_days = floor_div(local, 86400);
    c.ref_sod = local - c.ref_days * 86400;
    static const matcher ms[] = {m_url, m_email, m_eth, m_btc, m_datetime, m_money, m_phone, m_mention, m_hashtag};
    size_t n = 0, p = 0, cp = 0, cp_pos = 0;
    while (p < len) {
        size_t e = 0;
        struct zt_entity ent;
        int at_boundary = boundary_before(&c, p);
        for (size_t i = 0; i < sizeof ms / sizeof ms[0] && !e; i++) {
            /* symbols may follow a letter ("for$5" is not money, but "(@bob" is a mention) */
            if (!at_boundary && ms[i] != m_money) continue;
            memset(&ent, 0, sizeof ent);
            ent.valid = true;
            e = ms[i](&c, p, &ent);
            if (e <= p) e = 0;
        }
        if (!e) {
            p++;
            while (p < len && ((uint8_t)text[p] & 0xC0) == 0x80) p++;
            /* skip the rest of a word: matches start at boundaries */
            continue;
        }
        if (n < max) {
            for (; cp_pos < p; cp_pos++) cp += ((uint8_t)text[cp_pos] & 0xC0) != 0x80;
            ent.off = p;
            ent.len = e - p;
            ent.cp_off = cp;
            size_t k = 0;
            for (size_t i = p; i < e; i++) k += ((uint8_t)text[i] & 0xC0) != 0x80;
            ent.cp_len = k;
            out[n] = ent;
        }
        n++;
        p = e;
    }
    *n_out = n;
    return 0;
}

const char *zt_entity_type_name(enum zt_entity_type t)
{
    static const char *const names[] = {
        [ZT_ENT_URL] = "url",         [ZT_ENT_EMAIL] = "email", [ZT_ENT_MENTION] = "mention",
        [ZT_ENT_HASHTAG] = "hashtag", [ZT_ENT_WALLET] = "wallet", [ZT_ENT_DATE] = "date",
        [ZT_ENT_DATETIME] = "datetime", [ZT_ENT_MONEY] = "money", [ZT_ENT_PHONE] = "phone",
    };
    return (size_t)t < sizeof names / sizeof names[0] && names[t] ? names[t] : "unknown";
}

int zt_entities_parse_time(const char *s, struct zt_entities_ref *ref)
{
    size_t n = strlen(s);
    struct zt_entities_ref utc = {0};
    struct cx c = {.t = s, .len = n, .ref = &utc};
    int64_t y, mo, d, sod;
    if (n < 17 || digits_at(&c, 0, 4, &y) != 4 || s[4] != '-' || digits_at(&c, 5, 2, &mo) != 2 || s[7] != '-' ||
        digits_at(&c, 8, 2, &d) != 2 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !valid_date(y, mo, d))
        return ZT_EPARSE;
    /* hh:mm[:ss] then the offset */
    int64_t h, mi, sec = 0;
    if (digits_at(&c, 11, 2, &h) != 2 || s[13] != ':' || digits_at(&c, 14, 2, &mi) != 2 || h > 23 || mi > 59)
        return ZT_EPARSE;
    size_t e = 16;
    if (e < n && s[e] == ':') {
        if (digits_at(&c, e + 1, 2, &sec) != 2 || sec > 60) return ZT_EPARSE;
        e += 3;
        if (e < n && s[e] == '.') { /* fractions of a second are ignored */
            e++;
            while (e < n && zt_ascii_digit(s[e])) e++;
        }
    }
    sod = h * 3600 + mi * 60 + (sec > 59 ? 59 : sec);
    int off;
    size_t oe = offset_at(&c, e, &off);
    if (!oe || oe != n || off < -1080 || off > 1080) return ZT_EPARSE;
    ref->now = days_from_civil(y, mo, d) * 86400 + sod - (int64_t)off * 60;
    ref->utc_offset = off;
    return 0;
}
