/* mesh_store.c: the mesh's chunk store on disk (mesh_int.h). Every file is
 * written whole to DIR/tmp and renamed into place, so a reader (or a node
 * killed mid-write) never sees half a chunk. Manifests and blob records are
 * durable on their own (fsync, rename, fsync of the directory); chunks are
 * made durable together, by one syncfs of the store before the blob that
 * uses them is recorded (zt__mstore_sync): so a blob recorded as held has
 * every chunk on disk after a power loss too, at the cost of one flush per
 * blob instead of two per 1 MiB chunk (which made adding a 40 MiB file on
 * the test machine 50 times slower). Chunks are verified on every read all
 * the same. What a crash leaves in DIR/tmp is removed at the next start. */
#define _GNU_SOURCE /* syncfs */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mesh_int.h"
#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_mesh.h"

static int mkdir_0700(const char *p)
{
    return mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : ZT_EIO;
}

static int path_of(const struct zt__mstore *s, const char *sub, const char *name, char *out, size_t n)
{
    int w = name ? snprintf(out, n, "%s/%s/%s", s->dir, sub, name) : snprintf(out, n, "%s/%s", s->dir, sub);
    return w < 0 || (size_t)w >= n ? ZT_ETOOBIG : 0;
}

int zt__mstore_sync_dir(const char *p)
{
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ZT_EIO;
    int rc = fsync(fd) == 0 ? 0 : ZT_EIO;
    close(fd);
    return rc;
}

/* Remove what a crash left in DIR/tmp (files being written: never renamed). */
static void clear_tmp(const struct zt__mstore *s)
{
    char p[ZT__MSTORE_PATH], f[ZT__MSTORE_PATH];
    if (path_of(s, "tmp", NULL, p, sizeof p) != 0) return;
    DIR *d = opendir(p);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && path_of(s, "tmp", e->d_name, f, sizeof f) == 0) (void)unlink(f);
    closedir(d);
}

int zt__mstore_init(struct zt__mstore *s, const char *dir)
{
    int w = snprintf(s->dir, sizeof s->dir, "%s", dir);
    if (w < 0 || (size_t)w >= sizeof s->dir - 100) return ZT_ETOOBIG;
    static const char *const subs[] = {"chunks", "manifests", "blobs", "tmp"};
    int rc = mkdir_0700(s->dir);
    char p[ZT__MSTORE_PATH];
    for (size_t i = 0; !rc && i < sizeof subs / sizeof subs[0]; i++) {
        rc = path_of(s, subs[i], NULL, p, sizeof p);
        if (!rc) rc = mkdir_0700(p);
    }
    if (!rc) clear_tmp(s);
    return rc;
}

int zt__mstore_sync(const struct zt__mstore *s)
{
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ZT_EIO;
    int rc = syncfs(fd) == 0 ? 0 : ZT_EIO;
    close(fd);
    return rc;
}

int zt__mstore_write(const struct zt__mstore *s, const char *sub, const char *name, const void *hdr, size_t hdr_len,
                     const void *data, size_t len, bool durable)
{
    char tmp[ZT__MSTORE_PATH], dst[ZT__MSTORE_PATH], dir[ZT__MSTORE_PATH], rnd[17];
    uint8_t r[8];
    randombytes_buf(r, sizeof r);
    zt_hex_encode(rnd, r, sizeof r);
    int rc = path_of(s, "tmp", rnd, tmp, sizeof tmp);
    if (!rc) rc = path_of(s, sub, name, dst, sizeof dst);
    if (!rc) rc = path_of(s, sub, NULL, dir, sizeof dir);
    if (rc) return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ZT_EIO;
    rc = hdr_len ? zt_fd_write_full(fd, hdr, hdr_len) : 0;
    if (!rc && len) rc = zt_fd_write_full(fd, data, len);
    if (!rc && durable && fsync(fd) != 0) rc = ZT_EIO; /* the bytes before the name */
    if (close(fd) != 0 && !rc) rc = ZT_EIO;
    if (!rc && rename(tmp, dst) != 0) rc = ZT_EIO;
    if (rc) (void)unlink(tmp);
    if (!rc && durable) rc = zt__mstore_sync_dir(dir); /* the name */
    return rc;
}

int zt__mstore_read(const struct zt__mstore *s, const char *sub, const char *name, size_t max, struct zt_buf *out)
{
    char p[ZT__MSTORE_PATH];
    int rc = path_of(s, sub, name, p, sizeof p);
    if (rc) return rc;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? ZT_ENOTFOUND : ZT_EIO;
    struct stat st;
    zt_buf_reset(out);
    rc = ZT_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) goto out;
    rc = ZT_ETOOBIG;
    if ((uint64_t)st.st_size > max || (size_t)st.st_size > out->max) goto out;
    size_t want = (size_t)st.st_size, got = 0;
    char *tmp = zt_malloc(want ? want : 1);
    rc = tmp ? zt_fd_read_full(fd, tmp, want, &got) : ZT_ENOMEM;
    if (!rc && got != want) rc = ZT_EIO;
    if (!rc) rc = zt_buf_append(out, tmp, got);
    zt_free(tmp);
out:
    close(fd);
    return rc;
}

void zt__mstore_remove(const struct zt__mstore *s, const char *sub, const char *name)
{
    char p[ZT__MSTORE_PATH];
    if (path_of(s, sub, name, p, sizeof p) == 0) (void)unlink(p);
}

/* "chunks/ab" and "<hex>" for a chunk. */
static int chunk_names(const struct zt__mstore *s, const uint8_t sha[static 32], char sub[16], char name[65])
{
    zt_hex_encode(name, sha, 32);
    snprintf(sub, 16, "chunks/%.2s", name);
    char p[ZT__MSTORE_PATH];
    int rc = path_of(s, sub, NULL, p, sizeof p);
    return rc ? rc : mkdir_0700(p);
}

int zt__mstore_put_chunk(const struct zt__mstore *s, const uint8_t sha[static 32], const void *data, size_t len)
{
    if (!len || len > ZT_MESH_CHUNK_SIZE) return ZT_EINVAL;
    char sub[16], name[65];
    int rc = chunk_names(s, sha, sub, name);
    if (rc) return rc;
    uint8_t h[ZT_MESH_FRAME_HEADER];
    zt_mesh_frame_header(h, sha, (uint32_t)len);
    return zt__mstore_write(s, sub, name, h, sizeof h, data, len, false); /* zt__mstore_sync before use */
}

int zt__mstore_get_chunk(const struct zt__mstore *s, const uint8_t sha[static 32], struct zt_buf *out)
{
    char sub[16], name[65];
    int rc = chunk_names(s, sha, sub, name);
    if (!rc) rc = zt__mstore_read(s, sub, name, ZT_MESH_FRAME_HEADER + ZT_MESH_CHUNK_SIZE, out);
    if (rc) return rc;
    const uint8_t *d = NULL;
    size_t n = 0;
    rc = zt_mesh_frame_check(out->data, out->len, sha, &d, &n);
    if (rc) { /* bit rot or tampering: never served, fetched again when wanted */
        zt__mstore_remove(s, sub, name);
        zt_buf_reset(out);
        return ZT_ENOTFOUND;
    }
    memmove(out->data, d, n);
    out->len = n;
    return 0;
}

bool zt__mstore_has_chunk(const struct zt__mstore *s, const uint8_t sha[static 32])
{
    char sub[16], name[65], p[ZT__MSTORE_PATH];
    struct stat st;
    return chunk_names(s, sha, sub, name) == 0 && path_of(s, sub, name, p, sizeof p) == 0 && stat(p, &st) == 0 &&
           S_ISREG(st.st_mode) && (uint64_t)st.st_size > ZT_MESH_FRAME_HEADER;
}

void zt__mstore_del_chunk(const struct zt__mstore *s, const uint8_t sha[static 32])
{
    char sub[16], name[65];
    if (chunk_names(s, sha, sub, name) == 0) zt__mstore_remove(s, sub, name);
}
