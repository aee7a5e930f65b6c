/* zt_test_chain.h: a worker's signed FINAL checkpoint and the receipt that
 * goes with it, made by a test that holds the worker's key (WIRE.md
 * sections 4 and 7): what a verdict report to an orchestrator carries as
 * evidence (test_orch_verdict, test_attack_lease_verdict), and the check
 * event that asks for a checker of it. Header only. */
#ifndef ZT_TEST_CHAIN_H
#define ZT_TEST_CHAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_hex.h"
#include "zentalk/zt_sealed.h"

struct zt_test_chain {
    const uint8_t *subject;    /* 32 bytes: the job's subject */
    const uint8_t *input_hash; /* 32 bytes: the receipt's (NULL: the subject) */
    uint8_t job;               /* the envelope job id's bytes */
    const uint8_t *job_id;     /* 16 bytes: the envelope job id (NULL: `job` in every byte) */
    uint8_t chain;             /* the chain's bytes (checkpoint and receipt) */
    bool receipt_off;          /* the receipt's chain differs from the checkpoint's */
    bool not_final;
    uint64_t finished;         /* the receipt's finish time, unix s (0: 1970) */
};

/* Sign c with sk (libsodium's 64-byte Ed25519 key) into hex: ckpt_hex
 * (2 * ZT_CKPT_MAX_LEN + 1) and rec_hex (2 * ZT_ENV_RECEIPT_MAX_LEN + 1).
 * 0, or the signer's error. */
static inline int zt_test_signed_chain(const uint8_t *sk, const struct zt_test_chain *c, char *ckpt_hex,
                                       char *rec_hex)
{
    struct zt_checkpoint k;
    memset(&k, 0, sizeof k);
    k.flags = (uint8_t)(c->not_final ? 0 : ZT_CKPT_FLAG_FINAL);
    if (c->job_id) memcpy(k.job_id, c->job_id, sizeof k.job_id);
    else memset(k.job_id, c->job, sizeof k.job_id);
    memcpy(k.subject, c->subject, sizeof k.subject);
    memset(k.model_sha256, 0x4d, sizeof k.model_sha256);
    k.n_tokens = 8;
    memset(k.chain, c->chain, sizeof k.chain);
    k.build_id_len = 4;
    memcpy(k.build_id, "b-01", 5);
    uint8_t buf[ZT_CKPT_MAX_LEN > ZT_ENV_RECEIPT_MAX_LEN ? ZT_CKPT_MAX_LEN : ZT_ENV_RECEIPT_MAX_LEN];
    size_t len;
    int rc = zt_checkpoint_sign(&k, sk, buf, sizeof buf, &len);
    if (rc) return rc;
    zt_hex_encode(ckpt_hex, buf, len);
    struct zt_env_receipt r;
    memset(&r, 0, sizeof r);
    memcpy(r.job_id, k.job_id, sizeof r.job_id);
    memcpy(r.input_hash, c->input_hash ? c->input_hash : c->subject, sizeof r.input_hash);
    memset(r.seq_chain, c->receipt_off ? c->chain ^ 1 : c->chain, sizeof r.seq_chain);
    r.completion_tokens = 7;
    r.finished = c->finished;
    r.build_id_len = 4;
    memcpy(r.build_id, "b-01", 5);
    rc = zt_env_receipt_sign(&r, sk, buf, sizeof buf, &len);
    if (rc) return rc;
    zt_hex_encode(rec_hex, buf, len);
    return 0;
}

/* The body of a gateway's "check" event (POST /v1/orchestrator/report,
 * WIRE.md section 7) for round `round` of job, checking worker's answer of
 * subject: its signed FINAL checkpoint (worker_sk) goes with it. 0, or the
 * signer's error (ZT_ETOOBIG when out (cap) is too small). */
static inline int zt_test_check_event(const uint8_t *worker_sk, const uint8_t *subject, const char *job,
                                      const char *worker, int round, char *out, size_t cap)
{
    static char ck[2 * ZT_CKPT_MAX_LEN + 1], rec[2 * ZT_ENV_RECEIPT_MAX_LEN + 1];
    /* the worker's sealed-job id from the (random) subject: one job's evidence
     * never another's (the orchestrator uses each once, own verdicts too) */
    struct zt_test_chain c = {.subject = subject, .job_id = subject, .chain = 7};
    int rc = zt_test_signed_chain(worker_sk, &c, ck, rec);
    if (rc) return rc;
    int n = snprintf(out, cap,
                     "{\"job_id\":\"%s\",\"worker\":\"%s\",\"event\":\"check\",\"round\":%d,\"exclude\":[],"
                     "\"checkpoint\":\"%s\"}",
                     job, worker, round, ck);
    return n < 0 || (size_t)n >= cap ? ZT_ETOOBIG : 0;
}

#endif
