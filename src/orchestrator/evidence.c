/* evidence.c: the verdicts' evidence used, kept in the orchestrator's
 * store as well as in memory (orch_verdict.h, zt__evidence_*;
 * docs/internals/orchestrator.md "Verification over leases"). A worker
 * receipt settles one verdict: before, only a set in memory (once.c) said
 * which were used, so an orchestrator restarted (or a second one on the
 * shared store) took the same evidence again within its hour. Now a take
 * claims the id in the table orch_used_evidence too: the row is inserted,
 * or an expired row of the id is claimed again; a live row of the id
 * (this process before a restart, or another orchestrator) means used. */
#include <string.h>

#include "orch_int.h"
#include "orch_verdict.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"

#define EXPIRE_EVERY_MS 60000 /* expired rows deleted at most this often */

static const struct zt_store_step EV_STEPS[] = {
    /* 1: the evidence ids used, each until its expiry (unix ms) */
    {.sql = "CREATE TABLE orch_used_evidence(id BLOB PRIMARY KEY, expires INTEGER NOT NULL);"
            "CREATE INDEX orch_used_evidence_expires ON orch_used_evidence(expires);",
     .sql_pg = "CREATE TABLE orch_used_evidence(id BYTEA PRIMARY KEY, expires BIGINT NOT NULL);"
               "CREATE INDEX orch_used_evidence_expires ON orch_used_evidence(expires);"},
};
static const struct zt_store_schema EV_SCHEMA = ZT_STORE_SCHEMA("orch_evidence", EV_STEPS);

struct zt__evidence {
    struct zt__once *mem;
    struct zt_registry *reg; /* its store, under its lock */
    struct zt_store_stmt *q_claim, *q_drop, *q_expire;
    int64_t next_expire;     /* unix ms; with reg->mu */
};

static const struct zt_store_stmt_def STMTS[] = {
    /* a new id, or an expired row of it claimed again: one row changed;
     * a live row (used before): none */
    {offsetof(struct zt__evidence, q_claim),
     "INSERT INTO orch_used_evidence(id, expires) VALUES(?, ?) ON CONFLICT(id) DO UPDATE SET"
     " expires = excluded.expires WHERE orch_used_evidence.expires < ?"},
    {offsetof(struct zt__evidence, q_drop), "DELETE FROM orch_used_evidence WHERE id = ?"},
    {offsetof(struct zt__evidence, q_expire), "DELETE FROM orch_used_evidence WHERE expires < ?"},
};
#define N_STMTS (sizeof STMTS / sizeof STMTS[0])

int zt__evidence_open(struct zt_registry *reg, size_t max, struct zt__evidence **out)
{
    if (!reg || !out) return ZT_EINVAL;
    struct zt__evidence *e = zt_calloc(1, sizeof *e);
    if (!e) return ZT_ENOMEM;
    e->reg = reg;
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
    if (!s) s = zt_store_bind_i64(q, 3, now_ms);
    if (!s) s = zt_store_step(q);
    int64_t claimed = s == ZT_STORE_DONE ? zt_store_changes(q) : 0;
    zt_store_reset(q);
    pthread_mutex_unlock(&e->reg->mu);
    if (s != ZT_STORE_DONE) { /* not known to be unused: nothing taken, the caller retries */
        zt__once_settle(e->mem, id, false);
        zt_log_rl(ZT_LOG_WARN, 1, "evidence_store_failed", "error=%s", zt_strerror(s));
        return ZT__ONCE_STORE;
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
    if (used) return; /* its row stays until its expiry */
    pthread_mutex_lock(&e->reg->mu);
    int rc = zt_store_bind_blob(e->q_drop, 1, id, ZT__ONCE_ID_LEN);
    if (!rc) rc = zt_store_step(e->q_drop);
    zt_store_reset(e->q_drop);
    pthread_mutex_unlock(&e->reg->mu);
    if (rc != ZT_STORE_DONE) /* its row stays: the retried verdict is refused as a replay (fails closed) */
        zt_log_rl(ZT_LOG_WARN, 1, "evidence_give_back_failed", "error=%s", zt_strerror(rc));
}
