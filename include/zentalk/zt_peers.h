/* zt_peers.h: the static peer registry: the nodes this node trusts.
 *
 * A peers file is a JSON array of signed node descriptors (zt_identity.h),
 * exactly as GET /v1/node/descriptor serves them:
 *
 *   [{"ed25519_pk":"...","endpoint":"http://10.0.0.2:8080","expires":...,
 *     "kem_pk":"...","models":[],"node_id":"zt1...","roles":["worker"],
 *     "sig":"...","v":1}, ...]
 *
 * Each descriptor is verified when loaded (schema, node id derived from the
 * key, signature, expiry); a descriptor that fails, an endpoint that is not
 * http(s)://host[:port] (no path, userinfo, query or fragment: the relay
 * appends the route itself, issue 17 item 7), or a second descriptor for
 * the same id is dropped
 * with a warning in the log, the others are kept. Lookups by node id are
 * thread-safe and copy the peer out, so a reload (SIGHUP) never pulls a
 * peer from under a caller. See docs/internals/peers.md. */
#ifndef ZT_PEERS_H
#define ZT_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"
#include "zt_identity.h"

#define ZT_PEERS_FILE_MAX ((size_t)8 << 20) /* bytes of a peers file */
#define ZT_PEERS_MAX 4096                   /* descriptors in one file */
#define ZT_PEERS_HOLD_S 30                  /* a failed peer is picked after the healthy ones this long, */
#define ZT_PEERS_HOLD_DOUBLINGS 4           /* doubled per failure in a row up to 30 s << 4 = 8 min */
#define ZT_PEERS_HELD_MAX 256               /* failed peers remembered at once */

/* One trusted peer (a copy; the caller owns it). */
struct zt_peer {
    char node_id[ZT_IDENTITY_ID_SIZE];
    uint8_t ed25519_pk[ZT_ED25519_PK_LEN];
    uint8_t kem_pk[ZT_X25519_LEN];
    char endpoint[ZT_DESCRIPTOR_MAX_ENDPOINT + 1]; /* http(s)://host[:port], no trailing '/' */
    int64_t expires;                               /* unix seconds */
};

struct zt_peers;

/* NULL when endpoint is http(s)://host[:port] with an optional trailing
 * '/', else why not (a static sentence for logs and CLI errors). */
const char *zt_peers_endpoint_problem(const char *endpoint);

/* An empty registry. ZT_ENOMEM. Free with zt_peers_free (NULL: no-op). */
ZT_NODISCARD int zt_peers_new(struct zt_peers **out);
void zt_peers_free(struct zt_peers *p);

/* Replace the registry with the descriptors of text (len bytes, a JSON
 * array), checked at time now. On error the registry is unchanged:
 * ZT_ETOOBIG (over ZT_PEERS_FILE_MAX or ZT_PEERS_MAX entries), ZT_EPARSE
 * (not a JSON array; the reason with line:column goes to err), ZT_ENOMEM.
 * Dropped descriptors are not errors: *kept and *dropped (may be NULL) say
 * how many of each, and each drop is logged (WARN peer_dropped). */
ZT_NODISCARD int zt_peers_load_text(struct zt_peers *p, const char *text, size_t len, int64_t now,
                                    size_t *kept, size_t *dropped, struct zt_buf *err);

/* zt_peers_load_text() on a file's contents. ZT_ENOTFOUND: no such file
 * (the registry is emptied: a node without a peers file has no peers);
 * ZT_EIO: unreadable (errno kept); otherwise as zt_peers_load_text(). */
ZT_NODISCARD int zt_peers_load_file(struct zt_peers *p, const char *path, int64_t now, size_t *kept,
                                    size_t *dropped, struct zt_buf *err);

/* Copy the peer with node_id into *out. ZT_ENOTFOUND: not registered;
 * ZT_ETIMEDOUT: its descriptor expired since it was loaded (now >= expires). */
ZT_NODISCARD int zt_peers_lookup(struct zt_peers *p, const char *node_id, int64_t now,
                                 struct zt_peer *out);

/* The worker for a job on model: the first peer (by node id; the static
 * peers, then the discovered ones) whose descriptor lists the worker role
 * and model by name and has not expired, and that is not held
 * (zt_peers_note); a held peer only when no other one qualifies. With pin
 * (a node id; NULL or "" = any) only that peer qualifies, held or not.
 * Fills *out. ZT_ENOTFOUND: none. (A descriptor listing no models serves
 * none.) */
ZT_NODISCARD int zt_peers_pick(struct zt_peers *p, const char *model, const char *pin, int64_t now,
                               struct zt_peer *out);

/* The failure memory: how this node's own attempt to run a job on node_id
 * ended (ok: a verified result; !ok: it died, stalled, refused or returned
 * a bad result). A failure holds the peer from now (unix seconds, as for a
 * pick) for ZT_PEERS_HOLD_S seconds, doubled for each failure in a row
 * (again after its hold ended) up to ZT_PEERS_HOLD_DOUBLINGS times: picks
 * take it after every peer that is not held; an ok attempt clears it. At most ZT_PEERS_HELD_MAX peers
 * are held; past that the hold that ends first is forgotten. Its own lock
 * (a pick reads an unlocked count first, so a registry with nobody held
 * pays nothing); a reload or a new discovery keeps it. Feed it only with
 * attempts this node made itself: it is what steers its picks. */
void zt_peers_note(struct zt_peers *p, const char *node_id, bool ok, int64_t now);

/* Whether node_id is held at now (zt_peers_note). */
bool zt_peers_held(struct zt_peers *p, const char *node_id, int64_t now);

/* Called by zt_peers_lookup() for a node id it does not hold (fn(ud,
 * node_id, NULL)) and by zt_peers_pick() when no peer serves a model
 * unpinned (fn(ud, NULL, model)): the node's DHT looks for them now. NULL removes
 * it. fn runs under the registry's read lock, so it must be quick and must
 * not call back into p; replacing or removing the hook waits for a call in
 * progress. */
void zt_peers_set_unknown_hook(struct zt_peers *p, void (*fn)(void *ud, const char *node_id, const char *model),
                               void *ud);

/* Peers held now: the static ones and the discovered workers. */
size_t zt_peers_count(struct zt_peers *p);

/* Replace the discovered nodes (the node's DHT lookups, zt_dht.h) with the
 * verified descriptors d[0..n): those with an http(s)://host[:port]
 * endpoint that have not expired and are not static peers, one per id.
 * zt_peers_pick(), zt_peers_lookup() and zt_peers_list() take them after
 * the static peers (so a discovered worker is sent jobs, also as the next
 * worker of a failover, and a discovered node's signed requests verify). A reload
 * of the file keeps them. *kept (may be NULL): how many. ZT_EINVAL,
 * ZT_ENOMEM (nothing changed). */
ZT_NODISCARD int zt_peers_set_discovered(struct zt_peers *p, const struct zt_node_descriptor *d, size_t n,
                                         int64_t now, size_t *kept);

/* Register the zentalk_peers gauge (the peers in p) with the node's
 * metrics registry (zt_metrics.h); p must outlive its last render.
 * Errors of zt_metrics_add_fn(). */
struct zt_metrics;
ZT_NODISCARD int zt_peers_register_metrics(struct zt_peers *p, struct zt_metrics *m);

/* Copy up to max peers into out: the static ones, then the discovered ones
 * (each sorted by node id); returns how many. */
size_t zt_peers_list(struct zt_peers *p, struct zt_peer *out, size_t max);

#endif
