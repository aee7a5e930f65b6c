/* verify.c: verification by exact comparison (zt_jobs.h, WIRE.md section
 * 7), and the checks on other workers that feed it (zt_job_check_run). A worker's final checkpoint and a verifier's (teacher-forced over
 * the same prompt and the worker's ids) for one subject: equal chains mean
 * the work was done with that model, build and parameters. Only signed
 * hashes are read, never text: the orchestrator can do this with what the
 * gateway hands it. */
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

int zt_job_chain_compare(const uint8_t *a, size_t a_len, const uint8_t *pk_a, const uint8_t *b, size_t b_len,
                         const uint8_t *pk_b, enum zt_chain_verdict *verdict, const char **why)
{
    if (!a || !b || !verdict) return ZT_EINVAL;
    struct zt_checkpoint x, y;
    int rc = zt_checkpoint_verify(a, a_len, pk_a, &x);
    if (!rc) rc = zt_checkpoint_verify(b, b_len, pk_b, &y);
    if (rc) {
        if (why) *why = "a checkpoint does not verify";
        return rc;
    }
    const char *w = NULL;
    enum zt_chain_verdict v = ZT_CHAIN_MISMATCH;
    if (!(x.flags & y.flags & ZT_CKPT_FLAG_FINAL)) {
        v = ZT_CHAIN_INCOMPARABLE;
        w = "not both final checkpoints";
    } else if (memcmp(x.subject, y.subject, sizeof x.subject) != 0) {
        v = ZT_CHAIN_INCOMPARABLE;
        w = "checkpoints of different jobs (subjects differ)";
    } else if (memcmp(x.model_sha256, y.model_sha256, sizeof x.model_sha256) != 0) {
        w = "the model files differ";
    } else if (x.build_id_len != y.build_id_len || memcmp(x.build_id, y.build_id, x.build_id_len) != 0) {
        w = "the engine builds differ";
    } else if (x.n_tokens != y.n_tokens) {
        w = "the token counts differ";
    } else if (memcmp(x.chain, y.chain, sizeof x.chain) != 0) {
        w = "the hash chains differ";
    } else {
        v = ZT_CHAIN_MATCH;
        w = "the chains are equal";
    }
    *verdict = v;
    if (why) *why = w;
    return 0;
}

/* ---- checks on other workers ------------------------------------------------ */

const char *zt_job_check_verdict_name(enum zt_job_check_verdict v)
{
    switch (v) {
    case ZT_CHECK_AGREED: return "agreed";
    case ZT_CHECK_WORKER_WRONG: return "worker_wrong";
    case ZT_CHECK_CHECKER_WRONG: return "checker_wrong";
    case ZT_CHECK_UNDECIDED: return "undecided";
    case ZT_CHECK_UNAVAILABLE: return "unavailable";
    }
    return "?";
}

/* One answer: a FINAL checkpoint under a key, or "refused the claimed ids". */
struct answer {
    bool refused_ids;
    uint8_t ckpt[ZT_CKPT_MAX_LEN];
    size_t ckpt_len;
    uint8_t pk[ZT_ENV_ED25519_PK_LEN];
};

static bool same(const struct zt_job_answer *a, const struct zt_job_answer *b)
{
    if (a->refused_ids || b->refused_ids) return a->refused_ids && b->refused_ids;
    enum zt_chain_verdict v;
    return zt_job_chain_compare(a->ckpt, a->ckpt_len, a->pk, b->ckpt, b->ckpt_len, b->pk, &v, NULL) == 0 &&
           v == ZT_CHAIN_MATCH;
}

enum zt_job_check_verdict zt_job_check_decide(const struct zt_job_answer *a, size_t n, bool *agrees, bool *wrong)
{
    if (!a || n < 2) return ZT_CHECK_UNAVAILABLE;
    size_t best = 0, head = 0; /* the largest group of equal answers (ties: the first found) */
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++) m += same(&a[i], &a[j]);
        if (m > best) {
            best = m;
            head = i;
        }
    }
    enum zt_job_check_verdict v = best == n       ? ZT_CHECK_AGREED
                                  : best * 2 <= n ? ZT_CHECK_UNDECIDED
                                  : same(&a[head], &a[0]) ? ZT_CHECK_CHECKER_WRONG
                                                          : ZT_CHECK_WORKER_WRONG;
    for (size_t i = 1; i < n; i++) {
        if (agrees) agrees[i] = same(&a[i], &a[0]);
        if (wrong) wrong[i] = v != ZT_CHECK_UNDECIDED && !same(&a[i], &a[head]);
    }
    return v;
}

struct check {
    const struct zt_job_check_req *r;
    const struct zt_job_checker *ck;
    struct zt_job_check_result *out;
    const char *exclude[ZT_JOB_CHECKERS_MAX + 64];
    size_t n_ex;
    struct answer ans[ZT_JOB_CHECKERS_MAX + 1]; /* [0]: the worker's; then one per answered checker */
    size_t who[ZT_JOB_CHECKERS_MAX + 1];        /* ans[i] is out->c[who[i]] (i >= 1) */
    size_t n_ans;
    struct zt_job_outcome o;                    /* big: not on the stack */
};

static bool stopped(const struct zt_job_check_req *r)
{
    return r->hooks && r->hooks->cancelled && r->hooks->cancelled(r->hooks->ud);
}

/* Seal the job to w and send it; true when it answered (ans filled). */
static bool check_one(struct check *k, const struct zt_job_worker *w, const char *role, struct answer *ans)
{
    const struct zt_job_check_req *r = k->r;
    struct zt_job_check_one *c = &k->out->c[k->out->n];
    memset(c, 0, sizeof *c);
    zt_strlcpy(c->node_id, w->node_id, sizeof c->node_id);
    c->role = role;
    uint64_t t0 = zt_time_mono_ms();
    struct zt_job_spec spec = r->spec;
    spec.max_price = 0; /* a check is paid from the fee account, not under the client's ceiling */
    spec.worker_id = w->node_id;
    spec.worker_kem_pk = w->kem_pk;
    spec.worker_sign_pk = w->sign_pk;
    struct zt_job_target t = r->target;
    t.base_url = w->base_url;
    t.via_relay = w->via_relay;
    t.recipient_id = w->recipient_id[0] ? w->recipient_id : w->node_id;
    bool tf = r->mode == ZT_JOB_CHECK_TEACHER_FORCED;
    /* the checker runs in the worker's KV cache type and precision mode
     * (its final checkpoint's build id): a checker in other modes refuses
     * rather than answer other bits (a false alarm against the worker) */
    struct zt_checkpoint wck;
    if (r->ckpt && r->worker_pk && zt_checkpoint_verify(r->ckpt, r->ckpt_len, r->worker_pk, &wck) == 0) {
        wck.build_id[wck.build_id_len < sizeof wck.build_id ? wck.build_id_len : sizeof wck.build_id - 1] = '\0';
        spec.engine = wck.build_id;
    }
    struct zt_job_call *call = NULL;
    if (zt_job_call_continue(r->job, tf ? ZT_JOB_VERIFY : ZT_JOB_RESUME, tf ? r->ids : NULL, tf ? r->n_ids : 0, NULL,
                             0, &spec, &call) != 0 ||
        zt_job_call_target(call, &t) != 0) {
        zt_job_call_free(call);
        return false; /* nothing was sent: it saw nothing */
    }
    k->out->n++; /* sealed and sent to it: it sees the text */
    struct zt_job_hooks h = {.cancelled = r->hooks ? r->hooks->cancelled : NULL, .ud = r->hooks ? r->hooks->ud : NULL};
    struct zt_job_outcome *o = &k->o;
    bool ok = false;
    enum zt_job_attempt a = ZT_JOB_ATTEMPT_DIED;
    if (zt_job_call_send(call, &h, o) == 0) {
        if (o->status == ZT_JOB_VERIFIED && o->result.checkpoint_len > 0) {
            memset(ans, 0, sizeof *ans);
            memcpy(ans->ckpt, o->result.checkpoint, o->result.checkpoint_len);
            ans->ckpt_len = o->result.checkpoint_len;
            memcpy(ans->pk, w->sign_pk, sizeof ans->pk);
            memcpy(c->receipt, o->result.receipt_bytes, o->result.receipt_len);
            c->receipt_len = o->result.receipt_len;
            memcpy(c->checkpoint, o->result.checkpoint, o->result.checkpoint_len);
            c->checkpoint_len = o->result.checkpoint_len;
            ok = true;
        } else if (tf && o->status == ZT_JOB_REFUSED && o->http_status == 400) {
            /* the verifier's model has no such ids: it caught them too */
            memset(ans, 0, sizeof *ans);
            ans->refused_ids = true;
            c->refused_ids = true;
            ok = true;
        } else {
            a = o->status == ZT_JOB_REFUSED     ? ZT_JOB_ATTEMPT_REFUSED
                : o->status == ZT_JOB_TIMEOUT    ? ZT_JOB_ATTEMPT_STALLED
                : o->status == ZT_JOB_UNVERIFIED ? ZT_JOB_ATTEMPT_BAD
                                                 : ZT_JOB_ATTEMPT_DIED;
        }
    }
    c->answered = ok;
    c->ms = zt_time_mono_ms() - t0;
    zt_log(ok ? ZT_LOG_INFO : ZT_LOG_WARN, "job_check", "job_id=%s checker=%s role=%s mode=%s answered=%s ms=%llu",
           zt_job_call_id(r->job), w->node_id, role, tf ? "teacher_forced" : "replica", ok ? "yes" : "no",
           (unsigned long long)c->ms);
    if (!ok && k->ck->failed && !(o->cancelled || stopped(r))) k->ck->failed(k->ck->ud, w, a);
    zt_job_call_free(call);
    return ok;
}

/* One round: pick checkers until one answers (at most max_tries); false
 * when none did. */
static bool round_run(struct check *k, unsigned round, const char *role)
{
    unsigned tries = k->r->max_tries ? k->r->max_tries : 2;
    for (unsigned t = 0; t < tries && k->out->n < ZT_JOB_CHECKERS_MAX && !stopped(k->r); t++) {
        struct zt_job_worker w;
        if (k->ck->pick(k->ck->ud, round, k->exclude, k->n_ex, &w) != 0) return false;
        if (k->n_ex >= sizeof k->exclude / sizeof k->exclude[0]) return false;
        size_t idx = k->out->n;
        k->exclude[k->n_ex++] = k->out->c[idx].node_id; /* the slot check_one fills */
        zt_strlcpy(k->out->c[idx].node_id, w.node_id, sizeof k->out->c[idx].node_id);
        if (check_one(k, &w, role, &k->ans[k->n_ans])) {
            k->who[k->n_ans++] = idx;
            return true;
        }
        if (k->out->n == idx) { /* nothing sent: keep it excluded by a copy that stays */
            k->n_ex--;
            return false;
        }
    }
    return false;
}

/* The answers so far as zt_job_check_decide reads them. */
static enum zt_job_check_verdict decide(struct check *k, bool *agrees, bool *wrong)
{
    struct zt_job_answer v[ZT_JOB_CHECKERS_MAX + 1];
    for (size_t i = 0; i < k->n_ans; i++)
        v[i] = (struct zt_job_answer){.ckpt = k->ans[i].ckpt, .ckpt_len = k->ans[i].ckpt_len, .pk = k->ans[i].pk,
                                      .refused_ids = k->ans[i].refused_ids};
    return zt_job_check_decide(v, k->n_ans, agrees, wrong);
}

int zt_job_check_run(const struct zt_job_check_req *r, const struct zt_job_checker *ck, struct zt_job_check_result *out)
{
    if (!r || !ck || !ck->pick || !out || !r->job || !r->ckpt || !r->worker_pk || (r->n_ids && !r->ids) ||
        r->ckpt_len > ZT_CKPT_MAX_LEN || (r->n_ran && !r->ran) ||
        (r->mode == ZT_JOB_CHECK_REPLICA && (r->replicas < 1 || r->replicas > ZT_JOB_CHECKERS_MAX - 2)))
        return ZT_EINVAL;
    struct check *k = zt_calloc(1, sizeof *k);
    if (!k) return ZT_ENOMEM;
    memset(out, 0, sizeof *out);
    uint64_t t0 = zt_time_mono_ms();
    k->r = r;
    k->ck = ck;
    k->out = out;
    for (size_t i = 0; i < r->n_ran && k->n_ex < 64; i++) k->exclude[k->n_ex++] = r->ran[i];
    memcpy(k->ans[0].ckpt, r->ckpt, r->ckpt_len);
    k->ans[0].ckpt_len = r->ckpt_len;
    memcpy(k->ans[0].pk, r->worker_pk, sizeof k->ans[0].pk);
    k->n_ans = 1;
    bool tf = r->mode == ZT_JOB_CHECK_TEACHER_FORCED;
    unsigned want = tf ? 1 : r->replicas, round = 0;
    for (; round < want; round++) zt_ignore(round_run(k, round, tf ? "verifier" : "replica"));
    out->verdict = ZT_CHECK_UNAVAILABLE;
    out->why = "no other worker could check the job";
    if (k->n_ans > 1) {
        /* a strict majority decides; without one, one arbiter more */
        while (decide(k, NULL, NULL) == ZT_CHECK_UNDECIDED && round < want + 1 &&
               round_run(k, round++, "arbiter"))
            ;
        bool agrees[ZT_JOB_CHECKERS_MAX + 1], wrong[ZT_JOB_CHECKERS_MAX + 1];
        out->verdict = decide(k, agrees, wrong);
        out->why = out->verdict == ZT_CHECK_AGREED       ? "the chains are equal"
                   : out->verdict == ZT_CHECK_UNDECIDED ? "the chains differ and no majority decides"
                   : out->verdict == ZT_CHECK_CHECKER_WRONG
                       ? "a checker's chain differs from the worker's and the majority's"
                       : "the worker's chain differs from the majority's";
        for (size_t i = 1; i < k->n_ans; i++) {
            struct zt_job_check_one *c = &out->c[k->who[i]];
            c->agrees = agrees[i];
            c->wrong = wrong[i];
        }
    }
    out->ms = zt_time_mono_ms() - t0;
    zt_free(k);
    return 0;
}
