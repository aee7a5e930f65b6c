/* datadir.c: data directory layout, lock and node id. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"

static const char *const subdirs[] = {"checkpoints", "temp", "encrypted_cache", "logs", "models"};

/* mkdir -p with mode 0700 for every component we create. */
static int mkdir_p(const char *path, struct zt_buf *err)
{
    char tmp[4096];
    if (zt_strlcpy(tmp, path, sizeof tmp) >= sizeof tmp) {
        zt_ignore(zt_buf_appendf(err, "data directory path is too long"));
        return ZT_ETOOBIG;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            zt_ignore(zt_buf_appendf(err, "cannot create %s: %s", tmp, strerror(errno)));
            return ZT_EIO;
        }
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        zt_ignore(zt_buf_appendf(err, "cannot create %s: %s", tmp, strerror(errno)));
        return ZT_EIO;
    }
    return 0;
}

static int ensure_private_dir(const char *path, struct zt_buf *err)
{
    int rc = mkdir_p(path, err);
    if (rc) return rc;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        zt_ignore(zt_buf_appendf(err, "%s exists and is not a directory", path));
        return ZT_EIO;
    }
    if ((st.st_mode & 077) != 0) {
        if (chmod(path, 0700) != 0) {
            zt_ignore(zt_buf_appendf(err, "cannot set mode 0700 on %s: %s", path, strerror(errno)));
            return ZT_EPERM;
        }
        zt_log(ZT_LOG_WARN, "data_dir_permissions_tightened", "path=%s old_mode=%o", path,
               (unsigned)(st.st_mode & 0777));
    }
    return 0;
}

int zt__datadir_prepare(const char *dir, struct zt_buf *err)
{
    int rc = ensure_private_dir(dir, err);
    if (rc) return rc;
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        char sub[4096];
        int n = snprintf(sub, sizeof sub, "%s/%s", dir, subdirs[i]);
        if (n < 0 || (size_t)n >= sizeof sub) return ZT_ETOOBIG;
        rc = ensure_private_dir(sub, err);
        if (rc) return rc;
    }
    return 0;
}

int zt__datadir_lock(const char *dir, int *fd_out, struct zt_buf *err)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/zentalk-node.lock", dir);
    if (n < 0 || (size_t)n >= sizeof path) return ZT_ETOOBIG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        zt_ignore(zt_buf_appendf(err, "cannot open %s: %s", path, strerror(errno)));
        return ZT_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char other[32] = "";
        ssize_t r = pread(fd, other, sizeof other - 1, 0);
        other[r > 0 ? r : 0] = '\0';
        other[strcspn(other, "\n")] = '\0';
        zt_ignore(zt_buf_appendf(err, "data directory %s is in use by another zentalk-node (pid %s)",
                             dir, other[0] ? other : "unknown"));
        close(fd);
        return ZT_EBUSY;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        zt_ignore(zt_buf_appendf(err, "cannot write %s: %s", path, strerror(errno)));
        close(fd);
        return ZT_EIO;
    }
    *fd_out = fd;
    return 0;
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ZT_NODE_ID_MAX) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

int zt__datadir_node_id(const char *dir, char out[static ZT_NODE_ID_MAX], struct zt_buf *err)
{
    char path[4096], tmp[4096];
    int n = snprintf(path, sizeof path, "%s/node_id", dir);
    int m = snprintf(tmp, sizeof tmp, "%s/node_id.tmp", dir);
    if (n < 0 || (size_t)n >= sizeof path || m < 0 || (size_t)m >= sizeof tmp) return ZT_ETOOBIG;

    FILE *f = fopen(path, "re");
    if (f) {
        char line[128] = "";
        bool ok = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        if (!ok || !valid_id(line)) {
            zt_ignore(zt_buf_appendf(err, "%s is corrupt (expected 1-64 characters of [A-Za-z0-9._-]); "
                                      "remove it to generate a new id", path));
            return ZT_EPARSE;
        }
        zt_strlcpy(out, line, ZT_NODE_ID_MAX);
        return 0;
    }
    if (errno != ENOENT) {
        zt_ignore(zt_buf_appendf(err, "cannot read %s: %s", path, strerror(errno)));
        return ZT_EIO;
    }
    uint8_t raw[16];
    char id[ZT_NODE_ID_MAX];
    randombytes_buf(raw, sizeof raw);
    zt_hex_encode(id, raw, sizeof raw);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        zt_ignore(zt_buf_appendf(err, "cannot create %s: %s", tmp, strerror(errno)));
        return ZT_EIO;
    }
    size_t len = strlen(id);
    id[len] = '\n';
    bool ok = write(fd, id, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0;
    id[len] = '\0';
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        zt_ignore(zt_buf_appendf(err, "cannot write %s: %s", path, strerror(errno)));
        unlink(tmp);
        return ZT_EIO;
    }
    zt_strlcpy(out, id, ZT_NODE_ID_MAX);
    return 0;
}
