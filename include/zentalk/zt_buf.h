/* zt_buf.h: growable byte buffer with a hard maximum (curl's dynbuf).
 *
 * The caller embeds a struct zt_buf and calls zt_buf_init() with the largest
 * size the buffer may ever reach; appends past it fail with ZT_ETOOBIG and
 * leave the buffer unchanged. The content is always NUL-terminated (the NUL
 * is not counted in len and does not count against max). */
#ifndef ZT_BUF_H
#define ZT_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "zt_error.h"

struct zt_buf {
    char *data;  /* NULL until the first append */
    size_t len;  /* bytes used */
    size_t cap;  /* bytes allocated (including room for the NUL) */
    size_t max;  /* largest len allowed */
};

void zt_buf_init(struct zt_buf *b, size_t max);
void zt_buf_deinit(struct zt_buf *b);  /* frees; the buffer may be re-inited */
void zt_buf_reset(struct zt_buf *b);   /* len = 0, keeps the memory */

ZT_NODISCARD int zt_buf_append(struct zt_buf *b, const void *p, size_t n);
ZT_NODISCARD int zt_buf_append_str(struct zt_buf *b, const char *s);
ZT_NODISCARD int zt_buf_append_byte(struct zt_buf *b, char c);
ZT_NODISCARD int zt_buf_appendf(struct zt_buf *b, const char *fmt, ...) ZT_PRINTF(2, 3);
ZT_NODISCARD int zt_buf_vappendf(struct zt_buf *b, const char *fmt, va_list ap) ZT_PRINTF(2, 0);

/* Append a message to an error buffer b that may be NULL (no message
 * wanted). A message that does not fit is dropped: there is nowhere to
 * report an error about an error message. */
void zt_buf_sayf(struct zt_buf *b, const char *fmt, ...) ZT_PRINTF(2, 3);

/* Content as a C string ("" when empty, never NULL). */
const char *zt_buf_str(const struct zt_buf *b);

/* Hand the memory to the caller (free with zt_free) and reset the buffer.
 * Returns an empty allocated string when the buffer is empty, NULL on ENOMEM. */
char *zt_buf_detach(struct zt_buf *b, size_t *len_out);

#endif
