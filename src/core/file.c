/* file.c: reading whole files with a size cap (zt_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
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

int zt_fd_read_chunks(int fd, void *buf, size_t cap, int (*each)(void *ud, const void *p, size_t n), void *ud)
{
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return ZT_EIO;
        if (r == 0) return 0;
        int rc = each(ud, buf, (size_t)r);
        if (rc) return rc;
    }
}

static int append_chunk(void *ud, const void *p, size_t n)
{
    return zt_buf_append(ud, p, n);
}

/* Open path for reading; regular: without blocking (a FIFO or a device
 * does not hang the open) and only a regular file (else ZT_EINVAL). */
static int open_read(const char *path, bool regular, int *fd_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (regular ? O_NONBLOCK : 0));
    if (fd < 0) return errno == ENOENT ? ZT_ENOTFOUND : ZT_EIO;
    if (regular) {
        struct stat st;
        int rc = fstat(fd, &st) != 0 ? ZT_EIO : !S_ISREG(st.st_mode) ? ZT_EINVAL : 0;
        if (rc) {
            int e = rc == ZT_EIO ? errno : EINVAL;
            close(fd);
            errno = e;
            return rc;
        }
    }
    *fd_out = fd;
    return 0;
}

/* Append the file at path to b (see zt_file_read_buf). */
static int read_buf(const char *path, bool regular, struct zt_buf *b)
{
    int fd = -1;
    int rc = open_read(path, regular, &fd);
    if (rc) return rc;
    size_t start = b->len;
    char chunk[16384];
    rc = zt_fd_read_chunks(fd, chunk, sizeof chunk, append_chunk, b);
    int e = errno;
    close(fd);
    if (rc) {
        b->len = start; /* leave b as it was */
        if (b->data) b->data[start] = '\0';
        errno = e;
    }
    return rc;
}

int zt_file_read_buf(const char *path, struct zt_buf *b)
{
    return read_buf(path, false, b);
}

static int read_whole(const char *path, bool regular, size_t max, char **out, size_t *len)
{
    struct zt_buf b;
    zt_buf_init(&b, max);
    int rc = read_buf(path, regular, &b);
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

int zt_file_read(const char *path, size_t max, char **out, size_t *len)
{
    return read_whole(path, false, max, out, len);
}

int zt_file_read_regular(const char *path, size_t max, char **out, size_t *len)
{
    return read_whole(path, true, max, out, len);
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
    int fd = -1;
    int rc = open_read(path, false, &fd);
    if (rc) return rc;
    char *p = sodium_malloc(max + 2); /* one byte past max tells "longer", one for the NUL */
    if (!p) {
        close(fd);
        return ZT_ENOMEM;
    }
    size_t n = 0;
    rc = zt_fd_read_full(fd, p, max + 1, &n);
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
