/* datadir.h: the node's data directory (internal to src/node). */
#ifndef ZT_NODE_DATADIR_H
#define ZT_NODE_DATADIR_H

#include <stddef.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_error.h"

#define ZT_NODE_ID_MAX 65

/* Create dir and its subfolders (checkpoints, temp, encrypted_cache, logs,
 * models) with mode 0700, tightening a folder that is group/other accessible.
 * Problems are described in err. */
ZT_NODISCARD int zt__datadir_prepare(const char *dir, struct zt_buf *err);

/* Take an exclusive lock on dir/zentalk-node.lock (flock) and write our pid
 * into it; ZT_EBUSY (with the other pid in err) when another node holds it.
 * The lock lasts until *fd_out is closed. */
ZT_NODISCARD int zt__datadir_lock(const char *dir, int *fd_out, struct zt_buf *err);

/* The node id: dir/node_id, created (32 random hex digits, written
 * atomically) on first start. */
ZT_NODISCARD int zt__datadir_node_id(const char *dir, char out[static ZT_NODE_ID_MAX],
                                     struct zt_buf *err);

#endif
