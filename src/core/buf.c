/* buf.c: bounded growable buffer. See zt_buf.h and docs/internals/buf.md. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"

#define MIN_CAP 64

void zt_buf_init(struct zt_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void zt_buf_deinit(struct zt_buf *b)
{
    zt_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void zt_buf_reset(struct zt_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

/* Make room for n more bytes plus the NUL. */
static int reserve(struct zt_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n) return ZT_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap) return 0;
    size_t ncap = b->cap ? b->cap : MIN_CAP;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    if (b->max < SIZE_MAX && ncap > b->max + 1) ncap = b->max + 1; /* never past the maximum */
    char *p = zt_realloc(b->data, ncap);
    if (!p) return ZT_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int zt_buf_append(struct zt_buf *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int zt_buf_append_str(struct zt_buf *b, const char *s)
{
    return zt_buf_append(b, s, strlen(s));
}

int zt_buf_append_byte(struct zt_buf *b, char c)
{
    return zt_buf_append(b, &c, 1);
}

int zt_buf_vappendf(struct zt_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0) return ZT_EINVAL;
    if ((size_t)n < sizeof small) return zt_buf_append(b, small, (size_t)n);
    int rc = reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int zt_buf_appendf(struct zt_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = zt_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void zt_buf_sayf(struct zt_buf *b, const char *fmt, ...)
{
    if (!b) return;
    va_list ap;
    va_start(ap, fmt);
    zt_ignore(zt_buf_vappendf(b, fmt, ap));
    va_end(ap);
}

const char *zt_buf_str(const struct zt_buf *b)
{
    return b->data ? b->data : "";
}

char *zt_buf_detach(struct zt_buf *b, size_t *len_out)
{
    char *p = b->data;
    size_t len = b->len;
    if (!p) {
        p = zt_malloc(1);
        if (!p) return NULL;
        p[0] = '\0';
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    if (len_out) *len_out = len;
    return p;
}
