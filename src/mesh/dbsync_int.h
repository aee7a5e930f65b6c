/* dbsync_int.h: internal to src/mesh: the tables a database-sync segment
 * carries (zt_dbsync.h), shared by the format (segment.c) and the service
 * (dbsync.c). */
#ifndef ZT_DBSYNC_INT_H
#define ZT_DBSYNC_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { ZT__DBS_INT = 1, ZT__DBS_TEXT = 2, ZT__DBS_BLOB = 3 };

#define ZT__DBS_MAX_COLS 20
#define ZT__DBS_MAX_TABLES 16

struct zt__dbs_col {
    const char *name;
    uint8_t type;  /* ZT__DBS_* */
    bool nullable;
};

/* How the publisher finds what changed: every row it published is kept as
 * a hash (dbsync_rows); only candidate rows are read: those the change log
 * (dbsync_changes, fed by triggers on each table) names by their first
 * column since the last round, or every row of a table whose triggers are
 * new (docs/architecture/MESH_INTEGRATION.md "What goes into a segment"). */
struct zt__dbs_table {
    const char *name;
    bool append_only;         /* a published row never changes: a difference is a mismatch */
    bool own_jobs;            /* sched_jobs: only rows whose orch is this node */
    uint8_t n_key;            /* the first n_key columns are the primary key */
    uint8_t n_cols;
    struct zt__dbs_col cols[ZT__DBS_MAX_COLS];
};

/* In replay order (references point backwards). */
extern const struct zt__dbs_table zt__dbs_tables[];
extern const size_t zt__dbs_n_tables;

/* The table named name (len bytes), or NULL. */
const struct zt__dbs_table *zt__dbs_table_find(const char *name, size_t len);

/* A tombstone line (segment format 3) names its table with this first:
 * ["-ledger_earnings",5] says the row of key 5 was deleted. */
#define ZT__DBS_TOMB '-'

/* The table of a parsed line a (its first element), *del: a tombstone
 * (only when dels, a format-3 body). NULL: not a known table. */
const struct zt__dbs_table *zt__dbs_line_table(const json_t *a, bool dels, bool *del);

/* Every line of a segment body (each a canonical row of a known table,
 * or with dels (format 3) a tombstone of one, '\n'-terminated): the lines
 * counted into *n. ZT_EPARSE, ZT_ETOOBIG, ZT_ENOMEM. */
int zt__dbs_check_body(const uint8_t *body, size_t len, bool dels, uint32_t *n);

/* ---- Heads (dbsync.c) ----------------------------------------------------- */
#include "zentalk/zt_dbsync.h"

#define ZT__DBS_HEADS_MAX 16
/* The distinct valid heads of one signer seen in the DHT, newest (highest
 * seq) first. */
struct zt__dbs_heads {
    struct zt_dbsync_head h[ZT__DBS_HEADS_MAX];
    size_t n;
};
/* Add h (already verified, of the signer): kept once per (seq, sha256),
 * sorted newest first; when full the oldest falls off. */
void zt__dbs_heads_add(struct zt__dbs_heads *hs, const struct zt_dbsync_head *h);
/* One round of reading the DHT: fn(ud, value, len) for each value under
 * the signer's head key (zt_dht_get_values). 0 or a negative ZT_E*. */
typedef int (*zt__dbs_get_fn)(void *get_ud, bool (*fn)(void *ud, const void *data, size_t len), void *ud);
/* Collect the heads of signer pk (valid at now_s: signed by it, not
 * expired) in rounds of get, 250 ms apart, until settle_ms have passed
 * since the first was seen (a newer head on a slower holder comes in
 * meanwhile), or a head of seq >= enough (when not 0) is seen, or
 * timeout_ms without any. 0 with out->n >= 1, ZT_ENOTFOUND, or get's
 * error. */
int zt__dbs_collect_heads(zt__dbs_get_fn get, void *get_ud, const uint8_t pk[static 32], int64_t now_s,
                          unsigned settle_ms, uint64_t enough, unsigned timeout_ms, struct zt__dbs_heads *out);

/* zt_dbsync_rebuild with the heads read through get (get_ud) instead of
 * the DHT (a test's stand-in). */
struct zt_dbsync;
int zt__dbs_rebuild(struct zt_dbsync *s, zt__dbs_get_fn get, void *get_ud, unsigned timeout_ms, char *why,
                    size_t why_len);

/* A test's hook: called in each publishing round between the read of the
 * ledger version and the read of the change log and the rows (all three
 * in one read transaction). NULL in the product; a test sets it to commit
 * a change from another connection there. */
extern void (*zt__dbs_round_hook)(void *ud);
extern void *zt__dbs_round_hook_ud;

#endif
