/* zt_registry.h: the orchestrator's worker registry (DESIGN.md:
 * src/orchestrator/; docs/internals/orchestrator.md).
 *
 * A worker joins with a signed join record that wraps its signed node
 * descriptor (zt_identity.h) and adds what the descriptor does not carry
 * (engine build id, CPU, GPU, memory, slots, context limit, price per 1k
 * tokens), then sends signed heartbeats with its load and finally a signed
 * leave record. Every record names the orchestrator it is for ("aud"), the
 * worker's boot id (random per process start), a sequence number and a
 * timestamp; the registry refuses forged records (signature), replays
 * (sequence not increasing within a boot, a boot older than the last one,
 * a timestamp outside the window) and duplicate node ids (the same key on
 * two machines at once). A session that misses heartbeats for
 * heartbeat_expiry_ms expires.
 *
 * Reputation per node (completed, failed, timed out, verification
 * mismatches) is a Beta-posterior mean over time-decayed counts
 * (zt_reputation_score; the formula is in docs/internals/orchestrator.md);
 * a node below rep_threshold gets no work, a node caught cheating
 * (ZT_OUTCOME_CHEAT) none at all, at once, until an operator unbans it.
 *
 * Everything is persisted in the store under the owner "registry" (tables
 * registry_*, migrated by zt_registry_open) and survives a restart.
 *
 * Lifecycle: zt_registry_open (store handle borrowed; it must outlive the
 * registry and nothing else may use it meanwhile) ... zt_registry_free.
 * Threads: every function is thread-safe; one mutex inside serialises them
 * (the scheduler of zt_sched.h shares it). No callbacks.
 * Errors: 0 or a negative ZT_E*:
 *   ZT_EPARSE, ZT_ETOOBIG  a malformed or oversized record;
 *   ZT_ECRYPTO             a bad signature, or a node id not derived from the key;
 *   ZT_ETIMEDOUT           a timestamp outside record_window_ms, or an expired descriptor;
 *   ZT_EPERM               a replay (sequence/boot/timestamp not newer), another
 *                          orchestrator's record, a node without the worker role,
 *                          a banned or quarantined node;
 *   ZT_EEXIST              a duplicate node id (another live session elsewhere);
 *   ZT_ENOTFOUND           a heartbeat/leave of a node with no live session;
 *   ZT_EBUSY               the registry is full (max_nodes);
 *   ZT_ENOMEM, ZT_EIO      as the store and allocations say. */
#ifndef ZT_REGISTRY_H
#define ZT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"
#include "zt_identity.h"

struct zt_store;
struct zt_registry;

#define ZT_REG_BOOT_LEN 16                              /* bytes of a boot id */
#define ZT_REG_RECORD_MAX (ZT_DESCRIPTOR_MAX + 8192)    /* bytes of one record */
#define ZT_REG_STR_MAX 128                              /* engine, cpu, gpu strings */
#define ZT_REG_SLOTS_MAX 4096u
#define ZT_REG_PRICE_MAX 39                             /* digits of a price (2^128-1) */
#define ZT_REG_SYNC_MS_DEFAULT 1000                     /* a shared store's staleness (the node on PostgreSQL) */

/* What a worker offers, carried in its signed join record. */
struct zt_worker_caps {
    char engine[ZT_REG_STR_MAX + 1]; /* engine build id (zt_version.h), non-empty */
    char cpu[ZT_REG_STR_MAX + 1];    /* e.g. "x86_64 avx2 16c"; may be empty */
    char gpu[ZT_REG_STR_MAX + 1];    /* e.g. "none", "H100 80GB"; may be empty */
    uint64_t mem_mb;                 /* memory for models */
    uint32_t slots;                  /* concurrent jobs, 1..ZT_REG_SLOTS_MAX */
    uint32_t ctx_max;                /* context tokens per job (prompt + output); 0 = not stated */
    uint64_t price_per_1k;           /* per 1000 tokens, in the ledger's smallest unit: the higher of the
                                      * two prices below, at most 2^63-1 (what records of older builds carry) */
    /* per 1000 prompt / completion tokens, in the ledger's base units, as
     * canonical decimal strings (u128: digits, no leading zero, at most
     * 2^128-1), the caps' "price_prompt_per_1k" / "price_completion_per_1k";
     * a record without them (an older worker) gives both price_per_1k. To
     * build a record: both "" to send price_per_1k alone. */
    char price_prompt[ZT_REG_PRICE_MAX + 1];
    char price_completion[ZT_REG_PRICE_MAX + 1];
    char wallet[43];                 /* its payout wallet, "0x" + 40 hex (chain.wallet_address); "" = none
                                      * (the record's caps then have no "wallet" member) */
};

/* The load a heartbeat reports. */
struct zt_worker_load {
    uint32_t busy;  /* slots in use */
    uint32_t queue; /* jobs waiting on the worker */
};

/* ---- records (the worker's side) -------------------------------------------- */

/* Build a signed record for the orchestrator aud (its node id). descriptor
 * is id's signed descriptor (zt_identity_descriptor; it must list the role
 * "worker"); boot is random per process start; seq must grow within a boot
 * and ts_ms is the worker's wall clock (unix ms). *out (NUL-terminated,
 * zt_free) only on success. ZT_EINVAL for a bad argument, ZT_ENOMEM. */
ZT_NODISCARD int zt_registry_join_record(const struct zt_identity *id, const char *descriptor,
                                         const char *aud, const uint8_t boot[static ZT_REG_BOOT_LEN],
                                         uint64_t seq, int64_t ts_ms, const struct zt_worker_caps *caps,
                                         char **out);
ZT_NODISCARD int zt_registry_heartbeat_record(const struct zt_identity *id, const char *aud,
                                              const uint8_t boot[static ZT_REG_BOOT_LEN], uint64_t seq,
                                              int64_t ts_ms, const struct zt_worker_load *load,
                                              char **out);
ZT_NODISCARD int zt_registry_leave_record(const struct zt_identity *id, const char *aud,
                                          const uint8_t boot[static ZT_REG_BOOT_LEN], uint64_t seq,
                                          int64_t ts_ms, char **out);

/* ---- the registry ------------------------------------------------------------ */

struct zt_registry_opts {
    const char *self_id;          /* this orchestrator's node id: records must name it (required) */
    int64_t heartbeat_expiry_ms;  /* a session with no heartbeat for this long expires (30000) */
    int64_t record_window_ms;     /* |record ts - now| allowed (60000) */
    size_t max_nodes;             /* nodes known, live or not (65536) */
    double rep_threshold;         /* a node scoring below gets no work (0.5) */
    double rep_prior_good;        /* Beta prior alpha (2.0) */
    double rep_prior_bad;         /* Beta prior beta (1.0) */
    int64_t rep_half_life_ms;     /* decay of the counts (7 days) */
    int64_t dup_quarantine_ms;    /* a node id proven on two machines gets nothing this long (600000) */
    int64_t sync_ms;              /* several orchestrators share the store: read the rows the others
                                   * wrote at most this stale (0 = the store is this registry's alone) */
};
/* Zero fields of opts take the defaults above. */

/* Migrate the "registry" owner, load the nodes. Sessions that were live
 * when the orchestrator stopped get one heartbeat_expiry_ms from now_ms to
 * send a heartbeat (theirs were lost while it was down). ZT_EINVAL (no
 * self_id, bad options), ZT_ENOMEM, ZT_EIO, ZT_EUNSUPPORTED (a newer
 * database). */
ZT_NODISCARD int zt_registry_open(struct zt_store *st, const struct zt_registry_opts *o, int64_t now_ms,
                                  struct zt_registry **out);
/* NULL is a no-op. The store stays open (the caller's). */
void zt_registry_free(struct zt_registry *r);

/* Verify and apply a record (len bytes) at now_ms. join: a new session or
 * a re-join (new capabilities) of the live one; a new boot id from the
 * same endpoint replaces a live session (a restart). node_id (may be NULL)
 * gets the worker's id on success. */
ZT_NODISCARD int zt_registry_join(struct zt_registry *r, const char *rec, size_t len, int64_t now_ms,
                                  char node_id[ZT_IDENTITY_ID_SIZE]);
ZT_NODISCARD int zt_registry_heartbeat(struct zt_registry *r, const char *rec, size_t len, int64_t now_ms);
/* A worker's poll for its relayed requests: a heartbeat record, applied
 * as zt_registry_heartbeat, with the worker's id into node_id on success. */
ZT_NODISCARD int zt_registry_poll(struct zt_registry *r, const char *rec, size_t len, int64_t now_ms,
                                  char node_id[static ZT_IDENTITY_ID_SIZE]);
ZT_NODISCARD int zt_registry_leave(struct zt_registry *r, const char *rec, size_t len, int64_t now_ms);

/* Expire sessions whose last heartbeat is older than heartbeat_expiry_ms;
 * returns how many expired now. (zt_sched_pump calls it and requeues their
 * jobs; call it directly only without a scheduler.) */
size_t zt_registry_expire(struct zt_registry *r, int64_t now_ms);

/* End a live session at once, as an expiry would (its jobs are requeued or
 * failed by the scheduler, the node charged TIMED_OUT for each): the
 * gateway could not connect to the worker. A worker that is alive gets 404
 * at its next heartbeat and joins again. ZT_ENOTFOUND, ZT_EINVAL (no live
 * session). */
ZT_NODISCARD int zt_registry_drop(struct zt_registry *r, const char *node_id, int64_t now_ms);

/* What happened to a job on a node, for its reputation. */
enum zt_outcome {
    ZT_OUTCOME_COMPLETED = 0, /* good +1 */
    ZT_OUTCOME_FAILED,        /* bad +1 */
    ZT_OUTCOME_TIMED_OUT,     /* bad +1 (stalled, or lost with a running job) */
    ZT_OUTCOME_VERIFIED,      /* good +1 (a second worker agreed) */
    ZT_OUTCOME_MISMATCH,      /* bad +3 (a verification disagreed, not yet decided) */
    ZT_OUTCOME_CHEAT,         /* a confirmed mismatch: banned at once */
};
ZT_NODISCARD int zt_registry_report(struct zt_registry *r, const char *node_id, enum zt_outcome o,
                                    int64_t now_ms);
/* Lift a ban (an operator's decision). ZT_ENOTFOUND. */
ZT_NODISCARD int zt_registry_unban(struct zt_registry *r, const char *node_id);

/* ---- revocations (revoked.c) ---------------------------------------------- */

#define ZT_REG_REVOKED_MAX 65536u /* revocations remembered; past it ZT_EBUSY */

/* Honour a signed revocation record (zt_dht.h's format, signed by the key
 * it revokes: the whole node key, or one of its KEM keys after a
 * rotation): persisted; a revoked node key is refused at every join
 * (ZT_EPERM), a revoked KEM key in any join's descriptor; a live session
 * using what is revoked ends at once (as zt_registry_drop: its jobs are
 * requeued). Errors of zt_dht_revocation_verify (ZT_EPARSE, ZT_ECRYPTO,
 * ZT_EUNSUPPORTED, ZT_ETOOBIG), ZT_EBUSY (ZT_REG_REVOKED_MAX), ZT_EIO. */
ZT_NODISCARD int zt_registry_revoke(struct zt_registry *r, const char *rec, size_t len, int64_t now_ms);
/* The same for a revocation already verified (the DHT's, zt_dht_on_revocation):
 * node_id's whole key (kem_pk NULL) or that KEM key, signed at `at`. */
ZT_NODISCARD int zt_registry_revoke_key(struct zt_registry *r, const char *node_id, const uint8_t *kem_pk, int64_t at,
                                        int64_t now_ms);
/* Whether node_id's key (or kem_pk for it, when not NULL) is revoked. */
bool zt_registry_revoked(struct zt_registry *r, const char *node_id, const uint8_t *kem_pk);
size_t zt_registry_revoked_count(struct zt_registry *r);

/* The reputation formula (docs/internals/orchestrator.md): the Beta
 * posterior mean (prior_good + good) / (prior_good + prior_bad + good + bad)
 * of the decayed counts. */
double zt_reputation_score(double good, double bad, double prior_good, double prior_bad);
/* Decay factor of a count after age_ms with half-life half_life_ms:
 * 2^(-age/half_life); 1 for age <= 0. */
double zt_reputation_decay(int64_t age_ms, int64_t half_life_ms);

enum zt_node_state {
    ZT_NODE_LIVE = 0, /* joined, heartbeating */
    ZT_NODE_EXPIRED,  /* missed heartbeats */
    ZT_NODE_LEFT,     /* sent a leave record */
};

/* A copy of what the registry knows of a node. */
struct zt_node_info {
    char node_id[ZT_IDENTITY_ID_SIZE];
    char endpoint[ZT_DESCRIPTOR_MAX_ENDPOINT + 1];
    uint8_t kem_pk[ZT_X25519_LEN];
    uint8_t ed25519_pk[ZT_ED25519_PK_LEN]; /* the node's signing key (checks its receipts) */
    char models[256];          /* the models it serves, comma-separated (cut at a whole name) */
    enum zt_node_state state;
    struct zt_worker_caps caps;
    struct zt_worker_load load;
    size_t n_models;
    uint32_t inflight;        /* jobs this orchestrator has assigned/running there */
    int64_t joined_ms, last_seen_ms;
    double reputation;        /* zt_reputation_score at now */
    bool eligible;            /* live, >= threshold, not banned or quarantined */
    bool banned;
    int64_t quarantine_until_ms;
    uint64_t completed, failed, timed_out, mismatches, verified, dup_refused;
    double latency_ms_per_tok; /* EWMA; 0 = no measurement yet */
};
/* ZT_ENOTFOUND when the node was never seen. */
ZT_NODISCARD int zt_registry_get(struct zt_registry *r, const char *node_id, int64_t now_ms,
                                 struct zt_node_info *out);
/* Up to max nodes known (live_only: live sessions only), in join order,
 * into out; returns how many were written. */
size_t zt_registry_list(struct zt_registry *r, bool live_only, int64_t now_ms, struct zt_node_info *out,
                        size_t max);
/* Nodes known (live_only: live sessions only). */
size_t zt_registry_count(struct zt_registry *r, bool live_only);

/* Several orchestrators on one store (PostgreSQL; docs/internals/
 * orchestrator.md "Several orchestrators"): read now the rows the others
 * changed since the last read (joins, heartbeats, leaves, expiries,
 * reputation), as zt_sched_pump does every sync_ms. Returns how many rows
 * changed this registry's view. 0 when sync_ms is 0. */
size_t zt_registry_sync(struct zt_registry *r, int64_t now_ms);

/* Register zentalk_orchestrator_live_nodes (zt_metrics.h). */
struct zt_metrics;
ZT_NODISCARD int zt_registry_register_metrics(struct zt_registry *r, struct zt_metrics *m);

#endif
