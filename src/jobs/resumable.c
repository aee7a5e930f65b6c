/* resumable.c: one job across workers (zt_jobs.h, "Failover"). The
 * gateway's loop: send the job; while its worker streams, keep the ids and
 * the last checkpoint (wire v2, docs/architecture/WIRE.md); when the
 * worker dies (the connection drops, or it cannot be reached) or stalls
 * (no record for the stall deadline), ask the picker for another worker
 * and seal the same body to it with "resume": the ids streamed and that
 * checkpoint. The new worker decodes them as prompt in batched passes and
 * continues at token N without emitting their text again, so the text hook
 * sees one continuous text; its checkpoints chain to the previous worker's
 * (prev), which is checked at the end. Each id is reported for the one
 * worker that streamed it: nothing is counted twice.
 *
 * Plaintext stays in this process and in the workers the job was sealed
 * to; nothing here logs text. */
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define MAX_WORKERS_DEFAULT 4
#define MAX_WORKERS_CAP 16

/* What all attempts share (the sending thread's only). */
struct run {
    const struct zt_job_hooks *user;
    const struct zt_job_failover *f;
    int32_t *ids;                    /* every id streamed so far */
    size_t n_ids, cap;
    int oom;
    uint8_t ckpt[ZT_CKPT_MAX_LEN];   /* the last checkpoint seen, any worker */
    size_t ckpt_len;
    uint32_t attempt_ids;            /* ids of the attempt in progress */
    uint64_t last_ms;                /* the last record of this attempt (0: none yet) */
    uint64_t failed_ms;              /* when the last failure was seen (0: none) */
    uint64_t resume_ms;
    bool stalled;                    /* this attempt hit the stall deadline */
    bool user_stopped;               /* the caller's hooks stopped this attempt */
};

static void mark(struct run *r)
{
    uint64_t now = zt_time_mono_ms();
    if (!r->last_ms && r->failed_ms) r->resume_ms = now - r->failed_ms;
    r->last_ms = now;
}

static int h_text(void *ud, const char *t, size_t n)
{
    struct run *r = ud;
    mark(r);
    int e = r->user && r->user->text ? r->user->text(r->user->ud, t, n) : 0;
    if (e) r->user_stopped = true; /* e.g. the client went away */
    return e;
}

static void h_ids(void *ud, const int32_t *ids, size_t n)
{
    struct run *r = ud;
    mark(r);
    if (r->oom) return;
    int32_t *v = zt_array_grow(r->ids, &r->cap, r->n_ids + n, sizeof *v, 256);
    if (!v) {
        r->oom = ZT_ENOMEM;
        return;
    }
    r->ids = v;
    memcpy(r->ids + r->n_ids, ids, n * sizeof *ids);
    r->n_ids += n;
    r->attempt_ids += (uint32_t)n;
    if (r->user && r->user->ids) r->user->ids(r->user->ud, ids, n);
}

static void h_ckpt(void *ud, const uint8_t *rec, size_t len, const struct zt_checkpoint *c)
{
    struct run *r = ud;
    mark(r);
    memcpy(r->ckpt, rec, len);
    r->ckpt_len = len;
    if (r->user && r->user->checkpoint) r->user->checkpoint(r->user->ud, rec, len, c);
}

/* Polled about every 100 ms while a transfer runs: the caller's cancel,
 * and the stall deadline: no record for stall_ms once the worker has
 * streamed one. Before that, the transfer's own timeouts apply: a worker
 * that never answers (stopped: the kernel still accepts the connection)
 * is the first-byte timeout's (encryption.remote_timeout_s), since a
 * worker may take long before its first byte (loading the model on first
 * use) and before its first record (reading a long prompt). */
static bool h_cancelled(void *ud)
{
    struct run *r = ud;
    if (r->user && r->user->cancelled && r->user->cancelled(r->user->ud)) {
        r->user_stopped = true;
        return true;
    }
    uint64_t now = zt_time_mono_ms(), stall = r->f->stall_ms > 0 ? (uint64_t)r->f->stall_ms : 0;
    if (stall && r->last_ms && now - r->last_ms > stall) {
        r->stalled = true;
        return true;
    }
    return false;
}

static enum zt_job_attempt classify(const struct run *r, const struct zt_job_outcome *o)
{
    if (r->stalled) return ZT_JOB_ATTEMPT_STALLED;
    switch (o->status) {
    case ZT_JOB_VERIFIED: return ZT_JOB_ATTEMPT_OK;
    case ZT_JOB_UNVERIFIED:
        /* a transport error cut the stream: the worker (or the path to it)
         * went away; a complete stream that does not verify is BAD */
        return o->transport[0] && !o->cancelled ? ZT_JOB_ATTEMPT_DIED : ZT_JOB_ATTEMPT_BAD;
    case ZT_JOB_REFUSED: return ZT_JOB_ATTEMPT_REFUSED;
    case ZT_JOB_TIMEOUT: return ZT_JOB_ATTEMPT_STALLED;
    case ZT_JOB_UNREACHABLE:
    case ZT_JOB_CANCELLED: break;
    }
    return ZT_JOB_ATTEMPT_DIED;
}

/* Another worker may take the job after this attempt. */
static bool may_fail_over(enum zt_job_attempt a, const struct zt_job_outcome *o)
{
    if (o->cancelled && a != ZT_JOB_ATTEMPT_STALLED) return false; /* the caller stopped it */
    if (o->rc && o->status == ZT_JOB_UNVERIFIED && a != ZT_JOB_ATTEMPT_DIED && a != ZT_JOB_ATTEMPT_STALLED)
        return false;
    if (a == ZT_JOB_ATTEMPT_REFUSED)
        /* the request's own faults would be refused everywhere */
        return o->http_status != 400 && o->http_status != 413 && o->http_status != 422;
    return a == ZT_JOB_ATTEMPT_DIED || a == ZT_JOB_ATTEMPT_STALLED;
}

/* What the attempt says of its worker's health (zt_job_picker.health):
 * 1 ok, 0 failed by the worker (it died, stalled, refused the job for a
 * reason not the request's own, or returned a bad result), -1 nothing
 * (the caller stopped it, or the request's own fault was refused). */
static int health(const struct run *r, enum zt_job_attempt a, const struct zt_job_outcome *o)
{
    if (a == ZT_JOB_ATTEMPT_OK) return 1;
    if (r->user_stopped || (o->status == ZT_JOB_CANCELLED && !r->stalled)) return -1;
    if (a == ZT_JOB_ATTEMPT_REFUSED && (o->http_status == 400 || o->http_status == 413 || o->http_status == 422))
        return -1;
    return 0;
}

static int target(struct zt_job_call *j, const struct zt_job_failover *f, const struct zt_job_worker *w, int64_t now)
{
    struct zt_job_target t = f->target;
    t.now = now;
    t.base_url = w->base_url;
    t.via_relay = w->via_relay;
    t.recipient_id = w->recipient_id;
    return zt_job_call_target(j, &t);
}

/* The verified result of a resumed job: its final checkpoint names the
 * job's subject and continues the checkpoint it was given. */
static bool chains(const struct zt_job_call *j, const struct zt_sealed_result *res, const uint8_t *prev,
                   size_t prev_len)
{
    uint8_t sub[ZT_ENV_HASH_LEN], want[ZT_ENV_HASH_LEN] = {0};
    zt_job_call_subject(j, sub);
    if (prev_len) zt_checkpoint_id(prev, prev_len, want);
    return res->checkpoint_len && memcmp(res->ckpt.subject, sub, sizeof sub) == 0 &&
           memcmp(res->ckpt.prev, want, sizeof want) == 0;
}

int zt_job_call_send_failover(struct zt_job_call **job, const struct zt_job_worker *first,
                              const struct zt_job_failover *f, const struct zt_job_hooks *hooks,
                              struct zt_job_outcome *out, struct zt_job_failover_stats *st)
{
    if (!job || !*job || !first || !f || !out) return ZT_EINVAL;
    struct run r = {.user = hooks, .f = f};
    const struct zt_job_hooks h = {.text = h_text, .cancelled = h_cancelled, .ud = &r, .ids = h_ids,
                                   .checkpoint = h_ckpt};
    unsigned max = f->max_workers ? f->max_workers : MAX_WORKERS_DEFAULT;
    if (max > MAX_WORKERS_CAP) max = MAX_WORKERS_CAP;
    char tried[MAX_WORKERS_CAP][ZT_IDENTITY_ID_SIZE];
    const char *excl[MAX_WORKERS_CAP];
    struct zt_job_worker w = *first;
    unsigned n_tried = 0;
    uint8_t given[ZT_CKPT_MAX_LEN]; /* the checkpoint the running call was given */
    size_t given_len = 0;
    bool none_left = false;
    int rc;
    for (;;) {
        zt_strlcpy(tried[n_tried], w.node_id, sizeof tried[0]);
        excl[n_tried] = tried[n_tried];
        n_tried++;
        r.attempt_ids = 0;
        r.last_ms = 0;
        r.stalled = false;
        r.user_stopped = false;
        rc = zt_job_call_send(*job, &h, out);
        if (rc) break;
        if (!rc && r.oom) {
            rc = r.oom;
            break;
        }
        enum zt_job_attempt a = classify(&r, out);
        if (a == ZT_JOB_ATTEMPT_OK && n_tried > 1 && !chains(*job, &out->result, given, given_len)) {
            a = ZT_JOB_ATTEMPT_BAD;
            out->status = ZT_JOB_UNVERIFIED;
            out->rc = ZT_ECRYPTO;
            out->why = "the resumed worker's checkpoints do not continue the job's";
        }
        if (f->picker && f->picker->report) f->picker->report(f->picker->ud, &w, a, r.attempt_ids);
        int well = health(&r, a, out);
        if (f->picker && f->picker->health && well >= 0) f->picker->health(f->picker->ud, &w, well == 1);
        if (a == ZT_JOB_ATTEMPT_OK || !f->picker || !may_fail_over(a, out)) break;
        none_left = true; /* unless a next worker is found below */
        if (n_tried >= max) break;
        /* the next worker: same body, the ids so far, the last checkpoint */
        struct zt_job_worker next;
        if (f->picker->pick(f->picker->ud, excl, n_tried, &next) != 0) break;
        none_left = false;
        r.failed_ms = zt_time_mono_ms();
        struct zt_job_spec spec = f->spec;
        int64_t now = zt_time_real_ms() / 1000; /* a later envelope and signature */
        spec.now = (uint64_t)now;
        spec.worker_id = next.node_id;
        spec.worker_kem_pk = next.kem_pk;
        spec.worker_sign_pk = next.sign_pk;
        struct zt_job_call *c = NULL;
        rc = zt_job_call_continue(*job, ZT_JOB_RESUME, r.ids, r.n_ids, r.ckpt_len ? r.ckpt : NULL, r.ckpt_len,
                                  &spec, &c);
        if (!rc) rc = target(c, f, &next, now);
        if (rc) {
            zt_job_call_free(c);
            break;
        }
        memcpy(given, r.ckpt, r.ckpt_len);
        given_len = r.ckpt_len;
        zt_job_call_free(*job);
        *job = c;
        w = next;
    }
    if (st) {
        memset(st, 0, sizeof *st);
        st->workers = n_tried;
        zt_strlcpy(st->last_worker, w.node_id, sizeof st->last_worker);
        st->n_ids = (uint32_t)r.n_ids;
        st->resume_ms = r.resume_ms;
        st->none_left = none_left && !rc && n_tried > 1; /* one worker alone: its own failure says it */
    }
    zt_free(r.ids);
    return rc;
}
