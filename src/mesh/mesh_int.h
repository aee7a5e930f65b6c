/* mesh_int.h: internal to src/mesh: the chunk store on disk. */
#ifndef ZT_MESH_INT_H
#define ZT_MESH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_error.h"

#define ZT__MSTORE_PATH 4096

/* DIR/chunks/<2 hex>/<64 hex>: chunk frames; DIR/manifests/<root hex>;
 * DIR/blobs/<sha hex>: what we hold of a blob (JSON); DIR/tmp: where every
 * file is written before its atomic rename. */
struct zt__mstore {
    char dir[ZT__MSTORE_PATH];
};

/* Create the directories (0700) and empty DIR/tmp (a crash's leftovers).
 * ZT_EIO, ZT_ETOOBIG (path). */
ZT_NODISCARD int zt__mstore_init(struct zt__mstore *s, const char *dir);
/* Write len bytes of data (or hdr then data) to DIR/sub/name atomically:
 * a temporary file in DIR/tmp, fsync when durable, rename, fsync of
 * DIR/sub when durable. Durable: once it returns 0 the file survives a
 * crash or a power loss whole. Chunks are written not durable, and made so
 * all at once by zt__mstore_sync before their blob is recorded. A crash
 * leaves at most a file in DIR/tmp, removed by the next zt__mstore_init.
 * ZT_EIO, ZT_ETOOBIG. */
ZT_NODISCARD int zt__mstore_write(const struct zt__mstore *s, const char *sub, const char *name, const void *hdr,
                                  size_t hdr_len, const void *data, size_t len, bool durable);
/* Flush every file of the store's filesystem (syncfs): the chunks written
 * so far, their names and directories, are on disk when it returns 0.
 * ZT_EIO. */
ZT_NODISCARD int zt__mstore_sync(const struct zt__mstore *s);
/* Read DIR/sub/name (at most max bytes) into out (reset first).
 * ZT_ENOTFOUND, ZT_ETOOBIG, ZT_EIO, ZT_ENOMEM. */
ZT_NODISCARD int zt__mstore_read(const struct zt__mstore *s, const char *sub, const char *name, size_t max,
                                 struct zt_buf *out);
void zt__mstore_remove(const struct zt__mstore *s, const char *sub, const char *name);
/* fsync directory p (the entries renamed into it). ZT_EIO. */
ZT_NODISCARD int zt__mstore_sync_dir(const char *p);

/* Chunks by hash. put: frames and writes data (already verified by the
 * caller against sha). get: the chunk's data, checked against its frame and
 * sha; a file that fails is removed (ZT_ENOTFOUND). */
ZT_NODISCARD int zt__mstore_put_chunk(const struct zt__mstore *s, const uint8_t sha[static 32], const void *data,
                                      size_t len);
ZT_NODISCARD int zt__mstore_get_chunk(const struct zt__mstore *s, const uint8_t sha[static 32], struct zt_buf *out);
bool zt__mstore_has_chunk(const struct zt__mstore *s, const uint8_t sha[static 32]);
void zt__mstore_del_chunk(const struct zt__mstore *s, const uint8_t sha[static 32]);

/* ---- The service (mesh.c, fetch.c) ------------------------------------------ */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "zentalk/zt_mesh.h"

#define ZT__MESH_MAX_BLOBS 1024
#define ZT__MESH_MAX_WITHDRAWN 64 /* withdrawals remembered (a blob held again soon after) */
#define ZT__MESH_MAX_PULLS 32
#define ZT__MESH_MAX_SCORES 1024
#define ZT__MESH_MAX_HOLDERS 64 /* records one pull or repair keeps */

struct zt__blob {
    uint8_t sha[32];
    char sha_hex[65];
    struct zt_mesh_manifest man;
    char name[ZT_MESH_NAME_MAX + 1];
    char file[ZT_MESH_NAME_MAX + 1]; /* "" = chunks in the store; else models_dir/file holds the bytes */
    unsigned rf;
    bool pinned;
    int64_t used_ms;         /* unix ms: held, or its manifest served or the blob read (eviction: the oldest first) */
    int64_t next_publish;    /* unix s */
    unsigned holders;        /* live holders at the last repair check (self included) */
    char asked[4][ZT_IDENTITY_ID_SIZE]; /* replicas asked for at the last repair */
    int64_t asked_at;
};

enum { ZT__PULL_RUNNING = 0, ZT__PULL_DONE = 1, ZT__PULL_FAILED = 2 };

struct zt__pull {
    struct zt_mesh *m;
    char sha_hex[65];
    char name[ZT_MESH_NAME_MAX + 1];
    bool install;
    bool replica; /* asked by a holder (zt_mesh_offer), no one here wants it: bounded by max_store_mb */
    unsigned rf;
    int state;
    int rc;
    char why[256];
    uint32_t have, total;
    unsigned bad, holders;
    uint64_t started_ms, ended_ms;
    pthread_t th;
    bool joined;
};

struct zt__score {
    char node_id[ZT_IDENTITY_ID_SIZE];
    double score;
    int64_t updated_ms; /* unix ms of the last change */
    bool dirty;         /* changed since written to the store */
};

struct zt_mesh {
    struct zt_mesh_opts o;
    char models_dir[ZT__MSTORE_PATH];
    struct zt__mstore st;
    pthread_mutex_t mu; /* everything below but the counters */
    pthread_cond_t cv;
    struct zt__blob *blobs[ZT__MESH_MAX_BLOBS];
    size_t n_blobs;
    struct zt__pull *pulls[ZT__MESH_MAX_PULLS];
    size_t n_pulls;
    char wanted[64][65]; /* zt_mesh_want: pulled (and installed) until held */
    size_t n_wanted;
    /* our latest withdrawals (review8 F9): a holder record published for
     * one of these blobs expires after the withdrawal, so it shadows it
     * (readers keep a node's latest record); the oldest entry is reused */
    struct {
        uint8_t sha[32];
        int64_t exp; /* unix s: the withdrawal's */
    } withdrawn[ZT__MESH_MAX_WITHDRAWN];
    size_t next_withdrawn;
    struct zt__score scores[ZT__MESH_MAX_SCORES];
    size_t n_scores;
    bool scores_dirty, scores_trim; /* a score to write; a peer let go (the store trimmed) */
    pthread_mutex_t st_mu;          /* the store handle (o.st): one flush at a time; taken before mu */
    struct zt_dht *dht;
    char endpoint[ZT_DESCRIPTOR_MAX_ENDPOINT + 1];
    pthread_t th;
    bool started, stop;
    struct zt_http_client *http;
    struct zt_ratelimit *limit;
    zt_mesh_report_fn report;
    void *report_ud;
    zt_mesh_installed_fn installed;
    void *installed_ud;
    atomic_uint_fast64_t chunks_held, chunks_served, chunks_fetched, bad_chunks, bytes_served, bytes_fetched,
        manifests_served, replicas_asked;
};

/* fetch.c */
/* Find the holders of sha in the DHT (not us, verified, live): up to max
 * into out; returns how many. */
size_t zt__mesh_holders(struct zt_mesh *m, const uint8_t sha[static 32], struct zt_mesh_holder *out, size_t max);
void *zt__mesh_pull_main(void *arg);
/* A signed GET of path on a holder into out (max bytes). The HTTP status,
 * or a negative ZT_E*. */
long zt__mesh_get(struct zt_mesh *m, const struct zt_mesh_holder *h, const char *path, size_t max, struct zt_buf *out);
long zt__mesh_post(struct zt_mesh *m, const char *node_id, const char *endpoint, const char *path, const char *json);

/* scores.c */
/* Change node_id's score by delta (a penalty when < 0: counted, logged,
 * reported, written to the store at once). Not under mu. */
void zt__mesh_score(struct zt_mesh *m, const char *node_id, double delta, const char *why);
/* The scores kept in o.st (migrated first): up to ZT__MESH_MAX_SCORES, the
 * penalised first, then the most recently changed. 0 without a store. */
ZT_NODISCARD int zt__mesh_scores_load(struct zt_mesh *m);
/* Write the scores changed since the last flush (and trim the store to
 * the table's bound). Not under mu. Errors are logged; the scores are
 * written again at the next flush. */
void zt__mesh_scores_flush(struct zt_mesh *m);

/* mesh.c */
/* Register a blob just completed (manifest verified, every chunk stored,
 * or file: its bytes in models_dir/file): saved, published; takes man. */
ZT_NODISCARD int zt__mesh_hold(struct zt_mesh *m, struct zt_mesh_manifest *man, const char *name, unsigned rf,
                               bool pinned, const char *file);
/* The blob sha is installed whole at models_dir/file (fsync'ed): its
 * bytes are served from there from now on (one copy on disk) and its
 * chunks no other store-backed blob uses leave the store. ZT_ENOTFOUND,
 * ZT_EIO. */
ZT_NODISCARD int zt__mesh_use_file(struct zt_mesh *m, const uint8_t sha[static 32], const char *file);
/* Chunk h's bytes: from the store, else from the file of a blob installed
 * there (models_dir), checked against h (a file changed since is not
 * served: ZT_ENOTFOUND). ZT_ENOTFOUND, ZT_EIO, ZT_ENOMEM, ZT_ETOOBIG. */
ZT_NODISCARD int zt__mesh_chunk_read(struct zt_mesh *m, const uint8_t h[static 32], struct zt_buf *out);
struct zt__blob *zt__mesh_find(struct zt_mesh *m, const uint8_t sha[static 32]); /* under mu */
/* Past o.max_bytes of blobs whose chunks are in the store: drop unpinned
 * ones, least recently used first, until under it (never a pinned blob,
 * never one installed as a model file, nothing while a pull runs: its
 * chunks are not a blob's yet). How many were dropped. Not under mu. */
size_t zt__mesh_evict(struct zt_mesh *m);
/* Sign and put our holder record of man (partial: a pull in progress). */
void zt__mesh_publish(struct zt_mesh *m, const struct zt_mesh_manifest *man, const char *name, unsigned rf,
                      bool partial, int64_t now);

/* Bytes of the blobs whose chunks are in the store (installed models not
 * counted). Under m->mu. */
uint64_t zt__mesh_store_bytes(const struct zt_mesh *m);

#endif
