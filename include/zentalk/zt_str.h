/* zt_str.h: string helpers. Nothing here allocates unless it says so. */
#ifndef ZT_STR_H
#define ZT_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_hex.h" /* zt_hex_encode, which used to live here */

/* Copy src into dst (size dstsize), always NUL-terminating when dstsize > 0.
 * Returns strlen(src); truncation happened when the result >= dstsize. */
size_t zt_strlcpy(char *dst, const char *src, size_t dstsize);

bool zt_str_eq(const char *a, const char *b);          /* NULL-safe */
bool zt_str_eq_ci(const char *a, const char *b);       /* ASCII case-insensitive */
bool zt_str_starts_with(const char *s, const char *prefix);
bool zt_str_ends_with(const char *s, const char *suffix);

/* Strict number parsing: the whole string must be the number (no spaces,
 * no trailing junk). ZT_EPARSE on junk, ZT_ERANGE on overflow. */
ZT_NODISCARD int zt_str_to_i64(const char *s, int64_t *out);
ZT_NODISCARD int zt_str_to_u64(const char *s, uint64_t *out);
ZT_NODISCARD int zt_str_to_double(const char *s, double *out);
/* "true/false/yes/no/on/off/1/0" (case-insensitive) */
ZT_NODISCARD int zt_str_to_bool(const char *s, bool *out);

/* Split "host:port", "[v6]:port" or ":port" into host (may be "") and port.
 * The host is copied to host (size hostsize). ZT_EPARSE when malformed. */
ZT_NODISCARD int zt_str_split_hostport(const char *s, char *host, size_t hostsize,
                                       uint16_t *port);

/* ASCII character classes, the same in every locale (ctype's are not). */
static inline bool zt_ascii_digit(int c)
{
    return c >= '0' && c <= '9';
}

static inline bool zt_ascii_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool zt_ascii_alnum(int c)
{
    return zt_ascii_digit(c) || zt_ascii_alpha(c);
}

/* True when every byte of s[0..n) forms valid UTF-8. */
bool zt_utf8_valid(const char *s, size_t n);

/* The first occurrence of needle[0..m) in hay[0..n), or NULL (also for
 * m == 0): memmem without _GNU_SOURCE. */
const char *zt_str_memmem(const char *hay, size_t n, const char *needle, size_t m);

#endif
