/* envelope.c: sealed jobs (job envelope, result stream, receipt, replay cache).
 *
 * Everything cryptographic is HPKE (hpke.c) or libsodium; this file only
 * frames bytes, checks fields and keeps state. Formats, byte by byte:
 * docs/architecture/SECURE_GPU_ENCRYPTION.md. Integers are big-endian (as
 * RFC 9180's I2OSP). Parsers read from untrusted buffers with an explicit
 * length check before every field and accept exactly one encoding. */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"

_Static_assert(ZT_ENV_ED25519_SK_LEN == crypto_sign_SECRETKEYBYTES, "Ed25519 sk length");
_Static_assert(ZT_ENV_ED25519_PK_LEN == crypto_sign_PUBLICKEYBYTES, "Ed25519 pk length");
_Static_assert(ZT_ENV_SIG_LEN == crypto_sign_BYTES, "Ed25519 signature length");
_Static_assert(ZT_ENV_HASH_LEN == ZT_SHA256_LEN, "hash length");

static const uint8_t JOB_MAGIC[4] = {'Z', 'T', 'J', '1'};
static const uint8_t STREAM_MAGIC[4] = {'Z', 'T', 'S', '1'};
static const uint8_t CHUNK_MAGIC[4] = {'Z', 'T', 'C', '1'};
static const uint8_t RECEIPT_MAGIC[4] = {'Z', 'T', 'R', '1'};
static const char JOB_INFO[] = "zentalk-job-v1";        /* HPKE info of the job */
static const char RESULT_INFO[] = "zentalk-result-v1";  /* || SHA-256(header) */
static const char RECEIPT_CTX[] = "zentalk-receipt-v1"; /* signed prefix */

#define RESULT_INFO_LEN (sizeof RESULT_INFO - 1)
#define RECEIPT_CTX_LEN (sizeof RECEIPT_CTX - 1)
#define CHUNK_AAD_LEN (4 + 8 + 1)

/* Header field offsets (see zt_envelope.h and the architecture doc). */
enum {
    H_MAGIC = 0,
    H_VERSION = 4,
    H_FLAGS = 5,
    H_KEM = 6,
    H_KDF = 8,
    H_AEAD = 10,
    H_JOB_ID = 12,
    H_KID = 28,
    H_ENC = 44,
    H_REPLY_PK = 76,
    H_CREATED = 108,
    H_EXPIRES = 116,
    H_MAX_TOKENS = 124,
    H_MAX_PRICE = 128,
    H_MODEL_LEN = 136,
    H_MODEL = 137,
};
_Static_assert(H_MODEL == ZT_ENV_HEADER_FIXED_LEN, "header layout");

/* Receipt field offsets. */
enum {
    R_MAGIC = 0,
    R_VERSION = 4,
    R_JOB_ID = 5,
    R_HEADER_HASH = 21,
    R_INPUT_HASH = 53,
    R_OUTPUT_HASH = 85,
    R_PROMPT_TOKENS = 117,
    R_COMPLETION_TOKENS = 121,
    R_SEQ_CHAIN = 125,
    R_WORKER_PK = 157,
    R_FINISHED = 189,
    R_BUILD_ID_LEN = 197,
    R_BUILD_ID = 198,
};
_Static_assert(R_BUILD_ID == ZT_ENV_RECEIPT_FIXED_LEN, "receipt layout");

/* ---- identifiers ----------------------------------------------------------- */

void zt_env_job_id_new(uint8_t job_id[static ZT_ENV_JOB_ID_LEN])
{
    if (zt_crypto_init() != 0) abort(); /* no randomness: nothing safe to do */
    randombytes_buf(job_id, ZT_ENV_JOB_ID_LEN);
}

void zt_env_key_id(const uint8_t pk[static ZT_HPKE_PK_LEN], uint8_t kid[static ZT_ENV_KID_LEN])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, pk, ZT_HPKE_PK_LEN, NULL, 0); /* BLAKE2b-256 */
    memcpy(kid, h, ZT_ENV_KID_LEN);
}

/* ---- header ---------------------------------------------------------------- */

/* UTF-8 without control characters (C0, DEL): safe to log and to show. */
static bool model_ok(const char *s, size_t n)
{
    if (n == 0 || n > ZT_ENV_MODEL_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) return false;
    }
    return zt_utf8_valid(s, n);
}

static bool build_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > ZT_ENV_BUILD_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

/* Field checks shared by the parser and the encoder, in the parser's order. */
static int check_fields(const struct zt_env_header *h)
{
    if (h->version != ZT_ENV_VERSION) return ZT_EUNSUPPORTED;
    if (h->flags & ~ZT_ENV_FLAGS_KNOWN) return ZT_EUNSUPPORTED;
    if (h->suite.kem_id != ZT_HPKE_KEM_X25519_SHA256 ||
        h->suite.kdf_id != ZT_HPKE_KDF_HKDF_SHA256 ||
        (h->suite.aead_id != ZT_HPKE_AEAD_CHACHA20POLY1305 &&
         h->suite.aead_id != ZT_HPKE_AEAD_AES256GCM))
        return ZT_EUNSUPPORTED;
    if (h->expires <= h->created || h->expires - h->created > ZT_ENV_MAX_LIFETIME) return ZT_EPARSE;
    if (h->max_tokens == 0 || h->max_tokens > ZT_ENV_MAX_TOKENS) return ZT_EPARSE;
    if (!model_ok(h->model, h->model_len)) return ZT_EPARSE;
    return 0;
}

int zt_env_header_validate(const struct zt_env_header *h)
{
    if (!h) return ZT_EINVAL;
    /* model must be a C string of exactly model_len bytes */
    if (h->model_len > ZT_ENV_MODEL_MAX || h->model[h->model_len] != '\0' ||
        memchr(h->model, '\0', h->model_len) != NULL)
        return ZT_EPARSE;
    return check_fields(h);
}

static size_t header_len(const struct zt_env_header *h)
{
    return (size_t)ZT_ENV_HEADER_FIXED_LEN + h->model_len;
}

/* Encode a validated header; out holds header_len(h) bytes. */
static void encode_header(const struct zt_env_header *h, uint8_t *out)
{
    memcpy(out + H_MAGIC, JOB_MAGIC, 4);
    out[H_VERSION] = h->version;
    out[H_FLAGS] = h->flags;
    zt_put_be16(out + H_KEM, h->suite.kem_id);
    zt_put_be16(out + H_KDF, h->suite.kdf_id);
    zt_put_be16(out + H_AEAD, h->suite.aead_id);
    memcpy(out + H_JOB_ID, h->job_id, ZT_ENV_JOB_ID_LEN);
    memcpy(out + H_KID, h->recipient_kid, ZT_ENV_KID_LEN);
    memcpy(out + H_ENC, h->enc, ZT_HPKE_ENC_LEN);
    memcpy(out + H_REPLY_PK, h->reply_pk, ZT_HPKE_PK_LEN);
    zt_put_be64(out + H_CREATED, h->created);
    zt_put_be64(out + H_EXPIRES, h->expires);
    zt_put_be32(out + H_MAX_TOKENS, h->max_tokens);
    zt_put_be64(out + H_MAX_PRICE, h->max_price);
    out[H_MODEL_LEN] = h->model_len;
    memcpy(out + H_MODEL, h->model, h->model_len);
}

int zt_env_header_encode(const struct zt_env_header *h, uint8_t *out, size_t out_size,
                         size_t *out_len)
{
    int rc = zt_env_header_validate(h);
    if (rc != 0) return rc;
    if (!out || !out_len || out_size < header_len(h)) return ZT_EINVAL;
    encode_header(h, out);
    *out_len = header_len(h);
    return 0;
}

int zt_env_header_decode_prefix(const uint8_t *buf, size_t len, struct zt_env_header *out,
                                size_t *used)
{
    struct zt_env_header h;
    if (!buf || !out || !used) return ZT_EINVAL;
    if (len < 4 || memcmp(buf + H_MAGIC, JOB_MAGIC, 4) != 0) return ZT_EPARSE;
    if (len <= H_VERSION) return ZT_EPARSE;
    /* The version decides the layout, so it is read before any length. */
    if (buf[H_VERSION] != ZT_ENV_VERSION) return ZT_EUNSUPPORTED;
    if (len < ZT_ENV_HEADER_FIXED_LEN) return ZT_EPARSE;
    memset(&h, 0, sizeof h);
    h.version = buf[H_VERSION];
    h.flags = buf[H_FLAGS];
    h.suite.kem_id = zt_get_be16(buf + H_KEM);
    h.suite.kdf_id = zt_get_be16(buf + H_KDF);
    h.suite.aead_id = zt_get_be16(buf + H_AEAD);
    memcpy(h.job_id, buf + H_JOB_ID, ZT_ENV_JOB_ID_LEN);
    memcpy(h.recipient_kid, buf + H_KID, ZT_ENV_KID_LEN);
    memcpy(h.enc, buf + H_ENC, ZT_HPKE_ENC_LEN);
    memcpy(h.reply_pk, buf + H_REPLY_PK, ZT_HPKE_PK_LEN);
    h.created = zt_get_be64(buf + H_CREATED);
    h.expires = zt_get_be64(buf + H_EXPIRES);
    h.max_tokens = zt_get_be32(buf + H_MAX_TOKENS);
    h.max_price = zt_get_be64(buf + H_MAX_PRICE);
    h.model_len = buf[H_MODEL_LEN];
    if (h.model_len == 0 || h.model_len > ZT_ENV_MODEL_MAX) return ZT_EPARSE;
    if (len - ZT_ENV_HEADER_FIXED_LEN < h.model_len) return ZT_EPARSE;
    memcpy(h.model, buf + H_MODEL, h.model_len);
    h.model[h.model_len] = '\0';
    int rc = check_fields(&h);
    if (rc != 0) return rc;
    *out = h;
    *used = header_len(&h);
    return 0;
}

int zt_env_header_decode(const uint8_t *buf, size_t len, struct zt_env_header *out)
{
    struct zt_env_header h;
    size_t used = 0;
    int rc = zt_env_header_decode_prefix(buf, len, &h, &used);
    if (rc != 0) return rc;
    if (used != len) return ZT_EPARSE; /* trailing bytes */
    *out = h;
    return 0;
}

int zt_env_header_hash(const struct zt_env_header *h, uint8_t out[static ZT_ENV_HASH_LEN])
{
    uint8_t buf[ZT_ENV_HEADER_MAX_LEN];
    size_t n = 0;
    int rc = zt_env_header_encode(h, buf, sizeof buf, &n);
    if (rc != 0) return rc;
    zt_sha256(out, buf, n);
    return 0;
}

/* ---- replay cache ---------------------------------------------------------- */

/* Open addressing with linear probing over a power-of-two table at most half
 * full; SipHash keyed per cache, so a client choosing job ids cannot build
 * long probe chains. expires == 0 marks an empty slot (a valid header has
 * expires > created >= 0). Expired ids are evicted by rebuilding into the
 * spare table, allocated at creation so eviction cannot fail. */
struct replay_slot {
    uint8_t id[ZT_ENV_JOB_ID_LEN];
    uint64_t expires;
};

struct zt_env_replay {
    pthread_mutex_t mu;
    size_t cap, count, mask;
    uint64_t min_expires; /* no eviction can help before this time */
    struct replay_slot *slots, *spare;
    uint8_t key[crypto_shorthash_KEYBYTES];
};

static size_t replay_home(const struct zt_env_replay *rc, const uint8_t *id)
{
    return (size_t)(zt_keyed_hash64(id, ZT_ENV_JOB_ID_LEN, rc->key) & rc->mask);
}

/* The slot holding id, or the empty slot where it would go. */
static size_t replay_find(const struct zt_env_replay *rc, const struct replay_slot *t,
                          const uint8_t *id)
{
    size_t i = replay_home(rc, id);
    while (t[i].expires != 0 && memcmp(t[i].id, id, ZT_ENV_JOB_ID_LEN) != 0) i = (i + 1) & rc->mask;
    return i;
}

static void replay_sweep(struct zt_env_replay *rc, uint64_t now)
{
    size_t n = rc->mask + 1, live = 0;
    uint64_t min = UINT64_MAX;
    memset(rc->spare, 0, n * sizeof *rc->spare);
    for (size_t i = 0; i < n; i++) {
        const struct replay_slot *s = &rc->slots[i];
        if (s->expires == 0 || s->expires <= now) continue;
        rc->spare[replay_find(rc, rc->spare, s->id)] = *s;
        live++;
        if (s->expires < min) min = s->expires;
    }
    struct replay_slot *t = rc->slots;
    rc->slots = rc->spare;
    rc->spare = t;
    rc->count = live;
    rc->min_expires = min;
}

int zt_env_replay_new(size_t capacity, struct zt_env_replay **out)
{
    struct zt_env_replay *rc = NULL;
    int err = ZT_ENOMEM;
    if (!out) return ZT_EINVAL;
    if (capacity == 0 || capacity > ZT_ENV_REPLAY_MAX) return ZT_ERANGE;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    size_t n = 2;
    while (n < 2 * capacity) n <<= 1;
    rc = zt_calloc(1, sizeof *rc);
    if (!rc) goto out;
    rc->slots = zt_calloc(n, sizeof *rc->slots);
    rc->spare = zt_calloc(n, sizeof *rc->spare);
    if (!rc->slots || !rc->spare) goto out;
    if (pthread_mutex_init(&rc->mu, NULL) != 0) {
        err = ZT_ENOMEM;
        goto out;
    }
    rc->cap = capacity;
    rc->mask = n - 1;
    rc->min_expires = UINT64_MAX;
    crypto_shorthash_keygen(rc->key);
    *out = rc;
    rc = NULL;
    err = 0;
out:
    if (rc) {
        zt_free(rc->slots);
        zt_free(rc->spare);
        zt_free(rc);
    }
    return err;
}

void zt_env_replay_free(struct zt_env_replay *rc)
{
    if (!rc) return;
    pthread_mutex_destroy(&rc->mu);
    zt_free(rc->slots);
    zt_free(rc->spare);
    zt_free(rc);
}

int zt_env_replay_check(struct zt_env_replay *rc, const uint8_t job_id[static ZT_ENV_JOB_ID_LEN],
                        uint64_t now)
{
    if (!rc) return ZT_EINVAL;
    pthread_mutex_lock(&rc->mu);
    const struct replay_slot *s = &rc->slots[replay_find(rc, rc->slots, job_id)];
    int err = (s->expires != 0 && s->expires > now) ? ZT_EEXIST : 0;
    pthread_mutex_unlock(&rc->mu);
    return err;
}

int zt_env_replay_insert(struct zt_env_replay *rc, const uint8_t job_id[static ZT_ENV_JOB_ID_LEN],
                         uint64_t expires, uint64_t now)
{
    int err = 0;
    if (!rc || expires <= now) return ZT_EINVAL;
    pthread_mutex_lock(&rc->mu);
    size_t i = replay_find(rc, rc->slots, job_id);
    struct replay_slot *s = &rc->slots[i];
    if (s->expires != 0) {
        if (s->expires > now) {
            err = ZT_EEXIST;
            goto out;
        }
        s->expires = expires; /* the old job with this id has expired: a new job */
        if (expires < rc->min_expires) rc->min_expires = expires;
        goto out;
    }
    if (rc->count >= rc->cap) {
        if (rc->min_expires > now) { /* nothing to evict: never forget a live id */
            err = ZT_EBUSY;
            goto out;
        }
        replay_sweep(rc, now);
        if (rc->count >= rc->cap) {
            err = ZT_EBUSY;
            goto out;
        }
        i = replay_find(rc, rc->slots, job_id);
        s = &rc->slots[i];
    }
    memcpy(s->id, job_id, ZT_ENV_JOB_ID_LEN);
    s->expires = expires;
    rc->count++;
    if (expires < rc->min_expires) rc->min_expires = expires;
out:
    pthread_mutex_unlock(&rc->mu);
    return err;
}

size_t zt_env_replay_count(struct zt_env_replay *rc)
{
    return rc ? zt_locked_size(&rc->mu, &rc->count) : 0;
}

/* ---- envelope -------------------------------------------------------------- */

static struct zt_hpke_params job_params(void)
{
    return (struct zt_hpke_params){.mode = ZT_HPKE_MODE_BASE,
                                   .info = (const uint8_t *)JOB_INFO,
                                   .info_len = sizeof JOB_INFO - 1};
}

int zt_env_seal(const struct zt_env_header *tmpl, const uint8_t pk_r[static ZT_HPKE_PK_LEN],
                const uint8_t *body, size_t body_len, struct zt_env_header *hdr_out, uint8_t **out,
                size_t *out_len)
{
    struct zt_hpke_ctx *ctx = NULL;
    uint8_t *buf = NULL;
    struct zt_env_header h;
    struct zt_hpke_params params = job_params();
    int err;
    if (!tmpl || !out || !out_len || (!body && body_len)) return ZT_EINVAL;
    if (body_len > ZT_ENV_MAX_BODY) return ZT_ETOOBIG;
    h = *tmpl;
    h.version = ZT_ENV_VERSION;
    zt_env_key_id(pk_r, h.recipient_kid);
    memset(h.enc, 0, sizeof h.enc);
    err = zt_env_header_validate(&h);
    if (err != 0) goto out;
    size_t hlen = header_len(&h);
    size_t total = hlen + body_len + ZT_HPKE_TAG_LEN; /* bounded: no overflow */
    buf = zt_malloc(total);
    if (!buf) {
        err = ZT_ENOMEM;
        goto out;
    }
    err = zt_hpke_setup_sender(h.suite, &params, pk_r, h.enc, &ctx);
    if (err != 0) goto out;
    encode_header(&h, buf);
    static const uint8_t empty[1] = {0};
    err = zt_hpke_ctx_seal(ctx, buf, hlen, body ? body : empty, body_len, buf + hlen,
                           body_len + ZT_HPKE_TAG_LEN);
    if (err != 0) goto out;
    if (hdr_out) *hdr_out = h;
    *out = buf;
    *out_len = total;
    buf = NULL;
out:
    zt_hpke_ctx_free(ctx);
    zt_free(buf);
    return err;
}

void zt_env_body_free(uint8_t *body, size_t body_len)
{
    if (!body) return;
    sodium_memzero(body, body_len ? body_len : 1);
    zt_free(body);
}

int zt_env_open(const uint8_t sk_r[static ZT_HPKE_SK_LEN], const uint8_t *env, size_t env_len,
                uint64_t now, struct zt_env_replay *replay, struct zt_env_header *hdr_out,
                uint8_t **body, size_t *body_len)
{
    struct zt_env_header h;
    struct zt_hpke_params params = job_params();
    uint8_t pk[ZT_HPKE_PK_LEN], kid[ZT_ENV_KID_LEN];
    uint8_t *pt = NULL;
    size_t used = 0, pt_len = 0;
    int err;
    if (!env || !hdr_out || !body || !body_len) return ZT_EINVAL;
    err = zt_env_header_decode_prefix(env, env_len, &h, &used);
    if (err != 0) goto out;
    err = zt_hpke_public_key(sk_r, pk);
    if (err != 0) goto out;
    zt_env_key_id(pk, kid);
    if (memcmp(kid, h.recipient_kid, ZT_ENV_KID_LEN) != 0) {
        err = ZT_ENOTFOUND;
        goto out;
    }
    if (now >= h.expires || (h.created > now && h.created - now > ZT_ENV_CLOCK_SKEW)) {
        err = ZT_ETIMEDOUT;
        goto out;
    }
    if (replay) {
        err = zt_env_replay_check(replay, h.job_id, now);
        if (err != 0) goto out;
    }
    size_t ct_len = env_len - used;
    if (ct_len < ZT_HPKE_TAG_LEN) {
        err = ZT_EPARSE;
        goto out;
    }
    pt_len = ct_len - ZT_HPKE_TAG_LEN;
    if (pt_len > ZT_ENV_MAX_BODY) {
        err = ZT_ETOOBIG;
        goto out;
    }
    pt = zt_malloc(pt_len ? pt_len : 1);
    if (!pt) {
        err = ZT_ENOMEM;
        goto out;
    }
    err = zt_hpke_open(h.suite, &params, h.enc, sk_r, env, used, env + used, ct_len, pt,
                       pt_len ? pt_len : 1);
    if (err != 0) goto out;
    /* Recorded only once authenticated: a forgery cannot burn a real id. */
    if (replay) {
        err = zt_env_replay_insert(replay, h.job_id, h.expires, now);
        if (err != 0) goto out;
    }
    *hdr_out = h;
    *body = pt;
    *body_len = pt_len;
    pt = NULL;
out:
    zt_env_body_free(pt, pt_len);
    return err;
}

/* ---- result stream --------------------------------------------------------- */

struct zt_env_result_sealer {
    struct zt_hpke_ctx *ctx;
    uint64_t index;
    bool done;
    struct zt_sha256_ctx out_hash;
};

struct zt_env_result_opener {
    struct zt_hpke_ctx *ctx;
    uint64_t index;
    bool done;
    int dead; /* 0, or the error that ended the stream */
    struct zt_sha256_ctx out_hash;
};

/* Auth mode: sender_sk on the worker's side, sender_pk on the client's. */
static int result_params(const struct zt_env_header *job,
                         uint8_t info[static RESULT_INFO_LEN + ZT_ENV_HASH_LEN],
                         const uint8_t *sender_sk, const uint8_t *sender_pk,
                         struct zt_hpke_params *p)
{
    memcpy(info, RESULT_INFO, RESULT_INFO_LEN);
    int err = zt_env_header_hash(job, info + RESULT_INFO_LEN);
    if (err != 0) return err;
    *p = (struct zt_hpke_params){.mode = ZT_HPKE_MODE_AUTH,
                                 .info = info,
                                 .info_len = RESULT_INFO_LEN + ZT_ENV_HASH_LEN,
                                 .sender_sk = sender_sk,
                                 .sender_pk = sender_pk};
    return 0;
}

static void chunk_aad(uint8_t aad[static CHUNK_AAD_LEN], uint64_t index, uint8_t flags)
{
    memcpy(aad, CHUNK_MAGIC, 4);
    zt_put_be64(aad + 4, index);
    aad[12] = flags;
}

int zt_env_result_sealer_new(const struct zt_env_header *job,
                             const uint8_t worker_sk[static ZT_HPKE_SK_LEN],
                             uint8_t stream_hdr[static ZT_ENV_STREAM_HDR_LEN],
                             struct zt_env_result_sealer **out)
{
    uint8_t info[RESULT_INFO_LEN + ZT_ENV_HASH_LEN];
    uint8_t enc[ZT_HPKE_ENC_LEN];
    struct zt_hpke_params params;
    struct zt_env_result_sealer *s = NULL;
    int err;
    if (!job || !out) return ZT_EINVAL;
    err = result_params(job, info, worker_sk, NULL, &params);
    if (err != 0) goto out;
    s = zt_calloc(1, sizeof *s);
    if (!s) {
        err = ZT_ENOMEM;
        goto out;
    }
    err = zt_hpke_setup_sender(job->suite, &params, job->reply_pk, enc, &s->ctx);
    if (err != 0) goto out;
    zt_sha256_init(&s->out_hash);
    memcpy(stream_hdr, STREAM_MAGIC, 4);
    memcpy(stream_hdr + 4, job->job_id, ZT_ENV_JOB_ID_LEN);
    memcpy(stream_hdr + 4 + ZT_ENV_JOB_ID_LEN, enc, ZT_HPKE_ENC_LEN);
    *out = s;
    s = NULL;
out:
    zt_env_result_sealer_free(s);
    return err;
}

int zt_env_result_seal(struct zt_env_result_sealer *s, const uint8_t *pt, size_t pt_len, bool final,
                       uint8_t *out, size_t out_size, size_t *out_len)
{
    static const uint8_t empty[1] = {0};
    uint8_t aad[CHUNK_AAD_LEN];
    if (!s || !out || !out_len || (!pt && pt_len)) return ZT_EINVAL;
    if (s->done) return ZT_ECLOSED;
    if (pt_len > ZT_ENV_CHUNK_MAX) return ZT_ETOOBIG;
    size_t ct_len = pt_len + ZT_HPKE_TAG_LEN;
    if (out_size < ZT_ENV_CHUNK_PREFIX_LEN + ct_len) return ZT_EINVAL;
    uint8_t flags = final ? ZT_ENV_CHUNK_FINAL : 0;
    chunk_aad(aad, s->index, flags);
    int err = zt_hpke_ctx_seal(s->ctx, aad, sizeof aad, pt ? pt : empty, pt_len,
                               out + ZT_ENV_CHUNK_PREFIX_LEN, ct_len);
    if (err != 0) return err;
    out[0] = flags;
    zt_put_be32(out + 1, (uint32_t)ct_len);
    if (pt_len) zt_sha256_update(&s->out_hash, pt, pt_len);
    s->index++;
    s->done = final;
    *out_len = ZT_ENV_CHUNK_PREFIX_LEN + ct_len;
    return 0;
}

/* The output hash so far (a copy is finalised, so the stream's stays open). */
static int output_hash(const struct zt_sha256_ctx *h, uint8_t out[static ZT_ENV_HASH_LEN])
{
    struct zt_sha256_ctx c = *h;
    zt_sha256_final(&c, out);
    return 0;
}

/* Frees a sealer or opener (obj, size bytes) and its HPKE context, wiped. */
static void result_free(struct zt_hpke_ctx *ctx, void *obj, size_t size)
{
    zt_hpke_ctx_free(ctx);
    sodium_memzero(obj, size);
    zt_free(obj);
}

int zt_env_result_sealer_output_hash(const struct zt_env_result_sealer *s,
                                     uint8_t out[static ZT_ENV_HASH_LEN])
{
    if (!s || !s->done) return ZT_EINVAL;
    return output_hash(&s->out_hash, out);
}

void zt_env_result_sealer_free(struct zt_env_result_sealer *s)
{
    if (s) result_free(s->ctx, s, sizeof *s);
}

int zt_env_result_opener_new(const struct zt_env_header *job,
                             const uint8_t reply_sk[static ZT_HPKE_SK_LEN],
                             const uint8_t worker_pk[static ZT_HPKE_PK_LEN],
                             const uint8_t *stream_hdr, size_t stream_hdr_len,
                             struct zt_env_result_opener **out)
{
    uint8_t info[RESULT_INFO_LEN + ZT_ENV_HASH_LEN];
    struct zt_hpke_params params;
    struct zt_env_result_opener *o = NULL;
    int err;
    if (!job || !out || (!stream_hdr && stream_hdr_len)) return ZT_EINVAL;
    if (stream_hdr_len != ZT_ENV_STREAM_HDR_LEN || memcmp(stream_hdr, STREAM_MAGIC, 4) != 0)
        return ZT_EPARSE;
    if (memcmp(stream_hdr + 4, job->job_id, ZT_ENV_JOB_ID_LEN) != 0) return ZT_ECRYPTO;
    err = result_params(job, info, NULL, worker_pk, &params);
    if (err != 0) goto out;
    o = zt_calloc(1, sizeof *o);
    if (!o) {
        err = ZT_ENOMEM;
        goto out;
    }
    err = zt_hpke_setup_receiver(job->suite, &params, stream_hdr + 4 + ZT_ENV_JOB_ID_LEN, reply_sk,
                                 &o->ctx);
    if (err != 0) goto out;
    zt_sha256_init(&o->out_hash);
    *out = o;
    o = NULL;
out:
    zt_env_result_opener_free(o);
    return err;
}

int zt_env_result_frame_len(const uint8_t *buf, size_t len, size_t *frame_len)
{
    if (!frame_len || (!buf && len)) return ZT_EINVAL;
    if (len < ZT_ENV_CHUNK_PREFIX_LEN) {
        *frame_len = 0;
        return 0;
    }
    if (buf[0] & ~ZT_ENV_CHUNK_FINAL) return ZT_EPARSE;
    uint32_t ct_len = zt_get_be32(buf + 1);
    if (ct_len < ZT_HPKE_TAG_LEN || ct_len > ZT_ENV_CHUNK_MAX + ZT_HPKE_TAG_LEN) return ZT_EPARSE;
    *frame_len = ZT_ENV_CHUNK_PREFIX_LEN + (size_t)ct_len;
    return 0;
}

int zt_env_result_open(struct zt_env_result_opener *o, const uint8_t *chunk, size_t chunk_len,
                       uint8_t *pt, size_t pt_size, size_t *pt_len, bool *final)
{
    uint8_t aad[CHUNK_AAD_LEN];
    uint8_t dummy[1];
    size_t flen = 0;
    int err;
    if (!o || !chunk || !pt_len || !final || (!pt && pt_size)) return ZT_EINVAL;
    if (o->dead) return o->dead;
    if (o->done) { /* nothing may follow the final chunk */
        err = ZT_EPARSE;
        goto fail;
    }
    err = zt_env_result_frame_len(chunk, chunk_len, &flen);
    if (err == 0 && (flen == 0 || flen != chunk_len)) err = ZT_EPARSE;
    if (err != 0) goto fail;
    size_t n = chunk_len - ZT_ENV_CHUNK_OVERHEAD;
    if (pt_size < n) return ZT_EINVAL; /* caller's buffer: the stream lives on */
    chunk_aad(aad, o->index, chunk[0]);
    err = zt_hpke_ctx_open(o->ctx, aad, sizeof aad, chunk + ZT_ENV_CHUNK_PREFIX_LEN,
                           chunk_len - ZT_ENV_CHUNK_PREFIX_LEN, pt ? pt : dummy,
                           pt ? pt_size : sizeof dummy);
    if (err != 0) {
        err = ZT_ECRYPTO;
        goto fail;
    }
    if (n) zt_sha256_update(&o->out_hash, pt, n);
    o->index++;
    o->done = (chunk[0] & ZT_ENV_CHUNK_FINAL) != 0;
    *pt_len = n;
    *final = o->done;
    return 0;
fail:
    o->dead = err;
    return err;
}

int zt_env_result_finish(const struct zt_env_result_opener *o)
{
    if (!o) return ZT_EINVAL;
    if (o->dead) return o->dead;
    return o->done ? 0 : ZT_ECRYPTO;
}

int zt_env_result_opener_output_hash(const struct zt_env_result_opener *o,
                                     uint8_t out[static ZT_ENV_HASH_LEN])
{
    if (!o || o->dead || !o->done) return ZT_EINVAL;
    return output_hash(&o->out_hash, out);
}

void zt_env_result_opener_free(struct zt_env_result_opener *o)
{
    if (o) result_free(o->ctx, o, sizeof *o);
}

/* ---- receipt --------------------------------------------------------------- */

/* msg = RECEIPT_CTX || body; the signature covers msg. */
static size_t encode_receipt(const struct zt_env_receipt *r, const uint8_t *worker_pk, uint8_t *b)
{
    memcpy(b + R_MAGIC, RECEIPT_MAGIC, 4);
    b[R_VERSION] = ZT_ENV_VERSION;
    memcpy(b + R_JOB_ID, r->job_id, ZT_ENV_JOB_ID_LEN);
    memcpy(b + R_HEADER_HASH, r->header_hash, ZT_ENV_HASH_LEN);
    memcpy(b + R_INPUT_HASH, r->input_hash, ZT_ENV_HASH_LEN);
    memcpy(b + R_OUTPUT_HASH, r->output_hash, ZT_ENV_HASH_LEN);
    zt_put_be32(b + R_PROMPT_TOKENS, r->prompt_tokens);
    zt_put_be32(b + R_COMPLETION_TOKENS, r->completion_tokens);
    memcpy(b + R_SEQ_CHAIN, r->seq_chain, ZT_ENV_HASH_LEN);
    memcpy(b + R_WORKER_PK, worker_pk, ZT_ENV_ED25519_PK_LEN);
    zt_put_be64(b + R_FINISHED, r->finished);
    b[R_BUILD_ID_LEN] = r->build_id_len;
    memcpy(b + R_BUILD_ID, r->build_id, r->build_id_len);
    return (size_t)ZT_ENV_RECEIPT_FIXED_LEN + r->build_id_len;
}

int zt_env_receipt_sign(const struct zt_env_receipt *r,
                        const uint8_t sk[static ZT_ENV_ED25519_SK_LEN], uint8_t *out,
                        size_t out_size, size_t *out_len)
{
    uint8_t msg[RECEIPT_CTX_LEN + ZT_ENV_RECEIPT_MAX_LEN];
    uint8_t pk[ZT_ENV_ED25519_PK_LEN];
    if (!r || !out || !out_len) return ZT_EINVAL;
    if (r->build_id_len > ZT_ENV_BUILD_ID_MAX || r->build_id[r->build_id_len] != '\0' ||
        !build_id_ok(r->build_id, r->build_id_len))
        return ZT_EPARSE;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    size_t body = (size_t)ZT_ENV_RECEIPT_FIXED_LEN + r->build_id_len;
    if (out_size < body + ZT_ENV_SIG_LEN) return ZT_EINVAL;
    if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0) return ZT_ECRYPTO;
    memcpy(msg, RECEIPT_CTX, RECEIPT_CTX_LEN);
    size_t n = encode_receipt(r, pk, msg + RECEIPT_CTX_LEN);
    if (crypto_sign_detached(out + n, NULL, msg, RECEIPT_CTX_LEN + n, sk) != 0) return ZT_ECRYPTO;
    memcpy(out, msg + RECEIPT_CTX_LEN, n);
    *out_len = n + ZT_ENV_SIG_LEN;
    return 0;
}

int zt_env_receipt_verify(const uint8_t *buf, size_t len, const uint8_t *pk,
                          struct zt_env_receipt *out)
{
    uint8_t msg[RECEIPT_CTX_LEN + ZT_ENV_RECEIPT_MAX_LEN];
    struct zt_env_receipt r;
    if (!buf || !out) return ZT_EINVAL;
    if (len < 4 || memcmp(buf + R_MAGIC, RECEIPT_MAGIC, 4) != 0) return ZT_EPARSE;
    if (len <= R_VERSION) return ZT_EPARSE;
    if (buf[R_VERSION] != ZT_ENV_VERSION) return ZT_EUNSUPPORTED;
    if (len < ZT_ENV_RECEIPT_FIXED_LEN) return ZT_EPARSE;
    size_t bl = buf[R_BUILD_ID_LEN];
    if (bl == 0 || bl > ZT_ENV_BUILD_ID_MAX) return ZT_EPARSE;
    size_t body = (size_t)ZT_ENV_RECEIPT_FIXED_LEN + bl;
    if (len != body + ZT_ENV_SIG_LEN) return ZT_EPARSE;
    if (!build_id_ok((const char *)buf + R_BUILD_ID, bl)) return ZT_EPARSE;
    if (pk && sodium_memcmp(pk, buf + R_WORKER_PK, ZT_ENV_ED25519_PK_LEN) != 0) return ZT_ECRYPTO;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    memcpy(msg, RECEIPT_CTX, RECEIPT_CTX_LEN);
    memcpy(msg + RECEIPT_CTX_LEN, buf, body);
    if (crypto_sign_verify_detached(buf + body, msg, RECEIPT_CTX_LEN + body, buf + R_WORKER_PK) !=
        0)
        return ZT_ECRYPTO;
    memset(&r, 0, sizeof r);
    r.version = buf[R_VERSION];
    memcpy(r.job_id, buf + R_JOB_ID, ZT_ENV_JOB_ID_LEN);
    memcpy(r.header_hash, buf + R_HEADER_HASH, ZT_ENV_HASH_LEN);
    memcpy(r.input_hash, buf + R_INPUT_HASH, ZT_ENV_HASH_LEN);
    memcpy(r.output_hash, buf + R_OUTPUT_HASH, ZT_ENV_HASH_LEN);
    r.prompt_tokens = zt_get_be32(buf + R_PROMPT_TOKENS);
    r.completion_tokens = zt_get_be32(buf + R_COMPLETION_TOKENS);
    memcpy(r.seq_chain, buf + R_SEQ_CHAIN, ZT_ENV_HASH_LEN);
    memcpy(r.worker_pk, buf + R_WORKER_PK, ZT_ENV_ED25519_PK_LEN);
    r.finished = zt_get_be64(buf + R_FINISHED);
    r.build_id_len = (uint8_t)bl;
    memcpy(r.build_id, buf + R_BUILD_ID, bl);
    r.build_id[bl] = '\0';
    *out = r;
    return 0;
}
