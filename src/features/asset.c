/* asset.c: asset files (zt_asset.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_assets_dir.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"

static const char MAGIC[8] = {'Z', 'T', 'A', 'S', 'S', 'E', 'T', '1'};

static int kind_valid(const char *kind)
{
    size_t n = strlen(kind);
    if (n == 0 || n > ZT_ASSET_KIND_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (kind[i] < 0x21 || kind[i] > 0x7e) return 0;
    return 1;
}

int zt_asset_path(const char *data_dir, const char *name, char *out, size_t out_size)
{
    (void)data_dir; /* assets are not node state: zt_assets_dir() */
    int n = snprintf(out, out_size, "%s/%s", zt_assets_dir(), name);
    if (n < 0 || (size_t)n >= out_size) return ZT_ETOOBIG;
    return 0;
}

void zt_asset_missing_message(const char *what, const char *name, char *out, size_t out_size)
{
    if (!out_size) return;
    int n = snprintf(out, out_size,
                     "%s (%s) is not installed in the assets directory %s (searched: %s): run `make data` "
                     "(scripts/data.sh BUILD_DIR) to fill it, or set ZENTALK_ASSETS_DIR",
                     what, name, zt_assets_dir(), zt_assets_searched());
    if (n < 0) out[0] = '\0';
}

int zt_asset_load(const char *path, const char *kind, uint32_t version, struct zt_asset *a)
{
    int rc = 0, fd = -1;
    uint8_t *mem = NULL;
    struct stat st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? ZT_ENOTFOUND : ZT_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = ZT_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size < ZT_ASSET_HEADER_LEN + 32 ||
        (uint64_t)st.st_size > ZT_ASSET_MAX_PAYLOAD + ZT_ASSET_HEADER_LEN + 32) {
        rc = ZT_EPARSE;
        goto out;
    }
    size_t size = (size_t)st.st_size;
    mem = zt_malloc(size);
    if (!mem) {
        rc = ZT_ENOMEM;
        goto out;
    }
    size_t got = 0;
    if (zt_fd_read_full(fd, mem, size, &got) != 0 || got != size) {
        rc = ZT_EIO;
        goto out;
    }
    if (memcmp(mem, MAGIC, sizeof MAGIC) != 0 || zt_get_le32(mem + 28) != 0) {
        rc = ZT_EPARSE;
        goto out;
    }
    uint64_t plen = zt_get_le64(mem + 32);
    if (plen != (uint64_t)size - ZT_ASSET_HEADER_LEN - 32) {
        rc = ZT_EPARSE;
        goto out;
    }
    uint8_t h[ZT_SHA256_LEN];
    zt_sha256(h, mem, size - 32);
    if (memcmp(h, mem + size - 32, 32) != 0) {
        rc = ZT_EPARSE;
        goto out;
    }
    char k[ZT_ASSET_KIND_MAX + 1];
    memcpy(k, mem + 8, ZT_ASSET_KIND_MAX);
    k[ZT_ASSET_KIND_MAX] = '\0';
    if (strcmp(k, kind) != 0) {
        rc = ZT_EPARSE;
        goto out;
    }
    if (zt_get_le32(mem + 24) != version) {
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    memset(a, 0, sizeof *a);
    memcpy(a->kind, k, sizeof a->kind);
    a->version = version;
    memcpy(a->source_sha256, mem + 40, 32);
    a->data = mem + ZT_ASSET_HEADER_LEN; /* 72: 8-byte aligned in a malloc'd block */
    a->len = (size_t)plen;
    a->mem__ = mem;
    mem = NULL;
out:
    zt_free(mem);
    if (fd >= 0) close(fd);
    return rc;
}

int zt_asset_load_with(const char *path, const char *kind, uint32_t version,
                       int (*parse)(const void *data, size_t len, void *out), void *out)
{
    struct zt_asset a;
    int rc = zt_asset_load(path, kind, version, &a);
    if (rc) return rc;
    rc = parse(a.data, a.len, out);
    zt_asset_deinit(&a);
    return rc;
}

void zt_asset_deinit(struct zt_asset *a)
{
    if (!a) return;
    zt_free(a->mem__);
    memset(a, 0, sizeof *a);
}

int zt_asset_write(const char *path, const char *kind, uint32_t version,
                   const uint8_t source_sha256[static 32], const void *payload, size_t len)
{
    if (!kind_valid(kind)) return ZT_EINVAL;
    if ((uint64_t)len > ZT_ASSET_MAX_PAYLOAD) return ZT_ETOOBIG;
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) return ZT_ETOOBIG;

    uint8_t hdr[ZT_ASSET_HEADER_LEN];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, MAGIC, sizeof MAGIC);
    memcpy(hdr + 8, kind, strlen(kind));
    zt_put_le32(hdr + 24, version);
    zt_put_le64(hdr + 32, (uint64_t)len);
    memcpy(hdr + 40, source_sha256, 32);
    struct zt_sha256_ctx c;
    zt_sha256_init(&c);
    zt_sha256_update(&c, hdr, sizeof hdr);
    zt_sha256_update(&c, payload, len);
    uint8_t h[ZT_SHA256_LEN];
    zt_sha256_final(&c, h);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ZT_EIO;
    int rc = zt_fd_write_full(fd, hdr, sizeof hdr);
    if (rc == 0) rc = zt_fd_write_full(fd, payload, len);
    if (rc == 0) rc = zt_fd_write_full(fd, h, sizeof h);
    if (rc == 0 && fsync(fd) != 0) rc = ZT_EIO;
    if (close(fd) != 0 && rc == 0) rc = ZT_EIO;
    if (rc == 0 && rename(tmp, path) != 0) rc = ZT_EIO;
    if (rc != 0) unlink(tmp);
    return rc;
}
