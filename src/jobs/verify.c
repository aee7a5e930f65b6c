/* verify.c: verification by exact comparison (zt_jobs.h, WIRE.md section
 * 6). A worker's final checkpoint and a verifier's (teacher-forced over
 * the same prompt and the worker's ids) for one subject: equal chains mean
 * the work was done with that model, build and parameters. Only signed
 * hashes are read, never text: the orchestrator can do this with what the
 * gateway hands it. */
#include <string.h>

#include "zentalk/zt_jobs.h"

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
