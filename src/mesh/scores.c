/* scores.c: the local reputation of peers (mesh_int.h): a score per node
 * id, +1 per good chunk served to us, -100 per bad chunk or manifest
 * (fetch.c); a peer below zero is not asked again.
 *
 * At most ZT__MESH_MAX_SCORES peers are kept. When a new peer comes and
 * the table is full, the least recently changed peer with a score of
 * zero or more goes (a penalised peer goes only when every kept peer is
 * penalised: the oldest of them). With a store (zt_mesh_opts.st) the
 * table is kept there under owner "mesh" (mesh_scores, keyed by our node
 * id: nodes sharing a PostgreSQL keep their own views) and read back by
 * zt_mesh_new: a penalty is written at once; other changes are written by
 * the mesh thread within a second (zt__mesh_scores_flush) and at stop, so
 * a crash loses at most a second of good-chunk credit. The store keeps
 * the same bound and the same rule (trimmed at each flush). */
#include <math.h>
#include <string.h>

#include "mesh_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define SCORE_MAX 1000.0

static const struct zt_store_step MESH_STEPS[] = {
    {.sql = "CREATE TABLE mesh_scores(node TEXT NOT NULL, peer TEXT NOT NULL, score INTEGER NOT NULL,"
            " updated INTEGER NOT NULL, PRIMARY KEY(node, peer));",
     .sql_pg = "CREATE TABLE mesh_scores(node TEXT NOT NULL, peer TEXT NOT NULL, score BIGINT NOT NULL,"
               " updated BIGINT NOT NULL, PRIMARY KEY(node, peer));"},
};
static const struct zt_store_schema MESH_SCHEMA = ZT_STORE_SCHEMA("mesh", MESH_STEPS);

/* the order the table keeps peers in: penalised first, then the most recently changed */
#define KEEP_ORDER "CASE WHEN score < 0 THEN 0 ELSE 1 END, updated DESC"

/* Under mu. */
static struct zt__score *score_of(struct zt_mesh *m, const char *node_id, bool add)
{
    for (size_t i = 0; i < m->n_scores; i++)
        if (strcmp(m->scores[i].node_id, node_id) == 0) return &m->scores[i];
    if (!add) return NULL;
    size_t i = m->n_scores;
    if (i < ZT__MESH_MAX_SCORES) {
        m->n_scores++;
    } else { /* full: the oldest not penalised, else the oldest */
        size_t old = SIZE_MAX, old_any = 0;
        for (size_t k = 0; k < m->n_scores; k++) {
            const struct zt__score *s = &m->scores[k];
            if (s->score >= 0 && (old == SIZE_MAX || s->updated_ms < m->scores[old].updated_ms)) old = k;
            if (s->updated_ms < m->scores[old_any].updated_ms) old_any = k;
        }
        i = old != SIZE_MAX ? old : old_any;
        m->scores_trim = true;
    }
    memset(&m->scores[i], 0, sizeof m->scores[i]);
    zt_strlcpy(m->scores[i].node_id, node_id, sizeof m->scores[i].node_id);
    return &m->scores[i];
}

double zt_mesh_peer_score(struct zt_mesh *m, const char *node_id)
{
    pthread_mutex_lock(&m->mu);
    struct zt__score *s = score_of(m, node_id, false);
    double v = s ? s->score : 0;
    pthread_mutex_unlock(&m->mu);
    return v;
}

void zt__mesh_score(struct zt_mesh *m, const char *node_id, double delta, const char *why)
{
    pthread_mutex_lock(&m->mu);
    struct zt__score *s = score_of(m, node_id, true);
    s->score += delta;
    if (s->score > SCORE_MAX) s->score = SCORE_MAX;
    s->updated_ms = zt_time_real_ms();
    s->dirty = true;
    m->scores_dirty = true;
    zt_mesh_report_fn fn = delta < 0 ? m->report : NULL;
    void *ud = m->report_ud;
    pthread_mutex_unlock(&m->mu);
    if (delta < 0) {
        atomic_fetch_add(&m->bad_chunks, 1);
        zt_log_rl(ZT_LOG_WARN, 5, "mesh_bad_peer", "peer=%s reason=\"%s\"", node_id, why);
        zt__mesh_scores_flush(m); /* a penalty survives a crash */
    }
    if (fn) fn(ud, node_id, why);
}

int zt__mesh_scores_load(struct zt_mesh *m)
{
    if (!m->o.st) return 0;
    int rc = zt_store_migrate(m->o.st, &MESH_SCHEMA);
    if (rc) return rc; /* the store itself is broken: the node does not start */
    struct zt_store_stmt *q = NULL;
    const char *me = zt_identity_id(m->o.id);
    if (!rc)
        rc = zt_store_prepare(m->o.st,
                              "SELECT peer, score, updated FROM mesh_scores WHERE node = ? ORDER BY " KEEP_ORDER
                              " LIMIT ?",
                              &q);
    if (!rc) rc = zt_store_bind_text(q, 1, me, strlen(me));
    if (!rc) rc = zt_store_bind_i64(q, 2, ZT__MESH_MAX_SCORES);
    pthread_mutex_lock(&m->mu);
    while (!rc && m->n_scores < ZT__MESH_MAX_SCORES) {
        int r = zt_store_step(q);
        if (r == ZT_STORE_DONE) break;
        if (r != ZT_STORE_ROW) {
            rc = r < 0 ? r : ZT_EIO;
            break;
        }
        const char *peer;
        size_t n;
        int64_t score = 0, updated = 0;
        rc = zt_store_column_text(q, 0, &peer, &n);
        if (!rc) rc = zt_store_column_i64(q, 1, &score);
        if (!rc) rc = zt_store_column_i64(q, 2, &updated);
        if (rc || n == 0 || n >= ZT_IDENTITY_ID_SIZE) { /* not a node id: skipped */
            rc = 0;
            continue;
        }
        struct zt__score *s = &m->scores[m->n_scores++];
        memset(s, 0, sizeof *s);
        memcpy(s->node_id, peer, n);
        s->score = (double)score;
        s->updated_ms = updated;
    }
    size_t loaded = m->n_scores;
    pthread_mutex_unlock(&m->mu);
    zt_store_stmt_free(q);
    if (rc) { /* the scores are advice: the node starts with those read (review7 F8) */
        zt_log(ZT_LOG_WARN, "mesh_scores_unreadable", "error=%s peers_read=%zu detail=\"starting with these\"",
               zt_strerror(rc), loaded);
        return 0;
    }
    if (loaded) zt_log(ZT_LOG_INFO, "mesh_scores_loaded", "peers=%zu", loaded);
    return 0;
}

struct flush {
    const char *me;
    struct zt__score *v;
    size_t n;
    bool trim;
};

static int flush_tx(struct zt_store *st, void *ud)
{
    const struct flush *f = ud;
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st,
                              "INSERT INTO mesh_scores(node, peer, score, updated) VALUES(?, ?, ?, ?)"
                              " ON CONFLICT(node, peer) DO UPDATE SET score = excluded.score, updated = excluded.updated",
                              &q);
    for (size_t i = 0; i < f->n && !rc; i++) {
        zt_store_reset(q);
        rc = zt_store_bind_text(q, 1, f->me, strlen(f->me));
        if (!rc) rc = zt_store_bind_text(q, 2, f->v[i].node_id, strlen(f->v[i].node_id));
        if (!rc) rc = zt_store_bind_i64(q, 3, (int64_t)llround(f->v[i].score));
        if (!rc) rc = zt_store_bind_i64(q, 4, f->v[i].updated_ms);
        if (!rc) {
            int r = zt_store_step(q);
            rc = r == ZT_STORE_DONE ? 0 : r < 0 ? r : ZT_EIO;
        }
    }
    zt_store_stmt_free(q);
    q = NULL;
    /* the peers the table let go leave the store too (the same rule, the same bound) */
    if (!rc && f->trim)
        rc = zt_store_prepare(st,
                              "DELETE FROM mesh_scores WHERE node = ? AND peer NOT IN (SELECT peer FROM mesh_scores"
                              " WHERE node = ? ORDER BY " KEEP_ORDER " LIMIT ?)",
                              &q);
    if (!rc && q) rc = zt_store_bind_text(q, 1, f->me, strlen(f->me));
    if (!rc && q) rc = zt_store_bind_text(q, 2, f->me, strlen(f->me));
    if (!rc && q) rc = zt_store_bind_i64(q, 3, ZT__MESH_MAX_SCORES);
    if (!rc && q) {
        int r = zt_store_step(q);
        rc = r == ZT_STORE_DONE ? 0 : r < 0 ? r : ZT_EIO;
    }
    zt_store_stmt_free(q);
    return rc;
}

void zt__mesh_scores_flush(struct zt_mesh *m)
{
    if (!m->o.st) return;
    pthread_mutex_lock(&m->st_mu); /* one flush at a time: the store handle, and writes in order */
    pthread_mutex_lock(&m->mu);
    struct flush f = {.me = zt_identity_id(m->o.id), .trim = m->scores_trim};
    if (m->scores_dirty || f.trim) f.v = zt_malloc(ZT__MESH_MAX_SCORES * sizeof *f.v);
    for (size_t i = 0; f.v && i < m->n_scores; i++)
        if (m->scores[i].dirty) {
            f.v[f.n++] = m->scores[i];
            m->scores[i].dirty = false;
        }
    if (f.v) m->scores_dirty = m->scores_trim = false;
    pthread_mutex_unlock(&m->mu);
    int rc = f.v ? zt_store_tx(m->o.st, flush_tx, &f) : 0;
    if (rc) { /* written again at the next flush */
        pthread_mutex_lock(&m->mu);
        for (size_t i = 0; i < f.n; i++) {
            struct zt__score *s = score_of(m, f.v[i].node_id, false);
            if (s) s->dirty = true;
        }
        m->scores_dirty = true;
        m->scores_trim = m->scores_trim || f.trim;
        pthread_mutex_unlock(&m->mu);
        zt_log_rl(ZT_LOG_WARN, 60, "mesh_scores_unsaved", "error=%s", zt_strerror(rc));
    }
    zt_free(f.v);
    pthread_mutex_unlock(&m->st_mu);
}
