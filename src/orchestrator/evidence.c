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
 * orchestrator that meets a live pending row is told ZT__ONCE_PENDING (its
 * gateway retries) rather than "used"; a failed settlement deletes it.
 * The settlement marks the row used in the same store transaction as its
 * writes (zt__evidence_commit: the scheduler's job state, the nodes'
 * reputations), so "used" means settled, and a pending row whose deadline
 * passed means not settled (its orchestrator died between the claim and
 * the commit, or is still running late): the next take claims it over.
 * A late first settlement then finds the row no longer its own and rolls
 * back. The ledger's hook is another store handle and runs after the
 * commit (zt__verifier_settle_evidence), from what the transaction did:
 * the transaction writes what the hook must do as a row of the outbox
 * orch_settle_outbox (zt__evidence_outbox_*), which the hook's run
 * deletes once the ledger took it; a row left by a crash (or a ledger
 * that failed) is run again by a sweeper after its lease.
 *
 * Deadlines that several orchestrators write and compare (a claim's, an
 * outbox row's lease) are on the store's clock (zt_store_clock_ms:
 * PostgreSQL's, review10 F5), never the caller's now_ms. */
#include <string.h>

#include <sodium.h>

#include "orch_int.h"
#include "orch_verdict.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define EXPIRE_EVERY_MS 60000 /* expired rows deleted at most this often */
#define PENDING_MS 30000      /* a claim's settlement ends within this (else it is claimed over) */
#define OUTBOX_LEASE_MS 10000 /* an outbox row's run ends within this (else a sweeper runs it again) */

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
    /* 3: a pending row past its deadline is claimed over (the settlement
     * commits with the claim now): a binary that read it as used, and
     * settled outside one transaction, must not share this table */
    {.sql = "CREATE INDEX orch_used_evidence_pending ON orch_used_evidence(pending_until);",
     .sql_pg = "CREATE INDEX orch_used_evidence_pending ON orch_used_evidence(pending_until);"},
    /* 4: the settlement outbox: what the ledger's hook must do for a
     * committed verdict (written in the settlement's transaction), leased
     * to the process running it until `until` (the store's clock, unix
     * ms); deleted once run. honest: the checkers in the majority, one
     * per line. An older binary would leave the rows unpaid: it refuses
     * this version. */
    {.sql = "CREATE TABLE orch_settle_outbox(job_id TEXT PRIMARY KEY, verdict INTEGER NOT NULL,"
            " worker TEXT NOT NULL, rejected TEXT NOT NULL, honest TEXT NOT NULL, owner BLOB NOT NULL,"
            " until INTEGER NOT NULL);"
            "CREATE INDEX orch_settle_outbox_until ON orch_settle_outbox(until);",
     .sql_pg = "CREATE TABLE orch_settle_outbox(job_id TEXT PRIMARY KEY, verdict INTEGER NOT NULL,"
               " worker TEXT NOT NULL, rejected TEXT NOT NULL, honest TEXT NOT NULL, owner BYTEA NOT NULL,"
               " until BIGINT NOT NULL);"
               "CREATE INDEX orch_settle_outbox_until ON orch_settle_outbox(until);"},
};
static const struct zt_store_schema EV_SCHEMA = ZT_STORE_SCHEMA("orch_evidence", EV_STEPS);

struct zt__evidence {
    struct zt__once *mem;
    struct zt_registry *reg; /* its store, under its lock */
    struct zt_store_stmt *q_claim, *q_drop, *q_expire, *q_used, *q_state;
    struct zt_store_stmt *q_ob_put, *q_ob_due, *q_ob_lease, *q_ob_get, *q_ob_done;
    int64_t next_expire;     /* unix ms; with reg->mu */
    int64_t next_sweep;      /* monotonic ms: the outbox's next sweep (0: at once); with reg->mu */
    uint8_t owner[16];       /* this instance (random): the pending rows it claimed */
};

static const struct zt_store_stmt_def STMTS[] = {
    /* a new id, an expired row of it claimed again, or a claim past its
     * deadline (not settled: its settlement commits with marking it used)
     * taken over, pending: one row changed; a used row, or a live claim
     * elsewhere: none */
    {offsetof(struct zt__evidence, q_claim),
     "INSERT INTO orch_used_evidence(id, expires, owner, pending_until) VALUES(?, ?, ?, ?) ON CONFLICT(id)"
     " DO UPDATE SET expires = excluded.expires, owner = excluded.owner, pending_until = excluded.pending_until"
     " WHERE orch_used_evidence.expires < ? OR orch_used_evidence.pending_until < ?"},
    /* a live row's state: pending (until when) or used (NULL) */
    {offsetof(struct zt__evidence, q_state),
     "SELECT pending_until FROM orch_used_evidence WHERE id = ? AND expires >= ?"},
    /* our pending claim settled: used until its expiry */
    {offsetof(struct zt__evidence, q_used),
     "UPDATE orch_used_evidence SET owner = NULL, pending_until = NULL WHERE id = ? AND owner = ?"},
    /* our pending claim given back (never another's row) */
    {offsetof(struct zt__evidence, q_drop), "DELETE FROM orch_used_evidence WHERE id = ? AND owner = ?"},
    {offsetof(struct zt__evidence, q_expire), "DELETE FROM orch_used_evidence WHERE expires < ?"},
    /* the outbox: a committed verdict's row, leased to us */
    {offsetof(struct zt__evidence, q_ob_put),
     "INSERT INTO orch_settle_outbox(job_id, verdict, worker, rejected, honest, owner, until)"
     " VALUES(?, ?, ?, ?, ?, ?, ?)"},
    /* rows whose lease passed (their runner died, or its ledger failed) */
    {offsetof(struct zt__evidence, q_ob_due),
     "SELECT job_id FROM orch_settle_outbox WHERE until < ? ORDER BY until LIMIT 16"},
    /* one of them leased to us, if still due (one row changed: ours) */
    {offsetof(struct zt__evidence, q_ob_lease),
     "UPDATE orch_settle_outbox SET owner = ?, until = ? WHERE job_id = ? AND until < ?"},
    {offsetof(struct zt__evidence, q_ob_get),
     "SELECT verdict, worker, rejected, honest FROM orch_settle_outbox WHERE job_id = ? AND owner = ?"},
    /* run: deleted, only while it is our lease */
    {offsetof(struct zt__evidence, q_ob_done), "DELETE FROM orch_settle_outbox WHERE job_id = ? AND owner = ?"},
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
    return ZT_HAND_OUT(rc, e, zt__evidence_free, out);
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
        /* NULL: used (settled). A deadline passed here means the row
         * changed between the claim and this read: retry too. */
        *pending = zt_store_column_type(q, 0) != ZT_STORE_NULL && zt_store_column_i64(q, 0, &until) == 0;
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
    /* the claim's deadline on the store's clock, shared by every
     * orchestrator of the store (a skewed local clock takes nothing over
     * early: review10 F5); the ids' expiry stays on the receipts' times */
    int64_t db_now = 0;
    int s = zt_store_clock_ms(e->reg->st, &db_now);
    struct zt_store_stmt *q = e->q_claim;
    if (!s) s = zt_store_bind_blob(q, 1, id, ZT__ONCE_ID_LEN);
    if (!s) s = zt_store_bind_i64(q, 2, expires_ms);
    if (!s) s = zt_store_bind_blob(q, 3, e->owner, sizeof e->owner);
    if (!s) s = zt_store_bind_i64(q, 4, db_now + PENDING_MS);
    if (!s) s = zt_store_bind_i64(q, 5, now_ms);
    if (!s) s = zt_store_bind_i64(q, 6, db_now);
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
    /* the row stays pending until its deadline, then is claimed over (a
     * retried verdict settles it; nothing was committed with it) */
    if (rc != ZT_STORE_DONE)
        zt_log_rl(ZT_LOG_WARN, 1, used ? "evidence_mark_used_failed" : "evidence_give_back_failed", "error=%s",
                  zt_strerror(rc));
}

/* zt__evidence_commit's transaction. */
struct commit {
    struct zt__evidence *e;
    const uint8_t *id;
    zt__evidence_tx_fn fn;
    void *ud;
    bool lost; /* the claim is no longer ours */
    bool ran;  /* fn ran before: a retried body */
};

static int commit_body(struct zt_store *st, void *ud)
{
    (void)st;
    struct commit *c = ud;
    if (c->ran) orch_undo_restore(c->e->reg); /* the attempt before was rolled back */
    c->ran = true;
    c->lost = false;
    int rc = c->fn(c->ud);
    if (!rc && c->e->reg->undo_full) rc = ZT_ENOMEM;
    if (rc || !c->id) return rc; /* no evidence claim (the in-process verdict): nothing to mark */
    struct zt_store_stmt *q = c->e->q_used;
    rc = zt_store_bind_blob(q, 1, c->id, ZT__ONCE_ID_LEN);
    if (!rc) rc = zt_store_bind_blob(q, 2, c->e->owner, sizeof c->e->owner);
    if (!rc) rc = zt_store_step(q);
    int64_t n = rc == ZT_STORE_DONE ? zt_store_changes(q) : 0;
    zt_store_reset(q);
    if (rc != ZT_STORE_DONE) return rc < 0 ? rc : ZT_EIO;
    if (n < 1) { /* claimed over past its deadline: the other one settles it */
        c->lost = true;
        return ZT_EEXIST;
    }
    return 0;
}

int zt__evidence_commit(struct zt__evidence *e, const uint8_t *id, zt__evidence_tx_fn fn, void *ud)
{
    if (!e || !fn) return ZT_EINVAL;
    struct commit c = {.e = e, .id = id, .fn = fn, .ud = ud};
    struct zt_registry *r = e->reg;
    int rc;
    /* each attempt under the lock, the back-off between two outside it
     * (review10 F6: heartbeats, placement and reports are not held up by
     * a conflicting settlement's sleeps). A failed attempt puts the nodes
     * it changed back before the lock is dropped, so the next one starts
     * from the registry as the other threads left it. */
    for (int attempt = 1;; attempt++) {
        pthread_mutex_lock(&r->mu);
        orch_undo_begin(r);
        c.ran = false;
        bool again = false;
        rc = zt_store_tx_try(r->st, attempt, commit_body, &c, &again);
        orch_undo_end(r, rc != 0); /* rolled back: the nodes as they were */
        if (!again) break;         /* the lock still held */
        uint64_t ms = zt_store_tx_backoff(r->st, attempt);
        pthread_mutex_unlock(&r->mu);
        zt_time_sleep_ms(ms);
    }
    int drop = ZT_STORE_DONE;
    if (rc && !c.lost && id) { /* not settled: given back (only our claim) */
        struct zt_store_stmt *q = e->q_drop;
        drop = zt_store_bind_blob(q, 1, id, ZT__ONCE_ID_LEN);
        if (!drop) drop = zt_store_bind_blob(q, 2, e->owner, sizeof e->owner);
        if (!drop) drop = zt_store_step(q);
        zt_store_reset(q);
    }
    pthread_mutex_unlock(&r->mu);
    if (id) zt__once_settle(e->mem, id, rc == 0 || c.lost);
    if (rc && !c.lost)
        zt_log_rl(ZT_LOG_WARN, 1, "evidence_settlement_failed", "error=%s give_back=%s", zt_strerror(rc),
                  drop == ZT_STORE_DONE ? "ok" : zt_strerror(drop));
    else if (c.lost)
        zt_log_rl(ZT_LOG_WARN, 1, "evidence_claim_taken_over",
                  "the settlement ran past its deadline and another took the evidence over: rolled back");
    return rc;
}

/* ---- the settlement outbox ------------------------------------------------------ */

int zt__evidence_outbox_put(struct zt__evidence *e, const struct zt__outbox_row *row)
{
    if (!e || !row || !row->job_id[0] || row->n_honest > ZT_VERIFIER_HONEST_MAX) return ZT_EINVAL;
    char honest[ZT_VERIFIER_HONEST_MAX * ZT_IDENTITY_ID_SIZE + 1];
    size_t off = 0;
    for (size_t i = 0; i < row->n_honest; i++) {
        size_t n = strnlen(row->honest[i], ZT_IDENTITY_ID_SIZE);
        if (n == 0 || n == ZT_IDENTITY_ID_SIZE || memchr(row->honest[i], '\n', n)) return ZT_EINVAL;
        memcpy(honest + off, row->honest[i], n);
        off += n;
        honest[off++] = '\n';
    }
    honest[off] = '\0';
    int64_t now = 0;
    int rc = zt_store_clock_ms(e->reg->st, &now);
    struct zt_store_stmt *q = e->q_ob_put;
    if (!rc) rc = zt_store_bind_text(q, 1, row->job_id, SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(q, 2, (int64_t)row->verdict);
    if (!rc) rc = zt_store_bind_text(q, 3, row->worker, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 4, row->rejected, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 5, honest, off);
    if (!rc) rc = zt_store_bind_blob(q, 6, e->owner, sizeof e->owner);
    if (!rc) rc = zt_store_bind_i64(q, 7, now + OUTBOX_LEASE_MS);
    if (!rc) rc = zt_store_step(q);
    zt_store_reset(q);
    return rc == ZT_STORE_DONE ? 0 : rc < 0 ? rc : ZT_EIO;
}

/* The leased row job_id read into row (ours): 0, ZT_ENOTFOUND, or the
 * store's error. With reg->mu. */
static int outbox_read(struct zt__evidence *e, const char *job_id, struct zt__outbox_row *row)
{
    memset(row, 0, sizeof *row);
    struct zt_store_stmt *q = e->q_ob_get;
    int rc = zt_store_bind_text(q, 1, job_id, SIZE_MAX);
    if (!rc) rc = zt_store_bind_blob(q, 2, e->owner, sizeof e->owner);
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_DONE) rc = ZT_ENOTFOUND;
    else if (rc == ZT_STORE_ROW) {
        int64_t verdict = -1;
        const char *w = NULL, *rej = NULL, *h = NULL;
        size_t wl = 0, rl = 0, hl = 0;
        rc = zt_store_column_i64(q, 0, &verdict);
        if (!rc) rc = zt_store_column_text(q, 1, &w, &wl);
        if (!rc) rc = zt_store_column_text(q, 2, &rej, &rl);
        if (!rc) rc = zt_store_column_text(q, 3, &h, &hl);
        if (!rc && (verdict < 0 || verdict > ZT_VERDICT_UNDECIDED || wl >= sizeof row->worker ||
                    rl >= sizeof row->rejected))
            rc = ZT_EINVAL;
        if (!rc) {
            zt_strlcpy(row->job_id, job_id, sizeof row->job_id);
            row->verdict = (enum zt_verify_verdict)verdict;
            memcpy(row->worker, w, wl);
            memcpy(row->rejected, rej, rl);
            /* the checkers, one per line */
            for (size_t a = 0; !rc && a < hl;) {
                const char *nl = memchr(h + a, '\n', hl - a);
                size_t n = nl ? (size_t)(nl - (h + a)) : hl - a;
                if (n == 0 || n >= ZT_IDENTITY_ID_SIZE || row->n_honest == ZT_VERIFIER_HONEST_MAX) rc = ZT_EINVAL;
                else memcpy(row->honest[row->n_honest++], h + a, n);
                a += n + 1;
            }
        }
    }
    zt_store_reset(q);
    return rc;
}

int zt__evidence_outbox_next(struct zt__evidence *e, struct zt__outbox_row *row)
{
    if (!e || !row) return ZT_EINVAL;
    char due[16][ZT_JOB_ID_SIZE];
    size_t n_due = 0;
    pthread_mutex_lock(&e->reg->mu);
    int64_t now = 0;
    int rc = zt_store_clock_ms(e->reg->st, &now);
    struct zt_store_stmt *q = e->q_ob_due;
    if (!rc) rc = zt_store_bind_i64(q, 1, now);
    while (!rc && n_due < 16 && (rc = zt_store_step(q)) == ZT_STORE_ROW) {
        const char *j = NULL;
        size_t jl = 0;
        rc = zt_store_column_text(q, 0, &j, &jl);
        if (!rc && jl > 0 && jl < ZT_JOB_ID_SIZE) {
            memcpy(due[n_due], j, jl);
            due[n_due++][jl] = '\0';
        }
    }
    zt_store_reset(q);
    if (rc == ZT_STORE_DONE || rc == ZT_STORE_ROW) rc = ZT_ENOTFOUND;
    /* lease the first still due (another sweeper may lease it first: one
     * UPDATE changes the row, the other finds it no longer due) */
    for (size_t i = 0; rc == ZT_ENOTFOUND && i < n_due; i++) {
        q = e->q_ob_lease;
        int s = zt_store_bind_blob(q, 1, e->owner, sizeof e->owner);
        if (!s) s = zt_store_bind_i64(q, 2, now + OUTBOX_LEASE_MS);
        if (!s) s = zt_store_bind_text(q, 3, due[i], SIZE_MAX);
        if (!s) s = zt_store_bind_i64(q, 4, now);
        if (!s) s = zt_store_step(q);
        int64_t changed = s == ZT_STORE_DONE ? zt_store_changes(q) : 0;
        zt_store_reset(q);
        if (s != ZT_STORE_DONE) rc = s < 0 ? s : ZT_EIO;
        else if (changed == 1) {
            rc = outbox_read(e, due[i], row);
            if (rc == ZT_EINVAL) { /* a row this binary cannot run: logged, left leased (never a crash) */
                zt_log_rl(ZT_LOG_ERROR, 10, "settle_outbox_bad_row", "job=%s", due[i]);
                rc = ZT_ENOTFOUND;
            }
        }
    }
    pthread_mutex_unlock(&e->reg->mu);
    return rc;
}

int zt__evidence_outbox_done(struct zt__evidence *e, const char *job_id)
{
    if (!e || !job_id) return ZT_EINVAL;
    pthread_mutex_lock(&e->reg->mu);
    struct zt_store_stmt *q = e->q_ob_done;
    int rc = zt_store_bind_text(q, 1, job_id, SIZE_MAX);
    if (!rc) rc = zt_store_bind_blob(q, 2, e->owner, sizeof e->owner);
    if (!rc) rc = zt_store_step(q);
    zt_store_reset(q);
    pthread_mutex_unlock(&e->reg->mu);
    return rc == ZT_STORE_DONE ? 0 : rc < 0 ? rc : ZT_EIO;
}

bool zt__evidence_sweep_due(struct zt__evidence *e, int64_t mono_ms)
{
    if (!e) return false;
    pthread_mutex_lock(&e->reg->mu);
    bool due = mono_ms >= e->next_sweep;
    if (due) e->next_sweep = mono_ms + ZT__OUTBOX_SWEEP_MS;
    pthread_mutex_unlock(&e->reg->mu);
    return due;
}
