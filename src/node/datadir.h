/* datadir.h: the node's data directory (internal to src/node). */
#ifndef ZT_NODE_DATADIR_H
#define ZT_NODE_DATADIR_H

#include <stdbool.h>
#include <stddef.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_identity.h"

#define ZT_NODE_ID_MAX 65

/* Create dir and its subfolders (checkpoints, temp, encrypted_cache, logs,
 * models) with mode 0700, tightening a folder that is group/other accessible.
 * Problems are described in err. */
ZT_NODISCARD int zt__datadir_prepare(const char *dir, struct zt_buf *err);

/* Take an exclusive lock on dir/zentalk-node.lock (flock) and write our pid
 * into it; ZT_EBUSY (with the other pid in err) when another node holds it.
 * The lock lasts until *fd_out is closed. */
ZT_NODISCARD int zt__datadir_lock(const char *dir, int *fd_out, struct zt_buf *err);

/* The node identity: dir/key_file (key_file may be absolute), created
 * with a new identity on first start (mode 0600, written atomically).
 * pass_env is the name of the environment variable holding the key file
 * passphrase ("" = none); when named but unset or empty, ZT_ECONFIG.
 * *created says whether the file was made now. Problems are described in
 * err (never the passphrase). Free *out with zt_identity_free(). */
ZT_NODISCARD int zt__datadir_identity(const char *dir, const char *key_file, const char *pass_env,
                                      struct zt_identity **out, bool *created, char *path_out,
                                      size_t path_cap, struct zt_buf *err);

#endif
