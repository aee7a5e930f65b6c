/* orch_verdict.h: the orchestrator's own reading of a remote gateway's
 * verification verdict (internal to src/server; orch_lease.c uses it,
 * tests/unit/test_orch_verdict.c tests it). docs/internals/orchestrator.md
 * "Verification over leases".
 *
 * A gateway in another process runs the checks of a leased job (it alone
 * may see the text) and reports the verdict with its evidence: the
 * worker's signed FINAL checkpoint and receipt, and each checker's (or
 * that it refused the claimed ids). The orchestrator does not take the
 * verdict on trust: every checkpoint and receipt must verify under the
 * registry's key of the node named, belong together (same job envelope,
 * chain and build), be FINAL and of one subject (the job's input_hash);
 * the workers must be ones this job was assigned to, the checkers ones the
 * orchestrator picked for it; and the verdict it recomputes from the
 * chains (zt_job_check_decide) must be the one claimed. */
#ifndef ZT_SERVER_ORCH_VERDICT_H
#define ZT_SERVER_ORCH_VERDICT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_identity.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_verifier.h"

#define ZT__VERDICT_NODES_MAX 16

/* The node's Ed25519 key as the registry holds it: 0, or ZT_ENOTFOUND. */
typedef int (*zt__verdict_key_fn)(void *ud, const char *node_id, uint8_t pk[static ZT_ED25519_PK_LEN]);

/* What the orchestrator knows of the leased job. */
struct zt__verdict_job {
    const char *worker;          /* its last worker (the scheduler's) */
    unsigned attempts;           /* assignments: 1 = no failover (the receipt's input_hash is the subject) */
    const char *const *ran;      /* the workers it was assigned to */
    size_t n_ran;
    const char *const *picked;   /* the checkers this orchestrator picked for it */
    size_t n_picked;
    zt__verdict_key_fn key;
    void *key_ud;
};

/* What the evidence proves, to settle (strings borrowed from the body). */
struct zt__verdict {
    bool settle;                 /* false: nothing the signatures prove (only refusals disagree) */
    enum zt_verify_verdict verdict;
    const char *workers[ZT__VERDICT_NODES_MAX];
    size_t n_workers;
    const char *checkers[ZT__VERDICT_NODES_MAX]; /* the signed answers only */
    bool wrong[ZT__VERDICT_NODES_MAX];
    size_t n_checkers;
    size_t n_refused;            /* checkers reported refusing the ids (unsigned: not charged) */
    uint8_t env_job_id[16];      /* the worker receipt's sealed-job id: evidence is used once */
};

/* Check body (the report: "verdict" agreed|worker_wrong|checker_wrong|
 * undecided, "workers", "checkers", "checkpoint", "receipt") against job.
 * 0 and *out; ZT_EPERM (refused: *why says why, static) when the evidence
 * does not prove the claimed verdict; ZT_EINVAL when malformed. */
ZT_NODISCARD int zt__orch_verdict_check(const struct zt__verdict_job *job, json_t *body, struct zt__verdict *out,
                                        const char **why);

#endif
