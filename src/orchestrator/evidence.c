/* evidence.c: the verdicts' evidence used, kept in the orchestrator's
 * store as well as in memory (orch_verdict.h, zt__evidence_*;
 * docs/internals/orchestrator.md "Verification over leases"). A worker
 * receipt settles one verdict: before, only a set in memory (once.c) said
 * which were used, so an orchestrator restarted (or a second one on the
 * shared store) took the same evidence again within its hour. Now a take
 * claims the id in the table orch_used_evidence too: the row is inserted,
 * or an expired row of the id is claimed again; a live row of the id
 * (this process before a restart, or another orchestrator) means used.
 *
 * A claim is pending until its settlement (review8 F11): the row names
 * this process (a random instance id) and a short deadline. Another
 * orchestrator that meets a pending row is told ZT__ONCE_PENDING (its
 * gateway retries) rather than "used"; the settlement marks the row used,
 * a failed one deletes it. A pending row whose deadline passed (its
 * orchestrator died between the claim and the end of its settlement)
 * reads as used: the settlement (the scheduler's job state, the nodes'
 * reputations, the ledger's hook) is several store writes, not one
 * transaction with the claim, so a crash cannot tell "charged" from "not
 * charged", and evidence is never settled twice (fails closed). */
#include <string.h>

#include <sodium.h>

#include "orch_int.h"
#include "orch_verdict.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"

#define EXPIRE_EVERY_MS 60000 /* expired rows deleted at most this often */
#define PENDING_MS 30000      /* a claim's settlement ends within this (else the row reads as used) */

static const struct zt_store_step EV_STEPS[] = {
    /* 1: the evidence ids used, each until its expiry (unix ms) */
    {.sql = "CREATE TABLE orch_used_evidence(id BLOB PRIMARY KEY, expires INTEGER NOT NULL);"
            "CREATE INDEX orch_used_evidence_expires ON orch_used_evidence(expires);",
     .sql_pg = "CREATE TABLE orch_used_evidence(id BYTEA PRIMARY KEY, expires BIGINT NOT NULL);"
               "CREATE INDEX orch_used_evidence_expires ON orch_used_evidence(expires);"},
    /* 2: a claim pending its settlement: the claiming instance and until
     * when (unix ms); both NULL once used (review8 F11) */
    {.sql = "ALTER TABLE orch_used_evidence ADD COLUMN owner BLOB;"
            "ALTER TABLE orch_used_evidence ADD COLUMN pending_until INTEGER;",
     .sql_pg = "ALTER TABLE orch_used_evidence ADD COLUMN owner BYTEA;"
               "ALTER TABLE orch_used_evidence ADD COLUMN pending_until BIGINT;"},
};
static const struct zt_store_schema EV_SCHEMA = ZT_STORE_SCHEMA("orch_evidence", EV_STEPS);

struct zt__evidence {
    struct zt__once *mem;
    struct zt_registry *reg; /* its store, under its lock */
    struct zt_store_stmt *q_claim, *q_drop, *q_expire, *q_used, *q_state;
    int64_t next_expire;     /* unix ms; with reg->mu */
    uint8_t owner[16];       /* this instance (random): the pending rows it claimed */
};

static const struct zt_store_stmt_def STMTS[] = {
    /* a new id, or an expired row of it claimed again, pending: one row
     * changed; a live row (used, or pending elsewhere): none */
    {offsetof(struct zt__evidence, q_claim),
     "INSERT INTO orch_used_evidence(id, expires, owner, pending_until) VALUES(?, ?, ?, ?) ON CONFLICT(id)"
     " DO UPDATE SET expires = excluded.expires, owner = excluded.owner, pending_until = excluded.pending_until"
     " WHERE orch_used_evidence.expires < ?"},
    /* a live row's state: pending (until when) or used (NULL) */
    {offsetof(struct zt__evidence, q_state),
     "SELECT pending_until FROM orch_used_evidence WHERE id = ? AND expires >= ?"},
    /* our pending claim settled: used until its expiry */
    {offsetof(struct zt__evidence, q_used),
     "UPDATE orch_used_evidence SET owner = NULL, pending_until = NULL WHERE id = ? AND owner = ?"},
    /* our pending claim given back (never another's row) */
    {offsetof(struct zt__evidence, q_drop), "DELETE FROM orch_used_evidence WHERE id = ? AND owner = ?"},
    {offsetof(struct zt__evidence, q_expire), "DELETE FROM orch_used_evidence WHERE expires < ?"},
};
#define N_STMTS (sizeof STMTS / sizeof STMTS[0])

int zt__evidence_open(struct zt_registry *reg, size_t max, struct zt__evidence **out)
{
    if (!reg || !out) return ZT_EINVAL;
    struct zt__evidence *e = zt_calloc(1, sizeof *e);
    if (!e) return ZT_ENOMEM;
    e->reg = reg;
    randombytes_buf(e->owner, sizeof e->owner);
    pthread_mutex_lock(&reg->mu);
    int rc = zt_store_migrate(reg->st, &EV_SCHEMA);
    if (!rc) rc = zt_store_prepare_all(reg->st, e, STMTS, N_STMTS);
    pthread_mutex_unlock(&reg->mu);
    if (!rc) rc = zt__once_new(max, &e->mem);
    if (rc) {
        zt__evidence_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void zt__evidence_free(struct zt__evidence *e)
{
    if (!e) return;
    zt_store_stmt_free_all(e, STMTS, N_STMTS);
    zt__once_free(e->mem);
    zt_free(e);
}

/* The rows expired before now_ms deleted (at most once a minute; a failure
 * is retried next time). With reg->mu. */
static void expire_rows(struct zt__evidence *e, int64_t now_ms)
{
    if (now_ms < e->next_expire) return;
    e->next_expire = now_ms + EXPIRE_EVERY_MS;
    int rc = zt_store_bind_i64(e->q_expire, 1, now_ms);
    if (!rc) rc = zt_store_step(e->q_expire);
    zt_store_reset(e->q_expire);
    if (rc != ZT_STORE_DONE) zt_log_rl(ZT_LOG_WARN, 1, "evidence_expire_failed", "error=%s", zt_strerror(rc));
}

/* Whether id's live row is a claim pending its settlement now (*pending),
 * not used: 0, or the store's error. With reg->mu. A row gone meanwhile
 * (expired, or given back) reads as pending too: the caller retries. */
static int row_pending(struct zt__evidence *e, const uint8_t id[static ZT__ONCE_ID_LEN], int64_t now_ms,
                       bool *pending)
{
    struct zt_store_stmt *q = e->q_state;
    int s = zt_store_bind_blob(q, 1, id, ZT__ONCE_ID_LEN);
    if (!s) s = zt_store_bind_i64(q, 2, now_ms);
    if (!s) s = zt_store_step(q);
    int64_t until = 0;
    if (s == ZT_STORE_ROW) {
        *pending = zt_store_column_type(q, 0) != ZT_STORE_NULL && zt_store_column_i64(q, 0, &until) == 0 &&
                   until >= now_ms; /* past its deadline: its orchestrator died mid-settlement (used) */
        s = ZT_STORE_DONE;
    } else if (s == ZT_STORE_DONE) {
        *pending = true;
    }
    zt_store_reset(q);
    return s;
}

enum zt__once_rc zt__evidence_take(struct zt__evidence *e, const uint8_t id[static ZT__ONCE_ID_LEN],
                                   int64_t expires_ms, int64_t now_ms)
{
    enum zt__once_rc rc = zt__once_take(e->mem, id, expires_ms, now_ms, true);
    if (rc != ZT__ONCE_TAKEN) return rc;
    pthread_mutex_lock(&e->reg->mu);
    expire_rows(e, now_ms);
    struct zt_store_stmt *q = e->q_claim;
    int s = zt_store_bind_blob(q, 1, id, ZT__ONCE_ID_LEN);
    if (!s) s = zt_store_bind_i64(q, 2, expires_ms);
    if (!s) s = zt_store_bind_blob(q, 3, e->owner, sizeof e->owner);
    if (!s) s = zt_store_bind_i64(q, 4, now_ms + PENDING_MS);
    if (!s) s = zt_store_bind_i64(q, 5, now_ms);
    if (!s) s = zt_store_step(q);
    int64_t claimed = s == ZT_STORE_DONE ? zt_store_changes(q) : 0;
    zt_store_reset(q);
    bool pending = false; /* not claimed: the live row is another's settlement in flight */
    if (s == ZT_STORE_DONE && claimed < 1) s = row_pending(e, id, now_ms, &pending);
    pthread_mutex_unlock(&e->reg->mu);
    if (s != ZT_STORE_DONE) { /* not known to be unused: nothing taken, the caller retries */
        zt__once_settle(e->mem, id, false);
        zt_log_rl(ZT_LOG_WARN, 1, "evidence_store_failed", "error=%s", zt_strerror(s));
        return ZT__ONCE_STORE;
    }
    if (claimed < 1 && pending) { /* another orchestrator settles it now: not known to be used */
        zt__once_settle(e->mem, id, false);
        return ZT__ONCE_PENDING;
    }
    if (claimed < 1) { /* a live row: used before a restart, or by another orchestrator */
        zt__once_settle(e->mem, id, true);
        return ZT__ONCE_USED;
    }
    return ZT__ONCE_TAKEN;
}

void zt__evidence_settle(struct zt__evidence *e, const uint8_t id[static ZT__ONCE_ID_LEN], bool used)
{
    zt__once_settle(e->mem, id, used);
    /* used: the row stays until its expiry, no longer pending; given back:
     * deleted. Either only while it is still our claim. */
    struct zt_store_stmt *q = used ? e->q_used : e->q_drop;
    pthread_mutex_lock(&e->reg->mu);
    int rc = zt_store_bind_blob(q, 1, id, ZT__ONCE_ID_LEN);
    if (!rc) rc = zt_store_bind_blob(q, 2, e->owner, sizeof e->owner);
    if (!rc) rc = zt_store_step(q);
    zt_store_reset(q);
    pthread_mutex_unlock(&e->reg->mu);
    /* the row stays pending until its deadline, then reads as used: a
     * retried verdict is refused as a replay (fails closed) */
    if (rc != ZT_STORE_DONE)
        zt_log_rl(ZT_LOG_WARN, 1, used ? "evidence_mark_used_failed" : "evidence_give_back_failed", "error=%s",
                  zt_strerror(rc));
}
