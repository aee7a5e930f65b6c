/* orch_int.h: what registry.c, records.c and sched.c share inside the
 * orchestrator (not a public API): a string-keyed hash map, the node,
 * model and job structures, the one mutex, and the signed records. */
#ifndef ZT_ORCH_INT_H
#define ZT_ORCH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_identity.h"
#include "zentalk/zt_queue.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_sched.h"

struct json_t;
struct zt_store;
struct zt_store_stmt;

/* ---- map: string key -> pointer (open addressing, linear probing) ------ */

struct orch_map_slot {
    const char *key; /* owned by the value; NULL = empty, orch_map_tomb = deleted */
    void *val;
    uint64_t hash;
};
struct orch_map {
    struct orch_map_slot *slots;
    size_t cap, n, used; /* used = n + tombstones */
};
extern const char orch_map_tomb[1];
void *orch_map_get(const struct orch_map *m, const char *key);
/* key must live as long as the entry (point into val). ZT_ENOMEM. */
ZT_NODISCARD int orch_map_put(struct orch_map *m, const char *key, void *val);
void orch_map_del(struct orch_map *m, const char *key);
void orch_map_deinit(struct orch_map *m);
/* Make room for n more entries (so puts after it cannot fail). */
ZT_NODISCARD int orch_map_reserve(struct orch_map *m, size_t n);

/* ---- records ------------------------------------------------------------ */

enum orch_rec_kind { ORCH_REC_JOIN = 0, ORCH_REC_HEARTBEAT, ORCH_REC_LEAVE };

struct orch_rec {
    enum orch_rec_kind kind;
    char node_id[ZT_IDENTITY_ID_SIZE];
    char aud[ZT_IDENTITY_ID_SIZE];
    uint8_t boot[ZT_REG_BOOT_LEN];
    uint64_t seq;
    int64_t ts;
    const char *descriptor;   /* join: into j */
    struct zt_worker_caps caps; /* join */
    struct zt_worker_load load; /* heartbeat */
    struct json_t *j;         /* the parsed record */
};
/* Parse and check the schema of a record of kind (no signature yet):
 * ZT_ETOOBIG, ZT_EPARSE, ZT_EUNSUPPORTED ("v"), ZT_ENOMEM. */
/* Prices of the caps (records.c): a canonical decimal string of base units
 * up to 2^128-1; the numeric order of two (-1, 0, 1); the higher of a
 * worker's prompt and completion prices. */
bool orch_price_ok(const char *s);
int orch_price_cmp(const char *a, const char *b);
const char *orch_price_max(const struct zt_worker_caps *c);
ZT_NODISCARD int orch_rec_parse(const char *text, size_t len, enum orch_rec_kind kind, struct orch_rec *out);
/* Check the record's signature with pk (removes "sig" from j). ZT_ECRYPTO. */
ZT_NODISCARD int orch_rec_check_sig(struct orch_rec *rec, const uint8_t pk[static ZT_ED25519_PK_LEN]);
void orch_rec_deinit(struct orch_rec *rec);

/* ---- registry ----------------------------------------------------------- */

struct orch_job;
struct orch_revoked;

struct orch_model {
    char *name;
    struct orch_node **nodes; /* sessions (any state) that list it */
    size_t n, cap;
    size_t queued;            /* jobs waiting for it (the scheduler's) */
    uint32_t scan_mark;       /* pump pass that found no free slot for it */
    size_t scan_start;        /* where the next bounded scan starts */
};

struct orch_node {
    char id[ZT_IDENTITY_ID_SIZE];
    uint8_t pk[ZT_ED25519_PK_LEN];
    uint8_t kem_pk[ZT_X25519_LEN];
    char *endpoint;             /* NULL before the first join */
    char *record;               /* the last join record (persisted) */
    struct orch_model **models;
    size_t *model_pos;          /* index of this node in models[i]->nodes */
    size_t n_models;
    struct zt_worker_caps caps;
    struct zt_worker_load load;
    enum zt_node_state state;
    bool has_session;           /* a join was accepted (state is meaningful) */
    uint8_t boot[ZT_REG_BOOT_LEN];
    uint64_t seq;
    int64_t last_ts;            /* ts of the last accepted record (any boot) */
    int64_t joined, last_seen;  /* orchestrator clock */
    bool has_prev;              /* a restart replaced boot prev_boot at takeover_ts */
    uint8_t prev_boot[ZT_REG_BOOT_LEN];
    int64_t takeover_ts;
    double good, bad;           /* decayed counts as of rep_t */
    int64_t rep_t;
    double rep_cache;           /* the score at rep_cache_t (placement's fast path) */
    int64_t rep_cache_t;        /* INT64_MIN: not cached */
    uint64_t completed, failed, timed_out, mismatches, verified, dup_refused;
    bool banned;
    int64_t quarantine_until;
    double lat;                 /* EWMA ms per output token; 0 = none */
    uint32_t inflight;          /* the scheduler's active jobs here */
    struct orch_job *jobs;      /* those jobs (orch_job.node_next) */
    size_t idx;                 /* in registry.all */
    int64_t upd;                /* version of the row as last written or read (shared store) */
};

#define ORCH_UNDO_MAX 48 /* nodes one settlement charges: workers + checkers + the job's */
struct zt_registry {
    pthread_mutex_t mu;
    struct zt_store *st;
    struct zt_registry_opts o;
    char self_id[ZT_IDENTITY_ID_SIZE];
    struct orch_map nodes;   /* id -> orch_node */
    struct orch_map models;  /* name -> orch_model */
    struct orch_node **all;
    size_t n_all, cap_all;
    int64_t next_expire;
    struct zt_store_stmt *q_put, *q_upd, *q_del;
    /* the shared store (opts.sync_ms > 0): rows others wrote are read back */
    struct zt_store_stmt *q_sync;
    int64_t next_sync;  /* orchestrator clock */
    int64_t sync_since; /* highest row version read */
    /* set by the scheduler: a node's session ended (expired or left) with
     * jobs on it; called under mu */
    void (*lost_fn)(void *ud, struct orch_node *n, bool expired, int64_t now);
    void *lost_ud;
    struct orch_revoked *revoked; /* revoked.c: revoked node and KEM keys */
    /* orch_undo_*: the nodes changed inside a settlement's transaction */
    bool undo_on;
    bool undo_full;          /* a node could not be saved: the transaction fails */
    size_t n_undo;
    struct orch_undo_ent { struct orch_node *n; struct orch_node save; } undo[ORCH_UNDO_MAX];
};

/* With r->mu held. */
double orch_node_rep(const struct zt_registry *r, const struct orch_node *n, int64_t now);
/* The same, cached for a short while (min(60 s, half-life / 1000): the
 * score moves less than 0.1% meanwhile); reports invalidate it. */
double orch_node_rep_cached(const struct zt_registry *r, struct orch_node *n, int64_t now);
bool orch_node_eligible(const struct zt_registry *r, const struct orch_node *n, int64_t now);
uint32_t orch_node_free_slots(const struct orch_node *n);
ZT_NODISCARD int orch_node_report(struct zt_registry *r, struct orch_node *n, enum zt_outcome o, int64_t now);
/* Feed a latency measurement (ms per token) into the node's EWMA. */
void orch_node_latency(struct orch_node *n, double ms_per_tok, double alpha);
/* Persist the node's mutable columns. */
ZT_NODISCARD int orch_node_save(struct zt_registry *r, struct orch_node *n);
struct orch_node *orch_node_find(struct zt_registry *r, const char *id);
/* The model entry for name, created if absent (NULL: out of memory). */
struct orch_model *orch_model_get(struct zt_registry *r, const char *name, bool create);
size_t orch_expire_locked(struct zt_registry *r, int64_t now);
/* Read back the rows other orchestrators changed (opts.sync_ms; at most
 * once per sync_ms, at once with force). With r->mu held. */
size_t orch_sync_locked(struct zt_registry *r, int64_t now, bool force);

/* revoked.c. Migrate and load the revocations, end the restored sessions
 * they cover (r is not shared yet). */
ZT_NODISCARD int orch_revoked_open(struct zt_registry *r, int64_t now_ms);
void orch_revoked_free(struct zt_registry *r);
/* Under r->mu: node_id's key, or kem_pk (may be NULL) for it, is revoked. */
bool orch_revoked_refuses(const struct zt_registry *r, const char *node_id, const uint8_t *kem_pk);

/* ---- scheduler ---------------------------------------------------------- */

/* The verdict on a finished job (not in the live map), with r->mu held:
 * moves it to `to` and reports o for its worker (*worker, "" if none), as
 * zt_sched_job_verified / zt_sched_job_rejected_as without their hook.
 * ZT_EINVAL: the job is active, or the move is not legal (moved before). */
ZT_NODISCARD int orch_sched_verdict_locked(struct zt_sched *s, const char *job_id, enum zt_job_state to,
                                           enum zt_outcome o, int64_t now_ms, char worker[static ZT_IDENTITY_ID_SIZE]);
/* The node's hook on a confirmed mismatch (zt_sched_set_on_rejected), if
 * any, for worker; takes r->mu to read it and calls it outside. */
void orch_sched_rejected_hook(struct zt_sched *s, const char *job_id, const char *worker);
/* The scheduler's store handle (the registry's: one connection). */
struct zt_store *orch_sched_store(const struct zt_sched *s);

/* Undo of the registry's nodes in memory for a store transaction
 * (evidence.c): between orch_undo_begin and orch_undo_end every node
 * orch_node_report changes is saved first (once); orch_undo_end(restore)
 * puts the saved copies back (the transaction rolled back) and stops
 * saving. orch_undo_restore puts them back and keeps saving (a retried
 * transaction body). With r->mu held. */
void orch_undo_begin(struct zt_registry *r);
void orch_undo_restore(struct zt_registry *r);
void orch_undo_end(struct zt_registry *r, bool restore);

struct orch_client;

/* An active job (queued, assigned or running); finished ones live only in
 * the store. */
struct orch_job {
    char id[ZT_JOB_ID_SIZE];
    struct orch_client *client;
    struct orch_model *model;
    enum zt_job_state state;
    uint32_t ctx, max_tokens, attempts, tokens;
    uint64_t price_ceiling;
    int64_t deadline, created, updated, assigned, started, finished;
    int64_t seq;                 /* submission order */
    char reason[ZT_SCHED_REASON_SIZE];
    char qid[ZT_QUEUE_ID_MAX];   /* its entry in the shared queue, pending here ("" = none) */
    char gateway[ZT_IDENTITY_ID_SIZE]; /* the gateway that leased it, signed ("" = none) */
    struct orch_node *node;      /* the last worker (assigned, running, or lost) */
    bool linked;                 /* on node->jobs (assigned or running) */
    struct orch_job *node_next, *node_prev;
    struct orch_job *q_next, *q_prev; /* the client's queue */
};

/* A client with active jobs (freed when it has none). */
struct orch_client {
    char name[ZT_SCHED_CLIENT_MAX + 1];
    struct orch_job *head, *tail; /* queued, in order */
    size_t n_queued, refs;        /* refs: active jobs */
    int64_t deficit;              /* DRR, in tokens */
    struct orch_client *next, *prev; /* the ring of clients with queued jobs */
    bool in_ring;
};

#endif
