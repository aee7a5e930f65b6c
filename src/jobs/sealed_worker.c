/* sealed_worker.c: the worker side of a sealed job (zt_sealed_worker.h):
 * the descriptor cache, the job's admission (replay cache and each
 * caller's share of it, the price a job's ceiling is checked against) and
 * the checkpointed sealed stream. No HTTP: the route (src/server/
 * sealed_api.c) renders refusals and carries the bytes. See
 * docs/internals/sealed.md. */
#include "zentalk/zt_sealed_worker.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_replay_share.h"
#include "zentalk/zt_runner.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

_Static_assert(ZT_ENV_ED25519_SK_LEN == crypto_sign_SECRETKEYBYTES, "Ed25519 secret key layout");
_Static_assert(ZT_SAMPLER_HASH_LEN == ZT_ENV_HASH_LEN, "seq hash length");

#define CHUNK_BUF_MAX ((size_t)ZT_ENV_MAX_BODY + (size_t)(ZT_ENV_MAX_BODY / ZT_ENV_CHUNK_MAX + 2) * 64)

struct zt_sealed_worker {
    const struct zt_identity *id;
    struct zt_infer *ms;
    const struct zt_config *cfg;
    char endpoint[300];           /* the URL served, copied once listening (under mu) */
    struct zt_env_replay *replay; /* NULL when not a worker */
    struct zt_replay_share *shares; /* each caller's share of replay */
    uint64_t start_s;             /* envelopes created before this may be replays */
    pthread_mutex_t mu;           /* guards the cached descriptor */
    char *desc;
    int64_t desc_signed;
    zt_u128 price;                /* the higher of its chain.yaml prices per 1000 tokens (base units) */
    zt_sealed_check_fn on_check;  /* a check ended (its signed answer), or NULL */
    void *on_check_ud;
};

int zt_sealed_worker_new(const struct zt_identity *id, struct zt_infer *ms, const struct zt_config *cfg,
                         struct zt_sealed_worker **out)
{
    struct zt_sealed_worker *sj = zt_calloc(1, sizeof *sj);
    if (!sj) return ZT_ENOMEM;
    pthread_mutex_init(&sj->mu, NULL);
    sj->id = id;
    sj->ms = ms;
    sj->cfg = cfg;
    sj->start_s = (uint64_t)(zt_time_real_ms() / 1000);
    /* the price its join record advertises (joiner.c): a job whose ceiling is under it is refused */
    zt_u128 pp = 0, pc = 0;
    const char *sp = cfg->chain.price_prompt_per_1k, *sc = cfg->chain.price_completion_per_1k;
    if (sp && sc && zt_u128_parse_tokens(sp, strlen(sp), &pp) == 0 && zt_u128_parse_tokens(sc, strlen(sc), &pc) == 0)
        sj->price = pp > pc ? pp : pc;
    size_t ids = cfg->encryption.replay_ids > 0 ? (size_t)cfg->encryption.replay_ids : ZT_SEALED_WORKER_REPLAY_IDS;
    int rc = 0;
    if ((cfg->node.role_mask & ZT_ROLE_WORKER) &&
        (zt_env_replay_new(ids, &sj->replay) != 0 ||
         zt_replay_share_new(ids, (uint64_t)cfg->encryption.job_ttl_s, &sj->shares) != 0))
        rc = ZT_ENOMEM;
    return ZT_HAND_OUT(rc, sj, zt_sealed_worker_free, out);
}

void zt_sealed_worker_free(struct zt_sealed_worker *sj)
{
    if (!sj) return;
    zt_env_replay_free(sj->replay);
    zt_replay_share_free(sj->shares);
    zt_free(sj->desc);
    pthread_mutex_destroy(&sj->mu);
    zt_free(sj);
}

bool zt_sealed_worker_runs_jobs(const struct zt_sealed_worker *w)
{
    return w && w->replay;
}

/* ---- the descriptor ----------------------------------------------------------- */

static int make_descriptor(struct zt_sealed_worker *sj, const char *endpoint, int64_t now, char **out)
{
    const char *roles[ZT_ROLE_COUNT], *models[ZT_DESCRIPTOR_MAX_MODELS];
    size_t n_roles = zt_role_list(sj->cfg->node.role_mask, roles);
    size_t n_models = zt_infer_model_ids(sj->ms, models, ZT_DESCRIPTOR_MAX_MODELS);
    return zt_identity_descriptor(sj->id, roles, n_roles, models, n_models, endpoint,
                                  now + ZT_SEALED_WORKER_DESCRIPTOR_TTL_S, out);
}

void zt_sealed_worker_set_check_hook(struct zt_sealed_worker *sj, zt_sealed_check_fn fn, void *ud)
{
    if (!sj) return;
    sj->on_check = fn;
    sj->on_check_ud = ud;
}

void zt_sealed_worker_set_endpoint(struct zt_sealed_worker *sj, const char *endpoint)
{
    if (!sj) return;
    pthread_mutex_lock(&sj->mu);
    zt_strlcpy(sj->endpoint, endpoint ? endpoint : "", sizeof sj->endpoint);
    zt_free(sj->desc); /* the next request signs one with the endpoint */
    sj->desc = NULL;
    pthread_mutex_unlock(&sj->mu);
}

int zt_sealed_worker_descriptor(struct zt_sealed_worker *sj, struct zt_buf *b, char **copy)
{
    if (!sj) return ZT_EINVAL;
    int64_t now = zt_time_real_ms() / 1000;
    int rc = 0;
    pthread_mutex_lock(&sj->mu);
    if (!sj->desc || now - sj->desc_signed >= ZT_SEALED_WORKER_REFRESH_S || now < sj->desc_signed) {
        char *d = NULL;
        rc = make_descriptor(sj, sj->endpoint, now, &d);
        if (!rc) {
            zt_free(sj->desc);
            sj->desc = d;
            sj->desc_signed = now;
        }
    }
    if (!rc && b && zt_buf_append_str(b, sj->desc) != 0) rc = ZT_ENOMEM;
    if (!rc && copy && !(*copy = zt_strdup(sj->desc))) rc = ZT_ENOMEM;
    pthread_mutex_unlock(&sj->mu);
    return rc;
}

/* ---- the sealed stream --------------------------------------------------------- */

/* One running job's sealing state. */
struct zt_sealed_run {
    const struct zt_identity *id;
    struct zt_sealed_writer *w;
    struct zt_buf out; /* bytes to write, reused per event */
    uint8_t job_id[ZT_ENV_JOB_ID_LEN];
    uint8_t input_hash[ZT_ENV_HASH_LEN];
    char model[ZT_ENV_MODEL_MAX + 1];
    bool broken; /* a write failed: the stream was ended short */
    /* wire v2 (docs/architecture/WIRE.md) */
    bool v2;
    struct zt_checkpoint ck; /* subject, model, prev, build id: the fields every checkpoint repeats */
    unsigned since;          /* ids since the last checkpoint */
    unsigned fault_every;    /* test only: alter every Nth id streamed (0: off) */
    unsigned delay_ms;       /* test only: a pause per id streamed (0: off) */
    bool forge_receipt;      /* test only: sign the receipt with a key of no worker */
    bool cut_receipt;        /* test only: leave the receipt's last bytes out */
    uint64_t n_streamed;
    zt_sealed_check_fn on_check; /* a check (verify, or a replica): its signed answer goes here too */
    void *on_check_ud;
};

/* Test-only settings (docs/internals/sealed.md), honoured only with
 * ZT_TEST_MODE=1 (otherwise refused: logged and ignored):
 *   ZT_TEST_FAULT_EVERY=N  alter every Nth token id this worker streams, as
 *                          a cheating worker would; verification catches it
 *   ZT_TEST_DELAY_MS=N     pause N ms per token streamed, so a test can
 *                          kill or stop a worker mid-stream
 *   ZT_TEST_NO_CHECK_REPORT=1  a checker that never reports its checks to
 *                          its orchestrators (a silent checker)
 *   ZT_TEST_FORGE_RECEIPT=1  sign every receipt with a throwaway key (a
 *                          forged receipt: the gateway's reader refuses it)
 *   ZT_TEST_CUT_RECEIPT=1  end every result stream cleanly without the
 *                          receipt's last 16 bytes (a truncated receipt) */
static unsigned test_setting(const char *name)
{
    const char *f = getenv(name);
    if (!f || !*f) return 0;
    const char *tm = getenv("ZT_TEST_MODE");
    if (!tm || strcmp(tm, "1") != 0) {
        zt_log_rl(ZT_LOG_ERROR, 60, "test_setting_refused", "name=%s reason=\"needs ZT_TEST_MODE=1\"", name);
        return 0;
    }
    long n = strtol(f, NULL, 10);
    return n > 0 && n < 1000000 ? (unsigned)n : 0;
}

static void job_hex(char out[2 * ZT_ENV_JOB_ID_LEN + 1], const uint8_t *id)
{
    zt_hex_encode(out, id, ZT_ENV_JOB_ID_LEN);
}

/* End the stream short: no final chunk, so the client sees a truncation. */
static void cut(struct zt_sealed_run *sr, const struct zt_sealed_conn *o, void *c, const char *why, int err)
{
    char jid[2 * ZT_ENV_JOB_ID_LEN + 1];
    job_hex(jid, sr->job_id);
    zt_log_rl(ZT_LOG_WARN, 5, "sealed_job_cut", "job_id=%s model=%s reason=%s error=\"%s\"", jid, sr->model, why,
              zt_strerror(err));
    sr->broken = true;
    o->end(c);
}

static void flush(struct zt_sealed_run *sr, const struct zt_sealed_conn *o, void *c)
{
    if (sr->out.len) {
        int rc = o->write(c, sr->out.data, sr->out.len);
        if (rc && rc != ZT_ECLOSED) cut(sr, o, c, "write", rc);
    }
    zt_buf_reset(&sr->out);
}

/* A signed checkpoint of the chain after n ids into the stream. */
static int put_checkpoint(struct zt_sealed_run *sr, uint32_t n, const uint8_t *chain, bool final,
                          uint8_t rec[static ZT_CKPT_MAX_LEN], size_t *rec_len)
{
    size_t len;
    sr->ck.flags = final ? ZT_CKPT_FLAG_FINAL : 0;
    sr->ck.n_tokens = n;
    memcpy(sr->ck.chain, chain, ZT_ENV_HASH_LEN);
    int rc = zt_checkpoint_sign(&sr->ck, zt_identity_sign_sk(sr->id), rec, ZT_CKPT_MAX_LEN, &len);
    if (!rc) *rec_len = len;
    return rc ? rc : zt_sealed_writer_checkpoint(sr->w, rec, len, &sr->out);
}

/* Checkpoints sign the build id the runner reports for this job (its KV
 * cache type included), once it has reported one. */
static void ck_engine(struct zt_sealed_run *sr, const char *engine)
{
    if (engine) sr->ck.build_id_len = (uint8_t)zt_strlcpy(sr->ck.build_id, engine, sizeof sr->ck.build_id);
}

void zt_sealed_run_text(struct zt_sealed_run *sr, const struct zt_job_event *ev, const struct zt_sealed_conn *o,
                        void *c)
{
    if (sr->broken) return;
    int rc;
    if (!sr->v2) {
        rc = zt_sealed_writer_text(sr->w, ev->text, ev->len, &sr->out);
    } else {
        int32_t id = ev->token;
        if (id >= 0 && sr->fault_every && ++sr->n_streamed % sr->fault_every == 0) id = id > 3 ? id - 1 : id + 1;
        rc = zt_sealed_writer_tokens(sr->w, &id, id >= 0 ? 1 : 0, ev->text, ev->len, &sr->out);
        if (!rc && ev->token >= 0 && ++sr->since >= ZT_SEALED_CHECKPOINT_EVERY) {
            sr->since = 0;
            ck_engine(sr, ev->engine);
            uint8_t rec[ZT_CKPT_MAX_LEN];
            size_t rec_len;
            rc = put_checkpoint(sr, ev->n_tokens, ev->hash, false, rec, &rec_len);
        }
    }
    if (rc) {
        zt_buf_reset(&sr->out);
        cut(sr, o, c, "seal", rc);
        return;
    }
    flush(sr, o, c);
    if (sr->delay_ms && ev->token >= 0) zt_time_sleep_ms(sr->delay_ms); /* test only */
}

void zt_sealed_run_done(struct zt_sealed_run *sr, const struct zt_job_event *ev, const struct zt_sealed_conn *o,
                        void *c)
{
    if (sr->broken) return;
    struct zt_sealed_final f;
    memset(&f, 0, sizeof f);
    zt_strlcpy(f.finish_reason, ev->finish_reason ? ev->finish_reason : "stop", sizeof f.finish_reason);
    f.prompt_tokens = ev->prompt_tokens;
    f.completion_tokens = ev->completion_tokens;
    struct zt_env_receipt r;
    memset(&r, 0, sizeof r);
    memcpy(r.input_hash, sr->input_hash, sizeof r.input_hash);
    memcpy(r.seq_chain, ev->hash, sizeof r.seq_chain);
    r.finished = (uint64_t)(zt_time_real_ms() / 1000);
    r.build_id_len = (uint8_t)zt_strlcpy(r.build_id, ev->engine ? ev->engine : zt_engine_build_id(), sizeof r.build_id);
    if (r.build_id_len > ZT_ENV_BUILD_ID_MAX) r.build_id_len = ZT_ENV_BUILD_ID_MAX;
    ck_engine(sr, ev->engine);
    uint8_t ck[ZT_CKPT_MAX_LEN];
    size_t ck_len = 0;
    int rc = sr->v2 ? put_checkpoint(sr, ev->n_tokens, ev->hash, true, ck, &ck_len) : 0;
    uint8_t forged_pk[crypto_sign_PUBLICKEYBYTES], forged_sk[crypto_sign_SECRETKEYBYTES];
    if (sr->forge_receipt) crypto_sign_keypair(forged_pk, forged_sk); /* test only */
    if (!rc)
        rc = zt_sealed_writer_finish(sr->w, &f, &r, sr->forge_receipt ? forged_sk : zt_identity_sign_sk(sr->id),
                                     &sr->out);
    sodium_memzero(forged_sk, sizeof forged_sk);
    if (rc) {
        zt_buf_reset(&sr->out);
        cut(sr, o, c, "finish", rc);
        return;
    }
    if (sr->cut_receipt && sr->out.len >= 16) sr->out.len -= 16; /* test only */
    /* a check: its signed answer to the orchestrators too (before the
     * gateway has it); the receipt is the frame the writer appended last */
    size_t rlen = ZT_ENV_RECEIPT_FIXED_LEN + r.build_id_len + ZT_ENV_SIG_LEN;
    const uint8_t *rb = sr->out.len >= rlen ? (const uint8_t *)sr->out.data + sr->out.len - rlen : NULL;
    struct zt_env_receipt chk;
    if (sr->on_check && ck_len && rb && zt_env_receipt_verify(rb, rlen, zt_identity_sign_pk(sr->id), &chk) == 0 &&
        !test_setting("ZT_TEST_NO_CHECK_REPORT"))
        sr->on_check(sr->on_check_ud, ck, ck_len, rb, rlen);
    flush(sr, o, c);
    if (sr->broken) return;
    char jid[2 * ZT_ENV_JOB_ID_LEN + 1];
    job_hex(jid, sr->job_id);
    zt_log(ZT_LOG_DEBUG, "sealed_job_done", "job_id=%s model=%s prompt_tokens=%u completion_tokens=%u finish=%s", jid,
           sr->model, (unsigned)ev->prompt_tokens, (unsigned)ev->completion_tokens, f.finish_reason);
    o->end(c);
}

void zt_sealed_run_fail(struct zt_sealed_run *sr, int err, const struct zt_sealed_conn *o, void *c)
{
    if (sr->broken) return;
    cut(sr, o, c, "inference", err);
}

void zt_sealed_run_free(struct zt_sealed_run *sr)
{
    if (!sr) return;
    zt_sealed_writer_free(sr->w);
    if (sr->out.data) sodium_memzero(sr->out.data, sr->out.cap);
    zt_buf_deinit(&sr->out);
    zt_free(sr);
}

/* Wire v2: the checkpoint fields, the ids given, ids in the stream. */
static int start_v2(struct zt_sealed_run *sr, const struct zt_job_request *job, struct zt_infer_job *ij)
{
    sr->v2 = true;
    /* a check reports its signed answer to the orchestrators: a
     * teacher-forced one (verify), and a replica (resume with no ids and no
     * checkpoint: the whole answer again under the checked job's subject).
     * A failover resumed before its first token looks the same; its report
     * matches no pick of this node and the orchestrator refuses it (403). */
    bool replica = job->mode == ZT_JOB_RESUME && job->n_ids == 0 && job->prev_len == 0;
    if (job->mode != ZT_JOB_VERIFY && !replica) sr->on_check = NULL;
    memcpy(sr->ck.job_id, sr->job_id, sizeof sr->ck.job_id);
    memcpy(sr->ck.subject, job->has_subject ? job->subject : sr->input_hash, sizeof sr->ck.subject);
    if (job->prev_len) zt_checkpoint_id(job->prev, job->prev_len, sr->ck.prev);
    sr->ck.build_id_len = (uint8_t)zt_strlcpy(sr->ck.build_id, zt_engine_build_id(), sizeof sr->ck.build_id);
    sr->fault_every = test_setting("ZT_TEST_FAULT_EVERY");
    sr->delay_ms = test_setting("ZT_TEST_DELAY_MS");
    int rc = zt_infer_job_model_sha256(ij, sr->ck.model_sha256);
    if (!rc && job->mode != ZT_JOB_GENERATE)
        rc = zt_infer_job_give(ij, job->mode == ZT_JOB_RESUME ? ZT_JOB_FORCE_RESUME : ZT_JOB_FORCE_VERIFY, job->ids,
                               job->n_ids);
    zt_infer_job_want_ids(ij);
    return rc;
}

/* ---- accepting a job ------------------------------------------------------------ */

static int refuse(struct zt_sealed_refusal *why, int rc, const char *code, const char *msg)
{
    memset(why, 0, sizeof *why);
    why->err.rc = rc;
    zt_strlcpy(why->err.code, code, sizeof why->err.code);
    zt_strlcpy(why->err.message, msg, sizeof why->err.message);
    return ZT_EPERM;
}

/* The answers to zt_env_open()'s errors (ZT_ETIMEDOUT has two: expired,
 * or created in the future). */
static const struct {
    int rc;
    const char *code, *msg;
} OPEN_ERRORS[] = {
    {ZT_EPARSE, "invalid_envelope", "the body is not a well-formed job envelope"},
    {ZT_EUNSUPPORTED, "unsupported_envelope",
     "unsupported envelope version, flags or cipher suite (this node reads version 1, "
     "X25519/HKDF-SHA256 with ChaCha20-Poly1305, or AES-256-GCM where the CPU has it)"},
    {ZT_ENOTFOUND, "wrong_recipient",
     "the envelope is sealed to another key: fetch GET /v1/node/descriptor and seal to its kem_pk"},
    {ZT_ETIMEDOUT, "envelope_expired", "the envelope has expired; seal the job again"},
    {ZT_ETIMEDOUT, "envelope_not_yet_valid",
     "the envelope was created in the future (beyond 300 s of clock skew): check the clock"},
    {ZT_EEXIST, "envelope_replayed", "this job id was already accepted: a job runs once"},
    {ZT_EBUSY, "replay_cache_full",
     "the worker holds too many unexpired job ids to accept another; retry later or use shorter lifetimes"},
    {ZT_ECRYPTO, "envelope_rejected",
     "the envelope does not authenticate (altered, truncated, or sealed to another key under this key id)"},
    {ZT_ENOMEM, "overloaded", "out of memory"},
};

/* Map zt_env_open()'s error to the refusal. */
static int open_failed(struct zt_sealed_refusal *why, int rc, const uint8_t *env, size_t len, uint64_t now)
{
    size_t i = 0;
    while (i < sizeof OPEN_ERRORS / sizeof OPEN_ERRORS[0] && OPEN_ERRORS[i].rc != rc) i++;
    if (i == sizeof OPEN_ERRORS / sizeof OPEN_ERRORS[0]) return refuse(why, rc, "internal", zt_strerror(rc));
    struct zt_env_header h;
    size_t used;
    if (rc == ZT_ETIMEDOUT && !(zt_env_header_decode_prefix(env, len, &h, &used) == 0 && h.expires <= now))
        i++; /* not expired: created in the future */
    refuse(why, rc, OPEN_ERRORS[i].code, OPEN_ERRORS[i].msg);
    if (rc == ZT_EBUSY) why->retry_after_s = 5;
    return ZT_EPERM;
}

/* Record the job id against replays, within the caller's share
 * (zt_replay_share.h). ZT_EPERM with why: over the share, a replay, the
 * cache full. */
static int record_id(struct zt_sealed_worker *sj, const char *caller, bool admitted, const struct zt_env_header *hdr,
                     uint64_t now, struct zt_sealed_refusal *why)
{
    unsigned retry = 1;
    if (zt_replay_share_take(sj->shares, caller, admitted, now, hdr->expires, &retry) != 0) {
        refuse(why, ZT_EBUSY, "replay_share_exhausted",
               admitted ? "this identity holds its share of the worker's unexpired job ids; retry after Retry-After "
                          "seconds or use shorter envelope lifetimes"
                        : "this address (or anonymous callers together) holds its share of the worker's unexpired "
                          "job ids; retry after Retry-After seconds, or authenticate");
        why->retry_after_s = retry;
        return ZT_EPERM;
    }
    int rc = zt_env_replay_insert(sj->replay, hdr->job_id, hdr->expires, now);
    if (rc) {
        zt_replay_share_undo(sj->shares, caller, admitted, hdr->expires);
        return open_failed(why, rc == ZT_EEXIST || rc == ZT_EBUSY ? rc : ZT_ENOMEM, NULL, 0, now);
    }
    return 0;
}

int zt_sealed_worker_accept(struct zt_sealed_worker *sj, const uint8_t *env, size_t len, const char *caller,
                            bool admitted, const char *request_id, struct zt_sealed_run **run,
                            struct zt_infer_job **job_out, uint8_t head[static ZT_ENV_STREAM_HDR_LEN],
                            struct zt_sealed_refusal *why)
{
    if (!zt_sealed_worker_runs_jobs(sj)) return refuse(why, ZT_EINVAL, "internal", "this node runs no sealed jobs");
    if (len == 0) return refuse(why, ZT_EPARSE, "invalid_envelope", "the request body is empty; it must be a job envelope");
    uint64_t now = (uint64_t)(zt_time_real_ms() / 1000);

    /* Lifetime bound before opening, so long-lived ids never fill the replay
     * cache; only for envelopes that would pass the key id and time checks,
     * so zt_env_open() gives the other answers in its documented order. */
    struct zt_env_header h;
    size_t used;
    uint8_t kid[ZT_ENV_KID_LEN];
    zt_env_key_id(zt_identity_kem_pk(sj->id), kid);
    uint64_t ttl = (uint64_t)sj->cfg->encryption.job_ttl_s;
    bool in_window = zt_env_header_decode_prefix(env, len, &h, &used) == 0 &&
                     memcmp(h.recipient_kid, kid, sizeof kid) == 0 && now < h.expires &&
                     h.created <= now + ZT_ENV_CLOCK_SKEW;
    if (in_window && h.expires - h.created > ttl) {
        char msg[160];
        snprintf(msg, sizeof msg, "the envelope's lifetime (expires - created) is over this worker's %llu s "
                 "(encryption.job_ttl_s)", (unsigned long long)ttl);
        return refuse(why, ZT_EINVAL, "envelope_lifetime_too_long", msg);
    }
    /* a known id is refused before decrypting, as zt_env_open() would */
    if (in_window && zt_env_replay_check(sj->replay, h.job_id, now) == ZT_EEXIST)
        return open_failed(why, ZT_EEXIST, env, len, now);

    /* Opened without the cache: the id is recorded below, only once the
     * body is valid and the caller is within its share (issue 17 item 1:
     * validly sealed empty bodies filled the cache and starved every real
     * job). */
    struct zt_env_header hdr;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int rc = zt_env_open(zt_identity_kem_sk(sj->id), env, len, now, NULL, &hdr, &pt, &pt_len);
    if (rc) return open_failed(why, rc, env, len, now);
    int ret = ZT_EPERM;
    struct zt_sealed_run *sr = NULL;
    struct zt_job_request job = {0};
    struct zt_infer_job *ij = NULL;
    if (hdr.created < sj->start_s) {
        /* the replay cache is in memory: it may have held this id before a restart */
        refuse(why, ZT_EEXIST, "envelope_predates_restart",
               "the envelope was created before this worker started, so it may be a replay; seal the job again");
        goto out;
    }
    if (hdr.max_price && sj->price > hdr.max_price) {
        /* the client's ceiling, sealed in the header, is under this worker's price (the scheduler
         * keeps it too; a worker never takes a job cheaper than it advertises) */
        char msg[160], ps[ZT_U128_STR_LEN];
        zt_u128_format(sj->price, ps);
        snprintf(msg, sizeof msg, "the job's price ceiling (%llu base units per 1000 tokens) is under this worker's "
                 "price of %s", (unsigned long long)hdr.max_price, ps);
        refuse(why, ZT_ERANGE, "price_above_ceiling", msg);
        goto out;
    }
    sr = zt_calloc(1, sizeof *sr);
    if (!sr) {
        refuse(why, ZT_ENOMEM, "overloaded", "out of memory");
        goto out;
    }
    sr->id = sj->id;
    sr->forge_receipt = test_setting("ZT_TEST_FORGE_RECEIPT") != 0;
    sr->cut_receipt = test_setting("ZT_TEST_CUT_RECEIPT") != 0;
    sr->on_check = sj->on_check;
    sr->on_check_ud = sj->on_check_ud;
    zt_buf_init(&sr->out, CHUNK_BUF_MAX);
    memcpy(sr->job_id, hdr.job_id, sizeof sr->job_id);
    zt_strlcpy(sr->model, hdr.model, sizeof sr->model);
    zt_sha256(sr->input_hash, pt, pt_len);

    const char *msg = "the job body is invalid";
    rc = zt_job_body_decode(pt, pt_len, hdr.model, hdr.max_tokens, &job, &msg);
    zt_env_body_free(pt, pt_len);
    pt = NULL;
    if (rc) {
        if (rc == ZT_ENOMEM) refuse(why, rc, "overloaded", msg);
        else refuse(why, rc, rc == ZT_EUNSUPPORTED ? "unsupported_job" : "invalid_job", msg);
        goto out;
    }
    struct zt_infer_err ierr;
    if (zt_infer_job_openai(sj->ms, job.request, job.kind == ZT_JOB_CHAT, &ij, &ierr) != 0) {
        memset(why, 0, sizeof *why);
        why->infer = true;
        why->err = ierr;
        goto out;
    }
    if (job.version >= 2 && (rc = start_v2(sr, &job, ij)) != 0) {
        if (rc == ZT_ENOMEM) refuse(why, rc, "overloaded", "out of memory");
        else if (rc == ZT_EINVAL) refuse(why, rc, "invalid_job", "the ids given do not fit the job's max_tokens");
        else refuse(why, rc, "model_unavailable", "the model file cannot be read to hash it");
        goto out;
    }
    rc = zt_sealed_writer_new(&hdr, zt_identity_kem_sk(sj->id), (hdr.flags & ZT_ENV_FLAG_STREAM) != 0, &sr->out,
                              &sr->w);
    if (rc) {
        refuse(why, rc, rc == ZT_ENOMEM ? "overloaded" : "envelope_rejected",
               rc == ZT_ENOMEM ? "out of memory" : "the reply key is not a valid X25519 public key");
        goto out;
    }
    /* the stream header is the first thing out; sr->out belongs to the
     * runner thread once the job is queued */
    if (sr->out.len != ZT_ENV_STREAM_HDR_LEN) {
        refuse(why, ZT_EINVAL, "internal", "bad stream header");
        goto out;
    }
    memcpy(head, sr->out.data, ZT_ENV_STREAM_HDR_LEN);
    zt_buf_reset(&sr->out);
    if (record_id(sj, caller, admitted, &hdr, now, why) != 0) goto out;
    char jid[2 * ZT_ENV_JOB_ID_LEN + 1];
    job_hex(jid, hdr.job_id);
    zt_log(ZT_LOG_DEBUG, "sealed_job_accepted", "job_id=%s model=%s prompt_tokens=%zu max_tokens=%u request_id=%s", jid,
           hdr.model, zt_infer_job_prompt_tokens(ij), (unsigned)hdr.max_tokens, request_id ? request_id : "");
    if (sr->v2) zt_sealed_writer_v2(sr->w);
    *run = sr;
    *job_out = ij;
    sr = NULL;
    ij = NULL;
    ret = 0;
out:
    if (pt) zt_env_body_free(pt, pt_len);
    zt_infer_job_free(ij);
    zt_job_request_deinit(&job);
    zt_sealed_run_free(sr);
    return ret;
}
