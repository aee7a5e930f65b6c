/* orch_verdict.c: the orchestrator checks a remote gateway's verdict
 * against the signed chains (orch_verdict.h). */
#include "orch_verdict.h"

#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"

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
        *why = "the claimed verdict is not what the signed chains say";
        zt_free(ev);
        return ZT_EPERM;
    }
    /* someone is charged only when the signed answers alone decide as all
     * of them do: a gateway that relabels a signed answer as a refusal to
     * turn the signed majority against a worker gets nothing settled. A
     * signed agreement charges nobody and settles as it is. */
    v.settle = proven != ZT_CHECK_UNAVAILABLE && (proven == all || proven == ZT_CHECK_AGREED);
    memcpy(v.env_job_id, ev[0].r.job_id, sizeof v.env_job_id);
    for (int k = 0; k < 4; k++)
        if (strcmp(zt_job_check_verdict_name(proven), NAMES[k]) == 0) v.verdict = (enum zt_verify_verdict)k;
    for (size_t k = 0; k < v.n_checkers; k++) v.wrong[k] = wrong[k + 1];
    zt_free(ev);
    *out = v;
    *why = NULL;
    return 0;
}
