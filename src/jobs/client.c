/* client.c: the sealed-job client (zt_jobs.h), the one used by `zentalk job
 * run` and by the gateway's local-first routing.
 *
 *   zt_job_new         body under the privacy verdict (zt_job_build), sealed
 *                      to the worker's KEM key with a fresh reply key
 *   zt_job_call_target  URL (worker, or relay + Zentalk-Target-Node), headers,
 *                      the node signature or the user's bearer token
 *   zt_job_send        one POST (transfer.c); the sealed result is fed to the
 *                      reader as it arrives, each opened text chunk has its
 *                      pseudonyms restored (a MASKED verdict) and goes to the
 *                      text hook; at the end the stream must be complete and
 *                      the receipt signed by the worker's key for this
 *                      header, body and output.
 *
 * Nothing of the prompt or the answer is logged or kept beyond the job;
 * buffers that held text are wiped. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "transfer.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_pseudo.h"
#include "zentalk/zt_str.h"

#define ANSWER_MAX ((size_t)65536)
#define SCRATCH_MAX ((size_t)16 << 20)
#define URL_MAX 2048

struct zt_job_call {
    const struct zt_privacy_verdict *verdict;
    struct zt_sealed_call call;
    char *body;           /* the body sealed (wiped): a continuation copies it */
    size_t body_len;
    uint8_t subject[ZT_ENV_HASH_LEN];
    char id[2 * ZT_ENV_JOB_ID_LEN + 1];
    char worker_id[ZT_IDENTITY_ID_SIZE];
    uint8_t worker_sign_pk[ZT_ENV_ED25519_PK_LEN];
    /* target */
    bool targeted, sent;
    char url[URL_MAX];
    char lines[ZT__JOBS_HEADERS_MAX - 1][ZT__JOBS_HEADER_LINE_MAX];
    char *auth; /* "Authorization: Bearer ..." (zt_malloc, wiped) */
    struct zt__jobs_post post;
    /* the transfer (the sending thread's only) */
    const struct zt_job_hooks *hooks;
    bool is_result, cancelled;
    int fail;
    bool refused; /* fail is the reader's: the stream itself does not verify */
    struct zt_buf answer;  /* a non-result answer */
    struct zt_pseudo_stream ps;
    struct zt_buf scratch; /* one restored piece (wiped) */
};

static void wipe_buf(struct zt_buf *b)
{
    if (b->data) sodium_memzero(b->data, b->cap);
    zt_buf_deinit(b);
}

static bool restoring(const struct zt_job_call *j)
{
    return j->verdict->kind == ZT_PRIVACY_VERDICT_MASKED && j->verdict->restore;
}

/* Wire v2 records, passed to the hooks of the send in progress. */
static void on_ids(void *ud, const int32_t *ids, size_t n)
{
    struct zt_job_call *j = ud;
    if (!j->fail && j->hooks && j->hooks->ids) j->hooks->ids(j->hooks->ud, ids, n);
}

static void on_ckpt(void *ud, const uint8_t *rec, size_t len, const struct zt_checkpoint *c)
{
    struct zt_job_call *j = ud;
    if (!j->fail && j->hooks && j->hooks->checkpoint) j->hooks->checkpoint(j->hooks->ud, rec, len, c);
}

static const struct zt_sealed_v2_hooks V2_HOOKS = {on_ids, on_ckpt};

static bool spec_ok(const struct zt_job_spec *spec)
{
    return spec && spec->worker_kem_pk && spec->worker_sign_pk && spec->worker_id &&
           strlen(spec->worker_id) < ZT_IDENTITY_ID_SIZE;
}

/* A call for body (taken: the call owns and wipes it), v2 stream of base ids. */
static int call_make(char *body, size_t body_len, const uint8_t *subject, uint32_t base,
                     const struct zt_privacy_verdict *verdict, const struct zt_job_spec *spec,
                     struct zt_job_call **out);

int zt_job_call_new(const json_t *req, enum zt_job_kind kind, const struct zt_privacy_verdict *verdict,
               const struct zt_job_spec *spec, struct zt_job_call **out)
{
    if (!req || !spec_ok(spec) || !out) return ZT_EINVAL;
    char *body = NULL;
    size_t body_len = 0;
    int rc = zt_job_build(req, kind, verdict, &body, &body_len);
    if (rc) return rc;
    return call_make(body, body_len, NULL, 0, verdict, spec, out);
}

int zt_job_call_continue(struct zt_job_call *prev, enum zt_job_mode mode, const int32_t *ids, size_t n_ids,
                         const uint8_t *ckpt, size_t ckpt_len, const struct zt_job_spec *spec,
                         struct zt_job_call **out)
{
    if (!prev || !spec_ok(spec) || !out || n_ids > UINT32_MAX) return ZT_EINVAL;
    char *body = NULL;
    size_t body_len = 0;
    int rc = zt_job_body_continue(prev->body, prev->body_len, mode, prev->subject, ids, n_ids, ckpt, ckpt_len, &body,
                                  &body_len);
    if (rc) return rc;
    if (spec->engine) { /* the first worker's KV type and precision: like with like */
        char *pinned = NULL;
        size_t pinned_len = 0;
        rc = zt_job_body_pin_mode(body, body_len, spec->engine, &pinned, &pinned_len);
        sodium_memzero(body, body_len);
        zt_free(body);
        if (rc) return rc;
        body = pinned;
        body_len = pinned_len;
    }
    struct zt_job_call *j = NULL;
    rc = call_make(body, body_len, prev->subject, (uint32_t)n_ids, prev->verdict, spec, &j);
    if (rc) return rc;
    /* the continuation's body is the original's plus the continuation:
     * a later one continues from the original again */
    char *orig = zt_malloc(prev->body_len + 1);
    if (!orig) {
        zt_job_call_free(j);
        return ZT_ENOMEM;
    }
    memcpy(orig, prev->body, prev->body_len + 1);
    sodium_memzero(j->body, j->body_len);
    zt_free(j->body);
    j->body = orig;
    j->body_len = prev->body_len;
    if (mode == ZT_JOB_RESUME) { /* text held back for a pseudonym comes out here */
        struct zt_pseudo_stream t = j->ps;
        j->ps = prev->ps;
        prev->ps = t;
    }
    *out = j;
    return 0;
}

void zt_job_call_subject(const struct zt_job_call *j, uint8_t out[static ZT_ENV_HASH_LEN])
{
    memcpy(out, j->subject, ZT_ENV_HASH_LEN);
}

static int call_make(char *body, size_t body_len, const uint8_t *subject, uint32_t base,
                     const struct zt_privacy_verdict *verdict, const struct zt_job_spec *spec,
                     struct zt_job_call **out)
{
    int rc;
    struct zt_job_call *j = zt_calloc(1, sizeof *j);
    if (!j) {
        rc = ZT_ENOMEM;
        goto out;
    }
    j->body = body;
    j->body_len = body_len;
    body = NULL;
    if (subject) memcpy(j->subject, subject, ZT_ENV_HASH_LEN);
    else zt_sha256(j->subject, j->body, j->body_len);
    j->verdict = verdict;
    zt_strlcpy(j->worker_id, spec->worker_id, sizeof j->worker_id);
    memcpy(j->worker_sign_pk, spec->worker_sign_pk, sizeof j->worker_sign_pk);
    zt_buf_init(&j->answer, ANSWER_MAX);
    zt_buf_init(&j->scratch, SCRATCH_MAX);
    zt_pseudo_stream_init(&j->ps, restoring(j) ? verdict->restore : NULL);
    rc = zt_sealed_call_seal(spec->model, spec->max_tokens, spec->max_price, spec->stream, spec->ttl_s, spec->now,
                             spec->suite, spec->worker_kem_pk, spec->worker_sign_pk, (const uint8_t *)j->body,
                             j->body_len, &j->call);
    if (rc) goto out;
    zt_sealed_reader_v2(j->call.reader, base, &V2_HOOKS, j);
    zt_hex_encode(j->id, j->call.sent.job_id, ZT_ENV_JOB_ID_LEN);
    *out = j;
    j = NULL;
out:
    zt_job_call_free(j);
    if (body) {
        sodium_memzero(body, body_len);
        zt_free(body);
    }
    return rc;
}

void zt_job_call_free(struct zt_job_call *j)
{
    if (!j) return;
    zt_sealed_call_deinit(&j->call); /* frees the reader */
    if (j->body) {
        sodium_memzero(j->body, j->body_len);
        zt_free(j->body);
    }
    zt_pseudo_stream_deinit(&j->ps);
    wipe_buf(&j->scratch);
    zt_buf_deinit(&j->answer);
    if (j->auth) {
        sodium_memzero(j->auth, strlen(j->auth));
        zt_free(j->auth);
    }
    zt_free(j);
}

const char *zt_job_call_id(const struct zt_job_call *j)
{
    return j ? j->id : "";
}

const char *zt_job_call_url(const struct zt_job_call *j)
{
    return j ? j->url : "";
}

const char *zt_job_call_answer(const struct zt_job_call *j, size_t *len)
{
    if (len) *len = j ? j->answer.len : 0;
    return j ? zt_buf_str(&j->answer) : "";
}

/* ---- target ------------------------------------------------------------------ */

int zt_job_call_target(struct zt_job_call *j, const struct zt_job_target *t)
{
    if (!j || !t || !t->base_url || j->sent) return ZT_EINVAL;
    const char *path = t->via_relay ? ZT_JOB_PATH_RELAY : ZT_JOB_PATH_SEALED;
    size_t bl = strlen(t->base_url);
    while (bl && t->base_url[bl - 1] == '/') bl--;
    int un = snprintf(j->url, sizeof j->url, "%.*s%s", (int)bl, t->base_url, path);
    if (un < 0 || (size_t)un >= sizeof j->url) return ZT_ETOOBIG;
    size_t n = 0;
    const char *fixed[] = {"Content-Type: " ZT_SEALED_MEDIA_ENVELOPE, "Accept: " ZT_SEALED_MEDIA_RESULT, "Expect:"};
    for (size_t i = 0; i < 3; i++) zt_strlcpy(j->lines[n++], fixed[i], ZT__JOBS_HEADER_LINE_MAX);
    if (t->via_relay) snprintf(j->lines[n++], ZT__JOBS_HEADER_LINE_MAX, ZT_JOB_TARGET_HEADER ": %s", j->worker_id);
    if (t->sign_as) {
        const char *target = zt__jobs_endpoint_path(j->url); /* the endpoint's path + the route */
        if (strlen(target) >= ZT_NODEAUTH_TARGET_MAX) return ZT_ETOOBIG;
        struct zt_nodeauth_headers sh;
        int rc = zt_nodeauth_sign(t->sign_as, t->recipient_id, "POST", target, j->call.env, j->call.env_len, t->now,
                                  &sh);
        if (rc) return rc;
        snprintf(j->lines[n++], ZT__JOBS_HEADER_LINE_MAX, "%s: %s", ZT_NODEAUTH_H_NODE, sh.node);
        snprintf(j->lines[n++], ZT__JOBS_HEADER_LINE_MAX, "%s: %s", ZT_NODEAUTH_H_DATE, sh.date);
        snprintf(j->lines[n++], ZT__JOBS_HEADER_LINE_MAX, "%s: %s", ZT_NODEAUTH_H_NONCE, sh.nonce);
        snprintf(j->lines[n++], ZT__JOBS_HEADER_LINE_MAX, "%s: %s", ZT_NODEAUTH_H_SIG, sh.sig);
    }
    memset(&j->post, 0, sizeof j->post);
    for (size_t i = 0; i < n; i++) j->post.headers[i] = j->lines[i];
    if (t->bearer && t->bearer[0]) {
        size_t al = strlen("Authorization: Bearer ") + strlen(t->bearer) + 1;
        if (al > 16384) return ZT_ETOOBIG;
        if (!j->auth && !(j->auth = zt_malloc(16384))) return ZT_ENOMEM;
        snprintf(j->auth, 16384, "Authorization: Bearer %s", t->bearer);
        j->post.headers[n++] = j->auth;
    }
    j->post.url = j->url;
    j->post.body = j->call.env;
    j->post.body_len = j->call.env_len;
    j->post.connect_timeout_ms = t->connect_timeout_ms;
    j->post.total_timeout_ms = t->total_timeout_ms;
    j->post.first_byte_timeout_ms = t->first_byte_timeout_ms;
    j->post.idle_timeout_ms = t->idle_timeout_ms;
    j->post.env_proxy = t->env_proxy;
    j->post.user_agent = t->user_agent;
    j->targeted = true;
    return 0;
}

/* ---- the transfer ------------------------------------------------------------- */

static bool media_is(const char *ct, const char *mt)
{
    size_t n = strlen(mt);
    return ct && strncmp(ct, mt, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int deliver(struct zt_job_call *j, const char *text, size_t len)
{
    if (!len || !j->hooks || !j->hooks->text) return 0;
    return j->hooks->text(j->hooks->ud, text, len);
}

/* An opened (authenticated, not yet verified) text chunk. */
static void on_text(void *ud, const char *text, size_t len)
{
    struct zt_job_call *j = ud;
    if (j->fail) return;
    if (!restoring(j)) {
        j->fail = deliver(j, text, len);
        return;
    }
    zt_buf_reset(&j->scratch);
    int rc = zt_pseudo_stream_feed(&j->ps, text, len, &j->scratch);
    if (!rc) rc = deliver(j, zt_buf_str(&j->scratch), j->scratch.len);
    if (j->scratch.data) sodium_memzero(j->scratch.data, j->scratch.len);
    zt_buf_reset(&j->scratch);
    j->fail = rc;
}

static int on_head(void *ud, long status, const char *content_type)
{
    struct zt_job_call *j = ud;
    j->is_result = status == 200 && media_is(content_type, ZT_SEALED_MEDIA_RESULT);
    return 0;
}

static int on_body(void *ud, const uint8_t *p, size_t n)
{
    struct zt_job_call *j = ud;
    if (!j->is_result) {
        size_t room = ANSWER_MAX - j->answer.len;
        zt_ignore(zt_buf_append(&j->answer, p, n < room ? n : room));
        return 0;
    }
    if (j->hooks && j->hooks->progress) j->hooks->progress(j->hooks->ud);
    int rc = zt_sealed_reader_feed(j->call.reader, p, n, on_text, j);
    if (rc && !j->fail) {
        j->fail = rc;
        /* the reader refused the stream: a bad result (never resumed from).
         * Out of memory is this gateway's own failure, not the worker's
         * (review12 F1): the attempt ends as cut, and the job may fail over. */
        j->refused = rc != ZT_ENOMEM;
    }
    return j->fail ? -1 : 0; /* nothing after a bad chunk can be trusted: abort */
}

static bool on_cancelled(void *ud)
{
    struct zt_job_call *j = ud;
    if (j->hooks && j->hooks->cancelled && j->hooks->cancelled(j->hooks->ud)) j->cancelled = true;
    return j->cancelled;
}

/* The end of a sealed result: complete, verified, restored. */
static int finish(struct zt_job_call *j, struct zt_sealed_result *res)
{
    int rc = j->fail ? j->fail : zt_sealed_reader_finish(j->call.reader, res);
    if (!rc && sodium_memcmp(res->receipt.worker_pk, j->worker_sign_pk, sizeof j->worker_sign_pk) != 0)
        rc = ZT_ECRYPTO;
    if (!rc && restoring(j)) {
        zt_buf_reset(&j->scratch);
        rc = zt_pseudo_stream_end(&j->ps, &j->scratch);
        if (!rc) rc = deliver(j, zt_buf_str(&j->scratch), j->scratch.len);
    }
    return rc;
}

int zt_job_call_send(struct zt_job_call *j, const struct zt_job_hooks *hooks, struct zt_job_outcome *out)
{
    if (!j || !out || !j->targeted || j->sent) return ZT_EINVAL;
    j->sent = true;
    j->hooks = hooks;
    j->post.on_head = on_head;
    j->post.on_body = on_body;
    j->post.cancelled = on_cancelled;
    j->post.ud = j;
    struct zt__jobs_post_result res;
    int rc = zt__jobs_post(&j->post, &res);
    if (rc) return rc;
    struct zt_job_outcome o;
    memset(&o, 0, sizeof o);
    o.why = "";
    o.http_status = res.status;
    o.cancelled = j->cancelled;
    /* a stream the reader refused was stopped here (on_body): that is no
     * transport failure, and the worker is not "gone" but wrong (a
     * failover must not resume from what it streamed) */
    if (!j->refused) zt_strlcpy(o.transport, res.error, sizeof o.transport);
    if (j->is_result) {
        o.rc = finish(j, &o.result);
        o.status = o.rc ? ZT_JOB_UNVERIFIED : ZT_JOB_VERIFIED;
        if (o.rc) {
            o.why = zt_sealed_reader_error(j->call.reader);
            if (!o.why[0] && o.rc == ZT_ECRYPTO) o.why = "the receipt is not signed by the worker's key";
            memset(&o.result, 0, sizeof o.result);
        }
    } else if (res.status >= 100) {
        o.status = ZT_JOB_REFUSED;
    } else if (res.timed_out) {
        o.status = ZT_JOB_TIMEOUT;
    } else {
        o.status = j->cancelled ? ZT_JOB_CANCELLED : ZT_JOB_UNREACHABLE;
    }
    *out = o;
    return 0;
}
