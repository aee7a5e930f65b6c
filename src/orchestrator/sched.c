/* sched.c: the scheduler and the job lifecycle (zt_sched.h): placement by
 * metadata and score, deficit round robin over per-client queues, a
 * bounded queue, and the persisted job state machine under the store
 * owner "sched" (docs/internals/orchestrator.md). Runs under the
 * registry's mutex. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "orch_int.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"

static const struct zt_store_step SCHED_STEPS[] = {
    /* 1: jobs and their states (metadata only, never a prompt) */
    {.sql = "CREATE TABLE sched_jobs(job_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, client TEXT NOT NULL,"
            " model TEXT NOT NULL, ctx INTEGER NOT NULL, max_tokens INTEGER NOT NULL,"
            " price_ceiling INTEGER NOT NULL, deadline INTEGER NOT NULL, state INTEGER NOT NULL, worker TEXT,"
            " attempts INTEGER NOT NULL, tokens INTEGER NOT NULL, created INTEGER NOT NULL,"
            " updated INTEGER NOT NULL, assigned INTEGER NOT NULL, started INTEGER NOT NULL,"
            " finished INTEGER NOT NULL, reason TEXT NOT NULL);"
            "CREATE INDEX sched_jobs_state ON sched_jobs(state, seq);",
     .sql_pg = "CREATE TABLE sched_jobs(job_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, client TEXT NOT NULL,"
               " model TEXT NOT NULL, ctx BIGINT NOT NULL, max_tokens BIGINT NOT NULL,"
               " price_ceiling BIGINT NOT NULL, deadline BIGINT NOT NULL, state BIGINT NOT NULL, worker TEXT,"
               " attempts BIGINT NOT NULL, tokens BIGINT NOT NULL, created BIGINT NOT NULL,"
               " updated BIGINT NOT NULL, assigned BIGINT NOT NULL, started BIGINT NOT NULL,"
               " finished BIGINT NOT NULL, reason TEXT NOT NULL);"
               "CREATE INDEX sched_jobs_state ON sched_jobs(state, seq);"},
    /* 2: the orchestrator that owns the job (several share the store; ''
     * on rows of before: the first orchestrator that opens takes them) */
    {.sql = "ALTER TABLE sched_jobs ADD COLUMN orch TEXT NOT NULL DEFAULT '';"}, /* portable: both dialects */
    /* 3: the gateway (node id) that submitted a job through a lease, signed
     * ('' for an in-process or anonymous gateway): only it may have another
     * orchestrator of the store continue the job (zt_sched_job_adopt) */
    {.sql = "ALTER TABLE sched_jobs ADD COLUMN gateway TEXT NOT NULL DEFAULT '';"}, /* portable: both dialects */
};
static const struct zt_store_schema SCHED_SCHEMA = ZT_STORE_SCHEMA("sched", SCHED_STEPS);

#define JOB_COLS                                                                                     \
    "job_id, seq, client, model, ctx, max_tokens, price_ceiling, deadline, state, worker, attempts, " \
    "tokens, created, updated, assigned, started, finished, reason, gateway"
static const char SQL_INS[] = "INSERT INTO sched_jobs(" JOB_COLS ", orch) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char SQL_MOVE[] = "UPDATE sched_jobs SET state=?, worker=?, attempts=?, tokens=?, updated=?, assigned=?,"
                               " started=?, finished=?, reason=? WHERE job_id=? AND state=? AND orch=?";
static const char SQL_GET[] = "SELECT " JOB_COLS " FROM sched_jobs WHERE job_id=?";
static const char SQL_ACTIVE[] = "SELECT " JOB_COLS " FROM sched_jobs WHERE state IN (0, 1, 2) AND orch=? ORDER BY seq";
static const char SQL_OWN_OLD[] = "UPDATE sched_jobs SET orch=? WHERE orch=''";
/* A job of an orchestrator that died (its queue entry was claimed): ended
 * by the one that claimed it, once (the row moves only if still active and
 * still the dead one's: not when a live orchestrator took it over since). */
static const char SQL_ADOPT[] = "UPDATE sched_jobs SET orch=?, state=4, reason='orchestrator_lost', updated=?,"
                                " finished=? WHERE job_id=? AND orch=? AND state IN (0, 1, 2)";
/* A job of another orchestrator continued here for its gateway: its row
 * with its owner, then moved by compare-and-set on (owner, state). */
static const char SQL_TAKE_GET[] = "SELECT " JOB_COLS ", orch FROM sched_jobs WHERE job_id=?";
static const char SQL_TAKE[] = "UPDATE sched_jobs SET orch=?, updated=? WHERE job_id=? AND orch=? AND state=?";
static const char SQL_MAXSEQ[] = "SELECT COALESCE(MAX(seq), 0) FROM sched_jobs";
static const char SQL_RECENT[] = "SELECT " JOB_COLS " FROM sched_jobs ORDER BY seq DESC LIMIT ?";

struct zt_sched {
    struct zt_registry *r;
    struct zt_store *st;
    struct zt_sched_opts o;
    struct orch_map jobs;    /* id -> active orch_job */
    struct orch_map clients; /* name -> orch_client */
    struct orch_client *ring; /* the next client DRR visits */
    size_t queued;
    int64_t next_seq;
    int64_t next_deadline_scan;
    uint32_t pass;
    double job_ms; /* EWMA of a job's duration, for retry-after */
    struct zt_sched_event *pend; /* events waiting for the next pump */
    size_t n_pend, cap_pend;
    struct zt_store_stmt *q_ins, *q_move, *q_get, *q_adopt, *q_take_get, *q_take;
    const char *self;       /* the registry's self_id: the owner of this scheduler's jobs */
    struct zt_queue *queue; /* shared queue (zt_sched_set_queue), or NULL */
    int64_t next_renew, next_claim;
    uint64_t adopted;       /* jobs of dead orchestrators this one ended */
    uint64_t continued;     /* jobs of other orchestrators this one took over for their gateways */
    zt_sched_admit_fn admit; /* the node's extra gate (the ledger's stake), or NULL */
    void *admit_ud;
    zt_sched_verdict_fn on_rejected; /* the node's hook on a confirmed mismatch (the ledger's slash), or NULL */
    void *on_rejected_ud;
};

/* The statements a scheduler keeps prepared (zt_store_prepare_all). */
static const struct zt_store_stmt_def STMTS[] = {
    {offsetof(struct zt_sched, q_ins), SQL_INS},       {offsetof(struct zt_sched, q_move), SQL_MOVE},
    {offsetof(struct zt_sched, q_get), SQL_GET},       {offsetof(struct zt_sched, q_adopt), SQL_ADOPT},
    {offsetof(struct zt_sched, q_take_get), SQL_TAKE_GET}, {offsetof(struct zt_sched, q_take), SQL_TAKE},
};

static const char *const STATE_NAME[] = {"queued", "assigned", "running", "done", "failed", "verified"};

const char *zt_job_state_name(enum zt_job_state s)
{
    return (unsigned)s < ZT_JOB_STATE_COUNT ? STATE_NAME[s] : "?";
}

bool zt_job_transition_legal(enum zt_job_state from, enum zt_job_state to)
{
    switch (from) {
    case ZT_JOB_STATE_QUEUED: return to == ZT_JOB_STATE_ASSIGNED || to == ZT_JOB_STATE_FAILED;
    case ZT_JOB_STATE_ASSIGNED: return to == ZT_JOB_STATE_RUNNING || to == ZT_JOB_STATE_QUEUED || to == ZT_JOB_STATE_FAILED;
    case ZT_JOB_STATE_RUNNING: return to == ZT_JOB_STATE_DONE || to == ZT_JOB_STATE_QUEUED || to == ZT_JOB_STATE_FAILED;
    case ZT_JOB_STATE_DONE: return to == ZT_JOB_STATE_VERIFIED || to == ZT_JOB_STATE_FAILED;
    default: return false; /* failed and verified are final */
    }
}

/* ---- persistence ------------------------------------------------------------- */

static int run(struct zt_store_stmt *q)
{
    int rc = zt_store_step(q);
    zt_store_reset(q);
    return rc == ZT_STORE_DONE ? 0 : rc == ZT_STORE_ROW ? ZT_EIO : rc;
}

static const char *worker_of(const struct orch_job *j) { return j->node ? j->node->id : NULL; }

static int job_insert(struct zt_sched *s, const struct orch_job *j)
{
    struct zt_store_stmt *q = s->q_ins;
    int rc = zt_store_bind_text(q, 1, j->id, SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(q, 2, j->seq);
    if (!rc) rc = zt_store_bind_text(q, 3, j->client->name, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 4, j->model->name, SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(q, 5, j->ctx);
    if (!rc) rc = zt_store_bind_i64(q, 6, j->max_tokens);
    if (!rc) rc = zt_store_bind_i64(q, 7, (int64_t)j->price_ceiling);
    if (!rc) rc = zt_store_bind_i64(q, 8, j->deadline);
    if (!rc) rc = zt_store_bind_i64(q, 9, j->state);
    if (!rc) rc = zt_store_bind_text(q, 10, worker_of(j), SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(q, 11, j->attempts);
    if (!rc) rc = zt_store_bind_i64(q, 12, j->tokens);
    if (!rc) rc = zt_store_bind_i64(q, 13, j->created);
    if (!rc) rc = zt_store_bind_i64(q, 14, j->updated);
    if (!rc) rc = zt_store_bind_i64(q, 15, j->assigned);
    if (!rc) rc = zt_store_bind_i64(q, 16, j->started);
    if (!rc) rc = zt_store_bind_i64(q, 17, j->finished);
    if (!rc) rc = zt_store_bind_text(q, 18, j->reason, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 19, j->gateway, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 20, s->self, SIZE_MAX);
    if (!rc) return run(q);
    zt_store_reset(q);
    return rc;
}

/* Write j's new state (j holds the new values) over the row in state from.
 * ZT_EINVAL when the row is not in that state any more. */
static int job_write(struct zt_sched *s, const struct orch_job *j, const char *worker, enum zt_job_state from)
{
    struct zt_store_stmt *q = s->q_move;
    int rc = zt_store_bind_i64(q, 1, j->state);
    if (!rc) rc = zt_store_bind_text(q, 2, worker, SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(q, 3, j->attempts);
    if (!rc) rc = zt_store_bind_i64(q, 4, j->tokens);
    if (!rc) rc = zt_store_bind_i64(q, 5, j->updated);
    if (!rc) rc = zt_store_bind_i64(q, 6, j->assigned);
    if (!rc) rc = zt_store_bind_i64(q, 7, j->started);
    if (!rc) rc = zt_store_bind_i64(q, 8, j->finished);
    if (!rc) rc = zt_store_bind_text(q, 9, j->reason, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 10, j->id, SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(q, 11, from);
    if (!rc) rc = zt_store_bind_text(q, 12, s->self, SIZE_MAX);
    if (rc) {
        zt_store_reset(q);
        return rc;
    }
    if ((rc = run(q)) != 0) return rc;
    return zt_store_changes(q) == 1 ? 0 : ZT_EINVAL;
}

/* Move j to state to (legal transitions only), persisted first: on an
 * error j is unchanged. worker: the row's worker after the move. */
static int job_move(struct zt_sched *s, struct orch_job *j, enum zt_job_state to, struct orch_node *worker,
                    int64_t now, const char *reason)
{
    if (!zt_job_transition_legal(j->state, to)) return ZT_EINVAL;
    struct orch_job t = *j;
    t.state = to;
    t.updated = now;
    if (to == ZT_JOB_STATE_ASSIGNED) {
        t.attempts++;
        t.assigned = now;
        t.started = 0;
    } else if (to == ZT_JOB_STATE_RUNNING) {
        t.started = now;
    } else if (to == ZT_JOB_STATE_DONE || to == ZT_JOB_STATE_FAILED || to == ZT_JOB_STATE_VERIFIED) {
        if (!t.finished || to == ZT_JOB_STATE_FAILED) t.finished = now;
    }
    if (reason) zt_strlcpy(t.reason, reason, sizeof t.reason);
    const char *wid = worker ? worker->id : worker_of(j);
    int rc = job_write(s, &t, wid, j->state);
    if (rc) return rc;
    *j = t;
    return 0;
}

/* ---- queues, nodes, events ------------------------------------------------------ */

static void ring_add(struct zt_sched *s, struct orch_client *c)
{
    if (c->in_ring) return;
    if (!s->ring) {
        c->next = c->prev = c;
        s->ring = c;
    } else { /* just before the cursor: visited last in this round */
        c->next = s->ring;
        c->prev = s->ring->prev;
        c->prev->next = c;
        s->ring->prev = c;
    }
    c->in_ring = true;
}

static void ring_del(struct zt_sched *s, struct orch_client *c)
{
    if (!c->in_ring) return;
    if (c->next == c) {
        s->ring = NULL;
    } else {
        c->prev->next = c->next;
        c->next->prev = c->prev;
        if (s->ring == c) s->ring = c->next;
    }
    c->next = c->prev = NULL;
    c->in_ring = false;
    c->deficit = 0;
}

static void enqueue(struct zt_sched *s, struct orch_job *j, bool front)
{
    struct orch_client *c = j->client;
    j->q_next = j->q_prev = NULL;
    if (!c->head) {
        c->head = c->tail = j;
    } else if (front) {
        j->q_next = c->head;
        c->head->q_prev = j;
        c->head = j;
    } else {
        j->q_prev = c->tail;
        c->tail->q_next = j;
        c->tail = j;
    }
    c->n_queued++;
    j->model->queued++;
    s->queued++;
    ring_add(s, c);
}

static void dequeue(struct zt_sched *s, struct orch_job *j)
{
    struct orch_client *c = j->client;
    if (j->q_prev) j->q_prev->q_next = j->q_next; else c->head = j->q_next;
    if (j->q_next) j->q_next->q_prev = j->q_prev; else c->tail = j->q_prev;
    j->q_next = j->q_prev = NULL;
    c->n_queued--;
    j->model->queued--;
    s->queued--;
    if (!c->head) ring_del(s, c);
}

static void node_link(struct orch_job *j, struct orch_node *n)
{
    j->node = n;
    j->linked = true;
    j->node_prev = NULL;
    j->node_next = n->jobs;
    if (n->jobs) n->jobs->node_prev = j;
    n->jobs = j;
    n->inflight++;
}

static void node_unlink(struct orch_job *j)
{
    struct orch_node *n = j->node;
    if (!n || !j->linked) return;
    j->linked = false;
    if (j->node_prev) j->node_prev->node_next = j->node_next; else n->jobs = j->node_next;
    if (j->node_next) j->node_next->node_prev = j->node_prev;
    j->node_next = j->node_prev = NULL;
    n->inflight--;
    /* j->node stays: the row keeps its last worker */
}

static struct orch_client *client_get(struct zt_sched *s, const char *name)
{
    struct orch_client *c = orch_map_get(&s->clients, name);
    if (c) return c;
    c = zt_calloc(1, sizeof *c);
    if (!c) return NULL;
    zt_strlcpy(c->name, name, sizeof c->name);
    if (orch_map_put(&s->clients, c->name, c) != 0) {
        zt_free(c);
        return NULL;
    }
    return c;
}

static void client_unref(struct zt_sched *s, struct orch_client *c)
{
    if (--c->refs > 0) return;
    ring_del(s, c);
    orch_map_del(&s->clients, c->name);
    zt_free(c);
}

/* A job leaves memory (finished, or failed). */
static void job_drop(struct zt_sched *s, struct orch_job *j)
{
    if (s->queue && j->qid[0]) {
        int rc = zt_queue_ack(s->queue, j->qid);
        if (rc && rc != ZT_ENOTFOUND)
            zt_log_rl(ZT_LOG_WARN, 10, "sched_queue_ack_failed", "job=%s error=%s", j->id, zt_strerror(rc));
    }
    node_unlink(j);
    orch_map_del(&s->jobs, j->id);
    client_unref(s, j->client);
    zt_free(j);
}

/* j's row refused our move (ZT_EINVAL from job_move on a legal
 * transition): another orchestrator of the store continued the job for its
 * gateway (zt_sched_job_adopt); our stale copy leaves memory, and with it
 * its worker's slot here. */
static void job_taken(struct zt_sched *s, struct orch_job *j)
{
    zt_log(ZT_LOG_WARN, "sched_job_taken", "job=%s action=dropped_here", j->id);
    if (j->state == ZT_JOB_STATE_QUEUED) dequeue(s, j);
    job_drop(s, j);
}

static void event(struct zt_sched *s, enum zt_sched_event_kind k, const struct orch_job *j, const struct orch_node *n)
{
    if (s->n_pend == s->cap_pend) {
        size_t cap = s->cap_pend ? s->cap_pend * 2 : 64;
        struct zt_sched_event *nv = zt_reallocarray(s->pend, cap, sizeof *nv);
        if (!nv) {
            zt_log(ZT_LOG_WARN, "sched_event_dropped", "job=%s", j->id);
            return;
        }
        s->pend = nv;
        s->cap_pend = cap;
    }
    struct zt_sched_event *e = &s->pend[s->n_pend++];
    memset(e, 0, sizeof *e);
    e->kind = k;
    zt_strlcpy(e->job_id, j->id, sizeof e->job_id);
    if (n) zt_strlcpy(e->worker, n->id, sizeof e->worker);
    zt_strlcpy(e->gateway, j->gateway, sizeof e->gateway);
}

/* The worker of j is gone or gave up: back to the queue while attempts and
 * the deadline allow, else failed. */
static void requeue_or_fail(struct zt_sched *s, struct orch_job *j, int64_t now, const char *reason)
{
    struct orch_node *n = j->node;
    bool again = j->attempts < s->o.max_attempts && (!j->deadline || j->deadline > now);
    int rc = job_move(s, j, again ? ZT_JOB_STATE_QUEUED : ZT_JOB_STATE_FAILED, n, now, again ? reason : "attempts_exhausted");
    if (rc) {
        /* the store refused; memory follows anyway (the row is repaired by
         * the resume rule at the next open) */
        zt_log(ZT_LOG_WARN, "sched_store_failed", "job=%s error=%s", j->id, zt_strerror(rc));
        j->state = again ? ZT_JOB_STATE_QUEUED : ZT_JOB_STATE_FAILED;
    }
    event(s, again ? ZT_SCHED_EV_REQUEUED : ZT_SCHED_EV_FAILED, j, n);
    if (again) {
        node_unlink(j);
        enqueue(s, j, true); /* it waited already */
    } else {
        job_drop(s, j);
    }
}

/* registry hook: n's session ended with jobs on it */
static void on_lost(void *ud, struct orch_node *n, bool expired, int64_t now)
{
    struct zt_sched *s = ud;
    while (n->jobs) {
        struct orch_job *j = n->jobs;
        bool running = j->state == ZT_JOB_STATE_RUNNING;
        if (expired || running) zt_ignore(orch_node_report(s->r, n, expired ? ZT_OUTCOME_TIMED_OUT : ZT_OUTCOME_FAILED, now));
        requeue_or_fail(s, j, now, expired ? "worker_lost" : "worker_left");
    }
}

/* ---- placement ----------------------------------------------------------------- */

static bool fits(const struct orch_node *n, const struct orch_job *j)
{
    if (n->caps.ctx_max && (uint64_t)j->ctx + j->max_tokens > n->caps.ctx_max) return false;
    if (j->price_ceiling) { /* it bounds both prices (the higher one) */
        char c[24];
        snprintf(c, sizeof c, "%llu", (unsigned long long)j->price_ceiling);
        if (orch_price_cmp(orch_price_max(&n->caps), c) > 0) return false;
    }
    return true;
}

/* The node's extra gate (zt_sched_set_admit): the ledger's stake. */
static bool admitted(const struct zt_sched *s, const struct orch_node *n)
{
    return !s->admit || s->admit(s->admit_ud, n->id);
}

void zt_sched_set_admit(struct zt_sched *s, zt_sched_admit_fn fn, void *ud)
{
    if (!s) return;
    pthread_mutex_lock(&s->r->mu);
    s->admit = fn;
    s->admit_ud = ud;
    pthread_mutex_unlock(&s->r->mu);
}

void zt_sched_set_on_rejected(struct zt_sched *s, zt_sched_verdict_fn fn, void *ud)
{
    if (!s) return;
    pthread_mutex_lock(&s->r->mu);
    s->on_rejected = fn;
    s->on_rejected_ud = ud;
    pthread_mutex_unlock(&s->r->mu);
}

/* The score of docs/internals/orchestrator.md ("Placement"). */
static double score(const struct zt_sched *s, const struct orch_node *n, const struct orch_job *j, double rep,
                    uint32_t free)
{
    double lat = n->lat > 0 ? n->lat : s->o.lat_ref_ms_per_tok;
    double pref = j->price_ceiling ? (double)j->price_ceiling : (double)s->o.price_ref;
    return s->o.w_rep * rep + s->o.w_load * ((double)free / (double)n->caps.slots) +
           s->o.w_lat * (s->o.lat_ref_ms_per_tok / (s->o.lat_ref_ms_per_tok + lat)) +
           s->o.w_price * (pref / (pref + strtod(orch_price_max(&n->caps), NULL)));
}

/* The best worker for j. When the model has more than scan_max workers,
 * the scan looks at scan_max candidates with a free slot starting where
 * the previous one stopped (a rotating window: placement stays O(scan_max)
 * however many workers serve the model, and load spreads over all of
 * them); otherwise at all of them. */
static struct orch_node *pick(struct zt_sched *s, const struct orch_job *j, int64_t now)
{
    struct orch_model *m = j->model;
    struct zt_registry *r = s->r;
    struct orch_node *best = NULL;
    double best_score = -1;
    if (!m->n) return NULL;
    bool window = m->n > s->o.scan_max;
    size_t start = window ? m->scan_start % m->n : 0, seen = 0, i = start, k;
    for (k = 0; k < m->n; k++, i = i + 1 == m->n ? 0 : i + 1) {
        struct orch_node *n = m->nodes[i];
        uint32_t free = orch_node_free_slots(n);
        if (!free || !fits(n, j) || n->state != ZT_NODE_LIVE || n->banned || n->quarantine_until > now ||
            !admitted(s, n))
            continue;
        double rep = orch_node_rep_cached(r, n, now);
        if (rep < r->o.rep_threshold) continue;
        /* a measured worker that cannot finish before the deadline */
        if (j->deadline && n->lat > 0 && (double)now + n->lat * j->max_tokens > (double)j->deadline) continue;
        double sc = score(s, n, j, rep, free);
        if (sc > best_score) {
            best_score = sc;
            best = n;
        }
        if (window && ++seen >= s->o.scan_max) break;
    }
    if (window) m->scan_start = i + 1;
    return best;
}

/* Could any live worker ever take j (slots and deadline aside)? */
static bool servable(const struct zt_sched *s, const struct orch_job *j, int64_t now)
{
    const struct orch_model *m = j->model;
    for (size_t i = 0; i < m->n; i++)
        if (orch_node_eligible(s->r, m->nodes[i], now) && fits(m->nodes[i], j) && admitted(s, m->nodes[i])) return true;
    return false;
}

static int assign(struct zt_sched *s, struct orch_job *j, struct orch_node *n, int64_t now)
{
    int rc = job_move(s, j, ZT_JOB_STATE_ASSIGNED, n, now, "");
    if (rc) return rc;
    node_link(j, n);
    return 0;
}

static uint32_t retry_after(const struct zt_sched *s, const struct orch_model *m, int64_t now)
{
    uint64_t slots = 0;
    for (size_t i = 0; m && i < m->n; i++)
        if (orch_node_eligible(s->r, m->nodes[i], now)) slots += m->nodes[i]->caps.slots;
    double ms = s->job_ms > 0 ? s->job_ms : 10000.0;
    double sec = ceil((double)(s->queued + 1) * ms / (double)(slots ? slots : 1) / 1000.0);
    return sec < 1 ? 1 : sec > 60 ? 60 : (uint32_t)sec;
}

/* ---- API ------------------------------------------------------------------------ */

static void sched_defaults(struct zt_sched_opts *o)
{
    if (!o->max_queued) o->max_queued = 10000;
    if (!o->max_queued_per_client) o->max_queued_per_client = 1000;
    if (!o->max_attempts) o->max_attempts = 3;
    if (!o->quantum) o->quantum = 4096;
    if (o->w_rep == 0 && o->w_load == 0 && o->w_lat == 0 && o->w_price == 0) {
        o->w_rep = 0.40;
        o->w_load = 0.25;
        o->w_lat = 0.20;
        o->w_price = 0.15;
    }
    if (o->lat_ref_ms_per_tok <= 0) o->lat_ref_ms_per_tok = 20.0;
    if (o->ewma_alpha <= 0 || o->ewma_alpha > 1) o->ewma_alpha = 0.2;
    if (!o->price_ref) o->price_ref = 1000;
    if (!o->scan_max) o->scan_max = 256;
}

static int new_job(struct zt_sched *s, const char *id, const char *client, const char *model, struct orch_job **out)
{
    struct orch_job *j = zt_calloc(1, sizeof *j);
    if (!j) return ZT_ENOMEM;
    zt_strlcpy(j->id, id, sizeof j->id);
    j->model = orch_model_get(s->r, model, true);
    j->client = client_get(s, client);
    if (!j->model || !j->client || orch_map_put(&s->jobs, j->id, j) != 0) {
        if (j->client && j->client->refs == 0) {
            j->client->refs = 1;
            client_unref(s, j->client);
        }
        zt_free(j);
        return ZT_ENOMEM;
    }
    j->client->refs++;
    *out = j;
    return 0;
}

/* A row of SQL_GET/SQL_ACTIVE into j (model/client not set) and its
 * client, model and worker names. */
struct row {
    char client[ZT_SCHED_CLIENT_MAX + 1];
    char model[ZT_DESCRIPTOR_MAX_STR + 1];
    char worker[ZT_IDENTITY_ID_SIZE];
};

static int text_col(struct zt_store_stmt *q, int i, char *buf, size_t cap)
{
    const char *t;
    size_t n;
    int rc = zt_store_column_text(q, i, &t, &n);
    if (rc == ZT_ENOTFOUND) {
        buf[0] = '\0';
        return 0;
    }
    if (rc) return rc;
    if (n >= cap) return ZT_EIO;
    memcpy(buf, t, n + 1);
    return 0;
}

static int read_row(struct zt_store_stmt *q, struct orch_job *j, struct row *w)
{
    memset(j, 0, sizeof *j);
    int64_t v[18];
    int rc = text_col(q, 0, j->id, sizeof j->id);
    if (!rc) rc = text_col(q, 2, w->client, sizeof w->client);
    if (!rc) rc = text_col(q, 3, w->model, sizeof w->model);
    if (!rc) rc = text_col(q, 9, w->worker, sizeof w->worker);
    if (!rc) rc = text_col(q, 17, j->reason, sizeof j->reason);
    if (!rc) rc = text_col(q, 18, j->gateway, sizeof j->gateway);
    for (int i = 1; i < 17 && !rc; i++) {
        if (i == 2 || i == 3 || i == 9) continue;
        rc = zt_store_column_i64(q, i, &v[i]);
    }
    if (rc) return rc;
    if (v[8] < 0 || v[8] >= ZT_JOB_STATE_COUNT) return ZT_EIO;
    j->seq = v[1];
    j->ctx = (uint32_t)v[4];
    j->max_tokens = (uint32_t)v[5];
    j->price_ceiling = (uint64_t)v[6];
    j->deadline = v[7];
    j->state = (enum zt_job_state)v[8];
    j->attempts = (uint32_t)v[10];
    j->tokens = (uint32_t)v[11];
    j->created = v[12];
    j->updated = v[13];
    j->assigned = v[14];
    j->started = v[15];
    j->finished = v[16];
    return 0;
}

/* A job in memory for the row t (read_row) of client and model w. */
static int job_from_row(struct zt_sched *s, const struct orch_job *t, const struct row *w, struct orch_job **out)
{
    struct orch_job *j;
    int rc = new_job(s, t->id, w->client, w->model, &j);
    if (rc) return rc;
    struct orch_client *c = j->client;
    struct orch_model *m = j->model;
    *j = *t;
    j->client = c;
    j->model = m;
    *out = j;
    return 0;
}

/* Resume the unfinished jobs of the store. */
static int resume(struct zt_sched *s, int64_t now)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(s->st, SQL_MAXSEQ, &q);
    if (!rc && (rc = zt_store_step(q)) == ZT_STORE_ROW) rc = zt_store_column_i64(q, 0, &s->next_seq);
    zt_store_stmt_free(q);
    q = NULL;
    if (rc) return rc;
    s->next_seq++;
    if ((rc = zt_store_prepare(s->st, SQL_OWN_OLD, &q)) != 0) return rc;
    rc = zt_store_bind_text(q, 1, s->self, SIZE_MAX);
    if (!rc) rc = run(q);
    zt_store_stmt_free(q);
    q = NULL;
    if (rc) return rc;
    if ((rc = zt_store_prepare(s->st, SQL_ACTIVE, &q)) != 0) return rc;
    if ((rc = zt_store_bind_text(q, 1, s->self, SIZE_MAX)) != 0) {
        zt_store_stmt_free(q);
        return rc;
    }
    size_t lost = 0;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW) {
        struct orch_job t, *j;
        struct row w;
        if ((rc = read_row(q, &t, &w)) != 0) break;
        if ((rc = job_from_row(s, &t, &w, &j)) != 0) break;
        if (j->state == ZT_JOB_STATE_QUEUED) {
            enqueue(s, j, false);
            continue;
        }
        struct orch_node *n = orch_node_find(s->r, w.worker);
        if (n) node_link(j, n);
        if (!n || n->state != ZT_NODE_LIVE) lost++;
    }
    zt_store_stmt_free(q);
    if (rc) return rc;
    /* jobs of workers that are not live: the worker-lost rule, now */
    for (size_t i = 0; lost && i < s->r->n_all; i++) {
        struct orch_node *n = s->r->all[i];
        if (n->jobs && n->state != ZT_NODE_LIVE) on_lost(s, n, true, now);
    }
    /* jobs whose worker is unknown to the registry */
    for (size_t i = 0; lost && i < s->jobs.cap; i++) {
        struct orch_map_slot *sl = &s->jobs.slots[i];
        if (!sl->key || sl->key == orch_map_tomb) continue;
        struct orch_job *j = sl->val;
        if ((j->state == ZT_JOB_STATE_ASSIGNED || j->state == ZT_JOB_STATE_RUNNING) && !j->linked)
            requeue_or_fail(s, j, now, "worker_lost");
    }
    return 0;
}

int zt_sched_open(struct zt_registry *reg, const struct zt_sched_opts *o, int64_t now_ms, struct zt_sched **out)
{
    if (!reg || !out) return ZT_EINVAL;
    struct zt_sched_opts opts = o ? *o : (struct zt_sched_opts){0};
    sched_defaults(&opts);
    if (opts.w_rep < 0 || opts.w_load < 0 || opts.w_lat < 0 || opts.w_price < 0) return ZT_EINVAL;
    pthread_mutex_lock(&reg->mu);
    int rc = ZT_EINVAL;
    struct zt_sched *s = NULL;
    if (reg->lost_fn) goto out; /* one scheduler per registry */
    if ((rc = zt_store_migrate(reg->st, &SCHED_SCHEMA)) != 0) goto out;
    rc = ZT_ENOMEM;
    if (!(s = zt_calloc(1, sizeof *s))) goto out;
    s->r = reg;
    s->st = reg->st;
    s->o = opts;
    s->self = reg->self_id;
    if ((rc = zt_store_prepare_all(s->st, s, STMTS, sizeof STMTS / sizeof STMTS[0])) != 0) goto out;
    reg->lost_fn = on_lost;
    reg->lost_ud = s;
    if ((rc = resume(s, now_ms)) != 0) goto out;
    *out = s;
    s = NULL;
out:
    pthread_mutex_unlock(&reg->mu);
    zt_sched_free(s);
    return rc;
}

void zt_sched_free(struct zt_sched *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->r->mu);
    for (size_t i = 0; i < s->jobs.cap; i++) {
        struct orch_map_slot *sl = &s->jobs.slots[i];
        if (!sl->key || sl->key == orch_map_tomb) continue;
        struct orch_job *j = sl->val;
        node_unlink(j);
        if (j->state == ZT_JOB_STATE_QUEUED) j->model->queued--;
        zt_free(j);
    }
    for (size_t i = 0; i < s->clients.cap; i++) {
        struct orch_map_slot *sl = &s->clients.slots[i];
        if (sl->key && sl->key != orch_map_tomb) zt_free(sl->val);
    }
    if (s->r->lost_ud == s) {
        s->r->lost_fn = NULL;
        s->r->lost_ud = NULL;
    }
    pthread_mutex_unlock(&s->r->mu);
    orch_map_deinit(&s->jobs);
    orch_map_deinit(&s->clients);
    zt_store_stmt_free_all(s, STMTS, sizeof STMTS / sizeof STMTS[0]);
    zt_free(s->pend);
    zt_free(s);
}

static bool good_name(const char *p, size_t max)
{
    if (!p) return false;
    size_t n = strnlen(p, max + 1);
    return n > 0 && n <= max && zt_utf8_valid(p, n);
}

static int submit_locked(struct zt_sched *s, const struct zt_job_req *req, int64_t now, struct zt_sched_result *out)
{
    if (req->deadline_ms && req->deadline_ms <= now) return ZT_ETIMEDOUT;
    struct orch_model *m = orch_model_get(s->r, req->model, false);
    struct orch_job probe = {.model = m, .ctx = req->ctx_tokens, .max_tokens = req->max_tokens,
                             .price_ceiling = req->price_ceiling, .deadline = req->deadline_ms};
    if (!m || !servable(s, &probe, now)) return ZT_ENOTFOUND;
    struct orch_node *w = m->queued == 0 ? pick(s, &probe, now) : NULL;
    if (!w) {
        struct orch_client *c = orch_map_get(&s->clients, req->client);
        if (s->queued >= s->o.max_queued || (c && c->n_queued >= s->o.max_queued_per_client)) {
            out->retry_after_s = retry_after(s, m, now);
            return ZT_EBUSY;
        }
    }
    uint8_t rnd[16];
    char id[ZT_JOB_ID_SIZE];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(id, sizeof id, rnd, sizeof rnd);
    struct orch_job *j;
    int rc = new_job(s, id, req->client, req->model, &j);
    if (rc) return rc;
    j->ctx = req->ctx_tokens;
    j->max_tokens = req->max_tokens;
    j->price_ceiling = req->price_ceiling;
    j->deadline = req->deadline_ms;
    if (req->gateway) zt_strlcpy(j->gateway, req->gateway, sizeof j->gateway);
    j->created = j->updated = now;
    j->seq = s->next_seq;
    j->state = ZT_JOB_STATE_QUEUED;
    /* the insert and the assignment commit together */
    if ((rc = zt_store_begin(s->st)) != 0) goto fail;
    rc = job_insert(s, j);
    if (!rc && w) rc = assign(s, j, w, now);
    if (!rc) rc = zt_store_commit(s->st);
    if (rc) {
        zt_ignore(zt_store_rollback(s->st));
        if (j->node) node_unlink(j);
        goto fail;
    }
    s->next_seq++;
    if (!w) enqueue(s, j, false);
    if (s->queue) {
        /* pending here from its first moment; claimed by another orchestrator if this one dies */
        rc = zt_queue_push_own(s->queue, j->id, s->self, strlen(s->self), j->qid);
        if (rc) zt_log_rl(ZT_LOG_WARN, 10, "sched_queue_push_failed", "job=%s error=%s", j->id, zt_strerror(rc));
    }
    memset(out, 0, sizeof *out);
    out->state = j->state;
    zt_strlcpy(out->job_id, j->id, sizeof out->job_id);
    if (w) zt_strlcpy(out->worker, w->id, sizeof out->worker);
    return 0;
fail:
    job_drop(s, j);
    return rc;
}

int zt_sched_submit(struct zt_sched *s, const struct zt_job_req *req, int64_t now_ms, struct zt_sched_result *out)
{
    if (!s || !req || !out || !good_name(req->client, ZT_SCHED_CLIENT_MAX) ||
        !good_name(req->model, ZT_DESCRIPTOR_MAX_STR) || req->max_tokens == 0 || req->price_ceiling > INT64_MAX ||
        (req->gateway && req->gateway[0] && !zt_identity_id_valid(req->gateway)) ||
        req->deadline_ms < 0)
        return ZT_EINVAL;
    out->retry_after_s = 0;
    pthread_mutex_lock(&s->r->mu);
    int rc = submit_locked(s, req, now_ms, out);
    pthread_mutex_unlock(&s->r->mu);
    return rc;
}

/* Fail queued jobs past their deadline. */
static void deadlines(struct zt_sched *s, int64_t now)
{
    struct orch_client *c = s->ring;
    if (!c) return;
    /* collect first: failing a job may take its client off the ring */
    size_t n = 0;
    struct orch_client *it = c;
    do {
        for (struct orch_job *j = it->head; j; j = j->q_next) n += j->deadline && j->deadline <= now;
        it = it->next;
    } while (it != c);
    if (!n) return;
    struct orch_job **late = zt_calloc(n, sizeof *late);
    if (!late) return; /* next time */
    size_t k = 0;
    it = c;
    do {
        for (struct orch_job *j = it->head; j; j = j->q_next)
            if (j->deadline && j->deadline <= now && k < n) late[k++] = j;
        it = it->next;
    } while (it != c);
    for (size_t i = 0; i < k; i++) {
        struct orch_job *j = late[i];
        if (job_move(s, j, ZT_JOB_STATE_FAILED, NULL, now, "deadline") != 0) continue;
        event(s, ZT_SCHED_EV_FAILED, j, NULL);
        dequeue(s, j);
        job_drop(s, j);
    }
    zt_free(late);
}

/* DRR over the clients' queues; stops when a whole round places nothing or
 * max events are out. */
static int place(struct zt_sched *s, int64_t now, struct zt_sched_event *ev, size_t max, size_t *n)
{
    struct orch_job *taken = NULL; /* jobs whose rows another orchestrator took */
    int err = 0;
    s->pass++;
    bool progress = true;
    /* whose turn it is after this pump: the client after the last one served
     * (a round that places nothing must not move the turn) */
    struct orch_client *turn = NULL;
    while (progress && s->ring && *n < max) {
        progress = false;
        size_t clients = 0; /* one visit each in this round */
        struct orch_client *it = s->ring;
        do {
            clients++;
            it = it->next;
        } while (it != s->ring);
        for (size_t visit = 0; visit < clients && s->ring && *n < max; visit++) {
            struct orch_client *c = s->ring;
            c->deficit += s->o.quantum;
            bool blocked = false, served_now = false;
            while (c->head && *n < max) {
                struct orch_job *j = c->head;
                int64_t cost = j->max_tokens < s->o.quantum ? j->max_tokens : s->o.quantum;
                if (cost > c->deficit) break;
                struct orch_node *w = j->model->scan_mark == s->pass ? NULL : pick(s, j, now);
                if (!w) {
                    j->model->scan_mark = s->pass; /* no free slot for it in this pump */
                    blocked = true;
                    break;
                }
                int rc = assign(s, j, w, now);
                if (rc == ZT_EINVAL) {
                    /* the row is not ours any more: another orchestrator of
                     * the store continued it for its gateway (zt_sched_job_adopt) */
                    zt_log(ZT_LOG_WARN, "sched_job_taken", "job=%s action=dropped_here", j->id);
                    dequeue(s, j);
                    j->q_next = taken; /* dropped at the end: its client may go with it */
                    taken = j;
                    continue;
                }
                if (rc) {
                    err = rc;
                    goto out;
                }
                dequeue(s, j); /* takes c off the ring when it was its last */
                c->deficit -= cost;
                struct zt_sched_event *e = &ev[(*n)++];
                memset(e, 0, sizeof *e);
                e->kind = ZT_SCHED_EV_ASSIGNED;
                zt_strlcpy(e->job_id, j->id, sizeof e->job_id);
                zt_strlcpy(e->worker, w->id, sizeof e->worker);
                progress = served_now = true;
            }
            if (c->in_ring) {
                if (blocked && c->deficit > (int64_t)s->o.quantum) c->deficit = s->o.quantum;
                if (*n < max) s->ring = c->next; /* the next client's turn (else c goes on next pump) */
            }
            if (served_now) turn = c->in_ring ? (*n < max ? c->next : c) : s->ring;
        }
    }
    if (turn && turn->in_ring) s->ring = turn;
out:
    while (taken) {
        struct orch_job *next = taken->q_next;
        job_drop(s, taken);
        taken = next;
    }
    return err;
}

/* ---- several orchestrators: the shared queue ------------------------------------ */

#define TAKE_MAX 64 /* claimed entries handled per pump */

/* Renew this orchestrator's entries (a third of the claim window apart). */
static void renew(struct zt_sched *s, int64_t now)
{
    int64_t idle = zt_queue_claim_idle_ms(s->queue);
    if (now < s->next_renew) return;
    s->next_renew = now + (idle / 3 > 0 ? idle / 3 : 1);
    size_t n = 0, cap = s->jobs.n;
    const char **ids = cap ? zt_calloc(cap, sizeof *ids) : NULL;
    if (cap && !ids) return;
    for (size_t i = 0; i < s->jobs.cap && n < cap; i++) {
        struct orch_map_slot *sl = &s->jobs.slots[i];
        if (!sl->key || sl->key == orch_map_tomb) continue;
        struct orch_job *j = sl->val;
        if (j->qid[0]) ids[n++] = j->qid;
    }
    int rc = n ? zt_queue_renew(s->queue, ids, n) : 0;
    if (rc) zt_log_rl(ZT_LOG_WARN, 10, "sched_queue_renew_failed", "jobs=%zu error=%s", n, zt_strerror(rc));
    zt_free(ids);
}

/* Take over job_id from the orchestrator whose row it is, for gateway (NULL:
 * whichever gateway the row names; never a row without one); from (NULL:
 * any owner): only from that owner (a claimed queue entry's dead holder),
 * ZT_ECLOSED when another (live) orchestrator has the row now. The row moves
 * by compare-and-set on (owner, state), then memory follows the resume
 * rule: queued -> this queue (at the front: it waited), assigned/running ->
 * its worker when live here, else the worker-lost rule; done -> the store
 * only (a verdict may follow). *jout: the job in memory (NULL when done or
 * failed by the worker-lost rule); out (may be NULL): the job after.
 * ZT_EPERM: not the gateway's (or no gateway); ZT_ENOTFOUND; ZT_EEXIST:
 * ended (failed or verified; out filled); ZT_EBUSY: the row kept moving. */
static void info_of(const struct orch_job *j, const char *client, const char *model, const char *worker,
                    struct zt_job_info *out);

static int adopt_locked(struct zt_sched *s, const char *job_id, const char *gateway, const char *from, int64_t now,
                        struct orch_job **jout, struct zt_job_info *out)
{
    *jout = NULL;
    struct orch_job *j = orch_map_get(&s->jobs, job_id);
    if (j) { /* here already (taken over, or ours) */
        if (!j->gateway[0] || (gateway && strcmp(j->gateway, gateway) != 0)) return ZT_EPERM;
        if (out) info_of(j, j->client->name, j->model->name, worker_of(j), out);
        *jout = j;
        return 0;
    }
    for (int tries = 0; tries < 3; tries++) {
        struct orch_job t;
        struct row w;
        char owner[ZT_IDENTITY_ID_SIZE + 8];
        struct zt_store_stmt *q = s->q_take_get;
        int rc = zt_store_bind_text(q, 1, job_id, SIZE_MAX);
        if (!rc) {
            rc = zt_store_step(q);
            rc = rc == ZT_STORE_ROW ? read_row(q, &t, &w) : rc == ZT_STORE_DONE ? ZT_ENOTFOUND : rc;
        }
        if (!rc) rc = text_col(q, 19, owner, sizeof owner);
        zt_store_reset(q);
        if (rc) return rc;
        if (from && strcmp(owner, from) != 0) return ZT_ECLOSED;
        if (!t.gateway[0] || (gateway && strcmp(t.gateway, gateway) != 0)) return ZT_EPERM;
        if (t.state == ZT_JOB_STATE_FAILED || t.state == ZT_JOB_STATE_VERIFIED) {
            if (out) info_of(&t, w.client, w.model, w.worker, out);
            return ZT_EEXIST;
        }
        if (strcmp(owner, s->self) == 0 && t.state == ZT_JOB_STATE_DONE) { /* taken already, and done here */
            if (out) info_of(&t, w.client, w.model, w.worker, out);
            return 0;
        }
        q = s->q_take;
        rc = zt_store_bind_text(q, 1, s->self, SIZE_MAX);
        if (!rc) rc = zt_store_bind_i64(q, 2, now);
        if (!rc) rc = zt_store_bind_text(q, 3, job_id, SIZE_MAX);
        if (!rc) rc = zt_store_bind_text(q, 4, owner, SIZE_MAX);
        if (!rc) rc = zt_store_bind_i64(q, 5, t.state);
        if (!rc) rc = run(q);
        else zt_store_reset(q);
        if (rc) return rc;
        if (zt_store_changes(q) != 1) continue; /* moved meanwhile: read it again */
        s->continued++;
        t.updated = now;
        zt_log(ZT_LOG_INFO, "sched_job_continued", "job=%s from=%s state=%s gateway=%s", job_id,
               owner[0] ? owner : "?", zt_job_state_name(t.state), t.gateway);
        if (t.state == ZT_JOB_STATE_DONE) {
            if (out) info_of(&t, w.client, w.model, w.worker, out);
            return 0;
        }
        if ((rc = job_from_row(s, &t, &w, &j)) != 0) return rc;
        if (j->state == ZT_JOB_STATE_QUEUED) {
            enqueue(s, j, true);
        } else {
            struct orch_node *n = w.worker[0] ? orch_node_find(s->r, w.worker) : NULL;
            if (n && n->state == ZT_NODE_LIVE) {
                node_link(j, n);
            } else {
                j->node = n;
                requeue_or_fail(s, j, now, "worker_lost");
            }
        }
        j = orch_map_get(&s->jobs, job_id); /* the worker-lost rule may have ended it */
        if (out) {
            if (j) info_of(j, j->client->name, j->model->name, worker_of(j), out);
            else info_of(&t, w.client, w.model, w.worker, out), out->state = ZT_JOB_STATE_FAILED;
        }
        *jout = j;
        return 0;
    }
    return ZT_EBUSY;
}

int zt_sched_job_adopt(struct zt_sched *s, const char *job_id, const char *gateway, int64_t now_ms,
                       struct zt_job_info *out)
{
    if (!s || !job_id || !gateway || !gateway[0]) return ZT_EINVAL;
    pthread_mutex_lock(&s->r->mu);
    struct orch_job *j;
    int rc = adopt_locked(s, job_id, gateway, NULL, now_ms, &j, out);
    if (!rc && j && !j->qid[0] && s->queue) {
        /* an entry of our own: the old owner's goes when it drops its
         * copy, and this one is what lets another orchestrator claim the
         * job if this one dies */
        int prc = zt_queue_push_own(s->queue, j->id, s->self, strlen(s->self), j->qid);
        if (prc) zt_log_rl(ZT_LOG_WARN, 10, "sched_queue_push_failed", "job=%s error=%s", j->id, zt_strerror(prc));
    }
    pthread_mutex_unlock(&s->r->mu);
    return rc;
}

const char *zt_sched_self(const struct zt_sched *s) { return s ? s->self : NULL; }

uint64_t zt_sched_continued(struct zt_sched *s)
{
    return s ? zt_locked_u64(&s->r->mu, &s->continued) : 0;
}

/* A delivered entry: one of this orchestrator's own (after a restart), or
 * one claimed from a dead orchestrator: a job a gateway in another process
 * submitted is continued here (its gateway may still be alive, and leases
 * it here next), any other ends once. */
static void take_entry(struct zt_sched *s, struct zt_queue_msg *m, int64_t now)
{
    struct orch_job *j = orch_map_get(&s->jobs, m->job_id);
    if (j) {
        /* ours (a restart, or taken back after a stall): keep it pending */
        if (!j->qid[0]) {
            zt_strlcpy(j->qid, m->id, sizeof j->qid);
            return;
        }
        if (strcmp(j->qid, m->id) == 0) return;
    } else if (strcmp(m->from, s->self) != 0) {
        /* the job moves here only while the row is still the holder's: a
         * live orchestrator may have taken it over for its gateway since
         * (its own entry covers it then). The holder is the one that
         * pushed the entry, its body: every entry is pushed by the owner
         * of the row it covers (zt_queue_push_own), and one that moves a
         * job here by a claim pushes a fresh entry of its own and
         * acknowledges the claimed one, so no entry stays held by another
         * than its body names (whom Redis says it was claimed from is not
         * needed, nor trusted when it cannot say) */
        char holder[ZT_QUEUE_KEY_MAX] = "", fresh[ZT_QUEUE_ID_MAX] = "";
        if (m->body && m->len < sizeof holder) {
            memcpy(holder, m->body, m->len);
            holder[m->len] = '\0';
        }
        int rc = zt_queue_push_own(s->queue, m->job_id, s->self, strlen(s->self), fresh);
        if (rc) { /* the claimed entry stays pending here and is claimed again later */
            zt_log_rl(ZT_LOG_WARN, 10, "sched_queue_push_failed", "job=%s error=%s", m->job_id, zt_strerror(rc));
            return;
        }
        struct orch_job *aj = NULL;
        rc = adopt_locked(s, m->job_id, NULL, holder, now, &aj, NULL);
        if (rc == 0 && aj) {
            /* pending here now under its fresh entry, renewed by this
             * orchestrator; its gateway's lease calls find it (the ADOPTED
             * event opens its lease) */
            zt_strlcpy(aj->qid, fresh, sizeof aj->qid);
            event(s, ZT_SCHED_EV_ADOPTED, aj, aj->linked ? aj->node : NULL);
            goto ack;
        }
        int arc = zt_queue_ack(s->queue, fresh); /* not moved here: no entry of ours for it */
        if (arc && arc != ZT_ENOTFOUND)
            zt_log_rl(ZT_LOG_WARN, 10, "sched_queue_ack_failed", "job=%s error=%s", m->job_id, zt_strerror(arc));
        if (rc == ZT_ECLOSED) {
            zt_log(ZT_LOG_INFO, "sched_entry_stale", "job=%s from=%s action=acknowledged reason=taken_over",
                   m->job_id, holder[0] ? holder : "?");
            goto ack;
        }
        if (rc != 0 && rc != ZT_EPERM && rc != ZT_ENOTFOUND && rc != ZT_EEXIST) {
            zt_log_rl(ZT_LOG_WARN, 10, "sched_adopt_failed", "job=%s error=%s", m->job_id, zt_strerror(rc));
            return; /* pending here; claimed again later */
        }
        /* no gateway in another process: the one that held the job's prompt
         * died with its orchestrator, nobody can run it any more; it ends
         * here, once */
        struct zt_store_stmt *q = s->q_adopt;
        rc = zt_store_bind_text(q, 1, s->self, SIZE_MAX);
        if (!rc) rc = zt_store_bind_i64(q, 2, now);
        if (!rc) rc = zt_store_bind_i64(q, 3, now);
        if (!rc) rc = zt_store_bind_text(q, 4, m->job_id, SIZE_MAX);
        if (!rc) rc = zt_store_bind_text(q, 5, holder, SIZE_MAX);
        if (!rc) rc = run(q);
        else zt_store_reset(q);
        if (rc) {
            /* the entry stays pending here and is claimed again later */
            zt_log_rl(ZT_LOG_WARN, 10, "sched_adopt_failed", "job=%s error=%s", m->job_id, zt_strerror(rc));
            return;
        }
        if (zt_store_changes(q) == 1) {
            s->adopted++;
            zt_log(ZT_LOG_INFO, "sched_job_adopted", "job=%s from=%s action=failed reason=orchestrator_lost",
                   m->job_id, m->from[0] ? m->from : "?");
        }
    }
    /* finished already (its ack was lost), ended now, taken over by a live
     * orchestrator, or a duplicate entry */
ack:;
    int rc = zt_queue_ack(s->queue, m->id);
    if (rc && rc != ZT_ENOTFOUND)
        zt_log_rl(ZT_LOG_WARN, 10, "sched_queue_ack_failed", "job=%s error=%s", m->job_id, zt_strerror(rc));
}

static void takeover(struct zt_sched *s, int64_t now)
{
    renew(s, now);
    if (now < s->next_claim) return;
    s->next_claim = now + 1000;
    for (int i = 0; i < TAKE_MAX; i++) {
        struct zt_queue_msg m;
        int rc = zt_queue_take(s->queue, 0, &m);
        if (rc) {
            if (rc != ZT_ENOTFOUND) zt_log_rl(ZT_LOG_WARN, 10, "sched_queue_take_failed", "error=%s", zt_strerror(rc));
            break;
        }
        take_entry(s, &m, now);
        zt_queue_msg_clear(&m);
    }
}

void zt_sched_set_queue(struct zt_sched *s, struct zt_queue *q)
{
    if (!s) return;
    pthread_mutex_lock(&s->r->mu);
    s->queue = q;
    s->next_renew = s->next_claim = 0;
    pthread_mutex_unlock(&s->r->mu);
}

uint64_t zt_sched_adopted(struct zt_sched *s)
{
    return s ? zt_locked_u64(&s->r->mu, &s->adopted) : 0;
}

int zt_sched_pump(struct zt_sched *s, int64_t now_ms, struct zt_sched_event *ev, size_t max, size_t *n)
{
    if (!s || !n || (max && !ev)) return ZT_EINVAL;
    *n = 0;
    pthread_mutex_lock(&s->r->mu);
    orch_sync_locked(s->r, now_ms, false);
    if (s->queue) takeover(s, now_ms);
    if (now_ms >= s->r->next_expire) orch_expire_locked(s->r, now_ms);
    if (now_ms >= s->next_deadline_scan) {
        deadlines(s, now_ms);
        s->next_deadline_scan = now_ms + 1000;
    }
    /* events from expiry, deadlines and earlier worker losses first */
    size_t k = s->n_pend < max ? s->n_pend : max;
    if (k) {
        memcpy(ev, s->pend, k * sizeof *ev);
        memmove(s->pend, s->pend + k, (s->n_pend - k) * sizeof *s->pend);
        s->n_pend -= k;
        *n = k;
    }
    int rc = place(s, now_ms, ev, max, n);
    pthread_mutex_unlock(&s->r->mu);
    return rc;
}

/* The active job id run by worker (NULL worker: any). */
static int find_active(struct zt_sched *s, const char *job_id, const char *worker, struct orch_job **out)
{
    struct orch_job *j = orch_map_get(&s->jobs, job_id);
    if (!j) return ZT_ENOTFOUND;
    if (worker && (!j->node || strcmp(j->node->id, worker) != 0 ||
                   (j->state != ZT_JOB_STATE_ASSIGNED && j->state != ZT_JOB_STATE_RUNNING)))
        return j->state == ZT_JOB_STATE_QUEUED ? ZT_EINVAL : ZT_EPERM;
    *out = j;
    return 0;
}

int zt_sched_job_started(struct zt_sched *s, const char *job_id, const char *worker, int64_t now_ms)
{
    if (!s || !job_id || !worker) return ZT_EINVAL;
    pthread_mutex_lock(&s->r->mu);
    struct orch_job *j;
    int rc = find_active(s, job_id, worker, &j);
    if (!rc) {
        bool legal = zt_job_transition_legal(j->state, ZT_JOB_STATE_RUNNING);
        rc = job_move(s, j, ZT_JOB_STATE_RUNNING, NULL, now_ms, NULL);
        if (rc == ZT_EINVAL && legal) job_taken(s, j);
    }
    pthread_mutex_unlock(&s->r->mu);
    return rc;
}

int zt_sched_job_finished(struct zt_sched *s, const char *job_id, const char *worker, enum zt_sched_outcome o,
                          uint32_t tokens, int64_t now_ms, enum zt_job_state *state)
{
    if (!s || !job_id || !worker || (unsigned)o > ZT_SCHED_STALLED) return ZT_EINVAL;
    pthread_mutex_lock(&s->r->mu);
    struct orch_job *j;
    int rc = find_active(s, job_id, worker, &j);
    if (!rc && j->state != ZT_JOB_STATE_RUNNING) rc = ZT_EINVAL;
    if (rc) goto out;
    struct orch_node *n = j->node;
    if (o == ZT_SCHED_OK) {
        /* done and the worker's completed count in one transaction (one
         * write instead of two): a crash before its commit leaves the job
         * running and the count as it was (the restart's worker-lost rule
         * requeues it, as for a crash before any write); after it, both */
        struct orch_job was = *j;
        double lat_was = n->lat;
        double ms = (double)(now_ms - j->started);
        if (ms < 0) ms = 0;
        j->tokens = tokens;
        bool tx = zt_store_begin(s->st) == 0;
        if (tx) orch_undo_begin(s->r);
        rc = job_move(s, j, ZT_JOB_STATE_DONE, NULL, now_ms, "");
        if (!rc) orch_node_latency(n, ms / (tokens ? tokens : 1), s->o.ewma_alpha); /* saved with the count */
        if (!rc && tx) {
            /* a count that fails is lost, as before (the node as it was); the move commits */
            if (orch_node_report(s->r, n, ZT_OUTCOME_COMPLETED, now_ms) != 0) orch_undo_restore(s->r);
            rc = zt_store_commit(s->st);
        }
        if (tx) {
            if (rc) zt_ignore(zt_store_rollback(s->st));
            orch_undo_end(s->r, rc != 0);
        }
        if (rc) {
            *j = was;
            n->lat = lat_was;
            if (rc == ZT_EINVAL) job_taken(s, j); /* running -> done is legal: the row was taken */
            goto out;
        }
        if (!tx) zt_ignore(orch_node_report(s->r, n, ZT_OUTCOME_COMPLETED, now_ms));
        s->job_ms = s->job_ms > 0 ? 0.9 * s->job_ms + 0.1 * ms : ms;
        if (state) *state = ZT_JOB_STATE_DONE;
        job_drop(s, j);
    } else {
        zt_ignore(orch_node_report(s->r, n, o == ZT_SCHED_STALLED ? ZT_OUTCOME_TIMED_OUT : ZT_OUTCOME_FAILED, now_ms));
        requeue_or_fail(s, j, now_ms, o == ZT_SCHED_STALLED ? "stalled" : "worker_failed");
        /* requeue_or_fail may have dropped j */
        struct orch_job *still = orch_map_get(&s->jobs, job_id);
        if (state) *state = still ? still->state : ZT_JOB_STATE_FAILED;
    }
out:
    pthread_mutex_unlock(&s->r->mu);
    return rc;
}

/* A finished job (done) from the store whose move to `to` is legal, in *t
 * and its worker in *w. */
static int finished_get(struct zt_sched *s, const char *job_id, enum zt_job_state to, struct orch_job *t, struct row *w)
{
    int rc = zt_store_bind_text(s->q_get, 1, job_id, SIZE_MAX);
    if (!rc) {
        rc = zt_store_step(s->q_get);
        rc = rc == ZT_STORE_ROW ? read_row(s->q_get, t, w) : rc == ZT_STORE_DONE ? ZT_ENOTFOUND : rc;
    }
    zt_store_reset(s->q_get);
    if (rc) return rc;
    return zt_job_transition_legal(t->state, to) ? 0 : ZT_EINVAL;
}

/* A finished job (done) from the store, moved to `to`. */
static int finished_move(struct zt_sched *s, const char *job_id, enum zt_job_state to, enum zt_outcome o,
                         int64_t now, char worker[static ZT_IDENTITY_ID_SIZE])
{
    struct orch_job t;
    struct row w;
    int rc = finished_get(s, job_id, to, &t, &w);
    if (rc) return rc;
    enum zt_job_state from = t.state;
    t.state = to;
    t.updated = now;
    if (to == ZT_JOB_STATE_FAILED) zt_strlcpy(t.reason, "verification_mismatch", sizeof t.reason);
    if ((rc = job_write(s, &t, w.worker[0] ? w.worker : NULL, from)) != 0) return rc;
    zt_strlcpy(worker, w.worker, ZT_IDENTITY_ID_SIZE);
    struct orch_node *n = w.worker[0] ? orch_node_find(s->r, w.worker) : NULL;
    if (n) rc = orch_node_report(s->r, n, o, now);
    return rc;
}

int orch_sched_verdict_locked(struct zt_sched *s, const char *job_id, enum zt_job_state to, enum zt_outcome o,
                              int64_t now_ms, char worker[static ZT_IDENTITY_ID_SIZE])
{
    worker[0] = '\0';
    return orch_map_get(&s->jobs, job_id) ? ZT_EINVAL : finished_move(s, job_id, to, o, now_ms, worker);
}

void orch_sched_rejected_hook(struct zt_sched *s, const char *job_id, const char *worker)
{
    if (!worker || !worker[0]) return;
    pthread_mutex_lock(&s->r->mu);
    zt_sched_verdict_fn hook = s->on_rejected;
    void *hook_ud = s->on_rejected_ud;
    pthread_mutex_unlock(&s->r->mu);
    if (hook) hook(hook_ud, job_id, worker);
}

struct zt_store *orch_sched_store(const struct zt_sched *s) { return s->st; }

/* The verdict on a finished job (one no longer in the live map): moves it
 * to `to` and reports outcome o for its worker, under the registry lock. */
static int finished_verdict(struct zt_sched *s, const char *job_id, enum zt_job_state to, enum zt_outcome o,
                            int64_t now_ms)
{
    if (!s || !job_id) return ZT_EINVAL;
    char worker[ZT_IDENTITY_ID_SIZE] = "";
    pthread_mutex_lock(&s->r->mu);
    int rc = orch_sched_verdict_locked(s, job_id, to, o, now_ms, worker);
    pthread_mutex_unlock(&s->r->mu);
    /* a confirmed mismatch: the node's hook (the ledger's slash), outside the lock */
    if (!rc && to == ZT_JOB_STATE_FAILED) orch_sched_rejected_hook(s, job_id, worker);
    return rc;
}

int zt_sched_job_verified(struct zt_sched *s, const char *job_id, int64_t now_ms)
{
    return finished_verdict(s, job_id, ZT_JOB_STATE_VERIFIED, ZT_OUTCOME_VERIFIED, now_ms);
}

int zt_sched_job_rejected(struct zt_sched *s, const char *job_id, int64_t now_ms)
{
    return finished_verdict(s, job_id, ZT_JOB_STATE_FAILED, ZT_OUTCOME_CHEAT, now_ms);
}

int zt_sched_job_rejected_as(struct zt_sched *s, const char *job_id, enum zt_outcome o, int64_t now_ms)
{
    return finished_verdict(s, job_id, ZT_JOB_STATE_FAILED, o, now_ms);
}

int zt_sched_job_cancel(struct zt_sched *s, const char *job_id, int64_t now_ms)
{
    if (!s || !job_id) return ZT_EINVAL;
    pthread_mutex_lock(&s->r->mu);
    struct orch_job *j = orch_map_get(&s->jobs, job_id);
    bool queued = j && j->state == ZT_JOB_STATE_QUEUED;
    int rc = j ? job_move(s, j, ZT_JOB_STATE_FAILED, NULL, now_ms, "cancelled") : ZT_ENOTFOUND;
    if (rc == ZT_EINVAL) {
        job_taken(s, j); /* the row moved under us */
    } else if (!rc) {
        if (queued) dequeue(s, j);
        job_drop(s, j);
    }
    pthread_mutex_unlock(&s->r->mu);
    return rc;
}

static void info_of(const struct orch_job *j, const char *client, const char *model, const char *worker,
                    struct zt_job_info *out)
{
    memset(out, 0, sizeof *out);
    zt_strlcpy(out->job_id, j->id, sizeof out->job_id);
    zt_strlcpy(out->client, client, sizeof out->client);
    zt_strlcpy(out->model, model, sizeof out->model);
    if (worker) zt_strlcpy(out->worker, worker, sizeof out->worker);
    zt_strlcpy(out->reason, j->reason, sizeof out->reason);
    zt_strlcpy(out->gateway, j->gateway, sizeof out->gateway);
    out->state = j->state;
    out->attempts = j->attempts;
    out->ctx_tokens = j->ctx;
    out->max_tokens = j->max_tokens;
    out->tokens = j->tokens;
    out->price_ceiling = j->price_ceiling;
    out->deadline_ms = j->deadline;
    out->created_ms = j->created;
    out->updated_ms = j->updated;
    out->assigned_ms = j->assigned;
    out->started_ms = j->started;
    out->finished_ms = j->finished;
}

int zt_sched_job_get(struct zt_sched *s, const char *job_id, struct zt_job_info *out)
{
    if (!s || !job_id || !out) return ZT_EINVAL;
    pthread_mutex_lock(&s->r->mu);
    struct orch_job *j = orch_map_get(&s->jobs, job_id);
    int rc = 0;
    if (j) {
        info_of(j, j->client->name, j->model->name, worker_of(j), out);
    } else {
        struct orch_job t;
        struct row w;
        rc = zt_store_bind_text(s->q_get, 1, job_id, SIZE_MAX);
        if (!rc) {
            rc = zt_store_step(s->q_get);
            rc = rc == ZT_STORE_ROW ? read_row(s->q_get, &t, &w) : rc == ZT_STORE_DONE ? ZT_ENOTFOUND : rc;
        }
        zt_store_reset(s->q_get);
        if (!rc) info_of(&t, w.client, w.model, w.worker, out);
    }
    pthread_mutex_unlock(&s->r->mu);
    return rc;
}

int zt_sched_job_list(struct zt_sched *s, struct zt_job_info *out, size_t max, size_t *n)
{
    if (!s || (!out && max) || !n) return ZT_EINVAL;
    *n = 0;
    if (!max) return 0;
    size_t got = 0;
    pthread_mutex_lock(&s->r->mu);
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(s->st, SQL_RECENT, &q);
    if (!rc) rc = zt_store_bind_i64(q, 1, (int64_t)(max > INT64_MAX ? INT64_MAX : max));
    while (!rc && got < max) {
        rc = zt_store_step(q);
        if (rc == ZT_STORE_DONE) {
            rc = 0;
            break;
        }
        if (rc != ZT_STORE_ROW) break;
        struct orch_job t;
        struct row w;
        rc = read_row(q, &t, &w);
        if (rc) break;
        /* an active job's row may lag its memory (the worker, the state) */
        struct orch_job *j = orch_map_get(&s->jobs, t.id);
        if (j) info_of(j, j->client->name, j->model->name, worker_of(j), &out[got]);
        else info_of(&t, w.client, w.model, w.worker, &out[got]);
        got++;
    }
    zt_store_stmt_free(q);
    pthread_mutex_unlock(&s->r->mu);
    if (!rc) *n = got;
    return rc;
}

bool zt_sched_job_servable(struct zt_sched *s, const char *job_id, int64_t now_ms)
{
    if (!s || !job_id) return false;
    pthread_mutex_lock(&s->r->mu);
    struct orch_job *j = orch_map_get(&s->jobs, job_id);
    bool ok = j && (j->state != ZT_JOB_STATE_QUEUED || servable(s, j, now_ms));
    pthread_mutex_unlock(&s->r->mu);
    return ok;
}

size_t zt_sched_queued(struct zt_sched *s)
{
    if (!s) return 0;
    pthread_mutex_lock(&s->r->mu);
    size_t n = s->queued;
    pthread_mutex_unlock(&s->r->mu);
    return n;
}

/* ---- metrics ------------------------------------------------------------------- */

/* fams[0..2]: one unlabelled sample each. */
static int m_sched(void *ud, struct zt_metrics_out *out)
{
    struct zt_sched *s = ud;
    size_t i = zt_metrics_out_index(out);
    uint64_t v = i == 0 ? (uint64_t)zt_sched_queued(s) : i == 1 ? zt_sched_adopted(s) : zt_sched_continued(s);
    return zt_metrics_emit_u64(out, NULL, NULL, v);
}

int zt_sched_register_metrics(struct zt_sched *s, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_orchestrator_queue_depth", "Jobs waiting for a worker.", ZT_METRIC_GAUGE, m_sched},
        {"zentalk_orchestrator_jobs_adopted_total",
         "Jobs of a dead orchestrator (its shared-queue entries claimed) that this one ended.", ZT_METRIC_COUNTER,
         m_sched},
        {"zentalk_orchestrator_jobs_continued_total",
         "Jobs another orchestrator of the shared store placed that this one took over for their gateway.",
         ZT_METRIC_COUNTER, m_sched},
    };
    return zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], s);
}
