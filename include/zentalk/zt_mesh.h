/* zt_mesh.h: content-addressed blobs shared between nodes (src/mesh).
 *
 * A blob (a model file) is cut into 1 MiB chunks named by their SHA-256.
 * Its manifest lists the chunk hashes with the whole file's SHA-256 and
 * size and is named by its root: a hash over a Merkle tree of the chunk
 * hashes and the manifest's header, so a manifest fetched by root and a
 * chunk fetched by hash are checked before use. `sha256:<hex>` names a
 * file by its whole-file SHA-256 (as `zentalk models pull --sha256`); the
 * DHT maps it to the nodes that hold it, one signed, expiring holder record
 * per (blob, holder) under one key per blob (never one per chunk).
 *
 *   struct zt_mesh_opts o = {.dir = "data/mesh", .id = id, .peers = peers};
 *   struct zt_mesh *m = NULL;
 *   zt_mesh_new(&o, &m);
 *   zt_mesh_start(m, dht, "http://10.0.0.2:8080");   // dht may be NULL
 *   zt_mesh_add_file(m, "models/x.gguf", "x.gguf", 3, &info);
 *   zt_mesh_pull(m, sha, NULL, true);                  // background fetch
 *   zt_mesh_free(m);
 *
 * Formats (docs/architecture/MESH_INTEGRATION.md): the manifest and the
 * on-disk chunk frame are byte-exact little-endian layouts, decoded by
 * functions that take any bytes (fuzz/mesh_manifest.c). Blobs are stored
 * as they are (kind 0): model files, and an orchestrator's database-sync
 * segments (zt_dbsync.h), whose one private field is sealed inside them.
 * Thread-safe unless said otherwise. See docs/internals/mesh.md. */
#ifndef ZT_MESH_H
#define ZT_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"
#include "zt_identity.h"

#define ZT_MESH_CHUNK_SIZE (1u << 20)     /* bytes of every chunk but the last */
#define ZT_MESH_MAX_CHUNKS (1u << 17)     /* 128 GiB per blob: bounds a manifest at 4 MiB */
#define ZT_MESH_MANIFEST_HEADER 56u       /* bytes before the chunk hashes */
#define ZT_MESH_MANIFEST_MAX (ZT_MESH_MANIFEST_HEADER + 32u * ZT_MESH_MAX_CHUNKS)
#define ZT_MESH_FRAME_HEADER 44u          /* on-disk chunk frame: magic, version, length, hash */
#define ZT_MESH_RECORD_MAX 2048u          /* bytes of a holder record */
#define ZT_MESH_NAME_MAX 200u             /* a blob's file name (advisory) */
#define ZT_MESH_RF_MAX 16u                /* replication factor at most */
#define ZT_MESH_KIND_MODEL 0u             /* a public model file, stored as it is */

/* ---- Manifests ----------------------------------------------------------------
 * Layout (little-endian, 56 + 32 n bytes):
 *   0  "ZTMF"   4  u8 version (1)   5  u8 kind   6  u16 zero
 *   8  u32 chunk_size (ZT_MESH_CHUNK_SIZE)   12 u32 n_chunks
 *   16 u64 file_size   24 u8[32] file SHA-256   56 u8[32] chunk hash * n
 * n_chunks = ceil(file_size / chunk_size), file_size >= 1.
 * root = SHA-256(0x02 || bytes 0..56 || merkle), merkle over the chunk
 * hashes: leaf = SHA-256(0x00 || h), node = SHA-256(0x01 || l || r), an
 * odd node carried up as it is. */
struct zt_mesh_manifest {
    uint8_t root[32];
    uint8_t file_sha256[32];
    uint64_t file_size;
    uint32_t chunk_size;
    uint32_t n_chunks;
    uint8_t kind;
    uint8_t (*chunks)[32]; /* n_chunks hashes, zt_malloc'd */
};

/* Read the file at path, hash it in chunks and fill *out (release with
 * zt_mesh_manifest_deinit). ZT_EIO (errno), ZT_EINVAL (empty file),
 * ZT_ETOOBIG (over ZT_MESH_MAX_CHUNKS chunks), ZT_ENOMEM. */
ZT_NODISCARD int zt_mesh_manifest_of_file(const char *path, struct zt_mesh_manifest *out);
/* Recompute m->root from the other fields. */
void zt_mesh_manifest_seal(struct zt_mesh_manifest *m);
/* The encoded manifest in *out (zt_malloc'd, *len bytes). ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_mesh_manifest_encode(const struct zt_mesh_manifest *m, uint8_t **out, size_t *len);
/* Decode any bytes: ZT_EPARSE (layout, counts, sizes), ZT_EUNSUPPORTED
 * (version, kind, chunk size), ZT_ETOOBIG (over ZT_MESH_MAX_CHUNKS: checked
 * before anything is allocated), ZT_ECRYPTO (want_root given and not the
 * root), ZT_ENOMEM. *out only on success. */
ZT_NODISCARD int zt_mesh_manifest_decode(const void *data, size_t len, const uint8_t *want_root,
                                         struct zt_mesh_manifest *out);
void zt_mesh_manifest_deinit(struct zt_mesh_manifest *m);
/* Bytes of chunk i (the last one may be shorter); 0 when i is out of range. */
size_t zt_mesh_chunk_len(const struct zt_mesh_manifest *m, uint32_t i);

/* ---- Chunk frames (the chunk store's files) -------------------------------------
 *   0 "ZTCK"  4 u8 version (1)  5 u8[3] zero  8 u32 length  12 u8[32] SHA-256 of data  44 data
 * Encode into out (ZT_MESH_FRAME_HEADER + len bytes). */
void zt_mesh_frame_header(uint8_t out[static ZT_MESH_FRAME_HEADER], const uint8_t sha[static 32], uint32_t len);
/* Check a frame: layout, length, and the data's SHA-256 against the header
 * and want_sha (may be NULL). *data / *data_len point into frame.
 * ZT_EPARSE, ZT_EUNSUPPORTED, ZT_ECRYPTO (the hash). */
ZT_NODISCARD int zt_mesh_frame_check(const void *frame, size_t len, const uint8_t *want_sha, const uint8_t **data,
                                     size_t *data_len);

/* ---- Holder records -------------------------------------------------------------
 * {"ed25519_pk":hex,"endpoint":url,"exp":N,"kind":"zentalk-mesh-holder",
 *  "name":s,"node_id":"zt1...","rf":N,"root":hex,"sha256":hex,"sig":hex,
 *  "size":N,"v":1[,"partial":true|,"withdrawn":true]}, signed like a descriptor
 * (zt_identity_sign_json). Put in the DHT under "zentalk-dht-v1/mesh/<sha256 hex>".
 * A reader keeps each node's record with the latest exp (a withdrawal on a
 * tie): a withdrawn one (the node dropped the blob: evicted, unpinned) takes
 * the node off the holders until a newer holder record of it comes. */
struct zt_mesh_holder {
    char node_id[ZT_IDENTITY_ID_SIZE];
    uint8_t ed25519_pk[ZT_ED25519_PK_LEN];
    char endpoint[ZT_DESCRIPTOR_MAX_ENDPOINT + 1];
    uint8_t root[32];
    uint8_t sha256[32];
    uint64_t size;
    int64_t exp;      /* unix seconds */
    unsigned rf;      /* replication factor asked for, 1..ZT_MESH_RF_MAX */
    char name[ZT_MESH_NAME_MAX + 1]; /* advisory file name; "" = none */
    bool partial;     /* still pulling: serves the chunks it has ("partial":true) */
    bool withdrawn;   /* no longer holds it ("withdrawn":true; never with partial) */
};
/* Sign h (its node_id and key are id's) into *out (NUL-terminated, zt_free).
 * ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_mesh_record_sign(const struct zt_identity *id, const struct zt_mesh_holder *h, char **out);
/* Check any bytes as a holder record valid at now: ZT_ETOOBIG, ZT_EPARSE,
 * ZT_EUNSUPPORTED (v), ZT_ECRYPTO (node id or signature), ZT_ETIMEDOUT
 * (expired, or expiring more than a day from now). out only on success. */
ZT_NODISCARD int zt_mesh_record_verify(const char *json, size_t len, int64_t now, struct zt_mesh_holder *out);

/* True for a file name a blob may be installed under: letters, digits,
 * '.', '_', '-', no leading '.', at most ZT_MESH_NAME_MAX bytes. */
bool zt_mesh_name_ok(const char *name);

/* ---- The node's mesh ------------------------------------------------------------ */
struct zt_peers;
struct zt_metrics;
struct zt_dht;
struct zt_store;

struct zt_mesh_opts {
    const char *dir;                /* the store: DIR/chunks, DIR/manifests, DIR/pins (created 0700) */
    const char *models_dir;         /* where pulls with install go (NAME + NAME.sha256); NULL: none */
    const struct zt_identity *id;   /* signs holder records and requests to peers */
    struct zt_peers *peers;         /* the repair's candidates; may be NULL */
    struct zt_metrics *metrics;     /* may be NULL */
    unsigned replication;           /* default replication factor of a model blob; 0 = 3 */
    unsigned record_ttl_s;          /* holder records' lifetime; 0 = 600 (republished every third) */
    unsigned repair_interval_s;     /* 0 = 60 */
    unsigned parallel;              /* chunk requests in flight per pull; 0 = 8 */
    double serve_rps, serve_burst;  /* chunk/manifest requests per caller; rps 0 = no limit */
    uint64_t max_bytes;             /* store budget (replicas refused past it); 0 = none */
    bool accept_replicas;           /* take blobs other holders ask us to replicate */
    struct zt_store *st;            /* where peers' scores are kept across restarts (owner "mesh");
                                       NULL: in memory only. Owned by the caller, used by the mesh alone */
};

struct zt_mesh;

ZT_NODISCARD int zt_mesh_new(const struct zt_mesh_opts *o, struct zt_mesh **out);
/* Start the thread that republishes holder records and repairs (dht NULL:
 * no records, pulls find no holders; endpoint: our URL in the records).
 * ZT_EEXIST (started), ZT_ENOMEM. */
ZT_NODISCARD int zt_mesh_start(struct zt_mesh *m, struct zt_dht *dht, const char *endpoint);
/* Stop pulls (their chunks stay for the next one) and the thread: the
 * DHT is not used after this; serving goes on. Idempotent. */
void zt_mesh_stop(struct zt_mesh *m);
/* zt_mesh_stop, then free (NULL: no-op). */
void zt_mesh_free(struct zt_mesh *m);

/* Chunk the file at path into the store and hold it (pinned), advertising
 * name and replication factor rf (0: the default). The SHA-256 (hex) in
 * sha_hex (65 bytes). Errors of zt_mesh_manifest_of_file, ZT_EIO. */
ZT_NODISCARD int zt_mesh_add_file(struct zt_mesh *m, const char *path, const char *name, unsigned rf,
                                  char sha_hex[static 65]);
/* Fetch the blob named by sha (64 hex) from its holders in the
 * background (a pull already running is joined); install: also write
 * models_dir/NAME (name, else the holders' advertised name, else
 * "<first 16 hex>.gguf") with its .sha256 sidecar. ZT_EINVAL, ZT_ENOMEM,
 * ZT_EBUSY (too many pulls). */
ZT_NODISCARD int zt_mesh_pull(struct zt_mesh *m, const char *sha, const char *name, bool install, unsigned rf);
/* The same, waiting for the end: 0, ZT_ENOTFOUND (no holder), ZT_ECRYPTO
 * (every holder served bad data), ZT_ENET, ZT_EIO. why says more. */
ZT_NODISCARD int zt_mesh_pull_wait(struct zt_mesh *m, const char *sha, const char *name, bool install,
                                   unsigned timeout_ms, char *why, size_t why_len);
/* Keep sha (64 hex) wanted: pulled and installed into models_dir now and,
 * until it is held, again at every repair check (a worker told by its
 * orchestrator to serve a model, before the DHT has found any holder).
 * At most 64 wanted. ZT_EINVAL, ZT_ETOOBIG. */
ZT_NODISCARD int zt_mesh_want(struct zt_mesh *m, const char *sha);
/* A holder asks us to replicate sha (rf: its factor): a background pull
 * unless accept_replicas is off (ZT_EPERM), the store with the replica
 * pulls under way is over its budget (ZT_ETOOBIG), or, with a budget, a
 * replica pull whose size is not known yet is under way (ZT_EBUSY: asked
 * again later); 0 also when held already. */
ZT_NODISCARD int zt_mesh_offer(struct zt_mesh *m, const char *sha, unsigned rf);
/* Drop the pin: the blob is deleted from the store and no longer
 * advertised. ZT_ENOTFOUND. */
ZT_NODISCARD int zt_mesh_unpin(struct zt_mesh *m, const char *sha);
ZT_NODISCARD int zt_mesh_pin(struct zt_mesh *m, const char *sha);

/* For the routes. The encoded manifest with this root (hex) into out;
 * ZT_ENOTFOUND, ZT_EINVAL. */
ZT_NODISCARD int zt_mesh_serve_manifest(struct zt_mesh *m, const char *root_hex, struct zt_buf *out);
/* The data of the chunk with this hash (hex), verified on read (a chunk
 * that fails is deleted: ZT_ENOTFOUND). */
ZT_NODISCARD int zt_mesh_serve_chunk(struct zt_mesh *m, const char *hash_hex, struct zt_buf *out);
/* The whole content of a blob held here (sha: 64 hex) into out (reset
 * first), every chunk verified on read and the whole against sha:
 * ZT_ENOTFOUND (not held, or a chunk lost), ZT_ETOOBIG (over max bytes),
 * ZT_ECRYPTO, ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_mesh_read_blob(struct zt_mesh *m, const char *sha_hex, size_t max, struct zt_buf *out);
/* May caller (an identity or address) be served one more request now?
 * false: *retry_after_s says when. */
bool zt_mesh_serve_allowed(struct zt_mesh *m, const char *caller, unsigned *retry_after_s);

/* JSON texts (zt_malloc'd) for the routes and the CLI: the store, pulls,
 * peers' local scores, counters (status); every blob held (list); one
 * pull (pull_status: ZT_ENOTFOUND when none was started for sha). */
ZT_NODISCARD int zt_mesh_status_json(struct zt_mesh *m, char **out);
ZT_NODISCARD int zt_mesh_list_json(struct zt_mesh *m, char **out);
ZT_NODISCARD int zt_mesh_pull_json(struct zt_mesh *m, const char *sha, char **out);

/* Called when a peer served a bad chunk or manifest (node id, a short
 * reason): the node reports it to its orchestrator's registry when it has
 * one. Runs on a pull thread. */
typedef void (*zt_mesh_report_fn)(void *ud, const char *node_id, const char *reason);
void zt_mesh_set_report_hook(struct zt_mesh *m, zt_mesh_report_fn fn, void *ud);

/* Called when a pull that installs (zt_mesh_pull's install, zt_mesh_want)
 * has put the verified file at models_dir/name: the node registers it as
 * a model (zt_infer_register). Runs on the pull's thread; set before
 * zt_mesh_start. */
typedef void (*zt_mesh_installed_fn)(void *ud, const char *sha_hex, const char *name);
void zt_mesh_set_installed_hook(struct zt_mesh *m, zt_mesh_installed_fn fn, void *ud);

/* The local score of a peer (0 = unknown; each verified chunk +1, each
 * bad chunk or manifest -100: below 0 it is not asked again). */
double zt_mesh_peer_score(struct zt_mesh *m, const char *node_id);

#endif
