/* hex.c: hexadecimal encoding and strict decoding (zt_hex.h). */
#include <string.h>

#include "zentalk/zt_hex.h"

void zt_hex_encode(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* 1 when lo <= c <= hi, else 0, without a branch. */
static unsigned in_range(int c, int lo, int hi)
{
    return 1u ^ ((((unsigned)(c - lo)) | ((unsigned)(hi - c))) >> 31);
}

/* The digit's value in *v and 1, or 0 when c is not a digit that hc
 * accepts. No branch depends on c: key files keep secrets in hex, and
 * decoding them should not leak the digits through timing (libsodium's
 * sodium_hex2bin takes the same care). */
static unsigned digit(char ch, enum zt_hex_case hc, unsigned *v)
{
    int c = (unsigned char)ch;
    unsigned num = in_range(c, '0', '9'), low = in_range(c, 'a', 'f'),
             up = in_range(c, 'A', 'F') & (unsigned)(hc == ZT_HEX_ANY_CASE);
    *v = ((unsigned)(c - '0') & (0u - num)) | ((unsigned)(c - 'a' + 10) & (0u - low)) |
         ((unsigned)(c - 'A' + 10) & (0u - up));
    return num | low | up;
}

int zt_hex_digit(char c)
{
    unsigned v;
    return digit(c, ZT_HEX_ANY_CASE, &v) ? (int)v : -1;
}

bool zt_hex_valid(const char *s, size_t slen, enum zt_hex_case hc)
{
    if (!s || slen % 2) return false;
    unsigned ok = 1, v;
    for (size_t i = 0; i < slen; i++) ok &= digit(s[i], hc, &v);
    return ok;
}

int zt_hex_decode(uint8_t *out, size_t n, const char *s, size_t slen, enum zt_hex_case hc)
{
    /* Check every digit before writing a byte: out-params only on success. */
    if (!s || n > SIZE_MAX / 2 || slen != 2 * n || !zt_hex_valid(s, slen, hc)) return ZT_EPARSE;
    for (size_t i = 0; i < n; i++) {
        unsigned hi, lo;
        (void)digit(s[2 * i], hc, &hi);
        (void)digit(s[2 * i + 1], hc, &lo);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int zt_hex_decode_str(uint8_t *out, size_t n, const char *s, enum zt_hex_case hc)
{
    if (!s) return ZT_EPARSE;
    return zt_hex_decode(out, n, s, strnlen(s, 2 * n + 1), hc);
}
