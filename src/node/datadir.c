/* datadir.c: data directory layout, lock and node identity. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

int zt__datadir_identity(const char *dir, const char *key_file, const char *pass_env,
                         struct zt_identity **out, bool *created, char *path_out, size_t path_cap,
                         struct zt_buf *err)
{
    int n = key_file[0] == '/' ? snprintf(path_out, path_cap, "%s", key_file)
                               : snprintf(path_out, path_cap, "%s/%s", dir, key_file);
    if (n < 0 || (size_t)n >= path_cap) {
        zt_ignore(zt_buf_appendf(err, "key file path %s/%s is too long", dir, key_file));
        return ZT_ETOOBIG;
    }
    const char *pass = NULL;
    if (pass_env && *pass_env) {
        pass = getenv(pass_env);
        if (!pass || !*pass) {
            zt_ignore(zt_buf_appendf(err,
                                     "encryption.passphrase_env names %s, but that environment "
                                     "variable is not set or empty; export the key file "
                                     "passphrase in %s (or set passphrase_env to \"\" for an "
                                     "unencrypted key file)",
                                     pass_env, pass_env));
            return ZT_ECONFIG;
        }
    }
    size_t before = err->len;
    int rc = zt_identity_load_or_create(path_out, pass, pass ? strlen(pass) : 0, NULL, out, created, err);
    if (rc == ZT_EINVAL && !pass) {
        zt_ignore(zt_buf_appendf(err, "; set encryption.passphrase_env to the name of the "
                                      "environment variable holding it"));
    } else if (rc && err->len == before) {
        zt_ignore(zt_buf_appendf(err, "cannot load or create the key file %s: %s", path_out,
                                 zt_strerror(rc)));
    }
    return rc;
}
