/* zt_dbsync.h: the orchestrator's job and reward records published to the
 * mesh as signed, append-only segments (src/mesh/dbsync*.c).
 *
 * Every mesh.db_sync_interval_s the rows of the job table (sched_jobs,
 * this orchestrator's own) and of the ledger's tables that are new or
 * changed since the last segment are serialised canonically, numbered,
 * chained to the previous segment's SHA-256, signed with the node key and
 * added to the mesh as a blob (replicated to mesh.replication_db holders).
 * A small signed head record (latest seq and SHA-256) is put in the DHT
 * under "zentalk-dht-v1/dbsync/<node id>". An orchestrator that lost its
 * data directory (its node key restored) rebuilds from the chain:
 * `zentalk-node --rebuild-from-mesh`. `zentalk mesh audit` checks the
 * chain against the local store.
 *
 *   struct zt_dbsync *s;
 *   zt_dbsync_new(&(struct zt_dbsync_opts){.st = st, .mesh = m, .id = id, ...}, &s);
 *   zt_dbsync_start(s, dht);   // the publisher thread
 *   zt_dbsync_rebuild(s, 60000, why, sizeof why);   // instead, on an empty store
 *
 * Privacy: no prompt, output or clear user identity is in a row (see
 * docs/integration/MESH_STORAGE.md, "Database sync"). Formats:
 * docs/architecture/MESH_INTEGRATION.md. */
#ifndef ZT_DBSYNC_H
#define ZT_DBSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_identity.h"

/* ---- Segments -------------------------------------------------------------------
 * Layout (little-endian, 168 + body_len bytes):
 *   0  "ZTSG"   4 u8 version (3)   5 u8 flags (version 3; zero before)
 *      6 u8[2] zero. Flag ZT_DBSYNC_F_DELS: the chain up to this segment
 *      carries every delete of its publisher's tables made before the
 *      segment's rows were read (the publisher's change log was complete
 *      for every table, or this segment ends the round that read them
 *      whole and sent a tombstone for each row gone: review10 F10)
 *   8  u64 seq (from 1)   16 i64 created (unix s)
 *   24 u8[32] prev: SHA-256 of the previous segment (zero for seq 1)
 *   56 u32 n_rows   60 u32 body_len   64 u8[32] signer's Ed25519 key
 *   96 u64 ledger version: the store's ledger_version.v when the rows
 *      were read (every ledger change committed up to it is in the chain
 *      up to this segment; at most INT64_MAX)
 *   104 body: n_rows lines, each a canonical JSON array ending in '\n':
 *      ["<table>", column values in the table's order]
 *      (integers, strings, null; blobs as lower-case hex strings), or a
 *      tombstone: ["-<table>", the key's values], the row of that key
 *      deleted (or its table truncated); n_rows counts both kinds
 *   104 + body_len  u8[64] Ed25519 signature of bytes 0 .. 104 + body_len
 * Version 1 (made before the ledger version) has no bytes 96..103: its
 * body starts at 96 and it reads as ledger version 0. Versions 1 and 2
 * carry no tombstones (a line naming "-<table>" is refused there). A
 * segment is named
 * by the SHA-256 of all its bytes (its mesh blob). */
#define ZT_DBSYNC_HEADER 104u   /* versions 2 and 3 */
#define ZT_DBSYNC_HEADER_V1 96u
#define ZT_DBSYNC_F_DELS 0x01u   /* header byte 5, version 3: the chain carries every delete */
#define ZT_DBSYNC_SIG 64u
#define ZT_DBSYNC_BODY_MAX (4u << 20)   /* bytes of rows per segment */
#define ZT_DBSYNC_ROWS_MAX 20000u       /* rows per segment */
#define ZT_DBSYNC_LINE_MAX 65536u       /* bytes of one row's line */
#define ZT_DBSYNC_SEGMENT_MAX (ZT_DBSYNC_HEADER + ZT_DBSYNC_BODY_MAX + ZT_DBSYNC_SIG)

struct zt_dbsync_segment {
    uint64_t seq;
    int64_t created;
    uint8_t prev[32];
    uint8_t signer[ZT_ED25519_PK_LEN];
    uint32_t n_rows;
    uint8_t version;         /* 1, 2 or 3 */
    uint8_t flags;           /* ZT_DBSYNC_F_*; 0 before version 3 */
    uint64_t ledger_version; /* 0 in version 1 */
    const uint8_t *body; /* points into the decoded bytes */
    size_t body_len;
    uint8_t sha256[32];  /* of the whole segment */
};

/* Sign a segment (version 3, flags ZT_DBSYNC_F_*) of body (n_rows
 * canonical lines, checked) into *out (zt_malloc'd, *len bytes).
 * ZT_EINVAL (seq 0, a bad line or count, a ledger version over
 * INT64_MAX, an unknown flag), ZT_ETOOBIG, ZT_ENOMEM. */
ZT_NODISCARD int zt_dbsync_segment_encode(const struct zt_identity *id, uint64_t seq, int64_t created,
                                          const uint8_t prev[static 32], const char *body, size_t body_len,
                                          uint32_t n_rows, uint64_t ledger_version, unsigned flags, uint8_t **out,
                                          size_t *len);
/* Check any bytes as a segment (version 1, 2 or 3): layout, signature (and signer when
 * want_signer is given), every line (a known table, its column count and
 * types, canonical form; tombstones and flags in version 3 only). ZT_EPARSE, ZT_EUNSUPPORTED (version), ZT_ETOOBIG,
 * ZT_ECRYPTO (signature or signer). *out only on success. */
ZT_NODISCARD int zt_dbsync_segment_decode(const void *data, size_t len, const uint8_t *want_signer,
                                          struct zt_dbsync_segment *out);

/* ---- Head records ---------------------------------------------------------------
 * {"ed25519_pk":hex,"exp":N,"kind":"zentalk-dbsync-head","node_id":"zt1...",
 *  "seq":N,"sha256":hex,"sig":hex,"v":1}, signed like a descriptor. */
#define ZT_DBSYNC_HEAD_MAX 1024u
struct zt_dbsync_head {
    char node_id[ZT_IDENTITY_ID_SIZE];
    uint8_t ed25519_pk[ZT_ED25519_PK_LEN];
    uint64_t seq;
    uint8_t sha256[32];
    int64_t exp;
};
ZT_NODISCARD int zt_dbsync_head_sign(const struct zt_identity *id, const struct zt_dbsync_head *h, char **out);
/* ZT_ETOOBIG, ZT_EPARSE, ZT_EUNSUPPORTED, ZT_ECRYPTO, ZT_ETIMEDOUT
 * (expired). out only on success. */
ZT_NODISCARD int zt_dbsync_head_verify(const char *json, size_t len, int64_t now, struct zt_dbsync_head *out);

/* ---- The service ----------------------------------------------------------------- */
struct zt_store;
struct zt_mesh;
struct zt_dht;

struct zt_dbsync_opts {
    struct zt_store *st;            /* the orchestrator's store (sched_jobs, ledger_*); owned by the caller */
    struct zt_mesh *mesh;           /* where segments go */
    const struct zt_identity *id;   /* signs segments and the head; its node id owns the jobs */
    const char *tmp_dir;            /* where a segment is written before zt_mesh_add_file */
    unsigned interval_s;            /* between publications; 0 = 60 */
    unsigned rf;                    /* holders of each segment; 0 = 3 */
    unsigned head_ttl_s;            /* head record lifetime; 0 = 600 */
};

struct zt_dbsync;

/* Migrate the owner "dbsync" (its bookkeeping tables). ZT_EINVAL,
 * ZT_ENOMEM, store errors. */
ZT_NODISCARD int zt_dbsync_new(const struct zt_dbsync_opts *o, struct zt_dbsync **out);
/* Start the publisher thread (dht: where the head goes; may be NULL).
 * Before its first segment, a node with no segment of its own looks for a
 * published head of its node id and, if there is one, publishes nothing
 * (it lost its disk: rebuild first). ZT_EEXIST, ZT_ENOMEM. */
ZT_NODISCARD int zt_dbsync_start(struct zt_dbsync *s, struct zt_dht *dht);
/* Stop the publisher (waiting for an audit in progress) and forget the
 * DHT; audits after this find no head. Idempotent. */
void zt_dbsync_stop(struct zt_dbsync *s);
/* zt_dbsync_stop, then free (NULL: no-op). */
void zt_dbsync_free(struct zt_dbsync *s);
/* Publish now what changed (one or more segments, or none): the number
 * of segments made in *made (may be NULL). Store and mesh errors. */
ZT_NODISCARD int zt_dbsync_publish(struct zt_dbsync *s, unsigned *made);
/* Rebuild an empty store from the chain of this node's segments: the head
 * from the DHT (waiting up to timeout_ms for it), every segment pulled
 * from the mesh and checked (signer, hash chain, numbering) and copied to
 * tmp_dir, then replayed from those copies in one transaction, the ledger
 * version and the restored one set to the chain's. On a shared
 * PostgreSQL whose ledger is already there, the ledger is replaced only
 * by a newer chain (a higher ledger version) and only while the database
 * is as its last rebuild restored it; otherwise this node's jobs only
 * (docs/architecture/MESH_INTEGRATION.md, "Rebuild on a shared
 * PostgreSQL"). ZT_EEXIST (the store holds job or ledger rows; on
 * PostgreSQL: this node's jobs or segments, or two ledgers that cannot be
 * ordered: nothing written, why names both versions), ZT_ENOTFOUND (no
 * head), ZT_ECRYPTO (a segment fails its checks), ZT_ENET, ZT_ETIMEDOUT.
 * why says more (up to about 1 KiB). */
ZT_NODISCARD int zt_dbsync_rebuild(struct zt_dbsync *s, struct zt_dht *dht, unsigned timeout_ms, char *why,
                                   size_t why_len);
/* Check the published chain (the head in the DHT given to start, waited
 * for up to timeout_ms; segments not held here pulled within 30 s more)
 * against the store: {"ok":bool,"head_seq":N,"local_seq":N,
 * "gap":text|null,"mismatched_rows":N,"first_mismatch":text|null,
 * "unpublished_rows":N} in *out (zt_malloc'd). ok: no gap (the chain
 * walks and verifies back to seq 1 and agrees with the segments made
 * here) and no mismatch (a published row of an append-only table that
 * differs in the store, or a published row missing from it); rows newer
 * than the last segment are counted, not a failure. */
ZT_NODISCARD int zt_dbsync_audit(struct zt_dbsync *s, unsigned timeout_ms, char **out);
/* Publishing by node_id is off on st (the node builds no zt_dbsync): its
 * subscription to the change log, its entries and which tables it covered
 * are dropped (a publisher started later reads them whole once); with the
 * last subscriber (several orchestrators may share a PostgreSQL) the
 * triggers go too, so writes stop feeding a log nobody reads. Nothing
 * when st never had a publisher. ZT_EINVAL, store errors. */
ZT_NODISCARD int zt_dbsync_unlog(struct zt_store *st, const char *node_id);
/* {"seq":N,"sha256":hex,"made":N,"blocked":bool,"interval_s":N}: the
 * last segment made here, how many this process made, whether publishing
 * waits for a rebuild. */
ZT_NODISCARD int zt_dbsync_status_json(struct zt_dbsync *s, char **out);

#endif
