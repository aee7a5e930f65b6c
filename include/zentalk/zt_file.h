/* zt_file.h: reading whole files with a size cap, written once. Model
 * files are mmapped by the engine; these are for the small files a node or
 * the CLI reads whole (data files, descriptors, peers files, stdin). */
#ifndef ZT_FILE_H
#define ZT_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "zt_buf.h"
#include "zt_error.h"

/* Read the whole file at path, at most max bytes, into *out (zt_malloc'd,
 * NUL-terminated, free with zt_free; an empty file gives "" and len 0).
 * Errors: ZT_ENOTFOUND (no such file), ZT_ETOOBIG (longer than max),
 * ZT_EIO (cannot open or read it; errno says why), ZT_ENOMEM. *out and
 * *len are written only on success. */
ZT_NODISCARD int zt_file_read(const char *path, size_t max, char **out, size_t *len);

/* zt_file_read for a file that must be a regular file (a configuration
 * file): path is opened without blocking, so a FIFO or a device there
 * cannot hang the reader, and anything but a regular file (a directory, a
 * FIFO, a socket, a device) is ZT_EINVAL with errno EINVAL. Otherwise the
 * same errors. */
ZT_NODISCARD int zt_file_read_regular(const char *path, size_t max, char **out, size_t *len);

/* The same for a secret (a private key): *out is in sodium's guarded
 * memory (sodium_malloc, never an ordinary heap buffer), NUL-terminated;
 * free it with zt_file_secret_free, which wipes it. Same errors. */
ZT_NODISCARD int zt_file_read_secret(const char *path, size_t max, char **out, size_t *len);
void zt_file_secret_free(char *p);

/* Append the whole file at path to b; b->max is the cap. Same errors as
 * zt_file_read; on an error b keeps what it held before the call. */
ZT_NODISCARD int zt_file_read_buf(const char *path, struct zt_buf *b);

/* Append the rest of the open stream f (stdin, a pipe) to b, up to b->max:
 * ZT_ETOOBIG when there is more, ZT_EIO on a read error. On an error b
 * may hold part of the stream. */
ZT_NODISCARD int zt_file_read_stream(FILE *f, struct zt_buf *b);

/* Read from the descriptor fd until end of file or until cap bytes are in
 * p, retrying EINTR; *len is how many bytes were read. A caller that must
 * know whether more was there asks for one byte more than it allows.
 * ZT_EIO on a read error (errno says why). */
ZT_NODISCARD int zt_fd_read_full(int fd, void *p, size_t cap, size_t *len);

/* Read fd to its end in chunks of at most cap bytes into buf, calling
 * each(ud, buf, n) for every chunk read (n > 0), retrying EINTR. Returns 0
 * at end of file, the first non-zero value each returns (reading stops
 * there), or ZT_EIO on a read error (errno says why). */
ZT_NODISCARD int zt_fd_read_chunks(int fd, void *buf, size_t cap,
                                   int (*each)(void *ud, const void *p, size_t n), void *ud);

/* Write all n bytes of p to fd, retrying EINTR and short writes. ZT_EIO on
 * an error (errno says why; 0 when write stopped accepting bytes). */
ZT_NODISCARD int zt_fd_write_full(int fd, const void *p, size_t n);

#endif
