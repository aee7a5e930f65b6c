/* str.c: string helpers. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_str.h"

size_t zt_strlcpy(char *dst, const char *src, size_t dstsize)
{
    size_t len = strlen(src);
    if (dstsize) {
        size_t n = len < dstsize - 1 ? len : dstsize - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

bool zt_str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

bool zt_str_eq_ci(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b)) return false;
    return *a == *b;
}

bool zt_str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool zt_str_ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

const char *zt_str_memmem(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || m > n) return NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

/* strtol & co skip leading spaces and accept a sign; we want the whole
 * string to be a plain decimal number. */
static bool plain_number_start(const char *s, bool allow_minus)
{
    if (!s || !*s) return false;
    if (*s == '-' && allow_minus) s++;
    else if (*s == '+') s++;
    return isdigit((unsigned char)*s) || *s == '.';
}

int zt_str_to_i64(const char *s, int64_t *out)
{
    if (!plain_number_start(s, true) || strchr(s, '.')) return ZT_EPARSE;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end) return ZT_EPARSE;
    if (errno == ERANGE) return ZT_ERANGE;
    *out = (int64_t)v;
    return 0;
}

int zt_str_to_u64(const char *s, uint64_t *out)
{
    if (!plain_number_start(s, false) || strchr(s, '.')) return ZT_EPARSE;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return ZT_EPARSE;
    if (errno == ERANGE) return ZT_ERANGE;
    *out = (uint64_t)v;
    return 0;
}

int zt_str_to_double(const char *s, double *out)
{
    if (!plain_number_start(s, true)) return ZT_EPARSE;
    /* no hex floats, infinities or NaNs */
    for (const char *p = s; *p; p++)
        if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '-' || *p == '+' || *p == 'e' ||
              *p == 'E'))
            return ZT_EPARSE;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end) return ZT_EPARSE;
    if (errno == ERANGE || !isfinite(v)) return ZT_ERANGE;
    *out = v;
    return 0;
}

int zt_str_to_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    if (!s) return ZT_EPARSE;
    for (size_t i = 0; i < 4; i++) {
        if (zt_str_eq_ci(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (zt_str_eq_ci(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return ZT_EPARSE;
}

int zt_str_split_hostport(const char *s, char *host, size_t hostsize, uint16_t *port)
{
    if (!s || !hostsize) return ZT_EPARSE;
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return ZT_EPARSE;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        if (hlen == 0) return ZT_EPARSE;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return ZT_EPARSE;
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen)) return ZT_EPARSE; /* bare IPv6 needs brackets */
    }
    if (hlen >= hostsize) return ZT_ETOOBIG;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '%' || c == '_'))
            return ZT_EPARSE;
    }
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5) return ZT_EPARSE;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return ZT_EPARSE;
    long v = strtol(p, NULL, 10);
    if (v > 65535) return ZT_ERANGE;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)v;
    return 0;
}

bool zt_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            min = 0x80;
            c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            min = 0x800;
            c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            min = 0x10000;
            c &= 0x07;
        } else {
            return false;
        }
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            c = (c << 6) | (p[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}
