/* zt_hex.h: hexadecimal encoding and strict decoding, written once for
 * key files, descriptors, attestation reports, audit logs and the CLI. */
#ifndef ZT_HEX_H
#define ZT_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

/* Lower-case hex of n bytes into out (at least 2n+1 bytes, NUL-terminated). */
void zt_hex_encode(char *out, const uint8_t *in, size_t n);

/* Which digits a decoder accepts. */
enum zt_hex_case {
    ZT_HEX_LOWER,    /* 0-9 a-f only: the canonical form this project writes */
    ZT_HEX_ANY_CASE, /* 0-9 a-f A-F */
};

/* The value (0..15) of the hex digit c in either case, or -1. */
int zt_hex_digit(char c);

/* Whether s[0..slen) is hex that a decoder would take: an even number of
 * digits that hc accepts (0 digits included). s == NULL is false. */
bool zt_hex_valid(const char *s, size_t slen, enum zt_hex_case hc);

/* Decode exactly n bytes from the 2n digits s[0..slen) into out. Anything
 * else (slen != 2n, a non-digit, an upper-case digit under ZT_HEX_LOWER)
 * is ZT_EPARSE and out is left untouched. */
ZT_NODISCARD int zt_hex_decode(uint8_t *out, size_t n, const char *s, size_t slen, enum zt_hex_case hc);

/* The same for a NUL-terminated string; s == NULL is ZT_EPARSE. */
ZT_NODISCARD int zt_hex_decode_str(uint8_t *out, size_t n, const char *s, enum zt_hex_case hc);

#endif
