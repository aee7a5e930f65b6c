/* file.c: reading whole files with a size cap (zt_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_file.h"

int zt_fd_read_full(int fd, void *p, size_t cap, size_t *len)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, (char *)p + got, cap - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return ZT_EIO;
        if (r == 0) break;
        got += (size_t)r;
    }
    *len = got;
    return 0;
}

int zt_fd_write_full(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return ZT_EIO;
        if (w == 0) {
            errno = 0;
            return ZT_EIO;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int zt_file_read_buf(const char *path, struct zt_buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return errno == ENOENT ? ZT_ENOTFOUND : ZT_EIO;
    size_t start = b->len;
    int rc = 0;
    char chunk[16384];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = ZT_EIO;
            break;
        }
        if (r == 0) break;
        if ((rc = zt_buf_append(b, chunk, (size_t)r)) != 0) break;
    }
    int e = errno;
    close(fd);
    if (rc) {
        b->len = start; /* leave b as it was */
        if (b->data) b->data[start] = '\0';
        errno = e;
    }
    return rc;
}

int zt_file_read(const char *path, size_t max, char **out, size_t *len)
{
    struct zt_buf b;
    zt_buf_init(&b, max);
    int rc = zt_file_read_buf(path, &b);
    if (rc) {
        int e = errno;
        zt_buf_deinit(&b);
        errno = e;
        return rc;
    }
    size_t n = 0;
    char *p = zt_buf_detach(&b, &n);
    if (!p) return ZT_ENOMEM;
    *out = p;
    *len = n;
    return 0;
}

int zt_file_read_stream(FILE *f, struct zt_buf *b)
{
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        int rc = zt_buf_append(b, chunk, n);
        if (rc) return rc;
    }
    return ferror(f) ? ZT_EIO : 0;
}

int zt_file_read_secret(const char *path, size_t max, char **out, size_t *len)
{
    if (max >= SIZE_MAX - 1) return ZT_EINVAL;
    if (sodium_init() < 0) return ZT_ENOMEM; /* guarded memory needs it (idempotent) */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return errno == ENOENT ? ZT_ENOTFOUND : ZT_EIO;
    char *p = sodium_malloc(max + 2); /* one byte past max tells "longer", one for the NUL */
    if (!p) {
        close(fd);
        return ZT_ENOMEM;
    }
    size_t n = 0;
    int rc = zt_fd_read_full(fd, p, max + 1, &n);
    int e = errno;
    close(fd);
    if (!rc && n > max) rc = ZT_ETOOBIG;
    if (rc) {
        sodium_free(p);
        errno = e;
        return rc;
    }
    p[n] = '\0';
    *out = p;
    *len = n;
    return 0;
}

void zt_file_secret_free(char *p)
{
    if (p) sodium_free(p); /* sodium_free wipes it */
}
