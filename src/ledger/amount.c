/* amount.c: unsigned 128-bit amounts as exact decimal text (zt_ledger.h).
 * No floating point: base units are digits only, tokens "I.F" with at
 * most 18 fractional digits scaled by 10^18; every step overflow-checked. */
#include <string.h>

#include "zentalk/zt_ledger.h"

int zt_u128_add(zt_u128 a, zt_u128 b, zt_u128 *out)
{
    if (a > ZT_U128_MAX - b) return ZT_ERANGE;
    *out = a + b;
    return 0;
}

int zt_u128_sub(zt_u128 a, zt_u128 b, zt_u128 *out)
{
    if (b > a) return ZT_ERANGE;
    *out = a - b;
    return 0;
}

int zt_u128_mul(zt_u128 a, zt_u128 b, zt_u128 *out)
{
    if (a != 0 && b > ZT_U128_MAX / a) return ZT_ERANGE;
    *out = a * b;
    return 0;
}

/* digits [s, s+n) into *v (n >= 1, all digits): ZT_ERANGE on overflow */
static int digits(const char *s, size_t n, zt_u128 *v)
{
    zt_u128 r = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return ZT_EPARSE;
        int rc = zt_u128_mul(r, 10, &r);
        if (!rc) rc = zt_u128_add(r, (zt_u128)(s[i] - '0'), &r);
        if (rc) return rc;
    }
    *v = r;
    return 0;
}

int zt_u128_parse(const char *s, size_t n, zt_u128 *out)
{
    if (!s || !out || n == 0) return ZT_EPARSE;
    if (n > 1 && s[0] == '0') return ZT_EPARSE; /* one spelling per value */
    if (n > ZT_U128_DIGITS) {
        for (size_t i = 0; i < n; i++)
            if (s[i] < '0' || s[i] > '9') return ZT_EPARSE;
        return ZT_ERANGE;
    }
    zt_u128 v;
    int rc = digits(s, n, &v);
    if (rc) return rc;
    *out = v;
    return 0;
}

int zt_u128_parse_tokens(const char *s, size_t n, zt_u128 *out)
{
    if (!s || !out || n == 0) return ZT_EPARSE;
    const char *dot = memchr(s, '.', n);
    size_t ni = dot ? (size_t)(dot - s) : n;
    size_t nf = dot ? n - ni - 1 : 0;
    if (ni == 0 || (dot && nf == 0) || nf > ZT_LEDGER_DECIMALS) return ZT_EPARSE;
    if (ni > 1 && s[0] == '0') return ZT_EPARSE;
    zt_u128 ip, fp = 0, scale = 1;
    int rc = digits(s, ni, &ip);
    if (rc == ZT_ERANGE) {
        /* keep ZT_EPARSE for junk after an overlong integer part */
        for (size_t i = 0; i < n; i++)
            if ((s[i] < '0' || s[i] > '9') && s + i != dot) return ZT_EPARSE;
        return ZT_ERANGE;
    }
    if (rc) return rc;
    if (nf && (rc = digits(dot + 1, nf, &fp)) != 0) return rc;
    for (size_t i = 0; i < ZT_LEDGER_DECIMALS - nf; i++) fp *= 10; /* < 10^18: no overflow */
    for (size_t i = 0; i < ZT_LEDGER_DECIMALS; i++) scale *= 10;
    zt_u128 v;
    if ((rc = zt_u128_mul(ip, scale, &v)) != 0 || (rc = zt_u128_add(v, fp, &v)) != 0) return rc;
    *out = v;
    return 0;
}

size_t zt_u128_format(zt_u128 v, char out[static ZT_U128_STR_LEN])
{
    char tmp[ZT_U128_DIGITS + 1];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}
