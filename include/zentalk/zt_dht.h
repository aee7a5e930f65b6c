/* zt_dht.h: discovery of signed node descriptors in a DHT (OpenDHT's C
 * API, libopendht-c 2.4).
 *
 * A node publishes its signed descriptor (zt_identity.h) under keys
 * derived from each of its roles and from each (role, model) pair, and
 * under its node id; a lookup by role (and model) returns only the
 * descriptors that verify (schema, node id derived from the key,
 * signature, expiry), that list that role and model, that no revocation
 * seen so far revokes, one per node (the one that expires last: a key
 * rotation wins once its newly signed descriptor is out), bounded in count.
 * Anyone can put anything under any key: every value is checked, junk is
 * dropped as it arrives and never kept.
 *
 *   struct zt_dht_opts o = {.port = 4222};
 *   struct zt_dht *d = NULL;
 *   int rc = zt_dht_new(&o, &d);                 // binds UDP 0.0.0.0 and [::]
 *   zt_dht_bootstrap(d, "seed.example:4222");
 *   zt_dht_publish_from(d, sign_fn, ud);         // signs and republishes itself
 *   zt_dht_lookup(d, "worker", "stories", now, 3000, descs, 16, &n);
 *   zt_dht_free(d);
 *
 * Revocations: zt_dht_revocation() signs one (the whole node key, or one
 * KEM key after a rotation); zt_dht_revoke() publishes it under the same
 * keys as the node's descriptor and its node id, and every lookup that
 * sees one, anywhere, remembers it. Built without OpenDHT, everything but
 * the revocation records is ZT_EUNSUPPORTED ("DHT not built").
 * Thread-safe. See docs/internals/dht.md. */
#ifndef ZT_DHT_H
#define ZT_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_identity.h"

#define ZT_DHT_MAX_RESULTS 256      /* descriptors one lookup keeps at most */
#define ZT_DHT_MAX_VALUES 65536     /* values one get inspects at most */
#define ZT_DHT_MAX_KEYS 128         /* keys one descriptor is published under */
#define ZT_DHT_MAX_REVOKED 4096     /* revocations remembered (oldest forgotten first) */
#define ZT_DHT_REVOCATION_MAX 1024  /* bytes of a revocation record */
#define ZT_DHT_REFRESH_S 300        /* default republish period */
#define ZT_DHT_NETWORK 0x7a74u      /* OpenDHT network id: zentalk nodes only */

/* True when this build has the DHT (OpenDHT's C API was found). */
bool zt_dht_available(void);

struct zt_dht_opts {
    uint16_t port;      /* UDP port on every address; 0 = any free one (zt_dht_port says which) */
    bool multicast;     /* OpenDHT's LAN peer discovery and announcement */
    unsigned refresh_s; /* zt_dht_publish_from's longest republish period; 0 = ZT_DHT_REFRESH_S */
};

struct zt_dht;

/* Start a DHT node. *out only on success; free with zt_dht_free (NULL:
 * no-op). ZT_EUNSUPPORTED: not built; ZT_EIO: the port cannot be bound;
 * ZT_ENOMEM. */
ZT_NODISCARD int zt_dht_new(const struct zt_dht_opts *o, struct zt_dht **out);
/* Stop publishing and the DHT node (joins its threads; a lookup must not
 * be running). */
void zt_dht_free(struct zt_dht *d);
/* The bound UDP port (IPv4). */
uint16_t zt_dht_port(const struct zt_dht *d);

/* Ask host:port ("[v6]:port" too) to let us in. Asynchronous: there is no
 * "connected" signal; lookups simply start finding things. ZT_EINVAL: not
 * host:port. */
ZT_NODISCARD int zt_dht_bootstrap(struct zt_dht *d, const char *hostport);

/* Publish a signed descriptor (ours), replacing the one published before.
 * It must verify at now (as zt_identity_descriptor_verify; its errors).
 * Put under the keys of its roles and (role, model) pairs (at most
 * ZT_DHT_MAX_KEYS, the rest dropped with a warning) and its node id; values
 * live ten minutes in the DHT unless published again. */
ZT_NODISCARD int zt_dht_publish(struct zt_dht *d, const char *json, size_t len, int64_t now);

/* A freshly signed descriptor of this node in *json (zt_malloc'd), or a
 * negative ZT_E*. Called from the DHT's publisher thread. */
typedef int (*zt_dht_sign_fn)(void *ud, char **json);
/* Start a thread that calls sign and zt_dht_publish()es the result (and
 * our revocations) at once, then after 1, 2, 4 ... s up to refresh_s (so a
 * node that joins late still gets it soon), then every refresh_s. One per
 * d. ZT_EEXIST: already started; ZT_ENOMEM. */
ZT_NODISCARD int zt_dht_publish_from(struct zt_dht *d, zt_dht_sign_fn sign, void *ud);

/* Look up the nodes with role (and model, when not NULL), descriptors
 * checked for expiry at now, for at most timeout_ms (then up to 2 s more while each node found is asked, under
 * its own key, for revocations and a newer descriptor): up to max
 * (<= ZT_DHT_MAX_RESULTS) verified, unrevoked descriptors, one per node,
 * into out[0..*n) (each released with zt_node_descriptor_deinit). A lookup
 * that times out returns what it found so far. ZT_EINVAL: bad arguments;
 * ZT_ENOMEM. */
ZT_NODISCARD int zt_dht_lookup(struct zt_dht *d, const char *role, const char *model, int64_t now,
                               unsigned timeout_ms, struct zt_node_descriptor *out, size_t max, size_t *n);

/* ---- Revocations ------------------------------------------------------------
 * {"at":N,"ed25519_pk":hex,["kem_pk":hex,]"kind":"zentalk-revocation",
 *  "node_id":"zt1...","sig":hex,"v":1}, signed like a descriptor. Without
 * kem_pk the whole node key is revoked: no descriptor of it is used again;
 * with it, only descriptors carrying that KEM key (one rotated away). */
struct zt_dht_revocation {
    char node_id[ZT_IDENTITY_ID_SIZE];
    uint8_t ed25519_pk[ZT_ED25519_PK_LEN];
    bool has_kem;
    uint8_t kem_pk[ZT_X25519_LEN];
    int64_t at; /* unix seconds, when signed */
};

/* Sign a revocation of id's key (kem_pk NULL) or of one of its KEM keys.
 * *out (NUL-terminated, zt_free) only on success. ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_dht_revocation(const struct zt_identity *id, const uint8_t *kem_pk, int64_t at, char **out);
/* Check one: ZT_ETOOBIG, ZT_EPARSE (schema), ZT_EUNSUPPORTED (v),
 * ZT_ECRYPTO (node id or signature). out (may be NULL) only on success. */
ZT_NODISCARD int zt_dht_revocation_verify(const char *json, size_t len, struct zt_dht_revocation *out);
/* Verify and publish a revocation (republished with our descriptor by
 * zt_dht_publish_from; at most 16 kept) and honour it at once. */
ZT_NODISCARD int zt_dht_revoke(struct zt_dht *d, const char *json, size_t len);

/* Told of each revocation d remembers for the first time (found in a
 * lookup, or zt_dht_revoke'd here): node_id's whole key (kem_pk NULL) or
 * one KEM key, signed at `at`; the record was verified. Registering it
 * replays the revocations remembered so far. Called on OpenDHT's threads
 * (or the registering one), without a lock of d held: fn must be
 * thread-safe (the registry's zt_registry_revoke_key is). One hook per d. */
typedef void (*zt_dht_revocation_fn)(void *ud, const char *node_id, const uint8_t *kem_pk, int64_t at);
void zt_dht_on_revocation(struct zt_dht *d, zt_dht_revocation_fn fn, void *ud);

/* ---- The node's use ------------------------------------------------------- */
struct zt_config;
struct zt_peers;
/* What zentalk-node calls once it listens: with node.dht_port 0, nothing
 * (*out NULL, 0). Otherwise start the DHT on that port (multicast per
 * node.dht_multicast), bootstrap from node.bootstrap, publish what sign
 * gives, and look up workers, and for a worker node gateways too (1, 2,
 * 4 ... up to 30 s apart, and at once when peers' unknown hook reports a
 * node or a model it does not hold; such models' own keys are read too),
 * whose verified descriptors, other than self_id's, become peers'
 * discovered nodes (zt_peers_set_discovered): the gateway seals jobs to
 * the workers, the workers admit the gateways' signed requests.
 * ZT_EUNSUPPORTED with "DHT not built" in err when this build has no
 * OpenDHT; ZT_EIO (the port); ZT_ENOMEM. cfg and peers must outlive *out. */
ZT_NODISCARD int zt_dht_node_start(const struct zt_config *cfg, zt_dht_sign_fn sign, void *sign_ud,
                                   struct zt_peers *peers, const char *self_id, struct zt_dht **out,
                                   struct zt_buf *err);

#endif
