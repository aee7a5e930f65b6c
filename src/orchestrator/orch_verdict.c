/* orch_verdict.c: the orchestrator checks a remote gateway's verdict
 * against the signed chains (orch_verdict.h). */
#include "orch_verdict.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

/* One node's evidence, decoded and checked. */
struct evidence {
    uint8_t ckpt[ZT_CKPT_MAX_LEN];
    size_t ckpt_len;
    uint8_t pk[ZT_ED25519_PK_LEN];
    struct zt_checkpoint c;
    struct zt_env_receipt r;
};

static bool listed(const char *id, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(id, ids[i]) == 0) return true;
    return false;
}

/* hex -> bytes, at most cap; 0 or ZT_EPARSE. */
static int unhex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n % 2 || n / 2 > cap) return ZT_EPARSE;
    int rc = zt_hex_decode(out, n / 2, s, n, ZT_HEX_ANY_CASE);
    if (!rc) *len = n / 2;
    return rc;
}

/* node_id's FINAL checkpoint and receipt (hex) in e: both verify under
 * the registry's key for node_id and belong together (the receipt's
 * chain, build and job are the checkpoint's). */
static int evidence_of(const struct zt__verdict_job *job, const char *node_id, const char *ckpt_hex,
                       const char *receipt_hex, struct evidence *e, const char **why)
{
    uint8_t rec[ZT_ENV_RECEIPT_MAX_LEN];
    size_t rec_len = 0;
    struct zt_env_receipt *r = &e->r;
    if (unhex(ckpt_hex, e->ckpt, sizeof e->ckpt, &e->ckpt_len) || unhex(receipt_hex, rec, sizeof rec, &rec_len)) {
        *why = "a checkpoint or receipt is missing or not hex";
        return ZT_EPERM;
    }
    if (job->key(job->key_ud, node_id, e->pk) != 0) {
        *why = "a node named is not in the registry";
        return ZT_EPERM;
    }
    if (zt_checkpoint_verify(e->ckpt, e->ckpt_len, e->pk, &e->c) != 0 ||
        zt_env_receipt_verify(rec, rec_len, e->pk, r) != 0) {
        *why = "a checkpoint or receipt is not signed by the node named";
        return ZT_EPERM;
    }
    if (!(e->c.flags & ZT_CKPT_FLAG_FINAL)) {
        *why = "a checkpoint is not FINAL";
        return ZT_EPERM;
    }
    if (memcmp(r->seq_chain, e->c.chain, sizeof r->seq_chain) != 0 ||
        memcmp(r->job_id, e->c.job_id, sizeof r->job_id) != 0 || r->build_id_len != e->c.build_id_len ||
        memcmp(r->build_id, e->c.build_id, r->build_id_len) != 0) {
        *why = "a receipt does not go with its checkpoint (chain, job or build)";
        return ZT_EPERM;
    }
    return 0;
}

/* ---- the checkers' own reports ------------------------------------------------ */

/* A pick (its scan key, the same index in keys, says whether it is in use,
 * when it was made and whether its lease ended). */
struct pick {
    char node[ZT_IDENTITY_ID_SIZE];
    char job[ZT_JOB_ID_SIZE];
    char gateway[ZT_IDENTITY_ID_SIZE]; /* who asked for it ("" = this node's gateway, unsigned callers) */
    uint8_t subject[ZT__CHECK_SUBJECT_LEN]; /* the checked worker's signed input_hash */
    unsigned n_reports; /* reports taken under it */
    bool failed;        /* the gateway said this check failed: no report is awaited under it */
};

/* What the table is scanned by (a pick is read only where its hashes
 * match): keyed hashes of the pick's node, job and gateway. */
struct pick_key {
    int64_t t_ms;       /* unix ms */
    uint64_t node, job, gw;
    bool used;          /* false: a free slot */
    bool ended;         /* its job's lease ended: it still takes a report, but gives way to a new pick */
};

struct report {
    char node[ZT_IDENTITY_ID_SIZE];
    uint8_t subject[sizeof ((struct zt_checkpoint *)0)->subject];
    uint8_t pk[ZT_ED25519_PK_LEN];
    uint8_t ckpt[ZT_CKPT_MAX_LEN];
    size_t ckpt_len;
    int64_t t_ms;       /* when it came (unix ms): held for the window after */
};

_Static_assert(sizeof ((struct zt_checkpoint *)0)->subject == ZT__CHECK_SUBJECT_LEN, "a check's subject");
_Static_assert(sizeof ((struct zt_env_receipt *)0)->job_id == ZT__ONCE_ID_LEN, "a receipt's id");
/* every open lease's picks and this node's own gateway's share fit: a pick
 * is refused only by its gateway's share, never by a full table (review7 F4) */
_Static_assert(ZT__CHECK_PICKS_MAX >= ZT__LEASES_MAX * ZT__VERDICT_NODES_MAX + ZT__CHECK_PICKS_PER_GATEWAY,
               "the pick table holds every open lease's picks");

struct zt__check_reports {
    pthread_mutex_t mu;
    /* the picks: slots [0, n_picks) scanned, cap_picks allocated (grown
     * as needed, at most ZT__CHECK_PICKS_MAX) */
    struct pick *picks;
    struct pick_key *keys;
    size_t n_picks, cap_picks;
    uint8_t hkey[crypto_shorthash_KEYBYTES];
    struct report *r;   /* held reports, in no order */
    size_t n_r, cap_r;
    struct zt__once *receipts; /* the reports' receipts: each once */
};

int zt__check_reports_new(struct zt__check_reports **out)
{
    struct zt__check_reports *cr = zt_calloc(1, sizeof *cr);
    if (!cr) return ZT_ENOMEM;
    if (zt__once_new(ZT__CHECK_RECEIPTS_MAX, &cr->receipts) != 0) {
        zt_free(cr);
        return ZT_ENOMEM;
    }
    randombytes_buf(cr->hkey, sizeof cr->hkey);
    pthread_mutex_init(&cr->mu, NULL);
    *out = cr;
    return 0;
}

void zt__check_reports_free(struct zt__check_reports *cr)
{
    if (!cr) return;
    pthread_mutex_destroy(&cr->mu);
    zt__once_free(cr->receipts);
    zt_free(cr->picks);
    zt_free(cr->keys);
    zt_free(cr->r);
    zt_free(cr);
}

static uint64_t hash_of(const struct zt__check_reports *cr, const char *s)
{
    return zt_keyed_hash64(s, strlen(s), cr->hkey);
}

static bool key_live(const struct pick_key *k, int64_t now_ms)
{
    return k->used && now_ms - k->t_ms <= ZT__CHECK_REPORT_WINDOW_MS;
}

/* Room for one more pick slot at the end (grown, at most
 * ZT__CHECK_PICKS_MAX): its index, or SIZE_MAX. With cr->mu. */
static size_t pick_append(struct zt__check_reports *cr)
{
    if (cr->n_picks == cr->cap_picks) {
        if (cr->cap_picks >= ZT__CHECK_PICKS_MAX) return SIZE_MAX;
        size_t cap = cr->cap_picks ? cr->cap_picks * 2 : 64;
        if (cap > ZT__CHECK_PICKS_MAX) cap = ZT__CHECK_PICKS_MAX;
        struct pick *np = zt_realloc(cr->picks, cap * sizeof *np);
        if (!np) return SIZE_MAX;
        cr->picks = np;
        struct pick_key *nk = zt_realloc(cr->keys, cap * sizeof *nk);
        if (!nk) return SIZE_MAX;
        cr->keys = nk;
        cr->cap_picks = cap;
    }
    return cr->n_picks++;
}

int zt__check_reports_expect(struct zt__check_reports *cr, const char *gateway, const char *checker,
                             const char *job_id, const uint8_t subject[static ZT__CHECK_SUBJECT_LEN], int64_t now_ms)
{
    if (!cr || !checker) return ZT_EINVAL;
    if (!job_id) job_id = "";
    if (!gateway) gateway = "";
    uint64_t nh = hash_of(cr, checker), jh = hash_of(cr, job_id), gh = hash_of(cr, gateway);
    pthread_mutex_lock(&cr->mu);
    while (cr->n_picks && !key_live(&cr->keys[cr->n_picks - 1], now_ms)) cr->n_picks--; /* dead tail */
    /* the same pick again (a gateway's repeated check event): its entry is
     * refreshed, never a second pushed */
    size_t free_i = SIZE_MAX, ended_i = SIZE_MAX, mine = 0;
    for (size_t i = 0; i < cr->n_picks; i++) {
        struct pick_key *k = &cr->keys[i];
        if (!key_live(k, now_ms)) {
            if (free_i == SIZE_MAX) free_i = i;
            continue;
        }
        struct pick *q = &cr->picks[i];
        if (k->node == nh && k->job == jh && strcmp(q->node, checker) == 0 && strcmp(q->job, job_id) == 0 &&
            memcmp(q->subject, subject, sizeof q->subject) == 0) {
            if (!q->n_reports) k->t_ms = now_ms;
            q->failed = k->ended = false;
            pthread_mutex_unlock(&cr->mu);
            return 0;
        }
        if (k->ended) { /* the oldest ended pick gives way when no slot is free */
            if (ended_i == SIZE_MAX || k->t_ms < cr->keys[ended_i].t_ms) ended_i = i;
            continue;
        }
        mine += k->gw == gh && strcmp(q->gateway, gateway) == 0;
    }
    /* a full share refuses the new pick: a live pick is never evicted
     * (another gateway's checker may be about to report). The table holds
     * every open lease's picks (lease.c: at most ZT__VERDICT_NODES_MAX per
     * lease, ZT__LEASES_MAX leases), so no number of gateway identities
     * fills it for the others (review7 F4); full (ZT_EBUSY) only past
     * that, or out of memory */
    int rc = 0;
    if (mine >= ZT__CHECK_PICKS_PER_GATEWAY) {
        rc = ZT_ETOOBIG;
    } else {
        if (free_i == SIZE_MAX) free_i = pick_append(cr);
        if (free_i == SIZE_MAX) free_i = ended_i;
        if (free_i == SIZE_MAX) rc = ZT_EBUSY;
    }
    if (!rc) {
        struct pick *p = &cr->picks[free_i];
        memset(p, 0, sizeof *p);
        zt_strlcpy(p->node, checker, sizeof p->node);
        zt_strlcpy(p->job, job_id, sizeof p->job);
        zt_strlcpy(p->gateway, gateway, sizeof p->gateway);
        memcpy(p->subject, subject, sizeof p->subject);
        cr->keys[free_i] = (struct pick_key){.t_ms = now_ms, .node = nh, .job = jh, .gw = gh, .used = true};
    }
    pthread_mutex_unlock(&cr->mu);
    return rc;
}

void zt__check_reports_forget(struct zt__check_reports *cr, const char *job_id)
{
    if (!cr || !job_id || !job_id[0]) return;
    uint64_t jh = hash_of(cr, job_id);
    pthread_mutex_lock(&cr->mu);
    for (size_t i = 0; i < cr->n_picks; i++)
        if (cr->keys[i].used && cr->keys[i].job == jh && strcmp(cr->picks[i].job, job_id) == 0)
            cr->keys[i].ended = true;
    pthread_mutex_unlock(&cr->mu);
}

size_t zt__check_reports_picks(struct zt__check_reports *cr, const char *gateway, int64_t now_ms)
{
    size_t n = 0;
    uint64_t gh = gateway ? hash_of(cr, gateway) : 0;
    pthread_mutex_lock(&cr->mu);
    for (size_t i = 0; i < cr->n_picks; i++)
        n += key_live(&cr->keys[i], now_ms) && !cr->keys[i].ended &&
             (!gateway || (cr->keys[i].gw == gh && strcmp(cr->picks[i].gateway, gateway) == 0));
    pthread_mutex_unlock(&cr->mu);
    return n;
}

void zt__check_reports_failed(struct zt__check_reports *cr, const char *checker, const char *job_id)
{
    if (!cr || !checker || !job_id) return;
    uint64_t nh = hash_of(cr, checker), jh = hash_of(cr, job_id);
    pthread_mutex_lock(&cr->mu);
    for (size_t i = 0; i < cr->n_picks; i++) {
        struct pick *p = &cr->picks[i];
        if (cr->keys[i].used && cr->keys[i].node == nh && cr->keys[i].job == jh && !p->n_reports &&
            strcmp(p->node, checker) == 0 && strcmp(p->job, job_id) == 0)
            p->failed = true;
    }
    pthread_mutex_unlock(&cr->mu);
}

/* Which pick of the report's subject it goes under first (two jobs of one
 * subject, the same prompt and parameters, both picked the node): an
 * unanswered live one, then an unanswered one whose check the gateway
 * called failed (kept, so a gateway cannot hide an answer by calling its
 * check failed), then an answered one. */
static int pick_rank(const struct pick *p)
{
    return p->n_reports ? 2 : p->failed ? 1 : 0;
}

/* A slot for one more held report (expired ones dropped first), or NULL
 * when ZT__CHECK_REPORTS_MAX are held. With cr->mu. */
static struct report *report_slot(struct zt__check_reports *cr, int64_t now_ms)
{
    for (size_t i = 0; i < cr->n_r;) {
        if (now_ms - cr->r[i].t_ms > ZT__CHECK_REPORT_WINDOW_MS) cr->r[i] = cr->r[--cr->n_r];
        else i++;
    }
    if (cr->n_r == cr->cap_r) {
        if (cr->cap_r >= ZT__CHECK_REPORTS_MAX) return NULL;
        size_t cap = cr->cap_r ? cr->cap_r * 2 : 64;
        if (cap > ZT__CHECK_REPORTS_MAX) cap = ZT__CHECK_REPORTS_MAX;
        struct report *nr = zt_realloc(cr->r, cap * sizeof *nr);
        if (!nr) return NULL;
        cr->r = nr;
        cr->cap_r = cap;
    }
    return &cr->r[cr->n_r++];
}

int zt__check_reports_put(struct zt__check_reports *cr, zt__verdict_key_fn key, void *key_ud, json_t *body,
                          int64_t now_ms, char *job_out, const char **why)
{
    static const char *dummy;
    if (!why) why = &dummy;
    *why = "a report needs node_id, checkpoint and receipt (hex)";
    const char *id = json_string_value(json_object_get(body, "node_id"));
    if (!cr || !key || !id || strlen(id) >= ZT_IDENTITY_ID_SIZE) return ZT_EINVAL;
    /* a node never picked lately is refused before any signature is
     * checked (a flood of reports costs a scan, not a verification) */
    bool picked = false;
    uint64_t nh = hash_of(cr, id);
    pthread_mutex_lock(&cr->mu);
    for (size_t i = 0; i < cr->n_picks && !picked; i++)
        picked = cr->keys[i].node == nh && key_live(&cr->keys[i], now_ms) && strcmp(cr->picks[i].node, id) == 0;
    pthread_mutex_unlock(&cr->mu);
    if (!picked) {
        *why = "the node was not picked as a checker here";
        return ZT_EPERM;
    }
    struct zt__verdict_job job = {.key = key, .key_ud = key_ud};
    struct evidence *e = zt_calloc(1, sizeof *e);
    if (!e) return ZT_ENOMEM;
    int rc = evidence_of(&job, id, json_string_value(json_object_get(body, "checkpoint")),
                         json_string_value(json_object_get(body, "receipt")), e, why);
    /* (a check's subject is the checked job's input_hash, not its own
     * body's: the receipt's input_hash is not compared; the checkpoint's
     * signed subject names the pick) */
    if (rc) {
        zt_free(e);
        return rc;
    }
    int64_t finished_ms = (int64_t)(e->r.finished > (uint64_t)INT64_MAX / 1000 ? INT64_MAX / 1000 : e->r.finished) * 1000;
    if (finished_ms > now_ms + ZT__CHECK_REPORT_SKEW_MS) {
        /* its receipt id could not be kept until it stops counting */
        *why = "the check's receipt is dated in the future (past the clock skew allowed)";
        zt_free(e);
        return ZT_EPERM;
    }
    pthread_mutex_lock(&cr->mu);
    struct pick *best = NULL;
    int64_t best_t = 0;
    bool of_subject = false;
    for (size_t i = 0; i < cr->n_picks; i++) {
        struct pick *p = &cr->picks[i];
        int64_t t = cr->keys[i].t_ms;
        if (cr->keys[i].node != nh || !key_live(&cr->keys[i], now_ms) || strcmp(p->node, id) != 0 ||
            memcmp(p->subject, e->c.subject, sizeof p->subject) != 0)
            continue;
        of_subject = true;
        /* a check that ended before the pick (an older check's report) does not count under it */
        if (finished_ms + ZT__CHECK_REPORT_SKEW_MS < t || p->n_reports >= ZT__CHECK_REPORTS_PER_PICK) continue;
        /* the oldest pick it can answer, by rank (pick_rank) first */
        if (!best || pick_rank(p) < pick_rank(best) || (pick_rank(p) == pick_rank(best) && t < best_t)) {
            best = p;
            best_t = t;
        }
    }
    /* each receipt once: kept until no live pick could take it (a pick
     * takes a check that finished at most the skew before it, and lives
     * the window), so a replay is refused however many came since */
    struct report *r = NULL;
    if (zt__once_seen(cr->receipts, e->r.job_id, now_ms)) {
        rc = ZT_EEXIST;
        *why = "this receipt was already reported";
    } else if (!best) {
        rc = ZT_EPERM;
        *why = of_subject ? "the check ended before the node was picked, or it reported too often"
                          : "the report's subject (input_hash) is of no check the node was picked for here";
    } else if (!(r = report_slot(cr, now_ms))) {
        rc = ZT_EBUSY;
        *why = "too many reports held; retry later";
    } else if (zt__once_take(cr->receipts, e->r.job_id,
                             finished_ms + ZT__CHECK_REPORT_SKEW_MS + ZT__CHECK_REPORT_WINDOW_MS, now_ms,
                             false) != ZT__ONCE_TAKEN) {
        cr->n_r--; /* the slot report_slot gave, given back */
        rc = ZT_EBUSY;
        *why = "too many report receipts held; retry later";
    }
    if (!rc) {
        best->n_reports++;
        if (job_out) zt_strlcpy(job_out, best->job, ZT_JOB_ID_SIZE);
        zt_strlcpy(r->node, id, sizeof r->node);
        memcpy(r->subject, e->c.subject, sizeof r->subject);
        memcpy(r->pk, e->pk, sizeof r->pk);
        memcpy(r->ckpt, e->ckpt, e->ckpt_len);
        r->ckpt_len = e->ckpt_len;
        r->t_ms = now_ms;
    }
    pthread_mutex_unlock(&cr->mu);
    zt_free(e);
    return rc;
}

/* node was picked lately for a check of subject and has not reported it
 * yet: its report may be on its way. With cr->mu. */
static bool awaited(const struct zt__check_reports *cr, const char *node, const uint8_t *subject)
{
    int64_t now = zt_time_real_ms();
    uint64_t nh = hash_of(cr, node);
    for (size_t i = 0; i < cr->n_picks; i++) {
        const struct pick *p = &cr->picks[i];
        if (cr->keys[i].node == nh && key_live(&cr->keys[i], now) && !p->n_reports && !p->failed &&
            strcmp(p->node, node) == 0 && memcmp(p->subject, subject, sizeof p->subject) == 0)
            return true;
    }
    return false;
}

bool zt__check_reports_for_job(struct zt__check_reports *cr, const char *job_id, bool *awaiting)
{
    if (awaiting) *awaiting = false;
    if (!cr || !job_id || !job_id[0]) return false;
    bool reported = false, wait = false;
    int64_t now_ms = zt_time_real_ms();
    uint64_t jh = hash_of(cr, job_id);
    pthread_mutex_lock(&cr->mu);
    for (size_t i = 0; i < cr->n_picks && !reported; i++) {
        const struct pick *p = &cr->picks[i];
        if (cr->keys[i].job != jh || !key_live(&cr->keys[i], now_ms) || strcmp(p->job, job_id) != 0) continue;
        reported = p->n_reports > 0;
        wait = wait || (!p->n_reports && !p->failed);
    }
    pthread_mutex_unlock(&cr->mu);
    if (awaiting) *awaiting = !reported && wait;
    return reported;
}

/* node's report of subject into *out: true when held; else *awaiting is
 * set when it may still come. */
static bool report_of(struct zt__check_reports *cr, const char *node, const uint8_t *subject, struct report *out,
                      bool *awaiting)
{
    bool found = false;
    pthread_mutex_lock(&cr->mu);
    int64_t now = zt_time_real_ms();
    for (size_t i = 0; i < cr->n_r && !found; i++) {
        const struct report *r = &cr->r[i];
        if (now - r->t_ms <= ZT__CHECK_REPORT_WINDOW_MS && strcmp(r->node, node) == 0 &&
            memcmp(r->subject, subject, sizeof r->subject) == 0) {
            *out = *r;
            found = true;
        }
    }
    if (!found && awaited(cr, node, subject)) *awaiting = true;
    pthread_mutex_unlock(&cr->mu);
    return found;
}

static const char *const NAMES[] = {"agreed", "worker_wrong", "checker_wrong", "undecided"};

int zt__orch_verdict_check(const struct zt__verdict_job *job, json_t *body, struct zt__verdict *out,
                           const char **why)
{
    static const char *dummy;
    if (!why) why = &dummy;
    *why = "malformed report";
    if (!job || !job->key || !job->worker || !body || !out) return ZT_EINVAL;
    const char *claimed = json_string_value(json_object_get(body, "verdict"));
    int claim = -1;
    for (int i = 0; i < 4; i++)
        if (claimed && strcmp(claimed, NAMES[i]) == 0) claim = i;
    json_t *ws = json_object_get(body, "workers"), *cs = json_object_get(body, "checkers");
    if (claim < 0 || !json_is_array(ws) || !json_array_size(ws) || json_array_size(ws) > ZT__VERDICT_NODES_MAX ||
        (cs && !json_is_array(cs)) || json_array_size(cs) > ZT_JOB_CHECKERS_MAX)
        return ZT_EINVAL;
    struct zt__verdict v;
    memset(&v, 0, sizeof v);
    size_t i;
    json_t *x;
    json_array_foreach(ws, i, x) {
        const char *id = json_string_value(x);
        if (!id) return ZT_EINVAL;
        if (!listed(id, job->ran, job->n_ran) || listed(id, v.workers, v.n_workers) ||
            (i == 0 && strcmp(id, job->worker) != 0)) {
            *why = "a worker named did not run this job (or not last)";
            return ZT_EPERM;
        }
        v.workers[v.n_workers++] = id;
    }
    /* the answers: [0] the worker's, then the checkers' signed ones, then
     * the refusals (the gateway's word: a checker's 400 is not signed) */
    struct evidence *ev = zt_calloc(ZT_JOB_CHECKERS_MAX + 1, sizeof *ev);
    if (!ev) return ZT_ENOMEM;
    int rc = evidence_of(job, v.workers[0], json_string_value(json_object_get(body, "checkpoint")),
                         json_string_value(json_object_get(body, "receipt")), &ev[0], why);
    /* one attempt, no resume: the job's subject is its body's hash, the
     * input_hash the worker's receipt commits to */
    if (!rc && job->attempts == 1 && memcmp(ev[0].r.input_hash, ev[0].c.subject, sizeof ev[0].c.subject) != 0) {
        *why = "the worker's checkpoint is not of the job its receipt names (input_hash)";
        rc = ZT_EPERM;
    }
    struct zt_job_answer ans[ZT_JOB_CHECKERS_MAX + 1];
    size_t n_signed = 1, n_all;
    const char *refused[ZT_JOB_CHECKERS_MAX];
    ans[0] = (struct zt_job_answer){.ckpt = ev[0].ckpt, .ckpt_len = ev[0].ckpt_len, .pk = ev[0].pk};
    json_array_foreach(cs, i, x) {
        if (rc) break;
        const char *id = json_string_value(json_object_get(x, "node_id"));
        if (!id) {
            rc = ZT_EINVAL;
            break;
        }
        if (!listed(id, job->picked, job->n_picked) || listed(id, v.checkers, v.n_checkers) ||
            listed(id, refused, v.n_refused) || listed(id, v.workers, v.n_workers)) {
            *why = "a checker named was not picked for this job by this orchestrator";
            rc = ZT_EPERM;
            break;
        }
        if (json_is_true(json_object_get(x, "refused"))) {
            refused[v.n_refused++] = id;
            continue;
        }
        struct evidence *e = &ev[n_signed];
        rc = evidence_of(job, id, json_string_value(json_object_get(x, "checkpoint")),
                         json_string_value(json_object_get(x, "receipt")), e, why);
        if (!rc && memcmp(e->c.subject, ev[0].c.subject, sizeof e->c.subject) != 0) {
            *why = "a checker's checkpoint is of another subject (input_hash) than the worker's";
            rc = ZT_EPERM;
        }
        if (rc) break;
        ans[n_signed++] = (struct zt_job_answer){.ckpt = e->ckpt, .ckpt_len = e->ckpt_len, .pk = e->pk};
        v.checkers[v.n_checkers++] = id;
    }
    if (!rc && job->subject && memcmp(job->subject, ev[0].c.subject, sizeof ev[0].c.subject) != 0) {
        *why = "the worker's checkpoint is of another subject (input_hash) than its checkers were picked for";
        rc = ZT_EPERM;
    }
    /* every picked checker's own report held here: an answer the gateway
     * left out, or called a refusal, is decided with all the same (one
     * still on its way sets *awaiting: the caller may decide again) */
    bool awaiting = false;
    for (size_t p = 0; !rc && job->reports && p < job->n_picked; p++) {
        const char *id = job->picked[p];
        /* a checker the gateway called refused is looked up even when the
         * answers are full: its signed answer takes the refusal's place */
        bool was_ref = listed(id, refused, v.n_refused);
        if (listed(id, v.checkers, v.n_checkers) || listed(id, v.workers, v.n_workers) ||
            (!was_ref && n_signed + v.n_refused >= ZT_JOB_CHECKERS_MAX + 1) || v.n_checkers >= ZT__VERDICT_NODES_MAX)
            continue;
        struct report *r = zt_malloc(sizeof *r);
        if (!r) {
            rc = ZT_ENOMEM;
            break;
        }
        if (report_of(job->reports, id, ev[0].c.subject, r, &awaiting)) {
            for (size_t k = 0; k < v.n_refused; k++)
                if (strcmp(refused[k], id) == 0) { /* a signed answer called a refusal */
                    refused[k] = refused[--v.n_refused];
                    break;
                }
            struct evidence *e = &ev[n_signed];
            memcpy(e->ckpt, r->ckpt, r->ckpt_len);
            e->ckpt_len = r->ckpt_len;
            memcpy(e->pk, r->pk, sizeof e->pk);
            ans[n_signed++] = (struct zt_job_answer){.ckpt = e->ckpt, .ckpt_len = e->ckpt_len, .pk = e->pk};
            v.checkers[v.n_checkers++] = id;
            v.n_added++;
        }
        zt_free(r);
    }
    if (job->awaiting) *job->awaiting = awaiting;
    if (rc) {
        zt_free(ev);
        return rc;
    }
    /* the gateway's verdict counts its refusals as one more group of equal
     * answers; the orchestrator charges only what the signatures prove */
    n_all = n_signed;
    for (size_t k = 0; k < v.n_refused; k++) ans[n_all++] = (struct zt_job_answer){.refused_ids = true};
    bool agrees[ZT_JOB_CHECKERS_MAX + 1], wrong[ZT_JOB_CHECKERS_MAX + 1];
    enum zt_job_check_verdict all = zt_job_check_decide(ans, n_all, NULL, NULL);
    enum zt_job_check_verdict proven = zt_job_check_decide(ans, n_signed, agrees, wrong);
    if (all == ZT_CHECK_UNAVAILABLE || strcmp(zt_job_check_verdict_name(all), claimed) != 0) {
        *why = v.n_added ? "the verdict leaves out a picked checker's signed answer (which it reported here)"
                         : "the claimed verdict is not what the signed chains say";
        zt_free(ev);
        return ZT_EPERM;
    }
    /* someone is charged only when the signed answers alone decide as all
     * of them do: a gateway that relabels a signed answer as a refusal to
     * turn the signed majority against a worker gets nothing settled. A
     * signed agreement charges nobody and settles as it is. */
    v.settle = proven != ZT_CHECK_UNAVAILABLE && (proven == all || proven == ZT_CHECK_AGREED);
    memcpy(v.env_job_id, ev[0].r.job_id, sizeof v.env_job_id);
    v.env_finished = ev[0].r.finished;
    for (int k = 0; k < 4; k++)
        if (strcmp(zt_job_check_verdict_name(proven), NAMES[k]) == 0) v.verdict = (enum zt_verify_verdict)k;
    for (size_t k = 0; k < v.n_checkers; k++) v.wrong[k] = wrong[k + 1];
    zt_free(ev);
    *out = v;
    *why = NULL;
    return 0;
}

int zt__orch_verdict_own(struct zt__check_reports *cr, const uint8_t *wckpt, size_t wckpt_len,
                         const uint8_t wpk[static ZT_ED25519_PK_LEN], const char *const *picked, size_t n_picked,
                         struct zt__verdict *out, bool *awaiting)
{
    bool dummy = false;
    if (!awaiting) awaiting = &dummy;
    *awaiting = false;
    struct zt_checkpoint wc;
    if (!cr || !wckpt || !out || zt_checkpoint_verify(wckpt, wckpt_len, wpk, &wc) != 0 ||
        !(wc.flags & ZT_CKPT_FLAG_FINAL))
        return ZT_EINVAL;
    struct zt__verdict v;
    memset(&v, 0, sizeof v);
    memcpy(v.env_job_id, wc.job_id, sizeof v.env_job_id);
    /* the held reports, copied out (the answers point into them) */
    struct report *rs = zt_calloc(ZT_JOB_CHECKERS_MAX, sizeof *rs);
    if (!rs) return ZT_ENOMEM;
    struct zt_job_answer ans[ZT_JOB_CHECKERS_MAX + 1];
    size_t n = 0;
    ans[n++] = (struct zt_job_answer){.ckpt = wckpt, .ckpt_len = wckpt_len, .pk = wpk};
    for (size_t p = 0; p < n_picked && n < ZT_JOB_CHECKERS_MAX + 1 && v.n_checkers < ZT__VERDICT_NODES_MAX; p++) {
        struct report *r = &rs[n - 1];
        if (!report_of(cr, picked[p], wc.subject, r, awaiting)) continue;
        ans[n++] = (struct zt_job_answer){.ckpt = r->ckpt, .ckpt_len = r->ckpt_len, .pk = r->pk};
        v.checkers[v.n_checkers++] = picked[p];
    }
    bool agrees[ZT_JOB_CHECKERS_MAX + 1], wrong[ZT_JOB_CHECKERS_MAX + 1];
    enum zt_job_check_verdict d = zt_job_check_decide(ans, n, agrees, wrong);
    zt_free(rs);
    v.settle = d != ZT_CHECK_UNAVAILABLE;
    for (int k = 0; k < 4; k++)
        if (strcmp(zt_job_check_verdict_name(d), NAMES[k]) == 0) v.verdict = (enum zt_verify_verdict)k;
    for (size_t k = 0; k < v.n_checkers; k++) v.wrong[k] = wrong[k + 1];
    *out = v;
    return 0;
}
