/* registry.c: the worker registry (zt_registry.h): sessions from signed
 * join/heartbeat/leave records, replay and duplicate-id refusal, expiry,
 * reputation, persisted under the store owner "registry"
 * (docs/internals/orchestrator.md). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "orch_int.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

/* ---- schema ------------------------------------------------------------------ */

static const struct zt_store_step REG_STEPS[] = {
    /* 1: nodes, their last session and reputation (counts in millionths) */
    {.sql = "CREATE TABLE registry_nodes(node_id TEXT PRIMARY KEY, record TEXT, pk BLOB NOT NULL,"
            " state INTEGER NOT NULL, has_session INTEGER NOT NULL, boot BLOB, seq INTEGER NOT NULL,"
            " last_ts INTEGER NOT NULL, joined INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
            " prev_boot BLOB, takeover_ts INTEGER NOT NULL, busy INTEGER NOT NULL, queue INTEGER NOT NULL,"
            " good_u INTEGER NOT NULL, bad_u INTEGER NOT NULL, rep_t INTEGER NOT NULL,"
            " completed INTEGER NOT NULL, failed INTEGER NOT NULL, timed_out INTEGER NOT NULL,"
            " mismatches INTEGER NOT NULL, verified INTEGER NOT NULL, dup_refused INTEGER NOT NULL,"
            " banned INTEGER NOT NULL, quarantine_until INTEGER NOT NULL, lat_u INTEGER NOT NULL);",
     .sql_pg = "CREATE TABLE registry_nodes(node_id TEXT PRIMARY KEY, record TEXT, pk BYTEA NOT NULL,"
               " state BIGINT NOT NULL, has_session BIGINT NOT NULL, boot BYTEA, seq BIGINT NOT NULL,"
               " last_ts BIGINT NOT NULL, joined BIGINT NOT NULL, last_seen BIGINT NOT NULL,"
               " prev_boot BYTEA, takeover_ts BIGINT NOT NULL, busy BIGINT NOT NULL, queue BIGINT NOT NULL,"
               " good_u BIGINT NOT NULL, bad_u BIGINT NOT NULL, rep_t BIGINT NOT NULL,"
               " completed BIGINT NOT NULL, failed BIGINT NOT NULL, timed_out BIGINT NOT NULL,"
               " mismatches BIGINT NOT NULL, verified BIGINT NOT NULL, dup_refused BIGINT NOT NULL,"
               " banned BIGINT NOT NULL, quarantine_until BIGINT NOT NULL, lat_u BIGINT NOT NULL);"},
    /* 2: a row version (unix ms of the write, strictly growing per row) so
     * that orchestrators sharing the store read each other's changes */
    {.sql = "ALTER TABLE registry_nodes ADD COLUMN upd INTEGER NOT NULL DEFAULT 0;"
            "CREATE INDEX registry_nodes_upd ON registry_nodes(upd);",
     .sql_pg = "ALTER TABLE registry_nodes ADD COLUMN upd BIGINT NOT NULL DEFAULT 0;"
               "CREATE INDEX registry_nodes_upd ON registry_nodes(upd);"},
};
static const struct zt_store_schema REG_SCHEMA = ZT_STORE_SCHEMA("registry", REG_STEPS);

#define COLS                                                                                             \
    "pk, state, has_session, boot, seq, last_ts, joined, last_seen, prev_boot, takeover_ts, busy, queue, " \
    "good_u, bad_u, rep_t, completed, failed, timed_out, mismatches, verified, dup_refused, banned, "      \
    "quarantine_until, lat_u"
#define N_COLS 24

static const char SQL_PUT[] =
    "INSERT INTO registry_nodes(node_id, record, " COLS ", upd) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT(node_id) DO UPDATE SET record=excluded.record, pk=excluded.pk, state=excluded.state,"
    " has_session=excluded.has_session, boot=excluded.boot, seq=excluded.seq, last_ts=excluded.last_ts,"
    " joined=excluded.joined, last_seen=excluded.last_seen, prev_boot=excluded.prev_boot,"
    " takeover_ts=excluded.takeover_ts, busy=excluded.busy, queue=excluded.queue, good_u=excluded.good_u,"
    " bad_u=excluded.bad_u, rep_t=excluded.rep_t, completed=excluded.completed, failed=excluded.failed,"
    " timed_out=excluded.timed_out, mismatches=excluded.mismatches, verified=excluded.verified,"
    " dup_refused=excluded.dup_refused, banned=excluded.banned, quarantine_until=excluded.quarantine_until,"
    " lat_u=excluded.lat_u, upd=excluded.upd";
static const char SQL_UPD[] =
    "UPDATE registry_nodes SET pk=?, state=?, has_session=?, boot=?, seq=?, last_ts=?, joined=?, last_seen=?,"
    " prev_boot=?, takeover_ts=?, busy=?, queue=?, good_u=?, bad_u=?, rep_t=?, completed=?, failed=?,"
    " timed_out=?, mismatches=?, verified=?, dup_refused=?, banned=?, quarantine_until=?, lat_u=?, upd=?"
    " WHERE node_id=?";
static const char SQL_DEL[] = "DELETE FROM registry_nodes WHERE node_id=?";
static const char SQL_LOAD[] = "SELECT node_id, record, " COLS ", upd FROM registry_nodes ORDER BY node_id";

static int64_t to_u(double v) { return (int64_t)llround(v * 1e6); }
static double from_u(int64_t v) { return (double)v / 1e6; }

/* Rows another orchestrator changed (opts.sync_ms), oldest change first. */
static const char SQL_SYNC[] = "SELECT node_id, record, " COLS ", upd FROM registry_nodes WHERE upd > ? ORDER BY upd";
/* The statements a registry keeps prepared (zt_store_prepare_all); the
 * last, q_sync, only when it syncs (sync_ms > 0). */
static const struct zt_store_stmt_def STMTS[] = {
    {offsetof(struct zt_registry, q_put), SQL_PUT}, {offsetof(struct zt_registry, q_upd), SQL_UPD},
    {offsetof(struct zt_registry, q_del), SQL_DEL}, {offsetof(struct zt_registry, q_sync), SQL_SYNC},
};
#define N_STMTS (sizeof STMTS / sizeof STMTS[0])

/* The version a write of n's row carries: the wall clock in ms, strictly
 * above the version this registry last saw for the row (so another
 * orchestrator that read that one reads this one as newer). */
static int64_t orch_row_version(struct orch_node *n)
{
    int64_t v = zt_time_real_ms();
    if (v <= n->upd) v = n->upd + 1;
    n->upd = v;
    return v;
}

/* Bind the N_COLS mutable columns from parameter base on. */
static int bind_cols(struct zt_store_stmt *q, int base, const struct orch_node *n)
{
    int64_t v[N_COLS] = {0};
    /* blobs at 0 (pk), 3 (boot), 8 (prev_boot) */
    v[1] = n->state;
    v[2] = n->has_session;
    v[4] = (int64_t)n->seq;
    v[5] = n->last_ts;
    v[6] = n->joined;
    v[7] = n->last_seen;
    v[9] = n->takeover_ts;
    v[10] = n->load.busy;
    v[11] = n->load.queue;
    v[12] = to_u(n->good);
    v[13] = to_u(n->bad);
    v[14] = n->rep_t;
    v[15] = (int64_t)n->completed;
    v[16] = (int64_t)n->failed;
    v[17] = (int64_t)n->timed_out;
    v[18] = (int64_t)n->mismatches;
    v[19] = (int64_t)n->verified;
    v[20] = (int64_t)n->dup_refused;
    v[21] = n->banned;
    v[22] = n->quarantine_until;
    v[23] = to_u(n->lat / 1000.0); /* ms -> s in millionths = microseconds */
    int rc = 0;
    for (int i = 0; i < N_COLS && !rc; i++) {
        if (i == 0)
            rc = zt_store_bind_blob(q, base, n->pk, sizeof n->pk);
        else if (i == 3)
            rc = n->has_session ? zt_store_bind_blob(q, base + 3, n->boot, sizeof n->boot) : zt_store_bind_null(q, base + 3);
        else if (i == 8)
            rc = n->has_prev ? zt_store_bind_blob(q, base + 8, n->prev_boot, sizeof n->prev_boot)
                             : zt_store_bind_null(q, base + 8);
        else
            rc = zt_store_bind_i64(q, base + i, v[i]);
    }
    return rc;
}

static int run(struct zt_store_stmt *q)
{
    int rc = zt_store_step(q);
    zt_store_reset(q);
    return rc == ZT_STORE_DONE ? 0 : rc == ZT_STORE_ROW ? ZT_EIO : rc;
}

/* The whole row, record included (a join). */
static int node_put(struct zt_registry *r, struct orch_node *n)
{
    int rc = zt_store_bind_text(r->q_put, 1, n->id, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(r->q_put, 2, n->record, SIZE_MAX);
    if (!rc) rc = bind_cols(r->q_put, 3, n);
    if (!rc) rc = zt_store_bind_i64(r->q_put, 3 + N_COLS, orch_row_version(n));
    if (!rc) return run(r->q_put);
    zt_store_reset(r->q_put);
    return rc;
}

int orch_node_save(struct zt_registry *r, struct orch_node *n)
{
    int rc = bind_cols(r->q_upd, 1, n);
    if (!rc) rc = zt_store_bind_i64(r->q_upd, N_COLS + 1, orch_row_version(n));
    if (!rc) rc = zt_store_bind_text(r->q_upd, N_COLS + 2, n->id, SIZE_MAX);
    if (!rc) return run(r->q_upd);
    zt_store_reset(r->q_upd);
    return rc;
}

/* ---- reputation ------------------------------------------------------------------ */

double zt_reputation_decay(int64_t age_ms, int64_t half_life_ms)
{
    if (age_ms <= 0 || half_life_ms <= 0) return 1.0;
    return exp2(-(double)age_ms / (double)half_life_ms);
}

double zt_reputation_score(double good, double bad, double prior_good, double prior_bad)
{
    double den = prior_good + prior_bad + good + bad;
    return den > 0 ? (prior_good + good) / den : 0.0;
}

double orch_node_rep(const struct zt_registry *r, const struct orch_node *n, int64_t now)
{
    double f = zt_reputation_decay(now - n->rep_t, r->o.rep_half_life_ms);
    return zt_reputation_score(n->good * f, n->bad * f, r->o.rep_prior_good, r->o.rep_prior_bad);
}

double orch_node_rep_cached(const struct zt_registry *r, struct orch_node *n, int64_t now)
{
    int64_t ttl = r->o.rep_half_life_ms / 1000;
    if (ttl > 60000) ttl = 60000;
    if (n->rep_cache_t == INT64_MIN || now < n->rep_cache_t || now - n->rep_cache_t > ttl) {
        n->rep_cache = orch_node_rep(r, n, now);
        n->rep_cache_t = now;
    }
    return n->rep_cache;
}

bool orch_node_eligible(const struct zt_registry *r, const struct orch_node *n, int64_t now)
{
    return n->has_session && n->state == ZT_NODE_LIVE && !n->banned && n->quarantine_until <= now &&
           orch_node_rep(r, n, now) >= r->o.rep_threshold;
}

uint32_t orch_node_free_slots(const struct orch_node *n)
{
    uint32_t used = n->inflight > n->load.busy ? n->inflight : n->load.busy;
    return used >= n->caps.slots ? 0 : n->caps.slots - used;
}

void orch_node_latency(struct orch_node *n, double ms_per_tok, double alpha)
{
    if (!(ms_per_tok >= 0) || !isfinite(ms_per_tok)) return;
    n->lat = n->lat > 0 ? (1 - alpha) * n->lat + alpha * ms_per_tok : ms_per_tok;
    if (n->lat <= 0) n->lat = 1e-6; /* measured, and fast */
}

/* ---- undo for a settlement's transaction (orch_int.h) ---------------------------- */

void orch_undo_begin(struct zt_registry *r)
{
    r->undo_on = true;
    r->undo_full = false;
    r->n_undo = 0;
}

void orch_undo_restore(struct zt_registry *r)
{
    for (size_t i = r->n_undo; i-- > 0;) *r->undo[i].n = r->undo[i].save;
    r->n_undo = 0;
    r->undo_full = false;
}

void orch_undo_end(struct zt_registry *r, bool restore)
{
    if (restore) orch_undo_restore(r);
    r->n_undo = 0;
    r->undo_on = false;
}

/* n saved before its first change in the transaction: 0, or ZT_ENOMEM
 * (more nodes than ORCH_UNDO_MAX: the transaction must fail). */
static int undo_save(struct zt_registry *r, struct orch_node *n)
{
    for (size_t i = 0; i < r->n_undo; i++)
        if (r->undo[i].n == n) return 0;
    if (r->n_undo == ORCH_UNDO_MAX) {
        r->undo_full = true;
        return ZT_ENOMEM;
    }
    r->undo[r->n_undo].n = n;
    r->undo[r->n_undo].save = *n;
    r->n_undo++;
    return 0;
}

int orch_node_report(struct zt_registry *r, struct orch_node *n, enum zt_outcome o, int64_t now)
{
    if (r->undo_on && undo_save(r, n) != 0) return ZT_ENOMEM;
    struct orch_node save = *n;
    double f = zt_reputation_decay(now - n->rep_t, r->o.rep_half_life_ms);
    n->good *= f;
    n->bad *= f;
    if (now > n->rep_t) n->rep_t = now;
    switch (o) {
    case ZT_OUTCOME_COMPLETED: n->good += 1; n->completed++; break;
    case ZT_OUTCOME_VERIFIED: n->good += 1; n->verified++; break;
    case ZT_OUTCOME_FAILED: n->bad += 1; n->failed++; break;
    case ZT_OUTCOME_TIMED_OUT: n->bad += 1; n->timed_out++; break;
    case ZT_OUTCOME_MISMATCH: n->bad += 3; n->mismatches++; break;
    case ZT_OUTCOME_CHEAT:
        n->mismatches++;
        n->banned = true;
        break;
    default: *n = save; return ZT_EINVAL;
    }
    int rc = orch_node_save(r, n);
    if (rc) {
        *n = save;
        return rc;
    }
    n->rep_cache_t = INT64_MIN;
    if (o == ZT_OUTCOME_CHEAT && !save.banned)
        zt_log(ZT_LOG_WARN, "registry_banned", "node=%s reason=verification_mismatch", n->id);
    return 0;
}

/* ---- nodes and models --------------------------------------------------------------- */

struct orch_node *orch_node_find(struct zt_registry *r, const char *id) { return orch_map_get(&r->nodes, id); }

struct orch_model *orch_model_get(struct zt_registry *r, const char *name, bool create)
{
    struct orch_model *m = orch_map_get(&r->models, name);
    if (m || !create) return m;
    m = zt_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->name = zt_strdup(name);
    if (!m->name || orch_map_put(&r->models, m->name, m) != 0) {
        zt_free(m->name);
        zt_free(m);
        return NULL;
    }
    return m;
}

static int model_reserve(struct orch_model *m)
{
    if (m->n < m->cap) return 0;
    size_t cap = m->cap ? m->cap * 2 : 8;
    struct orch_node **nv = zt_reallocarray(m->nodes, cap, sizeof *nv);
    if (!nv) return ZT_ENOMEM;
    m->nodes = nv;
    m->cap = cap;
    return 0;
}

/* Take n off its models' lists (it keeps its arrays). */
static void detach(struct orch_node *n)
{
    for (size_t i = 0; i < n->n_models; i++) {
        struct orch_model *m = n->models[i];
        size_t pos = n->model_pos[i];
        if (pos == SIZE_MAX) continue;
        struct orch_node *last = m->nodes[--m->n];
        m->nodes[pos] = last;
        for (size_t k = 0; k < last->n_models; k++)
            if (last->models[k] == m) last->model_pos[k] = pos;
        n->model_pos[i] = SIZE_MAX;
    }
}

/* Put n on its models' lists (room was reserved). */
static void attach(struct orch_node *n)
{
    for (size_t i = 0; i < n->n_models; i++) {
        struct orch_model *m = n->models[i];
        if (n->model_pos[i] != SIZE_MAX) continue;
        n->model_pos[i] = m->n;
        m->nodes[m->n++] = n;
    }
}

/* What a session allocated in n (session_commit's fields), released. */
static void node_session_release(struct orch_node *n)
{
    zt_free(n->endpoint);
    zt_free(n->record);
    zt_free(n->models);
    zt_free(n->model_pos);
}

static void node_free(struct orch_node *n)
{
    if (!n) return;
    node_session_release(n);
    zt_free(n);
}

/* A new node (no session yet) in the map and the list. */
static int node_add(struct zt_registry *r, const char *id, const uint8_t *pk, struct orch_node **out)
{
    if (r->n_all == r->cap_all) {
        size_t cap = r->cap_all ? r->cap_all * 2 : 64;
        struct orch_node **nv = zt_reallocarray(r->all, cap, sizeof *nv);
        if (!nv) return ZT_ENOMEM;
        r->all = nv;
        r->cap_all = cap;
    }
    struct orch_node *n = zt_calloc(1, sizeof *n);
    if (!n) return ZT_ENOMEM;
    zt_strlcpy(n->id, id, sizeof n->id);
    memcpy(n->pk, pk, sizeof n->pk);
    n->state = ZT_NODE_EXPIRED;
    n->rep_cache_t = INT64_MIN;
    if (orch_map_put(&r->nodes, n->id, n) != 0) {
        zt_free(n);
        return ZT_ENOMEM;
    }
    n->idx = r->n_all;
    r->all[r->n_all++] = n;
    *out = n;
    return 0;
}

static void node_remove_last(struct zt_registry *r, struct orch_node *n)
{
    orch_map_del(&r->nodes, n->id);
    r->n_all--;
    node_free(n);
}

/* The session ended (expired, left, replaced, quarantined). */
static void end_session(struct zt_registry *r, struct orch_node *n, enum zt_node_state st, int64_t now)
{
    bool was_live = n->state == ZT_NODE_LIVE;
    n->state = st;
    detach(n);
    if (was_live && r->lost_fn && n->jobs) r->lost_fn(r->lost_ud, n, st == ZT_NODE_EXPIRED, now);
}

/* What a verified join brings, allocated before anything changes. */
struct session {
    char *endpoint, *record;
    struct orch_model **models;
    size_t *pos;
    size_t n;
};

static void session_free(struct session *s)
{
    zt_free(s->endpoint);
    zt_free(s->record);
    zt_free(s->models);
    zt_free(s->pos);
    memset(s, 0, sizeof *s);
}

static int session_prepare(struct zt_registry *r, const struct zt_node_descriptor *d, const char *rec, size_t len,
                           struct session *s)
{
    memset(s, 0, sizeof *s);
    s->endpoint = zt_strdup(d->endpoint);
    s->record = rec ? zt_strndup(rec, len) : NULL;
    if (d->n_models) {
        s->models = zt_calloc(d->n_models, sizeof *s->models);
        s->pos = zt_calloc(d->n_models, sizeof *s->pos);
    }
    if (!s->endpoint || (rec && !s->record) || (d->n_models && (!s->models || !s->pos))) goto oom;
    for (size_t i = 0; i < d->n_models; i++) {
        struct orch_model *m = orch_model_get(r, d->models[i], true);
        if (!m || model_reserve(m) != 0) goto oom;
        bool dup = false;
        for (size_t k = 0; k < s->n; k++) dup = dup || s->models[k] == m;
        if (dup) continue;
        /* room for this node on m even when other new nodes take the rest */
        if (m->n + 1 > m->cap) goto oom;
        s->models[s->n] = m;
        s->pos[s->n++] = SIZE_MAX;
    }
    return 0;
oom:
    session_free(s);
    return ZT_ENOMEM;
}

/* Swap the prepared session into n (cannot fail). */
static void session_commit(struct orch_node *n, struct session *s, const struct zt_node_descriptor *d,
                           const struct orch_rec *rec)
{
    detach(n);
    node_session_release(n);
    n->endpoint = s->endpoint;
    n->record = s->record;
    n->models = s->models;
    n->model_pos = s->pos;
    n->n_models = s->n;
    memset(s, 0, sizeof *s);
    memcpy(n->kem_pk, d->kem_pk, sizeof n->kem_pk);
    n->caps = rec->caps;
}

/* The checks a join needs without the registry: descriptor (signature,
 * expiry, worker role, same node id), the record's own signature. */
static int verify_join(struct orch_rec *rec, int64_t now_ms, struct zt_node_descriptor *d)
{
    int rc = zt_identity_descriptor_verify(rec->descriptor, strlen(rec->descriptor), now_ms / 1000, d);
    if (rc) return rc;
    bool worker = false;
    for (size_t i = 0; i < d->n_roles; i++) worker = worker || strcmp(d->roles[i], "worker") == 0;
    if (strcmp(d->node_id, rec->node_id) != 0) {
        rc = ZT_ECRYPTO;
    } else if (!worker) {
        rc = ZT_EPERM;
    } else {
        rc = orch_rec_check_sig(rec, d->ed25519_pk);
    }
    if (rc) zt_node_descriptor_deinit(d);
    return rc;
}

/* ---- open / free ------------------------------------------------------------------ */

static void defaults(struct zt_registry_opts *o)
{
    if (!o->heartbeat_expiry_ms) o->heartbeat_expiry_ms = 30000;
    if (!o->record_window_ms) o->record_window_ms = 60000;
    if (!o->max_nodes) o->max_nodes = 65536;
    if (o->rep_threshold == 0) o->rep_threshold = 0.5;
    if (o->rep_prior_good == 0) o->rep_prior_good = 2.0;
    if (o->rep_prior_bad == 0) o->rep_prior_bad = 1.0;
    if (!o->rep_half_life_ms) o->rep_half_life_ms = 7LL * 24 * 3600 * 1000;
    if (!o->dup_quarantine_ms) o->dup_quarantine_ms = 600000;
}

static int blob16(struct zt_store_stmt *q, int col, uint8_t out[static ZT_REG_BOOT_LEN], bool *have)
{
    const void *p;
    size_t n;
    int rc = zt_store_column_blob(q, col, &p, &n);
    *have = false;
    if (rc == ZT_ENOTFOUND) return 0;
    if (rc) return rc;
    if (n != ZT_REG_BOOT_LEN) return ZT_EIO;
    memcpy(out, p, n);
    *have = true;
    return 0;
}

/* The columns after node_id, record and pk of a row (SQL_LOAD/SQL_SYNC)
 * into t: the persisted fields of a node. */
static int row_fill(struct zt_store_stmt *q, struct orch_node *t)
{
    int64_t v[N_COLS + 1];
    int rc;
    for (int i = 0; i <= N_COLS; i++) {
        if (i == 0 || i == 3 || i == 8) continue;
        if ((rc = zt_store_column_i64(q, 2 + i, &v[i])) != 0) return rc;
    }
    bool have;
    if ((rc = blob16(q, 2 + 3, t->boot, &have)) != 0 || (rc = blob16(q, 2 + 8, t->prev_boot, &t->has_prev)) != 0)
        return rc;
    t->state = v[1] >= ZT_NODE_LIVE && v[1] <= ZT_NODE_LEFT ? (enum zt_node_state)v[1] : ZT_NODE_EXPIRED;
    t->has_session = v[2] != 0;
    t->seq = (uint64_t)v[4];
    t->last_ts = v[5];
    t->joined = v[6];
    t->last_seen = v[7];
    t->takeover_ts = v[9];
    t->load.busy = (uint32_t)v[10];
    t->load.queue = (uint32_t)v[11];
    t->good = from_u(v[12]);
    t->bad = from_u(v[13]);
    t->rep_t = v[14];
    t->completed = (uint64_t)v[15];
    t->failed = (uint64_t)v[16];
    t->timed_out = (uint64_t)v[17];
    t->mismatches = (uint64_t)v[18];
    t->verified = (uint64_t)v[19];
    t->dup_refused = (uint64_t)v[20];
    t->banned = v[21] != 0;
    t->quarantine_until = v[22];
    t->lat = from_u(v[23]) * 1000.0;
    t->upd = v[N_COLS];
    return 0;
}

/* A session's persisted fields (its boot, sequence, times, load) and the
 * row's version, t's into n: a row read back, a join committed. */
static void session_fields(struct orch_node *n, const struct orch_node *t)
{
    memcpy(n->boot, t->boot, sizeof n->boot);
    n->seq = t->seq;
    n->last_ts = t->last_ts;
    n->joined = t->joined;
    n->last_seen = t->last_seen;
    n->has_prev = t->has_prev;
    memcpy(n->prev_boot, t->prev_boot, sizeof n->prev_boot);
    n->takeover_ts = t->takeover_ts;
    n->load = t->load;
    n->upd = t->upd;
}

/* The persisted fields of t into n (not the session's record, models, keys). */
static void row_apply(struct orch_node *n, const struct orch_node *t)
{
    n->state = t->state;
    n->has_session = t->has_session;
    session_fields(n, t);
    n->good = t->good;
    n->bad = t->bad;
    n->rep_t = t->rep_t;
    n->completed = t->completed;
    n->failed = t->failed;
    n->timed_out = t->timed_out;
    n->mismatches = t->mismatches;
    n->verified = t->verified;
    n->dup_refused = t->dup_refused;
    n->banned = t->banned;
    n->quarantine_until = t->quarantine_until;
    n->lat = t->lat;
    n->rep_cache_t = INT64_MIN;
}

/* The session of a join record (re-verified) into n: its models, keys and
 * caps. 0; ZT_ENOMEM; another error: the record no longer verifies (an
 * expired descriptor, a damaged row): the node must join again. */
static int session_from_record(struct zt_registry *r, struct orch_node *n, const char *record, size_t reclen,
                               int64_t now)
{
    struct orch_rec rec;
    struct zt_node_descriptor d;
    memset(&d, 0, sizeof d);
    int rc = orch_rec_parse(record, reclen, ORCH_REC_JOIN, &rec);
    if (!rc) rc = verify_join(&rec, now, &d);
    if (!rc) {
        struct session s;
        rc = session_prepare(r, &d, record, reclen, &s);
        if (!rc) session_commit(n, &s, &d, &rec);
        zt_node_descriptor_deinit(&d);
    }
    orch_rec_deinit(&rec);
    if (rc && rc != ZT_ENOMEM)
        zt_log(ZT_LOG_INFO, "registry_session_dropped", "node=%s reason=%s", n->id, zt_strerror(rc));
    return rc;
}

/* One row of registry_nodes into a new node. shared: a row another
 * orchestrator wrote while this one runs (its last_seen stands); else a
 * restart (live sessions get one expiry window from now). */
static int load_row(struct zt_registry *r, struct zt_store_stmt *q, int64_t now, bool shared)
{
    const char *id, *record = NULL;
    size_t idlen, reclen = 0;
    const void *pk;
    size_t pklen;
    int rc = zt_store_column_text(q, 0, &id, &idlen);
    if (!rc) {
        rc = zt_store_column_text(q, 1, &record, &reclen);
        if (rc == ZT_ENOTFOUND) record = NULL, rc = 0;
    }
    if (!rc) rc = zt_store_column_blob(q, 2, &pk, &pklen);
    if (rc) return rc;
    if (pklen != ZT_ED25519_PK_LEN || !zt_identity_id_valid(id)) return ZT_EIO;
    struct orch_node t;
    memset(&t, 0, sizeof t);
    if ((rc = row_fill(q, &t)) != 0) return rc;
    struct orch_node *n;
    if ((rc = node_add(r, id, pk, &n)) != 0) return rc;
    row_apply(n, &t);
    if (shared) n->seq = 0; /* the records addressed here have a sequence of their own */
    if (!record || !n->has_session) return 0;
    /* the last accepted join record gives the session back its models and caps */
    rc = session_from_record(r, n, record, reclen, now);
    if (rc == ZT_ENOMEM) goto fail;
    if (rc) {
        n->state = ZT_NODE_EXPIRED;
        return 0;
    }
    if (n->state == ZT_NODE_LIVE) {
        /* heartbeats sent while we were down were lost: one window from now */
        if (!shared && n->last_seen < now) n->last_seen = now;
        attach(n);
    }
    return 0;
fail:
    node_remove_last(r, n);
    return rc;
}

int zt_registry_open(struct zt_store *st, const struct zt_registry_opts *o, int64_t now_ms, struct zt_registry **out)
{
    if (!st || !o || !out || !zt_identity_id_valid(o->self_id)) return ZT_EINVAL;
    struct zt_registry_opts opts = *o;
    defaults(&opts);
    if (opts.heartbeat_expiry_ms < 0 || opts.record_window_ms < 0 || opts.rep_threshold < 0 ||
        opts.rep_threshold > 1 || opts.rep_prior_good < 0 || opts.rep_prior_bad < 0 || opts.rep_half_life_ms < 0 ||
        opts.dup_quarantine_ms < 0 || opts.sync_ms < 0)
        return ZT_EINVAL;
    int rc = zt_store_migrate(st, &REG_SCHEMA);
    if (rc) return rc;
    struct zt_registry *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    r->st = st;
    r->o = opts;
    zt_strlcpy(r->self_id, o->self_id, sizeof r->self_id);
    r->o.self_id = r->self_id;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        zt_free(r);
        return ZT_ENOMEM;
    }
    struct zt_store_stmt *q = NULL;
    size_t n_q = N_STMTS - (r->o.sync_ms > 0 ? 0 : 1); /* q_sync: only to sync */
    if ((rc = zt_store_prepare_all(st, r, STMTS, n_q)) != 0 || (rc = zt_store_prepare(st, SQL_LOAD, &q)) != 0)
        goto fail;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW)
        if ((rc = load_row(r, q, now_ms, false)) != 0) break;
    zt_store_stmt_free(q);
    q = NULL;
    if (rc || (rc = orch_revoked_open(r, now_ms)) != 0) goto fail; /* revoked.c */
    for (size_t i = 0; i < r->n_all; i++)
        if (r->all[i]->upd > r->sync_since) r->sync_since = r->all[i]->upd;
    r->next_sync = now_ms + r->o.sync_ms;
    *out = r;
    return 0;
fail:
    zt_store_stmt_free(q);
    zt_registry_free(r);
    return rc;
}

void zt_registry_free(struct zt_registry *r)
{
    if (!r) return;
    orch_revoked_free(r);
    for (size_t i = 0; i < r->n_all; i++) node_free(r->all[i]);
    zt_free(r->all);
    for (size_t i = 0; i < r->models.cap; i++) {
        struct orch_map_slot *s = &r->models.slots[i];
        if (!s->key || s->key == orch_map_tomb) continue;
        struct orch_model *m = s->val;
        zt_free(m->nodes);
        zt_free(m->name);
        zt_free(m);
    }
    orch_map_deinit(&r->models);
    orch_map_deinit(&r->nodes);
    zt_store_stmt_free_all(r, STMTS, N_STMTS);
    pthread_mutex_destroy(&r->mu);
    zt_free(r);
}

/* ---- records ------------------------------------------------------------------------ */

static int check_common(const struct zt_registry *r, const struct orch_rec *rec, int64_t now)
{
    if (strcmp(rec->aud, r->self_id) != 0) return ZT_EPERM;
    int64_t d = rec->ts - now;
    if (d > r->o.record_window_ms || d < -r->o.record_window_ms) return ZT_ETIMEDOUT;
    return 0;
}

/* A record from a boot a restart replaced: if it was made after the
 * replacement joined, two processes hold the key (a copied key file):
 * the node id is quarantined. */
static int superseded(struct zt_registry *r, struct orch_node *n, const struct orch_rec *rec, int64_t now)
{
    if (rec->ts <= n->takeover_ts) return ZT_EPERM; /* an old record, stale */
    n->quarantine_until = now + r->o.dup_quarantine_ms;
    n->dup_refused++;
    end_session(r, n, ZT_NODE_EXPIRED, now);
    zt_ignore(orch_node_save(r, n));
    zt_log(ZT_LOG_WARN, "registry_duplicate_id", "node=%s action=quarantine", n->id);
    return ZT_EEXIST;
}

static bool session_live(const struct zt_registry *r, const struct orch_node *n, int64_t now)
{
    return n->has_session && n->state == ZT_NODE_LIVE && now - n->last_seen < r->o.heartbeat_expiry_ms;
}

/* The registry is full: forget the node silent the longest among those
 * with nothing worth keeping (no live session, no job, never a completed
 * or verified job, not banned or quarantined: keys made for a flood), so a
 * flood of throwaway keys cannot lock new workers out for good. Banned
 * nodes are never forgotten (a ban would be lifted by joining again).
 * ZT_EBUSY when there is none. */
static int evict_one(struct zt_registry *r, int64_t now)
{
    struct orch_node *victim = NULL;
    for (size_t i = 0; i < r->n_all; i++) {
        struct orch_node *n = r->all[i];
        if (n->state == ZT_NODE_LIVE || n->jobs || n->banned || n->quarantine_until > now || n->completed ||
            n->verified)
            continue;
        if (!victim || n->last_seen < victim->last_seen) victim = n;
    }
    if (!victim) return ZT_EBUSY;
    int rc = zt_store_bind_text(r->q_del, 1, victim->id, SIZE_MAX);
    if (!rc) rc = run(r->q_del);
    else zt_store_reset(r->q_del);
    if (rc) return rc;
    detach(victim);
    orch_map_del(&r->nodes, victim->id);
    struct orch_node *last = r->all[--r->n_all];
    r->all[victim->idx] = last;
    last->idx = victim->idx;
    zt_log_rl(ZT_LOG_INFO, 10, "registry_evicted", "node=%s", victim->id);
    node_free(victim);
    return 0;
}

static int join_locked(struct zt_registry *r, struct orch_rec *rec, struct zt_node_descriptor *d, const char *text,
                       size_t len, int64_t now)
{
    struct orch_node *n = orch_node_find(r, rec->node_id);
    bool created = false, takeover = false;
    if (orch_revoked_refuses(r, rec->node_id, d->kem_pk)) return ZT_EPERM; /* revoked.c */
    if (n) {
        if (n->banned) return ZT_EPERM;
        if (n->quarantine_until > now) return ZT_EPERM;
        if (n->has_session && memcmp(rec->boot, n->boot, ZT_REG_BOOT_LEN) == 0) {
            if (rec->seq <= n->seq) return ZT_EPERM; /* replay */
        } else if (n->has_prev && memcmp(rec->boot, n->prev_boot, ZT_REG_BOOT_LEN) == 0) {
            return superseded(r, n, rec, now);
        } else if (n->has_session && rec->ts <= n->last_ts) {
            return ZT_EPERM; /* an older boot's record */
        } else if (session_live(r, n, now)) {
            if (!zt_str_eq(n->endpoint, d->endpoint)) {
                n->dup_refused++;
                zt_ignore(orch_node_save(r, n));
                zt_log_rl(ZT_LOG_WARN, 10, "registry_duplicate_id", "node=%s action=refused", n->id);
                return ZT_EEXIST;
            }
            takeover = true; /* the same endpoint with a new boot: a restart */
        }
    } else {
        if (r->n_all >= r->o.max_nodes) {
            int rc = evict_one(r, now);
            if (rc) return rc;
        }
        int rc = node_add(r, rec->node_id, d->ed25519_pk, &n);
        if (rc) return rc;
        created = true;
    }
    struct session s;
    int rc = session_prepare(r, d, text, len, &s);
    if (rc) goto fail;
    bool same_boot = n->has_session && memcmp(rec->boot, n->boot, ZT_REG_BOOT_LEN) == 0 && n->state == ZT_NODE_LIVE;
    struct orch_node t = *n; /* what the row will say */
    t.record = s.record;
    t.state = ZT_NODE_LIVE;
    t.has_session = true;
    memcpy(t.boot, rec->boot, ZT_REG_BOOT_LEN);
    t.seq = rec->seq;
    t.last_ts = rec->ts;
    t.last_seen = now;
    if (!same_boot) {
        t.joined = now;
        t.load = (struct zt_worker_load){0};
    }
    /* a live session of another boot ends here (a restart, seen or not) */
    bool end_old = n->state == ZT_NODE_LIVE && !same_boot;
    if (end_old) {
        t.has_prev = true;
        memcpy(t.prev_boot, n->boot, ZT_REG_BOOT_LEN);
        t.takeover_ts = rec->ts;
    }
    if (created) t.rep_t = now;
    if ((rc = node_put(r, &t)) != 0) {
        session_free(&s);
        goto fail;
    }
    if (end_old) {
        if (takeover) zt_log(ZT_LOG_INFO, "registry_session_replaced", "node=%s", n->id);
        end_session(r, n, ZT_NODE_EXPIRED, now); /* its jobs were lost with the old process */
    }
    session_commit(n, &s, d, rec);
    /* the session's fields (the reputation may have moved in end_session) */
    n->state = ZT_NODE_LIVE;
    n->has_session = true;
    session_fields(n, &t);
    n->rep_t = created ? now : n->rep_t;
    attach(n);
    if (end_old && (rc = orch_node_save(r, n)) != 0)
        zt_log(ZT_LOG_WARN, "registry_save_failed", "node=%s error=%s", n->id, zt_strerror(rc));
    return 0;
fail:
    if (created) node_remove_last(r, n);
    return rc;
}

int zt_registry_join(struct zt_registry *r, const char *text, size_t len, int64_t now_ms,
                     char node_id[ZT_IDENTITY_ID_SIZE])
{
    if (!r || !text) return ZT_EINVAL;
    struct orch_rec rec;
    struct zt_node_descriptor d;
    memset(&d, 0, sizeof d);
    /* everything that needs no registry state, outside the lock */
    int rc = orch_rec_parse(text, len, ORCH_REC_JOIN, &rec);
    if (!rc) rc = check_common(r, &rec, now_ms);
    if (!rc) rc = verify_join(&rec, now_ms, &d);
    if (!rc) {
        pthread_mutex_lock(&r->mu);
        rc = join_locked(r, &rec, &d, text, len, now_ms);
        pthread_mutex_unlock(&r->mu);
    }
    if (!rc && node_id) zt_strlcpy(node_id, rec.node_id, ZT_IDENTITY_ID_SIZE);
    if (rc && rc != ZT_ENOMEM)
        zt_log_rl(ZT_LOG_INFO, 10, "registry_join_refused", "reason=%s", zt_strerror(rc));
    zt_node_descriptor_deinit(&d);
    orch_rec_deinit(&rec);
    return rc;
}

/* Heartbeat or leave: the record's boot and sequence against the session. */
static int beat_locked(struct zt_registry *r, struct orch_rec *rec, int64_t now)
{
    struct orch_node *n = orch_node_find(r, rec->node_id);
    if (!n || !n->has_session) return ZT_ENOTFOUND;
    if (n->banned || n->quarantine_until > now) return ZT_EPERM;
    if (memcmp(rec->boot, n->boot, ZT_REG_BOOT_LEN) != 0) {
        if (n->has_prev && memcmp(rec->boot, n->prev_boot, ZT_REG_BOOT_LEN) == 0) return superseded(r, n, rec, now);
        return ZT_EPERM;
    }
    if (rec->seq <= n->seq) return ZT_EPERM;
    if (n->state != ZT_NODE_LIVE) return ZT_ENOTFOUND; /* expired or left: join again */
    struct orch_node save = *n;
    n->seq = rec->seq;
    if (rec->ts > n->last_ts) n->last_ts = rec->ts;
    if (rec->kind == ORCH_REC_HEARTBEAT) {
        n->last_seen = now;
        n->load = rec->load;
    } else {
        n->state = ZT_NODE_LEFT;
    }
    int rc = orch_node_save(r, n);
    if (rc) {
        *n = save;
        return rc;
    }
    if (rec->kind == ORCH_REC_LEAVE) {
        n->state = ZT_NODE_LIVE;
        end_session(r, n, ZT_NODE_LEFT, now);
    }
    return 0;
}

static int beat(struct zt_registry *r, const char *text, size_t len, enum orch_rec_kind kind, int64_t now,
                char *node_id)
{
    if (!r || !text) return ZT_EINVAL;
    struct orch_rec rec;
    int rc = orch_rec_parse(text, len, kind, &rec);
    if (!rc) rc = check_common(r, &rec, now);
    uint8_t pk[ZT_ED25519_PK_LEN];
    if (!rc) {
        /* the key of a node id never changes (the id is derived from it):
         * copy it and verify outside the lock */
        pthread_mutex_lock(&r->mu);
        struct orch_node *n = orch_node_find(r, rec.node_id);
        if (n) memcpy(pk, n->pk, sizeof pk);
        pthread_mutex_unlock(&r->mu);
        rc = n ? orch_rec_check_sig(&rec, pk) : ZT_ENOTFOUND;
    }
    if (!rc) {
        pthread_mutex_lock(&r->mu);
        rc = beat_locked(r, &rec, now);
        pthread_mutex_unlock(&r->mu);
    }
    if (rc && rc != ZT_ENOMEM)
        zt_log_rl(ZT_LOG_INFO, 10, "registry_record_refused", "kind=%s reason=%s",
                  kind == ORCH_REC_HEARTBEAT ? "heartbeat" : "leave", zt_strerror(rc));
    if (!rc && node_id) zt_strlcpy(node_id, rec.node_id, ZT_IDENTITY_ID_SIZE);
    orch_rec_deinit(&rec);
    return rc;
}

int zt_registry_heartbeat(struct zt_registry *r, const char *rec, size_t len, int64_t now_ms)
{
    return beat(r, rec, len, ORCH_REC_HEARTBEAT, now_ms, NULL);
}

int zt_registry_poll(struct zt_registry *r, const char *rec, size_t len, int64_t now_ms,
                     char node_id[static ZT_IDENTITY_ID_SIZE])
{
    return beat(r, rec, len, ORCH_REC_HEARTBEAT, now_ms, node_id);
}

int zt_registry_leave(struct zt_registry *r, const char *rec, size_t len, int64_t now_ms)
{
    return beat(r, rec, len, ORCH_REC_LEAVE, now_ms, NULL);
}

size_t orch_expire_locked(struct zt_registry *r, int64_t now)
{
    size_t n_exp = 0;
    for (size_t i = 0; i < r->n_all; i++) {
        struct orch_node *n = r->all[i];
        if (n->state != ZT_NODE_LIVE || now - n->last_seen < r->o.heartbeat_expiry_ms) continue;
        end_session(r, n, ZT_NODE_EXPIRED, now);
        int rc = orch_node_save(r, n);
        if (rc) zt_log(ZT_LOG_WARN, "registry_save_failed", "node=%s error=%s", n->id, zt_strerror(rc));
        zt_log(ZT_LOG_INFO, "registry_expired", "node=%s", n->id);
        n_exp++;
    }
    r->next_expire = now + 1000;
    return n_exp;
}

size_t zt_registry_expire(struct zt_registry *r, int64_t now_ms)
{
    if (!r) return 0;
    pthread_mutex_lock(&r->mu);
    size_t n = orch_expire_locked(r, now_ms);
    pthread_mutex_unlock(&r->mu);
    return n;
}

int zt_registry_drop(struct zt_registry *r, const char *node_id, int64_t now_ms)
{
    if (!r || !node_id) return ZT_EINVAL;
    pthread_mutex_lock(&r->mu);
    struct orch_node *n = orch_node_find(r, node_id);
    int rc = !n ? ZT_ENOTFOUND : n->state != ZT_NODE_LIVE ? ZT_EINVAL : 0;
    if (!rc) {
        end_session(r, n, ZT_NODE_EXPIRED, now_ms);
        rc = orch_node_save(r, n);
        if (rc) zt_log(ZT_LOG_WARN, "registry_save_failed", "node=%s error=%s", n->id, zt_strerror(rc));
        zt_log(ZT_LOG_INFO, "registry_dropped", "node=%s reason=unreachable", n->id);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int zt_registry_report(struct zt_registry *r, const char *node_id, enum zt_outcome o, int64_t now_ms)
{
    if (!r || !node_id) return ZT_EINVAL;
    pthread_mutex_lock(&r->mu);
    struct orch_node *n = orch_node_find(r, node_id);
    int rc = n ? orch_node_report(r, n, o, now_ms) : ZT_ENOTFOUND;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int zt_registry_unban(struct zt_registry *r, const char *node_id)
{
    if (!r || !node_id) return ZT_EINVAL;
    pthread_mutex_lock(&r->mu);
    struct orch_node *n = orch_node_find(r, node_id);
    int rc = ZT_ENOTFOUND;
    if (n) {
        bool was = n->banned;
        n->banned = false;
        if ((rc = orch_node_save(r, n)) != 0) n->banned = was;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* With r->mu held. */
static void node_info(struct zt_registry *r, struct orch_node *n, int64_t now_ms, struct zt_node_info *out)
{
    memset(out, 0, sizeof *out);
    zt_strlcpy(out->node_id, n->id, sizeof out->node_id);
    if (n->endpoint) zt_strlcpy(out->endpoint, n->endpoint, sizeof out->endpoint);
    memcpy(out->kem_pk, n->kem_pk, sizeof out->kem_pk);
    memcpy(out->ed25519_pk, n->pk, sizeof out->ed25519_pk);
    size_t w = 0;
    for (size_t i = 0; i < n->n_models; i++) {
        size_t l = strlen(n->models[i]->name);
        if (w + l + (w ? 1 : 0) >= sizeof out->models) break;
        if (w) out->models[w++] = ',';
        memcpy(out->models + w, n->models[i]->name, l + 1);
        w += l;
    }
    out->state = n->state;
    out->caps = n->caps;
    out->load = n->load;
    out->n_models = n->n_models;
    out->inflight = n->inflight;
    out->joined_ms = n->joined;
    out->last_seen_ms = n->last_seen;
    out->reputation = orch_node_rep(r, n, now_ms);
    out->eligible = orch_node_eligible(r, n, now_ms);
    out->banned = n->banned;
    out->quarantine_until_ms = n->quarantine_until;
    out->completed = n->completed;
    out->failed = n->failed;
    out->timed_out = n->timed_out;
    out->mismatches = n->mismatches;
    out->verified = n->verified;
    out->dup_refused = n->dup_refused;
    out->latency_ms_per_tok = n->lat;
}

int zt_registry_get(struct zt_registry *r, const char *node_id, int64_t now_ms, struct zt_node_info *out)
{
    if (!r || !node_id || !out) return ZT_EINVAL;
    pthread_mutex_lock(&r->mu);
    struct orch_node *n = orch_node_find(r, node_id);
    if (n) node_info(r, n, now_ms, out);
    pthread_mutex_unlock(&r->mu);
    return n ? 0 : ZT_ENOTFOUND;
}

size_t zt_registry_list(struct zt_registry *r, bool live_only, int64_t now_ms, struct zt_node_info *out,
                        size_t max)
{
    if (!r || !out) return 0;
    size_t w = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_all && w < max; i++) {
        if (live_only && r->all[i]->state != ZT_NODE_LIVE) continue;
        if (!r->all[i]->has_session) continue;
        node_info(r, r->all[i], now_ms, &out[w++]);
    }
    pthread_mutex_unlock(&r->mu);
    return w;
}

size_t zt_registry_count(struct zt_registry *r, bool live_only)
{
    if (!r) return 0;
    pthread_mutex_lock(&r->mu);
    size_t c = 0;
    for (size_t i = 0; i < r->n_all; i++) c += !live_only || r->all[i]->state == ZT_NODE_LIVE;
    pthread_mutex_unlock(&r->mu);
    return c;
}

/* ---- several orchestrators on one store ---------------------------------------------
 *
 * Each orchestrator keeps the registry in memory and writes every change
 * through (a row version `upd` with it); with sync_ms set it reads back, at
 * most sync_ms apart, the rows whose version is newer than the newest it
 * read, less SYNC_SKEW_MS (the clocks of two orchestrators may differ that
 * much: such rows are read again and skipped when not newer than what this
 * registry holds). What a row brings: a new node (a worker that joined
 * another orchestrator), a new boot (it restarted and joined elsewhere: the
 * old session here ends), a session that went live, expired or left, the
 * load, the last heartbeat, the reputation counts, a ban or quarantine.
 * What stays this orchestrator's own: the replay state of the records
 * addressed to it (a worker joined to several orchestrators keeps one
 * sequence per orchestrator: within the same boot the sequence here is
 * this registry's), and the jobs it placed (inflight). */

#define SYNC_SKEW_MS 2000

/* A session to end after the scan (ending one may write rows). */
struct sync_end {
    struct orch_node *n;
    enum zt_node_state st;
    bool jobs_only; /* a new boot replaced the session: only the old one's jobs are lost */
};

/* A row over a node this registry knows: *changed when it was newer. */
static int merge_row(struct zt_registry *r, struct orch_node *n, struct zt_store_stmt *q, int64_t now,
                     struct sync_end *end, bool *changed)
{
    struct orch_node t;
    memset(&t, 0, sizeof t);
    int rc = row_fill(q, &t);
    if (rc || t.upd <= n->upd) return rc;
    *changed = true;
    bool was_live = n->state == ZT_NODE_LIVE;
    bool new_boot = t.has_session && (!n->has_session || memcmp(t.boot, n->boot, ZT_REG_BOOT_LEN) != 0);
    uint64_t seq = n->seq;
    int64_t last_ts = n->last_ts, last_seen = n->last_seen;
    if (new_boot) {
        const char *record;
        size_t reclen;
        if ((rc = zt_store_column_text(q, 1, &record, &reclen)) != 0) return rc == ZT_ENOTFOUND ? ZT_EIO : rc;
        /* the old boot's session here is over: its jobs were lost with it */
        if (was_live && n->jobs) {
            end->n = n;
            end->st = ZT_NODE_EXPIRED;
            end->jobs_only = true;
        }
        detach(n);
        rc = session_from_record(r, n, record, reclen, now);
        if (rc == ZT_ENOMEM) return rc;
        row_apply(n, &t);
        if (rc) n->state = ZT_NODE_EXPIRED;
        n->seq = 0; /* the records of this boot addressed here have a sequence of their own */
        if (n->state == ZT_NODE_LIVE) attach(n);
        return 0;
    }
    row_apply(n, &t);
    if (t.has_session) {
        n->seq = seq;
        if (last_ts > n->last_ts) n->last_ts = last_ts;
    }
    if (last_seen > n->last_seen) n->last_seen = last_seen;
    if (was_live && n->state != ZT_NODE_LIVE) {
        /* it expired or left over there: end it here (after the scan) */
        end->n = n;
        end->st = n->state;
        n->state = ZT_NODE_LIVE;
    } else if (!was_live && n->state == ZT_NODE_LIVE && n->has_session) {
        attach(n);
    }
    return 0;
}

static size_t sync_locked(struct zt_registry *r, int64_t now)
{
    struct zt_store_stmt *q = r->q_sync;
    size_t changed = 0, n_end = 0, cap_end = 0;
    struct sync_end *ends = NULL;
    int64_t top = r->sync_since;
    int rc = zt_store_bind_i64(q, 1, r->sync_since - SYNC_SKEW_MS);
    while (!rc && (rc = zt_store_step(q)) == ZT_STORE_ROW) {
        const char *id;
        size_t idlen;
        int64_t upd;
        if ((rc = zt_store_column_text(q, 0, &id, &idlen)) != 0 ||
            (rc = zt_store_column_i64(q, 2 + N_COLS, &upd)) != 0)
            break;
        if (upd > top) top = upd;
        struct orch_node *n = orch_node_find(r, id);
        bool ch = false;
        if (!n) {
            if (r->n_all >= r->o.max_nodes) {
                zt_log_rl(ZT_LOG_WARN, 10, "registry_sync_full", "node=%s", id);
                continue;
            }
            rc = load_row(r, q, now, true);
            ch = rc == 0;
        } else {
            if (n_end == cap_end) {
                size_t cap = cap_end ? cap_end * 2 : 16;
                struct sync_end *nv = zt_reallocarray(ends, cap, sizeof *nv);
                if (!nv) {
                    rc = ZT_ENOMEM;
                    break;
                }
                ends = nv;
                cap_end = cap;
            }
            ends[n_end] = (struct sync_end){0};
            rc = merge_row(r, n, q, now, &ends[n_end], &ch);
            if (ends[n_end].n) n_end++;
        }
        if (rc == ZT_EIO) {
            zt_log_rl(ZT_LOG_WARN, 10, "registry_sync_bad_row", "node=%s", id);
            rc = 0;
        }
        changed += ch;
    }
    zt_store_reset(q);
    if (rc == ZT_STORE_DONE) rc = 0;
    if (rc)
        zt_log_rl(ZT_LOG_WARN, 10, "registry_sync_failed", "error=%s", zt_strerror(rc));
    else
        r->sync_since = top;
    for (size_t i = 0; i < n_end; i++) {
        struct orch_node *n = ends[i].n;
        if (ends[i].jobs_only) {
            if (n->jobs && r->lost_fn) r->lost_fn(r->lost_ud, n, true, now);
            continue;
        }
        if (n->state != ZT_NODE_LIVE) continue;
        end_session(r, n, ends[i].st, now);
        zt_log(ZT_LOG_INFO, "registry_session_ended_elsewhere", "node=%s state=%s", n->id,
               ends[i].st == ZT_NODE_LEFT ? "left" : "expired");
    }
    zt_free(ends);
    return changed;
}

size_t orch_sync_locked(struct zt_registry *r, int64_t now, bool force)
{
    if (!r->q_sync || (!force && now < r->next_sync)) return 0;
    r->next_sync = now + r->o.sync_ms;
    return sync_locked(r, now);
}

size_t zt_registry_sync(struct zt_registry *r, int64_t now_ms)
{
    if (!r) return 0;
    pthread_mutex_lock(&r->mu);
    size_t n = orch_sync_locked(r, now_ms, true);
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---- metrics ------------------------------------------------------------------- */

static int m_live(void *ud, struct zt_metrics_out *out)
{
    return zt_metrics_emit_u64(out, NULL, NULL, zt_registry_count(ud, true));
}

int zt_registry_register_metrics(struct zt_registry *r, struct zt_metrics *m)
{
    return zt_metrics_add_fn(m, "zentalk_orchestrator_live_nodes", "Workers with a live session.", ZT_METRIC_GAUGE,
                             m_live, r);
}
