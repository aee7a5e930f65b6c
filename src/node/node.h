/* node.h: the composition root of zentalk-node (internal to src/node;
 * docs/internals/dispatch.md).
 *
 * zt_node_new() builds the subsystems the configured roles need (store,
 * rate limiter and token keys, wallet logins, privacy layer and audit log,
 * peers and node signatures, the model registry and inference for a
 * worker, the local-first router and relay for a gateway, the features and
 * their wiring, GDPR) and hands them to the HTTP layer (zt_server_new),
 * which only routes. The node owns every lifetime; zt_node_free() takes
 * them down in an order that lets work in flight finish (see node.c).
 * Threads: build, start, reload and free run on the main thread. */
#ifndef ZT_NODE_NODE_H
#define ZT_NODE_NODE_H

#include <stdbool.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_error.h"

struct zt_node;
struct zt_server;
struct zt_identity;

/* cfg, node_id and id must outlive the node. Relative file names in cfg
 * (TLS, JWT key, relay CA, peers) are under node.data_dir. On failure err
 * says what (for stderr) and everything built so far is freed. ZT_ENOMEM,
 * ZT_ECONFIG, ZT_EIO, ZT_EPARSE, ... */
ZT_NODISCARD int zt_node_new(const struct zt_config *cfg, const char *node_id, const struct zt_identity *id,
                             struct zt_node **out, struct zt_buf *err);
/* Serve: the HTTP listener, then the background work (retention
 * sweeper). Errors of zt_server_start(). */
ZT_NODISCARD int zt_node_start(struct zt_node *n);
/* With node.dht_port set, join the discovery DHT once listening: publish
 * this node's descriptor and make the workers found there peers the
 * gateway seals to (zt_dht_node_start, docs/internals/dht.md). Nothing with
 * port 0. On error err says why ("DHT not built" without OpenDHT). */
ZT_NODISCARD int zt_node_start_dht(struct zt_node *n, struct zt_buf *err);
/* Database sync (mesh.db_sync_interval_s, an orchestrator with the mesh):
 * start publishing segments (after zt_node_start_dht). 0 when off. */
ZT_NODISCARD int zt_node_start_dbsync(struct zt_node *n);
/* --rebuild-from-mesh: rebuild the empty store from this node's published
 * segments (zt_dbsync_rebuild; after zt_node_start_dht). msg says what was
 * done or why not. ZT_EUNSUPPORTED: no database sync on this node. */
ZT_NODISCARD int zt_node_rebuild_from_mesh(struct zt_node *n, unsigned timeout_ms, struct zt_buf *msg);
/* Reload encryption.peers_file (SIGHUP); on error the previous peers stay
 * and err says why. */
ZT_NODISCARD int zt_node_reload_peers(struct zt_node *n, struct zt_buf *err);
struct zt_server *zt_node_server(struct zt_node *n);
/* A stop begins (SIGTERM): a joined worker reports itself full to its
 * orchestrators so no new job comes while the ones in flight drain. */
void zt_node_begin_stop(struct zt_node *n);
/* Bound the waits of zt_node_free() (relayed and remote jobs finishing,
 * answers flushing) so that it is done by deadline_ms (zt_time_mono_ms());
 * 0: the default waits (up to 12 s). */
void zt_node_set_stop_deadline(struct zt_node *n, uint64_t deadline_ms);
/* Ordered shutdown and free. NULL is a no-op. */
void zt_node_free(struct zt_node *n);

#endif
